// Checks and times our relaxed-SIMD vec_dot kernels (quants-relaxed.c), the single-row ones and
// the 4- and 8-column tiles mul_mat uses for prompts (ggml_wasm_vec_dot_cols), against ggml's scalar
// reference (*_generic) and ggml's SIMD128 kernels (*_simd128), linked from a relaxed build's own
// ggml libraries (scripts/build_wasm.py builds wasm/kernels/kernel-check.{js,wasm} with it;
// tests/e2e/test_wasm_kernels.py runs it in Chromium).
//
//     kernel-check.js check   one JSON line per kernel: cases, mismatches, the worst, and the
//                             same for the tiles (each case's activations as column 0 of 4
//                             and of 8, the other columns random); every case runs in both
//                             instruction mixes (quants-relaxed.c: quads and pairs), each
//                             checked, and mix_differences counts results that are not the
//                             same float in both
//     kernel-check.js bench   ns per 256 weights for generic, simd128, relaxed and each tile
//                             (per column) in the mix this engine was probed for, and the
//                             relaxed kernel and tiles in the other mix
//     kernel-check.js f16     one JSON line: the build's f16 <-> f32 row conversions (SIMD128 in
//                             every wasm build: llama.cpp.patch) against ggml's scalar ones,
//                             every half and the floats around every rounding tie
//
// Cases per kernel, in rows of 1, 9 and 64 blocks: random blocks, and edge blocks (every quant at its largest and smallest,
// activations at -128 and 127, scales at their extremes). With unit scales every kernel sums
// integers, so where the sum of the terms' magnitudes is below 2^24 (every partial sum is then
// exact in float) the results must be equal bit for bit; otherwise they may differ only by float
// rounding: 1e-6 of that sum of magnitudes.

#include "ggml.h"
#include "ggml-cpu.h"
#include "ggml-common.h"
#include "ggml-quants.h"
#include "quants.h"
#include "simd-mappings.h"

#include <emscripten.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DECLARE(name)                                                                           \
    void name##_simd128(int n, float * s, size_t bs, const void * x, size_t bx, const void * y, \
                        size_t by, int nrc);
DECLARE(ggml_vec_dot_q4_0_q8_0)
DECLARE(ggml_vec_dot_q4_1_q8_1)
DECLARE(ggml_vec_dot_q5_0_q8_0)
DECLARE(ggml_vec_dot_q5_1_q8_1)
DECLARE(ggml_vec_dot_q8_0_q8_0)
DECLARE(ggml_vec_dot_q4_K_q8_K)
DECLARE(ggml_vec_dot_q5_K_q8_K)
DECLARE(ggml_vec_dot_q6_K_q8_K)

typedef void (*vec_dot_fn)(int, float *, size_t, const void *, size_t, const void *, size_t, int);

enum activation { Q8_0, Q8_1, Q8_K };

typedef struct {
    const char * name;
    enum ggml_type type;
    size_t block_bytes;
    int block_elements;
    enum activation activation;
    vec_dot_fn relaxed, simd128, generic;
    void (*dequantize)(const void * x, float * y, int64_t k);
    float min_scale;  // the largest 6-bit min of a Q4_K/Q5_K sub-block (0: the type has none)
} kernel;

#define DEQUANTIZE(type) (void (*)(const void *, float *, int64_t)) dequantize_row_##type

static const kernel KERNELS[] = {
    {"q4_0", GGML_TYPE_Q4_0, sizeof(block_q4_0), QK4_0, Q8_0, ggml_vec_dot_q4_0_q8_0, ggml_vec_dot_q4_0_q8_0_simd128, ggml_vec_dot_q4_0_q8_0_generic, DEQUANTIZE(q4_0), 0},
    {"q4_1", GGML_TYPE_Q4_1, sizeof(block_q4_1), QK4_1, Q8_1, ggml_vec_dot_q4_1_q8_1, ggml_vec_dot_q4_1_q8_1_simd128, ggml_vec_dot_q4_1_q8_1_generic, DEQUANTIZE(q4_1), 0},
    {"q5_0", GGML_TYPE_Q5_0, sizeof(block_q5_0), QK5_0, Q8_0, ggml_vec_dot_q5_0_q8_0, ggml_vec_dot_q5_0_q8_0_simd128, ggml_vec_dot_q5_0_q8_0_generic, DEQUANTIZE(q5_0), 0},
    {"q5_1", GGML_TYPE_Q5_1, sizeof(block_q5_1), QK5_1, Q8_1, ggml_vec_dot_q5_1_q8_1, ggml_vec_dot_q5_1_q8_1_simd128, ggml_vec_dot_q5_1_q8_1_generic, DEQUANTIZE(q5_1), 0},
    {"q8_0", GGML_TYPE_Q8_0, sizeof(block_q8_0), QK8_0, Q8_0, ggml_vec_dot_q8_0_q8_0, ggml_vec_dot_q8_0_q8_0_simd128, ggml_vec_dot_q8_0_q8_0_generic, DEQUANTIZE(q8_0), 0},
    {"q4_K", GGML_TYPE_Q4_K, sizeof(block_q4_K), QK_K, Q8_K, ggml_vec_dot_q4_K_q8_K, ggml_vec_dot_q4_K_q8_K_simd128, ggml_vec_dot_q4_K_q8_K_generic, DEQUANTIZE(q4_K), 63},
    {"q5_K", GGML_TYPE_Q5_K, sizeof(block_q5_K), QK_K, Q8_K, ggml_vec_dot_q5_K_q8_K, ggml_vec_dot_q5_K_q8_K_simd128, ggml_vec_dot_q5_K_q8_K_generic, DEQUANTIZE(q5_K), 63},
    {"q6_K", GGML_TYPE_Q6_K, sizeof(block_q6_K), QK_K, Q8_K, ggml_vec_dot_q6_K_q8_K, ggml_vec_dot_q6_K_q8_K_simd128, ggml_vec_dot_q6_K_q8_K_generic, DEQUANTIZE(q6_K), 0},
};
#define N_KERNELS (sizeof(KERNELS) / sizeof(KERNELS[0]))

extern int ggml_wasm_dot_pairs;  // quants-relaxed.c: 1 pairs, 0 quads, -1 not probed yet
static const char * const MIXES[2] = {"quads", "pairs"};

// The mix quants-relaxed.c's probe picks on this engine (probed by a first kernel call).
static int probed_mix(void) {
    ggml_wasm_dot_pairs = -1;
    ggml_wasm_vec_dot_cols(GGML_TYPE_Q4_0, 4);
    return ggml_wasm_dot_pairs;
}

static uint32_t rng_state = 0x9E3779B9u;

static uint32_t next_random(void) {  // xorshift32: the same cases on every run
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

enum fill { RANDOM, HIGHEST, LOWEST, ALTERNATING, SIGN_EDGE };
#define N_FILLS 5

static uint8_t fill_byte(enum fill fill, int index) {
    switch (fill) {
        case HIGHEST: return 0xFF;
        case LOWEST: return 0x00;
        case ALTERNATING: return index % 2 ? 0xFF : 0x00;
        case SIGN_EDGE: return index % 2 ? 0x7F : 0x80;
        default: return (uint8_t) next_random();
    }
}

static int8_t fill_activation(enum fill fill, int index) {
    switch (fill) {
        case HIGHEST: return 127;
        case LOWEST: return -128;
        case ALTERNATING: return index % 2 ? 127 : -128;
        case SIGN_EDGE: return index % 3 ? -128 : 127;
        default: return (int8_t) next_random();
    }
}

static ggml_fp16_t half(float value) { return ggml_fp32_to_fp16(value); }

static float random_scale(void) { return 0.5f + (next_random() % 1024) / 682.0f; }

// The weight blocks: every byte as `fill`, then each fp16 scale field set to `scale` (1 or random).
static void make_weights(const kernel * k, uint8_t * x, int blocks, enum fill fill, int unit) {
    for (int b = 0; b < blocks; ++b) {
        uint8_t * block = x + b * k->block_bytes;
        for (size_t i = 0; i < k->block_bytes; ++i) block[i] = fill_byte(fill, (int) i);
        const float d = unit ? 1.0f : random_scale();
        const float m = unit ? 1.0f : random_scale();
        if (!strcmp(k->name, "q4_0")) ((block_q4_0 *) block)->d = half(d);
        if (!strcmp(k->name, "q5_0")) ((block_q5_0 *) block)->d = half(d);
        if (!strcmp(k->name, "q8_0")) ((block_q8_0 *) block)->d = half(d);
        if (!strcmp(k->name, "q4_1")) { ((block_q4_1 *) block)->d = half(d); ((block_q4_1 *) block)->m = half(m); }
        if (!strcmp(k->name, "q5_1")) { ((block_q5_1 *) block)->d = half(d); ((block_q5_1 *) block)->m = half(m); }
        if (!strcmp(k->name, "q4_K")) { ((block_q4_K *) block)->d = half(d); ((block_q4_K *) block)->dmin = half(m); }
        if (!strcmp(k->name, "q5_K")) { ((block_q5_K *) block)->d = half(d); ((block_q5_K *) block)->dmin = half(m); }
        if (!strcmp(k->name, "q6_K")) ((block_q6_K *) block)->d = half(d);
    }
}

// The activation blocks, consistent as ggml's quantizers make them (q8_1's s, q8_K's bsums).
static void make_activations(const kernel * k, uint8_t * y, int n, enum fill fill, int unit) {
    const float d = unit ? 1.0f : random_scale();
    if (k->activation == Q8_K) {
        block_q8_K * blocks = (block_q8_K *) y;
        for (int b = 0; b < n / QK_K; ++b) {
            blocks[b].d = d;
            for (int i = 0; i < QK_K; ++i) blocks[b].qs[i] = fill_activation(fill, i);
            for (int g = 0; g < QK_K / 16; ++g) {
                int sum = 0;
                for (int i = 0; i < 16; ++i) sum += blocks[b].qs[16 * g + i];
                blocks[b].bsums[g] = (int16_t) sum;
            }
        }
    } else if (k->activation == Q8_1) {
        block_q8_1 * blocks = (block_q8_1 *) y;
        for (int b = 0; b < n / QK8_1; ++b) {
            int sum = 0;
            for (int i = 0; i < QK8_1; ++i) sum += blocks[b].qs[i] = fill_activation(fill, i);
            blocks[b].d = half(d);
            blocks[b].s = half(d * sum);
        }
    } else {
        block_q8_0 * blocks = (block_q8_0 *) y;
        for (int b = 0; b < n / QK8_0; ++b) {
            for (int i = 0; i < QK8_0; ++i) blocks[b].qs[i] = fill_activation(fill, i);
            blocks[b].d = half(d);
        }
    }
}

static size_t activation_bytes(const kernel * k, int n) {
    switch (k->activation) {
        case Q8_K: return n / QK_K * sizeof(block_q8_K);
        case Q8_1: return n / QK8_1 * sizeof(block_q8_1);
        default: return n / QK8_0 * sizeof(block_q8_0);
    }
}

// The activations as values (quant × scale) of a block row of n.
static void activation_values(const kernel * k, const uint8_t * y, int n, float * out) {
    for (int i = 0; i < n; ++i) {
        if (k->activation == Q8_K) {
            const block_q8_K * b = (const block_q8_K *) y + i / QK_K;
            out[i] = b->qs[i % QK_K] * b->d;
        } else if (k->activation == Q8_1) {
            const block_q8_1 * b = (const block_q8_1 *) y + i / QK8_1;
            out[i] = b->qs[i % QK8_1] * ggml_fp16_to_fp32(b->d);
        } else {
            const block_q8_0 * b = (const block_q8_0 *) y + i / QK8_0;
            out[i] = b->qs[i % QK8_0] * ggml_fp16_to_fp32(b->d);
        }
    }
}

// Σ |terms| of the dot product, which bounds every partial sum of any summation order: from
// the dequantized weights, plus, for types with mins, the mins' own part (summed apart).
static double magnitude(const kernel * k, const uint8_t * x, const uint8_t * y, int n) {
    float * w = malloc(n * sizeof(float));
    float * a = malloc(n * sizeof(float));
    k->dequantize(x, w, n);
    activation_values(k, y, n, a);
    double total = 0;
    for (int i = 0; i < n; ++i) {
        double dmin = 0;
        if (k->min_scale > 0) {
            const block_q4_K * block = (const block_q4_K *) (x + i / QK_K * k->block_bytes);
            dmin = fabs(ggml_fp16_to_fp32(block->dmin));  // q5_K starts with the same d, dmin
        }
        total += (fabs(w[i]) + 2 * k->min_scale * dmin) * fabs(a[i]);
    }
    free(w);
    free(a);
    return total;
}

// Whether `got` may stand for ggml's scalar result on (x, y): bit for bit where the sum is exact.
static int agrees(const kernel * k, const uint8_t * x, const uint8_t * y, int n, int unit, float got,
                  float reference, int * exact_cases, double * worst) {
    const double bound = magnitude(k, x, y, n);
    const int exact = unit && bound < 16777216.0;
    *exact_cases += exact;
    const double error = fabs((double) got - reference);
    const double relative = error / (fabs(reference) > 1 ? fabs(reference) : 1);
    if (relative > *worst) *worst = relative;
    return error <= (exact ? 0.0 : 1e-6 * bound);
}

#define TILE_COLUMNS 8  // the widest tile
static const int TILE_WIDTHS[] = {4, 8};
#define N_TILES 2

static void check(void) {
    static const int row_blocks[] = {1, 9, 64};  // odd counts too: kernels that pair blocks
    const int probed = probed_mix();
    for (size_t ki = 0; ki < N_KERNELS; ++ki) {
        const kernel * k = &KERNELS[ki];
        int cases = 0, mismatches = 0, exact_cases = 0, tile_cases = 0, tile_mismatches = 0, tile_exact = 0;
        int mix_differences = 0;
        double worst = 0.0, tile_worst = 0.0;
        for (size_t li = 0; li < sizeof(row_blocks) / sizeof(row_blocks[0]); ++li) {
            const int n = row_blocks[li] * k->block_elements;
            const size_t y_bytes = activation_bytes(k, n);
            uint8_t * x = malloc(n / k->block_elements * k->block_bytes);
            uint8_t * y = malloc(TILE_COLUMNS * y_bytes);  // column 0 is the case's, the others random
            for (int unit = 0; unit < 2; ++unit) {
                for (int wf = 0; wf < N_FILLS; ++wf) {
                    for (int af = 0; af < N_FILLS; ++af) {
                        for (int rep = 0; rep < (wf == RANDOM || af == RANDOM ? 8 : 1); ++rep) {
                            make_weights(k, x, n / k->block_elements, (enum fill) wf, unit);
                            make_activations(k, y, n, (enum fill) af, unit);
                            for (int c = 1; c < TILE_COLUMNS; ++c) make_activations(k, y + c * y_bytes, n, RANDOM, unit);
                            float reference[TILE_COLUMNS] = {0}, relaxed[2] = {0}, tiled[2][N_TILES][TILE_COLUMNS * 2] = {{{0}}};
                            for (int c = 0; c < TILE_COLUMNS; ++c) k->generic(n, &reference[c], 0, x, 0, y + c * y_bytes, 0, 1);
                            ++cases;
                            for (int mix = 0; mix < 2; ++mix) {  // exact_cases: counted once, in the probed mix
                                int exact_counted = 0;
                                ggml_wasm_dot_pairs = mix;
                                k->relaxed(n, &relaxed[mix], 0, x, 0, y, 0, 1);
                                if (!agrees(k, x, y, n, unit, relaxed[mix], reference[0], mix == probed ? &exact_cases : &exact_counted, &worst)) {
                                    if (mismatches < 3) {
                                        fprintf(stderr, "%s (%s) n=%d unit=%d weights=%d activations=%d: relaxed %.9g, generic %.9g\n",
                                                k->name, MIXES[mix], n, unit, wf, af, relaxed[mix], reference[0]);
                                    }
                                    ++mismatches;
                                }
                                for (int t = 0; t < N_TILES; ++t) {  // results 2 floats apart: bs is honoured
                                    const int width = TILE_WIDTHS[t];
                                    ggml_wasm_vec_dot_cols(k->type, width)(n, tiled[mix][t], 2, x, y, y_bytes);
                                    for (int c = 0; c < width; ++c) {
                                        const uint8_t * yc = y + c * y_bytes;
                                        tile_cases += mix == probed;
                                        if (!agrees(k, x, yc, n, unit, tiled[mix][t][2 * c], reference[c], mix == probed ? &tile_exact : &exact_counted, &tile_worst)) {
                                            if (tile_mismatches < 3) {
                                                fprintf(stderr, "%s (%s) tile of %d, column %d n=%d unit=%d weights=%d activations=%d: tile %.9g, generic %.9g\n",
                                                        k->name, MIXES[mix], width, c, n, unit, wf, af, tiled[mix][t][2 * c], reference[c]);
                                            }
                                            ++tile_mismatches;
                                        }
                                    }
                                }
                            }
                            mix_differences += memcmp(&relaxed[0], &relaxed[1], sizeof(float)) != 0;
                            mix_differences += memcmp(tiled[0], tiled[1], sizeof(tiled[0])) != 0;
                            ggml_wasm_dot_pairs = probed;
                        }
                    }
                }
            }
            free(x);
            free(y);
        }
        printf("{\"kernel\": \"%s\", \"cases\": %d, \"exact_cases\": %d, \"mismatches\": %d, \"worst_relative\": %.3g, "
               "\"tile_cases\": %d, \"tile_exact_cases\": %d, \"tile_mismatches\": %d, \"tile_worst_relative\": %.3g, "
               "\"mix\": \"%s\", \"mix_differences\": %d}\n",
               k->name, cases, exact_cases, mismatches, worst, tile_cases, tile_exact, tile_mismatches, tile_worst,
               MIXES[probed], mix_differences);
    }
}

static double time_kernel(vec_dot_fn fn, int n, const void * x, const void * y, int reps) {
    float sink = 0, out = 0;
    const double start = emscripten_get_now();
    for (int r = 0; r < reps; ++r) {
        fn(n, &out, 0, x, 0, y, 0, 1);
        sink += out;
    }
    const double ms = emscripten_get_now() - start;
    if (sink == 12345.678f) puts("");  // keeps the calls
    return ms * 1e6 / reps / (n / 256.0);
}

// ns per 256 weights per column: a tile of `width` activation rows y_bytes apart.
static double time_tile(ggml_vec_dot_cols_t tile, int width, int n, const void * x, const void * y, size_t y_bytes, int reps) {
    float sink = 0, out[TILE_COLUMNS] = {0};
    const double start = emscripten_get_now();
    for (int r = 0; r < reps; ++r) {
        tile(n, out, 1, x, y, y_bytes);
        sink += out[0] + out[width - 1];
    }
    const double ms = emscripten_get_now() - start;
    if (sink == 12345.678f) puts("");
    return ms * 1e6 / reps / (n / 256.0) / width;
}

static void bench(void) {
    const int n = 4096, rows = 64, reps = 400;  // a 64×4096 weight matrix (144 KB-272 KB)
    const int probed = probed_mix();
    // generic, simd128, then relaxed, tile of 4 and tile of 8 in the probed mix and in the other
    enum { N_TIMINGS = 2 + 2 * (1 + N_TILES) };
    for (size_t ki = 0; ki < N_KERNELS; ++ki) {
        const kernel * k = &KERNELS[ki];
        const size_t row_bytes = n / k->block_elements * k->block_bytes;
        const size_t y_bytes = activation_bytes(k, n);
        uint8_t * x = malloc(row_bytes * rows);
        uint8_t * y = malloc(TILE_COLUMNS * y_bytes);
        make_weights(k, x, n / k->block_elements * rows, RANDOM, 0);
        for (int c = 0; c < TILE_COLUMNS; ++c) make_activations(k, y + c * y_bytes, n, RANDOM, 0);
        double ns[N_TIMINGS];
        for (int f = 0; f < N_TIMINGS; ++f) ns[f] = 1e30;
        for (int round = 0; round < 5; ++round) {  // best of 5, interleaved
            for (int f = 0; f < N_TIMINGS; ++f) {
                const int relaxed = f >= 2, kind = relaxed ? (f - 2) % (1 + N_TILES) : 0;  // 0: one row
                const int width = kind == 0 ? 1 : TILE_WIDTHS[kind - 1];
                ggml_wasm_dot_pairs = f < 2 + 1 + N_TILES ? probed : !probed;
                const vec_dot_fn fn = f == 0 ? k->generic : f == 1 ? k->simd128 : k->relaxed;
                double total = 0;
                for (int row = 0; row < rows; ++row) {
                    total += width == 1 ? time_kernel(fn, n, x + row * row_bytes, y, reps)
                                        : time_tile(ggml_wasm_vec_dot_cols(k->type, width), width, n, x + row * row_bytes, y, y_bytes, reps / width);
                }
                if (total / rows < ns[f]) ns[f] = total / rows;
            }
        }
        ggml_wasm_dot_pairs = probed;
        printf("{\"kernel\": \"%s\", \"mix\": \"%s\", \"ns_per_256\": {\"generic\": %.1f, \"simd128\": %.1f, \"relaxed\": %.1f, \"tile4\": %.1f, \"tile8\": %.1f}, "
               "\"other_mix\": {\"mix\": \"%s\", \"relaxed\": %.1f, \"tile4\": %.1f, \"tile8\": %.1f}}\n",
               k->name, MIXES[probed], ns[0], ns[1], ns[2], ns[3], ns[4], MIXES[!probed], ns[5], ns[6], ns[7]);
        free(x);
        free(y);
    }
}

// ggml_cpu_fp16_to_fp32 / ggml_cpu_fp32_to_fp16 (ggml-cpu: SIMD128 in our builds, the same
// conversion as the F16 vectors of vec_dot_f16, vec_mad_f16 and flash attention) against
// ggml_fp16_to_fp32 / ggml_fp32_to_fp16 (ggml-base: scalar), bit for bit: every half; every
// float whose low 13 bits (those f16 drops) are 0, just below, at or just above half an f16 step,
// for every sign, exponent and f16 mantissa; and random floats. Rows of an odd length, so the
// scalar tails run too. The same floats through __wasm_f32x4_round_f16 (flash attention's F16
// accumulator kept in f32) against the scalar conversion there and back (a NaN: any NaN).
#define F16_ROW 1021
static void check_f16(void) {
    int halves = 0, half_mismatches = 0, floats = 0, float_mismatches = 0, round_mismatches = 0;
    ggml_fp16_t h[F16_ROW], h_got[F16_ROW];
    float f[F16_ROW], f_got[F16_ROW];
    for (uint32_t start = 0; start < 65536; start += F16_ROW) {
        const int n = start + F16_ROW <= 65536 ? F16_ROW : (int) (65536 - start);
        for (int i = 0; i < n; ++i) h[i] = (ggml_fp16_t) (start + i);
        ggml_cpu_fp16_to_fp32(h, f_got, n);
        for (int i = 0; i < n; ++i) {
            const float want = ggml_fp16_to_fp32(h[i]);
            half_mismatches += memcmp(&want, &f_got[i], sizeof(float)) != 0 && !(isnan(want) && isnan(f_got[i]));
        }
        halves += n;
    }
    static const uint32_t LOW_BITS[] = {0x0000, 0x0FFF, 0x1000, 0x1001};
    const uint32_t around_ties = (1u << 19) * 4;  // sign, exponent, 10 mantissa bits; 4 low patterns
    const uint32_t total = around_ties + (1u << 20);  // then random bits
    for (uint32_t start = 0; start < total; start += F16_ROW) {
        const int n = start + F16_ROW <= total ? F16_ROW : (int) (total - start);
        for (int i = 0; i < n; ++i) {
            const uint32_t k = start + i;
            const uint32_t bits = k < around_ties ? (k >> 2) << 13 | LOW_BITS[k & 3] : next_random();
            memcpy(&f[i], &bits, sizeof(float));
        }
        ggml_cpu_fp32_to_fp16(f, h_got, n);
        for (int i = 0; i < n; ++i) float_mismatches += ggml_fp32_to_fp16(f[i]) != h_got[i];
        const int whole = n - n % 4;  // the vector function's lanes
        for (int i = 0; i < whole; i += 4) wasm_v128_store(f_got + i, __wasm_f32x4_round_f16(wasm_v128_load(f + i)));
        for (int i = 0; i < whole; ++i) {
            const float want = ggml_fp16_to_fp32(ggml_fp32_to_fp16(f[i]));
            round_mismatches += memcmp(&want, &f_got[i], sizeof(float)) != 0 && !(isnan(want) && isnan(f_got[i]));
        }
        floats += n;
    }
    printf("{\"conversion\": \"f16\", \"halves\": %d, \"half_mismatches\": %d, \"floats\": %d, \"float_mismatches\": %d, "
           "\"round_mismatches\": %d}\n",
           halves, half_mismatches, floats, float_mismatches, round_mismatches);
}

int main(int argc, char ** argv) {
    ggml_cpu_init();  // the fp16 table the kernels read
    if (argc > 1 && !strcmp(argv[1], "bench")) {
        bench();
    } else if (argc > 1 && !strcmp(argv[1], "f16")) {
        check_f16();
    } else {
        check();
    }
    return 0;
}
