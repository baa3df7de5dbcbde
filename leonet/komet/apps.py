"""The applications as :class:`~leonet.komet.migration.AppSpec`: their keygroups
(Sec. 2.2 of the spec: names, mutability, expiry) and functions (the sources in
``apps/komet/functions/``). The paper's cache (Sec. 7.1) is here; its IoT and CDN
applications are not built yet (docs/komet.md)."""
from __future__ import annotations

from typing import Dict

from ..errors import ConfigError
from .migration import AppSpec, FunctionSpec, KeygroupSpec

CACHE = AppSpec("cache", {"simple": KeygroupSpec()},
                {"get": FunctionSpec("get", 8, ("simple",)), "put": FunctionSpec("put", 8, ("simple",)),
                 "put_count": FunctionSpec("put_count", 8, ("simple",))})
#: a function that fails on demand, beside the cache's keygroup (fault tests)
CRASH = AppSpec("crash", {"simple": KeygroupSpec()}, {"crash": FunctionSpec("crash", 2, ("simple",))})

APPS: Dict[str, AppSpec] = {a.name: a for a in (CACHE, CRASH)}


def app_spec(name: str) -> AppSpec:
    if name not in APPS:
        raise ConfigError("app", name, "unknown application", "use one of " + ", ".join(APPS))
    return APPS[name]
