import pytest

from .helpers import FAST, ThreadedControlPlane
from leonet.controlplane import ControlPlaneOptions


@pytest.fixture
def tcp(tmp_path):
    """A running control plane (threaded) with fast node-lifecycle timings."""
    t = ThreadedControlPlane(tmp_path / "cp", options=ControlPlaneOptions(**FAST))
    yield t
    t.stop()
