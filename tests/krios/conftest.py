import pytest

from leonet.orbits import load_constellation


@pytest.fixture(scope="session")
def shell1():
    """The paper's shell 1 with its zones (the krios-starlink preset)."""
    return load_constellation("krios-starlink")
