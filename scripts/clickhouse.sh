#!/usr/bin/env bash
# Two throwaway ClickHouse servers for the tests, on loopback, with everything under one folder.
#
#   scripts/clickhouse.sh start [DIR]   installs clickhouse-server and clickhouse-client if missing, starts two
#                                       servers (node1, node2) on free ports, defines the cluster tally_two_shards
#                                       with one shard on each, waits until both answer /ping, then prints
#                                       "export NAME=VALUE" lines (also kept in DIR/env): TALLY_TEST_CLICKHOUSE
#                                       (node1's HTTP URL), TALLY_TEST_CLICKHOUSE_SHARDS (both HTTP endpoints),
#                                       TALLY_TEST_CLICKHOUSE_CLUSTER, TALLY_TEST_CLICKHOUSE_CLIENT,
#                                       TALLY_TEST_CLICKHOUSE_TCP (node1's native port) and TALLY_TEST_CLICKHOUSE_DIR.
#                                       DIR defaults to a new folder in /dev/shm (else in $TMPDIR or /tmp): the data
#                                       is thrown away anyway, and on a slow disk every insert, which writes a part
#                                       of many small files, costs 20-50 ms instead of 2-3 ms. An existing DIR must be empty.
#   scripts/clickhouse.sh stop DIR      stops both servers (by their pid files) and removes DIR
#                                       (default: $TALLY_TEST_CLICKHOUSE_DIR).
#
# Diagnostics go to stderr, so `eval "$(scripts/clickhouse.sh start)"` takes only the exports.
set -euo pipefail

cluster=tally_two_shards

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
me=clickhouse.sh
# shellcheck source=lib/servers.sh
source "$here/lib/servers.sh"

# Debian installs the server under /usr/sbin; other packagings use /usr/bin.
server_binary() {
  local candidate
  for candidate in /usr/bin/clickhouse-server /usr/sbin/clickhouse-server; do
    if [[ -x $candidate ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

install_if_missing() {
  if server_binary >/dev/null && [[ -x /usr/bin/clickhouse-client ]]; then return 0; fi
  apt_install clickhouse-server clickhouse-client
}

# config.xml and users.xml of one node. Both nodes list the same cluster, so either can serve a Distributed table.
write_config() {
  local node_dir=$1 http=$2 tcp=$3 interserver=$4 tcp1=$5 tcp2=$6
  mkdir -p "$node_dir"/{data,tmp,user_files,format_schemas,log}
  cat >"$node_dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$node_dir/log/server.log</log>
        <errorlog>$node_dir/log/error.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>$interserver</interserver_http_port>
    <path>$node_dir/data/</path>
    <tmp_path>$node_dir/tmp/</tmp_path>
    <user_files_path>$node_dir/user_files/</user_files_path>
    <format_schema_path>$node_dir/format_schemas/</format_schema_path>
    <users_config>$node_dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>200</max_concurrent_queries>
    <keep_alive_timeout>30</keep_alive_timeout>
    <mlock_executable>false</mlock_executable>
    <remote_servers>
        <$cluster>
            <shard><replica><host>127.0.0.1</host><port>$tcp1</port></replica></shard>
            <shard><replica><host>127.0.0.1</host><port>$tcp2</port></replica></shard>
        </$cluster>
    </remote_servers>
</yandex>
EOF
  cat >"$node_dir/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

start() {
  install_if_missing
  local server dir
  server="$(server_binary)"
  if [[ -n ${1:-} ]]; then
    dir=$1
    mkdir -p "$dir"
    if [[ -n "$(ls -A "$dir")" ]]; then
      log "$dir is not empty"
      return 1
    fi
    dir="$(cd "$dir" && pwd)"
  else
    local base=${TMPDIR:-/tmp}
    if [[ -d /dev/shm && -w /dev/shm ]]; then base=/dev/shm; fi
    dir="$(mktemp -d "$base/tally-clickhouse-XXXXXX")"
  fi

  local http1 tcp1 inter1 http2 tcp2 inter2
  free_port http1; free_port tcp1; free_port inter1
  free_port http2; free_port tcp2; free_port inter2
  write_config "$dir/node1" "$http1" "$tcp1" "$inter1" "$tcp1" "$tcp2"
  write_config "$dir/node2" "$http2" "$tcp2" "$inter2" "$tcp1" "$tcp2"

  local node
  for node in node1 node2; do
    log "starting $node in $dir/$node"
    # setsid: the server gets its own process group, so stop can end it and whatever it spawned.
    setsid "$server" --config-file="$dir/$node/config.xml" >"$dir/$node/log/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/$node/server.pid"
  done

  local port ready
  for port in "$http1" "$http2"; do
    ready=0
    for _ in $(seq 1 300); do
      if [[ "$(curl -sf "http://127.0.0.1:$port/ping" 2>/dev/null)" == "Ok." ]]; then
        ready=1
        break
      fi
      sleep 0.1
    done
    if [[ $ready -eq 0 ]]; then
      log "the server on HTTP port $port did not start; its logs:"
      tail -n 30 "$dir"/node*/log/*.log >&2 || true
      stop "$dir"
      return 1
    fi
  done

  cat >"$dir/env" <<EOF
export TALLY_TEST_CLICKHOUSE='http://127.0.0.1:$http1/'
export TALLY_TEST_CLICKHOUSE_SHARDS='127.0.0.1:$http1,127.0.0.1:$http2'
export TALLY_TEST_CLICKHOUSE_CLUSTER='$cluster'
export TALLY_TEST_CLICKHOUSE_CLIENT='/usr/bin/clickhouse-client'
export TALLY_TEST_CLICKHOUSE_TCP='$tcp1'
export TALLY_TEST_CLICKHOUSE_DIR='$dir'
EOF
  log "ready: node1 HTTP $http1 TCP $tcp1, node2 HTTP $http2 TCP $tcp2"
  cat "$dir/env"
}

stop() {
  local dir=${1:-${TALLY_TEST_CLICKHOUSE_DIR:-}}
  if [[ -z $dir || ! -d $dir/node1 ]]; then
    log "stop: no ClickHouse folder given (argument or TALLY_TEST_CLICKHOUSE_DIR)"
    return 1
  fi
  local pidfile
  for pidfile in "$dir"/node*/server.pid; do
    [[ -f $pidfile ]] || continue
    stop_group "$(cat "$pidfile")"
  done
  rm -rf "$dir"
  log "stopped"
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *)
    echo "usage: $0 start [DIR] | stop DIR" >&2
    exit 2
    ;;
esac
