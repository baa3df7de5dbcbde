"""The inference service's model: a stacked (two-layer) LSTM over a window of a sensor
group's readings that predicts the next reading, in numpy (the paper used a TensorFlow
stacked LSTM; TensorFlow is not installable here).

The recurrent weights are fixed from a seed and only the linear read-out is trained, by
ridge regression on synthetic ocean-bottom pressure series (tide plus noise) -- an
echo-state way of training an LSTM that takes milliseconds instead of an epoch loop. It
predicts real series (its error is printed by ``python lstm.py``); for the experiment
what matters is that every reading costs a real model evaluation on the server.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

WINDOW = 16
HIDDEN = 32
#: a semi-diurnal tide (12.42 h), time-compressed so that a window spans a visible part
TIDE_PERIOD_S = 600.0


def pressure(sensor: int, t_s: np.ndarray) -> np.ndarray:
    """Synthetic bottom pressure (dbar) of a sensor at times ``t_s``: depth, tide, noise."""
    rng = np.random.default_rng(sensor)
    depth, amp, phase = 3000 + 2000 * rng.random(), 0.5 + rng.random(), 2 * math.pi * rng.random()
    noise = np.random.default_rng(hash((sensor, int(t_s[0]))) & 0xFFFFFFFF).normal(0, 0.02, len(t_s))
    return depth + amp * np.sin(2 * math.pi * np.asarray(t_s) / TIDE_PERIOD_S + phase) + noise


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class StackedLSTM:
    def __init__(self, seed: int = 7, hidden: int = HIDDEN, layers: int = 2):
        rng = np.random.default_rng(seed)
        self.hidden = hidden
        self.w = []
        inputs = 1
        for _ in range(layers):
            scale = 1.0 / math.sqrt(inputs + hidden)
            self.w.append((rng.normal(0, scale, (4 * hidden, inputs + hidden)), np.zeros(4 * hidden)))
            inputs = hidden
        self.readout: Optional[np.ndarray] = None

    def features(self, window: np.ndarray) -> np.ndarray:
        """The top layer's last hidden state for a (normalised) window of readings."""
        xs = np.asarray(window, dtype=float).reshape(-1, 1)
        H = self.hidden
        for w, b in self.w:
            wx, wh = w[:, :xs.shape[1]], w[:, xs.shape[1]:]
            zx = xs @ wx.T + b                   # the input's share of every step at once
            h, c = np.zeros(H), np.zeros(H)
            out = np.empty((len(xs), H))
            for t in range(len(xs)):
                z = zx[t] + wh @ h
                gates = _sigmoid(z)
                c = gates[H:2 * H] * c + gates[:H] * np.tanh(z[2 * H:3 * H])
                h = gates[3 * H:] * np.tanh(c)
                out[t] = h
            xs = out
        return np.concatenate((xs[-1], [1.0]))

    @staticmethod
    def _normalise(window: np.ndarray):
        window = np.asarray(window, dtype=float)
        mean, scale = window.mean(), max(float(window.std()), 1e-3)
        return (window - mean) / scale, mean, scale

    def fit(self, sensors: int = 24, samples: int = 40, ridge: float = 1e-3) -> float:
        """Train the read-out on synthetic series; returns the training RMSE (dbar)."""
        feats, targets, scales = [], [], []
        for s in range(sensors):
            series = pressure(1000 + s, np.arange(0.0, samples + WINDOW + 1))
            for k in range(samples):
                z, mean, scale = self._normalise(series[k:k + WINDOW])
                feats.append(self.features(z))
                targets.append((series[k + WINDOW] - mean) / scale)
                scales.append(scale)
        x, y = np.array(feats), np.array(targets)
        self.readout = np.linalg.solve(x.T @ x + ridge * np.eye(x.shape[1]), x.T @ y)
        return float(np.sqrt(np.mean(((x @ self.readout - y) * np.array(scales)) ** 2)))

    def predict(self, window: np.ndarray) -> float:
        """The next reading after ``window`` (any length >= 2; the last WINDOW are used)."""
        assert self.readout is not None, "fit() first"
        z, mean, scale = self._normalise(np.asarray(window)[-WINDOW:])
        return float(self.features(z) @ self.readout * scale + mean)


if __name__ == "__main__":
    import time
    m = StackedLSTM()
    print(f"training RMSE {m.fit():.4f} dbar")
    series = pressure(5, np.arange(0.0, 200.0))
    errs, t0 = [], time.perf_counter()
    for k in range(WINDOW, 199):
        errs.append(m.predict(series[k - WINDOW:k]) - series[k])
    print(f"test RMSE {np.sqrt(np.mean(np.square(errs))):.4f} dbar (persistence: "
          f"{np.sqrt(np.mean(np.square(np.diff(series[WINDOW - 1:199])))):.4f}); "
          f"{(time.perf_counter() - t0) / len(errs) * 1e3:.2f} ms per prediction")
