/*
 * engine/kquants.h — private to engine/: the legacy Q4_1/Q5_0/Q5_1 blocks of 32 and the K-quant
 * super-blocks of 256 (Q2_K..Q6_K, and the Q8_K activation blocks their dot products use), with
 * ggml's exact byte layouts, so files written by llama.cpp are read as stored.
 *
 * K-quants split a super-block of 256 weights into sub-blocks (16 of 16 for Q2_K/Q3_K/Q6_K, 8 of
 * 32 for Q4_K/Q5_K), each with a small integer scale (and for Q2_K/Q4_K/Q5_K a min) that the
 * super-block's f16 d (and dmin) multiply: weight = d * sc * q - dmin * m.
 */
#ifndef JB_ENGINE_KQUANTS_H
#define JB_ENGINE_KQUANTS_H

#include "engine/kernels.h"

#define ENG_QK_K 256      /* elements per K-quant super-block */
#define ENG_K_SCALE_SIZE 12 /* bytes of packed 6-bit scales and mins (Q4_K, Q5_K) */
#define ENG_QK4_1 32
#define ENG_QK5_0 32
#define ENG_QK5_1 32

struct eng_block_q4_1 {
	eng_f16 d, m;              /* value = q * d + m, q in 0..15 */
	uint8_t qs[ENG_QK4_1 / 2]; /* low nibble element j, high nibble element j + 16 */
};
struct eng_block_q5_0 {
	eng_f16 d;                 /* value = (q - 16) * d, q in 0..31 */
	uint8_t qh[4];             /* bit j: the fifth bit of element j (little-endian u32) */
	uint8_t qs[ENG_QK5_0 / 2]; /* low 4 bits, as Q4_0 */
};
struct eng_block_q5_1 {
	eng_f16 d, m;              /* value = q * d + m, q in 0..31 */
	uint8_t qh[4];
	uint8_t qs[ENG_QK5_1 / 2];
};

/* 2.625 bits per weight: 16 sub-blocks of 16, 4-bit scale and min each. */
struct eng_block_q2_k {
	uint8_t scales[ENG_QK_K / 16]; /* low nibble scale, high nibble min */
	uint8_t qs[ENG_QK_K / 4];      /* 2-bit quants: byte l of 32-byte group g holds elements
					* 128g + l + 32s in bits 2s..2s+1 (s = 0..3) */
	eng_f16 d, dmin;
};
/* 3.4375 bits per weight: 16 sub-blocks of 16, 6-bit signed scales (stored + 32). */
struct eng_block_q3_k {
	uint8_t hmask[ENG_QK_K / 8];   /* high bit: element 32b + l is bit b of hmask[l] */
	uint8_t qs[ENG_QK_K / 4];      /* low 2 bits, laid out as Q2_K; q = low | high << 2, value q - 4 */
	uint8_t scales[12];            /* 16 x 6 bits: low nibbles in bytes 0..7, high pairs in 8..11 */
	eng_f16 d;
};
/* 4.5 bits per weight: 8 sub-blocks of 32, 6-bit scale and min each. */
struct eng_block_q4_k {
	eng_f16 d, dmin;
	uint8_t scales[ENG_K_SCALE_SIZE]; /* see eng_kq_scale_min */
	uint8_t qs[ENG_QK_K / 2];         /* 32-byte group g: sub-block 2g low nibbles, 2g+1 high */
};
/* 5.5 bits per weight: Q4_K plus one high bit per weight. */
struct eng_block_q5_k {
	eng_f16 d, dmin;
	uint8_t scales[ENG_K_SCALE_SIZE];
	uint8_t qh[ENG_QK_K / 8];         /* element 32s + l: bit s of qh[l] */
	uint8_t qs[ENG_QK_K / 2];
};
/* 6.5625 bits per weight: 16 sub-blocks of 16, int8 scales; value = d * sc * (q - 32). */
struct eng_block_q6_k {
	uint8_t ql[ENG_QK_K / 2];      /* low 4 bits */
	uint8_t qh[ENG_QK_K / 4];      /* high 2 bits */
	int8_t scales[ENG_QK_K / 16];
	eng_f16 d;
};
/* Activations for K-quant dot products: float scale, the sum of each 16 quants. */
struct eng_block_q8_k {
	float d;
	int8_t qs[ENG_QK_K];
	int16_t bsums[ENG_QK_K / 16];
};

static_assert(sizeof(struct eng_block_q4_1) == 20, "q4_1 block is 20 bytes");
static_assert(sizeof(struct eng_block_q5_0) == 22, "q5_0 block is 22 bytes");
static_assert(sizeof(struct eng_block_q5_1) == 24, "q5_1 block is 24 bytes");
static_assert(sizeof(struct eng_block_q2_k) == 84, "q2_K block is 84 bytes");
static_assert(sizeof(struct eng_block_q3_k) == 110, "q3_K block is 110 bytes");
static_assert(sizeof(struct eng_block_q4_k) == 144, "q4_K block is 144 bytes");
static_assert(sizeof(struct eng_block_q5_k) == 176, "q5_K block is 176 bytes");
static_assert(sizeof(struct eng_block_q6_k) == 210, "q6_K block is 210 bytes");
static_assert(sizeof(struct eng_block_q8_k) == 292, "q8_K block is 292 bytes");

/* Elements per block of a type the engine computes with (1 for F32/F16), 0 if unsupported. */
int eng_type_block(int type);
/* 1 for the K-quant weight types (their matmuls take Q8_K activations). */
int eng_type_is_k(int type);

/* Row bytes / quantize / dequantize of the types above (eng_row_bytes and friends call these
 * for every type but F32, F16, Q8_0, Q4_0). row_bytes is 0 for another type or a bad n. */
size_t eng_kq_row_bytes(int type, int64_t n);
void eng_kq_quantize_row(int type, const float *x, void *dst, int64_t n);
void eng_kq_dequantize_row(int type, const void *src, float *y, int64_t n);

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block. */
void eng_kq_scale_min(int j, const uint8_t *scales, uint8_t *sc, uint8_t *m);
/* All eight at once from the 12 packed bytes (sc[0..7], m[0..7]). */
void eng_kq_scales_mins8(const uint8_t *scales, uint8_t sc[8], uint8_t m[8]);
/* The 16 signed scales (-32..31) of a Q3_K super-block. */
void eng_kq_q3_scales(const uint8_t *scales, int8_t out[16]);

/*
 * The T layout of Q4_K (ENG_LAYOUT_KQ_T, struct eng_mat.layout): the same 144-byte super-blocks
 * with d, dmin and the packed scales unchanged and the 256 nibbles of qs reordered. Vector m
 * (0..7) of the reordered block is nibble m % 2 of the 32 bytes at qs + 32 * (m / 2); its byte j
 * holds element 4m + j % 4 of sub-block j / 4. So every 32-byte vector carries four consecutive
 * weights of each of the eight sub-blocks, each int16 lane of a maddubs product belongs to one
 * sub-block (lanes 2s, 2s + 1 to sub-block s) whatever the vector, and a kernel sums the eight
 * products with plain adds and applies the scales with one madd: no unpacks or shuffles.
 * The activations are reordered the same way (struct eng_block_q8_kt), once per matmul.
 * Q5_K's T layout reorders qs the same way and its fifth bits to match: bit m of qh[j] is the
 * fifth bit of the weight at byte j of vector m.
 */
/* n Q4_K / Q5_K super-blocks from the ggml layout to the T layout, and back. in != out. */
void eng_q4k_to_t(const struct eng_block_q4_k *in, struct eng_block_q4_k *out, int64_t n);
void eng_q4k_from_t(const struct eng_block_q4_k *in, struct eng_block_q4_k *out, int64_t n);
void eng_q5k_to_t(const struct eng_block_q5_k *in, struct eng_block_q5_k *out, int64_t n);
void eng_q5k_from_t(const struct eng_block_q5_k *in, struct eng_block_q5_k *out, int64_t n);

/* A Q8_K block with its quants in the T order (qs[32m + j] = element 32 (j / 4) + 4m + j % 4 of
 * the block) and, instead of sums of 16, the sum of each sub-block of 32. 32-byte aligned. */
struct eng_block_q8_kt {
	int8_t qs[ENG_QK_K];
	int16_t bsums32[8];
	float d;
	float pad[3];
};
static_assert(sizeof(struct eng_block_q8_kt) == 288, "q8_Kt block is 288 bytes");

/* n Q8_K blocks to the T order. */
void eng_q8k_to_t(const struct eng_block_q8_k *in, struct eng_block_q8_kt *out, int64_t n);

/* n floats (n % 256 == 0) -> Q8_K blocks, as ggml's reference quantizer (d = max / -127 of the
 * element of largest magnitude, round to nearest even, bsums of each 16). */
void eng_quantize_row_q8_k(const float *x, struct eng_block_q8_k *y, int64_t n);

#endif
