"""Step-by-step inference: one recurrent step per new token, the states carried between calls.

``model.predict`` on a prefix of length t costs t steps, so generating n tokens by re-running the
prefix costs O(n²) steps.  A :class:`Stepper` walks the model's graph once per new time step: each
recurrent layer built from a cell (SimpleRNN, LSTM, GRU, ``RNN(cell)``, stacked cells) runs
``cell.step`` once on its kept states, and every other layer is one that acts on each time step
on its own (Embedding, Dense, Dropout at inference, ...), run on the one new step.  So a step
costs the same whatever the length of the prefix, and

    stepper.step(x_t) == model.predict(x[:, :t+1])[:, -1]      (an output with a time axis)
    stepper.step(x_t) == model.predict(x[:, :t+1])             (an output without one)

up to rounding (the fused whole-sequence kernels and ``cell.step`` add in different orders).
Layers whose output at step t depends on later steps or on the whole sequence (Bidirectional,
``go_backwards``, Conv1D, pooling, Flatten, attention, RepeatVector, Lambda ...) cannot be
stepped: the Stepper refuses them by name when it is made.
"""
from __future__ import annotations

import numpy as np

from rnnlab.layers import (
    RNN,
    Activation,
    ActivityRegularization,
    Add,
    Average,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    GaussianDropout,
    GaussianNoise,
    LayerNormalization,
    Masking,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    TimeDistributed,
)
from rnnlab.models import Model, Sequential

#: Layers whose output at a time step depends on that step's input only (at inference).
PER_STEP = (Activation, ActivityRegularization, Add, Average, BatchNormalization, Concatenate,
            Dense, Dropout, Embedding, GaussianDropout, GaussianNoise, LayerNormalization,
            Masking, Maximum, Minimum, Multiply, Subtract, TimeDistributed)


def _nodes(model):
    """The model's layer calls in running order (a Sequential model must be built)."""
    if isinstance(model, Sequential):
        if not model.built:
            raise ValueError(f"Stepper needs a built model: model {model.name!r} has no input "
                             "shape yet (give it an Input, or call fit/predict once)")
        model = model._graph
    if not isinstance(model, Model) or not hasattr(model, "_nodes"):
        raise TypeError(f"Stepper takes an rnnlab Sequential or functional Model, got {model!r}")
    return model, model._nodes


def _check_node(node) -> None:
    layer = node.layer
    where = f"Stepper cannot run layer {layer.name!r} ({type(layer).__name__}) one step at a time"
    if isinstance(layer, Model):
        raise ValueError(f"{where}: nested models are not supported; build the model flat")
    if isinstance(layer, RNN):
        if layer.go_backwards:
            raise ValueError(f"{where}: with go_backwards=True its output at step t depends on "
                             "the steps after t")
        if node.multi_input:
            raise ValueError(f"{where}: initial states given as inputs are not supported")
        return
    if node.tensor_names or node.options:
        raise ValueError(f"{where}: call options are not supported")
    if isinstance(layer, Concatenate) and layer.axis not in (-1, len(node.inputs[0].shape) - 1):
        raise ValueError(f"{where}: it concatenates along axis {layer.axis}, not the features")
    if not isinstance(layer, PER_STEP):
        raise ValueError(f"{where}: its output at step t depends on other steps (only "
                         "Embedding, Dense, Dropout, normalization, elementwise merges, "
                         "TimeDistributed and recurrent layers built from cells can be stepped)")


class Stepper:
    """Run ``model`` one time step per call, keeping each recurrent layer's states.

    ``step(x_t)`` takes one time step of the model's input, without the time axis: token ids of
    shape (batch,) for a model that starts with Embedding, (batch, features) for one fed vectors
    (e.g. one-hot characters).  It returns what ``model.predict`` on the whole prefix fed so far
    returns for its last position (a list for a model with several outputs).  ``reset()`` starts
    again from zero states; ``states``/``set_states`` read and write them (by layer name).
    The batch size is fixed by the first step after a reset.
    """

    def __init__(self, model):
        graph, nodes = _nodes(model)
        for node in nodes:
            _check_node(node)
        self.model = model
        self._graph = graph
        self._nodes = nodes
        self._rnns = [n.layer for n in nodes if isinstance(n.layer, RNN)]
        if not self._rnns:
            raise ValueError(f"Stepper needs a model with a recurrent layer; model {model.name!r} "
                             "has none (predict on each window instead)")
        names = [layer.name for layer in self._rnns]
        if len(set(names)) != len(names):
            raise ValueError("Stepper cannot step a recurrent layer called twice in one model "
                             f"({names})")
        self.reset()

    def reset(self) -> None:
        """Forget the states: the next step starts a new sequence."""
        self._states: dict[str, list] = {}
        self._prev: dict[str, np.ndarray] = {}
        self.steps = 0

    @property
    def states(self) -> dict[str, list[np.ndarray]]:
        """Each recurrent layer's current states (copies), by layer name (empty after reset)."""
        return {k: [s.copy() for s in v] for k, v in self._states.items()}

    def set_states(self, states: dict) -> None:
        """Start from given states: ``{layer name: [arrays]}`` for every recurrent layer."""
        new = {}
        for layer in self._rnns:
            if layer.name not in states:
                raise ValueError(f"Stepper.set_states needs states for layer {layer.name!r}")
            given = [np.array(s, dtype=self._dtype(layer)) for s in states[layer.name]]
            sizes = layer.cell.state_sizes
            n = given[0].shape[0] if given and given[0].ndim == 2 else None
            if len(given) != len(sizes) or any(
                    s.shape != (n, size) for s, size in zip(given, sizes)):
                raise ValueError(f"Stepper.set_states: layer {layer.name!r} takes {len(sizes)} "
                                 f"state(s) of shapes (batch, {sizes}), got "
                                 f"{[s.shape for s in given]}")
            new[layer.name] = given
        batch = {v[0].shape[0] for v in new.values()}
        if len(batch) != 1:
            raise ValueError(f"Stepper.set_states: the states disagree on the batch size {batch}")
        self.reset()
        self._states = new

    @staticmethod
    def _dtype(layer):
        return next(iter(layer.cell.params.values())).dtype

    # ------------------------------------------------------------------ one step
    def _rnn_step(self, layer, x, mask, pending):
        cell = layer.cell
        dtype = self._dtype(layer)
        xt = np.asarray(x, dtype=dtype)[:, 0]
        n = xt.shape[0]
        states = self._states.get(layer.name)
        if states is None:
            states = cell.get_initial_state(n, dtype)
        elif states[0].shape[0] != n:
            raise ValueError(f"Stepper: this sequence has batch size {states[0].shape[0]}, got a "
                             f"step of batch size {n} (call reset() to start another)")
        prev = self._prev.get(layer.name)
        if prev is None:
            prev = (states[0] if cell.output_size == cell.state_sizes[0]
                    else np.zeros((n, cell.output_size), dtype=dtype))
        y, new, _ = cell.step(xt, states, None)
        if mask is not None:
            keep = np.asarray(mask[0] if isinstance(mask, (list, tuple)) else mask,
                              dtype=bool)[:, 0][:, None]
            y = np.where(keep, y, prev)
            new = [np.where(keep, a, b) for a, b in zip(new, states)]
            if layer.zero_output_for_mask:
                shown = np.where(keep, y, 0.0).astype(dtype)
            else:
                shown = y
        else:
            shown = y
        pending[layer.name] = (list(new), y)
        main = shown[:, None] if layer.return_sequences else shown
        out = [main] + list(new) if layer.return_state else main
        return out, layer.compute_mask(x, mask)

    def step(self, x_t):
        """Feed one time step (no time axis); the model's output(s) for it.  A step that fails
        leaves the states as they were."""
        graph = self._graph
        xs = list(x_t) if isinstance(x_t, (list, tuple)) else [x_t]
        if len(xs) != len(graph.inputs):
            raise ValueError(f"Stepper: the model takes {len(graph.inputs)} input(s), got "
                             f"{len(xs)}")
        values, masks, timed, pending = {}, {}, {}, {}
        for t, x in zip(graph.inputs, xs):
            x = np.asarray(x)
            if x.ndim != len(t.shape) - 1:
                raise ValueError(f"Stepper.step takes one time step of input {t.name!r} "
                                 f"{tuple(t.shape)} without its time axis (rank "
                                 f"{len(t.shape) - 1}), got shape {x.shape}")
            values[id(t)], masks[id(t)], timed[id(t)] = x[:, None], None, True
        for node in self._nodes:
            ins = [values[id(t)] for t in node.layer_inputs]
            ms = [masks[id(t)] for t in node.layer_inputs]
            if node.multi_input:
                x, mask = ins, (None if all(m is None for m in ms) else ms)
            else:
                x, mask = ins[0], ms[0]
            layer = node.layer
            if isinstance(layer, RNN):
                out, out_mask = self._rnn_step(layer, x, mask, pending)
                out_timed = [layer.return_sequences] + [False] * (
                    len(out) - 1 if node.multi_output else 0)
            else:
                out, _ = layer.forward(x, training=False, mask=mask)
                out_mask = layer.compute_mask(x, mask)
                out_timed = [all(timed[id(t)] for t in node.layer_inputs)] * len(node.outputs)
            outs = list(out) if node.multi_output else [out]
            out_masks = out_mask if isinstance(out_mask, list) else [out_mask] * len(outs)
            for t, v, m, tm in zip(node.outputs, outs, out_masks, out_timed):
                values[id(t)], masks[id(t)], timed[id(t)] = v, m, tm
        for name, (states, y) in pending.items():    # all or nothing: a failed step keeps
            self._states[name], self._prev[name] = states, y          # the states it had
        self.steps += 1
        results = [values[id(t)][:, 0] if timed[id(t)] else values[id(t)]
                   for t in graph.outputs]
        return results[0] if len(results) == 1 else results

    def feed(self, x):
        """Feed a whole sequence (batch, T, ...) step by step; the outputs of every step stacked
        on axis 1 (a list for several outputs)."""
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        xs = [np.asarray(a) for a in xs]
        if any(a.ndim < 2 for a in xs) or len({a.shape[1] for a in xs}) != 1:
            raise ValueError("Stepper.feed takes arrays of shape (batch, timesteps, ...) with "
                             f"one number of timesteps, got {[a.shape for a in xs]}")
        outs = [self.step([a[:, s] for a in xs] if len(xs) > 1 else xs[0][:, s])
                for s in range(xs[0].shape[1])]
        if outs and isinstance(outs[0], list):
            return [np.stack(o, axis=1) for o in zip(*outs)]
        return np.stack(outs, axis=1)
