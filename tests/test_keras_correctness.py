"""Keras 3's own recurrent-layer correctness tests, ported to rnnlab.

Source: keras-team/keras, ``keras/src/layers/rnn/{simple_rnn,lstm,gru,bidirectional}_test.py``
(mirror snapshot at commit 3422977a5e38fb2f7709aaa9a08e47f0c43d0f60).  Each case below names the
Keras file and test it comes from.  The expected numbers are copied verbatim from those tests
(they are data: never edit them to make a case pass) and compared with the tolerance the Keras
test uses: ``testing.TestCase.assertAllClose`` defaults to atol=1e-6, rtol=1e-6; the LSTM and
Bidirectional tests pass atol=1e-5, rtol=1e-5 explicitly.  The ``tpu_atol``/``tpu_rtol`` values
of the Keras tests apply only on TPUs and are not used here.

API translation (Keras -> rnnlab), nothing else is changed:

* ``layer(x, initial_state=s)`` -> ``layer([x, *s])`` (rnnlab takes eager initial states as a
  list; Keras's ``initial_state=`` keyword exists only for the functional graph);
* ``layer(x, mask=m)`` is the same call.

Left out (rnnlab lacks the argument or feature; see the module's commit message):
``stateful=True`` (all ``test_statefulness``), ``zero_output_for_mask=True``, LSTM's
``implementation=`` (Keras runs test_correctness with 1 and 2; it only selects how the matmuls
are grouped, so the case runs once here), GRU's ``test_legacy_implementation_argument``
(``from_config`` with the legacy ``implementation`` key), and ``rnn_test.py`` (its numeric cases
use custom test cells with ``layers.RNN``, not a built-in cell).

Every case runs with both kernel implementations ("reference" NumPy and "fast" compiled).
"""
import numpy as np
import pytest

from rnnlab import config, initializers
from rnnlab.layers import GRU, LSTM, Bidirectional, SimpleRNN

KERAS_DEFAULT = dict(atol=1e-6, rtol=1e-6)   # keras testing.TestCase.assertAllClose defaults
KERAS_1E5 = dict(atol=1e-5, rtol=1e-5)       # what lstm_test / bidirectional_test pass


def _seq(*shape):
    return np.arange(int(np.prod(shape))).reshape(shape).astype("float32")


def _const(k=0.01, r=0.02, b=0.03):
    """The initializers every Keras case uses (bidirectional_test also swaps k and b once)."""
    return dict(kernel_initializer=initializers.Constant(k),
                recurrent_initializer=initializers.Constant(r),
                bias_initializer=initializers.Constant(b))


CASES = []


def case(case_id, tol):
    """Register ``fn() -> [(actual, expected), ...]`` as one case compared at ``tol``."""
    def deco(fn):
        CASES.append(pytest.param(fn, tol, id=case_id))
        return fn
    return deco


@pytest.fixture(params=["reference", "fast"])
def kernels(request):
    """Run under each kernel implementation (tests/conftest.py restores the setting)."""
    config.set_kernels(request.param)
    return request.param


@pytest.mark.parametrize("fn,tol", CASES)
def test_keras_case(kernels, fn, tol):
    assert config.kernels() == kernels
    pairs = fn()
    assert pairs
    for i, (actual, expected) in enumerate(pairs):
        actual = np.asarray(actual)
        expected = np.asarray(expected)
        assert actual.shape == expected.shape, (i, actual.shape, expected.shape)
        np.testing.assert_allclose(actual, expected, err_msg=f"comparison {i}", **tol)


# =========================================================================== SimpleRNN

# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_correctness (default, unroll=True)
@case("simple_rnn_test::test_correctness[default,unroll]", KERAS_DEFAULT)
def _():
    seq = _seq(2, 3, 4)
    expected = np.array([
        [0.405432, 0.405432, 0.405432, 0.405432],
        [0.73605347, 0.73605347, 0.73605347, 0.73605347],
    ])
    return [(SimpleRNN(4, **_const())(seq), expected),
            (SimpleRNN(4, **_const(), unroll=True)(seq), expected)]


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_correctness (go_backwards,
# go_backwards + unroll)
@case("simple_rnn_test::test_correctness[go_backwards]", KERAS_DEFAULT)
def _():
    seq = _seq(2, 3, 4)
    expected = np.array([
        [0.11144729, 0.11144729, 0.11144729, 0.11144729],
        [0.5528889, 0.5528889, 0.5528889, 0.5528889],
    ])
    return [(SimpleRNN(4, **_const(), go_backwards=True)(seq), expected),
            (SimpleRNN(4, **_const(), go_backwards=True, unroll=True)(seq), expected)]


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_pass_initial_state
@case("simple_rnn_test::test_pass_initial_state", KERAS_DEFAULT)
def _():
    seq = _seq(2, 4, 3)
    h0 = np.arange(8).reshape((2, 4)).astype("float32")
    return [
        (SimpleRNN(4, **_const())([seq, h0]),
         np.array([
             [0.33621645, 0.33621645, 0.33621645, 0.33621645],
             [0.6262637, 0.6262637, 0.6262637, 0.6262637],
         ])),
        (SimpleRNN(4, **_const(), go_backwards=True)([seq, h0]),
         np.array([
             [0.07344437, 0.07344437, 0.07344437, 0.07344437],
             [0.43043602, 0.43043602, 0.43043602, 0.43043602],
         ])),
    ]


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_masking (unroll=True, last output)
@case("simple_rnn_test::test_masking[unroll]", KERAS_DEFAULT)
def _():
    seq = _seq(2, 4, 3)
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    out = SimpleRNN(4, **_const(), unroll=True)(seq, mask=mask)
    return [(out, np.array([
        [0.32951632, 0.32951632, 0.32951632, 0.32951632],
        [0.61799484, 0.61799484, 0.61799484, 0.61799484],
    ]))]


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_masking (return_sequences=True;
# masked steps repeat the previous output since zero_output_for_mask defaults to False)
@case("simple_rnn_test::test_masking[return_sequences]", KERAS_DEFAULT)
def _():
    seq = _seq(2, 4, 3)
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    out = SimpleRNN(2, **_const(), return_sequences=True)(seq, mask=mask)
    return [
        (out[0], np.array([
            [0.0599281, 0.0599281],
            [0.15122814, 0.15122814],
            [0.15122814, 0.15122814],
            [0.32394567, 0.32394567],
        ])),
        (out[1], np.array([
            [0.3969304, 0.3969304],
            [0.3969304, 0.3969304],
            [0.3969304, 0.3969304],
            [0.608085, 0.608085],
        ])),
    ]


# keras/src/layers/rnn/simple_rnn_test.py::SimpleRNNTest::test_masking (go_backwards=True)
@case("simple_rnn_test::test_masking[go_backwards]", KERAS_DEFAULT)
def _():
    seq = _seq(2, 4, 3)
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    out = SimpleRNN(4, **_const(), go_backwards=True)(seq, mask=mask)
    return [(out, np.array([
        [0.07376196, 0.07376196, 0.07376196, 0.07376196],
        [0.43645123, 0.43645123, 0.43645123, 0.43645123],
    ]))]


# =========================================================================== LSTM
# (Keras parametrizes test_correctness over implementation=1, 2; rnnlab has no such argument.)

# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_correctness (default; unroll=True)
@case("lstm_test::test_correctness[default,unroll]", KERAS_1E5)
def _():
    seq = _seq(3, 6, 4)
    expected = np.array([
        [0.6288687, 0.6288687, 0.6288687],
        [0.86899155, 0.86899155, 0.86899155],
        [0.9460773, 0.9460773, 0.9460773],
    ])
    return [(LSTM(3, **_const())(seq), expected),
            (LSTM(3, **_const(), unroll=True)(seq), expected)]


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_correctness (go_backwards=True)
@case("lstm_test::test_correctness[go_backwards]", KERAS_1E5)
def _():
    seq = _seq(3, 6, 4)
    return [(LSTM(3, **_const(), go_backwards=True)(seq), np.array([
        [0.35622165, 0.35622165, 0.35622165],
        [0.74789524, 0.74789524, 0.74789524],
        [0.8872726, 0.8872726, 0.8872726],
    ]))]


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_correctness (unit_forget_bias=False)
@case("lstm_test::test_correctness[unit_forget_bias=False]", KERAS_1E5)
def _():
    seq = _seq(3, 6, 4)
    return [(LSTM(3, **_const(), unit_forget_bias=False)(seq), np.array([
        [0.57019705, 0.57019705, 0.57019705],
        [0.8661914, 0.8661914, 0.8661914],
        [0.9459622, 0.9459622, 0.9459622],
    ]))]


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_correctness (use_bias=False)
@case("lstm_test::test_correctness[use_bias=False]", KERAS_1E5)
def _():
    seq = _seq(3, 6, 4)
    return [(LSTM(3, **_const(), use_bias=False)(seq), np.array([
        [0.54986924, 0.54986924, 0.54986924],
        [0.86226785, 0.86226785, 0.86226785],
        [0.9443936, 0.9443936, 0.9443936],
    ]))]


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_pass_initial_state
@case("lstm_test::test_pass_initial_state", KERAS_1E5)
def _():
    seq = _seq(2, 4, 3)
    h0 = np.arange(4).reshape((2, 2)).astype("float32")
    c0 = np.arange(4).reshape((2, 2)).astype("float32")
    return [
        (LSTM(2, **_const())([seq, h0, c0]),
         np.array([[0.20574439, 0.3558822], [0.64930826, 0.66276]])),
        (LSTM(2, **_const(), go_backwards=True)([seq, h0, c0]),
         np.array([[0.13281618, 0.2790356], [0.5839337, 0.5992567]])),
    ]


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_masking (unroll=True, last output)
@case("lstm_test::test_masking[unroll]", KERAS_1E5)
def _():
    seq = _seq(2, 4, 3)
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    out = LSTM(2, **_const(), unroll=True)(seq, mask=mask)
    return [(out, np.array([[0.11755939, 0.11755939], [0.28556206, 0.28556206]]))]


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_masking (return_sequences=True)
@case("lstm_test::test_masking[return_sequences]", KERAS_1E5)
def _():
    seq = _seq(2, 4, 3)
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    out = LSTM(2, **_const(), return_sequences=True)(seq, mask=mask)
    return [
        (out[0], np.array([
            [0.01588910, 0.01588910],
            [0.05552048, 0.05552048],
            [0.11755939, 0.11755939],
            [0.11755939, 0.11755939],
        ])),
        (out[1], np.array([
            [0.14185596, 0.14185596],
            [0.28556206, 0.28556206],
            [0.28556206, 0.28556206],
            [0.28556206, 0.28556206],
        ])),
    ]


# keras/src/layers/rnn/lstm_test.py::LSTMTest::test_masking (go_backwards=True, backwards_mask)
@case("lstm_test::test_masking[go_backwards]", KERAS_1E5)
def _():
    seq = _seq(2, 4, 3)
    backwards_mask = np.array([[False, True, True, True], [False, False, True, True]])
    out = LSTM(2, **_const(), go_backwards=True)(seq, mask=backwards_mask)
    return [(out, np.array([[0.15341201, 0.15341201], [0.3844719, 0.3844719]]))]


# =========================================================================== GRU
# (Keras parametrizes test_correctness over implementation=1, 2 but never passes it to the layer.)

# keras/src/layers/rnn/gru_test.py::GRUTest::test_correctness (default reset_after=True; unroll)
@case("gru_test::test_correctness[default,unroll]", KERAS_1E5)
def _():
    seq = _seq(3, 6, 4)
    expected = np.array([
        [0.5217289, 0.5217289, 0.5217289],
        [0.6371659, 0.6371659, 0.6371659],
        [0.39384964, 0.39384964, 0.3938496],
    ])
    return [(GRU(3, **_const())(seq), expected),
            (GRU(3, **_const(), unroll=True)(seq), expected)]


# keras/src/layers/rnn/gru_test.py::GRUTest::test_correctness (go_backwards=True)
@case("gru_test::test_correctness[go_backwards]", KERAS_1E5)
def _():
    seq = _seq(3, 6, 4)
    return [(GRU(3, **_const(), go_backwards=True)(seq), np.array([
        [0.24406259, 0.24406259, 0.24406259],
        [0.611516, 0.611516, 0.611516],
        [0.3928808, 0.3928808, 0.3928808],
    ]))]


# keras/src/layers/rnn/gru_test.py::GRUTest::test_correctness (reset_after=False)
@case("gru_test::test_correctness[reset_after=False]", KERAS_1E5)
def _():
    seq = _seq(3, 6, 4)
    return [(GRU(3, **_const(), reset_after=False)(seq), np.array([
        [0.51447755, 0.51447755, 0.51447755],
        [0.6426879, 0.6426879, 0.6426879],
        [0.40208298, 0.40208298, 0.40208298],
    ]))]


# keras/src/layers/rnn/gru_test.py::GRUTest::test_correctness (use_bias=False)
@case("gru_test::test_correctness[use_bias=False]", KERAS_1E5)
def _():
    seq = _seq(3, 6, 4)
    return [(GRU(3, **_const(), use_bias=False)(seq), np.array([
        [0.49988455, 0.49988455, 0.49988455],
        [0.64701194, 0.64701194, 0.64701194],
        [0.4103359, 0.4103359, 0.4103359],
    ]))]


# keras/src/layers/rnn/gru_test.py::GRUTest::test_pass_initial_state
@case("gru_test::test_pass_initial_state", KERAS_DEFAULT)
def _():
    seq = _seq(2, 4, 3)
    h0 = np.arange(4).reshape((2, 2)).astype("float32")
    return [
        (GRU(2, **_const())([seq, h0]),
         np.array([[0.23774096, 0.33508456], [0.83659905, 1.0227708]])),
        (GRU(2, **_const(), go_backwards=True)([seq, h0]),
         np.array([[0.13486053, 0.23261218], [0.78257304, 0.9691353]])),
    ]


# keras/src/layers/rnn/gru_test.py::GRUTest::test_pass_return_state (go_backwards False, True)
@case("gru_test::test_pass_return_state", KERAS_DEFAULT)
def _():
    seq = _seq(2, 4, 3)
    h0 = np.arange(4).reshape((2, 2)).astype("float32")
    out_f, state_f = GRU(2, **_const(), return_state=True)([seq, h0])
    out_b, state_b = GRU(2, **_const(), return_state=True, go_backwards=True)([seq, h0])
    return [
        (out_f, np.array([[0.23774096, 0.33508456], [0.83659905, 1.0227708]])),
        (out_f, state_f),
        (out_b, np.array([[0.13486053, 0.23261218], [0.78257304, 0.9691353]])),
        (out_b, state_b),
    ]


# keras/src/layers/rnn/gru_test.py::GRUTest::test_masking (unroll=True, last output)
@case("gru_test::test_masking[unroll]", KERAS_DEFAULT)
def _():
    seq = _seq(2, 4, 3)
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    out = GRU(2, **_const(), unroll=True)(seq, mask=mask)
    return [(out, np.array([[0.19393763, 0.19393763], [0.30818558, 0.30818558]]))]


# keras/src/layers/rnn/gru_test.py::GRUTest::test_masking (return_sequences=True)
@case("gru_test::test_masking[return_sequences]", KERAS_DEFAULT)
def _():
    seq = _seq(2, 4, 3)
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    out = GRU(2, **_const(), return_sequences=True)(seq, mask=mask)
    return [
        (out[0], np.array([
            [0.03606692, 0.03606692],
            [0.09497581, 0.09497581],
            [0.09497581, 0.09497581],
            [0.19393763, 0.19393763],
        ])),
        (out[1], np.array([
            [0.16051409, 0.16051409],
            [0.16051409, 0.16051409],
            [0.16051409, 0.16051409],
            [0.30818558, 0.30818558],
        ])),
    ]


# keras/src/layers/rnn/gru_test.py::GRUTest::test_masking (go_backwards=True)
@case("gru_test::test_masking[go_backwards]", KERAS_DEFAULT)
def _():
    seq = _seq(2, 4, 3)
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    out = GRU(2, **_const(), go_backwards=True)(seq, mask=mask)
    return [(out, np.array([[0.11669192, 0.11669192], [0.28380975, 0.28380975]]))]


# =========================================================================== Bidirectional

# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_correctness (merge_mode
# "concat" default, "ave", None)
@case("bidirectional_test::test_correctness[concat,ave,None]", KERAS_1E5)
def _():
    seq = _seq(2, 3, 4)
    forward_layer = SimpleRNN(2, **_const())
    concat = Bidirectional(layer=forward_layer)(seq)
    ave = Bidirectional(layer=forward_layer, merge_mode="ave")(seq)
    output1, output2 = Bidirectional(layer=forward_layer, merge_mode=None)(seq)
    return [
        (concat, np.array([
            [0.39687276, 0.39687276, 0.10004295, 0.10004295],
            [0.7237238, 0.7237238, 0.53391594, 0.53391594],
        ])),
        (ave, np.array([[0.24845785, 0.24845785], [0.6288199, 0.6288199]])),
        (output1, np.array([[0.39687276, 0.39687276], [0.7237238, 0.7237238]])),
        (output2, np.array([[0.10004295, 0.10004295], [0.53391594, 0.53391594]])),
    ]


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_correctness (explicit
# backward_layer with other constants, merge_mode="mul")
@case("bidirectional_test::test_correctness[backward_layer,mul]", KERAS_1E5)
def _():
    seq = _seq(2, 3, 4)
    forward_layer = SimpleRNN(2, **_const())
    backward_layer = SimpleRNN(2, **_const(k=0.03, r=0.02, b=0.01), go_backwards=True)
    out = Bidirectional(layer=forward_layer, backward_layer=backward_layer,
                        merge_mode="mul")(seq)
    return [(out, np.array([[0.08374989, 0.08374989], [0.6740834, 0.6740834]]))]


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_correctness (GRU,
# return_sequences=True, merge_mode="sum")
@case("bidirectional_test::test_correctness[gru,return_sequences,sum]", KERAS_1E5)
def _():
    seq = _seq(2, 3, 4)
    forward_layer = GRU(2, **_const(), return_sequences=True)
    out = Bidirectional(layer=forward_layer, merge_mode="sum")(seq)
    return [(out, np.array([
        [
            [0.20937867, 0.20937867],
            [0.34462988, 0.34462988],
            [0.40290534, 0.40290534],
        ],
        [
            [0.59829646, 0.59829646],
            [0.6734641, 0.6734641],
            [0.6479671, 0.6479671],
        ],
    ]))]


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_pass_initial_state
# (LSTM; states are [forward h, forward c, backward h, backward c])
@case("bidirectional_test::test_pass_initial_state", KERAS_1E5)
def _():
    seq = _seq(2, 4, 3)
    initial_state = [np.arange(4).reshape((2, 2)).astype("float32") * k for k in (1, 2, 3, 4)]
    out = Bidirectional(layer=LSTM(2, **_const()))([seq] + initial_state)
    return [(out, np.array([
        [0.20794602, 0.4577124, 0.14046375, 0.48191673],
        [0.6682636, 0.6711909, 0.60943645, 0.60950446],
    ]))]


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_masking (GRU, concat)
@case("bidirectional_test::test_masking", KERAS_1E5)
def _():
    seq = _seq(2, 4, 3)
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    out = Bidirectional(layer=GRU(2, **_const()))(seq, mask=mask)
    return [(out, np.array([
        [0.19393763, 0.19393763, 0.11669192, 0.11669192],
        [0.30818558, 0.30818558, 0.28380975, 0.28380975],
    ]))]


# keras/src/layers/rnn/bidirectional_test.py::SimpleRNNTest::test_return_state (LSTM)
@case("bidirectional_test::test_return_state", KERAS_1E5)
def _():
    seq = _seq(2, 4, 3)
    output, h1, c1, h2, c2 = Bidirectional(layer=LSTM(2, **_const(), return_state=True))(seq)
    return [
        (output, np.array([
            [0.1990008, 0.1990008, 0.12659755, 0.12659755],
            [0.52335435, 0.52335435, 0.44717982, 0.44717982],
        ])),
        (h1, np.array([[0.1990008, 0.1990008], [0.52335435, 0.52335435]])),
        (c1, np.array([[0.35567185, 0.35567185], [1.0492687, 1.0492687]])),
        (h2, np.array([[0.12659755, 0.12659755], [0.44717982, 0.44717982]])),
        (c2, np.array([[0.2501858, 0.2501858], [0.941473, 0.941473]])),
    ]
