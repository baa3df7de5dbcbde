"""Property tests over constellation sizes, including 1xN and Nx1."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leonet.orbits.frames import ecef_to_geodetic

from .helpers import constellation, walker


@settings(max_examples=40, deadline=None)
@given(planes=st.integers(1, 9), sats=st.integers(1, 9), kind=st.sampled_from(["delta", "star"]),
       altitude=st.floats(300, 2000), inclination=st.floats(0, 180))
def test_any_walker_shell_builds_and_propagates(planes, sats, kind, altitude, inclination):
    c = constellation(walker(planes, sats, altitude, inclination, kind=kind, phasing=planes - 1))
    assert c.num_satellites == planes * sats
    assert len({s.name for s in c.satellites}) == planes * sats
    assert c.shells[0].plane_sizes == [sats] * planes
    pos = c.positions_ecef([0.0, 600.0])
    assert np.isfinite(pos).all()
    _, _, alt = ecef_to_geodetic(pos)
    assert np.all(np.abs(alt - altitude) < 40)  # oblateness + J2 short-period terms
