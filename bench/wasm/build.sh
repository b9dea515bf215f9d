#!/bin/sh
# Rebuilds bench/wasm/huffman.wasm from huffman.c (Debian: apt-get install -y clang lld).
# The .wasm is committed, so the benchmark runs without the toolchain.
set -e
cd "$(dirname "$0")"
clang --target=wasm32 -O3 -nostdlib -fno-builtin -Wl,--no-entry -Wl,--export-dynamic -Wl,--initial-memory=2097152 -o huffman.wasm huffman.c
ls -l huffman.wasm
