/*
 * engine/kernels.h — private to engine/: the compute kernels and the thread pool.
 *
 * Every kernel has a plain-C `_ref` twin (same arguments) that the tests hold the fast version
 * to. Fast versions are chosen at run time by CPUID (AVX2+FMA+F16C on x86-64) or at compile time
 * (__ARM_NEON), through a table indexed by tensor type.
 */
#ifndef JB_ENGINE_KERNELS_H
#define JB_ENGINE_KERNELS_H

#include "engine/model.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* ---- quantized blocks, ggml's exact layouts ---- */
#define ENG_QK4_0 32
#define ENG_QK8_0 32
typedef uint16_t eng_f16; /* IEEE half, bits */
struct eng_block_q4_0 {
	eng_f16 d;                  /* scale */
	uint8_t qs[ENG_QK4_0 / 2];  /* nibbles: low = element j, high = element j+16; value-8 */
};
struct eng_block_q8_0 {
	eng_f16 d;                  /* scale */
	int8_t qs[ENG_QK8_0];
};
static_assert(sizeof(struct eng_block_q4_0) == 18, "q4_0 block is 18 bytes");
static_assert(sizeof(struct eng_block_q8_0) == 34, "q8_0 block is 34 bytes");

float eng_f16_to_f32(eng_f16 h);
eng_f16 eng_f32_to_f16(float f);

/* Bytes of one row of n elements of `type` (n a multiple of the type's block: 32, or 256 for the
 * K-quants, engine/kquants.h); 0 if the type is unsupported or n is not a multiple of its block
 * size. */
size_t eng_row_bytes(int type, int64_t n);

/* Quantize / dequantize n elements (n a multiple of the type's block). */
void eng_quantize_row(int type, const float *x, void *dst, int64_t n);
void eng_dequantize_row(int type, const void *src, float *y, int64_t n);

/* ---- thread pool: threads live for the whole context; work splits rows by (ith, nth) ---- */
struct eng_pool;
struct eng_pool *eng_pool_new(int n_threads);
void eng_pool_free(struct eng_pool *p);
int eng_pool_threads(const struct eng_pool *p);
/* Runs fn(arg, ith, nth) on every thread (the caller is thread 0) and waits for all. Called from
 * inside a job (e.g. eng_matmul in a worker), it runs fn(arg, 0, 1) on the calling thread. */
void eng_pool_run(struct eng_pool *p, void (*fn)(void *arg, int ith, int nth), void *arg);
/* For jobs whose threads claim work items from a shared counter until none are left (so any one
 * thread can do all of it): like eng_pool_run, but once the caller's own fn(arg, 0, nth) returns,
 * workers that have not started yet are skipped instead of waited for (a preempted worker on a
 * busy machine then costs nothing). fn must not rely on every ith running. */
void eng_pool_run_dynamic(struct eng_pool *p, void (*fn)(void *arg, int ith, int nth), void *arg);

/*
 * y[t][r] = sum_c W[r][c] * x[t][c] for t < n_tok (x: n_tok rows of w->cols floats, y: n_tok
 * rows of w->rows floats). Quantized weights quantize x to Q8_0 (Q8_K for the K-quants) and use
 * integer dot products.
 * Split across the pool by rows. n_tok == 1 is the decode matrix-vector case.
 */
void eng_matmul(struct eng_pool *p, const struct eng_mat *w, const float *x, int n_tok, float *y);
void eng_matmul_ref(const struct eng_mat *w, const float *x, int n_tok, float *y);
/*
 * Weight layouts. Kernel sets may read some types fastest in their own order of the same blocks
 * (kquants.h: ENG_LAYOUT_KQ_T for Q4_K and Q5_K on AVX2); the model loader reorders those matrices once.
 * eng_weight_layout: the layout the active set wants for `type` (0: as stored).
 * eng_mat_relayout: writes w's rows into dst (w->rows * w->row_bytes bytes; dst may be w->data
 * itself, when that memory is writable) in `layout`, then points w at dst; w must be in the ggml
 * layout. Returns 0, or -EINVAL when the type has no such layout (w untouched).
 */
enum { ENG_LAYOUT_GGML = 0, ENG_LAYOUT_KQ_T = 1 };
int eng_weight_layout(int type);
int eng_mat_relayout(struct eng_mat *w, int layout, void *dst);

/*
 * Several matmuls of the same input in one dispatch (Q/K/V, or gate and up): y[k] = w[k] x for
 * k < n_w (n_w <= ENG_MATMUL_MAX_MULTI). The activations are quantized once and the row chunks of
 * all matrices are shared out together, so threads wait for each other once instead of n_w
 * times. Matrices of different types or widths fall back to one eng_matmul each.
 */
#define ENG_MATMUL_MAX_MULTI 8
void eng_matmul_multi(struct eng_pool *p, const struct eng_mat *const *w, int n_w, const float *x, int n_tok,
		      float *const *y);

/* o = x / rms(x) * weight (n elements); o may equal x. */
void eng_rmsnorm(float *o, const float *x, const float *weight, int n, float eps);
void eng_rmsnorm_ref(float *o, const float *x, const float *weight, int n, float eps);
/* In-place softmax over n values. */
void eng_softmax(float *x, int n);
void eng_softmax_ref(float *x, int n);
/* Llama ("normal", adjacent pairs) RoPE on n_heads vectors of head_dim at position pos; only the
 * first rope_dim dimensions of each head rotate. */
void eng_rope(float *v, int n_heads, int head_dim, int rope_dim, int pos, float theta);
void eng_rope_ref(float *v, int n_heads, int head_dim, int rope_dim, int pos, float theta);
/* a[i] = silu(a[i]) * b[i] */
void eng_swiglu(float *a, const float *b, int n);
void eng_swiglu_ref(float *a, const float *b, int n);
/* Dot product of two float vectors. */
float eng_dot_f32(const float *a, const float *b, int n);
float eng_dot_f32_ref(const float *a, const float *b, int n);
/* y += a * x */
void eng_axpy_f32(float *y, float a, const float *x, int n);
void eng_axpy_f32_ref(float *y, float a, const float *x, int n);

/* "avx512vnni", "avx2+fma", "neon" or "ref"; eng_simd_name() in engine.h returns the same. */
const char *eng_kernels_impl(void);
/* The instruction-set path that runs: "avx512", "avx2", "neon" or "ref" (eng_isa_name() in
 * engine.h). Chosen once: the best one the CPU runs, unless the environment variable
 * JOULEBENCH_ISA=ref|avx2|avx512|neon asks for another this CPU can run (JOULEBENCH_SIMD=ref, the
 * older name, forces the reference too). */
const char *eng_kernels_isa(void);

#endif
