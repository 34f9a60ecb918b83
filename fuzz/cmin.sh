#!/bin/sh
# Minimize each target's corpus: the repository's fuzz/corpus/<target> plus what the long
# runs found in $WORK/<target>, merged by libFuzzer (-merge=1) into the smallest set with
# the same coverage, written back to fuzz/corpus/<target>. Regression inputs for findings
# live in fuzz/corpus/<target>/crash-* and are kept whatever the merge says.
# Usage: fuzz/cmin.sh [target...]   (needs nightly and cargo-fuzz)
set -eu
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/ironbox-fuzz}
TARGETS=${*:-"tftp template query config agent api_body json_patch dhcp qcow2"}
for t in $TARGETS; do
    out="$WORK/min/$t"
    rm -rf "$out" && mkdir -p "$out" "$WORK/$t"
    nice -n 10 cargo +nightly fuzz run -s none "$t" "$out" "fuzz/corpus/$t" "$WORK/$t" -- \
        -merge=1 -rss_limit_mb=512 -timeout=5 >"$WORK/$t.cmin.log" 2>&1
    keep=$(mktemp -d)
    cp fuzz/corpus/"$t"/crash-* "$keep"/ 2>/dev/null || true
    rm -rf "fuzz/corpus/$t" && mkdir -p "fuzz/corpus/$t"
    cp "$out"/* "fuzz/corpus/$t"/
    cp "$keep"/* "fuzz/corpus/$t"/ 2>/dev/null || true
    rm -rf "$keep"
    echo "$t: $(ls "fuzz/corpus/$t" | wc -l) inputs, $(du -sk "fuzz/corpus/$t" | cut -f1) KiB"
done
