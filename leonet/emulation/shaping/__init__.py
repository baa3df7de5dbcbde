"""Link-shaping backends (delay, bandwidth, loss of link egress): netem where the
kernel has it, nfqueue (userspace delay) where it does not. See docs/shaping.md."""
from .base import LinkEnd, LinkParams, LinkShaper
from .factory import BACKENDS, make_shaper, resolve_backend

__all__ = ["LinkEnd", "LinkParams", "LinkShaper", "BACKENDS", "make_shaper", "resolve_backend"]
