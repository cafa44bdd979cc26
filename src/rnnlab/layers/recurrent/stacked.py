"""StackedRNNCells: several cells run as one, each step feeding the next cell's input.

The states are the cells' states one after another; the output is the last cell's output.  The
weights are the cells' own arrays, named ``<cell name>/<weight>``.  Backward runs the cells in
reverse: dL/dx of cell k is the gradient of cell k-1's output.  Dropout: the first cell's input
dropout is applied by the RNN to the sequence; a later cell's input dropout multiplies its input
(the previous cell's output) inside the step; each cell's recurrent dropout acts on its own state.
"""
from __future__ import annotations

from rnnlab.layers.base import LAYERS
from rnnlab.layers.recurrent.cell import Cell
from rnnlab.layers.views import NestedView


class StackedRNNCells(Cell):
    """Keras's ``StackedRNNCells(cells)``."""

    def __init__(self, cells, **kwargs):
        cells = [LAYERS.deserialize(c) if isinstance(c, dict) else c for c in cells]
        if not cells or not all(isinstance(c, Cell) for c in cells):
            raise TypeError(f"StackedRNNCells needs a non-empty list of recurrent cells, got "
                            f"{cells!r}")
        super().__init__(**kwargs)
        if self.dropout or self.recurrent_dropout:
            raise ValueError(f"{self._who()}: set dropout and recurrent_dropout on the stacked "
                             "cells themselves; the stack has none of its own")
        self.cells = cells
        self.params = NestedView(self, "params")
        self.grads = NestedView(self, "grads")
        self.regularizers = NestedView(self, "regularizers")
        self.constraints = NestedView(self, "constraints")

    def _inner(self):
        return [(c.name + "/", c) for c in self.cells]

    def sublayers(self) -> list:
        return list(self.cells)

    @property
    def non_trainable(self):
        return {prefix + k for prefix, cell in self._inner() for k in cell.params
                if not cell.trainable or k in cell.non_trainable}

    @non_trainable.setter
    def non_trainable(self, value):
        if value:
            raise AttributeError(f"{self._who()}: set trainable on the stacked cells instead")

    @property
    def state_size(self):
        return tuple(s for c in self.cells for s in c.state_sizes)

    @property
    def output_size(self):
        return self.cells[-1].output_size

    def step_units(self) -> int:
        return max(c.step_units() for c in self.cells)

    def build(self, input_shape):
        n, m = input_shape[0], input_shape[-1]
        for cell in self.cells:
            cell.ensure_built((n, m))
            m = cell.output_size
        self.built = True

    def _reseed_for_check(self, seed: int) -> None:
        for i, cell in enumerate(self.cells):
            cell._reseed_for_check(seed + i)

    def dropout_masks(self, n, input_dim, dtype, training):
        """The first cell's input mask for the RNN; per cell (input mask, recurrent mask) for the
        steps (a later cell's input mask applies to the previous cell's output)."""
        masks, first_in, m = [], None, input_dim
        for i, cell in enumerate(self.cells):
            in_mask, rec_mask = cell.dropout_masks(n, m, dtype, training)
            if i == 0:
                first_in, in_mask = in_mask, None
            masks.append((None if in_mask is None else in_mask[:, 0], rec_mask))
            m = cell.output_size
        return first_in, (masks if any(a is not None or b is not None for a, b in masks)
                          else None)

    def _split_states(self, states):
        out, i = [], 0
        for cell in self.cells:
            k = len(cell.state_sizes)
            out.append(list(states[i:i + k]))
            i += k
        return out

    def step(self, x, states, rec_mask=None):
        masks = rec_mask or [(None, None)] * len(self.cells)
        new_states, caches = [], []
        for cell, s, (in_mask, r_mask) in zip(self.cells, self._split_states(states), masks):
            if in_mask is not None:
                x = x * in_mask
            x, new, cache = cell.step(x, s, r_mask)
            new_states += new
            caches.append(cache)
        return x, new_states, (caches, masks)

    def step_backward(self, d_y, d_states, cache):
        caches, masks = cache
        grads = {}
        d_prev_all = []
        d_split = self._split_states(d_states)
        for cell, c, d_s, (in_mask, _) in reversed(list(zip(self.cells, caches, d_split, masks))):
            d_y, d_prev, g = cell.step_backward(d_y, d_s, c)
            if in_mask is not None:
                d_y = d_y * in_mask
            grads.update({f"{cell.name}/{k}": v for k, v in g.items()})
            d_prev_all = list(d_prev) + d_prev_all
        return d_y, d_prev_all, grads

    def get_initial_state(self, batch_size, dtype):
        return [s for c in self.cells for s in c.get_initial_state(batch_size, dtype)]

    def get_config(self):
        cfg = super().get_config()
        cfg["cells"] = [LAYERS.serialize(c) for c in self.cells]
        return cfg

