#!/bin/bash
# Wall-clock agreement with the stand-in (issue 15, "Numbers": "wall-clock agreement within 5% is
# a printed benchmark"): `sparkctl bench run` against `sparkctl simulate serve` at --speed 1, at
# 1, 8 and 64 users, comparing what the client measured (TTFT, ITL: mean, p50, p99) with what the
# stand-in scheduled (its X-Sparkctl-Scheduled-Ttft-Ms / -Itl-Ms headers, which bench summarizes
# as `scheduled.ttft_ms` / `scheduled.itl_ms`). Two stand-ins: fixed timing, then the step-cost
# model of a catalog model. The relative error and PASS/MISS against 5% are printed, never
# asserted. Client and stand-in are pinned to different cores with taskset.
# Usage: bench/standin_agreement.sh [SPARKCTL] (default build/release/sparkctl, else build/ci)
# Environment: TTFT_MS, ITL_MS (the fixed schedule, default 200 and 25), OUTPUT_TOKENS (32),
# PROMPT_TOKENS (128), MODEL (the model-timed stand-in's catalog id, default llama-3.1-8b),
# SERVER_CPU (1), CLIENT_CPU (0).
set -euo pipefail
bin=${1:-}
if [[ -z "$bin" ]]; then
    for b in build/release/sparkctl build/ci/sparkctl; do [[ -x $b ]] && bin=$b && break; done
fi
[[ -x "$bin" ]] || { echo "standin_agreement.sh: no sparkctl binary (give its path)" >&2; exit 2; }
ttft_ms=${TTFT_MS:-200}
itl_ms=${ITL_MS:-25}
output_tokens=${OUTPUT_TOKENS:-32}
prompt_tokens=${PROMPT_TOKENS:-128}
model=${MODEL:-llama-3.1-8b}
server_cpu=${SERVER_CPU:-1}
client_cpu=${CLIENT_CPU:-0}
work=$(mktemp -d)
spid=
stop() {
    if [[ -n "$spid" ]]; then kill -- -"$spid" 2>/dev/null || true; fi
    spid=
}
trap 'stop; rm -rf "$work"' EXIT

# Starts a stand-in in its own process group, pinned; sets url from the ready line on stderr.
start() {
    exec 3< <(exec setsid taskset -c "$server_cpu" "$bin" simulate serve --as vllm --speed 1 "$@" \
        2>&1 >/dev/null)
    spid=$!
    local line port=
    while IFS= read -r -t 60 line <&3; do
        if [[ $line == *"ready on port "* ]]; then
            port=${line##*ready on port }
            port=${port%% *}
            break
        fi
    done
    [[ -n "$port" ]] || { echo "standin_agreement.sh: the stand-in did not start" >&2; exit 1; }
    cat <&3 >/dev/null &
    url=http://127.0.0.1:$port
}

# One point: bench pinned to the client core; prints TTFT and ITL, scheduled and measured.
point() {
    local users=$1 requests=$2
    taskset -c "$client_cpu" "$bin" bench run "$url" --model "$served" --concurrency "$users" \
        --requests "$requests" --prompt-tokens "$prompt_tokens" --output-tokens "$output_tokens" \
        --request-timeout 120 --data-dir "$work/data" --json >"$work/out.json" 2>"$work/err" ||
        true
    python3 - "$work/out.json" "$users" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:
    print(f"  c{sys.argv[2]}: no JSON from bench run"); sys.exit(0)
for e in d.get("error_samples", []):
    print("  error:", e)
sched = d.get("scheduled") or {}
for metric in ("ttft_ms", "itl_ms"):
    m, s = d.get(metric), sched.get(metric)
    if not m or not s:
        print(f"  c{sys.argv[2]:<3} {metric}: not measured"); continue
    cells, worst = [], 0.0
    for k in ("mean", "p50", "p99"):
        err = (m[k] - s[k]) / s[k] if s[k] else float("inf")
        worst = max(worst, abs(err))
        cells.append(f"{k} {s[k]:8.2f} -> {m[k]:8.2f} ({100 * err:+6.2f}%)")
    verdict = "PASS" if worst <= 0.05 else "MISS"
    print(f"  c{sys.argv[2]:<3} {metric:<7} " + "  ".join(cells) + f"  {verdict}")
print(f"  c{sys.argv[2]:<3} completed {d['completed']}, errors {d['errors']}, "
      f"{d['output_tokens_per_s']:.0f} output tok/s")
PY
}

sweep() {
    point 1 4
    point 8 16
    point 64 128
}

echo "stand-in agreement: scheduled -> measured (relative error), PASS within 5% ($bin;" \
    "client on CPU $client_cpu, stand-in on CPU $server_cpu)"
uptime
echo "fixed timing: TTFT $ttft_ms ms, ITL $itl_ms ms; $prompt_tokens prompt, $output_tokens output tokens"
served=agreement-model
start --timing "fixed:$ttft_ms,$itl_ms" -- serve "$served" --port 0 --max-num-seqs 256 \
    --no-enable-prefix-caching
sweep
stop
echo "model timing: $model (fit's step costs), $prompt_tokens prompt, $output_tokens output tokens"
served=$model
start -- serve "$model" --port 0 --max-model-len 8192 --max-num-seqs 256 \
    --no-enable-prefix-caching
sweep
stop
uptime
