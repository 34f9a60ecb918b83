#!/usr/bin/env python3
"""Conductor lifecycle benchmark: ironbox vs. the real OpenStack Ironic (stdlib only).

For each server (one after the other, never both at once) it:

  * starts it on a fresh temp dir (ironbox: default config except `[api] port = 0` and
    `[DEFAULT] state_path`; Ironic: bench/ironic-ref/start-ironic.sh, defaults, so
    automated cleaning is on for both),
  * measures idle RSS of the process tree,
  * creates --nodes fake-hardware nodes (in parallel; timed for information only),
  * drives ALL nodes in parallel through enroll -> manage (wait manageable) ->
    provide (wait available) -> active (wait active) with
    `PUT /v1/nodes/{uuid}/states/provision {"target": VERB}` (202 expected; 409/503 are
    retried after --retry-delay and counted) and polling
    `GET /v1/nodes/{uuid}?fields=provision_state,last_error` every --poll seconds,
  * reports the wall time from the first verb to the last node active, per-phase times,
    retries, request latencies, the transient states seen while polling, and RSS.

The work is done by --threads threads (default 32), each with its own keep-alive
HTTP/1.1 connection, taking due actions (a verb or a poll of one node) from one shared
time-ordered queue, so every node is in flight at once.

--mode phased (default): a phase starts for all nodes when the previous phase has
finished for all of them, so each phase has a wall time. --mode pipeline: each node moves
on as soon as it reached the state; per-phase numbers are per-node durations and the time
the last node reached each state.

A node that reaches a "*failed" state or reports a last_error, or any other status than
202/409/503 (verb) or 200 (poll), is an error: the node stops there, the others go on, and
the run exits 1 with the request, the response and the node. --max-seconds bounds each
server's lifecycle run (stuck nodes are reported with their state); --timeout bounds the
whole program. Servers and temp dirs are always cleaned up.

Usage:
  bench/lifecycle_bench.py --ironbox target/release/ironbox --nodes 100
  bench/lifecycle_bench.py --ironbox target/release/ironbox --ironic --nodes 1000 --out r.json
"""

import argparse
import collections
import datetime
import heapq
import http.client
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_bench as ab  # noqa: E402  (servers, HTTP client, RSS helpers)
from api_bench import BenchError, log  # noqa: E402

TARGET_LIFECYCLE_SPEEDUP = 20.0  # enroll -> active of 1000 nodes >= 20x faster than Ironic

PHASES = [  # (verb, state to wait for)
    ("manage", "manageable"),
    ("provide", "available"),
    ("active", "active"),
]


def ms_stats(samples_s):
    return ab.summarize(samples_s) if samples_s else None


def s_stats(samples_s):
    if not samples_s:
        return None
    return {
        "n": len(samples_s),
        "median_s": statistics.median(samples_s),
        "p90_s": ab.percentile(samples_s, 90),
        "max_s": max(samples_s),
        "min_s": min(samples_s),
    }


# --------------------------------------------------------------------------- per-thread clients

class LcClient(ab.Client):
    """api_bench's keep-alive client, plus: a request whose *fresh* connection is reset or
    closed before any response arrives is retried (up to 5 times), whatever its method.

    Ironic's API server (cheroot, defaults: 10 threads, listen backlog 5, at most 10
    keep-alive connections) answers "Connection: close" once more than 10 connections are
    open, so most of 32 clients reconnect for every request; connects that overflow the
    backlog of 5 are then reset by the kernel when the request is sent. Such a request
    never reached the application, so repeating it is safe. A failure on a reused
    keep-alive connection is still an error for anything but GET (as in api_bench).
    """

    RETRYABLE = (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)

    def __init__(self, base_url):
        super().__init__(base_url)
        self.connects = 0
        self.fresh_resets = 0

    def _connect(self):
        self.connects += 1
        super()._connect()

    def request(self, method, path, body=None, expect=(200,)):
        for attempt in range(6):
            fresh = self.conn is None
            try:
                return super().request(method, path, body, expect)
            except BenchError as e:
                if not (fresh and isinstance(e.__cause__, self.RETRYABLE)) or attempt == 5:
                    raise
                self.fresh_resets += 1
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")


class Clients:
    """One keep-alive Client per thread."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.local = threading.local()
        self.all = []
        self.lock = threading.Lock()

    def get(self):
        c = getattr(self.local, "client", None)
        if c is None:
            c = LcClient(self.base_url)
            self.local.client = c
            with self.lock:
                self.all.append(c)
        return c

    def close(self):
        with self.lock:
            for c in self.all:
                c.close()

    def totals(self):
        with self.lock:
            return {"connects": sum(c.connects for c in self.all),
                    "fresh_connection_resets_retried": sum(c.fresh_resets for c in self.all),
                    "idle_keepalive_reconnects": sum(c.reconnects for c in self.all)}


# --------------------------------------------------------------------------- the lifecycle driver

class NodeRun:
    __slots__ = ("idx", "uuid", "phase", "phase_start", "phase_end", "retries_409", "retries_503",
                 "polls", "last", "error", "done", "put_sent")

    def __init__(self, idx, uuid):
        self.idx = idx
        self.uuid = uuid
        self.phase = 0
        self.phase_start = [None] * len(PHASES)
        self.phase_end = [None] * len(PHASES)
        self.retries_409 = 0
        self.retries_503 = 0
        self.polls = 0
        self.last = {"provision_state": "enroll"}
        self.error = None
        self.done = False  # finished the current phase (phased) / all phases (pipeline)
        self.put_sent = None


class Lifecycle:
    def __init__(self, clients, runs, threads, poll_s, retry_s, mode, deadline):
        self.clients = clients
        self.runs = runs
        self.threads = threads
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.mode = mode
        self.deadline = deadline
        self.cv = threading.Condition()
        self.heap = []
        self.seq = 0
        self.stopping = False
        self.outstanding = 0  # nodes still working on the current goal
        self.put_lat = []
        self.get_lat = []
        self.status_counts = collections.Counter()
        self.seen = [collections.Counter() for _ in PHASES]  # transient states seen while polling
        self.errors = []
        self.workers = []
        self.stats_lock = threading.Lock()

    def count(self, key, counter=None):
        with self.stats_lock:
            (self.status_counts if counter is None else counter)[key] += 1

    # ---- queue

    def push(self, due, run, action):
        with self.cv:
            self.seq += 1
            heapq.heappush(self.heap, (due, self.seq, run, action))
            self.cv.notify()

    def _next(self):
        with self.cv:
            while True:
                if self.stopping:
                    return None
                now = time.monotonic()
                if self.heap and self.heap[0][0] <= now:
                    _, _, run, action = heapq.heappop(self.heap)
                    return run, action
                wait = (self.heap[0][0] - now) if self.heap else 1.0
                self.cv.wait(min(wait, 1.0))

    def _worker(self):
        while True:
            item = self._next()
            if item is None:
                return
            run, action = item
            try:
                if action == "put":
                    self._put(run)
                else:
                    self._poll(run)
            except BenchError as e:
                self._fail(run, str(e))
            except Exception as e:  # noqa: BLE001 - recorded as this node's error
                self._fail(run, f"{type(e).__name__}: {e}")

    def start_workers(self):
        for i in range(self.threads):
            t = threading.Thread(target=self._worker, name=f"lc-{i}", daemon=True)
            t.start()
            self.workers.append(t)

    def stop_workers(self):
        with self.cv:
            self.stopping = True
            self.cv.notify_all()
        for t in self.workers:
            t.join(timeout=ab.REQUEST_TIMEOUT + 10)

    # ---- node actions

    def _finish(self, run):
        with self.cv:
            if not run.done:
                run.done = True
                self.outstanding -= 1
                self.cv.notify_all()

    def _fail(self, run, msg):
        with self.cv:
            if run.error is None:
                run.error = msg
                self.errors.append(run)
        self._finish(run)

    def _put(self, run):
        verb, _ = PHASES[run.phase]
        path = f"/v1/nodes/{run.uuid}/states/provision"
        now = time.monotonic()
        if run.phase_start[run.phase] is None:
            run.phase_start[run.phase] = now
        el, status, raw = self.clients.get().request("PUT", path, {"target": verb}, expect=(202, 409, 503))
        self.put_lat.append(el)
        self.count(f"PUT {status}")
        if status == 202:
            run.put_sent = time.monotonic()
            self.push(run.put_sent + self.poll_s, run, "poll")
            return
        if status == 409:
            run.retries_409 += 1
        else:
            run.retries_503 += 1
        run.last = {"retry_response": f"HTTP {status}: {raw[:300].decode(errors='replace')}"}
        self.push(time.monotonic() + self.retry_s, run, "put")

    def _poll(self, run):
        verb, want = PHASES[run.phase]
        path = f"/v1/nodes/{run.uuid}?fields=provision_state,last_error"
        el, status, raw = self.clients.get().request("GET", path)
        self.get_lat.append(el)
        self.count(f"GET {status}")
        run.polls += 1
        body = ab.parse_json("GET", path, raw)
        state = body.get("provision_state")
        run.last = body
        if isinstance(state, str) and state.endswith("failed") or body.get("last_error"):
            raise BenchError(f"node {run.uuid} after '{verb}': provision_state={state!r} "
                             f"last_error={body.get('last_error')!r}")
        if state != want:
            self.count(state, self.seen[run.phase])
            self.push(time.monotonic() + self.poll_s, run, "poll")
            return
        run.phase_end[run.phase] = time.monotonic()
        if self.mode == "pipeline" and run.phase + 1 < len(PHASES):
            run.phase += 1
            self.push(time.monotonic(), run, "put")
            return
        self._finish(run)

    # ---- phases

    def _wait_all(self, what):
        with self.cv:
            while self.outstanding > 0:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"{what}: --max-seconds exceeded with {self.outstanding} node(s) not done")
                self.cv.wait(min(left, 1.0))

    def run(self, progress_name):
        """Returns {t_first_verb, t_last_active, phase_walls}. Raises BenchError on deadline."""
        self.start_workers()
        live = [r for r in self.runs]
        t_first = time.monotonic()
        phase_walls = []
        reporter = threading.Thread(target=self._progress, args=(progress_name,), daemon=True)
        reporter.start()
        try:
            if self.mode == "pipeline":
                with self.cv:
                    self.outstanding = len(live)
                for r in live:
                    r.done = False
                    self.push(t_first, r, "put")
                self._wait_all("lifecycle")
            else:
                for p, (verb, want) in enumerate(PHASES):
                    live = [r for r in live if r.error is None]
                    if not live:
                        break
                    t0 = time.monotonic()
                    with self.cv:
                        self.outstanding = len(live)
                    for r in live:
                        r.phase = p
                        r.done = False
                        self.push(t0, r, "put")
                    self._wait_all(f"phase {verb}")
                    t1 = max((r.phase_end[p] for r in live if r.phase_end[p] is not None), default=time.monotonic())
                    phase_walls.append(t1 - t0)
                    log(f"{progress_name}: phase {verb} -> {want}: {t1 - t0:.2f} s")
        finally:
            self.stop_workers()
        ok = [r for r in self.runs if r.error is None and r.phase_end[-1] is not None]
        t_last = max((r.phase_end[-1] for r in ok), default=None)
        if self.mode == "pipeline":
            for p in range(len(PHASES)):
                ends = [r.phase_end[p] for r in self.runs if r.phase_end[p] is not None]
                phase_walls.append((max(ends) - t_first) if ends else None)  # last node reached state at
        return {"t_first": t_first, "t_last": t_last, "phase_walls": phase_walls, "ok": len(ok)}

    def _progress(self, name):
        last = time.monotonic()
        while True:
            with self.cv:
                if self.stopping:
                    return
                self.cv.wait(5.0)
                if self.stopping:
                    return
            if time.monotonic() - last >= 15:
                last = time.monotonic()
                states = collections.Counter(r.last.get("provision_state", "(retrying)") for r in self.runs)
                log(f"{name}: {self.outstanding} node(s) outstanding; last seen: {dict(states.most_common(6))}")


# --------------------------------------------------------------------------- workload

def create_nodes(clients, n, threads):
    def one(i):
        el, _, raw = clients.get().request("POST", "/v1/nodes", ab.node_body(i), expect=(201,))
        node = ab.parse_json("POST", "/v1/nodes", raw)
        if node.get("name") != f"bench-{i}" or not node.get("uuid"):
            raise BenchError(f"POST /v1/nodes bench-{i}: unexpected body {raw[:500]!r}")
        if node.get("provision_state") != "enroll":
            raise BenchError(f"POST /v1/nodes bench-{i}: new node in {node.get('provision_state')!r}, expected enroll")
        return el, node["uuid"]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as ex:
        out = list(ex.map(one, range(n)))
    wall = time.perf_counter() - t0
    return wall, [x[0] for x in out], [x[1] for x in out]


def node_detail(clients, uuid):
    try:
        _, status, raw = clients.get().request(
            "GET", f"/v1/nodes/{uuid}?fields=uuid,provision_state,target_provision_state,power_state,"
                   "last_error,reservation,maintenance,maintenance_reason,provision_updated_at",
            expect=(200, 404))
        return raw.decode(errors="replace")
    except BenchError as e:
        return f"(could not read node: {e})"


def run_lifecycle(server, args, deadline_s):
    res = {"server": server.name}
    server.start()
    res.update(server.info)
    res["base_url"] = server.base_url
    log(f"{server.name}: serving on {server.base_url} (pid {server.pid}, start {server.info['startup_s']:.2f} s)")
    clients = Clients(server.base_url)
    try:
        _, _, raw = clients.get().request("GET", "/v1")
        res["api_version"] = (ab.parse_json("GET", "/v1", raw).get("version") or {}).get("version")
        time.sleep(args.settle)
        if isinstance(server, ab.IronicServer):
            server.remember_pids()
        mem = ab.tree_memory(server.pid)
        res["idle_rss_kib"] = mem["rss_kib"]
        res["idle_pss_kib"] = mem["pss_kib"]
        log(f"{server.name}: idle RSS {mem['rss_kib'] / 1024:.1f} MiB")

        wall, lat, uuids = create_nodes(clients, args.nodes, args.threads)
        res["create"] = {"total_s": wall, "nodes_per_s": args.nodes / wall, "latency": ms_stats(lat)}
        log(f"{server.name}: created {args.nodes} nodes in {wall:.2f} s ({args.nodes / wall:.0f}/s, "
            f"{args.threads} threads)")

        res["create"]["client_connections"] = clients.totals()
        runs = [NodeRun(i, u) for i, u in enumerate(uuids)]
        lc = Lifecycle(clients, runs, args.threads, args.poll, args.retry_delay, args.mode,
                       time.monotonic() + deadline_s)
        try:
            out = lc.run(server.name)
        except BenchError as e:
            stuck = [r for r in runs if not r.done and r.error is None]
            states = collections.Counter(json.dumps(r.last, sort_keys=True) for r in stuck)
            examples = "\n".join(f"  {r.uuid}: {node_detail(clients, r.uuid)}" for r in stuck[:5])
            raise BenchError(f"{server.name}: {e}\nlast seen (count x body): "
                             + "; ".join(f"{c} x {s}" for s, c in states.most_common(8))
                             + f"\nexamples:\n{examples}") from e

        if isinstance(server, ab.IronicServer):
            server.remember_pids()
        mem = ab.tree_memory(server.pid)
        res["end_rss_kib"] = mem["rss_kib"]
        res["end_pss_kib"] = mem["pss_kib"]
        res["peak_rss_kib"] = mem["hwm_kib"]

        total = (out["t_last"] - out["t_first"]) if out["t_last"] is not None else None
        res["lifecycle"] = {
            "mode": args.mode,
            "nodes_ok": out["ok"],
            "nodes_failed": len(lc.errors),
            "total_s": total,
            "phase_walls_s": dict(zip([v for v, _ in PHASES], out["phase_walls"])),
            "per_node_phase_s": {
                verb: s_stats([r.phase_end[p] - r.phase_start[p] for r in runs
                               if r.phase_end[p] is not None and r.phase_start[p] is not None])
                for p, (verb, _) in enumerate(PHASES)
            },
            "retries_409": sum(r.retries_409 for r in runs),
            "retries_503": sum(r.retries_503 for r in runs),
            "nodes_with_retries": sum(1 for r in runs if r.retries_409 or r.retries_503),
            "polls": sum(r.polls for r in runs),
            "put_latency": ms_stats(lc.put_lat),
            "get_latency": ms_stats(lc.get_lat),
            "status_counts": dict(lc.status_counts),
            "states_seen_while_polling": {verb: dict(lc.seen[p]) for p, (verb, _) in enumerate(PHASES)},
            "client_connections": {k: v - res["create"]["client_connections"][k]
                                   for k, v in clients.totals().items()},
        }
        lcres = res["lifecycle"]
        log(f"{server.name}: lifecycle of {args.nodes} nodes: "
            f"{'-' if total is None else f'{total:.2f}'} s, phases {[round(x, 2) for x in out['phase_walls'] if x]}, "
            f"409 x{lcres['retries_409']}, 503 x{lcres['retries_503']}, polls {lcres['polls']}; "
            f"peak RSS {mem['hwm_kib'] / 1024:.1f} MiB")
        log(f"{server.name}: transient states seen while polling: {lcres['states_seen_while_polling']}")
        if lc.errors:
            lines = []
            for r in lc.errors[:5]:
                lines.append(f"  node {r.uuid} (phase {PHASES[r.phase][0]}): {r.error}\n"
                             f"    node now: {node_detail(clients, r.uuid)}")
            res["errors"] = [{"uuid": r.uuid, "phase": PHASES[r.phase][0], "error": r.error} for r in lc.errors]
            raise BenchError(f"{server.name}: {len(lc.errors)} node(s) failed; first ones:\n" + "\n".join(lines))
    except BenchError:
        print(f"\n--- {server.name} log tail ({server.log_path}) ---\n{ab.tail(server.log_path)}", file=sys.stderr)
        raise
    finally:
        clients.close()
        server.stop()
    return res


# --------------------------------------------------------------------------- report

def _lc(r, *keys):
    x = r.get("lifecycle")
    for k in keys:
        if x is None:
            return None
        x = x.get(k)
    return x


METRICS = [
    # key, label, getter, kind: "time" (ratio ironic/ironbox), "mem" (ironbox/ironic), "info" (no ratio)
    ("total_s", "enroll->active, all nodes (s)", lambda r: _lc(r, "total_s"), "time"),
    ("manage_s", "  phase manage->manageable (s)", lambda r: _lc(r, "phase_walls_s", "manage"), "time"),
    ("provide_s", "  phase provide->available (s)", lambda r: _lc(r, "phase_walls_s", "provide"), "time"),
    ("active_s", "  phase active->active (s)", lambda r: _lc(r, "phase_walls_s", "active"), "time"),
    ("manage_node_med", "per node manage, median (s)", lambda r: _lc(r, "per_node_phase_s", "manage", "median_s"), "time"),
    ("provide_node_med", "per node provide, median (s)", lambda r: _lc(r, "per_node_phase_s", "provide", "median_s"), "time"),
    ("active_node_med", "per node active, median (s)", lambda r: _lc(r, "per_node_phase_s", "active", "median_s"), "time"),
    ("active_node_max", "per node active, max (s)", lambda r: _lc(r, "per_node_phase_s", "active", "max_s"), "time"),
    ("retries_409", "PUT retries after 409", lambda r: _lc(r, "retries_409"), "info"),
    ("retries_503", "PUT retries after 503", lambda r: _lc(r, "retries_503"), "info"),
    ("polls", "polls (GET)", lambda r: _lc(r, "polls"), "info"),
    ("connects", "TCP connections opened", lambda r: _lc(r, "client_connections", "connects"), "info"),
    ("resets", "fresh-connection resets retried", lambda r: _lc(r, "client_connections", "fresh_connection_resets_retried"), "info"),
    ("put_med", "PUT provision median (ms)", lambda r: _lc(r, "put_latency", "median_ms"), "time"),
    ("put_p90", "PUT provision p90 (ms)", lambda r: _lc(r, "put_latency", "p90_ms"), "time"),
    ("get_med", "GET poll median (ms)", lambda r: _lc(r, "get_latency", "median_ms"), "time"),
    ("get_p90", "GET poll p90 (ms)", lambda r: _lc(r, "get_latency", "p90_ms"), "time"),
    ("create_s", "create N nodes, parallel (s)", lambda r: (r.get("create") or {}).get("total_s"), "time"),
    ("idle_rss", "idle RSS (MiB)", lambda r: r["idle_rss_kib"] / 1024 if "idle_rss_kib" in r else None, "mem"),
    ("peak_rss", "peak RSS, sum VmHWM (MiB)", lambda r: r["peak_rss_kib"] / 1024 if "peak_rss_kib" in r else None, "mem"),
    ("end_rss", "RSS after lifecycle (MiB)", lambda r: r["end_rss_kib"] / 1024 if "end_rss_kib" in r else None, "mem"),
]


def compare(results):
    a, b = results.get("ironbox"), results.get("ironic")
    rows = []
    for key, label, get, kind in METRICS:
        va = get(a) if a else None
        vb = get(b) if b else None
        ratio = None
        if va is not None and vb is not None and kind != "info":
            if kind == "time":
                ratio = vb / va if va else None
            else:
                ratio = va / vb if vb else None
        rows.append({"metric": key, "label": label, "ironbox": va, "ironic": vb, "ratio": ratio, "kind": kind})
    return rows


def targets(rows):
    r = {x["metric"]: x for x in rows}["total_s"]["ratio"]
    return [{"target": "enroll->active of all nodes >= 20x faster than Ironic", "metric": "total_s",
             "ratio": r, "threshold": f">= {TARGET_LIFECYCLE_SPEEDUP:g}",
             "met": None if r is None else r >= TARGET_LIFECYCLE_SPEEDUP}]


def fmt(x):
    return str(x) if isinstance(x, int) else ab.fmt(x)


def print_table(rows, tgts):
    w = max(len(r["label"]) for r in rows)
    hdr = f"{'metric':<{w}}  {'ironbox':>10}  {'ironic':>10}  {'ratio':>8}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if r["ironbox"] is None and r["ironic"] is None:
            continue
        if r["ratio"] is None:
            ratio = "-"
        elif r["kind"] == "mem":
            ratio = f"{r['ratio']:.3f}"
        else:
            ratio = f"{r['ratio']:.2f}x" if r["ratio"] < 10 else f"{r['ratio']:.0f}x"
        print(f"{r['label']:<{w}}  {fmt(r['ironbox']):>10}  {fmt(r['ironic']):>10}  {ratio:>8}")
    print("ratio: ironic/ironbox for times (x faster), ironbox/ironic for RSS (fraction)")
    for t in tgts:
        if t["ratio"] is None:
            continue
        print(f"target {t['target']}: ratio {t['ratio']:.3g} (need {t['threshold']}) -> "
              f"{'MET' if t['met'] else 'NOT MET'}")


# --------------------------------------------------------------------------- main

class Deadline(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ironbox", metavar="BIN", help="path to the ironbox binary")
    ap.add_argument("--ironic", action="store_true", help="also run the real Ironic (bench/ironic-ref)")
    ap.add_argument("--nodes", type=int, default=1000, help="fake-hardware nodes (default 1000)")
    ap.add_argument("--threads", type=int, default=32, help="client threads/connections (default 32)")
    ap.add_argument("--poll", type=float, default=0.2, help="poll interval in s (default 0.2)")
    ap.add_argument("--retry-delay", type=float, default=0.5, help="wait before retrying a 409/503 (default 0.5)")
    ap.add_argument("--mode", choices=["phased", "pipeline"], default="phased",
                    help="phased: all nodes finish a phase before the next starts (default); "
                         "pipeline: each node moves on at once")
    ap.add_argument("--max-seconds", type=int, default=1800,
                    help="bound on each server's lifecycle run (default 1800 = 30 min)")
    ap.add_argument("--timeout", type=int, default=None,
                    help="bound on the whole program (default: 2 x --max-seconds + 15 min)")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds before idle RSS (default 2)")
    ap.add_argument("--out", metavar="FILE.json", help="write all numbers to this JSON file")
    ap.add_argument("--keep", action="store_true", help="keep temp dirs (for debugging)")
    args = ap.parse_args()
    if not args.ironbox and not args.ironic:
        ap.error("give --ironbox BIN and/or --ironic")
    if args.nodes < 1 or args.threads < 1 or args.poll <= 0:
        ap.error("--nodes and --threads must be >= 1, --poll > 0")
    timeout = args.timeout or (2 * args.max_seconds + 900)

    def on_signal(signum, _frame):
        if signum == signal.SIGALRM:
            raise Deadline(f"run exceeded --timeout {timeout} s")
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(timeout)

    servers = []
    if args.ironbox:
        servers.append(ab.IronboxServer(args.ironbox, args.keep))
    if args.ironic:
        servers.append(ab.IronicServer(args.keep))

    doc = {
        "meta": {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "host_nproc": os.cpu_count(),
            "commit": ab.git_commit(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "nodes": args.nodes,
            "threads": args.threads,
            "poll_s": args.poll,
            "retry_delay_s": args.retry_delay,
            "mode": args.mode,
            "max_seconds": args.max_seconds,
            "request_timeout_s": ab.REQUEST_TIMEOUT,
        },
        "results": {},
    }
    rc = 0
    try:
        for s in servers:
            doc["results"][s.name] = run_lifecycle(s, args, args.max_seconds)
    except (BenchError, Deadline, KeyboardInterrupt, subprocess.TimeoutExpired, OSError) as e:
        print(f"\nBENCHMARK FAILED: {e}", file=sys.stderr)
        doc["error"] = str(e)
        rc = 1
    finally:
        signal.alarm(0)
        for s in servers:
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001 - cleanup must go on
                log(f"cleanup of {s.name}: {e!r}")

    if doc["results"]:
        rows = compare(doc["results"])
        doc["comparison"] = rows
        tg = targets(rows)
        if "ironbox" in doc["results"] and "ironic" in doc["results"]:
            doc["targets"] = tg
        print()
        print(f"nodes={args.nodes} threads={args.threads} poll={args.poll}s mode={args.mode} "
              f"nproc={os.cpu_count()} commit={doc['meta']['commit']}")
        print_table(rows, doc.get("targets", []))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        log(f"wrote {args.out}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
