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

Downloads are atomic: the body is streamed into a temporary file in the destination directory while
being hashed (:func:`rnnlab.io.atomic_write`), checked, and only then moved into place.  Any failure
(network error, timeout, truncated body, wrong hash, Ctrl-C) removes the temporary file, so the
cache never holds a partial or corrupt file.  Every socket operation has a timeout, so a silent
server cannot hang a load.  Archives published without a checksum (the IMDB and Yelp archives) pass
``sha256=None``: their downloads are checked for completeness against ``Content-Length`` only.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from rnnlab import io

__all__ = [
    "ChecksumError", "DatasetNotFoundError", "DEFAULT_TIMEOUT", "cache_dir", "data_dirs",
    "sha256sum", "verify", "find_file", "download", "get_file", "extract_archive",
]

DEFAULT_TIMEOUT = 30.0  # seconds per socket operation (connect, each read)
_CHUNK = 1 << 20
_PROGRESS_MIN_BYTES = 1 << 20  # no bar for files under 1 MiB
_VERIFIED: dict[tuple[str, int, int], str] = {}  # (realpath, size, mtime_ns) -> sha256 hex


class ChecksumError(ValueError):
    """A data file's SHA-256 differs from the published one (corrupt, truncated or another file)."""


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


def data_dirs() -> list[Path]:
    """The directories listed in ``$RNNLAB_DATA_DIR`` (empty list when unset)."""
    env = os.environ.get("RNNLAB_DATA_DIR", "")
    return [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]


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


def verify(path, sha256: str | None) -> Path:
    """Raise :class:`ChecksumError` unless ``path`` hashes to ``sha256`` (no check when None)."""
    path = Path(path)
    if sha256 is None:
        return path
    actual = sha256sum(path)
    if actual != sha256.lower():
        raise ChecksumError(
            f"Checksum mismatch for {str(path)!r}: expected sha256 {sha256.lower()}, got {actual}. "
            "The file is corrupt, truncated or a different version; delete or replace it.")
    return path


def _candidates(fname: str, path, cache_subdir: str) -> list[Path]:
    """Where ``fname`` may live, in lookup order (an explicit ``path`` excludes the others)."""
    if path is not None:
        p = Path(path).expanduser()
        return [p] if p.is_file() else [p / fname]
    places = [d / fname for d in data_dirs()]
    places.append(cache_dir() / cache_subdir / fname)
    return places


def find_file(fname: str, sha256: str | None = None, path=None,
              cache_subdir: str = "") -> Path | None:
    """The first local copy of ``fname`` in lookup order (verified, see module doc), or None."""
    for cand in _candidates(fname, path, cache_subdir):
        if cand.is_file():
            explicit = path is not None and Path(path).expanduser().is_file()
            return cand if explicit else verify(cand, sha256)
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


def download(url: str, dest, sha256: str | None = None, timeout: float = DEFAULT_TIMEOUT,
             progress: bool | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its SHA-256 (see module doc).

    Network failures raise :class:`DatasetNotFoundError`, a wrong hash :class:`ChecksumError`; in
    every failure case neither ``dest`` nor a temporary file is left behind.  ``progress``:
    True/False forces the tqdm bar on/off; None shows it for large files when stderr is a terminal.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    n, total = 0, None
    try:
        h = hashlib.sha256()
        # the body lands in a temporary file beside dest, moved over it only if every check passes
        with io.atomic_write(dest, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": "rnnlab"})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=dest.name, disable=not _progress_enabled(progress, total)) as bar:
                    for block in iter(lambda: resp.read(_CHUNK), b""):
                        out.write(block)
                        h.update(block)
                        n += len(block)
                        bar.update(len(block))
            if total is not None and n != total:
                raise http.client.IncompleteRead(b"", total - n)
            actual = h.hexdigest()
            if sha256 is not None and actual != sha256.lower():
                raise ChecksumError(
                    f"Checksum mismatch for {dest.name!r} downloaded from {url}: expected sha256 "
                    f"{sha256.lower()}, got {actual}. Nothing was saved.")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        # HTTP errors, timeouts, refused connections, DNS failures, truncated bodies
        reason = f"{type(err).__name__}: {getattr(err, 'reason', None) or err}"
        if isinstance(err, http.client.IncompleteRead):
            reason = f"truncated body, got {n} of {total} bytes"
        exc = DatasetNotFoundError(
            f"Could not download {dest.name!r} from {url} ({reason}). Put {dest.name!r} in "
            f"$RNNLAB_DATA_DIR or in {str(dest.parent)!r} by hand to work offline.")
        exc.reason = reason
        raise exc from err
    _VERIFIED[(os.path.realpath(dest), dest.stat().st_size, dest.stat().st_mtime_ns)] = actual
    return dest


def get_file(fname: str, sha256: str | None, url: str | None, path=None, cache_subdir: str = "",
             extract: bool = False, timeout: float = DEFAULT_TIMEOUT,
             progress: bool | None = None) -> Path:
    """Path of a local, verified copy of ``fname``, downloading it into the cache if needed.

    ``sha256=None`` skips the hash check (only for archives published without one).  ``url=None``
    means the file cannot be downloaded.  An explicit ``path`` that lacks the file is an error (the
    other places are not searched).  ``extract=True`` unpacks a tar archive into the cache and
    returns the extraction directory instead (see :func:`extract_archive`).
    """
    if not isinstance(fname, str) or not fname:
        raise ValueError(f"fname must be a non-empty file name, got {fname!r}")
    found = find_file(fname, sha256, path, cache_subdir)
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
        dest = cache_dir() / cache_subdir / fname
        try:
            found = download(url, dest, sha256, timeout=timeout, progress=progress)
        except DatasetNotFoundError as err:
            looked = ", ".join(str(c) for c in _candidates(fname, None, cache_subdir))
            raise DatasetNotFoundError(
                f"Data file {fname!r} is missing (looked in: {looked}) and the download from {url} "
                f"failed ({getattr(err, 'reason', err)}). {_where_to_put(fname, cache_subdir)}"
            ) from err
    return extract_archive(found, cache_dir() / cache_subdir) if extract else found


def _archive_stem(name: str) -> str:
    for ext in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name + ".d"


def _safe_members(tar: tarfile.TarFile):
    """Reject absolute paths, ``..`` and links (a malicious archive must not write outside)."""
    for m in tar.getmembers():
        parts = Path(m.name).parts
        if m.name.startswith(("/", "\\")) or ".." in parts or m.issym() or m.islnk() or m.isdev():
            raise ValueError(f"Refusing unsafe archive member {m.name!r}")
        yield m


def extract_archive(archive, into) -> Path:
    """Unpack a tar archive into ``into/<archive stem>`` once, atomically; return that directory."""
    archive = Path(archive)
    target = Path(into) / _archive_stem(archive.name)
    if target.is_dir():
        return target
    with io.atomic_directory(target) as tmp:
        with tarfile.open(archive) as tar:
            members = list(_safe_members(tar))
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: also sanitise permissions
                tar.extractall(tmp, members=members, filter="data")
            else:
                tar.extractall(tmp, members=members)
    return target
