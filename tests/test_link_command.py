"""scripts/link-command.sh, the installer's last step: which checkout the `leonet` command on the PATH runs.
Real files and links in a temporary folder (never /usr/local/bin); no root needed."""
import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "link-command.sh"


def checkout(root: Path, name: str) -> Path:
    """A checkout's venv command: prints the checkout's name."""
    cmd = root / name / ".venv" / "bin" / "leonet"
    cmd.parent.mkdir(parents=True)
    cmd.write_text(f"#!/bin/sh\necho {name}\n")
    cmd.chmod(0o755)
    return cmd


def link_command(target: Path, link: Path, mode: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LEONET_LINK"}
    if mode:
        env["LEONET_LINK"] = mode
    return subprocess.run(["bash", str(SCRIPT), str(target), str(link)], capture_output=True, text=True,
                          env=env, timeout=30)


def runs(link: Path) -> str:
    return subprocess.run([str(link)], capture_output=True, text=True, timeout=10).stdout.strip()


@pytest.fixture
def here(tmp_path):
    return checkout(tmp_path, "here"), tmp_path / "bin" / "leonet"


def test_no_command_yet_links_this_checkout_and_a_second_run_changes_nothing(here):
    target, link = here
    r = link_command(target, link)
    assert r.returncode == 0, r.stderr
    assert runs(link) == "here" and f"linked {link} -> {target}" in r.stdout
    again = link_command(target, link)
    assert again.returncode == 0 and "runs this checkout's command" in again.stdout
    assert os.readlink(link) == str(target)


def test_another_checkouts_working_command_is_kept_and_the_output_says_how_to_change_it(here, tmp_path):
    target, link = here
    other = checkout(tmp_path, "other")
    link.parent.mkdir()
    link.symlink_to(other)
    r = link_command(target, link)
    assert r.returncode == 0, r.stderr
    assert runs(link) == "other"
    assert str(other) in r.stdout and "LEONET_LINK=replace" in r.stdout and str(target) in r.stdout


def test_a_dangling_link_left_by_a_deleted_clone_is_replaced(here, tmp_path):
    target, link = here
    gone = checkout(tmp_path, "ci-clone")
    link.parent.mkdir()
    link.symlink_to(gone)
    gone.unlink()
    assert not link.exists()
    r = link_command(target, link)
    assert r.returncode == 0, r.stderr
    assert runs(link) == "here" and str(gone) in r.stdout and "not a working command" in r.stdout


def test_a_file_that_is_no_command_is_replaced_a_working_one_is_kept(here):
    target, link = here
    link.parent.mkdir()
    link.write_text("not a program\n")
    assert link_command(target, link).returncode == 0 and runs(link) == "here"
    link.unlink()
    link.write_text("#!/bin/sh\necho pip\n")
    link.chmod(0o755)
    r = link_command(target, link)
    assert r.returncode == 0 and runs(link) == "pip" and "kept" in r.stdout


def test_replace_takes_the_command_over_and_no_leaves_it_alone(here, tmp_path):
    target, link = here
    other = checkout(tmp_path, "other")
    link.parent.mkdir()
    link.symlink_to(other)
    r = link_command(target, link, "no")
    assert r.returncode == 0 and runs(link) == "other" and "LEONET_LINK=no" in r.stdout
    r = link_command(target, link, "replace")
    assert r.returncode == 0 and runs(link) == "here" and str(other) in r.stdout
    link.unlink()
    assert link_command(target, link, "no").returncode == 0 and not link.exists() and not link.is_symlink()


def test_bad_input_is_refused_with_the_fix(here):
    target, link = here
    r = link_command(target, link, "always")
    assert r.returncode == 2 and "auto, replace, no" in r.stderr and not link.is_symlink()
    r = link_command(target.parent / "missing", link)
    assert r.returncode == 1 and "not an executable command" in r.stderr and not link.is_symlink()
