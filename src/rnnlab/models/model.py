"""The Model base class: compile, fit, evaluate, predict, summary and weights.

A concrete model (Sequential, or a functional graph) provides ``_forward_batch(xs, training)``
returning ``(outputs, backward)``, where ``backward(d_outputs)`` runs every layer's backward
closure in reverse order; plus ``layers``, ``input_names`` and ``output_names``.  Everything about
training lives here once.

A Model is also a Layer (as in Keras): called on a symbolic tensor it becomes one node of another
model's graph, its ``params``/``grads``/``regularizers`` being live views over its layers'
(``"dense/kernel"`` ...), exactly as a wrapper presents its inner layers.
"""
from __future__ import annotations

import copy
import json
import time
import warnings

import numpy as np

from rnnlab import callbacks as _cb
from rnnlab import checks, config, display
from rnnlab import losses as _losses
from rnnlab import metrics as _metrics
from rnnlab import optimizers as _opt
from rnnlab.layers.base import Layer, _symbolic_in, unique_name, walk
from rnnlab.layers.recurrent.rnn import RNN, state_probe
from rnnlab.layers.views import NestedView
from rnnlab.models import data_adapters as DA
from rnnlab.models import onnx_export, saving
from rnnlab.models import training as T
from rnnlab.models.serialization import MODELS, serialize_model
from rnnlab.models.summary import SummaryTable
from rnnlab.runtime import compute_scope


class Model(Layer):
    """Base of Sequential and functional models (``Model(inputs, outputs)``); a layer too."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs):
            # Python then runs Functional.__init__; found by name, as Functional is defined above
            return super().__new__(MODELS.get_class("Functional"))
        return super().__new__(cls)

    def __init__(self, name=None):
        self.name = name or unique_name(self._default_name)
        self.optimizer = None
        self.loss = None
        self.compiled_metrics = []
        self._metric_weighted = []
        self._metric_keys = []
        self.stop_training = False
        self.history = None
        self._compile_config = None
        self._grads_clear = False      # all grads known to be zero (see _train_step)
        # what the Layer contract reads when this model is a layer inside another one
        self._trainable = True
        self.dtype = None
        self.input_spec_shape = None
        self.params = NestedView(self, "params")
        self.grads = NestedView(self, "grads")
        self.regularizers = NestedView(self, "regularizers")
        self.constraints = NestedView(self, "constraints")

    _default_name = "model"

    #: The activity-regularization penalty of the latest forward pass (Layer.regularize_activity),
    #: which the loss of that batch includes.
    activity_loss = 0.0
    #: A model has no activity regularizer of its own: its layers' penalties are its
    #: ``activity_loss``, which an enclosing model adds to its own.
    activity_regularizer = None

    # ------------------------------------------------------------------ structure
    @property
    def layers(self) -> list:
        raise NotImplementedError

    @property
    def input_names(self) -> list[str]:
        return ["input"]

    @property
    def output_names(self) -> list[str]:
        return ["output"]

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    def _ensure_built_for(self, xs):
        """Build from the data's shapes when the model was given no input shape."""

    def _step_units(self) -> int:
        """The widest per-step recurrence of any layer (``Layer.step_units``, 0 if none), the
        layers inside wrappers included (``Layer.sublayers``): it decides how the cores are
        shared (see rnnlab.runtime.compute_scope)."""
        return max([layer.step_units() for layer in walk(self._unique_layers())], default=0)

    def _unique_layers(self):
        seen, out = set(), []
        for layer in self.layers:
            if id(layer) not in seen:
                seen.add(id(layer))
                out.append(layer)
        return out

    def _param_items(self):
        """(key, layer, param name) for every trainable parameter, in Keras's order (none when
        the model is frozen: ``model.trainable = False``)."""
        if not self.trainable:
            return
        for layer in self._unique_layers():
            for pname in layer.trainable_param_names():
                yield f"{layer.name}/{pname}", layer, pname

    def get_weights(self) -> list[np.ndarray]:
        return [w for layer in self._unique_layers() for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Replace every weight (Keras's order); all are checked before any is replaced."""
        weights = list(weights)
        layers = self._unique_layers()
        need = sum(len(layer.params) for layer in layers)
        if len(weights) != need:
            raise ValueError(f"Model {self.name!r} expects {need} weight arrays, "
                             f"got {len(weights)}")
        i, checked = 0, []
        for layer in layers:
            n = len(layer.params)
            checked.append((layer, layer.checked_weights(weights[i:i + n])))
            i += n
        for layer, chunk in checked:
            for arr, new in zip(layer.params.values(), chunk):
                arr[...] = new

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self._unique_layers())

    # ------------------------------------------------------------------ stateful layers
    def _stateful_rnns(self) -> list:
        """The stateful recurrent layers, nested ones (in wrappers, inner models) included."""
        return [layer for layer in walk(self._unique_layers())
                if isinstance(layer, RNN) and layer.stateful]

    def _state_arrays(self) -> list[np.ndarray]:
        """The carried states of every stateful layer (the layers' own arrays)."""
        return [s for layer in self._stateful_rnns() if layer.states is not None
                for s in layer.states]

    def reset_states(self) -> None:
        """Zero the carried states of every stateful recurrent layer (nested ones included), as
        Keras 2's ``model.reset_states()``; a model without one has nothing to reset."""
        for layer in self._stateful_rnns():
            layer.reset_states()

    reset_state = reset_states

    def _batch_size_for(self, batch_size, n: int, steps, call: str, what: str = "x") -> int:
        """The batch size a call runs with: ``batch_size`` (checked), else 32, as Keras; with
        stateful layers (built for batches of B) the default is B, another size is refused,
        and so is data whose batches would not all hold B samples (the last one short)."""
        layers = [layer for layer in self._stateful_rnns() if layer.states is not None]
        if not layers:
            return T.check_batch_size(batch_size)
        names = [layer.name for layer in layers]
        sizes = sorted({layer.states[0].shape[0] for layer in layers})
        if len(sizes) > 1:
            raise ValueError(f"{call}(): model {self.name!r} has stateful layers {names} built "
                             f"for different batch sizes {sizes}; they must share one")
        fixed = sizes[0]
        batch_size = fixed if batch_size is None else T.check_batch_size(batch_size)
        if batch_size != fixed:
            raise ValueError(f"{call}(): model {self.name!r} has stateful layer(s) {names} built "
                             f"for batches of {fixed}; batch_size={batch_size} must be {fixed}")
        used = n if steps is None else min(n, steps * fixed)
        if used % fixed:
            raise ValueError(f"{call}(): model {self.name!r} has stateful layer(s) {names}, "
                             f"whose batches must all hold {fixed} samples; {what} has {n} "
                             f"samples, so the last batch would hold {used % fixed}: give a "
                             f"multiple of {fixed}")
        return batch_size

    # ------------------------------------------------------------------ trainable, layers, JSON
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        """Keras's semantics: set every layer's (and nested layer's) ``trainable``; a frozen
        model's weights get no updates, whatever its layers' flags say later."""
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"Model {self.name!r} trainable must be True or False, got {value!r}")
        self._trainable = bool(value)
        for layer in walk(self.layers):
            layer.trainable = bool(value)

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The arrays the optimizer updates (the model's own, not copies), in Keras's order."""
        return [layer.params[p] for _, layer, p in self._param_items()]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """Every other weight array (frozen layers', a frozen model's, moving statistics)."""
        updated = {id(w) for w in self.trainable_weights}
        return [w for layer in self._unique_layers() for w in layer.params.values()
                if id(w) not in updated]

    @property
    def weights(self) -> list[np.ndarray]:
        """All weight arrays (the model's own), trainable ones first as Keras lists them."""
        return self.trainable_weights + self.non_trainable_weights

    def get_layer(self, name=None, index=None):
        """A layer of ``model.layers`` by name or by index (Keras's ``get_layer``)."""
        if name is not None and index is not None:
            raise ValueError(f"get_layer() takes a layer name or an index, not both (got "
                             f"name={name!r}, index={index!r})")
        layers = self.layers
        if index is not None:
            index = checks.integer(index, "index", who="get_layer()")
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer() was asked for layer index {index}, but model "
                                 f"{self.name!r} has {len(layers)} layers")
            return layers[index]
        if name is not None:
            if not isinstance(name, str):
                raise TypeError(f"get_layer() name must be a string, got {name!r}")
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name!r}. Model {self.name!r} has layers "
                             f"{[layer.name for layer in layers]}")
        raise ValueError("get_layer() needs a layer name or index")

    def to_json(self, **kwargs) -> str:
        """The architecture (no weights, no compile settings) as a JSON string, for
        :func:`rnnlab.models.model_from_json`; ``kwargs`` go to ``json.dumps`` (e.g. indent)."""
        return json.dumps(serialize_model(self), **kwargs)

    # ------------------------------------------------------------------ as a layer of another model
    @property
    def batch_input_shape(self):
        """The (batch-included) input shape a Sequential takes from its first layer."""
        return None

    def _inner(self):
        """(key prefix, layer) pairs behind the nested views (``params``, ``grads``, ...)."""
        return [(f"{layer.name}/", layer) for layer in self._unique_layers()]

    def sublayers(self) -> list:
        return self._unique_layers()

    @property
    def non_trainable(self):
        trainable = set(self.trainable_param_names())
        return {k for k in self.params if k not in trainable}

    @non_trainable.setter
    def non_trainable(self, value):
        if value:
            raise AttributeError(f"Model {self.name!r}: set trainable on its layers instead")

    def trainable_param_names(self) -> list[str]:
        return [f"{layer.name}/{p}" for _, layer, p in self._param_items()]

    def add_weight(self, *args, **kwargs):
        raise TypeError(f"Model {self.name!r} holds no weights of its own; its layers do")

    def ensure_built(self, input_shape) -> None:
        self._build_for_shapes(self._shape_list(input_shape))
        self.input_spec_shape = input_shape

    def _shape_list(self, input_shape) -> list[tuple]:
        n = len(self.input_names)
        shapes = list(input_shape) if n > 1 else [input_shape]
        if len(shapes) != n:
            raise ValueError(f"Model {self.name!r} takes {n} inputs {self.input_names}, got "
                             f"{len(shapes)}")
        return [tuple(s) for s in shapes]

    def _build_for_shapes(self, shapes) -> None:
        """Build (Sequential) or check (functional) for inputs of these batch shapes."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        outs = self._output_shapes_for(self._shape_list(input_shape))
        return outs[0] if len(outs) == 1 else outs

    def validate_input(self, x) -> None:
        xs = list(x) if len(self.input_names) > 1 else [x]
        for i, layer in self._input_readers():
            layer.validate_input(xs[i])

    def forward(self, x, training=False, mask=None):
        out, _, backward = self._forward_masked(x, training, mask)
        return out, backward

    def _forward_masked(self, x, training, mask):
        """The model run as one layer call: ``(output(s), output mask(s), backward)``, the
        incoming mask(s) fed to the inner graph's inputs and its outputs' masks passed on."""
        n_in = len(self.input_names)
        xs = list(x) if n_in > 1 else [x]
        masks = (list(mask) if isinstance(mask, (list, tuple)) else [mask] * n_in)
        outs, out_masks, backward = self._run_graph(xs, training, masks)
        single = len(outs) == 1

        def back(d_out):
            d_ins = backward([d_out] if single else list(d_out))
            return d_ins[0] if n_in == 1 else d_ins

        if single:
            return outs[0], out_masks[0], back
        return outs, out_masks, back

    def _forward_batch(self, xs, training):
        outs, _, backward = self._run_graph(xs, training, None)
        return outs, backward

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None):
        """Configure training: optimizer, loss and metrics by name or object.

        As Keras 3, ``metrics`` ignore ``sample_weight``/``class_weight`` and
        ``weighted_metrics`` take them into account; a weighted metric whose name is already
        logged is logged as ``weighted_<name>``."""
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='mse'")
        opt = _opt.get(optimizer)
        n_out = len(self.output_names)
        loss_list = loss if isinstance(loss, (list, tuple)) else (
            [loss[k] for k in self.output_names] if isinstance(loss, dict) else [loss] * n_out)
        if len(loss_list) != n_out:
            raise ValueError(f"compile() got {len(loss_list)} losses for {n_out} outputs")
        losses = [_losses.get(l) for l in loss_list]
        metrics = self._metric_list(metrics, "metrics")
        weighted = self._metric_list(weighted_metrics, "weighted_metrics")
        if loss_weights is None:
            loss_weights = [1.0] * n_out
        metric_objs, flags = [], []
        for group, is_weighted in ((metrics, False), (weighted, True)):
            for i, l in enumerate(losses):
                for m in group:
                    metric = _metrics.compiled(m, l.name)
                    if any(metric is other for _, other in metric_objs):
                        metric = copy.deepcopy(metric)    # one state per output
                    metric_objs.append((i, metric))
                    flags.append(is_weighted)
        self.optimizer, self.losses_, self.loss_weights = (opt, losses,
                                                           [float(w) for w in loss_weights])
        self.loss = losses[0] if n_out == 1 else losses
        self.compiled_metrics = metric_objs
        self._metric_weighted = flags
        self._metric_keys = self._unique_metric_keys(metric_objs, flags)
        # serialized when the model is saved (a user's unregistered Loss or Metric trains)
        self._compile_config = {"loss": losses, "metrics": metrics,
                                "weighted_metrics": weighted,
                                "loss_weights": self.loss_weights}

    @staticmethod
    def _metric_list(metrics, argument: str) -> list:
        if metrics is None:
            return []
        if isinstance(metrics, dict):
            raise TypeError(f"compile() {argument} must be a list (applied to every output), "
                            "not a dict")
        if isinstance(metrics, (str, _metrics.Metric)) or callable(metrics):
            return [metrics]  # the lecture writes metrics='accuracy'
        return list(metrics)

    def _unique_metric_keys(self, metric_objs, weighted) -> list[str]:
        """The log name of each compiled metric, as Keras: the metric's name (prefixed by the
        output's with several outputs), a repeated one suffixed _1, _2, ...; a weighted metric
        whose name is taken becomes weighted_<name> (then suffixed if need be)."""
        keys, seen = [], {"loss": 1}
        prefix = (lambda i: "") if len(self.output_names) == 1 else (
            lambda i: f"{self.output_names[i]}_")
        for (i, metric), is_weighted in zip(metric_objs, weighted):
            key = prefix(i) + metric.name
            if key in seen and is_weighted:
                key = prefix(i) + "weighted_" + metric.name
            if key in seen:
                seen[key] += 1
                key = f"{key}_{seen[key] - 1}"
            seen[key] = 1
            keys.append(key)
        return keys

    def reset_metrics(self) -> None:
        """Clear every compiled metric's state (fit and evaluate do it when they start)."""
        for _, metric in self.compiled_metrics:
            metric.reset_state()

    # ------------------------------------------------------------------ one step
    def _regularization(self, add_grads: bool) -> float:
        penalty = 0.0
        for layer in self._unique_layers():
            for pname, reg in layer.regularizers.items():
                w = layer.params[pname]
                penalty += reg.penalty(w)
                if add_grads and layer.trainable and pname not in layer.non_trainable:
                    layer.grads[pname] += reg.gradient(w).astype(w.dtype, copy=False)
        return penalty

    def _losses_and_grads(self, outs, ys, sws, tracker, need_grads=True):
        total, douts = self.activity_loss, []
        for i, (out, y, loss, lw) in enumerate(zip(outs, ys, self.losses_, self.loss_weights)):
            value, d = loss(y, out, sws[i] if sws else None)
            total += lw * value
            douts.append(d * lw if lw != 1.0 else d)
            if tracker is not None:
                for (j, metric), key, weighted in zip(self.compiled_metrics, self._metric_keys,
                                                      self._metric_weighted):
                    if j == i:
                        tracker.update_metric(key, metric, metric._fit_targets(y, out), out,
                                              sws[i] if weighted and sws else None)
        return total, douts

    def _train_step(self, xs, ys, sws, tracker):
        """One batch: forward, loss, backward (adding into zeroed grads), optimizer update.

        The grads start at zero: the previous step's optimizer cleared them as it read them
        (``apply(zero_grads=True)``, one pass less over the embedding's gradient) and the frozen
        ones are cleared below; the first step of a fit (or one after an error) zeroes all."""
        layers = self._unique_layers()
        if not self._grads_clear:
            for layer in layers:
                layer.zero_grads()
        self._grads_clear = False
        outs, backward = self._forward_batch(xs, training=True)
        loss, douts = self._losses_and_grads(outs, ys, sws, tracker)
        backward(douts)
        loss += self._regularization(add_grads=True)
        self.optimizer.apply([(key, layer.params[p], layer.grads[p])
                              for key, layer, p in self._param_items()], zero_grads=True)
        for layer in layers:
            layer.apply_constraints()         # as Keras's optimizer, after the update
        for layer in layers:                  # the grads the optimizer does not see
            for name, g in layer.grads.items():
                if not layer.trainable or name in layer.non_trainable:
                    g.fill(0)
        self._grads_clear = True
        return loss

    # ------------------------------------------------------------------ data
    def _prepare(self, x, y=None, sample_weight=None, class_weight=None, need_y=True):
        xs = T.as_list(x, self.input_names, "x")
        ys = None
        if y is not None:
            ys = T.as_list(y, self.output_names, "y")
        elif need_y:
            raise ValueError("y is required to train or evaluate a model")
        n = T.check_lengths({"x": xs, "y": ys or []})
        sws = None
        if sample_weight is not None:
            sw = T.check_weights(T._to_array(sample_weight, "sample_weight"), "sample_weight")
            if sw.ndim == 2 and sw.shape[1] == 1:
                sw = sw[:, 0]
            if sw.ndim not in (1, 2) or sw.shape[0] != n:
                raise ValueError(f"sample_weight must have shape ({n},) (one weight per sample) "
                                 f"or ({n}, timesteps) (one per step of a sequence output), got "
                                 f"{sw.shape}")
            sws = [sw] * len(self.output_names)
        if class_weight is not None:
            if ys is None or len(ys) != 1:
                raise ValueError("class_weight needs exactly one output")
            yv = ys[0].reshape(n, -1)
            cls = yv.argmax(axis=1) if yv.shape[1] > 1 else np.rint(yv[:, 0]).astype(np.int64)
            cw = T.class_weights(class_weight, cls)
            sws = [cw if not sws else cw.reshape((n,) + (1,) * (sws[0].ndim - 1)) * sws[0]]
        return xs, ys, sws, n

    def _check_data(self, xs, ys, sws=None, probe=None):
        """Check all of x and y before any weight changes: the values of the inputs against the
        layers that read them (an Embedding's ids against input_dim), y's shape against the
        model's output on one sample and y's values against each loss (labels in range), and
        per-timestep sample weights against the outputs' time axis.  ``probe``: that output on
        one sample, if already known for inputs of these shapes (streamed batches)."""
        for i, layer in self._input_readers():
            layer.validate_input(xs[i])
        outs = probe if probe is not None else self._probe(xs)
        for i, (out, y, loss) in enumerate(zip(outs, ys, self.losses_)):
            _losses.align_target(y[:1], out.shape, loss.sparse, loss.name)
            loss.check_targets(y, out.shape)
            if sws is not None and sws[i].ndim > 1 and sws[i].shape[1:] != out.shape[1:-1]:
                raise ValueError(
                    f"sample_weight of shape {sws[i].shape} weighs each time step, but output "
                    f"{self.output_names[i]!r} has per-sample losses of shape "
                    f"(batch,) + {tuple(out.shape[1:-1])}: give one weight per sample or an "
                    "output with return_sequences=True of as many steps")
        for (i, metric), weighted in zip(self.compiled_metrics, self._metric_weighted):
            probe = copy.deepcopy(metric)           # a metric that cannot take these targets
            probe.reset_state()                     # fails here, not after some updates
            probe.update_state(metric._fit_targets(ys[i][:1], outs[i]), outs[i],
                               sws[i][:1] if weighted and sws is not None else None)

    def _input_readers(self):
        """(input index, layer) for each layer that reads a model input directly."""
        return []

    def _probe(self, xs):
        """The model's outputs on the first sample (their shapes check y and the metrics);
        stateful layers' carried states are neither read nor changed by it."""
        with state_probe():
            outs, _ = self._forward_batch([x[:1] for x in xs], training=False)
        return outs

    @staticmethod
    def _take(arrs, idx):
        return None if arrs is None else [a[idx] for a in arrs]

    # ------------------------------------------------------------------ fit
    def _check_trainable(self, call: str) -> None:
        """Refuse a training call up front: an uncompiled model, or a layer that cannot be
        trained through (a Lambda without backward)."""
        if self.optimizer is None:
            raise RuntimeError(f"Model {self.name!r} must be compiled before {call}(): call "
                               "model.compile(optimizer=..., loss=...)")
        for layer in walk(self._unique_layers()):
            layer.check_backward()

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; return a History whose ``.history`` has per-epoch logs.

        All the data is checked before the first update; if the call fails after that (an
        error in a callback, a value only a later layer refuses), the weights, the optimizer and
        the random state are put back as they were (a KeyboardInterrupt keeps the epochs done,
        as in Keras).  ``steps_per_epoch`` takes that many batches per epoch, continuing
        through the shuffled data across epochs as Keras 3 does with arrays.

        ``x`` may also stream (see rnnlab.models.data_adapters): a generator or iterable of
        ``x`` / ``(x, y)`` / ``(x, y, sample_weight)`` batches, or a ``rnnlab.utils.PyDataset``;
        then y, sample_weight and batch_size come from the batches, each batch is checked just
        before its update, and a one-pass generator needs ``steps_per_epoch`` beyond one epoch.
        ``validation_data`` may stream likewise (``validation_steps`` batches each time)."""
        self._check_trainable("fit")
        streamed = DA.is_stream(x)
        if streamed:
            self._refuse_with_stream("fit", y=y, sample_weight=sample_weight,
                                     batch_size=batch_size)
            if validation_split:
                raise ValueError("validation_split is only supported for arrays; with a "
                                 "generator or dataset x, pass validation_data")
        batch_size = None if batch_size is None else T.check_batch_size(batch_size)
        epochs = checks.non_negative_int(epochs, "epochs")
        initial_epoch = checks.non_negative_int(initial_epoch, "initial_epoch")
        steps_per_epoch = T.check_steps(steps_per_epoch, "steps_per_epoch")
        validation_steps = T.check_steps(validation_steps, "validation_steps")
        validation_batch_size = (None if validation_batch_size is None
                                 else T.check_batch_size(validation_batch_size))
        validation_freq = checks.positive_int(validation_freq, "validation_freq")
        if (isinstance(validation_split, bool)
                or not isinstance(validation_split, (int, float, np.integer, np.floating))
                or not 0.0 <= validation_split < 1.0):
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        verbose = T.check_verbose(verbose)
        n_validations = len([e for e in range(initial_epoch, epochs)
                             if (e + 1) % validation_freq == 0])
        if streamed:
            if shuffle and not isinstance(x, DA.PyDataset):
                warnings.warn("`shuffle=True` was passed, but will be ignored since the data "
                              "`x` was provided as a generator or iterable, which is expected "
                              "to yield already-shuffled data.", UserWarning, stacklevel=2)
            train = self._stream_adapter(x, "x", need_y=True, class_weight=class_weight,
                                         steps=steps_per_epoch, steps_name="steps_per_epoch",
                                         passes=epochs - initial_epoch, shuffle=shuffle)
            n = 0
        else:
            xs, ys, sws, n = self._prepare(x, y, sample_weight, class_weight)
        val = None
        if validation_data is not None and DA.is_stream(validation_data):
            if validation_batch_size is not None and validation_batch_size != batch_size:
                raise ValueError("validation_batch_size cannot be given with generator or "
                                 "dataset validation_data: its batches are the batches")
            if streamed:
                val = self._stream_adapter(validation_data, "validation_data", need_y=True,
                                           steps=validation_steps,
                                           steps_name="validation_steps",
                                           passes=n_validations)
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data must be a tuple (x_val, y_val) or "
                                 "(x_val, y_val, sample_weight), or a generator or dataset of "
                                 "such batches")
            vx, vy, vsw, _ = self._prepare(validation_data[0], validation_data[1],
                                           validation_data[2] if len(validation_data) == 3
                                           else None)
            val = DA.ArrayAdapter(vx, vy, vsw)
        elif validation_split > 0.0:
            split = int(n * (1.0 - validation_split))
            if split < 1 or split >= n:
                raise ValueError(f"validation_split={validation_split} leaves no training or no "
                                 f"validation samples out of {n}")
            idx_t, idx_v = np.arange(split), np.arange(split, n)
            val = DA.ArrayAdapter(self._take(xs, idx_v), self._take(ys, idx_v),
                                  self._take(sws, idx_v))
            xs, ys, sws = self._take(xs, idx_t), self._take(ys, idx_t), self._take(sws, idx_t)
            n = split
        if not streamed:
            self._ensure_built_for(xs)
            batch_size = self._batch_size_for(batch_size, n, None, "fit")
            self._check_data(xs, ys, sws)
            train = DA.ArrayAdapter(xs, ys, sws)
        else:
            batch_size = T.check_batch_size(None)
        if validation_batch_size is None:
            validation_batch_size = batch_size
        if validation_data is not None and DA.is_stream(validation_data) and not streamed:
            val = self._stream_adapter(validation_data, "validation_data", need_y=True,
                                       steps=validation_steps, steps_name="validation_steps",
                                       passes=n_validations)
        if isinstance(val, DA.ArrayAdapter):
            validation_batch_size = self._batch_size_for(
                validation_batch_size, val.xs[0].shape[0], validation_steps, "fit",
                "the validation data")
            self._check_data(val.xs, val.ys, val.sws)

        plan = T.FitPlan(n, batch_size, epochs, initial_epoch, steps_per_epoch, shuffle,
                         validation_batch_size, validation_steps, validation_freq)
        rollback = T.Rollback(self)
        self._grads_clear = False
        try:
            with compute_scope(self._step_units()):
                return self._fit_loop(train, val, plan, verbose, callbacks)
        except Exception:
            rollback.restore()
            raise
        finally:
            train.close()
            if val is not None:
                val.close()

    @staticmethod
    def _refuse_with_stream(call, **given):
        """Keras's rule: with a generator or dataset x, y, sample weights and the batch size
        come from its batches; passing them too is an error."""
        for name, value in given.items():
            if value is not None:
                raise ValueError(f"{call}(): when x is a generator, an iterable of batches or "
                                 f"a PyDataset, {name} must not be passed: its batches carry "
                                 "(x, y, sample_weight) and have their own size")

    def _declared_input_shapes(self):
        """The input shapes the model declares (None axes are free), or None if it has none."""
        inputs = getattr(self, "inputs", None)
        if inputs:
            return [tuple(t.shape) for t in inputs]
        shape = self.batch_input_shape
        return None if shape is None else [tuple(shape)]

    def _stream_adapter(self, data, what, *, need_y, class_weight=None, steps=None,
                        steps_name="steps", passes=1, shuffle=False):
        """A :class:`DA.StreamAdapter` over ``data`` whose every batch is normalised as arrays
        are (:meth:`_prepare`) and checked before use as :meth:`_check_data` checks arrays; an
        unbuilt model is built from the first batches' shapes (their free axes as None)."""

        def prepare(raw, index):
            bx, by, bsw = DA.unpack(raw, index, what)
            if not need_y:
                by = bsw = None
            elif by is None:
                raise ValueError("the batch has no targets: fit() and evaluate() need (x, y) or "
                                 "(x, y, sample_weight) batches")
            xs, ys, sws, _ = self._prepare(bx, by, bsw, class_weight, need_y=need_y)
            return xs, ys, sws

        probes = {}                    # one probe forward per distinct input shape

        def check(xs, ys, sws):
            self._ensure_built_for(xs)
            if need_y:
                key = tuple((x.shape[1:], x.dtype.str) for x in xs)
                if key not in probes:
                    if len(probes) >= 256:
                        probes.clear()
                    probes[key] = self._probe(xs)
                self._check_data(xs, ys, sws, probe=probes[key])
            else:
                for i, layer in self._input_readers():
                    layer.validate_input(xs[i])

        adapter = DA.StreamAdapter(data, what, prepare, steps=steps, steps_name=steps_name,
                                   passes=passes, shuffle=shuffle, rng=config.rng(),
                                   free_x_axes=self._declared_input_shapes())
        if not self.built:
            self._build_for_shapes(adapter.spec.x_shapes())
        adapter.set_check(check)
        return adapter

    def _fit_loop(self, train, val, plan, verbose, callbacks):
        history = _cb.History()
        cbs = _cb.CallbackList(list(callbacks or []) + [history], self)  # History last, as Keras
        self.stop_training = False
        self._initial_epoch = None
        names = ["loss"] + list(self._metric_keys)
        names += [f"val_{k}" for k in names] if val is not None else []
        cbs.set_params({"verbose": verbose, "epochs": plan.epochs, "steps": train.total},
                       log_names=names)
        cbs.on_train_begin({})
        # a callback may resume from a backup (BackupAndRestore sets the epoch to start from, as
        # in Keras 3, and the random state the shuffles come from)
        start, self._initial_epoch = self._initial_epoch, None
        train.start(plan, config.rng())
        logs = {}
        for epoch in range(plan.initial_epoch if start is None else start, plan.epochs):
            cbs.on_epoch_begin(epoch, {})
            tracker = T.MeanTracker()
            t0 = time.perf_counter()
            if verbose == 1:
                print(f"Epoch {epoch + 1}/{plan.epochs}")
            bar = T.progress_bar(train.total, None, verbose)
            batches = train.epoch()
            for step, (bx, by, bsw) in enumerate(batches):
                cbs.on_train_batch_begin(step, {})
                loss = self._train_step(bx, by, bsw, tracker)
                m = bx[0].shape[0]
                tracker.add("loss", loss * m, m)
                batch_logs = tracker.result()
                batch_logs = {"loss": batch_logs.pop("loss"), **batch_logs}
                cbs.on_train_batch_end(step, batch_logs)
                if bar is not None:
                    bar.set_postfix_str(T.format_logs(batch_logs), refresh=False)
                    bar.update(1)
                if self.stop_training:
                    break
            batches.close()                   # a PyDataset's on_epoch_end
            if train.ran_out:                 # a generator used up: training stops here
                self.stop_training = True
            logs = tracker.result()
            logs = {"loss": logs.pop("loss"), **logs} if logs else {}
            if val is not None and (epoch + 1) % plan.validation_freq == 0:
                vlogs = self._evaluate_adapter(val, batch_size=plan.validation_batch_size,
                                               steps=plan.validation_steps)
                logs.update({f"val_{k}": v for k, v in vlogs.items()})
            if bar is not None:
                bar.set_postfix_str(T.format_logs(logs), refresh=False)
                bar.close()
            elif verbose == 2:
                print(f"Epoch {epoch + 1}/{plan.epochs} - {time.perf_counter() - t0:.1f}s - "
                      f"{T.format_logs(logs)}")
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        if plan.epochs > 0:     # use_ema: the weights become their moving averages, as Keras
            self.optimizer.finalize_variable_values(
                [(key, layer.params[p]) for key, layer, p in self._param_items()])
        cbs.on_train_end(logs)
        history.params = {"epochs": plan.epochs, "steps": train.total, "verbose": verbose}
        history.model = self
        self.history = history
        return history

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_adapter(self, data, batch_size, verbose=0, steps=None):
        tracker = T.MeanTracker()
        batches = data.one_pass(batch_size, steps)
        bar = T.progress_bar(data.total, None, verbose)
        for bx, by, bsw in batches:
            outs, _ = self._forward_batch(bx, training=False)
            loss, _ = self._losses_and_grads(outs, by, bsw, tracker)
            m = bx[0].shape[0]
            tracker.add("loss", loss * m, m)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        res = tracker.result()
        res["loss"] += self._regularization(add_grads=False)
        return {"loss": res.pop("loss"), **res}

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, return_dict=False):
        """Loss (and metrics) on the given data: a float, or [loss, *metrics] as Keras returns;
        ``steps`` batches only if given."""
        if self.optimizer is None:
            raise RuntimeError(f"Model {self.name!r} must be compiled before evaluate()")
        streamed = DA.is_stream(x)
        if streamed:
            self._refuse_with_stream("evaluate", y=y, sample_weight=sample_weight,
                                     batch_size=batch_size)
        batch_size = None if batch_size is None else T.check_batch_size(batch_size)
        verbose = T.check_verbose(verbose)
        steps = T.check_steps(steps, "steps")
        if streamed:
            data = self._stream_adapter(x, "x", need_y=True, steps=steps)
            batch_size = T.check_batch_size(None)
        else:
            xs, ys, sws, n = self._prepare(x, y, sample_weight)
            self._ensure_built_for(xs)
            batch_size = self._batch_size_for(batch_size, n, steps, "evaluate")
            self._check_data(xs, ys, sws)
            data = DA.ArrayAdapter(xs, ys, sws)
        snapshot = T.StateSnapshot(self)
        try:
            with compute_scope(self._step_units()):
                logs = self._evaluate_adapter(data, batch_size, verbose, steps)
        except Exception:
            snapshot.restore()              # a failed call leaves the carried states as they were
            raise
        finally:
            data.close()
        if verbose:
            print(T.format_logs(logs))
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None):
        """Outputs for ``x`` in batches (a list of arrays for multi-output models); the first
        ``steps`` batches only if given."""
        streamed = DA.is_stream(x)
        if streamed:
            self._refuse_with_stream("predict", batch_size=batch_size)
        batch_size = None if batch_size is None else T.check_batch_size(batch_size)
        verbose = T.check_verbose(verbose)
        steps = T.check_steps(steps, "steps")
        largest = None                      # the largest batch, when known (see compute_scope)
        if streamed:
            data = self._stream_adapter(x, "x", need_y=False, steps=steps)
            batch_size = T.check_batch_size(None)
        else:
            xs, _, _, n = self._prepare(x, None, need_y=False)
            self._ensure_built_for(xs)
            batch_size = self._batch_size_for(batch_size, n, steps, "predict")
            largest = min(batch_size, n)
            for i, layer in self._input_readers():
                layer.validate_input(xs[i])
            data = DA.ArrayAdapter(xs, None, None)
        batches = data.one_pass(batch_size, steps)
        bar = T.progress_bar(data.total, None, verbose)
        chunks = []
        snapshot = T.StateSnapshot(self)
        try:
            with compute_scope(self._step_units(), largest):
                for bx, _, _ in batches:
                    outs, _ = self._forward_batch(bx, training=False)
                    if chunks:
                        DA.check_joinable(chunks[0], outs, len(chunks))
                    chunks.append(outs)
                    if bar is not None:
                        bar.update(1)
        except Exception:
            snapshot.restore()              # a failed call leaves the carried states as they were
            raise
        finally:
            data.close()
        if bar is not None:
            bar.close()
        if len(chunks) == 1:                # one batch: its outputs, never the caller's arrays
            result = [out.copy() if any(np.may_share_memory(out, a) for a in bx) else out
                      for out in chunks[0]]
        else:
            result = [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]
        return result[0] if len(result) == 1 else result

    def __call__(self, x, training=None, **kwargs):
        """Apply the model eagerly to arrays; on symbolic tensors, record it as one layer call
        of the model being built (a model used as a layer)."""
        symbolic = _symbolic_in(x)
        if symbolic is not None:
            return symbolic.call_layer(self, x, {**kwargs, "training": training})
        if kwargs:
            raise TypeError(f"Model {self.name!r} got unexpected call argument(s) "
                            f"{sorted(kwargs)}")
        xs = T.as_list(x, self.input_names, "x")
        self._ensure_built_for(xs)
        snapshot = T.StateSnapshot(self)
        try:
            with compute_scope(self._step_units(), len(xs[0]) if xs and np.ndim(xs[0]) else None):
                outs, _ = self._forward_batch(xs, training=bool(training))
        except Exception:
            snapshot.restore()              # a rejected call leaves the carried states as they were
            raise
        return outs[0] if len(outs) == 1 else outs

    # ------------------------------------------------------------------ one batch
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on exactly this batch (Keras 3): the loss, or [loss, *metrics], or
        a dict with ``return_dict``; metrics are those of this batch alone.  It is one step of
        :meth:`fit` (batch = all of ``x``, no shuffle, no callbacks): the data is checked
        before the update, and a failure puts weights, optimizer and random state back."""
        self._check_trainable("train_on_batch")
        if sample_weight is not None and class_weight is not None:
            raise ValueError("train_on_batch() takes sample_weight or class_weight, not both")
        xs, ys, sws, n = self._prepare(x, y, sample_weight, class_weight)
        self._ensure_built_for(xs)
        self._batch_size_for(n, n, None, "train_on_batch")
        self._check_data(xs, ys, sws)
        plan = T.FitPlan(n, n, 1, 0, None, False, n, None, 1)
        history, rollback = self.history, T.Rollback(self)
        self._grads_clear = False
        try:
            with compute_scope(self._step_units()):
                train = DA.ArrayAdapter(xs, ys, sws)
                logs = self._fit_loop(train, None, plan, 0, None).history
        except Exception:
            rollback.restore()
            raise
        finally:
            self.history = history           # a batch is not an epoch of a fit's History
        return self._batch_result({k: v[-1] for k, v in logs.items()}, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on exactly this batch, as :meth:`evaluate` gives it."""
        n = T.as_list(x, self.input_names, "x")[0].shape[0]
        return self.evaluate(x, y, batch_size=max(n, 1), verbose=0,
                             sample_weight=sample_weight, return_dict=return_dict)

    def predict_on_batch(self, x):
        """The outputs for exactly this batch, as :meth:`predict` gives them."""
        n = T.as_list(x, self.input_names, "x")[0].shape[0]
        return self.predict(x, batch_size=max(n, 1), verbose=0)

    @staticmethod
    def _batch_result(logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ summary
    def _summary_rows(self):
        """(name (type), output shape, params, connected-to) per layer."""
        raise NotImplementedError

    def summary(self, line_length=None, positions=None, print_fn=None):
        """Keras's table: layer name and type, output shape, parameter count, totals.

        Printed (or passed to ``print_fn``) as text; in a Jupyter kernel, with no ``print_fn``,
        shown as an HTML table instead (as Keras's rich table renders there).  ``line_length``
        and ``positions`` are Keras's (:class:`rnnlab.models.summary.SummaryTable`).  Returns
        None, as Keras."""
        table = self.summary_table(line_length=line_length, positions=positions)
        if print_fn is not None:
            if not callable(print_fn):
                raise TypeError(f"summary(): print_fn must be callable (e.g. print or a list's "
                                f"append), got {print_fn!r}")
            print_fn(table.text())
        elif not display.show(table):
            print(table.text())
        return None

    def summary_table(self, line_length=None, positions=None) -> SummaryTable:
        """The summary as an object: ``str()`` is the printed table, ``_repr_html_()`` the HTML
        one (a notebook cell ending in ``model.summary_table()`` shows it)."""
        rows = self._summary_rows()
        connected = any(r[3] is not None for r in rows)
        headers = (("Layer (type)", "Output Shape", "Param #")
                   + (("Connected to",) if connected else ()))
        cells = tuple((r[0], r[1], f"{r[2]:,}") + ((r[3] or "",) if connected else ())
                      for r in rows)
        trainable = sum(layer.params[p].size for _, layer, p in self._param_items())
        return SummaryTable(self.name, headers, cells, self.count_params(), trainable,
                            line_length=line_length, positions=positions)

    # ------------------------------------------------------------------ saving
    def save(self, filepath, *, metadata=None, include_states=False) -> None:
        """Write the model (config, weights, optimizer state) to one safe zip file; with
        ``include_states=True`` the stateful layers' carried states too (loaded back with it;
        without, as in Keras 3, a loaded stateful model starts from zero states).  A name ending
        in ``.keras`` gets a Keras 3 archive (architecture and weights) instead."""
        saving.save_model(self, filepath, metadata, include_states)

    def export(self, filepath, format="onnx") -> None:  # noqa: A002 - Keras's name
        """Write the model for inference outside rnnlab: ``format="onnx"`` (the only one) gives
        an ONNX file whose LSTM/GRU/SimpleRNN layers are ONNX's own operators
        (:mod:`rnnlab.models.onnx_export`; needs the ``onnx`` extra)."""
        checks.one_of(format, "format", ("onnx",), who=f"Model {self.name!r}.export()")
        onnx_export.export_onnx(self, filepath)

    def save_weights(self, filepath, *, metadata=None) -> None:
        saving.save_weights(self, filepath, metadata)

    def load_weights(self, filepath) -> None:
        saving.load_weights(self, filepath)


MODELS.set_base(Model)
