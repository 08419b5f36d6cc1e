#!/usr/bin/env bash
# Install the Debian 12 packages JobMaster needs to build and test.
#
#   tools/install-deps.sh            build dependencies only
#   tools/install-deps.sh --servers  also the throwaway test servers
#                                    (PostgreSQL 15, MariaDB, NATS) used by
#                                    tools/test-services.sh
#
# Idempotent: packages that are already installed are not touched, and
# `apt-get update` runs only when something has to be installed.
# Runs as root, or through sudo otherwise. Never prompts (works with no stdin).
set -euo pipefail

BUILD_PKGS=(
  build-essential g++ cmake ninja-build ccache pkg-config git
  libcaf-dev capnproto libcapnp-dev libssl-dev libspdlog-dev libfmt-dev
  libsqlite3-dev sqlite3 libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libhowardhinnant-date-dev tzdata libpq-dev libmariadb-dev libnats-dev
)
# postgresql pulls in postgresql-client (psql), mariadb-server pulls in
# mariadb-client (mariadb) and creates the `mysql` OS user; postgresql-common
# creates the `postgres` OS user.
SERVER_PKGS=(postgresql mariadb-server nats-server)

log() { printf '[install-deps] %s\n' "$*"; }
die() { printf '[install-deps] ERROR: %s\n' "$*" >&2; exit 1; }

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

want_servers=0
for arg in "$@"; do
  case "$arg" in
    --servers) want_servers=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $arg" ;;
  esac
done

pkgs=("${BUILD_PKGS[@]}")
if (( want_servers )); then pkgs+=("${SERVER_PKGS[@]}"); fi

if [[ "$(id -u)" == 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo --non-interactive)
  [[ -t 0 ]] && SUDO=(sudo)   # allow a password prompt only when someone can answer it
else
  die "not root and sudo is not installed"
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Debian 12 (bookworm)"
if [[ -r /etc/os-release ]]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  if [[ "${ID:-}" != debian || "${VERSION_ID:-}" != 12 ]]; then
    log "warning: written for Debian 12, this is ${PRETTY_NAME:-unknown}; trying anyway"
  fi
fi

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

missing=()
for p in "${pkgs[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if (( ${#missing[@]} == 0 )); then
  log "all ${#pkgs[@]} packages already installed$( (( want_servers )) && echo ' (incl. test servers)')"
  exit 0
fi

log "missing: ${missing[*]}"

# Wait for a dpkg/apt lock held by someone else instead of failing at once.
APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
apt_env=(env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a)

retry() {  # tries cmd...
  local n="$1" i; shift
  for (( i = 1; i <= n; i++ )); do
    if "$@"; then return 0; fi
    (( i < n )) && { log "attempt $i of $n failed, retrying in $((i * 5))s"; sleep $((i * 5)); }
  done
  return 1
}

log "apt-get update"
retry 3 "${SUDO[@]}" "${apt_env[@]}" apt-get "${APT_OPTS[@]}" update -q </dev/null \
  || die "apt-get update failed"

log "apt-get install ${#missing[@]} package(s)"
retry 3 "${SUDO[@]}" "${apt_env[@]}" apt-get "${APT_OPTS[@]}" install -y -q \
  --no-install-recommends "${missing[@]}" </dev/null \
  || die "apt-get install failed"

still=()
for p in "${missing[@]}"; do is_installed "$p" || still+=("$p"); done
(( ${#still[@]} == 0 )) || die "still not installed after apt-get: ${still[*]}"

log "done: installed ${missing[*]}"
