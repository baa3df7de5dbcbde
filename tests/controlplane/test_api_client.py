"""CRUD, selectors, conflicts, watches, CRDs and errors with the official ``kubernetes`` client over HTTPS."""
import json
import threading

import pytest

kubernetes = pytest.importorskip("kubernetes", reason="the official client (pip install kubernetes) is needed")
from kubernetes import client, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from leonet.controlplane import ControlPlaneOptions  # noqa: E402

from .helpers import FAST, ThreadedControlPlane, kube_client, pod_manifest  # noqa: E402


def raw_call(api, method: str, path: str, body=None, content_type: str = "application/json"):
    """A request the typed client has no method for; raises ApiException like the typed calls."""
    m, url, headers, b, _ = api.param_serialize(method, path, header_params={
        "Content-Type": content_type, "Accept": "application/json"}, body=body, auth_settings=["BearerToken"])
    try:
        resp = api.call_api(m, url, header_params=headers, body=b)
    except ApiException:
        raise
    resp.read()
    if resp.status >= 400:
        raise ApiException(http_resp=resp)
    return json.loads(resp.data)


@pytest.fixture
def core(tcp):
    api = kube_client(tcp.cp.kubeconfig_path)
    yield client.CoreV1Api(api)
    api.close()


def test_pod_crud_selectors_and_conflict(tcp, core):
    for i, app in enumerate(["web", "web", "db"]):
        body = pod_manifest(f"p{i}", ["true"], schedulerName="none")
        body["metadata"]["labels"] = {"app": app}
        core.create_namespaced_pod("default", body)
    assert [p.metadata.name for p in core.list_namespaced_pod("default", label_selector="app=web").items] == \
        ["p0", "p1"]
    assert [p.metadata.name for p in core.list_namespaced_pod("default", field_selector="metadata.name=p2").items] \
        == ["p2"]
    pod = core.read_namespaced_pod("p0", "default")
    assert pod.spec.scheduler_name == "none" and pod.status.phase == "Pending"
    pod.metadata.labels["extra"] = "1"
    updated = core.replace_namespaced_pod("p0", "default", pod)
    assert int(updated.metadata.resource_version) > int(pod.metadata.resource_version)
    with pytest.raises(ApiException) as e:    # stale resourceVersion
        core.replace_namespaced_pod("p0", "default", pod)
    assert e.value.status == 409
    status = json.loads(e.value.body)
    assert status["kind"] == "Status" and status["reason"] == "Conflict"
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("default", pod_manifest("p0", ["true"]))
    assert e.value.status == 409 and json.loads(e.value.body)["reason"] == "AlreadyExists"
    core.patch_namespaced_pod("p1", "default", {"metadata": {"labels": {"app": "db"}}})   # strategic merge
    assert len(core.list_namespaced_pod("default", label_selector="app=db").items) == 2
    core.delete_namespaced_pod("p2", "default")
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("p2", "default")
    assert e.value.status == 404 and json.loads(e.value.body)["reason"] == "NotFound"


def test_binding_status_and_field_selector_spec_node_name(tcp, core):
    core.create_node({"metadata": {"name": "sat-1"}})
    core.create_namespaced_pod("default", pod_manifest("a", ["true"], schedulerName="krios"))
    core.create_namespaced_pod_binding("a", "default", client.V1Binding(
        metadata=client.V1ObjectMeta(name="a", annotations={"example.org/placed-by": "test"}),
        target=client.V1ObjectReference(kind="Node", name="sat-1")), _preload_content=False)
    # the binding's annotations land on the pod with its node (kube-apiserver's setPodHostAndAnnotations)
    assert core.read_namespaced_pod("a", "default").metadata.annotations == {"example.org/placed-by": "test"}
    on_node = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=sat-1").items
    assert [p.metadata.name for p in on_node] == ["a"]
    pod = on_node[0]
    pod.status.phase = "Running"
    core.replace_namespaced_pod_status("a", "default", pod)
    assert core.read_namespaced_pod_status("a", "default").status.phase == "Running"
    with pytest.raises(ApiException) as e:   # already bound
        core.create_namespaced_pod_binding("a", "default", client.V1Binding(
            metadata=client.V1ObjectMeta(name="a"), target=client.V1ObjectReference(kind="Node", name="x")),
            _preload_content=False)
    assert e.value.status == 409
    # main-resource updates keep the status; the status subresource keeps the spec
    pod = core.read_namespaced_pod("a", "default")
    pod.status.phase = "Failed"
    core.replace_namespaced_pod("a", "default", pod)
    assert core.read_namespaced_pod("a", "default").status.phase == "Running"
    core.patch_node_status("sat-1", {"status": {"capacity": {"cpu": "4"}}})
    assert core.read_node("sat-1").status.capacity == {"cpu": "4"}


def test_json_patch_and_merge_patch(tcp, core):
    core.create_namespace({"metadata": {"name": "ns1"}})
    api = core.api_client
    core.patch_namespace("ns1", [{"op": "add", "path": "/metadata/labels/zone", "value": "eu"}])  # JSON patch
    raw_call(api, "PATCH", "/api/v1/namespaces/ns1", {"metadata": {"annotations": {"a": "b"}}},
             "application/merge-patch+json")
    ns = core.read_namespace("ns1")
    assert ns.metadata.labels["zone"] == "eu" and ns.metadata.annotations == {"a": "b"}
    with pytest.raises(ApiException) as e:
        raw_call(api, "PATCH", "/api/v1/namespaces/ns1", {"a": 1}, "application/apply-patch+yaml")
    assert e.value.status == 415


def test_watch_from_resource_version_and_gone(tmp_path):
    t = ThreadedControlPlane(tmp_path / "cp", options=ControlPlaneOptions(watch_history=5, **FAST))
    try:
        api = kube_client(t.cp.kubeconfig_path)
        core = client.CoreV1Api(api)
        rv = core.list_namespaced_pod("default").metadata.resource_version
        core.create_namespaced_pod("default", pod_manifest("w1", ["true"], schedulerName="none"))
        core.patch_namespaced_pod("w1", "default", {"metadata": {"labels": {"x": "1"}}})
        core.delete_namespaced_pod("w1", "default")
        events = []
        for ev in watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=rv,
                                       timeout_seconds=1):
            events.append((ev["type"], ev["object"].metadata.name))
        assert events == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
        # resume from the middle: only what came after
        mid = core.list_namespaced_pod("default").metadata.resource_version
        core.create_namespaced_pod("default", pod_manifest("w2", ["true"], schedulerName="none"))
        seen = [ev["type"] for ev in watch.Watch().stream(core.list_namespaced_pod, "default",
                                                          resource_version=mid, timeout_seconds=1)]
        assert seen == ["ADDED"]
        for i in range(8):   # push the first resourceVersion out of the 5-event history
            core.create_namespaced_pod("default", pod_manifest(f"g{i}", ["true"], schedulerName="none"))
        with pytest.raises(ApiException) as e:
            list(watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=1))
        assert e.value.status == 410
        api.close()
    finally:
        t.stop()


def test_live_watch_and_selector_transitions(tcp, core):
    got = []
    started = threading.Event()

    def consume():
        w = watch.Watch()
        started.set()
        for ev in w.stream(core.list_namespaced_pod, "default", label_selector="sel=yes", timeout_seconds=3):
            got.append((ev["type"], ev["object"].metadata.name))
            if len(got) == 3:
                w.stop()
    th = threading.Thread(target=consume)
    th.start()
    started.wait()
    import time
    time.sleep(0.3)
    body = pod_manifest("s1", ["true"], schedulerName="none")
    body["metadata"]["labels"] = {"sel": "no"}
    core.create_namespaced_pod("default", body)
    core.patch_namespaced_pod("s1", "default", {"metadata": {"labels": {"sel": "yes"}}})   # enters: ADDED
    core.patch_namespaced_pod("s1", "default", {"metadata": {"labels": {"other": "1"}}})   # MODIFIED
    core.patch_namespaced_pod("s1", "default", {"metadata": {"labels": {"sel": "no"}}})    # leaves: DELETED
    th.join(5)
    assert got == [("ADDED", "s1"), ("MODIFIED", "s1"), ("DELETED", "s1")]


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "handoverrequests.kubespace.leonet.io"},
    "spec": {"group": "kubespace.leonet.io", "scope": "Namespaced",
             "names": {"plural": "handoverrequests", "singular": "handoverrequest", "kind": "HandoverRequest"},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}
CLUSTER_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "groundstations.leonet.io"},
    "spec": {"group": "leonet.io", "scope": "Cluster",
             "names": {"plural": "groundstations", "kind": "GroundStation"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object"}}}]}}


def test_crds_namespaced_and_cluster_scoped_with_status(tcp, core):
    api = core.api_client
    ext = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(CRD)
    ext.create_custom_resource_definition(CLUSTER_CRD)
    crd = ext.read_custom_resource_definition("handoverrequests.kubespace.leonet.io")
    assert {c.type: c.status for c in crd.status.conditions}["Established"] == "True"
    co = client.CustomObjectsApi(api)
    g, v, p = "kubespace.leonet.io", "v1alpha1", "handoverrequests"
    co.create_namespaced_custom_object(g, v, "default", p, {
        "apiVersion": f"{g}/{v}", "kind": "HandoverRequest", "metadata": {"name": "hr1"},
        "spec": {"node": "sat-1", "to": "gs-2"}, "status": {"phase": "ignored"}})
    hr = co.get_namespaced_custom_object(g, v, "default", p, "hr1")
    assert hr["spec"]["to"] == "gs-2" and "status" not in hr and hr["metadata"]["generation"] == 1
    co.patch_namespaced_custom_object_status(g, v, "default", p, "hr1", {"status": {"phase": "Done"}})
    co.patch_namespaced_custom_object(g, v, "default", p, "hr1", {"spec": {"to": "gs-3"}})
    hr = co.get_namespaced_custom_object(g, v, "default", p, "hr1")
    assert hr["status"] == {"phase": "Done"} and hr["spec"]["to"] == "gs-3" and hr["metadata"]["generation"] == 2
    co.create_cluster_custom_object("leonet.io", "v1", "groundstations", {
        "apiVersion": "leonet.io/v1", "kind": "GroundStation", "metadata": {"name": "berlin"}, "spec": {"lat": 52.5}})
    assert [o["metadata"]["name"] for o in co.list_cluster_custom_object("leonet.io", "v1", "groundstations")["items"]] \
        == ["berlin"]
    # discovery lists the new group and its resources
    groups = [g_.name for g_ in client.ApisApi(api).get_api_versions().groups]
    assert "kubespace.leonet.io" in groups and "leonet.io" in groups
    # deleting the CRD deletes its objects and stops serving them
    ext.delete_custom_resource_definition("handoverrequests.kubespace.leonet.io")
    with pytest.raises(ApiException) as e:
        co.list_namespaced_custom_object(g, v, "default", p)
    assert e.value.status == 404


def test_leases_namespaces_and_events(tcp, core):
    api = core.api_client
    coord = client.CoordinationV1Api(api)
    coord.create_namespaced_lease("kube-node-lease", {"metadata": {"name": "sat-1"},
                                                      "spec": {"holderIdentity": "sat-1", "leaseDurationSeconds": 40,
                                                               "renewTime": "2030-01-01T00:00:00.000000Z"}})
    assert coord.read_namespaced_lease("sat-1", "kube-node-lease").spec.holder_identity == "sat-1"
    core.create_namespace({"metadata": {"name": "tmp"}})
    core.create_namespaced_pod("tmp", pod_manifest("x", ["true"], schedulerName="none") | {
        "metadata": {"name": "x", "namespace": "tmp"}})
    core.create_namespaced_event("tmp", {"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "x"},
                                         "reason": "Test", "message": "hello", "type": "Normal"})
    assert core.list_namespaced_event("tmp", field_selector="reason=Test").items[0].message == "hello"
    core.delete_namespace("tmp")
    with pytest.raises(ApiException) as e:
        core.read_namespace("tmp")
    assert e.value.status == 404
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("nonexistent", pod_manifest("y", ["true"]) | {
            "metadata": {"name": "y", "namespace": "nonexistent"}})
    assert e.value.status == 404


def test_errors_are_status_objects_and_auth(tcp, core):
    api = core.api_client
    with pytest.raises(ApiException) as e:
        raw_call(api, "GET", "/apis/apps/v1/deployments")
    assert e.value.status == 404 and json.loads(e.value.body)["kind"] == "Status"
    with pytest.raises(ApiException) as e:
        raw_call(api, "POST", "/api/v1/namespaces/default/pods/x", {})
    assert e.value.status == 405 and json.loads(e.value.body)["reason"] == "MethodNotAllowed"
    # bearer tokens: a valid one works, a bad one is 401, a bootstrap token may not list nodes
    cfg = client.Configuration()
    cfg.host = tcp.cp.url
    cfg.ssl_ca_cert = str(tcp.cp.data_dir / "ca.crt")
    for token, expected in ((tcp.cp.admin_token, None), ("nope", 401), (tcp.run(tcp.cp.create_bootstrap_token), 403)):
        cfg.api_key, cfg.api_key_prefix = {"BearerToken": token}, {"BearerToken": "Bearer"}
        with client.ApiClient(cfg) as c:
            if expected is None:
                assert client.CoreV1Api(c).list_node().items == []
            else:
                with pytest.raises(ApiException) as e:
                    client.CoreV1Api(c).list_node()
                assert e.value.status == expected
    # no credentials at all: 401, but /version is public
    cfg.api_key = {}
    with client.ApiClient(cfg) as c:
        assert client.VersionApi(c).get_code().major == "1"
        with pytest.raises(ApiException) as e:
            client.CoreV1Api(c).list_node()
        assert e.value.status == 401


def test_list_pagination(tcp, core):
    for i in range(5):
        core.create_namespaced_pod("default", pod_manifest(f"pg{i}", ["true"], schedulerName="none"))
    page = core.list_namespaced_pod("default", limit=2)
    names = [p.metadata.name for p in page.items]
    while page.metadata._continue:
        page = core.list_namespaced_pod("default", limit=2, _continue=page.metadata._continue)
        names += [p.metadata.name for p in page.items]
    assert names == [f"pg{i}" for i in range(5)]
