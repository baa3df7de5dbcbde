"""Layer 1: constellations, SGP4 propagation and reference frames.

* :mod:`.scenario`      YAML scenarios, validated, with layered per-node defaults
* :mod:`.walker`        Walker delta/star shells as real SGP4 element sets
* :mod:`.tle`           TLE reading, validation and export
* :mod:`.grouping`      recovering shells/planes/slots from real TLE sets
* :mod:`.propagation`   vectorised SGP4 to ECEF
* :mod:`.frames`        TEME/ECEF/geodetic/topocentric conversions
* :mod:`.constellation` the built constellation that higher layers use
"""
from .constellation import (Constellation, GroundStation, Satellite, Shell, build_constellation,
                            load_constellation, parse_satellite_name, satellite_name)
from .scenario import Scenario, load_scenario, parse_scenario, preset_names

__all__ = ["Constellation", "GroundStation", "Satellite", "Shell", "Scenario", "build_constellation",
           "load_constellation", "load_scenario", "parse_scenario", "preset_names",
           "parse_satellite_name", "satellite_name"]
