"""Walker delta and Walker star shells, turned into real SGP4 element sets.

Plane ``p`` (0-based) has right ascension of the ascending node
``raan0 + p * arc / planes``; slot ``n`` in it has argument of latitude
``n * 360 / S + p * F * 360 / (P * S)`` at the epoch (Walker's notation i:T/P/F).
Walker delta spreads the planes over 360 degrees, Walker star over 180.
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import List

from sgp4.api import WGS72, Satrec

from .constants import EARTH_MEAN_RADIUS_KM, MU_EARTH_KM3_S2
from .timeutil import to_jd

# SGP4's WGS72 constants, needed to undo its Kozai -> Brouwer mean motion conversion.
_WGS72_RADIUS_KM = 6378.135
_WGS72_J2 = 0.001082616
_SGP4_EPOCH_JD = 2433281.5  # 1949-12-31 00:00 UT, sgp4init's epoch origin


@dataclass(frozen=True)
class WalkerShell:
    """Parameters of one Walker shell (angles in degrees, lengths in km)."""

    planes: int
    sats_per_plane: int
    altitude_km: float
    inclination_deg: float
    arc_of_ascending_nodes_deg: float = 360.0
    phasing: int = 1
    eccentricity: float = 0.0
    raan_offset_deg: float = 0.0
    arg_perigee_deg: float = 0.0

    @property
    def size(self) -> int:
        return self.planes * self.sats_per_plane

    @property
    def mean_radius_km(self) -> float:
        """Orbit-averaged distance from Earth's centre: 6371 km + altitude."""
        return EARTH_MEAN_RADIUS_KM + self.altitude_km

    @property
    def semi_major_axis_km(self) -> float:
        """Brouwer mean semi-major axis that gives :attr:`mean_radius_km` under SGP4.

        J2's short-period terms make SGP4's orbit-averaged radius differ from the
        mean semi-major axis by -(3/4) J2 Re^2 / a (3 cos^2 i - 1): -9.5 km for an
        equatorial 550 km orbit, +4.8 km for a polar one. We compensate, so that
        ``altitude_km`` is the altitude a user would measure.
        """
        r = self.mean_radius_km
        cos_i = math.cos(math.radians(self.inclination_deg))
        return r + 0.75 * _WGS72_J2 * _WGS72_RADIUS_KM ** 2 / r * (3.0 * cos_i * cos_i - 1.0)

    @property
    def period_s(self) -> float:
        """Two-body period of the mean orbit (J2 changes it by < 0.3 %)."""
        return 2.0 * math.pi * math.sqrt(self.semi_major_axis_km ** 3 / MU_EARTH_KM3_S2)

    def raan_deg(self, plane: int) -> float:
        return (self.raan_offset_deg + plane * self.arc_of_ascending_nodes_deg / self.planes) % 360.0

    def arg_latitude_deg(self, plane: int, slot: int) -> float:
        total = self.planes * self.sats_per_plane
        return (slot * 360.0 / self.sats_per_plane + plane * self.phasing * 360.0 / total) % 360.0


def _kozai_mean_motion(brouwer_rad_min: float, inclination_rad: float, ecc: float) -> float:
    """The Kozai mean motion that SGP4 converts into the given Brouwer mean motion.

    SGP4 (Hoots & Roehrich 1980) divides the input mean motion by ``1 + delta0``;
    we invert that so the satellite's mean semi-major axis is the one asked for.
    """
    xke = 60.0 / math.sqrt(_WGS72_RADIUS_KM ** 3 / MU_EARTH_KM3_S2)
    k2 = 0.5 * _WGS72_J2
    cosi = math.cos(inclination_rad)
    beta = math.sqrt(1.0 - ecc * ecc)
    d1 = 0.75 * 2 * k2 * (3.0 * cosi * cosi - 1.0) / (beta ** 3)  # 1.5 * J2 * (...)
    n = brouwer_rad_min
    for _ in range(5):  # fixed point: n_kozai = n_brouwer * (1 + delta0(n_kozai))
        a1 = (xke / n) ** (2.0 / 3.0)
        del1 = d1 / (a1 * a1)
        ao = a1 * (1.0 - del1 * del1 - del1 * (1.0 / 3.0 + 134.0 * del1 * del1 / 81.0))
        delo = d1 / (ao * ao)
        n = brouwer_rad_min * (1.0 + delo)
    return n


def make_satrec(shell: WalkerShell, plane: int, slot: int, epoch: _dt.datetime,
                satnum: int) -> Satrec:
    """An SGP4 ``Satrec`` for one slot of a Walker shell, with its epoch at ``epoch``."""
    a_km = shell.semi_major_axis_km
    brouwer = math.sqrt(MU_EARTH_KM3_S2 / a_km ** 3) * 60.0  # rad/min
    incl = math.radians(shell.inclination_deg)
    argp = math.radians(shell.arg_perigee_deg)
    # Mean anomaly = argument of latitude - argument of perigee.
    mean_anomaly = math.radians(shell.arg_latitude_deg(plane, slot)) - argp
    jd, fr = to_jd(epoch)
    sat = Satrec()
    sat.sgp4init(
        WGS72, "i", satnum, (jd - _SGP4_EPOCH_JD) + fr,
        0.0, 0.0, 0.0,  # bstar, ndot, nddot: no drag for idealised shells
        shell.eccentricity, argp, incl, mean_anomaly % (2 * math.pi),
        _kozai_mean_motion(brouwer, incl, shell.eccentricity),
        math.radians(shell.raan_deg(plane)),
    )
    return sat


def make_shell_satrecs(shell: WalkerShell, epoch: _dt.datetime, first_satnum: int) -> List[Satrec]:
    """All satellites of a shell, plane-major (index = plane * sats_per_plane + slot)."""
    return [make_satrec(shell, p, n, epoch, first_satnum + p * shell.sats_per_plane + n)
            for p in range(shell.planes) for n in range(shell.sats_per_plane)]
