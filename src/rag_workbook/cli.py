"""Command line: arguments, progress, exit codes; the stages do the work.

Exit status: 0 written (or clean check), 1 the inputs had errors (`--strict`: warnings
too), 2 usage or template error, or the output could not be written. Heavy libraries
(numpy, xlsxwriter) are imported inside the commands so that `--help` answers fast; pandas
only when a frame is asked for.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from rag_workbook import __version__
from rag_workbook.errors import RagWorkbookError, TemplateError
from rag_workbook.model import Severity
from rag_workbook.report import Code, Issue, Report

if TYPE_CHECKING:
    from rag_workbook.model import Register
    from rag_workbook.pipeline import RunResult

EXIT_OK, EXIT_ISSUES, EXIT_CANNOT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 130
PROGRESS_MIN_FILES = 20


class _Progress:
    """A progress bar on stderr for long reads; silent for a handful of files."""

    def __init__(self, quiet: bool, stream: TextIO) -> None:
        self._quiet = quiet
        self._stream = stream
        self._bar: Any = None

    def found(self, total: int) -> None:
        if self._quiet or total < PROGRESS_MIN_FILES:
            return
        from tqdm import tqdm

        class _Bar(tqdm):  # type: ignore[type-arg]
            # No monitor thread: a bar of steady updates does not need one, and a thread
            # left running keeps the dashboard from forking its Data rows' writer.
            monitor_interval = 0

        self._bar = _Bar(
            total=total,
            unit="file",
            desc="Reading returns",
            file=self._stream,
            disable=None,  # no bar when stderr is not a terminal (logs, CI)
        )

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def pdf(self, measures: int) -> None:
        """Say that the PDF is being made, and how long a large one takes (about a minute
        for every 1,000 measures); on a terminal only, as the bar."""
        self.close()
        if self._quiet or not self._stream.isatty():
            return
        wait = f" ({measures:,} measures: about {measures / 1000:.0f} minutes)"
        print(f"Writing the PDF with LibreOffice{wait if measures >= 1500 else ''}...",
              file=self._stream, flush=True)  # fmt: skip

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextmanager
def _cannot_run(report_json: Path | None = None) -> Iterator[None]:
    """Turn a failure to run into a one-line message and exit status 2, never a traceback.

    A template refused for problems in it prints each problem (code, sheet, cell), and
    `report_json` receives them as the report's issues.
    """
    try:
        yield
    except TemplateError as exc:
        if not exc.issues:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_CANNOT_RUN)
        click.echo(f"error: {str(exc).splitlines()[0].rstrip(':')}", err=True)
        report = Report(exc.issues).sorted()
        _print_report(report, limit=len(report))
        if report_json is not None:
            payload = {"version": __version__, "issues": report.to_list(), "output": None}
            with contextlib.suppress(OSError):
                report_json.write_text(
                    json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
                )
        sys.exit(EXIT_CANNOT_RUN)
    except RagWorkbookError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CANNOT_RUN)
    except KeyboardInterrupt:
        click.echo("interrupted; an existing output is left as it was", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # A bug of ours, not bad input: say so in one paragraph; the traceback is for
        # whoever fixes it (RAG_WORKBOOK_DEBUG=1).
        if os.environ.get("RAG_WORKBOOK_DEBUG"):
            raise
        click.echo(
            f"error: rag-workbook failed unexpectedly ({type(exc).__name__}: {exc}).\n"
            "This is a bug in rag-workbook, not in your files; please report it with the "
            "command you ran. Run again with RAG_WORKBOOK_DEBUG=1 for the details.",
            err=True,
        )
        sys.exit(EXIT_CANNOT_RUN)


def _plural(count: int, word: str) -> str:
    """'1 error', '2 errors'; 'info' is the same for one or many."""
    if count == 1 or word == str(Severity.INFO):
        return f"{count} {word}"
    return f"{count} {word}s"


def _chase_lines(report: Report, register: Register | None) -> list[str]:
    """One line per lead of the `no-return` issues, grouped by the lead (register order)."""
    chase: dict[tuple[str, str, str], list[str]] = {}
    for issue in report.issues:
        if issue.code != Code.NO_RETURN:
            continue
        measure = register.measure(issue.measure_id) if register is not None else None
        key = (
            (measure.lead or "the theme lead", measure.lead_email, measure.theme)
            if measure is not None
            else ("the theme lead", "", "")
        )
        chase.setdefault(key, []).append(issue.measure_id)
    lines = []
    for (lead, email, theme), measure_ids in chase.items():
        who = f"{lead} <{email}>" if email else lead
        what = f" ({theme})" if theme else ""
        lines.append(f"chase {who}{what}: no return for {', '.join(measure_ids)}")
    return lines


def _print_report(report: Report, *, limit: int, register: Register | None = None) -> None:
    """Worst first: errors, warnings, the chase list (a line per lead), then notes."""
    ordered = [i for i in report.sorted().issues if i.code != Code.NO_RETURN]
    shown = 0
    for severity in (Severity.ERROR, Severity.WARNING):
        for issue in (i for i in ordered if i.severity == severity):
            if shown < limit:
                click.echo(f"  {issue.severity:<7} {issue}", err=True)
            shown += 1
    for line in _chase_lines(report, register):
        click.echo(f"  {Severity.WARNING:<7} {line}", err=True)
    for issue in (i for i in ordered if i.severity == Severity.INFO):
        if shown < limit:
            click.echo(f"  {issue.severity:<7} {issue}", err=True)
        shown += 1
    if shown > limit:
        click.echo(
            f"  ... and {shown - limit} more (see the Issues sheet or --report-json)",
            err=True,
        )


def _summary(result: RunResult) -> str:
    from rag_workbook import columns as c

    read = sum(1 for r in result.returns if r.readable)
    refused = len(result.returns) - read
    counts = Counter(status for status in result.columns[c.STATUS] if status)
    statuses = ", ".join(f"{s} {counts.get(s, 0)}" for s in ("Green", "Amber", "Red", "No data"))
    report = result.report
    lines = [
        f"Returns read: {read}" + (f" ({refused} refused)" if refused else ""),
        f"Measures: {len(result.register.measures)} in {len(result.register.themes)} themes; "
        f"reporting quarter: {result.quarter or 'none'}",
        f"Statuses: {statuses}",
        "Issues: "
        + ", ".join(_plural(report.count(s), str(s)) for s in (Severity.ERROR, Severity.WARNING))
        + f", {_plural(report.count(Severity.INFO), str(Severity.INFO))}",
    ]
    if result.output is not None:
        lines.append(f"Dashboard: {result.output}")
    if result.kept is not None:
        lines.append(
            f"Dashboard: not written, as no return could be read; {result.kept} is left as it was"
        )
    if result.pdf is not None:
        lines.append(f"PDF: {result.pdf}")
    if result.chase_csv is not None:
        lines.append(f"Chase list: {result.chase_csv}")
    return "\n".join(lines)


def _write_report_json(path: Path, result: RunResult) -> None:
    payload = {
        "version": __version__,
        "quarter": result.quarter,
        "returns": [
            {"file": r.file, "sha256": r.sha256, "theme": r.theme, "readable": r.readable}
            for r in result.returns
        ],
        "issues": result.report.sorted().to_list(),
        "output": str(result.output) if result.output else None,
        "kept": str(result.kept) if result.kept else None,
    }
    from rag_workbook.output import write_atomic

    data = (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True)
        write_atomic(data, path)
    except (OSError, RagWorkbookError) as exc:
        reason = str(exc) if isinstance(exc, RagWorkbookError) else exc.strerror or str(exc)
        click.echo(f"error: cannot write the JSON report {path}: {reason}", err=True)
        sys.exit(EXIT_CANNOT_RUN)


def _finish(result: RunResult, *, strict: bool, report_json: Path | None, limit: int) -> None:
    if len(result.report):
        click.echo("Issues found:", err=True)
        _print_report(result.report, limit=limit, register=result.register)
    if report_json is not None:
        _write_report_json(report_json, result)
    click.echo(_summary(result))
    sys.exit(EXIT_ISSUES if result.report.blocks(strict=strict) else EXIT_OK)


@contextmanager
def _native_stderr_silenced() -> Iterator[TextIO]:
    """Send file descriptor 2 to /dev/null while returns are parsed; yield the real stderr.

    python-calamine's Rust code prints a panic message and backtrace straight to fd 2 on
    some broken files before the reader turns the panic into an issue; the analyst must
    see the issue, not a backtrace. Python-level errors still reach the terminal, because
    fd 2 is restored before any exception propagates.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded, captured): nothing to silence
        yield sys.stderr
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    real = os.fdopen(os.dup(saved), "w", encoding=sys.stderr.encoding or "utf-8", errors="replace")
    os.dup2(devnull, 2)
    try:
        yield real
    finally:
        real.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        real.close()


def _end_children() -> None:
    """Kill every worker process this run started (pool workers, fallback readers)."""
    import multiprocessing
    import signal

    from rag_workbook.returns import end_fallback_readers

    end_fallback_readers()
    children = multiprocessing.active_children()
    # SIGINT first: a forked worker ends its own fallback reader and exits (see
    # _interrupts_end_promptly); whatever is still running a moment later is killed.
    for child in children:
        with contextlib.suppress(OSError, TypeError):
            os.kill(child.pid, signal.SIGINT)  # type: ignore[arg-type]
    for child in children:  # reaped, so that none is left even as a zombie
        with contextlib.suppress(OSError, ValueError, AssertionError):
            child.join(timeout=0.3)
            if child.is_alive():
                child.kill()
                child.join(timeout=0.5)


@contextmanager
def _interrupts_end_promptly() -> Iterator[None]:
    """Ctrl-C ends the run at once: workers are killed and KeyboardInterrupt raised here
    (exit 130, through _cannot_run); a second Ctrl-C ends the process outright.

    Waiting for a process pool to finish its batches took 15-33 s; worker processes
    forked from here end themselves on the same Ctrl-C instead of finishing their batch.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    main_pid = os.getpid()
    interrupted = False

    def on_interrupt(signum: int, frame: object) -> None:
        nonlocal interrupted
        if os.getpid() != main_pid:  # a forked worker: the main process answers
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process may send one more
            with contextlib.suppress(Exception):
                from rag_workbook.returns import end_fallback_readers

                end_fallback_readers()
            os._exit(EXIT_INTERRUPTED)
        interrupted = True
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a second Ctrl-C ends at once
        _end_children()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        if not interrupted and os.getpid() == main_pid:
            signal.signal(signal.SIGINT, previous)


def _run(step: Callable[..., RunResult], *args: Any, quiet: bool, **kwargs: Any) -> RunResult:
    with _interrupts_end_promptly(), _native_stderr_silenced() as stderr:
        bar = _Progress(quiet, stderr)
        if kwargs.get("pdf"):
            kwargs["on_pdf"] = bar.pdf
        try:
            return step(*args, progress=bar.advance, on_found=bar.found, **kwargs)
        finally:
            bar.close()


_template_option = click.option(
    "--template",
    "-t",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The analyst's template workbook (Settings and Measures sheets).",
)
_strict_option = click.option(
    "--strict", is_flag=True, help="Treat warnings as errors for the exit status."
)
_jobs_option = click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=lambda: os.cpu_count() or 1,
    show_default="the number of CPU cores",
    help="Worker processes for reading; a pool starts only from 200 files, where it pays.",
)
_json_option = click.option(
    "--report-json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every issue and input file as JSON here.",
)
_quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
_limit_option = click.option(
    "--show",
    "limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="How many issues to print on the terminal.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="rag-workbook")
def cli() -> None:
    """Turn quarterly performance returns into a committee-ready RAG dashboard workbook.

    \b
    Typical quarter:
      rag-workbook returns issue --template template.xlsx --out returns-to-send/
      rag-workbook check returns/ --template template.xlsx
      rag-workbook merge returns/ --template template.xlsx --out dashboard.xlsx --pdf

    \b
    Exit status: 0 written (or a clean check); 1 the returns had errors
    (--strict: warnings too); 2 usage or template error, or output not written.
    """


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("stockton-demo"),
    show_default=True,
    help="Folder to write the demo's template, returns and dashboard into.",
)
@click.option("--pdf", is_flag=True, help="Also write dashboard.pdf (needs LibreOffice).")
def demo(out_dir: Path, pdf: bool) -> None:
    """Run the worked Safer Stockton 2011/12 example end to end.

    Its last year, 2010/11, is a dashboard the tool made, given as --last-year.
    """
    with _cannot_run():
        from rag_workbook.demo import copy_demo_inputs, copy_last_year
        from rag_workbook.pipeline import merge_to_dashboard

        template, returns_dir = copy_demo_inputs(out_dir)
        last_year = copy_last_year(out_dir)
        click.echo(f"Template: {template}\nReturns: {returns_dir}\nLast year: {last_year}")
        result = _run(
            merge_to_dashboard,
            [returns_dir],
            template,
            out_dir / "dashboard.xlsx",
            pdf=pdf,
            last_year=last_year,
            quiet=False,
        )
    _finish(result, strict=False, report_json=None, limit=50)


@cli.group()
def returns() -> None:
    """Return workbooks for theme leads."""


@returns.command("issue")
@_template_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write one return workbook per theme into.",
)
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A previous dashboard; its values pre-fill earlier quarters.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite a return of the same name that differs from the blank form "
    "(a lead's filled return); without it such a file is kept and named.",
)
def issue(template: Path, out_dir: Path, previous: Path | None, force: bool) -> None:
    """Write one return workbook per theme, ready to e-mail to its lead.

    A file of the same name that differs from the blank form (a lead's filled return)
    is never replaced unless --force is given: that theme is skipped, named, and the
    exit status is 1.
    """
    skipped: list[Path] = []
    with _cannot_run():
        from rag_workbook.forms import issue_returns, return_file_name
        from rag_workbook.pipeline import guard_outputs
        from rag_workbook.template import read_template

        register = read_template(template)
        guard_outputs(
            [("--out", out_dir / return_file_name(register, t)) for t in register.themes],
            template=template,
            previous=previous,
        )
        written = issue_returns(
            register, out_dir, previous=previous, force=force, on_skip=skipped.append
        )
    for path in written:
        click.echo(f"  {path}")
    click.echo(f"Wrote {_plural(len(written), 'return workbook')} to {out_dir}")
    if skipped:
        for path in skipped:
            kept = Issue.of(
                Code.RETURN_KEPT,
                "the file differs from the blank form (a lead may have filled it in), "
                "so it was not replaced",
                file=str(path),
            )
            click.echo(f"  {kept.severity:<7} {kept}", err=True)
        sys.exit(EXIT_ISSUES)


_last_year_option = click.option(
    "--last-year",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Last year's dashboard: each measure's value and status in the same quarter.",
)
_as_of_option = click.option(
    "--as-of",
    callback=lambda ctx, param, value: _as_of(value),
    metavar="DATE",
    help="The run's date (YYYY-MM-DD) for the days overdue; default today. Reruns with the "
    "same --as-of give the same bytes.",
)


@cli.command(short_help="Read and check RETURNS; write no workbook.")
@click.argument("inputs", nargs=-1, required=True, metavar="RETURNS...")
@_template_option
@_last_year_option
@_as_of_option
@_strict_option
@_jobs_option
@_json_option
@_quiet_option
@_limit_option
def check(
    inputs: Sequence[str],
    template: Path,
    last_year: Path | None,
    as_of: str,
    strict: bool,
    jobs: int,
    report_json: Path | None,
    quiet: bool,
    limit: int,
) -> None:
    """Read and check RETURNS (files, folders or globs); write no workbook."""
    with _cannot_run(report_json):
        from rag_workbook.pipeline import check_returns

        result = _run(
            check_returns,
            list(inputs),
            template,
            jobs=jobs,
            last_year=last_year,
            as_of=as_of,
            quiet=quiet,
            outputs=[("--report-json", report_json)] if report_json is not None else [],
        )
    _finish(result, strict=strict, report_json=report_json, limit=limit)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, metavar="RETURNS...")
@_template_option
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The dashboard workbook to write (.xlsx).",
)
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A previous dashboard; its values fill quarters that no return gives.",
)
@_last_year_option
@_as_of_option
@click.option(
    "--chase-csv",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the chase list as CSV, one row per lead, for a mail merge.",
)
@_strict_option
@_jobs_option
@click.option("--pdf", is_flag=True, help="Also write a PDF beside it (needs LibreOffice).")
@click.option(
    "--writer",
    type=click.Choice(["auto", "plain", "fast"]),
    default="auto",
    show_default=True,
    help="Which writer renders the dashboard (the same workbook either way): plain uses only"
    " xlsxwriter's public API; fast is quicker on big collections; auto takes fast where it pays.",
)
@_json_option
@_quiet_option
@_limit_option
def merge(
    inputs: Sequence[str],
    template: Path,
    out: Path,
    previous: Path | None,
    last_year: Path | None,
    as_of: str,
    chase_csv: Path | None,
    strict: bool,
    jobs: int,
    pdf: bool,
    writer: str,
    report_json: Path | None,
    quiet: bool,
    limit: int,
) -> None:
    """Read, check and merge RETURNS into a RAG dashboard workbook."""
    if out.suffix.lower() != ".xlsx":
        raise click.BadParameter("the dashboard must be an .xlsx file", param_hint="--out")
    with _cannot_run(report_json):
        from rag_workbook.pipeline import merge_to_dashboard

        result = _run(
            merge_to_dashboard,
            list(inputs),
            template,
            out,
            jobs=jobs,
            pdf=pdf,
            previous=previous,
            last_year=last_year,
            as_of=as_of,
            chase_csv=chase_csv,
            writer=writer,
            quiet=quiet,
            outputs=[("--report-json", report_json)] if report_json is not None else [],
        )
    _finish(result, strict=strict, report_json=report_json, limit=limit)


def _as_of(value: str | None) -> str:
    """--as-of: an ISO date (YYYY-MM-DD), or '' for today."""
    if not value:
        return ""
    import datetime as dt

    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date; give it as YYYY-MM-DD", param_hint="--as-of"
        ) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line with `argv` (default: the process's arguments); exits via SystemExit."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="rag-workbook")


def script() -> NoReturn:
    """Entry point of the `rag-workbook` console script and `python -m rag_workbook`.

    `main` with the cyclic garbage collector off, then the exit handlers, then the process
    ends without the interpreter's teardown: freeing a national merge's millions of
    objects one by one (and a last full garbage collection over them) took 0.2-0.35 s
    after the work was done (issue 6). Everything is written and flushed by then; the
    operating system frees the rest.
    """
    # The cyclic collector stays off for the whole run: the pipeline pauses it anyway, and
    # a full pass over a big merge's objects when the pipeline hands back (0.2-0.3 s at
    # 2,000 returns) would only precede the exit. Reference counting still frees memory.
    gc.disable()
    # numpy's OpenBLAS starts a thread per core at import, which spins for a while and
    # doubles the import's processor time (0.25 s against 0.13 s), taken from the workers
    # reading returns meanwhile; nothing here multiplies matrices. A user's setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message") prints the message and exits 1
        print(code, file=sys.stderr)
        status = 1
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`| head`) or stream: nothing left to save.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
