"""Grouping a real TLE set into shells, planes and slots.

Real constellations are not labelled with their shells and planes, but the topology
layer needs them to form +Grid links. We recover them from the orbits themselves, at
one reference time (so that TLEs with different epochs are compared fairly):

1. **Exclusions.** Objects that SGP4 cannot propagate (decayed), that are below
   ``min_altitude_km`` (re-entering), or that are eccentric (``max_eccentricity``)
   are excluded and reported.
2. **Shells** are dense clusters in (inclination, mean altitude). Greedily, the
   densest (0.05 deg x 2 km) cell seeds a shell that takes every remaining object
   within ``inclination_tolerance_deg`` and ``altitude_tolerance_km`` of the seed's
   median; clusters smaller than ``min_shell_size`` are objects in transit (orbit
   raising or lowering) and are excluded and reported.
3. **Planes** are the runs of right ascension of the ascending node (RAAN) separated
   by a gap larger than ``plane_gap_deg``, sorted by RAAN.
4. **Slots** are the objects of a plane sorted by argument of latitude.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np
from sgp4.api import Satrec, SatrecArray

from .constants import EARTH_MEAN_RADIUS_KM
from .timeutil import to_jd

_WGS72_RADIUS_KM = 6378.135


@dataclass(frozen=True)
class GroupingOptions:
    """Tolerances for :func:`group_tles`; the defaults suit Starlink-like sets."""

    inclination_tolerance_deg: float = 0.1
    altitude_tolerance_km: float = 5.0
    plane_gap_deg: float = 1.5
    min_shell_size: int = 100
    min_altitude_km: float = 250.0
    max_eccentricity: float = 0.01


@dataclass
class GroupedShell:
    """One recovered shell: ``planes[p]`` lists indices into the input, by slot."""

    inclination_deg: float
    altitude_km: float
    planes: List[List[int]]
    #: whether the last plane neighbours the first (Walker-delta-like); False where the
    #: largest RAAN gap between planes is a seam (Walker-star-like, e.g. polar shells)
    wraps: bool = True

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.planes)


@dataclass
class TleGrouping:
    shells: List[GroupedShell]
    excluded: Dict[int, str] = field(default_factory=dict)  #: input index -> reason

    def exclusion_summary(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for reason in self.excluded.values():
            counts[reason] = counts.get(reason, 0) + 1
        return counts


def orbital_state(sats: Sequence[Satrec], at: _dt.datetime) -> Dict[str, np.ndarray]:
    """Per-satellite inclination, RAAN and argument of latitude (deg, from the
    osculating TEME state at ``at``), mean altitude (km) and SGP4 error code."""
    jd, fr = to_jd(at)
    err, r, v = SatrecArray(list(sats)).sgp4(np.array([jd]), np.array([fr]))
    r, v, err = r[:, 0, :], v[:, 0, :], err[:, 0]
    h = np.cross(r, v)
    hn = np.linalg.norm(h, axis=1)
    node = np.stack((-h[:, 1], h[:, 0], np.zeros(len(h))), axis=1)
    u = np.arctan2(np.einsum("ij,ij->i", np.cross(node, r), h) / np.maximum(hn, 1e-12),
                   np.einsum("ij,ij->i", node, r))
    return {
        "inclination_deg": np.degrees(np.arccos(np.clip(h[:, 2] / np.maximum(hn, 1e-12), -1, 1))),
        "raan_deg": np.degrees(np.arctan2(h[:, 0], -h[:, 1])) % 360.0,
        "arg_latitude_deg": np.degrees(u) % 360.0,
        "altitude_km": np.array([s.a for s in sats]) * _WGS72_RADIUS_KM - EARTH_MEAN_RADIUS_KM,
        "eccentricity": np.array([s.ecco for s in sats]),
        "error": err,
    }


def _split_planes(raan_deg: np.ndarray, gap_deg: float) -> List[np.ndarray]:
    """Indices grouped into runs of RAAN separated by more than ``gap_deg`` (circular)."""
    order = np.argsort(raan_deg)
    values = raan_deg[order]
    if len(values) == 1:
        return [order]
    gaps = np.diff(np.concatenate((values, values[:1] + 360.0)))
    breaks = np.flatnonzero(gaps > gap_deg)
    if len(breaks) == 0:
        return [order]
    # Start the first plane just after the last break, so a plane straddling 0/360 stays whole.
    start = (breaks[-1] + 1) % len(values)
    rolled = np.roll(order, -start)
    cut_points = [(b - start) % len(values) + 1 for b in breaks]
    pieces = np.split(rolled, sorted(cut_points)[:-1])
    return [p for p in pieces if len(p)]


def _circular_mean_deg(values: np.ndarray) -> float:
    rad = np.radians(values)
    return float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())) % 360.0)


def _order_planes(planes: List[List[int]], raan_deg: np.ndarray) -> Tuple[List[List[int]], bool]:
    """Sort planes by RAAN so that the widest gap falls between the last and the first,
    and tell whether that gap is an ordinary plane spacing (wraps) or a seam."""
    if len(planes) < 3:  # too few planes to tell a seam from a spacing: do not wrap
        return planes, False
    centres = np.array([_circular_mean_deg(raan_deg[p]) for p in planes])
    order = np.argsort(centres)
    sorted_c = centres[order]
    gaps = np.diff(np.concatenate((sorted_c, sorted_c[:1] + 360.0)))  # gap after each plane
    widest = int(np.argmax(gaps))
    order = np.roll(order, -(widest + 1))
    others = np.delete(gaps, widest)
    wraps = bool(gaps[widest] <= 1.5 * np.median(others))
    return [planes[i] for i in order], wraps


def group_tles(sats: Sequence[Satrec], at: _dt.datetime,
               options: GroupingOptions = GroupingOptions()) -> TleGrouping:
    """Recover shells, planes and slots from a set of TLEs (see the module docstring)."""
    st = orbital_state(sats, at)
    excluded: Dict[int, str] = {}
    for i in range(len(sats)):
        if st["error"][i] != 0 or not np.isfinite(st["raan_deg"][i]):
            excluded[i] = "decayed (SGP4 cannot propagate it)"
        elif st["altitude_km"][i] < options.min_altitude_km:
            excluded[i] = f"below {options.min_altitude_km:g} km (re-entering)"
        elif st["eccentricity"][i] > options.max_eccentricity:
            excluded[i] = f"eccentricity above {options.max_eccentricity:g}"
    remaining = np.array([i for i in range(len(sats)) if i not in excluded], dtype=int)

    inc, alt = st["inclination_deg"], st["altitude_km"]
    clusters: List[np.ndarray] = []
    while len(remaining):
        cells: Dict[Tuple[int, int], List[int]] = {}
        for i in remaining:
            cells.setdefault((int(inc[i] // 0.05), int(alt[i] // 2.0)), []).append(i)
        seed = max(cells.values(), key=len)
        if len(seed) < 2:
            break
        inc0, alt0 = np.median(inc[seed]), np.median(alt[seed])
        member = ((np.abs(inc[remaining] - inc0) <= options.inclination_tolerance_deg)
                  & (np.abs(alt[remaining] - alt0) <= options.altitude_tolerance_km))
        group = remaining[member]
        if len(group) < options.min_shell_size:
            break
        clusters.append(group)
        remaining = remaining[~member]
    for i in remaining:
        excluded[int(i)] = "not part of any shell (in transit or an outlier)"

    shells = []
    for group in sorted(clusters, key=lambda g: (np.median(inc[g]), np.median(alt[g]))):
        planes = []
        for plane in _split_planes(st["raan_deg"][group], options.plane_gap_deg):
            members = group[plane]
            planes.append([int(i) for i in members[np.argsort(st["arg_latitude_deg"][members])]])
        planes, wraps = _order_planes(planes, st["raan_deg"])
        shells.append(GroupedShell(float(np.median(inc[group])), float(np.median(alt[group])),
                                   planes, wraps))
    return TleGrouping(shells, excluded)
