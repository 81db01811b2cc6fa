"""rag_workbook: quarterly performance returns in, a committee-ready RAG dashboard out.

The workflow's entry points are importable from the package itself; they are loaded on
first use, so `import rag_workbook` (and `rag-workbook --help`) stays light:

    >>> from rag_workbook import check_returns, merge_to_dashboard  # doctest: +SKIP
    >>> result = check_returns(["returns/"], "templates/dashboard_template.xlsx")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "check_returns": "rag_workbook.pipeline",
    "merge_to_dashboard": "rag_workbook.pipeline",
    "RunResult": "rag_workbook.pipeline",
    "read_template": "rag_workbook.template",
    "find_returns": "rag_workbook.returns",
    "read_return": "rag_workbook.returns",
    "read_returns": "rag_workbook.merge",
    "merge_returns": "rag_workbook.merge",
    "apply_rag": "rag_workbook.rag",
    "write_dashboard": "rag_workbook.dashboard",
    "issue_returns": "rag_workbook.forms",
    "Issue": "rag_workbook.report",
    "Report": "rag_workbook.report",
    "Register": "rag_workbook.model",
    "Measure": "rag_workbook.model",
    "Settings": "rag_workbook.model",
    "Status": "rag_workbook.model",
    "Polarity": "rag_workbook.model",
    "Basis": "rag_workbook.model",
    "RagWorkbookError": "rag_workbook.errors",
    "TemplateError": "rag_workbook.errors",
}

__all__ = [
    "Basis",
    "Issue",
    "Measure",
    "Polarity",
    "RagWorkbookError",
    "Register",
    "Report",
    "RunResult",
    "Settings",
    "Status",
    "TemplateError",
    "__version__",
    "apply_rag",
    "check_returns",
    "find_returns",
    "issue_returns",
    "merge_returns",
    "merge_to_dashboard",
    "read_return",
    "read_returns",
    "read_template",
    "write_dashboard",
]

if TYPE_CHECKING:
    from rag_workbook.dashboard import write_dashboard
    from rag_workbook.errors import RagWorkbookError, TemplateError
    from rag_workbook.forms import issue_returns
    from rag_workbook.merge import merge_returns, read_returns
    from rag_workbook.model import Basis, Measure, Polarity, Register, Settings, Status
    from rag_workbook.pipeline import RunResult, check_returns, merge_to_dashboard
    from rag_workbook.rag import apply_rag
    from rag_workbook.report import Issue, Report
    from rag_workbook.returns import find_returns, read_return
    from rag_workbook.template import read_template


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rag_workbook' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
