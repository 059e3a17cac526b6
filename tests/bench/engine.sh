#!/bin/sh
# engine.sh - the speed of the integer model on this CPU, per engine (the
# reference in core/ and the fast engine's scalar, AVX2 and AVX-512 kernels),
# behind `make bench-engine`. It writes docs/bench/engine.csv and the
# "engine" generated section of docs/benchmarks.md; every number there comes
# from one run of this script.
#
# Usage: tests/bench/engine.sh [FILE...]
#   files: the arguments, else $FILES, else every file in ../shared/corpus/,
#   else data/demo.json.
# Environment [default]:
#   THREADS       threads for the all-cores rows [every CPU online]
#   ENGINE_BYTES  bytes of each file that are coded [120000]
#   ENGINE_REPEAT runs of each fast engine, the fastest kept [3]; the
#                 reference runs as often at the default levels' shapes (the
#                 speed-ups then compare the fastest run of each) and once
#                 on the large model (a run there takes about half a minute)
#   ENGINE_BIG    the shape of the first table [L=3,D=96,H=6,F=192,W=512,wbits=5,
#                 about 200k parameters at a 512-byte window: issue 6's targets]
#   BENCH_OUT     where benchmarks.md is; the CSV goes to BENCH_OUT/bench [docs]
#
# What is measured (tools/engine_bench.c): a model of the given shape is
# trained briefly on the bytes (its values do not change the speed), then
# each engine encodes them as one stream and decodes them as 16 streams in
# lock step, and the decoded bytes are compared with the input. With one
# thread the time is that thread's CPU time; with several, each thread codes
# its own copy and the time is wall time from the moment all inputs are ready.
# The peak is a loop of 12 independent vpdpbusd (AVX-512 VNNI) or 6
# vpmaddubsw+vpmaddwd+vpaddd (AVX2) chains on one core, in inline assembly,
# the fastest of 10 short runs.
set -eu
cd "$(dirname "$0")/../.."
CORPUS=../shared/corpus
D=${BENCH_OUT:-docs}
B=$D/bench
EB=build/engine_bench
THREADS=${THREADS:-$(nproc)}
BYTES=${ENGINE_BYTES:-120000}
REPEAT=${ENGINE_REPEAT:-3}
# the model is trained first (OpenMP): its idle threads must not spin beside the timed ones
export OMP_WAIT_POLICY=passive
TARGETS=L=3,D=96,H=6,F=192,W=512,wbits=5
BIG=${ENGINE_BIG:-$TARGETS}

die() { echo "bench-engine: ERROR: $*" >&2; exit 1; }
say() { echo "bench-engine: $*"; }
case $THREADS in '' | *[!0-9]* | 0) die "THREADS must be a whole number >= 1, got '$THREADS'" ;; esac
case $BYTES in '' | *[!0-9]* | 0) die "ENGINE_BYTES must be a whole number >= 1, got '$BYTES'" ;; esac
case $REPEAT in '' | *[!0-9]* | 0) die "ENGINE_REPEAT must be a whole number >= 1, got '$REPEAT'" ;; esac
[ -f "$D/benchmarks.md" ] || die "$D/benchmarks.md is missing"
grep -q '^<!-- BEGIN GENERATED: engine -->$' "$D/benchmarks.md" || die "$D/benchmarks.md has no engine section"
make -s "$EB" || die "cannot build $EB"

if [ $# -gt 0 ]; then
    set -- "$@"
elif [ -n "${FILES:-}" ]; then
    # shellcheck disable=SC2086
    set -- $FILES
elif [ -d "$CORPUS" ]; then
    set -- "$CORPUS"/*
else
    say "no $CORPUS: measuring data/demo.json"
    set -- data/demo.json
fi

# the code measured: read before this script writes anything (make bench
# reads it before its first half rewrites docs/ and passes it on)
commit=${OZ_BENCH_COMMIT:-$(git describe --always --dirty 2>/dev/null || echo unknown)}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "context,file,shape,params,macs_per_byte,engine,mode,threads,bytes_per_s,macs_per_s,vs_reference" > "$T/engine.csv"

# run CONTEXT FILE ARGS...: one engine_bench run, its csv lines into engine.csv
run() {
    ctx=$1 file=$2
    shift 2
    say "$ctx: $(basename "$file") $*"
    "$EB" --data "$file" --bytes "$BYTES" --repeat "$REPEAT" --csv "$@" > "$T/out" 2> "$T/err" || {
        cat "$T/err" >&2
        die "$EB failed on $file"
    }
    # "model L=2,D=64,...: 82k params, ..." -> shape (commas as spaces), params, MACs
    head=$(sed -n '1s/^model \([^:]*\): \([0-9]*\) params, \([0-9]*\) MACs per byte.*/\1:\2,\3/p' "$T/out")
    [ -n "$head" ] || die "cannot read the model line of $EB's output"
    awk -F, -v pre="$ctx,$(basename "$file"),$(echo "${head%%:*}" | tr , ' '),${head#*:}" \
        '$1 == "csv" && $2 != "peak" { print pre "," $2 "," $3 "," $4 "," $5 "," $6 "," $7 }' "$T/out" >> "$T/engine.csv"
    awk -F, '$1 == "csv" && $2 == "peak" { print $3 "," $6 }' "$T/out" > "$T/peak"
}

# the model of issue 6's targets (246k parameters, 512-byte window), on the
# first file that is large enough
big=$1
for f in "$@"; do
    if [ "$(wc -c < "$f")" -ge "$BYTES" ]; then big=$f; break; fi
done
run big "$big" --arch "$BIG" --threads 1
run big "$big" --arch "$BIG" --threads "$THREADS"
# every file at the shape ozip's default level picks for it
for f in "$@"; do
    [ -f "$f" ] || die "$f is not a file"
    case $(basename "$f") in README* | *.md) continue ;; esac
    run default "$f" --level 6 --threads "$THREADS" --repeat-ref "$REPEAT"
done

mkdir -p "$B"
cp "$T/engine.csv" "$B/engine.csv"

# ---------------------------------------------------------------- markdown
cpu=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -1)
# the name can be generic ("Intel(R) Xeon(R) Processor" in a VM): family and model identify the part
fam=$(sed -n 's/^cpu family[^:]*: *//p' /proc/cpuinfo | head -1)
mdl=$(sed -n 's/^model[^:a-z]*: *//p' /proc/cpuinfo | head -1)
[ -n "$fam" ] && cpu="$cpu (family $fam, model $mdl)"
flags=$(grep -m1 '^flags' /proc/cpuinfo)
isa="x86-64"
case $flags in *" avx2"*) isa="$isa, AVX2" ;; esac
case $flags in *" avx512_vnni"*) isa="$isa, AVX-512 VNNI" ;; *" avx512f"*) isa="$isa, AVX-512 (no VNNI)" ;; esac
case $flags in *" amx_int8"*) isa="$isa, AMX-INT8" ;; esac
# whether the engine uses AMX for encode's matrix products (ozip -V -v asks the kernel)
case $(./ozip -V -v 2>/dev/null | grep '^inference:') in
*AMX*) isa="$isa; the avx512 engine encodes with AMX (matrix products, attention value sums)" ;;
esac
p2=$(awk -F, '$1 == "avx2" { printf "%.1f", $2 / 1e9 }' "$T/peak")
p5=$(awk -F, '$1 == "avx512" { printf "%.1f", $2 / 1e9 }' "$T/peak")
{
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') from commit \`$commit\` by \`tests/bench/engine.sh\` on $cpu,"
    echo "$(nproc) CPUs online ($isa); $BYTES bytes of each file; all-cores rows use $THREADS threads;"
    echo "each fast engine's figure is the fastest of $REPEAT runs; the reference's is a single run for the first table"
    echo "and the fastest of $REPEAT runs for the second."
    echo "Measured peak per core: AVX2 ${p2:-n/a} G MAC/s, AVX-512 VNNI ${p5:-n/a} G MAC/s."
    echo
    if [ "$BIG" = "$TARGETS" ]; then what="The model of issue 6's targets"; else what="The model"; fi
    echo "**$what**: $BIG ($(awk -F, '$1 == "big" { print $4; exit }' "$B/engine.csv") parameters,"
    echo "$(awk -F, '$1 == "big" { print $5; exit }' "$B/engine.csv") MACs per byte at a full window), on $(basename "$big")."
    echo
    echo "| engine | threads | encode KB/s | encode G MAC/s | decode KB/s | decode G MAC/s | decode % of peak | decode vs reference |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    awk -F, -v p2="${p2:-0}" -v p5="${p5:-0}" '
        $1 == "big" { k = $6 "," $8; if (!(k in seen)) { seen[k] = 1; key[++n] = k; eng[k] = $6; thr[k] = $8 }
                      r[k, $7] = $9; g[k, $7] = $10; v[k, $7] = $11 }
        END { for (i = 1; i <= n; i++) { k = key[i]
                  pk = eng[k] == "avx512" ? p5 : eng[k] == "avx2" ? p2 : 0
                  pct = pk > 0 ? sprintf("%.0f%%", 100 * g[k, "decode"] / 1e9 / (pk * thr[k])) : "-"
                  printf "| %s | %s | %.1f | %.2f | %.1f | %.2f | %s | %.1fx |\n", eng[k], thr[k],
                      r[k, "encode"] / 1e3, g[k, "encode"] / 1e9, r[k, "decode"] / 1e3, g[k, "decode"] / 1e9, pct, v[k, "decode"] } }' \
        "$B/engine.csv"
    echo
    echo "**Every file at the default level's shape**, $THREADS threads: bytes/s of the reference (before the fast"
    echo "engine) and of the fastest engine on this CPU (after)."
    echo
    echo "| file | shape | params | encode KB/s before | after | decode KB/s before | after | decode speed-up | engine |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
    awk -F, '
        $1 == "default" { f = $2; if (!(f in seen)) { seen[f] = 1; file[++n] = f; shape[f] = $3; par[f] = $4 }
            if ($6 == "reference") ref[f, $7] = $9
            else if ($9 > best[f, $7]) { best[f, $7] = $9; beng[f, $7] = $6 } }
        END { for (i = 1; i <= n; i++) { f = file[i]; s = shape[f]
                  printf "| %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1fx | %s |\n", f, s, par[f],
                      ref[f, "encode"] / 1e3, best[f, "encode"] / 1e3, ref[f, "decode"] / 1e3, best[f, "decode"] / 1e3,
                      best[f, "decode"] / ref[f, "decode"], beng[f, "decode"] } }' "$B/engine.csv"
} > "$T/engine.md"

awk -v file="$T/engine.md" '
/^<!-- BEGIN GENERATED: engine -->$/ { print; print ""; while ((getline line < file) > 0) print line; print ""; skip = 1; next }
/^<!-- END GENERATED -->$/ { skip = 0 }
!skip { print }
END { if (skip) { print "the engine section is not closed" > "/dev/stderr"; exit 1 } }' "$D/benchmarks.md" > "$T/benchmarks.md" ||
    die "$D/benchmarks.md: cannot rewrite its engine section"
cp "$T/benchmarks.md" "$D/benchmarks.md"
say "wrote $B/engine.csv and the engine section of $D/benchmarks.md"
