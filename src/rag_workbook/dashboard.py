"""Dashboard stage: master frame + Register + Report -> the committee dashboard workbook.

Input: the master frame (one row per measure and quarter, `columns.MASTER` + `columns.RAG`),
the analyst's Register, the Report of input problems and the list of input files.
Output: an `.xlsx` file with five sheets (Dashboard, Summary, Data, Issues, About), written
with xlsxwriter to a temporary file beside the target and renamed into place.

Choices a reader of the workbook sees:

- Quarter cells hold a status code (3 Green, 2 Amber, 1 Red) shown through an icon-only
  icon set; the default style, `3_symbols_circled` (tick, exclamation mark, cross), differs
  in shape as well as colour so the page reads when printed in black and white. No data is
  the text `-`; a quarter not yet due is an empty cell.
- Every status carries its explanation as a cell note. A status the lead set by override
  has a heavy box around its cell and its note says so.
- Direction of travel (when shown) is an arrow in a narrow "Trend" column: ↑ better,
  → same, ↓ worse, for the latest quarter with a status against the quarter before.
- Every text from the inputs is written with `write_string`, stripped of control characters
  and cut to Excel's 32,767 characters: a comment `=1+1` stays text, URLs stay plain text.
- No wall-clock time goes in: the document date comes from `DashboardOptions.made_on`,
  else the meeting date, else 1 January 2000, so identical inputs give identical bytes.
"""

from __future__ import annotations

import functools
import io
import itertools
import math
import re
import struct
import tempfile
import textwrap
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, TypeVar, cast

import xlsxwriter
import xlsxwriter.comments
import xlsxwriter.packager
import xlsxwriter.sharedstrings
import xlsxwriter.utility
import xlsxwriter.vml
import xlsxwriter.worksheet
import xlsxwriter.xmlwriter
from xlsxwriter.utility import _preserve_whitespace

from rag_workbook import __version__
from rag_workbook import columns as C
from rag_workbook.errors import OutputError, TemplateError
from rag_workbook.gcpause import collector_paused
from rag_workbook.model import QUARTERS, Direction, Measure, Register, ReturnData, Severity, Status
from rag_workbook.output import write_atomic
from rag_workbook.report import Report

if TYPE_CHECKING:
    import pandas as pd

# The rated frame, or its columns as lists (name -> values, as merge.MergeResult.columns
# and rag.rate_columns give them), which spares importing pandas (issue 6).
Frame: TypeAlias = "pd.DataFrame | Mapping[str, Sequence[Any]]"

DASHBOARD_SHEET = "Dashboard"
SUMMARY_SHEET = "Summary"
DATA_SHEET = "Data"
ISSUES_SHEET = "Issues"
ABOUT_SHEET = "About"
SHEETS = (DASHBOARD_SHEET, SUMMARY_SHEET, DATA_SHEET, ISSUES_SHEET, ABOUT_SHEET)

DATA_TABLE = "MasterData"
ISSUES_TABLE = "InputIssues"
CHASE_TABLE = "ChaseList"
INPUTS_TABLE = "InputFiles"

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

MAX_CELL_CHARS = 32_767  # Excel's limit for the text of a cell or a note
TRUNCATION_MARKER = " … [truncated]"
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
_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d %b %Y", "%d/%m/%Y", "%B %d, %Y", "%Y-%m-%dT%H:%M:%S")
_DEFAULT_CREATED = datetime(2000, 1, 1)
_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")
_MEMO_TYPES = (str, bool, type(None))
# Deflate level of the parts. Measured on the 39 MB of XML of a national dashboard
# (issue 6): level 6 (zlib's default, xlsxwriter's) 0.58 s and 3.0 MB; 2, 0.19 s and 3.8 MB.
_ZIP_LEVEL = 2
# xlsxwriter's cell records, as its write_string / write_number / write_blank store them.
_STRING = xlsxwriter.worksheet.CellStringTuple
_NUMBER = xlsxwriter.worksheet.CellNumberTuple
_BLANK = xlsxwriter.worksheet.CellBlankTuple
_ROW_INFO = xlsxwriter.worksheet.RowInfo
# What XMLwriter._escape_control_characters changes: _xHHHH_ escapes, control characters
# and the two non-characters.
_NEEDS_CONTROL_ESCAPE = re.compile("_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f\ufffe\uffff]")
# What makes text need an escape or xml:space: all that `_escape_controls`, `_escape_data`
# (& < >) and `_preserve_whitespace` look for, in one search. Most text has none of it.
_NOT_PLAIN = re.compile(r"^\s|\s$|[&<>]|" + _NEEDS_CONTROL_ESCAPE.pattern)
# write_comment options that place a note (which put_note leaves to xlsxwriter).
_NOTE_PLACING = frozenset({"start_row", "start_col", "start_cell", "x_offset", "y_offset"})
_FAST_CELLS = frozenset({"String", "Number", "Blank"})


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

    @classmethod
    def from_return(cls, data: ReturnData) -> InputFile:
        """The About-sheet row of one read (or refused) return."""
        return cls(
            file=data.file,
            sha256=data.sha256,
            theme=data.theme,
            submitted=data.submitted,
            status=InputStatus.READ if data.readable else InputStatus.REFUSED,
        )


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
    """

    made_on: str = ""
    icon_style: str = ""
    show_direction: bool | None = None
    quarter_labels: tuple[str, str, str, str] = ("Qu 1", "Qu 2", "Qu 3", "Qu 4")
    created: datetime | None = None


# --------------------------------------------------------------------------- public API


def build_dashboard(
    frame: Frame,
    register: Register,
    report: Report,
    *,
    inputs: Sequence[InputFile] = (),
    options: DashboardOptions = DashboardOptions(),
) -> bytes:
    """Build the dashboard workbook in memory and return its bytes.

    Args:
        frame: the master frame with `columns.MASTER` + `columns.RAG`, or its columns
            as lists (name -> values).
        register: the analyst's register (settings and measures in dashboard order).
        report: the input problems to list on the Issues sheet.
        inputs: the input files to list, with their SHA-256, on the About sheet.
        options: layout and dating options.

    Returns:
        The `.xlsx` file's bytes; identical inputs give identical bytes.

    Raises:
        TemplateError: the icon style is not a three-icon style.

    Example:
        >>> data = build_dashboard(frame, register, Report())
    """
    return _build(frame, register, report, inputs, options, print_only=False)


def write_dashboard(
    frame: Frame,
    register: Register,
    report: Report,
    path: str | Path,
    *,
    inputs: Sequence[InputFile] = (),
    options: DashboardOptions = DashboardOptions(),
) -> Path:
    """Write the dashboard workbook to `path`, atomically.

    The workbook is written to a temporary file in the same folder and renamed onto
    `path`, so an existing dashboard is either replaced whole or left as it was.

    Args:
        frame: the master frame with `columns.MASTER` + `columns.RAG`, or its columns
            as lists (name -> values).
        register: the analyst's register.
        report: the input problems to list on the Issues sheet.
        path: the `.xlsx` file to write.
        inputs: the input files to list on the About sheet.
        options: layout and dating options.

    Returns:
        The path written.

    Raises:
        OutputLockedError: the existing file cannot be replaced (open in Excel).
        OutputError: the folder is missing or cannot be written.
        TemplateError: the icon style is not a three-icon style.

    Example:
        >>> write_dashboard(frame, register, report, "out/dashboard.xlsx")
        PosixPath('out/dashboard.xlsx')
    """
    data = build_dashboard(frame, register, report, inputs=inputs, options=options)
    return write_atomic(data, Path(path))


def write_dashboard_pdf(
    frame: Frame,
    register: Register,
    report: Report,
    path: str | Path,
    *,
    inputs: Sequence[InputFile] = (),
    options: DashboardOptions = DashboardOptions(),
    timeout: float = 120,
) -> Path:
    """Write the committee PDF (Dashboard and Summary sheets) through LibreOffice.

    The PDF is rendered from a copy of the workbook whose Data, Issues and About sheets
    are hidden, since LibreOffice prints every visible sheet.

    Args:
        frame: the master frame with `columns.MASTER` + `columns.RAG`, or its columns
            as lists (name -> values).
        register: the analyst's register.
        report: the input problems.
        path: the `.pdf` file to write.
        inputs: the input files.
        options: layout and dating options.
        timeout: seconds to wait for LibreOffice.

    Returns:
        The path written.

    Raises:
        render.RenderError: LibreOffice is not installed or failed.
        OutputError: the folder is missing.

    Example:
        >>> write_dashboard_pdf(frame, register, report, "out/dashboard.pdf")
        PosixPath('out/dashboard.pdf')
    """
    from rag_workbook.render import convert_to_pdf

    target = Path(path)
    if not target.parent.is_dir():
        raise OutputError(f"folder {target.parent} does not exist; create it or choose another")
    data = _build(frame, register, report, inputs, options, print_only=True)
    with tempfile.TemporaryDirectory(prefix="rag_workbook_pdf_") as tmp:
        xlsx = Path(tmp) / f"{target.stem}.xlsx"
        xlsx.write_bytes(data)
        return convert_to_pdf(xlsx, target, timeout=timeout)


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


# --------------------------------------------------------------------------- building


class _Cell(NamedTuple):
    """One measure's quarter as the dashboard shows it (a tuple: 25,000 are made at N=2,000)."""

    status: Status | None
    is_override: bool
    explanation: str
    direction: Direction | None
    comment: str
    due: bool


class _Styles:
    """Formats made once per workbook and shared (xlsxwriter dedupes by identity)."""

    def __init__(self, workbook: Any) -> None:
        self._workbook = workbook
        self._cache: dict[tuple[tuple[str, Any], ...], Any] = {}
        self._given: dict[tuple[tuple[str, Any], ...], Any] = {}

    def __call__(self, **props: Any) -> Any:
        # First by the properties as given (a national dashboard asks 57,000 times), then
        # by the properties in order, so that one look makes one format whoever asks.
        given = tuple(props.items())
        found = self._given.get(given)
        if found is None:
            merged: dict[str, Any] = {"font_name": _FONT, "font_size": 10, **props}
            key = tuple(sorted(merged.items()))
            if key not in self._cache:
                self._cache[key] = self._workbook.add_format(merged)
            found = self._given[given] = self._cache[key]
        return found


# The workbook is hundreds of thousands of small objects (cells, notes, strings) that form
# no cycles but set off full collections over the caller's whole heap: 0.6-0.9 s of a
# national dashboard (issue 6). Collection waits until the bytes are made.
@collector_paused()
def _build(
    frame: Frame,
    register: Register,
    report: Report,
    inputs: Sequence[InputFile],
    options: DashboardOptions,
    *,
    print_only: bool,
) -> bytes:
    settings = register.settings
    icon_style = options.icon_style or settings.icon_style or DEFAULT_ICON_STYLE
    if icon_style not in ICON_STYLES:
        raise TemplateError(
            f"icon style {icon_style!r} is not a three-icon style; use one of "
            + ", ".join(ICON_STYLES)
            + f" (shapes differ in {', '.join(SHAPE_DISTINCT_ICON_STYLES)})"
        )
    show_direction = (
        settings.show_direction if options.show_direction is None else options.show_direction
    )
    columns = _columns(frame)
    cells = _cells(columns)

    workbook = _Workbook(
        {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": False,
        },
    )
    created = options.created or _parse_date(options.made_on) or _parse_date(settings.meeting_date)
    title = clean_text(" ".join(p for p in (settings.title, settings.year) if p))
    workbook.set_properties(
        {
            "title": title,
            "subject": clean_text(settings.partnership),
            "author": "rag_workbook",
            "comments": f"Made by rag_workbook {__version__}",
            "created": created or _DEFAULT_CREATED,
        }
    )
    workbook.set_size(1600, 1000)
    styles = _Styles(workbook)
    # The Data rows (a national collection's largest part) and the Summary's rows by theme
    # are made by a second process while this one writes the other sheets.
    data = _LaterRows(styles, columns, register, cells, workbook.str_table)
    try:
        _write_dashboard_sheet(
            workbook, styles, register, cells, icon_style, show_direction, options
        )
        _write_summary_sheet(workbook, styles, register, cells, options, data)
        _write_data_sheet(workbook, styles, data, print_only)
        _write_issues_sheet(workbook, styles, register, report, print_only)
        _write_about_sheet(workbook, styles, register, inputs, options, print_only)
        workbook.close()
    finally:
        data.close()
    return bytes(workbook.package)


def _columns(frame: Frame) -> dict[str, list[Any]]:
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


def _cells(columns: Mapping[str, list[Any]]) -> dict[tuple[str, str], _Cell]:
    statuses = _per_value(columns[C.STATUS], lambda v: _enum_or_none(Status, v))
    dues = [
        due or status is not None
        for due, status in zip(_per_value(columns[C.DUE], _flag), statuses, strict=True)
    ]
    keys = zip(
        _per_value(columns[C.MEASURE_ID], clean_text),
        _per_value(columns[C.QUARTER], clean_text),
        strict=True,
    )
    fields = zip(
        statuses,
        _per_value(columns[C.IS_OVERRIDE], _flag),
        _per_value(columns[C.EXPLANATION], clean_text),
        _per_value(columns[C.DIRECTION], lambda v: _enum_or_none(Direction, v)),
        _per_value(columns[C.COMMENT], lambda v: clean_text(v).strip()),
        dues,
        strict=True,
    )
    # _make is tuple.__new__: the 25,000 cells of a national dashboard without a Python
    # call each; a measure and quarter given twice keeps its last row, as before.
    return dict(zip(keys, map(_Cell._make, fields), strict=True))


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


def _write_text(sheet: Any, row: int, col: int, text: str, fmt: Any) -> None:
    """Write text as a string cell, or a blank (formatted) cell when there is none."""
    if text:
        sheet.write_string(row, col, text, fmt)
    else:
        sheet.write_blank(row, col, None, fmt)


def _footer_text(text: str) -> str:
    return clean_text(text).replace("\n", " ").replace("&", "&&")[:_MAX_FOOTER_CHARS]


# --------------------------------------------------------------------------- Dashboard sheet

_HEADER_ROW = 4
_BOXED: Mapping[str, Any] = {"border": 5, "border_color": "#000000"}  # a status set by override
_W_THEME, _W_NO, _W_MEASURE, _W_QUARTER, _W_TREND, _W_COMMENTS = 14, 5.5, 46, 6.5, 6.5, 64


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
    return clean_text(text)


class _BandFormats:
    """The formats of one band of the Dashboard sheet, each made on first use.

    So they are made in the order per-cell `styles(...)` calls made them, and looked up
    by a short name in the loop over a national collection's 6,333 rows.
    """

    def __init__(self, styles: _Styles, base: Mapping[str, Any]) -> None:
        self._styles = styles
        self._kinds: dict[str, dict[str, Any]] = {
            "id": {**base, "align": "center"},
            "text": {**base, "text_wrap": True, "indent": 1},
            "quarter": {**base, "align": "center", "font_size": 14},
            "boxed": {**base, "align": "center", "font_size": 14, **_BOXED},
            "mark": {**base, "align": "center", "bold": True},
            "trend": {**base, "align": "center", "bold": True, "font_size": 12},
        }
        self._made: dict[str, Any] = {}

    def __call__(self, kind: str) -> Any:
        found = self._made.get(kind)
        if found is None:
            found = self._made[kind] = self._styles(**self._kinds[kind])
        return found


def _write_dashboard_sheet(
    workbook: Any,
    styles: _Styles,
    register: Register,
    cells: Mapping[tuple[str, str], _Cell],
    icon_style: str,
    show_direction: bool,
    options: DashboardOptions,
) -> None:
    settings = register.settings
    sheet = workbook.add_worksheet(DASHBOARD_SHEET)
    sheet.hide_gridlines(2)
    q_first = 3
    trend_col = q_first + 4 if show_direction else None
    comments_col = q_first + 5 if show_direction else q_first + 4
    last_col = comments_col

    widths = [_W_THEME, _W_NO, _W_MEASURE, *([_W_QUARTER] * 4)]
    if show_direction:
        widths.append(_W_TREND)
    widths.append(_W_COMMENTS)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width)

    # Title block: agenda item / partnership / date, then title + year, then meeting.
    top = styles(bold=True, font_size=11, valign="vcenter")
    agenda = f"Agenda Item No: {settings.agenda_item}" if settings.agenda_item else ""
    sheet.merge_range(0, 0, 0, 1, "", top)
    sheet.write_string(0, 0, clean_text(agenda), top)
    sheet.merge_range(
        0, 2, 0, last_col - 1, "", styles(bold=True, font_size=11, align="center", valign="vcenter")
    )
    sheet.write_string(
        0,
        2,
        clean_text(settings.partnership),
        styles(bold=True, font_size=11, align="center", valign="vcenter"),
    )
    sheet.write_string(
        0,
        last_col,
        clean_text(settings.meeting_date),
        styles(bold=True, font_size=11, align="right", valign="vcenter"),
    )
    title_fmt = styles(bold=True, font_size=15, align="center", valign="vcenter", font_color=_NAVY)
    sheet.merge_range(1, 0, 1, last_col, "", title_fmt)
    sheet.write_string(
        1, 0, clean_text(" ".join(p for p in (settings.title, settings.year) if p)), title_fmt
    )
    meeting_fmt = styles(italic=True, font_size=11, align="center", valign="vcenter")
    sheet.merge_range(2, 0, 2, last_col, "", meeting_fmt)
    sheet.write_string(2, 0, clean_text(settings.meeting), meeting_fmt)
    sheet.set_row(0, 20)
    sheet.set_row(1, 26)
    sheet.set_row(2, 18)
    sheet.set_row(3, 6)

    # Header row.
    head = styles(
        bold=True,
        font_color="#FFFFFF",
        bg_color=_NAVY,
        border=1,
        border_color=_GRID,
        align="center",
        valign="vcenter",
        text_wrap=True,
    )
    head_left = styles(
        bold=True,
        font_color="#FFFFFF",
        bg_color=_NAVY,
        border=1,
        border_color=_GRID,
        align="left",
        valign="vcenter",
        text_wrap=True,
        indent=1,
    )
    labels = ["Theme", "No", "Performance Measure", *options.quarter_labels]
    if show_direction:
        labels.append("Trend")
    labels.append("Comments")
    for col, label in enumerate(labels):
        fmt = head_left if label in ("Performance Measure", "Comments") else head
        sheet.write_string(_HEADER_ROW, col, clean_text(label), fmt)
    sheet.set_row(_HEADER_ROW, 24)

    # One row per measure, themes in bands.
    row = _HEADER_ROW + 1
    first_data_row = row
    by_theme: dict[str, list[Measure]] = {}
    for measure in register.measures:
        by_theme.setdefault(measure.theme, []).append(measure)
    note_options = {"author": "rag_workbook", "x_scale": 2.4, "y_scale": 1.2}
    # The formats of the two alternating bands, made on first use and shared by the
    # bands of one fill (2,000 themes at N = 2,000).
    bands: dict[str, tuple[Any, _BandFormats]] = {}
    for band, (theme, measures) in enumerate(by_theme.items()):
        fill = _BAND_FILL if band % 2 else "#FFFFFF"
        found = bands.get(fill)
        if found is None:
            base: dict[str, Any] = {
                "border": 1,
                "border_color": _GRID,
                "valign": "vcenter",
                "bg_color": fill,
            }
            theme_fmt = styles(
                **{**base, "bg_color": _THEME_FILL},
                bold=True,
                text_wrap=True,
                align="left",
                indent=1,
            )
            found = bands[fill] = (theme_fmt, _BandFormats(styles, base))
        theme_fmt, band_format = found
        # The theme's cell, merged down its measures: the text in the first row's cell,
        # the others blank with its format (what merge_range and write_string leave).
        theme_cells: list[tuple[int, str | int | None, Any]] = [(0, clean_text(theme), theme_fmt)]
        if len(measures) > 1:
            sheet.put_merge(row, 0, row + len(measures) - 1, 0)
        for measure in measures:
            mid = measure.measure_id
            row_cells: list[tuple[int, str | int | None, Any]] = [
                *theme_cells,
                (1, clean_text(mid), band_format("id")),
                (2, clean_text(measure.text), band_format("text")),
            ]
            theme_cells = [(0, None, theme_fmt)]
            notes: list[tuple[int, str]] = []
            quarter_cells = [cells.get((mid, quarter)) for quarter in QUARTERS]
            for offset, (quarter, cell) in enumerate(zip(QUARTERS, quarter_cells, strict=True)):
                col = q_first + offset
                if cell is None or cell.status is None:
                    row_cells.append((col, None, band_format("quarter")))
                    continue
                boxed = cell.is_override
                fmt = band_format("boxed" if boxed else "quarter")
                if cell.status is Status.NO_DATA:
                    row_cells.append((col, NO_DATA_MARK, fmt if boxed else band_format("mark")))
                else:
                    row_cells.append((col, STATUS_CODES[cell.status], fmt))
                notes.append((col, _note(cell, quarter)))
            sheet.put_notes(row, notes, note_options)
            if trend_col is not None:
                direction = _latest_direction(quarter_cells)
                arrow = DIRECTION_ARROWS[direction] if direction is not None else ""
                row_cells.append((trend_col, arrow or None, band_format("trend")))
            comment = _latest_comment(quarter_cells)
            row_cells.append((comments_col, comment or None, band_format("text")))
            sheet.put_row(row, row_cells)
            lines = max(_lines(measure.text, _W_MEASURE), _lines(comment, _W_COMMENTS), 1)
            sheet.put_height(row, min(_MAX_ROW_HEIGHT, max(22.0, 12.75 * lines + 7)))
            row += 1
    last_data_row = max(row - 1, first_data_row)

    icon_rule = {
        "type": "icon_set",
        "icon_style": icon_style,
        "icons_only": True,
        "icons": [
            {"criteria": ">=", "type": "number", "value": STATUS_CODES[Status.GREEN]},
            {"criteria": ">=", "type": "number", "value": STATUS_CODES[Status.AMBER]},
        ],
    }
    sheet.conditional_format(first_data_row, q_first, last_data_row, q_first + 3, icon_rule)

    # Legend, in icons and in words: status icons on the left, marks on the right.
    row += 1
    sheet.write_string(row, 0, "Key", styles(bold=True, valign="vcenter", indent=1))
    boxed_fmt = styles(
        border=5, border_color="#000000", align="center", valign="vcenter", font_size=14
    )
    icon_fmt = styles(border=1, border_color=_GRID, align="center", valign="vcenter", font_size=14)
    mark_fmt = styles(border=1, border_color=_GRID, align="center", valign="vcenter", bold=True)
    words = styles(valign="vcenter", indent=1)
    left: list[tuple[str | int, str, Any]] = [
        (STATUS_CODES[Status.GREEN], "Green: on target or better", icon_fmt),
        (
            STATUS_CODES[Status.AMBER],
            "Amber: worse than target, but within the tolerance",
            icon_fmt,
        ),
        (STATUS_CODES[Status.RED], "Red: worse than target, beyond the tolerance", icon_fmt),
        (NO_DATA_MARK, "No data: no value this quarter (the reason is in the cell note)", mark_fmt),
    ]
    right: list[tuple[str | int, str, Any]] = [
        ("", "Blank: quarter not yet due", mark_fmt),
        (
            STATUS_CODES[Status.GREEN],
            "Heavy box: status set by the theme lead (override)",
            boxed_fmt,
        ),
    ]
    if show_direction:
        right.append(
            ("↑ → ↓", "Trend: latest quarter against the one before: better, same, worse", mark_fmt)
        )
    right.append(("", "Each status's explanation is in its cell note (hover over the icon).", None))
    mark_col = comments_col - 1
    legend_first = row
    for side, (symbol_col, entries) in enumerate(((1, left), (mark_col, right))):
        for i, (symbol, text, fmt) in enumerate(entries):
            r = legend_first + i
            if isinstance(symbol, int):
                sheet.write_number(r, symbol_col, symbol, fmt)
            elif symbol:
                sheet.write_string(r, symbol_col, symbol, fmt)
            elif fmt is not None:
                sheet.write_blank(r, symbol_col, None, fmt)
            sheet.write_string(
                r, symbol_col + 1, text, words if fmt is not None else styles(italic=True, indent=1)
            )
            if side == 0:
                sheet.set_row(r, 20)
    sheet.conditional_format(legend_first, 1, legend_first + 2, 1, icon_rule)
    sheet.conditional_format(legend_first + 1, mark_col, legend_first + 1, mark_col, icon_rule)
    last_row = legend_first + max(len(left), len(right)) - 1

    # Print setup: A4 landscape, one page wide, header row repeated, footer with pages.
    sheet.set_paper(9)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(_HEADER_ROW)
    sheet.print_area(0, 0, last_row, last_col)
    sheet.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    sheet.center_horizontally()
    made = (
        f"Made {options.made_on}"
        if options.made_on
        else (f"Meeting {settings.meeting_date}" if settings.meeting_date else "")
    )
    sheet.set_footer(
        "&L&8"
        + _footer_text(made)
        + "&C&8Page &P of &N"
        + "&R&8"
        + _footer_text(" ".join(p for p in (settings.partnership, settings.year) if p))
    )
    sheet.freeze_panes(_HEADER_ROW + 1, 0)
    sheet.activate()


# --------------------------------------------------------------------------- Summary sheet


# The Summary sheet: statuses counted, the block of all measures by quarter from row
# _SUMMARY_TOP, and the block by theme and quarter, its themes' rows from
# _SUMMARY_THEME_ROW (made by `_LaterRows`, then the total row).
_SUMMARY_STATUSES = (Status.GREEN, Status.AMBER, Status.RED, Status.NO_DATA)
_SUMMARY_TOP = 3
_SUMMARY_BY_THEME = _SUMMARY_TOP + 7
_SUMMARY_THEME_ROW = _SUMMARY_BY_THEME + 2
_SUMMARY_WIDTH = 1 + len(QUARTERS) * len(_SUMMARY_STATUSES)
_SUMMARY_LABEL: Mapping[str, Any] = {"border": 1, "border_color": _GRID, "bold": True}
_SUMMARY_NUMBER: Mapping[str, Any] = {"border": 1, "border_color": _GRID, "align": "center"}


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


def _summary_rows_xml(
    register: Register, cells: Mapping[tuple[str, str], _Cell], label: int, number: int
) -> bytes:
    """The Summary's rows by theme as `<row>` XML, theme names inline: what `put_row`
    of the theme's name and its 16 counts writes, with the text in the cell."""
    counts, _ = _summary_counts(register, cells)
    letters = [xlsxwriter.utility.xl_col_to_name(c) for c in range(_SUMMARY_WIDTH)]
    keys = [(quarter, status) for quarter in QUARTERS for status in _SUMMARY_STATUSES]
    rows: list[str] = []
    for i, theme in enumerate(register.themes):
        n = _SUMMARY_THEME_ROW + i + 1
        text = clean_text(theme)
        name = (
            f'<c r="A{n}" s="{label}" t="inlineStr"><is>{_text_element(text)}</is></c>'
            if text
            else f'<c r="A{n}" s="{label}"/>'
        )
        numbers = "".join(
            f'<c r="{letters[1 + k]}{n}" s="{number}"><v>{counts.get((theme, q, st), 0)}</v></c>'
            for k, (q, st) in enumerate(keys)
        )
        rows.append(f'<row r="{n}" spans="1:{_SUMMARY_WIDTH}">{name}{numbers}</row>')
    return "".join(rows).encode("utf-8")


def _write_summary_sheet(
    workbook: Any,
    styles: _Styles,
    register: Register,
    cells: Mapping[tuple[str, str], _Cell],
    options: DashboardOptions,
    later: _LaterRows,
) -> None:
    settings = register.settings
    sheet = workbook.add_worksheet(SUMMARY_SHEET, worksheet_class=_BulkSheet)
    sheet.hide_gridlines(2)
    statuses = _SUMMARY_STATUSES
    counts, not_due = _summary_counts(register, cells)

    def total(quarter: str, status: Status) -> int:
        return sum(counts.get((theme, quarter, status), 0) for theme in register.themes)

    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 16, 9)
    sheet.write_string(
        0, 0, "Summary of statuses", styles(bold=True, font_size=15, font_color=_NAVY)
    )
    sheet.write_string(
        1,
        0,
        clean_text(
            " – ".join(
                p for p in (settings.partnership, f"{settings.title} {settings.year}".strip()) if p
            )
        ),
        styles(italic=True),
    )
    head = styles(
        bold=True,
        font_color="#FFFFFF",
        bg_color=_NAVY,
        border=1,
        border_color=_GRID,
        align="center",
        valign="vcenter",
        text_wrap=True,
    )
    num = styles(**_SUMMARY_NUMBER)
    label = styles(**_SUMMARY_LABEL)

    # Block 1: all measures by quarter (the chart's data).
    top = _SUMMARY_TOP
    heads = ["Quarter", *[str(s) for s in statuses], "Not yet due"]
    for col, text in enumerate(heads):
        sheet.write_string(top, col, text, head)
    for i, quarter in enumerate(QUARTERS):
        r = top + 1 + i
        sheet.write_string(r, 0, quarter, label)
        for j, status in enumerate(statuses):
            sheet.write_number(r, 1 + j, total(quarter, status), num)
        sheet.write_number(r, 1 + len(statuses), not_due[quarter], num)

    # Block 2: by theme and quarter.
    top2 = _SUMMARY_BY_THEME
    sheet.write_string(top2 - 1, 0, "By theme and quarter", styles(bold=True, font_size=11))
    sheet.merge_range(top2, 0, top2 + 1, 0, "", head)
    sheet.write_string(top2, 0, "Theme", head)
    for q, quarter in enumerate(QUARTERS):
        first = 1 + q * len(statuses)
        sheet.merge_range(top2, first, top2, first + len(statuses) - 1, "", head)
        sheet.write_string(top2, first, quarter, head)
        for j, status in enumerate(statuses):
            sheet.write_string(top2 + 1, first + j, str(status), head)
    # A row per theme: 2,000 at national scale, made by the forked copy (`_LaterRows`).
    themes = register.themes
    sheet.write_rows_later(_SUMMARY_THEME_ROW, len(themes), _SUMMARY_WIDTH, later.summary)
    r = _SUMMARY_THEME_ROW + len(themes)
    total_label = styles(border=1, border_color=_GRID, bold=True, top=2)
    total_num = styles(border=1, border_color=_GRID, bold=True, top=2, align="center")
    sheet.write_string(r, 0, "All themes", total_label)
    for q, quarter in enumerate(QUARTERS):
        for j, status in enumerate(statuses):
            sheet.write_number(r, 1 + q * len(statuses) + j, total(quarter, status), total_num)
    last_row = r

    chart = workbook.add_chart({"type": "column", "subtype": "stacked"})
    for j, status in enumerate(statuses):
        chart.add_series(
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
        )
    chart.set_title(
        {"name": "Statuses by quarter (all measures)", "name_font": {"name": _FONT, "size": 12}}
    )
    chart.set_y_axis(
        {
            "name": "Measures",
            "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}},
            "num_font": {"name": _FONT},
            "name_font": {"name": _FONT},
        }
    )
    chart.set_x_axis({"num_font": {"name": _FONT}})
    chart.set_legend({"position": "right", "font": {"name": _FONT}})
    chart.set_size({"width": 620, "height": 300})
    sheet.insert_chart(last_row + 2, 0, chart)

    sheet.set_paper(9)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 1)
    sheet.print_area(0, 0, last_row + 18, 16)
    sheet.set_footer("&C&8Page &P of &N&R&8" + _footer_text(settings.partnership))


# --------------------------------------------------------------------------- Data sheet

_DATA_WIDTHS: Mapping[str, float] = {
    C.THEME: 16,
    C.MEASURE_ID: 10,
    C.MEASURE_TEXT: 45,
    C.QUARTER: 9,
    C.VALUE: 10,
    C.TARGET: 10,
    C.STATUS: 10,
    C.EXPLANATION: 50,
    C.COMMENT: 50,
    C.SOURCE: 30,
    C.LEAD: 18,
    C.POLARITY: 10,
    C.BASIS: 11,
    C.IS_OVERRIDE: 10,
    C.OVERRIDE_REASON: 30,
    C.DIRECTION: 10,
    C.REASON: 24,
    C.SUBMITTED: 12,
}


class _NotesVml(xlsxwriter.vml.Vml):  # type: ignore[misc]
    """Vml that writes each note's shape in one piece.

    A national dashboard has about 19,000 notes (one per status); xlsxwriter builds each
    shape from a dozen small element writers, 0.65 s in all (issue 6). This
    writes the very XML `Vml._write_comment_shape` writes, in one string per note.
    """

    def __init__(self) -> None:
        super().__init__()
        self._points: dict[float, str] = {}  # a pixel distance, in points as VML gives it
        self._fills: dict[Any, str] = {}  # a note colour (notes share their first's)
        self._halves: dict[tuple[Any, ...], tuple[str, str, str, str]] = {}

    def _point(self, pixels: float) -> str:
        text = self._points.get(pixels)
        if text is None:
            text = self._points[pixels] = f"{pixels * 0.75:.15g}"
        return text

    def _half(self, half: tuple[Any, ...]) -> tuple[str, str, str, str]:
        """A `_NotePlacer` half, as its two distances and two pairs of the anchor."""
        text = self._halves.get(half)
        if text is None:
            start, offset, end, rest, position, size = half
            text = self._halves[half] = (
                self._point(position),
                self._point(size),
                f"{start}, {offset}",
                f"{end}, {rest}",
            )
        return text

    def _write_comment_shape(self, shape_id: int, z_index: int, comment: Any) -> None:
        # Vml._pixels_to_points, then each distance formatted once: a national
        # dashboard's notes sit in a few columns on rows of a few heights.
        if isinstance(comment, _Note) and comment.halves:
            left, width, col_from, col_to = self._half(comment.halves[0])
            top, height, row_from, row_to = self._half(comment.halves[1])
        else:
            point = self._point
            vertices = comment.vertices
            left, top, width, height = map(point, vertices[8:12])
            col_from, row_from = f"{vertices[0]}, {vertices[2]}", f"{vertices[1]}, {vertices[3]}"
            col_to, row_to = f"{vertices[4]}, {vertices[6]}", f"{vertices[5]}, {vertices[7]}"
        color = comment.color
        fill = self._fills.get(color)
        if fill is None:
            fill = self._fills[color] = self._escape_attributes(color._vml_rgb_hex_value())
        visible = bool(comment.is_visible)
        self.fh.write(
            f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;'
            f"margin-left:{left}pt;margin-top:{top}pt;width:{width}pt;"
            f"height:{height}pt;z-index:{z_index};"
            f'visibility:{"visible" if visible else "hidden"}" '
            f'fillcolor="{fill}" '
            'o:insetmode="auto"><v:fill color2="#ffffe1"/>'
            '<v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
            '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div>'
            '</v:textbox><x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
            f"<x:Anchor>{col_from}, {row_from}, {col_to}, {row_to}"
            f"</x:Anchor><x:AutoFill>False</x:AutoFill><x:Row>{comment.row}</x:Row>"
            f"<x:Column>{comment.col}</x:Column>"
            + ("<x:Visible/>" if visible else "")
            + "</x:ClientData></v:shape>"
        )


class _NotesComments(xlsxwriter.comments.Comments):  # type: ignore[misc]
    """Comments that write each note in one piece: the XML `Comments._write_comment` writes."""

    def _write_comment_list(self, comment_data: list[Any]) -> None:
        parts = ["<commentList>"]
        heads: dict[Any, tuple[str, str]] = {}  # a `_Note`'s first: its author and font run
        texts: dict[str, str] = {}  # notes repeat (the same explanation in many cells)
        letters: dict[int, str] = {}
        for comment in comment_data:
            first = comment.first if isinstance(comment, _Note) else None
            head = heads.get(first) if first is not None else None
            if head is None:
                head = self._head(comment)
                if first is not None:
                    heads[first] = head
            author, run = head
            col = comment.col
            letter = letters.get(col)
            if letter is None:
                letter = letters[col] = xlsxwriter.utility.xl_col_to_name(col)
            text = comment.text
            body = texts.get(text)
            if body is None:
                if _NOT_PLAIN.search(text) is None:
                    body = f"<t>{text}</t>"
                else:
                    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
                    body = f"<t{space}>{_escape_controls(self._escape_data(text))}</t>"
                texts[text] = body
            parts.append(
                f'<comment ref="{letter}{comment.row + 1}"{author}><text><r>{run}{body}</r>'
                "</text></comment>"
            )
        parts.append("</commentList>")
        self.fh.write("".join(parts))

    def _head(self, comment: Any) -> tuple[str, str]:
        """A note's authorId attribute and the font run before its text."""
        escape = self._escape_attributes
        author = (
            f' authorId="{self.author_ids[comment.author]}"' if comment.author is not None else ""
        )
        run = (
            f'<rPr><sz val="{escape(comment.font_size)}"/><color indexed="81"/>'
            f'<rFont val="{escape(comment.font_name)}"/>'
            f'<family val="{escape(comment.font_family)}"/></rPr>'
        )
        return author, run


class _Strings(xlsxwriter.sharedstrings.SharedStrings):  # type: ignore[misc]
    """Shared strings written in one piece, each as plain text.

    The XML `SharedStrings._write_si` writes, except that xlsxwriter writes a string that
    starts with `<r>` and ends with `</r>` unescaped, as rich text: a comment `<r>x</r>`
    in a return would come out as `x`, or break the file. This workbook has no rich text.
    """

    def _write_sst_strings(self) -> None:
        self.fh.write(
            "".join([f"<si>{_text_element(s)}</si>" for s in self.string_table.string_array])
        )


def _text_element(text: str) -> str:
    """`text` as the `<t>` element of a shared string (`SharedStrings._write_si`)."""
    if _NOT_PLAIN.search(text) is None:
        return f"<t>{text}</t>"
    text = _escape_controls(text)
    space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<t{space}>{escaped}</t>"


def _escape_controls(text: str) -> str:
    """XMLwriter._escape_control_characters, skipped for the text (nearly all) it leaves alone."""
    if _NEEDS_CONTROL_ESCAPE.search(text):
        return str(xlsxwriter.xmlwriter.XMLwriter._escape_control_characters(text))
    return text


class _Segment(NamedTuple):
    """A piece of a zip part, deflated: its CRC-32, its length unpacked, its deflate data."""

    crc: int
    length: int
    packed: bytes

    @classmethod
    def of(cls, data: bytes, level: int, *, last: bool) -> _Segment:
        """`data` deflated; a segment other than the `last` ends on a byte (sync flush)."""
        packer = zlib.compressobj(level, zlib.DEFLATED, -15)
        packed = packer.compress(data) + packer.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        return cls(zlib.crc32(data), len(data), packed)

    def then(self, other: _Segment) -> _Segment:
        """This segment followed by `other`."""
        crc = _crc32_combine(self.crc, other.crc, other.length)
        return _Segment(crc, self.length + other.length, self.packed + other.packed)

    def to_bytes(self) -> bytes:
        return _SEGMENT_HEAD.pack(self.crc, self.length) + self.packed

    @classmethod
    def from_bytes(cls, data: bytes) -> _Segment:
        crc, length = _SEGMENT_HEAD.unpack_from(data)
        return cls(crc, length, data[_SEGMENT_HEAD.size :])


_SEGMENT_HEAD = struct.Struct("<LQ")


def _crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from those of A and B and B's length (zlib's crc32_combine,
    which Python's zlib does not offer): crc1 is run through length2 zero bytes, by the
    32x32 bit matrices for 2**k zero bytes of each bit k set in length2."""
    power = 0
    while length2 > 0:
        if length2 & 1:
            crc1 = _gf2_times(_zero_bytes_operator(power), crc1)
        length2 >>= 1
        power += 1
    return crc1 ^ crc2


@functools.cache
def _zero_bytes_operator(power: int) -> list[int]:
    """The matrix that runs a CRC-32 through 2**power zero bytes."""
    if power == 0:
        matrix = [0xEDB88320, *(1 << n for n in range(31))]  # one zero bit
        for _ in range(3):
            matrix = _gf2_square(matrix)
        return matrix
    return _gf2_square(_zero_bytes_operator(power - 1))


def _gf2_times(matrix: Sequence[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: Sequence[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


class _Around(NamedTuple):
    """A part deflated in the two pieces around its inserted segment."""

    head: _Segment
    tail: _Segment


class _Deflater:
    """Zip parts deflated on a worker thread, laid out as zipfile lays them out.

    zlib compresses without holding the interpreter lock, so the 39 MB of XML of a
    national dashboard is compressed while the later parts are being written (issue 6).
    The archive is byte for byte what `zipfile.ZipFile.writestr` writes for a ZipInfo
    dated 1 January 1980 on a Unix system (mode 0600): local headers with the sizes, no
    extras, a central directory, no comment. A part still being written when it was handed over
    (not seen with xlsxwriter 3.x) is compressed again from its final text. A part with a
    segment inserted (the Data rows, deflated by a forked copy) holds the same text, but
    deflated in three pieces put end to end.
    """

    _LOCAL = struct.Struct("<4s2B4HL2L2H")
    _CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
    _END = struct.Struct("<4s4H2LH")
    _DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, time 00:00:00
    _ATTRIBUTES = 0o600 << 16  # rw------- as zipfile gives a part written without them

    def __init__(self, level: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.level = level
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag_workbook_zip")
        self.parts: list[tuple[str, Any, bool, int, Any, Any]] = []

    def add(
        self,
        name: str,
        data: Any,
        is_binary: bool,
        insert: tuple[int, Callable[[], _Segment]] | None = None,
    ) -> None:
        """Deflate a part; `insert` is (offset, segment): a segment deflated elsewhere, to
        go at that offset of the part's text."""
        size = data.tell() if not is_binary else -1
        future = self.pool.submit(self._deflate, data, insert)
        self.parts.append((name, data, is_binary, size, insert, future))

    def _deflate(
        self, data: Any, insert: tuple[int, Callable[[], _Segment]] | None = None
    ) -> tuple[int, int, bytes] | _Around:
        """The part deflated as (crc, length, packed); for a part with an insert, the
        pieces before and after it, which `_joined` puts around the inserted segment
        (so that this thread goes on with the next parts while the segment is made)."""
        payload = data.getvalue()
        if insert is not None:
            # Deflate streams put end to end make one, when all but the last end on a
            # byte (a sync flush) and none refers back past its own start.
            offset, _ = insert
            head = _Segment.of(payload[:offset].encode("utf-8"), self.level, last=False)
            tail = _Segment.of(payload[offset:].encode("utf-8"), self.level, last=True)
            return _Around(head, tail)
        if not isinstance(payload, bytes):
            payload = payload.encode("utf-8")
        packer = zlib.compressobj(self.level, zlib.DEFLATED, -15)
        packed = packer.compress(payload) + packer.flush()
        return zlib.crc32(payload), len(payload), packed

    @staticmethod
    def _joined(
        deflated: tuple[int, int, bytes] | _Around,
        insert: tuple[int, Callable[[], _Segment]] | None,
    ) -> tuple[int, int, bytes]:
        if isinstance(deflated, _Around) and insert is not None:
            return deflated.head.then(insert[1]()).then(deflated.tail)  # (crc, length, packed)
        return cast("tuple[int, int, bytes]", deflated)

    def archive(self) -> bytes:
        out: list[bytes] = []
        central: list[bytes] = []
        offset = 0
        for name, data, is_binary, size, insert, future in self.parts:
            deflated = future.result()
            if not is_binary and data.tell() != size:  # written to after it was handed over
                deflated = self._deflate(data, insert)
            crc, length, packed = self._joined(deflated, insert)
            encoded = name.encode("ascii") if name.isascii() else name.encode("utf-8")
            flags = 0 if name.isascii() else 0x800
            if max(length, len(packed), offset) >= 0xFFFFFFFF:
                raise OutputError("the dashboard is over 4 GB; split the collection")
            # Flags, method, time, date, CRC, sizes and name length: in both headers.
            common = (
                flags,
                zipfile.ZIP_DEFLATED,
                0,
                self._DOS_DATE,
                crc,
                len(packed),
                length,
                len(encoded),
            )
            header = self._LOCAL.pack(b"PK\x03\x04", 20, 0, *common, 0)  # version, no extra
            central.append(
                self._CENTRAL.pack(
                    b"PK\x01\x02",
                    20,  # made by version 2.0
                    3,  # on Unix
                    20,  # needs version 2.0
                    0,
                    *common,
                    0,  # extra
                    0,  # comment
                    0,  # disk
                    0,  # internal attributes
                    self._ATTRIBUTES,
                    offset,
                )
                + encoded
            )
            out += (header, encoded, packed)
            offset += len(header) + len(encoded) + len(packed)
        directory = b"".join(central)
        end = self._END.pack(
            b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0
        )
        return b"".join((*out, directory, end))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Packager(xlsxwriter.packager.Packager):  # type: ignore[misc]
    """The xlsxwriter packager, with notes and shared strings written in one piece each.

    It also zips the parts itself (`_Deflater`): each part is compressed on a thread as
    soon as xlsxwriter has written it, at `_ZIP_LEVEL` rather than zlib's default 6, while
    the next part is being written. A `_BulkSheet`'s block of rows, made elsewhere, goes
    into its part there.
    """

    def __init__(self) -> None:
        super().__init__()
        self._deflater = _Deflater(_ZIP_LEVEL)
        self._handed = 0  # parts already given to the deflater

    def _filename(self, xml_filename: str) -> Any:
        # xlsxwriter asks for a part's file when the part before it is finished.
        self._hand_over(len(self.filenames))
        return super()._filename(xml_filename)

    def _hand_over(self, count: int) -> None:
        inserts = {
            id(sheet.insert[0]): sheet.insert[1:]
            for sheet in self.workbook.worksheets()
            if isinstance(sheet, _BulkSheet) and sheet.insert is not None
        }
        for data, name, is_binary in self.filenames[self._handed : count]:
            self._deflater.add(name, data, is_binary, inserts.get(id(data)))
        self._handed = max(self._handed, count)

    def _create_package(self) -> list[Any]:
        try:
            parts = super()._create_package()
            self._hand_over(len(parts))
            self.workbook.package = self._deflater.archive()
        finally:
            self._deflater.close()
        return []  # nothing left for xlsxwriter's own zip

    def _write_comment_files(self) -> None:
        # Packager._write_comment_files (xlsxwriter 3.x) with _NotesComments.
        index = 1
        for worksheet in self.workbook.worksheets():
            if not worksheet.has_comments:
                continue
            comments = _NotesComments()
            comments._set_xml_writer(self._filename(f"xl/comments{index}.xml"))
            comments._assemble_xml_file(worksheet.comments_list)
            index += 1

    def _write_shared_strings_file(self) -> None:
        # Packager._write_shared_strings_file (xlsxwriter 3.x) with _Strings.
        sst = _Strings()
        sst.string_table = self.workbook.str_table
        if not self.workbook.str_table.count:
            return
        sst._set_xml_writer(self._filename("xl/sharedStrings.xml"))
        sst._assemble_xml_file()

    def _write_vml_files(self) -> None:
        # Packager._write_vml_files (xlsxwriter 3.x) with _NotesVml for the comment shapes.
        index = 1
        for worksheet in self.workbook.worksheets():
            if not worksheet.has_vml and not worksheet.has_header_vml:
                continue
            if worksheet.has_vml:
                vml = _NotesVml()
                vml._set_xml_writer(self._filename(f"xl/drawings/vmlDrawing{index}.vml"))
                vml._assemble_xml_file(
                    worksheet.vml_data_id,
                    worksheet.vml_shape_id,
                    worksheet.comments_list,
                    worksheet.buttons_list,
                )
                index += 1
            if worksheet.has_header_vml:
                vml = _NotesVml()
                vml._set_xml_writer(self._filename(f"xl/drawings/vmlDrawing{index}.vml"))
                vml._assemble_xml_file(
                    worksheet.vml_header_id,
                    worksheet.vml_header_id * 1024,
                    None,
                    None,
                    worksheet.header_images_list,
                )
                self._write_vml_drawing_rels_file(worksheet, index)
                index += 1


_NOTE_LAST_ROW = 1_048_576 - 3  # xlsxwriter shifts notes in the last three rows and columns
_NOTE_LAST_COL = 16_384 - 3


def _from_first(name: str) -> Any:
    """A read-only attribute of a `_Note`, the same as its first note's."""
    return property(lambda note: getattr(note.first, name))


class _Note:
    """A note with default placement: its cell and text, and the settings of `first`.

    `first` is a CommentType made from the note's options; it is never placed itself.
    """

    __slots__ = ("col", "first", "halves", "row", "text", "vertices")

    def __init__(self, row: int, col: int, text: str, first: Any) -> None:
        self.row = row
        self.col = col
        self.text = text
        self.first = first
        self.vertices: list[float] = []
        # Set by _NotePlacer: the horizontal and the vertical half of the vertices,
        # (start, offset, end, rest, position, size), shared by notes in a column or row.
        self.halves: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None

    # What the VML and comments writers read of a note, taken from the first.
    author = _from_first("author")
    color = _from_first("color")
    font_size = _from_first("font_size")
    font_name = _from_first("font_name")
    font_family = _from_first("font_family")
    is_visible = _from_first("is_visible")


class _NotePlacer:
    """Worksheet._comment_vertices for `_Note`s, with row and column offsets summed once.

    xlsxwriter places a note at the cell below-right of its own, 15 px right and 10 px
    down, and walks the rows and columns it covers (`_position_object_pixels`, anchor 0).
    This does the same arithmetic, in the same order, so the vertices are equal. The
    horizontal half depends only on the note's column and width, the vertical half only
    on its row and height, so each is worked out once: a national dashboard has three
    notes a row in four columns.
    """

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet
        self.row_heights: list[float] = []
        self.row_tops: list[float] = [0]
        self.col_widths: list[float] = []
        self.col_lefts: list[float] = [0]
        self.across: dict[tuple[int, float], tuple[Any, ...]] = {}
        self.down: dict[tuple[int, float], tuple[Any, ...]] = {}

    def _row(self, row: int) -> float:
        heights = self.row_heights
        while len(heights) <= row:
            heights.append(self.sheet._size_row(len(heights)))
            self.row_tops.append(self.row_tops[-1] + heights[-1])
        return heights[row]

    def _col(self, col: int) -> float:
        widths = self.col_widths
        while len(widths) <= col:
            widths.append(self.sheet._size_col(len(widths)))
            self.col_lefts.append(self.col_lefts[-1] + widths[-1])
        return widths[col]

    @staticmethod
    def _walk(
        start: int, offset: float, extent: float, size: Callable[[int], float]
    ) -> tuple[int, float, int, float]:
        """Along one axis: the cell (and offset in it) a note starts in, `offset` into
        cell `start`, and the cell (and offset) it ends in, `extent` further on."""
        while offset >= size(start):
            offset -= size(start)
            start += 1
        end, rest = start, extent
        if size(start) > 0:
            rest = rest + offset
        while rest >= size(end):
            rest -= size(end)
            end += 1
        return start, offset, end, rest

    def _across(self, col: int, width: float) -> tuple[Any, ...]:
        """(col_start, x1, col_end, right, x_abs, width) of a note in column `col`."""
        sheet = self.sheet
        first = col + 1
        self._col(first)
        left = self.col_lefts[first] if sheet.col_size_changed else sheet.default_col_width * first
        return (*self._walk(first, 15, width, self._col), left + 15, width)

    def _down(self, row: int, height: float) -> tuple[Any, ...]:
        """(row_start, y1, row_end, bottom, y_abs, height) of a note on row `row`."""
        sheet = self.sheet
        first = row - 1
        self._row(first)
        top = self.row_tops[first] if sheet.row_sizes else sheet.default_row_height * first
        return (*self._walk(first, 10, height, self._row), top + 10, height)

    def __call__(self, note: _Note) -> list[float]:
        sheet = self.sheet
        first = note.first
        if first.is_visible is None:  # as _prepare_vml_objects does for each note
            first.is_visible = sheet.comments_visible
        if first.author is None:
            first.author = sheet.comments_author
        width, height = first.width, first.height
        across = self.across.get((note.col, width))
        if across is None:
            across = self.across[(note.col, width)] = self._across(note.col, width)
        down = self.down.get((note.row, height))
        if down is None:
            down = self.down[(note.row, height)] = self._down(note.row, height)
        note.halves = (across, down)
        col_start, x1, col_end, right, x_abs, _ = across
        row_start, y1, row_end, bottom, y_abs, _ = down
        return [
            col_start,
            row_start,
            x1,
            y1,
            col_end,
            row_end,
            right,
            bottom,
            x_abs,
            y_abs,
            width,
            height,
        ]


class _FastSheet(xlsxwriter.worksheet.Worksheet):  # type: ignore[misc]
    """A worksheet whose plain cells (text, number, blank, with a format) are written in one piece.

    xlsxwriter writes each cell through an attribute list and an escaping pass, about ten
    microseconds a cell; a national dashboard has 100,000 such cells besides the Data
    rows (issue 6). This writes the XML `Worksheet._write_cell` writes for them; every
    other cell (formulas, rich text, a cell taking its row's or column's format) goes
    through xlsxwriter.
    """

    def __init__(self) -> None:
        super().__init__()
        self._notes: dict[tuple[tuple[str, Any], ...], Any] = {}

    def put_row(self, row: int, cells: Sequence[tuple[int, str | int | None, Any]]) -> None:
        """write_string / write_number / write_blank for each (col, value, format) of a row.

        None is a blank cell (carrying its format); text must be clean. One call a row
        rather than one a cell: the Dashboard sheet of a national collection has 50,000.
        """
        kept = [cell for cell in cells if cell[1] is not None or cell[2] is not None]
        if not kept:
            return
        cols = [col for col, _, _ in kept]
        if self._check_dimensions(row, min(cols)) or self._check_dimensions(row, max(cols)):
            kept = [cell for cell in kept if not self._check_dimensions(row, cell[0])]
        table = self.table[row]
        sst = self.str_table._get_shared_string_index
        for col, value, fmt in kept:
            if value is None:
                table[col] = _BLANK(fmt)
            elif isinstance(value, str):
                table[col] = _STRING(sst(value), fmt)
            else:
                table[col] = _NUMBER(value, fmt)

    def put_merge(self, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
        """merge_range's bookkeeping for a range whose cells `put_row` writes: the value in
        the first cell, the others blank with the same format (what merge_range writes).

        merge_range also writes those cells, one call each, and notes every cell against
        overlaps: 2,000 themes on a national dashboard. Overlaps are still refused.
        """
        cells = [
            (row, col)
            for row in range(first_row, last_row + 1)
            for col in range(first_col, last_col + 1)
        ]
        merged, tables = self.merged_cells, self.table_cells
        if len(cells) < 2 or any(merged.get(cell) or tables.get(cell) for cell in cells):
            # a single cell or an overlap: merge_range warns or raises, as it should
            self.merge_range(first_row, first_col, last_row, last_col, "", None)
            return
        if self._check_dimensions(first_row, first_col) or self._check_dimensions(
            last_row, last_col
        ):
            return
        ref = xlsxwriter.utility.xl_range(first_row, first_col, last_row, last_col)
        for cell in cells:
            merged[cell] = ref
        self.merge.append([first_row, first_col, last_row, last_col])

    def put_height(self, row: int, height: float) -> None:
        """set_row(row, height): a row's height, with no format or options.

        What `set_row` stores, without its options dict and outline bookkeeping: the
        Dashboard sheet of a national collection sets 6,333 row heights.
        """
        pixels = int(height * 4.0 / 3.0 + 0.5)
        if pixels == 0:  # a hidden row
            self.set_row(row, height)
            return
        if self._check_dimensions(row, self.dim_colmin if self.dim_colmin is not None else 0):
            return
        self.row_info[row] = _ROW_INFO(height=pixels)
        self.row_sizes[row] = [pixels, False]

    def put_note(self, row: int, col: int, text: str, options: Mapping[str, Any]) -> None:
        """write_comment, with the options read once and the note placed in bulk at close.

        xlsxwriter reads the options (and parses the colour) again for each note and places
        each one by walking the rows above it: 19,000 notes on a national dashboard. Here
        each note shares the settings of the first with the same options (`_Note`), and
        `_prepare_vml_objects` places them all in one pass, where they land exactly as
        xlsxwriter would place them. Options that place a note, and notes at the sheet's
        edges (which xlsxwriter shifts), are left to it.
        """
        self.put_notes(row, ((col, text),), options)

    def put_notes(
        self, row: int, notes: Sequence[tuple[int, str]], options: Mapping[str, Any]
    ) -> None:
        """put_note for each (col, text) of one row, all with the same options.

        The sheet's dimensions are checked for the row's first and last note only, as
        `put_row` does: the notes between change nothing more.
        """
        if not notes:
            return
        key = tuple(options.items())
        first = self._notes.get(key)
        if first is None:
            # None: options that place a note, which only write_comment takes.
            first = self._notes[key] = (
                None
                if _NOTE_PLACING.intersection(options)
                else xlsxwriter.comments.CommentType(1, 0, "", dict(options))
            )
        longest = self.xls_strmax // 2
        edge = first is None or not 0 < row < _NOTE_LAST_ROW
        cols = [col for col, _ in notes]
        checked = not (
            self._check_dimensions(row, min(cols)) or self._check_dimensions(row, max(cols))
        )
        comments = self.comments
        for col, text in notes:
            if edge or len(text) > longest or col >= _NOTE_LAST_COL:
                self.write_comment(row, col, text, dict(options))
            elif checked or not self._check_dimensions(row, col):
                self.has_vml = True
                self.has_comments = True
                comments[row][col] = _Note(row, col, text, first)

    def _prepare_vml_objects(
        self, vml_data_id: int, vml_shape_id: int, vml_drawing_id: int, comment_id: int
    ) -> int:
        # Worksheet._prepare_vml_objects (xlsxwriter 3.x), placing `_Note`s in one pass.
        comments: list[Any] = []
        place = _NotePlacer(self)
        for row in sorted(self.comments):
            for col in sorted(self.comments[row]):
                comment = self.comments[row][col]
                if isinstance(comment, _Note):
                    comment.vertices = place(comment)
                else:
                    comment.vertices = self._comment_vertices(comment)
                    if comment.is_visible is None:
                        comment.is_visible = self.comments_visible
                    if comment.author is None:
                        comment.author = self.comments_author
                comments.append(comment)
        for button in self.buttons_list:
            button.vertices = self._button_vertices(button)
        self.external_vml_links.append(
            ["/vmlDrawing", "../drawings/vmlDrawing" + str(vml_drawing_id) + ".vml"]
        )
        if self.has_comments:
            self.comments_list = comments
            self.external_comment_links.append(
                ["/comments", "../comments" + str(comment_id) + ".xml"]
            )
        count = len(comments)
        data_id: int | str = vml_data_id
        for i in range(count // 1024):
            data_id = f"{data_id},{vml_data_id + i + 1}"
        self.vml_data_id = data_id
        self.vml_shape_id = vml_shape_id
        return count

    def _calculate_spans(self) -> None:
        # Worksheet._calculate_spans (xlsxwriter 3.x): the columns each block of 16 rows
        # uses, from the cells and notes present rather than from every column of the sheet.
        if self.dim_rowmin is None:
            self.row_spans = {}
            return
        spans: dict[int, str] = {}
        low: int | None = None
        high = 0
        table, comments = self.table, self.comments
        for row in range(self.dim_rowmin, self.dim_rowmax + 1):
            for used in (table.get(row), comments.get(row)):
                if used:
                    least, most = min(used), max(used)
                    if low is None:
                        low, high = least, most
                    else:
                        low, high = min(low, least), max(high, most)
            if ((row + 1) % 16 == 0 or row == self.dim_rowmax) and low is not None:
                spans[row // 16] = f"{low + 1}:{high + 1}"
                low = None
        self.row_spans = spans

    def _row_tag_tail(self, row: int, span: str | None, info: Any) -> str:
        """What xlsxwriter's `<row>` tag for `row` holds after `<row r="n"`."""
        fh: Any = getattr(self, "fh")  # noqa: B009  (untyped base class)
        written = io.StringIO()
        self.fh = written
        try:
            self._write_row(row, span, info)
        finally:
            self.fh = fh
        tag = written.getvalue()
        head = f'<row r="{row + 1}"'
        if not tag.startswith(head):
            raise RuntimeError("this xlsxwriter writes a row's tag differently")
        return tag[len(head) :]

    def _write_rows(self) -> None:
        # Worksheet._write_rows (xlsxwriter 3.x), with the plain cells (text, number, blank
        # with a format of their own) written in one string each and the rest by xlsxwriter.
        if self.constant_memory:
            super()._write_rows()
            return
        self._calculate_spans()
        table, comments, row_info, spans = self.table, self.comments, self.row_info, self.row_spans
        write = self.fh.write
        xfs: dict[Any, int] = {}
        letters: dict[int, str] = {}
        tags: dict[tuple[Any, ...], str] = {}  # a row's tag after its number, by what sets it
        for row in range(self.dim_rowmin, self.dim_rowmax + 1):
            cells = table.get(row)
            info = row_info.get(row)
            if not cells:
                if info is not None or row in comments:
                    self._write_empty_row(row, spans.get(row // 16), info)
                continue
            number = str(row + 1)
            span = spans.get(row // 16)
            if info is None:
                key: tuple[Any, ...] | None = (span,)
            elif info.row_format is None:
                key = (span, info.height, info.hidden, info.level, info.collapsed)
            else:
                key = None  # xlsxwriter asks the format for its index
            tail = tags.get(key) if key is not None else None
            if tail is None:
                tail = self._row_tag_tail(row, span, info)
                if key is not None:
                    tags[key] = tail
            write(f'<row r="{number}"{tail}')
            for col in sorted(cells):
                cell = cells[col]
                fmt = cell.format
                kind = cell.__class__.__name__
                if not fmt or kind not in _FAST_CELLS:
                    self._write_cell(row, col, cell)
                    continue
                xf = xfs.get(fmt)
                if xf is None:
                    xf = xfs[fmt] = fmt._get_xf_index()
                ref = letters.get(col)
                if ref is None:
                    ref = letters[col] = xlsxwriter.utility.xl_col_to_name(col)
                if kind == "String":
                    write(f'<c r="{ref}{number}" s="{xf}" t="s"><v>{cell.string}</v></c>')
                elif kind == "Number":
                    write(f'<c r="{ref}{number}" s="{xf}"><v>{cell.number:.16G}</v></c>')
                else:
                    write(f'<c r="{ref}{number}" s="{xf}"/>')
            write("</row>")


class _BulkSheet(_FastSheet):
    """A worksheet whose block of rows is XML made elsewhere, put in its place at close.

    The Data sheet of a national collection has hundreds of thousands of cells; through
    xlsxwriter's per-cell path (store each cell, then assemble it) they cost several
    seconds of a merge that must take three (issue 6). `write_rows_later` takes the
    block's size and what gives its XML; `_write_rows` writes the rows above it, marks
    where the block goes (`insert`), then writes the rows below it, and the packager puts
    the block's bytes at the mark. Nothing else may be written in the block's rows.
    """

    def __init__(self) -> None:
        super().__init__()
        self._later: tuple[int, int, Callable[[], _Segment]] | None = None
        self.insert: tuple[Any, int, Callable[[], _Segment]] | None = None

    def write_rows_later(
        self, first_row: int, count: int, width: int, xml: Callable[[], _Segment]
    ) -> None:
        """Rows `first_row` on, `count` of them and `width` columns wide, whose `<row>`
        XML `xml()` gives, deflated, when the sheet is written."""
        if count:
            self._check_dimensions(first_row, 0)
            self._check_dimensions(first_row + count - 1, width - 1)
            self._later = (first_row, count, xml)

    def add_table(
        self,
        first_row: int,
        first_col: int,
        last_row: int,
        last_col: int,
        options: dict[str, Any] | None = None,
    ) -> Any:
        """Worksheet.add_table, without noting each cell of a table over the block.

        xlsxwriter notes every cell of a table's range, to refuse overlapping tables and
        merges: 456,000 cells, 0.2 s, for the Data table of a national collection. A sheet
        with no other table or merge cannot overlap, so the table is added over its header
        and first row, then widened to its range.
        """
        short = first_row + 1
        simple = not (options or {}).get("total_row") and (options or {}).get("header_row", True)
        if last_row <= short or self.table_cells or self.merged_cells or not simple:
            return super().add_table(first_row, first_col, last_row, last_col, options)
        result = super().add_table(first_row, first_col, short, last_col, options)
        table = self.tables[-1]
        added = xlsxwriter.utility.xl_range(first_row, first_col, short, last_col)
        if table.get("range") != added or table.get("a_range") != added:
            raise RuntimeError("this xlsxwriter keeps a table's range differently")
        whole = xlsxwriter.utility.xl_range(first_row, first_col, last_row, last_col)
        table["range"] = table["a_range"] = whole
        if table.get("autofilter"):
            table["autofilter"] = whole
        return result

    def _write_rows(self) -> None:
        if self._later is None:
            super()._write_rows()
            return
        first, count, xml = self._later
        lowest = getattr(self, "dim_rowmin")  # noqa: B009  (untyped base class)
        last = getattr(self, "dim_rowmax")  # noqa: B009
        self.dim_rowmax = first - 1  # xlsxwriter writes the rows above the block
        try:
            super()._write_rows()
        finally:
            self.dim_rowmax = last
        fh: Any = getattr(self, "fh")  # noqa: B009  (untyped base class)
        self.insert = (fh, fh.tell(), xml)
        if last >= first + count:  # and those below it
            self.dim_rowmin = first + count
            try:
                super()._write_rows()
            finally:
                self.dim_rowmin = lowest


class _Workbook(xlsxwriter.Workbook):  # type: ignore[misc]
    """An in-memory xlsxwriter Workbook packaged by `_Packager` (xlsxwriter's override hook).

    The packager zips the parts itself, so as to choose the compression level; after
    `close()` the file's bytes are in `package` (xlsxwriter's own zip is left empty).
    """

    worksheet_class = _FastSheet

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(io.BytesIO(), {**options, "in_memory": True})
        self.package = b""

    def _get_packager(self) -> Any:
        return _Packager()


def _write_data_sheet(workbook: Any, styles: _Styles, data: _LaterRows, hidden: bool) -> None:
    sheet = workbook.add_worksheet(DATA_SHEET, worksheet_class=_BulkSheet)
    names = list(C.DATA_LABELS)
    for col, name in enumerate(names):
        sheet.set_column(
            col,
            col,
            _DATA_WIDTHS.get(name, 14),
            data.wrap if name in (C.EXPLANATION, C.COMMENT) else None,
        )
    sheet.write_rows_later(1, data.count, len(names), data.data)
    sheet.add_table(
        0,
        0,
        max(data.count, 1),
        len(names) - 1,
        {
            "name": DATA_TABLE,
            "style": "Table Style Medium 2",
            "columns": [
                {"header": C.DATA_LABELS[n], "header_format": _table_head(styles)} for n in names
            ],
        },
    )
    sheet.freeze_panes(1, 3)
    sheet.set_paper(9)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    if hidden:
        sheet.hide()


class _LaterRows:
    """The Data sheet's rows and the Summary's rows by theme, as deflated XML, made in a
    forked process where it may fork.

    The Data columns that repeat a few texts (theme, measure, quarter, status, lead...)
    take their shared-string indices here, before any other sheet adds a string; the
    rest of the text is held inline (`t="inlineStr"`), so the rows depend on nothing the
    other sheets add. Their formats take their style indices before any other format is
    used. `data()` and `summary()` give the rows, waiting for the process; if it could not
    be started or failed, they are made here instead. `close()` ends the process if the
    rows were never asked for.
    """

    def __init__(
        self,
        styles: _Styles,
        columns: Mapping[str, list[Any]],
        register: Register,
        cells: Mapping[tuple[str, str], _Cell],
        strings: Any,
    ) -> None:
        self.text = styles(valign="top")
        self.wrap = styles(valign="top", text_wrap=True)
        self.number = styles(valign="top", num_format="#,##0.##")
        formats = (
            self.text,
            self.wrap,
            self.number,
            styles(**_SUMMARY_LABEL),
            styles(**_SUMMARY_NUMBER),
        )
        self.count = len(next(iter(columns.values()), []))
        self._columns = columns
        self._register = register
        self._cells = cells
        self._indices = [f._get_xf_index() for f in formats]
        self._shared = _share_data_texts(columns, strings)
        self._made: tuple[_Segment, _Segment] | None = None
        self._child = _Forked.start(self._make)

    def _make(self) -> bytes:
        text, wrap, number, label, count = self._indices
        data = _data_rows_xml(self._columns, self._register, text, wrap, number, self._shared)
        summary = _summary_rows_xml(self._register, self._cells, label, count)
        first = _Segment.of(data, _ZIP_LEVEL, last=False).to_bytes()
        second = _Segment.of(summary, _ZIP_LEVEL, last=False).to_bytes()
        return _PIECE_SIZE.pack(len(first)) + first + second

    def _segments(self) -> tuple[_Segment, _Segment]:
        if self._made is None:
            made = self._child.result() if self._child is not None else None
            if made is None:
                made = self._make()
            (size,) = _PIECE_SIZE.unpack_from(made)
            start = _PIECE_SIZE.size
            self._made = (
                _Segment.from_bytes(made[start : start + size]),
                _Segment.from_bytes(made[start + size :]),
            )
        return self._made

    def data(self) -> _Segment:
        """The Data rows' XML, deflated, as a segment of the sheet's part."""
        return self._segments()[0]

    def summary(self) -> _Segment:
        """The Summary's rows by theme, deflated, as a segment of the sheet's part."""
        return self._segments()[1]

    def close(self) -> None:
        if self._child is not None:
            self._child.close()


_PIECE_SIZE = struct.Struct("<Q")


class _Forked:
    """`make()` run in a forked copy of this process, its bytes left in a spool file.

    A fork starts in milliseconds with everything already in memory; the copy writes the
    bytes and leaves with os._exit, running nothing else of this process (no exit
    handlers, no buffered output flushed twice).
    """

    def __init__(self, pid: int, spool: Any) -> None:
        self._pid = pid
        self._spool = spool
        self._status: int | None = None

    @classmethod
    def start(cls, make: Callable[[], bytes]) -> _Forked | None:
        """None where this process should not fork: not Linux, or other threads running
        (a fork can deadlock on a lock one of them holds)."""
        import os
        import sys
        import threading

        if not sys.platform.startswith("linux") or threading.active_count() != 1:
            return None
        try:
            spool = tempfile.TemporaryFile()  # noqa: SIM115  (closed by result() or close())
        except OSError:  # no room for it: make the bytes here
            return None
        try:
            pid = os.fork()
        except OSError:
            spool.close()
            return None
        if pid == 0:  # the copy
            status = 1
            try:
                spool.write(make())
                spool.flush()
                status = 0
            finally:
                os._exit(status)
        return cls(pid, spool)

    def result(self) -> bytes | None:
        """The bytes, once the copy has finished; None if it failed."""

        if self._status is None:
            self._status = self._wait()
        if self._status != 0 or self._spool.closed:
            return None
        try:
            self._spool.seek(0)
            return bytes(self._spool.read())
        finally:
            self._spool.close()

    def close(self) -> None:
        """End the copy if it was never waited for, and drop its spool file."""
        import contextlib
        import os
        import signal

        if self._status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._status = self._wait()
        self._spool.close()

    def _wait(self) -> int:
        """The copy's exit status; -1 if it was reaped elsewhere (SIGCHLD ignored, say),
        when its work cannot be trusted."""
        import os

        try:
            return os.waitpid(self._pid, 0)[1]
        except ChildProcessError:
            return -1


# The Data columns whose texts repeat (a few hundred kinds over 25,000 rows at national
# scale) and so go to the shared strings; the others (explanation, comment, source,
# override reason) are nearly all different and are held inline.
_DATA_SHARED = frozenset(
    {
        C.THEME,
        C.MEASURE_ID,
        C.MEASURE_TEXT,
        C.QUARTER,
        C.STATUS,
        C.LEAD,
        C.POLARITY,
        C.BASIS,
        C.IS_OVERRIDE,
        C.DIRECTION,
        C.REASON,
        C.SUBMITTED,
    }
)


def _data_text(name: str) -> Callable[[Any], str]:
    """How a Data column's cell becomes its text."""
    if name == C.IS_OVERRIDE:
        return lambda v: "Yes" if _flag(v) else "No"
    return clean_text


class _SharedTexts(NamedTuple):
    """The `_DATA_SHARED` columns as their cells' texts, and each text's shared-string index."""

    texts: dict[str, list[str]]
    indices: dict[str, dict[str, int]]


def _share_data_texts(columns: Mapping[str, list[Any]], strings: Any) -> _SharedTexts:
    """The `_DATA_SHARED` columns' texts, each added to the workbook's string table
    (xlsxwriter's SharedStringTable) with every use counted."""
    index = strings._get_shared_string_index  # counts one use of the text
    texts: dict[str, list[str]] = {}
    indices: dict[str, dict[str, int]] = {}
    for name in C.DATA_LABELS:
        if name not in _DATA_SHARED:
            continue
        texts[name] = column = _per_value(columns[name], _data_text(name))
        indices[name] = found = {}
        for text, uses in Counter(column).items():
            if text:
                found[text] = index(text)
                strings.count += uses - 1
    return _SharedTexts(texts, indices)


def _data_rows_xml(
    columns: Mapping[str, list[Any]],
    register: Register,
    text: int,
    wrap: int,
    number: int,
    shared: _SharedTexts,
) -> bytes:
    """The Data sheet's rows from row 2 as `<row>` XML, in register order: the `shared`
    columns' texts as shared strings, the others inline."""
    names = list(C.DATA_LABELS)
    converted: dict[str, list[Any]] = {}
    for name in names:
        if name in (C.VALUE, C.TARGET):
            converted[name] = [_number(v) for v in columns[name]]
        elif name in shared.texts:
            converted[name] = shared.texts[name]
        else:
            converted[name] = _per_value(columns[name], _data_text(name))
    # Rows in register order, then measure ID, then quarter (a stable sort, as before).
    order = {m.measure_id: i for i, m in enumerate(register.measures)}
    quarters = {q: i for i, q in enumerate(QUARTERS)}
    keys = [
        (order.get(mid, len(order)), mid, quarters.get(quarter, len(quarters)))
        for mid, quarter in zip(converted[C.MEASURE_ID], converted[C.QUARTER], strict=True)
    ]
    sequence = sorted(range(len(keys)), key=keys.__getitem__)
    if sequence == list(range(len(sequence))):  # as the merge gives them
        block = [converted[name] for name in names]
    else:
        block = [[converted[name][i] for i in sequence] for name in names]
    if not sequence:
        return b""
    # Each cell is `<c r="{ref}"` and a tail made once per distinct value of its column;
    # one format string per row puts them together.
    tails: list[list[str]] = []
    for name, col in zip(names, block, strict=True):
        if name in (C.VALUE, C.TARGET):
            xf = f' s="{number}"'
            blank = f"{xf}/>"
            tails.append([blank if v is None else f"{xf}><v>{v:.16G}</v></c>" for v in col])
            continue
        xf = f' s="{wrap if name in (C.EXPLANATION, C.COMMENT) else text}"'
        blank = f"{xf}/>"
        indices = shared.indices.get(name)
        if indices is not None:
            made = {
                v: f'{xf} t="s"><v>{indices[v]}</v></c>' if v else blank for v in dict.fromkeys(col)
            }
        else:
            made = {
                v: f'{xf} t="inlineStr"><is>{_text_element(str(v))}</is></c>' if v else blank
                for v in dict.fromkeys(col)
            }
        tails.append(list(map(made.__getitem__, col)))
    letters = [xlsxwriter.utility.xl_col_to_name(c) for c in range(len(tails))]
    template = (
        f'<row r="{{0}}" spans="1:{len(tails)}">'
        + "".join(f'<c r="{letter}{{0}}"{{{c + 1}}}' for c, letter in enumerate(letters))
        + "</row>"
    )
    return "".join(map(template.format, itertools.count(2), *tails)).encode("utf-8")


# --------------------------------------------------------------------------- Issues sheet

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
NO_RETURN = "no-return"


def _table_head(styles: _Styles) -> Any:
    """Table headers carry their own format: LibreOffice and Gnumeric do not draw table styles."""
    return styles(bold=True, font_color="#FFFFFF", bg_color=_NAVY, valign="vcenter")


def _write_table(
    sheet: Any,
    styles: _Styles,
    top: int,
    name: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
) -> int:
    """Write rows of text as an Excel Table from `top`; return the last row used."""
    cell = styles(valign="top", text_wrap=True)
    for r, values in enumerate(rows, start=top + 1):
        # _write_text of each cell, a row at a time: 2,000 input files at national scale
        sheet.put_row(r, [(col, clean_text(v) or None, cell) for col, v in enumerate(values)])
    last = top + max(len(rows), 1)
    sheet.add_table(
        top,
        0,
        last,
        len(headers) - 1,
        {
            "name": name,
            "style": "Table Style Medium 2",
            "columns": [{"header": h, "header_format": _table_head(styles)} for h in headers],
        },
    )
    return last


def _write_issues_sheet(
    workbook: Any, styles: _Styles, register: Register, report: Report, hidden: bool
) -> None:
    sheet = workbook.add_worksheet(ISSUES_SHEET)
    issues = report.sorted().issues
    for col, width in enumerate((10, 28, 28, 14, 30, 60, 45, 11, 20)):
        sheet.set_column(col, col, width)
    sheet.write_string(
        0, 0, "Problems found in the inputs", styles(bold=True, font_size=15, font_color=_NAVY)
    )
    counts = ", ".join(
        f"{report.count(s)} {s.value}{'' if report.count(s) == 1 else 's'}" for s in _SEVERITY_ORDER
    )
    summary = f"{len(issues)} in all: {counts}. Worst first." if issues else "No problems found."
    sheet.write_string(1, 0, summary, styles(italic=True))
    rows = [
        (str(i.severity), i.file, i.sheet, i.cell, i.code, i.message, i.fix, i.measure_id, i.value)
        for i in issues
    ]
    last = _write_table(sheet, styles, 3, ISSUES_TABLE, ISSUE_HEADERS, rows)

    top = last + 3
    sheet.write_string(
        top - 1, 0, "Chase list: measures with no return", styles(bold=True, font_size=12)
    )
    chase: list[tuple[str, ...]] = []
    for issue in issues:
        if issue.code != NO_RETURN:
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
    _write_table(sheet, styles, top, CHASE_TABLE, CHASE_HEADERS, chase)
    sheet.freeze_panes(4, 0)
    sheet.set_paper(9)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    if hidden:
        sheet.hide()


# --------------------------------------------------------------------------- About sheet

INPUT_HEADERS = ("File", "SHA-256", "Theme", "Submitted", "Read")


def _write_about_sheet(
    workbook: Any,
    styles: _Styles,
    register: Register,
    inputs: Sequence[InputFile],
    options: DashboardOptions,
    hidden: bool,
) -> None:
    settings = register.settings
    sheet = workbook.add_worksheet(ABOUT_SHEET)
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 1, 68)
    sheet.set_column(2, 4, 16)
    sheet.write_string(
        0, 0, "About this workbook", styles(bold=True, font_size=15, font_color=_NAVY)
    )
    key = styles(bold=True, valign="top")
    value = styles(valign="top", text_wrap=True)
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
    for r, (label, text) in enumerate(facts, start=2):
        sheet.write_string(r, 0, label, key)
        _write_text(sheet, r, 1, clean_text(text), value)
    top = 2 + len(facts) + 1
    sheet.write_string(top, 0, "Input files", styles(bold=True, font_size=12))
    rows = [(f.file, f.sha256, f.theme, f.submitted, str(f.status)) for f in inputs]
    _write_table(sheet, styles, top + 1, INPUTS_TABLE, INPUT_HEADERS, rows)
    sheet.set_paper(9)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    if hidden:
        sheet.hide()


__all__ = [
    "DASHBOARD_SHEET",
    "DEFAULT_ICON_STYLE",
    "ICON_STYLES",
    "SHAPE_DISTINCT_ICON_STYLES",
    "SHEETS",
    "STATUS_CODES",
    "DashboardOptions",
    "InputFile",
    "InputStatus",
    "build_dashboard",
    "clean_text",
    "write_atomic",
    "write_dashboard",
    "write_dashboard_pdf",
]
