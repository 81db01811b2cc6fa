"""The worked Safer Stockton 2011/12 example shipped with the package.

Input: the bundled template and returns (package data, built by scripts/build_stockton.py)
and last year's (2010/11) dashboard (built by scripts/build_stockton_2010_11.py with this
tool). Output: copies of them in a folder of the user's, ready for `merge --last-year`.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from rag_workbook.errors import OutputError

TEMPLATE_NAME = "stockton_template.xlsx"
LAST_YEAR_NAME = "stockton_dashboard_2010-11.xlsx"


def copy_demo_inputs(out_dir: str | Path) -> tuple[Path, Path]:
    """Copy the Stockton template and returns into `out_dir`.

    Args:
        out_dir: the folder to create (or reuse); its `returns/` files of the same
            names are replaced.

    Returns:
        The template's path and the returns folder.

    Raises:
        OutputError: the folder cannot be written.

    Example:
        >>> template, returns_dir = copy_demo_inputs("stockton-demo")  # doctest: +SKIP
    """
    out = Path(out_dir)
    data = resources.files("rag_workbook") / "data"
    try:
        returns_dir = out / "returns"
        returns_dir.mkdir(parents=True, exist_ok=True)
        template = out / "template.xlsx"
        with resources.as_file(data / TEMPLATE_NAME) as src:
            shutil.copyfile(src, template)
        for item in sorted((data / "returns").iterdir(), key=lambda t: t.name):
            if item.name.endswith(".xlsx"):
                with resources.as_file(item) as src:
                    shutil.copyfile(src, returns_dir / item.name)
    except OSError as exc:
        raise OutputError(f"cannot write the demo into {out}: {exc.strerror or exc}") from exc
    return template, returns_dir


def copy_last_year(out_dir: str | Path) -> Path:
    """Copy last year's (2010/11) Stockton dashboard into `out_dir`, for `--last-year`.

    Raises:
        OutputError: the folder cannot be written.

    Example:
        >>> copy_last_year("stockton-demo")  # doctest: +SKIP
        PosixPath('stockton-demo/dashboard_2010-11.xlsx')
    """
    out = Path(out_dir)
    target = out / "dashboard_2010-11.xlsx"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with resources.as_file(resources.files("rag_workbook") / "data" / LAST_YEAR_NAME) as src:
            shutil.copyfile(src, target)
    except OSError as exc:
        raise OutputError(f"cannot write the demo into {out}: {exc.strerror or exc}") from exc
    return target
