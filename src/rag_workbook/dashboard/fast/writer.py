"""Fast writer: a `Book` -> `.xlsx` bytes, the same workbook as the plain writer, faster.

xlsxwriter's general paths cost seconds on a national dashboard (issue 6): this writer
stores plain cells, merges, heights and notes in bulk (`rows`, `notes`), writes them and the
shared strings in one piece each (`strings`), zips the parts on a thread (`package`), and
has the blocks' rows (the Data sheet's) made as XML by a forked copy (`forked`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from rag_workbook.dashboard.book import WORKBOOK_OPTIONS, Block, Book, Row, Sheet, Table
from rag_workbook.dashboard.fast.forked import BlockJob, LaterRows, share_texts
from rag_workbook.dashboard.fast.package import FastWorkbook
from rag_workbook.dashboard.fast.rows import BulkSheet
from rag_workbook.dashboard.plain import Formats, finish_sheet, table_options, table_range


def write_book(book: Book, *, fork: bool = True) -> bytes:
    """The workbook's bytes; the blocks' rows made by a forked copy when `fork` (and the
    system allows it), else here: the same bytes either way.

    Raises:
        InternalsChanged: xlsxwriter's internals are not as expected (the caller falls
            back to the plain writer).
    """
    workbook = FastWorkbook(WORKBOOK_OPTIONS, language=book.language)
    workbook.set_properties(dict(book.properties))
    workbook.set_size(*book.window_size)
    formats = Formats(workbook, book.styles)
    blocks = [item for sheet in book.sheets for item in sheet.content if isinstance(item, Block)]
    later = LaterRows(_block_jobs(book, blocks, formats, workbook.str_table), fork=fork)
    try:
        for sheet in book.sheets:
            _write_sheet(workbook, sheet, formats, later, blocks)
        workbook.close()
    finally:
        later.close()
    return bytes(workbook.package)


def _block_jobs(
    book: Book, blocks: Sequence[Block], formats: Formats, strings: Any
) -> list[BlockJob]:
    """The blocks' formats take their indices first (in the book's order of styles), then
    their shared texts their places in the shared strings: before any sheet is written,
    so that the forked copy's rows agree with what the other sheets add later."""
    used = {name for block in blocks for name in (*block.styles, *block.quoted) if name}
    indices = {name: formats[name]._get_xf_index() for name in book.styles if name in used}
    return [
        BlockJob(
            block,
            tuple(indices[name] for name in block.styles),
            tuple(indices[name] if name else -1 for name in block.quoted),
            share_texts(block, strings),
        )
        for block in blocks
    ]


def _write_sheet(
    workbook: Any, sheet: Sheet, formats: Formats, later: LaterRows, blocks: Sequence[Block]
) -> None:
    by_name = formats.by_name
    bulk = any(isinstance(item, Block) for item in sheet.content)
    worksheet = workbook.add_worksheet(sheet.name, worksheet_class=BulkSheet if bulk else None)
    for column in sheet.columns:
        style = formats[column.style] if column.style else None
        worksheet.set_column(column.first, column.last, column.width, style)
    for merge in sheet.merges:
        worksheet.put_merge(merge.first_row, merge.first_col, merge.last_row, merge.last_col)
    for item in sheet.content:
        if isinstance(item, Row):
            worksheet.put_row(item.row, item.cells, by_name)
            if item.notes:
                worksheet.put_notes(item.row, item.notes, sheet.note_options)
            if item.height is not None:
                worksheet.put_height(item.row, item.height)
        elif isinstance(item, Block):
            index = next(i for i, block in enumerate(blocks) if block is item)
            segment = functools.partial(later.segment, index)
            worksheet.write_rows_later(item.first_row, item.count, item.width, segment)
        elif isinstance(item, Table):
            worksheet.add_table(*table_range(item), table_options(item, formats))
    finish_sheet(workbook, worksheet, sheet, formats)
