#!/bin/sh
# run.sh - the benchmark harness behind `make bench` (docs/benchmarks.md says
# what it measures and why).
#
# In one run, for each file: ozip at each level and the classic compressors;
# size, bits/byte, compress and decompress wall time (median of REPEATS runs),
# peak RSS, ozip's model/stream split and device, and a byte-exact round trip.
# Then slices of one file, for the "does the model pay?" chart. The CSVs are
# built in a scratch folder and moved to BENCH_OUT/bench/ only when every
# measurement succeeded; tests/bench/report.sh then writes the markdown and
# the charts from them, so every number in the report comes from this run.
#
# Usage: tests/bench/run.sh [FILE...]
#   files: the arguments, else $FILES, else every file in ../shared/corpus/,
#   else the built-in data/ files.
# Environment [default]:
#   LEVELS        ozip levels ["1 D 9", D = ozip's default level]; empty: no ozip
#   TOOLS         classic compressors [gzip bzip2 xz zstd brotli]. When TOOLS is
#                 set, every tool it names must be installed; by default the
#                 missing ones are skipped with a message.
#   REPEATS       timed runs per measurement; the median is reported [3]
#   REPEAT_LIMIT  seconds: a measurement whose first run took longer is not
#                 repeated (the report shows the number of runs) [300]
#   OZIP_OPTS     extra options for every ozip compression []
#   PAYS_FILE     the file sliced for "does the model pay?"
#                 [../shared/corpus/flights-200k.json, else data/demo.json]
#   PAYS_SLICES   slice sizes ["64K 256K 1M 4M full"]; empty: skip that part
#   PAYS_LEVEL    ozip level for the slices [ozip's default level]
#   PAYS_OPTS     ozip options for the slices [$OZIP_OPTS]
#   BENCH_OUT     where benchmarks.md and the PNGs go; CSVs in BENCH_OUT/bench [docs]
#   BENCH_LABEL   a line put at the top of the generated sections []
# Exit status: 0 when every measurement ran and round-tripped; 1 on a
# round-trip mismatch, a failing command, or a missing tool that was asked for.
set -eu
cd "$(dirname "$0")/../.."
OZIP=${OZIP:-./ozip}
CORPUS=../shared/corpus
CLASSIC="gzip bzip2 xz zstd brotli"

say() { echo "bench: $*"; }
die() {
    echo "bench: ERROR: $*" >&2
    if [ -n "${W:-}" ]; then
        trap - EXIT
        echo "bench: scratch files kept in $W" >&2
    fi
    exit 1
}
isnum() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
pkg() { case $1 in xz) echo xz-utils ;; gnuplot) echo gnuplot-nox ;; *) echo "$1" ;; esac; }

/usr/bin/time -f %M -o /dev/null true 2>/dev/null ||
    die "GNU time is needed at /usr/bin/time: sudo apt-get install time"
# checked now rather than after hours of measuring: report.sh draws with it
command -v gnuplot >/dev/null 2>&1 || die "gnuplot draws the charts: sudo apt-get install gnuplot-nox"

# ---------------------------------------------------------------- settings
if command -v "$OZIP" >/dev/null 2>&1; then
    # the default level as ozip's own help states it ("level: ... (default 6)")
    DEFAULT=$("$OZIP" -h 2>&1 | sed -n 's/.*level:.*(default \([1-9]\)).*/\1/p')
    [ -n "$DEFAULT" ] || die "cannot read the default level from '$OZIP -h'"
elif [ -n "${LEVELS-x}" ] || [ -n "${PAYS_SLICES-x}" ]; then
    die "$OZIP is missing: run make first"
fi
LEVELS=${LEVELS-1 ${DEFAULT:-} 9}
PAYS_SLICES=${PAYS_SLICES-64K 256K 1M 4M full}
PAYS_LEVEL=${PAYS_LEVEL:-${DEFAULT:-6}}
REPEATS=${REPEATS:-3}
REPEAT_LIMIT=${REPEAT_LIMIT:-300}
OZIP_OPTS=${OZIP_OPTS:-}
PAYS_OPTS=${PAYS_OPTS-$OZIP_OPTS}
BENCH_OUT=${BENCH_OUT:-docs}
BENCH_LABEL=${BENCH_LABEL:-}
if [ -z "${PAYS_FILE:-}" ]; then
    if [ -d "$CORPUS" ]; then PAYS_FILE=$CORPUS/flights-200k.json; else PAYS_FILE=data/demo.json; fi
fi
case $REPEATS in '' | *[!0-9]* | 0) die "REPEATS must be a whole number >= 1, got '$REPEATS'" ;; esac
case $REPEAT_LIMIT in '' | *[!0-9.]*) die "REPEAT_LIMIT must be seconds, got '$REPEAT_LIMIT'" ;; esac
for l in $LEVELS $PAYS_LEVEL; do
    case $l in [1-9]) ;; *) die "ozip levels are 1..9, got '$l'" ;; esac
done

# classic tools: the ones named in TOOLS are required, the default ones optional
if [ -n "${TOOLS+set}" ]; then required=1; else TOOLS=$CLASSIC; required=0; fi
USE=
for t in $TOOLS; do
    case " $CLASSIC " in *" $t "*) ;; *) die "TOOLS: unknown compressor '$t' (known: $CLASSIC)" ;; esac
    if command -v "$t" >/dev/null 2>&1; then
        USE="$USE $t"
    elif [ $required = 1 ]; then
        die "$t was asked for (TOOLS) but is not installed: sudo apt-get install $(pkg "$t")"
    else
        say "skip - $t is not installed, so it is left out (optional: sudo apt-get install $(pkg "$t"))"
    fi
done
if [ -n "$PAYS_SLICES" ] && ! command -v xz >/dev/null 2>&1; then
    die "xz is needed for the 'does the model pay?' slices: sudo apt-get install xz-utils (or PAYS_SLICES=)"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/ozip-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
trap 'exit 1' INT TERM

# the files, one path a line (a name may hold spaces, not newlines or commas)
auto=0
if [ $# -eq 0 ] && [ -n "${FILES:-}" ]; then
    set -- $FILES
elif [ $# -eq 0 ]; then
    auto=1
    if [ -d "$CORPUS" ]; then set -- "$CORPUS"/*; else set -- data/*; fi
fi
set -f # from here on, words split from commands and options are never globbed
: > "$W/files"
for f in "$@"; do
    case $auto$f in 1*/README.md) continue ;; esac
    [ -f "$f" ] && [ -r "$f" ] || die "$f: not a readable file"
    [ -s "$f" ] || die "$f: empty (bits/byte is undefined)"
    case $(basename "$f") in *,*) die "$f: a comma in the name would break the CSV" ;; esac
    grep -qxF "$(basename "$f")" "$W/labels" 2>/dev/null && die "two files are named $(basename "$f")"
    basename "$f" >> "$W/labels"
    echo "$f" >> "$W/files"
done
[ -s "$W/files" ] || die "no files to measure"

# ---------------------------------------------------------------- commands
# Compressor ids name the command; FILE is appended, output goes to stdout.
ccmd() {
    case $1 in
    ozip-*) echo "$OZIP -${1#ozip-} -v -c $opts" ;;
    gzip-9) echo "gzip -9 -c" ;;
    bzip2-9) echo "bzip2 -9 -c" ;;
    xz-9e) echo "xz -9e -c" ;;
    zstd-19) echo "zstd -19 --long=27 -q -c" ;;
    brotli-11) echo "brotli -q 11 -c" ;;
    esac
}
dcmd() {
    case $1 in
    ozip-*) echo "$OZIP -d -c" ;;
    zstd-19) echo "zstd -d --long=27 -q -c" ;;
    *) echo "${1%%-*} -d -c" ;;
    esac
}
classic_id() {
    case $1 in gzip | bzip2) echo "$1-9" ;; xz) echo xz-9e ;; zstd) echo zstd-19 ;; brotli) echo brotli-11 ;; esac
}

# timed LABEL ID PHASE IN OUT CMD...: runs "CMD IN > OUT" REPEATS times (once
# when the first run exceeds REPEAT_LIMIT), logs each run to runs.csv, and sets
# med (median wall seconds), n (runs) and peak (largest peak RSS, KB).
# Wall time is taken around /usr/bin/time, so it includes process start-up
# (a millisecond or two); GNU time's own %e only has 10 ms steps.
timed() {
    _label=$1 _id=$2 _phase=$3 _in=$4 _out=$5
    shift 5
    n=0 peak=0 _all=
    while [ $n -lt "$REPEATS" ]; do
        _t0=$(date +%s%N)
        /usr/bin/time -f %M -o "$W/rss" "$@" "$_in" > "$_out" 2> "$W/err" ||
            die "$_label: $_id: $_phase failed (exit $?): $(tail -n 3 "$W/err")"
        _t1=$(date +%s%N)
        n=$((n + 1))
        _s=$(awk -v ns=$((_t1 - _t0)) 'BEGIN { printf "%.4f", ns / 1e9 }')
        _kb=$(tail -n 1 "$W/rss")
        echo "$_label,$_id,$_phase,$n,$_s,$_kb" >> "$W/runs.csv"
        _all="$_all $_s"
        if [ "$_kb" -gt "$peak" ]; then peak=$_kb; fi
        if [ $n = 1 ] && awk -v s="$_s" -v l="$REPEAT_LIMIT" 'BEGIN { exit !(s > l) }'; then break; fi
    done
    med=$(printf '%s\n' $_all | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
}

HEADER=file,orig_bytes,compressor,total_bytes,model_bytes,stream_bytes,bits_per_byte,compress_s,compress_runs,decompress_s,decompress_runs,compress_rss_kb,decompress_rss_kb,device,coded_with,roundtrip

# measure ID FILE LABEL CSV: compress FILE with ID, decompress, compare, and
# append one row to CSV. ozip's model/stream bytes come from `ozip -l -v` of
# the file it wrote (exact), its device from its `-v` summary.
measure() {
    id=$1 f=$2 label=$3 csv=$4
    c=$W/c.${id%%-*} d=$W/d
    orig=$(wc -c < "$f")
    say "[$((($(date +%s) - start) / 60)) min] $label ($orig bytes): $id"
    timed "$label" "$id" compress "$f" "$c" $(ccmd "$id")
    ct=$med cn=$n crss=$peak
    if [ "${id%%-*}" = ozip ]; then cp "$W/err" "$W/ozip-v"; fi
    timed "$label" "$id" decompress "$c" "$d" $(dcmd "$id")
    dt=$med dn=$n drss=$peak
    cmp -s "$f" "$d" ||
        die "ROUND TRIP MISMATCH: $label with $id: the decompressed bytes differ from $f (see $c and $d)"
    total=$(wc -c < "$c")
    model= streams= device= coded=
    if [ "${id%%-*}" = ozip ]; then
        "$OZIP" -l -v "$c" > "$W/list" || die "$label: ozip -l -v failed on its own output"
        model=$(awk 'NR == 2 { print $2 }' "$W/list")
        streams=$(sed -n 's/^  streams \([0-9]*\) bytes, header.*/\1/p' "$W/list")
        coded=$(sed -n 's/.*streams: \([0-9]*\) model, \([0-9]*\) xz, \([0-9]*\) zstd, \([0-9]*\) bzip2, \([0-9]*\) brotli, \([0-9]*\) stored.*/model:\1 xz:\2 zstd:\3 bzip2:\4 brotli:\5 stored:\6/p' "$W/list")
        device=$(sed -n 's/.* trained on \([^ ]*\) in .*/\1/p' "$W/ozip-v")
        [ "$device" = - ] && device=none
        isnum "$model" && isnum "$streams" && [ -n "$device" ] && [ -n "$coded" ] ||
            die "cannot read sizes from ozip -l -v or the device from ozip -v: $(cat "$W/list" "$W/ozip-v")"
    fi
    bpb=$(awk -v t="$total" -v o="$orig" 'BEGIN { printf "%.4f", 8 * t / o }')
    echo "$label,$orig,$id,$total,$model,$streams,$bpb,$ct,$cn,$dt,$dn,$crss,$drss,$device,$coded,identical" >> "$csv"
}

# ---------------------------------------------------------------- measure
start=$(date +%s)
load=$(cut -d ' ' -f 1-3 /proc/loadavg)
echo "$HEADER" > "$W/results.csv"
echo "file,compressor,phase,run,wall_s,peak_rss_kb" > "$W/runs.csv"
say "$(wc -l < "$W/files") files; ozip levels: ${LEVELS:-none}; classic:${USE:- none}; $REPEATS runs each (one above ${REPEAT_LIMIT} s)"
IDS=
for l in $LEVELS; do IDS="$IDS ozip-$l"; done
for t in $USE; do IDS="$IDS $(classic_id "$t")"; done
[ -n "$IDS" ] || die "nothing to measure: LEVELS and TOOLS are both empty"
opts=$OZIP_OPTS
while IFS= read -r f; do
    for id in $IDS; do measure "$id" "$f" "$(basename "$f")" "$W/results.csv"; done
done < "$W/files"

# "does the model pay?": one run each (sizes are deterministic; the times are
# only indicative). The full file's row is reused from the table when it was
# measured there with the same options.
echo "$HEADER" > "$W/pays.csv"
if [ -n "$PAYS_SLICES" ]; then
    [ -f "$PAYS_FILE" ] || die "PAYS_FILE $PAYS_FILE is missing"
    size=$(wc -c < "$PAYS_FILE")
    base=$(basename "$PAYS_FILE")
    opts=$PAYS_OPTS
    for s in $PAYS_SLICES; do
        case $s in
        full) n=$size ;;
        *[0-9]K) n=$((${s%K} * 1024)) ;;
        *[0-9]M) n=$((${s%M} * 1048576)) ;;
        *) die "PAYS_SLICES: '$s' is not NK, NM or full" ;;
        esac
        if [ "$s" != full ] && [ "$n" -ge "$size" ]; then
            say "skip - slice $s: $PAYS_FILE has only $size bytes"
            continue
        fi
        if [ "$s" = full ]; then slice=$PAYS_FILE; else slice=$W/slice-$s; head -c "$n" "$PAYS_FILE" > "$slice"; fi
        for id in "ozip-$PAYS_LEVEL" xz-9e; do
            if [ "$s" = full ] && grep -qxF "$PAYS_FILE" "$W/files" && { [ "$id" = xz-9e ] || [ "$opts" = "$OZIP_OPTS" ]; } &&
                awk -F, -v l="$base" -v id="$id" -v nl="$base@$s" 'BEGIN { OFS = "," }
                    $1 == l && $3 == id { $1 = nl; print; found = 1 } END { exit !found }' "$W/results.csv" >> "$W/pays.csv"; then
                say "$base@$s: $id (reused from the table)"
            else
                r=$REPEATS
                REPEATS=1
                measure "$id" "$slice" "$base@$s" "$W/pays.csv"
                REPEATS=$r
            fi
        done
        [ "$s" = full ] || rm -f "$slice"
    done
fi

# ---------------------------------------------------------------- machine
ver() { # the first version-looking word of a tool's version text
    awk 'match($0, /[0-9]+\.[0-9]+(\.[0-9]+)?/) { print substr($0, RSTART, RLENGTH); exit }'
}
versions=
for t in $USE; do
    case $t in
    bzip2) v=$(bzip2 --help 2>&1 < /dev/null | ver) ;;
    *) v=$("$t" --version 2>&1 < /dev/null | ver) ;;
    esac
    versions="$versions${versions:+, }$t $v"
done
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
[ -n "$cpu" ] || cpu=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1)
# the name can be generic ("Intel(R) Xeon(R) Processor" in a VM): family and model identify the part
fam=$(sed -n 's/^cpu family[^:]*: *//p' /proc/cpuinfo | head -n 1)
mdl=$(sed -n 's/^model[^:a-z]*: *//p' /proc/cpuinfo | head -n 1)
[ -z "$fam" ] || cpu="$cpu (family $fam, model $mdl)"
gpu=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | paste -sd ';' -) || gpu=
commit=$(git describe --always --dirty 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit (with uncommitted changes)"
{
    echo "label: $BENCH_LABEL"
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $commit"
    echo "cpu: ${cpu:-unknown}"
    echo "cpus: $(nproc)"
    echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "gpu: ${gpu:-none}"
    echo "os: $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")"
    echo "load: $load (load average over 1, 5, 15 min when the run started)"
    echo "duration: $(( ($(date +%s) - start + 30) / 60 )) min"
    if [ -n "${DEFAULT:-}" ]; then
        echo "ozip: $("$OZIP" -V | sed -n 1p), backends $("$OZIP" -V | sed -n 's/^backends: //p')"
        echo "blas: $("$OZIP" -V -v | sed -n 's/.*kernel \([^,)]*\).*/\1/p')"
        echo "default_level: $DEFAULT"
    fi
    echo "ozip_opts: $OZIP_OPTS"
    echo "pays_opts: $PAYS_OPTS"
    echo "pays_level: $PAYS_LEVEL"
    echo "tools: $versions"
    opts=$OZIP_OPTS
    for id in $IDS; do echo "cmd: $id: $(ccmd "$id") FILE > OUT; $(dcmd "$id") OUT > FILE2; cmp FILE FILE2"; done
    echo "repeats: $REPEATS"
    echo "repeat_limit: $REPEAT_LIMIT"
} > "$W/meta.txt"

# ---------------------------------------------------------------- publish
mkdir -p "$BENCH_OUT/bench"
cp "$W/results.csv" "$W/runs.csv" "$W/pays.csv" "$W/meta.txt" "$BENCH_OUT/bench/"
# elsewhere than docs/, the report starts from docs/benchmarks.md's prose
[ "$(cd "$BENCH_OUT" && pwd -P)" = "$(cd docs && pwd -P)" ] || cp docs/benchmarks.md "$BENCH_OUT/benchmarks.md"
tests/bench/report.sh "$BENCH_OUT"
