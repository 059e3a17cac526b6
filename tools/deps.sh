#!/bin/sh
# deps.sh - check (and, with --install as root, install) the Debian 12 packages
# ozip needs. Usage: tools/deps.sh --check | --install
#   required to build: gcc make libopenblas-dev libxxhash-dev liblzma-dev libzstd-dev
#   used by the demo and the tests: xz-utils zstd tar
mode=${1:---check}
REQUIRED="gcc make libopenblas-dev libxxhash-dev liblzma-dev libzstd-dev"
TOOLS="xz-utils zstd tar"
if [ "$mode" = "--install" ]; then WANT="$REQUIRED $TOOLS"; else WANT="$REQUIRED"; fi

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for p in $WANT; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
        case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
    done
else
    # not Debian: check for the headers and tools themselves
    for h in cblas.h xxhash.h lzma.h zstd.h; do
        printf '#include <%s>\n' "$h" | ${CC:-cc} -E -x c - -I/usr/include/$(${CC:-cc} -print-multiarch 2>/dev/null) >/dev/null 2>&1 \
            || missing="$missing $h"
    done
fi
[ -z "$missing" ] && exit 0

if [ "$mode" = "--install" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1 || {
        apt-get update -q >/dev/null 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing || {
            echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
    }
    exit 0
fi
echo "ozip needs these Debian packages, which are missing:$missing" >&2
echo "install them with:  sudo apt-get install$missing" >&2
echo "(or run 'make demo' as root, which installs them itself)" >&2
exit 1
