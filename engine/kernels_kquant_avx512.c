/*
 * engine/kernels_kquant_avx512.c — AVX-512 (F, BW, VL) row kernels of Q4_K and Q6_K against Q8_K
 * activations: the AVX2 kernels (kernels_kquant_avx2.c) with two sub-blocks per register, so a
 * super-block takes half the instructions. eng_mm_q4_k_x86 / eng_mm_q6_k_x86 call these when
 * eng_kquant_isa() returns 512; built with target attributes for any x86-64.
 *
 * The byte products stay maddubs + madd with 16-bit scale lanes (exact, the reference's integers):
 * VNNI's vpdpbusd sums four products into 32-bit lanes, after which the per-sub-block scale would
 * need a 32-bit multiply or a float conversion per lane.
 *
 * Register layout per super-block (Q4_K): the 128 quant bytes are two 64-byte loads; the low
 * nibbles of the first are sub-blocks 0 and 2, the high nibbles 1 and 3 (the second: 4/6, 5/7).
 * The matching activation halves (32 bytes each) are joined into one register, and each pair of
 * scales becomes a 32 x int16 vector by one vpermw of the eight scales.
 */
#include "engine/kernels_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define TGT_INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

/* Prefetches go to L1 (T0): one row at a time is a single stream, and with T1 Q6_K 8192x2048
 * from DRAM fell from 18.6-19.8 to 12.1-12.5 GB/s with 1 thread and 27-28 to 20-23 with 2 on the
 * Zen 4 EPYC (the multi-row decode kernels gain from T1: MV_PF_HINT in kernels_avx512.c). */
#ifndef KQ_PF_BYTES
#define KQ_PF_BYTES 2048
#endif

/* Two 32-byte halves in one register: [lo | hi]. */
TGT_INLINE __m512i join(const int8_t *lo, const int8_t *hi)
{
	return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)lo)),
				  _mm256_loadu_si256((const __m256i *)hi), 1);
}

TGT_INLINE __m512i join_u8(const uint8_t *lo, const uint8_t *hi)
{
	return join((const int8_t *)lo, (const int8_t *)hi);
}

/* int16 lanes: [s[a] x16 | s[b] x16] (Q4_K, a pair of sub-blocks of 32) */
TGT_INLINE __m512i pair16(__m512i s, int a, int b)
{
	return _mm512_permutexvar_epi16(
		_mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)a)), _mm256_set1_epi16((short)b), 1), s);
}

/* int16 lanes: [s[a] x8, s[a+1] x8 | s[b] x8, s[b+1] x8] (Q6_K, two chunks of 32 = four of 16) */
TGT_INLINE __m512i quad16(__m512i s, int a, int b)
{
	__m256i lo = _mm256_set_m128i(_mm_set1_epi16((short)(a + 1)), _mm_set1_epi16((short)a));
	__m256i hi = _mm256_set_m128i(_mm_set1_epi16((short)(b + 1)), _mm_set1_epi16((short)b));

	return _mm512_permutexvar_epi16(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), s);
}

TGT_INLINE void f16x2(const void *p, float *a, float *b)
{
	uint32_t u;
	__m128 v;

	memcpy(&u, p, 4);
	v = _mm_cvtph_ps(_mm_cvtsi32_si128((int)u));
	*a = _mm_cvtss_f32(v);
	*b = _mm_cvtss_f32(_mm_movehdup_ps(v));
}

TGT_INLINE void scales_mins(const uint8_t *q, uint8_t sc[8], uint8_t m[8])
{
	uint32_t w0, w1, w2, v[4];

	memcpy(&w0, q, 4);
	memcpy(&w1, q + 4, 4);
	memcpy(&w2, q + 8, 4);
	v[0] = w0 & 0x3f3f3f3fu;
	v[1] = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
	v[2] = w1 & 0x3f3f3f3fu;
	v[3] = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
	memcpy(sc, v, 8);
	memcpy(m, v + 2, 8);
}

TGT_INLINE void q4k_row512(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq, const int nt,
			   float *out)
{
	const __m512i low4 = _mm512_set1_epi8(0x0f);
	__m512 acc[4];
	__m256 accm[4];

	for (int t = 0; t < 4; t++) {
		acc[t] = _mm512_setzero_ps();
		accm[t] = _mm256_setzero_ps();
	}
	for (int64_t b = 0; b < nbk; b++) {
		const struct eng_block_q4_k *wb = (const struct eng_block_q4_k *)row + b;
		uint8_t sc[8], m[8];
		__m512i q0, q1, lo0, hi0, lo1, hi1, s16, sA, sB, sC, sD;
		__m256i mp;
		__m128i m8;
		float d, dmin;

		_mm_prefetch((const char *)wb + KQ_PF_BYTES, _MM_HINT_T0);
		_mm_prefetch((const char *)wb + KQ_PF_BYTES + 64, _MM_HINT_T0);
		f16x2(&wb->d, &d, &dmin);
		scales_mins(wb->scales, sc, m);
		m8 = _mm_loadl_epi64((const __m128i *)m);
		mp = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
		s16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sc)));
		sA = pair16(s16, 0, 2);
		sB = pair16(s16, 1, 3);
		sC = pair16(s16, 4, 6);
		sD = pair16(s16, 5, 7);
		q0 = _mm512_loadu_si512((const void *)wb->qs);
		q1 = _mm512_loadu_si512((const void *)(wb->qs + 64));
		lo0 = _mm512_and_si512(q0, low4);
		hi0 = _mm512_and_si512(_mm512_srli_epi16(q0, 4), low4);
		lo1 = _mm512_and_si512(q1, low4);
		hi1 = _mm512_and_si512(_mm512_srli_epi16(q1, 4), low4);
		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
			const struct eng_block_q8_k *x = xq[t] + b;
			__m512i sumi;
			__m256i mm;

			sumi = _mm512_madd_epi16(_mm512_maddubs_epi16(lo0, join(x->qs, x->qs + 64)), sA);
			sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(hi0, join(x->qs + 32, x->qs + 96)), sB));
			sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(lo1, join(x->qs + 128, x->qs + 192)), sC));
			sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(hi1, join(x->qs + 160, x->qs + 224)), sD));
			mm = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x->bsums), mp);
			acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(x->d * d), _mm512_cvtepi32_ps(sumi), acc[t]);
			accm[t] = _mm256_fmadd_ps(_mm256_set1_ps(x->d * dmin), _mm256_cvtepi32_ps(mm), accm[t]);
		}
	}
	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
		__m128 s = _mm_add_ps(_mm256_castps256_ps128(accm[t]), _mm256_extractf128_ps(accm[t], 1));

		s = _mm_add_ps(s, _mm_movehl_ps(s, s));
		s = _mm_add_ss(s, _mm_movehdup_ps(s));
		out[t] = _mm512_reduce_add_ps(acc[t]) - _mm_cvtss_f32(s);
	}
}

TGT_INLINE void q6k_row512(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq, const int nt,
			   float *out)
{
	const __m512i low4 = _mm512_set1_epi8(0x0f);
	__m512 acc[4];

	for (int t = 0; t < 4; t++)
		acc[t] = _mm512_setzero_ps();
	for (int64_t b = 0; b < nbk; b++) {
		const struct eng_block_q6_k *wb = (const struct eng_block_q6_k *)row + b;
		__m512i A, B, QH, v0, v1, v2, v3, s16, s0, s1, s2, s3;
		__m256i s16y;
		float d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(wb->d)));

		_mm_prefetch((const char *)wb + KQ_PF_BYTES, _MM_HINT_T0);
		_mm_prefetch((const char *)wb + KQ_PF_BYTES + 64, _MM_HINT_T0);
		_mm_prefetch((const char *)wb + KQ_PF_BYTES + 128, _MM_HINT_T0);
		_mm_prefetch((const char *)wb + KQ_PF_BYTES + 192, _MM_HINT_T0);
		/* halves h = 0 | 1 side by side: ql[64h .. 64h+31], ql[64h+32 ..], qh[32h ..] */
		A = join_u8(wb->ql, wb->ql + 64);
		B = join_u8(wb->ql + 32, wb->ql + 96);
		QH = _mm512_loadu_si512((const void *)wb->qh);
		v0 = _mm512_or_si512(_mm512_and_si512(A, low4),
				     _mm512_slli_epi16(_mm512_and_si512(QH, _mm512_set1_epi8(0x03)), 4));
		v1 = _mm512_or_si512(_mm512_and_si512(B, low4),
				     _mm512_slli_epi16(_mm512_and_si512(QH, _mm512_set1_epi8(0x0c)), 2));
		v2 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(A, 4), low4),
				     _mm512_and_si512(QH, _mm512_set1_epi8(0x30)));
		v3 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(B, 4), low4),
				     _mm512_srli_epi16(_mm512_and_si512(QH, _mm512_set1_epi8((char)0xc0)), 2));
		s16y = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wb->scales));
		s16 = _mm512_castsi256_si512(s16y);
		s0 = quad16(s16, 0, 8);
		s1 = quad16(s16, 2, 10);
		s2 = quad16(s16, 4, 12);
		s3 = quad16(s16, 6, 14);
		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
			const struct eng_block_q8_k *x = xq[t] + b;
			__m512i sumi;
			__m256i off;

			sumi = _mm512_madd_epi16(_mm512_maddubs_epi16(v0, join(x->qs, x->qs + 128)), s0);
			sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(v1, join(x->qs + 32, x->qs + 160)), s1));
			sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(v2, join(x->qs + 64, x->qs + 192)), s2));
			sumi = _mm512_add_epi32(sumi, _mm512_madd_epi16(_mm512_maddubs_epi16(v3, join(x->qs + 96, x->qs + 224)), s3));
			off = _mm256_madd_epi16(s16y, _mm256_loadu_si256((const __m256i *)x->bsums));
			sumi = _mm512_sub_epi32(sumi, _mm512_castsi256_si512(_mm256_slli_epi32(off, 5)));
			acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(x->d * d), _mm512_cvtepi32_ps(sumi), acc[t]);
		}
	}
	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)
		out[t] = _mm512_reduce_add_ps(acc[t]);
}

typedef void (*row_fn)(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq, int nt, float *out);

TGT static void q4k_rows(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq, int nt, float *out)
{
	switch (nt) {
	case 4: q4k_row512(row, nbk, xq, 4, out); break;
	case 3: q4k_row512(row, nbk, xq, 3, out); break;
	case 2: q4k_row512(row, nbk, xq, 2, out); break;
	default: q4k_row512(row, nbk, xq, 1, out); break;
	}
}

TGT static void q6k_rows(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq, int nt, float *out)
{
	switch (nt) {
	case 4: q6k_row512(row, nbk, xq, 4, out); break;
	case 3: q6k_row512(row, nbk, xq, 3, out); break;
	case 2: q6k_row512(row, nbk, xq, 2, out); break;
	default: q6k_row512(row, nbk, xq, 1, out); break;
	}
}

TGT_INLINE void mm_k_avx512(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1,
			    row_fn fn)
{
	int64_t nbk = a->cols / ENG_QK_K;

	for (int64_t off = 0; off < 2 * KQ_PF_BYTES; off += 64)
		_mm_prefetch((const char *)w->data + r0 * (int64_t)w->row_bytes + off, _MM_HINT_T0);
	for (int64_t r = r0; r < r1; r++) {
		const char *row = (const char *)w->data + r * (int64_t)w->row_bytes;

		for (int t0 = 0; t0 < a->n_tok; t0 += 4) {
			const struct eng_block_q8_k *xq[4];
			float out[4];
			int nt = a->n_tok - t0 < 4 ? a->n_tok - t0 : 4;

			for (int t = 0; t < nt; t++)
				xq[t] = a->q8k + (int64_t)(t0 + t) * nbk;
			fn(row, nbk, xq, nt, out);
			for (int t = 0; t < nt; t++)
				y[(int64_t)(t0 + t) * w->rows + r] = out[t];
		}
	}
}

TGT void eng_mm_q4_k_avx512(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_avx512(w, a, y, r0, r1, q4k_rows);
}

TGT void eng_mm_q6_k_avx512(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_avx512(w, a, y, r0, r1, q6k_rows);
}

/* ---- activations to Q8_K ---- */

/*
 * eng_quantize_row_q8_k, bit for bit: the scale comes from the first element of largest magnitude
 * (max_ps(|x|, m) keeps m when |x| is NaN, as the reference's "fabsf(x) > amax" skips it), the
 * quants are round-to-nearest-even of is * x capped at 127 and truncated to int8 as the
 * reference's cast does (a NaN product: INT_MIN, truncated to 0), and each sum of 16 is taken
 * from the stored bytes: vpsadbw of the bytes offset by 128 sums 8 at a time, exactly.
 */
TGT void eng_quantize_row_q8_k_avx512(const float *x, struct eng_block_q8_k *y, int64_t n)
{
	const __m512i cap = _mm512_set1_epi32(127), bias = _mm512_set1_epi8((char)0x80);
	const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);

	for (int64_t b = 0; b < n / ENG_QK_K; b++, x += ENG_QK_K) {
		__m512 m = _mm512_setzero_ps(), vam, vis;
		__m512i q[4], s[4];
		float amax, max = 0, is;

		for (int i = 0; i < 16; i++)
			m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * i)), m);
		amax = _mm512_reduce_max_ps(m);
		if (!(amax > 0)) {
			memset(&y[b], 0, sizeof y[b]);
			continue;
		}
		vam = _mm512_set1_ps(amax);
		for (int i = 0; i < 16; i++) {
			__mmask16 k = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * i)), vam, _CMP_EQ_OQ);

			if (k) {
				max = x[16 * i + __builtin_ctz(k)];
				break;
			}
		}
		is = -127.0f / max;
		vis = _mm512_set1_ps(is);
		for (int j = 0; j < 4; j++) {
			__m128i part[4];

			for (int i = 0; i < 4; i++) {
				__m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(vis, _mm512_loadu_ps(x + 64 * j + 16 * i)));

				part[i] = _mm512_cvtepi32_epi8(_mm512_min_epi32(v, cap));
			}
			q[j] = _mm512_inserti64x4(
				_mm512_castsi256_si512(_mm256_set_m128i(part[1], part[0])), _mm256_set_m128i(part[3], part[2]), 1);
			_mm512_storeu_si512((void *)(y[b].qs + 64 * j), q[j]);
			s[j] = _mm512_sad_epu8(_mm512_xor_si512(q[j], bias), _mm512_setzero_si512());
		}
		/* qword 2g, 2g + 1 of s[j]: the two halves of group 4j + g, each offset by 8 * 128 */
		for (int h = 0; h < 2; h++) {
			__m512i sum = _mm512_add_epi64(_mm512_permutex2var_epi64(s[2 * h], even, s[2 * h + 1]),
						       _mm512_permutex2var_epi64(s[2 * h], odd, s[2 * h + 1]));

			sum = _mm512_sub_epi64(sum, _mm512_set1_epi64(16 * 128));
			_mm_storeu_si128((__m128i *)(y[b].bsums + 8 * h), _mm512_cvtepi64_epi16(sum));
		}
		y[b].d = 1 / is;
	}
}

#endif /* __x86_64__ */
