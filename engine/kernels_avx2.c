/*
 * engine/kernels_avx2.c — AVX2 + FMA + F16C kernels for x86-64.
 *
 * Every function here carries __attribute__((target("avx2,fma,f16c"))), so the file builds into
 * a binary for any x86-64 (`make ARCH=x86-64-v2`) and is only called after kernels.c has checked
 * CPUID.
 *
 * Matmul: register tiles of 4 weight rows x up to 4 tokens. A weight block is loaded (and, for
 * Q4_0, unpacked) once per tile and multiplied with every token of the tile; decode (one token)
 * is the 4 x 1 tile. Quantized weights meet Q8_0 activations in integer arithmetic:
 *   Q4_0: maddubs(nibbles 0..15 as unsigned bytes, q8 as signed bytes) gives pairs of products
 *         in int16 (|.| <= 2 * 15 * 127); three hadd_epi16 fold the four rows' partial sums
 *         (|.| <= 8 * 15 * 127 = 15240 < 32767) and one madd widens to int32. The "- 8" of each
 *         nibble comes back as 8 * d8 * sum(q8), precomputed once per activation block.
 *   Q8_0: maddubs(|w|, sign(x, w)) then madd to int32 and hadd_epi32 to fold the rows.
 * The per-row f16 scales of a block are converted four at a time with F16C. Where the build
 * targets a CPU with AVX-VNNI or AVX512-VNNI+VL (the default -march=native on such a CPU), the
 * byte dot products use vpdpbusd instead of maddubs + madd (Q8_0 prefill ~15% faster here); a
 * portable build (ARCH=x86-64-v2) keeps the AVX2 instructions.
 *
 * Prefetch: on the machines this was tuned on (a virtualised AMD EPYC) the hardware prefetchers
 * do not keep four interleaved row streams ahead of a compute-heavy loop, and a decode matvec
 * ran at a quarter of the memory bandwidth, bound by memory latency. Each tile therefore
 * prefetches ahead of the position it is reading in each of its four rows (two tiles below, or
 * 4 KiB further along very long rows), one line per row every 64 bytes, and a chunk starts by
 * requesting that whole window at once; that brought the Q4_0 matvec from ~6 to ~24 GB/s on one
 * thread (the speed the same kernel reaches on data already in cache).
 *
 * JB_KERNEL_SLOWDOWN (compile-time, off by default): makes the Q4_0 and Q8_0 matmul compute every
 * weight block's dot product a second time, reloading it, into a volatile sink. The results do
 * not change; the kernels do roughly twice the integer work. It exists to prove that the CI
 * regression gate catches a slowed kernel: `make EXTRA_CFLAGS=-DJB_KERNEL_SLOWDOWN`.
 */
#include "engine/kernels_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define JB_ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define TGT __attribute__((target("avx2,fma,f16c")))
#define TGT_INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c")))

TGT_INLINE float hsum_ps(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

TGT_INLINE float hmax_ps(__m256 v)
{
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

/* ---- activations to Q8_0 (bit-identical to eng_quantize_act_ref) ---- */

TGT static void quantize_act_avx2(const float *x, int64_t n, int8_t *qs, float *d, float *c)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);

	for (int64_t b = 0; b < n / ENG_QK8_0; b++) {
		const float *xb = x + b * ENG_QK8_0;
		__m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
		__m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
		__m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
					 _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
		float amax = hmax_ps(m);
		float db = amax / 127.0f;
		float id = db != 0.0f ? 1.0f / db : 0.0f;
		__m256 idv = _mm256_set1_ps(id);
		__m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, idv), JB_ROUND));
		__m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, idv), JB_ROUND));
		__m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, idv), JB_ROUND));
		__m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, idv), JB_ROUND));
		__m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
		__m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
		__m256i p;
		int sum;

		s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
		s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
		sum = _mm_cvtsi128_si32(s4);
		/* packs work per 128-bit lane; the permute puts the 32 bytes back in order */
		p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
		p = _mm256_permutevar8x32_epi32(p, perm);
		_mm256_storeu_si256((__m256i *)(qs + b * ENG_QK8_0), p);
		d[b] = eng_f16_to_f32(eng_f32_to_f16(db));
		c[b] = 8.0f * d[b] * (float)sum;
	}
}

/* ---- helpers for 4-row tiles ---- */

/* The f16 scales of block b of four rows, as 4 floats. */
TGT_INLINE __m128 scales4(const char *const *wr, int64_t b, size_t block_bytes)
{
	uint16_t h0, h1, h2, h3;
	__m128i h;

	memcpy(&h0, wr[0] + b * (int64_t)block_bytes, 2);
	memcpy(&h1, wr[1] + b * (int64_t)block_bytes, 2);
	memcpy(&h2, wr[2] + b * (int64_t)block_bytes, 2);
	memcpy(&h3, wr[3] + b * (int64_t)block_bytes, 2);
	h = _mm_cvtsi32_si128(h0);
	h = _mm_insert_epi16(h, h1, 1);
	h = _mm_insert_epi16(h, h2, 2);
	h = _mm_insert_epi16(h, h3, 3);
	return _mm_cvtph_ps(h);
}

/* Stores the 4 row results of token t; only the first nr rows are real. */
TGT_INLINE void store4(float *y, __m128 v, int nr)
{
	if (nr == 4) {
		_mm_storeu_ps(y, v);
	} else {
		float tmp[4];

		_mm_storeu_ps(tmp, v);
		for (int i = 0; i < nr; i++)
			y[i] = tmp[i];
	}
}

/* Folds four int16x16 row vectors into [r0 r1 r2 r3] int32 sums (inputs |.| <= 3810). */
__attribute__((unused)) TGT_INLINE __m128i fold4_epi16(__m256i m0, __m256i m1, __m256i m2, __m256i m3)
{
	__m256i h = _mm256_hadd_epi16(_mm256_hadd_epi16(m0, m1), _mm256_hadd_epi16(m2, m3));
	__m256i s = _mm256_madd_epi16(h, _mm256_set1_epi16(1));

	return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

/*
 * u8 x s8 dot products of 4-byte groups into int32 lanes: one VNNI instruction where the build
 * targets a CPU that has it (AVX-VNNI, or AVX512-VNNI with VL: -march=native on such a CPU),
 * else maddubs + madd. Exact in both cases for our ranges (|.| <= 4 * 255 * 127).
 */
#if defined(__AVXVNNI__)
#define JB_VNNI 1
TGT_INLINE __m256i dot_u8s8(__m256i u, __m256i s)
{
	return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s);
}
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define JB_VNNI 1
TGT_INLINE __m256i dot_u8s8(__m256i u, __m256i s)
{
	return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
}
#else
TGT_INLINE __m256i dot_u8s8(__m256i u, __m256i s)
{
	return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
#endif

/* Folds four int32x8 row vectors into [r0 r1 r2 r3]. */
TGT_INLINE __m128i fold4_epi32(__m256i m0, __m256i m1, __m256i m2, __m256i m3)
{
	__m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(m0, m1), _mm256_hadd_epi32(m2, m3));

	return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

#if defined(JB_KERNEL_SLOWDOWN)
static volatile int jb_slowdown_sink;
#endif

/*
 * Prefetch distance (see the top of the file): ENG_PF_TILES tiles below when that is at most
 * ENG_PF_MAX_BYTES ahead (every matrix of the 1B-8B shapes up to F32 x 2048 columns), else
 * ENG_PF_ROW_BYTES further along each row (very long rows). Measured on this machine, one thread
 * streaming from memory: 2 tiles ahead beat 2 KiB or 4 KiB along the row for Q8_0, F16 and F32
 * (e.g. Q8_0 32000x2048: 27-39 GB/s against 20-27 GB/s with 2 KiB), even where 8 rows are more
 * than L1 holds. At 2 threads every variant tried (1, 2 or 3 tiles; T0, T1 or NTA hints) gave the
 * same ~37 GB/s for a whole decode step's matmuls: memory-bound there. Both are overridable
 * (-DENG_PF_TILES=N, -DENG_PF_HINT=_MM_HINT_T1) for tuning on other machines.
 */
#ifndef ENG_PF_TILES
#define ENG_PF_TILES 2
#endif
#ifndef ENG_PF_HINT
#define ENG_PF_HINT _MM_HINT_T0
#endif
#ifndef ENG_PF_MAX_BYTES
#define ENG_PF_MAX_BYTES (64 * 1024)
#endif
#ifndef ENG_PF_ROW_BYTES
#define ENG_PF_ROW_BYTES 4096
#endif

TGT_INLINE int64_t pf_distance(const struct eng_mat *w)
{
	int64_t tiles = ENG_PF_TILES * 4 * (int64_t)w->row_bytes;

	return tiles <= ENG_PF_MAX_BYTES ? tiles : ENG_PF_ROW_BYTES;
}

/* A chunk starts with nothing in flight: fetch what the steady-state prefetch would already have
 * requested — the first ENG_PF_TILES tiles, or the first pfd bytes of each row of the first tile
 * — at once. */
TGT_INLINE void prefetch_chunk_start(const struct eng_mat *w, int64_t r0, int64_t r1, int64_t pfd)
{
	const char *base = (const char *)w->data;
	int64_t rb = (int64_t)w->row_bytes;

	if (pfd >= 4 * rb) {
		int64_t r_end = r0 + pfd / rb < r1 ? r0 + pfd / rb : r1;

		for (const char *p = base + r0 * rb; p < base + r_end * rb; p += 64)
			_mm_prefetch(p, ENG_PF_HINT);
		return;
	}
	for (int64_t r = r0; r < r0 + 4 && r < r1; r++)
		for (int64_t off = 0; off < pfd && off < rb; off += 64)
			_mm_prefetch(base + r * rb + off, ENG_PF_HINT);
}

/* Prefetches pfd bytes ahead of offset `off` in each of the four rows of a tile. In row mode a
 * position past the end of the row continues in the same row of the next tile (4 rows below),
 * which is what this stream reads next. With l2 (a constant at every call), into L2 instead:
 * see eng_mm_f16_avx2_l2. */
TGT_INLINE void prefetch_ahead(const char *const *wr, int64_t rb, int64_t pfd, int64_t off, const int l2)
{
	int64_t o = off + pfd;

	if (pfd < 4 * rb && o >= rb)
		o += 3 * rb;
	_Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) {
		if (l2)
			_mm_prefetch(wr[i] + o, _MM_HINT_T1);
		else
			_mm_prefetch(wr[i] + o, ENG_PF_HINT);
	}
}

/* ---- Q4_0 weights x Q8_0 activations ---- */

/* The 32 nibbles of a block as bytes 0..15 (element j at byte j): the 16 bytes are broadcast to
 * both halves and only the upper half is shifted right by 4 (a per-64-bit-lane shift count). */
TGT_INLINE __m256i unpack_q4(const struct eng_block_q4_0 *blk)
{
	__m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)blk->qs));

	return _mm256_and_si256(_mm256_srlv_epi64(raw, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

TGT_INLINE void q4_0_tile(const char *const *wr, const struct eng_act *a, int t0, const int nt, float *y,
			  int64_t rows, int64_t r, int nr, int64_t pfd, int64_t rb)
{
	__m128 acc[4] = { _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps() };
	const int8_t *xq[4];
	const float *xd[4], *xc[4];
#if defined(JB_KERNEL_SLOWDOWN)
	__m256i sink = _mm256_setzero_si256();
#endif

	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
		xq[t] = a->qs + (int64_t)(t0 + t) * a->cols;
		xd[t] = a->d + (int64_t)(t0 + t) * a->nb;
		xc[t] = a->c + (int64_t)(t0 + t) * a->nb;
	}
	for (int64_t b = 0; b < a->nb; b++) {
		const struct eng_block_q4_0 *b0 = (const struct eng_block_q4_0 *)wr[0] + b;
		const struct eng_block_q4_0 *b1 = (const struct eng_block_q4_0 *)wr[1] + b;
		const struct eng_block_q4_0 *b2 = (const struct eng_block_q4_0 *)wr[2] + b;
		const struct eng_block_q4_0 *b3 = (const struct eng_block_q4_0 *)wr[3] + b;
		__m128 dw;
		__m256i q0, q1, q2, q3;

		if ((b & 1) == 0) /* 36 bytes per row: every line gets one */
			prefetch_ahead(wr, rb, pfd, b * (int64_t)sizeof(struct eng_block_q4_0), 0);
		dw = scales4(wr, b, sizeof(struct eng_block_q4_0));
		q0 = unpack_q4(b0);
		q1 = unpack_q4(b1);
		q2 = unpack_q4(b2);
		q3 = unpack_q4(b3);

		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
			__m256i yv = _mm256_load_si256((const __m256i *)(xq[t] + b * ENG_QK4_0));
#if defined(JB_VNNI)
			__m128i s = fold4_epi32(dot_u8s8(q0, yv), dot_u8s8(q1, yv), dot_u8s8(q2, yv),
						dot_u8s8(q3, yv));
#else
			__m128i s = fold4_epi16(_mm256_maddubs_epi16(q0, yv), _mm256_maddubs_epi16(q1, yv),
						_mm256_maddubs_epi16(q2, yv), _mm256_maddubs_epi16(q3, yv));
#endif
			__m128 v = _mm_fmsub_ps(_mm_cvtepi32_ps(s), _mm_set1_ps(xd[t][b]), _mm_set1_ps(xc[t][b]));

			acc[t] = _mm_fmadd_ps(dw, v, acc[t]);
#if defined(JB_KERNEL_SLOWDOWN)
			{
				const char *const *vw = wr;

				__asm__ __volatile__("" : "+r"(vw) : : "memory");
				for (int i = 0; i < 4; i++) {
					__m256i qq = unpack_q4((const struct eng_block_q4_0 *)vw[i] + b);
					__m256i yy = _mm256_load_si256((const __m256i *)(xq[t] + b * ENG_QK4_0));

					sink = _mm256_add_epi32(sink, _mm256_madd_epi16(_mm256_maddubs_epi16(qq, yy),
											 _mm256_set1_epi16(1)));
				}
			}
#endif
		}
	}
	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)
		store4(y + (int64_t)(t0 + t) * rows + r, acc[t], nr);
#if defined(JB_KERNEL_SLOWDOWN)
	jb_slowdown_sink += _mm256_extract_epi32(sink, 0);
#endif
}

/* Row pointers of a 4-row tile starting at r (the missing rows of a short tile repeat the last). */
TGT_INLINE int tile_rows(const struct eng_mat *w, int64_t r, int64_t r1, const char **wr)
{
	int nr = r1 - r < 4 ? (int)(r1 - r) : 4;

	for (int i = 0; i < 4; i++)
		wr[i] = (const char *)w->data + (r + (i < nr ? i : nr - 1)) * (int64_t)w->row_bytes;
	return nr;
}

TGT static void mm_q4_0_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
			     int64_t r1)
{
	const int64_t pfd = pf_distance(w);

	prefetch_chunk_start(w, r0, r1, pfd);

	for (int64_t r = r0; r < r1; r += 4) {
		const char *wr[4];
		int nr = tile_rows(w, r, r1, wr);
		int t = 0;

		for (; t + 4 <= a->n_tok; t += 4)
			q4_0_tile(wr, a, t, 4, y, w->rows, r, nr, pfd, (int64_t)w->row_bytes);
		switch (a->n_tok - t) {
		case 3:
			q4_0_tile(wr, a, t, 3, y, w->rows, r, nr, pfd, (int64_t)w->row_bytes);
			break;
		case 2:
			q4_0_tile(wr, a, t, 2, y, w->rows, r, nr, pfd, (int64_t)w->row_bytes);
			break;
		case 1:
			q4_0_tile(wr, a, t, 1, y, w->rows, r, nr, pfd, (int64_t)w->row_bytes);
			break;
		}
	}
}

/* ---- Q8_0 weights x Q8_0 activations ---- */

TGT_INLINE __m256i dot_q8_pair(__m256i aw, __m256i w, __m256i x)
{
	/* |w| * (x with w's sign): unsigned x signed bytes; maddubs pairs stay <= 2 * 127 * 127 */
	return dot_u8s8(aw, _mm256_sign_epi8(x, w));
}

TGT_INLINE void q8_0_tile(const char *const *wr, const struct eng_act *a, int t0, const int nt, float *y,
			  int64_t rows, int64_t r, int nr, int64_t pfd, int64_t rb)
{
	__m128 acc[4] = { _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps() };
	const int8_t *xq[4];
	const float *xd[4];
#if defined(JB_KERNEL_SLOWDOWN)
	__m256i sink = _mm256_setzero_si256();
#endif

	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
		xq[t] = a->qs + (int64_t)(t0 + t) * a->cols;
		xd[t] = a->d + (int64_t)(t0 + t) * a->nb;
	}
	for (int64_t b = 0; b < a->nb; b++) {
		const struct eng_block_q8_0 *b0 = (const struct eng_block_q8_0 *)wr[0] + b;
		const struct eng_block_q8_0 *b1 = (const struct eng_block_q8_0 *)wr[1] + b;
		const struct eng_block_q8_0 *b2 = (const struct eng_block_q8_0 *)wr[2] + b;
		const struct eng_block_q8_0 *b3 = (const struct eng_block_q8_0 *)wr[3] + b;
		__m128 dw;
		__m256i w0, w1, w2, w3, a0, a1, a2, a3;

		/* 34 bytes per row and block: a line every other block, plus one now and then */
		prefetch_ahead(wr, rb, pfd, b * (int64_t)sizeof(struct eng_block_q8_0), 0);
		dw = scales4(wr, b, sizeof(struct eng_block_q8_0));
		w0 = _mm256_loadu_si256((const __m256i *)b0->qs);
		w1 = _mm256_loadu_si256((const __m256i *)b1->qs);
		w2 = _mm256_loadu_si256((const __m256i *)b2->qs);
		w3 = _mm256_loadu_si256((const __m256i *)b3->qs);
		a0 = _mm256_sign_epi8(w0, w0);
		a1 = _mm256_sign_epi8(w1, w1);
		a2 = _mm256_sign_epi8(w2, w2);
		a3 = _mm256_sign_epi8(w3, w3);

		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
			__m256i xv = _mm256_load_si256((const __m256i *)(xq[t] + b * ENG_QK8_0));
			__m128i s = fold4_epi32(dot_q8_pair(a0, w0, xv), dot_q8_pair(a1, w1, xv),
						dot_q8_pair(a2, w2, xv), dot_q8_pair(a3, w3, xv));

			acc[t] = _mm_fmadd_ps(_mm_mul_ps(dw, _mm_set1_ps(xd[t][b])), _mm_cvtepi32_ps(s), acc[t]);
#if defined(JB_KERNEL_SLOWDOWN)
			{
				const char *const *vw = wr;

				__asm__ __volatile__("" : "+r"(vw) : : "memory");
				for (int i = 0; i < 4; i++) {
					__m256i ww = _mm256_loadu_si256(
						(const __m256i *)((const struct eng_block_q8_0 *)vw[i] + b)->qs);

					sink = _mm256_add_epi32(sink, dot_q8_pair(_mm256_sign_epi8(ww, ww), ww, xv));
				}
			}
#endif
		}
	}
	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)
		store4(y + (int64_t)(t0 + t) * rows + r, acc[t], nr);
#if defined(JB_KERNEL_SLOWDOWN)
	jb_slowdown_sink += _mm256_extract_epi32(sink, 0);
#endif
}

TGT static void mm_q8_0_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
			     int64_t r1)
{
	const int64_t pfd = pf_distance(w);

	prefetch_chunk_start(w, r0, r1, pfd);

	for (int64_t r = r0; r < r1; r += 4) {
		const char *wr[4];
		int nr = tile_rows(w, r, r1, wr);
		int t = 0;

		for (; t + 4 <= a->n_tok; t += 4)
			q8_0_tile(wr, a, t, 4, y, w->rows, r, nr, pfd, (int64_t)w->row_bytes);
		switch (a->n_tok - t) {
		case 3:
			q8_0_tile(wr, a, t, 3, y, w->rows, r, nr, pfd, (int64_t)w->row_bytes);
			break;
		case 2:
			q8_0_tile(wr, a, t, 2, y, w->rows, r, nr, pfd, (int64_t)w->row_bytes);
			break;
		case 1:
			q8_0_tile(wr, a, t, 1, y, w->rows, r, nr, pfd, (int64_t)w->row_bytes);
			break;
		}
	}
}

/* ---- F16 / F32 weights x F32 activations: 4 rows x up to 2 tokens ---- */

TGT_INLINE __m256 load_w8(const char *row, int64_t i, int f16)
{
	if (f16)
		return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const eng_f16 *)row + i)));
	return _mm256_loadu_ps((const float *)row + i);
}

TGT_INLINE float load_w1(const char *row, int64_t i, int f16)
{
	return f16 ? eng_f16_to_f32(((const eng_f16 *)row)[i]) : ((const float *)row)[i];
}

TGT_INLINE void fp_tile(const char *const *wr, const struct eng_act *a, int t0, const int nt, float *y,
			int64_t rows, int64_t r, int nr, const int f16, int64_t pfd, int64_t rb, const int l2)
{
	__m256 acc[4][2];
	const float *x[2];
	int64_t n = a->cols, i = 0;

	for (int k = 0; k < 4; k++)
		acc[k][0] = acc[k][1] = _mm256_setzero_ps();
	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)
		x[t] = a->x + (int64_t)(t0 + t) * n;
	for (; i + 8 <= n; i += 8) {
		__m256 w0, w1, w2, w3;

		/* 32 (f32) or 16 (f16) bytes per row and step */
		if (!f16 || (i & 8) == 0)
			prefetch_ahead(wr, rb, pfd, i * (f16 ? 2 : 4), l2);
		w0 = load_w8(wr[0], i, f16);
		w1 = load_w8(wr[1], i, f16);
		w2 = load_w8(wr[2], i, f16);
		w3 = load_w8(wr[3], i, f16);

		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
			__m256 xv = _mm256_loadu_ps(x[t] + i);

			acc[0][t] = _mm256_fmadd_ps(w0, xv, acc[0][t]);
			acc[1][t] = _mm256_fmadd_ps(w1, xv, acc[1][t]);
			acc[2][t] = _mm256_fmadd_ps(w2, xv, acc[2][t]);
			acc[3][t] = _mm256_fmadd_ps(w3, xv, acc[3][t]);
		}
	}
	_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
		for (int k = 0; k < nr; k++) {
			float s = hsum_ps(acc[k][t]);

			for (int64_t j = i; j < n; j++)
				s += load_w1(wr[k], j, f16) * x[t][j];
			y[(int64_t)(t0 + t) * rows + r + k] = s;
		}
	}
}

TGT_INLINE void mm_fp_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
			   int64_t r1, const int f16, const int l2)
{
	const int64_t pfd = pf_distance(w);

	prefetch_chunk_start(w, r0, r1, pfd);

	for (int64_t r = r0; r < r1; r += 4) {
		const char *wr[4];
		int nr = tile_rows(w, r, r1, wr);
		int t = 0;

		for (; t + 2 <= a->n_tok; t += 2)
			fp_tile(wr, a, t, 2, y, w->rows, r, nr, f16, pfd, (int64_t)w->row_bytes, l2);
		if (t < a->n_tok)
			fp_tile(wr, a, t, 1, y, w->rows, r, nr, f16, pfd, (int64_t)w->row_bytes, l2);
	}
}

TGT static void mm_f16_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
			    int64_t r1)
{
	mm_fp_avx2(w, a, y, r0, r1, 1, 0);
}

TGT static void mm_f32_avx2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0,
			    int64_t r1)
{
	mm_fp_avx2(w, a, y, r0, r1, 0, 0);
}

/*
 * The same kernels prefetching into L2, for the AVX-512 set (kernels_avx512.c, which has no F16
 * or F32 kernel of its own). On the Zen 4 EPYC the four rows' prefetches into L1 ran out of its
 * miss buffers, as in that set's Q4_0/Q8_0 decode: F16 4096x2048 from DRAM, interleaved builds,
 * 15.0-16.4 -> 22.0-23.0 GB/s with 1 thread, 24.9-25.5 -> 28.9-29.2 with 2 (read 33-34 GB/s).
 * The AVX2 set keeps ENG_PF_HINT: the CPUs it runs on alone were not measured with this.
 */
TGT void eng_mm_f16_avx2_l2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_fp_avx2(w, a, y, r0, r1, 1, 1);
}

TGT void eng_mm_f32_avx2_l2(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	mm_fp_avx2(w, a, y, r0, r1, 0, 1);
}

/* ---- vector kernels ---- */

/*
 * e^x for 8 floats: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to degree 7
 * (truncation error < 6e-9 relative), 2^n through the exponent bits. x > 88 gives +inf,
 * x < -87 gives 0 (e^-87 ~ 1.6e-38, at the bottom of the normal floats).
 */
TGT_INLINE __m256 exp8(__m256 x)
{
	const __m256 hi = _mm256_set1_ps(88.0f), lo = _mm256_set1_ps(-87.0f);
	__m256 big = _mm256_cmp_ps(x, hi, _CMP_GT_OQ), tiny = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
	__m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
	__m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
				   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), xc);
	__m256 p;
	__m256i e;

	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
	p = _mm256_set1_ps(1.0f / 5040.0f);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	p = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
	p = _mm256_blendv_ps(p, _mm256_set1_ps(INFINITY), big);
	return _mm256_andnot_ps(tiny, p);
}

TGT static float dot_f32_avx2(const float *a, const float *b, int n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	int i = 0;
	float s;

	for (; i + 16 <= n; i += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	s = hsum_ps(_mm256_add_ps(s0, s1));
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

TGT static void axpy_f32_avx2(float *y, float a, const float *x, int n)
{
	__m256 av = _mm256_set1_ps(a);
	int i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * x[i];
}

TGT static void rmsnorm_avx2(float *o, const float *x, const float *weight, int n, float eps)
{
	float scale = 1.0f / sqrtf(dot_f32_avx2(x, x, n) / (float)n + eps);
	__m256 sv = _mm256_set1_ps(scale);
	int i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv),
						      _mm256_loadu_ps(weight + i)));
	for (; i < n; i++)
		o[i] = x[i] * scale * weight[i];
}

TGT static void softmax_avx2(float *x, int n)
{
	__m256 mv, sv = _mm256_setzero_ps();
	float max, sum, inv;
	int i = 0;

	if (n <= 0)
		return;
	max = x[0];
	if (n >= 8) {
		mv = _mm256_loadu_ps(x);
		for (i = 8; i + 8 <= n; i += 8)
			mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
		max = hmax_ps(mv);
	}
	for (; i < n; i++)
		max = fmaxf(max, x[i]);
	mv = _mm256_set1_ps(max);
	for (i = 0; i + 8 <= n; i += 8) {
		__m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));

		_mm256_storeu_ps(x + i, e);
		sv = _mm256_add_ps(sv, e);
	}
	sum = hsum_ps(sv);
	for (; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	inv = 1.0f / sum;
	sv = _mm256_set1_ps(inv);
	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), sv));
	for (; i < n; i++)
		x[i] *= inv;
}

TGT static void swiglu_avx2(float *a, const float *b, int n)
{
	const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
	int i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 v = _mm256_loadu_ps(a + i);
		__m256 s = _mm256_div_ps(v, _mm256_add_ps(one, exp8(_mm256_xor_ps(v, neg))));

		_mm256_storeu_ps(a + i, _mm256_mul_ps(s, _mm256_loadu_ps(b + i)));
	}
	for (; i < n; i++)
		a[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
}

/* The rotation angles are the reference's (same float formula), computed once per call for all
 * heads; the rotation itself runs 4 pairs at a time. */
#define ROPE_MAX_DIM 1024
TGT static void rope_avx2(float *v, int n_heads, int head_dim, int rope_dim, int pos, float theta)
{
	float cs[ROPE_MAX_DIM], sn[ROPE_MAX_DIM]; /* cos duplicated, sin as (-s, +s) */

	if (rope_dim > ROPE_MAX_DIM) {
		eng_rope_ref(v, n_heads, head_dim, rope_dim, pos, theta);
		return;
	}
	for (int i = 0; i < rope_dim; i += 2) {
		float freq = powf(theta, -(float)i / (float)rope_dim);
		float ang = (float)pos * freq;
		float c = cosf(ang), s = sinf(ang);

		cs[i] = cs[i + 1] = c;
		sn[i] = -s;
		sn[i + 1] = s;
	}
	for (int h = 0; h < n_heads; h++) {
		float *hv = v + (int64_t)h * head_dim;
		int i = 0;

		for (; i + 8 <= rope_dim; i += 8) {
			__m256 x = _mm256_loadu_ps(hv + i);
			__m256 sw = _mm256_permute_ps(x, 0xb1); /* swap each pair */

			_mm256_storeu_ps(hv + i, _mm256_fmadd_ps(x, _mm256_loadu_ps(cs + i),
								 _mm256_mul_ps(sw, _mm256_loadu_ps(sn + i))));
		}
		for (; i < rope_dim; i += 2) {
			float v0 = hv[i], v1 = hv[i + 1];

			hv[i] = v0 * cs[i] + v1 * sn[i];
			hv[i + 1] = v1 * cs[i] + v0 * sn[i + 1];
		}
	}
}

const struct eng_kernel_set eng_kset_avx2 = {
	.name = "avx2+fma",
	.mm = {
		[ENG_TYPE_F32] = mm_f32_avx2,
		[ENG_TYPE_F16] = mm_f16_avx2,
		[ENG_TYPE_Q4_0] = mm_q4_0_avx2,
		[ENG_TYPE_Q8_0] = mm_q8_0_avx2,
		[ENG_TYPE_Q4_1] = eng_mm_q4_1_avx2,
		[ENG_TYPE_Q5_0] = eng_mm_q5_0_avx2,
		[ENG_TYPE_Q5_1] = eng_mm_q5_1_avx2,
		[ENG_TYPE_Q2_K] = eng_mm_q2_k_avx2,
		[ENG_TYPE_Q3_K] = eng_mm_q3_k_avx2,
		[ENG_TYPE_Q4_K] = eng_mm_q4_k_x86,
		[ENG_TYPE_Q5_K] = eng_mm_q5_k_x86,
		[ENG_TYPE_Q6_K] = eng_mm_q6_k_x86,
	},
	.weight_layout = eng_kq_weight_layout_avx2,
	.packed_bytes_k = eng_kq_packed_bytes_t,
	.pack_act_k = eng_kq_pack_act_t,
	.quantize_act = quantize_act_avx2,
	.quantize_act_k = eng_quantize_row_q8_k_avx2,
	.rmsnorm = rmsnorm_avx2,
	.softmax = softmax_avx2,
	.rope = rope_avx2,
	.swiglu = swiglu_avx2,
	.dot_f32 = dot_f32_avx2,
	.axpy_f32 = axpy_f32_avx2,
};

#endif /* __x86_64__ */
