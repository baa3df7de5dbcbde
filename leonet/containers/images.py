"""Build leonet's local images (``images/<name>/``) without any registry.

A build context is the folder plus files taken from the host (``bin/busybox`` from
Debian's busybox-static). Its SHA-256 is stored in the image label ``leonet.context``,
so :func:`build_images` rebuilds an image only when it is missing or its context
changed.
"""
from __future__ import annotations

import hashlib
import io
import logging
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import LeonetError
from .docker_client import client

log = logging.getLogger("leonet.containers")

IMAGES_DIR = Path(__file__).resolve().parents[2] / "images"
CONTEXT_LABEL = "leonet.context"
#: host files added to every build context: context path -> candidate host paths
HOST_FILES: Dict[str, List[str]] = {"bin/busybox": ["/bin/busybox", "/usr/bin/busybox"]}


@dataclass(frozen=True)
class BuildResult:
    image: str
    built: bool         #: False: it was up to date
    seconds: float
    context_hash: str


def image_names() -> List[str]:
    """``<folder>:latest`` for every folder of images/ with a Dockerfile."""
    return sorted(f"{p.parent.name}:latest" for p in IMAGES_DIR.glob("*/Dockerfile"))


def _is_static_elf(data: bytes) -> bool:
    """True for a 64-bit little-endian ELF without a PT_INTERP (dynamic loader) header."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, = struct.unpack_from("<I", data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def _host_file(target: str) -> bytes:
    for candidate in HOST_FILES[target]:
        path = Path(candidate)
        if path.is_file():
            data = path.read_bytes()
            if _is_static_elf(data):
                return data
    raise LeonetError(f"no static {Path(target).name} on this machine (looked at "
                      f"{', '.join(HOST_FILES[target])}); install Debian's busybox-static "
                      "(scripts/install.sh does)")


def build_context(name: str) -> tuple:
    """(tar bytes, sha256) of the build context of ``images/<name>``."""
    folder = IMAGES_DIR / name
    if not (folder / "Dockerfile").is_file():
        raise LeonetError(f"no image folder images/{name}; known: {', '.join(image_names())}")
    files: Dict[str, tuple] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            files[path.relative_to(folder).as_posix()] = (path.read_bytes(), path.stat().st_mode & 0o777)
    for target in HOST_FILES:
        if target not in files:
            files[target] = (_host_file(target), 0o755)
    digest = hashlib.sha256()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel, (data, mode) in sorted(files.items()):
            digest.update(rel.encode() + b"\0" + oct(mode).encode() + b"\0" + hashlib.sha256(data).digest())
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), digest.hexdigest()


def image_context_hash(image: str) -> Optional[str]:
    """The ``leonet.context`` label of a local image, or None when it is missing."""
    import docker
    try:
        return (client().images.get(image).labels or {}).get(CONTEXT_LABEL)
    except docker.errors.ImageNotFound:
        return None


def build_image(name: str, force: bool = False) -> BuildResult:
    """Build ``images/<name>`` as ``<name>:latest`` unless it is up to date."""
    import time
    t0 = time.perf_counter()
    tag = f"{name}:latest"
    context, digest = build_context(name)
    if not force and image_context_hash(tag) == digest:
        return BuildResult(tag, False, time.perf_counter() - t0, digest)
    import docker
    try:
        client().images.build(fileobj=io.BytesIO(context), custom_context=True, tag=tag, rm=True,
                              forcerm=True, labels={CONTEXT_LABEL: digest}, pull=False)
    except docker.errors.BuildError as exc:
        lines = "".join(str(c.get("stream", c.get("error", ""))) for c in exc.build_log)
        raise LeonetError(f"building {tag} failed: {exc.msg}\n{lines[-2000:]}") from None
    log.info("built %s in %.1f s", tag, time.perf_counter() - t0)
    return BuildResult(tag, True, time.perf_counter() - t0, digest)


def build_images(force: bool = False) -> List[BuildResult]:
    return [build_image(n.split(":")[0], force) for n in image_names()]


def is_local_image(image: str) -> bool:
    return image in image_names()


def ensure_images(images: List[str]) -> None:
    """Build leonet's own images that are missing or stale; check that others exist
    (pulling them is left to the user, since leonet must work without a registry)."""
    import docker
    for image in images:
        if is_local_image(image):
            build_image(image.split(":")[0])
            continue
        try:
            client().images.get(image)
        except docker.errors.ImageNotFound:
            raise LeonetError(f"image {image} is not on this machine; `docker pull {image}` it first "
                              f"(or use a local image: {', '.join(image_names())})") from None
