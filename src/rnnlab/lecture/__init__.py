"""The lecture's experiments as functions, shared by ``examples/`` and the ``rnnlab`` command.

Each runner returns plain data (result rows, histories, predictions) and draws nothing, so the
example can print a table and the command can write a report from the same numbers.
"""
from rnnlab.lecture.results import Row  # noqa: F401
