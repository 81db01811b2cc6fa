"""Tests of the dashboard package and render.py: the committee workbook, read back and rendered.

The Stockton 2011/12 inputs are built here in code (register, frame, report); the
checked-in golden workbook tests/fixtures/dashboard/stockton_expected.xlsx and the README
picture docs/dashboard.png are rebuilt by `pytest tests/test_dashboard.py --update-golden`.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xlsxwriter.utility import xl_col_to_name

from rag_workbook import __version__
from rag_workbook import columns as C
from rag_workbook import dashboard as D
from rag_workbook.dashboard import build as B
from rag_workbook.dashboard.fast import forked as F
from rag_workbook.errors import OutputError, OutputLockedError, TemplateError
from rag_workbook.model import (
    QUARTERS,
    Basis,
    Direction,
    Measure,
    Polarity,
    Register,
    Settings,
    Severity,
    Status,
)
from rag_workbook.render import RenderError, convert_to_pdf, pdf_to_png
from rag_workbook.report import Issue, Report

FIXTURES = Path(__file__).parent / "fixtures" / "dashboard"
GOLDEN = FIXTURES / "stockton_expected.xlsx"
DOCS_PNG = Path(__file__).parent.parent / "docs" / "dashboard.png"
pytestmark = [
    pytest.mark.filterwarnings("error::UserWarning"),
    # openpyxl does not read sparklines (an x14 extension) and says so; Excel and
    # LibreOffice do, and the schema check covers them.
    pytest.mark.filterwarnings("ignore:Sparkline Group extension is not supported:UserWarning"),
]
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}

# --------------------------------------------------------------------------- inputs

STOCKTON = (
    ("ASB", "1.1", "Reduce repeat callers to the Police, MAASBT and RSLs", "AGG"),
    ("ASB", "1.2", "Reduce the perception that ASB is a serious problem", "NNN"),
    ("ASB", "1.3", "Reduce Anti Social Behaviour in the top five wards", "RRR"),
    ("Alcohol", "2.1", "Increase the number of section 27 notices issued", "GRG"),
    ("Alcohol", "2.2", "Reduce the number of alcohol related crimes for those on an ATR", "NNN"),
    ("Alcohol", "2.3", "Reduce the number of alcohol related crimes for those on an ASAR", "NNN"),
    ("Violence", "3.1", "Maintain a reduction in Most Serious Violent Crime", "ARR"),
    ("Violence", "3.2", "Reduce Violence Against the Person offences in the top five wards", "AAA"),
    ("Violence", "3.3", "Reduce repeat perpetrators of Domestic Violence", "GGN"),
    (
        "Violence",
        "3.4",
        "Increase the number of repeat victims in MARAC accessing support from Harbour",
        "NNN",
    ),
    ("Drugs", "4.1", "Increase the number of female drug users accessing support.", "AAN"),
    ("Drugs", "4.2", "Reduce drug related repeat offending", "GGG"),
    ("Drugs", "4.3", "Increase the number of people leaving treatment services drug free", "GGG"),
    (
        "Drugs",
        "4.4",
        "Reduce the number of individuals repeatedly testing positive for drugs within Arrest "
        "Referral",
        "GGG",
    ),
    ("Criminal Damage", "5.1", "Reduce Criminal Damage", "GGG"),
    ("Criminal Damage", "5.2", "Reduce Criminal Damage at street level", "AAA"),
    ("Criminal Damage", "5.3", "Reduce the number of repeat victims of Criminal Damage", "GGG"),
    ("Emerging Issue", "6.1", "Reduce convictions for HCCs", "GGG"),
    ("Emerging Issue", "6.2", "Increase the number of HCCs accessing treatment services", "AAA"),
)

COMMENTS = {
    "1.2": "No consultation carried out YTD.",
    "1.3": "Overall Police ASB incidents have increased by 7% in the top five wards.",
    "2.1": "Vast improvement since Q2, currently 5% increase on baseline YTD.",
    "2.2": "No update due – baseline to be collected this year.",
    "2.3": "No update due – baseline to be collected this year.",
    "3.1": "Target will not be achieved; 30% (18.5 crimes) above the target to achieve this year.",
    "3.2": "Overall violence has increased by 3.2% in the top five wards, compared to an overall "
    "5.5% reduction for Borough.",
    "3.3": "No data for Q3 – issue with data sharing. Hoping to resolve by end of Q4.",
    "3.4": "No update due – baseline to be collected this year.",
    "4.1": "Q3 data not available on ndtms.net until mid-Feb 2012. No gender breakdown provided "
    "until the full quarterly update. Increase of 1% on baseline in Q2.",
    "4.3": "Q2 data not available on ndtms.net until mid-Feb 2012. Figures up to Nov YTD show "
    "that 49% (81 of 165) exits were planned.",
    "5.2": "There have been reductions against the baseline in four out of the five top repeat "
    "streets, with the exception of Tithe Barn Road in Hardwick (+3 offences)",
    "6.1": "Projection for year is 145; a reduction of -76 (34%)",
    "6.2": "27 out of 29 HCCs remain in treatment; 1 non-drug user and 1 refuses treatment.",
}

LETTERS = {"G": Status.GREEN, "A": Status.AMBER, "R": Status.RED, "N": Status.NO_DATA}
RANK = {Status.RED: 0, Status.AMBER: 1, Status.GREEN: 2}


def stockton_register(**settings: Any) -> Register:
    """The Safer Stockton 2011/12 register, built in code."""
    base: dict[str, Any] = {
        "partnership": "Safer Stockton Partnership",
        "title": "COMMUNITY SAFETY PLAN – PERFORMANCE DASHBOARD",
        "year": "2011/12",
        "meeting": "Safer Stockton Partnership Board",
        "meeting_date": "14 February 2012",
        "agenda_item": "11",
    }
    base.update(settings)
    measures = tuple(
        Measure(
            theme=theme,
            measure_id=mid,
            text=text,
            polarity=Polarity.INCREASE if text.startswith("Increase") else Polarity.REDUCE,
            basis=Basis.CUMULATIVE,
            lead=f"{theme} Lead",
            lead_email=f"{theme.lower().replace(' ', '.')}@stockton.example",
            baseline=100.0,
            target=95.0,
            tolerance=5.0,
        )
        for theme, mid, text, _ in STOCKTON
    )
    return Register(
        settings=Settings(**base),
        measures=measures,
        fingerprint="f" * 64,
        path="templates/dashboard_template.xlsx",
    )


def make_frame(
    register: Register,
    letters: dict[str, str],
    comments: dict[str, str] | None = None,
    overrides: frozenset[tuple[str, str]] = frozenset(),
) -> pd.DataFrame:
    """A master frame with MASTER + RAG columns; `letters` maps ID -> "GAR" for Q1.."""
    comments = comments or {}
    rows: list[dict[str, Any]] = []
    for m in register.measures:
        code = letters.get(m.measure_id, "")
        previous: Status | None = None
        for q, quarter in enumerate(QUARTERS):
            status = LETTERS[code[q]] if q < len(code) else None
            value = float("nan") if status in (None, Status.NO_DATA) else 90.0 + 10 * q
            direction = ""
            if status in RANK and previous in RANK:
                step = RANK[status] - RANK[previous]
                direction = (
                    Direction.BETTER
                    if step > 0
                    else Direction.WORSE
                    if step < 0
                    else Direction.SAME
                ).value
            override = (m.measure_id, quarter) in overrides
            if status is None:
                explanation = ""
            elif status is Status.NO_DATA:
                explanation = f"{quarter}: no value given -> No data"
            else:
                explanation = f"{quarter} YTD {value:g} vs profiled target 95: -> {status.value}"
            rows.append(
                {
                    C.THEME: m.theme,
                    C.MEASURE_ID: m.measure_id,
                    C.MEASURE_TEXT: m.text,
                    C.LEAD: m.lead,
                    C.QUARTER: quarter,
                    C.DUE: status is not None,
                    C.VALUE: value,
                    C.RAW: "" if value != value else f"{value:g}",
                    C.REASON: "no data" if status is Status.NO_DATA else "",
                    C.OVERRIDE: status.value if override and status else "",
                    C.OVERRIDE_REASON: "lead's judgement" if override else "",
                    C.COMMENT: comments.get(m.measure_id, "")
                    if quarter == QUARTERS[len(code) - 1]
                    else (
                        f"earlier {quarter} comment"
                        if status is not None and q == 0 and m.measure_id in comments
                        else ""
                    ),
                    C.SOURCE: f"{m.theme}.xlsx!Return!F{10 + q}" if status else "",
                    C.SUBMITTED: "2012-01-20" if status else "",
                    C.POLARITY: m.polarity.value,
                    C.BASIS: m.basis.value,
                    C.TARGET: 95.0 if status else float("nan"),
                    C.STATUS: status.value if status else "",
                    C.IS_OVERRIDE: override,
                    C.EXPLANATION: explanation,
                    C.DIRECTION: direction,
                }
            )
            previous = status
    return pd.DataFrame(rows, columns=[*C.MASTER, *C.RAG])


def stockton_report() -> Report:
    return Report.of(
        [
            Issue(
                "superseded-value",
                Severity.INFO,
                "Q2 value 12 replaced by 14",
                file="ASB_v2.xlsx",
                sheet="Return",
                cell="G10",
                measure_id="1.1",
            ),
            Issue(
                "value-not-a-number",
                Severity.ERROR,
                "Q3 must be a number (got 'twelve')",
                fix="type the number only",
                file="Drugs.xlsx",
                sheet="Return",
                cell="H11",
                value="twelve",
                measure_id="4.1",
            ),
            Issue(
                "no-return",
                Severity.WARNING,
                "no return for Q3",
                fix="chase the lead",
                measure_id="3.3",
            ),
            Issue(
                "late-return", Severity.WARNING, "submitted after the deadline", file="Alcohol.xlsx"
            ),
        ]
    )


def stockton_inputs() -> tuple[D.InputFile, ...]:
    return tuple(
        D.InputFile(
            file=f"{theme}.xlsx",
            sha256=hashlib.sha256(theme.encode()).hexdigest(),
            theme=theme,
            submitted="2012-01-20",
            status=D.InputStatus.REFUSED if theme == "Drugs" else D.InputStatus.READ,
        )
        for theme in dict.fromkeys(t for t, *_ in STOCKTON)
    )


OPTIONS = D.DashboardOptions(made_on="2012-02-01")
OVERRIDES = frozenset({("2.1", "Q2")})


def stockton_bytes(**settings: Any) -> bytes:
    register = stockton_register(**settings)
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS, OVERRIDES)
    return D.build_dashboard(
        frame, register, stockton_report(), inputs=stockton_inputs(), options=OPTIONS
    )


@pytest.fixture(scope="module")
def stockton_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS, OVERRIDES)
    path = tmp_path_factory.mktemp("dash") / "dashboard.xlsx"
    return D.write_dashboard(
        frame, register, stockton_report(), path, inputs=stockton_inputs(), options=OPTIONS
    )


@pytest.fixture(scope="module")
def book(stockton_path: Path) -> Any:
    return openpyxl.load_workbook(stockton_path)


def sheet_xml(path: Path | bytes, part: str) -> ET.Element:
    source = io.BytesIO(path) if isinstance(path, bytes) else path
    with zipfile.ZipFile(source) as zf:
        return ET.fromstring(zf.read(part))


# --------------------------------------------------------------------------- sheets and cells


def test_every_sheet_is_present_in_order(book: Any) -> None:
    assert book.sheetnames == ["Dashboard", "Exceptions", "Summary", "Data", "Issues", "About"]
    assert book.active.title == "Dashboard"
    assert {ws.sheet_state for ws in book.worksheets} == {"visible"}


def test_title_block_and_header(book: Any) -> None:
    ws = book["Dashboard"]
    # the meeting date right-aligned over Comments and the sparklines' column (I1:J1)
    assert (ws["A1"].value, ws["C1"].value, ws["I1"].value) == (
        "Agenda Item No: 11",
        "Safer Stockton Partnership",
        "14 February 2012",
    )
    assert ws["A2"].value == "COMMUNITY SAFETY PLAN – PERFORMANCE DASHBOARD 2011/12"
    assert ws["A3"].value == "Safer Stockton Partnership Board"
    header = [c.value for c in ws[5]][:9]
    assert header == [
        "Theme",
        "No",
        "Performance Measure",
        "Qu 1",
        "Qu 2",
        "Qu 3",
        "Qu 4",
        "Trend",
        "Comments",
    ]


def test_measure_rows_codes_and_merged_themes(book: Any) -> None:
    ws = book["Dashboard"]
    rows = [[c.value for c in r][:9] for r in ws.iter_rows(min_row=6, max_row=24)]
    assert [r[1] for r in rows] == [mid for _, mid, _, _ in STOCKTON]
    assert [r[2] for r in rows] == [text for _, _, text, _ in STOCKTON]
    code = {3: "G", 2: "A", 1: "R", "-": "N"}
    assert ["".join(code[v] for v in r[3:6]) for r in rows] == [c for *_, c in STOCKTON]
    assert all(r[6] is None for r in rows)  # Q4 not yet due
    assert [r[8] or "" for r in rows] == [COMMENTS.get(mid, "") for _, mid, _, _ in STOCKTON]
    merged = sorted(str(r) for r in ws.merged_cells.ranges if r.min_col == r.max_col == 1)
    assert merged == sorted(["A6:A8", "A9:A11", "A12:A15", "A16:A19", "A20:A22", "A23:A24"])
    assert [ws.cell(row, 1).value for row in (6, 9, 12, 16, 20, 23)] == [
        "ASB",
        "Alcohol",
        "Violence",
        "Drugs",
        "Criminal Damage",
        "Emerging Issue",
    ]


def test_direction_arrows(book: Any) -> None:
    ws = book["Dashboard"]
    trend = {ws.cell(r, 2).value: ws.cell(r, 8).value for r in range(6, 25)}
    assert (trend["1.1"], trend["2.1"], trend["3.1"], trend["3.3"], trend["5.1"]) == (
        "→",
        "↑",
        "→",
        None,
        "→",
    )


def test_no_direction_column_when_settings_say_so() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(stockton_bytes(show_direction=False)))
    assert [c.value for c in wb["Dashboard"][5]][:8] == [
        "Theme",
        "No",
        "Performance Measure",
        "Qu 1",
        "Qu 2",
        "Qu 3",
        "Qu 4",
        "Comments",
    ]


def test_icon_set_rule_on_quarter_cells(stockton_path: Path) -> None:
    root = sheet_xml(stockton_path, "xl/worksheets/sheet1.xml")
    rules = [
        (
            cf.get("sqref"),
            rule.get("type"),
            icon.get("iconSet"),
            icon.get("showValue"),
            [(v.get("type"), v.get("val")) for v in icon.findall("m:cfvo", NS)],
        )
        for cf in root.findall("m:conditionalFormatting", NS)
        for rule in cf.findall("m:cfRule", NS)
        for icon in rule.findall("m:iconSet", NS)
    ]
    cfvo = [("percent", "0"), ("num", "2"), ("num", "3")]
    assert rules == [
        ("D6:G24", "iconSet", "3Symbols", "0", cfvo),
        ("B26:B28", "iconSet", "3Symbols", "0", cfvo),
        ("H27", "iconSet", "3Symbols", "0", cfvo),
    ]


@pytest.mark.parametrize(
    ("style", "xml_name"), [("3_signs", "3Signs"), ("3_traffic_lights_rimmed", "3TrafficLights2")]
)
def test_icon_style_comes_from_settings(style: str, xml_name: str) -> None:
    root = sheet_xml(stockton_bytes(icon_style=style), "xl/worksheets/sheet1.xml")
    assert {i.get("iconSet") for i in root.iter(f"{{{NS['m']}}}iconSet")} == {xml_name}


def test_unknown_icon_style_is_refused() -> None:
    with pytest.raises(TemplateError, match="3_symbols_circled"):
        stockton_bytes(icon_style="5_ratings")


def test_notes_are_the_explanations_and_mark_overrides(book: Any) -> None:
    ws = book["Dashboard"]
    assert ws["D6"].comment.text == "Q1 YTD 90 vs profiled target 95: -> Amber"
    assert ws["D7"].comment.text == "Q1: no value given -> No data"
    assert ws["G6"].comment is None
    override = ws["E9"]  # 2.1 Q2, set by the lead
    assert "override" in override.comment.text
    assert override.border.left.style == "thick"
    assert ws["D9"].border.left.style == "thin"


def test_print_setup_and_panes(book: Any, stockton_path: Path) -> None:
    ws = book["Dashboard"]
    setup = (
        int(ws.page_setup.paperSize),
        ws.page_setup.orientation,
        ws.sheet_properties.pageSetUpPr.fitToPage,
        ws.page_setup.fitToHeight,
        ws.print_title_rows,
        ws.freeze_panes,
        ws.print_area,
    )
    assert setup == (9, "landscape", True, 0, "$5:$5", "A6", "'Dashboard'!$A$1:$J$30")
    assert ws.oddFooter.center.text == "Page &P of &N"
    assert ws.oddFooter.left.text == "Made 2012-02-01"
    root = sheet_xml(stockton_path, "xl/worksheets/sheet1.xml")
    page = root.find("m:pageSetup", NS)
    assert page is not None and page.get("fitToWidth", "1") == "1"  # 1 is the default
    options = root.find("m:printOptions", NS)
    assert options is not None and options.get("horizontalCentered") == "1"


def test_comments_row_heights_fit_wrapped_text(book: Any) -> None:
    ws = book["Dashboard"]
    heights = {ws.cell(r, 2).value: ws.row_dimensions[r].height for r in range(6, 25)}
    assert heights["4.1"] > heights["4.2"] >= 21
    assert ws["I6"].alignment.wrap_text


def test_legend_in_words(book: Any) -> None:
    ws = book["Dashboard"]
    assert ws["A26"].value == "Key"
    left = [(ws.cell(r, 2).value, ws.cell(r, 3).value.split(":")[0]) for r in range(26, 30)]
    assert left == [(3, "Green"), (2, "Amber"), (1, "Red"), ("-", "No data")]
    right = [(ws.cell(r, 8).value, ws.cell(r, 9).value.split(":")[0]) for r in range(26, 29)]
    assert right == [(None, "Blank"), (3, "Heavy box"), ("↑ → ↓", "Trend")]
    assert ws["H27"].border.left.style == "thick"


def test_summary_counts_and_chart(book: Any, stockton_path: Path) -> None:
    ws = book["Summary"]
    by_quarter = [[c.value for c in r][:6] for r in ws.iter_rows(min_row=4, max_row=8)]
    expected = [
        [quarter, *(sum(code[q : q + 1] == x for *_, code in STOCKTON) for x in "GARN")]
        for q, quarter in enumerate(QUARTERS)
    ]
    assert by_quarter == [
        ["Quarter", "Green", "Amber", "Red", "No data", "Not yet due"],
        *[[*row, 19 if row[0] == "Q4" else 0] for row in expected],
    ]
    themes = {
        ws.cell(r, 1).value: [ws.cell(r, c).value for c in range(2, 18)] for r in range(13, 20)
    }
    assert themes["ASB"][8:12] == [1, 0, 1, 1]  # Q3 G A R N
    assert themes["All themes"][:4] == expected[0][1:]
    with zipfile.ZipFile(stockton_path) as zf:
        chart = [n for n in zf.namelist() if n.startswith("xl/charts/chart")]
        assert chart == ["xl/charts/chart1.xml"]
        xml = zf.read(chart[0]).decode()
    assert "Summary!$B$5:$B$8" in xml and 'grouping val="stacked"' in xml


def test_data_sheet_table(book: Any) -> None:
    ws = book["Data"]
    table = ws.tables[D.DATA_TABLE]
    assert table.ref == "A1:W77"
    labels = [c.name for c in table.tableColumns]
    assert labels == list(C.DATA_LABELS.values())
    assert labels[:10] == [
        "Theme",
        "Measure ID",
        "Performance Measure",
        "Quarter",
        "Value",
        "Target",
        "Status",
        "Explanation",
        "Comment",
        "Source",
    ]
    first = [c.value for c in ws[2]]
    assert first[:7] == ["ASB", "1.1", STOCKTON[0][2], "Q1", 90, 95, "Amber"]
    assert first[9] == "ASB.xlsx!Return!F10"
    no_data = [c.value for c in ws[6]]  # 1.2 Q1
    assert (no_data[3], no_data[4], no_data[6]) == ("Q1", None, "No data")
    override = {(r[1].value, r[3].value): r[13].value for r in ws.iter_rows(min_row=2)}
    assert (override[("2.1", "Q2")], override[("2.1", "Q1")]) == ("Yes", "No")


def test_data_rows_follow_the_register_whatever_the_frame_order() -> None:
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS, OVERRIDES)
    rows: list[list[list[Any]]] = []
    for shown in (frame, frame.iloc[::-1].reset_index(drop=True)):
        data = D.build_dashboard(shown, register, stockton_report(), inputs=stockton_inputs())
        sheet = openpyxl.load_workbook(io.BytesIO(data))["Data"]
        rows.append([[c.value for c in row] for row in sheet.iter_rows(min_row=2)])
    assert rows[1] == rows[0]
    assert [(r[1], r[3]) for r in rows[0][:5]] == [
        ("1.1", "Q1"), ("1.1", "Q2"), ("1.1", "Q3"), ("1.1", "Q4"), ("1.2", "Q1")
    ]  # fmt: skip


def test_issues_sorted_worst_first_with_chase_list(book: Any) -> None:
    ws = book["Issues"]
    table = ws.tables[D.ISSUES_TABLE]
    assert [c.name for c in table.tableColumns][:7] == [
        "Severity",
        "File",
        "Sheet",
        "Cell",
        "Code",
        "Message",
        "Fix",
    ]
    rows = [(r[0].value, r[4].value) for r in ws.iter_rows(min_row=5, max_row=8)]
    assert rows == [
        ("error", "value-not-a-number"),
        ("warning", "no-return"),
        ("warning", "late-return"),
        ("info", "superseded-value"),
    ]
    chase = ws.tables[D.CHASE_TABLE]
    top = int(chase.ref.split(":")[0][1:])
    assert [c.value for c in ws[top + 1]][:5] == [
        "3.3",
        "Violence Lead",
        "violence@stockton.example",
        "Violence",
        STOCKTON[8][2],
    ]


def test_about_sheet(book: Any) -> None:
    ws = book["About"]
    facts = {r[0].value: r[1].value for r in ws.iter_rows(min_row=3, max_row=13)}
    assert facts["Tool version"] == __version__
    assert facts["Template fingerprint (SHA-256)"] == "f" * 64
    assert facts["Template"] == "dashboard_template.xlsx"
    table = ws.tables[D.INPUTS_TABLE]
    top = int(table.ref.split(":")[0][1:])
    rows = [tuple(c.value for c in r[:5]) for r in ws.iter_rows(min_row=top + 1, max_row=top + 6)]
    assert rows == [
        (f.file, f.sha256, f.theme, f.submitted, f.status.value) for f in stockton_inputs()
    ]
    assert rows[3][4] == "refused"


# --------------------------------------------------------------------------- hostile text

HOSTILE = (
    "=1+1",
    '=HYPERLINK("http://x","click")',
    "+1",
    "@x",
    "-x",
    "http://example.com/a",
    "12",
    "a\x00b\x07c",
    "<r><t>rich?</t></r>",
    "<r>x</r> & <b>",
)


def test_text_from_returns_stays_text_on_every_sheet(tmp_path: Path) -> None:
    register = stockton_register()
    register = Register(
        settings=register.settings,
        measures=tuple(
            Measure(
                theme="=1+1",
                measure_id=f"{i}",
                text=text,
                polarity=Polarity.REDUCE,
                basis=Basis.SNAPSHOT,
                lead="=A1",
            )
            for i, text in enumerate(HOSTILE, start=1)
        ),
    )
    letters = {m.measure_id: "G" for m in register.measures}
    comments = {m.measure_id: text for m, text in zip(register.measures, HOSTILE, strict=True)}
    frame = make_frame(register, letters, comments)
    issues = Report.of([Issue("x", Severity.ERROR, "=1+1", fix='=HYPERLINK("http://x")')])
    inputs = [D.InputFile("=1+1.xlsx", "0" * 64, theme="=1+1")]
    path = D.write_dashboard(frame, register, issues, tmp_path / "d.xlsx", inputs=inputs)
    wb = openpyxl.load_workbook(path)
    expected = [t.replace("\x00", "").replace("\x07", "") for t in HOSTILE]
    found: dict[str, set[str]] = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value in expected or cell.value == "=1+1":
                    assert cell.data_type == "s", (ws.title, cell.coordinate, cell.value)
                    found.setdefault(str(cell.value), set()).add(ws.title)
                assert cell.hyperlink is None
    assert found["=1+1"] == {"Dashboard", "Summary", "Data", "Issues", "About"}
    assert found['=HYPERLINK("http://x","click")'] == {"Dashboard", "Data"}
    assert "abc" in found
    assert found["<r><t>rich?</t></r>"] == found["<r>x</r> & <b>"] == {"Dashboard", "Data"}
    with zipfile.ZipFile(path) as zf:
        assert not any(
            "<f>" in zf.read(n).decode() for n in zf.namelist() if "worksheets/sheet" in n
        )


AWKWARD = [
    "  leading and trailing  ",
    "_x0041_ stays as typed",
    "a & b < c > d \"quoted\" 'single'",
    "two\nlines\tand a tab",
    "emoji 🚓 and ümlauts",
    "\u00a0no-break spaces\u00a0",
]


def test_data_text_reads_back_as_written(tmp_path: Path) -> None:
    # The Data rows hold their one-off text (comments, explanations) inline and their
    # repeated text (theme, measure, status...) as shared strings: each reader must still
    # get exactly the text (edge spaces, escapes, look-alike _xHHHH_ codes, new lines).
    register = stockton_register()
    comments = dict(zip((m.measure_id for m in register.measures), AWKWARD, strict=False))
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, comments)
    path = D.write_dashboard(frame, register, Report(()), tmp_path / "d.xlsx")
    expected = {D.clean_text(t) for t in AWKWARD}
    comment = list(C.DATA_LABELS).index(C.COMMENT)
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Data").to_python()
    assert expected <= {row[comment] for row in rows[1:]}
    # openpyxl undoes the _x005F_ escape (which keeps a typed "_x0041_" from reading as
    # "A" in Excel) in shared strings only, so there it alone reads the escape.
    sheet = openpyxl.load_workbook(path)["Data"]
    by_openpyxl = {row[comment] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert expected - {"_x0041_ stays as typed"} <= by_openpyxl
    assert "_x005F_x0041_ stays as typed" in by_openpyxl
    with zipfile.ZipFile(path) as zf:
        data = zf.read(f"xl/worksheets/sheet{D.SHEETS.index('Data') + 1}.xml").decode()
    body = data[data.index('<row r="2"') :]  # below the header row
    letter = xl_col_to_name(comment)
    comments_xml = re.findall(rf'<c r="{letter}\d+"[^>]*[^/]>', body)  # blanks left out
    assert comments_xml and all('t="inlineStr"' in c for c in comments_xml)
    themes_xml = re.findall(r'<c r="A\d+"[^>]*[^/]>', body)
    assert themes_xml and all('t="s"' in c for c in themes_xml)
    # and the shared strings count every use of them
    with zipfile.ZipFile(path) as zf:
        sst = zf.read("xl/sharedStrings.xml").decode()
        uses = sum(
            zf.read(n).decode().count('t="s"') for n in zf.namelist() if "worksheets/sheet" in n
        )
    assert f'count="{uses}"' in sst


def test_rows_made_in_a_copy_or_here_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    forked = stockton_bytes()
    parent = os.getpid()
    make = F.block_rows_xml

    def fails_in_the_copy(*args: Any) -> bytes:
        if os.getpid() != parent:
            raise RuntimeError("the copy fails")
        return make(*args)

    with monkeypatch.context() as patch:
        patch.setattr(D, "FORK_FROM_ROWS", 0)  # the Stockton block is below it
        patch.setattr(F, "block_rows_xml", fails_in_the_copy)
        after_failure = stockton_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(D, "FORK_FROM_ROWS", 0)
        patch.setattr(F.Forked, "start", classmethod(lambda cls, make: None))
        here = stockton_bytes()
    assert forked == after_failure == here
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every copy was waited for


def test_over_long_text_is_cut_with_a_marker() -> None:
    text = D.clean_text("x" * 40_000)
    assert len(text) == D.MAX_CELL_CHARS and text.endswith(D.TRUNCATION_MARKER)
    assert D.clean_text("a\r\nb\x0bc\ud800") == "a\nbc"
    assert D.clean_text(float("nan")) == ""


def test_printable_text_shortcut_keeps_every_character_that_needs_cleaning() -> None:
    # clean_text returns printable text as it is; every character it would strip or
    # change must therefore be non-printable. Checked over the whole of Unicode.
    for code in range(0x110000):
        char = chr(code)
        if B._CONTROL.search(char) or char == "\r":
            assert not char.isprintable(), hex(code)
    assert D.clean_text("plain – text") == "plain – text"
    assert D.clean_text("x\u2028y\u00a0z") == "x\u2028y\u00a0z"  # kept, though not printable


def test_empty_frame_and_report_still_write(tmp_path: Path) -> None:
    register = stockton_register()
    frame = pd.DataFrame(columns=[*C.MASTER, *C.RAG])
    path = D.write_dashboard(frame, register, Report(), tmp_path / "empty.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb["Issues"]["A2"].value == "No problems found."
    assert wb["Dashboard"]["D6"].value is None


# --------------------------------------------------------------------------- bytes and files


def test_identical_inputs_give_identical_bytes() -> None:
    assert stockton_bytes() == stockton_bytes()


def test_document_date_is_not_the_clock() -> None:
    core = sheet_xml(stockton_bytes(), "docProps/core.xml")
    created = core.find("{http://purl.org/dc/terms/}created")
    assert created is not None and created.text == "2012-02-01T00:00:00Z"


def _parts(data: bytes) -> dict[str, list[tuple[str, tuple[tuple[str, str], ...], str]] | bytes]:
    parts: dict[str, list[tuple[str, tuple[tuple[str, str], ...], str]] | bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in sorted(zf.namelist()):
            raw = zf.read(name)
            if name.endswith((".xml", ".rels", ".vml")):
                parts[name] = [
                    (e.tag, tuple(sorted(e.attrib.items())), (e.text or "").strip())
                    for e in ET.fromstring(raw).iter()
                ]
            else:
                parts[name] = raw
    return parts


def golden_differences(expected: bytes, actual: bytes) -> list[str]:
    """Every part added or missing and every element that differs, each where it is."""
    want, got = _parts(expected), _parts(actual)
    found = [f"{name}: missing" for name in sorted(set(want) - set(got))]
    found += [f"{name}: not expected" for name in sorted(set(got) - set(want))]
    for name in sorted(set(want) & set(got)):
        a, b = want[name], got[name]
        if a == b:
            continue
        if not (isinstance(a, list) and isinstance(b, list)):
            found.append(f"{name}: differs (binary part)")
            continue
        matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                continue
            for k in range(max(i2 - i1, j2 - j1)):
                was = a[i1 + k] if i1 + k < i2 else None
                now = b[j1 + k] if j1 + k < j2 else None
                found.append(f"{name} element {i1 + k}: expected {was}, got {now}")
    return found


def test_matches_golden_workbook_part_by_part(update_golden: bool) -> None:
    data = stockton_bytes()
    if update_golden:
        FIXTURES.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_bytes(data)
    assert golden_differences(GOLDEN.read_bytes(), data) == []


def test_golden_comparison_names_every_difference() -> None:
    # Two changes far apart in one part, and one in another: all three are named.
    data = GOLDEN.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    sheet = sheet.replace('ht="20.25"', 'ht="21"', 1)
    sheet = sheet.replace("<pageSetup ", '<pageSetup scale="90" ')
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    parts["docProps/core.xml"] = parts["docProps/core.xml"].replace(b"rag_workbook", b"other", 1)
    changed = io.BytesIO()
    with zipfile.ZipFile(changed, "w") as zf:
        for name, raw in parts.items():
            zf.writestr(name, raw)
    found = golden_differences(data, changed.getvalue())
    assert [line.split(" element")[0].split(":")[0] for line in found] == [
        "docProps/core.xml", "xl/worksheets/sheet1.xml", "xl/worksheets/sheet1.xml"
    ], found  # fmt: skip


def test_atomic_write_keeps_the_old_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "dashboard.xlsx"
    target.write_bytes(b"the last good dashboard")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OutputError, match="No space left"):
        D.write_atomic(stockton_bytes(), target)
    assert target.read_bytes() == b"the last good dashboard"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dashboard.xlsx"]


def test_atomic_write_fails_mid_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "dashboard.xlsx"
    target.write_bytes(b"old")

    def broken_fsync(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(KeyboardInterrupt):
        D.write_atomic(b"new", target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["dashboard.xlsx"]


def test_locked_output_says_close_it_in_excel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", locked)
    with pytest.raises(
        OutputLockedError, match=re.escape("close dashboard.xlsx in Excel and run again")
    ):
        D.write_atomic(b"x", tmp_path / "dashboard.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        D.write_atomic(b"x", tmp_path / "nope" / "dashboard.xlsx")


def test_input_file_from_return() -> None:
    from rag_workbook.model import ReturnData

    data = ReturnData(path="r/ASB.xlsx", file="ASB.xlsx", sha256="ab", theme="ASB", readable=False)
    assert D.InputFile.from_return(data) == D.InputFile(
        "ASB.xlsx", "ab", theme="ASB", status=D.InputStatus.REFUSED
    )


# --------------------------------------------------------------------------- real clients


def _pdfinfo(pdf: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


@pytest.mark.requires("soffice", "pdftoppm", "pdfinfo", "pdftotext")
def test_libreoffice_renders_one_page_wide(tmp_path: Path, update_golden: bool) -> None:
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS, OVERRIDES)
    pdf = D.write_dashboard_pdf(
        frame,
        register,
        stockton_report(),
        tmp_path / "dashboard.pdf",
        inputs=stockton_inputs(),
        options=OPTIONS,
    )
    info = _pdfinfo(pdf)
    assert info["Pages"] == "3"  # the Dashboard on one page, the Exceptions, the Summary
    width, height = (float(x) for x in info["Page size"].split()[0:3:2])
    assert (round(width), round(height)) == (842, 595)  # A4 landscape, in points
    text = subprocess.run(
        ["pdftotext", "-layout", "-f", "1", "-l", "1", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Page 1 of 3" in text
    # The rightmost column is on the page: the end of the last comment is there.
    assert "refuses treatment." in text and "Agenda Item No: 11" in text
    pngs = pdf_to_png(pdf, tmp_path / "page", dpi=110)
    assert len(pngs) == 3
    if update_golden:
        DOCS_PNG.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pngs[0], DOCS_PNG)


@pytest.mark.requires("soffice")
def test_convert_to_pdf_reports_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a zip")
    try:
        convert_to_pdf(bad, tmp_path / "bad.pdf", timeout=60)
    except RenderError as exc:
        assert "bad.xlsx" in str(exc)


def test_missing_libreoffice_is_a_clear_render_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag_workbook import render

    monkeypatch.setattr(render, "find_soffice", lambda: None)
    with pytest.raises(RenderError, match="LibreOffice is not installed"):
        convert_to_pdf(tmp_path / "x.xlsx", tmp_path / "x.pdf")


def test_gnumeric_reads_it_without_errors(
    stockton_path: Path, ssconvert: str, tmp_path: Path
) -> None:
    out = tmp_path / "dashboard.csv"
    done = subprocess.run(
        [ssconvert, "-S", str(stockton_path), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Gnumeric reads the cells and says which Excel features it does not draw; nothing else.
    unsupported = (
        "Unhandled object of type Note",
        "Ignoring unhandled conditional format of type 'iconSet'",
        "Unexpected element 'tableParts'",
    )
    noise = [
        ln
        for ln in done.stderr.splitlines()
        if ln.strip() and ln.strip() != "worksheet" and not any(u in ln for u in unsupported)
    ]
    assert noise == []
    dashboard = (tmp_path / "dashboard.csv.0").read_text()
    assert "Reduce repeat callers to the Police" in dashboard


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_any_comment_comes_back_as_the_same_text(comment: str) -> None:
    register = Register(
        settings=Settings(partnership="P"),
        measures=(Measure("T", "1.1", "M", Polarity.REDUCE, Basis.SNAPSHOT),),
    )
    frame = make_frame(register, {"1.1": "G"}, {"1.1": comment})
    wb = openpyxl.load_workbook(io.BytesIO(D.build_dashboard(frame, register, Report())))
    expected = D.clean_text(comment).strip()
    dashboard = wb["Dashboard"]["I6"]
    data = wb["Data"]["I2"]
    assert (dashboard.value or "", data.value or "") == (expected, D.clean_text(comment))
    assert dashboard.data_type in ("s", "n") and (
        dashboard.value is None or dashboard.data_type == "s"
    )
