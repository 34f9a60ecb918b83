#!/usr/bin/env python3
"""Deploy benchmark: deploy verb -> active for a QEMU machine, split into phases.

Runs the end-to-end test (tests/integration/e2e.rs: a QEMU VM under TCG in a network
namespace, ipmi_sim as its BMC, ironbox as its only DHCP/TFTP/HTTP server, the built-in
agent in the deploy ramdisk, the real `baremetal` CLI) N times per firmware. Each run
appends the deploy's phases, computed from the node's history, to a JSON-lines file; this
script prints their medians and checks the target: ironbox's own orchestration overhead
under 1 s.

Needs root, tests/lab/setup.sh and the test venv (tests/run.sh makes all of them).
usage: python3 bench/deploy_bench.py [--runs 3] [--firmware bios,uefi] [--release]
                                     [--out bench/results-deploy-DATE.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASES = [
    ("verb_to_active_s", "deploy verb -> active (from node history)"),
    ("ironbox_orchestration_s", "ironbox orchestration (verb -> first step, heartbeat -> next command, x2)"),
    ("deploy_step_bmc_reboot_s", "BMC: boot device pxe + reboot"),
    ("firmware_pxe_ramdisk_boot_to_lookup_s", "firmware, PXE, kernel + ramdisk boot, to lookup"),
    ("agent_start_lookup_to_heartbeat_s", "agent start: lookup -> first heartbeat"),
    ("image_write_s", "image download + write + verify (agent)"),
    ("prepare_instance_boot_bmc_s", "BMC: boot device disk"),
    ("tear_down_agent_power_off_s", "agent sync + in-band power off, seen by the BMC"),
    ("boot_instance_bmc_power_on_s", "BMC: power on"),
    ("cli_wall_time_s", "info: `baremetal node deploy --wait` wall time (CLI start-up + polling)"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--firmware", default="bios,uefi")
    ap.add_argument("--release", action="store_true", help="build the tests with --release")
    ap.add_argument("--out", help="write all samples and the summary as JSON")
    args = ap.parse_args()
    firmwares = [f for f in args.firmware.split(",") if f]
    samples = {f: [] for f in firmwares}
    build = ["cargo", "test"] + (["--release"] if args.release else []) + ["--test", "integration"]
    for fw in firmwares:
        for i in range(args.runs):
            with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as out:
                env = dict(os.environ, IRONBOX_E2E_PHASES=out.name)
                t = time.monotonic()
                proc = subprocess.run(build + ["--", "--exact", f"e2e::qemu_{fw}_ipmi_deploy",
                                               "--nocapture"],
                                      cwd=ROOT, env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
                    sys.exit(f"run {i + 1} ({fw}) failed")
                lines = [json.loads(l) for l in out.read().splitlines() if l.strip()]
                samples[fw].extend(lines)
                print(f"{fw} run {i + 1}: verb->active {lines[-1]['verb_to_active_s']:.2f} s, "
                      f"ironbox {lines[-1]['ironbox_orchestration_s'] * 1000:.1f} ms "
                      f"(test took {time.monotonic() - t:.0f} s)", flush=True)
    summary = {}
    print()
    print(f"{'phase (median of %d runs, seconds)' % args.runs:<78}" + "".join(f"{f:>9}" for f in firmwares))
    for key, label in PHASES:
        row = {f: statistics.median(s[key] for s in samples[f]) for f in firmwares}
        summary[key] = row
        print(f"{label:<78}" + "".join(f"{row[f]:>9.3f}" for f in firmwares))
    worst = max(max(s["ironbox_orchestration_s"] for s in samples[f]) for f in firmwares)
    verdict = "MET" if worst < 1.0 else "MISSED"
    print(f"\ntarget ironbox orchestration overhead < 1 s: worst run {worst * 1000:.1f} ms -> {verdict}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"meta": {"date": time.strftime("%F %T"), "nproc": os.cpu_count(),
                                "load": os.getloadavg(), "release": args.release,
                                "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                         capture_output=True, text=True).stdout.strip()},
                       "samples": samples, "median": summary,
                       "target": {"worst_orchestration_s": worst, "verdict": verdict}}, f, indent=1)
    return 0 if verdict == "MET" else 1


if __name__ == "__main__":
    sys.exit(main())
