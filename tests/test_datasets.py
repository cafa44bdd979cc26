"""Dataset loaders: the lecture's Fortune 500 numbers, IMDB, Yelp fixture, synthetic data."""
import gzip
import hashlib
import io
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netutil import closed_port_url
from rnnlab import config
from rnnlab.datasets import fortune500, imdb, synthetic, yelp_polarity
from rnnlab.datasets._files import ChecksumError, DatasetNotFoundError

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never touch the user's real cache."""
    monkeypatch.setenv("RNNLAB_CACHE_DIR", str(tmp_path / "cache"))


# ----------------------------------------------------------------------------- fortune500

def test_fortune500_matches_the_lecture(data_dir):
    X, y, tickers, dates = fortune500.load_data()
    assert X.shape == (502, 100) and X.dtype == np.float64
    assert y.shape == (502,) and tickers.shape == (502,)
    assert len(dates) == 101 and dates[0] == "28/09/2020" and dates[-1] == "22/02/2021"
    assert abs(np.mean((y - y.mean()) ** 2) - 0.3516210190443937) < 1e-9
    assert abs(np.mean((y - X[:, -1]) ** 2) - 0.033289150367058463) < 1e-9
    # the lecture's own pandas recipe as the independent reference
    df = pd.read_csv(data_dir / "fortune500_100_days.csv")
    ref = df.iloc[:, 1:].values
    np.testing.assert_array_equal(X, ref[:, :-1])
    np.testing.assert_array_equal(y, ref[:, -1])
    assert tickers.tolist() == df["Fortune500"].tolist()
    assert dates == list(df.columns[1:])


def test_fortune500_explicit_path(data_dir, tmp_path):
    X, *_ = fortune500.load_data(path=data_dir)
    X2, *_ = fortune500.load_data(path=data_dir / "fortune500_100_days.csv")
    np.testing.assert_array_equal(X, X2)
    with pytest.raises(DatasetNotFoundError, match="fortune500_100_days.csv"):
        fortune500.load_data(path=tmp_path)


def test_fortune500_corrupt_local_copy(tmp_path, monkeypatch, data_dir):
    bad = tmp_path / "data"
    bad.mkdir()
    text = (data_dir / "fortune500_100_days.csv").read_text()
    (bad / "fortune500_100_days.csv").write_text(text.replace("GOOG", "GOOX"))
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(bad))
    with pytest.raises(ChecksumError, match=fortune500.SHA256):
        fortune500.load_data()


def test_goog_series(data_dir):
    goog = fortune500.load_series("GOOG")
    assert goog.shape == (101,)
    df = pd.read_csv(data_dir / "fortune500_100_days.csv")
    np.testing.assert_array_equal(goog, df[df["Fortune500"] == "GOOG"].values[0][1:].astype(float))
    assert goog.min() == -1.0 and goog.max() == 1.0  # each row is min-max scaled
    with pytest.raises(KeyError, match="NOPE"):
        fortune500.load_series("NOPE")


# ----------------------------------------------------------------------------- imdb

@pytest.fixture(scope="module")
def imdb_full():
    return imdb.load_data(with_ratings=True)


def test_imdb_full_sizes_and_labels(imdb_full, data_dir):
    for texts, labels, ratings in imdb_full:
        assert len(texts) == 25000 and labels.shape == (25000,) and ratings.shape == (25000,)
        assert all(isinstance(t, str) and t for t in texts[:100])
        assert labels.dtype == np.int64 and set(np.unique(labels)) == {0, 1}
        assert labels.sum() == 12500
        # the dataset's definition: positive = rating >= 7, negative = rating <= 4
        assert np.all(ratings[labels == 1] >= 7) and np.all(ratings[labels == 0] <= 4)
        assert ratings.min() == 1 and ratings.max() == 10
    # independent reference read with pandas
    ref = pd.read_csv(data_dir / "imdb_test.csv.gz")
    texts, labels, ratings = imdb_full[1]
    assert texts == ref["text"].tolist()
    np.testing.assert_array_equal(labels, ref["label"].to_numpy())
    np.testing.assert_array_equal(ratings, ref["rating"].to_numpy())


def test_imdb_subsets_are_seeded_and_consistent(imdb_full):
    (a, ya), (b, yb) = imdb.load_data(num_train=300, num_test=120, seed=3)
    assert len(a) == 300 and ya.shape == (300,) and len(b) == 120 and yb.shape == (120,)
    (a2, ya2), (b2, _) = imdb.load_data(num_train=300, num_test=120, seed=3)
    assert a == a2 and b == b2 and np.array_equal(ya, ya2)
    (a3, _), _ = imdb.load_data(num_train=300, num_test=120, seed=4)
    assert a3 != a
    assert len(set(a)) == 300  # without replacement
    lookup = dict(zip(imdb_full[0][0], imdb_full[0][1]))
    assert all(lookup[t] == lab for t, lab in zip(a, ya))  # texts keep their own labels
    assert 0 < ya.sum() < 300  # random order, not the file's negative-first block
    config.set_random_seed(7)
    (g1, _), _ = imdb.load_data(num_train=50, num_test=10)
    config.set_random_seed(7)
    (g2, _), _ = imdb.load_data(num_train=50, num_test=10)
    assert g1 == g2  # seed=None follows rnnlab.config's global seed


@pytest.mark.parametrize("bad", [0, -1, 25001, 2.5, True])
def test_imdb_bad_subset_size(bad):
    with pytest.raises(ValueError, match="num_train"):
        imdb.load_data(num_train=bad)


def _write_tar(dest, members):
    with tarfile.open(dest, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


ACL = {
    "aclImdb/README": b"Large Movie Review Dataset v1.0\n",
    "aclImdb/imdb.vocab": b"the\nand\n",
    "aclImdb/train/urls_pos.txt": b"http://example.org\n",
    "aclImdb/train/pos/10_9.txt": "Loved it, \"truly\".<br /><br />Caf\u00e9 scene!".encode(),
    "aclImdb/train/pos/2_7.txt": b"Good enough.\nSecond line.",
    "aclImdb/train/neg/3_1.txt": b"Worst, ever.",
    "aclImdb/train/neg/1_4.txt": b"Meh; not for me.",
    "aclImdb/train/unsup/0_0.txt": b"unlabelled, ignored",
    "aclImdb/test/pos/0_10.txt": b"Masterpiece.",
    "aclImdb/test/neg/7_2.txt": b"Boring.",
    "aclImdb/test/neg/5_3.txt": b"Too long.",
}
ACL_TRAIN = (["Meh; not for me.", "Worst, ever.", "Good enough.\nSecond line.",
              "Loved it, \"truly\".<br /><br />Caf\u00e9 scene!"], [0, 0, 1, 1], [4, 1, 7, 9])
ACL_TEST = (["Too long.", "Boring.", "Masterpiece."], [0, 0, 1], [3, 2, 10])


def _check_acl(result):
    (xtr, ytr, rtr), (xte, yte, rte) = result
    assert (xtr, ytr.tolist(), rtr.tolist()) == ACL_TRAIN
    assert (xte, yte.tolist(), rte.tolist()) == ACL_TEST


def test_imdb_archive_conversion(tmp_path, monkeypatch):
    monkeypatch.delenv("RNNLAB_DATA_DIR", raising=False)
    monkeypatch.setattr(imdb, "ARCHIVE_URL", closed_port_url("aclImdb_v1.tar.gz"))
    src = tmp_path / "src"
    src.mkdir()
    _write_tar(src / "aclImdb_v1.tar.gz", ACL)
    # the fixture stands in for the published archive (found by name, it is checked against this)
    monkeypatch.setattr(imdb, "ARCHIVE_SHA256",
                        hashlib.sha256((src / "aclImdb_v1.tar.gz").read_bytes()).hexdigest())
    _check_acl(imdb.load_data(path=src / "aclImdb_v1.tar.gz", with_ratings=True))
    _check_acl(imdb.load_data(path=src, with_ratings=True))  # a directory holding the archive
    # the converted CSVs have the shared files' layout (read back independently with pandas)
    conv = tmp_path / "cache" / imdb.CONVERTED_SUBDIR / "imdb_train.csv.gz"
    df = pd.read_csv(conv, keep_default_na=False)
    assert list(df.columns) == ["label", "rating", "text"]
    assert df["text"].tolist() == ACL_TRAIN[0]
    # later loads without path use the converted copy in the cache
    (src / "aclImdb_v1.tar.gz").unlink()
    _check_acl(imdb.load_data(with_ratings=True))


def test_imdb_extracted_folder(tmp_path):
    root = tmp_path / "aclImdb"
    for name, data in ACL.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    _check_acl(imdb.load_data(path=root, with_ratings=True))


def test_imdb_not_an_archive(tmp_path):
    f = tmp_path / "x.csv.gz"
    with gzip.open(f, "wt") as g:
        g.write("label,rating,text\n")
    with pytest.raises(ValueError, match="not the aclImdb_v1.tar.gz archive"):
        imdb.load_data(path=f)
    empty = tmp_path / "empty.tar.gz"
    _write_tar(empty, {"aclImdb/README": b"x"})
    with pytest.raises(ValueError, match="no train/pos or train/neg"):
        imdb.load_data(path=empty)


def test_imdb_missing_everywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path / "nothing"))
    url = closed_port_url("aclImdb_v1.tar.gz")
    monkeypatch.setattr(imdb, "ARCHIVE_URL", url)
    with pytest.raises(DatasetNotFoundError) as exc:
        imdb.load_data()
    msg = str(exc.value)
    assert "imdb_train.csv.gz" in msg and url in msg and "RNNLAB_DATA_DIR" in msg


# ----------------------------------------------------------------------------- yelp

YELP_TRAIN = (
    ["Was not impressed, and will not return.",
     "Great tacos.\nFriendly staff, and the salsa was \"hot\" as promised!",
     "They said \"best coffee in town\" and they were right.",
     "Waited 40 minutes.\n\nNever again.\nCaf\u00e9 closed early, too.",
     "Solid 4 stars - the \\\\ path was fine"],
    [0, 1, 1, 0, 1])
YELP_TEST = (["Cold fries, \"fresh\" my foot.", "Loved it!\nWill be back.", "No."], [0, 1, 0])


def _check_yelp(result):
    (xtr, ytr), (xte, yte) = result
    assert xtr == YELP_TRAIN[0] and ytr.tolist() == YELP_TRAIN[1] and ytr.dtype == np.int64
    assert xte == YELP_TEST[0] and yte.tolist() == YELP_TEST[1]


@pytest.fixture
def yelp_tgz(tmp_path, monkeypatch):
    d = tmp_path / "archive"
    d.mkdir()
    with tarfile.open(d / yelp_polarity.ARCHIVE, "w:gz") as tar:
        tar.add(FIXTURES / "yelp_review_polarity_csv", arcname="yelp_review_polarity_csv")
    # the fixture stands in for the published archive (found by name, it is checked against this)
    monkeypatch.setattr(yelp_polarity, "SHA256",
                        hashlib.sha256((d / yelp_polarity.ARCHIVE).read_bytes()).hexdigest())
    return d / yelp_polarity.ARCHIVE


def test_yelp_fixture_from_archive(yelp_tgz):
    _check_yelp(yelp_polarity.load_data(path=yelp_tgz))
    _check_yelp(yelp_polarity.load_data(path=yelp_tgz.parent))


def test_yelp_fixture_extracted(tmp_path, monkeypatch):
    _check_yelp(yelp_polarity.load_data(path=FIXTURES))  # holds yelp_review_polarity_csv/
    _check_yelp(yelp_polarity.load_data(path=FIXTURES / "yelp_review_polarity_csv"))  # directly
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(FIXTURES))
    _check_yelp(yelp_polarity.load_data())


def test_yelp_archive_in_cache(yelp_tgz, tmp_path, monkeypatch):
    monkeypatch.delenv("RNNLAB_DATA_DIR", raising=False)
    monkeypatch.setattr(yelp_polarity, "URL", closed_port_url(yelp_polarity.ARCHIVE))
    (tmp_path / "cache").mkdir()
    shutil.copy(yelp_tgz, tmp_path / "cache" / yelp_polarity.ARCHIVE)
    _check_yelp(yelp_polarity.load_data())


def test_yelp_subset(yelp_tgz):
    (x, y), (xt, yt) = yelp_polarity.load_data(path=yelp_tgz, num_train=3, num_test=2, seed=0)
    assert len(x) == 3 and len(xt) == 2
    pairs = dict(zip(*YELP_TRAIN))
    assert all(pairs[t] == lab for t, lab in zip(x, y))
    (x2, _), _ = yelp_polarity.load_data(path=yelp_tgz, num_train=3, num_test=2, seed=0)
    assert x2 == x
    with pytest.raises(ValueError, match=r"num_train must be an integer in \[1, 5\]"):
        yelp_polarity.load_data(path=yelp_tgz, num_train=6)


def test_yelp_bad_rows_and_missing(tmp_path, monkeypatch):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "train.csv").write_text('"2","fine"\n"3","what class?"\n')
    (d / "test.csv").write_text('"1","ok"\n')
    with pytest.raises(ValueError, match=r"line 2.*class"):
        yelp_polarity.load_data(path=d)
    with pytest.raises(DatasetNotFoundError, match="yelp_review_polarity_csv"):
        yelp_polarity.load_data(path=tmp_path / "nowhere")
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path / "nowhere"))
    url = closed_port_url(yelp_polarity.ARCHIVE)
    monkeypatch.setattr(yelp_polarity, "URL", url)
    with pytest.raises(DatasetNotFoundError, match=re.escape(url)):
        yelp_polarity.load_data()


# ----------------------------------------------------------------------------- synthetic

@pytest.mark.parametrize("kind", ["mixed", "sine", "walk"])
def test_time_series_shapes_range_and_predictability(kind):
    X, y, tickers, dates = synthetic.time_series(kind=kind)
    assert X.shape == (502, 100) and y.shape == (502,) and X.dtype == np.float64
    assert tickers[0] == "SYN000" and len(set(tickers)) == 502 and len(dates) == 101
    full = np.column_stack([X, y])
    assert full.min() >= -1.0 and full.max() <= 1.0
    np.testing.assert_allclose(full.min(axis=1), -1.0, atol=1e-12)  # each row min-max scaled
    np.testing.assert_allclose(full.max(axis=1), 1.0, atol=1e-12)
    mse_mean = np.mean((y - y.mean()) ** 2)
    mse_last = np.mean((y - X[:, -1]) ** 2)
    assert mse_last < 0.2 * mse_mean
    # the past carries more than the last value: least squares on the last 5 values, fitted on
    # one half of the series and scored on the other, beats the last-value baseline there
    A = np.column_stack([X[:, -5:], np.ones(len(X))])
    w, *_ = np.linalg.lstsq(A[::2], y[::2], rcond=None)
    mse_lin = np.mean((A[1::2] @ w - y[1::2]) ** 2)
    assert mse_lin < np.mean((y[1::2] - X[1::2, -1]) ** 2)


def test_time_series_determinism_and_args():
    a = synthetic.time_series(n_series=20, n_steps=30, seed=5)
    b = synthetic.time_series(n_series=20, n_steps=30, seed=5)
    c = synthetic.time_series(n_series=20, n_steps=30, seed=6)
    assert a.X.shape == (20, 29) and a.y.shape == (20,) and len(a.dates) == 30
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(a.X, c.X)
    with pytest.raises(ValueError, match="kind"):
        synthetic.time_series(kind="chaos")
    with pytest.raises(ValueError, match="n_steps"):
        synthetic.time_series(n_steps=2)


def _words(text):
    return re.findall(r"[a-z]+", text.lower())


def _score(text, negation=True):
    """Independent scorer: +-1 per lexicon adjective, flipped after a negator when asked."""
    total = 0
    for sentence in text.split("."):
        w = _words(sentence)
        for i, tok in enumerate(w):
            s = (tok in synthetic.POSITIVE_WORDS) - (tok in synthetic.NEGATIVE_WORDS)
            if s and negation and i > 0 and w[i - 1] in synthetic.NEGATORS:
                s = -s
            total += s
    return total


def test_reviews_balanced_deterministic_and_order_sensitive():
    texts, labels = synthetic.reviews(n=2000, seed=0)
    assert len(texts) == 2000 and labels.shape == (2000,) and labels.dtype == np.int64
    assert labels.sum() == 1000
    texts2, labels2 = synthetic.reviews(n=2000, seed=0)
    assert texts == texts2 and np.array_equal(labels, labels2)
    assert synthetic.reviews(n=50, seed=1)[0] != synthetic.reviews(n=50, seed=2)[0]
    lengths = np.array([len(t.split()) for t in texts])
    assert lengths.min() >= 5 and lengths.max() <= 80 and lengths.std() > 10
    # negations in both classes, including the pairs that defeat a bag of words
    joined = [" ".join(_words(t)) for t in texts]
    has = lambda phrase, lab: any(re.search(rf"\b{phrase}\b", j) for j, l in zip(joined, labels)
                                  if l == lab)
    assert has("not (" + "|".join(synthetic.POSITIVE_WORDS) + ")", 0)
    assert has("(not|never) (" + "|".join(synthetic.NEGATIVE_WORDS) + ")", 1)
    assert np.mean([("not" in j.split()) or ("never" in j.split()) for j in joined]) > 0.3
    # the label is exactly the negation-aware polarity; ignoring word order gets many wrong
    aware = np.array([_score(t) > 0 for t in texts])
    naive = np.array([_score(t, negation=False) > 0 for t in texts])
    assert np.all(aware == (labels == 1))
    assert np.mean(naive == (labels == 1)) < 0.85
    # neutral filler: words outside the lexicons and negators are common
    lexicon = {*synthetic.POSITIVE_WORDS, *synthetic.NEGATIVE_WORDS, *synthetic.NEGATORS}
    all_words = [w for j in joined for w in j.split()]
    assert np.mean([w not in lexicon for w in all_words]) > 0.6


def test_reviews_odd_n_and_bad_n():
    _, labels = synthetic.reviews(n=7, seed=0)
    assert abs(int(labels.sum()) - (7 - int(labels.sum()))) == 1
    with pytest.raises(ValueError, match="n must be"):
        synthetic.reviews(n=0)


def test_datasets_import_nothing_from_the_engine():
    """Layering (DESIGN.md): datasets may use rnnlab.config, the foundations below the engine
    (rnnlab.io for atomic writes, rnnlab.checks for arguments) and each other, nothing above."""
    import ast
    allowed = ("rnnlab.config", "rnnlab.io", "rnnlab.checks", "rnnlab.datasets")
    src_dir = Path(synthetic.__file__).parent
    for f in src_dir.glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.startswith("rnnlab")):
                mods = ([f"rnnlab.{a.name}" for a in node.names] if node.module == "rnnlab"
                        else [node.module])
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names if a.name.startswith("rnnlab")]
            else:
                continue
            for m in mods:
                assert m.startswith(allowed), f"{f.name} imports {m}"
