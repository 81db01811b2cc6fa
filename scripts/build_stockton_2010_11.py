"""Build last year's Safer Stockton dashboard (2010/11), which `demo` gives `--last-year`.

Made by the tool itself: a 2010/11 register and Q1-Q4 returns are written to a temporary
folder (forms.write_template, forms.write_return) and merged (pipeline.merge_to_dashboard)
into src/rag_workbook/data/stockton_dashboard_2010-11.xlsx (deterministic bytes).

The values agree with what the 2011/12 seed says of the baseline, which is last year's
outturn: 2.1 "currently 5% increase on baseline YTD" (2010/11 to Q3: 300 notices; 2011/12:
315); 3.2 "violence has increased by 3.2% in the top five wards" (2010/11 to Q3: 750
offences; 2011/12: 774); 4.1 "Increase of 1% on baseline in Q2" (2010/11 Q2: 200 users;
2011/12: 202); 5.2 "reductions against the baseline" (2010/11 to Q3: 120 offences;
2011/12: 114); 6.1's baseline of 221 convictions is 2010/11's year. The three measures
whose "baseline [is] to be collected this year" (2.2, 2.3, 3.4) are new in 2011/12: they
are not in the 2010/11 register, so the 2011/12 dashboard names them as unmatched. Every
Cumulative measure's 2010/11 year-to-date figures reach its 2011/12 baseline at Q4; every
Snapshot measure ends the year at it. 2010/11's own targets were set against 2009/10
outturns that are not known: they are taken as 6% worse than 2010/11's, so that last year
met most of its targets. Lead names are placeholders, as in build_stockton.py.

Run from the repository root:  python scripts/build_stockton_2010_11.py
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_stockton import MEASURES, build_register

from rag_workbook.forms import write_return, write_template
from rag_workbook.model import Polarity, Register, RowNotes
from rag_workbook.pipeline import merge_to_dashboard
from rag_workbook.template import read_template

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "rag_workbook" / "data" / "stockton_dashboard_2010-11.xlsx"
SUBMITTED = "2011-04-28"
NEW_THIS_YEAR = {"2.2", "2.3", "3.4"}  # "baseline to be collected this year"

# 2010/11 values by quarter (year to date for Cumulative measures), ending at the 2011/12
# baseline; a comment where the seed's 2011/12 comment speaks of last year.
# fmt: off
LAST_YEAR: dict[str, tuple[tuple[float | str, ...], str]] = {
    "1.1": ((131, 262, 390, 520), ""),
    "1.2": (("n/a", "n/a", "n/a", 28), "Annual residents' survey, reported in Q4."),
    "1.3": ((760, 1490, 2250, 3000), ""),
    "2.1": ((95, 190, 300, 400), "Baseline year: 300 notices to Q3, 400 in the year."),
    "3.1": ((18, 35, 52, 68), ""),
    "3.2": ((248, 497, 750, 1000), ""),
    "3.3": ((31, 30.5, 30, 30), ""),
    "4.1": ((198, 200, 199, 200), ""),
    "4.2": ((41, 40.5, 40, 40), ""),
    "4.3": ((44, 44.5, 45, 45), ""),
    "4.4": ((31, 60, 90, 120), ""),
    "5.1": ((610, 1205, 1800, 2400), ""),
    "5.2": ((41, 80, 120, 160), "Baseline year for the five top repeat streets."),
    "5.3": ((76, 150, 226, 300), ""),
    "6.1": ((56, 111, 166, 221), ""),
    "6.2": ((28, 29, 29, 29), ""),
}
# fmt: on


def build_last_year_register() -> Register:
    """The 2010/11 register: the 2011/12 measures less the three new ones, each judged
    against a 2009/10 baseline 6% worse than 2010/11's outturn."""
    this_year = build_register()
    measures = []
    for m in this_year.measures:
        if m.measure_id in NEW_THIS_YEAR:
            continue
        baseline = m.baseline
        if baseline is not None:
            worse = 1.06 if m.polarity is Polarity.REDUCE else 0.94
            baseline = round(baseline * worse, 1)
        target = m.target
        if m.target_form.value == "Absolute" and target is not None and m.baseline:
            target = round(target * (baseline or m.baseline) / m.baseline, 1)
        measures.append(dataclasses.replace(m, baseline=baseline, target=target))
    settings = dataclasses.replace(
        this_year.settings,
        year="2010/11",
        meeting_date="9 June 2011",
        current_quarter="Q4",
    )
    return Register(settings=settings, measures=tuple(measures))


def main() -> None:
    assert {str(row[1]) for row in MEASURES} - NEW_THIS_YEAR == set(LAST_YEAR)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        template = write_template(build_last_year_register(), work / "template_2010-11.xlsx")
        register = read_template(template)
        for theme in register.themes:
            values: dict[tuple[str, str], float | str] = {}
            notes: dict[str, RowNotes] = {}
            for m in register.measures_of(theme):
                figures, comment = LAST_YEAR[m.measure_id]
                for quarter, value in zip(("Q1", "Q2", "Q3", "Q4"), figures, strict=True):
                    values[(m.measure_id, quarter)] = value
                if comment:
                    notes[m.measure_id] = RowNotes(m.measure_id, comment=comment)
            write_return(
                work / "returns" / f"{theme.replace(' ', '_')}_2010-11_Q4_return.xlsx",
                register,
                theme,
                values=values,
                notes=notes,
                quarter="Q4",
                submitted=SUBMITTED,
            )
        result = merge_to_dashboard([work / "returns"], template, OUT, as_of="2011-06-09")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(result.report)} issues")
    for issue in result.report.issues:
        print(f"  {issue}")


if __name__ == "__main__":
    main()
