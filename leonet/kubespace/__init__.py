"""KubeSpace control-node placement (CNPA) and assignment (CNAA), after Zhao et al.,
"KubeSpace: A Low-Latency and Stable Control Plane for LEO Satellite Container
Orchestration" (arXiv 2601.21383), §IV-B and §IV-C.

* :mod:`.objective`     ``Evaluate`` and the (T, M, N) metric-tensor conventions
* :mod:`.clustering`    ``SelectRepresentatives``: standardised features, k-means
* :mod:`.placement`     CNPA: greedy k-center + local search (Algorithm 1)
* :mod:`.exhaustive`    the exact optimum (pruned search) and brute force
* :mod:`.cover_milp`    the exact search's set-cover decisions as integer programs (HiGHS)
* :mod:`.baselines`     random and single-node-near-the-equator placements
* :mod:`.interpolation` cubic / linear interpolants on a uniform grid, with bounds
* :mod:`.assignment`    CNAA (Algorithm 2): handover events from TLEs or any metric
* :mod:`.metrics`       path and straight-line delay tensors from the topology layer
* :mod:`.config`        the scenario's ``kubespace:`` section

Typical use::

    from leonet.orbits import load_constellation
    from leonet.kubespace import cnpa, delay_tensor, predict_handovers, ControlNode

    c = load_constellation("kubespace-starlink")
    metric = delay_tensor(c, range(0, 86400, 60))        # (1440, 316, 1584) ms
    placement = cnpa(metric, k=5, clusters=20)
    nodes = [ControlNode.of(c.ground_stations[i]) for i in placement.selection]
    first, events = predict_handovers(tle_text, nodes)    # on the satellite
"""
from .assignment import (DEFAULT_THRESHOLD, Assignment, ControlNode, HandoverEvent, assign, cnaa,
                         predict_handovers)
from .baselines import best_single, near_equator, random_placements
from .clustering import Representatives, kmeans, select_representatives, snapshot_features
from .config import AssignmentConfig, KubeSpaceConfig, PlacementConfig, kubespace_config
from .exhaustive import ExactResult, SearchLimit, brute_force, optimal_placement
from .metrics import delay_tensor, path_delay, straight_line_delay
from .objective import Summary, evaluate, nearest, summarize
from .placement import Placement, cnpa, greedy_k_center, local_search

__all__ = ["Assignment", "AssignmentConfig", "ControlNode", "DEFAULT_THRESHOLD", "ExactResult",
           "HandoverEvent", "KubeSpaceConfig", "Placement", "PlacementConfig", "Representatives",
           "SearchLimit", "Summary", "assign", "best_single", "brute_force", "cnaa", "cnpa",
           "delay_tensor", "evaluate", "greedy_k_center", "kmeans", "kubespace_config", "local_search",
           "near_equator", "nearest", "optimal_placement", "path_delay", "predict_handovers",
           "random_placements", "select_representatives", "snapshot_features", "straight_line_delay",
           "summarize"]
