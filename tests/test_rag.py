"""Tests for rag.py: statuses, explanations, overrides, direction of travel."""

# The rule table keeps one case a line so that a failure reads as one row.
# ruff: noqa: E501

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag_workbook import columns as col
from rag_workbook import layout, rag
from rag_workbook.forms import write_template
from rag_workbook.model import (
    QUARTERS,
    Basis,
    Measure,
    Polarity,
    Register,
    Settings,
    TargetForm,
    ToleranceForm,
)
from rag_workbook.rag import format_number
from rag_workbook.template import read_template

DOWN, UP, KEEP = Polarity.REDUCE, Polarity.INCREASE, Polarity.MAINTAIN
CUM, SNAP = Basis.CUMULATIVE, Basis.SNAPSHOT
ABS, PCT = TargetForm.ABSOLUTE, TargetForm.PERCENT_CHANGE
TPCT, TABS = ToleranceForm.PERCENT, ToleranceForm.ABSOLUTE


def apply_rag(frame: pd.DataFrame, reg: Register) -> tuple[pd.DataFrame, Any]:
    """rag.apply_rag, checked against rag.rate_columns (the command line's way, on lists)
    over the same rows: every test of the rules holds for both."""
    rated, report = rag.apply_rag(frame, reg)
    columns = {name: frame[name].tolist() for name in frame.columns if name in col.MASTER}
    listed, listed_report = rag.rate_columns(columns, reg)
    assert listed_report == report
    for name in col.RAG:
        assert len(listed[name]) == len(rated)
        for got, want in zip(listed[name], rated[name].tolist(), strict=True):
            # the lists hold "" where the frame has a missing value (NaN, pd.NA)
            missing = col.is_missing(want)
            assert (got == "" or got != got) if missing else got == want, (name, got, want)
    return rated, report


def shown(series: pd.Series) -> list[Any]:
    """A frame column as the dashboard shows it: a missing value (NaN, pd.NA) as ""."""
    return ["" if col.is_missing(v) else v for v in series]


def measure(measure_id: str = "1.1", **kw: Any) -> Measure:
    base: dict[str, Any] = {
        "theme": "ASB",
        "measure_id": measure_id,
        "text": f"measure {measure_id}",
        "polarity": DOWN,
        "basis": CUM,
        "target": 400.0,
    }
    base.update(kw)
    return Measure(**base)


def register(*measures: Measure, path: str = "templates/dashboard_template.xlsx") -> Register:
    return Register(settings=Settings(partnership="P"), measures=measures, path=path)


def row(
    measure_id: str,
    quarter: str,
    value: float | None = None,
    *,
    due: bool = True,
    reason: str = "",
    override: str = "",
    override_reason: str = "",
) -> dict[str, Any]:
    return {
        col.THEME: "ASB",
        col.MEASURE_ID: measure_id,
        col.MEASURE_TEXT: "",
        col.LEAD: "",
        col.QUARTER: quarter,
        col.DUE: due,
        col.VALUE: np.nan if value is None else value,
        col.RAW: "",
        col.REASON: reason,
        col.OVERRIDE: override,
        col.OVERRIDE_REASON: override_reason,
        col.COMMENT: "",
        col.SOURCE: "",
        col.SUBMITTED: "",
    }


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(col.MASTER))


def rate_one(m: Measure, quarter: str, value: float | None) -> tuple[str, float, str]:
    rated, _ = apply_rag(frame(row(m.measure_id, quarter, value)), register(m))
    r = rated.iloc[0]
    return (r[col.STATUS], round(float(r[col.TARGET]), 6), r[col.EXPLANATION])


# (measure, quarter, value) -> (status, compared target, explanation)
CASES: list[tuple[Measure, str, float, tuple[str, float, str]]] = [
    # Reduce / Cumulative / Absolute target / % tolerance: Q1 target 100, amber band 5
    (measure(tolerance=5.0), "Q1", 100, ("Green", 100, "Q1 YTD 100 vs profiled target 100: on target -> Green")),
    (measure(tolerance=5.0), "Q1", 90, ("Green", 100, "Q1 YTD 90 vs profiled target 100: 10% better -> Green")),
    (measure(tolerance=5.0), "Q1", 105, ("Amber", 100, "Q1 YTD 105 vs profiled target 100: 5% worse; amber tolerance 5% -> Amber")),
    (measure(tolerance=5.0), "Q1", 105.01, ("Red", 100, "Q1 YTD 105.01 vs profiled target 100: 5.01% worse; amber tolerance 5% -> Red")),
    (measure(tolerance=5.0), "Q1", 105.001, ("Red", 100, "Q1 YTD 105 vs profiled target 100: more than 5% worse; amber tolerance 5% -> Red")),
    (measure(polarity=KEEP, basis=SNAP, baseline=100.0, tolerance=5.0), "Q1", 94.999, ("Red", 100, "Q1 95 vs baseline 100: more than 5% from baseline; tolerance 5% -> Red")),
    (measure(tolerance=5.0), "Q3", 354, ("Red", 300, "Q3 YTD 354 vs profiled target 300: 18% worse; amber tolerance 5% -> Red")),
    (measure(tolerance=5.0), "Q4", 400, ("Green", 400, "Q4 YTD 400 vs annual target 400: on target -> Green")),
    # Reduce / Cumulative / % change target: baseline 520, -5% -> annual 494, Q2 247, band 12.35
    (measure(baseline=520.0, target=-5.0, target_form=PCT, tolerance=5.0), "Q2", 247, ("Green", 247, "Q2 YTD 247 vs profiled target 247: on target -> Green")),
    (measure(baseline=520.0, target=-5.0, target_form=PCT, tolerance=5.0), "Q2", 259.35, ("Amber", 247, "Q2 YTD 259.35 vs profiled target 247: 5% worse; amber tolerance 5% -> Amber")),
    (measure(baseline=520.0, target=-5.0, target_form=PCT, tolerance=5.0), "Q2", 259.4, ("Red", 247, "Q2 YTD 259.4 vs profiled target 247: 5.02% worse; amber tolerance 5% -> Red")),
    (measure(baseline=520.0, target=-5.0, target_form=PCT, tolerance=5.0), "Q4", 494, ("Green", 494, "Q4 YTD 494 vs annual target 494: on target -> Green")),
    # Reduce / Cumulative / absolute target, % tolerance (Stockton 3.1): Q1 15.375
    (measure(baseline=68.0, target=61.5, tolerance=5.0), "Q1", 16, ("Amber", 15.375, "Q1 YTD 16 vs profiled target 15.38: 4.07% worse; amber tolerance 5% -> Amber")),
    # Reduce / Snapshot / absolute tolerance
    (measure(basis=SNAP, target=38.0, tolerance=2.0, tolerance_form=TABS), "Q2", 40, ("Amber", 38, "Q2 40 vs target 38: 2 worse; amber tolerance 2 -> Amber")),
    (measure(basis=SNAP, target=38.0, tolerance=2.0, tolerance_form=TABS), "Q2", 40.5, ("Red", 38, "Q2 40.5 vs target 38: 2.5 worse; amber tolerance 2 -> Red")),
    # Reduce / Snapshot / % unit (Stockton 4.2)
    (measure(basis=SNAP, unit="%", baseline=40.0, target=38.0, tolerance=5.0), "Q3", 39.9, ("Amber", 38, "Q3 39.9% vs target 38%: 5% worse; amber tolerance 5% -> Amber")),
    (measure(basis=SNAP, unit="%", baseline=40.0, target=38.0, tolerance=5.0), "Q3", 27.5, ("Green", 38, "Q3 27.5% vs target 38%: 27.63% better -> Green")),
    # Reduce / Snapshot / % change target, absolute tolerance: baseline 50, -10% -> 45
    (measure(basis=SNAP, baseline=50.0, target=-10.0, target_form=PCT, tolerance=1.0, tolerance_form=TABS), "Q1", 46, ("Amber", 45, "Q1 46 vs target 45: 1 worse; amber tolerance 1 -> Amber")),
    # Reduce with no tolerance: no amber band
    (measure(basis=SNAP, target=100.0), "Q1", 100.5, ("Red", 100, "Q1 100.5 vs target 100: 0.5% worse; no amber band -> Red")),
    # Increase / Snapshot / absolute tolerance (Stockton 6.2)
    (measure(polarity=UP, basis=SNAP, target=29.0, tolerance=3.0, tolerance_form=TABS), "Q1", 29, ("Green", 29, "Q1 29 vs target 29: on target -> Green")),
    (measure(polarity=UP, basis=SNAP, target=29.0, tolerance=3.0, tolerance_form=TABS), "Q1", 30, ("Green", 29, "Q1 30 vs target 29: 1 better -> Green")),
    (measure(polarity=UP, basis=SNAP, target=29.0, tolerance=3.0, tolerance_form=TABS), "Q1", 26, ("Amber", 29, "Q1 26 vs target 29: 3 worse; amber tolerance 3 -> Amber")),
    (measure(polarity=UP, basis=SNAP, target=29.0, tolerance=3.0, tolerance_form=TABS), "Q1", 25.9, ("Red", 29, "Q1 25.9 vs target 29: 3.1 worse; amber tolerance 3 -> Red")),
    # Increase / Cumulative / % change target / % tolerance: baseline 100, +10% -> 110, Q2 55
    (measure(polarity=UP, baseline=100.0, target=10.0, target_form=PCT, tolerance=10.0), "Q2", 49.5, ("Amber", 55, "Q2 YTD 49.5 vs profiled target 55: 10% worse; amber tolerance 10% -> Amber")),
    (measure(polarity=UP, baseline=100.0, target=10.0, target_form=PCT, tolerance=10.0), "Q2", 49.4, ("Red", 55, "Q2 YTD 49.4 vs profiled target 55: 10.18% worse; amber tolerance 10% -> Red")),
    (measure(polarity=UP, baseline=100.0, target=10.0, target_form=PCT, tolerance=10.0), "Q2", 56, ("Green", 55, "Q2 YTD 56 vs profiled target 55: 1.82% better -> Green")),
    # Increase / Cumulative / absolute target / absolute tolerance, unit %
    (measure(polarity=UP, unit="%", target=80.0, tolerance=4.0, tolerance_form=TABS), "Q4", 76, ("Amber", 80, "Q4 YTD 76% vs annual target 80%: 4 points worse; amber tolerance 4 points -> Amber")),
    # Maintain / Snapshot / % tolerance of the baseline
    (measure(polarity=KEEP, basis=SNAP, baseline=100.0, target=None, tolerance=5.0), "Q1", 100, ("Green", 100, "Q1 100 vs baseline 100: on baseline; tolerance 5% -> Green")),
    (measure(polarity=KEEP, basis=SNAP, baseline=100.0, target=None, tolerance=5.0), "Q1", 102, ("Green", 100, "Q1 102 vs baseline 100: 2% from baseline; tolerance 5% -> Green")),
    (measure(polarity=KEEP, basis=SNAP, baseline=100.0, target=None, tolerance=5.0), "Q1", 95, ("Green", 100, "Q1 95 vs baseline 100: 5% from baseline; tolerance 5% -> Green")),
    (measure(polarity=KEEP, basis=SNAP, baseline=100.0, target=None, tolerance=5.0), "Q1", 105.1, ("Red", 100, "Q1 105.1 vs baseline 100: 5.1% from baseline; tolerance 5% -> Red")),
    # Maintain / Cumulative / absolute tolerance: Q1 baseline share 50
    (measure(polarity=KEEP, baseline=200.0, target=None, tolerance=10.0, tolerance_form=TABS), "Q1", 60, ("Green", 50, "Q1 YTD 60 vs profiled baseline 50: 10 from baseline; tolerance 10 -> Green")),
    (measure(polarity=KEEP, baseline=200.0, target=None, tolerance=10.0, tolerance_form=TABS), "Q1", 39.5, ("Red", 50, "Q1 YTD 39.5 vs profiled baseline 50: 10.5 from baseline; tolerance 10 -> Red")),
    # Maintain with a zero baseline and an absolute tolerance is judged
    (measure(polarity=KEEP, basis=SNAP, baseline=0.0, tolerance=1.0, tolerance_form=TABS), "Q1", 1, ("Green", 0, "Q1 1 vs baseline 0: 1 from baseline; tolerance 1 -> Green")),
    # Custom profile: 10 / 30 / 60 / 100% of 1,000
    (measure(target=1000.0, tolerance=5.0, profile=(0.1, 0.3, 0.6, 1.0)), "Q2", 300, ("Green", 300, "Q2 YTD 300 vs profiled target 300: on target -> Green")),
    (measure(target=1000.0, tolerance=5.0, profile=(0.1, 0.3, 0.6, 1.0)), "Q3", 630, ("Amber", 600, "Q3 YTD 630 vs profiled target 600: 5% worse; amber tolerance 5% -> Amber")),
    # Large numbers get thousands separators
    (measure(basis=SNAP, target=12000.0, tolerance=5.0), "Q1", 12345.5, ("Amber", 12000, "Q1 12,345.5 vs target 12,000: 2.88% worse; amber tolerance 5% -> Amber")),
]  # fmt: skip


@pytest.mark.parametrize(("m", "quarter", "value", "expected"), CASES)
def test_rule_table(
    m: Measure, quarter: str, value: float, expected: tuple[str, float, str]
) -> None:
    assert rate_one(m, quarter, value) == expected


def test_rule_table_in_one_register_reads_as_case_by_case() -> None:
    # The text tables are written once per distinct wording and shared between measures:
    # every case, each as its own measure (twice, in reverse order the second time) in one
    # register and one frame, must read exactly as when rated alone.
    cases = [*CASES, *CASES[::-1]]
    measures = [dataclasses.replace(m, measure_id=f"m{i}") for i, (m, *_) in enumerate(cases)]
    rows = [row(m.measure_id, q, v) for m, (_, q, v, _) in zip(measures, cases, strict=True)]
    rated, _ = apply_rag(frame(*rows), register(*measures))
    got = list(
        zip(rated[col.STATUS], rated[col.TARGET].round(6), rated[col.EXPLANATION], strict=True)
    )
    assert got == [expected for *_, expected in cases]


def test_every_polarity_basis_target_and_tolerance_form_gives_a_status() -> None:
    got = []
    for polarity in (DOWN, UP, KEEP):
        for basis in (CUM, SNAP):
            for target_form in (ABS, PCT):
                for tolerance_form in (TPCT, TABS):
                    m = measure(
                        polarity=polarity,
                        basis=basis,
                        baseline=100.0,
                        target=-10.0 if target_form is PCT else 90.0,
                        target_form=target_form,
                        tolerance=5.0,
                        tolerance_form=tolerance_form,
                    )
                    got.append(rate_one(m, "Q4", 93.0)[0])
    # Reduce: 93 vs 90 is 3.3% / 3 worse -> Amber; Increase: 93 beats 90 -> Green;
    # Maintain: 93 is 7% / 7 from baseline 100 -> Red.
    assert got == ["Amber"] * 4 + ["Amber"] * 4 + ["Green"] * 8 + ["Red"] * 8


def test_no_data_not_due_and_reasons() -> None:
    m = measure(tolerance=5.0)
    rated, report = apply_rag(
        frame(
            row("1.1", "Q1", 90),
            row("1.1", "Q2", None, reason="No consultation carried out YTD"),
            row("1.1", "Q3", None),
            row("1.1", "Q4", None, due=False),
        ),
        register(m),
    )
    assert list(zip(shown(rated[col.STATUS]), shown(rated[col.EXPLANATION]), strict=True)) == [
        ("Green", "Q1 YTD 90 vs profiled target 100: 10% better -> Green"),
        ("No data", "Q2 no data: No consultation carried out YTD"),
        ("No data", "Q3 no data: no value given"),
        ("", ""),
    ]
    assert (list(rated[col.TARGET]), len(report)) == ([100, 200, 300, 400], 0)


def test_overrides_win_only_with_a_reason() -> None:
    m = measure(tolerance=5.0)
    rated, _ = apply_rag(
        frame(
            row("1.1", "Q1", 118, override="Amber", override_reason="new recording system"),
            row("1.1", "Q2", 250, override="green"),
            row("1.1", "Q3", None, override="Green", override_reason="figures late but on track"),
            row("1.1", "Q4", 500, due=False, override="Red", override_reason="not due"),
        ),
        register(m),
    )
    assert list(
        zip(
            shown(rated[col.STATUS]),
            rated[col.IS_OVERRIDE],
            shown(rated[col.EXPLANATION]),
            strict=True,
        )
    ) == [
        (
            "Amber",
            True,
            "Q1 Amber by lead's override (reason: new recording system); "
            "rule gave: Q1 YTD 118 vs profiled target 100: 18% worse; amber tolerance 5% -> Red",
        ),
        (
            "Red",
            False,
            "Q2 YTD 250 vs profiled target 200: 25% worse; amber tolerance 5% -> Red; "
            "override Green ignored: no reason given",
        ),
        (
            "Green",
            True,
            "Q3 Green by lead's override (reason: figures late but on track); "
            "rule gave: Q3 no data: no value given",
        ),
        ("", False, ""),
    ]


def test_unknown_override_word_is_ignored_and_noted() -> None:
    rated, _ = apply_rag(
        frame(row("1.1", "Q1", 90, override="Purple", override_reason="x")),
        register(measure(tolerance=5.0)),
    )
    assert (rated[col.STATUS][0], rated[col.IS_OVERRIDE][0], rated[col.EXPLANATION][0]) == (
        "Green",
        False,
        "Q1 YTD 90 vs profiled target 100: 10% better -> Green; "
        "override 'Purple' ignored: not a status",
    )


def test_missing_and_zero_baselines_give_no_data_and_one_issue_per_measure() -> None:
    no_base = measure("2.2", target=-5.0, target_form=PCT, tolerance=5.0, row=5)
    zero = measure("2.3", baseline=0.0, target=-5.0, target_form=PCT, row=6)
    zero_maintain = measure("2.4", polarity=KEEP, baseline=0.0, tolerance=5.0, row=7)
    quiet = measure("2.5", target=-5.0, target_form=PCT, row=8)  # no values: no issue
    rated, report = apply_rag(
        frame(
            row("2.2", "Q1", 10),
            row("2.2", "Q2", 12),
            row("2.3", "Q1", 3),
            row("2.4", "Q1", 1),
            row("2.5", "Q1", None),
        ),
        register(no_base, zero, zero_maintain, quiet),
    )
    assert list(zip(shown(rated[col.STATUS]), shown(rated[col.EXPLANATION]), strict=True)) == [
        ("No data", "Q1 YTD 10 but no baseline yet, so the % change target cannot be applied -> No data"),
        ("No data", "Q2 YTD 12 but no baseline yet, so the % change target cannot be applied -> No data"),
        ("No data", "Q1 YTD 3 but the baseline is 0, so the % change target cannot be applied -> No data"),
        ("No data", "Q1 YTD 1 but the baseline is 0, so the % tolerance cannot be applied -> No data"),
        ("No data", "Q1 no data: no value given"),
    ]  # fmt: skip
    assert [
        (i.code, str(i.severity), i.file, i.sheet, i.cell, i.measure_id) for i in report.issues
    ] == [
        ("baseline-missing", "warning", "dashboard_template.xlsx", "Measures", "I5", "2.2"),
        ("baseline-zero", "warning", "dashboard_template.xlsx", "Measures", "I6", "2.3"),
        ("baseline-zero", "warning", "dashboard_template.xlsx", "Measures", "I7", "2.4"),
    ]
    assert math.isnan(rated[col.TARGET][0])


def test_baseline_issue_names_the_cell_where_the_template_has_the_column(
    tmp_path: Path,
) -> None:
    # An analyst's template with a column of their own first: Baseline is in J, not I.
    path = write_template(
        register(measure("2.2", target=-5.0, target_form=PCT, tolerance=5.0)),
        tmp_path / "template.xlsx",
    )
    book = openpyxl.load_workbook(path)
    sheet = book[layout.MEASURES_SHEET]
    sheet.insert_cols(1)
    sheet["A1"] = "Our reference"
    book.save(path)
    read = read_template(path)
    assert read.columns["Baseline"] == "J"
    _, report = apply_rag(frame(row("2.2", "Q1", 10)), read)
    assert [(i.code, i.cell) for i in report.issues] == [("baseline-missing", "J2")]
    # A register built in code has the columns where write_template puts them.
    _, report = apply_rag(frame(row("2.2", "Q1", 10)), dataclasses.replace(read, columns={}))
    assert [(i.code, i.cell) for i in report.issues] == [("baseline-missing", "I2")]


def test_measures_not_in_register_are_left_alone() -> None:
    rated, report = apply_rag(
        frame(row("9.9", "Q1", 5), row("1.1", "Q1", 90)), register(measure(tolerance=5.0))
    )
    assert (
        shown(rated[col.STATUS]),
        shown(rated[col.POLARITY]),
        [text != "" for text in shown(rated[col.EXPLANATION])],
        len(report),
    ) == (["", "Green"], ["", "Reduce"], [False, True], 0)


def test_direction_of_travel_uses_the_gap_to_each_quarters_target() -> None:
    cumulative = measure("1.1", tolerance=5.0)  # targets 100 / 200 / 300 / 400
    snapshot_up = measure("6.2", polarity=UP, basis=SNAP, target=29.0)
    keep = measure("7.1", polarity=KEEP, basis=SNAP, baseline=100.0, tolerance=5.0)
    rated, _ = apply_rag(
        frame(
            row("1.1", "Q1", 110),  # 10% worse
            row("1.1", "Q2", 215),  # 7.5% worse: better, though the YTD count grew
            row("1.1", "Q3", 330),  # 10% worse: worse
            row("1.1", "Q4", 440),  # 10% worse: same
            row("6.2", "Q1", 27),
            row("6.2", "Q2", None),
            row("6.2", "Q3", 28),  # previous quarter has no value
            row("6.2", "Q4", 26, due=False),
            row("7.1", "Q1", 103),
            row("7.1", "Q2", 98),  # closer to the baseline
            row("7.1", "Q3", 96),  # further
        ),
        register(cumulative, snapshot_up, keep),
    )
    assert shown(rated[col.DIRECTION]) == [
        "", "better", "worse", "same", "", "", "", "", "", "better", "worse",
    ]  # fmt: skip


def test_input_frame_is_not_changed() -> None:
    before = frame(row("1.1", "Q1", 110), row("1.1", "Q2", None, reason="late"))
    copy = before.copy(deep=True)
    rated, _ = apply_rag(before, register(measure(tolerance=5.0)))
    pd.testing.assert_frame_equal(before, copy)
    assert tuple(rated.columns) == col.MASTER + col.RAG


def test_rag_columns_are_replaced_when_run_twice() -> None:
    reg = register(measure(tolerance=5.0))
    once, _ = apply_rag(frame(row("1.1", "Q1", 110)), reg)
    twice, _ = apply_rag(once, reg)
    assert (tuple(twice.columns), twice[col.STATUS][0]) == (col.MASTER + col.RAG, "Red")


def test_empty_frame() -> None:
    rated, report = apply_rag(frame(), register(measure()))
    assert (len(rated), tuple(rated.columns), len(report)) == (0, col.MASTER + col.RAG, 0)


@pytest.mark.parametrize(
    ("number", "text"),
    [(28.0, "28"), (27.5, "27.5"), (-0.125, "-0.12"), (1e6, "1,000,000"), (-0.001, "0")],
)
def test_format_number(number: float, text: str) -> None:
    assert format_number(number) == text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=False, width=64),
            # Ties at the second decimal (0.835, -0.265, 46.125), where rounding first
            # and formatting once disagree.
            st.integers(-(10**7), 10**7).map(lambda n: n / 1000 + 0.005),
            st.integers(-(10**5), 10**5).map(lambda n: n / 8),
        ),
        max_size=30,
    )
)
def test_many_numbers_format_as_each_one_does(numbers: list[float]) -> None:
    texts = rag._format_many(np.array(numbers, dtype="float64"))
    assert list(texts) == [format_number(0.0 if math.isnan(n) else n) for n in numbers]


# --- properties --------------------------------------------------------------------

_RANK = {"Green": 0, "Amber": 1, "Red": 2}

finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    polarity=st.sampled_from([DOWN, UP]),
    basis=st.sampled_from([CUM, SNAP]),
    tolerance_form=st.sampled_from([TPCT, TABS]),
    target=st.floats(min_value=1, max_value=1e5),
    tolerance=st.one_of(st.none(), st.floats(min_value=0, max_value=50)),
    quarter=st.sampled_from(QUARTERS),
    a=finite,
    b=finite,
)
def test_a_better_value_never_gets_a_worse_status(
    polarity: Polarity,
    basis: Basis,
    tolerance_form: ToleranceForm,
    target: float,
    tolerance: float | None,
    quarter: str,
    a: float,
    b: float,
) -> None:
    better, worse = (min(a, b), max(a, b)) if polarity is DOWN else (max(a, b), min(a, b))
    m = measure(
        "x",
        polarity=polarity,
        basis=basis,
        target=target,
        tolerance=tolerance,
        tolerance_form=tolerance_form,
    )
    rated, _ = apply_rag(
        frame(row("x", quarter, better), row("y", quarter, worse)),
        register(m, dataclasses.replace(m, measure_id="y")),
    )
    assert _RANK[rated[col.STATUS][0]] <= _RANK[rated[col.STATUS][1]]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), finite), min_size=12, max_size=12),
    order=st.permutations(list(range(12))),
)
def test_status_never_depends_on_row_order(values: list[float | None], order: list[int]) -> None:
    reg = register(
        measure("1.1", tolerance=5.0),
        measure("6.2", polarity=UP, basis=SNAP, target=29.0, tolerance=3.0, tolerance_form=TABS),
        measure("7.1", polarity=KEEP, basis=SNAP, baseline=100.0, tolerance=5.0),
    )
    rows = [
        row(mid, q, values[i * 4 + j], due=j < 3, override="Amber" if i == 1 and j == 0 else "")
        for i, mid in enumerate(("1.1", "6.2", "7.1"))
        for j, q in enumerate(QUARTERS)
    ]
    straight, _ = apply_rag(frame(*rows), reg)
    shuffled, _ = apply_rag(frame(*rows).iloc[order], reg)
    shuffled = shuffled.sort_index()
    assert list(shuffled[col.STATUS]) == list(straight[col.STATUS])
    assert list(shuffled[col.EXPLANATION]) == list(straight[col.EXPLANATION])
    assert list(shuffled[col.DIRECTION]) == list(straight[col.DIRECTION])


def test_a_missing_cell_is_known_with_or_without_pandas() -> None:
    # columns.is_missing, shared by the list path of the rules and the dashboard.
    missing = [None, float("nan"), np.nan, pd.NA, pd.NaT]
    present = ["", "x", 0, 0.0, False, np.float64(1.5), pd.Timestamp("2012-01-10")]
    assert all(col.is_missing(v) for v in missing)
    assert not any(col.is_missing(v) for v in present)
