"""Scoring policies for choosing a satellite among a zone's members (higher is better).

* ``krios`` (§5.2): ``v . (c - p)``, the satellite's Earth-fixed velocity dotted with
  the vector from it to the zone centre: the farthest member that is heading at the
  centre wins, i.e. the one that will stay longest in a circular region. (Polygon
  zones use the predicted remaining access time instead, as the paper prescribes for
  non-circular shapes; see :meth:`ZoneManager.scores`.)
* ``closest``: the member nearest the zone centre (smallest central angle), as
  cellular networks pick base stations.
* ``random``: any member, uniformly (Kubernetes among equally ranked nodes).
* ``longest``: the largest predicted remaining access time, computed exactly from the
  orbit (an extension: the oracle the ``krios`` heuristic approximates).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .zones import Zone

POLICIES = ("krios", "closest", "random", "longest")


def score(policy: str, zone: Zone, pos_km: np.ndarray, vel_km_s: np.ndarray,
          rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Scores of candidates at ECEF positions ``pos_km`` with Earth-fixed velocities
    ``vel_km_s`` (each (n, 3)) for the closed-form policies."""
    c = zone.center_ecef_km
    if policy == "krios":
        return np.einsum("ij,ij->i", vel_km_s, c[None, :] - pos_km)
    if policy == "closest":
        cos = pos_km @ c / (np.linalg.norm(pos_km, axis=1) * np.linalg.norm(c))
        return np.clip(cos, -1.0, 1.0)          # larger cosine = smaller central angle
    if policy == "random":
        return (rng or np.random.default_rng()).random(len(pos_km))
    raise ValueError(f"policy {policy!r} has no closed-form score")
