/*
 * tests/test_quants.c — half conversion and the F32/F16/Q8_0/Q4_0 row formats.
 *
 * Half conversion is checked on special values against bit patterns worked out by hand (and, for
 * every one of the 65536 halves, round-tripped). Quantize -> dequantize is held to the error each
 * format promises; a few blocks are checked byte for byte against values computed by hand with
 * ggml's formulas.
 */
#include "helpers/testutil.h"

#include "engine/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

static float from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

/* Deterministic uniform floats in [-1, 1). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (float)((rng_state >> 40) & 0xffffff) / (float)(1 << 23) - 1.0f;
}

static void test_f16_special_values(void **state)
{
	(void)state;
	/* exact values */
	assert_int_equal(eng_f32_to_f16(0.0f), 0x0000);
	assert_int_equal(eng_f32_to_f16(-0.0f), 0x8000);
	assert_int_equal(eng_f32_to_f16(1.0f), 0x3c00);
	assert_int_equal(eng_f32_to_f16(-2.0f), 0xc000);
	assert_int_equal(eng_f32_to_f16(65504.0f), 0x7bff);          /* largest half */
	assert_int_equal(eng_f32_to_f16(0x1p-14f), 0x0400);          /* smallest normal */
	assert_int_equal(eng_f32_to_f16(0x1p-24f), 0x0001);          /* smallest subnormal */
	assert_int_equal(eng_f32_to_f16(0x3ffp-24f), 0x03ff);        /* largest subnormal */
	/* rounding: ties to even, overflow to infinity, underflow to zero */
	assert_int_equal(eng_f32_to_f16(65519.0f), 0x7bff);
	assert_int_equal(eng_f32_to_f16(65520.0f), 0x7c00);          /* tie, rounds to even = inf */
	assert_int_equal(eng_f32_to_f16(1e10f), 0x7c00);
	assert_int_equal(eng_f32_to_f16(-1e10f), 0xfc00);
	assert_int_equal(eng_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);   /* tie to even (down) */
	assert_int_equal(eng_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02); /* tie to even (up) */
	assert_int_equal(eng_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
	assert_int_equal(eng_f32_to_f16(0x1p-25f), 0x0000);          /* tie with 0 -> 0 */
	assert_int_equal(eng_f32_to_f16(0x1.000002p-25f), 0x0001);
	assert_int_equal(eng_f32_to_f16(0x3p-25f), 0x0002);          /* 1.5 ulp ties to 2 */
	assert_int_equal(eng_f32_to_f16(1e-30f), 0x0000);
	assert_int_equal(eng_f32_to_f16(0x1.ffcp-15f), 0x0400); /* subnormal rounding up to normal */
	/* infinities and NaN */
	assert_int_equal(eng_f32_to_f16(INFINITY), 0x7c00);
	assert_int_equal(eng_f32_to_f16(-INFINITY), 0xfc00);
	{
		eng_f16 h = eng_f32_to_f16(NAN);

		assert_int_equal(h & 0x7c00, 0x7c00);
		assert_true((h & 0x03ff) != 0);
		/* a signalling NaN with only low mantissa bits must not become infinity */
		h = eng_f32_to_f16(from_bits(0x7f800001u));
		assert_int_equal(h & 0x7c00, 0x7c00);
		assert_true((h & 0x03ff) != 0);
	}
	/* half -> float */
	assert_true(eng_f16_to_f32(0x3c00) == 1.0f);
	assert_true(eng_f16_to_f32(0x7bff) == 65504.0f);
	assert_true(eng_f16_to_f32(0x0001) == 0x1p-24f);
	assert_true(eng_f16_to_f32(0x03ff) == 0x3ffp-24f);
	assert_int_equal(bits(eng_f16_to_f32(0x8000)), 0x80000000u);
	assert_true(isinf(eng_f16_to_f32(0x7c00)) && eng_f16_to_f32(0x7c00) > 0);
	assert_true(isinf(eng_f16_to_f32(0xfc00)) && eng_f16_to_f32(0xfc00) < 0);
	assert_true(isnan(eng_f16_to_f32(0x7e00)));
	assert_true(isnan(eng_f16_to_f32(0x7c01)));
}

/* Every finite half converts to a float and back to itself; every NaN stays a NaN. */
static void test_f16_round_trip_all(void **state)
{
	(void)state;
	for (uint32_t h = 0; h < 0x10000; h++) {
		float f = eng_f16_to_f32((eng_f16)h);

		if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {
			assert_true(isnan(f));
			continue;
		}
		if (eng_f32_to_f16(f) != h) {
			fprintf(stderr, "half 0x%04x -> %a -> 0x%04x\n", h, (double)f,
				eng_f32_to_f16(f));
			fail();
		}
	}
}

/* The row converters (F16C when available) agree with the scalar ones, odd lengths included. */
static void test_f16_rows_match_scalar(void **state)
{
	enum { N = 77 };
	float x[N], y[N];
	eng_f16 h[N];

	(void)state;
	for (int i = 0; i < N; i++)
		x[i] = frand() * 70000.0f * (i % 3 ? 1.0f : 1e-6f);
	x[5] = INFINITY;
	x[6] = -0.0f;
	eng_quantize_row(ENG_TYPE_F16, x, h, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(h[i], eng_f32_to_f16(x[i]));
	eng_dequantize_row(ENG_TYPE_F16, h, y, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(bits(y[i]), bits(eng_f16_to_f32(h[i])));
}

static void test_row_bytes(void **state)
{
	(void)state;
	assert_int_equal(eng_row_bytes(ENG_TYPE_F32, 2048), 8192);
	assert_int_equal(eng_row_bytes(ENG_TYPE_F16, 2048), 4096);
	assert_int_equal(eng_row_bytes(ENG_TYPE_Q8_0, 2048), 64 * 34);
	assert_int_equal(eng_row_bytes(ENG_TYPE_Q4_0, 2048), 64 * 18);
	assert_int_equal(eng_row_bytes(ENG_TYPE_Q4_0, 33), 0);
	assert_int_equal(eng_row_bytes(ENG_TYPE_Q8_0, 31), 0);
	assert_int_equal(eng_row_bytes(ENG_TYPE_F32, 33), 132);
	assert_int_equal(eng_row_bytes(ENG_TYPE_Q6_K, 256), 210);
	assert_int_equal(eng_row_bytes(ENG_TYPE_Q4_K, 255), 0);
	assert_int_equal(eng_row_bytes(20 /* IQ4_NL */, 256), 0);
	assert_int_equal(eng_row_bytes(ENG_TYPE_F32, -1), 0);
}

/* One Q8_0 block worked out by hand: amax 2.54 -> d = 0.02 (f16 0x251f = 0.0200043),
 * q = round(x / d). */
static void test_q8_0_known_block(void **state)
{
	float x[32] = { 0 };
	struct eng_block_q8_0 b;

	(void)state;
	x[0] = 2.54f;
	x[1] = -2.54f;
	x[2] = 1.0f;   /* 1 / 0.02 = 50 */
	x[3] = 0.011f; /* 0.55 -> 1 */
	x[4] = -0.011f; /* -1 */
	x[5] = 0.0099f;
	eng_quantize_row(ENG_TYPE_Q8_0, x, &b, 32);
	assert_int_equal(b.d, eng_f32_to_f16(0.02f));
	assert_int_equal(b.qs[0], 127);
	assert_int_equal(b.qs[1], -127);
	assert_int_equal(b.qs[2], 50);
	assert_int_equal(b.qs[3], 1);
	assert_int_equal(b.qs[4], -1);
	assert_int_equal(b.qs[5], 0);
	for (int j = 6; j < 32; j++)
		assert_int_equal(b.qs[j], 0);
}

/* One Q4_0 block by hand: the largest-magnitude element is -4 -> d = -4 / -8 = 0.5; q = x/d + 8.5
 * truncated; the +4 end clamps to 15 (value 3.5). Element j in the low nibble, j+16 high. */
static void test_q4_0_known_block(void **state)
{
	float x[32] = { 0 }, y[32];
	struct eng_block_q4_0 b;

	(void)state;
	x[0] = -4.0f;  /* q 0 */
	x[16] = 4.0f;  /* 8 + 8.5 = 16.5 -> 16 -> clamped 15 */
	x[1] = 1.0f;   /* 2 + 8.5 -> 10 */
	x[17] = -0.3f; /* -0.6 + 8.5 = 7.9 -> 7 */
	eng_quantize_row(ENG_TYPE_Q4_0, x, &b, 32);
	assert_int_equal(b.d, eng_f32_to_f16(0.5f));
	assert_int_equal(b.qs[0], 0x00 | (15 << 4));
	assert_int_equal(b.qs[1], 10 | (7 << 4));
	assert_int_equal(b.qs[2], 8 | (8 << 4)); /* zeros -> 8 */
	eng_dequantize_row(ENG_TYPE_Q4_0, &b, y, 32);
	assert_true(y[0] == -4.0f);
	assert_true(y[16] == 3.5f);
	assert_true(y[1] == 1.0f);
	assert_true(y[17] == -0.5f);
	assert_true(y[2] == 0.0f);
	/* a positive maximum gives a negative scale */
	memset(x, 0, sizeof x);
	x[3] = 8.0f;
	eng_quantize_row(ENG_TYPE_Q4_0, x, &b, 32);
	assert_true(eng_f16_to_f32(b.d) == -1.0f);
	eng_dequantize_row(ENG_TYPE_Q4_0, &b, y, 32);
	assert_true(y[3] == 8.0f);
}

/* An all-zero block has scale 0 and decodes to zeros (no division by zero). */
static void test_zero_blocks(void **state)
{
	float x[64] = { 0 }, y[64];
	unsigned char buf[256];

	(void)state;
	for (int t = 0; t < 2; t++) {
		int type = t ? ENG_TYPE_Q4_0 : ENG_TYPE_Q8_0;

		eng_quantize_row(type, x, buf, 64);
		eng_dequantize_row(type, buf, y, 64);
		for (int i = 0; i < 64; i++)
			assert_true(y[i] == 0.0f);
	}
}

/*
 * Quantize -> dequantize error per block, with d the block's stored scale |d| (an f16). The
 * elements were quantized with the float scale before it was rounded to f16; that rounding moves
 * the scale by at most F16_ROUND_ERR(d) (half an ulp: 2^-11 relative for normal halves, 2^-25
 * absolute for subnormal ones), which moves an element with |q| <= 127 by 127 times as much.
 *   Q8_0: q = round(x / d) so |x - q d| <= d / 2, plus 128 F16_ROUND_ERR(d) (the extra 1 covers
 *         d itself having moved) plus float rounding of x * id (1e-6 relative to the block).
 *   Q4_0: q = trunc(x / d + 8.5), so rounding error <= d / 2, except the clamped end (q = 16 ->
 *         15) where the element of largest magnitude m = 8 |d| decodes to 7 |d|: error <= |d|.
 *         Plus 9 F16_ROUND_ERR(d) (|q - 8| <= 8).
 *   F16: relative error <= 2^-11 for normal halves.
 */
#define F16_ROUND_ERR(d) fmaxf((d) * 0x1p-11f, 0x1p-25f)
#define Q8_0_ERR_BOUND(d) ((d) * 0.5f + 128.0f * F16_ROUND_ERR(d) + (d) * 127.0f * 1e-6f)
#define Q4_0_ERR_BOUND(d) ((d) * 1.0f + 9.0f * F16_ROUND_ERR(d) + (d) * 8.0f * 1e-6f)
#define F16_REL_ERR 0x1p-11f

static void test_round_trip_error_bounds(void **state)
{
	enum { N = 4096 };
	float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
	unsigned char *buf = malloc(N * 4);

	(void)state;
	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(buf);
	for (int i = 0; i < N; i++) /* blocks of very different scales */
		x[i] = frand() * powf(10.0f, (float)((i / 32) % 7) - 3.0f);

	eng_quantize_row(ENG_TYPE_Q8_0, x, buf, N);
	eng_dequantize_row(ENG_TYPE_Q8_0, buf, y, N);
	for (int b = 0; b < N / 32; b++) {
		const struct eng_block_q8_0 *blk = (const struct eng_block_q8_0 *)buf + b;
		float d = fabsf(eng_f16_to_f32(blk->d));

		for (int j = 0; j < 32; j++) {
			float e = fabsf(x[b * 32 + j] - y[b * 32 + j]);

			if (e > Q8_0_ERR_BOUND(d)) {
				fprintf(stderr, "q8_0 block %d elem %d: err %g > %g\n", b, j, e,
					Q8_0_ERR_BOUND(d));
				fail();
			}
		}
	}

	eng_quantize_row(ENG_TYPE_Q4_0, x, buf, N);
	eng_dequantize_row(ENG_TYPE_Q4_0, buf, y, N);
	for (int b = 0; b < N / 32; b++) {
		const struct eng_block_q4_0 *blk = (const struct eng_block_q4_0 *)buf + b;
		float d = fabsf(eng_f16_to_f32(blk->d));

		for (int j = 0; j < 32; j++) {
			float e = fabsf(x[b * 32 + j] - y[b * 32 + j]);

			if (e > Q4_0_ERR_BOUND(d)) {
				fprintf(stderr, "q4_0 block %d elem %d: err %g > %g\n", b, j, e,
					Q4_0_ERR_BOUND(d));
				fail();
			}
		}
	}

	eng_quantize_row(ENG_TYPE_F16, x, buf, N);
	eng_dequantize_row(ENG_TYPE_F16, buf, y, N);
	for (int i = 0; i < N; i++)
		if (fabsf(x[i]) >= 0x1p-14f)
			assert_true(fabsf(x[i] - y[i]) <= F16_REL_ERR * fabsf(x[i]));

	eng_quantize_row(ENG_TYPE_F32, x, buf, N);
	eng_dequantize_row(ENG_TYPE_F32, buf, y, N);
	assert_memory_equal(x, y, N * sizeof *x);
	free(x);
	free(y);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_f16_special_values),
		cmocka_unit_test(test_f16_round_trip_all),
		cmocka_unit_test(test_f16_rows_match_scalar),
		cmocka_unit_test(test_row_bytes),
		cmocka_unit_test(test_q8_0_known_block),
		cmocka_unit_test(test_q4_0_known_block),
		cmocka_unit_test(test_zero_blocks),
		cmocka_unit_test(test_round_trip_error_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
