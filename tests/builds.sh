#!/bin/sh
# builds.sh - core/ compiles as freestanding C99 (and links with no C library
# symbol at all), as C++ with -Werror, and with nvcc.
set -u
CC=${CC:-cc}
CXX=${CXX:-g++}
T=$(mktemp -d "${TMPDIR:-/tmp}/ozip-builds.XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok - $1"; }
nok() { echo "not ok - $1${2:+: $2}"; fails=$((fails + 1)); }

objs=""
good=1
for f in core/*.c; do
    o="$T/$(basename "$f" .c).o"
    # -fno-tree-loop-distribute-patterns: stop gcc from turning loops into memset/memcpy calls
    if ! $CC -std=c99 -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns -nostdinc \
        -isystem "$($CC -print-file-name=include)" -Wall -Wextra -Werror -pedantic -O2 -c "$f" -o "$o" 2> "$T/err"; then
        good=0; nok "core freestanding C99 build: $f" "$(head -3 "$T/err")"
    fi
    objs="$objs $o"
done
[ $good = 1 ] && ok "core/ compiles as freestanding C99 (-ffreestanding -nostdinc, -Werror -pedantic)"
ld -r $objs -o "$T/core.o" 2> /dev/null
undef=$(nm -u "$T/core.o" | awk '{print $2}' | tr '\n' ' ')
[ -z "$undef" ] && ok "core/ needs no symbol from any library (nm -u is empty)" \
    || nok "core/ needs no symbol from any library (nm -u is empty)" "undefined: $undef"

good=1
for f in core/*.c; do
    $CXX -x c++ -std=c++11 -Wall -Wextra -Werror -O2 -c "$f" -o "$T/x.o" 2> "$T/err" || { good=0; nok "core C++ build: $f" "$(head -3 "$T/err")"; }
done
[ $good = 1 ] && ok "core/ compiles as C++ (g++ -x c++ -Wall -Wextra -Werror)"

if command -v nvcc > /dev/null 2>&1; then
    good=1
    for f in core/*.c; do
        nvcc -x cu -c "$f" -o "$T/n.o" 2> "$T/err" || { good=0; nok "core nvcc build: $f" "$(head -3 "$T/err")"; }
    done
    [ $good = 1 ] && ok "core/ compiles with nvcc -x cu -c"
else
    echo "skip - core/ with nvcc: nvcc is not installed"
fi
exit $((fails > 0))
