"""From-scratch code that follows the lecture line by line (no layers, no models): the single
neuron, and a character-level RNN language model (:mod:`rnnlab.scratch.char_rnn`)."""
from rnnlab.scratch import char_rnn
from rnnlab.scratch.single_neuron import (
                                          backward,
                                          backward_bptt,
                                          backward_t,
                                          forward,
                                          gradient_descent,
                                          optimize,
                                          single_rnn,
)

__all__ = ["char_rnn", "forward", "backward_t", "backward", "backward_bptt", "gradient_descent",
           "optimize", "single_rnn"]
