"""Pausing Python's cyclic garbage collector around bulk work, restored as it was found.

A merge and a dashboard build allocate hundreds of thousands of small, long-lived objects
(values, issues, cells, notes) that form no cycles; the collector's repeated full passes
over them cost about a second of a 2,000-return merge (benchmarks/bench_merge.py). Memory
is still freed by reference counting.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block (or decorated function), then restore it.

    Example:
        >>> with collector_paused():  # doctest: +SKIP
        ...     build_everything()
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
