"""TEMPORARY adapter (replaced by the kernels branch): the new Ops contract over the old kernels."""
from rnnlab import config
from rnnlab.kernels import gru, lstm, simple_rnn


class _Adapter:
    def __init__(self, kind):
        self.kind = kind

    def _mk(mod, name):
        def fwd(self, x, states, weights, rec_mask=None, step_mask=None, **opts):
            f, _ = mod.get_impl(self.kind)
            r = f(x, *states, weights["kernel"], weights["recurrent_kernel"], weights.get("bias"),
                  **opts, rec_mask=rec_mask, step_mask=step_mask)
            return r[0], tuple(r[1:-1]), (r[-1], weights.get("bias") is not None)

        def bwd(self, d_out, d_fin, cache):
            _, b = mod.get_impl(self.kind)
            c, has_bias = cache
            r = b(d_out, *d_fin, c)
            grads = {"kernel": r[-3], "recurrent_kernel": r[-2]}
            if has_bias:
                grads["bias"] = r[-1]
            return r[0], tuple(r[1:-3]), grads
        return fwd, bwd

    simple_rnn_forward, simple_rnn_backward = _mk(simple_rnn, "simple_rnn")
    lstm_forward, lstm_backward = _mk(lstm, "lstm")
    gru_forward, gru_backward = _mk(gru, "gru")


def get_ops(kind=None):
    return _Adapter(kind or config.kernels())
