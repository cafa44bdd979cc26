"""Corpora larger than one machine's patience: tokenize, pad and score texts as Dask collections.

What runs where.  :func:`fit_tokenizer` counts words on the workers, one partition at a time
(each returns its words in first-appearance order with their counts, document counts and its
number of texts: a few MB for a partition of reviews), and merges those counts in partition order
on the client, where the ordering rules of :class:`~rnnlab.preprocessing.text.Tokenizer` (count,
ties by first appearance) are applied once; so the result is the single-machine fit of the same
texts in the same order.  :func:`texts_to_padded` and :func:`predict` send the tokenizer / the
model to the cluster once, as one key of the graph that every partition's task depends on (a
worker fetches it once and keeps it); the model travels as the bytes of rnnlab's model file and
each worker process loads it once (a cache keyed by its SHA-256), never as pickled layers.
Predictions stay on the workers until computed or written with :func:`to_parquet`.

:func:`connect` and :func:`local_cluster` give a client: the same code runs on a laptop's
``LocalCluster`` or on a cluster's scheduler (``dask-scheduler`` by hand, dask-jobqueue, the Dask
Kubernetes operator), which only needs rnnlab installed on its workers.
"""
from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict

import dask
import dask.array as da
import dask.bag as db
import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster

from rnnlab import checks, config
from rnnlab.models.model import Model
from rnnlab.models.saving import load_model, model_bytes
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import Tokenizer

__all__ = ["fit_tokenizer", "texts_to_padded", "predict", "to_parquet", "connect",
           "local_cluster", "ShippedModel"]

_WHO = "rnnlab.dask"
_CACHE_SIZE = 2                        # models kept loaded per worker process
_MODELS: OrderedDict = OrderedDict()   # digest -> (model, lock), in each worker process
_MODELS_LOCK = threading.Lock()


# ----------------------------------------------------------------------------- clients
def connect(address: str, timeout: float = 10.0) -> Client:
    """A client of the scheduler at ``address`` ('tcp://host:8786'); a scheduler that does not
    answer within ``timeout`` seconds is a ConnectionError naming the address."""
    if not isinstance(address, str) or not address:
        raise TypeError(f"{_WHO}: the scheduler address must be a str such as "
                        f"'tcp://host:8786', got {address!r:.80}")
    timeout = checks.positive_number(timeout, "timeout", _WHO)
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(f"{_WHO}: cannot reach the Dask scheduler at {address!r} within "
                              f"{timeout:g} s ({type(exc).__name__}: {exc})") from None


def local_cluster(workers: int, threads_per_worker: int = 1) -> Client:
    """A client of a new LocalCluster of ``workers`` processes, one thread each by default (so
    trials on one machine do not fight over cores; Dask's nanny also pins BLAS/OpenMP to 1)."""
    workers = checks.positive_int(workers, "workers", _WHO)
    threads = checks.positive_int(threads_per_worker, "threads_per_worker", _WHO)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                           dashboard_address=None)
    return Client(cluster, set_as_default=False)


# ----------------------------------------------------------------------------- partitions
def _partitions(texts, what="texts") -> list:
    """The delayed partitions of a Dask bag, series or one-column DataFrame."""
    if isinstance(texts, dd.DataFrame):
        if len(texts.columns) != 1:
            raise ValueError(f"{_WHO}: {what} must be one column, got a DataFrame with columns "
                             f"{list(texts.columns)}: pass df[column]")
        texts = texts[texts.columns[0]]
    if isinstance(texts, (db.Bag, dd.Series)):
        return list(texts.to_delayed())
    raise TypeError(f"{_WHO}: {what} must be a dask Bag, Series or one-column DataFrame, got "
                    f"{type(texts).__name__}")


def _as_list(part) -> list:
    return part.tolist() if hasattr(part, "tolist") else list(part)


def _constant(value, kind: str):
    """``value`` as one key of the graph (sent to each worker that needs it once)."""
    return dask.delayed(value, name=f"rnnlab-{kind}-{uuid.uuid4().hex}", traverse=False)


# ----------------------------------------------------------------------------- tokenizing
class _Settings:
    """Run a block under the client's numeric settings (floatx, kernels), then restore them:
    a worker computes what the client would (and compiles nothing the client does not)."""

    def __init__(self, floatx: str, kernels: str):
        self.floatx, self.kernels = floatx, kernels

    def __enter__(self):
        self.old = (config.floatx(), config.kernels())
        config.set_floatx(self.floatx)
        config.set_kernels(self.kernels)

    def __exit__(self, *exc):
        config.set_floatx(self.old[0])
        config.set_kernels(self.old[1])


def _client_settings():
    return (config.floatx(), config.kernels())


def _count(part, arguments: dict, settings):
    """One partition's (words in first-appearance order, counts, document counts, texts)."""
    tok = Tokenizer(**arguments)
    with _Settings(*settings):
        tok.fit_on_texts(_as_list(part))
    words = list(tok.word_counts)
    return (words, list(tok.word_counts.values()), [tok.word_docs[w] for w in words],
            tok.document_count)


def fit_tokenizer(texts, **tokenizer_arguments) -> Tokenizer:
    """A :class:`Tokenizer` (Keras's arguments) fitted on a Dask collection of texts: the same
    word_index, word_counts, word_docs, index_docs and document_count as
    ``Tokenizer(...).fit_on_texts`` on the texts in the collection's order.

    Map: each partition's counts on the workers.  Reduce, in partition order: a word first seen
    in partition k comes after every word of partitions < k, in its first-appearance order within
    k, which is exactly its first appearance in the whole stream; counts add up."""
    tok = Tokenizer(**tokenizer_arguments)         # the arguments are checked before any work
    arguments = {k: v for k, v in tokenizer_arguments.items() if k != "document_count"}
    parts = [dask.delayed(_count)(p, arguments, _client_settings())
             for p in _partitions(texts)]
    counts, docs, n_docs = OrderedDict(), {}, 0
    for words, wc, wd, n in dask.compute(*parts):
        for w, c, d in zip(words, wc, wd):
            counts[w] = counts.get(w, 0) + c
            docs[w] = docs.get(w, 0) + d
        n_docs += n
    words = list(counts)
    tok._merge_counts(words, list(counts.values()), [docs[w] for w in words], None)
    tok.document_count += n_docs
    tok._reindex()
    return tok


def _pad(part, tokenizer, maxlen, padding, truncating, value, dtype, settings):
    with _Settings(*settings):
        seqs = tokenizer.texts_to_sequences(_as_list(part))
    return pad_sequences(seqs, maxlen=maxlen, dtype=dtype, padding=padding,
                         truncating=truncating, value=value).reshape(len(seqs), maxlen)


def texts_to_padded(texts, tokenizer: Tokenizer, maxlen: int, padding="pre", truncating="pre",
                    value=0, dtype="int32"):
    """A Dask array ``(n_texts, maxlen)`` of padded word indices, one block per partition (the
    row counts are unknown until computed: ``.compute_chunk_sizes()`` finds them)."""
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"{_WHO}: tokenizer must be an rnnlab Tokenizer, got "
                        f"{type(tokenizer).__name__}")
    maxlen = checks.positive_int(maxlen, "maxlen", _WHO)
    checks.one_of(padding, "padding", ("pre", "post"), _WHO)
    checks.one_of(truncating, "truncating", ("pre", "post"), _WHO)
    dtype = np.dtype(dtype)
    tok = _constant(tokenizer, "tokenizer")
    blocks = [da.from_delayed(dask.delayed(_pad)(p, tok, maxlen, padding, truncating, value,
                                                 dtype, _client_settings()),
                              shape=(np.nan, maxlen), dtype=dtype)
              for p in _partitions(texts)]
    return da.concatenate(blocks, axis=0, allow_unknown_chunksizes=True)


# ----------------------------------------------------------------------------- predicting
class ShippedModel:
    """A model as its rnnlab model file's bytes, with the numeric settings to run it under
    (``floatx``, kernels) and the SHA-256 that names it in each worker's cache."""

    __slots__ = ("data", "digest", "floatx", "kernels")

    def __init__(self, model: Model):
        self.data = model_bytes(model)
        self.digest = hashlib.sha256(self.data).hexdigest()
        self.floatx = config.floatx()
        self.kernels = config.kernels()

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state):
        for k in self.__slots__:
            setattr(self, k, state[k])

    def loaded(self):
        """(model, lock): loaded once per process, kept for the next partitions."""
        with _MODELS_LOCK:
            entry = _MODELS.get(self.digest)
            if entry is None:
                entry = (load_model(self.data), threading.Lock())
                _MODELS[self.digest] = entry
                while len(_MODELS) > _CACHE_SIZE:
                    _MODELS.popitem(last=False)
            else:
                _MODELS.move_to_end(self.digest)
        return entry


def _predict_block(block, shipped: ShippedModel, batch_size):
    x = block.to_numpy() if hasattr(block, "to_numpy") else np.asarray(block)
    model, lock = shipped.loaded()
    with lock, _Settings(shipped.floatx, shipped.kernels):
        out = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(out).reshape(len(x), -1)


def predict(model: Model, collection, batch_size=None):
    """The model's outputs ``(n, units)`` for a Dask array (samples first; chunked along the
    samples only) or a DataFrame of feature columns, as a Dask array, one block per block or
    partition.  The model is sent once (its file's bytes) and loaded once per worker process;
    within a block the batches are those of ``model.predict(block, batch_size)``, so blocks
    whose sizes are multiples of ``batch_size`` give the in-process result bit for bit."""
    if not isinstance(model, Model):
        raise TypeError(f"{_WHO}: model must be an rnnlab model, got {type(model).__name__}")
    batch_size = checks.positive_int(batch_size, "batch_size", _WHO, allow_none=True)
    if len(model.output_names) != 1:
        raise ValueError(f"{_WHO}: predict takes models with one output, {model.name!r} has "
                         f"{len(model.output_names)}")
    shipped = _constant(ShippedModel(model), "model")
    dtype = np.dtype(config.floatx())
    if isinstance(collection, da.Array):
        if collection.ndim < 2:
            raise ValueError(f"{_WHO}: the array must have samples first and at least 2 "
                             f"dimensions, got shape {collection.shape}")
        x = collection.rechunk({i: -1 for i in range(1, collection.ndim)})
        units = int(np.prod(model.compute_output_shape((None, *x.shape[1:]))[1:]))
        blocks = x.to_delayed().reshape(-1)
        rows = x.chunks[0]
    elif isinstance(collection, dd.DataFrame):
        blocks = collection.to_delayed()
        units = int(np.prod(model.compute_output_shape(
            (None, len(collection.columns)))[1:]))
        rows = [np.nan] * len(blocks)
    else:
        raise TypeError(f"{_WHO}: predict takes a dask Array or DataFrame, got "
                        f"{type(collection).__name__}")
    outs = [da.from_delayed(dask.delayed(_predict_block)(b, shipped, batch_size),
                            shape=(n, units), dtype=dtype) for b, n in zip(blocks, rows)]
    return da.concatenate(outs, axis=0, allow_unknown_chunksizes=True)


def _frame(block, columns):
    return pd.DataFrame(np.asarray(block).reshape(len(block), -1), columns=columns)


def to_parquet(predictions, path, columns=None, **kwargs):
    """Write a Dask array of predictions ``(n, units)`` to a Parquet dataset (one file per
    block, written by the workers); ``columns`` default to p0, p1, ...  Returns what
    ``DataFrame.to_parquet`` returns (``compute=False`` gives the delayed write)."""
    if not isinstance(predictions, da.Array) or predictions.ndim not in (1, 2):
        raise TypeError(f"{_WHO}: predictions must be a 1-D or 2-D dask Array, got "
                        f"{type(predictions).__name__}")
    if predictions.ndim == 1:
        predictions = predictions[:, None]
    units = predictions.shape[1]
    columns = [f"p{i}" for i in range(units)] if columns is None else list(columns)
    if len(columns) != units:
        raise ValueError(f"{_WHO}: {len(columns)} column names for {units} prediction columns")
    meta = pd.DataFrame({c: np.array([], dtype=predictions.dtype) for c in columns})
    blocks = predictions.rechunk({1: -1}).to_delayed().reshape(-1)
    frame = dd.from_delayed([dask.delayed(_frame)(b, columns) for b in blocks], meta=meta,
                            verify_meta=False)
    return frame.to_parquet(path, write_index=False, **kwargs)
