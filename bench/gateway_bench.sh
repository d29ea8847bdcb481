#!/bin/bash
# The gateway's numbers (issue 14, "Tests and numbers"; docs/dev/gateway.md "Numbers"): the
# stand-in engine at a fixed schedule reached three ways in one run: directly, through
# sparkctl's Gateway (bench/gateway_bench, a static Registry) and through Debian's nginx as a
# streaming reverse proxy. The client is `sparkctl bench run`. Prints, at 1, 100 and 1000
# concurrent streams, TTFT and chunk-gap p50/p99 per path and what each proxy adds; requests/s of
# short non-streaming requests (gateway vs nginx); the proxies' CPU time per request
# (/proc/PID/stat utime+stime); the gateway's RSS with 1000 streams open. Nothing is asserted.
#
# Pinning (taskset): the stand-ins and the client share ENGINE_CPU (default 0), the proxy under
# test runs alone on PROXY_CPU (default 1).
# Usage: bench/gateway_bench.sh [BUILD_DIR]   (default build/release, else build/ci; it needs
#        BUILD_DIR/sparkctl and BUILD_DIR/bench/gateway_bench: SPARKCTL_BUILD_BENCHMARKS=ON)
# Environment: TIMING (fixed:TTFT_MS,ITL_MS, default fixed:50,10), OUTPUT_TOKENS (default 16),
#              LEVELS (default "1 100 1000"), ROUNDS (requests per user, default 5; 50 at 1 user)
set -euo pipefail
dir=${1:-}
if [[ -z "$dir" ]]; then
    for d in build/release build/ci; do [[ -x $d/bench/gateway_bench ]] && dir=$d && break; done
fi
bin=$dir/sparkctl
harness=$dir/bench/gateway_bench
[[ -x "$bin" && -x "$harness" ]] || {
    echo "gateway_bench.sh: no $bin or $harness (configure with -DSPARKCTL_BUILD_BENCHMARKS=ON)" >&2
    exit 2
}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x "$nginx_bin" ]] || {
    echo "gateway_bench.sh: nginx is not installed (Debian: apt-get install nginx-light)" >&2
    exit 2
}
timing=${TIMING:-fixed:50,10}
tokens=${OUTPUT_TOKENS:-16}
levels=${LEVELS:-1 100 1000}
rounds=${ROUNDS:-5}
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
            started_port=$(grep -o "$marker[0-9]*" "$log" | head -1)
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
standin fast-m fixed:0,0 --speed 0
fast_port=$started_port

start_pinned "$proxy_cpu" "gateway listening on port " "$work/gateway.log" "$harness" \
    "stream-m=$stream_port" "fast-m=$fast_port"
gateway_pid=$started_pid
gateway_port=$started_port

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nginx_stream=$(free_port)
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
    upstream fast_m { server 127.0.0.1:$fast_port; keepalive 1024; }
    server {
        listen 127.0.0.1:$nginx_stream;
$(proxy_location stream_m)
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
    local sampler=
    if [[ $pid -eq $gateway_pid ]]; then
        (while :; do rss_kib "$pid"; sleep 0.05; done >"$work/$label.rss") &
        sampler=$!
    fi
    taskset -c "$engine_cpu" "$bin" bench run "$url" --model "$model" --warmup 1 --json "$@" \
        >"$work/$label.json" 2>"$work/$label.err" || true
    [[ -n "$sampler" ]] && kill "$sampler"
    local after=0
    [[ $pid -ne 0 ]] && after=$(cpu_ticks "$pid")
    echo $((after - before)) >"$work/$label.ticks"
}

direct=http://127.0.0.1
echo "gateway_bench: stand-in --timing $timing, $tokens output tokens; stand-ins and client on" \
    "CPU $engine_cpu, proxy on CPU $proxy_cpu; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
rss_idle=$(rss_kib "$gateway_pid")
for c in $levels; do
    n=$((c * rounds))
    [[ $c -eq 1 ]] && n=50
    for path in direct gateway nginx; do
        case $path in
        direct) url=$direct:$stream_port pid=0 ;;
        gateway) url=$direct:$gateway_port pid=$gateway_pid ;;
        nginx) url=$direct:$nginx_stream pid=$nginx_pid ;;
        esac
        echo "  $path, $c streams, $n requests" >&2
        run "stream-$path-$c" "$url" stream-m "$pid" --concurrency "$c" --requests "$n" \
            --prompt-tokens 4 --output-tokens "$tokens"
    done
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

def load(label):
    try:
        d = json.load(open(os.path.join(work, label + ".json")))
    except (OSError, ValueError):
        print(f"{label}: no result:", open(os.path.join(work, label + ".err")).read()[-400:])
        return None
    d["_ticks"] = int(open(os.path.join(work, label + ".ticks")).read())
    return d

def cpu_us(d):
    return 1e6 * d["_ticks"] / hz / max(d["completed"], 1)

print(f"{'streams':>7} {'path':<8} {'done':>5} {'err':>4} {'TTFT p50':>9} {'p99':>8} "
      f"{'gap p50':>8} {'p99':>8} {'+TTFT p50':>9} {'p99':>7} {'+gap p50':>8} {'p99':>7} "
      f"{'CPU us/req':>10}")
for c in levels:
    base = load(f"stream-direct-{c}")
    for path in ("direct", "gateway", "nginx"):
        d = base if path == "direct" else load(f"stream-{path}-{c}")
        if d is None:
            continue
        t, g = d["ttft_ms"], d["chunk_gap_ms"]
        row = (f"{c:>7} {path:<8} {d['completed']:>5} {d['errors']:>4} {t['p50']:>9.2f} "
               f"{t['p99']:>8.2f} {g['p50']:>8.2f} {g['p99']:>8.2f}")
        if path != "direct" and base is not None:
            bt, bg = base["ttft_ms"], base["chunk_gap_ms"]
            row += (f" {t['p50'] - bt['p50']:>9.2f} {t['p99'] - bt['p99']:>7.2f} "
                    f"{g['p50'] - bg['p50']:>8.2f} {g['p99'] - bg['p99']:>7.2f} {cpu_us(d):>10.1f}")
        print(row)
        for e in d.get("error_samples", [])[:3]:
            print("          error:", e)
    rss = os.path.join(work, f"stream-gateway-{c}.rss")
    if c == "1000" and os.path.exists(rss):
        peak = max(int(x) for x in open(rss).read().split() or ["0"])
        print(f"gateway RSS: {rss_idle} KiB idle, {peak} KiB peak with 1000 streams open "
              f"({(peak - rss_idle) / 1000:.1f} KiB per stream)")
print()
whole = {p: load(f"whole-{p}") for p in ("direct", "gateway", "nginx")}
for p, d in whole.items():
    if d is None:
        continue
    cpu = "" if p == "direct" else f"  proxy CPU {cpu_us(d):.1f} us/request"
    print(f"non-streaming, 64 users, {p:<8} {d['requests_per_s']:>9.0f} requests/s  "
          f"completed {d['completed']} errors {d['errors']}{cpu}")
if whole["gateway"] and whole["nginx"]:
    ratio = whole["gateway"]["requests_per_s"] / whole["nginx"]["requests_per_s"]
    print(f"gateway / nginx throughput: {100 * ratio:.0f}% (goal >= 90%)")
PY
