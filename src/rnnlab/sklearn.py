"""scikit-learn estimators around rnnlab models, following scikeras's conventions.

``RNNClassifier(model=build_fn, epochs=5, model__units=32)``: ``model`` is a model-building
function (or a compiled model, copied at every fit); ``model__<arg>`` (or a plain keyword the
function takes) is routed to the function, ``fit__<arg>``/``predict__<arg>`` to the model's
``fit``/``predict``, ``optimizer__<arg>`` to the optimizer; the usual fit arguments (``epochs``,
``batch_size``, ``optimizer``, ``loss`` ...) are estimator parameters, so that ``GridSearchCV``
tunes them all.  The function may also take ``meta`` (what the data implies: ``n_features_in_``,
``X_shape_``, ``target_type_``, ``classes_``, ``n_classes_``, ``n_outputs_`` = the output units
the targets need) and ``compile_kwargs``; a model it returns uncompiled is compiled with the
estimator's ``optimizer``/``loss``/``metrics`` (the loss defaults to what the targets imply).

Pickling stores a model as the bytes of rnnlab's own model file (:func:`model_bytes`), never
pickled layers or closures; ``random_state`` seeds rnnlab's generator for the fit only
(:func:`rnnlab.config.seeded`), so a seeded fit is reproducible and leaves the global state alone.
"""
from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from rnnlab import checks, config
from rnnlab import losses as _losses
from rnnlab import optimizers as _opt
from rnnlab.models.model import Model
from rnnlab.models.saving import load_model, model_bytes
from rnnlab.preprocessing.sequence import pad_sequences
from rnnlab.preprocessing.text import DEFAULT_FILTERS, Tokenizer

__all__ = ["RNNClassifier", "RNNRegressor", "TextSequencer", "SavedModel", "ModelBuildError"]

#: Prefixes of routed parameters: the building function, model.fit, model.predict, the optimizer.
ROUTES = ("model__", "fit__", "predict__", "optimizer__")
_DTYPES = ("float32", "float64", "int64", "int32")
_META_ARGS = ("meta", "compile_kwargs", "params")


class ModelBuildError(RuntimeError):
    """A model-building function raised or returned something else than a model; the message
    names the function and the trial's parameters."""


class SavedModel:
    """A model held as the bytes of its rnnlab model file: what a pickled estimator stores."""

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = bytes(data)

    def __getstate__(self):
        return {"data": self.data}

    def __setstate__(self, state):
        self.data = state["data"]

    def load(self):
        return load_model(self.data)


def _short(value) -> str:
    text = value.__name__ if callable(value) and hasattr(value, "__name__") else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _RNNEstimator(BaseEstimator):
    """What RNNClassifier and RNNRegressor share: parameters, building, fitting, pickling."""

    _who = "RNNEstimator"
    _default_loss = "mse"

    def __init__(self, model=None, *, optimizer="rmsprop", loss=None, metrics=None,
                 batch_size=None, epochs=1, verbose=0, callbacks=None, validation_split=0.0,
                 shuffle=True, class_weight=None, warm_start=False, random_state=None,
                 **kwargs):
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.batch_size = batch_size
        self.epochs = epochs
        self.verbose = verbose
        self.callbacks = callbacks
        self.validation_split = validation_split
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        vars(self).update(kwargs)

    # -- parameters ------------------------------------------------------------------------

    def _extra_names(self):
        """The keyword parameters beyond the signature (routed or for the building function)."""
        named = set(self._get_param_names())
        return [k for k in vars(self) if k not in named and not k.startswith("_")
                and not k.endswith("_")]

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update({k: getattr(self, k) for k in self._extra_names()})
        return params

    def set_params(self, **params):
        extra = {k: v for k, v in params.items()
                 if k.startswith(ROUTES) or (k not in self._get_param_names() and "__" not in k)}
        for k, v in extra.items():
            setattr(self, k, v)
        rest = {k: v for k, v in params.items() if k not in extra}
        return super().set_params(**rest) if rest else self

    def _routed(self, prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in self.get_params(deep=False).items()
                if k.startswith(prefix)}

    def _check_params(self):
        who = self._who
        checks.non_negative_int(self.epochs, "epochs", who)
        checks.positive_int(self.batch_size, "batch_size", who, allow_none=True)
        checks.rate(self.validation_split, "validation_split", who)
        for name in ("shuffle", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{who}: {name} must be True or False, got "
                                f"{getattr(self, name)!r}")
        if self.model is None:
            raise ValueError(f"{who}: model is None: give a model-building function or a "
                             "compiled rnnlab model")
        if not (isinstance(self.model, Model) or callable(self.model)):
            raise TypeError(f"{who}: model must be a model-building function or an rnnlab "
                            f"model, got {_short(self.model)}")
        rs = self.random_state
        if rs is not None and not isinstance(rs, np.random.RandomState):
            checks.seed(rs, who)

    def _seed(self):
        rs = self.random_state
        if rs is None or checks.is_int(rs):
            return rs
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    # -- building --------------------------------------------------------------------------

    def _optimizer_object(self):
        opt = self.optimizer
        # a fresh copy of a given instance: each fit starts from new optimizer state
        opt = _opt.deserialize(_opt.serialize(opt)) if isinstance(opt, _opt.Optimizer) else (
            _opt.get(opt))
        kwargs = self._routed("optimizer__")
        return type(opt)(**kwargs) if kwargs else opt

    def _build(self, meta: dict, loss):
        """A fresh model: the building function's (called with its routed parameters) or a copy
        of the given model; compiled with the estimator's settings if it is not."""
        compile_kwargs = {"optimizer": self.optimizer, "loss": loss, "metrics": self.metrics}
        if isinstance(self.model, Model):
            model = load_model(model_bytes(self.model))
        else:
            model = self._call_builder(meta, compile_kwargs)
        if model.loss is None:
            model.compile(optimizer=self._optimizer_object(), loss=loss, metrics=self.metrics)
        return model

    def _call_builder(self, meta, compile_kwargs):
        fn = self.model
        sig = inspect.signature(fn)
        takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        kwargs = {}
        for k in self._extra_names():
            if k.startswith(ROUTES):
                continue
            if k not in sig.parameters and not takes_any:
                raise ValueError(f"{self._who}: unknown parameter {k!r}: it is not an argument of "
                                 f"{_short(fn)} (route it with model__, fit__, predict__ or "
                                 "optimizer__)")
            kwargs[k] = getattr(self, k)
        kwargs.update(self._routed("model__"))
        shown = dict(kwargs)
        given = {"meta": meta, "compile_kwargs": compile_kwargs,
                 "params": self.get_params(deep=False)}
        for name in _META_ARGS:
            if name in sig.parameters and name not in kwargs:
                kwargs[name] = given[name]
        trial = {k: v for k, v in self.get_params(deep=False).items()
                 if k != "model" and not k.startswith("model__") and k not in shown}
        where = (f"{self._who}: the model-building function {_short(fn)} "
                 f"(called with {', '.join(f'{k}={_short(v)}' for k, v in shown.items()) or '-'};"
                 f" trial parameters {', '.join(f'{k}={_short(v)}' for k, v in trial.items())})")
        try:
            model = fn(**kwargs)
        except Exception as exc:
            raise ModelBuildError(f"{where} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(model, Model):
            raise ModelBuildError(f"{where} returned {_short(model)}, not an rnnlab model")
        return model

    # -- fitting ---------------------------------------------------------------------------

    def _encode_targets(self, y, warm=False):
        """(encoded targets, meta about them, the loss the targets imply)."""
        raise NotImplementedError

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Build (or, with ``warm_start``, keep) the model and train it on ``X``, ``y``.
        A call that fails leaves the estimator as it was."""
        self._check_params()
        before = dict(vars(self))
        try:
            return self._fit(X, y, sample_weight, kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    def _fit(self, X, y, sample_weight, kwargs):
        warm = self.warm_start and hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=not warm, allow_nd=True, dtype=_DTYPES,
                             multi_output=True, y_numeric=not isinstance(self, ClassifierMixin))
        y_enc, meta, loss = self._encode_targets(y, warm)
        if sample_weight is not None:
            sample_weight = self._sample_weight(sample_weight, len(X))
        meta.update(n_features_in_=X.shape[1], X_shape_=X.shape, X_dtype_=X.dtype)
        fit_kwargs = {"batch_size": self.batch_size, "epochs": self.epochs,
                      "verbose": self.verbose, "callbacks": self.callbacks,
                      "validation_split": self.validation_split, "shuffle": self.shuffle,
                      **self._routed("fit__"), **kwargs}
        with config.seeded(self._seed()):
            model = self.model_ if warm else self._build(meta, self.loss or loss)
            history = model.fit(X, y_enc, sample_weight=sample_weight, **fit_kwargs)
        self.model_ = model
        self.history_ = {k: list(v) for k, v in history.history.items()}
        for k, v in meta.items():
            if k not in ("n_features_in_", "X_shape_", "X_dtype_"):
                setattr(self, k, v)
        self.X_shape_, self.X_dtype_ = X.shape, X.dtype
        return self

    def _sample_weight(self, sample_weight, n):
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.ndim == 0:
            sw = np.full(n, float(sw))
        if sw.shape != (n,):
            raise ValueError(f"{self._who}: sample_weight must have shape ({n},), got {sw.shape}")
        if not np.isfinite(sw).all() or (sw < 0).any():
            raise ValueError(f"{self._who}: sample_weight must be finite and non-negative")
        if not sw.any():
            raise ValueError(f"{self._who}: sample weights are all zero: nothing to fit")
        return sw

    def _raw_predict(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, allow_nd=True, dtype=_DTYPES)
        kwargs = {"batch_size": self.batch_size, "verbose": self.verbose,
                  **self._routed("predict__")}
        out = self.model_.predict(X, **kwargs)
        if isinstance(out, list):
            raise ValueError(f"{self._who}: the model has {len(out)} outputs; the estimators "
                             "take models with one output (its units are the targets' columns)")
        return np.asarray(out).reshape(len(X), -1)

    # -- pickling through rnnlab's own model format ----------------------------------------

    def __getstate__(self):
        state = dict(super().__getstate__())
        for key in ("model", "model_"):
            if isinstance(state.get(key), Model):
                state[key] = SavedModel(model_bytes(state[key]))
        return state

    def __setstate__(self, state):
        state = dict(state)
        for key in ("model", "model_"):
            if isinstance(state.get(key), SavedModel):
                state[key] = state[key].load()
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.required = True
        return tags


class RNNClassifier(ClassifierMixin, _RNNEstimator):
    """A classifier around an rnnlab model: binary (one sigmoid unit, or one unit per class),
    multi-class (one softmax unit per class) and multi-label (one sigmoid unit per label).

    The default loss follows the targets: binary_crossentropy for binary and multi-label
    targets, sparse_categorical_crossentropy for multi-class ones; with
    ``loss="categorical_crossentropy"`` the targets are one-hot encoded."""

    _who = "RNNClassifier"

    def _encode_targets(self, y, warm=False):
        check_classification_targets(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        kind = type_of_target(y)
        if kind == "multilabel-indicator":
            classes = np.arange(y.shape[1])
            meta = {"target_type_": kind, "classes_": classes, "n_classes_": y.shape[1],
                    "n_outputs_": y.shape[1]}
            return y.astype(config.floatx()), meta, "binary_crossentropy"
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"{self._who}: {kind} targets are not supported (binary, multiclass "
                             "or multilabel-indicator)")
        if warm:
            classes = self.classes_
            if not np.isin(np.unique(y), classes).all():
                raise ValueError(f"{self._who}: warm_start: y has classes not seen in the first "
                                 f"fit {classes.tolist()}")
        else:
            classes = np.unique(y)
        codes = np.searchsorted(classes, y)
        n = len(classes)
        loss = self.loss or ("binary_crossentropy" if n <= 2 else
                             "sparse_categorical_crossentropy")
        name = _loss_name(loss)
        if name == "categorical_crossentropy":
            y_enc = np.eye(max(n, 2), dtype=config.floatx())[codes]
        elif name == "binary_crossentropy":
            y_enc = codes.astype(config.floatx()).reshape(-1, 1)
        else:
            y_enc = codes.astype(np.int64)
        meta = {"target_type_": kind, "classes_": classes, "n_classes_": n,
                "n_outputs_": 1 if name == "binary_crossentropy" else max(n, 2)}
        self._check_class_weight(classes)
        return y_enc, meta, loss

    def _check_class_weight(self, classes):
        cw = self.class_weight
        if cw is None or cw == "balanced":
            return
        if not isinstance(cw, dict):
            raise TypeError(f"{self._who}: class_weight must be None, 'balanced' or a dict of "
                            f"class -> weight, got {_short(cw)}")
        unknown = [k for k in cw if k not in set(classes.tolist())]
        if unknown:
            raise ValueError(f"{self._who}: class_weight names classes {unknown} that are not "
                             f"in y's classes {classes.tolist()}")

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Fit on ``X`` (samples first: token ids ``(n, steps)`` or ``(n, steps, features)``)
        and the class labels ``y``; ``class_weight`` is applied as per-sample weights."""
        if self.class_weight is not None:
            self._check_params()
            y_arr = np.asarray(y)
            if y_arr.ndim == 1 or (y_arr.ndim == 2 and y_arr.shape[1] == 1):
                y_flat = y_arr.ravel()
                check_classification_targets(y_flat)
                classes = np.unique(y_flat)
                self._check_class_weight(classes)
                if self.class_weight == "balanced":
                    weights = compute_class_weight("balanced", classes=classes, y=y_flat)
                else:
                    weights = np.array([self.class_weight.get(c, 1.0) for c in classes])
                per_sample = weights[np.searchsorted(classes, y_flat)]
                sample_weight = per_sample if sample_weight is None else (
                    per_sample * np.asarray(sample_weight, dtype=np.float64))
        return super().fit(X, y, sample_weight=sample_weight, **kwargs)

    def predict_proba(self, X):
        """Class probabilities, ``(n, n_classes)`` (multi-label: ``(n, n_labels)``)."""
        p = self._raw_predict(X).astype(np.float64)
        if self.target_type_ == "multilabel-indicator":
            return p
        if self.n_classes_ == 1:
            return np.ones((len(p), 1))
        if p.shape[1] == 1:
            return np.hstack([1.0 - p, p])
        if p.shape[1] != self.n_classes_:
            raise ValueError(f"{self._who}: the model outputs {p.shape[1]} units but the "
                             f"targets have {self.n_classes_} classes")
        return p

    def predict(self, X):
        """The most likely class of each sample (multi-label: 0/1 per label)."""
        proba = self.predict_proba(X)
        if self.target_type_ == "multilabel-indicator":
            return (proba > 0.5).astype(np.int64)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class RNNRegressor(RegressorMixin, _RNNEstimator):
    """A regressor around an rnnlab model: one output unit per target column (default loss
    mse); ``score`` is R²."""

    _who = "RNNRegressor"

    def _encode_targets(self, y, warm=False):
        if self.class_weight is not None:
            raise ValueError(f"{self._who}: class_weight applies to classifiers only, got "
                             f"{_short(self.class_weight)}")
        y = np.asarray(y)
        meta = {"target_type_": "continuous" if y.ndim == 1 else "continuous-multioutput",
                "n_outputs_": 1 if y.ndim == 1 else y.shape[1], "y_ndim_": y.ndim}
        if warm and y.ndim != self.y_ndim_:
            raise ValueError(f"{self._who}: warm_start: y has {y.ndim} dimensions, the first "
                             f"fit had {self.y_ndim_}")
        y_enc = y.astype(config.floatx()).reshape(len(y), -1)
        return y_enc, meta, "mse"

    def predict(self, X):
        """The predicted targets: ``(n,)`` for 1-D targets, ``(n, n_outputs)`` otherwise."""
        p = self._raw_predict(X).astype(np.float64)
        return p.ravel() if self.y_ndim_ == 1 else p


def _loss_name(loss) -> str:
    try:
        return _losses.get(loss).name
    except Exception:   # noqa: BLE001 - an unknown loss is refused by compile(), named there
        return str(loss)


# ----------------------------------------------------------------------------- text to ids
def _texts(X, who):
    """A list of texts from a list, a 1-D array, a pandas Series or a one-column 2-D array."""
    if isinstance(X, str):
        raise ValueError(f"{who}: expected a collection of texts, got one str")
    values = getattr(X, "values", X)
    arr = np.asarray(values, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{who}: expected a 1-D collection of texts, got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError(f"{who}: got no texts (0 samples)")
    return arr.tolist()


class TextSequencer(TransformerMixin, BaseEstimator):
    """Texts -> padded word-index sequences: a :class:`~rnnlab.preprocessing.text.Tokenizer`
    fitted on the training texts, then ``pad_sequences`` to ``maxlen`` (the longest training
    sequence when None, so that every later batch has the training width)."""

    def __init__(self, num_words=None, maxlen=None, filters=DEFAULT_FILTERS, lower=True,
                 split=" ", char_level=False, oov_token=None, padding="pre", truncating="pre",
                 value=0, dtype="int32"):
        self.num_words = num_words
        self.maxlen = maxlen
        self.filters = filters
        self.lower = lower
        self.split = split
        self.char_level = char_level
        self.oov_token = oov_token
        self.padding = padding
        self.truncating = truncating
        self.value = value
        self.dtype = dtype

    def fit(self, X, y=None):
        who = "TextSequencer"
        checks.positive_int(self.maxlen, "maxlen", who, allow_none=True)
        checks.one_of(self.padding, "padding", ("pre", "post"), who)
        checks.one_of(self.truncating, "truncating", ("pre", "post"), who)
        tok = Tokenizer(num_words=self.num_words, filters=self.filters, lower=self.lower,
                        split=self.split, char_level=self.char_level, oov_token=self.oov_token)
        texts = _texts(X, who)
        tok.fit_on_texts(texts)
        maxlen = self.maxlen
        if maxlen is None:
            maxlen = max(1, max(map(len, tok.texts_to_sequences(texts))))
        tok.clear_cache()
        self.tokenizer_ = tok
        self.maxlen_ = maxlen
        self.vocabulary_size_ = (len(tok.word_index) + 1 if self.num_words is None
                                 else min(self.num_words, len(tok.word_index) + 1))
        return self

    def transform(self, X):
        check_is_fitted(self, "tokenizer_")
        seqs = self.tokenizer_.texts_to_sequences(_texts(X, "TextSequencer"))
        return pad_sequences(seqs, maxlen=self.maxlen_, dtype=self.dtype, padding=self.padding,
                             truncating=self.truncating, value=self.value)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
