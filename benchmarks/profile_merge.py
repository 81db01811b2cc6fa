"""Time each stage of the merge in one process, and optionally profile one of them.

Uses the corpus bench_merge.py generates (benchmarks/_work/n{N}/). Run from the
repository root:

    python benchmarks/profile_merge.py --n 2000
    python benchmarks/profile_merge.py --n 2000 --profile read      # cProfile, top 30
    python benchmarks/profile_merge.py --n 2000 --profile all --sort tottime
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_merge

from rag_workbook.gcpause import collector_paused

STAGES = ("imports", "template", "find", "read", "merge", "rag", "dashboard")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--profile", choices=(*STAGES, "all"), help="cProfile this stage")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    corpus = bench_merge.generate(args.n)
    profiler = cProfile.Profile()
    times: dict[str, float] = {}
    state: dict[str, Any] = {}

    def stage(name: str, run: Callable[[], Any]) -> Any:
        on = args.profile in (name, "all")
        started = time.perf_counter()
        if on:
            profiler.enable()
        with collector_paused():  # as the pipeline runs every stage
            result = run()
        if on:
            profiler.disable()
        times[name] = time.perf_counter() - started
        return result

    def imports() -> None:
        import numpy  # noqa: F401
        import xlsxwriter  # noqa: F401

        from rag_workbook import dashboard, merge, rag, returns, template  # noqa: F401

    stage("imports", imports)
    from rag_workbook.dashboard import InputFile, write_dashboard
    from rag_workbook.merge import merge_returns, read_returns
    from rag_workbook.rag import rate_columns
    from rag_workbook.returns import find_returns
    from rag_workbook.template import read_template

    register = stage("template", lambda: read_template(corpus.template))
    paths, found = stage("find", lambda: find_returns([corpus.returns]))
    data = stage("read", lambda: read_returns(paths, register, jobs=args.jobs))
    merged = stage("merge", lambda: merge_returns(data, register))
    # As the command line does: the columns as lists, no DataFrame (pandas is not imported).
    rated, report = stage("rag", lambda: rate_columns(merged.columns, register))
    frame = {**merged.columns, **rated}
    with tempfile.TemporaryDirectory() as tmp:
        state["out"] = Path(tmp) / "dashboard.xlsx"
        stage(
            "dashboard",
            lambda: write_dashboard(
                frame,
                register,
                found + merged.report + report,
                state["out"],
                inputs=[InputFile.from_return(r) for r in merged.returns],
            ),
        )
    total = sum(times.values())
    rows = len(frame["measure_id"])
    print(f"N = {args.n}: {rows} frame rows, {len(merged.report) + len(report)} issues")
    for name in STAGES:
        print(f"  {name:<10} {times[name]:7.3f} s  {times[name] / total:5.1%}")
    print(f"  {'total':<10} {total:7.3f} s (in process, interpreter start not included)")
    if args.profile:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
