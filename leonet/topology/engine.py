"""The topology engine: turns satellite positions into snapshots, fast enough to run
every tick. Everything that does not change with time is computed once here."""
from __future__ import annotations

import datetime as _dt
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np

from ..errors import ConfigError
from ..orbits import Constellation
from ..orbits.timeutil import TimeLike, add_seconds
from .config import TopologyConfig, topology_config
from .gsl import GslGeometry, GslSelection, gsl_selection
from .isl import inter_shell_candidates, isl_filter, plus_grid_candidates
from .links import GSL, ISL, Links
from .nodes import Nodes
from .snapshot import Snapshot

#: Times propagated at once when stepping through a timeline (bounds memory).
PROPAGATION_CHUNK = 256


class TopologyEngine:
    """Builds :class:`Snapshot` objects for a constellation under a topology config.

    >>> engine = TopologyEngine(load_constellation("starlink-shell1"))
    >>> snap = engine.snapshot("2026-01-31T12:00:00Z")
    >>> snap.path("Madrid", "Tokyo").delay_ms          # doctest: +SKIP
    """

    def __init__(self, constellation: Constellation, config: Optional[TopologyConfig] = None):
        self.constellation = constellation
        self.config = config if config is not None else topology_config(constellation)
        self.nodes = Nodes.of(constellation)
        c, sc = constellation, constellation.scenario
        self._isl = plus_grid_candidates(c, self.config.isl)
        self._gsl = GslGeometry(c)
        shell_isl_bw = np.array([sc.shell_param(s.spec, "isl_bandwidth_mbps") for s in c.shells])
        shell_isl_loss = np.array([sc.shell_param(s.spec, "isl_loss_percent") for s in c.shells])
        self._isl_bandwidth = shell_isl_bw[c.shell_of] if c.num_satellites else np.zeros(0)
        self._isl_loss = shell_isl_loss[c.shell_of] if c.num_satellites else np.zeros(0)
        shape = (len(c.ground_stations), len(c.shells))
        self._gsl_bandwidth = np.array([[sc.pair_param(g.spec, s.spec, "gsl_bandwidth_mbps")
                                         for s in c.shells] for g in c.ground_stations]).reshape(shape)
        self._gsl_loss = np.array([[sc.pair_param(g.spec, s.spec, "gsl_loss_percent")
                                    for s in c.shells] for g in c.ground_stations]).reshape(shape)

    # ------------------------------------------------------------------ time
    def offset_of(self, when: TimeLike | float) -> float:
        """Seconds since the scenario start (ISO time, datetime or seconds)."""
        return self.constellation.offset_of(when)

    def time_of(self, offset_s: float) -> _dt.datetime:
        return add_seconds(self.constellation.start, offset_s)

    def step_offsets(self, start: TimeLike | float, end: TimeLike | float, step_s: float) -> np.ndarray:
        """Offsets (s) of the steps ``start, start + step, ...`` up to ``end`` inclusive."""
        if isinstance(step_s, bool) or not isinstance(step_s, (int, float)) or not step_s > 0:
            raise ConfigError("step", step_s, "must be a positive number of seconds", "use e.g. 1 or 15")
        t0, t1 = self.offset_of(start), self.offset_of(end)
        if t1 < t0:
            raise ConfigError("end", end, "is before the start", "give an end time after the start time")
        count = int(np.floor((t1 - t0) / step_s + 1e-9)) + 1
        return t0 + np.arange(count) * float(step_s)

    # ------------------------------------------------------------------ links
    def links_at(self, positions_km: np.ndarray) -> Tuple[Links, GslSelection]:
        """All links that are up for these satellite positions (N, 3), and the GSL selection."""
        c, cfg = self.constellation, self.config
        up, dist = isl_filter(positions_km, self._isl.a, self._isl.b, self._isl.inter_plane, cfg.isl)
        a, b = self._isl.a[up], self._isl.b[up]
        dist = dist[up]
        if cfg.isl.inter_shell == "nearest" and len(c.shells) > 1:
            xa, xb = inter_shell_candidates(c, positions_km)
            xup, xdist = isl_filter(positions_km, xa, xb, np.ones(len(xa), bool), cfg.isl)
            a, b = np.concatenate((a, xa[xup])), np.concatenate((b, xb[xup]))
            dist = np.concatenate((dist, xdist[xup]))
        sel = gsl_selection(self._gsl, positions_km, cfg.gsl)
        shell = c.shell_of
        links = Links.build(
            a=np.concatenate((a, sel.sat)),
            b=np.concatenate((b, self.nodes.num_satellites + sel.gs)),
            kind=np.concatenate((np.full(len(a), ISL), np.full(len(sel.gs), GSL))),
            distance_km=np.concatenate((dist, sel.range_km)),
            bandwidth_mbps=np.concatenate((np.minimum(self._isl_bandwidth[a], self._isl_bandwidth[b]),
                                           self._gsl_bandwidth[sel.gs, shell[sel.sat]])),
            loss_percent=np.concatenate((np.maximum(self._isl_loss[a], self._isl_loss[b]),
                                         self._gsl_loss[sel.gs, shell[sel.sat]])),
            speed_of_light_factor=cfg.speed_of_light_factor)
        return links, sel

    def active_satellites(self, positions_km: np.ndarray) -> np.ndarray:
        """Satellites inside the configured bounding box (all, without one)."""
        box = self.config.bounding_box
        if box is None:
            return np.ones(len(positions_km), bool)
        return box.active(positions_km)

    def ever_active(self, offsets_s: Sequence[float]) -> np.ndarray:
        """Satellites inside the bounding box at any of these offsets (all, without one)."""
        n = self.constellation.num_satellites
        if self.config.bounding_box is None:
            return np.ones(n, bool)
        seen = np.zeros(n, bool)
        for _, pos in self.positions(offsets_s, knot_step_s=60.0):
            seen |= self.active_satellites(pos)
        return seen

    # ------------------------------------------------------------------ snapshots
    def snapshot_from_positions(self, offset_s: float, positions_km: np.ndarray) -> Snapshot:
        """A snapshot for given satellite positions (N, 3) at ``offset_s``."""
        links, sel = self.links_at(positions_km)
        all_pos = np.concatenate((positions_km, self.constellation.ground_station_ecef), axis=0)
        return Snapshot(self.time_of(offset_s), float(offset_s), self.nodes, all_pos, links,
                        sel.primary, self.active_satellites(positions_km), self.config.ground_station_relay)

    def snapshot(self, when: TimeLike | float) -> Snapshot:
        """The network at a time (ISO string, datetime, or seconds since the start)."""
        offset = self.offset_of(when)
        return self.snapshot_from_positions(offset, self.constellation.positions_at(offset))

    def positions(self, offsets_s: Sequence[float], knot_step_s: Optional[float] = None
                  ) -> Iterator[Tuple[float, np.ndarray]]:
        """(offset, satellite positions (N, 3)) per step, propagated in chunks.

        ``knot_step_s``: interpolate between exact SGP4 states this far apart (cubic
        Hermite, see ``Propagator.ecef_interpolated``: sub-metre at 60 s for LEO, i.e.
        picoseconds of delay) instead of running SGP4 at every step.
        """
        prop = self.constellation.propagator
        offsets = np.asarray(offsets_s, dtype=float)
        for i in range(0, len(offsets), PROPAGATION_CHUNK):
            part = offsets[i:i + PROPAGATION_CHUNK]
            pos = prop.ecef(part) if knot_step_s is None else prop.ecef_interpolated(part, knot_step_s)
            by_time = np.ascontiguousarray(pos.transpose(1, 0, 2))  # strided slices are slow to use
            for k, offset in enumerate(part):
                yield float(offset), by_time[k]

    def snapshots(self, offsets_s: Sequence[float], knot_step_s: Optional[float] = None) -> Iterator[Snapshot]:
        """Snapshots at the given offsets (see :meth:`step_offsets` and :meth:`positions`)."""
        for offset, pos in self.positions(offsets_s, knot_step_s):
            yield self.snapshot_from_positions(offset, pos)
