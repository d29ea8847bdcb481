#!/bin/bash
# The gateway's numbers (issue 14, "Tests and numbers"; docs/dev/gateway.md "Numbers"): the
# stand-in engine at a fixed schedule reached three ways in one run: directly, through
# sparkctl's Gateway (bench/gateway_bench, a static Registry) and through Debian's nginx as a
# streaming reverse proxy. Streams: bench/interleaved_latency drives the paths in turns (at one
# stream request by request, at more streams in rounds, order rotated) and pools each path's
# samples, so the load of a shared machine falls on every path alike; the direct path is run
# twice (an A/A comparison: the resolution). Prints, at 1, 100 and 1000 concurrent streams, TTFT
# and chunk-gap p50/p99 per path, what each proxy adds with a 95% bootstrap interval, the
# proxies' on-CPU time per request and their time runnable but kept off their core by other
# tasks (schedstat: near 0 when the proxy has its core alone), and PASS/MISS against the goals
# (added p99 <= 1 ms at one stream, added TTFT p99 <= 2 ms at 100); then requests/s of short
# non-streaming requests (`sparkctl bench run`, gateway vs nginx) with the proxies' CPU time per
# request (/proc/PID/stat utime+stime), and the gateway's RSS with 1000 streams open. Nothing is
# asserted.
#
# Pinning (taskset): the proxy under test runs alone on PROXY_CPU (default 1); the stand-ins and
# the client share ENGINE_CPU (default 0). Only one proxy carries traffic at a time.
# Usage: bench/gateway_bench.sh [BUILD_DIR]   (default build/release, else build/ci; it needs
#        BUILD_DIR/sparkctl, BUILD_DIR/bench/gateway_bench and BUILD_DIR/bench/interleaved_latency:
#        SPARKCTL_BUILD_BENCHMARKS=ON)
# Environment: TIMING (fixed:TTFT_MS,ITL_MS at 100 and more streams, default fixed:50,10),
#              TIMING_1 (at one stream, default fixed:10,2), OUTPUT_TOKENS (default 16),
#              LEVELS (default "1 100 1000"), REQUESTS_1 (requests per path at one stream,
#              default 400), ROUNDS (rounds at more streams, default 8), PER_USER (requests per
#              user per path and round, default 1), OUT_DIR (keeps each level's JSON and
#              per-request samples there: streams-C.json, streams-C.tsv)
set -euo pipefail
dir=${1:-}
if [[ -z "$dir" ]]; then
    for d in build/release build/ci; do [[ -x $d/bench/gateway_bench ]] && dir=$d && break; done
fi
bin=$dir/sparkctl
harness=$dir/bench/gateway_bench
client=$dir/bench/interleaved_latency
[[ -x "$bin" && -x "$harness" && -x "$client" ]] || {
    echo "gateway_bench.sh: no $bin, $harness or $client" \
        "(configure with -DSPARKCTL_BUILD_BENCHMARKS=ON)" >&2
    exit 2
}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$nginx_bin" ]] || {
    echo "gateway_bench.sh: nginx is not installed (Debian: apt-get install nginx-light)" >&2
    exit 2
}
timing=${TIMING:-fixed:50,10}
timing_1=${TIMING_1:-fixed:10,2}
tokens=${OUTPUT_TOKENS:-16}
levels=${LEVELS:-1 100 1000}
requests_1=${REQUESTS_1:-400}
rounds=${ROUNDS:-8}
per_user=${PER_USER:-1}
engine_cpu=${ENGINE_CPU:-0}
proxy_cpu=${PROXY_CPU:-1}
# 1000 streams need about 3000 descriptors in the proxy (client side, upstream, spare).
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
pgids=()
cleanup() {
    for g in "${pgids[@]}"; do kill -- -"$g" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# Starts "$@" pinned to a core in its own process group; waits (30 s at most) for a line
# containing $2's marker on its output and prints the port that follows it.
started_port=
start_pinned() {
    local cpu=$1 marker=$2 log=$3
    shift 3
    setsid taskset -c "$cpu" "$@" >"$log" 2>&1 &
    local pid=$!
    pgids+=("$pid")
    started_pid=$pid
    for _ in $(seq 300); do
        if grep -q "$marker" "$log"; then
            started_port=$(grep -o "${marker}[0-9]*" "$log" | head -1)
            started_port=${started_port##*"$marker"}
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "gateway_bench.sh: '$*' did not start:" >&2
    cat "$log" >&2
    exit 1
}

standin() {  # NAME TIMING [EXTRA...]
    local name=$1 t=$2
    shift 2
    start_pinned "$engine_cpu" "ready on port " "$work/$name.log" "$bin" simulate serve --as vllm \
        --timing "$t" "$@" -- serve "$name" --port 0 --max-num-seqs 4096 \
        --no-enable-prefix-caching
}
standin stream-m "$timing"
stream_port=$started_port
standin one-m "$timing_1"
one_port=$started_port
standin fast-m fixed:0,0 --speed 0
fast_port=$started_port

start_pinned "$proxy_cpu" "gateway listening on port " "$work/gateway.log" "$harness" \
    "stream-m=$stream_port" "one-m=$one_port" "fast-m=$fast_port"
gateway_pid=$started_pid
gateway_port=$started_port

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nginx_stream=$(free_port)
nginx_one=$(free_port)
nginx_fast=$(free_port)
mkdir -p "$work/nginx/tmp"
chmod -R 0777 "$work/nginx"
# A streaming reverse proxy: HTTP/1.1 to keep-alive upstreams, responses passed on as they
# arrive (nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive,
# nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_buffering).
proxy_location() {
    cat <<EOF
        location / {
            proxy_pass http://$1;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 300s;
        }
EOF
}
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
worker_rlimit_nofile $(ulimit -Hn);
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    upstream stream_m { server 127.0.0.1:$stream_port; keepalive 1024; }
    upstream one_m { server 127.0.0.1:$one_port; keepalive 1024; }
    upstream fast_m { server 127.0.0.1:$fast_port; keepalive 1024; }
    server {
        listen 127.0.0.1:$nginx_stream;
$(proxy_location stream_m)
    }
    server {
        listen 127.0.0.1:$nginx_one;
$(proxy_location one_m)
    }
    server {
        listen 127.0.0.1:$nginx_fast;
$(proxy_location fast_m)
    }
}
EOF
setsid taskset -c "$proxy_cpu" "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" \
    -e "$work/nginx/error.log" >"$work/nginx/out.log" 2>&1 &
nginx_pid=$!
pgids+=("$nginx_pid")
for _ in $(seq 300); do
    curl -s -o /dev/null "http://127.0.0.1:$nginx_fast/health" && break
    sleep 0.1
done

# CPU seconds (utime + stime) of a process and its children processes (nginx's worker).
cpu_ticks() {
    local total=0 p
    for p in $1 $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        # Fields 14 and 15 of /proc/PID/stat (proc(5)), counted after the ")" of the name.
        total=$((total + $(sed 's/.*) //' /proc/"$p"/stat | awk '{print $12 + $13}')))
    done
    echo "$total"
}
rss_kib() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }

# bench run pinned to the engine core; writes its JSON and the proxy's CPU ticks used.
# Args: LABEL URL MODEL PROXY_PID(0: none) bench-run flags...
run() {
    local label=$1 url=$2 model=$3 pid=$4
    shift 4
    local before=0
    [[ $pid -ne 0 ]] && before=$(cpu_ticks "$pid")
    taskset -c "$engine_cpu" "$bin" bench run "$url" --model "$model" --warmup 1 --json "$@" \
        >"$work/$label.json" 2>"$work/$label.err" || true
    local after=0
    [[ $pid -ne 0 ]] && after=$(cpu_ticks "$pid")
    echo $((after - before)) >"$work/$label.ticks"
}

direct=http://127.0.0.1
echo "gateway_bench: stand-in --timing $timing_1 at one stream, $timing at more; $tokens output" \
    "tokens; stand-ins and client on CPU $engine_cpu, proxy on CPU $proxy_cpu; $(nproc) CPUs," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
rss_idle=$(rss_kib "$gateway_pid")
for c in $levels; do
    if [[ $c -eq 1 ]]; then
        model=one-m port=$one_port nport=$nginx_one
        shape=(--requests "$requests_1")
        echo "  1 stream: $requests_1 requests per path, request by request" >&2
    else
        model=stream-m port=$stream_port nport=$nginx_stream
        shape=(--requests $((c * per_user * rounds)) --rounds "$rounds")
        echo "  $c streams: $rounds rounds of $((c * per_user)) requests per path" >&2
    fi
    # The gateway's RSS, every 50 ms while the level runs (its peak is with $c streams open).
    (while :; do rss_kib "$gateway_pid"; sleep 0.05; done >"$work/streams-$c.rss") &
    sampler=$!
    taskset -c "$engine_cpu" "$client" --model "$model" --concurrency "$c" "${shape[@]}" \
        --prompt-tokens 4 --output-tokens "$tokens" --samples "$work/streams-$c.tsv" \
        "direct=$direct:$port" "direct-again=$direct:$port" \
        "gateway=$direct:$gateway_port@$gateway_pid" "nginx=$direct:$nport@$nginx_pid" \
        >"$work/streams-$c.json" 2>"$work/streams-$c.err" || cat "$work/streams-$c.err" >&2
    kill "$sampler"
    if [[ -n "${OUT_DIR:-}" ]]; then
        mkdir -p "$OUT_DIR"
        cp "$work/streams-$c.json" "$work/streams-$c.tsv" "$OUT_DIR"/ 2>/dev/null || true
    fi
done
for path in direct gateway nginx; do
    case $path in
    direct) url=$direct:$fast_port pid=0 ;;
    gateway) url=$direct:$gateway_port pid=$gateway_pid ;;
    nginx) url=$direct:$nginx_fast pid=$nginx_pid ;;
    esac
    echo "  $path, non-streaming, 64 users" >&2
    run "whole-$path" "$url" fast-m "$pid" --no-stream --concurrency 64 --requests 20000 \
        --prompt-tokens 4 --output-tokens 1
done

python3 - "$work" "$levels" "$(getconf CLK_TCK)" "$rss_idle" <<'PY'
import json, os, sys
work, levels, hz, rss_idle = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), int(sys.argv[4])
# Issue 14's goals for the added latency: p99 <= 1 ms at one stream (TTFT and chunk gap),
# TTFT p99 <= 2 ms at 100 streams.
GOALS = {"1": [("ttft_ms", 1.0), ("chunk_gap_ms", 1.0)], "100": [("ttft_ms", 2.0)]}
NAN = float("nan")

def load(label):
    try:
        return json.load(open(os.path.join(work, label + ".json")))
    except (OSError, ValueError):
        print(f"{label}: no result:", open(os.path.join(work, label + ".err")).read()[-400:])
        return None

def added(a):
    """'+0.12 [-0.30, +0.51]': the difference and its 95% interval."""
    return f"{a['value']:+.2f} [{a['low']:+.2f}, {a['high']:+.2f}]"

def verdict(a, goal, aa):
    """PASS or MISS when the interval is on one side of the goal and the A/A comparison (the
    same path against itself) differs by less than the goal; else UNRESOLVED."""
    if aa is not None and abs(aa["value"]) > goal:
        return "UNRESOLVED (the A/A comparison differs by more than the goal)"
    if a["high"] <= goal:
        return "PASS"
    if a["low"] > goal:
        return "MISS"
    return "UNRESOLVED (the interval spans the goal)"

print(f"{'streams':>7} {'path':<12} {'done':>5} {'err':>4} {'TTFT p50':>9} {'p99':>8} "
      f"{'gap p50':>8} {'p99':>8} {'CPU us/req':>10} {'wait us/req':>11}")
levels_done = []
for c in levels:
    d = load(f"streams-{c}")
    if d is None:
        continue
    levels_done.append((c, d))
    for p in d["paths"]:
        t, g = p["ttft_ms"] or {}, p["chunk_gap_ms"] or {}
        cpu, wait = p["proxy_cpu_us_per_request"], p["proxy_runqueue_wait_us_per_request"]
        cpu = "" if cpu is None else f"{cpu:.1f}"
        wait = "" if wait is None else f"{wait:.1f}"
        print(f"{c:>7} {p['name']:<12} {p['completed']:>5} {p['errors']:>4} "
              f"{t.get('p50', NAN):>9.2f} {t.get('p99', NAN):>8.2f} "
              f"{g.get('p50', NAN):>8.2f} {g.get('p99', NAN):>8.2f} {cpu:>10} {wait:>11}")
        for e in p["error_samples"]:
            print("          error:", e)
print("\nAdded to the direct path, ms, with its 95% bootstrap interval (direct-again: the A/A "
      "comparison, the resolution)")
print(f"{'streams':>7} {'path':<12} {'+TTFT p50':>22} {'+TTFT p99':>22} {'+gap p50':>22} "
      f"{'+gap p99':>22}")
for c, d in levels_done:
    for name, a in d["added"].items():
        if a is None:
            print(f"{c:>7} {name:<12} no samples")
            continue
        cols = [added(a[m][q]) if a[m] else "-" for m in ("ttft_ms", "chunk_gap_ms")
                for q in ("p50", "p99")]
        print(f"{c:>7} {name:<12} " + " ".join(f"{x:>22}" for x in cols))
for c, d in levels_done:
    for metric, goal in GOALS.get(c, []):
        aa = d["added"].get("direct-again")
        aa = aa[metric]["p99"] if aa and aa[metric] else None
        res = f"A/A {added(aa)}" if aa else "no A/A"
        waits = {p["name"]: p["proxy_runqueue_wait_us_per_request"] for p in d["paths"]}
        for name in ("gateway", "nginx"):
            a = d["added"].get(name)
            if not a or not a[metric]:
                continue
            wait = "" if waits.get(name) is None else f"; waited {waits[name]:.0f} us/request"
            print(f"goal at {c} stream(s), added {metric[:-3]} p99 <= {goal:g} ms: {name:<7} "
                  f"{added(a[metric]['p99'])} {verdict(a[metric]['p99'], goal, aa)} "
                  f"({res}{wait})")
    rss = os.path.join(work, f"streams-{c}.rss")
    if c == "1000" and os.path.exists(rss):
        peak = max(int(x) for x in open(rss).read().split() or ["0"])
        print(f"gateway RSS: {rss_idle} KiB idle, {peak} KiB peak with 1000 streams open "
              f"({(peak - rss_idle) / 1000:.1f} KiB per stream)")
print()

def whole_load(label):
    d = load(label)
    if d is not None:
        d["_ticks"] = int(open(os.path.join(work, label + ".ticks")).read())
    return d

whole = {p: whole_load(f"whole-{p}") for p in ("direct", "gateway", "nginx")}
for p, d in whole.items():
    if d is None:
        continue
    cpu = ""
    if p != "direct":
        cpu = f"  proxy CPU {1e6 * d['_ticks'] / hz / max(d['completed'], 1):.1f} us/request"
    print(f"non-streaming, 64 users, {p:<8} {d['requests_per_s']:>9.0f} requests/s  "
          f"completed {d['completed']} errors {d['errors']}{cpu}")
if whole["gateway"] and whole["nginx"]:
    ratio = whole["gateway"]["requests_per_s"] / whole["nginx"]["requests_per_s"]
    print(f"gateway / nginx throughput: {100 * ratio:.0f}% (goal >= 90%)")
PY
