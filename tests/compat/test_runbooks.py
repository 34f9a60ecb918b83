"""Runbooks (1.92, traits 1.112) driven by the ``baremetal`` CLI and openstacksdk:
create, show, list, set, trait add/remove, delete, and ``node clean --runbook``
refused without a matching trait and run with one."""

import json

import pytest
from openstack import exceptions as os_exc

from conftest import bm, bm_fail, http

STEPS = json.dumps([{"interface": "bios", "step": "factory_reset",
                     "args": {}, "order": 1}])


@pytest.fixture
def runbooks():
    """Names of runbooks a test created, deleted afterwards."""
    names = []
    yield names
    for name in names:
        http("DELETE", "/v1/runbooks/" + name, microversion="1.92")


def test_runbook_cli_lifecycle(runbooks, uniq):
    name = uniq("rb")
    runbooks.append(name)
    rb = bm("runbook", "create", "--name", name, "--steps", STEPS,
            "--description", "compat", "--extra", "k=v", "-f", "json")
    assert rb["name"] == name
    assert rb["steps"] == json.loads(STEPS)
    assert rb["description"] == "compat"
    assert rb["traits"] == []
    shown = bm("runbook", "show", rb["uuid"], "-f", "json")
    assert shown["extra"] == {"k": "v"}
    assert name in [r["name"] for r in bm("runbook", "list", "-f", "json")]
    # (`runbook set --public` sends the string 'True', which Ironic's schema refuses.)
    bm("runbook", "set", name, "--description", "changed")
    assert bm("runbook", "show", name, "-f", "json")["description"] == "changed"
    bm("runbook", "trait", "add", name, "CUSTOM_CMP_A", "CUSTOM_CMP_B")
    traits = [t["traits"] for t in
              bm("runbook", "trait", "list", name, "-f", "json")]
    assert sorted(traits) == ["CUSTOM_CMP_A", "CUSTOM_CMP_B"]
    bm("runbook", "trait", "remove", name, "CUSTOM_CMP_A")
    assert bm("runbook", "show", name, "-f", "json")["traits"] == [
        "CUSTOM_CMP_B"]
    err = bm_fail("runbook", "create", "--name", name, "--steps", STEPS)
    assert "already exists" in err
    bm("runbook", "delete", name)
    assert "could not be found" in bm_fail("runbook", "show", name)


@pytest.mark.conductor
def test_node_clean_with_runbook(make_node, runbooks, uniq):
    name = uniq("rb")
    runbooks.append(name)
    bm("runbook", "create", "--name", name, "--steps", STEPS)
    bm("runbook", "trait", "add", name, "CUSTOM_CMP_RAID")
    node = make_node("--network-interface", "noop", "--bios-interface", "fake")
    bm("node", "manage", node["uuid"], "--wait", "60")
    err = bm_fail("node", "clean", node["uuid"], "--runbook", name)
    assert "has not been approved for use on this node" in err
    shown = bm("node", "show", node["uuid"], "-f", "json")
    assert shown["provision_state"] == "manageable"
    assert shown["target_provision_state"] is None
    bm("node", "add", "trait", node["uuid"], "CUSTOM_CMP_RAID")
    bm("node", "clean", node["uuid"], "--runbook", name, "--wait", "60")
    shown = bm("node", "show", node["uuid"], "-f", "json")
    assert shown["provision_state"] == "manageable"
    assert shown["last_error"] is None


def test_runbook_sdk(sdk, runbooks, uniq):
    name = uniq("rb")
    runbooks.append(name)
    rb = sdk.baremetal.create_runbook(name=name, steps=json.loads(STEPS))
    assert rb.name == name
    assert sdk.baremetal.get_runbook(rb.id).steps == json.loads(STEPS)
    assert name in [r.name for r in sdk.baremetal.runbooks()]
    sdk.baremetal.patch_runbook(
        rb.id, [{"op": "replace", "path": "/extra", "value": {"a": "b"}}])
    assert sdk.baremetal.get_runbook(name).extra == {"a": "b"}
    sdk.baremetal.delete_runbook(rb.id)
    with pytest.raises(os_exc.NotFoundException):
        sdk.baremetal.get_runbook(rb.id)


@pytest.mark.conductor
def test_allocation_create_waits_for_the_background_allocation(make_node,
                                                               uniq):
    """An allocation is answered `allocating` and processed afterwards: the
    CLI's --wait polls it to `active` (and `error` when nothing matches)."""
    rc = uniq("rc").replace("-", "_")
    node = make_node("--network-interface", "noop", "--no-automated-clean",
                     "--resource-class", rc)
    bm("node", "manage", node["uuid"], "--wait", "60")
    # Allocations only pick nodes with a known power state.
    bm("node", "power", "off", node["uuid"])
    bm("node", "provide", node["uuid"], "--wait", "60")
    name = uniq("alloc")
    try:
        alloc = bm("allocation", "create", "--resource-class", rc,
                   "--name", name, "--wait", "60", "-f", "json")
        assert alloc["state"] == "active"
        assert alloc["node_uuid"] == node["uuid"]
        err = bm_fail("allocation", "create", "--resource-class", rc,
                      "--name", name + "-2", "--wait", "60")
        assert "no available nodes" in err.lower() or "error" in err.lower()
    finally:
        for n in (name, name + "-2"):
            http("DELETE", "/v1/allocations/" + n, microversion="1.52")
