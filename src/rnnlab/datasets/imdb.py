"""Large Movie Review Dataset v1.0 (Maas et al., ACL 2011): 25,000 train + 25,000 test reviews.

Read from ``imdb_train.csv.gz`` / ``imdb_test.csv.gz`` (columns ``label`` 0/1, ``rating`` 1-10,
``text``), found through the shared lookup (path, ``$RNNLAB_DATA_DIR``, cache) and SHA-256 verified.
Without them, the authors' archive ``aclImdb_v1.tar.gz`` is used (found locally or downloaded) and
converted once into the same CSV form under ``<cache>/imdb-from-archive/``.  The archive found by
name or downloaded is checked against its published SHA-256 (:data:`ARCHIVE_SHA256`, 84,125,825
bytes), so a truncated copy in the cache is downloaded again once instead of failing on every
load; an archive passed as ``path=<file>`` is trusted as given.  The converted CSVs are not
compared with the shared data README's hashes (their bytes differ: row order, gzip header); one
that cannot be read raises :class:`~rnnlab.datasets.DataFileError` saying to delete it (it is
rebuilt from the archive).
"""
from __future__ import annotations

import contextlib
import csv
import gzip
import io
import re
import tarfile
from pathlib import Path

import numpy as np

from rnnlab import checks, config
from rnnlab import io as rio
from rnnlab.datasets._files import (
                                    DataFileError,
                                    DatasetNotFoundError,
                                    cache_dir,
                                    drain,
                                    find_file,
                                    fix_hint,
                                    get_file,
                                    make_dirs,
                                    reading,
)

__all__ = ["FILES", "ARCHIVE", "ARCHIVE_URL", "ARCHIVE_SHA256", "CONVERTED_SUBDIR", "load_data",
           "convert_archive"]

FILES = {
    "train": ("imdb_train.csv.gz",
              "70f9407c7eadbf92e6e1105c9f461d492d41294315f59426a7f08c46ded94f6e"),
    "test": ("imdb_test.csv.gz",
             "8ed80cbf36658ae057489d5ce3c1bb099e378e9d4f08868b8b758bfb3bd02aca"),
}
ARCHIVE = "aclImdb_v1.tar.gz"
ARCHIVE_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
ARCHIVE_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
CONVERTED_SUBDIR = "imdb-from-archive"
# what convert_archive reads into memory: the longest review of the set is about 14 KB
MAX_REVIEW_BYTES = 1 << 20
MAX_REVIEWS_BYTES = 1 << 30
_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def _csv_fix(file: Path) -> str:
    if file.parent == cache_dir() / CONVERTED_SUBDIR:
        return f"Delete it: it is rebuilt from {ARCHIVE} on the next load."
    sha = next((h for f, h in FILES.values() if f == file.name), None)
    return fix_hint(file, sha)


def _read_csv(file: Path):
    texts, labels, ratings = [], [], []
    with reading(file, "gzipped IMDB CSV", _csv_fix(file)), \
            gzip.open(file, "rt", newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["label", "rating", "text"]:
            raise DataFileError(f"{str(file)!r}: expected columns label,rating,text, got "
                                f"{header}. {_csv_fix(file)}")
        for row in reader:
            if len(row) != 3 or not (row[0] in ("0", "1") and row[1].isdigit()):
                raise DataFileError(f"{str(file)!r} line {reader.line_num}: expected a 0/1 label, "
                                    f"a rating and a text, got {row[:2]!r}. {_csv_fix(file)}")
            labels.append(int(row[0]))
            ratings.append(int(row[1]))
            texts.append(row[2])
    return texts, np.array(labels, dtype=np.int64), np.array(ratings, dtype=np.int64)


@contextlib.contextmanager
def _csv_writer(dest: Path):
    """A csv.writer into a gzipped CSV written atomically (in place only if the block succeeds)."""
    with rio.atomic_write(dest, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8", newline="") as f:
        yield csv.writer(f)


def convert_archive(source, out_dir) -> dict:
    """Convert ``aclImdb`` (the .tar.gz or its extracted folder) into the two CSV.gz files.

    Takes ``{train,test}/{pos,neg}/<id>_<rating>.txt`` (``unsup`` and the rest are ignored): label 1
    for pos, 0 for neg, rating from the file name; rows ordered neg then pos, by id.  Returns
    ``{"train": path, "test": path}``.  A review over :data:`MAX_REVIEW_BYTES` (checked from the
    tar header before it is read) or reviews over :data:`MAX_REVIEWS_BYTES` in all, a truncated
    archive or a non-UTF-8 review raise :class:`~rnnlab.datasets.DataFileError`; both CSVs are
    written only once everything has been read, so a failure leaves ``out_dir`` as it was.
    """
    source, out_dir = Path(source), Path(out_dir)
    found = {"train": [], "test": []}
    total = 0

    def add(name, size, read):
        nonlocal total
        m = _MEMBER.search(name)
        if m:
            total += size
            if size > MAX_REVIEW_BYTES or total > MAX_REVIEWS_BYTES:
                raise DataFileError(f"{str(source)!r}: review {name!r} ({size:,} bytes) is over "
                                    f"the limit of {MAX_REVIEW_BYTES:,} bytes per review and "
                                    f"{MAX_REVIEWS_BYTES:,} in all: not the aclImdb data")
            split, pol, idx, rating = m.groups()
            with reading(f"{source}:{name}", "UTF-8 review", fix_hint(source, None)):
                text = read().decode("utf-8")
            found[split].append((pol == "pos", int(idx), int(pol == "pos"), int(rating), text))

    with reading(source, f"{ARCHIVE} archive", fix_hint(source, ARCHIVE_SHA256, ARCHIVE_URL)):
        if source.is_dir():
            for p in sorted(source.rglob("*.txt")):
                add(p.relative_to(source).as_posix(), p.stat().st_size, p.read_bytes)
        else:
            with tarfile.open(source) as tar:
                for m in tar:  # streaming: members are read in archive order
                    if m.isfile():
                        add(m.name, m.size, lambda m=m: tar.extractfile(m).read())
                drain(tar)  # the gzip CRC: damage in a stored block is caught here
    for split, rows in found.items():
        if not rows:
            raise ValueError(f"{str(source)!r} has no {split}/pos or {split}/neg reviews: "
                             "not an aclImdb archive")
        rows.sort(key=lambda r: (r[0], r[1]))
    out = {split: out_dir / FILES[split][0] for split in found}
    created = make_dirs(out_dir)
    try:
        # both files are replaced together at the end (one after the other), or neither
        with contextlib.ExitStack() as stack:
            for split, rows in found.items():
                w = stack.enter_context(_csv_writer(out[split]))
                w.writerow(["label", "rating", "text"])
                w.writerows(r[2:] for r in rows)
    except BaseException:
        for d in created:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    return out


def _locate(path):
    """Paths of the train/test CSVs, converting the archive into the cache when needed."""
    p = Path(path).expanduser() if path is not None else None
    if p is not None and p.is_file():
        with reading(p, f"{ARCHIVE} archive", fix_hint(p, ARCHIVE_SHA256)):
            is_tar = tarfile.is_tarfile(p)
        if not is_tar:
            raise ValueError(f"path={str(path)!r} is a file but not the {ARCHIVE} archive: pass "
                             "the directory holding imdb_train.csv.gz and imdb_test.csv.gz")
        return convert_archive(p, cache_dir() / CONVERTED_SUBDIR)
    csvs = {s: find_file(f, sha, path) for s, (f, sha) in FILES.items()}
    if all(csvs.values()):
        return csvs
    if path is None:
        converted = cache_dir() / CONVERTED_SUBDIR
        csvs = {s: find_file(f, None, converted) for s, (f, _) in FILES.items()}
        if all(csvs.values()):
            return csvs
    if p is not None and p.is_dir() and (p / "train").is_dir() and (p / "test").is_dir():
        return convert_archive(p, cache_dir() / CONVERTED_SUBDIR)  # an extracted aclImdb folder
    cached = cache_dir() / ARCHIVE
    was_cached = cached.is_file()
    try:
        archive = get_file(ARCHIVE, ARCHIVE_SHA256, ARCHIVE_URL, path=path)
    except DatasetNotFoundError as err:
        missing = [FILES[s][0] for s in FILES if not csvs[s]]
        raise DatasetNotFoundError(
            f"IMDB data not found: {missing} (or the archive {ARCHIVE}). {err}") from err
    try:
        return convert_archive(archive, cache_dir() / CONVERTED_SUBDIR)
    except Exception:
        if archive == cached and not was_cached:  # downloaded by this call: leave the cache as
            archive.unlink(missing_ok=True)       # it was
        raise


def _check_num(num, split, n_total=None):
    if num is None:
        return
    checks.integer(num, f"num_{split}", low=1, high=n_total)


def _subset(arrays, num, n_total, rng, split):
    """A random subset (random order) of parallel lists/arrays; all of them when num is None."""
    if num is None:
        return arrays
    _check_num(num, split, n_total)
    idx = rng.choice(n_total, size=int(num), replace=False)
    return [[a[i] for i in idx] if isinstance(a, list) else a[idx] for a in arrays]


def load_data(path=None, num_train=None, num_test=None, seed=None, with_ratings=False):
    """Return ``(x_train, y_train), (x_test, y_test)``: lists of review texts and int64 0/1 labels.

    ``num_train``/``num_test`` draw a random subset (in random order) with ``seed`` (None uses the
    global generator of :mod:`rnnlab.config`, so ``set_random_seed`` makes it reproducible).  Full
    splits keep the file order (all negatives, then all positives): shuffle before training without
    ``fit(shuffle=True)``.  ``with_ratings=True`` appends the 1-10 rating array to each tuple:
    ``(x, y, ratings)``.  ``path``: a directory with the CSVs, the archive, or an extracted
    ``aclImdb/`` folder.
    """
    _check_num(num_train, "train")
    _check_num(num_test, "test")
    csvs = _locate(path)
    rng = config.make_rng(seed)
    out = []
    for split, num in (("train", num_train), ("test", num_test)):
        texts, labels, ratings = _read_csv(csvs[split])
        texts, labels, ratings = _subset([texts, labels, ratings], num, len(texts), rng, split)
        out.append((texts, labels, ratings) if with_ratings else (texts, labels))
    return tuple(out)
