"""The entries of a next-hop table that changed, found in one compiled pass.

The lookahead worker sends only these (see :mod:`.lookahead`). numpy needs a comparison
of the whole table into a mask and a search of the mask: at phase I (20 million entries,
~10,000 changed) 20-50 ms; one pass over both tables costs about half of that.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _changed(new, old, out):  # pragma: no cover - compiled
    """Flat indices of the entries where ``new`` and ``old`` differ, in ``out``; returns how
    many, or -1 if they do not fit."""
    rows, cols = new.shape
    n = 0
    for r in range(rows):
        for c in range(cols):
            if new[r, c] != old[r, c]:
                if n == len(out):
                    return -1
                out[n] = r * cols + c
                n += 1
    return n


def update_table(table: np.ndarray, new: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make ``table`` equal ``new`` (same shape; ``new`` may be a strided view) and return
    the rows, columns and new values (int32) of the entries that changed."""
    out = np.empty(max(1024, new.size // 64), dtype=np.int64)
    count = _changed(new, table, out)
    flat = out[:count] if count >= 0 else np.flatnonzero(new != table)   # many: a bring-up, not a tick
    rows, cols = np.divmod(flat, np.int64(new.shape[1]))
    values = new[rows, cols].astype(np.int32)
    table[rows, cols] = values
    return rows.astype(np.int32), cols.astype(np.int32), values
