"""Model files: a zip holding ``config.json`` (architecture, compile settings, format version),
``weights.npz`` and ``optimizer.npz`` (read with allow_pickle=False), and ``manifest.json`` with
the SHA-256 of each member so that a truncated or modified file is refused.  Never pickle.

This module is the file format only: the archive and atomic writing are :mod:`rnnlab.io`'s, the
architecture and compile settings :mod:`rnnlab.models.serialization`'s.
"""
from __future__ import annotations

import io
import json

import numpy as np

from rnnlab import io as _io
from rnnlab._version import __version__
from rnnlab.models import serialization as S

FORMAT = "rnnlab-model"
FORMAT_VERSION = 1


class ModelFileError(_io.ArchiveError):
    """A model file that is not a valid rnnlab model (truncated, modified or too new)."""


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _load_npz(data: bytes, what: str) -> dict:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        raise ModelFileError(f"{what} could not be read safely: {exc}") from None


def _weights_dict(model) -> dict:
    return {f"{layer.name}/{k}": v for layer in model._unique_layers()
            for k, v in layer.params.items()}


def _read(source, what: str) -> dict[str, bytes]:
    """:func:`rnnlab.io.read_archive`, its errors as ModelFileError."""
    try:
        return _io.read_archive(source, what)
    except ModelFileError:
        raise
    except _io.ArchiveError as exc:
        raise ModelFileError(str(exc)) from None


# ------------------------------------------------------------------------------ whole models
def model_bytes(model, metadata: dict | None = None) -> bytes:
    """The model file's content (config, weights, optimizer state, manifest) as bytes.

    ``metadata`` (JSON values, e.g. ModelCheckpoint's ``{"checkpoint": {...}}``) is kept in
    config.json under "metadata"; loading the model ignores it."""
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built yet: call it on data, fit it, or give "
                         "the first layer an input_shape before saving")
    cfg = {"format": FORMAT, "format_version": FORMAT_VERSION, "rnnlab_version": __version__,
           **S.serialize_model(model), "compile": S.compile_config(model)}
    if metadata:
        cfg["metadata"] = metadata
    members = {"weights.npz": _npz_bytes(_weights_dict(model))}
    if model.optimizer is not None:
        state = {f"{key}/{i}": s for key, slots in model.optimizer.state.items()
                 for i, s in enumerate(slots)}
        members["optimizer.npz"] = _npz_bytes(state)
    members["config.json"] = json.dumps(cfg, indent=1).encode()
    return _io.archive_bytes(members)


def save_model(model, filepath, metadata: dict | None = None) -> None:
    """Write :func:`model_bytes` to ``filepath`` atomically (never a half-written file)."""
    _io.write_bytes(filepath, model_bytes(model, metadata))


def load_model(filepath, compile=True, custom_objects=None):  # noqa: A002 - Keras's names
    """A model from a file written by :func:`save_model` (or from that file's bytes).

    ``custom_objects`` maps names to classes that are not registered in this process (Keras's
    argument); a registered class (``@rnnlab.registry.register_serializable()``) needs none."""
    members = _read(filepath, "model file")
    if isinstance(filepath, (bytes, bytearray)):
        filepath = "<bytes>"
    if "config.json" not in members:
        raise ModelFileError(f"{filepath!r} is not an rnnlab model file (no config.json)")
    try:
        cfg = json.loads(members["config.json"])
    except ValueError:
        raise ModelFileError(f"{filepath!r}: config.json is not valid JSON") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise ModelFileError(f"{filepath!r} is not an rnnlab model file")
    version = cfg.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{filepath!r} was written in model format version {version}, newer "
                             f"than this rnnlab understands ({FORMAT_VERSION}); upgrade rnnlab")
    name = cfg.get("class_name")
    try:
        S.MODELS.get_class(name if isinstance(name, str) else "", custom_objects)
    except ValueError:
        raise ModelFileError(f"{filepath!r}: unknown model class {name!r}") from None
    try:
        model = S.deserialize_model(cfg, custom_objects)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{filepath!r}: the model cannot be rebuilt from its config: "
                             f"{exc}") from None
    _assign_weights(model, members, filepath)
    comp = cfg.get("compile")
    if compile and comp:
        S.compile_from_config(model, comp, custom_objects)
        state = _load_npz(members.get("optimizer.npz", _npz_bytes({})), "optimizer.npz")
        slots: dict[str, list] = {}
        for key in sorted(state, key=lambda k: (k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1]))):
            slots.setdefault(key.rsplit("/", 1)[0], []).append(state[key])
        model.optimizer.state = slots
    return model


# ------------------------------------------------------------------------------ weights only
def save_weights(model, filepath, metadata: dict | None = None) -> None:
    """Weights only, as one .npz keyed ``layer/param`` (plus a manifest inside a zip);
    ``metadata`` (JSON values) goes in a ``metadata.json`` member, which loading ignores."""
    members = {"weights.npz": _npz_bytes(_weights_dict(model))}
    if metadata:
        members["metadata.json"] = json.dumps(metadata, allow_nan=False).encode()
    _io.write_archive(filepath, members)


def load_weights(model, filepath) -> None:
    """Weights written by :func:`save_weights` or :func:`save_model`, checked before any is set."""
    _assign_weights(model, _read(filepath, "weights file"), filepath)


def _assign_weights(model, members, filepath) -> None:
    if "weights.npz" not in members:
        raise ModelFileError(f"{filepath!r} holds no weights.npz")
    weights = _load_npz(members["weights.npz"], "weights.npz")
    expected = _weights_dict(model)
    if set(weights) != set(expected):
        raise ModelFileError(f"{filepath!r}: weights {sorted(weights)} do not match the model's "
                             f"{sorted(expected)}")
    for key, arr in expected.items():
        if weights[key].shape != arr.shape:
            raise ModelFileError(f"{filepath!r}: weight {key} has shape {weights[key].shape}, "
                                 f"expected {arr.shape}")
    for key, arr in expected.items():
        arr[...] = weights[key]


__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileError", "load_model", "load_weights",
           "model_bytes", "save_model", "save_weights"]
