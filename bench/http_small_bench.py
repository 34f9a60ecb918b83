#!/usr/bin/env python3
"""Small boot files over HTTP with a new connection per request (as iPXE fetches its
script): ironbox's boot HTTP server vs nginx (Debian defaults, access log on as shipped),
both on 127.0.0.1, interleaved rounds. Reports requests/s (median over rounds).

  bench/http_small_bench.py --ironbox target/release/ironbox [--requests 3000 --rounds 5]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot_bench as bb  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def fetch(port, path, n):
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: iPXE/1.21.1\r\nConnection: close\r\n\r\n".encode()
    t = time.perf_counter()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        got = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            got += c
        s.close()
        if not got.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{path}: {got[:200]!r}")
    return n / (time.perf_counter() - t)


def wait_port(port, proc, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing on {port}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ironbox", required=True)
    ap.add_argument("--nginx", default="/usr/sbin/nginx")
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="httpsmall-")
    os.chmod(work, 0o755)   # nginx workers run as www-data
    procs = []
    try:
        os.makedirs(f"{work}/root")
        script = ("#!ipxe\n" + "echo booting\n" * 80)[:1024]
        with open(f"{work}/root/script.ipxe", "w") as f:
            f.write(script)
        ip, np_ = free_port(), free_port()
        with open(f"{work}/ironbox.toml", "w") as f:
            f.write(f'[DEFAULT]\nstate_path = "{work}/data"\n[api]\nport = 0\n[dhcp]\ninterface = "lo"\n'
                    f'mode = "off"\n[pxe]\nhttp_port = {ip}\ntftp_port = 0\nhttp_root = "{work}/root"\n')
        os.makedirs(f"{work}/data")
        log = open(f"{work}/ironbox.log", "wb")
        procs.append(subprocess.Popen([args.ironbox, "serve", "--config", f"{work}/ironbox.toml"],
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        wait_port(ip, procs[-1])
        os.makedirs(f"{work}/nginx-tmp")
        with open(f"{work}/nginx.conf", "w") as f:
            f.write(f"""daemon off; worker_processes auto; pid {work}/nginx.pid; error_log {work}/nginx-error.log;
events {{ worker_connections 768; }}
http {{ sendfile on; tcp_nopush on; types_hash_max_size 2048; include /etc/nginx/mime.types;
  default_type application/octet-stream; access_log {work}/nginx-access.log; gzip on;
  client_body_temp_path {work}/nginx-tmp; proxy_temp_path {work}/nginx-tmp; fastcgi_temp_path {work}/nginx-tmp;
  uwsgi_temp_path {work}/nginx-tmp; scgi_temp_path {work}/nginx-tmp;
  server {{ listen 127.0.0.1:{np_}; location /files/ {{ alias {work}/root/; }} }} }}
""")
        procs.append(subprocess.Popen([args.nginx, "-c", f"{work}/nginx.conf", "-e", f"{work}/nginx-error.log"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        wait_port(np_, procs[-1])
        res = {"ironbox_file": [], "ironbox_boot_ipxe": [], "nginx_file": []}
        for name, port, path in (("ironbox_file", ip, "/files/script.ipxe"), ("ironbox_boot_ipxe", ip, "/boot.ipxe"),
                                 ("nginx_file", np_, "/files/script.ipxe")):
            fetch(port, path, 200)   # warm-up
        for r in range(args.rounds):
            order = [("ironbox_file", ip, "/files/script.ipxe"), ("ironbox_boot_ipxe", ip, "/boot.ipxe"),
                     ("nginx_file", np_, "/files/script.ipxe")]
            if r % 2:
                order.reverse()
            for name, port, path in order:
                res[name].append(fetch(port, path, args.requests))
        out = {k: {"median_rps": statistics.median(v), "all": v} for k, v in res.items()}
        out["ratio_file"] = out["ironbox_file"]["median_rps"] / out["nginx_file"]["median_rps"]
        out["meta"] = {"binary": args.ironbox, "commit": bb.git("rev-parse", "--short", "HEAD"),
                       "requests": args.requests, "rounds": args.rounds}
        print(json.dumps(out, indent=1))
        if args.out:
            with open(args.out, "w") as f:
                json.dump(out, f, indent=1)
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, 15)
                p.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, 9)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
