from __future__ import annotations

import json

import pytest

from berth.errors import InvalidSpec
from berth.oci.spec import Spec
from berth.runtime.defaults import default_spec


def test_default_spec_round_trips() -> None:
    spec = default_spec(("sh", "-c", "echo hi"))
    again = Spec.from_bytes(spec.to_bytes())
    assert again == spec
    assert again.to_json() == spec.to_json()


def test_unknown_fields_survive_a_round_trip() -> None:
    doc = default_spec().to_json()
    doc["vendorThing"] = {"a": 1}
    doc["linux"]["intelRdt"] = {"closID": "x"}
    doc["process"]["apparmorProfile"] = "p"
    out = Spec.from_bytes(json.dumps(doc)).to_json()
    assert out["vendorThing"] == {"a": 1}
    assert out["linux"]["intelRdt"] == {"closID": "x"}
    assert out["process"]["apparmorProfile"] == "p"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["process"].update(args="sh"), "process.args"),
        (lambda d: d["process"]["user"].update(uid=-1), "process.user.uid"),
        (lambda d: d["process"]["env"].append("NOEQUALS"), "process.env[2]"),
        (lambda d: d["process"].update(oomScoreAdj=5000), "process.oomScoreAdj"),
        (lambda d: d["linux"]["namespaces"].append({"type": "pid"}), "linux.namespaces[6].type"),
        (lambda d: d["linux"].update(rootfsPropagation="sideways"), "linux.rootfsPropagation"),
        (lambda d: d["linux"]["seccomp"].update(defaultAction="SCMP_ACT_MAYBE"), "linux.seccomp.defaultAction"),
        (lambda d: d["linux"]["resources"].update(memory={"limit": 100, "swap": 50}), "linux.resources.memory.swap"),
        (lambda d: d["mounts"][0].update(destination="proc"), "mounts[0].destination"),
        (lambda d: d.update(root=None), "root"),
        (lambda d: d["process"]["capabilities"]["effective"].append("not_a_cap"),
         "process.capabilities.effective[14]"),
    ],
)
def test_bad_fields_are_named(mutate: object, field: str) -> None:
    doc = default_spec().to_json()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(InvalidSpec) as info:
        Spec.from_bytes(json.dumps(doc))
    assert info.value.field == field
    assert field in str(info.value)


def test_malformed_json_is_invalid_spec() -> None:
    with pytest.raises(InvalidSpec, match="invalid JSON"):
        Spec.from_bytes(b"{")
