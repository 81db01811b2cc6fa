# ruff: noqa: E501  (a data table of the seed's texts reads best one row a line)
"""Build the worked Safer Stockton 2011/12 example: the template and the Q1-Q3 returns.

Source: the Safer Stockton Partnership performance dashboard, agenda item 11,
14 February 2012 (shared/seed/stockton_dashboard_2011-12.txt). The measure IDs, themes,
texts and comments are the seed's. Baselines, targets and values are not in the seed: they
are chosen to agree with its comments (2.1 "5% increase on baseline YTD", 3.1 "30% (18.5
crimes) above the target", 6.1 "projection for year is 145; a reduction of -76 (34%)", ...)
and to give exactly the seed's icons (SPEC §7). Lead names are placeholders.

Run from the repository root:  python scripts/build_stockton.py
Writes templates/dashboard_template.xlsx, src/rag_workbook/data/stockton_template.xlsx
and src/rag_workbook/data/returns/*.xlsx (deterministic bytes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rag_workbook.forms import write_return, write_template
from rag_workbook.model import (
    Basis,
    Measure,
    Polarity,
    Register,
    RowNotes,
    Settings,
    TargetForm,
    ToleranceForm,
)
from rag_workbook.template import read_template

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "rag_workbook" / "data"
SUBMITTED = "2012-01-27"

R, INC = Polarity.REDUCE, Polarity.INCREASE
CUM, SNAP = Basis.CUMULATIVE, Basis.SNAPSHOT
ABS, PCT = TargetForm.ABSOLUTE, TargetForm.PERCENT_CHANGE
TOL_PCT, TOL_ABS = ToleranceForm.PERCENT, ToleranceForm.ABSOLUTE

LEADS = {
    "ASB": ("ASB theme lead", "asb.lead@example.org"),
    "Alcohol": ("Alcohol theme lead", "alcohol.lead@example.org"),
    "Violence": ("Violence theme lead", "violence.lead@example.org"),
    "Drugs": ("Drugs theme lead", "drugs.lead@example.org"),
    "Criminal Damage": ("Criminal Damage theme lead", "criminal.damage.lead@example.org"),
    "Emerging Issue": ("Emerging Issue theme lead", "emerging.issue.lead@example.org"),
}

NO_BASELINE = "No update due – baseline to be collected this year."

# theme, id, text, polarity, basis, unit, baseline, target, target form, tolerance,
# tolerance form, (Q1, Q2, Q3) values, comment
# fmt: off
MEASURES: list[tuple[object, ...]] = [
    ('ASB', '1.1', 'Reduce repeat callers to the Police, MAASBT and RSLs',
     R, CUM, 'callers', 520, -5, PCT, 5, TOL_PCT, (128, 240, 355),
     ''),
    ('ASB', '1.2', 'Reduce the perception that ASB is a serious problem',
     R, SNAP, '%', 28, 25, ABS, 5, TOL_PCT, ('-', '-', '-'),
     'No consultation carried out YTD.'),
    ('ASB', '1.3', 'Reduce Anti Social Behaviour in the top five wards',
     R, CUM, 'incidents', 3000, -5, PCT, 5, TOL_PCT, (802, 1605, 2408),
     'Overall Police ASB incidents have increased by 7% in the top five wards.'),
    ('Alcohol', '2.1', 'Increase the number of section 27 notices issued',
     INC, CUM, 'notices', 400, 5, PCT, 10, TOL_PCT, (110, 180, 315),
     'Vast improvement since Q2, currently 5% increase on baseline YTD.'),
    ('Alcohol', '2.2', 'Reduce the number of alcohol related crimes for those on an ATR',
     R, CUM, 'crimes', None, -5, PCT, 5, TOL_PCT, ('-', '-', '-'),
     NO_BASELINE),
    ('Alcohol', '2.3', 'Reduce the number of alcohol related crimes for those on an ASAR',
     R, CUM, 'crimes', None, -5, PCT, 5, TOL_PCT, ('-', '-', '-'),
     NO_BASELINE),
    ('Violence', '3.1', 'Maintain a reduction in Most Serious Violent Crime',
     R, CUM, 'crimes', 68, 61.5, ABS, 5, TOL_PCT, (16, 38, 60),
     'Target will not be achieved; 30% (18.5 crimes) above the target to achieve this year.'),
    ('Violence', '3.2', 'Reduce Violence Against the Person offences in the top five wards',
     R, CUM, 'offences', 1000, -1, PCT, 5, TOL_PCT, (255, 510, 774),
     'Overall violence has increased by 3.2% in the top five wards, compared to an overall 5.5% reduction for Borough.'),
    ('Violence', '3.3', 'Reduce repeat perpetrators of Domestic Violence',
     R, SNAP, '%', 30, 28, ABS, 5, TOL_PCT, (27, 26.5, 'no data'),
     'No data for Q3 – issue with data sharing. Hoping to resolve by end of Q4.'),
    ('Violence', '3.4', 'Increase the number of repeat victims in MARAC accessing support from Harbour',
     INC, CUM, 'victims', None, 5, PCT, 5, TOL_PCT, ('-', '-', '-'),
     NO_BASELINE),
    ('Drugs', '4.1', 'Increase the number of female drug users accessing support.',
     INC, SNAP, 'people', 200, 5, PCT, 5, TOL_PCT, (201, 202, 'n/a'),
     'Q3 data not available on ndtms.net until mid-Feb 2012. No gender breakdown provided until the full quarterly update. Increase of 1% on baseline in Q2.'),
    ('Drugs', '4.2', 'Reduce drug related repeat offending',
     R, SNAP, '%', 40, 38, ABS, 5, TOL_PCT, (36, 35, 35.5),
     ''),
    ('Drugs', '4.3', 'Increase the number of people leaving treatment services drug free',
     INC, SNAP, '%', 45, 47, ABS, 5, TOL_PCT, (48, 48.5, 49.1),
     'Q2 data not available on ndtms.net until mid-Feb 2012. Figures up to Nov YTD show that 49% (81 of 165) exits were planned.'),
    ('Drugs', '4.4', 'Reduce the number of individuals repeatedly testing positive for drugs within Arrest Referral',
     R, CUM, 'people', 120, -10, PCT, 5, TOL_PCT, (24, 50, 75),
     ''),
    ('Criminal Damage', '5.1', 'Reduce Criminal Damage',
     R, CUM, 'offences', 2400, -5, PCT, 5, TOL_PCT, (540, 1090, 1650),
     ''),
    ('Criminal Damage', '5.2', 'Reduce Criminal Damage at street level',
     R, CUM, 'offences', 160, -10, PCT, 10, TOL_PCT, (38, 76, 114),
     'There have been reductions against the baseline in four out of the five top repeat streets, with the exception of Tithe Barn Road in Hardwick (+3 offences)'),
    ('Criminal Damage', '5.3', 'Reduce the number of repeat victims of Criminal Damage',
     R, CUM, 'victims', 300, -5, PCT, 5, TOL_PCT, (65, 130, 200),
     ''),
    ('Emerging Issue', '6.1', 'Reduce convictions for HCCs',
     R, CUM, 'convictions', 221, -10, PCT, 5, TOL_PCT, (36, 72, 109),
     'Projection for year is 145; a reduction of -76 (34%)'),
    ('Emerging Issue', '6.2', 'Increase the number of HCCs accessing treatment services',
     INC, SNAP, 'people', 29, 29, ABS, 3, TOL_ABS, (28, 27, 27),
     '27 out of 29 HCCs remain in treatment; 1 non-drug user and 1 refuses treatment.'),
]
# fmt: on


def build_register() -> Register:
    """The Safer Stockton 2011/12 register, in the seed's order."""
    measures = []
    for theme, mid, text, pol, basis, unit, base, target, tform, tol, tolform, _v, _c in MEASURES:
        lead, email = LEADS[str(theme)]
        measures.append(
            Measure(
                theme=str(theme),
                measure_id=str(mid),
                text=str(text),
                polarity=pol,  # type: ignore[arg-type]
                basis=basis,  # type: ignore[arg-type]
                lead=lead,
                lead_email=email,
                unit=str(unit),
                baseline=None if base is None else float(base),  # type: ignore[arg-type]
                target=float(target),  # type: ignore[arg-type]
                target_form=tform,  # type: ignore[arg-type]
                tolerance=float(tol),  # type: ignore[arg-type]
                tolerance_form=tolform,  # type: ignore[arg-type]
                data_source="Cleveland Police / partner data",
            )
        )
    settings = Settings(
        partnership="Safer Stockton Partnership",
        title="Community Safety Plan – Performance Dashboard",
        year="2011/12",
        meeting="Safer Stockton Partnership",
        meeting_date="14 February 2012",
        agenda_item="11",
        current_quarter="Q3",
    )
    return Register(settings=settings, measures=tuple(measures))


def main() -> None:
    register = build_register()
    template = ROOT / "templates" / "dashboard_template.xlsx"
    template.parent.mkdir(parents=True, exist_ok=True)
    write_template(register, template)
    shutil.copyfile(template, DATA / "stockton_template.xlsx")
    # Read it back so the returns carry the template's real fingerprint.
    register = read_template(template)
    returns_dir = DATA / "returns"
    returns_dir.mkdir(parents=True, exist_ok=True)
    for old in returns_dir.glob("*.xlsx"):
        old.unlink()
    for theme in register.themes:
        values: dict[tuple[str, str], float | str] = {}
        notes: dict[str, RowNotes] = {}
        for row in MEASURES:
            if row[0] != theme:
                continue
            mid = str(row[1])
            for quarter, value in zip(("Q1", "Q2", "Q3"), row[11], strict=True):  # type: ignore[call-overload]
                values[(mid, quarter)] = value
            if row[12]:
                notes[mid] = RowNotes(measure_id=mid, comment=str(row[12]))
        name = theme.replace(" ", "_")
        path = write_return(
            returns_dir / f"{name}_Q3_return.xlsx",
            register,
            theme,
            values=values,
            notes=notes,
            quarter="Q3",
            submitted=SUBMITTED,
        )
        print(f"wrote {path.relative_to(ROOT)}")
    print(f"wrote {template.relative_to(ROOT)} and its copy in {DATA.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
