"""Tests for forms.py: issued return workbooks, read back with openpyxl and with returns.py."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from rag_workbook import layout
from rag_workbook.forms import issue_returns, return_file_name, write_return
from rag_workbook.model import Register, RowNotes, Status
from rag_workbook.returns import read_previous_values, read_return

FIXTURES = Path(__file__).parent / "fixtures" / "returns"
_spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
assert _spec is not None and _spec.loader is not None
make_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fixtures)


@pytest.fixture()
def register() -> Register:
    reg: Register = make_fixtures.fixture_register()
    return reg


def test_write_return_layout(tmp_path: Path, register: Register) -> None:
    path = write_return(
        tmp_path / "asb.xlsx",
        register,
        "ASB",
        values={("1.1", "Q1"): 12.0, ("1.2", "Q1"): "n/a"},
        notes={"1.1": RowNotes("1.1", Status.GREEN, "because", "=1+1")},
        quarter="Q1",
        submitted="2011-07-15",
    )
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [layout.RETURN_SHEET, layout.INSTRUCTIONS_SHEET, layout.META_SHEET]
    ws = wb[layout.RETURN_SHEET]
    first = layout.HEADER_FIRST_ROW + 1
    header = [
        (ws.cell(first + i, 1).value, ws.cell(first + i, 2).value)
        for i in range(len(layout.HEADER_LABELS))
    ]
    assert [h[0] for h in header] == list(layout.HEADER_LABELS)
    assert [h[1] for h in header[6:]] == [None, None]  # Approved By / On: the lead's
    assert [h[1] for h in header[:5]] == ["Safer Stockton", "ASB", "Jane Smith", "2011/12", "Q1"]
    assert str(header[5][1])[:10] == "2011-07-15"
    hrow = layout.TABLE_HEADER_ROW + 1
    assert tuple(c.value for c in ws[hrow]) == layout.TABLE_COLUMNS
    rows = [tuple(c.value for c in ws[hrow + i]) for i in (1, 2, 3)]
    assert rows == [
        (
            "1.1",
            "Reduce ASB incidents",
            "count",
            8000,
            "Q1: 1,900\nQ2: 3,800\nQ3: 5,700\nQ4: 7,600",  # year to date, by quarter
            12,
            None,
            None,
            None,
            "Green",
            "because",
            "=1+1",
            None,
        ),
        (
            "1.2",
            "Satisfaction with ASB case handling",
            "%",
            80,
            85,
            "n/a",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ),
        (
            "1.3",
            "Repeat victims of ASB",
            "count",
            300,
            "Q1: 70\nQ2: 140\nQ3: 210\nQ4: 280",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    ]
    # text that looks like a formula stays text
    assert ws.cell(hrow + 1, 12).data_type == "s"
    locked = [ws.cell(hrow + 1, c).protection.locked for c in range(1, 14)]
    assert locked == [True] * 5 + [False] * 8
    assert ws.protection.sheet is True
    assert not ws.protection.password
    validations = sorted(
        (dv.type or "any", str(dv.sqref), dv.errorStyle or "stop")
        for dv in ws.data_validations.dataValidation
    )
    assert validations == [
        ("any", "B9", "stop"),  # Approved By: an input message only
        ("date", "B10", "warning"),  # Approved On
        ("date", "B8", "warning"),
        ("decimal", "F13:I15", "warning"),
        ("list", "B7", "stop"),
        ("list", "J13:J15", "stop"),
    ]
    setup = ws.page_setup
    assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == (
        "landscape",
        9,
        None,  # 1 is the default, so not written
        0,
    )
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert ws.print_title_rows == "$12:$12"
    meta = wb[layout.META_SHEET]
    assert meta.sheet_state == "hidden"
    assert [(r[0].value, r[1].value) for r in meta.iter_rows(max_col=2)] == [
        ("kind", layout.META_KIND),
        ("format_version", layout.FORMAT_VERSION),
        ("partnership", "Safer Stockton"),
        ("theme", "ASB"),
        ("lead", "Jane Smith"),
        ("year", "2011/12"),
        ("fingerprint", "f" * 64),
        ("measures", "1.1,1.2,1.3"),
    ]
    # the same, as custom document properties the reader finds without parsing a sheet
    assert {p.name: p.value for p in wb.custom_doc_props.props} == {
        layout.META_PROPERTY_PREFIX + str(key): value
        for key, value in (r[:2] for r in meta.iter_rows(max_col=2, values_only=True))
    }
    instructions = " ".join(str(c.value) for c in wb[layout.INSTRUCTIONS_SHEET]["A"] if c.value)
    assert "Deadline: 20 January 2012" in instructions
    assert "n/a" in instructions


def test_write_return_is_deterministic(tmp_path: Path, register: Register) -> None:
    a = write_return(tmp_path / "a.xlsx", register, "Alcohol")
    b = write_return(tmp_path / "b.xlsx", register, "Alcohol")
    assert a.read_bytes() == b.read_bytes()


def test_write_return_unknown_theme(tmp_path: Path, register: Register) -> None:
    with pytest.raises(ValueError, match="no measures"):
        write_return(tmp_path / "x.xlsx", register, "Drugs")


def _previous_dashboard(path: Path) -> Path:
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("Data")
    ws.write_row(0, 0, ["Theme", "Measure ID", "Performance Measure", "Quarter", "Value", "Status"])
    ws.write_row(1, 0, ["ASB", "1.1", "x", "Q1", 1950, "Green"])
    ws.write_row(2, 0, ["ASB", "1.2", "x", "Q1", "", "No data"])
    ws.write_row(3, 0, ["Alcohol", "2.1", "x", "Q2", 120.5, "Red"])
    wb.close()
    return path


def test_issue_returns_prefills_from_previous(tmp_path: Path, register: Register) -> None:
    previous = _previous_dashboard(tmp_path / "dashboard.xlsx")
    assert read_previous_values(previous) == {("1.1", "Q1"): 1950.0, ("2.1", "Q2"): 120.5}
    paths = issue_returns(register, tmp_path / "out", previous=previous)
    assert [p.name for p in paths] == ["ASB_Jane_Smith.xlsx", "Alcohol_Bob_Jones.xlsx"]
    assert [p.name for p in paths] == [return_file_name(register, t) for t in register.themes]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)
    got = [
        (v.measure_id, v.quarter, v.value) for p in paths for v in read_return(p, register).values
    ]
    # 1.2 Q1 was No data with no reason (a blank the lead must still fill): not pre-filled
    assert got == [("1.1", "Q1", 1950.0), ("2.1", "Q2", 120.5)]


def test_issued_filled_with_openpyxl_reads_back_exactly(tmp_path: Path, register: Register) -> None:
    paths = issue_returns(register, tmp_path)
    filled = {
        "ASB": {
            "F13": 1950,
            "G13": 3890.5,
            "H13": "n/a",
            "F14": "-",
            "G14": "82%",
            "J13": "Amber",
            "K13": "seasonal",
            "L13": "=1+1 is text",
            "L15": "Survey paused",
        },
        "Alcohol": {"F13": 120, "F14": "no data", "L14": "No purchases made"},
    }
    expected_values = []
    for path, theme in zip(paths, register.themes, strict=True):
        wb = openpyxl.load_workbook(path)
        ws = wb[layout.RETURN_SHEET]
        for ref, value in filled[theme].items():
            ws[ref] = value
            if ref.startswith("L"):
                ws[ref].data_type = "s"
        ws["B8"] = "14/10/2011"
        wb.save(path)
    got = []
    for path in paths:
        data = read_return(path, register)
        assert [(i.code, i.cell) for i in data.issues] == []
        assert (data.submitted, data.year, data.fingerprint[:4]) == (
            "2011-10-14",
            "2011/12",
            "ffff",
        )
        got += [(data.theme, v.measure_id, v.quarter, v.value, v.text, v.cell) for v in data.values]
        got += [
            (data.theme, n.measure_id, str(n.override), n.override_reason, n.comment)
            for n in data.notes
        ]
    expected_values = [
        ("ASB", "1.1", "Q1", 1950.0, "1950", "F13"),
        ("ASB", "1.1", "Q2", 3890.5, "3890.5", "G13"),
        ("ASB", "1.1", "Q3", None, "n/a", "H13"),
        ("ASB", "1.2", "Q1", None, "-", "F14"),
        ("ASB", "1.2", "Q2", 82.0, "82%", "G14"),
        ("ASB", "1.1", "Amber", "seasonal", "=1+1 is text"),
        ("ASB", "1.3", "None", "", "Survey paused"),
        ("Alcohol", "2.1", "Q1", 120.0, "120", "F13"),
        ("Alcohol", "2.2", "Q1", None, "no data", "F14"),
        ("Alcohol", "2.2", "None", "", "No purchases made"),
    ]
    assert got == expected_values


@pytest.mark.skipif(shutil.which("ssconvert") is None, reason="Gnumeric not installed")
def test_gnumeric_reads_issued_return(tmp_path: Path, register: Register) -> None:
    path = write_return(tmp_path / "asb.xlsx", register, "ASB", values={("1.1", "Q1"): 5.0})
    out = tmp_path / "asb.csv"
    subprocess.run(["ssconvert", str(path), str(out)], check=True, capture_output=True, timeout=120)
    lines = out.read_text().splitlines()
    assert lines[layout.TABLE_HEADER_ROW].split(",")[:6] == [
        "ID",
        '"Performance Measure"',
        "Unit",
        "Baseline",
        "Target",
        "Q1",
    ]
