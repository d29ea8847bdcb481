#!/bin/bash
# Swaps under alternating demand (issue 14, "queued requests are collated by model so
# alternating clients do not thrash swaps"; docs/dev/serve.md "Swaps under alternating demand"):
# `sparkctl serve --simulate --listen` with two 70B deployments that cannot both be resident (the
# stand-in engine, `--timing fixed:5,1`), two curl clients at the same time, one per model, each
# sending REQUESTS chat requests one after the other, PACE_S apart. Prints, per
# swap_min_resident_s value: the requests answered 200, the loads and their seconds (from
# /metrics), the slowest request and the wall time. Nothing is asserted.
# Usage: bench/swap_bench.sh [SPARKCTL]   (default build/release/sparkctl, else build/ci/sparkctl)
# Environment: QUANTA (default "auto 1 0"), REQUESTS (per client, default 8), PACE_S (default
#              0.15), QUEUE_TIMEOUT_S (default 60).
set -euo pipefail
bin=${1:-}
if [[ -z "$bin" ]]; then
    for b in build/release/sparkctl build/ci/sparkctl; do [[ -x $b ]] && bin=$b && break; done
fi
[[ -x "$bin" ]] || { echo "swap_bench.sh: no sparkctl binary (give its path)" >&2; exit 2; }
command -v curl >/dev/null || { echo "swap_bench.sh: needs curl" >&2; exit 2; }
requests=${REQUESTS:-8}
pace=${PACE_S:-0.15}

home=$(mktemp -d /tmp/swap_bench.XXXXXX)
serve_pid=
# serve stops its engines (each in its own process group) on SIGTERM.
stop_serve() {
    if [[ -n "$serve_pid" ]]; then
        kill -TERM "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" || true
        serve_pid=
    fi
}
cleanup() {
    stop_serve
    rm -rf "$home"
}
trap cleanup EXIT
mkdir -p "$home/.config/sparkctl" "$home/run"
cat >"$home/.config/sparkctl/config.toml" <<'TOML'
[[models]]
id = "big-a"
model = "llama-3.1-70b"
engine = "llama.cpp"
quant = "Q8_0"
simulate_args = ["--timing", "fixed:5,1"]

[[models]]
id = "big-b"
model = "llama-3.3-70b"
engine = "llama.cpp"
quant = "Q6_K"
simulate_args = ["--timing", "fixed:5,1"]
TOML
export HOME=$home XDG_CONFIG_HOME=$home/.config XDG_DATA_HOME=$home/.local/share
export XDG_STATE_HOME=$home/.local/state XDG_CACHE_HOME=$home/.cache XDG_RUNTIME_DIR=$home/run
export SPARKCTL_QUEUE_TIMEOUT_S=${QUEUE_TIMEOUT_S:-60}
unset SPARKCTL_CONFIG SPARKCTL_DATA_DIR SPARKCTL_HARDWARE SPARKCTL_MEMINFO

# One client: REQUESTS requests for model $1, one line "STATUS SECONDS" each.
client() {
    for ((i = 0; i < requests; ++i)); do
        curl -s --max-time 120 -o /dev/null -w '%{http_code} %{time_total}\n' \
            -H 'Content-Type: application/json' \
            -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}" \
            "http://127.0.0.1:$port/v1/chat/completions" || echo "000 0"
        sleep "$pace"  # the client's pace between requests
    done
}

printf '%-6s %8s %6s %8s %13s %7s\n' quantum 200s loads load_s slowest_req_s wall_s
for quantum in ${QUANTA:-auto 1 0}; do
    rm -rf "$home/.local" "$home/run"/* "$home/serve.err"
    SPARKCTL_SWAP_MIN_RESIDENT_S=$quantum "$bin" --log-level info serve \
        --hardware dgx-spark --simulate --listen 127.0.0.1:0 2>"$home/serve.err" &
    serve_pid=$!
    port=
    for ((i = 0; i < 200; ++i)); do  # up to 20 s for the listening line
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$home/serve.err")
        [[ -n "$port" ]] && break
        sleep 0.1
    done
    [[ -n "$port" ]] || { echo "swap_bench.sh: serve did not start:" >&2; cat "$home/serve.err" >&2; exit 1; }
    start=$(date +%s.%N)
    client big-a >"$home/a.txt" &
    a=$!
    client big-b >"$home/b.txt" &
    b=$!
    wait "$a" "$b"
    end=$(date +%s.%N)
    metrics=$(curl -s --max-time 10 "http://127.0.0.1:$port/metrics")
    loads=$(awk '/^sparkctl_loads_total/ {s += $2} END {print s + 0}' <<<"$metrics")
    load_s=$(awk '/^sparkctl_load_seconds_total/ {s += $2} END {printf "%.2f", s}' <<<"$metrics")
    ok=$(cat "$home/a.txt" "$home/b.txt" | grep -c '^200 ' || true)
    slowest=$(cat "$home/a.txt" "$home/b.txt" | awk '$2 > m {m = $2} END {printf "%.2f", m}')
    wall=$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.1f", e - s}')
    printf '%-6s %4s/%-3s %6s %8s %13s %7s\n' "$quantum" "$ok" $((2 * requests)) "$loads" \
        "$load_s" "$slowest" "$wall"
    stop_serve
done
