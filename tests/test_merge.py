"""merge.merge_returns: newest wins, superseded values listed, chase list, frame shape."""

from __future__ import annotations

import math

from rag_workbook import columns as c
from rag_workbook.merge import merge_returns
from rag_workbook.model import (
    QUARTERS,
    Basis,
    CellValue,
    Measure,
    Polarity,
    Register,
    ReturnData,
    RowNotes,
    Settings,
    Status,
)


def _register(current_quarter: str = "") -> Register:
    def m(theme: str, mid: str) -> Measure:
        return Measure(
            theme=theme,
            measure_id=mid,
            text=f"Measure {mid}",
            polarity=Polarity.REDUCE,
            basis=Basis.CUMULATIVE,
            lead=f"{theme} lead",
            lead_email=f"{theme.lower()}@example.org",
            baseline=100.0,
            target=90.0,
        )

    return Register(
        settings=Settings(partnership="Test", current_quarter=current_quarter),
        measures=(m("ASB", "1.1"), m("ASB", "1.2"), m("Drugs", "2.1")),
    )


def _cell(mid: str, quarter: str, value: float | None, text: str = "", row: int = 11) -> CellValue:
    col = "FGHI"[QUARTERS.index(quarter)]
    return CellValue(
        mid,
        quarter,
        value,
        text or ("" if value is None else f"{value:g}"),
        "Return",
        f"{col}{row}",
    )


def _return(
    file: str,
    submitted: str,
    *cells: CellValue,
    notes: tuple[RowNotes, ...] = (),
    quarter: str = "",
    sha: str = "",
) -> ReturnData:
    return ReturnData(
        path=file,
        file=file,
        sha256=sha or file,
        theme="ASB",
        submitted=submitted,
        quarter=quarter,
        values=cells,
        notes=notes,
    )


def test_frame_has_one_row_per_measure_and_quarter_in_register_order() -> None:
    result = merge_returns([], _register())
    assert list(result.frame.columns) == list(c.MASTER)
    assert list(zip(result.frame[c.MEASURE_ID], result.frame[c.QUARTER], strict=True))[:5] == [
        ("1.1", "Q1"),
        ("1.1", "Q2"),
        ("1.1", "Q3"),
        ("1.1", "Q4"),
        ("1.2", "Q1"),
    ]
    assert len(result.frame) == 12


def test_newest_return_wins_and_superseded_value_is_listed() -> None:
    old = _return("asb_v1.xlsx", "2012-01-10", _cell("1.1", "Q1", 10), _cell("1.1", "Q2", 20))
    new = _return("asb_v2.xlsx", "2012-01-20", _cell("1.1", "Q2", 25), _cell("1.2", "Q2", 5))
    result = merge_returns([new, old], _register())
    frame = result.frame.set_index([c.MEASURE_ID, c.QUARTER])
    assert frame.loc[("1.1", "Q1"), c.VALUE] == 10
    assert frame.loc[("1.1", "Q2"), c.VALUE] == 25
    assert frame.loc[("1.1", "Q2"), c.SOURCE] == "asb_v2.xlsx!Return!G11"
    superseded = [
        (i.code, i.file, i.cell, i.measure_id)
        for i in result.report.issues
        if i.code == "superseded-value"
    ]
    assert superseded == [("superseded-value", "asb_v1.xlsx", "G11", "1.1")]


def test_same_value_twice_is_not_a_conflict() -> None:
    a = _return("a.xlsx", "2012-01-10", _cell("1.1", "Q1", 10))
    b = _return("b.xlsx", "2012-01-20", _cell("1.1", "Q1", 10))
    result = merge_returns([a, b], _register())
    assert [i.code for i in result.report.issues if i.code == "superseded-value"] == []


def test_identical_files_are_read_once() -> None:
    a = _return("a.xlsx", "2012-01-10", _cell("1.1", "Q1", 10), sha="abc")
    b = _return("copy of a.xlsx", "2012-01-10", _cell("1.1", "Q1", 10), sha="abc")
    result = merge_returns([a, b], _register())
    assert [(i.code, i.file) for i in result.report.issues if i.code == "duplicate-file"] == [
        ("duplicate-file", "copy of a.xlsx")
    ]


def test_measures_without_a_return_are_chased_with_their_lead() -> None:
    a = _return("asb.xlsx", "2012-01-10", _cell("1.1", "Q1", 10), _cell("1.2", "Q1", 3))
    result = merge_returns([a], _register())
    chase = [(i.code, i.measure_id) for i in result.report.issues if i.code == "no-return"]
    assert chase == [("no-return", "2.1")]
    (issue,) = [i for i in result.report.issues if i.code == "no-return"]
    assert "drugs@example.org" in issue.fix


def test_reporting_quarter_is_latest_given_unless_settings_say() -> None:
    a = _return("asb.xlsx", "2012-01-10", _cell("1.1", "Q1", 10), _cell("1.1", "Q2", 12))
    result = merge_returns([a], _register())
    assert result.quarter == "Q2"
    due = dict(zip(result.frame[c.QUARTER][:4], result.frame[c.DUE][:4], strict=True))
    assert due == {"Q1": True, "Q2": True, "Q3": False, "Q4": False}
    assert merge_returns([a], _register("Q3")).quarter == "Q3"


def test_no_data_reason_prefers_the_leads_comment_over_a_bare_dash() -> None:
    a = _return(
        "asb.xlsx",
        "2012-01-10",
        _cell("1.1", "Q1", None, "-"),
        _cell("1.2", "Q1", None, "awaiting police data"),
        notes=(
            RowNotes("1.1", comment="No consultation carried out YTD."),
            RowNotes("1.2", comment="see note"),
        ),
        quarter="Q1",
    )
    frame = merge_returns([a], _register()).frame.set_index([c.MEASURE_ID, c.QUARTER])
    assert frame.loc[("1.1", "Q1"), c.REASON] == "No consultation carried out YTD."
    assert frame.loc[("1.2", "Q1"), c.REASON] == "awaiting police data"
    assert math.isnan(frame.loc[("1.1", "Q1"), c.VALUE])


def test_comment_and_override_belong_to_the_reporting_quarter() -> None:
    note = RowNotes("1.1", override=Status.AMBER, override_reason="new system", comment="ok")
    a = _return(
        "asb.xlsx", "2012-01-10", _cell("1.1", "Q1", 10), _cell("1.1", "Q2", 12), notes=(note,)
    )
    frame = merge_returns([a], _register()).frame.set_index([c.MEASURE_ID, c.QUARTER])
    assert (frame.loc[("1.1", "Q2"), c.OVERRIDE], frame.loc[("1.1", "Q2"), c.COMMENT]) == (
        "Amber",
        "ok",
    )
    # a quarter without notes has missing texts (pd.NA), as pandas users expect
    assert frame.loc[("1.1", "Q1"), [c.OVERRIDE, c.COMMENT]].isna().all()


def test_due_quarter_without_value_is_reported() -> None:
    a = _return(
        "asb.xlsx",
        "2012-01-10",
        _cell("1.1", "Q1", 10),
        _cell("1.1", "Q2", 12),
        _cell("1.2", "Q2", 3),
    )
    result = merge_returns([a], _register())
    missing = [(i.code, i.measure_id) for i in result.report.issues if i.code == "value-missing"]
    assert missing == [("value-missing", "1.2")]


def test_unreadable_returns_contribute_issues_but_no_values() -> None:
    from rag_workbook.model import Severity
    from rag_workbook.report import Issue

    bad = ReturnData(
        path="x.xlsx",
        file="x.xlsx",
        readable=False,
        issues=(Issue("file-corrupt", Severity.ERROR, "broken", file="x.xlsx"),),
    )
    result = merge_returns([bad], _register())
    assert [(i.code, i.file) for i in result.report.issues if i.code == "file-corrupt"] == [
        ("file-corrupt", "x.xlsx")
    ]
    assert result.frame[c.VALUE].isna().all()
