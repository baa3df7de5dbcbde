"""Authentication (client certificates signed by the cluster CA, bearer tokens, bootstrap tokens) and
a small fixed authorisation policy.

Policy (documented in docs/controlplane.md):
  * group ``system:masters`` and group ``system:nodes``: everything (there is no NodeRestriction);
  * group ``system:bootstrappers`` (bootstrap tokens): discovery plus create/get/list/watch of
    CertificateSigningRequests, which is what the kubelet's TLS bootstrap needs;
  * any other authenticated user: discovery and read-only access (get/list/watch);
  * anonymous: ``/version``, ``/healthz``, ``/livez``, ``/readyz`` only.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from . import pki


@dataclass
class User:
    name: str
    groups: List[str] = field(default_factory=list)
    uid: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "groups": list(self.groups), "uid": self.uid}


PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")
CSR_RESOURCE = ("certificates.k8s.io", "certificatesigningrequests")


class TokenFile:
    """Static bearer tokens and bootstrap tokens, persisted as JSON in the control plane's data dir."""

    def __init__(self, path: Optional[Path]):
        self.path = path
        self._lock = threading.Lock()
        self.static: Dict[str, dict] = {}
        self.bootstrap: Dict[str, dict] = {}
        self._mtime = 0.0
        self._load()

    def _load(self) -> None:
        """(Re)read the file when it changed, so tokens added by ``leonet controlplane token`` work
        on a running server."""
        if not self.path or not self.path.exists():
            return
        mtime = self.path.stat().st_mtime
        if mtime == self._mtime:
            return
        data = json.loads(self.path.read_text())
        self.static = data.get("static", {})
        self.bootstrap = data.get("bootstrap", {})
        self._mtime = mtime

    def _save(self) -> None:
        if self.path:
            pki.write_private(self.path, json.dumps({"static": self.static, "bootstrap": self.bootstrap},
                                                    indent=1).encode())
            self._mtime = self.path.stat().st_mtime

    def add_static(self, token: str, user: str, groups: List[str]) -> None:
        with self._lock:
            self._load()
            self.static[token] = {"user": user, "groups": list(groups)}
            self._save()

    def add_bootstrap(self, token: Optional[str] = None, ttl: Optional[float] = 24 * 3600) -> str:
        """Register a bootstrap token ``id.secret``; it authenticates as ``system:bootstrap:<id>``."""
        token = token or pki.new_bootstrap_token()
        tid, secret = token.split(".", 1)
        with self._lock:
            self._load()
            self.bootstrap[tid] = {"secret": secret, "expires": (time.time() + ttl) if ttl else None}
            self._save()
        return token

    def lookup(self, token: str) -> Optional[User]:
        user = self._lookup(token)
        if user is None:
            self._load()
            user = self._lookup(token)
        return user

    def _lookup(self, token: str) -> Optional[User]:
        ent = self.static.get(token)
        if ent:
            return User(ent["user"], list(ent["groups"]) + ["system:authenticated"])
        if "." in token:
            tid, secret = token.split(".", 1)
            b = self.bootstrap.get(tid)
            if b and b["secret"] == secret and (not b.get("expires") or b["expires"] > time.time()):
                return User(f"system:bootstrap:{tid}", ["system:bootstrappers", "system:authenticated"])
        return None


def user_from_peercert(peercert: Optional[dict]) -> Optional[User]:
    """The user of a verified client certificate (Python's ``getpeercert()`` dict): CN and O's."""
    if not peercert:
        return None
    cn, orgs = "", []
    for rdn in peercert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
            elif k == "organizationName":
                orgs.append(v)
    if not cn:
        return None
    return User(cn, orgs + ["system:authenticated"])


def authorize(user: Optional[User], verb: str, group: str, resource: str) -> Tuple[bool, str]:
    """(allowed, reason) for a resource request; ``resource`` is the plural (with ``/sub`` if any)."""
    if user is None:
        return False, "anonymous"
    gs = set(user.groups)
    if gs & {"system:masters", "system:nodes"}:
        return True, ""
    base = resource.split("/", 1)[0]
    if "system:bootstrappers" in gs:
        if (group, base) == CSR_RESOURCE and verb in ("create", "get", "list", "watch"):
            return True, ""
        return False, "bootstrap tokens may only request certificates"
    if verb in ("get", "list", "watch"):
        return True, ""
    return False, "read-only user"
