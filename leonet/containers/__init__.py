"""Layer 3 beside the emulation: what runs inside the nodes.

* :mod:`.config`        the scenario's ``containers:`` section (host kind per node type, images, limits)
* :mod:`.docker_nodes`  Docker hosts: a namespace-holder container per node, bind-mounted in /run/netns,
                        plus the node's main container (Containernet's model on stock Mininet)
* :mod:`.workloads`     more containers in a node's namespace (``--network container:``), like pods
* :mod:`.images`        local images built without a registry (``images/``)
* :mod:`.node_actions`  kill / restart / pause / resume / limits for Docker and namespace nodes
* :mod:`.freezer`       the cgroup freezer for processes outside containers
* :mod:`.suspend`       bounding-box suspension driven by the controller's ticks
* :mod:`.estimate`      the CPU/memory estimate printed before a run
* :mod:`.control`       the running emulation's control socket (faults, limits, workloads)
* :mod:`.extensions`    the hooks an :class:`~leonet.emulation.run.EmulationRun` calls

See docs/containers.md.
"""
