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
`write_string`, so nothing ever becomes a formula.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from rag_workbook import __version__, layout
from rag_workbook.cells import parse_date
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
from rag_workbook.returns import read_previous_values

_STATUS_CHOICES = [str(s) for s in Status]
_FIXED_CREATED = dt.datetime(2000, 1, 1)  # deterministic bytes when no submitted date is given
_COL_WIDTHS = {
    layout.COL_ID: 7,
    layout.COL_MEASURE: 48,
    layout.COL_UNIT: 10,
    layout.COL_BASELINE: 10,
    layout.COL_TARGET: 12,
    "Q1": 10,
    "Q2": 10,
    "Q3": 10,
    "Q4": 10,
    layout.COL_OVERRIDE: 15,
    layout.COL_OVERRIDE_REASON: 30,
    layout.COL_COMMENT: 50,
}


def _theme_measures(register: Register, theme: str) -> tuple[Measure, ...]:
    return tuple(m for m in register.measures if m.theme == theme)


def _theme_lead(measures: tuple[Measure, ...]) -> str:
    return ", ".join(dict.fromkeys(m.lead for m in measures if m.lead))


def _parse_date(text: str) -> dt.datetime | None:
    """An ISO date or datetime string as a datetime, or None (cells.parse_date)."""
    return parse_date(text)


def _target_cell(measure: Measure) -> float | str | None:
    if measure.target is None:
        return None
    if measure.target_form == TargetForm.PERCENT_CHANGE:
        return f"{measure.target:+g}% on baseline"
    return measure.target


def _write_any(ws: Any, row: int, col: int, value: float | str | None, fmt: Any) -> None:
    """Numbers as numbers, everything else as literal text (never a formula)."""
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_string(row, col, str(value), fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, float(value), fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def write_return(
    path: str | Path,
    register: Register,
    theme: str,
    *,
    values: Mapping[tuple[str, str], float | str] | None = None,
    notes: Mapping[str, RowNotes] | None = None,
    quarter: str = "",
    submitted: str = "",
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
    measures = _theme_measures(register, theme)
    if not measures:
        raise ValueError(f"theme {theme!r} has no measures in the register")
    values = values or {}
    notes = notes or {}
    settings = register.settings
    submitted_at = _parse_date(submitted) if submitted else None
    buffer = io.BytesIO()
    try:
        wb = xlsxwriter.Workbook(buffer, {"strings_to_numbers": False, "in_memory": True})
        wb.set_properties(
            {
                "title": f"{settings.partnership} {theme} return {settings.year}".strip(),
                "author": "rag-workbook",
                "comments": f"rag-workbook {__version__}",
                "created": submitted_at or _FIXED_CREATED,
            }
        )
        _write_return_sheet(wb, register, theme, measures, values, notes, quarter, submitted_at)
        _write_instructions(wb, register, theme)
        _write_meta(wb, register, theme, measures)
        wb.close()
    except ValueError:
        raise
    except Exception as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write to {path.parent}: {exc.strerror or exc}") from exc
    return write_atomic(buffer.getvalue(), path)


def _write_return_sheet(
    wb: Any,
    register: Register,
    theme: str,
    measures: tuple[Measure, ...],
    values: Mapping[tuple[str, str], float | str],
    notes: Mapping[str, RowNotes],
    quarter: str,
    submitted_at: dt.datetime | None,
) -> None:
    settings = register.settings
    ws = wb.add_worksheet(layout.RETURN_SHEET)
    title = wb.add_format({"bold": True, "font_size": 14})
    label = wb.add_format({"bold": True, "locked": True})
    fixed = wb.add_format({"locked": True})
    editable = wb.add_format({"locked": False, "bg_color": "#FFF9E5", "border": 1})
    date_fmt = wb.add_format(
        {"locked": False, "bg_color": "#FFF9E5", "border": 1, "num_format": "yyyy-mm-dd"}
    )
    head = wb.add_format(
        {"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True, "valign": "top"}
    )
    cell_fixed = wb.add_format({"locked": True, "border": 1, "text_wrap": True, "valign": "top"})
    cell_num = wb.add_format({"locked": False, "border": 1, "bg_color": "#FFF9E5", "valign": "top"})
    cell_text = wb.add_format(
        {"locked": False, "border": 1, "bg_color": "#FFF9E5", "text_wrap": True, "valign": "top"}
    )

    ws.write_string(0, 0, f"{settings.partnership}: {theme} performance return".strip(), title)
    header_values: dict[str, str] = {
        "Partnership": settings.partnership,
        "Theme": theme,
        "Lead": _theme_lead(measures),
        "Year": settings.year,
        "Quarter": quarter,
        "Submitted": "",
    }
    for offset, name in enumerate(layout.HEADER_LABELS):
        row = layout.HEADER_FIRST_ROW + offset
        ws.write_string(row, 0, name, label)
        if name == "Submitted":
            if submitted_at is not None:
                ws.write_datetime(row, 1, submitted_at, date_fmt)
            else:
                ws.write_blank(row, 1, None, date_fmt)
            ws.data_validation(
                row,
                1,
                row,
                1,
                {
                    "validate": "date",
                    "criteria": ">=",
                    "value": dt.datetime(2000, 1, 1),
                    "input_title": "Submitted",
                    "input_message": "The date you send this return (yyyy-mm-dd).",
                    "error_type": "warning",
                },
            )
        elif name == "Quarter":
            _write_any(ws, row, 1, header_values[name], editable)
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
            _write_any(ws, row, 1, header_values[name], fixed)

    hrow = layout.TABLE_HEADER_ROW
    cols = {name: i for i, name in enumerate(layout.TABLE_COLUMNS)}
    for name, col in cols.items():
        ws.write_string(hrow, col, name, head)
        ws.set_column(col, col, _COL_WIDTHS.get(name, 12))

    first = hrow + 1
    for i, m in enumerate(measures):
        row = first + i
        _write_any(ws, row, cols[layout.COL_ID], m.measure_id, cell_fixed)
        _write_any(ws, row, cols[layout.COL_MEASURE], m.text, cell_fixed)
        _write_any(ws, row, cols[layout.COL_UNIT], m.unit, cell_fixed)
        _write_any(ws, row, cols[layout.COL_BASELINE], m.baseline, cell_fixed)
        _write_any(ws, row, cols[layout.COL_TARGET], _target_cell(m), cell_fixed)
        for q in QUARTERS:
            _write_any(ws, row, cols[q], values.get((m.measure_id, q)), cell_num)
        note = notes.get(m.measure_id)
        override = str(note.override) if note and note.override else ""
        _write_any(ws, row, cols[layout.COL_OVERRIDE], override, cell_text)
        _write_any(
            ws,
            row,
            cols[layout.COL_OVERRIDE_REASON],
            note.override_reason if note else "",
            cell_text,
        )
        _write_any(ws, row, cols[layout.COL_COMMENT], note.comment if note else "", cell_text)

    last = first + len(measures) - 1
    q1, q4 = cols["Q1"], cols["Q4"]
    ws.data_validation(
        first,
        q1,
        last,
        q4,
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
    ws.freeze_panes(first, cols[layout.COL_MEASURE] + 1)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(hrow)
    ws.set_footer("&L&F&RPage &P of &N")
    ws.print_area(0, 0, max(last, hrow), len(layout.TABLE_COLUMNS) - 1)
    ws.activate()


def _write_instructions(wb: Any, register: Register, theme: str) -> None:
    ws = wb.add_worksheet(layout.INSTRUCTIONS_SHEET)
    bold = wb.add_format({"bold": True, "font_size": 13})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    ws.set_column(0, 0, 100)
    settings = register.settings
    deadline = ""
    for key, val in settings.extra.items():
        if key.strip().lower() in ("deadline", "return deadline", "returns deadline", "due"):
            deadline = str(val)
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
        "5. Comment: one or two sentences for the committee; it is printed as you type it.",
        "6. Grey columns (ID, measure, unit, baseline, target) are locked. Do not add, move or "
        "delete rows or columns; keep the sheet names.",
        "7. Save the file (any name, .xlsx preferred) and send it back to the analyst.",
    ]
    if deadline:
        lines.append("")
        lines.append(f"Deadline: {deadline}")
    ws.write_string(0, 0, lines[0], bold)
    for i, text in enumerate(lines[1:], start=1):
        if text:
            ws.write_string(i, 0, text, wrap)


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
    for row, key in enumerate(layout.META_KEYS):
        ws.write_string(row, 0, key)
        ws.write_string(row, 1, meta.get(key, ""))
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
    register: Register, out_dir: str | Path, *, previous: str | Path | None = None
) -> list[Path]:
    """Write one blank return workbook per theme into `out_dir`.

    A lead with several themes gets one file per theme. File names come from the theme
    and its lead (see `return_file_name`). Quarters that have a value in `previous` are
    pre-filled; the reporting quarter is the register's `current_quarter` setting.

    Args:
        register: the register of measures and settings.
        out_dir: the folder to write into (created when missing).
        previous: a previous dashboard.xlsx whose Data sheet pre-fills earlier quarters.

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
    prefill = read_previous_values(previous) if previous is not None else {}
    quarter = register.settings.current_quarter.strip().upper()
    if quarter not in QUARTERS:
        quarter = ""
    written: list[Path] = []
    for theme in register.themes:
        ids = {m.measure_id for m in _theme_measures(register, theme)}
        values = {key: v for key, v in prefill.items() if key[0] in ids}
        written.append(
            write_return(
                out / return_file_name(register, theme),
                register,
                theme,
                values=values,
                quarter=quarter,
            )
        )
    return written


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
    )
    for i, (key, value) in enumerate(zip(layout.SETTINGS_KEYS, values, strict=True), start=1):
        ws.write_string(i, 0, key, formats["plain"])
        ws.write_string(i, 1, value, formats["text"])
        ws.write_string(i, 2, _SETTING_HELP.get(key, ""), formats["help"])
    for i, (key, value) in enumerate(s.extra.items(), start=len(values) + 1):
        ws.write_string(i, 0, key, formats["plain"])
        ws.write_string(i, 1, value, formats["text"])
    last = len(layout.SETTINGS_KEYS)
    ws.data_validation(last, 1, last, 1, {"validate": "list", "source": ["Yes", "No"]})
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
