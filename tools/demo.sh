#!/usr/bin/env bash
# The newcomer's first command: installs what the build needs, builds the
# `jobmaster` program and starts a standalone node on an embedded SQLite file
# (created on first start) with sample handlers and a few sample jobs. Each
# job's transitions and its handler's log lines are printed as they happen.
# Ctrl-C stops the node gracefully.
#
#   tools/demo.sh [extra `jobmaster node` options, e.g. --db /tmp/demo.db]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> installing build dependencies"
bash tools/install-deps.sh
echo "==> configuring and building (first build: a few minutes on 2 cores)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build build -j"$(nproc)" --target jobmaster
echo "==> starting a standalone node (database: jobmaster.db); Ctrl-C stops it"
echo "    in another terminal: build/node/jobmaster schedule hello --data Name=Ada"
exec build/node/jobmaster node --demo "$@"
