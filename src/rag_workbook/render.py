"""Render stage: a dashboard workbook -> PDF (LibreOffice) -> PNG pages (pdftoppm).

Input: an `.xlsx` file. Output: a PDF of its visible sheets, and PNG pictures of PDF pages
for tests and the README. Each LibreOffice run gets a private user profile in a temporary
folder, so parallel runs (and a LibreOffice the analyst has open) do not clash.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from rag_workbook.errors import RagWorkbookError


class RenderError(RagWorkbookError, RuntimeError):
    """LibreOffice or pdftoppm is missing, failed or took too long."""


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


def convert_to_pdf(xlsx: Path, pdf: Path, *, timeout: float = 120) -> Path:
    """Convert a workbook to PDF with headless LibreOffice (every visible sheet is printed).

    Args:
        xlsx: the workbook to convert.
        pdf: the PDF to write (replaced if it exists).
        timeout: seconds to wait for LibreOffice.

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
            "LibreOffice is not installed, so no PDF was written; install LibreOffice "
            "(soffice) or leave out --pdf and print the workbook from Excel"
        )
    xlsx = Path(xlsx)
    pdf = Path(pdf)
    with tempfile.TemporaryDirectory(prefix="rag_workbook_lo_") as tmp:
        profile = Path(tmp) / "profile"
        outdir = Path(tmp) / "out"
        outdir.mkdir()
        command = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outdir),
            str(xlsx.resolve()),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise RenderError(
                f"LibreOffice took over {timeout:g} s to convert {xlsx.name}; try again"
            ) from exc
        except OSError as exc:
            raise RenderError(f"cannot run LibreOffice ({soffice}): {exc}") from exc
        produced = outdir / f"{xlsx.stem}.pdf"
        if done.returncode != 0 or not produced.exists():
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise RenderError(
                f"LibreOffice could not convert {xlsx.name} to PDF"
                + (f": {detail[-1]}" if detail else "")
            )
        from rag_workbook.errors import RagWorkbookError
        from rag_workbook.output import write_atomic

        try:
            # Atomic, as every output: a temporary file beside the PDF, then a rename.
            write_atomic(produced.read_bytes(), pdf)
        except (OSError, RagWorkbookError) as exc:
            raise RenderError(f"cannot write {pdf}: {exc}") from exc
    return pdf


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
