"""Shared pieces of the KubeSpace experiments: the three constellations and cached path-delay tensors
(Table I, Figs. 10, 11), and the live platforms of Figs. 7-9 (options, scenarios, bring-up, plane watches,
the summary and the results table); CSV/table/figure output comes from ``common``."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a fresh clone without installing
    sys.path.insert(0, str(ROOT))

from common import Stopwatch, matplotlib_agg, print_table, save_figure, write_csv  # noqa: E402,F401
from leonet.orbits import Constellation, load_constellation  # noqa: E402

#: name -> (scenario preset, satellites in the paper)
CONSTELLATIONS: Dict[str, tuple] = {
    "starlink": ("kubespace-starlink", 1584),
    "kuiper": ("kubespace-kuiper", 1296),
    "oneweb": ("kubespace-oneweb", 636),
}
DAY_S = 86400.0


def _base_parser(description: str, quick_help: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "kubespace", help="output folder")
    return p


def parser(description: str) -> argparse.ArgumentParser:
    """The options of the trace-driven experiments: --quick, --out, the constellations and the workers."""
    p = _base_parser(description, "reduced run (seconds): shorter period, fewer snapshots")
    p.add_argument("--constellations", default=",".join(CONSTELLATIONS),
                   help="comma-separated subset of " + ", ".join(CONSTELLATIONS))
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes that build path snapshots (default 2)")
    return p


def selected(args: argparse.Namespace) -> List[str]:
    names = [n.strip() for n in args.constellations.split(",") if n.strip()]
    bad = [n for n in names if n not in CONSTELLATIONS]
    if bad:
        raise SystemExit(f"unknown constellation(s) {bad}; choose from {list(CONSTELLATIONS)}")
    return names


def load(name: str) -> Constellation:
    return load_constellation(CONSTELLATIONS[name][0])


# ----------------------------------------------------------------------------- path tensors

def path_tensor(c: Constellation, scenario: str, offsets: np.ndarray, cache: Path,
                stations: Sequence[int] | None = None, workers: int = 1, desc: str = "") -> np.ndarray:
    """Path one-way delay (ms), shape (T, G, N), built once and cached as .npy
    (keyed by a fingerprint of the network, the offsets and the stations; see
    :func:`leonet.topology.delays.cached_ground_satellite_delays`). ``scenario`` names
    the preset ``c`` was loaded from (kept for the callers; the key does not need it)."""
    from leonet.topology import TopologyEngine
    from leonet.topology.delays import cached_ground_satellite_delays

    return cached_ground_satellite_delays(TopologyEngine(c), offsets, cache, stations, workers=workers,
                                          desc=desc or f"paths {c.scenario.name}").delay_ms


# ----------------------------------------------------------------------------- live platforms (Figs. 7-9)

#: platform -> (label in tables and figures, the paper's name for it)
PLATFORMS: Dict[str, tuple] = {
    "kubespace": ("KubeSpace", "KubeSpace"),
    "single-plane": ("single plane", "Krios"),
    "leave-rejoin": ("leave/rejoin", "Karmada"),
    "rejoin": ("rejoin, no eviction", "Multi-KubeEdge"),
}
#: the 10 planes CNPA (K = 10, C = 20, seed 0) chooses for Starlink among the 316 candidates (as the handover
#: timeline's run printed them)
STARLINK_PLANES = ("city-Cali", "city-Surabaya", "Wagin_WA", "Molokai_HI", "Clevedon",
                   "city-Tel-Aviv-Yafo-(Tel-Aviv-Jaffa)", "Punta_Arenas", "St_John", "city-Haerbin", "city-Durban")
#: the single plane: the equatorial city that minimises the worst satellite delay (Fig. 10's "single")
STARLINK_SINGLE = "city-Guayaquil"
QUICK_STATIONS = (("Berlin", 52.52, 13.405), ("Madrid", 40.42, -3.70), ("Rome", 41.90, 12.50),
                  ("Cairo", 30.04, 31.24), ("Lagos", 6.52, 3.38), ("Moscow", 55.76, 37.62))
QUICK_SINGLE = "Lagos"   # the quick set's station nearest the equator


def platform_names(text: str, allowed: Sequence[str] = tuple(PLATFORMS)) -> List[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in allowed]
    if bad:
        raise SystemExit(f"unknown platform(s) {bad}; choose from {list(allowed)}")
    return names


def require_root() -> None:
    """Exit with one line (no traceback) unless we are root, as a live experiment must be; call it after
    parsing, so that ``--help`` works for anyone."""
    if os.geteuid() != 0:
        raise SystemExit(f"needs root (a live emulation): sudo python experiments/{Path(sys.argv[0]).name}")


@dataclass(frozen=True)
class Stretch:
    """The measured stretch of a live figure, per platform: ``--duration`` emulated seconds (of ``what``),
    cut after ``--max-wall`` wall seconds if the emulation falls behind; each with its full and quick
    default. ``name`` is what the script calls the stretch (in --max-wall's help)."""
    what: str
    name: str
    duration_s: float
    quick_duration_s: float
    max_wall_s: float
    quick_max_wall_s: float


def live_parser(doc: str, full: str, quick: str, allowed: Sequence[str] = tuple(PLATFORMS),
                agents: str = "satellites with an agent, spread evenly",
                stretch: Optional[Stretch] = None) -> argparse.ArgumentParser:
    """The options every live figure (7-9) has: --quick, --out, the platforms (``full`` by default,
    ``quick`` with --quick, among ``allowed``), the satellites with an agent, the speed and the planes,
    and, with ``stretch``, --duration and --max-wall. The description is ``doc``'s first paragraph.
    :func:`live_options` resolves them after parsing."""
    p = _base_parser(" ".join(doc.split("\n\n")[0].split()),
                     "the small Walker shell (80 satellites), fewer platforms, shorter runs (CI)")
    p.add_argument("--platforms", help=f"comma-separated (default {full}; quick {quick})")
    p.add_argument("--agents", help=f"{agents} (default 100; quick all 80)")
    p.add_argument("--speed", type=float, help="emulated seconds per wall second (default 1; quick 4)")
    p.add_argument("--planes", help="comma-separated plane stations (default: the 10 CNPA planes; quick: cnpa)")
    if stretch is not None:
        st = stretch
        p.add_argument("--duration", type=float, help=f"emulated seconds {st.what} per platform "
                                                      f"(default {st.duration_s:g}; quick {st.quick_duration_s:g})")
        p.add_argument("--max-wall", type=float, help=f"stop a platform's {st.name} after this many wall seconds "
                                                      f"(default {st.max_wall_s:g}; quick {st.quick_max_wall_s:g})")
    p.set_defaults(full_platforms=full, quick_platforms=quick, allowed_platforms=tuple(allowed), stretch=stretch)
    return p


def live_options(args: argparse.Namespace) -> List[str]:
    """Check that we are root, resolve :func:`live_parser`'s options in ``args`` (quick or full defaults),
    make the output folder and return the platforms to measure."""
    require_root()
    q = args.quick
    platforms = platform_names(args.platforms or (args.quick_platforms if q else args.full_platforms),
                               args.allowed_platforms)
    args.agents = args.agents or ("all" if q else "100")
    args.agents = args.agents if args.agents == "all" else int(args.agents)
    args.speed = args.speed or (4.0 if q else 1.0)
    args.planes = [s.strip() for s in args.planes.split(",")] if args.planes else None
    stretch: Optional[Stretch] = args.stretch
    if stretch is not None:
        args.duration = args.duration or (stretch.quick_duration_s if q else stretch.duration_s)
        args.max_wall = args.max_wall or (stretch.quick_max_wall_s if q else stretch.max_wall_s)
    args.out.mkdir(parents=True, exist_ok=True)
    return platforms


def write_summary(path: Path, args: argparse.Namespace, settings: Dict[str, Any], platforms: Dict[str, Any],
                  failed: Dict[str, str], watch: Stopwatch) -> None:
    """A live figure's ``*_summary.json``: the run's settings, each platform's summary, the platforms whose
    run failed, and the wall time."""
    path.write_text(json.dumps({"quick": args.quick, "agents": args.agents, **settings, "platforms": platforms,
                                "failed": failed, "wall_s": round(watch(), 1)}, indent=1, default=str))


def print_results(title: str, rows: List[dict], columns: Sequence[str], failed: Dict[str, str]) -> None:
    """A live figure's table, ours beside the paper's, then the platforms whose run failed."""
    print(f"\n{title}")
    print_table(rows, columns)
    for platform, why in failed.items():
        print(f"{platform}: FAILED ({why})")


def live_scenario(platform: str, quick: bool, agents: Any = "all", planes: Optional[Sequence[str]] = None,
                  single: Optional[str] = None, pod_runtime: str = "process") -> Dict[str, Any]:
    """The live scenario of one platform: the runtime's ``kubespace.runtime.platform`` mode. Every platform
    runs the same emulation (the same shell and stations); they differ in the control planes and in what
    a handover does. ``quick``: a small Walker shell (8 x 10 at 1,200 km), three planes CNPA chooses among
    six stations. Otherwise Starlink shell 1 (72 x 22, 550 km) with ``planes`` (default the 10 CNPA
    planes) and the single plane ``single``.
    ``pod_runtime``: how the agents run pods (``process`` or ``docker``)."""
    import yaml
    from leonet.orbits.scenario import scenario_path

    if quick:
        stations = [{"name": n, "lat_deg": la, "lon_deg": lo} for n, la, lo in QUICK_STATIONS]
        raw: Dict[str, Any] = {
            "name": f"kubespace-{platform}-quick", "start": "2026-01-31T12:00:00Z",
            "defaults": {"min_elevation_deg": 10},
            "shells": [{"name": "t", "walker": "delta", "planes": 8, "sats_per_plane": 10, "altitude_km": 1200,
                        "inclination_deg": 53}],
            "ground_stations": stations, "topology": {"gsl": {"policy": "nearest"}}}
        kubespace: Dict[str, Any] = {"placement": {"k": 3, "clusters": 4, "period_s": 3600, "snapshot_interval_s": 60},
                                     "assignment": {"window_s": 3600, "threshold": 0.9}}
        plane_spec: Any = list(planes) if planes else "cnpa"
        single = single or QUICK_SINGLE
    else:
        src = yaml.safe_load(scenario_path("kubespace-starlink").read_text(encoding="utf-8"))
        c = load("starlink")
        plane_spec = list(planes or STARLINK_PLANES)
        single = single or STARLINK_SINGLE
        gs = [c.ground_station(n) for n in dict.fromkeys([*plane_spec, single])]
        raw = {"name": f"kubespace-{platform}-shell1", "start": src["start"], "defaults": src["defaults"],
               "shells": src["shells"], "topology": src["topology"],
               "ground_stations": [{"name": g.name, "lat_deg": float(g.lat_deg), "lon_deg": float(g.lon_deg),
                                    "alt_m": float(g.alt_m)} for g in gs]}
        kubespace = {"assignment": src["kubespace"]["assignment"]}
    raw.update({"emulation": {"backend": "nfqueue"}, "containers": {"info_api": False}})
    runtime: Dict[str, Any] = {"enabled": True, "planes": [single] if platform == "single-plane" else plane_spec}
    if platform != "kubespace":
        runtime["platform"] = platform
    raw["controlplane"] = {"agents": {"satellites": agents, "pod_runtime": pod_runtime}}
    raw["kubespace"] = {**kubespace, "runtime": runtime}
    return raw


class PlaneWatches:
    """A watch on one resource of every control plane, from each plane's ground station (sockets in its
    namespace), calling ``on_event(plane, type, obj, monotonic_time)`` on the watch loop's thread for every
    event (and re-listing after an error). ``admin`` is the handover timeline's :class:`Admin` (its loop
    and admin connections)."""

    def __init__(self, admin: Any, api_version: str, plural: str, on_event, **params: Any):
        import asyncio
        self.admin, self.on_event = admin, on_event
        self.started: Dict[str, bool] = {}
        self._tasks = [asyncio.run_coroutine_threadsafe(self._watch(gs, api_version, plural, params), admin.loop)
                       for gs in admin.conns]

    async def _watch(self, gs: str, api_version: str, plural: str, params: Dict[str, Any]) -> None:
        import asyncio
        import time as _time
        from leonet.controlplane.errors import ApiError
        conn = self.admin.conns[gs]
        while True:
            try:
                lst = await conn.list(api_version, plural, **params)
                rv = lst["metadata"]["resourceVersion"]
                for obj in lst["items"]:
                    self.on_event(gs, "LISTED", obj, _time.monotonic())
                self.started[gs] = True
                while True:
                    async for etype, obj in conn.watch(api_version, plural, resource_version=rv,
                                                       timeout_seconds=300, **params):
                        rv = obj["metadata"].get("resourceVersion", rv)
                        if etype != "BOOKMARK":
                            self.on_event(gs, etype, obj, _time.monotonic())
            except (ApiError, OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.5)

    def wait_started(self, timeout: float = 60.0) -> None:
        from leonet.waiting import poll
        if not poll(lambda: len(self.started) >= len(self._tasks), timeout, interval=0.1):
            raise SystemExit(f"watches did not start on {set(self.admin.conns) - set(self.started)}")

    def stop(self) -> None:
        for t in self._tasks:
            t.cancel()


def measure_all(platforms: Sequence[str], args: Any) -> tuple:
    """``measure(platform, args)`` of the calling script for each platform; a platform whose run fails is
    reported ({platform: why}) and the others still measured (each is a separate live run)."""
    import traceback
    measure = sys.modules["__main__"].measure
    runs, failed = {}, {}
    for platform in platforms:
        try:
            runs[platform] = measure(platform, args)
        except Exception as e:   # a crash in one platform's run must not lose the others' results
            traceback.print_exc()
            failed[platform] = f"{type(e).__name__}: {e}"
    if not runs:
        raise SystemExit(f"every platform failed: {failed}")
    return runs, failed


@contextlib.contextmanager
def platform_run(platform: str, raw: Dict[str, Any], speed: float) -> Iterator[tuple]:
    """One platform's live run (after any other run on the machine has ended), with every agent registered
    and every daemon's schedule ready; yields ``(net, info)``, ``info`` holding the bring-up facts."""
    import time as _time
    from leonet import LeoNet
    from leonet.emulation import runstate
    from leonet.kubespace.runtime.service import KubeSpaceRuntime
    while runstate.active_run() is not None:
        _time.sleep(2)
    watch = Stopwatch()
    with LeoNet(raw, clock="manual", speed=speed) as net:
        cluster = net.cluster
        info: Dict[str, Any] = {"platform": platform, "planes": list(cluster.planes),
                                "agents": len(cluster.node_names), "bring_up_s": round(watch(), 1)}
        info["register_s"] = cluster.wait_registered(1800)["seconds"]
        KubeSpaceRuntime.of(net.run).wait_ready(600)
        print(f"[{platform}] up in {info['bring_up_s']} s, {info['agents']} agents registered in "
              f"{info['register_s']} s; planes {', '.join(cluster.planes)}", flush=True)
        yield net, info
