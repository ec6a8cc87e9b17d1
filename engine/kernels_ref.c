/*
 * engine/kernels_ref.c — the plain-C reference kernels: the twins every SIMD kernel is tested
 * against, and what runs when the CPU has no supported SIMD or JOULEBENCH_SIMD=ref.
 *
 * Written for clarity: one element at a time, in the order the maths is written.
 */
#include "engine/kernels_impl.h"

#include <math.h>

/* ---- activations to Q8_0 ---- */

void eng_quantize_act_ref(const float *x, int64_t n, int8_t *qs, float *d, float *c)
{
	for (int64_t b = 0; b < n / ENG_QK8_0; b++) {
		const float *xb = x + b * ENG_QK8_0;
		int8_t *qb = qs + b * ENG_QK8_0;
		float amax = 0.0f, db, id;
		int sum = 0;

		for (int j = 0; j < ENG_QK8_0; j++)
			amax = fmaxf(amax, fabsf(xb[j]));
		db = amax / 127.0f;
		id = db != 0.0f ? 1.0f / db : 0.0f;
		for (int j = 0; j < ENG_QK8_0; j++) {
			/* round half to even, as the SIMD rounding instructions do */
			qb[j] = (int8_t)nearbyintf(xb[j] * id);
			sum += qb[j];
		}
		d[b] = eng_f16_to_f32(eng_f32_to_f16(db));
		c[b] = 8.0f * d[b] * (float)sum;
	}
}

/* ---- matmul row kernels, one per weight type ---- */

static void mm_f32_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
		       int64_t r1)
{
	for (int t = 0; t < a->n_tok; t++) {
		const float *x = a->x + (int64_t)t * a->cols;

		for (int64_t r = r0; r < r1; r++) {
			const float *wr = (const float *)((const char *)w->data + r * w->row_bytes);
			float s = 0.0f;

			for (int64_t i = 0; i < a->cols; i++)
				s += wr[i] * x[i];
			y[(int64_t)t * w->rows + r] = s;
		}
	}
}

static void mm_f16_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
		       int64_t r1)
{
	for (int t = 0; t < a->n_tok; t++) {
		const float *x = a->x + (int64_t)t * a->cols;

		for (int64_t r = r0; r < r1; r++) {
			const eng_f16 *wr = (const eng_f16 *)((const char *)w->data + r * w->row_bytes);
			float s = 0.0f;

			for (int64_t i = 0; i < a->cols; i++)
				s += eng_f16_to_f32(wr[i]) * x[i];
			y[(int64_t)t * w->rows + r] = s;
		}
	}
}

static void mm_q8_0_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
			int64_t r1)
{
	for (int t = 0; t < a->n_tok; t++) {
		const int8_t *qx = a->qs + (int64_t)t * a->cols;
		const float *dx = a->d + (int64_t)t * a->nb;

		for (int64_t r = r0; r < r1; r++) {
			const struct eng_block_q8_0 *wb =
				(const struct eng_block_q8_0 *)((const char *)w->data + r * w->row_bytes);
			float s = 0.0f;

			for (int64_t b = 0; b < a->nb; b++) {
				int sumi = 0;

				for (int j = 0; j < ENG_QK8_0; j++)
					sumi += wb[b].qs[j] * qx[b * ENG_QK8_0 + j];
				s += eng_f16_to_f32(wb[b].d) * dx[b] * (float)sumi;
			}
			y[(int64_t)t * w->rows + r] = s;
		}
	}
}

static void mm_q4_0_ref(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
			int64_t r1)
{
	for (int t = 0; t < a->n_tok; t++) {
		const int8_t *qx = a->qs + (int64_t)t * a->cols;
		const float *dx = a->d + (int64_t)t * a->nb;

		for (int64_t r = r0; r < r1; r++) {
			const struct eng_block_q4_0 *wb =
				(const struct eng_block_q4_0 *)((const char *)w->data + r * w->row_bytes);
			float s = 0.0f;

			for (int64_t b = 0; b < a->nb; b++) {
				const int8_t *xb = qx + b * ENG_QK4_0;
				int sumi = 0;

				for (int j = 0; j < ENG_QK4_0 / 2; j++) {
					sumi += ((wb[b].qs[j] & 0x0f) - 8) * xb[j];
					sumi += ((wb[b].qs[j] >> 4) - 8) * xb[j + ENG_QK4_0 / 2];
				}
				s += eng_f16_to_f32(wb[b].d) * dx[b] * (float)sumi;
			}
			y[(int64_t)t * w->rows + r] = s;
		}
	}
}

void eng_matmul_ref(const struct eng_mat *w, const float *x, int n_tok, float *y)
{
	eng_matmul_with(&eng_kset_ref, NULL, w, x, n_tok, y);
}

/* ---- vector kernels ---- */

void eng_rmsnorm_ref(float *o, const float *x, const float *weight, int n, float eps)
{
	float ss = 0.0f, scale;

	for (int i = 0; i < n; i++)
		ss += x[i] * x[i];
	scale = 1.0f / sqrtf(ss / (float)n + eps);
	for (int i = 0; i < n; i++)
		o[i] = x[i] * scale * weight[i];
}

void eng_softmax_ref(float *x, int n)
{
	float max, sum = 0.0f;

	if (n <= 0)
		return;
	max = x[0];
	for (int i = 1; i < n; i++)
		max = fmaxf(max, x[i]);
	for (int i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	for (int i = 0; i < n; i++)
		x[i] /= sum;
}

void eng_rope_ref(float *v, int n_heads, int head_dim, int rope_dim, int pos, float theta)
{
	for (int h = 0; h < n_heads; h++) {
		float *hv = v + (int64_t)h * head_dim;

		for (int i = 0; i < rope_dim; i += 2) {
			float freq = powf(theta, -(float)i / (float)rope_dim);
			float ang = (float)pos * freq;
			float c = cosf(ang), s = sinf(ang);
			float v0 = hv[i], v1 = hv[i + 1];

			hv[i] = v0 * c - v1 * s;
			hv[i + 1] = v0 * s + v1 * c;
		}
	}
}

void eng_swiglu_ref(float *a, const float *b, int n)
{
	for (int i = 0; i < n; i++)
		a[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

float eng_dot_f32_ref(const float *a, const float *b, int n)
{
	float s = 0.0f;

	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

void eng_axpy_f32_ref(float *y, float a, const float *x, int n)
{
	for (int i = 0; i < n; i++)
		y[i] += a * x[i];
}

const struct eng_kernel_set eng_kset_ref = {
	.name = "ref",
	.mm = {
		[ENG_TYPE_F32] = mm_f32_ref,
		[ENG_TYPE_F16] = mm_f16_ref,
		[ENG_TYPE_Q4_0] = mm_q4_0_ref,
		[ENG_TYPE_Q8_0] = mm_q8_0_ref,
		[ENG_TYPE_Q4_1] = eng_mm_q4_1_ref,
		[ENG_TYPE_Q5_0] = eng_mm_q5_0_ref,
		[ENG_TYPE_Q5_1] = eng_mm_q5_1_ref,
		[ENG_TYPE_Q2_K] = eng_mm_q2_k_ref,
		[ENG_TYPE_Q3_K] = eng_mm_q3_k_ref,
		[ENG_TYPE_Q4_K] = eng_mm_q4_k_ref,
		[ENG_TYPE_Q5_K] = eng_mm_q5_k_ref,
		[ENG_TYPE_Q6_K] = eng_mm_q6_k_ref,
	},
	.quantize_act = eng_quantize_act_ref,
	.quantize_act_k = eng_quantize_row_q8_k,
	.rmsnorm = eng_rmsnorm_ref,
	.softmax = eng_softmax_ref,
	.rope = eng_rope_ref,
	.swiglu = eng_swiglu_ref,
	.dot_f32 = eng_dot_f32_ref,
	.axpy_f32 = eng_axpy_f32_ref,
};
