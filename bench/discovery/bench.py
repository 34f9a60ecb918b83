#!/usr/bin/env python3
"""1,000 simulated discovery inspections posted in parallel to a real ironbox.

Starts `ironbox serve` (debug or release binary, given as argv[1]) on an ephemeral port
with a fresh SQLite file and auto-discovery on, posts one IPA-shaped inventory per
simulated machine (each machine posted twice, so recognition is exercised too) from a
thread pool, then checks through the API that every machine became exactly one node.
Standard library only.
"""
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

MACHINES = int(os.environ.get("MACHINES", "1000"))
WORKERS = int(os.environ.get("WORKERS", "32"))


def inventory(i):
    mac = lambda n: "52:54:%02x:%02x:%02x:%02x" % ((i >> 16) & 255, (i >> 8) & 255, i & 255, n)
    return {"inventory": {
        "interfaces": [
            {"name": "eth0", "mac_address": mac(1), "ipv4_address": "192.0.2.10", "has_carrier": True},
            {"name": "eth1", "mac_address": mac(2), "ipv4_address": None, "has_carrier": True},
        ],
        "cpu": {"architecture": "x86_64", "count": 8},
        "memory": {"physical_mb": 16384},
        "disks": [{"name": "/dev/sda", "size": 480 << 30, "rotational": False, "model": "ssd"}],
        "boot": {"current_boot_mode": "uefi", "pxe_interface": mac(1)},
        "bmc_address": "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255),
    }}


def post(url, body):
    req = urllib.request.Request(url + "/v1/continue_inspection", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    for _ in range(50):
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.load(r)["uuid"]
        except urllib.error.HTTPError as e:
            if e.code not in (409, 503):
                return e.code, None
            time.sleep(0.2)
    return 0, None


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/ironbox"
    d = tempfile.mkdtemp(prefix="ironbox-discovery-bench-")
    cfg = os.path.join(d, "ironic.toml")
    with open(cfg, "w") as f:
        f.write('[DEFAULT]\nstate_path = "%s"\nhost = "bench"\n[api]\nport = 0\n'
                '[auto_discovery]\nenabled = true\ndriver = "fake-hardware"\n'
                'max_enrollments_per_minute = 0\n' % os.path.join(d, "data"))
    log = open(os.path.join(d, "ironbox.log"), "w")
    proc = subprocess.Popen([binary, "serve", "--config", cfg], stdout=log, stderr=log)
    try:
        ep = os.path.join(d, "data", "endpoints.json")
        for _ in range(300):
            if os.path.exists(ep):
                break
            time.sleep(0.1)
        url = json.load(open(ep))["api"]
        # Each machine twice, back to back: its two posts race each other in the pool.
        jobs = [i for i in range(MACHINES) for _ in (0, 1)]
        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(lambda i: (i, post(url, inventory(i))), jobs))
        took = time.monotonic() - t0
        bad = [(i, s) for i, (s, _) in results if s != 202]
        per_machine = {}
        for i, (_, u) in results:
            per_machine.setdefault(i, set()).add(u)
        twice = [i for i, us in per_machine.items() if len(us) != 1]
        # Count in the database itself: an API page stops at [api] max_limit.
        import sqlite3
        db = sqlite3.connect(os.path.join(d, "data", "ironbox.sqlite"))
        nodes = [r[0] for r in db.execute("SELECT uuid FROM nodes")]
        ports = db.execute("SELECT count(*) FROM ports").fetchone()[0]
        out = {
            "machines": MACHINES, "posts": len(jobs), "workers": WORKERS,
            "seconds": round(took, 2), "posts_per_second": round(len(jobs) / took, 1),
            "nodes": len(nodes), "ports": ports, "failed_posts": len(bad), "machines_with_two_nodes": len(twice),
        }
        print(json.dumps(out, indent=2))
        ok = not bad and not twice and len(nodes) == MACHINES
        sys.exit(0 if ok else 1)
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
