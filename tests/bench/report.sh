#!/bin/sh
# report.sh - the generated parts of DIR/benchmarks.md and the charts
# DIR/bench-bpb.png, DIR/bench-speed.png, DIR/bench-pays.png, made from the
# CSVs that tests/bench/run.sh left in DIR/bench/ and from nothing else.
# run.sh calls it; run it alone (tests/bench/report.sh [DIR], default docs) to
# redraw after changing this script or the hand-written prose.
#
# benchmarks.md keeps its prose; only the lines between
#   <!-- BEGIN GENERATED: NAME -->  and  <!-- END GENERATED -->
# are rewritten, for NAME = machine, table, pays (the engine section is
# tests/bench/engine.sh's).
set -eu
cd "$(dirname "$0")/../.."
D=${1:-docs}
B=$D/bench
die() { echo "bench: ERROR: $*" >&2; exit 1; }

for f in results.csv runs.csv pays.csv meta.txt; do
    [ -f "$B/$f" ] || die "$B/$f is missing: run tests/bench/run.sh first"
done
[ -f "$D/benchmarks.md" ] || die "$D/benchmarks.md is missing"
command -v gnuplot >/dev/null 2>&1 || die "gnuplot draws the charts: sudo apt-get install gnuplot-nox"
T=$(mktemp -d "${TMPDIR:-/tmp}/ozip-report.XXXXXX")
trap 'rm -rf "$T"' EXIT

meta() { sed -n "s/^$1: //p" "$B/meta.txt"; }
# compressor ids in the order they were measured
IDS=$(awk -F, 'NR > 1 && !seen[$3]++ { printf "%s ", $3 }' "$B/results.csv")

# ---------------------------------------------------------------- machine
{
    label=$(meta label)
    [ -z "$label" ] || printf '**%s**\n\n' "$label"
    echo "Measured $(meta date) from commit \`$(meta commit)\` by \`tests/bench/run.sh\`" \
        "($(meta duration) in all)."
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| CPU | $(meta cpu), $(meta cpus) CPUs online |"
    echo "| memory | $(meta memory) |"
    echo "| GPU | $(meta gpu) |"
    echo "| OS | $(meta os) |"
    [ -z "$(meta ozip)" ] ||
        echo "| ozip | $(meta ozip); OpenBLAS kernel $(meta blas); all CPUs (no \`-T\`); default level -$(meta default_level) |"
    echo "| classic tools | $(meta tools) |"
    if [ "$(meta repeats)" = 1 ]; then
        echo "| timing | one run per measurement |"
    else
        echo "| timing | median of $(meta repeats) runs; a measurement whose first run took over $(meta repeat_limit) s ran once (column *runs*) |"
    fi
    echo "| load | $(meta load) |"
    echo
    echo "Commands (FILE is the input; every output is compared with FILE byte for byte):"
    echo
    meta cmd | sed 's/^\([^:]*\): \(.*\)$/- `\1`: `\2`/'
} > "$T/machine.md"

# ---------------------------------------------------------------- table
awk -F, -v ids="$IDS" '
# fmt: three decimals below 1, fewer above, so the columns stay short
function fmt(x) { return sprintf(x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : x >= 1 ? "%.2f" : "%.3f", x) }
# coded: "model:3 xz:1 zstd:0 stored:0" -> "model 3, xz 1"
function coded(s,   n, p, i, kv, out) {
    n = split(s, p, " ")
    for (i = 1; i <= n; i++) { split(p[i], kv, ":"); if (kv[2] > 0) out = out (out == "" ? "" : ", ") kv[1] " " kv[2] }
    return out == "" ? "-" : out
}
NR == 1 { next }
{
    if (!($1 in orig)) { files[++nf] = $1; orig[$1] = $2 }
    k = $1 SUBSEP $3
    bpb[k] = $7; total[k] = $4; row[k] = $0
}
END {
    n = split(ids, id, " ")
    print "### Bits per byte (lower is better; ozip counts its model)\n"
    print "![bits per byte for every file and compressor](bench-bpb.png)\n"
    printf "| file | bytes |"; for (i = 1; i <= n; i++) printf " %s |", id[i]; print ""
    printf "|---|---:|";      for (i = 1; i <= n; i++) printf "---:|"; print ""
    for (j = 1; j <= nf; j++) {
        f = files[j]; best = ""
        for (i = 1; i <= n; i++) if ((f SUBSEP id[i]) in bpb && (best == "" || bpb[f, id[i]] + 0 < best + 0)) best = bpb[f, id[i]]
        printf "| %s | %d |", f, orig[f]
        for (i = 1; i <= n; i++) {
            v = (f SUBSEP id[i]) in bpb ? sprintf("%.3f", bpb[f, id[i]]) : "-"
            printf " %s |", (bpb[f, id[i]] == best ? "**" v "**" : v)
        }
        print ""
    }
    print "\n### Ratio and speed\n"
    print "![compression ratio against compress and decompress speed](bench-speed.png)\n"
    print "### Every measurement\n"
    print "Times are medians in seconds, speeds in MB/s (10^6 bytes of input per second), peak RSS in MiB;"
    print "*runs* counts the timed compress / decompress runs; *vs xz* is bytes / xz -9e bytes;"
    print "*coded with* says how ozip coded its streams (model, or the xz/zstd/bzip2/brotli/stored fallback)."
    for (j = 1; j <= nf; j++) {
        f = files[j]
        printf "\n#### %s (%d bytes)\n\n", f, orig[f]
        print "| compressor | bytes | model | streams | bits/byte | vs xz | compress s | MB/s | decompress s | MB/s | peak RSS | runs | device | coded with |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
        for (i = 1; i <= n; i++) {
            if (!((f SUBSEP id[i]) in row)) continue
            split(row[f, id[i]], c, ",")
            vs = (f SUBSEP "xz-9e") in total ? sprintf("%.3f", c[4] / total[f, "xz-9e"]) : "-"
            printf "| %s | %d | %s | %s | %.3f | %s | %s | %s | %s | %s | %s / %s | %d / %d | %s | %s |\n",
                c[3], c[4], c[5] == "" ? "-" : c[5], c[6] == "" ? "-" : c[6], c[7], vs,
                fmt(c[8]), fmt(c[2] / 1e6 / c[8]), fmt(c[10]), fmt(c[2] / 1e6 / c[10]),
                fmt(c[12] / 1024), fmt(c[13] / 1024), c[9], c[11], c[14] == "" ? "-" : c[14], coded(c[15])
        }
    }
}' "$B/results.csv" > "$T/table.md"

# ---------------------------------------------------------------- pays
if [ "$(wc -l < "$B/pays.csv")" -gt 1 ]; then
    pays_file=$(awk -F, 'NR == 2 { sub(/@.*/, "", $1); print $1 }' "$B/pays.csv")
    # one line per slice: slice bytes model_bpb rest_bpb xz_bpb fallback ozip_id methods
    awk -F, 'NR > 1 {
        s = $1; sub(/.*@/, "", s)
        if (!(s in orig)) { order[++n] = s; orig[s] = $2 }
        if ($3 ~ /^ozip-/) {
            model[s] = 8 * $5 / $2; rest[s] = 8 * ($4 - $5) / $2; fb[s] = ($5 == 0); id = $3
            # the methods that coded the streams ("model:0 xz:0 bzip2:3 ..." -> bzip2)
            k = split($15, part, " "); how[s] = ""
            for (j = 1; j <= k; j++) { split(part[j], kv, ":"); if (kv[2] > 0) how[s] = how[s] (how[s] == "" ? "" : "+") kv[1] }
        } else xz[s] = $7
    }
    END { for (i = 1; i <= n; i++) { s = order[i]
        printf "%s %d %.4f %.4f %.4f %d %s %s\n", s, orig[s], model[s], rest[s], xz[s], fb[s], id, how[s] == "" ? "-" : how[s] } }' \
        "$B/pays.csv" > "$T/pays.dat"
    pays_id=$(awk 'NR == 1 { print $7 }' "$T/pays.dat")
    awk -v file="$pays_file" -v id="$pays_id" -v opts="$(meta pays_opts)" '
    BEGIN {
        printf "`%s`%s on the first bytes of `%s` (a slice), beside xz -9e; one run each.\n\n",
            id, opts == "" ? "" : " `" opts "`", file
        print "![ozip bits per byte split into model and streams, against xz -9e, by slice size](bench-pays.png)\n"
        print "| slice | bytes | ozip bits/byte | model | streams + header | xz -9e | ozip / xz | coded with |"
        print "|---|---:|---:|---:|---:|---:|---:|---|"
    }
    { printf "| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %s |\n", $1, $2, $3 + $4, $3, $4, $5,
          ($3 + $4) / $5, $6 ? $8 " (no model paid)" : $8 }' "$T/pays.dat" > "$T/pays.md"
else
    echo "Not measured in this run (PAYS_SLICES was empty)." > "$T/pays.md"
fi

# ---------------------------------------------------------------- markdown
awk -v dir="$T" '
/^<!-- BEGIN GENERATED: [a-z]+ -->$/ {
    print; name = $4; file = dir "/" name ".md"
    # sections of other scripts (engine: tests/bench/engine.sh) pass through
    if (name != "machine" && name != "table" && name != "pays") next
    if ((getline line < file) <= 0) { print "unknown generated section: " name > "/dev/stderr"; exit 1 }
    print ""; print line
    while ((getline line < file) > 0) print line
    close(file); print ""; skip = 1; done[name] = 1; next
}
/^<!-- END GENERATED -->$/ { skip = 0 }
!skip { print }
END {
    if (skip) { print "a generated section is not closed" > "/dev/stderr"; exit 1 }
    if (!done["machine"] || !done["table"] || !done["pays"]) {
        print "benchmarks.md lacks a generated section (machine, table, pays)" > "/dev/stderr"; exit 1 }
}' "$D/benchmarks.md" > "$T/benchmarks.md" || die "$D/benchmarks.md: cannot rewrite its generated sections"
cp "$T/benchmarks.md" "$D/benchmarks.md"

# ---------------------------------------------------------------- charts
# bpb.dat: a row per file, a column per compressor ("-" where not measured)
awk -F, -v ids="$IDS" 'NR > 1 { if (!($1 in seen)) { seen[$1] = 1; f[++nf] = $1 } v[$1, $3] = $7 }
END { n = split(ids, id, " ")
    for (j = 1; j <= nf; j++) { printf "%s", f[j]; for (i = 1; i <= n; i++) printf " %s", ((f[j], id[i]) in v) ? v[f[j], id[i]] : "-"; print "" } }' \
    "$B/results.csv" > "$T/bpb.dat"
# speed.dat: id ratio compress_MBps decompress_MBps, a row per file;
# total.dat: the same for all files taken together
awk -F, -v tot="$T/total.dat" 'NR > 1 { printf "%s %.4f %.4f %.4f\n", $3, $2 / $4, $2 / 1e6 / $8, $2 / 1e6 / $10
    o[$3] += $2; t[$3] += $4; c[$3] += $8; d[$3] += $10 }
END { for (k in o) printf "%s %.4f %.4f %.4f\n", k, o[k] / t[k], o[k] / 1e6 / c[k], o[k] / 1e6 / d[k] > tot }' \
    "$B/results.csv" > "$T/speed.dat"
rm -f "$D/bench-bpb.png" "$D/bench-speed.png" "$D/bench-pays.png"
pays=0
if [ -f "$T/pays.dat" ]; then pays=1; fi
# the label up to its first ':' or '.' marks every chart (no quotes: gnuplot -e)
note=$(meta label | sed "s/[:.].*//; s/'//g")
gnuplot -e "dat='$T'; out='$D'; ids='$IDS'; pays=$pays; paysid='${pays_id:-}'; paysfile='${pays_file:-}'; note='$note'" \
    tests/bench/charts.gp || die "gnuplot failed"
echo "bench: wrote $D/benchmarks.md, $B/*.csv and the charts $D/bench-*.png"
