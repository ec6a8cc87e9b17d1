/*
 * tests/test_kquants.c — the legacy Q4_1/Q5_0/Q5_1 blocks and the K-quants (Q2_K..Q6_K, Q8_K):
 * block sizes, row bytes, blocks decoded by hand, quantize -> dequantize error bounds, every
 * kernel set's matmul held to the reference, the reference held to a double-precision dot
 * product, thread counts that must not change a bit, and the per-tensor types of the llama.cpp
 * mixes `model synth` writes. The check against llama.cpp itself is tests/test_kquant_oracle.c.
 */
#include "helpers/testutil.h"

#include "engine/kernels_impl.h"
#include "engine/loader.h"
#include "engine/model.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int k_types[] = { ENG_TYPE_Q4_1, ENG_TYPE_Q5_0, ENG_TYPE_Q5_1, ENG_TYPE_Q2_K,
			       ENG_TYPE_Q3_K, ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K };
#define N_K_TYPES (int)(sizeof k_types / sizeof k_types[0])

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static float frand(void) /* uniform in [-1, 1) */
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (float)((rng_state >> 40) & 0xffffff) / (float)(1 << 23) - 1.0f;
}

static void test_block_sizes(void **state)
{
	static const struct {
		int type;
		int block;
		size_t bytes;
	} want[] = {
		{ ENG_TYPE_Q4_1, 32, 20 },   { ENG_TYPE_Q5_0, 32, 22 },   { ENG_TYPE_Q5_1, 32, 24 },
		{ ENG_TYPE_Q2_K, 256, 84 },  { ENG_TYPE_Q3_K, 256, 110 }, { ENG_TYPE_Q4_K, 256, 144 },
		{ ENG_TYPE_Q5_K, 256, 176 }, { ENG_TYPE_Q6_K, 256, 210 },
	};

	(void)state;
	assert_int_equal(sizeof(struct eng_block_q8_k), 292);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(eng_type_block(want[i].type), want[i].block);
		assert_int_equal(eng_row_bytes(want[i].type, 4096), 4096 / want[i].block * want[i].bytes);
		assert_int_equal(eng_row_bytes(want[i].type, want[i].block * 3), 3 * want[i].bytes);
		assert_int_equal(eng_row_bytes(want[i].type, want[i].block * 3 + 32), want[i].block == 256 ? 0 : 4 * want[i].bytes);
		assert_int_equal(eng_row_bytes(want[i].type, 16), 0);
	}
	assert_true(eng_type_is_k(ENG_TYPE_Q4_K));
	assert_false(eng_type_is_k(ENG_TYPE_Q5_0));
}

/* Blocks written byte by byte and decoded with ggml's formulas by hand. */
static void test_hand_decoded_blocks(void **state)
{
	struct eng_block_q4_k q4k;
	struct eng_block_q6_k q6k;
	struct eng_block_q5_0 q50;
	struct eng_block_q3_k q3k;
	float y[256];

	(void)state;
	/* Q4_K: d = 1, dmin = 0.5; sub-block 0: scale 2, min 1; sub-block 5: scale 33, min 17
	 * (6-bit values: low 4 bits in byte 9, top 2 bits in bytes 1 and 5). */
	memset(&q4k, 0, sizeof q4k);
	q4k.d = 0x3c00;
	q4k.dmin = 0x3800;
	q4k.scales[0] = 2;
	q4k.scales[4] = 1;
	q4k.scales[9] = (33 & 15) | ((17 & 15) << 4);
	q4k.scales[1] = (uint8_t)((33 >> 4) << 6);
	q4k.scales[5] = (uint8_t)((17 >> 4) << 6);
	q4k.qs[0] = 0x7a;      /* element 0: 10 (low nibble, sub-block 0); element 32: 7 (sub-block 1) */
	q4k.qs[64 + 3] = 0xc0; /* group 2: element 128+3 low = 0 (sub-block 4), 160+3 high = 12 (sub-block 5) */
	eng_dequantize_row(ENG_TYPE_Q4_K, &q4k, y, 256);
	assert_true(y[0] == 1.0f * 2 * 10 - 0.5f * 1);   /* 19.5 */
	assert_true(y[1] == -0.5f);                       /* q 0, scale 2, min 1 */
	assert_true(y[32] == 0.0f);                       /* sub-block 1: scale 0, min 0 */
	assert_true(y[163] == 1.0f * 33 * 12 - 0.5f * 17); /* 387.5 */
	assert_true(y[160] == -8.5f);

	/* Q6_K: d = 0.25; scales[0] = -3, scales[5] = 7. Element 0: ql low 5, qh bits 0-1 = 2 ->
	 * q = 5 | 32 = 37, value 0.25 * -3 * (37 - 32) = -3.75. Element 64 + 16 = 80 (scale index 5):
	 * ql[16] high nibble 9, qh[16] bits 4-5 = 3 -> q = 9 | 48 = 57, value 0.25 * 7 * 25 = 43.75. */
	memset(&q6k, 0, sizeof q6k);
	q6k.d = 0x3400;
	q6k.scales[0] = -3;
	q6k.scales[5] = 7;
	q6k.ql[0] = 0x05;
	q6k.qh[0] = 0x02;
	q6k.ql[16] = 0x90;
	q6k.qh[16] = 0x30;
	eng_dequantize_row(ENG_TYPE_Q6_K, &q6k, y, 256);
	assert_true(y[0] == -3.75f);
	assert_true(y[80] == 43.75f);
	assert_true(y[1] == 24.0f); /* q 0: 0.25 * -3 * (0 - 32) */

	/* Q5_0: d = 2; element 3: low nibble 1, fifth bit set -> 17 - 16 = 1 -> 2; element 20:
	 * high nibble of byte 4 = 0, no fifth bit -> -16 -> -32. */
	memset(&q50, 0, sizeof q50);
	q50.d = 0x4000;
	q50.qs[3] = 0x01;
	q50.qh[0] = 1u << 3;
	eng_dequantize_row(ENG_TYPE_Q5_0, &q50, y, 32);
	assert_true(y[3] == 2.0f);
	assert_true(y[20] == -32.0f);

	/* Q3_K: d = 1; scale 0 = 6-bit 40 -> 40 - 32 = 8 (low nibble 8 in byte 0, high bits 2 in byte
	 * 8 bits 0-1). Element 0: low bits 3, high bit set -> 3; element 1: low 1, no high bit ->
	 * 1 - 4 = -3. */
	memset(&q3k, 0, sizeof q3k);
	q3k.d = 0x3c00;
	q3k.scales[0] = 8;
	q3k.scales[8] = 2;
	q3k.qs[0] = 3;
	q3k.qs[1] = 1;
	q3k.hmask[0] = 1;
	eng_dequantize_row(ENG_TYPE_Q3_K, &q3k, y, 256);
	assert_true(y[0] == 24.0f);
	assert_true(y[1] == -24.0f);
}

/*
 * Quantize -> dequantize of uniform [-1, 1) rows: the RMS error over 64 super-blocks, relative to
 * the RMS of the data, stays below the bound of each type (a few times under what 2^bits levels
 * over the range give, measured values in the comment).
 */
static void test_round_trip(void **state)
{
	/* measured on this data: q4_1 0.078, q5_0 0.036, q5_1 0.039, q2_k 0.33, q3_k 0.18,
	 * q4_k 0.085, q5_k 0.043, q6_k 0.021 (rounded up) */
	static const double bound[] = { 0.10, 0.05, 0.05, 0.45, 0.25, 0.11, 0.06, 0.03 };
	enum { N = 256 * 64 };
	float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
	void *q = malloc(N * 2);

	(void)state;
	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(q);
	for (int i = 0; i < N; i++)
		x[i] = frand();
	for (int ti = 0; ti < N_K_TYPES; ti++) {
		double se = 0, sx = 0, rel;

		eng_quantize_row(k_types[ti], x, q, N);
		eng_dequantize_row(k_types[ti], q, y, N);
		for (int i = 0; i < N; i++) {
			se += (double)(y[i] - x[i]) * (y[i] - x[i]);
			sx += (double)x[i] * x[i];
		}
		rel = sqrt(se / sx);
		if (!(rel <= bound[ti])) {
			fprintf(stderr, "%s: relative RMS error %.4f above %.3f\n", eng_type_name(k_types[ti]), rel,
				bound[ti]);
			fail();
		}
	}
	/* all zeros stay zeros, without NaN */
	memset(x, 0, N * sizeof *x);
	for (int ti = 0; ti < N_K_TYPES; ti++) {
		eng_quantize_row(k_types[ti], x, q, 512);
		eng_dequantize_row(k_types[ti], q, y, 512);
		for (int i = 0; i < 512; i++)
			assert_true(y[i] == 0.0f);
	}
	free(x);
	free(y);
	free(q);
}

static void test_q8_k(void **state)
{
	float x[512], back;
	struct eng_block_q8_k b[2];

	(void)state;
	for (int i = 0; i < 512; i++)
		x[i] = frand() * (i < 256 ? 1.0f : 100.0f);
	x[7] = -1.5f; /* the element of largest magnitude maps to -127 * sign */
	eng_quantize_row_q8_k(x, b, 512);
	assert_int_equal(b[0].qs[7], -127);
	for (int k = 0; k < 2; k++)
		for (int g = 0; g < 16; g++) {
			int s = 0;

			for (int l = 0; l < 16; l++)
				s += b[k].qs[16 * g + l];
			assert_int_equal(b[k].bsums[g], s);
		}
	for (int i = 0; i < 512; i++) {
		back = b[i / 256].d * (float)b[i / 256].qs[i % 256];
		assert_true(fabsf(back - x[i]) <= fabsf(b[i / 256].d) * 0.5f + 1e-6f);
	}
}

/* ---- kernels ---- */

static int sets(const struct eng_kernel_set **out)
{
	static const char *const names[] = { "ref", "avx2+fma", "avx512", "neon" };
	int n = 0;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (eng_kernels_by_name(names[i]))
			out[n++] = eng_kernels_by_name(names[i]);
	return n;
}

struct kmat {
	struct eng_mat m;
	float *deq;
};

static void make_kmat(struct kmat *t, int type, int64_t rows, int64_t cols)
{
	float *row = malloc((size_t)cols * sizeof *row);
	char *data;

	t->m = (struct eng_mat){ .type = type, .rows = rows, .cols = cols, .row_bytes = eng_row_bytes(type, cols) };
	assert_true(t->m.row_bytes > 0);
	data = malloc(t->m.row_bytes * (size_t)rows);
	t->deq = malloc((size_t)(rows * cols) * sizeof *t->deq);
	assert_non_null(row);
	assert_non_null(data);
	assert_non_null(t->deq);
	for (int64_t r = 0; r < rows; r++) {
		float scale = ldexpf(1.0f, (int)(r % 5) - 2);

		for (int64_t c = 0; c < cols; c++)
			row[c] = frand() * scale + (r % 3 == 0 ? 0.3f * scale : 0.0f); /* some rows off-centre */
		eng_quantize_row(type, row, data + r * (int64_t)t->m.row_bytes, cols);
		eng_dequantize_row(type, data + r * (int64_t)t->m.row_bytes, t->deq + r * cols, cols);
	}
	t->m.data = data;
	free(row);
}

static void free_kmat(struct kmat *t)
{
	free((void *)t->m.data);
	free(t->deq);
}

/*
 * KQ_DOT_TOL: a fast kernel computes the same integers per (super-)block as the reference and
 * only sums the float terms of a row in another order; each term is at most
 * |d_x| (|d sc q . q8| + |dmin m bsum|) <= sum over the block of (|w| + 2 max|w|) |x|, so the
 * difference is bounded by a few float epsilons of that sum times log2 of the number of terms.
 */
#define KQ_DOT_TOL(n_terms, sum_abs) (4.0 * 1.2e-7 * (log2((double)(n_terms)) + 4.0) * (sum_abs))

static double row_abs_sum(const struct kmat *t, int64_t r, const float *x)
{
	double s = 0, wmax = 0, xs = 0;

	for (int64_t c = 0; c < t->m.cols; c++) {
		double w = fabs(t->deq[r * t->m.cols + c]);

		s += w * fabs(x[c]);
		wmax = w > wmax ? w : wmax;
		xs += fabs(x[c]);
	}
	return s + 2.0 * wmax * xs;
}

static void test_matmul_vs_ref(void **state)
{
	static const int64_t rows_list[] = { 1, 5, 16, 37 };
	/* 1, 2, 3, 5 and 8 super-blocks per row: the decode kernels take them four at a time */
	static const int64_t cols_list[] = { 256, 512, 768, 1280, 2048 };
	static const int toks[] = { 1, 2, 3, 4, 5, 9 };
	const struct eng_kernel_set *ks[4];
	int n_sets = sets(ks);
	struct eng_pool *pool = eng_pool_new(2);

	(void)state;
	assert_non_null(pool);
	for (int s = 0; s < n_sets; s++)
		for (int ti = 0; ti < N_K_TYPES; ti++)
			for (size_t ri = 0; ri < 4; ri++)
				for (size_t ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++)
					for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
						int64_t rows = rows_list[ri], cols = cols_list[ci];
						int n_tok = toks[k];
						struct kmat t;
						float *x = malloc((size_t)(n_tok * cols) * sizeof *x);
						float *y = malloc((size_t)(n_tok * rows) * sizeof *y);
						float *yr = malloc((size_t)(n_tok * rows) * sizeof *yr);

						if (cols >= 2048 && n_tok > 2) {
							free(x), free(y), free(yr);
							continue;
						}
						assert_non_null(x);
						assert_non_null(y);
						assert_non_null(yr);
						make_kmat(&t, k_types[ti], rows, cols);
						for (int64_t i = 0; i < n_tok * cols; i++)
							x[i] = frand() * 2.0f;
						for (int64_t i = 0; i < n_tok * rows; i++)
							y[i] = NAN;
						eng_matmul_ref(&t.m, x, n_tok, yr);
						eng_matmul_with(ks[s], (k & 1) ? pool : NULL, &t.m, x, n_tok, y);
						for (int tok = 0; tok < n_tok; tok++)
							for (int64_t r = 0; r < rows; r++) {
								double a = y[tok * rows + r], b = yr[tok * rows + r];
								double tol = KQ_DOT_TOL(cols / 16, row_abs_sum(&t, r, x + tok * cols));

								if (!(fabs(a - b) <= tol)) {
									fprintf(stderr, "%s %s %lldx%lld n_tok %d: y[%d][%lld] %.9g ref %.9g tol %.3g\n",
										ks[s]->name, eng_type_name(k_types[ti]), (long long)rows,
										(long long)cols, n_tok, tok, (long long)r, a, b, tol);
									fail();
								}
							}
						free_kmat(&t);
						free(x);
						free(y);
						free(yr);
					}
	eng_pool_free(pool);
}

/* Batches of 8 tokens and more: the sets that pack K-quant activations (the AVX-512 VNNI GEMM)
 * take another path than the row kernels above, with token tiles of 16 and row tiles of 4 and 2;
 * the counts cover full and partial tiles of both, and one call with several matrices (the packed
 * activations shared), all held to the reference. Q2_K and Q3_K have no GEMM: their batches run
 * the row kernels, four tokens per pass over a row. */
static void test_batch_gemm_vs_ref(void **state)
{
	static const int64_t rows_list[] = { 1, 3, 5, 16, 37 };
	static const int toks[] = { 8, 16, 17, 33, 64 };
	static const int types[] = { ENG_TYPE_Q4_K, ENG_TYPE_Q6_K, ENG_TYPE_Q5_K, ENG_TYPE_Q2_K, ENG_TYPE_Q3_K };
	const struct eng_kernel_set *ks[4];
	int n_sets = sets(ks), packing = 0;
	struct eng_pool *pool = eng_pool_new(2);

	(void)state;
	assert_non_null(pool);
	for (int s = 0; s < n_sets; s++) {
		packing += ks[s]->packed_bytes_k != NULL;
		for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++)
			for (size_t ri = 0; ri < sizeof rows_list / sizeof rows_list[0]; ri++)
				for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
					int64_t rows = rows_list[ri], cols = (ri & 1) ? 768 : 512;
					int n_tok = toks[k];
					struct kmat t[2];
					const struct eng_mat *wm[2] = { &t[0].m, &t[1].m };
					float *x = malloc((size_t)(n_tok * cols) * sizeof *x);
					float *y[2], *yr = malloc((size_t)(n_tok * rows) * sizeof *yr);

					y[0] = malloc((size_t)(n_tok * rows) * sizeof(float));
					y[1] = malloc((size_t)(n_tok * rows) * sizeof(float));
					assert_non_null(x);
					assert_non_null(yr);
					assert_non_null(y[0]);
					assert_non_null(y[1]);
					make_kmat(&t[0], types[ti], rows, cols);
					make_kmat(&t[1], types[ti], rows, cols);
					for (int64_t i = 0; i < n_tok * cols; i++)
						x[i] = frand() * 2.0f;
					for (int64_t i = 0; i < n_tok * rows; i++)
						y[0][i] = y[1][i] = NAN;
					eng_matmul_multi_with(ks[s], (k & 1) ? pool : NULL, wm, 2, x, n_tok, y);
					for (int m = 0; m < 2; m++) {
						eng_matmul_ref(&t[m].m, x, n_tok, yr);
						for (int tok = 0; tok < n_tok; tok++)
							for (int64_t r = 0; r < rows; r++) {
								double a = y[m][tok * rows + r], b = yr[tok * rows + r];
								double tol = KQ_DOT_TOL(cols / 16,
											row_abs_sum(&t[m], r, x + tok * cols));

								if (!(fabs(a - b) <= tol)) {
									fprintf(stderr,
										"%s %s %lldx%lld n_tok %d matrix %d: y[%d][%lld] %.9g ref %.9g tol %.3g\n",
										ks[s]->name, eng_type_name(types[ti]), (long long)rows,
										(long long)cols, n_tok, m, tok, (long long)r, a, b, tol);
									fail();
								}
							}
					}
					free_kmat(&t[0]);
					free_kmat(&t[1]);
					free(x);
					free(y[0]);
					free(y[1]);
					free(yr);
				}
	}
	tu_note("%d of %d kernel sets pack K-quant activations (for a batch GEMM or a weight layout of their own)", packing, n_sets);
	eng_pool_free(pool);
}

/* Sets the f16 scales of every block: d, and m or dmin (to m) where the type has one. */
static void set_scales(int type, void *blocks, int64_t n_blocks, eng_f16 d, eng_f16 m)
{
	for (int64_t b = 0; b < n_blocks; b++) {
		switch (type) {
		case ENG_TYPE_Q4_1: {
			struct eng_block_q4_1 *p = (struct eng_block_q4_1 *)blocks + b;

			p->d = d;
			p->m = m;
			break;
		}
		case ENG_TYPE_Q5_0:
			((struct eng_block_q5_0 *)blocks)[b].d = d;
			break;
		case ENG_TYPE_Q5_1: {
			struct eng_block_q5_1 *p = (struct eng_block_q5_1 *)blocks + b;

			p->d = d;
			p->m = m;
			break;
		}
		case ENG_TYPE_Q2_K: {
			struct eng_block_q2_k *p = (struct eng_block_q2_k *)blocks + b;

			p->d = d;
			p->dmin = m;
			break;
		}
		case ENG_TYPE_Q3_K:
			((struct eng_block_q3_k *)blocks)[b].d = d;
			break;
		case ENG_TYPE_Q4_K: {
			struct eng_block_q4_k *p = (struct eng_block_q4_k *)blocks + b;

			p->d = d;
			p->dmin = m;
			break;
		}
		case ENG_TYPE_Q5_K: {
			struct eng_block_q5_k *p = (struct eng_block_q5_k *)blocks + b;

			p->d = d;
			p->dmin = m;
			break;
		}
		case ENG_TYPE_Q6_K:
			((struct eng_block_q6_k *)blocks)[b].d = d;
			break;
		default:
			fail();
		}
	}
}

/*
 * K-quant blocks of random bytes (every byte pattern but the f16 scales is a valid block): the
 * extreme quants and scales a quantizer rarely writes (Q3_K scale -32, every quant 0 or 7, Q2_K
 * scale and min 15) against activations mostly at +-127; then blocks of all-ones bytes (every
 * quant and 6-bit scale at its top value) against activations all at -127, the largest sums a
 * kernel's integer lanes can hold (Q5_K: 16 products of 31 x 127 would not fit in int16). So a
 * saturating or overflowing integer step in a fast kernel shows; every set held to the reference,
 * on the matrix as stored and, where the set reads a type in its own layout, reordered to it.
 */
static void test_random_blocks_vs_ref(void **state)
{
	static const int types[] = { ENG_TYPE_Q2_K, ENG_TYPE_Q3_K, ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K };
	const struct eng_kernel_set *ks[4];
	int n_sets = sets(ks);
	enum { ROWS = 19, COLS = 1024, NTOK = 6 };

	(void)state;
	for (size_t fill = 0; fill < 2 * sizeof types / sizeof types[0]; fill++) {
		const int type = types[fill / 2], top = fill % 2;
		struct kmat t;
		size_t rb = eng_row_bytes(type, COLS), bb = rb / (COLS / ENG_QK_K);
		unsigned char *data = malloc(rb * ROWS);
		float *x = malloc(NTOK * COLS * sizeof *x), y[NTOK * ROWS], yr[NTOK * ROWS];

		assert_non_null(data);
		assert_non_null(x);
		for (size_t i = 0; i < rb * ROWS; i++)
			data[i] = top ? 0xff : (unsigned char)(frand() * 128.0f + 128.0f);
		for (size_t blk = 0; blk < ROWS * (size_t)(COLS / ENG_QK_K); blk++)
			set_scales(type, data + blk * bb, 1, eng_f32_to_f16(0.01f + 0.005f * (float)(blk % 7)),
				   eng_f32_to_f16(0.003f));
		t.m = (struct eng_mat){ .type = type, .rows = ROWS, .cols = COLS, .row_bytes = rb, .data = data };
		t.deq = malloc((size_t)ROWS * COLS * sizeof *t.deq);
		assert_non_null(t.deq);
		for (int r = 0; r < ROWS; r++)
			eng_dequantize_row(type, data + r * rb, t.deq + r * COLS, COLS);
		for (int i = 0; i < NTOK * COLS; i++) /* most at +-max of their block, some smaller */
			x[i] = top ? 1.0f : i % 5 == 4 ? frand() : (frand() < 0.0f ? -1.0f : 1.0f);
		eng_matmul_ref(&t.m, x, NTOK, yr);
		for (int s = 0; s < n_sets; s++) {
			int layout = ks[s]->weight_layout ? ks[s]->weight_layout(type) : ENG_LAYOUT_GGML;
			struct eng_mat own = t.m;
			void *odata = NULL;

			if (layout != ENG_LAYOUT_GGML) {
				odata = malloc(rb * ROWS);
				assert_non_null(odata);
				assert_int_equal(eng_mat_relayout(&own, layout, odata), 0);
			}
			for (int pass = 0; pass < (odata ? 2 : 1); pass++)
				for (int n_tok = 1; n_tok <= NTOK; n_tok++) {
					for (int i = 0; i < n_tok * ROWS; i++)
						y[i] = NAN;
					eng_matmul_with(ks[s], NULL, pass ? &own : &t.m, x, n_tok, y);
					for (int i = 0; i < n_tok * ROWS; i++) {
						double tol = KQ_DOT_TOL(COLS / 16, row_abs_sum(&t, i % ROWS, x + (i / ROWS) * COLS));

						if (!(fabs((double)y[i] - yr[i]) <= tol)) {
							fprintf(stderr, "%s %s %s blocks%s n_tok %d: y[%d] %.9g ref %.9g tol %.3g\n",
								ks[s]->name, eng_type_name(type), top ? "all-ones" : "random",
								pass ? " (set's layout)" : "", n_tok, i, y[i], yr[i], tol);
							fail();
						}
					}
				}
			free(odata);
		}
		free_kmat(&t);
		free(x);
	}
}

/* 32 random bits (the generator frand draws from) */
static uint32_t rbits(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

/*
 * The integer parts of every set's row kernels, bit for bit: weight blocks of random bytes (every
 * scale, min, high bit and quant value occurs) with all their f16 scales 1, activations whose
 * scales are 1 and whose quants are in -7..7 (the same values as Q8_0 and as Q8_K). Each output is
 * then an integer below 2^24 (Q6_K, the largest: 512 x 32 x 7 x 128 < 2^24), exact in float in any
 * order of the additions, so a set must give the reference's bits exactly. 7 rows (a tile of 4 and
 * one of 3) and 5 tokens (4 + 1), called directly on the row kernels.
 */
static void test_integer_parts_exact(void **state)
{
	enum { ROWS = 7, COLS = 512, NT = 5 };
	const struct eng_kernel_set *ks[4];
	int n_sets = sets(ks);
	int8_t *qs = aligned_alloc(64, NT * COLS);
	float d[NT * COLS / 32], c[NT * COLS / 32], y[NT * ROWS], yr[NT * ROWS];
	struct eng_block_q8_k q8k[NT * COLS / 256];
	struct eng_act a = { .qs = qs, .d = d, .c = c, .q8k = q8k, .cols = COLS, .nb = COLS / 32, .n_tok = NT };
	char names[64] = "";

	(void)state;
	assert_non_null(qs);
	for (int i = 0; i < NT * COLS; i++)
		qs[i] = (int8_t)((int)(rbits() % 15) - 7);
	for (int b = 0; b < NT * COLS / 32; b++) {
		int sum = 0;

		for (int j = 0; j < 32; j++)
			sum += qs[32 * b + j];
		d[b] = 1.0f;
		c[b] = 8.0f * (float)sum;
	}
	for (int b = 0; b < NT * COLS / 256; b++) {
		q8k[b].d = 1.0f;
		memcpy(q8k[b].qs, qs + 256 * b, 256);
		for (int g = 0; g < 16; g++) {
			int sum = 0;

			for (int j = 0; j < 16; j++)
				sum += q8k[b].qs[16 * g + j];
			q8k[b].bsums[g] = (int16_t)sum;
		}
	}
	for (int ti = 0; ti < N_K_TYPES; ti++) {
		int type = k_types[ti];
		size_t rb = eng_row_bytes(type, COLS);
		uint8_t *data = malloc(rb * ROWS);
		struct eng_mat m = { .type = type, .rows = ROWS, .cols = COLS, .row_bytes = rb };

		assert_true(rb > 0);
		assert_non_null(data);
		for (size_t i = 0; i < rb * ROWS; i++)
			data[i] = (uint8_t)rbits();
		set_scales(type, data, ROWS * COLS / eng_type_block(type), 0x3c00, 0x3c00);
		m.data = data;
		a.wtype = type;
		a.wlayout = ENG_LAYOUT_GGML;
		a.packed = NULL;
		eng_kset_ref.mm[type](&m, &a, yr, 0, ROWS);
		for (int s = 0; s < n_sets; s++) {
			int layout = ks[s]->weight_layout ? ks[s]->weight_layout(type) : ENG_LAYOUT_GGML;

			for (int pass = 0; pass < (layout == ENG_LAYOUT_GGML ? 1 : 2); pass++) {
				/* pass 1: the matrix in the set's own layout, the activations packed as the set
				 * packs them for it, its kernel called directly (no fallback in between) */
				struct eng_mat mt = m;
				struct eng_act at = a;
				void *tdata = NULL, *pk = NULL;

				if (pass) {
					tdata = malloc(rb * ROWS);
					assert_non_null(tdata);
					assert_int_equal(eng_mat_relayout(&mt, layout, tdata), 0);
					at.wlayout = layout;
					assert_non_null(ks[s]->packed_bytes_k);
					assert_true(ks[s]->packed_bytes_k(&at) > 0);
					pk = aligned_alloc(64, (ks[s]->packed_bytes_k(&at) + 63) & ~(size_t)63);
					assert_non_null(pk);
					ks[s]->pack_act_k(NULL, &at, pk);
				}
				for (int i = 0; i < NT * ROWS; i++)
					y[i] = NAN;
				ks[s]->mm[type](&mt, &at, y, 0, ROWS);
				for (int i = 0; i < NT * ROWS; i++)
					if (memcmp(&y[i], &yr[i], sizeof y[i]) || yr[i] != nearbyintf(yr[i])) {
						fprintf(stderr, "%s %s%s: y[%d][%d] %.9g ref %.9g\n", ks[s]->name,
							eng_type_name(type), pass ? " (set's layout)" : "", i / ROWS, i % ROWS,
							y[i], yr[i]);
						fail();
					}
				free(tdata);
				free(pk);
			}
		}
		free(data);
	}
	for (int s = 0; s < n_sets; s++)
		snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", s ? " " : "", ks[s]->name);
	tu_note("kernel sets held to the reference's integers: %s", names);
	free(qs);
}

#if defined(JB_NEON_KERNELS)
/* On AArch64 every legacy and K-quant type has its own NEON kernel (none falls back to _ref). */
static void test_neon_covers_types(void **state)
{
	const struct eng_kernel_set *neon = eng_kernels_by_name("neon");

	(void)state;
	assert_non_null(neon);
	for (int ti = 0; ti < N_K_TYPES; ti++) {
		assert_non_null(neon->mm[k_types[ti]]);
		assert_true(neon->mm[k_types[ti]] != eng_kset_ref.mm[k_types[ti]]);
	}
}
#endif

/* The reference against a double dot product of the dequantized weights with the unquantized
 * activations: the difference is the activation quantization, |x| <= 1 -> per element at most
 * half a step of 1/127 of the block maximum. */
static void test_ref_vs_double(void **state)
{
	(void)state;
	for (int ti = 0; ti < N_K_TYPES; ti++) {
		struct kmat t;
		float x[512], y[7];

		make_kmat(&t, k_types[ti], 7, 512);
		for (int i = 0; i < 512; i++)
			x[i] = frand();
		eng_matmul_ref(&t.m, x, 1, y);
		for (int64_t r = 0; r < 7; r++) {
			double s = 0, sw = 0;

			for (int c = 0; c < 512; c++) {
				s += (double)t.deq[r * 512 + c] * x[c];
				sw += fabs((double)t.deq[r * 512 + c]);
			}
			if (!(fabs(y[r] - s) <= sw / 254.0 + 1e-4)) {
				fprintf(stderr, "%s row %lld: %.6g vs %.6g (bound %.3g)\n", eng_type_name(k_types[ti]),
					(long long)r, y[r], s, sw / 254.0);
				fail();
			}
		}
		free_kmat(&t);
	}
}

/* Each row is computed by one thread with the same arithmetic: 1, 2 or 3 threads, same bits. */
static void test_threads_bitwise(void **state)
{
	struct eng_pool *p2 = eng_pool_new(2), *p3 = eng_pool_new(3);

	(void)state;
	for (int ti = 0; ti < N_K_TYPES; ti++) {
		struct kmat t;
		float x[3 * 1024], y1[3 * 300], y2[3 * 300], y3[3 * 300];

		make_kmat(&t, k_types[ti], 300, 1024);
		for (int i = 0; i < 3 * 1024; i++)
			x[i] = frand();
		for (int n_tok = 1; n_tok <= 3; n_tok += 2) {
			eng_matmul_with(eng_kernels_active(), NULL, &t.m, x, n_tok, y1);
			eng_matmul_with(eng_kernels_active(), p2, &t.m, x, n_tok, y2);
			eng_matmul_with(eng_kernels_active(), p3, &t.m, x, n_tok, y3);
			assert_memory_equal(y1, y2, (size_t)n_tok * 300 * sizeof(float));
			assert_memory_equal(y1, y3, (size_t)n_tok * 300 * sizeof(float));
		}
		free_kmat(&t);
	}
	eng_pool_free(p2);
	eng_pool_free(p3);
}

#if defined(__x86_64__)
/* The AVX-512 kernels called directly (the kernel table runs them only when eng_kquant_isa()
 * chose them), held to the reference on the same Q8_K activations. */
static void test_avx512_kernels(void **state)
{
	static const int types[] = { ENG_TYPE_Q4_K, ENG_TYPE_Q6_K };
	eng_mm_fn fast[] = { eng_mm_q4_k_avx512, eng_mm_q6_k_avx512 };
	eng_mm_fn ref[] = { eng_mm_q4_k_ref, eng_mm_q6_k_ref };

	(void)state;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
	    !__builtin_cpu_supports("avx512vl"))
		TU_SKIP("this CPU has no AVX-512 F/BW/VL");
	for (int ti = 0; ti < 2; ti++)
		for (int n_tok = 1; n_tok <= 6; n_tok++) {
			struct kmat t;
			int64_t rows = 21, cols = 1024, nbk = cols / 256;
			float *x = malloc((size_t)(n_tok * cols) * sizeof *x);
			float *y = malloc((size_t)(n_tok * rows) * sizeof *y), *yr = malloc((size_t)(n_tok * rows) * sizeof *yr);
			struct eng_block_q8_k *q = malloc((size_t)(n_tok * nbk) * sizeof *q);
			struct eng_act a = { .cols = cols, .nb = cols / 32, .n_tok = n_tok };

			assert_non_null(x);
			assert_non_null(y);
			assert_non_null(yr);
			assert_non_null(q);
			make_kmat(&t, types[ti], rows, cols);
			for (int64_t i = 0; i < n_tok * cols; i++)
				x[i] = frand();
			for (int tok = 0; tok < n_tok; tok++)
				eng_quantize_row_q8_k(x + tok * cols, q + tok * nbk, cols);
			a.x = x;
			a.q8k = q;
			fast[ti](&t.m, &a, y, 0, rows);
			ref[ti](&t.m, &a, yr, 0, rows);
			for (int64_t i = 0; i < n_tok * rows; i++) {
				double tol = KQ_DOT_TOL(cols / 16, row_abs_sum(&t, i % rows, x + (i / rows) * cols));

				if (!(fabs((double)y[i] - yr[i]) <= tol)) {
					fprintf(stderr, "avx512 %s n_tok %d: y[%lld] %.9g ref %.9g tol %.3g\n",
						eng_type_name(types[ti]), n_tok, (long long)i, y[i], yr[i], tol);
					fail();
				}
			}
			free_kmat(&t);
			free(x);
			free(y);
			free(yr);
			free(q);
		}
}
#endif

/* ---- llama.cpp's mixes ---- */

/*
 * The T layout of Q4_K and Q5_K (kquants.h): each element lands where the layout says, the reorder is
 * undone exactly, the activations follow the same order, a matrix reordered in place equals one
 * reordered into a copy, other types are refused, and every set's matmul of a T-layout matrix
 * (its own kernel where it reads the layout, the reference's otherwise) matches the reference on
 * the ggml-layout matrix, alone and in one call with a ggml-layout matrix of the same input.
 */
/* The VNNI set's T-layout decode kernels with (1) or without (0) GFNI; -1: as the CPU has it. */
static void set_gfni(int on)
{
#if defined(__x86_64__)
	eng_kq_vnni_force_gfni(on);
#else
	(void)on;
#endif
}

static void test_kq_t_layout(void **state)
{
	static const int64_t rows_list[] = { 1, 16, 37 };
	static const int64_t cols_list[] = { 256, 1280 };
	static const int toks[] = { 1, 2, 3, 4, 5, 9, 33 };
	const struct eng_kernel_set *ks[4];
	int n_sets = sets(ks);
	struct eng_pool *pool = eng_pool_new(2);
	struct eng_block_q4_k g, t, back;
	struct eng_block_q8_k x8;
	struct eng_block_q8_kt xt;
	/* both forms of the decode kernel (with GFNI and VBMI or without) where the CPU runs both */
#if defined(__x86_64__)
	const int n_gf = __builtin_cpu_supports("gfni") && __builtin_cpu_supports("avx512vbmi") ? 2 : 1;
#else
	const int n_gf = 1;
#endif

	(void)state;
	assert_non_null(pool);
	for (size_t i = 0; i < sizeof g; i++)
		((uint8_t *)&g)[i] = (uint8_t)rbits();
	eng_q4k_to_t(&g, &t, 1);
	assert_memory_equal(&t, &g, offsetof(struct eng_block_q4_k, qs)); /* d, dmin, scales */
	for (int sb = 0; sb < 8; sb++)
		for (int e = 0; e < 32; e++) {
			int want = sb % 2 ? g.qs[32 * (sb / 2) + e] >> 4 : g.qs[32 * (sb / 2) + e] & 15;
			int vec = e / 4, byte = 32 * (vec / 2) + 4 * sb + e % 4;
			int got = vec % 2 ? t.qs[byte] >> 4 : t.qs[byte] & 15;

			if (got != want) {
				fprintf(stderr, "sub-block %d element %d: %d in the T layout, %d stored\n", sb, e, got, want);
				fail();
			}
		}
	eng_q4k_from_t(&t, &back, 1);
	assert_memory_equal(&back, &g, sizeof g);
	{
		/* Q5_K: the nibbles as Q4_K's, the fifth bits to bit e / 4 of qh[4 sb + e % 4] */
		struct eng_block_q5_k g5, t5, back5;

		for (size_t i = 0; i < sizeof g5; i++)
			((uint8_t *)&g5)[i] = (uint8_t)rbits();
		eng_q5k_to_t(&g5, &t5, 1);
		assert_memory_equal(&t5, &g5, offsetof(struct eng_block_q5_k, qh));
		for (int sb = 0; sb < 8; sb++)
			for (int e = 0; e < 32; e++) {
				int lo = sb % 2 ? g5.qs[32 * (sb / 2) + e] >> 4 : g5.qs[32 * (sb / 2) + e] & 15;
				int want = lo | ((g5.qh[e] >> sb) & 1) << 4;
				int vec = e / 4, byte = 32 * (vec / 2) + 4 * sb + e % 4;
				int got = (vec % 2 ? t5.qs[byte] >> 4 : t5.qs[byte] & 15) |
					  ((t5.qh[4 * sb + e % 4] >> vec) & 1) << 4;

				if (got != want) {
					fprintf(stderr, "Q5_K sub-block %d element %d: %d in the T layout, %d stored\n", sb, e,
						got, want);
					fail();
				}
			}
		eng_q5k_from_t(&t5, &back5, 1);
		assert_memory_equal(&back5, &g5, sizeof g5);
	}
	for (int i = 0; i < 256; i++)
		x8.qs[i] = (int8_t)rbits();
	for (int k = 0; k < 16; k++) {
		int sum = 0;

		for (int j = 0; j < 16; j++)
			sum += x8.qs[16 * k + j];
		x8.bsums[k] = (int16_t)sum;
	}
	x8.d = 0.25f;
	eng_q8k_to_t(&x8, &xt, 1);
	for (int v = 0; v < 8; v++)
		for (int j = 0; j < 32; j++)
			assert_int_equal(xt.qs[32 * v + j], x8.qs[32 * (j / 4) + 4 * v + j % 4]);
	for (int sb = 0; sb < 8; sb++)
		assert_int_equal(xt.bsums32[sb], x8.bsums[2 * sb] + x8.bsums[2 * sb + 1]);
	assert_true(xt.d == 0.25f);

	for (int type = ENG_TYPE_Q4_K; type <= ENG_TYPE_Q5_K; type++) {
		for (size_t ri = 0; ri < sizeof rows_list / sizeof rows_list[0]; ri++)
			for (size_t ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++) {
				int64_t rows = rows_list[ri], cols = cols_list[ci];
				struct kmat k, q6;
				struct eng_mat tm, inplace;
				size_t bytes;
				void *tdata;

				make_kmat(&k, type, rows, cols);
				make_kmat(&q6, ENG_TYPE_Q6_K, rows, cols);
				bytes = k.m.row_bytes * (size_t)rows;
				tdata = malloc(bytes);
				assert_non_null(tdata);
				tm = k.m;
				assert_int_equal(eng_mat_relayout(&tm, ENG_LAYOUT_KQ_T, tdata), 0);
				assert_ptr_equal(tm.data, tdata);
				assert_int_equal(tm.layout, ENG_LAYOUT_KQ_T);
				assert_int_equal(eng_mat_relayout(&tm, ENG_LAYOUT_KQ_T, tdata), -EINVAL); /* already */
				inplace = k.m;
				inplace.data = malloc(bytes);
				assert_non_null(inplace.data);
				memcpy((void *)inplace.data, k.m.data, bytes);
				assert_int_equal(eng_mat_relayout(&inplace, ENG_LAYOUT_KQ_T, (void *)inplace.data), 0);
				assert_memory_equal(inplace.data, tdata, bytes);
				{
					struct eng_mat before = q6.m;

					assert_int_equal(eng_mat_relayout(&q6.m, ENG_LAYOUT_KQ_T, tdata), -EINVAL);
					assert_memory_equal(&q6.m, &before, sizeof before);
				}
				for (size_t ki = 0; ki < sizeof toks / sizeof toks[0]; ki++) {
					int n_tok = toks[ki];
					float *x = malloc((size_t)(n_tok * cols) * sizeof *x);
					float *y = malloc((size_t)(n_tok * rows) * sizeof *y);
					float *y2 = malloc((size_t)(n_tok * rows) * sizeof *y2);
					float *yr = malloc((size_t)(n_tok * rows) * sizeof *yr);

					assert_non_null(x);
					assert_non_null(y);
					assert_non_null(y2);
					assert_non_null(yr);
					for (int64_t i = 0; i < n_tok * cols; i++)
						x[i] = frand() * 2.0f;
					eng_matmul_ref(&k.m, x, n_tok, yr);
					for (int sg = 0; sg < n_sets * n_gf; sg++) {
						const int s = sg % n_sets;

						set_gfni(sg / n_sets);
						for (int multi = 0; multi < 2; multi++) {
							const struct eng_mat *ws[2] = { &tm, &k.m };
							float *ys[2] = { y, y2 };

							for (int64_t i = 0; i < n_tok * rows; i++)
								y[i] = y2[i] = NAN;
							if (multi)
								eng_matmul_multi_with(ks[s], pool, ws, 2, x, n_tok, ys);
							else
								eng_matmul_with(ks[s], (ki & 1) ? pool : NULL, &tm, x, n_tok, y);
							for (int o = 0; o <= multi; o++)
								for (int64_t i = 0; i < n_tok * rows; i++) {
									double a = ys[o][i], b = yr[i];
									double tol = KQ_DOT_TOL(cols / 16,
												row_abs_sum(&k, i % rows, x + (i / rows) * cols));

									if (!(fabs(a - b) <= tol)) {
										fprintf(stderr, "%s%s %s %s %lldx%lld n_tok %d%s: y[%lld] %.9g ref %.9g\n",
											ks[s]->name, sg / n_sets ? " (GFNI)" : "", eng_type_name(type),
											o ? "ggml layout" : "T layout", (long long)rows, (long long)cols,
											n_tok, multi ? " (two matrices)" : "", (long long)i, a, b);
										fail();
									}
								}
						}
					}
					free(x);
					free(y);
					free(y2);
					free(yr);
				}
				free((void *)inplace.data);
				free(tdata);
				free_kmat(&k);
				free_kmat(&q6);
			}
	}
	set_gfni(-1);
	eng_pool_free(pool);
}

static void test_synth_mix(void **state)
{
	static const char shape[] =
		"{ \"name\": \"mix12\", \"title\": \"mix test shape\", \"source\": \"joulebench tests\",\n"
		"  \"dim\": 256, \"hidden_dim\": 512, \"n_layers\": 12, \"n_heads\": 4, \"n_kv_heads\": 4,\n"
		"  \"vocab_size\": 256, \"seq_len\": 64, \"tied_embeddings\": true }\n";
	struct eng_model *m = NULL;
	char err[512], path[PATH_MAX], spec[PATH_MAX + 32], *dir;
	int t;

	(void)state;
	assert_int_equal(eng_synth_type_parse("Q4_K_M", &t), 0);
	assert_string_equal(eng_synth_type_name(t), "q4_k_m");
	assert_int_equal(eng_synth_type_parse("q4_k", &t), 0);
	assert_int_equal(t, ENG_TYPE_Q4_K);
	assert_int_equal(eng_synth_type_parse("q4_k_x", &t), -EINVAL);
	/* 12 layers (as stories110m), tied embeddings, every width a multiple of 256, small enough to
	 * quantize quickly under qemu (make test-arm) */
	dir = tu_mkdtemp();
	assert_non_null(dir);
	snprintf(path, sizeof path, "%s/mix12.json", dir);
	assert_int_equal(tu_write_file(path, shape, sizeof shape - 1), 0);
	snprintf(spec, sizeof spec, "synth:%s:q4_k_m", path);
	assert_int_equal(eng_model_open(spec, NULL, &m, err, sizeof err), 0);
	assert_int_equal(m->w.token_embd.type, ENG_TYPE_Q6_K); /* tied: the output's type */
	for (int l = 0; l < 12; l++) {
		/* use_more_bits(l, 12): l < 1, l >= 10, (l - 1) % 3 == 2 */
		int more = l < 1 || l >= 10 || (l - 1) % 3 == 2;
		int want = more ? ENG_TYPE_Q6_K : ENG_TYPE_Q4_K;

		assert_int_equal(m->w.layers[l].wv.type, want);
		assert_int_equal(m->w.layers[l].w_down.type, want);
		assert_int_equal(m->w.layers[l].wq.type, ENG_TYPE_Q4_K);
		assert_int_equal(m->w.layers[l].wo.type, ENG_TYPE_Q4_K);
		assert_int_equal(m->w.layers[l].w_up.type, ENG_TYPE_Q4_K);
	}
	{
		/* the loader gives every layer matrix of a type the active set reads in its own layout
		 * that layout, and counts its bytes; the rest stay as stored */
		uint64_t want = 0;

		for (int l = 0; l < 12; l++) {
			const struct eng_mat *mats[] = { &m->w.layers[l].wq, &m->w.layers[l].wk, &m->w.layers[l].wv,
							 &m->w.layers[l].wo, &m->w.layers[l].w_gate, &m->w.layers[l].w_up,
							 &m->w.layers[l].w_down };

			for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
				assert_int_equal(mats[i]->layout, eng_weight_layout(mats[i]->type));
				if (mats[i]->layout != ENG_LAYOUT_GGML)
					want += (uint64_t)mats[i]->rows * mats[i]->row_bytes;
			}
		}
		assert_int_equal(m->w.token_embd.layout, ENG_LAYOUT_GGML);
		assert_int_equal(m->desc.relaid_bytes, want);
		tu_note("Q4_K layout of the %s kernels: %s (%llu bytes reordered at load)", eng_kernels_isa(),
			eng_weight_layout(ENG_TYPE_Q4_K) == ENG_LAYOUT_KQ_T ? "T" : "as stored",
			(unsigned long long)want);
	}
	eng_model_close(m);
	tu_rmtree(dir);
	free(dir);
	/* stories15m (dim 288): K rows fall back as llama.cpp does: Q4_K -> Q5_0, Q6_K -> Q8_0 */
	assert_int_equal(eng_model_open("synth:stories15m:q4_k_m", NULL, &m, err, sizeof err), 0);
	assert_int_equal(m->w.token_embd.type, ENG_TYPE_Q8_0);
	assert_int_equal(m->w.layers[1].wq.type, ENG_TYPE_Q5_0);
	assert_int_equal(m->w.layers[1].w_down.type, ENG_TYPE_Q4_K); /* rows of 768 */
	assert_int_equal(m->w.layers[2].w_down.type, ENG_TYPE_Q6_K); /* use_more_bits(2, 6) */
	assert_int_equal(m->w.layers[2].wv.type, ENG_TYPE_Q8_0);     /* Q6_K, rows of 288 */
	eng_model_close(m);
}

/* teacher-forced logits of the file at `path` opened as the loader places it (or, mmap, kept in the
 * file mapping); returns the model's description */
static void file_logits(const char *path, int mmap_env, const int32_t *toks, int n, float *out,
			struct eng_model_desc *d)
{
	struct eng_ctx_opts o = { .n_threads = 2, .n_ctx = 32 };
	struct eng_model *m = NULL;
	struct eng_ctx *c;
	char err[512];

	if (mmap_env)
		setenv("JOULEBENCH_MMAP", "1", 1);
	else
		unsetenv("JOULEBENCH_MMAP");
	if (eng_model_open(path, NULL, &m, err, sizeof err))
		fail_msg("%s", err);
	unsetenv("JOULEBENCH_MMAP");
	eng_model_describe(m, d);
	if (!mmap_env && d->hugepage_bytes) {
		/* every multiplied matrix (Q4_K reordered, Q6_K as stored, the output) was copied out of
		 * the file into one region; token_embd, whose rows are looked up, stays in the mapping */
		uint64_t want = 0;
		const char *lo = m->weights_map, *hi = lo + m->weights_map_len;
		const struct eng_mat *out_mat = &m->w.output;

		for (int l = 0; l < m->cfg.n_layers; l++) {
			const struct eng_layer *L = &m->w.layers[l];
			const struct eng_mat *all[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down };

			for (size_t i = 0; i < 7; i++) {
				assert_true((const char *)all[i]->data >= lo && (const char *)all[i]->data < hi);
				want += (all[i]->rows * all[i]->row_bytes + 63) & ~(uint64_t)63;
			}
		}
		assert_true((const char *)out_mat->data >= lo && (const char *)out_mat->data < hi);
		want += (out_mat->rows * out_mat->row_bytes + 63) & ~(uint64_t)63;
		assert_int_equal(d->hugepage_bytes, want);
		assert_true(d->relaid_bytes < want);
		assert_false((const char *)m->w.token_embd.data >= lo && (const char *)m->w.token_embd.data < hi);
	}
	c = eng_ctx_new(m, &o, err, sizeof err);
	if (!c)
		fail_msg("%s", err);
	assert_int_equal(eng_prefill(c, toks, n, NULL, out), 0);
	eng_ctx_free(c);
	eng_model_close(m);
}

static void test_file_weights_placement(void **state)
{
	static const char shape[] =
		"{ \"name\": \"place2\", \"title\": \"placement test shape\", \"source\": \"joulebench tests\",\n"
		"  \"dim\": 256, \"hidden_dim\": 512, \"n_layers\": 2, \"n_heads\": 4, \"n_kv_heads\": 2,\n"
		"  \"vocab_size\": 256, \"seq_len\": 64, \"tied_embeddings\": false }\n";
	const int32_t toks[5] = { 1, 17, 200, 3, 99 };
	char err[512], shp[PATH_MAX], gguf[PATH_MAX], *dir;
	struct eng_model_desc placed, mapped;
	int type;
	float *a = malloc(5 * 256 * sizeof *a), *b = malloc(5 * 256 * sizeof *b);
	FILE *f;
	char line[128] = "";

	(void)state;
	dir = tu_mkdtemp();
	assert_non_null(dir);
	assert_non_null(a);
	assert_non_null(b);
	snprintf(shp, sizeof shp, "%s/place2.json", dir);
	snprintf(gguf, sizeof gguf, "%s/place2.gguf", dir);
	assert_int_equal(tu_write_file(shp, shape, sizeof shape - 1), 0);
	assert_int_equal(eng_synth_type_parse("q4_k_m", &type), 0);
	if (eng_synth_write(shp, type, 7, NULL, gguf, err, sizeof err))
		fail_msg("%s", err);
	file_logits(gguf, 0, toks, 5, a, &placed);
	file_logits(gguf, 1, toks, 5, b, &mapped);
	/* the same kernels on the same bytes wherever they live */
	assert_memory_equal(a, b, 5 * 256 * sizeof *a);
	assert_int_equal(mapped.hugepage_bytes, 0);
	assert_int_equal(placed.relaid_bytes, mapped.relaid_bytes);
	{
		/* a machine with less memory free than 10/9 of the matrices keeps them in the mapping */
		static const char low[] = "MemTotal:       16384 kB\nMemFree:          256 kB\nMemAvailable:     256 kB\n";
		char meminfo[PATH_MAX];
		struct eng_model_desc tight;

		snprintf(meminfo, sizeof meminfo, "%s/meminfo", dir);
		assert_int_equal(tu_write_file(meminfo, low, sizeof low - 1), 0);
		eng_loader_meminfo_path(meminfo);
		file_logits(gguf, 0, toks, 5, b, &tight);
		eng_loader_meminfo_path(NULL);
		assert_int_equal(tight.hugepage_bytes, 0);
		assert_int_equal(tight.relaid_bytes, placed.relaid_bytes);
		assert_memory_equal(a, b, 5 * 256 * sizeof *a);
	}
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(line, sizeof line, f))
			line[0] = '\0';
		fclose(f);
	}
	if (line[0] && !strstr(line, "[never]"))
		assert_true(placed.hugepage_bytes > 0);
	else
		tu_note("no transparent huge pages here: the weights stay in the file mapping");
	free(a);
	free(b);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_sizes),	 cmocka_unit_test(test_hand_decoded_blocks),
		cmocka_unit_test(test_round_trip),	 cmocka_unit_test(test_q8_k),
		cmocka_unit_test(test_matmul_vs_ref),	 cmocka_unit_test(test_batch_gemm_vs_ref),
		cmocka_unit_test(test_random_blocks_vs_ref), cmocka_unit_test(test_integer_parts_exact),
		cmocka_unit_test(test_ref_vs_double),
		cmocka_unit_test(test_threads_bitwise), cmocka_unit_test(test_synth_mix),
		cmocka_unit_test(test_kq_t_layout),	 cmocka_unit_test(test_file_weights_placement),
#if defined(__x86_64__)
		cmocka_unit_test(test_avx512_kernels),
#endif
#if defined(JB_NEON_KERNELS)
		cmocka_unit_test(test_neon_covers_types),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
