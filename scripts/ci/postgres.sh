#!/usr/bin/env bash
# A throw-away PostgreSQL 15 server for the store's tests and benchmark, in a folder of its own.
#   scripts/ci/postgres.sh start DIR   installs PostgreSQL 15 when missing, initdb into DIR, starts it on a free
#                                      loopback port and prints the URL of an empty database on stdout
#   scripts/ci/postgres.sh stop DIR    stops that server and removes DIR
#   scripts/ci/postgres.sh pause DIR / resume DIR   stop or start the server, keeping its data (outage checks)
set -euo pipefail

BIN=/usr/lib/postgresql/15/bin
command=${1:?usage: postgres.sh start|stop|pause|resume DIR}
dir=${2:?usage: postgres.sh start|stop|pause|resume DIR}
say() { echo "postgres.sh: $*" >&2; }

# initdb and the server refuse to run as root: as root they run as the postgres user, who owns DIR.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

server() { # pg_ctl with the options this folder's server was started with
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" "$@"
}

case "$command" in
start)
  if [ ! -x "$BIN/initdb" ]; then
    say "installing PostgreSQL 15 with apt-get"
    if [ "$(id -u)" -ne 0 ]; then say "PostgreSQL 15 is missing and only root can install it"; exit 1; fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >&2
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
  fi
  port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
  echo "$port" >"$dir/port"
  # --no-sync: the folder is thrown away, so there is nothing to make durable at initdb time.
  as_owner "$BIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # Loopback and a socket inside DIR only: nothing else on the machine can reach it.
  cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
CONF
  server -w -t 30 start >&2 || { cat "$dir/server.log" >&2; exit 1; }
  as_owner "$BIN/createdb" -h "$dir" -p "$port" -U postgres leadscore >&2
  echo "postgres://postgres@127.0.0.1:$port/leadscore"
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then server -m fast -w stop >&2 || true; fi
  rm -rf "$dir"
  ;;
pause)
  server -m fast -w stop >&2
  ;;
resume)
  server -w -t 30 start >&2
  ;;
*)
  say "unknown command $command (start, stop, pause or resume)"
  exit 2
  ;;
esac
