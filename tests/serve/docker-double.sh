#!/bin/bash
# A test double of the docker CLI for serve's container deployments: the real client needs a
# docker daemon (and a GPU for --gpus all), which test machines lack. It appends each call's
# argv to $DOCKER_DOUBLE_DIR/calls (one call a line, arguments tab-separated) and implements the
# calls serve makes (serve/container.h) on state under $DOCKER_DOUBLE_DIR/c/ID/:
#   run -d [options] IMAGE ARGV  the engine's ARGV (after its executable) on the stand-in engine,
#                                `$DOCKER_DOUBLE_SPARKCTL simulate serve --as ENGINE
#                                $DOCKER_DOUBLE_STANDIN_ARGS -- ARGV`, in its own session, with
#                                --host moved to 127.0.0.1 (what -p 127.0.0.1:P:P publishes)
#   logs -f [--tail 0] ID        the container's output until it exits
#   stop -t N ID                 SIGTERM, SIGKILL after N seconds
#   rm -f ID                     SIGKILL, then forgotten
#   inspect --format ... ID      "{{.State.Running}} {{.State.ExitCode}}" only
#   ps -a -q --no-trunc --filter label=K=V
set -u
dir=${DOCKER_DOUBLE_DIR:?DOCKER_DOUBLE_DIR is not set}
mkdir -p "$dir/c"
(IFS=$'\t'; printf '%s\n' "$*") >> "$dir/calls"
cmd=${1:-}
shift

# Whether the container's process (its session leader) is alive: not gone, not a zombie.
alive() {
    local pid state
    pid=$(cat "$dir/c/$1/pid" 2>/dev/null) || return 1
    state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}
known() {
    [ -d "$dir/c/$1" ] || { echo "Error: No such container: $1" >&2; exit 1; }
}

case $cmd in
run)
    labels=()
    while [ $# -gt 0 ]; do
        case $1 in
            -d | --rm | --ipc=host) shift ;;
            --label) labels+=("$2"); shift 2 ;;
            --name | --gpus | --shm-size | -p | -v | -e) shift 2 ;;
            -*) echo "docker-double: unknown option $1" >&2; exit 125 ;;
            *) shift; break ;;  # the image
        esac
    done
    exe=${1:-}
    shift
    case $exe in
        vllm) engine=vllm ;;
        python3 | python) engine=sglang ;;
        *llama-server) engine=llama.cpp ;;
        *) echo "docker-double: no engine runs '$exe'" >&2; exit 125 ;;
    esac
    args=()
    prev=""
    for a in "$@"; do
        [ "$prev" = "--host" ] && a=127.0.0.1
        args+=("$a")
        prev=$a
    done
    id=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    mkdir -p "$dir/c/$id"
    printf '%s\n' "${labels[@]}" > "$dir/c/$id/labels"
    # The container: a shell that keeps the engine's exit code, in a session of its own.
    # shellcheck disable=SC2016,SC2086  # the inner script expands its own $@; ARGS split
    setsid bash -c '"$@" > "$0/log" 2>&1 & echo $! > "$0/child"; wait $!; echo $? > "$0/exit"' \
        "$dir/c/$id" "${DOCKER_DOUBLE_SPARKCTL:?}" simulate serve --as "$engine" \
        ${DOCKER_DOUBLE_STANDIN_ARGS:-} -- "${args[@]}" < /dev/null > /dev/null 2>&1 &
    echo $! > "$dir/c/$id/pid"
    echo "$id"
    ;;
logs)
    lines=+1
    while [ $# -gt 1 ]; do
        case $1 in
            --tail) [ "$2" = 0 ] && lines=0; shift 2 ;;
            *) shift ;;
        esac
    done
    id=$1
    known "$id"
    touch "$dir/c/$id/log"
    tail -n "$lines" -f "$dir/c/$id/log" &
    follower=$!
    while alive "$id"; do sleep 0.2; done
    sleep 0.3  # the last lines
    kill "$follower"
    ;;
stop)
    grace=10
    if [ "$1" = -t ]; then grace=$2; shift 2; fi
    id=$1
    known "$id"
    if alive "$id"; then
        kill -TERM "$(cat "$dir/c/$id/child")" 2>/dev/null
        end=$((SECONDS + grace))
        while alive "$id" && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
        alive "$id" && kill -KILL -- "-$(cat "$dir/c/$id/pid")" 2>/dev/null
    fi
    echo "$id"
    ;;
rm)
    [ "$1" = -f ] && shift
    id=$1
    known "$id"
    alive "$id" && kill -KILL -- "-$(cat "$dir/c/$id/pid")" 2>/dev/null
    rm -rf "${dir:?}/c/$id"
    echo "$id"
    ;;
inspect)
    id=${!#}
    known "$id"
    if alive "$id"; then
        echo "true 0"
    else
        echo "false $(cat "$dir/c/$id/exit" 2>/dev/null || echo 137)"
    fi
    ;;
ps)
    filter=""
    while [ $# -gt 0 ]; do
        case $1 in
            --filter) filter=${2#label=}; shift 2 ;;
            *) shift ;;
        esac
    done
    for c in "$dir"/c/*/; do
        [ -d "$c" ] || continue
        if [ -z "$filter" ] || grep -qxF "$filter" "$c/labels"; then basename "$c"; fi
    done
    ;;
*)
    echo "docker-double: unsupported command '$cmd'" >&2
    exit 125
    ;;
esac
