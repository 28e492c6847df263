#!/usr/bin/env bash
# Time `make run` on a fresh clone, from `git clone` to install done, index built, /readyz, and a
# cited answer to the 15% question: once with pip alone (UV=0, the baseline `pip`) and once as shipped
# (pinned torch by pip, the rest by uv), in the same run. COLD=1 gives each installer an empty
# cache, as on a new machine, so every package is downloaded.
#   bash bench/fresh_run.sh            COLD=1 bash bench/fresh_run.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
port=${PORT:-8765}
work=$(mktemp -d)
pgid=""
trap '[ -n "$pgid" ] && kill -- -"$pgid" 2>/dev/null; rm -rf "$work"' EXIT
now() { date +%s.%N; }

measure() {  # measure LABEL UV
  local label=$1 uv=$2 dir="$work/$1" t0 installed="" ingested="" ready answered answer
  if [ "${COLD:-0}" = 1 ]; then
    export UV_CACHE_DIR="$work/uv-cache-$label" PIP_CACHE_DIR="$work/pip-cache-$label"
  fi
  t0=$(now)
  git clone -q "$repo" "$dir"
  # setsid makes make the leader of a new process group, so the server under it can be stopped.
  setsid make -C "$dir" run UV="$uv" PORT="$port" >"$dir.log" 2>&1 &
  pgid=$!
  for _ in $(seq 1 6000); do
    if [ -z "$installed" ] && [ -e "$dir/.venv/.installed" ]; then installed=$(echo "$(now) - $t0" | bc); fi
    if [ -z "$ingested" ] && grep -q '^index: ' "$dir.log"; then ingested=$(echo "$(now) - $t0" | bc); fi
    if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$pgid" 2>/dev/null; then echo "make run exited:"; tail -20 "$dir.log"; exit 1; fi
    sleep 0.2
  done
  ready=$(echo "$(now) - $t0" | bc)
  answer=$(curl -sf "http://127.0.0.1:$port/api/ask" -H 'content-type: application/json' \
    -d '{"question":"战略性新兴产业用地的配套设施比例是多少？"}')
  answered=$(echo "$(now) - $t0" | bc)
  cited=$(echo "$answer" | python3 -c '
import json, sys
a = json.load(sys.stdin)
print("yes" if not a["abstained"] and "15%" in a["answer"] and any("15%" in c["quote"] for c in a["citations"]) else "NO")')
  kill -- -"$pgid" 2>/dev/null || true
  wait "$pgid" 2>/dev/null || true
  pgid=""
  printf '| %-22s | %7.1f | %7.1f | %7.1f | %7.1f | %-5s |\n' "$label" "$installed" "$ingested" "$ready" "$answered" "$cited"
  eval "total_$label=$answered"
}

echo "fresh clone -> make run (seconds from git clone; cold caches: ${COLD:-0}); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| run                    | install | indexed | /readyz | answered | cites 15% |"
echo "|---|---|---|---|---|---|"
measure pip 0
measure shipped 1
printf 'ratio shipped / pip (time to first answer): %.2f\n' "$(echo "$total_shipped / $total_pip" | bc -l)"
