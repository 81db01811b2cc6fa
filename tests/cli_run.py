"""Running the real command line from the tests: one helper for every test module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m rag_workbook ARGS` in a child process, its output captured as text; the
    child sees this interpreter's import path, wherever `cwd` is."""
    return subprocess.run(
        [sys.executable, "-m", "rag_workbook", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
