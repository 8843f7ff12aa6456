import os

import numpy as np
import pytest

os.environ.setdefault("AIGC_COURSE_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def digits():
    """A tiny deterministic image batch, uint8 (64, 28, 28): a bright square per image."""
    rng = np.random.default_rng(0)
    x = np.zeros((64, 28, 28), np.uint8)
    for i in range(64):
        r, c = rng.integers(4, 16, size=2)
        x[i, r : r + 8, c : c + 8] = 255
    return x
