"""Live dictionary views over inner layers' ``params``, ``grads`` and ``regularizers``.

A layer that owns other layers (a wrapper, a stack of cells) presents their weights as its own
under prefixed keys, without copying: reading a key reads the inner layer's entry and assigning a
key replaces it (as the gradient checker does when it swaps arrays for float64 copies).  The
training loop, optimizers, ``get_weights``/``set_weights`` and saving then see the very arrays the
inner layers compute with.
"""
from __future__ import annotations

from collections.abc import MutableMapping


class NestedView(MutableMapping):
    """``{prefix + key: layer.<attr>[key]}`` over ``owner._inner()``'s (prefix, layer) pairs, live.

    Existing keys can be replaced; new keys cannot be added and keys cannot be deleted."""

    def __init__(self, owner, attr: str):
        self._owner, self._attr = owner, attr

    def _parts(self):
        return [(prefix, getattr(layer, self._attr)) for prefix, layer in self._owner._inner()]

    def _locate(self, key):
        for prefix, d in self._parts():
            if isinstance(key, str) and key.startswith(prefix) and key[len(prefix):] in d:
                return d, key[len(prefix):]
        raise KeyError(key)

    def __getitem__(self, key):
        d, k = self._locate(key)
        return d[k]

    def __setitem__(self, key, value):
        try:
            d, k = self._locate(key)
        except KeyError:
            raise KeyError(f"Layer {self._owner.name!r} ({type(self._owner).__name__}) has no "
                           f"{self._attr} entry {key!r}; its entries are {list(self)}") from None
        d[k] = value

    def __delitem__(self, key):
        raise TypeError(f"Layer {self._owner.name!r}: entries of a nested layer's {self._attr} "
                        "cannot be deleted")

    def __iter__(self):
        for prefix, d in self._parts():
            for k in d:
                yield prefix + k

    def __len__(self):
        return sum(len(d) for _, d in self._parts())

    def __repr__(self):
        return f"{{{', '.join(f'{k!r}: ...' for k in self)}}}"
