"""Writing output files safely: a temporary file beside the target, then one rename.

Input: the finished bytes of a file (a workbook, a JSON report, a PDF). Output: the file in
place, with the usual permissions of a new file. A crash or a full disk never leaves a
half-written file over the last good one, and a temporary file left by a run that was
killed is removed by the next run that writes in the same folder. Also `same_file`, the
one test of whether two paths name one file, which the command line's guards use so that
an output never replaces an input. Used by every stage that writes (forms, template,
dashboard, render, the command line).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

from rag_workbook.errors import OutputError, OutputLockedError

try:  # POSIX: a temporary file being written is locked, so a later run can tell it is live
    import fcntl
except ImportError:  # pragma: no cover - Windows: an open file cannot be removed anyway
    fcntl = None  # type: ignore[assignment]

# The names of our temporary files: `.` + the target's name (cut to fit) + `.` + mkstemp's
# eight random characters + `.tmp`.
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
_TEMP_SUFFIX = ".tmp"
_RANDOM_CHARS = 8  # what mkstemp puts between prefix and suffix


def _name_max(folder: Path) -> int:
    """The longest file name the folder's file system takes, in bytes (255 where unknown)."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _temp_prefix(name: str, limit: int) -> str:
    """`.NAME.`, with NAME cut (on a character boundary) so the whole temporary name fits."""
    room = limit - len(".") - len(".") - _RANDOM_CHARS - len(_TEMP_SUFFIX)
    encoded = os.fsencode(name)
    if len(encoded) > room:
        name = os.fsdecode(encoded[: max(room, 1)])
        # A character cut in two decodes to escaped bytes at the end: drop them.
        while name and "\udc80" <= name[-1] <= "\udcff":
            name = name[:-1]
    return f".{name}."


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files that killed runs left in `folder`; return those removed.

    A file is removed only when no process holds it open for writing: each writer locks
    its temporary file (fcntl) until it is renamed, and a lock dies with its process.
    Without fcntl (Windows) an open file cannot be removed, which is the same guarantee.

    Example:
        >>> remove_stale_temporaries(Path("out"))  # doctest: +SKIP
        [PosixPath('out/.dashboard.xlsx.k2j4h6g8.tmp')]
    """
    removed: list[Path] = []
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if _TEMP_NAME.match(e.name) and e.is_file()]
    except OSError:
        return removed
    for name in names:
        path = folder / name
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # another run is writing it right now
            if _just_made(fd):
                continue  # a writer between mkstemp and its lock: it waits for ours to go
            path.unlink()
            removed.append(path)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


_JUST_MADE_SECONDS = 60.0


def _just_made(fd: int) -> bool:
    """Whether the temporary file is empty and new: a writer may have made it (mkstemp) and
    not yet locked it. Only a run killed in that instant leaves such a file, and a run a
    minute later removes it."""
    import time

    st = os.fstat(fd)
    return st.st_size == 0 and time.time() - st.st_mtime < _JUST_MADE_SECONDS


def write_atomic(data: bytes, path: Path) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it onto `path`.

    Stale temporary files of killed runs in the same folder are removed first. The
    temporary name is cut to fit the file system's limit, so any name the file system
    takes for `path` works.

    Args:
        data: the bytes to write.
        path: the target file; its folder must exist.

    Returns:
        `path`.

    Raises:
        OutputLockedError: the rename was refused (the file is open in Excel).
        OutputError: the folder is missing or cannot be written.

    Example:
        >>> write_atomic(b"...", Path("dashboard.xlsx"))  # doctest: +SKIP
        PosixPath('dashboard.xlsx')
    """
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"folder {folder} does not exist; create it or choose another --out")
    remove_stale_temporaries(folder)
    prefix = _temp_prefix(path.name, _name_max(folder))
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=_TEMP_SUFFIX)
    except OSError as exc:
        raise OutputError(
            f"cannot write in {folder}: {exc.strerror}; choose another folder"
        ) from exc
    tmp = Path(tmp_name)
    try:
        if fcntl is not None:
            # Blocking: a cleaner that took the lock first sees a new, empty file and lets
            # it go at once (_just_made).
            with contextlib.suppress(OSError):  # a file system without locks: no matter
                fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            # mkstemp makes the file private (0600); give it a new file's usual
            # permissions so that colleagues on a shared drive can open it.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            if fcntl is not None:
                # Renamed while still open and locked: no cleaner can take it in between.
                os.replace(tmp, path)
        if fcntl is None:  # Windows renames only a closed file
            os.replace(tmp, path)
    except PermissionError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputLockedError(f"close {path.name} in Excel and run again") from exc
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file `path` leads to, through any links; None if there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: the same file through any symlink, hard link or
    relative path, or a case-insensitive twin on such a file system; or, when neither
    exists yet, the same absolute path (compared without regard to case, to be safe).

    Example:
        >>> same_file(Path("out/../returns/ASB.xlsx"), Path("returns/ASB.xlsx"))  # doctest: +SKIP
        True
    """
    ida, idb = file_identity(a), file_identity(b)
    if ida is not None and idb is not None:
        return ida == idb
    if ida is not None or idb is not None:
        return False  # one exists and the other does not: different files
    real_a = os.path.normcase(os.path.realpath(a))
    real_b = os.path.normcase(os.path.realpath(b))
    if real_a == real_b:
        return True
    if real_a.casefold() != real_b.casefold():
        return False
    return _ignores_case(Path(real_a).parent)


def _ignores_case(folder: Path) -> bool:
    """Whether names in `folder` are told apart without regard to case (True when that
    cannot be told: the safe answer for a guard)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    twin = probe.parent / probe.name.swapcase()
    if probe.name == twin.name:  # no letters to swap: ask the file system directly
        with contextlib.suppress(OSError, ValueError):
            return bool(os.pathconf(probe, "PC_CASE_INSENSITIVE"))  # macOS
        return True
    identity = file_identity(twin)
    return identity is not None and identity == file_identity(probe)
