#!/usr/bin/env python3
"""/metrics benchmark (stdlib only): scrape time with 10,000 nodes, idle and under API
load, and the cost the API request-metrics middleware adds per request.

  1. scrape: ironbox (release) on a fresh temp state_path with --nodes fake-hardware nodes
     (created over the API, spread over a few provision and power states so the grouped
     count has several groups); --repeat sequential `GET /metrics` (0.0.4 text) over one
     keep-alive connection, then --repeat more while --load-threads threads each send
     `GET /v1/nodes/{uuid}` and `GET /v1/nodes?limit=100` back to back. Reported: client
     latency p50/p99/max (request sent → whole body read; on loopback this bounds the
     server time from above), the server's own view of the same requests from its
     `ironbox_api_request_duration_seconds{route="/metrics"}` histogram (bucket bounds),
     the body size and the number of series.
  2. middleware: two servers, `[metrics] enabled = true` and `false` (the middleware then
     passes requests on without recording), --middleware-nodes nodes each;
     `GET /v1/nodes/{uuid}` --middleware-repeat times per round, rounds alternating
     between the two servers (on a shared machine, drift hits both alike). Reported:
     p50/p90 per server and the difference.

Usage:
  bench/metrics/metrics_bench.py --ironbox target/release/ironbox --out results.json
"""

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HEADERS = {"X-OpenStack-Ironic-API-Version": "latest", "Accept": "application/json"}
TARGET_SCRAPE_MS = 50.0


class Conn:
    """One keep-alive HTTP/1.1 connection with TCP_NODELAY."""

    def __init__(self, host, port):
        self.c = http.client.HTTPConnection(host, port, timeout=60)
        self.c.connect()
        self.c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def req(self, method, path, body=None, headers=None):
        h = dict(HEADERS)
        h.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        self.c.request(method, path, body=data, headers=h)
        r = self.c.getresponse()
        raw = r.read()
        ms = (time.perf_counter() - t0) * 1000
        return r.status, raw, ms, r.getheader("Content-Type", "")


class Server:
    def __init__(self, binary, metrics_enabled, keep=False):
        self.dir = tempfile.mkdtemp(prefix="ironbox-metrics-bench-")
        self.keep = keep
        cfg = os.path.join(self.dir, "ironic.toml")
        with open(cfg, "w") as f:
            f.write('[DEFAULT]\nstate_path = "%s/data"\nhost = "bench"\n[api]\nport = 0\n'
                    "[metrics]\nenabled = %s\n"
                    % (self.dir, "true" if metrics_enabled else "false"))
        self.log = open(os.path.join(self.dir, "ironbox.log"), "w")
        self.proc = subprocess.Popen([binary, "serve", "--config", cfg],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        ep = os.path.join(self.dir, "data", "endpoints.json")
        for _ in range(200):
            if os.path.exists(ep) and os.path.getsize(ep) > 0:
                break
            if self.proc.poll() is not None:
                raise SystemExit("ironbox exited; log in %s" % self.dir)
            time.sleep(0.05)
        url = json.load(open(ep))["api"]
        host, port = url.split("//")[1].rsplit(":", 1)
        self.host, self.port = host, int(port)

    def conn(self):
        return Conn(self.host, self.port)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def create_nodes(srv, n, threads=4):
    """n fake-hardware nodes over `threads` connections; their UUIDs."""
    uuids, lock, errors = [], threading.Lock(), []

    def work(k):
        c = srv.conn()
        for i in range(k, n, threads):
            st, raw, _, _ = c.req("POST", "/v1/nodes", {
                "driver": "fake-hardware", "name": "bench-%d" % i,
                "driver_info": {"ipmi_address": "10.0.%d.%d" % (i // 250, i % 250)}})
            if st != 201:
                errors.append((st, raw[:300]))
                return
            with lock:
                uuids.append(json.loads(raw)["uuid"])

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    if errors:
        raise SystemExit("create failed: %r" % (errors[0],))
    return uuids


def spread_states(srv, uuids, count):
    """Move `count` nodes to manageable and set half of those powered on, so the grouped
    count sees several provision and power states."""
    c = srv.conn()
    moved = uuids[:count]
    for u in moved:
        st, raw, _, _ = c.req("PUT", "/v1/nodes/%s/states/provision" % u, {"target": "manage"})
        if st != 202:
            raise SystemExit("manage: %s %r" % (st, raw[:300]))
    deadline = time.time() + 300
    for u in moved:
        while True:
            st, raw, _, _ = c.req("GET", "/v1/nodes/%s" % u)
            n = json.loads(raw)
            if n["provision_state"] == "manageable" and n["reservation"] is None:
                break
            if time.time() > deadline:
                raise SystemExit("node %s never became manageable" % u)
            time.sleep(0.05)
    for u in moved[: count // 2]:
        st, raw, _, _ = c.req("PUT", "/v1/nodes/%s/states/power" % u, {"target": "power on"})
        if st != 202:
            raise SystemExit("power: %s %r" % (st, raw[:300]))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def summary(xs):
    return {"n": len(xs), "p50_ms": round(pct(xs, 50), 3), "p90_ms": round(pct(xs, 90), 3),
            "p99_ms": round(pct(xs, 99), 3), "max_ms": round(max(xs), 3),
            "mean_ms": round(statistics.mean(xs), 3)}


def server_histogram(text, route):
    """Cumulative buckets of ironbox_api_request_duration_seconds for `route`."""
    buckets = {}
    for line in text.splitlines():
        if line.startswith("ironbox_api_request_duration_seconds_bucket{") and \
                ('route="%s"' % route) in line:
            le = line.split('le="')[1].split('"')[0]
            v = float(line.rsplit(" ", 1)[1])
            key = float("inf") if le == "+Inf" else float(le)
            buckets[key] = buckets.get(key, 0) + v
    return sorted(buckets.items())


def bucket_quantile(buckets, q):
    """The upper bound (ms) of the bucket holding quantile q."""
    if not buckets:
        return None
    total = buckets[-1][1]
    for le, cum in buckets:
        if cum >= q * total:
            return le * 1000
    return None


def scrape_bench(args):
    srv = Server(args.ironbox, True, args.keep)
    try:
        t0 = time.time()
        uuids = create_nodes(srv, args.nodes)
        create_s = time.time() - t0
        spread_states(srv, uuids, min(args.spread, len(uuids)))
        c = srv.conn()
        st, raw, _, ctype = c.req("GET", "/metrics", headers={"Accept": "text/plain"})
        assert st == 200, (st, raw[:300])
        text = raw.decode()
        nodes_total = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                          if l.startswith("ironbox_nodes{"))
        assert nodes_total == args.nodes, nodes_total
        for _ in range(5):  # warm-up
            c.req("GET", "/metrics")
        idle = [c.req("GET", "/metrics")[2] for _ in range(args.repeat)]
        st, raw, _, octype = c.req(
            "GET", "/metrics", headers={"Accept": "application/openmetrics-text"})
        assert octype.startswith("application/openmetrics-text"), octype
        openmetrics = [c.req("GET", "/metrics",
                             headers={"Accept": "application/openmetrics-text"})[2]
                       for _ in range(max(20, args.repeat // 10))]

        stop, load_counts = threading.Event(), []

        def load():
            lc, k = srv.conn(), 0
            while not stop.is_set():
                u = random.choice(uuids)
                lc.req("GET", "/v1/nodes/%s" % u)
                lc.req("GET", "/v1/nodes?limit=100")
                k += 2
            load_counts.append(k)

        ts = [threading.Thread(target=load) for _ in range(args.load_threads)]
        [t.start() for t in ts]
        time.sleep(1)
        t0 = time.time()
        loaded = []
        for _ in range(args.repeat):
            loaded.append(c.req("GET", "/metrics")[2])
            time.sleep(0.01)
        load_s = time.time() - t0 + 1
        stop.set()
        [t.join() for t in ts]
        st, raw, _, _ = c.req("GET", "/metrics")
        final = raw.decode()
        hist = server_histogram(final, "/metrics")
        series = sum(1 for l in final.splitlines() if l and not l.startswith("#"))
        return {
            "nodes": args.nodes,
            "create_seconds": round(create_s, 1),
            "content_type": ctype,
            "body_bytes": len(text),
            "series": series,
            "idle": summary(idle),
            "idle_openmetrics": summary(openmetrics),
            "under_load": summary(loaded),
            "load_threads": args.load_threads,
            "load_requests_per_s": round(sum(load_counts) / load_s, 1),
            "server_histogram_p50_le_ms": bucket_quantile(hist, 0.5),
            "server_histogram_p99_le_ms": bucket_quantile(hist, 0.99),
            "target_ms": TARGET_SCRAPE_MS,
            "target_met": pct(idle, 99) < TARGET_SCRAPE_MS and pct(loaded, 99) < TARGET_SCRAPE_MS,
        }
    finally:
        srv.stop()


def middleware_bench(args):
    on, off = Server(args.ironbox, True, args.keep), Server(args.ironbox, False, args.keep)
    try:
        res = {}
        for name, srv in (("on", on), ("off", off)):
            uuids = create_nodes(srv, args.middleware_nodes)
            res[name] = {"srv": srv, "uuids": uuids, "conn": srv.conn(), "ms": []}
            for u in uuids[:50]:  # warm-up
                res[name]["conn"].req("GET", "/v1/nodes/%s" % u)
        for _ in range(args.rounds):
            for name in ("on", "off"):
                r = res[name]
                for _ in range(args.middleware_repeat):
                    st, _, ms, _ = r["conn"].req("GET", "/v1/nodes/%s" % random.choice(r["uuids"]))
                    assert st == 200
                    r["ms"].append(ms)
        a, b = summary(res["on"]["ms"]), summary(res["off"]["ms"])
        return {"requests_each": len(res["on"]["ms"]), "rounds": args.rounds,
                "metrics_on": a, "metrics_off": b,
                "added_p50_us": round((a["p50_ms"] - b["p50_ms"]) * 1000, 1),
                "added_mean_us": round((a["mean_ms"] - b["mean_ms"]) * 1000, 1)}
    finally:
        on.stop()
        off.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ironbox", required=True, metavar="BIN")
    ap.add_argument("--nodes", type=int, default=10000)
    ap.add_argument("--spread", type=int, default=1000, help="nodes moved to manageable (default 1000)")
    ap.add_argument("--repeat", type=int, default=200, help="scrapes per phase (default 200)")
    ap.add_argument("--load-threads", type=int, default=2)
    ap.add_argument("--middleware-nodes", type=int, default=1000)
    ap.add_argument("--middleware-repeat", type=int, default=1000, help="GETs per round per server")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--skip-middleware", action="store_true")
    ap.add_argument("--out", metavar="FILE.json")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "host": {"nproc": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_start": os.getloadavg()}}
    out["scrape"] = scrape_bench(args)
    print(json.dumps(out["scrape"], indent=1))
    if not args.skip_middleware:
        out["middleware"] = middleware_bench(args)
        print(json.dumps(out["middleware"], indent=1))
    out["host"]["loadavg_end"] = os.getloadavg()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return 0 if out["scrape"]["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
