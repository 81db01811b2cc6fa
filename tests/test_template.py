"""Tests for template.py: the analyst's template -> Register, and write_template."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter

from rag_workbook import layout, template
from rag_workbook.errors import TemplateError
from rag_workbook.forms import write_template
from rag_workbook.model import (
    Basis,
    Measure,
    Polarity,
    Register,
    Settings,
    TargetForm,
    ToleranceForm,
)
from rag_workbook.template import read_template, register_fingerprint

SETTINGS = Settings(
    partnership="Safer Stockton Partnership",
    title="Community Safety Plan - Performance Dashboard",
    year="2011/12",
    meeting="Safer Stockton Partnership",
    meeting_date="14 February 2012",
    agenda_item="11",
    current_quarter="Q3",
    show_direction=False,
    extra={"Footer": "OFFICIAL"},
)
MEASURES = (
    Measure(
        theme="ASB",
        measure_id="1.1",
        text="Reduce repeat callers to the Police, MAASBT and RSLs",
        polarity=Polarity.REDUCE,
        basis=Basis.CUMULATIVE,
        lead="Jane Smith",
        lead_email="jane@example.org",
        baseline=520.0,
        target=-5.0,
        target_form=TargetForm.PERCENT_CHANGE,
        tolerance=5.0,
        tolerance_form=ToleranceForm.PERCENT,
    ),
    Measure(
        theme="Alcohol",
        measure_id="2.2",
        text="Reduce the number of alcohol related crimes for those on an ATR",
        polarity=Polarity.REDUCE,
        basis=Basis.CUMULATIVE,
        target=-5.0,
        target_form=TargetForm.PERCENT_CHANGE,
        tolerance=5.0,
        profile=(0.2, 0.45, 0.7, 1.0),
        notes="baseline to be collected this year",
    ),
    Measure(
        theme="Violence",
        measure_id="3.1",
        text="Maintain a reduction in Most Serious Violent Crime",
        polarity=Polarity.REDUCE,
        basis=Basis.CUMULATIVE,
        baseline=68.0,
        target=61.5,
        tolerance=5.0,
    ),
    Measure(
        theme="Drugs",
        measure_id="4.2",
        text="Reduce drug related repeat offending",
        polarity=Polarity.REDUCE,
        basis=Basis.SNAPSHOT,
        unit="%",
        baseline=40.0,
        target=38.0,
        tolerance=5.0,
        data_source="Probation",
    ),
    Measure(
        theme="Emerging Issue",
        measure_id="6.2",
        text="Increase the number of HCCs accessing treatment services",
        polarity=Polarity.INCREASE,
        basis=Basis.SNAPSHOT,
        target=29.0,
        tolerance=3.0,
        tolerance_form=ToleranceForm.ABSOLUTE,
    ),
    Measure(
        theme="Emerging Issue",
        measure_id="6.3",
        text="Maintain satisfaction",
        polarity=Polarity.MAINTAIN,
        basis=Basis.SNAPSHOT,
        baseline=80.0,
        tolerance=2.5,
        tolerance_form=ToleranceForm.ABSOLUTE,
    ),
)
REGISTER = Register(settings=SETTINGS, measures=MEASURES)


def _strip(register: Register) -> Register:
    """The register without what read_template computes (path, rows, fingerprint, columns)."""
    return dataclasses.replace(
        register,
        path="",
        fingerprint="",
        columns={},
        measures=tuple(dataclasses.replace(m, row=0) for m in register.measures),
    )


@dataclasses.dataclass(frozen=True)
class _Error:
    """A Measures cell holding a formula that Excel saved with an error value."""

    formula: str
    shown: str


def _write_raw(
    path: Path,
    settings: list[tuple[Any, ...]] | None,
    measures: list[tuple[Any, ...]] | None,
    formats: dict[tuple[int, int], str] | None = None,
) -> Path:
    """A template written cell by cell; `formats` maps (row, col) of Measures to num_format."""
    wb = xlsxwriter.Workbook(str(path))
    if settings is not None:
        ws = wb.add_worksheet("Settings")
        for r, row in enumerate(settings):
            for c, value in enumerate(row):
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, value, wb.add_format({"num_format": "d mmmm yyyy"}))
                elif value is not None:
                    ws.write(r, c, value)
    if measures is not None:
        wm = wb.add_worksheet("Measures")
        for r, row in enumerate(measures):
            for c, value in enumerate(row):
                fmt = (formats or {}).get((r, c))
                if value is None:
                    continue
                if isinstance(value, _Error):  # a formula whose cached value is an error
                    wm.write_formula(r, c, value.formula, None, value.shown)
                elif fmt:
                    wm.write(r, c, value, wb.add_format({"num_format": fmt}))
                else:
                    wm.write(r, c, value)
    wb.close()
    return path


HEADER = (
    "Theme",
    "ID",
    "Performance Measure",
    "Polarity",
    "Basis",
    "Baseline",
    "Target",
    "Target Type",
    "Tolerance",
    "Tolerance Type",
    "Profile",
)
GOOD_SETTINGS: list[tuple[Any, ...]] = [("Key", "Value"), ("Partnership", "P")]


def _row(**kw: Any) -> tuple[Any, ...]:
    base: dict[str, Any] = {
        "Theme": "ASB",
        "ID": "1.1",
        "Performance Measure": "Reduce ASB",
        "Polarity": "Reduce",
        "Basis": "Cumulative",
        "Baseline": 100,
        "Target": 90,
        "Target Type": "Absolute",
        "Tolerance": 5,
        "Tolerance Type": "%",
        "Profile": None,
    }
    base.update({k.replace("_", " "): v for k, v in kw.items()})
    return tuple(base[h] for h in HEADER)


def _refusal(tmp_path: Path, rows: list[tuple[Any, ...]], **kw: Any) -> list[str]:
    path = _write_raw(tmp_path / "t.xlsx", kw.get("settings", GOOD_SETTINGS), [HEADER, *rows])
    with pytest.raises(TemplateError) as info:
        read_template(path)
    return [line.strip() for line in str(info.value).splitlines()[1:]]


def test_round_trip_gives_an_equal_register(tmp_path: Path) -> None:
    path = write_template(REGISTER, tmp_path / "template.xlsx")
    register = read_template(path)
    assert _strip(register) == REGISTER
    assert [m.row for m in register.measures] == [2, 3, 4, 5, 6, 7]
    assert register.path == str(path)
    assert register.fingerprint == register_fingerprint(SETTINGS, MEASURES)


def test_same_register_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_template(REGISTER, tmp_path / "a.xlsx").read_bytes()
    second = write_template(REGISTER, tmp_path / "b.xlsx").read_bytes()
    assert first == second


def test_fingerprint_survives_resaving_but_not_a_changed_target(tmp_path: Path) -> None:
    first = read_template(write_template(REGISTER, tmp_path / "a.xlsx"))
    wb = openpyxl.load_workbook(tmp_path / "a.xlsx")
    wb["Measures"]["P2"] = "a note"  # the Notes cell: not part of the definition
    wb.save(tmp_path / "b.xlsx")
    wb["Measures"]["J2"] = -10
    wb.save(tmp_path / "c.xlsx")
    second = read_template(tmp_path / "b.xlsx")
    third = read_template(tmp_path / "c.xlsx")
    assert (first.fingerprint == second.fingerprint, first.fingerprint == third.fingerprint) == (
        True,
        False,
    )


def test_fingerprint_is_pinned() -> None:
    # Returns carry the fingerprint they were issued with: the same register must keep
    # giving the same 64 characters, whatever the code computing them.
    assert register_fingerprint(SETTINGS, MEASURES) == (
        "13f8c7b1f279563a83ac18480989f57b60072a2c10def22ee7391568e6a6e25c"
    )


def test_written_template_has_layout_validations_and_frozen_header(tmp_path: Path) -> None:
    path = write_template(REGISTER, tmp_path / "template.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["Measures"]
    header = tuple(c.value for c in ws[1])
    lists = sorted(str(dv.sqref).split(":")[0] for dv in ws.data_validations.dataValidation)
    assert (header, ws.freeze_panes, lists, wb.sheetnames) == (
        layout.MEASURES_COLUMNS,
        "A2",
        ["F2", "G2", "K2", "M2"],
        ["Settings", "Measures"],
    )
    settings = [(r[0].value, r[1].value) for r in wb["Settings"].iter_rows(min_row=2)]
    assert settings[:3] == [
        ("Partnership", "Safer Stockton Partnership"),
        ("Title", "Community Safety Plan - Performance Dashboard"),
        ("Year", "2011/12"),
    ]
    assert (ws["J2"].value, ws["L2"].value, ws["N3"].value) == (-5, 5, "20, 45, 70, 100")


def test_columns_in_any_order_with_retyped_headers(tmp_path: Path) -> None:
    header = ("measure id", "POLARITY", "Performance  Measure", "theme", "basis", "Target")
    header += ("tolerance", "Baseline", "Tolerance-Type", "target_type")
    rows = [header, ("1.1", "reduction", "Reduce ASB", "ASB", "Cumulative YTD", -5, 5, 100)]
    rows[1] += ("Absolute", "percent change")
    path = _write_raw(tmp_path / "t.xlsx", GOOD_SETTINGS, rows)
    m = read_template(path).measures[0]
    assert (m.measure_id, m.polarity, m.basis, m.target, m.target_form, m.tolerance_form) == (
        "1.1",
        Polarity.REDUCE,
        Basis.CUMULATIVE,
        -5.0,
        TargetForm.PERCENT_CHANGE,
        ToleranceForm.ABSOLUTE,
    )


def test_percent_cells_read_in_percent_points(tmp_path: Path) -> None:
    rows = [
        HEADER,
        _row(ID="a", Target=-5, Target_Type="% change", Tolerance=5),
        _row(ID="b", Target="-5%", Target_Type="%", Tolerance="5%"),
        _row(ID="c", Target=-0.05, Target_Type="% change", Tolerance=0.05),
        _row(ID="d", Target="1,234", Tolerance=" 2.5 "),
    ]
    formats = {(3, 6): "0%", (3, 8): "0.0%"}
    path = _write_raw(tmp_path / "t.xlsx", GOOD_SETTINGS, rows, formats)
    got = [(m.measure_id, m.target, m.tolerance) for m in read_template(path).measures]
    assert got == [("a", -5.0, 5.0), ("b", -5.0, 5.0), ("c", -5.0, 5.0), ("d", 1234.0, 2.5)]


def test_numeric_ids_become_text(tmp_path: Path) -> None:
    rows = [HEADER, _row(ID=1.1), _row(ID=2.0), _row(ID=3), _row(ID=4.0)]
    path = _write_raw(tmp_path / "t.xlsx", GOOD_SETTINGS, rows, {(4, 1): "0.0"})
    assert [m.measure_id for m in read_template(path).measures] == ["1.1", "2", "3", "4.0"]


def test_profile_forms(tmp_path: Path) -> None:
    rows = [
        HEADER,
        _row(ID="a", Profile="25, 50, 75, 100"),
        _row(ID="b", Profile="0.1; 0.4; 0.7; 1"),
        _row(ID="c", Profile="10% 30% 60% 100%"),
        _row(ID="d", Profile=None),
    ]
    path = _write_raw(tmp_path / "t.xlsx", GOOD_SETTINGS, rows)
    assert [m.profile for m in read_template(path).measures] == [
        (0.25, 0.5, 0.75, 1.0),
        (0.1, 0.4, 0.7, 1.0),
        (0.1, 0.3, 0.6, 1.0),
        None,
    ]


def test_settings_keys_dates_and_flags(tmp_path: Path) -> None:
    settings: list[tuple[Any, ...]] = [
        ("Key", "Value"),
        ("  partnership ", "Safer Stockton"),
        ("MEETING DATE", dt.datetime(2012, 2, 14)),
        ("Agenda item", 11),
        ("Show direction", "no"),
        ("Current quarter", "q3"),
        ("Footer text", "Official"),
        ("Year", "2011/12"),
    ]
    path = _write_raw(tmp_path / "t.xlsx", settings, [HEADER, _row()])
    s = read_template(path).settings
    assert (
        s.partnership,
        s.meeting_date,
        s.agenda_item,
        s.show_direction,
        s.current_quarter,
        s.year,
        dict(s.extra),
        s.title,
    ) == (
        "Safer Stockton",
        "14 February 2012",
        "11",
        False,
        "Q3",
        "2011/12",
        {"Footer text": "Official"},
        "Performance Dashboard",
    )


def test_text_meeting_date_kept_as_typed(tmp_path: Path) -> None:
    settings = [*GOOD_SETTINGS, ("Meeting Date", "14 February 2012")]
    path = _write_raw(tmp_path / "t.xlsx", settings, [HEADER, _row()])
    assert read_template(path).settings.meeting_date == "14 February 2012"


def test_blank_baseline_allowed_for_percent_change_and_blank_tolerance_for_reduce(
    tmp_path: Path,
) -> None:
    rows = [HEADER, _row(Baseline=None, Target=-5, Target_Type="% change", Tolerance=None)]
    path = _write_raw(tmp_path / "t.xlsx", GOOD_SETTINGS, rows)
    m = read_template(path).measures[0]
    assert (m.baseline, m.target, m.tolerance) == (None, -5.0, None)


def test_every_measure_problem_listed_with_sheet_and_cell(tmp_path: Path) -> None:
    rows = [
        _row(),  # row 2: fine
        _row(ID="1.1"),  # row 3: duplicate
        _row(ID="1.2", Theme=None, Performance_Measure=" "),  # row 4
        _row(ID="1.3", Polarity="Sideways", Basis="Monthly"),  # row 5
        _row(ID="1.4", Target_Type="fraction", Tolerance_Type="lots"),  # row 6
        _row(ID="1.5", Baseline="about 40", Target="ninety", Tolerance="x"),  # row 7
        _row(ID="1.6", Target=None),  # row 8
        _row(ID="1.7", Polarity="Maintain", Baseline=None, Tolerance=None),  # row 9
        _row(ID="1.8", Profile="25, 50, 40, 100"),  # row 10
        _row(ID="1.9", Profile="25, 50, 75"),  # row 11
        _row(ID=None),  # row 12
        _row(ID="2.0", Tolerance=-1),  # row 13
    ]
    assert _refusal(tmp_path, rows) == [
        "Measures!B3: duplicate measure ID '1.1' (also in B2); give each measure its own ID",
        "Measures!A4: empty Theme; type the theme the measure belongs to (e.g. ASB)",
        "Measures!C4: empty Performance Measure; type the measure's text",
        "Measures!D5: unknown polarity 'Sideways'; use Reduce, Increase or Maintain",
        "Measures!E5: unknown basis 'Monthly'; use Cumulative or Snapshot",
        "Measures!H6: unknown target type 'fraction'; use Absolute or % change",
        "Measures!J6: unknown tolerance type 'lots'; use % or Absolute",
        "Measures!F7: Baseline must be a number (got 'about 40'); "
        "type the number only, or leave it blank",
        "Measures!G7: Target must be a number (got 'ninety'); "
        "type the number only, or leave it blank",
        "Measures!I7: Tolerance must be a number (got 'x'); "
        "type the number only, or leave it blank",
        "Measures!G8: measure 1.6 (Reduce) has no Target; type the annual target",
        "Measures!F9: measure 1.7 (Maintain) has no Baseline; "
        "type the baseline the measure must stay close to",
        "Measures!I9: measure 1.7 (Maintain) has no Tolerance; "
        "type how far from the baseline still counts as maintained",
        "Measures!K10: bad profile '25, 50, 40, 100'; give 4 cumulative percentages that never "
        "decrease and end at 100, e.g. 25, 50, 75, 100 (or leave it blank for an even profile)",
        "Measures!K11: bad profile '25, 50, 75'; give 4 cumulative percentages that never "
        "decrease and end at 100, e.g. 25, 50, 75, 100 (or leave it blank for an even profile)",
        "Measures!B12: empty ID; give the measure an ID such as 1.1",
        "Measures!I13: Tolerance must not be negative (got -1); "
        "type the size of the amber band as a positive number",
    ]


def test_missing_columns_and_partnership_refused(tmp_path: Path) -> None:
    path = _write_raw(
        tmp_path / "t.xlsx",
        [("Key", "Value"), ("Partnership", None), ("Year", "2011/12")],
        [("Theme", "ID", "Measure", "Polarity"), ("ASB", "1.1", "x", "Reduce")],
    )
    with pytest.raises(TemplateError) as info:
        read_template(path)
    assert str(info.value).splitlines()[1:] == [
        "  Settings!B2: the Partnership setting is empty; type the partnership's name",
        "  Measures!1:1: missing columns Basis, Baseline, Target, Tolerance; "
        "add them to the header row",
    ]


def test_absent_partnership_row_refused(tmp_path: Path) -> None:
    assert _refusal(tmp_path, [_row()], settings=[("Key", "Value"), ("Year", "x")]) == [
        "Settings: no Partnership setting; add a row with 'Partnership' in column A "
        "and its name in column B"
    ]


def test_bad_settings_values_refused(tmp_path: Path) -> None:
    settings = [*GOOD_SETTINGS, ("Show Direction", "maybe"), ("Current Quarter", "Q5")]
    settings.append(("partnership", "again"))
    assert _refusal(tmp_path, [_row()], settings=settings) == [
        "Settings!A5: setting 'partnership' given twice (also in A2); "
        "keep one row for each setting",
        "Settings!B3: Show Direction must be Yes or No (got 'maybe'); type Yes or No",
        "Settings!B4: Current Quarter must be Q1, Q2, Q3 or Q4 (got 'Q5'); "
        "type Q1..Q4, or leave it blank for the latest quarter reported",
    ]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.xlsx", None, "template not found"),
        ("t.csv", b"a,b\n", "must be an Excel .xlsx or .xlsm workbook (got '.csv')"),
        ("t.xlsx", b"not a zip at all", "is not a readable Excel workbook"),
        ("t.xlsx", b"", "is not a readable Excel workbook"),
    ],
)
def test_unusable_files_refused(
    tmp_path: Path, name: str, content: bytes | None, expected: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TemplateError) as info:
        read_template(path)
    assert expected in str(info.value)


def test_missing_sheets_refused(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "t.xlsx", GOOD_SETTINGS, None)
    with pytest.raises(TemplateError) as info:
        read_template(path)
    assert str(info.value) == (
        "t.xlsx: missing sheet 'Measures' (found: Settings); "
        "add it as in templates/dashboard_template.xlsx"
    )


ODD_SETTINGS: list[tuple[Any, ...]] = [
    ("Key", "Value"),
    ("Partnership", "P"),
    ("Meeting Date", dt.datetime(2012, 2, 14)),
    ("Agenda Item", 11),
    ("Current Quarter", 3),
]
# Cells the column-by-column reader takes a shortcut past (text, General numbers) mixed
# with every kind it must hand to the row-by-row reader: text numbers, percent and
# decimal formats, no-value words, numeric IDs, blank rows, profiles.
ODD_ROWS = [
    HEADER,
    _row(ID="a"),
    _row(ID=2.0, Target="-5%", Target_Type="% change", Tolerance=" 2.5 "),
    _row(ID=3, Baseline="1,234", Target=-0.05, Target_Type="%", Tolerance=0.05),
    _row(ID=4.0, Polarity="Maintain", Baseline=80, Target=None, Tolerance="n/a"),
    (None,) * len(HEADER),
    _row(ID="e", Polarity="higher is better", Basis="ytd", Baseline="tbc", Tolerance=None),
    _row(ID="f", Profile="0.1; 0.4; 0.7; 1", Target_Type=None, Tolerance_Type="abs"),
    _row(ID=" g ", Theme=" Drugs ", Performance_Measure=12, Baseline=None, Target="\u22122"),
]
ODD_FORMATS = {(2, 1): "0.0", (3, 6): "0%", (3, 8): "0.0%", (4, 1): "0.00", (8, 5): "0.0"}


def _both_paths(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """read_template's outcome through python-calamine and through openpyxl."""

    def outcome() -> object:
        try:
            return read_template(path)
        except TemplateError as exc:
            return str(exc)

    fast = outcome()
    with monkeypatch.context() as patch:
        patch.setattr(template, "_fast_rows", lambda file: None)
        slow = outcome()
    return fast, slow


def test_fast_and_openpyxl_paths_agree_on_odd_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_raw(tmp_path / "t.xlsx", ODD_SETTINGS, ODD_ROWS, ODD_FORMATS)
    assert template._fast_rows(path) is not None
    fast, slow = _both_paths(path, monkeypatch)
    assert fast == slow
    assert isinstance(fast, Register)
    assert [
        (m.measure_id, m.row, m.baseline, m.target, m.tolerance, m.polarity, m.profile)
        for m in fast.measures
    ] == [
        ("a", 2, 100.0, 90.0, 5.0, Polarity.REDUCE, None),
        ("2.0", 3, 100.0, -5.0, 2.5, Polarity.REDUCE, None),
        ("3", 4, 1234.0, -5.0, 5.0, Polarity.REDUCE, None),
        ("4.00", 5, 80.0, None, None, Polarity.MAINTAIN, None),
        ("e", 7, None, 90.0, None, Polarity.INCREASE, None),
        ("f", 8, 100.0, 90.0, 5.0, Polarity.REDUCE, (0.1, 0.4, 0.7, 1.0)),
        ("g", 9, None, -2.0, 5.0, Polarity.REDUCE, None),
    ]


def test_fast_and_openpyxl_paths_word_the_same_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        *ODD_ROWS,
        _row(ID="a", Baseline=True),  # row 10
        _row(ID="h", Polarity="Maintain", Baseline="n/a", Tolerance=None),
        _row(ID="i", Target="ninety", Tolerance=-1, Profile="25, 50, 40, 100"),
        _row(ID="j", Polarity=None, Basis="Monthly", Target_Type="fraction"),
    ]
    path = _write_raw(tmp_path / "t.xlsx", ODD_SETTINGS, rows, ODD_FORMATS)
    fast, slow = _both_paths(path, monkeypatch)
    assert fast == slow
    assert isinstance(fast, str)
    assert [tuple(line.split(";")[0].split(": ")) for line in fast.splitlines()[1:]] == [
        ("  Measures!B10", "duplicate measure ID 'a' (also in B2)"),
        ("  Measures!F10", "Baseline must be a number (got 'Yes')"),
        ("  Measures!F11", "measure h (Maintain) has no Baseline"),
        ("  Measures!I11", "measure h (Maintain) has no Tolerance"),
        ("  Measures!G12", "Target must be a number (got 'ninety')"),
        ("  Measures!I12", "Tolerance must not be negative (got -1)"),
        ("  Measures!K12", "bad profile '25, 50, 40, 100'"),
        ("  Measures!D13", "measure j has no Polarity"),
        ("  Measures!E13", "unknown basis 'Monthly'"),
        ("  Measures!H13", "unknown target type 'fraction'"),
    ]


def test_error_cells_in_the_register_are_reported_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # python-calamine reads an error value as an empty cell, which would silently make
    # the target missing; such a template goes to openpyxl, which reads the error.
    rows = [*ODD_ROWS, _row(ID="k", Target=_Error("=1/0", "#DIV/0!"))]
    path = _write_raw(tmp_path / "t.xlsx", ODD_SETTINGS, rows, ODD_FORMATS)
    assert template._fast_rows(path) is None
    fast, slow = _both_paths(path, monkeypatch)
    assert fast == slow
    assert isinstance(fast, str)
    assert "Measures!G10: Target must be a number (got '#DIV/0!')" in fast


def test_measures_filled_directly_are_ordinary_frozen_measures(tmp_path: Path) -> None:
    # Clean rows skip Measure's frozen __init__ (see template._FILL_DIRECTLY); what they
    # give must not be told apart from a Measure built by its constructor.
    read = read_template(write_template(REGISTER, tmp_path / "t.xlsx")).measures
    built = [Measure(**vars(m)) for m in read]
    with pytest.raises(dataclasses.FrozenInstanceError):
        read[0].theme = "changed"  # type: ignore[misc]
    assert (
        template._FILL_DIRECTLY,
        read == tuple(built),
        [hash(m) for m in read] == [hash(m) for m in built],
        [vars(m) for m in read] == [vars(m) for m in built],
    ) == (True, True, True, True)


# --- One fast path whichever application saved the register (issue 16 item 5) ----------


def _fast_only(path: Path, monkeypatch: pytest.MonkeyPatch) -> Register:
    """read_template with the openpyxl fallback made to fail, so only the fast path reads."""

    def refuse(file: Path) -> object:
        raise AssertionError(f"openpyxl fallback taken for {file.name}")

    assert template._fast_rows(path) is not None
    with monkeypatch.context() as patch:
        patch.setattr(template, "_openpyxl_rows", refuse)
        return read_template(path)


def _percent_target(path: Path, out: Path) -> Path:
    """`path` re-saved by openpyxl, measure 1.1's target typed as -5% (-0.05 shown 0%)
    and its ID as 1.10 shown with two decimals: both formats change the reading."""
    workbook = openpyxl.load_workbook(path)
    sheet = workbook[layout.MEASURES_SHEET]
    columns = {cell.value: cell.column for cell in sheet[1]}
    sheet.cell(2, columns["Target"], -0.05).number_format = "0%"
    sheet.cell(2, columns["ID"], 1.1).number_format = "0.00"
    workbook.save(out)
    return out


def _expected_after_formats(read: Register) -> list[tuple[str, float | None]]:
    return [(m.measure_id, m.target) for m in read.measures]


def test_register_written_by_write_template_reads_through_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_template(REGISTER, tmp_path / "t.xlsx")
    fast = _read_both_ways(path, monkeypatch)
    assert fast.measures == tuple(
        dataclasses.replace(m, row=i) for i, m in enumerate(REGISTER.measures, start=2)
    )


def _read_both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> Register:
    """The register read through the fast path only, checked equal to openpyxl's reading."""
    fast = _fast_only(path, monkeypatch)
    with monkeypatch.context() as patch:
        patch.setattr(template, "_fast_rows", lambda file: None)
        slow = read_template(path)
    assert fast == slow
    return fast


def _reads_as_original(path: Path, original: Register, monkeypatch: pytest.MonkeyPatch) -> None:
    """The re-saved register reads through the fast path as openpyxl reads it, and as the
    original (whose first target `_percent_target` made -5%)."""
    fast = _read_both_ways(path, monkeypatch)
    assert fast.measures[1:] == original.measures[1:]
    assert (fast.measures[0].measure_id, fast.measures[0].target) == ("1.10", -5.0)


def test_register_resaved_by_openpyxl_reads_through_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # openpyxl writes `<sheet name=.. sheetId=.. state="visible" r:id=..>` and `t="n"`
    # cells: before issue 16 such a register silently fell back to openpyxl.
    original = read_template(write_template(REGISTER, tmp_path / "t.xlsx"))
    path = _percent_target(tmp_path / "t.xlsx", tmp_path / "openpyxl.xlsx")
    _reads_as_original(path, original, monkeypatch)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_register_resaved_by_libreoffice_reads_through_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = read_template(write_template(REGISTER, tmp_path / "t.xlsx"))
    source = _percent_target(tmp_path / "t.xlsx", tmp_path / "formatted.xlsx")
    out = tmp_path / "lo"
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
         "--convert-to", "xlsx", "--outdir", str(out), str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    path = out / "formatted.xlsx"
    _reads_as_original(path, original, monkeypatch)


def test_template_error_carries_each_problem_with_code_sheet_and_cell(tmp_path: Path) -> None:
    rows = [*ODD_ROWS, _row(ID="a", Baseline=True), _row(ID="i", Tolerance=-1)]
    path = _write_raw(tmp_path / "t.xlsx", ODD_SETTINGS, rows, ODD_FORMATS)
    with pytest.raises(TemplateError) as info:
        read_template(path)
    assert [(i.code, i.severity, i.file, i.sheet, i.cell) for i in info.value.issues] == [
        ("measure-id-repeated", "error", "t.xlsx", "Measures", "B10"),
        ("number-invalid", "error", "t.xlsx", "Measures", "F10"),
        ("tolerance-negative", "error", "t.xlsx", "Measures", "I11"),
    ]


def test_template_not_found_is_one_issue(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as info:
        read_template(tmp_path / "missing.xlsx")
    assert [(i.code, i.file, i.fix) for i in info.value.issues] == [
        ("template-not-found", "missing.xlsx", "check the --template path")
    ]
