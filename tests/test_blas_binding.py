"""The compiled GEMM is NumPy's own OpenBLAS, whatever else was imported first.

SciPy, scikit-learn, PyTorch and Keras load OpenBLAS copies of their own (SciPy's exports
``scipy_cblas_sgemm`` with 32-bit indices).  The split matmul once looked its GEMM up by name in
whichever copy came first, and Numba's disk cache kept the code built for one process's pick:
training segfaulted in some fresh processes after ``import scipy.linalg``.  These tests check the
binding in this process (the file and addresses, the results on the split path) and train in
fresh processes after each of those imports.
"""
import ctypes
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (its OpenBLAS is loaded here too: it must not be picked)
from threadpoolctl import threadpool_info

import rnnlab
from blasutil import counting_splits
from gradcheck import rel_error
from rnnlab.kernels.compiled import blas

NUMPY_HOME = os.path.realpath(os.path.dirname(np.__file__))
SRC = Path(rnnlab.__file__).resolve().parents[1]
FRESH_PROCESSES = 3
# imported before rnnlab in the fresh processes (SciPy and scikit-learn load SciPy's OpenBLAS;
# Keras on PyTorch imports torch anyway, so one process covers both)
FIRST_IMPORTS = ("scipy.linalg", "sklearn", "pandas", "torch,keras")
# a fresh process imports FIRST (comma-separated), then rnnlab, and fits Embedding -> SimpleRNN
# -> SimpleRNN; it prints the last loss, the bound library and the (m, n, k) of the split products
SCRIPT = r"""
import importlib, json, sys
for name in sys.argv[1].split(","):
    importlib.import_module(name)
import numpy as np
import rnnlab
from rnnlab import layers
from rnnlab.kernels.compiled import blas

splits = []
split = blas._split
def counted(*args):
    splits.append(args[7:10])
    return split(*args)
blas._split = counted

rng = np.random.default_rng(0)
x = rng.integers(0, 100, size=(384, 30))
y = rng.normal(size=(384, 1)).astype("float32")
model = rnnlab.Sequential([layers.Embedding(100, 32), layers.SimpleRNN(40, return_sequences=True),
                           layers.SimpleRNN(40), layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
loss = model.fit(x, y, batch_size=128, epochs=1, verbose=0).history["loss"][-1]
bound = getattr(blas, "BOUND", None)
print(json.dumps({"loss": loss, "library": bound and bound.path, "splits": splits}))
"""


def _inside_numpy(path):
    path = os.path.realpath(path)
    return any(os.path.commonpath([path, d]) == d for d in (NUMPY_HOME, NUMPY_HOME + ".libs"))


def _numpy_openblas_config():
    """NumPy's build configuration of its OpenBLAS (NumPy >= 2), or None."""
    blas_deps = getattr(np.__config__, "CONFIG", {}).get("Build Dependencies", {}).get("blas", {})
    if blas_deps.get("name") not in ("openblas", "scipy-openblas"):
        return None
    return blas_deps.get("openblas configuration", "")


@pytest.fixture(scope="module")
def bound():
    """NumPy's GEMMs as bound; skipped where NumPy's BLAS is not OpenBLAS."""
    if _numpy_openblas_config() is None:
        pytest.skip("NumPy is not built with OpenBLAS here: matmul is np.matmul")
    assert blas.AVAILABLE and blas.BOUND is not None
    return blas.BOUND


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _owner(address):
    """(file, symbol name) that the dynamic linker says holds ``address`` (dladdr)."""
    info = _DlInfo()
    assert ctypes.CDLL(None).dladdr(ctypes.c_void_p(address), ctypes.byref(info))
    return os.fsdecode(info.dli_fname), info.dli_sname.decode()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="dladdr of glibc")
def test_bound_gemm_is_in_numpys_openblas(bound):
    """Both addresses lie in the one OpenBLAS file inside NumPy's own directories, at the GEMMs
    of NumPy's naming and index width; SciPy's OpenBLAS, loaded too, is another file."""
    openblas = {os.path.realpath(i["filepath"]) for i in threadpool_info()
                if i.get("internal_api") == "openblas"}
    assert len(openblas) >= 2                          # NumPy's and SciPy's are both loaded
    numpys = [p for p in openblas if _inside_numpy(p)]
    assert numpys == [os.path.realpath(bound.path)]
    wide = "USE64BITINT" in _numpy_openblas_config()
    assert bound.index is (np.int64 if wide else np.int32)
    for address, kind in ((bound.sgemm, "s"), (bound.dgemm, "d")):
        path, symbol = _owner(address)
        assert os.path.realpath(path) == numpys[0]
        assert symbol.removeprefix("scipy_") == f"cblas_{kind}gemm" + ("64_" if wide else "")


def test_scipys_openblas_is_refused():
    """A loaded OpenBLAS outside NumPy (SciPy's, with its own GEMM names) is never bound, whether
    or not it comes first."""
    others = [i["filepath"] for i in threadpool_info()
              if i.get("internal_api") == "openblas" and not _inside_numpy(i["filepath"])]
    if not others:
        pytest.skip("no OpenBLAS other than NumPy's is loaded")
    numpy_ext = blas._load(blas._NUMPY_EXT.__file__)
    assert all(blas._gemm_of(path, numpy_ext) is None for path in others)
    assert all(blas._gemm_of(path, None) is None for path in others)


@pytest.fixture
def split_calls(monkeypatch, bound):
    """Inside a compute_scope that holds BLAS to one thread; yields the list of (m, n, k) that
    the split kernel ran (the products' sizes take it without lowering SPLIT_MIN_MACS)."""
    with counting_splits(monkeypatch) as calls:
        yield calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["NN", "TN", "NT"])
def test_split_products_equal_numpy(split_calls, dtype, layout):
    """X·kernel (NN), Xᵀ·dZ (TN) and dZ·kernelᵀ (NT) of a (3000, 50) by 40 layer, as the
    recurrent kernels form them, equal np.matmul; the split path ran each."""
    r = np.random.default_rng(len(layout))
    rows, m_in, units = 3000, 50, 40
    x = r.normal(size=(rows, m_in)).astype(dtype)
    kernel = r.normal(size=(m_in, units)).astype(dtype)
    dz = r.normal(size=(rows, units)).astype(dtype)
    a, b = {"NN": (x, kernel), "TN": (x.T, dz), "NT": (dz, kernel.T)}[layout]
    got = blas.matmul(a, b)
    assert split_calls == [(a.shape[0], b.shape[1], a.shape[1])]
    assert got.dtype == dtype
    assert rel_error(got, np.matmul(a, b)) < {np.float32: 1e-6, np.float64: 1e-13}[dtype]


def _train_after(first):
    """Return code, output and error of a fresh process that imports ``first`` then trains."""
    env = dict(os.environ, KERAS_BACKEND="torch",
               PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", SCRIPT, first], env=env, capture_output=True,
                         text=True, timeout=300)
    return out.returncode, out.stdout, out.stderr


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no products to split")
def test_training_in_fresh_processes_after_other_blas_users():
    """After importing SciPy, scikit-learn, pandas, or PyTorch and Keras (on PyTorch), training
    Embedding -> SimpleRNN -> SimpleRNN in a fresh process exits cleanly with a finite loss, its
    products split and computed by NumPy's OpenBLAS (three processes each: which
    OpenBLAS a process lists first varies from run to run)."""
    jobs = [first for first in FIRST_IMPORTS for _ in range(FRESH_PROCESSES)]
    # the first alone: on a cold Numba cache it compiles the kernels that the others then load
    results = [_train_after(jobs[0])]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results += pool.map(_train_after, jobs[1:])
    crashed = [(first, code, err[-2000:]) for first, (code, _, err) in zip(jobs, results)
               if code != 0]
    assert not crashed, f"{len(crashed)}/{len(jobs)} processes failed: {crashed}"
    numpy_openblas = _numpy_openblas_config() is not None
    for first, (_, out, _) in zip(jobs, results):
        report = json.loads(out.strip().splitlines()[-1])
        assert np.isfinite(report["loss"]), first
        if numpy_openblas:
            assert report["splits"], f"after {first}: no product took the split path"
            assert _inside_numpy(report["library"] or "/"), (first, report["library"])
