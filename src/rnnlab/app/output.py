"""Files the command writes (model bundles, prediction CSVs): checked early, written atomically
through :mod:`rnnlab.io`, errors turned into :class:`~rnnlab.app.errors.AppError`."""
from __future__ import annotations

import os
from pathlib import Path

from rnnlab import io
from rnnlab.app.errors import AppError

__all__ = ["check_writable", "write_file"]


def check_writable(out) -> Path:
    """Fail early (before training) when ``out`` cannot be written."""
    out = Path(out)
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise AppError(f"output {str(out)!r} is a directory; give a file name")
    if not folder.is_dir():
        raise AppError(f"cannot write {str(out)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise AppError(f"cannot write {str(out)!r}: permission denied")
    return out


def write_file(out, data: bytes) -> None:
    """Write bytes to ``out`` atomically (:func:`rnnlab.io.write_bytes`); errors become AppError
    and leave neither ``out`` changed nor a temporary file behind."""
    out = check_writable(out)
    try:
        io.write_bytes(out, data)
    except OSError as e:
        raise AppError(f"cannot write {str(out)!r}: {e.strerror or e}") from None
