"""``leonet controlplane`` / ``leonet kubectl`` CLI, and the k3s backend (skipped without k3s)."""
import os
import subprocess
import sys

import pytest

from leonet.controlplane import k3s
from leonet.controlplane.server import ControlPlaneProcess

from .helpers import kubectl_binaries


def leonet(*args, env=None):
    return subprocess.run([sys.executable, "-m", "leonet.cli.main", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_serve_token_kubeconfig_and_kubectl_wrapper(tmp_path):
    if not any(kubectl_binaries().values()):
        pytest.skip("no kubectl installed")
    proc = ControlPlaneProcess(tmp_path / "gs-berlin", port=0, name="gs-berlin").start()
    try:
        env = dict(os.environ, LEONET_CONTROLPLANES=str(tmp_path))
        out = leonet("kubectl", "gs-berlin", "--", "get", "namespaces", "-o", "name", env=env)
        assert "namespace/default" in out.stdout, out.stderr
        assert leonet("kubectl", str(proc.kubeconfig), "--", "get", "nodes").returncode == 0
        tok = leonet("controlplane", "token", "--data-dir", str(tmp_path / "gs-berlin"), "--bootstrap")
        assert tok.returncode == 0 and len(tok.stdout.strip()) == 23
        kc = tmp_path / "viewer.kubeconfig"
        r = leonet("controlplane", "kubeconfig", "--data-dir", str(tmp_path / "gs-berlin"), "--user", "viewer",
                   "--group", "viewers", "-o", str(kc))
        assert r.returncode == 0, r.stderr
        assert leonet("kubectl", str(kc), "--", "get", "namespaces").returncode == 0
        denied = leonet("kubectl", str(kc), "--", "create", "namespace", "x")
        assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
        missing = leonet("kubectl", "nowhere", "--", "get", "nodes", env=env)
        assert missing.returncode == 2 and "leonet: error: TARGET" in missing.stderr
    finally:
        proc.stop()


@pytest.mark.skipif(not k3s.k3s_available(), reason="k3s is not installed (it cannot be obtained on this "
                                                     "machine); the embedded control plane is used instead")
def test_k3s_server_serves_the_same_api(tmp_path):
    srv = k3s.K3sServer(tmp_path / "k3s", addr="127.0.0.1", port=16443).start()
    try:
        r = subprocess.run(["kubectl", "--kubeconfig", str(srv.kubeconfig), "get", "namespaces"],
                           capture_output=True, text=True, timeout=60)
        assert "kube-system" in r.stdout
    finally:
        srv.stop()
