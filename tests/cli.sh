#!/bin/sh
# cli.sh - the ozip command line: exit codes, file handling, stdin/stdout,
# tar -I, corruption leaving no output, and round trips of every corpus file.
# Prints "ok - ..." / "not ok - ..." / "skip - ..." lines (counted by run.sh).
set -u
OZIP=${OZIP:-$(pwd)/ozip}
ROOT=$(pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/ozip-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
FAST="--arch=L=1,D=16,H=2,F=32,W=16 --epochs=0.5 -T2"
fails=0

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1${2:+: $2}"; fails=$((fails + 1)); }
check() { # check NAME EXPECTED_RC ACTUAL_RC
    if [ "$2" = "$3" ]; then ok "$1"; else nok "$1" "exit $3, expected $2"; fi
}

cd "$T" || exit 1
# sample data: a real file when available, else the built-in demo data
if [ -f "$ROOT/../shared/corpus/log-OpenSSH_2k.log" ]; then
    head -c 60000 "$ROOT/../shared/corpus/log-OpenSSH_2k.log" > text
else
    head -c 60000 "$ROOT/data/taxi-yellow_tripdata_2015-01.csv" > text
fi
cp text text.orig

# --- basics
"$OZIP" -V > v.out 2>&1; check "ozip -V exits 0" 0 $?
grep -q "^ozip [0-9]" v.out && grep -q "^backends: .*cpu" v.out && ok "ozip -V names the version and backends" \
    || nok "ozip -V names the version and backends" "$(cat v.out)"
"$OZIP" -V -v > vv.out 2>&1; grep -q "OpenBLAS" vv.out && ok "ozip -V -v reports the BLAS kernel" \
    || nok "ozip -V -v reports the BLAS kernel"
# -V -v names the engine OZIP_FORCE_ISA picks, ref included (decoding accepts it)
for isa in ref scalar; do
    OZIP_FORCE_ISA=$isa "$OZIP" -V -v 2>&1 | grep "^inference:" > isa.out
    case "$isa:$(cat isa.out)" in
    "ref:inference: reference"* | "scalar:inference: scalar") ok "OZIP_FORCE_ISA=$isa: -V -v names that engine" ;;
    *) nok "OZIP_FORCE_ISA=$isa: -V -v names that engine" "$(cat isa.out)" ;;
    esac
done
"$OZIP" -h > h.out 2>&1; check "ozip -h exits 0" 0 $?
grep -q -- "--decompress" h.out && ok "help lists the options" || nok "help lists the options"
"$OZIP" --no-such-option text > /dev/null 2>&1; check "unknown option exits 2" 2 $?
"$OZIP" -T abc text > /dev/null 2>&1; check "bad -T value exits 2" 2 $?
"$OZIP" --device=gpu text > /dev/null 2>&1; check "unknown device exits 2" 2 $?
"$OZIP" -o a -c text > /dev/null 2>&1; check "-o with -c exits 2" 2 $?
"$OZIP" -o x text text.orig > /dev/null 2>&1; check "-o with two inputs exits 2" 2 $?
"$OZIP" missing-file 2> err.out; check "missing input exits 1" 1 $?
grep -q "missing-file: No such file" err.out && ok "missing input names the file and the reason" \
    || nok "missing input names the file and the reason" "$(cat err.out)"

# --- compress / decompress files
"$OZIP" -q $FAST text; check "compress FILE exits 0" 0 $?
[ -f text.oz ] && [ -f text ] && ok "FILE.oz written and input kept" || nok "FILE.oz written and input kept"
ls -a | grep -q "ozip-" && nok "no temporary file left" || ok "no temporary file left"
"$OZIP" -q $FAST text 2> err.out; check "existing output without -f exits 1" 1 $?
grep -q "already exists" err.out && ok "existing output: message says so" || nok "existing output: message says so"
"$OZIP" -q -f $FAST text; check "existing output with -f exits 0" 0 $?
rm -f text
"$OZIP" -d text.oz; check "decompress exits 0" 0 $?
cmp -s text text.orig && ok "decompressed file is identical" || nok "decompressed file is identical"
[ -f text.oz ] && ok "decompress keeps the .oz file" || nok "decompress keeps the .oz file"
"$OZIP" -d text 2> err.out; check "decompress of a name without .oz exits 1" 1 $?
"$OZIP" -t text.oz; check "-t on a good file exits 0" 0 $?
# OpenBLAS loads only to train (gpu_train/blas.c): glibc's loader names each
# library it loads under LD_DEBUG=files; compressing is the control
LD_DEBUG=files "$OZIP" -c --force-model --device=cpu $FAST text.orig 2> ld-c.out > ld.oz
LD_DEBUG=files "$OZIP" -d -c ld.oz 2> ld-d.out | cmp -s - text.orig && grep -q "libopenblas" ld-c.out &&
    ! grep -q "libopenblas" ld-d.out
if [ $? = 0 ]; then
    ok "decompressing does not load OpenBLAS; compressing does"
else
    nok "decompressing does not load OpenBLAS; compressing does" \
        "$(grep -c libopenblas ld-d.out) lines in decompress, $(grep -c libopenblas ld-c.out) in compress"
fi
"$OZIP" -l text.oz > l.out; check "-l exits 0" 0 $?
grep -q "text.oz" l.out && grep -q "Bits/byte" l.out && ok "-l prints a table" || nok "-l prints a table" "$(cat l.out)"
"$OZIP" -l -v text.oz > lv.out; grep -q "model:" lv.out && ok "-l -v describes the model" || nok "-l -v describes the model"
"$OZIP" -q $FAST text.oz 2> err.out; check "compressing a .oz file again exits 1" 1 $?

# --rm and -k
cp text.orig t2
"$OZIP" -q $FAST --rm t2; check "--rm exits 0" 0 $?
[ ! -f t2 ] && [ -f t2.oz ] && ok "--rm removes the input after success" || nok "--rm removes the input after success"
"$OZIP" -d -k t2.oz && [ -f t2.oz ] && cmp -s t2 text.orig && ok "-d -k keeps the .oz and restores the file" \
    || nok "-d -k keeps the .oz and restores the file"

# -o and -c
"$OZIP" -q $FAST -o out.oz text; check "-o exits 0" 0 $?
"$OZIP" -d -c out.oz > out.dec; check "-d -c exits 0" 0 $?
cmp -s out.dec text.orig && ok "-d -c writes the original to stdout" || nok "-d -c writes the original to stdout"
"$OZIP" -d -o - out.oz > dash.dec && cmp -s dash.dec text.orig && [ ! -e ./- ] &&
    ok "-o - writes standard output (no file named -)" || nok "-o - writes standard output (no file named -)"
"$OZIP" -q $FAST -c text > c.oz; check "-c exits 0" 0 $?
cmp -s c.oz out.oz && ok "-c and -o produce the same bytes (deterministic)" || nok "-c and -o produce the same bytes (deterministic)"

# stdin / stdout
"$OZIP" -q $FAST < text > s.oz; check "stdin to stdout compress exits 0" 0 $?
"$OZIP" -d < s.oz > s.dec; check "stdin to stdout decompress exits 0" 0 $?
cmp -s s.dec text.orig && ok "stdin/stdout round trip" || nok "stdin/stdout round trip"
cat text | "$OZIP" -q $FAST - | "$OZIP" -d - | cmp -s - text.orig && ok "pipe round trip with '-'" \
    || nok "pipe round trip with '-'"

# tar -I ozip
mkdir -p dir/sub && cp text dir/a && printf 'hello\n' > dir/sub/b && head -c 3000 /dev/urandom > dir/sub/c
if tar --version > /dev/null 2>&1; then
    tar -I "$OZIP" -cf x.tar.oz dir; check "tar -I ozip -c exits 0" 0 $?
    mkdir ex && (cd ex && tar -I "$OZIP" -xf ../x.tar.oz); check "tar -I ozip -x exits 0" 0 $?
    diff -r dir ex/dir > /dev/null && ok "tar round trip through ozip is identical" || nok "tar round trip through ozip is identical"
else
    echo "skip - tar -I ozip: tar is not installed"
fi

# --- corruption leaves no output and exits 1
cp out.oz bad.oz
size=$(wc -c < bad.oz)
for off in 0 10 30 $((size / 2)) $((size - 5)); do
    cp out.oz bad.oz
    printf '\377' | dd of=bad.oz bs=1 seek=$off conv=notrunc 2>/dev/null
    rm -f bad
    "$OZIP" -d bad.oz 2> err.out; rc=$?
    if [ $rc = 1 ] && [ ! -f bad ] && ! ls -a | grep -q "\.bad\.ozip-"; then
        ok "corrupt byte at $off: exit 1, no output file"
    else
        nok "corrupt byte at $off: exit 1, no output file" "exit $rc; $(cat err.out)"
    fi
done
head -c $((size - 7)) out.oz > trunc.oz
"$OZIP" -d trunc.oz 2> err.out; check "truncated file exits 1" 1 $?
grep -q -i "truncated" err.out && ok "truncated file: message says truncated" || nok "truncated file: message says truncated" "$(cat err.out)"
[ ! -f trunc ] && ok "truncated file: no output left" || nok "truncated file: no output left"
printf 'not an oz file at all\n' > foreign.oz
"$OZIP" -d foreign.oz 2> err.out; check "foreign file exits 1" 1 $?
grep -q "not an .oz file" err.out && ok "foreign file: message says not ozip" || nok "foreign file: message says not ozip" "$(cat err.out)"
"$OZIP" -t trunc.oz 2> /dev/null; check "-t on a truncated file exits 1" 1 $?

# --- several frames: `ozip -c a b` and `cat a.oz b.oz` decode to the contents
# one after the other (as gzip, xz and zstd); anything else after a frame is
# an error
head -c 20000 text > part1; tail -c 30000 text > part2; : > part3
cat part1 part2 part3 part1 > parts.all
"$OZIP" -q -c $FAST --force-model part1 > p1.oz && "$OZIP" -q -c --no-model part2 part3 > p23.oz
check "-c with several inputs exits 0" 0 $?
cat p1.oz p23.oz p1.oz > cat.oz
"$OZIP" -d -c cat.oz > cat.dec; check "-d of concatenated .oz files exits 0" 0 $?
cmp -s cat.dec parts.all && ok "concatenated .oz files (a model frame, classic, empty, the model frame again) decode to the contents in order" ||
    nok "concatenated .oz files (a model frame, classic, empty, the model frame again) decode to the contents in order"
"$OZIP" -t cat.oz; check "-t of concatenated .oz files exits 0" 0 $?
"$OZIP" -l cat.oz > l.out; check "-l of concatenated .oz files exits 0" 0 $?
grep -q "(4 frames)" l.out && grep -q " $(wc -c < cat.oz | awk '{printf "%.2f", $1/1024}') KiB" l.out &&
    ok "-l counts the frames and the whole size" || nok "-l counts the frames and the whole size" "$(cat l.out)"
"$OZIP" -l p1.oz p23.oz cat.oz > l.out
[ "$(awk 'NR > 1 && $NF != "total" { s += $1 } END { print s }' l.out)" = "$(awk '$NF == "total" { print $1 }' l.out)" ] &&
    grep -q "(3 files) *total$" l.out && ok "-l of several files ends with their totals" ||
    nok "-l of several files ends with their totals" "$(cat l.out)"
{ cat p1.oz; printf 'junk'; } > junk.oz
"$OZIP" -d junk.oz 2> err.out; rc=$?
if [ $rc = 1 ] && [ ! -f junk ] && grep -q "4 bytes of trailing data after the last .oz frame" err.out; then
    ok "bytes after the last frame: exit 1, named, no output"
else
    nok "bytes after the last frame: exit 1, named, no output" "exit $rc; $(cat err.out)"
fi
size=$(wc -c < p1.oz)
{ cat p1.oz; head -c $((size - 3)) p1.oz; } > cut.oz
"$OZIP" -d cut.oz 2> err.out; rc=$?
if [ $rc = 1 ] && [ ! -f cut ] && grep -q "^ozip: cut.oz: frame 2 (at byte $size): file is truncated" err.out; then
    ok "a second frame cut short: exit 1, the frame named, no output"
else
    nok "a second frame cut short: exit 1, the frame named, no output" "exit $rc; $(cat err.out)"
fi

# --- --buffer: decoding holds that much output at a time (ozip_decompress_to)
"$OZIP" -q -c $FAST --force-model --stream-size=4K text > buf.oz
"$OZIP" -d -c --buffer=5K buf.oz | cmp -s - text.orig && "$OZIP" -d -o buf.dec --buffer=9K buf.oz && cmp -s buf.dec text.orig &&
    "$OZIP" -t --buffer=1 buf.oz && ok "--buffer below the content: -d -c, -d -o and -t in pieces give the input" ||
    nok "--buffer below the content: -d -c, -d -o and -t in pieces give the input"
size=$(wc -c < buf.oz)
cp buf.oz bufbad.oz
printf '\377' | dd of=bufbad.oz bs=1 seek=$((size - 2)) conv=notrunc 2>/dev/null
rm -f bufbad
"$OZIP" -d --buffer=5K bufbad.oz 2> err.out; rc=$?
[ $rc = 1 ] && [ ! -e bufbad ] && ! ls -a | grep -q "\.bufbad\.ozip-" &&
    ok "--buffer, the last stream damaged: exit 1, no output file or temporary file left" ||
    nok "--buffer, the last stream damaged: exit 1, no output file or temporary file left" "exit $rc; $(cat err.out)"
"$OZIP" -d -c --buffer=5K bufbad.oz > part.out 2> err.out; rc=$?
n=$(wc -c < part.out)
[ $rc = 1 ] && [ "$n" -gt 0 ] && [ "$n" -lt 60000 ] && head -c "$n" text.orig | cmp -s - part.out &&
    ok "--buffer -c, the last stream damaged: exit 1 after writing only checked pieces of the input ($n bytes)" ||
    nok "--buffer -c, the last stream damaged: exit 1 after writing only checked pieces of the input" "exit $rc, $n bytes; $(cat err.out)"
"$OZIP" -d -c bufbad.oz > part.out 2> /dev/null; rc=$?
[ $rc = 1 ] && [ ! -s part.out ] && ok "without --buffer (it fits), the same: exit 1, nothing written" ||
    nok "without --buffer (it fits), the same: exit 1, nothing written" "exit $rc, $(wc -c < part.out) bytes"
"$OZIP" -t --buffer=0 buf.oz 2> /dev/null; check "--buffer=0 exits 2" 2 $?

# --- compressing a pipe: a frame per --frame-size bytes (1G by default), each
# written before the next is read. The split is checked against the pieces
# compressed one by one (the classic methods are deterministic).
: > pieces.oz
i=0
while [ $((i * 16384)) -lt 60000 ]; do
    dd if=text.orig bs=16384 skip=$i count=1 2> /dev/null | "$OZIP" -q -c --no-model >> pieces.oz
    i=$((i + 1))
done
cat text.orig | "$OZIP" -q -c --no-model --frame-size=16K > fpipe.oz; check "a pipe with --frame-size exits 0" 0 $?
cmp -s fpipe.oz pieces.oz && ok "a pipe with --frame-size=16K is a frame per 16 KiB of input (the pieces compressed one by one)" ||
    nok "a pipe with --frame-size=16K is a frame per 16 KiB of input" "$(wc -c < fpipe.oz) against $(wc -c < pieces.oz) bytes"
"$OZIP" -d -c fpipe.oz | cmp -s - text.orig && "$OZIP" -l fpipe.oz | grep -q "(4 frames)" &&
    ok "a pipe in frames decodes to the input; -l counts 4 frames" || nok "a pipe in frames decodes to the input; -l counts 4 frames"
{ head -c 10000 text.orig; sleep 0.3; tail -c +10001 text.orig; } | "$OZIP" -q -c --no-model --frame-size=16K | cmp -s - pieces.oz &&
    ok "a pipe that delivers its bytes in bursts gives the same frames" || nok "a pipe that delivers its bytes in bursts gives the same frames"
"$OZIP" -q -c --no-model --frame-size=16K text.orig | cmp -s - pieces.oz &&
    ok "--frame-size splits a regular file the same way" || nok "--frame-size splits a regular file the same way"
head -c 32768 text.orig > fr32
"$OZIP" -q -c --no-model --frame-size=16K < fr32 > f2.oz && "$OZIP" -d -c f2.oz | cmp -s - fr32 &&
    "$OZIP" -l f2.oz | grep -q "(2 frames)" &&
    ok "input of exactly two frame sizes: two frames, no empty third" ||
    nok "input of exactly two frame sizes: two frames, no empty third" "$("$OZIP" -l f2.oz 2>&1)"
head -c 32768 text.orig | "$OZIP" -q -c --no-model --frame-size=16K | cmp -s - f2.oz &&
    ok "the same through a pipe (the end found by a read that returns nothing)" ||
    nok "the same through a pipe (the end found by a read that returns nothing)"
"$OZIP" -q -c --no-model text.orig > nf.oz
cat text.orig | "$OZIP" -q -c --no-model | cmp -s - nf.oz &&
    ok "a pipe below the default frame size (1G) is one frame, the same bytes as the file" ||
    nok "a pipe below the default frame size (1G) is one frame, the same bytes as the file"
cat text.orig | "$OZIP" -v -c --no-model --frame-size=16K 2> err.out > /dev/null
grep -q "60000 -> $(wc -c < pieces.oz) bytes.*; 4 frames" err.out && ok "-v sums the frames" || nok "-v sums the frames" "$(cat err.out)"
"$OZIP" -c --frame-size=1K text.orig > /dev/null 2>&1; check "--frame-size below 4K exits 2" 2 $?
# with a model: the first frame's model codes the later frames (checked
# against piece 1, then pieces 2 to 4 given that model); --train-each-frame
# trains one per frame (checked against the pieces compressed one by one)
dd if=text.orig bs=16384 count=1 2> /dev/null | "$OZIP" -q -c $FAST --force-model --save-model=f1.ozm > mlend.oz
dd if=text.orig bs=16384 count=1 2> /dev/null | "$OZIP" -q -c $FAST --force-model > meach.oz
i=1
while [ $((i * 16384)) -lt 60000 ]; do
    dd if=text.orig bs=16384 skip=$i count=1 2> /dev/null > piece
    "$OZIP" -q -c $FAST --force-model --model=f1.ozm < piece >> mlend.oz
    "$OZIP" -q -c $FAST --force-model < piece >> meach.oz
    i=$((i + 1))
done
cat text.orig | "$OZIP" -q -c $FAST --force-model --frame-size=16K | cmp -s - mlend.oz &&
    ok "--frame-size with a model: the first frame's model codes the later frames" ||
    nok "--frame-size with a model: the first frame's model codes the later frames"
cat text.orig | "$OZIP" -q -c $FAST --force-model --frame-size=16K --train-each-frame | cmp -s - meach.oz &&
    ok "--train-each-frame: a model trained for every frame" || nok "--train-each-frame: a model trained for every frame"
# decompressing a pipe: a frame at a time (ozip_decompress_stream), so the
# frames before a damaged one are written (each checked); a file is all or nothing
cat fpipe.oz | "$OZIP" -d -c | cmp -s - text.orig && cat cat.oz | "$OZIP" -d -c --buffer=5K | cmp -s - parts.all &&
    cat fpipe.oz | "$OZIP" -t && ok "-d and -t from a pipe, a frame at a time" || nok "-d and -t from a pipe, a frame at a time"
size=$(wc -c < p1.oz)
cat cut.oz | "$OZIP" -d -c > part.out 2> err.out; rc=$?
[ $rc = 1 ] && cmp -s part.out part1 && grep -q "^ozip: (stdin): frame 2 (at byte $size): file is truncated" err.out &&
    ok "a pipe whose second frame is cut: exit 1 after the first frame's content, the frame named" ||
    nok "a pipe whose second frame is cut: exit 1 after the first frame's content, the frame named" "exit $rc, $(wc -c < part.out) bytes; $(cat err.out)"
rm -f pcut
cat cut.oz | "$OZIP" -d -o pcut 2> /dev/null; rc=$?
[ $rc = 1 ] && [ ! -e pcut ] && ! ls -a | grep -q "\.pcut\.ozip-" && ok "the same to a file: exit 1, nothing left" ||
    nok "the same to a file: exit 1, nothing left" "exit $rc"
# the output cannot take the later frames (a file size limit; ulimit -f counts
# 512- or 1024-byte blocks: 2 or 4 KiB, more than a 4K frame's output, less
# than the whole): exit 1, nothing left behind
rm -f lim.oz
(trap '' XFSZ; ulimit -f 4; cat text.orig | "$OZIP" -q --no-model --frame-size=4K -o lim.oz) 2> err.out; rc=$?
[ $rc = 1 ] && [ ! -e lim.oz ] && ! ls -a | grep -q "\.lim\.oz\.ozip-" && grep -q "lim.oz: File too large" err.out &&
    ok "the output fails at a later frame: exit 1, no output or temporary file left" ||
    nok "the output fails at a later frame: exit 1, no output or temporary file left" "exit $rc; $(cat err.out)"

# --- the output keeps the input's permissions, times and (as root) owner
head -c 5000 text > attr; chmod 0640 attr; touch -d '2001-02-03 04:05:06' attr
"$OZIP" -q --no-model attr && mv attr attr.in && "$OZIP" -d attr.oz &&
    [ "$(stat -c '%a %Y' attr.in)" = "$(stat -c '%a %Y' attr.oz)" ] && [ "$(stat -c '%a %Y' attr)" = "$(stat -c '%a %Y' attr.in)" ] &&
    ok "compress and decompress keep the permissions and modification time" ||
    nok "compress and decompress keep the permissions and modification time" "$(stat -c '%a %Y %n' attr.in attr.oz attr 2>&1)"
if [ "$(id -u)" = 0 ] && id nobody > /dev/null 2>&1; then
    rm -f attr.oz; chown nobody attr
    "$OZIP" -q --no-model attr && [ "$(stat -c '%U:%G' attr.oz)" = "$(stat -c '%U:%G' attr)" ] &&
        ok "as root the output keeps the input's owner" || nok "as root the output keeps the input's owner" "$(stat -c '%U:%G %n' attr attr.oz)"
else
    echo "skip - keeping the owner: not root"
fi
# a user who cannot keep the owner or group: no setuid or setgid bit, and the
# group's access no more than others'
if [ "$(id -u)" = 0 ] && id nobody > /dev/null 2>&1 && command -v runuser > /dev/null 2>&1; then
    mkdir -m 777 nb && chmod 711 . && cp "$OZIP" nb/ozip && chmod 755 nb/ozip && head -c 5000 text > nb/s &&
        chown root:root nb/s && chmod 6775 nb/s &&
        runuser -u nobody -- nb/ozip -q --no-model nb/s &&
        [ "$(stat -c '%a %U' nb/s.oz)" = "755 nobody" ] &&
        ok "another user's output: no setuid or setgid bit, the group's access only the others'" ||
        nok "another user's output: no setuid or setgid bit, the group's access only the others'" "$(stat -c '%a %U:%G %n' nb/s nb/s.oz 2>&1)"
    chmod 700 .
else
    echo "skip - outputs of another user: not root, or no user nobody or runuser"
fi

# --- --rm refuses a symbolic link and a file with other hard links (as xz), -f goes on
head -c 5000 text > tgt; ln -s tgt lnk; ln tgt hard
"$OZIP" -q --no-model --rm lnk 2> err.out; rc=$?
[ $rc = 1 ] && [ -L lnk ] && [ ! -e lnk.oz ] && grep -q "symbolic link" err.out &&
    ok "--rm on a symbolic link: skipped, exit 1, the link kept" || nok "--rm on a symbolic link: skipped, exit 1, the link kept" "exit $rc; $(cat err.out)"
"$OZIP" -q --no-model --rm hard 2> err.out; rc=$?
[ $rc = 1 ] && [ -f hard ] && [ ! -e hard.oz ] && grep -q "hard links" err.out &&
    ok "--rm on a file with another hard link: skipped, exit 1" || nok "--rm on a file with another hard link: skipped, exit 1" "exit $rc; $(cat err.out)"
"$OZIP" -q --no-model --rm -f lnk && [ ! -e lnk ] && [ -f tgt ] && "$OZIP" -d -c lnk.oz | cmp -s - tgt &&
    ok "--rm -f on a symbolic link: the target's content compressed, the link removed, the target kept" ||
    nok "--rm -f on a symbolic link: the target's content compressed, the link removed, the target kept"
"$OZIP" -q --no-model hard && [ -f hard.oz ] && ok "without --rm a file with hard links is compressed" ||
    nok "without --rm a file with hard links is compressed"

# --- training on a sample
"$OZIP" -q -c $FAST --force-model --sample=16K text > smp.oz && "$OZIP" -d -c smp.oz | cmp -s - text.orig &&
    ok "--sample trains on part of the input and codes all of it" || nok "--sample trains on part of the input and codes all of it"
"$OZIP" --sample=10 text > /dev/null 2>&1; check "--sample below 4K exits 2" 2 $?

# --- cross-decoding through the whole command: the same trained model
# (training does not depend on the engine) coded by every engine this CPU
# has, OZIP_FORCE_ISA=ref (core) included: the same .oz bytes from each, and
# each engine decodes what the reference encoded. Head width 16 at W = 40,
# so encode takes the 16-row attention kernels.
XARCH="--arch=L=1,D=32,H=2,F=64,W=40 --epochs=0.3 -T2"
head -c 20000 text > xtext
isas=""
for isa in ref scalar avx2 avx512; do
    if OZIP_FORCE_ISA=$isa "$OZIP" -q -c --force-model $XARCH xtext > "x-$isa.oz" 2> "x-$isa.err"; then
        isas="$isas $isa"
    elif grep -q "$isa" "x-$isa.err"; then
        echo "skip - OZIP_FORCE_ISA=$isa: $(head -n 1 "x-$isa.err")"
    else
        nok "OZIP_FORCE_ISA=$isa compresses" "$(head -n 1 "x-$isa.err")"
    fi
done
same=1 good=1
for isa in $isas; do
    cmp -s x-ref.oz "x-$isa.oz" || same=0
    OZIP_FORCE_ISA=$isa "$OZIP" -d -c x-ref.oz | cmp -s - xtext || good=0
done
[ "$same" = 1 ] && [ -n "$isas" ] && ok "every engine (${isas# }) writes the reference's .oz bytes" \
    || nok "every engine (${isas# }) writes the reference's .oz bytes"
[ "$good" = 1 ] && [ -n "$isas" ] && ok "every engine (${isas# }) decodes the reference's .oz to the input" \
    || nok "every engine (${isas# }) decodes the reference's .oz to the input"

# --- models: save, reuse, external
"$OZIP" -q $FAST --force-model --save-model=m.ozm -o m1.oz text; check "--save-model exits 0" 0 $?
rm -f nm.oz nm.ozm
"$OZIP" --no-model --save-model=nm.ozm -o nm.oz text 2> err.out; rc=$?
[ $rc = 1 ] && [ ! -e nm.oz ] && [ ! -e nm.ozm ] && grep -q "nm.ozm: this file has no model" err.out &&
    ok "--save-model where no model is used: exit 1, the reason, no output left" ||
    nok "--save-model where no model is used: exit 1, the reason, no output left" "exit $rc; $(cat err.out)"
head -c 30000 text > half
"$OZIP" -q --model=m.ozm --external-model --force-model -o ext.oz half; check "--model --external-model exits 0" 0 $?
"$OZIP" -d -c ext.oz > /dev/null 2> err.out; check "external model missing exits 1" 1 $?
grep -q -- "--model" err.out && ok "external model missing: message says to pass --model" || nok "external model missing: message says to pass --model" "$(cat err.out)"
"$OZIP" -d -c --model=m.ozm ext.oz | cmp -s - half && ok "external model given: identical output" \
    || nok "external model given: identical output"
# a file that is not a model: refused once, naming it, before any input is touched
head -c 100 m.ozm > short.ozm
rm -f half.oz text.oz
"$OZIP" -q --model=short.ozm half text 2> err.out; check "a truncated model file exits 1" 1 $?
[ "$(wc -l < err.out)" -eq 1 ] && grep -q "^ozip: short.ozm: " err.out && [ ! -e half.oz ] && [ ! -e text.oz ] &&
    ok "a truncated model file: one message naming it, no output written" ||
    nok "a truncated model file: one message naming it, no output written" "$(cat err.out)"
"$OZIP" -d -c --model=text ext.oz > /dev/null 2> err.out; check "decoding with a --model that is not a model exits 1" 1 $?
grep -q "^ozip: text: .*not an ozip model" err.out && ok "decoding with a --model that is not a model says so" ||
    nok "decoding with a --model that is not a model says so" "$(cat err.out)"

# --- --device cuda: the CUDA trainer plugin (build/libozip_cuda.so) and a GPU
cuda_line=$(sed -n 's/^cuda: //p' vv.out)
if ! echo "$cuda_line" | grep -q "^not available"; then
    grep -q "^backends: .*cuda" v.out && ok "ozip -V lists cuda (the CUDA trainer plugin is built and loads)" \
        || nok "ozip -V lists cuda (the CUDA trainer plugin is built and loads)" "$(cat v.out)"
else
    grep -q "^backends: .*cuda" v.out && nok "ozip -V lists cuda only when the plugin loads" "$cuda_line" \
        || ok "ozip -V does not list cuda: $cuda_line"
fi
"$OZIP" --device=cuda -q $FAST --force-model -o cu.oz text 2> err.out; rc=$?
if echo "$cuda_line" | grep -q "GPU 0:"; then
    check "--device cuda trains on the GPU" 0 $rc
    "$OZIP" -d -c --device=cpu cu.oz | cmp -s - text.orig &&
        ok "a file trained with --device cuda decodes with --device cpu to identical bytes" ||
        nok "a file trained with --device cuda decodes with --device cpu to identical bytes"
    "$OZIP" -v -c $FAST --force-model text 2>&1 > /dev/null | grep -q "trained on cuda" &&
        ok "--device auto trains on the GPU and says so at -v" || nok "--device auto trains on the GPU and says so at -v"
else
    check "--device cuda without a usable GPU exits 1" 1 $rc
    grep -q -- "--device cuda: ." err.out && ok "--device cuda without a usable GPU says why: $(sed 's/.*--device cuda: //' err.out)" \
        || nok "--device cuda without a usable GPU says why" "$(cat err.out)"
    [ ! -f cu.oz ] && ok "--device cuda failing leaves no output" || nok "--device cuda failing leaves no output"
    "$OZIP" -v -c $FAST --force-model text 2> auto.err > auto.oz && grep -q "training on the CPU: " auto.err &&
        grep -q "trained on cpu" auto.err && "$OZIP" -d -c auto.oz | cmp -s - text.orig &&
        ok "--device auto without a GPU trains on the CPU, with a note at -v" ||
        nok "--device auto without a GPU trains on the CPU, with a note at -v" "$(cat auto.err)"
    echo "skip - --device cuda round trip (train on the GPU, decode with --device cpu): no usable GPU"
fi
# the same host path through the CPU emulation of the CUDA trainer (tests/cuda_emu)
EMU="$ROOT/build/tests/emu"
if [ -f "$EMU/libozip_cuda.so" ]; then
    LD_LIBRARY_PATH="$EMU" OZIP_CUDA_PLUGIN="$EMU/libozip_cuda.so" "$OZIP" -v --device=cuda $FAST --force-model \
        -o emu.oz text 2> err.out && grep -q "trained on cuda" err.out && "$OZIP" -d -c --device=cpu emu.oz | cmp -s - text.orig &&
        ok "[CPU emulation] --device cuda trains through the plugin; --device cpu decodes the file to identical bytes" ||
        nok "[CPU emulation] --device cuda trains through the plugin; --device cpu decodes the file to identical bytes" "$(cat err.out)"
else
    echo "skip - [CPU emulation] --device cuda through the plugin: build/tests/emu/libozip_cuda.so is not built (make test builds it)"
fi
"$OZIP" -q $FAST --no-model -o nm.oz text && "$OZIP" -l -v nm.oz | grep -q "model: none" && ok "--no-model stores no model" \
    || nok "--no-model stores no model"
head -c 5000 /dev/urandom > rnd
"$OZIP" -q --model=m.ozm --external-model -o ext2.oz rnd && "$OZIP" -d -c ext2.oz | cmp -s - rnd &&
    ok "a given model that no stream uses is dropped (decodes without it)" || nok "a given model that no stream uses is dropped (decodes without it)"

# --- every corpus file round trips (a small model, forced, so the model path is exercised)
CORPUS="$ROOT/../shared/corpus"
if [ -d "$CORPUS" ]; then
    for f in "$CORPUS"/*; do
        case "$f" in *.md) continue ;; esac
        b=$(basename "$f")
        start=$(date +%s)
        if "$OZIP" -q -c --force-model --arch=L=1,D=16,H=2,F=32,W=16 --epochs=0.2 -T2 "$f" > "$b.oz" &&
            "$OZIP" -d -c "$b.oz" | cmp -s - "$f"; then
            ok "corpus $b round trips through the model ($(wc -c < "$b.oz") bytes, $(( $(date +%s) - start )) s)"
        else
            nok "corpus $b round trips through the model"
        fi
        rm -f "$b.oz"
    done
else
    echo "skip - corpus round trips: ../shared/corpus is not present"
fi
exit $((fails > 0))
