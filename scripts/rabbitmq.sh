#!/usr/bin/env bash
# A throwaway RabbitMQ broker for the tests, on loopback, with everything under a fresh temporary folder.
#
#   scripts/rabbitmq.sh start        installs rabbitmq-server if missing, starts a broker on free ports, waits
#                                    until it is ready, then prints "export NAME=VALUE" lines (also kept in DIR/env):
#                                    TALLY_TEST_AMQP_URI, TALLY_TEST_RABBITMQCTL (rabbitmqctl bound to this broker)
#                                    and TALLY_TEST_RABBITMQ_DIR (what `stop` needs).
#   scripts/rabbitmq.sh stop [DIR]   shuts that broker down, stops its epmd, and removes DIR
#                                    (default: $TALLY_TEST_RABBITMQ_DIR).
#
# The server binary runs directly, as the Debian wrapper would switch user and write under /var/log.
# The broker gets its own Erlang port mapper (epmd) port too, so it never meets another node on this machine.
set -euo pipefail

server=/usr/lib/rabbitmq/bin/rabbitmq-server
ctl=/usr/lib/rabbitmq/bin/rabbitmqctl

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
me=rabbitmq.sh
# shellcheck source=lib/servers.sh
source "$here/lib/servers.sh"

install_if_missing() {
  [[ -x $server ]] || apt_install rabbitmq-server
}

# The epmd that the broker started, found by the private folder in its inherited environment.
epmd_pid() {
  local dir=$1 pid
  for pid in $(pgrep -x epmd || true); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "RABBITMQ_MNESIA_BASE=$dir/mnesia"; then
      echo "$pid"
    fi
  done
}

start() {
  install_if_missing
  local dir amqp_port dist_port epmd_port
  dir="$(mktemp -d "${TMPDIR:-/tmp}/tally-rabbitmq-XXXXXX")"
  mkdir -p "$dir"/{mnesia,log,home}
  free_port amqp_port
  free_port dist_port
  free_port epmd_port

  # Everything the server and rabbitmqctl must agree on; rabbitmqctl finds the Erlang cookie in HOME.
  cat >"$dir/broker.env" <<EOF
export HOME='$dir/home'
export RABBITMQ_NODENAME='tally@localhost'
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$amqp_port
export RABBITMQ_DIST_PORT=$dist_port
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT=$epmd_port
export RABBITMQ_MNESIA_BASE='$dir/mnesia'
export RABBITMQ_LOG_BASE='$dir/log'
export RABBITMQ_PID_FILE='$dir/rabbit.pid'
export RABBITMQ_ENABLED_PLUGINS_FILE='$dir/enabled_plugins'
export RABBITMQ_CONFIG_FILE='$dir/rabbitmq'
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
EOF
  printf 'listeners.tcp.default = 127.0.0.1:%s\n' "$amqp_port" >"$dir/rabbitmq.conf"
  echo '[].' >"$dir/enabled_plugins"
  printf 'c%s%s' "$RANDOM$RANDOM" "$RANDOM$RANDOM" >"$dir/home/.erlang.cookie"
  chmod 400 "$dir/home/.erlang.cookie"
  cat >"$dir/rabbitmqctl" <<EOF
#!/usr/bin/env bash
# rabbitmqctl for the test broker in $dir
source '$dir/broker.env'
exec $ctl "\$@"
EOF
  chmod +x "$dir/rabbitmqctl"

  log "starting a broker in $dir (AMQP on 127.0.0.1:$amqp_port)"
  (
    # shellcheck source=/dev/null
    source "$dir/broker.env"
    setsid "$server" >"$dir/log/stdout.log" 2>&1 </dev/null &
    echo $! >"$dir/server.pid"
  )
  if ! "$dir/rabbitmqctl" wait --pid "$(cat "$dir/server.pid")" --timeout 120 >"$dir/log/wait.log" 2>&1; then
    log "the broker did not start; its output:"
    tail -n 40 "$dir/log/stdout.log" "$dir/log/wait.log" >&2 || true
    stop "$dir"
    return 1
  fi

  cat >"$dir/env" <<EOF
export TALLY_TEST_AMQP_URI='amqp://guest:guest@127.0.0.1:$amqp_port/'
export TALLY_TEST_RABBITMQCTL='$dir/rabbitmqctl'
export TALLY_TEST_RABBITMQ_DIR='$dir'
EOF
  log "ready"
  cat "$dir/env"
}

stop() {
  local dir=${1:-${TALLY_TEST_RABBITMQ_DIR:-}}
  if [[ -z $dir || ! -f $dir/broker.env ]]; then
    log "stop: no broker folder given (argument or TALLY_TEST_RABBITMQ_DIR)"
    return 1
  fi
  "$dir/rabbitmqctl" shutdown --timeout 60 >/dev/null 2>&1 || true
  # If shutdown could not reach the node, end the server process group we started.
  [[ -f $dir/server.pid ]] && stop_group "$(cat "$dir/server.pid")"
  local epmd
  for epmd in $(epmd_pid "$dir"); do kill "$epmd" 2>/dev/null || true; done
  rm -rf "$dir"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *)
    echo "usage: $0 start | stop [DIR]" >&2
    exit 2
    ;;
esac
