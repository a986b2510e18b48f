#!/bin/sh
# rpd's telemetry sampler: written by rpd beside the job's log and started by
# the launch wrapper beside the job, in a process group of its own. Every
# INTERVAL_MS it appends one JSON line of GPU and host metrics to
# "<log>.rpd-telemetry/metrics.jsonl" (runpod-deploy's field names); a field
# whose tool is missing or whose reading fails is left out, never made up.
# It takes the start captures at once (beside the samples), and the end ones
# when the job ends; a job that ends first does not wait for the start ones.
# It runs on the pod, so a dropped SSH connection loses nothing, and needs
# only sh, coreutils and /proc (nvidia-smi where present).
# It ends with the job: the wrapper ends it and runs `--end`; when the
# wrapper is gone without doing so (killed), the sampler takes the end
# captures itself and exits. rpd pulls the directory with the log.
#
#   sh sampler WRAPPER_PID INTERVAL_MS DISK CAPTURES
#   sh sampler --start CAPTURES          (the sampler runs it itself)
#   sh sampler --end CAPTURES DISK
# CAPTURES: the captures asked for, comma separated (nvidia_smi, remote_env,
# dmesg), or `-` for none. A capture that cannot be taken is a line
# `<unavailable|failed> TAB <file> TAB <why>` in "<dir>/.warnings", which rpd
# reports as a warning.
set -u
set -f

self=$0
log_path=${self%.rpd-sampler}
dir="$log_path.rpd-telemetry"

# Whether $1 is a whole number as JSON writes one.
int() {
    case $1 in '' | *[!0-9]* | 0?*) return 1 ;; esac
    return 0
}

# Appends `"$1": $2` to the object being built in $acc.
put() {
    acc="${acc:+$acc, }\"$1\": $2"
}

# $1 as the inside of a JSON string: printable ASCII only, `\` and `"` escaped.
json_text() {
    printf '%s' "$1" | tr '\t\r\n' '   ' | LC_ALL=C tr -cd ' -~' | sed 's/\\/\\\\/g; s/"/\\"/g'
}

# Sleeps $1 milliseconds (whole seconds where sleep takes no fractions).
nap() {
    sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" 2> /dev/null || sleep $((($1 + 999) / 1000))
}

# Runs a command for at most $1 seconds, where coreutils' timeout exists.
bounded() {
    secs=$1
    shift
    if command -v timeout > /dev/null 2>&1; then
        timeout "$secs" "$@"
    else
        "$@"
    fi
}

has() {
    case ",$captures," in *",$1,"*) return 0 ;; esac
    return 1
}

warn() {
    printf '%s\t%s\t%s\n' "$1" "$2" "$(printf '%s' "$3" | tr '\t\r\n' '   ' | cut -c1-300)" >> "$dir/.warnings"
}

# Runs the command after $1 into the file $1 of the directory (written
# aside, then renamed); a missing tool or a failure is a warning.
capture() {
    file=$1
    shift
    if ! command -v "$1" > /dev/null 2>&1; then
        warn unavailable "$file" "$1 is not installed on the pod"
        return 0
    fi
    tmp="$self.$file.tmp"
    if bounded 60 "$@" > "$tmp" 2> "$tmp.err"; then
        mv -f "$tmp" "$dir/$file"
    else
        rc=$?
        warn failed "$file" "\`$*\` exited with status $rc: $(tail -n 3 "$tmp.err")"
    fi
    rm -f "$tmp" "$tmp.err"
}

remote_env() {
    uname_text=$(uname -a 2> /dev/null) || uname_text=
    python_text=$(python --version 2>&1) || python_text=$(python3 --version 2>&1) || python_text=
    printf '{\n  "remote_uname": "%s",\n  "remote_python_version": "%s"\n}\n' \
        "$(json_text "$uname_text")" "$(json_text "$python_text")" > "$self.env.tmp" &&
        mv -f "$self.env.tmp" "$dir/remote_env.json"
    if command -v pip > /dev/null 2>&1; then
        capture pip_freeze.txt pip freeze
    elif command -v python3 > /dev/null 2>&1; then
        capture pip_freeze.txt python3 -m pip freeze
    else
        warn unavailable pip_freeze.txt "the pod has neither pip nor python3"
    fi
}

dmesg_tail() {
    # A simulated pod shares this machine's kernel: its log is not the pod's.
    if [ -n "${RPD_SIMULATED_POD:-}" ]; then
        warn unavailable dmesg_tail.txt "a simulated pod has no kernel log of its own"
        return 0
    fi
    if ! command -v dmesg > /dev/null 2>&1; then
        warn unavailable dmesg_tail.txt "dmesg is not installed on the pod"
        return 0
    fi
    tmp="$self.dmesg.tmp"
    if bounded 30 dmesg > "$tmp" 2> "$tmp.err"; then
        tail -n 200 "$tmp" > "$tmp.tail" && mv -f "$tmp.tail" "$dir/dmesg_tail.txt"
    else
        rc=$?
        why=$(tail -n 3 "$tmp.err")
        # Containers are often not allowed to read the kernel's log.
        case $why in
            *"not permitted"* | *"ermission denied"*) warn unavailable dmesg_tail.txt "dmesg: $why" ;;
            *) warn failed dmesg_tail.txt "dmesg exited with status $rc: $why" ;;
        esac
    fi
    rm -f "$tmp" "$tmp.err" "$tmp.tail"
}

# The start captures, once per run: the sampler takes them as it starts,
# unless the job's end came first.
start_captures() {
    mkdir "$self.starting" 2> /dev/null || return 0
    if has nvidia_smi; then capture nvidia_smi_start.txt nvidia-smi; fi
    if has remote_env; then remote_env; fi
    : > "$self.started"
}

# The end captures, once per run (whoever makes the mark takes them). Start
# captures that a job shorter than they are has not waited for are not
# waited for here either (that would lengthen the run): each missing one is
# noted, and a late one is simply not pulled.
end_captures() {
    mkdir "$self.ended" 2> /dev/null || return 0
    if has nvidia_smi; then capture nvidia_smi_end.txt nvidia-smi; fi
    if has dmesg; then dmesg_tail; fi
    mkdir "$self.starting" 2> /dev/null
    [ -e "$self.started" ] && return 0
    late="the job ended before this start capture was taken"
    if has nvidia_smi && [ ! -e "$dir/nvidia_smi_start.txt" ]; then warn unavailable nvidia_smi_start.txt "$late"; fi
    if has remote_env; then
        for file in remote_env.json pip_freeze.txt; do
            [ -e "$dir/$file" ] || warn unavailable "$file" "$late"
        done
    fi
    return 0
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

gpu_fields() {
    command -v nvidia-smi > /dev/null 2>&1 || return 0
    gpu_out=$(bounded 20 nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu,ecc.errors.uncorrected.volatile.total --format=csv,noheader,nounits 2> /dev/null) || return 0
    top=$acc gpus= n=0
    while IFS=, read -r index util used total temp ecc; do
        [ -n "$index$util" ] || continue
        acc=
        if int "$index"; then put index "$index"; else put index "$n"; fi
        int "$util" && put util_pct "$util"
        int "$used" && put mem_used_mb "$used"
        int "$total" && put mem_total_mb "$total"
        int "$temp" && put temp_c "$temp"
        if int "$ecc"; then put ecc_errors "$ecc"; else put ecc_errors null; fi
        gpus="${gpus:+$gpus, }{$acc}"
        if [ "$n" = 0 ]; then
            acc=$top
            int "$util" && put gpu_util_pct "$util"
            int "$used" && put gpu_mem_used_mb "$used"
            int "$total" && put gpu_mem_total_mb "$total"
            int "$temp" && put gpu_temp_c "$temp"
            if int "$ecc"; then put gpu_ecc_errors "$ecc"; else put gpu_ecc_errors null; fi
            top=$acc
        fi
        n=$((n + 1))
    done << EOF
$(printf '%s\n' "$gpu_out" | tr -d ' \r')
EOF
    acc=$top
    [ "$n" -gt 1 ] && gpus_field="[$gpus]"
    return 0
}

# The CPU's counters from /proc/stat into now_user, now_sys, now_total.
cpu_now() {
    [ -r /proc/stat ] || return 1
    read -r cpu u n s i w q sq st _rest < /proc/stat || return 1
    [ "$cpu" = cpu ] || return 1
    for v in "$u" "$n" "$s" "$i" "${w:-0}" "${q:-0}" "${sq:-0}" "${st:-0}"; do
        int "$v" || return 1
    done
    now_user=$u now_sys=$s now_total=$((u + n + s + i + ${w:-0} + ${q:-0} + ${sq:-0} + ${st:-0}))
}

# $1 of $2 as a percentage with one decimal.
pct() {
    p=$((($1 * 1000 + $2 / 2) / $2))
    echo "$((p / 10)).$((p % 10))"
}

cpu_fields() {
    if [ -r /proc/loadavg ]; then
        read -r load _rest < /proc/loadavg
        case $load in
            [0-9]*.[0-9]*) case $load in *[!0-9.]* | *.*.*) ;; *) put cpu_load_1m "$load" ;; esac ;;
        esac
    fi
    if cpu_now; then
        if [ -n "$prev_total" ] && [ "$now_total" -gt "$prev_total" ]; then
            dt=$((now_total - prev_total))
            put cpu_user_pct "$(pct $((now_user - prev_user)) "$dt")"
            put cpu_sys_pct "$(pct $((now_sys - prev_sys)) "$dt")"
        fi
        prev_user=$now_user prev_sys=$now_sys prev_total=$now_total
    fi
}

mem_fields() {
    [ -r /proc/meminfo ] || return 0
    mem_total= mem_available=
    while read -r key value _rest; do
        case $key in
            MemTotal:) mem_total=$value ;;
            MemAvailable:) mem_available=$value ;;
        esac
    done < /proc/meminfo
    int "$mem_total" || return 0
    int "$mem_available" && put host_mem_used_mb $(((mem_total - mem_available) / 1024))
    put host_mem_total_mb $((mem_total / 1024))
}

disk_fields() {
    line=$(df -P -k "$disk" 2> /dev/null | tail -n 1) || return 0
    set -- $line
    [ $# -ge 6 ] || return 0
    int "$2" && int "$3" || return 0
    put workspace_disk_used_bytes $(($3 * 1024))
    put workspace_disk_total_bytes $(($2 * 1024))
}

# ISO 8601 in UTC with microseconds where date has them (runpod-deploy's).
timestamp() {
    now=$(date -u +%Y-%m-%dT%H:%M:%S.%N)
    fraction=${now#*.}
    case $fraction in
        [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]) echo "${now%.*}.${fraction%???}+00:00" ;;
        *) echo "${now%.*}+00:00" ;;
    esac
}

# Seconds since the host booted: what dmesg's times count, so that the
# kernel lines of the run's own window can be told from older ones.
uptime_field() {
    [ -r /proc/uptime ] || return 0
    read -r up _rest < /proc/uptime
    case $up in
        [0-9]*.[0-9]*) case $up in *[!0-9.]* | *.*.*) ;; *) put host_uptime_sec "$up" ;; esac ;;
    esac
}

sample() {
    acc= gpus_field=
    put ts_utc "\"$(timestamp)\""
    uptime_field
    gpu_fields
    cpu_fields
    mem_fields
    disk_fields
    [ -n "$gpus_field" ] && put gpus "$gpus_field"
    line="{$acc}"
}

if [ "${1:-}" = --start ]; then
    captures=${2:--}
    start_captures
    exit 0
fi

if [ "${1:-}" = --end ]; then
    captures=${2:--} disk=${3:-/}
    mkdir -p "$dir"
    # A job shorter than the sampler's start still has its one sample.
    if [ ! -s "$dir/metrics.jsonl" ]; then
        prev_total=
        sample
        printf '%s\n' "$line" >> "$dir/metrics.jsonl"
    fi
    end_captures
    exit 0
fi

wrapper_pid=$1 interval_ms=$2 disk=$3 captures=$4

trap 'exit 0' TERM INT HUP
int "$interval_ms" && [ "$interval_ms" -gt 0 ] || interval_ms=30000
mkdir -p "$dir"
echo $$ > "$self.pid"
# The start captures beside the samples, at a low priority: the job's CPU
# is the job's (pip freeze alone takes a core for a second).
if command -v nice > /dev/null 2>&1; then
    nice -n 19 sh "$self" --start "$captures" > /dev/null 2>&1 < /dev/null &
else
    sh "$self" --start "$captures" > /dev/null 2>&1 < /dev/null &
fi
# The first sample at once (a job may be shorter than any wait); the CPU's
# percentages need two readings, so they start with the second.
prev_total=
while :; do
    [ -e "$self" ] || exit 0
    if ! alive "$wrapper_pid"; then
        end_captures
        exit 0
    fi
    sample
    # A newer run's sampler owns the directory now: write nothing.
    [ "$(cat "$self.pid" 2> /dev/null)" = "$$" ] || exit 0
    printf '%s\n' "$line" >> "$dir/metrics.jsonl"
    waited=0
    while [ "$waited" -lt "$interval_ms" ]; do
        step=$((interval_ms - waited))
        [ "$step" -gt 1000 ] && step=1000
        nap "$step"
        waited=$((waited + step))
        alive "$wrapper_pid" || break
    done
done
