"""The dashboard workbook as content: what a reader sees, decided once, written by either writer.

`build.build_book` makes a `Book` from the rated columns, the Register, the Report and the
inputs; `plain.write_book` (xlsxwriter's public API) and `fast.write_book` (the same
workbook, written faster through xlsxwriter's internals) turn it into bytes. Nothing here
imports xlsxwriter: styles, icon sets and the chart are plain data in xlsxwriter's
vocabulary (format properties, chart options), so both writers read the same words.

Rows are 0-based `(row, col)`; a cell's value is text, a number, or None for a blank cell
that carries its style. A text cell whose text Excel could take for a formula has a style
with `quote_prefix` (issue 15).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

Value: TypeAlias = "str | int | float | None"
Cell: TypeAlias = "tuple[int, Value, str]"  # (col, value, style name)
Note: TypeAlias = "tuple[int, str]"  # (col, text): a cell note (an Excel comment)


@dataclass(frozen=True, slots=True)
class Row:
    """One row's cells, left to right, its height in points (None: the default) and the
    notes on its cells (in the sheet's `note_options`)."""

    row: int
    cells: tuple[Cell, ...] = ()
    height: float | None = None
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)  # compared by identity: 25,000 rows a column
class Block:
    """Rows given column by column: the Data sheet's rows and the Summary's rows by theme.

    `values[c]` holds column c's cells from `first_row` down; `styles[c]` its style,
    `quoted[c]` the style of its texts that look like formulas ("" when it has none);
    `shared[c]` says whether its texts repeat (the fast writer puts those in the shared
    strings and writes the others inline; a reader sees the same cells either way).
    `heights[r]` is row r's height in points (None: the default); empty: all default.
    """

    first_row: int
    values: tuple[Sequence[Value], ...]
    styles: tuple[str, ...]
    quoted: tuple[str, ...]
    shared: tuple[bool, ...]
    heights: Sequence[float | None] = ()

    @property
    def count(self) -> int:
        """The number of rows."""
        return len(self.values[0]) if self.values else 0

    @property
    def width(self) -> int:
        """The number of columns."""
        return len(self.values)


@dataclass(frozen=True, slots=True)
class Column:
    """Columns `first`..`last` with their width in characters and a style (or None)."""

    first: int
    last: int
    width: float
    style: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """An Excel Table over rows `first_row`..`last_row` (its header row first)."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int
    name: str
    headers: tuple[str, ...]
    header_style: str
    style: str = "Table Style Medium 2"
    autofilter: bool = True  # filter buttons on the header row


@dataclass(frozen=True, slots=True)
class IconSet:
    """An icon-only, three-icon conditional format: green from `green` up, amber from `amber`."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int
    icon_style: str
    green: int
    amber: int

    def options(self) -> dict[str, Any]:
        """The rule as xlsxwriter's `conditional_format` takes it."""
        return {
            "type": "icon_set",
            "icon_style": self.icon_style,
            "icons_only": True,
            "icons": [
                {"criteria": ">=", "type": "number", "value": self.green},
                {"criteria": ">=", "type": "number", "value": self.amber},
            ],
        }


@dataclass(frozen=True, slots=True)
class Sparklines:
    """A group of line sparklines of one look: one in each cell of `cells` ((row, col)),
    over the range of `sheet` at the same position in `ranges` ((first_row, first_col,
    last_row, last_col)), markers shown so that a lone value still shows. One group is
    one call to xlsxwriter (a call per sparkline cost 0.5 ms each: 3 s for a national
    dashboard)."""

    cells: tuple[tuple[int, int], ...]
    sheet: str
    ranges: tuple[tuple[int, int, int, int], ...]
    color: str = "#1F3864"


@dataclass(frozen=True, slots=True)
class PrintSetup:
    """Paper (9 is A4), orientation, pages wide and tall, rows repeated on each page,
    print area (first_row, first_col, last_row, last_col), margins in inches, footer."""

    paper: int = 9
    landscape: bool = True
    fit_to: tuple[int, int] | None = (1, 0)  # None: printed at full size
    repeat_rows: int | None = None
    area: tuple[int, int, int, int] | None = None
    margins: Mapping[str, float] | None = None
    center_horizontally: bool = False
    footer: str = ""


@dataclass(frozen=True, slots=True)
class Chart:
    """A native chart: xlsxwriter's chart options, series, title, axes, legend and size,
    inserted at (row, col)."""

    kind: Mapping[str, Any]
    series: tuple[Mapping[str, Any], ...]
    title: Mapping[str, Any]
    x_axis: Mapping[str, Any]
    y_axis: Mapping[str, Any]
    legend: Mapping[str, Any]
    size: Mapping[str, Any]
    row: int
    col: int
    description: str = ""  # the alternative text a screen reader gives


@dataclass(frozen=True, slots=True)
class Link:
    """A cell holding `text` that links to cell A1 of the sheet `target`."""

    row: int
    col: int
    target: str
    text: str
    style: str


@dataclass(frozen=True, slots=True)
class Merge:
    """A merged range; its first cell's style (the writers need it to merge)."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int
    style: str


Content: TypeAlias = "Row | Block | Table"


@dataclass(frozen=True)
class Sheet:
    """One worksheet: everything a reader of it sees.

    `content` is in the order it is written: a row's cells may come in more than one
    `Row`, and a `Table` writes its header row where it stands (the order in which texts
    first appear decides the shared strings' order, so a byte-identical file).
    """

    name: str
    content: tuple[Content, ...] = ()
    columns: tuple[Column, ...] = ()
    merges: tuple[Merge, ...] = ()
    note_options: Mapping[str, Any] = field(default_factory=dict)
    tables: tuple[Table, ...] = ()
    icon_sets: tuple[IconSet, ...] = ()
    charts: tuple[Chart, ...] = ()
    sparklines: tuple[Sparklines, ...] = ()
    links: tuple[Link, ...] = ()
    print_setup: PrintSetup = PrintSetup()
    freeze: tuple[int, int] | None = None
    hide_gridlines: bool = False
    hidden: bool = False
    active: bool = False


@dataclass(frozen=True)
class Book:
    """The whole workbook: named styles (format properties), sheets in order, properties.

    `styles` is ordered as the styles were first asked for; two names with the same
    properties are one format in the file.
    """

    styles: Mapping[str, Mapping[str, Any]]
    sheets: tuple[Sheet, ...]
    properties: Mapping[str, Any]
    window_size: tuple[int, int] = (1600, 1000)
    language: str = "en-GB"  # docProps/core.xml's dc:language (xlsxwriter has no key for it)

    def sheet(self, name: str) -> Sheet:
        """The sheet called `name`."""
        return next(s for s in self.sheets if s.name == name)


# What every workbook passes to xlsxwriter: text stays text, numbers stay numbers.
WORKBOOK_OPTIONS: Mapping[str, Any] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": False,
}
