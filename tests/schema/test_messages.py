"""Every section's error messages, pinned, and as precise as before the schema moved.

``error_messages_before.json`` holds the messages the section parsers gave before the
field checkers moved into :mod:`leonet.schema`; ``error_messages.json`` the messages
now (regenerate it with ``python tests/schema/pin_messages.py`` after a deliberate
change, and review the diff). For each bad input the test proves that the message is the pinned one and that it
still names the same field and the same value, and gives a fix.
"""
import json
import re
from pathlib import Path

import pytest

from leonet.containers.config import parse_containers_section
from leonet.controlplane.launch_config import parse_controlplane_section
from leonet.emulation.config import parse_emulation_section
from leonet.errors import ConfigError
from leonet.komet.config import parse_komet_section
from leonet.kubespace.config import parse_kubespace_section
from leonet.orbits import parse_scenario
from leonet.topology import parse_topology_section

from .cases import CASES

HERE = Path(__file__).parent
NOW = json.loads((HERE / "error_messages.json").read_text())
BEFORE = json.loads((HERE / "error_messages_before.json").read_text())
SATELLITES = [f"s0p{p}n{n}" for p in range(2) for n in range(2)]

PARSERS = {
    "scenario": parse_scenario,
    "topology": parse_topology_section,
    "emulation": parse_emulation_section,
    "containers": lambda raw: parse_containers_section(raw, "docker"),
    "containers-namespace": lambda raw: parse_containers_section(raw, "namespace"),
    "controlplane": lambda raw: parse_controlplane_section(raw, SATELLITES, ["Berlin", "Madrid"]),
    "kubespace": parse_kubespace_section,
    "komet": parse_komet_section,
}
_MESSAGE = re.compile(r"^(?P<field>.+?): (?P<problem>.+) \(got (?P<value>.*)\); fix: (?P<fix>.+)$", re.S)


def parts(message: str) -> dict:
    m = _MESSAGE.match(message)
    assert m, f"not of the form 'field: problem (got value); fix: ...': {message}"
    return m.groupdict()


@pytest.mark.parametrize("case_id, section, raw", CASES, ids=[c[0] for c in CASES])
def test_message_is_pinned_and_as_precise_as_before(case_id, section, raw):
    with pytest.raises(ConfigError) as err:
        PARSERS[section](raw)
    message = str(err.value)
    assert message == NOW[case_id]
    if case_id not in BEFORE:   # a field added after the move: pinned only
        return
    now, before = parts(message), parts(BEFORE[case_id])
    assert now["field"] == before["field"]
    assert now["value"] == before["value"] or float(now["value"]) == float(before["value"])
    assert now["fix"].strip()


def test_every_section_has_cases():
    from leonet.schema import section_names
    covered = {section.split("-")[0] for _, section, _ in CASES}
    assert set(section_names()) <= covered | {"scenario"}, "a registered section has no pinned messages"
