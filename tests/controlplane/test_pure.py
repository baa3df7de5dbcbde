"""Selectors and patches, without a server."""
import pytest

from leonet.controlplane.errors import ApiError
from leonet.controlplane.patch import json_patch, merge_patch, strategic_merge_patch
from leonet.controlplane.selectors import make_filter, match_labels, parse_label_selector


def test_label_selector_syntax():
    reqs = parse_label_selector("app=web,tier!=db,env in (prod, stage),zone notin (x),gpu,!spot")
    assert match_labels(reqs, {"app": "web", "env": "prod", "gpu": "1", "zone": "y"})
    assert not match_labels(reqs, {"app": "web", "env": "dev", "gpu": "1"})
    assert not match_labels(reqs, {"app": "web", "env": "prod", "gpu": "1", "spot": "1"})


def test_field_selector_fields_are_checked():
    f = make_filter(None, "spec.nodeName=sat-1,status.phase!=Failed", "pods")
    assert f({"metadata": {}, "spec": {"nodeName": "sat-1"}, "status": {"phase": "Running"}})
    assert not f({"metadata": {}, "spec": {"nodeName": "sat-2"}, "status": {"phase": "Running"}})
    with pytest.raises(ApiError) as e:
        make_filter(None, "spec.foo=bar", "pods")
    assert e.value.code == 400


def test_merge_and_json_patch():
    doc = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert merge_patch(doc, {"a": {"b": None, "d": 3}, "l": [3]}) == {"a": {"c": 2, "d": 3}, "l": [3]}
    out = json_patch(doc, [{"op": "add", "path": "/l/-", "value": 3}, {"op": "remove", "path": "/a/b"},
                           {"op": "replace", "path": "/a/c", "value": 9}, {"op": "copy", "from": "/a/c",
                                                                            "path": "/x"}])
    assert out == {"a": {"c": 9}, "l": [1, 2, 3], "x": 9}
    with pytest.raises(ApiError) as e:
        json_patch(doc, [{"op": "test", "path": "/a/b", "value": 5}])
    assert e.value.code == 422


def test_strategic_merge_merges_lists_by_key():
    pod = {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}
    out = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "b", "image": "2"}],
                                               "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}]}})
    assert out["spec"]["containers"] == [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]
    out = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["b"]
