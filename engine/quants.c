/*
 * engine/quants.c — IEEE half conversion and the F32/F16/Q8_0/Q4_0 row formats, with ggml's
 * exact block layouts and rounding (so a row quantized here is byte-identical to what ggml's
 * reference quantizer writes for the same floats).
 *
 *   Q8_0: blocks of 32; d = amax / 127 (stored as f16), q[j] = roundf(x[j] / d).
 *   Q4_0: blocks of 32; m = the element of largest magnitude (sign kept), d = m / -8 (f16),
 *         q[j] = min(15, (int8_t)(x[j] / d + 8.5)); byte j holds element j in its low nibble and
 *         element j + 16 in its high nibble; the value is (q - 8) * d.
 *
 * Half conversion rounds to nearest, ties to even, keeps infinities, turns NaN into a quiet NaN
 * with the top mantissa bits kept — the same results as the F16C instructions, which are used for
 * whole rows when the CPU has them.
 */
#include "engine/kernels_impl.h"
#include "engine/kquants.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define JB_X86 1
#endif

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

static eng_f16 f32_to_f16_soft(float f)
{
	uint32_t x = f32_bits(f);
	uint32_t sign = (x >> 16) & 0x8000u;
	uint32_t h, rem;

	x &= 0x7fffffffu;
	if (x >= 0x7f800000u) /* inf or NaN */
		return (eng_f16)(x > 0x7f800000u ? sign | 0x7e00u | ((x >> 13) & 0x3ffu)
						  : sign | 0x7c00u);
	if (x >= 0x477ff000u) /* >= 65520 rounds to infinity */
		return (eng_f16)(sign | 0x7c00u);
	if (x < 0x38800000u) { /* below 2^-14: a half subnormal (or zero) */
		uint32_t e = x >> 23, mant, shift, halfway;

		if (e < 102) /* below 2^-25: rounds to zero (2^-25 itself ties to the even 0) */
			return (eng_f16)sign;
		mant = (x & 0x7fffffu) | 0x800000u;
		shift = 126 - e; /* 14..24 */
		h = mant >> shift;
		rem = mant & ((1u << shift) - 1);
		halfway = 1u << (shift - 1);
		if (rem > halfway || (rem == halfway && (h & 1)))
			h++;
		return (eng_f16)(sign | h);
	}
	h = (x >> 13) - ((127u - 15u) << 10);
	rem = x & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) /* a carry may reach the exponent: fine */
		h++;
	return (eng_f16)(sign | h);
}

static float f16_to_f32_soft(eng_f16 h)
{
	uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
	uint32_t e = ((uint32_t)h >> 10) & 0x1fu;
	uint32_t mant = (uint32_t)h & 0x3ffu;

	if (e == 0) {
		float v = (float)mant * 0x1p-24f; /* exact: zero or subnormal */

		return bits_f32(f32_bits(v) | sign);
	}
	if (e == 31)
		return bits_f32(sign | 0x7f800000u | (mant << 13));
	return bits_f32(sign | ((e + 112u) << 23) | (mant << 13));
}

float eng_f16_to_f32(eng_f16 h)
{
#if defined(__F16C__)
	return _cvtsh_ss(h);
#else
	return f16_to_f32_soft(h);
#endif
}

eng_f16 eng_f32_to_f16(float f)
{
#if defined(__F16C__)
	return (eng_f16)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
#else
	return f32_to_f16_soft(f);
#endif
}

/* ---- whole rows of halves: F16C when the CPU has it (chosen at run time) ---- */

#if defined(JB_X86)
__attribute__((target("avx,f16c"))) static void f16_row_to_f32_f16c(const eng_f16 *x, float *y,
								    int64_t n)
{
	int64_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
	for (; i < n; i++)
		y[i] = f16_to_f32_soft(x[i]);
}

__attribute__((target("avx,f16c"))) static void f32_row_to_f16_f16c(const float *x, eng_f16 *y,
								    int64_t n)
{
	int64_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *)(y + i),
				 _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
	for (; i < n; i++)
		y[i] = f32_to_f16_soft(x[i]);
}

static int have_f16c(void)
{
	static atomic_int cached = -1; /* threads may race to fill it: same value */
	int v = atomic_load_explicit(&cached, memory_order_relaxed);

	if (v < 0) {
		v = eng_x86_has_f16c();
		atomic_store_explicit(&cached, v, memory_order_relaxed);
	}
	return v;
}
#endif

static void f16_row_to_f32(const eng_f16 *x, float *y, int64_t n)
{
#if defined(JB_X86)
	if (have_f16c()) {
		f16_row_to_f32_f16c(x, y, n);
		return;
	}
#endif
	for (int64_t i = 0; i < n; i++)
		y[i] = f16_to_f32_soft(x[i]);
}

static void f32_row_to_f16(const float *x, eng_f16 *y, int64_t n)
{
#if defined(JB_X86)
	if (have_f16c()) {
		f32_row_to_f16_f16c(x, y, n);
		return;
	}
#endif
	for (int64_t i = 0; i < n; i++)
		y[i] = f32_to_f16_soft(x[i]);
}

/* ---- block formats ---- */

size_t eng_row_bytes(int type, int64_t n)
{
	if (n < 0)
		return 0;
	switch (type) {
	case ENG_TYPE_F32:
		return (size_t)n * sizeof(float);
	case ENG_TYPE_F16:
		return (size_t)n * sizeof(eng_f16);
	case ENG_TYPE_Q8_0:
		return n % ENG_QK8_0 ? 0 : (size_t)(n / ENG_QK8_0) * sizeof(struct eng_block_q8_0);
	case ENG_TYPE_Q4_0:
		return n % ENG_QK4_0 ? 0 : (size_t)(n / ENG_QK4_0) * sizeof(struct eng_block_q4_0);
	default:
		return eng_kq_row_bytes(type, n);
	}
}

static void quantize_q8_0(const float *x, struct eng_block_q8_0 *y, int64_t n)
{
	for (int64_t b = 0; b < n / ENG_QK8_0; b++, x += ENG_QK8_0) {
		float amax = 0.0f, d, id;

		for (int j = 0; j < ENG_QK8_0; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		d = amax / 127.0f;
		id = d != 0.0f ? 1.0f / d : 0.0f;
		y[b].d = eng_f32_to_f16(d);
		for (int j = 0; j < ENG_QK8_0; j++)
			y[b].qs[j] = (int8_t)roundf(x[j] * id);
	}
}

static void quantize_q4_0(const float *x, struct eng_block_q4_0 *y, int64_t n)
{
	for (int64_t b = 0; b < n / ENG_QK4_0; b++, x += ENG_QK4_0) {
		float amax = 0.0f, max = 0.0f, d, id;

		/* first element of largest magnitude wins, as in ggml */
		for (int j = 0; j < ENG_QK4_0; j++) {
			if (amax < fabsf(x[j])) {
				amax = fabsf(x[j]);
				max = x[j];
			}
		}
		d = max / -8.0f;
		id = d != 0.0f ? 1.0f / d : 0.0f;
		y[b].d = eng_f32_to_f16(d);
		for (int j = 0; j < ENG_QK4_0 / 2; j++) {
			int8_t lo = (int8_t)(x[j] * id + 8.5f);
			int8_t hi = (int8_t)(x[j + ENG_QK4_0 / 2] * id + 8.5f);
			uint8_t q0 = (uint8_t)(lo < 15 ? lo : 15);
			uint8_t q1 = (uint8_t)(hi < 15 ? hi : 15);

			y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
		}
	}
}

static void dequantize_q8_0(const struct eng_block_q8_0 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / ENG_QK8_0; b++, y += ENG_QK8_0) {
		float d = eng_f16_to_f32(x[b].d);

		for (int j = 0; j < ENG_QK8_0; j++)
			y[j] = (float)x[b].qs[j] * d;
	}
}

static void dequantize_q4_0(const struct eng_block_q4_0 *x, float *y, int64_t n)
{
	for (int64_t b = 0; b < n / ENG_QK4_0; b++, y += ENG_QK4_0) {
		float d = eng_f16_to_f32(x[b].d);

		for (int j = 0; j < ENG_QK4_0 / 2; j++) {
			y[j] = (float)((x[b].qs[j] & 0x0f) - 8) * d;
			y[j + ENG_QK4_0 / 2] = (float)((x[b].qs[j] >> 4) - 8) * d;
		}
	}
}

void eng_quantize_row(int type, const float *x, void *dst, int64_t n)
{
	assert(eng_row_bytes(type, n) > 0 || n == 0);
	switch (type) {
	case ENG_TYPE_F32:
		memmove(dst, x, (size_t)n * sizeof(float));
		break;
	case ENG_TYPE_F16:
		f32_row_to_f16(x, dst, n);
		break;
	case ENG_TYPE_Q8_0:
		quantize_q8_0(x, dst, n);
		break;
	case ENG_TYPE_Q4_0:
		quantize_q4_0(x, dst, n);
		break;
	default:
		eng_kq_quantize_row(type, x, dst, n);
	}
}

void eng_dequantize_row(int type, const void *src, float *y, int64_t n)
{
	assert(eng_row_bytes(type, n) > 0 || n == 0);
	switch (type) {
	case ENG_TYPE_F32:
		memmove(y, src, (size_t)n * sizeof(float));
		break;
	case ENG_TYPE_F16:
		f16_row_to_f32(src, y, n);
		break;
	case ENG_TYPE_Q8_0:
		dequantize_q8_0(src, y, n);
		break;
	case ENG_TYPE_Q4_0:
		dequantize_q4_0(src, y, n);
		break;
	default:
		eng_kq_dequantize_row(type, src, y, n);
	}
}
