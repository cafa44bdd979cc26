"""The table of ``model.summary()``: the same rows as text (Keras's printed layout) and as HTML
(``_repr_html_``, shown by Jupyter), so a notebook and a terminal show the same numbers."""
from __future__ import annotations

import html
from dataclasses import dataclass

from rnnlab import checks

__all__ = ["SummaryTable"]


@dataclass(frozen=True)
class SummaryTable:
    """A model's layers (name (type), output shape, parameters[, connected to]) and totals.

    ``line_length`` and ``positions`` are Keras's: the total width of the printed table and the
    right end of each column, absolute, or fractions of the width when the last is <= 1.  Left
    at None, each column is as wide as its longest cell plus three spaces (the layout
    ``summary()`` has always printed), and ``line_length`` only widens the rules.
    """
    name: str
    headers: tuple
    rows: tuple            # tuples of strings, one per layer
    total_params: int
    trainable_params: int
    line_length: int | None = None
    positions: tuple | None = None

    def __post_init__(self):
        who = "summary()"
        if self.line_length is not None:
            object.__setattr__(self, "line_length",
                               checks.positive_int(self.line_length, "line_length", who=who))
        if self.positions is not None:
            object.__setattr__(self, "positions", self._check_positions(self.positions))

    def _check_positions(self, positions) -> tuple:
        if isinstance(positions, (str, bytes)) or not hasattr(positions, "__len__"):
            raise TypeError(f"summary(): positions must be a list of {len(self.headers)} "
                            f"increasing column ends, got {positions!r}")
        values = tuple(checks.number(p, "positions", who="summary()") for p in positions)
        if len(values) != len(self.headers):
            raise ValueError(f"summary(): positions must have one entry per column "
                             f"({len(self.headers)}: {', '.join(self.headers)}), got "
                             f"{len(values)}")
        if values[0] <= 0 or any(b <= a for a, b in zip(values, values[1:])):
            raise ValueError(f"summary(): positions must be positive and increasing, got "
                             f"{list(values)}")
        return values

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def _widths(self) -> tuple[list[int], int]:
        natural = [max([len(h)] + [len(r[i]) for r in self.rows]) + 3
                   for i, h in enumerate(self.headers)]
        if self.positions is None:
            total = sum(natural)
            return natural, max(total, self.line_length or 0)
        width = self.line_length or sum(natural)
        ends = ([round(p * width) for p in self.positions] if self.positions[-1] <= 1
                else [int(p) for p in self.positions])
        widths = [max(b - a, 1) for a, b in zip([0] + ends[:-1], ends)]
        return widths, max(ends[-1], width if self.line_length else ends[-1])

    def text(self) -> str:
        """The printed table (Keras's layout)."""
        widths, total = self._widths()

        def line(vals):
            out = ""
            for v, w in zip(vals, widths):
                v = str(v)
                out += v.ljust(w) if len(v) < w else v + " "   # a long cell is never cut
            return out.rstrip()

        out = [f'Model: "{self.name}"', "_" * total, line(self.headers), "=" * total]
        for i, r in enumerate(self.rows):
            out.append(line(r))
            if i < len(self.rows) - 1:
                out.append("")
        out += ["=" * total, f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}", "_" * total]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        """The same table as HTML (Jupyter shows this in a notebook)."""
        e = html.escape
        num = self.headers.index("Param #")
        cell = lambda i, v, tag: (f'<{tag} style="text-align:right">{e(v)}</{tag}>'  # noqa: E731
                                  if i == num else
                                  f'<{tag} style="text-align:left">{e(v)}</{tag}>')
        H = [f'<div class="rnnlab-summary"><p><b>Model: "{e(self.name)}"</b></p>',
             "<table><thead><tr>" + "".join(cell(i, h, "th") for i, h in enumerate(self.headers))
             + "</tr></thead><tbody>"]
        H += ["<tr>" + "".join(cell(i, v, "td") for i, v in enumerate(r)) + "</tr>"
              for r in self.rows]
        H += ["</tbody></table>", "<table><tbody>"]
        H += [f'<tr><td style="text-align:left">{label}</td>'
              f'<td style="text-align:right">{n:,}</td></tr>'
              for label, n in (("Total params:", self.total_params),
                               ("Trainable params:", self.trainable_params),
                               ("Non-trainable params:", self.non_trainable_params))]
        H.append("</tbody></table></div>")
        return "\n".join(H)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:   # Jupyter's text/plain fallback: the printed table
        return self.text()
