"""The first script of docs/python-api.md, run exactly as a newcomer would copy it."""
import re
import subprocess
import sys
from pathlib import Path

from conftest import require_root

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"


def newcomer_script() -> str:
    text = DOC.read_text()
    block = text.split("<!-- newcomer-script -->", 1)[1]
    return block.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_script_is_short():
    assert len(newcomer_script().strip().splitlines()) < 20


def test_the_script_brings_up_pings_and_prints_path_and_rtts(tmp_path):
    require_root()
    script = tmp_path / "first.py"
    script.write_text(newcomer_script())
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert re.search(r"Berlin -> Madrid: [\d.]+ ms one way, \d+ hops \(Berlin .* Madrid\)", out), out
    assert "3 packets transmitted, 3 received" in out, out        # DNS name resolved, replies came
    m = re.search(r"expected RTT ([\d.]+) ms, measured: ([\d. ]+)", out)
    assert m, out
    expected, measured = float(m.group(1)), [float(x) for x in m.group(2).split()]
    assert len(measured) >= 4, out
    # the backend's accuracy is per hop and the machine may be loaded: judge the lower half
    assert sorted(measured)[len(measured) // 2 - 1] - expected < 5.0, out
    assert min(measured) > expected - 0.5, out
