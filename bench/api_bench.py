#!/usr/bin/env python3
"""API benchmark: ironbox vs. the real OpenStack Ironic (stdlib only).

For each server it measures, over one persistent keep-alive HTTP/1.1 connection:

  * idle RSS of the whole process tree right after start (sum of VmRSS),
  * creation of --nodes nodes (POST /v1/nodes): per-request latency and total wall time,
  * GET /v1/nodes?limit=1000, GET /v1/nodes/detail?limit=1000,
    GET /v1/nodes?detail=true&limit=1000 and GET /v1/nodes/{uuid}, --repeat times each,
  * peak RSS of the process tree at the end (sum of VmHWM).

Usage:
  bench/api_bench.py --ironbox target/release/ironbox --nodes 1000 --out ironbox.json
  bench/api_bench.py --ironbox target/release/ironbox --ironic --nodes 1000 --out both.json

Every request must answer 200/201 (and list answers must hold the expected number of
nodes), otherwise the run aborts with the request and the response. Servers and temp
dirs are always cleaned up (also on Ctrl-C / SIGTERM / --max-seconds).
"""

import argparse
import datetime
import hashlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
IRONIC_REF = os.path.join(HERE, "ironic-ref")
REQUEST_TIMEOUT = 60.0
LIST_LIMIT = 1000
HEADERS = {
    "X-OpenStack-Ironic-API-Version": "latest",
    "Accept": "application/json",
}

# Targets (ironbox vs. Ironic).
TARGET_DETAIL_SPEEDUP = 30.0   # detail listing of 1000 nodes >= 30x faster
TARGET_CREATE_SPEEDUP = 20.0   # node creation >= 20x faster
TARGET_IDLE_RSS_FRACTION = 0.1  # idle RSS < 1/10


class BenchError(RuntimeError):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- statistics

def percentile(values, p):
    """Linear-interpolated percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summarize(samples_s):
    """Seconds in, milliseconds out."""
    ms = [x * 1000.0 for x in samples_s]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p90_ms": percentile(ms, 90),
        "min_ms": min(ms),
        "max_ms": max(ms),
        "mean_ms": statistics.fmean(ms),
    }


# --------------------------------------------------------------------------- processes / RSS

def children_of(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return kids


def process_tree(pid):
    """pid and all its descendants (that still exist)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in out or not os.path.exists(f"/proc/{p}"):
            continue
        out.append(p)
        todo.extend(children_of(p))
    return out


def proc_status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_pss_kib(pid):
    """Proportional set size (shared pages split between the processes sharing them)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory(pid):
    pids = process_tree(pid)
    per = []
    for p in pids:
        try:
            with open(f"/proc/{p}/comm") as f:
                comm = f.read().strip()
        except OSError:
            comm = "?"
        per.append({"pid": p, "comm": comm,
                    "vmrss_kib": proc_status_kib(p, "VmRSS"),
                    "vmhwm_kib": proc_status_kib(p, "VmHWM"),
                    "pss_kib": proc_pss_kib(p)})
    return {
        "rss_kib": sum(x["vmrss_kib"] for x in per),
        "hwm_kib": sum(x["vmhwm_kib"] for x in per),
        "pss_kib": sum(x["pss_kib"] for x in per),
        "processes": per,
    }


def kill_tree(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except (ProcessLookupError, PermissionError):
            pass


def wait_gone(pids, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        alive = [p for p in pids if os.path.exists(f"/proc/{p}") and not is_zombie(p)]
        if not alive:
            return True
        time.sleep(0.1)
    return False


def is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def free_port():
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != 6399:
            return port


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


# --------------------------------------------------------------------------- HTTP client

class Client:
    """One persistent keep-alive connection; every call is timed and checked."""

    def __init__(self, base_url):
        u = urllib.parse.urlsplit(base_url)
        if u.scheme != "http" or u.hostname not in ("127.0.0.1", "localhost"):
            raise BenchError(f"refusing non-loopback / non-http endpoint {base_url}")
        self.host, self.port = "127.0.0.1", u.port
        self.conn = None
        self.reconnects = 0

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, expect=(200,)):
        """Returns (elapsed_s, status, raw_body_bytes). Raises BenchError unless status in expect."""
        data = None
        headers = dict(HEADERS)
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                t0 = time.perf_counter()
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                elapsed = time.perf_counter() - t0
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                # The server dropped the idle keep-alive connection: reconnect, but only
                # retry requests that are safe to repeat.
                self.close()
                if attempt == 1 or method != "GET":
                    raise BenchError(f"{method} {path}: connection lost: {e!r}") from e
                self.reconnects += 1
            except (socket.timeout, TimeoutError) as e:
                self.close()
                raise BenchError(f"{method} {path}: no response within {REQUEST_TIMEOUT:.0f} s") from e
        if resp.status not in expect:
            text = raw.decode(errors="replace")
            raise BenchError(
                f"{method} {path} -> HTTP {resp.status} (expected {expect})\n"
                f"request body: {json.dumps(body) if body is not None else '-'}\n"
                f"response headers: {dict(resp.getheaders())}\n"
                f"response body: {text[:4000]}")
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        return elapsed, resp.status, raw


def parse_json(method, path, raw):
    try:
        return json.loads(raw)
    except ValueError as e:
        raise BenchError(f"{method} {path}: response is not JSON: {raw[:500]!r}") from e


# --------------------------------------------------------------------------- servers

class IronboxServer:
    name = "ironbox"

    def __init__(self, binary, keep):
        self.binary = os.path.abspath(binary)
        if not os.access(self.binary, os.X_OK):
            raise BenchError(f"ironbox binary {self.binary} not found / not executable")
        self.keep = keep
        self.tmp = None
        self.proc = None
        self.pid = None
        self.base_url = None
        self.tree = []
        self.info = {}

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="ironbox-bench-")
        state = os.path.join(self.tmp, "data")
        cfg = os.path.join(self.tmp, "ironbox.toml")
        with open(cfg, "w") as f:
            f.write(f'[DEFAULT]\nstate_path = "{state}"\n[api]\nport = 0\n')
        self.log_path = os.path.join(self.tmp, "ironbox.log")
        logf = open(self.log_path, "wb")
        env = dict(os.environ)
        env.pop("RUST_LOG", None)
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.binary, "serve", "--config", cfg], stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        logf.close()
        self.pid = self.proc.pid
        ep = os.path.join(state, "endpoints.json")
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"ironbox exited with {self.proc.returncode} during start:\n{tail(self.log_path)}")
            if os.path.exists(ep):
                with open(ep) as f:
                    endpoints = json.load(f)
                break
            if time.monotonic() > deadline:
                raise BenchError(f"ironbox wrote no {ep} within 60 s:\n{tail(self.log_path)}")
            time.sleep(0.02)
        if endpoints.get("pid") != self.pid:
            raise BenchError(f"endpoints.json pid {endpoints.get('pid')} != started pid {self.pid}")
        self.base_url = endpoints["api"]
        self.info["startup_s"] = time.monotonic() - t0
        with open(self.binary, "rb") as f:
            self.info["binary"] = self.binary
            self.info["binary_sha256"] = hashlib.sha256(f.read()).hexdigest()
        self.info["binary_size_bytes"] = os.path.getsize(self.binary)
        try:
            v = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=10)
            self.info["version"] = v.stdout.strip() or v.stderr.strip()
        except (OSError, subprocess.SubprocessError):
            pass

    def stop(self):
        if self.proc is not None:
            tree = process_tree(self.proc.pid) or [self.proc.pid]
            if self.proc.poll() is None:
                kill_tree(tree, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    log("ironbox did not stop on SIGTERM within 15 s; SIGKILL")
                    kill_tree(tree, signal.SIGKILL)
                    self.proc.wait(timeout=10)
            self.info["exit_code"] = self.proc.returncode
            self.proc = None
        if self.tmp and not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            log(f"kept {self.tmp}")
        self.tmp = None


class IronicServer:
    name = "ironic"

    def __init__(self, keep):
        self.keep = keep
        self.tmp = None
        self.pid = None
        self.base_url = None
        self.known_pids = set()
        self.info = {}

    def start(self):
        self.tmp = tempfile.mkdtemp(prefix="ironic-bench-")
        self.workdir = os.path.join(self.tmp, "run")
        self.log_path = os.path.join(self.workdir, "ironic.log")
        port = free_port()
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(IRONIC_REF, "start-ironic.sh"), self.workdir, str(port)],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
        pidfile = os.path.join(self.workdir, "ironic.pid")
        if os.path.exists(pidfile):
            with open(pidfile) as f:
                self.pid = int(f.read().strip())
            self.known_pids.update(process_tree(self.pid))
        if r.returncode != 0:
            raise BenchError(f"start-ironic.sh failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n"
                             f"{tail(os.path.join(self.workdir, 'ironic.out'))}\n{tail(self.log_path)}")
        if self.pid is None:
            raise BenchError("start-ironic.sh wrote no ironic.pid")
        self.info["startup_s"] = time.monotonic() - t0
        self.base_url = f"http://127.0.0.1:{port}"
        venv = os.environ.get("IRONIC_VENV", "/opt/ironic-venv")
        try:
            v = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                                "import importlib.metadata as m; print(m.version('ironic'))"],
                               capture_output=True, text=True, timeout=60)
            self.info["version"] = v.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass

    def remember_pids(self):
        if self.pid:
            self.known_pids.update(process_tree(self.pid))

    def stop(self):
        if self.pid is not None:
            self.remember_pids()
            try:
                subprocess.run([os.path.join(IRONIC_REF, "stop-ironic.sh"), self.workdir],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
            except subprocess.SubprocessError as e:
                log(f"stop-ironic.sh: {e!r}")
            # The master normally takes its worker down; make sure nothing survives.
            left = [p for p in self.known_pids if os.path.exists(f"/proc/{p}") and not is_zombie(p)
                    and self._is_ours(p)]
            if left:
                kill_tree(left, signal.SIGTERM)
                if not wait_gone(left, 10):
                    kill_tree(left, signal.SIGKILL)
                    wait_gone(left, 5)
            self.pid = None
        if self.tmp and not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp:
            log(f"kept {self.tmp}")
        self.tmp = None

    def _is_ours(self, pid):
        # Guard against pid reuse: only kill processes whose command line names our config.
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return self.workdir.encode() in f.read()
        except OSError:
            return False


# --------------------------------------------------------------------------- workload

def node_body(i):
    return {
        "driver": "fake-hardware",
        "name": f"bench-{i}",
        "properties": {"cpus": 8, "memory_mb": 16384, "local_gb": 100, "cpu_arch": "x86_64"},
        "driver_info": {"ipmi_address": f"10.0.{i // 250}.{i % 250 + 1}"},
    }


def run_workload(server, n_nodes, repeat, settle_s):
    res = {"server": server.name}
    server.start()
    res.update(server.info)
    res["base_url"] = server.base_url
    log(f"{server.name}: serving on {server.base_url} (pid {server.pid}, start {server.info['startup_s']:.2f} s)")
    client = Client(server.base_url)
    try:
        _, _, raw = client.request("GET", "/v1")
        v1 = parse_json("GET", "/v1", raw)
        res["api_version"] = (v1.get("version") or {}).get("version")

        time.sleep(settle_s)
        if isinstance(server, IronicServer):
            server.remember_pids()
        mem = tree_memory(server.pid)
        res["idle_rss_kib"] = mem["rss_kib"]
        res["idle_pss_kib"] = mem["pss_kib"]
        res["idle_processes"] = mem["processes"]
        log(f"{server.name}: idle RSS {mem['rss_kib'] / 1024:.1f} MiB over {len(mem['processes'])} process(es)")

        # ---- create
        lat, uuids = [], []
        t0 = time.perf_counter()
        for i in range(n_nodes):
            el, _, raw = client.request("POST", "/v1/nodes", node_body(i), expect=(201,))
            lat.append(el)
            node = parse_json("POST", "/v1/nodes", raw)
            if node.get("name") != f"bench-{i}" or not node.get("uuid"):
                raise BenchError(f"POST /v1/nodes bench-{i}: unexpected body {raw[:500]!r}")
            uuids.append(node["uuid"])
            if (i + 1) % 200 == 0:
                log(f"{server.name}: created {i + 1}/{n_nodes}")
        wall = time.perf_counter() - t0
        res["create"] = summarize(lat)
        res["create"].update({"total_s": wall, "nodes_per_s": n_nodes / wall if wall else None})
        res["create_latencies_ms"] = [round(x * 1000.0, 4) for x in lat]
        log(f"{server.name}: created {n_nodes} nodes in {wall:.2f} s "
            f"({n_nodes / wall:.1f}/s, median {res['create']['median_ms']:.2f} ms)")
        mem = tree_memory(server.pid)
        res["after_create_rss_kib"] = mem["rss_kib"]

        # ---- reads
        expected = min(n_nodes, LIST_LIMIT)
        lists = [
            ("list", f"/v1/nodes?limit={LIST_LIMIT}", False),
            ("detail", f"/v1/nodes/detail?limit={LIST_LIMIT}", True),
            ("detail_param", f"/v1/nodes?detail=true&limit={LIST_LIMIT}", True),
        ]
        for key, path, detailed in lists:
            # one unmeasured warm-up request (reported separately)
            el, _, raw = client.request("GET", path)
            check_list(path, raw, expected, detailed)
            samples = []
            for _ in range(repeat):
                el2, _, raw = client.request("GET", path)
                samples.append(el2)
            check_list(path, raw, expected, detailed)
            res[key] = summarize(samples)
            res[key].update({"path": path, "warmup_ms": el * 1000.0, "response_bytes": len(raw)})
            log(f"{server.name}: GET {path}: median {res[key]['median_ms']:.2f} ms, "
                f"p90 {res[key]['p90_ms']:.2f} ms, {len(raw)} bytes")

        samples = []
        path0 = f"/v1/nodes/{uuids[0]}"
        el, _, raw = client.request("GET", path0)
        for r in range(repeat):
            u = uuids[(r * 7919) % len(uuids)]
            path = f"/v1/nodes/{u}"
            el2, _, raw = client.request("GET", path)
            if parse_json("GET", path, raw).get("uuid") != u:
                raise BenchError(f"GET {path}: wrong node {raw[:300]!r}")
            samples.append(el2)
        res["get_one"] = summarize(samples)
        res["get_one"].update({"path": "/v1/nodes/{uuid}", "warmup_ms": el * 1000.0, "response_bytes": len(raw)})
        log(f"{server.name}: GET /v1/nodes/{{uuid}}: median {res['get_one']['median_ms']:.2f} ms")

        if isinstance(server, IronicServer):
            server.remember_pids()
        mem = tree_memory(server.pid)
        res["end_rss_kib"] = mem["rss_kib"]
        res["end_pss_kib"] = mem["pss_kib"]
        res["peak_rss_kib"] = mem["hwm_kib"]
        res["end_processes"] = mem["processes"]
        res["client_reconnects"] = client.reconnects
        log(f"{server.name}: end RSS {mem['rss_kib'] / 1024:.1f} MiB, peak (sum VmHWM) {mem['hwm_kib'] / 1024:.1f} MiB")
    except BenchError:
        print(f"\n--- {server.name} log tail ({server.log_path}) ---\n{tail(server.log_path)}", file=sys.stderr)
        raise
    finally:
        client.close()
        server.stop()
    return res


def check_list(path, raw, expected, detailed):
    body = parse_json("GET", path, raw)
    nodes = body.get("nodes")
    if not isinstance(nodes, list) or len(nodes) != expected:
        raise BenchError(f"GET {path}: expected {expected} nodes, got "
                         f"{len(nodes) if isinstance(nodes, list) else nodes!r}: {raw[:300]!r}")
    if nodes and detailed != ("driver_info" in nodes[0]):
        raise BenchError(f"GET {path}: detail={detailed} but first node has keys {sorted(nodes[0])}")


# --------------------------------------------------------------------------- report

METRICS = [
    # key, label, getter, kind ("time": ratio ironic/ironbox; "rate": ironbox/ironic; "mem": ironbox/ironic)
    ("idle_rss_mib", "idle RSS (MiB)", lambda r: r["idle_rss_kib"] / 1024, "mem"),
    ("idle_pss_mib", "idle PSS, info only (MiB)", lambda r: r["idle_pss_kib"] / 1024, "mem"),
    ("peak_rss_mib", "peak RSS, sum VmHWM (MiB)", lambda r: r["peak_rss_kib"] / 1024, "mem"),
    ("end_rss_mib", "RSS after workload (MiB)", lambda r: r["end_rss_kib"] / 1024, "mem"),
    ("create_total_s", "create N nodes, total (s)", lambda r: r["create"]["total_s"], "time"),
    ("create_nodes_per_s", "create, nodes/s", lambda r: r["create"]["nodes_per_s"], "rate"),
    ("create_median_ms", "POST /v1/nodes median (ms)", lambda r: r["create"]["median_ms"], "time"),
    ("create_p90_ms", "POST /v1/nodes p90 (ms)", lambda r: r["create"]["p90_ms"], "time"),
    ("list_median_ms", "GET nodes?limit=1000 median (ms)", lambda r: r["list"]["median_ms"], "time"),
    ("list_p90_ms", "GET nodes?limit=1000 p90 (ms)", lambda r: r["list"]["p90_ms"], "time"),
    ("detail_median_ms", "GET nodes/detail median (ms)", lambda r: r["detail"]["median_ms"], "time"),
    ("detail_p90_ms", "GET nodes/detail p90 (ms)", lambda r: r["detail"]["p90_ms"], "time"),
    ("detail_param_median_ms", "GET nodes?detail=true median (ms)", lambda r: r["detail_param"]["median_ms"], "time"),
    ("detail_param_p90_ms", "GET nodes?detail=true p90 (ms)", lambda r: r["detail_param"]["p90_ms"], "time"),
    ("get_one_median_ms", "GET nodes/{uuid} median (ms)", lambda r: r["get_one"]["median_ms"], "time"),
    ("get_one_p90_ms", "GET nodes/{uuid} p90 (ms)", lambda r: r["get_one"]["p90_ms"], "time"),
]


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}" if abs(x) < 1 else f"{x:.2f}"


def compare(results):
    a, b = results.get("ironbox"), results.get("ironic")
    rows = []
    for key, label, get, kind in METRICS:
        va = get(a) if a else None
        vb = get(b) if b else None
        ratio = None
        if va is not None and vb is not None:
            if kind == "time":
                ratio = vb / va if va else None
            else:  # rate (speedup) and mem (fraction) are both ironbox/ironic
                ratio = va / vb if vb else None
        rows.append({"metric": key, "label": label, "ironbox": va, "ironic": vb, "ratio": ratio,
                     "ratio_meaning": {"time": "ironic/ironbox (x faster)",
                                       "rate": "ironbox/ironic (x faster)",
                                       "mem": "ironbox/ironic (fraction)"}[kind]})
    return rows


def targets(rows):
    by = {r["metric"]: r for r in rows}
    out = []
    for name, metric, op, thr in [
        ("detail listing of 1000 nodes >= 30x faster", "detail_median_ms", ">=", TARGET_DETAIL_SPEEDUP),
        ("node creation >= 20x faster (total wall time)", "create_total_s", ">=", TARGET_CREATE_SPEEDUP),
        ("idle RSS < 1/10 of Ironic's", "idle_rss_mib", "<", TARGET_IDLE_RSS_FRACTION),
    ]:
        r = by[metric]["ratio"]
        met = None if r is None else (r >= thr if op == ">=" else r < thr)
        out.append({"target": name, "metric": metric, "ratio": r, "threshold": f"{op} {thr:g}", "met": met})
    return out


def print_table(rows, tgts, both):
    w = max(len(r["label"]) for r in rows)
    hdr = f"{'metric':<{w}}  {'ironbox':>10}  {'ironic':>10}  {'ratio':>8}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if not both and r["ironbox"] is None and r["ironic"] is None:
            continue
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x" if r["ratio"] < 10 else f"{r['ratio']:.0f}x"
        if r["ratio"] is not None and r["metric"].endswith("_mib"):
            ratio = f"{r['ratio']:.3f}"
        print(f"{r['label']:<{w}}  {fmt(r['ironbox']):>10}  {fmt(r['ironic']):>10}  {ratio:>8}")
    print("ratio: ironic/ironbox for times, ironbox/ironic for nodes/s and for RSS")
    if both:
        print()
        for t in tgts:
            state = "MET" if t["met"] else "NOT MET"
            print(f"target {t['target']}: ratio {t['ratio']:.3g} (need {t['threshold']}) -> {state}")


def git_commit():
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# --------------------------------------------------------------------------- main

class Deadline(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ironbox", metavar="BIN", help="path to the ironbox binary (started on a temp dir, port 0)")
    ap.add_argument("--ironic", action="store_true", help="also benchmark the real Ironic (bench/ironic-ref)")
    ap.add_argument("--nodes", type=int, default=1000, help="nodes to create (default 1000)")
    ap.add_argument("--repeat", type=int, default=20, help="runs of each GET (default 20)")
    ap.add_argument("--out", metavar="FILE.json", help="write all numbers to this JSON file")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds to wait before idle RSS (default 2)")
    ap.add_argument("--max-seconds", type=int, default=3600, help="abort the whole run after this (default 3600)")
    ap.add_argument("--keep", action="store_true", help="keep temp dirs (for debugging)")
    args = ap.parse_args()
    if not args.ironbox and not args.ironic:
        ap.error("give --ironbox BIN and/or --ironic")
    if args.nodes < 1 or args.repeat < 1:
        ap.error("--nodes and --repeat must be >= 1")

    def on_signal(signum, _frame):
        if signum == signal.SIGALRM:
            raise Deadline(f"run exceeded --max-seconds {args.max_seconds}")
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(args.max_seconds)

    servers = []
    if args.ironbox:
        servers.append(IronboxServer(args.ironbox, args.keep))
    if args.ironic:
        servers.append(IronicServer(args.keep))

    doc = {
        "meta": {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "host_nproc": os.cpu_count(),
            "commit": git_commit(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "nodes": args.nodes,
            "repeat": args.repeat,
            "list_limit": LIST_LIMIT,
            "settle_s": args.settle,
            "request_timeout_s": REQUEST_TIMEOUT,
        },
        "results": {},
    }
    rc = 0
    try:
        for s in servers:
            doc["results"][s.name] = run_workload(s, args.nodes, args.repeat, args.settle)
    except (BenchError, Deadline, KeyboardInterrupt, subprocess.TimeoutExpired, OSError) as e:
        print(f"\nBENCHMARK FAILED: {e}", file=sys.stderr)
        doc["error"] = str(e)
        rc = 1
    finally:
        signal.alarm(0)
        for s in servers:  # idempotent; covers a failure between start and the workload's own cleanup
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001 - cleanup must go on
                log(f"cleanup of {s.name}: {e!r}")

    both = "ironbox" in doc["results"] and "ironic" in doc["results"]
    if doc["results"]:
        rows = compare(doc["results"])
        doc["comparison"] = rows
        if both:
            doc["targets"] = targets(rows)
        print()
        print(f"nodes={args.nodes} repeat={args.repeat} nproc={os.cpu_count()} commit={doc['meta']['commit']}")
        print_table([r for r in rows if r["ironbox"] is not None or r["ironic"] is not None],
                    doc.get("targets", []), both)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        log(f"wrote {args.out}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
