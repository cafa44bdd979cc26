import os
from pathlib import Path

import pytest

from rnnlab import config

REPO = Path(__file__).resolve().parents[1]
# ../shared/data next to the project, unless RNNLAB_DATA_DIR says where (a git worktree elsewhere)
SHARED_DATA = Path(os.environ.get("RNNLAB_DATA_DIR") or REPO.parent / "shared" / "data")
os.environ.setdefault("RNNLAB_DATA_DIR", str(SHARED_DATA))


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
