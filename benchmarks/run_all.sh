#!/usr/bin/env bash
# Run hotline's benchmarks beside the peers' (../shared/bench), one at a time, ROUNDS times,
# then print one comparison table. Loopback only; each bench is bounded in count and time.
#
#   bash benchmarks/run_all.sh                 # 2 rounds, figures in artifacts/bench/
#   ROUNDS=3 OUT=/tmp/b bash benchmarks/run_all.sh
#   SYNAPSE=1 bash benchmarks/run_all.sh       # also Synapse (needs ../shared/bench/synapse_setup.sh)
#
# Peers run with their own interpreter (PEER_PY: a venv with aiohttp nats-py websockets httpx).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-artifacts/bench}
SHARED=${SHARED:-../shared/bench}
PEER_PY=${PEER_PY:-/tmp/bench-venv/bin/python}
HL=${HL:-.venv/bin/hotline}
mkdir -p "$OUT"
if [ ! -x "$PEER_PY" ]; then
  python3 -m venv "$(dirname "$(dirname "$PEER_PY")")"
  "$PEER_PY" -m pip install -q aiohttp nats-py websockets httpx
fi
command -v wrk >/dev/null || echo "note: wrk not installed (apt-get install -y wrk): hotline's throughput uses its Python client"

for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r: floor (WebSocket relay + SQLite fsync per message; SQLite alone)"
  "$PEER_PY" "$SHARED/floor_bench.py" ws --persist --label "r$r" --out "$OUT/floor.jsonl" >/dev/null
  "$PEER_PY" "$SHARED/floor_bench.py" sqlite --label "r$r" --out "$OUT/floor.jsonl" >/dev/null
  floor_p99=$(tail -n 2 "$OUT/floor.jsonl" | head -n 1 | "$PEER_PY" -c \
    'import json,sys; print(json.loads(sys.stdin.read())["latency"]["e2e_both_ms"]["p99"])')
  echo "== round $r: federated floor (three relays, an fsync at each, mutual TLS between them)"
  .venv/bin/python benchmarks/federated_floor.py --label "r$r" --out "$OUT/federated_floor.jsonl" \
    --json >/dev/null
  if (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
    echo "== round $r: NATS JetStream (127.0.0.1:4222)"
    pgrep -x nats-server | head -n 1 > "$OUT/nats.pid" || true
    "$PEER_PY" "$SHARED/nats_bench.py" --pid-file "$OUT/nats.pid" --label "r$r" \
      --out "$OUT/nats.jsonl" >/dev/null
  else
    echo "note: no NATS server on 127.0.0.1:4222: skipped"
  fi
  if [ "${SYNAPSE:-0}" = 1 ]; then
    echo "== round $r: Synapse (SQLite)"
    (cd /tmp/synapse-data && /tmp/synapse-venv/bin/python -m synapse.app.homeserver \
      -c homeserver.yaml --daemonize) && sleep 5
    "$PEER_PY" "$SHARED/synapse_bench.py" --db sqlite --label "sqlite-r$r" \
      --out "$OUT/synapse.jsonl" >/dev/null || true
    kill "$(cat /tmp/synapse-data/homeserver.pid)" || true
  fi
  echo "== round $r: hotline, one node"
  "$HL" bench hotline --label "r$r" --out "$OUT/hotline.jsonl" --json >/dev/null
  echo "== round $r: hotline, three federated nodes"
  "$HL" bench federation --label "r$r" --floor-p99-ms "$floor_p99" \
    --out "$OUT/federation.jsonl" --json >/dev/null
done
.venv/bin/python benchmarks/summarize.py "$OUT"
