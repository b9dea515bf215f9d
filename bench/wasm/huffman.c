/*
 * A WebAssembly kernel for issue 8: Huffman decoding of discodb values
 * (spec §5.4), the same table-driven algorithm as lib/format/huffman.ts
 * (one 17-bit peek per token over the replicated 16-bit codebook), to measure
 * whether moving the decoder into Wasm pays once the copies in and out are
 * counted. Not used by the product (see BENCHMARKS.md, "WebAssembly").
 *
 * Memory: the codebook (symbols, lengths), one input area (compressed bytes,
 * zero-padded by the caller) and one output area, all static.
 * Rebuild: bench/wasm/build.sh (clang --target=wasm32, no libc).
 */
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(#name)))

#define IN_MAX (1 << 16)
#define OUT_MAX (1 << 18)

static uint32_t symbols[65536];
static uint8_t lengths[65536];
static uint8_t in[IN_MAX + 8];
static uint8_t out[OUT_MAX + 8];
/* batch: starts/ends of up to 64 values in `in`, their decoded lengths */
static uint32_t batch_bounds[2 * 64];
static int32_t batch_lengths[64];

EXPORT(symbols_ptr) uint32_t *symbols_ptr(void) { return symbols; }
EXPORT(lengths_ptr) uint8_t *lengths_ptr(void) { return lengths; }
EXPORT(in_ptr) uint8_t *in_ptr(void) { return in; }
EXPORT(out_ptr) uint8_t *out_ptr(void) { return out; }
EXPORT(bounds_ptr) uint32_t *bounds_ptr(void) { return batch_bounds; }
EXPORT(batch_lengths_ptr) int32_t *batch_lengths_ptr(void) { return batch_lengths; }
EXPORT(in_max) int32_t in_max(void) { return IN_MAX; }
EXPORT(out_max) int32_t out_max(void) { return OUT_MAX; }

static inline uint32_t peek(const uint8_t *b, uint32_t byte) {
  return (uint32_t)b[byte] | ((uint32_t)b[byte + 1] << 8) | ((uint32_t)b[byte + 2] << 16) | ((uint32_t)b[byte + 3] << 24);
}

/* Decodes in[start, end) to out + o; returns the new output end, or -1 when corrupt. */
static int32_t decode_at(uint32_t start, uint32_t end, uint32_t o) {
  if (end <= start) return -1;
  uint32_t size = end - start;
  uint32_t total = size * 8 - (in[start] & 7);
  uint32_t p = 3;
  while (p < total) {
    uint32_t byte = start + (p >> 3);
    /* bytes past `end` must read as zero: the caller zero-pads 4 bytes after each value */
    uint32_t v = (peek(in, byte) >> (p & 7)) & 0x1ffff;
    if (o + 4 > OUT_MAX) return -1;
    if (v & 1) {
      uint32_t idx = v >> 1;
      uint32_t n = lengths[idx];
      if (n == 0) return -1;
      uint32_t sym = symbols[idx];
      out[o] = sym;
      out[o + 1] = sym >> 8;
      out[o + 2] = sym >> 16;
      out[o + 3] = sym >> 24;
      o += 4;
      p += n + 1;
    } else {
      out[o++] = (uint8_t)(v >> 1);
      p += 9;
    }
  }
  if (p != total) return -1;
  return (int32_t)o;
}

/* One value in in[0, size): its decoded length in out, or -1. */
EXPORT(decode) int32_t decode(uint32_t size) {
  if (size > IN_MAX) return -1;
  return decode_at(0, size, 0);
}

/* `count` values at in[bounds[2i], bounds[2i+1]); outputs concatenated, lengths in batch_lengths. */
EXPORT(decode_batch) int32_t decode_batch(uint32_t count) {
  uint32_t o = 0;
  if (count > 64) return -1;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t s = batch_bounds[2 * i], e = batch_bounds[2 * i + 1];
    if (e > IN_MAX) return -1;
    int32_t r = decode_at(s, e, o);
    if (r < 0) return -1;
    batch_lengths[i] = r - (int32_t)o;
    o = (uint32_t)r;
  }
  return (int32_t)o;
}
