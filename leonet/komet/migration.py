"""Komet's service migration (SoCC '24, Sec. 4.2 and Fig. 4) against the satellites'
Komet servers.

An application is a set of functions and keygroups. Where it runs is a
:class:`Deployment`: the satellites that hold it and, for each, the satellite its
keygroup replicas were seeded from (the primary has none). One migration is

1. :meth:`Deployment.add`: replicate the keygroups to the next satellite (seeded from
   the closest satellite that holds them, Sec. 5.3), wait until the full copy is in,
   then start the functions there (code sent from the ground, cold start timed);
2. the caller tells the clients to switch (the scheduler's WebSocket push);
3. :meth:`Deployment.remove`: delete the old satellite's functions, hand the primary
   role over if it held it (:meth:`Deployment._hand_over`: no acknowledged write is lost), re-point
   replicas seeded from it, and drop its replicas.

Every step is timed; a failed step raises :class:`MigrationError` after undoing what
it had done on the new satellite, and the old one keeps serving.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .nodeapi import NodeClient, NodeError

#: the functions' sources (apps/komet/functions/<name>/)
FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "apps" / "komet" / "functions"


@dataclass(frozen=True)
class KeygroupSpec:
    mutable: bool = True
    expiry_s: int = 0


@dataclass(frozen=True)
class FunctionSpec:
    source: str                              #: folder under apps/komet/functions
    threads: int = 8
    keygroups: Tuple[str, ...] = ()
    env: Tuple[Tuple[str, str], ...] = ()

    def files(self) -> Dict[str, str]:
        folder = FUNCTIONS_DIR / self.source
        return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*"))
                if p.is_file() and p.suffix in (".py", ".json", ".csv", ".txt") and "__pycache__" not in p.parts}


@dataclass(frozen=True)
class AppSpec:
    """An application: its keygroups and functions (``name -> spec``)."""

    name: str
    keygroups: Mapping[str, KeygroupSpec]
    functions: Mapping[str, FunctionSpec]

    def with_env(self, **env: str) -> "AppSpec":
        """A copy whose functions get these environment variables too."""
        fns = {n: FunctionSpec(f.source, f.threads, f.keygroups, tuple(sorted({**dict(f.env), **env}.items())))
               for n, f in self.functions.items()}
        return AppSpec(self.name, self.keygroups, fns)


class MigrationError(RuntimeError):
    """A migration step failed; ``step`` names it, ``node`` the satellite."""

    def __init__(self, step: str, node: str, detail: str, timings: Optional[Dict[str, float]] = None):
        super().__init__(f"{step} on {node} failed: {detail}")
        self.step, self.node, self.detail, self.timings = step, node, detail, timings or {}


@dataclass
class Deployment:
    """Where one application runs, and the operations that move it."""

    app: AppSpec
    clients: Callable[[str], NodeClient]             #: satellite name -> its API client
    sync_timeout_s: float = 60.0
    ready_timeout_s: float = 5.0                    #: how long a new satellite's server may take to answer
    #: satellite -> the satellite its replicas were seeded from (None: the primary)
    parent: Dict[str, Optional[str]] = field(default_factory=dict)
    ports: Dict[Tuple[str, str], str] = field(default_factory=dict)   #: (satellite, kg) -> "addr:port"

    @property
    def satellites(self) -> List[str]:
        return list(self.parent)

    @property
    def primary(self) -> Optional[str]:
        return next((s for s, p in self.parent.items() if p is None), None)

    def children(self, sat: str) -> List[str]:
        return [s for s, p in self.parent.items() if p == sat]

    # ------------------------------------------------------------------ add
    async def add(self, sat: str, source: Optional[str] = None) -> Dict[str, float]:
        """Replicate the keygroups to ``sat`` from ``source`` (a satellite that holds
        them; None only for the first deployment, which creates them) and start the
        functions. Returns the step timings in seconds."""
        if sat in self.parent:
            return {}
        if source is None and self.parent:
            raise ValueError("the keygroups exist already: give the satellite to replicate from")
        if source is not None and source not in self.parent:
            raise ValueError(f"{source} does not hold {self.app.name}")
        node = self.clients(sat)
        t: Dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            t["server_ready_s"] = await node.wait_up(timeout_s=self.ready_timeout_s)
        except NodeError as exc:
            raise MigrationError("server ready", sat, exc.detail, t) from None
        created: List[str] = []
        try:
            t1 = time.perf_counter()
            for kg, spec in self.app.keygroups.items():
                primary = None if source is None else self.ports[(source, kg)]
                ans = await node.create_keygroup(kg, primary, spec.mutable, spec.expiry_s)
                created.append(kg)
                self.ports[(sat, kg)] = ans["address"]
            for kg in self.app.keygroups:
                if source is not None:
                    ans = await node.wait_synced(kg, self.sync_timeout_s)
            t["replication_s"] = time.perf_counter() - t1
        except NodeError as exc:
            await self._undo(node, sat, created, [])
            step = "replication" if "wait-synced" in exc.what or "keygroups" in exc.what else "keygroup"
            raise MigrationError(step, sat, exc.detail, t) from None
        started: List[str] = []
        try:
            t2 = time.perf_counter()
            colds = []
            for name, fn in self.app.functions.items():
                ans = await node.deploy_function(name, fn.files(), fn.threads, dict(fn.env), fn.keygroups)
                started.append(name)
                colds.append(float(ans["cold_start_s"]))
            t["functions_s"] = time.perf_counter() - t2
            t["cold_start_s"] = max(colds) if colds else 0.0
        except NodeError as exc:
            await self._undo(node, sat, created, started)
            raise MigrationError("function start", sat, exc.detail, t) from None
        self.parent[sat] = source
        t["total_s"] = time.perf_counter() - t0
        return t

    async def _undo(self, node: NodeClient, sat: str, keygroups: Sequence[str], functions: Sequence[str]) -> None:
        """Best effort: the new satellite may be dead or cut off."""
        for name in functions:
            try:
                await node.delete_function(name)
            except NodeError:
                pass
        for kg in keygroups:
            self.ports.pop((sat, kg), None)
            try:
                await node.delete_keygroup(kg)
            except NodeError:
                pass

    # ------------------------------------------------------------------ remove
    async def remove(self, sat: str, closest: Optional[Callable[[str, Sequence[str]], str]] = None,
                     reachable: bool = True) -> Dict[str, float]:
        """Delete the app from ``sat``. If it held the primary, the primary role moves
        to the closest of its direct replicas first; replicas seeded from it follow
        another holder. ``closest(sat, candidates)`` picks by path delay (default: the
        first). ``reachable=False`` skips the calls to ``sat`` itself (it is dead or
        left the bounding box) -- then a primary cannot hand over and the call fails.
        Returns the step timings."""
        if sat not in self.parent:
            return {}
        pick = closest or (lambda s, cands: cands[0])
        node = self.clients(sat)
        t: Dict[str, float] = {}
        t0 = time.perf_counter()
        if reachable:
            for name in self.app.functions:
                try:
                    await node.delete_function(name)
                except NodeError as exc:
                    if "404" not in exc.detail:
                        raise MigrationError("function delete", sat, exc.detail, t) from None
        t["functions_deleted_s"] = time.perf_counter() - t0
        kids = self.children(sat)
        new_parent = self.parent[sat]
        if new_parent is None and kids:          # sat holds the primary: hand it over first
            if not reachable:
                raise MigrationError("failover", sat, "the primary is unreachable; its replicas keep the data "
                                     "but no write can be acknowledged", t)
            heir = pick(sat, kids)
            t1 = time.perf_counter()
            for kg in self.app.keygroups:
                await self._hand_over(kg, sat, heir, t)
            t["failover_s"] = time.perf_counter() - t1
            self.parent[heir] = None
            new_parent = heir
            kids = [k for k in kids if k != heir]
        elif new_parent is None and not kids and len(self.parent) == 1:
            raise MigrationError("remove", sat, "it is the only satellite that holds the application", t)
        for kid in kids:                          # re-point replicas seeded from sat
            target = new_parent if new_parent is not None else pick(sat, [s for s in self.parent if s != sat])
            for kg in self.app.keygroups:
                try:
                    await self.clients(kid).replicate(kg, self.ports[(target, kg)])
                except NodeError as exc:
                    raise MigrationError("re-point replica", kid, exc.detail, t) from None
            self.parent[kid] = target
        t2 = time.perf_counter()
        if reachable:
            for kg in self.app.keygroups:
                try:
                    await node.delete_keygroup(kg)
                except NodeError:
                    pass                          # dead meanwhile: nothing left to drop
        t["replica_deleted_s"] = time.perf_counter() - t2
        for kg in self.app.keygroups:
            self.ports.pop((sat, kg), None)
        del self.parent[sat]
        t["total_s"] = time.perf_counter() - t0
        return t

    async def _hand_over(self, kg: str, old: str, heir: str, t: Dict[str, float]) -> None:
        """Move the primary role of ``kg`` from ``old`` to its replica ``heir``: hold
        the writes at ``old``, let ``heir`` catch up to that offset and become the
        primary, make ``old`` follow it and release the held writes (they meet
        READONLY and are retried at ``heir``). No acknowledged write is lost: every one
        is below the offset ``heir`` reached."""
        a, b = self.clients(old), self.clients(heir)
        try:
            offset = await a.pause_writes(kg, timeout_s=5.0)
        except NodeError as exc:
            raise MigrationError("failover", old, exc.detail, t) from None
        try:
            await b.promote(kg, offset, timeout_s=4.0)
        except NodeError as exc:
            try:
                await a.unpause(kg)              # the old primary keeps the role
            except NodeError:
                pass
            raise MigrationError("failover", heir, exc.detail, t) from None
        try:
            await a.replicate(kg, self.ports[(heir, kg)])
            await a.unpause(kg)
        except NodeError:
            pass                                 # the old primary went away: its writes were not acknowledged

    def address_of(self, sat: str) -> str:
        return self.clients(sat).address


async def gather_timings(*coros) -> List[Dict[str, float]]:
    return list(await asyncio.gather(*coros))
