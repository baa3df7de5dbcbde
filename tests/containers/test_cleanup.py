"""`leonet cleanup` removes leonet's containers and namespaces, and nothing else."""
import copy
import subprocess


from leonet.emulation import netns
from leonet.emulation.cleanup import cleanup
from leonet.launch import prepare_run

from .helpers import (DOCKER_SCENARIO, container_status, leonet_containers, require_docker, start_when_idle,
                      write)

UNRELATED = "leonet-test-unrelated"


def test_cleanup_removes_leonets_containers_and_only_those(tmp_path):
    require_docker()
    raw = copy.deepcopy(DOCKER_SCENARIO)
    raw["containers"]["satellite"]["host"] = "namespace"     # quick: only the stations are containers
    run = prepare_run(write(tmp_path, raw))
    subprocess.run(["docker", "rm", "-f", UNRELATED], capture_output=True)
    subprocess.run(["docker", "run", "-d", "--name", UNRELATED, "--network", "none", "leonet-node:latest",
                    "sleep", "600"], check=True, capture_output=True)
    try:
        start_when_idle(run)
        assert len(leonet_containers()) == 4      # two stations: holder + main each
        report = cleanup(stop_run=False)
        assert report.containers_removed == 4 and report.namespaces_removed >= 22
        assert leonet_containers() == []
        assert not netns.list_namespaces()
        assert container_status(UNRELATED) == "running"
    finally:
        run.stop()          # must cope with everything already gone
        subprocess.run(["docker", "rm", "-f", UNRELATED], capture_output=True)
