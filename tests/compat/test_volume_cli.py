"""Volume connectors and targets (1.32) through the ``baremetal volume`` CLI.

Deleting a test's node (the cleanup fixture does) deletes its connectors and targets.
CLI calls are few on purpose: each costs seconds of Python start-up.
"""

import time

import pytest

from conftest import bm, bm_fail, http


def _power_off(node):
    status = http("PUT", "/v1/nodes/%s/states/power" % node,
                  {"target": "power off"})[0]
    assert status == 202, status
    deadline = time.time() + 30
    while time.time() < deadline:
        n = http("GET", "/v1/nodes/" + node)[2]
        if n["power_state"] == "power off" and n["target_power_state"] is None:
            return
        time.sleep(0.3)
    raise AssertionError("node %s never powered off" % node)


@pytest.mark.conductor
def test_volume_cli(make_node, uniq):
    node = make_node()
    cid = "iqn.2017-07.org.openstack:" + uniq("c")
    c = bm("volume", "connector", "create", "--node", node["uuid"],
           "--type", "iqn", "--connector-id", cid, "--extra", "rack=r1")
    assert c["type"] == "iqn" and c["connector_id"] == cid
    assert c["node_uuid"] == node["uuid"] and c["extra"] == {"rack": "r1"}
    err = bm_fail("volume", "connector", "create", "--node", node["uuid"],
                  "--type", "iqn", "--connector-id", cid)
    assert ("A volume connector with type iqn and connector ID %s already "
            "exists." % cid) in err
    rows = bm("volume", "connector", "list", "--node", node["name"],
              "--long")
    assert [(r["uuid"], r["extra"]) for r in rows] == [
        (c["uuid"], {"rack": "r1"})], rows

    t = bm("volume", "target", "create", "--node", node["uuid"],
           "--type", "iscsi", "--boot-index", "0", "--volume-id", "vol-a",
           "--property", "target_iqn=iqn.x", "--property", "auth_password=pw1")
    assert t["boot_index"] == 0 and t["volume_type"] == "iscsi"
    assert t["properties"] == {"target_iqn": "iqn.x",
                               "auth_password": "******"}, t

    # Updates need the node powered off; a fresh node's power state is unknown.
    err = bm_fail("volume", "target", "set", t["uuid"], "--boot-index", "1")
    assert "volume target update" in err, err
    _power_off(node["uuid"])
    bm("volume", "target", "set", t["uuid"], "--boot-index", "1",
       "--extra", "a=b")
    rows = bm("volume", "target", "list", "--node", node["uuid"], "--long")
    assert [(r["uuid"], r["boot_index"], r["extra"]) for r in rows] == [
        (t["uuid"], 1, {"a": "b"})], rows
    assert "pw1" not in str(rows)

    bm("volume", "connector", "delete", c["uuid"])
    err = bm_fail("volume", "connector", "show", c["uuid"])
    assert "Volume connector %s could not be found." % c["uuid"] in err
