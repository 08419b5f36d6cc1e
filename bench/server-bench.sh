#!/usr/bin/env bash
# `jobmaster bench` on a throwaway database server started exactly as the
# peer harness starts its own (../shared/bench/peers/lib/common.sh), so that
# our figures and the peers' come from the same kind of server. Stops the
# server at the end.
#
#   bench/server-bench.sh postgres [jobmaster bench options...]
#   bench/server-bench.sh mysql    [jobmaster bench options...]
#
# PostgreSQL 15: durable defaults (fsync, synchronous_commit and
# full_page_writes on), shared_buffers=1GB, max_wal_size=4GB,
# checkpoint_timeout=15min. MariaDB: innodb_flush_log_at_trx_commit=1,
# binlog off, buffer pool 1G.
#
# JOBMASTER (default build/node/jobmaster) and PEERS (default
# ../shared/bench/peers) override the paths. PG_STATS=1 (PostgreSQL) loads
# pg_stat_statements and prints the statements that took the most server
# time (a profile; the extension costs a little throughput).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBMASTER="${JOBMASTER:-$ROOT/build/node/jobmaster}"
PEERS="${PEERS:-$ROOT/../shared/bench/peers}"
STORE="${1:-}"
[[ "$STORE" == postgres || "$STORE" == mysql ]] || { echo "usage: $0 postgres|mysql [bench options]" >&2; exit 2; }
shift
[[ -x "$JOBMASTER" ]] || { echo "no $JOBMASTER (build the jobmaster target)" >&2; exit 2; }
# shellcheck source=/dev/null
source "$PEERS/lib/common.sh"
STATS="${PG_STATS:-0}"
[[ "$STORE" == postgres ]] || STATS=0
if [[ "$STATS" == 1 ]]; then
  PG_SETTINGS="$PG_SETTINGS -c shared_preload_libraries=pg_stat_statements"
fi
init_work
if [[ "$STORE" == postgres ]]; then
  start_pg
  pg_fresh_db jmbench
  if [[ "$STATS" == 1 ]]; then psql -qAt -d jmbench -c "CREATE EXTENSION pg_stat_statements"; fi
  log "settings: $(psql -qAtc "select string_agg(name || '=' || setting, ' ') from pg_settings where name in ('fsync', 'synchronous_commit', 'shared_buffers', 'max_wal_size', 'full_page_writes')")"
  URL="postgresql://bench@127.0.0.1:$PGPORT/jmbench"
else
  start_maria
  URL="mysql://bench@127.0.0.1:$MARIA_PORT/bench"
fi
log "load: $(uptime)"
"$JOBMASTER" bench --store "$STORE" --url "$URL" "$@"
log "load: $(uptime)"
if [[ "$STATS" == 1 ]]; then
  psql -d jmbench -c "SELECT calls, round(total_exec_time) AS total_ms, round(mean_exec_time::numeric, 2) AS mean_ms, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15"
fi
