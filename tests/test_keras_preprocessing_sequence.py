"""keras-preprocessing's own tests of TimeseriesGenerator, skipgrams and make_sampling_table, run
on rnnlab's.

Source: keras-team/keras-preprocessing, tests/sequence_test.py (keras-preprocessing 1.1.2, MIT
License, Copyright (c) 2015 - 2018 the Keras authors): test_make_sampling_table,
test_skipgrams, test_TimeseriesGenerator_serde, test_TimeseriesGenerator and
test_TimeSeriesGenerator_doesnt_miss_any_sample, with the same cases and expected numbers;
only the import changed (``rnnlab.preprocessing.sequence`` for ``keras_preprocessing.sequence``)
and the serde test checks the windows too (keras-preprocessing's round trip shifts them by
``length``, see rnnlab.preprocessing.timeseries_generator).  After them, the same functions
against the installed keras-preprocessing 1.1.2 itself, on identical inputs."""
from math import ceil

import numpy as np
from numpy.testing import assert_allclose, assert_raises

np.unicode_ = np.str_  # keras-preprocessing 1.1.2 still uses the alias NumPy 2 removed
from keras_preprocessing import sequence as ksequence  # noqa: E402

from rnnlab import Sequential, config  # noqa: E402
from rnnlab.layers import Dense, SimpleRNN  # noqa: E402
from rnnlab.preprocessing import sequence  # noqa: E402


# ============================================================ keras-preprocessing's own tests
def test_make_sampling_table():
    a = sequence.make_sampling_table(3)
    assert_allclose(a, np.asarray([0.00315225, 0.00315225, 0.00547597]), rtol=.1)


def test_skipgrams():
    # test with no window size and binary labels
    couples, labels = sequence.skipgrams(np.arange(3), vocabulary_size=3)
    for couple in couples:
        assert couple[0] in [0, 1, 2] and couple[1] in [0, 1, 2]

    # test window size and categorical labels
    couples, labels = sequence.skipgrams(np.arange(5), vocabulary_size=5, window_size=1,
                                         categorical=True)
    for couple in couples:
        assert couple[0] - couple[1] <= 3
    for label in labels:
        assert len(label) == 2


def test_TimeseriesGenerator_serde():
    data = np.array([[i] for i in range(50)])
    targets = np.array([[i] for i in range(50)])

    data_gen = sequence.TimeseriesGenerator(data, targets, length=10, sampling_rate=2,
                                            batch_size=2)
    json_gen = data_gen.to_json()
    recovered_gen = sequence.timeseries_generator_from_json(json_gen)

    assert data_gen.batch_size == recovered_gen.batch_size
    assert data_gen.end_index == recovered_gen.end_index
    assert data_gen.length == recovered_gen.length
    assert data_gen.reverse == recovered_gen.reverse
    assert data_gen.sampling_rate == recovered_gen.sampling_rate
    assert data_gen.shuffle == recovered_gen.shuffle
    assert data_gen.start_index == recovered_gen.start_index      # keras: data_gen twice
    assert data_gen.stride == recovered_gen.stride                # keras: data_gen twice

    assert (data_gen.data == recovered_gen.data).all()
    assert (data_gen.targets == recovered_gen.targets).all()
    assert len(data_gen) == len(recovered_gen)
    for i in range(len(data_gen)):
        assert all(np.array_equal(a, b) for a, b in zip(data_gen[i], recovered_gen[i]))


def test_TimeseriesGenerator():
    data = np.array([[i] for i in range(50)])
    targets = np.array([[i] for i in range(50)])

    data_gen = sequence.TimeseriesGenerator(data, targets, length=10, sampling_rate=2,
                                            batch_size=2)
    assert len(data_gen) == 20
    assert (np.allclose(data_gen[0][0],
                        np.array([[[0], [2], [4], [6], [8]],
                                  [[1], [3], [5], [7], [9]]])))
    assert (np.allclose(data_gen[0][1], np.array([[10], [11]])))
    assert (np.allclose(data_gen[1][0],
                        np.array([[[2], [4], [6], [8], [10]],
                                  [[3], [5], [7], [9], [11]]])))
    assert (np.allclose(data_gen[1][1], np.array([[12], [13]])))

    data_gen = sequence.TimeseriesGenerator(data, targets, length=10, sampling_rate=2,
                                            reverse=True, batch_size=2)
    assert len(data_gen) == 20
    assert (np.allclose(data_gen[0][0],
                        np.array([[[8], [6], [4], [2], [0]],
                                  [[9], [7], [5], [3], [1]]])))
    assert (np.allclose(data_gen[0][1], np.array([[10], [11]])))

    data_gen = sequence.TimeseriesGenerator(data, targets, length=10, sampling_rate=2,
                                            shuffle=True, batch_size=1)
    batch = data_gen[0]
    r = batch[1][0][0]
    assert (np.allclose(batch[0], np.array([[[r - 10], [r - 8], [r - 6], [r - 4], [r - 2]]])))
    assert (np.allclose(batch[1], np.array([[r], ])))

    data_gen = sequence.TimeseriesGenerator(data, targets, length=10, sampling_rate=2,
                                            stride=2, batch_size=2)
    assert len(data_gen) == 10
    assert (np.allclose(data_gen[1][0],
                        np.array([[[4], [6], [8], [10], [12]],
                                  [[6], [8], [10], [12], [14]]])))
    assert (np.allclose(data_gen[1][1], np.array([[14], [16]])))

    data_gen = sequence.TimeseriesGenerator(data, targets, length=10, sampling_rate=2,
                                            start_index=10, end_index=30, batch_size=2)
    assert len(data_gen) == 6
    assert (np.allclose(data_gen[0][0],
                        np.array([[[10], [12], [14], [16], [18]],
                                  [[11], [13], [15], [17], [19]]])))
    assert (np.allclose(data_gen[0][1], np.array([[20], [21]])))

    data = np.array([np.random.random_sample((1, 2, 3, 4)) for i in range(50)])
    targets = np.array([np.random.random_sample((3, 2, 1)) for i in range(50)])
    data_gen = sequence.TimeseriesGenerator(data, targets, length=10, sampling_rate=2,
                                            start_index=10, end_index=30, batch_size=2)
    assert len(data_gen) == 6
    assert np.allclose(data_gen[0][0], np.array(
        [np.array(data[10:19:2]), np.array(data[11:20:2])]))
    assert (np.allclose(data_gen[0][1], np.array([targets[20], targets[21]])))

    with assert_raises(ValueError) as context:
        sequence.TimeseriesGenerator(data, targets, length=50)
    error = str(context.exception)
    assert '`start_index+length=50 > end_index=49` is disallowed' in error


def test_TimeSeriesGenerator_doesnt_miss_any_sample():
    x = np.array([[i] for i in range(10)])

    for length in range(3, 10):
        g = sequence.TimeseriesGenerator(x, x, length=length, batch_size=1)
        expected = max(0, len(x) - length)
        actual = len(g)

        assert expected == actual

        if len(g) > 0:
            # All elements in range(length, 10) should be used as current step
            expected = np.arange(length, 10).reshape(-1, 1)

            y = np.concatenate([g[ix][1] for ix in range(len(g))], axis=0)
            assert_allclose(y, expected)

    x = np.array([[i] for i in range(23)])

    strides = (1, 1, 5, 7, 3, 5, 3)
    lengths = (3, 3, 4, 3, 1, 3, 7)
    batch_sizes = (6, 6, 6, 5, 6, 6, 6)
    shuffles = (False, True, True, False, False, False, False)

    for stride, length, batch_size, shuffle in zip(strides, lengths, batch_sizes, shuffles):
        g = sequence.TimeseriesGenerator(x, x, length=length, sampling_rate=1, stride=stride,
                                         start_index=0, end_index=None, shuffle=shuffle,
                                         reverse=False, batch_size=batch_size)
        if shuffle:
            # all batches have the same size when shuffle is True.
            expected_sequences = ceil((23 - length) / float(batch_size * stride)) * batch_size
        else:
            # last batch will be different if `(samples - length) / stride`
            # is not a multiple of `batch_size`.
            expected_sequences = ceil((23 - length) / float(stride))

        expected_batches = ceil(expected_sequences / float(batch_size))

        y = [g[ix][1] for ix in range(len(g))]

        actual_sequences = sum(len(_y) for _y in y)
        actual_batches = len(y)

        assert expected_sequences == actual_sequences
        assert expected_batches == actual_batches


# ============================================================ against keras-preprocessing itself
def test_sampling_table_equals_keras_preprocessing():
    for size in (1, 2, 3, 10, 1000):
        for factor in (1e-5, 1e-3, 0.1):
            assert np.array_equal(sequence.make_sampling_table(size, factor),
                                  ksequence.make_sampling_table(size, factor))


def test_skipgrams_without_negatives_equal_keras_preprocessing_for_a_seed():
    words = np.random.default_rng(0).integers(0, 30, 60)
    for window, categorical, shuffle in [(4, False, True), (1, True, True), (2, False, False)]:
        ours = sequence.skipgrams(words, 30, window_size=window, negative_samples=0.0,
                                  shuffle=shuffle, categorical=categorical, seed=11)
        theirs = ksequence.skipgrams(list(words), 30, window_size=window,
                                     negative_samples=0.0, shuffle=shuffle,
                                     categorical=categorical, seed=11)
        assert ours == theirs


def test_skipgrams_negatives_follow_keras_counts_and_ranges():
    words = [3, 0, 5, 7, 7, 2, 9]
    couples, labels = sequence.skipgrams(words, 10, window_size=2, negative_samples=1.5,
                                         seed=1)
    kc, kl = ksequence.skipgrams(words, 10, window_size=2, negative_samples=1.5, seed=1)
    assert len(couples) == len(kc) and sorted(labels) == sorted(kl)
    positives = sorted(tuple(c) for c, lab in zip(couples, labels) if lab == 1)
    assert positives == sorted(tuple(c) for c, lab in zip(kc, kl) if lab == 1)
    assert all(1 <= c[1] < 10 for c, lab in zip(couples, labels) if lab == 0)
    # the same seed, the same pairs
    assert sequence.skipgrams(words, 10, window_size=2, negative_samples=1.5, seed=1) == \
        (couples, labels)


def test_timeseries_generator_equals_keras_preprocessing_batch_for_batch():
    rng = np.random.default_rng(2)
    data, targets = rng.normal(size=(80, 3)), rng.normal(size=(80, 2))
    for kw in [dict(length=7), dict(length=5, sampling_rate=2, stride=3, batch_size=4),
               dict(length=4, start_index=6, end_index=60, reverse=True, batch_size=5)]:
        ours, theirs = (sequence.TimeseriesGenerator(data, targets, **kw),
                        ksequence.TimeseriesGenerator(data, targets, **kw))
        assert len(ours) == len(theirs)
        for i in range(len(ours)):
            assert all(np.array_equal(a, b) for a, b in zip(ours[i], theirs[i]))


def test_timeseries_generator_json_loads_in_keras_preprocessing_with_the_same_windows():
    data = np.arange(40.0)[:, None]
    gen = sequence.TimeseriesGenerator(data, data, length=4, start_index=3, batch_size=5)
    theirs = ksequence.timeseries_generator_from_json(gen.to_json())
    assert len(theirs) == len(gen)
    assert all(np.array_equal(a, b) for a, b in zip(gen[1], theirs[1]))


def test_timeseries_generator_arguments_are_checked():
    data = np.arange(20.0)[:, None]
    for kw, message in [(dict(length=0), "length"), (dict(length=3, stride=0), "stride"),
                        (dict(length=3, batch_size=0), "batch_size"),
                        (dict(length=3, end_index=25), "end_index"),
                        (dict(length=3, shuffle="yes"), "shuffle")]:
        with assert_raises((TypeError, ValueError)) as context:
            sequence.TimeseriesGenerator(data, data, **kw)
        assert message in str(context.exception)
    with assert_raises(ValueError):
        sequence.TimeseriesGenerator(data, data[:5], length=3)


def test_fit_takes_a_timeseries_generator_as_the_windows_it_yields():
    series = np.sin(np.arange(60) / 5.0)[:, None]
    gen = sequence.TimeseriesGenerator(series, series, length=6, batch_size=8)
    x = np.concatenate([gen[i][0] for i in range(len(gen))])
    y = np.concatenate([gen[i][1] for i in range(len(gen))])
    weights = []
    for data in ((x, y), (gen,)):
        config.set_random_seed(3)
        model = Sequential([SimpleRNN(3, input_shape=(6, 1)), Dense(1)])
        model.compile("adam", "mse")
        if len(data) == 2:
            model.fit(*data, batch_size=8, epochs=2, shuffle=False, verbose=0)
        else:
            model.fit(gen, epochs=2, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights))
