"""rnnlab.utils.timeseries_dataset_from_array against Keras 3.15.1's.

Keras's function needs TensorFlow or grain, neither of which is on these machines, so its own
tests are run here instead: the cases and numbers of keras/src/utils/timeseries_dataset_utils_test
.py (Keras 3.15.1, Apache License 2.0, the Keras authors) with its import changed; then the
shuffled order against Keras's algorithm written out independently (start positions
``arange(0, num_seqs, stride)`` shuffled by ``numpy.random.RandomState(seed)``)."""
import numpy as np
import pytest

from rnnlab.utils import timeseries_dataset_from_array


# ============================================================ Keras 3's own tests
def test_basics():
    data = np.arange(100)
    targets = data * 2
    dataset = timeseries_dataset_from_array(data, targets, sequence_length=9, batch_size=5)
    i = -1
    for i, batch in enumerate(dataset):        # Expect 19 batches
        assert len(batch) == 2
        inputs, targets = batch
        if i < 18:
            assert inputs.shape == (5, 9)
        if i == 18:
            assert inputs.shape == (2, 9)      # Last batch: size 2
        np.testing.assert_allclose(inputs[:, 0] * 2, targets)
        for j in range(min(5, len(inputs))):
            np.testing.assert_allclose(inputs[j], np.arange(i * 5 + j, i * 5 + j + 9))
    assert i == 18


def test_timeseries_regression():
    data = np.arange(10)
    offset = 3
    targets = data[offset:]
    dataset = timeseries_dataset_from_array(data, targets, sequence_length=offset,
                                            batch_size=1)
    i = 0
    for batch in dataset:
        assert len(batch) == 2
        inputs, targets = batch
        assert inputs.shape == (1, 3)
        np.testing.assert_allclose(targets[0], data[offset + i])
        np.testing.assert_allclose(inputs[0], data[i:i + offset])
        i += 1
    assert i == 7  # Expect 7 batches


def test_no_targets():
    data = np.arange(50)
    dataset = timeseries_dataset_from_array(data, None, sequence_length=10, batch_size=5)
    i = None
    for i, batch in enumerate(dataset):        # Expect 9 batches
        if i < 8:
            assert batch.shape == (5, 10)
        elif i == 8:
            assert batch.shape == (1, 10)
        for j in range(min(5, len(batch))):
            np.testing.assert_allclose(batch[j], np.arange(i * 5 + j, i * 5 + j + 10))
    assert i == 8


def test_shuffle():
    data = np.arange(10)
    targets = data * 2
    dataset = timeseries_dataset_from_array(data, targets, sequence_length=5, batch_size=1,
                                            shuffle=True, seed=123)
    x, y = next(iter(dataset))
    assert not np.allclose(x, np.arange(0, 5))
    np.testing.assert_allclose(x[:, 0] * 2, y)
    first_seq = x
    # a new iteration over the same dataset gives another order
    firsts = [next(iter(dataset))[0] for _ in range(5)]
    assert any(not np.array_equal(f, first_seq) for f in firsts)
    # the same seed, the same order
    dataset = timeseries_dataset_from_array(data, targets, sequence_length=5, batch_size=1,
                                            shuffle=True, seed=123)
    np.testing.assert_allclose(next(iter(dataset))[0], first_seq)


def test_sampling_rate():
    data = np.arange(100)
    targets = data * 2
    dataset = timeseries_dataset_from_array(data, targets, sequence_length=9, batch_size=5,
                                            sampling_rate=2)
    for i, batch in enumerate(dataset):
        assert len(batch) == 2
        inputs, targets = batch
        if i < 16:
            assert inputs.shape == (5, 9)
        if i == 16:
            assert inputs.shape == (4, 9)      # Last batch: size 4
        np.testing.assert_allclose(inputs[:, 0] * 2, targets)
        for j in range(min(5, len(inputs))):
            start_index = i * 5 + j
            end_index = start_index + 9 * 2
            np.testing.assert_allclose(inputs[j], np.arange(start_index, end_index, 2))


def test_sequence_stride():
    data = np.arange(100)
    targets = data * 2
    dataset = timeseries_dataset_from_array(data, targets, sequence_length=9, batch_size=5,
                                            sequence_stride=3)
    for i, batch in enumerate(dataset):
        assert len(batch) == 2
        inputs, targets = batch
        if i < 6:
            assert inputs.shape == (5, 9)
        if i == 6:
            assert inputs.shape == (1, 9)      # Last batch: size 1
        np.testing.assert_allclose(inputs[:, 0] * 2, targets)
        for j in range(min(5, len(inputs))):
            start_index = i * 5 * 3 + j * 3
            end_index = start_index + 9
            np.testing.assert_allclose(inputs[j], np.arange(start_index, end_index))


def test_start_and_end_index():
    data = np.arange(100)
    dataset = timeseries_dataset_from_array(data, None, sequence_length=9, batch_size=5,
                                            sequence_stride=3, sampling_rate=2,
                                            start_index=10, end_index=90)
    for batch in dataset:
        assert np.max(np.array(batch[0])) < 90
        assert np.min(np.array(batch[0])) > 9


@pytest.mark.parametrize("kwargs, message", [
    (dict(start_index=-1), "`start_index` must be "),
    (dict(start_index=11), "`start_index` must be "),
    (dict(end_index=-1), "`end_index` must be "), (dict(end_index=11), "`end_index` must be "),
    (dict(sampling_rate=0), "`sampling_rate` must be "),
    (dict(sequence_stride=0), "`sequence_stride` must be ")])
def test_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        timeseries_dataset_from_array(np.arange(10), None, 3, **kwargs)


def test_not_batched():
    data = np.arange(100)
    dataset = timeseries_dataset_from_array(data, None, sequence_length=9, batch_size=None,
                                            shuffle=True)
    sample = next(iter(dataset))
    assert len(sample.shape) == 1


# ============================================================ Keras's algorithm, written out
def _keras_windows(data, targets, length, stride, rate, start, end, seed):
    """Keras 3's _timeseries_dataset_tf without tf: the windows and targets in its order."""
    end = len(data) if end is None else end
    num_seqs = end - start - (length - 1) * rate
    if targets is not None:      # Keras: len(targets), and an index error past the end
        num_seqs = min(num_seqs, len(targets) - start)
    positions = np.arange(0, num_seqs, stride)
    if seed is not None:
        np.random.RandomState(seed).shuffle(positions)
    window = data[start:end]
    xs = np.stack([window[p:p + length * rate:rate] for p in positions])
    ys = None if targets is None else np.asarray(targets)[start:][positions]
    return xs, ys


@pytest.mark.parametrize("length, stride, rate, start, end, batch, seed", [
    (5, 1, 1, None, None, 4, None), (4, 2, 3, 5, 70, 6, None), (7, 3, 2, None, 60, 5, 42),
    (3, 1, 1, 2, None, 128, 7)])
def test_windows_and_order_equal_keras_algorithm(length, stride, rate, start, end, batch, seed):
    rng = np.random.default_rng(0)
    data, targets = rng.normal(size=(80, 2)), rng.normal(size=(75,))
    ds = timeseries_dataset_from_array(data, targets, length, sequence_stride=stride,
                                       sampling_rate=rate, batch_size=batch,
                                       shuffle=seed is not None, seed=seed,
                                       start_index=start, end_index=end)
    batches = list(ds)                        # one pass (each pass is reshuffled)
    xs = np.concatenate([b[0] for b in batches])
    ys = np.concatenate([b[1] for b in batches])
    kx, ky = _keras_windows(data, targets, length, stride, rate, start or 0, end, seed)
    assert np.array_equal(xs, kx) and np.array_equal(ys, ky)
    assert len(ds) == -(-len(kx) // batch)
