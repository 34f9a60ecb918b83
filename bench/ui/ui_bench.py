#!/usr/bin/env python3
"""Benchmark of the operator console's Machines view (see bench/ui/README.md).

Two parts, each on its own fresh ironbox (release build, temp state_path, port 0):

  render  --nodes N (10,000) nodes created over the API, then GET /ui/machines variants:
          time to first byte and to the whole body, median/p90 over --repeat runs.
  live    --viewers V (100) SSE viewers on /ui/machines/live?limit=500 while --deploy D
          (1,000) fake-hardware nodes go enroll -> manage -> provide -> deploy -> active
          through the API; checks every viewer saw every node of its page reach "active"
          and the counts reach "active D"; reports the server's memory before, peak, after.

Standard library only. Usage:
  python3 bench/ui/ui_bench.py --ironbox target/release/ironbox --out /tmp/ui.json
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

VERSION = {"X-OpenStack-Ironic-API-Version": "latest", "Content-Type": "application/json"}


class Server:
    def __init__(self, binary):
        self.dir = tempfile.TemporaryDirectory(prefix="ironbox-uibench-")
        state = os.path.join(self.dir.name, "data")
        cfg = os.path.join(self.dir.name, "ironic.toml")
        with open(cfg, "w") as f:
            f.write(f'[DEFAULT]\nstate_path = "{state}"\nhost = "uibench"\n[api]\nport = 0\n')
        self.log = open(os.path.join(self.dir.name, "log"), "wb")
        self.proc = subprocess.Popen([binary, "serve", "--config", cfg],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        ep = os.path.join(state, "endpoints.json")
        for _ in range(300):
            try:
                self.url = json.load(open(ep))["api"]
                break
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        else:
            sys.exit("ironbox did not start")
        u = urllib.parse.urlparse(self.url)
        self.host, self.port = u.hostname, u.port

    def conn(self, timeout=60):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def mem_kib(self):
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.dir.cleanup()


def call(conn, method, path, body=None, expect=(200, 201, 202, 204)):
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers=VERSION)
    r = conn.getresponse()
    data = r.read()
    if r.status not in expect:
        sys.exit(f"{method} {path}: {r.status} {data[:500]!r}")
    return json.loads(data) if data else None


def create_nodes(srv, n, prefix, workers=8):
    def work(chunk):
        c = srv.conn()
        out = []
        for i in chunk:
            out.append(call(c, "POST", "/v1/nodes", {
                "driver": "fake-hardware", "name": f"{prefix}-{i}",
                "resource_class": "bench" if i % 2 else "other",
                "properties": {"cpus": 4, "memory_mb": 8192, "local_gb": 100}})["uuid"])
            if i % 3 == 0:
                mac = f"52:54:{(i >> 24) & 255:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
                call(c, "POST", "/v1/ports", {"address": mac, "node_uuid": out[-1]})
        return out
    chunks = [range(k, n, workers) for k in range(workers)]
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return [u for part in ex.map(work, chunks) for u in part]


def timed_get(srv, path):
    """(ms to first byte, ms to whole body, body) over a fresh connection."""
    c = srv.conn()
    t0 = time.perf_counter()
    c.request("GET", path, headers={"Accept": "text/html"})
    r = c.getresponse()
    first = r.read(1)
    t1 = time.perf_counter()
    body = first + r.read()
    t2 = time.perf_counter()
    if r.status != 200:
        sys.exit(f"GET {path}: {r.status} {body[:300]!r}")
    c.close()
    return (t1 - t0) * 1000, (t2 - t0) * 1000, body


def stats(xs):
    xs = sorted(xs)
    return {"median": round(statistics.median(xs), 2),
            "p90": round(xs[min(len(xs) - 1, int(len(xs) * 0.9))], 2),
            "max": round(xs[-1], 2)}


def bench_render(binary, nodes, repeat):
    srv = Server(binary)
    try:
        t = time.time()
        uuids = create_nodes(srv, nodes, "bench")
        created_s = time.time() - t
        marker = uuids[-100]
        variants = {
            "first page (50 rows)": "/ui/machines",
            "deep page (keyset, 100 from the end)": f"/ui/machines?after={marker}",
            "500 rows": "/ui/machines?limit=500",
            "search by name": f"/ui/machines?q=bench-{nodes - 7}",
            "search by MAC": "/ui/machines?q=52-54-00-00-00-03",
            "filter state+rc+maintenance": "/ui/machines?state=enroll&resource_class=bench&maintenance=no",
        }
        out = {"nodes": nodes, "create_s": round(created_s, 1), "views": {}}
        for name, path in variants.items():
            timed_get(srv, path)  # warm-up
            ttfb, full, body = [], [], b""
            for _ in range(repeat):
                a, b, body = timed_get(srv, path)
                ttfb.append(a)
                full.append(b)
            rows = body.count(b'<tr id="node-')
            out["views"][name] = {"path": path, "rows": rows, "bytes": len(body),
                                  "ttfb_ms": stats(ttfb), "full_ms": stats(full)}
            print(f"{name:40s} rows={rows:4d} ttfb median {stats(ttfb)['median']:7.2f} ms"
                  f"  full median {stats(full)['median']:7.2f} ms  p90 {stats(full)['p90']:7.2f} ms")
        out["memory_kib"] = srv.mem_kib()
        return out
    finally:
        srv.stop()


class Viewer(threading.Thread):
    """One SSE client: the last HTML per row, the rows added, the last counts."""

    def __init__(self, srv, path):
        super().__init__(daemon=True)
        self.srv, self.path = srv, path
        self.rows, self.added, self.counts, self.events = {}, set(), "", 0
        self.ready = threading.Event()
        self.error = None

    def run(self):
        try:
            c = self.srv.conn(timeout=600)
            c.request("GET", self.path, headers={"Accept": "text/event-stream"})
            r = c.getresponse()
            assert r.status == 200, r.status
            self.ready.set()
            name, data = None, []
            while True:
                line = r.fp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and name:
                    html = "\n".join(data)
                    self.events += 1
                    m = re.search(r'id="node-([0-9a-f-]+)"', html)
                    if name == "counts":
                        self.counts = html
                    elif m:
                        self.rows[m.group(1)] = html
                        if name == "new-node":
                            self.added.add(m.group(1))
                    name, data = None, []
        except Exception as e:  # noqa: BLE001 - reported, not raised, from a thread
            self.error = repr(e)
            self.ready.set()


def drive(srv, uuid):
    c = srv.conn()

    def wait(state):
        for _ in range(2400):
            n = call(c, "GET", f"/v1/nodes/{uuid}")
            if n["provision_state"] == state and not n.get("target_provision_state"):
                return
            if "fail" in n["provision_state"]:
                sys.exit(f"{uuid}: {n['provision_state']}: {n.get('last_error')}")
            time.sleep(0.25)
        sys.exit(f"{uuid}: never reached {state}")

    call(c, "PUT", f"/v1/nodes/{uuid}/states/provision", {"target": "manage"})
    wait("manageable")
    call(c, "PUT", f"/v1/nodes/{uuid}/states/provision", {"target": "provide"})
    wait("available")
    call(c, "PATCH", f"/v1/nodes/{uuid}", [
        {"op": "add", "path": "/instance_info/image_source", "value": "http://127.0.0.1:9/img.qcow2"},
        {"op": "add", "path": "/instance_info/image_type", "value": "whole-disk"}])
    call(c, "PUT", f"/v1/nodes/{uuid}/states/provision", {"target": "active"})
    wait("active")


def bench_live(binary, viewers, deploy, workers, settle):
    srv = Server(binary)
    try:
        call(srv.conn(), "GET", "/v1/nodes")
        mem_idle = srv.mem_kib()
        vs = [Viewer(srv, "/ui/machines/live?limit=500&seen=0") for _ in range(viewers)]
        for v in vs:
            v.start()
        for v in vs:
            v.ready.wait(30)
        errors = [v.error for v in vs if v.error]
        if errors:
            sys.exit(f"viewers failed: {errors[:3]}")
        time.sleep(1)
        mem_viewers = srv.mem_kib()
        t = time.time()
        uuids = create_nodes(srv, deploy, "live", workers=workers)
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            list(ex.map(lambda u: drive(srv, u), uuids))
        drive_s = time.time() - t
        # The page holds the 500 lowest ids: the viewers learn which from their new-node
        # events; every one of those rows must end "active", and the counts "active N".
        page = min(deploy, 500)
        active = re.compile(r'<td class="provision state-active">active</td>')
        deadline = time.time() + settle

        def complete(v):
            rows = dict(v.rows)
            return (len(rows) == page and all(active.search(h) for h in rows.values())
                    and f"active <b>{deploy}</b>" in v.counts)
        while time.time() < deadline and not all(complete(v) for v in vs):
            time.sleep(0.5)
        settle_s = round(time.time() - t - drive_s, 1)
        mem_end = srv.mem_kib()
        ok = [complete(v) for v in vs]
        missing = [page - sum(1 for h in dict(v.rows).values() if active.search(h)) for v in vs]
        out = {
            "viewers": viewers, "nodes": deploy, "drive_s": round(drive_s, 1),
            "settle_after_last_write_s": settle_s,
            "viewers_complete": sum(ok), "rows_missing_active_max": max(missing),
            "events_per_viewer": stats([v.events for v in vs]),
            "memory_kib": {"idle": mem_idle, "with_viewers": mem_viewers, "end": mem_end},
        }
        print(json.dumps(out, indent=1))
        return out
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ironbox", default="target/release/ironbox")
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--viewers", type=int, default=100)
    ap.add_argument("--deploy", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--settle", type=float, default=120,
                    help="seconds the viewers get after the last API write to show it all")
    ap.add_argument("--skip", choices=["render", "live"])
    ap.add_argument("--out")
    a = ap.parse_args()
    res = {}
    if a.skip != "render":
        res["render"] = bench_render(a.ironbox, a.nodes, a.repeat)
    if a.skip != "live":
        res["live"] = bench_live(a.ironbox, a.viewers, a.deploy, a.workers, a.settle)
    if a.out:
        json.dump(res, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
