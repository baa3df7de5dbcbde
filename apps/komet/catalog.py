"""The CDN's items (Sec. 7.3), shared by the origin and the clients.

The paper's clients request Wikimedia images from a day of *Mediacounts* (542,112
keys: originals of at most 1 MB and six thumbnail variants, sizes 25/20/15/10/5/1 % of
the original), each key weighted by its access count. That file is not available here,
so the catalogue is synthetic with the same number of keys: popularity Zipf with
exponent 1 over the keys (rank 1 the most popular), the variant of a key and its
original's size (log-normal, median 200 kB, at most 1 MB) drawn from a hash of the
key, so that the origin and every client agree without sharing a file.
"""
from __future__ import annotations

import hashlib
import math
from statistics import NormalDist
from typing import Optional

import numpy as np

KEYS = 542_112
ZIPF_EXPONENT = 1.0
#: the Mediacounts variants' sizes as fractions of the original (the artifact's estimate)
VARIANTS = (("original", 1.0), ("1000", 0.25), ("800_999", 0.20), ("600_799", 0.15), ("400_599", 0.10),
            ("200_399", 0.05), ("0_199", 0.01))
MAX_ORIGINAL = 1 << 20


def path_of(rank: int) -> str:
    """The path of the key with popularity rank ``rank`` (1-based)."""
    return f"m{rank}/{VARIANTS[_hash(rank, 0) % len(VARIANTS)][0]}"


def size_of(path: str) -> int:
    """Bytes of the item at ``path`` (as ``path_of`` names it); ValueError if unknown."""
    base, _, variant = path.strip("/").partition("/")
    if not base.startswith("m") or not base[1:].isdigit() or not 1 <= int(base[1:]) <= KEYS:
        raise ValueError(f"no item {path!r}")
    fractions = dict(VARIANTS)
    if variant not in fractions:
        raise ValueError(f"no variant {variant!r}")
    rank = int(base[1:])
    u = (_hash(rank, 1) + 0.5) / 2 ** 64
    original = min(MAX_ORIGINAL, int(200_000 * math.exp(NormalDist().inv_cdf(u))))
    return max(64, int(original * fractions[variant]))


class Sampler:
    """Keys drawn by popularity."""

    def __init__(self, seed: Optional[int] = None):
        w = 1.0 / np.arange(1, KEYS + 1) ** ZIPF_EXPONENT
        self.cdf = np.cumsum(w / w.sum())
        self.rng = np.random.default_rng(seed)

    def path(self) -> str:
        return path_of(int(np.searchsorted(self.cdf, self.rng.random(), side="right")) + 1)


def _hash(rank: int, salt: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{salt}:{rank}".encode(), digest_size=8).digest(), "big")

