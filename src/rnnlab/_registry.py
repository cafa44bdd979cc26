"""Name → object lookup shared by initializers, losses and optimizers (Keras's ``get``)."""
from __future__ import annotations


def get(identifier, table: dict, base: type, kind: str):
    """An instance of ``base`` as given, or a new one from its (case-insensitive) Keras name.

    ValueError names an unknown name and lists the known ones; TypeError anything else.
    """
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        factory = table.get(identifier.lower())
        if factory is None:
            raise ValueError(f"Unknown {kind} {identifier!r}: expected one of {sorted(table)}")
        return factory()
    raise TypeError(f"{kind} must be a name or a rnnlab {base.__name__}, got {identifier!r}")


def serialize(obj) -> dict:
    """``{"class_name", "config"}`` for saving in JSON."""
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def deserialize(spec: dict, classes: dict):
    """Rebuild an object written by :func:`serialize`; ValueError for an unknown class."""
    cls = classes.get(spec.get("class_name")) if isinstance(spec, dict) else None
    if cls is None:
        raise ValueError(f"Cannot rebuild {spec!r}: unknown class")
    return cls(**spec.get("config", {}))
