"""Shared vocabulary of every stage: statuses, polarities, the register of measures.

Input: nothing (pure definitions). Output: the enums and frozen dataclasses that the
template reader builds and every later stage reads. No third-party imports here, so that
`rag-workbook --help` stays fast.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

QUARTERS: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")
# Each quarter's position in QUARTERS, for look-ups over a national collection's rows.
QUARTER_INDEX: dict[str, int] = {quarter: i for i, quarter in enumerate(QUARTERS)}


class Status(StrEnum):
    """The RAG status of one measure in one quarter."""

    GREEN = "Green"
    AMBER = "Amber"
    RED = "Red"
    NO_DATA = "No data"


class Polarity(StrEnum):
    """Which direction is better for a measure."""

    REDUCE = "Reduce"
    INCREASE = "Increase"
    MAINTAIN = "Maintain"


class Basis(StrEnum):
    """How a value is compared with the target."""

    CUMULATIVE = "Cumulative"  # year-to-date count against a target profiled across quarters
    SNAPSHOT = "Snapshot"  # a value, rate or percentage against the target itself


class TargetForm(StrEnum):
    """How the register gives a target."""

    ABSOLUTE = "Absolute"  # the target value itself
    PERCENT_CHANGE = "% change"  # a change against the baseline, e.g. -5 means 5% below


class ToleranceForm(StrEnum):
    """How the register gives the amber tolerance."""

    PERCENT = "%"  # percent of the target (of the baseline for Maintain)
    ABSOLUTE = "Absolute"  # in the measure's own units


class Direction(StrEnum):
    """Direction of travel against the previous quarter."""

    BETTER = "better"
    SAME = "same"
    WORSE = "worse"


class Severity(StrEnum):
    """How much an input problem matters: errors block a clean exit, warnings inform."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Measure:
    """One row of the register: what is measured, by whom, and how it is judged.

    `row` is the 1-based row of the Measures sheet the measure came from (0 when the
    measure was built in code), so that messages can point at the analyst's cell.
    `profile` holds the cumulative share of the annual target due by the end of each
    quarter (e.g. (0.25, 0.5, 0.75, 1.0)); None means an even profile.
    """

    theme: str
    measure_id: str
    text: str
    polarity: Polarity
    basis: Basis
    lead: str = ""
    lead_email: str = ""
    unit: str = ""
    baseline: float | None = None
    target: float | None = None
    target_form: TargetForm = TargetForm.ABSOLUTE
    tolerance: float | None = None
    tolerance_form: ToleranceForm = ToleranceForm.PERCENT
    profile: tuple[float, float, float, float] | None = None
    data_source: str = ""
    notes: str = ""
    row: int = 0


@dataclass(frozen=True)
class Settings:
    """The key/value rows of the template's Settings sheet, with defaults."""

    partnership: str
    title: str = "Performance Dashboard"
    year: str = ""
    meeting: str = ""
    meeting_date: str = ""
    agenda_item: str = ""
    icon_style: str = "3_signs"
    current_quarter: str = ""  # "" means: the latest quarter any return reports
    show_direction: bool = True
    signoff_required: bool = False  # a return needs Approved By and Approved On
    returns_due: str = ""  # ISO date the returns are due ("" when not set)
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Register:
    """The analyst's template: settings and the measures in dashboard order."""

    settings: Settings
    measures: tuple[Measure, ...]
    fingerprint: str = ""  # SHA-256 of the template's measure definitions
    path: str = ""
    # The Measures sheet's column letter of each column read, by its label in
    # layout.MEASURES_COLUMNS; empty for a register built in code (then layout's order).
    columns: Mapping[str, str] = field(default_factory=dict)

    def measure(self, measure_id: str) -> Measure | None:
        """Return the measure with this ID, or None."""
        return self._by_id.get(measure_id)

    # Cached: the reader asks for measures and themes once per row of every return, and a
    # national register has thousands of measures (a linear scan made 2,000 returns take
    # 29 s to read). cached_property writes the instance __dict__, so frozen is kept.
    @functools.cached_property
    def _by_id(self) -> dict[str, Measure]:
        index: dict[str, Measure] = {}
        for m in self.measures:
            index.setdefault(m.measure_id, m)
        return index

    def measures_of(self, theme: str) -> tuple[Measure, ...]:
        """The measures of one theme, in register order (empty for an unknown theme)."""
        return self._by_theme.get(theme, ())

    @functools.cached_property
    def _by_theme(self) -> dict[str, tuple[Measure, ...]]:
        groups: dict[str, list[Measure]] = {}
        for m in self.measures:
            groups.setdefault(m.theme, []).append(m)
        return {theme: tuple(ms) for theme, ms in groups.items()}

    @functools.cached_property
    def themes(self) -> tuple[str, ...]:
        """Themes in the order they first appear in the register."""
        return tuple(dict.fromkeys(m.theme for m in self.measures))

    @functools.cached_property
    def leads(self) -> tuple[str, ...]:
        """Lead names in register order, each once."""
        return tuple(dict.fromkeys(m.lead for m in self.measures if m.lead))


@dataclass(frozen=True)
class CellValue:
    """One quarter's value for one measure as found in one return.

    `value` is the parsed number, or None when the lead gave no number; `text` is what the
    cell showed (kept as the no-data reason when it is `n/a`, `-`, `no data`, ...).
    `cell` is "A1" style on `sheet`.
    """

    measure_id: str
    quarter: str
    value: float | None
    text: str
    sheet: str
    cell: str


@dataclass(frozen=True)
class RowNotes:
    """The per-measure fields of a return: override, its reason, the comment."""

    measure_id: str
    override: Status | None = None
    override_reason: str = ""
    comment: str = ""
    sheet: str = ""
    override_cell: str = ""
    comment_cell: str = ""
    action: str = ""  # what the lead will do about it (the Action column)
    action_cell: str = ""
    quarter: str = ""  # the quarter these notes are for; "" means the return's own quarter


@dataclass(frozen=True)
class ReturnData:
    """Everything read from one return workbook, plus the issues found in it.

    `file` is the name used in messages and Source cells (the path as given, or its
    name); `submitted` is an ISO date or datetime string ("" when unknown) used to
    decide which of several returns for one theme is newest; `quarter` is the
    reporting quarter the return says it is for ("" when it does not say).
    """

    path: str
    file: str
    sha256: str = ""
    theme: str = ""
    lead: str = ""
    year: str = ""
    quarter: str = ""
    submitted: str = ""
    fingerprint: str = ""
    values: tuple[CellValue, ...] = ()
    notes: tuple[RowNotes, ...] = ()
    issues: tuple[object, ...] = ()  # Issue objects (report.Issue); typed loosely to avoid a cycle
    readable: bool = True  # False when the file could not be read at all
    previous: bool = False  # True for a previous dashboard's values: they fill gaps, chase no one
    approved_by: str = ""  # the header block's Approved By ("" when blank)
    approved_on: str = ""  # its Approved On, as an ISO date when it is one
    # The cells of the Approved By and Approved On values ("" when the form has no such label).
    approval_cells: tuple[str, str] = ("", "")
    # Quarter cells of a measure row left blank: (measure ID, quarter, sheet, cell).
    blanks: tuple[tuple[str, str, str, str], ...] = ()


@dataclass(frozen=True)
class LastYearRow:
    """One row of last year's Data sheet: a measure's value and status in one quarter.

    `row` is the 1-based sheet row, `cell` the "A1" cell of its Measure ID.
    """

    measure_id: str
    text: str
    quarter: str
    value: float | None
    status: str
    row: int = 0
    cell: str = ""


@dataclass(frozen=True)
class LastYear:
    """Last year's dashboard as `merge_returns` uses it: its Data rows and its file name."""

    file: str
    rows: tuple[LastYearRow, ...]
