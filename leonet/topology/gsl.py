"""Ground-satellite links: visibility above each pair's minimum elevation, then
selection by policy with optional caps per ground station and per satellite."""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np
from scipy.spatial import cKDTree

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
        self._min_sin_elevation = float(np.sin(np.radians(min_elev.min()))) if min_elev.size else 0.0
        station_radius = np.linalg.norm(self.ecef_km, axis=1)
        self._min_station_radius_km = float(station_radius.min()) if len(station_radius) else 0.0
        self._tree = cKDTree(self.ecef_km / station_radius[:, None]) if len(station_radius) else None

    def visible(self, positions_km: np.ndarray) -> GslCandidates:
        """All pairs at or above their minimum elevation, ordered by (station, satellite).
        Satellites without a position (NaN) are never visible."""
        if not self.num_ground_stations or not len(positions_km):
            z = np.zeros(0, np.int64)
            return GslCandidates(z, z.copy(), np.zeros(0), np.zeros(0))
        gs, sat = self._near_pairs(positions_km)
        diff = positions_km[sat] - self.ecef_km[gs]
        rng = np.linalg.norm(diff, axis=1)
        sin_el = np.einsum("ij,ij->i", diff, self.up[gs]) / np.maximum(rng, 1e-12)
        keep = sin_el >= self.sin_min_elevation[gs, sat]
        gs, sat, rng = gs[keep], sat[keep], rng[keep]
        elev = np.degrees(np.arcsin(np.clip(sin_el[keep], -1.0, 1.0)))
        return GslCandidates(gs, sat, rng, elev)

    def _near_pairs(self, positions_km: np.ndarray):
        """(station, satellite) pairs whose directions from the Earth's centre are close
        enough for the satellite to clear the lowest elevation mask: a conservative
        superset found with k-d trees, so the exact test runs on a few pairs per station
        instead of on every satellite."""
        ok = np.flatnonzero(np.isfinite(positions_km).all(axis=1))
        if not len(ok):
            z = np.zeros(0, np.int64)
            return z, z.copy()
        pos = positions_km[ok]
        radius = np.linalg.norm(pos, axis=1)
        # Largest Earth-central angle between a station and a satellite it sees at the
        # lowest mask: the highest satellite seen from the lowest station.
        e = np.arcsin(np.clip(self._min_sin_elevation, -1.0, 1.0))
        ratio = min(1.0, self._min_station_radius_km / radius.max() * np.cos(e))
        angle = min(np.pi, np.arccos(ratio) - e + np.radians(0.5))
        chord = 2.0 * np.sin(angle / 2.0)
        tree = cKDTree(pos / radius[:, None])
        hits = self._tree.query_ball_tree(tree, chord)  # (a sparse distance matrix would drop 0 km)
        counts = np.fromiter((len(h) for h in hits), np.int64, len(hits))
        gs = np.repeat(np.arange(len(hits)), counts)
        sat = ok[np.fromiter((j for h in hits for j in h), np.int64, int(counts.sum()))]
        order = np.lexsort((sat, gs))
        return gs[order], sat[order]


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
