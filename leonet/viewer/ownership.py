"""Which control plane owns each satellite, for the live view: a small hook that
higher layers fill in (the view imports none of them).

Two ways to report ownership (satellite name -> owner label, e.g. the ground station
whose control plane the satellite's agent reports to):

* a run service (see :mod:`leonet.launch`) with a method ``current_assignment()``
  returning that mapping: :class:`~leonet.controlplane.cluster.ControlPlaneCluster` has
  one, so the control planes' assignment shows without further code;
* a function registered with :func:`register_ownership_source` (``fn(run) -> mapping or
  None``), for sources that are not run services, e.g. a KubeSpace runtime's bindings.

Registered sources are asked first, in registration order; the first non-empty answer
is shown. A source that raises is logged once and skipped.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

log = logging.getLogger("leonet.viewer")

OwnershipSource = Callable[[Any], Optional[Mapping[str, str]]]
_SOURCES: List[Tuple[str, OwnershipSource]] = []
_failed: set = set()


def register_ownership_source(name: str, source: OwnershipSource) -> None:
    """Add (or replace, by ``name``) a function ``source(run)`` that returns
    ``{satellite name: owner label}`` or None when it has nothing to say."""
    _SOURCES[:] = [(n, s) for n, s in _SOURCES if n != name]
    _SOURCES.append((name, source))


def unregister_ownership_source(name: str) -> None:
    _SOURCES[:] = [(n, s) for n, s in _SOURCES if n != name]


def _ask(name: str, fn: Callable[[], Optional[Mapping[str, str]]]) -> Optional[Dict[str, str]]:
    try:
        answer = fn()
    except Exception as exc:  # a view must not take the run down
        if name not in _failed:
            _failed.add(name)
            log.warning("ownership source %s failed: %s (skipped from now on until it answers)", name, exc)
        return None
    _failed.discard(name)
    return {str(k): str(v) for k, v in answer.items()} if answer else None


def ownership_of(run: Any) -> Tuple[Optional[str], Optional[Dict[str, str]]]:
    """(source name, {satellite: owner}) of a run, or (None, None) when nothing owns satellites."""
    for name, source in list(_SOURCES):
        answer = _ask(name, lambda: source(run))
        if answer:
            return name, answer
    for service in getattr(run, "services", ()):
        method = getattr(service, "current_assignment", None)
        if callable(method):
            name = type(service).__name__
            answer = _ask(name, method)
            if answer:
                return name, answer
    return None, None
