"""Yelp review polarity (Zhang, Zhao & LeCun, 2015): 560,000 train and 38,000 test reviews.

The official files ``train.csv``/``test.csv`` (folder ``yelp_review_polarity_csv/`` of the
archive ``yelp_review_polarity_csv.tgz``) have no header and two quoted columns: the class, "1"
(negative, 1-2 stars) or "2" (positive), and the text, in which ``""`` is a literal quote and the
two characters ``\\n`` stand for a newline.  Some texts carry backslash-escaped quotes (``\\""``
in the file, i.e. ``\\"`` after CSV decoding); those become a plain ``"`` too.  Other backslashes
are kept.
Labels become 0/1 as in ``tfds`` (class 1 -> 0, class 2 -> 1).

Lookup: in each place (``path``, then each ``$RNNLAB_DATA_DIR``, then the cache) the extracted
``yelp_review_polarity_csv/{train,test}.csv``, then ``{train,test}.csv`` directly, then the ``.tgz``
(read in place, never extracted); else the archive is downloaded into the cache.  An archive found
by name or downloaded is checked against its SHA-256 (:data:`SHA256`, 166,373,201 bytes, as
published with the Hugging Face and FastAI copies of the set); a corrupt one in the cache is
downloaded again once.  An archive passed as ``path=<file>`` and the extracted CSVs (which have no
published checksum) are used as given; a truncated or undecodable one raises
:class:`~rnnlab.datasets.DataFileError` naming it.
"""
from __future__ import annotations

import csv
import io
import tarfile
from pathlib import Path

import numpy as np

from rnnlab import config
from rnnlab.datasets._files import (
                                    MAX_EXTRACT_MEMBER_BYTES,
                                    DataFileError,
                                    DatasetNotFoundError,
                                    cache_dir,
                                    data_dirs,
                                    drain,
                                    fix_hint,
                                    get_file,
                                    reading,
                                    verify,
)
from rnnlab.datasets.imdb import _check_num, _subset

__all__ = ["ARCHIVE", "URL", "SHA256", "FOLDER", "load_data", "parse_csv"]

ARCHIVE = "yelp_review_polarity_csv.tgz"
URL = "https://s3.amazonaws.com/fast-ai-nlp/yelp_review_polarity_csv.tgz"
SHA256 = "528f22e286cad085948acbc3bea7e58188416546b0e364d0ae4ca0ce666abe35"
FOLDER = "yelp_review_polarity_csv"
_LABELS = {"1": 0, "2": 1}


def parse_csv(stream, source="<stream>"):
    """Parse one official CSV (text stream) into (texts, int64 labels 0/1)."""
    texts, labels = [], []
    reader = csv.reader(stream)
    for row in reader:
        if not row:
            continue
        if len(row) != 2 or row[0] not in _LABELS:
            raise ValueError(f"{source} line {reader.line_num}: expected 2 fields, class \"1\" or "
                             f"\"2\" and a text, got {row[:2]!r}")
        labels.append(_LABELS[row[0]])
        texts.append(row[1].replace("\\n", "\n").replace('\\"', '"'))
    return texts, np.array(labels, dtype=np.int64)


def _read_file(file: Path):
    with reading(file, "Yelp polarity CSV (UTF-8)"), \
            open(file, newline="", encoding="utf-8") as f:
        return parse_csv(f, repr(str(file)))


def _read_archive(archive: Path):
    out = {}
    with reading(archive, f"{ARCHIVE} archive", fix_hint(archive, SHA256, URL)), \
            tarfile.open(archive) as tar:
        for m in tar:
            name = m.name.rsplit("/", 1)[-1]
            if m.isfile() and name in ("train.csv", "test.csv"):
                if m.size > MAX_EXTRACT_MEMBER_BYTES:  # from the header, before reading it
                    raise DataFileError(f"{str(archive)!r}: {m.name} would be {m.size:,} bytes, "
                                        f"over the limit of {MAX_EXTRACT_MEMBER_BYTES:,}: not the "
                                        f"{ARCHIVE} archive")
                stream = io.TextIOWrapper(tar.extractfile(m), encoding="utf-8", newline="")
                out[name[:-4]] = parse_csv(stream, f"{str(archive)!r}:{m.name}")
        drain(tar)  # the gzip CRC: damage in a stored block is caught here
    missing = {"train", "test"} - set(out)
    if missing:
        raise ValueError(f"{str(archive)!r} lacks {sorted(m + '.csv' for m in missing)}: "
                         f"not the {ARCHIVE} archive")
    return out["train"], out["test"]


def _find_local(place: Path):
    """('csv', train, test) or ('tgz', archive) found in a directory, or None."""
    for sub in (Path(FOLDER), Path(".")):
        train, test = place / sub / "train.csv", place / sub / "test.csv"
        if train.is_file() and test.is_file():
            return ("csv", train, test)
    if (place / ARCHIVE).is_file():
        return ("tgz", place / ARCHIVE)
    return None


def _read_found_archive():
    """The splits of the archive in $RNNLAB_DATA_DIR or the cache (verified; the cache's is
    downloaded again once if corrupt) or of one downloaded now, which is removed again if it
    cannot be read (the cache is left as it was)."""
    cached = cache_dir() / ARCHIVE
    was_cached = cached.is_file()
    archive = get_file(ARCHIVE, SHA256, URL)
    try:
        return _read_archive(archive)
    except Exception:
        if archive == cached and not was_cached:
            archive.unlink(missing_ok=True)
        raise


def _load_splits(path):
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return _read_archive(p)
        found = _find_local(p) if p.is_dir() else None
        if found is None:
            raise DatasetNotFoundError(
                f"Yelp polarity data not found at path={str(path)!r}: expected {FOLDER}/train.csv "
                f"and test.csv, train.csv and test.csv, or {ARCHIVE} there")
        if found[0] == "tgz":
            verify(found[1], SHA256, URL)
    else:
        found = next((f for f in map(_find_local, [*data_dirs(), cache_dir()]) if f), None)
        if found is None or found[0] == "tgz":  # get_file finds the same archive first
            return _read_found_archive()
    if found[0] == "csv":
        return _read_file(found[1]), _read_file(found[2])
    return _read_archive(found[1])


def load_data(path=None, num_train=None, num_test=None, seed=None):
    """Return ``(x_train, y_train), (x_test, y_test)``: lists of texts and int64 0/1 labels.

    ``num_train``/``num_test`` take a random subset (random order) with ``seed`` (None: the global
    generator of :mod:`rnnlab.config`).  ``path``: the archive, or a directory holding the extracted
    CSVs or the archive.
    """
    _check_num(num_train, "train")
    _check_num(num_test, "test")
    splits = _load_splits(path)
    rng = config.make_rng(seed)
    out = []
    for (texts, labels), num, split in zip(splits, (num_train, num_test), ("train", "test")):
        out.append(tuple(_subset([texts, labels], num, len(texts), rng, split)))
    return tuple(out)
