"""The fast writer: the only code that touches xlsxwriter's internals (issue 16).

One module per part, as XlsxWriter is laid out: `rows` (worksheets storing and writing
cells in bulk), `notes` (cell notes placed and written in one pass), `strings` (shared
strings), `package` (zip parts deflated on a thread), `forked` (the Data rows made by a
forked copy), `writer` (a `Book` rendered through them), `internals` (what it needs of
xlsxwriter, checked once).
"""

from __future__ import annotations

from rag_workbook.dashboard.fast.internals import InternalsChanged, problem
from rag_workbook.dashboard.fast.writer import EarlyRows, write_book

__all__ = ["EarlyRows", "InternalsChanged", "problem", "write_book"]
