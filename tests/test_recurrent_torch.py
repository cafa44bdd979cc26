"""SimpleRNN / LSTM / GRU against torch.nn.RNN / LSTM / GRU given identical weights (float64);
the layouts are in torch_layout.py."""
import numpy as np
import pytest
import torch

from gradcheck import rel_error
from rnnlab.layers.recurrent import GRU, LSTM, SimpleRNN
from torch_layout import load_torch_rnn, torch_rnn_grads

TOL = 1e-5


def _pair(cell, m, u, seed, **kw):
    """An rnnlab layer with random weights and the torch module holding the same weights."""
    r = np.random.default_rng(seed)
    act = kw.pop("activation", "tanh")
    layer = {"rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}[cell](u, activation=act, **kw)
    layer.ensure_built((None, None, m))
    for k in layer.params:
        layer.params[k] = r.normal(scale=0.5, size=layer.params[k].shape)
        layer.grads[k] = np.zeros_like(layer.params[k])
    if cell == "rnn":
        mod = torch.nn.RNN(m, u, batch_first=True, nonlinearity=act, dtype=torch.float64)
    else:
        mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](m, u, batch_first=True,
                                                               dtype=torch.float64)
    load_torch_rnn(mod, layer.params, cell)
    return layer, mod


def _torch_grads(cell, mod, u):
    """torch's parameter gradients in Keras's layouts: kernel, recurrent_kernel, bias."""
    if cell != "gru":
        # bias_ih and bias_hh enter the sum identically, so either one is dL/dbias
        np.testing.assert_allclose(mod.bias_ih_l0.grad.numpy(), mod.bias_hh_l0.grad.numpy(),
                                   rtol=1e-12, atol=1e-14)
    return torch_rnn_grads(mod, cell, u)


CASES = [
    dict(),
    dict(return_sequences=True),
    dict(return_state=True),
    dict(return_sequences=True, return_state=True),
    dict(go_backwards=True),
    dict(go_backwards=True, return_sequences=True, return_state=True),
    dict(return_sequences=True, return_state=True, initial_state=True),
    dict(go_backwards=True, return_state=True, initial_state=True),
]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_torch(float64, cell, case):
    kw = dict(CASES[case])
    use_init = kw.pop("initial_state", False)
    n, t, m, u = 3, 6, 4, 5
    layer, mod = _pair(cell, m, u, seed=case, **kw)
    r = np.random.default_rng(100 + case)
    x = r.normal(size=(n, t, m))
    n_states = 2 if cell == "lstm" else 1
    states = [r.normal(size=(n, u)) for _ in range(n_states)] if use_init else None

    # rnnlab
    out, back = layer.forward([x] + states if use_init else x)
    outs = out if isinstance(out, list) else [out]
    Rs = [r.normal(size=o.shape) for o in outs]
    d_in = back(Rs if isinstance(out, list) else Rs[0])
    d_in = d_in if isinstance(d_in, list) else [d_in]

    # torch on the same (or, for go_backwards, the time-reversed) sequence
    xt = torch.tensor(np.ascontiguousarray(x[:, ::-1] if kw.get("go_backwards") else x),
                      requires_grad=True)
    st = [torch.tensor(s[None], requires_grad=True) for s in states] if use_init else None
    if cell == "lstm":
        seq, (hT, cT) = mod(xt, tuple(st) if st else None)
        finals = [hT[0], cT[0]]
    else:
        seq, hT = mod(xt, st[0] if st else None)
        finals = [hT[0]]
    main = seq if kw.get("return_sequences") else seq[:, -1]
    t_outs = [main] + finals if kw.get("return_state") else [main]
    assert len(t_outs) == len(outs)
    for a, b in zip(outs, t_outs):
        assert rel_error(a, b.detach().numpy()) < TOL
    loss = sum((o * torch.from_numpy(R)).sum() for o, R in zip(t_outs, Rs))
    loss.backward()

    dx_t = xt.grad.numpy()
    if kw.get("go_backwards"):
        dx_t = dx_t[:, ::-1]
    assert rel_error(d_in[0], dx_t) < TOL
    if use_init:
        assert len(d_in) == 1 + n_states
        for d, s in zip(d_in[1:], st):
            assert rel_error(d, s.grad.numpy()[0]) < TOL
    for k, g in _torch_grads(cell, mod, u).items():
        assert rel_error(layer.grads[k], g) < TOL, k


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_right_padded_mask_matches_packed_sequence(float64, cell):
    """Masked trailing steps (Keras masking) = torch's packed variable-length sequences."""
    n, t, m, u = 4, 7, 3, 4
    layer, mod = _pair(cell, m, u, seed=11, return_state=True)
    r = np.random.default_rng(12)
    x = r.normal(size=(n, t, m))
    lengths = np.array([7, 3, 1, 5])
    mask = np.arange(t)[None, :] < lengths[:, None]
    out, back = layer.forward(x, mask=mask)
    Rs = [r.normal(size=o.shape) for o in out]
    dx = back(Rs)

    xt = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True,
                                                     enforce_sorted=False)
    if cell == "lstm":
        _, (hT, cT) = mod(packed)
        finals = [hT[0], cT[0]]
    else:
        _, hT = mod(packed)
        finals = [hT[0]]
    t_outs = [finals[0]] + finals           # last output = h at each row's last valid step
    for a, b in zip(out, t_outs):
        assert rel_error(a, b.detach().numpy()) < TOL
    sum((o * torch.from_numpy(R)).sum() for o, R in zip(t_outs, Rs)).backward()
    assert rel_error(dx, xt.grad.numpy()) < TOL
    np.testing.assert_array_equal(dx[~mask], 0.0)
    for k, g in _torch_grads(cell, mod, u).items():
        assert rel_error(layer.grads[k], g) < TOL, k


def test_simple_rnn_relu_matches_torch(float64):
    n, t, m, u = 4, 8, 3, 6
    layer, mod = _pair("rnn", m, u, seed=5, activation="relu", return_sequences=True)
    x = np.random.default_rng(6).normal(size=(n, t, m))
    out, back = layer.forward(x)
    R = np.random.default_rng(7).normal(size=out.shape)
    dx = back(R)
    xt = torch.tensor(x, requires_grad=True)
    seq, _ = mod(xt)
    assert (seq.detach().numpy() == 0).any()          # relu actually clips something
    assert rel_error(out, seq.detach().numpy()) < TOL
    (seq * torch.from_numpy(R)).sum().backward()
    assert rel_error(dx, xt.grad.numpy()) < TOL
    for k, g in _torch_grads("rnn", mod, u).items():
        assert rel_error(layer.grads[k], g) < TOL, k


def test_float32_forward_close_to_torch():
    """The default float32 path agrees with torch's float64 to float32 precision."""
    layer = LSTM(8, return_sequences=True)
    layer.ensure_built((None, None, 5))
    mod = torch.nn.LSTM(5, 8, batch_first=True, dtype=torch.float64)
    W, U, b = layer.get_weights()
    with torch.no_grad():
        mod.weight_ih_l0.copy_(torch.from_numpy(W.T.astype(np.float64)))
        mod.weight_hh_l0.copy_(torch.from_numpy(U.T.astype(np.float64)))
        mod.bias_ih_l0.copy_(torch.from_numpy(b.astype(np.float64)))
        mod.bias_hh_l0.zero_()
    x = np.random.default_rng(0).normal(size=(4, 20, 5)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, mod(torch.from_numpy(x.astype(np.float64)))[0].detach().numpy(),
                               atol=1e-5)
