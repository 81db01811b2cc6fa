"""Tests for returns.py: reading returns as humans send them back, and finding them."""

from __future__ import annotations

import importlib.util
import shutil
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest
import xlsxwriter

from rag_workbook.forms import write_return
from rag_workbook.model import Register, ReturnData, Severity, Status
from rag_workbook.report import Issue
from rag_workbook.returns import _role, find_returns, parse_number, read_return

FIXTURES = Path(__file__).parent / "fixtures" / "returns"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"  # ../shared of the repo
_spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
assert _spec is not None and _spec.loader is not None
make_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fixtures)

CLEAN_VALUES = [
    ("1.1", "Q1", 1950.0, "1950", "F11"),
    ("1.1", "Q2", 3890.0, "3890", "G11"),
    ("1.2", "Q1", 82.5, "82.5", "F12"),
    ("1.2", "Q2", None, "n/a", "G12"),
    ("1.3", "Q1", None, "-", "F13"),
    ("1.3", "Q2", 140.0, "140", "G13"),
]
CLEAN_NOTES = [
    ("1.1", None, "", 'On track; =HYPERLINK("x") stays text', "", "L11"),
    ("1.2", Status.AMBER, "survey sample small", "Survey paused in Q2", "J12", "L12"),
]


@pytest.fixture()
def register() -> Register:
    reg: Register = make_fixtures.fixture_register()
    return reg


def _values(data: ReturnData) -> list[tuple[object, ...]]:
    return [(v.measure_id, v.quarter, v.value, v.text, v.cell) for v in data.values]


def _notes(data: ReturnData) -> list[tuple[object, ...]]:
    return [
        (n.measure_id, n.override, n.override_reason, n.comment, n.override_cell, n.comment_cell)
        for n in data.notes
    ]


def _issues(data: ReturnData) -> list[tuple[str, str, str, str]]:
    return [(i.code, str(i.severity), i.sheet, i.cell) for i in data.issues if isinstance(i, Issue)]


@pytest.mark.parametrize(
    "name",
    [
        "filled_clean.xlsx",
        "libreoffice_resaved.xlsx",
        "libreoffice_resaved.xls",
        "libreoffice_resaved.ods",
    ],
)
def test_clean_return_in_every_format(name: str, register: Register) -> None:
    data = read_return(FIXTURES / name, register, display=name)
    assert (data.readable, data.file, data.theme, data.lead, data.year, data.quarter) == (
        True,
        name,
        "ASB",
        "Jane Smith",
        "2011/12",
        "Q2",
    )
    assert (data.submitted, data.fingerprint) == ("2011-10-14", "f" * 64)
    assert _values(data) == CLEAN_VALUES
    assert _notes(data) == CLEAN_NOTES
    assert _issues(data) == []
    assert len(data.sha256) == 64


def test_blank_issued_return_has_no_values(register: Register) -> None:
    data = read_return(FIXTURES / "issued_blank.xlsx", register)
    assert (data.theme, data.values, data.notes, _issues(data)) == ("ASB", (), (), [])
    assert data.submitted == "2000-01-01T00:00:00"  # the workbook's saved time


def test_columns_reordered_and_headers_retyped(register: Register) -> None:
    data = read_return(FIXTURES / "columns_reordered.xlsx", register, display="cr.xlsx")
    assert (data.theme, data.submitted, data.quarter) == ("ASB", "2011-10-21", "")
    assert _values(data) == [
        ("1.1", "Q3", 2900.0, "2900", "C8"),
        ("1.1", "Q2", 1940.0, "1940", "E8"),
        ("1.1", "Q1", 1000.0, "1000", "F8"),
        ("1.2", "Q2", 81.0, "81", "E10"),
        ("1.2", "Q1", 80.0, "80", "F10"),
        ("1.3", "Q3", 130.0, "130", "C12"),
        ("1.3", "Q2", 90.0, "90", "E12"),
        ("1.3", "Q1", 45.0, "45", "F12"),
    ]
    assert _notes(data) == [
        ("1.1", None, "", "Down on last year", "", "B8"),
        ("1.2", Status.GREEN, "survey better than shown", "", "H10", ""),
        ("1.3", None, "", "New measure", "", "B12"),
    ]
    assert _issues(data) == [
        ("unknown-column", "warning", "ASB data", "G7"),
        ("row-without-id", "warning", "ASB data", "D14"),
    ]


def test_messy_values(register: Register) -> None:
    data = read_return(FIXTURES / "messy_values.xlsx", register)
    assert (data.theme, data.submitted, data.quarter) == ("ASB", "2011-10-21", "Q2")
    assert _values(data) == [
        ("1.1", "Q1", 1234.0, "1,234", "C8"),
        ("1.1", "Q2", 2468.0, "2,468", "D8"),
        ("1.1", "Q3", 3668.0, "3668", "E8"),  # a formula's cached value
        ("1.2", "Q1", 12.0, "12%", "C9"),
        ("1.2", "Q2", None, "N/A", "D9"),
        ("1.3", "Q1", -12.0, "(12)", "C10"),
        ("1.3", "Q2", None, "tbc", "D10"),
        ("1.3", "Q3", 1200.0, "£1,200", "E10"),
    ]
    assert _notes(data) == [
        ("1.1", Status.RED, "", "", "G8", ""),
        ("1.2", None, "because", "", "G9", ""),
        ("1.3", None, "", "Shared comment", "", "I10"),
    ]
    assert _issues(data) == [
        ("merged-value-cells", "warning", "Return", "E10"),
        ("override-without-reason", "warning", "Return", "G8"),
        ("value-not-a-number", "error", "Return", "E9"),
        ("value-not-a-number", "error", "Return", "F9"),
        ("unknown-status", "error", "Return", "G9"),
        ("value-reinterpreted", "info", "Return", "C10"),
        ("unknown-measure", "error", "Return", "A11"),
        ("row-without-id", "warning", "Return", "A13"),
        ("duplicate-measure", "warning", "Return", "A14"),
    ]
    twelve = next(i for i in data.issues if isinstance(i, Issue) and i.cell == "E9")
    assert str(twelve).endswith(
        "messy_values.xlsx!Return!E9: value-not-a-number: Q3 must be a number (got 'twelve'); "
        "type the number only"
    )


def test_formulas_without_cached_values(register: Register) -> None:
    data = read_return(FIXTURES / "formulas_no_cached_value.xlsx", register)
    assert _values(data) == [("1.1", "Q1", 100.0, "100", "F11"), ("1.3", "Q1", 7.0, "7", "F13")]
    assert _issues(data) == [
        ("formula-without-value", "error", "Return", "G11"),
        ("formula-without-value", "warning", "Return", "L12"),
    ]


_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _with_prefix(source: Path, target: Path) -> Path:
    """`source` with every worksheet part written again with the `x:` prefix for
    SpreadsheetML's namespace (`<x:c>`, `<x:f>`), as some writers (.NET's Open XML SDK) do."""
    ElementTree.register_namespace("x", _MAIN_NS)
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.startswith("xl/worksheets/"):
                root = ElementTree.fromstring(data)
                data = ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True)
            zout.writestr(item, data)
    return target


def test_formulas_without_cached_values_under_a_namespace_prefix(
    tmp_path: Path, register: Register
) -> None:
    # openpyxl saves a formula without a cached value; the same sheet with `x:` prefixes
    # must give the same values and issues (the byte pre-check once looked for `<f` only).
    plain = tmp_path / "plain.xlsx"
    write_return(plain, register, "ASB", values={("1.1", "Q1"): 100.0})
    workbook = openpyxl.load_workbook(plain)
    workbook["Return"]["G13"] = "=F13*2"  # 1.1 Q2
    workbook["Return"]["L14"] = "=A1"  # 1.2 comment
    workbook.save(plain)
    prefixed = _with_prefix(plain, tmp_path / "prefixed.xlsx")
    with zipfile.ZipFile(prefixed) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
    assert (sheet.count(b"<x:f>"), sheet.count(b"<f>"), sheet.count(b"<c ")) == (2, 0, 0)
    expected_issues = [
        ("formula-without-value", "error", "Return", "G13"),
        ("formula-without-value", "warning", "Return", "L14"),
    ]
    for path in (plain, prefixed):
        data = read_return(path, register)
        assert (_values(data), _issues(data)) == (
            [("1.1", "Q1", 100.0, "100", "F13")],
            expected_issues,
        ), path.name


@pytest.mark.parametrize(
    ("xml", "may_have"),
    [
        (b'<c r="A1"><f>B1</f></c>', True),
        (b'<x:c r="A1"><x:f>B1</x:f></x:c>', True),
        (b'<c r="A1"><f t="shared" si="0"/></c>', True),
        (b'<s:c r="A1"><s:f\n t="shared" si="0"/></s:c>', True),
        (b'<c r="A1" t="e"><v>#N/A</v></c>', True),
        (b"<c r='A1' t='e'><v>#N/A</v></c>", True),
        (b'<c r="A1" t = "e"><v>#N/A</v></c>', True),
        ('<c r="A1"><f>B1</f></c>'.encode("utf-16"), True),  # cannot be searched: parsed
        (b'<c r="A1" t="s"><v>0</v></c><dataValidation><formula1>"A,B"</formula1>', False),
        (b'<x:dataValidation><x:formula1>"A,B"</x:formula1></x:dataValidation>', False),
        (b'<autoFilter ref="A1:B2"><filterColumn colId="0"/></autoFilter>', False),
    ],
)
def test_the_pre_check_never_misses_a_formula_or_an_error(xml: bytes, may_have: bool) -> None:
    from rag_workbook.returns import _has_formula_or_error

    assert _has_formula_or_error(xml) is may_have


@pytest.mark.parametrize(
    ("xml", "ranges"),
    [
        (b'<worksheet><mergeCells count="1"><mergeCell ref="E10:F10"/></mergeCells></worksheet>',
         ["E10:F10"]),
        (b'<x:worksheet xmlns:x="urn:m"><x:mergeCells><x:mergeCell ref=\'A1:B2\'/>'
         b'<x:mergeCell ref = "C3:C4"/></x:mergeCells></x:worksheet>', ["A1:B2", "C3:C4"]),
        (b'<worksheet><mergeCells><mergeCell ref="A1:B2"/><mergeCell ref="C3:', ["A1:B2"]),
        (b'<!DOCTYPE w [<!ENTITY e "x">]><worksheet><mergeCell ref="A1:B2"/></worksheet>', []),
    ],
)  # fmt: skip
def test_the_openpyxl_path_parses_merged_ranges(xml: bytes, ranges: list[str]) -> None:
    # openpyxl's read-only sheets do not read merged cells: the fallback parses the part
    # (once a regular expression that wanted ref="..." exactly), any prefix or quoting.
    from rag_workbook.returns import _merged_ranges

    assert _merged_ranges(xml) == ranges


def test_renamed_file_recognised_by_meta(register: Register) -> None:
    data = read_return(FIXTURES / "Copy of final v2 (3).xlsx", register)
    assert (data.theme, data.fingerprint, _values(data), _issues(data)) == (
        "ASB",
        "f" * 64,
        [("1.1", "Q1", 2000.0, "2000", "F11")],
        [],
    )


def _rezip(source: Path, target: Path, custom: bytes | None) -> Path:
    """`source` with its docProps/custom.xml replaced by `custom` (left out when None)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if item.filename != "docProps/custom.xml":
                zout.writestr(item.filename, zin.read(item))
        if custom is not None:
            zout.writestr("docProps/custom.xml", custom)
    return target


def test_metadata_is_read_from_document_properties_or_else_the_hidden_sheet(
    tmp_path: Path, register: Register
) -> None:
    # An issued return carries its metadata twice: as custom document properties, read
    # without parsing a sheet, and on the hidden rag_meta sheet, read when the properties
    # are missing (older returns; applications that drop them) or incomplete.
    issued = write_return(
        tmp_path / "ASB.xlsx", register, "ASB", values={("1.1", "Q1"): 120.0}, quarter="Q1"
    )
    with zipfile.ZipFile(issued) as z:
        custom = z.read("docProps/custom.xml")
    assert b'name="rag_fingerprint"' in custom

    def facts(data: ReturnData) -> tuple[object, ...]:
        return (data.theme, data.lead, data.year, data.fingerprint, _values(data), _issues(data))

    both = read_return(issued, register)
    sheet_only = read_return(_rezip(issued, tmp_path / "no_props.xlsx", None), register)
    assert facts(both) == facts(sheet_only)
    assert both.theme == "ASB" and both.fingerprint == register.fingerprint
    # the properties win when complete...
    other = custom.replace(register.fingerprint.encode(), b"0" * 64)
    changed = read_return(_rezip(issued, tmp_path / "other.xlsx", other), register)
    assert changed.fingerprint == "0" * 64
    assert ("template-mismatch", "warning", "rag_meta", "B7") in _issues(changed)
    # ...and the sheet is read when one is missing or the kind is not ours
    for name, broken in (
        ("partial", custom.replace(b'name="rag_year"', b'name="other_year"')),
        ("kind", custom.replace(b"rag-workbook return", b"something else")),
    ):
        data = read_return(_rezip(issued, tmp_path / f"{name}.xlsx", broken), register)
        assert facts(data) == facts(both)


def test_metadata_too_long_for_a_property_stays_on_the_sheet(
    tmp_path: Path, register: Register
) -> None:
    from dataclasses import replace

    long_name = replace(register, settings=replace(register.settings, partnership="P" * 300))
    issued = write_return(tmp_path / "ASB.xlsx", long_name, "ASB", values={("1.1", "Q1"): 1.0})
    with zipfile.ZipFile(issued) as z:
        assert "docProps/custom.xml" not in z.namelist()
    data = read_return(issued, long_name)
    assert data.theme == "ASB" and data.fingerprint == long_name.fingerprint


def test_template_mismatch_and_wrong_year(register: Register) -> None:
    from dataclasses import replace

    other = replace(
        register, fingerprint="0" * 64, settings=replace(register.settings, year="2012/13")
    )
    data = read_return(FIXTURES / "filled_clean.xlsx", other)
    assert _issues(data) == [
        ("template-mismatch", "warning", "rag_meta", "B7"),
        ("wrong-year", "warning", "Return", ""),
    ]


def test_theme_from_ids_file_name_or_unknown(tmp_path: Path, register: Register) -> None:
    def table(path: Path, ids: list[str]) -> Path:
        wb = xlsxwriter.Workbook(path)
        ws = wb.add_worksheet("Sheet1")
        ws.write_row(0, 0, ["Ref", "Q1", "Q2"])
        for r, i in enumerate(ids, start=1):
            ws.write_string(r, 0, i)
            ws.write_number(r, 1, r)
        wb.close()
        return path

    by_ids = read_return(table(tmp_path / "x.xlsx", ["2.1", "2.2", "1.1"]), register)
    assert (by_ids.theme, [(i.code, i.measure_id) for i in by_ids.issues]) == (
        "Alcohol",
        [],
    )
    by_name = read_return(table(tmp_path / "alcohol return.xlsx", []), register)
    assert (by_name.theme, [(i.code, i.measure_id) for i in by_name.issues]) == (
        "Alcohol",
        [("measure-missing-from-return", "2.1"), ("measure-missing-from-return", "2.2")],
    )
    unknown = read_return(table(tmp_path / "y.xlsx", ["7.1"]), register)
    assert (unknown.theme, _issues(unknown)) == (
        "",
        [("unknown-measure", "error", "Sheet1", "A2"), ("unknown-theme", "error", "Sheet1", "")],
    )


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "file-empty"),
        (b"this is not a workbook at all" * 10, None),
        (b"PK\x03\x04 truncated zip", None),
    ],
)
def test_unreadable_files_give_one_issue(
    tmp_path: Path, register: Register, content: bytes, code: str | None
) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    data = read_return(path, register, display="bad.xlsx")
    assert (data.readable, len(data.issues)) == (False, 1)
    issue = data.issues[0]
    assert isinstance(issue, Issue)
    assert (issue.severity, issue.file) == (Severity.ERROR, "bad.xlsx")
    if code:
        assert issue.code == code


def test_missing_file(tmp_path: Path, register: Register) -> None:
    data = read_return(tmp_path / "gone.xlsx", register)
    assert (data.readable, [i.severity for i in data.issues if isinstance(i, Issue)]) == (
        False,
        [Severity.ERROR],
    )


@pytest.mark.parametrize(
    ("raw", "value", "code"),
    [
        (12, 12.0, ""),
        (" 45 ", 45.0, ""),
        ("1,234", 1234.0, ""),
        ("1,234.5", 1234.5, ""),
        ("12%", 12.0, ""),
        ("£1,200", 1200.0, ""),
        ("−3", -3.0, ""),
        ("(12)", -12.0, "value-reinterpreted"),
        ("n/a", None, ""),
        (" No  Data ", None, ""),
        ("-", None, ""),
        ("TBC", None, ""),
        ("twelve", None, "value-not-a-number"),
        ("12,5", None, "value-not-a-number"),
        ("<5", None, "value-not-a-number"),
        ("#DIV/0!", None, "cell-error"),
        (True, None, "value-not-a-number"),
    ],
)
def test_parse_number(raw: object, value: float | None, code: str) -> None:
    parsed = parse_number(raw)
    assert (parsed.value, parsed.code) == (value, code)


@pytest.mark.parametrize(
    ("header", "role"),
    [
        ("Q 3", "Q3"),
        ("q3 actual", "Q3"),
        ("Qtr 3", "Q3"),
        ("Quarter 3", "Q3"),
        ("Q3 (actual)", "Q3"),
        ("Measure No", "id"),
        ("No.", "id"),
        ("ID", "id"),
        ("Ref", "id"),
        ("Comments", "comment"),
        ("Override", "override"),
        ("Reason", "reason"),
        ("Status override", "override"),
        ("Baseline", "known"),
        ("Officer initials", ""),
    ],
)
def test_header_aliases(header: str, role: str) -> None:
    assert _role(header) == role


def test_find_returns(tmp_path: Path) -> None:
    folder = tmp_path / "returns"
    shutil.copytree(FIXTURES / "folder", folder)
    (folder / "~$ASB return.xlsx").write_bytes(b"\x00" * 165)
    (folder / "sub" / "late").mkdir(parents=True)
    shutil.copyfile(FIXTURES / "filled_clean.xlsx", folder / "sub" / "late" / "ASB v2.xlsx")
    (folder / ".git").mkdir()
    shutil.copyfile(FIXTURES / "filled_clean.xlsx", folder / ".git" / "old.xlsx")
    late = tmp_path / "late.ods"
    shutil.copyfile(FIXTURES / "libreoffice_resaved.ods", late)
    paths, report = find_returns(
        [folder, str(tmp_path / "*.ods"), tmp_path / "missing.xlsx", str(tmp_path / "*.xlsb")]
    )
    # Sub-folders are searched; hidden folders, hidden and lock files are named as notes.
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "late.ods",
        "returns/ASB return.xlsx",
        "returns/sub/late/ASB v2.xlsx",
    ]
    assert [(i.code, str(i.severity), Path(i.file).name) for i in report.issues] == [
        ("file-skipped", "info", ".git"),
        ("file-skipped", "info", ".hidden_return.xlsx"),
        ("not-a-spreadsheet", "info", "notes.txt"),
        ("file-skipped", "info", "~$ASB return.xlsx"),
        ("file-not-found", "error", "missing.xlsx"),
        ("file-not-found", "error", "*.xlsb"),
    ]


def _value_area_cells(path: Path) -> list[tuple[str, str, object]]:
    """Every non-empty cell under the table header in a value-area column (openpyxl)."""
    wb = openpyxl.load_workbook(path)
    cells = []
    for ws in wb.worksheets:
        if ws.sheet_state != "visible":
            continue
        header_row = None
        cols: list[int] = []
        for row in ws.iter_rows():
            roles = {c.column: _role(c.value) for c in row if isinstance(c.value, str)}
            if "id" in roles.values() and any(r.startswith("Q") for r in roles.values()):
                header_row = row[0].row
                cols = [
                    c
                    for c, r in roles.items()
                    if r in ("Q1", "Q2", "Q3", "Q4", "override", "reason", "comment")
                ]
                break
        if header_row is None:
            continue
        for row in ws.iter_rows(min_row=header_row + 1):
            for c in row:
                if c.column in cols and c.value is not None and str(c.value).strip():
                    cells.append((ws.title, c.coordinate, c.value))
    return cells


@pytest.mark.parametrize(
    "name",
    [
        "messy_values.xlsx",
        "columns_reordered.xlsx",
        "formulas_no_cached_value.xlsx",
        "filled_clean.xlsx",
        "libreoffice_resaved.xlsx",
    ],
)
def test_nothing_lost(name: str, register: Register) -> None:
    path = FIXTURES / name
    data = read_return(path, register)
    placed: set[tuple[str, str]] = {(v.sheet, v.cell) for v in data.values}
    for n in data.notes:
        placed |= {(n.sheet, n.override_cell), (n.sheet, n.comment_cell)}
    reasons = {n.override_reason for n in data.notes if n.override_reason}
    issues = [i for i in data.issues if isinstance(i, Issue)]
    named = {(i.sheet, i.cell) for i in issues}
    cells = _value_area_cells(path)
    assert cells, "the fixture has a value area"
    lost = [
        (sheet, ref, value)
        for sheet, ref, value in cells
        if (sheet, ref) not in placed
        and (sheet, ref) not in named
        and str(value) not in reasons
        and not any(f"{ref}=" in i.message or f"({ref}" in i.message for i in issues)
    ]
    assert lost == []


def test_typical_return_is_fast(register: Register) -> None:
    path = FIXTURES / "filled_clean.xlsx"
    read_return(path, register)
    n = 50
    start = time.perf_counter()
    for _ in range(n):
        read_return(path, register)
    per_file_ms = (time.perf_counter() - start) / n * 1000
    assert per_file_ms < 25, per_file_ms


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_real_corpus_never_raises(register: Register) -> None:
    slow = []
    outcomes = []
    for path in sorted(CORPUS.iterdir()):
        if not path.is_file() or path.suffix in (".md", ".tsv"):
            continue
        start = time.perf_counter()
        data = read_return(path, register, display=path.name)
        elapsed = time.perf_counter() - start
        if elapsed > 2:
            slow.append((path.name, round(elapsed, 1)))
        errors = [i for i in data.issues if isinstance(i, Issue) and i.severity == Severity.ERROR]
        # either read, or refused with a clear issue naming the file
        ok = data.readable or (errors and all(i.file == path.name and i.message for i in errors))
        outcomes.append((path.name, bool(ok)))
    assert [o for o in outcomes if not o[1]] == []
    assert slow == []


def test_cell_names_match_xlsxwriters() -> None:
    from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

    from rag_workbook.returns import _a1, _rowcol

    for row in (*range(30), 999, 1_048_575):
        for col in (*range(60), 701, 702, 703, 16_383):
            name = _a1(row, col)
            assert name == xl_rowcol_to_cell(row, col)
            assert _rowcol(name) == xl_cell_to_rowcol(name) == (row, col)


def test_header_words_read_the_same_long_or_short() -> None:
    # Texts over 64 characters skip the caches (bounded memory): same results either way.
    from rag_workbook.returns import _classify, _norm

    short = "Q3 (actual)"
    long = short + " " * 80 + "!"
    assert _norm(short) == "q3actual" == _norm(long)
    assert _classify(short) == _classify(short) == (True, "Q3", _classify(short)[2])
    assert _classify(long)[1] == "Q3"


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in FIXTURES.glob("*.xlsx") if p.name != "formulas_no_cached_value.xlsx"),
)
def test_the_openpyxl_path_reads_what_python_calamine_reads(
    tmp_path: Path, register: Register, name: str
) -> None:
    """A workbook python-calamine cannot open (its XML as UTF-16) is read through openpyxl
    in a process of its own: the same values, notes, merged cells, issues and sources."""
    import io

    source = FIXTURES / name
    out = io.BytesIO()
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            part = src.read(info)
            if info.filename.endswith((".xml", ".rels")):
                text = part.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
                part = b"\xfe\xff" + text.encode("utf-16-be")
            dst.writestr(info.filename, part, zipfile.ZIP_DEFLATED)
    utf16 = tmp_path / name
    utf16.write_bytes(out.getvalue())
    want = read_return(source, register, display=name)
    got = read_return(utf16, register, display=name)

    def facts(data: ReturnData) -> tuple[object, ...]:
        return (data.theme, data.lead, data.year, data.quarter, data.values, data.notes,
                [(i.code, i.sheet, i.cell, i.value) for i in data.issues])  # type: ignore[attr-defined]  # fmt: skip

    assert facts(got) == facts(want)
