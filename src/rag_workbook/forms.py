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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import xlsxwriter

from rag_workbook import __version__, layout
from rag_workbook.errors import OutputError
from rag_workbook.model import QUARTERS, Measure, Register, RowNotes, Status, TargetForm
from rag_workbook.output import write_atomic

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
    """An ISO date or datetime string as a datetime, or None."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=None)


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
    data = build_return(
        register, theme, values=values, notes=notes, quarter=quarter, submitted=submitted
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


def _norm(text: object) -> str:
    return re.sub(r"[\W_]+", "", str(text)).lower()


def read_previous_values(previous: str | Path) -> dict[tuple[str, str], float]:
    """Values by (measure ID, quarter) from a previous dashboard's Data sheet.

    Args:
        previous: a dashboard.xlsx written by this tool (its "Data" sheet has the
            columns "Measure ID", "Quarter" and "Value").

    Returns:
        `(measure_id, "Q1".."Q4") -> value` for each row that has a number.

    Raises:
        InputError: when the file cannot be read or has no usable Data sheet.

    Example:
        >>> read_previous_values("dashboard.xlsx")[("1.1", "Q1")]
        120.0
    """
    from python_calamine import CalamineWorkbook

    from rag_workbook.errors import InputError

    try:
        with CalamineWorkbook.from_path(str(previous)) as wb:
            names = {_norm(n): n for n in wb.sheet_names}
            if "data" not in names:
                raise InputError(f"{previous}: no 'Data' sheet; give a dashboard this tool wrote")
            rows = wb.get_sheet_by_name(names["data"]).to_python(skip_empty_area=False)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{previous}: cannot read the previous dashboard ({exc})") from exc
    out: dict[tuple[str, str], float] = {}
    header: dict[str, int] | None = None
    for row in rows:
        if header is None:
            found = {_norm(v): i for i, v in enumerate(row) if isinstance(v, str)}
            if {"measureid", "quarter", "value"} <= found.keys():
                header = found
            continue
        width = len(row)
        i_id, i_q, i_v = header["measureid"], header["quarter"], header["value"]
        if max(i_id, i_q, i_v) >= width:
            continue
        mid, q, v = row[i_id], row[i_q], row[i_v]
        if isinstance(mid, float) and mid.is_integer():
            mid = int(mid)
        q = str(q).strip().upper()
        if q not in QUARTERS or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if v != v:  # NaN
            continue
        out[(str(mid).strip(), q)] = float(v)
    if header is None:
        raise InputError(
            f"{previous}: the Data sheet has no 'Measure ID', 'Quarter', 'Value' header row"
        )
    return out


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
        previous: a previous dashboard.xlsx whose Data sheet pre-fills earlier quarters.
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
    prefill = read_previous_values(previous) if previous is not None else {}
    quarter = register.settings.current_quarter.strip().upper()
    if quarter not in QUARTERS:
        quarter = ""
    written: list[Path] = []
    for theme in register.themes:
        ids = {m.measure_id for m in _theme_measures(register, theme)}
        values = {key: v for key, v in prefill.items() if key[0] in ids}
        path = out / return_file_name(register, theme)
        data = build_return(register, theme, values=values, quarter=quarter)
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


def _differs(path: Path, data: bytes) -> bool:
    """True when `path` holds something other than `data` (a missing file does not)."""
    try:
        return path.read_bytes() != data
    except FileNotFoundError:
        return False
    except OSError:
        return path.exists()
