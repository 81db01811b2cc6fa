"""Tests of render.py: the committee PDF is tagged (PDF/UA), titled and in British English.

The end-to-end test runs the real command line (`demo`, then `merge --pdf`) and reads the
PDF back with pdfinfo (tags, title) and pypdf (the catalog's /Lang, the PDF/UA mark).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from cli_run import run as _run

from rag_workbook import render
from rag_workbook.demo import copy_demo_inputs
from rag_workbook.pipeline import merge_to_dashboard
from rag_workbook.render import PDF_LANGUAGE, RenderError, convert_to_pdf, pdf_filter
from rag_workbook.report import Code, Issue

_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"


def _pdfinfo(pdf: Path) -> tuple[dict[str, str], str]:
    done = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    lines = (line.partition(":") for line in done.stdout.splitlines())
    fields = {key.strip(): value.strip() for key, _, value in lines}
    return fields, done.stderr


def _workbook_title(xlsx: Path) -> str:
    with zipfile.ZipFile(xlsx) as zf:
        core = ElementTree.fromstring(zf.read("docProps/core.xml"))
    return core.findtext(_DC_TITLE) or ""


def _catalog(pdf: Path) -> tuple[str, bool, bool, bool]:
    """(/Lang, has a structure tree, /MarkInfo /Marked, the XMP says PDF/UA part 1)."""
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(str(pdf))
    root = reader.trailer["/Root"]
    metadata = root.get("/Metadata")
    xmp = metadata.get_object().get_data().decode("utf-8") if metadata is not None else ""
    mark = root.get("/MarkInfo")
    return (
        str(root.get("/Lang", "")),
        "/StructTreeRoot" in root,
        bool(mark is not None and mark.get_object().get("/Marked")),
        "<pdfuaid:part>1</pdfuaid:part>" in xmp,
    )


def test_pdf_filter_is_libreoffices_json_of_the_tagged_options() -> None:
    name, _, options = pdf_filter().partition(":calc_pdf_Export:")
    assert name == "pdf"
    assert json.loads(options) == {
        "UseTaggedPDF": {"type": "boolean", "value": "true"},
        "PDFUACompliance": {"type": "boolean", "value": "true"},
        "ExportNotes": {"type": "boolean", "value": "false"},
    }
    assert pdf_filter(tagged=False) == "pdf"


@pytest.mark.requires("soffice", "pdfinfo")
def test_merge_pdf_is_tagged_titled_and_british_english(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    proc = _run("demo", "--out", demo)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "committee" / "dashboard.xlsx"
    out.parent.mkdir()
    proc = _run("merge", demo / "returns", "--template", demo / "template.xlsx",
                "--out", out, "--pdf")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pdf = out.with_suffix(".pdf")
    info, errors = _pdfinfo(pdf)
    title = _workbook_title(out)
    assert title  # the dashboard names itself, and the PDF takes that name
    # Dashboard (with its key), Exceptions, Summary: one page each for the demo
    assert (info["Tagged"], info["Title"], info["Pages"]) == ("yes", title, "3")
    assert errors == ""  # no broken annotations (cell notes are not exported)
    assert _catalog(pdf) == (PDF_LANGUAGE, True, True, True)


@pytest.mark.requires("soffice", "pdfinfo")
def test_convert_to_pdf_declares_the_language_asked_for_and_can_be_untagged(
    tmp_path: Path,
) -> None:
    import xlsxwriter

    xlsx = tmp_path / "plain.xlsx"
    wb = xlsxwriter.Workbook(str(xlsx))
    wb.set_properties({"title": "A plain sheet"})
    wb.add_worksheet().write_string(0, 0, "Bonjour")
    wb.close()
    french = convert_to_pdf(xlsx, tmp_path / "fr.pdf", language="fr-FR", timeout=120)
    assert _catalog(french)[0] == "fr-FR"
    assert _pdfinfo(french)[0]["Title"] == "A plain sheet"
    plain = convert_to_pdf(xlsx, tmp_path / "plain.pdf", tagged=False, timeout=120)
    assert _pdfinfo(plain)[0]["Tagged"] == "no"


def _fake_soffice(tmp_path: Path, body: str) -> str:
    """An executable that stands in for LibreOffice and runs the Python `body`."""
    script = tmp_path / "soffice"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(0o755)
    return str(script)


def _workbook(tmp_path: Path) -> Path:
    xlsx = tmp_path / "dashboard.xlsx"
    xlsx.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: never opened here
    return xlsx


@pytest.mark.skipif(os.name == "nt", reason="the stand-in is a POSIX script")
def test_a_libreoffice_that_does_not_finish_is_stopped_and_the_fix_is_excel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "find_soffice", lambda: _fake_soffice(tmp_path, "time.sleep(60)"))
    with pytest.raises(RenderError) as raised:
        convert_to_pdf(_workbook(tmp_path), tmp_path / "dashboard.pdf", timeout=1)
    assert "did not finish the PDF of dashboard.xlsx within 1 s" in str(raised.value)
    assert "Excel" in raised.value.fix and "install" not in raised.value.fix
    assert not (tmp_path / "dashboard.pdf").exists()


@pytest.mark.skipif(os.name == "nt", reason="the stand-in is a POSIX script")
def test_merge_says_why_no_pdf_and_what_to_do_for_each_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template, returns = copy_demo_inputs(tmp_path / "demo")
    failing = _fake_soffice(
        tmp_path, "print('Error: source file could not be loaded')\nsys.exit(1)"
    )

    def pdf_issue(found: str | None) -> Issue:
        monkeypatch.setattr(render, "find_soffice", lambda: found)
        out = tmp_path / "committee" / "dashboard.xlsx"
        announced: list[int] = []
        result = merge_to_dashboard([returns], template, out, pdf=True, on_pdf=announced.append)
        assert result.pdf is None and result.output == out and out.exists()
        assert announced == [len(result.register.measures)]
        (issue,) = [i for i in result.report.issues if i.code == Code.PDF_NOT_WRITTEN]
        return issue

    broken = pdf_issue(failing)
    assert "could not convert dashboard.xlsx to PDF: Error: source file" in broken.message
    assert broken.fix.startswith("print the Dashboard, Exceptions and Summary sheets")
    assert "install" not in broken.fix
    missing = pdf_issue(None)
    assert missing.message == "LibreOffice is not installed, so no PDF was written"
    assert missing.fix.startswith("install LibreOffice")


def test_libreoffice_is_given_longer_for_a_larger_register(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag_workbook.dashboard import pdf_seconds, write_dashboard_pdf
    from rag_workbook.pipeline import check_returns

    template, returns = copy_demo_inputs(tmp_path / "demo")
    result = check_returns([returns], template)
    limits: list[float] = []

    def record(xlsx: Path, pdf: Path, *, timeout: float) -> Path:
        limits.append(timeout)
        return pdf

    monkeypatch.setattr(render, "convert_to_pdf", record)
    args = (result.columns, result.register, result.report, tmp_path / "d.pdf")
    write_dashboard_pdf(*args)
    write_dashboard_pdf(*args, timeout=7)
    measures = len(result.register.measures)
    assert limits == [pdf_seconds(measures), 7]
    assert pdf_seconds(measures) == 120 + 0.2 * measures
    assert 20 * 60 < pdf_seconds(6_333) < 25 * 60  # a national register: 699 pages in 6.5 min
