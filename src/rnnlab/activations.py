"""Public access to activation functions, as ``keras.activations``: by name
(``get("relu")``) or as objects (``rnnlab.activations.relu``), each callable on an array and
carrying its derivative; a user's activation is an :class:`ActivationFn`."""
from rnnlab.kernels.reference.activations import ActivationFn, get, is_builtin, names

elu = get("elu")
gelu = get("gelu")
hard_sigmoid = get("hard_sigmoid")
linear = get("linear")
relu = get("relu")
selu = get("selu")
sigmoid = get("sigmoid")
silu = get("silu")
softmax = get("softmax")
softplus = get("softplus")
swish = get("swish")
tanh = get("tanh")

__all__ = ["ActivationFn", "get", "is_builtin", "names", "elu", "gelu", "hard_sigmoid", "linear",
           "relu", "selu", "sigmoid", "silu", "softmax", "softplus", "swish", "tanh"]
