"""rnnlab: recurrent neural networks from scratch on NumPy, behind the Keras API."""
from rnnlab import config
from rnnlab._version import __version__
from rnnlab.models import Input, Model, Sequential, load_model

__all__ = ["config", "Input", "Model", "Sequential", "load_model", "__version__"]
