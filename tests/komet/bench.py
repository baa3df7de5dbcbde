"""The bench of the platform tests: Komet servers in a private network namespace of
the test (no emulation, so no live lock); see :class:`leonet.komet.platform.LocalKomet`."""
from leonet.komet.platform import LocalKomet as Bench

__all__ = ["Bench"]
