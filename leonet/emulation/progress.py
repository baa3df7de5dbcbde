"""Progress bars for bring-up: one tqdm bar per stage, on stderr."""
from __future__ import annotations

import sys
from typing import Any, Dict


class StageBars:
    """A :data:`leonet.emulation.network.Progress` callback drawing one bar per stage."""

    def __init__(self, leave: bool = True) -> None:
        from tqdm import tqdm
        self._tqdm = tqdm
        self._leave = leave
        self._bars: Dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = self._tqdm(total=total, desc=f"{stage:<12}", unit="", leave=self._leave,
                                                 file=sys.stderr, dynamic_ncols=True)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()
