"""Issue 18 on the real command line: last year, the year-end forecast, actions, sign-off,
commentary carried with --previous, and the complete chase list (--as-of, --chase-csv)."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from cli_run import run

from rag_workbook.forms import issue_returns, write_return, write_template
from rag_workbook.model import Basis, Measure, Polarity, Register, RowNotes, Settings, Status
from rag_workbook.template import read_template

OVERDUE_AS_OF = "2012-11-06"  # Returns Due 2012-10-20: 17 days overdue


def data_rows(path: Path) -> dict[tuple[str, str], dict[str, object]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb["Data"].iter_rows(values_only=True))
    top = next(i for i, row in enumerate(rows) if row[0] == "Theme")  # the table's header
    header = [str(h) for h in rows[top]]
    out = {}
    for row in rows[top + 1 :]:
        record = dict(zip(header, row, strict=True))
        out[(str(record["Measure ID"]), str(record["Quarter"]))] = record
    return out


def issues(path: Path) -> list[tuple[str, ...]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb["Issues"].iter_rows(values_only=True))
    top = next(i for i, row in enumerate(rows) if row[0] == "Severity")
    header = [str(h) for h in rows[top] if h]
    found = []
    for row in rows[top + 1 :]:
        if not row or row[0] is None:
            break
        record = dict(zip(header, row, strict=False))
        found.append(tuple(str(record.get(k) or "") for k in ("Code", "File", "Cell", "Message")))
    return found


def _measures(*, last_year: bool = False) -> tuple[Measure, ...]:
    asb, alc, drugs = "ASB", "Alcohol", "Drugs"
    return (
        # Cumulative, uneven profile: 20%, 45%, 70%, 100% of 800 due by Q1..Q4.
        Measure(asb, "1.1", "ASB incidents", Polarity.REDUCE, Basis.CUMULATIVE,
                lead="Jane Smith", lead_email="jane@example.org", baseline=1000, target=800,
                tolerance=5, profile=(0.2, 0.45, 0.7, 1.0)),
        # Snapshot, a percentage; last year its ID was 1.9 (matched by its text).
        Measure(asb, "1.9" if last_year else "1.2", "Satisfaction with ASB case handling",
                Polarity.INCREASE, Basis.SNAPSHOT, lead="Jane Smith",
                lead_email="jane@example.org", unit="%", baseline=70, target=80, tolerance=5),
        Measure(asb, "1.3", "Repeat victims of ASB", Polarity.REDUCE, Basis.SNAPSHOT,
                lead="Jane Smith", lead_email="jane@example.org", baseline=12, target=10,
                tolerance=10),
        Measure(alc, "2.1", "Alcohol-related violence", Polarity.REDUCE, Basis.CUMULATIVE,
                lead="Bob Jones", lead_email="bob@example.org", baseline=500, target=400,
                tolerance=5),
        *(() if last_year else (
            Measure(alc, "2.2", "Licensed premises checks", Polarity.INCREASE, Basis.SNAPSHOT,
                    lead="Bob Jones", lead_email="bob@example.org", baseline=40, target=50,
                    tolerance=10),
            Measure(drugs, "3.1", "Drug users in treatment", Polarity.INCREASE,
                    Basis.SNAPSHOT, lead="Dee Drugs", lead_email="dee@example.org",
                    baseline=100, target=120, tolerance=5),
        )),
        *((Measure(drugs, "9.9", "A measure dropped this year", Polarity.REDUCE,
                   Basis.SNAPSHOT, lead="Dee Drugs", baseline=10, target=8, tolerance=5),)
          if last_year else ()),
    )  # fmt: skip


def _register(*, last_year: bool = False, quarter: str = "Q2") -> Register:
    settings = Settings(
        partnership="Testshire",
        year="2011/12" if last_year else "2012/13",
        current_quarter=quarter,
        signoff_required=not last_year,
        returns_due="" if last_year else "2012-10-20",
    )
    return Register(settings, _measures(last_year=last_year))


def _template(register: Register, path: Path) -> tuple[Path, Register]:
    """The register written as a template, and read back (with its fingerprint) to issue
    returns from."""
    write_template(register, path)
    return path, read_template(path)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Last year's dashboard (made by the tool), this year's Q2 returns and the merge."""
    root = tmp_path_factory.mktemp("cycle")
    # Last year, Q1 and Q2.
    ly_template, ly = _template(_register(last_year=True), root / "ly_template.xlsx")
    write_return(root / "ly" / "asb.xlsx", ly, "ASB", quarter="Q2",
                 values={("1.1", "Q1"): 170.0, ("1.1", "Q2"): 400.0,
                         ("1.9", "Q1"): 72.0, ("1.9", "Q2"): 81.0,
                         ("1.3", "Q1"): 12.0, ("1.3", "Q2"): 9.0})  # fmt: skip
    write_return(root / "ly" / "alc.xlsx", ly, "Alcohol", quarter="Q2",
                 values={("2.1", "Q1"): 95.0, ("2.1", "Q2"): 230.0})  # fmt: skip
    write_return(root / "ly" / "drugs.xlsx", ly, "Drugs", quarter="Q2",
                 values={("9.9", "Q1"): 9.0, ("9.9", "Q2"): 7.0})  # fmt: skip
    last_year = root / "dashboard_2011-12.xlsx"
    proc = run("merge", root / "ly", "--template", ly_template, "--out", last_year)
    assert proc.returncode == 0, proc.stderr
    # This year: ASB signed off; Alcohol not, and its 2.1 Q2 left blank; no Drugs return.
    template, reg = _template(_register(), root / "template.xlsx")
    write_return(
        root / "returns" / "asb.xlsx", reg, "ASB", quarter="Q2", submitted="2012-10-18",
        values={("1.1", "Q1"): 150.0, ("1.1", "Q2"): 380.0,
                ("1.2", "Q1"): 78.0, ("1.2", "Q2"): 75.0,
                ("1.3", "Q1"): 15.0, ("1.3", "Q2"): 14.0},
        notes={"1.1": RowNotes("1.1", comment="Summer peak", action="Extra patrols in July"),
               "1.2": RowNotes("1.2", Status.AMBER, "Survey sample small", "Few replies",
                               action="Re-run the survey")},
        approved_by="Jane Smith", approved_on="2012-10-19",
    )  # fmt: skip
    write_return(
        root / "returns" / "alc.xlsx", reg, "Alcohol", quarter="Q2", submitted="2012-10-25",
        values={("2.1", "Q1"): 120.0, ("2.2", "Q1"): "n/a", ("2.2", "Q2"): "n/a"},
        notes={"2.2": RowNotes("2.2", comment="Officer on leave",
                               action="Checks resume in November")},
    )  # fmt: skip
    out = root / "dashboard.xlsx"
    chase = root / "chase" / "chase.csv"
    args = ["merge", root / "returns", "--template", template, "--out", out,
            "--last-year", last_year, "--as-of", OVERDUE_AS_OF, "--chase-csv", chase]  # fmt: skip
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    assert f"Chase list: {chase}" in proc.stdout
    return {"root": root, "out": out, "chase": chase, "template": template, "last": last_year}


def test_last_year_value_and_status_for_each_matched_measure(cycle: dict[str, Path]) -> None:
    rows = data_rows(cycle["out"])
    got = [
        (mid, q, rows[(mid, q)]["Last Year Value"], rows[(mid, q)]["Last Year Status"])
        for mid in ("1.1", "1.2", "2.1", "2.2")
        for q in ("Q1", "Q2")
    ]
    # Last year 1.1: Q1 170 vs 160 profiled (6.25% worse, Red), Q2 400 vs 360 (Red);
    # 1.9 -> 1.2 by its text: Q1 72 vs 80 (10% worse, Red), Q2 81 (Green);
    # 2.1 (even profile of 400): Q1 95 vs 100 (Green), Q2 230 vs 200 (15% worse, Red).
    assert got == [
        ("1.1", "Q1", 170, "Red"), ("1.1", "Q2", 400, "Red"),
        ("1.2", "Q1", 72, "Red"), ("1.2", "Q2", 81, "Green"),
        ("2.1", "Q1", 95, "Green"), ("2.1", "Q2", 230, "Red"),
        ("2.2", "Q1", None, None), ("2.2", "Q2", None, None),
    ]  # fmt: skip
    notes = [(code, cell, message) for code, _, cell, message in issues(cycle["out"])]
    last = [n for n in notes if n[0].startswith("last-year")]
    assert sorted((code, message.split(" (")[0].split(" is ")[0]) for code, _, message in last) == [
        ("last-year-matched-by-text", "measure 1.2"),
        ("last-year-unmatched", "last year's measure 9.9"),
        ("last-year-unmatched", "measure 2.2"),
        ("last-year-unmatched", "measure 3.1"),
    ]


def test_year_end_forecast_cumulative_uneven_profile_and_snapshot(cycle: dict[str, Path]) -> None:
    rows = data_rows(cycle["out"])
    q2 = rows[("1.1", "Q2")]
    # Q2 YTD 380 is 45% of the year's target due: 380 / 0.45 = 844.44 at year end, against
    # 800: 5.56% worse, beyond the 5% tolerance -> Red.
    assert q2["Year-End Forecast"] == pytest.approx(380 / 0.45)
    assert q2["Forecast Status"] == "Red"
    assert rows[("1.1", "Q1")]["Year-End Forecast"] is None  # only the reporting quarter
    # Snapshot: the latest value, 75% against 80%: 5 points worse, the band is 4 -> Red.
    assert rows[("1.2", "Q2")]["Year-End Forecast"] == 75
    assert rows[("1.2", "Q2")]["Forecast Status"] == "Red"
    # No value in the reporting quarter: no forecast.
    assert rows[("2.1", "Q2")]["Year-End Forecast"] is None
    assert rows[("2.1", "Q2")]["Forecast Status"] is None


def test_actions_flow_to_data(cycle: dict[str, Path]) -> None:
    rows = data_rows(cycle["out"])
    assert [(k, rows[k]["Action"]) for k in (("1.1", "Q2"), ("1.2", "Q2"), ("2.2", "Q2"))] == [
        (("1.1", "Q2"), "Extra patrols in July"),
        (("1.2", "Q2"), "Re-run the survey"),
        (("2.2", "Q2"), "Checks resume in November"),
    ]


def test_signoff_required_and_missing_warns_naming_the_cells(cycle: dict[str, Path]) -> None:
    found = [i for i in issues(cycle["out"]) if i[0] == "return-not-signed-off"]
    assert [(code, file, cell) for code, file, cell, _ in found] == [
        ("return-not-signed-off", "alc.xlsx", "B9")
    ]
    assert "Approved By (B9) and Approved On (B10) are blank" in found[0][3]


def test_blank_due_quarter_is_chased_with_its_cell(cycle: dict[str, Path]) -> None:
    found = [i for i in issues(cycle["out"]) if i[0] == "value-missing"]
    assert [(file, cell) for _, file, cell, _ in found] == [("alc.xlsx", "G13")]
    # and on the Issues sheet's chase list, with the lead
    wb = openpyxl.load_workbook(cycle["out"], read_only=True)
    chase = [r for r in wb["Issues"].iter_rows(values_only=True) if r[0] in ("2.1", "3.1")]
    assert [
        (r[0], r[1], "alc.xlsx" in str(r[5]), "17 days overdue" in str(r[5])) for r in chase
    ] == [
        ("3.1", "Dee Drugs", False, True),
        ("2.1", "Bob Jones", True, True),
    ]
    assert "due 2012-10-20, 17 days overdue" in found[0][3]


def test_chase_csv_one_row_per_lead(cycle: dict[str, Path]) -> None:
    with cycle["chase"].open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["Lead", "Email", "Theme", "Missing", "Due Date", "Days Overdue"],
        ["Bob Jones", "bob@example.org", "Alcohol", "2.1 Q2", "2012-10-20", "17"],
        ["Dee Drugs", "dee@example.org", "Drugs", "3.1 Q1-Q2", "2012-10-20", "17"],
    ]


def test_rerun_with_as_of_gives_identical_bytes(cycle: dict[str, Path], tmp_path: Path) -> None:
    again = tmp_path / "again.xlsx"
    chase = tmp_path / "chase.csv"
    proc = run(
        "merge", cycle["root"] / "returns", "--template", cycle["template"], "--out", again,
        "--last-year", cycle["last"], "--as-of", OVERDUE_AS_OF, "--chase-csv", chase,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert again.read_bytes() == cycle["out"].read_bytes()
    assert chase.read_bytes() == cycle["chase"].read_bytes()


def test_chase_csv_never_over_an_input(cycle: dict[str, Path], tmp_path: Path) -> None:
    before = cycle["template"].read_bytes()
    proc = run(
        "merge", cycle["root"] / "returns", "--template", cycle["template"],
        "--out", tmp_path / "d.xlsx", "--chase-csv", cycle["template"],
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--chase-csv" in proc.stderr and "nothing was written" in proc.stderr
    assert cycle["template"].read_bytes() == before
    assert not (tmp_path / "d.xlsx").exists()


def test_as_of_must_be_a_date(cycle: dict[str, Path], tmp_path: Path) -> None:
    proc = run(
        "merge", cycle["root"] / "returns", "--template", cycle["template"],
        "--out", tmp_path / "d.xlsx", "--as-of", "next tuesday",
    )  # fmt: skip
    assert proc.returncode == 2
    assert "YYYY-MM-DD" in proc.stderr


def test_previous_round_trip_keeps_comments_actions_reasons_overrides(tmp_path: Path) -> None:
    template, reg = _template(_register(quarter="Q1"), tmp_path / "template.xlsx")
    write_return(
        tmp_path / "q1" / "asb.xlsx", reg, "ASB", quarter="Q1",
        values={("1.1", "Q1"): 150.0, ("1.2", "Q1"): "n/a"},
        notes={"1.1": RowNotes("1.1", Status.GREEN, "Count revised down", "Summer peak",
                               action="Extra patrols")},
    )  # fmt: skip
    q1 = tmp_path / "q1.xlsx"
    assert run("merge", tmp_path / "q1", "--template", template, "--out", q1).returncode in (0, 1)
    # Q2: the return gives Q2 only; Q1 comes from the Q1 dashboard with its notes.
    template2, reg2 = _template(_register(quarter="Q2"), tmp_path / "template2.xlsx")
    write_return(
        tmp_path / "q2" / "asb.xlsx", reg2, "ASB", quarter="Q2",
        values={("1.1", "Q2"): 300.0, ("1.2", "Q2"): 82.0},
        notes={"1.1": RowNotes("1.1", comment="Better")},
    )  # fmt: skip
    q2 = tmp_path / "q2.xlsx"
    proc = run("merge", tmp_path / "q2", "--template", template2, "--out", q2, "--previous", q1)
    assert proc.returncode in (0, 1), proc.stderr
    before, after = data_rows(q1), data_rows(q2)
    keys = ("Value", "Status", "Comment", "Action", "Override", "Override reason", "No-data reason")
    for key in (("1.1", "Q1"), ("1.2", "Q1")):
        assert [after[key][k] for k in keys] == [before[key][k] for k in keys]
    assert [after[("1.1", "Q1")][k] for k in ("Status", "Override", "Override reason")] == [
        "Green",
        "Yes",
        "Count revised down",
    ]
    assert after[("1.1", "Q1")]["Action"] == "Extra patrols"
    assert after[("1.2", "Q1")]["No-data reason"] == "n/a"
    # Each carried value cites the previous dashboard's Data cell.
    assert after[("1.1", "Q1")]["Source"] == "q1.xlsx (previous dashboard)!Data!E5"
    assert after[("1.1", "Q2")]["Comment"] == "Better"


def test_returns_issue_previous_prefills_only_earlier_quarters(tmp_path: Path) -> None:
    template, reg = _template(_register(quarter="Q2"), tmp_path / "template.xlsx")
    write_return(
        tmp_path / "r" / "asb.xlsx", reg, "ASB", quarter="Q2",
        values={("1.1", "Q1"): 150.0, ("1.1", "Q2"): 380.0, ("1.2", "Q1"): "n/a"},
        notes={"1.1": RowNotes("1.1", comment="Summer peak", action="Extra patrols")},
    )  # fmt: skip
    dashboard = tmp_path / "q2.xlsx"
    assert run("merge", tmp_path / "r", "--template", template, "--out", dashboard).returncode in (
        0,
        1,
    )
    # Next quarter's forms: Q3 is current, so Q1 and Q2 are pre-filled, Q3 is the lead's.
    template3, _ = _template(_register(quarter="Q3"), tmp_path / "template3.xlsx")
    out = tmp_path / "forms"
    proc = run("returns", "issue", "--template", template3, "--out", out, "--previous", dashboard)
    assert proc.returncode == 0, proc.stderr
    ws = openpyxl.load_workbook(out / "ASB_Jane_Smith.xlsx")["Return"]
    header = [c.value for c in ws[12]]
    row = dict(zip(header, (c.value for c in ws[13]), strict=True))
    assert [row[k] for k in ("Q1", "Q2", "Q3", "Q4", "Comment", "Action")] == [
        150,
        380,
        None,
        None,
        "Summer peak",
        "Extra patrols",
    ]
    row2 = dict(zip(header, (c.value for c in ws[14]), strict=True))
    assert [row2[k] for k in ("Q1", "Q2", "Q3")] == ["n/a", None, None]
    # Quarters up to the current one from a Q2 dashboard when Q2 is current: only Q1.
    out2 = tmp_path / "forms2"
    assert issue_returns(reg, out2, previous=dashboard)
    ws2 = openpyxl.load_workbook(out2 / "ASB_Jane_Smith.xlsx")["Return"]
    assert [c.value for c in ws2[13]][5:9] == [150, None, None, None]


def _dashboard(path: Path) -> tuple[list[object], dict[str, int]]:
    ws = openpyxl.load_workbook(path)["Dashboard"]
    header = [c.value for c in ws[4]]
    rows = {str(ws.cell(r, 2).value): r for r in range(5, 11)}
    return header, rows


@pytest.mark.filterwarnings("ignore:Sparkline Group extension:UserWarning")
def test_dashboard_year_end_last_year_and_signoff_mark(cycle: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(cycle["out"])
    ws = wb["Dashboard"]
    header = [c.value for c in ws[4]]
    assert header == [
        "Theme", "No", "Performance Measure", "Qu 1", "Qu 2", "Qu 3", "Qu 4", "Year end",
        "Q2 last year", "Trend", "Comments", "This year", "Last year",
    ]  # fmt: skip
    rows = {str(ws.cell(r, 2).value): r for r in range(5, 11)}
    year_end = header.index("Year end") + 1
    last = header.index("Q2 last year") + 1
    # icon codes: 3 Green, 2 Amber, 1 Red (the word by number format); No data in words
    got = {mid: (ws.cell(r, year_end).value, ws.cell(r, last).value) for mid, r in rows.items()}
    assert got == {
        "1.1": (1, 1), "1.2": (1, 3), "1.3": (1, 3), "2.1": (None, 1), "2.2": (None, None),
        "3.1": (None, None),
    }  # fmt: skip
    note = ws.cell(rows["1.1"], year_end).comment.text
    assert note.startswith("forecast from Q2 YTD 380, 45% of the year's target due by Q2")
    assert "844.44 vs annual target 800" in note and note.endswith("-> Red")
    assert "Snapshot" not in ws.cell(rows["1.2"], year_end).comment.text
    assert ws.cell(rows["1.2"], year_end).comment.text.startswith(
        "forecast: the latest value, Q2 75%, held to year end"
    )
    # the icon set covers the Year end and last-year columns too
    ranges = {str(cf.sqref) for cf in ws.conditional_formatting}
    assert "D5:I10" in ranges
    # sign-off: Alcohol's values (not signed off) in dashed boxes, ASB's not; the key says so
    q1 = header.index("Qu 1") + 1
    styles = {mid: ws.cell(r, q1).border.left.style for mid, r in rows.items()}
    assert (styles["2.1"], styles["2.2"], styles["1.1"]) == ("dashed", "dashed", "thin")
    assert "(the return is not signed off)" in ws.cell(rows["2.1"], q1).comment.text
    key = [c.value for row in ws.iter_rows(min_row=12) for c in row if isinstance(c.value, str)]
    assert "Dashed box: the lead's return is not signed off" in key
    # About lists who approved each return, and when
    about = [r for r in wb["About"].iter_rows(values_only=True) if r[0] in ("asb.xlsx", "alc.xlsx")]
    assert [r[:4] for r in about if r[1] in ("ASB", "Alcohol")] == [
        ("alc.xlsx", "Alcohol", "(not signed off)", None),
        ("asb.xlsx", "ASB", "Jane Smith", "2012-10-19"),
    ]


def test_exceptions_list_each_rule_with_its_reason_and_action(cycle: dict[str, Path]) -> None:
    ws = openpyxl.load_workbook(cycle["out"], read_only=True)["Exceptions"]
    rows = list(ws.iter_rows(values_only=True))
    top = next(i for i, r in enumerate(rows) if r[0] == "Theme")
    header = list(rows[top])
    assert header == [
        "Theme", "No", "Performance Measure", "Status", "Listed for", "Explanation", "Comment",
        "Action", "Lead",
    ]  # fmt: skip
    found = [dict(zip(header, r, strict=True)) for r in rows[top + 1 :] if r[0]]
    # Issue 17's Red, Amber and No data in the quarter, then issue 18's reasons over the
    # quarters; 1.2 is Amber (override), listed for its Red forecast too.
    assert [(r["No"], r["Status"], r["Listed for"], r["Action"]) for r in found] == [
        ("1.1", "Red", "Red; worse by a band than the quarter before (Green in Q1); "
         "forecast Red at year end", "Extra patrols in July"),
        ("1.2", "Amber", "Amber; forecast Red at year end", "Re-run the survey"),
        ("1.3", "Red", "Red; Red two quarters running (Q1 and Q2); forecast Red at year end",
         "(no action given)"),
        ("2.1", "No data: not received [x]", "No data", "(no action given)"),
        ("2.2", "No data: not available [z]", "No data; No data two quarters running "
         "(Q1 and Q2)", "Checks resume in November"),
        ("3.1", "No data: not received [x]", "No data; No data two quarters running "
         "(Q1 and Q2)", "(no action given)"),
    ]  # fmt: skip
    assert found[0]["Lead"] == "Jane Smith" and found[0]["Comment"] == "Summer peak"
    assert "forecast from Q2 YTD 380" in str(found[0]["Explanation"])


def _sparkline_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("xl/worksheets/sheet2.xml").decode()  # Dashboard, after Contents
    start = xml.index("<x14:sparklineGroups")
    return xml[start : xml.index("</x14:sparklineGroups>") + 22]


def test_sparklines_this_year_and_last_year_in_both_writers(
    cycle: dict[str, Path], tmp_path: Path
) -> None:
    xml = _sparkline_xml(cycle["out"])
    pairs = re.findall(r"<xm:f>([^<]+)</xm:f><xm:sqref>([^<]+)</xm:sqref>", xml)
    # Measure 1.1's Q1..Q4 are Data rows 5-8: Value in E, Last Year Value in T.
    assert {("Data!E5:E8", "L5"), ("Data!E9:E12", "L6"), ("Data!T5:T8", "M5")} <= set(pairs)
    assert len(set(pairs)) == 12  # six measures, this year and last year
    outs = {}
    for writer in ("plain", "fast"):
        outs[writer] = tmp_path / f"{writer}.xlsx"
        proc = run(
            "merge", cycle["root"] / "returns", "--template", cycle["template"],
            "--out", outs[writer], "--last-year", cycle["last"], "--as-of", OVERDUE_AS_OF,
            "--writer", writer,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    assert _sparkline_xml(outs["plain"]) == _sparkline_xml(outs["fast"]) == xml


VALIDATE = Path(__file__).resolve().parents[1].parent / "shared" / "ooxml" / "validate.py"


@pytest.mark.skipif(not VALIDATE.exists(), reason="../shared/ooxml/validate.py is absent")
def test_dashboard_and_issued_form_are_schema_valid(cycle: dict[str, Path]) -> None:
    form = cycle["root"] / "returns" / "asb.xlsx"
    for path in (cycle["out"], form):
        proc = subprocess.run(
            [sys.executable, str(VALIDATE), str(path)], capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.filterwarnings("ignore:Sparkline Group extension:UserWarning")
def test_demo_runs_with_last_year_2010_11(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = run("demo", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert f"Last year: {out / 'dashboard_2010-11.xlsx'}" in proc.stdout
    rows = data_rows(out / "dashboard.xlsx")
    # What the seed's comments say of the baseline (last year's outturn), year to date:
    # 2.1 "5% increase on baseline YTD" (315 against 300); 3.2 "violence has increased by
    # 3.2%" (774 against 750); 4.1 "Increase of 1% on baseline in Q2" (202 against 200).
    got = [
        (mid, q, rows[(mid, q)]["Value"], rows[(mid, q)]["Last Year Value"])
        for mid, q in (("2.1", "Q3"), ("3.2", "Q3"), ("4.1", "Q2"))
    ]
    assert got == [("2.1", "Q3", 315, 300), ("3.2", "Q3", 774, 750), ("4.1", "Q2", 202, 200)]
    assert round(315 / 300 - 1, 3) == 0.05 and round(774 / 750 - 1, 3) == 0.032
    # 6.1 "Projection for year is 145": the forecast through the even profile, 109 / 0.75
    assert rows[("6.1", "Q3")]["Year-End Forecast"] == pytest.approx(145.33, abs=0.01)
    # the measures whose "baseline [is] to be collected this year" were not measured then
    assert {mid for mid in ("2.2", "2.3", "3.4") if rows[(mid, "Q3")]["Last Year Value"]} == set()
    assert "last-year-unmatched: measure 2.2" in proc.stderr


def test_check_takes_last_year_and_as_of(cycle: dict[str, Path]) -> None:
    proc = run(
        "check", cycle["root"] / "returns", "--template", cycle["template"],
        "--last-year", cycle["last"], "--as-of", "2012-10-30",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "alc.xlsx!Return!G13: value-missing" in proc.stderr
    assert "due 2012-10-20, 10 days overdue" in proc.stderr
    assert "last-year-matched-by-text: measure 1.2" in proc.stderr


def test_form_shows_returns_due_as_the_deadline(cycle: dict[str, Path]) -> None:
    ws = openpyxl.load_workbook(cycle["root"] / "returns" / "asb.xlsx")["Instructions"]
    assert "Deadline: 2012-10-20" in [c.value for c in ws["A"]]
