#!/bin/sh
# rpd's on-pod guard: written by rpd beside the job's log and started by the
# launch wrapper, so that a job outlives the machine that started it without
# billing on forever. It only ever STOPS this pod (never deletes it: the
# volume keeps the log, the artifacts and the exit status):
#   - when the budget's deadline passes: the job is killed first and the exit
#     file says why ("<status> guard <reason>");
#   - after the job ended, when no rpd has renewed the heartbeat file for
#     GRACE seconds (rpd renews it while it is attached);
#   - before the job (WRAPPER_PID `-`: rpd sets the pod up), when no rpd
#     has renewed the heartbeat for GRACE seconds.
# It ends when rpd dismisses it, when a newer run's guard replaces it, or
# when its own files are gone. What it did is in "$0.log".
#
#   sh guard TAG WRAPPER_PID DEADLINE_SECS REASON GRACE_SECS BEAT_SECS POD_ID MODE
#   sh guard --probe MODE
# MODE is `api` (POST <url>/v2/pods/<id>/action with the pod's own
# RUNPOD_API_KEY; the URL is in "$0.target") or `command` (the simulator: the
# command in "$0.target" is run with the pod id as its argument).
set -u

# A variable of the pod's environment: this process's, else the container's
# (PID 1), else RunPod's /etc/rp_environment (which SSH sessions source).
pod_env() {
    eval "found=\${$1:-}"
    if [ -z "$found" ] && [ -r /proc/1/environ ]; then
        found=$({ tr '\000' '\n' < /proc/1/environ; } 2> /dev/null | sed -n "s/^$1=//p" | head -n 1)
    fi
    if [ -z "$found" ] && [ -r /etc/rp_environment ]; then
        found=$(sed -n "s/^\(export \)\{0,1\}$1=//p" /etc/rp_environment | head -n 1 |
            sed "s/^[\"']//; s/[\"']\$//")
    fi
    printf '%s' "$found"
}

http_tool() {
    for tool in curl wget python3; do
        if command -v "$tool" > /dev/null 2>&1; then
            echo "$tool"
            return 0
        fi
    done
    return 1
}

if [ "${1:-}" = --probe ]; then
    [ "${2:-}" = api ] || exit 0
    if ! http_tool > /dev/null; then
        echo "rpd: the on-pod guard needs curl, wget or python3 on the pod to stop it when rpd is gone, and the image has none of them: install one (in the image, or with a setup command)" >&2
        exit 97
    fi
    if [ -z "$(pod_env RUNPOD_API_KEY)" ]; then
        echo "rpd: the pod has no RUNPOD_API_KEY (looked in the environment, /proc/1/environ and /etc/rp_environment), so the on-pod guard could not stop it; RunPod gives every pod one" >&2
        exit 97
    fi
    exit 0
fi

tag=$1 wrapper_pid=$2 deadline_in=$3 reason=$4 grace=$5 beat=$6 expected_pod=$7 mode=$8
self=$0
log_path=${self%.rpd-guard}
exit_file="$log_path.rpd-exit-$tag"
heartbeat="$log_path.rpd-heartbeat"
dismissed="$log_path.rpd-dismissed-$tag"
stopped_by_guard="$log_path.rpd-guard-stop-$tag"
target=$(cat "$self.target" 2>/dev/null || true)
echo $$ > "$self.pid"

say() {
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*" >> "$self.log"
}

# The HTTP status of a stop request for pod $1 with key $2 (000 when none came).
stop_request() {
    url="$target/v2/pods/$1/action"
    body='{"action":"stop"}'
    case $(http_tool) in
        curl)
            # The key goes through stdin, never an argument (ps shows those).
            printf 'header = "Authorization: Bearer %s"\n' "$2" |
                curl -s -o /dev/null -w '%{http_code}' -K - -X POST --max-time 30 \
                    -H 'Content-Type: application/json' --data "$body" "$url"
            ;;
        wget)
            rc=$(mktemp)
            chmod 600 "$rc"
            printf 'header = Authorization: Bearer %s\n' "$2" > "$rc"
            WGETRC=$rc wget -q -S -O /dev/null -T 30 --header='Content-Type: application/json' \
                --post-data="$body" "$url" 2>&1 | awk '/^ *HTTP\//{code=$2} END{print code}'
            rm -f "$rc"
            ;;
        python3)
            RPD_GUARD_KEY=$2 python3 - "$url" << 'EOF'
import os, sys, urllib.error, urllib.request
request = urllib.request.Request(sys.argv[1], data=b'{"action":"stop"}', method="POST", headers={
    "Authorization": "Bearer " + os.environ["RPD_GUARD_KEY"], "Content-Type": "application/json"})
try:
    print(urllib.request.urlopen(request, timeout=30).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
            ;;
    esac
}

# Stops this pod, trying again (waits of 2 s doubling up to a minute) until
# the provider takes the request; then the guard's work is done.
stop_pod() {
    pod=$(pod_env RUNPOD_POD_ID)
    [ -n "$pod" ] || pod=$expected_pod
    say "stopping pod $pod: $1"
    # On the volume, for the rpd that resumes the pod: a stop by the guard,
    # not one made outside rpd.
    echo "$1" > "$stopped_by_guard"
    wait=2
    while [ -e "$self" ]; do
        if [ "$mode" = command ]; then
            if sh -c "$target \"\$1\"" sh "$pod" >> "$self.log" 2>&1; then
                say "the pod was stopped"
                exit 0
            fi
            say "the stop command failed; trying again in ${wait}s"
        else
            code=$(stop_request "$pod" "$(pod_env RUNPOD_API_KEY)")
            case $code in
                200 | 204)
                    say "the provider took the stop (HTTP $code)"
                    exit 0
                    ;;
                404 | 409)
                    say "the pod is not running (HTTP $code)"
                    exit 0
                    ;;
            esac
            say "the stop failed (HTTP ${code:-000}); trying again in ${wait}s"
        fi
        sleep "$wait"
        [ "$wait" -lt 60 ] && wait=$((wait * 2))
    done
    exit 0
}

# Whether process $1 runs (a zombie, which nobody may reap in a container
# whose PID 1 does not, has ended).
alive() {
    kill -0 "$1" 2> /dev/null || return 1
    case $(sed 's/.*) //' "/proc/$1/stat" 2> /dev/null | cut -c1) in
        Z) return 1 ;;
    esac
    return 0
}

# Kills the job (its wrapper's process group) and records why in the exit file.
kill_job() {
    kill -s TERM -- "-$wrapper_pid" 2> /dev/null || kill -s TERM "$wrapper_pid" 2> /dev/null
    for _ in 1 2 3 4 5; do
        alive "$wrapper_pid" || break
        sleep 1
    done
    kill -s KILL -- "-$wrapper_pid" 2> /dev/null
    if [ ! -e "$exit_file" ]; then
        echo "143 guard $1" > "$exit_file.tmp" && mv "$exit_file.tmp" "$exit_file"
    fi
    say "killed the job: $1"
}

number() {
    case $1 in '' | *[!0-9]*) echo 0 ;; *) echo "$1" ;; esac
}

started=$(date +%s)
deadline=$((started + deadline_in))
# At the deadline an attached rpd ends the job itself; it gets this long.
margin=60
ended_at=
unattended="no rpd collected the job's result within ${grace}s of its end"
if [ "$wrapper_pid" = - ]; then
    # No job yet: only the heartbeat counts, and rpd is renewing it all
    # along, so a few renewals that come late (a busy laptop, a slow link)
    # are no absence: it waits at least three beats and a little more.
    ended_at=$started
    [ "$grace" -lt $((3 * beat + 2)) ] && grace=$((3 * beat + 2))
    unattended="no rpd heartbeat for ${grace}s while rpd was setting the pod up"
    say "guarding pod ${expected_pod} before the job: the pod stops ${grace}s after rpd's heartbeat stops"
else
    say "guarding pod ${expected_pod}: the job may run ${deadline_in}s (${reason}); the pod stops ${grace}s after it ends unless rpd is attached"
fi
while :; do
    [ -e "$self" ] || exit 0
    [ "$(cat "$self.pid" 2> /dev/null)" = "$$" ] || exit 0
    if [ -e "$dismissed" ]; then
        say "dismissed by rpd"
        exit 0
    fi
    now=$(date +%s)
    last_beat=$(number "$(cat "$heartbeat" 2> /dev/null)")
    if [ -z "$ended_at" ] && { [ -e "$exit_file" ] || ! alive "$wrapper_pid"; }; then
        ended_at=$now
        say "the job ended"
    fi
    if [ -z "$ended_at" ] && [ "$now" -ge "$deadline" ]; then
        attached=$((now - last_beat <= 3 * beat + 2))
        if [ "$attached" = 0 ] || [ "$now" -ge $((deadline + margin)) ]; then
            kill_job "$reason"
            stop_pod "the deadline passed ($reason)"
        fi
    fi
    if [ -n "$ended_at" ]; then
        since=$ended_at
        [ "$last_beat" -gt "$since" ] && since=$last_beat
        if [ $((now - since)) -ge "$grace" ]; then
            stop_pod "$unattended"
        fi
    fi
    sleep 1
done
