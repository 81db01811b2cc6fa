"""Tests of render.py: the committee PDF is tagged (PDF/UA), titled and in British English.

The end-to-end test runs the real command line (`demo`, then `merge --pdf`) and reads the
PDF back with pdfinfo (tags, title) and pypdf (the catalog's /Lang, the PDF/UA mark).
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from cli_run import run as _run

from rag_workbook.render import PDF_LANGUAGE, convert_to_pdf, pdf_filter

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
