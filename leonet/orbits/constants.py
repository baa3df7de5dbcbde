"""Physical constants used across leonet, with their units in the name."""

#: WGS84 ellipsoid (for geodetic coordinates of ground stations and satellites).
WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
WGS84_B_KM = WGS84_A_KM * (1.0 - WGS84_F)

#: Mean Earth radius. Walker shells are placed at ``altitude_km`` above this sphere
#: (semi-major axis = 6371 km + altitude), the convention Celestial and Hypatia use.
EARTH_MEAN_RADIUS_KM = 6371.0

#: Earth's gravitational parameter as used by SGP4's WGS72 constant set (km^3/s^2).
MU_EARTH_KM3_S2 = 398600.8

#: Earth's rotation rate (rad/s), IERS value.
EARTH_ROTATION_RAD_S = 7.2921150e-5

#: Speed of light in vacuum (km/s). Link delay defaults to distance / this.
SPEED_OF_LIGHT_KM_S = 299792.458

SECONDS_PER_DAY = 86400.0
