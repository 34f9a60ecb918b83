#!/bin/sh
# The long runs recorded in fuzz/README.md: each target in turn, one libFuzzer process on
# one core, until 10^7 executions or its share of the time left before DEADLINE (a Unix
# time; default: 10^7 executions only). New inputs go to $WORK/<target>; the final stats of
# each run to $WORK/<target>.log. Then minimize with fuzz/cmin.sh.
# Usage: fuzz/long-run.sh [target...]   (needs nightly and cargo-fuzz)
set -u
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/ironbox-fuzz}
RUNS=${RUNS:-10000000}
DEADLINE=${DEADLINE:-0}
TARGETS=${*:-"tftp template query config agent api_body json_patch dhcp qcow2"}
mkdir -p "$WORK"
left=$(echo $TARGETS | wc -w)
for t in $TARGETS; do
    budget=0
    if [ "$DEADLINE" -gt 0 ]; then
        budget=$(( (DEADLINE - $(date +%s)) / left ))
        [ "$budget" -lt 30 ] && budget=30
    fi
    mkdir -p "$WORK/$t"
    echo "== $t: start $(date -u +%FT%TZ), budget ${budget}s" | tee "$WORK/$t.log"
    nice -n 10 cargo +nightly fuzz run -s none "$t" "$WORK/$t" "fuzz/corpus/$t" -- \
        -runs="$RUNS" -max_total_time="$budget" -rss_limit_mb=512 -malloc_limit_mb=256 \
        -timeout=5 -print_final_stats=1 -artifact_prefix="$WORK/$t-" >>"$WORK/$t.log" 2>&1
    echo "== $t: exit $? at $(date -u +%FT%TZ)" | tee -a "$WORK/$t.log"
    left=$((left - 1))
done
