"""The live web view of a running emulation (``leonet view``, ``leonet run --view``):
a map of satellites, ISLs, GSLs, the bounding box, a chosen path, handovers as they
happen, the emulated clock and which control plane owns each satellite, pushed to the
browser over a WebSocket at every tick. See docs/view.md.
"""
from .frames import FrameBuilder, HandoverTracker
from .ownership import ownership_of, register_ownership_source, unregister_ownership_source
from .server import DEFAULT_PORT, ViewServer
from .service import ViewService, announced_view
from .sources import ActiveRunSource, EngineSource, RunSource, ViewSource

__all__ = ["ActiveRunSource", "DEFAULT_PORT", "EngineSource", "FrameBuilder", "HandoverTracker", "RunSource",
           "ViewServer", "ViewService", "ViewSource", "announced_view", "ownership_of",
           "register_ownership_source", "unregister_ownership_source"]
