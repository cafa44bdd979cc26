"""The command's tasks by name (``--task``)."""
from __future__ import annotations

from rnnlab.app.errors import AppError
from rnnlab.app.langmodel import LanguageModelTask
from rnnlab.app.tasks import ClassifyTask, ForecastTask, Task

__all__ = ["TASKS", "get_task"]

TASKS = {t.name: t for t in (ForecastTask, ClassifyTask, LanguageModelTask)}


def get_task(name) -> type[Task]:
    """The task class called ``name``; AppError for an unknown one."""
    if name not in TASKS:
        raise AppError(f"unknown task {name!r}: expected one of {', '.join(TASKS)}")
    return TASKS[name]
