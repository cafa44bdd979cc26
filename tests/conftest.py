import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from rnnlab import config

REPO = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout; a worktree elsewhere names it with $RNNLAB_DATA_DIR
SHARED_DATA = Path(os.environ.get("RNNLAB_DATA_DIR") or REPO.parent / "shared" / "data")
os.environ.setdefault("RNNLAB_DATA_DIR", str(SHARED_DATA))
#: the lecture's text (its Hebrew line opens "What is he going to say next?")
LECTURE_TEXT = SHARED_DATA.parent / "lecture" / "000_be7a688a110ed335.txt"
# real Keras 3, a test reference, runs on PyTorch (no TensorFlow on these machines)
os.environ.setdefault("KERAS_BACKEND", "torch")

# Property-based tests: a small example count in CI, more by hand (HYPOTHESIS_PROFILE=dev).
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Compile the kernels before they first run, as before background compilation existed: tests that
# compare two runs bit for bit must not see a cold cache mix reference and compiled results, nor
# must the processes some tests start (the environment variable).  tests/test_lazy_compile.py
# tests the background mode itself (rnnlab.config.compile_mode()).
os.environ["RNNLAB_COMPILE_MODE"] = "blocking"
config.set_compile_mode("blocking")


@pytest.fixture
def float64():
    """Run a test in float64 (gradient checks), restoring the default afterwards."""
    old = config.floatx()
    config.set_floatx("float64")
    yield
    config.set_floatx(old)


@pytest.fixture(autouse=True)
def _restore_config():
    old = (config.floatx(), config.kernels())
    config.set_random_seed(0)
    yield
    config.set_floatx(old[0])
    config.set_kernels(old[1])


@pytest.fixture
def data_dir():
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
