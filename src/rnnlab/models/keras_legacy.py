"""tf.keras 2 HDF5 files read into rnnlab: full models (``load_model("model.h5")``) and weights.

tf.keras 2 wrote (legacy ``hdf5_format``): a root attribute ``model_config`` (JSON of
``{"class_name", "config"}``: layers with ``batch_input_shape``, a functional model's inbound
nodes as ``[[layer, node, tensor, kwargs], ...]``) and a group ``model_weights`` whose attribute
``layer_names`` lists the layers, each layer a group whose attribute ``weight_names`` (e.g.
``lstm/lstm_cell/kernel:0``) names its datasets in the layer's weight order (trainable first).
The config is rewritten in Keras 3's form and read by :mod:`rnnlab.models.keras_format`; the
weights are matched by layer name, each shape checked before it is read, and the model is
returned only with all of them in place.  h5py is imported only when a file is read.
"""
from __future__ import annotations

import io

import numpy as np

from rnnlab import io as _io
from rnnlab.models import keras_format as K

#: The first bytes of an HDF5 file (no user block).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(filepath) -> bool:
    """Whether ``filepath`` (a path or bytes) starts as an HDF5 file does."""
    if isinstance(filepath, (bytes, bytearray, memoryview)):
        return bytes(filepath[:8]) == HDF5_SIGNATURE
    try:
        with open(filepath, "rb") as fh:
            return fh.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


def _open_h5(filepath, where: str):
    h5py = K.require_h5py()
    try:
        source = io.BytesIO(bytes(filepath)) if isinstance(
            filepath, (bytes, bytearray, memoryview)) else filepath
        return h5py.File(source, "r")
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise K.KerasFileError(f"{where} is not a readable HDF5 file (truncated or corrupted?): "
                             f"{type(exc).__name__}: {exc}") from None


def _h5_strings(group, name: str, where: str) -> list[str]:
    """A string-list attribute as tf.keras 2 writes it (split into ``name0``, ``name1``... when
    large)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, i = [], 0
        while f"{name}{i}" in group.attrs:
            values.extend(group.attrs[f"{name}{i}"])
            i += 1
        if not i:
            raise K.KerasFileError(f"{where}: group {group.name!r} has no {name!r} attribute "
                                 "(not a tf.keras 2 HDF5 file?)")
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _legacy_node(node):
    """A tf.keras 2 inbound node (``[[layer, node, tensor, kwargs], ...]``) in Keras 3's form."""
    def tensor(ref):
        return {"class_name": "__keras_tensor__", "config": {"keras_history": list(ref[:3])}}

    def value(v):
        if isinstance(v, list) and len(v) >= 3 and isinstance(v[0], str) \
                and isinstance(v[1], int) and isinstance(v[2], int):
            return tensor(v)
        if isinstance(v, list) and v and all(isinstance(e, list) for e in v):
            return [value(e) for e in v]
        return v

    if not isinstance(node, list) or not node:
        raise K.KerasFileError(f"a tf.keras 2 inbound node must be a list of tensor references, "
                             f"got {node!r:.80}")
    kwargs = {}
    for ref in node:
        if len(ref) > 3 and isinstance(ref[3], dict):
            kwargs.update({k: value(v) for k, v in ref[3].items()})
    tensors = [tensor(ref) for ref in node]
    return {"args": tensors if len(tensors) == 1 else [tensors], "kwargs": kwargs}


def legacy_to_keras3(cfg: dict) -> dict:
    """A tf.keras 2 ``model_config`` in the form of Keras 3's config (inbound nodes rewritten;
    layer configs are read the same way)."""
    if not isinstance(cfg, dict) or not isinstance(cfg.get("config"), dict):
        raise K.KerasFileError("model_config is not a Keras model config")
    if cfg.get("class_name") in ("Functional", "Model"):
        mcfg = dict(cfg["config"])
        layers = []
        for spec in mcfg.get("layers") or []:
            spec = dict(spec)
            spec["inbound_nodes"] = [_legacy_node(n) for n in spec.get("inbound_nodes") or []]
            layers.append(spec)
        mcfg["layers"] = layers
        return {"class_name": "Functional", "config": mcfg}
    return cfg


def _legacy_weights(group, model, where: str) -> dict:
    """``{(layer name, key): array}`` from a tf.keras 2 weights group (``layer_names``; per layer
    a group whose ``weight_names`` list its datasets in the layer's weight order), matched by
    layer name, each shape checked before it is read."""
    h5py = K.require_h5py()
    names = set(_h5_strings(group, "layer_names", where))
    out = {}
    for layer in model.layers:
        keys = list(layer.params)
        if not keys:
            continue
        if layer.name not in names or layer.name not in group:
            raise K.KerasFileError(f"{where} holds no weights for layer {layer.name!r}")
        g = group[layer.name]
        wnames = _h5_strings(g, "weight_names", where)
        if len(wnames) != len(keys):
            raise K.KerasFileError(f"{where}: layer {layer.name!r} has {len(wnames)} weights "
                                 f"({', '.join(wnames)}), expected {len(keys)} "
                                 f"({', '.join(keys)})")
        for wname, key in zip(wnames, keys):
            ds = g.get(wname)
            if not isinstance(ds, h5py.Dataset):
                raise K.KerasFileError(f"{where}: weight {wname!r} of layer {layer.name!r} is "
                                     "missing")
            want = tuple(layer.params[key].shape)
            if ds.dtype.kind != "f" or tuple(ds.shape) != want:
                raise K.KerasFileError(f"{where}: weight {wname!r} of layer {layer.name!r} has "
                                     f"shape {tuple(ds.shape)} ({ds.dtype}), expected {want} "
                                     "floats")
            try:
                out[(layer.name, key)] = np.asarray(ds[()])
            except Exception as exc:
                raise K.KerasFileError(f"{where}: weight {wname!r} of layer {layer.name!r} cannot "
                                     f"be read: {type(exc).__name__}: {exc}") from None
    return out


def load_h5(filepath, compile=True, custom_objects=None):  # noqa: A002 - Keras's names
    """A new rnnlab model from a tf.keras 2 full-model HDF5 file (``model_config`` attribute and
    ``model_weights`` group; the training configuration is not read)."""
    where = K.source_name(filepath)
    with _open_h5(filepath, where) as f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise K.KerasFileError(f"{where} holds no model_config (a weights-only file? read it "
                                 "with model.load_weights)")
        if isinstance(raw, bytes):
            raw = raw.decode("utf8")
        if len(raw) > K.MAX_CONFIG_BYTES:
            raise K.KerasFileError(f"{where}: model_config is larger than {K.MAX_CONFIG_BYTES:,} "
                                 "bytes")
        try:
            cfg = _io.load_json(raw, "model_config", K.MAX_CONFIG_DEPTH)
        except ValueError as exc:
            raise K.KerasFileError(f"{where}: {exc}") from None
        spec, _ = K.keras_to_rnnlab(legacy_to_keras3(cfg), where)
        shaped = K.rebuild(spec, custom_objects, "shapes", where)
        if "model_weights" not in f:
            raise K.KerasFileError(f"{where} holds no model_weights group")
        weights = _legacy_weights(f["model_weights"], shaped, where)
    model = K.rebuild(spec, custom_objects, "zeros", where)
    K.assign(model, weights)
    return model


def load_weights_legacy_h5(model, filepath) -> None:
    """Weights from a tf.keras 2 HDF5 file (weights-only, or a full model's ``model_weights``),
    matched by layer name; every weight is read and checked before any is set."""
    where = K.source_name(filepath)
    with _open_h5(filepath, where) as f:
        group = f["model_weights"] if "model_weights" in f else f
        weights = _legacy_weights(group, model, where)
    K.assign(model, weights)


__all__ = ["HDF5_SIGNATURE", "is_hdf5", "legacy_to_keras3", "load_h5", "load_weights_legacy_h5"]
