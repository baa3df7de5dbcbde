"""The scenario's ``containers:`` section, validated before anything starts::

    emulation:
      nodes: docker                   # namespace (default) | docker
    containers:
      satellite:                      # per node type: satellite | ground_station
        host: docker                  # docker | namespace (only with emulation.nodes: docker)
        image: leonet-node:latest     # the node's main container; null: none (namespace holder only)
        command: null                 # null: the image's default command; or a list / a string
        cpus: 0.5                     # CPU limit of the main container (cores); null: no limit
        memory_mb: 64                 # memory limit of the main container; null: no limit
        env: {}                       # environment of the main container
      ground_station:
        host: docker
        cpus: 1
        memory_mb: 256
      suspend_outside_bounding_box: true   # pause satellites outside topology.bounding_box
      info_api: true                  # the info API and DNS inside every node (docs/infoapi.md)

With ``emulation.nodes: namespace`` (the default) every node is a bare namespace and
``host: docker`` is an error; with ``docker`` each node type picks its ``host``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional, Tuple

from ..errors import ConfigError
from ..orbits import Scenario
from ..schema import Fields, check_number, register_section

NODE_TYPES = ("satellite", "ground_station")
HOST_KINDS = ("docker", "namespace")
#: the locally built default image (images/leonet-node, ``leonet images build``)
DEFAULT_IMAGE = "leonet-node:latest"

_TYPE_KEYS = ("host", "image", "command", "cpus", "memory_mb", "env")
_TOP_KEYS = NODE_TYPES + ("suspend_outside_bounding_box", "info_api")


@dataclass(frozen=True)
class NodeTypeConfig:
    """How the nodes of one type (satellites or ground stations) are hosted."""

    host: str = "namespace"
    image: Optional[str] = DEFAULT_IMAGE
    command: Optional[Tuple[str, ...]] = None
    cpus: Optional[float] = None
    memory_mb: Optional[int] = None
    env: Tuple[Tuple[str, str], ...] = ()

    @property
    def docker(self) -> bool:
        return self.host == "docker"


@dataclass(frozen=True)
class ContainersConfig:
    satellite: NodeTypeConfig = field(default_factory=NodeTypeConfig)
    ground_station: NodeTypeConfig = field(default_factory=NodeTypeConfig)
    suspend_outside_bounding_box: bool = True
    info_api: bool = True

    def for_kind(self, kind: str) -> NodeTypeConfig:
        """The settings of a node kind (``satellite`` or ``ground_station``)."""
        return self.satellite if kind == "satellite" else self.ground_station

    @property
    def uses_docker(self) -> bool:
        return self.satellite.docker or self.ground_station.docker

    def images(self) -> List[str]:
        return sorted({t.image for t in (self.satellite, self.ground_station) if t.docker and t.image})


def optional_number(where: str, value: Any, lo: float, hi: float, integer: bool = False) -> Any:
    """A number in [lo, hi], or ``None`` for no limit."""
    return check_number(where, value, lo, hi, optional=True, integer=integer)


def parse_command(where: str, value: Any) -> Optional[Tuple[str, ...]]:
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return ("/bin/sh", "-c", value)
    if isinstance(value, list) and value and all(isinstance(v, (str, int, float)) for v in value):
        return tuple(str(v) for v in value)
    raise ConfigError(where, value, "must be a non-empty list of strings, a shell string, or null",
                      "write e.g. [httpd, -f, -p, '80'] or 'httpd -f -p 80'")


def parse_node_type(where: str, raw: Any, docker_allowed: bool, default_host: str) -> NodeTypeConfig:
    f = Fields(where, raw, _TYPE_KEYS, doc="docs/containers.md")
    host = f.choice("host", default_host, HOST_KINDS, problem="unknown host kind")
    if host == "docker" and not docker_allowed:
        raise ConfigError(f.at("host"), host, "Docker hosts need emulation.nodes: docker (or containernet)",
                          "set emulation.nodes: docker, or host: namespace")
    image = f.get("image", DEFAULT_IMAGE)
    if image is not None and (not isinstance(image, str) or not image.strip() or " " in image):
        raise ConfigError(f.at("image"), image, "must be an image name or null",
                          f"write e.g. {DEFAULT_IMAGE} or nginx:1.27")
    env = f.get("env") or {}
    if not isinstance(env, Mapping) or not all(isinstance(k, str) for k in env):
        raise ConfigError(f.at("env"), env, "must be a mapping of NAME: value", "write {MODE: test}")
    return NodeTypeConfig(
        host=host, image=image, command=parse_command(f.at("command"), f.get("command")),
        cpus=f.number("cpus", None, 0.01, 1024, optional=True),
        memory_mb=f.integer("memory_mb", None, 6, 1 << 22, optional=True),
        env=tuple(sorted((str(k), str(v)) for k, v in env.items())))


def parse_containers_section(raw: Optional[Mapping[str, Any]], nodes: str) -> ContainersConfig:
    """Validate the ``containers:`` section for the ``emulation.nodes`` choice."""
    f = Fields("containers", raw, _TOP_KEYS, doc="docs/containers.md")
    docker = nodes in ("docker", "containernet")
    default_host = "docker" if docker else "namespace"
    return ContainersConfig(
        satellite=parse_node_type("containers.satellite", f.get("satellite"), docker, default_host),
        ground_station=parse_node_type("containers.ground_station", f.get("ground_station"), docker,
                                       default_host),
        suspend_outside_bounding_box=f.flag("suspend_outside_bounding_box", True),
        info_api=f.flag("info_api", True))


def containers_config(scenario: Scenario, nodes: Optional[str] = None) -> ContainersConfig:
    """The scenario's ``containers:`` section, for its ``emulation.nodes`` unless ``nodes``
    says otherwise."""
    if nodes is None or nodes == scenario.config("emulation").nodes:
        return scenario.config("containers")
    return parse_containers_section(scenario.sections.get("containers"), nodes)


register_section("containers",
                 lambda raw, scenario: parse_containers_section(raw, scenario.config("emulation").nodes),
                 "docs/containers.md")
