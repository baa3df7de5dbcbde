"""The ``none`` backend: links without delay, bandwidth limit or loss.

For functional runs where only connectivity and routing matter (and for comparing a
backend's overhead). Never chosen by ``auto``.
"""
from __future__ import annotations

from typing import Iterable, Tuple

from .base import LinkEnd, LinkParams, LinkShaper


class NoShaper(LinkShaper):
    name = "none"
    accuracy_ms = 0.0

    def attach(self, ends: Iterable[Tuple[LinkEnd, LinkParams]]) -> None:
        pass

    def update(self, ends: Iterable[Tuple[LinkEnd, LinkParams]]) -> None:
        pass

    def detach(self, ends: Iterable[LinkEnd]) -> None:
        pass

    def close(self) -> None:
        pass
