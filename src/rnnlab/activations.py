"""Public access to activation functions, as ``keras.activations``."""
from rnnlab.kernels.reference.activations import ActivationFn, get, names  # noqa: F401
