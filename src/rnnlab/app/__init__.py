"""The jobs of the ``rnnlab`` command, one module per job (the engine does not import this).

* :mod:`~rnnlab.app.csvfile`  reading the command's CSV files (series, texts, labels), writing CSV;
* :mod:`~rnnlab.app.tasks`    the tasks (forecast, classify): what data they read, how they build
  the model, how they predict; :mod:`~rnnlab.app.langmodel` the language-model task and
  generation; :mod:`~rnnlab.app.catalog` the tasks by name;
* :mod:`~rnnlab.app.bundle`   the bundle file (model + preprocessing in one checked zip);
* :mod:`~rnnlab.app.output`   output files: checked early, written atomically by :mod:`rnnlab.io`;
* :mod:`~rnnlab.app.jobs`     ``train`` and ``predict``;
* :mod:`~rnnlab.app.backtest` ``backtest``: rolling-origin metrics of a network and baselines;
* :mod:`~rnnlab.app.errors`   :class:`AppError`, the one error a job raises for bad input.
"""
from rnnlab.app.bundle import load_bundle, save_bundle
from rnnlab.app.catalog import TASKS
from rnnlab.app.errors import AppError
from rnnlab.app.jobs import Prediction, TrainProgress, TrainSummary, generate, predict, train
from rnnlab.app.langmodel import LanguageModelTask
from rnnlab.app.tasks import MODELS, ClassifyTask, ForecastTask, Task

__all__ = [
           "MODELS",
           "TASKS",
           "AppError",
           "ClassifyTask",
           "ForecastTask",
           "LanguageModelTask",
           "Prediction",
           "Task",
           "TrainProgress",
           "TrainSummary",
           "generate",
           "load_bundle",
           "predict",
           "save_bundle",
           "train",
]
