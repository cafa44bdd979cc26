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
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from rnnlab import checks
from rnnlab.data.background import background, named_errors

_WHO = "TextFileDataset()"
_FORMATS = ("csv", "parquet")
_STRINGS = (pa.string(), pa.large_string())


def _format_of(path) -> str:
    name = os.fspath(path).lower()
    for suffix in (".gz", ".bz2", ".zst", ".lz4"):
        name = name.removesuffix(suffix)
    return "parquet" if name.endswith((".parquet", ".pq")) else "csv"


class TextFileDataset:
    """``(ids, labels)`` batches (``ids`` only without ``label_column``) from a CSV or Parquet
    file; iterable again (each pass re-reads the file), so ``fit`` runs several epochs over it.
    ``batch_size=None`` yields single ``(id list, label)`` samples, e.g. for
    :func:`~rnnlab.data.bucket_by_sequence_length`.

    A batch's ids are exactly ``pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=n,
    padding=padding, truncating=truncating)`` with ``n`` its longest text's length (at most
    ``maxlen``): a chunk of texts goes through the tokenizer's compiled lookup at once
    (``Tokenizer.sequence_lookup``, with the tokenizer's vocabulary at the start of each pass).
    With ``prefetch=n`` a background thread reads and tokenizes up to ``n`` chunks ahead while
    the model trains; the default 0 does it on the caller's thread, which costs about 20 µs a
    review and measured as fast on 2 cores, where the training kernels already use both (see
    benchmarks/README.md); a machine with spare cores can hide that cost with ``prefetch=1``."""

    def __init__(self, path, tokenizer, text_column="text", label_column="label", batch_size=32,
                 maxlen=None, padding="post", truncating="post", format=None,
                 chunk_rows=4096, dtype="int32", prefetch=0):
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
        self.prefetch = checks.non_negative_int(prefetch, "prefetch", who=_WHO)
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

    def _texts_of(self, record_batch) -> list:
        texts = record_batch.column(self.text_column).to_pylist()
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise ValueError(f"{_WHO} {self.path}: a row has no text ({texts[bad]!r} in column "
                             f"{self.text_column!r})")
        return texts

    def _labels_of(self, record_batch):
        return (None if self.label_column is None
                else record_batch.column(self.label_column).to_numpy(zero_copy_only=False))

    def _lookup(self):
        """The compiled texts-to-ids lookup of the tokenizer as it is now (one per pass), or None
        when it does not apply (see ``Tokenizer.sequence_lookup``) or its ids would not fit
        ``dtype``: then ``texts_to_sequences``."""
        make = getattr(self.tokenizer, "sequence_lookup", None)
        lookup = None if make is None else make(self.maxlen, self.truncating)
        if lookup is None:
            return None
        kind = self.dtype.kind
        if kind in "iu":
            fits = lookup.max_id <= np.iinfo(self.dtype).max
        else:
            fits = kind == "f" and lookup.max_id <= 2 ** (np.finfo(self.dtype).nmant + 1)
        return lookup if fits else None

    def _chunks(self):
        """``(ids, offsets, labels)`` per record batch: text ``j``'s kept token ids are
        ``ids[offsets[j]:offsets[j+1]]`` (already cut to ``maxlen``)."""
        lookup = self._lookup()
        for record_batch in self._record_batches():
            column = record_batch.column(self.text_column)
            if lookup is not None and column.type in _STRINGS and not column.null_count:
                ids, offsets = lookup.utf8(*_utf8_of(column, lookup.lower))
            elif lookup is not None:
                ids, offsets = lookup(self._texts_of(record_batch))
            else:
                texts = self._texts_of(record_batch)
                seqs = self.tokenizer.texts_to_sequences(texts)
                if self.maxlen is not None:
                    cut = self.maxlen
                    seqs = [s[:cut] if self.truncating == "post" else s[-cut:] for s in seqs]
                offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
                np.cumsum([len(s) for s in seqs], out=offsets[1:])
                ids = np.fromiter((i for s in seqs for i in s), dtype=np.int64,
                                  count=int(offsets[-1]))
            yield ids, offsets, self._labels_of(record_batch)

    def _batch(self, ids, offsets, lo, hi, labels):
        """Texts ``lo..hi-1`` padded to the longest of them (at least 1)."""
        lens = offsets[lo + 1:hi + 1] - offsets[lo:hi]
        width = int(lens.max(initial=0)) or 1
        out = _padded(ids, offsets, lo, hi, width, self.padding == "pre", self.dtype)
        return out if labels is None else (out, np.asarray(labels[lo:hi]))

    def __iter__(self):
        if not self.prefetch:
            return named_errors(self._batches, f"{_WHO} {self.path}")
        per_chunk = -(-self.chunk_rows // (self.batch_size or 1))
        return background(self._batches, self.prefetch * per_chunk + 1,
                          f"{_WHO} {self.path}", name="rnnlab-text-files")

    def _batches(self):
        bs = self.batch_size
        keep = None                      # (ids, offsets, labels) of texts left from a chunk
        for ids, offsets, labels in self._chunks():
            if bs is None:
                for j in range(len(offsets) - 1):
                    seq = ids[offsets[j]:offsets[j + 1]].tolist()
                    yield seq if labels is None else (seq, labels[j])
                continue
            if keep is not None:
                ids, offsets, labels = _joined(keep, (ids, offsets, labels))
            n = len(offsets) - 1
            full = n // bs * bs
            for k in range(0, full, bs):
                yield self._batch(ids, offsets, k, k + bs, labels)
            keep = None if full == n else _tail((ids, offsets, labels), full)
        if keep is not None:
            yield self._batch(*keep[:2], 0, len(keep[1]) - 1, keep[2])


def _utf8_of(column, lower: bool):
    """``(buf, starts, ends)``: the UTF-8 bytes of an Arrow string column's texts, read in place
    (no Python str per text); with ``lower``, texts that are not all ASCII are ``str.lower``-ed
    in Python and appended (the compiled lookup lowers ASCII letters itself)."""
    width = np.int32 if column.type == pa.string() else np.int64
    _, offsets_buf, data_buf = column.buffers()
    n = len(column)
    offsets = np.frombuffer(offsets_buf, dtype=width)[column.offset:column.offset + n + 1]
    buf = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None and data_buf.size \
        else np.zeros(1, dtype=np.uint8)
    starts = offsets[:-1].astype(np.int64)
    ends = offsets[1:].astype(np.int64)
    if lower:
        ascii_ = pc.string_is_ascii(column).to_numpy(zero_copy_only=False)
        if not ascii_.all():
            rows = np.flatnonzero(~ascii_)
            lowered = [t.lower().encode("utf-8", "surrogatepass")
                       for t in column.take(pa.array(rows)).to_pylist()]
            lens = np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered))
            starts[rows] = buf.size
            starts[rows[1:]] += np.cumsum(lens[:-1])
            ends[rows] = starts[rows] + lens
            buf = np.concatenate([buf, np.frombuffer(b"".join(lowered), dtype=np.uint8)])
    return buf, starts, ends


def _padded(ids, offsets, lo, hi, width, pre, dtype):
    """Texts ``lo..hi-1`` of ``(ids, offsets)`` in the rows of a zero ``(hi - lo, width)`` array,
    at their start or (``pre``) their end: one scatter, no loop over the texts."""
    out = np.zeros((hi - lo, width), dtype=dtype)
    starts = offsets[lo:hi]
    lens = offsets[lo + 1:hi + 1] - starts
    rows = np.repeat(np.arange(hi - lo), lens)
    cols = np.arange(offsets[hi] - offsets[lo]) - np.repeat(starts - offsets[lo], lens)
    if pre:
        cols += (width - lens)[rows]
    out[rows, cols] = ids[offsets[lo]:offsets[hi]]
    return out


def _tail(chunk, start):
    """Texts ``start..`` of a chunk, as a chunk."""
    ids, offsets, labels = chunk
    return (ids[offsets[start]:], offsets[start:] - offsets[start],
            None if labels is None else labels[start:])


def _joined(a, b):
    """Two chunks as one."""
    offsets = np.concatenate([a[1][:-1], b[1] + a[1][-1]])
    labels = None if b[2] is None else np.concatenate([a[2].astype(b[2].dtype, copy=False), b[2]])
    return np.concatenate([a[0], b[0].astype(a[0].dtype, copy=False)]), offsets, labels
