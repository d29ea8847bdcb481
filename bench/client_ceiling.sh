#!/bin/bash
# The client's ceiling (issue 15, "Numbers"): `sparkctl bench run` against the stand-in at
# --speed 0 (no simulated delay), client and server pinned to different cores with taskset.
# Prints non-streaming requests/s and SSE events/s, the CPU time per request or event of the
# client and of the stand-in (whichever is near 100% of the run bound it), the events per
# receive call when `perf` can count system calls, and `wrk` against the same endpoint when it
# is installed. Numbers are printed, never asserted.
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

# The stand-in's CPU time so far, in clock ticks (its session: setsid made it the leader).
server_ticks() {
    local t=0 p
    for p in $(pgrep -s "$spid"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
hz=$(getconf CLK_TCK)
# Receive calls counted by perf's syscall tracepoints, when this kernel and user allow it.
perf_events=
if command -v perf >/dev/null &&
    perf stat -e syscalls:sys_enter_recvfrom true >/dev/null 2>&1; then
    perf_events=syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg
fi

# Runs bench pinned to the client core; prints one summary line from its JSON and CPU times.
run() {
    local label=$1 unit=$2
    shift 2
    local prof=()
    [[ -n $perf_events ]] && prof=(perf stat -x "," -o "$work/perf" -e "$perf_events" --)
    local before
    before=$(server_ticks)
    /usr/bin/time -f "%e %U %S" -o "$work/time" taskset -c "$client_cpu" "${prof[@]}" "$bin" \
        bench run "$url" --model ceiling-model --warmup 0 --json "$@" >"$work/out.json" \
        2>"$work/err" || true
    echo $(($(server_ticks) - before)) >"$work/server"
    [[ -n $perf_events ]] || : >"$work/perf"
    python3 - "$work" "$label" "$unit" "$hz" <<'PY'
import json, sys
work, label, unit, hz = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
d = json.load(open(f"{work}/out.json"))
wall, user, sys_s = map(float, open(f"{work}/time").read().split()[-3:])
cpu = user + sys_s
server = int(open(f"{work}/server").read()) / hz
recvs = sum(int(line.split(",")[0]) for line in open(f"{work}/perf")
            if line.count(",") > 2 and line.split(",")[0].isdigit())
n = d["completed"]
for e in d.get("error_samples", []):
    print("  error:", e)
if unit == "events":
    count, rate = d["output_tokens"], d["output_tokens"] / d["duration_s"]
else:
    count, rate = n, d["requests_per_s"]
count = max(count, 1)
unit1 = unit[:-1]
print(f"{label:<34} {rate:>10,.0f} {unit}/s  completed {n:>6}  errors {d['errors']}")
print(f"{'':<4}client CPU {1e6 * cpu / count:6.2f} us/{unit1} ({cpu:.2f} s, {100 * cpu / wall:3.0f}%"
      f" of the run's {wall:.2f} s, whole process)  stand-in CPU {1e6 * server / count:6.2f}"
      f" us/{unit1} ({server:.2f} s, {100 * server / wall:3.0f}%)")
if recvs:
    print(f"{'':<4}client receive calls (recvfrom, recvmsg): {recvs:,},"
          f" {count / recvs:.1f} {unit} per call")
PY
}

echo "sparkctl bench against the stand-in at --speed 0 ($bin; client on CPU $client_cpu, server on CPU $server_cpu)"
run "non-streaming, 64 users" requests --no-stream --concurrency 64 --requests 20000 \
    --prompt-tokens 4 --output-tokens 1
run "streaming, 32 users x 256 tokens" events --concurrency 32 --requests 2000 \
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
