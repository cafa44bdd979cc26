"""The bundle file: everything ``rnnlab predict`` needs, in one checked zip (no pickle).

* ``bundle.json``   format tag and version, the task, the model kind, the task's preprocessing
  (tokenizer JSON or MinMaxScaler config, window/horizon/column or text/label columns, label
  names) and a record of the training run;
* ``model.rnnlab``  the bytes of ``model.save(...)`` (:func:`rnnlab.models.saving.model_bytes`,
  itself a checked zip of config + weights);
* ``manifest.json`` the SHA-256 of both members (:func:`rnnlab.io.archive_bytes`), so a truncated
  or edited bundle is refused.

It is written atomically (:func:`rnnlab.io.write_bytes`): an error at any point leaves no partial
file behind.
"""
from __future__ import annotations

import json
from pathlib import Path

from rnnlab import io
from rnnlab.app.errors import AppError
from rnnlab.app.output import write_file
from rnnlab.models.saving import load_model, model_bytes

__all__ = ["FORMAT", "FORMAT_VERSION", "load_bundle", "save_bundle"]

FORMAT = "rnnlab-bundle"
FORMAT_VERSION = 1
#: How much bigger than its compressed bytes a member may inflate: the model member is itself a
#: zip of compressed members (deflating it again gains ~nothing), and JSON text compresses ~10x;
#: a zip bomb inflates ~1000x.  The model file's own checks then bound what is inside it.
_RATIO = {"model.rnnlab": 2, "bundle.json": 100}
_SLACK = 1 << 20


def save_bundle(out, model, meta: dict) -> None:
    """Write model + metadata as one bundle file (a zip with a SHA-256 manifest), atomically."""
    write_file(out, io.archive_bytes({"bundle.json": json.dumps(meta, indent=1).encode(),
                                      "model.rnnlab": model_bytes(model)}))


def load_bundle(path):
    """(model, metadata) from a bundle written by :func:`save_bundle`; AppError if invalid."""
    path = Path(path)
    if not path.is_file():
        raise AppError(f"model file {str(path)!r} does not exist")
    try:
        with io.ArchiveReader(path, "model bundle") as archive:
            members = {name: archive.read(name, _RATIO.get(name, 1) * archive.packed_size(name)
                                          + _SLACK)
                       for name in archive.names}
        meta = io.load_json(members["bundle.json"], "bundle.json")
    except io.ArchiveError as e:
        raise AppError(f"{str(path)!r} is not an rnnlab model bundle (write one with "
                       f"`rnnlab train`): {str(e).removeprefix(repr(str(path)))}") from None
    except (KeyError, ValueError):
        raise AppError(f"{str(path)!r} is not an rnnlab model bundle (write one with "
                       "`rnnlab train`)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT \
            or "model.rnnlab" not in members:
        raise AppError(f"{str(path)!r} is not an rnnlab model bundle")
    if not isinstance(meta.get("format_version"), int) or meta["format_version"] > FORMAT_VERSION:
        raise AppError(f"{str(path)!r} has bundle format version "
                       f"{meta.get('format_version')}, newer than this rnnlab understands")
    try:
        model = load_model(members["model.rnnlab"])
    except ValueError as e:
        raise AppError(f"{str(path)!r}: the model inside cannot be loaded: {e}") from None
    return model, meta
