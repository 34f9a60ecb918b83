"""Compatibility tests driving the server with openstacksdk (noauth).

openstacksdk discovers the endpoint with ``GET /`` and ``GET /v1/`` and then
sends ``X-OpenStack-Ironic-API-Version`` / ``OpenStack-API-Version:
baremetal X.Y`` with min(resource max microversion, server max) on every
call.
"""

import uuid

import pytest
from openstack import exceptions as os_exc

from conftest import bm, make_sdk, random_mac


@pytest.fixture
def sdk_node(sdk, cleanup, uniq):
    """Factory: create a node via the SDK (registered for cleanup)."""
    def make(**attrs):
        attrs.setdefault("driver", "fake-hardware")
        attrs.setdefault("name", uniq("sdk"))
        cleanup.node(attrs["name"])
        node = sdk.baremetal.create_node(**attrs)
        cleanup.node(node.id)
        return node
    return make


# ==========================================================================
# discovery / errors
# ==========================================================================

def test_sdk_version_discovery(sdk, ironic_url):
    from openstack import utils
    from openstack.baremetal.v1 import node as node_res

    bmp = sdk.baremetal
    assert bmp.get_endpoint().rstrip("/") == ironic_url + "/v1"
    assert bmp.get_api_major_version()[0] == 1
    # the microversion range comes from the "version"/"min_version" fields
    # of the discovery document
    ed = bmp.get_endpoint_data()
    assert ed.min_microversion == (1, 1)
    server_max = ed.max_microversion
    assert server_max is not None and server_max >= (1, 37)
    # what the SDK will send for node calls: min(server max, SDK's max)
    picked = utils.maximum_supported_microversion(
        bmp, node_res.Node._max_microversion)
    assert picked is not None
    sdk_max = tuple(int(x) for x in node_res.Node._max_microversion.split("."))
    assert tuple(int(x) for x in picked.split(".")) == min(server_max,
                                                           sdk_max)


def test_sdk_get_missing_node_raises_not_found(sdk):
    with pytest.raises(os_exc.ResourceNotFound):
        sdk.baremetal.get_node("cmp-missing-" + uuid.uuid4().hex[:8])
    with pytest.raises(os_exc.NotFoundException) as ei:
        sdk.baremetal.get_node(str(uuid.uuid4()))
    assert ei.value.status_code == 404
    assert "could not be found" in str(ei.value)
    assert sdk.baremetal.find_node("cmp-missing-" + uuid.uuid4().hex) is None


def test_sdk_bad_request_is_bad_request_exception(sdk, sdk_node):
    node = sdk_node()
    with pytest.raises(os_exc.BadRequestException) as ei:
        sdk.baremetal.create_port(node_id=node.id, address="not-a-mac")
    assert ei.value.status_code == 400
    assert "not-a-mac" in str(ei.value)


# ==========================================================================
# nodes
# ==========================================================================

def test_sdk_create_and_get_node(sdk, sdk_node, uniq):
    name = uniq("sdk")
    node = sdk_node(
        name=name,
        properties={"cpus": 8, "memory_mb": 16384, "cpu_arch": "aarch64"},
        driver_info={"ipmi_address": "192.0.2.20",
                     "ipmi_password": "fake_password"},
        extra={"team": "compat"},
        resource_class="rc-sdk",
        description="made by openstacksdk")
    assert node.id and len(node.id) == 36
    assert node.name == name
    assert node.driver == "fake-hardware"
    assert node.provision_state == "enroll"
    assert node.is_maintenance is False
    assert node.properties == {"cpus": 8, "memory_mb": 16384,
                               "cpu_arch": "aarch64"}
    assert node.driver_info == {"ipmi_address": "192.0.2.20",
                                "ipmi_password": "******"}
    assert node.extra == {"team": "compat"}
    assert node.resource_class == "rc-sdk"
    assert node.description == "made by openstacksdk"
    assert node.traits == []
    assert node.power_interface == "fake"

    by_id = sdk.baremetal.get_node(node.id)
    by_name = sdk.baremetal.get_node(name)
    assert by_id.id == by_name.id == node.id
    assert by_name.name == name
    assert by_id.properties == node.properties
    assert by_id.created_at is not None

    found = sdk.baremetal.find_node(name)
    assert found is not None and found.id == node.id

    partial = sdk.baremetal.get_node(node.id, fields=["uuid", "name"])
    assert partial.id == node.id and partial.name == name


def test_sdk_create_node_available_via_old_microversion(sdk, sdk_node):
    # openstacksdk uses API 1.10 (the last one creating nodes in
    # "available") when asked for that initial state
    node = sdk_node(provision_state="available")
    assert node.provision_state == "available"
    assert sdk.baremetal.get_node(node.id).provision_state == "available"


def test_sdk_nodes_list_and_details(sdk, sdk_node):
    node = sdk_node(properties={"cpus": 2})
    plain = {n.id: n for n in sdk.baremetal.nodes()}
    assert node.id in plain
    assert plain[node.id].name == node.name
    assert plain[node.id].provision_state == "enroll"
    # the short listing does not carry the detailed fields
    assert plain[node.id].driver is None

    detailed = {n.id: n for n in sdk.baremetal.nodes(details=True)}
    assert detailed[node.id].driver == "fake-hardware"
    assert detailed[node.id].properties == {"cpus": 2}

    assert node.id in {n.id for n in sdk.baremetal.nodes(
        provision_state="enroll", driver="fake-hardware")}
    assert node.id not in {n.id for n in sdk.baremetal.nodes(
        provision_state="available")}

    only = list(sdk.baremetal.nodes(fields=["uuid", "name"]))
    row = [n for n in only if n.id == node.id][0]
    assert row.name == node.name


def test_sdk_nodes_pagination(sdk, sdk_node, monkeypatch, uniq):
    rc = uniq("rc")  # a private resource class isolates our 3 nodes
    created = [sdk_node(resource_class=rc).id for _ in range(3)]

    calls = []
    real_get = sdk.baremetal.get

    def counting_get(url, *args, **kwargs):
        calls.append((url, dict(kwargs.get("params") or {})))
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(sdk.baremetal, "get", counting_get)

    # limit=1 pages, following the server's "next" links
    seen = [n.id for n in sdk.baremetal.nodes(limit=1, paginated=True,
                                             resource_class=rc)]
    assert seen == created
    # one request per page, plus at most one final (empty) page
    assert len(calls) in (3, 4), calls

    calls.clear()
    first_page = list(sdk.baremetal.nodes(limit=1, paginated=False,
                                          resource_class=rc))
    assert [n.id for n in first_page] == created[:1]
    assert len(calls) == 1

    # explicit marker
    after = [n.id for n in sdk.baremetal.nodes(
        marker=created[0], limit=2, paginated=False, resource_class=rc)]
    assert after == created[1:]

    # unfiltered paging visits every node exactly once
    everything = [n.id for n in sdk.baremetal.nodes(limit=1)]
    assert len(everything) == len(set(everything))
    assert set(created) <= set(everything)


def test_sdk_update_node(sdk, sdk_node, uniq):
    node = sdk_node(extra={"a": "1"})
    new_name = uniq("sdk")
    updated = sdk.baremetal.update_node(
        node, name=new_name, extra={"a": "1", "b": "2"},
        description="updated", resource_class="rc-upd")
    assert updated.name == new_name
    assert updated.extra == {"a": "1", "b": "2"}
    assert updated.description == "updated"
    assert updated.resource_class == "rc-upd"

    again = sdk.baremetal.get_node(new_name)
    assert again.id == node.id
    assert again.extra == {"a": "1", "b": "2"}
    assert again.updated_at is not None


def test_sdk_patch_node(sdk, sdk_node):
    node = sdk_node(properties={"cpus": 1, "local_gb": 10},
                    description="to be removed")
    patched = sdk.baremetal.patch_node(node, [
        {"op": "add", "path": "/extra/owner_team", "value": "infra"},
        {"op": "replace", "path": "/properties/cpus", "value": 32},
        {"op": "remove", "path": "/properties/local_gb"},
        {"op": "remove", "path": "/description"},
        {"op": "add", "path": "/driver_info/ipmi_password",
         "value": "fake_password"},
    ])
    assert patched.extra == {"owner_team": "infra"}
    assert patched.properties == {"cpus": 32}
    assert patched.description is None
    assert patched.driver_info == {"ipmi_password": "******"}

    # CLI sees the same thing
    shown = bm("node", "show", node.id)
    assert shown["properties"] == {"cpus": 32}
    assert shown["extra"] == {"owner_team": "infra"}

    # removing a missing path is a 400
    with pytest.raises(os_exc.BadRequestException):
        sdk.baremetal.patch_node(node, [
            {"op": "remove", "path": "/extra/does_not_exist"}])
    # read-only fields cannot be patched
    with pytest.raises(os_exc.BadRequestException):
        sdk.baremetal.patch_node(node, [
            {"op": "replace", "path": "/provision_state",
             "value": "active"}])


def test_sdk_node_maintenance(sdk, sdk_node):
    node = sdk_node()
    res = sdk.baremetal.set_node_maintenance(node, reason="psu swap")
    assert res.is_maintenance is True
    fresh = sdk.baremetal.get_node(node.id)
    assert fresh.is_maintenance is True
    assert fresh.maintenance_reason == "psu swap"
    assert node.id in {n.id for n in sdk.baremetal.nodes(is_maintenance=True)}

    sdk.baremetal.unset_node_maintenance(node)
    fresh = sdk.baremetal.get_node(node.id)
    assert fresh.is_maintenance is False
    assert fresh.maintenance_reason is None
    assert node.id not in {
        n.id for n in sdk.baremetal.nodes(is_maintenance=True)}


def test_sdk_node_traits(sdk, sdk_node):
    node = sdk_node()
    sdk.baremetal.add_node_trait(node, "CUSTOM_ONE")
    sdk.baremetal.add_node_trait(node, "CUSTOM_TWO")
    assert sorted(sdk.baremetal.get_node(node.id).traits) == [
        "CUSTOM_ONE", "CUSTOM_TWO"]

    assert sdk.baremetal.remove_node_trait(node, "CUSTOM_ONE") is True
    assert sdk.baremetal.get_node(node.id).traits == ["CUSTOM_TWO"]
    # Removing a trait the node does not have: Ironic answers 404.
    # (openstacksdk's ignore_missing=True only swallows a 400 here, so with
    # real Ironic it raises too -- don't rely on it.)
    with pytest.raises(os_exc.NotFoundException):
        sdk.baremetal.remove_node_trait(node, "CUSTOM_ONE",
                                        ignore_missing=False)

    sdk.baremetal.set_node_traits(node, ["CUSTOM_A", "CUSTOM_B", "CUSTOM_C"])
    assert sorted(sdk.baremetal.get_node(node.id).traits) == [
        "CUSTOM_A", "CUSTOM_B", "CUSTOM_C"]
    rows = bm("node", "trait", "list", node.id)
    assert sorted(r["traits"] for r in rows) == [
        "CUSTOM_A", "CUSTOM_B", "CUSTOM_C"]

    sdk.baremetal.set_node_traits(node, [])
    assert sdk.baremetal.get_node(node.id).traits == []


def test_sdk_validate_node(sdk, sdk_node):
    node = sdk_node()
    result = sdk.baremetal.validate_node(node, required=("power",
                                                         "management"))
    assert result["power"].result is True
    assert result["management"].result is True
    assert "network" in result
    assert "boot" in result


def test_sdk_delete_node(sdk, sdk_node):
    node = sdk_node()
    sdk.baremetal.delete_node(node, ignore_missing=False)
    with pytest.raises(os_exc.ResourceNotFound):
        sdk.baremetal.get_node(node.id)
    # deleting again: silently ignored / NotFound
    sdk.baremetal.delete_node(node.id, ignore_missing=True)
    with pytest.raises(os_exc.NotFoundException):
        sdk.baremetal.delete_node(node.id, ignore_missing=False)


# ==========================================================================
# ports, chassis
# ==========================================================================

def test_sdk_ports(sdk, sdk_node, cleanup):
    node = sdk_node()
    other = sdk_node()
    mac = random_mac()
    cleanup.port(mac)
    port = sdk.baremetal.create_port(
        node_id=node.id, address=mac, physical_network="physnet1",
        local_link_connection={"switch_id": "0a:1b:2c:3d:4e:5f",
                               "port_id": "xe-0/0/1"},
        extra={"nic": "eth0"})
    cleanup.port(port.id)
    assert port.address == mac
    assert port.node_id == node.id
    assert port.is_pxe_enabled is True
    assert port.physical_network == "physnet1"
    assert port.local_link_connection["port_id"] == "xe-0/0/1"

    mac2 = random_mac()
    cleanup.port(mac2)
    port2 = sdk.baremetal.create_port(node_id=other.id, address=mac2)
    cleanup.port(port2.id)

    assert [p.id for p in sdk.baremetal.ports(node=node.id)] == [port.id]
    assert [p.id for p in sdk.baremetal.ports(node=node.name)] == [port.id]
    assert [p.id for p in sdk.baremetal.ports(node_id=other.id)] == [port2.id]
    assert [p.id for p in sdk.baremetal.ports(address=mac)] == [port.id]
    detailed = list(sdk.baremetal.ports(details=True, node=node.id))
    assert detailed[0].node_id == node.id
    assert detailed[0].extra == {"nic": "eth0"}

    got = sdk.baremetal.get_port(port.id)
    assert got.address == mac

    upd = sdk.baremetal.update_port(port, is_pxe_enabled=False,
                                    physical_network="physnet9")
    assert upd.is_pxe_enabled is False
    assert upd.physical_network == "physnet9"
    assert bm("port", "show", port.id)["pxe_enabled"] is False

    # (a connection without status-code retries: the SDK retries 409s)
    impatient = make_sdk(baremetal_status_code_retries=0)
    with pytest.raises(os_exc.ConflictException) as ei:
        impatient.baremetal.create_port(node_id=other.id, address=mac)
    assert mac in str(ei.value)

    sdk.baremetal.delete_port(port, ignore_missing=False)
    with pytest.raises(os_exc.ResourceNotFound):
        sdk.baremetal.get_port(port.id)
    assert list(sdk.baremetal.ports(node=node.id)) == []


def test_sdk_chassis(sdk, sdk_node, cleanup, uniq):
    desc = uniq("chassis")
    ch = sdk.baremetal.create_chassis(description=desc, extra={"dc": "x"})
    cleanup.chassis(ch.id)
    assert ch.description == desc
    assert ch.extra == {"dc": "x"}

    assert sdk.baremetal.get_chassis(ch.id).description == desc
    assert ch.id in {c.id for c in sdk.baremetal.chassis()}
    detailed = {c.id: c for c in sdk.baremetal.chassis(details=True)}
    assert detailed[ch.id].extra == {"dc": "x"}

    upd = sdk.baremetal.update_chassis(ch, description="renamed")
    assert upd.description == "renamed"

    node = sdk_node(chassis_id=ch.id)
    assert node.chassis_id == ch.id
    with pytest.raises(os_exc.BadRequestException):
        sdk.baremetal.delete_chassis(ch, ignore_missing=False)

    sdk.baremetal.delete_node(node, ignore_missing=False)
    sdk.baremetal.delete_chassis(ch, ignore_missing=False)
    with pytest.raises(os_exc.ResourceNotFound):
        sdk.baremetal.get_chassis(ch.id)


# ==========================================================================
# drivers, conductors
# ==========================================================================

def test_sdk_drivers(sdk):
    drivers = {d.name: d for d in sdk.baremetal.drivers()}
    assert "fake-hardware" in drivers
    assert drivers["fake-hardware"].hosts

    detailed = {d.name: d for d in sdk.baremetal.drivers(details=True)}
    assert detailed["fake-hardware"].default_power_interface == "fake"
    assert "fake" in detailed["fake-hardware"].enabled_power_interfaces

    drv = sdk.baremetal.get_driver("fake-hardware")
    assert drv.name == "fake-hardware"
    assert drv.default_management_interface == "fake"
    assert isinstance(drv.enabled_deploy_interfaces, list)

    with pytest.raises(os_exc.ResourceNotFound):
        sdk.baremetal.get_driver("no-such-driver")


def test_sdk_conductors(sdk):
    conductors = list(sdk.baremetal.conductors())
    assert conductors
    live = [c for c in conductors if c.alive]
    assert live
    host = live[0].hostname

    assert live[0].conductor_group is not None

    cond = sdk.baremetal.get_conductor(host)
    assert cond.hostname == host
    assert cond.alive is True
    assert "fake-hardware" in cond.drivers
    with pytest.raises(os_exc.ResourceNotFound):
        sdk.baremetal.get_conductor("no-such-conductor.example")


# ==========================================================================
# conductor-backed actions (deselect with -m "not conductor")
# ==========================================================================

@pytest.mark.conductor
def test_sdk_power_and_provision_state(sdk, sdk_node):
    node = sdk_node(network_interface="noop", automated_clean=False)
    sdk.baremetal.set_node_power_state(node, "power on", wait=True,
                                       timeout=60)
    assert sdk.baremetal.get_node(node.id).power_state == "power on"

    res = sdk.baremetal.set_node_provision_state(node, "manage", wait=True,
                                                 timeout=60)
    assert res.provision_state == "manageable"
    res = sdk.baremetal.set_node_provision_state(node, "provide", wait=True,
                                                 timeout=60)
    assert res.provision_state == "available"

    sdk.baremetal.set_node_power_state(node, "power off", wait=True,
                                       timeout=60)
    assert sdk.baremetal.get_node(node.id).power_state == "power off"
