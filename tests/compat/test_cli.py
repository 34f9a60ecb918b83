"""Compatibility tests driving the server with the real ``baremetal`` CLI.

Every command is run with ``-f json`` (where it prints anything) and the
parsed output is asserted.  Note that python-ironicclient emits *field
names* (``uuid``, ``provision_state``...) as keys in machine-readable output,
not the table headings (``UUID``, ``Provisioning State``...), except for a
few commands (``node validate``) that build their own columns.
"""

import re
import uuid

import pytest

from conftest import bm, bm_fail, http, random_mac

UUID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

NODE_LIST_COLUMNS = {"uuid", "name", "instance_uuid", "power_state",
                     "provision_state", "maintenance"}


def _by_uuid(rows, uuid_):
    matches = [r for r in rows if r["uuid"] == uuid_]
    assert len(matches) == 1, "uuid %s found %d times in %s" % (
        uuid_, len(matches), rows)
    return matches[0]


def _uuids(rows):
    return [r["uuid"] for r in rows]


# ==========================================================================
# protocol prerequisites the clients rely on (raw HTTP)
# ==========================================================================

def test_version_discovery_documents(ironic_url):
    """openstacksdk discovers the API via GET / and GET /v1/."""
    st, hdrs, root = http("GET", "/", microversion=None)
    assert st == 200
    assert hdrs["X-OpenStack-Ironic-API-Minimum-Version"] == "1.1"
    max_ver = hdrs["X-OpenStack-Ironic-API-Maximum-Version"]
    assert re.match(r"^1\.\d+$", max_ver)
    assert root["default_version"]["id"] == "v1"
    v1 = [v for v in root["versions"] if v["id"] == "v1"]
    assert len(v1) == 1
    assert v1[0]["version"] == max_ver
    assert v1[0]["min_version"] == "1.1"
    assert v1[0]["status"] == "CURRENT"
    assert any(link["rel"] == "self" and link["href"].rstrip("/").endswith(
        "/v1") for link in v1[0]["links"])

    # the CLI negotiates with GET /v1 (no slash) and reads only the
    # headers; openstacksdk follows the "self" link (GET /v1/) and reads
    # the body.
    for path in ("/v1", "/v1/"):
        st, hdrs, doc = http("GET", path, microversion=None)
        assert st == 200, path
        assert hdrs["X-OpenStack-Ironic-API-Minimum-Version"] == "1.1"
        assert hdrs["X-OpenStack-Ironic-API-Maximum-Version"] == max_ver
        assert doc["id"] == "v1"
        assert doc["version"]["version"] == max_ver
        assert doc["version"]["min_version"] == "1.1"
        assert doc["media_types"]["base"] == "application/json"
        for res in ("nodes", "ports", "chassis", "drivers"):
            assert res in doc, res


def test_unsupported_microversion_is_406_with_range():
    """ironicclient re-negotiates only on 406 + version headers."""
    st, hdrs, body = http("GET", "/v1/nodes", microversion="1.9999")
    assert st == 406
    assert hdrs["X-OpenStack-Ironic-API-Minimum-Version"] == "1.1"
    assert re.match(r"^1\.\d+$", hdrs["X-OpenStack-Ironic-API-Maximum-Version"])
    assert "error_message" in body


def test_cli_without_explicit_api_version(make_node):
    """Default client path: send the client's max version, 406-negotiate."""
    node = make_node(api_version=None)
    assert node["provision_state"] == "enroll"
    assert "traits" in node  # i.e. a >= 1.37 microversion was used
    shown = bm("node", "show", node["uuid"], api_version=None)
    assert shown["uuid"] == node["uuid"]
    assert "fake-hardware" in {
        r["name"] for r in bm("driver", "list", api_version=None)}


# ==========================================================================
# nodes
# ==========================================================================

def test_node_create_and_show_by_name_and_uuid(make_node, uniq):
    name = uniq("node")
    node = make_node(
        "--property", "cpus=4", "--property", "memory_mb=8192",
        "--property", "cpu_arch=x86_64",
        "--driver-info", "ipmi_address=192.0.2.10",
        "--driver-info", "ipmi_username=admin",
        "--driver-info", "ipmi_password=fake_password",
        "--extra", "rack=r1",
        "--description", "compat test node",
        "--resource-class", "baremetal-compat",
        name=name)

    assert UUID_RE.match(node["uuid"])
    assert node["name"] == name
    assert node["driver"] == "fake-hardware"
    # key=value values are JSON-decoded by the client: 4 is an int
    assert node["properties"] == {"cpus": 4, "memory_mb": 8192,
                                  "cpu_arch": "x86_64"}
    assert node["driver_info"]["ipmi_address"] == "192.0.2.10"
    assert node["driver_info"]["ipmi_username"] == "admin"
    assert node["driver_info"]["ipmi_password"] == "******"
    assert node["extra"] == {"rack": "r1"}
    assert node["description"] == "compat test node"
    assert node["resource_class"] == "baremetal-compat"
    assert node["provision_state"] == "enroll"
    assert node["power_state"] is None
    assert node["maintenance"] is False
    assert node["traits"] == []
    # hardware-type default interfaces are filled in on creation
    assert node["power_interface"] == "fake"
    assert node["management_interface"] == "fake"

    by_name = bm("node", "show", name)
    by_uuid = bm("node", "show", node["uuid"])
    assert by_name == by_uuid
    assert by_name["uuid"] == node["uuid"]
    assert by_name["driver_info"]["ipmi_password"] == "******"
    assert "fake_password" not in repr(by_name)
    for field in ("created_at", "updated_at", "chassis_uuid", "instance_uuid",
                  "last_error", "target_provision_state", "conductor_group",
                  "owner", "lessee", "protected", "retired", "boot_interface",
                  "deploy_interface", "network_interface"):
        assert field in by_name, field


def test_node_create_with_uuid(make_node):
    wanted = str(uuid.uuid4())
    node = make_node("--uuid", wanted)
    assert node["uuid"] == wanted
    assert bm("node", "show", wanted)["name"] == node["name"]


def test_node_show_fields(make_node):
    node = make_node("--property", "cpus=2")
    shown = bm("node", "show", node["name"],
               "--fields", "uuid", "name", "properties")
    assert set(shown) == {"uuid", "name", "properties"}
    assert shown["uuid"] == node["uuid"]
    assert shown["properties"] == {"cpus": 2}


def test_node_list_default_columns(make_node):
    node = make_node()
    rows = bm("node", "list")
    row = _by_uuid(rows, node["uuid"])
    assert set(row) == NODE_LIST_COLUMNS
    assert row["name"] == node["name"]
    assert row["provision_state"] == "enroll"
    assert row["power_state"] is None
    assert row["maintenance"] is False
    assert row["instance_uuid"] is None


def test_node_list_long(make_node):
    node = make_node("--driver-info", "ipmi_password=fake_password",
                     "--property", "cpus=8")
    row = _by_uuid(bm("node", "list", "--long"), node["uuid"])
    assert NODE_LIST_COLUMNS < set(row)
    assert row["driver"] == "fake-hardware"
    assert row["properties"] == {"cpus": 8}
    assert row["driver_info"] == {"ipmi_password": "******"}
    assert row["traits"] == []
    for field in ("created_at", "resource_class", "conductor_group",
                  "power_interface", "chassis_uuid", "extra", "owner"):
        assert field in row, field


def test_node_list_fields(make_node):
    node = make_node()
    rows = bm("node", "list", "--fields", "uuid", "name")
    row = _by_uuid(rows, node["uuid"])
    assert set(row) == {"uuid", "name"}
    assert row["name"] == node["name"]


def test_node_list_limit_and_marker_pagination(make_node, uniq):
    rc = uniq("rc")  # a private resource class isolates our 3 nodes
    created = [make_node("--resource-class", rc)["uuid"] for _ in range(3)]

    # unfiltered: at least our 3 nodes exist, so a limit of 2 gives 2
    assert len(bm("node", "list", "--limit", "2")) == 2

    page1 = bm("node", "list", "--resource-class", rc, "--limit", "2")
    assert len(page1) == 2
    page2 = bm("node", "list", "--resource-class", rc, "--limit", "2",
               "--marker", page1[-1]["uuid"])
    assert len(page2) == 1
    page3 = bm("node", "list", "--resource-class", rc, "--limit", "2",
               "--marker", page2[-1]["uuid"])
    assert page3 == []
    seen = _uuids(page1 + page2)
    # default sort is by creation (database id), ascending
    assert seen == created

    # --limit 0 means "everything" (the CLI follows the "next" links)
    assert _uuids(bm("node", "list", "--resource-class", rc,
                     "--limit", "0")) == created
    # descending sort
    # descending sort (the CLI only accepts sort keys among the columns it
    # shows, hence --long)
    assert _uuids(bm("node", "list", "--long", "--resource-class", rc,
                     "--sort", "created_at:desc")) == created[::-1]
    assert _uuids(bm("node", "list", "--resource-class", rc,
                     "--sort", "name:asc")) == [
        n["uuid"] for n in sorted(
            (bm("node", "show", u, "--fields", "uuid", "name")
             for u in created), key=lambda n: n["name"])]


def test_node_list_filters(make_node, uniq):
    rc = uniq("rc")
    owner = uniq("owner")
    a = make_node("--resource-class", rc)
    b = make_node("--resource-class", rc)
    # (--owner at create time is refused by Ironic under noauth: "Cannot
    # create a node as a project scoped admin with an owner other than your
    # own project", so set it afterwards)
    bm("node", "set", a["uuid"], "--owner", owner)
    bm("node", "maintenance", "set", b["uuid"], "--reason", "filter test")

    def listed(*args):
        return set(_uuids(bm("node", "list", *args)))

    ours = {a["uuid"], b["uuid"]}
    assert listed("--resource-class", rc) == ours
    assert listed("--resource-class", uniq("nope")) == set()

    assert ours <= listed("--provision-state", "enroll")
    assert not ours & listed("--provision-state", "available")

    assert ours <= listed("--driver", "fake-hardware")
    assert not ours & listed("--driver", "manual-management")

    assert listed("--owner", owner) == {a["uuid"]}

    maint = listed("--maintenance")
    assert b["uuid"] in maint and a["uuid"] not in maint
    not_maint = listed("--no-maintenance")
    assert a["uuid"] in not_maint and b["uuid"] not in not_maint

    # our nodes are in the default (empty) conductor group
    assert a["conductor_group"] == ""
    assert not ours & listed("--conductor-group", uniq("cg"))

    # filters combine
    assert listed("--resource-class", rc, "--maintenance") == {b["uuid"]}

    # --long honours filters too
    rows = bm("node", "list", "--long", "--resource-class", rc)
    assert {r["uuid"] for r in rows} == ours
    assert {r["resource_class"] for r in rows} == {rc}


def test_node_set_and_unset(make_node, cleanup, uniq):
    node = make_node("--property", "cpus=1", "--extra", "keep=1",
                     "--driver-info", "ipmi_address=192.0.2.1")
    new_name = uniq("renamed")
    cleanup.node(new_name)
    bm("node", "set", node["uuid"],
       "--name", new_name,
       "--extra", "colour=blue", "--extra", "nested={\"a\": 1}",
       "--property", "cpus=16", "--property", "local_gb=100",
       "--driver-info", "ipmi_username=root",
       "--driver-info", "ipmi_password=fake_password",
       "--description", "set by compat test",
       "--resource-class", "rc-set")
    shown = bm("node", "show", new_name)
    assert shown["uuid"] == node["uuid"]
    assert shown["name"] == new_name
    assert shown["extra"] == {"keep": 1, "colour": "blue", "nested": {"a": 1}}
    assert shown["properties"] == {"cpus": 16, "local_gb": 100}
    assert shown["driver_info"] == {"ipmi_address": "192.0.2.1",
                                    "ipmi_username": "root",
                                    "ipmi_password": "******"}
    assert shown["description"] == "set by compat test"
    assert shown["resource_class"] == "rc-set"
    assert shown["updated_at"] is not None

    bm("node", "unset", new_name,
       "--extra", "colour", "--extra", "nested",
       "--property", "local_gb",
       "--driver-info", "ipmi_password",
       "--description", "--resource-class")
    shown = bm("node", "show", node["uuid"])
    assert shown["extra"] == {"keep": 1}
    assert shown["properties"] == {"cpus": 16}
    assert shown["driver_info"] == {"ipmi_address": "192.0.2.1",
                                    "ipmi_username": "root"}
    assert shown["description"] is None
    assert shown["resource_class"] is None

    bm("node", "unset", node["uuid"], "--name")
    assert bm("node", "show", node["uuid"])["name"] is None


def test_node_delete(make_node):
    node = make_node()
    out = bm("node", "delete", node["name"])
    assert "Deleted node %s" % node["name"] in out
    err = bm_fail("node", "show", node["uuid"])
    assert "Node %s could not be found" % node["uuid"] in err
    assert node["uuid"] not in _uuids(bm("node", "list"))


def test_node_maintenance_set_unset(make_node):
    node = make_node()
    bm("node", "maintenance", "set", node["name"],
       "--reason", "broken fan")
    shown = bm("node", "show", node["name"])
    assert shown["maintenance"] is True
    assert shown["maintenance_reason"] == "broken fan"
    row = _by_uuid(bm("node", "list"), node["uuid"])
    assert row["maintenance"] is True

    bm("node", "maintenance", "unset", node["name"])
    shown = bm("node", "show", node["name"])
    assert shown["maintenance"] is False
    assert shown["maintenance_reason"] is None

    # without a reason
    bm("node", "maintenance", "set", node["uuid"])
    shown = bm("node", "show", node["uuid"])
    assert shown["maintenance"] is True
    assert shown["maintenance_reason"] is None


def test_node_traits_add_list_remove(make_node):
    node = make_node()
    assert bm("node", "trait", "list", node["name"]) == []

    out = bm("node", "add", "trait", node["name"], "CUSTOM_GPU", "CUSTOM_FPGA",
             "HW_CPU_X86_AVX2")
    assert "Added trait CUSTOM_GPU" in out
    traits = bm("node", "trait", "list", node["name"])
    # each row is {"traits": "<trait>"}
    assert sorted(r["traits"] for r in traits) == [
        "CUSTOM_FPGA", "CUSTOM_GPU", "HW_CPU_X86_AVX2"]
    assert sorted(bm("node", "show", node["uuid"])["traits"]) == [
        "CUSTOM_FPGA", "CUSTOM_GPU", "HW_CPU_X86_AVX2"]

    # adding an existing trait is idempotent
    bm("node", "add", "trait", node["name"], "CUSTOM_GPU")
    assert len(bm("node", "trait", "list", node["name"])) == 3

    out = bm("node", "remove", "trait", node["name"], "CUSTOM_GPU")
    assert "Removed trait CUSTOM_GPU" in out
    assert sorted(r["traits"] for r in bm("node", "trait", "list",
                                          node["name"])) == [
        "CUSTOM_FPGA", "HW_CPU_X86_AVX2"]

    err = bm_fail("node", "remove", "trait", node["name"], "CUSTOM_GPU")
    # "Node <uuid> doesn't have a trait 'CUSTOM_GPU' (HTTP 404)"
    assert "doesn't have a trait 'CUSTOM_GPU'" in err
    assert "HTTP 404" in err

    err = bm_fail("node", "add", "trait", node["name"], "not-a-valid-trait")
    assert "HTTP 400" in err
    assert "CUSTOM_" in err  # the schema error quotes the CUSTOM_ pattern

    bm("node", "remove", "trait", node["name"], "--all")
    assert bm("node", "trait", "list", node["name"]) == []
    assert bm("node", "show", node["name"])["traits"] == []


def test_node_validate(make_node):
    node = make_node()
    rows = bm("node", "validate", node["name"])
    assert all(set(r) == {"Interface", "Result", "Reason"} for r in rows)
    by_iface = {r["Interface"]: r for r in rows}
    for iface in ("boot", "console", "deploy", "inspect", "management",
                  "network", "power", "raid", "rescue", "storage"):
        assert iface in by_iface, iface
    # fake-hardware's fake interfaces always validate
    for iface in ("power", "management", "boot", "deploy"):
        assert by_iface[iface]["Result"] is True, by_iface[iface]
        assert by_iface[iface]["Reason"] == ""
    assert [r["Interface"] for r in rows] == sorted(by_iface)


def test_node_initial_state_depends_on_microversion(make_node):
    old = make_node(api_version="1.10")
    assert old["provision_state"] == "available"
    new = make_node()
    assert new["provision_state"] == "enroll"
    # 1.11+ API shows it the same way, whatever version is used to look
    assert bm("node", "show", old["uuid"])["provision_state"] == "available"
    # fields introduced after 1.10 are not shown at 1.10
    old_view = bm("node", "show", old["uuid"], api_version="1.10")
    assert "resource_class" not in old_view
    assert "traits" not in old_view
    assert old_view["provision_state"] == "available"


def test_node_show_nonexistent():
    missing = "cmp-missing-" + uuid.uuid4().hex[:8]
    err = bm_fail("node", "show", missing)
    assert "Node %s could not be found" % missing in err
    assert "404" in err
    missing_uuid = str(uuid.uuid4())
    err = bm_fail("node", "show", missing_uuid)
    assert "Node %s could not be found" % missing_uuid in err


def test_node_create_duplicate_name_fails(make_node):
    node = make_node()
    err = bm_fail("node", "create", "--driver", "fake-hardware",
                  "--name", node["name"])
    assert "A node with name %s already exists" % node["name"] in err
    assert "HTTP 409" in err


def test_node_create_unknown_driver_fails(uniq):
    err = bm_fail("node", "create", "--driver", "no-such-driver",
                  "--name", uniq("node"))
    # Ironic: "No valid host was found. Reason: No conductor service
    # registered which supports driver no-such-driver for conductor group
    # "". ... (HTTP 400)"
    assert "no-such-driver" in err
    assert "HTTP 400" in err


# ==========================================================================
# ports
# ==========================================================================

@pytest.fixture
def make_port(cleanup):
    def make(node_uuid, address=None, *extra):
        address = address or random_mac()
        cleanup.port(address)
        port = bm("port", "create", address, "--node", node_uuid, *extra)
        cleanup.port(port["uuid"])
        return port
    return make


def test_port_create_show_list(make_node, make_port, mac):
    node = make_node()
    address = mac()
    port = make_port(
        node["uuid"], address,
        "--physical-network", "physnet1",
        "--local-link-connection", "switch_id=0a:1b:2c:3d:4e:5f",
        "--local-link-connection", "port_id=Ethernet3/1",
        "--local-link-connection", "switch_info=sw1",
        "--extra", "slot=2")
    assert UUID_RE.match(port["uuid"])
    assert port["address"] == address
    assert port["node_uuid"] == node["uuid"]
    assert port["physical_network"] == "physnet1"
    assert port["local_link_connection"] == {
        "switch_id": "0a:1b:2c:3d:4e:5f", "port_id": "Ethernet3/1",
        "switch_info": "sw1"}
    assert port["pxe_enabled"] is True
    assert port["extra"] == {"slot": 2}
    assert port["portgroup_uuid"] is None

    shown = bm("port", "show", port["uuid"])
    # (show prints every field the server returns; create only the
    # client's known subset)
    assert {k: shown[k] for k in port} == port
    by_addr = bm("port", "show", "--address", address)
    assert by_addr["uuid"] == port["uuid"]

    rows = bm("port", "list", "--node", node["uuid"])
    assert rows == [{"uuid": port["uuid"], "address": address}]
    rows = bm("port", "list", "--node", node["name"])
    assert _uuids(rows) == [port["uuid"]]
    rows = bm("port", "list", "--address", address)
    assert _uuids(rows) == [port["uuid"]]
    row = _by_uuid(bm("port", "list"), port["uuid"])
    assert set(row) == {"uuid", "address"}
    row = _by_uuid(bm("port", "list", "--long", "--node", node["uuid"]),
                   port["uuid"])
    assert row["node_uuid"] == node["uuid"]
    assert row["physical_network"] == "physnet1"
    row = _by_uuid(bm("port", "list", "--fields", "uuid", "pxe_enabled"),
                   port["uuid"])
    assert row == {"uuid": port["uuid"], "pxe_enabled": True}


def test_port_mac_is_normalised_to_lowercase(make_node, make_port, mac):
    node = make_node()
    address = mac()
    port = make_port(node["uuid"], address.upper())
    assert port["address"] == address.lower()


def test_port_set_unset(make_node, make_port):
    node = make_node()
    port = make_port(node["uuid"])
    bm("port", "set", port["uuid"],
       "--physical-network", "physnet2",
       "--local-link-connection", "switch_id=aa:bb:cc:dd:ee:ff",
       "--local-link-connection", "port_id=gi0/1",
       "--pxe-disabled",
       "--extra", "cable=blue")
    shown = bm("port", "show", port["uuid"])
    assert shown["physical_network"] == "physnet2"
    assert shown["local_link_connection"] == {
        "switch_id": "aa:bb:cc:dd:ee:ff", "port_id": "gi0/1"}
    assert shown["pxe_enabled"] is False
    assert shown["extra"] == {"cable": "blue"}

    bm("port", "set", port["uuid"], "--pxe-enabled")
    assert bm("port", "show", port["uuid"])["pxe_enabled"] is True

    new_mac = random_mac()
    bm("port", "set", port["uuid"], "--address", new_mac)
    assert bm("port", "show", port["uuid"])["address"] == new_mac

    bm("port", "unset", port["uuid"], "--physical-network",
       "--extra", "cable")
    shown = bm("port", "show", port["uuid"])
    assert shown["physical_network"] is None
    assert shown["extra"] == {}
    assert shown["local_link_connection"] == {
        "switch_id": "aa:bb:cc:dd:ee:ff", "port_id": "gi0/1"}

    # switch_id without port_id violates the local_link_connection schema
    err = bm_fail("port", "unset", port["uuid"],
                  "--local-link-connection", "port_id")
    assert "local_link_connection" in err
    assert "HTTP 400" in err
    bm("port", "unset", port["uuid"], "--local-link-connection", "port_id",
       "--local-link-connection", "switch_id")
    assert bm("port", "show", port["uuid"])["local_link_connection"] == {}


def test_port_duplicate_mac_fails(make_node, make_port, mac):
    node = make_node()
    address = mac()
    make_port(node["uuid"], address)
    err = bm_fail("port", "create", address, "--node", node["uuid"])
    assert "A port with MAC address %s already exists" % address in err
    assert "HTTP 409" in err
    assert len(bm("port", "list", "--address", address)) == 1


def test_port_invalid_mac_fails(make_node):
    node = make_node()
    err = bm_fail("port", "create", "not-a-mac", "--node", node["uuid"])
    # Ironic: "Expected valid MAC address for address: not-a-mac (HTTP 400)"
    assert "not-a-mac" in err
    assert "MAC" in err
    assert "HTTP 400" in err


def test_port_create_for_missing_node_fails():
    missing = str(uuid.uuid4())
    err = bm_fail("port", "create", random_mac(), "--node", missing)
    # note: Ironic answers 400 (not 404) when the *referenced* node is missing
    assert "Node %s could not be found" % missing in err
    assert "HTTP 400" in err


def test_port_delete(make_node, make_port):
    node = make_node()
    port = make_port(node["uuid"])
    out = bm("port", "delete", port["uuid"])
    assert "Deleted port %s" % port["uuid"] in out
    err = bm_fail("port", "show", port["uuid"])
    assert "Port %s could not be found" % port["uuid"] in err
    assert "HTTP 404" in err
    assert bm("port", "list", "--node", node["uuid"]) == []


# ==========================================================================
# portgroups
# ==========================================================================

def test_portgroup_lifecycle_and_port_membership(make_node, make_port,
                                                 cleanup, uniq, mac):
    node = make_node()
    pg_name = uniq("pg")
    pg_mac = mac()
    cleanup.portgroup(pg_name)
    pg = bm("port", "group", "create",
            "--node", node["uuid"], "--address", pg_mac, "--name", pg_name,
            "--mode", "802.3ad", "--property", "miimon=100",
            "--support-standalone-ports", "--extra", "lag=1")
    cleanup.portgroup(pg["uuid"])
    assert UUID_RE.match(pg["uuid"])
    assert pg["name"] == pg_name
    assert pg["address"] == pg_mac
    assert pg["node_uuid"] == node["uuid"]
    assert pg["mode"] == "802.3ad"
    assert pg["properties"] == {"miimon": 100}
    assert pg["standalone_ports_supported"] is True
    assert pg["extra"] == {"lag": 1}

    shown = bm("port", "group", "show", pg_name)
    assert shown["uuid"] == pg["uuid"]
    assert bm("port", "group", "show", "--address", pg_mac)["uuid"] == \
        pg["uuid"]

    rows = bm("port", "group", "list", "--node", node["uuid"])
    assert rows == [{"uuid": pg["uuid"], "address": pg_mac, "name": pg_name}]
    row = _by_uuid(bm("port", "group", "list", "--long"), pg["uuid"])
    assert row["mode"] == "802.3ad"

    new_name = uniq("pg")
    cleanup.portgroup(new_name)
    bm("port", "group", "set", pg["uuid"], "--name", new_name,
       "--extra", "colour=red", "--mode", "active-backup")
    shown = bm("port", "group", "show", pg["uuid"])
    assert shown["name"] == new_name
    assert shown["extra"] == {"lag": 1, "colour": "red"}
    assert shown["mode"] == "active-backup"
    bm("port", "group", "unset", pg["uuid"], "--extra", "lag")
    assert bm("port", "group", "show", pg["uuid"])["extra"] == {
        "colour": "red"}

    port = make_port(node["uuid"], None, "--port-group", pg["uuid"])
    assert port["portgroup_uuid"] == pg["uuid"]
    assert _uuids(bm("port", "list", "--port-group", pg["uuid"])) == [
        port["uuid"]]
    assert _uuids(bm("port", "list", "--port-group", new_name)) == [
        port["uuid"]]

    # a port group with ports cannot be deleted
    err = bm_fail("port", "group", "delete", pg["uuid"])
    assert "contains ports" in err
    assert "HTTP 400" in err

    bm("port", "unset", port["uuid"], "--port-group")
    assert bm("port", "show", port["uuid"])["portgroup_uuid"] is None

    out = bm("port", "group", "delete", new_name)
    assert "Deleted port group %s" % new_name in out
    err = bm_fail("port", "group", "show", pg["uuid"])
    assert "Portgroup %s could not be found" % pg["uuid"] in err


# ==========================================================================
# chassis
# ==========================================================================

def test_chassis_lifecycle(make_chassis, uniq):
    desc = uniq("chassis")
    ch = make_chassis("--extra", "location=dc1", description=desc)
    assert UUID_RE.match(ch["uuid"])
    assert ch["description"] == desc
    assert ch["extra"] == {"location": "dc1"}

    shown = bm("chassis", "show", ch["uuid"])
    assert shown["uuid"] == ch["uuid"]
    assert shown["description"] == desc

    row = _by_uuid(bm("chassis", "list"), ch["uuid"])
    assert row == {"uuid": ch["uuid"], "description": desc}
    row = _by_uuid(bm("chassis", "list", "--long"), ch["uuid"])
    assert row["extra"] == {"location": "dc1"}

    bm("chassis", "set", ch["uuid"], "--description", "new desc",
       "--extra", "row=7")
    shown = bm("chassis", "show", ch["uuid"])
    assert shown["description"] == "new desc"
    assert shown["extra"] == {"location": "dc1", "row": 7}

    bm("chassis", "unset", ch["uuid"], "--extra", "location")
    assert bm("chassis", "show", ch["uuid"])["extra"] == {"row": 7}

    out = bm("chassis", "delete", ch["uuid"])
    assert "Deleted chassis %s" % ch["uuid"] in out
    err = bm_fail("chassis", "show", ch["uuid"])
    assert "Chassis %s could not be found" % ch["uuid"] in err


def test_node_in_chassis_and_chassis_delete_with_nodes_fails(make_chassis,
                                                             make_node):
    ch = make_chassis()
    node = make_node("--chassis-uuid", ch["uuid"])
    assert node["chassis_uuid"] == ch["uuid"]
    assert bm("node", "show", node["uuid"])["chassis_uuid"] == ch["uuid"]
    assert _uuids(bm("node", "list", "--chassis", ch["uuid"])) == [
        node["uuid"]]

    err = bm_fail("chassis", "delete", ch["uuid"])
    assert "chassis %s contains nodes" % ch["uuid"] in err
    assert "HTTP 400" in err
    assert bm("chassis", "show", ch["uuid"])["uuid"] == ch["uuid"]

    # moving the node out frees the chassis
    bm("node", "unset", node["uuid"], "--chassis-uuid")
    assert bm("node", "show", node["uuid"])["chassis_uuid"] is None
    assert bm("node", "list", "--chassis", ch["uuid"]) == []
    bm("chassis", "delete", ch["uuid"])


# ==========================================================================
# drivers & conductors
# ==========================================================================

def test_driver_list():
    rows = bm("driver", "list")
    by_name = {r["name"]: r for r in rows}
    assert "fake-hardware" in by_name
    assert set(by_name["fake-hardware"]) == {"name", "hosts"}
    # hosts is rendered as a comma-separated string by the CLI
    assert by_name["fake-hardware"]["hosts"]

    long_rows = bm("driver", "list", "--long")
    fake = [r for r in long_rows if r["name"] == "fake-hardware"][0]
    assert fake["type"] == "dynamic"
    assert fake["default_power_interface"] == "fake"

    dynamic = {r["name"] for r in bm("driver", "list", "--type", "dynamic")}
    assert "fake-hardware" in dynamic


def test_driver_show():
    drv = bm("driver", "show", "fake-hardware")
    assert drv["name"] == "fake-hardware"
    assert drv["type"] == "dynamic"
    assert drv["hosts"]
    assert drv["default_power_interface"] == "fake"
    assert drv["default_management_interface"] == "fake"
    assert drv["default_deploy_interface"] == "fake"
    # list values are rendered "a, b" by the CLI
    assert "fake" in [x.strip() for x in
                      drv["enabled_power_interfaces"].split(",")]
    for iface in ("bios", "boot", "console", "deploy", "firmware", "inspect",
                  "management", "network", "power", "raid", "rescue",
                  "storage", "vendor"):
        assert "default_%s_interface" % iface in drv
        assert "enabled_%s_interfaces" % iface in drv

    err = bm_fail("driver", "show", "no-such-driver")
    # Ironic: "Could not find the following driver(s) or hardware type(s):
    # no-such-driver. (HTTP 404)"
    assert "no-such-driver" in err
    assert "HTTP 404" in err


def test_driver_property_list():
    rows = bm("driver", "property", "list", "fake-hardware")
    assert rows, "fake-hardware exposes properties"
    assert all(set(r) == {"property", "description"} for r in rows)
    props = {r["property"]: r["description"] for r in rows}
    # property names are sorted by the CLI
    assert list(props) == sorted(props)
    for p in props.values():
        assert isinstance(p, str) and p


def test_conductor_list_and_show():
    rows = bm("conductor", "list")
    assert rows
    assert all(set(r) == {"hostname", "conductor_group", "alive"}
               for r in rows)
    alive = [r for r in rows if r["alive"] is True]
    assert alive, "at least one live conductor"
    host = alive[0]["hostname"]

    shown = bm("conductor", "show", host)
    assert shown["hostname"] == host
    assert shown["alive"] is True
    assert "fake-hardware" in shown["drivers"]
    assert shown["conductor_group"] == alive[0]["conductor_group"]
    assert "created_at" in shown

    long_rows = bm("conductor", "list", "--long")
    assert "drivers" in [r for r in long_rows if r["hostname"] == host][0]

    err = bm_fail("conductor", "show", "no-such-conductor.example")
    assert "Conductor no-such-conductor.example could not be found" in err
    assert "HTTP 404" in err


def test_node_conductor_field_matches_conductor(make_node):
    node = make_node()
    hosts = {r["hostname"] for r in bm("conductor", "list")
             if r["alive"]}
    assert node["conductor"] in hosts


# ==========================================================================
# conductor-backed actions (deselect with -m "not conductor")
# ==========================================================================

@pytest.mark.conductor
def test_node_power_on_off(make_node):
    node = make_node()
    bm("node", "power", "on", node["uuid"])
    assert bm("node", "show", node["uuid"])["power_state"] == "power on"
    bm("node", "power", "off", node["uuid"])
    shown = bm("node", "show", node["uuid"])
    assert shown["power_state"] == "power off"
    assert shown["target_power_state"] is None


@pytest.mark.conductor
def test_node_manage_and_provide(make_node):
    # noop network + no automated cleaning: provide needs no real cleaning
    node = make_node("--network-interface", "noop", "--no-automated-clean")
    bm("node", "manage", node["uuid"], "--wait", "60")
    shown = bm("node", "show", node["uuid"])
    assert shown["provision_state"] == "manageable"
    assert shown["target_provision_state"] is None

    bm("node", "provide", node["uuid"], "--wait", "60")
    shown = bm("node", "show", node["uuid"])
    assert shown["provision_state"] == "available"
    assert shown["last_error"] is None
    assert node["uuid"] in _uuids(
        bm("node", "list", "--provision-state", "available"))
