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
    Link,
    PrintSetup,
    Row,
    Sheet,
    Sparklines,
    Table,
    Value,
)
from rag_workbook.errors import TemplateError
from rag_workbook.model import (
    QUARTERS,
    Direction,
    Measure,
    Register,
    ReturnData,
    Settings,
    Severity,
    Status,
)
from rag_workbook.report import Code, Report

if TYPE_CHECKING:
    import pandas as pd

# The rated frame, or its columns as lists (name -> values, as merge.MergeResult.columns
# and rag.rate_columns give them), which spares importing pandas (issue 6).
Frame: TypeAlias = "pd.DataFrame | Mapping[str, Sequence[Any]]"

CONTENTS_SHEET = "Contents"
DASHBOARD_SHEET = "Dashboard"
EXCEPTIONS_SHEET = "Exceptions"
SUMMARY_SHEET = "Summary"
DATA_SHEET = "Data"
ISSUES_SHEET = "Issues"
ABOUT_SHEET = "About"
SHEETS = (
    CONTENTS_SHEET,
    DASHBOARD_SHEET,
    EXCEPTIONS_SHEET,
    SUMMARY_SHEET,
    DATA_SHEET,
    ISSUES_SHEET,
    ABOUT_SHEET,
)
# The sheets the committee PDF holds, in order (the others are hidden for it).
PRINTED_SHEETS = (DASHBOARD_SHEET, EXCEPTIONS_SHEET, SUMMARY_SHEET)

DASHBOARD_TABLE = "StatusesByMeasure"
EXCEPTIONS_TABLE = "Exceptions"
SUMMARY_TABLE = "StatusesByQuarter"
THEMES_TABLE = "StatusesByTheme"
SHEETS_TABLE = "SheetList"
MARKS_TABLE = "MarksKey"
DATA_TABLE = "MasterData"
ISSUES_TABLE = "InputIssues"
CHASE_TABLE = "ChaseList"
INPUTS_TABLE = "InputFiles"
SIGNOFF_TABLE = "SignOff"

# Status code in a quarter cell; the icon set turns 3/2/1 into green/amber/red icons, and
# the number format shows the word (LibreOffice, Gnumeric, a CSV export, a screen reader).
STATUS_CODES: Mapping[Status, int] = {Status.GREEN: 3, Status.AMBER: 2, Status.RED: 1}
STATUS_FORMAT = '[=3]"Green";[=2]"Amber";"Red"'


class Missing(StrEnum):
    """Why a due quarter has no status (issue 17): told apart on the Dashboard."""

    NOT_RECEIVED = "Not received"  # no return gave it, or the cell was left empty: chase
    UNUSABLE = "Could not be used"  # an entry that is not a usable number (see Issues)
    NOT_AVAILABLE = "Not available"  # the lead's own "n/a", with the reason


# The Analysis Function's shorthand for missing data, in the quarter cells.
MISSING_SHORTHAND: Mapping[Missing, str] = {
    Missing.NOT_RECEIVED: "[x]",
    Missing.UNUSABLE: "[u]",
    Missing.NOT_AVAILABLE: "[z]",
}
MISSING_MEANING: Mapping[Missing, str] = {
    Missing.NOT_RECEIVED: "not received (no figure from the lead: chase the lead)",
    Missing.UNUSABLE: "could not be used (the entry is not a usable figure: see Issues)",
    Missing.NOT_AVAILABLE: "not available (the lead's own n/a, with the reason)",
}
TREND_WORDS: Mapping[Direction, str] = {
    Direction.BETTER: "Better",
    Direction.SAME: "Same",
    Direction.WORSE: "Worse",
}

DEFAULT_ICON_STYLE = "3_signs"
# Three-icon styles whose icons differ in shape, so they survive black-and-white printing
# (3_signs: circle, triangle, diamond, also apart in grey in LibreOffice's PDF).
SHAPE_DISTINCT_ICON_STYLES = (
    "3_signs",
    "3_symbols_circled",
    "3_symbols",
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

MAX_CELL_CHARS = 32_767  # Excel's limit for the text of a cell or a note
TRUNCATION_MARKER = " … [truncated]"
QUOTED = "+quoted"  # the suffix of a style's name with the quote prefix
_MAX_ROW_HEIGHT = 409.0  # points; Excel's largest row height
_MAX_FOOTER_CHARS = 250  # Excel refuses header/footer text over 255 characters
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

_FONT = "Arial"
_FONT_SIZE = 12  # the smallest text on screen (issue 17)
_LINE_HEIGHT = 15.0  # points a wrapped line of 12 pt text takes
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
    """Lines `text` takes when wrapped in a column `width` characters wide (Arial 12)."""
    per_line = max(1, int(width * 1.1) - 2)
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
    characters, one space apart, are counted here greedily, as textwrap fills its lines,
    when no hyphen is followed by a word character (textwrap breaks a word only there:
    "well-known", "a--b"; "->" or "5 -" stay whole); so is one longer word without
    hyphens (a file name, an ID in a narrow column), which textwrap cuts every `per_line`
    characters. Any other text goes to textwrap.
    """
    if _PLAIN_WORDS.fullmatch(part) and not _WORD_BREAK.search(part):
        if " " not in part:
            if "-" not in part:
                return -(-len(part) // per_line)
        else:
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


_PLAIN_WORDS = re.compile(r"\S+(?: \S+)*")
_WORD_BREAK = re.compile(r"-\w")  # where textwrap may break a word (break_on_hyphens)


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
            self.props[name] = {"font_name": _FONT, "font_size": _FONT_SIZE, **props}
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
    missing: Missing | None = None
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


# Problems that leave a quarter's entry unusable: its cell is named in the Report.
_UNUSABLE_CODES = frozenset(
    {Code.VALUE_NOT_A_NUMBER, Code.VALUE_IS_A_DATE, Code.CELL_ERROR, Code.FORMULA_WITHOUT_VALUE}
)
_QUARTER_FIRST = re.compile(r"(Q[1-4])\b")


class Unusable(NamedTuple):
    """An entry that could not be used: where it is (`file!sheet!cell`) and what it held."""

    source: str
    value: str


def unusable_entries(report: Report) -> dict[tuple[str, str], Unusable]:
    """(measure ID, quarter) -> the unusable entry, from the Report's problems that name a
    measure and begin with the quarter ("Q3 must be a number (got 'about 700')")."""
    found: dict[tuple[str, str], Unusable] = {}
    for issue in report.issues:
        if issue.code not in _UNUSABLE_CODES or not issue.measure_id:
            continue
        quarter = _QUARTER_FIRST.match(issue.message)
        if quarter is None:
            continue
        source = "!".join(p for p in (Path(issue.file).name, issue.sheet, issue.cell) if p)
        found[issue.measure_id, quarter.group(1)] = Unusable(source, issue.value)
    return found


def _with_unusable_sources(
    columns: dict[str, list[Any]], unusable: Mapping[tuple[str, str], Unusable]
) -> dict[str, list[Any]]:
    """The columns with the Source of each unusable entry's row (which the merge leaves
    empty, as no value came from it) naming its cell."""
    if not unusable:
        return columns
    ids, quarters = columns[C.MEASURE_ID], columns[C.QUARTER]
    source = list(columns[C.SOURCE])
    for i, key in enumerate(zip(map(str, ids), map(str, quarters), strict=True)):
        found = unusable.get(key)
        if found is not None and (C.is_missing(source[i]) or not source[i]):
            source[i] = found.source
    return {**columns, C.SOURCE: source}


def _cells(
    columns: Mapping[str, list[Any]],
    texts: _Texts,
    unusable: Mapping[tuple[str, str], Unusable] | None = None,
) -> dict[tuple[str, str], _Cell]:
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
        [None] * len(dues),  # missing: set below for the No-data cells
        _per_value(columns[C.UNSIGNED], _flag),
        _per_value(texts[C.ACTION], str.strip),
        _per_value(columns[C.FORECAST_STATUS], lambda v: _enum_or_none(Status, v)),
        texts[C.FORECAST_EXPLANATION],
        _per_value(columns[C.LAST_YEAR_STATUS], lambda v: _enum_or_none(Status, v)),
        strict=True,
    )
    # _make is tuple.__new__: the 25,000 cells of a national dashboard without a Python
    # call each; a measure and quarter given twice keeps its last row, as before.
    made = dict(zip(keys, map(_Cell._make, fields), strict=True))
    return _with_missing(made, columns, texts, statuses, unusable or {})


def _with_missing(
    made: dict[tuple[str, str], _Cell],
    columns: Mapping[str, list[Any]],
    texts: _Texts,
    statuses: Sequence[Status | None],
    unusable: Mapping[tuple[str, str], Unusable],
) -> dict[tuple[str, str], _Cell]:
    """The No-data cells told apart: the lead's reason, an entry that is not a usable
    number (or a value the rule cannot judge), or nothing received."""
    rows = [i for i, status in enumerate(statuses) if status is Status.NO_DATA]
    if not rows:
        return made
    ids, quarters = texts[C.MEASURE_ID], texts[C.QUARTER]
    reasons, raws, values = texts[C.REASON], texts[C.RAW], columns[C.VALUE]
    for i in rows:
        key = (ids[i], quarters[i])
        if made.get(key) is None or made[key].status is not Status.NO_DATA:
            continue
        entry = unusable.get(key)
        if reasons[i].strip():
            kind = Missing.NOT_AVAILABLE
        elif entry is not None or raws[i].strip() or _number(values[i]) is not None:
            kind = Missing.UNUSABLE
        else:
            kind = Missing.NOT_RECEIVED
        made[key] = made[key]._replace(missing=kind)
        if entry is not None and kind is Missing.UNUSABLE:
            said = f"{entry.source} holds {entry.value!r}" if entry.value else entry.source
            base = made[key].explanation.removesuffix(": no value given")
            text = f"{base}: the entry could not be used: {said} (see Issues)"
            made[key] = made[key]._replace(explanation=clean_text(text.lstrip(": ")))
    return made


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
    return finish_book(start_book(frame, register, report, inputs, options, print_only=print_only))


class Draft(NamedTuple):
    """A book begun by `start_book`: what every sheet draws on, and the Data sheet's rows.

    The Data rows (`data_block`, with the `styles` named so far, its own) come first, so
    that a writer can begin on them while `finish_book` makes the rest.
    """

    data_block: Block
    register: Register
    report: Report
    inputs: Sequence[InputFile]
    options: DashboardOptions
    print_only: bool
    icon_style: str
    texts: _Texts
    cells: dict[tuple[str, str], _Cell]
    named: _Styles

    @property
    def styles(self) -> dict[str, Mapping[str, Any]]:
        """The styles named so far: before `finish_book`, the Data rows' own."""
        return dict(self.named.props)


def start_book(
    frame: Frame,
    register: Register,
    report: Report,
    inputs: Sequence[InputFile] = (),
    options: DashboardOptions = DashboardOptions(),
    *,
    print_only: bool = False,
) -> Draft:
    """The first part of `build_book` (same arguments): the cells and the Data rows.

    Raises:
        TemplateError: the icon style is not a three-icon style.
    """
    icon_style = icon_style_of(register, options)  # refused before any work
    unusable = unusable_entries(report)
    columns = _with_unusable_sources(frame_columns(frame), unusable)
    texts = _Texts(columns)
    cells = _cells(columns, texts, unusable)
    styles = _Styles()
    # The Data block's styles first: the fast writer gives its formats their indices first.
    data_block = _data_block(styles, columns, texts, register)
    return Draft(
        data_block=data_block,
        register=register,
        report=report,
        inputs=inputs,
        options=options,
        print_only=print_only,
        icon_style=icon_style,
        texts=texts,
        cells=cells,
        named=styles,
    )


def finish_book(draft: Draft) -> Book:
    """The Book that `draft` begins: every sheet, its styles and its properties."""
    register, cells, options, print_only = (
        draft.register,
        draft.cells,
        draft.options,
        draft.print_only,
    )
    settings, styles, icon_style = register.settings, draft.named, draft.icon_style
    show_direction = (
        settings.show_direction if options.show_direction is None else options.show_direction
    )
    labels = dict(zip(QUARTERS, options.quarter_labels, strict=True))
    counted = _summary_counts(register, cells)
    summary_block = _summary_block(styles, register, counted, labels)
    quarter = reporting_quarter(register, cells)
    data_rows = _data_rows(draft.texts, register)
    values = list(cells.values())
    layout = _layout(
        show_direction,
        options,
        year_end=any(c.forecast is not None for c in values),
        last_year=any(c.last_year is not None for c in values),
        sparklines=bool(data_rows),
        reporting=quarter,
    )
    signoff = settings.signoff_required
    sheets = (
        _contents_sheet(styles, register, layout, icon_style, print_only, signoff),
        _dashboard_sheet(
            styles, register, cells, icon_style, layout, print_only, quarter, data_rows
        ),
        _exceptions_sheet(styles, register, cells, quarter, labels[quarter]),
        _summary_sheet(styles, register, counted, summary_block, labels),
        _data_sheet(styles, register, draft.data_block, print_only),
        _issues_sheet(styles, register, draft.report, print_only),
        _about_sheet(styles, register, draft.inputs, options, print_only),
    )
    return Book(styles=dict(styles.props), sheets=sheets, properties=_properties(settings, options))


def _properties(settings: Settings, options: DashboardOptions) -> dict[str, Any]:
    """The workbook's document properties: title, subject, author, comments, created."""
    created = options.created or _parse_date(options.made_on) or _parse_date(settings.meeting_date)
    return {
        "title": clean_text(" ".join(p for p in (settings.title, settings.year) if p)),
        "subject": clean_text(
            " ".join(p for p in (settings.partnership, "performance dashboard") if p)
        ),
        "author": "rag_workbook",
        "comments": f"Made by rag_workbook {__version__}",
        "created": created or _DEFAULT_CREATED,
    }


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
            found.setdefault(ids[index], _DATA_HEADER_ROW + 1 + index)
    return found


# --------------------------------------------------------------------------- Dashboard sheet

# Rows 0-2: title (A1), partnership and meeting, how to read the table; the table's header
# row is _HEADER_ROW, one row per measure below it (an Excel Table, no merged cells).
_HEADER_ROW = 3
_ONE_PAGE_MEASURES = 30  # up to this many, the Dashboard and its key print on one page
_NOTE_OPTIONS: Mapping[str, Any] = {"author": "rag_workbook", "x_scale": 2.4, "y_scale": 1.2}
_QUARTER_KEYS = ("q1", "q2", "q3", "q4")
# Every Dashboard column, in order: (key, header, width in characters). The table, the key
# and the print area follow this list; a column is added here (and filled in _measure_row).
_DASHBOARD_COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("theme", "Theme", 17),
    ("no", "No", 6.5),
    ("measure", "Performance Measure", 46),
    *((key, "", 8.5) for key in _QUARTER_KEYS),  # headers from DashboardOptions
    ("year_end", "Year end", 10),  # when there is a forecast (issue 18)
    ("last_year", "last year", 13),  # when given; header: the reporting quarter's
    ("trend", "Trend", 9.5),
    ("comments", "Comments", 62),
    ("spark", "This year", 8),  # values by quarter as a sparkline (issue 18)
    ("spark_last_year", "Last year", 8),  # when last year is given
)
_BAND_KINDS: Mapping[str, Mapping[str, Any]] = {
    "id": {"align": "center"},
    "text": {"text_wrap": True, "indent": 1},
    "quarter": {"align": "center", "font_size": 16, "num_format": STATUS_FORMAT},
    "boxed": {
        "align": "center", "font_size": 16, "num_format": STATUS_FORMAT, "border": 5,
        "border_color": "#000000",
    },
    # A value whose return is not signed off: a dashed box (the key explains it).
    "unsigned": {
        "align": "center", "font_size": 16, "num_format": STATUS_FORMAT, "border": 3,
        "border_color": "#000000",
    },
    "unsigned-mark": {"align": "center", "bold": True, "border": 3, "border_color": "#000000"},
    "mark": {"align": "center", "bold": True},
    "trend": {"align": "center"},
    "spark": {},
}  # fmt: skip


@dataclass(frozen=True)
class _Layout:
    """Where the Dashboard sheet's columns go: `columns` are (key, header, width)."""

    columns: tuple[tuple[str, str, float], ...]

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        """Each key's column, the first one a key has (one lookup per cell, not a search)."""
        index: dict[str, int] = {}
        for i, (key, _, _) in enumerate(self.columns):
            index.setdefault(key, i)
        return index

    @functools.cached_property
    def widths(self) -> dict[str, float]:
        """Each key's width (the last one a key has)."""
        return {key: width for key, _, width in self.columns}

    def col(self, key: str) -> int | None:
        return self._index.get(key)

    @functools.cached_property
    def q_first(self) -> int:
        return self._index["q1"]

    @property
    def trend_col(self) -> int | None:
        return self.col("trend")

    @property
    def comments_col(self) -> int:
        found = self.col("comments")
        assert found is not None  # every layout has Comments
        return found

    @property
    def last_col(self) -> int:
        return len(self.columns) - 1

    @property
    def last_icon_col(self) -> int:
        """The last column of statuses (icons): Q4, Year end or last year's."""
        return max(c for c in (self.q_first + 3, self.col("year_end"), self.col("last_year")) if c)


def _layout(
    show_direction: bool,
    options: DashboardOptions,
    *,
    year_end: bool = False,
    last_year: bool = False,
    sparklines: bool = False,
    reporting: str = "",
) -> _Layout:
    """The Dashboard's columns: Q1..Q4, then Year end (when there is a forecast), the
    reporting quarter's status last year (when given), Trend (when shown), Comments, and
    last the values as a sparkline this year and last year (when given)."""
    labels: dict[str, str] = dict(zip(_QUARTER_KEYS, options.quarter_labels, strict=True))
    labels["last_year"] = f"{reporting} last year"
    shown = {
        "trend": show_direction,
        "year_end": year_end,
        "last_year": last_year,
        "spark": sparklines,
        "spark_last_year": sparklines and last_year,
    }
    columns = [
        (key, labels.get(key, header), width)
        for key, header, width in _DASHBOARD_COLUMNS
        if shown.get(key, True)
    ]
    # Comments gives the sparklines their width, so that the page's scale (and its text
    # size when printed) stays as it was without them.
    spark = sum(w for k, _, w in columns if k.startswith("spark"))
    return _Layout(tuple((k, h, w - spark if k == "comments" else w) for k, h, w in columns))


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
    if cell.missing is not None:
        text = f"{MISSING_SHORTHAND[cell.missing]} {MISSING_MEANING[cell.missing]}. {text}"
    if cell.is_override and "override" not in text.lower():
        text = f"{text} (status set by the lead: override)"
    if cell.unsigned:
        text = f"{text} (the return is not signed off)"
    return clean_text(text)


def status_word(cell: _Cell) -> str:
    """A status in words: "Green", or for no data its kind ("No data: not received [x]")."""
    if cell.missing is not None:
        return f"No data: {cell.missing.value.lower()} {MISSING_SHORTHAND[cell.missing]}"
    return str(cell.status)


def _footer(register: Register) -> str:
    """Every printed page's footer: the meeting and year, the page, the partnership."""
    settings = register.settings
    meeting = " ".join(p for p in (settings.meeting, settings.meeting_date) if p)
    return (
        "&L&10"
        + _footer_text(meeting)
        + "&C&10Page &P of &N"
        + "&R&10"
        + _footer_text(" ".join(p for p in (settings.title, settings.year) if p))
    )


def _sheet_title(
    styles: _Styles, register: Register, title: str, lines: Sequence[str]
) -> list[Row]:
    """A1: the sheet's title; the lines below it in the subtitle style."""
    heading = styles("heading", bold=True, font_size=16, font_color=_NAVY)
    subtitle = styles("subtitle")
    rows = [Row(0, ((0, clean_text(title), heading),), 24)]
    rows += [Row(r, (styles.text(0, clean_text(t), subtitle),)) for r, t in enumerate(lines, 1)]
    return rows


def _meeting_line(register: Register) -> str:
    settings = register.settings
    agenda = f"agenda item {settings.agenda_item}" if settings.agenda_item else ""
    parts = (settings.partnership, settings.meeting, settings.meeting_date, agenda)
    return ", ".join(dict.fromkeys(p for p in parts if p))


def _dashboard_sheet(
    styles: _Styles,
    register: Register,
    cells: Mapping[tuple[str, str], _Cell],
    icon_style: str,
    layout: _Layout,
    active: bool,
    reporting: str = "",
    data_rows: Mapping[str, int] | None = None,
) -> Sheet:
    settings = register.settings
    last_col = layout.last_col
    title = " ".join(p for p in (settings.title, settings.year) if p) or "Dashboard"
    content: list[Content] = list(
        _sheet_title(
            styles,
            register,
            title,
            (
                _meeting_line(register),
                "One row per measure. Each quarter shows its status (an icon in Excel, the "
                "word elsewhere); the key is below the table and on Contents. No filters or "
                "frozen panes.",
            ),
        )
    )
    rows = _measure_rows(styles, register, cells, layout, reporting)
    first_data_row = _HEADER_ROW + 1
    last_data_row = max(first_data_row + len(rows) - 1, first_data_row)
    head = _table_head(styles)
    headers = tuple(clean_text(label) for _, label, _ in layout.columns)
    content.append(
        Table(
            _HEADER_ROW,
            0,
            last_data_row,
            last_col,
            DASHBOARD_TABLE,
            headers,
            head,
            autofilter=False,
        )
    )
    content += rows
    rule = _status_icons(
        first_data_row, layout.q_first, last_data_row, layout.last_icon_col, icon_style
    )
    legend, legend_rules, last_row = _legend(
        styles, last_data_row + 2, layout, rule, settings.signoff_required
    )
    content += legend
    return Sheet(
        name=DASHBOARD_SHEET,
        content=tuple(content),
        columns=tuple(Column(c, c, w) for c, (_, _, w) in enumerate(layout.columns)),
        note_options=_NOTE_OPTIONS,
        icon_sets=(rule, *legend_rules),
        sparklines=_sparklines(register, layout, data_rows or {}),
        print_setup=PrintSetup(
            # A partnership's dashboard on one page; a larger one one page wide.
            fit_to=(1, 1) if len(rows) <= _ONE_PAGE_MEASURES else (1, 0),
            repeat_rows=_HEADER_ROW,
            area=(0, 0, last_row, last_col),
            margins={"left": 0.4, "right": 0.4, "top": 0.5, "bottom": 0.7},
            center_horizontally=True,
            footer=_footer(register),
        ),
        hide_gridlines=True,
        active=active,  # the PDF's copy hides Contents, which a hidden sheet cannot be
    )


def _sparklines(
    register: Register, layout: _Layout, data_rows: Mapping[str, int]
) -> tuple[Sparklines, ...]:
    """Each measure's values across the quarters (Data's Value rows), and last year's
    (Data's Last Year Value rows) when given: a group each."""
    spark, spark_last_year = layout.col("spark"), layout.col("spark_last_year")
    if spark is None:
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
            tuple((row, spark) for row, _ in rows),
            DATA_SHEET,
            tuple((first, value_col, first + 3, value_col) for _, first in rows),
        )
    ]
    if spark_last_year is not None and last_col >= 0:
        groups.append(
            Sparklines(
                tuple((row, spark_last_year) for row, _ in rows),
                DATA_SHEET,
                tuple((first, last_col, first + 3, last_col) for _, first in rows),
                color="#7F7F7F",
            )
        )
    return tuple(group for group in groups if group.cells)


def _status_icons(
    first_row: int, first_col: int, last_row: int, last_col: int, icon_style: str
) -> IconSet:
    return IconSet(
        first_row, first_col, last_row, last_col, icon_style,
        STATUS_CODES[Status.GREEN], STATUS_CODES[Status.AMBER],
    )  # fmt: skip


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
) -> list[Row]:
    """One row per measure, each naming its theme; themes in alternate bands."""
    row = _HEADER_ROW + 1
    by_theme: dict[str, list[Measure]] = {}
    for measure in register.measures:
        by_theme.setdefault(measure.theme, []).append(measure)
    theme_style = styles(
        "theme", border=1, border_color=_GRID, valign="vcenter", bg_color=_THEME_FILL,
        bold=True, text_wrap=True, align="left", indent=1,
    )  # fmt: skip
    bands = [{kind: _band_style(styles, band, kind) for kind in _BAND_KINDS} for band in (0, 1)]
    rows: list[Row] = []
    for band, (theme, measures) in enumerate(by_theme.items()):
        theme_cell = styles.text(0, clean_text(theme), theme_style)
        for measure in measures:
            rows.append(
                _measure_row(
                    styles, measure, cells, layout, row, bands[band % 2], theme_cell, reporting
                )
            )
            row += 1
    return rows


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
            boxed = style["unsigned-mark" if cell.missing is not None else "unsigned"]
        if cell.missing is not None:
            row_cells.append((col, MISSING_SHORTHAND[cell.missing], boxed or style["mark"]))
        else:
            row_cells.append((col, STATUS_CODES[cell.status], boxed or style["quarter"]))
        notes.append((col, _note(cell, quarter)))
    now = cells.get((mid, reporting)) if reporting else None
    year_end = layout.col("year_end")
    if year_end is not None:
        if now is None or now.forecast is None:
            row_cells.append((year_end, None, style["quarter"]))
        else:
            row_cells.append(_status_cell(year_end, now.forecast, style))
            told = now.forecast_explanation or f"Year end: {now.forecast}"
            notes.append((year_end, clean_text(told)))
    last_year = layout.col("last_year")
    if last_year is not None:
        last = now.last_year if now is not None else None
        if last is None:
            row_cells.append((last_year, None, style["quarter"]))
        else:
            row_cells.append(_status_cell(last_year, last, style))
            notes.append((last_year, f"{reporting} last year: {last}"))
    if layout.trend_col is not None:
        direction = _latest_direction(quarter_cells)
        word = TREND_WORDS[direction] if direction is not None else ""
        row_cells.append((layout.trend_col, word or None, style["trend"]))
    comment = _latest_comment(quarter_cells)
    row_cells.append(styles.text(layout.comments_col, comment, style["text"]))
    for key in ("spark", "spark_last_year"):
        spark = layout.col(key)
        if spark is not None:
            row_cells.append((spark, None, style["spark"]))
    widths = layout.widths
    lines = max(_lines(measure.text, widths["measure"]), _lines(comment, widths["comments"]), 1)
    height = min(_MAX_ROW_HEIGHT, max(21.0, _LINE_HEIGHT * lines + 4))
    return Row(row, tuple(row_cells), height, tuple(notes))


def _status_cell(col: int, status: Status, style: Mapping[str, str]) -> Cell:
    """A status as a quarter cell shows it: the code (icon, word by number format), or the
    words "No data" (last year's or a forecast's, whose kind is not told)."""
    if status is Status.NO_DATA:
        return (col, str(Status.NO_DATA), style["mark"])
    return (col, STATUS_CODES[status], style["quarter"])


def _key_entries(
    show_direction: bool, signoff: bool = False, layout: _Layout | None = None
) -> list[tuple[Value, str, str]]:
    """The key: (mark, its kind of style, what it means)."""
    entries: list[tuple[Value, str, str]] = [
        (STATUS_CODES[Status.GREEN], "icon", "Green (circle): on target or better"),
        (
            STATUS_CODES[Status.AMBER],
            "icon",
            "Amber (triangle): worse than target, within the tolerance",
        ),
        (
            STATUS_CODES[Status.RED],
            "icon",
            "Red (diamond): worse than target, beyond the tolerance",
        ),
    ]
    entries += [
        (MISSING_SHORTHAND[kind], "mark", f"No data: {MISSING_MEANING[kind]}") for kind in Missing
    ]
    entries += [
        (None, "mark", "Blank: the quarter is not yet due"),
        (STATUS_CODES[Status.GREEN], "boxed", "Heavy box: status set by the theme lead (override)"),
    ]
    if show_direction:
        entries.append(
            ("Better", "mark", "Trend: the latest quarter's result against its target, compared "
             "with the quarter before's: Better, Same or Worse (not whether the number rose)"),
        )  # fmt: skip
    if signoff:
        entries.append(
            (
                STATUS_CODES[Status.GREEN],
                "dashed",
                "Dashed box: the lead's return is not signed off",
            )
        )
    if layout is not None and layout.col("year_end") is not None:
        entries.append(
            (None, "column", "Year end: the forecast status at year end (how, in the cell note)")
        )
    if layout is not None and layout.col("last_year") is not None:
        entries.append((None, "column", "Last year: the same quarter's status a year before"))
    if layout is not None and layout.col("spark") is not None:
        entries.append((None, "column", "This year / Last year: the values by quarter, as a line"))
    return entries


def _key_styles(styles: _Styles) -> dict[str, str]:
    common = {"border": 1, "border_color": _GRID, "align": "center", "valign": "vcenter"}
    return {
        "icon": styles("key-icon", **common, font_size=16, num_format=STATUS_FORMAT),
        "boxed": styles(
            "key-boxed", **{**common, "border": 5, "border_color": "#000000"}, font_size=16,
            num_format=STATUS_FORMAT,
        ),
        "dashed": styles(
            "key-dashed", **{**common, "border": 3, "border_color": "#000000"}, font_size=16,
            num_format=STATUS_FORMAT,
        ),
        "mark": styles("key-mark", **common, bold=True),
        "column": styles("key-column", valign="vcenter"),  # a column's meaning: no mark
    }  # fmt: skip


def _legend(
    styles: _Styles, first: int, layout: _Layout, rule: IconSet, signoff: bool = False
) -> tuple[list[Row], list[IconSet], int]:
    """The key below the table, in two groups so that it prints on the table's page: the
    statuses and kinds of missing data (marks in column B, words beside them), then the
    other marks (in the column before Comments, words in Comments).

    Returns the rows, the icon sets over its icons and its last row.
    """
    key = styles("key", bold=True, valign="vcenter")
    words = styles("key-words", valign="vcenter", indent=1)
    wrapped = styles("key-words-wrapped", valign="vcenter", indent=1, text_wrap=True)
    marks = _key_styles(styles)
    entries = _key_entries(layout.trend_col is not None, signoff, layout)
    left = [e for e in entries if e[1] == "icon" or e[0] is None]
    right = [e for e in entries if e not in left]
    rows: list[Row] = []
    side_col = layout.comments_col - 1
    key_width = layout.columns[layout.comments_col][2]  # where the second group's words go
    for i in range(max(len(left), len(right))):
        cells: list[Cell] = [(0, "Key", key)] if i == 0 else []
        height = 20.0
        if i < len(left):
            mark, kind, text = left[i]
            cells += [(1, mark, marks[kind]), (2, text, words)]
        if i < len(right):
            mark, kind, text = right[i]
            cells += [(side_col, mark, marks[kind]), (side_col + 1, text, wrapped)]
            height = max(height, _LINE_HEIGHT * _lines(text, key_width) + 2)
        rows.append(Row(first + i, tuple(cells), height))
    last = first + max(len(left), len(right)) - 1
    note = (
        "Each status's explanation is in its cell note and, for Red, Amber and No data, on "
        "the Exceptions sheet. Contents explains every mark."
    )
    rows.append(Row(last + 1, ((0, note, words),)))
    rules = [_status_icons(first, 1, first + 2, 1, rule.icon_style)]
    boxed = first + next(i for i, e in enumerate(right) if e[1] == "boxed")
    rules.append(_status_icons(boxed, side_col, boxed, side_col, rule.icon_style))
    if signoff:
        dashed = first + next(i for i, e in enumerate(right) if e[1] == "dashed")
        rules.append(_status_icons(dashed, side_col, dashed, side_col, rule.icon_style))
    return rows, rules, last + 1


# --------------------------------------------------------------------------- Contents sheet

_SHEET_PURPOSES: tuple[tuple[str, str], ...] = (
    (CONTENTS_SHEET, "This page: the sheets, what the marks mean, the source and contact."),
    (DASHBOARD_SHEET, "Each measure's status by quarter (with the year-end forecast and last "
     "year's when given), its trend and the lead's latest comment."),
    (EXCEPTIONS_SHEET, "The reporting quarter's Red, Amber, No-data and overridden measures, "
     "and those Red or No data two quarters running, a band worse or forecast Red, with the "
     "explanation, comment, action and lead."),
    (SUMMARY_SHEET, "Statuses counted by quarter (with a chart) and by theme."),
    (DATA_SHEET, "Every measure and quarter: value, target, status, explanation and source cell."),
    (ISSUES_SHEET, "Problems found in the returns, and the measures to chase."),
    (ABOUT_SHEET, "The tool, template and input files (with their SHA-256) behind this "
     "workbook, and who signed off each return."),
)  # fmt: skip


def _contents_sheet(
    styles: _Styles,
    register: Register,
    layout: _Layout,
    icon_style: str,
    hidden: bool,
    signoff: bool = False,
) -> Sheet:
    settings = register.settings
    title = " ".join(p for p in (settings.title, settings.year) if p)
    content: list[Content] = list(
        _sheet_title(styles, register, "Contents", (f"{title}: {_meeting_line(register)}",))
    )
    sub = styles("subheading", bold=True, font_size=14)
    cell = styles("table-cell", valign="top", text_wrap=True)
    link = styles("link", valign="top", font_color="#0563C1", underline=1)
    head = _table_head(styles)
    top = 3
    content.append(Row(top, ((0, "Sheets (each name links to its sheet)", sub),)))
    rows = [(name, text) for name, text in _SHEET_PURPOSES]
    content.append(
        Table(
            top + 1,
            0,
            top + len(rows) + 1 - 1 + 1,
            1,
            SHEETS_TABLE,
            ("Sheet", "What it holds"),
            head,
            autofilter=False,
        )
    )
    content += [Row(r, ((1, text, cell),)) for r, (_, text) in enumerate(rows, start=top + 2)]
    links = tuple(Link(r, 0, name, name, link) for r, (name, _) in enumerate(rows, start=top + 2))
    top += len(rows) + 3
    content.append(Row(top, ((0, "What the marks mean", sub),)))
    marks = _key_styles(styles)
    entries = _key_entries(layout.trend_col is not None, signoff, layout)
    content.append(
        Table(
            top + 1,
            0,
            top + 1 + len(entries),
            1,
            MARKS_TABLE,
            ("Mark", "Meaning"),
            head,
            autofilter=False,
        )
    )
    content += [
        Row(r, ((0, mark, marks[kind]), (1, text, cell)), 24)
        for r, (mark, kind, text) in enumerate(entries, start=top + 2)
    ]
    first_icon = top + 2
    boxed_row = first_icon + next(i for i, e in enumerate(entries) if e[1] == "boxed")
    icon_sets = (
        _status_icons(first_icon, 0, first_icon + 2, 0, icon_style),
        _status_icons(boxed_row, 0, boxed_row, 0, icon_style),
        *(
            _status_icons(first_icon + i, 0, first_icon + i, 0, icon_style)
            for i, e in enumerate(entries)
            if e[1] == "dashed"
        ),
    )
    content += _contents_notes(styles, register.settings, top + len(entries) + 3)
    return Sheet(
        name=CONTENTS_SHEET,
        content=tuple(content),
        columns=(Column(0, 0, 22), Column(1, 1, 100, None)),
        icon_sets=icon_sets,
        links=links,
        print_setup=PrintSetup(fit_to=(1, 0), footer=_footer(register)),
        hide_gridlines=True,
        hidden=hidden,
        active=not hidden,
    )


def _contents_notes(styles: _Styles, settings: Settings, top: int) -> list[Content]:
    """The Contents sheet's closing notes from row `top`: how statuses and missing data
    read, where the filters and frozen panes are, the source and the contact."""
    sub = styles("subheading", bold=True, font_size=14)
    notes = (
        "In Excel a status shows as an icon alone; LibreOffice, Gnumeric, a screen reader and "
        "a CSV export give its word (Green, Amber, Red).",
        "Missing data follows the Analysis Function's shorthand: [x] not received, "
        "[u] could not be used, [z] not available.",
        "The Data and Issues tables have filter buttons on their header rows; Data keeps its "
        "header row and first three columns in view (frozen panes). No other sheet has filters "
        "or frozen panes.",
        "Source: the theme leads' quarterly returns, merged by rag_workbook (see About).",
        "Contact: "
        + (
            settings.extra.get("Contact", "")
            or f"the {settings.partnership or 'partnership'} performance team"
        ),
    )
    content: list[Content] = [Row(top, ((0, "Notes", sub),))]
    content += [
        Row(r, (styles.text(0, clean_text(t), styles("subtitle")),))
        for r, t in enumerate(notes, start=top + 1)
    ]
    return content


# --------------------------------------------------------------------------- Exceptions sheet


class ExceptionReason(StrEnum):
    """Why a measure is on the Exceptions sheet by its status in the reporting quarter;
    `exception_reasons` gives the reasons over the quarters (issue 18)."""

    RED = "Red"
    AMBER = "Amber"
    NO_DATA = "No data"
    OVERRIDE = "Status set by override"


EXCEPTION_HEADERS = (
    "Theme", "No", "Performance Measure", "Status", "Listed for", "Explanation", "Comment",
    "Action", "Lead",
)  # fmt: skip
_EXCEPTION_WIDTHS = (13, 6.5, 28, 14, 22, 36, 30, 26, 13)  # about the Dashboard's width
_STATUS_REASONS: Mapping[Status, ExceptionReason] = {
    Status.RED: ExceptionReason.RED,
    Status.AMBER: ExceptionReason.AMBER,
    Status.NO_DATA: ExceptionReason.NO_DATA,
}


def reporting_quarter(register: Register, cells: Mapping[tuple[str, str], _Cell]) -> str:
    """The Settings' current quarter, else the latest quarter with a status."""
    if register.settings.current_quarter in QUARTERS:
        return register.settings.current_quarter
    rated = {q for (_, q), cell in cells.items() if cell.status is not None}
    return next((q for q in reversed(QUARTERS) if q in rated), QUARTERS[0])


_RANK: Mapping[Status, int] = {Status.GREEN: 0, Status.AMBER: 1, Status.RED: 2}


def exception_reasons(quarters: Sequence[_Cell | None], reporting: str) -> list[str]:
    """Why a measure needs action in the `reporting` quarter over the quarters (issue 18;
    none: no such reason); `quarters` are Q1..Q4's cells.

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


def exception_entries(
    register: Register, cells: Mapping[tuple[str, str], _Cell], quarter: str
) -> list[tuple[ExceptionReason | None, list[str], Measure]]:
    """The Exceptions sheet's rows, in dashboard order: (the reason by the quarter's status,
    None when listed only for a reason over the quarters; those reasons; the measure)."""
    entries: list[tuple[ExceptionReason | None, list[str], Measure]] = []
    for measure in register.measures:
        quarters = [cells.get((measure.measure_id, q)) for q in QUARTERS]
        cell = cells.get((measure.measure_id, quarter))
        if cell is None or cell.status is None:
            continue
        reason = _STATUS_REASONS.get(cell.status)
        if reason is None and cell.is_override:
            reason = ExceptionReason.OVERRIDE
        more = exception_reasons(quarters, quarter)
        if reason is not None or more:
            entries.append((reason, more, measure))
    return entries


def _listed_for(reason: ExceptionReason | None, more: Sequence[str]) -> str:
    text = "; ".join([*([str(reason)] if reason is not None else []), *more])
    return text[:1].upper() + text[1:]


def _exception_block(
    styles: _Styles,
    cells: Mapping[tuple[str, str], _Cell],
    entries: Sequence[tuple[ExceptionReason | None, list[str], Measure]],
    quarter: str,
    first: int,
) -> Block:
    """The Exceptions table's rows from row `first`, each as tall as its longest text.

    A Block (thousands of rows at national scale): themes, statuses, reasons, actions and
    leads repeat, and are shared; IDs, measures, explanations and comments are written
    in place.
    """
    cell_style = styles("table-cell", valign="top", text_wrap=True)
    values: list[list[str | None]] = [[] for _ in _EXCEPTION_WIDTHS]
    heights: list[float | None] = []
    # Each column's text and lines by its value, worked out once a value.
    made: list[dict[object, tuple[str | None, int]]] = [{} for _ in _EXCEPTION_WIDTHS]
    for reason, more, measure in entries:
        cell = cells[measure.measure_id, quarter]
        explanation = cell.explanation
        if cell.forecast is Status.RED and cell.forecast_explanation:
            explanation = f"{explanation}; {cell.forecast_explanation}".lstrip("; ")
        row = (
            measure.theme, measure.measure_id, measure.text, status_word(cell),
            _listed_for(reason, more), explanation, cell.comment,
            cell.action or "(no action given)", measure.lead,
        )  # fmt: skip
        lines = 1
        for c, value in enumerate(row):
            found = made[c].get(value)
            if found is None:
                text = clean_text(value)
                found = made[c][value] = (text or None, _lines(text, _EXCEPTION_WIDTHS[c]))
            values[c].append(found[0])
            lines = max(lines, found[1])
        heights.append(min(_MAX_ROW_HEIGHT, _LINE_HEIGHT * lines + 6))
    quoted = [styles.quoted(cell_style) if _any_formula_like(v) else "" for v in values]
    return Block(
        first_row=first,
        values=tuple(values),
        styles=(cell_style,) * len(values),
        quoted=tuple(quoted),
        shared=(True, False, False, True, True, False, False, True, True),
        heights=tuple(heights),
    )


def _exceptions_sheet(
    styles: _Styles,
    register: Register,
    cells: Mapping[tuple[str, str], _Cell],
    quarter: str,
    label: str,
) -> Sheet:
    entries = exception_entries(register, cells, quarter)
    content: list[Content] = list(
        _sheet_title(
            styles,
            register,
            f"Exceptions: {label}",
            (
                f"Every measure whose {label} status is Red, Amber or No data, or was set by "
                "the lead (override), with its explanation, the lead's comment and action. "
                f"{len(entries)} measure{'' if len(entries) == 1 else 's'}.",
                "Also listed: Red or No data two quarters running, worse by a band than the "
                "quarter before, or forecast Red at year end (see Listed for).",
            ),
        )
    )
    top = 3
    rows = _exception_block(styles, cells, entries, quarter, top + 1)
    if rows.count:
        content.append(
            Table(
                top,
                0,
                top + rows.count,
                len(EXCEPTION_HEADERS) - 1,
                EXCEPTIONS_TABLE,
                EXCEPTION_HEADERS,
                _table_head(styles),
                autofilter=False,
            )
        )
        content.append(rows)
    else:
        content.append(
            Row(top, ((0, f"No measure is Red, Amber or No data in {label}.", styles("subtitle")),))
        )
    last = top + rows.count
    return Sheet(
        name=EXCEPTIONS_SHEET,
        content=tuple(content),
        columns=tuple(Column(c, c, w) for c, w in enumerate(_EXCEPTION_WIDTHS)),
        print_setup=PrintSetup(
            fit_to=(1, 0),
            repeat_rows=top if rows.count else None,
            area=(0, 0, last, len(EXCEPTION_HEADERS) - 1),
            margins={"left": 0.4, "right": 0.4, "top": 0.5, "bottom": 0.7},
            footer=_footer(register),
        ),
        hide_gridlines=True,
    )


# --------------------------------------------------------------------------- Summary sheet

# The Summary sheet: title rows, the chart, the table of all measures by quarter (the
# chart's data) and the table by theme and quarter (a Block: one row per theme and quarter).
_SUMMARY_STATUSES = (Status.GREEN, Status.AMBER, Status.RED, Status.NO_DATA)
_SUMMARY_CHART_ROW = 3
_SUMMARY_CHART_ROWS = 20  # rows the chart covers (at the default height)
_SUMMARY_TOP = _SUMMARY_CHART_ROW + _SUMMARY_CHART_ROWS + 1  # "Statuses by quarter" title
_SUMMARY_HEAD = _SUMMARY_TOP + 1
_SUMMARY_BY_THEME = _SUMMARY_HEAD + len(QUARTERS) + 2  # its title; its header row below
_SUMMARY_THEME_ROW = _SUMMARY_BY_THEME + 2
_SUMMARY_HEADERS = ("Quarter", *(str(s) for s in _SUMMARY_STATUSES), "Not yet due")
_SUMMARY_THEME_HEADERS = ("Theme", *_SUMMARY_HEADERS)
_SUMMARY_WIDTH = len(_SUMMARY_THEME_HEADERS)


def _summary_counts(
    register: Register, cells: Mapping[tuple[str, str], _Cell]
) -> tuple[dict[tuple[str, str, Status], int], dict[tuple[str, str], int]]:
    """Measures by (theme, quarter, status), and those not yet due by (theme, quarter)."""
    counts: dict[tuple[str, str, Status], int] = {}
    not_due: dict[tuple[str, str], int] = {}
    for measure in register.measures:
        for quarter in QUARTERS:
            cell = cells.get((measure.measure_id, quarter))
            if cell is None or cell.status is None:
                key2 = (measure.theme, quarter)
                not_due[key2] = not_due.get(key2, 0) + 1
                continue
            key = (measure.theme, quarter, cell.status)
            counts[key] = counts.get(key, 0) + 1
    return counts, not_due


def _summary_block(
    styles: _Styles,
    register: Register,
    counted: tuple[Mapping[tuple[str, str, Status], int], Mapping[tuple[str, str], int]],
    labels: Mapping[str, str],
) -> Block:
    """The Summary's rows by theme: one per theme and quarter, its counts."""
    counts, not_due = counted
    label = styles("summary-label", border=1, border_color=_GRID)
    number = styles("summary-number", border=1, border_color=_GRID, align="center")
    pairs = [(t, q) for t in register.themes for q in QUARTERS]
    names = [clean_text(t) or None for t, _ in pairs]
    values: list[Sequence[Value]] = [names, [labels[q] for _, q in pairs]]
    for status in _SUMMARY_STATUSES:
        values.append([counts.get((t, q, status), 0) for t, q in pairs])
    values.append([not_due.get((t, q), 0) for t, q in pairs])
    quoted = styles.quoted(label) if any(map(C.looks_like_formula, filter(None, names))) else ""
    return Block(
        first_row=_SUMMARY_THEME_ROW,
        values=tuple(values),
        styles=(label, label, *([number] * (_SUMMARY_WIDTH - 2))),
        quoted=(quoted, "", *([""] * (_SUMMARY_WIDTH - 2))),
        shared=(True, True, *((False,) * (_SUMMARY_WIDTH - 2))),
    )


def _over_themes(counts: Mapping[tuple[str, str, Status], int]) -> dict[tuple[str, Status], int]:
    """Measures by (quarter, status), over the themes: one pass over the counts."""
    totals: dict[tuple[str, Status], int] = {}
    for (_, quarter, status), n in counts.items():
        totals[quarter, status] = totals.get((quarter, status), 0) + n
    return totals


def _summary_sheet(
    styles: _Styles,
    register: Register,
    counted: tuple[Mapping[tuple[str, str, Status], int], Mapping[tuple[str, str], int]],
    block: Block,
    labels: Mapping[str, str],
) -> Sheet:
    settings = register.settings
    counts, not_due = counted
    head = _table_head(styles)
    number, label = block.styles[2], block.styles[0]

    totals = _over_themes(counts)

    def total(quarter: str, status: Status) -> int:
        return totals.get((quarter, status), 0)

    title = " ".join(p for p in (settings.title, settings.year) if p)
    content: list[Content] = list(
        _sheet_title(
            styles,
            register,
            "Summary of statuses",
            (
                f"{title}: {_meeting_line(register)}",
                "The chart counts all measures by status and quarter (its data is the first "
                "table below); the second table counts them by theme.",
            ),
        )
    )
    sub = styles("subheading", bold=True, font_size=14)
    top = _SUMMARY_TOP
    content.append(Row(top, ((0, "Statuses by quarter (all measures)", sub),)))
    content.append(
        Table(
            _SUMMARY_HEAD,
            0,
            _SUMMARY_HEAD + len(QUARTERS),
            len(_SUMMARY_HEADERS) - 1,
            SUMMARY_TABLE,
            _SUMMARY_HEADERS,
            head,
            autofilter=False,
        )
    )
    for i, quarter in enumerate(QUARTERS):
        sums = [(1 + j, total(quarter, s), number) for j, s in enumerate(_SUMMARY_STATUSES)]
        due_not = sum(n for (_, q), n in not_due.items() if q == quarter)
        tail = (1 + len(_SUMMARY_STATUSES), due_not, number)
        content.append(Row(_SUMMARY_HEAD + 1 + i, ((0, labels[quarter], label), *sums, tail)))
    content.append(Row(_SUMMARY_BY_THEME, ((0, "Statuses by theme and quarter", sub),)))
    last_row = _SUMMARY_THEME_ROW + max(block.count, 1) - 1
    content.append(
        Table(
            _SUMMARY_THEME_ROW - 1,
            0,
            last_row,
            _SUMMARY_WIDTH - 1,
            THEMES_TABLE,
            _SUMMARY_THEME_HEADERS,
            head,
            autofilter=False,
        )
    )
    content.append(block)
    return Sheet(
        name=SUMMARY_SHEET,
        content=tuple(content),
        columns=(Column(0, 0, 24), Column(1, 1, 12), Column(2, _SUMMARY_WIDTH - 1, 13)),
        charts=(_summary_chart(_SUMMARY_CHART_ROW, labels),),
        print_setup=PrintSetup(
            landscape=False,
            fit_to=(1, 0),
            area=(0, 0, last_row, _SUMMARY_WIDTH - 1),
            margins={"left": 0.5, "right": 0.5, "top": 0.5, "bottom": 0.7},
            footer=_footer(register),
        ),
        hide_gridlines=True,
    )


# Fills that differ in greyscale as well as in colour (issue 17): Green and Red solid (light
# and dark), Amber and No data patterned; every label on a white box.
_CHART_FILLS: Mapping[Status, Mapping[str, Any]] = {
    Status.GREEN: {"fill": {"color": "#00B050"}},
    Status.AMBER: {
        "pattern": {"pattern": "wide_upward_diagonal", "fg_color": "#C08800", "bg_color": "#FFE699"}
    },
    Status.RED: {"fill": {"color": "#C00000"}},
    Status.NO_DATA: {
        "pattern": {"pattern": "small_grid", "fg_color": "#404040", "bg_color": "#FFFFFF"}
    },
}


def _summary_chart(row: int, labels: Mapping[str, str]) -> Chart:
    """A stacked column chart of the statuses by quarter (all measures), across the page."""
    first = _SUMMARY_HEAD + 1
    series = tuple(
        {
            "name": [SUMMARY_SHEET, _SUMMARY_HEAD, 1 + j],
            "categories": [SUMMARY_SHEET, first, 0, first + 3, 0],
            "values": [SUMMARY_SHEET, first, 1 + j, first + 3, 1 + j],
            **_CHART_FILLS[status],
            "border": {"color": "#000000"},
            "data_labels": {
                "value": True,
                "num_format": "0;-0;;@",  # no label on an empty segment
                "font": {"name": _FONT, "size": 12, "color": "#000000"},
                "fill": {"color": "#FFFFFF"},
                "border": {"color": "#000000"},
            },
            "gap": 60,
        }
        for j, status in enumerate(_SUMMARY_STATUSES)
    )
    quarters = ", ".join(labels[q] for q in QUARTERS)
    return Chart(
        kind={"type": "column", "subtype": "stacked"},
        series=series,
        title={
            "name": "Statuses by quarter (all measures)",
            "name_font": {"name": _FONT, "size": 14},
        },
        y_axis={
            "name": "Measures",
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
            "num_font": {"name": _FONT, "size": 12},
            "name_font": {"name": _FONT, "size": 12},
        },
        x_axis={"num_font": {"name": _FONT, "size": 12}},
        legend={"position": "bottom", "font": {"name": _FONT, "size": 12}},
        size={"width": 740, "height": 400},
        row=row,
        col=0,
        description=(
            "Stacked column chart of the number of measures that are Green, Amber, Red and "
            f"No data in each quarter ({quarters}). The same counts are in the table "
            "'Statuses by quarter' below the chart."
        ),
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
        first_row=_DATA_HEADER_ROW + 1,
        values=tuple(values),
        styles=tuple(kinds),
        quoted=tuple(quoted),
        shared=tuple(column.shared for column in C.DATA_COLUMNS),
        heights=_wrapped_heights(values),
    )


def _wrapped_heights(values: Sequence[Sequence[Value]]) -> tuple[float | None, ...]:
    """Each Data row's height when its wrapped text takes more than one line (LibreOffice
    does not size rows on opening, and printed wrapped text over the next row); () when
    every row is one line."""
    counts: list[list[int]] = []
    for column, cells in zip(C.DATA_COLUMNS, values, strict=True):
        if column.wrap:
            # An estimate, not _lines' word wrap: 25,000 texts of a national collection in
            # milliseconds; a line more than the words need, never fewer.
            per_line = max(1, int(column.width * 1.1) - 2)
            counts.append(
                [t.count("\n") + 1 + len(t) // per_line if t.__class__ is str else 1 for t in cells]
            )
    if not counts:
        return ()
    most = [max(row) for row in zip(*counts, strict=True)]
    if max(most, default=1) <= 1:
        return ()
    return tuple(min(_MAX_ROW_HEIGHT, _LINE_HEIGHT * n + 4) if n > 1 else None for n in most)


def _table_head(styles: _Styles) -> str:
    """Table headers carry their own format: LibreOffice and Gnumeric do not draw table styles."""
    return styles("table-head", bold=True, font_color="#FFFFFF", bg_color=_NAVY, valign="vcenter")


_DATA_HEADER_ROW = 3
_ONE_PAGE_MEASURES = 30  # up to this many, the Dashboard and its key print on one page
# Short enough not to run past the first printed page (a line's tail would print alone).
_FOR_SCREEN = "For screen: printed, it runs at full size across several pages."


def _data_sheet(styles: _Styles, register: Register, block: Block, hidden: bool) -> Sheet:
    wrap = styles("data-wrap")
    columns = tuple(
        Column(c, c, column.width, wrap if column.wrap else None)
        for c, column in enumerate(C.DATA_COLUMNS)
    )
    top = _DATA_HEADER_ROW
    table = Table(
        top,
        0,
        top + max(block.count, 1),
        len(C.DATA_COLUMNS) - 1,
        DATA_TABLE,
        tuple(column.label for column in C.DATA_COLUMNS),
        _table_head(styles),
    )
    title = _sheet_title(
        styles,
        register,
        "Data: every measure and quarter",
        (
            "One row per measure and quarter; filter buttons on the header row; frozen panes.",
            _FOR_SCREEN,
        ),
    )
    return Sheet(
        name=DATA_SHEET,
        content=(*title, block, table),
        columns=columns,
        print_setup=PrintSetup(fit_to=None, repeat_rows=top, footer=_footer(register)),
        freeze=(top + 1, 3),
        hidden=hidden,
    )


# --------------------------------------------------------------------------- Issues sheet


def _table(
    styles: _Styles,
    top: int,
    name: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    widths: Sequence[float] = (),
    autofilter: bool = True,
) -> tuple[list[Content], int]:
    """Rows of text as an Excel Table from `top`: its content and its last row. A row whose
    text wraps in its column `widths` is made tall enough (LibreOffice does not size rows
    on opening a file, so wrapped text would print over the next row)."""
    cell = styles("table-cell", valign="top", text_wrap=True)
    content: list[Content] = []
    for r, values in enumerate(rows, start=top + 1):
        texts = [clean_text(v) for v in values]
        lines = max((_lines(t, w) for t, w in zip(texts, widths, strict=False) if t), default=1)
        height = min(_MAX_ROW_HEIGHT, _LINE_HEIGHT * lines + 4) if lines > 1 else None
        content.append(
            Row(r, tuple(styles.text(col, t, cell) for col, t in enumerate(texts)), height)
        )
    if not rows:  # no empty table: a header bar over nothing prints as a blank form
        content.append(Row(top, ((0, "None.", styles("subtitle")),)))
        return content, top
    last = top + len(rows)
    head = _table_head(styles)
    content.append(
        Table(top, 0, last, len(headers) - 1, name, tuple(headers), head, autofilter=autofilter)
    )
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
    counts = ", ".join(
        f"{report.count(s)} {s.value}{'' if report.count(s) == 1 else 's'}" for s in _SEVERITY_ORDER
    )
    summary = f"{len(issues)} in all: {counts}. Worst first." if issues else "No problems found."
    content: list[Content] = list(
        _sheet_title(
            styles,
            register,
            "Problems found in the inputs",
            (summary + " Filter buttons on the header rows.", _FOR_SCREEN),
        )
    )
    rows = [
        (str(i.severity), i.file, i.sheet, i.cell, i.code, i.message, i.fix, i.measure_id, i.value)
        for i in issues
    ]
    widths = (10, 28, 28, 14, 30, 60, 45, 11, 20)
    table, last = _table(styles, 4, ISSUES_TABLE, ISSUE_HEADERS, rows, widths=widths)
    content += table
    top = last + 3
    title = styles("subheading", bold=True, font_size=14)
    content.append(
        Row(
            top - 1,
            ((0, "Chase list: measures with no return or a due quarter left blank", title),),
        )
    )
    chase = _chase_rows(register, issues)
    content += _table(styles, top, CHASE_TABLE, CHASE_HEADERS, chase, widths=widths)[0]
    return Sheet(
        name=ISSUES_SHEET,
        content=tuple(content),
        columns=tuple(Column(c, c, w) for c, w in enumerate(widths)),
        print_setup=PrintSetup(fit_to=None, footer=_footer(register)),
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
    content: list[Content] = list(_sheet_title(styles, register, "About this workbook", ()))
    content += [
        Row(r, ((0, label, key), styles.text(1, clean_text(text), value)))
        for r, (label, text) in enumerate(facts, start=2)
    ]
    top = 2 + len(facts) + 1
    title = styles("subheading", bold=True, font_size=14)
    content.append(Row(top, ((0, "Input files", title),)))
    rows = [(f.file, f.sha256, f.theme, f.submitted, str(f.status)) for f in inputs]
    widths = (30, 68, 16, 16, 16)
    inputs_table, last = _table(
        styles, top + 1, INPUTS_TABLE, INPUT_HEADERS, rows, widths=widths, autofilter=False
    )
    content += inputs_table
    returns = [f for f in inputs if f.status is InputStatus.READ and f.theme]
    if settings.signoff_required or any(f.approved_by or f.approved_on for f in returns):
        top = last + 2
        content.append(Row(top, ((0, "Sign-off: who approved each return, and when", title),)))
        signed = [
            (f.file, f.theme, f.approved_by or "(not signed off)", f.approved_on) for f in returns
        ]
        content += _table(
            styles, top + 1, SIGNOFF_TABLE, SIGNOFF_HEADERS, signed, widths=widths,
            autofilter=False,
        )[0]  # fmt: skip
    return Sheet(
        name=ABOUT_SHEET,
        content=tuple(content),
        columns=(Column(0, 0, 30), Column(1, 1, 68), Column(2, 4, 16)),
        print_setup=PrintSetup(fit_to=(1, 0), footer=_footer(register)),
        hidden=hidden,
    )
