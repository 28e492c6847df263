#!/usr/bin/env bash
# Time `make run` on a fresh clone: git clone -> install done -> index built -> /readyz -> a cited
# answer to the 15% question. COLD=1 gives uv an empty cache, as on a new machine (every package
# downloaded); otherwise uv's cache in ~/.cache/uv is used.
#   bash bench/fresh_run.sh            COLD=1 bash bench/fresh_run.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
port=${PORT:-8765}
work=$(mktemp -d)
if [ "${COLD:-0}" = 1 ]; then export UV_CACHE_DIR="$work/uv-cache" PIP_NO_CACHE_DIR=1; fi
now() { date +%s.%N; }
since() { printf '%6.1f s' "$(echo "$(now) - $t0" | bc)"; }

t0=$(now)
git clone -q "$repo" "$work/clone"
cd "$work/clone"
setsid make run PORT="$port" >"$work/run.log" 2>&1 &
pgid=$!
trap 'kill -- -"$pgid" 2>/dev/null || true; rm -rf "$work"' EXIT

installed="" ingested=""
for _ in $(seq 1 3000); do
  if [ -z "$installed" ] && [ -e .venv/.installed ]; then installed=$(since); fi
  if [ -z "$ingested" ] && grep -q '^index: ' "$work/run.log" 2>/dev/null; then ingested=$(since); fi
  if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pgid" 2>/dev/null; then echo "make run exited:"; tail -20 "$work/run.log"; exit 1; fi
  sleep 0.2
done
ready=$(since)
answer=$(curl -sf "http://127.0.0.1:$port/api/ask" -H 'content-type: application/json' \
  -d '{"question":"战略性新兴产业用地的配套设施比例是多少？"}')
answered=$(since)
echo "fresh clone make run (cold uv cache: ${COLD:-0}), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  install done   $installed"
echo "  index built    $ingested"
echo "  /readyz 200    $ready"
echo "  first answer   $answered"
echo "$answer" | python3 -c '
import json, sys
a = json.load(sys.stdin)
c = a["citations"][0] if a["citations"] else None
print("  answer:", a["answer"][:80].replace("\n", " "), "...")
print("  cites 15%:", "15%" in a["answer"] and c is not None and "15%" in c["quote"], "| abstained:", a["abstained"])
'
