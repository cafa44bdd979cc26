"""Datasets: the lecture's Fortune 500 series, IMDB and Yelp polarity reviews, synthetic data.

Every loader finds its files through one helper (:mod:`rnnlab.datasets._files`): an explicit
``path``, ``$RNNLAB_DATA_DIR``, the user cache (``~/.cache/rnnlab``), then a checked download.
This package imports nothing from the engine (layers, models) nor from preprocessing.
"""
from rnnlab.datasets import fortune500, imdb, synthetic, yelp_polarity
from rnnlab.datasets._files import (
                                    ChecksumError,
                                    DataFileError,
                                    DatasetNotFoundError,
                                    cache_dir,
                                    data_dirs,
                                    extract_archive,
                                    get_file,
)

__all__ = ["fortune500", "imdb", "yelp_polarity", "synthetic", "get_file", "extract_archive",
           "cache_dir", "data_dirs", "ChecksumError", "DataFileError", "DatasetNotFoundError"]
