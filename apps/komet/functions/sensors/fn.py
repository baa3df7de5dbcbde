"""IoT (Sec. 7.2): the tsunami-risk function that all 30 DART buoys share, as the
artifact's ``sensors``. Per request it

1. reads every buoy's latest value from the keygroup ``sensors`` (a scan, at most 1,000);
2. stores the caller's new value, asynchronously (a background thread, as the artifact);
3. scales the values to [0, 1] (the artifact's min 7.8 and max 36.0);
4. runs a small LSTM on 10 of them (padded with zeros or truncated);
5. answers the risk factor as a float string.

The paper's model is a trained TensorFlow LSTM run with TFLite (from the Celestial
paper's buoy application). It is not available and TensorFlow is not installable here,
so this is an LSTM of the same kind in numpy -- one layer, 16 units, a sigmoid read-out
over the last state -- with fixed weights from a seeded generator: it costs a forward
pass per request as the paper's does, but its "risk" is not a trained prediction.
Input: ``{"name": "21413", "value": 12.3}``.
"""
import json
import threading

import numpy as np

from apps.komet.kv import keygroup

VALUE_MIN, VALUE_MAX = 7.8, 36.0
WINDOW, HIDDEN = 10, 16

_rng = np.random.default_rng(20240705)
_W = _rng.normal(0.0, 0.4, (4 * HIDDEN, 1 + HIDDEN))      # gates i, f, g, o over [x, h]
_B = np.zeros(4 * HIDDEN)
_B[HIDDEN:2 * HIDDEN] = 1.0                                # forget-gate bias, as usual
_W_OUT = _rng.normal(0.0, 0.5, HIDDEN)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def risk(window: np.ndarray) -> float:
    """The LSTM's output for a sequence of WINDOW scaled values."""
    h, c = np.zeros(HIDDEN), np.zeros(HIDDEN)
    for x in window:
        z = _W @ np.concatenate(([x], h)) + _B
        i, f, g, o = (_sigmoid(z[:HIDDEN]), _sigmoid(z[HIDDEN:2 * HIDDEN]), np.tanh(z[2 * HIDDEN:3 * HIDDEN]),
                      _sigmoid(z[3 * HIDDEN:]))
        c = f * c + i * g
        h = o * np.tanh(c)
    return float(_sigmoid(_W_OUT @ h))


def fn(inp: str) -> str:
    item = json.loads(inp)
    name, value = str(item["name"]), float(item["value"])
    kg = keygroup("sensors")
    stored = kg.scan(1000)
    threading.Thread(target=kg.update, args=(name, repr(value)), daemon=True).start()
    values = np.array([float(stored[k]) for k in sorted(stored)], dtype=float)
    scaled = np.clip((values - VALUE_MIN) / (VALUE_MAX - VALUE_MIN), 0.0, 1.0)[:WINDOW]
    window = np.zeros(WINDOW)
    window[:len(scaled)] = scaled
    return repr(risk(window))
