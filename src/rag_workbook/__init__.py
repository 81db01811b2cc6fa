"""rag_workbook: quarterly performance returns in, a committee-ready RAG dashboard out."""

from __future__ import annotations

__version__ = "0.1.0"
