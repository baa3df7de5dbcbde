"""Ground-satellite links: visibility above each pair's minimum elevation, then
selection by policy with optional caps per ground station and per satellite."""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from ..orbits import Constellation
from ..orbits.frames import enu_matrix
from .config import GslRules


@dataclass(frozen=True)
class GslCandidates:
    """Visible (ground station, satellite) pairs at one time."""

    gs: np.ndarray          #: ground-station index (0-based among ground stations)
    sat: np.ndarray         #: satellite index
    range_km: np.ndarray
    elevation_deg: np.ndarray


@dataclass(frozen=True)
class GslSelection:
    """The chosen GSLs (as rows of the candidates) and each station's primary satellite."""

    gs: np.ndarray
    sat: np.ndarray
    range_km: np.ndarray
    elevation_deg: np.ndarray
    #: per ground station: the best selected satellite by the policy's metric, or -1.
    #: Handover events follow this satellite.
    primary: np.ndarray


class GslGeometry:
    """Per-ground-station vectors and per-pair elevation masks, computed once."""

    def __init__(self, c: Constellation):
        sc = c.scenario
        self.num_ground_stations = len(c.ground_stations)
        self.ecef_km = c.ground_station_ecef
        if self.num_ground_stations:
            self.up = np.ascontiguousarray(enu_matrix([g.lat_deg for g in c.ground_stations],
                                                      [g.lon_deg for g in c.ground_stations])[:, 2, :])
        else:
            self.up = np.zeros((0, 3))
        min_elev = np.array([[sc.pair_param(g.spec, s.spec, "min_elevation_deg") for s in c.shells]
                             for g in c.ground_stations], dtype=float).reshape(self.num_ground_stations,
                                                                               len(c.shells))
        #: sin(minimum elevation) per (ground station, satellite)
        self.sin_min_elevation = np.sin(np.radians(min_elev))[:, c.shell_of] if c.num_satellites else \
            np.zeros((self.num_ground_stations, 0))

    def visible(self, positions_km: np.ndarray) -> GslCandidates:
        """All pairs at or above their minimum elevation. Satellites without a
        position (NaN) are never visible."""
        if not self.num_ground_stations or not len(positions_km):
            z = np.zeros(0, np.int64)
            return GslCandidates(z, z.copy(), np.zeros(0), np.zeros(0))
        # Component by component on (G, N) arrays: no BLAS call, whose threads slow tiny
        # products down by 10-40x on a busy 2-core machine.
        range2 = np.zeros((self.num_ground_stations, len(positions_km)))
        up_dot = np.zeros_like(range2)
        for k in range(3):
            d = positions_km[None, :, k] - self.ecef_km[:, k, None]
            range2 += d * d
            up_dot += self.up[:, k, None] * d
        sin_el = up_dot / np.sqrt(np.maximum(range2, 1e-12))
        with np.errstate(invalid="ignore"):
            gs, sat = np.divmod(np.flatnonzero(sin_el >= self.sin_min_elevation), len(positions_km))
        diff = positions_km[sat] - self.ecef_km[gs]
        rng = np.linalg.norm(diff, axis=1)
        elev = np.degrees(np.arcsin(np.clip(np.einsum("ij,ij->i", diff, self.up[gs]) / rng, -1, 1)))
        return GslCandidates(gs, sat, rng, elev)


def rank_within_groups(groups: np.ndarray, score: np.ndarray) -> np.ndarray:
    """0 for the highest score in each group, 1 for the next, ... (ties keep input order)."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.lexsort((-score, groups))
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    rank_sorted = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, np.int64)
    rank[order] = rank_sorted
    return rank


def select_gsls(cand: GslCandidates, rules: GslRules, num_ground_stations: int) -> GslSelection:
    """Apply the policy and the caps.

    Candidates are ranked per ground station by elevation (``all``,
    ``highest_elevation``) or by range (``nearest``). Without a per-satellite cap each
    station keeps its best ``per_ground_station`` candidates. With one, stations and
    satellites are matched by deferred acceptance: every station asks for its best
    remaining candidates, a satellite over its cap keeps the stations it ranks best by
    the same metric and refuses the rest, and refused stations ask their next choice,
    until no satellite refuses. The result is a stable assignment.
    """
    score = -cand.range_km if rules.policy == "nearest" else cand.elevation_deg
    alive = np.ones(len(cand.gs), bool)
    cap_g, cap_s = rules.per_ground_station, rules.max_per_satellite
    while True:
        chosen = alive.copy()
        if cap_g is not None:
            idx = np.flatnonzero(alive)
            chosen[idx] = rank_within_groups(cand.gs[idx], score[idx]) < cap_g
        if cap_s is None:
            break
        idx = np.flatnonzero(chosen)
        refused = idx[rank_within_groups(cand.sat[idx], score[idx]) >= cap_s]
        if not len(refused):
            break
        alive[refused] = False
    idx = np.flatnonzero(chosen)
    primary = np.full(num_ground_stations, -1, np.int64)
    if len(idx):
        best = idx[rank_within_groups(cand.gs[idx], score[idx]) == 0]
        primary[cand.gs[best]] = cand.sat[best]
    return GslSelection(cand.gs[idx], cand.sat[idx], cand.range_km[idx], cand.elevation_deg[idx], primary)


def gsl_selection(geometry: GslGeometry, positions_km: np.ndarray, rules: GslRules,
                  ) -> GslSelection:
    """Visible pairs, then :func:`select_gsls`."""
    return select_gsls(geometry.visible(positions_km), rules, geometry.num_ground_stations)
