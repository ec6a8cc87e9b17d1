/*
 * engine/kernels_kquant_avx2.c — AVX2 + FMA row kernels of the K-quant weight types Q2_K..Q6_K
 * against Q8_K activations, and the choice between them and the AVX-512 versions of Q4_K/Q6_K
 * (kernels_kquant_avx512.c); the legacy Q4_1/Q5_0/Q5_1 against Q8_0. Built with target
 * attributes, called only after CPUID checks.
 *
 * One row at a time, up to four tokens per pass over the row (a super-block is unpacked once per
 * pass). Q4_K and Q5_K matrices the model loader put in the T layout (kquants.h) run qkt_row,
 * against activations packed in the same order once per matmul (eng_kq_pack_act_t). Rows of a chunk are contiguous, so the weights are one linear stream: the kernel
 * prefetches KQ_PF_BYTES ahead of the super-block it reads.
 *
 * Integer arithmetic per super-block is the reference's (kernels_kquant_ref.c):
 *   Q4_K/Q5_K: maddubs(quants 0..15/0..31, q8) (pairs <= 2 * 31 * 128), int16 lanes of one
 *              sub-block summed (at most 16 products, |sum| <= 31744), then madd with the
 *              6-bit scales gives int32 lanes; the mins term is madd(bsums, mins repeated per
 *              pair of 16) — exactly sum m_s * (bsums[2s] + bsums[2s+1]).
 *   Q6_K:      maddubs(quants 0..63, q8) (pairs <= 16128), two sub-blocks' pairs summed into
 *              one int16 lane, madd with their int8 scales, minus 32 * sum sc_g * bsums_g for
 *              the offset of 32.
 *   Q3_K:      the same with quants 0..7 (low bits | high bit << 2) and an offset of 4.
 *   Q2_K:      maddubs(quants 0..3, q8), madd with the 4-bit scales; mins as Q4_K, per 16.
 * Only the float accumulation across super-blocks differs in order from the reference.
 *
 * Every short loop that fills an array of vectors (lo[], hi[], v[], scv[]) carries an unroll
 * pragma: at -O2 GCC keeps it a loop, and the array then lives on the stack, stored and reloaded
 * every super-block (eight 256-bit stores and eight loads for Q4_K). On Zen 1 that was a quarter
 * of the Q4_K kernel's time (23.6 -> 18.9 ns per super-block, one row in L2).
 */
#include "engine/kernels_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define TGT __attribute__((target("avx2,fma,f16c")))
#define TGT_INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c")))

/* Prefetches go to L1 (T0): run on the Zen 4 EPYC with JOULEBENCH_ISA=avx2, this single-stream
 * kernel lost 5-8 points of the paired read with T1, which the multi-row AVX-512 decode kernels
 * gain from (MV_PF_HINT in kernels_avx512.c). */
#ifndef KQ_PF_BYTES
#define KQ_PF_BYTES 2048
#endif

/* ---- which instruction set: one place, so a process-wide override can replace it ---- */

static int g_isa;
static pthread_once_t g_isa_once = PTHREAD_ONCE_INIT;

static void choose_isa(void)
{
	const char *env = getenv("JOULEBENCH_ISA");

	__builtin_cpu_init();
	g_isa = 256;
	if (env && !strcmp(env, "avx2"))
		return;
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl"))
		g_isa = 512;
}

int eng_kquant_isa(void)
{
	pthread_once(&g_isa_once, choose_isa);
	return g_isa;
}

TGT_INLINE float hsum4(__m128 s)
{
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

TGT_INLINE float hsum8(__m256 v)
{
	return hsum4(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

/* The two f16 values at p (d, dmin) as floats, inline. */
TGT_INLINE void f16x2(const void *p, float *a, float *b)
{
	uint32_t u;
	__m128 v;

	memcpy(&u, p, 4);
	v = _mm_cvtph_ps(_mm_cvtsi32_si128((int)u));
	*a = _mm_cvtss_f32(v);
	*b = _mm_cvtss_f32(_mm_movehdup_ps(v));
}

TGT_INLINE float f16x1(eng_f16 h)
{
	return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

/*
 * The 8 scales (bytes 0..7) and 8 mins (bytes 8..15) of a Q4_K/Q5_K super-block, as
 * eng_kq_scales_mins8, from the 12 bytes at q. Bytes 0..3 of the header hold scales 0..3 and
 * bytes 4..7 mins 0..3 in their low six bits; scales 4..7 are the low nibbles of bytes 8..11 with
 * the top two bits of bytes 0..3 above them, mins 4..7 the high nibbles with the top bits of bytes
 * 4..7. Done in general-purpose registers, whose ALUs the vector kernels leave idle: two moves
 * and an unpack reach the vector unit instead of nine vector operations (one Q4_K row in L1:
 * 13.0 -> 12.6 ns per super-block on Zen 1).
 */
TGT_INLINE __m128i scales_mins(const uint8_t *q)
{
	uint64_t a;
	uint32_t h;
	uint64_t low6, high;

	memcpy(&a, q, 8);
	memcpy(&h, q + 8, 4);
	low6 = a & 0x3f3f3f3f3f3f3f3full; /* scales 0..3, mins 0..3 */
	high = ((uint64_t)h & 0x0f0f0f0full) | (((uint64_t)h << 28) & 0x0f0f0f0f00000000ull) |
	       ((a >> 2) & 0x3030303030303030ull); /* scales 4..7, mins 4..7 */
	return _mm_unpacklo_epi32(_mm_cvtsi64_si128((long long)low6), _mm_cvtsi64_si128((long long)high));
}

/*
 * The sum of eight int16 vectors as a tree of pairs. GCC reassociates such a tree into a chain
 * seven adds deep, which lengthens every super-block's critical path; the empty asm statements
 * keep the pairs as written (one Q4_K row in L1: 12.6 -> 12.0 ns per super-block on Zen 1).
 */
TGT_INLINE __m256i add_tree8(const __m256i *p)
{
	__m256i a0 = _mm256_add_epi16(p[0], p[1]), a1 = _mm256_add_epi16(p[2], p[3]);
	__m256i a2 = _mm256_add_epi16(p[4], p[5]), a3 = _mm256_add_epi16(p[6], p[7]);

	__asm__("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3));
	a0 = _mm256_add_epi16(a0, a1);
	a2 = _mm256_add_epi16(a2, a3);
	__asm__("" : "+x"(a0), "+x"(a2));
	return _mm256_add_epi16(a0, a2);
}

/*
 * Sums of int16 lanes across vectors without a multiply: in each 128-bit half, lane 2i of the
 * result is a[i] + a[i + 4] and lane 2i + 1 is b[i] + b[i + 4] (sum16); sum32 does the same with
 * pairs of lanes, sum64 with quadruples.
 */
TGT_INLINE __m256i sum16(__m256i a, __m256i b)
{
	return _mm256_add_epi16(_mm256_unpacklo_epi16(a, b), _mm256_unpackhi_epi16(a, b));
}

TGT_INLINE __m256i sum32(__m256i a, __m256i b)
{
	return _mm256_add_epi16(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
}

TGT_INLINE __m256i sum64(__m256i a, __m256i b)
{
	return _mm256_add_epi16(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
}

/* ---- Q4_K / Q5_K ---- */

/*
 * Bit `bit` (0..7) of each byte of hb as 0x10 in that byte: one 16-bit shift brings it to bit 4
 * and a mask keeps it. A left shift by 4 - bit fills bit 4 of a byte only from its own bit; a
 * right shift by bit - 4 (at most 3) reads bit 4 + (bit - 4) <= 7 of the same byte.
 */
TGT_INLINE __m256i bit_to_16(__m256i hb, const int bit)
{
	const __m256i at4 = bit <= 4 ? _mm256_slli_epi16(hb, 4 - bit) : _mm256_srli_epi16(hb, bit - 4);

	return _mm256_and_si256(at4, _mm256_set1_epi8(0x10));
}

/*
 * nt tokens (1..4) of one row: out[t] = row . x_t. With q5, the fifth bits come from qh.
 *
 * p[s] = maddubs(quants of sub-block s, q8) holds 16 pair sums of sub-block s. Instead of one
 * madd with the sub-block's scale per p[s] (eight multiplies, the bottleneck where vector
 * multiplies have one port), the eight vectors are folded into one with unpacks and adds, each
 * int16 lane a partial sum of a single sub-block, and one madd applies the scales. Q4_K folds
 * eight lanes into one (16 products of 0..15 by |q8| <= 128: |lane| <= 30720); Q5_K (0..31) stops
 * at four (31744), leaving two vectors [s0 s1 s2 s3 s0 s1 s2 s3] and [s4..s7 s4..s7] per half.
 */
TGT_INLINE void q45k_row(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq, const int nt,
			 float *out, const int q5)
{
	const __m256i low4 = _mm256_set1_epi8(0x0f);
	__m128 acc[4];
	__m256 accm[4];

	for (int t = 0; t < 4; t++) {
		acc[t] = _mm_setzero_ps();
		accm[t] = _mm256_setzero_ps();
	}
	for (int64_t b = 0; b < nbk; b++) {
		const uint8_t *hdr, *qs;
		float d, dmin;
		__m256i lo[4], hi[4], mp;
		__m128i sm, sc, sa, sb;

		if (q5) {
			const struct eng_block_q5_k *wb = (const struct eng_block_q5_k *)row + b;
			__m256i hb = _mm256_loadu_si256((const __m256i *)wb->qh);

			_mm_prefetch((const char *)wb + KQ_PF_BYTES, _MM_HINT_T0);
			_mm_prefetch((const char *)wb + KQ_PF_BYTES + 64, _MM_HINT_T0);
			_mm_prefetch((const char *)wb + KQ_PF_BYTES + 128, _MM_HINT_T0);
			hdr = wb->scales;
			qs = wb->qs;
			f16x2(&wb->d, &d, &dmin);
			_Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
				__m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * k));
				lo[k] = _mm256_or_si256(_mm256_and_si256(q, low4), bit_to_16(hb, 2 * k));
				hi[k] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low4),
							bit_to_16(hb, 2 * k + 1));
			}
		} else {
			const struct eng_block_q4_k *wb = (const struct eng_block_q4_k *)row + b;

			_mm_prefetch((const char *)wb + KQ_PF_BYTES, _MM_HINT_T0);
			_mm_prefetch((const char *)wb + KQ_PF_BYTES + 64, _MM_HINT_T0);
			hdr = wb->scales;
			qs = wb->qs;
			f16x2(&wb->d, &d, &dmin);
			_Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
				__m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * k));

				lo[k] = _mm256_and_si256(q, low4);
				hi[k] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
			}
		}
		sm = scales_mins(hdr);
		sc = _mm_cvtepu8_epi16(sm);
		sa = q5 ? _mm_unpacklo_epi64(sc, sc) : sc;
		sb = _mm_unpackhi_epi64(sc, sc);
		mp = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm)); /* m0 m0 m1 m1 .. m7 m7: a min per bsum */
		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
			const struct eng_block_q8_k *x = xq[t] + b;
			__m256i p[8], f0, f1, mm;
			__m128i s4;

			_Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
				p[2 * k] = _mm256_maddubs_epi16(lo[k], _mm256_loadu_si256((const __m256i *)(x->qs + 64 * k)));
				p[2 * k + 1] =
					_mm256_maddubs_epi16(hi[k], _mm256_loadu_si256((const __m256i *)(x->qs + 64 * k + 32)));
			}
			f0 = sum32(sum16(p[0], p[1]), sum16(p[2], p[3]));
			f1 = sum32(sum16(p[4], p[5]), sum16(p[6], p[7]));
			if (q5) {
				s4 = _mm_add_epi32(_mm_add_epi32(_mm_madd_epi16(_mm256_castsi256_si128(f0), sa),
								 _mm_madd_epi16(_mm256_extracti128_si256(f0, 1), sa)),
						   _mm_add_epi32(_mm_madd_epi16(_mm256_castsi256_si128(f1), sb),
								 _mm_madd_epi16(_mm256_extracti128_si256(f1, 1), sb)));
			} else {
				f0 = sum64(f0, f1); /* [s0 .. s7] in each half */
				s4 = _mm_add_epi32(_mm_madd_epi16(_mm256_castsi256_si128(f0), sa),
						   _mm_madd_epi16(_mm256_extracti128_si256(f0, 1), sa));
			}
			mm = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x->bsums), mp);
			acc[t] = _mm_fmadd_ps(_mm_set1_ps(x->d * d), _mm_cvtepi32_ps(s4), acc[t]);
			accm[t] = _mm256_fmadd_ps(_mm256_set1_ps(x->d * dmin), _mm256_cvtepi32_ps(mm), accm[t]);
		}
	}
	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)
		out[t] = hsum4(acc[t]) - hsum8(accm[t]);
}

/* ---- Q4_K and Q5_K in the T layout ---- */

/*
 * nt tokens (1..4) of one row in the T layout (kquants.h) against activations in the T order
 * (eng_block_q8_kt); with q5, the fifth bits come from qh, bit m of each byte for vector m. The
 * eight vectors of a super-block are unpacked once per pass; for each token the eight maddubs
 * products are summed with plain adds, since lanes 2s and 2s + 1 of every product belong to
 * sub-block s, and one madd with [sc0 sc0 sc1 sc1 .. sc7 sc7] gives the sub-block sums. Q4_K sums
 * all eight products per lane (16 products of 0..15 by |q8| <= 128: |lane| <= 30720); Q5_K
 * (0..31) two sums of four (31744), each with its madd. The mins term is one 128-bit madd of the
 * mins with the activations' sums of 32. Per super-block that is about a third fewer
 * instructions than q45k_row, whose fold is fifteen unpacks and adds.
 */
TGT_INLINE void qkt_row(const char *row, int64_t nbk, const struct eng_block_q8_kt *const *xt, const int nt,
			float *out, const int q5)
{
	const __m256i low4 = _mm256_set1_epi8(0x0f);
	__m128 acc[4], accm[4];

	for (int t = 0; t < 4; t++)
		acc[t] = accm[t] = _mm_setzero_ps();
	for (int64_t b = 0; b < nbk; b++) {
		const size_t bsz = q5 ? sizeof(struct eng_block_q5_k) : sizeof(struct eng_block_q4_k);
		const uint8_t *blk = (const uint8_t *)row + b * (int64_t)bsz;
		const uint8_t *qs = blk + (q5 ? offsetof(struct eng_block_q5_k, qs) : offsetof(struct eng_block_q4_k, qs));
		__m256i v[8], sc2;
		__m128i sm, mins;
		__m128 dd;
		uint32_t dbits;

		_mm_prefetch((const char *)blk + KQ_PF_BYTES, _MM_HINT_T0);
		_mm_prefetch((const char *)blk + KQ_PF_BYTES + 64, _MM_HINT_T0);
		if (q5)
			_mm_prefetch((const char *)blk + KQ_PF_BYTES + 128, _MM_HINT_T0);
		_Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
			__m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));

			v[2 * c] = _mm256_and_si256(q, low4);
			v[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
		}
		if (q5) {
			const __m256i hb = _mm256_loadu_si256((const __m256i *)((const struct eng_block_q5_k *)blk)->qh);

			_Pragma("GCC unroll 8") for (int m = 0; m < 8; m++)
				v[m] = _mm256_or_si256(v[m], bit_to_16(hb, m));
		}
		/* d, dmin and scales sit at the start of both block types */
		sm = scales_mins(((const struct eng_block_q4_k *)blk)->scales);
		sc2 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sm, sm));
		mins = _mm_unpackhi_epi8(sm, _mm_setzero_si128());
		memcpy(&dbits, blk, 4);
		dd = _mm_cvtph_ps(_mm_cvtsi32_si128((int)dbits)); /* d, dmin */
		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
			const struct eng_block_q8_kt *x = xt[t] + b;
			__m256i p[8], f0, f1, s8;
			__m128i s4, m4;
			__m128 ds;

			_Pragma("GCC unroll 8") for (int m = 0; m < 8; m++)
				p[m] = _mm256_maddubs_epi16(v[m], _mm256_loadu_si256((const __m256i *)(x->qs + 32 * m)));
			if (q5) {
				f0 = _mm256_add_epi16(_mm256_add_epi16(p[0], p[1]), _mm256_add_epi16(p[2], p[3]));
				f1 = _mm256_add_epi16(_mm256_add_epi16(p[4], p[5]), _mm256_add_epi16(p[6], p[7]));
				s8 = _mm256_add_epi32(_mm256_madd_epi16(f0, sc2), _mm256_madd_epi16(f1, sc2));
			} else {
				s8 = _mm256_madd_epi16(add_tree8(p), sc2);
			}
			s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
			m4 = _mm_madd_epi16(mins, _mm_loadu_si128((const __m128i *)x->bsums32));
			ds = _mm_mul_ps(dd, _mm_set1_ps(x->d));
			acc[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(s4), _mm_shuffle_ps(ds, ds, 0x00), acc[t]);
			accm[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(m4), _mm_shuffle_ps(ds, ds, 0x55), accm[t]);
		}
	}
	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)
		out[t] = hsum4(acc[t]) - hsum4(accm[t]);
}

/* ---- Q6_K ---- */

/*
 * The multipliers of f = sum16(p[c], p[c + 4]) (c = 0..3), whose 128-bit halves hold pair sums of
 * sub-blocks of 16 alternately: 2c and 2c + 8 in the low half, 2c + 1 and 2c + 9 in the high.
 * s8x2 is the 16 int8 scales in both halves; each int16 lane gets its scale in both bytes, and
 * the arithmetic shift leaves it sign-extended.
 */
TGT_INLINE __m256i fold_scales(__m256i s8x2, int c)
{
	const char a = (char)(2 * c), b = (char)(2 * c + 8), a1 = (char)(a + 1), b1 = (char)(b + 1);

	return _mm256_srai_epi16(_mm256_shuffle_epi8(s8x2, _mm256_setr_epi8(a, a, b, b, a, a, b, b, a, a, b, b, a, a, b, b,
									       a1, a1, b1, b1, a1, a1, b1, b1, a1, a1, b1, b1,
									       a1, a1, b1, b1)),
				 8);
}

/*
 * v[c] = maddubs operand of quants 32c..32c+31 (0..63, the offset of 32 applied through bsums):
 * sub-block 2c in its low half, 2c + 1 in the high. p[c] pairs are <= 2 * 63 * 128 = 16128, so
 * p[c] and p[c + 4] fold into one vector (lanes <= 32256) before the madd with the scales: four
 * multiplies instead of eight.
 */
TGT_INLINE void q6k_row(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq, const int nt,
			float *out)
{
	const __m256i low4 = _mm256_set1_epi8(0x0f);
	__m256 acc[4];

	for (int t = 0; t < 4; t++)
		acc[t] = _mm256_setzero_ps();
	for (int64_t b = 0; b < nbk; b++) {
		const struct eng_block_q6_k *wb = (const struct eng_block_q6_k *)row + b;
		__m256i v[8], s16, scv[4], s8x2;
		float d = f16x1(wb->d);

		_mm_prefetch((const char *)wb + KQ_PF_BYTES, _MM_HINT_T0);
		_mm_prefetch((const char *)wb + KQ_PF_BYTES + 64, _MM_HINT_T0);
		_mm_prefetch((const char *)wb + KQ_PF_BYTES + 128, _MM_HINT_T0);
		_mm_prefetch((const char *)wb + KQ_PF_BYTES + 192, _MM_HINT_T0);
		_Pragma("GCC unroll 2") for (int h = 0; h < 2; h++) {
			__m256i l0 = _mm256_loadu_si256((const __m256i *)(wb->ql + 64 * h));
			__m256i l1 = _mm256_loadu_si256((const __m256i *)(wb->ql + 64 * h + 32));
			__m256i qh = _mm256_loadu_si256((const __m256i *)(wb->qh + 32 * h));

			v[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, low4),
						       _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4));
			v[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, low4),
						       _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0c)), 2));
			v[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
						       _mm256_and_si256(qh, _mm256_set1_epi8(0x30)));
			v[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
						       _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8((char)0xc0)), 2));
		}
		s8x2 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)wb->scales));
		s16 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(s8x2));
		_Pragma("GCC unroll 4") for (int c = 0; c < 4; c++)
			scv[c] = fold_scales(s8x2, c);
		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
			const struct eng_block_q8_k *x = xq[t] + b;
			__m256i sumi = _mm256_setzero_si256(), off, p[8];

			_Pragma("GCC unroll 8") for (int c = 0; c < 8; c++)
				p[c] = _mm256_maddubs_epi16(v[c], _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c)));
			_Pragma("GCC unroll 4") for (int c = 0; c < 4; c++)
				sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sum16(p[c], p[c + 4]), scv[c]));
			off = _mm256_madd_epi16(s16, _mm256_loadu_si256((const __m256i *)x->bsums));
			sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(off, 5));
			acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(x->d * d), _mm256_cvtepi32_ps(sumi), acc[t]);
		}
	}
	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)
		out[t] = hsum8(acc[t]);
}

/* ---- Q2_K / Q3_K ---- */

/*
 * From the 16 int16 scales of the sub-blocks of 16 (s16: scales 0..7 in the low 128 bits, 8..15
 * in the high), the multipliers of group c of 32 quants (sub-blocks 2c and 2c + 1) for
 * madd_epi16 after maddubs: [sc[2c] x8 | sc[2c+1] x8].
 */
TGT_INLINE __m256i group_scales(__m256i s16, int c)
{
	__m256i both = c < 4 ? _mm256_permute4x64_epi64(s16, 0x44) : _mm256_permute4x64_epi64(s16, 0xee);
	int j = 2 * (c & 3);

	return _mm256_shuffle_epi8(both, _mm256_setr_epi8(2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j,
							  2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1, 2 * j, 2 * j + 1,
							  2 * j, 2 * j + 1, 2 * j + 2, 2 * j + 3, 2 * j + 2, 2 * j + 3,
							  2 * j + 2, 2 * j + 3, 2 * j + 2, 2 * j + 3, 2 * j + 2, 2 * j + 3,
							  2 * j + 2, 2 * j + 3, 2 * j + 2, 2 * j + 3, 2 * j + 2, 2 * j + 3));
}

/* The 16 signed scales of a Q3_K super-block (as eng_kq_q3_scales) as int16: low nibbles from
 * bytes 0..7, the high two bits from bytes 8..11 (scale j: bits 2 (j / 4) of byte 8 + j % 4). */
TGT_INLINE __m256i q3_scales16(const uint8_t *p)
{
	uint32_t a0, a1, hb, v[4];

	memcpy(&a0, p, 4);
	memcpy(&a1, p + 4, 4);
	memcpy(&hb, p + 8, 4);
	v[0] = (a0 & 0x0f0f0f0fu) | ((hb & 0x03030303u) << 4);
	v[1] = (a1 & 0x0f0f0f0fu) | (((hb >> 2) & 0x03030303u) << 4);
	v[2] = ((a0 >> 4) & 0x0f0f0f0fu) | (((hb >> 4) & 0x03030303u) << 4);
	v[3] = ((a1 >> 4) & 0x0f0f0f0fu) | (((hb >> 6) & 0x03030303u) << 4);
	return _mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_loadu_si128((const __m128i *)v), _mm_set1_epi8(32)));
}

/*
 * nt tokens (1..4) of one row of Q2_K (q3 = 0) or Q3_K (q3 = 1): out[t] = row . x_t.
 *
 * Group c of 32 quants (c = 0..7, sub-blocks 2c and 2c + 1) is bits 2 (c % 4) of the 32 bytes
 * qs[32 (c / 4) ..] and meets x->qs[32 c ..]. Q2_K quants are 0..3; a Q3_K quant is taken as
 * q = low | high << 2 in 0..7 (bit c of hmask[l] is the high bit), so maddubs sees unsigned
 * values (pairs <= 2 * 7 * 127) and the offset of 4 comes back as 4 * sum sc_g * bsums_g, as Q6_K
 * does with its 32. Q2_K's mins term is madd(mins, bsums). The groups are the outer loop so that
 * each is unpacked once for all tokens and only one is live at a time.
 */
TGT_INLINE void q23k_row(const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq, const int nt,
			 float *out, const int q3)
{
	const __m256i m3 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
	__m256 acc[4];

	for (int t = 0; t < 4; t++)
		acc[t] = _mm256_setzero_ps();
	for (int64_t b = 0; b < nbk; b++) {
		const uint8_t *qs;
		float d, dmin = 0.0f;
		__m256i s16, m16 = _mm256_setzero_si256(), hbits = _mm256_setzero_si256(), q[2], sumi[4];

		if (q3) {
			const struct eng_block_q3_k *wb = (const struct eng_block_q3_k *)row + b;

			_mm_prefetch((const char *)wb + KQ_PF_BYTES, _MM_HINT_T0);
			_mm_prefetch((const char *)wb + KQ_PF_BYTES + 64, _MM_HINT_T0);
			d = f16x1(wb->d);
			s16 = q3_scales16(wb->scales);
			hbits = _mm256_loadu_si256((const __m256i *)wb->hmask);
			qs = wb->qs;
		} else {
			const struct eng_block_q2_k *wb = (const struct eng_block_q2_k *)row + b;
			__m128i raw = _mm_loadu_si128((const __m128i *)wb->scales);

			_mm_prefetch((const char *)wb + KQ_PF_BYTES, _MM_HINT_T0);
			_mm_prefetch((const char *)wb + KQ_PF_BYTES + 64, _MM_HINT_T0);
			f16x2(&wb->d, &d, &dmin);
			s16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0f)));
			m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
			qs = wb->qs;
		}
		q[0] = _mm256_loadu_si256((const __m256i *)qs);
		q[1] = _mm256_loadu_si256((const __m256i *)(qs + 32));
		_Pragma("GCC unroll 4") for (int t = 0; t < 4; t++)
			sumi[t] = _mm256_setzero_si256();
		_Pragma("GCC unroll 8") for (int c = 0; c < 8; c++) {
			__m256i v = _mm256_and_si256(_mm256_srl_epi16(q[c / 4], _mm_cvtsi32_si128(2 * (c & 3))), m3);
			__m256i sc = group_scales(s16, c);

			/* Q3_K: bit c of each hmask byte to bit 2 (a 16-bit shift by at most 5 brings no bit
			 * of the other byte there) */
			if (q3) {
				__m256i h = c < 2 ? _mm256_sll_epi16(hbits, _mm_cvtsi32_si128(2 - c))
						  : _mm256_srl_epi16(hbits, _mm_cvtsi32_si128(c - 2));

				v = _mm256_or_si256(v, _mm256_and_si256(h, four));
			}
			_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
				const int8_t *xs = xq[t][b].qs + 32 * c;
				__m256i p = _mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)xs));

				sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, sc));
			}
		}
		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
			const struct eng_block_q8_k *x = xq[t] + b;
			__m256i bs = _mm256_loadu_si256((const __m256i *)x->bsums);

			if (q3) {
				__m256i off = _mm256_madd_epi16(s16, bs);

				sumi[t] = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(off, 2));
				acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(x->d * d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
			} else {
				__m256i mm = _mm256_madd_epi16(m16, bs);

				acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(x->d * d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
				acc[t] = _mm256_fnmadd_ps(_mm256_set1_ps(x->d * dmin), _mm256_cvtepi32_ps(mm), acc[t]);
			}
		}
	}
	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)
		out[t] = hsum8(acc[t]);
}

/* ---- Q4_1 / Q5_0 / Q5_1 x Q8_0 (blocks of 32) ---- */

/* The 32 quants of a block as bytes 0..15, element j at byte j (as the Q4_0 kernel unpacks). */
TGT_INLINE __m256i nibbles32(const uint8_t *qs)
{
	__m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));

	return _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

/* Bit j of the 32-bit qh as 0x10 in byte j (the fifth bit of element j). */
TGT_INLINE __m256i fifth_bits(const uint8_t *qh4)
{
	uint32_t qh;
	__m256i v, bit;

	memcpy(&qh, qh4, 4);
	v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
				_mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
						 3, 3, 3, 3, 3, 3));
	bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
	return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit), _mm256_set1_epi8(0x10));
}

/*
 * One row against one token. Unsigned quants q (0..15 or 0..31) meet the Q8_0 activations in
 * maddubs + madd; per block: Q4_1/Q5_1 add m * (d_x * sum x) = m * c / 8, Q5_0 subtracts the
 * offset 16 as d_w * 16 * (c / 8) = 2 d_w c.
 */
TGT_INLINE float legacy_row(const char *row, int type, const int8_t *qx, const float *dx, const float *cx, int64_t nb)
{
	__m256 acc = _mm256_setzero_ps();
	float extra = 0.0f;

	for (int64_t b = 0; b < nb; b++) {
		__m256i q, p, x = _mm256_load_si256((const __m256i *)(qx + 32 * b));
		float d, m = 0.0f;

		if (type == ENG_TYPE_Q4_1) {
			const struct eng_block_q4_1 *wb = (const struct eng_block_q4_1 *)row + b;

			f16x2(&wb->d, &d, &m);
			q = nibbles32(wb->qs);
		} else if (type == ENG_TYPE_Q5_1) {
			const struct eng_block_q5_1 *wb = (const struct eng_block_q5_1 *)row + b;

			f16x2(&wb->d, &d, &m);
			q = _mm256_or_si256(nibbles32(wb->qs), fifth_bits(wb->qh));
		} else {
			const struct eng_block_q5_0 *wb = (const struct eng_block_q5_0 *)row + b;

			d = f16x1(wb->d);
			q = _mm256_or_si256(nibbles32(wb->qs), fifth_bits(wb->qh));
		}
		p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), _mm256_set1_epi16(1));
		acc = _mm256_fmadd_ps(_mm256_set1_ps(d * dx[b]), _mm256_cvtepi32_ps(p), acc);
		extra += type == ENG_TYPE_Q5_0 ? -2.0f * d * cx[b] : m * (cx[b] * 0.125f);
	}
	return hsum8(acc) + extra;
}

TGT_INLINE void mm_legacy_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1,
			       const int type)
{
	for (int64_t off = 0; off < 2 * KQ_PF_BYTES; off += 64)
		_mm_prefetch((const char *)w->data + r0 * (int64_t)w->row_bytes + off, _MM_HINT_T0);
	for (int64_t r = r0; r < r1; r++) {
		const char *row = (const char *)w->data + r * (int64_t)w->row_bytes;

		for (int64_t off = 0; off < (int64_t)w->row_bytes; off += 64)
			_mm_prefetch(row + KQ_PF_BYTES + off, _MM_HINT_T0);
		for (int t = 0; t < a->n_tok; t++)
			y[(int64_t)t * w->rows + r] = legacy_row(row, type, a->qs + (int64_t)t * a->cols,
								 a->d + (int64_t)t * a->nb, a->c + (int64_t)t * a->nb, a->nb);
	}
}

TGT void eng_mm_q4_1_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_legacy_avx2(w, a, y, r0, r1, ENG_TYPE_Q4_1);
}

TGT void eng_mm_q5_0_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_legacy_avx2(w, a, y, r0, r1, ENG_TYPE_Q5_0);
}

TGT void eng_mm_q5_1_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_legacy_avx2(w, a, y, r0, r1, ENG_TYPE_Q5_1);
}

/* ---- row-range drivers ---- */

/* KQ4T, KQ5T: Q4_K / Q5_K in the T layout, against the activations in the T order (xt) */
enum { KQ2, KQ3, KQ4, KQ5, KQ6, KQ4T, KQ5T };

TGT_INLINE void row_kind(int kind, const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq,
			 const struct eng_block_q8_kt *const *xt, const int nt, float *out)
{
	switch (kind) {
	case KQ4T:
		qkt_row(row, nbk, xt, nt, out, 0);
		break;
	case KQ5T:
		qkt_row(row, nbk, xt, nt, out, 1);
		break;
	case KQ2:
		q23k_row(row, nbk, xq, nt, out, 0);
		break;
	case KQ3:
		q23k_row(row, nbk, xq, nt, out, 1);
		break;
	case KQ6:
		q6k_row(row, nbk, xq, nt, out);
		break;
	default:
		q45k_row(row, nbk, xq, nt, out, kind == KQ5);
		break;
	}
}

/* nt as a constant in each call, so the token loops unroll */
TGT_INLINE void row_dispatch(const int kind, const char *row, int64_t nbk, const struct eng_block_q8_k *const *xq,
			     const struct eng_block_q8_kt *const *xt, int nt, float *out)
{
	switch (nt) {
	case 4:
		row_kind(kind, row, nbk, xq, xt, 4, out);
		break;
	case 3:
		row_kind(kind, row, nbk, xq, xt, 3, out);
		break;
	case 2:
		row_kind(kind, row, nbk, xq, xt, 2, out);
		break;
	default:
		row_kind(kind, row, nbk, xq, xt, 1, out);
		break;
	}
}

TGT_INLINE void mm_k_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1,
			  const int kind)
{
	int64_t nbk = a->cols / ENG_QK_K;

	for (int64_t off = 0; off < 2 * KQ_PF_BYTES; off += 64) /* nothing is in flight yet */
		_mm_prefetch((const char *)w->data + r0 * (int64_t)w->row_bytes + off, _MM_HINT_T0);
	for (int64_t r = r0; r < r1; r++) {
		const char *row = (const char *)w->data + r * (int64_t)w->row_bytes;

		for (int t0 = 0; t0 < a->n_tok; t0 += 4) {
			const struct eng_block_q8_k *xq[4];
			const struct eng_block_q8_kt *xt[4] = { NULL };
			float out[4];
			int nt = a->n_tok - t0 < 4 ? a->n_tok - t0 : 4;

			for (int t = 0; t < nt; t++) {
				xq[t] = a->q8k + (int64_t)(t0 + t) * nbk;
				if (kind == KQ4T || kind == KQ5T)
					xt[t] = (const struct eng_block_q8_kt *)a->packed + (int64_t)(t0 + t) * nbk;
			}
			row_dispatch(kind, row, nbk, xq, xt, nt, out);
			for (int t = 0; t < nt; t++)
				y[(int64_t)(t0 + t) * w->rows + r] = out[t];
		}
	}
}

TGT void eng_mm_q2_k_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_avx2(w, a, y, r0, r1, KQ2);
}

TGT void eng_mm_q3_k_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_avx2(w, a, y, r0, r1, KQ3);
}

TGT static void mm_q4_k_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_avx2(w, a, y, r0, r1, KQ4);
}

/* T-layout matrices; a->packed holds the activations in the T order (eng_kq_pack_act_t). */
TGT static void mm_q4_kt_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_avx2(w, a, y, r0, r1, KQ4T);
}

TGT static void mm_q5_kt_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_avx2(w, a, y, r0, r1, KQ5T);
}

TGT static void mm_q5_k_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_avx2(w, a, y, r0, r1, KQ5);
}

TGT static void mm_q6_k_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_k_avx2(w, a, y, r0, r1, KQ6);
}

/* ---- the T layout: which types, and the activations in its order ---- */

int eng_kq_weight_layout_avx2(int type)
{
	return (type == ENG_TYPE_Q4_K || type == ENG_TYPE_Q5_K) && eng_kquant_isa() == 256 ? ENG_LAYOUT_KQ_T
											    : ENG_LAYOUT_GGML;
}

size_t eng_kq_packed_bytes_t(const struct eng_act *a)
{
	if ((a->wtype != ENG_TYPE_Q4_K && a->wtype != ENG_TYPE_Q5_K) || a->wlayout != ENG_LAYOUT_KQ_T)
		return 0;
	return (size_t)a->n_tok * (size_t)(a->cols / ENG_QK_K) * sizeof(struct eng_block_q8_kt);
}

void eng_kq_pack_act_t(struct eng_pool *p, struct eng_act *a, void *buf)
{
	(void)p;
	eng_q8k_to_t(a->q8k, buf, (int64_t)a->n_tok * (a->cols / ENG_QK_K));
	a->packed = buf;
}

/* ---- the entries of the AVX2 kernel table ---- */

void eng_mm_q4_k_x86(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (w->layout == ENG_LAYOUT_KQ_T) {
		if (a->packed)
			mm_q4_kt_avx2(w, a, y, r0, r1);
		else /* no buffer for the T order (out of memory): the reference reads the layout */
			eng_mm_q4_k_ref(w, a, y, r0, r1);
		return;
	}
	if (eng_kquant_isa() == 512)
		eng_mm_q4_k_avx512(w, a, y, r0, r1);
	else
		mm_q4_k_avx2(w, a, y, r0, r1);
}

void eng_mm_q5_k_x86(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (w->layout == ENG_LAYOUT_KQ_T) {
		if (a->packed)
			mm_q5_kt_avx2(w, a, y, r0, r1);
		else
			eng_mm_q5_k_ref(w, a, y, r0, r1);
		return;
	}
	mm_q5_k_avx2(w, a, y, r0, r1);
}

void eng_mm_q6_k_x86(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (eng_kquant_isa() == 512)
		eng_mm_q6_k_avx512(w, a, y, r0, r1);
	else
		mm_q6_k_avx2(w, a, y, r0, r1);
}

/* ---- activations to Q8_K ---- */

/*
 * eng_quantize_row_q8_k, bit for bit (as the AVX-512 version in kernels_kquant_avx512.c): the
 * first element of largest magnitude gives the scale, quants are round-to-nearest-even of is * x
 * capped at 127, and a NaN product (INT_MIN, which the reference's int8 cast truncates to 0) is
 * zeroed before the saturating packs. Sums of 16 from the stored bytes with vpsadbw.
 */
TGT void eng_quantize_row_q8_k_avx2(const float *x, struct eng_block_q8_k *y, int64_t n)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	const __m256i cap = _mm256_set1_epi32(127), nan_q = _mm256_set1_epi32(INT32_MIN);
	const __m256i bias = _mm256_set1_epi8((char)0x80), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);

	for (int64_t b = 0; b < n / ENG_QK_K; b++, x += ENG_QK_K) {
		__m256 m = _mm256_setzero_ps(), vam, vis;
		__m128 m4;
		float amax, max = 0, is;

		for (int i = 0; i < 32; i++)
			m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i)), m);
		m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
		m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
		m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
		amax = _mm_cvtss_f32(m4);
		if (!(amax > 0)) {
			memset(&y[b], 0, sizeof y[b]);
			continue;
		}
		vam = _mm256_set1_ps(amax);
		for (int i = 0; i < 32; i++) {
			int k = _mm256_movemask_ps(
				_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i)), vam, _CMP_EQ_OQ));

			if (k) {
				max = x[8 * i + __builtin_ctz((unsigned)k)];
				break;
			}
		}
		is = -127.0f / max;
		vis = _mm256_set1_ps(is);
		for (int j = 0; j < 8; j++) {
			__m256i v[4], q, sad;

			for (int i = 0; i < 4; i++) {
				v[i] = _mm256_cvtps_epi32(_mm256_mul_ps(vis, _mm256_loadu_ps(x + 32 * j + 8 * i)));
				v[i] = _mm256_min_epi32(v[i], cap);
				v[i] = _mm256_andnot_si256(_mm256_cmpeq_epi32(v[i], nan_q), v[i]);
			}
			/* packs interleave 128-bit lanes: [0l 1l 0h 1h] then bytes [a0 a1 b0 b1 a2 a3 b2 b3]
			 * in dwords of 4; the permute puts elements back in order */
			q = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
			q = _mm256_permutevar8x32_epi32(q, order);
			_mm256_storeu_si256((__m256i *)(y[b].qs + 32 * j), q);
			/* qwords 0, 1: group 2j; 2, 3: group 2j + 1; each offset by 8 * 128 */
			sad = _mm256_sad_epu8(_mm256_xor_si256(q, bias), _mm256_setzero_si256());
			sad = _mm256_add_epi64(sad, _mm256_shuffle_epi32(sad, 0x4e));
			y[b].bsums[2 * j] = (int16_t)(_mm256_extract_epi64(sad, 0) - 16 * 128);
			y[b].bsums[2 * j + 1] = (int16_t)(_mm256_extract_epi64(sad, 2) - 16 * 128);
		}
		y[b].d = 1 / is;
	}
}

#endif /* __x86_64__ */
