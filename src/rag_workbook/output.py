"""Writing output files safely: a temporary file beside the target, then one rename.

Input: the finished bytes of a workbook. Output: the file in place, with the usual
permissions of a new file. A crash or a full disk never leaves a half-written file over
the last good one. Used by every stage that writes a workbook (forms, template, dashboard).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rag_workbook.errors import OutputError, OutputLockedError


def write_atomic(data: bytes, path: Path) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it onto `path`.

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
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(
            f"cannot write in {folder}: {exc.strerror}; choose another folder"
        ) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it a new file's usual permissions so
        # that colleagues on a shared drive can open it.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
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
