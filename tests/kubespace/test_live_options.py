"""The live figures' shared options (experiments/kubespace_common.py): the defaults each help states are the
ones a run gets, quick or full; and the options only the figures with a measured stretch have."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"
DOC = "Fig. N on the live emulation: what it\nmeasures.\n\nMore detail."


@pytest.fixture
def common(monkeypatch):
    monkeypatch.syspath_prepend(str(EXPERIMENTS))
    import kubespace_common
    return kubespace_common


@pytest.mark.skipif(os.geteuid() != 0, reason="live_options checks for root first")
def test_quick_and_full_defaults_resolve_as_the_help_states(common, tmp_path):
    stretch = common.Stretch("of reports", "stretch", 90, 40, 120, 30)
    p = common.live_parser(DOC, "kubespace,rejoin", "kubespace", stretch=stretch)
    assert p.description == "Fig. N on the live emulation: what it measures."
    helps = {a.dest: a.help for a in p._actions}
    assert helps["duration"] == "emulated seconds of reports per platform (default 90; quick 40)"
    assert helps["max_wall"] == "stop a platform's stretch after this many wall seconds (default 120; quick 30)"

    full = p.parse_args(["--out", str(tmp_path / "full")])
    assert common.live_options(full) == ["kubespace", "rejoin"]
    assert (full.duration, full.max_wall, full.speed, full.agents) == (90, 120, 1.0, 100)
    assert (tmp_path / "full").is_dir()

    quick = p.parse_args(["--quick", "--duration", "7", "--out", str(tmp_path / "quick")])
    assert common.live_options(quick) == ["kubespace"]
    assert (quick.duration, quick.max_wall, quick.speed, quick.agents) == (7, 30, 4.0, "all")


def test_a_figure_without_a_stretch_has_no_duration_option(common):
    p = common.live_parser(DOC, "kubespace", "kubespace")
    with pytest.raises(SystemExit):
        p.parse_args(["--duration", "5"])


@pytest.mark.parametrize("script", ["kubespace_fig7.py", "kubespace_fig8.py", "kubespace_fig9.py"])
def test_help_lists_only_options_the_figure_uses(script):
    run = subprocess.run([sys.executable, str(EXPERIMENTS / script), "--help"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "--platforms" in run.stdout and "--constellations" not in run.stdout
    assert ("--max-wall" in run.stdout) == (script != "kubespace_fig8.py")
