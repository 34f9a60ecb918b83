"""Metal3's baremetal-operator (BMO) request sequence, replayed with plain `requests` the
way gophercloud sends it (pkg/provisioner/ironic/ in metal3-io/baremetal-operator):
discovery at 1.89, then every call at 1.110; JSON-patch `add` over existing top-level
fields; node names `namespace~name`; a config drive as a JSON object.

The BMCs are sushy-tools' Redfish emulator (tests/lab/sushy_fake.py, installed by
tests/lab/sushy.sh) on loopback, started by this module; images come from a small HTTP
server on loopback. There is no agent: the deploy with `custom-agent` and a priority-80
user step goes as far as `wait call-back` (the agent never calls), which is where BMO
aborts it; the complete provisioning path uses `adopt` (BMO's externally provisioned
hosts) and `fake-hardware`'s fake deploy. Software RAID is left to its own tests.
"""

import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import requests

from conftest import IRONIC_URL as _unused  # noqa: F401  (conftest sets it at start)
import conftest

pytestmark = pytest.mark.conductor

BASELINE = "1.89"
CHOSEN = "1.110"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ironic:
    """gophercloud's baremetal client: one microversion header on every request."""

    def __init__(self, microversion):
        self.mv = microversion
        self.s = requests.Session()

    def call(self, method, path, body=None, mv=None):
        h = {"X-OpenStack-Ironic-API-Version": mv or self.mv, "Accept": "application/json"}
        r = self.s.request(method, conftest.IRONIC_URL + path, json=body, headers=h, timeout=30)
        try:
            payload = r.json() if r.content else None
        except ValueError:
            payload = r.text
        return r.status_code, payload

    def ok(self, method, path, body=None, expect=(200, 201, 202, 204), mv=None):
        status, payload = self.call(method, path, body, mv)
        assert status in expect, (method, path, status, payload)
        return payload

    def node(self, ident):
        return self.ok("GET", "/v1/nodes/%s" % ident)

    def verb(self, ident, target, **args):
        body = dict(args, target=target)
        return self.ok("PUT", "/v1/nodes/%s/states/provision" % ident, body, expect=(202,))

    def wait(self, ident, states, timeout=90):
        states = [states] if isinstance(states, str) else states
        deadline = time.monotonic() + timeout
        while True:
            n = self.node(ident)
            # Wait and failed states keep their target; stable ones have none.
            state = n["provision_state"]
            settled = (n.get("target_provision_state") is None or "wait" in state
                       or "failed" in state)
            if n["provision_state"] in states and settled:
                return n
            assert time.monotonic() < deadline, "waited for %s: %s" % (states, n)
            time.sleep(0.3)

    def patch_add(self, ident, **fields):
        # updateopts.go: every top-level update is an `add`, existing or not.
        ops = [{"op": "add", "path": "/" + k, "value": v} for k, v in fields.items()]
        return self.ok("PATCH", "/v1/nodes/%s" % ident, ops, expect=(200,))


def _fault(payload):
    return json.loads(payload["error_message"])["faultstring"]


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def files():
    """A loopback HTTP server for the ISOs and firmware images the BMC fetches."""
    d = tempfile.mkdtemp(prefix="bmo-files-")
    for name in ("deploy.iso", "data.iso", "bios-1.1.bin"):
        with open(os.path.join(d, name), "wb") as f:
            f.write(b"not really an image; the emulator only stores it\n")
    handler = lambda *a, **k: _Files(*a, directory=d, **k)  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()


SYSTEMS = {name: str(uuid.uuid4()) for name in ("seq", "vmedia", "idrac", "https", "agent")}


@pytest.fixture(scope="module")
def bmc():
    """sushy-tools' emulator with one fake system per test node, no auth, on loopback."""
    python = subprocess.run(["bash", os.path.join(ROOT, "tests/lab/sushy.sh")],
                            check=True, capture_output=True, text=True).stdout.strip()
    d = tempfile.mkdtemp(prefix="bmo-sushy-")
    systems = ",\n".join(
        '{"uuid": "%s", "name": "bmo-%s", "power_state": "Off", "external_notifier": False,'
        ' "nics": [{"mac": "52:54:00:bb:%02x:01", "ip": "10.0.0.%d"}], "cpus": 2,'
        ' "memory_gib": 4, "disks": [{"name": "sda", "size_bytes": 21474836480}]}'
        % (u, n, i, i + 2) for i, (n, u) in enumerate(SYSTEMS.items()))
    with open(os.path.join(d, "emulator.conf"), "w") as f:
        f.write('SUSHY_EMULATOR_STATE_DIR = "%s/state"\nIRONBOX_POWER_DELAY = 1\n'
                'IRONBOX_REQUEST_LOG = "%s/requests.log"\n'
                "SUSHY_EMULATOR_FAKE_SYSTEMS = [%s]\n" % (d, d, systems))
    port = _free_port()
    log = open(os.path.join(d, "emulator.log"), "w")
    proc = subprocess.Popen([python, os.path.join(ROOT, "tests/lab/sushy_fake.py"),
                             "--config", os.path.join(d, "emulator.conf"),
                             "-i", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url + "/redfish/v1/Systems", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, open(
            os.path.join(d, "emulator.log")).read()
        time.sleep(0.2)
    yield {"url": url, "dir": d}
    proc.terminate()
    proc.wait(10)


def _requests_seen(bmc):
    path = os.path.join(bmc["dir"], "requests.log")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture
def api(cleanup):
    """Discovery as features.go does it, then the chosen microversion."""
    base = Ironic(BASELINE)
    status, doc = base.call("GET", "/v1/")
    assert status in (200, 300), doc
    assert doc["id"] == "v1" and doc["version"]["min_version"] == "1.1", doc
    maximum = int(doc["version"]["version"].split(".")[1])
    assert maximum >= 110, doc
    drivers = base.ok("GET", "/v1/drivers")["drivers"]
    assert drivers, "BMO needs at least one driver"
    a = Ironic(CHOSEN)
    a.cleanup = cleanup
    return a


def _redfish_info(bmc, system, **extra):
    info = {"redfish_address": bmc["url"], "redfish_system_id": "/redfish/v1/Systems/" + system,
            "redfish_username": "admin", "redfish_password": "password",
            "redfish_verify_ca": False, "deploy_kernel": "http://127.0.0.1:9/ipa.kernel",
            "deploy_ramdisk": "http://127.0.0.1:9/ipa.initramfs",
            "kernel_append_params": "%default% console=ttyS0",
            "force_persistent_boot_device": "Default"}
    info.update(extra)
    return info


def _enroll(api, uniq, driver, driver_info, **ifaces):
    """register.go enrollNode: every interface named, capabilities, cpu_arch."""
    body = {"driver": driver, "name": "metal3~" + uniq("bmo"), "driver_info": driver_info,
            "disable_power_off": False,
            "properties": {"capabilities": "boot_mode:uefi", "cpu_arch": "x86_64"}}
    for kind in ("bios", "boot", "deploy", "firmware", "inspect", "management", "power",
                 "raid", "vendor"):
        body[kind + "_interface"] = ifaces.get(kind, "")
    body = {k: v for k, v in body.items() if v != ""}
    status, n = api.call("POST", "/v1/nodes", body)
    if status == 201:
        api.cleanup.node(n["uuid"])
    return status, n


# The BMC types of §1.6 ironbox has, with what BMO sets for each (bmc/*.go). `idrac`
# keeps raid at no-raid: ironbox has no idrac-redfish (hardware) RAID interface yet.
BMC_TYPES = {
    "ipmi": ("ipmi", {"boot": "ipxe", "raid": "no-raid", "inspect": "agent"}),
    "redfish": ("redfish", {"boot": "ipxe", "firmware": "redfish", "inspect": "redfish",
                            "raid": "no-raid"}),
    "redfish-virtualmedia": ("redfish", {"boot": "redfish-virtual-media",
                                         "firmware": "redfish", "raid": "no-raid"}),
    "idrac-redfish": ("idrac", {"boot": "ipxe", "bios": "idrac-redfish",
                                "management": "idrac-redfish", "power": "idrac-redfish",
                                "vendor": "idrac-redfish", "firmware": "redfish",
                                "inspect": "redfish"}),
    "idrac-virtualmedia": ("idrac", {"boot": "idrac-redfish-virtual-media",
                                     "bios": "idrac-redfish", "management": "idrac-redfish",
                                     "power": "idrac-redfish", "vendor": "idrac-redfish",
                                     "firmware": "redfish"}),
    "redfish-uefihttp": ("redfish", {"boot": "redfish-https", "firmware": "redfish",
                                     "inspect": "redfish", "raid": "no-raid"}),
}


@pytest.mark.parametrize("bmc_type", [
    t if t != "redfish-uefihttp" else pytest.param(
        t, marks=pytest.mark.xfail(strict=True, reason="no redfish-https boot interface yet"))
    for t in BMC_TYPES])
def test_enroll_each_bmc_type_and_verify(api, bmc, files, uniq, bmc_type):
    driver, ifaces = BMC_TYPES[bmc_type]
    system = SYSTEMS["idrac" if driver == "idrac" else "vmedia"]
    if driver == "ipmi":
        info = {"ipmi_address": "127.0.0.1", "ipmi_port": 9, "ipmi_username": "admin",
                "ipmi_password": "password", "ipmi_priv_level": "ADMINISTRATOR",
                "deploy_kernel": "http://127.0.0.1:9/k", "deploy_ramdisk": "http://127.0.0.1:9/r"}
    else:
        info = _redfish_info(bmc, system)
        if "virtualmedia" in bmc_type:
            info["deploy_iso"] = files + "/deploy.iso"
    status, n = _enroll(api, uniq, driver, info, **ifaces)
    assert status == 201, n
    assert n["name"].startswith("metal3~")
    for kind, name in ifaces.items():
        assert n[kind + "_interface"] == name, (kind, n)
    assert n["driver_info"].get("ipmi_password", n["driver_info"].get("redfish_password")) \
        == "******"
    # Found by name, as findExistingHost does.
    assert api.node(n["name"])["uuid"] == n["uuid"]
    if driver == "ipmi":
        return  # nothing answers IPMI here; the enrolment is what BMO checks first
    api.verb(n["uuid"], "manage")
    m = api.wait(n["uuid"], "manageable")
    assert m["last_error"] is None, m
    v = api.ok("GET", "/v1/nodes/%s/validate" % n["uuid"])
    assert v["power"]["result"] is True and v["management"]["result"] is True, v


def test_the_bmo_sequence_on_a_redfish_node(api, bmc, files, uniq):
    info = _redfish_info(bmc, SYSTEMS["seq"])
    status, n = _enroll(api, uniq, "redfish", info, **BMC_TYPES["redfish"][1])
    assert status == 201, n
    u = n["uuid"]
    # JSON-patch add over fields that already have values (updateopts.go).
    n = api.patch_add(u, automated_clean=False, name=n["name"] + "-2",
                      properties={"capabilities": "boot_mode:uefi", "cpu_arch": "x86_64"})
    assert n["automated_clean"] is False and n["name"].endswith("-2")
    port = api.ok("POST", "/v1/ports", {"node_uuid": u, "address": "52:54:00:bb:00:01",
                                         "pxe_enabled": True}, expect=(201,))
    api.cleanup.port(port["uuid"])
    found = api.ok("GET", "/v1/ports?address=52:54:00:bb:00:01&fields=node_uuid,uuid,address")
    assert found["ports"] == [{"node_uuid": u, "uuid": port["uuid"],
                               "address": "52:54:00:bb:00:01", "links": found["ports"][0]["links"]}]
    assert api.ok("GET", "/v1/ports?node_uuid=%s" % u)["ports"][0]["uuid"] == port["uuid"]

    # Register → inspect out of band → inventory (inspecthardware.go).
    api.verb(u, "manage")
    api.wait(u, "manageable")
    status, _ = api.call("GET", "/v1/nodes/%s/inventory" % u)
    assert status == 404  # BMO starts inspection on 404
    api.verb(u, "inspect")
    n = api.wait(u, "manageable")
    assert n["last_error"] is None, n
    inv = api.ok("GET", "/v1/nodes/%s/inventory" % u)
    assert inv["inventory"]["memory"]["physical_mb"] == 4096, inv
    assert inv["inventory"]["cpu"]["count"] == 2, inv
    assert [d["size"] for d in inv["inventory"]["disks"]] == [21474836480], inv
    # (sushy-tools' fake driver hands out its NICs loosely across systems: only the shape.)
    assert all(i["mac_address"].startswith("52:54:00:bb:")
               for i in inv["inventory"]["interfaces"]) and inv["inventory"]["interfaces"], inv

    # HostFirmwareSettings with its schema, HostFirmwareComponents.
    bios = api.ok("GET", "/v1/nodes/%s/bios?detail=true" % u)["bios"]
    turbo = [b for b in bios if b["name"] == "ProcTurboMode"][0]
    assert turbo["value"] == "Enabled" and turbo["attribute_type"] == "Enumeration", turbo
    assert "Disabled" in turbo["allowable_values"], turbo
    for key in ("lower_bound", "upper_bound", "min_length", "max_length", "read_only",
                "unique"):
        assert key in turbo, (key, turbo)
    fw = api.ok("GET", "/v1/nodes/%s/firmware" % u)["firmware"]
    assert [c for c in fw if c["component"] == "bios"][0]["current_version"] == "1.0.0", fw

    # Manual cleaning: BIOS settings, then a firmware update (buildManualCleaningSteps).
    api.verb(u, "clean", clean_steps=[
        {"interface": "bios", "step": "apply_configuration",
         "args": {"settings": [{"name": "ProcTurboMode", "value": "Disabled"}]}},
        {"interface": "firmware", "step": "update",
         "args": {"settings": [{"component": "bios", "url": files + "/bios-1.1.bin"}]}}])
    n = api.wait(u, ["manageable", "clean failed"], timeout=120)
    assert n["provision_state"] == "manageable" and n["last_error"] is None, n
    bios = api.ok("GET", "/v1/nodes/%s/bios" % u)["bios"]
    assert {b["name"]: b["value"] for b in bios}["ProcTurboMode"] == "Disabled", bios
    fw = api.ok("GET", "/v1/nodes/%s/firmware" % u)["firmware"]
    bfw = [c for c in fw if c["component"] == "bios"][0]
    assert bfw["current_version"] == "1.1.0" and bfw["initial_version"] == "1.0.0", bfw
    update = [r for r in _requests_seen(bmc) if r["path"].endswith("SimpleUpdate")]
    assert update and update[-1]["body"]["ImageURI"] == files + "/bios-1.1.bin", update

    # Hardware RAID as raid.go sends it: no-raid refuses it in Ironic's words.
    raid = {"logical_disks": [{"size_gb": "MAX", "raid_level": "1", "is_root_volume": True,
                               "controller": "RAID.Integrated.1-1"}]}
    status, body = api.call("PUT", "/v1/nodes/%s/states/raid" % u, raid)
    assert status == 400, body

    # Provide, deploy with custom-agent: config drive dict + a user step at priority 80.
    api.verb(u, "provide")
    api.wait(u, "available")
    api.patch_add(u, deploy_interface="custom-agent",
                  instance_info={"image_source": files + "/disk.img",
                                 "image_os_hash_algo": "sha256",
                                 "image_os_hash_value": "0" * 64,
                                 "image_disk_format": "raw",
                                 "capabilities": {"secure_boot": "false"}})
    v = api.ok("GET", "/v1/nodes/%s/validate" % u)
    assert v["deploy"]["result"] is True and v["boot"]["result"] is True, v
    api.verb(u, "active",
             configdrive={"user_data": "#cloud-config\n", "meta_data": {"uuid": u},
                          "network_data": {"links": [], "networks": [], "services": []}},
             deploy_steps=[{"interface": "deploy", "step": "install_coreos", "args": {},
                            "priority": 80}])
    n = api.wait(u, "wait call-back")
    assert n["deploy_step"]["step"] == "deploy", n
    # The ramdisk's command line: the default, then what %default% was followed by.
    boot = api.ok("GET", "/v1/nodes/%s?fields=driver_internal_info" % u)
    assert "console=ttyS0" in json.dumps(boot), boot
    # Abort from wait call-back (1.110; BMO sends `deleted` below that).
    status, body = Ironic("1.109").call("PUT", "/v1/nodes/%s/states/provision" % u,
                                        {"target": "abort"})
    assert status == 406, body
    api.verb(u, "abort")
    n = api.wait(u, "deploy failed")
    api.verb(u, "deleted")
    n = api.wait(u, "available")

    # Adopt (externally provisioned), service with BIOS settings, deprovision.
    api.verb(u, "manage")
    api.wait(u, "manageable")
    api.patch_add(u, deploy_interface="direct",
                  instance_info={"image_source": files + "/disk.img",
                                 "image_checksum": "0" * 32})
    api.verb(u, "adopt")
    n = api.wait(u, "active")
    assert n["last_error"] is None, n
    api.verb(u, "service", service_steps=[
        {"interface": "bios", "step": "apply_configuration",
         "args": {"settings": [{"name": "ProcTurboMode", "value": "Enabled"}]}}])
    n = api.wait(u, ["active", "service failed"])
    assert n["provision_state"] == "active" and n["last_error"] is None, n
    bios = api.ok("GET", "/v1/nodes/%s/bios" % u)["bios"]
    assert {b["name"]: b["value"] for b in bios}["ProcTurboMode"] == "Enabled", bios
    api.verb(u, "deleted")
    api.wait(u, "available")

    # loadBusyHosts.
    listed = api.ok("GET", "/v1/nodes?fields=uuid,name,provision_state,boot_interface")
    mine = [x for x in listed["nodes"] if x["uuid"] == u]
    assert mine and set(mine[0]) == {"uuid", "name", "provision_state", "boot_interface",
                                     "links"}, mine
    assert mine[0]["boot_interface"] == "ipxe"
    api.ok("DELETE", "/v1/ports/%s" % port["uuid"], expect=(204,))
    api.ok("DELETE", "/v1/nodes/%s" % u, expect=(204,))
    status, _ = api.call("GET", "/v1/nodes/%s" % u)
    assert status == 404


def test_dataimage_virtual_media_on_a_redfish_node(api, bmc, files, uniq):
    info = _redfish_info(bmc, SYSTEMS["vmedia"], deploy_iso=files + "/deploy.iso")
    status, n = _enroll(api, uniq, "redfish", info,
                        **BMC_TYPES["redfish-virtualmedia"][1])
    assert status == 201, n
    u = n["uuid"]
    api.verb(u, "manage")
    api.wait(u, "manageable")
    image = files + "/data.iso"
    api.ok("POST", "/v1/nodes/%s/vmedia" % u, {"device_type": "cdrom", "image_url": image},
           expect=(204,))

    def cd_becomes(inserted):
        # The BMC is told on a worker after the 204, as Ironic does.
        deadline = time.monotonic() + 30
        while True:
            listed = api.ok("GET", "/v1/nodes/%s/vmedia" % u)
            cd = [d for d in listed if "CD" in d["media_types"]]
            if cd and cd[0]["inserted"] is inserted:
                return cd[0]
            assert time.monotonic() < deadline, (listed, api.node(u)["last_error"])
            time.sleep(0.3)

    assert cd_becomes(True)["image"] == image
    api.ok("DELETE", "/v1/nodes/%s/vmedia?device_types=cdrom" % u, expect=(204,))
    cd_becomes(False)
    status, body = api.call("POST", "/v1/nodes/%s/vmedia" % u,
                            {"device_type": "tape", "image_url": image})
    assert status == 400, body


def test_fake_hardware_deploy_with_a_config_drive_and_raid(api, uniq):
    """The whole provisioning path where no agent is needed: fake deploy, fake RAID."""
    status, n = _enroll(api, uniq, "fake-hardware", {}, deploy="fake", raid="fake",
                        boot="fake")
    assert status == 201, n
    u = n["uuid"]
    raid = {"logical_disks": [{"size_gb": 100, "raid_level": "1", "is_root_volume": True}]}
    api.ok("PUT", "/v1/nodes/%s/states/raid" % u, raid, expect=(204,))
    assert api.node(u)["target_raid_config"] == raid
    api.patch_add(u, automated_clean=False,
                  instance_info={"image_source": "http://127.0.0.1:9/disk.img",
                                 "image_checksum": "0" * 32})
    api.verb(u, "manage")
    api.wait(u, "manageable")
    api.verb(u, "provide")
    api.wait(u, "available")
    api.verb(u, "active", configdrive={"user_data": "#cloud-config\n",
                                       "meta_data": {"uuid": u}})
    n = api.wait(u, "active")
    assert n["last_error"] is None, n
    api.verb(u, "deleted")
    api.wait(u, "available")


def test_aborts_from_the_wait_states_bmo_aborts(api, bmc, uniq):
    """inspect wait (agent inspection), clean wait (an agent clean step): BMO's aborts."""
    info = _redfish_info(bmc, SYSTEMS["agent"])
    status, n = _enroll(api, uniq, "redfish", info, boot="ipxe", inspect="agent",
                        raid="no-raid")
    assert status == 201, n
    u = n["uuid"]
    api.patch_add(u, automated_clean=False)
    api.verb(u, "manage")
    api.wait(u, "manageable")
    api.verb(u, "inspect")
    api.wait(u, "inspect wait")
    api.verb(u, "abort")
    n = api.wait(u, "inspect failed")
    api.verb(u, "manage")
    api.wait(u, "manageable")
    api.verb(u, "clean", clean_steps=[{"interface": "deploy",
                                       "step": "erase_devices_metadata"}])
    api.wait(u, "clean wait")
    api.verb(u, "abort")
    n = api.wait(u, "clean failed")
    assert "abort" in (n["last_error"] or "").lower(), n
    api.verb(u, "manage")
    api.wait(u, "manageable")


def test_bad_bmo_inputs_get_ironics_errors(api, bmc, uniq):
    # An interface name no hardware type has.
    status, body = _enroll(api, uniq, "redfish", _redfish_info(bmc, SYSTEMS["seq"]),
                           deploy="no-such-deploy")
    assert status == 400, body
    # idrac refuses the plain redfish power interface, as Ironic's idrac type does.
    status, body = _enroll(api, uniq, "idrac", _redfish_info(bmc, SYSTEMS["idrac"]),
                           power="ipmitool")
    assert status == 400 and "idrac" in _fault(body), body
    # force_persistent_boot_device outside Default|Always|Never fails the verify step.
    status, n = _enroll(api, uniq, "redfish", _redfish_info(
        bmc, SYSTEMS["seq"], force_persistent_boot_device="Sometimes"),
        **BMC_TYPES["redfish"][1])
    assert status == 201, n
    status, body = api.call("PUT", "/v1/nodes/%s/management/boot_device" % n["uuid"],
                            {"boot_device": "pxe", "persistent": False})
    assert status == 400, body
    assert "force_persistent_boot_device" in _fault(body) and "Sometimes" in _fault(body)
    # A custom-agent deploy step with a malformed body is refused before anything runs.
    status, f = _enroll(api, uniq, "fake-hardware", {}, deploy="custom-agent")
    assert status == 201, f
    api.patch_add(f["uuid"], automated_clean=False)
    api.verb(f["uuid"], "manage")
    api.wait(f["uuid"], "manageable")
    api.verb(f["uuid"], "provide")
    api.wait(f["uuid"], "available")
    status, body = api.call("PUT", "/v1/nodes/%s/states/provision" % f["uuid"],
                            {"target": "active", "deploy_steps": [
                                {"interface": "deploy", "step": "install_coreos",
                                 "priority": "high"}]})
    assert status == 400, body
    assert api.node(f["uuid"])["provision_state"] == "available"


def test_bmc_event_subscriptions_through_vendor_passthru(api, bmc, uniq):
    """BMCEventSubscription: create (HttpHeaders reach the BMC, never come back), list,
    delete; bad arguments in Ironic's words."""
    status, n = _enroll(api, uniq, "redfish", _redfish_info(bmc, SYSTEMS["seq"]),
                        **BMC_TYPES["redfish"][1])
    assert status == 201 and n["vendor_interface"] == "redfish", n
    u = n["uuid"]
    methods = api.ok("GET", "/v1/nodes/%s/vendor_passthru/methods" % u)
    assert methods["create_subscription"]["http_methods"] == ["POST"], methods
    secret = "Bearer sekrit-%s" % uuid.uuid4().hex
    path = "/v1/nodes/%s/vendor_passthru?method=" % u
    sub = api.ok("POST", path + "create_subscription",
                 {"Destination": "https://hooks.example.com/events", "Context": "metal3~h1",
                  "EventTypes": ["Alert"], "HttpHeaders": [{"Authorization": secret}]})
    assert sub["Destination"] == "https://hooks.example.com/events", sub
    assert sub["Context"] == "metal3~h1" and sub["Protocol"] == "Redfish", sub
    assert secret not in json.dumps(sub) and "HttpHeaders" not in sub, sub
    sent = [r for r in _requests_seen(bmc) if r["path"].endswith("/Subscriptions")]
    assert sent[-1]["body"]["HttpHeaders"] == [{"Authorization": secret}], sent
    listed = api.ok("GET", path + "get_subscriptions")
    assert {"@odata.id": "/redfish/v1/EventService/Subscriptions/" + sub["Id"]} \
        in listed["Members"], listed
    api.ok("DELETE", path + "delete_subscription", {"id": sub["Id"]})
    listed = api.ok("GET", path + "get_subscriptions")
    assert listed["Members"] == [] or all(
        not m["@odata.id"].endswith("/" + sub["Id"]) for m in listed["Members"]), listed

    for body, words in (
            ({"Destination": "not a url"}, "Destination not a url is not a valid URI"),
            ({}, "Destination None is not a valid URI"),
            ({"Destination": "https://h/e", "Context": 5}, "Context 5 is not a valid string"),
            ({"Destination": "https://h/e", "EventTypes": ["Nope"]}, "EventTypes"),
            ({"Destination": "https://h/e", "HttpHeaders": secret}, "HttpHeaders")):
        status, err = api.call("POST", path + "create_subscription", body)
        assert status == 400 and words in _fault(err), (body, status, err)
        assert secret not in json.dumps(err)
    status, err = api.call("DELETE", path + "delete_subscription", {})
    assert status == 400 and "id can't be None" in _fault(err), err
    status, err = api.call("DELETE", path + "delete_subscription",
                           {"id": "../../Systems/" + SYSTEMS["seq"]})
    assert status == 400, err
    status, err = api.call("DELETE", path + "delete_subscription", {"id": "999"})
    assert status >= 400 and "999" in _fault(err), err
