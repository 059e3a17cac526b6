#!/bin/sh
# check.sh - `make -C bitstream check`: the kernel's top-level arguments (as
# Vitis sees them: hls/lmdec.c's C top function and its INTERFACE pragmas)
# against every board's connectivity.cfg and resources, the OpenCL C
# signature, the host's argument order and the synthetic .xclbin of the tests.
# Needs no Vitis. Prints ok / not ok lines; exits 1 on any mismatch.
cd "$(dirname "$0")/.." || exit 2
K=hls/lmdec.c
fails=0
ok() { echo "ok - bitstream check: $1"; }
nok() { echo "not ok - bitstream check: $1${2:+: $2}"; fails=$((fails + 1)); }

# parameters of a function whose definition starts at the first line matching $1
params() {
    awk -v pat="$1" '
        !go && $0 ~ pat { go = 1 }
        go { s = s " " $0; if (index($0, ")")) exit }
        END {
            sub(/^[^(]*\(/, "", s); sub(/\).*$/, "", s)
            n = split(s, a, ",")
            for (i = 1; i <= n; i++) { p = a[i]; gsub(/[*]/, " ", p); m = split(p, w, " "); printf "%s ", w[m] }
        }' "$K"
}
ARGS=$(params '^void lmdec\(')
CLARGS=$(params '^__kernel void lmdec\(')
[ -n "$ARGS" ] && ok "C top function lmdec($(echo $ARGS | tr ' ' ','))" || nok "C top function lmdec found in $K"
[ "$CLARGS" = "${ARGS}chip " ] && ok "OpenCL C signature = C signature + chip" \
    || nok "OpenCL C signature = C signature + chip" "C: $ARGS; OpenCL: $CLARGS"

# INTERFACE pragmas: "port kind bundle"
IFACES=$(sed -n 's/^#pragma HLS INTERFACE \([a-z_]*\) port=\([a-z_]*\).*/\2 \1/p' "$K")
bundle_of() { sed -n "s/^#pragma HLS INTERFACE m_axi port=$1 .*bundle=\([a-z0-9_]*\).*/\1/p" "$K"; }
MAXI=""
for a in $ARGS; do
    kinds=$(echo "$IFACES" | awk -v a="$a" '$1 == a { print $2 }')
    type=$(awk '/^void lmdec\(/,/\)$/' "$K" | tr ',' '\n' | grep -w "$a" | head -1)
    case "$kinds" in
    m_axi)
        echo "$type" | grep -q '\*' || nok "argument $a" "m_axi but not a pointer"
        [ -n "$(bundle_of "$a")" ] || nok "argument $a" "m_axi without bundle="
        MAXI="$MAXI $a" ;;
    s_axilite) echo "$type" | grep -q '\*' && nok "argument $a" "a pointer on s_axilite" ;;
    *) nok "argument $a has exactly one INTERFACE pragma" "found: '$kinds'" ;;
    esac
done
echo "$IFACES" | grep -q "^return s_axilite" && ok "s_axilite control (port=return)" || nok "s_axilite control (port=return)"
for p in $(echo "$IFACES" | awk '{print $1}'); do
    [ "$p" = return ] && continue
    echo " $ARGS " | grep -q " $p " || nok "INTERFACE pragma for a port that is not an argument" "$p"
done
ok "m_axi arguments:$(for a in $MAXI; do printf ' %s(%s)' "$a" "$(bundle_of "$a")"; done)"

# the host launches with the same buffer order (host/internal.h OZ_KARG_*)
HOSTARGS=$(sed -n 's/^enum { \(OZ_KARG_MODEL.*\), OZ_KARG_NBUF };/\1/p' host/internal.h | sed 's/OZ_KARG_//g; s/,//g' | tr 'A-Z' 'a-z')
[ "$(echo $HOSTARGS)" = "$(echo $MAXI)" ] && ok "host buffer order (OZ_KARG_*) = kernel m_axi arguments" \
    || nok "host buffer order (OZ_KARG_*) = kernel m_axi arguments" "host: $HOSTARGS; kernel: $MAXI"

# the synthetic .xclbin of the XRT noop smoke test describes the same kernel
XARGS=$(grep -o '{"[a-z_]*", "[a-z0-9_*]*", "[A-Z_0-9]*"' tests/mkxclbin.c | sed 's/{"\([a-z_]*\)".*"\([A-Z_0-9]*\)"/\1:\2/' | tr '\n' ' ')
want=""
for a in $ARGS; do
    b=$(bundle_of "$a")
    if [ -n "$b" ]; then want="$want$a:M_AXI_$(echo "$b" | tr 'a-z' 'A-Z') "; else want="${want}$a:S_AXI_CONTROL "; fi
done
[ "$XARGS" = "$want" ] && ok "tests/mkxclbin.c argument table = kernel" || nok "tests/mkxclbin.c argument table = kernel" "$XARGS vs $want"

# every board
for dir in board/*/; do
    b=$(basename "$dir")
    cfg=$dir/connectivity.cfg
    res=$dir/resources
    [ -f "$cfg" ] && [ -f "$res" ] || { nok "board $b has connectivity.cfg and resources"; continue; }
    bad=0
    for key in name platform lut dsp bram36 uram mem mem_gbps clock_mhz clock_realistic_mhz pe budget; do
        grep -q "^$key *= *[^ ]" "$res" || { nok "board $b: resources lacks '$key'"; bad=1; }
    done
    mem=$(sed -n 's/^mem *= *//p' "$res")
    grep -q '^\[connectivity\]' "$cfg" || { nok "board $b: $cfg has no [connectivity] section"; bad=1; }
    nk=$(grep '^nk=' "$cfg")
    [ "$(echo "$nk" | wc -l)" = 1 ] || { nok "board $b: exactly one nk= line" "$nk"; bad=1; }
    kname=$(echo "$nk" | sed 's/^nk=\([^:]*\):.*/\1/')
    ncu=$(echo "$nk" | sed -n 's/^nk=[^:]*:\([0-9]*\).*/\1/p')
    cus=$(echo "$nk" | sed -n 's/^nk=[^:]*:[0-9]*:\(.*\)/\1/p' | tr '.' ' ')
    [ -z "$cus" ] && cus=$(i=1; while [ "$i" -le "${ncu:-0}" ]; do printf '%s_%d ' "$kname" $i; i=$((i + 1)); done)
    [ "$kname" = lmdec ] || { nok "board $b: nk= names the kernel lmdec" "$nk"; bad=1; }
    [ "$(echo $cus | wc -w)" = "${ncu:-0}" ] || { nok "board $b: nk= count matches its CU names" "$nk"; bad=1; }
    for cu in $cus; do
        for a in $MAXI; do
            n=$(grep -c "^sp=$cu\.$a:" "$cfg")
            [ "$n" = 1 ] || { nok "board $b: one sp= for $cu.$a" "found $n"; bad=1; continue; }
            bank=$(sed -n "s/^sp=$cu\.$a:\(.*\)/\1/p" "$cfg")
            case "$mem:$bank" in
            HBM:HBM\[[0-9]\]|HBM:HBM\[[12][0-9]\]|HBM:HBM\[3[01]\]|DDR:DDR\[[0-3]\]|*:PLRAM\[[0-9]\]) ;;
            *) nok "board $b: $cu.$a goes to a bank the card has ($mem)" "$bank"; bad=1 ;;
            esac
        done
        # arguments of one m_axi bundle share a port, hence a bank
        for bu in $(for a in $MAXI; do bundle_of "$a"; done | sort -u); do
            banks=$(for a in $MAXI; do [ "$(bundle_of "$a")" = "$bu" ] && sed -n "s/^sp=$cu\.$a:\(.*\)/\1/p" "$cfg"; done | sort -u)
            [ "$(echo "$banks" | wc -l)" = 1 ] || { nok "board $b: arguments of bundle $bu on one bank" "$(echo $banks)"; bad=1; }
        done
    done
    for line in $(grep '^sp=' "$cfg"); do
        cu=$(echo "$line" | sed 's/^sp=\([^.]*\)\..*/\1/'); a=$(echo "$line" | sed 's/^sp=[^.]*\.\([^:]*\):.*/\1/')
        echo " $cus " | grep -q " $cu " || { nok "board $b: sp= names an unknown compute unit" "$line"; bad=1; }
        echo " $MAXI " | grep -q " $a " || { nok "board $b: sp= names an argument that is not m_axi" "$line"; bad=1; }
    done
    [ $bad = 0 ] && ok "board $b: $(echo $cus | wc -w) CU, every m_axi argument on one $mem bank, bundles consistent, resources complete"
done
exit $((fails > 0))
