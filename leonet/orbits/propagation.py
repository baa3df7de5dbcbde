"""Vectorised SGP4 propagation into ECEF, over many satellites and many times at once."""
from __future__ import annotations

import datetime as _dt
from typing import Iterator, Sequence, Tuple

import numpy as np
from sgp4.api import Satrec, SatrecArray

from .frames import teme_to_ecef
from .timeutil import jd_array


class Propagator:
    """Propagates a fixed list of satellites with the ``sgp4`` array API.

    Times are offsets in seconds from ``start``. Satellites SGP4 cannot propagate
    at a time (decayed) get NaN positions there.
    """

    def __init__(self, satrecs: Sequence[Satrec], start: _dt.datetime, dut1_s: float = 0.0):
        self.satrecs = list(satrecs)
        self.start = start
        self.dut1_s = dut1_s
        self._array = SatrecArray(self.satrecs) if self.satrecs else None

    def __len__(self) -> int:
        return len(self.satrecs)

    def teme(self, offsets_s: Sequence[float]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """TEME positions and velocities (km, km/s), each (N, T, 3), and the error codes (N, T)."""
        offsets = np.atleast_1d(np.asarray(offsets_s, dtype=float))
        if self._array is None:
            empty = np.zeros((0, len(offsets), 3))
            return empty, empty.copy(), np.zeros((0, len(offsets)), dtype=np.uint8)
        jd, fr = jd_array(self.start, offsets)
        err, r, v = self._array.sgp4(jd, fr)
        return r, v, err

    def ecef(self, offsets_s: Sequence[float]) -> np.ndarray:
        """ECEF/ITRS positions (km), shape (N, T, 3)."""
        offsets = np.atleast_1d(np.asarray(offsets_s, dtype=float))
        r, _, err = self.teme(offsets)
        if not len(r):
            return r
        jd, fr = jd_array(self.start, offsets)
        out = teme_to_ecef(r, jd, fr, self.dut1_s)
        if err.any():
            out[err != 0] = np.nan
        return out

    def ecef_at(self, offset_s: float) -> np.ndarray:
        """ECEF positions (km) at one time, shape (N, 3)."""
        return self.ecef([offset_s])[:, 0, :]

    def ecef_chunks(self, offsets_s: Sequence[float], chunk: int = 256
                    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """Yield (offsets, ECEF (N, t, 3)) in chunks of ``chunk`` times, to bound memory."""
        offsets = np.asarray(offsets_s, dtype=float)
        for i in range(0, len(offsets), chunk):
            part = offsets[i:i + chunk]
            yield part, self.ecef(part)
