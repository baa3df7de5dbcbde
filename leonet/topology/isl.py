"""Inter-satellite links: +Grid candidate pairs (computed once) and the per-step
filters that take them up or down (line of sight, latitude, range)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from scipy.spatial import cKDTree

from ..orbits import Constellation, Shell
from ..orbits.constants import WGS84_A_KM
from ..orbits.propagation import Propagator
from .config import IslRules

#: Line-of-sight checks treat the Earth as a sphere of the WGS84 equatorial radius: at
#: most 21 km conservative (near the poles the surface is lower).
EARTH_RADIUS_FOR_LOS_KM = WGS84_A_KM

#: Samples per orbit when choosing the ``nearest`` inter-plane neighbour.
_NEAREST_SAMPLES = 12


@dataclass(frozen=True)
class IslCandidates:
    """Static ISL candidates: satellite index pairs and whether each is inter-plane."""

    a: np.ndarray
    b: np.ndarray
    inter_plane: np.ndarray

    def __len__(self) -> int:
        return len(self.a)


def _plane_ranges(shell: Shell) -> List[Tuple[int, int]]:
    """(first satellite index, size) of each plane of a shell."""
    out, first = [], shell.first
    for size in shell.plane_sizes:
        out.append((first, size))
        first += size
    return out


def _intra_plane(first: int, size: int) -> Tuple[np.ndarray, np.ndarray]:
    if size < 2:
        return np.zeros(0, int), np.zeros(0, int)
    if size == 2:  # a ring of two is a single link
        return np.array([first]), np.array([first + 1])
    n = np.arange(size)
    return first + n, first + (n + 1) % size


def _adjacent_planes(shell: Shell) -> List[Tuple[int, int]]:
    """Pairs of planes (p, q) to link: p and p+1, and last-first if the shell wraps.
    Walker-star shells (``wraps`` False) have a seam there: no links across it."""
    pairs = [(p, p + 1) for p in range(shell.planes - 1)]
    if shell.wraps and shell.planes >= 3:
        pairs.append((shell.planes - 1, 0))
    return pairs


def _orbit_samples(c: Constellation, shell: Shell) -> np.ndarray:
    """Positions (shell size, T, 3) of a shell's satellites over one orbit from the start."""
    period_s = 2.0 * np.pi / c.satrecs[shell.first].no_kozai * 60.0
    times = np.arange(_NEAREST_SAMPLES) * (period_s / _NEAREST_SAMPLES)
    sats = c.satrecs[shell.first:shell.first + shell.size]
    return Propagator(sats, c.start).ecef(times)


def _nearest_partners(samples: np.ndarray, first: int, p_range: Tuple[int, int],
                      q_range: Tuple[int, int]) -> np.ndarray:
    """For each satellite of plane p, the index of the satellite of plane q with the
    smallest mean distance over the sampled orbit (distances do not depend on the frame)."""
    (fp, sp), (fq, sq) = p_range, q_range
    a = samples[fp - first:fp - first + sp][:, None, :, :]
    b = samples[fq - first:fq - first + sq][None, :, :, :]
    mean = np.nanmean(np.linalg.norm(a - b, axis=-1), axis=-1)  # (sp, sq)
    mean = np.where(np.isfinite(mean), mean, np.inf)
    return fq + np.argmin(mean, axis=1)


def plus_grid_candidates(c: Constellation, rules: IslRules) -> IslCandidates:
    """The +Grid ISL candidates of every shell (no links between shells).

    * intra-plane: slot n with slot n+1 (mod the plane size);
    * inter-plane, ``same_slot``: slot n of plane p with slot n of plane p+1 (if it
      has one), as Hypatia's +Grid with ISL shift 0 (also across the Walker-delta wrap);
    * inter-plane, ``nearest``: each satellite of plane p with the satellite of plane
      p+1 that is closest on average over one orbit (this follows the phasing, also
      across the wrap, and suits real TLE planes of unequal sizes).
    """
    a_parts, b_parts, inter_parts = [], [], []

    def add(a, b, inter):
        a_parts.append(np.asarray(a, dtype=np.int64))
        b_parts.append(np.asarray(b, dtype=np.int64))
        inter_parts.append(np.full(len(a_parts[-1]), inter, dtype=bool))

    for shell in c.shells:
        ranges = _plane_ranges(shell)
        if rules.intra_plane:
            for first, size in ranges:
                add(*_intra_plane(first, size), False)
        if rules.inter_plane == "none":
            continue
        samples = _orbit_samples(c, shell) if rules.inter_plane == "nearest" else None
        for p, q in _adjacent_planes(shell):
            (fp, sp), (fq, sq) = ranges[p], ranges[q]
            if rules.inter_plane == "same_slot":
                n = np.arange(min(sp, sq))
                add(fp + n, fq + n, True)
            else:
                add(np.arange(fp, fp + sp), _nearest_partners(samples, shell.first, ranges[p], ranges[q]), True)
    if not a_parts:
        z = np.zeros(0, np.int64)
        return IslCandidates(z, z.copy(), np.zeros(0, bool))
    a, b, inter = np.concatenate(a_parts), np.concatenate(b_parts), np.concatenate(inter_parts)
    # Drop self-pairs and duplicates (e.g. mutual nearest partners).
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    lo, hi, inter = lo[keep], hi[keep], inter[keep]
    _, first = np.unique(lo * max(c.num_satellites, 1) + hi, return_index=True)
    first.sort()
    return IslCandidates(lo[first], hi[first], inter[first])


def grazing_altitude_km(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Lowest altitude (km, above a sphere of :data:`EARTH_RADIUS_FOR_LOS_KM`) of the
    straight segments between positions ``pa`` and ``pb`` (each (k, 3), ECEF km)."""
    d = pb - pa
    dd = np.einsum("ij,ij->i", d, d)
    t = np.clip(-np.einsum("ij,ij->i", pa, d) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    closest = pa + t[:, None] * d
    return np.linalg.norm(closest, axis=1) - EARTH_RADIUS_FOR_LOS_KM


def isl_filter(positions_km: np.ndarray, a: np.ndarray, b: np.ndarray, inter_plane: np.ndarray,
               rules: IslRules) -> Tuple[np.ndarray, np.ndarray]:
    """Which candidate ISLs are up at these positions, and their lengths (km).

    Down: an end without a position (decayed), a line of sight below
    ``min_grazing_altitude_km``, a length above ``max_range_km``, or (inter-plane
    only) an end above ``max_latitude_deg`` of geocentric latitude.
    """
    pa, pb = positions_km[a], positions_km[b]
    dist = np.linalg.norm(pb - pa, axis=1)
    up = np.isfinite(dist)
    up &= grazing_altitude_km(pa, pb) >= rules.min_grazing_altitude_km
    if rules.max_range_km is not None:
        up &= dist <= rules.max_range_km
    if rules.max_latitude_deg is not None and inter_plane.any():
        sin_max = np.sin(np.radians(rules.max_latitude_deg))
        sin_lat = positions_km[:, 2] / np.linalg.norm(positions_km, axis=1)
        high = (np.abs(sin_lat[a]) > sin_max) | (np.abs(sin_lat[b]) > sin_max)
        up &= ~(inter_plane & high)
    return up, dist


def inter_shell_candidates(c: Constellation, positions_km: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``inter_shell: nearest``: each satellite of shell k paired with the nearest
    satellite (straight line, now) of shell k+1. Filtered afterwards like other ISLs."""
    a_parts, b_parts = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for lower, upper in zip(c.shells[:-1], c.shells[1:]):
        ia = np.arange(lower.first, lower.first + lower.size)
        ib = np.arange(upper.first, upper.first + upper.size)
        ia = ia[np.isfinite(positions_km[ia]).all(axis=1)]
        ib = ib[np.isfinite(positions_km[ib]).all(axis=1)]
        if not len(ia) or not len(ib):
            continue
        _, nearest = cKDTree(positions_km[ib]).query(positions_km[ia])
        a_parts.append(ia)
        b_parts.append(ib[nearest])
    return np.concatenate(a_parts), np.concatenate(b_parts)
