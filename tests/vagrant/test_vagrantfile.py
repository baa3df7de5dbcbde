"""The Vagrant VM's definition: valid for Vagrant, Ubuntu 24.04, provisioned by the installer only.

No VM is booted here (the machine has no nested virtualisation); `vagrant validate`
checks the Vagrantfile itself."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VAGRANTFILE = REPO / "vagrant" / "Vagrantfile"


def test_vagrant_validates_the_vagrantfile(tmp_path):
    if shutil.which("vagrant") is None:
        pytest.skip("vagrant is not installed (scripts/test.sh installs Debian's vagrant where it can)")
    env = dict(os.environ, VAGRANT_DOTFILE_PATH=str(tmp_path / "dot"), VAGRANT_HOME=str(tmp_path / "home"),
               VAGRANT_CHECKPOINT_DISABLE="1")
    proc = subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=VAGRANTFILE.parent, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "validated successfully" in proc.stdout, proc.stdout + proc.stderr


def test_ubuntu_2404_provisioned_by_the_installer_and_nothing_else():
    text = VAGRANTFILE.read_text()
    assert re.search(r'config\.vm\.box\s*=\s*"bento/ubuntu-24\.04"', text)
    provisioners = re.findall(r"config\.vm\.provision\b.*?inline:\s*\"([^\"]+)\"", text, re.S)
    assert provisioners == ["bash /leonet/scripts/install.sh"]


def test_the_installer_loads_netem_on_ubuntu():
    installer = (REPO / "scripts" / "install.sh").read_text()
    assert "linux-modules-extra-$(uname -r)" in installer and "modprobe sch_netem" in installer
