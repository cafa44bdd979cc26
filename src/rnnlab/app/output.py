"""Files the command writes (model bundles, prediction CSVs): checked early, never one of the
command's inputs, written atomically through :mod:`rnnlab.io`, errors turned into
:class:`~rnnlab.app.errors.AppError`."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from rnnlab import io
from rnnlab.app.errors import AppError

__all__ = ["check_not_input", "check_writable", "open_output", "same_file", "write_file"]


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


def same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name one file: the same inode (a hard link, a symlink, another
    spelling of the path) or, when either cannot be looked up, the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_not_input(out, option: str, inputs: dict) -> None:
    """AppError if ``out`` (given as ``option``) is one of ``inputs`` ({option: path}): the
    command never writes over a file it reads."""
    for name, path in inputs.items():
        if path is not None and same_file(out, path):
            raise AppError(f"{option} {str(out)!r} is the same file as {name} {str(path)!r}: "
                           f"rnnlab never writes over one of its inputs; give {option} "
                           "another file name")


def write_file(out, data: bytes) -> None:
    """Write bytes to ``out`` atomically (:func:`rnnlab.io.write_bytes`); errors become AppError
    and leave neither ``out`` changed nor a temporary file behind."""
    out = check_writable(out)
    try:
        io.write_bytes(out, data)
    except OSError as e:
        raise AppError(f"cannot write {str(out)!r}: {e.strerror or e}") from None


@contextlib.contextmanager
def open_output(out):
    """A text file for CSV output (UTF-8, no newline translation) that becomes ``out`` when the
    block ends without error (:func:`rnnlab.io.atomic_write`); on any error ``out`` is left as
    it was and the temporary file is removed."""
    out = check_writable(out)
    try:
        with io.atomic_write(out, "w", encoding="utf-8", newline="") as fh:
            yield fh
    except OSError as e:
        raise AppError(f"cannot write {str(out)!r}: {e.strerror or e}") from None
