"""Plain writer: a `Book` -> `.xlsx` bytes, through xlsxwriter's public API only.

The reference the fast writer is tested against (the same cells, styles, notes, tables,
rules and print set-up), and what `merge --writer plain` selects: slower on a national
collection, but it depends on nothing of xlsxwriter that its documentation does not promise.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from html import escape  # not xml.sax.saxutils, whose import brings urllib.request (20 ms)
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_range_abs, xl_rowcol_to_cell

from rag_workbook.columns import looks_like_formula
from rag_workbook.dashboard.book import (
    WORKBOOK_OPTIONS,
    Block,
    Book,
    Chart,
    Link,
    Row,
    Sheet,
    Table,
    Value,
)


class Formats:
    """The workbook's formats by style name; styles with the same properties share one."""

    def __init__(self, workbook: Any, styles: Mapping[str, Mapping[str, Any]]) -> None:
        self._workbook = workbook
        self._styles = styles
        self._by_props: dict[tuple[tuple[str, Any], ...], Any] = {}
        self._by_name: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        found = self._by_name.get(name)
        if found is None:
            props = dict(self._styles[name])
            key = tuple(sorted(props.items()))
            found = self._by_props.get(key)
            if found is None:
                found = self._by_props[key] = self._workbook.add_format(props)
            self._by_name[name] = found
        return found

    @property
    def by_name(self) -> dict[str, Any]:
        """Every style's format, by name (a format made but never used is not written)."""
        for name in self._styles:
            self[name]
        return self._by_name


def write_book(book: Book) -> bytes:
    """The workbook's bytes, written with xlsxwriter's public API.

    Example:
        >>> data = write_book(build_book(frame, register, Report()))
    """
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {**WORKBOOK_OPTIONS, "in_memory": True})
    workbook.set_properties(dict(book.properties))
    workbook.set_size(*book.window_size)
    formats = Formats(workbook, book.styles)
    for sheet in book.sheets:
        write_sheet(workbook, workbook.add_worksheet(sheet.name), sheet, formats)
    workbook.close()
    return with_language(out.getvalue(), book.language)


CORE_PART = "docProps/core.xml"


def core_with_language(xml: str, language: str) -> str:
    """core.xml with `<dc:language>` added (xlsxwriter's properties have no key for it);
    the core properties' schema takes its elements in any order."""
    if not language or "<dc:language>" in xml:
        return xml
    element = f"<dc:language>{escape(language, quote=False)}</dc:language>"
    return xml.replace("</cp:coreProperties>", element + "</cp:coreProperties>")


def with_language(data: bytes, language: str) -> bytes:
    """The package with the document language in its core properties: every other part
    copied as it is, in its order, with its date."""
    if not language:
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            part = source.read(info)
            if info.filename == CORE_PART:
                part = core_with_language(part.decode("utf-8"), language).encode("utf-8")
            target.writestr(info, part, compress_type=info.compress_type)
    return out.getvalue()


def write_sheet(workbook: Any, worksheet: Any, sheet: Sheet, formats: Formats) -> None:
    """Everything of one sheet but its content's cells, and then those."""
    for column in sheet.columns:
        style = formats[column.style] if column.style else None
        worksheet.set_column(column.first, column.last, column.width, style)
    for merge in sheet.merges:
        worksheet.merge_range(
            merge.first_row, merge.first_col, merge.last_row, merge.last_col, "",
            formats[merge.style],
        )  # fmt: skip
    for item in sheet.content:
        if isinstance(item, Row):
            write_row(worksheet, item, formats)
            for col, text in item.notes:
                worksheet.write_comment(item.row, col, text, dict(sheet.note_options))
        elif isinstance(item, Block):
            write_block(worksheet, item, formats)
        else:
            worksheet.add_table(*table_range(item), table_options(item, formats))
    finish_sheet(workbook, worksheet, sheet, formats)


def finish_sheet(workbook: Any, worksheet: Any, sheet: Sheet, formats: Formats) -> None:
    """What follows a sheet's cells, the same in both writers: icon sets, charts,
    sparklines, links and print set-up."""
    for rule in sheet.icon_sets:
        worksheet.conditional_format(
            rule.first_row, rule.first_col, rule.last_row, rule.last_col, rule.options()
        )
    for chart in sheet.charts:
        write_chart(workbook, worksheet, chart)
    write_sparklines(worksheet, sheet)
    write_links(worksheet, sheet.links, formats)
    set_up_sheet(worksheet, sheet)


def write_sparklines(worksheet: Any, sheet: Sheet) -> None:
    """The sheet's sparklines, a group a call (public API; both writers use it)."""
    for group in sheet.sparklines:
        if not group.cells:
            continue
        name = group.sheet if group.sheet.isalnum() else "'" + group.sheet.replace("'", "''") + "'"
        row, col = group.cells[0]
        worksheet.add_sparkline(
            row,
            col,
            {
                "location": [xl_rowcol_to_cell(r, c) for r, c in group.cells],
                "range": [f"{name}!{xl_range_abs(*cells)}" for cells in group.ranges],
                "type": "line",
                "markers": True,
                "series_color": group.color,
                "markers_color": group.color,
                "empty_cells": "gaps",
            },
        )


def write_links(worksheet: Any, links: tuple[Link, ...], formats: Formats) -> None:
    """Cells that link to another sheet (public API; both writers use it)."""
    for link in links:
        target = "internal:'" + link.target.replace("'", "''") + "'!A1"
        worksheet.write_url(link.row, link.col, target, formats[link.style], link.text)


def write_chart(workbook: Any, worksheet: Any, chart: Chart) -> None:
    """A native chart, inserted in the sheet (public API; both writers use it)."""
    made = workbook.add_chart(dict(chart.kind))
    for series in chart.series:
        made.add_series(dict(series))
    made.set_title(dict(chart.title))
    made.set_y_axis(dict(chart.y_axis))
    made.set_x_axis(dict(chart.x_axis))
    made.set_legend(dict(chart.legend))
    made.set_size(dict(chart.size))
    options = {"description": chart.description} if chart.description else {}
    worksheet.insert_chart(chart.row, chart.col, made, options)


def set_up_sheet(worksheet: Any, sheet: Sheet) -> None:
    """Print set-up, panes, gridlines and visibility (public API; both writers use it)."""
    setup = sheet.print_setup
    if sheet.hide_gridlines:
        worksheet.hide_gridlines(2)
    worksheet.set_paper(setup.paper)
    if setup.landscape:
        worksheet.set_landscape()
    if setup.fit_to is not None:
        worksheet.fit_to_pages(*setup.fit_to)
    if setup.repeat_rows is not None:
        worksheet.repeat_rows(setup.repeat_rows)
    if setup.area is not None:
        worksheet.print_area(*setup.area)
    if setup.margins:
        worksheet.set_margins(**setup.margins)
    if setup.center_horizontally:
        worksheet.center_horizontally()
    if setup.footer:
        worksheet.set_footer(setup.footer)
    if sheet.freeze is not None:
        worksheet.freeze_panes(*sheet.freeze)
    if sheet.active:
        worksheet.activate()
    if sheet.hidden:
        worksheet.hide()


def table_range(table: Table) -> tuple[int, int, int, int]:
    """The table's first row, first column, last row and last column."""
    return table.first_row, table.first_col, table.last_row, table.last_col


def table_options(table: Table, formats: Formats) -> dict[str, Any]:
    """The table as xlsxwriter's `add_table` takes it."""
    head = formats[table.header_style]
    return {
        "name": table.name,
        "style": table.style,
        "autofilter": table.autofilter,
        "columns": [{"header": h, "header_format": head} for h in table.headers],
    }


def write_cell(worksheet: Any, row: int, col: int, value: Value, style: Any) -> None:
    """One cell: text as text, a number as a number, None as a blank carrying its style."""
    if value is None:
        worksheet.write_blank(row, col, None, style)
    elif isinstance(value, str):
        worksheet.write_string(row, col, value, style)
    else:
        worksheet.write_number(row, col, value, style)


def write_row(worksheet: Any, row: Row, formats: Formats) -> None:
    """A row's cells and height."""
    for col, value, style in row.cells:
        write_cell(worksheet, row.row, col, value, formats[style])
    if row.height is not None:
        worksheet.set_row(row.row, row.height)


def write_block(worksheet: Any, block: Block, formats: Formats) -> None:
    """A block's cells, column by column."""
    for col, values in enumerate(block.values):
        style, quoted = formats[block.styles[col]], block.quoted[col]
        twin = formats[quoted] if quoted else style
        for row, value in enumerate(values, start=block.first_row):
            is_quoted = quoted and isinstance(value, str) and looks_like_formula(value)
            write_cell(worksheet, row, col, value, twin if is_quoted else style)
    for row, height in enumerate(block.heights, start=block.first_row):
        if height is not None:
            worksheet.set_row(row, height)
