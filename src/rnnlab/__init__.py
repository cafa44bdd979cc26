"""rnnlab: recurrent neural networks from scratch on NumPy, behind the Keras API."""
from rnnlab import config

__version__ = "0.1.0"
__all__ = ["config", "__version__"]
