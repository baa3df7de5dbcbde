"""The paper's three applications (Sec. 7) as :class:`~leonet.komet.migration.AppSpec`:
their keygroups (Sec. 2.2 of the spec: names, mutability, expiry) and functions (the
sources in ``apps/komet/functions/``), and the client program each one runs."""
from __future__ import annotations

from typing import Dict

from ..errors import ConfigError
from .migration import AppSpec, FunctionSpec, KeygroupSpec

CACHE = AppSpec("cache", {"simple": KeygroupSpec()},
                {"get": FunctionSpec("get", 8, ("simple",)), "put": FunctionSpec("put", 8, ("simple",)),
                 "put_count": FunctionSpec("put_count", 8, ("simple",))})
IOT = AppSpec("iot", {"sensors": KeygroupSpec()}, {"sensors": FunctionSpec("sensors", 8, ("sensors",))})
CDN = AppSpec("cdn", {"cdn": KeygroupSpec(True, 60), "log": KeygroupSpec(False, 10)},
              {"cdn": FunctionSpec("cdn", 8, ("cdn", "log")),
               "cdndelete": FunctionSpec("cdndelete", 1, ("cdn", "log"))})
#: a function that fails on demand, beside the cache's keygroup (fault tests)
CRASH = AppSpec("crash", {"simple": KeygroupSpec()}, {"crash": FunctionSpec("crash", 2, ("simple",))})

APPS: Dict[str, AppSpec] = {a.name: a for a in (CACHE, IOT, CDN, CRASH)}


def app_spec(name: str) -> AppSpec:
    if name not in APPS:
        raise ConfigError("app", name, "unknown application", "use one of " + ", ".join(APPS))
    return APPS[name]
