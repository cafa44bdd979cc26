"""Language models over text: vocabularies and training data from raw text, step-by-step
inference, sampling (greedy, temperature, top-k, top-p), text generation, and bits per
character / perplexity next to the unigram and bigram baselines."""
from rnnlab.generation.data import sequence_windows, stateful_batches, windows
from rnnlab.generation.evaluation import (
    BigramModel,
    UnigramModel,
    bits_per_character,
    bits_per_token,
    compare_with_baselines,
    model_log_probs,
    perplexity,
)
from rnnlab.generation.generator import TextGenerator, generate
from rnnlab.generation.sampling import filtered_probabilities, next_tokens
from rnnlab.generation.stepper import Stepper
from rnnlab.generation.vocab import CharVocabulary, Vocabulary, WordVocabulary, split_words

__all__ = ["CharVocabulary", "WordVocabulary", "Vocabulary", "split_words", "windows",
           "sequence_windows", "stateful_batches", "Stepper", "TextGenerator", "generate",
           "next_tokens", "filtered_probabilities", "UnigramModel", "BigramModel",
           "model_log_probs", "bits_per_token", "compare_with_baselines", "bits_per_character",
           "perplexity"]
