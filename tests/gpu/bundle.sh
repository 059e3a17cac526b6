#!/bin/sh
# bundle.sh - run HERE (no GPU needed) before tests/gpu/run.sh is sent to a
# lent GPU machine. The GPU machine has the CUDA toolkit but may lack the
# Debian packages ozip links (OpenBLAS, libxxhash, ...) and cannot download
# anything, and it receives only the repository's working tree. So this
# builds everything here and puts the binaries, the shared libraries they
# need beyond glibc and libstdc++, and the corpus (../shared/corpus, each
# file gzipped; flights-200k.json is also the benchmark input) into
# gpu-bundle/, which
# .gitignore ignores and the device tool carries:
#
#   tests/gpu/bundle.sh
#   device run: command "sh tests/gpu/run.sh", carry ["gpu-bundle"], timeout_s 600
#
# gpu-bundle/ stays well under the 64 MiB the device tool carries with the tree.
set -eu
cd "$(dirname "$0")/../.."
B=gpu-bundle
[ -n "$(command -v nvcc)" ] || { echo "bundle.sh: nvcc is not installed: the CUDA trainer cannot be built" >&2; exit 1; }
make all build/tests/test_cuda build/tests/attn_check
rm -rf "$B"
mkdir -p "$B/lib"
cp ozip build/libozip_cuda.so build/tests/test_cuda build/tests/attn_check "$B/"
# every library the binaries load that is not part of glibc or the compiler runtime
for f in ozip test_cuda; do
    ldd "$B/$f" | awk '/=> \// {print $3}'
done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
    libc.so* | libm.so* | libmvec.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libgcc_s.so* | libstdc++.so*) ;;
    *) cp -L "$lib" "$B/lib/" ;;
    esac
done
# OpenBLAS is not in ldd's list: the CPU trainer (which test_cuda compares
# against, and the CLI suite trains with) loads it at run time by the name
# libopenblas.so.0 (gpu_train/blas.c), so copy it under that name, with the
# libraries it needs
blas=$(ldconfig -p | awk '/libopenblas\.so\.0 .*x86-64/ {print $NF; exit}')
[ -n "$blas" ] || { echo "bundle.sh: libopenblas.so.0 not found: install libopenblas0 (Debian)" >&2; exit 1; }
cp -L "$blas" "$B/lib/libopenblas.so.0"
ldd "$blas" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
    libc.so* | libm.so* | libgcc_s.so* | ld-linux*) ;;
    *) cp -L "$lib" "$B/lib/" ;;
    esac
done
gzip -9 "$B"/lib/*.so*
CORPUS=../shared/corpus
if [ -f "$CORPUS/flights-200k.json" ]; then
    mkdir -p "$B/corpus"
    for f in "$CORPUS"/*; do
        case "$f" in *.md) continue ;; esac
        gzip -9 -c "$f" > "$B/corpus/$(basename "$f").gz"
    done
else
    echo "bundle.sh: $CORPUS is missing: the corpus stages will be skipped" >&2
fi
git rev-parse HEAD > "$B/commit" 2> /dev/null || true
du -sh "$B"
ls -l "$B" "$B/lib"
