/*
 * engine/kernels_impl.h — private to the kernel files (kernels*.c, threads.c): the table of one
 * kernel implementation (ref, avx2, avx512, neon) and the activation layout the matmul kernels
 * share.
 *
 * eng_matmul (kernels.c) prepares the activations once per call — as floats for F32/F16 weights,
 * quantized to Q8_0 for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1 weights, to Q8_K for the K-quants, then packed
 * once if the set packs batches — and hands
 * row ranges to the implementation's matmul kernel for the weight type, on every thread of the
 * pool.
 */
#ifndef JB_ENGINE_KERNELS_IMPL_H
#define JB_ENGINE_KERNELS_IMPL_H

#include "engine/kernels.h"
#include "engine/kquants.h"

/* Table slots: tensor types are small integers (enum eng_type), the table is indexed by them. */
#define ENG_KTYPE_SLOTS (ENG_TYPE_Q6_K + 1)

/*
 * The activations of one matmul: n_tok rows of `cols`.
 *   x:  the float rows (F32/F16 weights read these), x[t * cols + c].
 *   qs: Q8_0 quants of x (Q8_0/Q4_0 weights), qs[t * cols + c], 32-byte aligned rows.
 *   d:  the scale of each block of 32, already rounded through f16 as Q8_0 stores it,
 *       d[t * nb + b] (nb = cols / 32).
 *   c:  8 * d * (sum of the block's 32 quants), the offset term that lets Q4_0 kernels multiply
 *       the unsigned nibbles (0..15) directly: sum (q4 - 8) q8 = sum q4 q8 - 8 sum q8. The
 *       Q4_1/Q5_1 kernels use c / 8 (= d * sum, exact) for their min term; Q5_0 uses qs and d.
 *   q8k: for K-quant weights (Q2_K..Q6_K) instead of qs/d/c: Q8_K blocks of x,
 *       q8k[t * (cols / 256) + b].
 */
struct eng_act {
	const float *x;
	const int8_t *qs;
	const float *d;
	const float *c;
	const struct eng_block_q8_k *q8k;
	int64_t cols;
	int64_t nb;
	int n_tok;
	int wtype;   /* the weight type of the matmul (enum eng_type) */
	int wlayout; /* and its layout (struct eng_mat.layout) */
	/* the set's own rearrangement of qs/d for batches (pack_act), or NULL: then the row kernels
	 * read qs/d/c as above */
	const void *packed;
};

/* y[t * rows + r] for rows r0 <= r < r1 and every token. */
typedef void (*eng_mm_fn)(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
			  int64_t r1);
/* Quantizes one row of n floats (n % 32 == 0) to Q8_0: quants, f16-rounded scales, offsets. The
 * result must be bit-identical across implementations (the tests compare them). */
typedef void (*eng_qact_fn)(const float *x, int64_t n, int8_t *qs, float *d, float *c);

struct eng_kernel_set {
	const char *name;
	eng_mm_fn mm[ENG_KTYPE_SLOTS]; /* indexed by weight type; NULL = not a weight type */
	/* Optional (NULL = ggml layout for every type): the weight layout the set's mm kernel of a type
	 * is fastest with. Its mm kernels take that layout and the ggml one; a matrix in a layout the
	 * set does not name runs on the reference kernels, which take every layout. */
	int (*weight_layout)(int type);
	/* Optional (NULL = none): bytes of the set's packed form of Q8_0 activations `a` (0 = do not
	 * pack this batch), and the packing itself into buf (64-byte aligned), which sets a->packed.
	 * eng_matmul calls them once per call, after quantizing, before the row kernels. */
	size_t (*packed_bytes)(const struct eng_act *a);
	void (*pack_act)(struct eng_pool *p, struct eng_act *a, void *buf);
	/* The same for Q8_K activations (K-quant weights; a->q8k set): optional. */
	size_t (*packed_bytes_k)(const struct eng_act *a);
	void (*pack_act_k)(struct eng_pool *p, struct eng_act *a, void *buf);
	eng_qact_fn quantize_act;
	/* One row of n floats (n % 256 == 0) to Q8_K; bit-identical to eng_quantize_row_q8_k. */
	void (*quantize_act_k)(const float *x, struct eng_block_q8_k *y, int64_t n);
	void (*rmsnorm)(float *o, const float *x, const float *weight, int n, float eps);
	void (*softmax)(float *x, int n);
	void (*rope)(float *v, int n_heads, int head_dim, int rope_dim, int pos, float theta);
	void (*swiglu)(float *a, const float *b, int n);
	float (*dot_f32)(const float *a, const float *b, int n);
	void (*axpy_f32)(float *y, float a, const float *x, int n);
};

extern const struct eng_kernel_set eng_kset_ref;
#if defined(__x86_64__)
extern const struct eng_kernel_set eng_kset_avx2;
extern const struct eng_kernel_set eng_kset_avx512;
/* The AVX2 set's F16/F32 kernels with their row prefetches into L2, which the AVX-512 set runs. */
void eng_mm_f16_avx2_l2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_f32_avx2_l2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
#endif
/* NEON kernels: AArch64 only (32-bit ARM runs the reference). */
#if defined(__ARM_NEON) && defined(__aarch64__)
#define JB_NEON_KERNELS 1
extern const struct eng_kernel_set eng_kset_neon;
#endif

/* The set eng_matmul and friends use (chosen once: the best the CPU runs, or the one
 * JOULEBENCH_ISA names; see eng_kernels_isa in kernels.h). */
const struct eng_kernel_set *eng_kernels_active(void);
/* A set by its name ("ref", "avx2+fma", "avx512vnni", "neon") or ISA name ("ref", "avx2",
 * "avx512", "neon") if this build and CPU can run it, else NULL. For tests that compare every
 * available set with the reference. */
const struct eng_kernel_set *eng_kernels_by_name(const char *name);

#if defined(__x86_64__) || defined(__i386__)
/* CPUID: 1 when the CPU (and OS) can run the AVX2+FMA+F16C kernels / F16C conversions. */
int eng_x86_has_avx2_fma_f16c(void);
int eng_x86_has_f16c(void);
/* 1 when the CPU (and OS) can run the AVX-512 F/BW/VL/DQ + VNNI kernels (and the AVX2 ones). */
int eng_x86_has_avx512_vnni(void);
#endif

/* The reference row kernels of the legacy and K-quant types (kernels_kquant_ref.c): every set
 * uses them for the types it has no fast kernel for. */
void eng_mm_q4_1_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q5_0_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q5_1_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q2_k_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q3_k_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q4_k_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q5_k_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q6_k_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);

#if defined(__x86_64__)
/* The x86 row kernels of the K-quant types (kernels_kquant_avx2.c): each runs the AVX-512 version
 * (kernels_kquant_avx512.c) when eng_kquant_isa() says so, else the AVX2 one. */
void eng_mm_q4_k_x86(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q5_k_x86(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q6_k_x86(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
/* The instruction set the K-quant kernels use on this CPU: 512 (AVX-512F/BW/VL) or 256 (AVX2);
 * JOULEBENCH_ISA=avx2 forces 256. Chosen once. */
int eng_kquant_isa(void);
/* AVX2 row kernels of the legacy types and of Q2_K / Q3_K (kernels_kquant_avx2.c); the AVX-512
 * set runs them too. */
void eng_mm_q2_k_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q3_k_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q4_1_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q5_0_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q5_1_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
/* The AVX2 set's weight layouts (ENG_LAYOUT_KQ_T for Q4_K and Q5_K unless the AVX-512 kernels
 * run) and its packing of Q8_K activations into the T order for T-layout matmuls. */
int eng_kq_weight_layout_avx2(int type);
size_t eng_kq_packed_bytes_t(const struct eng_act *a);
void eng_kq_pack_act_t(struct eng_pool *p, struct eng_act *a, void *buf);
/* eng_quantize_row_q8_k, bit for bit, for the AVX2 and AVX-512 sets. */
void eng_quantize_row_q8_k_avx2(const float *x, struct eng_block_q8_k *y, int64_t n);
void eng_quantize_row_q8_k_avx512(const float *x, struct eng_block_q8_k *y, int64_t n);
void eng_mm_q4_k_avx512(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q6_k_avx512(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
/* AVX-512 VNNI (kernels_kquant_vnni.c): a GEMM of batches of Q8_K activations packed by
 * eng_kq_pack_act_vnni (a->packed set), else the AVX-512 row kernels above. */
void eng_mm_q4_k_vnni(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q5_k_vnni(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q6_k_vnni(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
int eng_kq_weight_layout_vnni(int type);
/* Tests: the VNNI set's T-layout decode kernels with (1) or without (0) GFNI and VBMI whatever the CPU has;
 * -1 goes back to asking the CPU. */
void eng_kq_vnni_force_gfni(int on);
size_t eng_kq_packed_bytes_vnni(const struct eng_act *a);
void eng_kq_pack_act_vnni(struct eng_pool *p, struct eng_act *a, void *buf);
#endif

#if defined(JB_NEON_KERNELS)
/* NEON row kernels of the K-quant types (kernels_kquant_neon.c). */
void eng_mm_q2_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q3_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q4_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q5_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
void eng_mm_q6_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1);
#endif

/* The reference activation quantizer (shared by every set's tail handling). */
void eng_quantize_act_ref(const float *x, int64_t n, int8_t *qs, float *d, float *c);

/*
 * Runs a matmul with an explicit kernel set on the pool (p may be NULL: the caller's thread
 * only). eng_matmul is this with the active set; tests use it to hold each set to the reference.
 */
void eng_matmul_with(const struct eng_kernel_set *ks, struct eng_pool *p, const struct eng_mat *w,
		     const float *x, int n_tok, float *y);
void eng_matmul_multi_with(const struct eng_kernel_set *ks, struct eng_pool *p, const struct eng_mat *const *w,
			   int n_w, const float *x, int n_tok, float *const *y);

/* 1 while the calling thread runs a pool job (nested dispatches run inline; they must not use
 * the pool's scratch buffer, which the dispatching thread owns). */
int eng_pool_in_job(void);

/* A 64-byte aligned scratch buffer owned by the pool, valid until the next call (only the thread
 * that dispatches may use it); NULL when it cannot grow to `bytes`. */
void *eng_pool_scratch(struct eng_pool *p, size_t bytes);

#endif
