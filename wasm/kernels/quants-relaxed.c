// Relaxed-SIMD dot products of ggml's quantized weights with their 8-bit activations: the
// vec_dot kernels of our relaxed wasm builds (scripts/build_wasm.py copies this file next to
// ggml's arch/wasm/quants.c; wasm_patches/relaxed-simd.patch builds it and renames ggml's own
// SIMD128 kernels of these types to *_simd128, so these take their place). Compiled only with
// -mrelaxed-simd; nothing here depends on memory64, JSPI or Asyncify.
//
// THE OPERAND RULE. Every kernel is built on i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c): each
// i32 lane of c gains four products a[k] * b[k], a a signed byte. Engines read the second, "7-bit"
// operand b differently: V8 on x86 with AVX-VNNI as an unsigned byte (vpdpbusd), with
// AVX-VNNI-INT8 as a signed one (vpdpbssd), without VNNI through pmaddubsw (unsigned, pairs
// saturated to i16); ARM's sdot reads it signed. They all give the same, exact sums only when
// every b lies in 0..127 (then a pair is at most 2 * 128 * 127 = 32512: no saturation either).
// So here b always holds the WEIGHTS' UNSIGNED QUANTS (nibbles 0..15, 5-bit 0..31, 6-bit 0..63,
// the low seven bits of Q8_0's bytes) or a small constant, and a holds the activations (any
// int8). A type's offset (-8, -16, -32) is taken out afterwards with the activations' sums (a dot
// with a splat of the offset, or q8_K's bsums), and Q8_0's sign bit with the sum of the
// activations under negative weights. An upstream attempt that put signed activations in b gave
// garbage text on x86. Checked against ggml's scalar kernels by wasm/kernels/kernel-check.c.
//
// Several independent accumulator chains per block: one chain loses the instruction's gain.
//
// TWO INSTRUCTION MIXES, ONE RESULT. Where the engine has a one-instruction dot (VNNI's vpdpbusd,
// ARM's sdot) each kernel accumulates with the i32x4 dot above ("quads"). Where it has none (x86
// without AVX-VNNI, which is most x86 CPUs before 2021-2024: V8 and SpiderMonkey emit pmaddubsw,
// pmaddwd and paddd for it) the kernels take the i16x8 relaxed dot instead (pmaddubsw alone):
// two of them are added in i16 and widened once, or widened by the sub-block's scale with
// i32x4.dot_i16x8 (pmaddwd), as ggml's AVX2 kernels do ("pairs"). Every i32 lane then holds the
// same exact integer either way (lane k: elements 4k..4k+3 of each 16-byte half), so both mixes
// give the same floats bit for bit. The i16 sums stay in range because every b is at most 63
// where two are added (4 · 128 · 63 = 32256) and at most 127 where none are.
// dot_pairs() probes the engine once (a dot outside the operand rule tells pmaddubsw's
// saturated pairs from a true dot) and ggml_wasm_dot_pairs can force either mix (kernel-check).

#if defined(__wasm_relaxed_simd__)

#define GGML_COMMON_IMPL_C
#include "ggml-common.h"
#include "ggml-quants.h"
#include "ggml-impl.h"
#include "ggml-cpu.h"
#include "simd-mappings.h"

#include "../../quants.h"
#include "../../ggml-cpu-impl.h"

#include <assert.h>
#include <string.h>
#include <wasm_simd128.h>

#define UNUSED GGML_UNUSED
#define DOT(a, b, acc) wasm_i32x4_relaxed_dot_i8x16_i7x16_add((a), (b), (acc))
#define DOT2(a, b) wasm_i16x8_relaxed_dot_i8x16_i7x16((a), (b))  // i16 lane m: a[2m]b[2m] + a[2m+1]b[2m+1]
#define WIDEN(sums16) wasm_i32x4_extadd_pairwise_i16x8(sums16)
#define FP16(x) GGML_CPU_FP16_TO_FP32(x)

int ggml_wasm_dot_pairs = -1;  // 1: pairs, 0: quads, -1: not probed yet

// 1 where this engine's i32x4 relaxed dot saturates pairs of products to i16 (pmaddubsw: no
// dot instruction, so the pairs mix is faster). 127 · 255 twice saturates to 32767 there; a
// true dot gives 4 · 127 · 255 (VNNI, unsigned b) or 4 · 127 · -1 (sdot, signed b). This one dot
// breaks the operand rule on purpose: only its lowering is read, never its result.
static int dot_pairs(void) {
    int pairs = __atomic_load_n(&ggml_wasm_dot_pairs, __ATOMIC_RELAXED);
    if (pairs < 0) {
        volatile int8_t a = 127, b = -1;  // volatile: computed by the engine, not the compiler
        const v128_t dot = DOT(wasm_i8x16_splat(a), wasm_i8x16_splat(b), wasm_i32x4_splat(0));
        pairs = wasm_i32x4_extract_lane(dot, 0) == 2 * 32767;
        __atomic_store_n(&ggml_wasm_dot_pairs, pairs, __ATOMIC_RELAXED);
    }
    return pairs;
}

static inline float hsum_f32x4(v128_t v) {
    return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
           wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

static inline int32_t hsum_i32x4(v128_t v) {
    return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) +
           wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

static inline v128_t scaled(v128_t isum, float d) {
    return wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d));
}

// The fifth bits of Q5_0/Q5_1 blocks (32 bits, bit j for element j) spread to bytes by table,
// 8 elements per entry: FIFTH[b] has 0x10 in byte k where bit k of b is set, NOT_FIFTH[b] where
// it is clear (Q5_0's -16 then costs no extra dot: q - 16 = (q & 15) - 16·[bit clear]).
#define SPREAD(b, set) \
    ((((b) >> 0 & 1) == (set) ? 0x10ull : 0) | (((b) >> 1 & 1) == (set) ? 0x10ull : 0) << 8 | \
     (((b) >> 2 & 1) == (set) ? 0x10ull : 0) << 16 | (((b) >> 3 & 1) == (set) ? 0x10ull : 0) << 24 | \
     (((b) >> 4 & 1) == (set) ? 0x10ull : 0) << 32 | (((b) >> 5 & 1) == (set) ? 0x10ull : 0) << 40 | \
     (((b) >> 6 & 1) == (set) ? 0x10ull : 0) << 48 | (((b) >> 7 & 1) == (set) ? 0x10ull : 0) << 56)
#define SPREAD4(b, s) SPREAD(b, s), SPREAD((b) + 1, s), SPREAD((b) + 2, s), SPREAD((b) + 3, s)
#define SPREAD16(b, s) SPREAD4(b, s), SPREAD4((b) + 4, s), SPREAD4((b) + 8, s), SPREAD4((b) + 12, s)
#define SPREAD64(b, s) SPREAD16(b, s), SPREAD16((b) + 16, s), SPREAD16((b) + 32, s), SPREAD16((b) + 48, s)
static const uint64_t FIFTH[256] = {SPREAD64(0, 1), SPREAD64(64, 1), SPREAD64(128, 1), SPREAD64(192, 1)};
static const uint64_t NOT_FIFTH[256] = {SPREAD64(0, 0), SPREAD64(64, 0), SPREAD64(128, 0), SPREAD64(192, 0)};

// A table's bytes for elements 0..15 (qh[0], qh[1]) in *lo and 16..31 (qh[2], qh[3]) in *hi.
static inline void spread_bits(const uint64_t table[256], const uint8_t qh[4], v128_t * lo, v128_t * hi) {
    *lo = wasm_v128_load64_lane(&table[qh[1]], wasm_v128_load64_zero(&table[qh[0]]), 1);
    *hi = wasm_v128_load64_lane(&table[qh[3]], wasm_v128_load64_zero(&table[qh[2]]), 1);
}

// Σ a·q over one 32-element block in i16 lanes (pairs): q's elements 0..15 in q_lo, 16..31 in
// q_hi (each 0..63).
static inline v128_t dot32_i16(const int8_t * a, v128_t q_lo, v128_t q_hi) {
    return wasm_i16x8_add(DOT2(wasm_v128_load(a), q_lo), DOT2(wasm_v128_load(a + 16), q_hi));
}

// Σ a·q over one 32-element block in i32 lanes, either mix (each q 0..63).
static inline v128_t dot32(const int8_t * a, v128_t q_lo, v128_t q_hi, const int pairs) {
    if (pairs) return WIDEN(dot32_i16(a, q_lo, q_hi));
    return DOT(wasm_v128_load(a + 16), q_hi, DOT(wasm_v128_load(a), q_lo, wasm_i32x4_splat(0)));
}

// scale · Σ a·q over one 32-element block, either mix: the scale (0..63) splat as i16 and as i32.
static inline v128_t scaled_dot32(const int8_t * a, v128_t q_lo, v128_t q_hi, v128_t scale16,
                                  v128_t scale32, const int pairs) {
    if (pairs) return wasm_i32x4_dot_i16x8(dot32_i16(a, q_lo, q_hi), scale16);
    return wasm_i32x4_mul(dot32(a, q_lo, q_hi, 0), scale32);
}

// Each type's kernel is written once, for one weight row against `ncols` activation rows (a
// compile-time 1, 4 or 8): each weight block is unpacked once and dotted with every column. The
// single-row vec_dot is the ncols = 1 instance; the 4- and 8-column tiles serve prompts through
// ggml_wasm_vec_dot_cols (relaxed-simd.patch's mul_mat: 1 weight row × 8, else 4, tokens).
// Column c's activations start `by` bytes after column c-1's; its result goes to s[c·bs].
// Measured per column against the single-row kernel (kernel-check bench, Chromium, 2-core x86):
// 2 columns 1.2-1.5×, 4 columns 1.4-1.9×, 8 columns 1.4-2.3× (the K types gain most). The pairs
// mix against the quads on an x86 without AVX-VNNI (AMD EPYC): one row 1.04-1.35×, tile of 8
// 1.29-1.72×, the same floats.
#define COLS 8  // the most columns of any instance
#define KERNEL static inline __attribute__((always_inline)) void
#define COLUMN(type, vy, by, c) ((const type *) ((const char *) (vy) + (c) * (by)))

// The public vec_dot and the 4- and 8-column tiles of `type` in each mix (its body: name##_cols,
// whose last two parameters, ncols and pairs, are compile-time constants in every instance).
#define TILE_ENTRY(name, block_elements, ncols, pairs, suffix)                                   \
    static void name##_##suffix(int n, float * GGML_RESTRICT s, size_t bs, const void * GGML_RESTRICT vx, \
                                const void * GGML_RESTRICT vy, size_t by) {                         \
        assert(n % (block_elements) == 0);                                                          \
        name##_cols(n, s, bs, vx, vy, by, ncols, pairs);                                            \
    }
#define ENTRIES(name, block_elements)                                                             \
    void ggml_vec_dot_##name(int n, float * GGML_RESTRICT s, size_t bs, const void * GGML_RESTRICT vx, \
                             size_t bx, const void * GGML_RESTRICT vy, size_t by, int nrc) {        \
        assert(n % (block_elements) == 0);                                                          \
        assert(nrc == 1);                                                                           \
        UNUSED(nrc); UNUSED(bx); UNUSED(by); UNUSED(bs);                                            \
        if (dot_pairs()) name##_cols(n, s, 0, vx, vy, 0, 1, 1);                                     \
        else name##_cols(n, s, 0, vx, vy, 0, 1, 0);                                                 \
    }                                                                                               \
    TILE_ENTRY(name, block_elements, 4, 0, tile4)                                                   \
    TILE_ENTRY(name, block_elements, 8, 0, tile8)                                                   \
    TILE_ENTRY(name, block_elements, 4, 1, tile4_pairs)                                             \
    TILE_ENTRY(name, block_elements, 8, 1, tile8_pairs)

static inline void store_sums(float * s, size_t bs, const v128_t * acc, const float * extra, int ncols) {
    for (int c = 0; c < ncols; ++c) s[c * bs] = hsum_f32x4(acc[c]) + (extra ? extra[c] : 0.0f);
}

KERNEL q4_0_q8_0_cols(int n, float * GGML_RESTRICT s, size_t bs, const void * GGML_RESTRICT vx, const void * GGML_RESTRICT vy, size_t by, const int ncols, const int pairs) {
    const block_q4_0 * GGML_RESTRICT x = vx;
    const v128_t m4 = wasm_i8x16_splat(0x0F);
    const v128_t eight = wasm_i8x16_splat(8);  // the offset: q - 8 = q - 8·1
    v128_t acc[COLS];
    for (int c = 0; c < ncols; ++c) acc[c] = wasm_f32x4_splat(0.0f);
    for (int ib = 0; ib < n / QK8_0; ++ib) {
        const v128_t q = wasm_v128_load(x[ib].qs);
        const v128_t lo = wasm_v128_and(q, m4), hi = wasm_u8x16_shr(q, 4);
        const float dx = FP16(x[ib].d);
        for (int c = 0; c < ncols; ++c) {
            const block_q8_0 * GGML_RESTRICT y = COLUMN(block_q8_0, vy, by, c) + ib;
            const v128_t isum = pairs ? WIDEN(wasm_i16x8_sub(dot32_i16(y->qs, lo, hi), dot32_i16(y->qs, eight, eight)))
                                      : wasm_i32x4_sub(dot32(y->qs, lo, hi, 0), dot32(y->qs, eight, eight, 0));
            acc[c] = wasm_f32x4_add(acc[c], scaled(isum, dx * FP16(y->d)));
        }
    }
    store_sums(s, bs, acc, NULL, ncols);
}
ENTRIES(q4_0_q8_0, QK8_0)

// One Q4_1 or Q5_1 block against its q8_1 block in each of ncols columns (y: column 0's), into
// acc[c] (scaled sums) and mins[c] (the blocks' minimum times the activations' sum): 4-bit
// quants qs, and for Q5_1 the fifth bits qh (NULL for Q4_1).
KERNEL min_block(const uint8_t * GGML_RESTRICT qs, const uint8_t * GGML_RESTRICT qh, ggml_half d,
                 ggml_half m, const block_q8_1 * GGML_RESTRICT y, size_t by, const int ncols,
                 const int pairs, v128_t * acc, float * mins) {
    const v128_t m4 = wasm_i8x16_splat(0x0F);
    const v128_t q = wasm_v128_load(qs);
    v128_t q_lo = wasm_v128_and(q, m4), q_hi = wasm_u8x16_shr(q, 4);
    if (qh) {
        v128_t fifth_lo, fifth_hi;
        spread_bits(FIFTH, qh, &fifth_lo, &fifth_hi);
        q_lo = wasm_v128_or(q_lo, fifth_lo);
        q_hi = wasm_v128_or(q_hi, fifth_hi);
    }
    const float dx = FP16(d), mx = FP16(m);
    for (int c = 0; c < ncols; ++c) {
        const block_q8_1 * GGML_RESTRICT yc = COLUMN(block_q8_1, y, by, c);
        acc[c] = wasm_f32x4_add(acc[c], scaled(dot32(yc->qs, q_lo, q_hi, pairs), dx * FP16(yc->d)));
        mins[c] += mx * FP16(yc->s);
    }
}

KERNEL q4_1_q8_1_cols(int n, float * GGML_RESTRICT s, size_t bs, const void * GGML_RESTRICT vx, const void * GGML_RESTRICT vy, size_t by, const int ncols, const int pairs) {
    const block_q4_1 * GGML_RESTRICT x = vx;
    v128_t acc[COLS];
    float mins[COLS];
    for (int c = 0; c < ncols; ++c) { acc[c] = wasm_f32x4_splat(0.0f); mins[c] = 0.0f; }
    for (int ib = 0; ib < n / QK8_1; ++ib) {
        min_block(x[ib].qs, NULL, x[ib].d, x[ib].m, (const block_q8_1 *) vy + ib, by, ncols, pairs, acc, mins);
    }
    store_sums(s, bs, acc, mins, ncols);
}
ENTRIES(q4_1_q8_1, QK8_1)

KERNEL q5_0_q8_0_cols(int n, float * GGML_RESTRICT s, size_t bs, const void * GGML_RESTRICT vx, const void * GGML_RESTRICT vy, size_t by, const int ncols, const int pairs) {
    const block_q5_0 * GGML_RESTRICT x = vx;
    const v128_t m4 = wasm_i8x16_splat(0x0F);
    v128_t acc[COLS];
    for (int c = 0; c < ncols; ++c) acc[c] = wasm_f32x4_splat(0.0f);
    for (int ib = 0; ib < n / QK8_0; ++ib) {
        v128_t clear_lo, clear_hi;
        spread_bits(NOT_FIFTH, x[ib].qh, &clear_lo, &clear_hi);
        const v128_t q = wasm_v128_load(x[ib].qs);
        const v128_t lo = wasm_v128_and(q, m4), hi = wasm_u8x16_shr(q, 4);
        const float dx = FP16(x[ib].d);
        for (int c = 0; c < ncols; ++c) {
            const block_q8_0 * GGML_RESTRICT y = COLUMN(block_q8_0, vy, by, c) + ib;
            const v128_t isum = pairs ? WIDEN(wasm_i16x8_sub(dot32_i16(y->qs, lo, hi), dot32_i16(y->qs, clear_lo, clear_hi)))
                                      : wasm_i32x4_sub(dot32(y->qs, lo, hi, 0), dot32(y->qs, clear_lo, clear_hi, 0));
            acc[c] = wasm_f32x4_add(acc[c], scaled(isum, dx * FP16(y->d)));
        }
    }
    store_sums(s, bs, acc, NULL, ncols);
}
ENTRIES(q5_0_q8_0, QK8_0)

KERNEL q5_1_q8_1_cols(int n, float * GGML_RESTRICT s, size_t bs, const void * GGML_RESTRICT vx, const void * GGML_RESTRICT vy, size_t by, const int ncols, const int pairs) {
    const block_q5_1 * GGML_RESTRICT x = vx;
    v128_t acc[COLS];
    float mins[COLS];
    for (int c = 0; c < ncols; ++c) { acc[c] = wasm_f32x4_splat(0.0f); mins[c] = 0.0f; }
    for (int ib = 0; ib < n / QK8_1; ++ib) {
        min_block(x[ib].qs, x[ib].qh, x[ib].d, x[ib].m, (const block_q8_1 *) vy + ib, by, ncols, pairs, acc, mins);
    }
    store_sums(s, bs, acc, mins, ncols);
}
ENTRIES(q5_1_q8_1, QK8_1)

KERNEL q8_0_q8_0_cols(int n, float * GGML_RESTRICT s, size_t bs, const void * GGML_RESTRICT vx, const void * GGML_RESTRICT vy, size_t by, const int ncols, const int pairs) {
    const block_q8_0 * GGML_RESTRICT x = vx;
    const v128_t low7 = wasm_i8x16_splat(0x7F);
    const v128_t one = wasm_i8x16_splat(1);
    const v128_t sign_weight = wasm_i16x8_splat(128);
    const v128_t zero = wasm_i32x4_splat(0);
    v128_t acc[COLS];
    for (int c = 0; c < ncols; ++c) acc[c] = wasm_f32x4_splat(0.0f);
    for (int ib = 0; ib < n / QK8_0; ++ib) {
        // w = (w & 0x7F) - 128·[w < 0]: Σ a·w = Σ a·(w & 0x7F) - 128·Σ_{w<0} a
        const v128_t w0 = wasm_v128_load(x[ib].qs);
        const v128_t w1 = wasm_v128_load(x[ib].qs + 16);
        const v128_t low0 = wasm_v128_and(w0, low7), low1 = wasm_v128_and(w1, low7);
        const v128_t negative0 = wasm_i8x16_shr(w0, 7), negative1 = wasm_i8x16_shr(w1, 7);
        const float dx = FP16(x[ib].d);
        for (int c = 0; c < ncols; ++c) {
            const block_q8_0 * GGML_RESTRICT y = COLUMN(block_q8_0, vy, by, c) + ib;
            const v128_t a0 = wasm_v128_load(y->qs);
            const v128_t a1 = wasm_v128_load(y->qs + 16);
            const v128_t a0_negative = wasm_v128_and(a0, negative0), a1_negative = wasm_v128_and(a1, negative1);
            v128_t isum;
            if (pairs) {  // the low bits' i16 pairs reach 32512: widened before they are added
                const v128_t low = wasm_i32x4_add(WIDEN(DOT2(a0, low0)), WIDEN(DOT2(a1, low1)));
                const v128_t under_negative = wasm_i16x8_add(DOT2(a0_negative, one), DOT2(a1_negative, one));
                isum = wasm_i32x4_sub(low, wasm_i32x4_dot_i16x8(under_negative, sign_weight));
            } else {
                const v128_t low = DOT(a1, low1, DOT(a0, low0, zero));
                const v128_t under_negative = DOT(a1_negative, one, DOT(a0_negative, one, zero));
                isum = wasm_i32x4_sub(low, wasm_i32x4_shl(under_negative, 7));
            }
            acc[c] = wasm_f32x4_add(acc[c], scaled(isum, dx * FP16(y->d)));
        }
    }
    store_sums(s, bs, acc, NULL, ncols);
}
ENTRIES(q8_0_q8_0, QK8_0)

// The 6-bit scales and mins of a Q4_K/Q5_K block (ggml's packing): scales in out[0..7], mins in
// out[8..15].
static inline void k_scales_mins(const uint8_t packed[12], uint8_t out[16]) {
    static const uint32_t kmask1 = 0x3f3f3f3f;
    static const uint32_t kmask2 = 0x0f0f0f0f;
    static const uint32_t kmask3 = 0x03030303;
    uint32_t utmp[4];
    memcpy(utmp, packed, 12);
    utmp[3] = ((utmp[2] >> 4) & kmask2) | (((utmp[1] >> 6) & kmask3) << 4);
    const uint32_t uaux = utmp[1] & kmask1;
    utmp[1] = (utmp[2] & kmask2) | (((utmp[0] >> 6) & kmask3) << 4);
    utmp[2] = uaux;
    utmp[0] &= kmask1;
    memcpy(out, utmp, 16);
}

// Σ_j mins[j] · (bsums[2j] + bsums[2j+1]): the activations under each 32-element sub-block.
static inline int32_t k_mins_sum(const int16_t bsums[16], const uint8_t mins[8]) {
    const v128_t pairs_lo = wasm_i32x4_extadd_pairwise_i16x8(wasm_v128_load(bsums));
    const v128_t pairs_hi = wasm_i32x4_extadd_pairwise_i16x8(wasm_v128_load(bsums + 8));
    const v128_t m = wasm_u16x8_load8x8(mins);
    const v128_t m_lo = wasm_u32x4_extend_low_u16x8(m);
    const v128_t m_hi = wasm_u32x4_extend_high_u16x8(m);
    return hsum_i32x4(wasm_i32x4_add(wasm_i32x4_mul(pairs_lo, m_lo), wasm_i32x4_mul(pairs_hi, m_hi)));
}

// One Q4_K or Q5_K block against its q8_K block in each of ncols columns (y: column 0's), into
// acc[c] (scaled sums) and mins[c]: 4-bit quants qs, and for Q5_K the fifth bits qh (bit 2j of
// qh[l] is the fifth bit of element 64j + l, bit 2j+1 that of element 64j + 32 + l; NULL for Q4_K).
KERNEL k_block(const uint8_t * GGML_RESTRICT qs, const uint8_t * GGML_RESTRICT qh,
               const uint8_t packed_scales[12], ggml_half d, ggml_half dmin,
               const block_q8_K * GGML_RESTRICT y, size_t by, const int ncols, const int pairs,
               v128_t * acc, float * mins) {
    const v128_t m4 = wasm_i8x16_splat(0x0F);
    const v128_t fifth = wasm_i8x16_splat(0x10);
    uint8_t sm[16];
    k_scales_mins(packed_scales, sm);
    v128_t h0 = qh ? wasm_v128_load(qh) : wasm_i8x16_splat(0);
    v128_t h1 = qh ? wasm_v128_load(qh + 16) : wasm_i8x16_splat(0);
    v128_t isum[COLS];
    for (int c = 0; c < ncols; ++c) isum[c] = wasm_i32x4_splat(0);
    for (int j = 0; j < QK_K/64; ++j) {
        const v128_t w0 = wasm_v128_load(qs + 32*j);
        const v128_t w1 = wasm_v128_load(qs + 32*j + 16);
        v128_t lo0 = wasm_v128_and(w0, m4), lo1 = wasm_v128_and(w1, m4);
        v128_t hi0 = wasm_u8x16_shr(w0, 4), hi1 = wasm_u8x16_shr(w1, 4);
        if (qh) {
            lo0 = wasm_v128_or(lo0, wasm_v128_and(wasm_i8x16_shl(h0, 4), fifth));
            lo1 = wasm_v128_or(lo1, wasm_v128_and(wasm_i8x16_shl(h1, 4), fifth));
            hi0 = wasm_v128_or(hi0, wasm_v128_and(wasm_i8x16_shl(h0, 3), fifth));
            hi1 = wasm_v128_or(hi1, wasm_v128_and(wasm_i8x16_shl(h1, 3), fifth));
            h0 = wasm_u8x16_shr(h0, 2);
            h1 = wasm_u8x16_shr(h1, 2);
        }
        const v128_t scale16_lo = wasm_i16x8_splat(sm[2*j]), scale16_hi = wasm_i16x8_splat(sm[2*j + 1]);
        const v128_t scale32_lo = wasm_i32x4_splat(sm[2*j]), scale32_hi = wasm_i32x4_splat(sm[2*j + 1]);
        for (int c = 0; c < ncols; ++c) {
            const int8_t * GGML_RESTRICT q8 = COLUMN(block_q8_K, y, by, c)->qs;
            isum[c] = wasm_i32x4_add(isum[c], wasm_i32x4_add(
                scaled_dot32(q8 + 64*j, lo0, lo1, scale16_lo, scale32_lo, pairs),
                scaled_dot32(q8 + 64*j + 32, hi0, hi1, scale16_hi, scale32_hi, pairs)));
        }
    }
    for (int c = 0; c < ncols; ++c) {
        const block_q8_K * GGML_RESTRICT yc = COLUMN(block_q8_K, y, by, c);
        acc[c] = wasm_f32x4_add(acc[c], scaled(isum[c], yc->d * FP16(d)));
        mins[c] -= yc->d * FP16(dmin) * k_mins_sum(yc->bsums, sm + 8);
    }
}

KERNEL q4_K_q8_K_cols(int n, float * GGML_RESTRICT s, size_t bs, const void * GGML_RESTRICT vx, const void * GGML_RESTRICT vy, size_t by, const int ncols, const int pairs) {
    const block_q4_K * GGML_RESTRICT x = vx;
    v128_t acc[COLS];
    float mins[COLS];  // negated: the sums' parts to subtract
    for (int c = 0; c < ncols; ++c) { acc[c] = wasm_f32x4_splat(0.0f); mins[c] = 0.0f; }
    for (int i = 0; i < n / QK_K; ++i) {
        k_block(x[i].qs, NULL, x[i].scales, x[i].d, x[i].dmin, (const block_q8_K *) vy + i, by, ncols, pairs, acc, mins);
    }
    store_sums(s, bs, acc, mins, ncols);
}
ENTRIES(q4_K_q8_K, QK_K)

KERNEL q5_K_q8_K_cols(int n, float * GGML_RESTRICT s, size_t bs, const void * GGML_RESTRICT vx, const void * GGML_RESTRICT vy, size_t by, const int ncols, const int pairs) {
    const block_q5_K * GGML_RESTRICT x = vx;
    v128_t acc[COLS];
    float mins[COLS];  // negated, as for Q4_K
    for (int c = 0; c < ncols; ++c) { acc[c] = wasm_f32x4_splat(0.0f); mins[c] = 0.0f; }
    for (int i = 0; i < n / QK_K; ++i) {
        k_block(x[i].qs, x[i].qh, x[i].scales, x[i].d, x[i].dmin, (const block_q8_K *) vy + i, by, ncols, pairs, acc, mins);
    }
    store_sums(s, bs, acc, mins, ncols);
}
ENTRIES(q5_K_q8_K, QK_K)

// The -32 of every Q6_K weight against column y: 32 · Σ_k scale_k · bsum_k over the 16 groups
// of 16, negated.
static inline v128_t q6_K_offsets(const v128_t scales, const block_q8_K * GGML_RESTRICT y) {
    const v128_t offsets = wasm_i32x4_add(
        wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums), wasm_i16x8_extend_low_i8x16(scales)),
        wasm_i32x4_dot_i16x8(wasm_v128_load(y->bsums + 8), wasm_i16x8_extend_high_i8x16(scales)));
    return wasm_i32x4_mul(offsets, wasm_i32x4_splat(-32));
}

KERNEL q6_K_q8_K_cols(int n, float * GGML_RESTRICT s, size_t bs, const void * GGML_RESTRICT vx, const void * GGML_RESTRICT vy, size_t by, const int ncols, const int pairs) {
    const block_q6_K * GGML_RESTRICT x = vx;
    const v128_t m4 = wasm_i8x16_splat(0x0F);
    const v128_t m30 = wasm_i8x16_splat(0x30);
    const v128_t zero = wasm_i32x4_splat(0);
    v128_t acc[COLS];
    for (int c = 0; c < ncols; ++c) acc[c] = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < n / QK_K; ++i) {
        const int8_t * GGML_RESTRICT sc = x[i].scales;
        const v128_t scales = wasm_v128_load(sc);
        v128_t isum[COLS];
        for (int c = 0; c < ncols; ++c) isum[c] = q6_K_offsets(scales, COLUMN(block_q8_K, vy, by, c) + i);
        for (int half = 0; half < QK_K/128; ++half) {
            const uint8_t * GGML_RESTRICT ql = x[i].ql + 64*half;
            const uint8_t * GGML_RESTRICT qh = x[i].qh + 32*half;
            const int8_t * GGML_RESTRICT group_scale = sc + 8*half;
            for (int l = 0; l < 2; ++l) {  // elements 16l .. 16l+15 of each 32-element group
                const v128_t a = wasm_v128_load(ql + 16*l);
                const v128_t b = wasm_v128_load(ql + 32 + 16*l);
                const v128_t h = wasm_v128_load(qh + 16*l);
                const v128_t q0 = wasm_v128_or(wasm_v128_and(a, m4), wasm_v128_and(wasm_i8x16_shl(h, 4), m30));
                const v128_t q1 = wasm_v128_or(wasm_v128_and(b, m4), wasm_v128_and(wasm_i8x16_shl(h, 2), m30));
                const v128_t q2 = wasm_v128_or(wasm_u8x16_shr(a, 4), wasm_v128_and(h, m30));
                const v128_t q3 = wasm_v128_or(wasm_u8x16_shr(b, 4), wasm_v128_and(wasm_u8x16_shr(h, 2), m30));
                const v128_t q[4] = {q0, q1, q2, q3};
                v128_t scale16[4], scale32[4];
                for (int g = 0; g < 4; ++g) {
                    scale16[g] = wasm_i16x8_splat(group_scale[2*g + l]);
                    scale32[g] = wasm_i32x4_splat(group_scale[2*g + l]);
                }
                for (int c = 0; c < ncols; ++c) {
                    const int8_t * GGML_RESTRICT q8 = (COLUMN(block_q8_K, vy, by, c) + i)->qs + 128*half;
                    v128_t d[4];  // group g's 16 elements times its scale (groups 2g + l)
                    for (int g = 0; g < 4; ++g) {
                        const v128_t a = wasm_v128_load(q8 + 32*g + 16*l);
                        d[g] = pairs ? wasm_i32x4_dot_i16x8(DOT2(a, q[g]), scale16[g])
                                     : wasm_i32x4_mul(DOT(a, q[g], zero), scale32[g]);
                    }
                    isum[c] = wasm_i32x4_add(isum[c], wasm_i32x4_add(wasm_i32x4_add(d[0], d[1]),
                                                                     wasm_i32x4_add(d[2], d[3])));
                }
            }
        }
        const float dx = FP16(x[i].d);
        for (int c = 0; c < ncols; ++c) {
            acc[c] = wasm_f32x4_add(acc[c], scaled(isum[c], dx * (COLUMN(block_q8_K, vy, by, c) + i)->d));
        }
    }
    store_sums(s, bs, acc, NULL, ncols);
}
ENTRIES(q6_K_q8_K, QK_K)

#define TILE(name)                                                                       \
    if (pairs) return ncols == 8 ? name##_tile8_pairs : ncols == 4 ? name##_tile4_pairs : NULL; \
    return ncols == 8 ? name##_tile8 : ncols == 4 ? name##_tile4 : NULL

ggml_vec_dot_cols_t ggml_wasm_vec_dot_cols(enum ggml_type type, int ncols) {
    const int pairs = dot_pairs();
    switch (type) {
        case GGML_TYPE_Q4_0: TILE(q4_0_q8_0);
        case GGML_TYPE_Q4_1: TILE(q4_1_q8_1);
        case GGML_TYPE_Q5_0: TILE(q5_0_q8_0);
        case GGML_TYPE_Q5_1: TILE(q5_1_q8_1);
        case GGML_TYPE_Q8_0: TILE(q8_0_q8_0);
        case GGML_TYPE_Q4_K: TILE(q4_K_q8_K);
        case GGML_TYPE_Q5_K: TILE(q5_K_q8_K);
        case GGML_TYPE_Q6_K: TILE(q6_K_q8_K);
        default: return NULL;
    }
}

#endif // __wasm_relaxed_simd__
