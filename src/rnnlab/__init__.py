"""rnnlab: recurrent neural networks from scratch on NumPy, behind the Keras API."""
from rnnlab import config
from rnnlab.models import Input, Model, Sequential, load_model

__version__ = "0.1.0"
__all__ = ["config", "Input", "Model", "Sequential", "load_model", "__version__"]
