"""Build step: rated columns + Register + Report + inputs -> the workbook as content (`Book`).

Pure: no xlsxwriter, no I/O. Everything a reader of the dashboard sees is decided here:

- Quarter cells hold a status code (3 Green, 2 Amber, 1 Red) shown through an icon-only
  icon set; the default style, `3_symbols_circled` (tick, exclamation mark, cross), differs
  in shape as well as colour so the page reads when printed in black and white. No data is
  the text `-`; a quarter not yet due is an empty cell.
- Every status carries its explanation as a cell note. A status the lead set by override
  has a heavy box around its cell and its note says so.
- Direction of travel (when shown) is an arrow in a narrow "Trend" column: ↑ better,
  → same, ↓ worse, for the latest quarter with a status against the quarter before.
- Every text from the inputs is text: stripped of control characters, cut to Excel's
  32,767 characters, and given the quote prefix when Excel could take it for a formula.
- No wall-clock time goes in: the document date comes from `DashboardOptions.made_on`,
  else the meeting date, else 1 January 2000, so identical inputs give identical bytes.
"""

from __future__ import annotations

import functools
import math
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, TypeVar

from rag_workbook import __version__
from rag_workbook import columns as C
from rag_workbook.dashboard.book import (
    Block,
    Book,
    Cell,
    Chart,
    Column,
    Content,
    IconSet,
    Merge,
    PrintSetup,
    Row,
    Sheet,
    Sparklines,
    Table,
    Value,
)
from rag_workbook.errors import TemplateError
from rag_workbook.model import QUARTERS, Direction, Measure, Register, ReturnData, Severity, Status
from rag_workbook.report import Code, Report

if TYPE_CHECKING:
    import pandas as pd

# The rated frame, or its columns as lists (name -> values, as merge.MergeResult.columns
# and rag.rate_columns give them), which spares importing pandas (issue 6).
Frame: TypeAlias = "pd.DataFrame | Mapping[str, Sequence[Any]]"

DASHBOARD_SHEET = "Dashboard"
EXCEPTIONS_SHEET = "Exceptions"
SUMMARY_SHEET = "Summary"
DATA_SHEET = "Data"
ISSUES_SHEET = "Issues"
ABOUT_SHEET = "About"
SHEETS = (
    DASHBOARD_SHEET,
    EXCEPTIONS_SHEET,
    SUMMARY_SHEET,
    DATA_SHEET,
    ISSUES_SHEET,
    ABOUT_SHEET,
)

DATA_TABLE = "MasterData"
ISSUES_TABLE = "InputIssues"
CHASE_TABLE = "ChaseList"
INPUTS_TABLE = "InputFiles"
EXCEPTIONS_TABLE = "Exceptions"
SIGNOFF_TABLE = "SignOff"

# Status code in a quarter cell; the icon set turns 3/2/1 into green/amber/red icons.
STATUS_CODES: Mapping[Status, int] = {Status.GREEN: 3, Status.AMBER: 2, Status.RED: 1}
NO_DATA_MARK = "-"
DIRECTION_ARROWS: Mapping[Direction, str] = {
    Direction.BETTER: "↑",
    Direction.SAME: "→",
    Direction.WORSE: "↓",
}

DEFAULT_ICON_STYLE = "3_symbols_circled"
# Three-icon styles whose icons differ in shape, so they survive black-and-white printing.
SHAPE_DISTINCT_ICON_STYLES = (
    "3_symbols_circled",
    "3_symbols",
    "3_signs",
    "3_arrows",
    "3_arrows_gray",
)
# Every three-icon style xlsxwriter knows; the others differ only in colour.
ICON_STYLES = (
    *SHAPE_DISTINCT_ICON_STYLES,
    "3_traffic_lights",
    "3_traffic_lights_rimmed",
    "3_flags",
)

ISSUE_HEADERS = (
    "Severity",
    "File",
    "Sheet",
    "Cell",
    "Code",
    "Message",
    "Fix",
    "Measure ID",
    "Value",
)
# Ordered so that the chase list shares the Issues table's column widths.
CHASE_HEADERS = ("Measure ID", "Lead", "Email", "Theme", "Performance Measure", "Message")
INPUT_HEADERS = ("File", "SHA-256", "Theme", "Submitted", "Read")
SIGNOFF_HEADERS = ("File", "Theme", "Approved By", "Approved On")
EXCEPTION_HEADERS = (
    "Measure ID",
    "Performance Measure",
    "Status",
    "Why listed",
    "Explanation",
    "Comment",
    "Action",
    "Lead",
)

MAX_CELL_CHARS = 32_767  # Excel's limit for the text of a cell or a note
TRUNCATION_MARKER = " … [truncated]"
QUOTED = "+quoted"  # the suffix of a style's name with the quote prefix
_MAX_ROW_HEIGHT = 409.0  # points; Excel's largest row height
_MAX_FOOTER_CHARS = 250  # Excel refuses header/footer text over 255 characters
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

_FONT = "Arial"
_NAVY = "#1F3864"
_THEME_FILL = "#D9E1F2"
_BAND_FILL = "#F2F2F2"
_GRID = "#808080"
_STATUS_COLOURS: Mapping[Status, str] = {
    Status.GREEN: "#00B050",
    Status.AMBER: "#FFC000",
    Status.RED: "#C00000",
    Status.NO_DATA: "#A6A6A6",
}
_SEVERITY_ORDER = (Severity.ERROR, Severity.WARNING, Severity.INFO)
_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d %b %Y", "%d/%m/%Y", "%B %d, %Y", "%Y-%m-%dT%H:%M:%S")
_DEFAULT_CREATED = datetime(2000, 1, 1)
_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")
_MEMO_TYPES = (str, bool, type(None))


class InputStatus(StrEnum):
    """What became of one input file."""

    READ = "read"
    REFUSED = "refused"


@dataclass(frozen=True)
class InputFile:
    """One input file as listed on the About sheet.

    Example:
        >>> InputFile("ASB.xlsx", "ab12...", theme="ASB", submitted="2012-01-20")
    """

    file: str
    sha256: str
    theme: str = ""
    submitted: str = ""
    status: InputStatus = InputStatus.READ
    approved_by: str = ""
    approved_on: str = ""

    @classmethod
    def from_return(cls, data: ReturnData) -> InputFile:
        """The About-sheet row of one read (or refused) return."""
        return cls(
            file=data.file,
            sha256=data.sha256,
            theme=data.theme,
            submitted=data.submitted,
            status=InputStatus.READ if data.readable else InputStatus.REFUSED,
            approved_by=data.approved_by,
            approved_on=data.approved_on,
        )


class Writer(StrEnum):
    """Which writer renders the workbook: the same cells either way (issue 16)."""

    AUTO = "auto"  # the fast one where it pays (by size), else the plain one
    PLAIN = "plain"  # xlsxwriter's public API only: the reference, and the escape hatch
    FAST = "fast"  # the fast one at any size (falls back to plain if xlsxwriter differs)


@dataclass(frozen=True)
class DashboardOptions:
    """How the dashboard workbook is written.

    Attributes:
        made_on: the date the dashboard was made, shown in the footer and used as the
            document date ("" leaves it out; the meeting date then dates the document).
        icon_style: one of ICON_STYLES; "" uses the register's Settings (icon style).
        show_direction: None follows Settings (show direction); True/False overrides it.
        quarter_labels: the header labels of the four quarter columns.
        created: the document's created date; None derives it from made_on or the meeting
            date so that identical inputs give identical bytes.
        writer: which writer renders it (`Writer`); the workbook's cells are the same.
    """

    made_on: str = ""
    icon_style: str = ""
    show_direction: bool | None = None
    quarter_labels: tuple[str, str, str, str] = ("Qu 1", "Qu 2", "Qu 3", "Qu 4")
    created: datetime | None = None
    writer: Writer | str = Writer.AUTO


# --------------------------------------------------------------------------- text


def clean_text(value: object) -> str:
    """Text safe for a cell: control characters stripped, cut to Excel's limit with a marker.

    Example:
        >>> clean_text("a\\x00b")
        'ab'
    """
    if isinstance(value, str):
        # Printable text has no control character, CR, surrogate or non-character:
        # one call in C rather than the searches below, for the 94,000 texts of a
        # national dashboard.
        if value.isprintable() and len(value) <= MAX_CELL_CHARS:
            return value
        text = value
    elif C.is_missing(value):
        return ""
    else:
        text = str(value)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER
    return text


def _footer_text(text: str) -> str:
    return clean_text(text).replace("\n", " ").replace("&", "&&")[:_MAX_FOOTER_CHARS]


def _parse_date(text: str) -> datetime | None:
    text = text.strip()
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return None


def _lines(text: str, width: float) -> int:
    """Lines `text` takes when wrapped in a column `width` characters wide (Arial 10)."""
    per_line = max(1, int(width * 1.3) - 2)
    if len(text) <= per_line and "\n" not in text and "\t" not in text:
        return 1  # the usual measure text or comment: one line, as below
    return sum(
        # A line that fits without tabs (which textwrap expands) is one line.
        1 if len(part) <= per_line and "\t" not in part else _wrapped_lines(part, per_line)
        for part in text.split("\n")
    )


@functools.lru_cache(maxsize=4096)
def _wrapped_lines(part: str, per_line: int) -> int:
    """len(textwrap.wrap(part, per_line)), at least 1.

    textwrap takes about 40 us for a measure's text; a national register has 6,333 texts
    and as many comments, mostly different (issue 6). Words of at most `per_line`
    characters, one space apart and without hyphens, are counted here greedily, as
    textwrap fills its lines; any other text goes to textwrap.
    """
    if _PLAIN_WORDS.fullmatch(part):
        words = part.split(" ")
        if max(map(len, words)) <= per_line:
            lines, used = 1, len(words[0])
            for word in words[1:]:
                if used + 1 + len(word) <= per_line:
                    used += 1 + len(word)
                else:
                    lines += 1
                    used = len(word)
            return lines
    return max(1, len(textwrap.wrap(part, per_line)) or 1)


_PLAIN_WORDS = re.compile(r"[^\s-]+(?: [^\s-]+)*")


# --------------------------------------------------------------------------- styles


class _Styles:
    """The named styles of one workbook, each its format properties (Arial 10 unless set).

    `text(col, text, style)` makes a text cell, with the style's quote-prefixed twin when
    Excel could take the text for a formula (issue 15).
    """

    def __init__(self) -> None:
        self.props: dict[str, Mapping[str, Any]] = {}

    def __call__(self, name: str, **props: Any) -> str:
        if name not in self.props:
            self.props[name] = {"font_name": _FONT, "font_size": 10, **props}
        return name

    def quoted(self, name: str) -> str:
        """The twin of style `name` with the quote prefix."""
        twin = name + QUOTED
        if twin not in self.props:
            self.props[twin] = {**self.props[name], "quote_prefix": True}
        return twin

    def text(self, col: int, text: str, style: str) -> Cell:
        """A text cell (a blank one carrying the style when there is no text)."""
        if not text:
            return (col, None, style)
        if C.looks_like_formula(text):
            return (col, text, self.quoted(style))
        return (col, text, style)


# --------------------------------------------------------------------------- the frame


class _Cell(NamedTuple):
    """One measure's quarter as the dashboard shows it (a tuple: 25,000 are made at N=2,000)."""

    status: Status | None
    is_override: bool
    explanation: str
    direction: Direction | None
    comment: str
    due: bool
    unsigned: bool = False  # sign-off is required and the value's return has none
    action: str = ""
    forecast: Status | None = None  # the year-end forecast's status (reporting quarter only)
    forecast_explanation: str = ""
    last_year: Status | None = None  # the same quarter's status last year


def frame_columns(frame: Frame) -> dict[str, list[Any]]:
    """The frame's columns as lists, in the frame's order, with missing columns as blanks."""
    if isinstance(frame, Mapping):
        lists = {name: list(values) for name, values in frame.items()}
        size = len(next(iter(lists.values()), []))
        if any(len(values) != size for values in lists.values()):
            raise ValueError("the columns are not all of one length")
        return {name: lists.get(name, [None] * size) for name in (*C.MASTER, *C.RAG)}
    blank: list[Any] = [None] * len(frame)
    return {
        name: frame[name].tolist() if name in frame.columns else blank
        for name in (*C.MASTER, *C.RAG)
    }


def _per_value(values: Sequence[Any], convert: Callable[[Any], _T]) -> list[_T]:
    """`convert` of each value, computed once per distinct text, flag or blank.

    The columns of a national collection repeat a handful of texts (theme, quarter,
    status, lead) tens of thousands of times (issue 6). Numbers are converted one by one:
    0.0 and -0.0, 1 and True, are equal keys but not the same cell.
    """
    distinct = dict.fromkeys(values)
    if all(value.__class__ in _MEMO_TYPES for value in distinct):
        # Only texts, flags and blanks (no two of which are equal keys): map in C.
        table = {value: convert(value) for value in distinct}
        return list(map(table.__getitem__, values))
    return [convert(value) for value in values]


def _clean_texts(values: Sequence[Any]) -> list[str]:
    """`clean_text` of each value, once per distinct text; printable text within Excel's
    limit (nearly all of it) is taken as it is without a call (clean_text's own first test)."""
    distinct = dict.fromkeys(values)
    if not all(value.__class__ in _MEMO_TYPES for value in distinct):
        return [clean_text(value) for value in values]
    limit = MAX_CELL_CHARS
    table = {
        v: v if v.__class__ is str and v.isprintable() and len(v) <= limit else clean_text(v)
        for v in distinct
    }
    return list(map(table.__getitem__, values))


class _Texts:
    """The frame's columns as clean text, each column cleaned once (on first use)."""

    def __init__(self, columns: Mapping[str, list[Any]]) -> None:
        self.columns = columns
        self._made: dict[str, list[str]] = {}

    def __getitem__(self, name: str) -> list[str]:
        found = self._made.get(name)
        if found is None:
            found = self._made[name] = _clean_texts(self.columns[name])
        return found


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None  # pd.NA and pd.NaT refuse float() below
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _flag(value: Any) -> bool:
    if C.is_missing(value):  # None, NaN, pd.NA, pd.NaT
        return False
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1"}
    return bool(value)


def _enum_or_none(kind: type[_E], value: Any) -> _E | None:
    text = clean_text(value).strip()
    for member in kind:
        if text.lower() == member.value.lower():
            return member
    return None


def _cells(columns: Mapping[str, list[Any]], texts: _Texts) -> dict[tuple[str, str], _Cell]:
    statuses = _per_value(columns[C.STATUS], lambda v: _enum_or_none(Status, v))
    dues = [
        due or status is not None
        for due, status in zip(_per_value(columns[C.DUE], _flag), statuses, strict=True)
    ]
    keys = zip(texts[C.MEASURE_ID], texts[C.QUARTER], strict=True)
    fields = zip(
        statuses,
        _per_value(columns[C.IS_OVERRIDE], _flag),
        texts[C.EXPLANATION],
        _per_value(columns[C.DIRECTION], lambda v: _enum_or_none(Direction, v)),
        _per_value(texts[C.COMMENT], str.strip),
        dues,
        _per_value(columns[C.UNSIGNED], _flag),
        _per_value(texts[C.ACTION], str.strip),
        _per_value(columns[C.FORECAST_STATUS], lambda v: _enum_or_none(Status, v)),
        texts[C.FORECAST_EXPLANATION],
        _per_value(columns[C.LAST_YEAR_STATUS], lambda v: _enum_or_none(Status, v)),
        strict=True,
    )
    # _make is tuple.__new__: the 25,000 cells of a national dashboard without a Python
    # call each; a measure and quarter given twice keeps its last row, as before.
    return dict(zip(keys, map(_Cell._make, fields), strict=True))


# --------------------------------------------------------------------------- the book


def icon_style_of(register: Register, options: DashboardOptions) -> str:
    """The icon style to use, checked.

    Raises:
        TemplateError: it is not a three-icon style.
    """
    icon_style = options.icon_style or register.settings.icon_style or DEFAULT_ICON_STYLE
    if icon_style not in ICON_STYLES:
        raise TemplateError(
            f"icon style {icon_style!r} is not a three-icon style; use one of "
            + ", ".join(ICON_STYLES)
            + f" (shapes differ in {', '.join(SHAPE_DISTINCT_ICON_STYLES)})"
        )
    return icon_style


def build_book(
    frame: Frame,
    register: Register,
    report: Report,
    inputs: Sequence[InputFile] = (),
    options: DashboardOptions = DashboardOptions(),
    *,
    print_only: bool = False,
) -> Book:
    """The dashboard workbook as content: its sheets, cells, styles and properties.

    Args:
        frame: the master frame with `columns.MASTER` + `columns.RAG`, or its columns
            as lists (name -> values).
        register: the analyst's register (settings and measures in dashboard order).
        report: the input problems to list on the Issues sheet.
        inputs: the input files to list, with their SHA-256, on the About sheet.
        options: layout and dating options.
        print_only: hide the Data, Issues and About sheets (for the PDF).

    Returns:
        The Book, which either writer renders.

    Raises:
        TemplateError: the icon style is not a three-icon style.

    Example:
        >>> book = build_book(frame, register, Report())
    """
    settings = register.settings
    icon_style = icon_style_of(register, options)
    show_direction = (
        settings.show_direction if options.show_direction is None else options.show_direction
    )
    columns = frame_columns(frame)
    texts = _Texts(columns)
    cells = _cells(columns, texts)
    styles = _Styles()
    created = options.created or _parse_date(options.made_on) or _parse_date(settings.meeting_date)
    properties = {
        "title": clean_text(" ".join(p for p in (settings.title, settings.year) if p)),
        "subject": clean_text(settings.partnership),
        "author": "rag_workbook",
        "comments": f"Made by rag_workbook {__version__}",
        "created": created or _DEFAULT_CREATED,
    }
    # The Data block's styles first: the fast writer gives its formats their indices first.
    data_block = _data_block(styles, columns, texts, register)
    counted = _summary_counts(register, cells)
    summary_block = _summary_block(styles, register, counted[0])
    reporting = _reporting_quarter(cells)
    data_rows = _data_rows(texts, register)
    sheets = (
        _dashboard_sheet(
            styles, register, cells, icon_style, show_direction, options, reporting, data_rows
        ),
        _exceptions_sheet(styles, register, cells, reporting),
        _summary_sheet(styles, register, counted, summary_block),
        _data_sheet(styles, data_block, print_only),
        _issues_sheet(styles, register, report, print_only),
        _about_sheet(styles, register, inputs, options, print_only),
    )
    return Book(styles=dict(styles.props), sheets=sheets, properties=properties)


def _reporting_quarter(cells: Mapping[tuple[str, str], _Cell]) -> str:
    """The latest quarter with a status ("" when none has one)."""
    latest = -1
    for (_, quarter), cell in cells.items():
        if cell.status is not None and quarter in QUARTERS:
            latest = max(latest, QUARTERS.index(quarter))
    return QUARTERS[latest] if latest >= 0 else ""


def _data_rows(texts: _Texts, register: Register) -> dict[str, int]:
    """Each register measure's first row (0-based) on the Data sheet, when its Q1..Q4 rows
    follow each other there (as merge gives them): the sparklines' ranges."""
    sequence = _data_order(texts, register)
    ids, quarters = texts[C.MEASURE_ID], texts[C.QUARTER]
    if sequence is not None:
        ids = [ids[i] for i in sequence]
        quarters = [quarters[i] for i in sequence]
    found: dict[str, int] = {}
    for index in range(0, len(ids) - 3):
        if quarters[index : index + 4] == list(QUARTERS) and len(set(ids[index : index + 4])) == 1:
            found.setdefault(ids[index], index + 1)  # row 0 is the header
    return found


# --------------------------------------------------------------------------- Dashboard sheet

_HEADER_ROW = 4
_W_THEME, _W_NO, _W_MEASURE, _W_QUARTER, _W_TREND, _W_COMMENTS = 14, 5.5, 46, 6.5, 6.5, 64
_W_SPARK = 9
_NOTE_OPTIONS: Mapping[str, Any] = {"author": "rag_workbook", "x_scale": 2.4, "y_scale": 1.2}
_BAND_KINDS: Mapping[str, Mapping[str, Any]] = {
    "id": {"align": "center"},
    "text": {"text_wrap": True, "indent": 1},
    "quarter": {"align": "center", "font_size": 14},
    "boxed": {"align": "center", "font_size": 14, "border": 5, "border_color": "#000000"},
    # A value whose return is not signed off: a dashed box (the key explains it).
    "unsigned": {"align": "center", "font_size": 14, "border": 3, "border_color": "#000000"},
    "unsigned-mark": {"align": "center", "bold": True, "border": 3, "border_color": "#000000"},
    "mark": {"align": "center", "bold": True},
    "trend": {"align": "center", "bold": True, "font_size": 12},
}


@dataclass(frozen=True)
class _Layout:
    """Where the Dashboard sheet's columns go: Q1..Q4, then Year end (when there is a
    forecast), last year's status for the reporting quarter (when given), Trend, Comments,
    and last the values as a sparkline this year and last year (when given)."""

    show_direction: bool
    q_first: int = 3
    year_end: bool = False
    last_year: bool = False
    sparklines: bool = False

    @property
    def year_end_col(self) -> int | None:
        return self.q_first + 4 if self.year_end else None

    @property
    def last_year_col(self) -> int | None:
        return self.q_first + 4 + self.year_end if self.last_year else None

    @property
    def _after(self) -> int:
        return self.q_first + 4 + self.year_end + self.last_year

    @property
    def trend_col(self) -> int | None:
        return self._after if self.show_direction else None

    @property
    def comments_col(self) -> int:
        return self._after + (1 if self.show_direction else 0)

    @property
    def spark_col(self) -> int | None:
        return self.comments_col + 1 if self.sparklines else None

    @property
    def spark_last_year_col(self) -> int | None:
        spark = self.spark_col
        return spark + 1 if spark is not None and self.last_year else None

    @property
    def last_col(self) -> int:
        return self.comments_col + self.sparklines * (1 + self.last_year)


def _latest_comment(quarters: Sequence[_Cell | None]) -> str:
    """The comment of the latest due quarter that has one; `quarters` are Q1..Q4's cells."""
    for cell in reversed(quarters):
        if cell is not None and cell.due and cell.comment:
            return cell.comment
    return ""


def _latest_direction(quarters: Sequence[_Cell | None]) -> Direction | None:
    """The direction of the latest quarter with a status; `quarters` are Q1..Q4's cells."""
    for cell in reversed(quarters):
        if cell is not None and cell.status is not None:
            return cell.direction
    return None


def _note(cell: _Cell, quarter: str) -> str:
    text = cell.explanation or f"{quarter}: {cell.status}"
    if cell.is_override and "override" not in text.lower():
        text = f"{text} (status set by the lead: override)"
    if cell.unsigned:
        text = f"{text} (the return is not signed off)"
    return clean_text(text)


def _dashboard_sheet(
    styles: _Styles,
    register: Register,
    cells: Mapping[tuple[str, str], _Cell],
    icon_style: str,
    show_direction: bool,
    options: DashboardOptions,
    reporting: str = "",
    data_rows: Mapping[str, int] | None = None,
) -> Sheet:
    data_rows = data_rows or {}
    values = list(cells.values())
    layout = _Layout(
        show_direction,
        year_end=any(c.forecast is not None for c in values),
        last_year=bool(reporting) and any(c.last_year is not None for c in values),
        sparklines=bool(data_rows),
    )
    last_col = layout.last_col
    widths = [_W_THEME, _W_NO, _W_MEASURE, *([_W_QUARTER] * 4)]
    widths += [_W_QUARTER] * (layout.year_end + layout.last_year)
    if show_direction:
        widths.append(_W_TREND)
    widths.append(_W_COMMENTS)
    widths += [_W_SPARK] * (layout.sparklines * (1 + layout.last_year))
    content, merges = _title_rows(styles, register, last_col, layout.comments_col)
    content.append(_header_row(styles, options, layout, reporting))
    rows, theme_merges = _measure_rows(styles, register, cells, layout, reporting)
    content += rows
    first_data_row = _HEADER_ROW + 1
    last_data_row = max(first_data_row + len(rows) - 1, first_data_row)
    last_icon_col = layout.q_first + 3 + layout.year_end + layout.last_year
    rule = IconSet(
        first_data_row,
        layout.q_first,
        last_data_row,
        last_icon_col,
        icon_style,
        STATUS_CODES[Status.GREEN],
        STATUS_CODES[Status.AMBER],
    )
    legend, legend_rules, last_row = _legend(
        styles, first_data_row + len(rows) + 1, layout, rule, register.settings.signoff_required
    )
    content += legend
    return Sheet(
        name=DASHBOARD_SHEET,
        content=tuple(content),
        columns=tuple(Column(c, c, w) for c, w in enumerate(widths)),
        merges=(*merges, *theme_merges),
        note_options=_NOTE_OPTIONS,
        icon_sets=(rule, *legend_rules),
        sparklines=_sparklines(register, layout, data_rows),
        print_setup=_dashboard_print(register, options, last_row, last_col),
        freeze=(_HEADER_ROW + 1, 0),
        hide_gridlines=True,
        active=True,
    )


def _sparklines(
    register: Register, layout: _Layout, data_rows: Mapping[str, int]
) -> tuple[Sparklines, ...]:
    """Each measure's values across the quarters (Data's Value rows), and last year's
    (Data's Last Year Value rows) when given: a group each."""
    if layout.spark_col is None:
        return ()
    labels = [column.name for column in C.DATA_COLUMNS]
    value_col = labels.index(C.VALUE)
    last_col = labels.index(C.LAST_YEAR_VALUE) if C.LAST_YEAR_VALUE in labels else -1
    rows: list[tuple[int, int]] = []  # (Dashboard row, first Data row)
    for offset, measure in enumerate(register.measures):
        first = data_rows.get(measure.measure_id)
        if first is not None:
            rows.append((_HEADER_ROW + 1 + offset, first))
    groups = [
        Sparklines(
            tuple((row, layout.spark_col) for row, _ in rows),
            DATA_SHEET,
            tuple((first, value_col, first + 3, value_col) for _, first in rows),
        )
    ]
    if layout.spark_last_year_col is not None and last_col >= 0:
        groups.append(
            Sparklines(
                tuple((row, layout.spark_last_year_col) for row, _ in rows),
                DATA_SHEET,
                tuple((first, last_col, first + 3, last_col) for _, first in rows),
                color="#7F7F7F",
            )
        )
    return tuple(group for group in groups if group.cells)


def _title_rows(
    styles: _Styles, register: Register, last_col: int, date_col: int | None = None
) -> tuple[list[Content], list[Merge]]:
    """Agenda item / partnership / date, then title + year, then meeting; a spacer row.

    The date is right-aligned in `date_col` (the last column by default), merged across
    to the last column when there are columns after it."""
    date_col = last_col if date_col is None else date_col
    settings = register.settings
    top = styles("top", bold=True, font_size=11, valign="vcenter")
    centre = styles("top-centre", bold=True, font_size=11, align="center", valign="vcenter")
    right = styles("top-right", bold=True, font_size=11, align="right", valign="vcenter")
    title = styles(
        "title", bold=True, font_size=15, align="center", valign="vcenter", font_color=_NAVY
    )
    meeting = styles("meeting", italic=True, font_size=11, align="center", valign="vcenter")
    agenda = f"Agenda Item No: {settings.agenda_item}" if settings.agenda_item else ""
    first: list[Cell] = [styles.text(0, clean_text(agenda), top), (1, None, top)]
    first.append(styles.text(2, clean_text(settings.partnership), centre))
    first += [(c, None, centre) for c in range(3, date_col)]
    first.append(styles.text(date_col, clean_text(settings.meeting_date), right))
    first += [(c, None, right) for c in range(date_col + 1, last_col + 1)]
    heading = clean_text(" ".join(p for p in (settings.title, settings.year) if p))
    second = [styles.text(0, heading, title), *((c, None, title) for c in range(1, last_col + 1))]
    third = [styles.text(0, clean_text(settings.meeting), meeting)]
    third += [(c, None, meeting) for c in range(1, last_col + 1)]
    content: list[Content] = [
        Row(0, tuple(first), 20),
        Row(1, tuple(second), 26),
        Row(2, tuple(third), 18),
        Row(3, (), 6),
    ]
    merges = [
        Merge(0, 0, 0, 1, top),
        Merge(0, 2, 0, date_col - 1, centre),
        *([Merge(0, date_col, 0, last_col, right)] if last_col > date_col else []),
        Merge(1, 0, 1, last_col, title),
        Merge(2, 0, 2, last_col, meeting),
    ]
    return content, merges


def _head_styles(styles: _Styles) -> tuple[str, str]:
    """The navy header style, centred and left-aligned."""
    common = {
        "bold": True,
        "font_color": "#FFFFFF",
        "bg_color": _NAVY,
        "border": 1,
        "border_color": _GRID,
        "valign": "vcenter",
        "text_wrap": True,
    }
    return (
        styles("head", **common, align="center"),
        styles("head-left", **common, align="left", indent=1),
    )


def _header_row(
    styles: _Styles, options: DashboardOptions, layout: _Layout, reporting: str = ""
) -> Row:
    head, head_left = _head_styles(styles)
    labels = ["Theme", "No", "Performance Measure", *options.quarter_labels]
    if layout.year_end:
        labels.append("Year end")
    if layout.last_year:
        labels.append(f"{reporting} last year")
    if layout.show_direction:
        labels.append("Trend")
    labels.append("Comments")
    if layout.sparklines:
        labels.append("This year")
        if layout.last_year:
            labels.append("Last year")
    cells = tuple(
        styles.text(
            col,
            clean_text(label),
            head_left if label in ("Performance Measure", "Comments") else head,
        )
        for col, label in enumerate(labels)
    )
    return Row(_HEADER_ROW, cells, 24)


def _band_style(styles: _Styles, band: int, kind: str) -> str:
    """The style of one kind of cell in the white (0) or grey (1) band."""
    fill = _BAND_FILL if band else "#FFFFFF"
    base = {"border": 1, "border_color": _GRID, "valign": "vcenter", "bg_color": fill}
    return styles(f"band{band}-{kind}", **{**base, **_BAND_KINDS[kind]})


def _measure_rows(
    styles: _Styles,
    register: Register,
    cells: Mapping[tuple[str, str], _Cell],
    layout: _Layout,
    reporting: str = "",
) -> tuple[list[Row], list[Merge]]:
    """One row per measure, themes in bands, each theme's cell merged down its measures."""
    row = _HEADER_ROW + 1
    by_theme: dict[str, list[Measure]] = {}
    for measure in register.measures:
        by_theme.setdefault(measure.theme, []).append(measure)
    theme_style = styles(
        "theme",
        border=1,
        border_color=_GRID,
        valign="vcenter",
        bg_color=_THEME_FILL,
        bold=True,
        text_wrap=True,
        align="left",
        indent=1,
    )
    bands = [{kind: _band_style(styles, band, kind) for kind in _BAND_KINDS} for band in (0, 1)]
    rows: list[Row] = []
    merges: list[Merge] = []
    for band, (theme, measures) in enumerate(by_theme.items()):
        if len(measures) > 1:
            merges.append(Merge(row, 0, row + len(measures) - 1, 0, theme_style))
        theme_cell = styles.text(0, clean_text(theme), theme_style)
        for measure in measures:
            rows.append(
                _measure_row(
                    styles, measure, cells, layout, row, bands[band % 2], theme_cell, reporting
                )
            )
            theme_cell = (0, None, theme_style)
            row += 1
    return rows, merges


def _measure_row(
    styles: _Styles,
    measure: Measure,
    cells: Mapping[tuple[str, str], _Cell],
    layout: _Layout,
    row: int,
    style: Mapping[str, str],
    theme_cell: Cell,
    reporting: str = "",
) -> Row:
    """One measure's row, in its band's `style`s, with its quarters' notes."""
    mid = measure.measure_id
    row_cells: list[Cell] = [
        theme_cell,
        styles.text(1, clean_text(mid), style["id"]),
        styles.text(2, clean_text(measure.text), style["text"]),
    ]
    quarter_cells = [cells.get((mid, quarter)) for quarter in QUARTERS]
    notes: list[tuple[int, str]] = []
    for offset, (quarter, cell) in enumerate(zip(QUARTERS, quarter_cells, strict=True)):
        col = layout.q_first + offset
        if cell is None or cell.status is None:
            row_cells.append((col, None, style["quarter"]))
            continue
        boxed = style["boxed"] if cell.is_override else None
        if cell.unsigned and boxed is None:
            boxed = style["unsigned-mark" if cell.status is Status.NO_DATA else "unsigned"]
        if cell.status is Status.NO_DATA:
            row_cells.append((col, NO_DATA_MARK, boxed or style["mark"]))
        else:
            row_cells.append((col, STATUS_CODES[cell.status], boxed or style["quarter"]))
        notes.append((col, _note(cell, quarter)))
    now = cells.get((mid, reporting)) if reporting else None
    if layout.year_end_col is not None:
        col = layout.year_end_col
        if now is not None and now.forecast is not None:
            forecast = now.forecast
            code = NO_DATA_MARK if forecast is Status.NO_DATA else STATUS_CODES[forecast]
            row_cells.append((col, code, style["quarter" if code != NO_DATA_MARK else "mark"]))
            notes.append((col, clean_text(now.forecast_explanation or f"Year end: {forecast}")))
        else:
            row_cells.append((col, None, style["quarter"]))
    if layout.last_year_col is not None:
        col = layout.last_year_col
        last = now.last_year if now is not None else None
        if last is None:
            row_cells.append((col, None, style["quarter"]))
        elif last is Status.NO_DATA:
            row_cells.append((col, NO_DATA_MARK, style["mark"]))
            notes.append((col, f"{reporting} last year: No data"))
        else:
            row_cells.append((col, STATUS_CODES[last], style["quarter"]))
            notes.append((col, f"{reporting} last year: {last}"))
    if layout.trend_col is not None:
        direction = _latest_direction(quarter_cells)
        arrow = DIRECTION_ARROWS[direction] if direction is not None else ""
        row_cells.append((layout.trend_col, arrow or None, style["trend"]))
    comment = _latest_comment(quarter_cells)
    row_cells.append(styles.text(layout.comments_col, comment, style["text"]))
    for spark in (layout.spark_col, layout.spark_last_year_col):
        if spark is not None:
            row_cells.append((spark, None, style["quarter"]))
    lines = max(_lines(measure.text, _W_MEASURE), _lines(comment, _W_COMMENTS), 1)
    height = min(_MAX_ROW_HEIGHT, max(22.0, 12.75 * lines + 7))
    return Row(row, tuple(row_cells), height, tuple(notes))


def _legend(
    styles: _Styles, first: int, layout: _Layout, rule: IconSet, signoff: bool = False
) -> tuple[list[Row], list[IconSet], int]:
    """The key, in icons and in words: status icons on the left, marks on the right.

    Returns the rows, the icon sets over its icons and its last row.
    """
    key = styles("key", bold=True, valign="vcenter", indent=1)
    boxed = styles(
        "key-boxed", border=5, border_color="#000000", align="center", valign="vcenter",
        font_size=14,
    )  # fmt: skip
    icon = styles(
        "key-icon", border=1, border_color=_GRID, align="center", valign="vcenter", font_size=14
    )
    mark = styles(
        "key-mark", border=1, border_color=_GRID, align="center", valign="vcenter", bold=True
    )
    words = styles("key-words", valign="vcenter", indent=1)
    aside = styles("key-aside", italic=True, indent=1)
    left: list[tuple[Value, str, str | None]] = [
        (STATUS_CODES[Status.GREEN], "Green: on target or better", icon),
        (STATUS_CODES[Status.AMBER], "Amber: worse than target, but within the tolerance", icon),
        (STATUS_CODES[Status.RED], "Red: worse than target, beyond the tolerance", icon),
        (NO_DATA_MARK, "No data: no value this quarter (the reason is in the cell note)", mark),
    ]
    dashed_row = first
    right: list[tuple[Value, str, str | None]] = [
        (None, "Blank: quarter not yet due", mark),
        (STATUS_CODES[Status.GREEN], "Heavy box: status set by the theme lead (override)", boxed),
    ]
    if layout.show_direction:
        right.append(
            ("↑ → ↓", "Trend: latest quarter against the one before: better, same, worse", mark)
        )
    if signoff:
        dashed = styles(
            "key-unsigned", border=3, border_color="#000000", align="center", valign="vcenter",
            font_size=14,
        )  # fmt: skip
        dashed_row = first + len(right)
        right.append(
            (STATUS_CODES[Status.GREEN], "Dashed box: the lead's return is not signed off", dashed)
        )
    if layout.year_end:
        right.append(
            (None, "Year end: the forecast status at year end (how, in the cell note)", None)
        )
    if layout.sparklines:
        right.append((None, "This year / Last year: the values by quarter, as a line", None))
    right.append(
        (None, "Each status's explanation is in its cell note (hover over the icon).", None)
    )
    mark_col = layout.comments_col - 1
    rows: list[Row] = [Row(first, ((0, "Key", key),))]
    for side, (symbol_col, entries) in enumerate(((1, left), (mark_col, right))):
        for i, (symbol, text, style) in enumerate(entries):
            cells: list[Cell] = [] if style is None else [(symbol_col, symbol, style)]
            cells.append((symbol_col + 1, text, words if style is not None else aside))
            rows.append(Row(first + i, tuple(cells), 20 if side == 0 else None))
    rules = [
        IconSet(first, 1, first + 2, 1, rule.icon_style, rule.green, rule.amber),
        IconSet(first + 1, mark_col, first + 1, mark_col, rule.icon_style, rule.green, rule.amber),
    ]
    if signoff:
        rules.append(IconSet(dashed_row, mark_col, dashed_row, mark_col, rule.icon_style, 3, 2))
    return rows, rules, first + max(len(left), len(right)) - 1


def _dashboard_print(
    register: Register, options: DashboardOptions, last_row: int, last_col: int
) -> PrintSetup:
    """A4 landscape, one page wide, header row repeated, footer with pages."""
    settings = register.settings
    made = (
        f"Made {options.made_on}"
        if options.made_on
        else (f"Meeting {settings.meeting_date}" if settings.meeting_date else "")
    )
    footer = (
        "&L&8"
        + _footer_text(made)
        + "&C&8Page &P of &N"
        + "&R&8"
        + _footer_text(" ".join(p for p in (settings.partnership, settings.year) if p))
    )
    return PrintSetup(
        fit_to=(1, 0),
        repeat_rows=_HEADER_ROW,
        area=(0, 0, last_row, last_col),
        margins={"left": 0.5, "right": 0.5, "top": 0.6, "bottom": 0.7},
        center_horizontally=True,
        footer=footer,
    )


# --------------------------------------------------------------------------- Exceptions sheet

_RANK: Mapping[Status, int] = {Status.GREEN: 0, Status.AMBER: 1, Status.RED: 2}


def exception_reasons(quarters: Sequence[_Cell | None], reporting: str) -> list[str]:
    """Why a measure is an exception in the `reporting` quarter (none: not one).

    Red two quarters running; worse by a band than the quarter before (Green to Amber,
    Amber to Red, Green to Red); No data two quarters running; a year-end forecast of Red.
    """
    if reporting not in QUARTERS:
        return []
    index = QUARTERS.index(reporting)
    now = quarters[index]
    before = quarters[index - 1] if index > 0 else None
    if now is None:
        return []
    earlier = QUARTERS[index - 1] if index > 0 else ""
    reasons: list[str] = []
    if before is not None and now.status is Status.RED and before.status is Status.RED:
        reasons.append(f"Red two quarters running ({earlier} and {reporting})")
    elif (
        before is not None
        and now.status is not None
        and before.status is not None
        and _RANK.get(now.status, -1) > _RANK.get(before.status, 3)
    ):
        reasons.append(f"worse by a band than the quarter before ({before.status} in {earlier})")
    if before is not None and now.status is Status.NO_DATA and before.status is Status.NO_DATA:
        reasons.append(f"No data two quarters running ({earlier} and {reporting})")
    if now.forecast is Status.RED:
        reasons.append("forecast Red at year end")
    return reasons


def _exceptions_sheet(
    styles: _Styles,
    register: Register,
    cells: Mapping[tuple[str, str], _Cell],
    reporting: str,
) -> Sheet:
    """The measures that need the committee's attention in the reporting quarter, each
    with why it is listed, its explanation, the lead's comment and action."""
    heading = styles("heading", bold=True, font_size=15, font_color=_NAVY)
    rows: list[tuple[str, ...]] = []
    for measure in register.measures:
        quarters = [cells.get((measure.measure_id, q)) for q in QUARTERS]
        reasons = exception_reasons(quarters, reporting)
        if not reasons:
            continue
        now = quarters[QUARTERS.index(reporting)]
        assert now is not None  # a measure with reasons has a cell this quarter
        explanation = now.explanation
        if now.forecast is Status.RED and now.forecast_explanation:
            explanation = f"{explanation}; {now.forecast_explanation}".lstrip("; ")
        rows.append(
            (
                measure.measure_id,
                measure.text,
                str(now.status or ""),
                "; ".join(reasons),
                explanation,
                now.comment,
                now.action or "(no action given)",
                measure.lead,
            )
        )
    summary = (
        f"{len(rows)} measure{'' if len(rows) == 1 else 's'} in {reporting}: Red two quarters "
        "running, worse by a band than the quarter before, No data two quarters running, or "
        "forecast Red at year end; each with the lead's action."
        if rows
        else f"No exceptions in {reporting or 'any quarter'}."
    )
    content: list[Content] = [
        Row(0, ((0, "Exceptions and actions", heading),)),
        Row(1, ((0, summary, styles("subtitle", italic=True)),)),
    ]
    widths = (8, 34, 9, 30, 44, 36, 30, 16)
    for item in _table(styles, 3, EXCEPTIONS_TABLE, EXCEPTION_HEADERS, rows)[0]:
        if isinstance(item, Row) and item.cells:
            # Each row as tall as its longest wrapped text: LibreOffice and Gnumeric do
            # not grow a row for wrapped text when printing.
            lines = max(
                _lines(str(value or ""), widths[col] * 0.92) for col, value, _ in item.cells
            )
            item = Row(item.row, item.cells, min(_MAX_ROW_HEIGHT, 12.75 * lines + 5))
        content.append(item)
    return Sheet(
        name=EXCEPTIONS_SHEET,
        content=tuple(content),
        columns=tuple(Column(c, c, w) for c, w in enumerate(widths)),
        print_setup=PrintSetup(fit_to=(1, 0), repeat_rows=3),
        freeze=(4, 0),
    )


# --------------------------------------------------------------------------- Summary sheet

# The Summary sheet: statuses counted, the block of all measures by quarter from row
# _SUMMARY_TOP, and the block by theme and quarter, its themes' rows from
# _SUMMARY_THEME_ROW (a Block), then the total row.
_SUMMARY_STATUSES = (Status.GREEN, Status.AMBER, Status.RED, Status.NO_DATA)
_SUMMARY_TOP = 3
_SUMMARY_BY_THEME = _SUMMARY_TOP + 7
_SUMMARY_THEME_ROW = _SUMMARY_BY_THEME + 2
_SUMMARY_WIDTH = 1 + len(QUARTERS) * len(_SUMMARY_STATUSES)


def _summary_counts(
    register: Register, cells: Mapping[tuple[str, str], _Cell]
) -> tuple[dict[tuple[str, str, Status], int], dict[str, int]]:
    """Measures by (theme, quarter, status), and those not yet due by quarter."""
    counts: dict[tuple[str, str, Status], int] = {}
    not_due: dict[str, int] = dict.fromkeys(QUARTERS, 0)
    for measure in register.measures:
        for quarter in QUARTERS:
            cell = cells.get((measure.measure_id, quarter))
            if cell is None or cell.status is None:
                not_due[quarter] += 1
                continue
            key = (measure.theme, quarter, cell.status)
            counts[key] = counts.get(key, 0) + 1
    return counts, not_due


def _summary_block(
    styles: _Styles, register: Register, counts: Mapping[tuple[str, str, Status], int]
) -> Block:
    """The Summary's rows by theme: the theme's name and its 16 counts."""
    label = styles("summary-label", border=1, border_color=_GRID, bold=True)
    number = styles("summary-number", border=1, border_color=_GRID, align="center")
    names = [clean_text(theme) or None for theme in register.themes]
    values: list[Sequence[Value]] = [names]
    for quarter in QUARTERS:
        for status in _SUMMARY_STATUSES:
            values.append([counts.get((t, quarter, status), 0) for t in register.themes])
    quoted = styles.quoted(label) if any(map(C.looks_like_formula, filter(None, names))) else ""
    return Block(
        first_row=_SUMMARY_THEME_ROW,
        values=tuple(values),
        styles=(label, *([number] * (_SUMMARY_WIDTH - 1))),
        quoted=(quoted, *([""] * (_SUMMARY_WIDTH - 1))),
        shared=(False,) * _SUMMARY_WIDTH,
    )


def _summary_sheet(
    styles: _Styles,
    register: Register,
    counted: tuple[Mapping[tuple[str, str, Status], int], Mapping[str, int]],
    block: Block,
) -> Sheet:
    settings = register.settings
    counts, not_due = counted
    head, _ = _head_styles(styles)
    number, label = block.styles[1], block.styles[0]

    all_themes: dict[tuple[str, Status], int] = {}
    for (_, quarter, status), count in counts.items():
        all_themes[quarter, status] = all_themes.get((quarter, status), 0) + count

    def total(quarter: str, status: Status) -> int:
        return all_themes.get((quarter, status), 0)

    heading = styles("heading", bold=True, font_size=15, font_color=_NAVY)
    subtitle = " – ".join(
        p for p in (settings.partnership, f"{settings.title} {settings.year}".strip()) if p
    )
    content: list[Content] = [
        Row(0, ((0, "Summary of statuses", heading),)),
        Row(1, (styles.text(0, clean_text(subtitle), styles("subtitle", italic=True)),)),
    ]
    # Block 1: all measures by quarter (the chart's data).
    top = _SUMMARY_TOP
    heads = ["Quarter", *[str(s) for s in _SUMMARY_STATUSES], "Not yet due"]
    content.append(Row(top, tuple((col, text, head) for col, text in enumerate(heads))))
    for i, quarter in enumerate(QUARTERS):
        sums = [(1 + j, total(quarter, s), number) for j, s in enumerate(_SUMMARY_STATUSES)]
        tail = (1 + len(_SUMMARY_STATUSES), not_due[quarter], number)
        content.append(Row(top + 1 + i, ((0, quarter, label), *sums, tail)))
    content += _summary_by_theme_head(styles, head)
    content.append(block)
    last_row = _SUMMARY_THEME_ROW + block.count
    bold_label = styles("total-label", border=1, border_color=_GRID, bold=True, top=2)
    bold_number = styles(
        "total-number", border=1, border_color=_GRID, bold=True, top=2, align="center"
    )
    totals: list[Cell] = [(0, "All themes", bold_label)]
    for q, quarter in enumerate(QUARTERS):
        for j, status in enumerate(_SUMMARY_STATUSES):
            col = 1 + q * len(_SUMMARY_STATUSES) + j
            totals.append((col, total(quarter, status), bold_number))
    content.append(Row(last_row, tuple(totals)))
    width = len(_SUMMARY_STATUSES)
    merges = [Merge(_SUMMARY_BY_THEME, 0, _SUMMARY_BY_THEME + 1, 0, head)]
    merges += [
        Merge(_SUMMARY_BY_THEME, 1 + q * width, _SUMMARY_BY_THEME, q * width + width, head)
        for q in range(len(QUARTERS))
    ]
    return Sheet(
        name=SUMMARY_SHEET,
        content=tuple(content),
        columns=(Column(0, 0, 22), Column(1, 16, 9)),
        merges=tuple(merges),
        charts=(_summary_chart(last_row + 2),),
        print_setup=PrintSetup(
            fit_to=(1, 1),
            area=(0, 0, last_row + 18, 16),
            footer="&C&8Page &P of &N&R&8" + _footer_text(settings.partnership),
        ),
        hide_gridlines=True,
    )


def _summary_by_theme_head(styles: _Styles, head: str) -> list[Content]:
    """The two header rows of the block by theme and quarter (merged as `Merge`s say)."""
    top = _SUMMARY_BY_THEME
    width = len(_SUMMARY_STATUSES)
    first: list[Cell] = [(0, "Theme", head)]
    second: list[Cell] = [(0, None, head)]
    for q, quarter in enumerate(QUARTERS):
        start = 1 + q * width
        first += [(start, quarter, head), *((start + j, None, head) for j in range(1, width))]
        second += [(start + j, str(status), head) for j, status in enumerate(_SUMMARY_STATUSES)]
    title = styles("subheading", bold=True, font_size=11)
    return [
        Row(top - 1, ((0, "By theme and quarter", title),)),
        Row(top, tuple(first[:1])),
        Row(top + 1, tuple(second[:1])),
        Row(top, tuple(first[1:])),
        Row(top + 1, tuple(second[1:])),
    ]


def _summary_chart(row: int) -> Chart:
    """A stacked column chart of the statuses by quarter (all measures)."""
    top = _SUMMARY_TOP
    series = tuple(
        {
            "name": [SUMMARY_SHEET, top, 1 + j],
            "categories": [SUMMARY_SHEET, top + 1, 0, top + 4, 0],
            "values": [SUMMARY_SHEET, top + 1, 1 + j, top + 4, 1 + j],
            "fill": {"color": _STATUS_COLOURS[status]},
            "border": {"color": "#404040"},
            "data_labels": {
                "value": True,
                "num_format": "0;-0;;@",  # no label on an empty segment
                "font": {"name": _FONT, "size": 9},
            },
            "gap": 60,
        }
        for j, status in enumerate(_SUMMARY_STATUSES)
    )
    return Chart(
        kind={"type": "column", "subtype": "stacked"},
        series=series,
        title={
            "name": "Statuses by quarter (all measures)",
            "name_font": {"name": _FONT, "size": 12},
        },
        y_axis={
            "name": "Measures",
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
            "num_font": {"name": _FONT},
            "name_font": {"name": _FONT},
        },
        x_axis={"num_font": {"name": _FONT}},
        legend={"position": "right", "font": {"name": _FONT}},
        size={"width": 620, "height": 300},
        row=row,
        col=0,
    )


# --------------------------------------------------------------------------- Data sheet


def _yes_no(value: Any) -> str:
    """A flag as the Data sheet shows it."""
    return "Yes" if _flag(value) else "No"


def _data_order(texts: _Texts, register: Register) -> list[int] | None:
    """The rows in register order, then measure ID, then quarter (a stable sort); None
    when they are in that order already (as the merge gives them)."""
    ids, given = texts[C.MEASURE_ID], texts[C.QUARTER]
    measures = register.measures
    if given == [*QUARTERS] * len(measures) and ids == [
        m.measure_id for m in measures for _ in QUARTERS
    ]:
        return None  # as merge gives them: seen without sorting 25,000 keys
    order = {m.measure_id: i for i, m in enumerate(measures)}
    quarters = {q: i for i, q in enumerate(QUARTERS)}
    keys = [
        (order.get(mid, len(order)), mid, quarters.get(quarter, len(quarters)))
        for mid, quarter in zip(ids, given, strict=True)
    ]
    sequence = sorted(range(len(keys)), key=keys.__getitem__)
    return None if sequence == list(range(len(sequence))) else sequence


# A text that `columns.looks_like_formula`, at the start of the text or after a NUL, which
# clean text never holds: so one search over a column's texts joined by NULs.
_FORMULA_LIKE = re.compile(r"(?:^|\x00)[\t\r\n ]*[=+\-@]")


def _any_formula_like(texts: Sequence[str | None]) -> bool:
    """Whether any of the texts looks like a formula (`columns.looks_like_formula`)."""
    return _FORMULA_LIKE.search("\x00".join(filter(None, dict.fromkeys(texts)))) is not None


def _data_block(
    styles: _Styles, columns: Mapping[str, list[Any]], texts: _Texts, register: Register
) -> Block:
    """The Data sheet's rows from row 2, one per measure and quarter, in register order.

    Each column is written as `columns.DATA_COLUMNS` declares it: a number column as
    numbers (blank where there is none), never as text.
    """
    text = styles("data-text", valign="top")
    wrap = styles("data-wrap", valign="top", text_wrap=True)
    number = styles("data-number", valign="top", num_format="#,##0.##")
    sequence = _data_order(texts, register)
    values: list[Sequence[Value]] = []
    kinds: list[str] = []
    quoted: list[str] = []
    for column in C.DATA_COLUMNS:
        raw = columns[column.name]
        if sequence is not None:
            raw = [raw[i] for i in sequence]
        if column.kind is C.Kind.NUMBER:
            # a finite float as it is (v - v is 0.0 for those only); anything else converted
            values.append([v if v.__class__ is float and v - v == 0.0 else _number(v) for v in raw])
            kinds.append(number)
            quoted.append("")
            continue
        if column.kind is C.Kind.FLAG:
            cells: list[str | None] = _per_value(raw, _yes_no)
        else:
            cleaned = texts[column.name]
            if sequence is not None:
                cleaned = [cleaned[i] for i in sequence]
            cells = [t or None for t in cleaned] if "" in cleaned else [*cleaned]
        values.append(cells)
        kinds.append(wrap if column.wrap else text)
        if _any_formula_like(cells):
            quoted.append(styles.quoted(kinds[-1]))
        else:
            quoted.append("")
    return Block(
        first_row=1,
        values=tuple(values),
        styles=tuple(kinds),
        quoted=tuple(quoted),
        shared=tuple(column.shared for column in C.DATA_COLUMNS),
    )


def _table_head(styles: _Styles) -> str:
    """Table headers carry their own format: LibreOffice and Gnumeric do not draw table styles."""
    return styles("table-head", bold=True, font_color="#FFFFFF", bg_color=_NAVY, valign="vcenter")


def _data_sheet(styles: _Styles, block: Block, hidden: bool) -> Sheet:
    wrap = styles("data-wrap")
    columns = tuple(
        Column(c, c, column.width, wrap if column.wrap else None)
        for c, column in enumerate(C.DATA_COLUMNS)
    )
    table = Table(
        0,
        0,
        max(block.count, 1),
        len(C.DATA_COLUMNS) - 1,
        DATA_TABLE,
        tuple(column.label for column in C.DATA_COLUMNS),
        _table_head(styles),
    )
    return Sheet(
        name=DATA_SHEET,
        content=(block, table),
        columns=columns,
        print_setup=PrintSetup(fit_to=(1, 0), repeat_rows=0),
        freeze=(1, 3),
        hidden=hidden,
    )


# --------------------------------------------------------------------------- Issues sheet


def _table(
    styles: _Styles, top: int, name: str, headers: Sequence[str], rows: Sequence[Sequence[str]]
) -> tuple[list[Content], int]:
    """Rows of text as an Excel Table from `top`: its content and its last row."""
    cell = styles("table-cell", valign="top", text_wrap=True)
    content: list[Content] = [
        Row(r, tuple(styles.text(col, clean_text(v), cell) for col, v in enumerate(values)))
        for r, values in enumerate(rows, start=top + 1)
    ]
    last = top + max(len(rows), 1)
    content.append(Table(top, 0, last, len(headers) - 1, name, tuple(headers), _table_head(styles)))
    return content, last


def _chase_rows(register: Register, issues: Sequence[Any]) -> list[tuple[str, ...]]:
    """The chase list: each measure with no return or a due quarter left blank (the
    message names the file and cell, and the days overdue), its lead and theme."""
    chase: list[tuple[str, ...]] = []
    for issue in issues:
        if issue.code not in (Code.NO_RETURN, Code.VALUE_MISSING):
            continue
        measure = register.measure(issue.measure_id) if issue.measure_id else None
        if measure is None:
            chase.append((issue.measure_id, "", "", "", "", issue.message))
        else:
            chase.append(
                (
                    measure.measure_id,
                    measure.lead,
                    measure.lead_email,
                    measure.theme,
                    measure.text,
                    issue.message,
                )
            )
    return chase


def _issues_sheet(styles: _Styles, register: Register, report: Report, hidden: bool) -> Sheet:
    issues = report.sorted().issues
    heading = styles("heading", bold=True, font_size=15, font_color=_NAVY)
    counts = ", ".join(
        f"{report.count(s)} {s.value}{'' if report.count(s) == 1 else 's'}" for s in _SEVERITY_ORDER
    )
    summary = f"{len(issues)} in all: {counts}. Worst first." if issues else "No problems found."
    content: list[Content] = [
        Row(0, ((0, "Problems found in the inputs", heading),)),
        Row(1, ((0, summary, styles("subtitle", italic=True)),)),
    ]
    rows = [
        (str(i.severity), i.file, i.sheet, i.cell, i.code, i.message, i.fix, i.measure_id, i.value)
        for i in issues
    ]
    table, last = _table(styles, 3, ISSUES_TABLE, ISSUE_HEADERS, rows)
    content += table
    top = last + 3
    title = styles("subheading-12", bold=True, font_size=12)
    content.append(
        Row(
            top - 1,
            ((0, "Chase list: measures with no return or a due quarter left blank", title),),
        )
    )
    content += _table(styles, top, CHASE_TABLE, CHASE_HEADERS, _chase_rows(register, issues))[0]
    widths = (10, 28, 28, 14, 30, 60, 45, 11, 20)
    return Sheet(
        name=ISSUES_SHEET,
        content=tuple(content),
        columns=tuple(Column(c, c, w) for c, w in enumerate(widths)),
        print_setup=PrintSetup(fit_to=(1, 0)),
        freeze=(4, 0),
        hidden=hidden,
    )


# --------------------------------------------------------------------------- About sheet


def _about_sheet(
    styles: _Styles,
    register: Register,
    inputs: Sequence[InputFile],
    options: DashboardOptions,
    hidden: bool,
) -> Sheet:
    settings = register.settings
    key = styles("about-key", bold=True, valign="top")
    value = styles("about-value", valign="top", text_wrap=True)
    template = Path(register.path).name if register.path else ""
    facts = (
        ("Generated by", f"rag_workbook {__version__}: quarterly returns in, RAG dashboard out"),
        ("Tool version", __version__),
        ("Template", template),
        ("Template fingerprint (SHA-256)", register.fingerprint),
        ("Partnership", settings.partnership),
        ("Title", " ".join(p for p in (settings.title, settings.year) if p)),
        ("Meeting", settings.meeting),
        ("Meeting date", settings.meeting_date),
        ("Made on", options.made_on),
        ("Measures", str(len(register.measures))),
        ("Input files", str(len(inputs))),
    )
    heading = styles("heading", bold=True, font_size=15, font_color=_NAVY)
    content: list[Content] = [Row(0, ((0, "About this workbook", heading),))]
    content += [
        Row(r, ((0, label, key), styles.text(1, clean_text(text), value)))
        for r, (label, text) in enumerate(facts, start=2)
    ]
    top = 2 + len(facts) + 1
    title = styles("subheading-12", bold=True, font_size=12)
    content.append(Row(top, ((0, "Input files", title),)))
    rows = [(f.file, f.sha256, f.theme, f.submitted, str(f.status)) for f in inputs]
    inputs_table, last = _table(styles, top + 1, INPUTS_TABLE, INPUT_HEADERS, rows)
    content += inputs_table
    returns = [f for f in inputs if f.status is InputStatus.READ and f.theme]
    if settings.signoff_required or any(f.approved_by or f.approved_on for f in returns):
        top = last + 2
        content.append(Row(top, ((0, "Sign-off: who approved each return, and when", title),)))
        signed = [
            (f.file, f.theme, f.approved_by or "(not signed off)", f.approved_on) for f in returns
        ]
        content += _table(styles, top + 1, SIGNOFF_TABLE, SIGNOFF_HEADERS, signed)[0]
    return Sheet(
        name=ABOUT_SHEET,
        content=tuple(content),
        columns=(Column(0, 0, 30), Column(1, 1, 68), Column(2, 4, 16)),
        print_setup=PrintSetup(fit_to=(1, 0)),
        hidden=hidden,
    )
