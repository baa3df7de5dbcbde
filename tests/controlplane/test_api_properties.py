"""Property tests: mutated valid bodies (Node, Pod, Namespace, a custom resource), patches of each type,
delete options and query strings never get a 5xx from the API server; every 4xx is a Status object;
every answer comes in bounded time; nothing the server stores fails its own validation; and the
in-process controllers (scheduler, node lifecycle, CSR signer) keep running through it all.

One control plane serves the whole module (state accumulates, as on a long-lived server). The
example counts are chosen to keep the module near 40 s on the CI machine (docs/controlplane.md)."""
import copy
import itertools
import os
import resource
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leonet.controlplane import ControlPlaneOptions
from leonet.controlplane.apiserver.objectmeta import validate_object_meta
from leonet.controlplane.apiserver.typecheck import model_name, type_errors

from .helpers import FAST, RawApi, ThreadedControlPlane

#: the slowest answer a request may take on a loaded 2-core machine (it catches work that explodes with
#: the input, not load: thousands of unschedulable pods make the scheduler slow, see docs/controlplane.md)
MAX_SECONDS = 30.0
#: examples per test; LEONET_API_EXAMPLES=3000 for a deeper search than CI's
EXAMPLES = int(os.environ.get("LEONET_API_EXAMPLES", "300"))

CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": "widgets.example.com"},
       "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                              "schema": {"openAPIV3Schema": {"type": "object",
                                                             "x-kubernetes-preserve-unknown-fields": True}}}]}}

VALID = {
    "/api/v1/nodes": {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node", "labels": {"kubernetes.io/hostname": "node"}, "annotations": {"a": "b"}},
        "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}], "unschedulable": False},
        "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                   "allocatable": {"cpu": "2", "memory": "4Gi", "pods": 110},
                   "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-31T12:00:00Z"}],
                   "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}},
    "/api/v1/namespaces/default/pods": {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pod", "labels": {"app": "web"}, "finalizers": ["example.com/keep"]},
        "spec": {"containers": [{"name": "main", "image": "process", "command": ["sleep", "1"],
                                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                                 "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}}],
                 "nodeSelector": {"kubernetes.io/hostname": "node"},
                 "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                 "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                     "nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node"]}]}]}}},
                 "terminationGracePeriodSeconds": 1}},
    "/api/v1/namespaces": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns", "labels": {"x": "y"}}},
    "/apis/example.com/v1/namespaces/default/widgets": {
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "widget", "labels": {"size": "3"}}, "spec": {"size": 3, "colour": "blue"}},
}
COLLECTIONS = sorted(VALID)

STRINGS = ["", " ", "a", "a.b", "A", "-a", "a-", "has space!", "x" * 64, "x" * 300, "ñ", "a/b", "a/b/c", "/",
           "..", "%", "\x00", "\n", "2026-01-31T12:00:00Z", "1n", "100m", "lots", "-5", "0", "NaN", "true",
           "example.com/Key", "null", "{}", "[]", "*"]
KEYS = ["metadata", "name", "generateName", "namespace", "labels", "annotations", "finalizers", "ownerReferences",
        "resourceVersion", "uid", "spec", "status", "containers", "resources", "requests", "limits", "cpu",
        "nodeName", "nodeSelector", "tolerations", "taints", "conditions", "kind", "apiVersion", "$patch",
        "$retainKeys", "deletionTimestamp", "creationTimestamp", "capacity", "allocatable", "key", "value"]

leaves = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                   st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(STRINGS), st.text(max_size=20))
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4), max_leaves=10)

_names = itertools.count()


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def mutate(data, value, rounds: int):
    """``value`` with ``rounds`` random changes: a value replaced, a key or element removed, a key added."""
    value = copy.deepcopy(value)
    for _ in range(rounds):
        path = data.draw(st.sampled_from(list(_paths(value))))
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "insert"]))
        if not path and action != "insert":
            value = data.draw(json_values)
            continue
        parent = value
        for p in path[:-1]:
            parent = parent[p]
        if action == "insert":
            target = parent[path[-1]] if path else value
            if isinstance(target, dict):
                target[data.draw(st.sampled_from(KEYS) | st.text(max_size=8))] = data.draw(json_values)
            elif isinstance(target, list):
                target.append(data.draw(json_values))
        elif action == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(json_values)
    return value


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    t = ThreadedControlPlane(tmp_path_factory.mktemp("cp"), options=ControlPlaneOptions(**FAST))
    raw = RawApi(t.cp, timeout=MAX_SECONDS * 3)
    status, _, body = raw.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    assert status == 201, body
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield t, raw
    raw.close()
    try:
        _check_invariants(t)
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 400_000, "memory (kB) grew"
    finally:
        t.stop()


def _check_invariants(t: ThreadedControlPlane) -> None:
    """Nothing stored fails the server's own validation; the controllers are still running."""
    def stored():
        return [(rt, o) for rt in t.cp.api.registry.all() for o in t.cp.store.list(rt.key)
                if rt.version == "v1"]
    for rt, obj in t.run(stored):
        model = model_name(rt.group, rt.version, rt.kind) if rt.builtin else "V1ObjectMeta"
        assert not type_errors(obj if rt.builtin else obj["metadata"], model), (rt.kind, obj)
        assert not validate_object_meta(obj["metadata"], rt.group, rt.kind), (rt.kind, obj["metadata"])
    dead = [task for task in t.cp._tasks if task.done()]
    assert not dead, [task.exception() for task in dead]


def send(raw: RawApi, method: str, path: str, body=None, content_type: str = "application/json"):
    started = time.monotonic()
    status, ctype, out = raw.request(method, path, body, content_type=content_type)
    elapsed = time.monotonic() - started
    assert status < 500, (method, path, body, out)
    if status >= 400:
        assert isinstance(out, dict) and out.get("kind") == "Status" and out.get("code") == status, (status, out)
    assert elapsed < MAX_SECONDS, f"{method} {path} took {elapsed:.1f} s"
    return status, out


def _named(body: dict) -> dict:
    """``body`` with a fresh name, so that examples do not collide."""
    body = copy.deepcopy(body)
    body["metadata"]["name"] = f"{body['metadata']['name']}-{next(_names)}"
    return body


common = settings(max_examples=EXAMPLES, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# the scheduler on the server's thread draws from `random` while examples are generated; that is its
# business, not the strategies'
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")


@common
@given(data=st.data(), collection=st.sampled_from(COLLECTIONS), rounds=st.integers(1, 3), as_yaml=st.booleans())
def test_create_mutated_bodies(server, data, collection, rounds, as_yaml):
    _, raw = server
    body = mutate(data, _named(VALID[collection]), rounds)
    if as_yaml:
        send(raw, "POST", collection, yaml.safe_dump(body).encode(), content_type="application/yaml")
    else:
        send(raw, "POST", collection, body)


@common
@given(data=st.data(), collection=st.sampled_from(COLLECTIONS), rounds=st.integers(1, 3),
       subresource=st.sampled_from(["", "/status"]))
def test_update_with_mutated_bodies(server, data, collection, rounds, subresource):
    _, raw = server
    status, created = send(raw, "POST", collection, _named(VALID[collection]))
    assert status == 201, created
    name = created["metadata"]["name"]
    body = mutate(data, created, rounds)
    send(raw, "PUT", f"{collection}/{name}{subresource}", body)


json_patch_ops = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]) | leaves,
     "path": st.sampled_from(["", "/", "/metadata/labels/a", "/metadata/labels", "/spec/containers/0",
                              "/spec/containers/-", "/metadata/name", "/status/conditions/5", "/kind",
                              "/metadata/finalizers/01", "/spec", "/~1x~0"]) | leaves},
    optional={"value": json_values, "from": st.sampled_from(["/metadata", "/spec/containers/0", "", "/x"])
              | leaves})


@common
@given(data=st.data(), collection=st.sampled_from(COLLECTIONS), rounds=st.integers(1, 3),
       patch_type=st.sampled_from(["application/merge-patch+json", "application/strategic-merge-patch+json",
                                   "application/json-patch+json", "application/apply-patch+yaml",
                                   "application/json", "text/plain"]),
       subresource=st.sampled_from(["", "/status"]))
def test_patches_of_each_type(server, data, collection, rounds, patch_type, subresource):
    _, raw = server
    status, created = send(raw, "POST", collection, _named(VALID[collection]))
    assert status == 201, created
    name = created["metadata"]["name"]
    if patch_type == "application/json-patch+json":
        patch = data.draw(st.lists(json_patch_ops, max_size=4))
    else:
        patch = mutate(data, {"metadata": {"labels": {"a": "b"}}, "spec": created.get("spec", {}),
                              "status": {"conditions": [{"type": "Ready", "status": "True"}]}}, rounds)
    send(raw, "PATCH", f"{collection}/{name}{subresource}", patch, content_type=patch_type)


@common
@given(data=st.data(), collection=st.sampled_from(COLLECTIONS))
def test_delete_options_and_evictions(server, data, collection):
    _, raw = server
    status, created = send(raw, "POST", collection, _named(VALID[collection]))
    name = created["metadata"]["name"]
    options = mutate(data, {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                            "preconditions": {"uid": created["metadata"]["uid"]}, "propagationPolicy": "Background"},
                     data.draw(st.integers(1, 2)))
    query = data.draw(st.sampled_from(["", "?gracePeriodSeconds=0", "?gracePeriodSeconds=x", "?dryRun=All"]))
    if collection.endswith("/pods") and data.draw(st.booleans()):
        send(raw, "POST", f"{collection}/{name}/eviction", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                            "metadata": {"name": name}, "deleteOptions": options})
    else:
        send(raw, "DELETE", f"{collection}/{name}{query}", options)


PARAMS = ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "timeoutSeconds", "watch",
          "allowWatchBookmarks", "gracePeriodSeconds", "dryRun", "includeObject", "resourceVersionMatch"]
param_values = st.sampled_from(STRINGS + ["a=b", "a in (b,c)", "!a", "a!=b,c", "metadata.name=x", "spec.nodeName=",
                                          "status.phase!=Running", "a in (", "x==", "1", "-1", "1e3",
                                          "99999999999999999999",
                                          "eyJucyI6IDEsICJuYW1lIjogW119", "true"]) | st.text(max_size=12)


@common
@given(collection=st.sampled_from(COLLECTIONS + ["/api/v1/pods", "/api/v1/events"]),
       params=st.dictionaries(st.sampled_from(PARAMS) | st.text(max_size=6), param_values, max_size=4))
def test_query_strings(server, collection, params):
    from urllib.parse import urlencode
    _, raw = server
    if params.get("watch", "").lower() in ("true", "1"):
        params["timeoutSeconds"] = "1"  # a valid watch streams until its timeout: keep it short
    send(raw, "GET", f"{collection}?{urlencode(params)}")
