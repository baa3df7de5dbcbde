"""The resource estimate printed before a run starts: the CPU and memory the bounding
box needs, against what this machine has -- leonet's, and beside it Celestial's.

* Satellites active in the box are counted over two hours from the run's start, every
  60 s, with the topology's own bounding box (peak and mean).
* CPU: peak active Docker satellites x their CPU limit + Docker ground stations x
  theirs. Limits are caps, not reservations, so over-provisioning only slows nodes.
* Memory: *every* Docker node's memory limit, since paused containers keep their
  memory, plus the per-container overhead (runtime shim and namespace holder).

Celestial (v0.1, ``resource_estimate.py``; its paper's "137 required CPU cores")
estimates differently, from the box's share of the latitude/longitude plane instead of
counting satellites: ``ratio = (width_deg * height_deg) / (360 * 180)``, then
``cores = ratio * sum(satellites * vcpus) + sum(ground-station vcpus)`` (memory the
same way), rounded up. :func:`celestial_estimate` computes exactly that, so the two can
be compared (docs/containers.md).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ..topology import TopologyEngine
from ..topology.bbox import BoundingBox
from .config import ContainersConfig

#: measured resident memory a container costs beyond its own processes (containerd
#: shim), see docs/benchmarks.md "Containers"
CONTAINER_OVERHEAD_MB = 4.0
SAMPLE_SPAN_S = 7200.0
SAMPLE_STEP_S = 60.0


def machine_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def machine_memory_mb() -> float:
    """MemAvailable in MB (what a run can still use), from /proc/meminfo."""
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


@dataclass
class ResourceEstimate:
    satellites: int
    ground_stations: int
    active_peak: int
    active_mean: float
    has_box: bool
    cpu_cores: Optional[float]        #: None: a Docker node type has no CPU limit
    memory_mb: Optional[float]        #: None: a Docker node type has no memory limit
    containers: int
    machine_cpus: float
    machine_memory_mb: float
    notes: List[str] = field(default_factory=list)

    @property
    def cpu_utilization(self) -> Optional[float]:
        return None if self.cpu_cores is None else self.cpu_cores / max(1, self.machine_cpus)

    @property
    def memory_utilization(self) -> Optional[float]:
        return None if self.memory_mb is None else self.memory_mb / max(1.0, self.machine_memory_mb)

    def lines(self) -> List[str]:
        out = []
        box = "in the bounding box" if self.has_box else "(no bounding box: all are active)"
        out.append(f"satellites active {box}: peak {self.active_peak}, mean {self.active_mean:.1f} "
                   f"of {self.satellites}; ground stations: {self.ground_stations} (always active)")
        if self.cpu_cores is None:
            out.append(f"CPU: no CPU limit on some Docker nodes; they share this machine's {self.machine_cpus:g} cores")
        else:
            out.append(f"CPU: needs {self.cpu_cores:.1f} cores of {self.machine_cpus:g} "
                       f"({100 * self.cpu_utilization:.0f} %)")
        if self.memory_mb is None:
            out.append(f"memory: no memory limit on some Docker nodes; {self.machine_memory_mb / 1024:.1f} GB available")
        else:
            out.append(f"memory: needs {self.memory_mb / 1024:.2f} GB of {self.machine_memory_mb / 1024:.1f} GB "
                       f"available ({100 * self.memory_utilization:.0f} %), incl. {self.containers} containers' "
                       f"overhead; paused containers keep their memory")
        u = self.memory_utilization
        if u is not None and u > 1:
            out.append(f"advice: memory is over-committed: shrink the box or the memory limits by at least "
                       f"{100 * (1 - 1 / u):.0f} %")
        cu = self.cpu_utilization
        if cu is not None and cu > 1:
            out.append(f"advice: CPU is over-provisioned {cu:.1f}x: nodes get less than their limits when "
                       f"busy; shrink the box by {100 * (1 - 1 / cu):.0f} % for full speed")
        elif cu is not None and cu < 0.5 and self.has_box:
            out.append(f"advice: the box could grow by {100 * (1 / max(cu, 1e-9) - 1):.0f} % on this machine")
        out.extend(self.notes)
        return out


def estimate(engine: TopologyEngine, config: ContainersConfig, offset_s: float = 0.0,
             capacity_cores: Optional[float] = None, capacity_memory_mb: Optional[float] = None
             ) -> ResourceEstimate:
    """leonet's estimate, against a capacity (default: this machine)."""
    c = engine.constellation
    n, g = c.num_satellites, len(c.ground_stations)
    box = engine.config.bounding_box
    if box is None or n == 0:
        peak, mean = n, float(n)
    else:
        offsets = offset_s + np.arange(0.0, SAMPLE_SPAN_S + 1e-9, SAMPLE_STEP_S)
        counts = [int(box.active(pos).sum()) for _, pos in engine.positions(offsets)]
        peak, mean = max(counts), float(np.mean(counts))
    sat, gs = config.satellite, config.ground_station
    cpu: Optional[float] = 0.0
    mem: Optional[float] = 0.0
    containers = 0
    for t, count, active in ((sat, n, peak), (gs, g, g)):
        if not t.docker or count == 0:
            continue
        containers += count * (2 if t.image else 1)
        cpu = None if cpu is None or t.cpus is None else cpu + active * t.cpus
        mem = None if mem is None or t.memory_mb is None else mem + count * t.memory_mb
    if mem is not None:
        mem += containers * CONTAINER_OVERHEAD_MB
    notes = []
    if not config.uses_docker:
        notes.append("all nodes are bare namespaces: they cost kernel memory only (no limits to add up)")
    return ResourceEstimate(n, g, peak, mean, box is not None, cpu, mem, containers,
                            machine_cpus() if capacity_cores is None else capacity_cores,
                            machine_memory_mb() if capacity_memory_mb is None else capacity_memory_mb, notes)


# ----------------------------------------------------------------------------- Celestial's formula

def celestial_box_ratio(box: Optional[BoundingBox]) -> float:
    """The box's share of the (lat, lon) plane in plain degrees, as Celestial computes it
    (deliberately not area-true: its comment argues that satellites of inclined shells
    crowd towards high latitudes, which roughly makes up for it). No box: 1."""
    if box is None:
        return 1.0
    width = box.lon_max_deg - box.lon_min_deg
    if box.crosses_antimeridian:
        # Celestial writes (360 - |lon2|) - lon1, which is this for a negative east edge
        # (every config it ships); for a positive east edge it would give too little.
        width += 360.0
    return width * (box.lat_max_deg - box.lat_min_deg) / (360.0 * 180.0)


@dataclass(frozen=True)
class CelestialEstimate:
    """Celestial's resource estimate for a scenario, against a capacity.

    Node types that are not Docker hosts count as Celestial's ``vcpu_count = 0``
    (computed, not instantiated)."""

    box_ratio: float
    satellite_cores: float           #: ratio x satellites x vCPUs
    ground_station_cores: float      #: every ground station's vCPUs
    satellite_memory_mb: float
    ground_station_memory_mb: float
    capacity_cores: float
    capacity_memory_mb: float

    @property
    def cores(self) -> int:
        """What Celestial prints as "require approx. N CPUs" (rounded up)."""
        return math.ceil(self.satellite_cores + self.ground_station_cores - 1e-9)

    @property
    def memory_mb(self) -> float:
        return self.satellite_memory_mb + self.ground_station_memory_mb

    @property
    def utilization(self) -> float:
        """Celestial's figure: the satellites' share of the capacity the ground stations
        leave, CPU or memory, whichever is higher."""
        cpu = self.satellite_cores / max(0.001, self.capacity_cores - self.ground_station_cores)
        mem = self.satellite_memory_mb / max(0.001, self.capacity_memory_mb - self.ground_station_memory_mb)
        return max(cpu, mem)

    def lines(self) -> List[str]:
        u = self.utilization
        out = [f"Celestial's formula (box = {100 * self.box_ratio:.4g} % of the lat/lon plane): needs "
               f"{self.cores} cores ({math.ceil(self.satellite_cores - 1e-9)} for satellites, "
               f"{math.ceil(self.ground_station_cores - 1e-9)} for ground stations) and "
               f"{math.ceil(self.memory_mb / 1024 - 1e-9)} GB memory, against {self.capacity_cores:g} cores and "
               f"{self.capacity_memory_mb / 1024:.1f} GB"]
        if (self.ground_station_cores >= self.capacity_cores
                or self.ground_station_memory_mb >= self.capacity_memory_mb):
            out.append("Celestial's advice: none possible, the ground stations alone need more than the capacity")
        elif u > 1:
            out.append(f"Celestial's utilization {u:.2f}; its advice: reduce the bounding box by at least "
                       f"{100 * (1 - 1 / u):.0f} %")
        elif 0 < u < 0.5:
            out.append(f"Celestial's utilization {u:.2f}; its advice: the bounding box can grow by "
                       f"{100 * (1 / u - 1):.0f} %")
        else:
            out.append(f"Celestial's utilization {u:.2f}")
        return out


def celestial_estimate(engine: TopologyEngine, config: ContainersConfig,
                       capacity_cores: Optional[float] = None,
                       capacity_memory_mb: Optional[float] = None) -> Optional[CelestialEstimate]:
    """Celestial's estimate for this scenario (None when a Docker node type has no CPU
    or memory limit: Celestial's formula needs both). The capacity defaults to this
    machine (cores this process may use, MemAvailable)."""
    c = engine.constellation
    per_type = []
    for t in (config.satellite, config.ground_station):
        if not t.docker:
            per_type.append((0.0, 0.0))
        elif t.cpus is None or t.memory_mb is None:
            return None
        else:
            per_type.append((float(t.cpus), float(t.memory_mb)))
    (sat_cpu, sat_mem), (gs_cpu, gs_mem) = per_type
    ratio = celestial_box_ratio(engine.config.bounding_box)
    n, g = c.num_satellites, len(c.ground_stations)
    return CelestialEstimate(ratio, ratio * n * sat_cpu, g * gs_cpu, ratio * n * sat_mem, g * gs_mem,
                             float(machine_cpus() if capacity_cores is None else capacity_cores),
                             float(machine_memory_mb() if capacity_memory_mb is None else capacity_memory_mb))
