"""Write timeseries.ipynb and text.ipynb (without outputs) from the cells below.

    python docs/notebooks/make_notebooks.py

The notebooks are the lecture's code with rnnlab imports; edit the cells here and regenerate, so
the two stay in step.  ``RNNLAB_NOTEBOOK_QUICK=1`` (read in each notebook's first cell) shrinks
epochs and data so that a notebook runs in well under two minutes (CI runs them so:
docs/notebooks/run_all.py).
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text):
    return new_markdown_cell(text.strip("\n"))


def code(text):
    return new_code_cell(text.strip("\n"))


def first_cell(imports, sizes):
    """The setup cell: inline plots, imports, the quick switch and the sizes it picks."""
    return code('''
%matplotlib inline
import os

import numpy as np

''' + imports.strip("\n") + '''

# RNNLAB_NOTEBOOK_QUICK=1: small sizes, for a quick check that everything runs (CI sets it)
QUICK = os.environ.get("RNNLAB_NOTEBOOK_QUICK", "0") not in ("", "0")
''' + sizes.strip("\n"))

TIMESERIES = [
    md('''
# Recurrent Neural Networks, part 1: time series

*Applications of Data Science, class 18 (Giora Simchoni), with rnnlab in place of
TensorFlow/Keras.*  Every code cell is the lecture's code with `rnnlab` imports: the same
`Sequential`, `SimpleRNN`, `Adam`, `fit` and `summary()` as in Keras, written from scratch on
NumPy.  The data are read by `rnnlab.datasets` from `RNNLAB_DATA_DIR` (or the user cache).

Set `RNNLAB_NOTEBOOK_QUICK=1` before starting Jupyter for a quick run with fewer epochs.
'''),
    first_cell('''
from rnnlab import config
from rnnlab.datasets import fortune500
from rnnlab.notebook import LivePlot
from rnnlab.plotting import plot_losses, plot_predictions, plot_series
''', '''
SCRATCH_EPOCHS = 100 if QUICK else 1000   # the lecture: 1000
RNN_EPOCHS = 10 if QUICK else 50          # the lecture: 50
STACK_EPOCHS = 8 if QUICK else 30         # the lecture: 30
config.set_random_seed(0)
print(f"quick: {QUICK}; epochs: neuron {SCRATCH_EPOCHS}, SimpleRNN(1) {RNN_EPOCHS}, "
      f"stacks {STACK_EPOCHS}")
'''),
    md('''
## What would be the price of GOOG tomorrow?

`fortune500_100_days.csv` holds 101 trading days (28/09/2020–22/02/2021) of 502 S&P 500
stocks, each row min-max scaled to [-1, 1].  `fortune500.load_series` is the lecture's
`df[df['Fortune500'] == 'GOOG'].values[0][1:]`.
'''),
    code('''
google = fortune500.load_series("GOOG")
plot_series(google[:-1], 100, google[-1], y_label=" ")
'''),
    md('''
## The Fortune500 stocks

`X`: days 1–100 of each stock, `y`: day 101 (the lecture's `X = df.iloc[:, 1:].values;
y = X[:, -1]; X = X[:, :-1]`).
'''),
    code('''
data = fortune500.load_data()
X, y, tickers = data.X, data.y, data.tickers
print(X.shape, y.shape)
plot_series(X[1, :], 100, y[1], y_label=tickers[1])
'''),
    md('''
## What would be a good MSE?

Predicting with the mean of `y` (lecture: 0.3516210), and with the last column of `X`, "tomorrow
is today" (lecture: 0.0332892):
'''),
    code('''
mse_mean = np.mean((y - y.mean()) ** 2)
mse_last = np.mean((y - X[:, -1]) ** 2)
print(mse_mean, mse_last)
'''),
    md('''
## A single-neuron RNN, from scratch

$\\hat{y}_t = \\tanh(w_0 + w_1 x_t + w_2 \\hat{y}_{t-1})$, trained by gradient descent on the MSE
of the last step.  The lecture's code, as on the slides:
'''),
    code('''
def single_rnn(X, y, epochs, alpha):
    w = np.array([1, 1, 1])
    ls = np.zeros(epochs)
    for i in range(epochs):
        l, w = optimize(X, y, alpha, w)
        ls[i] = l
    return ls, w

def optimize(X, y, alpha, w):
    y_pred_arr, l = forward(X, y, w)
    grad = backward(X, y, y_pred_arr, w)
    w = gradient_descent(alpha, w, grad)
    return l, w

def gradient_descent(alpha, w, grad):
    return w - alpha * grad

def forward(X, y, w):
    N, T = X.shape
    y_pred_arr = np.zeros((N, T + 1))
    y_pred = np.zeros(N)
    y_pred_arr[:, 0] = y_pred
    for t in range(T):
        y_pred = np.tanh(w[0] + X[:, t] * w[1] + y_pred * w[2])
        y_pred_arr[:, t + 1] = y_pred
    l = np.mean((y - y_pred)**2)
    return y_pred_arr, l

def backward_t(X, y_pred_arr, w, grads, t, N):
    y_t = y_pred_arr[:, t]
    if t == 0:
        grads_w0 = np.ones((N, ))
        grads_w1 = X[:, t]
        grads_w2 = y_t
    else:
        dot_dyprev = w[2]
        dyprev_doprev = 1 - y_t ** 2
        grads_w0 = np.ones(N) + dot_dyprev * dyprev_doprev * grads[:, 0]
        grads_w1 = X[:, t] + dot_dyprev * dyprev_doprev * grads[:, 1]
        grads_w2 = y_t + dot_dyprev * dyprev_doprev * grads[:, 2]
    return np.stack([grads_w0, grads_w1, grads_w2], axis=1)

def backward(X, y, y_pred_arr, w):
    N, T = X.shape
    y_pred = y_pred_arr[:, -1]
    dl_dypred = -2 * (y - y_pred) / N
    dypred_dot = 1 - y_pred ** 2
    grads = np.zeros((N, 3))
    for t in range(T):
        grads = backward_t(X, y_pred_arr, w, grads, t, N)
    for j in range(3):
        grads[:, j] *= dl_dypred * dypred_dot
    final_grads = grads.sum(axis=0)
    return final_grads
'''),
    md('''
### Training with our neuron

The lecture, after 1000 epochs: `w = [-0.07161043 1.15476269 0.25800392]`, MSE 0.03900926.
`rnnlab.scratch` holds the same code; both give the same weights.
'''),
    code('''
from rnnlab import scratch

mses, w = single_rnn(X, y, epochs=SCRATCH_EPOCHS, alpha=0.01)
print(w)
assert np.allclose(w, scratch.single_rnn(X, y, epochs=SCRATCH_EPOCHS, alpha=0.01)[1])
plot_losses(mses)
'''),
    code('''
y_pred_arr, mse = forward(X, y, w)
y_pred = y_pred_arr[:, -1]
print(mse)
plot_predictions(y, y_pred)
'''),
    md('''
## Finally, Keras (here: rnnlab)

The same neuron as a `SimpleRNN(1)` layer, trained with Adam.  (`Adam(lr=0.01)` of the slides is
`Adam(learning_rate=0.01)` in Keras 3 and rnnlab.)  `LivePlot()` redraws the training curve after
every epoch while `fit` runs.
'''),
    code('''
from rnnlab import Sequential
from rnnlab.layers import SimpleRNN
from rnnlab.optimizers import Adam

model = Sequential([
    SimpleRNN(1, input_shape=(None, 1))
])
model.compile(optimizer=Adam(learning_rate=0.01), loss='mse')

X = X[:, :, np.newaxis]
y = y[:, np.newaxis]

print(X.shape)
print(y.shape)
'''),
    code('''
history = model.fit(X, y, epochs=RNN_EPOCHS, verbose=0, callbacks=[LivePlot()])
'''),
    code('''
print(model.get_weights()[2], model.get_weights()[0], model.get_weights()[1])

y_pred = model.predict(X, verbose=0)
mse_rnn = np.mean((y - y_pred) ** 2)
print(mse_rnn)   # the lecture: 0.04377151881286946
'''),
    code('''
plot_predictions(y, y_pred)
'''),
    md('''
## Add layers

Three stacked SimpleRNNs: 10 → 5 → 1 neurons, 207 parameters
($10(1+1+10) + 5(10+1+5) + 1(5+1+1)$).  In a notebook `summary()` shows an HTML table; in a
terminal it prints Keras's text table.  `verbose=1` shows tqdm's notebook progress bar per epoch.
'''),
    code('''
model = Sequential([
    SimpleRNN(10, return_sequences=True, input_shape=[None, 1]),
    SimpleRNN(5, return_sequences=True),
    SimpleRNN(1)
])

model.compile(optimizer=Adam(learning_rate=0.01), loss='mse')
model.summary()
'''),
    code('''
history = model.fit(X, y, epochs=STACK_EPOCHS, verbose=1, callbacks=[LivePlot()])

y_pred_stack = model.predict(X, verbose=0)
mse_stack = np.mean((y - y_pred_stack) ** 2)
print(mse_stack)   # the lecture: 0.02624883636777101
'''),
    code('''
plot_predictions(y, y_pred_stack)
'''),
    md('''
## Possibilities are endless: LSTM and GRU

The same stack with the gated cells (the text half of the lecture explains the LSTM's gates).
An LSTM layer has four times a SimpleRNN's weights, a GRU (Keras's `reset_after=True`) three
times plus a second bias.
'''),
    code('''
from rnnlab.layers import GRU, LSTM

forecasts = {"SimpleRNN 10→5→1": y_pred_stack[:, 0]}
mses = {"SimpleRNN 10→5→1": mse_stack}
for name, Layer in (("LSTM", LSTM), ("GRU", GRU)):
    config.set_random_seed(0)
    model = Sequential([
        Layer(10, return_sequences=True, input_shape=[None, 1]),
        Layer(5, return_sequences=True),
        Layer(1)
    ])
    model.compile(optimizer=Adam(learning_rate=0.01), loss='mse')
    model.summary()
    history = model.fit(X, y, epochs=STACK_EPOCHS, verbose=0, callbacks=[LivePlot()])
    pred = model.predict(X, verbose=0)
    forecasts[f"{name} 10→5→1"] = pred[:, 0]
    mses[f"{name} 10→5→1"] = np.mean((y - pred) ** 2)
    print(name, mses[f"{name} 10→5→1"])
'''),
    md('''
## Lecture vs rnnlab

The report's table (as `rnnlab reproduce` writes it), shown as HTML.  One training run per
model: which seed lands where depends on floating-point rounding, for Keras as for rnnlab
(`rnnlab reproduce` gives the median over seeds).
'''),
    code('''
from rnnlab import report
from rnnlab.lecture.results import Row, fmt

note = "quick run: fewer epochs" if QUICK else ""
rows = [Row("MSE, predict day 101 by the mean", "0.3516210", fmt(mse_mean, 7)),
        Row("MSE, predict day 101 by day 100", "0.0332892", fmt(mse_last, 7)),
        Row("from-scratch neuron: MSE", "0.03900926", fmt(mse, 8), note),
        Row("SimpleRNN(1), Adam(0.01): MSE", "0.0438", fmt(mse_rnn, 4), note),
        Row("SimpleRNN 10→5→1: MSE", "0.0262", fmt(mse_stack, 4), note)]
rows += [Row(f"{name}: MSE", "-", fmt(v, 4), note) for name, v in mses.items()
         if not name.startswith("SimpleRNN")]
report.results_table(rows=rows, part="time series (fortune500_100_days.csv)")
'''),
    md('''
And GOOG's day 101 as each model forecasts it:
'''),
    code('''
g = list(tickers).index("GOOG")
fig = plot_series(google[:-1], 100, google[-1], y_label=" ")
ax = fig.axes[0]
for (name, pred), marker in zip(forecasts.items(), "o^s"):
    ax.plot([100], [pred[g]], marker, label=name)
ax.legend(loc="upper left")
fig
'''),
]

TEXT = [
    md('''
# Recurrent Neural Networks, part 2: text

*Applications of Data Science, class 18 (Giora Simchoni), with rnnlab in place of
TensorFlow/Keras.*  Text is a time series: tokenize it, make it a sequence, embed it, and
classify reviews with an MLP, a SimpleRNN, a Conv1D + SimpleRNN and an LSTM.  The lecture uses
560,000 Yelp reviews (not available offline); here the IMDB reviews (25,000 + 25,000, read by
`rnnlab.datasets.imdb` from `RNNLAB_DATA_DIR`) stand in.  At the end, back to the lecture's
opening question: *What is he going to say next?*

Set `RNNLAB_NOTEBOOK_QUICK=1` before starting Jupyter for a quick run (fewer reviews, epochs).
'''),
    first_cell('''
from rnnlab import config
''', '''
NUM_TRAIN = 1000 if QUICK else 25000   # IMDB training reviews (the lecture: 448,000 Yelp)
NUM_TEST = 500 if QUICK else 25000
EPOCHS = 2 if QUICK else 100           # the lecture: 100, with early stopping
LM_CHARS = 60_000 if QUICK else 3_000_000
LM_UNITS = 64 if QUICK else 256
LM_EPOCHS = 1 if QUICK else 20
config.set_random_seed(0)
print(f"quick: {QUICK}; {NUM_TRAIN} training reviews, up to {EPOCHS} epochs")
'''),
    md('''
## But we first have to tokenize it
'''),
    code('''
from rnnlab.preprocessing import sequence, text

sentences = [
    'I love Stats so much',
    'I love ML too',
    'I love DS',
    'I love NN'
]

tokenizer = text.Tokenizer(num_words = 10)
tokenizer.fit_on_texts(sentences)

print(tokenizer.word_counts)
print(tokenizer.word_index)
print(tokenizer.index_word)
'''),
    md('''
## Then make it a sequence
'''),
    code('''
text_sequences = tokenizer.texts_to_sequences(sentences)
print(text_sequences)

X = sequence.pad_sequences(text_sequences,
    padding='post', truncating='post', maxlen=4)
print(X)
'''),
    md('''
## Now we can embed it

Each word id becomes a trainable vector (here 3 numbers, drawn uniformly from ±0.05 as Keras).
'''),
    code('''
from rnnlab.layers import Embedding

embed_layer = Embedding(input_dim= (10 + 1), output_dim=3)
print(embed_layer(np.array([1])))

X_embedded = embed_layer(X)
print(X_embedded.shape)
print(X_embedded)
'''),
    md('''
## Reviews! But with sequences

The lecture's settings: the 10,000 most frequent words, each review cut or padded (at the end)
to 100 words.  The full IMDB splits come sorted by label, so the training reviews are shuffled
once (`fit`'s `validation_split` takes the last 10%).
'''),
    code('''
from rnnlab.datasets import imdb

(x_train, y_train), (x_test, y_test) = imdb.load_data(num_train=NUM_TRAIN, num_test=NUM_TEST,
                                                      seed=0)
order = np.random.default_rng(0).permutation(len(x_train))
x_train, y_train = [x_train[i] for i in order], y_train[order]
print(len(x_train), len(x_test), y_train.mean())
print(x_test[0][:200])
'''),
    code('''
max_features = 10000
seq_len = 100

tokenizer = text.Tokenizer(num_words=max_features)
tokenizer.fit_on_texts(x_train)
X_train = sequence.pad_sequences(tokenizer.texts_to_sequences(x_train), padding='post',
    truncating='post', maxlen=seq_len)
X_test = sequence.pad_sequences(tokenizer.texts_to_sequences(x_test), padding='post',
    truncating='post', maxlen=seq_len)

print(X_train.shape)
print(X_test.shape)
'''),
    md('''
## Reviews with MLP

Nothing prevents a simple network: an embedding per word, then dense layers.  (Without a
pooling layer it predicts a label per word position; that is the lecture's model, and why its
accuracy sits low.)  `LivePlot()` draws loss and accuracy, training and validation, after every
epoch; `verbose=1` shows tqdm's notebook progress bar.
'''),
    code('''
from rnnlab import Sequential
from rnnlab.callbacks import EarlyStopping
from rnnlab.layers import Dense
from rnnlab.notebook import LivePlot

n_cells = 10
epochs = EPOCHS
batch_size = 30
words_embed_dim = 50
callbacks = EarlyStopping(monitor='val_loss', patience=5)

mlp = Sequential([
    Embedding(max_features + 1, words_embed_dim),
    Dense(n_cells, activation='relu'),
    Dense(1, activation='sigmoid')
])

mlp.compile(loss = 'binary_crossentropy',
            optimizer='adam', metrics='accuracy')
mlp.summary()
'''),
    code('''
history = mlp.fit(X_train, y_train, validation_split=0.1, callbacks=[callbacks, LivePlot()],
                  batch_size=batch_size, epochs=epochs, verbose=1)
'''),
    code('''
accuracy = {}
accuracy["mlp"] = mlp.evaluate(X_test, y_test, verbose=0)[1]
print(accuracy["mlp"])   # the lecture (Yelp): 0.587
'''),
    md('''
## Reviews with RNN
'''),
    code('''
from rnnlab.layers import SimpleRNN

rnn = Sequential([
    Embedding(max_features + 1, words_embed_dim),
    SimpleRNN(n_cells, return_sequences=True),
    SimpleRNN(1, activation='sigmoid')
])

rnn.compile(loss = 'binary_crossentropy',
            optimizer='adam', metrics='accuracy')

rnn.summary()
'''),
    code('''
history = rnn.fit(X_train, y_train, validation_split=0.1, callbacks=[callbacks, LivePlot()],
                  batch_size=batch_size, epochs=epochs, verbose=1)

accuracy["simple_rnn"] = rnn.evaluate(X_test, y_test, verbose=0)[1]
print(accuracy["simple_rnn"])   # the lecture (Yelp): 0.816
'''),
    md('''
## 1D convolution layers

If you got it in 2D: $Z_i = b + \\sum_{v=0}^{f_w-1} X_{i-\\frac{f_w-1}{2}+v} \\cdot W_v$, or in
NumPy:
'''),
    code('''
np.convolve([0,1,2,1,0], [0.2,0.6,0.2][::-1], 'same')
'''),
    code('''
from rnnlab.layers import Conv1D

rnn_conv1d = Sequential([
    Embedding(max_features + 1, words_embed_dim),
    Conv1D(filters=5, kernel_size=2, strides=1),
    SimpleRNN(n_cells, return_sequences=True),
    SimpleRNN(1, activation='sigmoid')
])

rnn_conv1d.compile(loss = 'binary_crossentropy',
                    optimizer='adam', metrics='accuracy')

rnn_conv1d.summary()
'''),
    code('''
history = rnn_conv1d.fit(X_train, y_train, validation_split=0.1,
                         callbacks=[callbacks, LivePlot()], batch_size=batch_size,
                         epochs=epochs, verbose=1)

accuracy["conv1d_rnn"] = rnn_conv1d.evaluate(X_test, y_test, verbose=0)[1]
print(accuracy["conv1d_rnn"])   # the lecture (Yelp): 0.826
'''),
    md('''
## LSTM

An RNN cell has a short memory.  The LSTM keeps a state $C_t$ and learns how much of it to
forget and how much of the new candidate $\\tilde{C}_t$ to take in:

$$C_t = f_t \\cdot C_{t-1} + i_t \\cdot \\tilde{C}_t, \\qquad \\hat{Y}_t = o_t \\cdot \\tanh(C_t)$$

with gates $f_t, i_t, o_t = \\sigma(W_0 + X_t W_1 + \\hat{Y}_{t-1} W_2)$ (each its own weights)
and $\\tilde{C}_t = \\tanh(W_{0c} + X_t W_{1c} + \\hat{Y}_{t-1} W_{2c})$: four times the
SimpleRNN's parameters.
'''),
    code('''
from rnnlab.layers import LSTM

lstm = Sequential([
    Embedding(max_features + 1, words_embed_dim),
    LSTM(n_cells, return_sequences=True),
    LSTM(1, activation='sigmoid')
])

lstm.compile(loss = 'binary_crossentropy',
              optimizer='adam', metrics='accuracy')
lstm.summary()
'''),
    code('''
history = lstm.fit(X_train, y_train, validation_split=0.1, callbacks=[callbacks, LivePlot()],
                   batch_size=batch_size, epochs=epochs, verbose=1)

accuracy["lstm"] = lstm.evaluate(X_test, y_test, verbose=0)[1]
print(accuracy["lstm"])   # the lecture (Yelp): 0.923
'''),
    md('''
## Masking the padding

Padded at the end, a short review reaches the LSTM's last step through a run of zeros.
`Embedding(mask_zero=True)` tells the recurrent layers to skip the padding (the state is carried
over masked steps), and padding at the start keeps each review's last 100 words, where reviews
usually give their verdict.
'''),
    code('''
X_train_pre = sequence.pad_sequences(tokenizer.texts_to_sequences(x_train), maxlen=seq_len)
X_test_pre = sequence.pad_sequences(tokenizer.texts_to_sequences(x_test), maxlen=seq_len)

lstm_masked = Sequential([
    Embedding(max_features + 1, words_embed_dim, mask_zero=True),
    LSTM(n_cells, return_sequences=True),
    LSTM(1, activation='sigmoid')
])
lstm_masked.compile(loss = 'binary_crossentropy',
                    optimizer='adam', metrics='accuracy')
history = lstm_masked.fit(X_train_pre, y_train, validation_split=0.1,
                          callbacks=[callbacks, LivePlot()], batch_size=batch_size,
                          epochs=epochs, verbose=1)

accuracy["lstm_masked"] = lstm_masked.evaluate(X_test_pre, y_test, verbose=0)[1]
print(accuracy["lstm_masked"])
'''),
    md('''
## Lecture vs rnnlab

The lecture's accuracies are on Yelp (448,000 training reviews); these are on IMDB with the
sizes of the first cell, so they compare in order, not in value.
'''),
    code('''
from rnnlab import report
from rnnlab.lecture.results import Row, fmt
from rnnlab.lecture.text import LABELS, LECTURE_YELP

note = f"IMDB, {len(x_train):,} training reviews, up to {epochs} epochs"
rows = [Row(f"{LABELS[kind]}: test accuracy", fmt(LECTURE_YELP.get(kind), 3), fmt(acc, 4), note)
        for kind, acc in accuracy.items()]
report.results_table(rows=rows, part="text (IMDB)")
'''),
    md('''
## What is he going to say next?

The lecture opens with a speech cut mid-sentence.  A language model answers one character at a
time: an `Embedding → LSTM → Dense(softmax)` network trained to predict each next character of
the review text (`rnnlab.generation`), judged by held-out bits per character against two
baselines that know only character frequencies (unigram) or the previous character (bigram).
'''),
    code('''
from rnnlab.generation import (
    BigramModel,
    CharVocabulary,
    TextGenerator,
    UnigramModel,
    bits_per_token,
    sequence_windows,
)
from rnnlab.optimizers import Adam

corpus = "\\n".join(x_train)[:LM_CHARS]
cut = int(len(corpus) * 0.9)
train_text, held_text = corpus[:cut], corpus[cut:]
vocab = CharVocabulary.from_text(train_text, oov_token="\\ufffd", min_count=5)
train_ids, held_ids = vocab.encode(train_text), vocab.encode(held_text)
x, y = sequence_windows(train_ids, 100)
print(f"{len(train_text):,} training characters, {len(vocab)} symbols, {len(x):,} windows")

config.set_random_seed(0)
lm = Sequential([Embedding(len(vocab), 32), LSTM(LM_UNITS, return_sequences=True),
                 Dense(len(vocab), activation="softmax")])
lm.compile(optimizer=Adam(learning_rate=0.01 if QUICK else 0.003),
           loss="sparse_categorical_crossentropy")
lm.summary()
'''),
    code('''
history = lm.fit(x, y, batch_size=64, epochs=LM_EPOCHS, validation_split=0.05, verbose=1,
                 callbacks=[EarlyStopping(monitor="val_loss", patience=2,
                                          restore_best_weights=True), LivePlot()])
'''),
    code('''
bits = {"character LSTM": bits_per_token(lm, held_ids, streams=8),
        "unigram baseline": UnigramModel(train_ids, len(vocab)).bits_per_token(held_ids),
        "bigram baseline": BigramModel(train_ids, len(vocab)).bits_per_token(held_ids)}
report.results_table(rows=[Row(f"{name}: held-out bits per character", "-", fmt(b, 3))
                           for name, b in bits.items()], part="next character (IMDB)")
'''),
    code('''
generator = TextGenerator(lm, vocab)
prompt = "This movie was "
for temperature in (0.5, 1.0):
    print(f"temperature {temperature}:")
    print(prompt + generator.generate(prompt, 200, temperature=temperature, seed=0))
    print()
'''),
]


def write(name, cells) -> Path:
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.validate(nb)
    path = HERE / name
    nbformat.write(nb, str(path))
    return path


if __name__ == "__main__":
    for name, cells in (("timeseries.ipynb", TIMESERIES), ("text.ipynb", TEXT)):
        print(write(name, cells))
