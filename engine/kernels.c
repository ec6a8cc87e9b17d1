/*
 * engine/kernels.c — kernel dispatch: which implementation runs (chosen once from the ISA table
 * below: by CPUID on x86-64, at compile time on ARM; JOULEBENCH_ISA=ref|avx2|avx512 picks a lower
 * one), and eng_matmul, which prepares the activations once per call (quantized, and packed for
 * sets that pack batches) and splits the weight rows over the thread pool.
 *
 * Work split: the rows are cut into chunks (a multiple of 16 rows, so two threads never write
 * the same 64-byte line of y); every thread takes the next free chunk from a shared counter,
 * and a worker that has not started by the time the caller ran out of chunks is not waited for
 * (eng_pool_run_dynamic), so a thread that was preempted (the machine is shared) does not hold
 * everyone up.
 */
#include "engine/kernels_impl.h"

#include <errno.h>
#include <pthread.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const struct eng_kernel_set *g_active;
static const char *g_isa;
static char g_note[128];
static char g_available[64];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) || defined(__i386__)
/* F16C is CPUID.1:ECX bit 29 (clang's __builtin_cpu_supports has no name for it); AVX/AVX2
 * support checks by __builtin_cpu_supports include the OS saving the YMM state. */
int eng_x86_has_f16c(void)
{
	unsigned a, b, c, d;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx") || !__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	return (c >> 29) & 1;
}

int eng_x86_has_avx2_fma_f16c(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && eng_x86_has_f16c();
}

/* The AVX-512 checks of __builtin_cpu_supports include the OS saving the ZMM state (XCR0). */
int eng_x86_has_avx512_vnni(void)
{
	__builtin_cpu_init();
	return eng_x86_has_avx2_fma_f16c() && __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
	       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
}
#endif

static int always(void)
{
	return 1;
}

/*
 * Every instruction-set path of this build, best first: the one place that decides which kernels
 * run. A new path (AMX tiles, another engineer's AVX-512 K-quant kernels in their own set) is one
 * more row with its CPUID check.
 */
static const struct isa_row {
	const char *isa;
	const struct eng_kernel_set *set;
	int (*supported)(void);
} g_isas[] = {
#if defined(__x86_64__)
	{ "avx512", &eng_kset_avx512, eng_x86_has_avx512_vnni },
	{ "avx2", &eng_kset_avx2, eng_x86_has_avx2_fma_f16c },
#elif defined(JB_NEON_KERNELS)
	{ "neon", &eng_kset_neon, always },
#endif
	{ "ref", &eng_kset_ref, always },
};
#define N_ISAS (sizeof g_isas / sizeof g_isas[0])

static void choose_kernels(void)
{
	const char *env = getenv("JOULEBENCH_ISA");
	const char *simd = getenv("JOULEBENCH_SIMD");
	const struct isa_row *best = NULL, *pick = NULL;
	size_t off = 0;

	for (size_t i = 0; i < N_ISAS; i++) {
		if (!g_isas[i].supported())
			continue;
		if (!best)
			best = &g_isas[i];
		if (env && !strcmp(env, g_isas[i].isa))
			pick = &g_isas[i];
		off += (size_t)snprintf(g_available + off, sizeof g_available - off, "%s%s", off ? " " : "",
					g_isas[i].isa);
		if (off >= sizeof g_available)
			off = sizeof g_available - 1;
	}
	if (!env && simd && !strcmp(simd, "ref")) {
		env = "ref";
		pick = &g_isas[N_ISAS - 1];
	}
	if (env && *env && !pick)
		snprintf(g_note, sizeof g_note, "JOULEBENCH_ISA=%s: not a path this build and CPU run (%s); using %s",
			 env, g_available, best->isa);
	if (!pick)
		pick = best;
	g_active = pick->set;
	g_isa = pick->isa;
}

const struct eng_kernel_set *eng_kernels_active(void)
{
	pthread_once(&g_once, choose_kernels);
	return g_active;
}

const struct eng_kernel_set *eng_kernels_by_name(const char *name)
{
	for (size_t i = 0; i < N_ISAS; i++)
		if ((!strcmp(name, g_isas[i].isa) || !strcmp(name, g_isas[i].set->name)) && g_isas[i].supported())
			return g_isas[i].set;
	return NULL;
}

const char *eng_kernels_impl(void)
{
	return eng_kernels_active()->name;
}

const char *eng_kernels_isa(void)
{
	pthread_once(&g_once, choose_kernels);
	return g_isa;
}

const char *eng_simd_name(void)
{
	return eng_kernels_impl();
}

const char *eng_isa_name(void)
{
	return eng_kernels_isa();
}

const char *eng_isa_note(void)
{
	pthread_once(&g_once, choose_kernels);
	return g_note[0] ? g_note : NULL;
}

const char *eng_isa_available(void)
{
	pthread_once(&g_once, choose_kernels);
	return g_available;
}

/* ---- matmul ---- */

/* Weight types whose kernels take Q8_0 activations (the K-quants take Q8_K ones). */
static int act_is_q8(int type)
{
	return type == ENG_TYPE_Q4_0 || type == ENG_TYPE_Q8_0 || type == ENG_TYPE_Q4_1 || type == ENG_TYPE_Q5_0 ||
	       type == ENG_TYPE_Q5_1;
}

struct mm_job {
	int n_w;
	const struct eng_mat *w[ENG_MATMUL_MAX_MULTI];
	float *y[ENG_MATMUL_MAX_MULTI];
	eng_mm_fn fn[ENG_MATMUL_MAX_MULTI];
	int64_t chunk_rows[ENG_MATMUL_MAX_MULTI];
	int64_t first_chunk[ENG_MATMUL_MAX_MULTI + 1]; /* chunks of matrix k: [first[k], first[k+1]) */
	struct eng_act a;
	atomic_llong next;
};

static void mm_worker(void *arg, int ith, int nth)
{
	struct mm_job *j = arg;
	int64_t ch;
	int k = 0;

	(void)ith;
	(void)nth;
	/* every chunk goes to whoever is free first (eng_pool_run_dynamic: any thread may do all) */
	while ((ch = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->first_chunk[j->n_w]) {
		int64_t r0, r1;

		while (ch >= j->first_chunk[k + 1]) /* chunks are claimed in increasing order */
			k++;
		r0 = (ch - j->first_chunk[k]) * j->chunk_rows[k];
		r1 = r0 + j->chunk_rows[k] < j->w[k]->rows ? r0 + j->chunk_rows[k] : j->w[k]->rows;
		j->fn[k](j->w[k], &j->a, j->y[k], r0, r1);
	}
}

struct qact_job {
	eng_qact_fn fn;
	const float *x;
	struct eng_act *a;
	int8_t *qs;
	float *d, *c;
};

/* Activation quantization for a batch: tokens split over the threads. */
static void qact_worker(void *arg, int ith, int nth)
{
	struct qact_job *j = arg;

	for (int t = ith; t < j->a->n_tok; t += nth)
		j->fn(j->x + (int64_t)t * j->a->cols, j->a->cols, j->qs + (int64_t)t * j->a->cols,
		      j->d + (int64_t)t * j->a->nb, j->c + (int64_t)t * j->a->nb);
}

/* The set's kernel for w, or the reference one when w is in a layout the set does not read. */
static eng_mm_fn mm_for(const struct eng_kernel_set *ks, const struct eng_mat *w)
{
	if (w->layout != ENG_LAYOUT_GGML && (!ks->weight_layout || ks->weight_layout(w->type) != w->layout))
		return eng_kset_ref.mm[w->type];
	return ks->mm[w->type];
}

int eng_weight_layout(int type)
{
	const struct eng_kernel_set *ks = eng_kernels_active();

	return ks->weight_layout ? ks->weight_layout(type) : ENG_LAYOUT_GGML;
}

int eng_mat_relayout(struct eng_mat *w, int layout, void *dst)
{
	int64_t nb = w->cols / ENG_QK_K;

	if (w->layout != ENG_LAYOUT_GGML || layout != ENG_LAYOUT_KQ_T ||
	    (w->type != ENG_TYPE_Q4_K && w->type != ENG_TYPE_Q5_K) || w->cols % ENG_QK_K != 0)
		return -EINVAL;
	for (int64_t r = 0; r < w->rows; r++) {
		const char *in = (const char *)w->data + r * (int64_t)w->row_bytes;
		char *out = (char *)dst + r * (int64_t)w->row_bytes;

		for (int64_t b = 0; b < nb; b++) {
			/* dst may be w->data itself: each block goes through a copy */
			if (w->type == ENG_TYPE_Q4_K) {
				struct eng_block_q4_k g;

				memcpy(&g, in + b * (int64_t)sizeof g, sizeof g);
				eng_q4k_to_t(&g, (struct eng_block_q4_k *)out + b, 1);
			} else {
				struct eng_block_q5_k g;

				memcpy(&g, in + b * (int64_t)sizeof g, sizeof g);
				eng_q5k_to_t(&g, (struct eng_block_q5_k *)out + b, 1);
			}
		}
	}
	w->data = dst;
	w->layout = layout;
	return 0;
}

/* Runs the row kernels of n_w matrices that share the activations `a`, as one dispatch. */
static void run_rows(const struct eng_kernel_set *ks, struct eng_pool *p, const struct eng_mat *const *w,
		     int n_w, const struct eng_act *a, float *const *y)
{
	int nth = eng_pool_in_job() ? 1 : eng_pool_threads(p);
	/* Chunks per thread. A single token's matvec is bound by memory bandwidth and every chunk
	 * restarts the row kernel's stream (measured on bench-1b Q4_0, 2 threads: 2 per thread runs
	 * the layer matmuls ~9% faster than 8); batches are compute-bound and balance better with
	 * finer chunks. Either way there are several chunks per thread, so a preempted thread's share
	 * can still be taken over. */
	int per_thread = a->n_tok == 1 ? 2 : 8;
	struct mm_job job = { .n_w = n_w, .a = *a };

	job.first_chunk[0] = 0;
	for (int k = 0; k < n_w; k++) {
		/* each chunk a multiple of 16 rows */
		int64_t per = w[k]->rows / ((int64_t)nth * per_thread);

		job.w[k] = w[k];
		job.y[k] = y[k];
		job.fn[k] = mm_for(ks, w[k]);
		job.chunk_rows[k] = per < 16 ? 16 : (per + 15) / 16 * 16;
		job.first_chunk[k + 1] = job.first_chunk[k] + (w[k]->rows + job.chunk_rows[k] - 1) / job.chunk_rows[k];
	}
	atomic_init(&job.next, 0);
	if (nth == 1 || job.first_chunk[n_w] == 1) {
		for (int k = 0; k < n_w; k++)
			job.fn[k](w[k], a, y[k], 0, w[k]->rows);
		return;
	}
	eng_pool_run_dynamic(p, mm_worker, &job);
}

/* The last resort when no buffer for the quantized activations can be allocated: one token with
 * its activations on this function's stack (enough for rows of up to 36864 columns). */
static __attribute__((noinline)) void matmul_one_token_oom(const struct eng_kernel_set *ks, struct eng_pool *p,
							     const struct eng_mat *w, const float *x, float *y)
{
	enum { MAX_COLS = 36864 };
	_Alignas(64) int8_t qs[MAX_COLS];
	float d[MAX_COLS / ENG_QK8_0], c[MAX_COLS / ENG_QK8_0];
	struct eng_act a = { .x = x, .qs = qs, .d = d, .c = c, .cols = w->cols, .nb = w->cols / ENG_QK8_0,
			     .n_tok = 1, .wtype = w->type, .wlayout = w->layout };

	assert(w->cols <= MAX_COLS && "matmul: out of memory for the activations");
	if (eng_type_is_k(w->type)) {
		_Alignas(64) struct eng_block_q8_k q8k[MAX_COLS / ENG_QK_K];

		ks->quantize_act_k(x, q8k, w->cols);
		a.q8k = q8k;
		run_rows(ks, p, &w, 1, &a, &y);
		return;
	}
	ks->quantize_act(x, w->cols, qs, d, c);
	run_rows(ks, p, &w, 1, &a, &y);
}

/* K-quant weights: the activations as Q8_K blocks (one set per token), then the row kernels. */
static void matmul_k(const struct eng_kernel_set *ks, struct eng_pool *p, const struct eng_mat *const *w, int n_w,
		     struct eng_act *a, const float *x, float *const *y)
{
	int64_t nbk = a->cols / ENG_QK_K;
	size_t need = ((size_t)a->n_tok * (size_t)nbk * sizeof(struct eng_block_q8_k) + 63) & ~(size_t)63, pk_bytes;
	struct eng_block_q8_k *q8k, *owned = NULL;

	assert(a->cols % ENG_QK_K == 0);
	pk_bytes = ks->packed_bytes_k ? (ks->packed_bytes_k(a) + 63) & ~(size_t)63 : 0;
	q8k = eng_pool_in_job() ? NULL : eng_pool_scratch(p, need + pk_bytes);
	if (!q8k)
		q8k = owned = aligned_alloc(64, need + pk_bytes);
	if (!q8k) {
		for (int k = 0; k < n_w; k++)
			for (int t = 0; t < a->n_tok; t++)
				matmul_one_token_oom(ks, p, w[k], x + (int64_t)t * a->cols, y[k] + (int64_t)t * w[k]->rows);
		return;
	}
	for (int t = 0; t < a->n_tok; t++)
		ks->quantize_act_k(x + (int64_t)t * a->cols, q8k + (int64_t)t * nbk, a->cols);
	a->q8k = q8k;
	if (pk_bytes)
		ks->pack_act_k(p, a, (char *)q8k + need);
	run_rows(ks, p, w, n_w, a, y);
	free(owned);
}

void eng_matmul_multi_with(const struct eng_kernel_set *ks, struct eng_pool *p, const struct eng_mat *const *w,
			   int n_w, const float *x, int n_tok, float *const *y)
{
	const struct eng_mat *w0 = w[0];
	struct eng_act a = { .x = x, .cols = w0->cols, .nb = w0->cols / ENG_QK8_0, .n_tok = n_tok, .wtype = w0->type,
			     .wlayout = w0->layout };
	size_t qs_bytes, need, pk_bytes;
	char *buf, *owned = NULL;

	assert(n_w >= 1 && n_w <= ENG_MATMUL_MAX_MULTI);
	for (int k = 0; k < n_w; k++) {
		assert(w[k]->type >= 0 && w[k]->type < ENG_KTYPE_SLOTS && ks->mm[w[k]->type]);
		if (w[k]->type != w0->type || w[k]->cols != w0->cols || w[k]->layout != w0->layout) {
			/* different activation formats: one matmul each */
			for (int i = 0; i < n_w; i++)
				eng_matmul_multi_with(ks, p, &w[i], 1, x, n_tok, &y[i]);
			return;
		}
	}
	if (n_tok <= 0)
		return;
	if (eng_type_is_k(w0->type)) {
		matmul_k(ks, p, w, n_w, &a, x, y);
		return;
	}
	if (!act_is_q8(w0->type)) {
		run_rows(ks, p, w, n_w, &a, y);
		return;
	}
	assert(w0->cols % ENG_QK8_0 == 0);
	qs_bytes = ((size_t)n_tok * (size_t)w0->cols + 63) & ~(size_t)63;
	need = qs_bytes + 2 * (size_t)n_tok * (size_t)a.nb * sizeof(float);
	pk_bytes = ks->packed_bytes ? (ks->packed_bytes(&a) + 63) & ~(size_t)63 : 0;
	need = (need + 63) & ~(size_t)63;
	need += pk_bytes;
	buf = eng_pool_in_job() ? NULL : eng_pool_scratch(p, need); /* nested: own buffer */
	if (!buf)
		buf = owned = aligned_alloc(64, (need + 63) & ~(size_t)63);
	if (!buf) {
		/* out of memory for the whole batch: one token at a time, activations on the stack */
		for (int k = 0; k < n_w; k++)
			for (int t = 0; t < n_tok; t++)
				matmul_one_token_oom(ks, p, w[k], x + (int64_t)t * w0->cols, y[k] + (int64_t)t * w[k]->rows);
		return;
	}
	a.qs = (int8_t *)buf;
	a.d = (float *)(buf + qs_bytes);
	a.c = a.d + (size_t)n_tok * (size_t)a.nb;
	if (n_tok >= 4 && eng_pool_threads(p) > 1 && !eng_pool_in_job()) {
		struct qact_job qj = { .fn = ks->quantize_act, .x = x, .a = &a, .qs = (int8_t *)a.qs,
				       .d = (float *)a.d, .c = (float *)a.c };

		eng_pool_run(p, qact_worker, &qj);
	} else {
		for (int t = 0; t < n_tok; t++)
			ks->quantize_act(x + (int64_t)t * w0->cols, w0->cols, (int8_t *)a.qs + (int64_t)t * w0->cols,
					 (float *)a.d + (int64_t)t * a.nb, (float *)a.c + (int64_t)t * a.nb);
	}
	if (pk_bytes)
		ks->pack_act(p, &a, buf + need - pk_bytes);
	run_rows(ks, p, w, n_w, &a, y);
	free(owned);
}

void eng_matmul_with(const struct eng_kernel_set *ks, struct eng_pool *p, const struct eng_mat *w,
		     const float *x, int n_tok, float *y)
{
	if (w->rows <= 0)
		return;
	eng_matmul_multi_with(ks, p, &w, 1, x, n_tok, &y);
}

void eng_matmul_multi(struct eng_pool *p, const struct eng_mat *const *w, int n_w, const float *x, int n_tok,
		      float *const *y)
{
	eng_matmul_multi_with(eng_kernels_active(), p, w, n_w, x, n_tok, y);
}

void eng_matmul(struct eng_pool *p, const struct eng_mat *w, const float *x, int n_tok, float *y)
{
	eng_matmul_with(eng_kernels_active(), p, w, x, n_tok, y);
}

/* ---- vector kernels: the active set ---- */

void eng_rmsnorm(float *o, const float *x, const float *weight, int n, float eps)
{
	eng_kernels_active()->rmsnorm(o, x, weight, n, eps);
}

void eng_softmax(float *x, int n)
{
	eng_kernels_active()->softmax(x, n);
}

void eng_rope(float *v, int n_heads, int head_dim, int rope_dim, int pos, float theta)
{
	eng_kernels_active()->rope(v, n_heads, head_dim, rope_dim, pos, theta);
}

void eng_swiglu(float *a, const float *b, int n)
{
	eng_kernels_active()->swiglu(a, b, n);
}

float eng_dot_f32(const float *a, const float *b, int n)
{
	return eng_kernels_active()->dot_f32(a, b, n);
}

void eng_axpy_f32(float *y, float a, const float *x, int n)
{
	eng_kernels_active()->axpy_f32(y, a, x, n);
}
