"""The lecture's second question, "What is he going to say next?": a character-level LSTM
language model on review text, judged against the unigram and bigram baselines.

The text is the IMDB training reviews joined by newlines (or any UTF-8 file the user names); the
last tenth is held out.  Characters seen fewer than :data:`MIN_COUNT` times in the training part
share one out-of-vocabulary symbol (U+FFFD), so held-out text always encodes.  The model is
Embedding → LSTM(return_sequences) → Dense softmax, trained on non-overlapping windows with
Adam and sparse categorical cross-entropy; held-out bits per character are measured with the
state carried across the whole held-out text (:func:`rnnlab.generation.model_log_probs`), the
baselines on the same characters.  Two continuations of a prompt are sampled at two
temperatures, one step per new character.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab import config
from rnnlab.callbacks import EarlyStopping
from rnnlab.datasets import DatasetNotFoundError, imdb, synthetic
from rnnlab.generation import (
    BigramModel,
    CharVocabulary,
    TextGenerator,
    UnigramModel,
    bits_per_token,
    sequence_windows,
)
from rnnlab.layers import LSTM, Dense, Embedding
from rnnlab.lecture.results import Row, fmt
from rnnlab.models import Sequential
from rnnlab.optimizers import Adam

__all__ = ["FULL", "QUICK", "LanguageResult", "corpus", "run"]

QUICK = {"chars": 300_000, "units": 128, "epochs": 3, "seq_len": 100, "batch_size": 64,
         "learning_rate": 0.01}
FULL = {"chars": 3_000_000, "units": 256, "epochs": 20, "seq_len": 100, "batch_size": 64,
        "learning_rate": 0.003}
MIN_COUNT = 5
OOV = "\ufffd"
PROMPT = "This movie was "
TEMPERATURES = (0.5, 1.0)
SAMPLE_LENGTH = 300


@dataclass
class LanguageResult:
    rows: list
    source: str
    synthetic: bool
    history: dict = field(default_factory=dict)
    bits: dict = field(default_factory=dict)         # model / unigram / bigram, held out
    samples: dict = field(default_factory=dict)      # temperature -> continuation
    prompt: str = PROMPT
    summary: str = ""
    seconds: float = 0.0
    sizes: dict = field(default_factory=dict)


def corpus(path=None, chars=None, seed=0) -> tuple[str, str, bool]:
    """(text, source, synthetic?): the UTF-8 file ``path``, else the IMDB training reviews
    joined by newlines, else rnnlab's synthetic reviews; cut to ``chars`` characters."""
    if path is not None:
        text = Path(path).read_text(encoding="utf-8")
        source, synth = Path(path).name, False
    else:
        try:
            (reviews, _), _ = imdb.load_data(num_test=1, seed=seed)
            source, synth = "IMDB training reviews", False
        except DatasetNotFoundError:
            n = 20_000 if chars is None else min(20_000, chars // 200 + 10)
            reviews, _ = synthetic.reviews(n=n, seed=seed)
            source, synth = "synthetic reviews (no IMDB files found)", True
        text = "\n".join(reviews)
    return (text if chars is None else text[:chars]), source, synth


def build_model(vocab_size: int, units: int, learning_rate: float) -> Sequential:
    model = Sequential([Embedding(vocab_size, 32), LSTM(units, return_sequences=True),
                        Dense(vocab_size, activation="softmax")])
    model.compile(optimizer=Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy")
    return model


def run(quick=True, path=None, seed=0, progress=None, verbose=0) -> LanguageResult:
    """Train the character LSTM and measure it; rows for the report's main table."""
    say = progress or (lambda msg: None)
    mode = QUICK if quick else FULL
    text, source, synth = corpus(path, mode["chars"], seed)
    cut = int(len(text) * 0.9)
    train_text, held_text = text[:cut], text[cut:]
    vocab = CharVocabulary.from_text(train_text, oov_token=OOV, min_count=MIN_COUNT)
    train_ids, held_ids = vocab.encode(train_text), vocab.encode(held_text)
    x, y = sequence_windows(train_ids, mode["seq_len"])
    say(f"character LSTM({mode['units']}) on {len(train_text):,} characters of {source} "
        f"({len(vocab)} symbols, {len(x):,} windows)")
    config.set_random_seed(seed)
    model = build_model(len(vocab), mode["units"], mode["learning_rate"])
    t0 = time.perf_counter()
    hist = model.fit(x, y, batch_size=mode["batch_size"], epochs=mode["epochs"],
                     validation_split=0.05, shuffle=True, verbose=verbose,
                     callbacks=[EarlyStopping(monitor="val_loss", patience=2,
                                              restore_best_weights=True)])
    bits = {"model": bits_per_token(model, held_ids, streams=8),
            "unigram": UnigramModel(train_ids, len(vocab)).bits_per_token(held_ids),
            "bigram": BigramModel(train_ids, len(vocab)).bits_per_token(held_ids)}
    generator = TextGenerator(model, vocab)
    samples = {t: generator.generate(PROMPT, SAMPLE_LENGTH, temperature=t, seed=seed)
               for t in TEMPERATURES}
    seconds = time.perf_counter() - t0
    lines = []
    model.summary(print_fn=lines.append)
    epochs = len(hist.history["loss"])
    note = f"held out: last {len(held_text):,} characters; {epochs} epochs, {seconds:.0f}s"
    rows = [Row("character LSTM: held-out bits per character", "-", fmt(bits["model"], 3),
                note),
            Row("unigram baseline: bits per character", "-", fmt(bits["unigram"], 3),
                "character frequencies of the training text (add-one)"),
            Row("bigram baseline: bits per character", "-", fmt(bits["bigram"], 3),
                "P(next | previous character), add-one")]
    return LanguageResult(rows, source, synth, history=hist.history, bits=bits,
                          samples=samples, summary="\n".join(lines), seconds=seconds,
                          sizes={"train_chars": len(train_text), "held_chars": len(held_text),
                                 "symbols": len(vocab), "units": mode["units"],
                                 "epochs": epochs})
