/*
 * tests/test_kernels.c — every SIMD kernel against its plain-C `_ref` twin.
 *
 * Each kernel set this build and CPU can run (avx512vnni on x86-64 with AVX-512 VNNI, avx2+fma
 * with AVX2, neon on ARM) is held to the reference over random inputs and sizes, odd lengths
 * included where the kernel allows them, within the named bounds below. The bounds are derived from how the two versions may
 * differ (summation order, fused multiply-add, the exp approximation), not tuned to pass: a
 * kernel that drops a block, a row or a tail element fails them by orders of magnitude.
 */
#include "helpers/testutil.h"

#include "engine/kernels_impl.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unit roundoff of float. */
#define U_F32 (FLT_EPSILON / 2)
/*
 * Float dot products of n terms: each version's error is at most (n - 1) u sum|w x| (worst case
 * of recursive or blocked summation with or without FMA), so the two differ by at most twice
 * that; +2 covers the final horizontal adds of the SIMD accumulators.
 */
#define FP_DOT_TOL(n, sum_abs) (2.0 * ((double)(n) + 2.0) * U_F32 * (sum_abs))
/*
 * Quantized dot products: the integer block sums are exact in both versions; what differs is
 * the float work per block (the scale products, and for Q4_0 the offset term 8 d8 sum(q8)
 * folded in with one fused multiply-subtract: at most 4 roundings) and the summation of nb block
 * terms. sum_abs bounds every intermediate: sum over blocks of |dw dx| (sum |qw qx| + 8 |sum qx|).
 */
#define QDOT_TOL(nb, sum_abs) (2.0 * ((double)(nb) + 6.0) * U_F32 * (sum_abs))
/* rmsnorm: the sum of squares is a dot product (FP_DOT_TOL on it) feeding a square root (which
 * halves the relative error), then two roundings per element. */
#define RMSNORM_REL_TOL(n) (((double)(n) + 2.0) * U_F32 + 4.0 * U_F32)
/* The vector exp (Taylor degree 7 after range reduction) is within 4 ulp of expf on [-87, 88]. */
#define EXP_REL_TOL (4.0 * FLT_EPSILON)
/* softmax: exp error, plus the sum of n terms, plus the final scaling. */
#define SOFTMAX_REL_TOL(n) (EXP_REL_TOL + ((double)(n) + 4.0) * U_F32)
/* swiglu: exp error, then an add, a division and a multiplication. */
#define SWIGLU_REL_TOL (EXP_REL_TOL + 4.0 * U_F32)
/* rope: same angles; the rotation of a pair uses one FMA instead of two roundings: 3 u of the
 * pair's magnitude. */
#define ROPE_ABS_TOL(mag) (3.0 * U_F32 * (mag))

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}
/* uniform in [-1, 1) */
static float frand(void)
{
	return (float)(rnd() >> 8) / (float)(1 << 23) - 1.0f;
}

/* The non-reference sets this machine can run; the reference itself is always included last so
 * the harness is exercised even where no SIMD set exists. */
static int simd_sets(const struct eng_kernel_set **out)
{
	static const char *names[] = { "avx512vnni", "avx2+fma", "neon" };
	int n = 0;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct eng_kernel_set *ks = eng_kernels_by_name(names[i]);

		if (ks)
			out[n++] = ks;
	}
	if (n == 0)
		tu_note("no SIMD kernel set on this CPU/build; checking the reference against itself");
	out[n++] = &eng_kset_ref;
	return n;
}

static void test_active_set(void **state)
{
	const char *name = eng_kernels_impl();
	const char *isa_env = getenv("JOULEBENCH_ISA"), *simd_env = getenv("JOULEBENCH_SIMD");

	(void)state;
	assert_non_null(name);
	assert_string_equal(name, eng_simd_name());
	assert_non_null(eng_kernels_by_name("ref"));
	assert_ptr_equal(eng_kernels_by_name("ref"), &eng_kset_ref);
	assert_null(eng_kernels_by_name("amx"));
	assert_non_null(strstr(eng_isa_available(), eng_isa_name()));
	if (isa_env && *isa_env) {
		/* forced: that path when this CPU runs it, else the best with a note */
		if (eng_kernels_by_name(isa_env))
			assert_string_equal(eng_isa_name(), isa_env);
		else
			assert_non_null(eng_isa_note());
		return;
	}
	assert_null(eng_isa_note());
	if (simd_env && !strcmp(simd_env, "ref")) {
		assert_string_equal(name, "ref");
		assert_string_equal(eng_isa_name(), "ref");
		return;
	}
#if defined(__x86_64__)
	assert_true(!eng_kernels_by_name("avx512") == !eng_x86_has_avx512_vnni());
	if (eng_x86_has_avx512_vnni()) {
		assert_string_equal(name, "avx512vnni");
		assert_string_equal(eng_isa_name(), "avx512");
	} else if (eng_x86_has_avx2_fma_f16c()) {
		assert_string_equal(name, "avx2+fma");
		assert_string_equal(eng_isa_name(), "avx2");
	} else {
		assert_string_equal(name, "ref");
	}
#elif defined(JB_NEON_KERNELS)
	assert_null(eng_kernels_by_name("avx512"));
	assert_string_equal(name, "neon");
#else
	assert_null(eng_kernels_by_name("avx512"));
	assert_string_equal(name, "ref");
#endif
}

/* Activation quantization must be bit-identical across sets (the matmul tests rely on it). */
static void test_quantize_act_identical(void **state)
{
	enum { N = 4096 };
	const struct eng_kernel_set *sets[4];
	int n_sets = simd_sets(sets);
	float *x = malloc(N * sizeof *x);
	int8_t *q0 = aligned_alloc(64, N), *q1 = aligned_alloc(64, N);
	float d0[N / 32], d1[N / 32], c0[N / 32], c1[N / 32];

	(void)state;
	assert_non_null(x);
	assert_non_null(q0);
	assert_non_null(q1);
	for (int i = 0; i < N; i++)
		x[i] = frand() * powf(10.0f, (float)((i / 32) % 9) - 4.0f);
	for (int i = 64; i < 96; i++) /* an all-zero block */
		x[i] = 0.0f;
	for (int i = 96; i < 128; i++) /* ties: x * id lands on k + 0.5 */
		x[i] = (float)((i % 9) - 4) + 0.5f;
	x[96] = 127.0f; /* amax 127: d = 1, so x * id = x exactly */
	x[97] = 2.5f;
	x[98] = 3.5f;
	x[99] = -2.5f;
	eng_quantize_act_ref(x, N, q0, d0, c0);
	for (int s = 0; s < n_sets; s++) {
		sets[s]->quantize_act(x, N, q1, d1, c1);
		assert_memory_equal(q0, q1, N);
		assert_memory_equal(d0, d1, sizeof d0);
		assert_memory_equal(c0, c1, sizeof c0);
	}
	/* ties round to even */
	assert_int_equal(d0[3], 1.0f);
	assert_int_equal(q0[97], 2);
	assert_int_equal(q0[98], 4);
	assert_int_equal(q0[99], -2);
	free(x);
	free(q0);
	free(q1);
}

/* Q8_K activations (the K-quant matmuls' input) must be bit-identical across sets too: quants,
 * block sums and scales, including the corner cases of the reference's scalar loop. */
static void test_quantize_act_k_identical(void **state)
{
	enum { NB = 24, N = NB * ENG_QK_K };
	const struct eng_kernel_set *sets[4];
	int n_sets = simd_sets(sets);
	float *x = malloc(N * sizeof *x);
	struct eng_block_q8_k *y0 = malloc(NB * sizeof *y0), *y1 = malloc(NB * sizeof *y1);

	(void)state;
	assert_non_null(x);
	assert_non_null(y0);
	assert_non_null(y1);
	for (int i = 0; i < N; i++)
		x[i] = frand() * powf(10.0f, (float)((i / ENG_QK_K) % 9) - 4.0f);
	for (int i = 0; i < ENG_QK_K; i++) /* block 1: all zero */
		x[ENG_QK_K + i] = (i & 1) ? -0.0f : 0.0f;
	/* block 2: the largest magnitude twice, the negative one first: it sets the sign */
	x[2 * ENG_QK_K + 200] = 9.0f;
	x[2 * ENG_QK_K + 37] = -9.0f;
	/* block 3: NaNs are skipped by the maximum; their products quantize to 0 */
	x[3 * ENG_QK_K + 5] = NAN;
	x[3 * ENG_QK_K + 255] = NAN;
	/* block 4: ties, x * is on k + 0.5 (amax 127 gives is = -1) */
	for (int i = 0; i < ENG_QK_K; i++)
		x[4 * ENG_QK_K + i] = (float)((i % 21) - 10) + 0.5f;
	x[4 * ENG_QK_K + 99] = 127.0f;
	/* block 5: every element at full scale, so every sum of 16 is at its bound */
	for (int i = 0; i < ENG_QK_K; i++)
		x[5 * ENG_QK_K + i] = (i & 16) ? -3.0f : 3.0f;
	/* block 6: only NaNs and zeros: a zero block */
	for (int i = 0; i < ENG_QK_K; i++)
		x[6 * ENG_QK_K + i] = (i % 3) ? 0.0f : NAN;
	/* block 7: subnormal inputs */
	for (int i = 0; i < ENG_QK_K; i++)
		x[7 * ENG_QK_K + i] = frand() * 1e-39f;
	eng_quantize_row_q8_k(x, y0, N);
	for (int s = 0; s < n_sets; s++) {
		memset(y1, 0x5a, NB * sizeof *y1);
		sets[s]->quantize_act_k(x, y1, N);
		for (int b = 0; b < NB; b++) {
			assert_memory_equal(y0[b].qs, y1[b].qs, sizeof y0[b].qs);
			assert_memory_equal(y0[b].bsums, y1[b].bsums, sizeof y0[b].bsums);
			assert_memory_equal(&y0[b].d, &y1[b].d, sizeof y0[b].d);
		}
	}
	/* the reference itself on the corner cases */
	assert_true(y0[1].d == 0.0f && y0[6].d == 0.0f);
	assert_true(y0[2].qs[37] == -127 && y0[2].qs[200] == 127);
	assert_int_equal(y0[3].qs[5], 0);
	assert_int_equal(y0[4].qs[99], -127);
	assert_int_equal(y0[4].qs[0], 10); /* -(-9.5) rounds to even */
	assert_int_equal(y0[5].bsums[0], -16 * 127);
	assert_int_equal(y0[5].bsums[1], 16 * 127);
	free(x);
	free(y0);
	free(y1);
}

static const char *type_str(int type)
{
	return type == ENG_TYPE_F32 ? "f32" : type == ENG_TYPE_F16 ? "f16" : type == ENG_TYPE_Q8_0 ? "q8_0" : "q4_0";
}

/* A random weight matrix of the given type, built by quantizing random floats. */
struct test_mat {
	struct eng_mat m;
	void *data;
	float *deq; /* dequantized rows (what the weights really are) */
};

static void make_mat(struct test_mat *t, int type, int64_t rows, int64_t cols)
{
	float *row = malloc((size_t)cols * sizeof *row);

	t->m.type = type;
	t->m.rows = rows;
	t->m.cols = cols;
	t->m.row_bytes = eng_row_bytes(type, cols);
	assert_true(t->m.row_bytes > 0);
	t->data = malloc(t->m.row_bytes * (size_t)rows + 64);
	t->deq = malloc((size_t)(rows * cols) * sizeof *t->deq);
	assert_non_null(row);
	assert_non_null(t->data);
	assert_non_null(t->deq);
	for (int64_t r = 0; r < rows; r++) {
		float scale = powf(2.0f, (float)(rnd() % 8) - 4.0f);

		for (int64_t c = 0; c < cols; c++)
			row[c] = frand() * scale;
		eng_quantize_row(type, row, (char *)t->data + r * (int64_t)t->m.row_bytes, cols);
		eng_dequantize_row(type, (char *)t->data + r * (int64_t)t->m.row_bytes,
				   t->deq + r * cols, cols);
	}
	t->m.data = t->data;
	free(row);
}

static void free_mat(struct test_mat *t)
{
	free(t->data);
	free(t->deq);
}

/* The bound for y[t][r]: float weights use FP_DOT_TOL over the dequantized values; quantized
 * weights use QDOT_TOL over the blocks, with the activations quantized as the kernels do. */
static double mm_tol(const struct test_mat *t, const float *x, int tok, int64_t r)
{
	const struct eng_mat *m = &t->m;
	const float *w = t->deq + r * m->cols;
	const float *xt = x + (int64_t)tok * m->cols;
	double sum_abs = 0.0;

	if (m->type == ENG_TYPE_F32 || m->type == ENG_TYPE_F16) {
		for (int64_t c = 0; c < m->cols; c++)
			sum_abs += fabs((double)w[c] * xt[c]);
		return FP_DOT_TOL(m->cols, sum_abs) + 1e-30;
	} else {
		int64_t nb = m->cols / 32;
		int8_t *qx = malloc((size_t)m->cols);
		float *dx = malloc((size_t)nb * sizeof *dx), *cx = malloc((size_t)nb * sizeof *cx);

		assert_non_null(qx);
		assert_non_null(dx);
		assert_non_null(cx);
		eng_quantize_act_ref(xt, m->cols, qx, dx, cx);
		for (int64_t b = 0; b < nb; b++) {
			const char *blk = (const char *)m->data + r * (int64_t)m->row_bytes +
					  b * (m->type == ENG_TYPE_Q4_0 ? 18 : 34);
			float dw = eng_f16_to_f32(*(const eng_f16 *)blk);
			double s = 0.0, sq = 0.0;

			for (int j = 0; j < 32; j++) {
				int qw = m->type == ENG_TYPE_Q4_0
						 ? ((j < 16 ? (blk[2 + j] & 0x0f) : ((uint8_t)blk[2 + j - 16] >> 4)))
						 : (int8_t)blk[2 + j];
				s += fabs((double)qw * qx[b * 32 + j]);
				sq += qx[b * 32 + j];
			}
			sum_abs += fabs((double)dw * dx[b]) * (s + 8.0 * fabs(sq));
		}
		free(qx);
		free(dx);
		free(cx);
		return QDOT_TOL(nb, sum_abs) + 1e-30;
	}
}

static void check_matmul(const struct eng_kernel_set *ks, struct eng_pool *pool, int type, int64_t rows,
			 int64_t cols, int n_tok)
{
	struct test_mat t;
	float *x = malloc((size_t)(n_tok * cols) * sizeof *x);
	float *y = malloc((size_t)(n_tok * rows) * sizeof *y);
	float *yr = malloc((size_t)(n_tok * rows) * sizeof *yr);

	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(yr);
	make_mat(&t, type, rows, cols);
	for (int64_t i = 0; i < n_tok * cols; i++)
		x[i] = frand() * 3.0f;
	for (int64_t i = 0; i < n_tok * rows; i++)
		y[i] = NAN; /* every output must be written */
	eng_matmul_ref(&t.m, x, n_tok, yr);
	eng_matmul_with(ks, pool, &t.m, x, n_tok, y);
	for (int tok = 0; tok < n_tok; tok++) {
		for (int64_t r = 0; r < rows; r++) {
			double a = y[tok * rows + r], b = yr[tok * rows + r];
			double tol = mm_tol(&t, x, tok, r);

			if (!(fabs(a - b) <= tol)) {
				fprintf(stderr, "%s %s %lldx%lld n_tok %d threads %d: y[%d][%lld] = %.9g, ref %.9g, tol %.3g\n",
					ks->name, type_str(type), (long long)rows, (long long)cols, n_tok,
					eng_pool_threads(pool), tok, (long long)r, a, b, tol);
				fail();
			}
		}
	}
	free_mat(&t);
	free(x);
	free(y);
	free(yr);
}

static void test_matmul_vs_ref(void **state)
{
	static const int types[] = { ENG_TYPE_F32, ENG_TYPE_F16, ENG_TYPE_Q8_0, ENG_TYPE_Q4_0 };
	static const int64_t rows_list[] = { 1, 3, 4, 5, 17, 64, 133 };
	static const int64_t qcols[] = { 32, 64, 96, 256, 2048 };
	static const int64_t fcols[] = { 1, 7, 8, 13, 33, 100, 256 };
	static const int toks[] = { 1, 2, 3, 4, 5, 7, 9 };
	const struct eng_kernel_set *sets[4];
	int n_sets = simd_sets(sets);
	struct eng_pool *pools[3] = { NULL, eng_pool_new(2), eng_pool_new(3) };

	(void)state;
	assert_non_null(pools[1]);
	assert_non_null(pools[2]);
	for (int s = 0; s < n_sets; s++) {
		for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
			int q = types[ti] == ENG_TYPE_Q4_0 || types[ti] == ENG_TYPE_Q8_0;
			const int64_t *cols = q ? qcols : fcols;

			for (size_t ri = 0; ri < sizeof rows_list / sizeof rows_list[0]; ri++)
				for (size_t ci = 0; ci < 5; ci++)
					for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
						if (cols[ci] >= 2048 && toks[k] > 2)
							continue; /* keep the test fast */
						check_matmul(sets[s], pools[(ri + k) % 3], types[ti], rows_list[ri],
							     cols[ci], toks[k]);
					}
			for (size_t ci = 5; !q && ci < 7; ci++)
				check_matmul(sets[s], pools[ci % 3], types[ti], 37, cols[ci], 6);
		}
	}
	eng_pool_free(pools[1]);
	eng_pool_free(pools[2]);
}

/*
 * The AVX-512 VNNI Q4_0 / Q8_0 kernels compute every block's integer dot product exactly and then
 * scale and add block by block in the reference's order, so they must match eng_matmul_ref bit
 * for bit: decode (matvec, odd block counts included), the small-batch GEMM (4..8 tokens, two lanes
 * per token) and the packed batch GEMM (n_tok >= 9, token tiles of 16 with partial tiles, row tiles
 * of 4 and 2 with tails), on 1..3 threads.
 */
static void test_matmul_avx512_bitwise(void **state)
{
	static const int types[] = { ENG_TYPE_Q8_0, ENG_TYPE_Q4_0 };
	static const int64_t rows_list[] = { 1, 2, 3, 5, 17, 64, 133 };
	static const int64_t cols_list[] = { 32, 64, 96, 288, 2048 };
	static const int toks[] = { 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 47, 64 };
	const struct eng_kernel_set *ks = eng_kernels_by_name("avx512vnni");
	struct eng_pool *pools[3] = { NULL, eng_pool_new(2), eng_pool_new(3) };

	(void)state;
	assert_non_null(pools[1]);
	assert_non_null(pools[2]);
	if (!ks) {
		tu_note("no AVX-512 VNNI on this CPU/build: the avx512vnni kernels are not checked here");
		goto out;
	}
	for (size_t ti = 0; ti < 2; ti++)
		for (size_t ri = 0; ri < sizeof rows_list / sizeof rows_list[0]; ri++)
			for (size_t ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++)
				for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
					struct test_mat t;
					int64_t rows = rows_list[ri], cols = cols_list[ci];
					int n_tok = toks[k];
					float *x, *y, *yr;

					if (cols >= 2048 && n_tok > 17 && rows > 17)
						continue; /* keep the test fast */
					x = malloc((size_t)(n_tok * cols) * sizeof *x);
					y = malloc((size_t)(n_tok * rows) * sizeof *y);
					yr = malloc((size_t)(n_tok * rows) * sizeof *yr);
					assert_non_null(x);
					assert_non_null(y);
					assert_non_null(yr);
					make_mat(&t, types[ti], rows, cols);
					for (int64_t i = 0; i < n_tok * cols; i++)
						x[i] = frand() * 3.0f;
					memset(y, 0xff, (size_t)(n_tok * rows) * sizeof *y);
					eng_matmul_ref(&t.m, x, n_tok, yr);
					eng_matmul_with(ks, pools[(ri + k) % 3], &t.m, x, n_tok, y);
					if (memcmp(y, yr, (size_t)(n_tok * rows) * sizeof *y)) {
						for (int64_t i = 0; i < n_tok * rows; i++)
							if (memcmp(&y[i], &yr[i], sizeof *y)) {
								fprintf(stderr, "avx512vnni %s %lldx%lld n_tok %d: y[%lld] = %.9g, ref %.9g\n",
									type_str(types[ti]), (long long)rows, (long long)cols, n_tok,
									(long long)i, y[i], yr[i]);
								break;
							}
						fail();
					}
					free_mat(&t);
					free(x);
					free(y);
					free(yr);
				}
out:
	eng_pool_free(pools[1]);
	eng_pool_free(pools[2]);
}

/* A real layer size, the way the engine calls it: threads split the rows, results must not
 * depend on the number of threads (each row is computed by one thread, same arithmetic). */
static void test_matmul_threads_bitwise(void **state)
{
	static const int types[] = { ENG_TYPE_F32, ENG_TYPE_F16, ENG_TYPE_Q8_0, ENG_TYPE_Q4_0 };

	(void)state;
	for (size_t ti = 0; ti < 4; ti++) {
		struct test_mat t;
		int64_t rows = 300, cols = 512;
		int n_tok = 6;
		float *x = malloc((size_t)(n_tok * cols) * sizeof *x);
		float *y1 = malloc((size_t)(n_tok * rows) * sizeof *y1);
		float *yn = malloc((size_t)(n_tok * rows) * sizeof *yn);

		assert_non_null(x);
		assert_non_null(y1);
		assert_non_null(yn);
		make_mat(&t, types[ti], rows, cols);
		for (int64_t i = 0; i < n_tok * cols; i++)
			x[i] = frand();
		eng_matmul(NULL, &t.m, x, n_tok, y1);
		for (int nth = 1; nth <= 4; nth++) {
			struct eng_pool *p = eng_pool_new(nth);

			assert_non_null(p);
			for (int tok = 1; tok <= n_tok; tok += n_tok - 1) {
				memset(yn, 0xff, (size_t)(n_tok * rows) * sizeof *yn);
				eng_matmul(p, &t.m, x, tok, yn);
				if (tok == n_tok)
					assert_memory_equal(y1, yn, (size_t)(n_tok * rows) * sizeof *yn);
			}
			eng_pool_free(p);
		}
		free_mat(&t);
		free(x);
		free(y1);
		free(yn);
	}
}

/* eng_matmul_multi gives exactly what one eng_matmul per matrix gives: same type (one dispatch,
 * activations quantized once) and mixed types (the fallback), decode and batch, 1..3 threads. */
static void test_matmul_multi(void **state)
{
	static const int64_t rows[3] = { 64, 16, 37 };
	static const int sets[][3] = {
		{ ENG_TYPE_Q4_0, ENG_TYPE_Q4_0, ENG_TYPE_Q4_0 }, { ENG_TYPE_Q8_0, ENG_TYPE_Q8_0, ENG_TYPE_Q8_0 },
		{ ENG_TYPE_F16, ENG_TYPE_F16, ENG_TYPE_F16 },    { ENG_TYPE_F32, ENG_TYPE_F32, ENG_TYPE_F32 },
		{ ENG_TYPE_Q4_0, ENG_TYPE_Q8_0, ENG_TYPE_F32 },
	};
	float x[5 * 128];

	(void)state;
	for (int i = 0; i < 5 * 128; i++)
		x[i] = frand();
	for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
		struct test_mat m[3];
		const struct eng_mat *w[3];
		float *y[3], *yr[3];

		for (int k = 0; k < 3; k++) {
			make_mat(&m[k], sets[si][k], rows[k], 128);
			w[k] = &m[k].m;
			y[k] = malloc(5 * (size_t)rows[k] * sizeof(float));
			yr[k] = malloc(5 * (size_t)rows[k] * sizeof(float));
			assert_non_null(y[k]);
			assert_non_null(yr[k]);
		}
		for (int nth = 1; nth <= 3; nth++) {
			struct eng_pool *p = eng_pool_new(nth);

			assert_non_null(p);
			for (int n_tok = 1; n_tok <= 5; n_tok += 4) {
				for (int k = 0; k < 3; k++) {
					memset(y[k], 0xff, 5 * (size_t)rows[k] * sizeof(float));
					eng_matmul(p, w[k], x, n_tok, yr[k]);
				}
				eng_matmul_multi(p, w, 3, x, n_tok, y);
				for (int k = 0; k < 3; k++)
					assert_memory_equal(y[k], yr[k], (size_t)n_tok * (size_t)rows[k] * sizeof(float));
			}
			eng_pool_free(p);
		}
		for (int k = 0; k < 3; k++) {
			free_mat(&m[k]);
			free(y[k]);
			free(yr[k]);
		}
	}
}

/* eng_matmul called from inside pool jobs (each worker its own matrix) gives the same results as
 * from the caller: nested dispatch runs inline and does not share the pool's scratch buffer. */
struct nested_mm {
	struct eng_pool *p;
	struct test_mat *mats;
	const float *x;
	float *y; /* 4 x rows */
};

static void nested_mm_fn(void *arg, int ith, int nth)
{
	struct nested_mm *j = arg;

	for (int k = ith; k < 4; k += nth)
		eng_matmul(j->p, &j->mats[k].m, j->x, 2, j->y + (int64_t)k * 2 * j->mats[k].m.rows);
}

static void test_matmul_nested_in_pool(void **state)
{
	struct test_mat mats[4];
	float x[2 * 256], y[4 * 2 * 40], yr[2 * 40];
	struct nested_mm j = { .mats = mats, .x = x, .y = y };
	static const int types[4] = { ENG_TYPE_Q4_0, ENG_TYPE_Q8_0, ENG_TYPE_F16, ENG_TYPE_Q4_0 };

	(void)state;
	for (int i = 0; i < 2 * 256; i++)
		x[i] = frand();
	for (int k = 0; k < 4; k++)
		make_mat(&mats[k], types[k], 40, 256);
	j.p = eng_pool_new(3);
	assert_non_null(j.p);
	eng_pool_run(j.p, nested_mm_fn, &j);
	for (int k = 0; k < 4; k++) {
		eng_matmul(NULL, &mats[k].m, x, 2, yr);
		assert_memory_equal(yr, y + k * 2 * 40, sizeof yr);
		free_mat(&mats[k]);
	}
	eng_pool_free(j.p);
}

/* Dequantize-then-multiply in double agrees with the quantized matmul to within the error of
 * quantizing the activations (Q8_0: |dx|/2 per element): a check of the reference itself. */
static void test_matmul_ref_vs_double(void **state)
{
	static const int types[] = { ENG_TYPE_F32, ENG_TYPE_F16, ENG_TYPE_Q8_0, ENG_TYPE_Q4_0 };

	(void)state;
	for (size_t ti = 0; ti < 4; ti++) {
		struct test_mat t;
		int64_t rows = 9, cols = 128;
		float x[128], y[9];

		make_mat(&t, types[ti], rows, cols);
		for (int i = 0; i < cols; i++)
			x[i] = frand();
		eng_matmul_ref(&t.m, x, 1, y);
		for (int64_t r = 0; r < rows; r++) {
			double s = 0.0, sw = 0.0, bound;

			for (int64_t c = 0; c < cols; c++) {
				s += (double)t.deq[r * cols + c] * x[c];
				sw += fabs((double)t.deq[r * cols + c]);
			}
			/* |x| < 1 so the activation scale is < 1/127: error <= sum|w| / 254 */
			bound = (types[ti] == ENG_TYPE_Q8_0 || types[ti] == ENG_TYPE_Q4_0) ? sw / 254.0 + 1e-4
											: 1e-4 * sw + 1e-6;
			assert_true(fabs(y[r] - s) <= bound);
		}
		free_mat(&t);
	}
}

static void test_dot_axpy(void **state)
{
	const struct eng_kernel_set *sets[4];
	int n_sets = simd_sets(sets);
	static const int lens[] = { 0, 1, 5, 8, 15, 16, 17, 31, 64, 129, 1000 };
	float a[1000], b[1000], y0[1000], y1[1000];

	(void)state;
	for (int s = 0; s < n_sets; s++) {
		for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
			int n = lens[k];
			double sum_abs = 0.0;
			float r0, r1;

			for (int i = 0; i < n; i++) {
				a[i] = frand() * 10.0f;
				b[i] = frand();
				y0[i] = y1[i] = frand();
				sum_abs += fabs((double)a[i] * b[i]);
			}
			r0 = eng_dot_f32_ref(a, b, n);
			r1 = sets[s]->dot_f32(a, b, n);
			assert_true(fabs((double)r0 - r1) <= FP_DOT_TOL(n, sum_abs) + 1e-30);
			eng_axpy_f32_ref(y0, 0.75f, a, n);
			sets[s]->axpy_f32(y1, 0.75f, a, n);
			/* one FMA vs multiply-then-add: one rounding of difference */
			for (int i = 0; i < n; i++)
				assert_true(fabsf(y0[i] - y1[i]) <= 2.0f * U_F32 * (fabsf(y0[i]) + fabsf(0.75f * a[i])));
		}
	}
}

static void test_rmsnorm(void **state)
{
	const struct eng_kernel_set *sets[4];
	int n_sets = simd_sets(sets);
	static const int lens[] = { 1, 7, 8, 33, 288, 2048 };
	float x[2048], w[2048], o0[2048], o1[2048];

	(void)state;
	for (int s = 0; s < n_sets; s++) {
		for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
			int n = lens[k];

			for (int i = 0; i < n; i++) {
				x[i] = frand() * 5.0f;
				w[i] = 1.0f + frand();
			}
			eng_rmsnorm_ref(o0, x, w, n, 1e-5f);
			sets[s]->rmsnorm(o1, x, w, n, 1e-5f);
			for (int i = 0; i < n; i++)
				assert_true(fabs((double)o0[i] - o1[i]) <= RMSNORM_REL_TOL(n) * fabs(o0[i]) + 1e-30);
			/* in place */
			memcpy(o1, x, (size_t)n * sizeof *x);
			sets[s]->rmsnorm(o1, o1, w, n, 1e-5f);
			for (int i = 0; i < n; i++)
				assert_true(fabs((double)o0[i] - o1[i]) <= RMSNORM_REL_TOL(n) * fabs(o0[i]) + 1e-30);
		}
	}
	/* the reference itself: unit rms in, weight out */
	for (int i = 0; i < 4; i++)
		x[i] = (i & 1) ? -2.0f : 2.0f, w[i] = (float)(i + 1);
	eng_rmsnorm_ref(o0, x, w, 4, 0.0f);
	assert_true(fabsf(o0[0] - 1.0f) < 1e-6f && fabsf(o0[3] + 4.0f) < 1e-6f);
}

static void test_softmax(void **state)
{
	const struct eng_kernel_set *sets[4];
	int n_sets = simd_sets(sets);
	static const int lens[] = { 1, 2, 7, 8, 9, 64, 100, 1031 };
	float x0[1031], x1[1031];

	(void)state;
	for (int s = 0; s < n_sets; s++) {
		for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
			int n = lens[k];
			double sum = 0.0;

			for (int i = 0; i < n; i++)
				x0[i] = x1[i] = frand() * 40.0f; /* spreads of e^80: some underflow */
			if (n > 1)
				x0[n / 2] = x1[n / 2] = -INFINITY; /* a masked position */
			eng_softmax_ref(x0, n);
			sets[s]->softmax(x1, n);
			for (int i = 0; i < n; i++) {
				if (!(fabs((double)x0[i] - x1[i]) <= SOFTMAX_REL_TOL(n) * x0[i] + 1e-37)) {
					fprintf(stderr, "%s softmax n %d [%d]: %g vs ref %g (rel %g)\n", sets[s]->name, n, i,
						x1[i], x0[i], fabs((double)x0[i] - x1[i]) / x0[i]);
					fail();
				}
				sum += x1[i];
			}
			if (n > 1)
				assert_true(x1[n / 2] == 0.0f);
			assert_true(fabs(sum - 1.0) < 1e-5);
		}
	}
}

static void test_swiglu(void **state)
{
	const struct eng_kernel_set *sets[4];
	int n_sets = simd_sets(sets);
	float a0[203], a1[203], b[203];

	(void)state;
	for (int s = 0; s < n_sets; s++) {
		for (int i = 0; i < 203; i++) {
			a0[i] = a1[i] = frand() * (i < 100 ? 10.0f : 120.0f); /* past e^+-88 too */
			b[i] = frand() * 2.0f;
		}
		a0[0] = a1[0] = 0.0f;
		eng_swiglu_ref(a0, b, 203);
		sets[s]->swiglu(a1, b, 203);
		for (int i = 0; i < 203; i++) {
			/* below -87 the vector exp saturates: silu is then below 1e-36 in both */
			if (!(fabs((double)a0[i] - a1[i]) <= SWIGLU_REL_TOL * fabs(a0[i]) + 1e-35)) {
				fprintf(stderr, "%s swiglu[%d]: %g vs ref %g\n", sets[s]->name, i, a1[i], a0[i]);
				fail();
			}
		}
	}
}

static void test_rope(void **state)
{
	const struct eng_kernel_set *sets[4];
	int n_sets = simd_sets(sets);
	static const int shapes[][3] = { /* n_heads, head_dim, rope_dim */
		{ 4, 64, 64 }, { 2, 128, 128 }, { 3, 48, 48 }, { 2, 64, 32 }, { 1, 12, 6 }, { 5, 6, 6 },
	};
	static const int positions[] = { 0, 1, 17, 1000, 131071 };
	float v0[512], v1[512];

	(void)state;
	for (int s = 0; s < n_sets; s++) {
		for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
			for (size_t pi = 0; pi < sizeof positions / sizeof positions[0]; pi++) {
				int nh = shapes[k][0], hd = shapes[k][1], rd = shapes[k][2];

				for (int i = 0; i < nh * hd; i++)
					v0[i] = v1[i] = frand() * 4.0f;
				eng_rope_ref(v0, nh, hd, rd, positions[pi], 10000.0f);
				sets[s]->rope(v1, nh, hd, rd, positions[pi], 10000.0f);
				for (int i = 0; i < nh * hd; i++) {
					int pair = i & ~1;
					double mag = fabs(v0[pair]) + fabs(v0[pair + 1]);

					assert_true(fabs((double)v0[i] - v1[i]) <= ROPE_ABS_TOL(mag) + 1e-30);
				}
			}
		}
	}
	/* the reference itself: position 0 is the identity, dimension 0 rotates by pos radians */
	v0[0] = 1.0f, v0[1] = 0.0f, v0[2] = 0.5f, v0[3] = 0.25f;
	eng_rope_ref(v0, 1, 4, 4, 0, 10000.0f);
	assert_true(v0[0] == 1.0f && v0[1] == 0.0f && v0[2] == 0.5f && v0[3] == 0.25f);
	eng_rope_ref(v0, 1, 4, 4, 1, 10000.0f);
	assert_true(fabsf(v0[0] - cosf(1.0f)) < 1e-6f && fabsf(v0[1] - sinf(1.0f)) < 1e-6f);
	/* dimension pair 1 of 4 at theta 10000: frequency 10000^(-2/4) = 0.01 */
	assert_true(fabsf(v0[2] - (0.5f * cosf(0.01f) - 0.25f * sinf(0.01f))) < 1e-6f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_active_set),
		cmocka_unit_test(test_quantize_act_identical),
		cmocka_unit_test(test_quantize_act_k_identical),
		cmocka_unit_test(test_matmul_vs_ref),
		cmocka_unit_test(test_matmul_threads_bitwise),
		cmocka_unit_test(test_matmul_avx512_bitwise),
		cmocka_unit_test(test_matmul_multi),
		cmocka_unit_test(test_matmul_nested_in_pool),
		cmocka_unit_test(test_matmul_ref_vs_double),
		cmocka_unit_test(test_dot_axpy),
		cmocka_unit_test(test_rmsnorm),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_swiglu),
		cmocka_unit_test(test_rope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
