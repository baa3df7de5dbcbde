"""SQLite persistence: a restart keeps objects, resourceVersions, CRDs, the CA and credentials."""
import pytest

kubernetes = pytest.importorskip("kubernetes", reason="the official client (pip install kubernetes) is needed")
from kubernetes import client, watch  # noqa: E402

from .helpers import ThreadedControlPlane, kube_client, pod_manifest  # noqa: E402
from .test_api_client import CRD  # noqa: E402


def test_restart_keeps_state_and_resource_versions(tmp_path):
    d = tmp_path / "cp"
    t = ThreadedControlPlane(d)
    try:
        api = kube_client(t.cp.kubeconfig_path)
        core = client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": "space"}})
        core.create_namespaced_pod("space", pod_manifest("p", ["true"], schedulerName="none") | {
            "metadata": {"name": "p", "namespace": "space", "labels": {"k": "v"}}})
        client.ApiextensionsV1Api(api).create_custom_resource_definition(CRD)
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            "kubespace.leonet.io", "v1alpha1", "space", "handoverrequests",
            {"apiVersion": "kubespace.leonet.io/v1alpha1", "kind": "HandoverRequest", "metadata": {"name": "h"},
             "spec": {"x": 1}})
        before = core.read_namespaced_pod("p", "space")
        rv_before = int(core.list_namespaced_pod("space").metadata.resource_version)
        url = t.cp.url
        api.close()
    finally:
        t.stop()

    t = ThreadedControlPlane(d, port=int(url.rsplit(":", 1)[1]))
    try:
        api = kube_client(d / "kubeconfig")
        core = client.CoreV1Api(api)
        after = core.read_namespaced_pod("p", "space")
        assert after.metadata.uid == before.metadata.uid
        assert after.metadata.resource_version == before.metadata.resource_version
        assert after.metadata.labels == {"k": "v"}
        assert client.CustomObjectsApi(api).get_namespaced_custom_object(
            "kubespace.leonet.io", "v1alpha1", "space", "handoverrequests", "h")["spec"] == {"x": 1}
        # optimistic concurrency still works across the restart, and versions keep increasing
        after.metadata.labels["k"] = "w"
        updated = core.replace_namespaced_pod("p", "space", after)
        assert int(updated.metadata.resource_version) > rv_before
        with pytest.raises(client.ApiException) as e:
            core.replace_namespaced_pod("p", "space", after)
        assert e.value.status == 409
        # watch history is in memory: from the version at shutdown nothing is missed, from an older one
        # the client gets 410 Gone and must re-list
        assert [ev["type"] for ev in watch.Watch().stream(core.list_namespaced_pod, "space",
                                                          resource_version=str(rv_before), timeout_seconds=1)] \
            == ["MODIFIED"]
        with pytest.raises(client.ApiException) as e:
            list(watch.Watch().stream(core.list_namespaced_pod, "space",
                                      resource_version=before.metadata.resource_version, timeout_seconds=1))
        assert e.value.status == 410
        now = core.list_namespaced_pod("space").metadata.resource_version
        core.delete_namespaced_pod("p", "space")
        events = [ev["type"] for ev in watch.Watch().stream(core.list_namespaced_pod, "space",
                                                            resource_version=now, timeout_seconds=1)]
        assert events == ["DELETED"]
        # the old kubeconfig (CA and client certificate) still works, so the CA was kept
        assert t.cp.url == url
        api.close()
    finally:
        t.stop()
