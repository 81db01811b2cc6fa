"""Stage 0: the analyst's template workbook -> Register (settings and measures).

Input: ``templates/dashboard_template.xlsx`` (a Settings sheet of key/value rows and a
Measures sheet, one measure per row; see ``layout.py``). Output: a frozen ``Register``.
A register that cannot be used is refused with one ``TemplateError`` listing every
problem as ``Sheet!Cell: what is wrong; how to fix it`` and carrying each as an Issue
(code, sheet, cell). ``forms.write_template`` writes the same layout back out.

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
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from rag_workbook import layout
from rag_workbook.cells import column_name, norm_header, parse_date
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
from rag_workbook.report import Code, Issue

__all__ = ["read_template", "register_fingerprint"]

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


# Cached: a national register has thousands of rows naming the same few polarities, bases
# and number formats.
@functools.lru_cache(maxsize=4096)
def _norm(text: str) -> str:
    """A choice word as compared: lower case without spaces and punctuation, keeping the
    % that tells '% change' from 'change' (headers and keys use cells.norm_header)."""
    return re.sub(r"[\s_\-.:()/]+", "", text.strip().lower())


def _word_table(words: Mapping[Any, tuple[str, ...]]) -> dict[str, Any]:
    return {_norm(w): key for key, ws in words.items() for w in ws}


_POLARITIES: dict[str, Polarity] = _word_table(_POLARITY_WORDS)
_BASES: dict[str, Basis] = _word_table(_BASIS_WORDS)
_TARGET_FORMS: dict[str, TargetForm] = _word_table(_TARGET_WORDS)
_TOLERANCE_FORMS: dict[str, ToleranceForm] = _word_table(_TOLERANCE_WORDS)
_SETTING_KEYS = {norm_header(k): k for k in layout.SETTINGS_KEYS}
_COLUMN_KEYS = {
    **{norm_header(k): k for k in layout.MEASURES_COLUMNS},
    **{norm_header(k): v for k, v in _HEADER_SYNONYMS.items()},
}
_NO_VALUE = frozenset(_norm(w) for w in layout.NO_VALUE_WORDS)


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
    """Collects the register's problems as Issues, each with its code, sheet and cell."""

    def __init__(self, file: str = "") -> None:
        self.file = file
        self.issues: list[Issue] = []

    def add(self, code: Code, sheet: str, cell: str, message: str, fix: str = "") -> None:
        self.issues.append(Issue.of(code, message, fix=fix, file=self.file, sheet=sheet, cell=cell))

    @property
    def lines(self) -> list[str]:
        """Each problem as 'Sheet!Cell: message; fix'."""
        return [
            f"{'!'.join(p for p in (i.sheet, i.cell) if p)}: {i.message}; {i.fix}"
            for i in self.issues
        ]


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


def _refuse(file: Path, code: Code, message: str, fix: str = "") -> TemplateError:
    """A TemplateError holding one issue of the whole file (no sheet, no cell); a file not
    found is named by its path as given, any other by its name."""
    issue = Issue.of(code, message, fix=fix, file=file.name)
    shown = file if code is Code.TEMPLATE_NOT_FOUND else file.name
    return TemplateError(f"{shown}: {message}; {issue.fix}", (issue,))


def _open_workbook(path: Path) -> Any:
    import openpyxl  # deferred: keep `rag-workbook --help` light

    if not path.exists():
        raise _refuse(path, Code.TEMPLATE_NOT_FOUND, "template not found")
    if not path.is_file():
        raise _refuse(
            path, Code.TEMPLATE_NOT_FOUND, "is not a file", "give the template workbook's path"
        )
    if path.suffix.lower() not in _WORKBOOK_SUFFIXES:
        raise _refuse(
            path,
            Code.TEMPLATE_NOT_A_WORKBOOK,
            "the template must be an Excel .xlsx or .xlsm workbook "
            f"(got '{path.suffix or 'no extension'}')",
        )
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # any parser failure on a corrupt file is still a template error
        raise _refuse(
            path,
            Code.TEMPLATE_NOT_A_WORKBOOK,
            f"is not a readable Excel workbook ({type(exc).__name__})",
        ) from exc


def _find_sheet(workbook: Any, name: str) -> Any:
    for title in workbook.sheetnames:
        if norm_header(title) == norm_header(name):
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


# A setting found: its text, its 1-based row and the cell as read.
_Found = dict[str, tuple[str, int, object]]


def _read_settings(grid: _Sheet, problems: _Problems) -> Settings:
    """The Settings sheet: known keys, extra keys kept as given, each value checked."""
    found, extra = _setting_rows(grid, problems)

    def text(key: str, default: str = "") -> str:
        return found[key][0] if key in found and found[key][0] else default

    _check_partnership(found, problems)
    show_direction = _yes_no(found, problems, "Show Direction", default=True)
    current_quarter = _current_quarter(found, problems)
    signoff = _yes_no(found, problems, "Sign-off Required", default=False)
    returns_due = _returns_due(found, problems)
    defaults = Settings(partnership="")
    return Settings(
        partnership=text("Partnership"),
        title=text("Title", defaults.title),
        year=text("Year"),
        meeting=text("Meeting"),
        meeting_date=text("Meeting Date"),
        agenda_item=text("Agenda Item"),
        icon_style=text("Icon Style", defaults.icon_style),
        current_quarter=current_quarter,
        show_direction=show_direction,
        signoff_required=signoff,
        returns_due=returns_due,
        extra=extra,
    )


def _setting_rows(grid: _Sheet, problems: _Problems) -> tuple[_Found, dict[str, str]]:
    """Each key row once (a repeated key is a problem): known keys, then the others."""
    found: _Found = {}
    extra: dict[str, str] = {}
    seen: dict[str, int] = {}
    for r, row in enumerate(grid.rows, start=1):
        if not row or _is_blank(row[0]):
            continue
        key_text = _as_text(row[0])
        value = row[1] if len(row) > 1 else None
        fmt = grid.formats.get((r - 1, 1), "General")
        if r == 1 and norm_header(key_text) == norm_header(layout.SETTINGS_HEADER[0]):
            continue
        norm = norm_header(key_text)
        if norm in seen:
            problems.add(
                Code.SETTING_REPEATED,
                layout.SETTINGS_SHEET,
                f"A{r}",
                f"setting '{key_text}' given twice (also in A{seen[norm]})",
            )
            continue
        seen[norm] = r
        canonical = _SETTING_KEYS.get(norm)
        if canonical is None:
            extra[key_text] = _as_text(value, fmt)
        else:
            found[canonical] = (_as_text(value, fmt), r, value)
    return found, extra


def _check_partnership(found: _Found, problems: _Problems) -> None:
    """The one setting every register needs."""
    if "Partnership" in found and found["Partnership"][0]:
        return
    if "Partnership" in found:
        cell, message, fix = (
            f"B{found['Partnership'][1]}",
            "the Partnership setting is empty",
            "",
        )
    else:
        cell, message, fix = (
            "",
            "no Partnership setting",
            "add a row with 'Partnership' in column A and its name in column B",
        )
    problems.add(Code.PARTNERSHIP_MISSING, layout.SETTINGS_SHEET, cell, message, fix)


def _yes_no(found: _Found, problems: _Problems, key: str, *, default: bool) -> bool:
    """A Yes / No setting (blank: `default`)."""
    given = found.get(key, ("", 0, None))
    if not given[0]:
        return default
    word = _norm(given[0])
    if word in ("yes", "y", "true", "1", "on"):
        return True
    if word in ("no", "n", "false", "0", "off"):
        return False
    problems.add(
        Code.SETTING_INVALID,
        layout.SETTINGS_SHEET,
        f"B{given[1]}",
        f"{key} must be Yes or No (got '{given[0]}')",
        "type Yes or No",
    )
    return default


def _returns_due(found: _Found, problems: _Problems) -> str:
    """Returns Due: a date (a date cell or text such as 2012-01-20), as ISO; '' when blank."""
    given = found.get("Returns Due", ("", 0, None))
    if not given[0]:
        return ""
    when = parse_date(given[2] if given[2] is not None else given[0])
    if when is None:
        when = parse_date(given[0])
    if when is not None:
        return when.date().isoformat()
    problems.add(
        Code.SETTING_INVALID,
        layout.SETTINGS_SHEET,
        f"B{given[1]}",
        f"Returns Due must be a date (got '{given[0]}')",
        "type the date the returns are due, e.g. 2012-01-20",
    )
    return ""


def _current_quarter(found: _Found, problems: _Problems) -> str:
    """Current Quarter: Q1..Q4 (also '3', 'Quarter 3'), or '' for the latest reported."""
    given = found.get("Current Quarter", ("", 0, None))
    if not given[0]:
        return ""
    match = re.fullmatch(r"(?:q|qu|quarter)?([1-4])", _norm(given[0]))
    if match:
        return f"Q{match.group(1)}"
    problems.add(
        Code.SETTING_INVALID,
        layout.SETTINGS_SHEET,
        f"B{given[1]}",
        f"Current Quarter must be Q1, Q2, Q3 or Q4 (got '{given[0]}')",
        "type Q1..Q4, or leave it blank for the latest quarter reported",
    )
    return ""


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
    columns = _header_columns(grid.rows, problems)
    if columns is None:
        return (), {}
    # Column by column first; a row that passes every check of `_clean_row` becomes a
    # Measure there, and any other row is read again by _read_measure, which words its
    # problems. The checks are the same, so both give the same Measure for a clean row.
    table = _Columns(grid, columns)
    unusual: set[int] = set()  # rows with a cell that is not a number or profile
    labels = (
        "Theme", "ID", "Performance Measure", "Lead", "Lead Email", "Unit", "Data Source",
        "Notes",
    )  # fmt: skip
    texts = [table.texts(n) for n in labels]
    choices = [
        table.choices("Polarity", _POLARITIES, None),
        table.choices("Basis", _BASES, None),
        table.choices("Target Type", _TARGET_FORMS, TargetForm.ABSOLUTE),
        table.choices("Tolerance Type", _TOLERANCE_FORMS, ToleranceForm.PERCENT),
    ]
    numbers = [table.numbers(n, unusual) for n in ("Baseline", "Target", "Tolerance")]
    profiles = table.profiles(unusual)
    measures: list[Measure] = []
    ids: dict[str, int] = {}
    for i, (row, *cells) in enumerate(
        zip(grid.rows[1:], *texts, *choices, *numbers, profiles, strict=True)
    ):
        if not any(cells[:3]) and all(_is_blank(v) for v in row):
            continue
        measure = _clean_row(cells, i + 2, ids) if i not in unusual else None
        if measure is None:
            measure = _read_measure(_RowCells(grid.pairs(i + 1), i + 2, columns, problems), ids)
        if measure is not None:
            measures.append(measure)
    if not measures and not problems.issues:
        problems.add(Code.NO_MEASURES, layout.MEASURES_SHEET, "A2", "no measures")
    return tuple(measures), columns


def _header_columns(rows: Sequence[Sequence[object]], problems: _Problems) -> dict[str, int] | None:
    """The column of each known label in the header row; None when the row or a required
    label is missing."""
    sheet = layout.MEASURES_SHEET
    if not rows or all(_is_blank(v) for v in rows[0]):
        problems.add(
            Code.HEADER_MISSING,
            sheet,
            "A1",
            "no header row",
            "put the column labels (" + ", ".join(layout.MEASURES_COLUMNS) + ") in row 1",
        )
        return None
    columns: dict[str, int] = {}
    for c, value in enumerate(rows[0]):
        canonical = None if _is_blank(value) else _COLUMN_KEYS.get(norm_header(str(value)))
        if canonical is None:
            continue
        if canonical in columns:
            problems.add(
                Code.COLUMN_REPEATED,
                sheet,
                f"{column_name(c)}1",
                f"second '{canonical}' column (also {column_name(columns[canonical])}1)",
            )
            continue
        columns[canonical] = c
    missing = [name for name in _REQUIRED_COLUMNS if name not in columns]
    if missing:
        problems.add(
            Code.COLUMN_MISSING,
            sheet,
            "1:1",
            "missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing),
            "add " + ("them" if len(missing) > 1 else "it") + " to the header row",
        )
        return None
    return columns


def _clean_row(cells: Sequence[Any], r: int, ids: dict[str, int]) -> Measure | None:
    """The Measure of a row read column by column, or None when any check would fail."""
    (
        theme, measure_id, text, lead, email, unit, source, note,
        polarity, basis, target_form, tolerance_form, baseline, target, tolerance, profile,
    ) = cells  # fmt: skip
    if not (
        theme
        and measure_id
        and text
        and measure_id not in ids
        and polarity is not None
        and basis is not None
        and target_form is not None
        and tolerance_form is not None
        and (tolerance is None or tolerance >= 0)
        and (
            target is not None
            if polarity is not Polarity.MAINTAIN
            else baseline is not None and tolerance is not None
        )
    ):
        return None
    ids[measure_id] = r
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
        "row": r,
    }
    return _new_measure(fields) if _FILL_DIRECTLY else Measure(**fields)


class _RowCells:
    """One Measures row's cells by column label, their references, and its problems."""

    def __init__(
        self,
        row: list[tuple[object, str]],
        r: int,
        columns: Mapping[str, int],
        problems: _Problems,
    ) -> None:
        self.row, self.r, self.columns, self.problems = row, r, columns, problems
        self.label = f"the measure in row {r}"

    def cell(self, name: str) -> tuple[object, str]:
        c = self.columns.get(name)
        if c is None or c >= len(self.row):
            return None, "General"
        return self.row[c]

    def text(self, name: str) -> str:
        return _as_text(*self.cell(name))

    def ref(self, name: str, r: int | None = None) -> str:
        r = self.r if r is None else r
        return f"{column_name(self.columns[name])}{r}" if name in self.columns else f"row {r}"

    def add(self, code: Code, name: str, message: str, fix: str = "") -> None:
        self.problems.add(code, layout.MEASURES_SHEET, self.ref(name), message, fix)

    def choose(self, name: str, table: dict[str, Any], allowed: str, default: Any = None) -> Any:
        """The word chosen in a column; `default` when blank (a problem if None)."""
        raw = self.text(name)
        if not raw:
            if default is None:
                self.add(
                    Code.CHOICE_MISSING, name, f"{self.label} has no {name}", f"choose {allowed}"
                )
            return default
        found = _lookup(table, raw)
        if found is None:
            self.add(Code.CHOICE_UNKNOWN, name, f"unknown {name.lower()} '{raw}'", f"use {allowed}")
            return default
        return found

    def number(self, name: str) -> float | None:
        """The number in a column, None when blank or not a number (then a problem)."""
        value, fmt = self.cell(name)
        parsed, ok = _parse_number(value, fmt)
        if not ok:
            self.add(
                Code.NUMBER_INVALID, name, f"{name} must be a number (got '{_as_text(value, fmt)}')"
            )
        return parsed


def _read_measure(cells: _RowCells, ids: dict[str, int]) -> Measure | None:
    """One row read cell by cell, every problem worded; None when it has any."""
    before = len(cells.problems.issues)
    theme, measure_id, text = _read_identity(cells, ids)
    polarity: Polarity | None = cells.choose(
        "Polarity", _POLARITIES, "Reduce, Increase or Maintain"
    )
    basis: Basis | None = cells.choose("Basis", _BASES, "Cumulative or Snapshot")
    target_form: TargetForm = cells.choose(
        "Target Type", _TARGET_FORMS, "Absolute or % change", TargetForm.ABSOLUTE
    )
    tolerance_form: ToleranceForm = cells.choose(
        "Tolerance Type", _TOLERANCE_FORMS, "% or Absolute", ToleranceForm.PERCENT
    )
    baseline, target, tolerance = (cells.number(n) for n in ("Baseline", "Target", "Tolerance"))
    _check_definition(cells, polarity, target_form, baseline, target, tolerance)
    profile_raw, profile_fmt = cells.cell("Profile")
    profile, ok = _parse_profile(profile_raw)
    if not ok:
        cells.add(
            Code.PROFILE_INVALID, "Profile", f"bad profile '{_as_text(profile_raw, profile_fmt)}'"
        )
    if len(cells.problems.issues) != before or polarity is None or basis is None:
        return None
    return Measure(
        theme=theme,
        measure_id=measure_id,
        text=text,
        polarity=polarity,
        basis=basis,
        lead=cells.text("Lead"),
        lead_email=cells.text("Lead Email"),
        unit=cells.text("Unit"),
        baseline=baseline,
        target=target,
        target_form=target_form,
        tolerance=tolerance,
        tolerance_form=tolerance_form,
        profile=profile,
        data_source=cells.text("Data Source"),
        notes=cells.text("Notes"),
        row=cells.r,
    )


def _read_identity(cells: _RowCells, ids: dict[str, int]) -> tuple[str, str, str]:
    """Theme, ID and text, each required; an ID given twice is a problem."""
    theme, measure_id, text = (cells.text(n) for n in ("Theme", "ID", "Performance Measure"))
    for name, value, fix in (
        ("Theme", theme, "type the theme the measure belongs to (e.g. ASB)"),
        ("ID", measure_id, "give the measure an ID such as 1.1"),
        ("Performance Measure", text, "type the measure's text"),
    ):
        if not value:
            cells.add(Code.MEASURE_INCOMPLETE, name, f"empty {name}", fix)
    if measure_id:
        cells.label = f"measure {measure_id}"
        if measure_id in ids:
            cells.add(
                Code.MEASURE_ID_REPEATED,
                "ID",
                f"duplicate measure ID '{measure_id}' (also in {cells.ref('ID', ids[measure_id])})",
            )
        else:
            ids[measure_id] = cells.r
    return theme, measure_id, text


def _check_definition(
    cells: _RowCells,
    polarity: Polarity | None,
    target_form: TargetForm,
    baseline: float | None,
    target: float | None,
    tolerance: float | None,
) -> None:
    """What the polarity needs: a target to Reduce or Increase, a baseline and tolerance
    to Maintain; and a tolerance that is not negative."""
    label = cells.label
    if tolerance is not None and tolerance < 0:
        cells.add(
            Code.TOLERANCE_NEGATIVE,
            "Tolerance",
            f"Tolerance must not be negative (got {_compact(tolerance)})",
        )
    if (
        polarity in (Polarity.REDUCE, Polarity.INCREASE)
        and target is None
        and _is_blank_or_word(cells.cell("Target")[0])
    ):
        cells.add(
            Code.DEFINITION_INCOMPLETE,
            "Target",
            f"{label} ({polarity}) has no Target",
            "type the annual target"
            + (
                " as a % change on the baseline, e.g. -5"
                if target_form is TargetForm.PERCENT_CHANGE
                else ""
            ),
        )
    if polarity is not Polarity.MAINTAIN:
        return
    if baseline is None and _is_blank_or_word(cells.cell("Baseline")[0]):
        cells.add(
            Code.DEFINITION_INCOMPLETE,
            "Baseline",
            f"{label} (Maintain) has no Baseline",
            "type the baseline the measure must stay close to",
        )
    if tolerance is None and _is_blank(cells.cell("Tolerance")[0]):
        cells.add(
            Code.DEFINITION_INCOMPLETE,
            "Tolerance",
            f"{label} (Maintain) has no Tolerance",
            "type how far from the baseline still counts as maintained",
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
            raise _refuse(
                file,
                Code.TEMPLATE_SHEET_MISSING,
                f"missing sheet{'s' if len(missing) > 1 else ''} "
                + ", ".join(f"'{m}'" for m in missing)
                + f" (found: {', '.join(workbook.sheetnames)})",
                "add "
                + ("them" if len(missing) > 1 else "it")
                + " as in templates/dashboard_template.xlsx",
            )
        try:
            settings_rows = _rows(settings_sheet)
            measure_rows = _rows(measures_sheet)
        except Exception as exc:  # a corrupt sheet part
            raise _refuse(
                file,
                Code.TEMPLATE_NOT_A_WORKBOOK,
                f"cannot read its sheets ({type(exc).__name__})",
            ) from exc
    finally:
        workbook.close()

    return settings_rows, measure_rows


def _fast_rows(file: Path) -> tuple[_Sheet, _Sheet] | None:
    """The Settings and Measures sheets through python-calamine, or None to use openpyxl.

    openpyxl takes seconds over a national register of thousands of measures, and its
    import alone is a fifth of a small merge (issue 6). returns.read_sheet_grids gives
    calamine's values and, parsing the package's XML, the number format of each numeric
    cell whose format changes a reading, whichever application saved the file. Any
    surprise (a missing sheet, an error value such as #DIV/0!, which calamine reads as an
    empty cell) gives None, and the openpyxl path reads the file and words any refusal.
    """
    if file.suffix.lower() not in _WORKBOOK_SUFFIXES or not file.is_file():
        return None
    from rag_workbook.returns import read_sheet_grids

    grids = read_sheet_grids(file, (layout.SETTINGS_SHEET, layout.MEASURES_SHEET), _format_matters)
    if grids is None:
        return None
    (settings_rows, settings_formats), (measure_rows, measure_formats) = grids
    return _Sheet(settings_rows, settings_formats), _Sheet(measure_rows, measure_formats)


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

    problems = _Problems(file.name)
    settings = _read_settings(settings_rows, problems)
    measures, columns = _read_measures(measure_rows, problems)
    if problems.issues:
        count = len(problems.issues)
        raise TemplateError(
            f"{file.name}: the register cannot be used ({count} problem"
            f"{'s' if count > 1 else ''}):\n  " + "\n  ".join(problems.lines),
            tuple(problems.issues),
        )
    return Register(
        settings=settings,
        measures=measures,
        fingerprint=register_fingerprint(settings, measures),
        path=str(path),
        columns={label: column_name(c) for label, c in columns.items()},
    )
