"""The house rules of issue 16 that a reader of src/ relies on."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "rag_workbook"
MAX_LINES = 80  # a function a reader can hold in mind (issue 16, item 6)


def test_no_function_in_src_is_over_80_lines() -> None:
    long: list[tuple[str, str, int]] = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    long.append((str(path.relative_to(SRC)), node.name, lines))
    assert long == []
