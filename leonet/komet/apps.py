"""The applications as :class:`~leonet.komet.migration.AppSpec`: their keygroups
(Sec. 2.2 of the spec: names, mutability, expiry) and functions (the sources in
``apps/komet/functions/``): the paper's cache (Sec. 7.1), IoT service (Sec. 7.2) and
CDN (Sec. 7.3). The CDN's functions need the origin's ``host:port`` in their
environment: ``CDN.with_env(KOMET_ORIGIN=...)``."""
from __future__ import annotations

from typing import Dict

from ..errors import ConfigError
from .migration import AppSpec, FunctionSpec, KeygroupSpec

CACHE = AppSpec("cache", {"simple": KeygroupSpec()},
                {"get": FunctionSpec("get", 8, ("simple",)), "put": FunctionSpec("put", 8, ("simple",)),
                 "put_count": FunctionSpec("put_count", 8, ("simple",))})
#: the tsunami-risk service shared by the 30 DART buoys (its function scans every buoy's value)
IOT = AppSpec("iot", {"sensors": KeygroupSpec()}, {"sensors": FunctionSpec("sensors", 8, ("sensors",))})
#: the CDN: items cached for 60 s, an append-only request log kept for 10 s (the trimmer's input)
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
