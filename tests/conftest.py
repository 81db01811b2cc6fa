"""Shared pytest options and skips for tools that may be absent.

- `pytest --update-golden` rewrites checked-in expected outputs (review the diff before
  committing); the `update_golden` fixture tells a test whether it was given.
- Tests needing a real client use the `soffice`, `ssconvert` or `pdftoppm` fixtures (each
  returns the tool's path, or skips the test when it is not installed), or the marker
  `@pytest.mark.requires("soffice", "pdftoppm")`.
"""

from __future__ import annotations

import shutil

import pytest

from rag_workbook.render import find_soffice


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the expected workbooks under tests/fixtures/ instead of comparing",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires(*tools): skip unless every named tool (soffice, ssconvert, ...) is installed",
    )


def tool_path(name: str) -> str | None:
    """Where an external tool is installed, or None (`soffice` also finds `libreoffice`)."""
    if name == "soffice":
        return find_soffice()
    return shutil.which(name)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers(name="requires"):
        missing = [name for name in marker.args if tool_path(name) is None]
        if missing:
            pytest.skip(f"not installed: {', '.join(missing)}")


def _tool_or_skip(name: str) -> str:
    path = tool_path(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when pytest ran with --update-golden."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def soffice() -> str:
    """LibreOffice's soffice, or skip."""
    return _tool_or_skip("soffice")


@pytest.fixture
def ssconvert() -> str:
    """Gnumeric's ssconvert, or skip."""
    return _tool_or_skip("ssconvert")


@pytest.fixture
def pdftoppm() -> str:
    """Poppler's pdftoppm, or skip."""
    return _tool_or_skip("pdftoppm")
