"""Render stage: a dashboard workbook -> PDF (LibreOffice) -> PNG pages (pdftoppm).

Input: an `.xlsx` file. Output: a PDF of its visible sheets, and PNG pictures of PDF pages
for tests and the README. Each LibreOffice run gets a private user profile in a temporary
folder, so parallel runs (and a LibreOffice the analyst has open) do not clash.

The PDF is tagged and declares PDF/UA (ISO 14289-1) conformance, as far as LibreOffice
(7.4 or newer reads the JSON filter options used here) can make it, for publishing under
the accessibility regulations. Its title is the workbook's title (File > Properties,
`docProps/core.xml`); its language (the catalog's /Lang) is the locale setting of
LibreOffice's profile, which the private profile sets to `language` (en-GB by default):
LibreOffice does not take it from the workbook (`dc:language` is ignored).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from html import escape  # not xml.sax.saxutils, whose import brings urllib.request (20 ms)
from pathlib import Path

from rag_workbook.errors import RagWorkbookError
from rag_workbook.report import CATALOGUE, Code


class RenderError(RagWorkbookError, RuntimeError):
    """LibreOffice or pdftoppm is missing, failed or took too long.

    `fix` says what the user can do instead, for this cause (installing LibreOffice helps
    only when it is missing).
    """

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.fix = fix


# What to do when LibreOffice is there but gives no PDF: pdf-not-written's own fix.
_PRINT_FROM_EXCEL = CATALOGUE[Code.PDF_NOT_WRITTEN].fix


PDF_LANGUAGE = "en-GB"  # the language the PDF declares (/Lang): British English

# calc_pdf_Export's options: tagged (structure for screen readers), PDF/UA, and no cell
# notes as PDF annotations (LibreOffice writes their pop-ups with an empty rectangle, which
# PDF readers reject; the explanations are printed on the page instead).
_PDF_OPTIONS = {"UseTaggedPDF": True, "PDFUACompliance": True, "ExportNotes": False}


def pdf_filter(*, tagged: bool = True) -> str:
    """The `--convert-to` argument for LibreOffice's Calc PDF export.

    Args:
        tagged: a tagged PDF/UA export (True) or LibreOffice's plain PDF (False).

    Returns:
        `pdf:calc_pdf_Export:{...}` with the filter options as LibreOffice's JSON
        (`{"Name": {"type": "boolean", "value": "true"}, ...}`), or `pdf` when untagged.

    Example:
        >>> pdf_filter()[:38]
        'pdf:calc_pdf_Export:{"UseTaggedPDF": {'
    """
    if not tagged:
        return "pdf"
    options = {
        name: {"type": "boolean", "value": "true" if value else "false"}
        for name, value in _PDF_OPTIONS.items()
    }
    return "pdf:calc_pdf_Export:" + json.dumps(options)


def _write_profile(profile: Path, language: str) -> None:
    """A fresh user profile whose locale setting (Tools > Options > Languages) is `language`:
    LibreOffice's PDF export declares that locale as the document's language."""
    user = profile / "user"
    user.mkdir(parents=True)
    tag = escape(language, quote=False)
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        '<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" '
        f'oor:op="fuse"><value>{tag}</value></prop></item>\n'
        '<item oor:path="/org.openoffice.Office.Linguistic/General"><prop '
        f'oor:name="DefaultLocale" oor:op="fuse"><value>{tag}</value></prop></item>\n'
        "</oor:items>\n",
        encoding="utf-8",
    )


def find_soffice() -> str | None:
    """The path of LibreOffice's `soffice` (or `libreoffice`), or None when not installed.

    Example:
        >>> find_soffice()
        '/usr/bin/soffice'
    """
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    mac = Path("/Applications/LibreOffice.app/Contents/MacOS/soffice")
    return str(mac) if mac.exists() else None


def convert_to_pdf(
    xlsx: Path,
    pdf: Path,
    *,
    timeout: float = 120,
    tagged: bool = True,
    language: str = PDF_LANGUAGE,
) -> Path:
    """Convert a workbook to PDF with headless LibreOffice (every visible sheet is printed).

    The PDF is tagged (PDF/UA where LibreOffice can), titled with the workbook's title and
    declares `language`.

    Args:
        xlsx: the workbook to convert.
        pdf: the PDF to write (replaced if it exists).
        timeout: seconds to wait for LibreOffice.
        tagged: write a tagged PDF/UA (True) or LibreOffice's plain PDF (False).
        language: the document language the PDF declares (a BCP 47 tag such as "en-GB").

    Returns:
        `pdf`.

    Raises:
        RenderError: LibreOffice is not installed, failed, timed out or wrote no PDF.

    Example:
        >>> convert_to_pdf(Path("dashboard.xlsx"), Path("dashboard.pdf"))
        PosixPath('dashboard.pdf')
    """
    soffice = find_soffice()
    if soffice is None:
        raise RenderError(
            "LibreOffice is not installed, so no PDF was written",
            fix="install LibreOffice (Debian: apt-get install libreoffice-calc-nogui), "
            "or leave out --pdf and " + _PRINT_FROM_EXCEL,
        )
    xlsx = Path(xlsx)
    pdf = Path(pdf)
    with tempfile.TemporaryDirectory(prefix="rag_workbook_lo_") as tmp:
        profile = Path(tmp) / "profile"
        outdir = Path(tmp) / "out"
        outdir.mkdir()
        _write_profile(profile, language)
        produced = _soffice_pdf(soffice, profile, outdir, xlsx, pdf_filter(tagged=tagged), timeout)
        from rag_workbook.output import write_atomic

        try:
            # Atomic, as every output: a temporary file beside the PDF, then a rename.
            write_atomic(produced.read_bytes(), pdf)
        except (OSError, RagWorkbookError) as exc:
            raise RenderError(
                f"cannot write {pdf}: {exc}", fix="check the folder and that you may write there"
            ) from exc
    return pdf


def _soffice_pdf(
    soffice: str, profile: Path, outdir: Path, xlsx: Path, target: str, timeout: float
) -> Path:
    """Run LibreOffice once on `xlsx` (its own profile, no window) and return the PDF it
    wrote in `outdir`; RenderError when it fails, times out or writes nothing."""
    command = [
        soffice,
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--nolockcheck",
        "--convert-to",
        target,
        "--outdir",
        str(outdir),
        str(xlsx.resolve()),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RenderError(
            f"LibreOffice did not finish the PDF of {xlsx.name} within {timeout:g} s, "
            "so it was stopped (a workbook of thousands of rows can take it much longer)",
            fix=_PRINT_FROM_EXCEL + ", or run again when the computer is less busy",
        ) from exc
    except OSError as exc:
        raise RenderError(
            f"cannot run LibreOffice ({soffice}): {exc}",
            fix="check that LibreOffice starts on its own, or " + _PRINT_FROM_EXCEL,
        ) from exc
    produced = outdir / f"{xlsx.stem}.pdf"
    if done.returncode != 0 or not produced.exists():
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise RenderError(
            f"LibreOffice could not convert {xlsx.name} to PDF"
            + (f": {detail[-1]}" if detail else ""),
            fix=_PRINT_FROM_EXCEL,
        )
    return produced


def pdf_to_png(pdf: Path, png_prefix: Path, *, dpi: int = 100, timeout: float = 60) -> list[Path]:
    """Render every page of a PDF to PNG files `<png_prefix>-<n>.png` with pdftoppm.

    Args:
        pdf: the PDF to render.
        png_prefix: path prefix of the PNG files (its folder must exist).
        dpi: resolution.
        timeout: seconds to wait for pdftoppm.

    Returns:
        The PNG files, in page order.

    Raises:
        RenderError: pdftoppm is not installed or failed.

    Example:
        >>> pdf_to_png(Path("dashboard.pdf"), Path("out/page"))
        [PosixPath('out/page-1.png')]
    """
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise RenderError(
            "pdftoppm (poppler-utils) is not installed; install it to render PNG pages"
        )
    png_prefix = Path(png_prefix)
    command = [tool, "-png", "-r", str(dpi), str(pdf), str(png_prefix)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise RenderError(f"pdftoppm failed on {Path(pdf).name}: {exc}") from exc
    if done.returncode != 0:
        raise RenderError(f"pdftoppm failed on {Path(pdf).name}: {done.stderr.strip()}")
    pages = list(png_prefix.parent.glob(f"{png_prefix.name}-*.png"))

    def page_number(path: Path) -> int:
        return int(path.stem.rsplit("-", 1)[1])

    return sorted(pages, key=page_number)
