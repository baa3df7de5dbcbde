"""Property tests: mutated scenarios never crash the command line.

Starting from a valid scenario with every section, hypothesis replaces values, drops
keys, adds keys and nests values anywhere in the tree, or writes arbitrary text or
bytes as the file. Whatever it builds, `leonet info` and `leonet positions` either
accept it or exit 2 with one line that names a field -- never a traceback, and within
bounded time and memory.
"""
import copy
import resource
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leonet.cli.main import main

from .cases import scenario, walker

VALID = scenario(
    shells=[walker(), {"name": "star", "walker": "star", "planes": 2, "sats_per_plane": 3,
                       "altitude_km": 780, "inclination_deg": 86.4, "isl_loss_percent": 1}],
    defaults={"min_elevation_deg": 20, "gsl_bandwidth_mbps": 500},
    topology={"isl": {"inter_plane": "nearest", "max_range_km": 5000}, "gsl": {"policy": "nearest"},
              "bounding_box": {"lat_min_deg": 0, "lat_max_deg": 60, "lon_min_deg": -20, "lon_max_deg": 40}},
    emulation={"backend": "nfqueue", "step_s": 1, "routes": "all"},
    containers={"info_api": True},
    controlplane={"ground_stations": ["Berlin"], "agents": {"satellites": 2, "initial": "nearest"}},
    kubespace={"placement": {"k": 1}, "assignment": {"threshold": 0.9, "control_nodes": ["Berlin", "Madrid"]}},
)

ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.sampled_from([10**30, -1, 0, 1, 2]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["", " ", "\n", "\x00", "x" * 5000, "s0p0n0", "all", "none", "nearest", "docker",
                     "2026-01-31T12:00:00Z", "builtin:starlink_gateways.csv", "builtin:x.tle"]),
    st.lists(st.integers(-5, 5), max_size=4), st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)


def paths(tree, prefix=()):
    """Every path to a value in a tree of dicts and lists."""
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from paths(v, prefix + (i,))


ALL_PATHS = [p for p in paths(VALID) if p]


@st.composite
def mutated(draw):
    raw = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent = raw
        try:
            for key in path[:-1]:
                parent = parent[key]
            key = path[-1]
            action = draw(st.sampled_from(["replace", "delete", "add", "nest"]))
            if action == "replace":
                parent[key] = draw(ODD_VALUES)
            elif action == "delete" and isinstance(parent, dict):
                del parent[key]
            elif action == "add" and isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=12))] = draw(ODD_VALUES)
            elif action == "nest":
                parent[key] = [parent[key]] if draw(st.booleans()) else {"x": parent[key]}
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    return raw


def check_cli(tmp_path, text_or_bytes, command):
    path = tmp_path / "m.yaml"
    if isinstance(text_or_bytes, bytes):
        path.write_bytes(text_or_bytes)
    else:
        path.write_text(text_or_bytes)
    argv = [command, str(path)] + (["--at", "2026-01-31T12:00:00Z"] if command == "positions" else [])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    import io
    import sys
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    try:
        code = main(argv)
        err = sys.stderr.getvalue()
    finally:
        sys.stdout, sys.stderr = old_out, old_err
    assert time.monotonic() - started < 20, "took too long"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 500_000, "used too much memory (kB)"
    assert code in (0, 2), err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("leonet: error: "), err
        assert ": " in lines[0][len("leonet: error: "):], err


COUNTS = {"mutations": 0, "texts": 0}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(raw=mutated(), command=st.sampled_from(["info", "positions"]))
def test_mutated_scenarios_exit_0_or_2_with_one_line(tmp_path, raw, command):
    COUNTS["mutations"] += 1
    try:
        text = yaml.safe_dump(raw, allow_unicode=True)
    except yaml.YAMLError:
        return
    check_cli(tmp_path, text, command)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=400), st.text(max_size=400),
                      st.text(alphabet="[]{}:-, \n'\"&*!|>#ab1.", max_size=400)))
def test_arbitrary_files_exit_0_or_2_with_one_line(tmp_path, data):
    COUNTS["texts"] += 1
    check_cli(tmp_path, data, "info")


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print(f"\nscenario property tests: {COUNTS['mutations']} mutated scenarios, {COUNTS['texts']} arbitrary files")
