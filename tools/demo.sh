#!/bin/sh
# demo.sh - the main job on the built-in demo data: compress it with ozip
# (a model trained on the file), decompress, check the bytes, and put the
# result beside xz -9. Run by `make demo`.
set -eu
cd "$(dirname "$0")/.."
DEMO=${DEMO:-data/demo.json}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/ozip-demo.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
[ -f "$DEMO" ] || { echo "demo: $DEMO is missing" >&2; exit 1; }
orig=$(wc -c < "$DEMO")
echo "demo: $DEMO ($orig bytes: $(sed -n 1p data/README.md 2>/dev/null | sed 's/^# //'))"
echo "demo: training a model on it and compressing (progress below; about 2-4 minutes on 2 cores)..."
start=$(date +%s)
./ozip -v -f -o "$OUT/demo.oz" "$DEMO"
mid=$(date +%s)
./ozip -d -c "$OUT/demo.oz" > "$OUT/demo.out"
end=$(date +%s)
cmp -s "$DEMO" "$OUT/demo.out" || { echo "demo: ROUND TRIP FAILED" >&2; exit 1; }
oz=$(wc -c < "$OUT/demo.oz")
model=$(./ozip -l -v "$OUT/demo.oz" | sed -n 's/.*, \([0-9]*\) bytes stored.*/\1/p')
model=${model:-0}
xz=$(xz -9 -c "$DEMO" | wc -c)
echo
echo "original            $orig bytes"
printf '.oz                 %s bytes = model %s + streams and header %s  (%s bits/byte)\n' \
    "$oz" "$model" $((oz - model)) "$(awk "BEGIN{printf \"%.3f\", 8*$oz/$orig}")"
printf 'xz -9               %s bytes  (%s bits/byte)\n' "$xz" "$(awk "BEGIN{printf \"%.3f\", 8*$xz/$orig}")"
printf 'ozip / xz           %s\n' "$(awk "BEGIN{printf \"%.3f\", $oz/$xz}")"
echo "round trip          identical ($((mid - start)) s to compress, $((end - mid)) s to decompress)"
if [ "$model" -eq 0 ]; then
    echo "note: no model paid for itself on this file; ozip stored it with xz/zstd instead."
fi
