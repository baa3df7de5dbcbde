"""KubeSpace's seamless control-plane handover, running inside the emulation (paper §IV-A).

* :mod:`.resources`    the HandoverRequest CRD and the 17 steps
* :mod:`.hrcontroller` the HRController of every plane (source and target roles)
* :mod:`.sync`         the authenticated plane-to-plane channel
* :mod:`.plane`        the control-plane plug-in that runs both inside a ground station's plane
* :mod:`.daemon`       a satellite's daemon (the handover procedure on the satellite's side)
* :mod:`.daemon_host`  all daemons of the agents process, with their CNAA schedules
* :mod:`.schedule`     CNAA schedules of many satellites from a chosen time and plane
* :mod:`.clock`        the emulated clock shared with the planes and the daemons
* :mod:`.service`      the run service that wires it all into ``leonet run``
* :mod:`.probes`       the invisibility probe and the HTTP probe
* :mod:`.inspect`      bindings and handovers of a live run, for the CLIs
"""
