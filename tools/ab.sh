#!/bin/sh
# ab.sh - compare the fast engine of an older commit with the working tree's
# on this machine, in TSC ticks per byte (tools/fwd_bench.c), running the two
# builds alternately so that both see the same machine state; each run keeps
# its fastest pass, and the script reports each build's fastest run.
#
#   tools/ab.sh REV MODEL [DATA [ISA [ROUNDS]]]
#
# REV: any commit (the "before" build, made in a temporary git worktree);
# MODEL: a model image (build/engine_bench --save-model FILE ...); DATA
# [data/demo.json]; ISA 0 scalar, 1 avx2, 2 avx512 [the best one here];
# ROUNDS of alternation [6]. Lower ticks are faster. The before build
# compiles the working tree's tools/fwd_bench.c against its own library.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 REV MODEL [DATA [ISA [ROUNDS]]]" >&2; exit 2; }
rev=$1
model=$(realpath "$2")
data=$(realpath "${3:-data/demo.json}")
isa=${4:-}
rounds=${5:-6}
cd "$(dirname "$0")/.."
root=$(pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ozip-ab.XXXXXX")
cleanup() { git -C "$root" worktree remove --force "$tmp/wt" > /dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
git worktree add --detach "$tmp/wt" "$rev" > /dev/null 2>&1 || { echo "ab.sh: no commit $rev" >&2; exit 1; }
libs=$(make -s print-ldlibs)
echo "ab.sh: building $rev" >&2
make -s -C "$tmp/wt" libozip.a > /dev/null
mkdir -p "$tmp/wt/tools"
cp tools/fwd_bench.c "$tmp/wt/tools/fwd_bench.c"
# shellcheck disable=SC2086
cc -std=c11 -D_GNU_SOURCE -O2 -pthread -o "$tmp/before" "$tmp/wt/tools/fwd_bench.c" "$tmp/wt/libozip.a" $libs
echo "ab.sh: building the working tree" >&2
make -s build/fwd_bench > /dev/null
cp build/fwd_bench "$tmp/after"
best() { awk -v k="$1" '$1 == k { if (m == "" || $2 < m) m = $2 } END { print m }' "$2"; }
i=0
while [ "$i" -lt "$rounds" ]; do
    # $isa unquoted: empty means no argument (the best ISA here)
    # shellcheck disable=SC2086
    "$tmp/before" "$model" "$data" $isa >> "$tmp/b.txt"
    # shellcheck disable=SC2086
    "$tmp/after" "$model" "$data" $isa >> "$tmp/a.txt"
    i=$((i + 1))
done
eb=$(best encode "$tmp/b.txt"); ea=$(best encode "$tmp/a.txt")
db=$(best decode "$tmp/b.txt"); da=$(best decode "$tmp/a.txt")
echo "ticks per byte, fastest of $rounds alternating runs (lower is faster):"
awk -v eb="$eb" -v ea="$ea" -v db="$db" -v da="$da" -v rev="$rev" 'BEGIN {
    printf "  encode: %s %d, working tree %d: the working tree %.2fx as fast\n", rev, eb, ea, eb / ea
    printf "  decode: %s %d, working tree %d: the working tree %.2fx as fast\n", rev, db, da, db / da }'
grep '^#' "$tmp/a.txt" | tail -1
