"""Text at scale: a CSV or Parquet file of reviews streamed in chunks with pyarrow (an optional
extra: ``pip install rnnlab[arrow]``), tokenized by a fitted Tokenizer and padded per batch, so
that ``fit`` reads a file much larger than memory with a bounded footprint.

Only the text and label columns are read, one record batch at a time (``chunk_rows`` rows of
Parquet; 1 MB blocks of CSV), tokenized together; each batch of ``batch_size`` reviews is
padded to its own longest review (at most ``maxlen``), not to the corpus's."""
from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from rnnlab import checks
from rnnlab.data.bucketing import pad_batch

_WHO = "TextFileDataset()"
_FORMATS = ("csv", "parquet")


def _format_of(path) -> str:
    name = os.fspath(path).lower()
    for suffix in (".gz", ".bz2", ".zst", ".lz4"):
        name = name.removesuffix(suffix)
    return "parquet" if name.endswith((".parquet", ".pq")) else "csv"


class TextFileDataset:
    """``(ids, labels)`` batches (``ids`` only without ``label_column``) from a CSV or Parquet
    file; iterable again (each pass re-reads the file), so ``fit`` runs several epochs over it.
    ``batch_size=None`` yields single ``(id list, label)`` samples, e.g. for
    :func:`~rnnlab.data.bucket_by_sequence_length`."""

    def __init__(self, path, tokenizer, text_column="text", label_column="label", batch_size=32,
                 maxlen=None, padding="post", truncating="post", format=None,
                 chunk_rows=4096, dtype="int32"):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"{_WHO} no such file: {self.path}")
        if not hasattr(tokenizer, "texts_to_sequences") or not getattr(tokenizer, "word_index",
                                                                           None):
            raise ValueError(f"{_WHO} tokenizer must be a fitted Tokenizer (call fit_on_texts "
                             "first)")
        self.tokenizer = tokenizer
        if not isinstance(text_column, str):
            raise TypeError(f"{_WHO} text_column must be a column name, got {text_column!r}")
        if label_column is not None and not isinstance(label_column, str):
            raise TypeError(f"{_WHO} label_column must be a column name or None, got "
                            f"{label_column!r}")
        self.text_column, self.label_column = text_column, label_column
        self.batch_size = checks.positive_int(batch_size, "batch_size", who=_WHO,
                                              allow_none=True)
        self.maxlen = checks.positive_int(maxlen, "maxlen", who=_WHO, allow_none=True)
        self.padding = checks.one_of(padding, "padding", ("pre", "post"), who=_WHO)
        self.truncating = checks.one_of(truncating, "truncating", ("pre", "post"), who=_WHO)
        self.format = _format_of(self.path) if format is None else checks.one_of(
            format, "format", _FORMATS, who=_WHO)
        self.chunk_rows = checks.positive_int(chunk_rows, "chunk_rows", who=_WHO)
        self.dtype = np.dtype(dtype)
        self._columns()                       # a missing column fails here, not mid-fit

    def _columns(self) -> list[str]:
        wanted = [self.text_column] + ([self.label_column] if self.label_column else [])
        if self.format == "parquet":
            names = pq.ParquetFile(self.path).schema_arrow.names
        else:
            names = self._csv_reader(None).schema.names
        missing = [c for c in wanted if c not in names]
        if missing:
            raise ValueError(f"{_WHO} {self.path} has no column(s) {missing}; it has {names}")
        return wanted

    def _csv_reader(self, columns):
        read = pa_csv.ReadOptions(block_size=1 << 20)
        convert = pa_csv.ConvertOptions(include_columns=columns) if columns else None
        source = pa.input_stream(self.path, compression="detect")
        return pa_csv.open_csv(source, read_options=read, convert_options=convert)

    def _record_batches(self):
        columns = self._columns()
        if self.format == "parquet":
            # pre_buffer=False: with pyarrow's default the reader keeps every range it has read
            # buffered until the file is closed, so a pass over the file held all of it
            reader = pq.ParquetFile(self.path, pre_buffer=False)
            yield from reader.iter_batches(batch_size=self.chunk_rows, columns=columns)
        else:
            with self._csv_reader(columns) as reader:
                yield from reader

    def _samples_of(self, record_batch):
        texts = record_batch.column(self.text_column).to_pylist()
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise ValueError(f"{_WHO} {self.path}: a row has no text ({texts[bad]!r} in column "
                             f"{self.text_column!r})")
        seqs = self.tokenizer.texts_to_sequences(texts)
        if self.maxlen is not None:
            cut = self.maxlen
            seqs = [s[:cut] if self.truncating == "post" else s[-cut:] for s in seqs]
        labels = (None if self.label_column is None
                  else record_batch.column(self.label_column).to_numpy(zero_copy_only=False))
        return seqs, labels

    def _batch(self, seqs, labels):
        length = max((len(s) for s in seqs), default=0) or 1
        x = pad_batch(seqs, length, self.padding, 0, self.dtype)
        return x if labels is None else (x, np.asarray(labels))

    def __iter__(self):
        keep_seqs, keep_labels = [], np.zeros(0)
        bs = self.batch_size
        for record_batch in self._record_batches():
            seqs, labels = self._samples_of(record_batch)
            if bs is None:
                for i, s in enumerate(seqs):
                    yield s if labels is None else (s, labels[i])
                continue
            seqs = keep_seqs + seqs
            if labels is not None:
                labels = np.concatenate([keep_labels.astype(labels.dtype), labels])
            full = len(seqs) // bs * bs
            for k in range(0, full, bs):
                yield self._batch(seqs[k:k + bs], None if labels is None else labels[k:k + bs])
            keep_seqs = seqs[full:]
            keep_labels = keep_labels if labels is None else labels[full:]
        if bs is not None and keep_seqs:
            yield self._batch(keep_seqs, None if self.label_column is None else keep_labels)
