"""TLE validation and the real TLE set."""
import logging

import numpy as np
import pytest

from leonet.errors import ConfigError
from leonet.orbits import load_constellation
from leonet.orbits.tle import parse_tle_text, read_tle_file, tle_checksum
from leonet.orbits.scenario import DATA_DIR

ISS = ("ISS (ZARYA)",
       "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927",
       "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537")


def test_checksum_of_known_lines():
    assert tle_checksum(ISS[1]) == 7
    assert tle_checksum(ISS[2]) == 7


def test_parses_two_and_three_line_sets():
    three = parse_tle_text("\n".join(ISS))
    two = parse_tle_text("\n".join(ISS[1:]))
    assert three[0].name == "ISS (ZARYA)" and two[0].name == "25544"
    assert three[0].satrec().inclo == pytest.approx(np.radians(51.6416))


@pytest.mark.parametrize("bad,message", [
    ((ISS[0], ISS[1][:-1] + "3", ISS[2]), "checksum mismatch"),
    ((ISS[0], ISS[1][:60], ISS[2]), "has 60 characters"),
    ((ISS[0], ISS[1], ISS[2].replace("25544", "25545", 1)), None),  # checksum or catalogue mismatch
    ((ISS[0], ISS[2], ISS[1]), "not followed by TLE line 1"),
    ((ISS[2], ISS[1]), "line 2 without a line 1"),
    ((ISS[0], ISS[0]), "not followed by TLE line 1"),
    ((ISS[0],), "without element lines"),
])
def test_malformed_tles_are_rejected_with_the_line(bad, message):
    with pytest.raises(ConfigError) as err:
        parse_tle_text("\n".join(bad), source="x.tle")
    assert "x.tle:" in str(err.value)
    if message:
        assert message in str(err.value)


def test_catalogue_number_mismatch_is_named():
    l2 = ISS[2].replace("25544", "25545", 1)
    l2 = l2[:68] + str(tle_checksum(l2))
    with pytest.raises(ConfigError, match="different catalogue numbers"):
        parse_tle_text("\n".join((ISS[0], ISS[1], l2)))


def test_real_starlink_file_parses_completely():
    records = read_tle_file(DATA_DIR / "starlink-2026-01-31.tle")
    assert len(records) == 9489
    assert records[0].name.startswith("STARLINK")


def test_stale_tles_warn(caplog):
    c = load_constellation("starlink-tle")
    with caplog.at_level(logging.WARNING, logger="leonet.orbits"):
        c.check_tle_age(c.start)
    assert not caplog.records
    import datetime as dt
    with caplog.at_level(logging.WARNING, logger="leonet.orbits"):
        c.check_tle_age(c.start + dt.timedelta(days=30))
    assert "more than 14 days" in caplog.text
