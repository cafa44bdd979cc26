"""Numeric cores: activations, recurrent cells' whole-sequence passes, convolution, embedding and
optimizer updates, as plain functions of arrays.  Nothing here knows about layers or models.

* :mod:`.reference`: the plain-NumPy kernels (the math, with its derivations);
* :mod:`.compiled`: the Numba kernels, the same names, held equal to the reference by the tests;
* :mod:`.ops`: the one way to choose: :func:`~rnnlab.kernels.ops.get_ops` gives
  :class:`~rnnlab.kernels.ops.ReferenceOps` or ``CompiledOps(ReferenceOps)`` per
  ``rnnlab.config.kernels()``.
"""
# ``rnnlab.kernels.activations`` stays a name for the reference activations (the layers use it).
from rnnlab.kernels.ops import ReferenceOps, get_ops
from rnnlab.kernels.reference import activations

__all__ = ["activations", "ReferenceOps", "get_ops"]
