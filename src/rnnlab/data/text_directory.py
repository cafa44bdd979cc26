"""Text files in class folders (Keras 3's ``keras.utils.text_dataset_from_directory``): the
files are indexed once (paths and labels, in Keras's order and train/validation split), and
read one batch at a time, so a corpus larger than memory streams into ``fit`` once a fitted
Tokenizer maps each batch to ids padded to its own longest text (:func:`tokenize_batches`).

The index follows keras/src/utils/dataset_utils.py: class folders in sorted order (or
``class_names``'s), files walked recursively in sorted order, then the whole list shuffled with
``numpy.random.RandomState(seed)``; validation is the last ``int(validation_split * n)`` files.
Keras then also shuffles the files of each epoch in a tf.data buffer of ``8 * batch_size``
(which cannot be reproduced without TensorFlow); here each epoch is a full permutation drawn
from ``RandomState(seed)``."""
from __future__ import annotations

import os

import numpy as np

from rnnlab import checks, config
from rnnlab.data.bucketing import pad_batch

_WHO = "text_dataset_from_directory()"
_LABEL_MODES = ("int", "categorical", "binary", None)
_SUBSETS = ("training", "validation", "both", None)


def _class_folders(directory, class_names):
    folders = [d for d in sorted(os.listdir(directory))
               if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
    if class_names is None:
        return folders
    names = list(class_names)
    if not all(isinstance(c, str) for c in names) or len(set(names)) != len(names):
        raise ValueError(f"{_WHO} class_names must be distinct folder names, got {names}")
    if not set(names).issubset(folders):
        raise ValueError(f"{_WHO} class_names {names} are not all subfolders of {directory}; "
                         f"its subfolders are {folders}")
    return names


def _txt_files(folder, follow_links):
    """Relative paths of the .txt files under ``folder``, as Keras's iter_valid_files orders
    them: folders by path, files by name."""
    found = []
    for root, _, files in sorted(os.walk(folder, followlinks=follow_links),
                                 key=lambda walked: walked[0]):
        found += [os.path.relpath(os.path.join(root, f), folder)
                  for f in sorted(files) if f.lower().endswith(".txt")]
    return found


def index_directory(directory, labels="inferred", class_names=None, shuffle=True, seed=None,
                    follow_links=False):
    """``(file_paths, labels, class_names)`` as Keras's ``dataset_utils.index_directory`` for
    ``.txt`` files: inferred labels are class folder indices (int32), ``labels=None`` gives
    ``None`` labels and class names, a list of labels goes with the sorted files."""
    if labels == "inferred":
        folders = _class_folders(directory, class_names)
    else:
        if class_names is not None:
            raise ValueError(f"{_WHO} class_names can only be given with labels='inferred'")
        folders = [""]
    paths, found = [], []
    for k, folder in enumerate(folders):
        name = os.path.basename(os.path.join(directory, folder))
        for rel in _txt_files(os.path.join(directory, folder), follow_links):
            paths.append(os.path.join(directory, name, rel) if folder else
                         os.path.join(directory, rel))
            found.append(k)
    if labels == "inferred":
        labels, names = np.asarray(found, dtype="int32"), list(folders)
    elif labels is None:
        names = None
    else:
        labels, names = _given_labels(labels, len(paths), directory)
    if shuffle:
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, names


def _given_labels(labels, n, directory):
    if not isinstance(labels, (list, tuple)):
        raise ValueError(f"{_WHO} labels must be 'inferred', None or a list/tuple of integer "
                         f"labels, one per .txt file; got {labels!r}")
    if len(labels) != n:
        raise ValueError(f"{_WHO} got {len(labels)} labels for the {n} .txt files in "
                         f"{directory}")
    ints = [checks.non_negative_int(v, "labels", who=_WHO) for v in labels]
    return np.asarray(ints, dtype="int32"), [str(v) for v in sorted(set(ints))]


def split(paths, labels, validation_split, subset):
    """Keras's get_training_or_validation_split: validation is the last
    ``int(validation_split * n)`` files, training the others."""
    if not validation_split:
        return paths, labels
    n_val = int(validation_split * len(paths))
    if n_val == 0:                       # Keras: [:-0] is empty and [-0:] is everything
        raise ValueError(f"{_WHO} validation_split={validation_split} of {len(paths)} files "
                         "leaves no file for validation")
    cut = slice(None, -n_val) if subset == "training" else slice(-n_val, None)
    return paths[cut], None if labels is None else labels[cut]


class TextDirectoryDataset:
    """Batches of ``(texts, labels)`` (``texts`` a list of str; labels int32 (batch,),
    float32 (batch, 1) for "binary", float32 one-hot for "categorical"), or texts alone with
    ``label_mode=None``; single samples with ``batch_size=None``.  Iterable again, each pass
    reshuffled when ``shuffle``; ``len()`` is the number of batches; ``class_names`` and
    ``file_paths`` as indexed."""

    def __init__(self, file_paths, labels, label_mode, class_names, batch_size, max_length,
                 shuffle, seed):
        self.file_paths, self.labels, self.label_mode = list(file_paths), labels, label_mode
        self.class_names, self.batch_size, self.max_length = class_names, batch_size, max_length
        self.shuffle = shuffle
        self._rng = np.random.RandomState(seed) if shuffle else None

    def __len__(self) -> int:
        return -(-len(self.file_paths) // (self.batch_size or 1))

    def _read(self, path) -> str:
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{_WHO} {path} is not UTF-8 text: {exc}") from exc
        return text if self.max_length is None else text[:self.max_length]

    def _encode(self, ids):
        if self.label_mode == "binary":
            return ids.astype("float32")[:, None]
        if self.label_mode == "categorical":
            return np.eye(len(self.class_names), dtype="float32")[ids]
        return ids.astype("int32")

    def __iter__(self):
        order = np.arange(len(self.file_paths))
        if self.shuffle:
            order = self._rng.permutation(order)
        step = self.batch_size or 1
        for i in range(0, len(order), step):
            idx = order[i:i + step]
            texts = [self._read(self.file_paths[j]) for j in idx]
            labels = None if self.label_mode is None else self._encode(self.labels[idx])
            if self.batch_size is None:
                texts, labels = texts[0], None if labels is None else labels[0]
            yield texts if labels is None else (texts, labels)


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                batch_size=32, max_length=None, shuffle=True, seed=None,
                                validation_split=None, subset=None, follow_links=False,
                                verbose=True):
    """A :class:`TextDirectoryDataset` of the ``.txt`` files under ``directory`` (one subfolder
    per class with ``labels="inferred"``), or ``[training, validation]`` with
    ``subset="both"``.  Keras 3's arguments and order; ``max_length`` truncates each text to
    that many characters (Keras's grain format; its tf format counts bytes); files are read as
    UTF-8.  With ``validation_split`` and ``shuffle``, ``seed`` is required (so that the two
    subsets do not overlap); ``seed=None`` otherwise draws one (as Keras) from rnnlab.config's
    generator, so ``config.set_random_seed`` makes the order reproducible."""
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{_WHO} directory must be a path, got {directory!r}")
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{_WHO} no such directory: {directory}")
    if not (labels is None or isinstance(labels, (list, tuple))
            or isinstance(labels, str) and labels == "inferred"):
        raise ValueError(f"{_WHO} labels must be 'inferred', None or a list/tuple of integer "
                         f"labels, one per .txt file; got {labels!r}")
    if not (label_mode is None or isinstance(label_mode, str)) or \
            label_mode not in _LABEL_MODES:
        raise ValueError(f"{_WHO} label_mode must be one of {list(_LABEL_MODES)}, got "
                         f"{label_mode!r}")
    batch_size = checks.positive_int(batch_size, "batch_size", who=_WHO, allow_none=True)
    max_length = checks.positive_int(max_length, "max_length", who=_WHO, allow_none=True)
    shuffle = checks.flag(shuffle, "shuffle", who=_WHO)
    follow_links = checks.flag(follow_links, "follow_links", who=_WHO)
    verbose = checks.flag(verbose, "verbose", who=_WHO)
    seed = checks.seed(seed, who=_WHO)
    if validation_split is not None:
        validation_split = checks.number(validation_split, "validation_split", who=_WHO)
        if not 0 < validation_split < 1:
            raise ValueError(f"{_WHO} validation_split must be between 0 and 1, got "
                             f"{validation_split}")
    if subset not in _SUBSETS:
        raise ValueError(f"{_WHO} subset must be 'training', 'validation', 'both' or None, got "
                         f"{subset!r}")
    if bool(validation_split) != (subset is not None):
        raise ValueError(f"{_WHO} subset and validation_split go together: got "
                         f"subset={subset!r}, validation_split={validation_split!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError(f"{_WHO} validation_split with shuffle=True needs a seed, so that the "
                         "training and validation subsets do not overlap")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:                    # Keras draws one; here from rnnlab's seeded generator
        seed = int(config.rng().integers(1_000_000))
    paths, ids, names = index_directory(directory, labels, class_names, shuffle, seed,
                                        follow_links)
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f"{_WHO} label_mode='binary' needs exactly 2 classes, got {names}")
    if label_mode == "categorical" and ids is not None and len(ids) and \
            ids.max() >= len(names):
        raise ValueError(f"{_WHO} label_mode='categorical' needs labels below the number of "
                         f"classes ({len(names)}), got {int(ids.max())}")
    if verbose:
        kinds = "" if names is None or label_mode is None else \
            f" belonging to {len(names)} classes"
        print(f"Found {len(paths)} files{kinds}.")
    if not paths:
        raise ValueError(f"{_WHO} no .txt files found in {directory}")

    def make(part, part_shuffle):
        p, y = split(paths, ids, validation_split, part)
        if not p:
            raise ValueError(f"{_WHO} no {part or ''} .txt files left in {directory}")
        if verbose and part is not None:
            print(f"Using {len(p)} files for {part}.")
        return TextDirectoryDataset(p, y, label_mode, names, batch_size, max_length,
                                    part_shuffle, seed)

    if subset == "both":
        return [make("training", shuffle), make("validation", False)]
    return make(subset, shuffle)


class TokenizedBatches:
    """``(ids, labels)`` batches from ``(texts, labels)`` ones: each batch tokenized by a fitted
    Tokenizer, cut to ``maxlen`` ids and padded to its own longest text (at least 1 step), or
    single ``(id list, label)`` samples from an unbatched dataset (for
    :func:`~rnnlab.data.bucket_by_sequence_length`).  Iterable again if its source is."""

    def __init__(self, dataset, tokenizer, maxlen, padding, truncating, dtype):
        self.dataset, self.tokenizer, self.maxlen = dataset, tokenizer, maxlen
        self.padding, self.truncating, self.dtype = padding, truncating, dtype

    def __len__(self) -> int:
        return len(self.dataset)

    def _ids(self, texts):
        seqs = self.tokenizer.texts_to_sequences(texts)
        if self.maxlen is not None:
            cut = self.maxlen
            seqs = [s[:cut] if self.truncating == "post" else s[-cut:] for s in seqs]
        return seqs

    def __iter__(self):
        for item in self.dataset:
            texts, labels = item if isinstance(item, tuple) else (item, None)
            if isinstance(texts, str):                      # an unbatched sample
                ids = self._ids([texts])[0]
                yield ids if labels is None else (ids, labels)
                continue
            seqs = self._ids(list(texts))
            length = max((len(s) for s in seqs), default=0) or 1
            x = pad_batch(seqs, length, self.padding, 0, self.dtype)
            yield x if labels is None else (x, labels)


def tokenize_batches(dataset, tokenizer, maxlen=None, padding="post", truncating="post",
                     dtype="int32"):
    """Map a dataset of text batches (e.g. :func:`text_dataset_from_directory`'s) through a
    fitted Tokenizer into ``(ids, labels)`` batches padded per batch, which ``fit`` takes;
    with a masked Embedding this trains as padding every text to ``maxlen`` does."""
    who = "tokenize_batches()"
    if not hasattr(tokenizer, "texts_to_sequences") or not getattr(tokenizer, "word_index",
                                                                       None):
        raise ValueError(f"{who} tokenizer must be a fitted Tokenizer (call fit_on_texts first)")
    maxlen = checks.positive_int(maxlen, "maxlen", who=who, allow_none=True)
    checks.one_of(padding, "padding", ("pre", "post"), who=who)
    checks.one_of(truncating, "truncating", ("pre", "post"), who=who)
    return TokenizedBatches(dataset, tokenizer, maxlen, padding, truncating, np.dtype(dtype))
