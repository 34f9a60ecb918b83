"""Virtual media (1.89 attach/detach, 1.93 list) through openstacksdk, as Metal3's
DataImage uses the API: attach a CD image, see it listed, detach by device type.

Against ironbox the fake-hardware management interface keeps what is attached on the
node; a real Ironic's fake-hardware refuses virtual media (its GET answers 400), so
those checks are skipped there.
"""

import time

import pytest
from openstack import exceptions as os_exc

from conftest import http

pytestmark = pytest.mark.conductor


def _listed(node_id):
    status, _, body = http("GET", "/v1/nodes/%s/vmedia" % node_id, microversion="1.93")
    return status, body


def _wait_cd(node_id, inserted):
    deadline = time.monotonic() + 30
    while True:
        status, body = _listed(node_id)
        assert status == 200, body
        cd = [d for d in body if "CD" in d["media_types"]]
        if cd and cd[0]["inserted"] is inserted:
            return cd[0]
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_sdk_vmedia_attach_list_detach(sdk, cleanup, uniq):
    name = uniq("vm")
    cleanup.node(name)
    node = sdk.baremetal.create_node(driver="fake-hardware", name=name)
    cleanup.node(node.id)
    status, body = _listed(node.id)
    if status == 400 and "does not support get_virtual_media" in str(body):
        pytest.skip("this server's fake-hardware has no virtual media")
    url = "http://192.0.2.10/data.iso"
    sdk.baremetal.attach_vmedia_to_node(node, device_type="cdrom", image_url=url)
    assert _wait_cd(node.id, True)["image"] == url
    # openstacksdk sends the device types in a JSON body on DELETE.
    sdk.baremetal.detach_vmedia_from_node(node, device_types=["cdrom"])
    _wait_cd(node.id, False)


def test_sdk_vmedia_refusals(sdk, cleanup, uniq):
    name = uniq("vm")
    cleanup.node(name)
    node = sdk.baremetal.create_node(driver="fake-hardware", name=name)
    cleanup.node(node.id)
    with pytest.raises(os_exc.BadRequestException) as e:
        sdk.baremetal.attach_vmedia_to_node(
            node, device_type="usb", image_url="http://192.0.2.10/x.iso")
    assert "'usb' is not one of ['disk', 'cdrom', 'floppy']" in str(e.value)
    with pytest.raises(os_exc.BadRequestException) as e:
        sdk.baremetal.attach_vmedia_to_node(
            node, device_type="cdrom", image_url="ftp://192.0.2.10/x.iso")
    assert "Unsupported or missing URL scheme: ftp" in str(e.value)
    with pytest.raises(os_exc.NotFoundException):
        sdk.baremetal.attach_vmedia_to_node(
            "cmp-no-such-node", device_type="cdrom",
            image_url="http://192.0.2.10/x.iso")
    # Below 1.89 the path does not exist.
    status, _, _ = http("POST", "/v1/nodes/%s/vmedia" % node.id,
                        body={"device_type": "cdrom",
                              "image_url": "http://192.0.2.10/x.iso"},
                        microversion="1.88")
    assert status == 404
