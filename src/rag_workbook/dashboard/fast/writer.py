"""Fast writer: a `Book` -> `.xlsx` bytes, the same workbook as the plain writer, faster.

xlsxwriter's general paths cost seconds on a national dashboard (issue 6): this writer
stores plain cells, merges, heights and notes in bulk (`rows`, `notes`), writes them and the
shared strings in one piece each (`strings`), zips the parts on a thread (`package`), and
has the blocks' rows (the Data sheet's) made as XML by a forked copy (`forked`), which
can begin on the Data rows before the rest of the book is built (`EarlyRows`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence, Set
from typing import Any

from rag_workbook.dashboard.book import WORKBOOK_OPTIONS, Block, Book, Row, Sheet, Table
from rag_workbook.dashboard.fast.forked import (
    BlockJob,
    LaterRows,
    RowsJob,
    share_row_texts,
    share_texts,
)
from rag_workbook.dashboard.fast.package import FastWorkbook, Segment
from rag_workbook.dashboard.fast.rows import BulkSheet
from rag_workbook.dashboard.plain import Formats, finish_sheet, table_options, table_range


class EarlyRows:
    """The rows of a book's first block (the Data sheet's), begun by a forked copy before
    the rest of the book is built (`begin`).

    Its job (format indices, shared strings' places) is worked out on a workbook of its
    own begun as `write_book` begins one; `write_book` takes the rows only when it works
    out the same job, and otherwise makes them itself: the same bytes either way.
    """

    def __init__(self, job: BlockJob, rows: LaterRows) -> None:
        self.job = job
        self.rows = rows

    @classmethod
    def begin(cls, block: Block, styles: Mapping[str, Mapping[str, Any]]) -> EarlyRows:
        """Begin `block`'s rows; `styles` are the book's styles named so far."""
        workbook = FastWorkbook(WORKBOOK_OPTIONS)
        formats = Formats(workbook, styles)
        (job,) = _block_jobs(styles, [block], formats, workbook.str_table)
        return cls(job, LaterRows([job], fork=True))

    def fits(self, job: BlockJob) -> bool:
        """Whether the rows begun are those of `job`."""
        mine = self.job
        return job.block is mine.block and (job.xfs, job.quoted, job.shared) == (
            mine.xfs,
            mine.quoted,
            mine.shared,
        )

    def close(self) -> None:
        """End the copy if its rows were never taken."""
        self.rows.close()


class _Segments:
    """Each block's rows: the one `early` began from it when it fits, the others made by
    a forked copy (`fork`) or here."""

    def __init__(
        self, jobs: Sequence[BlockJob | RowsJob], early: EarlyRows | None, *, fork: bool
    ) -> None:
        fitting = [
            i
            for i, job in enumerate(jobs)
            if early is not None and isinstance(job, BlockJob) and early.fits(job)
        ]
        self._early = early if fitting else None
        self._at = fitting[0] if fitting else -1
        self._later = LaterRows([job for i, job in enumerate(jobs) if i != self._at], fork=fork)

    def segment(self, index: int) -> Segment:
        if self._early is not None and index == self._at:
            return self._early.rows.segment(0)
        # `later` has every job but the one taken from `early`
        return self._later.segment(index - 1 if 0 <= self._at < index else index)

    def close(self) -> None:
        self._later.close()


# From this many rows, a sheet's run of rows (the Dashboard's measures) is made as XML with
# the blocks' rows, by the forked copy, rather than stored and written cell by cell here.
ROWS_ELSEWHERE_FROM = 1_000


def write_book(book: Book, *, fork: bool = True, early: EarlyRows | None = None) -> bytes:
    """The workbook's bytes; the blocks' rows (and long runs of rows) made by a forked copy
    when `fork` (and the system allows it), or taken from `early`, else here: the same
    bytes either way.

    Raises:
        InternalsChanged: xlsxwriter's internals are not as expected (the caller falls
            back to the plain writer).
    """
    workbook = FastWorkbook(WORKBOOK_OPTIONS, language=book.language, fork_parts=fork)
    workbook.set_properties(dict(book.properties))
    workbook.set_size(*book.window_size)
    formats = Formats(workbook, book.styles)
    blocks = [item for sheet in book.sheets for item in sheet.content if isinstance(item, Block)]
    runs = {sheet.name: found for sheet in book.sheets if (found := _run_of(sheet))}
    block_jobs, rows_jobs = _jobs(
        book.styles, blocks, list(runs.values()), formats, workbook.str_table
    )
    # each run's place among the jobs (after the blocks') and its job
    placed = enumerate(zip(runs, rows_jobs, strict=True), start=len(blocks))
    run_jobs = {name: (index, job) for index, (name, job) in placed}
    later = _Segments([*block_jobs, *rows_jobs], early, fork=fork)
    try:
        for sheet in book.sheets:
            _write_sheet(workbook, sheet, formats, later, blocks, run_jobs.get(sheet.name))
        workbook.close()
    finally:
        later.close()
    return bytes(workbook.package)


def _run_of(sheet: Sheet) -> tuple[Row, ...]:
    """The sheet's longest run of consecutive rows, when it has no block and the run is
    from ROWS_ELSEWHERE_FROM rows, each with cells that all have a style and a height
    that is the default or shown; else ()."""
    if any(isinstance(item, Block) for item in sheet.content):
        return ()
    best: list[Row] = []
    run: list[Row] = []
    for item in sheet.content:
        if not isinstance(item, Row):
            run = []
            continue
        plain = item.cells and all(style for _, _, style in item.cells)
        if not plain or (item.height is not None and item.height <= 0):
            run = []
            continue
        if run and item.row != run[-1].row + 1:
            run = []
        run.append(item)
        if len(run) > len(best):
            best = run
    return tuple(best) if len(best) >= ROWS_ELSEWHERE_FROM else ()


def _jobs(
    styles: Mapping[str, Mapping[str, Any]],
    blocks: Sequence[Block],
    runs: Sequence[tuple[Row, ...]],
    formats: Formats,
    strings: Any,
) -> tuple[list[BlockJob], list[RowsJob]]:
    """The blocks' jobs (`_block_jobs`) and the runs': their formats take their indices
    with the blocks' (in the book's order of styles), their texts their places in the
    shared strings after the blocks'."""
    used = {style for run in runs for row in run for _, _, style in row.cells}
    block_jobs = _block_jobs(styles, blocks, formats, strings, used)
    rows_jobs: list[RowsJob] = []
    for run in runs:
        names = {style for row in run for _, _, style in row.cells}
        rows_jobs.append(
            RowsJob(
                run,
                max(col for row in run for col, _, _ in row.cells) + 1,
                {name: formats[name]._get_xf_index() for name in names},
                share_row_texts(run, strings),
            )
        )
    return block_jobs, rows_jobs


def _block_jobs(
    styles: Mapping[str, Mapping[str, Any]],
    blocks: Sequence[Block],
    formats: Formats,
    strings: Any,
    also: Set[str] = frozenset(),
) -> list[BlockJob]:
    """The blocks' formats take their indices first (in the book's order of styles), then
    their shared texts their places in the shared strings, block by block in the order
    they were built (of their first styles): before any sheet is written, so that rows
    made by a forked copy agree with what the other sheets add later, and so that the
    first block's rows can be begun before the others are built (`EarlyRows`)."""
    used = {name for block in blocks for name in (*block.styles, *block.quoted) if name}
    used |= also  # other styles that take their indices now, in the same order
    indices = {name: formats[name]._get_xf_index() for name in styles if name in used}
    order = {name: i for i, name in enumerate(styles)}
    built = sorted(blocks, key=lambda block: min(map(order.__getitem__, block.styles), default=0))
    shared = {id(block): share_texts(block, strings) for block in built}
    return [
        BlockJob(
            block,
            tuple(indices[name] for name in block.styles),
            tuple(indices[name] if name else -1 for name in block.quoted),
            shared[id(block)],
        )
        for block in blocks
    ]


def _write_sheet(
    workbook: Any,
    sheet: Sheet,
    formats: Formats,
    later: _Segments,
    blocks: Sequence[Block],
    run: tuple[int, RowsJob] | None = None,
) -> None:
    """The sheet's cells, stored; its blocks' rows and its `run` (job index, job) made by
    `later`, with the run's notes and heights stored here."""
    by_name = formats.by_name
    bulk = run is not None or any(isinstance(item, Block) for item in sheet.content)
    worksheet = workbook.add_worksheet(sheet.name, worksheet_class=BulkSheet if bulk else None)
    for column in sheet.columns:
        style = formats[column.style] if column.style else None
        worksheet.set_column(column.first, column.last, column.width, style)
    for merge in sheet.merges:
        worksheet.put_merge(merge.first_row, merge.first_col, merge.last_row, merge.last_col)
    in_run = {id(row) for row in run[1].rows} if run is not None else set()
    for item in sheet.content:
        if isinstance(item, Row):
            if id(item) not in in_run:
                worksheet.put_row(item.row, item.cells, by_name)
            elif run is not None and item is run[1].rows[0]:
                index, job = run
                segment = functools.partial(later.segment, index)
                worksheet.write_rows_later(item.row, len(job.rows), job.width, segment)
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
