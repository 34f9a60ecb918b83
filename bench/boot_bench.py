#!/usr/bin/env python3
"""Boot network benchmark: ironbox's TFTP, HTTP and DHCP servers vs dnsmasq and nginx.

Everything runs inside ONE network namespace that this script creates (with the
project's tests/lab/netns.sh: br0 = 10.99.0.1/24, and vcl1, a veth whose peer vcl0 is on
br0) and always deletes. Servers run one kind at a time on the same address/port:

  * TFTP  ironbox vs dnsmasq (--enable-tftp), both on 10.99.0.1:69, serving the same two
          random files (1 MiB as undionly.kpxe, 30 MiB as ipxe.efi). Client: curl
          (--tftp-blksize 1468, lock-step, as PXE ROMs do) from inside the namespace.
          Extra (info only): a stdlib TFTP client asking for blksize 1468 + windowsize.
  * HTTP  a 1 GiB random file: ironbox http://10.99.0.1:8080/files/big.img vs nginx
          (sendfile on, Debian's defaults otherwise) on 10.99.0.1:8081 serving the same
          directory; curl -o /dev/null. ironbox's RSS is sampled during its downloads.
  * DHCP  a raw DHCP client (AF_PACKET on vcl1: src 0.0.0.0, dst 255.255.255.255, the
          broadcast flag set) does DISCOVER->OFFER->REQUEST->ACK with distinct MACs,
          sequentially and with --dhcp-concurrency transactions in flight, against
          ironbox ([dhcp] mode = "full", allow_unknown_clients) and dnsmasq (full DHCP on
          the same range), each on a fresh server (empty lease database).

Usage (root; Debian 12 with the lab packages, nginx-light):
  bench/boot_bench.py --ironbox target/release/ironbox --out /tmp/boot.json

Every wait is bounded; all started processes are killed, the namespace is deleted and the
temp dir removed, also on failure, Ctrl-C, SIGTERM or --max-seconds. Exit code 1 when
anything failed (the JSON then has an "error" field and what was measured before).
"""

import argparse
import ctypes
import datetime
import hashlib
import json
import os
import platform
import random
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NETNS_SH = os.path.join(REPO, "tests", "lab", "netns.sh")

SERVER_IP = "10.99.0.1"
RANGE = ("10.99.0.100", "10.99.0.250")   # 151 addresses
LEASE_TIME = 600
CLIENT_IF = "vcl1"
TFTP_FILES = {"1MiB": ("undionly.kpxe", 1 << 20), "30MiB": ("ipxe.efi", 30 << 20)}
HTTP_NAME = "big.img"

# Targets: ironbox / reference (speed ratio; for latency: reference time / ironbox time).
TARGET_TFTP = 1.0
TARGET_HTTP = 0.9
TARGET_DHCP = 1.0
RSS_GROWTH_LIMIT_MIB = 64      # "streaming": RSS must not grow by anything like the file size


class BenchError(RuntimeError):
    pass


class Timeout(BaseException):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def median(values):
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------- namespace

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


class Netns:
    """Create NS with tests/lab/netns.sh and move this process into it (so sockets and
    children are in it); leave and delete it on close()."""

    def __init__(self, name):
        self.name = name
        self.orig_fd = None
        self.created = False

    def up(self):
        r = subprocess.run(["bash", NETNS_SH, "up", self.name, "0"], capture_output=True, text=True, timeout=60)
        self.created = True
        if r.returncode != 0:
            raise BenchError(f"netns.sh up failed: {r.stdout}{r.stderr}")
        self.orig_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            setns(fd)
        finally:
            os.close(fd)

    def close(self):
        if self.orig_fd is not None:
            try:
                setns(self.orig_fd)
            except OSError as e:
                log(f"cannot return to the original netns: {e}")
            os.close(self.orig_fd)
            self.orig_fd = None
        if self.created:
            r = subprocess.run(["bash", NETNS_SH, "down", self.name], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                log(f"netns.sh down failed: {r.stdout}{r.stderr}")
            self.created = False


# --------------------------------------------------------------------------- processes

class Proc:
    """A server started in the namespace, in its own session (process group)."""

    running = []

    def __init__(self, name, argv, logpath, ns):
        self.name = name
        self.logpath = logpath
        self.logf = open(logpath, "ab")
        self.p = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdin=subprocess.DEVNULL,
                                  stdout=self.logf, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.p.pid          # ip netns exec execs the program: same pid
        Proc.running.append(self)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait(timeout=5)
        # whatever is left in its process group (nginx workers)
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.logf.close()
        if self in Proc.running:
            Proc.running.remove(self)

    def tail(self, n=20):
        try:
            with open(self.logpath, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    @classmethod
    def stop_all(cls):
        for p in list(cls.running):
            try:
                p.stop()
            except Exception as e:  # noqa: BLE001 - cleanup must go on
                log(f"stopping {p.name}: {e}")


def listening(proto, ip, port):
    """Is something bound to ip:port (proto udp/tcp; tcp: LISTEN) in this netns?"""
    a = socket.inet_aton(ip)
    want = "%08X:%04X" % (struct.unpack("<I", a)[0], port)
    try:
        with open(f"/proc/self/net/{proto}") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1] == want and (proto == "udp" or parts[3] == "0A"):
                    return True
    except OSError:
        pass
    return False


def wait_ready(proc, sockets, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited with {proc.p.returncode}:\n{proc.tail()}")
        if all(listening(*s) for s in sockets):
            return
        time.sleep(0.02)
    raise BenchError(f"{proc.name} not listening on {sockets} after {timeout}s:\n{proc.tail()}")


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1]) / 1024.0  # MiB
    except OSError:
        pass
    return out


def proc_tree(pid):
    """pid and all its descendants (nginx master -> workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def usage_snapshot(pid):
    """{tid: (cpu ns, context switches)} over every live thread of pid's process tree
    (/proc/TID/schedstat run time; voluntary + involuntary switches)."""
    snap = {}
    for p in proc_tree(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                with open(f"/proc/{p}/task/{t}/schedstat") as f:
                    ns = int(f.read().split()[0])
                cs = 0
                with open(f"/proc/{p}/task/{t}/status") as f:
                    for line in f:
                        if "ctxt_switches:" in line:
                            cs += int(line.split()[1])
                snap[int(t)] = (ns, cs)
            except (OSError, ValueError, IndexError):
                pass
    return snap


def usage_delta(before, after):
    """(cpu seconds, context switches, threads that ran) between two snapshots (threads
    that exited in between are lost; new ones count from 0)."""
    cpu = cs = 0
    ran = 0
    for tid, (ns, c) in after.items():
        ns0, c0 = before.get(tid, (0, 0))
        if ns > ns0:
            ran += 1
        cpu += ns - ns0
        cs += c - c0
    return cpu / 1e9, cs, ran


class Usage:
    """Accumulate a server's CPU time and context switches over measured operations."""

    def __init__(self, pid):
        self.pid = pid
        self.snap = usage_snapshot(pid)

    def take(self):
        s = usage_snapshot(self.pid)
        d = usage_delta(self.snap, s)
        self.snap = s
        return {"server_cpu_s": d[0], "server_ctxsw": d[1], "server_threads_ran": d[2]}


# --------------------------------------------------------------------------- servers

class Servers:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.n = 0

    def _next(self):
        self.n += 1
        return self.n

    def ironbox(self, dhcp_mode):
        n = self._next()
        data = os.path.join(self.work, f"ironbox-data-{n}")
        os.makedirs(data)
        conf = os.path.join(self.work, f"ironbox-{n}.toml")
        with open(conf, "w") as f:
            f.write(f"""[DEFAULT]
state_path = "{data}"
[api]
port = 0
[dhcp]
interface = "br0"
mode = "{dhcp_mode}"
range_start = "{RANGE[0]}"
range_end = "{RANGE[1]}"
lease_time = {LEASE_TIME}
allow_unknown_clients = true
[pxe]
http_root = "{self.work}/httproot"
ipxe_dir = "{self.work}/ipxe"
tftp_port = 69
http_port = 8080
""")
        p = Proc("ironbox", [self.args.ironbox, "serve", "--config", conf], os.path.join(self.work, f"ironbox-{n}.log"), self.args.ns)
        socks = [("udp", SERVER_IP, 69), ("tcp", SERVER_IP, 8080)]
        if dhcp_mode != "off":
            socks.append(("udp", "0.0.0.0", 67))
        wait_ready(p, socks)
        return p

    def dnsmasq(self, dhcp):
        n = self._next()
        argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
                "--interface=br0", "--bind-interfaces", f"--pid-file={self.work}/dnsmasq-{n}.pid",
                f"--log-facility={self.work}/dnsmasq-{n}.syslog"]
        if dhcp:
            argv += [f"--dhcp-range={RANGE[0]},{RANGE[1]},{LEASE_TIME}", "--dhcp-authoritative",
                     "--no-ping", "--leasefile-ro"]
            socks = [("udp", "0.0.0.0", 67)]
        else:
            argv += ["--enable-tftp", f"--tftp-root={self.work}/ipxe"]
            socks = [("udp", SERVER_IP, 69)]
        p = Proc("dnsmasq", argv, os.path.join(self.work, f"dnsmasq-{n}.log"), self.args.ns)
        wait_ready(p, socks)
        return p

    def nginx(self):
        conf = os.path.join(self.work, "nginx.conf")
        w = self.work
        with open(conf, "w") as f:
            # Debian's /etc/nginx/nginx.conf http{} defaults (sendfile on, tcp_nopush on,
            # gzip on for text/html only), one server for http_root at /files/.
            f.write(f"""daemon off;
worker_processes auto;
pid {w}/nginx.pid;
error_log {w}/nginx-error.log;
events {{ worker_connections 768; }}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {w}/nginx-access.log;
    gzip on;
    client_body_temp_path {w}/nginx-tmp;
    proxy_temp_path {w}/nginx-tmp;
    fastcgi_temp_path {w}/nginx-tmp;
    uwsgi_temp_path {w}/nginx-tmp;
    scgi_temp_path {w}/nginx-tmp;
    server {{
        listen {SERVER_IP}:8081;
        location /files/ {{ alias {w}/httproot/; }}
    }}
}}
""")
        os.makedirs(f"{w}/nginx-tmp", exist_ok=True)
        p = Proc("nginx", [self.args.nginx, "-c", conf, "-e", f"{w}/nginx-error.log"], os.path.join(w, "nginx.log"), self.args.ns)
        wait_ready(p, [("tcp", SERVER_IP, 8081)])
        return p


# --------------------------------------------------------------------------- TFTP

def curl_tftp(name, blksize, timeout, out="/dev/null"):
    url = f"tftp://{SERVER_IP}/{name}"
    r = subprocess.run(["curl", "-sS", "--max-time", str(timeout), "--tftp-blksize", str(blksize), "-o", out,
                        "-w", "%{size_download} %{time_total}", url],
                       capture_output=True, text=True, timeout=timeout + 10)
    if r.returncode != 0:
        raise BenchError(f"curl {url} (blksize {blksize}) failed rc={r.returncode}: {r.stderr.strip()}")
    size, secs = r.stdout.split()
    return int(size), float(secs)


def py_tftp(name, blksize, windowsize, timeout):
    """A stdlib RFC 1350/2347/2348/7440 read client. Returns (bytes, seconds, sha256, window)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", 0))
    s.settimeout(1.0)
    opts = [b"blksize", str(blksize).encode(), b"tsize", b"0"]
    if windowsize > 1:
        opts += [b"windowsize", str(windowsize).encode()]
    rrq = struct.pack("!H", 1) + name.encode() + b"\0octet\0" + b"\0".join(opts) + b"\0"
    h = hashlib.sha256()
    deadline = time.monotonic() + timeout
    t0 = time.perf_counter()
    s.sendto(rrq, (SERVER_IP, 69))
    peer = None
    bsize, wsize = 512, 1
    last = 0          # last block received in order
    got = 0
    in_window = 0
    retries = 0
    total = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise BenchError(f"TFTP {name}: no completion after {timeout}s ({total} bytes)")
            try:
                pkt, addr = s.recvfrom(65536)
            except socket.timeout:
                retries += 1
                if retries > 5:
                    raise BenchError(f"TFTP {name}: timed out after block {last}")
                if peer is None:
                    s.sendto(rrq, (SERVER_IP, 69))
                else:
                    s.sendto(struct.pack("!HH", 4, last & 0xFFFF), peer)
                in_window = 0
                continue
            if peer is None:
                peer = addr
            elif addr != peer:
                continue
            op = struct.unpack("!H", pkt[:2])[0]
            if op == 6:  # OACK
                f = pkt[2:].split(b"\0")
                o = {f[i].lower(): f[i + 1] for i in range(0, len(f) - 1, 2)}
                bsize = int(o.get(b"blksize", b"512"))
                wsize = int(o.get(b"windowsize", b"1"))
                s.sendto(struct.pack("!HH", 4, 0), peer)
                continue
            if op == 5:
                raise BenchError(f"TFTP {name}: error {pkt[2:4].hex()} {pkt[4:-1]!r}")
            if op != 3:
                continue
            blk = struct.unpack("!H", pkt[2:4])[0]
            data = pkt[4:]
            if blk == (last + 1) & 0xFFFF:
                last += 1
                got += 1
                retries = 0
                h.update(data)
                total += len(data)
                in_window += 1
                if len(data) < bsize:
                    s.sendto(struct.pack("!HH", 4, blk), peer)
                    break
                if in_window >= wsize:
                    s.sendto(struct.pack("!HH", 4, blk), peer)
                    in_window = 0
            else:
                # out of order: ask again from the last good block (RFC 7440)
                s.sendto(struct.pack("!HH", 4, last & 0xFFFF), peer)
                in_window = 0
        secs = time.perf_counter() - t0
    finally:
        s.close()
    return total, secs, h.hexdigest(), wsize, bsize


def bench_tftp(args, servers, files, res):
    out = res.setdefault("tftp", {"curl": {}, "py": {}, "load": []})
    verify_path = os.path.join(servers.work, "tftp-verify.bin")
    order = ["ironbox", "dnsmasq"]
    for rnd in range(args.tftp_rounds):
        res["tftp"]["load"].append(os.getloadavg())
        for srv in (order if rnd % 2 == 0 else order[::-1]):
            p = servers.ironbox("off") if srv == "ironbox" else servers.dnsmasq(dhcp=False)
            try:
                # warm-up + content check: every file once, compared with the original
                for label, (name, size) in TFTP_FILES.items():
                    n, _ = curl_tftp(name, args.blksize, args.tftp_timeout, out=verify_path)
                    if n != size or sha256_file(verify_path) != files[name]:
                        raise BenchError(f"TFTP {srv} {name}: got {n} bytes, content differs from the original")
                for label, (name, size) in TFTP_FILES.items():
                    reps = args.tftp_small_repeat if size < (8 << 20) else 1
                    for _ in range(reps):
                        u = Usage(p.pid)
                        n, secs = curl_tftp(name, args.blksize, args.tftp_timeout)
                        use = u.take()
                        if n != size:
                            raise BenchError(f"TFTP {srv} {name}: {n} bytes, expected {size}")
                        out["curl"].setdefault(srv, {}).setdefault(label, []).append(
                            {"bytes": n, "seconds": secs, "MBps": n / secs / 1e6, "blocks": -(-n // args.blksize), **use})
                if args.tftp_parallel > 1:
                    name, size = TFTP_FILES["30MiB"]
                    u = Usage(p.pid)
                    t = time.perf_counter()
                    procs = [subprocess.Popen(["curl", "-sS", "--max-time", str(args.tftp_timeout), "--tftp-blksize", str(args.blksize),
                                               "-o", "/dev/null", "-w", "%{size_download}", f"tftp://{SERVER_IP}/{name}"],
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(args.tftp_parallel)]
                    got = []
                    try:
                        for q in procs:
                            o, e = q.communicate(timeout=args.tftp_timeout + 10)
                            if q.returncode != 0:
                                raise BenchError(f"TFTP {srv} parallel curl failed rc={q.returncode}: {e.strip()}")
                            got.append(int(o))
                    finally:
                        for q in procs:
                            if q.poll() is None:
                                q.kill()
                                q.wait()
                    secs = time.perf_counter() - t
                    use = u.take()
                    if any(g != size for g in got):
                        raise BenchError(f"TFTP {srv} parallel: sizes {got}, expected {size}")
                    out.setdefault("parallel", {}).setdefault(srv, []).append(
                        {"clients": args.tftp_parallel, "bytes": sum(got), "seconds": secs, "MBps": sum(got) / secs / 1e6, **use})
                if args.windowsize > 1:
                    for label, (name, size) in TFTP_FILES.items():
                        n, secs, sha, ws, bs = py_tftp(name, args.blksize, args.windowsize, args.tftp_timeout)
                        if n != size or sha != files[name]:
                            raise BenchError(f"TFTP (python client) {srv} {name}: {n} bytes, sha mismatch={sha != files[name]}")
                        out["py"].setdefault(srv, {}).setdefault(label, []).append(
                            {"bytes": n, "seconds": secs, "MBps": n / secs / 1e6, "windowsize": ws, "blksize": bs})
            finally:
                p.stop()
        log(f"TFTP round {rnd + 1}/{args.tftp_rounds}: " + ", ".join(
            f"{s} {lab} {out['curl'][s][lab][-1]['MBps']:.1f}" for s in order for lab in TFTP_FILES if s in out["curl"]) + " MB/s (curl)")


# --------------------------------------------------------------------------- HTTP

def curl_http(url, timeout, sha=False):
    """GET url with curl; the body goes to /dev/null, or through sha256 here (sha=True).
    Returns (bytes, seconds, curl speed_download, sha256 or None)."""
    argv = ["curl", "-sS", "--max-time", str(timeout), "-o", "-" if sha else "/dev/null",
            "-w", "%{stderr}\\n%{http_code} %{size_download} %{time_total} %{speed_download}\\n", url]
    h = hashlib.sha256() if sha else None
    p = subprocess.Popen(argv, stdout=subprocess.PIPE if sha else subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if sha:
            t_end = time.monotonic() + timeout + 10
            while True:
                if time.monotonic() > t_end:
                    raise BenchError(f"curl {url}: no end after {timeout}s")
                chunk = p.stdout.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
        _, err = p.communicate(timeout=timeout + 10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = err.decode(errors="replace").strip().splitlines()
    if p.returncode != 0 or not err:
        raise BenchError(f"curl {url} failed rc={p.returncode}: {' '.join(err)}")
    code, size, total, speed = err[-1].split()
    if code != "200":
        raise BenchError(f"GET {url}: HTTP {code}")
    return int(size), float(total), float(speed), (h.hexdigest() if sha else None)


class RssSampler(threading.Thread):
    def __init__(self, pid, period=0.02):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.max_rss = 0.0
        self.samples = 0
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.is_set():
            st = proc_status(self.pid)
            if "VmRSS" in st:
                self.max_rss = max(self.max_rss, st["VmRSS"])
                self.samples += 1
            self.stop_ev.wait(self.period)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=5)


def bench_http(args, servers, files, res):
    out = res.setdefault("http", {"samples": {"ironbox": [], "nginx": []}, "load": []})
    size = args.http_mib << 20
    urls = {"ironbox": f"http://{SERVER_IP}:8080/files/{HTTP_NAME}", "nginx": f"http://{SERVER_IP}:8081/files/{HTTP_NAME}"}
    ib = servers.ironbox("off")
    ng = servers.nginx()
    try:
        time.sleep(0.5)
        rss0 = proc_status(ib.pid)
        out["ironbox_rss_before_mib"] = rss0.get("VmRSS")
        # content check (also warms the page cache)
        for srv, url in urls.items():
            n, secs, _, digest = curl_http(url, args.http_timeout, sha=True)
            if n != size or digest != files[HTTP_NAME]:
                raise BenchError(f"HTTP {srv}: {n} bytes, sha256 {digest}, expected {size} bytes {files[HTTP_NAME]}")
            log(f"HTTP {srv}: content verified ({n} bytes, {secs:.2f} s with hashing)")
        sampler = RssSampler(ib.pid)
        sampler.start()
        try:
            for rnd in range(args.http_repeat):
                out["load"].append(os.getloadavg())
                for srv in (["ironbox", "nginx"] if rnd % 2 == 0 else ["nginx", "ironbox"]):
                    u = Usage(ib.pid if srv == "ironbox" else ng.pid)
                    n, secs, speed, _ = curl_http(urls[srv], args.http_timeout)
                    use = u.take()
                    if n != size:
                        raise BenchError(f"HTTP {srv}: {n} bytes, expected {size}")
                    out["samples"][srv].append({"bytes": n, "seconds": secs, "MBps": n / secs / 1e6, "curl_speed_download": speed, **use})
                log(f"HTTP {rnd + 1}/{args.http_repeat}: ironbox {out['samples']['ironbox'][-1]['MBps']:.0f} MB/s, "
                    f"nginx {out['samples']['nginx'][-1]['MBps']:.0f} MB/s")
        finally:
            sampler.stop()
        st = proc_status(ib.pid)
        out["ironbox_rss_max_during_mib"] = sampler.max_rss
        out["ironbox_rss_samples"] = sampler.samples
        out["ironbox_rss_after_mib"] = st.get("VmRSS")
        out["ironbox_hwm_after_mib"] = st.get("VmHWM")
    finally:
        ib.stop()
        ng.stop()


# --------------------------------------------------------------------------- DHCP

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
MAGIC = b"\x63\x82\x53\x63"


def ip_checksum(hdr):
    s = sum(struct.unpack("!10H", hdr))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF


class DhcpClient:
    """Raw DHCP client on CLIENT_IF: frames from the client's own MAC, 0.0.0.0:68 ->
    255.255.255.255:67, BOOTP broadcast flag set (both servers then broadcast the reply)."""

    def __init__(self, ifname):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.s.bind((ifname, ETH_P_IP))
        self.s.setblocking(False)
        self.ifname = ifname
        self.ip_id = 0

    def close(self):
        self.s.close()

    def drain(self):
        while True:
            try:
                self.s.recv(4096)
            except BlockingIOError:
                return

    @staticmethod
    def bootp(kind, mac, xid, opts):
        chaddr = mac + b"\0" * 10
        hdr = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                          b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, chaddr, b"", b"")
        body = bytes([53, 1, kind]) + bytes([61, 7, 1]) + mac + opts + bytes([55, 4, 1, 3, 6, 51, 255])
        pkt = hdr + MAGIC + body
        return pkt + b"\0" * max(0, 300 - len(pkt))   # BOOTP minimum size

    def send(self, mac, bootp):
        udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 20 + len(udp), self.ip_id, 0, 64, 17, 0,
                          b"\0\0\0\0", b"\xff\xff\xff\xff")
        iph = iph[:10] + struct.pack("!H", ip_checksum(iph)) + iph[12:]
        frame = b"\xff" * 6 + mac + struct.pack("!H", ETH_P_IP) + iph + udp
        self.s.send(frame)

    def recv_replies(self):
        """All DHCP replies waiting in the socket: list of (xid, type, yiaddr, server_id, t_ns,
        option codes)."""
        out = []
        while True:
            try:
                frame, addr = self.s.recvfrom(4096)
            except BlockingIOError:
                return out
            t = time.perf_counter_ns()
            if addr[2] == PACKET_OUTGOING or len(frame) < 14 + 20 + 8 + 240:
                continue
            if struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
                continue
            ip = frame[14:]
            ihl = (ip[0] & 0xF) * 4
            if ip[9] != 17:
                continue
            udp = ip[ihl:]
            if struct.unpack("!H", udp[2:4])[0] != 68:
                continue
            b = udp[8:]
            if b[0] != 2 or b[236:240] != MAGIC:
                continue
            xid = struct.unpack("!I", b[4:8])[0]
            yiaddr = socket.inet_ntoa(b[16:20])
            kind, sid = None, None
            codes = []
            i = 240
            while i < len(b):
                code = b[i]
                if code == 255:
                    break
                if code == 0:
                    i += 1
                    continue
                if i + 1 >= len(b):
                    break
                ln = b[i + 1]
                val = b[i + 2:i + 2 + ln]
                codes.append(code)
                if code == 53 and ln == 1:
                    kind = val[0]
                elif code == 54 and ln == 4:
                    sid = val
                i += 2 + ln
            out.append((xid, kind, yiaddr, sid, t, codes))


def dhcp_run(client, macs, concurrency, timeout, rnd_xid):
    """DORA for every MAC, `concurrency` transactions in flight. Returns per-transaction
    records and the wall time."""
    pending = list(reversed(macs))
    inflight = {}     # xid -> dict
    done = []
    lo, hi = (struct.unpack("!I", socket.inet_aton(x))[0] for x in RANGE)
    t_start = time.perf_counter_ns()
    while pending or inflight:
        while pending and len(inflight) < concurrency:
            mac = pending.pop()
            xid = rnd_xid()
            while xid in inflight:
                xid = rnd_xid()
            t = time.perf_counter_ns()
            client.send(mac, DhcpClient.bootp(1, mac, xid, b""))
            inflight[xid] = {"mac": mac.hex(":"), "xid": xid, "t_start": t, "t_discover": t, "state": "offer", "deadline": t + int(timeout * 1e9)}
        now = time.perf_counter_ns()
        wait = max(0.0, (min(x["deadline"] for x in inflight.values()) - now) / 1e9) if inflight else 0
        r, _, _ = select.select([client.s], [], [], min(wait, 1.0))
        if r:
            for xid, kind, yiaddr, sid, t, codes in client.recv_replies():
                tr = inflight.get(xid)
                if tr is None:
                    continue
                tr.setdefault("reply_options", {}).setdefault(str(kind), codes)
                if tr["state"] == "offer" and kind == 2:
                    ipn = struct.unpack("!I", socket.inet_aton(yiaddr))[0]
                    if not (lo <= ipn <= hi) or sid is None:
                        tr.update(state="failed", error=f"bad OFFER yiaddr={yiaddr} server_id={sid}")
                    else:
                        tr.update(t_offer=t, yiaddr=yiaddr, state="ack")
                        opts = bytes([50, 4]) + socket.inet_aton(yiaddr) + bytes([54, 4]) + sid
                        t2 = time.perf_counter_ns()
                        client.send(bytes.fromhex(tr["mac"].replace(":", "")), DhcpClient.bootp(3, bytes.fromhex(tr["mac"].replace(":", "")), xid, opts))
                        tr["t_request"] = t2
                        tr["deadline"] = t2 + int(timeout * 1e9)
                elif tr["state"] == "ack" and kind == 5:
                    if yiaddr != tr["yiaddr"]:
                        tr.update(state="failed", error=f"ACK for {yiaddr}, offered {tr['yiaddr']}")
                    else:
                        tr.update(t_ack=t, state="ok")
                elif tr["state"] == "ack" and kind == 6:
                    # NAK (dnsmasq offers without reserving: two clients in flight can be
                    # offered the same address). A real client starts over: so do we.
                    tr["naks"] = tr.get("naks", 0) + 1
                    if tr["naks"] > 8:
                        tr.update(state="failed", error="NAK 9 times")
                    else:
                        inflight.pop(xid)
                        nxid = rnd_xid()
                        while nxid in inflight:
                            nxid = rnd_xid()
                        mac = bytes.fromhex(tr["mac"].replace(":", ""))
                        t2 = time.perf_counter_ns()
                        client.send(mac, DhcpClient.bootp(1, mac, nxid, b""))
                        tr.update(xid=nxid, t_discover=t2, state="offer", deadline=t2 + int(timeout * 1e9))
                        inflight[nxid] = tr
                        continue
                if tr["state"] in ("ok", "failed"):
                    done.append(inflight.pop(xid))
        now = time.perf_counter_ns()
        for xid in [x for x, tr in inflight.items() if tr["deadline"] <= now]:
            tr = inflight.pop(xid)
            tr.update(error=f"timeout waiting for {'OFFER' if tr['state'] == 'offer' else 'ACK'}", state="failed")
            done.append(tr)
    wall = (time.perf_counter_ns() - t_start) / 1e9
    recs = []
    for tr in done:
        # timings for every transaction; identities only for the first one and failures
        rec = {"ok": tr["state"] == "ok", "naks": tr.get("naks", 0)}
        if "t_offer" in tr:
            rec["offer_ms"] = round((tr["t_offer"] - tr["t_discover"]) / 1e6, 4)
        if "t_ack" in tr:
            rec["ack_ms"] = round((tr["t_ack"] - tr["t_request"]) / 1e6, 4)
            rec["dora_ms"] = round((tr["t_ack"] - tr["t_start"]) / 1e6, 4)
        if not recs or not rec["ok"]:
            rec.update(mac=tr["mac"], xid=tr["xid"], yiaddr=tr.get("yiaddr"), error=tr.get("error"),
                       reply_options=tr.get("reply_options"))   # option codes per reply type
        recs.append((rec, tr.get("yiaddr")))
    return recs, wall


def bench_dhcp(args, servers, res):
    out = res.setdefault("dhcp", {"rounds": [], "load": []})
    client = DhcpClient(CLIENT_IF)
    rng = random.Random(0x1B0C5)
    seen = set()

    def macs(n):
        # distinct random unicast, locally administered MACs (seeded: the same set each run)
        m = []
        while len(m) < n:
            mac = bytes([0x02]) + rng.getrandbits(40).to_bytes(5, "big")
            if mac not in seen:
                seen.add(mac)
                m.append(mac)
        return m

    order = ["ironbox", "dnsmasq"]
    try:
        for rnd in range(args.dhcp_rounds):
            out["load"].append(os.getloadavg())
            for srv in (order if rnd % 2 == 0 else order[::-1]):
                for phase, conc in (("sequential", 1), ("concurrent", args.dhcp_concurrency)):
                    p = servers.ironbox("full") if srv == "ironbox" else servers.dnsmasq(dhcp=True)
                    try:
                        client.drain()
                        warm, _ = dhcp_run(client, macs(1), 1, args.dhcp_timeout, lambda: rng.getrandbits(32))
                        if not warm[0][0]["ok"]:
                            raise BenchError(f"DHCP {srv}: warm-up transaction failed: {warm[0]}\n{p.tail()}")
                        u = Usage(p.pid)
                        recs, wall = dhcp_run(client, macs(args.dhcp_n), conc, args.dhcp_timeout, lambda: rng.getrandbits(32))
                        use = u.take()
                    finally:
                        p.stop()
                    ips = [ip for r, ip in recs if r["ok"]]
                    recs = [r for r, _ in recs]
                    ok = [r for r in recs if r["ok"]]
                    failed = [r for r in recs if not r["ok"]]
                    dup = len(ips) - len(set(ips))
                    rec = {"server": srv, "phase": phase, "concurrency": conc, "round": rnd, "n": len(recs),
                           "ok": len(ok), "failed": len(failed), "duplicate_ips": dup,
                           "naks_retried": sum(r["naks"] for r in recs), "wall_s": wall,
                           "tx_per_s": len(ok) / wall if wall > 0 else 0.0, **use,
                           # per transaction, in completion order (failed ones have no ack/dora)
                           "offer_ms": [r["offer_ms"] for r in recs if "offer_ms" in r],
                           "ack_ms": [r["ack_ms"] for r in recs if "ack_ms" in r],
                           "dora_ms": [r["dora_ms"] for r in recs if "dora_ms" in r],
                           "naks": [r["naks"] for r in recs],
                           "first_transaction": recs[0] if recs else None,
                           "failures": [r for r in failed]}
                    out["rounds"].append(rec)
                    offer = [r["offer_ms"] for r in recs if "offer_ms" in r]
                    log(f"DHCP round {rnd + 1}/{args.dhcp_rounds} {srv} {phase} (c={conc}): {len(ok)}/{len(recs)} ok, "
                        f"{rec['tx_per_s']:.0f} tx/s, DISCOVER->OFFER median {median(offer):.3f} ms"
                        + (f", FAILED {len(failed)}: {failed[0].get('error')}" if failed else "")
                        + (f", {dup} duplicate addresses" if dup else "")
                        + (f", {rec['naks_retried']} NAKs (retried)" if rec["naks_retried"] else ""))
    finally:
        client.close()


# --------------------------------------------------------------------------- report

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def make_file(path, size):
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            b = os.urandom(min(left, 4 << 20))
            h.update(b)
            f.write(b)
            left -= len(b)
    os.chmod(path, 0o644)
    return h.hexdigest()


def fmt(x, nd=3):
    if x is None or (isinstance(x, float) and x != x):
        return "-"
    if abs(x) >= 1000:
        return f"{x:.0f}"
    if abs(x) >= 100:
        return f"{x:.1f}"
    return f"{x:.{nd}g}" if abs(x) < 1 else f"{x:.2f}"


def summarize(res, args):
    rows = []      # (metric, ironbox, reference, ratio, ratio_kind)
    targets = []
    if "tftp" in res and res["tftp"]["curl"]:
        c = res["tftp"]["curl"]
        for label in TFTP_FILES:
            i = median([x["MBps"] for x in c.get("ironbox", {}).get(label, [])])
            d = median([x["MBps"] for x in c.get("dnsmasq", {}).get(label, [])])
            rows.append((f"TFTP {label} MB/s (curl, blksize {args.blksize})", i, d, i / d, "dnsmasq"))
            targets.append({"name": f"TFTP {label} throughput >= {TARGET_TFTP}x dnsmasq", "ratio": i / d,
                            "need": f">= {TARGET_TFTP}", "met": i / d >= TARGET_TFTP})
        for label in TFTP_FILES:
            cost = {}
            for s in ("ironbox", "dnsmasq"):
                xs = c.get(s, {}).get(label, [])
                mib = sum(x["bytes"] for x in xs) / 1048576.0
                blocks = sum(x["blocks"] for x in xs)
                cost[s] = (sum(x["server_cpu_s"] for x in xs) * 1000 / mib if mib else float("nan"),
                           sum(x["server_ctxsw"] for x in xs) / blocks if blocks else float("nan"))
            rows.append((f"TFTP {label} server CPU ms per MiB", cost["ironbox"][0], cost["dnsmasq"][0], cost["dnsmasq"][0] / cost["ironbox"][0], "cost"))
            rows.append((f"TFTP {label} server context switches per block", cost["ironbox"][1], cost["dnsmasq"][1], cost["dnsmasq"][1] / cost["ironbox"][1], "cost"))
        par = res["tftp"].get("parallel") or {}
        if par.get("ironbox") and par.get("dnsmasq"):
            i = median([x["MBps"] for x in par["ironbox"]])
            d = median([x["MBps"] for x in par["dnsmasq"]])
            rows.append((f"TFTP 30MiB x{par['ironbox'][0]['clients']} clients at once, total MB/s (curl) info", i, d, i / d, "dnsmasq"))
        py = res["tftp"].get("py") or {}
        for label in TFTP_FILES:
            if py.get("ironbox", {}).get(label):
                i = median([x["MBps"] for x in py["ironbox"][label]])
                d = median([x["MBps"] for x in py.get("dnsmasq", {}).get(label, [])])
                wi = py["ironbox"][label][0]["windowsize"]
                wd = py.get("dnsmasq", {}).get(label, [{}])[0].get("windowsize")
                rows.append((f"TFTP {label} MB/s (py, ws asked {args.windowsize}; got {wi}/{wd}) info", i, d, i / d, "dnsmasq"))
    if "http" in res and res["http"]["samples"]["ironbox"]:
        h = res["http"]
        i = median([x["MBps"] for x in h["samples"]["ironbox"]])
        n = median([x["MBps"] for x in h["samples"]["nginx"]])
        rows.append((f"HTTP {args.http_mib} MiB MB/s (curl)", i, n, i / n, "nginx"))
        targets.append({"name": f"HTTP throughput >= {TARGET_HTTP}x nginx", "ratio": i / n, "need": f">= {TARGET_HTTP}", "met": i / n >= TARGET_HTTP})
        cost = {}
        for s in ("ironbox", "nginx"):
            xs = h["samples"][s]
            mib = sum(x["bytes"] for x in xs) / 1048576.0
            cost[s] = (sum(x["server_cpu_s"] for x in xs) * 1000 / mib, sum(x["server_ctxsw"] for x in xs) / mib)
        rows.append(("HTTP server CPU ms per MiB", cost["ironbox"][0], cost["nginx"][0], cost["nginx"][0] / cost["ironbox"][0], "cost"))
        rows.append(("HTTP server context switches per MiB", cost["ironbox"][1], cost["nginx"][1], cost["nginx"][1] / cost["ironbox"][1], "cost"))
        growth = (h.get("ironbox_rss_max_during_mib") or 0) - (h.get("ironbox_rss_before_mib") or 0)
        growth_hwm = (h.get("ironbox_hwm_after_mib") or 0) - (h.get("ironbox_rss_before_mib") or 0)
        g = max(growth, growth_hwm)
        rows.append(("ironbox RSS before HTTP (MiB)", h.get("ironbox_rss_before_mib"), None, None, ""))
        rows.append(("ironbox RSS max during / VmHWM (MiB)", h.get("ironbox_rss_max_during_mib"), h.get("ironbox_hwm_after_mib"), None, ""))
        targets.append({"name": f"ironbox streams the {args.http_mib} MiB file (RSS growth < {RSS_GROWTH_LIMIT_MIB} MiB)",
                        "ratio": g, "need": f"< {RSS_GROWTH_LIMIT_MIB} MiB", "met": g < RSS_GROWTH_LIMIT_MIB})
    if "dhcp" in res and res["dhcp"]["rounds"]:
        R = res["dhcp"]["rounds"]

        def lat(srv, key, phase="sequential"):
            return [v for r in R if r["server"] == srv and r["phase"] == phase for v in r[key]]

        def tps(srv, phase):
            return median([r["tx_per_s"] for r in R if r["server"] == srv and r["phase"] == phase])

        for key, name in (("offer_ms", "DISCOVER->OFFER"), ("ack_ms", "REQUEST->ACK")):
            i, d = lat("ironbox", key), lat("dnsmasq", key)
            for p in (50, 90):
                a, b = percentile(i, p), percentile(d, p)
                rows.append((f"DHCP {name} {'median' if p == 50 else 'p90'} (ms)", a, b, b / a, "dnsmasq/ironbox"))
                if key == "offer_ms" and p == 50:
                    targets.append({"name": f"DHCP DISCOVER->OFFER median latency >= {TARGET_DHCP}x dnsmasq (dnsmasq/ironbox)",
                                    "ratio": b / a, "need": f">= {TARGET_DHCP}", "met": b / a >= TARGET_DHCP})
        for phase in ("sequential", "concurrent"):
            i, d = tps("ironbox", phase), tps("dnsmasq", phase)
            conc = 1 if phase == "sequential" else args.dhcp_concurrency
            rows.append((f"DHCP DORA tx/s ({phase}, {conc} in flight)", i, d, i / d, "dnsmasq"))
            targets.append({"name": f"DHCP transactions/s {phase} >= {TARGET_DHCP}x dnsmasq", "ratio": i / d,
                            "need": f">= {TARGET_DHCP}", "met": i / d >= TARGET_DHCP})
        cost = {}
        for s in ("ironbox", "dnsmasq"):
            xs = [r for r in R if r["server"] == s]
            n = sum(r["n"] for r in xs)
            cost[s] = (sum(r["server_cpu_s"] for r in xs) * 1e6 / n, sum(r["server_ctxsw"] for r in xs) / n)
        rows.append(("DHCP server CPU us per DORA", cost["ironbox"][0], cost["dnsmasq"][0], cost["dnsmasq"][0] / cost["ironbox"][0], "cost"))
        rows.append(("DHCP server context switches per DORA", cost["ironbox"][1], cost["dnsmasq"][1], cost["dnsmasq"][1] / cost["ironbox"][1], "cost"))
        fails = {s: sum(r["failed"] for r in R if r["server"] == s) for s in ("ironbox", "dnsmasq")}
        dups = {s: sum(r["duplicate_ips"] for r in R if r["server"] == s) for s in ("ironbox", "dnsmasq")}
        rows.append(("DHCP failed transactions (all rounds)", fails["ironbox"], fails["dnsmasq"], None, ""))
        rows.append(("DHCP duplicate addresses (all rounds)", dups["ironbox"], dups["dnsmasq"], None, ""))
        naks = {s: sum(r["naks_retried"] for r in R if r["server"] == s) for s in ("ironbox", "dnsmasq")}
        rows.append(("DHCP NAKs, retried from DISCOVER (all rounds)", naks["ironbox"], naks["dnsmasq"], None, ""))
    return rows, targets


def render(rows, targets):
    w = max([len(r[0]) for r in rows] + [20])
    lines = [f"{'metric':<{w}}  {'ironbox':>9}  {'reference':>9}  {'ratio':>6}", "-" * (w + 32)]
    for name, i, d, ratio, _ in rows:
        lines.append(f"{name:<{w}}  {fmt(i):>9}  {fmt(d):>9}  {fmt(ratio) if ratio is not None else '':>6}")
    lines.append("reference = dnsmasq (TFTP, DHCP) / nginx (HTTP); ratio = ironbox/reference for MB/s and tx/s,")
    lines.append("reference/ironbox for latencies and server costs: > 1 = ironbox better. Server CPU = run time of all")
    lines.append("the server's threads (and nginx's workers) during the measured transfers, from /proc/TID/schedstat.")
    lines.append("")
    for t in targets:
        r = t["ratio"]
        lines.append(f"target {t['name']}: {fmt(r)} (need {t['need']}) -> {'MET' if t['met'] else 'MISSED'}")
    return "\n".join(lines)


def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001
        return f"? ({e})"


def git(*a):
    try:
        return subprocess.run(["git", "-C", REPO] + list(a), capture_output=True, text=True, timeout=10).stdout.rstrip()
    except Exception:  # noqa: BLE001
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ironbox", default=os.path.join(REPO, "target", "release", "ironbox"))
    ap.add_argument("--ironbox-commit", help="what the binary was built from, if not this checkout "
                    "(e.g. a clean `git archive HEAD` build); recorded in the JSON and the header")
    ap.add_argument("--nginx", default="nginx")
    ap.add_argument("--out", help="write raw numbers here (JSON)")
    ap.add_argument("--only", default="tftp,http,dhcp", help="comma list of tftp,http,dhcp")
    ap.add_argument("--ns", default=f"ibxbench{os.getpid()}", help="namespace name (created and deleted)")
    ap.add_argument("--blksize", type=int, default=1468)
    ap.add_argument("--windowsize", type=int, default=8, help="python TFTP client windowsize (info rows); 1 = skip")
    ap.add_argument("--tftp-rounds", type=int, default=8, help="server restarts per TFTP server (alternating)")
    ap.add_argument("--tftp-small-repeat", type=int, default=3, help="1 MiB downloads per round")
    ap.add_argument("--tftp-parallel", type=int, default=4, help="clients fetching the 30 MiB file at once (info rows); 1 = skip")
    ap.add_argument("--tftp-timeout", type=float, default=120)
    ap.add_argument("--http-mib", type=int, default=1024)
    ap.add_argument("--http-repeat", type=int, default=7)
    ap.add_argument("--http-timeout", type=float, default=300)
    ap.add_argument("--dhcp-n", type=int, default=140, help="transactions per phase (range holds 151)")
    ap.add_argument("--dhcp-concurrency", type=int, default=8)
    ap.add_argument("--dhcp-rounds", type=int, default=5)
    ap.add_argument("--dhcp-timeout", type=float, default=2.0, help="seconds to wait for each OFFER/ACK")
    ap.add_argument("--max-seconds", type=int, default=1800)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs); processes are still stopped")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if os.geteuid() != 0:
        sys.exit("needs root (network namespace, raw sockets)")
    if args.dhcp_n + 1 > 151:
        sys.exit("--dhcp-n must be <= 150 (the range holds 151 addresses, one goes to the warm-up)")
    args.ironbox = os.path.abspath(args.ironbox)
    if not os.access(args.ironbox, os.X_OK):
        sys.exit(f"ironbox binary not found or not executable: {args.ironbox} (cargo build --release)")
    for tool in ("curl", "dnsmasq", args.nginx, "ip"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (tests/lab/setup.sh installs curl, dnsmasq-base; apt-get install nginx-light)")

    def on_signal(sig, _frame):
        raise SystemExit(f"signal {sig}")

    def on_alarm(_sig, _frame):
        raise Timeout(f"--max-seconds {args.max_seconds} reached")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.max_seconds)

    res = {}
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty_files": [l for l in git("status", "--porcelain").splitlines() if l],
        "ironbox_built_from": args.ironbox_commit,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "ironbox": args.ironbox,
        "dnsmasq": tool_version(["dnsmasq", "--version"]),
        "nginx": tool_version([args.nginx, "-v"]),
        "curl": tool_version(["curl", "--version"]),
        "args": vars(args),
    }
    with open(args.ironbox, "rb") as f:
        meta["ironbox_sha256"] = hashlib.sha256(f.read()).hexdigest()
    doc = {"meta": meta, "results": res}
    work = tempfile.mkdtemp(prefix="ibxbench-")
    os.chmod(work, 0o755)                      # nginx workers run as nobody
    ns = Netns(args.ns)
    rc = 0
    t0 = time.monotonic()
    try:
        for d in ("ipxe", "httproot"):
            os.makedirs(os.path.join(work, d))
            os.chmod(os.path.join(work, d), 0o755)
        files = {}
        if "tftp" in only:
            for name, size in TFTP_FILES.values():
                files[name] = make_file(os.path.join(work, "ipxe", name), size)
        if "http" in only:
            log(f"writing a {args.http_mib} MiB random file")
            files[HTTP_NAME] = make_file(os.path.join(work, "httproot", HTTP_NAME), args.http_mib << 20)
        meta["files_sha256"] = files
        ns.up()
        log(f"namespace {args.ns} up; load {os.getloadavg()}")
        servers = Servers(args, work)
        if "tftp" in only:
            bench_tftp(args, servers, files, res)
        if "http" in only:
            bench_http(args, servers, files, res)
        if "dhcp" in only:
            bench_dhcp(args, servers, res)
    except (Exception, Timeout, SystemExit, KeyboardInterrupt) as e:  # noqa: BLE001
        rc = 1
        doc["error"] = f"{type(e).__name__}: {e}"
        log(f"FAILED: {doc['error']}")
        for p in Proc.running:
            log(f"--- {p.name} log tail:\n{p.tail()}")
    finally:
        signal.alarm(0)
        Proc.stop_all()
        ns.close()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    meta["loadavg_end"] = os.getloadavg()
    meta["wall_s"] = time.monotonic() - t0
    try:
        rows, targets = summarize(res, args)
        doc["comparison"] = [{"metric": r[0], "ironbox": r[1], "reference": r[2], "ratio": r[3], "reference_name": r[4]} for r in rows]
        doc["targets"] = targets
        print(f"boot network benchmark, {meta['date']}, nproc {meta['nproc']}, load {meta['loadavg_start'][0]:.2f} -> "
              f"{meta['loadavg_end'][0]:.2f}, ironbox " + (args.ironbox_commit or (meta['commit'] + (" (+uncommitted changes)" if meta["dirty_files"] else ""))))
        print(render(rows, targets))
    except Exception as e:  # noqa: BLE001
        rc = 1
        doc.setdefault("error", f"summary failed: {type(e).__name__}: {e}")
        log(doc["error"])
    if args.out:
        text = json.dumps(doc, indent=1)
        # lists of scalars on one line (JSON strings never hold a raw newline, so only layout changes)
        text = re.sub(r"\[[^\[\]{}]*\]", lambda m: re.sub(r"\n\s*", " ", m.group(0)), text)
        with open(args.out, "w") as f:
            f.write(text + "\n")
        log(f"wrote {args.out}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
