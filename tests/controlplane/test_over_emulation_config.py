"""The scenario's ``controlplane:`` section: validation (no root needed) and ``leonet run`` with it (root)."""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from leonet.controlplane.k3s import k3s_available
from leonet.controlplane.launch_config import parse_controlplane_section
from leonet.errors import ConfigError
from leonet.waiting import wait_for

from .helpers import kubectl_binaries
from .test_over_emulation import LEONET, TINY, wait_for_no_active_run

SATS = [f"s0p{p}n{n}" for p in range(8) for n in range(10)]
STATIONS = ["Berlin", "Madrid"]


def parse(raw):
    return parse_controlplane_section(raw, SATS, STATIONS)


def test_defaults_are_kubernetes_and_every_satellite_gets_an_agent():
    cfg = parse({"ground_stations": ["Berlin"]})
    assert cfg.backend == "embedded" and cfg.port == 6443 and cfg.scheduler
    assert (cfg.node_monitor_period, cfg.node_monitor_grace_period, cfg.default_toleration_seconds) == (5, 40, 300)
    a = cfg.agents
    assert a.satellites == tuple(SATS) and a.initial == "nearest" and a.process == "separate"
    assert (a.lease_duration_seconds, a.renew_interval, a.status_update_frequency) == (40, 10, 10)
    assert parse({"ground_stations": "all"}).ground_stations == tuple(STATIONS)


def test_satellites_all_none_count_or_list():
    assert parse({"ground_stations": "all", "agents": {"satellites": "none"}}).agents.satellites == ()
    spread = parse({"ground_stations": "all", "agents": {"satellites": 8}}).agents.satellites
    assert spread == tuple(f"s0p{p}n0" for p in range(8))   # evenly over the planes
    listed = parse({"ground_stations": "all", "agents": {"satellites": ["s0p1n2", "s0p3n4"],
                                                          "assign": {"s0p1n2": "Madrid"}}})
    assert listed.agents.satellites == ("s0p1n2", "s0p3n4") and listed.agents.assign == {"s0p1n2": "Madrid"}
    assert parse({"ground_stations": ["Madrid"], "agents": {"initial": "Madrid"}}).agents.initial == "Madrid"


@pytest.mark.parametrize("raw, field, fix", [
    ({"ground_stations": ["Berlim"]}, "controlplane.ground_stations[0]", "'Berlin'"),
    ({"ground_stations": []}, "controlplane.ground_stations", "ground_stations: [Berlin, Madrid]"),
    ({"ground_stations": "all", "backend": "k8s"}, "controlplane.backend", "embedded, k3s"),
    ({"ground_stations": "all", "prot": 6443}, "controlplane.prot", "'port'"),
    ({"ground_stations": "all", "port": 70000}, "controlplane.port", "6443"),
    ({"ground_stations": "all", "agents": {"satelites": "all"}}, "controlplane.agents.satelites", "'satellites'"),
    ({"ground_stations": "all", "agents": {"satellites": 81}}, "controlplane.agents.satellites", "smaller"),
    ({"ground_stations": "all", "agents": {"satellites": ["s0p0n0", "s9p0n0"]}},
     "controlplane.agents.satellites[1]", "s0p"),
    ({"ground_stations": ["Berlin"], "agents": {"initial": "Madrid"}}, "controlplane.agents.initial", "Berlin"),
    ({"ground_stations": "all", "agents": {"satellites": ["s0p0n0"], "assign": {"s0p0n1": "Berlin"}}},
     "controlplane.agents.assign", "agents.satellites"),
    ({"ground_stations": "all", "agents": {"renew_interval": 60}}, "controlplane.agents.renew_interval", "1/4"),
    ({"ground_stations": "all", "node_monitor_grace_period": 1}, "controlplane.node_monitor_grace_period", "40"),
    ({"ground_stations": "all", "scheduler": "yes"}, "controlplane.scheduler", "true or false"),
])
def test_mistakes_name_the_field_and_the_fix(raw, field, fix):
    with pytest.raises(ConfigError) as e:
        parse(raw)
    assert e.value.field == field and fix in e.value.fix


def test_a_run_validates_the_section_before_anything_starts(tmp_path):
    from leonet.launch import prepare_run
    raw = copy.deepcopy(TINY)
    raw["controlplane"] = {"ground_stations": ["Madird"]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="did you mean 'Madrid'"):
        prepare_run(str(path))
    raw["controlplane"] = {"ground_stations": ["Madrid"], "backend": "k3s"}
    path.write_text(yaml.safe_dump(raw))
    if not k3s_available():
        with pytest.raises(ConfigError, match="k3s binary is not installed"):
            prepare_run(str(path))
    raw["controlplane"] = {"ground_stations": ["Madrid"]}
    raw["emulation"] = {"routes": "ground-stations"}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as e:
        prepare_run(str(path))
    assert e.value.field == "emulation.routes"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")
def test_leonet_run_starts_and_stops_the_control_planes(tmp_path):
    if not any(kubectl_binaries().values()):
        pytest.skip("no kubectl installed")
    raw = copy.deepcopy(TINY)
    raw["controlplane"] = {"ground_stations": "all",
                           "agents": {"satellites": 10, "initial": "round-robin", "process": "inline"}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    for attempt in range(5):   # on a shared machine another suite may take the run lock first
        wait_for_no_active_run()
        proc = subprocess.Popen(LEONET + ["run", str(path), "--backend", "none"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            break
        err = proc.stderr.read()
        assert "another leonet run is active" in err, err
    try:
        def planes():
            if proc.poll() is not None:
                raise AssertionError("leonet run exited: " + proc.stderr.read())
            out = subprocess.run(LEONET + ["controlplane", "list", "--format", "json"], capture_output=True,
                                 text=True, timeout=30)
            return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else None
        listed = wait_for(planes, 90, "the control planes of `leonet run`", interval=0.5)
        assert {p["ground_station"] for p in listed} == {"Berlin", "Madrid"}

        last = {}

        def ready_nodes():
            out = subprocess.run(LEONET + ["kubectl", "Berlin", "--", "get", "nodes", "--no-headers"],
                                 capture_output=True, text=True, timeout=30)
            last["out"] = out.stdout + out.stderr
            lines = out.stdout.splitlines()
            return len(lines) == 5 and all(" Ready " in line for line in lines)
        try:
            wait_for(ready_nodes, 60, "5 Ready nodes on Berlin (round-robin of 10)", interval=0.5)
        except TimeoutError:
            raise AssertionError(f"kubectl said: {last.get('out')}") from None
        pids = [int(p) for p in subprocess.run(["pgrep", "-f", "data-dir /run/leonet/controlplanes/"],
                                               capture_output=True, text=True).stdout.split()]
        assert len(pids) == 2
        # SIGTERM takes Ctrl-C's path (SIGINT may be ignored when the suite runs in the background)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "control plane on Berlin" in err and "agents registered" in err
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert not Path("/run/leonet/controlplanes").exists()
    time.sleep(0.5)
    assert not [p for p in pids if os.path.exists(f"/proc/{p}")]
