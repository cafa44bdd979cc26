"""A result row: one experiment, the lecture's value, rnnlab's value."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Row:
    experiment: str
    lecture: str
    rnnlab: str
    note: str = ""
    extra: dict = field(default_factory=dict)


def fmt(value, digits=4) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v, digits) for v in value) + "]"
    return f"{value:.{digits}f}"


def table(rows, headers=("experiment", "lecture", "rnnlab", "note")) -> str:
    """A plain-text table (for consoles and examples)."""
    cells = [[r.experiment, r.lecture, r.rnnlab, r.note] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    line = lambda vals: "  ".join(str(v).ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(c) for c in cells])
