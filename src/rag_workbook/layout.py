"""Layout of a return workbook: the contract between forms.py (writer) and returns.py (reader).

The reader must not depend on these positions (leads move things); it finds the header
row by its labels. The writer uses them exactly.
"""

from __future__ import annotations

RETURN_SHEET = "Return"
INSTRUCTIONS_SHEET = "Instructions"
META_SHEET = "rag_meta"  # hidden sheet of key/value rows (A:B)
# The same keys and values as custom document properties (docProps/custom.xml) named
# META_PROPERTY_PREFIX + key: read without parsing a sheet. Left out when a value is longer
# than Excel's 255 characters for a property; the reader then reads the sheet.
META_PROPERTY_PREFIX = "rag_"
META_PROPERTY_MAX_CHARS = 255
META_KIND = "rag-workbook return"
FORMAT_VERSION = "1"

# Header block: label in column A, value in column B, from row HEADER_FIRST_ROW (0-based).
HEADER_FIRST_ROW = 2
HEADER_LABELS = (
    "Partnership",
    "Theme",
    "Lead",
    "Year",
    "Quarter",
    "Submitted",
    "Approved By",
    "Approved On",
)
# The header fields the lead fills in (the others come from the register).
HEADER_EDITABLE = ("Quarter", "Submitted", "Approved By", "Approved On")

# The table: header labels on TABLE_HEADER_ROW (0-based), one measure per row below it.
TABLE_HEADER_ROW = 11
COL_ID = "ID"
COL_MEASURE = "Performance Measure"
COL_UNIT = "Unit"
COL_BASELINE = "Baseline"
COL_TARGET = "Target"
COL_OVERRIDE = "Status override"
COL_OVERRIDE_REASON = "Override reason"
COL_COMMENT = "Comment"
COL_ACTION = "Action"
TABLE_COLUMNS = (
    COL_ID,
    COL_MEASURE,
    COL_UNIT,
    COL_BASELINE,
    COL_TARGET,
    "Q1",
    "Q2",
    "Q3",
    "Q4",
    COL_OVERRIDE,
    COL_OVERRIDE_REASON,
    COL_COMMENT,
    COL_ACTION,
)

# Meta keys written to META_SHEET
META_KEYS = (
    "kind",
    "format_version",
    "partnership",
    "theme",
    "lead",
    "year",
    "fingerprint",
    "measures",
)

# Text that means "no value" in a quarter cell; kept as the reason (compared case- and
# space-insensitively).
NO_VALUE_WORDS = frozenset(
    {"n/a", "na", "-", "--", "no data", "nodata", "tbc", "tba", "not available", "none", "nil data"}
)

# The analyst's template (templates/dashboard_template.xlsx). Header labels are matched
# case- and space-insensitively by template.py; the writer of the Stockton example uses
# them exactly.
SETTINGS_SHEET = "Settings"
SETTINGS_HEADER = ("Key", "Value")
SETTINGS_KEYS = (
    "Partnership",
    "Title",
    "Year",
    "Meeting",
    "Meeting Date",
    "Agenda Item",
    "Icon Style",
    "Current Quarter",
    "Show Direction",
    "Sign-off Required",
    "Returns Due",
)
MEASURES_SHEET = "Measures"
MEASURES_COLUMNS = (
    "Theme",
    "ID",
    "Performance Measure",
    "Lead",
    "Lead Email",
    "Polarity",
    "Basis",
    "Unit",
    "Baseline",
    "Target",
    "Target Type",  # "Absolute" or "% change"
    "Tolerance",
    "Tolerance Type",  # "%" or "Absolute"
    "Profile",  # optional, cumulative % of the annual target by Q1..Q4, e.g. "20, 45, 70, 100"
    "Data Source",
    "Notes",
)
