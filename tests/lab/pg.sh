#!/usr/bin/env bash
# A throwaway PostgreSQL for the store's tests (Debian's postgresql 15 package).
#   bash tests/lab/pg.sh start DIR PORT   → prints the URL: postgresql://ironbox@127.0.0.1:PORT/ironbox
#   bash tests/lab/pg.sh stop DIR
# The cluster lives in DIR (created; owned by the postgres user, as initdb refuses root),
# listens on 127.0.0.1:PORT only, its socket in DIR; trust authentication, C collation
# (the store sorts text bytewise, as SQLite does), no fsync (test data).
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "pg.sh: PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 1; }
user=postgres
id "$user" >/dev/null 2>&1 || user=nobody
as_user() { if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi; }

case "$cmd" in
start)
    port=${3:?port}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown "$user" "$dir"
    as_user "$bin/initdb" -D "$dir/data" -U ironbox -A trust --locale=C -E UTF8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    as_user "$bin/createdb" -h 127.0.0.1 -p "$port" -U ironbox ironbox
    echo "postgresql://ironbox@127.0.0.1:$port/ironbox"
    ;;
stop)
    [ -d "$dir/data" ] && as_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
*)
    echo "pg.sh: start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
