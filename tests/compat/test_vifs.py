"""VIFs (API 1.28) through openstacksdk: attach, list and detach on a node with the
``flat`` network interface (VIFs kept on its ports, as standalone Ironic keeps them)
and with ``noop`` (accepted and forgotten, as Ironic's noop does; openstacksdk's own
functional test relies on that).
"""

import pytest
from openstack import exceptions as os_exc

from conftest import http, random_mac


@pytest.fixture
def vif_node(sdk, cleanup, uniq):
    def make(network_interface):
        name = uniq("vif")
        cleanup.node(name)
        node = sdk.baremetal.create_node(
            driver="fake-hardware", name=name,
            network_interface=network_interface)
        cleanup.node(node.id)
        return node
    return make


def test_sdk_vifs_on_flat_ports(sdk, vif_node, cleanup):
    node = vif_node("flat")
    ports = []
    for _ in range(2):
        p = sdk.baremetal.create_port(node_id=node.id, address=random_mac())
        cleanup.port(p.id)
        ports.append(p)
    sdk.baremetal.attach_vif_to_node(node, "cmp-vif-1")
    sdk.baremetal.attach_vif_to_node(node, "cmp-vif-2", port=ports[1].id)
    assert sdk.baremetal.list_node_vifs(node) == ["cmp-vif-1", "cmp-vif-2"]
    st, _, body = http("GET", "/v1/ports/%s" % ports[1].id,
                       microversion="1.67")
    assert st == 200
    assert body["internal_info"]["tenant_vif_port_id"] == "cmp-vif-2"
    # No free port left: Ironic's 400.
    with pytest.raises(os_exc.BadRequestException) as ei:
        sdk.baremetal.attach_vif_to_node(node, "cmp-vif-3")
    assert "not enough free physical ports" in str(ei.value)
    assert sdk.baremetal.detach_vif_from_node(node, "cmp-vif-1") is True
    # An unknown VIF: False, or Ironic's 400 when asked not to ignore it.
    assert sdk.baremetal.detach_vif_from_node(node, "cmp-vif-1") is False
    with pytest.raises(os_exc.BadRequestException):
        sdk.baremetal.detach_vif_from_node(node, "cmp-vif-1",
                                           ignore_missing=False)
    assert sdk.baremetal.list_node_vifs(node) == ["cmp-vif-2"]
    # A port a VIF is bound to cannot be deleted (Ironic's 409) until it is detached.
    st, _, body = http("DELETE", "/v1/ports/%s" % ports[1].id)
    assert st == 409, body
    assert "bound to VIF cmp-vif-2" in body["error_message"]
    assert sdk.baremetal.detach_vif_from_node(node, "cmp-vif-2") is True
    assert sdk.baremetal.list_node_vifs(node) == []


def test_sdk_vifs_on_noop(sdk, vif_node):
    node = vif_node("noop")
    sdk.baremetal.attach_vif_to_node(node, "cmp-vif-noop")
    assert sdk.baremetal.list_node_vifs(node) == []
    assert sdk.baremetal.detach_vif_from_node(
        node, "cmp-vif-noop", ignore_missing=False) is True
