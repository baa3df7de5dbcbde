"""A small real scenario shared by the Komet tests (80 satellites, four stations)."""
import pytest

from leonet.orbits import load_constellation
from leonet.topology import TopologyEngine

from .helpers import SMALL_SCENARIO


@pytest.fixture(scope="session")
def small_engine(tmp_path_factory) -> TopologyEngine:
    path = tmp_path_factory.mktemp("komet") / "komet-small.yaml"
    path.write_text(SMALL_SCENARIO)
    return TopologyEngine(load_constellation(str(path)))
