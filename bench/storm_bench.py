#!/usr/bin/env python3
"""Rack power-on storm: N simulated PXE machines boot at once against ironbox, and the same
storm against dnsmasq + nginx, interleaved in one run.

Each simulated machine does what a PXE ROM + iPXE does:
  1. DHCP DORA as a PXE ROM (option 60 PXEClient, 93 arch 0 = BIOS)  -> boot file name
  2. TFTP of that file (RRQ blksize 1432 + tsize, lock-step ACKs)     -> the iPXE program
  3. DHCP DORA again as iPXE (option 77 "iPXE", option 175)          -> boot script URL
  4. HTTP GET of the script, following `chain` lines (new connection per request, as iPXE)
  5. HTTP GET of the `kernel` URL, then 6. of the `initrd` URL        -> "has its ramdisk"
Machines start at uniformly random moments within --spread seconds (default 1).
Retransmits as the firmware does: DHCP after 4 s (PXE ROM; iPXE too), TFTP after 1 s.

Network: tests/lab/netns.sh makes the server namespace (br0 = 10.99.0.1, widened to /16);
its veth end vcl1 moves into a client namespace of its own (10.99.0.2/16) where this
script's sockets live, so a plain UDP socket can broadcast DHCP (as in
tests/integration/dhcp_storm.rs). All machines share 10.99.0.2 for TFTP and HTTP: the
leased addresses are checked (distinct, in range) but not configured.

Usage (root; dnsmasq and nginx-light installed):
  bench/storm_bench.py --ironbox target/release/ironbox --clients 1000 --payload-mb 60 \
      --rounds 3 --out bench/results-storm-DATE.json
Everything started is stopped and both namespaces deleted, also on failure or Ctrl-C.
"""

import argparse
import asyncio
import datetime
import json
import os
import random
import re
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot_bench as bb  # noqa: E402  (Proc, wait_ready, setns, percentile, log)

SERVER_IP = "10.99.0.1"
CLIENT_IP = "10.99.0.2"
RANGE = ("10.99.1.0", "10.99.8.255")   # 2048 addresses
LEASE_TIME = 600
BOOT_FILE = "undionly.kpxe"
IRONBOX_HTTP = 8080
NGINX_HTTP = 8081
PHASES = ["dhcp_pxe", "tftp", "dhcp_ipxe", "script", "kernel", "initrd"]
DHCP_RETRANSMIT = 4.0
TFTP_RETRANSMIT = 1.0
TFTP_BLKSIZE = 1432
MAX_TRIES = 8


class StormError(RuntimeError):
    pass


# --------------------------------------------------------------------------- network

def run(*argv):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise StormError(f"{argv}: {r.stdout}{r.stderr}")


class Net:
    def __init__(self, name):
        self.name = name
        self.client = name + "c"
        self.orig = None
        self.up_done = False

    def up(self):
        self.up_done = True
        run("bash", bb.NETNS_SH, "up", self.name, "0")
        run("ip", "netns", "add", self.client)
        run("ip", "-n", self.name, "link", "set", "vcl1", "netns", self.client)
        run("ip", "-n", self.client, "addr", "add", CLIENT_IP + "/16", "dev", "vcl1")
        run("ip", "-n", self.client, "link", "set", "vcl1", "up")
        run("ip", "-n", self.client, "link", "set", "lo", "up")
        run("ip", "-n", self.name, "addr", "del", SERVER_IP + "/24", "dev", "br0")
        run("ip", "-n", self.name, "addr", "add", SERVER_IP + "/16", "dev", "br0")
        self.orig = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.client}", os.O_RDONLY)
        try:
            bb.setns(fd)
        finally:
            os.close(fd)

    def down(self):
        if self.orig is not None:
            bb.setns(self.orig)
            os.close(self.orig)
            self.orig = None
        if self.up_done:
            subprocess.run(["ip", "netns", "del", self.client], capture_output=True)
            subprocess.run(["bash", bb.NETNS_SH, "down", self.name], capture_output=True)
            self.up_done = False


# --------------------------------------------------------------------------- servers

def listening(pid, proto, ip, port):
    """Is ip:port bound in the namespace of process `pid` (this script lives in another)?"""
    a = socket.inet_aton(ip)
    want = "%08X:%04X" % (struct.unpack("<I", a)[0], port)
    try:
        with open(f"/proc/{pid}/net/{proto}") as f:
            next(f)
            return any(ln.split()[1] == want and (proto == "udp" or ln.split()[3] == "0A") for ln in f)
    except OSError:
        return False


def wait_ready(proc, sockets, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not proc.alive():
            raise StormError(f"{proc.name} exited with {proc.p.returncode}:\n{proc.tail()}")
        if all(listening(proc.pid, *s) for s in sockets):
            return
        time.sleep(0.02)
    raise StormError(f"{proc.name} not listening on {sockets} after {timeout}s:\n{proc.tail(5)}")


def start_ironbox(args, work, n):
    data = os.path.join(work, f"ironbox-data-{n}")
    os.makedirs(data)
    conf = os.path.join(work, f"ironbox-{n}.toml")
    with open(conf, "w") as f:
        f.write(f"""[DEFAULT]
state_path = "{data}"
[api]
port = 0
[dhcp]
interface = "br0"
mode = "full"
range_start = "{RANGE[0]}"
range_end = "{RANGE[1]}"
lease_time = {LEASE_TIME}
allow_unknown_clients = true
[auto_discovery]
max_boots_per_minute = 0
[inspector]
kernel = "vmlinuz"
ramdisk = "initrd.img"
[pxe]
http_root = "{work}/httproot"
ipxe_dir = "{work}/ipxe"
tftp_port = 69
tftp_max_transfers = {args.tftp_max}
http_port = {IRONBOX_HTTP}
""")
    p = bb.Proc("ironbox", [args.ironbox, "serve", "--config", conf],
                os.path.join(work, f"ironbox-{n}.log"), args.ns)
    wait_ready(p, [("udp", SERVER_IP, 69), ("tcp", SERVER_IP, IRONBOX_HTTP), ("udp", "0.0.0.0", 67)])
    return [p]


def ironbox_metrics(args, work, n):
    """ironbox's DHCP/TFTP/HTTP counters after a storm (its API is on loopback in the
    server namespace)."""
    try:
        with open(os.path.join(work, f"ironbox-data-{n}", "endpoints.json")) as f:
            api = json.load(f)["api"]
        r = subprocess.run(["ip", "netns", "exec", args.ns, "curl", "-s", api + "/metrics"],
                           capture_output=True, text=True, timeout=30)
        keep = ("ironbox_dhcp_", "ironbox_tftp_", "ironbox_http_boot_")
        return [ln for ln in r.stdout.splitlines() if ln.startswith(keep) and not ln.endswith(" 0")]
    except (OSError, KeyError, ValueError, subprocess.SubprocessError) as e:
        return [f"metrics unavailable: {e}"]


DNSMASQ_CONF = """# dnsmasq as a PXE/iPXE boot server is usually set up (Debian's dnsmasq 2.90):
# DHCP with a lease file, its own TFTP server, iPXE chain-loaded over HTTP from nginx.
port=0
interface=br0
bind-interfaces
dhcp-range={r0},{r1},{lt}
dhcp-leasefile={work}/dnsmasq-{n}.leases
dhcp-match=set:ipxe,175
dhcp-boot=tag:!ipxe,{boot}
dhcp-boot=tag:ipxe,http://{ip}:{port}/boot.ipxe
enable-tftp
tftp-root={work}/ipxe
log-facility={work}/dnsmasq-{n}.syslog
{extra}"""

NGINX_CONF = """# Debian's /etc/nginx/nginx.conf http{{}} defaults, one server block for the boot files.
daemon off;
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 768; }}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {work}/nginx-access.log;
    gzip on;
    client_body_temp_path {work}/nginx-tmp;
    proxy_temp_path {work}/nginx-tmp;
    fastcgi_temp_path {work}/nginx-tmp;
    uwsgi_temp_path {work}/nginx-tmp;
    scgi_temp_path {work}/nginx-tmp;
    server {{
        listen {ip}:{port};
        root {work}/httproot;
    }}
}}
"""


def start_reference(args, work, n):
    conf = os.path.join(work, f"dnsmasq-{n}.conf")
    with open(conf, "w") as f:
        f.write(DNSMASQ_CONF.format(r0=RANGE[0], r1=RANGE[1], lt=LEASE_TIME, work=work, n=n,
                                    boot=BOOT_FILE, ip=SERVER_IP, port=NGINX_HTTP,
                                    extra="no-ping\n" if args.dnsmasq_no_ping else ""))
    nconf = os.path.join(work, "nginx.conf")
    with open(nconf, "w") as f:
        f.write(NGINX_CONF.format(work=work, ip=SERVER_IP, port=NGINX_HTTP))
    os.makedirs(f"{work}/nginx-tmp", exist_ok=True)
    d = bb.Proc("dnsmasq", ["dnsmasq", "--keep-in-foreground", f"--conf-file={conf}",
                            f"--pid-file={work}/dnsmasq-{n}.pid"],
                os.path.join(work, f"dnsmasq-{n}.log"), args.ns)
    wait_ready(d, [("udp", SERVER_IP, 69), ("udp", "0.0.0.0", 67)])
    g = bb.Proc("nginx", [args.nginx, "-c", nconf, "-e", f"{work}/nginx-error.log"],
                os.path.join(work, f"nginx-{n}.log"), args.ns)
    wait_ready(g, [("tcp", SERVER_IP, NGINX_HTTP)])
    return [d, g]


# --------------------------------------------------------------------------- DHCP client

def dhcp_packet(kind, mac, xid, ipxe, requested=None, server=None):
    p = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                    b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac + b"\0" * 10, b"", b"")
    o = bytearray(b"\x63\x82\x53\x63")
    o += bytes([53, 1, kind])
    o += bytes([61, 7, 1]) + mac
    if requested:
        o += bytes([50, 4]) + socket.inet_aton(requested)
    if server:
        o += bytes([54, 4]) + socket.inet_aton(server)
    vc = b"PXEClient:Arch:00000:UNDI:002001"
    o += bytes([60, len(vc)]) + vc
    o += bytes([93, 2, 0, 0, 94, 3, 1, 2, 1])
    o += bytes([55, 8, 1, 3, 6, 43, 54, 60, 66, 67])
    if ipxe:
        o += bytes([77, 4]) + b"iPXE"
        o += bytes([175, 3, 0x13, 1, 1])        # iPXE feature: HTTP
    o += b"\xff"
    return bytes(p) + bytes(o)


def parse_dhcp(data):
    if len(data) < 240 or data[236:240] != b"\x63\x82\x53\x63":
        return None
    xid = struct.unpack("!I", data[4:8])[0]
    yiaddr = socket.inet_ntoa(data[16:20])
    siaddr = socket.inet_ntoa(data[20:24])
    file_ = data[108:236].split(b"\0", 1)[0].decode(errors="replace")
    opts = {}
    i = 240
    while i < len(data):
        c = data[i]
        if c == 255:
            break
        if c == 0:
            i += 1
            continue
        if i + 1 >= len(data):
            break
        ln = data[i + 1]
        opts[c] = data[i + 2:i + 2 + ln]
        i += 2 + ln
    kind = opts.get(53, b"\0")[0]
    if 67 in opts:
        file_ = opts[67].split(b"\0", 1)[0].decode(errors="replace")
    server = socket.inet_ntoa(opts[54]) if len(opts.get(54, b"")) == 4 else None
    return xid, kind, yiaddr, siaddr, file_, server


class DhcpPort(asyncio.DatagramProtocol):
    """The machines' shared port 68: replies go to whoever waits for their xid."""

    def __init__(self):
        self.waiting = {}
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        r = parse_dhcp(data)
        if r is None:
            return
        q = self.waiting.get(r[0])
        if q is not None:
            q.put_nowait(r)

    def send(self, pkt):
        self.transport.sendto(pkt, ("255.255.255.255", 67))


class Nak(Exception):
    pass


async def dora(port, m, ipxe, stats):
    """DISCOVER/OFFER/REQUEST/ACK with PXE-ROM retransmits; a NAK starts over from DISCOVER
    (counted in `naks` and as a retry), as a firmware's DHCP client does."""
    for _ in range(MAX_TRIES):
        try:
            return await dora_once(port, m, ipxe, stats)
        except Nak:
            stats["naks"] = stats.get("naks", 0) + 1
            stats["retries"] += 1
    raise StormError(f"{MAX_TRIES} NAKs for {m.mac.hex()}")


async def dora_once(port, m, ipxe, stats):
    """One DISCOVER/OFFER/REQUEST/ACK with PXE-ROM retransmits; returns (address, file)."""
    xid = random.getrandbits(32)
    q = asyncio.Queue()
    port.waiting[xid] = q
    try:
        for kind, want in ((1, 2), (3, 5)):
            pkt = dhcp_packet(kind, m.mac, xid, ipxe, *(() if kind == 1 else (offer[2], offer[5])))
            for attempt in range(MAX_TRIES):
                if attempt:
                    stats["retries"] += 1
                port.send(pkt)
                got = None
                end = time.monotonic() + DHCP_RETRANSMIT
                while got is None:
                    left = end - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        r = await asyncio.wait_for(q.get(), left)
                    except asyncio.TimeoutError:
                        break
                    if r[1] == 6:
                        raise Nak()
                    if r[1] == want:
                        got = r
                if got is not None:
                    break
            else:
                raise StormError(f"no DHCP answer ({kind}) for {m.mac.hex()}")
            offer = got
        return offer[2], offer[4], offer[3]
    finally:
        port.waiting.pop(xid, None)


# --------------------------------------------------------------------------- TFTP client

class TftpProto(asyncio.DatagramProtocol):
    def __init__(self):
        self.q = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.q.put_nowait((data, addr))


async def tftp(loop, server, name, stats):
    """Lock-step RRQ with blksize and tsize; returns the byte count."""
    tr, pr = await loop.create_datagram_endpoint(TftpProto, local_addr=(CLIENT_IP, 0))
    try:
        rrq = b"\0\1" + name.encode() + b"\0octet\0blksize\0" + str(TFTP_BLKSIZE).encode() + b"\0tsize\0" + b"0\0"
        last = rrq
        dest = (server, 69)
        blksize = 512
        want = 1
        total = 0
        tries = 0
        tr.sendto(last, dest)
        while True:
            try:
                data, addr = await asyncio.wait_for(pr.q.get(), TFTP_RETRANSMIT)
            except asyncio.TimeoutError:
                tries += 1
                stats["retries"] += 1
                if tries >= MAX_TRIES:
                    raise StormError(f"TFTP {name}: no answer")
                tr.sendto(last, dest)
                continue
            op = struct.unpack("!H", data[:2])[0]
            if op == 5:
                raise StormError(f"TFTP error {data[2:4].hex()} {data[4:-1]!r}")
            dest = addr
            if op == 6:                       # OACK
                opts = data[2:].split(b"\0")
                for k, v in zip(opts[::2], opts[1::2]):
                    if k.lower() == b"blksize":
                        blksize = int(v)
                last = b"\0\4\0\0"
                tr.sendto(last, dest)
                tries = 0
                continue
            if op != 3:
                continue
            block = struct.unpack("!H", data[2:4])[0]
            if block == (want & 0xffff):
                total += len(data) - 4
                want += 1
                tries = 0
            last = b"\0\4" + data[2:4]
            tr.sendto(last, dest)
            if block == ((want - 1) & 0xffff) and len(data) - 4 < blksize:
                return total
    finally:
        tr.close()


# --------------------------------------------------------------------------- HTTP client

async def http_get(loop, url, buf):
    """GET on a new connection (HTTP/1.1, Connection: close as each transfer is its own
    connection); returns (status, body bytes when small else None, length read)."""
    m = re.match(r"http://([^/:]+)(?::(\d+))?(/.*)", url)
    if not m:
        raise StormError(f"bad URL {url!r}")
    host, port, path = m.group(1), int(m.group(2) or 80), m.group(3)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        await loop.sock_connect(s, (host, port))
        await loop.sock_sendall(s, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: iPXE/1.21.1\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await loop.sock_recv(s, 65536)
            if not chunk:
                raise StormError(f"{url}: closed before the head")
            head += chunk
        h, rest = head.split(b"\r\n\r\n", 1)
        lines = h.decode(errors="replace").split("\r\n")
        status = int(lines[0].split()[1])
        length = None
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        if length is None:
            raise StormError(f"{url}: no content-length")
        small = length <= 65536
        body = bytearray(rest) if small else None
        got = len(rest)
        view = memoryview(buf)
        while got < length:
            n = await loop.sock_recv_into(s, view)
            if n == 0:
                raise StormError(f"{url}: short body {got}/{length}")
            if small:
                body += view[:n]
            got += n
        return status, (bytes(body) if small else None), got
    finally:
        s.close()


def expand(url, mac):
    hexhyp = "-".join(f"{b:02x}" for b in mac)
    return re.sub(r"\$\{net[0X]/mac:hexhyp\}|\$\{mac:hexhyp\}", hexhyp, url)


def script_urls(text, mac):
    """(chain URL or None, kernel URL, initrd URL) from an iPXE script."""
    chain = kernel = initrd = None
    for line in text.splitlines():
        words = [w for w in line.split() if not w.startswith("--")]
        if not words:
            continue
        urls = [w for w in words[1:] if w.startswith("http://")]
        if words[0] == "chain" and urls and chain is None and kernel is None:
            chain = expand(urls[0], mac)
        elif words[0] == "kernel" and urls:
            kernel = expand(urls[0], mac)
        elif words[0] == "initrd" and urls:
            initrd = expand(urls[0], mac)
    return (None if kernel else chain), kernel, initrd


# --------------------------------------------------------------------------- one machine

class Machine:
    def __init__(self, i):
        self.mac = bytes([0x52, 0x54, 0x01, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff])
        self.times = {}
        self.addr = None
        self.done_at = None
        self.error = None


async def machine(loop, port, m, start_at, sizes, stats):
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    buf = bytearray(256 << 10)
    try:
        t = time.monotonic()
        addr, file_, siaddr = await dora(port, m, False, stats["dhcp_pxe"])
        m.addr = addr
        m.times["dhcp_pxe"] = time.monotonic() - t
        t = time.monotonic()
        n = await tftp(loop, siaddr if siaddr != "0.0.0.0" else SERVER_IP, file_, stats["tftp"])
        if n != sizes["ipxe"]:
            raise StormError(f"TFTP {file_}: {n} bytes, want {sizes['ipxe']}")
        m.times["tftp"] = time.monotonic() - t
        t = time.monotonic()
        _, url, _ = await dora(port, m, True, stats["dhcp_ipxe"])
        m.times["dhcp_ipxe"] = time.monotonic() - t
        t = time.monotonic()
        kernel = initrd = None
        for _ in range(4):
            status, body, _ = await http_get(loop, url, buf)
            if status != 200 or body is None:
                raise StormError(f"script {url}: {status}")
            url, kernel, initrd = script_urls(body.decode(errors="replace"), m.mac)
            if url is None:
                break
        if not kernel or not initrd:
            raise StormError(f"no kernel/initrd in the script: {body!r}")
        m.times["script"] = time.monotonic() - t
        for phase, u in (("kernel", kernel), ("initrd", initrd)):
            t = time.monotonic()
            status, _, got = await http_get(loop, u, buf)
            if status != 200 or got != sizes[phase]:
                raise StormError(f"{u}: {status}, {got} bytes, want {sizes[phase]}")
            m.times[phase] = time.monotonic() - t
        m.done_at = time.monotonic()
    except Exception as e:  # noqa: BLE001 - one machine's failure is a result
        m.error = f"{type(e).__name__}: {e}"


async def storm(args, sizes):
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"vcl1")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", 68))
    tr, port = await loop.create_datagram_endpoint(DhcpPort, sock=s)
    stats = {p: {"retries": 0} for p in PHASES}
    machines = [Machine(i + random.getrandbits(12) * 4096) for i in range(args.clients)]
    t0 = time.monotonic() + 0.2
    starts = [t0 + random.uniform(0, args.spread) for _ in machines]
    try:
        await asyncio.wait_for(
            asyncio.gather(*(machine(loop, port, m, st, sizes, stats) for m, st in zip(machines, starts))),
            args.storm_timeout)
    finally:
        tr.close()
    done = [m for m in machines if m.done_at is not None]
    failed = [m for m in machines if m.error or m.done_at is None]
    addrs = [m.addr for m in machines if m.addr]
    res = {
        "clients": args.clients,
        "completed": len(done),
        "failed": len(failed),
        "errors": sorted({m.error or "unfinished" for m in failed})[:10],
        "duplicate_addresses": len(addrs) - len(set(addrs)),
        "last_ramdisk_s": (max(m.done_at for m in done) - t0) if done else None,
        "retries": {p: stats[p]["retries"] for p in PHASES},
        "retries_total": sum(stats[p]["retries"] for p in PHASES),
        "naks": {p: stats[p].get("naks", 0) for p in ("dhcp_pxe", "dhcp_ipxe")},
        "phases_ms": {},
    }
    for p in PHASES:
        v = sorted(m.times[p] * 1000 for m in machines if p in m.times)
        if v:
            res["phases_ms"][p] = {"p50": bb.percentile(v, 50), "p90": bb.percentile(v, 90),
                                   "p99": bb.percentile(v, 99), "max": v[-1]}
    return res


# --------------------------------------------------------------------------- main

def make_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n


def summary(rounds, name):
    runs = [r[name] for r in rounds if name in r]
    vals = sorted(r["last_ramdisk_s"] for r in runs if r.get("last_ramdisk_s") is not None)
    return {
        "runs": len(runs),
        "last_ramdisk_s_median": bb.median(vals) if vals else None,
        "last_ramdisk_s_all": vals,
        "retries_total_all": [r["retries_total"] for r in runs],
        "failed_all": [r["failed"] for r in runs],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ironbox", required=True)
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--payload-mb", type=float, default=60.0,
                    help="kernel + initramfs per machine (kernel = 1/6)")
    ap.add_argument("--ipxe-kb", type=int, default=72, help="size of the iPXE program (undionly.kpxe ~72 KiB)")
    ap.add_argument("--spread", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds (medians reported)")
    ap.add_argument("--dnsmasq-no-ping", action="store_true",
                    help="add no-ping (dnsmasq's default pings each new address before offering it)")
    ap.add_argument("--tftp-max", type=int, default=1024,
                    help="ironbox [pxe] tftp_max_transfers (default 64 refuses in a 1,000 storm)")
    ap.add_argument("--only", choices=["ironbox", "reference"])
    ap.add_argument("--storm-timeout", type=float, default=900)
    ap.add_argument("--out")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    args.ns = f"storm{os.getpid()}"
    work = tempfile.mkdtemp(prefix="storm-")
    os.chmod(work, 0o755)
    payload = int(args.payload_mb * 1e6)
    sizes = {"ipxe": args.ipxe_kb << 10, "kernel": payload // 6}
    sizes["initrd"] = payload - sizes["kernel"]
    os.makedirs(f"{work}/ipxe")
    os.makedirs(f"{work}/httproot")
    make_file(f"{work}/ipxe/{BOOT_FILE}", sizes["ipxe"])
    make_file(f"{work}/httproot/vmlinuz", sizes["kernel"])
    make_file(f"{work}/httproot/initrd.img", sizes["initrd"])
    with open(f"{work}/httproot/boot.ipxe", "w") as f:
        f.write(f"#!ipxe\nkernel http://{SERVER_IP}:{NGINX_HTTP}/vmlinuz initrd=initrd.img\n"
                f"initrd http://{SERVER_IP}:{NGINX_HTTP}/initrd.img\nboot\n")
    net = Net(args.ns)
    rounds = []
    out = {"meta": {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                    "nproc": os.cpu_count(), "commit": bb.git("rev-parse", "--short", "HEAD"),
                    "clients": args.clients, "payload_mb": args.payload_mb, "ipxe_kb": args.ipxe_kb,
                    "spread_s": args.spread, "rounds": args.rounds,
                    "dnsmasq_no_ping": args.dnsmasq_no_ping, "ironbox_tftp_max": args.tftp_max,
                    "dnsmasq_conf": DNSMASQ_CONF, "nginx_conf": NGINX_CONF},
           "rounds": rounds}

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        net.up()
        n = 0
        for r in range(args.rounds):
            order = ["ironbox", "reference"] if r % 2 == 0 else ["reference", "ironbox"]
            if args.only:
                order = [args.only]
            got = {}
            for name in order:
                n += 1
                procs = (start_ironbox if name == "ironbox" else start_reference)(args, work, n)
                try:
                    time.sleep(0.5)
                    bb.log(f"round {r + 1}: {name}, {args.clients} machines")
                    got[name] = asyncio.run(storm(args, sizes))
                    if name == "ironbox":
                        got[name]["server_metrics"] = ironbox_metrics(args, work, n)
                    bb.log(f"  {name}: last ramdisk at {got[name]['last_ramdisk_s']}, "
                           f"failed {got[name]['failed']}, retries {got[name]['retries']}")
                finally:
                    for p in procs:
                        p.stop()
            rounds.append(got)
        out["summary"] = {k: summary(rounds, k) for k in ("ironbox", "reference")}
        i, ref = out["summary"]["ironbox"], out["summary"]["reference"]
        if i["last_ramdisk_s_median"] and ref["last_ramdisk_s_median"]:
            out["summary"]["ratio_last_ramdisk"] = i["last_ramdisk_s_median"] / ref["last_ramdisk_s_median"]
    except BaseException as e:  # noqa: BLE001 - record and clean up
        out["error"] = f"{type(e).__name__}: {e}"
        raise
    finally:
        bb.Proc.stop_all()
        net.down()
        if args.out:
            with open(args.out, "w") as f:
                json.dump(out, f, indent=1)
        subprocess.run(["rm", "-rf", work])
        print(json.dumps(out.get("summary", out.get("error")), indent=1))


if __name__ == "__main__":
    main()
