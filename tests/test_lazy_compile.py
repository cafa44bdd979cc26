"""Background compilation (rnnlab.kernels.compiled.lazy): kernels missing from Numba's cache run
on the reference until a worker has compiled them; kernels in the cache run compiled at once.

The cold-cache tests run in a subprocess with an empty NUMBA_CACHE_DIR, so that nothing is
compiled there; the rest of the suite runs with config.compile_mode() == "blocking" (conftest).
"""
import io
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit

from rnnlab import config
from rnnlab.kernels import get_ops
from rnnlab.kernels.compiled import CompiledOps, LazyOps, make_ops
from rnnlab.kernels.compiled import simple_rnn as srnn_k
from rnnlab.kernels.compiled.compile_worker import CompilingProcess, serve
from rnnlab.kernels.compiled.lazy import NotCompiled, Pair, Tagged, cached_only
from rnnlab.kernels.ops import ReferenceOps


def _run_cold(code: str, tmp_path, timeout=300):
    """Run ``code`` in a fresh interpreter whose Numba cache is empty; return its stdout."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"),
               RNNLAB_COMPILE_MODE="background",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_cached_only_refuses_to_compile_and_leaves_the_kernel_usable():
    @njit
    def twice(a):
        return 2 * a

    with cached_only(), pytest.raises(NotCompiled, match="twice"):
        twice(1.5)
    assert twice(1.5) == 3.0               # compiled outside the block
    with cached_only():
        assert twice(2.5) == 5.0           # same signature: in memory, runs
        with pytest.raises(NotCompiled):
            twice(np.ones(2))              # a new signature would compile


def test_compile_mode_setting_is_validated():
    assert config.compile_mode() == "blocking"          # the suite's setting (conftest)
    with pytest.raises(ValueError, match="compile mode 'eager'"):
        config.set_compile_mode("eager")
    assert config.compile_mode() == "blocking"
    assert type(make_ops()) is CompiledOps and type(get_ops("fast")) is CompiledOps
    config.set_compile_mode("background")
    try:
        assert isinstance(get_ops("fast"), LazyOps) and get_ops("fast") is get_ops("fast")
    finally:
        config.set_compile_mode("blocking")
    assert type(get_ops("fast")) is CompiledOps


def test_workqueue_threading_layer_compiles_before_first_use():
    """Numba's workqueue layer cannot start parallel regions from two threads at once: with it,
    the background mode gives plain CompiledOps."""
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue", RNNLAB_COMPILE_MODE="background",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    code = ("from rnnlab import config; from rnnlab.kernels import get_ops; "
            "print(config.compile_mode(), type(get_ops('fast')).__name__)")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["background", "CompiledOps"]


def test_bad_environment_setting_is_a_clear_error(tmp_path):
    env = dict(os.environ, RNNLAB_COMPILE_MODE="later")
    res = subprocess.run([sys.executable, "-c", "import rnnlab"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode != 0
    assert "RNNLAB_COMPILE_MODE='later'" in res.stderr and "blocking" in res.stderr


def _srnn_args(rng, n=5, t=7, m=3, u=4, dt=np.float32):
    x = rng.standard_normal((n, t, m)).astype(dt)
    w = {"kernel": rng.standard_normal((m, u)).astype(dt),
         "recurrent_kernel": rng.standard_normal((u, u)).astype(dt),
         "bias": rng.standard_normal(u).astype(dt)}
    return x, (rng.standard_normal((n, u)).astype(dt),), w


def test_warm_kernels_run_compiled_at_once_bit_for_bit():
    """With the kernels compiled (here: in this process), LazyOps queues nothing and gives
    CompiledOps's results exactly: a warm cache keeps runs reproducible."""
    rng = np.random.default_rng(0)
    x, states, w = _srnn_args(rng)
    fast = CompiledOps()
    out_c, fin_c, cache_c = fast.simple_rnn_forward(x, states, w)
    grads_c = fast.simple_rnn_backward(np.ones_like(out_c), (np.ones_like(fin_c[0]),), cache_c)
    ops = LazyOps(start_worker=False)
    forward, backward = ops.sequence_kernel("simple_rnn")
    out, fin, cache = forward(x, states, w)
    assert isinstance(cache, Tagged) and cache.backward is srnn_k.simple_rnn_backward
    grads = backward(np.ones_like(out), (np.ones_like(fin[0]),), cache)
    assert ops.pending() == 0
    np.testing.assert_array_equal(out, out_c)
    for a, b in zip((grads[0], *grads[1], *grads[2].values()),
                    (grads_c[0], *grads_c[1], *grads_c[2].values())):
        np.testing.assert_array_equal(a, b)


def test_cold_kernels_run_on_the_reference_until_compiled(tmp_path):
    """In a process whose cache is empty: the first calls give the reference's results exactly
    and queue a compilation; a forward pass made by the reference is differentiated by the
    reference; once compiled, the calls give the compiled results exactly.  A mutating kernel
    (Adam) tried and refused changes nothing: one call, one update."""
    out = _run_cold("""
        import numpy as np
        from rnnlab.kernels.compiled import CompiledOps, LazyOps
        from rnnlab.kernels.ops import ReferenceOps
        from rnnlab.kernels.reference.optimizers import AdamStep

        def same(a, b):
            return all(np.array_equal(p, q) for p, q in zip(a, b))

        rng = np.random.default_rng(1)
        ops, ref, fast = LazyOps(start_worker=False), ReferenceOps(), CompiledOps()
        p = rng.standard_normal((300, 200)).astype(np.float32)
        g = rng.standard_normal(p.shape).astype(np.float32)
        step = AdamStep(np.float64(1e-3), 0.9, 0.999, 1e-7)

        def adam(o):
            q, slots = p.copy(), (np.zeros_like(p), np.zeros_like(p))
            o.adam_update(q, g.copy(), slots, step)
            return q, *slots

        print("adam-cold-is-reference", same(adam(ops), adam(ref)), ops.pending())
        ops.drain()
        print("adam-after-drain-is-compiled", same(adam(ops), adam(fast)), ops.pending())

        n, t, m, u = 6, 9, 3, 5
        x = rng.standard_normal((n, t, m)).astype(np.float32)
        w = {"kernel": rng.standard_normal((m, u)).astype(np.float32),
             "recurrent_kernel": rng.standard_normal((u, u)).astype(np.float32),
             "bias": rng.standard_normal(u).astype(np.float32)}
        h0 = (np.zeros((n, u), np.float32),)

        def run(o):
            fwd, bwd = o.sequence_kernel("simple_rnn")
            out, fin, cache = fwd(x, h0, w)
            dx, dh0, grads = bwd(np.ones_like(out), (np.ones_like(fin[0]),), cache)
            return (out, dx, *dh0, *grads.values())

        print("srnn-cold-is-reference", same(run(ops), run(ref)), ops.pending())
        ops.drain()
        print("srnn-after-drain-is-compiled", same(run(ops), run(fast)), ops.pending())
        # a forward compiled (here: directly) whose backward is not: the gradients come from
        # the reference, which runs forward and backward again; the backward is then compiled
        x, w, h0 = x.astype(np.float64), {k: v.astype(np.float64) for k, v in w.items()}, \
            (h0[0].astype(np.float64),)
        fast.simple_rnn_forward(x, h0, w)
        ops = LazyOps(start_worker=False)
        fwd, bwd = ops.sequence_kernel("simple_rnn")
        out, fin, cache = fwd(x, h0, w)
        print("f64-forward-compiled", cache.backward is not None,
              np.array_equal(out, fast.simple_rnn_forward(x, h0, w)[0]))
        got = bwd(np.ones_like(out), (np.ones_like(fin[0]),), cache)
        r_out, r_fin, r_cache = ref.simple_rnn_forward(x, h0, w)
        want = ref.simple_rnn_backward(np.ones_like(out), (np.ones_like(fin[0]),), r_cache)
        print("f64-backward-is-reference", same((got[0], *got[2].values()),
                                                 (want[0], *want[2].values())), ops.pending())
        ops.drain()
        print("f64-after-drain-is-compiled", same(run(ops), run(fast)), ops.pending())
        # the checks above tell the two apart only where their results differ
        print("reference-and-compiled-differ", not same(adam(ref), adam(fast)),
              not same(run(ref), run(fast)))
    """, tmp_path)
    for line in ("adam-cold-is-reference True 1", "adam-after-drain-is-compiled True 0",
                 "srnn-cold-is-reference True 1", "srnn-after-drain-is-compiled True 0",
                 # the fused Adam is the reference bit for bit (so its lines check one call,
                 # one update); the SimpleRNN's results tell the two apart
                 "reference-and-compiled-differ False True",
                 "f64-forward-compiled True True", "f64-backward-is-reference True 1",
                 "f64-after-drain-is-compiled True 0"):
        assert line in out, out


def test_first_fit_in_a_cold_process_trains_and_ends_compiled(tmp_path):
    """The whole path: a fit in a process with an empty cache trains (on the reference while
    the compiling process works), the worker finishes, and from then on two seeded fits are
    identical and nothing is queued: everything runs compiled."""
    out = _run_cold("""
        import numpy as np
        from rnnlab import Sequential, config
        from rnnlab.kernels import get_ops
        from rnnlab.layers import SimpleRNN, Dense
        x = np.random.default_rng(0).standard_normal((64, 12, 2)).astype("float32")
        y = x[:, -3:, :1].sum(axis=1)

        def trained():
            config.set_random_seed(3)
            m = Sequential([SimpleRNN(6, input_shape=(12, 2)), Dense(1)])
            m.compile("adam", "mse")
            h = m.fit(x, y, epochs=2, batch_size=16, verbose=0)
            return m, h.history["loss"]

        m, loss = trained()
        ops = get_ops()
        print("lazy", type(ops).__name__, "finite", bool(np.isfinite(loss).all()))
        print("queued-at-first", ops.pending() > 0)
        print("compiled-in-time", ops.wait(240))
        a, _ = trained()
        b, _ = trained()
        print("identical", all(np.array_equal(p, q)
                                for p, q in zip(a.get_weights(), b.get_weights())))
        print("nothing-queued", ops.pending() == 0)
    """, tmp_path)
    for line in ("lazy LazyOps finite True", "queued-at-first True", "compiled-in-time True",
                 "identical True", "nothing-queued True"):
        assert line in out, out


def test_a_forked_child_compiles_on_its_own(tmp_path):
    """A process forked while a compilation is queued: the worker and the compiling process stay
    with the parent; the child drops the queue, queues again what it calls and compiles it
    with its own worker."""
    out = _run_cold("""
        import os
        import numpy as np
        from rnnlab.kernels.compiled import LazyOps
        from rnnlab.kernels.reference.optimizers import AdamStep

        ops = LazyOps()
        p, g = np.ones((300, 200), np.float32), np.ones((300, 200), np.float32)
        step = AdamStep(np.float64(1e-3), 0.9, 0.999, 1e-7)
        ops.adam_update(p, g, (np.zeros_like(p), np.zeros_like(p)), step)
        print("parent-queued", ops.pending(), flush=True)     # its compiling process starts
        pid = os.fork()
        if pid == 0:
            print("child-after-fork", ops.pending(), flush=True)
            ops.adam_update(p, g, (np.zeros_like(p), np.zeros_like(p)), step)
            print("child-compiled", ops.pending() == 1 and ops.wait(240) and ops.pending() == 0,
                  flush=True)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print("child-exit", status, "parent-compiled", ops.wait(240), flush=True)
    """, tmp_path)
    for line in ("parent-queued 1", "child-after-fork 0", "child-compiled True",
                 "child-exit 0 parent-compiled True"):
        assert line in out, out


def test_compiling_process_serves_jobs_and_reports_failures():
    """The child's loop on a pipe's bytes: a job that runs answers "ok", one that raises answers
    "error <type>", and the end of input ends the loop."""
    job_ok = (np.add, (np.ones(3), np.ones(3)), {})
    job_bad = (np.reshape, (np.ones(3), (2, 2)), {})
    data = b""
    for job in (job_ok, job_bad):
        raw = pickle.dumps((job, 0))
        data += len(raw).to_bytes(8, "little") + raw
    out = io.BytesIO()
    serve(io.BytesIO(data), out)
    assert out.getvalue().splitlines() == [b"ok", b"error ValueError"]


def test_a_job_that_cannot_travel_is_compiled_here():
    """A job that does not pickle (a lambda) makes the child unusable for this Ops: False, and
    later jobs are not sent either (the parent compiles them itself)."""
    proc = CompilingProcess()
    assert proc.compile((lambda: None, (), {})) is False
    assert proc.compile((np.add, (1, 2), {})) is False
    proc.close()


def test_compiling_process_runs_a_kernel_pair():
    """A real job through a real child: the SimpleRNN pair (compiled or loaded there)."""
    rng = np.random.default_rng(2)
    x, states, w = _srnn_args(rng)
    proc = CompilingProcess()
    try:
        assert proc.compile((Pair(srnn_k.simple_rnn_forward, srnn_k.simple_rnn_backward),
                             (x, states, w), {"activation": "tanh"}), 2) is True
    finally:
        proc.close()


def test_reference_made_cache_is_differentiated_by_the_reference():
    """A Tagged cache from the reference goes to the reference's backward, whatever is
    compiled by then: forward and backward of one pass always match."""
    rng = np.random.default_rng(4)
    x, states, w = _srnn_args(rng)
    ref = ReferenceOps()
    out, fin, cache = ref.simple_rnn_forward(x, states, w)
    tagged = Tagged(ref.simple_rnn_forward, None, "simple_rnn_forward", (x, states, w), {},
                    cache)
    ops = LazyOps(start_worker=False)
    got = ops.simple_rnn_backward(np.ones_like(out), (np.ones_like(fin[0]),), tagged)
    want = ref.simple_rnn_backward(np.ones_like(out), (np.ones_like(fin[0]),), cache)
    np.testing.assert_array_equal(got[0], want[0])
    for k in want[2]:
        np.testing.assert_array_equal(got[2][k], want[2][k])
    assert ops.pending() == 0
