"""Building small constellations and engines in tests, without files."""
from typing import Any, Dict, List, Optional

import networkx as nx
import numpy as np

from leonet.orbits import build_constellation, parse_scenario
from leonet.orbits.constants import SPEED_OF_LIGHT_KM_S
from leonet.topology import Snapshot, TopologyEngine

START = "2026-01-31T12:00:00Z"


def walker(planes: int, sats: int, altitude_km: float = 550.0, inclination_deg: float = 53.0,
           kind: str = "delta", **extra: Any) -> Dict[str, Any]:
    return dict(walker=kind, planes=planes, sats_per_plane=sats, altitude_km=altitude_km,
                inclination_deg=inclination_deg, **extra)


def gs(name: str, lat: float, lon: float, **extra: Any) -> Dict[str, Any]:
    return dict(name=name, lat_deg=lat, lon_deg=lon, **extra)


def engine(*shells: Dict[str, Any], ground_stations: Optional[List[Dict[str, Any]]] = None,
           topology: Optional[Dict[str, Any]] = None, defaults: Optional[Dict[str, Any]] = None
           ) -> TopologyEngine:
    raw: Dict[str, Any] = dict(name="test", start=START,
                               shells=[dict(s, name=s.get("name", f"shell{i}")) for i, s in enumerate(shells)],
                               ground_stations=ground_stations or [])
    if topology is not None:
        raw["topology"] = topology
    if defaults is not None:
        raw["defaults"] = defaults
    return TopologyEngine(build_constellation(parse_scenario(raw)))


def light_ms(distance_km: float) -> float:
    """Independent of the code under test: km to one-way ms at c in vacuum."""
    return distance_km / SPEED_OF_LIGHT_KM_S * 1000.0


def nx_graph(snap: Snapshot, keep_ground_stations=None) -> nx.Graph:
    """A networkx graph built straight from the link arrays (delay weights); ground
    stations not in ``keep_ground_stations`` (node indices) are left out."""
    n = snap.nodes.num_satellites
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_nodes_from(range(n, len(snap.nodes)) if keep_ground_stations is None else keep_ground_stations)
    for a, b, d in zip(snap.links.a, snap.links.b, snap.links.delay_ms):
        a, b = int(a), int(b)
        if keep_ground_stations is not None and any(x >= n and x not in keep_ground_stations for x in (a, b)):
            continue
        g.add_edge(a, b, weight=float(d))
    return g


def segment_min_radius_sampled(pa: np.ndarray, pb: np.ndarray, samples: int = 20001) -> float:
    """Lowest |r| along a segment, by brute-force sampling (independent of the closed form)."""
    t = np.linspace(0.0, 1.0, samples)[:, None]
    return float(np.linalg.norm(pa + t * (pb - pa), axis=1).min())
