"""text_dataset_from_directory against Keras 3's indexing and split (ported below from
keras/src/utils/dataset_utils.py, since Keras's function itself needs TensorFlow), its label
encodings and errors; tokenize_batches into fit; predict on batches of different output
shapes."""
import os

import numpy as np
import pytest

from rnnlab import Input, Sequential, config
from rnnlab.data import bucket_by_sequence_length, pad_batch
from rnnlab.layers import LSTM, Dense, Embedding
from rnnlab.optimizers import Adam
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import Tokenizer
from rnnlab.utils import text_dataset_from_directory, tokenize_batches


# --- Keras 3.15.1's algorithm, ported from keras/src/utils/dataset_utils.py (Apache 2.0):
# index_directory, iter_valid_files, index_subdirectory and get_training_or_validation_split,
# local paths only and without the thread pool (which keeps the folders' order).
def keras_index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None,
                          follow_links=False):
    if labels == "inferred":
        subdirs = []
        for subdir in sorted(os.listdir(directory)):
            if os.path.isdir(os.path.join(directory, subdir)):
                if not subdir.startswith("."):
                    if subdir.endswith("/"):
                        subdir = subdir[:-1]
                    subdirs.append(subdir)
        if class_names is not None:
            assert set(class_names).issubset(set(subdirs))
            subdirs = class_names
    else:
        subdirs = [""]
    class_names = subdirs
    class_indices = dict(zip(class_names, range(len(class_names))))
    filenames, labels_list = [], []
    for dirpath in (os.path.join(directory, subdir) for subdir in subdirs):
        partial_filenames, partial_labels = keras_index_subdirectory(
            dirpath, class_indices, follow_links, formats)
        labels_list.append(partial_labels)
        filenames += partial_filenames
    if labels == "inferred":
        i = 0
        labels = np.zeros((len(filenames),), dtype="int32")
        for partial_labels in labels_list:
            labels[i:i + len(partial_labels)] = partial_labels
            i += len(partial_labels)
    elif labels is None:
        class_names = None
    else:
        assert len(labels) == len(filenames)
        class_names = [str(label) for label in sorted(set(labels))]
    file_paths = [os.path.join(directory, fname) for fname in filenames]
    if shuffle:
        rng = np.random.RandomState(seed)
        rng.shuffle(file_paths)
        if labels is not None:
            rng = np.random.RandomState(seed)
            rng.shuffle(labels)
    return file_paths, labels, class_names


def keras_iter_valid_files(directory, follow_links, formats):
    if not follow_links:
        walk = os.walk(directory)
    else:
        walk = os.walk(directory, followlinks=follow_links)
    for root, _, files in sorted(walk, key=lambda x: x[0]):
        for fname in sorted(files):
            if fname.lower().endswith(formats):
                yield root, fname


def keras_index_subdirectory(directory, class_indices, follow_links, formats):
    dirname = os.path.basename(directory)
    labels, filenames = [], []
    for root, fname in keras_iter_valid_files(directory, follow_links, formats):
        labels.append(class_indices[dirname])
        absolute_path = os.path.join(root, fname)
        filenames.append(os.path.join(dirname, os.path.relpath(absolute_path, directory)))
    return filenames, labels


def keras_split(samples, labels, validation_split, subset):
    if not validation_split:
        return samples, labels
    num_val_samples = int(validation_split * len(samples))
    if subset == "training":
        return samples[:-num_val_samples], None if labels is None else labels[:-num_val_samples]
    return samples[-num_val_samples:], None if labels is None else labels[-num_val_samples:]
# --- end of the port


def _tree(root):
    """pos/ and neg/ with nested folders, other extensions, a hidden folder and a stray file."""
    files = {
        "pos/b.txt": "a good film", "pos/a.txt": "very good", "pos/c.TXT": "good good",
        "pos/deep/z.txt": "a very good and long film", "pos/deep/notes.md": "skip me",
        "pos/deep/er/y.txt": "fine", "neg/x1.txt": "bad", "neg/x10.txt": "the worst film",
        "neg/x2.txt": "bad bad bad", "neg/sub/q.txt": "not good at all", "neg/sub/r.txt": "long",
        "neutral/m.txt": "a film", "neutral/n.txt": "fine film", ".hidden/h.txt": "hidden",
        "top.txt": "at the top", "neg/skip.csv": "x",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return files


def _texts(ds):
    out = []
    for item in ds:
        texts = item[0] if isinstance(item, tuple) else item
        out += [texts] if isinstance(texts, str) else list(texts)
    return out


def _labels(ds):
    return np.concatenate([y for _, y in ds])


@pytest.mark.parametrize("seed", [0, 1, 7, 1234])
@pytest.mark.parametrize("class_names", [None, ["pos", "neg"], ["neutral", "neg", "pos"]])
def test_index_and_labels_follow_keras(tmp_path, seed, class_names):
    files = _tree(tmp_path)
    for shuffle in (True, False):
        want, want_y, want_names = keras_index_directory(
            str(tmp_path), "inferred", (".txt",), class_names, shuffle, seed)
        ds = text_dataset_from_directory(tmp_path, class_names=class_names, shuffle=False,
                                         seed=seed, batch_size=3, verbose=False)
        if shuffle:                         # the index shuffle, before each epoch's own
            ds = text_dataset_from_directory(tmp_path, class_names=class_names, seed=seed,
                                             batch_size=3, verbose=False)
        assert ds.file_paths == want and ds.class_names == want_names
        np.testing.assert_array_equal(ds.labels, want_y)
        if not shuffle:                     # batches in the indexed order, pass after pass
            for _ in range(2):
                assert _texts(ds) == [files[os.path.relpath(p, tmp_path)] for p in want]
                np.testing.assert_array_equal(_labels(ds), want_y)
    assert len(ds) == -(-len(want) // 3)


def test_no_labels_and_given_labels_index_the_whole_tree_as_keras(tmp_path):
    _tree(tmp_path)
    want, _, _ = keras_index_directory(str(tmp_path), None, (".txt",), shuffle=True, seed=3)
    ds = text_dataset_from_directory(tmp_path, labels=None, seed=3, verbose=False)
    assert ds.file_paths == want and ds.class_names is None
    assert all(isinstance(batch, list) for batch in ds)          # texts only
    assert sorted(_texts(ds)) == sorted(open(p).read() for p in want)
    given = [i % 3 for i in range(len(want))]
    want, want_y, names = keras_index_directory(str(tmp_path), list(given), (".txt",),
                                                shuffle=True, seed=5)
    ds = text_dataset_from_directory(tmp_path, labels=given, seed=5, verbose=False)
    assert ds.file_paths == want and ds.class_names == names == ["0", "1", "2"]
    np.testing.assert_array_equal(ds.labels, want_y)


@pytest.mark.parametrize("split", [0.2, 0.34, 0.5, 0.9])
def test_training_and_validation_subsets_follow_keras(tmp_path, split):
    _tree(tmp_path)
    paths, labels, _ = keras_index_directory(str(tmp_path), "inferred", (".txt",), seed=11)
    train, val = text_dataset_from_directory(tmp_path, seed=11, validation_split=split,
                                             subset="both", batch_size=4, verbose=False)
    for ds, subset in ((train, "training"), (val, "validation")):
        want, want_y = keras_split(paths, labels, split, subset)
        assert ds.file_paths == want
        np.testing.assert_array_equal(ds.labels, want_y)
        alone = text_dataset_from_directory(tmp_path, seed=11, validation_split=split,
                                            subset=subset, verbose=False)
        assert alone.file_paths == want
    assert not set(train.file_paths) & set(val.file_paths)
    assert len(train.file_paths) + len(val.file_paths) == len(paths)
    assert not val.shuffle and train.shuffle       # Keras shuffles only the training part
    by_path = dict(zip(paths, labels))
    first, second = _texts(train), _texts(train)
    assert sorted(first) == sorted(second) == sorted(open(p).read() for p in train.file_paths)
    if len(first) > 3:
        assert first != second                      # each epoch reshuffled
    seen = [(t, int(y)) for x, ys in train for t, y in zip(x, ys)]
    assert sorted(seen) == sorted((open(p).read(), int(by_path[p])) for p in train.file_paths)


def test_label_modes_max_length_and_unbatched_samples(tmp_path):
    _tree(tmp_path)
    kw = dict(shuffle=False, batch_size=4, verbose=False)
    ints = text_dataset_from_directory(tmp_path, **kw)
    y = _labels(ints)
    assert y.dtype == np.int32 and y.shape == (len(ints.file_paths),)
    cat = text_dataset_from_directory(tmp_path, label_mode="categorical", **kw)
    yc = _labels(cat)
    assert yc.dtype == np.float32
    np.testing.assert_array_equal(yc, np.eye(3)[y])
    binary = text_dataset_from_directory(tmp_path, label_mode="binary",
                                         class_names=["neg", "pos"], **kw)
    yb = _labels(binary)
    assert yb.dtype == np.float32 and yb.shape[1:] == (1,)
    np.testing.assert_array_equal(yb[:, 0], binary.labels)
    short = text_dataset_from_directory(tmp_path, max_length=4, **kw)
    assert _texts(short) == [t[:4] for t in _texts(ints)]
    none = text_dataset_from_directory(tmp_path, label_mode=None, **kw)
    want, _, _ = keras_index_directory(str(tmp_path), None, (".txt",), shuffle=False)
    assert none.file_paths == want                  # as Keras: label_mode None drops the labels
    assert all(isinstance(b, list) for b in none) and "at the top" in _texts(none)
    single = text_dataset_from_directory(tmp_path, shuffle=False, batch_size=None,
                                         verbose=False)
    samples = list(single)
    assert len(single) == len(samples) == len(ints.file_paths)
    assert [t for t, _ in samples] == _texts(ints) and [int(v) for _, v in samples] == list(y)


def test_a_drawn_seed_comes_from_rnnlabs_generator(tmp_path):
    _tree(tmp_path)
    orders = []
    for _ in range(2):
        config.set_random_seed(9)
        ds = text_dataset_from_directory(tmp_path, verbose=False)
        orders.append((ds.file_paths, _texts(ds)))
    assert orders[0] == orders[1]


def test_follow_links_walks_linked_folders_as_keras(tmp_path):
    _tree(tmp_path / "data")
    outside = tmp_path / "more"
    outside.mkdir()
    (outside / "linked.txt").write_text("linked text")
    os.symlink(outside, tmp_path / "data" / "pos" / "link")
    for follow in (False, True):
        want, _, _ = keras_index_directory(str(tmp_path / "data"), "inferred", (".txt",),
                                           shuffle=False, follow_links=follow)
        ds = text_dataset_from_directory(tmp_path / "data", shuffle=False, verbose=False,
                                         follow_links=follow)
        assert ds.file_paths == want
        assert any(p.endswith("linked.txt") for p in want) == follow


def test_verbose_reports_as_keras(tmp_path, capsys):
    _tree(tmp_path)
    text_dataset_from_directory(tmp_path, seed=1, validation_split=0.25, subset="both")
    out = capsys.readouterr().out
    assert "Found 12 files belonging to 3 classes." in out
    assert "Using 9 files for training." in out and "Using 3 files for validation." in out


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(subset="training"), ValueError, "subset and validation_split go together"),
    (dict(validation_split=0.2, seed=1), ValueError, "subset and validation_split go together"),
    (dict(validation_split=0.2, subset="training"), ValueError, "needs a seed"),
    (dict(validation_split=1.5, subset="both", seed=1), ValueError, "between 0 and 1"),
    (dict(validation_split=0.01, subset="validation", seed=1), ValueError,
     "leaves no file for validation"),
    (dict(subset="test", validation_split=0.2, seed=1), ValueError, "subset must be"),
    (dict(label_mode="sparse"), ValueError, "label_mode must be one of"),
    (dict(label_mode="binary"), ValueError, "exactly 2 classes"),
    (dict(class_names=["pos", "other"]), ValueError, "are not all subfolders"),
    (dict(labels=None, class_names=["pos"]), ValueError, "only be given with labels='inferred'"),
    (dict(labels=[0, 1]), ValueError, r"got 2 labels for the 14 \.txt files"),
    (dict(labels="folders"), ValueError, "labels must be 'inferred', None or a list"),
    (dict(labels=np.zeros(14, int)), ValueError, "labels must be 'inferred', None or a list"),
    (dict(labels=[0.5] * 14), ValueError, "labels must be a non-negative integer"),
    (dict(labels=[0, 2] * 7, label_mode="categorical"), ValueError, "below the number of"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(max_length=-1), ValueError, "max_length"),
    (dict(shuffle="yes"), TypeError, "shuffle must be True or False"),
    (dict(seed=-1), ValueError, "seed"),
])
def test_bad_arguments_are_clear_errors(tmp_path, kwargs, error, message):
    _tree(tmp_path)
    with pytest.raises(error, match=message):
        text_dataset_from_directory(tmp_path, verbose=False, **kwargs)


def test_missing_directory_empty_tree_and_bad_text_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        text_dataset_from_directory(tmp_path / "nowhere")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.csv").write_text("not text")
    with pytest.raises(ValueError, match=r"no \.txt files found"):
        text_dataset_from_directory(tmp_path, verbose=False)
    (tmp_path / "a" / "bad.txt").write_bytes(b"caf\xe9")
    ds = text_dataset_from_directory(tmp_path, verbose=False, shuffle=False)
    with pytest.raises(ValueError, match=r"bad\.txt is not UTF-8"):
        list(ds)


REVIEWS = {"pos": ["a good film", "very very good", "a good and long film indeed", "good",
                   "fine film"],
           "neg": ["bad", "not good at all", "the worst film of the year bad bad bad",
                   "long and bad", "a bad film"]}


def _reviews(root):
    for label, texts in REVIEWS.items():
        (root / label).mkdir()
        for i, text in enumerate(texts):
            (root / label / f"{i:02d}.txt").write_text(text)


def _tokenizer():
    tok = Tokenizer(num_words=20)
    tok.fit_on_texts([t for texts in REVIEWS.values() for t in texts])
    return tok


def _masked_model():
    config.set_random_seed(4)
    model = Sequential([Embedding(20, 4, mask_zero=True), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(Adam(0.01), "binary_crossentropy")
    return model


def test_tokenized_directory_batches_train_as_padded_arrays(tmp_path):
    """The directory's files, tokenized and padded per batch, train a masked LSTM to the
    weights that the same texts padded to maxlen as arrays give (up to float rounding)."""
    _reviews(tmp_path)
    tok = _tokenizer()
    ds = text_dataset_from_directory(tmp_path, shuffle=False, batch_size=4, verbose=False)
    tokens = tokenize_batches(ds, tok, maxlen=6)
    seqs = tok.texts_to_sequences(_texts(ds))
    for (x, y), k in zip(tokens, range(0, 10, 4)):
        part = [s[:6] for s in seqs[k:k + 4]]
        np.testing.assert_array_equal(x, pad_batch(part, max(map(len, part)), dtype="int32"))
        np.testing.assert_array_equal(y, ds.labels[k:k + 4])
    assert len(tokens) == 3
    x_all = pad_sequences(seqs, maxlen=6, padding="post", truncating="post")
    ref = _masked_model()
    ref.fit(x_all, ds.labels, batch_size=4, epochs=2, shuffle=False, verbose=0)
    model = _masked_model()
    model.fit(tokens, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ref.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_unbatched_tokenized_samples_bucket_by_length(tmp_path):
    _reviews(tmp_path)
    tok = _tokenizer()
    ds = text_dataset_from_directory(tmp_path, shuffle=False, batch_size=None, verbose=False)
    samples = list(tokenize_batches(ds, tok))
    assert samples[0] == (tok.texts_to_sequences([REVIEWS["neg"][0]])[0], 0)
    batches = list(bucket_by_sequence_length(samples, [3], [2, 2]))
    assert sum(len(y) for _, y in batches) == 10
    for x, _ in batches:                       # one bucket per batch: below 3 ids or not
        lengths = (x != 0).sum(axis=1)
        assert (lengths < 3).all() or (lengths >= 3).all()
    model = _masked_model()
    model.fit(bucket_by_sequence_length(tokenize_batches(ds, tok), [3], [2, 2]), epochs=2,
              shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="fitted Tokenizer"):
        tokenize_batches(ds, Tokenizer())
    with pytest.raises(ValueError, match="padding"):
        tokenize_batches(ds, tok, padding="both")


def test_predict_on_batches_with_outputs_of_different_lengths_names_the_batch():
    rng = np.random.default_rng(0)
    batches = [rng.integers(1, 20, size=(4, t)) for t in (5, 5, 7)]
    model = Sequential([Embedding(20, 4), LSTM(3, return_sequences=True)])
    assert model.predict(iter(batches[:2]), verbose=0).shape == (8, 5, 3)
    with pytest.raises(ValueError, match=r"predict\(\): batch 2 gives the output of shape "
                                         r"\(4, 7, 3\), but batch 0 gave \(4, 5, 3\)"):
        model.predict(iter(batches), verbose=0)
    last = Sequential([Embedding(20, 4), LSTM(3)])          # last step only: lengths may vary
    assert last.predict(iter(batches), verbose=0).shape == (12, 3)


def test_a_refused_predict_leaves_the_carried_states_as_they_were():
    rng = np.random.default_rng(1)
    batches = [rng.integers(1, 20, size=(4, t)) for t in (5, 7)]
    model = Sequential([Input((None,), batch_size=4, dtype="int32"), Embedding(20, 4),
                        LSTM(3, return_sequences=True, stateful=True)])
    model.predict(batches[0], verbose=0)
    before = [s.copy() for s in model.layers[-1].states]
    assert np.abs(before[0]).sum() > 0
    with pytest.raises(ValueError, match="batch 1 gives the output"):
        model.predict(iter(batches), verbose=0)
    for a, b in zip(before, model.layers[-1].states):
        np.testing.assert_array_equal(a, b)
