"""ONNX export of Sequential and functional models: ``model.export("m.onnx", format="onnx")``.

The recurrent layers become ONNX's own ``LSTM``, ``GRU`` and ``RNN`` operators, so an ONNX
runtime runs its fused kernels.  The weights are converted from Keras's layouts:

* ONNX runs time-major ``(T, N, D)`` with ``W = [num_directions, gates·units, D]`` (the kernel
  transposed), ``R`` likewise from the recurrent kernel, and ``B = [Wb, Rb]``;
* LSTM gates: Keras's kernel columns are ``i, f, c, o``, ONNX's rows ``i, o, f, c``;
* GRU gates are ``z, r, h`` in both; ``reset_after=True`` (Keras's default, bias ``(2, 3u)``: the
  input bias and the recurrent bias) is ONNX's ``linear_before_reset=1``; ``reset_after=False``
  (one bias, applied with the input) is ``linear_before_reset=0`` with a zero recurrent bias;
* ``go_backwards`` reverses the input in time (a ``Slice`` with step -1) before a forward run, so
  that a returned sequence keeps Keras's reversed order.

Embedding is a ``Gather``, Dense a ``MatMul`` + ``Add`` (+ its activation), Conv1D and the
pooling layers ONNX's ``Conv``/``MaxPool``/``AveragePool`` on channels-first data (Keras's
``same`` padding TensorFlow's split, ``causal`` a left pad), Bidirectional the operators'
``direction="bidirectional"``, Dropout and the noise layers identities.  The batch and time
axes are dynamic.  A layer, option or activation without an ONNX form here is refused with an
error naming it, before anything is written.

Masks (Embedding's ``mask_zero``, Masking): a masked recurrent layer skips the masked steps,
its state passing through them, so each row's kept steps are moved to the front in order
(``TopK`` of a key, ``GatherElements``) and their count is the operators' ``sequence_lens``:
Keras's result for any padding (pre, post or holes), as long as the mask ends in a recurrent
layer without ``return_sequences`` (only Dense, Dropout and recurrent layers may stand between).

onnx (the ``onnx`` extra) is imported only here, when a model is exported.
"""
from __future__ import annotations

import numpy as np

from rnnlab import io as _io

#: The ONNX operator set the exported graphs use.
OPSET = 17
_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}
_IDENTITY = ("Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout",
             "ActivityRegularization")
_DENSE_ACTIVATIONS = {"linear": None, "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh",
                      "softmax": "Softmax", "softplus": "Softplus", "softsign": "Softsign",
                      "elu": "Elu"}


class ExportError(ValueError):
    """A model (layer, option or activation) that has no ONNX form here; the message names it."""


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("ONNX export needs onnx: pip install 'rnnlab[onnx]'") from None
    return onnx, helper, numpy_helper


class _Graph:
    """Nodes and initializers collected while walking the layers."""

    def __init__(self):
        _, self.helper, self.numpy_helper = _onnx()
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base: str, value) -> str:
        name = self.name(base)
        self.inits.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs, n_out: int = 1, **attrs):
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs if n_out > 1 else outs[0]


def _who(layer) -> str:
    return f"layer {layer.name!r} ({type(layer).__name__})"


def _act_name(layer, act, table) -> str | None:
    name = getattr(act, "name", None)
    if name not in table:
        raise ExportError(f"{_who(layer)}: activation {name!r} has no ONNX form here (supported: "
                          f"{sorted(table)})")
    return table[name]


def _check_rnn(layer) -> None:
    if getattr(layer, "return_state", False):
        raise ExportError(f"{_who(layer)}: return_state=True is not exported")
    if getattr(layer, "stateful", False):
        raise ExportError(f"{_who(layer)}: stateful=True is not exported")


def _weights(layer, dtype):
    """(operator, W, R, B or None, attributes) of one LSTM/GRU/SimpleRNN, in ONNX's layouts."""
    _check_rnn(layer)
    kind, cell = type(layer).__name__, layer.cell
    u = cell.units
    p = layer.params
    kernel, rec = np.asarray(p["kernel"]), np.asarray(p["recurrent_kernel"])
    bias = np.asarray(p["bias"]) if "bias" in p else None
    attrs = {"hidden_size": u}
    if kind == "LSTM":
        order = np.concatenate([np.arange(0, u), np.arange(3 * u, 4 * u), np.arange(u, 2 * u),
                                np.arange(2 * u, 3 * u)])        # i, f, c, o -> i, o, f, c
        w, r = kernel[:, order].T, rec[:, order].T
        b = None if bias is None else np.concatenate([bias[order], np.zeros(4 * u)])
        acts = [cell.recurrent_activation, cell.activation, cell.activation]
    elif kind == "GRU":
        w, r = kernel.T, rec.T
        if cell.reset_after:
            attrs["linear_before_reset"] = 1
            b = None if bias is None else np.concatenate([bias[0], bias[1]])
        else:
            b = None if bias is None else np.concatenate([bias, np.zeros(3 * u)])
        acts = [cell.recurrent_activation, cell.activation]
    else:
        w, r = kernel.T, rec.T
        b = None if bias is None else np.concatenate([bias, np.zeros(u)])
        acts = [cell.activation]
    attrs["activations"] = [_act_name(layer, a, _ACTIVATIONS) for a in acts]
    op = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}[kind]
    return op, w.astype(dtype), r.astype(dtype), None if b is None else b.astype(dtype), attrs


def _run(g: _Graph, layers, x: str, dtype, name: str, lens: str | None = None):
    """ONNX's recurrent operator over ``x`` (N, T, D) for one layer or a (forward, backward)
    pair: Y (T, directions, N, u) and Y_h (directions, N, u).  ``lens`` (int32 (N,)): the
    operator's ``sequence_lens`` (the valid steps come first, see :func:`_compact`)."""
    parts = [_weights(layer, dtype) for layer in layers]
    op, attrs = parts[0][0], dict(parts[0][4])
    if len(parts) == 2:
        if parts[1][0] != op or parts[1][4] != attrs or (parts[0][3] is None) != \
                (parts[1][3] is None):
            raise ExportError(f"layer {name!r}: forward and backward layers differ")
        attrs["direction"] = "bidirectional"
        attrs["activations"] = attrs["activations"] * 2
    xt = g.op("Transpose", [x], perm=[1, 0, 2])                 # (T, N, D)
    if len(parts) == 1 and layers[0].go_backwards:
        if lens is not None:     # reverse each row's valid steps only
            xt = g.op("ReverseSequence", [xt, g.op("Cast", [lens], to=7)], batch_axis=1,
                      time_axis=0)
        else:
            xt = g.op("Slice", [xt, g.const("start", np.array([-1])),
                                g.const("end", np.array([-(2 ** 62)])),
                                g.const("axis", np.array([0])), g.const("step", np.array([-1]))])
    inputs = [xt, g.const(f"{name}_W", np.stack([p[1] for p in parts])),
              g.const(f"{name}_R", np.stack([p[2] for p in parts]))]
    if parts[0][3] is not None:
        inputs.append(g.const(f"{name}_B", np.stack([p[3] for p in parts])))
    elif lens is not None:
        inputs.append("")        # no bias, but sequence_lens follows
    if lens is not None:
        inputs.append(lens)
    return g.op(op, inputs, n_out=2, **attrs)[:2]


def _recurrent(g: _Graph, layer, x: str, dtype, lens=None) -> str:
    """``x`` (N, T, D) through one LSTM/GRU/SimpleRNN as ONNX's operator."""
    if lens is not None and layer.go_backwards and layer.return_sequences:
        raise ExportError(f"{_who(layer)}: go_backwards with return_sequences on a masked input "
                          "is not exported")
    y, y_h = _run(g, [layer], x, dtype, layer.name, lens)
    if layer.return_sequences:
        y = g.op("Squeeze", [y, g.const("axes", np.array([1]))])   # (T, N, u)
        return g.op("Transpose", [y], perm=[1, 0, 2])
    return g.op("Squeeze", [y_h, g.const("axes", np.array([0]))])


_MERGES = ("sum", "ave", "mul")


def _bidirectional(g: _Graph, layer, x: str, dtype, lens=None) -> str:
    """Keras's Bidirectional as ONNX's ``direction="bidirectional"``: the backward outputs are
    indexed by input time in both, and the final states are Y_h's two rows."""
    f, b = layer.forward_layer, layer.backward_layer
    if type(f).__name__ not in ("LSTM", "GRU", "SimpleRNN") or f.go_backwards \
            or not b.go_backwards:
        raise ExportError(f"{_who(layer)}: only a forward LSTM/GRU/SimpleRNN with its backward "
                          "copy is exported")
    if layer.merge_mode not in ("concat", *_MERGES):
        raise ExportError(f"{_who(layer)}: merge_mode={layer.merge_mode!r} is not exported")
    y, y_h = _run(g, [f, b], x, dtype, layer.name, lens)
    if f.return_sequences:
        z, axis, shape = g.op("Transpose", [y], perm=[2, 0, 1, 3]), 2, [0, 0, -1]  # (N, T, 2, u)
    else:
        z, axis, shape = g.op("Transpose", [y_h], perm=[1, 0, 2]), 1, [0, -1]      # (N, 2, u)
    if layer.merge_mode == "concat":
        return g.op("Reshape", [z, g.const("shape", np.array(shape))])
    if layer.merge_mode == "mul":      # opset 17: ReduceProd takes its axes as an attribute
        return g.op("ReduceProd", [z], axes=[axis], keepdims=0)
    total = g.op("ReduceSum", [z, g.const("axes", np.array([axis]))], keepdims=0)
    if layer.merge_mode == "ave":
        return g.op("Mul", [total, g.const("half", np.asarray(0.5, dtype=dtype))])
    return total


def _dense(g: _Graph, layer, x: str, dtype) -> str:
    y = g.op("MatMul", [x, g.const(f"{layer.name}_kernel", np.asarray(layer.params["kernel"],
                                                                      dtype=dtype))])
    if "bias" in layer.params:
        y = g.op("Add", [y, g.const(f"{layer.name}_bias", np.asarray(layer.params["bias"],
                                                                     dtype=dtype))])
    act = _act_name(layer, layer.activation, _DENSE_ACTIVATIONS)
    if act == "Softmax":
        return g.op(act, [y], axis=-1)
    return g.op(act, [y]) if act else y


def _pads(layer, window: int, dilation: int = 1) -> dict:
    """ONNX padding attributes for Keras's ``padding``: ``same`` is TensorFlow's (the odd pad at
    the end): fixed pads at stride 1 (where ONNX Runtime allows dilation), SAME_UPPER else."""
    total = dilation * (window - 1)
    if layer.padding == "valid":
        return {"pads": [0, 0]}
    if layer.padding == "causal":
        return {"pads": [total, 0]}
    if layer.strides == 1:
        return {"pads": [total // 2, total - total // 2]}
    return {"auto_pad": "SAME_UPPER"}


def _channels_first(g: _Graph, x: str) -> str:
    return g.op("Transpose", [x], perm=[0, 2, 1])


def _conv1d(g: _Graph, layer, x: str, dtype) -> str:
    """Conv1D as ONNX's Conv on (N, C, T): the kernel (k, in, out) becomes (out, in, k)."""
    kernel = np.asarray(layer.params["kernel"], dtype=dtype).transpose(2, 1, 0)
    inputs = [_channels_first(g, x), g.const(f"{layer.name}_kernel", kernel)]
    if "bias" in layer.params:
        inputs.append(g.const(f"{layer.name}_bias", np.asarray(layer.params["bias"], dtype=dtype)))
    y = g.op("Conv", inputs, kernel_shape=[layer.kernel_size], strides=[layer.strides],
             dilations=[layer.dilation_rate],
             **_pads(layer, layer.kernel_size, layer.dilation_rate))
    y = _channels_first(g, y)
    act = _act_name(layer, layer.activation, _DENSE_ACTIVATIONS)
    if act == "Softmax":
        return g.op(act, [y], axis=-1)
    return g.op(act, [y]) if act else y


def _pool(g: _Graph, layer, x: str, kind: str) -> str:
    op = "MaxPool" if kind == "MaxPooling1D" else "AveragePool"
    y = g.op(op, [_channels_first(g, x)], kernel_shape=[layer.pool_size],
             strides=[layer.strides], **_pads(layer, layer.pool_size))
    return _channels_first(g, y)


def _global_pool(g: _Graph, layer, x: str, kind: str) -> str:
    op = "ReduceMax" if kind == "GlobalMaxPooling1D" else "ReduceMean"
    return g.op(op, [x], axes=[1], keepdims=int(bool(layer.keepdims)))


def _compact(g: _Graph, keep: str):
    """The order that moves each row's kept steps (``keep`` (N, T) bool) to the front, in
    order, and their count: ``(int64 indices (N, T), int32 lengths (N,))``.  A masked
    recurrent layer skips the masked steps (its state passes through them), so on the compacted
    rows ONNX's ``sequence_lens`` gives Keras's result whatever the padding (pre, post, or
    holes)."""
    keepf = g.op("Cast", [keep], to=1)                                    # float (N, T)
    t = g.op("Gather", [g.op("Shape", [keep]), g.const("one", np.array(1))], axis=0)
    pos = g.op("Cast", [g.op("Range", [g.const("zero", np.array(0)), t,
                                        g.const("step", np.array(1))])], to=1)
    tf = g.op("Cast", [t], to=1)
    # kept steps first (key >= 2T), earlier steps before later ones (T - position)
    key = g.op("Add", [g.op("Mul", [keepf, g.op("Mul", [tf, g.const("two", np.float32(2))])]),
                       g.op("Sub", [tf, pos])])
    _, order = g.op("TopK", [key, g.op("Reshape", [t, g.const("shape", np.array([1]))])],
                    n_out=2, axis=1, largest=1, sorted=1)
    lens = g.op("Cast", [g.op("ReduceSum", [keepf, g.const("axes", np.array([1]))],
                              keepdims=0)], to=6)                          # int32
    return order, lens


def _gather_steps(g: _Graph, x: str, order: str, rank: int) -> str:
    """``x`` (N, T) or (N, T, D) with its steps taken in ``order`` (N, T) per row."""
    if rank == 2:
        return g.op("GatherElements", [x, order], axis=1)
    idx = g.op("Unsqueeze", [order, g.const("axes", np.array([2]))])
    idx = g.op("Expand", [idx, g.op("Shape", [x])])
    return g.op("GatherElements", [x, idx], axis=1)


_MASK_PASSES = ("Dense", *_IDENTITY)


def _layer(g: _Graph, layer, x: str, dtype, lens: str | None):
    """``(output, lens)``: the layer's ONNX output and the sequence lengths of the mask it
    carries on (None when no mask flows past it)."""
    kind = type(layer).__name__
    if lens is not None:
        if kind in _MASK_PASSES:
            return _layer(g, layer, x, dtype, None)[0], lens
        if kind in ("LSTM", "GRU", "SimpleRNN"):
            return _recurrent(g, layer, x, dtype, lens), (lens if layer.return_sequences
                                                           else None)
        if kind == "Bidirectional":
            return _bidirectional(g, layer, x, dtype, lens), (
                lens if layer.forward_layer.return_sequences else None)
        raise ExportError(f"{_who(layer)} is not exported on a masked input (only Dense, "
                          "Dropout and the recurrent layers are)")
    if kind == "Masking":
        value = g.const("mask_value", np.asarray(layer.mask_value, dtype=dtype))
        keep = g.op("Cast", [g.op("ReduceMax", [g.op("Cast", [
            g.op("Not", [g.op("Equal", [x, value])])], to=1)], axes=[2], keepdims=0)], to=9)
        order, lens = _compact(g, keep)
        return _gather_steps(g, x, order, 3), lens
    if getattr(layer, "mask_zero", False):
        keep = g.op("Not", [g.op("Equal", [x, g.const("zero", np.array(0))])])
        order, lens = _compact(g, keep)
        return _layer(g, _NoMask(layer), _gather_steps(g, x, order, 2), dtype, None)[0], lens
    return _unmasked(g, layer, x, dtype), None


class _NoMask:
    """An Embedding seen without its mask (its mask is handled by the caller)."""

    def __init__(self, layer):
        self.layer, self.name, self.params = layer, layer.name, layer.params
        self.mask_zero = False


def _normalization(g: _Graph, layer, x: str, dtype) -> str:
    """BatchNormalization at inference (a per-feature scale and shift from its statistics) and
    LayerNormalization over the last axis (ONNX's LayerNormalization; a missing gamma is ones,
    a missing beta zeros)."""
    kind, p = type(layer).__name__, layer.params
    axis = layer.axis if not isinstance(layer.axis, list) else (
        layer.axis[0] if len(layer.axis) == 1 else None)
    if axis not in (-1, len(layer.input_spec_shape) - 1):
        raise ExportError(f"{_who(layer)}: axis={layer.axis!r} is not exported (only the last "
                          "axis)")
    width = layer.input_spec_shape[-1]
    gamma = np.asarray(p["gamma"], np.float64) if "gamma" in p else np.ones(width)
    beta = np.asarray(p["beta"], np.float64) if "beta" in p else np.zeros(width)
    if kind == "BatchNormalization":
        scale = gamma / np.sqrt(np.asarray(p["moving_variance"], np.float64) + layer.epsilon)
        shift = beta - np.asarray(p["moving_mean"], np.float64) * scale
        y = g.op("Mul", [x, g.const(f"{layer.name}_scale", scale.astype(dtype))])
        return g.op("Add", [y, g.const(f"{layer.name}_shift", shift.astype(dtype))])
    return g.op("LayerNormalization", [x, g.const(f"{layer.name}_gamma", gamma.astype(dtype)),
                                       g.const(f"{layer.name}_beta", beta.astype(dtype))],
                axis=-1, epsilon=float(layer.epsilon))


def _reshaping(g: _Graph, layer, x: str) -> str:
    kind = type(layer).__name__
    if kind == "RepeatVector":       # (N, D) -> (N, n, D)
        y = g.op("Unsqueeze", [x, g.const("axes", np.array([1]))])
        return g.op("Tile", [y, g.const("repeats", np.array([1, layer.n, 1]))])
    if kind == "Permute":
        return g.op("Transpose", [x], perm=[0, *layer.dims])
    return g.op("Reshape", [x, g.const("shape", np.array([0, *layer.target_shape]))])


def _unmasked(g: _Graph, layer, x: str, dtype) -> str:
    kind = "Embedding" if isinstance(layer, _NoMask) else type(layer).__name__
    if kind == "Embedding":
        return g.op("Gather", [g.const(f"{layer.name}_embeddings",
                                       np.asarray(layer.params["embeddings"], dtype=dtype)), x],
                    axis=0)
    if kind == "Dense":
        return _dense(g, layer, x, dtype)
    if kind in ("LSTM", "GRU", "SimpleRNN"):
        return _recurrent(g, layer, x, dtype)
    if kind == "Bidirectional":
        return _bidirectional(g, layer, x, dtype)
    if kind in ("Conv1D", "Convolution1D"):
        return _conv1d(g, layer, x, dtype)
    if kind in ("MaxPooling1D", "AveragePooling1D", "MaxPool1D", "AvgPool1D"):
        return _pool(g, layer, x, "MaxPooling1D" if "Max" in kind else "AveragePooling1D")
    if kind in ("GlobalMaxPooling1D", "GlobalAveragePooling1D", "GlobalMaxPool1D",
                "GlobalAvgPool1D"):
        return _global_pool(g, layer, x, "GlobalMaxPooling1D" if "Max" in kind else "avg")
    if kind == "Flatten":
        return g.op("Flatten", [x], axis=1)
    if kind in ("BatchNormalization", "LayerNormalization"):
        return _normalization(g, layer, x, dtype)
    if kind in ("RepeatVector", "Permute", "Reshape"):
        return _reshaping(g, layer, x)
    if kind == "TimeDistributed" and type(layer.layer).__name__ in ("Dense", "Activation",
                                                                      "Dropout"):
        return _unmasked(g, layer.layer, x, dtype)      # they act on the last axis already
    if kind == "Activation":
        act = _act_name(layer, layer.activation, _DENSE_ACTIVATIONS)
        if act == "Softmax":
            return g.op(act, [x], axis=-1)
        return g.op(act, [x]) if act else x
    if kind in _IDENTITY:
        return x
    raise ExportError(f"{_who(layer)} has no ONNX export here (supported: Embedding, Dense, "
                      "SimpleRNN, LSTM, GRU, Bidirectional, Conv1D, pooling, Flatten, "
                      "Activation, Batch/LayerNormalization, Reshape, Permute, RepeatVector, "
                      "TimeDistributed(Dense), Dropout and the noise layers)")


_MERGE_OPS = {"Add": "Add", "Multiply": "Mul", "Maximum": "Max", "Minimum": "Min"}


def _merge(g: _Graph, layer, ins: list, dtype) -> str:
    """A merge layer over its input names (Concatenate, Add, Subtract, Multiply, Average,
    Maximum, Minimum)."""
    kind = type(layer).__name__
    if kind == "Concatenate":
        return g.op("Concat", ins, axis=int(layer.axis))
    if kind == "Subtract":
        return g.op("Sub", ins)
    if kind in ("Maximum", "Minimum"):
        return g.op(_MERGE_OPS[kind], ins)
    if kind in ("Add", "Multiply", "Average"):
        y = ins[0]
        for other in ins[1:]:
            y = g.op("Mul" if kind == "Multiply" else "Add", [y, other])
        if kind == "Average":
            y = g.op("Mul", [y, g.const("scale", np.asarray(1.0 / len(ins), dtype=dtype))])
        return y
    raise ExportError(f"{_who(layer)} has no ONNX export here as a multi-input layer (supported: "
                      "Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum)")


def _int_input(model, tensor) -> bool:
    """Whether a model input holds token ids (declared integer, or read by an Embedding)."""
    if str(tensor.dtype or "").startswith(("int", "uint")):
        return True
    return any(type(n.layer).__name__ == "Embedding" and tensor in n.inputs
               for n in getattr(model, "_nodes", []))


def _dims(shape, prefix: str) -> list:
    """ONNX dims of a batch shape: the batch and every unknown size symbolic."""
    return ["batch"] + [d if d is not None else f"{prefix}{i}" for i, d in
                        enumerate(shape[1:], start=1)]


def _functional(g: _Graph, model, dtype, helper, elem):
    """Graph inputs, outputs for a functional model (its nodes in order; no masks)."""
    onnx = _onnx()[0]
    names, inputs = {}, []
    for t in model.inputs:
        if _int_input(model, t):
            inputs.append(helper.make_tensor_value_info(t.name, onnx.TensorProto.INT32,
                                                        _dims(t.shape, f"{t.name}_d")))
            names[id(t)] = g.op("Cast", [t.name], to=onnx.TensorProto.INT64)
        else:
            inputs.append(helper.make_tensor_value_info(t.name, elem,
                                                        _dims(t.shape, f"{t.name}_d")))
            names[id(t)] = t.name
    for node in model._nodes:
        layer = node.layer
        if getattr(layer, "mask_zero", False) or type(layer).__name__ == "Masking":
            raise ExportError(f"{_who(layer)}: masks are exported in Sequential models only")
        if node.tensor_names or node.multi_output or len(node.outputs) != 1:
            raise ExportError(f"{_who(layer)}: a call with extra tensors or several outputs is "
                              "not exported")
        ins = [names[id(t)] for t in node.inputs]
        y = _merge(g, layer, ins, dtype) if node.multi_input else \
            _unmasked(g, layer, ins[0], dtype)
        names[id(node.outputs[0])] = y
    outputs = []
    for i, t in enumerate(model.outputs):
        name = "output" if len(model.outputs) == 1 else f"output_{i}"
        g.nodes.append(helper.make_node("Identity", [names[id(t)]], [name]))
        outputs.append(helper.make_tensor_value_info(name, elem, _dims(t.shape, f"{name}_d")))
    return inputs, outputs


def _sequential(g: _Graph, model, dtype, helper, elem):
    onnx = _onnx()[0]
    first = model.layers[0]
    shape = list(first.input_spec_shape)
    dims = ["batch"] + ["time" if i == 0 else (d if d is not None else f"dim{i}")
                        for i, d in enumerate(shape[1:])]
    if type(first).__name__ == "Embedding":
        x_in = helper.make_tensor_value_info("input", onnx.TensorProto.INT32, dims)
        x = g.op("Cast", ["input"], to=onnx.TensorProto.INT64)
    else:
        x_in = helper.make_tensor_value_info("input", elem, dims)
        x = "input"
    lens = None
    for layer in model.layers:
        x, lens = _layer(g, layer, x, dtype, lens)
    if lens is not None:
        raise ExportError(f"model {model.name!r}: its output is a masked sequence; only masks "
                          "that a recurrent layer without return_sequences consumes are exported")
    g.nodes.append(helper.make_node("Identity", [x], ["output"]))
    out_dims = _dims(model.compute_output_shape(tuple(shape)), "output_d")
    return [x_in], [helper.make_tensor_value_info("output", elem, out_dims)]


def onnx_model(model):
    """The ONNX ModelProto of a built Sequential or functional ``model`` (float32 or float64
    weights).  A Sequential model's tensors are ``input`` and ``output``; a functional model's
    inputs keep their names and its outputs are ``output`` (``output_0``, ``output_1``... for
    several)."""
    onnx, helper, _ = _onnx()
    kind = type(model).__name__
    if kind not in ("Sequential", "Functional"):
        raise ExportError(f"model {model.name!r}: only Sequential and functional models are "
                          f"exported to ONNX, not {kind}")
    if not model.built:
        raise ExportError(f"model {model.name!r} is not built yet: call it on data, fit it, or "
                          "give the first layer an input_shape before exporting")
    g = _Graph()
    dtype = np.asarray(model.get_weights()[0]).dtype if model.get_weights() else np.float32
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    build = _sequential if kind == "Sequential" else _functional
    inputs, outputs = build(g, model, dtype, helper, elem)
    graph = helper.make_graph(g.nodes, model.name, inputs, outputs, initializer=g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="rnnlab")
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    return proto


def onnx_bytes(model) -> bytes:
    """The bytes of the ONNX file of ``model`` (:func:`onnx_model`)."""
    return onnx_model(model).SerializeToString()


def export_onnx(model, filepath) -> None:
    """Write :func:`onnx_model` of ``model`` to ``filepath`` atomically."""
    _io.write_bytes(filepath, onnx_bytes(model))


__all__ = ["ExportError", "OPSET", "export_onnx", "onnx_bytes", "onnx_model"]
