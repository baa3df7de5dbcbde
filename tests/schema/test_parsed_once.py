"""A run parses its scenario once: every layer gets the same validated objects."""
import yaml

from leonet.launch import prepare_run
from leonet.orbits import Scenario
from leonet.schema import yamlload

from .cases import scenario


def test_a_run_reads_and_parses_its_scenario_once(tmp_path, monkeypatch):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario(controlplane={"ground_stations": ["Berlin"],
                                                          "agents": {"satellites": 2}})))
    reads = []
    real = yamlload.read_yaml
    monkeypatch.setattr("leonet.orbits.scenario.read_yaml", lambda p: reads.append(p) or real(p))
    run = prepare_run(str(path), backend="none")
    assert len(reads) == 1
    sc = run.scenario
    assert run.engine.config is sc.config("topology")              # the engine's rules: the parsed section
    assert run.config.backend == "none" and sc.config("emulation").backend == "auto"   # override, not re-parse
    cluster = next(s for s in run.services if type(s).__name__ == "ControlPlaneCluster")
    assert cluster.config is sc.config("controlplane")
    assert run.extensions.config is sc.config("containers")


def test_a_scenario_object_is_used_as_is():
    sc = Scenario.from_dict(scenario())
    run = prepare_run(sc)
    assert run.scenario is sc
