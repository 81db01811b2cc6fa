"""What was wrong where: Issue and Report, the channel for problems in the inputs.

Input: problems found by any stage. Output: an immutable Report that the CLI prints, the
dashboard's Issues sheet lists and `--report-json` serialises. Problems in data are
reported here, never raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from rag_workbook.model import Severity

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


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
        """The same issues, errors first, then by file, sheet and cell."""
        return Report(
            tuple(
                sorted(
                    self.issues,
                    key=lambda i: (_SEVERITY_ORDER[i.severity], i.file, i.sheet, i.cell, i.code),
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
