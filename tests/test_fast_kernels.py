"""The compiled fast path (rnnlab.kernels.compiled, CompiledOps) against the plain-NumPy reference,
and on its own against finite differences: recurrent cells, Embedding gradient, Conv1D, fused Adam,
training."""
import subprocess
import sys

import numpy as np
import pytest

import rnnlab
from blasutil import counting_splits
from gradcheck import check_layer, rel_error
from rnnlab import config
from rnnlab.kernels import activations as A
from rnnlab.kernels import ops as ops_mod
from rnnlab.kernels.compiled import CompiledOps, blas
from rnnlab.kernels.compiled import activations as fast_act
from rnnlab.kernels.compiled import conv as conv_fast
from rnnlab.kernels.compiled import embedding as fast_emb
from rnnlab.kernels.compiled import lstm as fast_lstm
from rnnlab.kernels.ops import ReferenceOps, get_ops
from rnnlab.kernels.reference import conv as conv_ref
from rnnlab.kernels.reference import embedding as emb_ref
from rnnlab.kernels.reference import gru as gru_k
from rnnlab.kernels.reference import lstm as lstm_k
from rnnlab.kernels.reference import simple_rnn as rnn_k
from rnnlab.layers.conv import Conv1D
from rnnlab.layers.embedding import Embedding
from rnnlab.layers.recurrent import GRU, LSTM, SimpleRNN
from rnnlab.optimizers import Adam
from rnnlab.runtime import split_threads

TOL = {np.float64: 1e-10, np.float32: 1e-5}
# cell name: (name in the Ops, gates, states, extra keywords)
CELLS = {
    "simple_rnn": ("simple_rnn", 1, 1, {}),
    "lstm": ("lstm", 4, 2, {}),
    "gru": ("gru", 3, 1, {"reset_after": True}),
    "gru_before": ("gru", 3, 1, {"reset_after": False}),
}
LAYERS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU,
          "gru_before": lambda u, **kw: GRU(u, reset_after=False, **kw)}


def _kernel_pair(cell, seed, dtype, rho=False, sm=False, bias=True, acts=None, shape=None):
    """Run reference and fast forward+backward on the same random data; return both results."""
    name, ng, ns, kw = CELLS[cell]
    r = np.random.default_rng(seed)
    n, t, m, u = shape or (int(r.integers(1, 5)), int(r.integers(1, 7)), int(r.integers(1, 4)),
                           int(r.integers(1, 5)))
    kw = dict(kw, **(acts or {}))
    # float32: keep pre-activations out of deep saturation, where 1 - y² of a float32 tanh
    # cancels to a few significant digits in either implementation (a 1-ulp difference in y
    # becomes > 1e-5 there); float64 uses the full scale.
    s = 1.0 if dtype == np.float64 else 0.5
    x = r.normal(size=(n, t, m)).astype(dtype)
    W = r.normal(scale=0.5, size=(m, ng * u)).astype(dtype)
    U = r.normal(scale=0.5, size=(u, ng * u)).astype(dtype)
    b = None
    if bias:
        b = r.normal(scale=s, size=(2, ng * u) if kw.get("reset_after") else (ng * u,)
                     ).astype(dtype)
    states = [r.normal(scale=s, size=(n, u)).astype(dtype) for _ in range(ns)]
    rmask = ((r.random((n, u)) < 0.7) / 0.7).astype(dtype) if rho else None
    smask = r.random((n, t)) < 0.6 if sm else None
    d_out = r.normal(size=(n, t, u)).astype(dtype)
    d_fin = [r.normal(size=(n, u)).astype(dtype) for _ in range(ns)]
    res = {}
    weights = {"kernel": W, "recurrent_kernel": U}
    if b is not None:
        weights["bias"] = b
    for kind in ("reference", "fast"):
        ops = get_ops(kind)
        fwd, bwd = getattr(ops, name + "_forward"), getattr(ops, name + "_backward")
        out, finals, cache = fwd(x, tuple(states), weights, rmask, smask, **kw)
        assert isinstance(finals, tuple) and len(finals) == ns
        assert isinstance(cache, tuple) and hasattr(cache, "_fields")      # a NamedTuple
        dx, d_init, grads = bwd(d_out, tuple(d_fin), cache)
        assert isinstance(d_init, tuple) and len(d_init) == ns
        assert list(grads) == ["kernel", "recurrent_kernel"] + (["bias"] if bias else [])
        # the order of the old positional results: outputs, finals, dx, d_initial, dW, dU, db
        res[kind] = ([out, *finals, dx, *d_init, grads["kernel"], grads["recurrent_kernel"],
                      grads.get("bias")])
    return res


def _assert_pair(res, dtype):
    ref, fast = res["reference"], res["fast"]
    assert len(ref) == len(fast)
    for i, (a, b) in enumerate(zip(ref, fast)):
        if a is None:
            assert b is None, f"result {i}: reference None, fast not"
            continue
        assert a.shape == b.shape and b.dtype == dtype, (i, a.shape, b.shape, b.dtype)
        assert rel_error(a, b) < TOL[dtype], (i, rel_error(a, b))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("opts", [(False, False, True), (True, True, True), (True, False, False),
                                  (False, True, False)], ids=["plain", "masks", "rho-nobias",
                                                              "steps-nobias"])
def test_kernels_equal_reference(cell, dtype, opts):
    rho, sm, bias = opts
    for seed in range(3):
        _assert_pair(_kernel_pair(cell, seed, dtype, rho, sm, bias), dtype)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 6, 2, 3), (4, 1, 3, 2)])
def test_kernels_batch_one_and_time_one(cell, shape):
    for dtype in (np.float64, np.float32):
        _assert_pair(_kernel_pair(cell, 7, dtype, rho=True, sm=True, shape=shape), dtype)


@pytest.mark.parametrize("cell", list(CELLS))
def test_kernels_every_activation(cell):
    names = A.ELEMENTWISE
    for i, act in enumerate(names):
        acts = {"activation": act}
        if cell != "simple_rnn":   # pair each activation with another as recurrent_activation
            acts["recurrent_activation"] = names[(i + 3) % len(names)]
        _assert_pair(_kernel_pair(cell, 100 + i, np.float64, rho=True, sm=True, acts=acts),
                     np.float64)
    for act in ("tanh", "sigmoid", "relu", "hard_sigmoid"):
        acts = {"activation": act} if cell == "simple_rnn" else {"recurrent_activation": act}
        _assert_pair(_kernel_pair(cell, 5, np.float32, acts=acts), np.float32)
    # the lecture's last layer: sigmoid output with the default sigmoid gates (LSTM's one-loop
    # gate path and inline derivatives cover it), with and without dropout and masks
    for dtype in (np.float32, np.float64):
        for opts in ((False, False), (True, True)):
            _assert_pair(_kernel_pair(cell, 6, dtype, *opts, acts={"activation": "sigmoid"}),
                         dtype)


@pytest.fixture
def split_products(monkeypatch):
    """Inside a compute_scope that holds BLAS to one thread, with every product (however small)
    split over Numba's threads; yields the list of (m, n, k) the split kernels ran."""
    if not blas.AVAILABLE:
        pytest.skip("NumPy's BLAS has no CBLAS GEMM symbols to call from Numba")
    with counting_splits(monkeypatch, split_everything=True) as calls:
        yield calls
    assert split_threads() == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["NN", "TN", "NT", "TT"])
@pytest.mark.parametrize("m", [1, 2, 7, 301])
def test_split_matmul_equals_numpy(split_products, dtype, layout, m):
    """Row blocks of C = op(A)·op(B) from one GEMM call each, on any split (m below, at and above
    the number of threads) and either operand transposed, equal one np.matmul."""
    r = np.random.default_rng(m)
    k, n = 13, 5
    a = r.normal(size=(m, k) if layout[0] == "N" else (k, m)).astype(dtype)
    b = r.normal(size=(k, n) if layout[1] == "N" else (n, k)).astype(dtype)
    a = a if layout[0] == "N" else a.T
    b = b if layout[1] == "N" else b.T
    got = blas.matmul(a, b)
    assert split_products == [(m, n, k)]
    assert got.shape == (m, n) and got.dtype == dtype
    assert rel_error(got, np.matmul(a, b)) < TOL[dtype] / 100
    # strided operands are not GEMM operands: np.matmul takes them
    a2, b2 = a[:, ::2], b[::2]
    assert rel_error(blas.matmul(a2, b2), np.matmul(a2, b2)) < TOL[dtype] / 100
    assert len(split_products) == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell", list(CELLS))
def test_kernels_equal_reference_with_split_products(split_products, cell, dtype):
    """The fast kernels inside a training scope, whose matrix products run split over Numba's
    threads, equal the reference."""
    for seed, opts in enumerate([(False, False, True), (True, True, True), (True, False, False)]):
        _assert_pair(_kernel_pair(cell, seed, dtype, *opts), dtype)
    assert split_products


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lstm_blas_step_path_equal_reference(monkeypatch, dtype):
    """Large ``units`` run the per-step product in BLAS; force that path on small shapes."""
    monkeypatch.setattr(fast_lstm, "BLAS_STEP_UNITS", 1)
    for seed, opts in enumerate([(False, False, True), (True, True, True), (True, False, False)]):
        _assert_pair(_kernel_pair("lstm", seed, dtype, *opts), dtype)


def test_unknown_or_softmax_activation_is_rejected():
    with pytest.raises(ValueError, match="softmax"):
        fast_act.code("softmax")
    with pytest.raises(ValueError, match="Unknown activation"):
        fast_act.code("nope")


# ----------------------------------------------------------------------------- layers
LAYER_OPTIONS = [
    {"return_sequences": True},
    {"return_state": True, "go_backwards": True},
    {"return_sequences": True, "return_state": True, "dropout": 0.3, "recurrent_dropout": 0.4},
    {"go_backwards": True, "use_bias": False, "dropout": 0.2},
]


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("opt", range(len(LAYER_OPTIONS)))
def test_layer_paths_equal(float64, cell, opt):
    """Whole layer (go_backwards, return_state, step masks, dropout masks, initial states)."""
    r = np.random.default_rng(opt)
    n, t, m, u = 3, 5, 2, 3
    kw = LAYER_OPTIONS[opt]
    layer = LAYERS[cell](u, **kw)
    layer.ensure_built((None, t, m))
    x = r.normal(size=(n, t, m))
    mask = r.random((n, t)) > 0.3
    states = [r.normal(size=(n, u)) for _ in range(CELLS[cell][2])]
    got = {}
    for kind in ("reference", "fast"):
        config.set_kernels(kind)
        layer.zero_grads()
        layer._reseed_for_check(11)
        out, back = layer.forward([x] + states, training=True, mask=mask)
        outs = out if isinstance(out, list) else [out]
        d = [np.random.default_rng(5 + i).normal(size=o.shape) for i, o in enumerate(outs)]
        dins = back(d if isinstance(out, list) else d[0])
        got[kind] = outs + list(dins) + [g.copy() for g in layer.grads.values()]
    for a, b in zip(got["reference"], got["fast"]):
        assert rel_error(a, b) < 1e-10


# ----------------------------------------------------------------------------- gradient checks
def _gradcheck_cases():
    cases = []
    for cell in CELLS:
        cases.append((cell, {"return_sequences": True, "activation": "relu"}, False))
        cases.append((cell, {"return_state": True, "go_backwards": True}, True))
        cases.append((cell, {"dropout": 0.3, "recurrent_dropout": 0.3, "use_bias": False,
                             "return_sequences": True}, False))
    return cases


@pytest.mark.parametrize("cell,kw,with_mask", _gradcheck_cases())
def test_recurrent_gradcheck_on_fast_path(float64, cell, kw, with_mask):
    config.set_kernels("fast")
    r = np.random.default_rng(len(cell) + len(kw))
    n, t, m, u = 3, 4, 2, 3
    layer = LAYERS[cell](u, **kw)
    layer.ensure_built((None, t, m))
    for k in layer.params:
        layer.params[k] = r.normal(scale=0.6, size=layer.params[k].shape)
        layer.grads[k] = np.zeros_like(layer.params[k])
    x = r.normal(size=(n, t, m))
    mask = (r.random((n, t)) > 0.3) if with_mask else None
    training = "dropout" in kw
    check_layer(layer, x, training=training, mask=mask, seed=2 if training else None)
    check_layer(layer, [x] + [r.normal(size=(n, u)) for _ in range(CELLS[cell][2])],
                training=training, mask=mask, seed=2 if training else None)


def test_embedding_gradcheck_on_fast_path(float64):
    config.set_kernels("fast")
    layer = Embedding(7, 3)
    ids = np.array([[1, 2, 2, 6], [0, 2, 6, 6]])         # repeated ids must add up
    errors = check_layer(layer, ids)
    assert set(errors) == {"embeddings"}


@pytest.mark.parametrize("padding,strides,dilation", [("valid", 1, 1), ("same", 2, 1),
                                                      ("causal", 1, 2), ("same", 1, 3)])
def test_conv1d_gradcheck_on_fast_path(float64, padding, strides, dilation):
    config.set_kernels("fast")
    x = np.random.default_rng(1).normal(size=(2, 7, 3))
    check_layer(Conv1D(2, 3, strides=strides, padding=padding, dilation_rate=dilation,
                       activation="tanh", bias_initializer="random_normal"), x)


# ----------------------------------------------------------------------------- embedding, conv
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ids", [(30, 100), (3, 7)], ids=["threads", "serial"])
def test_scatter_add_equals_np_add_at(dtype, ids):
    r = np.random.default_rng(0)
    idx = r.integers(0, 50, size=ids)
    vals = r.normal(size=ids + (8,)).astype(dtype)
    start = r.normal(size=(50, 8)).astype(dtype)
    ref = emb_ref.embedding_scatter_add(start.copy(), idx, vals)
    fast = get_ops("fast").embedding_scatter_add(start.copy(), idx, vals)
    np.testing.assert_array_equal(fast, ref)           # same order of additions: bit for bit
    for parts in (1, 2, 3, 64):     # the table's rows split in parts (64 > rows: empty parts)
        split = start.copy()
        fast_emb._scatter_add_par(split, idx.ravel(), vals.reshape(-1, 8), parts)
        np.testing.assert_array_equal(split, ref)
    with pytest.raises(IndexError, match="out of range"):
        get_ops("fast").embedding_scatter_add(start.copy(), np.array([50]), vals[0, :1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ids", [(30, 100), (3, 7), (700,)], ids=["batch", "small", "flat"])
def test_take_rows_equals_np_take(dtype, ids):
    r = np.random.default_rng(1)
    table = r.normal(size=(97, 5)).astype(dtype)
    idx = r.integers(0, 97, size=ids)
    got = get_ops("fast").embedding_gather(table, idx)
    assert got.shape == ids + (5,) and got.dtype == dtype
    np.testing.assert_array_equal(got, np.take(table, idx, axis=0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("padding,strides,dilation,k", [("valid", 1, 1, 3), ("same", 2, 1, 4),
                                                        ("causal", 1, 2, 2), ("same", 1, 1, 1),
                                                        ("valid", 3, 1, 2)])
def test_conv1d_kernels_equal_reference(dtype, padding, strides, dilation, k):
    r = np.random.default_rng(k)
    for n, t, c, f in [(1, 1 if padding != "valid" else k, 1, 1), (3, 9, 2, 4)]:
        x = r.normal(size=(n, t, c)).astype(dtype)
        W = r.normal(size=(k, c, f)).astype(dtype)
        b = r.normal(size=f).astype(dtype)
        geometry = conv_ref.conv1d_geometry(t, k, padding, strides, dilation)
        z1, c1 = conv_ref.conv1d_forward(x, W, b, geometry)
        z2, c2 = conv_fast.conv1d_forward(x, W, b, geometry)
        assert rel_error(z1, z2) < TOL[dtype]
        dz = r.normal(size=z1.shape).astype(dtype)
        g1 = conv_ref.conv1d_backward(dz, c1)
        g2 = conv_fast.conv1d_backward(dz, c2)
        for a, bb in zip(g1, g2):
            assert a.shape == bb.shape and rel_error(a, bb) < TOL[dtype]


# ----------------------------------------------------------------------------- Adam
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("shape", [(40, 7), (300, 120)])   # serial and parallel kernels
@pytest.mark.parametrize("zero_grads", [False, True])
def test_fused_adam_equals_reference(dtype, amsgrad, shape, zero_grads):
    from rnnlab.kernels.compiled.adam import PARALLEL_MIN
    assert (np.prod(shape) >= PARALLEL_MIN) == (shape[0] == 300)
    r = np.random.default_rng(2)
    p0 = r.normal(size=shape).astype(dtype)
    grads = [r.normal(size=p0.shape).astype(dtype) for _ in range(5)]
    result = {}
    for kind in ("reference", "fast"):
        config.set_kernels(kind)
        opt, p = Adam(learning_rate=0.01, amsgrad=amsgrad), p0.copy()
        for g in grads:
            g = g.copy()
            opt.apply([("w", p, g)], zero_grads=zero_grads)
            # cleared once read (the training loop's contract), or left as given
            np.testing.assert_array_equal(g, 0 if zero_grads else g)
            if not zero_grads:
                assert g.any()
        result[kind] = (p, *opt.state["w"])
    for a, b in zip(result["reference"], result["fast"]):
        assert a.dtype == b.dtype == dtype
        # same operations in the same precision: equal to the last bit (allow 1 ulp)
        np.testing.assert_allclose(b, a, rtol=np.finfo(dtype).eps * 2, atol=0)


# ----------------------------------------------------------------------------- training, config
def _train(kind):
    config.set_kernels(kind)
    config.set_random_seed(42)
    model = rnnlab.Sequential([Embedding(20, 4), Conv1D(3, 2, padding="causal"),
                               LSTM(3, return_sequences=True), GRU(3, return_sequences=True),
                               SimpleRNN(1, activation="sigmoid")])
    model.compile(optimizer=Adam(learning_rate=0.01), loss="binary_crossentropy")
    r = np.random.default_rng(0)
    x = r.integers(0, 20, size=(23, 6))
    y = r.integers(0, 2, size=(23, 1)).astype(float)
    model.fit(x, y, batch_size=5, epochs=2, verbose=0)
    return model.get_weights()


def test_training_both_paths_same_weights(float64):
    ref, fast = _train("reference"), _train("fast")
    assert len(ref) == len(fast) == 12
    for a, b in zip(ref, fast):
        assert rel_error(a, b) < 1e-10
    config.set_random_seed(42)
    assert any(rel_error(a, b) > 1e-3 for a, b in zip(_train("fast"), [w * 0 for w in ref]))


def test_kernel_choice_default_and_reference_selectable():
    out = subprocess.run([sys.executable, "-c", "import rnnlab; print(rnnlab.config.kernels())"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "fast"                 # numba is installed here
    config.set_kernels("reference")
    assert get_ops().simple_rnn_forward is rnn_k.simple_rnn_forward
    config.set_kernels("fast")
    assert get_ops().lstm_forward is fast_lstm.lstm_forward
    with pytest.raises(ValueError, match="Unknown kernels"):
        config.set_kernels("turbo")


def test_get_ops_follows_config_and_compiled_inherits_reference():
    """get_ops() gives one cached Ops per config.kernels(); CompiledOps is a ReferenceOps whose
    methods it does not override are the reference kernels themselves."""
    config.set_kernels("reference")
    ref = get_ops()
    assert type(ref) is ReferenceOps and ref.kind == "reference" and get_ops() is ref
    assert ref.lstm_forward is lstm_k.lstm_forward and ref.gru_backward is gru_k.gru_backward
    config.set_kernels("fast")
    fast = get_ops()
    assert type(fast) is CompiledOps and isinstance(fast, ReferenceOps) and fast.kind == "fast"
    assert get_ops() is fast and get_ops("reference") is ref and get_ops("fast") is fast
    config.set_kernels("reference")
    assert get_ops() is ref
    assert issubclass(CompiledOps, ReferenceOps)
    overridden = {"simple_rnn_forward", "simple_rnn_backward", "lstm_forward", "lstm_backward",
                  "gru_forward", "gru_backward", "conv1d_forward", "conv1d_backward", "matmul",
                  "embedding_gather", "embedding_scatter_add", "adam_update", "sequence_kernel"}
    public = [k for k in vars(ReferenceOps) if not k.startswith("_") and k != "kind"]
    assert overridden <= set(public)
    for name in public:
        own = vars(CompiledOps).get(name)
        if name in overridden:
            assert own is not None, name
        else:       # inherited: the reference kernel itself
            assert own is None and getattr(CompiledOps, name) is getattr(ReferenceOps, name)
            assert getattr(fast, name) is getattr(ref, name)
    assert fast.max_pool1d_forward is conv_ref.max_pool1d_forward
    assert fast.avg_pool1d_backward is conv_ref.avg_pool1d_backward
    with pytest.raises(ValueError, match="Unknown kernels"):
        get_ops("turbo")


def test_sequence_kernel_is_found_by_name():
    """A cell's fused kernel: the Ops' own methods for the built-in cells, None for a cell that
    has none (it then runs through RNN's step loop), never anything outside kernels.compiled."""
    ref, fast = get_ops("reference"), get_ops("fast")
    assert ref.sequence_kernel("lstm") == (lstm_k.lstm_forward, lstm_k.lstm_backward)
    assert fast.sequence_kernel("gru") == (CompiledOps.gru_forward, CompiledOps.gru_backward)
    assert fast.sequence_kernel("gru")[0] is not gru_k.gru_forward
    for name in ("peephole_lstm", "common", "../lstm", "os.path"):
        assert ref.sequence_kernel(name) is None
        assert fast.sequence_kernel(name) is None, name


def test_get_ops_fast_without_numba_is_a_clear_error(monkeypatch):
    """Asking for "fast" where Numba cannot be imported: a RuntimeError that says what to do."""
    monkeypatch.setattr(ops_mod, "_OPS", {})

    def no_numba(name):
        raise ModuleNotFoundError("No module named 'numba'", name="numba")
    monkeypatch.setattr(ops_mod.importlib, "import_module", no_numba)
    with pytest.raises(RuntimeError, match="Numba.*set_kernels\\('reference'\\)"):
        get_ops("fast")


def test_compiled_fallbacks_are_the_reference(monkeypatch):
    """CompiledOps falls back by inheritance: arrays its compiled code does not take go to
    ReferenceOps's method (super()), with the same result."""
    fast = get_ops("fast")
    calls = []
    for name in ("adam_update", "embedding_gather", "embedding_scatter_add"):
        real = getattr(ReferenceOps, name)

        def spy(*a, _real=real, _name=name, **k):
            calls.append(_name)
            return _real(*a, **k)
        monkeypatch.setattr(ReferenceOps, name, staticmethod(spy))
    from rnnlab.kernels.reference.optimizers import AdamStep
    p = np.ones((4, 6))[:, ::2]                   # not contiguous: no fused pass
    g, m, v = np.full(p.shape, 0.5), np.zeros(p.shape), np.zeros(p.shape)
    assert fast.adam_update(p, g, (m, v), AdamStep(np.float64(0.1), 0.9, 0.999, 1e-7)) is False
    assert calls == ["adam_update"] and m.any() and (p < 1).all()
    table = np.arange(12.0).reshape(6, 2)
    np.testing.assert_array_equal(fast.embedding_gather(table, np.array([[1, 5]])),
                                  table[[[1, 5]]])                 # small batch: reference
    target = np.zeros((6, 4))[:, ::2]
    fast.embedding_scatter_add(target, np.array([1, 1]), np.ones((2, 2)))
    assert target[1].tolist() == [2.0, 2.0]
    assert calls == ["adam_update", "embedding_gather", "embedding_scatter_add"]
