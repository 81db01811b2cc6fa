"""Column names of the master frame, the contract between merge, rag and dashboard.

The master frame has one row per measure and quarter (Q1..Q4) in register order.
`COLUMNS` declares each column once: the stage that fills it (`merge.py` fills MASTER,
`rag.py` adds RAG) and how the Data sheet shows it (`DATA_COLUMNS`: label, width, kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Written by merge.py
THEME = "theme"
MEASURE_ID = "measure_id"
MEASURE_TEXT = "measure_text"
LEAD = "lead"
QUARTER = "quarter"  # "Q1".."Q4"
DUE = "due"  # bool: quarter is at or before the reporting quarter
VALUE = "value"  # float, NaN when no number
RAW = "raw"  # str: the cell as the lead typed it ("" when empty)
REASON = "reason"  # str: why there is no value ("n/a", "No consultation carried out", ...)
OVERRIDE = "override"  # str: a Status value the lead asked for, or ""
OVERRIDE_REASON = "override_reason"  # str
COMMENT = "comment"  # str: the lead's comment for the quarter ("" when none)
SOURCE = "source"  # str: "file!sheet!cell" of the value, "" when no return gave it
SUBMITTED = "submitted"  # str: ISO date of the return the value came from
ACTION = "action"  # str: the lead's action for the quarter ("" when none)
APPROVAL = "approval"  # str: "who on date" that approved the value's return, "" when not
UNSIGNED = "unsigned"  # bool: sign-off is required and the value's return has none
LAST_YEAR_VALUE = "last_year_value"  # float: the same quarter's value last year, NaN if none
LAST_YEAR_STATUS = "last_year_status"  # str: the same quarter's status last year, or ""

# Added by rag.py
POLARITY = "polarity"  # str: Polarity value
BASIS = "basis"  # str: Basis value
TARGET = "target"  # float: the target this quarter's value is compared with (profiled), NaN if none
STATUS = "status"  # str: Status value, or "" when the quarter is not yet due
IS_OVERRIDE = "is_override"  # bool: the status is the lead's override
EXPLANATION = "explanation"  # str: one line a committee member understands
DIRECTION = "direction"  # str: Direction value, or "" when there is nothing to compare
# On the reporting quarter's row of a measure with a value there (NaN / "" elsewhere):
YEAR_END_FORECAST = "year_end_forecast"  # float: the value expected at year end
FORECAST_STATUS = "forecast_status"  # str: the forecast rated against the annual target
FORECAST_EXPLANATION = "forecast_explanation"  # str: how it was made and rated


class Stage(StrEnum):
    """The stage that fills a column of the frame."""

    MERGE = "merge"  # merge.py, from the returns
    RAG = "rag"  # rag.py, from the values and the register


class Kind(StrEnum):
    """How a column's cells are written on the Data sheet."""

    NUMBER = "number"  # a number cell, or blank when there is none; never text
    TEXT = "text"  # text as given (cleaned); blank when empty
    DATE = "date"  # an ISO date (YYYY-MM-DD), written as that text so it sorts as it reads
    FLAG = "flag"  # Yes / No


@dataclass(frozen=True)
class FrameColumn:
    """One column of the rated master frame, declared once.

    Attributes:
        name: the frame's column name.
        stage: the stage that fills it.
        kind: how the Data sheet writes it.
        label: its header on the Data sheet; "" leaves it off the sheet.
        width: its width on the Data sheet, in characters.
        wrap: its text wraps on the Data sheet.
        shared: its texts repeat (theme, quarter, status...), so the fast writer puts them
            in the shared strings rather than inline; the reader sees the same cells.
        order: its place on the Data sheet, left to right.
    """

    name: str
    stage: Stage
    kind: Kind
    label: str = ""
    width: float = 14
    wrap: bool = False
    shared: bool = False
    order: int = 0


_M, _R = Stage.MERGE, Stage.RAG
_N, _T, _D, _F = Kind.NUMBER, Kind.TEXT, Kind.DATE, Kind.FLAG

# Every column of the rated frame, in the frame's order. The first ten Data labels (order
# 0-9) are fixed by SPEC section 5. Adding a column is one row here, plus the code in
# merge.py or rag.py that computes it (see the README's developer notes).
COLUMNS: tuple[FrameColumn, ...] = (
    FrameColumn(THEME, _M, _T, "Theme", 16, shared=True, order=0),
    FrameColumn(MEASURE_ID, _M, _T, "Measure ID", 10, shared=True, order=1),
    FrameColumn(MEASURE_TEXT, _M, _T, "Performance Measure", 45, shared=True, order=2),
    FrameColumn(LEAD, _M, _T, "Lead", 18, shared=True, order=10),
    FrameColumn(QUARTER, _M, _T, "Quarter", 9, shared=True, order=3),
    FrameColumn(DUE, _M, _F),
    FrameColumn(VALUE, _M, _N, "Value", 10, order=4),
    FrameColumn(RAW, _M, _T),
    FrameColumn(REASON, _M, _T, "No-data reason", 24, shared=True, order=16),
    FrameColumn(OVERRIDE, _M, _T),
    FrameColumn(OVERRIDE_REASON, _M, _T, "Override reason", 30, order=14),
    FrameColumn(COMMENT, _M, _T, "Comment", 50, wrap=True, order=8),
    FrameColumn(SOURCE, _M, _T, "Source", 30, order=9),
    FrameColumn(SUBMITTED, _M, _D, "Submitted", 12, shared=True, order=17),
    FrameColumn(ACTION, _M, _T, "Action", 40, wrap=True, order=18),
    FrameColumn(APPROVAL, _M, _T),
    FrameColumn(UNSIGNED, _M, _F),
    FrameColumn(LAST_YEAR_VALUE, _M, _N, "Last Year Value", 12, order=19),
    FrameColumn(LAST_YEAR_STATUS, _M, _T, "Last Year Status", 12, shared=True, order=20),
    FrameColumn(POLARITY, _R, _T, "Polarity", 10, shared=True, order=11),
    FrameColumn(BASIS, _R, _T, "Basis", 11, shared=True, order=12),
    FrameColumn(TARGET, _R, _N, "Target", 10, order=5),
    FrameColumn(STATUS, _R, _T, "Status", 10, shared=True, order=6),
    FrameColumn(IS_OVERRIDE, _R, _F, "Override", 10, shared=True, order=13),
    FrameColumn(EXPLANATION, _R, _T, "Explanation", 50, wrap=True, order=7),
    FrameColumn(DIRECTION, _R, _T, "Direction", 10, shared=True, order=15),
    FrameColumn(YEAR_END_FORECAST, _R, _N, "Year-End Forecast", 12, order=21),
    FrameColumn(FORECAST_STATUS, _R, _T, "Forecast Status", 12, shared=True, order=22),
    FrameColumn(FORECAST_EXPLANATION, _R, _T),
)

MASTER: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.stage is Stage.MERGE)
RAG: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.stage is Stage.RAG)

# The Data sheet's columns, left to right.
DATA_COLUMNS: tuple[FrameColumn, ...] = tuple(
    sorted((c for c in COLUMNS if c.label), key=lambda c: c.order)
)
# The Data sheet: frame column -> header label.
DATA_LABELS: dict[str, str] = {c.name: c.label for c in DATA_COLUMNS}


def is_missing(value: object) -> bool:
    """A cell with no value: None, NaN, or pandas' NA or NaT (known by their types, so that
    pandas need not be imported to ask)."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value  # NaN
    kind = type(value)
    return kind.__name__ in ("NAType", "NaTType") and kind.__module__.startswith("pandas")


# What Excel may take for the start of a formula when a user edits a cell (F2, Enter): "=",
# "+", "-" or "@", alone or after tabs, line breaks or spaces.
_FORMULA_STARTS = ("=", "+", "-", "@")


def looks_like_formula(text: str) -> bool:
    """True when Excel could turn this text into a formula once a user edits its cell, so it
    must be written with the quote prefix (Excel's "text, not a formula" mark).

    Example:
        >>> looks_like_formula("=cmd|' /C calc'!A0"), looks_like_formula("\\t@SUM(1)")
        (True, True)
        >>> looks_like_formula("-20% on baseline"), looks_like_formula("about 700")
        (True, False)
    """
    return text.lstrip("\t\r\n ").startswith(_FORMULA_STARTS)
