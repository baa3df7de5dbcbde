"""What the Kubernetes API rejects, leonet's API server rejects too, with the same codes and a Status:
invalid metadata (422 with causes), bodies of the wrong types (400), oversized or hostile bodies,
bad query parameters, patch types and operations, unknown methods and oversized headers. And an
object stored by an older version with labels that are not a map cannot break selectors."""
import json
import resource
import time

import pytest

kubernetes = pytest.importorskip("kubernetes", reason="the official client (pip install kubernetes) is needed")
from kubernetes import client, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from .helpers import RawApi, assert_status, kube_client, pod_manifest  # noqa: E402


@pytest.fixture
def core(tcp):
    api = kube_client(tcp.cp.kubeconfig_path)
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture
def raw(tcp):
    r = RawApi(tcp.cp)
    yield r
    r.close()


def _rejected(call, code: int, reason: str) -> dict:
    with pytest.raises(ApiException) as e:
        call()
    return assert_status(e.value.status, json.loads(e.value.body), code, reason)


def test_metadata_is_validated_like_kubernetes(core, raw):
    # the reproductions: labels as a list (the typed client would not even send it), a label value
    # with a space, a Namespace name with a dot, a number as name
    status, _, body = raw.request("POST", "/api/v1/nodes", {"metadata": {"name": "n1", "labels": ["a"]}})
    assert_status(status, body, 400, "BadRequest")
    assert "metadata.labels" in body["message"] and "cannot be handled as a Node" in body["message"]
    assert body["details"]["causes"][0]["field"] == "metadata.labels"
    status = _rejected(lambda: core.create_node({"metadata": {"name": "n2", "labels": {"a": "has space!"}}}),
                       422, "Invalid")
    assert status["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "metadata.labels",
                                           "message": status["details"]["causes"][0]["message"]}]
    assert '"has space!"' in status["message"] and status["details"]["kind"] == "Node"
    status = _rejected(lambda: core.create_namespace({"metadata": {"name": "a.b"}}), 422, "Invalid")
    assert status["details"]["causes"][0]["field"] == "metadata.name" and "RFC 1123 label" in status["message"]
    status, _, body = raw.request("POST", "/api/v1/nodes", {"metadata": {"name": 123}})
    assert "metadata.name" in assert_status(status, body, 400, "BadRequest")["message"]
    # several problems at once: every one is a cause
    status = _rejected(lambda: core.create_node({"metadata": {
        "name": "Bad_Name", "labels": {"-bad-key": "ok", "ok": "x" * 64},
        "annotations": {"big": "x" * (256 * 1024)}, "finalizers": ["a/b/c"]}}), 422, "Invalid")
    fields = sorted(c["field"] for c in status["details"]["causes"])
    assert fields == ["metadata.annotations", "metadata.finalizers[0]", "metadata.labels", "metadata.labels",
                      "metadata.name"], status
    # what Kubernetes accepts
    core.create_namespace({"metadata": {"name": "ok-ns", "labels": {"example.com/Key_1.x": "", "v": "A-b_c.9"},
                                        "annotations": {"Example.com/Any": "text with spaces!"}}})
    made = core.create_node({"metadata": {"generateName": "g" * 70 + "-"}})
    assert len(made.metadata.name) == 63 and made.metadata.name.startswith("g" * 58)


def test_update_and_patch_are_validated_too(core, raw):
    core.create_node({"metadata": {"name": "n1", "labels": {"a": "b"}}})
    _rejected(lambda: core.patch_node("n1", {"metadata": {"labels": {"a": "has space!"}}}), 422, "Invalid")
    status, _, body = raw.request("PATCH", "/api/v1/nodes/n1", {"metadata": {"labels": ["x"]}},
                                  content_type="application/merge-patch+json")
    assert_status(status, body, 400, "BadRequest")
    node = core.read_node("n1")
    node.metadata.labels = {"bad key": "v"}
    _rejected(lambda: core.replace_node("n1", node), 422, "Invalid")
    assert core.read_node("n1").metadata.labels == {"a": "b"}


def test_an_invalid_object_stored_by_an_older_version_cannot_break_lists_and_watches(tcp, core, raw):
    """Defence in depth: such objects exist in state databases written before validation."""
    core.create_node({"metadata": {"name": "good", "labels": {"a": "b"}}})

    def plant():
        old = tcp.cp.store.get("nodes", "", "good")
        bad = json.loads(json.dumps(old))
        bad["metadata"].update(name="legacy", uid="u-legacy", labels=["a"], annotations={"note": "has space!"})
        tcp.cp.store.put("nodes", bad)
    tcp.run(plant)
    assert [n.metadata.name for n in core.list_node(label_selector="a=b").items] == ["good"]
    assert [n.metadata.name for n in core.list_node(label_selector="!a").items] == []
    events = [(e["type"], e["object"].metadata.name) for e in
              watch.Watch().stream(core.list_node, label_selector="a=b", timeout_seconds=1)]
    assert events[0] == ("ADDED", "good") and {name for _, name in events} == {"good"}
    # ratcheting: what the older version stored can still be changed and cleaned up (over raw HTTP:
    # the typed client cannot even read such an object)
    status, _, body = raw.request("PATCH", "/api/v1/nodes/legacy/status", {"status": {"phase": "Running"}},
                                  content_type="application/merge-patch+json")
    assert status == 200 and body["status"]["phase"] == "Running", body
    status, _, body = raw.request("PATCH", "/api/v1/nodes/legacy", {"metadata": {"labels": {"a": "c"}}},
                                  content_type="application/merge-patch+json")
    assert status == 200 and body["metadata"]["labels"] == {"a": "c"}, body
    assert [n.metadata.name for n in core.list_node(label_selector="a=c").items] == ["legacy"]
    core.delete_node("legacy")


def test_bodies_beyond_the_limits_are_4xx_statuses(raw):
    status, _, body = raw.request("POST", "/api/v1/nodes", b'{"metadata":{"name":"x"},"pad":"' + b"x" * 10_000_000
                                  + b'"}')
    assert_status(status, body, 413, "RequestEntityTooLarge")
    status, _, body = raw.request("POST", "/api/v1/nodes", b"[" * 100_000 + b"]" * 100_000)
    assert "nested deeper" in assert_status(status, body, 400, "BadRequest")["message"]
    status, _, body = raw.request("POST", "/api/v1/nodes", b'{"metadata":{"name":"x"},"a":NaN}')
    assert_status(status, body, 400, "BadRequest")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(  # 10**9 values once expanded
        f"{c}: &{c} [" + ", ".join([f"*{p}"] * 10) + "]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    started = time.monotonic()
    status, _, body = raw.request("POST", "/api/v1/nodes", ("metadata: {name: bomb}\n" + bomb).encode(),
                                  content_type="application/yaml")
    assert "more than" in assert_status(status, body, 400, "BadRequest")["message"]
    assert time.monotonic() - started < 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB
    status, _, body = raw.request("POST", "/api/v1/nodes", b"metadata: {name: ts, labels: {t: 2026-01-31}}",
                                  content_type="application/yaml")
    assert status == 201 and body["metadata"]["labels"] == {"t": "2026-01-31"}  # YAML dates stay strings


def test_query_parameters_are_checked_before_anything_streams(raw):
    for path in ("/api/v1/nodes?limit=abc", "/api/v1/nodes?watch=true&timeoutSeconds=xyz",
                 "/api/v1/nodes?watch=true&resourceVersion=-5", "/api/v1/nodes?resourceVersion=abc",
                 "/api/v1/namespaces/default/pods?continue=bm90IGpzb24"):
        status, _, body = raw.request("GET", path)
        assert_status(status, body, 400, "BadRequest")
    status, _, body = raw.request("DELETE", "/api/v1/nodes/x?gracePeriodSeconds=soon")
    assert_status(status, body, 400, "BadRequest")
    status, _, body = raw.request("DELETE", "/api/v1/nodes/x", {"gracePeriodSeconds": "soon"})
    assert_status(status, body, 400, "BadRequest")
    status, _, body = raw.request("GET", "/api/v1/nodes?watch=true&timeoutSeconds=1")
    assert status == 200  # the well-formed watch still works (and ends after its timeout)


def test_patch_types_and_operations(tcp, raw):
    path = "/api/v1/namespaces/default"
    for op in ("explode", None, 7):
        status, _, body = raw.request("PATCH", path, [{"op": op, "path": "/metadata/labels/x", "value": "y"}],
                                      content_type="application/json-patch+json")
        assert_status(status, body, 422, "Invalid")
    status, _, body = raw.request("PATCH", path, [{"op": "add", "path": 5, "value": 1}],
                                  content_type="application/json-patch+json")
    assert_status(status, body, 422, "Invalid")
    status, _, body = raw.request("PATCH", path, [{"op": "add", "path": "/metadata/finalizers/-1", "value": "x"}],
                                  content_type="application/json-patch+json")
    assert_status(status, body, 422, "Invalid")
    status, _, body = raw.request("PATCH", path, b"metadata: {labels: {a: b}}",
                                  content_type="application/apply-patch+yaml")
    assert_status(status, body, 415, "UnsupportedMediaType")
    # copies of copies: 2**40 values if nothing stopped it
    ops = [{"op": "add", "path": "/metadata/annotations", "value": {}},
           {"op": "add", "path": "/metadata/annotations/x", "value": [1, 2]}]
    ops += [{"op": "copy", "from": "/metadata/annotations/x", "path": "/metadata/annotations/x/-"}
            for _ in range(40)]
    started = time.monotonic()
    status, _, body = raw.request("PATCH", path, ops, content_type="application/json-patch+json")
    assert status in (400, 422) and body["kind"] == "Status"
    assert time.monotonic() - started < 20
    status, _, body = raw.request("PATCH", path, [{"op": "test", "path": "/kind", "value": "Namespace"}] * 10_001,
                                  content_type="application/json-patch+json")
    assert_status(status, body, 413, "RequestEntityTooLarge")
    ns = tcp.cp.store.get("namespaces", "", "default")
    assert "annotations" not in ns["metadata"]  # nothing of the refused patches was stored


def test_protocol_level_errors_are_statuses_too(raw):
    status, _, body = raw.request("FOO", "/api/v1/nodes")
    assert_status(status, body, 405)
    status, _, body = raw.request("GET", "/api/v1/nodes", headers={"X-Big": "a" * 100_000})
    assert_status(status, body, 431)
    status, _, body = raw.request("GET", "/api/v1/nodes", headers={"X-Big": "a" * 20_000})
    assert status == 200  # Kubernetes takes headers this long
    status, _, body = raw.request("PUT", "/api/v1/nodes", {"metadata": {"name": "x"}})
    assert_status(status, body, 405, "MethodNotAllowed")


def test_typed_fields_of_built_in_kinds(core, raw):
    """A Pod or Node whose fields the scheduler and agents read has the schema's types: the scheduler
    keeps running afterwards (it would have stopped on a quantity it cannot parse)."""
    bad_pods = [{"containers": "main"}, {"containers": [{"name": "c", "resources": {"requests": {"cpu": "lots"}}}]},
                {"containers": [{"name": "c"}], "nodeSelector": ["x"]},
                {"containers": [{"name": "c"}], "tolerations": [{"key": 1}]}]
    for spec in bad_pods:
        body = pod_manifest("p", ["true"])
        body["spec"] = spec
        status, _, out = raw.request("POST", "/api/v1/namespaces/default/pods", body)
        assert_status(status, out, 400, "BadRequest")
    status, _, out = raw.request("POST", "/api/v1/nodes", {"metadata": {"name": "n"},
                                                           "status": {"allocatable": {"cpu": "1n", "memory": 2e9}}})
    assert status == 201, out  # quantities: numbers or strings of the quantity grammar
    core.create_namespaced_pod("default", pod_manifest("ok", ["true"]))  # scheduled by the default scheduler
    from leonet.waiting import wait_for
    wait_for(lambda: core.read_namespaced_pod("ok", "default").spec.node_name == "n", what="the pod scheduled")
