"""Model files: a zip holding ``config.json`` (architecture, compile settings, format version),
``weights.npz`` and ``optimizer.npz`` (NumPy arrays, never pickles), and ``manifest.json`` with
the SHA-256 of each member.  A model saved with ``include_states=True`` also holds ``states.npz``,
the carried states of its stateful recurrent layers, which loading puts back (Keras 3 saves no
states: by default a loaded stateful model starts from zeros, as there).

What the manifest does and does not protect against: it detects corruption and truncation (a
flipped bit, a cut-off download, a member edited without updating the manifest), not a consistent
tamper: anyone can rewrite the members and the manifest together, as it holds no secret.  So a
model file from an untrusted source is treated as hostile input, and loading is built so that such
a file can at worst be refused, cheaply:

* nothing is ever unpickled (arrays are read from their ``.npy`` headers and raw bytes);
* each member's size is checked before it is inflated, against a limit derived from the config
  (``config.json``: :data:`MAX_CONFIG_BYTES`; ``weights.npz`` and ``optimizer.npz``: the bytes of
  the arrays the config implies, plus the format's overhead), and inflating stops at that limit
  whatever the zip header says;
* the config is JSON nested at most :data:`MAX_CONFIG_DEPTH` deep; the weight shapes it implies
  are found without allocating them (:func:`rnnlab.layers.base.weight_mode`), each at most
  :data:`rnnlab.layers.base.MAX_WEIGHT_ELEMENTS` elements, and compared with the shapes declared
  in the ``.npy`` headers before any array is read or any weight is allocated;
* every failure while loading is one :class:`ModelFileError` (a ValueError) whose message says what
  is wrong; only a missing file is a FileNotFoundError.

This module is the file format only: the archive and atomic writing are :mod:`rnnlab.io`'s, the
architecture and compile settings :mod:`rnnlab.models.serialization`'s.
"""
from __future__ import annotations

import io
import json
import math
import warnings
import zipfile

import numpy as np

from rnnlab import io as _io
from rnnlab._version import __version__
from rnnlab.layers.base import weight_mode
from rnnlab.models import keras_format as K
from rnnlab.models import keras_legacy
from rnnlab.models import serialization as S

FORMAT = "rnnlab-model"
FORMAT_VERSION = 1
#: The format versions this rnnlab reads.
SUPPORTED_VERSIONS = (1,)
#: The most ``config.json`` may inflate to.
MAX_CONFIG_BYTES = 16 << 20
#: How deeply arrays and objects may nest in ``config.json`` (a real config nests about 10 deep).
MAX_CONFIG_DEPTH = 64
_MEMBERS = ("config.json", "weights.npz", "optimizer.npz", "states.npz")
_NPY_HEADER = 10_000          # the longest .npy header read (NumPy's own default limit)
_NPZ_ENTRY = 512              # zip headers of one .npz entry, besides its name (twice)
_ITEMSIZE = 8                 # float64, the widest element a weight file may store


class ModelFileError(_io.ArchiveError):
    """A model file that is not a valid rnnlab model (truncated, modified, too new, or holding
    something this rnnlab cannot rebuild): the message says what is wrong."""


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _weights_dict(model) -> dict:
    return {f"{layer.name}/{k}": v for layer in model._unique_layers()
            for k, v in layer.params.items()}


def _states_dict(model) -> dict:
    """The carried states of the stateful layers, keyed ``<k>/<layer name>/<state index>`` (k:
    the layer's place among the stateful layers, nested ones included)."""
    return {f"{k}/{layer.name}/{j}": s
            for k, layer in enumerate(model._stateful_rnns()) if layer.states is not None
            for j, s in enumerate(layer.states)}


def _where(source) -> str:
    return "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else repr(str(source))


# ------------------------------------------------------------------------------ .npz members
def _npz_limit(shapes) -> int:
    """The most an .npz of arrays of ``shapes`` (name -> shape) may take: each array's elements at
    the widest dtype plus its header and zip entries."""
    return 1024 + sum(math.prod(shape) * _ITEMSIZE + _NPY_HEADER + _NPZ_ENTRY + 2 * len(name)
                      for name, shape in shapes.items())


def _read_npy(fh, name: str, shape: tuple, what: str) -> np.ndarray:
    """One array from an open .npy stream, its header checked against ``shape`` (and a float dtype)
    before its data is read."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        found, fortran, dtype = np.lib.format.read_array_header_1_0(fh, _NPY_HEADER)
    elif version == (2, 0):
        found, fortran, dtype = np.lib.format.read_array_header_2_0(fh, _NPY_HEADER)
    else:
        raise ModelFileError(f"{what}: array {name} has .npy format version {version}, expected "
                             "1.0 or 2.0")
    if dtype.kind != "f" or dtype.itemsize > _ITEMSIZE:
        raise ModelFileError(f"{what}: array {name} holds {dtype} values, expected float16, "
                             "float32 or float64")
    if tuple(found) != tuple(shape):
        raise ModelFileError(f"{what}: array {name} has shape {tuple(found)}, expected "
                             f"{tuple(shape)}")
    nbytes = math.prod(shape) * dtype.itemsize
    raw = fh.read(nbytes)
    if len(raw) != nbytes or fh.read(1):
        raise ModelFileError(f"{what}: array {name} holds {len(raw):,}+ bytes of data, its header "
                             f"says {nbytes:,}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _read_npz(data: bytes, shapes: dict, what: str, required: bool = True) -> dict:
    """The arrays of an .npz member whose names must be among ``shapes`` (all of them if
    ``required``), each shape checked from its header before its data is read."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:
        raise ModelFileError(f"{what} is not a readable .npz: {type(exc).__name__}: {exc}") \
            from None
    out = {}
    with zf:
        infos = zf.infolist()
        names = [i.filename[:-4] if i.filename.endswith(".npy") else i.filename for i in infos]
        unknown = sorted(set(names) - set(shapes))
        if unknown or len(set(names)) != len(names):
            raise ModelFileError(f"{what} holds arrays {sorted(names)}, expected "
                                 f"{sorted(shapes)}")
        if required and set(names) != set(shapes):
            raise ModelFileError(f"{what} lacks arrays {sorted(set(shapes) - set(names))}")
        for info, name in zip(infos, names):
            shape = shapes[name]
            limit = _NPY_HEADER + math.prod(shape) * _ITEMSIZE
            if info.file_size > limit:
                raise ModelFileError(f"{what}: array {name} would inflate to {info.file_size:,} "
                                     f"bytes, more than the {limit:,} of a {shape} array")
            try:
                with zf.open(info) as fh:
                    out[name] = _read_npy(fh, name, shape, what)
            except ModelFileError:
                raise
            except Exception as exc:
                raise ModelFileError(f"{what}: array {name} cannot be read: "
                                     f"{type(exc).__name__}: {exc}") from None
    return out


# ------------------------------------------------------------------------------ whole models
def model_bytes(model, metadata: dict | None = None, include_states: bool = False) -> bytes:
    """The model file's content (config, weights, optimizer state, manifest) as bytes; with
    ``include_states`` the stateful layers' carried states too.

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
    if not isinstance(include_states, bool):
        raise TypeError(f"include_states must be True or False, got {include_states!r}")
    if include_states:
        states = _states_dict(model)
        if not states:
            raise ValueError(f"Model {model.name!r} has no stateful layer: include_states=True "
                             "has no states to save")
        members["states.npz"] = _npz_bytes(states)
    members["config.json"] = json.dumps(cfg, indent=1).encode()
    return _io.archive_bytes(members)


def _suffix(filepath) -> str:
    """``.keras`` / ``.weights.h5`` when ``filepath`` names a Keras 3 file, else ""."""
    if isinstance(filepath, (bytes, bytearray, memoryview)):
        return ""
    name = str(filepath).lower()
    return next((s for s in (".keras", ".weights.h5") if name.endswith(s)), "")


def save_model(model, filepath, metadata: dict | None = None,
               include_states: bool = False) -> None:
    """Write :func:`model_bytes` to ``filepath`` atomically (never a half-written file); a name
    ending in ``.keras`` gets a Keras 3 archive instead (:mod:`rnnlab.models.keras_format`),
    which holds no carried states."""
    if _suffix(filepath) == ".keras":
        if include_states:
            raise ValueError(f"{str(filepath)!r}: a Keras .keras archive holds no stateful "
                             "layers' states; save with rnnlab's format (another suffix) to "
                             "keep them")
        K.save_keras(model, filepath, metadata)
        return
    _io.write_bytes(filepath, model_bytes(model, metadata, include_states))


def load_model(filepath, compile=True, custom_objects=None):  # noqa: A002 - Keras's names
    """A model from a file written by :func:`save_model` (or from that file's bytes).

    ``custom_objects`` maps names to classes that are not registered in this process (Keras's
    argument); a registered class (``@rnnlab.registry.register_serializable()``) needs none.
    Any file that is not a valid model gives :class:`ModelFileError` (see the module's notes).
    A name ending in ``.keras`` is read as a Keras 3 archive
    (:func:`rnnlab.models.keras_format.load_keras`), an HDF5 file as tf.keras 2's full-model
    ``.h5`` (:func:`rnnlab.models.keras_legacy.load_h5`)."""
    where = _where(filepath)
    if _suffix(filepath) == ".keras" or keras_legacy.is_hdf5(filepath):
        try:
            if keras_legacy.is_hdf5(filepath):                   # tf.keras 2's full-model .h5
                return keras_legacy.load_h5(filepath, compile, custom_objects)
            return K.load_keras(filepath, compile, custom_objects)
        except K.KerasFileError as exc:
            raise ModelFileError(str(exc)) from None
    try:
        with _io.ArchiveReader(filepath, "model file") as archive:
            return _load(archive, where, compile, custom_objects)
    except (ModelFileError, FileNotFoundError):
        raise
    except _io.ArchiveError as exc:
        raise ModelFileError(str(exc)) from None
    except Exception as exc:   # a config that passed the checks yet breaks a constructor
        raise ModelFileError(f"{where}: the model cannot be rebuilt from its config: "
                             f"{type(exc).__name__}: {exc}") from exc


def _read_config(archive, where: str) -> dict:
    unknown = sorted(set(archive.names) - set(_MEMBERS))
    if unknown:
        raise ModelFileError(f"{where} holds unexpected members {unknown} (expected "
                             f"{list(_MEMBERS)})")
    if "config.json" not in archive.names:
        raise ModelFileError(f"{where} is not an rnnlab model file (no config.json)")
    try:
        cfg = _io.load_json(archive.read("config.json", MAX_CONFIG_BYTES), "config.json",
                            MAX_CONFIG_DEPTH)
    except ValueError as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise ModelFileError(f"{where} is not an rnnlab model file (config.json's format is not "
                             f"{FORMAT!r})")
    version = cfg.get("format_version")
    if type(version) is int and version > max(SUPPORTED_VERSIONS):
        raise ModelFileError(f"{where} was written in model format version {version}, newer "
                             f"than this rnnlab understands ({FORMAT_VERSION}); upgrade rnnlab")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise ModelFileError(f"{where}: format_version must be one of {list(SUPPORTED_VERSIONS)}, "
                             f"got {version!r}")
    name = cfg.get("class_name")
    if not isinstance(name, str) or not isinstance(cfg.get("config"), dict):
        raise ModelFileError(f"{where}: config.json lacks the model's class_name and config")
    return cfg


def _rebuild(cfg: dict, custom_objects, mode: str, where: str):
    with weight_mode(mode), warnings.catch_warnings():
        if mode == "shapes":          # the model is built twice: warn about it once
            warnings.simplefilter("ignore")
        try:
            return S.deserialize_model(cfg, custom_objects)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ModelFileError(f"{where}: the model cannot be rebuilt from its config: "
                                 f"{exc}") from None


def _load(archive, where: str, compile: bool, custom_objects):  # noqa: A002
    cfg = _read_config(archive, where)
    # The shapes the config implies, with no weight allocated: checked against the file's
    # declared sizes and .npy headers before anything is inflated or allocated.
    probe = _rebuild(cfg, custom_objects, "shapes", where)
    shapes = {k: v.shape for k, v in _weights_dict(probe).items()}
    weights = _read_weights(archive, shapes, where)
    states = _read_states(archive, {k: v.shape for k, v in _states_dict(probe).items()}, where)
    model = _rebuild(cfg, custom_objects, "zeros", where)
    _assign(model, weights, where)
    for key, arr in _states_dict(model).items():
        if key in states:
            arr[...] = states[key]
    comp = cfg.get("compile")
    if compile and comp is not None:
        if not isinstance(comp, dict):
            raise ModelFileError(f"{where}: config.json's compile settings are not an object")
        try:
            S.compile_from_config(model, comp, custom_objects)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ModelFileError(f"{where}: the model cannot be compiled as its config says: "
                                 f"{exc}") from None
        model.optimizer.state = _read_optimizer(archive, model, where)
    return model


def _read_weights(archive, shapes: dict, where: str) -> dict:
    if "weights.npz" not in archive.names:
        raise ModelFileError(f"{where} holds no weights.npz")
    return _read_npz(archive.read("weights.npz", _npz_limit(shapes)), shapes,
                     f"{where}: weights.npz")


def _read_states(archive, shapes: dict, where: str) -> dict:
    """The carried states from states.npz (absent: none saved), one per stateful layer state."""
    if "states.npz" not in archive.names:
        return {}
    states = _read_npz(archive.read("states.npz", _npz_limit(shapes)), shapes,
                       f"{where}: states.npz")
    for key, arr in states.items():
        if not np.isfinite(arr).all():
            raise ModelFileError(f"{where}: states.npz: state {key} has non-finite values")
    return states


def _read_optimizer(archive, model, where: str) -> dict:
    """The optimizer's slots from optimizer.npz (``<param key>/<slot>``): for some of the model's
    weights (those trained so far; a layer frozen since keeps its slots), each with all of the
    optimizer's slots, shaped like the weight."""
    if "optimizer.npz" not in archive.names:
        return {}
    params = _weights_dict(model)
    n_slots = model.optimizer.slots_per_weight
    shapes = {f"{key}/{i}": p.shape for key, p in params.items() for i in range(n_slots)}
    what = f"{where}: optimizer.npz"
    arrays = _read_npz(archive.read("optimizer.npz", _npz_limit(shapes)), shapes, what,
                       required=False)
    state = {}
    for key, p in params.items():
        slots = [arrays.get(f"{key}/{i}") for i in range(n_slots)]
        if all(s is None for s in slots):
            continue
        if any(s is None for s in slots):
            raise ModelFileError(f"{what} holds only some of the {n_slots} slots of {key}")
        state[key] = [np.array(s, dtype=p.dtype, order="C") for s in slots]
    return state


# ------------------------------------------------------------------------------ weights only
def save_weights(model, filepath, metadata: dict | None = None) -> None:
    """Weights only, as one .npz keyed ``layer/param`` (plus a manifest inside a zip);
    ``metadata`` (JSON values) goes in a ``metadata.json`` member, which loading ignores."""
    if _suffix(filepath) == ".weights.h5":
        K.save_weights_h5(model, filepath, metadata)
        return
    members = {"weights.npz": _npz_bytes(_weights_dict(model))}
    if metadata:
        members["metadata.json"] = json.dumps(metadata, allow_nan=False).encode()
    _io.write_archive(filepath, members)


def load_weights(model, filepath) -> None:
    """Weights written by :func:`save_weights` or :func:`save_model`, each checked (size, shape,
    dtype) before any is set; ModelFileError if the file does not fit the model.  An HDF5 file
    is read as Keras 3's ``.weights.h5`` (by that name) or tf.keras 2's ``.h5`` weights."""
    where = _where(filepath)
    if _suffix(filepath) == ".weights.h5" or keras_legacy.is_hdf5(filepath):
        try:
            if _suffix(filepath) == ".weights.h5":    # Keras 3's layout
                return K.load_weights_h5(model, filepath)
            return keras_legacy.load_weights_legacy_h5(model, filepath)     # tf.keras 2's
        except K.KerasFileError as exc:
            raise ModelFileError(str(exc)) from None
    shapes = {k: v.shape for k, v in _weights_dict(model).items()}
    try:
        with _io.ArchiveReader(filepath, "weights file") as archive:
            weights = _read_weights(archive, shapes, where)
    except (ModelFileError, FileNotFoundError):
        raise
    except _io.ArchiveError as exc:
        raise ModelFileError(str(exc)) from None
    _assign(model, weights, where)


def _assign(model, weights: dict, where: str) -> None:
    expected = _weights_dict(model)
    if set(weights) != set(expected):
        raise ModelFileError(f"{where}: weights {sorted(weights)} do not match the model's "
                             f"{sorted(expected)}")
    for key, arr in expected.items():
        if weights[key].shape != arr.shape:
            raise ModelFileError(f"{where}: weight {key} has shape {weights[key].shape}, "
                                 f"expected {arr.shape}")
    for key, arr in expected.items():
        arr[...] = weights[key]


__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_CONFIG_BYTES", "MAX_CONFIG_DEPTH", "ModelFileError",
           "SUPPORTED_VERSIONS", "load_model", "load_weights", "model_bytes", "save_model",
           "save_weights"]
