#!/bin/sh
# deps.sh - check (and, with --install or --bench as root, install) the Debian 12
# packages ozip needs. Usage: tools/deps.sh --check | --install | --bench
#   required to build: gcc make libopenblas-dev libxxhash-dev liblzma-dev libzstd-dev
#   libbz2-dev libbrotli-dev
#   used by the demo and the tests: xz-utils zstd tar
#   optional decode backends and their tests (docs/fpga.md), installed with
#   --install when they can be, skipped with a message when not:
#   ocl-icd-opencl-dev opencl-headers pocl-opencl-icd (opencl), libxrt-dev (xrt),
#   clang (the kernel compiled as OpenCL C in the tests)
#   used by `make bench` only (--bench): gnuplot-nox and time are required; the
#   classic compressors are measured where installed, so missing ones only warn
mode=${1:---check}
REQUIRED="gcc make libopenblas-dev libxxhash-dev liblzma-dev libzstd-dev libbz2-dev libbrotli-dev"
TOOLS="xz-utils zstd tar"
OPTIONAL="ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libxrt-dev clang"
BENCH_NEED="gnuplot-nox time xz-utils"
if [ "$mode" = "--install" ]; then WANT="$REQUIRED $TOOLS"; else WANT="$REQUIRED"; fi
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Optional packages: best effort, never a failure (their backends are then not built).
if [ "$mode" = "--install" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
    opt=""
    for p in $OPTIONAL; do installed "$p" || opt="$opt $p"; done
    if [ -n "$opt" ]; then
        echo "deps: installing the optional packages:$opt"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $opt >/dev/null 2>&1 || {
            apt-get update -q >/dev/null 2>&1
            for p in $opt; do
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$p" >/dev/null 2>&1 ||
                    echo "deps: could not install $p; the backends and tests that need it are skipped"
            done; }
    fi
fi

missing=""
if [ "$mode" = "--bench" ]; then
    # commands rather than packages: any gnuplot will do (gnuplot-qt, -x11)
    for c in gnuplot:gnuplot-nox /usr/bin/time:time xz:xz-utils gzip:gzip bzip2:bzip2 zstd:zstd brotli:brotli; do
        command -v "${c%%:*}" >/dev/null 2>&1 || missing="$missing ${c#*:}"
    done
elif command -v dpkg-query >/dev/null 2>&1; then
    for p in $WANT; do installed "$p" || missing="$missing $p"; done
else
    # not Debian: check for the headers and tools themselves
    for h in cblas.h xxhash.h lzma.h zstd.h bzlib.h brotli/encode.h; do
        printf '#include <%s>\n' "$h" | ${CC:-cc} -E -x c - -I/usr/include/$(${CC:-cc} -print-multiarch 2>/dev/null) >/dev/null 2>&1 \
            || missing="$missing $h"
    done
fi
[ -z "$missing" ] && exit 0

if [ "$mode" != "--check" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1 || {
        apt-get update -q >/dev/null 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing || {
            echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
    }
    exit 0
fi
if [ "$mode" = "--bench" ]; then
    echo "make bench: missing:$missing (install with: sudo apt-get install$missing)" >&2
    for p in $missing; do
        case " $BENCH_NEED " in *" $p "*) echo "make bench cannot run without $p" >&2; exit 1 ;; esac
    done
    echo "make bench: the missing compressors are left out of the report" >&2
    exit 0
fi
echo "ozip needs these Debian packages, which are missing:$missing" >&2
echo "install them with:  sudo apt-get install$missing" >&2
echo "(or run 'make demo' as root, which installs them itself)" >&2
exit 1
