"""rnnlab.sklearn: RNNClassifier/RNNRegressor pass scikit-learn's estimator checks, route their
parameters as scikeras does, pickle through rnnlab's model file (no pickled layers), and a
TextSequencer -> RNNClassifier pipeline runs in GridSearchCV on IMDB reviews."""
import pickle
import pickletools
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from rnnlab import Sequential, config
from rnnlab.datasets import imdb
from rnnlab.layers.core import Dense
from rnnlab.layers.embedding import Embedding
from rnnlab.layers.recurrent.lstm import LSTM
from rnnlab.layers.recurrent.simple_rnn import SimpleRNN
from rnnlab.layers.reshaping import Reshape
from rnnlab.optimizers import Adam
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import Tokenizer
from rnnlab.sklearn import ModelBuildError, RNNClassifier, RNNRegressor, TextSequencer

_ACTIVATION = {"binary": "sigmoid", "multiclass": "softmax", "multilabel-indicator": "sigmoid"}


def build_rnn(meta, units=8):
    """Each feature one time step of a SimpleRNN; the output units the targets need."""
    n = meta["n_features_in_"]
    return Sequential([Reshape((n, 1), input_shape=(n,)), SimpleRNN(units),
                       Dense(meta["n_outputs_"], activation=_ACTIVATION.get(meta["target_type_"]))])


def build_lstm(meta, units=8, vocabulary=2000):
    return Sequential([Embedding(vocabulary, 8), LSTM(units),
                       Dense(1, activation="sigmoid")])


def build_broken(units=8):
    raise ValueError(f"no model with {units} units")


@pytest.fixture(autouse=True)
def _reference_kernels():
    # the tiny models here run faster on the NumPy kernels than through the compiled ones
    config.set_kernels("reference")


# Minibatch training: a zero-weighted sample still takes its place in the shuffled batches, so
# fitting with it weighted 0 cannot equal fitting without it (other batches, other updates).
_EXPECTED = {"check_sample_weight_equivalence_on_dense_data":
             "minibatch training: a zero weight keeps the sample's place in the batches"}


@parametrize_with_checks(
    [RNNClassifier(build_rnn, optimizer=Adam(learning_rate=0.05), epochs=10, random_state=0),
     RNNRegressor(build_rnn, optimizer=Adam(learning_rate=0.05), epochs=10, random_state=0)],
    expected_failed_checks=lambda est: _EXPECTED)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _blobs(n=120, centers=3, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 3, (centers, 4))
    y = rng.integers(0, centers, n)
    return (means[y] + rng.normal(0, 1, (n, 4))).astype(np.float32), y


def test_multiclass_probabilities_are_the_models_outputs_with_string_labels():
    X, y = _blobs()
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = RNNClassifier(build_rnn, optimizer="adam", optimizer__learning_rate=0.05, epochs=15,
                        random_state=1).fit(X, labels)
    assert clf.classes_.tolist() == ["ant", "bee", "cat"] and clf.n_features_in_ == 4
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(proba, clf.model_.predict(X, verbose=0).astype(np.float64))
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    assert clf.score(X, labels) == np.mean(clf.predict(X) == labels) > 0.8
    assert clf.model_.optimizer.learning_rate == pytest.approx(0.05)


def test_binary_one_sigmoid_unit_gives_two_probability_columns():
    X, y = _blobs(centers=2)
    clf = RNNClassifier(build_rnn, epochs=3, random_state=0).fit(X, y)
    p = clf.model_.predict(X, verbose=0).astype(np.float64)
    assert clf.model_.layers[-1].units == 1
    np.testing.assert_array_equal(clf.predict_proba(X), np.hstack([1 - p, p]))


def test_categorical_loss_one_hot_and_multilabel_targets():
    X, y = _blobs()
    clf = RNNClassifier(build_rnn, loss="categorical_crossentropy", epochs=2,
                        random_state=0).fit(X, y)
    assert clf.predict_proba(X).shape == (len(X), 3)
    Y = np.stack([y == 0, y == 2], axis=1).astype(int)
    ml = RNNClassifier(build_rnn, epochs=2, random_state=0).fit(X, Y)
    assert ml.target_type_ == "multilabel-indicator"
    p = ml.predict_proba(X)
    np.testing.assert_array_equal(ml.predict(X), (p > 0.5).astype(int))
    assert ml.predict(X).shape == Y.shape


def test_multi_output_regression_and_r2():
    X, _ = _blobs()
    Y = np.stack([X[:, 0] - X[:, 1], X[:, 2]], axis=1)
    reg = RNNRegressor(build_rnn, optimizer="adam", optimizer__learning_rate=0.02, epochs=20,
                       random_state=0).fit(X, Y)
    pred = reg.predict(X)
    assert pred.shape == Y.shape and pred.dtype == np.float64
    r2 = 1 - ((Y - pred) ** 2).sum(0) / ((Y - Y.mean(0)) ** 2).sum(0)
    assert reg.score(X, Y) == pytest.approx(r2.mean())


def test_routed_parameters_clone_and_grid_names():
    clf = RNNClassifier(build_rnn, model__units=5, fit__validation_split=0.25, epochs=1)
    params = clf.get_params()
    assert params["model__units"] == 5 and params["fit__validation_split"] == 0.25
    twin = clone(clf).set_params(model__units=3, epochs=2)
    assert (twin.model__units, twin.epochs, clf.model__units) == (3, 2, 5)
    X, y = _blobs()
    twin.fit(X, y)
    assert twin.model_.layers[1].units == 3
    assert "val_loss" in twin.history_ and len(twin.history_["loss"]) == 2
    with pytest.raises(ValueError, match="'unitz'.*not an argument of build_rnn"):
        RNNClassifier(build_rnn, unitz=3).fit(X, y)


def test_random_state_reproduces_a_fit_and_leaves_the_global_generator_alone():
    X, y = _blobs()
    config.set_random_seed(7)
    state = config.rng().bit_generator.state
    a = RNNClassifier(build_rnn, epochs=2, random_state=3).fit(X, y)
    assert config.get_random_seed() == 7 and config.rng().bit_generator.state == state
    b = RNNClassifier(build_rnn, epochs=2, random_state=3).fit(X, y)
    c = RNNClassifier(build_rnn, epochs=2, random_state=4).fit(X, y)
    for wa, wb in zip(a.model_.get_weights(), b.model_.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.model_.get_weights()[0], c.model_.get_weights()[0])


def test_pickle_holds_the_model_file_bytes_not_layers():
    X, y = _blobs()
    given = build_rnn({"n_features_in_": 4, "n_outputs_": 3, "target_type_": "multiclass"})
    given.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in given.get_weights()]
    clf = RNNClassifier(given, epochs=2, random_state=0).fit(X, y)
    for w0, w in zip(before, given.get_weights()):       # the given model is not trained
        np.testing.assert_array_equal(w0, w)
    blob = pickle.dumps(clf)
    globals_used = {arg for op, arg, _ in pickletools.genops(blob)
                    if op.name in ("GLOBAL", "STACK_GLOBAL") or isinstance(arg, str)}
    assert not any("rnnlab.layers" in str(g) or "rnnlab.models" in str(g) for g in globals_used)
    assert b"config.json" in blob and b"weights.npz" in blob
    back = pickle.loads(blob)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert isinstance(back.model, type(given))


def test_warm_start_continues_from_the_fitted_model():
    X, y = _blobs()
    clf = RNNClassifier(build_rnn, epochs=1, warm_start=True, random_state=0).fit(X, y)
    model = clf.model_
    first = [w.copy() for w in model.get_weights()]
    clf.fit(X, y)
    assert clf.model_ is model
    assert not np.array_equal(first[1], model.get_weights()[1])


def test_a_rejected_fit_changes_nothing():
    X, y = _blobs()
    clf = RNNClassifier(build_rnn, epochs=1, random_state=0).fit(X, y)
    model, proba = clf.model_, clf.predict_proba(X)
    clf.set_params(epochs=-1)
    with pytest.raises(ValueError, match="epochs"):
        clf.fit(X, y)
    clf.set_params(epochs=1, model__units=2)
    with pytest.raises(ValueError):
        clf.fit(X[:, :3], np.full(len(X), np.nan))
    assert clf.model_ is model and clf.n_features_in_ == 4
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_a_failing_model_builder_is_reported_with_the_trials_parameters():
    X, y = _blobs()
    with pytest.raises(ModelBuildError, match=r"build_broken.*units=3.*epochs=2.*"
                                              r"ValueError: no model with 3 units"):
        RNNClassifier(build_broken, model__units=3, epochs=2).fit(X, y)
    search = GridSearchCV(RNNClassifier(build_broken, epochs=1), {"model__units": [4]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        with pytest.raises(ValueError, match=r"(?s)All the 2 fits failed.*ModelBuildError: "
                                             r"RNNClassifier: the model-building function "
                                             r"build_broken \(called with units=4"):
            search.fit(X, y)


def _imdb(n):
    (texts, labels), _ = imdb.load_data(num_train=n, num_test=1, seed=0)
    return np.array(texts, dtype=object), np.asarray(labels)


def test_text_sequencer_equals_tokenizer_and_pad_sequences():
    texts, _ = _imdb(200)
    seq = TextSequencer(num_words=500, maxlen=40, padding="post").fit(texts[:150])
    tok = Tokenizer(num_words=500)
    tok.fit_on_texts(list(texts[:150]))
    expected = pad_sequences(tok.texts_to_sequences(list(texts[150:])), maxlen=40,
                             padding="post")
    np.testing.assert_array_equal(seq.transform(texts[150:]), expected)
    assert seq.tokenizer_.word_index == tok.word_index
    back = pickle.loads(pickle.dumps(seq))
    np.testing.assert_array_equal(back.transform(texts[150:]), expected)
    with pytest.raises(ValueError, match="TextSequencer padding must be one of"):
        TextSequencer(padding="middle").fit(texts)


def test_pipeline_of_text_sequencer_and_lstm_in_grid_search():
    texts, labels = _imdb(160)
    pipe = Pipeline([("seq", TextSequencer(num_words=2000, maxlen=40)),
                     ("rnn", RNNClassifier(build_lstm, optimizer="adam", epochs=1,
                                           batch_size=32, random_state=0))])
    grid = {"rnn__model__units": [4, 8], "seq__maxlen": [20, 40]}
    search = GridSearchCV(pipe, grid, cv=2, error_score="raise").fit(texts, labels)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    assert best.named_steps["rnn"].model_.layers[1].units == search.best_params_[
        "rnn__model__units"]
    again = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(again.predict_proba(texts), best.predict_proba(texts))
