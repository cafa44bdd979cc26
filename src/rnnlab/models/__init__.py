"""Models: Sequential, the functional Model, and loading saved models.

Modules, each importing only those above it in this list: ``graph`` (symbolic tensors, nodes),
``serialization`` (model configs, the MODELS registry), ``keras_format`` (Keras 3 ``.keras`` and
``.weights.h5`` files; h5py imported there only), ``keras_legacy`` (tf.keras 2 ``.h5`` files),
``saving`` (the file format),
``training`` (data checks, batching), ``onnx_export`` (ONNX files; onnx imported there only),
``model`` (the Model base), ``functional``, ``sequential``.
"""
from rnnlab.models.functional import Functional
from rnnlab.models.graph import Input
from rnnlab.models.model import Model
from rnnlab.models.saving import load_model
from rnnlab.models.sequential import Sequential
from rnnlab.models.serialization import model_from_json

__all__ = ["Functional", "Input", "Model", "Sequential", "load_model", "model_from_json"]
