"""Reading, validating and writing two-line element sets (TLEs)."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from sgp4.api import Satrec
from sgp4.exporter import export_tle

from ..errors import ConfigError
from .timeutil import UTC


@dataclass(frozen=True)
class TleRecord:
    """One TLE: its name line (may be empty) and its two element lines."""

    name: str
    line1: str
    line2: str
    source: str = "<tle>"  #: "file:line" of the first element line, for error messages

    def satrec(self) -> Satrec:
        return Satrec.twoline2rv(self.line1, self.line2)

    @property
    def catalog_number(self) -> str:
        return self.line1[2:7].strip()


def tle_checksum(line: str) -> int:
    """TLE checksum of the first 68 characters: digits count, '-' counts 1, mod 10."""
    total = 0
    for ch in line[:68]:
        if ch.isdigit():
            total += int(ch)
        elif ch == "-":
            total += 1
    return total % 10


def validate_element_lines(line1: str, line2: str, where: str) -> None:
    """Raise :class:`ConfigError` if a TLE's element lines are malformed."""
    for number, line in (("1", line1), ("2", line2)):
        field = f"{where} (line {number})"
        if len(line) < 69:
            raise ConfigError(field, line, f"TLE line {number} has {len(line)} characters, needs 69",
                              "use complete, unwrapped TLE lines")
        if not line.startswith(number + " "):
            raise ConfigError(field, line, f"TLE line {number} must start with '{number} '",
                              "check that name, line 1 and line 2 alternate")
        if not line[68].isdigit():
            raise ConfigError(field, line, "column 69 must be the checksum digit",
                              "use unmodified TLE lines")
        if tle_checksum(line) != int(line[68]):
            raise ConfigError(field, line,
                              f"checksum mismatch: computed {tle_checksum(line)}, line says {line[68]}",
                              "re-download the TLE; the line was altered or corrupted")
    if line1[2:7] != line2[2:7]:
        raise ConfigError(where, (line1[2:7], line2[2:7]),
                          "line 1 and line 2 have different catalogue numbers",
                          "keep each satellite's two lines together")
    sat = Satrec.twoline2rv(line1, line2)
    if sat.error != 0:
        raise ConfigError(where, line1, f"SGP4 rejects these elements (error {sat.error})",
                          "use a valid TLE")


def parse_tle_text(text: str, source: str = "<tle>") -> List[TleRecord]:
    """Parse 3-line (name + 2 lines) or 2-line TLE text, validating every record."""
    lines = [ln.rstrip("\r\n") for ln in text.splitlines()]
    records: List[TleRecord] = []
    i = 0
    pending_name: Optional[str] = None
    pending_name_at = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("1 ") and len(line.rstrip()) >= 60:
            where = f"{source}:{i + 1}"
            if i + 1 >= len(lines):
                raise ConfigError(where, line, "TLE line 1 without a line 2",
                                  "complete or remove the last record")
            line1, line2 = line.rstrip(), lines[i + 1].rstrip()
            validate_element_lines(line1, line2, where)
            name = pending_name if pending_name is not None else line1[2:7].strip()
            records.append(TleRecord(name.strip(), line1, line2, where))
            pending_name = None
            i += 2
            continue
        if pending_name is not None:
            raise ConfigError(f"{source}:{pending_name_at + 1}", pending_name,
                              "name line not followed by TLE line 1",
                              "each record must be a name line, then lines 1 and 2")
        if line.startswith("2 "):
            raise ConfigError(f"{source}:{i + 1}", line, "TLE line 2 without a line 1",
                              "each record must be a name line, then lines 1 and 2")
        pending_name, pending_name_at = line.strip(), i
        i += 1
    if pending_name is not None:
        raise ConfigError(f"{source}:{pending_name_at + 1}", pending_name,
                          "name line at the end of the file without element lines",
                          "complete or remove the last record")
    if not records:
        raise ConfigError(source, "", "no TLE records found", "give a file of 2- or 3-line TLEs")
    return records


def read_tle_file(path: Path) -> List[TleRecord]:
    """Read and validate a TLE file."""
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise ConfigError("tle_file", str(path), f"cannot read: {exc.strerror}",
                          "give an existing TLE file (relative paths are relative to the scenario)")
    return parse_tle_text(text, source=str(Path(path).name))


def satrec_epoch(sat: Satrec) -> _dt.datetime:
    """The epoch of a Satrec as an aware UTC datetime."""
    days = (sat.jdsatepoch - 2440587.5) + sat.jdsatepochF
    return _dt.datetime(1970, 1, 1, tzinfo=UTC) + _dt.timedelta(days=days)


def format_tle(name: str, sat: Satrec) -> str:
    """A 3-line TLE (name, line 1, line 2) for a Satrec."""
    line1, line2 = export_tle(sat)
    return f"{name}\n{line1}\n{line2}"


def format_tles(names: Sequence[str], sats: Sequence[Satrec]) -> str:
    return "\n".join(format_tle(n, s) for n, s in zip(names, sats)) + "\n"
