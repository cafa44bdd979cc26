"""Stateful metrics against Keras 3's own, batch after uneven batch, with sample weights; the
training loop's use of them (reset per epoch and evaluation, logs in compile order, saving)."""
import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rnnlab
from rnnlab import Sequential, config
from rnnlab import metrics as M
from rnnlab.layers import Dense
from rnnlab.models import training as T
from rnnlab.optimizers import SGD

TOL = 1e-6


def _keras_value(metric):
    return np.asarray(keras.ops.convert_to_numpy(metric.result()), dtype=np.float64)


def _split(n, cuts):
    """Uneven batch boundaries from a list of cut fractions."""
    edges = sorted({0, n, *(int(c * n) for c in cuts)})
    return list(zip(edges[:-1], edges[1:]))


def _both(ours, theirs, y, p, w=None, cuts=(0.13, 0.5, 0.52)):
    """Feed both metrics the same batches; return (ours, Keras's) results."""
    for a, b in _split(len(p), cuts):
        sw = None if w is None else w[a:b]
        ours.update_state(y[a:b], p[a:b], sample_weight=sw)
        theirs.update_state(y[a:b], p[a:b], sample_weight=sw)
    return np.asarray(ours.result(), dtype=np.float64), _keras_value(theirs)


def _data(seed, n, k=1, grid=True, labels="binary"):
    """Predictions in [0, 1] (some on the 199-bucket grid, some 0 and 1), labels, weights."""
    r = np.random.default_rng(seed)
    p = r.uniform(size=(n, k))
    if grid:
        on = r.uniform(size=p.shape) < 0.25
        p = np.where(on, np.round(p * 199) / 199, p)
        p[r.uniform(size=p.shape) < 0.03] = 0.0
        p[r.uniform(size=p.shape) < 0.03] = 1.0
    y = (r.uniform(size=(n, k)) < 0.4).astype(np.float32)
    if labels == "onehot":
        y = np.eye(k, dtype=np.float32)[r.integers(0, k, n)]
    w = r.uniform(0, 2, n).astype(np.float32)
    w[r.uniform(size=n) < 0.1] = 0.0
    return y, p.astype(np.float32), w


seeds = st.integers(0, 2**31 - 1)
cuts = st.lists(st.floats(0.0, 1.0), min_size=0, max_size=3)


# ------------------------------------------------------------------------------ AUC
@given(seed=seeds, n=st.integers(1, 90), cuts=cuts, weighted=st.booleans(),
       curve=st.sampled_from(["ROC", "PR"]),
       summation=st.sampled_from(["interpolation", "minoring", "majoring"]),
       num_thresholds=st.sampled_from([2, 3, 10, 200]))
def test_auc_equals_keras(seed, n, cuts, weighted, curve, summation, num_thresholds):
    y, p, w = _data(seed, n)
    ours = M.AUC(num_thresholds=num_thresholds, curve=curve, summation_method=summation)
    theirs = keras.metrics.AUC(num_thresholds=num_thresholds, curve=curve,
                               summation_method=summation)
    a, b = _both(ours, theirs, y, p, w if weighted else None, cuts)
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL)


AUC_KINDS = [{"multi_label": True}, {"multi_label": True, "label_weights": [0.5, 2.0, 1.0]},
             {"multi_label": False, "label_weights": [0.5, 2.0, 1.0]},
             {"multi_label": True, "num_labels": 3}, {"from_logits": True},
             {"from_logits": True, "multi_label": True}]


@given(seed=seeds, n=st.integers(2, 60), cuts=cuts, curve=st.sampled_from(["ROC", "PR"]),
       kw=st.sampled_from(AUC_KINDS))
def test_auc_multi_label_label_weights_and_logits_equal_keras(seed, n, cuts, curve, kw):
    y, p, w = _data(seed, n, k=3)
    if kw.get("from_logits"):
        p = np.random.default_rng(seed).normal(0, 3, p.shape).astype(np.float32)
    a, b = _both(M.AUC(curve=curve, **kw), keras.metrics.AUC(curve=curve, **kw), y, p, w, cuts)
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL, err_msg=str(kw))


@pytest.mark.parametrize("thresholds", [[0.3, 0.5, 0.9], [0.25, 0.5, 0.75], [0.5]])
def test_auc_given_thresholds_equal_keras(thresholds):
    y, p, w = _data(5, 77)
    for curve in ("ROC", "PR"):
        a, b = _both(M.AUC(thresholds=thresholds, curve=curve),
                     keras.metrics.AUC(thresholds=thresholds, curve=curve), y, p, w)
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
    cfg = M.AUC(thresholds=thresholds).get_config()
    assert cfg["thresholds"] == pytest.approx(thresholds)
    assert M.AUC.from_config(cfg).thresholds == M.AUC(thresholds=thresholds).thresholds


def test_auc_pr_interpolation_by_hand():
    # Two thresholds' worth of counts: the Davis-Goadrich area of Keras's interpolate_pr_auc
    auc = M.AUC(num_thresholds=3, curve="PR")
    auc.update_state([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    tp, fp, fn = auc.true_positives, auc.false_positives, auc.false_negatives
    assert tp.tolist() == [2, 1, 0] and fp.tolist() == [2, 0, 0] and fn.tolist() == [0, 1, 2]
    # interval 0: dtp = 1, P: 4 -> 1, slope 1/3, intercept 1 - 1/3 = 2/3, over tp + fn = 2
    area0 = (1 / 3) * (1 + (2 / 3) * np.log(4 / 1)) / 2
    # interval 1: P 1 -> 0: ratio taken as 1, slope 1, intercept 0, divided by tp+fn = 2
    area1 = 1 * (1 + 0) / 2
    assert auc.result() == pytest.approx(area0 + area1, abs=1e-12)


def test_auc_arguments_are_checked():
    with pytest.raises(ValueError, match="curve"):
        M.AUC(curve="RROC")
    with pytest.raises(ValueError, match="summation_method"):
        M.AUC(summation_method="trapezoid")
    with pytest.raises(ValueError, match="num_thresholds"):
        M.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match=r"thresholds must be in \[0, 1\]"):
        M.AUC(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="num_labels is needed only"):
        M.AUC(num_labels=3)
    with pytest.raises(ValueError, match="more than"):
        M.AUC(num_thresholds=10**9)
    auc = M.AUC(multi_label=True)
    with pytest.raises(ValueError, match="rank 2"):
        auc.update_state(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)))
    with pytest.raises(ValueError, match="does not match"):
        M.AUC().update_state(np.zeros(3), np.zeros(4))


# ------------------------------------------------------------------------------ precision/recall
PR_CASES = [
    {}, {"thresholds": 0.3}, {"thresholds": [0.2, 0.5, 0.9]}, {"thresholds": [0.0, 0.5, 1.0]},
    {"top_k": 2}, {"class_id": 1}, {"top_k": 2, "class_id": 2}, {"thresholds": 0.6, "top_k": 1},
]


@given(seed=seeds, n=st.integers(1, 60), cuts=cuts, weighted=st.booleans(),
       case=st.sampled_from(PR_CASES), onehot=st.booleans())
def test_precision_recall_equal_keras(seed, n, cuts, weighted, case, onehot):
    y, p, w = _data(seed, n, k=4, labels="onehot" if onehot else "binary")
    for ours, theirs in ((M.Precision(**case), keras.metrics.Precision(**case)),
                         (M.Recall(**case), keras.metrics.Recall(**case))):
        a, b = _both(ours, theirs, y, p, w if weighted else None, cuts)
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL, err_msg=f"{ours.name} {case}")


def test_precision_recall_single_output_and_arguments():
    y, p, w = _data(3, 50)
    for ours, theirs in ((M.Precision(), keras.metrics.Precision()),
                         (M.Recall(), keras.metrics.Recall())):
        a, b = _both(ours, theirs, y[:, 0], p, w)       # (N,) labels against (N, 1)
        assert a == pytest.approx(float(b), abs=TOL)
    assert isinstance(M.Precision().result(), float) and M.Precision().result() == 0.0
    assert M.Recall(thresholds=[0.1, 0.9]).result().shape == (2,)
    with pytest.raises(ValueError, match="top_k"):
        M.Precision(top_k=0)
    with pytest.raises(ValueError, match=r"thresholds must be in \[0, 1\]"):
        M.Recall(thresholds=-0.1)
    with pytest.raises(ValueError, match="class_id=7 is out of range"):
        M.Precision(class_id=7).update_state(y, p)


# ------------------------------------------------------------------------------ F-scores
@given(seed=seeds, n=st.integers(1, 60), cuts=cuts, weighted=st.booleans(),
       average=st.sampled_from([None, "micro", "macro", "weighted"]),
       threshold=st.sampled_from([None, 0.4]), beta=st.sampled_from([None, 0.5, 2.0]))
def test_f_scores_equal_keras(seed, n, cuts, weighted, average, threshold, beta):
    y, p, w = _data(seed, n, k=3, labels="binary")
    if beta is None:
        ours = M.F1Score(average=average, threshold=threshold)
        theirs = keras.metrics.F1Score(average=average, threshold=threshold)
    else:
        ours = M.FBetaScore(average=average, beta=beta, threshold=threshold)
        theirs = keras.metrics.FBetaScore(average=average, beta=beta, threshold=threshold)
    a, b = _both(ours, theirs, y, p, w if weighted else None, cuts)
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL)


def test_f_score_arguments():
    with pytest.raises(ValueError, match="average"):
        M.F1Score(average="samples")
    with pytest.raises(ValueError, match="beta"):
        M.FBetaScore(beta=0.0)
    with pytest.raises(ValueError, match="threshold"):
        M.F1Score(threshold=1.5)
    with pytest.raises(ValueError, match="2-D"):
        M.F1Score().update_state(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    assert "beta" not in M.F1Score().get_config()


# ------------------------------------------------------------------------------ means
def _my_fn_np(y_true, y_pred):
    return np.mean(np.abs(y_true - y_pred) ** 1.5, axis=-1)


def _my_fn_keras(y_true, y_pred):
    return keras.ops.mean(keras.ops.abs(y_true - y_pred) ** 1.5, axis=-1)


MEAN_PAIRS = {
    "binary": (lambda: M.BinaryAccuracy(), lambda: keras.metrics.BinaryAccuracy(), "binary"),
    "binary_0.7": (lambda: M.BinaryAccuracy(threshold=0.7),
                   lambda: keras.metrics.BinaryAccuracy(threshold=0.7), "binary"),
    "categorical": (M.CategoricalAccuracy, keras.metrics.CategoricalAccuracy, "onehot"),
    "sparse": (M.SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy, "sparse"),
    "sparse_n1": (M.SparseCategoricalAccuracy, keras.metrics.SparseCategoricalAccuracy, "sparse1"),
    "top2": (lambda: M.TopKCategoricalAccuracy(k=2),
             lambda: keras.metrics.TopKCategoricalAccuracy(k=2), "onehot"),
    "top5": (M.TopKCategoricalAccuracy, keras.metrics.TopKCategoricalAccuracy, "onehot"),
    "mse": (M.MeanSquaredError, keras.metrics.MeanSquaredError, "binary"),
    "mae": (M.MeanAbsoluteError, keras.metrics.MeanAbsoluteError, "binary"),
    "rmse": (M.RootMeanSquaredError, keras.metrics.RootMeanSquaredError, "binary"),
    "fn": (lambda: M.MeanMetricWrapper(_my_fn_np),
           lambda: keras.metrics.MeanMetricWrapper(_my_fn_keras), "binary"),
}


def _check_mean_pair(key, seed, n, k, w, cuts=(0.13, 0.5, 0.52)):
    make_ours, make_theirs, kind = MEAN_PAIRS[key]
    if kind != "binary" and k == 1 or key == "top5" and k < 5:
        k = 6            # (Keras on torch refuses k larger than the number of classes)
    y, p, w8 = _data(seed, n, k=k, labels="binary")
    cls = np.random.default_rng(seed).integers(0, k, n)
    targets = {"binary": y, "onehot": np.eye(k, dtype=np.float32)[cls], "sparse": cls,
               "sparse1": cls[:, None]}
    a, b = _both(make_ours(), make_theirs(), targets[kind], p, w8 if w else None, cuts)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=TOL, err_msg=key)


@given(seed=seeds, n=st.integers(1, 60), cuts=cuts, weighted=st.booleans(),
       k=st.sampled_from([1, 3, 6]), key=st.sampled_from(sorted(MEAN_PAIRS)))
def test_mean_metrics_equal_keras(seed, n, cuts, weighted, k, key):
    _check_mean_pair(key, seed, n, k, weighted, cuts)


@pytest.mark.parametrize("key", sorted(MEAN_PAIRS))
def test_each_mean_metric_equals_keras(key):
    _check_mean_pair(key, 11, 53, 3, True)
    _check_mean_pair(key, 12, 40, 1, False)


def test_mean_weights_of_every_rank_equal_keras():
    r = np.random.default_rng(0)
    values = r.normal(size=(7, 4, 3))
    for w in (None, r.uniform(size=7), r.uniform(size=(7, 1)), r.uniform(size=(7, 4)),
              r.uniform(size=(7, 4, 3)), 2.0):
        ours, theirs = M.Mean(), keras.metrics.Mean()
        for part in (slice(0, 2), slice(2, 7)):
            sw = w[part] if isinstance(w, np.ndarray) else w
            ours.update_state(values[part], sample_weight=sw)
            theirs.update_state(values[part].astype(np.float32), sample_weight=sw)
        assert ours.result() == pytest.approx(float(_keras_value(theirs)), rel=1e-6)
    assert M.Mean().result() == 0.0


def test_accumulates_over_batches_rather_than_averaging_them():
    y = np.array([1, 0, 0, 0, 1, 1, 0], dtype=np.float32)
    p = np.array([0.9, 0.8, 0.7, 0.1, 0.6, 0.2, 0.3], dtype=np.float32)
    prec = M.Precision()
    prec.update_state(y[:1], p[:1])           # 1 / 1
    prec.update_state(y[1:], p[1:])           # 1 / 3
    assert prec.result() == pytest.approx(2 / 4)   # not the mean of the batches, 2/3
    acc = M.BinaryAccuracy()
    acc.update_state(y[:1], p[:1])
    acc.update_state(y[1:], p[1:])
    assert acc.result() == pytest.approx(np.mean((p > 0.5) == y))
    prec.reset_state()
    assert prec.result() == 0.0
    assert prec(y, p) == pytest.approx(2 / 4)      # __call__ = update + result


# ------------------------------------------------------------------------------ names
def test_names_instances_and_functions():
    assert M.get("auc").name == "auc" and isinstance(M.get("AUC"), M.AUC)
    assert isinstance(M.get("precision"), M.Precision) and M.get("recall").name == "recall"
    assert isinstance(M.get("f1_score"), M.F1Score) and isinstance(M.get("rmse"),
                                                                     M.RootMeanSquaredError)
    assert M.get("mse").name == "mse" and isinstance(M.get("mse"), M.MeanSquaredError)
    for name, cls in (("binary_crossentropy", M.BinaryAccuracy),
                      ("categorical_crossentropy", M.CategoricalAccuracy),
                      ("sparse_categorical_crossentropy", M.SparseCategoricalAccuracy)):
        assert isinstance(M.get("acc", name), cls) and M.get("acc", name).name == "acc"
    p = M.Precision(name="prec")
    assert M.get(p) is p
    wrapped = M.get(_my_fn_np)
    assert isinstance(wrapped, M.MeanMetricWrapper) and wrapped.name == "_my_fn_np"
    assert M.Precision().name == "precision" and M.TopKCategoricalAccuracy().name == \
        "top_k_categorical_accuracy"
    with pytest.raises(ValueError, match="Unknown metric 'aucc'"):
        M.get("aucc")
    with pytest.raises(TypeError, match=r"pass an instance, AUC\(\)"):
        M.get(M.AUC)
    with pytest.raises(TypeError, match="Mean of values you give it"):
        M.compiled("mean")


def test_config_round_trip():
    for m in (M.AUC(num_thresholds=50, curve="PR", multi_label=True, label_weights=[1, 2]),
              M.Precision(thresholds=[0.2, 0.4], class_id=1, name="p1"), M.Recall(top_k=3),
              M.F1Score(average="macro", threshold=0.3), M.FBetaScore(beta=2.0),
              M.BinaryAccuracy(threshold=0.2), M.TopKCategoricalAccuracy(k=3),
              M.MeanMetricWrapper(M.mean_absolute_error, name="m")):
        again = M.deserialize(M.serialize(m))
        assert type(again) is type(m) and again.get_config() == m.get_config()


# ------------------------------------------------------------------------------ in fit
def _binary_model(seed=0):
    config.set_random_seed(seed)
    return Sequential([Dense(4, activation="tanh", input_shape=(3,)),
                       Dense(1, activation="sigmoid")])


def _binary_data(n=70, seed=1):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, 3)).astype(np.float32)
    y = ((X[:, 0] + 0.5 * r.normal(size=n)) > 0).astype(np.float32)
    return X, y


def my_metric(y_true, y_pred):
    return np.mean(np.abs(y_true - y_pred) ** 1.5, axis=-1)


def _keras_evaluate(pred, y, batch_size):
    """Keras 3's evaluate on exactly these predictions (an identity model)."""
    km = keras.Sequential([keras.Input((1,)), keras.layers.Identity()])
    km.compile(loss="binary_crossentropy",
               metrics=["auc", keras.metrics.Precision(name="precision"),
                        keras.metrics.MeanMetricWrapper(_my_fn_keras, name="my_metric")])
    # y as (N, 1): Keras hands a metric function the targets as given, and (N,) - (N, 1) would
    # broadcast to (N, N) (rnnlab brings targets to the prediction's shape first)
    return km.evaluate(pred, y.reshape(-1, 1), batch_size=batch_size, verbose=0,
                       return_dict=True)


def test_fit_logs_equal_keras_evaluate_on_the_same_predictions():
    X, y = _binary_data()
    Xv, yv = _binary_data(45, seed=2)
    m = _binary_model()
    m.compile(optimizer=SGD(0.0), loss="binary_crossentropy",
              metrics=["auc", M.Precision(), my_metric])
    h = m.fit(X, y, batch_size=16, epochs=2, verbose=0, shuffle=False, validation_data=(Xv, yv))
    assert list(h.history) == ["loss", "auc", "precision", "my_metric", "val_loss", "val_auc",
                               "val_precision", "val_my_metric"]
    for data, prefix in (((X, y), ""), ((Xv, yv), "val_")):
        ref = _keras_evaluate(m.predict(data[0], verbose=0), data[1], 16)
        for key in ("auc", "precision", "my_metric"):
            for epoch in range(2):      # each epoch starts from zero counts
                assert h.history[prefix + key][epoch] == pytest.approx(ref[key], abs=TOL), key
        assert h.history[prefix + "loss"][0] == pytest.approx(ref["loss"], rel=1e-5)
    logs = m.evaluate(Xv, yv, batch_size=7, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "auc", "precision", "my_metric"]
    ref = _keras_evaluate(m.predict(Xv, verbose=0), yv, 7)
    for key in ("auc", "precision", "my_metric"):
        assert logs[key] == pytest.approx(ref[key], abs=TOL)


def test_evaluate_resets_the_metrics():
    X, y = _binary_data()
    m = _binary_model()
    m.compile(optimizer=SGD(0.0), loss="binary_crossentropy", metrics=["auc", "precision"])
    m.evaluate(X[:40], y[:40], verbose=0)
    second = m.evaluate(X[40:], y[40:], batch_size=8, verbose=0, return_dict=True)
    pred = m.predict(X[40:], verbose=0)
    assert second["auc"] == pytest.approx(M.AUC()(y[40:], pred), abs=1e-12)
    assert second["precision"] == pytest.approx(M.Precision()(y[40:], pred), abs=1e-12)
    m.reset_metrics()
    assert all(metric.result() == 0.0 for _, metric in m.compiled_metrics)


def test_repeated_names_get_suffixes_and_outputs_their_own_state():
    X, y = _binary_data()
    m = _binary_model()
    p = M.Precision()
    m.compile(optimizer=SGD(0.0), loss="binary_crossentropy",
              metrics=[p, M.Precision(thresholds=0.7), "accuracy"])
    logs = m.evaluate(X, y, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "precision", "precision_1", "accuracy"]
    pred = m.predict(X, verbose=0)
    assert logs["precision_1"] == pytest.approx(M.Precision(thresholds=0.7)(y, pred))
    assert logs["accuracy"] == pytest.approx(np.mean((pred[:, 0] > 0.5) == y))


def test_array_results_are_logged_and_printed(capsys):
    X, y = _binary_data()
    m = _binary_model()
    m.compile(optimizer=SGD(0.0), loss="binary_crossentropy",
              metrics=[M.Recall(thresholds=[0.3, 0.6])])
    h = m.fit(X, y, epochs=1, verbose=2)
    assert h.history["recall"][0].shape == (2,)
    assert "recall: [" in capsys.readouterr().out
    assert T.format_logs({"a": 0.5, "b": np.array([0.25, 1.0])}) == "a: 0.5000 - b: [0.25, 1.  ]"


def test_sequence_outputs_broadcast_targets_to_metrics():
    # the lecture's (N, T, 1) output against one label per sample: every metric sees the
    # label repeated over the time steps, as the loss does
    r = np.random.default_rng(0)
    X = r.normal(size=(20, 5, 3)).astype(np.float32)
    y = (r.uniform(size=20) < 0.5).astype(np.float32)
    config.set_random_seed(0)
    m = Sequential([Dense(1, activation="sigmoid", input_shape=(5, 3))])
    m.compile(optimizer=SGD(0.0), loss="binary_crossentropy",
              metrics=["accuracy", "auc", M.Recall()])
    logs = m.evaluate(X, y, batch_size=6, verbose=0, return_dict=True)
    pred = m.predict(X, verbose=0)
    yy = np.broadcast_to(y[:, None, None], pred.shape)
    assert logs["accuracy"] == pytest.approx(np.mean((pred > 0.5) == yy))
    assert logs["auc"] == pytest.approx(M.AUC()(yy.reshape(-1), pred.reshape(-1)), abs=1e-12)
    assert logs["recall"] == pytest.approx(M.Recall()(yy.reshape(-1), pred.reshape(-1)))


def test_a_metric_that_cannot_take_the_targets_fails_before_training():
    r = np.random.default_rng(0)
    X = r.normal(size=(20, 5, 3)).astype(np.float32)
    y = (r.uniform(size=20) < 0.5).astype(np.float32)
    config.set_random_seed(0)
    m = Sequential([Dense(2, activation="sigmoid", input_shape=(5, 3))])
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=[M.F1Score()])
    before = [w.copy() for w in m.get_weights()]
    with pytest.raises(ValueError, match="2-D"):
        m.fit(X, np.repeat(y[:, None], 2, 1), epochs=1, verbose=0)
    assert all((a == b).all() for a, b in zip(before, m.get_weights()))
    assert m.optimizer.iterations == 0


def test_compile_rejects_bad_metrics_and_keeps_the_previous_settings():
    m = _binary_model()
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["auc"])
    for bad, err in (({"output": "auc"}, TypeError), (["auc", "aucc"], ValueError),
                     ([M.Mean()], TypeError), ([M.AUC], TypeError), ([3], TypeError)):
        with pytest.raises(err):
            m.compile(optimizer="sgd", loss="mse", metrics=bad)
    assert [mm.name for _, mm in m.compiled_metrics] == ["auc"]
    assert m.loss.name == "binary_crossentropy"


def test_saved_model_keeps_its_metrics(tmp_path):
    X, y = _binary_data()
    m = _binary_model()
    m.compile(optimizer=SGD(0.0), loss="binary_crossentropy",
              metrics=["auc", M.AUC(curve="PR", name="pr_auc"), M.Precision(thresholds=0.3),
                       my_metric, "acc"])
    path = tmp_path / "m.rnnlab"
    m.save(path)
    with pytest.raises(ValueError, match=r"custom_objects=\{'my_metric': my_metric\}"):
        rnnlab.load_model(path)
    again = rnnlab.load_model(path, custom_objects={"my_metric": my_metric})
    pr = [mm for _, mm in again.compiled_metrics if mm.name == "pr_auc"][0]
    assert pr.curve == "PR"
    assert again.evaluate(X, y, verbose=0, return_dict=True) == \
        m.evaluate(X, y, verbose=0, return_dict=True)
    m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[lambda a, b: a - b])
    with pytest.raises(ValueError, match="no name to be saved under"):
        m.save(tmp_path / "lambda.rnnlab")
    assert not (tmp_path / "lambda.rnnlab").exists()


def test_a_rejected_update_changes_nothing():
    y, p, w = _data(0, 12, k=3)
    for metric, bad in ((M.AUC(multi_label=True), lambda m: m.update_state(y, p[:, :2])),
                        (M.AUC(), lambda m: m.update_state(y, p, sample_weight=np.ones(5))),
                        (M.F1Score(), lambda m: m.update_state(y, p[:, :2])),
                        (M.F1Score(), lambda m: m.update_state(y, p, sample_weight=w[:4])),
                        (M.Precision(class_id=1), lambda m: m.update_state(y, p[:, :1])),
                        (M.Mean(), lambda m: m.update_state(p, sample_weight=np.ones(5)))):
        before = metric.result()
        with pytest.raises(ValueError):
            bad(metric)
        assert np.array_equal(metric.result(), before), metric
        if isinstance(metric, M.Mean):
            metric.update_state(p)
        else:
            metric.update_state(y, p)         # still usable, with the right shapes
    auc = M.AUC(multi_label=True)
    assert auc.result() == 0.0
    auc.update_state(y, p)
    assert auc.get_config()["num_labels"] is None and auc.true_positives.shape == (200, 3)
