"""The node table of a topology: satellites first, then ground stations, in a fixed order."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

from ..errors import ConfigError
from ..orbits import Constellation
from ..schema import suggest

SATELLITE = "satellite"
GROUND_STATION = "ground_station"


@dataclass(frozen=True)
class Nodes:
    """Names of all nodes; node ``i < num_satellites`` is satellite ``i`` of the
    constellation, node ``num_satellites + g`` is ground station ``g``."""

    names: Tuple[str, ...]
    num_satellites: int
    _index: Dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, constellation: Constellation) -> "Nodes":
        names = tuple([s.name for s in constellation.satellites]
                      + [g.name for g in constellation.ground_stations])
        return cls(names, constellation.num_satellites, {n: i for i, n in enumerate(names)})

    def __len__(self) -> int:
        return len(self.names)

    @property
    def num_ground_stations(self) -> int:
        return len(self.names) - self.num_satellites

    def kind(self, index: int) -> str:
        return SATELLITE if index < self.num_satellites else GROUND_STATION

    def is_ground_station(self, index: int) -> bool:
        return index >= self.num_satellites

    def ground_station_node(self, gs_index: int) -> int:
        """Node index of ground station number ``gs_index``."""
        return self.num_satellites + gs_index

    def index(self, name: str) -> int:
        """Node index of a satellite or ground-station name (ConfigError if unknown)."""
        try:
            return self._index[name]
        except KeyError:
            raise ConfigError("node", name, "no satellite or ground station of that name",
                              suggest(name, self.names, "satellites are named like s0p12n5; list ground "
                                                        "stations with `leonet info SCENARIO`")) from None

    def indices(self, names: Sequence[str]) -> List[int]:
        return [self.index(n) for n in names]
