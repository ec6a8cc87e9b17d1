/*
 * engine/kernels_neon.c — NEON kernels for AArch64 (Apple M-series under Linux, Raspberry Pi 5,
 * Graviton, Ampere), compiled only under __ARM_NEON and selected at compile time.
 *
 * Matmul: register tiles of 4 weight rows x up to 4 tokens (as in kernels_avx2.c), so a weight
 * block is loaded and unpacked once per tile and reused for every token of the tile. Quantized
 * weights meet Q8_0 activations in integer arithmetic: with the dot-product extension
 * (__ARM_FEATURE_DOTPROD, e.g. -march=armv8.2-a+dotprod; every Apple M and Cortex-A76 has it)
 * through vdotq_s32, otherwise through vmull_s8 + vpadalq_s16 (the fallback for Cortex-A72 / Pi 4
 * class cores). Q4_0 nibbles are unpacked to signed bytes (q - 8) first, so the offset term of the
 * activations is not needed here. Four rows' int32 partial sums are folded with pairwise adds
 * and scaled by the four f16 row scales in one vector. Q4_1, Q5_0 and Q5_1 use the same tiles;
 * the K-quant row kernels are in kernels_kquant_neon.c.
 *
 * JB_KERNEL_SLOWDOWN: see kernels_avx2.c; here too every Q4_0/Q8_0 block dot is computed a second
 * time into a volatile sink.
 */
#include "engine/kernels_impl.h"

#if defined(JB_NEON_KERNELS)

#include <arm_neon.h>
#include <math.h>
#include <string.h>

#if defined(JB_KERNEL_SLOWDOWN)
static volatile int jb_slowdown_sink;
#endif

/* ---- integer dot products of 16 signed bytes, accumulated into 4 int32 lanes ---- */

static inline int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b)
{
#if defined(__ARM_FEATURE_DOTPROD)
	return vdotq_s32(acc, a, b);
#else
	acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
	return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

/* [sum p0, sum p1, sum p2, sum p3] */
static inline int32x4_t fold4(int32x4_t p0, int32x4_t p1, int32x4_t p2, int32x4_t p3)
{
	return vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
}

/* The f16 at byte `off` of block b of each of the four rows, as floats. */
static inline float32x4_t halves4(const char *const *wr, int64_t b, size_t block_bytes, size_t off)
{
	uint16_t h[4];

	for (int i = 0; i < 4; i++)
		memcpy(&h[i], wr[i] + b * (int64_t)block_bytes + (int64_t)off, 2);
	return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}

static inline float32x4_t scales4(const char *const *wr, int64_t b, size_t block_bytes)
{
	return halves4(wr, b, block_bytes, 0);
}

static inline void store4(float *y, float32x4_t v, int nr)
{
	if (nr == 4) {
		vst1q_f32(y, v);
	} else {
		float tmp[4];

		vst1q_f32(tmp, v);
		for (int i = 0; i < nr; i++)
			y[i] = tmp[i];
	}
}

static inline int tile_rows(const struct eng_mat *w, int64_t r, int64_t r1, const char **wr)
{
	int nr = r1 - r < 4 ? (int)(r1 - r) : 4;

	for (int i = 0; i < 4; i++)
		wr[i] = (const char *)w->data + (r + (i < nr ? i : nr - 1)) * (int64_t)w->row_bytes;
	return nr;
}

/* ---- activations to Q8_0 (bit-identical to eng_quantize_act_ref) ---- */

static void quantize_act_neon(const float *x, int64_t n, int8_t *qs, float *d, float *c)
{
	for (int64_t b = 0; b < n / ENG_QK8_0; b++) {
		const float *xb = x + b * ENG_QK8_0;
		float32x4_t v[8], m;
		int32x4_t s = vdupq_n_s32(0);
		int16x8_t h[4];
		float amax, db, id;

		for (int k = 0; k < 8; k++)
			v[k] = vld1q_f32(xb + 4 * k);
		m = vabsq_f32(v[0]);
		for (int k = 1; k < 8; k++)
			m = vmaxq_f32(m, vabsq_f32(v[k]));
		amax = vmaxvq_f32(m);
		db = amax / 127.0f;
		id = db != 0.0f ? 1.0f / db : 0.0f;
		for (int k = 0; k < 4; k++) {
			/* vcvtnq: round to nearest, ties to even, like nearbyintf */
			int32x4_t i0 = vcvtnq_s32_f32(vmulq_n_f32(v[2 * k], id));
			int32x4_t i1 = vcvtnq_s32_f32(vmulq_n_f32(v[2 * k + 1], id));

			s = vaddq_s32(s, vaddq_s32(i0, i1));
			h[k] = vcombine_s16(vmovn_s32(i0), vmovn_s32(i1));
		}
		vst1q_s8(qs + b * ENG_QK8_0, vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1])));
		vst1q_s8(qs + b * ENG_QK8_0 + 16, vcombine_s8(vmovn_s16(h[2]), vmovn_s16(h[3])));
		d[b] = eng_f16_to_f32(eng_f32_to_f16(db));
		c[b] = 8.0f * d[b] * (float)vaddvq_s32(s);
	}
}

/* ---- Q4_0 ---- */

static inline void unpack_q4(const struct eng_block_q4_0 *blk, int8x16_t *lo, int8x16_t *hi)
{
	uint8x16_t raw = vld1q_u8(blk->qs);
	const int8x16_t eight = vdupq_n_s8(8);

	*lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f))), eight);
	*hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), eight);
}

static inline __attribute__((always_inline)) void q4_0_tile(const char *const *wr, const struct eng_act *a,
							     int t0, const int nt, float *y, int64_t rows,
							     int64_t r, int nr)
{
	float32x4_t acc[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0) };

	for (int64_t b = 0; b < a->nb; b++) {
		float32x4_t dw = scales4(wr, b, sizeof(struct eng_block_q4_0));
		int8x16_t l[4], h[4];

		for (int i = 0; i < 4; i++)
			unpack_q4((const struct eng_block_q4_0 *)wr[i] + b, &l[i], &h[i]);
		for (int t = 0; t < nt; t++) {
			const int8_t *xq = a->qs + (int64_t)(t0 + t) * a->cols + b * ENG_QK4_0;
			int8x16_t y0 = vld1q_s8(xq), y1 = vld1q_s8(xq + 16);
			int32x4_t p[4];

			for (int i = 0; i < 4; i++)
				p[i] = dot16(dot16(vdupq_n_s32(0), l[i], y0), h[i], y1);
			acc[t] = vfmaq_f32(acc[t], vcvtq_f32_s32(fold4(p[0], p[1], p[2], p[3])),
					   vmulq_n_f32(dw, a->d[(int64_t)(t0 + t) * a->nb + b]));
#if defined(JB_KERNEL_SLOWDOWN)
			{
				const char *const *vw = wr;

				__asm__ __volatile__("" : "+r"(vw) : : "memory");
				for (int i = 0; i < 4; i++) {
					int8x16_t ll, hh;

					unpack_q4((const struct eng_block_q4_0 *)vw[i] + b, &ll, &hh);
					jb_slowdown_sink += vaddvq_s32(dot16(dot16(vdupq_n_s32(0), ll, y0), hh, y1));
				}
			}
#endif
		}
	}
	for (int t = 0; t < nt; t++)
		store4(y + (int64_t)(t0 + t) * rows + r, acc[t], nr);
}

static void mm_q4_0_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	for (int64_t r = r0; r < r1; r += 4) {
		const char *wr[4];
		int nr = tile_rows(w, r, r1, wr);
		int t = 0;

		for (; t + 4 <= a->n_tok; t += 4)
			q4_0_tile(wr, a, t, 4, y, w->rows, r, nr);
		switch (a->n_tok - t) {
		case 3: q4_0_tile(wr, a, t, 3, y, w->rows, r, nr); break;
		case 2: q4_0_tile(wr, a, t, 2, y, w->rows, r, nr); break;
		case 1: q4_0_tile(wr, a, t, 1, y, w->rows, r, nr); break;
		}
	}
}

/* ---- Q8_0 ---- */

static inline __attribute__((always_inline)) void q8_0_tile(const char *const *wr, const struct eng_act *a,
							     int t0, const int nt, float *y, int64_t rows,
							     int64_t r, int nr)
{
	float32x4_t acc[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0) };

	for (int64_t b = 0; b < a->nb; b++) {
		float32x4_t dw = scales4(wr, b, sizeof(struct eng_block_q8_0));
		int8x16_t l[4], h[4];

		for (int i = 0; i < 4; i++) {
			const struct eng_block_q8_0 *blk = (const struct eng_block_q8_0 *)wr[i] + b;

			l[i] = vld1q_s8(blk->qs);
			h[i] = vld1q_s8(blk->qs + 16);
		}
		for (int t = 0; t < nt; t++) {
			const int8_t *xq = a->qs + (int64_t)(t0 + t) * a->cols + b * ENG_QK8_0;
			int8x16_t y0 = vld1q_s8(xq), y1 = vld1q_s8(xq + 16);
			int32x4_t p[4];

			for (int i = 0; i < 4; i++)
				p[i] = dot16(dot16(vdupq_n_s32(0), l[i], y0), h[i], y1);
			acc[t] = vfmaq_f32(acc[t], vcvtq_f32_s32(fold4(p[0], p[1], p[2], p[3])),
					   vmulq_n_f32(dw, a->d[(int64_t)(t0 + t) * a->nb + b]));
#if defined(JB_KERNEL_SLOWDOWN)
			{
				const char *const *vw = wr;

				__asm__ __volatile__("" : "+r"(vw) : : "memory");
				for (int i = 0; i < 4; i++) {
					const struct eng_block_q8_0 *blk = (const struct eng_block_q8_0 *)vw[i] + b;

					jb_slowdown_sink += vaddvq_s32(
						dot16(dot16(vdupq_n_s32(0), vld1q_s8(blk->qs), y0), vld1q_s8(blk->qs + 16), y1));
				}
			}
#endif
		}
	}
	for (int t = 0; t < nt; t++)
		store4(y + (int64_t)(t0 + t) * rows + r, acc[t], nr);
}

static void mm_q8_0_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	for (int64_t r = r0; r < r1; r += 4) {
		const char *wr[4];
		int nr = tile_rows(w, r, r1, wr);
		int t = 0;

		for (; t + 4 <= a->n_tok; t += 4)
			q8_0_tile(wr, a, t, 4, y, w->rows, r, nr);
		switch (a->n_tok - t) {
		case 3: q8_0_tile(wr, a, t, 3, y, w->rows, r, nr); break;
		case 2: q8_0_tile(wr, a, t, 2, y, w->rows, r, nr); break;
		case 1: q8_0_tile(wr, a, t, 1, y, w->rows, r, nr); break;
		}
	}
}

/* ---- Q4_1 / Q5_0 / Q5_1 ---- */

/*
 * The same tiles as Q4_0, with the quants unpacked to signed bytes: Q4_1 q (0..15), Q5_1 q with
 * its fifth bit (0..31), Q5_0 that minus 16. Per block and row the reference adds
 * d_w d_x sumi (+ m_w c / 8 for Q4_1/Q5_1, c / 8 = d_x * sum of the activation quants, exact);
 * here four rows at once, the same products in the same order.
 */

/* Bit j of the block's 32-bit qh as 0x10 in byte j: elements 0..15 in *lo, 16..31 in *hi. */
static inline void fifth_bits(const uint8_t *qh, uint8x16_t *lo, uint8x16_t *hi)
{
	static const uint8_t bit[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
	const uint8x16_t bits = vld1q_u8(bit), b4 = vdupq_n_u8(0x10);

	*lo = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), bits), b4);
	*hi = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), bits), b4);
}

static inline __attribute__((always_inline)) void unpack_legacy(const char *blk, const int type, int8x16_t *lo,
								int8x16_t *hi)
{
	const uint8x16_t low4 = vdupq_n_u8(0x0f);
	uint8x16_t raw, l, h;

	if (type == ENG_TYPE_Q4_1) {
		raw = vld1q_u8(((const struct eng_block_q4_1 *)blk)->qs);
		*lo = vreinterpretq_s8_u8(vandq_u8(raw, low4));
		*hi = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));
		return;
	}
	if (type == ENG_TYPE_Q5_1) {
		const struct eng_block_q5_1 *wb = (const struct eng_block_q5_1 *)blk;

		raw = vld1q_u8(wb->qs);
		fifth_bits(wb->qh, &l, &h);
		*lo = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(raw, low4), l));
		*hi = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(raw, 4), h));
		return;
	}
	{
		const struct eng_block_q5_0 *wb = (const struct eng_block_q5_0 *)blk;
		const int8x16_t sixteen = vdupq_n_s8(16);

		raw = vld1q_u8(wb->qs);
		fifth_bits(wb->qh, &l, &h);
		*lo = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(raw, low4), l)), sixteen);
		*hi = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(raw, 4), h)), sixteen);
	}
}

static inline __attribute__((always_inline)) void legacy_tile(const char *const *wr, const struct eng_act *a,
							       int t0, const int nt, float *y, int64_t rows,
							       int64_t r, int nr, const int type)
{
	const size_t bb = type == ENG_TYPE_Q4_1 ? sizeof(struct eng_block_q4_1)
			  : type == ENG_TYPE_Q5_1 ? sizeof(struct eng_block_q5_1)
						  : sizeof(struct eng_block_q5_0);
	float32x4_t acc[4] = { vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0) };

	for (int64_t b = 0; b < a->nb; b++) {
		float32x4_t dw = halves4(wr, b, bb, 0);
		float32x4_t mw = type == ENG_TYPE_Q5_0 ? vdupq_n_f32(0) : halves4(wr, b, bb, 2); /* m follows d */
		int8x16_t l[4], h[4];

		for (int i = 0; i < 4; i++)
			unpack_legacy(wr[i] + b * (int64_t)bb, type, &l[i], &h[i]);
		for (int t = 0; t < nt; t++) {
			int64_t xb = (int64_t)(t0 + t) * a->nb + b;
			const int8_t *xq = a->qs + (int64_t)(t0 + t) * a->cols + b * 32;
			int8x16_t y0 = vld1q_s8(xq), y1 = vld1q_s8(xq + 16);
			int32x4_t p[4];
			float32x4_t v;

			for (int i = 0; i < 4; i++)
				p[i] = dot16(dot16(vdupq_n_s32(0), l[i], y0), h[i], y1);
			v = vmulq_f32(vmulq_n_f32(dw, a->d[xb]), vcvtq_f32_s32(fold4(p[0], p[1], p[2], p[3])));
			if (type != ENG_TYPE_Q5_0)
				v = vaddq_f32(v, vmulq_n_f32(mw, a->c[xb] * 0.125f));
			acc[t] = vaddq_f32(acc[t], v);
		}
	}
	for (int t = 0; t < nt; t++)
		store4(y + (int64_t)(t0 + t) * rows + r, acc[t], nr);
}

static inline __attribute__((always_inline)) void mm_legacy_neon(const struct eng_mat *w, const struct eng_act *a,
								  float *y, int64_t r0, int64_t r1, const int type)
{
	for (int64_t r = r0; r < r1; r += 4) {
		const char *wr[4];
		int nr = tile_rows(w, r, r1, wr);
		int t = 0;

		for (; t + 4 <= a->n_tok; t += 4)
			legacy_tile(wr, a, t, 4, y, w->rows, r, nr, type);
		switch (a->n_tok - t) {
		case 3: legacy_tile(wr, a, t, 3, y, w->rows, r, nr, type); break;
		case 2: legacy_tile(wr, a, t, 2, y, w->rows, r, nr, type); break;
		case 1: legacy_tile(wr, a, t, 1, y, w->rows, r, nr, type); break;
		}
	}
}

static void mm_q4_1_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_legacy_neon(w, a, y, r0, r1, ENG_TYPE_Q4_1);
}

static void mm_q5_0_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_legacy_neon(w, a, y, r0, r1, ENG_TYPE_Q5_0);
}

static void mm_q5_1_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_legacy_neon(w, a, y, r0, r1, ENG_TYPE_Q5_1);
}

/* ---- F16 / F32: 4 rows x up to 2 tokens, 4 floats per step ---- */

static inline float32x4_t load_w4(const char *row, int64_t i, int f16)
{
	if (f16)
		return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)row + i)));
	return vld1q_f32((const float *)row + i);
}

static inline __attribute__((always_inline)) void fp_tile(const char *const *wr, const struct eng_act *a,
							   int t0, const int nt, float *y, int64_t rows, int64_t r,
							   int nr, const int f16)
{
	float32x4_t acc[4][2];
	const float *x[2];
	int64_t n = a->cols, i = 0;

	for (int k = 0; k < 4; k++)
		acc[k][0] = acc[k][1] = vdupq_n_f32(0);
	for (int t = 0; t < nt; t++)
		x[t] = a->x + (int64_t)(t0 + t) * n;
	for (; i + 4 <= n; i += 4) {
		float32x4_t w0 = load_w4(wr[0], i, f16), w1 = load_w4(wr[1], i, f16);
		float32x4_t w2 = load_w4(wr[2], i, f16), w3 = load_w4(wr[3], i, f16);

		for (int t = 0; t < nt; t++) {
			float32x4_t xv = vld1q_f32(x[t] + i);

			acc[0][t] = vfmaq_f32(acc[0][t], w0, xv);
			acc[1][t] = vfmaq_f32(acc[1][t], w1, xv);
			acc[2][t] = vfmaq_f32(acc[2][t], w2, xv);
			acc[3][t] = vfmaq_f32(acc[3][t], w3, xv);
		}
	}
	for (int t = 0; t < nt; t++) {
		for (int k = 0; k < nr; k++) {
			float s = vaddvq_f32(acc[k][t]);

			for (int64_t j = i; j < n; j++)
				s += (f16 ? eng_f16_to_f32(((const eng_f16 *)wr[k])[j]) : ((const float *)wr[k])[j]) *
				     x[t][j];
			y[(int64_t)(t0 + t) * rows + r + k] = s;
		}
	}
}

static inline __attribute__((always_inline)) void mm_fp_neon(const struct eng_mat *w, const struct eng_act *a,
							      float *y, int64_t r0, int64_t r1, const int f16)
{
	for (int64_t r = r0; r < r1; r += 4) {
		const char *wr[4];
		int nr = tile_rows(w, r, r1, wr);
		int t = 0;

		for (; t + 2 <= a->n_tok; t += 2)
			fp_tile(wr, a, t, 2, y, w->rows, r, nr, f16);
		if (t < a->n_tok)
			fp_tile(wr, a, t, 1, y, w->rows, r, nr, f16);
	}
}

static void mm_f16_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_fp_neon(w, a, y, r0, r1, 1);
}

static void mm_f32_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_fp_neon(w, a, y, r0, r1, 0);
}

/* ---- vector kernels ---- */

/* e^x for 4 floats; the same method and limits as exp8 in kernels_avx2.c. */
static inline float32x4_t exp4(float32x4_t x)
{
	const float32x4_t hi = vdupq_n_f32(88.0f), lo = vdupq_n_f32(-87.0f);
	uint32x4_t big = vcgtq_f32(x, hi), tiny = vcltq_f32(x, lo);
	float32x4_t xc = vminq_f32(vmaxq_f32(x, lo), hi);
	float32x4_t n = vrndnq_f32(vmulq_n_f32(xc, 1.44269504088896341f));
	float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(0.693145751953125f));
	float32x4_t p;
	int32x4_t e;

	r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187045e-06f));
	p = vdupq_n_f32(1.0f / 5040.0f);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
	p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
	p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
	e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
	p = vmulq_f32(p, vreinterpretq_f32_s32(e));
	p = vbslq_f32(big, vdupq_n_f32(INFINITY), p);
	return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(p), tiny));
}

static float dot_f32_neon(const float *a, const float *b, int n)
{
	float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
	int i = 0;
	float s;

	for (; i + 8 <= n; i += 8) {
		s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
		s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
	}
	for (; i + 4 <= n; i += 4)
		s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
	s = vaddvq_f32(vaddq_f32(s0, s1));
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static void axpy_f32_neon(float *y, float a, const float *x, int n)
{
	int i = 0;

	for (; i + 4 <= n; i += 4)
		vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
	for (; i < n; i++)
		y[i] += a * x[i];
}

static void rmsnorm_neon(float *o, const float *x, const float *weight, int n, float eps)
{
	float scale = 1.0f / sqrtf(dot_f32_neon(x, x, n) / (float)n + eps);
	int i = 0;

	for (; i + 4 <= n; i += 4)
		vst1q_f32(o + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), scale), vld1q_f32(weight + i)));
	for (; i < n; i++)
		o[i] = x[i] * scale * weight[i];
}

static void softmax_neon(float *x, int n)
{
	float32x4_t sv = vdupq_n_f32(0);
	float max, sum, inv;
	int i = 0;

	if (n <= 0)
		return;
	max = x[0];
	if (n >= 4) {
		float32x4_t mv = vld1q_f32(x);

		for (i = 4; i + 4 <= n; i += 4)
			mv = vmaxq_f32(mv, vld1q_f32(x + i));
		max = vmaxvq_f32(mv);
	}
	for (; i < n; i++)
		max = fmaxf(max, x[i]);
	for (i = 0; i + 4 <= n; i += 4) {
		float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vdupq_n_f32(max)));

		vst1q_f32(x + i, e);
		sv = vaddq_f32(sv, e);
	}
	sum = vaddvq_f32(sv);
	for (; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	inv = 1.0f / sum;
	for (i = 0; i + 4 <= n; i += 4)
		vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv));
	for (; i < n; i++)
		x[i] *= inv;
}

static void swiglu_neon(float *a, const float *b, int n)
{
	int i = 0;

	for (; i + 4 <= n; i += 4) {
		float32x4_t v = vld1q_f32(a + i);
		float32x4_t s = vdivq_f32(v, vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(v))));

		vst1q_f32(a + i, vmulq_f32(s, vld1q_f32(b + i)));
	}
	for (; i < n; i++)
		a[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

#define ROPE_MAX_DIM 1024
static void rope_neon(float *v, int n_heads, int head_dim, int rope_dim, int pos, float theta)
{
	float cs[ROPE_MAX_DIM / 2], sn[ROPE_MAX_DIM / 2];

	if (rope_dim > ROPE_MAX_DIM) {
		eng_rope_ref(v, n_heads, head_dim, rope_dim, pos, theta);
		return;
	}
	for (int i = 0; i < rope_dim; i += 2) {
		float freq = powf(theta, -(float)i / (float)rope_dim);
		float ang = (float)pos * freq;

		cs[i / 2] = cosf(ang);
		sn[i / 2] = sinf(ang);
	}
	for (int h = 0; h < n_heads; h++) {
		float *hv = v + (int64_t)h * head_dim;
		int i = 0;

		/* 4 pairs at a time: de-interleave, rotate, interleave */
		for (; i + 8 <= rope_dim; i += 8) {
			float32x4x2_t p = vld2q_f32(hv + i);
			float32x4_t c = vld1q_f32(cs + i / 2), s = vld1q_f32(sn + i / 2);
			float32x4x2_t o;

			o.val[0] = vfmsq_f32(vmulq_f32(p.val[0], c), p.val[1], s);
			o.val[1] = vfmaq_f32(vmulq_f32(p.val[1], c), p.val[0], s);
			vst2q_f32(hv + i, o);
		}
		for (; i < rope_dim; i += 2) {
			float v0 = hv[i], v1 = hv[i + 1];

			hv[i] = v0 * cs[i / 2] - v1 * sn[i / 2];
			hv[i + 1] = v0 * sn[i / 2] + v1 * cs[i / 2];
		}
	}
}

const struct eng_kernel_set eng_kset_neon = {
	.name = "neon",
	.mm = {
		[ENG_TYPE_F32] = mm_f32_neon,
		[ENG_TYPE_F16] = mm_f16_neon,
		[ENG_TYPE_Q4_0] = mm_q4_0_neon,
		[ENG_TYPE_Q8_0] = mm_q8_0_neon,
		[ENG_TYPE_Q4_1] = mm_q4_1_neon,
		[ENG_TYPE_Q5_0] = mm_q5_0_neon,
		[ENG_TYPE_Q5_1] = mm_q5_1_neon,
		[ENG_TYPE_Q2_K] = eng_mm_q2_k_neon,
		[ENG_TYPE_Q3_K] = eng_mm_q3_k_neon,
		[ENG_TYPE_Q4_K] = eng_mm_q4_k_neon,
		[ENG_TYPE_Q5_K] = eng_mm_q5_k_neon,
		[ENG_TYPE_Q6_K] = eng_mm_q6_k_neon,
	},
	.quantize_act = quantize_act_neon,
	.quantize_act_k = eng_quantize_row_q8_k,
	.rmsnorm = rmsnorm_neon,
	.softmax = softmax_neon,
	.rope = rope_neon,
	.swiglu = swiglu_neon,
	.dot_f32 = dot_f32_neon,
	.axpy_f32 = axpy_f32_neon,
};

#endif /* JB_NEON_KERNELS */
