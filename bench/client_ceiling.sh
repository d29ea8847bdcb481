#!/bin/bash
# The client's ceiling (issue 15, "Numbers"): `sparkctl bench run` against the stand-in at
# --speed 0 (no simulated delay), client and server pinned to different cores with taskset.
# Prints non-streaming requests/s, SSE events/s and the client's CPU time per request, and
# `wrk` against the same endpoint when it is installed. Numbers are printed, never asserted.
# Usage: bench/client_ceiling.sh [SPARKCTL] (default build/release/sparkctl, else build/ci)
set -euo pipefail
bin=${1:-}
if [[ -z "$bin" ]]; then
    for b in build/release/sparkctl build/ci/sparkctl; do [[ -x $b ]] && bin=$b && break; done
fi
[[ -x "$bin" ]] || { echo "client_ceiling.sh: no sparkctl binary (give its path)" >&2; exit 2; }
server_cpu=${SERVER_CPU:-1}
client_cpu=${CLIENT_CPU:-0}
work=$(mktemp -d)
trap 'kill -- -"$spid" 2>/dev/null || true; rm -rf "$work"' EXIT

# The stand-in in its own process group; its port from the ready line on its stderr.
exec 3< <(exec setsid taskset -c "$server_cpu" "$bin" simulate serve --as vllm --timing fixed:0,0 \
    --speed 0 -- serve ceiling-model --port 0 --max-num-seqs 4096 --no-enable-prefix-caching \
    2>&1 >/dev/null)
spid=$!
port=
while IFS= read -r -t 30 line <&3; do
    if [[ $line == *"ready on port "* ]]; then
        port=${line##*ready on port }
        port=${port%% *}
        break
    fi
done
[[ -n "$port" ]] || { echo "client_ceiling.sh: the stand-in did not start" >&2; exit 1; }
cat <&3 >/dev/null &
url=http://127.0.0.1:$port

# Runs bench pinned to the client core; prints one summary line from its JSON and CPU time.
run() {
    local label=$1 unit=$2
    shift 2
    /usr/bin/time -f "%U %S" -o "$work/time" taskset -c "$client_cpu" "$bin" bench run "$url" \
        --model ceiling-model --warmup 0 --json "$@" >"$work/out.json" 2>"$work/err" || true
    python3 - "$work/out.json" "$work/time" "$label" "$unit" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
user, sys_s = map(float, open(sys.argv[2]).read().split()[-2:])
cpu = user + sys_s
n = d["completed"]
rate = d["requests_per_s"] if sys.argv[4] == "requests" else d["output_tokens"] / d["duration_s"]
for e in d.get("error_samples", []):
    print("  error:", e)
per = (f"{1e6 * cpu / max(d['output_tokens'], 1):.2f} us/event" if sys.argv[4] == "events"
       else f"{1e6 * cpu / max(n, 1):.1f} us/request")
print(f"{sys.argv[3]:<34} {rate:>12,.0f} {sys.argv[4]}/s  completed {n:>6}  errors {d['errors']}"
      f"  client CPU {cpu:.2f} s = {per} (whole process)")
PY
}

echo "sparkctl bench against the stand-in at --speed 0 ($bin; client on CPU $client_cpu, server on CPU $server_cpu)"
run "non-streaming, 64 users" requests --no-stream --concurrency 64 --requests 20000 \
    --prompt-tokens 4 --output-tokens 1
run "streaming, 32 users x 256 tokens" events --concurrency 32 --requests 400 \
    --prompt-tokens 4 --output-tokens 256

if command -v wrk >/dev/null; then
    cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model": "ceiling-model", "prompt": "a b c d", "max_tokens": 1, "stream": false}'
LUA
    echo "wrk, same endpoint, non-streaming, 64 connections, 1 thread on CPU $client_cpu:"
    taskset -c "$client_cpu" wrk -t1 -c64 -d5s -s "$work/post.lua" "$url/v1/completions" |
        grep -E "Requests/sec|Latency|requests in"
else
    echo "wrk is not installed: no side-by-side figure"
fi
