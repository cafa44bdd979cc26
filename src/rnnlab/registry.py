"""Name -> class registries: one mechanism for every serializable kind (Keras's ``get``,
``serialize``, ``deserialize`` and ``register_keras_serializable``).

Each kind (layers, initializers, regularizers, losses, optimizers, models) has one
:class:`Registry`.  rnnlab's own classes are registered by their class name; a user's class is
registered with :func:`register_serializable` (under ``"package>Name"``, as Keras does) and is then
found by saving, loading and the wrappers exactly like a built-in one.

A serialized object is ``{"class_name": <registered name>, "config": obj.get_config()}``, and
:meth:`Registry.get` accepts a registered name, an alias (``"glorot_uniform"``), such a config dict
or an instance, so every ``from_config`` can be the default ``cls(**config)``.
"""
from __future__ import annotations

import contextlib
from typing import Callable

_REGISTRIES: list[Registry] = []
_SCOPES: list[dict] = []          # custom_object_scope's dicts, innermost last


@contextlib.contextmanager
def custom_object_scope(custom_objects: dict | None):
    """Within the block, every registry's lookups also see ``custom_objects`` (name -> class), so
    that nested configs (a wrapper's inner layer) find a user's classes while a model loads."""
    _SCOPES.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        _SCOPES.pop()


def _custom(name: str, custom_objects: dict | None):
    """The class ``custom_objects`` (or an enclosing scope) gives for ``name``, also by its bare
    name when saved as ``"package>Name"``; None if none does."""
    bare = name.rsplit(">", 1)[-1]
    for table in ([custom_objects] if custom_objects else []) + _SCOPES[::-1]:
        for key in (name, bare):
            if key in table:
                return table[key]
    return None


def custom_object(name: str):
    """What the enclosing :func:`custom_object_scope` (e.g. ``load_model(...,
    custom_objects=...)``) gives for ``name``, or None: how a saved Lambda finds its function
    and a saved layer its user-defined activation (rnnlab saves names, never code)."""
    return _custom(name, None)


class Registry:
    """The classes of one kind (e.g. "layer"), all subclasses of ``base``."""

    def __init__(self, kind: str, base: type | None = None):
        self.kind = kind
        self.base = base
        self._classes: dict[str, type] = {}
        self._aliases: dict[str, Callable[[], object]] = {}
        _REGISTRIES.append(self)

    # ------------------------------------------------------------------ registering
    def register(self, cls: type | None = None, *, name: str | None = None,
                 package: str | None = None):
        """Register ``cls`` (usable as ``@registry.register`` or ``@registry.register(...)``)."""
        def add(c):
            key = name or c.__name__
            if package:
                key = f"{package}>{key}"
            old = self._classes.get(key)
            if old is not None and old is not c and old.__module__.startswith("rnnlab."):
                raise ValueError(f"{self.kind} class name {key!r} is taken by rnnlab's "
                                 f"{old.__module__}.{old.__name__}; register yours with a package, "
                                 "e.g. register_serializable(package='Custom')")
            self._classes[key] = c
            c._registered_name = key
            return c
        return add if cls is None else add(cls)

    def alias(self, name: str, factory: Callable[[], object]) -> None:
        """A lower-case shorthand (``"glorot_uniform"``) made by calling ``factory()``."""
        self._aliases[name.lower()] = factory

    def set_base(self, base: type) -> None:
        self.base = base

    # ------------------------------------------------------------------ looking up
    def names(self) -> list[str]:
        return sorted(set(self._aliases) | set(self._classes))

    def get_class(self, name: str, custom_objects: dict | None = None) -> type:
        """The class registered as ``name`` (``custom_objects`` first); ValueError if unknown."""
        cls = _custom(name, custom_objects) or self._classes.get(name)
        if cls is None:
            raise ValueError(f"Unknown {self.kind} class {name!r}: register it with "
                             "rnnlab.registry.register_serializable() or pass it in "
                             f"custom_objects (known: {sorted(self._classes)})")
        return cls

    def name_of(self, obj) -> str:
        cls = obj if isinstance(obj, type) else type(obj)
        key = cls.__dict__.get("_registered_name")
        if key is None or self._classes.get(key) is not cls:
            raise ValueError(f"{cls.__name__} is not a registered {self.kind} class: decorate it "
                             "with @rnnlab.registry.register_serializable() so that it can be "
                             "saved and loaded")
        return key

    # ------------------------------------------------------------------ (de)serializing
    def serialize(self, obj) -> dict:
        """``{"class_name", "config"}``, JSON-able."""
        return {"class_name": self.name_of(obj), "config": obj.get_config()}

    def deserialize(self, spec, custom_objects: dict | None = None):
        """Rebuild an object written by :meth:`serialize` (``cls.from_config(config)``)."""
        if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
                or not isinstance(spec.get("config", {}), dict):
            raise ValueError(f"Cannot rebuild a {self.kind} from {spec!r}: expected "
                             "{'class_name': ..., 'config': {...}}")
        cls = self.get_class(spec["class_name"], custom_objects)
        config = spec.get("config", {})
        if not isinstance(config.get("name", ""), (str, type(None))):
            raise ValueError(f"Cannot rebuild {self.kind} {spec['class_name']!r}: its name must "
                             f"be a str, got {config['name']!r:.60}")
        maker = getattr(cls, "from_config", None)
        try:
            return maker(config) if maker is not None else cls(**config)
        except (TypeError, KeyError, IndexError, AttributeError) as exc:
            # a config that lacks a key or holds a value of the wrong type (a hand-edited or
            # hostile file): one ValueError that names the class and what went wrong
            raise ValueError(f"Cannot rebuild {self.kind} {spec['class_name']!r} from its config: "
                             f"{type(exc).__name__}: {exc}") from None

    def get(self, identifier, custom_objects: dict | None = None):
        """An instance from an instance, a name or alias (case-insensitive), or a config dict.

        ValueError names an unknown name and lists the known ones; TypeError anything else."""
        if self.base is not None and isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str):
            factory = self._aliases.get(identifier.lower()) or self._classes.get(identifier)
            if factory is None:
                raise ValueError(f"Unknown {self.kind} {identifier!r}: expected one of "
                                 f"{sorted(self._aliases) or sorted(self._classes)}")
            return factory()
        if isinstance(identifier, dict):
            return self.deserialize(identifier, custom_objects)
        base = self.base.__name__ if self.base is not None else self.kind
        raise TypeError(f"{self.kind} must be a name or a rnnlab {base}, got {identifier!r}")


def register_serializable(package: str = "Custom", name: str | None = None):
    """Class decorator: make a user's layer, cell, initializer, regularizer, loss or optimizer
    known to saving and loading under ``"package>Name"`` (Keras's
    ``register_keras_serializable``).  The registries are chosen by the class's rnnlab base
    classes (a Model subclass is both a model and a layer)."""
    def add(cls):
        if not isinstance(cls, type):
            raise TypeError(f"register_serializable decorates a class, got {cls!r}; a function "
                            "(a metric or loss function) is found at load time through "
                            "load_model's custom_objects")
        found = [reg for reg in _REGISTRIES if reg.base is not None and issubclass(cls, reg.base)]
        if not found:
            raise TypeError(f"{cls.__name__} does not derive from a serializable rnnlab base "
                            "class")
        for reg in found:
            reg.register(cls, name=name, package=package)
        return cls
    return add
