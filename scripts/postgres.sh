#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests, on loopback, with everything under a temporary folder.
#
#   scripts/postgres.sh start [DIR]  installs postgresql-15 if missing, initdb's a cluster in DIR (default: a new
#                                    temporary folder), starts it on a free port, waits until it accepts
#                                    connections, then prints "export NAME=VALUE" lines (also kept in DIR/env):
#                                    TALLY_TEST_POSTGRES (an Npgsql connection string to the superuser postgres,
#                                    database postgres), TALLY_TEST_POSTGRES_DIR (what `stop` needs) and
#                                    TALLY_TEST_PSQL.
#   scripts/postgres.sh stop [DIR]   stops that server and removes DIR (default: $TALLY_TEST_POSTGRES_DIR).
#
# The cluster trusts local connections and runs with fsync off: it holds test data only.
# As root, the server runs as the postgres user, which PostgreSQL requires.
set -euo pipefail

bin=/usr/lib/postgresql/15/bin

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
me=postgres.sh
# shellcheck source=lib/servers.sh
source "$here/lib/servers.sh"

install_if_missing() {
  [[ -x $bin/initdb ]] || apt_install postgresql-15
}

# Runs a command line as the server's owner: postgres when we are root, else ourselves.
as_owner() {
  if [[ $(id -u) == 0 ]]; then
    su postgres -s /bin/sh -c "$1"
  else
    sh -c "$1"
  fi
}

start() {
  install_if_missing
  local dir=${1:-} port
  if [[ -z $dir ]]; then
    dir="$(mktemp -d "${TMPDIR:-/tmp}/tally-postgres-XXXXXX")"
  else
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
  fi
  [[ $(id -u) == 0 ]] && chown postgres:postgres "$dir"
  chmod 700 "$dir"
  free_port port

  log "creating a cluster in $dir"
  if ! as_owner "$bin/initdb -D '$dir/data' -U postgres -A trust -E UTF8 --no-locale --no-sync" >"$dir/initdb.log" 2>&1; then
    log "initdb failed; its output:"
    tail -n 40 "$dir/initdb.log" >&2 || true
    rm -rf "$dir"
    return 1
  fi
  log "starting it on 127.0.0.1:$port"
  # The test assemblies run side by side, each store with its own connection pool whose idle connections linger:
  # 200 connections ran out once in a CI run ("too many clients already"), so allow 500.
  if ! as_owner "$bin/pg_ctl -D '$dir/data' -l '$dir/pg.log' -w -t 60 \
      -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off -c full_page_writes=off -c max_connections=500\" start" \
      >"$dir/pg_ctl.log" 2>&1; then
    log "the server did not start; its log:"
    tail -n 40 "$dir/pg_ctl.log" "$dir/pg.log" >&2 || true
    stop "$dir"
    return 1
  fi

  cat >"$dir/env" <<EOF
export TALLY_TEST_POSTGRES='Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres'
export TALLY_TEST_POSTGRES_DIR='$dir'
export TALLY_TEST_PSQL=$bin/psql
EOF
  log "ready"
  cat "$dir/env"
}

stop() {
  local dir=${1:-${TALLY_TEST_POSTGRES_DIR:-}}
  if [[ -z $dir || ! -d $dir/data ]]; then
    log "stop: no cluster folder given (argument or TALLY_TEST_POSTGRES_DIR)"
    return 1
  fi
  if [[ -f $dir/data/postmaster.pid ]]; then
    as_owner "$bin/pg_ctl -D '$dir/data' -m fast -w stop" >/dev/null 2>&1 || log "pg_ctl stop failed"
  fi
  rm -rf "$dir"
  log "stopped"
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *)
    echo "usage: $0 start [DIR] | stop [DIR]" >&2
    exit 2
    ;;
esac
