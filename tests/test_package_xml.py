"""The package's XML parts are parsed, not searched (issue 16 item 5): any writer's way of
spelling a part reads the same, and a part with entity tricks is refused, never expanded."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from rag_workbook import returns
from rag_workbook.demo import copy_demo_inputs
from rag_workbook.forms import write_return
from rag_workbook.report import Code
from rag_workbook.template import read_template

_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" '
    b'name="rag_kind"><vt:lpwstr>&lol9;</vt:lpwstr></property></Properties>'
)


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    base = tmp_path_factory.mktemp("xml")
    template, _ = copy_demo_inputs(base)
    register = read_template(template)
    path = write_return(base / "ASB.xlsx", register, "ASB", values={("1.1", "Q1"): 120.0})
    return path, register


def _replace_member(path: Path, name: str, data: bytes, out: Path) -> Path:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename == name else src.read(info))
    return out


def test_metadata_reads_the_same_from_xlsxwriter_and_openpyxl_saves(
    issued: tuple[Path, object], tmp_path: Path
) -> None:
    path, _ = issued
    workbook = openpyxl.load_workbook(path)
    workbook.save(tmp_path / "resaved.xlsx")
    ours = returns._meta_properties(path.read_bytes())
    theirs = returns._meta_properties((tmp_path / "resaved.xlsx").read_bytes())
    assert ours == theirs
    assert (ours["kind"], ours["theme"]) == ("rag-workbook return", "ASB")


def test_a_billion_laughs_in_the_properties_is_refused_not_expanded(
    issued: tuple[Path, object], tmp_path: Path
) -> None:
    path, register = issued
    hostile = _replace_member(path, "docProps/custom.xml", _LAUGHS, tmp_path / "ASB.xlsx")
    started = time.perf_counter()
    assert returns._meta_properties(hostile.read_bytes()) == {}
    assert time.perf_counter() - started < 1
    # the return still reads, its metadata from the hidden sheet instead
    plain = returns.read_return(path, register)
    data = returns.read_return(hostile, register)
    assert (data.theme, data.values, data.readable) == (plain.theme, plain.values, True)


def test_a_dtd_in_core_properties_gives_no_saved_time_rather_than_expanding(
    issued: tuple[Path, object],
) -> None:
    core = _LAUGHS.replace(b"rag_kind", b"x")
    assert returns._stamp(core, ".xlsx") == ""
    safe = (
        b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        b'core-properties" xmlns:dcterms="http://purl.org/dc/terms/"><dcterms:created>'
        b"2012-01-02T09:00:00Z</dcterms:created><dcterms:modified>2012-01-03T10:30:00+01:00"
        b"</dcterms:modified></cp:coreProperties>"
    )
    assert returns._stamp(safe, ".xlsx") == "2012-01-03T09:30:00"


def test_sheet_parts_reads_any_attribute_order_prefix_and_quotes() -> None:
    rels = (
        b"<?xml version='1.0'?><Relationships xmlns='http://schemas.openxmlformats.org/package"
        b"/2006/relationships'><Relationship Target='worksheets/s2.xml' Id='rId7' Type='x'/>"
        b"<Relationship Type='x' Target='/xl/worksheets/s1.xml' Id='rId3'/></Relationships>"
    )
    book = (
        b'<x:workbook xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        b'xmlns:rel="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        b'<x:sheets><x:sheet rel:id="rId3" state="visible" name="Settings &amp; more" '
        b"sheetId='1'/><x:sheet name='Measures' sheetId='2' rel:id='rId7'/></x:sheets>"
        b"</x:workbook>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("xl/_rels/workbook.xml.rels", rels)
        zf.writestr("xl/workbook.xml", book)
    with zipfile.ZipFile(buffer) as zf:
        assert returns.sheet_parts(zf) == {
            "Settings & more": "xl/worksheets/s1.xml",
            "Measures": "xl/worksheets/s2.xml",
        }


def test_style_formats_maps_each_cell_style_to_its_number_format() -> None:
    styles = (
        b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<numFmts count="1"><numFmt formatCode="0.0&quot;%&quot;" numFmtId="164"/></numFmts>'
        b'<cellStyleXfs count="1"><xf numFmtId="10"/></cellStyleXfs>'
        b'<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="9" applyNumberFormat="1"/>'
        b'<xf applyNumberFormat="1" numFmtId="164"/><xf fontId="1"/></cellXfs>'
        b'<dxfs count="1"><dxf><numFmt numFmtId="164" formatCode="0.000"/></dxf></dxfs>'
        b"</styleSheet>"
    )
    assert returns.style_formats(styles) == {0: "General", 1: "0%", 2: '0.0"%"', 3: "General"}


def test_cell_problems_read_any_spelling_of_a_sheet() -> None:
    # A prefixed namespace, single quotes, cells and rows without `r` (all allowed).
    sheet = (
        b"<x:worksheet xmlns:x='http://schemas.openxmlformats.org/spreadsheetml/2006/main'>"
        b"<x:sheetData><x:row r='3'><x:c r='B3' t='e'><x:f>1/0</x:f><x:v>#DIV/0!</x:v></x:c>"
        b"<x:c><x:f>SUM(A1:A2)</x:f><x:v></x:v></x:c><x:c><x:f>A1</x:f><x:v>4</x:v></x:c>"
        b"</x:row><x:row><x:c t='e'/></x:row></x:sheetData></x:worksheet>"
    )
    assert returns._has_formula_or_error(sheet)  # the byte pre-check lets it through
    assert returns._cell_problems(sheet) == {
        (2, 1): (Code.CELL_ERROR, "#DIV/0!"),
        (2, 2): (Code.FORMULA_WITHOUT_VALUE, ""),
        (3, 0): (Code.CELL_ERROR, "#N/A"),
    }
