"""The ``language-model`` task: next-token prediction over a UTF-8 text file, and generation.

Training (``rnnlab train --task language-model --data corpus.txt``) reads the whole file as
UTF-8 text (a language model's corpus is text, not CSV), builds a character vocabulary (or a
word vocabulary with ``--level word``: words, whitespace runs and punctuation, so that the
generated tokens join back into text), cuts the ids into non-overlapping windows of ``seq_len``
tokens whose targets are the same windows shifted by one token, and trains Embedding →
recurrent layer (``return_sequences``) → Dense softmax over the vocabulary with sparse
categorical cross-entropy.

``rnnlab generate`` continues a prompt from such a bundle (:func:`continuation`, through
:class:`rnnlab.generation.TextGenerator`), one step per new token.  The prompt's tokens must all
have been seen in training: an unseen character is an error that names it (the model has no
input for it).
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rnnlab.app.errors import AppError, option_int
from rnnlab.app.tasks import EMBED_DIM, Task
from rnnlab.generation import CharVocabulary, TextGenerator, Vocabulary, WordVocabulary
from rnnlab.generation.data import sequence_windows
from rnnlab.layers import GRU, LSTM, Dense, Embedding, SimpleRNN

__all__ = ["LEVELS", "LanguageModelTask", "continuation", "read_text"]

LEVELS = {"char": CharVocabulary, "word": WordVocabulary}
_RNN = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}


def read_text(path) -> str:
    """The whole file as UTF-8 text; AppError naming the file and the byte that is not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise AppError(f"data file {str(path)!r} does not exist")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AppError(f"{str(path)!r} is not UTF-8 text (byte {e.start}: "
                       f"{data[e.start:e.start + 1]!r})") from None


class LanguageModelTask(Task):
    """Next-token prediction over a text file, at the character or word level."""
    name = "language-model"
    defaults: ClassVar[dict] = {"model": "lstm", "epochs": 10, "units": 128,
                                "learning_rate": 0.005}
    loss = "sparse_categorical_crossentropy"
    metrics = None

    def __init__(self, level="char", seq_len=100, vocabulary: Vocabulary | None = None):
        if level not in LEVELS:
            raise AppError(f"--level must be one of {', '.join(LEVELS)}, got {level!r}")
        self.level, self.seq_len, self.vocabulary = level, seq_len, vocabulary

    @classmethod
    def from_options(cls, level=None, seq_len=100, column=None, window=None, horizon=None,
                     text_column=None, label_column=None, missing="error", **_):
        given = [name for name, value in (("--column", column), ("--window", window),
                                          ("--horizon", horizon),
                                          ("--text-column", text_column),
                                          ("--label-column", label_column)) if value is not None]
        if given:
            raise AppError(f"{'/'.join(given)} are not options of --task language-model (its "
                           "--data is a plain UTF-8 text file)")
        if missing != "error":
            raise AppError("--missing is for CSV data; --task language-model reads plain text")
        return cls(level or "char", option_int("--seq-len", seq_len))

    @classmethod
    def from_config(cls, config):
        return cls(config["level"], config["seq_len"],
                   Vocabulary.from_config(config["vocabulary"]))

    def get_config(self):
        return {"level": self.level, "seq_len": self.seq_len,
                "vocabulary": self.vocabulary.get_config()}

    def fit_data(self, data):
        """The file's token ids in windows of ``seq_len`` (targets shifted by one token)."""
        text = read_text(data)
        try:
            self.vocabulary = LEVELS[self.level].from_text(text)
        except ValueError as e:
            raise AppError(f"{str(data)!r}: {e}") from None
        ids = self.vocabulary.encode(text)
        if ids.size < self.seq_len + 1:
            raise AppError(f"{str(data)!r} holds {ids.size} {self.level} token(s); --seq-len "
                           f"{self.seq_len} needs at least {self.seq_len + 1}")
        return sequence_windows(ids, self.seq_len)

    def layers(self, kind, units):
        if kind not in _RNN:
            raise AppError(f"--task language-model takes --model {', '.join(_RNN)}, got {kind!r}")
        v = len(self.vocabulary)
        return [Embedding(v, min(EMBED_DIM, v)), _RNN[kind](units, return_sequences=True),
                Dense(v, activation="softmax")]

    def predict(self, model, data, writer):
        raise AppError("a language model does not predict a CSV: continue a prompt with "
                       "`rnnlab generate --model MODEL --prompt TEXT`")


def continuation(model, task: LanguageModelTask, prompt: str, length: int, *, temperature=1.0,
             top_k=None, top_p=None, greedy=False, seed=None):
    """An iterator over ``length`` new tokens after ``prompt``; every argument is checked (and
    AppError raised) before the first token is made."""
    try:
        return TextGenerator(model, task.vocabulary).stream(
            prompt, length, temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy,
            seed=seed)
    except (TypeError, ValueError) as e:
        raise AppError(str(e)) from None
