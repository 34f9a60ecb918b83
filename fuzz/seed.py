#!/usr/bin/env python3
"""Writes the seed inputs of every target into fuzz/corpus/<target>/ (then `cargo fuzz cmin`
keeps the ones that add coverage). Seeds come from the repository's fixtures (DHCP packets
captured from QEMU's iPXE and the ramdisk, ironic.toml.example, the iPXE templates) and from
the request shapes of Ironic's API and IPA's agent API. qcow2 seeds need qemu-img."""
import hashlib, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def j(v):
    return json.dumps(v).encode()


# DHCP: flags byte + captured packet.
fix = os.path.join(ROOT, "tests", "fixtures", "dhcp")
for name in sorted(os.listdir(fix)):
    text = open(os.path.join(fix, name)).read()
    h = "".join(c for c in text if c in "0123456789abcdefABCDEF")
    pkt = bytes.fromhex(h[: len(h) // 2 * 2])
    for flags in (0x02, 0x03, 0x04, 0x0A, 0x12):
        put("dhcp", bytes([flags]) + pkt)

# TFTP requests and the other packet kinds.
for p in [
    b"\x00\x01undionly.kpxe\x00octet\x00",
    b"\x00\x01/snponly.efi\x00octet\x00blksize\x001468\x00tsize\x000\x00",
    b"\x00\x01ipxe.efi\x00OCTET\x00windowsize\x004\x00timeout\x003\x00",
    b"\x00\x01boot.ipxe\x00netascii\x00",
    b"\x00\x01../../etc/passwd\x00octet\x00",
    b"\x00\x02upload.bin\x00octet\x00tsize\x00100\x00",
    b"\x00\x04\x00\x01",
    b"\x00\x05\x00\x01File not found\x00",
    b"\x00\x06blksize\x00512\x00",
    b"\x00\x03\x00\x01data",
]:
    put("tftp", p)

# API bodies: [selector, microversion, JSON]. Even selectors: create in
# nodes/ports/portgroups/chassis; odd: provision with a node in STATES[sel // 2].
creates = {
    0: [
        {"driver": "ipmi", "name": "node-1", "driver_info": {"ipmi_address": "127.0.0.1",
         "ipmi_password": "s3cret", "ipmi_port": 6230}, "properties": {"cpus": 2},
         "resource_class": "baremetal", "boot_interface": "ipxe", "extra": {"a": 1}},
        {"driver": "fake-hardware", "uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123",
         "network_data": {"links": []}, "owner": "p1", "shard": "s1", "retired": True,
         "automated_clean": False, "description": "d", "instance_info": {"image_source": "x"}},
    ],
    2: [
        {"address": "52:54:00:12:34:56", "node_uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123",
         "pxe_enabled": True, "local_link_connection": {"switch_id": "0a:1b:2c:3d:4e:5f",
         "port_id": "Ethernet3/1"}, "physical_network": "physnet1", "is_smartnic": False},
    ],
    4: [
        {"address": "52:54:00:12:34:57", "node_uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123",
         "name": "pg1", "mode": "active-backup", "standalone_ports_supported": True,
         "properties": {"miimon": 100}},
    ],
    6: [{"description": "rack 1", "extra": {"row": 3}}],
}
for sel, bodies in creates.items():
    for b in bodies:
        for v in (1, 31, 95):
            put("api_body", bytes([sel, v]) + j(b))
prov = [
    {"target": "active", "configdrive": {"meta_data": {"hostname": "h"}, "user_data": "x"}},
    {"target": "deploy", "deploy_steps": [{"interface": "deploy", "step": "s", "args": {},
                                           "priority": 90}]},
    {"target": "clean", "clean_steps": [{"interface": "deploy", "step": "erase_devices"}],
     "disable_ramdisk": True},
    {"target": "rescue", "rescue_password": "pw"},
    {"target": "service", "service_steps": []},
    {"target": "manage"}, {"target": "provide"}, {"target": "abort"}, {"target": "rebuild",
     "configdrive": "H4sI"}, {"target": "inspect"}, {"target": "adopt"}, {"target": "unrescue"},
]
for i, b in enumerate(prov):
    put("api_body", bytes([1 + 2 * (i % 10), 100]) + j(b))

# JSON patch: [collection, microversion, ops].
ops = [
    [{"op": "replace", "path": "/driver_info/ipmi_address", "value": "127.0.0.2"}],
    [{"op": "add", "path": "/extra/new", "value": {"x": [1]}},
     {"op": "remove", "path": "/extra/a/2/b"}],
    [{"op": "replace", "path": "/name", "value": "n2"},
     {"op": "add", "path": "/properties/cpus", "value": 4}],
    [{"op": "remove", "path": "/extra/c~0d~1e"}],
    [{"op": "add", "path": "/extra/a/-", "value": 3}],
    [{"op": "replace", "path": "/maintenance", "value": True}],
    [{"op": "replace", "path": "/address", "value": "52:54:00:aa:bb:cc"}],
    [{"op": "replace", "path": "/mode", "value": "802.3ad"}],
    [{"op": "move", "from": "/extra", "path": "/x"}],
    [{"op": "replace", "path": "", "value": {}}],
]
for i, o in enumerate(ops):
    for col in range(4):
        put("json_patch", bytes([col, 90]) + j(o))

# Query strings of list requests: [collection, microversion, query].
for q in [
    "", "limit=2", "limit=2&sort_key=name&sort_dir=desc", "fields=uuid,name&limit=1",
    "detail=True&limit=1", "maintenance=true&shard=a,b&limit=1&marker=x",
    "sort_key=created_at&fields=uuid%2Cdriver&limit=1", "limit=0", "limit=abc",
    "fields=uuid,address&limit=1&node=n1", "owner=p1&limit=1", "a=%ZZ",
]:
    for col in range(4):
        put("query", bytes([col, 99]) + q.encode())

# Agent: [kind, body].
cmds = [
    ("standby.prepare_image", {"image_info": {"id": "i", "urls": ["http://127.0.0.1/i"],
     "disk_format": "qcow2", "os_hash_algo": "sha256", "os_hash_value": "ab" * 32},
     "configdrive": None}),
    ("clean.execute_clean_step", {"step": {"step": "erase_devices", "interface": "deploy"},
     "node": {}, "ports": [], "clean_version": {}}),
    ("deploy.execute_deploy_step", {"step": {"step": "write_image", "args": {}}, "node": {},
     "ports": []}),
    ("deploy.get_deploy_steps", {"node": {"uuid": "x"}, "ports": []}),
    ("standby.get_partition_uuids", {}), ("log.collect_system_logs", {}),
    ("system.lockdown", {}), ("standby.power_off", {}), ("nope", {}), ("rescue.finalize_rescue",
     {"rescue_password": "x"}),
]
for name, params in cmds:
    put("agent", b"\x00" + j({"name": name, "params": params}))
put("agent", b"\x01" + j({"id": "1", "command_name": "prepare_image", "command_status":
    "FAILED", "command_error": {"message": "m", "details": "d"}, "command_result": None}))
put("agent", b"\x01" + j({"agent_cached_deploy_steps": {"kind": "deploy", "steps":
    {"deploy": [{"interface": "deploy", "step": "write_image", "priority": 80}]}}}))
put("agent", b"\x02" + j({"node": {"uuid": "u", "properties": {}, "instance_info": {},
    "driver_internal_info": {}}, "config": {"heartbeat_timeout": 300, "agent_token": "t",
    "agent_token_required": True, "metrics": {}}}))
put("agent", b"\x03ipa-api-url=http://10.0.0.1:6385 BOOTIF=01-52-54-00-12-34-56 "
    b"ipa-insecure=1 ipa-debug=1 root=/dev/ram0 \"quoted arg\"")

# qcow2: small images (512 B to 4 KiB clusters, v2 and v3, zlib and zstd).
with tempfile.TemporaryDirectory() as t:
    raw = os.path.join(t, "r.raw")
    with open(raw, "wb") as f:
        f.write(os.urandom(4096))
        f.seek(40000)
        f.write(b"A" * 600)
        f.truncate(64 << 10)
    for i, opts in enumerate(["cluster_size=512", "cluster_size=512,compat=0.10",
                              "cluster_size=4096", "cluster_size=1024,compression_type=zlib",
                              "cluster_size=1024,compression_type=zstd"]):
        out = os.path.join(t, f"{i}.qcow2")
        args = ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", opts]
        if "compression" in opts:
            args.append("-c")
        subprocess.run(args + [raw, out], check=True)
        put("qcow2", open(out, "rb").read())
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=512",
                    os.path.join(t, "e.qcow2"), "1M"], check=True)
    put("qcow2", open(os.path.join(t, "e.qcow2"), "rb").read())

# Config files.
put("config", open(os.path.join(ROOT, "ironic.toml.example"), "rb").read())
for c in ["", "[DEFAULT]\nauth_strategy = \"http_basic\"\n",
          "[dhcp]\nenabled = true\nmode = \"full\"\nrange = \"10.0.0.10,10.0.0.20\"\n",
          "[api]\nport = 70000\n", "[conductor]\nsync_power_state_interval = -1\n",
          "[pxe]\nipxe_timeout = 10\n[deploy]\nerase_devices_priority = 0\n"]:
    put("config", c)

# Templates: [selector, values split at NUL]; bit 7: a node's driver_internal_info.
put("template", b"\x00http://10.0.0.1:8080")
put("template", b"\x01n1")
put("template", b"\x02" + b"\x00".join([b"52:54:00:12:34:56", b"not enrolled", b"http://b"]))
put("template", b"\x03" + b"\x00".join([b"n1", b"deploy", b"http://k", b"http://r",
    b"ipa-api-url=http://x", b"http://b", b"--timeout 1000 "]))
put("template", b"\x02a\nchain http://evil\x00b\x00c")
put("template", b"\x83" + j({"boot_intent": {"kind": "ramdisk", "purpose": "deploy",
    "kernel": "deploy_kernel", "ramdisk": "deploy_ramdisk", "append": "ipa-debug=1"}}))
