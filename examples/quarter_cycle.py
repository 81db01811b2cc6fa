"""Use case: one quarter's cycle — issue returns, a lead fills one in, check and merge.

    python examples/quarter_cycle.py [WORK_DIR]

1. `forms.issue_returns` writes one return workbook per theme from the template.
2. A lead fills in the ASB return (done here with openpyxl, as Excel would).
3. `check_returns` reads every return and lists the problems by file and cell.
4. `merge_to_dashboard` writes the dashboard, with the chase list on its Issues sheet.
"""

from __future__ import annotations

import sys
from pathlib import Path

import openpyxl

from rag_workbook.demo import copy_demo_inputs
from rag_workbook.forms import issue_returns
from rag_workbook.pipeline import check_returns, merge_to_dashboard
from rag_workbook.template import read_template


def fill_in(path: Path, values: dict[str, tuple[object, ...]]) -> None:
    """Type values into a return's Q1..Q3 cells the way a lead would."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Return"]
    header_row = next(r for r in ws.iter_rows() if r[0].value == "ID")[0].row
    for row in ws.iter_rows(min_row=header_row + 1):
        measure_id = str(row[0].value)
        for offset, value in enumerate(values.get(measure_id, ())):
            row[5 + offset].value = value  # columns F, G, H are Q1, Q2, Q3
    wb.save(path)


def main(work: Path) -> None:
    template, _ = copy_demo_inputs(work / "demo")
    register = read_template(template)
    sent = issue_returns(register, work / "returns")
    asb = next(p for p in sent if p.name.startswith("ASB"))
    fill_in(asb, {"1.1": (130, 245, 350), "1.2": ("n/a", "n/a", "n/a"), "1.3": (800, "twelve")})

    checked = check_returns([work / "returns"], template)
    for issue in checked.report.sorted().issues[:10]:
        print(issue)

    result = merge_to_dashboard([work / "returns"], template, work / "dashboard.xlsx")
    print(f"dashboard: {result.output} ({len(result.report)} issues)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("quarter-cycle"))
