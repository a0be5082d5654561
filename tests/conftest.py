"""Fixtures shared by the tests; the plain helpers they use are in ``tests/helpers.py``.

Tests run with the service's BLAS threading (one thread per process unless ``DIGITS_THREADS`` says
otherwise): many threads each starting BLAS threads would crowd the cores. The default run is the
unit tests, one pytest-xdist worker a core, each test file on one worker (``addopts`` in
pyproject.toml). The real servers and Chromium (``tests/integration``, marked ``integration`` below)
and the long accuracy sweeps (marked ``slow``) are left out of it; ``python -m pytest -m ""`` runs
everything, as CI does.
"""

from __future__ import annotations

from app.settings import configure_blas_threads

configure_blas_threads()  # before NumPy is imported, as the service does: one BLAS thread (DIGITS_THREADS)

from collections.abc import Iterator  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.helpers import LIMIT, MAX_BATCH, FakeNetwork, png, sample_digits  # noqa: E402


@pytest.fixture(scope="session")
def sample() -> tuple[np.ndarray, np.ndarray]:
    """The 1000-digit MNIST test sample: uint8 ``(1000, 28, 28)`` white on black, labels ``(1000,)``."""
    return sample_digits()


@pytest.fixture(scope="session")
def digits(sample: tuple[np.ndarray, np.ndarray]) -> tuple[list[bytes], np.ndarray]:
    """The first ten sample digits as 28x28 PNGs (white on black) and their labels."""
    x, y = sample
    return [png(d) for d in x[:10]], y[:10]


@pytest.fixture(scope="session")
def seven(digits: tuple[list[bytes], np.ndarray]) -> bytes:
    """The first sample digit, a 7, as a 28x28 PNG."""
    assert digits[1][0] == 7
    return digits[0][0]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The app with default settings, in process, its lifespan run (the shipped weights)."""
    with TestClient(create_app(Settings())) as c:
        yield c


@pytest.fixture(scope="module")
def small() -> Iterator[TestClient]:
    """An app with a small body cap (``LIMIT``), batch cap (``MAX_BATCH``) and pixel limit."""
    settings = Settings(max_upload_bytes=LIMIT, max_batch=MAX_BATCH, max_image_pixels=300 * 300)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def fake_net() -> FakeNetwork:
    """A fresh :class:`~tests.helpers.FakeNetwork`: every image reads as a sure 3."""
    return FakeNetwork()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under tests/integration (real servers, real sockets, Chromium) are marked ``integration``."""
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)
