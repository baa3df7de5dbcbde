"""A world map of a snapshot: satellites, ISLs, GSLs and one highlighted path
(equirectangular longitude/latitude axes; no map data needed)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..orbits.frames import ecef_to_geodetic
from .bbox import BoundingBox
from .links import GSL, ISL
from .snapshot import Path, Snapshot


def _segments(lat: np.ndarray, lon: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Line segments (k, 2, 2) in (lon, lat); links across the antimeridian are drawn as
    two pieces, one on each edge of the map."""
    la, lb = lon[a], lon[b]
    wrap = np.abs(lb - la) > 180.0
    segs = [np.stack((np.stack((la, lat[a]), 1), np.stack((lb, lat[b]), 1)), 1)[~wrap]]
    if wrap.any():
        la_w, lb_w, ya, yb = la[wrap], lb[wrap], lat[a][wrap], lat[b][wrap]
        lb_shift = np.where(lb_w < la_w, lb_w + 360.0, lb_w - 360.0)  # b seen from a's side
        la_shift = np.where(la_w < lb_w, la_w + 360.0, la_w - 360.0)
        segs.append(np.stack((np.stack((la_w, ya), 1), np.stack((lb_shift, yb), 1)), 1))
        segs.append(np.stack((np.stack((la_shift, ya), 1), np.stack((lb_w, yb), 1)), 1))
    return np.concatenate(segs) if segs else np.zeros((0, 2, 2))


def plot_snapshot(snap: Snapshot, output: str, path: Optional[Path] = None,
                  bounding_box: Optional[BoundingBox] = None, title: Optional[str] = None,
                  dpi: int = 150) -> None:
    """Draw the snapshot to an image file (format from the extension, e.g. .png, .svg)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    lat, lon, _ = ecef_to_geodetic(snap.positions_km)
    n = snap.nodes.num_satellites
    fig, ax = plt.subplots(figsize=(14, 7.5))
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_aspect("equal")
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax.grid(True, lw=0.3, alpha=0.5)
    links = snap.links
    for kind, color, width, label in ((ISL, "tab:blue", 0.3, "ISL"), (GSL, "tab:green", 0.5, "GSL")):
        sel = links.kind == kind
        segs = _segments(lat, lon, links.a[sel], links.b[sel])
        ax.add_collection(LineCollection(segs, colors=color, linewidths=width, alpha=0.6,
                                         label=f"{label} ({int(sel.sum())})"))
    active = snap.active
    ax.scatter(lon[:n][active], lat[:n][active], s=3, c="black", label=f"satellites ({n})", zorder=3)
    if (~active).any():
        ax.scatter(lon[:n][~active], lat[:n][~active], s=3, c="lightgray", label="inactive satellites",
                   zorder=3)
    if len(snap.nodes) > n:
        ax.scatter(lon[n:], lat[n:], s=14, marker="^", c="tab:red",
                   label=f"ground stations ({len(snap.nodes) - n})", zorder=4)
    if path is not None and path.reachable and len(path.node_indices) > 1:
        idx = np.array(path.node_indices)
        segs = _segments(lat, lon, idx[:-1], idx[1:])
        ax.add_collection(LineCollection(segs, colors="tab:orange", linewidths=2.5, zorder=5,
                                         label=f"path {path.source} -> {path.target}: {path.delay_ms:.2f} ms"))
        ax.scatter(lon[idx], lat[idx], s=18, c="tab:orange", zorder=6)
    if bounding_box is not None:
        b = bounding_box
        spans = ([(b.lon_min_deg, 180.0), (-180.0, b.lon_max_deg)] if b.crosses_antimeridian
                 else [(b.lon_min_deg, b.lon_max_deg)])
        for x0, x1 in spans:
            ax.add_patch(plt.Rectangle((x0, b.lat_min_deg), x1 - x0, b.lat_max_deg - b.lat_min_deg,
                                       fill=False, ec="purple", lw=1.2, ls="--"))
    from ..orbits.timeutil import format_utc
    ax.set_title(title or f"{format_utc(snap.time)}: {len(links)} links")
    ax.legend(loc="lower left", fontsize=8, markerscale=2)
    fig.tight_layout()
    fig.savefig(output, dpi=dpi)
    plt.close(fig)

