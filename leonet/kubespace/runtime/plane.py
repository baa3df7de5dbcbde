"""KubeSpace inside a ground station's control plane: a control-plane plug-in (see
:mod:`leonet.controlplane.controlplane`) that installs the HandoverRequest CRD, runs the
:class:`~.hrcontroller.HRController` and serves the plane-to-plane channel.

The run's KubeSpace runtime starts every plane with
``--plugin leonet.kubespace.runtime.plane:plane_plugin=<data dir>/kubespace.json``; the JSON file holds
``name`` (this plane), ``peers`` ({plane: channel URL}), ``sync_port``, ``sync_timeout_s``,
``binding_timeout_s``, ``request_ttl_s`` and ``clock`` (the emulated clock's file).
"""
from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, Dict, Optional

from ...controlplane.agent import ApiConnection
from ...controlplane.errors import ApiError
from . import resources as R
from .clock import EmulatedClock
from .hrcontroller import HRController
from .sync import PLANE_GROUP, SyncServer, plane_user

log = logging.getLogger("leonet.kubespace.plane")


class KubeSpacePlane:
    """The plug-in object; one per control-plane process."""

    def __init__(self, config: Dict[str, Any]):
        self.config = config
        self.controller: Optional[HRController] = None
        self.server: Optional[SyncServer] = None
        self._task: Optional[asyncio.Task] = None

    async def start(self, cp: Any) -> None:
        cfg = self.config
        ensure_crd(cp.api)
        cert, key = cp.ca.issue_client(plane_user(cfg["name"]), [PLANE_GROUP])

        def channel(peer: str) -> ApiConnection:
            return ApiConnection(cfg["peers"][peer], cp.ca_pem, cert_pem=cert, key_pem=key, netns=cp.netns,
                                 request_timeout=float(cfg.get("sync_timeout_s", 5.0)), name=f"channel to {peer}")

        self.controller = HRController(cp, cfg["name"], cfg["peers"], channel, EmulatedClock(Path(cfg["clock"])),
                                       sync_timeout_s=float(cfg.get("sync_timeout_s", 5.0)),
                                       binding_timeout_s=float(cfg.get("binding_timeout_s", 30.0)),
                                       request_ttl_s=float(cfg.get("request_ttl_s", 3600.0)))
        cp.store.listeners.append(self.controller.on_event)
        self._task = asyncio.get_running_loop().create_task(self.controller.run())
        self.server = await SyncServer(self.controller, cp.host, int(cfg.get("sync_port", 6444)), cp.netns,
                                       cp.data_dir / "server.crt", cp.data_dir / "server.key", cp.ca_pem).start()
        log.info("KubeSpace on %s: HRController and channel on port %s", cfg["name"], cfg.get("sync_port", 6444))

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.controller is not None:
            await self.controller.close()


def ensure_crd(api: Any) -> None:
    """Install the HandoverRequest CRD on a plane (in process) unless it is there."""
    if api.store.get("customresourcedefinitions.apiextensions.k8s.io", "", R.RESOURCE_KEY) is not None:
        return
    try:
        api.create(api.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions"), None, dict(R.CRD))
    except ApiError as e:
        if e.code != 409:
            raise


def plane_plugin(config_path: str) -> KubeSpacePlane:
    """The ``--plugin`` factory: reads the plug-in's JSON configuration."""
    return KubeSpacePlane(json.loads(Path(config_path).read_text()))
