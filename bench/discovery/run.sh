#!/bin/sh
# Build ironbox (release unless PROFILE=debug) and run the discovery benchmark once.
set -eu
cd "$(dirname "$0")/../.."
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then cargo build --release; else cargo build; fi
exec python3 bench/discovery/bench.py "target/$PROFILE/ironbox"
