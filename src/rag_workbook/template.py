"""Stage 0: the analyst's template workbook -> Register (settings and measures).

Input: ``templates/dashboard_template.xlsx`` (a Settings sheet of key/value rows and a
Measures sheet, one measure per row; see ``layout.py``). Output: a frozen ``Register``.
A register that cannot be used is refused with one ``TemplateError`` listing every
problem as ``Sheet!Cell: what is wrong; how to fix it``. ``write_template`` writes the
same layout back out (used by the Stockton build script and by tests).

Reading rules worth knowing:

- Header labels and setting keys are matched ignoring case, spaces and punctuation.
- A cell that *shows* a percentage (a ``%`` number format, or text such as ``"-5%"``) is
  read in percent points: ``-0.05`` formatted ``0%`` and ``"-5%"`` both read as ``-5.0``.
  Plain numbers are taken as typed, so percent columns hold percent points (``-5``).
- IDs are kept as text. A number typed into the ID column becomes its shortest text
  (``1.1`` -> ``"1.1"``, ``2`` -> ``"2"``) unless the cell's number format shows decimals
  (``2`` formatted ``0.0`` -> ``"2.0"``).
- A blank tolerance stays ``None`` in the register; for Reduce / Increase that means no
  amber band (a tolerance of 0), which is what ``rag.py`` applies.
- A baseline written as ``n/a``, ``-``, ``tbc`` (any of ``layout.NO_VALUE_WORDS``) is blank.
- The fingerprint is the SHA-256 of a canonical JSON of the partnership, the year and every
  measure's definition, not of the file bytes: re-saving the template keeps it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import html
import io
import itertools
import json
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from rag_workbook import layout
from rag_workbook.errors import TemplateError
from rag_workbook.model import (
    Basis,
    Measure,
    Polarity,
    Register,
    Settings,
    TargetForm,
    ToleranceForm,
)
from rag_workbook.output import write_atomic

__all__ = ["read_template", "register_fingerprint", "write_template"]

_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")

# Normalised header label -> canonical label of layout.MEASURES_COLUMNS.
_HEADER_SYNONYMS = {
    "no": "ID",
    "measureid": "ID",
    "measureno": "ID",
    "ref": "ID",
    "measure": "Performance Measure",
    "measuretext": "Performance Measure",
    "description": "Performance Measure",
    "email": "Lead Email",
    "leademailaddress": "Lead Email",
    "ambertolerance": "Tolerance",
    "ambertolerancetype": "Tolerance Type",
    "targetform": "Target Type",
    "toleranceform": "Tolerance Type",
    "source": "Data Source",
    "comments": "Notes",
}
_REQUIRED_COLUMNS = (
    "Theme",
    "ID",
    "Performance Measure",
    "Polarity",
    "Basis",
    "Baseline",
    "Target",
    "Tolerance",
)

_POLARITY_WORDS = {
    Polarity.REDUCE: ("reduce", "reduction", "decrease", "lower", "lowerisbetter", "down"),
    Polarity.INCREASE: ("increase", "increment", "raise", "higher", "higherisbetter", "up"),
    Polarity.MAINTAIN: ("maintain", "maintenance", "stable", "hold", "keep"),
}
_BASIS_WORDS = {
    Basis.CUMULATIVE: ("cumulative", "cumulativeytd", "ytd", "yeartodate", "cum"),
    Basis.SNAPSHOT: ("snapshot", "snap", "pointintime", "point", "rate", "quarterly"),
}
_TARGET_WORDS = {
    TargetForm.ABSOLUTE: ("absolute", "abs", "value", "number", "count"),
    TargetForm.PERCENT_CHANGE: (
        "%change",
        "%",
        "percent",
        "percentage",
        "pct",
        "percentchange",
        "percentagechange",
        "%changeonbaseline",
        "change%",
    ),
}
_TOLERANCE_WORDS = {
    ToleranceForm.PERCENT: ("%", "percent", "percentage", "pct", "%oftarget", "%ofbaseline"),
    ToleranceForm.ABSOLUTE: ("absolute", "abs", "value", "number", "units", "count"),
}

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


# Cached: a national register has thousands of rows naming the same few polarities, bases
# and number formats.
@functools.lru_cache(maxsize=4096)
def _norm(text: str) -> str:
    """Lower-case and drop spaces, underscores, hyphens and full stops."""
    return re.sub(r"[\s_\-.:()/]+", "", text.strip().lower())


def _norm_header(text: str) -> str:
    """Lower-case and keep letters, digits and % only."""
    return re.sub(r"[^a-z0-9%]+", "", text.strip().lower())


def _word_table(words: Mapping[Any, tuple[str, ...]]) -> dict[str, Any]:
    return {_norm(w): key for key, ws in words.items() for w in ws}


_POLARITIES: dict[str, Polarity] = _word_table(_POLARITY_WORDS)
_BASES: dict[str, Basis] = _word_table(_BASIS_WORDS)
_TARGET_FORMS: dict[str, TargetForm] = _word_table(_TARGET_WORDS)
_TOLERANCE_FORMS: dict[str, ToleranceForm] = _word_table(_TOLERANCE_WORDS)
_SETTING_KEYS = {_norm(k): k for k in layout.SETTINGS_KEYS}
_COLUMN_KEYS = {
    **{_norm_header(k): k for k in layout.MEASURES_COLUMNS},
    **{_norm_header(k): v for k, v in _HEADER_SYNONYMS.items()},
}
_NO_VALUE = frozenset(_norm(w) for w in layout.NO_VALUE_WORDS)


def _col_letter(col: int) -> str:
    """0-based column index -> Excel letters."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _compact(number: float) -> str:
    """Shortest faithful text of a number: 2.0 -> '2', 1.1 -> '1.1'."""
    if isinstance(number, bool):
        return "Yes" if number else "No"
    if float(number).is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(float(number))


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _as_text(value: object, number_format: str = "General") -> str:
    """A cell value as the text the analyst meant."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dt.datetime | dt.date):
        return _format_date(value)
    if isinstance(value, int | float):
        decimals = _format_decimals(number_format)
        if decimals and not isinstance(value, bool):
            return f"{float(value):.{decimals}f}"
        return _compact(value)
    return str(value).strip()


@functools.lru_cache(maxsize=256)
def _format_decimals(number_format: str) -> int:
    """How many decimals a number format such as '0.00' shows (0 for General)."""
    match = re.search(r"0\.(0+)", number_format or "")
    return len(match.group(1)) if match else 0


def _format_date(value: dt.date) -> str:
    return f"{value.day} {value:%B %Y}"


class _Problems:
    """Collects 'Sheet!Cell: message; fix' lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, sheet: str, cell: str, message: str, fix: str) -> None:
        where = f"{sheet}!{cell}" if cell else sheet
        self.lines.append(f"{where}: {message}; {fix}")


def _parse_number(value: object, number_format: str) -> tuple[float | None, bool]:
    """Return (number or None, ok). Percent-looking cells come back in percent points."""
    if _is_blank(value):
        return None, True
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int | float):
        number = float(value)
        if "%" in (number_format or ""):
            number = round(number * 100, 10)
        return number, True
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("\u2212", "-").replace(" ", "")
        if _norm(value) in _NO_VALUE:
            return None, True
        text = text.rstrip("%")
        if text.startswith("+"):
            text = text[1:]
        try:
            number = float(text)
        except ValueError:
            return None, False
        if number != number or number in (float("inf"), float("-inf")):
            return None, False
        return number, True
    return None, False


def _parse_profile(value: object) -> tuple[tuple[float, float, float, float] | None, bool]:
    """'25, 50, 75, 100' or '0.25, 0.5, 0.75, 1' -> cumulative fractions; (None, True) if blank."""
    if _is_blank(value):
        return None, True
    if not isinstance(value, str):
        return None, False
    parts = [p for p in re.split(r"[,;/\s]+", value.strip()) if p]
    if len(parts) != 4:
        return None, False
    numbers: list[float] = []
    for part in parts:
        try:
            numbers.append(float(part.rstrip("%")))
        except ValueError:
            return None, False
    scale = 1.0 if abs(numbers[-1] - 1.0) < 1e-9 and not any("%" in p for p in parts) else 100.0
    fractions = [n / scale for n in numbers]
    if abs(fractions[-1] - 1.0) > 1e-9 or fractions[0] < 0:
        return None, False
    if any(b < a for a, b in itertools.pairwise(fractions)):
        return None, False
    fractions[-1] = 1.0
    return (fractions[0], fractions[1], fractions[2], fractions[3]), True


def _lookup(table: dict[str, Any], value: object) -> Any:
    return table.get(_norm(str(value))) if not _is_blank(value) else None


def _open_workbook(path: Path) -> Any:
    import openpyxl  # deferred: keep `rag-workbook --help` light

    if not path.exists():
        raise TemplateError(f"{path}: template not found; check the --template path")
    if not path.is_file():
        raise TemplateError(f"{path}: is not a file; give the template workbook's path")
    if path.suffix.lower() not in _WORKBOOK_SUFFIXES:
        raise TemplateError(
            f"{path.name}: the template must be an Excel .xlsx or .xlsm workbook "
            f"(got '{path.suffix or 'no extension'}'); open it in Excel and save as .xlsx"
        )
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError) as exc:
        raise TemplateError(
            f"{path.name}: is not a readable Excel workbook ({type(exc).__name__}: {exc}); "
            "open it in Excel and save it again as .xlsx"
        ) from exc
    except Exception as exc:  # any parser failure on a corrupt file is still a template error
        raise TemplateError(
            f"{path.name}: cannot be read as an Excel workbook ({type(exc).__name__}); "
            "open it in Excel and save it again as .xlsx"
        ) from exc


def _find_sheet(workbook: Any, name: str) -> Any:
    for title in workbook.sheetnames:
        if _norm(title) == _norm(name):
            return workbook[title]
    return None


@functools.lru_cache(maxsize=256)
def _format_matters(number_format: str) -> bool:
    """Whether a number format changes how a number reads (percent points, ID decimals)."""
    return "%" in number_format or _format_decimals(number_format) > 0


class _Sheet(NamedTuple):
    """One sheet's cell values by row, and the few number formats that change a reading.

    Only numbers read differently under a format (``_as_text``, ``_parse_number``), and
    only formats with ``%`` or fixed decimals do so; every other cell reads as "General".
    Keeping those formats aside spares a (value, format) pair for each of 100,000 cells.
    """

    rows: Sequence[Sequence[object]]
    formats: dict[tuple[int, int], str]  # 0-based (row, col) -> a format that matters

    def pairs(self, r: int) -> list[tuple[object, str]]:
        """Row r (0-based) as (value, number_format) pairs."""
        get = self.formats.get
        return [(v, get((r, c), "General")) for c, v in enumerate(self.rows[r])]


def _rows(sheet: Any) -> _Sheet:
    """All rows of an openpyxl sheet, with the number formats that matter."""
    rows: list[list[object]] = []
    formats: dict[tuple[int, int], str] = {}
    for r, row in enumerate(sheet.iter_rows()):
        values = [cell.value for cell in row]
        rows.append(values)
        for c, value in enumerate(values):
            if isinstance(value, int | float):  # only numbers read differently by format
                number_format = getattr(row[c], "number_format", "General") or "General"
                if _format_matters(number_format):
                    formats[(r, c)] = number_format
    return _Sheet(rows, formats)


def _read_settings(grid: _Sheet, problems: _Problems) -> Settings:
    sheet = layout.SETTINGS_SHEET
    found: dict[str, tuple[str, int, object]] = {}  # canonical key -> (text, row, raw)
    extra: dict[str, str] = {}
    seen: dict[str, int] = {}
    for r, row in enumerate(grid.rows, start=1):
        if not row or _is_blank(row[0]):
            continue
        key_text = _as_text(row[0])
        value = row[1] if len(row) > 1 else None
        fmt = grid.formats.get((r - 1, 1), "General")
        if r == 1 and _norm(key_text) == _norm(layout.SETTINGS_HEADER[0]):
            continue
        norm = _norm(key_text)
        if norm in seen:
            problems.add(
                sheet,
                f"A{r}",
                f"setting '{key_text}' given twice (also in A{seen[norm]})",
                "keep one row for each setting",
            )
            continue
        seen[norm] = r
        canonical = _SETTING_KEYS.get(norm)
        if canonical is None:
            extra[key_text] = _as_text(value, fmt)
        else:
            found[canonical] = (_as_text(value, fmt), r, value)

    def text(key: str, default: str = "") -> str:
        return found[key][0] if key in found and found[key][0] else default

    partnership = text("Partnership")
    if not partnership:
        if "Partnership" in found:
            problems.add(
                sheet,
                f"B{found['Partnership'][1]}",
                "the Partnership setting is empty",
                "type the partnership's name",
            )
        else:
            problems.add(
                sheet,
                "",
                "no Partnership setting",
                "add a row with 'Partnership' in column A and its name in column B",
            )

    show_direction = True
    if text("Show Direction"):
        word = _norm(text("Show Direction"))
        if word in ("yes", "y", "true", "1", "on"):
            show_direction = True
        elif word in ("no", "n", "false", "0", "off"):
            show_direction = False
        else:
            problems.add(
                sheet,
                f"B{found['Show Direction'][1]}",
                f"Show Direction must be Yes or No (got '{text('Show Direction')}')",
                "type Yes or No",
            )

    quarter = ""
    if text("Current Quarter"):
        match = re.fullmatch(r"(?:q|qu|quarter)?([1-4])", _norm(text("Current Quarter")))
        if match:
            quarter = f"Q{match.group(1)}"
        else:
            problems.add(
                sheet,
                f"B{found['Current Quarter'][1]}",
                f"Current Quarter must be Q1, Q2, Q3 or Q4 (got '{text('Current Quarter')}')",
                "type Q1..Q4, or leave it blank for the latest quarter reported",
            )

    defaults = Settings(partnership="")
    return Settings(
        partnership=partnership,
        title=text("Title", defaults.title),
        year=text("Year"),
        meeting=text("Meeting"),
        meeting_date=text("Meeting Date"),
        agenda_item=text("Agenda Item"),
        icon_style=text("Icon Style", defaults.icon_style),
        current_quarter=quarter,
        show_direction=show_direction,
        extra=extra,
    )


class _Columns:
    """The measure rows of the Measures sheet read column by column; item i is sheet row i + 2.

    Each cell is converted by the same helpers as the row-by-row reader (``_as_text``,
    ``_parse_number``, ``_parse_profile``), with a shortcut for the common text and
    General-number cells, and each distinct choice word looked up once.
    """

    def __init__(self, grid: _Sheet, columns: Mapping[str, int]) -> None:
        body = grid.rows[1:]
        self.formats = grid.formats
        self.formatted = {c for _, c in grid.formats}  # columns with a format that matters
        self.columns = columns
        self.size = len(body)
        # calamine's rows are all as wide as the sheet; openpyxl's may not be.
        rectangular = len(set(map(len, body))) <= 1
        self.by_index: list[tuple[object, ...]] = list(
            zip(*body, strict=True) if rectangular else itertools.zip_longest(*body)
        )

    def values(self, name: str) -> tuple[int, Sequence[object]]:
        c = self.columns.get(name, -1)
        if 0 <= c < len(self.by_index):
            return c, self.by_index[c]
        return -1, (None,) * self.size

    def texts(self, name: str) -> list[str]:
        c, values = self.values(name)
        try:  # the usual column: text in every row
            return list(map(str.strip, values))  # type: ignore[arg-type]
        except TypeError:
            pass
        formats = self.formats
        return [
            v.strip() if v.__class__ is str else _as_text(v, formats.get((r, c), "General"))
            for r, v in enumerate(values, start=1)
        ]

    def choices(self, name: str, table: dict[str, Any], default: Any) -> list[Any]:
        """The chosen word of each row: ``default`` when blank, None when not a choice."""
        texts = self.texts(name)
        found = {t: _lookup(table, t) for t in set(texts) if t}
        return [found[t] if t else default for t in texts]

    def numbers(self, name: str, unusual: set[int]) -> list[float | None]:
        """Each row's number; rows whose cell is not a number are added to ``unusual``."""
        c, values = self.values(name)
        formats = self.formats
        if c not in self.formatted and set(map(type, values)) == {float}:
            return list(values)  # type: ignore[arg-type]
        numbers: list[float | None] = []
        for i, v in enumerate(values):
            if v.__class__ is float and (i + 1, c) not in formats:
                numbers.append(v)
                continue
            number, ok = _parse_number(v, formats.get((i + 1, c), "General"))
            numbers.append(number)
            if not ok:
                unusual.add(i)
        return numbers

    def profiles(self, unusual: set[int]) -> list[tuple[float, float, float, float] | None]:
        """Each row's profile; rows whose profile is not one are added to ``unusual``."""
        _, values = self.values("Profile")
        seen: dict[object, tuple[tuple[float, float, float, float] | None, bool]] = {}
        profiles: list[tuple[float, float, float, float] | None] = []
        for i, v in enumerate(values):
            parsed = seen.get(v) if v.__class__ is str else None
            if parsed is None:
                parsed = _parse_profile(v)
                if v.__class__ is str:
                    seen[v] = parsed
            profiles.append(parsed[0])
            if not parsed[1]:
                unusual.add(i)
        return profiles


# Measure's frozen __init__ sets each of its 17 fields through object.__setattr__: 4 us a
# measure, a sixth of reading a 6,000-measure register. A clean row fills the new instance's
# __dict__ at once instead (as pydantic's model_construct does), which gives an equal,
# equally frozen Measure, but only while __init__ would do nothing more: no __post_init__,
# no slots, and exactly the fields _read_measures fills. Otherwise the constructor is used.
_FILLED = (
    "theme", "measure_id", "text", "polarity", "basis", "lead", "lead_email", "unit",
    "baseline", "target", "target_form", "tolerance", "tolerance_form", "profile",
    "data_source", "notes", "row",
)  # fmt: skip
_FILL_DIRECTLY = (
    not hasattr(Measure, "__post_init__")
    and "__slots__" not in vars(Measure)
    and tuple(f.name for f in dataclasses.fields(Measure)) == _FILLED
)


def _new_measure(fields: dict[str, Any]) -> Measure:
    """A Measure from all its fields, without the per-field cost of the frozen __init__."""
    measure: Measure = object.__new__(Measure)
    measure.__dict__.update(fields)
    return measure


def _read_measures(grid: _Sheet, problems: _Problems) -> tuple[tuple[Measure, ...], dict[str, int]]:
    """The measures, and the column of each label found in the header row."""
    sheet = layout.MEASURES_SHEET
    rows = grid.rows
    if not rows or all(_is_blank(v) for v in rows[0]):
        problems.add(
            sheet,
            "A1",
            "no header row",
            "put the column labels (" + ", ".join(layout.MEASURES_COLUMNS) + ") in row 1",
        )
        return (), {}
    columns: dict[str, int] = {}
    for c, value in enumerate(rows[0]):
        if _is_blank(value):
            continue
        canonical = _COLUMN_KEYS.get(_norm_header(str(value)))
        if canonical is None:
            continue
        if canonical in columns:
            problems.add(
                sheet,
                f"{_col_letter(c)}1",
                f"second '{canonical}' column (also {_col_letter(columns[canonical])}1)",
                "remove or rename one of them",
            )
            continue
        columns[canonical] = c
    missing = [name for name in _REQUIRED_COLUMNS if name not in columns]
    if missing:
        problems.add(
            sheet,
            "1:1",
            "missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing),
            "add " + ("them" if len(missing) > 1 else "it") + " to the header row",
        )
        return (), {}

    def cell(row: list[tuple[object, str]], name: str) -> tuple[object, str]:
        c = columns.get(name)
        if c is None or c >= len(row):
            return None, "General"
        return row[c]

    def ref(name: str, r: int) -> str:
        return f"{_col_letter(columns[name])}{r}" if name in columns else f"row {r}"

    # Column by column first; a row that passes every check below becomes a Measure here,
    # and any other row is read again by _read_measure, which words its problems. The
    # checks are those of _read_measure, so both give the same Measure for a clean row.
    table = _Columns(grid, columns)
    unusual: set[int] = set()  # rows with a cell that is not a number or profile
    themes, ids_text, texts = (table.texts(n) for n in ("Theme", "ID", "Performance Measure"))
    leads, emails, units, sources, notes = (
        table.texts(n) for n in ("Lead", "Lead Email", "Unit", "Data Source", "Notes")
    )
    polarities = table.choices("Polarity", _POLARITIES, None)
    bases = table.choices("Basis", _BASES, None)
    target_forms = table.choices("Target Type", _TARGET_FORMS, TargetForm.ABSOLUTE)
    tolerance_forms = table.choices("Tolerance Type", _TOLERANCE_FORMS, ToleranceForm.PERCENT)
    baselines, targets, tolerances = (
        table.numbers(n, unusual) for n in ("Baseline", "Target", "Tolerance")
    )
    profiles = table.profiles(unusual)

    measures: list[Measure] = []
    ids: dict[str, int] = {}
    cells = zip(
        rows[1:], themes, ids_text, texts, polarities, bases, target_forms, tolerance_forms,
        baselines, targets, tolerances, profiles, leads, emails, units, sources, notes,
        strict=True,
    )  # fmt: skip
    for i, (
        row, theme, measure_id, text, polarity, basis, target_form, tolerance_form,
        baseline, target, tolerance, profile, lead, email, unit, source, note,
    ) in enumerate(cells):  # fmt: skip
        if not (theme or measure_id or text) and all(_is_blank(v) for v in row):
            continue
        if (
            theme
            and measure_id
            and text
            and measure_id not in ids
            and polarity is not None
            and basis is not None
            and target_form is not None
            and tolerance_form is not None
            and i not in unusual
            and (tolerance is None or tolerance >= 0)
            and (
                target is not None
                if polarity is not Polarity.MAINTAIN
                else baseline is not None and tolerance is not None
            )
        ):
            ids[measure_id] = i + 2
            fields = {
                "theme": theme,
                "measure_id": measure_id,
                "text": text,
                "polarity": polarity,
                "basis": basis,
                "lead": lead,
                "lead_email": email,
                "unit": unit,
                "baseline": baseline,
                "target": target,
                "target_form": target_form,
                "tolerance": tolerance,
                "tolerance_form": tolerance_form,
                "profile": profile,
                "data_source": source,
                "notes": note,
                "row": i + 2,
            }
            measures.append(_new_measure(fields) if _FILL_DIRECTLY else Measure(**fields))
            continue
        measure = _read_measure(grid.pairs(i + 1), i + 2, cell, ref, ids, problems)
        if measure is not None:
            measures.append(measure)
    if not measures and not problems.lines:
        problems.add(sheet, "A2", "no measures", "add one row per measure below the header")
    return tuple(measures), columns


def _read_measure(
    row: list[tuple[object, str]],
    r: int,
    cell: Any,
    ref: Any,
    ids: dict[str, int],
    problems: _Problems,
) -> Measure | None:
    sheet = layout.MEASURES_SHEET
    before = len(problems.lines)

    def text(name: str) -> str:
        value, fmt = cell(row, name)
        return _as_text(value, fmt)

    theme, measure_id, measure_text = text("Theme"), text("ID"), text("Performance Measure")
    for name, value, fix in (
        ("Theme", theme, "type the theme the measure belongs to (e.g. ASB)"),
        ("ID", measure_id, "give the measure an ID such as 1.1"),
        ("Performance Measure", measure_text, "type the measure's text"),
    ):
        if not value:
            problems.add(sheet, ref(name, r), f"empty {name}", fix)
    label = f"measure {measure_id}" if measure_id else f"the measure in row {r}"
    if measure_id:
        if measure_id in ids:
            problems.add(
                sheet,
                ref("ID", r),
                f"duplicate measure ID '{measure_id}' (also in {ref('ID', ids[measure_id])})",
                "give each measure its own ID",
            )
        else:
            ids[measure_id] = r

    def choose(name: str, table: dict[str, Any], allowed: str, default: Any = None) -> Any:
        raw = text(name)
        if not raw:
            if default is None:
                problems.add(sheet, ref(name, r), f"{label} has no {name}", f"choose {allowed}")
            return default
        found = _lookup(table, raw)
        if found is None:
            problems.add(sheet, ref(name, r), f"unknown {name.lower()} '{raw}'", f"use {allowed}")
            return default
        return found

    polarity: Polarity | None = choose("Polarity", _POLARITIES, "Reduce, Increase or Maintain")
    basis: Basis | None = choose("Basis", _BASES, "Cumulative or Snapshot")
    target_form: TargetForm = choose(
        "Target Type", _TARGET_FORMS, "Absolute or % change", TargetForm.ABSOLUTE
    )
    tolerance_form: ToleranceForm = choose(
        "Tolerance Type", _TOLERANCE_FORMS, "% or Absolute", ToleranceForm.PERCENT
    )

    def number(name: str) -> float | None:
        value, fmt = cell(row, name)
        parsed, ok = _parse_number(value, fmt)
        if not ok:
            problems.add(
                sheet,
                ref(name, r),
                f"{name} must be a number (got '{_as_text(value, fmt)}')",
                "type the number only, or leave it blank",
            )
        return parsed

    baseline, target, tolerance = number("Baseline"), number("Target"), number("Tolerance")
    if tolerance is not None and tolerance < 0:
        problems.add(
            sheet,
            ref("Tolerance", r),
            f"Tolerance must not be negative (got {_compact(tolerance)})",
            "type the size of the amber band as a positive number",
        )
    if (
        polarity in (Polarity.REDUCE, Polarity.INCREASE)
        and target is None
        and _is_blank_or_word(cell(row, "Target")[0])
    ):
        problems.add(
            sheet,
            ref("Target", r),
            f"{label} ({polarity}) has no Target",
            "type the annual target"
            + (
                " as a % change on the baseline, e.g. -5"
                if target_form is TargetForm.PERCENT_CHANGE
                else ""
            ),
        )
    if polarity is Polarity.MAINTAIN:
        if baseline is None and _is_blank_or_word(cell(row, "Baseline")[0]):
            problems.add(
                sheet,
                ref("Baseline", r),
                f"{label} (Maintain) has no Baseline",
                "type the baseline the measure must stay close to",
            )
        if tolerance is None and _is_blank(cell(row, "Tolerance")[0]):
            problems.add(
                sheet,
                ref("Tolerance", r),
                f"{label} (Maintain) has no Tolerance",
                "type how far from the baseline still counts as maintained",
            )

    profile_raw, profile_fmt = cell(row, "Profile")
    profile, ok = _parse_profile(profile_raw)
    if not ok:
        problems.add(
            sheet,
            ref("Profile", r),
            f"bad profile '{_as_text(profile_raw, profile_fmt)}'",
            "give 4 cumulative percentages that never decrease and end at 100, "
            "e.g. 25, 50, 75, 100 (or leave it blank for an even profile)",
        )

    if len(problems.lines) != before or polarity is None or basis is None:
        return None
    return Measure(
        theme=theme,
        measure_id=measure_id,
        text=measure_text,
        polarity=polarity,
        basis=basis,
        lead=text("Lead"),
        lead_email=text("Lead Email"),
        unit=text("Unit"),
        baseline=baseline,
        target=target,
        target_form=target_form,
        tolerance=tolerance,
        tolerance_form=tolerance_form,
        profile=profile,
        data_source=text("Data Source"),
        notes=text("Notes"),
        row=r,
    )


def _is_blank_or_word(value: object) -> bool:
    return _is_blank(value) or (isinstance(value, str) and _norm(value) in _NO_VALUE)


# What a measure's definition is, in the fingerprint's order.
_DEFINITION = attrgetter(
    "theme", "measure_id", "text", "polarity", "basis", "baseline", "target", "target_form",
    "tolerance", "tolerance_form", "profile",
)  # fmt: skip


def register_fingerprint(settings: Settings, measures: Iterable[Measure]) -> str:
    """SHA-256 hex of what returns depend on: partnership, year and every measure's definition.

    Args:
        settings: the register's settings (only partnership and year count).
        measures: the measures in register order.

    Returns:
        64 hex characters; equal for registers that judge returns the same way.

    Example:
        >>> len(register_fingerprint(Settings(partnership="P"), ()))
        64
    """
    payload = {
        "partnership": settings.partnership,
        "year": settings.year,
        # Enums are str: JSON writes their values. Tuples are written as arrays.
        "measures": list(map(_DEFINITION, measures)),
    }
    # check_circular=False: the payload is built here and has no cycles (saves a tenth).
    blob = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, check_circular=False
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _openpyxl_rows(file: Path) -> tuple[_Sheet, _Sheet]:
    """The Settings and Measures rows through openpyxl, with every refusal message."""
    workbook = _open_workbook(file)
    try:
        settings_sheet = _find_sheet(workbook, layout.SETTINGS_SHEET)
        measures_sheet = _find_sheet(workbook, layout.MEASURES_SHEET)
        missing = [
            name
            for name, sheet in (
                (layout.SETTINGS_SHEET, settings_sheet),
                (layout.MEASURES_SHEET, measures_sheet),
            )
            if sheet is None
        ]
        if missing:
            raise TemplateError(
                f"{file.name}: missing sheet{'s' if len(missing) > 1 else ''} "
                + ", ".join(f"'{m}'" for m in missing)
                + f" (found: {', '.join(workbook.sheetnames)}); add "
                + ("them" if len(missing) > 1 else "it")
                + " as in templates/dashboard_template.xlsx"
            )
        try:
            settings_rows = _rows(settings_sheet)
            measure_rows = _rows(measures_sheet)
        except Exception as exc:  # a corrupt sheet part
            raise TemplateError(
                f"{file.name}: cannot read its sheets ({type(exc).__name__}); "
                "open it in Excel and save it again as .xlsx"
            ) from exc
    finally:
        workbook.close()

    return settings_rows, measure_rows


# Number formats by built-in id (ECMA-376 18.8.30) that change how a number is read: the
# percent ones (read in percent points) and the fixed-decimal ones (IDs shown as '2.0').
_BUILTIN_FORMATS = {
    1: "0",
    2: "0.00",
    3: "#,##0",
    4: "#,##0.00",
    9: "0%",
    10: "0.00%",
    11: "0.00E+00",
    39: "#,##0.00;(#,##0.00)",
    40: "#,##0.00;[Red](#,##0.00)",
    49: "@",
}
# A number cell as every writer we know spells it (r, then s, then no type or t="n"); the
# count is checked against calamine's, so a file spelled otherwise goes to openpyxl.
# Cell value classes as python-calamine gives them (exact classes, no subclasses).
_NUMERIC = frozenset({int, float})
_NOT_NUMERIC: frozenset[type] = frozenset({str, bool, type(None)})
# Possessive (never backtracking) quantifiers match the same cells, since each part can only
# be followed by something it cannot itself match; they halve the search of a large sheet.
_NUMBER_CELL = re.compile(rb'<c r="([A-Z]++)([0-9]++)"(?: s="([0-9]++)")?+(?: t="n")?+>')
_ANY_NUMBER_CELL = re.compile(rb'<c r="[A-Z]++[0-9]++"(?: s="[0-9]++")?+(?: t="n")?+>')


def _fast_rows(file: Path) -> tuple[_Sheet, _Sheet] | None:
    """The Settings and Measures sheets through python-calamine, or None to use openpyxl.

    openpyxl takes seconds over a national register of thousands of measures, and its
    import alone is a fifth of a small merge (issue 6). Values come from calamine; the
    number format of each numeric cell (which decides percent points and ID decimals)
    from the workbook's styles and the `s` attribute of its cell in the sheet XML. Any
    surprise (another layout of the package, a missing sheet, an error value such as
    #DIV/0!, which calamine reads as an empty cell) returns None, and the
    openpyxl path reads the file and words any refusal.
    """
    if file.suffix.lower() not in _WORKBOOK_SUFFIXES or not file.is_file():
        return None
    try:
        from python_calamine import CalamineWorkbook

        data = file.read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            formats = {
                i: code
                for i, code in _xf_formats(zf.read("xl/styles.xml")).items()
                if _format_matters(code)
            }
            parts = _sheet_parts(zf)
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
            found: list[_Sheet] = []
            for wanted in (layout.SETTINGS_SHEET, layout.MEASURES_SHEET):
                name = next((n for n in workbook.sheet_names if _norm(n) == _norm(wanted)), None)
                if name is None or name not in parts:
                    return None
                xml = zf.read(parts[name])
                if xml.find(b't="e"') >= 0:
                    return None  # calamine reads an error value as an empty cell
                values = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
                number_formats = _number_formats(values, xml, formats)
                if number_formats is None:
                    return None
                found.append(_Sheet(values, number_formats))
    except Exception:  # any surprise: let openpyxl read it and word the refusal
        return None
    return found[0], found[1]


def _number_formats(
    values: Sequence[Sequence[object]], xml: bytes, formats: Mapping[int, str]
) -> dict[tuple[int, int], str] | None:
    """(row, col) -> number format, for the numbers whose style's format matters.

    None when the sheet XML spells its number cells otherwise than `_NUMBER_CELL`
    (their count differs from calamine's), so that openpyxl reads the file.
    """
    classes = Counter(map(type, itertools.chain.from_iterable(values)))
    numeric = classes.total() - sum(classes[c] for c in _NOT_NUMERIC)
    if not formats:
        # No style shows % or decimals (the usual register): every number reads as General,
        # so only count the number cells, without capturing their references (3x faster).
        return {} if len(_ANY_NUMBER_CELL.findall(xml)) == numeric else None
    styled: dict[tuple[str, int], str] = {}
    count = 0
    for col, row_number, style in _NUMBER_CELL.findall(xml):
        count += 1
        if style and int(style) in formats:
            styled[(col.decode(), int(row_number))] = formats[int(style)]
    if count != numeric:
        return None
    width = max(map(len, values), default=0)
    index = {_col_letter(c): c for c in range(width)}
    out: dict[tuple[int, int], str] = {}
    for (col_letters, r), number_format in styled.items():
        c = index.get(col_letters, width)
        if (
            0 < r <= len(values)
            and c < len(values[r - 1])
            and values[r - 1][c].__class__ in _NUMERIC
        ):
            out[(r - 1, c)] = number_format
    return out


def _xf_formats(styles: bytes) -> dict[int, str]:
    """Cell style index -> number format code, from xl/styles.xml."""
    codes = dict(_BUILTIN_FORMATS)
    for m in re.finditer(rb'<numFmt numFmtId="([0-9]+)" formatCode="([^"]*)"', styles):
        codes[int(m.group(1))] = html.unescape(m.group(2).decode("utf-8"))
    xfs = re.search(rb"<cellXfs\b[^>]*>(.*?)</cellXfs>", styles, re.S)
    if xfs is None:
        return {}
    out: dict[int, str] = {}
    for i, m in enumerate(re.finditer(rb"<xf\b([^>]*)", xfs.group(1))):
        num = re.search(rb'numFmtId="([0-9]+)"', m.group(1))
        out[i] = codes.get(int(num.group(1)) if num else 0, "General")
    return out


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its zip member, through xl/workbook.xml and its relationships."""
    rels = {
        m.group(1).decode(): m.group(2).decode()
        for m in re.finditer(
            rb'<Relationship Id="([^"]+)"[^>]*? Target="([^"]+)"',
            zf.read("xl/_rels/workbook.xml.rels"),
        )
    }
    parts: dict[str, str] = {}
    for m in re.finditer(
        rb'<sheet name="([^"]*)" sheetId="[0-9]+" r:id="([^"]+)"', zf.read("xl/workbook.xml")
    ):
        target = rels.get(m.group(2).decode(), "")
        if target:
            name = html.unescape(m.group(1).decode("utf-8"))
            parts[name] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return parts


def read_template(path: str | Path) -> Register:
    """Read the analyst's template into a Register, refusing a register that cannot be used.

    Args:
        path: the template workbook (.xlsx or .xlsm).

    Returns:
        The Register, with ``path`` set to the path as given and ``fingerprint`` computed.

    Raises:
        TemplateError: the file is missing or not a workbook, or the register has problems;
            the message lists every problem as ``Sheet!Cell: what is wrong; the fix``.

    Example:
        >>> register = read_template("templates/dashboard_template.xlsx")  # doctest: +SKIP
        >>> register.measure("1.1").polarity  # doctest: +SKIP
        <Polarity.REDUCE: 'Reduce'>
    """
    file = Path(path)
    fast = _fast_rows(file)
    if fast is not None:
        settings_rows, measure_rows = fast
    else:
        settings_rows, measure_rows = _openpyxl_rows(file)

    problems = _Problems()
    settings = _read_settings(settings_rows, problems)
    measures, columns = _read_measures(measure_rows, problems)
    if problems.lines:
        count = len(problems.lines)
        raise TemplateError(
            f"{file.name}: the register cannot be used ({count} problem"
            f"{'s' if count > 1 else ''}):\n  " + "\n  ".join(problems.lines)
        )
    return Register(
        settings=settings,
        measures=measures,
        fingerprint=register_fingerprint(settings, measures),
        path=str(path),
        columns={label: _col_letter(c) for label, c in columns.items()},
    )


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
    import xlsxwriter  # deferred: keep `rag-workbook --help` light

    out = Path(path)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True}
    )
    # A fixed creation date makes the same register give byte-identical files.
    workbook.set_properties({"created": dt.datetime(2000, 1, 1, tzinfo=dt.UTC)})
    header = workbook.add_format(
        {"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True, "valign": "top"}
    )
    text_fmt = workbook.add_format({"num_format": "@", "valign": "top", "text_wrap": True})
    plain = workbook.add_format({"valign": "top", "text_wrap": True})
    number_fmt = workbook.add_format({"valign": "top", "num_format": "General"})
    help_fmt = workbook.add_format({"italic": True, "font_color": "#595959", "valign": "top"})

    s = register.settings
    ws = workbook.add_worksheet(layout.SETTINGS_SHEET)
    ws.write_row(0, 0, (*layout.SETTINGS_HEADER, "Notes"), header)
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
        ws.write_string(i, 0, key, plain)
        ws.write_string(i, 1, value, text_fmt)
        ws.write_string(i, 2, _SETTING_HELP.get(key, ""), help_fmt)
    for i, (key, value) in enumerate(s.extra.items(), start=len(values) + 1):
        ws.write_string(i, 0, key, plain)
        ws.write_string(i, 1, value, text_fmt)
    ws.data_validation(
        len(layout.SETTINGS_KEYS),
        1,
        len(layout.SETTINGS_KEYS),
        1,
        {"validate": "list", "source": ["Yes", "No"]},
    )
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 40)
    ws.set_column(2, 2, 50)
    ws.freeze_panes(1, 0)

    wm = workbook.add_worksheet(layout.MEASURES_SHEET)
    cols = {name: i for i, name in enumerate(layout.MEASURES_COLUMNS)}
    wm.write_row(0, 0, layout.MEASURES_COLUMNS, header)
    widths = {
        "Theme": 16, "ID": 6, "Performance Measure": 50, "Lead": 18, "Lead Email": 26,
        "Polarity": 10, "Basis": 12, "Unit": 8, "Baseline": 10, "Target": 10,
        "Target Type": 11, "Tolerance": 10, "Tolerance Type": 11, "Profile": 16,
        "Data Source": 20, "Notes": 40,
    }  # fmt: skip
    for name, c in cols.items():
        fmt = text_fmt if name == "ID" else None
        wm.set_column(c, c, widths.get(name, 12), fmt)
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
                wm.write_string(r, cols[name], value, text_fmt if name == "ID" else plain)
        for name, number in (
            ("Baseline", m.baseline),
            ("Target", m.target),
            ("Tolerance", m.tolerance),
        ):
            if number is not None:
                wm.write_number(r, cols[name], number, number_fmt)
    last = max(len(register.measures) + 200, 1000)
    for name, choices in (
        ("Polarity", [str(p) for p in Polarity]),
        ("Basis", [str(b) for b in Basis]),
        ("Target Type", [str(t) for t in TargetForm]),
        ("Tolerance Type", [str(t) for t in ToleranceForm]),
    ):
        wm.data_validation(
            1, cols[name], last, cols[name],
            {
                "validate": "list",
                "source": choices,
                "error_title": name,
                "error_message": "Choose one of: " + ", ".join(choices),
            },
        )  # fmt: skip
    wm.freeze_panes(1, 0)
    wm.autofilter(0, 0, max(len(register.measures), 1), len(layout.MEASURES_COLUMNS) - 1)
    workbook.close()
    return write_atomic(buffer.getvalue(), out)
