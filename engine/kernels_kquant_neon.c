/*
 * engine/kernels_kquant_neon.c — NEON row kernels (AArch64) of the K-quant weight types Q2_K,
 * Q3_K, Q4_K, Q5_K and Q6_K against Q8_K activations; the NEON set (kernels_neon.c) lists them.
 * Compiled only under JB_NEON_KERNELS (nothing on x86-64).
 *
 * One row at a time, up to four tokens per pass over the row: a super-block is unpacked once per
 * pass into sixteen vectors of signed bytes, one per 16 weights, in the element order of the Q8_K
 * quants, so every product is a plain byte dot product: through vdotq_s32 when the build targets
 * the dot-product extension (__ARM_FEATURE_DOTPROD), else vmull_s8 + vpadalq_s16 (as in
 * kernels_neon.c). The unpacked values:
 *   Q2_K: q (0..3)            Q3_K: q - 4 with the high bit (-4..3)
 *   Q4_K: q (0..15)           Q5_K: q with the fifth bit (0..31)
 *   Q6_K: q - 32 (-32..31)
 * so Q3_K and Q6_K need no offset term; the mins of Q2_K/Q4_K/Q5_K come from the Q8_K bsums.
 *
 * The sub-blocks' products are summed to one int32 per sub-block, multiplied by the integer scales
 * and added: the reference's sumi exactly (largest: Q6_K, 16 groups x 128 x 16 x 32 x 127 < 2^27
 * per super-block). The float work per super-block is the reference's expression, in its order,
 * one super-block after another, so the results are those of kernels_kquant_ref.c (bit for bit
 * when neither file's multiply-adds are contracted, as with -std=c11; the tests allow KQ_DOT_TOL).
 */
#include "engine/kernels_impl.h"

#if defined(JB_NEON_KERNELS)

#include <arm_neon.h>
#include <string.h>

#define KQ_INLINE static inline __attribute__((always_inline))

/* 16 signed bytes dotted into 4 int32 lanes (the same as dot16 in kernels_neon.c) */
KQ_INLINE int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b)
{
#if defined(__ARM_FEATURE_DOTPROD)
	return vdotq_s32(acc, a, b);
#else
	acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
	return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

KQ_INLINE float half(eng_f16 h)
{
	return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* [sum p0, sum p1, sum p2, sum p3] */
KQ_INLINE int32x4_t fold4(int32x4_t p0, int32x4_t p1, int32x4_t p2, int32x4_t p3)
{
	return vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
}

/*
 * The 16 weights of super-block group g (elements 16g..16g+15) are w[g], its scale lane g % 4 of
 * sc[g / 4]; returns the sum over the groups of sc_g * (w[g] . x[16g..16g+15]), exact in int32.
 * The group products are independent; each four are folded to one sum per group before the
 * scales multiply them, so only four multiply-adds wait for each other.
 */
KQ_INLINE int32_t dot_groups16(const int8x16_t *w, const int8_t *xq, const int32x4_t *sc)
{
	const int32x4_t z = vdupq_n_s32(0);
	int32x4_t acc = z;

	_Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
		const int8_t *xk = xq + 64 * k;
		int32x4_t p0 = dot16(z, w[4 * k], vld1q_s8(xk));
		int32x4_t p1 = dot16(z, w[4 * k + 1], vld1q_s8(xk + 16));
		int32x4_t p2 = dot16(z, w[4 * k + 2], vld1q_s8(xk + 32));
		int32x4_t p3 = dot16(z, w[4 * k + 3], vld1q_s8(xk + 48));

		acc = vmlaq_s32(acc, fold4(p0, p1, p2, p3), sc[k]);
	}
	return vaddvq_s32(acc);
}

/* The same with one scale per pair of groups (the sub-blocks of 32 of Q4_K/Q5_K): sub-block s
 * is w[2s], w[2s + 1], its scale lane s % 4 of sc[s / 4]. */
KQ_INLINE int32_t dot_groups32(const int8x16_t *w, const int8_t *xq, const int32x4_t *sc)
{
	const int32x4_t z = vdupq_n_s32(0);
	int32x4_t acc = z;

	_Pragma("GCC unroll 2") for (int k = 0; k < 2; k++) {
		int32x4_t p[4];

		_Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) {
			int s = 4 * k + i;

			p[i] = dot16(dot16(z, w[2 * s], vld1q_s8(xq + 32 * s)), w[2 * s + 1],
				     vld1q_s8(xq + 32 * s + 16));
		}
		acc = vmlaq_s32(acc, fold4(p[0], p[1], p[2], p[3]), sc[k]);
	}
	return vaddvq_s32(acc);
}

/* 16 bytes as four vectors of four int32 (unsigned or signed bytes) */
KQ_INLINE void widen_u8(uint8x16_t v, int32x4_t out[4])
{
	uint16x8_t lo = vmovl_u8(vget_low_u8(v)), hi = vmovl_high_u8(v);

	out[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(lo)));
	out[1] = vreinterpretq_s32_u32(vmovl_high_u16(lo));
	out[2] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(hi)));
	out[3] = vreinterpretq_s32_u32(vmovl_high_u16(hi));
}

KQ_INLINE void widen_s8(int8x16_t v, int32x4_t out[4])
{
	int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_high_s8(v);

	out[0] = vmovl_s16(vget_low_s16(lo));
	out[1] = vmovl_high_s16(lo);
	out[2] = vmovl_s16(vget_low_s16(hi));
	out[3] = vmovl_high_s16(hi);
}

/* sum over 16 groups of mins[g] * bsums[g] (mins as two vectors of 8 int16), exact in int32 */
KQ_INLINE int32_t mins_dot(const int16_t *bsums, int16x8_t m_lo, int16x8_t m_hi)
{
	int16x8_t b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
	int32x4_t s = vmull_s16(vget_low_s16(b0), vget_low_s16(m_lo));

	s = vmlal_s16(s, vget_high_s16(b0), vget_high_s16(m_lo));
	s = vmlal_s16(s, vget_low_s16(b1), vget_low_s16(m_hi));
	s = vmlal_s16(s, vget_high_s16(b1), vget_high_s16(m_hi));
	return vaddvq_s32(s);
}

/*
 * The 2-bit fields of a 32-byte group of Q2_K/Q3_K qs: byte l of qs holds elements l + 32j in bits
 * 2j..2j+1, so field j of bytes 0..15 / 16..31 is super-block group 2j / 2j + 1 (of this half).
 * w[2j], w[2j + 1] get them as bytes 0..3.
 */
KQ_INLINE void crumbs(const uint8_t *qs, uint8x16_t *w)
{
	uint8x16_t q0 = vld1q_u8(qs), q1 = vld1q_u8(qs + 16);
	const uint8x16_t three = vdupq_n_u8(3);

	_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
		w[2 * j] = vandq_u8(q0, three);
		w[2 * j + 1] = vandq_u8(q1, three);
		q0 = vshrq_n_u8(q0, 2);
		q1 = vshrq_n_u8(q1, 2);
	}
}

/* The 8 scales and 8 mins of a Q4_K/Q5_K super-block (as eng_kq_scales_mins8): the scales as two
 * vectors of four int32, the mins as 16 int16 lanes, each repeated for the two groups of its
 * sub-block. */
KQ_INLINE void scales_mins(const uint8_t *q, int32x4_t sc[2], int16x8_t *m_lo, int16x8_t *m_hi)
{
	uint32_t w0, w1, w2, v[4];
	uint8_t b[16];
	uint8x8_t m;
	uint16x8_t s16;

	memcpy(&w0, q, 4);
	memcpy(&w1, q + 4, 4);
	memcpy(&w2, q + 8, 4);
	v[0] = w0 & 0x3f3f3f3fu;                                       /* scales 0..3 */
	v[1] = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4); /* scales 4..7 */
	v[2] = w1 & 0x3f3f3f3fu;                                       /* mins 0..3 */
	v[3] = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
	memcpy(b, v, 16);
	s16 = vmovl_u8(vld1_u8(b));
	sc[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(s16)));
	sc[1] = vreinterpretq_s32_u32(vmovl_high_u16(s16));
	m = vld1_u8(b + 8);
	*m_lo = vreinterpretq_s16_u16(vmovl_u8(vzip1_u8(m, m)));
	*m_hi = vreinterpretq_s16_u16(vmovl_u8(vzip2_u8(m, m)));
}

/* The 16 signed scales of a Q3_K super-block (as eng_kq_q3_scales), as four vectors of int32. */
KQ_INLINE void q3_scales(const uint8_t *s, int32x4_t sc[4])
{
	uint32_t a0, a1, hb, v[4];
	uint8_t b[16];

	memcpy(&a0, s, 4);
	memcpy(&a1, s + 4, 4);
	memcpy(&hb, s + 8, 4);
	/* low 4 bits: bytes 0..7, low nibbles for scales 0..7, high nibbles for 8..15; the top 2
	 * bits of scale j: bits 2 (j / 4) of byte 8 + j % 4 */
	v[0] = (a0 & 0x0f0f0f0fu) | ((hb & 0x03030303u) << 4);
	v[1] = (a1 & 0x0f0f0f0fu) | (((hb >> 2) & 0x03030303u) << 4);
	v[2] = ((a0 >> 4) & 0x0f0f0f0fu) | (((hb >> 4) & 0x03030303u) << 4);
	v[3] = ((a1 >> 4) & 0x0f0f0f0fu) | (((hb >> 6) & 0x03030303u) << 4);
	memcpy(b, v, 16);
	widen_s8(vsubq_s8(vreinterpretq_s8_u8(vld1q_u8(b)), vdupq_n_s8(32)), sc);
}

/* ---- the row functions: out[t] = row . x_t for nt (1..4) tokens ---- */

KQ_INLINE void q2k_row(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq,
		const int nt, float *out)
{
	float s[4] = { 0.0f, 0.0f, 0.0f, 0.0f };

	for (int64_t b = 0; b < nbk; b++) {
		const struct eng_block_q2_k *wb = (const struct eng_block_q2_k *)row + b;
		uint8x16_t u[16], raw = vld1q_u8(wb->scales), mn = vshrq_n_u8(raw, 4);
		int8x16_t w[16];
		int32x4_t sc[4];
		int16x8_t m_lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mn)));
		int16x8_t m_hi = vreinterpretq_s16_u16(vmovl_high_u8(mn));
		float d = half(wb->d), dmin = half(wb->dmin);

		widen_u8(vandq_u8(raw, vdupq_n_u8(0x0f)), sc);
		crumbs(wb->qs, u);
		crumbs(wb->qs + 32, u + 8);
		_Pragma("GCC unroll 16") for (int g = 0; g < 16; g++)
			w[g] = vreinterpretq_s8_u8(u[g]);
		for (int t = 0; t < nt; t++) {
			const struct eng_block_q8_k *x = xq[t] + b;
			int32_t sumi = dot_groups16(w, x->qs, sc), summ = mins_dot(x->bsums, m_lo, m_hi);

			s[t] += x->d * (d * (float)sumi - dmin * (float)summ);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = s[t];
}

KQ_INLINE void q3k_row(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq,
		const int nt, float *out)
{
	float s[4] = { 0.0f, 0.0f, 0.0f, 0.0f };

	for (int64_t b = 0; b < nbk; b++) {
		const struct eng_block_q3_k *wb = (const struct eng_block_q3_k *)row + b;
		/* element 32k + l has its high bit in bit k of hmask[l] */
		uint8x16_t h0 = vld1q_u8(wb->hmask), h1 = vld1q_u8(wb->hmask + 16), u[16];
		const uint8x16_t one = vdupq_n_u8(1);
		const int8x16_t four = vdupq_n_s8(4);
		int8x16_t w[16];
		int32x4_t sc[4];
		float d = half(wb->d);

		q3_scales(wb->scales, sc);
		crumbs(wb->qs, u);
		crumbs(wb->qs + 32, u + 8);
		/* groups 2k, 2k + 1: elements 32k + 0..15, 32k + 16..31 */
		_Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
			uint8x16_t q0 = vorrq_u8(u[2 * k], vshlq_n_u8(vandq_u8(h0, one), 2));
			uint8x16_t q1 = vorrq_u8(u[2 * k + 1], vshlq_n_u8(vandq_u8(h1, one), 2));

			w[2 * k] = vsubq_s8(vreinterpretq_s8_u8(q0), four);
			w[2 * k + 1] = vsubq_s8(vreinterpretq_s8_u8(q1), four);
			h0 = vshrq_n_u8(h0, 1);
			h1 = vshrq_n_u8(h1, 1);
		}
		for (int t = 0; t < nt; t++) {
			const struct eng_block_q8_k *x = xq[t] + b;

			s[t] += x->d * d * (float)dot_groups16(w, x->qs, sc);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = s[t];
}

/* Q4_K, and Q5_K with q5 (the fifth bits from qh). */
KQ_INLINE void q45k_row(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq,
		const int nt, float *out, const int q5)
{
	const uint8x16_t low4 = vdupq_n_u8(0x0f);
	float s[4] = { 0.0f, 0.0f, 0.0f, 0.0f };

	for (int64_t b = 0; b < nbk; b++) {
		const uint8_t *qs, *hdr;
		int8x16_t w[16];
		int32x4_t sc[2];
		int16x8_t m_lo, m_hi;
		float d, dmin;

		if (q5) {
			const struct eng_block_q5_k *wb = (const struct eng_block_q5_k *)row + b;
			/* element 32s + l has its fifth bit in bit s of qh[l] */
			uint8x16_t h0 = vld1q_u8(wb->qh), h1 = vld1q_u8(wb->qh + 16);
			const uint8x16_t one = vdupq_n_u8(1), two = vdupq_n_u8(2);

			qs = wb->qs;
			hdr = wb->scales;
			d = half(wb->d);
			dmin = half(wb->dmin);
			/* sub-blocks 2k (low nibbles), 2k + 1 (high) */
			_Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
				uint8x16_t q0 = vld1q_u8(qs + 32 * k), q1 = vld1q_u8(qs + 32 * k + 16);

				w[4 * k] = vreinterpretq_s8_u8(
					vorrq_u8(vandq_u8(q0, low4), vshlq_n_u8(vandq_u8(h0, one), 4)));
				w[4 * k + 1] = vreinterpretq_s8_u8(
					vorrq_u8(vandq_u8(q1, low4), vshlq_n_u8(vandq_u8(h1, one), 4)));
				w[4 * k + 2] = vreinterpretq_s8_u8(
					vorrq_u8(vshrq_n_u8(q0, 4), vshlq_n_u8(vandq_u8(h0, two), 3)));
				w[4 * k + 3] = vreinterpretq_s8_u8(
					vorrq_u8(vshrq_n_u8(q1, 4), vshlq_n_u8(vandq_u8(h1, two), 3)));
				h0 = vshrq_n_u8(h0, 2);
				h1 = vshrq_n_u8(h1, 2);
			}
		} else {
			const struct eng_block_q4_k *wb = (const struct eng_block_q4_k *)row + b;

			qs = wb->qs;
			hdr = wb->scales;
			d = half(wb->d);
			dmin = half(wb->dmin);
			_Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
				uint8x16_t q0 = vld1q_u8(qs + 32 * k), q1 = vld1q_u8(qs + 32 * k + 16);

				w[4 * k] = vreinterpretq_s8_u8(vandq_u8(q0, low4));
				w[4 * k + 1] = vreinterpretq_s8_u8(vandq_u8(q1, low4));
				w[4 * k + 2] = vreinterpretq_s8_u8(vshrq_n_u8(q0, 4));
				w[4 * k + 3] = vreinterpretq_s8_u8(vshrq_n_u8(q1, 4));
			}
		}
		scales_mins(hdr, sc, &m_lo, &m_hi);
		for (int t = 0; t < nt; t++) {
			const struct eng_block_q8_k *x = xq[t] + b;
			int32_t sumi = dot_groups32(w, x->qs, sc), summ = mins_dot(x->bsums, m_lo, m_hi);

			s[t] += x->d * (d * (float)sumi - dmin * (float)summ);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = s[t];
}

KQ_INLINE void q6k_row(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq,
		const int nt, float *out)
{
	const uint8x16_t low4 = vdupq_n_u8(0x0f), m2 = vdupq_n_u8(0x03), m4 = vdupq_n_u8(0x0c);
	const uint8x16_t m6 = vdupq_n_u8(0x30), m8 = vdupq_n_u8(0xc0);
	const int8x16_t off = vdupq_n_s8(32);
	float s[4] = { 0.0f, 0.0f, 0.0f, 0.0f };

	for (int64_t b = 0; b < nbk; b++) {
		const struct eng_block_q6_k *wb = (const struct eng_block_q6_k *)row + b;
		int8x16_t w[16];
		int32x4_t sc[4];
		float d = half(wb->d);

		widen_s8(vld1q_s8(wb->scales), sc);
		/*
		 * Half h (elements 128h..128h+127), quarter k, element l of 32: low 4 bits in
		 * ql[64h + 32 (k & 1) + l] (low nibble for k < 2, high for k >= 2), top 2 bits in bits
		 * 2k..2k+1 of qh[32h + l].
		 */
		_Pragma("GCC unroll 2") for (int h = 0; h < 2; h++) {
			const uint8_t *ql = wb->ql + 64 * h, *qh = wb->qh + 32 * h;

			_Pragma("GCC unroll 2") for (int i = 0; i < 2; i++) { /* l in 0..15, 16..31 */
				uint8x16_t a = vld1q_u8(ql + 16 * i), c = vld1q_u8(ql + 32 + 16 * i);
				uint8x16_t hb = vld1q_u8(qh + 16 * i);
				uint8x16_t q0 = vorrq_u8(vandq_u8(a, low4), vshlq_n_u8(vandq_u8(hb, m2), 4));
				uint8x16_t q1 = vorrq_u8(vandq_u8(c, low4), vshlq_n_u8(vandq_u8(hb, m4), 2));
				uint8x16_t q2 = vorrq_u8(vshrq_n_u8(a, 4), vandq_u8(hb, m6));
				uint8x16_t q3 = vorrq_u8(vshrq_n_u8(c, 4), vshrq_n_u8(vandq_u8(hb, m8), 2));

				w[8 * h + i] = vsubq_s8(vreinterpretq_s8_u8(q0), off);
				w[8 * h + 2 + i] = vsubq_s8(vreinterpretq_s8_u8(q1), off);
				w[8 * h + 4 + i] = vsubq_s8(vreinterpretq_s8_u8(q2), off);
				w[8 * h + 6 + i] = vsubq_s8(vreinterpretq_s8_u8(q3), off);
			}
		}
		for (int t = 0; t < nt; t++) {
			const struct eng_block_q8_k *x = xq[t] + b;

			s[t] += x->d * d * (float)dot_groups16(w, x->qs, sc);
		}
	}
	for (int t = 0; t < nt; t++)
		out[t] = s[t];
}

/* ---- row-range drivers ---- */

enum { KQ2, KQ3, KQ4, KQ5, KQ6 };

/* One row against nt tokens, each kernel specialised for its token count. */
KQ_INLINE void row_nt(const int kind, const char *row, int64_t nbk,
		const struct eng_block_q8_k *const *xq, const int nt, float *out)
{
	switch (kind) {
	case KQ2: q2k_row(row, nbk, xq, nt, out); break;
	case KQ3: q3k_row(row, nbk, xq, nt, out); break;
	case KQ4: q45k_row(row, nbk, xq, nt, out, 0); break;
	case KQ5: q45k_row(row, nbk, xq, nt, out, 1); break;
	default: q6k_row(row, nbk, xq, nt, out); break;
	}
}

KQ_INLINE void mm_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
		int64_t r1, const int kind)
{
	int64_t nbk = a->cols / ENG_QK_K;

	for (int64_t r = r0; r < r1; r++) {
		const char *row = (const char *)w->data + r * (int64_t)w->row_bytes;

		for (int t0 = 0; t0 < a->n_tok; t0 += 4) {
			const struct eng_block_q8_k *xq[4];
			float out[4];
			int nt = a->n_tok - t0 < 4 ? a->n_tok - t0 : 4;

			for (int t = 0; t < nt; t++)
				xq[t] = a->q8k + (int64_t)(t0 + t) * nbk;
			switch (nt) {
			case 4: row_nt(kind, row, nbk, xq, 4, out); break;
			case 3: row_nt(kind, row, nbk, xq, 3, out); break;
			case 2: row_nt(kind, row, nbk, xq, 2, out); break;
			default: row_nt(kind, row, nbk, xq, 1, out); break;
			}
			for (int t = 0; t < nt; t++)
				y[(int64_t)(t0 + t) * w->rows + r] = out[t];
		}
	}
}

void eng_mm_q2_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_neon(w, a, y, r0, r1, KQ2);
}

void eng_mm_q3_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_neon(w, a, y, r0, r1, KQ3);
}

void eng_mm_q4_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_neon(w, a, y, r0, r1, KQ4);
}

void eng_mm_q5_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_neon(w, a, y, r0, r1, KQ5);
}

void eng_mm_q6_k_neon(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_neon(w, a, y, r0, r1, KQ6);
}

#endif /* JB_NEON_KERNELS */
