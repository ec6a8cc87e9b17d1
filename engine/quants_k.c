/*
 * engine/quants_k.c — row formats of the legacy Q4_1/Q5_0/Q5_1 blocks and the K-quants
 * (Q2_K..Q6_K, Q8_K), in ggml's byte layouts (engine/kquants.h), with reference quantizers that
 * follow ggml's reference quantization (what llama-quantize writes without an importance matrix):
 *
 *   Q4_1/Q5_1: d = (max - min) / (2^bits - 1), m = min, q = (x - min) / d rounded half up.
 *   Q5_0:      as Q4_0 with 5 bits: d = m / -16 (m the element of largest magnitude).
 *   Q4_K/Q5_K: each sub-block of 32 gets a scale and a min from a weighted least-squares search
 *              over 21 (Q4_K) or 16 (Q5_K) candidate scales (weights |x| + rms of the sub-block);
 *              the 8 scales and 8 mins are then quantized to 6 bits against their maxima.
 *   Q2_K:      the same search for sub-blocks of 16 with 2-bit quants (weights |x|, absolute error),
 *              scales and mins to 4 bits.
 *   Q6_K:      sub-blocks of 16 get a signed scale from a search over 19 candidates weighted by
 *              x^2; the 16 scales are quantized to int8 against the largest.
 *   Q3_K:      signed 3-bit quants of sub-blocks of 16 improved by a few rounds of coordinate
 *              descent, scales to 6 bits signed.
 * In every K type the quants are then recomputed from the quantized scales.
 */
#include "engine/kquants.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define K_EPS 1e-15f /* a group whose largest magnitude is below this is all zeros */

static inline int imin(int a, int b)
{
	return a < b ? a : b;
}

static inline int imax(int a, int b)
{
	return a > b ? a : b;
}

/* Round to nearest, ties to even (the default rounding mode), as an int. */
static inline int round_int(float v)
{
	return (int)nearbyintf(v);
}

int eng_type_block(int type)
{
	switch (type) {
	case ENG_TYPE_F32:
	case ENG_TYPE_F16:
		return 1;
	case ENG_TYPE_Q4_0:
	case ENG_TYPE_Q4_1:
	case ENG_TYPE_Q5_0:
	case ENG_TYPE_Q5_1:
	case ENG_TYPE_Q8_0:
		return 32;
	case ENG_TYPE_Q2_K:
	case ENG_TYPE_Q3_K:
	case ENG_TYPE_Q4_K:
	case ENG_TYPE_Q5_K:
	case ENG_TYPE_Q6_K:
		return ENG_QK_K;
	default:
		return 0;
	}
}

int eng_type_is_k(int type)
{
	return type >= ENG_TYPE_Q2_K && type <= ENG_TYPE_Q6_K;
}

size_t eng_kq_row_bytes(int type, int64_t n)
{
	size_t bsz;
	int blk = eng_type_block(type);

	switch (type) {
	case ENG_TYPE_Q4_1: bsz = sizeof(struct eng_block_q4_1); break;
	case ENG_TYPE_Q5_0: bsz = sizeof(struct eng_block_q5_0); break;
	case ENG_TYPE_Q5_1: bsz = sizeof(struct eng_block_q5_1); break;
	case ENG_TYPE_Q2_K: bsz = sizeof(struct eng_block_q2_k); break;
	case ENG_TYPE_Q3_K: bsz = sizeof(struct eng_block_q3_k); break;
	case ENG_TYPE_Q4_K: bsz = sizeof(struct eng_block_q4_k); break;
	case ENG_TYPE_Q5_K: bsz = sizeof(struct eng_block_q5_k); break;
	case ENG_TYPE_Q6_K: bsz = sizeof(struct eng_block_q6_k); break;
	default: return 0;
	}
	if (n < 0 || n % blk)
		return 0;
	return (size_t)(n / blk) * bsz;
}

/* ---- packed scales ---- */

void eng_kq_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
		*m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
	}
}

void eng_kq_scales_mins8(const uint8_t *q, uint8_t sc[8], uint8_t m[8])
{
	uint32_t w0, w1, w2, s_lo, s_hi, m_lo, m_hi;

	/* bytes 0..3: scales 0..3 (+ top bits of scales 4..7); 4..7: mins 0..3 (+ top bits of mins
	 * 4..7); 8..11: low nibble scale 4..7, high nibble min 4..7 */
	memcpy(&w0, q, 4);
	memcpy(&w1, q + 4, 4);
	memcpy(&w2, q + 8, 4);
	s_lo = w0 & 0x3f3f3f3fu;
	m_lo = w1 & 0x3f3f3f3fu;
	s_hi = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
	m_hi = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
	memcpy(sc, &s_lo, 4);
	memcpy(sc + 4, &s_hi, 4);
	memcpy(m, &m_lo, 4);
	memcpy(m + 4, &m_hi, 4);
}

void eng_kq_q3_scales(const uint8_t *s, int8_t out[16])
{
	for (int j = 0; j < 16; j++) {
		int lo = j < 8 ? s[j] & 0x0f : s[j - 8] >> 4;
		int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;

		out[j] = (int8_t)((lo | (hi << 4)) - 32);
	}
}

/* Sets 6-bit scale j and min j of a Q4_K/Q5_K super-block (the inverse of eng_kq_scale_min);
 * the 12 bytes must start zeroed. */
static void put_scale_min(uint8_t *q, int j, uint8_t ls, uint8_t lm)
{
	if (j < 4) {
		q[j] = ls;
		q[j + 4] = lm;
	} else {
		q[j + 4] = (uint8_t)((ls & 0x0f) | ((lm & 0x0f) << 4));
		q[j - 4] |= (uint8_t)((ls >> 4) << 6);
		q[j] |= (uint8_t)((lm >> 4) << 6);
	}
}

/* ---- the scale searches ---- */

/*
 * Scale and min for n values as L[i] in 0..nmax with x ~ scale * L - min_out: start from the
 * full range, then try nstep + 1 stretched ranges (nmax + rmin + k rdelta) and keep the weighted
 * least-squares (scale, min) fit of the candidate with the lowest weighted error (squared, or
 * absolute with use_abs). The min is never positive (mins are subtracted). Returns the scale,
 * *min_out the (non-negative) min.
 */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *min_out,
			   uint8_t *Lc, float rmin, float rdelta, int nstep, int use_abs)
{
	float min = x[0], max = x[0], sum_w = w[0], sum_x = w[0] * x[0];
	float iscale, scale, best;

	for (int i = 1; i < n; i++) {
		min = x[i] < min ? x[i] : min;
		max = x[i] > max ? x[i] : max;
		sum_w += w[i];
		sum_x += w[i] * x[i];
	}
	if (min > 0)
		min = 0;
	if (max == min) {
		memset(L, 0, (size_t)n);
		*min_out = -min;
		return 0.0f;
	}
	iscale = (float)nmax / (max - min);
	scale = 1 / iscale;
	best = 0;
	for (int i = 0; i < n; i++) {
		int l = imax(0, imin(nmax, round_int(iscale * (x[i] - min))));
		float diff = scale * (float)l + min - x[i];

		L[i] = (uint8_t)l;
		best += w[i] * (use_abs ? fabsf(diff) : diff * diff);
	}
	for (int k = 0; k <= nstep; k++) {
		float sum_l = 0, sum_l2 = 0, sum_xl = 0, det;

		iscale = (rmin + rdelta * (float)k + (float)nmax) / (max - min);
		for (int i = 0; i < n; i++) {
			int l = imax(0, imin(nmax, round_int(iscale * (x[i] - min))));

			Lc[i] = (uint8_t)l;
			sum_l += w[i] * (float)l;
			sum_l2 += w[i] * (float)l * (float)l;
			sum_xl += w[i] * (float)l * x[i];
		}
		det = sum_w * sum_l2 - sum_l * sum_l;
		if (det > 0) {
			float s = (sum_w * sum_xl - sum_x * sum_l) / det;
			float m = (sum_l2 * sum_x - sum_l * sum_xl) / det;
			float err = 0;

			if (m > 0) {
				m = 0;
				s = sum_xl / sum_l2;
			}
			for (int i = 0; i < n; i++) {
				float diff = s * (float)Lc[i] + m - x[i];

				err += w[i] * (use_abs ? fabsf(diff) : diff * diff);
			}
			if (err < best) {
				memcpy(L, Lc, (size_t)n);
				best = err;
				scale = s;
				min = m;
			}
		}
	}
	*min_out = -min;
	return scale;
}

/*
 * Signed scale for n values as L[i] - nmax with L in 0..2 nmax - 1: the scale that maps the
 * element of largest magnitude to -nmax, then 18 nearby candidates, keeping the one with the
 * best x^2-weighted least-squares fit. Returns the scale (0 for an all-zero group).
 */
static float fit_scale_signed(int n, int nmax, const float *x, int8_t *L)
{
	float amax = 0, max = 0, iscale, sumlx = 0, suml2 = 0, scale, best;

	for (int i = 0; i < n; i++)
		if (fabsf(x[i]) > amax) {
			amax = fabsf(x[i]);
			max = x[i];
		}
	if (amax < K_EPS) {
		memset(L, 0, (size_t)n);
		return 0.0f;
	}
	iscale = -(float)nmax / max;
	for (int i = 0; i < n; i++) {
		int l = imax(-nmax, imin(nmax - 1, round_int(iscale * x[i])));
		float w = x[i] * x[i];

		L[i] = (int8_t)(l + nmax);
		sumlx += w * x[i] * (float)l;
		suml2 += w * (float)l * (float)l;
	}
	scale = suml2 ? sumlx / suml2 : 0.0f;
	best = scale * sumlx;
	for (int k = -9; k <= 9; k++) {
		if (k == 0)
			continue;
		iscale = -((float)nmax + 0.1f * (float)k) / max;
		sumlx = suml2 = 0;
		for (int i = 0; i < n; i++) {
			int l = imax(-nmax, imin(nmax - 1, round_int(iscale * x[i])));
			float w = x[i] * x[i];

			sumlx += w * x[i] * (float)l;
			suml2 += w * (float)l * (float)l;
		}
		if (suml2 > 0 && sumlx * sumlx > best * suml2) {
			for (int i = 0; i < n; i++)
				L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, round_int(iscale * x[i]))));
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

/* Q3_K's sub-block fit: signed quants in -nmax..nmax-1 from the largest element, then up to five
 * rounds that move single quants while that improves the x^2-weighted fit. Returns the scale; L
 * holds q + nmax. */
static float fit_scale_q3(int n, int nmax, const float *x, int8_t *L)
{
	float amax = 0, max = 0, iscale, sumlx = 0, suml2 = 0;

	for (int i = 0; i < n; i++)
		if (fabsf(x[i]) > amax) {
			amax = fabsf(x[i]);
			max = x[i];
		}
	if (amax < K_EPS) {
		memset(L, 0, (size_t)n);
		return 0.0f;
	}
	iscale = -(float)nmax / max;
	for (int i = 0; i < n; i++) {
		int l = imax(-nmax, imin(nmax - 1, round_int(iscale * x[i])));
		float w = x[i] * x[i];

		L[i] = (int8_t)l;
		sumlx += w * x[i] * (float)l;
		suml2 += w * (float)l * (float)l;
	}
	for (int round = 0; round < 5; round++) {
		int changed = 0;

		for (int i = 0; i < n; i++) {
			float w = x[i] * x[i];
			float slx = sumlx - w * x[i] * (float)L[i];

			if (slx > 0) {
				float sl2 = suml2 - w * (float)L[i] * (float)L[i];
				int l = imax(-nmax, imin(nmax - 1, round_int(x[i] * sl2 / slx)));

				if (l != L[i]) {
					slx += w * x[i] * (float)l;
					sl2 += w * (float)l * (float)l;
					if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
						L[i] = (int8_t)l;
						sumlx = slx;
						suml2 = sl2;
						changed++;
					}
				}
			}
		}
		if (!changed)
			break;
	}
	for (int i = 0; i < n; i++)
		L[i] = (int8_t)(L[i] + nmax);
	return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ---- legacy blocks of 32 ---- */

static void quantize_q4_1(const float *x, struct eng_block_q4_1 *y, int64_t n)
{
	for (int64_t b = 0; b < n / 32; b++, x += 32) {
		float min = FLT_MAX, max = -FLT_MAX, d, id;

		for (int j = 0; j < 32; j++) {
			min = x[j] < min ? x[j] : min;
			max = x[j] > max ? x[j] : max;
		}
		d = (max - min) / 15.0f;
		id = d != 0.0f ? 1.0f / d : 0.0f;
		y[b].d = eng_f32_to_f16(d);
		y[b].m = eng_f32_to_f16(min);
		for (int j = 0; j < 16; j++) {
			int q0 = imin(15, (int8_t)((x[j] - min) * id + 0.5f));
			int q1 = imin(15, (int8_t)((x[j + 16] - min) * id + 0.5f));

			y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
		}
	}
}

static void quantize_q5_1(const float *x, struct eng_block_q5_1 *y, int64_t n)
{
	for (int64_t b = 0; b < n / 32; b++, x += 32) {
		float min = FLT_MAX, max = -FLT_MAX, d, id;
		uint32_t qh = 0;

		for (int j = 0; j < 32; j++) {
			min = x[j] < min ? x[j] : min;
			max = x[j] > max ? x[j] : max;
		}
		d = (max - min) / 31.0f;
		id = d != 0.0f ? 1.0f / d : 0.0f;
		y[b].d = eng_f32_to_f16(d);
		y[b].m = eng_f32_to_f16(min);
		for (int j = 0; j < 16; j++) {
			int q0 = (uint8_t)((x[j] - min) * id + 0.5f);
			int q1 = (uint8_t)((x[j + 16] - min) * id + 0.5f);

			y[b].qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
			qh |= (uint32_t)((q0 >> 4) & 1) << j;
			qh |= (uint32_t)((q1 >> 4) & 1) << (j + 16);
		}
		memcpy(y[b].qh, &qh, 4);
	}
}

static void quantize_q5_0(const float *x, struct eng_block_q5_0 *y, int64_t n)
{
	for (int64_t b = 0; b < n / 32; b++, x += 32) {
		float amax = 0.0f, max = 0.0f, d, id;
		uint32_t qh = 0;

		for (int j = 0; j < 32; j++)
			if (amax < fabsf(x[j])) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		d = max / -16.0f;
		id = d != 0.0f ? 1.0f / d : 0.0f;
		y[b].d = eng_f32_to_f16(d);
		for (int j = 0; j < 16; j++) {
			int q0 = imin(31, (int8_t)(x[j] * id + 16.5f));
			int q1 = imin(31, (int8_t)(x[j + 16] * id + 16.5f));

			y[b].qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
			qh |= (uint32_t)((q0 >> 4) & 1) << j;
			qh |= (uint32_t)((q1 >> 4) & 1) << (j + 16);
		}
		memcpy(y[b].qh, &qh, 4);
	}
}

static void dequantize_q4_1(const struct eng_block_q4_1 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / 32; b++, y += 32) {
		float d = eng_f16_to_f32(x[b].d), m = eng_f16_to_f32(x[b].m);

		for (int j = 0; j < 16; j++) {
			y[j] = (float)(x[b].qs[j] & 0x0f) * d + m;
			y[j + 16] = (float)(x[b].qs[j] >> 4) * d + m;
		}
	}
}

/* The 5-bit value of element j (0..31) of a Q5_0/Q5_1 block. */
static inline int q5_value(const uint8_t *qs, uint32_t qh, int j)
{
	int lo = j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;

	return lo | (int)(((qh >> j) & 1) << 4);
}

static void dequantize_q5_0(const struct eng_block_q5_0 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / 32; b++, y += 32) {
		float d = eng_f16_to_f32(x[b].d);
		uint32_t qh;

		memcpy(&qh, x[b].qh, 4);
		for (int j = 0; j < 32; j++)
			y[j] = (float)(q5_value(x[b].qs, qh, j) - 16) * d;
	}
}

static void dequantize_q5_1(const struct eng_block_q5_1 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / 32; b++, y += 32) {
		float d = eng_f16_to_f32(x[b].d), m = eng_f16_to_f32(x[b].m);
		uint32_t qh;

		memcpy(&qh, x[b].qh, 4);
		for (int j = 0; j < 32; j++)
			y[j] = (float)q5_value(x[b].qs, qh, j) * d + m;
	}
}

/* ---- Q2_K ---- */

static void quantize_q2_k(const float *x, struct eng_block_q2_k *y, int64_t n)
{
	uint8_t L[ENG_QK_K], Lc[16];
	float w[16], scales[16], mins[16];

	for (int64_t b = 0; b < n / ENG_QK_K; b++, x += ENG_QK_K) {
		float max_scale = 0, max_min = 0;

		for (int j = 0; j < 16; j++) {
			for (int l = 0; l < 16; l++)
				w[l] = fabsf(x[16 * j + l]);
			scales[j] = fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Lc, -0.5f, 0.1f, 15, 1);
			max_scale = scales[j] > max_scale ? scales[j] : max_scale;
			max_min = mins[j] > max_min ? mins[j] : max_min;
		}
		if (max_scale > 0) {
			float is = 15.0f / max_scale;

			for (int j = 0; j < 16; j++)
				y[b].scales[j] = (uint8_t)round_int(is * scales[j]);
			y[b].d = eng_f32_to_f16(max_scale / 15.0f);
		} else {
			memset(y[b].scales, 0, 16);
			y[b].d = eng_f32_to_f16(0.0f);
		}
		if (max_min > 0) {
			float im = 15.0f / max_min;

			for (int j = 0; j < 16; j++)
				y[b].scales[j] |= (uint8_t)(round_int(im * mins[j]) << 4);
			y[b].dmin = eng_f32_to_f16(max_min / 15.0f);
		} else {
			y[b].dmin = eng_f32_to_f16(0.0f);
		}
		for (int j = 0; j < 16; j++) {
			float d = eng_f16_to_f32(y[b].d) * (float)(y[b].scales[j] & 0x0f), dm;

			if (!d)
				continue;
			dm = eng_f16_to_f32(y[b].dmin) * (float)(y[b].scales[j] >> 4);
			for (int l = 0; l < 16; l++)
				L[16 * j + l] = (uint8_t)imax(0, imin(3, round_int((x[16 * j + l] + dm) / d)));
		}
		for (int g = 0; g < 2; g++)
			for (int l = 0; l < 32; l++)
				y[b].qs[32 * g + l] = (uint8_t)(L[128 * g + l] | (L[128 * g + l + 32] << 2) |
								(L[128 * g + l + 64] << 4) | (L[128 * g + l + 96] << 6));
	}
}

static void dequantize_q2_k(const struct eng_block_q2_k *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / ENG_QK_K; b++, y += ENG_QK_K) {
		float d = eng_f16_to_f32(x[b].d), dmin = eng_f16_to_f32(x[b].dmin);

		for (int e = 0; e < ENG_QK_K; e++) {
			int h = e / 128, j = (e % 128) / 32, l = e % 32;
			uint8_t sc = x[b].scales[8 * h + 2 * j + l / 16];
			int q = (x[b].qs[32 * h + l] >> (2 * j)) & 3;

			y[e] = d * (float)(sc & 0x0f) * (float)q - dmin * (float)(sc >> 4);
		}
	}
}

/* ---- Q3_K ---- */

static void quantize_q3_k(const float *x, struct eng_block_q3_k *y, int64_t n)
{
	int8_t L[ENG_QK_K], sc[16];
	float scales[16];

	for (int64_t b = 0; b < n / ENG_QK_K; b++, x += ENG_QK_K) {
		float max_scale = 0, amax = 0;

		for (int j = 0; j < 16; j++) {
			scales[j] = fit_scale_q3(16, 4, x + 16 * j, L + 16 * j);
			if (fabsf(scales[j]) > amax) {
				amax = fabsf(scales[j]);
				max_scale = scales[j];
			}
		}
		memset(y[b].scales, 0, 12);
		if (max_scale) {
			float is = -32.0f / max_scale;

			for (int j = 0; j < 16; j++) {
				int l = imax(-32, imin(31, (int8_t)round_int(is * scales[j]))) + 32;

				if (j < 8)
					y[b].scales[j] = (uint8_t)(l & 0x0f);
				else
					y[b].scales[j - 8] |= (uint8_t)((l & 0x0f) << 4);
				y[b].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
			}
			y[b].d = eng_f32_to_f16(1 / is);
		} else {
			y[b].d = eng_f32_to_f16(0.0f);
		}
		eng_kq_q3_scales(y[b].scales, sc);
		for (int j = 0; j < 16; j++) {
			float d = eng_f16_to_f32(y[b].d) * (float)sc[j];

			if (!d)
				continue;
			for (int l = 0; l < 16; l++)
				L[16 * j + l] = (int8_t)(imax(-4, imin(3, round_int(x[16 * j + l] / d))) + 4);
		}
		memset(y[b].hmask, 0, sizeof y[b].hmask);
		for (int e = 0; e < ENG_QK_K; e++) {
			if (L[e] > 3) {
				y[b].hmask[e % 32] |= (uint8_t)(1u << (e / 32));
				L[e] = (int8_t)(L[e] - 4);
			}
		}
		for (int g = 0; g < 2; g++)
			for (int l = 0; l < 32; l++)
				y[b].qs[32 * g + l] = (uint8_t)(L[128 * g + l] | (L[128 * g + l + 32] << 2) |
								(L[128 * g + l + 64] << 4) | (L[128 * g + l + 96] << 6));
	}
}

static void dequantize_q3_k(const struct eng_block_q3_k *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / ENG_QK_K; b++, y += ENG_QK_K) {
		float d = eng_f16_to_f32(x[b].d);
		int8_t sc[16];

		eng_kq_q3_scales(x[b].scales, sc);
		for (int e = 0; e < ENG_QK_K; e++) {
			int h = e / 128, j = (e % 128) / 32, l = e % 32;
			int lo = (x[b].qs[32 * h + l] >> (2 * j)) & 3;
			int hi = (x[b].hmask[l] >> (e / 32)) & 1;

			y[e] = d * (float)sc[8 * h + 2 * j + l / 16] * (float)(lo - (hi ? 0 : 4));
		}
	}
}

/* ---- Q4_K / Q5_K ---- */

/* The shared first half of the Q4_K and Q5_K quantizers: sub-block scales and mins into the
 * header of the super-block, the quants (0..nmax) into L. */
static void quantize_k_header(const float *x, int nmax, float rmin, int nstep, eng_f16 *d_out, eng_f16 *dmin_out,
			      uint8_t *packed, uint8_t *L)
{
	uint8_t Lc[32], sc8, m8;
	float w[32], scales[8], mins[8], max_scale = 0, max_min = 0, inv_scale, inv_min;

	for (int j = 0; j < 8; j++) {
		float sum_x2 = 0, av_x;

		for (int l = 0; l < 32; l++)
			sum_x2 += x[32 * j + l] * x[32 * j + l];
		av_x = sqrtf(sum_x2 / 32);
		for (int l = 0; l < 32; l++)
			w[l] = av_x + fabsf(x[32 * j + l]);
		scales[j] = fit_scale_min(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], Lc, rmin, 0.1f, nstep, 0);
		max_scale = scales[j] > max_scale ? scales[j] : max_scale;
		max_min = mins[j] > max_min ? mins[j] : max_min;
	}
	inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
	inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
	memset(packed, 0, ENG_K_SCALE_SIZE);
	for (int j = 0; j < 8; j++) {
		uint8_t ls = (uint8_t)round_int(inv_scale * scales[j]);
		uint8_t lm = (uint8_t)round_int(inv_min * mins[j]);

		put_scale_min(packed, j, ls < 63 ? ls : 63, lm < 63 ? lm : 63);
	}
	*d_out = eng_f32_to_f16(max_scale / 63.0f);
	*dmin_out = eng_f32_to_f16(max_min / 63.0f);
	for (int j = 0; j < 8; j++) {
		float d, dm;

		eng_kq_scale_min(j, packed, &sc8, &m8);
		d = eng_f16_to_f32(*d_out) * (float)sc8;
		if (!d)
			continue;
		dm = eng_f16_to_f32(*dmin_out) * (float)m8;
		for (int l = 0; l < 32; l++)
			L[32 * j + l] = (uint8_t)imax(0, imin(nmax, round_int((x[32 * j + l] + dm) / d)));
	}
}

static void quantize_q4_k(const float *x, struct eng_block_q4_k *y, int64_t n)
{
	uint8_t L[ENG_QK_K];

	for (int64_t b = 0; b < n / ENG_QK_K; b++, x += ENG_QK_K) {
		quantize_k_header(x, 15, -1.0f, 20, &y[b].d, &y[b].dmin, y[b].scales, L);
		for (int g = 0; g < 4; g++)
			for (int l = 0; l < 32; l++)
				y[b].qs[32 * g + l] = (uint8_t)(L[64 * g + l] | (L[64 * g + 32 + l] << 4));
	}
}

static void quantize_q5_k(const float *x, struct eng_block_q5_k *y, int64_t n)
{
	uint8_t L[ENG_QK_K];

	for (int64_t b = 0; b < n / ENG_QK_K; b++, x += ENG_QK_K) {
		quantize_k_header(x, 31, -0.5f, 15, &y[b].d, &y[b].dmin, y[b].scales, L);
		memset(y[b].qh, 0, sizeof y[b].qh);
		for (int g = 0; g < 4; g++)
			for (int l = 0; l < 32; l++) {
				int lo = L[64 * g + l], hi = L[64 * g + 32 + l];

				y[b].qh[l] |= (uint8_t)(((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
				y[b].qs[32 * g + l] = (uint8_t)((lo & 0x0f) | ((hi & 0x0f) << 4));
			}
	}
}

static void dequantize_q4_k(const struct eng_block_q4_k *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / ENG_QK_K; b++, y += ENG_QK_K) {
		float d = eng_f16_to_f32(x[b].d), dmin = eng_f16_to_f32(x[b].dmin);
		uint8_t sc[8], m[8];

		eng_kq_scales_mins8(x[b].scales, sc, m);
		for (int e = 0; e < ENG_QK_K; e++) {
			int s = e / 32, g = e / 64, l = e % 32;
			int q = s & 1 ? x[b].qs[32 * g + l] >> 4 : x[b].qs[32 * g + l] & 0x0f;

			y[e] = d * (float)sc[s] * (float)q - dmin * (float)m[s];
		}
	}
}

static void dequantize_q5_k(const struct eng_block_q5_k *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / ENG_QK_K; b++, y += ENG_QK_K) {
		float d = eng_f16_to_f32(x[b].d), dmin = eng_f16_to_f32(x[b].dmin);
		uint8_t sc[8], m[8];

		eng_kq_scales_mins8(x[b].scales, sc, m);
		for (int e = 0; e < ENG_QK_K; e++) {
			int s = e / 32, g = e / 64, l = e % 32;
			int q = s & 1 ? x[b].qs[32 * g + l] >> 4 : x[b].qs[32 * g + l] & 0x0f;

			q |= ((x[b].qh[l] >> s) & 1) << 4;
			y[e] = d * (float)sc[s] * (float)q - dmin * (float)m[s];
		}
	}
}

/* ---- Q6_K ---- */

/* The 6-bit quant (0..63) of element e of a Q6_K super-block. */
static inline int q6_value(const struct eng_block_q6_k *x, int e)
{
	int h = e / 128, k = (e % 128) / 32, l = e % 32;
	int byte = x->ql[64 * h + 32 * (k & 1) + l];
	int lo = k < 2 ? byte & 0x0f : byte >> 4;

	return lo | (((x->qh[32 * h + l] >> (2 * k)) & 3) << 4);
}

static void quantize_q6_k(const float *x, struct eng_block_q6_k *y, int64_t n)
{
	int8_t L[ENG_QK_K];
	float scales[16];

	for (int64_t b = 0; b < n / ENG_QK_K; b++, x += ENG_QK_K) {
		float max_scale = 0, max_abs = 0, is;

		for (int j = 0; j < 16; j++) {
			scales[j] = fit_scale_signed(16, 32, x + 16 * j, L + 16 * j);
			if (fabsf(scales[j]) > max_abs) {
				max_abs = fabsf(scales[j]);
				max_scale = scales[j];
			}
		}
		if (max_abs < K_EPS) {
			memset(&y[b], 0, sizeof y[b]);
			continue;
		}
		is = -128.0f / max_scale;
		y[b].d = eng_f32_to_f16(1 / is);
		for (int j = 0; j < 16; j++)
			y[b].scales[j] = (int8_t)imin(127, round_int(is * scales[j]));
		for (int j = 0; j < 16; j++) {
			float d = eng_f16_to_f32(y[b].d) * (float)y[b].scales[j];

			if (!d)
				continue;
			for (int l = 0; l < 16; l++)
				L[16 * j + l] = (int8_t)(imax(-32, imin(31, round_int(x[16 * j + l] / d))) + 32);
		}
		for (int h = 0; h < 2; h++)
			for (int l = 0; l < 32; l++) {
				const int8_t *q = L + 128 * h + l;

				y[b].ql[64 * h + l] = (uint8_t)((q[0] & 0x0f) | ((q[64] & 0x0f) << 4));
				y[b].ql[64 * h + 32 + l] = (uint8_t)((q[32] & 0x0f) | ((q[96] & 0x0f) << 4));
				y[b].qh[32 * h + l] = (uint8_t)((q[0] >> 4) | ((q[32] >> 4) << 2) | ((q[64] >> 4) << 4) |
								((q[96] >> 4) << 6));
			}
	}
}

static void dequantize_q6_k(const struct eng_block_q6_k *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / ENG_QK_K; b++, y += ENG_QK_K) {
		float d = eng_f16_to_f32(x[b].d);

		for (int e = 0; e < ENG_QK_K; e++)
			y[e] = d * (float)x[b].scales[e / 16] * (float)(q6_value(&x[b], e) - 32);
	}
}

/* ---- Q8_K activations ---- */

void eng_quantize_row_q8_k(const float *x, struct eng_block_q8_k *y, int64_t n)
{
	for (int64_t b = 0; b < n / ENG_QK_K; b++, x += ENG_QK_K) {
		float amax = 0, max = 0, is;

		for (int j = 0; j < ENG_QK_K; j++)
			if (fabsf(x[j]) > amax) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		if (!amax) {
			memset(&y[b], 0, sizeof y[b]);
			continue;
		}
		is = -127.0f / max;
		for (int j = 0; j < ENG_QK_K; j++) {
			float v = is * x[j];

			/* a NaN (a NaN input, or an infinite one times is = 0) quantizes to 0 */
			y[b].qs[j] = v == v ? (int8_t)imin(127, round_int(v)) : 0;
		}
		for (int g = 0; g < 16; g++) {
			int s = 0;

			for (int l = 0; l < 16; l++)
				s += y[b].qs[16 * g + l];
			y[b].bsums[g] = (int16_t)s;
		}
		y[b].d = 1 / is;
	}
}

/* ---- dispatch ---- */

void eng_kq_quantize_row(int type, const float *x, void *dst, int64_t n)
{
	switch (type) {
	case ENG_TYPE_Q4_1: quantize_q4_1(x, dst, n); break;
	case ENG_TYPE_Q5_0: quantize_q5_0(x, dst, n); break;
	case ENG_TYPE_Q5_1: quantize_q5_1(x, dst, n); break;
	case ENG_TYPE_Q2_K: quantize_q2_k(x, dst, n); break;
	case ENG_TYPE_Q3_K: quantize_q3_k(x, dst, n); break;
	case ENG_TYPE_Q4_K: quantize_q4_k(x, dst, n); break;
	case ENG_TYPE_Q5_K: quantize_q5_k(x, dst, n); break;
	case ENG_TYPE_Q6_K: quantize_q6_k(x, dst, n); break;
	default: assert(!"eng_kq_quantize_row: unsupported type");
	}
}

void eng_kq_dequantize_row(int type, const void *src, float *y, int64_t n)
{
	switch (type) {
	case ENG_TYPE_Q4_1: dequantize_q4_1(src, y, n); break;
	case ENG_TYPE_Q5_0: dequantize_q5_0(src, y, n); break;
	case ENG_TYPE_Q5_1: dequantize_q5_1(src, y, n); break;
	case ENG_TYPE_Q2_K: dequantize_q2_k(src, y, n); break;
	case ENG_TYPE_Q3_K: dequantize_q3_k(src, y, n); break;
	case ENG_TYPE_Q4_K: dequantize_q4_k(src, y, n); break;
	case ENG_TYPE_Q5_K: dequantize_q5_k(src, y, n); break;
	case ENG_TYPE_Q6_K: dequantize_q6_k(src, y, n); break;
	default: assert(!"eng_kq_dequantize_row: unsupported type");
	}
}

/* ---- the T layout of Q4_K and Q5_K (kquants.h) ---- */

/*
 * 256 bytes seen as 8 x 8 groups of 4, transposed: group 8m + s of out is group 8s + m of in. In
 * the ggml order of a super-block, group 8s + m holds elements 4m..4m+3 of sub-block s; in the T
 * order it is group 8m + s (vector m, bytes 4s..4s+3). The transpose is its own inverse.
 */
static void transpose_groups4(const uint8_t *in, uint8_t *out)
{
	for (int m = 0; m < 8; m++)
		for (int s = 0; s < 8; s++)
			memcpy(out + 32 * m + 4 * s, in + 32 * s + 4 * m, 4);
}

/*
 * Moves the 256 quants of one block from the ggml layout to the T layout, or back (the same move): the
 * nibbles of qs (144-byte Q4_K and 176-byte Q5_K blocks alike) and, when qh_in is set, the fifth
 * bits of Q5_K. Both layouts store 32-byte vector v (0..7) as nibble v % 2 of qs[32 (v / 2) + j]
 * and its fifth bits as bit v of qh[j]; they differ only in which elements a vector holds (ggml:
 * sub-block v, T: transpose_groups4). So the quants are unpacked to one byte each, transposed and
 * packed again. The caller copies the rest of the block.
 */
static void kq_reorder(const uint8_t *qs_in, const uint8_t *qh_in, uint8_t *qs_out, uint8_t *qh_out)
{
	uint8_t v[ENG_QK_K], t[ENG_QK_K];

	for (int c = 0; c < 4; c++)
		for (int j = 0; j < 32; j++) {
			v[64 * c + j] = qs_in[32 * c + j] & 0x0f;
			v[64 * c + 32 + j] = qs_in[32 * c + j] >> 4;
		}
	if (qh_in)
		for (int k = 0; k < 8; k++)
			for (int j = 0; j < 32; j++)
				v[32 * k + j] |= (uint8_t)(((qh_in[j] >> k) & 1) << 4);
	transpose_groups4(v, t);
	for (int c = 0; c < 4; c++)
		for (int j = 0; j < 32; j++)
			qs_out[32 * c + j] = (uint8_t)((t[64 * c + j] & 0x0f) | (t[64 * c + 32 + j] & 0x0f) << 4);
	if (qh_in)
		for (int j = 0; j < 32; j++) {
			uint8_t h = 0;

			for (int k = 0; k < 8; k++)
				h |= (uint8_t)(((t[32 * k + j] >> 4) & 1) << k);
			qh_out[j] = h;
		}
}

static void q4k_reorder(const struct eng_block_q4_k *in, struct eng_block_q4_k *out, int64_t n)
{
	for (int64_t b = 0; b < n; b++) {
		out[b].d = in[b].d;
		out[b].dmin = in[b].dmin;
		memcpy(out[b].scales, in[b].scales, sizeof out[b].scales);
		kq_reorder(in[b].qs, NULL, out[b].qs, NULL);
	}
}

static void q5k_reorder(const struct eng_block_q5_k *in, struct eng_block_q5_k *out, int64_t n)
{
	for (int64_t b = 0; b < n; b++) {
		out[b].d = in[b].d;
		out[b].dmin = in[b].dmin;
		memcpy(out[b].scales, in[b].scales, sizeof out[b].scales);
		kq_reorder(in[b].qs, in[b].qh, out[b].qs, out[b].qh);
	}
}

void eng_q4k_to_t(const struct eng_block_q4_k *in, struct eng_block_q4_k *out, int64_t n)
{
	q4k_reorder(in, out, n);
}

void eng_q4k_from_t(const struct eng_block_q4_k *in, struct eng_block_q4_k *out, int64_t n)
{
	q4k_reorder(in, out, n);
}

void eng_q5k_to_t(const struct eng_block_q5_k *in, struct eng_block_q5_k *out, int64_t n)
{
	q5k_reorder(in, out, n);
}

void eng_q5k_from_t(const struct eng_block_q5_k *in, struct eng_block_q5_k *out, int64_t n)
{
	q5k_reorder(in, out, n);
}

void eng_q8k_to_t(const struct eng_block_q8_k *in, struct eng_block_q8_kt *out, int64_t n)
{
	for (int64_t b = 0; b < n; b++) {
		const struct eng_block_q8_k *x = &in[b];
		struct eng_block_q8_kt *y = &out[b];

		transpose_groups4((const uint8_t *)x->qs, (uint8_t *)y->qs);
		for (int s = 0; s < 8; s++)
			y->bsums32[s] = (int16_t)(x->bsums[2 * s] + x->bsums[2 * s + 1]);
		y->d = x->d;
		memset(y->pad, 0, sizeof y->pad);
	}
}
