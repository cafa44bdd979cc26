"""Large Movie Review Dataset v1.0 (Maas et al., ACL 2011): 25,000 train + 25,000 test reviews.

Read from ``imdb_train.csv.gz`` / ``imdb_test.csv.gz`` (columns ``label`` 0/1, ``rating`` 1-10,
``text``), found through the shared lookup (path, ``$RNNLAB_DATA_DIR``, cache) and SHA-256 verified.
Without them, the authors' archive ``aclImdb_v1.tar.gz`` is used (found locally or downloaded) and
converted once into the same CSV form under ``<cache>/imdb-from-archive/``.  The archive is
published without a checksum, so its download is checked for completeness only; the converted CSVs
are not compared with the shared data README's hashes (their bytes differ: row order, gzip header).
"""
from __future__ import annotations

import csv
import gzip
import io
import re
import tarfile
from pathlib import Path

import numpy as np

from rnnlab import checks, config
from rnnlab import io as rio
from rnnlab.datasets._files import DatasetNotFoundError, cache_dir, find_file, get_file

__all__ = ["FILES", "ARCHIVE", "ARCHIVE_URL", "CONVERTED_SUBDIR", "load_data", "convert_archive"]

FILES = {
    "train": ("imdb_train.csv.gz",
              "70f9407c7eadbf92e6e1105c9f461d492d41294315f59426a7f08c46ded94f6e"),
    "test": ("imdb_test.csv.gz",
             "8ed80cbf36658ae057489d5ce3c1bb099e378e9d4f08868b8b758bfb3bd02aca"),
}
ARCHIVE = "aclImdb_v1.tar.gz"
ARCHIVE_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
CONVERTED_SUBDIR = "imdb-from-archive"
_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def _read_csv(file: Path):
    texts, labels, ratings = [], [], []
    with gzip.open(file, "rt", newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != ["label", "rating", "text"]:
            raise ValueError(f"{str(file)!r}: expected columns label,rating,text, got {header}")
        for row in reader:
            if len(row) != 3:
                raise ValueError(f"{str(file)!r} line {reader.line_num}: {len(row)} fields, "
                                 "expected 3")
            labels.append(int(row[0]))
            ratings.append(int(row[1]))
            texts.append(row[2])
    return texts, np.array(labels, dtype=np.int64), np.array(ratings, dtype=np.int64)


def _write_csv(rows, dest: Path):
    """Write (label, rating, text) rows to a gzipped CSV atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with rio.atomic_write(dest, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "rating", "text"])
        w.writerows(rows)


def convert_archive(source, out_dir) -> dict:
    """Convert ``aclImdb`` (the .tar.gz or its extracted folder) into the two CSV.gz files.

    Takes ``{train,test}/{pos,neg}/<id>_<rating>.txt`` (``unsup`` and the rest are ignored): label 1
    for pos, 0 for neg, rating from the file name; rows ordered neg then pos, by id.  Returns
    ``{"train": path, "test": path}``.
    """
    source, out_dir = Path(source), Path(out_dir)
    found = {"train": [], "test": []}

    def add(name, read):
        m = _MEMBER.search(name)
        if m:
            split, pol, idx, rating = m.groups()
            found[split].append((pol == "pos", int(idx), int(pol == "pos"), int(rating),
                                 read().decode("utf-8")))

    if source.is_dir():
        for p in sorted(source.rglob("*.txt")):
            add(p.relative_to(source).as_posix(), p.read_bytes)
    else:
        with tarfile.open(source) as tar:
            for m in tar:  # streaming: members are read in archive order
                if m.isfile():
                    add(m.name, lambda m=m: tar.extractfile(m).read())
    out = {}
    for split, rows in found.items():
        if not rows:
            raise ValueError(f"{str(source)!r} has no {split}/pos or {split}/neg reviews: "
                             "not an aclImdb archive")
        rows.sort(key=lambda r: (r[0], r[1]))
        out[split] = out_dir / FILES[split][0]
        _write_csv((r[2:] for r in rows), out[split])
    return out


def _locate(path):
    """Paths of the train/test CSVs, converting the archive into the cache when needed."""
    p = Path(path).expanduser() if path is not None else None
    if p is not None and p.is_file():
        if not tarfile.is_tarfile(p):
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
        archive = p  # an extracted aclImdb folder
    else:
        try:
            archive = get_file(ARCHIVE, None, ARCHIVE_URL, path=path)
        except DatasetNotFoundError as err:
            missing = [FILES[s][0] for s in FILES if not csvs[s]]
            raise DatasetNotFoundError(
                f"IMDB data not found: {missing} (or the archive {ARCHIVE}). {err}") from err
    return convert_archive(archive, cache_dir() / CONVERTED_SUBDIR)


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
