"""``python -m leonet.krios.daemon``: the Krios scheduler and LEO controller as one
process, next to the control plane (the paper runs them as two Deployments on the
control node). It needs only a kubeconfig, the scenario (for the TLEs and zones) and
a clock, so it runs against leonet's embedded control plane or any Kubernetes API::

    python -m leonet.krios.daemon --kubeconfig K --scenario S [--clock info|wall]
        [--components scheduler,controller] [--endpoints info|none] [--noop]
        [--namespace default] [--handovers FILE] [--stats FILE]

Inside an emulation it is started in the control ground station's namespace (see
:mod:`.service`), reads the emulated time from the info API and publishes endpoints
there. It prints ``READY`` once its caches are in sync and the scheduler has warmed up;
SIGTERM stops it cleanly.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import List, Optional

from ..errors import LeonetError
from ..orbits import load_constellation
from .clock import InfoApiClock, WallClock
from .config import krios_config
from .controller import LeoController
from .endpoints import Endpoints, InfoApiEndpoints
from .scheduler import KriosScheduler

log = logging.getLogger("leonet.krios")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m leonet.krios.daemon", description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", required=True, help="kubeconfig with embedded credentials")
    p.add_argument("--scenario", required=True, help="scenario preset or file (TLEs and krios.zones)")
    p.add_argument("--start", help="override the scenario's start (UTC), as the emulation run did")
    p.add_argument("--components", default="scheduler,controller", help="scheduler, controller or both")
    p.add_argument("--namespace", default="default", help="namespace of the apps (default: default)")
    p.add_argument("--clock", choices=("info", "wall"), default="info",
                   help="info: the emulation's clock from the info API; wall: UTC now")
    p.add_argument("--info-url", default="http://169.254.169.254")
    p.add_argument("--endpoints", choices=("info", "none"), default="info",
                   help="info: publish <app>.<namespace>.krios.leonet in the info API's DNS; none: a Service routes")
    p.add_argument("--noop", action="store_true", help="the no-op scheduler: a random feasible node (Fig. 13)")
    p.add_argument("--scheduler-name", help="override krios.scheduler_name")
    p.add_argument("--handovers", type=Path, help="append each handover as a JSON line here")
    p.add_argument("--stats", type=Path, help="write the scheduler's decisions here (JSON) at exit")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


async def serve(args: argparse.Namespace) -> None:
    from ..controlplane.agent.connection import ApiConnection
    c = load_constellation(args.scenario, args.start)
    cfg = krios_config(c.scenario)
    if args.scheduler_name:
        from dataclasses import replace
        cfg = replace(cfg, scheduler_name=args.scheduler_name)
    if args.clock == "info":
        clock = InfoApiClock(args.info_url)
        await clock.first_sync()
    else:
        clock = WallClock(c.start)
    endpoints: Endpoints = InfoApiEndpoints(args.info_url) if args.endpoints == "info" else Endpoints()
    conn = ApiConnection.from_kubeconfig(args.kubeconfig)
    components = {x.strip() for x in args.components.split(",") if x.strip()}
    unknown = components - {"scheduler", "controller"}
    if unknown or not components:
        raise LeonetError(f"--components: unknown {sorted(unknown) or 'empty'}; use scheduler, controller or both")
    parts: List = []
    scheduler: Optional[KriosScheduler] = None
    if "scheduler" in components:
        scheduler = KriosScheduler(conn, c, cfg, clock, namespace=args.namespace, noop=args.noop)
        parts.append(scheduler)
    if "controller" in components:
        parts.append(LeoController(conn, c, cfg, clock, endpoints, args.namespace, args.handovers))
    tasks = [asyncio.ensure_future(p.run()) for p in parts] + [asyncio.ensure_future(clock.run())]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        caches = [getattr(p, name) for p in parts for name in ("nodes", "pods")]
        ready = [cache.synced.wait() for cache in caches] + ([scheduler.ready.wait()] if scheduler else [])
        await asyncio.wait_for(asyncio.gather(*ready), 60)
        print("READY", flush=True)
        done, _ = await asyncio.wait([asyncio.ensure_future(stop.wait()), *tasks], return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t in tasks and t.exception():
                raise t.exception()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if scheduler is not None and args.stats:
            args.stats.write_text(json.dumps({"decisions": [asdict(d) for d in scheduler.stats.decisions],
                                              "failures": scheduler.stats.failures}))
        await endpoints.close()
        await conn.close()


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="krios: %(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        asyncio.run(serve(args))
    except LeonetError as exc:
        sys.stderr.write(f"krios: error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
