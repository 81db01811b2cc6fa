"""Stage: read one return workbook.

Input: a return workbook as a lead sent it back (.xlsx, .xlsm, .xls, .xlsb, .ods), renamed,
re-saved, typed over. Output: a `ReturnData` (values, row notes, header facts) whose
`issues` name every problem found, each at its cell. Also `find_returns`, which expands the
files, folders and globs the analyst gives into the list of workbooks to read.

The reader never depends on the positions in `layout.py`: it finds the table by its header
labels and the header block by its labels. It makes one pass over python-calamine's
`to_python()` rows; pandas is never touched here, and openpyxl only in the fallback
reader's own process.

Decisions worth knowing:
- The *value area* of a return is the Q1..Q4, status override, override reason and comment
  cells of measure rows. Every non-empty cell there lands in `values`/`notes` or is named
  in an issue ("nothing lost"). Other columns (unit, baseline, target...) are read-only
  copies of the register and are ignored; unknown columns are reported once each.
- Numbers typed as text are read: `"1,234"`, `" 45 "`, `"£1,200"`, `"12%"` (12, percent
  points), `"−3"`. Accounting brackets `"(12)"` read as -12 with an info issue.
- No-data words (`layout.NO_VALUE_WORDS`) give value None with the text kept as reason.
- Formulas give their cached values. For .xlsx/.xlsm a cell with a formula but no cached
  value, or an Excel error value, is found by a byte scan of the sheet XML that runs only
  when the XML contains a formula or an error at all. For .xls/.ods python-calamine reads
  error cells as empty; such cells are not reported.
- Merged cells: values sit in the top-left cell. A merge in the override/reason/comment
  columns spanning several measure rows applies its text to each of them; a merge across
  several quarter cells keeps the value in its first cell and is reported.
- `find_returns` searches folders recursively (not hidden ones) and names every file it
  skips. A dashboard this tool wrote, found among the returns, is told by its content and
  skipped with a note, never read as a return.
- A workbook python-calamine cannot read (.xlsx/.xlsm only) is read by openpyxl in a
  process of its own, bounded in time and memory, with the same rows and merged ranges.
- Readers' errors for bad files become one issue in the lead's words; any other exception
  while reading is a bug of ours, reported as `internal-error`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import glob
import hashlib
import io
import itertools
import math
import os
import pickle
import posixpath
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from python_calamine import (
    CalamineError,
    CalamineSheet,
    CalamineWorkbook,
    PasswordError,
    SheetVisibleEnum,
)

from rag_workbook import layout, safety
from rag_workbook.cells import cell_name, cell_position, norm_header, parse_date
from rag_workbook.model import (
    QUARTERS,
    CellValue,
    LastYear,
    LastYearRow,
    Register,
    ReturnData,
    RowNotes,
    Severity,
    Status,
)
from rag_workbook.report import CATALOGUE, Code, Issue, Report

SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"})
_MAX_CELLS = 2_000_000  # a return is a few hundred cells; cap what reaches Python
_HEADER_SCAN_ROWS = 200

# Column roles -------------------------------------------------------------------------
ROLE_ID = "id"
ROLE_MEASURE = "measure"
ROLE_OVERRIDE = "override"
ROLE_REASON = "reason"
ROLE_COMMENT = "comment"
ROLE_ACTION = "action"
ROLE_KNOWN = "known"  # recognised, not read (unit, baseline, target, ...)

_ALIASES: dict[str, str] = {}
for _r, _names in {
    ROLE_ID: (
        "id",
        "no",
        "num",
        "number",
        "ref",
        "reference",
        "measureid",
        "measureno",
        "measurenumber",
        "measureref",
        "pi",
        "pino",
        "piref",
        "kpi",
        "kpino",
        "indicatorno",
        "indicatorid",
        "code",
    ),
    ROLE_MEASURE: (
        "performancemeasure",
        "measure",
        "measures",
        "measuretext",
        "measurename",
        "description",
        "indicator",
        "performanceindicator",
    ),
    ROLE_OVERRIDE: (
        "statusoverride",
        "override",
        "overridestatus",
        "status",
        "rag",
        "ragstatus",
        "ragoverride",
        "overriderag",
    ),
    ROLE_REASON: (
        "overridereason",
        "reason",
        "reasonforoverride",
        "overridejustification",
        "justification",
        "reasonforstatus",
    ),
    ROLE_COMMENT: (
        "comment",
        "comments",
        "commentary",
        "notes",
        "note",
        "remarks",
        "narrative",
        "leadcomment",
        "leadcomments",
    ),
    ROLE_ACTION: (
        "action",
        "actions",
        "actionplan",
        "nextsteps",
        "leadaction",
        "agreedaction",
    ),
    ROLE_KNOWN: (
        "unit",
        "units",
        "baseline",
        "target",
        "targets",
        "theme",
        "lead",
        "polarity",
        "basis",
        "tolerance",
        "datasource",
        "source",
        "ytdtarget",
        "annualtarget",
    ),
}.items():
    for _name in _names:
        _ALIASES[_name] = _r

_QUARTER_RE = re.compile(
    r"(?:actual|value|result|ytd|outturn|data)*(?:q|qtr|quarter)([1-4])"
    r"(?:actual|actuals|value|result|ytd|outturn|data|figure|performance)*"
)
_HEADER_LABELS = {
    "partnership": "partnership",
    "theme": "theme",
    "themename": "theme",
    "lead": "lead",
    "themelead": "lead",
    "leadofficer": "lead",
    "year": "year",
    "financialyear": "year",
    "quarter": "quarter",
    "reportingquarter": "quarter",
    "period": "quarter",
    "submitted": "submitted",
    "datesubmitted": "submitted",
    "submittedon": "submitted",
    "submissiondate": "submitted",
    "date": "submitted",
    "approvedby": "approvedby",
    "signedoffby": "approvedby",
    "approver": "approvedby",
    "approvedon": "approvedon",
    "approvaldate": "approvedon",
    "dateapproved": "approvedon",
    "signedoffon": "approvedon",
}
# The header block's key under which _find_header keeps the cell of each value it found
# (or of the cell right of its label, when the value is blank): {key: "B9"}.
_HEADER_CELLS = "@cells"
_POSITIONED = frozenset({"approvedby", "approvedon"})  # the keys whose cells are kept
_NUM_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[+-]?\.\d+")
_NO_VALUE = frozenset(re.sub(r"\s+", " ", w).strip().lower() for w in layout.NO_VALUE_WORDS)
_STATUS_WORDS: dict[str, Status] = {
    "green": Status.GREEN,
    "g": Status.GREEN,
    "amber": Status.AMBER,
    "a": Status.AMBER,
    "yellow": Status.AMBER,
    "red": Status.RED,
    "r": Status.RED,
    "nodata": Status.NO_DATA,
}


_CACHED_TEXT = 64  # longest text whose parse is cached (bounds the caches' memory)
_T = TypeVar("_T")


def _short_texts_cached(
    maxsize: int = 4096,
) -> Callable[[Callable[[str], _T]], Callable[[str], _T]]:
    """A decorator: results cached (`maxsize` of them) for texts of at most _CACHED_TEXT chars.

    Headers, labels and no-data words repeat across returns; long texts rarely do, and
    4,096 cached cells of 32,767 characters would hold about 128 MB for the rest of the run.
    """

    def wrap(func: Callable[[str], _T]) -> Callable[[str], _T]:
        cached = functools.lru_cache(maxsize=maxsize)(func)

        @functools.wraps(func)
        def call(text: str) -> _T:
            return cached(text) if len(text) <= _CACHED_TEXT else func(text)

        return call

    return wrap


def _norm(text: str) -> str:
    """Lower case, letters and digits only: 'Q 3 (actual)' -> 'q3actual' (cells.norm_header)."""
    return norm_header(text)


def _role(header: object) -> str:
    """The role of a header cell ('Q3' for quarter columns), or '' when unknown."""
    if not isinstance(header, str):
        return ""
    return _role_of_text(header)


@_short_texts_cached()
def _role_of_text(header: str) -> str:
    return _role_of_key(_norm(header))


def _role_of_key(key: str) -> str:
    """The role of a normalised header text ('' when unknown)."""
    if not key:
        return ""
    m = _QUARTER_RE.fullmatch(key)
    if m:
        return f"Q{m.group(1)}"
    return _ALIASES.get(key, "")


# _classify's results for short texts: labels and headers repeat across returns, while
# each return's own values (its theme, lead, title) are seen once; a plain dict that stops
# growing at its size keeps the labels without an LRU's churn (issue 6).
_CLASSIFIED: dict[str, tuple[bool, str, str]] = {}
_CLASSIFIED_MAX = 4096


def _classify(text: str) -> tuple[bool, str, str]:
    """A text cell above or on the table header: (not blank, column role, header-block key)."""
    found = _CLASSIFIED.get(text)
    if found is None:
        if not text.strip():
            found = (False, "", "")
        else:
            key = _norm(text)
            found = (True, _role_of_key(key), _HEADER_LABELS.get(key, ""))
        if len(text) <= _CACHED_TEXT and len(_CLASSIFIED) < _CLASSIFIED_MAX:
            _CLASSIFIED[text] = found
    return found


_a1 = cell_name  # 0-based (row, col) as "A1"
_rowcol = cell_position  # "B3" as 0-based (2, 1)


def _is_empty(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _text(v: object) -> str:
    """A cell as the lead saw it, for messages and reasons."""
    if type(v) is str:  # the usual case, first: ~40 calls a return
        return v.strip()
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    return str(v).strip()


# A frozen dataclass's __init__ sets each field through object.__setattr__; the reader
# builds about fifteen value, note and return objects a return, so it fills their
# __dict__ in one step instead (a third of the cost). Only for classes whose __init__
# does nothing else: checked here, so a change in model.py cannot slip past.
_new_object = object.__new__
_set_dict = object.__setattr__
_FAST_BUILT = {
    CellValue: ("measure_id", "quarter", "value", "text", "sheet", "cell"),
    RowNotes: (
        "measure_id",
        "override",
        "override_reason",
        "comment",
        "sheet",
        "override_cell",
        "comment_cell",
        "action",
        "action_cell",
        "quarter",
    ),
}
for _cls, _names in _FAST_BUILT.items():
    if tuple(f.name for f in fields(_cls)) != _names or hasattr(_cls, "__post_init__"):
        raise ImportError(f"returns.py: update _FAST_BUILT for model.{_cls.__name__}")


def _cell_value(
    measure_id: str, quarter: str, value: float | None, text: str, sheet: str, cell: str
) -> CellValue:
    """CellValue(...), built as its __init__ would (see _FAST_BUILT)."""
    obj = _new_object(CellValue)
    _set_dict(
        obj,
        "__dict__",
        {
            "measure_id": measure_id,
            "quarter": quarter,
            "value": value,
            "text": text,
            "sheet": sheet,
            "cell": cell,
        },
    )
    return obj


def _row_notes(
    measure_id: str,
    override: Status | None,
    override_reason: str,
    comment: str,
    sheet: str,
    override_cell: str,
    comment_cell: str,
    action: str = "",
    action_cell: str = "",
    quarter: str = "",
) -> RowNotes:
    """RowNotes(...), built as its __init__ would (see _FAST_BUILT)."""
    obj = _new_object(RowNotes)
    _set_dict(
        obj,
        "__dict__",
        {
            "measure_id": measure_id,
            "override": override,
            "override_reason": override_reason,
            "comment": comment,
            "sheet": sheet,
            "override_cell": override_cell,
            "comment_cell": comment_cell,
            "action": action,
            "action_cell": action_cell,
            "quarter": quarter,
        },
    )
    return obj


@dataclass(frozen=True)
class ParsedNumber:
    """A quarter cell read as a number: value (None for no data) or an issue code."""

    value: float | None
    code: Code | Literal[""] = ""  # "" when fine
    note: str = ""  # extra words for the message


def parse_number(v: object) -> ParsedNumber:
    """Read one quarter cell.

    Args:
        v: the cell as python-calamine gives it.

    Returns:
        A ParsedNumber: value and no code when read; value None and no code for a no-data
        word; a code (`value-not-a-number`, `value-is-a-date`, `value-reinterpreted`) else.

    Example:
        >>> parse_number("1,234").value
        1234.0
    """
    if isinstance(v, bool):
        return ParsedNumber(None, Code.VALUE_NOT_A_NUMBER, "a TRUE/FALSE value")
    if isinstance(v, (int, float)):
        f = float(v)
        if math.isnan(f) or math.isinf(f):
            return ParsedNumber(None, Code.VALUE_NOT_A_NUMBER)
        return ParsedNumber(f)
    if isinstance(v, (dt.datetime, dt.date, dt.time, dt.timedelta)):
        return ParsedNumber(None, Code.VALUE_IS_A_DATE, "a date")
    text = v if type(v) is str else str(v)
    return _parse_text(text)


# Returns repeat the same few words ('-', 'n/a', 'TBC'): short texts are parsed once.
@_short_texts_cached()
def _parse_text(v: str) -> ParsedNumber:
    text = v.replace("\u00a0", " ").strip()
    low = re.sub(r"\s+", " ", text).lower()
    if low in _NO_VALUE or _norm(low) in {"nodata", "na", "notavailable"} or set(low) <= {"-"}:
        return ParsedNumber(None)
    if low.startswith("#"):
        return ParsedNumber(None, Code.CELL_ERROR, "an Excel error")
    t = text.replace("\u2212", "-").replace(" ", "")
    for sym in ("£", "$", "€"):
        t = t.replace(sym, "")
    negative_brackets = t.startswith("(") and t.endswith(")")
    if negative_brackets:
        t = t[1:-1]
    t = t.removesuffix("%")
    if _NUM_RE.fullmatch(t):
        f = float(t.replace(",", ""))
        if negative_brackets:
            return ParsedNumber(-f, Code.VALUE_REINTERPRETED, f"read as {_text(-f)}")
        return ParsedNumber(f)
    return ParsedNumber(None, Code.VALUE_NOT_A_NUMBER)


def _parse_status(v: object) -> Status | str | None:
    """An override cell: a Status, None when empty, or the text when unknown."""
    if _is_empty(v):
        return None
    text = _text(v)
    return _status_of(text)


@_short_texts_cached(maxsize=1024)
def _status_of(text: str) -> Status | str:
    key = _norm(text)
    if key in _STATUS_WORDS:
        return _STATUS_WORDS[key]
    if re.sub(r"\s+", " ", text).lower() in _NO_VALUE or key == "":
        return Status.NO_DATA
    return text


_QUARTER_TEXT = re.compile(r"(?:^|[^a-z])(?:q|qtr|quarter)\s*([1-4])\b")


def _parse_quarter(v: object) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v in (1, 2, 3, 4):
        return f"Q{int(v)}"
    m = _QUARTER_TEXT.search(_text(v).lower())
    if m:
        return f"Q{m.group(1)}"
    if re.fullmatch(r"\s*[1-4]\s*", _text(v)):
        return f"Q{_text(v).strip()}"
    return ""


def _parse_date(v: object) -> str:
    """A header-block date as an ISO string (a date alone at midnight), or ''."""
    when = parse_date(v)
    if when is None:
        return ""
    return when.date().isoformat() if when.time() == dt.time() else when.isoformat()


_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_MEMBER_LIMIT = 64 << 20


def _quick_member(data: bytes, name: str) -> bytes | None:
    """One zip member found by its local header, without building a ZipFile.

    Python's zipfile parses the whole central directory, which costs more than the rest
    of reading a small return; this finds the member directly. None when the member is
    absent or stored in a way this shortcut does not handle (the caller falls back).
    """
    raw = name.encode()
    pos = data.find(raw)
    while pos >= 30:
        start = pos - 30
        if data[start : start + 4] == b"PK\x03\x04":
            (_, _, flags, method, _, _, _, csize, usize, nlen, xlen) = _LOCAL_HEADER.unpack_from(
                data, start
            )
            if nlen == len(raw):
                if flags & 0x9 or (method not in (0, 8)) or (csize == 0 and usize == 0):
                    return None
                body = data[pos + nlen + xlen : pos + nlen + xlen + csize]
                if method == 0:
                    return body
                try:
                    return zlib.decompressobj(-15).decompress(body, _MEMBER_LIMIT)
                except zlib.error:
                    return None
        pos = data.find(raw, pos + 1)
    return None


def _saved_time(data: bytes, suffix: str) -> str:
    """The workbook's own saved time (docProps/core.xml or ODS meta.xml), or ''."""
    member = "docProps/core.xml" if suffix != ".ods" else "meta.xml"
    xml = _quick_member(data, member)
    if xml is None:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if zf.getinfo(member).file_size > _PART_LIMIT:
                    return ""
                xml = zf.read(member)
        except (OSError, KeyError, zipfile.BadZipFile, ValueError, RuntimeError):
            return ""
    if len(xml) > _PART_LIMIT:
        return ""
    return _stamp(xml, suffix)


def _stamp(xml: bytes, suffix: str) -> str:
    """The modified (else created) time in core.xml / meta.xml as an ISO datetime, or ''."""
    names = ("modified", "created") if suffix != ".ods" else ("date", "creation-date")
    try:
        texts = _part_texts(xml, names)
    except Exception:  # not well formed, or unsafe XML: no saved time
        return ""
    stamp = parse_date(texts.get(names[0]) or texts.get(names[1]) or "")
    return "" if stamp is None else stamp.replace(microsecond=0).isoformat()


# Cells with a formula problem: (row, col) -> (code, the error shown, or "").
_Problems = dict[tuple[int, int], tuple[Code, str]]

# A formula element starts `<f` or, with a prefix, `<x:f`, its name ended by one of these;
# other elements start so too (`<formula1>` of a drop-down, `<filterColumn>`).
_FORMULA_STARTS = (b"<f", b":f")
_NAME_ENDS = (b">", b" ", b"/", b"\n", b"\r", b"\t")


def _has_formula_or_error(xml: bytes) -> bool:
    """Whether a sheet part may hold a formula (`<f>`, `<x:f t="shared"/>`, any prefix) or an
    error value (`t="e"`, however quoted or spaced). Byte searches, not a parse, as most
    sheets have neither: they may say yes for a part with neither (the parse then finds
    nothing) but never no for a part with either, and a part in UTF-16, which they cannot
    see into, is always looked at."""
    # find, not `in`: on Python 3.11 `bytes in bytes` raises and clears a TypeError first.
    # A search for one byte is a memchr, many times faster than for three: most parts
    # have no single quote at all, so need no search for 'e'.
    if xml.find(b'"e"') >= 0 or xml[:4].find(b"\x00") >= 0:
        return True
    if xml.find(b"'") >= 0 and xml.find(b"'e'") >= 0:
        return True
    for start in _FORMULA_STARTS:
        at = xml.find(start)
        while at >= 0:
            if xml[at + 2 : at + 3] in _NAME_ENDS:
                return True
            at = xml.find(start, at + 2)
    return False


# The part of an issued return's Return sheet (the first), which the safety check unpacks
# whole for _formula_problems as it scans it.
_FIRST_SHEET = frozenset({"xl/worksheets/sheet1.xml"})


def _formula_problems(
    data: bytes, sheet_name: str, index: int, unpacked: dict[str, bytes] | None = None
) -> _Problems:
    """Cells of an xlsx sheet holding a formula without a cached value, or an error value.

    Returns `(row, col) -> (Code.FORMULA_WITHOUT_VALUE, "")` or `(Code.CELL_ERROR, "#DIV/0!")`.
    Cheap when the sheet has neither: Excel, LibreOffice and most writers store the n-th sheet as
    `sheet<n>.xml`, so that part is read (from `unpacked`, the parts the safety check
    unpacked whole, when there) and searched once; the workbook relationships
    are consulted only when it has formulas or errors (to be sure of the part).
    """
    guess = f"xl/worksheets/sheet{index + 1}.xml"
    quick = unpacked.get(guess) if unpacked else None
    if quick is None:
        quick = _quick_member(data, guess)
    if quick is not None and not _has_formula_or_error(quick):
        return {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            xml = zf.read(guess) if guess in zf.NameToInfo else b""
            if xml and not _has_formula_or_error(xml):
                return {}
            target = _sheet_part(zf, sheet_name)
            if target is None:
                return {}
            if target != guess:
                xml = zf.read(target)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, RuntimeError):
        return {}
    if not _has_formula_or_error(xml):
        return {}
    try:
        return _cell_problems(xml)
    except Exception:  # not well formed, or unsafe: safety.py has refused such a file before
        return {}


def _sheet_part(zf: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member of a worksheet, found through workbook.xml and its relationships."""
    try:
        return sheet_parts(zf).get(sheet_name)
    except Exception:  # a part missing, not well formed or unsafe
        return None


@dataclass
class _Ctx:
    """Mutable state of one read (private; the result is the frozen ReturnData)."""

    register: Register
    file: str
    sheet: str = ""
    issues: list[Issue] = field(default_factory=list)
    dropped: int = 0  # issues past safety.LIMITS.max_issues_per_file, counted not kept

    def final_issues(self) -> tuple[Issue, ...]:
        """The issues kept, plus one that says how many more there were."""
        if not self.dropped:
            return tuple(self.issues)
        limit = safety.LIMITS.max_issues_per_file
        return (
            *self.issues,
            Issue.of(
                Code.TOO_MANY_ISSUES,
                f"{self.dropped:,} more problems in this file are not listed "
                f"(at most {limit:,} are listed per file)",
                file=self.file,
                sheet=self.sheet,
            ),
        )

    def text(self, v: object, *, cell: str, measure_id: str = "") -> str:
        """A cell as text, cut at safety.LIMITS.max_cell_chars with a warning."""
        text = _text(v)
        limit = safety.LIMITS.max_cell_chars
        if len(text) > limit:
            self.add(
                Code.CELL_TOO_LONG,
                f"the text has {len(text):,} characters; only the first {limit:,} are kept "
                "(Excel's own limit for a cell)",
                cell=cell,
                measure_id=measure_id,
            )
            text = text[:limit]
        return text

    def add(
        self,
        code: Code,
        message: str,
        *,
        fix: str = "",
        severity: Severity | None = None,
        cell: str = "",
        value: str = "",
        measure_id: str = "",
        sheet: str | None = None,
    ) -> None:
        """Keep one issue; its severity and fix are the catalogue's unless given."""
        if len(self.issues) >= safety.LIMITS.max_issues_per_file:
            self.dropped += 1
            return
        self.issues.append(
            Issue.of(
                code,
                message,
                fix=fix,
                severity=severity,
                file=self.file,
                sheet=self.sheet if sheet is None else sheet,
                cell=cell,
                value=value,
                measure_id=measure_id,
            )
        )


def _unreadable(path: Path, display: str, issue: Issue, digest: str = "") -> ReturnData:
    """A refused file: its one issue, and its SHA-256 for the About sheet when it can be had."""
    if not digest:
        digest = _file_digest(path)
    return ReturnData(path=str(path), file=display, sha256=digest, issues=(issue,), readable=False)


def _file_digest(path: Path) -> str:
    """The SHA-256 of a file read in chunks (any size, little memory), or '' if unreadable."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except (OSError, ValueError):
        return ""


class _Refusal(Exception):
    """A file the readers cannot read, with the issue that says so in the lead's words;
    raised inside this module only."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


def read_return(path: str | Path, register: Register, *, display: str | None = None) -> ReturnData:
    """Read one return workbook into values, row notes and issues; never raises for bad input.

    A workbook python-calamine cannot read (a UTF-16 `.xlsx`, some `.xlsm` with macro
    sheets) is read through openpyxl in a process of its own, bounded in time and memory
    (`FALLBACK_SECONDS`, `FALLBACK_MEMORY`), with the same results and sources. What the
    readers raise for a bad file becomes one issue in the lead's words; anything else
    raised while reading is a bug of ours and becomes an `internal-error` issue.

    Args:
        path: the workbook (.xlsx, .xlsm, .xls, .xlsb or .ods).
        register: the register of measures the return is checked against.
        display: the file name used in issues and Source cells (default: `path` as given).

    Returns:
        A ReturnData. When the file cannot be read at all, `readable` is False and its one
        issue says why.

    Example:
        >>> data = read_return("returns/ASB.xlsx", register)
        >>> [(v.measure_id, v.quarter, v.value) for v in data.values][:1]
        [('1.1', 'Q1', 120.0)]
    """
    p = path if isinstance(path, Path) else Path(path)
    shown = display if display is not None else str(path)
    try:
        checked = safety.check_and_unpack(p, shown, wanted=_FIRST_SHEET)
        if isinstance(checked, Issue):
            return _unreadable(p, shown, checked)
        data = checked.data
        if data is None:  # too large for the check to have read it whole
            data = p.read_bytes()
    except OSError as exc:
        return _unreadable(
            p,
            shown,
            Issue.of(
                Code.FILE_UNREADABLE,
                f"cannot read the file ({exc.strerror or type(exc).__name__})",
                fix="check the file is not open elsewhere and you may read it",
                file=shown,
            ),
        )
    except MemoryError:
        return _unreadable(p, shown, _fail_issue(shown, "the file is too large to read"))
    except Exception as exc:
        return _unreadable(p, shown, _internal_issue(shown, exc))
    digest = hashlib.sha256(data).hexdigest()
    try:
        return _read(p, shown, data, digest, register, checked)
    except _Refusal as refusal:
        return _unreadable(p, shown, refusal.issue, digest)
    except MemoryError:
        return _unreadable(p, shown, _fail_issue(shown, "the file is too large to read"), digest)
    except Exception as exc:
        if _reader_failed(exc):
            return _unreadable(p, shown, _open_issue(shown, exc), digest)
        return _unreadable(p, shown, _internal_issue(shown, exc), digest)
    except BaseException as exc:  # a Rust panic in python-calamine is a BaseException
        if _reader_failed(exc):
            return _unreadable(p, shown, _open_issue(shown, exc), digest)
        raise


def _reader_failed(exc: BaseException) -> bool:
    """Whether a reader raised `exc` for a bad file: python-calamine's own errors, its
    panics and its I/O errors on the file's bytes in memory ("corrupt deflate stream"),
    zip and deflate errors. Anything else is a bug of ours."""
    if isinstance(exc, (CalamineError, OSError, zipfile.BadZipFile, zlib.error)):
        return True
    kind = type(exc)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"


def _fail_issue(shown: str, message: str) -> Issue:
    return Issue.of(
        Code.FILE_UNREADABLE,
        message,
        fix="ask the lead to save it from Excel as .xlsx and send it again",
        file=shown,
    )


def _internal_issue(shown: str, exc: BaseException) -> Issue:
    """A bug of ours while reading a file: named as such, never blamed on the lead."""
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return Issue.of(
        Code.INTERNAL_ERROR,
        f"rag-workbook failed while reading this file ({type(exc).__name__}"
        + (f": {detail}" if detail else "")
        + "); this is a bug in rag-workbook, not in the file",
        fix="please report this with the file (RAG_WORKBOOK_DEBUG=1 shows the details); "
        "the rest of the merge went on",
        file=shown,
    )


def _open_issue(shown: str, exc: BaseException) -> Issue:
    """A reader's refusal in the lead's words; the reader's own message is never shown."""
    if isinstance(exc, PasswordError):
        return Issue.of(
            Code.FILE_ENCRYPTED,
            "the workbook is password-protected, so it cannot be read",
            file=shown,
        )
    return _fail_issue(
        shown,
        "the workbook is damaged or saved in a form that cannot be read (neither "
        "python-calamine nor openpyxl could open it)",
    )


def _rows_of(sheet: CalamineSheet) -> tuple[list[list[object]], int]:
    """Rows from A1, capped so a huge sheet cannot exhaust memory; and the sheet's height.

    At most safety.LIMITS.max_rows_per_sheet rows (and _MAX_CELLS cells) reach Python.
    """
    end = sheet.end
    height = (end[0] + 1) if end else sheet.height
    end_col = (end[1] + 1) if end else max(sheet.width, 1)
    cap = min(safety.LIMITS.max_rows_per_sheet, _MAX_CELLS // max(end_col, 1))
    nrows = max(1, min(height, cap))
    rows = cast("list[list[object]]", sheet.to_python(skip_empty_area=False, nrows=nrows))
    return rows, height


# --- the two ways into a workbook: python-calamine, else openpyxl in its own process ----

_Merged = list[tuple[tuple[int, int], tuple[int, int]]]


@dataclass(frozen=True)
class _Sheets:
    """A workbook's sheets as the reader needs them, whichever library opened it.

    `read(name)` gives the rows from A1 (capped, see _rows_of), the sheet's height, and
    a function giving its merged ranges; `visible()` the visible sheets (all of them when
    none is), asked for only when no sheet named Return has the table.
    """

    names: list[str]
    visible: Callable[[], set[str]]
    read: Callable[[str], tuple[list[list[object]], int, Callable[[], _Merged]]]


def _calamine_sheets(wb: CalamineWorkbook) -> _Sheets:
    def read(name: str) -> tuple[list[list[object]], int, Callable[[], _Merged]]:
        sheet = wb.get_sheet_by_name(name)
        rows, height = _rows_of(sheet)

        def merged() -> _Merged:
            return list(sheet.merged_cell_ranges or [])

        return rows, height, merged

    def visible() -> set[str]:
        shown = {m.name for m in wb.sheets_metadata if m.visible == SheetVisibleEnum.Visible}
        return shown or set(names)

    names = list(wb.sheet_names)
    return _Sheets(names, visible, read)


FALLBACK_SECONDS = 8.0  # most time openpyxl may take over one file
FALLBACK_MEMORY = 1 << 30  # most memory (address space) its process may use
_FALLBACK_READERS: set[subprocess.Popen[bytes]] = set()


def end_fallback_readers() -> None:
    """Kill the openpyxl reader processes still running (the command line's Ctrl-C)."""
    for proc in list(_FALLBACK_READERS):
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait(timeout=0.5)


def _fallback_sheets(shown: str, data: bytes) -> _Sheets:
    """The workbook read by openpyxl in a process of its own, bounded in time and memory.

    Raises:
        _Refusal: openpyxl cannot read it either, or not within the bounds.
    """
    command = [
        sys.executable,
        "-c",
        "from rag_workbook.returns import _fallback_main as m; m()",
        str(FALLBACK_MEMORY),
    ]
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    _FALLBACK_READERS.add(proc)
    try:
        out, _ = proc.communicate(data, timeout=FALLBACK_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise _Refusal(
            _fail_issue(
                shown,
                f"the workbook could not be read within {FALLBACK_SECONDS:g} s, the limit for "
                "one return (it may be very large)",
            )
        ) from None
    finally:
        _FALLBACK_READERS.discard(proc)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    try:
        found: dict[str, Any] = pickle.loads(out) if proc.returncode == 0 else {"error": "memory"}
    except (pickle.UnpicklingError, EOFError, ValueError):
        found = {"error": "memory"}
    error = found.get("error")
    if error == "internal":
        raise RuntimeError(f"the openpyxl reader failed: {found.get('detail', '')}")
    if error == "memory":
        raise _Refusal(
            _fail_issue(
                shown,
                f"reading the workbook needed more than {FALLBACK_MEMORY >> 20:,} MB of "
                "memory, the limit for one return (it may be very large)",
            )
        )
    if error is not None:
        raise _Refusal(_open_issue(shown, CalamineError(error)))
    sheets: dict[str, tuple[list[list[object]], int, _Merged]] = found["sheets"]

    def read(name: str) -> tuple[list[list[object]], int, Callable[[], _Merged]]:
        rows, height, merged = sheets.get(name, ([], 0, []))
        return rows or [[""]], height, lambda: merged

    visible = set(found["visible"])
    return _Sheets(list(found["names"]), lambda: visible, read)


def _fallback_main() -> None:
    """The openpyxl reader's process: the workbook's bytes on stdin, a pickle on stdout;
    its memory limit (bytes of address space) as its one argument."""
    import threading
    import time

    limit = int(sys.argv[1]) if len(sys.argv) > 1 else FALLBACK_MEMORY
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    parent = os.getppid()

    def watch() -> None:  # end with the process that started this one
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    data = sys.stdin.buffer.read()
    try:
        result = _openpyxl_sheets(data)
    except MemoryError:
        result = {"error": "memory"}
    except Exception as exc:
        result = {"error": "internal", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()


def _openpyxl_sheets(data: bytes) -> dict[str, object]:
    """Every worksheet's rows as python-calamine's to_python gives them (numbers as float,
    blanks as ''), within the reader's caps; {'error': ...} when openpyxl cannot read it."""
    import warnings

    warnings.simplefilter("ignore")  # openpyxl warns about every extension it skips
    import openpyxl

    try:
        wb = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
        names = list(wb.sheetnames)
        visible = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"]
        raw: dict[str, tuple[list[tuple[object, ...]], int]] = {}
        merges: dict[str, list[str]] = {}
        budget = _MAX_CELLS
        for ws in wb.worksheets:
            width = min(max(ws.max_column or 1, 1), 16_384)
            cap = max(1, min(safety.LIMITS.max_rows_per_sheet, budget // width))
            rows = list(ws.iter_rows(max_row=cap + 1, max_col=width, values_only=True))
            height = max(ws.max_row or 0, len(rows))
            raw[ws.title] = (cast("list[tuple[object, ...]]", rows[:cap]), height)
            budget = max(0, budget - cap * width)
            merges[ws.title] = _merge_refs(wb, ws)
    except MemoryError:
        raise
    except Exception:  # whatever openpyxl raises for a bad file: it cannot read it either
        return {"error": "unreadable"}
    sheets = {
        name: (_as_calamine_rows(rows), height, _as_ranges(merges[name]))
        for name, (rows, height) in raw.items()
    }
    return {"names": names, "visible": visible or names, "sheets": sheets}


_RANGE = re.compile(r"[A-Z]+[0-9]+:[A-Z]+[0-9]+")  # an attribute's value, "E10:F10"


def _merge_refs(wb: object, ws: object) -> list[str]:
    """The merged ranges of a sheet ("A1:B2"), from its XML part: openpyxl's read-only
    worksheets do not parse them. [] when the part cannot be found."""
    archive = getattr(wb, "_archive", None)
    part = getattr(ws, "_worksheet_path", None)
    if archive is None or not part:
        return []
    with archive.open(part) as member:
        xml = member.read(safety.LIMITS.max_part_bytes)
    return _merged_ranges(xml)


class _MergeRefs:
    """Parser target: the `ref` of each `mergeCell`, whatever its prefix or quoting."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if _local(tag) == "mergeCell":
            ref = attrib.get("ref", "")
            if _RANGE.fullmatch(ref):
                self.found.append(ref)

    def close(self) -> None:
        pass


def _merged_ranges(xml: bytes) -> list[str]:
    """The merged ranges ("A1:B2") of a sheet part, parsed; those before the place where a
    part cut short or not well formed stops the parse."""
    target = _MergeRefs()
    with contextlib.suppress(Exception):  # cut short at the read limit, or not well formed
        _feed(xml, target)
    return target.found


def _as_ranges(refs: list[str]) -> _Merged:
    """ "A1:B2" as python-calamine gives merged ranges: ((0, 0), (1, 1))."""
    out: _Merged = []
    for ref in refs:
        first, last = ref.split(":")
        out.append((_rowcol(first), _rowcol(last)))
    return out


def _as_calamine_cell(v: object) -> object:
    if v is None:
        return ""
    if type(v) is int:
        return float(v)
    if isinstance(v, dt.datetime) and v.time() == dt.time():
        return v.date()
    return v


def _as_calamine_rows(rows: list[tuple[object, ...]]) -> list[list[object]]:
    """openpyxl's row tuples as python-calamine's rows: '' for blanks, float for numbers, a
    date for a date-time at midnight, every row as wide as the widest, trailing blank rows
    dropped."""
    out: list[list[object]] = []
    width = 0
    for row in rows:
        cells: list[object] = [_as_calamine_cell(v) for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        width = max(width, len(cells))
        out.append(cells)
    while out and not out[-1]:
        out.pop()
    return [cells + [""] * (width - len(cells)) for cells in out]


_QUARTER_ROLES = frozenset(QUARTERS)


def _find_header(
    rows: list[list[object]],
) -> tuple[int, dict[int, str], dict[str, object]] | None:
    """The table header row, its column roles and the header block above it.

    The header row is the first with an ID and a quarter column. The header block holds
    the facts by label (partnership, theme, ...) found in the rows above it: the first
    non-empty cell right of a known label. One pass, as every return pays for it.
    """
    block: dict[str, object] = {}
    classified = _CLASSIFIED.get
    for r, row in enumerate(rows[:_HEADER_SCAN_ROWS]):
        if not any(row):  # no text at all (blank cells are "", None or 0)
            continue
        roles: dict[int, str] = {}
        labels: list[tuple[int, str]] = []
        # Only the filled cells, picked in C: a header block row fills two of a dozen.
        for c, v in itertools.compress(enumerate(row), row):
            if isinstance(v, str):
                filled, role, key = classified(v) or _classify(v)
                if filled:
                    roles[c] = role
                    if key:
                        labels.append((c, key))
        if roles:
            found = roles.values()
            if ROLE_ID in found and not _QUARTER_ROLES.isdisjoint(found):
                return r, roles, block
        for c, key in labels:
            if key in block:
                continue
            at = c + 1
            for offset in range(c + 1, len(row)):
                w = row[offset]
                if w is None or w == "":
                    continue
                if w.__class__ is str:
                    filled, _, label = classified(w) or _classify(w)
                    if label:
                        break  # the next label: this one's value is blank
                    if not filled:
                        continue
                block[key] = w
                at = offset
                break
            if key in _POSITIONED:
                cells = cast(dict[str, str], block.setdefault(_HEADER_CELLS, {}))
                cells[key] = _a1(r, at)
    return None


def _meta_properties(data: bytes) -> dict[str, str]:
    """The return's metadata from its custom document properties (layout.META_PROPERTY_PREFIX
    + key, holding text); {} when they are not all there (an older return, or an
    application that dropped them): then the hidden sheet is read instead."""
    xml = _quick_member(data, "docProps/custom.xml")
    if xml is None or len(xml) > 65536:
        return {}
    try:
        properties = _custom_properties(xml)
    except Exception:  # not well formed, or unsafe XML: read the hidden sheet instead
        return {}
    prefix = layout.META_PROPERTY_PREFIX
    meta = {
        name.removeprefix(prefix): value.strip()
        for name, value in properties.items()
        if name.startswith(prefix)
    }
    if meta.get("kind") != layout.META_KIND or not meta.keys() >= _META_KEYS:
        return {}
    return meta


_META_KEYS = frozenset(layout.META_KEYS)


# The sheet the return table was found on: name, rows, header row, column roles, header
# block, position among the sheets, and its merged ranges.
_Found = tuple[str, list[list[object]], int, dict[int, str], dict[str, object], int, _Merged]


def _read(
    path: Path,
    shown: str,
    data: bytes,
    digest: str,
    register: Register,
    checked: safety.Checked,
) -> ReturnData:
    """Read one return's bytes: open the workbook (python-calamine; openpyxl in a bounded
    process of its own for an .xlsx/.xlsm that python-calamine cannot read), find its
    metadata and the sheet with the return table, then read the table. `checked` is what
    the safety check read of them (part names, worksheets unpacked whole)."""
    suffix = path.suffix.lower()
    ctx = _Ctx(register, shown)
    if _is_own_output(data, suffix, checked.parts):
        raise _Refusal(own_output_issue(shown))
    try:
        with CalamineWorkbook.from_filelike(io.BytesIO(data)) as wb:
            meta, found = _find_table(ctx, _calamine_sheets(wb), data, suffix)
    except BaseException as exc:
        if not _reader_failed(exc) or suffix not in (".xlsx", ".xlsm"):
            raise
        ctx = _Ctx(register, shown)
        meta, found = _find_table(ctx, _fallback_sheets(shown, data), data, suffix)
    if found is None:
        ctx.add(
            Code.NO_RETURN_TABLE,
            "no sheet has a table with an ID column and quarter columns (Q1..Q4)",
        )
        return ReturnData(
            path=str(path),
            file=shown,
            sha256=digest,
            issues=ctx.final_issues(),
            readable=False,
        )
    sheet_name, rows, hrow, roles, header_block, sheet_index, merged = found
    ctx.sheet = sheet_name
    problems = (
        _formula_problems(data, sheet_name, sheet_index, checked.unpacked)
        if suffix in (".xlsx", ".xlsm")
        else {}
    )

    def saved_time() -> str:
        return _saved_time(data, suffix) if suffix in (".xlsx", ".xlsm", ".ods") else ""

    table = _Table(rows, hrow, roles, merged, problems)
    return _read_table(path, shown, digest, ctx, meta, table, header_block, saved_time)


_RETURN_KEY = _norm(layout.RETURN_SHEET)


def _visible_others(book: _Sheets, named: list[str]) -> Iterator[str]:
    """The visible sheets not in `named`, in order; the visibility is looked up only if
    they are asked for (a return's table is on its Return sheet)."""
    visible = book.visible()
    yield from (n for n in book.names if n in visible and n not in named)


def _find_table(
    ctx: _Ctx, book: _Sheets, data: bytes, suffix: str
) -> tuple[dict[str, str], _Found | None]:
    """The return's metadata (document properties, else the hidden sheet) and the first
    sheet with a return table: a sheet named Return first, then the visible ones."""
    names = book.names
    meta_name = next((n for n in names if n.strip().lower() == layout.META_SHEET), None)
    meta = _meta_properties(data) if suffix in (".xlsx", ".xlsm") else {}
    if not meta and meta_name is not None:
        for row in book.read(meta_name)[0][:50]:
            if len(row) >= 2 and isinstance(row[0], str):
                meta[row[0].strip().lower()] = _text(row[1])
        if meta.get("kind") != layout.META_KIND:
            meta = {}
    named = [n for n in names if _norm(n) == _RETURN_KEY]
    for name in itertools.chain(named, _visible_others(book, named)):
        if name == meta_name:
            continue
        rows, height, merged_of = book.read(name)
        header = _find_header(rows)
        if header is None:
            continue
        if height > len(rows):
            ctx.add(
                Code.ROWS_NOT_READ,
                f"the sheet has {height:,} rows; only the first {len(rows):,} were "
                "read (a return has a few dozen)",
                sheet=name,
                cell=_a1(len(rows), 0),
            )
        try:
            merged = merged_of()
        except CalamineError:  # merges unreadable: the values are still read
            merged = []
        return meta, (name, rows, header[0], header[1], header[2], names.index(name), merged)
    return meta, None


@dataclass(frozen=True)
class _Table:
    """The return table as found: the sheet's rows, the header row and its column roles,
    the sheet's merged ranges and the cells with formula problems."""

    rows: list[list[object]]
    hrow: int
    roles: dict[int, str]
    merged: _Merged
    problems: _Problems


@dataclass(frozen=True)
class _Columns:
    """Where each role's column is: the ID, the quarters and the notes."""

    id_col: int
    value_cols: dict[str, int]
    note_cols: dict[str, int]

    @property
    def area(self) -> list[int]:
        """The value area's columns (quarters and notes), in sheet order."""
        return sorted([*self.value_cols.values(), *self.note_cols.values()])


def _read_table(
    path: Path,
    shown: str,
    digest: str,
    ctx: _Ctx,
    meta: dict[str, str],
    table: _Table,
    header: dict[str, object],
    saved_time: Callable[[], str],
) -> ReturnData:
    """The values and notes of the table's measure rows, then the return's facts (theme,
    lead, year, submitted) from its metadata, header block and file."""
    cols = _column_roles(ctx, table)
    fill = _merge_fills(ctx, table, cols)
    values: list[CellValue] = []
    notes: list[RowNotes] = []
    seen: dict[str, int] = {}
    ids_present: list[str] = []
    blanks: list[tuple[str, str, str, str]] = []
    _read_rows(ctx, table, cols, fill, values, notes, seen, ids_present, blanks)
    theme = _recognise_theme(ctx, meta, header, ids_present, path)
    _check_meta(ctx, meta, header)
    cells = cast(dict[str, str], header.get(_HEADER_CELLS, {}))
    if theme:
        for m in ctx.register.measures_of(theme):
            if m.measure_id not in seen:
                ctx.add(
                    Code.MEASURE_MISSING_FROM_RETURN,
                    f"measure {m.measure_id} of {theme} has no row in this return",
                    measure_id=m.measure_id,
                )
    return ReturnData(
        path=str(path),
        file=shown,
        sha256=digest,
        theme=theme,
        lead=_text(header.get("lead", "")) or meta.get("lead", ""),
        year=_text(header.get("year", "")) or meta.get("year", ""),
        quarter=_parse_quarter(header.get("quarter", "")),
        submitted=_submitted(header, saved_time, path),
        fingerprint=meta.get("fingerprint", ""),
        values=tuple(values),
        notes=tuple(notes),
        issues=ctx.final_issues(),
        readable=True,
        approved_by=_text(header.get("approvedby", "")),
        approved_on=_parse_date(header.get("approvedon", ""))[:10]
        or _text(header.get("approvedon", "")),
        approval_cells=(cells.get("approvedby", ""), cells.get("approvedon", "")),
        blanks=tuple(blanks),
    )


def _submitted(header: dict[str, object], saved_time: Callable[[], str], path: Path) -> str:
    """The Submitted date of the header block, else the workbook's saved time, else the
    file's modification time."""
    submitted = _parse_date(header.get("submitted", ""))
    if not submitted:
        submitted = saved_time()
    if not submitted:
        try:
            submitted = (
                dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
                .replace(tzinfo=None, microsecond=0)
                .isoformat()
            )
        except OSError:
            submitted = ""
    return submitted


def _column_roles(ctx: _Ctx, table: _Table) -> _Columns:
    """Column roles; the first column of a role wins, later duplicates are reported."""
    rows, hrow, roles = table.rows, table.hrow, table.roles
    col_of: dict[str, int] = {}
    for c in sorted(roles):
        role = roles[c]
        if not role:
            label = _text(rows[hrow][c])
            ctx.add(
                Code.UNKNOWN_COLUMN,
                f"column '{label}' is not a return column; its cells are not read",
                cell=_a1(hrow, c),
                value=label,
            )
        elif role in col_of and role != ROLE_KNOWN:
            label = _text(rows[hrow][c])
            ctx.add(
                Code.DUPLICATE_COLUMN,
                f"column '{label}' repeats the {role} column; its cells are not read",
                cell=_a1(hrow, c),
                value=label,
            )
        elif role != ROLE_KNOWN:
            col_of[role] = c
    return _Columns(
        id_col=col_of[ROLE_ID],
        value_cols={r: c for r, c in col_of.items() if r in QUARTERS},
        note_cols={
            r: col_of[r]
            for r in (ROLE_OVERRIDE, ROLE_REASON, ROLE_COMMENT, ROLE_ACTION)
            if r in col_of
        },
    )


def _merge_fills(ctx: _Ctx, table: _Table, cols: _Columns) -> dict[int, list[tuple[int, object]]]:
    """Merges: text columns spread down their merged rows (row -> [(col, text)]); merges
    of quarter cells are reported."""
    rows, hrow = table.rows, table.hrow
    fill: dict[tuple[int, int], object] = {}
    for (r0, c0), (r1, c1) in table.merged:
        if r1 <= hrow:
            continue
        top = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else ""
        covered_q = [c for c in cols.value_cols.values() if c0 <= c <= c1]
        if len(covered_q) > 1 or (covered_q and r1 > r0):
            ctx.add(
                Code.MERGED_VALUE_CELLS,
                f"quarter cells {_a1(r0, c0)}:{_a1(r1, c1)} are "
                "merged; the value is read for its first cell only",
                cell=_a1(r0, c0),
                value=_text(top),
            )
        if c0 in (cols.id_col, *cols.note_cols.values()) and not covered_q:
            for r in range(max(r0, hrow + 1), r1 + 1):
                fill[(r, c0)] = top
    fill_rows: dict[int, list[tuple[int, object]]] = {}
    for (r, c), v in fill.items():
        fill_rows.setdefault(r, []).append((c, v))
    return fill_rows


def _read_rows(
    ctx: _Ctx,
    table: _Table,
    cols: _Columns,
    fill_rows: dict[int, list[tuple[int, object]]],
    values: list[CellValue],
    notes: list[RowNotes],
    seen: dict[str, int],
    ids_present: list[str],
    blanks: list[tuple[str, str, str, str]],
) -> None:
    """Each measure row's values and notes, appended to `values` and `notes` (and its
    blank quarter cells to `blanks`, for the chase list); each row is
    read padded to the columns used, with merged text spread into its empty cells (on a
    copy: the rows are not changed)."""
    rows, problems = table.rows, table.problems
    id_col, value_cols, note_cols = cols.id_col, cols.value_cols, cols.note_cols
    area_cols = cols.area
    width = max(id_col, *area_cols) + 1
    sheet = ctx.sheet
    measure_of = ctx.register.measure
    for r in range(table.hrow + 1, len(rows)):
        row = rows[r]
        if len(row) < width:
            row = [*row, *([""] * (width - len(row)))]
        if r in fill_rows:
            row = list(row)
            for c, v in fill_rows[r]:
                if _is_empty(row[c]):
                    row[c] = v
        raw_id = row[id_col]
        if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):  # _is_empty
            _row_without_id(ctx, row, r, id_col, area_cols, problems)
            continue
        mid = _measure_id(raw_id, ctx.register)
        if measure_of(mid) is None:
            _unknown_measure(ctx, row, r, id_col, area_cols, mid)
            continue
        if mid in seen:
            _duplicate_measure(ctx, row, r, id_col, area_cols, mid, seen[mid])
            continue
        seen[mid] = r
        ids_present.append(mid)
        for q, c in value_cols.items():
            v = row[c]
            if not problems:  # the usual sheet, without formulas or error cells
                if type(v) is float and math.isfinite(v):  # a number: most quarter cells
                    # _text(v), inlined
                    text = str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
                    values.append(_cell_value(mid, q, v, text, sheet, _a1(r, c)))
                    continue
                if v == "":  # an empty cell, nothing to read or report
                    blanks.append((mid, q, sheet, _a1(r, c)))
                    continue
            elif v == "" or v is None:
                blanks.append((mid, q, sheet, _a1(r, c)))
            _read_value(ctx, values, mid, q, r, c, v, problems.get((r, c)))
        notes_row = _read_notes(ctx, mid, r, note_cols, row, problems)
        if notes_row is not None:
            notes.append(notes_row)


def _row_without_id(
    ctx: _Ctx,
    row: list[object],
    r: int,
    id_col: int,
    area_cols: list[int],
    problems: _Problems,
) -> None:
    """A row with entries but no measure ID: reported, not read."""
    filled = _filled(row, area_cols)
    flagged = [c for c in area_cols if (r, c) in problems] if problems else []
    if filled or flagged:
        where = ", ".join(_a1(r, c) for c, _ in filled) or ", ".join(_a1(r, c) for c in flagged)
        ctx.add(
            Code.ROW_WITHOUT_ID,
            f"row {r + 1} has entries ({where}) but no measure ID; they are not read",
            cell=_a1(r, id_col),
            value="; ".join(_text(v) for _, v in filled),
        )


def _unknown_measure(
    ctx: _Ctx, row: list[object], r: int, id_col: int, area_cols: list[int], mid: str
) -> None:
    """A row whose ID is not in the register: reported when it has entries or looks like
    an ID, not read."""
    filled = _filled(row, area_cols)
    looks_like_id = bool(re.fullmatch(r"[A-Za-z]{0,6}\s?[0-9][0-9A-Za-z.\-/]*", mid))
    if filled or looks_like_id:
        extra = (
            " (entries not read: " + ", ".join(f"{_a1(r, c)}={_text(v)}" for c, v in filled) + ")"
            if filled
            else ""
        )
        ctx.add(
            Code.UNKNOWN_MEASURE,
            f"measure ID '{mid}' is not in the register{extra}",
            severity=Severity.ERROR if filled else Severity.WARNING,
            cell=_a1(r, id_col),
            value=mid,
            measure_id=mid,
        )


def _duplicate_measure(
    ctx: _Ctx,
    row: list[object],
    r: int,
    id_col: int,
    area_cols: list[int],
    mid: str,
    first: int,
) -> None:
    """A measure's second row: reported with its entries, not read."""
    filled = _filled(row, area_cols)
    ctx.add(
        Code.DUPLICATE_MEASURE,
        f"measure {mid} appears again (first on row {first + 1}); this row is not read"
        + (
            " (entries: " + ", ".join(f"{_a1(r, c)}={_text(v)}" for c, v in filled) + ")"
            if filled
            else ""
        ),
        cell=_a1(r, id_col),
        value=mid,
        measure_id=mid,
    )


# --- the tool's own outputs found among the returns -----------------------------------

# What the dashboard writes into its document properties (docProps/core.xml), and the
# sheets every dashboard has: either tells a dashboard from a return, whatever its name.
_OWN_DESCRIPTION = b"Made by rag_workbook"
_OWN_SHEETS = (b'name="Data"', b'name="Issues"', b'name="About"')


def _is_own_output(data: bytes, suffix: str, parts: Sequence[str] = ()) -> bool:
    """Whether a workbook's bytes are a dashboard this tool wrote; `parts`, when given, are
    the names of its zip parts (as the safety check listed them)."""
    if suffix not in (".xlsx", ".xlsm"):
        return False
    # Every dashboard has Excel Tables and a chart; an issued return has neither, so most
    # returns are told apart by their part names (1 us) or two searches of their bytes (6 us),
    # against 13 us for unpacking the properties.
    if parts:
        if not any("xl/tables/" in name or "xl/charts/" in name for name in parts):
            return False
    elif data.find(b"xl/tables/") < 0 and data.find(b"xl/charts/") < 0:
        return False
    core = _small_member(data, "docProps/core.xml")
    if core is not None and core.find(_OWN_DESCRIPTION) >= 0:
        return True
    book = _small_member(data, "xl/workbook.xml")
    return book is not None and all(book.find(name) >= 0 for name in _OWN_SHEETS)


def _small_member(data: bytes, name: str, limit: int = 1 << 20) -> bytes | None:
    """The first `limit` bytes of a zip member, or None: by the local-header shortcut, else
    through zipfile (a member written with a data descriptor, as LibreOffice writes)."""
    quick = _quick_member(data, name)
    if quick is not None:
        return quick[:limit]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open(name) as member:
            return member.read(limit)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, RuntimeError, zlib.error):
        return None


def own_output_issue(shown: str, what: str = "a dashboard") -> Issue:
    """The note that names one of the tool's own outputs skipped among the returns."""
    return Issue.of(
        Code.OWN_OUTPUT_SKIPPED, f"{what} rag-workbook wrote, not a return; not read", file=shown
    )


def is_own_output(path: Path) -> bool:
    """Whether `path` is a file this tool wrote (a dashboard or a JSON report), told by its
    content, not its name; False when it cannot be read.

    Example:
        >>> is_own_output(Path("returns/dashboard.xlsx"))  # doctest: +SKIP
        True
    """
    suffix = path.suffix.lower()
    try:
        if path.stat().st_size > safety.LIMITS.max_file_bytes:
            return False
        data = path.read_bytes()
    except OSError:
        return False
    if suffix == ".json":
        return _is_own_report(data)
    return _is_own_output(data, suffix)


def _is_own_report(data: bytes) -> bool:
    """Whether bytes are a JSON report this tool wrote (--report-json)."""
    import json

    try:
        found = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(found, dict) and {"version", "returns", "issues"} <= found.keys()


def _filled(row: list[object], cols: list[int]) -> list[tuple[int, object]]:
    """The non-empty cells of a row among `cols`, as (col, value)."""
    return [
        (c, v)
        for c in cols
        if (v := row[c]) != "" and v is not None and not (isinstance(v, str) and v.isspace())
    ]


def _measure_id(raw: object, register: Register) -> str:
    """The register ID for an ID cell; numbers typed as IDs (1.1) are matched by value."""
    text = _text(raw)
    if register.measure(text) is not None:
        return text
    stripped = re.sub(r"^(?:measure|pi|kpi|no|ref)\.?\s*", "", text, flags=re.I).strip()
    if register.measure(stripped) is not None:
        return stripped
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        matches = [
            m.measure_id
            for m in register.measures
            if re.fullmatch(r"\d+(?:\.\d+)?", m.measure_id) and float(m.measure_id) == float(raw)
        ]
        if len(matches) == 1:
            return matches[0]
    return text


def _read_value(
    ctx: _Ctx,
    values: list[CellValue],
    mid: str,
    q: str,
    r: int,
    c: int,
    v: object,
    problem: tuple[Code, str] | None,
) -> None:
    a1 = _a1(r, c)
    if type(v) is float and not problem and math.isfinite(v):  # the usual case, first
        values.append(_cell_value(mid, q, v, _text(v), ctx.sheet, a1))
        return
    if problem is not None and problem[0] is Code.FORMULA_WITHOUT_VALUE and _is_empty(v):
        ctx.add(
            Code.FORMULA_WITHOUT_VALUE,
            f"{q} has a formula with no saved result",
            cell=a1,
            measure_id=mid,
        )
        return
    if problem is not None and problem[0] is Code.CELL_ERROR:
        err = problem[1]
        ctx.add(
            Code.CELL_ERROR, f"{q} shows the Excel error {err}", cell=a1, value=err, measure_id=mid
        )
        return
    if _is_empty(v):
        return
    parsed = parse_number(v)
    text = _text(v)
    if parsed.code and parsed.code in (Code.VALUE_NOT_A_NUMBER, Code.CELL_ERROR):
        ctx.add(
            parsed.code,
            f"{q} must be a number (got '{text}')",
            # a typed '#N/A' too: the cell wants the number, there is no formula to fix
            fix=CATALOGUE[Code.VALUE_NOT_A_NUMBER].fix,
            cell=a1,
            value=text,
            measure_id=mid,
        )
        return
    if parsed.code == Code.VALUE_IS_A_DATE:
        ctx.add(
            Code.VALUE_NOT_A_NUMBER,
            f"{q} must be a number (got the date {text})",
            fix="type the number only and format the cell as Number, not Date",
            cell=a1,
            value=text,
            measure_id=mid,
        )
        return
    if parsed.code == Code.VALUE_REINTERPRETED:
        ctx.add(
            Code.VALUE_REINTERPRETED,
            f"{q} '{text}' {parsed.note} (brackets read as a negative number)",
            cell=a1,
            value=text,
            measure_id=mid,
        )
    values.append(_cell_value(mid, q, parsed.value, text, ctx.sheet, a1))


def _read_notes(
    ctx: _Ctx,
    mid: str,
    r: int,
    note_cols: dict[str, int],
    row: list[object],
    problems: _Problems,
) -> RowNotes | None:
    override_text = reason = comment = action = ""
    for role, c in note_cols.items():
        v = row[c]
        if v is None or (isinstance(v, str) and not v.strip()):  # _is_empty, inlined
            if problems and (r, c) in problems:
                ctx.add(
                    Code.FORMULA_WITHOUT_VALUE,
                    f"the {role} cell has a formula with no saved result",
                    fix="type the text instead of a formula",
                    severity=Severity.WARNING,
                    cell=_a1(r, c),
                    measure_id=mid,
                )
            continue
        text = ctx.text(v, cell=_a1(r, c), measure_id=mid)
        if role == ROLE_OVERRIDE:
            override_text = text
        elif role == ROLE_REASON:
            reason = text
        elif role == ROLE_ACTION:
            action = text
        else:
            comment = text
    if not (override_text or reason or comment or action):
        return None  # nothing to say, and no override to check
    override: Status | None = None
    override_cell = ""
    if override_text:
        override_cell = _a1(r, note_cols[ROLE_OVERRIDE])
        status = _parse_status(override_text)
        if isinstance(status, Status):
            override = status
        elif isinstance(status, str):
            ctx.add(
                Code.UNKNOWN_STATUS,
                f"status override '{status}' is not Green, Amber, Red or No data",
                cell=override_cell,
                value=status,
                measure_id=mid,
            )
        if override is not None and not reason:
            ctx.add(
                Code.OVERRIDE_WITHOUT_REASON,
                f"status override {override} for {mid} has no reason, so it is not applied",
                cell=override_cell,
                value=str(override),
                measure_id=mid,
            )
    return _row_notes(
        mid,
        override,
        reason,
        comment,
        ctx.sheet,
        override_cell,
        _a1(r, note_cols[ROLE_COMMENT]) if comment else "",
        action,
        _a1(r, note_cols[ROLE_ACTION]) if action else "",
    )


def _match_theme(text: str, themes: tuple[str, ...]) -> str:
    key = _norm(text)
    for t in themes:
        if _norm(t) == key:
            return t
    return ""


def _recognise_theme(
    ctx: _Ctx, meta: dict[str, str], header: dict[str, object], ids: list[str], path: Path
) -> str:
    themes = ctx.register.themes
    for candidate in (meta.get("theme", ""), _text(header.get("theme", ""))):
        if candidate:
            if ctx.register.measures_of(candidate):  # exact: the usual case, O(1)
                return candidate
            t = _match_theme(candidate, themes)
            if t:
                return t
    counts = Counter(m.theme for i in ids if (m := ctx.register.measure(i)) is not None)
    if counts:
        return counts.most_common(1)[0][0]
    stem = _norm(path.stem)
    by_length = sorted(themes, key=lambda t: -len(_norm(t)))
    for t in by_length:
        if _norm(t) and _norm(t) in stem:
            return t
    ctx.add(
        Code.UNKNOWN_THEME,
        "cannot tell which theme this return is for (no theme, no known measure IDs)",
    )
    return ""


def _check_meta(ctx: _Ctx, meta: dict[str, str], header: dict[str, object]) -> None:
    reg = ctx.register
    fp = meta.get("fingerprint", "")
    if fp and reg.fingerprint and fp != reg.fingerprint:
        ctx.add(
            Code.TEMPLATE_MISMATCH,
            "this return was issued from a different version of the template",
            sheet=layout.META_SHEET,
            cell="B7",
            value=fp,
        )
    year = meta.get("year", "") or _text(header.get("year", ""))
    want = reg.settings.year
    if year and want and _norm(year) != _norm(want):
        ctx.add(
            Code.WRONG_YEAR, f"this return is for {year}, the dashboard is for {want}", value=year
        )


def find_returns(inputs: Sequence[str | Path]) -> tuple[list[Path], Report]:
    """Expand files, folders and glob patterns into the return workbooks to read.

    Folders are searched recursively, except hidden folders (`.name`), each named in a
    note. Inside folders (and glob matches) Excel and LibreOffice lock files (`~$*`,
    `.~lock*`), hidden files and non-spreadsheets are skipped, each named in a note; a JSON
    report this tool wrote is named as such. A named missing file, or a pattern that
    matches nothing, is an error issue. The tool's own dashboards among the workbooks are
    told by their content when read (see read_return), not here.

    Args:
        inputs: file paths, folder paths and glob patterns, as typed by the analyst.

    Returns:
        The workbooks in sorted order (each once) and a Report of what was skipped.

    Example:
        >>> paths, report = find_returns(["returns/", "late/*.xlsx"])
    """
    found: dict[str, Path] = {}
    issues: list[Issue] = []
    for item in inputs:
        text = str(item)
        p = Path(text)
        if p.is_dir():
            for path, skipped in _walk(p):
                if skipped:
                    issues.append(_skipped(path, skipped))
                else:
                    _consider(path, found, issues, explicit=False)
        elif p.is_file():
            _consider(p, found, issues, explicit=True)
        elif glob.has_magic(text):
            matches = sorted(glob.glob(text))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                issues.append(
                    Issue.of(
                        Code.FILE_NOT_FOUND,
                        f"no file matches '{text}'",
                        fix="check the pattern and the folder",
                        file=text,
                    )
                )
            for f in files:
                _consider(f, found, issues, explicit=False)
        else:
            issues.append(Issue.of(Code.FILE_NOT_FOUND, "file not found", file=text))
    paths = sorted(found.values(), key=lambda q: str(q))
    return paths, Report.of(issues)


def _walk(folder: Path) -> list[tuple[Path, str]]:
    """Every file under `folder` (sorted, recursively), each with '' or why it is skipped;
    a hidden folder comes once, with why, and is not entered."""
    out: list[tuple[Path, str]] = []
    # scandir: a folder's entries know whether they are files (no stat each) and their
    # names; a Path is made only for each file kept (issue 6: 2,000 returns).
    try:
        with os.scandir(folder) as entries:
            listed = sorted((e.name, e.path, e.is_dir(), e.is_file()) for e in entries)
    except OSError:
        return out
    for name, path, is_dir, is_file in listed:
        if is_dir:
            if name.startswith("."):
                out.append((Path(path), "a hidden folder; not searched"))
            else:
                out.extend(_walk(Path(path)))
        elif is_file:
            if name.startswith(("~$", ".~lock")):
                out.append((Path(path), _LOCK_FILE))
            elif name.startswith("."):
                out.append((Path(path), "a hidden file; not read"))
            else:
                out.append((Path(path), ""))
    return out


_LOCK_FILE = "a lock file Excel or LibreOffice keeps while a workbook is open; not read"


def _skipped(path: Path, why: str) -> Issue:
    # No fix: the note only says the file was passed over (Issue.of would add the
    # catalogue's fix, which fits none of a lock file, a hidden file, a hidden folder).
    return Issue(
        code=Code.FILE_SKIPPED,
        severity=CATALOGUE[Code.FILE_SKIPPED].severity,
        message=why,
        file=str(path),
    )


def _consider(p: Path, found: dict[str, Path], issues: list[Issue], *, explicit: bool) -> None:
    """Keep a spreadsheet; name anything else (lock files, other kinds of file) in a note."""
    name = p.name
    if name.startswith(("~$", ".~lock")):
        issues.append(_skipped(p, _LOCK_FILE))
        return
    if name.startswith(".") and not explicit:
        issues.append(_skipped(p, "a hidden file; not read"))
        return
    if p.suffix.lower() not in SPREADSHEET_SUFFIXES:
        if p.suffix.lower() == ".json" and is_own_output(p):
            issues.append(own_output_issue(str(p), "a JSON report"))
            return
        issues.append(
            Issue.of(
                Code.NOT_A_SPREADSHEET,
                "skipped: not a spreadsheet (.xlsx, .xlsm, .xls, .xlsb, .ods)",
                severity=Severity.WARNING if explicit else Severity.INFO,
                file=str(p),
            )
        )
        return
    found.setdefault(str(p), p)


# --------------------------------------------------------------------------------------
# The package's XML parts, parsed (never searched with patterns), and the calamine reading
# the template and a previous dashboard share with the returns. Any application's way of
# writing a part (attribute order, prefixes, quotes) reads the same. defusedxml, because
# every part may come from a file made anywhere: no entity expansion, no external fetch.

_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
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
_PART_LIMIT = 1 << 20  # the most of a small part (properties) that is parsed


def _has_dtd(xml: bytes) -> bool:
    """Whether a part may carry a document type declaration: one written out, or an encoding
    (UTF-16, UTF-32) a byte search cannot see it in. OOXML parts never need one; entity
    expansion and external entities (the attacks defusedxml stops) need one."""
    return (
        xml.find(b"<!DOCTYPE") >= 0
        or xml[:4].find(b"\x00") >= 0
        or xml[:2]
        in (
            b"\xff\xfe",
            b"\xfe\xff",
        )
    )


def _xml_root(xml: bytes) -> Any:
    """The root element of an XML part; raises on XML that is not well formed or unsafe.

    A part that may declare a DTD is parsed by defusedxml, which refuses entity tricks; any
    other by the standard library's C parser, twice as fast (2,000 returns, a part each).
    """
    if _has_dtd(xml):
        import defusedxml.ElementTree as safe_xml

        return safe_xml.fromstring(xml)
    import xml.etree.ElementTree as plain_xml

    return plain_xml.fromstring(xml)


def _feed(xml: bytes, target: object) -> None:
    """Parse an XML part into a parser target (no tree is built); defusedxml as `_xml_root`
    says. Raises on XML that is not well formed or unsafe."""
    if _has_dtd(xml):
        from defusedxml.ElementTree import DefusedXMLParser

        parser: Any = DefusedXMLParser(target=target)
    else:
        import xml.etree.ElementTree as plain_xml

        parser = plain_xml.XMLParser(target=target)
    parser.feed(xml)
    parser.close()


def _local(tag: str) -> str:
    """An element's name without its namespace: '{...main}sheet' -> 'sheet'."""
    return tag.rpartition("}")[2]


def sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its zip member, through xl/workbook.xml and its relationships.

    Args:
        zf: an open .xlsx/.xlsm package.

    Returns:
        Every sheet whose relationship names a part, by the name shown on its tab.

    Raises:
        KeyError: the package has no workbook part or relationships.

    Example:
        >>> sheet_parts(zipfile.ZipFile("return.xlsx"))  # doctest: +SKIP
        {'Return': 'xl/worksheets/sheet1.xml'}
    """
    targets = {
        el.get("Id"): el.get("Target", "")
        for el in _xml_root(zf.read("xl/_rels/workbook.xml.rels")).iter()
        if _local(el.tag) == "Relationship"
    }
    parts: dict[str, str] = {}
    for el in _xml_root(zf.read("xl/workbook.xml")).iter():
        if _local(el.tag) != "sheet":
            continue
        rid = el.get(_REL_ID) or next((v for k, v in el.attrib.items() if _local(k) == "id"), "")
        target = targets.get(rid, "")
        if target and el.get("name") is not None:
            part = target.lstrip("/") if target.startswith("/") else "xl/" + target
            parts[el.get("name", "")] = posixpath.normpath(part)
    return parts


def style_formats(styles: bytes) -> dict[int, str]:
    """Cell style index -> number format code, from xl/styles.xml.

    Example:
        >>> style_formats(zipfile.ZipFile("t.xlsx").read("xl/styles.xml"))[0]  # doctest: +SKIP
        'General'
    """
    root = _xml_root(styles)
    codes = dict(_BUILTIN_FORMATS)
    # Only the workbook's own formats: a differential format (<dxfs>, for conditional
    # formatting) has numFmt elements too, whose ids need not be unique.
    for el in root:
        if _local(el.tag) != "numFmts":
            continue
        for fmt in el:
            with contextlib.suppress(TypeError, ValueError):
                codes[int(fmt.get("numFmtId", ""))] = fmt.get("formatCode", "General")
    out: dict[int, str] = {}
    for el in root:
        if _local(el.tag) == "cellXfs":
            for i, xf in enumerate(x for x in el if _local(x.tag) == "xf"):
                try:
                    out[i] = codes.get(int(xf.get("numFmtId", "0")), "General")
                except ValueError:
                    out[i] = "General"
    return out


class _SheetCells:
    """Parser target that knows the (row, col) of the cell it is in; `cell` hears of each.

    Cells and rows without an `r` attribute (allowed, and written by some tools) follow
    the one before them.
    """

    def __init__(self) -> None:
        self.row = -1
        self.col = -1

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = _local(tag)
        if name == "row":
            ref = attrib.get("r")
            self.row = int(ref) - 1 if ref else self.row + 1
            self.col = -1
        elif name == "c":
            ref = attrib.get("r")
            if ref:
                self.row, self.col = cell_position(ref)
            else:
                self.col += 1
            self.cell(attrib)
        else:
            self.inner(name)

    def cell(self, attrib: dict[str, str]) -> None:
        """A cell starts (its position is known)."""

    def inner(self, name: str) -> None:
        """An element inside a cell (or any other) starts."""

    def end(self, tag: str) -> None:
        pass

    def data(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class _StyledNumbers(_SheetCells):
    """Parser target: (row, col) of each number cell whose style is one of `styles`."""

    def __init__(self, styles: frozenset[int]) -> None:
        super().__init__()
        self.styles = styles
        self.found: dict[tuple[int, int], int] = {}

    def cell(self, attrib: dict[str, str]) -> None:
        style = attrib.get("s")
        if style and attrib.get("t", "n") == "n" and int(style) in self.styles:
            self.found[(self.row, self.col)] = int(style)


def _styled_numbers(xml: bytes, styles: frozenset[int]) -> dict[tuple[int, int], int]:
    """(row, col) -> style index of the number cells of a sheet part with one of `styles`."""
    target = _StyledNumbers(styles)
    _feed(xml, target)
    return target.found


class _CellProblems(_SheetCells):
    """Parser target: cells holding an error value, or a formula without a cached value."""

    def __init__(self) -> None:
        super().__init__()
        self.found: _Problems = {}
        self.error = False
        self.formula = False
        self.value: list[str] | None = None  # the text of <v>, while inside it
        self.cached = ""

    def cell(self, attrib: dict[str, str]) -> None:
        self.error, self.formula, self.cached = attrib.get("t") == "e", False, ""

    def inner(self, name: str) -> None:
        if name == "f":
            self.formula = True
        elif name == "v":
            self.value = []

    def data(self, text: str) -> None:
        if self.value is not None:
            self.value.append(text)

    def end(self, tag: str) -> None:
        name = _local(tag)
        if name == "v" and self.value is not None:
            self.cached, self.value = "".join(self.value), None
        elif name == "c":
            where = (self.row, self.col)
            if self.error:
                self.found[where] = (Code.CELL_ERROR, self.cached or "#N/A")
            elif self.formula and not self.cached:
                self.found[where] = (Code.FORMULA_WITHOUT_VALUE, "")


def _cell_problems(xml: bytes) -> _Problems:
    """(row, col) -> (code, the error shown) for a sheet part, as `_formula_problems`."""
    target = _CellProblems()
    _feed(xml, target)
    return target.found


# A sheet part that holds an error value: python-calamine reads the cell as empty, so the
# caller reads the file another way. A byte search decides only that the part is looked
# at more closely (the attribute as Excel, LibreOffice, openpyxl and xlsxwriter write it).
_ERROR_VALUE = (b't="e"', b"t='e'")


def _has_error_value(xml: bytes) -> bool:
    """Whether a sheet part may hold an error value (see _ERROR_VALUE). The single-quoted
    form is looked for only in a part with a single quote: a one-byte search (a memchr) is
    many times faster than a search for five, over a register's megabytes of sheet."""
    double, single = _ERROR_VALUE
    return xml.find(double) >= 0 or (xml.find(b"'") >= 0 and xml.find(single) >= 0)


def read_sheet_grids(
    path: Path, wanted: Sequence[str], format_matters: Callable[[str], bool]
) -> list[tuple[list[list[object]], dict[tuple[int, int], str]]] | None:
    """Sheets of an .xlsx through python-calamine, with the number formats that matter.

    The values are calamine's rows from A1; beside them, the number format of each numeric
    cell whose style's format `format_matters` (the sheet part is parsed only when some
    style has such a format). Sheets are found by `norm_header` of their names.

    Args:
        path: the workbook (.xlsx, .xlsm, .xltx, .xltm).
        wanted: the sheet names, in the order wanted.
        format_matters: whether a number format changes how a number reads.

    Returns:
        (rows, {(row, col): number format}) per wanted sheet; None when a sheet is missing,
        holds an error value, or the package is not as expected: the caller then reads the
        file with openpyxl, which also words any refusal.

    Example:
        >>> grids = read_sheet_grids(Path("t.xlsx"), ["Settings"], bool)  # doctest: +SKIP
    """
    try:
        data = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            by_style = {
                i: code
                for i, code in style_formats(zf.read("xl/styles.xml")).items()
                if format_matters(code)
            }
            parts = sheet_parts(zf)
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
            found: list[tuple[list[list[object]], dict[tuple[int, int], str]]] = []
            for name in wanted:
                sheet = next(
                    (n for n in workbook.sheet_names if norm_header(n) == norm_header(name)), None
                )
                if sheet is None or sheet not in parts:
                    return None
                xml = zf.read(parts[sheet])
                if _has_error_value(xml):
                    return None
                rows = cast(
                    list[list[object]],
                    workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False),
                )
                formats: dict[tuple[int, int], str] = {}
                if by_style:
                    for (r, c), style in _styled_numbers(xml, frozenset(by_style)).items():
                        row = rows[r] if r < len(rows) else ()
                        if c < len(row) and row[c].__class__ in (int, float):
                            formats[(r, c)] = by_style[style]
                found.append((rows, formats))
    except Exception:  # any surprise: the caller reads the file another way
        return None
    return found


def _part_texts(xml: bytes, names: Sequence[str]) -> dict[str, str]:
    """The text of the first element of each local name in `names` in an XML part."""
    wanted = set(names)
    out: dict[str, str] = {}
    for el in _xml_root(xml).iter():
        name = _local(el.tag)
        if name in wanted and name not in out:
            out[name] = (el.text or "").strip()
    return out


def _custom_properties(xml: bytes) -> dict[str, str]:
    """Custom document properties (docProps/custom.xml) that hold text, by name."""
    out: dict[str, str] = {}
    # tag == name or tag.endswith("}" + name) is _local(tag) == name, without a call and a
    # new string for each element (every return's properties are parsed).
    for prop in _xml_root(xml):
        tag = prop.tag
        if tag != "property" and not tag.endswith("}property"):
            continue
        for value in prop:
            tag = value.tag
            if tag == "lpwstr" or tag.endswith("}lpwstr"):
                out[prop.get("name", "")] = value.text or ""
    return out


def _data_rows(path: str | Path, what: str) -> list[tuple[int, dict[str, object], dict[str, str]]]:
    """The rows under the Data sheet's header row of a dashboard this tool wrote: each as
    (1-based row, normalised header -> cell, normalised header -> "A1" cell).

    Raises:
        InputError: when the file cannot be read or has no usable Data sheet.
    """
    from rag_workbook.errors import InputError

    try:
        with CalamineWorkbook.from_path(str(path)) as wb:
            names = {norm_header(n): n for n in wb.sheet_names}
            if "data" not in names:
                raise InputError(f"{path}: no 'Data' sheet; give a dashboard this tool wrote")
            rows = wb.get_sheet_by_name(names["data"]).to_python(skip_empty_area=False)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc})") from exc
    out: list[tuple[int, dict[str, object], dict[str, str]]] = []
    header: dict[str, int] | None = None
    for r, row in enumerate(rows):
        if header is None:
            found = {norm_header(v): i for i, v in enumerate(row) if isinstance(v, str)}
            if {"measureid", "quarter", "value"} <= found.keys():
                header = found
            continue
        cells: dict[str, object] = {key: row[i] for key, i in header.items() if i < len(row)}
        out.append((r + 1, cells, {key: _a1(r, i) for key, i in header.items()}))
    if header is None:
        raise InputError(
            f"{path}: the Data sheet has no 'Measure ID', 'Quarter', 'Value' header row"
        )
    return out


def _data_id(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return "" if v is None else str(v).strip()


def _data_number(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        return None
    return float(v)


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
        >>> read_previous_values("dashboard.xlsx")[("1.1", "Q1")]  # doctest: +SKIP
        120.0
    """
    out: dict[tuple[str, str], float] = {}
    for _, cells, _ in _data_rows(previous, "previous dashboard"):
        q = str(cells.get("quarter", "")).strip().upper()
        value = _data_number(cells.get("value"))
        if q in QUARTERS and value is not None:
            out[(_data_id(cells.get("measureid")), q)] = value
    return out


def read_previous_return(previous: str | Path, display: str) -> ReturnData:
    """A previous dashboard's Data sheet as the oldest return: each quarter's value (or
    no-data reason) with its comment, action, override and override reason, each citing
    the Data cell it came from.

    Args:
        previous: a dashboard.xlsx this tool wrote.
        display: the name its cells are cited by (`display!Data!E5`).

    Returns:
        A ReturnData with `previous=True`: its values fill gaps and chase no one.

    Raises:
        InputError: when the file cannot be read or has no usable Data sheet.

    Example:
        >>> read_previous_return("q2.xlsx", "q2.xlsx (previous dashboard)")  # doctest: +SKIP
    """
    rows = _data_rows(previous, "previous dashboard")
    values: list[CellValue] = []
    notes: list[RowNotes] = []
    for _, cells, where in rows:
        mid = _data_id(cells.get("measureid"))
        q = str(cells.get("quarter", "")).strip().upper()
        if not mid or q not in QUARTERS:
            continue

        def text(key: str, cells: dict[str, object] = cells) -> str:
            v = cells.get(key)
            return "" if v is None or (isinstance(v, float) and v != v) else _text(v)

        value = _data_number(cells.get("value"))
        status = text("status")
        if value is not None:
            values.append(_cell_value(mid, q, value, _text(value), "Data", where["value"]))
        elif status == str(Status.NO_DATA) and text("nodatareason"):
            # A reason the lead gave; a quarter left blank stays blank (and chased).
            reason = text("nodatareason")
            values.append(_cell_value(mid, q, None, reason, "Data", where["value"]))
        override: Status | None = None
        reason = text("overridereason")
        if text("override").lower() == "yes" and status in _STATUS_BY_TEXT and reason:
            override = _STATUS_BY_TEXT[status]
        comment, action = text("comment"), text("action")
        if override is None and not (comment or action):
            continue
        note = _row_notes(
            mid,
            override,
            reason if override is not None else "",
            comment,
            "Data",
            where.get("override", "") if override is not None else "",
            where.get("comment", "") if comment else "",
            action,
            where.get("action", "") if action else "",
            q,
        )
        notes.append(note)
    return ReturnData(
        path=str(previous),
        file=display,
        sha256=_file_digest(Path(previous)),
        submitted="",  # older than any return
        previous=True,
        values=tuple(values),
        notes=tuple(notes),
    )


def read_last_year(path: str | Path) -> LastYear:
    """Last year's dashboard (its Data sheet) for `merge --last-year`.

    Args:
        path: a dashboard.xlsx this tool wrote for last year.

    Returns:
        Its rows: measure ID, text, quarter, value and status.

    Raises:
        InputError: when the file cannot be read or has no usable Data sheet.

    Example:
        >>> read_last_year("dashboard_2010-11.xlsx").rows[0].measure_id  # doctest: +SKIP
        '1.1'
    """
    out: list[LastYearRow] = []
    for r, cells, where in _data_rows(path, "last year's dashboard"):
        mid = _data_id(cells.get("measureid"))
        q = str(cells.get("quarter", "")).strip().upper()
        if not mid or q not in QUARTERS:
            continue
        text = cells.get("performancemeasure")
        status = cells.get("status")
        out.append(
            LastYearRow(
                measure_id=mid,
                text=_text(text) if isinstance(text, str) else "",
                quarter=q,
                value=_data_number(cells.get("value")),
                status=status.strip() if isinstance(status, str) else "",
                row=r,
                cell=where["measureid"],
            )
        )
    return LastYear(file=Path(path).name, rows=tuple(out))


_STATUS_BY_TEXT = {str(s): s for s in Status}
