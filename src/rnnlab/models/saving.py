"""Model files: a zip holding ``config.json`` (architecture, compile settings, format version),
``weights.npz`` and ``optimizer.npz`` (read with allow_pickle=False), and ``manifest.json`` with
the SHA-256 of each member so that a truncated or modified file is refused.  Never pickle.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "rnnlab-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that is not a valid rnnlab model (truncated, modified or too new)."""


def _layer_classes():
    import rnnlab.layers as L
    from rnnlab.layers.base import Layer
    return {name: obj for name, obj in vars(L).items()
            if isinstance(obj, type) and issubclass(obj, Layer)}


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _weights_dict(model) -> dict:
    return {f"{layer.name}/{k}": v for layer in model._unique_layers()
            for k, v in layer.params.items()}


def archive_bytes(members: dict[str, bytes]) -> bytes:
    """A zip of ``members`` plus ``manifest.json`` holding each member's SHA-256."""
    members = dict(members)
    members["manifest.json"] = json.dumps({n: _sha(d) for n, d in members.items()}).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def write_atomic(filepath, data: bytes) -> None:
    """Write ``data`` through a temp file in the same folder and a rename: never a half file."""
    filepath = os.fspath(filepath)
    folder = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot write {filepath!r}: folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".rnnlab-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give a normal file's permissions
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_model(model, filepath) -> None:
    write_atomic(filepath, model_bytes(model))


def model_bytes(model) -> bytes:
    """The model file's content (config, weights, optimizer state, manifest) as bytes."""
    from rnnlab import __version__
    from rnnlab import optimizers as _opt
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built yet: call it on data, fit it, or give "
                         "the first layer an input_shape before saving")
    cfg = {"format": FORMAT, "format_version": FORMAT_VERSION, "rnnlab_version": __version__,
           "class_name": type(model).__name__, "config": model.get_config(), "compile": None}
    members = {"weights.npz": _npz_bytes(_weights_dict(model))}
    if model.optimizer is not None:
        opt = model.optimizer
        cfg["compile"] = {**model._compile_config, "optimizer": _opt.serialize(opt),
                          "iterations": opt.iterations}
        state = {f"{key}/{i}": s for key, slots in opt.state.items() for i, s in enumerate(slots)}
        members["optimizer.npz"] = _npz_bytes(state)
    members["config.json"] = json.dumps(cfg, indent=1).encode()
    return archive_bytes(members)


def read_archive(source, what="model file") -> dict[str, bytes]:
    """The members of an archive written by :func:`archive_bytes` (a path, or the bytes
    themselves), each checked against the manifest; ModelFileError if anything is off."""
    if isinstance(source, (bytes, bytearray)):
        filepath, opened = "<bytes>", io.BytesIO(source)
    else:
        filepath = opened = os.fspath(source)
        if not os.path.exists(filepath):
            raise FileNotFoundError(f"No {what} at {filepath!r}")
    try:
        with zipfile.ZipFile(opened) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
    except (zipfile.BadZipFile, EOFError, OSError, zlib_error()) as exc:
        raise ModelFileError(f"{filepath!r} is not a readable rnnlab {what} (truncated or "
                             f"corrupted?): {exc}") from None
    if "manifest.json" not in members:
        raise ModelFileError(f"{filepath!r} is not an rnnlab {what} (no manifest)")
    try:
        manifest = json.loads(members.pop("manifest.json"))
    except ValueError:
        raise ModelFileError(f"{filepath!r}: manifest.json is not valid JSON") from None
    if set(manifest) != set(members):
        raise ModelFileError(f"{filepath!r}: members {sorted(members)} do not match the manifest "
                             f"{sorted(manifest)} (file modified?)")
    for name, digest in manifest.items():
        if _sha(members[name]) != digest:
            raise ModelFileError(f"{filepath!r}: {name} fails its SHA-256 check (file modified "
                                 "or corrupted)")
    return members


def zlib_error():
    import zlib
    return zlib.error


def _load_npz(data: bytes, what: str) -> dict:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        raise ModelFileError(f"{what} could not be read safely: {exc}") from None


def load_model(filepath, compile=True):  # noqa: A002
    """A model from a file written by :func:`save_model` (or from that file's bytes)."""
    from rnnlab import optimizers as _opt
    from rnnlab.models.functional import Functional
    from rnnlab.models.sequential import Sequential

    members = read_archive(filepath)
    if isinstance(filepath, (bytes, bytearray)):
        filepath = "<bytes>"
    if "config.json" not in members:
        raise ModelFileError(f"{filepath!r} is not an rnnlab model file (no config.json)")
    try:
        cfg = json.loads(members["config.json"])
    except ValueError:
        raise ModelFileError(f"{filepath!r}: config.json is not valid JSON") from None
    if cfg.get("format") != FORMAT:
        raise ModelFileError(f"{filepath!r} is not an rnnlab model file")
    version = cfg.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{filepath!r} was written in model format version {version}, newer "
                             f"than this rnnlab understands ({FORMAT_VERSION}); upgrade rnnlab")
    classes = {"Sequential": Sequential, "Functional": Functional}
    if cfg.get("class_name") not in classes:
        raise ModelFileError(f"{filepath!r}: unknown model class {cfg.get('class_name')!r}")
    model = classes[cfg["class_name"]].from_config(cfg["config"], _layer_classes())
    _assign_weights(model, members, filepath)
    comp = cfg.get("compile")
    if compile and comp:
        from rnnlab import losses as _losses
        losses = [_losses.deserialize(spec) for spec in comp["loss"]]
        model.compile(optimizer=_opt.deserialize(comp["optimizer"]),
                      loss=losses if len(losses) > 1 else losses[0], metrics=comp["metrics"],
                      loss_weights=comp["loss_weights"])
        opt = model.optimizer
        opt.iterations = int(comp["iterations"])
        state = _load_npz(members.get("optimizer.npz", _npz_bytes({})), "optimizer.npz")
        slots: dict[str, list] = {}
        for key in sorted(state, key=lambda k: (k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1]))):
            slots.setdefault(key.rsplit("/", 1)[0], []).append(state[key])
        opt.state = slots
    return model


def save_weights(model, filepath) -> None:
    """Weights only, as one .npz keyed ``layer/param`` (plus a manifest inside a zip)."""
    write_atomic(filepath, archive_bytes({"weights.npz": _npz_bytes(_weights_dict(model))}))


def load_weights(model, filepath) -> None:
    """Weights written by :func:`save_weights` or :func:`save_model`, checked before any is set."""
    _assign_weights(model, read_archive(filepath, "weights file"), filepath)


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
