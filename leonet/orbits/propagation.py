"""Vectorised SGP4 propagation into ECEF, over many satellites and many times at once."""
from __future__ import annotations

import datetime as _dt
from typing import Iterator, Sequence, Tuple

import numpy as np
from sgp4.api import Satrec, SatrecArray

from .constants import EARTH_ROTATION_RAD_S
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

    def ecef_with_velocity(self, offsets_s: Sequence[float]) -> Tuple[np.ndarray, np.ndarray]:
        """ECEF positions (km) and Earth-fixed velocities (km/s), each (N, T, 3)."""
        offsets = np.atleast_1d(np.asarray(offsets_s, dtype=float))
        r, v, err = self.teme(offsets)
        jd, fr = jd_array(self.start, offsets)
        pos = teme_to_ecef(r, jd, fr, self.dut1_s)
        # Rotating frame: v_ecef = R v_teme - omega x r_ecef, with omega = (0, 0, w).
        vel = teme_to_ecef(v, jd, fr, self.dut1_s)
        vel[..., 0] += EARTH_ROTATION_RAD_S * pos[..., 1]
        vel[..., 1] -= EARTH_ROTATION_RAD_S * pos[..., 0]
        if err.any():
            pos[err != 0] = np.nan
            vel[err != 0] = np.nan
        return pos, vel

    def ecef_interpolated(self, offsets_s: Sequence[float], knot_step_s: float = 60.0) -> np.ndarray:
        """ECEF positions (km), (N, T, 3), by cubic Hermite interpolation between SGP4
        states at knots ``knot_step_s`` apart (positions and velocities match at knots).

        The error bound is h^4 max|r''''| / 384, about h^4 w^4 r / 384 for a circular
        orbit of angular rate w: under a metre at 60 s knots for a 550 km orbit (the
        measured errors are in docs/orbits.md). Dense series (1 s steps) then cost one
        SGP4 call per satellite per knot instead of one per time.
        """
        offsets = np.atleast_1d(np.asarray(offsets_s, dtype=float))
        if len(offsets) == 0 or len(self) == 0:
            return np.zeros((len(self), len(offsets), 3))
        h = float(knot_step_s)
        first = np.floor(offsets.min() / h) * h
        knots = first + h * np.arange(int(np.ceil((offsets.max() - first) / h)) + 2)
        pos, vel = self.ecef_with_velocity(knots)
        n_sat = len(self)
        # Knot states as rows (K, N*3), so each knot interval is one small matrix product.
        p_rows = pos.transpose(1, 0, 2).reshape(len(knots), n_sat * 3)
        v_rows = (h * vel).transpose(1, 0, 2).reshape(len(knots), n_sat * 3)
        interval = np.clip(((offsets - first) // h).astype(int), 0, len(knots) - 2)
        s = (offsets - knots[interval]) / h
        s2, s3 = s * s, s * s * s
        weights = np.stack((2 * s3 - 3 * s2 + 1, s3 - 2 * s2 + s, -2 * s3 + 3 * s2, s3 - s2), axis=1)
        out = np.empty((len(offsets), n_sat * 3))
        order = np.argsort(interval, kind="stable")
        bounds = np.flatnonzero(np.diff(interval[order])) + 1
        for rows in np.split(order, bounds):
            j = interval[rows[0]]
            basis = np.stack((p_rows[j], v_rows[j], p_rows[j + 1], v_rows[j + 1]))
            out[rows] = weights[rows] @ basis
        return out.reshape(len(offsets), n_sat, 3).transpose(1, 0, 2)

    def ecef_chunks(self, offsets_s: Sequence[float], chunk: int = 256
                    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """Yield (offsets, ECEF (N, t, 3)) in chunks of ``chunk`` times, to bound memory."""
        offsets = np.asarray(offsets_s, dtype=float)
        for i in range(0, len(offsets), chunk):
            part = offsets[i:i + chunk]
            yield part, self.ecef(part)
