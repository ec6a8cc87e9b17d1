/*
 * engine/kernels_kquant_ref.c — plain-C row kernels of the legacy (Q4_1, Q5_0, Q5_1) and K-quant
 * (Q2_K..Q6_K) weight types: the twins the SIMD kernels are tested against, and what every set
 * runs for a type it has no fast kernel for.
 *
 * Legacy types meet Q8_0 activations (eng_act qs/d/c), K-quants meet Q8_K activations (eng_act
 * q8k). Within a super-block (or block) everything is integer: the products of quants, times the
 * small integer sub-block scales, summed; a super-block then contributes
 *   d_x * (d_w * sumi - dmin_w * summ)
 * where summ = sum over sub-blocks of min * (sum of the activation quants there), read from the
 * Q8_K block's bsums. The fast kernels compute the same integers.
 */
#include "engine/kernels_impl.h"

#include <string.h>

/* ---- legacy types x Q8_0 ---- */

static float dot_q4_1(const void *row, const int8_t *qx, const float *dx, const float *cx, int64_t nb)
{
	const struct eng_block_q4_1 *wb = row;
	float s = 0.0f;

	for (int64_t b = 0; b < nb; b++) {
		const int8_t *xb = qx + b * 32;
		int sumi = 0;

		for (int j = 0; j < 16; j++)
			sumi += (wb[b].qs[j] & 0x0f) * xb[j] + (wb[b].qs[j] >> 4) * xb[j + 16];
		s += eng_f16_to_f32(wb[b].d) * dx[b] * (float)sumi + eng_f16_to_f32(wb[b].m) * (cx[b] * 0.125f);
	}
	return s;
}

static int q5_at(const uint8_t *qs, uint32_t qh, int j)
{
	int lo = j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;

	return lo | (int)(((qh >> j) & 1) << 4);
}

static float dot_q5_0(const void *row, const int8_t *qx, const float *dx, const float *cx, int64_t nb)
{
	const struct eng_block_q5_0 *wb = row;
	float s = 0.0f;

	(void)cx;
	for (int64_t b = 0; b < nb; b++) {
		const int8_t *xb = qx + b * 32;
		uint32_t qh;
		int sumi = 0;

		memcpy(&qh, wb[b].qh, 4);
		for (int j = 0; j < 32; j++)
			sumi += (q5_at(wb[b].qs, qh, j) - 16) * xb[j];
		s += eng_f16_to_f32(wb[b].d) * dx[b] * (float)sumi;
	}
	return s;
}

static float dot_q5_1(const void *row, const int8_t *qx, const float *dx, const float *cx, int64_t nb)
{
	const struct eng_block_q5_1 *wb = row;
	float s = 0.0f;

	for (int64_t b = 0; b < nb; b++) {
		const int8_t *xb = qx + b * 32;
		uint32_t qh;
		int sumi = 0;

		memcpy(&qh, wb[b].qh, 4);
		for (int j = 0; j < 32; j++)
			sumi += q5_at(wb[b].qs, qh, j) * xb[j];
		s += eng_f16_to_f32(wb[b].d) * dx[b] * (float)sumi + eng_f16_to_f32(wb[b].m) * (cx[b] * 0.125f);
	}
	return s;
}

typedef float (*dot_q8_0_fn)(const void *row, const int8_t *qx, const float *dx, const float *cx, int64_t nb);

static void mm_legacy(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1,
		      dot_q8_0_fn dot)
{
	for (int t = 0; t < a->n_tok; t++)
		for (int64_t r = r0; r < r1; r++)
			y[(int64_t)t * w->rows + r] = dot((const char *)w->data + r * (int64_t)w->row_bytes,
							  a->qs + (int64_t)t * a->cols, a->d + (int64_t)t * a->nb,
							  a->c + (int64_t)t * a->nb, a->nb);
}

void eng_mm_q4_1_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_legacy(w, a, y, r0, r1, dot_q4_1);
}

void eng_mm_q5_0_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_legacy(w, a, y, r0, r1, dot_q5_0);
}

void eng_mm_q5_1_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_legacy(w, a, y, r0, r1, dot_q5_1);
}

/* ---- K-quants x Q8_K ---- */

static float dot_q2_k(const void *row, const struct eng_block_q8_k *x, int64_t nb)
{
	const struct eng_block_q2_k *wb = row;
	float s = 0.0f;

	for (int64_t b = 0; b < nb; b++) {
		int sumi = 0, summ = 0;

		for (int g = 0; g < 16; g++)
			summ += (wb[b].scales[g] >> 4) * x[b].bsums[g];
		for (int e = 0; e < ENG_QK_K; e++) {
			int h = e / 128, j = (e % 128) / 32, l = e % 32;
			int q = (wb[b].qs[32 * h + l] >> (2 * j)) & 3;

			sumi += (wb[b].scales[e / 16] & 0x0f) * q * x[b].qs[e];
		}
		s += x[b].d * (eng_f16_to_f32(wb[b].d) * (float)sumi - eng_f16_to_f32(wb[b].dmin) * (float)summ);
	}
	return s;
}

static float dot_q3_k(const void *row, const struct eng_block_q8_k *x, int64_t nb)
{
	const struct eng_block_q3_k *wb = row;
	float s = 0.0f;

	for (int64_t b = 0; b < nb; b++) {
		int8_t sc[16];
		int sumi = 0;

		eng_kq_q3_scales(wb[b].scales, sc);
		for (int g = 0; g < 16; g++) {
			int sub = 0;

			for (int i = 0; i < 16; i++) {
				int e = 16 * g + i, h = e / 128, j = (e % 128) / 32, l = e % 32;
				int lo = (wb[b].qs[32 * h + l] >> (2 * j)) & 3;
				int hi = (wb[b].hmask[l] >> (e / 32)) & 1;

				sub += (lo - (hi ? 0 : 4)) * x[b].qs[e];
			}
			sumi += sc[g] * sub;
		}
		s += x[b].d * eng_f16_to_f32(wb[b].d) * (float)sumi;
	}
	return s;
}

static float dot_q4_k(const void *row, const struct eng_block_q8_k *x, int64_t nb)
{
	const struct eng_block_q4_k *wb = row;
	float s = 0.0f;

	for (int64_t b = 0; b < nb; b++) {
		uint8_t sc[8], m[8];
		int sumi = 0, summ = 0;

		eng_kq_scales_mins8(wb[b].scales, sc, m);
		for (int sb = 0; sb < 8; sb++) {
			const uint8_t *q = wb[b].qs + 32 * (sb / 2);
			int sub = 0;

			for (int l = 0; l < 32; l++)
				sub += (sb & 1 ? q[l] >> 4 : q[l] & 0x0f) * x[b].qs[32 * sb + l];
			sumi += sc[sb] * sub;
			summ += m[sb] * (x[b].bsums[2 * sb] + x[b].bsums[2 * sb + 1]);
		}
		s += x[b].d * (eng_f16_to_f32(wb[b].d) * (float)sumi - eng_f16_to_f32(wb[b].dmin) * (float)summ);
	}
	return s;
}

static float dot_q5_k(const void *row, const struct eng_block_q8_k *x, int64_t nb)
{
	const struct eng_block_q5_k *wb = row;
	float s = 0.0f;

	for (int64_t b = 0; b < nb; b++) {
		uint8_t sc[8], m[8];
		int sumi = 0, summ = 0;

		eng_kq_scales_mins8(wb[b].scales, sc, m);
		for (int sb = 0; sb < 8; sb++) {
			const uint8_t *q = wb[b].qs + 32 * (sb / 2);
			int sub = 0;

			for (int l = 0; l < 32; l++) {
				int v = (sb & 1 ? q[l] >> 4 : q[l] & 0x0f) | (((wb[b].qh[l] >> sb) & 1) << 4);

				sub += v * x[b].qs[32 * sb + l];
			}
			sumi += sc[sb] * sub;
			summ += m[sb] * (x[b].bsums[2 * sb] + x[b].bsums[2 * sb + 1]);
		}
		s += x[b].d * (eng_f16_to_f32(wb[b].d) * (float)sumi - eng_f16_to_f32(wb[b].dmin) * (float)summ);
	}
	return s;
}

static float dot_q6_k(const void *row, const struct eng_block_q8_k *x, int64_t nb)
{
	const struct eng_block_q6_k *wb = row;
	float s = 0.0f;

	for (int64_t b = 0; b < nb; b++) {
		int sumi = 0;

		for (int g = 0; g < 16; g++) {
			int sub = 0;

			for (int i = 0; i < 16; i++) {
				int e = 16 * g + i, h = e / 128, k = (e % 128) / 32, l = e % 32;
				int byte = wb[b].ql[64 * h + 32 * (k & 1) + l];
				int q = (k < 2 ? byte & 0x0f : byte >> 4) | (((wb[b].qh[32 * h + l] >> (2 * k)) & 3) << 4);

				sub += (q - 32) * x[b].qs[e];
			}
			sumi += wb[b].scales[g] * sub;
		}
		s += x[b].d * eng_f16_to_f32(wb[b].d) * (float)sumi;
	}
	return s;
}

typedef float (*dot_q8_k_fn)(const void *row, const struct eng_block_q8_k *x, int64_t nb);

static void mm_k(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1, dot_q8_k_fn dot)
{
	int64_t nbk = a->cols / ENG_QK_K;

	for (int t = 0; t < a->n_tok; t++)
		for (int64_t r = r0; r < r1; r++)
			y[(int64_t)t * w->rows + r] =
				dot((const char *)w->data + r * (int64_t)w->row_bytes, a->q8k + (int64_t)t * nbk, nbk);
}

void eng_mm_q2_k_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k(w, a, y, r0, r1, dot_q2_k);
}

void eng_mm_q3_k_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k(w, a, y, r0, r1, dot_q3_k);
}

/* A row in the T layout (kquants.h): each super-block back in ggml order, then as above. */
static float dot_q4_k_t(const void *row, const struct eng_block_q8_k *x, int64_t nb)
{
	const struct eng_block_q4_k *wb = row;
	float s = 0.0f;

	for (int64_t b = 0; b < nb; b++) {
		struct eng_block_q4_k g;

		eng_q4k_from_t(&wb[b], &g, 1);
		s += dot_q4_k(&g, &x[b], 1);
	}
	return s;
}

void eng_mm_q4_k_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k(w, a, y, r0, r1, w->layout == ENG_LAYOUT_KQ_T ? dot_q4_k_t : dot_q4_k);
}

static float dot_q5_k_t(const void *row, const struct eng_block_q8_k *x, int64_t nb)
{
	const struct eng_block_q5_k *wb = row;
	float s = 0.0f;

	for (int64_t b = 0; b < nb; b++) {
		struct eng_block_q5_k g;

		eng_q5k_from_t(&wb[b], &g, 1);
		s += dot_q5_k(&g, &x[b], 1);
	}
	return s;
}

void eng_mm_q5_k_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k(w, a, y, r0, r1, w->layout == ENG_LAYOUT_KQ_T ? dot_q5_k_t : dot_q5_k);
}

void eng_mm_q6_k_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k(w, a, y, r0, r1, dot_q6_k);
}
