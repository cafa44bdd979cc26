"""``rnnlab export``: a trained model (a bundle of ``rnnlab train``, an rnnlab model file, or a
Keras ``.keras``/``.h5`` file) written as ONNX or as a Keras 3 ``.keras`` archive.

Only the network is exported: a bundle's preprocessing (tokenizer, scaler, window) stays in the
bundle, so the exported model takes what the network takes (token ids, scaled windows).
"""
from __future__ import annotations

from pathlib import Path

from rnnlab.app.bundle import load_bundle
from rnnlab.app.errors import AppError
from rnnlab.app.output import check_not_input, check_writable, write_file
from rnnlab.models import keras_format, onnx_export
from rnnlab.models.saving import load_model

__all__ = ["FORMATS", "export"]

#: The formats ``rnnlab export`` writes, by name and by the output's suffix.
FORMATS = {"onnx": ".onnx", "keras": ".keras"}


def _format(out: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise AppError(f"--format must be one of {sorted(FORMATS)}, got {fmt!r}")
        return fmt
    for name, suffix in FORMATS.items():
        if out.name.lower().endswith(suffix):
            return name
    raise AppError(f"cannot tell the format from {str(out)!r}: name it *.onnx or *.keras, or "
                   "give --format")


def _load(path: Path):
    if not path.is_file():
        raise AppError(f"model file {str(path)!r} does not exist")
    try:
        return load_model(path)
    except ValueError as model_error:
        try:
            return load_bundle(path)[0]
        except AppError:
            raise AppError(f"{str(path)!r} is neither a model bundle nor a model file: "
                           f"{model_error}") from None
    except ImportError as e:
        raise AppError(str(e)) from None


def export(model_path, out, fmt: str | None = None) -> str:
    """Write the model of ``model_path`` to ``out`` in ``fmt`` (from ``out``'s suffix when
    None); returns the format written.  AppError for any bad input; ``out`` is written
    atomically, and never when anything fails."""
    out, model_path = Path(out), Path(model_path)
    fmt = _format(out, fmt)
    check_writable(out)
    check_not_input(out, "--out", {"--model": model_path})
    model = _load(model_path)
    try:
        data = (onnx_export.onnx_bytes(model) if fmt == "onnx"
                else keras_format.keras_bytes(model))
    except ImportError as e:
        raise AppError(str(e)) from None
    except ValueError as e:            # ExportError, or a layer Keras files cannot hold
        raise AppError(f"the model cannot be exported as {fmt}: {e}") from None
    write_file(out, data)
    return fmt
