"""From-scratch code that follows the lecture line by line (no layers, no models)."""
from rnnlab.scratch.single_neuron import (
                                          backward,
                                          backward_bptt,
                                          backward_t,
                                          forward,
                                          gradient_descent,
                                          optimize,
                                          single_rnn,
)

__all__ = ["forward", "backward_t", "backward", "backward_bptt", "gradient_descent", "optimize",
           "single_rnn"]
