#!/usr/bin/env python3
"""Node list speed, ironbox vs Ironic 39, in one run (issue #20). See bench/README.md.

For each size (default 1,000 and 100,000 nodes) and each server: the plain list, the list
Metal3 polls (`?fields=uuid,name,provision_state,boot_interface`), the detail list (all with
`limit=1000`) and a single GET, median over --repeat runs; at the largest size a walk of
every `limit=1000` page following `next` (page 1 vs page 100); the peak RSS of a 1,000-node
detail page (VmHWM reset through /proc/PID/clear_refs just before); and ironbox's own split
of a list into SQL, decode and serialization (its `node list` debug line).

The first 1,000 nodes are created through the API; the rest are copies of the last one
(new uuid and name) written straight into the server's SQLite database while it runs, the
same way for both servers: creating 100,000 nodes through Ironic's API would take ~35 min.
Standard library only; reuses api_bench.py's client and server handling.
"""

import argparse
import json
import os
import re
import signal
import sqlite3
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_bench as ab  # noqa: E402

METAL3 = "uuid,name,provision_state,boot_interface"


class Ironbox(ab.IronboxServer):
    """ironbox with its list timing line on (`RUST_LOG` for the nodes API only)."""

    def start(self):
        # api_bench drops RUST_LOG from ironbox's environment; put this one back.
        real = ab.subprocess.Popen

        def popen(*args, **kw):
            kw["env"] = dict(kw.get("env") or os.environ, RUST_LOG="info,ironbox::api::nodes=debug")
            return real(*args, **kw)

        ab.subprocess.Popen = popen
        try:
            super().start()
        finally:
            ab.subprocess.Popen = real

    def db_path(self):
        return os.path.join(self.tmp, "data", "ironbox.sqlite")


class Ironic(ab.IronicServer):
    def db_path(self):
        return os.path.join(self.workdir, "ironic.sqlite")


def find_db(server):
    p = server.db_path()
    if os.path.exists(p):
        return p
    root = os.path.dirname(p)
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith(".sqlite") or f.endswith(".db"):
                return os.path.join(dirpath, f)
    raise ab.BenchError(f"no SQLite database under {root}")


def seed_sql(server, start, total):
    """Copy the newest node row to reach `total` nodes (uuid and name made unique)."""
    db = sqlite3.connect(find_db(server), timeout=60)
    cols = [r[1] for r in db.execute("PRAGMA table_info(nodes)") if r[1] != "id"]
    tmpl = db.execute("SELECT max(id) FROM nodes").fetchone()[0]
    sel = ", ".join("?" if c in ("uuid", "name") else c for c in cols)
    sql = f"INSERT INTO nodes ({', '.join(cols)}) SELECT {sel} FROM nodes WHERE id = {tmpl}"
    order = [c for c in cols if c in ("uuid", "name")]
    t0 = time.monotonic()
    batch = []
    for i in range(start, total):
        vals = {"uuid": str(uuid.uuid4()), "name": f"bench-{i}"}
        batch.append([vals[c] for c in order])
        if len(batch) == 5000:
            db.executemany(sql, batch)
            db.commit()
            batch = []
    if batch:
        db.executemany(sql, batch)
        db.commit()
    n = db.execute("SELECT count(*) FROM nodes").fetchone()[0]
    db.close()
    if n != total:
        raise ab.BenchError(f"seeded {n} nodes, wanted {total}")
    return time.monotonic() - t0


def timed(client, path, repeat, expect_n=None, key=None):
    client.request("GET", path)  # warm-up
    samples, size = [], 0
    for _ in range(repeat):
        t, _, raw = client.request("GET", path)
        samples.append(t)
        size = len(raw)
    if expect_n is not None:
        body = ab.parse_json("GET", path, raw)
        got = len(body["nodes"])
        if got != expect_n:
            raise ab.BenchError(f"GET {path}: {got} nodes, expected {expect_n}")
        if key and key not in body["nodes"][0]:
            raise ab.BenchError(f"GET {path}: no {key} in {body['nodes'][0]}")
    return {"median_ms": statistics.median(samples) * 1000,
            "p90_ms": ab.percentile(samples, 90) * 1000, "bytes": size}


def walk(client, path, base):
    """Every page following `next`: per-page client time (ms)."""
    times, n = [], 0
    while path:
        t, _, raw = client.request("GET", path)
        body = ab.parse_json("GET", path, raw)
        times.append(t * 1000)
        n += len(body["nodes"])
        nxt = body.get("next")
        path = nxt[len(base):] if nxt else None
        if len(times) > 200:
            raise ab.BenchError("more than 200 pages")
    return times, n


def tree_hwm_mib(pid):
    return sum(ab.proc_status_kib(p, "VmHWM") or 0 for p in ab.process_tree(pid)) / 1024


def reset_hwm(pid):
    for p in ab.process_tree(pid):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def split_lines(log_path, since):
    """ironbox's `node list` debug lines written after byte offset `since`."""
    with open(log_path, "rb") as f:
        f.seek(since)
        text = re.sub(r"\x1b\[[0-9;]*m", "", f.read().decode(errors="replace"))
    out = []
    for line in text.splitlines():
        if "node list" not in line:
            continue
        m = dict(re.findall(r"(\w+)=(\d+)", line))
        if "rows" in m:
            out.append({k: int(v) for k, v in m.items()})
    return out


def run(server, sizes, repeat, big_repeat):
    res = {"server": server.name, "sizes": {}}
    server.start()
    c = ab.Client(server.base_url)
    c.request("GET", "/v1")
    made = 0
    t0 = time.monotonic()
    for i in range(min(sizes[0], 1000)):
        c.request("POST", "/v1/nodes", ab.node_body(i), expect=(201,))
        made += 1
    res["create_api_s"] = time.monotonic() - t0
    for n in sizes:
        if n > made:
            res.setdefault("seed_sql_s", {})[str(n)] = seed_sql(server, made, n)
            made = n
        r = {}
        rep = repeat if n <= 10_000 else big_repeat
        page = min(n, 1000)
        r["plain"] = timed(c, "/v1/nodes?limit=1000", rep, page, "provision_state")
        r["metal3_fields"] = timed(c, f"/v1/nodes?fields={METAL3}&limit=1000", rep, page,
                                   "boot_interface")
        r["detail"] = timed(c, "/v1/nodes/detail?limit=1000", rep, page, "driver_info")
        body = ab.parse_json("GET", "/v1/nodes", c.request("GET", "/v1/nodes?limit=50")[2])
        one = body["nodes"][-1]["uuid"]
        r["get_one"] = timed(c, f"/v1/nodes/{one}", rep)
        if server.name == "ironbox":
            # One request of each kind with the split logged (client time is not comparable:
            # the line is written by the server).
            off = os.path.getsize(server.log_path)
            for p in ("/v1/nodes?limit=1000", f"/v1/nodes?fields={METAL3}&limit=1000",
                      "/v1/nodes/detail?limit=1000"):
                c.request("GET", p)
            time.sleep(0.2)
            lines = split_lines(server.log_path, off)
            r["split_us"] = dict(zip(["plain", "metal3_fields", "detail"], lines))
        if n == 1000 or n == sizes[0]:
            reset_hwm(server.pid)
            before = tree_hwm_mib(server.pid)
            c.request("GET", "/v1/nodes/detail?limit=1000")
            r["detail_page_peak_rss_mib"] = tree_hwm_mib(server.pid)
            r["rss_before_detail_page_mib"] = before
        if n >= 100_000:
            times, got = walk(c, "/v1/nodes?limit=1000", server.base_url)
            if got != n:
                raise ab.BenchError(f"walk saw {got} nodes, expected {n}")
            r["walk"] = {"pages": len(times), "total_s": sum(times) / 1000,
                         "page1_ms": times[0], "page100_ms": times[99] if len(times) >= 100 else None,
                         "first5_median_ms": statistics.median(times[:5]),
                         "last5_median_ms": statistics.median(times[-5:]),
                         "all_ms": times}
            r["walk"]["ratio_last5_first5"] = r["walk"]["last5_median_ms"] / r["walk"]["first5_median_ms"]
            if server.name == "ironbox":
                t2, got2 = walk(c, "/v1/nodes?limit=1000&sort_key=name&sort_dir=desc",
                                server.base_url)
                r["walk_name_desc"] = {"pages": len(t2), "page1_ms": t2[0],
                                       "page100_ms": t2[99] if len(t2) >= 100 else None,
                                       "first5_median_ms": statistics.median(t2[:5]),
                                       "last5_median_ms": statistics.median(t2[-5:])}
        res["sizes"][str(n)] = r
        ab.log(f"{server.name} {n}: plain {r['plain']['median_ms']:.1f} ms, metal3 "
               f"{r['metal3_fields']['median_ms']:.1f} ms, detail {r['detail']['median_ms']:.1f} ms, "
               f"get {r['get_one']['median_ms']:.2f} ms")
    c.close()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ironbox", help="the ironbox binary (omit to run Ironic alone)")
    ap.add_argument("--ironic", action="store_true", help="also run Ironic 39")
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--big-repeat", type=int, default=5, help="repeat above 10,000 nodes")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    servers = ([Ironbox(a.ironbox, a.keep)] if a.ironbox else []) + ([Ironic(a.keep)] if a.ironic else [])
    out = {"meta": {"date": time.strftime("%F %T", time.gmtime()), "nproc": os.cpu_count(),
                    "sizes": sizes, "repeat": a.repeat, "big_repeat": a.big_repeat,
                    "commit": ab.git_commit()}, "results": {}}

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    rc = 0
    for s in servers:
        try:
            out["results"][s.name] = run(s, sizes, a.repeat, a.big_repeat)
        except (ab.BenchError, KeyboardInterrupt) as e:
            out["error"] = f"{s.name}: {e}"
            ab.log(out["error"])
            rc = 1
            break
        finally:
            s.stop()
    if "ironbox" in out["results"] and "ironic" in out["results"]:
        cmp = {}
        for n in sizes:
            b, i = out["results"]["ironbox"]["sizes"].get(str(n)), out["results"]["ironic"]["sizes"].get(str(n))
            if b and i:
                cmp[str(n)] = {k: i[k]["median_ms"] / b[k]["median_ms"]
                               for k in ("plain", "metal3_fields", "detail", "get_one")}
        out["comparison_x_faster"] = cmp
    text = json.dumps(out, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "results"}, indent=1))
    for name, r in out["results"].items():
        for n, m in r["sizes"].items():
            line = {k: (round(v["median_ms"], 2) if isinstance(v, dict) and "median_ms" in v else None)
                    for k, v in m.items()}
            print(name, n, {k: v for k, v in line.items() if v is not None})
            for extra in ("split_us", "detail_page_peak_rss_mib", "rss_before_detail_page_mib"):
                if extra in m:
                    print("   ", extra, m[extra])
            for w in ("walk", "walk_name_desc"):
                if w in m:
                    print("   ", w, {k: (round(v, 2) if isinstance(v, float) else v)
                                     for k, v in m[w].items() if k != "all_ms"})
    return rc


if __name__ == "__main__":
    sys.exit(main())
