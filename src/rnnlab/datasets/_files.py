"""Find, download, cache and verify data files: the one helper behind every loader.

Lookup order for a file ``fname`` (see :func:`get_file`):

1. an explicit ``path`` argument: a file (used as given) or a directory holding ``fname``;
2. ``$RNNLAB_DATA_DIR`` (one directory, or several separated by ``os.pathsep``);
3. the user cache: ``$RNNLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/rnnlab``, else ``~/.cache/rnnlab``;
4. a download from the dataset's canonical URL into the cache.

Verification policy.  A file found *by name* (in a ``path`` directory, the data directory or the
cache) is checked against its SHA-256 when the loader knows one, and a mismatch raises
:class:`ChecksumError` instead of silently training on a different file.  A file passed explicitly
as ``path=<file>`` is trusted as given: the caller chose that exact file (an edited or updated copy
is legitimate).  Digests are remembered per process keyed by ``(real path, size, mtime)``, so
loading the same 12 MB file twice hashes it once, while any change to the file triggers a new check.
A corrupt copy *in the cache* (which rnnlab manages) is downloaded again once, and replaced only
by a copy that passes the check; if that download fails, the error names the corrupt file and how
to fix it, and the cache is left as it was.  Files that cannot be decompressed or decoded (a
truncated archive or CSV) raise :class:`DataFileError` naming the file, never a bare ``EOFError``.

Downloads are atomic: the body is streamed into a temporary file in the destination directory while
being hashed (:func:`rnnlab.io.atomic_write`), checked, and only then moved into place.  Any failure
(network error, timeout, deadline, truncated body, wrong hash, Ctrl-C) removes the temporary file
and any folder the download created, so the cache never holds a partial or corrupt file.  Every
socket operation has a timeout (``timeout``, per connect or read), and the whole download has a
deadline (``deadline``): a server that trickles bytes cannot hang a load.

Extraction (:func:`extract_archive`) checks every member's declared size, the total and the number
of members from the tar headers, and the compressed stream's own checksum, before writing anything;
it enforces the same limits while writing, into a temporary folder moved into place only when
complete.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import http.client
import lzma
import os
import socket
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from tqdm.auto import tqdm

from rnnlab import checks, io

__all__ = [
    "ChecksumError", "DataFileError", "DatasetNotFoundError", "DEFAULT_TIMEOUT", "DEADLINE_GRACE",
    "DEADLINE_MIN_RATE", "MAX_EXTRACT_BYTES", "MAX_EXTRACT_MEMBER_BYTES", "MAX_EXTRACT_MEMBERS",
    "cache_dir", "data_dirs", "sha256sum", "verify", "find_file", "download", "get_file",
    "extract_archive", "drain", "reading", "fix_hint", "make_dirs",
]

DEFAULT_TIMEOUT = 30.0  # seconds per socket operation (connect, each read)
# The default deadline of a whole download: DEADLINE_GRACE seconds, plus one second for every
# DEADLINE_MIN_RATE bytes received.  Any download averaging 64 KiB/s (0.5 Mbit/s) or more finishes;
# one that stalls or trickles ends within about five minutes of its last real progress.
DEADLINE_GRACE = 300.0
DEADLINE_MIN_RATE = 64 * 1024
# Extraction limits (the largest canonical archive, Yelp polarity, holds a 413 MB member and
# 441 MB in all; IMDB's holds 100,000 small files).
MAX_EXTRACT_BYTES = 4 << 30
MAX_EXTRACT_MEMBER_BYTES = 2 << 30
MAX_EXTRACT_MEMBERS = 1_000_000
_CHUNK = 1 << 20
_PROGRESS_MIN_BYTES = 1 << 20  # no bar for files under 1 MiB
_VERIFIED: dict[tuple[str, int, int], str] = {}  # (realpath, size, mtime_ns) -> sha256 hex
# what a truncated or damaged compressed/encoded file raises while being read
_CORRUPT = (EOFError, zlib.error, tarfile.TarError, lzma.LZMAError, UnicodeDecodeError, csv.Error)


class DataFileError(ValueError):
    """A data file that cannot be used: truncated, corrupt, or larger than the extraction limits."""


class ChecksumError(DataFileError):
    """A data file's SHA-256 differs from the published one (corrupt, truncated or another file).

    ``path``, ``expected`` and ``actual`` name the file and both digests."""

    def __init__(self, message, path=None, expected=None, actual=None):
        super().__init__(message)
        self.path, self.expected, self.actual = path, expected, actual


class DatasetNotFoundError(FileNotFoundError):
    """A data file is neither available locally nor downloadable (e.g. offline)."""


def cache_dir() -> Path:
    """The user cache directory for downloads (not created here)."""
    env = os.environ.get("RNNLAB_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "rnnlab"
    return Path.home() / ".cache" / "rnnlab"


def _cache_origin() -> str:
    """What chose :func:`cache_dir`, for error messages."""
    if os.environ.get("RNNLAB_CACHE_DIR"):
        return "set by $RNNLAB_CACHE_DIR"
    if os.environ.get("XDG_CACHE_HOME"):
        return "$XDG_CACHE_HOME/rnnlab, as $RNNLAB_CACHE_DIR is not set"
    return "the default ~/.cache/rnnlab, as $RNNLAB_CACHE_DIR is not set"


def _in_cache(path) -> bool:
    cache = os.path.abspath(cache_dir())
    p = os.path.abspath(path)
    return p == cache or p.startswith(cache + os.sep)


def data_dirs() -> list[Path]:
    """The directories listed in ``$RNNLAB_DATA_DIR`` (empty list when unset)."""
    env = os.environ.get("RNNLAB_DATA_DIR", "")
    return [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]


def make_dirs(folder) -> list[Path]:
    """Create ``folder`` and its missing parents; return the folders created (deepest first).

    A file in the way, or no permission, raises an OSError naming the path and, for the cache,
    what sets it ($RNNLAB_CACHE_DIR), instead of a bare FileExistsError."""
    folder = Path(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (*reversed(folder.parents), folder)
                        if p.exists() and not p.is_dir()), folder)
        what = (f"the rnnlab cache directory {str(cache_dir())!r} ({_cache_origin()})"
                if _in_cache(folder) else f"the folder {str(folder)!r}")
        raise NotADirectoryError(
            f"Cannot use {what}: {str(blocker)!r} is a file, not a directory. Set "
            "$RNNLAB_CACHE_DIR to a directory (or move that file away); a loader's path= "
            "argument reads local copies without the cache.") from None
    except PermissionError as err:
        raise PermissionError(
            f"Cannot create {str(folder)!r} ({err.strerror}). Set $RNNLAB_CACHE_DIR to a "
            f"writable directory (the cache is {_cache_origin()}).") from None
    return created


def _remove_empty(folders) -> None:
    """Remove the folders a failed call created (deepest first), if they are still empty."""
    for d in folders:
        with contextlib.suppress(OSError):
            d.rmdir()


def sha256sum(path) -> str:
    """SHA-256 hex digest of a file, read in chunks; memoised on (real path, size, mtime)."""
    path = Path(path)
    st = path.stat()
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    digest = _VERIFIED.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                h.update(block)
        digest = h.hexdigest()
        _VERIFIED[key] = digest
    return digest


def fix_hint(path, sha256: str | None = None, url: str | None = None) -> str:
    """How to repair a bad data file: delete it (the cache refills itself) or put a good copy."""
    good = f"a good copy (sha256 {sha256.lower()})" if sha256 else "a good copy"
    if _in_cache(path):
        again = f"; it is downloaded again from {url} on the next load" if url else ""
        return f"Delete it{again}, or replace it with {good}."
    return (f"Replace it with {good}, or delete it (loaders then look in $RNNLAB_DATA_DIR and the "
            "cache, and download when they can).")


def verify(path, sha256: str | None, url: str | None = None) -> Path:
    """Raise :class:`ChecksumError` unless ``path`` hashes to ``sha256`` (no check when None)."""
    path = Path(path)
    if sha256 is None:
        return path
    actual = sha256sum(path)
    if actual != sha256.lower():
        raise ChecksumError(
            f"{str(path)!r} is corrupt, truncated or a different version: its sha256 is {actual}, "
            f"expected {sha256.lower()}. {fix_hint(path, sha256, url)}",
            path=path, expected=sha256.lower(), actual=actual)
    return path


def _is_corrupt(err: BaseException) -> bool:
    # gzip.BadGzipFile and bz2's "Invalid data stream" are OSErrors without an errno
    return isinstance(err, _CORRUPT) or (isinstance(err, OSError) and err.errno is None
                                         and not isinstance(err, TimeoutError))


@contextlib.contextmanager
def reading(path, what: str, fix: str | None = None):
    """Turn a decompression or decoding failure while reading ``path`` into :class:`DataFileError`
    naming the file, ``what`` it should be, and ``fix`` (default: :func:`fix_hint`)."""
    try:
        yield
    except DataFileError:
        raise
    except Exception as err:
        if not _is_corrupt(err):
            raise
        raise DataFileError(
            f"{str(path)!r} is not a readable {what}: it is truncated or corrupt "
            f"({type(err).__name__}: {err}). {fix or fix_hint(path)}") from err


def _candidates(fname: str, path, cache_subdir: str) -> list[Path]:
    """Where ``fname`` may live, in lookup order (an explicit ``path`` excludes the others)."""
    if path is not None:
        p = Path(path).expanduser()
        return [p] if p.is_file() else [p / fname]
    places = [d / fname for d in data_dirs()]
    places.append(cache_dir() / cache_subdir / fname)
    return places


def find_file(fname: str, sha256: str | None = None, path=None,
              cache_subdir: str = "", url: str | None = None) -> Path | None:
    """The first local copy of ``fname`` in lookup order (verified, see module doc), or None.

    ``url`` only completes the advice of a :class:`ChecksumError` (where a new copy comes from)."""
    for cand in _candidates(fname, path, cache_subdir):
        if cand.is_file():
            explicit = path is not None and Path(path).expanduser().is_file()
            return cand if explicit else verify(cand, sha256, url)
    return None


def _where_to_put(fname: str, cache_subdir: str) -> str:
    dirs = data_dirs()
    data = (f"$RNNLAB_DATA_DIR (currently {os.pathsep.join(map(str, dirs))})" if dirs
            else "a directory named by $RNNLAB_DATA_DIR")
    return (f"Put {fname!r} in {data}, or in the cache directory "
            f"{str(cache_dir() / cache_subdir)!r} (set $RNNLAB_CACHE_DIR to move it), "
            "or pass path= to the loader.")


def _progress_enabled(progress, total) -> bool:
    if progress is not None:
        return bool(progress)
    big = total is None or total >= _PROGRESS_MIN_BYTES
    return big and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


# ------------------------------------------------------------------------------ deadline
class _Deadline:
    """The time a download may take; past it, a watchdog thread shuts the connection's socket
    down, which wakes a read blocked in any phase (TLS handshake, headers, body) at once.

    It holds a ``dup()`` of each socket: the same socket under its own descriptor, which stays
    valid when the TLS wrap detaches the original object, and is closed when the download ends."""

    def __init__(self, seconds: float | None):
        self.fixed = seconds        # None: the default rule (grace + bytes / minimum rate)
        self.start = time.monotonic()
        self.received = 0
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="rnnlab-download-deadline",
                                        daemon=True)

    def limit(self) -> float:
        if self.fixed is not None:
            return self.fixed
        return DEADLINE_GRACE + self.received / DEADLINE_MIN_RATE

    def passed(self) -> bool:
        return self.expired or time.monotonic() - self.start >= self.limit()

    def describe(self) -> str:
        if self.fixed is not None:
            return f"the {self.fixed:g} s deadline (deadline={self.fixed:g})"
        rate = (f"{DEADLINE_MIN_RATE // 1024} KiB" if DEADLINE_MIN_RATE % 1024 == 0
                else f"{DEADLINE_MIN_RATE:g} bytes")
        return (f"the default deadline ({DEADLINE_GRACE:g} s + 1 s per {rate} received = "
                f"{self.limit():.0f} s)")

    def watch(self, sock) -> None:
        with self._lock:
            dup = sock.dup()
            self._sockets.append(dup)
            if self.expired:
                self._shutdown(dup)

    @staticmethod
    def _shutdown(sock) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def _watch(self) -> None:
        while not self._done.wait(max(0.0, self.start + self.limit() - time.monotonic())):
            if self.passed():
                with self._lock:
                    self.expired = True
                    for sock in self._sockets:
                        self._shutdown(sock)
                return

    def __enter__(self):
        if self.fixed != float("inf"):
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


class _WatchedHTTP(http.client.HTTPConnection):
    """An HTTP connection that hands its socket to a download's deadline once connected."""

    deadline: _Deadline | None = None

    def connect(self):
        super().connect()
        if self.deadline is not None:
            self.deadline.watch(self.sock)


class _WatchedHTTPS(http.client.HTTPSConnection, _WatchedHTTP):
    """HTTPS: the raw TCP socket is watched (MRO: the TLS wrap happens around _WatchedHTTP)."""


def _factory(cls, deadline):
    def make(host, **kwargs):
        conn = cls(host, **kwargs)
        conn.deadline = deadline
        return conn
    return make


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline):
        super().__init__()
        self._rnnlab_deadline = deadline

    def http_open(self, req):
        return self.do_open(_factory(_WatchedHTTP, self._rnnlab_deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline):
        super().__init__()
        self._rnnlab_deadline = deadline

    def https_open(self, req):  # the default SSL context, as urllib.request.urlopen uses
        return self.do_open(_factory(_WatchedHTTPS, self._rnnlab_deadline), req)


def _urlopen(req, timeout: float, deadline: _Deadline):
    """``urllib.request.urlopen`` (proxies and redirects included) under ``deadline``."""
    opener = urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline))
    return opener.open(req, timeout=timeout)


class _DeadlinePassed(OSError):
    pass


def _check_deadline(deadline, name: str) -> float | None:
    if deadline is None:
        return None
    value = checks.number(deadline, "deadline", who=name, finite=False)
    if not value > 0:
        raise ValueError(f"{name} deadline must be a number of seconds > 0 (or None for the "
                         f"default), got {deadline!r}")
    return value


def download(url: str, dest, sha256: str | None = None, timeout: float = DEFAULT_TIMEOUT,
             progress: bool | None = None, deadline: float | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its SHA-256 (see module doc).

    ``timeout`` bounds each socket operation; ``deadline`` the whole download, in seconds (None:
    :data:`DEADLINE_GRACE` plus one second per :data:`DEADLINE_MIN_RATE` bytes received;
    ``float("inf")``: no deadline).  Network failures and a passed deadline raise
    :class:`DatasetNotFoundError` naming the URL, a wrong hash :class:`ChecksumError`; in every
    failure case ``dest`` is left as it was (an existing file is only replaced by a verified
    download) and no temporary file or new folder is left behind.  ``progress``: True/False
    forces the tqdm bar on/off; None shows it for large files when stderr is a terminal.
    """
    timeout = checks.positive_number(timeout, "timeout", who="download()")
    fixed = _check_deadline(deadline, "download()")
    dest = Path(dest)
    created = make_dirs(dest.parent)
    n, total = 0, None
    clock = _Deadline(fixed)
    try:
        h = hashlib.sha256()
        # the body lands in a temporary file beside dest, moved over it only if every check passes
        with clock, io.atomic_write(dest, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": "rnnlab"})
            with _urlopen(req, timeout, clock) as resp:
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=dest.name, disable=not _progress_enabled(progress, total)) as bar:
                    while True:
                        if n != total and clock.passed():
                            raise _DeadlinePassed()
                        # read1: what has arrived (one receive), so the deadline is checked often
                        block = resp.read1(_CHUNK) if hasattr(resp, "read1") else resp.read(_CHUNK)
                        if not block:
                            break
                        out.write(block)
                        h.update(block)
                        n += len(block)
                        clock.received = n
                        bar.update(len(block))
            if clock.expired and n != total:  # the watchdog cut the body short
                raise _DeadlinePassed()
            if total is not None and n != total:
                raise http.client.IncompleteRead(b"", total - n)
            actual = h.hexdigest()
            if sha256 is not None and actual != sha256.lower():
                raise ChecksumError(
                    f"Checksum mismatch for {dest.name!r} downloaded from {url}: expected sha256 "
                    f"{sha256.lower()}, got {actual}. Nothing was saved.",
                    path=None, expected=sha256.lower(), actual=actual)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        _remove_empty(created)
        # HTTP errors, timeouts, refused connections, DNS failures, truncated bodies, deadline
        reason = f"{type(err).__name__}: {getattr(err, 'reason', None) or err}"
        if isinstance(err, _DeadlinePassed) or (clock.expired and n != total):
            reason = (f"no complete response within {clock.describe()}: {n:,} of "
                      f"{'?' if total is None else f'{total:,}'} bytes received; pass "
                      "deadline= (seconds) to allow longer")
        elif isinstance(err, http.client.IncompleteRead):
            reason = f"truncated body, got {n} of {total} bytes"
        exc = DatasetNotFoundError(
            f"Could not download {dest.name!r} from {url} ({reason}). Put {dest.name!r} in "
            f"$RNNLAB_DATA_DIR or in {str(dest.parent)!r} by hand to work offline.")
        exc.reason = reason
        raise exc from err
    except BaseException:
        _remove_empty(created)
        raise
    _VERIFIED[(os.path.realpath(dest), dest.stat().st_size, dest.stat().st_mtime_ns)] = actual
    return dest


def _refetch(corrupt: ChecksumError, url: str, sha256: str, **kwargs) -> Path:
    """Download a fresh copy over a corrupt cached file, once; it is replaced only if the new copy
    passes the check, otherwise the error says what is wrong and how to fix it."""
    dest = Path(corrupt.path)
    try:
        return download(url, dest, sha256, **kwargs)
    except (DatasetNotFoundError, ChecksumError) as err:
        why = getattr(err, "reason", None) or (f"the new copy's sha256 is {err.actual}"
                                               if isinstance(err, ChecksumError) else err)
        raise ChecksumError(
            f"The cached {str(dest)!r} is corrupt or truncated (sha256 {corrupt.actual}, "
            f"expected {sha256.lower()}) and downloading a fresh copy from {url} failed ({why}); "
            "the cached file was left as it was. Delete it to download it again when the "
            f"address is reachable, or replace it with a good copy (sha256 {sha256.lower()}), "
            "or put one in $RNNLAB_DATA_DIR.",
            path=dest, expected=corrupt.expected, actual=corrupt.actual) from err


def get_file(fname: str, sha256: str | None, url: str | None, path=None, cache_subdir: str = "",
             extract: bool = False, timeout: float = DEFAULT_TIMEOUT,
             progress: bool | None = None, deadline: float | None = None) -> Path:
    """Path of a local, verified copy of ``fname``, downloading it into the cache if needed.

    ``sha256=None`` skips the hash check (only for files published without one).  ``url=None``
    means the file cannot be downloaded.  An explicit ``path`` that lacks the file is an error (the
    other places are not searched).  A corrupt copy in the cache is downloaded again once (see the
    module doc).  ``timeout`` (per socket operation) and ``deadline`` (the whole download) are
    those of :func:`download`.  ``extract=True`` unpacks a tar archive into the cache and returns
    the extraction directory instead (see :func:`extract_archive` and its size limits; a rejected
    extraction also removes an archive this call downloaded, so the cache is left as it was).
    """
    if not isinstance(fname, str) or not fname or os.path.basename(fname) != fname:
        raise ValueError(f"fname must be a non-empty file name, got {fname!r}")
    timeout = checks.positive_number(timeout, "timeout", who="get_file()")
    deadline = _check_deadline(deadline, "get_file()")
    fetch = {"timeout": timeout, "progress": progress, "deadline": deadline}
    dest = cache_dir() / cache_subdir / fname
    new_dirs = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    fetched = False
    try:
        found = find_file(fname, sha256, path, cache_subdir, url)
    except ChecksumError as err:
        if path is not None or url is None or err.path != dest:
            raise
        found = _refetch(err, url, sha256, **fetch)
    if found is None:
        if path is not None:
            raise DatasetNotFoundError(
                f"{fname!r} not found at the given path {str(path)!r}. Pass the file itself or a "
                "directory that contains it, or path=None to search $RNNLAB_DATA_DIR and the "
                "cache.")
        if url is None:
            raise DatasetNotFoundError(
                f"{fname!r} not found and it has no download address. "
                f"{_where_to_put(fname, cache_subdir)}")
        try:
            found = download(url, dest, sha256, **fetch)
            fetched = True
        except DatasetNotFoundError as err:
            looked = ", ".join(str(c) for c in _candidates(fname, None, cache_subdir))
            raise DatasetNotFoundError(
                f"Data file {fname!r} is missing (looked in: {looked}) and the download from {url} "
                f"failed ({getattr(err, 'reason', err)}). {_where_to_put(fname, cache_subdir)}"
            ) from err
    if not extract:
        return found
    try:
        return extract_archive(found, cache_dir() / cache_subdir)
    except Exception:
        if fetched:
            found.unlink(missing_ok=True)
            _remove_empty(new_dirs)
        raise


# ------------------------------------------------------------------------------ extraction
def drain(tar: tarfile.TarFile) -> None:
    """Read a tar's compressed stream to its end, so that its checksum (gzip's CRC-32, xz's check)
    is verified: tarfile stops at the end-of-archive marker, before the trailer, and damage inside
    a stored (uncompressed) block would otherwise go unnoticed."""
    while tar.fileobj.read(_CHUNK):
        pass


def _archive_stem(name: str) -> str:
    for ext in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name + ".d"


def _checked_members(tar: tarfile.TarFile, where: str, max_bytes: int,
                     max_member_bytes: int) -> list[tarfile.TarInfo]:
    """The members, from their headers only: refuse absolute paths, ``..``, links and devices (a
    malicious archive must not write outside), and sizes or counts beyond the limits."""
    members, total, files, dirs = [], 0, set(), set()
    for m in tar:
        parts = Path(m.name).parts
        if (m.name.startswith(("/", "\\")) or Path(m.name).is_absolute() or ".." in parts
                or not (m.isfile() or m.isdir())):
            raise DataFileError(f"{where}: refusing unsafe archive member {m.name!r} (absolute "
                                "path, '..', link or device)")
        if (parts in (dirs if m.isfile() else files)
                or any(parts[:i] in files for i in range(1, len(parts)))):
            raise DataFileError(f"{where}: member {m.name!r} clashes with an earlier member (a "
                                "file and a folder of the same name)")
        (files if m.isfile() else dirs).add(parts)
        if m.size > max_member_bytes:
            raise DataFileError(f"{where}: member {m.name!r} would extract to {m.size:,} bytes, "
                                f"over the limit of {max_member_bytes:,} per member "
                                "(max_member_bytes=); nothing was extracted")
        total += m.size
        if total > max_bytes:
            raise DataFileError(f"{where}: the members would extract to more than {max_bytes:,} "
                                "bytes in all (max_bytes=); nothing was extracted")
        members.append(m)
        if len(members) > MAX_EXTRACT_MEMBERS:
            raise DataFileError(f"{where}: more than {MAX_EXTRACT_MEMBERS:,} members "
                                "(MAX_EXTRACT_MEMBERS); nothing was extracted")
    return members


def _write_members(tar, members, into: Path, where: str, max_bytes: int,
                   max_member_bytes: int) -> None:
    """Write the checked members under ``into``, counting bytes as they are written (a member's
    data may not exceed what its header declared, nor the limits)."""
    total = 0
    for m in members:
        out_path = into.joinpath(*Path(m.name).parts)
        if m.isdir():
            out_path.mkdir(parents=True, exist_ok=True)
            continue
        out_path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        src = tar.extractfile(m)
        with src, open(out_path, "wb") as out:  # mode from the umask: no setuid or exec bits
            for block in iter(lambda: src.read(_CHUNK), b""):
                written += len(block)
                total += len(block)
                if written > min(m.size, max_member_bytes) or total > max_bytes:
                    raise DataFileError(f"{where}: member {m.name!r} holds more data than "
                                        "declared or allowed; nothing was extracted")
                out.write(block)


def extract_archive(archive, into, max_bytes: int = MAX_EXTRACT_BYTES,
                    max_member_bytes: int = MAX_EXTRACT_MEMBER_BYTES) -> Path:
    """Unpack a tar archive into ``into/<archive stem>`` once, atomically; return that directory.

    Regular files and folders only.  The sizes in the headers are checked against
    ``max_member_bytes`` (each member) and ``max_bytes`` (all of them), and the member count against
    :data:`MAX_EXTRACT_MEMBERS`, before anything is written; the same limits are enforced while
    writing.  Everything goes to a temporary folder moved into place at the end, so a refused,
    corrupt or interrupted extraction leaves nothing behind (:class:`DataFileError` names the
    archive and the limit).
    """
    max_bytes = checks.integer(max_bytes, "max_bytes", low=0, who="extract_archive()")
    max_member_bytes = checks.integer(max_member_bytes, "max_member_bytes", low=0,
                                      who="extract_archive()")
    archive = Path(archive)
    target = Path(into) / _archive_stem(archive.name)
    if target.is_dir():
        return target
    where = repr(str(archive))
    created = make_dirs(into)
    try:
        with reading(archive, "tar archive"), tarfile.open(archive) as tar:
            members = _checked_members(tar, where, max_bytes, max_member_bytes)
            drain(tar)
            with io.atomic_directory(target) as tmp:
                _write_members(tar, members, tmp, where, max_bytes, max_member_bytes)
    except BaseException:
        _remove_empty(created)
        raise
    return target

