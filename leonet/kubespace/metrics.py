"""Metric tensors that CNPA and CNAA consume: one-way delay (ms) from ground stations
to satellites over time, shape (T, G, N).

* ``path``: least-delay path over ISLs and GSLs in the snapshot built by
  :class:`leonet.topology.TopologyEngine` (the scenario's ``topology:`` rules;
  ground stations do not relay unless it says so). ``inf`` where a station sees
  no satellite. This is the paper's d(s, g, t) for placement (shortest path with
  distances as edge weights; delay = distance / c is the same ordering).
* ``straight``: straight-line distance / c, what the paper's CNAA uses (no
  visibility condition: the distance is a proxy, not a link).

Delays are one-way. Every value is rounded to float32 (about 1 ns at 100 ms).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..errors import ConfigError
from ..orbits import Constellation
from ..orbits.constants import SPEED_OF_LIGHT_KM_S

METRICS = ("path", "straight")

#: ms per km of straight line in vacuum.
MS_PER_KM = 1000.0 / SPEED_OF_LIGHT_KM_S


def station_indices(constellation: Constellation, names: Optional[Sequence[str]]) -> np.ndarray:
    """Ground-station indices for names (all stations when ``names`` is None)."""
    if names is None:
        return np.arange(len(constellation.ground_stations))
    return np.array([constellation.ground_station(n).index for n in names], dtype=np.intp)


def straight_line_delay(constellation: Constellation, offsets_s: Sequence[float],
                        stations: Optional[Sequence[int]] = None, chunk: int = 64) -> np.ndarray:
    """Straight-line one-way delay (ms), shape (T, G, N)."""
    offsets = np.asarray(offsets_s, dtype=float)
    gs = constellation.ground_station_ecef
    if stations is not None:
        gs = gs[np.asarray(stations, dtype=np.intp)]
    out = np.empty((len(offsets), len(gs), constellation.num_satellites), dtype=np.float32)
    for t0, pos in _chunks(constellation, offsets, chunk):
        # |p - g|^2 = |p|^2 - 2 p.g + |g|^2 as a matrix product: (t, N) x (G) per chunk.
        p = np.moveaxis(pos, 1, 0)                                       # (t, N, 3)
        d2 = (p * p).sum(-1)[:, None, :] - 2.0 * np.swapaxes(p @ gs.T, 1, 2) \
            + (gs * gs).sum(-1)[None, :, None]
        out[t0:t0 + len(p)] = np.sqrt(np.maximum(d2, 0.0)) * MS_PER_KM
    return out


def _chunks(constellation: Constellation, offsets: np.ndarray, chunk: int):
    for t0 in range(0, len(offsets), chunk):
        yield t0, constellation.positions_ecef(offsets[t0:t0 + chunk])


def path_delay(constellation: Constellation, offsets_s: Sequence[float],
               stations: Optional[Sequence[int]] = None, progress: bool = False,
               engine=None) -> np.ndarray:
    """Shortest-path one-way delay (ms) over ISLs and GSLs, shape (T, G, N).

    ``engine`` is a :class:`leonet.topology.TopologyEngine` (built from the
    scenario's ``topology:`` section if omitted). See
    :func:`leonet.topology.delays.ground_satellite_delays`.
    """
    from ..topology import TopologyEngine
    from ..topology.delays import ground_satellite_delays

    engine = engine or TopologyEngine(constellation)
    return ground_satellite_delays(engine, offsets_s, stations, progress=progress).delay_ms


def delay_tensor(constellation: Constellation, offsets_s: Sequence[float], metric: str = "path",
                 stations: Optional[Sequence[int]] = None, progress: bool = False) -> np.ndarray:
    """The ``metric`` ("path" or "straight") as one-way delay (ms), shape (T, G, N)."""
    if metric == "path":
        return path_delay(constellation, offsets_s, stations, progress)
    if metric == "straight":
        return straight_line_delay(constellation, offsets_s, stations)
    raise ConfigError("metric", metric, "unknown metric", "use " + " or ".join(METRICS))
