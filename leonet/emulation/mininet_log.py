"""Mininet's logging, made to live beside leonet's. Import this before any other Mininet module.

Mininet prints its CLI output through its ``mininet`` logger, which has a handler of its own
and also propagates to the root logger, where ``leonet``'s handler printed every line a second
time (``leonet: Level 25: ...``). And importing ``mininet.log`` makes every logger created
afterwards a ``MininetLogger`` with one more handler (``logging.setLoggerClass``), so leonet's
own messages from modules imported later would be printed twice too. Both are undone here.
"""
from __future__ import annotations

import logging

from mininet.log import lg

lg.propagate = False
logging.setLoggerClass(logging.Logger)
