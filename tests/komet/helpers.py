"""Hand-built traces whose right answers are known, and a small real scenario."""
from typing import Optional, Sequence

import numpy as np

from leonet.komet import Trace

SMALL_SCENARIO = """
name: komet-small
start: 2023-01-01T00:00:00Z
defaults: {min_elevation_deg: 25}
shells:
  - {name: s, walker: delta, planes: 8, sats_per_plane: 10, altitude_km: 550, inclination_deg: 53, phasing: 0}
ground_stations:
  - {name: portland, lat_deg: 45.5, lon_deg: -122.7}
  - {name: boise, lat_deg: 43.6, lon_deg: -116.2}
  - {name: seattle, lat_deg: 47.6, lon_deg: -122.3}
  - {name: hilo, lat_deg: 19.7, lon_deg: -155.1}
topology:
  bounding_box: {lat_min_deg: 35, lat_max_deg: 55, lon_min_deg: -135, lon_max_deg: -105}
komet:
  clients: [portland, boise, seattle]
  strategy: many-to-many
  threshold: 0.25
  trace: {start_offset_s: 100, duration_s: 120, step_s: 2, hysteresis_us: 500}
"""


def hand_trace(delay_us: Sequence, clients: Optional[Sequence[str]] = None, active=None,
               step_s: float = 1.0) -> Trace:
    """A trace from a (T, C, N) list of one-way distances in microseconds."""
    d = np.asarray(delay_us, dtype=np.float32)
    assert d.ndim == 3
    T, C, N = d.shape
    names = tuple(clients) if clients is not None else tuple(f"c{i}" for i in range(C))
    act = np.ones((T, N), bool) if active is None else np.asarray(active, dtype=bool)
    return Trace(names, tuple(f"sat{i}" for i in range(N)), np.arange(T) * step_s, step_s, d, act,
                 true_delay_us=d.copy(), hysteresis_us=0.0, active_only=active is not None)


def one_client(rows: Sequence[Sequence[float]], **kw) -> Trace:
    """A one-client trace from per-step rows of distances to each satellite."""
    return hand_trace([[r] for r in rows], **kw)
