"""One Docker client per process, with clear errors when Docker is missing or down."""
from __future__ import annotations

import os
import shutil
import threading
from typing import Any, Optional

from ..errors import LeonetError

SOCKET = "/var/run/docker.sock"
_client: Optional[Any] = None
_lock = threading.Lock()


def docker_available() -> Optional[str]:
    """None when a Docker daemon answers, else the reason it cannot be used."""
    try:
        import docker  # noqa: F401  (only whether it is installed)
    except ImportError:
        return "the Python package `docker` is missing; run scripts/install.sh"
    if not os.path.exists(SOCKET) and "DOCKER_HOST" not in os.environ:
        if shutil.which("dockerd") is None:
            return "Docker is not installed; run scripts/install.sh (it installs docker.io)"
        return f"the Docker daemon is not running ({SOCKET} missing); start it with `dockerd &` or scripts/install.sh"
    try:
        client()
    except LeonetError as exc:
        return str(exc)
    return None


def client() -> Any:
    """The shared ``docker.DockerClient`` (raises :class:`LeonetError` when unreachable)."""
    global _client
    with _lock:
        if _client is None:
            import docker
            try:
                c = docker.from_env(timeout=120, max_pool_size=16)
                c.ping()
            except Exception as exc:  # docker.errors.DockerException and connection errors
                raise LeonetError(f"cannot reach the Docker daemon: {exc}; start it with `dockerd &` "
                                  "or run scripts/install.sh") from None
            _client = c
        return _client
