#!/bin/sh
# quick.sh - `make bench-quick`, and the harness's step in the test suite: the
# whole benchmark harness in about a minute (two 64 KB files, a tiny ozip
# model, one run each), written to a scratch folder, then checked: the CSVs
# hold the rows they should, the page its sections, the charts are PNGs, and
# docs/ is untouched. Also checks that the harness fails on a round-trip
# mismatch and on a missing tool that was asked for, and skips an optional one.
# Prints "ok - ..." / "not ok - ..." / "skip - ..." lines (counted by run.sh).
#
# Usage: tests/bench/quick.sh [OUT]
#   OUT: where the report goes (make bench-quick: bench-out/quick); default a
#   temporary folder, removed afterwards. `tests/bench/quick.sh docs` fills
#   docs/ with this smoke run, labelled as such.
set -u
cd "$(dirname "$0")/../.."
fails=0
ok() { echo "ok - bench: $1"; }
nok() { echo "not ok - bench: $1${2:+: $2}"; fails=$((fails + 1)); }
# check NAME COMMAND...: ok when COMMAND succeeds
check() { n=$1; shift; if "$@"; then ok "$n"; else nok "$n"; fi; }

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "skip - bench: the harness draws its charts with gnuplot, which is not installed (sudo apt-get install gnuplot-nox)"
    exit 0
fi
if ! /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
    echo "skip - bench: the harness needs GNU time at /usr/bin/time (sudo apt-get install time)"
    exit 0
fi
S=$(mktemp -d "${TMPDIR:-/tmp}/ozip-bench-quick.XXXXXX")
trap 'rm -rf "$S"' EXIT
OUT=${1:-$S/out}
mkdir -p "$S/in" "$OUT"
export TMPDIR="$S" # the scratch folders a failing run keeps go with ours

# two 64 KB inputs (real files), and 256 KB of JSON for the slices
CORPUS=../shared/corpus
if [ -d "$CORPUS" ]; then
    head -c 65536 "$CORPUS/log-OpenSSH_2k.log" > "$S/in/log-OpenSSH_2k-64K.log"
    head -c 65536 "$CORPUS/taxi-yellow_tripdata_2016-01.csv" > "$S/in/taxi-yellow_tripdata_2016-01-64K.csv"
else
    head -c 65536 data/demo.json > "$S/in/demo-64K.json"
    head -c 65536 data/taxi-yellow_tripdata_2015-01.csv > "$S/in/taxi-yellow_tripdata_2015-01-64K.csv"
fi
head -c 262144 data/demo.json > "$S/in/demo-256K.json"

# the tiny model is forced on the table's files, so the model/stream split is
# exercised; the slices run without it, so the chart shows ozip's fallback
TINY="--arch=L=1,D=16,H=2,F=32,W=16 --epochs=0.5"
docs_before=$(cat docs/benchmarks.md docs/bench-*.png docs/bench/* 2>/dev/null | cksum)
start=$(date +%s)
LEVELS="1 6" REPEATS=1 OZIP_OPTS="$TINY -T2 --force-model" \
    PAYS_FILE="$S/in/demo-256K.json" PAYS_SLICES="64K full" PAYS_OPTS="$TINY -T2" BENCH_OUT="$OUT" \
    BENCH_LABEL="Smoke run of the harness (make bench-quick): two 64 KB slices, a tiny forced ozip model ($TINY --force-model), one run each. These numbers test the harness, not ozip; make bench replaces them." \
    tests/bench/run.sh "$S"/in/*64K* > "$S/log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
if [ $rc = 0 ]; then ok "bench-quick run exits 0 ($secs s)"; else nok "bench-quick run exits 0" "exit $rc: $(tail -n 5 "$S/log")"; fi

B=$OUT/bench
tools=0
for t in gzip bzip2 xz zstd brotli; do
    if command -v $t >/dev/null 2>&1; then tools=$((tools + 1)); fi
done
rows=$(($(wc -l 2>/dev/null < "$B/results.csv" || echo 1) - 1))
check "results.csv has a row per file and compressor ($rows = 2 x (2 levels + $tools tools))" \
    [ "$rows" = $((2 * (2 + tools))) ]
# every row: round trip identical, bits/byte > 0, the times and runs filled;
# ozip rows: model > 0 (forced) and model + streams < total (a header remains)
check "every results.csv row is complete and round-tripped" awk -F, 'NR > 1 {
    bad += NF != 16 || $16 != "identical" || !($7 > 0) || !($8 > 0) || !($10 > 0) || $9 != 1 || $11 != 1
    if ($3 ~ /^ozip-/) { bad += !($5 > 0) || !($5 + $6 < $4) || $14 == "" || $15 !~ /^model:1 / ; oz++ } }
    END { exit bad || oz != 4 }' "$B/results.csv"
check "runs.csv has every timed run" [ "$(($(wc -l 2>/dev/null < "$B/runs.csv" || echo 1) - 1))" = $((2 * rows + 8)) ]
check "pays.csv has ozip and xz for both slices; 64K falls back (no model)" awk -F, '
    NR > 1 { n++; if ($1 ~ /@64K$/ && $3 ~ /^ozip-/) fb = ($5 == 0) }
    END { exit !(n == 4 && fb) }' "$B/pays.csv"
check "meta.txt names the machine" grep -q "^cpu: ..*" "$B/meta.txt"
for sec in machine table pays; do
    check "benchmarks.md: generated section '$sec' filled" awk -v s="$sec" '
        $0 == "<!-- BEGIN GENERATED: " s " -->" { inside = 1; next } /^<!-- END GENERATED -->$/ { inside = 0 }
        inside && /[a-z0-9]/ { n++ } END { exit n < 3 }' "$OUT/benchmarks.md"
done
check "benchmarks.md carries the smoke-run label" grep -q "^\*\*Smoke run of the harness" "$OUT/benchmarks.md"
check "the bits/byte table has both files" [ "$(grep -c '^| [a-z].*-64K\.[a-z]* | 65536 |' "$OUT/benchmarks.md")" = 2 ]
for png in bench-bpb bench-speed bench-pays; do
    check "$png.png is a PNG of some size" sh -c '[ "$(head -c 4 "$1" | od -An -tx1 | tr -d " \n")" = 89504e47 ] &&
        [ "$(wc -c < "$1")" -gt 10000 ]' sh "$OUT/$png.png"
done
if [ "$(cd "$OUT" && pwd -P)" != "$(cd docs && pwd -P)" ]; then
    check "docs/ is left as it was" [ "$docs_before" = "$(cat docs/benchmarks.md docs/bench-*.png docs/bench/* 2>/dev/null | cksum)" ]
fi

# --- the engine section (tests/bench/engine.sh) on one small file, into OUT
isas=1 # reference, then the fast engine's kernels this CPU has
for f in "" avx2 avx512_vnni; do
    if [ -z "$f" ] || grep -q "^flags.* $f" /proc/cpuinfo; then isas=$((isas + 1)); fi
done
start=$(date +%s)
ENGINE_BYTES=20000 ENGINE_REPEAT=2 ENGINE_BIG=L=2,D=32,H=2,F=64,W=128 THREADS=2 BENCH_OUT="$OUT" tests/bench/engine.sh "$S/in/demo-256K.json" > "$S/elog" 2>&1
rc=$?
if [ $rc = 0 ]; then ok "bench-engine run exits 0 ($(($(date +%s) - start)) s)"; else nok "bench-engine run exits 0" "exit $rc: $(tail -n 5 "$S/elog")"; fi
# rows: 3 runs (the target model on 1 and 2 threads, the default shape on 2),
# each engine encoding and decoding; the reference is 1.00x of itself and
# every rate is positive
check "engine.csv has every engine in both modes for the 3 runs ($isas engines)" awk -F, -v want=$((3 * 2 * isas)) '
    NR > 1 { n++; bad += !($9 > 0) || !($10 > 0) || ($6 == "reference" && $11 != "1.00") || $4 < 1000 }
    END { exit n != want || bad }' "$OUT/bench/engine.csv"
check "benchmarks.md: generated section 'engine' holds both tables" awk '
    $0 == "<!-- BEGIN GENERATED: engine -->" { inside = 1; next } /^<!-- END GENERATED -->$/ { inside = 0 }
    inside && /^\| reference \| 1 \|/ { a = 1 } inside && /^\| demo-256K.json \| L=/ { b = 1 } END { exit !(a && b) }' "$OUT/benchmarks.md"

# --- failures: a wrong round trip and a tool that was asked for but is missing
real_gzip=$(command -v gzip)
mkdir "$S/fake"
printf '#!/bin/sh\n# gzip whose decompression changes bytes\ncase " $* " in *" -d "*) %s "$@" | tr a b ;; *) exec %s "$@" ;; esac\n' \
    "$real_gzip" "$real_gzip" > "$S/fake/gzip"
chmod +x "$S/fake/gzip"
PATH="$S/fake:$PATH" LEVELS= TOOLS=gzip PAYS_SLICES= BENCH_OUT="$S/bad" \
    tests/bench/run.sh "$S/in/demo-256K.json" > "$S/log" 2>&1
rc=$?
check "a round-trip mismatch exits non-zero" [ $rc != 0 ]
check "... with a message naming the file and the compressor" grep -q "ROUND TRIP MISMATCH: demo-256K.json with gzip-9" "$S/log"
check "... and publishes nothing" [ ! -e "$S/bad/benchmarks.md" ]
# a PATH with every command but brotli
mkdir "$S/nobrotli"
for d in /usr/local/bin /usr/bin /bin; do ln -s "$d"/* "$S/nobrotli/" 2>/dev/null; done
rm -f "$S/nobrotli/brotli"
PATH="$S/nobrotli" LEVELS= TOOLS="gzip brotli" PAYS_SLICES= BENCH_OUT="$S/bad" \
    tests/bench/run.sh "$S/in/demo-256K.json" > "$S/log" 2>&1
rc=$?
check "a missing tool named in TOOLS exits non-zero" [ $rc != 0 ]
check "... and says to install it" grep -q "brotli was asked for (TOOLS) but is not installed" "$S/log"
PATH="$S/nobrotli" LEVELS= PAYS_SLICES= REPEATS=1 BENCH_OUT="$S/opt" \
    tests/bench/run.sh "$S/in/demo-256K.json" > "$S/log" 2>&1
rc=$?
check "a missing optional tool is skipped with a message and the run succeeds" \
    sh -c '[ $1 = 0 ] && grep -q "skip - brotli is not installed" "$2" && ! grep -q brotli "$3"' sh $rc "$S/log" "$S/opt/bench/results.csv"

[ -n "${1:-}" ] && echo "# bench-quick report: $OUT/benchmarks.md"
exit $((fails > 0))
