"""What was wrong where: Issue and Report, the channel for problems in the inputs.

Input: problems found by any stage. Output: an immutable Report that the CLI prints, the
dashboard's Issues sheet lists and `--report-json` serialises. Problems in data are
reported here, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from rag_workbook.model import Severity

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


class Code(StrEnum):
    """Every issue code, a fixed kebab-case string; `CATALOGUE` gives its severity and fix.

    A member equals its string (`Code.UNKNOWN_MEASURE == "unknown-measure"`), so code that
    compares `issue.code` with a string keeps working.
    """

    # The template (register), refused as a whole by TemplateError.
    TEMPLATE_NOT_FOUND = "template-not-found"
    TEMPLATE_NOT_A_WORKBOOK = "template-not-a-workbook"
    TEMPLATE_SHEET_MISSING = "template-sheet-missing"
    SETTING_REPEATED = "setting-repeated"
    PARTNERSHIP_MISSING = "partnership-missing"
    SETTING_INVALID = "setting-invalid"
    HEADER_MISSING = "header-missing"
    COLUMN_REPEATED = "column-repeated"
    COLUMN_MISSING = "column-missing"
    MEASURE_INCOMPLETE = "measure-incomplete"
    MEASURE_ID_REPEATED = "measure-id-repeated"
    CHOICE_MISSING = "choice-missing"
    CHOICE_UNKNOWN = "choice-unknown"
    NUMBER_INVALID = "number-invalid"
    TOLERANCE_NEGATIVE = "tolerance-negative"
    DEFINITION_INCOMPLETE = "definition-incomplete"
    PROFILE_INVALID = "profile-invalid"
    NO_MEASURES = "no-measures"
    # One file: can it be read at all (safety.py, returns.py).
    FILE_NOT_FOUND = "file-not-found"
    NOT_A_SPREADSHEET = "not-a-spreadsheet"
    FILE_UNREADABLE = "file-unreadable"
    FILE_EMPTY = "file-empty"
    FILE_TOO_LARGE = "file-too-large"
    FILE_CORRUPT = "file-corrupt"
    FILE_ENCRYPTED = "file-encrypted"
    FILE_UNSAFE_XML = "file-unsafe-xml"
    NOT_A_WORKBOOK = "not-a-workbook"
    FORMAT_UNSUPPORTED = "format-unsupported"
    TOO_MANY_ISSUES = "too-many-issues"
    FILE_SKIPPED = "file-skipped"
    OWN_OUTPUT_SKIPPED = "own-output-skipped"
    INTERNAL_ERROR = "internal-error"
    # One return's table and cells (returns.py).
    NO_RETURN_TABLE = "no-return-table"
    ROWS_NOT_READ = "rows-not-read"
    CELL_TOO_LONG = "cell-too-long"
    UNKNOWN_COLUMN = "unknown-column"
    DUPLICATE_COLUMN = "duplicate-column"
    MERGED_VALUE_CELLS = "merged-value-cells"
    ROW_WITHOUT_ID = "row-without-id"
    UNKNOWN_MEASURE = "unknown-measure"
    DUPLICATE_MEASURE = "duplicate-measure"
    MEASURE_MISSING_FROM_RETURN = "measure-missing-from-return"
    FORMULA_WITHOUT_VALUE = "formula-without-value"
    CELL_ERROR = "cell-error"
    VALUE_NOT_A_NUMBER = "value-not-a-number"
    VALUE_IS_A_DATE = "value-is-a-date"
    VALUE_REINTERPRETED = "value-reinterpreted"
    UNKNOWN_STATUS = "unknown-status"
    OVERRIDE_WITHOUT_REASON = "override-without-reason"
    UNKNOWN_THEME = "unknown-theme"
    TEMPLATE_MISMATCH = "template-mismatch"
    WRONG_YEAR = "wrong-year"
    # Many returns together (merge.py).
    DUPLICATE_FILE = "duplicate-file"
    SUPERSEDED_VALUE = "superseded-value"
    NO_RETURN = "no-return"
    VALUE_MISSING = "value-missing"
    RETURN_NOT_SIGNED_OFF = "return-not-signed-off"
    LAST_YEAR_UNMATCHED = "last-year-unmatched"
    LAST_YEAR_MATCHED_BY_TEXT = "last-year-matched-by-text"
    # Rating (rag.py) and output (pipeline.py).
    BASELINE_MISSING = "baseline-missing"
    BASELINE_ZERO = "baseline-zero"
    TARGET_MISSING = "target-missing"
    PDF_NOT_WRITTEN = "pdf-not-written"
    FAST_WRITER_UNAVAILABLE = "fast-writer-unavailable"
    RETURN_KEPT = "return-kept"  # returns issue: a filled return is not replaced


class Entry(NamedTuple):
    """What the catalogue knows of a code: its usual severity and the usual fix."""

    severity: Severity
    fix: str


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO
_RESEND = "ask the lead to send the return again, saved from Excel as .xlsx"
_RESAVE = "open it in Excel and save it again as .xlsx"

CATALOGUE: dict[Code, Entry] = {
    Code.TEMPLATE_NOT_FOUND: Entry(_E, "check the --template path"),
    Code.TEMPLATE_NOT_A_WORKBOOK: Entry(_E, _RESAVE),
    Code.TEMPLATE_SHEET_MISSING: Entry(_E, "add it as in templates/dashboard_template.xlsx"),
    Code.SETTING_REPEATED: Entry(_E, "keep one row for each setting"),
    Code.PARTNERSHIP_MISSING: Entry(_E, "type the partnership's name"),
    Code.SETTING_INVALID: Entry(_E, "type one of the values the setting allows"),
    Code.HEADER_MISSING: Entry(_E, "put the column labels in row 1"),
    Code.COLUMN_REPEATED: Entry(_E, "remove or rename one of them"),
    Code.COLUMN_MISSING: Entry(_E, "add it to the header row"),
    Code.MEASURE_INCOMPLETE: Entry(_E, "fill in the measure's Theme, ID and text"),
    Code.MEASURE_ID_REPEATED: Entry(_E, "give each measure its own ID"),
    Code.CHOICE_MISSING: Entry(_E, "choose one of the words the column allows"),
    Code.CHOICE_UNKNOWN: Entry(_E, "use one of the words the column allows"),
    Code.NUMBER_INVALID: Entry(_E, "type the number only, or leave it blank"),
    Code.TOLERANCE_NEGATIVE: Entry(_E, "type the size of the amber band as a positive number"),
    Code.DEFINITION_INCOMPLETE: Entry(_E, "type the target, baseline or tolerance it needs"),
    Code.PROFILE_INVALID: Entry(
        _E,
        "give 4 cumulative percentages that never decrease and end at 100, "
        "e.g. 25, 50, 75, 100 (or leave it blank for an even profile)",
    ),
    Code.NO_MEASURES: Entry(_E, "add one row per measure below the header"),
    Code.FILE_NOT_FOUND: Entry(_E, "check the name and the folder"),
    Code.NOT_A_SPREADSHEET: Entry(_W, "save returns as .xlsx"),
    Code.FILE_UNREADABLE: Entry(_E, "open it in Excel, save it as .xlsx and send it again"),
    Code.FILE_EMPTY: Entry(_E, _RESEND),
    Code.FILE_TOO_LARGE: Entry(
        _E,
        "ask the lead to send only the return sheet, saved from Excel as .xlsx; "
        "a return is normally well under 1 MB",
    ),
    Code.FILE_CORRUPT: Entry(_E, _RESEND),
    Code.FILE_ENCRYPTED: Entry(
        _E,
        "ask the lead to remove the password (File > Info > Protect Workbook > Encrypt "
        "with Password, clear it) and send it again",
    ),
    Code.FILE_UNSAFE_XML: Entry(_E, _RESEND),
    Code.NOT_A_WORKBOOK: Entry(
        _E, "ask the lead to send the return workbook itself (.xlsx), not another file"
    ),
    Code.FORMAT_UNSUPPORTED: Entry(_E, _RESEND),
    Code.TOO_MANY_ISSUES: Entry(
        _E, "ask the lead to fill in the return the analyst sent, without extra rows"
    ),
    Code.NO_RETURN_TABLE: Entry(
        _E, "use the return workbook the analyst sent; keep its header row"
    ),
    Code.ROWS_NOT_READ: Entry(_W, "delete the rows below the table and send the return again"),
    Code.CELL_TOO_LONG: Entry(_W, "shorten the text, or send the detail separately"),
    Code.UNKNOWN_COLUMN: Entry(_W, "delete the column or rename its header (e.g. Q3, Comment)"),
    Code.DUPLICATE_COLUMN: Entry(_W, "keep one column per quarter and field"),
    Code.MERGED_VALUE_CELLS: Entry(_W, "unmerge the cells and type one value per quarter"),
    Code.ROW_WITHOUT_ID: Entry(
        _W, "type the measure ID in the ID column or move the entries to its row"
    ),
    Code.UNKNOWN_MEASURE: Entry(
        _E, "use the IDs of the return the analyst sent, or ask the analyst to add it"
    ),
    Code.DUPLICATE_MEASURE: Entry(_W, "keep one row per measure"),
    Code.MEASURE_MISSING_FROM_RETURN: Entry(
        _W, "add its row back (copy it from the return the analyst sent)"
    ),
    Code.FORMULA_WITHOUT_VALUE: Entry(
        _E, "open the file in Excel or LibreOffice, let it calculate, save and send it again"
    ),
    Code.CELL_ERROR: Entry(_E, "fix the formula or type the number only"),
    Code.VALUE_NOT_A_NUMBER: Entry(_E, "type the number only"),
    Code.VALUE_IS_A_DATE: Entry(_E, "format the cell as a number and type the value"),
    Code.VALUE_REINTERPRETED: Entry(_I, "type a minus sign if negative, or the number only"),
    Code.UNKNOWN_STATUS: Entry(
        _E, "choose Green, Amber, Red or No data from the drop-down, or leave it empty"
    ),
    Code.OVERRIDE_WITHOUT_REASON: Entry(_W, "give the reason in the Override reason column"),
    Code.UNKNOWN_THEME: Entry(
        _E, "type the theme in the header block or use the return the analyst sent"
    ),
    Code.TEMPLATE_MISMATCH: Entry(_W, "check the measures still match, or issue the returns again"),
    Code.WRONG_YEAR: Entry(_W, "check the lead used this year's return"),
    Code.FILE_SKIPPED: Entry(
        _I,
        "nothing to do unless it is a return: then move it out of the hidden folder,"
        " or close it in Excel",
    ),
    Code.OWN_OUTPUT_SKIPPED: Entry(
        _I, "keep outputs out of the returns folder if you prefer; they are never read as returns"
    ),
    Code.INTERNAL_ERROR: Entry(
        _E, "please report this with the file; the rest of the merge went on"
    ),
    Code.FAST_WRITER_UNAVAILABLE: Entry(
        _I, "nothing to do; install the xlsxwriter version pyproject.toml names to write faster"
    ),
    Code.RETURN_KEPT: Entry(_E, "rename or move the filled return, or use --force to replace it"),
    Code.DUPLICATE_FILE: Entry(_I, "remove one of the copies"),
    Code.SUPERSEDED_VALUE: Entry(_W, "check which figure is right; the newest return wins"),
    Code.NO_RETURN: Entry(_W, "chase the lead for the theme's return"),
    Code.VALUE_MISSING: Entry(_W, "ask the lead for the figure, or 'n/a' with a reason"),
    Code.RETURN_NOT_SIGNED_OFF: Entry(
        _W, "ask the lead to fill in Approved By and Approved On and send the return again"
    ),
    Code.LAST_YEAR_UNMATCHED: Entry(
        _I, "give the measure last year's ID or text in the register if it is the same measure"
    ),
    Code.LAST_YEAR_MATCHED_BY_TEXT: Entry(_I, "check that it is the same measure"),
    Code.BASELINE_MISSING: Entry(_W, "type the baseline in the Baseline column once known"),
    Code.BASELINE_ZERO: Entry(
        _W, "give an Absolute target (or an Absolute tolerance), or correct the baseline"
    ),
    Code.TARGET_MISSING: Entry(_W, "type the annual target in the Target column"),
    # The remedy for any cause; render.RenderError gives one for its own (install it when
    # LibreOffice is missing).
    Code.PDF_NOT_WRITTEN: Entry(
        _W, "print the Dashboard, Exceptions and Summary sheets to PDF from Excel"
    ),
}


_A1 = re.compile(r"[A-Z]{1,3}[0-9]+")


def _cell_order(cell: str) -> tuple[int, int, str]:
    """An "A1" cell as (row, column) so that E9 sorts before E10; other text after cells."""
    if _A1.fullmatch(cell):
        from rag_workbook.cells import cell_position  # deferred: xlsxwriter's helper

        row, col = cell_position(cell)
        return row, col, ""
    return (1 << 31, 0, cell) if cell else (-1, 0, "")


@dataclass(frozen=True)
class Issue:
    """One problem in one place of one input.

    `code` is a fixed kebab-case string (`value-not-a-number`); `cell` is "A1" style or "".
    """

    code: str
    severity: Severity
    message: str
    fix: str = ""
    file: str = ""
    sheet: str = ""
    cell: str = ""
    value: str = ""
    measure_id: str = ""

    @classmethod
    def of(
        cls,
        code: Code,
        message: str,
        *,
        fix: str = "",
        severity: Severity | None = None,
        file: str = "",
        sheet: str = "",
        cell: str = "",
        value: str = "",
        measure_id: str = "",
    ) -> Issue:
        """An issue of a catalogued code, its severity and fix from `CATALOGUE` unless given.

        Example:
            >>> Issue.of(Code.NO_MEASURES, "no measures", sheet="Measures", cell="A2").severity
            <Severity.ERROR: 'error'>
        """
        entry = CATALOGUE[code]
        return cls(
            code=code,
            severity=entry.severity if severity is None else severity,
            message=message,
            fix=fix or entry.fix,
            file=file,
            sheet=sheet,
            cell=cell,
            value=value,
            measure_id=measure_id,
        )

    @property
    def where(self) -> str:
        """`file!sheet!cell`, leaving out the parts that are unknown."""
        return "!".join(part for part in (self.file, self.sheet, self.cell) if part)

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.fix:
            text += f"; {self.fix}"
        return f"{self.where}: {text}" if self.where else text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping of every field."""
        data = asdict(self)
        data["severity"] = str(self.severity)
        data["code"] = str(self.code)
        return data


@dataclass(frozen=True)
class Report:
    """Every issue found, worst first once `sorted()`; immutable."""

    issues: tuple[Issue, ...] = field(default_factory=tuple)

    def __add__(self, other: Report) -> Report:
        return Report(self.issues + other.issues)

    def __len__(self) -> int:
        return len(self.issues)

    @classmethod
    def of(cls, issues: Iterable[Issue]) -> Report:
        """Build a report from any iterable of issues."""
        return cls(tuple(issues))

    def sorted(self) -> Report:
        """The same issues, errors first, then by file, sheet, and cell by row then column."""
        return Report(
            tuple(
                sorted(
                    self.issues,
                    key=lambda i: (
                        _SEVERITY_ORDER[i.severity],
                        i.file,
                        i.sheet,
                        _cell_order(i.cell),
                        i.code,
                    ),
                )
            )
        )

    def count(self, severity: Severity) -> int:
        """How many issues have this severity."""
        return sum(1 for i in self.issues if i.severity == severity)

    @property
    def errors(self) -> tuple[Issue, ...]:
        """The issues of severity error."""
        return tuple(i for i in self.issues if i.severity == Severity.ERROR)

    def blocks(self, *, strict: bool = False) -> bool:
        """True when the run must exit 1: errors, or warnings too under `strict`."""
        if strict:
            return any(i.severity in (Severity.ERROR, Severity.WARNING) for i in self.issues)
        return any(i.severity == Severity.ERROR for i in self.issues)

    def to_list(self) -> list[dict[str, Any]]:
        """A JSON-ready list of issues."""
        return [i.to_dict() for i in self.issues]
