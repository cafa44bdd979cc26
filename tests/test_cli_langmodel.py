"""``rnnlab train --task language-model`` and ``rnnlab generate`` (issue 17, item 4): a character
model trained on a slice of the IMDB reviews continues a prompt reproducibly, in the vocabulary
it learnt, streaming its output; the lecture's Hebrew line round-trips; each bad input is one
``Error:`` line and writes nothing."""
import gzip

import pytest
from click.testing import CliRunner

from conftest import LECTURE_TEXT, SHARED_DATA
from rnnlab import cli
from rnnlab.app import load_bundle
from rnnlab.generation import CharVocabulary
from rnnlab.lecture import language as lecture_language


def run(args):
    return CliRunner().invoke(cli.main, [str(a) for a in args])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """About 20,000 characters of review text."""
    with gzip.open(SHARED_DATA / "imdb_train.csv.gz", "rt", encoding="utf-8") as f:
        text = f.read(40_000)
    path = tmp_path_factory.mktemp("lm") / "corpus.txt"
    path.write_text(text[20_000:40_000], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lm(corpus):
    out = corpus.parent / "lm.model"
    res = run(["train", "--data", corpus, "--task", "language-model", "--epochs", 2, "--units",
               16, "--seq-len", 40, "--out", out])
    assert res.exit_code == 0, res.output
    return out


def test_train_then_generate_reproducibly_in_the_learnt_vocabulary(lm, corpus):
    model, meta = load_bundle(lm)
    assert meta["task"] == "language-model" and meta["language-model"]["level"] == "char"
    vocab = set(corpus.read_text(encoding="utf-8"))
    assert set(meta["language-model"]["vocabulary"]["tokens"]) == vocab
    assert model.layers[-1].units == len(vocab)
    args = ["generate", "--model", lm, "--prompt", "The movie", "--length", 120, "--seed", 3,
            "--temperature", 0.8, "--top-k", 10]
    first, second = run(args), run(args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    text = first.output.rstrip("\n")
    assert text.startswith("The movie") and len(text) == len("The movie") + 120
    assert set(text) <= vocab
    greedy = run(["generate", "--model", lm, "--prompt", "The", "--length", 30, "--greedy"])
    assert greedy.exit_code == 0 and len(greedy.output.rstrip("\n")) == 33


def test_the_lecture_hebrew_line_trains_and_continues(tmp_path):
    text = LECTURE_TEXT.read_text(encoding="utf-8")
    hebrew = "".join(ch for ch in text if "\u0590" <= ch <= "\u05ff" or ch == " ")
    hebrew = " ".join(hebrew.split())
    assert len(set(hebrew)) > 5
    corpus = tmp_path / "he.txt"
    corpus.write_text((hebrew + " ") * 20, encoding="utf-8")
    out = tmp_path / "he.model"
    res = run(["train", "--data", corpus, "--task", "language-model", "--epochs", 1, "--units",
               8, "--seq-len", 20, "--out", out])
    assert res.exit_code == 0, res.output
    prompt = hebrew.split()[0]
    gen = run(["generate", "--model", out, "--prompt", prompt, "--length", 15, "--seed", 0])
    assert gen.exit_code == 0, gen.output
    made = gen.output.rstrip("\n")
    assert made.startswith(prompt) and set(made) <= set(hebrew)   # logical order, no reordering
    vocab = CharVocabulary.from_text(hebrew)
    assert vocab.decode(vocab.encode(hebrew)) == hebrew


@pytest.mark.parametrize("content, message", [
    ("", "at least two distinct characters"),
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "at least two distinct characters"),
    ("ab" * 10, "needs at least 41"),
])
def test_a_corpus_too_small_is_one_error_and_writes_nothing(tmp_path, content, message):
    corpus = tmp_path / "c.txt"
    corpus.write_text(content, encoding="utf-8")
    out = tmp_path / "lm.model"
    res = run(["train", "--data", corpus, "--task", "language-model", "--seq-len", 40, "--out",
               out])
    assert res.exit_code == 1 and "Error:" in res.output and message in res.output
    assert not out.exists()


def test_training_options_of_other_tasks_are_refused(tmp_path, corpus):
    out = tmp_path / "lm.model"
    res = run(["train", "--data", corpus, "--task", "language-model", "--window", 5, "--out",
               out])
    assert res.exit_code == 1 and "--window are not options of --task language-model" in \
        res.output
    res = run(["train", "--data", corpus, "--task", "language-model", "--model", "mlp",
               "--out", out])
    assert res.exit_code == 1 and "takes --model simple_rnn, lstm, gru" in res.output
    not_utf8 = tmp_path / "latin1.txt"
    not_utf8.write_bytes("café crème".encode("latin-1"))
    res = run(["train", "--data", not_utf8, "--task", "language-model", "--out", out])
    assert res.exit_code == 1 and "is not UTF-8 text (byte 3" in res.output
    assert not out.exists()


@pytest.mark.parametrize("extra, message", [
    (["--prompt", "The movie ש"], "not in the vocabulary: 'ש' (U+05E9)"),
    (["--prompt", "The", "--temperature", 0], "temperature"),
    (["--prompt", "The", "--temperature", -1], "temperature"),
    (["--prompt", "The", "--top-p", 0], "top_p"),
    (["--prompt", "The", "--top-p", 1.5], "top_p"),
    (["--prompt", "The", "--top-k", 0], "top_k"),
    (["--prompt", "The", "--length", 0], "length"),
    (["--prompt", ""], "at least one token"),
])
def test_bad_generate_arguments_are_one_error_before_any_output(lm, extra, message):
    res = run(["generate", "--model", lm, *extra])
    assert res.exit_code == 1, res.output
    assert res.output.startswith("Error:") and message in res.output


def test_generate_refuses_a_bundle_of_another_task(tmp_path):
    series = tmp_path / "s.csv"
    series.write_text("v\n" + "\n".join(str(i % 7) for i in range(60)) + "\n")
    model = tmp_path / "f.model"
    res = run(["train", "--data", series, "--task", "forecast", "--column", "v", "--window", 5,
               "--epochs", 1, "--out", model])
    assert res.exit_code == 0, res.output
    res = run(["generate", "--model", model, "--prompt", "1"])
    assert res.exit_code == 1 and "is a 'forecast' model, not a language model" in res.output
    res = run(["generate", "--model", tmp_path / "none.model", "--prompt", "1"])
    assert res.exit_code == 1 and "does not exist" in res.output


def test_reproduce_answers_what_is_he_going_to_say_next(tmp_path, monkeypatch):
    """The report's language part: held-out bits per character of the character LSTM next to
    the unigram and bigram baselines, the loss plot, and two continuations of the prompt."""
    monkeypatch.setattr(lecture_language, "QUICK", {"chars": 40_000, "units": 32, "epochs": 3,
                                                    "seq_len": 50, "batch_size": 32,
                                                    "learning_rate": 0.02})
    out = tmp_path / "report"
    res = run(["reproduce", "--quick", "--part", "language", "--out", out])
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## What is he going to say next?" in md
    rows = {line.split(" | ")[1]: float(line.split(" | ")[3]) for line in md.splitlines()
            if line.startswith("| next character")}
    model, unigram, bigram = (rows[k] for k in (
        "character LSTM: held-out bits per character", "unigram baseline: bits per character",
        "bigram baseline: bits per character"))
    assert model < unigram and bigram < unigram
    for t in lecture_language.TEMPERATURES:
        assert f"**temperature {t}**" in md
    assert md.count(lecture_language.PROMPT) >= 2
    assert (out / "lm_history.png").read_bytes().startswith(b"\x89PNG")
    assert "What is he going to say next?" in (out / "report.html").read_text(encoding="utf-8")


def test_reproduce_refuses_a_missing_corpus(tmp_path):
    out = tmp_path / "report"
    res = run(["reproduce", "--quick", "--part", "language", "--corpus", tmp_path / "no.txt",
               "--out", out])
    assert res.exit_code == 1 and "--corpus" in res.output and "not an existing file" in \
        res.output
    assert not out.exists()
