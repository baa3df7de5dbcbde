"""leonet: a LEO-satellite network emulator for orbital edge orchestration research.

Layers, each importing only from the ones above it in this list:

1. :mod:`leonet.orbits`       constellations, SGP4 propagation, reference frames
2. :mod:`leonet.topology`     snapshots, ISL/GSL rules, paths, timelines (pure numpy/scipy)
3. :mod:`leonet.emulation`    Mininet hosts and links, delay backends, routes, clock, CLI
4. :mod:`leonet.controlplane` embedded Kubernetes-API-compatible control plane and agents
5. :mod:`leonet.kubespace`, :mod:`leonet.krios`, :mod:`leonet.komet`  the research systems
"""

__version__ = "0.1.0"
