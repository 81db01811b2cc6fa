"""Column names of the master frame, the contract between merge, rag and dashboard.

The master frame has one row per measure and quarter (Q1..Q4) in register order.
`merge.py` fills MASTER; `rag.py` adds RAG; `dashboard.py` writes DATA_LABELS as the Data
sheet's header row.
"""

from __future__ import annotations

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

MASTER = (
    THEME,
    MEASURE_ID,
    MEASURE_TEXT,
    LEAD,
    QUARTER,
    DUE,
    VALUE,
    RAW,
    REASON,
    OVERRIDE,
    OVERRIDE_REASON,
    COMMENT,
    SOURCE,
    SUBMITTED,
)

# Added by rag.py
POLARITY = "polarity"  # str: Polarity value
BASIS = "basis"  # str: Basis value
TARGET = "target"  # float: the target this quarter's value is compared with (profiled), NaN if none
STATUS = "status"  # str: Status value, or "" when the quarter is not yet due
IS_OVERRIDE = "is_override"  # bool: the status is the lead's override
EXPLANATION = "explanation"  # str: one line a committee member understands
DIRECTION = "direction"  # str: Direction value, or "" when there is nothing to compare

RAG = (POLARITY, BASIS, TARGET, STATUS, IS_OVERRIDE, EXPLANATION, DIRECTION)

# The Data sheet: frame column -> header label. The first ten labels are fixed by SPEC §5.
DATA_LABELS: dict[str, str] = {
    THEME: "Theme",
    MEASURE_ID: "Measure ID",
    MEASURE_TEXT: "Performance Measure",
    QUARTER: "Quarter",
    VALUE: "Value",
    TARGET: "Target",
    STATUS: "Status",
    EXPLANATION: "Explanation",
    COMMENT: "Comment",
    SOURCE: "Source",
    LEAD: "Lead",
    POLARITY: "Polarity",
    BASIS: "Basis",
    IS_OVERRIDE: "Override",
    OVERRIDE_REASON: "Override reason",
    DIRECTION: "Direction",
    REASON: "No-data reason",
    SUBMITTED: "Submitted",
}


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
