"""Keras 3 files in and out: ``.keras`` archives and ``.weights.h5`` weights files.

A Keras 3 archive is a zip of ``metadata.json`` (the Keras version), ``config.json`` (the model's
architecture as Keras serializes it: ``{"module", "class_name", "config", "registered_name"}``
objects, a functional model's ``inbound_nodes``) and ``model.weights.h5`` (HDF5).  Keras stores
each layer's own weights in the group ``layers/<snake_case class name>[_n]/vars`` as datasets
``0, 1, ...`` in the layer's weight order, numbering the layers of one class in the order of
``model.layers``; a recurrent layer's weights are its cell's (``.../cell/vars``), a wrapper's are
under ``forward_layer``/``backward_layer`` (Bidirectional) or ``layer`` (TimeDistributed), and
MultiHeadAttention's under ``query_dense``, ``key_dense``, ``value_dense``, ``output_dense``.
rnnlab's weights already follow Keras's names, order and layouts, so the weights move as they are;
only the configs are translated (Keras's extra keys dropped when they hold their neutral value, an
option rnnlab does not have refused by name).

Reading is done with the care of :mod:`rnnlab.models.saving`: members are inflated with limits
(the weights file's limit derived from the shapes the config implies), the config is JSON of
bounded depth, every weight's shape and dtype is checked from the HDF5 header before any array is
read, and the model is returned only once every weight is in place; any failure is one
:class:`KerasFileError` naming what is wrong.  h5py (the ``keras-files`` extra) is imported only
here, when a Keras file is read or written.
"""
from __future__ import annotations

import datetime
import inspect
import io
import json
import math
import re
import warnings
import zipfile

import numpy as np

from rnnlab import io as _io
from rnnlab.layers.base import LAYERS, weight_mode
from rnnlab.models import serialization as S

#: The Keras version written into archives (the one the files are tested against).
KERAS_VERSION = "3.15.1"
#: The most ``config.json`` / ``metadata.json`` may inflate to.
MAX_CONFIG_BYTES = 16 << 20
MAX_CONFIG_DEPTH = 64
_MEMBERS = ("metadata.json", "config.json", "model.weights.h5")
_H5_OVERHEAD = 1 << 20       # HDF5 superblock, heaps and B-trees of a file
_H5_PER_GROUP = 16 << 10     # bytes one group or dataset may add
_ITEMSIZE = 8

#: Keras layer classes rnnlab rebuilds (rnnlab's classes of the same name and meaning).
SUPPORTED = (
    "Activation", "ActivityRegularization", "Add", "AdditiveAttention", "Attention", "Average",
    "AveragePooling1D", "BatchNormalization", "Bidirectional", "Concatenate", "Conv1D",
    "Cropping1D", "Dense", "Dot", "Dropout", "Embedding", "Flatten", "GaussianDropout",
    "GaussianNoise", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "GRU", "GRUCell", "LSTM",
    "LSTMCell", "LayerNormalization", "Masking", "MaxPooling1D", "Maximum", "Minimum",
    "MultiHeadAttention", "Multiply", "Permute", "RNN", "RepeatVector", "Reshape", "SimpleRNN",
    "SimpleRNNCell", "SpatialDropout1D", "Subtract", "TimeDistributed", "ZeroPadding1D")
_RECURRENT = ("SimpleRNN", "LSTM", "GRU", "RNN")
_NESTED_LAYER_KEYS = ("layer", "backward_layer", "cell")
_MHA_PARTS = (("query_dense", "query/"), ("key_dense", "key/"), ("value_dense", "value/"),
              ("output_dense", "attention_output/"))
#: Keras config keys rnnlab has no argument for, with the value that means "not used": dropped
#: when they hold it, refused (naming the option) otherwise.
_KERAS_ONLY = {"quantization_config": None, "lora_rank": None, "lora_alpha": None,
               "sparse": False, "ragged": False, "optional": False,
               "use_cudnn": "auto", "synchronized": False, "flash_attention": None,
               "embeddings_constraint": None, "renorm": False, "virtual_batch_size": None,
               "groups": 1, "data_format": "channels_last", "time_major": False}
#: Keras config keys that mean nothing given the neutral values above (renorm=False): dropped.
_KERAS_MOOT = ("renorm_clipping", "renorm_momentum", "input_length", "implementation")
#: Keras operations a functional config holds only to compute masks (e.g. Embedding(mask_zero)'s
#: ``not_equal``, the ``logical_or`` of two masks): rnnlab's layers compute their masks again.
_MASK_OPS = ("NotEqual", "LogicalOr", "LogicalAnd", "LogicalNot", "Any", "All", "Cast",
             "ExpandDims", "Squeeze")
_FLOATS = ("float32", "float64")


class KerasFileError(_io.ArchiveError):
    """A Keras file rnnlab cannot read (not a Keras file, damaged, or holding a layer or option
    rnnlab does not have): the message says what is wrong."""


def require_h5py():
    """The h5py module (the ``keras-files`` extra), or an ImportError saying how to install it."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Keras .keras and .h5 files need h5py: pip install 'rnnlab[keras-files]'"
                          ) from None
    return h5py


def keras_snake(name: str) -> str:
    """Keras's ``to_snake_case`` (the names of the weight groups): LSTM -> lstm, Conv1D ->
    conv1d, MultiHeadAttention -> multi_head_attention."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# ============================================================================ weight groups
def weight_groups(layer, path: str, prefix: str = "") -> list[tuple[str, list[str]]]:
    """``(HDF5 group, [param keys in Keras's order])`` of ``layer`` stored at ``path``, for every
    object Keras walks (groups that hold no weight included: Keras writes them too)."""
    kind = type(layer).__name__
    if kind == "Bidirectional":
        f, b = layer.forward_layer, layer.backward_layer
        return ([(f"{path}/vars", [])]
                + weight_groups(f, f"{path}/forward_layer", f"{prefix}{f.name}/")
                + weight_groups(b, f"{path}/backward_layer", f"{prefix}{b.name}/"))
    if kind == "TimeDistributed":
        return [(f"{path}/vars", [])] + weight_groups(layer.layer, f"{path}/layer", prefix)
    if kind in _RECURRENT:
        if type(layer.cell).__name__ not in ("SimpleRNNCell", "LSTMCell", "GRUCell"):
            raise KerasFileError(f"layer {layer.name!r} runs a {type(layer.cell).__name__}, which "
                                 "has no Keras file layout (only SimpleRNN/LSTM/GRU cells do)")
        return [(f"{path}/vars", []),
                (f"{path}/cell/vars", [prefix + k for k in layer.params])]
    if kind == "MultiHeadAttention":
        groups = [(f"{path}/vars", [])]
        for group, sub in _MHA_PARTS:
            groups.append((f"{path}/{group}/vars",
                           [prefix + k for k in layer.params if k.startswith(sub)]))
        return groups + [(f"{path}/_dropout_layer/vars", []), (f"{path}/_softmax/vars", [])]
    if layer.sublayers():
        raise KerasFileError(f"layer {layer.name!r} ({kind}) has no Keras file layout")
    return [(f"{path}/vars", [prefix + k for k in layer.params])]


def _layer_paths(layers) -> dict:
    """Each top-level layer's group, ``layers/<snake class>[_n]`` numbered per class in order."""
    used, paths = {}, {}
    for layer in layers:
        name = keras_snake(type(layer).__name__)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        paths[layer.name] = f"layers/{name}"
    return paths


def model_groups(model, keras_order=None) -> list[tuple[str, object, list[str]]]:
    """``(group, layer, [param keys])`` for every weight group of ``model`` (its top-level layers
    in ``keras_order``, a list of layer names, or the model's own order)."""
    by_name = {layer.name: layer for layer in model.layers}
    order = [by_name[n] for n in keras_order] if keras_order else list(model.layers)
    paths = _layer_paths(order)
    return [(group, layer, keys) for layer in order
            for group, keys in weight_groups(layer, paths[layer.name])]


# ============================================================================ reading
class _ZipReader(_io.ArchiveReader):
    """A plain zip (a Keras archive has no manifest) read with :class:`ArchiveReader`'s limits."""

    def _read_manifest(self) -> dict:
        return {name: None for name in self._infos}

    def read(self, name: str, limit: int = _io.MAX_MEMBER_BYTES) -> bytes:
        if name not in self._infos:
            raise KerasFileError(f"{self.where} has no member {name!r}")
        return self._inflate(name, limit)


def source_name(source) -> str:
    """How an error message names a file (its path) or bytes."""
    return "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else repr(str(source))


def _h5_limit(n_elements: int, n_groups: int) -> int:
    return _H5_OVERHEAD + n_elements * _ITEMSIZE + n_groups * _H5_PER_GROUP


def load_keras(filepath, compile=True, custom_objects=None):  # noqa: A002 - Keras's names
    """A new rnnlab model from a Keras 3 ``.keras`` archive (architecture and weights; the
    training configuration is not read, so the model comes back uncompiled)."""
    where = source_name(filepath)
    try:
        with _ZipReader(filepath, "Keras archive") as archive:
            unknown = sorted(n for n in archive.names if n not in _MEMBERS)
            if unknown:
                raise KerasFileError(f"{where} holds members rnnlab does not read: {unknown}")
            if "config.json" not in archive.names:
                raise KerasFileError(f"{where} is not a Keras archive (no config.json)")
            cfg = _read_json(archive, "config.json", where)
            if "metadata.json" in archive.names:
                _read_json(archive, "metadata.json", where)
            spec, order = keras_to_rnnlab(cfg, where)
            shaped = rebuild(spec, custom_objects, "shapes", where)
            groups = model_groups(shaped, order)
            shapes = {(layer.name, k): layer.params[k].shape for _, layer, keys in groups
                      for k in keys}
            if "model.weights.h5" not in archive.names:
                raise KerasFileError(f"{where} holds no model.weights.h5")
            limit = _h5_limit(sum(math.prod(s) for s in shapes.values()), len(groups) + 4)
            data = archive.read("model.weights.h5", limit)
    except (KerasFileError, FileNotFoundError):
        raise
    except _io.ArchiveError as exc:
        raise KerasFileError(str(exc).replace("rnnlab Keras archive", "Keras archive")) from None
    weights = read_h5_groups(data, [(g, layer.name, keys) for g, layer, keys in groups], shapes,
                             f"{where}: model.weights.h5")
    model = rebuild(spec, custom_objects, "zeros", where)
    assign(model, weights)
    return model


def _read_json(archive, name: str, where: str):
    try:
        return _io.load_json(archive.read(name, MAX_CONFIG_BYTES), name, MAX_CONFIG_DEPTH)
    except KerasFileError:
        raise
    except ValueError as exc:
        raise KerasFileError(f"{where}: {exc}") from None


def rebuild(spec: dict, custom_objects, mode: str, where: str):
    """The rnnlab model of ``spec`` built under ``weight_mode(mode)``; KerasFileError if it
    cannot be (a constructor's error, or no input shape to build it for)."""
    with weight_mode(mode), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = S.deserialize_model(spec, custom_objects)
            if not model.built:
                raise KerasFileError(f"{where}: the model config gives no input shape, so its "
                                     "weights cannot be placed")
            return model
        except KerasFileError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError,
                NotImplementedError) as exc:
            raise KerasFileError(f"{where}: the Keras model cannot be rebuilt in rnnlab: "
                                 f"{exc}") from None


def read_h5_groups(data: bytes, groups, shapes: dict, what: str) -> dict:
    """``{(layer name, param key): array}`` read from the HDF5 bytes ``data``: every group of
    ``groups`` (``(group, layer name, [keys])``) holding exactly ``len(keys)`` datasets named
    ``0..n-1``, each one's shape (``shapes[(layer name, key)]``) and float dtype checked before
    it is read."""
    h5py = require_h5py()
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except Exception as exc:
        raise KerasFileError(f"{what} is not a readable HDF5 file (truncated or corrupted?): "
                             f"{type(exc).__name__}: {exc}") from None
    out = {}
    with f:
        for group, lname, keys in groups:
            if not keys:
                continue
            try:
                g = f[group]
                names = sorted(g.keys())
            except Exception as exc:
                raise KerasFileError(f"{what} lacks the weights of layer {lname!r} (group "
                                     f"{group!r}): {type(exc).__name__}: {exc}") from None
            expected = [str(i) for i in range(len(keys))]
            if names != sorted(expected):
                raise KerasFileError(f"{what}: layer {lname!r} has weights {names} in {group!r}, "
                                     f"expected {len(keys)} ({', '.join(keys)})")
            for i, key in enumerate(keys):
                ds = g[str(i)]
                if not isinstance(ds, h5py.Dataset):
                    raise KerasFileError(f"{what}: {group}/{i} is not a dataset")
                if ds.dtype.kind != "f" or ds.dtype.itemsize > _ITEMSIZE:
                    raise KerasFileError(f"{what}: weight {key} of layer {lname!r} holds "
                                         f"{ds.dtype} values, expected floats")
                shape = tuple(shapes[(lname, key)])
                if tuple(ds.shape) != shape:
                    raise KerasFileError(f"{what}: weight {key} of layer {lname!r} has shape "
                                         f"{tuple(ds.shape)}, expected {shape}")
                try:
                    out[(lname, key)] = np.asarray(ds[()])
                except Exception as exc:
                    raise KerasFileError(f"{what}: weight {key} of layer {lname!r} cannot be "
                                         f"read: {type(exc).__name__}: {exc}") from None
    return out


def assign(model, weights: dict) -> None:
    """Set ``{(layer name, key): array}`` (already checked) into ``model``'s layers."""
    for (lname, key), arr in weights.items():
        target = model.get_layer(lname).params[key]
        target[...] = arr


# ============================================================================ configs in
def _check_dtype(value, who: str) -> None:
    if value is None:
        return
    name = value
    if isinstance(value, dict):
        name = value.get("config", {}).get("name") if isinstance(value.get("config"), dict) \
            else None
    if name not in _FLOATS:
        raise KerasFileError(f"{who}: dtype policy {name!r} is not supported by rnnlab "
                             f"(only {list(_FLOATS)})")


#: Keras initializers that are rnnlab's VarianceScaling: (scale, mode, distribution).
_SCALINGS = {"GlorotUniform": (1.0, "fan_avg", "uniform"),
             "GlorotNormal": (1.0, "fan_avg", "truncated_normal"),
             "HeUniform": (2.0, "fan_in", "uniform"),
             "HeNormal": (2.0, "fan_in", "truncated_normal"),
             "LecunUniform": (1.0, "fan_in", "uniform"),
             "LecunNormal": (1.0, "fan_in", "truncated_normal")}
_INITIALIZERS = ("Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "VarianceScaling",
                 "Orthogonal", "Identity")
_CONSTRAINTS = ("MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm")


def _object_in(key: str, value, who: str):
    """A Keras initializer, regularizer or constraint as rnnlab's ``{"class_name", "config"}``
    (the seed dropped: the weights come from the file), or ``value`` as it is.  An initializer
    rnnlab lacks gives a warning and rnnlab's default (it matters only for a re-initialization);
    a regularizer or constraint it lacks is refused (it changes training)."""
    if not (isinstance(value, dict) and "class_name" in value):
        return value
    kind = value["class_name"]
    cfg = {k: v for k, v in (value.get("config") or {}).items() if k != "seed" and v is not None}
    if key.endswith("_initializer"):
        if kind in _SCALINGS:
            scale, mode, dist = _SCALINGS[kind]
            return {"class_name": "VarianceScaling",
                    "config": {"scale": scale, "mode": mode, "distribution": dist}}
        if kind in _INITIALIZERS:
            return {"class_name": kind, "config": cfg}
        warnings.warn(f"{who}: {key} {kind} is not in rnnlab; its default is used instead (the "
                      "weights are read from the file)", stacklevel=3)
        return None
    if key.endswith("_regularizer") and kind in ("L1", "L2", "L1L2"):
        return {"class_name": "Regularizer",
                "config": {"l1": float(cfg.get("l1", 0.0)), "l2": float(cfg.get("l2", 0.0))}}
    if key.endswith("_constraint") and kind in _CONSTRAINTS:
        return {"class_name": kind, "config": cfg}
    raise KerasFileError(f"{who}: {key} {kind} is not supported by rnnlab")


def _accepts(cls, key: str) -> bool:
    """Whether ``cls(...)`` names ``key`` as an argument (its own or a base class's)."""
    for c in cls.__mro__:
        init = c.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        if key in params:
            return True
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return False
    return False


def layer_in(spec, what: str = "config.json") -> dict:
    """rnnlab's ``{"class_name", "config"}`` for the Keras layer object ``spec``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
            or not isinstance(spec.get("config"), dict):
        raise KerasFileError(f"{what}: a layer must be an object with class_name and config, got "
                             f"{spec!r:.80}")
    kind, src = spec["class_name"], spec["config"]
    who = f"{what}: layer {src.get('name')!r} ({kind})"
    if kind not in SUPPORTED:
        raise KerasFileError(f"{who}: Keras layer class {kind!r} is not supported by rnnlab "
                             f"(supported: {', '.join(SUPPORTED)})")
    cfg = {}
    for key, value in src.items():
        if key == "dtype":
            _check_dtype(value, who)
        elif key in _NESTED_LAYER_KEYS and isinstance(value, dict):
            cfg[key] = layer_in(value, what)
        elif key in _KERAS_MOOT:
            continue
        elif key in _KERAS_ONLY and not _accepts(LAYERS.get_class(kind), key):
            if value != _KERAS_ONLY[key]:
                raise KerasFileError(f"{who}: option {key}={value!r:.60} is not supported by "
                                     "rnnlab")
        else:
            cfg[key] = _object_in(key, value, who)
            if cfg[key] is None and value is not None:
                del cfg[key]
    if kind == "MultiHeadAttention" and cfg.get("attention_axes") in ([1], [-2], (1,)):
        cfg["attention_axes"] = None          # Keras's resolved default for (N, T, D) inputs
    if kind == "Bidirectional" and "backward_layer" in cfg:
        # Keras writes the backward copy it made itself: rnnlab makes the same one
        b = cfg["backward_layer"]["config"]
        f = cfg["layer"]["config"]
        if {k: v for k, v in b.items() if k not in ("name", "go_backwards")} == \
                {k: v for k, v in f.items() if k not in ("name", "go_backwards")}:
            del cfg["backward_layer"]
    return {"class_name": kind, "config": cfg}


def keras_to_rnnlab(cfg, where: str = "config.json") -> tuple[dict, list[str]]:
    """rnnlab's model spec for a Keras model config, and the Keras order of its layer names."""
    if not isinstance(cfg, dict) or not isinstance(cfg.get("config"), dict):
        raise KerasFileError(f"{where}: config.json is not a Keras model config")
    kind, mcfg = cfg.get("class_name"), cfg["config"]
    if kind == "Sequential":
        return _sequential_in(mcfg, where)
    if kind in ("Functional", "Model"):
        return _functional_in(mcfg, where)
    raise KerasFileError(f"{where}: Keras model class {kind!r} is not supported by rnnlab "
                         "(only Sequential and functional models)")


def _sequential_in(mcfg: dict, where: str):
    layers = mcfg.get("layers")
    if not isinstance(layers, list):
        raise KerasFileError(f"{where}: the Sequential config has no layer list")
    shape, out = mcfg.get("build_input_shape"), []
    for spec in layers:
        if isinstance(spec, dict) and spec.get("class_name") == "InputLayer":
            c = spec.get("config", {})
            shape = c.get("batch_shape", c.get("batch_input_shape"))
            _check_dtype(c.get("dtype") if c.get("dtype") not in ("int32", "int64") else None,
                         f"{where}: the input")
            continue
        out.append(layer_in(spec, where))
    if shape is None and out:            # tf.keras 2: the first layer's batch_input_shape
        shape = out[0]["config"].get("batch_input_shape")
    spec = {"class_name": "Sequential",
            "config": {"name": mcfg.get("name"), "layers": out, "input_shape": shape,
                       "trainable": mcfg.get("trainable", True)}}
    return spec, [c["config"]["name"] for c in out]


def _history(t, where):
    if isinstance(t, dict) and t.get("class_name") == "__keras_tensor__":
        h = t.get("config", {}).get("keras_history")
        if isinstance(h, list) and len(h) == 3:
            return tuple(h)
    raise KerasFileError(f"{where}: an inbound node refers to {t!r:.80}, not a Keras tensor")


def _refs(value) -> list:
    """Keras's output references: ``[name, node, index]`` or a list of them."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [tuple(value)]
    return [tuple(v) for v in value]


def _functional_in(mcfg: dict, where: str):
    specs = mcfg.get("layers")
    if not isinstance(specs, list):
        raise KerasFileError(f"{where}: the functional config has no layer list")
    inputs, layers, order, masks = {}, [], [], set()
    pending = []           # (layer index, node index, args, kwargs)
    for spec in specs:
        if not isinstance(spec, dict):
            raise KerasFileError(f"{where}: a layer entry is not an object")
        kind, name = spec.get("class_name"), spec.get("name")
        if kind == "InputLayer":
            c = spec.get("config", {})
            _check_dtype(c.get("dtype") if c.get("dtype") not in ("int32", "int64") else None,
                         f"{where}: input {name!r}")
            inputs[name] = {"name": name,
                            "batch_shape": c.get("batch_shape", c.get("batch_input_shape")),
                            "dtype": c.get("dtype")}
            continue
        if kind in _MASK_OPS:    # the masks layers compute: rnnlab's layers compute them again
            masks.add(name)
            continue
        idx = len(layers)
        layers.append(layer_in(spec, where))
        order.append(name)
        for n, node in enumerate(spec.get("inbound_nodes") or []):
            pending.append((idx, name, n, node))
    tensor_of = {(name, 0, 0): ["input", i] for i, name in enumerate(inputs)}
    nodes = []
    while pending:
        progressed, rest = False, []
        for item in pending:
            idx, name, n, node = item
            made = _node_in(layers[idx], idx, node, tensor_of, masks, where)
            if made is None:
                rest.append(item)
                continue
            tensor_of.update({(name, n, k): [len(nodes), k] for k in range(8)})
            nodes.append(made)
            progressed = True
        if not progressed:
            raise KerasFileError(f"{where}: the functional graph refers to layers it does not "
                                 f"hold: {[p[1] for p in rest]}")
        pending = rest
    outs = []
    for ref in _refs(mcfg.get("output_layers", [])):
        if ref not in tensor_of:
            raise KerasFileError(f"{where}: output {ref} is not a tensor of the graph")
        outs.append(tensor_of[ref])
    spec = {"class_name": "Functional",
            "config": {"name": mcfg.get("name"), "inputs": list(inputs.values()),
                       "layers": layers, "nodes": nodes, "outputs": outs,
                       "trainable": mcfg.get("trainable", True)}}
    return spec, order


def _node_in(layer_spec, idx, node, tensor_of, masks, where):
    """rnnlab's node for a Keras inbound node, or None while one of its inputs is not made."""
    if not isinstance(node, dict):
        raise KerasFileError(f"{where}: an inbound node is not an object")
    args, kwargs = node.get("args", []), dict(node.get("kwargs") or {})
    lname = layer_spec["config"].get("name")
    cls = LAYERS.get_class(layer_spec["class_name"])
    multi = len(args) > 1 or (len(args) == 1 and isinstance(args[0], list))
    tensors = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    refs = []
    for t in tensors:
        h = _history(t, where)
        if h not in tensor_of:
            return None
        refs.append(tensor_of[h])
    mask = kwargs.pop("mask", None)
    if mask is not None:
        ms = mask if isinstance(mask, list) else [mask]
        for m in ms:
            if m is not None and _history(m, where)[0] not in masks:
                raise KerasFileError(f"{where}: layer {lname!r} is given an explicit mask, which "
                                     "rnnlab does not read (only the masks layers compute)")
    training = kwargs.pop("training", None)
    options = {k: kwargs.pop(k) for k in cls.call_options if k in kwargs}
    names = []
    for k in cls.call_tensors:
        if kwargs.get(k) is not None:
            h = _history(kwargs.pop(k), where)
            if h not in tensor_of:
                return None
            refs.append(tensor_of[h])
            names.append(k)
        else:
            kwargs.pop(k, None)
    if "initial_state" in kwargs and kwargs["initial_state"] is not None:
        for t in kwargs.pop("initial_state"):
            h = _history(t, where)
            if h not in tensor_of:
                return None
            refs.append(tensor_of[h])
        multi = True
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if kwargs:
        raise KerasFileError(f"{where}: layer {lname!r} is called with {sorted(kwargs)}, which "
                             "rnnlab does not support")
    spec = {"layer": idx, "multi_input": multi, "training": training, "inputs": refs}
    if options:
        spec["options"] = options
    if names:
        spec["tensor_names"] = names
    return spec


# ============================================================================ writing
def _policy(name: str) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}


_OBJECT_MODULES = (("_initializer", "keras.initializers"), ("_regularizer", "keras.regularizers"),
                   ("_constraint", "keras.constraints"))


def _object_out(key: str, value):
    if isinstance(value, dict) and "class_name" in value:
        module = next((m for suffix, m in _OBJECT_MODULES if key.endswith(suffix)), None)
        if module is None:
            raise ValueError(f"option {key}={value!r:.60} cannot be written for Keras")
        kind, cfg = value["class_name"], dict(value.get("config", {}))
        if kind == "Regularizer":
            kind = "L1L2"
        return {"module": module, "class_name": kind, "config": cfg, "registered_name": None}
    return value


#: Keras layers whose constructor takes no ``trainable`` (they hold no weights).
_NO_TRAINABLE = ("SpatialDropout1D",)


def layer_out(spec: dict) -> dict:
    """Keras's layer object for rnnlab's ``{"class_name", "config"}``."""
    kind = spec["class_name"]
    if kind not in SUPPORTED:
        raise ValueError(f"layer {spec['config'].get('name')!r}: rnnlab's {kind} has no Keras "
                         "counterpart that rnnlab can write")
    cfg = {}
    for key, value in spec["config"].items():
        if key in ("batch_input_shape", "input_shape") or (key == "input_dim"
                                                           and kind != "Embedding"):
            continue
        if key == "trainable" and kind in _NO_TRAINABLE:
            if value is not True:
                raise ValueError(f"layer {spec['config'].get('name')!r}: Keras's {kind} cannot "
                                 "be saved frozen")
            continue
        if key in _NESTED_LAYER_KEYS and isinstance(value, dict):
            cfg[key] = layer_out(value)
        elif key == "dtype":
            continue
        else:
            cfg[key] = _object_out(key, value)
    cfg["dtype"] = _policy(spec["config"].get("dtype") or "float32")
    return {"module": "keras.layers", "class_name": kind, "config": cfg,
            "registered_name": None}


def _keras_tensor(shape, dtype, history) -> dict:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(shape), "dtype": dtype or "float32",
                       "keras_history": list(history)}}


def rnnlab_to_keras(model) -> dict:
    """Keras's config.json content for ``model`` (Sequential or functional)."""
    kind = type(model).__name__
    spec = S.serialize_model(model)
    mcfg = spec["config"]
    if spec["class_name"] == "Sequential":
        shape = mcfg.get("input_shape") or list(model.layers[0].input_spec_shape)
        first = {"module": "keras.layers", "class_name": "InputLayer",
                 "config": {"batch_shape": list(shape), "dtype": _input_dtype(model),
                            "sparse": False, "name": "input_layer"},
                 "registered_name": None}
        layers = [first] + [layer_out(s) for s in mcfg["layers"]]
        cfg = {"name": mcfg["name"], "trainable": mcfg["trainable"], "dtype": _policy("float32"),
               "layers": layers, "build_input_shape": list(shape)}
        return {"module": "keras", "class_name": "Sequential", "config": cfg,
                "registered_name": None}
    if spec["class_name"] != "Functional":
        raise ValueError(f"a {kind} model cannot be written as a Keras file")
    return _functional_out(model, mcfg)


def _input_dtype(model) -> str:
    first = model.layers[0]
    return "int32" if type(first).__name__ == "Embedding" else "float32"


def _functional_out(model, mcfg: dict) -> dict:
    layer_specs = mcfg["layers"]
    names = [s["config"]["name"] for s in layer_specs]
    layers_out = []
    for inp in mcfg["inputs"]:
        layers_out.append({"module": "keras.layers", "class_name": "InputLayer",
                           "config": {"batch_shape": inp["batch_shape"],
                                      "dtype": inp["dtype"] or "float32", "sparse": False,
                                      "name": inp["name"]},
                           "registered_name": None, "name": inp["name"], "inbound_nodes": []})
    node_count = [0] * len(layer_specs)
    history = []                 # per rnnlab node: (layer name, Keras node index)
    inbound = [[] for _ in layer_specs]

    def tensor(ref):
        if ref[0] == "input":
            inp = mcfg["inputs"][ref[1]]
            return _keras_tensor(inp["batch_shape"], inp["dtype"], [inp["name"], 0, 0])
        lname, n = history[ref[0]]
        t = model._nodes[ref[0]].outputs[ref[1]]
        return _keras_tensor(t.shape, "float32", [lname, n, ref[1]])

    for node in mcfg["nodes"]:
        li = node["layer"]
        kind = layer_specs[li]["class_name"]
        n_named = len(node.get("tensor_names", []))
        refs = node["inputs"][:len(node["inputs"]) - n_named]
        ts = [tensor(r) for r in refs]
        kwargs = {}
        for k, r in zip(node.get("tensor_names", []), node["inputs"][len(refs):]):
            kwargs[k] = tensor(r)
        kwargs.update(node.get("options", {}))
        if node.get("training") is not None:
            kwargs["training"] = node["training"]
        if kind in _RECURRENT and node["multi_input"] and len(ts) > 1:
            args, kwargs["initial_state"] = [ts[0]], ts[1:]
        elif kind == "MultiHeadAttention":
            args = ts
        else:
            args = [ts] if node["multi_input"] else ts
        inbound[li].append({"args": args, "kwargs": kwargs})
        history.append((names[li], node_count[li]))
        node_count[li] += 1
    for spec, nodes in zip(layer_specs, inbound):
        entry = layer_out(spec)
        entry.update(name=spec["config"]["name"], inbound_nodes=nodes)
        layers_out.append(entry)

    def out_ref(ref):
        if ref[0] == "input":
            return [mcfg["inputs"][ref[1]]["name"], 0, 0]
        lname, n = history[ref[0]]
        return [lname, n, ref[1]]

    ins = [[i["name"], 0, 0] for i in mcfg["inputs"]]
    outs = [out_ref(r) for r in mcfg["outputs"]]
    cfg = {"name": mcfg["name"], "trainable": mcfg.get("trainable", True),
           "layers": layers_out, "input_layers": ins[0] if len(ins) == 1 else ins,
           "output_layers": outs[0] if len(outs) == 1 else outs}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": cfg,
            "registered_name": "Functional"}


def h5_bytes(model, groups, metadata: dict | None = None) -> bytes:
    """The HDF5 weights file of ``model`` (Keras 3's ``model.weights.h5`` layout); ``metadata``
    (JSON values) goes in the root attribute ``rnnlab_metadata``, which Keras ignores."""
    h5py = require_h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        if metadata:
            f.attrs["rnnlab_metadata"] = json.dumps(metadata, allow_nan=False)
        f.create_group("layers")
        for group, layer, keys in groups:
            g = f.require_group(group)
            g.attrs["name"] = layer.name
            for i, key in enumerate(keys):
                g.create_dataset(str(i), data=np.asarray(layer.params[key]))
        f.create_group("vars").attrs["name"] = model.name
    return buf.getvalue()


def keras_bytes(model, metadata: dict | None = None) -> bytes:
    """A Keras 3 ``.keras`` archive of ``model`` (architecture and weights, no optimizer);
    ``metadata`` (JSON values, e.g. ModelCheckpoint's record) joins ``metadata.json``."""
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built yet: call it on data, fit it, or give "
                         "the first layer an input_shape before saving")
    cfg = rnnlab_to_keras(model)
    cfg["compile_config"] = None
    meta = {**(metadata or {}), "keras_version": KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "saved_by": "rnnlab"}
    members = {"metadata.json": json.dumps(meta, allow_nan=False).encode(),
               "config.json": json.dumps(cfg).encode(),
               "model.weights.h5": h5_bytes(model, model_groups(model))}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def save_keras(model, filepath, metadata: dict | None = None) -> None:
    """Write :func:`keras_bytes` to ``filepath`` atomically."""
    _io.write_bytes(filepath, keras_bytes(model, metadata))


# ============================================================================ weights files
def save_weights_h5(model, filepath, metadata: dict | None = None) -> None:
    """Keras 3's ``.weights.h5``: the weights of :func:`h5_bytes` alone."""
    _io.write_bytes(filepath, h5_bytes(model, model_groups(model), metadata))


def load_weights_h5(model, filepath) -> None:
    """Weights from a Keras 3 ``.weights.h5`` file into ``model`` (layers matched as Keras does,
    by class and order); every weight is read and checked before any is set."""
    where = source_name(filepath)
    groups = model_groups(model)
    shapes = {(layer.name, k): layer.params[k].shape for _, layer, keys in groups for k in keys}
    if isinstance(filepath, (bytes, bytearray, memoryview)):
        data = bytes(filepath)
    else:
        with open(filepath, "rb") as fh:
            limit = _h5_limit(sum(math.prod(s) for s in shapes.values()), len(groups) + 4)
            data = fh.read(limit + 1)
            if len(data) > limit:
                raise KerasFileError(f"{where} is larger than the {limit:,} bytes the model's "
                                     "weights may take")
    weights = read_h5_groups(data, [(g, layer.name, keys) for g, layer, keys in groups], shapes,
                             where)
    assign(model, weights)


__all__ = ["KERAS_VERSION", "KerasFileError", "SUPPORTED", "assign", "keras_bytes",
           "keras_to_rnnlab", "load_keras", "load_weights_h5", "model_groups", "rebuild",
           "require_h5py", "rnnlab_to_keras", "save_keras", "save_weights_h5", "source_name"]
