"""Tests of the dashboard package and render.py: the committee workbook, read back and rendered.

The Stockton 2011/12 inputs are built here in code (register, frame, report); the
checked-in golden workbook tests/fixtures/dashboard/stockton_expected.xlsx is rebuilt by
`pytest tests/test_dashboard.py --update-golden` (the README's picture comes from the demo).
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import hashlib
import io
import os
import re
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
from rag_workbook.cells import can_fork
from rag_workbook.dashboard import build as B
from rag_workbook.dashboard.fast import forked as F
from rag_workbook.dashboard.fast import package as P
from rag_workbook.dashboard.fast import writer as FW
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
    assert book.sheetnames == [
        "Contents", "Dashboard", "Exceptions", "Summary", "Data", "Issues", "About",
    ]  # fmt: skip
    assert book.active.title == "Contents"
    assert {ws.sheet_state for ws in book.worksheets} == {"visible"}


def test_every_sheet_has_its_title_in_a1(book: Any) -> None:
    titles = {ws.title: ws["A1"].value for ws in book.worksheets}
    assert titles == {
        "Contents": "Contents",
        "Dashboard": "COMMUNITY SAFETY PLAN – PERFORMANCE DASHBOARD 2011/12",
        "Exceptions": "Exceptions: Qu 3",
        "Summary": "Summary of statuses",
        "Data": "Data: every measure and quarter",
        "Issues": "Problems found in the inputs",
        "About": "About this workbook",
    }
    assert all(book[name]["A1"].font.sz >= 16 for name in titles)


def test_contents_links_every_sheet_and_explains_the_marks(book: Any) -> None:
    ws = book["Contents"]
    table = ws.tables[D.build.SHEETS_TABLE]
    first, last = table.ref.split(":")
    rows = list(ws[f"A{int(first[1:]) + 1}:A{last[1:]}"])
    links = [(c[0].value, c[0].hyperlink.location) for c in rows]
    assert links == [(name, f"'{name}'!A1") for name in D.SHEETS]
    marks = [c.value for c in ws[ws.tables[D.build.MARKS_TABLE].ref.split(":")[0][:1]]]
    assert {"[x]", "[u]", "[z]", "Better", 3, 2, 1} <= set(marks)
    notes = " ".join(str(c.value) for c in ws["A"] if c.value)
    assert "Source:" in notes and "Contact:" in notes and "frozen panes" in notes


def test_tables_have_one_header_row_and_no_merged_cells(book: Any) -> None:
    names = {ws.title: sorted(ws.tables) for ws in book.worksheets}
    assert names == {
        "Contents": [D.build.MARKS_TABLE, D.build.SHEETS_TABLE],
        "Dashboard": [D.DASHBOARD_TABLE],
        "Exceptions": [D.EXCEPTIONS_TABLE],
        "Summary": [D.SUMMARY_TABLE, D.THEMES_TABLE],
        "Data": [D.DATA_TABLE],
        "Issues": [D.CHASE_TABLE, D.ISSUES_TABLE],
        "About": [D.INPUTS_TABLE],
    }
    for ws in book.worksheets:
        assert not ws.merged_cells.ranges, ws.title
        for table in ws.tables.values():
            assert table.headerRowCount in (None, 1), (ws.title, table.name)
            header = ws[table.ref.split(":")[0]].row
            first_col = ws[table.ref.split(":")[0]].column
            labels = [ws.cell(header, first_col + i).value for i in range(len(table.tableColumns))]
            assert labels == [c.name for c in table.tableColumns]


def test_text_is_at_least_12_points_and_no_cell_is_a_lone_symbol(book: Any) -> None:
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                assert cell.font.sz >= 12, (ws.title, cell.coordinate, cell.font.sz)
                if isinstance(cell.value, str):
                    assert re.search(r"\w", cell.value), (ws.title, cell.coordinate)


def test_document_title_subject_and_language(stockton_path: Path) -> None:
    root = sheet_xml(stockton_path, "docProps/core.xml")
    dc = "{http://purl.org/dc/elements/1.1/}"
    assert root.findtext(f"{dc}title") == "COMMUNITY SAFETY PLAN – PERFORMANCE DASHBOARD 2011/12"
    assert root.findtext(f"{dc}subject") == "Safer Stockton Partnership performance dashboard"
    assert root.findtext(f"{dc}language") == "en-GB"


def test_chart_has_alternative_text(stockton_path: Path) -> None:
    with zipfile.ZipFile(stockton_path) as zf:
        drawing = [n for n in zf.namelist() if n.startswith("xl/drawings/drawing")]
        xml = zf.read(drawing[0]).decode()
    assert re.search(r'descr="Stacked column chart of the number of measures', xml)


def test_dashboard_header_and_theme_on_each_row(book: Any) -> None:
    ws = book["Dashboard"]
    assert ws.tables[D.DASHBOARD_TABLE].ref == "A4:J23"
    header = [c.value for c in ws[4]][:9]
    assert header == [
        "Theme", "No", "Performance Measure", "Qu 1", "Qu 2", "Qu 3", "Qu 4", "Trend", "Comments",
    ]  # fmt: skip
    rows = [[c.value for c in r][:9] for r in ws.iter_rows(min_row=5, max_row=23)]
    assert [(r[0], r[1], r[2]) for r in rows] == [(t, mid, text) for t, mid, text, _ in STOCKTON]
    code = {3: "G", 2: "A", 1: "R", "[x]": "N", "[u]": "N", "[z]": "N"}
    assert ["".join(code[v] for v in r[3:6]) for r in rows] == [c for *_, c in STOCKTON]
    assert all(r[6] is None for r in rows)  # Q4 not yet due
    assert [r[8] or "" for r in rows] == [COMMENTS.get(mid, "") for _, mid, _, _ in STOCKTON]
    assert ws.freeze_panes is None and ws.auto_filter.ref is None


def test_quarter_cells_show_the_status_word(book: Any) -> None:
    ws = book["Dashboard"]
    numbers = [ws.cell(r, c) for r in range(5, 24) for c in range(4, 8)]
    assert {c.number_format for c in numbers if isinstance(c.value, int)} == {D.STATUS_FORMAT}
    assert all(ws.cell(r, c).alignment.horizontal == "center" for r in range(5, 24) for c in (4, 7))


def test_trend_in_words(book: Any) -> None:
    ws = book["Dashboard"]
    trend = {ws.cell(r, 2).value: ws.cell(r, 8).value for r in range(5, 24)}
    assert (trend["1.1"], trend["2.1"], trend["3.1"], trend["3.3"], trend["5.1"]) == (
        "Same", "Better", "Same", None, "Same",
    )  # fmt: skip


def test_no_direction_column_when_settings_say_so() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(stockton_bytes(show_direction=False)))
    assert [c.value for c in wb["Dashboard"][4]][:8] == [
        "Theme", "No", "Performance Measure", "Qu 1", "Qu 2", "Qu 3", "Qu 4", "Comments",
    ]  # fmt: skip


def test_icon_set_rule_on_quarter_cells(stockton_path: Path) -> None:
    root = sheet_xml(stockton_path, "xl/worksheets/sheet2.xml")
    rules = [
        (
            cf.get("sqref"),
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
        ("D5:G23", "3Signs", "0", cfvo),
        ("B25:B27", "3Signs", "0", cfvo),
        ("H28", "3Signs", "0", cfvo),
    ]


@pytest.mark.parametrize(
    ("style", "xml_name"),
    [("3_symbols_circled", "3Symbols"), ("3_traffic_lights_rimmed", "3TrafficLights2")],
)
def test_icon_style_comes_from_settings(style: str, xml_name: str) -> None:
    root = sheet_xml(stockton_bytes(icon_style=style), "xl/worksheets/sheet2.xml")
    assert {i.get("iconSet") for i in root.iter(f"{{{NS['m']}}}iconSet")} == {xml_name}


def test_unknown_icon_style_is_refused() -> None:
    with pytest.raises(TemplateError, match="3_signs"):
        stockton_bytes(icon_style="5_ratings")


def test_notes_are_the_explanations_and_mark_overrides(book: Any) -> None:
    ws = book["Dashboard"]
    assert ws["D5"].comment.text == "Q1 YTD 90 vs profiled target 95: -> Amber"
    assert ws["D6"].comment.text.startswith("[z] not available")
    assert ws["G5"].comment is None
    override = ws["E8"]  # 2.1 Q2, set by the lead
    assert "override" in override.comment.text
    assert override.border.left.style == "thick"
    assert ws["D8"].border.left.style == "thin"


def test_three_kinds_of_missing_are_told_apart() -> None:
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS, OVERRIDES)
    rows = frame.index[(frame[C.STATUS] == "No data") & (frame[C.MEASURE_ID] == "1.2")]
    frame.loc[rows[0], C.REASON] = "n/a: survey not run"
    frame.loc[rows[1:3], C.REASON] = ""
    frame.loc[rows[1], C.RAW] = "about 700"
    frame.loc[rows[2], C.RAW] = ""
    data = D.build_dashboard(frame, register, Report(), options=OPTIONS)
    ws = openpyxl.load_workbook(io.BytesIO(data))["Dashboard"]
    assert [ws.cell(6, c).value for c in (4, 5, 6)] == ["[z]", "[u]", "[x]"]
    assert [ws.cell(6, c).comment.text[:3] for c in (4, 5, 6)] == ["[z]", "[u]", "[x]"]


def test_an_unusable_entry_says_where_it_is_on_every_sheet() -> None:
    # As the merge gives it: no value, no reason, no source; the Report names the cell.
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS, OVERRIDES)
    row = frame.index[(frame[C.MEASURE_ID] == "4.1") & (frame[C.QUARTER] == "Q3")][0]
    frame.loc[row, [C.REASON, C.RAW, C.SOURCE]] = ""
    wb = openpyxl.load_workbook(io.BytesIO(D.build_dashboard(frame, register, stockton_report())))
    dashboard = wb["Dashboard"]
    at = next(r for r in range(5, 24) if dashboard.cell(r, 2).value == "4.1")
    assert dashboard.cell(at, 6).value == "[u]"
    assert "Drugs.xlsx!Return!H11 holds 'twelve'" in dashboard.cell(at, 6).comment.text
    data = {(r[1], r[3]): r for r in wb["Data"].iter_rows(min_row=5, values_only=True)}
    assert data["4.1", "Q3"][9] == "Drugs.xlsx!Return!H11"
    listed = {r[1]: r[3] for r in wb["Exceptions"].iter_rows(min_row=5, values_only=True)}
    assert listed["4.1"] == "No data: could not be used [u]"


def test_print_setup(book: Any, stockton_path: Path) -> None:
    ws = book["Dashboard"]
    setup = (
        int(ws.page_setup.paperSize),
        ws.page_setup.orientation,
        ws.sheet_properties.pageSetUpPr.fitToPage,
        ws.page_setup.fitToHeight,
        ws.print_title_rows,
        ws.print_area,
    )
    # A partnership's dashboard (19 measures) on one page with its key
    assert setup == (9, "landscape", True, None, "$4:$4", "'Dashboard'!$A$1:$J$30")  # None: 1
    for name in D.PRINTED_SHEETS:
        footer = book[name].oddFooter
        assert footer.center.text == "Page &P of &N"
        assert footer.left.text == "Safer Stockton Partnership Board 14 February 2012"
        assert footer.right.text.endswith("2011/12")
    root = sheet_xml(stockton_path, "xl/worksheets/sheet2.xml")
    options = root.find("m:printOptions", NS)
    assert options is not None and options.get("horizontalCentered") == "1"


def test_comments_row_heights_fit_wrapped_text(book: Any) -> None:
    ws = book["Dashboard"]
    heights = {ws.cell(r, 2).value: ws.row_dimensions[r].height for r in range(5, 24)}
    assert heights["4.1"] > heights["4.2"] >= 21
    assert ws["I5"].alignment.wrap_text


def test_key_in_words(book: Any) -> None:
    ws = book["Dashboard"]
    assert ws["A25"].value == "Key"
    left = [(ws.cell(r, 2).value, ws.cell(r, 3).value.split(":")[0]) for r in range(25, 29)]
    assert left == [(3, "Green (circle)"), (2, "Amber (triangle)"), (1, "Red (diamond)"),
                    (None, "Blank")]  # fmt: skip
    right = [(ws.cell(r, 8).value, ws.cell(r, 9).value.split(":")[0]) for r in range(25, 30)]
    assert right == [("[x]", "No data"), ("[u]", "No data"), ("[z]", "No data"),
                     (3, "Heavy box"), ("Better", "Trend")]  # fmt: skip
    assert ws["H28"].border.left.style == "thick"
    assert "Exceptions sheet" in ws["A30"].value


def test_exceptions_list_the_reporting_quarters_red_amber_and_no_data(book: Any) -> None:
    ws = book["Exceptions"]
    table = ws.tables[D.EXCEPTIONS_TABLE]
    assert [c.name for c in table.tableColumns] == list(D.build.EXCEPTION_HEADERS)
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=5, max_row=ws.max_row)]
    expected = [
        (mid, {"R": "Red", "A": "Amber", "N": "No data"}[code[2]])
        for *_, mid, _, code in STOCKTON
        if code[2] in "RAN"
    ]
    # "Listed for" begins with the quarter's status; issue 18's reasons follow it
    assert [(r[1], r[4].split("; ")[0]) for r in rows] == expected
    assert all(r[5] for r in rows)  # every one explained
    assert rows[0][8] == "ASB Lead" and rows[0][7] == "(no action given)"


def test_forecast_red_alone_lists_a_green_measure_and_shows_year_end_in_words(
    tmp_path: Path,
) -> None:
    # Issue 18 on issue 17's sheets: 4.2 is Green in Q3 but forecast Red at year end.
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS)
    q3 = (frame[C.MEASURE_ID] == "4.2") & (frame[C.QUARTER] == "Q3")
    frame[C.FORECAST_STATUS] = ""
    frame[C.FORECAST_EXPLANATION] = ""
    frame[C.ACTION] = ""
    frame.loc[q3, C.FORECAST_STATUS] = "Red"
    frame.loc[q3, C.FORECAST_EXPLANATION] = "forecast: the latest value held to year end -> Red"
    frame.loc[q3, C.ACTION] = "Review with the courts"
    out = D.write_dashboard(frame, register, Report(), tmp_path / "d.xlsx", options=OPTIONS)
    wb = openpyxl.load_workbook(out)
    rows = [[c.value for c in r] for r in wb["Exceptions"].iter_rows(min_row=5)]
    listed = {r[1]: r for r in rows}
    assert listed["4.2"][3:5] == ["Green", "Forecast Red at year end"]
    assert listed["4.2"][7] == "Review with the courts"
    assert "held to year end -> Red" in listed["4.2"][5]
    ws = wb["Dashboard"]
    header = [c.value for c in ws[4]]
    col = header.index("Year end") + 1
    row = next(r for r in range(5, 24) if ws.cell(r, 2).value == "4.2")
    cell = ws.cell(row, col)
    # the icon's word behind it, as in the quarter cells; 12 pt or more; the icon set on it
    assert (cell.value, cell.number_format) == (1, D.STATUS_FORMAT)
    assert cell.font.size >= 12
    assert "held to year end" in cell.comment.text
    # one icon set over Q1..Q4 and Year end (D..H), rows 5-23
    assert f"D5:{xl_col_to_name(col - 1)}23" in {str(cf.sqref) for cf in ws.conditional_formatting}
    assert not ws.merged_cells.ranges


def test_summary_counts_and_chart(book: Any, stockton_path: Path) -> None:
    ws = book["Summary"]
    top = int(ws.tables[D.SUMMARY_TABLE].ref.split(":")[0][1:])
    by_quarter = [[c.value for c in r][:6] for r in ws.iter_rows(min_row=top, max_row=top + 4)]
    expected = [
        [label, *(sum(code[q : q + 1] == x for *_, code in STOCKTON) for x in "GARN")]
        for q, label in enumerate(("Qu 1", "Qu 2", "Qu 3", "Qu 4"))
    ]
    assert by_quarter == [
        ["Quarter", "Green", "Amber", "Red", "No data", "Not yet due"],
        *[[*row, 19 if row[0] == "Qu 4" else 0] for row in expected],
    ]
    first = int(ws.tables[D.THEMES_TABLE].ref.split(":")[0][1:]) + 1
    themes = {
        (ws.cell(r, 1).value, ws.cell(r, 2).value): [ws.cell(r, c).value for c in range(3, 8)]
        for r in range(first, first + 24)
    }
    assert themes["ASB", "Qu 3"] == [1, 0, 1, 1, 0]
    with zipfile.ZipFile(stockton_path) as zf:
        chart = [n for n in zf.namelist() if n.startswith("xl/charts/chart")]
        assert chart == ["xl/charts/chart1.xml"]
        xml = zf.read(chart[0]).decode()
    assert f"Summary!$B${top + 1}:$B${top + 4}" in xml and 'grouping val="stacked"' in xml
    assert "pattFill" in xml  # Amber and No data patterned: apart in greyscale


def test_data_sheet_table(book: Any) -> None:
    ws = book["Data"]
    table = ws.tables[D.DATA_TABLE]
    assert table.ref == "A4:W80"
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
    first = [c.value for c in ws[5]]
    assert first[:7] == ["ASB", "1.1", STOCKTON[0][2], "Q1", 90, 95, "Amber"]
    assert first[9] == "ASB.xlsx!Return!F10"
    no_data = [c.value for c in ws[9]]  # 1.2 Q1
    assert (no_data[3], no_data[4], no_data[6]) == ("Q1", None, "No data")
    override = {(r[1].value, r[3].value): r[13].value for r in ws.iter_rows(min_row=5)}
    assert (override[("2.1", "Q2")], override[("2.1", "Q1")]) == ("Yes", "No")


def test_data_rows_follow_the_register_whatever_the_frame_order() -> None:
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS, OVERRIDES)
    rows: list[list[list[Any]]] = []
    for shown in (frame, frame.iloc[::-1].reset_index(drop=True)):
        data = D.build_dashboard(shown, register, stockton_report(), inputs=stockton_inputs())
        sheet = openpyxl.load_workbook(io.BytesIO(data))["Data"]
        rows.append([[c.value for c in row] for row in sheet.iter_rows(min_row=5)])
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
    rows = [(r[0].value, r[4].value) for r in ws.iter_rows(min_row=6, max_row=9)]
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
                assert cell.hyperlink is None or ws.title == "Contents"
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
    assert expected <= {row[comment] for row in rows[4:]}
    # openpyxl undoes the _x005F_ escape (which keeps a typed "_x0041_" from reading as
    # "A" in Excel) in shared strings only, so there it alone reads the escape.
    sheet = openpyxl.load_workbook(path)["Data"]
    by_openpyxl = {row[comment] for row in sheet.iter_rows(min_row=5, values_only=True)}
    assert expected - {"_x0041_ stays as typed"} <= by_openpyxl
    assert "_x005F_x0041_ stays as typed" in by_openpyxl
    with zipfile.ZipFile(path) as zf:
        data = zf.read("xl/worksheets/sheet5.xml").decode()
    body = data[data.index('<row r="5"') :]  # below the header row
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


def test_data_rows_begun_before_the_book_is_built_give_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not can_fork():
        pytest.skip("this process may not fork")
    here = stockton_bytes()  # 76 Data rows, below FORK_FROM_ROWS: made here
    fits = FW.EarlyRows.fits
    seen: list[bool] = []

    def recorded(self: FW.EarlyRows, job: F.BlockJob) -> bool:
        seen.append(fits(self, job))
        return seen[-1]

    with monkeypatch.context() as patch:
        patch.setattr(D, "FORK_FROM_ROWS", 0)
        patch.setattr(FW.EarlyRows, "fits", recorded)
        early = stockton_bytes()
        assert seen.count(True) == 1  # the Data block's, begun early, taken
        seen.clear()
        patch.setattr(FW.EarlyRows, "fits", lambda self, job: seen.append(False) or False)
        not_taken = stockton_bytes()
        assert seen and not any(seen)
    assert early == not_taken == here
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every copy was waited for or ended


def test_notes_parts_made_in_a_copy_or_here_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    if not can_fork():
        pytest.skip("this process may not fork")
    here = stockton_bytes()  # below FORK_FROM_ROWS: every part made here
    parent = os.getpid()
    make = P.Packager._make_elsewhere
    unpacked = F._unpacked_parts
    taken: list[str] = []

    def fails_in_the_copy(self: P.Packager) -> list[tuple[str, P.Segment]]:
        if os.getpid() != parent:
            raise RuntimeError("the copy fails")
        return make(self)

    def recorded(data: bytes) -> dict[str, P.Segment]:
        parts = unpacked(data)
        taken.extend(parts)
        return parts

    with monkeypatch.context() as patch:
        patch.setattr(D, "FORK_FROM_ROWS", 0)
        patch.setattr(F, "_unpacked_parts", recorded)
        forked = stockton_bytes()
        assert any(n.startswith("xl/comments") for n in taken)
        assert any(n.startswith("xl/drawings/vmlDrawing") for n in taken)
        patch.setattr(P.Packager, "_make_elsewhere", fails_in_the_copy)
        after_failure = stockton_bytes()
        patch.setattr(F.Forked, "start", classmethod(lambda cls, make: None))
        not_started = stockton_bytes()
    assert forked == after_failure == not_started == here
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every copy was waited for or ended


def test_rows_begun_early_fit_only_the_job_they_were_begun_for() -> None:
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS, OVERRIDES)
    draft = B.start_book(frame, register, stockton_report(), stockton_inputs(), OPTIONS)
    early = FW.EarlyRows.begin(draft.data_block, draft.styles)
    try:
        job = early.job
        assert early.fits(job)
        assert not early.fits(dataclasses.replace(job, xfs=tuple(x + 1 for x in job.xfs)))
        first = next(i for i, s in enumerate(job.shared) if s)
        other = {text: at + 1 for text, at in (job.shared[first] or {}).items()}
        shared = (*job.shared[:first], other, *job.shared[first + 1 :])
        assert not early.fits(dataclasses.replace(job, shared=shared))
        copy = dataclasses.replace(job.block)
        assert not early.fits(dataclasses.replace(job, block=copy))
        assert early.rows.segment(0) == F.LaterRows([job], fork=False).segment(0)
    finally:
        early.close()


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
    assert wb["Issues"]["A2"].value.startswith("No problems found.")
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
    sheet = parts["xl/worksheets/sheet2.xml"].decode()
    sheet = sheet.replace('ht="24"', 'ht="21"', 1)
    sheet = sheet.replace("<pageSetup ", '<pageSetup scale="90" ')
    parts["xl/worksheets/sheet2.xml"] = sheet.encode()
    parts["docProps/core.xml"] = parts["docProps/core.xml"].replace(b"rag_workbook", b"other", 1)
    changed = io.BytesIO()
    with zipfile.ZipFile(changed, "w") as zf:
        for name, raw in parts.items():
            zf.writestr(name, raw)
    found = golden_differences(data, changed.getvalue())
    assert [line.split(" element")[0].split(":")[0] for line in found] == [
        "docProps/core.xml", "xl/worksheets/sheet2.xml", "xl/worksheets/sheet2.xml"
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
def test_libreoffice_renders_one_page_wide(tmp_path: Path) -> None:
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
    assert (info["Pages"], info["Tagged"]) == ("3", "yes")  # Dashboard, Exceptions, Summary
    width, height = (float(x) for x in info["Page size"].split()[0:3:2])
    assert (round(width), round(height)) == (842, 595)  # A4 landscape, in points
    pages = [
        subprocess.run(
            ["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(pdf), "-"],
            capture_output=True, text=True, check=True,
        ).stdout
        for n in (1, 2, 3)
    ]  # fmt: skip
    # The rightmost column and the key are on the first page.
    first = " ".join(pages[0].split())
    assert "1 non-drug user" in first and "Heavy box" in first
    assert "Exceptions: Qu 3" in pages[1] and "Summary of statuses" in pages[2]
    for n, text in enumerate(pages, start=1):  # each footer: meeting, year and page
        assert f"Page {n} of 3" in text
        assert "Safer Stockton Partnership Board 14 February 2012" in text and "2011/12" in text
    pngs = pdf_to_png(pdf, tmp_path / "page", dpi=110)
    assert len(pngs) == 3


@pytest.mark.requires("soffice")
def test_convert_to_pdf_reports_a_broken_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RenderError, match=r"could not convert bad\.xlsx to PDF") as raised:
        convert_to_pdf(bad, tmp_path / "bad.pdf", timeout=60)
    assert "Excel" in raised.value.fix and "install" not in raised.value.fix
    assert not (tmp_path / "bad.pdf").exists()


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
    dashboard = (tmp_path / "dashboard.csv.1").read_text()
    assert "Reduce repeat callers to the Police" in dashboard


@pytest.mark.requires("ssconvert")
def test_gnumeric_csv_of_the_dashboard_gives_the_status_words(
    stockton_path: Path, ssconvert: str, tmp_path: Path
) -> None:
    # CSV as displayed (Gnumeric's "preserve" format, as Excel and LibreOffice save CSV):
    # the quarter cells give their words, not the codes behind the icons.
    out = tmp_path / "dashboard.csv"
    subprocess.run(
        [ssconvert, "--export-type=Gnumeric_stf:stf_assistant",
         "-O", "sheet=Dashboard format=preserve", str(stockton_path), str(out)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    rows = list(csv.reader(io.StringIO(out.read_text())))
    top = next(i for i, row in enumerate(rows) if row[:1] == ["Theme"])
    quarters = {tuple(row[3:7]) for row in rows[top + 1 : top + 20]}
    words = {w for q in quarters for w in q}
    assert words == {"Green", "Amber", "Red", "[z]", ""}
    word = {"G": "Green", "A": "Amber", "R": "Red", "N": "[z]"}
    assert [tuple(row[3:6]) for row in rows[top + 1 : top + 20]] == [
        tuple(word[c] for c in code) for *_, code in STOCKTON
    ]


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
    dashboard = wb["Dashboard"]["I5"]
    data = wb["Data"]["I5"]
    assert (dashboard.value or "", data.value or "") == (expected, D.clean_text(comment))
    assert dashboard.data_type in ("s", "n") and (
        dashboard.value is None or dashboard.data_type == "s"
    )


# --------------------------------------------------------------------------- greyscale marks


def _pgm(path: Path) -> Any:
    """A binary greyscale PGM (pdftoppm -gray) as a numpy array of rows."""
    import numpy as np

    head = path.read_bytes().split(maxsplit=4)
    width, height = int(head[1]), int(head[2])
    return np.frombuffer(head[4][: width * height], dtype=np.uint8).reshape(height, width)


def _words(pdf: Path) -> list[tuple[str, float, float, float, float]]:
    """Page 1's words with their boxes in points (pdftotext -bbox)."""
    out = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    root = ET.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", out))
    return [
        (w.text or "", *(float(w.get(k, 0)) for k in ("xMin", "yMin", "xMax", "yMax")))
        for w in root.iter("{http://www.w3.org/1999/xhtml}word")
    ]


def rendered_marks(pdf: Path, ids: set[str], tmp_path: Path, dpi: int = 80) -> dict[Any, Any]:
    """Each (measure, quarter) cell's mark in the greyscale render of page 1: its mean grey,
    the share of its box it fills and where (0 top, 1 bottom) it is widest."""
    import numpy as np

    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-gray", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "g")],
        check=True,
    )
    image = _pgm(next(tmp_path.glob("g-*.pgm")))
    words = _words(pdf)
    k = dpi / 72
    heads = sorted((w for w in words if w[0] == "Qu"), key=lambda w: w[1])[:4]
    step = heads[1][1] - heads[0][1]
    found: dict[Any, Any] = {}
    for word in (w for w in words if w[0] in ids):
        middle = (word[2] + word[4]) / 2
        for q in range(3):
            left = heads[q][1] - step * 0.15
            strip = image[
                int((middle - 40) * k) : int((middle + 40) * k),
                int(left * k) : int((left + step) * k),
            ]
            dark = strip < 200  # the cell's grid lines: rows and columns mostly dark
            lines_r = np.flatnonzero(dark.mean(axis=1) > 0.6)
            lines_c = np.flatnonzero(dark.mean(axis=0) > 0.6)
            h, w = strip.shape
            top = max((r for r in lines_r if r < h // 2), default=0) + 2
            bottom = min((r for r in lines_r if r > h // 2), default=h) - 1
            first = max((c for c in lines_c if c < w // 2), default=0) + 2
            last = min((c for c in lines_c if c > w // 2), default=w) - 1
            cell = strip[top:bottom, first:last]
            mask = cell < 230  # the mark (the band's fill is 242)
            ys, xs = np.nonzero(mask)
            box = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
            widest = float(np.argmax(box.sum(axis=1)) / max(1, box.shape[0] - 1))
            found[word[0], q] = (float(cell[mask].mean()), float(box.mean()), widest)
    return found


@pytest.mark.requires("soffice", "pdftoppm", "pdftotext")
def test_four_states_differ_in_grey_and_shape_at_80_dpi(tmp_path: Path) -> None:
    register = stockton_register()
    frame = make_frame(register, {mid: code for *_, mid, _, code in STOCKTON}, COMMENTS)
    pdf = D.write_dashboard_pdf(frame, register, Report(), tmp_path / "d.pdf", options=OPTIONS)
    codes = {mid: code for *_, mid, _, code in STOCKTON}
    marks = rendered_marks(pdf, set(codes), tmp_path)
    by_state: dict[str, list[tuple[float, float, float]]] = {}
    for (mid, q), mark in marks.items():
        by_state.setdefault(codes[mid][q], []).append(mark)
    assert sorted(by_state) == ["A", "G", "N", "R"]
    mean = {
        s: tuple(round(sum(m[i] for m in ms) / len(ms), 2) for i in range(3))
        for s, ms in by_state.items()
    }
    for state, ms in by_state.items():  # one look per state, wherever it is
        assert all(abs(m[0] - mean[state][0]) < 12 for m in ms), (state, ms)
    states = sorted(mean)
    for i, a in enumerate(states):
        for b in states[i + 1 :]:
            grey = abs(mean[a][0] - mean[b][0])
            shape = max(abs(mean[a][1] - mean[b][1]), abs(mean[a][2] - mean[b][2]))
            # No data is black text ([x], [u], [z]), whose measured shape is noise at
            # 80 dpi: told from an icon by being far darker than any icon.
            text = "N" in (a, b) and grey >= 30
            assert grey >= 8 and (shape >= 0.1 or text), (a, b, mean[a], mean[b])
