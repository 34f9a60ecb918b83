#!/usr/bin/env python3
"""Soak: the real ironbox binary under a mixed load for a long time (default 1 h), with its
RSS, open file descriptors, threads, SQLite file sizes and log size sampled every minute,
plus the clients' request/packet counts and errors. Writes samples (CSV + JSON) and a
Markdown report that says per figure whether it grew and, if it did, whether it levels off.

Everything runs inside ONE network namespace this script creates (tests/lab/netns.sh, via
bench/boot_bench.py's Netns: br0 = 10.99.0.1/24, the veth vcl1 for raw DHCP clients, lo for
the API, the BMCs and the fake agents) and always deletes. No packet leaves it.

Load (all at once, until --minutes have passed):
  * API clients (--api-clients threads, --api-rps in all): create a fake-hardware node and
    a port, list, show, detail, PATCH, history, then delete port and node; one of them also
    switches the ipmi nodes' power through the API now and then.
  * Boot storms every --storm-interval s: DHCP DORA for --storm-dhcp MACs (a fixed pool of
    120, so leases are reused) with 8 in flight; --storm-tftp TFTP downloads of a 256 KiB
    undionly.kpxe at once (bench/boot_bench.py's client, blksize 1468) plus --storm-silent
    requests whose client never acknowledges (each holds a download slot until ironbox gives
    up); --storm-http HTTP downloads (boot.ipxe and a 1 MiB file), each on a new connection.
  * Agents: --agents fake-hardware nodes with the direct deploy interface, deployed until
    they wait in "wait call-back"; a fake IPA (one HTTP server on lo) answers the conductor's
    commands, reporting write_image as still RUNNING forever, so every heartbeat is a full
    round (token check, node save, history row, the conductor asking the agent). Each agent
    looks its node up (token), then heartbeats every --heartbeat-interval s and looks up
    again every 10th time.
  * Power sync: --bmcs ipmi_sim BMCs (OpenIPMI, tests/lab/ipmi-chassis.sh as chassis
    control) on 127.0.0.1 ports, one manageable `ipmi` node each, [conductor]
    sync_power_state_interval = --sync-interval; every minute one BMC's power is flipped
    behind ironbox's back so the sync has changes to record.

Usage (root): bench/soak/soak.sh [--minutes 60] [--ironbox target/debug/ironbox] ...
"""

import argparse
import csv
import datetime
import hashlib
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import boot_bench as bb  # noqa: E402  (Netns, Proc, DHCP and TFTP clients)

SERVER_IP = bb.SERVER_IP
API_VERSION = "latest"
CHASSIS_SH = os.path.join(REPO, "tests", "lab", "ipmi-chassis.sh")
STOP = threading.Event()


def log(msg):
    print(f"[{datetime.datetime.now(datetime.timezone.utc):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


class SoakError(RuntimeError):
    pass


# --------------------------------------------------------------------------- counters

class Counters:
    """Thread-safe counts of requests/packets by kind and outcome, with a few error samples."""

    def __init__(self):
        self.lock = threading.Lock()
        self.c = {}
        self.errors = []

    def add(self, key, n=1):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + n

    def error(self, key, detail):
        with self.lock:
            self.c[key] = self.c.get(key, 0) + 1
            if len(self.errors) < 200:
                self.errors.append({"t": time.time(), "kind": key, "detail": str(detail)[:500]})

    def snapshot(self):
        with self.lock:
            return dict(self.c)


COUNT = Counters()


# --------------------------------------------------------------------------- HTTP client

class Api:
    """One keep-alive connection to the API on loopback; never raises for a status."""

    def __init__(self, base, version=API_VERSION):
        host, port = base.split("//", 1)[1].rstrip("/").split(":")
        if host not in ("127.0.0.1", "localhost"):
            raise SoakError(f"refusing non-loopback API {base}")
        self.port = int(port)
        self.version = version
        self.conn = None

    def req(self, method, path, body=None, version=None):
        headers = {"X-OpenStack-Ironic-API-Version": version or self.version, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                try:
                    js = json.loads(raw) if raw else None
                except ValueError:
                    js = None
                return r.status, js, raw
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                self.close()
                if attempt == 1 or method != "GET":
                    return None, None, repr(e).encode()
            except (OSError, http.client.HTTPException) as e:
                self.close()
                return None, None, repr(e).encode()
        return None, None, b"unreachable"

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def call(api, kind, method, path, body=None, expect=(200,), version=None):
    """A counted request: `<kind>.ok`, or `<kind>.err` (plus `http.5xx` for server errors)."""
    st, js, raw = api.req(method, path, body, version)
    if st in expect:
        COUNT.add(f"{kind}.ok")
        return js
    if st is not None and st >= 500:
        COUNT.add("http.5xx")
    COUNT.error(f"{kind}.err", f"{method} {path} -> {st}: {raw[:300]!r}")
    return None


def wait_state(api, uuid, state, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st, js, _ = api.req("GET", f"/v1/nodes/{uuid}")
        # A wait state keeps its target (wait call-back -> active).
        if st == 200 and js.get("provision_state") == state and ("wait" in state or not js.get("target_provision_state")):
            return js
        if st == 200 and js.get("provision_state", "").endswith("failed"):
            raise SoakError(f"node {uuid} {js.get('provision_state')}: {js.get('last_error')}")
        time.sleep(0.2)
    raise SoakError(f"node {uuid} not {state!r} within {timeout}s (last {st} {js and js.get('provision_state')})")


def provision(api, uuid, target, state, timeout=60):
    st, js, raw = api.req("PUT", f"/v1/nodes/{uuid}/states/provision", {"target": target})
    if st != 202:
        raise SoakError(f"{target} on {uuid}: {st} {raw[:300]!r}")
    return wait_state(api, uuid, state, timeout)


# --------------------------------------------------------------------------- load: API

def rand_mac(rng, prefix=0x52):
    return ":".join(f"{b:02x}" for b in [prefix, 0x54, 0x01] + [rng.randrange(256) for _ in range(3)])


def api_client(base, cid, rps, ipmi_nodes):
    rng = random.Random(cid)
    api = Api(base)
    period = 10.0 / rps          # one cycle is 10 requests
    i = 0
    last_power = time.monotonic()
    while not STOP.is_set():
        t0 = time.monotonic()
        i += 1
        n = call(api, "api.create", "POST", "/v1/nodes",
                 {"driver": "fake-hardware", "name": f"soak-{cid}-{i}",
                  "properties": {"cpus": 4, "memory_mb": 8192, "local_gb": 40, "cpu_arch": "x86_64"},
                  "driver_info": {"ipmi_address": f"10.1.{cid}.{i % 250}", "ipmi_password": "s3cret"}},
                 expect=(201,))
        if n:
            u = n["uuid"]
            p = call(api, "api.create", "POST", "/v1/ports", {"address": rand_mac(rng), "node_uuid": u}, expect=(201,))
            call(api, "api.list", "GET", "/v1/nodes?limit=100")
            call(api, "api.show", "GET", f"/v1/nodes/{u}")
            call(api, "api.patch", "PATCH", f"/v1/nodes/{u}",
                 [{"op": "add", "path": "/extra/round", "value": i}, {"op": "replace", "path": "/description", "value": f"soak {i}"}])
            call(api, "api.list", "GET", "/v1/nodes/detail?limit=50")
            call(api, "api.list", "GET", f"/v1/ports?node_uuid={u}")
            call(api, "api.show", "GET", f"/v1/nodes/{u}/history")
            if p:
                call(api, "api.delete", "DELETE", f"/v1/ports/{p['uuid']}", expect=(204,))
            call(api, "api.delete", "DELETE", f"/v1/nodes/{u}", expect=(204,))
        if cid == 0 and ipmi_nodes and time.monotonic() - last_power > 30:
            # Power through the API (sync sees the result on its next cycle).
            last_power = time.monotonic()
            u = rng.choice(ipmi_nodes)
            target = rng.choice(["power on", "power off"])
            call(api, "api.power", "PUT", f"/v1/nodes/{u}/states/power", {"target": target}, expect=(202,))
        left = period - (time.monotonic() - t0)
        if left > 0:
            STOP.wait(left)
    api.close()


# --------------------------------------------------------------------------- load: boot storms

def tftp_silent(hold):
    """A read request whose client never acknowledges: the socket stays open (no ICMP), so
    the transfer holds its slot until ironbox gives up."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 0))
    s.sendto(b"\x00\x01undionly.kpxe\x00octet\x00timeout\x001\x00", (SERVER_IP, 69))
    COUNT.add("tftp.silent")
    hold.append(s)


def tftp_one():
    try:
        size, _secs, _sha, _w, _b = bb.py_tftp("undionly.kpxe", 1468, 1, 60)
        if size == TFTP_SIZE:
            COUNT.add("tftp.ok")
        else:
            COUNT.error("tftp.err", f"size {size}")
    except bb.BenchError as e:
        if "busy" in str(e):
            COUNT.add("tftp.busy")     # over [pxe] tftp_max_transfers: the ERROR packet
        else:
            COUNT.error("tftp.err", e)
    except OSError as e:
        COUNT.error("tftp.err", repr(e))


def http_one(path, size=None):
    try:
        c = http.client.HTTPConnection(SERVER_IP, 8080, timeout=60)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status == 200 and (size is None or len(body) == size):
            COUNT.add("http.ok")
        else:
            COUNT.error("http.err", f"GET {path} -> {r.status} {len(body)} bytes")
    except (OSError, http.client.HTTPException) as e:
        COUNT.error("http.err", f"GET {path}: {e!r}")


def storms(args):
    rng = random.Random(0x50A4)
    pool = [bytes([0x52, 0x54, 0x02, 0, i >> 8, i & 0xFF]) for i in range(120)]
    client = bb.DhcpClient(bb.CLIENT_IF)
    held = []
    try:
        while not STOP.is_set():
            t0 = time.monotonic()
            for s in held:          # last storm's silent clients go away
                s.close()
            held = []
            client.drain()
            recs, _wall = bb.dhcp_run(client, rng.sample(pool, args.storm_dhcp), 8, 2.0,
                                      lambda: rng.getrandbits(32))
            for rec, _ip in recs:
                if rec["ok"]:
                    COUNT.add("dhcp.ok")
                else:
                    COUNT.error("dhcp.err", rec.get("error"))
            for _ in range(args.storm_silent):
                tftp_silent(held)
            ts = [threading.Thread(target=tftp_one) for _ in range(args.storm_tftp)]
            ts += [threading.Thread(target=http_one, args=(p, sz)) for p, sz in
                   [("/boot.ipxe", None), ("/files/soak-boot.bin", HTTP_SIZE)] * (args.storm_http // 2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            COUNT.add("storms")
            STOP.wait(max(0.0, args.storm_interval - (time.monotonic() - t0)))
    finally:
        for s in held:
            s.close()
        client.close()


# --------------------------------------------------------------------------- load: agents

class FakeAgent(http.server.BaseHTTPRequestHandler):
    """IPA's command API as the conductor uses it: steps on request, write_image RUNNING
    forever, everything else SUCCEEDED."""

    protocol_version = "HTTP/1.1"
    RUNNING = {"id": "1", "command_name": "execute_deploy_step", "command_status": "RUNNING",
               "command_error": None, "command_result": None}

    def _send(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        COUNT.add("agent.cmd_get")
        if self.path.startswith("/v1/commands"):
            self._send({"commands": [self.RUNNING]})
        else:
            self._send({"name": "fake-ipa", "version": "10.0.0"})

    def do_POST(self):  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        try:
            name = json.loads(self.rfile.read(n)).get("name", "")
        except ValueError:
            name = ""
        COUNT.add("agent.cmd_post")
        if name.endswith(".get_deploy_steps"):
            steps = [{"interface": "deploy", "step": "write_image", "priority": 80, "reboot_requested": False, "abortable": False}]
            self._send({"id": "0", "command_name": "get_deploy_steps", "command_status": "SUCCEEDED",
                        "command_error": None, "command_result": {"deploy_steps": {"GenericHardwareManager": steps}, "hardware_manager_version": {}}})
        elif name == "deploy.execute_deploy_step":
            self._send(self.RUNNING)
        else:
            self._send({"id": "2", "command_name": name.split(".")[-1], "command_status": "SUCCEEDED",
                        "command_error": None, "command_result": {}})

    def log_message(self, *a):
        pass


def agents(args, base, nodes, callback):
    """Heartbeat every node in turn; each agent every --heartbeat-interval s."""
    api = Api(base, version=API_VERSION)
    tokens = {}
    for u, mac in nodes:
        js = call(api, "agent.lookup", "GET", f"/v1/lookup?addresses={mac}", version="1.62")
        if js:
            tokens[u] = js["config"]["agent_token"]
    rnd = 0
    gap = args.heartbeat_interval / max(1, len(nodes))
    while not STOP.is_set():
        rnd += 1
        for u, mac in nodes:
            if STOP.is_set():
                break
            if rnd % 10 == 0:
                call(api, "agent.lookup", "GET", f"/v1/lookup?addresses={mac}")
            call(api, "agent.heartbeat", "POST", f"/v1/heartbeat/{u}",
                 {"callback_url": callback, "agent_token": tokens.get(u, ""), "agent_version": "10.0.0"},
                 expect=(202,))
            STOP.wait(gap)
    api.close()


# --------------------------------------------------------------------------- BMCs

class Bmc:
    def __init__(self, work, i, port, ns):
        self.dir = os.path.join(work, f"bmc{i}")
        os.makedirs(self.dir)
        self.port = port
        script = os.path.join(self.dir, "chassis.sh")
        shutil.copy(CHASSIS_SH, script)
        os.chmod(script, 0o755)
        with open(os.path.join(self.dir, "power"), "w") as f:
            f.write("0\n")
        with open(os.path.join(self.dir, "lan.conf"), "w") as f:
            f.write(f"""name "bmc{i}"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcd{i:02x}
  endlan
  chassis_control "{script}"
  user 1 true "" "unused" user 10 none md2 md5 straight
  user 2 true "admin" "password" admin 10 none md2 md5 straight
""")
        with open(os.path.join(self.dir, "node.emu"), "w") as f:
            f.write("mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
                    "sel_enable 0x20 1000 0x0a\nmc_enable 0x20\n")
        self.proc = bb.Proc(f"ipmi_sim{i}", ["ipmi_sim", "-c", f"{self.dir}/lan.conf", "-f", f"{self.dir}/node.emu",
                                             "-s", f"{self.dir}/state", "-n"], os.path.join(self.dir, "ipmi_sim.log"), ns)

    def flip(self):
        p = os.path.join(self.dir, "power")
        with open(p) as f:
            on = f.read().strip() == "1"
        with open(p, "w") as f:
            f.write("0\n" if on else "1\n")


def flipper(bmcs):
    rng = random.Random(7)
    while not STOP.wait(60):
        rng.choice(bmcs).flip()
        COUNT.add("bmc.flips")


# --------------------------------------------------------------------------- sampling

def status_fields(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                out[k] = int(v.split()[0])
    return out


def thread_names(pid):
    names = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                n = f.read().strip()
        except OSError:
            continue
        names[n] = names.get(n, 0) + 1
    return names


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 1)


def fsize(p):
    try:
        return os.path.getsize(p)
    except OSError:
        return 0


def table_rows(db):
    """Row counts of every table, read-only (a short read transaction, once a minute)."""
    out = {}
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"):
                out[t] = c.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
        finally:
            c.close()
    except sqlite3.Error as e:
        COUNT.error("sample.sqlite_err", e)
    return out


class Sampler(threading.Thread):
    """Every second: peaks of threads/fds/RSS since the last sample; every --sample-interval
    seconds: one row of figures."""

    def __init__(self, args, pid, state, logpath, t0):
        super().__init__(daemon=True)
        self.args, self.pid, self.state, self.logpath, self.t0 = args, pid, state, logpath, t0
        self.rows = []
        self.peak = {}
        self.lock = threading.Lock()

    def quick(self):
        s = status_fields(self.pid)
        fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        tftp = thread_names(self.pid).get("tftp-rrq", 0)
        with self.lock:
            for k, v in (("threads", s["Threads"]), ("fds", fds), ("rss_kib", s["VmRSS"]), ("tftp", tftp)):
                self.peak[k] = max(self.peak.get(k, 0), v)
        return s, fds

    def row(self):
        s, fds = self.quick()
        names = thread_names(self.pid)
        db = os.path.join(self.state, "ironbox.sqlite")
        with self.lock:
            peak, self.peak = self.peak, {}
        r = {
            "t_s": round(time.monotonic() - self.t0, 1),
            "utc": datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S"),
            "rss_kib": s["VmRSS"], "rss_anon_kib": s.get("RssAnon", 0), "hwm_kib": s["VmHWM"],
            "fds": fds, "threads": s["Threads"],
            "tftp_threads": names.get("tftp-rrq", 0),
            "peak_threads": peak.get("threads", 0), "peak_tftp_threads": peak.get("tftp", 0), "peak_fds": peak.get("fds", 0), "peak_rss_kib": peak.get("rss_kib", 0),
            "db_bytes": fsize(db), "wal_bytes": fsize(db + "-wal"), "shm_bytes": fsize(db + "-shm"),
            "log_bytes": fsize(self.logpath),
            "cpu_s": cpu_seconds(self.pid),
            "load1": os.getloadavg()[0],
        }
        for t, n in sorted(table_rows(db).items()):
            r[f"rows_{t}"] = n
        for k, v in sorted(COUNT.snapshot().items()):
            r[k] = v
        self.rows.append(r)
        log("sample " + " ".join(f"{k}={r[k]}" for k in ("t_s", "rss_kib", "fds", "threads", "peak_threads",
                                                          "peak_tftp_threads", "db_bytes", "wal_bytes")))
        return r

    def run(self):
        next_row = time.monotonic() + self.args.sample_interval
        while not STOP.wait(1.0):
            try:
                if time.monotonic() >= next_row:
                    next_row += self.args.sample_interval
                    self.row()
                else:
                    self.quick()
            except (OSError, KeyError) as e:
                COUNT.error("sample.err", repr(e))
                if not os.path.exists(f"/proc/{self.pid}"):
                    log("ironbox is gone; stopping")
                    STOP.set()


# --------------------------------------------------------------------------- analysis

FIGURES = [
    # key, label, unit divisor, unit, tolerance (absolute, in the figure's own unit)
    ("rss_kib", "RSS", 1024, "MiB", 2048),
    ("rss_anon_kib", "RSS, anonymous (heap)", 1024, "MiB", 2048),
    ("fds", "open file descriptors", 1, "", 4),
    ("threads", "threads", 1, "", 4),
    ("peak_threads", "threads, peak per minute (1 s polls)", 1, "", 70),
    ("peak_tftp_threads", "TFTP transfer threads, peak per minute (cap 64)", 1, "", 64),
    ("db_bytes", "SQLite db", 1 << 20, "MiB", 1 << 20),
    ("wal_bytes", "SQLite -wal", 1 << 20, "MiB", 1 << 20),
    ("shm_bytes", "SQLite -shm", 1 << 10, "KiB", 64 << 10),
    ("log_bytes", "log file", 1 << 20, "MiB", None),
]


def slope(rows, key):
    """Least-squares slope per hour of `key` over `rows`."""
    xs = [r["t_s"] / 3600 for r in rows]
    ys = [r.get(key, 0) for r in rows]
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def verdict(rows, key, tol):
    """(grew?, verdict text) over the samples under load after warm-up. Flat if max - min is
    within tol. Figures that spike with the storms (threads, fds) are judged by the max and
    median of the last third against the first third; steady ones by their slope."""
    ys = [r.get(key, 0) for r in rows]
    if not ys:
        return False, "no samples"
    if tol is not None and max(ys) - min(ys) <= tol:
        return False, "flat (within noise)"
    if key == "log_bytes":
        return True, (f"grows with the load ({slope(rows, key) / (1 << 20):.1f} MiB/h): one line per DHCP/TFTP/HTTP "
                      "request at INFO; rotation is the operator's (journald/logrotate)")
    k = max(2, len(rows) // 3)
    first, last = rows[:k], rows[-k:]
    f_ys, l_ys = [r.get(key, 0) for r in first], [r.get(key, 0) for r in last]
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    t = tol or 0
    if max(l_ys) <= max(f_ys) + t and med(l_ys) <= med(f_ys) + t:
        return True, (f"varies with the load but bounded: last third max {max(l_ys)} / median {med(l_ys)} "
                      f"vs first third {max(f_ys)} / {med(f_ys)}")
    s1, s3 = slope(first, key), slope(last, key)
    if max(l_ys) - min(l_ys) <= t:
        return True, f"grew, then levelled off (last third within {t})"
    if s1 > 0 and s3 <= 0.25 * s1:
        return True, f"grew, levelling off (slope {s3:.3g}/h in the last third vs {s1:.3g}/h in the first)"
    if s3 <= 0:
        return True, f"varies with the load, no upward trend in the last third (slope {s3:.3g}/h)"
    return True, f"STILL GROWING in the last third ({s3:.3g}/h vs {s1:.3g}/h in the first)"


def fmt_v(v, div):
    return f"{v / div:.1f}" if div != 1 else f"{v}"


def report(args, meta, rows):
    under = [r for r in rows if r.get("phase") != "after"]
    after = [r for r in rows if r.get("phase") == "after"]
    warm = [r for r in under if r["t_s"] >= args.warmup * 60] or under
    lines = [f"Run {meta['started_utc']} – {meta['ended_utc']} UTC, {meta['ran_minutes']:.1f} min of load "
             f"(asked {args.minutes}), ironbox `{meta['binary_kind']}` build of commit `{meta['commit']}`, "
             f"nproc {os.cpu_count()}, samples every {args.sample_interval} s; figures judged after a "
             f"{args.warmup}-minute warm-up ({len(warm)} samples).", "",
             f"Load: {args.api_clients} API clients at {args.api_rps:g} requests/s in all; a boot storm every "
             f"{args.storm_interval:g} s ({args.storm_dhcp} DHCP DORAs, {args.storm_tftp} TFTP downloads of 256 KiB + "
             f"{args.storm_silent} silent TFTP clients at once, [pxe] tftp_max_transfers = {args.tftp_max}, "
             f"{args.storm_http} HTTP downloads); {args.agents} agents heartbeating every {args.heartbeat_interval:g} s; "
             f"{args.bmcs} ipmi_sim BMCs, power sync every {args.sync_interval} s.", "",
             "| figure | before the load | after warm-up | end of the load | max | 1 min after the load | grew? | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for key, label, div, unit, tol in FIGURES:
        if not rows or key not in rows[0]:
            continue
        grew, text = verdict(warm, key, tol)
        u = f" {unit}" if unit else ""
        aft = f"{fmt_v(after[-1][key], div)}{u}" if after else "-"
        lines.append(f"| {label} | {fmt_v(rows[0][key], div)}{u} | {fmt_v(warm[0][key], div)}{u} | "
                     f"{fmt_v(under[-1][key], div)}{u} | {fmt_v(max(r[key] for r in rows), div)}{u} | {aft} | "
                     f"{'yes' if grew else 'no'} | {text} |")
    tables = sorted({k for r in rows for k in r if k.startswith("rows_")})
    for key in tables:
        grew, text = verdict(warm, key, 50)
        aft = after[-1].get(key, 0) if after else "-"
        lines.append(f"| rows in `{key[5:]}` | {rows[0].get(key, 0)} | {warm[0].get(key, 0)} | {under[-1].get(key, 0)} | "
                     f"{max(r.get(key, 0) for r in rows)} | {aft} | {'yes' if grew else 'no'} | {text} |")
    last = under[-1] if under else {}
    lines += ["", "Load and outcomes over the whole run (counts):", "", "| what | ok | errors / other |", "|---|---|---|"]
    for kind, other in (("api.create", None), ("api.list", None), ("api.show", None), ("api.patch", None),
                        ("api.delete", None), ("api.power", None), ("agent.lookup", None),
                        ("agent.heartbeat", None), ("dhcp", None), ("tftp", "tftp.busy"), ("http", None)):
        ok = last.get(f"{kind}.ok", 0)
        err = last.get(f"{kind}.err", 0)
        extra = f", {other.split('.')[1]}: {last.get(other, 0)}" if other else ""
        lines.append(f"| {kind} | {ok} | {err}{extra} |")
    lines += [f"| TFTP clients that never acknowledged | {last.get('tftp.silent', 0)} | |",
              f"| fake agent: commands answered (GET/POST) | {last.get('agent.cmd_get', 0)} / {last.get('agent.cmd_post', 0)} | |",
              f"| BMC power flipped behind ironbox's back | {last.get('bmc.flips', 0)} | |",
              f"| storms | {last.get('storms', 0)} | |",
              f"| HTTP 5xx from the API | | {last.get('http.5xx', 0)} |"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main

TFTP_SIZE = 256 << 10
HTTP_SIZE = 1 << 20


def git(*a):
    try:
        return subprocess.run(["git", "-C", REPO, *a], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def free_udp_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def setup_nodes(args, api, bmcs, callback_port):
    """ipmi nodes (manageable) and agent nodes (waiting in "wait call-back")."""
    ipmi = []
    for b in bmcs:
        js = call(api, "setup", "POST", "/v1/nodes",
                  {"driver": "ipmi", "name": f"bmc-node-{b.port}",
                   "driver_info": {"ipmi_address": "127.0.0.1", "ipmi_port": b.port,
                                   "ipmi_username": "admin", "ipmi_password": "password"}}, expect=(201,))
        if not js:
            raise SoakError(f"cannot create the ipmi node: {COUNT.errors[-1:]}")
        ipmi.append(js["uuid"])
    for u in ipmi:
        provision(api, u, "manage", "manageable", timeout=120)
    log(f"{len(ipmi)} ipmi nodes manageable")
    with open(os.path.join(args.work, "httproot", "soak.img"), "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    nodes = []
    for i in range(args.agents):
        mac = f"52:54:03:00:{i >> 8:02x}:{i & 0xFF:02x}"
        js = call(api, "setup", "POST", "/v1/nodes",
                  {"driver": "fake-hardware", "name": f"agent-{i}", "deploy_interface": "direct",
                   "instance_info": {"image_source": f"http://{SERVER_IP}:8080/files/soak.img", "image_checksum": sha},
                   "driver_info": {"deploy_kernel": "k", "deploy_ramdisk": "r"}}, expect=(201,))
        if not js:
            raise SoakError(f"cannot create an agent node: {COUNT.errors[-1:]}")
        u = js["uuid"]
        if not call(api, "setup", "POST", "/v1/ports", {"address": mac, "node_uuid": u}, expect=(201,)):
            raise SoakError(f"cannot create a port: {COUNT.errors[-1:]}")
        provision(api, u, "manage", "manageable")
        provision(api, u, "provide", "available")
        provision(api, u, "active", "wait call-back")
        nodes.append((u, mac))
    log(f"{len(nodes)} agent nodes in wait call-back")
    return ipmi, nodes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ironbox", default=os.path.join(REPO, "target", "debug", "ironbox"))
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--sample-interval", type=int, default=60)
    ap.add_argument("--warmup", type=float, default=5, help="minutes not judged (caches, pools, WAL filling)")
    ap.add_argument("--api-clients", type=int, default=3)
    ap.add_argument("--api-rps", type=float, default=30, help="API requests per second, all clients together")
    ap.add_argument("--storm-interval", type=float, default=25, help="not a divisor of the sample interval, so samples fall at every phase of a storm")
    ap.add_argument("--storm-dhcp", type=int, default=40)
    ap.add_argument("--storm-tftp", type=int, default=48)
    ap.add_argument("--storm-silent", type=int, default=24)
    ap.add_argument("--storm-http", type=int, default=16)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--heartbeat-interval", type=float, default=5)
    ap.add_argument("--bmcs", type=int, default=15)
    ap.add_argument("--sync-interval", type=int, default=10)
    ap.add_argument("--tftp-max", type=int, default=64, help="[pxe] tftp_max_transfers")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="directory for samples and the report")
    ap.add_argument("--ns", default=f"ibxsoak{os.getpid()}")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, database)")
    ap.add_argument("--rereport", metavar="JSON", help="only rewrite the -report.md of an earlier run's JSON")
    args = ap.parse_args()
    if args.rereport:
        with open(args.rereport) as f:
            d = json.load(f)
        old = argparse.Namespace(**d["meta"]["args"])
        with open(args.rereport[:-len(".json")] + "-report.md", "w") as f:
            f.write(report(old, d["meta"], d["samples"]))
        return 0
    if os.geteuid() != 0:
        raise SystemExit("run as root (network namespace)")
    if shutil.which("ipmi_sim") is None:
        raise SystemExit("ipmi_sim not found: apt-get install openipmi")
    binary = os.path.abspath(args.ironbox)
    args.work = tempfile.mkdtemp(prefix="ironbox-soak-")
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M")
    meta = {"started_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "binary": binary, "binary_kind": "debug" if "/debug/" in binary else "release",
            "commit": git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else ""),
            "args": {k: v for k, v in vars(args).items()}}
    ns = bb.Netns(args.ns)
    sampler = None
    threads = []
    rc = 0

    def on_signal(sig, _frame):
        log(f"signal {sig}: stopping")
        STOP.set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    t_load = None
    try:
        ns.up()                                       # this process is now in the namespace
        w = args.work
        for d in ("ipxe", "httproot", "data"):
            os.makedirs(os.path.join(w, d))
        rng = random.Random(1)
        with open(os.path.join(w, "ipxe", "undionly.kpxe"), "wb") as f:
            f.write(rng.randbytes(TFTP_SIZE))
        with open(os.path.join(w, "httproot", "soak-boot.bin"), "wb") as f:
            f.write(rng.randbytes(HTTP_SIZE))
        with open(os.path.join(w, "httproot", "soak.img"), "wb") as f:
            f.write(rng.randbytes(64 << 10))
        state = os.path.join(w, "data")
        conf = os.path.join(w, "ironbox.toml")
        with open(conf, "w") as f:
            f.write(f"""[DEFAULT]
state_path = "{state}"
[api]
port = 0
[conductor]
automated_clean = false
deploy_callback_timeout = 0
sync_power_state_interval = {args.sync_interval}
[dhcp]
interface = "br0"
mode = "full"
range_start = "{bb.RANGE[0]}"
range_end = "{bb.RANGE[1]}"
lease_time = 600
allow_unknown_clients = true
[pxe]
http_root = "{w}/httproot"
ipxe_dir = "{w}/ipxe"
tftp_port = 69
http_port = 8080
tftp_max_transfers = {args.tftp_max}
""")
        bmcs = [Bmc(w, i, p, args.ns) for i, p in enumerate(free_udp_ports(args.bmcs))]
        logpath = os.path.join(w, "ironbox.log")
        ib = bb.Proc("ironbox", [binary, "serve", "--config", conf], logpath, args.ns)
        bb.wait_ready(ib, [("udp", SERVER_IP, 69), ("tcp", SERVER_IP, 8080), ("udp", "0.0.0.0", 67)], timeout=60)
        with open(os.path.join(state, "endpoints.json")) as f:
            base = json.load(f)["api"]
        log(f"ironbox pid {ib.pid}, API {base}, work dir {w}")
        agent_srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeAgent)
        agent_srv.daemon_threads = True
        threading.Thread(target=agent_srv.serve_forever, daemon=True).start()
        callback = f"http://127.0.0.1:{agent_srv.server_address[1]}"
        api = Api(base)
        ipmi, agent_nodes = setup_nodes(args, api, bmcs, agent_srv.server_address[1])
        api.close()

        t0 = time.monotonic()
        t_load = t0
        sampler = Sampler(args, ib.pid, state, logpath, t0)
        sampler.row()                                  # t = 0, before the load
        sampler.start()
        per = args.api_rps / max(1, args.api_clients)
        threads = [threading.Thread(target=api_client, args=(base, c, per, ipmi), daemon=True) for c in range(args.api_clients)]
        threads.append(threading.Thread(target=storms, args=(args,), daemon=True))
        threads.append(threading.Thread(target=agents, args=(args, base, agent_nodes, callback), daemon=True))
        threads.append(threading.Thread(target=flipper, args=(bmcs,), daemon=True))
        for t in threads:
            t.start()
        log(f"load running for {args.minutes} min")
        deadline = t0 + args.minutes * 60
        while not STOP.is_set() and time.monotonic() < deadline:
            STOP.wait(min(5.0, max(0.0, deadline - time.monotonic())))
            if not ib.alive():
                log(f"ironbox exited with {ib.p.returncode}:\n{ib.tail()}")
                rc = 1
                STOP.set()
        STOP.set()
        meta["ran_minutes"] = (time.monotonic() - t0) / 60
        for t in threads:
            t.join(timeout=90)
        if ib.alive():
            sampler.row()                              # the end of the load
            # after the load: do the figures come back down?
            time.sleep(min(60, args.sample_interval))
            sampler.row()["phase"] = "after"
        # Are the waiting nodes still waiting (no agent node failed on the way)?
        api = Api(base)
        st, js, _ = api.req("GET", "/v1/nodes?fields=uuid,provision_state,last_error&limit=1000")
        if st == 200:
            states = {}
            for n in js["nodes"]:
                states[n["provision_state"]] = states.get(n["provision_state"], 0) + 1
            meta["final_provision_states"] = states
        api.close()
        agent_srv.shutdown()
    except (SoakError, bb.BenchError, OSError) as e:
        log(f"FAILED: {e}")
        meta["error"] = str(e)
        rc = 1
    finally:
        STOP.set()
        bb.Proc.stop_all()
        ns.close()
        meta["ended_utc"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
        if "ran_minutes" not in meta:
            meta["ran_minutes"] = (time.monotonic() - t_load) / 60 if t_load else 0
        rows = sampler.rows if sampler else []
        base_name = os.path.join(args.out, f"soak-{stamp}")
        if rows:
            keys = []
            for r in rows:
                keys += [k for k in r if k not in keys]
            with open(base_name + ".csv", "w", newline="") as f:
                wr = csv.DictWriter(f, fieldnames=keys)
                wr.writeheader()
                wr.writerows(rows)
            with open(base_name + "-report.md", "w") as f:
                f.write(report(args, meta, rows))
        with open(base_name + ".json", "w") as f:
            json.dump({"meta": meta, "samples": rows, "errors": COUNT.errors}, f, indent=1)
        log(f"wrote {base_name}.csv/.json/-report.md")
        if args.keep:
            log(f"kept {args.work}")
        else:
            shutil.rmtree(args.work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
