"""The one error of the command's jobs."""
from __future__ import annotations

from rnnlab import checks


class AppError(ValueError):
    """Bad input for train/predict (file, column, values, options): the message says which.

    The ``rnnlab`` command prints it as one ``Error: ...`` line, never a traceback."""


def option_int(name: str, value, low: int = 1) -> int:
    """An integer command option ``>= low`` (:func:`rnnlab.checks.integer`), else AppError."""
    try:
        return checks.integer(value, name, low=low)
    except ValueError as e:
        raise AppError(str(e)) from None


def option_positive(name: str, value) -> float:
    """A positive finite number option (:func:`rnnlab.checks.positive_number`), else AppError."""
    try:
        return checks.positive_number(value, name)
    except (TypeError, ValueError):
        raise AppError(f"{name} must be a positive number, got {value!r}") from None
