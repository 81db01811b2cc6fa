"""Stage: issue return workbooks to theme leads.

Input: the Register (measures and settings), optionally a previous dashboard whose values
pre-fill earlier quarters. Output: one return workbook per theme (xlsxwriter), laid out
exactly as `layout.py` says, so that `returns.py` can read it back.

A lead with several themes gets one file per theme: each file then has one table, one
theme in its header block and metadata, and can be forwarded to a deputy on its own.

Quarter cells use a *decimal* data validation whose error style is "warning", not "stop":
Excel refuses array constants in custom validation formulas, so a list of no-data words
cannot be allowed there. With a warning the lead may still type `n/a` or `-` (Excel asks
once, "Continue?"), and the reader treats those words as "no value" with the text kept as
the reason. Every text from the register or from `values`/`notes` is written with
`write_string`, so nothing ever becomes a formula, and a text Excel could take for a
formula once a lead edits its cell (`=...`, `-...`) carries the quote prefix.

The form is set in Arial (Liberation Sans, of the same widths, where LibreOffice has no
Arial), so the column widths and row heights computed here hold in Excel and LibreOffice:
no label is clipped and no wrapped text runs into the next row.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter

from rag_workbook import __version__, layout
from rag_workbook.cells import parse_date
from rag_workbook.columns import looks_like_formula
from rag_workbook.errors import OutputError
from rag_workbook.model import (
    QUARTERS,
    Basis,
    Measure,
    Polarity,
    Register,
    RowNotes,
    Settings,
    Status,
    TargetForm,
    ToleranceForm,
)
from rag_workbook.output import write_atomic
from rag_workbook.rag import format_number, quarter_targets
from rag_workbook.returns import read_previous_return

_STATUS_CHOICES = [str(s) for s in Status]
_FIXED_CREATED = dt.datetime(2000, 1, 1)  # deterministic bytes when no submitted date is given
_FONT = {"font_name": "Arial", "font_size": 11}
# The Normal style in Arial 10, whose digit is as wide as Calibri 11's (7 pixels): column
# widths then mean what xlsxwriter assumes, in Excel and in LibreOffice (which sizes columns
# by the Normal font and has no Calibri of the same widths, so a Calibri form came out
# wider than its page there).
_WORKBOOK_OPTIONS = {
    "strings_to_numbers": False,
    "in_memory": True,
    "default_format_properties": {"font_name": "Arial", "font_size": 10},
    "default_row_height": 17,
}
_LINE_HEIGHT = 14.0  # points a line of Arial 11 takes in a row
_ROW_PADDING = 4.0  # points above and below the lines of a table row
_MAX_ROW_HEIGHT = 409.0  # Excel's limit
_COL_WIDTHS = {
    layout.COL_ID: 7,
    layout.COL_MEASURE: 44,
    layout.COL_UNIT: 11,
    layout.COL_BASELINE: 10,
    layout.COL_TARGET: 13,
    "Q1": 10,
    "Q2": 10,
    "Q3": 10,
    "Q4": 10,
    layout.COL_OVERRIDE: 12,
    layout.COL_OVERRIDE_REASON: 26,
    layout.COL_COMMENT: 40,
    layout.COL_ACTION: 30,
}
_MAX_TARGET_WIDTH = 20  # a wider per-quarter target wraps


@dataclass(frozen=True)
class _Style:
    """A cell format, and the same with the quote prefix for text Excel could take for a
    formula when a lead edits its cell."""

    plain: Any
    quoted: Any

    def pick(self, text: str) -> Any:
        return self.quoted if looks_like_formula(text) else self.plain


def _style(wb: Any, props: Mapping[str, object]) -> _Style:
    plain = wb.add_format({**_FONT, **props})
    return _Style(plain, wb.add_format({**_FONT, **props, "quote_prefix": True}))


@dataclass(frozen=True)
class _ReturnStyles:
    """The formats of the Return sheet."""

    title: _Style
    label: _Style
    fixed: _Style
    editable: _Style
    date: Any
    head: Any
    cell_fixed: _Style
    cell_num: _Style
    cell_text: _Style


def _return_styles(wb: Any) -> _ReturnStyles:
    box = {"locked": False, "bg_color": "#FFF9E5", "border": 1}
    return _ReturnStyles(
        title=_style(wb, {"bold": True, "font_size": 14}),
        label=_style(wb, {"bold": True, "locked": True}),
        fixed=_style(wb, {"locked": True}),
        editable=_style(wb, box),
        date=wb.add_format({**_FONT, **box, "num_format": "yyyy-mm-dd"}),
        head=wb.add_format(
            {**_FONT, "bold": True, "bg_color": "#D9E1F2", "border": 1}
            | {"text_wrap": True, "valign": "top"}
        ),
        cell_fixed=_style(wb, {"locked": True, "border": 1, "text_wrap": True, "valign": "top"}),
        cell_num=_style(wb, {**box, "valign": "top"}),
        cell_text=_style(wb, {**box, "text_wrap": True, "valign": "top"}),
    )


def _chars_per_line(width: float, *, bold: bool = False) -> int:
    """Characters of Arial 11 (bold: fewer) that fit a column `width` wide, with a margin."""
    return max(1, int(width * (0.9 if bold else 1.0)) - 1)


def _lines(text: str, width: float, *, bold: bool = False) -> int:
    """Lines `text` takes wrapped at word breaks in a column `width` wide (at least 1)."""
    per_line = _chars_per_line(width, bold=bold)
    total = 0
    for part in text.split("\n"):
        lines, used = 1, 0
        for word in part.split():
            # A word longer than a line is broken across lines.
            size = len(word)
            if used and used + 1 + size > per_line:
                lines, used = lines + 1, 0
            if used:
                used += 1
            while size > per_line:
                lines, size = lines + 1, size - per_line
            used += size
        total += lines
    return max(1, total)


def _text_width(text: str, *, bold: bool = False) -> float:
    """The narrowest column width in which `text` takes one line."""
    longest = max((len(line) for line in text.split("\n")), default=0)
    return (longest + 1) / (0.9 if bold else 1.0) + 1


def _row_height(lines: int) -> float:
    return min(_MAX_ROW_HEIGHT, _LINE_HEIGHT * lines + _ROW_PADDING)


def _theme_measures(register: Register, theme: str) -> tuple[Measure, ...]:
    return tuple(m for m in register.measures if m.theme == theme)


def _theme_lead(measures: tuple[Measure, ...]) -> str:
    return ", ".join(dict.fromkeys(m.lead for m in measures if m.lead))


def _parse_date(text: str) -> dt.datetime | None:
    """An ISO date or datetime string as a datetime, or None (cells.parse_date)."""
    return parse_date(text)


def _change_text(change: float) -> str:
    """A % change target in words: '5% below baseline' rather than '-5%', which a reader
    may take for a minus sign lost and Excel for a formula."""
    if change == 0:
        return "the baseline"
    side = "below" if change < 0 else "above"
    return f"{format_number(abs(change))}% {side} baseline"


def _target_cell(
    measure: Measure, targets: tuple[float, float, float, float] | None
) -> float | str | None:
    """What the Target column shows: for a Cumulative measure the year-to-date figure due
    by the end of each quarter ('Q1: 123.5' ... 'Q4: 494', one line each), as `rag`
    profiles it; for a Snapshot measure its target (a % change also as the number)."""
    unit = "%" if measure.unit.strip() == "%" else ""
    if measure.basis is Basis.CUMULATIVE and targets is not None:
        return "\n".join(
            f"{q}: {format_number(t)}{unit}" for q, t in zip(QUARTERS, targets, strict=True)
        )
    if measure.target is None:
        return None
    if measure.target_form == TargetForm.PERCENT_CHANGE:
        change = _change_text(measure.target)
        if targets is None or measure.polarity is Polarity.MAINTAIN:
            return change
        return f"{format_number(targets[3])}{unit} ({change})"
    return measure.target


def _write_any(ws: Any, row: int, col: int, value: float | str | None, style: _Style) -> None:
    """Numbers as numbers, everything else as literal text (never a formula, and with the
    quote prefix where Excel could take it for one)."""
    if value is None or value == "":
        ws.write_blank(row, col, None, style.plain)
    elif isinstance(value, bool):
        ws.write_string(row, col, str(value), style.plain)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, float(value), style.plain)
    else:
        text = str(value)
        ws.write_string(row, col, text, style.pick(text))


def write_return(
    path: str | Path,
    register: Register,
    theme: str,
    *,
    values: Mapping[tuple[str, str], float | str] | None = None,
    notes: Mapping[str, RowNotes] | None = None,
    quarter: str = "",
    submitted: str = "",
    approved_by: str = "",
    approved_on: str = "",
) -> Path:
    """Write one return workbook for one theme, blank or filled in.

    Args:
        path: where to write the .xlsx file (written to a temporary file, then renamed).
        register: the register of measures and settings.
        theme: the theme whose measures make the table (must be in the register).
        values: `(measure_id, "Q1".."Q4") -> value`; numbers are written as numbers,
            text (such as `"n/a"` or `"-"`) as text.
        notes: `measure_id -> RowNotes` giving the status override, its reason and the
            comment of each row.
        quarter: the reporting quarter written in the header block ("Q1".."Q4" or "").
        submitted: an ISO date written as the Submitted date ("" leaves it blank).
        approved_by: the Approved By name ("" leaves it blank).
        approved_on: an ISO date written as the Approved On date ("" leaves it blank).

    Returns:
        The path written.

    Raises:
        ValueError: when `theme` has no measures in the register.
        OutputError: when the file cannot be written.
        OutputLockedError: when the file exists and cannot be replaced (open in Excel).

    Example:
        >>> write_return("ASB.xlsx", register, "ASB", values={("1.1", "Q1"): 120.0})
    """
    path = Path(path)
    data = build_return(
        register,
        theme,
        values=values,
        notes=notes,
        quarter=quarter,
        submitted=submitted,
        approved_by=approved_by,
        approved_on=approved_on,
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write to {path.parent}: {exc.strerror or exc}") from exc
    return write_atomic(data, path)


def build_return(
    register: Register,
    theme: str,
    *,
    values: Mapping[tuple[str, str], float | str] | None = None,
    notes: Mapping[str, RowNotes] | None = None,
    quarter: str = "",
    submitted: str = "",
    approved_by: str = "",
    approved_on: str = "",
) -> bytes:
    """The bytes of the return workbook `write_return` writes (the same arguments).

    Raises:
        ValueError: when `theme` has no measures in the register.
        OutputError: when the workbook cannot be made.

    Example:
        >>> data = build_return(register, "ASB")
    """
    measures = _theme_measures(register, theme)
    if not measures:
        raise ValueError(f"theme {theme!r} has no measures in the register")
    values = values or {}
    notes = notes or {}
    settings = register.settings
    submitted_at = _parse_date(submitted) if submitted else None
    buffer = io.BytesIO()
    try:
        wb = xlsxwriter.Workbook(buffer, _WORKBOOK_OPTIONS)
        wb.set_properties(
            {
                "title": f"{settings.partnership} {theme} return {settings.year}".strip(),
                "author": "rag-workbook",
                "comments": f"rag-workbook {__version__}",
                "created": submitted_at or _FIXED_CREATED,
            }
        )
        approval = (approved_by, _parse_date(approved_on) if approved_on else None)
        _write_return_sheet(
            wb, register, theme, measures, values, notes, quarter, submitted_at, approval
        )
        _write_instructions(wb, register, theme)
        _write_meta(wb, register, theme, measures)
        wb.close()
    except ValueError:
        raise
    except Exception as exc:
        raise OutputError(f"cannot make the {theme} return: {exc}") from exc
    return buffer.getvalue()


def _write_return_sheet(
    wb: Any,
    register: Register,
    theme: str,
    measures: tuple[Measure, ...],
    values: Mapping[tuple[str, str], float | str],
    notes: Mapping[str, RowNotes],
    quarter: str,
    submitted_at: dt.datetime | None,
    approval: tuple[str, dt.datetime | None] = ("", None),
) -> None:
    ws = wb.add_worksheet(layout.RETURN_SHEET)
    styles = _return_styles(wb)
    settings = register.settings
    title = f"{settings.partnership}: {theme} performance return".strip()
    ws.write_string(0, 0, title, styles.title.pick(title))
    ws.set_row(0, 21)
    header_values = {
        "Partnership": settings.partnership,
        "Theme": theme,
        "Lead": _theme_lead(measures),
        "Year": settings.year,
        "Quarter": quarter,
        "Approved By": approval[0],
    }
    _write_header_block(ws, styles, header_values, submitted_at, approval[1])
    targets = quarter_targets(register)
    rows = [_row_cells(m, targets.get(m.measure_id), values, notes) for m in measures]
    widths = _column_widths(rows)
    _write_table(ws, styles, rows, widths)
    first = layout.TABLE_HEADER_ROW + 1
    last = first + len(measures) - 1
    _add_table_validations(ws, first, last)
    _finish_return_sheet(ws, last)


def _write_header_block(
    ws: Any,
    styles: _ReturnStyles,
    header_values: Mapping[str, str],
    submitted_at: dt.datetime | None,
    approved_at: dt.datetime | None = None,
) -> None:
    """Labels in column A, values in column B: the partnership's, and the lead's two boxes
    (the Quarter reported and the Submitted date)."""
    for offset, name in enumerate(layout.HEADER_LABELS):
        row = layout.HEADER_FIRST_ROW + offset
        ws.write_string(row, 0, name, styles.label.plain)
        if name in ("Submitted", "Approved On"):
            when = submitted_at if name == "Submitted" else approved_at
            if when is not None:
                ws.write_datetime(row, 1, when, styles.date)
            else:
                ws.write_blank(row, 1, None, styles.date)
            message = (
                "The date you send this return (yyyy-mm-dd)."
                if name == "Submitted"
                else "The date the values were approved (yyyy-mm-dd)."
            )
            ws.data_validation(
                row,
                1,
                row,
                1,
                {
                    "validate": "date",
                    "criteria": ">=",
                    "value": dt.datetime(2000, 1, 1),
                    "input_title": name,
                    "input_message": message,
                    "error_type": "warning",
                },
            )
        elif name == "Approved By":
            _write_any(ws, row, 1, header_values.get(name, ""), styles.editable)
            ws.data_validation(
                row,
                1,
                row,
                1,
                {
                    "validate": "any",
                    "input_title": name,
                    "input_message": "The name of who approved the values in this return.",
                },
            )
        elif name == "Quarter":
            _write_any(ws, row, 1, header_values[name], styles.editable)
            ws.data_validation(
                row,
                1,
                row,
                1,
                {
                    "validate": "list",
                    "source": list(QUARTERS),
                    "input_title": "Quarter",
                    "input_message": "The quarter this return reports.",
                },
            )
        else:
            _write_any(ws, row, 1, header_values[name], styles.fixed)


def _row_cells(
    measure: Measure,
    targets: tuple[float, float, float, float] | None,
    values: Mapping[tuple[str, str], float | str],
    notes: Mapping[str, RowNotes],
) -> dict[str, float | str | None]:
    """One measure's table row: column label -> what its cell holds."""
    note = notes.get(measure.measure_id)
    cells: dict[str, float | str | None] = {
        layout.COL_ID: measure.measure_id,
        layout.COL_MEASURE: measure.text,
        layout.COL_UNIT: measure.unit,
        layout.COL_BASELINE: measure.baseline,
        layout.COL_TARGET: _target_cell(measure, targets),
    }
    for q in QUARTERS:
        cells[q] = values.get((measure.measure_id, q))
    cells[layout.COL_OVERRIDE] = str(note.override) if note and note.override else ""
    cells[layout.COL_OVERRIDE_REASON] = note.override_reason if note else ""
    cells[layout.COL_COMMENT] = note.comment if note else ""
    cells[layout.COL_ACTION] = note.action if note else ""
    return cells


def _column_widths(rows: Sequence[Mapping[str, float | str | None]]) -> dict[str, float]:
    """The table's column widths: column A also holds the header block's bold labels; the
    Target column widens (up to a limit) to its longest line, so the per-quarter targets
    take one line each."""
    widths: dict[str, float] = {name: float(_COL_WIDTHS[name]) for name in layout.TABLE_COLUMNS}
    labels = max(_text_width(label, bold=True) for label in layout.HEADER_LABELS)
    widths[layout.COL_ID] = max(widths[layout.COL_ID], labels)
    for row in rows:
        target = row[layout.COL_TARGET]
        if isinstance(target, str):
            need = min(_MAX_TARGET_WIDTH, _text_width(target))
            widths[layout.COL_TARGET] = max(widths[layout.COL_TARGET], need)
    return widths


def _write_table(
    ws: Any,
    styles: _ReturnStyles,
    rows: Sequence[Mapping[str, float | str | None]],
    widths: Mapping[str, float],
) -> None:
    """The header row and one row per measure, each row as tall as its longest text."""
    hrow = layout.TABLE_HEADER_ROW
    header_lines = 1
    for col, name in enumerate(layout.TABLE_COLUMNS):
        ws.write_string(hrow, col, name, styles.head)
        ws.set_column(col, col, widths[name])
        header_lines = max(header_lines, _lines(name, widths[name], bold=True))
    ws.set_row(hrow, _row_height(header_lines))
    locked = {layout.COL_ID, layout.COL_MEASURE, layout.COL_UNIT, layout.COL_BASELINE}
    locked.add(layout.COL_TARGET)
    for i, cells in enumerate(rows):
        row = hrow + 1 + i
        lines = 1
        for col, name in enumerate(layout.TABLE_COLUMNS):
            value = cells[name]
            style = styles.cell_fixed if name in locked else styles.cell_text
            if name in QUARTERS:
                style = styles.cell_num
            _write_any(ws, row, col, value, style)
            if isinstance(value, str):
                lines = max(lines, _lines(value, widths[name]))
        ws.set_row(row, _row_height(lines))


def _add_table_validations(ws: Any, first: int, last: int) -> None:
    """Numbers in the quarter cells (a warning: no-data words stay possible), a status in
    the override cells."""
    cols = {name: i for i, name in enumerate(layout.TABLE_COLUMNS)}
    ws.data_validation(
        first,
        cols["Q1"],
        last,
        cols["Q4"],
        {
            "validate": "decimal",
            "criteria": "between",
            "minimum": -1e15,
            "maximum": 1e15,
            "input_title": "Value",
            "input_message": "Type the number only. No data? Type n/a or - "
            "and say why in the comment.",
            "error_title": "Not a number",
            "error_message": "This cell expects a number. Keep it only if it is a "
            "no-data word such as n/a, - or no data.",
            "error_type": "warning",
        },
    )
    ov = cols[layout.COL_OVERRIDE]
    ws.data_validation(
        first,
        ov,
        last,
        ov,
        {
            "validate": "list",
            "source": _STATUS_CHOICES,
            "input_title": "Status override",
            "input_message": "Only if the calculated status is wrong; give a reason.",
        },
    )


def _finish_return_sheet(ws: Any, last: int) -> None:
    """Protection, frozen panes and the print setup of the Return sheet."""
    hrow = layout.TABLE_HEADER_ROW
    # Protection without a password: leads cannot break the table by accident, the
    # analyst can still unprotect it.
    ws.protect(
        "",
        {
            "format_columns": True,
            "format_rows": True,
            "select_locked_cells": True,
            "select_unlocked_cells": True,
        },
    )
    ws.freeze_panes(hrow + 1, layout.TABLE_COLUMNS.index(layout.COL_MEASURE) + 1)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(hrow)
    ws.set_footer("&L&F&RPage &P of &N")
    ws.print_area(0, 0, max(last, hrow), len(layout.TABLE_COLUMNS) - 1)
    ws.activate()


def _write_instructions(wb: Any, register: Register, theme: str) -> None:
    ws = wb.add_worksheet(layout.INSTRUCTIONS_SHEET)
    bold = _style(wb, {"bold": True, "font_size": 13})
    wrap = _style(wb, {"text_wrap": True, "valign": "top"})
    width = 90
    ws.set_column(0, 0, width)
    settings = register.settings
    deadline = ""
    for key, val in settings.extra.items():
        if key.strip().lower() in ("deadline", "return deadline", "returns deadline", "due"):
            deadline = str(val)
    deadline = deadline or settings.returns_due
    words = ", ".join(sorted(layout.NO_VALUE_WORDS))
    lines = [
        f"How to fill in this {theme} return for {settings.partnership} {settings.year}".strip(),
        "",
        "1. On the Return sheet, choose the Quarter you report and type the Submitted date.",
        "2. Type each quarter's value in the Q1..Q4 columns: the number only, with no units, "
        "words or % signs (12.5, not '12.5%').",
        f"3. No data for a quarter? Type one of these words instead: {words}. Say why in the "
        "Comment column; the dashboard shows the measure as 'No data' (-).",
        "4. Status override: only when the calculated status is wrong for a good reason. "
        "An override counts only with an Override reason.",
        "5. Comment: one or two sentences for the committee; it is printed as you type it. "
        "Action: what you will do about a measure off target (it is listed on the "
        "dashboard's Exceptions sheet and carried to next quarter's form).",
        "6. Grey columns (ID, measure, unit, baseline, target) are locked. Do not add, move or "
        "delete rows or columns; keep the sheet names.",
        "7. Approved By and Approved On: who approved the values, and when.",
        "8. Save the file (any name, .xlsx preferred) and send it back to the analyst.",
        "",
        "Target: for a year-to-date (Cumulative) measure, the year-to-date figure due by the "
        "end of each quarter (Q1: ... Q4: the annual target); for any other measure, the value "
        "to reach.",
    ]
    if deadline:
        lines.append("")
        lines.append(f"Deadline: {deadline}")
    ws.write_string(0, 0, lines[0], bold.pick(lines[0]))
    ws.set_row(0, 20)
    for i, text in enumerate(lines[1:], start=1):
        if text:
            ws.write_string(i, 0, text, wrap.pick(text))
            ws.set_row(i, _row_height(_lines(text, width)))
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)


def _write_meta(wb: Any, register: Register, theme: str, measures: tuple[Measure, ...]) -> None:
    ws = wb.add_worksheet(layout.META_SHEET)
    meta = {
        "kind": layout.META_KIND,
        "format_version": layout.FORMAT_VERSION,
        "partnership": register.settings.partnership,
        "theme": theme,
        "lead": _theme_lead(measures),
        "year": register.settings.year,
        "fingerprint": register.fingerprint,
        "measures": ",".join(m.measure_id for m in measures),
    }
    quoted = wb.add_format({"quote_prefix": True})
    for row, key in enumerate(layout.META_KEYS):
        ws.write_string(row, 0, key)
        value = meta.get(key, "")
        ws.write_string(row, 1, value, quoted if looks_like_formula(value) else None)
    ws.hide()
    # Also as document properties, which the reader finds without parsing the sheet
    # (a twelfth of reading a return, issue 6); the sheet stays for older readers.
    if all(len(meta.get(key, "")) <= layout.META_PROPERTY_MAX_CHARS for key in layout.META_KEYS):
        for key in layout.META_KEYS:
            wb.set_custom_property(layout.META_PROPERTY_PREFIX + key, meta.get(key, ""))


def _safe_name(text: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", text.strip()).strip("._")
    return safe or "return"


def return_file_name(register: Register, theme: str) -> str:
    """The deterministic, filesystem-safe file name `issue_returns` gives a theme's return.

    Args:
        register: the register of measures.
        theme: one of the register's themes.

    Returns:
        A name like `ASB_Jane_Smith.xlsx` (theme, then lead).

    Example:
        >>> return_file_name(register, "Criminal Damage")
        'Criminal_Damage_Joe_Bloggs.xlsx'
    """
    lead = _theme_lead(_theme_measures(register, theme))
    parts = [theme] + ([lead] if lead else [])
    return _safe_name("_".join(parts)) + ".xlsx"


def issue_returns(
    register: Register,
    out_dir: str | Path,
    *,
    previous: str | Path | None = None,
    force: bool = False,
    on_skip: Callable[[Path], object] | None = None,
) -> list[Path]:
    """Write one blank return workbook per theme into `out_dir`.

    A lead with several themes gets one file per theme. File names come from the theme
    and its lead (see `return_file_name`). Quarters that have a value in `previous` are
    pre-filled; the reporting quarter is the register's `current_quarter` setting. A file
    of the same name that differs from the blank form would be a lead's filled return:
    it is never replaced unless `force`; its path goes to `on_skip` instead.

    Args:
        register: the register of measures and settings.
        out_dir: the folder to write into (created when missing).
        previous: a previous dashboard.xlsx whose Data sheet pre-fills the quarters
            before the reporting one (values, no-data words), and the comment and action
            of the latest of them.
        force: overwrite files that differ from the blank form too.
        on_skip: called with the path of each file kept rather than replaced.

    Returns:
        The paths written, in register theme order.

    Raises:
        InputError: when `previous` cannot be read.
        OutputError: when a file cannot be written.
        OutputLockedError: when a file exists and is open in Excel.

    Example:
        >>> issue_returns(register, "returns/")
        [PosixPath('returns/ASB_Jane_Smith.xlsx'), ...]
    """
    out = Path(out_dir)
    quarter = register.settings.current_quarter.strip().upper()
    if quarter not in QUARTERS:
        quarter = ""
    prefill, carried = _previous_prefill(previous, quarter) if previous is not None else ({}, {})
    written: list[Path] = []
    for theme in register.themes:
        ids = {m.measure_id for m in _theme_measures(register, theme)}
        values = {key: v for key, v in prefill.items() if key[0] in ids}
        notes = {mid: note for mid, note in carried.items() if mid in ids}
        path = out / return_file_name(register, theme)
        data = build_return(register, theme, values=values, notes=notes, quarter=quarter)
        if not force and _differs(path, data):
            if on_skip is not None:
                on_skip(path)
            continue
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot write to {out}: {exc.strerror or exc}") from exc
        written.append(write_atomic(data, path))
    return written


def _previous_prefill(
    previous: str | Path, quarter: str
) -> tuple[dict[tuple[str, str], float | str], dict[str, RowNotes]]:
    """What a previous dashboard pre-fills: the values (a no-data word where it had none)
    of the quarters before `quarter` (all of them when it is not set: the lead fills the
    current quarter), and each measure's comment and action of the latest of those
    quarters that has one. Overrides are not pre-filled: an override is for its quarter,
    and one pre-filled would be applied to the new quarter unless the lead cleared it."""
    data = read_previous_return(previous, Path(previous).name)
    limit = QUARTERS.index(quarter) if quarter in QUARTERS else len(QUARTERS)
    earlier = set(QUARTERS[:limit])
    values: dict[tuple[str, str], float | str] = {}
    for cell in data.values:
        if cell.quarter in earlier:
            values[(cell.measure_id, cell.quarter)] = (
                cell.value if cell.value is not None else _no_data_word(cell.text)
            )
    notes: dict[str, RowNotes] = {}
    latest: dict[str, int] = {}
    for note in data.notes:
        if note.quarter in earlier and (note.comment or note.action):
            index = QUARTERS.index(note.quarter)
            if index > latest.get(note.measure_id, -1):
                latest[note.measure_id] = index
                notes[note.measure_id] = RowNotes(
                    note.measure_id, comment=note.comment, action=note.action
                )
    return values, notes


def _no_data_word(reason: str) -> str:
    """The reason when it is a no-data word the reader knows, else 'n/a'."""
    word = " ".join(reason.split()).lower()
    return reason if word in layout.NO_VALUE_WORDS else "n/a"


def _differs(path: Path, data: bytes) -> bool:
    """True when `path` holds something other than `data` (a missing file does not)."""
    try:
        return path.read_bytes() != data
    except FileNotFoundError:
        return False
    except OSError:
        return path.exists()


# ---------------------------------------------------------------------------- the template
_SETTING_HELP = {
    "Partnership": "Name of the partnership (required)",
    "Title": "Dashboard title",
    "Year": "Reporting year, e.g. 2011/12",
    "Meeting": "Committee or meeting name",
    "Meeting Date": "Date of the meeting, e.g. 14 February 2012",
    "Agenda Item": "Agenda item number",
    "Icon Style": "Excel icon set for the quarter cells",
    "Current Quarter": "Q1..Q4, or blank for the latest quarter reported",
    "Show Direction": "Yes or No: show direction of travel",
    "Sign-off Required": "Yes or No: a return needs Approved By and Approved On",
    "Returns Due": "The date returns are due, e.g. 2012-01-20 (for the chase list)",
}

_TEMPLATE_WIDTHS = {
    "Theme": 16, "ID": 6, "Performance Measure": 50, "Lead": 18, "Lead Email": 26,
    "Polarity": 10, "Basis": 12, "Unit": 8, "Baseline": 10, "Target": 10,
    "Target Type": 11, "Tolerance": 10, "Tolerance Type": 11, "Profile": 16,
    "Data Source": 20, "Notes": 40,
}  # fmt: skip


def _profile_text(profile: Sequence[float] | None) -> str:
    if profile is None:
        return ""
    return ", ".join(f"{p * 100:.10g}" for p in profile)


def write_template(register: Register, path: str | Path) -> Path:
    """Write a register as a template workbook in the layout ``read_template`` reads.

    Percent columns are written as plain numbers in percent points (a target of -5 means
    5% below the baseline); drop-downs guard Polarity, Basis, Target Type and Tolerance Type.

    Args:
        register: the settings and measures to write.
        path: where to write the .xlsx file (its folder must exist).

    Returns:
        The path written.

    Raises:
        OutputError: the file cannot be written.

    Example:
        >>> write_template(register, tmp_path / "template.xlsx")  # doctest: +SKIP
    """
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True}
    )
    # A fixed creation date makes the same register give byte-identical files.
    workbook.set_properties({"created": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)})
    formats = {
        "header": workbook.add_format(
            {"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True, "valign": "top"}
        ),
        "text": workbook.add_format({"num_format": "@", "valign": "top", "text_wrap": True}),
        "plain": workbook.add_format({"valign": "top", "text_wrap": True}),
        "number": workbook.add_format({"valign": "top", "num_format": "General"}),
        "help": workbook.add_format({"italic": True, "font_color": "#595959", "valign": "top"}),
    }
    _write_settings_sheet(workbook.add_worksheet(layout.SETTINGS_SHEET), register.settings, formats)
    _write_measures_sheet(workbook.add_worksheet(layout.MEASURES_SHEET), register, formats)
    workbook.close()
    return write_atomic(buffer.getvalue(), Path(path))


def _write_settings_sheet(ws: Any, s: Settings, formats: Mapping[str, Any]) -> None:
    """The Settings sheet: one key, value and help text a row; Show Direction a drop-down."""
    ws.write_row(0, 0, (*layout.SETTINGS_HEADER, "Notes"), formats["header"])
    values = (
        s.partnership,
        s.title,
        s.year,
        s.meeting,
        s.meeting_date,
        s.agenda_item,
        s.icon_style,
        s.current_quarter,
        "Yes" if s.show_direction else "No",
        "Yes" if s.signoff_required else "No",
        s.returns_due,
    )
    for i, (key, value) in enumerate(zip(layout.SETTINGS_KEYS, values, strict=True), start=1):
        ws.write_string(i, 0, key, formats["plain"])
        ws.write_string(i, 1, value, formats["text"])
        ws.write_string(i, 2, _SETTING_HELP.get(key, ""), formats["help"])
    for i, (key, value) in enumerate(s.extra.items(), start=len(values) + 1):
        ws.write_string(i, 0, key, formats["plain"])
        ws.write_string(i, 1, value, formats["text"])
    for key in ("Show Direction", "Sign-off Required"):
        row = layout.SETTINGS_KEYS.index(key) + 1
        ws.data_validation(row, 1, row, 1, {"validate": "list", "source": ["Yes", "No"]})
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 40)
    ws.set_column(2, 2, 50)
    ws.freeze_panes(1, 0)


def _write_measures_sheet(ws: Any, register: Register, formats: Mapping[str, Any]) -> None:
    """The Measures sheet: a header row, a row per measure, drop-downs for the choices."""
    cols = {name: i for i, name in enumerate(layout.MEASURES_COLUMNS)}
    ws.write_row(0, 0, layout.MEASURES_COLUMNS, formats["header"])
    text_fmt, plain, number_fmt = formats["text"], formats["plain"], formats["number"]
    for name, c in cols.items():
        ws.set_column(c, c, _TEMPLATE_WIDTHS.get(name, 12), text_fmt if name == "ID" else None)
    for r, m in enumerate(register.measures, start=1):
        texts = {
            "Theme": m.theme, "ID": m.measure_id, "Performance Measure": m.text,
            "Lead": m.lead, "Lead Email": m.lead_email, "Polarity": str(m.polarity),
            "Basis": str(m.basis), "Unit": m.unit, "Target Type": str(m.target_form),
            "Tolerance Type": str(m.tolerance_form), "Profile": _profile_text(m.profile),
            "Data Source": m.data_source, "Notes": m.notes,
        }  # fmt: skip
        for name, value in texts.items():
            if value:
                ws.write_string(r, cols[name], value, text_fmt if name == "ID" else plain)
        for name, number in (
            ("Baseline", m.baseline),
            ("Target", m.target),
            ("Tolerance", m.tolerance),
        ):
            if number is not None:
                ws.write_number(r, cols[name], number, number_fmt)
    last = max(len(register.measures) + 200, 1000)
    for name, choices in (
        ("Polarity", [str(p) for p in Polarity]),
        ("Basis", [str(b) for b in Basis]),
        ("Target Type", [str(t) for t in TargetForm]),
        ("Tolerance Type", [str(t) for t in ToleranceForm]),
    ):
        ws.data_validation(
            1, cols[name], last, cols[name],
            {
                "validate": "list",
                "source": choices,
                "error_title": name,
                "error_message": "Choose one of: " + ", ".join(choices),
            },
        )  # fmt: skip
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(register.measures), 1), len(layout.MEASURES_COLUMNS) - 1)
