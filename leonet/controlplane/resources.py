"""The resource types the API server serves: the built-in subset plus those CRDs define at run time."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    """One served resource: ``group``/``version``/``plural`` and how it behaves."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: Tuple[str, ...] = ()
    subresources: Tuple[str, ...] = ()   # "status", "binding", "eviction", "approval"
    categories: Tuple[str, ...] = ()
    verbs: Tuple[str, ...] = tuple(ALL_VERBS)
    builtin: bool = True
    printer_columns: Tuple[dict, ...] = field(default=(), compare=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gv(self) -> Tuple[str, str]:
        return (self.group, self.version)

    @property
    def key(self) -> str:
        """Storage key, stable across versions: ``plural.group`` (``pods`` for the core group)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


BUILTINS: List[ResourceType] = [
    ResourceType("", "v1", "namespaces", "Namespace", False, "namespace", ("ns",), ("status",)),
    ResourceType("", "v1", "nodes", "Node", False, "node", ("no",), ("status",)),
    ResourceType("", "v1", "pods", "Pod", True, "pod", ("po",), ("status", "binding", "eviction"), ("all",)),
    ResourceType("", "v1", "events", "Event", True, "event", ("ev",)),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True, "lease"),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
                 "customresourcedefinition", ("crd", "crds"), ("status",), ("api-extensions",)),
    ResourceType("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False,
                 "certificatesigningrequest", ("csr",), ("status", "approval")),
]


class Registry:
    """Lookup of served types by (group, version, plural) and by kind; CRDs add and remove types."""

    def __init__(self) -> None:
        self._by_path: Dict[Tuple[str, str, str], ResourceType] = {}
        for rt in BUILTINS:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._by_path[(rt.group, rt.version, rt.plural)] = rt

    def remove_group_resource(self, group: str, plural: str) -> None:
        for k in [k for k in self._by_path if k[0] == group and k[2] == plural]:
            del self._by_path[k]

    def get(self, group: str, version: str, plural: str) -> Optional[ResourceType]:
        return self._by_path.get((group, version, plural))

    def by_key(self, key: str) -> List[ResourceType]:
        return [rt for rt in self._by_path.values() if rt.key == key]

    def by_kind(self, api_version: str, kind: str) -> Optional[ResourceType]:
        for rt in self._by_path.values():
            if rt.api_version == api_version and rt.kind == kind:
                return rt
        return None

    def all(self) -> Iterable[ResourceType]:
        return self._by_path.values()

    def group_versions(self) -> Dict[str, List[str]]:
        """group -> served versions (storage version first); the core group is ``""``."""
        out: Dict[str, List[str]] = {}
        for rt in self._by_path.values():
            vs = out.setdefault(rt.group, [])
            if rt.version not in vs:
                vs.append(rt.version)
        return out

    def in_group_version(self, group: str, version: str) -> List[ResourceType]:
        return [rt for rt in self._by_path.values() if rt.group == group and rt.version == version]


def types_from_crd(crd: dict) -> List[ResourceType]:
    """The resource types a CustomResourceDefinition serves (one per served version)."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    out = []
    for v in spec.get("versions", []):
        if not v.get("served", True):
            continue
        subs = tuple(s for s in ("status", "scale") if s in (v.get("subresources") or {}))
        out.append(ResourceType(
            group=spec["group"], version=v["name"], plural=names["plural"], kind=names["kind"],
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            singular=names.get("singular", names["kind"].lower()),
            short_names=tuple(names.get("shortNames", []) or []), subresources=subs,
            categories=tuple(names.get("categories", []) or []), builtin=False,
            printer_columns=tuple(v.get("additionalPrinterColumns", []) or [])))
    return out
