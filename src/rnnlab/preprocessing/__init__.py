"""Data preparation apart from the engine: ``text`` (Tokenizer) and ``sequence`` (pad_sequences,
time-series windows, MinMaxScaler).  ``from rnnlab.preprocessing import text, sequence`` mirrors the
lecture's ``from tensorflow.keras.preprocessing import text, sequence``."""
from rnnlab.preprocessing import sequence, text

__all__ = ["sequence", "text"]
