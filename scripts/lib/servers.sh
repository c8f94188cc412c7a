# What the scripts that start throw-away test servers share: messages, ports, installs, stopping.
# The sourcing script sets `me` to its own name first, for its messages.

log() { echo "$me: $*" >&2; }

# Sets the variable named $1 to a loopback port that nothing listens on and that this script has
# not handed out yet (no subshell, so the ports handed out are remembered).
taken_ports=" "
free_port() {
  # Named apart from any caller's variable, which printf -v must reach.
  local candidate_port
  for _ in $(seq 1 200); do
    candidate_port=$((20000 + RANDOM % 12000))
    [[ $taken_ports == *" $candidate_port "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate_port") 2>/dev/null; then
      taken_ports+="$candidate_port "
      printf -v "$1" '%s' "$candidate_port"
      return 0
    fi
  done
  log "no free port found"
  return 1
}

# Installs Debian packages quietly; a fresh machine needs the package lists first.
apt_install() {
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Ends the process group that process $1 leads: TERM, then KILL if it is still there after 10 s.
stop_group() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "process $pid did not stop in 10 s; killing it"
  kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
}
