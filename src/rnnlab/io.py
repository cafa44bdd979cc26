"""File output, once for the whole library: atomic writes and checked zip archives.

Every file rnnlab writes (models, weights, CLI bundles, reports, downloaded or converted data)
goes through :func:`atomic_write`: the bytes land in a temporary file in the destination folder,
are flushed to disk (``fsync``), and only then replace the destination with :func:`os.replace`.
A crash or an error at any point leaves the old file (or no file) in place, never half a file.
A process killed mid-write cannot remove its temporary file; the next write of the same target
does (see :func:`remove_stale_temps`).

An *archive* is a zip of named members plus ``manifest.json`` with each member's SHA-256, so that
a truncated or modified file is refused when read (:func:`read_archive`, :class:`ArchiveReader`).
Members are read with a size limit checked against the zip header before inflating and enforced
while inflating, so a hostile archive cannot make a reader inflate gigabytes; JSON is read with a
nesting limit (:func:`load_json`).
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; stale temporary files are then found by age
    fcntl = None

#: Seconds without a change after which a temporary file that no writer can be shown to own (an
#: older rnnlab's name, or a filesystem without locks) is taken as left over by a killed writer.
STALE_TEMP_AGE = 24 * 3600
#: The most a single archive member may inflate to when read (a guard against zip bombs), unless
#: the reader gives a tighter limit (a model file derives each member's limit from its config).
MAX_MEMBER_BYTES = 4 << 30
#: The most an archive's manifest (names and SHA-256 digests) may inflate to.
MAX_MANIFEST_BYTES = 1 << 20
#: How deeply arrays and objects may nest in a JSON document read by :func:`load_json`.
MAX_JSON_DEPTH = 64
_CHUNK = 1 << 20


class ArchiveError(ValueError):
    """A file that is not a valid rnnlab archive (truncated, modified, or not an archive)."""


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _lock(fd) -> str:
    """Try an exclusive advisory lock on ``fd`` without waiting: "locked", "busy" (another open
    file holds one) or "none" (no locks here: Windows, or a filesystem without them)."""
    if fcntl is None:
        return "none"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return "busy"
    except OSError:
        return "none"
    return "locked"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (POSIX only: the caller checks ``fcntl`` first)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:       # PermissionError: it exists, under another user
        return True
    return True


def _same_file(fd, path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _remove_if_stale(path: str, pid: int | None) -> bool:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False
        lock = _lock(fd)
        if lock == "busy":                     # a live writer holds it
            return False
        idle = time.time() - info.st_mtime
        if lock == "locked" and pid is not None:
            # every writer locks its temporary file as it creates it, so a free lock means the
            # writer is gone, unless it is between creating and locking (it is alive then, and
            # atomic_write checks the file is still there once locked)
            stale = not _alive(pid) or idle > STALE_TEMP_AGE
        else:
            stale = idle > STALE_TEMP_AGE
        if stale and _same_file(fd, path):
            os.unlink(path)
            return True
        return False
    finally:
        os.close(fd)


def remove_stale_temps(path) -> list[str]:
    """Remove the temporary files that earlier writes of ``path`` left beside it when they were
    killed mid-write; return their names.

    Only files named exactly as :func:`atomic_write` names its temporary files for this target
    are candidates, and one is removed only when no live writer owns it: its lock is free and
    its writer's process (the pid in its name) is gone.  Without locks (or for an older rnnlab's
    names, which carry no pid) a file must also be unchanged for :data:`STALE_TEMP_AGE` seconds.
    Errors are ignored: cleaning up never makes a write fail."""
    path = Path(os.fspath(path))
    prefix = f".{path.name}."
    ours = re.compile(re.escape(prefix) + r"(\d+)-[a-z0-9_]{8}\.part")
    legacy = re.compile(re.escape(prefix) + r"[a-z0-9_]{8}\.part")  # mkstemp's, no pid
    removed = []
    try:
        entries = [e for e in os.scandir(path.absolute().parent) if e.name.startswith(prefix)]
    except OSError:
        return removed
    for entry in entries:
        match = ours.fullmatch(entry.name)
        if match is None and legacy.fullmatch(entry.name) is None:
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and _remove_if_stale(
                    entry.path, int(match.group(1)) if match else None):
                removed.append(entry.name)
    return removed


def _locked_temp(folder: Path, name: str):
    """A new temporary file ``.NAME.PID-XXXXXXXX.part`` in ``folder`` as ``(fd, path, locked)``,
    locked (where locks exist) so that no other process's clean-up takes it for a killed
    writer's."""
    for _ in range(100):
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}-", suffix=".part", dir=folder)
        lock = _lock(fd)
        if lock == "none" or (lock == "locked" and _same_file(fd, tmp)):
            return fd, tmp, lock == "locked"
        # another process's clean-up held or removed it in the instant before it was locked
        os.close(fd)
        if lock == "busy":
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    raise OSError(f"Cannot create a temporary file for {name!r} in {str(folder)!r}")


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", encoding: str | None = None, newline: str | None = None):
    """Open a temporary file beside ``path`` for writing; on success fsync it and move it over
    ``path``; on any error remove it and leave ``path`` as it was.

    The temporary file (``.NAME.PID-XXXXXXXX.part``) is locked until it has been moved, and the
    ones that killed writers of the same ``path`` left behind are removed first
    (:func:`remove_stale_temps`).  FileNotFoundError names the missing folder (folders are not
    created here: a wrong output path should be an error, not a new directory tree)."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', got {mode!r}")
    path = Path(os.fspath(path))
    folder = path.absolute().parent
    if not folder.is_dir():
        raise FileNotFoundError(f"Cannot write {str(path)!r}: "
                                f"folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"Cannot write {str(path)!r}: it is a directory")
    remove_stale_temps(path)
    fd, tmp, locked = _locked_temp(folder, path.name)
    try:
        # written through a duplicate, the lock (held by ``fd``) lasts until the file is moved
        with os.fdopen(os.dup(fd) if locked else fd, mode, encoding=encoding,
                       newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes 0600; give a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        if locked:
            os.close(fd)


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def write_text(path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)


@contextlib.contextmanager
def atomic_directory(target):
    """Yield a temporary folder beside ``target``; on success move it to ``target`` (which must
    not exist yet), on error remove it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ------------------------------------------------------------------------------ archives
def archive_bytes(members: dict[str, bytes]) -> bytes:
    """A zip of ``members`` plus ``manifest.json`` holding each member's SHA-256."""
    if "manifest.json" in members:
        raise ValueError("'manifest.json' is reserved for the archive's own manifest")
    members = dict(members)
    members["manifest.json"] = json.dumps({n: sha256_hex(d) for n, d in members.items()}).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def write_archive(path, members: dict[str, bytes]) -> None:
    """Write :func:`archive_bytes` of ``members`` to ``path`` atomically."""
    write_bytes(path, archive_bytes(members))


class ArchiveReader:
    """An archive opened for reading its members one at a time, each with its own size limit.

    Opening reads and checks only the manifest (its size is bounded, its names must be exactly the
    other members', each once).  :meth:`read` refuses a member whose declared (zip header) size is
    over the caller's limit before inflating anything, stops inflating at the limit whatever the
    header says, and checks the member's SHA-256.  So a reader that derives each limit from what it
    expects (a model file: from its config) spends at most that much memory on a hostile file.
    Every failure is an :class:`ArchiveError` (FileNotFoundError if there is no such file)."""

    def __init__(self, source, what: str = "archive"):
        self.what = what
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.where, opened = "<bytes>", io.BytesIO(source)
        else:
            path = os.fspath(source)
            if not os.path.exists(path):
                raise FileNotFoundError(f"No {what} at {path!r}")
            self.where, opened = repr(path), path
        self._zf = self._guard(lambda: zipfile.ZipFile(opened))
        try:
            self._infos = self._guard(self._index)
            self._manifest = self._read_manifest()
        except BaseException:
            self._zf.close()
            raise

    # ------------------------------------------------------------------ opening
    def _guard(self, action):
        """``action()``, any failure of the zip machinery (bad headers, CRC, EOF, an "encrypted"
        flag, an unknown compression method, a bad seek...) as one ArchiveError."""
        try:
            return action()
        except ArchiveError:
            raise
        except Exception as exc:  # zipfile raises a dozen types on crafted bytes
            raise ArchiveError(f"{self.where} is not a readable rnnlab {self.what} (truncated or "
                               f"corrupted?): {type(exc).__name__}: {exc}") from None

    def _index(self) -> dict:
        infos = {}
        for info in self._zf.infolist():
            if info.filename in infos:
                raise ArchiveError(f"{self.where}: member {info.filename!r} appears twice "
                                   "(file modified?)")
            infos[info.filename] = info
        return infos

    def _read_manifest(self) -> dict:
        if "manifest.json" not in self._infos:
            raise ArchiveError(f"{self.where} is not an rnnlab {self.what} (no manifest)")
        data = self._inflate("manifest.json", MAX_MANIFEST_BYTES)
        try:
            manifest = load_json(data, "manifest.json", max_depth=2)
        except ValueError as exc:
            raise ArchiveError(f"{self.where}: {exc}") from None
        names = set(self._infos) - {"manifest.json"}
        if not isinstance(manifest, dict) or set(manifest) != names:
            raise ArchiveError(f"{self.where}: members {sorted(names)} do not match the manifest "
                               "(file modified?)")
        if not all(isinstance(d, str) for d in manifest.values()):
            raise ArchiveError(f"{self.where}: the manifest holds something other than SHA-256 "
                               "digests (file modified?)")
        return manifest

    # ------------------------------------------------------------------ reading
    @property
    def names(self) -> list[str]:
        """The members' names, the manifest excepted."""
        return sorted(self._manifest)

    def size(self, name: str) -> int:
        """The uncompressed size that member ``name``'s zip header declares (not yet checked)."""
        return self._infos[name].file_size

    def packed_size(self, name: str) -> int:
        """The compressed size of member ``name`` in the file (bounded by the file's size)."""
        return self._infos[name].compress_size

    def read(self, name: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
        """Member ``name``'s bytes, refused (ArchiveError) if it is or would inflate to more than
        ``limit`` bytes or fails its SHA-256 check."""
        if name not in self._manifest:
            raise ArchiveError(f"{self.where} has no member {name!r}")
        data = self._inflate(name, limit)
        if sha256_hex(data) != self._manifest[name]:
            raise ArchiveError(f"{self.where}: {name} fails its SHA-256 check (file modified or "
                               "corrupted)")
        return data

    def _inflate(self, name: str, limit: int) -> bytes:
        info = self._infos[name]
        if info.file_size > limit:
            raise ArchiveError(f"{self.where}: member {name!r} would inflate to "
                               f"{info.file_size:,} bytes, more than the {limit:,} it may hold")

        def inflate():
            chunks, total = [], 0
            with self._zf.open(info) as fh:
                while True:
                    chunk = fh.read(min(_CHUNK, limit + 1 - total))
                    if not chunk:
                        return b"".join(chunks)
                    chunks.append(chunk)
                    total += len(chunk)
                    if total > limit:
                        raise ArchiveError(f"{self.where}: member {name!r} inflates to more than "
                                           f"{limit:,} bytes")
        return self._guard(inflate)

    def close(self) -> None:
        self._zf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_archive(source, what: str = "archive", limits: dict[str, int] | None = None
                 ) -> dict[str, bytes]:
    """All members of an archive written by :func:`archive_bytes` (a path, or the bytes
    themselves), each checked against the manifest and read with its limit from ``limits``
    (name -> bytes; :data:`MAX_MEMBER_BYTES` for the others); :class:`ArchiveError` if anything
    is off, FileNotFoundError if there is no such file.  See :class:`ArchiveReader` to read
    members one by one (limits that depend on an earlier member)."""
    limits = limits or {}
    with ArchiveReader(source, what) as archive:
        return {name: archive.read(name, limits.get(name, MAX_MEMBER_BYTES))
                for name in archive.names}


# ------------------------------------------------------------------------------ JSON
def load_json(data, what: str, max_depth: int = MAX_JSON_DEPTH):
    """``json.loads(data)``, refusing (ValueError naming ``what``) invalid JSON and documents
    nested deeper than ``max_depth`` arrays/objects: a hostile document cannot make a reader
    recurse until RecursionError."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise ValueError(f"{what} is nested deeper than {max_depth} levels") from None
    except (TypeError, ValueError) as exc:       # UnicodeDecodeError is a ValueError
        raise ValueError(f"{what} is not valid JSON: {exc}") from None
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise ValueError(f"{what} is nested deeper than {max_depth} levels")
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                 else item))
    return value
