"""The test modules' names for rnnlab's public gradient checks (:mod:`rnnlab.testing`)."""
from rnnlab.testing import check_gradients as check_layer
from rnnlab.testing import check_model, numeric_grad, rel_error

__all__ = ["check_layer", "check_model", "numeric_grad", "rel_error"]
