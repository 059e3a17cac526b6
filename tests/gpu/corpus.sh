#!/bin/sh
# corpus.sh - every corpus file trained on the GPU and decoded on the CPU
# (tests/gpu/run.sh runs it with the corpus that bundle.sh carries).
# For each file: compress at the default level with --device cuda and
# --force-model (so a GPU-trained model codes it even where a classic
# method would win), check that the report says the model trained on cuda,
# then decode with --device cpu on every engine the host has (the reference
# model in core/ and each SIMD ISA) and compare with the input, byte for byte.
# Prints one "corpus NAME: ..." line per file with the sizes, for the record.
# Usage: OZIP=path/to/ozip tests/gpu/corpus.sh DIR
set -u
OZIP=${OZIP:-$(pwd)/ozip}
DIR=${1:?usage: corpus.sh DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/ozip-gpu-corpus.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1${2:+: $2}"; fails=$((fails + 1)); }

# the engines this host can run: ref always; an ISA when -V -v names it
engines=ref
for isa in scalar avx2 avx512; do
    OZIP_FORCE_ISA=$isa "$OZIP" -V -v 2>&1 | grep -q "^inference: $isa" && engines="$engines $isa"
done
echo "# decoding engines on this host: $engines"

n=0
for f in "$DIR"/*; do
    b=$(basename "$f")
    n=$((n + 1))
    t0=$(date +%s)
    if ! "$OZIP" -v -f --device=cuda --force-model -o "$T/$b.oz" "$f" 2> "$T/err"; then
        nok "$b: compress with --device cuda" "$(tail -3 "$T/err")"
        continue
    fi
    ct=$(($(date +%s) - t0))
    if grep -q "trained on cuda" "$T/err"; then
        ok "$b: the model trained on the GPU"
    else
        nok "$b: the model trained on the GPU" "$(grep -i "model\|train" "$T/err" | head -3)"
    fi
    bad=
    for e in $engines; do
        OZIP_FORCE_ISA=$e "$OZIP" -d -c --device=cpu "$T/$b.oz" 2> "$T/derr" | cmp -s - "$f" || bad="$bad $e"
    done
    if [ -z "$bad" ]; then
        ok "$b: trained with --device cuda, decodes with --device cpu on every engine ($engines) to identical bytes"
    else
        nok "$b: trained with --device cuda, decodes with --device cpu on every engine" "wrong or failed on:$bad ($(head -2 "$T/derr"))"
    fi
    echo "corpus $b: $(wc -c < "$f") -> $(wc -c < "$T/$b.oz") bytes in $ct s; $(grep -o "[0-9.]* bits/byte" "$T/err" | head -1)"
done
[ $n -gt 0 ] || nok "corpus files in $DIR" "none found"
exit $((fails > 0))
