#!/usr/bin/env bash
# Throwaway test servers for JobMaster's integration tests.
#
#   tools/test-services.sh start DIR   start PostgreSQL 15, MariaDB and NATS (JetStream)
#                                      on 127.0.0.1, free ports, everything under DIR;
#                                      writes DIR/env.sh
#   tools/test-services.sh stop DIR    stop exactly the servers `start DIR` started
#   tools/test-services.sh restart DIR postgres|mariadb
#                                      stop that server (fast shutdown) and start it again
#                                      on the same port and data: for tests that check
#                                      surviving a database restart
#
# DIR/env.sh exports:
#   JM_TEST_PG_URL     postgresql://jm@127.0.0.1:PORT/jm_test       (trust auth)
#   JM_TEST_MYSQL_URL  mysql://jm:jm@127.0.0.1:PORT/jm_test
#   JM_TEST_NATS_URL   nats://127.0.0.1:PORT
#
# Server PIDs are recorded in DIR/pids ("pid name datadir" per line); stop signals
# only those (after checking the PID still belongs to that server), waits for exit
# and KILLs after JM_SVC_STOP_TIMEOUT seconds (default 30).
# Start waits up to JM_SVC_START_TIMEOUT seconds (default 120) per server.
# Needs: tools/install-deps.sh --servers. As root, PostgreSQL runs as the `postgres`
# OS user and MariaDB as `mysql`, so DIR and its parents must be traversable by them
# (DIR itself is made mode 755; a mktemp dir under /tmp works).
set -euo pipefail

START_TIMEOUT="${JM_SVC_START_TIMEOUT:-120}"
STOP_TIMEOUT="${JM_SVC_STOP_TIMEOUT:-30}"
# mariadbd lives in /usr/sbin, which a non-root PATH often lacks.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

log() { printf '[test-services %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; }

# ------------------------------------------------------------------ helpers

find_pg_bin() {
  local d
  for d in "${JM_PG_BIN:-}" /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null || true)"; do
    if [[ -n "$d" && -x "$d/initdb" && -x "$d/postgres" ]]; then echo "$d"; return 0; fi
  done
  return 1
}

# Is something listening on 127.0.0.1:PORT?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

USED_PORTS=" "
# Set PORT to a TCP port on 127.0.0.1 that nothing listens on right now (and that
# this run has not handed out already). Not called in $(...) so USED_PORTS sticks.
pick_port() {
  local p i
  for (( i = 0; i < 50; i++ )); do
    p=""
    if command -v python3 >/dev/null 2>&1; then
      p="$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || true)"
    fi
    [[ "$p" =~ ^[0-9]+$ ]] || p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 30000 ))
    if [[ "$USED_PORTS" != *" $p "* ]] && ! port_open "$p"; then
      USED_PORTS+="$p "
      PORT="$p"; return 0
    fi
  done
  die "could not find a free TCP port"
}

# Alive and not a zombie?
alive() {
  local pid="$1" st
  kill -0 "$pid" 2>/dev/null || return 1
  st="$(awk '/^State:/{print $2}' "/proc/$pid/status" 2>/dev/null || true)"
  [[ "$st" != Z ]]
}

# Does PID still belong to the server we recorded (guards against PID reuse)?
owns() {  # pid datadir
  local cmd
  cmd="$(tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null || true)"
  [[ -n "$cmd" && "$cmd" == *"$2"* ]]
}

tail_log() {  # file [lines]
  local f="$1" n="${2:-40}"
  if [[ -s "$f" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2
    printf -- '-----\n' >&2
  else
    printf -- '----- %s is empty or missing -----\n' "$f" >&2
  fi
}

# Run a command as OS user $1 (root only; as non-root run it as ourselves).
as_user() {  # user cmd...
  local u="$1"; shift
  if [[ "$(id -u)" == 0 ]]; then
    (cd / && setpriv --reuid="$u" --regid="$u" --init-groups -- "$@")
  else
    (cd / && "$@")
  fi
}

remember() { echo "$1 $2 $3" >> "$DIR/pids"; }   # pid name datadir

# ------------------------------------------------------------------ stop

stop_pid() {  # pid name datadir
  local pid="$1" name="$2" data="$3" sig=TERM i
  if ! alive "$pid"; then log "$name (pid $pid) already gone"; return 0; fi
  if ! owns "$pid" "$data"; then
    log "pid $pid is no longer $name (reused?), not touching it"; return 0
  fi
  [[ "$name" == postgres ]] && sig=INT   # SIGINT = fast shutdown
  log "stopping $name (pid $pid, SIG$sig)"
  kill "-$sig" "$pid" 2>/dev/null || true
  for (( i = 0; i < STOP_TIMEOUT * 10; i++ )); do
    alive "$pid" || { log "  $name stopped"; return 0; }
    sleep 0.1
  done
  log "  $name did not exit within ${STOP_TIMEOUT}s, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for (( i = 0; i < 100; i++ )); do
    alive "$pid" || { log "  $name killed"; return 0; }
    sleep 0.1
  done
  log "  $name (pid $pid) still alive after KILL"
  return 1
}

do_stop() {
  local rc=0 pid name data
  if [[ ! -s "$DIR/pids" ]]; then log "nothing recorded in $DIR/pids, nothing to stop"; return 0; fi
  # Newest first.
  while read -r pid name data; do
    [[ -n "$pid" ]] || continue
    stop_pid "$pid" "$name" "$data" || rc=1
  done < <(tac "$DIR/pids")
  if (( rc == 0 )); then : > "$DIR/pids"; fi
  rm -f "$DIR/env.sh"
  return $rc
}

# ------------------------------------------------------------------ start: PostgreSQL

start_pg() {
  local d="$DIR/pg" pgbin port pid i
  pgbin="$(find_pg_bin)" || die "PostgreSQL server binaries not found (run tools/install-deps.sh --servers)"
  rm -rf "$d"; mkdir -p "$d"
  if [[ "$(id -u)" == 0 ]]; then chown postgres: "$d"; fi
  chmod 755 "$d"   # the data dir below is 0700 (initdb); logs here stay readable
  log "postgres: initdb"
  if ! as_user postgres "$pgbin/initdb" -D "$d/data" -U jm --auth=trust -E UTF8 --locale=C \
        >"$d/initdb.log" 2>&1 </dev/null; then
    tail_log "$d/initdb.log"; die "postgres: initdb failed"
  fi
  for attempt in 1 2 3; do
    pick_port; port="$PORT"
    # Throwaway cluster: durability off for speed.
    if [[ "$(id -u)" == 0 ]]; then
      (cd / && exec setpriv --reuid=postgres --regid=postgres --init-groups -- \
        "$pgbin/postgres" -D "$d/data" -p "$port" -k "$d" \
        -c listen_addresses=127.0.0.1 -c max_connections=200 \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off) \
        >"$d/server.log" 2>&1 </dev/null &
    else
      (cd / && exec "$pgbin/postgres" -D "$d/data" -p "$port" -k "$d" \
        -c listen_addresses=127.0.0.1 -c max_connections=200 \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off) \
        >"$d/server.log" 2>&1 </dev/null &
    fi
    pid=$!
    remember "$pid" postgres "$d/data"
    for (( i = 0; i < START_TIMEOUT * 10; i++ )); do
      alive "$pid" || break
      if "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$port" -U jm -d postgres 2>/dev/null; then break; fi
      sleep 0.1
    done
    if alive "$pid"; then break; fi
    if (( attempt < 3 )) && grep -qi 'already in use' "$d/server.log" 2>/dev/null; then
      log "postgres: port $port taken meanwhile, retrying"; continue
    fi
    tail_log "$d/server.log"; die "postgres exited during startup"
  done
  if ! psql -X -q -h 127.0.0.1 -p "$port" -U jm -d postgres -v ON_ERROR_STOP=1 \
        -c 'CREATE DATABASE jm_test' >/dev/null 2>"$d/psql.err"; then
    cat "$d/psql.err" >&2; tail_log "$d/server.log"
    die "postgres did not answer on 127.0.0.1:$port within ${START_TIMEOUT}s (or CREATE DATABASE failed)"
  fi
  PG_URL="postgresql://jm@127.0.0.1:$port/jm_test"
  local one
  one="$(psql -X -qAt "$PG_URL" -c 'select 1' 2>"$d/psql.err" || true)"
  if [[ "$one" != 1 ]]; then
    cat "$d/psql.err" >&2; tail_log "$d/server.log"; die "postgres: 'select 1' on $PG_URL failed"
  fi
  log "postgres $(psql -X -qAt "$PG_URL" -c 'show server_version') up: $PG_URL (pid $pid)"
}

# ------------------------------------------------------------------ start: MariaDB

start_maria() {
  local d="$DIR/maria" port sock pid i dbuser run_user=() install_user=()
  command -v mariadbd >/dev/null 2>&1 || die "mariadbd not found (run tools/install-deps.sh --servers)"
  rm -rf "$d"; mkdir -p "$d/data" "$d/tmp"
  sock="$d/mysqld.sock"
  if (( ${#sock} > 100 )); then die "socket path too long (${#sock} > 100): $sock; use a shorter DIR"; fi
  if [[ "$(id -u)" == 0 ]]; then
    chown -R mysql:mysql "$d"
    run_user=(--user=mysql); install_user=(--user=mysql)
    dbuser=root
  else
    dbuser="$(id -un)"
    install_user=(--auth-root-socket-user="$dbuser")
  fi
  log "mariadb: mariadb-install-db"
  if ! (cd / && mariadb-install-db --no-defaults --datadir="$d/data" "${install_user[@]}" \
        --skip-test-db --auth-root-authentication-method=socket) >"$d/install.log" 2>&1 </dev/null; then
    tail_log "$d/install.log"; die "mariadb: mariadb-install-db failed"
  fi
  for attempt in 1 2 3; do
    pick_port; port="$PORT"
    : > "$d/error.log"; [[ "$(id -u)" == 0 ]] && chown mysql:mysql "$d/error.log"
    (cd / && exec mariadbd --no-defaults --datadir="$d/data" "${run_user[@]}" \
      --socket="$sock" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
      --pid-file="$d/mysqld.pid" --log-error="$d/error.log" --tmpdir="$d/tmp" \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
      --max-connections=200 --innodb-buffer-pool-size=256M \
      --innodb-flush-log-at-trx-commit=2 --skip-log-bin) >"$d/stdout.log" 2>&1 </dev/null &
    pid=$!
    remember "$pid" mariadb "$d/data"
    for (( i = 0; i < START_TIMEOUT * 10; i++ )); do
      alive "$pid" || break
      if port_open "$port" && mariadb --no-defaults -S "$sock" -u"$dbuser" -e 'select 1' >/dev/null 2>&1; then
        break
      fi
      sleep 0.1
    done
    if alive "$pid"; then break; fi
    if (( attempt < 3 )) && grep -qi 'already in use' "$d/error.log" 2>/dev/null; then
      log "mariadb: port $port taken meanwhile, retrying"; continue
    fi
    tail_log "$d/error.log"; tail_log "$d/stdout.log" 10; die "mariadbd exited during startup"
  done
  if ! mariadb --no-defaults -S "$sock" -u"$dbuser" -e "
        CREATE USER IF NOT EXISTS 'jm'@'%' IDENTIFIED BY 'jm';
        CREATE USER IF NOT EXISTS 'jm'@'localhost' IDENTIFIED BY 'jm';
        GRANT ALL PRIVILEGES ON *.* TO 'jm'@'%' WITH GRANT OPTION;
        GRANT ALL PRIVILEGES ON *.* TO 'jm'@'localhost' WITH GRANT OPTION;
        CREATE DATABASE IF NOT EXISTS jm_test CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        FLUSH PRIVILEGES;" 2>"$d/client.err"; then
    cat "$d/client.err" >&2; tail_log "$d/error.log"
    die "mariadb did not answer on $sock within ${START_TIMEOUT}s (or user/database setup failed)"
  fi
  local one
  one="$(mariadb --no-defaults -h 127.0.0.1 -P "$port" -ujm -pjm jm_test -N -B -e 'select 1' 2>"$d/client.err" || true)"
  if [[ "$one" != 1 ]]; then
    cat "$d/client.err" >&2; tail_log "$d/error.log"; die "mariadb: 'select 1' as jm over TCP 127.0.0.1:$port failed"
  fi
  MYSQL_URL="mysql://jm:jm@127.0.0.1:$port/jm_test"
  log "mariadb $(mariadb --no-defaults -h 127.0.0.1 -P "$port" -ujm -pjm -N -B -e 'select version()') up: $MYSQL_URL (pid $pid)"
}

# ------------------------------------------------------------------ start: NATS

start_nats() {
  local d="$DIR/nats" port pid i info=""
  command -v nats-server >/dev/null 2>&1 || die "nats-server not found (run tools/install-deps.sh --servers)"
  rm -rf "$d"; mkdir -p "$d/store"
  for attempt in 1 2 3; do
    pick_port; port="$PORT"
    : > "$d/nats.log"
    (cd / && exec nats-server -a 127.0.0.1 -p "$port" -js -sd "$d/store" \
      -l "$d/nats.log" -P "$d/nats.pid") >"$d/stdout.log" 2>&1 </dev/null &
    pid=$!
    remember "$pid" nats "$d/store"
    for (( i = 0; i < START_TIMEOUT * 10; i++ )); do
      alive "$pid" || break
      port_open "$port" && break
      sleep 0.1
    done
    if alive "$pid"; then break; fi
    if (( attempt < 3 )) && grep -qi 'already in use' "$d/nats.log" "$d/stdout.log" 2>/dev/null; then
      log "nats: port $port taken meanwhile, retrying"; continue
    fi
    tail_log "$d/nats.log"; tail_log "$d/stdout.log" 10; die "nats-server exited during startup"
  done
  # A NATS server greets every client with an INFO line.
  info="$( { exec 3<>"/dev/tcp/127.0.0.1/$port" && timeout 5 head -n 1 <&3; } 2>/dev/null || true)"
  if [[ "$info" != INFO* ]]; then
    tail_log "$d/nats.log"; die "nats-server did not answer on 127.0.0.1:$port within ${START_TIMEOUT}s"
  fi
  if [[ "$info" != *'"jetstream":true'* ]]; then
    tail_log "$d/nats.log"; die "nats-server on 127.0.0.1:$port answered without JetStream: $info"
  fi
  NATS_URL="nats://127.0.0.1:$port"
  log "nats-server $(nats-server --version 2>/dev/null | awk '{print $NF}') (JetStream) up: $NATS_URL (pid $pid)"
}

# ------------------------------------------------------------------ start

do_start() {
  local pid name data
  if [[ -s "$DIR/pids" ]]; then
    while read -r pid name data; do
      if [[ -n "$pid" ]] && alive "$pid" && owns "$pid" "$data"; then
        die "$name (pid $pid) from an earlier start is still running in $DIR: run '$0 stop $DIR' first"
      fi
    done < "$DIR/pids"
  fi
  : > "$DIR/pids"
  rm -f "$DIR/env.sh"
  chmod 755 "$DIR"
  if [[ "$(id -u)" == 0 ]]; then
    local u
    for u in postgres mysql; do
      getent passwd "$u" >/dev/null || die "OS user '$u' missing (run tools/install-deps.sh --servers)"
      setpriv --reuid="$u" --regid="$u" --init-groups -- test -x "$DIR" \
        || die "$DIR is not reachable by OS user '$u' (a parent directory is not world-traversable); use a dir under /tmp"
    done
  fi

  # If anything fails from here on, stop what was already started.
  trap 'rc=$?; if (( rc != 0 )); then log "start failed, stopping what was started"; do_stop || true; fi; exit $rc' EXIT

  start_pg
  start_maria
  start_nats

  cat > "$DIR/env.sh.tmp" <<EOF
# Written by tools/test-services.sh start $DIR on $(date -u +%FT%TZ)
export JM_TEST_PG_URL='$PG_URL'
export JM_TEST_MYSQL_URL='$MYSQL_URL'
export JM_TEST_NATS_URL='$NATS_URL'
export JM_TEST_SERVICES_DIR='$DIR'
EOF
  mv "$DIR/env.sh.tmp" "$DIR/env.sh"
  trap - EXIT
  log "all up; source $DIR/env.sh"
}

# ------------------------------------------------------------------ restart

# The command line a recorded server runs with (NUL-separated in /proc).
server_argv() {  # pid -> ARGV array
  ARGV=()
  while IFS= read -r -d '' a; do ARGV+=("$a"); done < "/proc/$1/cmdline"
}

do_restart() {  # name
  local name="$1" pid rec_name data found="" i port="" user=""
  [[ "$name" == postgres || "$name" == mariadb ]] || die "restart: postgres or mariadb, not '$name'"
  while read -r pid rec_name data; do
    if [[ "$rec_name" == "$name" ]] && alive "$pid" && owns "$pid" "$data"; then found="$pid"; break; fi
  done < "$DIR/pids"
  [[ -n "$found" ]] || die "restart: no running $name recorded in $DIR/pids"
  server_argv "$found"
  (( ${#ARGV[@]} > 0 )) || die "restart: cannot read the command line of pid $found"
  user="$(stat -c %U "/proc/$found")"
  stop_pid "$found" "$name" "$data" || die "restart: $name did not stop"
  for a in "${ARGV[@]}"; do
    case "$a" in --port=*) port="${a#--port=}" ;; esac
  done
  if [[ "$name" == postgres ]]; then
    for (( i = 0; i < ${#ARGV[@]}; i++ )); do
      [[ "${ARGV[$i]}" == -p ]] && port="${ARGV[$((i + 1))]}"
    done
  fi
  [[ -n "$port" ]] || die "restart: no port found in the command line of $name"
  local log_file="$DIR/${name}-restart.log"
  : > "$log_file"; chmod 666 "$log_file"
  if [[ "$(id -u)" == 0 && "$name" == postgres ]]; then
    (cd / && exec setpriv --reuid="$user" --regid="$user" --init-groups -- "${ARGV[@]}") \
      >>"$log_file" 2>&1 </dev/null &
  else
    (cd / && exec "${ARGV[@]}") >>"$log_file" 2>&1 </dev/null &
  fi
  pid=$!
  # Replace the old record.
  awk -v old="$found" '$1 != old' "$DIR/pids" > "$DIR/pids.tmp" && mv "$DIR/pids.tmp" "$DIR/pids"
  remember "$pid" "$name" "$data"
  for (( i = 0; i < START_TIMEOUT * 10; i++ )); do
    alive "$pid" || { tail_log "$log_file"; die "restart: $name exited during startup"; }
    if port_open "$port"; then
      if [[ "$name" == postgres ]]; then
        "$(find_pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$port" -U jm -d postgres 2>/dev/null && break
      else
        mariadb --no-defaults -h 127.0.0.1 -P "$port" -ujm -pjm -N -B -e 'select 1' >/dev/null 2>&1 && break
      fi
    fi
    sleep 0.1
  done
  log "$name restarted on port $port (pid $pid)"
}

# ------------------------------------------------------------------ main

[[ $# -eq 2 || ( $# -eq 3 && "$1" == restart ) ]] || { usage; exit 2; }
cmd="$1"
[[ -n "$2" ]] || die "DIR must not be empty"
case "$cmd" in
  start)
    mkdir -p "$2"
    DIR="$(cd "$2" && pwd -P)"
    do_start
    ;;
  stop)
    if [[ ! -d "$2" ]]; then log "$2 does not exist, nothing to stop"; exit 0; fi
    DIR="$(cd "$2" && pwd -P)"
    do_stop
    ;;
  restart)
    [[ -d "$2" ]] || die "$2 does not exist"
    DIR="$(cd "$2" && pwd -P)"
    do_restart "$3"
    ;;
  *) usage; exit 2 ;;
esac
