#!/bin/sh
# Builds the mediasoup peer for the side-by-side bench into bench/.peers/mediasoup/ (gitignored), once.
# mediasoup is a bench-only peer: it never enters package.json. Its npm package builds a C++ worker whose
# default build downloads sources from GitHub and PyPI; the shared recipe builds it against Debian's own
# libraries instead (apt-get, ~5 minutes on 2 cores). Idempotent: exits at once when the worker exists.
# usage: sh bench/servers/mediasoup-setup.sh          prints the worker path on its last line
set -e
HERE=$(cd "$(dirname "$0")/.." && pwd)
DIR=${MEDIASOUP_PEER_DIR:-$HERE/.peers/mediasoup}
WORKER="$DIR/node_modules/mediasoup/worker/out/Release/mediasoup-worker"
RECIPE=${MEDIASOUP_BUILD_SCRIPT:-/work/shared/tools/mediasoup-debian-build.sh}
if [ -x "$WORKER" ] && [ -f "$DIR/node_modules/mediasoup/node/lib/index.js" ]; then
  echo "$WORKER"
  exit 0
fi
[ -f "$RECIPE" ] || { echo "mediasoup-setup: build recipe $RECIPE not found" >&2; exit 1; }
mkdir -p "$DIR"
start=$(date +%s)
sh "$RECIPE" "$DIR" >&2
[ -x "$WORKER" ] || { echo "mediasoup-setup: build finished but $WORKER is missing" >&2; exit 1; }
echo "mediasoup-setup: built in $(( $(date +%s) - start )) s" >&2
echo "$WORKER"
