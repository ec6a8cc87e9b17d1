/*
 * engine/kernels_avx512.c — AVX-512 (F/BW/VL/DQ) + AVX-512 VNNI kernels for x86-64.
 *
 * Every function carries a target attribute, so the file builds into a binary for any x86-64
 * (`make ARCH=x86-64-v2`) and is only called after kernels.c has checked CPUID (avx512f, bw, vl,
 * vnni and the OS saving the ZMM state). What this set does not do itself it hands to the AVX2
 * set (vector kernels, F16/F32 matmuls).
 *
 * Q4_0 / Q8_0 batches (prefill, n_tok >= ENG_AVX512_GEMM_MIN_TOK): a GEMM whose vector lanes are
 * 16 tokens. eng_matmul quantizes the activations to Q8_0 once per call and this set's pack_act
 * rearranges them once per call (shared by every thread and every matrix of a multi-matmul) into
 * tiles of 16 tokens: for each block of 32 columns, 8 steps of [16 tokens x 4 bytes] (one ZMM
 * each), then the 16 tokens' negated block sums and scales. A weight row then contributes 4 bytes
 * per step, broadcast to all 16 lanes straight from the row (no weight repacking), and one
 * vpdpbusd multiplies them with 4 bytes of each of 16 tokens:
 *   Q4_0: the nibbles 0..15 are the unsigned operand, the activations the signed one; the "- 8"
 *         comes back by starting the block's integer sum at -8 * sum(x quants).
 *   Q8_0: the weights become unsigned by w + 128 (xor 0x80) and the sum starts at
 *         -128 * sum(x quants), which removes the 128 * sum(x) the offset adds.
 * Either way the block's integer dot product of every (row, token) pair is exact, and it is scaled
 * and added exactly as the reference does it, (d_w * d_x) * (float)sum, block after block, so the
 * results are bit-identical to eng_kset_ref's. Register tile: 4 rows x 2 token tiles (32 tokens;
 * the last 1-3 rows of a chunk 2 rows x 4 tiles), 8 integer and 8 float accumulators; each
 * broadcast weight dword is used by every token tile and each activation step by every row.
 * Single thread, 5632x2048 Q4_0 x 64 tokens: ~150 GMAC/s of CPU time against ~46 for the AVX2
 * tiles on the Zen 4 this was tuned on.
 *
 * Decode (one token) and small batches: Q4_0 / Q8_0 matvec with the weight rows in ZMM registers,
 * two blocks (64 weights) per register and 4 rows per tile; the int32 lanes of each block are
 * reduced to one sum per (row, block) before the float arithmetic, which again follows the
 * reference's order, so decode is bit-identical too. Prefetching follows kernels_avx2.c (see
 * there): the same rows two tiles below. One thread, Q4_0 from memory: ~30 GB/s of weights
 * against ~22 for the AVX2 kernel; Q8_0 about the same as AVX2.
 *
 * JB_KERNEL_SLOWDOWN (the CI gate check, see kernels_avx2.c) runs each Q4_0 / Q8_0 kernel twice.
 *
 * AMX-INT8 tiles are not used: the machines this was written and tested on (AMD EPYC, Zen 4) have
 * no AMX, and untested kernels are not shipped. The ISA table in kernels.c is where an AMX set
 * (and the K-quant kernels for AVX-512) would be added.
 */
#include "engine/kernels_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define TGT_INLINE                                                                                        \
	static inline __attribute__((always_inline,                                                       \
				     target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

/* ---- packed activations ---- */

/*
 * One token tile (16 tokens) of one block of 32 columns, as pack_act lays it out:
 *   q[s][l][k]: quant 4s + k of token l of the tile (s < 8, k < 4): the signed operand of step s;
 *   neg_sum[l]: -(sum of token l's 32 quants);
 *   d[l]:       token l's block scale (as eng_act.d).
 * Tokens past n_tok are zeros. Tile t's blocks are contiguous: tile base + b * sizeof.
 */
struct pk_block {
	int8_t q[8][16][4];
	int32_t neg_sum[16];
	float d[16];
};
static_assert(sizeof(struct pk_block) == 640, "packed block is 640 bytes");

/*
 * Small batches (ENG_AVX512_GEMM8_MIN_TOK..8 tokens: batched decode of a few sequences) would
 * leave half or more of the 16 lanes empty. They use a tile of 8 tokens instead, two lanes per
 * token: lane 2l holds quants 8k..8k+3 of token l, lane 2l + 1 quants 8k+4..8k+7, so one step
 * covers 8 bytes of each token and the weight operand is 8 bytes broadcast to every lane pair.
 * The pair's two partial sums are added (one shuffle) before the float arithmetic, which stays
 * the reference's, so these results are bit-identical too.
 *   q[k][l][*]: quants 8k..8k+7 of token l (k < 4);
 *   neg_sum[2l]: -(sum of token l's 32 quants), neg_sum[2l + 1] = 0;
 *   d[2l], d[2l + 1]: token l's block scale.
 */
struct pk8_block {
	int8_t q[4][8][8];
	int32_t neg_sum[16];
	float d[16];
};
static_assert(sizeof(struct pk8_block) == 384, "packed 8-token block is 384 bytes");

#define ENG_AVX512_GEMM_MIN_TOK 9
#define ENG_AVX512_GEMM8_MIN_TOK 4

static size_t packed_bytes_avx512(const struct eng_act *a)
{
	int64_t tiles = (a->n_tok + 15) / 16;

	if (a->n_tok >= ENG_AVX512_GEMM8_MIN_TOK && a->n_tok <= 8)
		return (size_t)a->nb * sizeof(struct pk8_block);
	if (a->n_tok < ENG_AVX512_GEMM_MIN_TOK)
		return 0;
	return (size_t)tiles * (size_t)a->nb * sizeof(struct pk_block);
}

/* One 8-token tile (a->n_tok <= 8). */
TGT static void pack8(const struct eng_act *a, struct pk8_block *pk)
{
	memset(pk, 0, (size_t)a->nb * sizeof *pk);
	for (int l = 0; l < a->n_tok; l++) {
		const int8_t *xq = a->qs + (int64_t)l * a->cols;
		const float *xd = a->d + (int64_t)l * a->nb;

		for (int64_t b = 0; b < a->nb; b++) {
			const int8_t *src = xq + b * 32;
			int sum = 0;

			for (int k = 0; k < 4; k++)
				memcpy(pk[b].q[k][l], src + 8 * k, 8);
			for (int k = 0; k < 32; k++)
				sum += src[k];
			pk[b].neg_sum[2 * l] = -sum;
			pk[b].d[2 * l] = pk[b].d[2 * l + 1] = xd[b];
		}
	}
}

struct pack_job {
	const struct eng_act *a;
	struct pk_block *out;
	int64_t tiles;
};

/* Packs token tiles ith, ith + nth, ... */
TGT static void pack_worker(void *arg, int ith, int nth)
{
	const struct pack_job *j = arg;
	const struct eng_act *a = j->a;

	for (int64_t t = ith; t < j->tiles; t += nth) {
		struct pk_block *pk = j->out + t * a->nb;

		memset(pk, 0, (size_t)a->nb * sizeof *pk);
		for (int l = 0; l < 16 && t * 16 + l < a->n_tok; l++) {
			int64_t tok = t * 16 + l;
			const int8_t *xq = a->qs + tok * a->cols;
			const float *xd = a->d + tok * a->nb;

			for (int64_t b = 0; b < a->nb; b++) {
				const int8_t *src = xq + b * 32;
				__m256i v = _mm256_loadu_si256((const __m256i *)src);
				__m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), v);
				__m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
				uint32_t w[8];

				h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
				h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
				_mm256_storeu_si256((__m256i *)w, v);
				for (int st = 0; st < 8; st++)
					memcpy(pk[b].q[st][l], &w[st], 4);
				pk[b].neg_sum[l] = -_mm_cvtsi128_si32(h);
				pk[b].d[l] = xd[b];
			}
		}
	}
}

/* Runs on the dispatching thread (p may be NULL) before the row kernels. */
static void pack_act_avx512(struct eng_pool *p, struct eng_act *a, void *buf)
{
	struct pack_job j = { .a = a, .out = buf, .tiles = (a->n_tok + 15) / 16 };

	if (a->n_tok <= 8) {
		pack8(a, buf);
		a->packed = buf;
		return;
	}
	if (p && j.tiles > 1 && !eng_pool_in_job())
		eng_pool_run(p, pack_worker, &j);
	else
		pack_worker(&j, 0, 1);
	a->packed = buf;
}

/* Prefetch distance, as in kernels_avx2.c: two tiles (8 rows) below when that is at most 64 KiB,
 * else 4 KiB further along the row. */
TGT_INLINE int64_t pf_distance(const struct eng_mat *w)
{
	int64_t tiles = 2 * 4 * (int64_t)w->row_bytes;

	return tiles <= 64 * 1024 ? tiles : 4096;
}

/* A chunk starts with nothing in flight: request what the steady state would already have. */
TGT_INLINE void prefetch_chunk_start(const struct eng_mat *w, int64_t r0, int64_t r1, int64_t pfd)
{
	const char *base = (const char *)w->data;
	int64_t rb = (int64_t)w->row_bytes;

	if (pfd >= 4 * rb) {
		int64_t r_end = r0 + pfd / rb < r1 ? r0 + pfd / rb : r1;

		for (const char *p = base + r0 * rb; p < base + r_end * rb; p += 64)
			_mm_prefetch(p, _MM_HINT_T0);
		return;
	}
	for (int64_t r = r0; r < r0 + 4 && r < r1; r++)
		for (int64_t off = 0; off < pfd && off < rb; off += 64)
			_mm_prefetch(base + r * rb + off, _MM_HINT_T0);
}

/* ---- GEMM: R rows x TT token tiles ---- */

/* The f16 scale of block b of a row. */
TGT_INLINE float row_scale(const char *row, int64_t b, size_t block_bytes)
{
	uint16_t h;

	memcpy(&h, row + b * (int64_t)block_bytes, 2);
	return _cvtsh_ss(h);
}

TGT_INLINE __m512i bcast_u32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return _mm512_set1_epi32((int)v);
}

/*
 * acc[i][j] (float, 16 tokens of tile t0 + j, row r + i) over every block; q4 selects the weight
 * format. Rows past nr repeat the last row (their results are not stored).
 */
TGT_INLINE void gemm_tile(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r, const int R,
			  int nr, int64_t t0, const int TT, const int q4)
{
	const struct pk_block *pk[4];
	const char *wr[4];
	const size_t bsz = q4 ? sizeof(struct eng_block_q4_0) : sizeof(struct eng_block_q8_0);
	__m512 acc[4][4];
	const __m512i m0f = _mm512_set1_epi8(0x0f), m80 = _mm512_set1_epi8((char)0x80);

	_Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
		wr[i] = (const char *)w->data + (r + (i < nr ? i : nr - 1)) * (int64_t)w->row_bytes;
	_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
		pk[j] = (const struct pk_block *)a->packed + (t0 + j) * a->nb;
	_Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
		_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
			acc[i][j] = _mm512_setzero_ps();

	for (int64_t b = 0; b < a->nb; b++) {
		__m512i isum[4][4];

		_Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
			_mm_prefetch(wr[i] + (b + 8) * (int64_t)bsz, _MM_HINT_T0);
		_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++) {
			__m512i init = _mm512_slli_epi32(_mm512_loadu_si512(pk[j][b].neg_sum), q4 ? 3 : 7);

			_Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
				isum[i][j] = init;
		}
		if (q4) {
			_Pragma("GCC unroll 4") for (int g = 0; g < 4; g++) {
				_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
					const struct eng_block_q4_0 *blk = (const struct eng_block_q4_0 *)wr[i] + b;
					__m512i raw = bcast_u32(blk->qs + 4 * g);
					__m512i lo = _mm512_and_si512(raw, m0f);
					__m512i hi = _mm512_and_si512(_mm512_srli_epi32(raw, 4), m0f);

					_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++) {
						isum[i][j] = _mm512_dpbusd_epi32(
							isum[i][j], lo, _mm512_loadu_si512(pk[j][b].q[g]));
						isum[i][j] = _mm512_dpbusd_epi32(
							isum[i][j], hi, _mm512_loadu_si512(pk[j][b].q[4 + g]));
					}
				}
			}
		} else {
			_Pragma("GCC unroll 8") for (int s = 0; s < 8; s++) {
				_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
					const struct eng_block_q8_0 *blk = (const struct eng_block_q8_0 *)wr[i] + b;
					__m512i wu = _mm512_xor_si512(bcast_u32(blk->qs + 4 * s), m80);

					_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
						isum[i][j] = _mm512_dpbusd_epi32(isum[i][j], wu,
										 _mm512_loadu_si512(pk[j][b].q[s]));
				}
			}
		}
		_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
			__m512 dw = _mm512_set1_ps(row_scale(wr[i], b, bsz));

			_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++) {
				/* the reference's order: (d_w * d_x) * (float)sum, then added */
				__m512 sc = _mm512_mul_ps(dw, _mm512_loadu_ps(pk[j][b].d));

				acc[i][j] = _mm512_add_ps(acc[i][j], _mm512_mul_ps(sc, _mm512_cvtepi32_ps(isum[i][j])));
			}
		}
	}
	_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++) {
		int64_t tok0 = (t0 + j) * 16;
		int nt = a->n_tok - tok0 < 16 ? (int)(a->n_tok - tok0) : 16;

		_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
			float v[16];

			if (i >= nr)
				break;
			_mm512_storeu_ps(v, acc[i][j]);
			for (int l = 0; l < nt; l++)
				y[(tok0 + l) * w->rows + r + i] = v[l];
		}
	}
}

TGT_INLINE void gemm_rows(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1,
			  const int q4)
{
	int64_t tiles = (a->n_tok + 15) / 16;

	for (int64_t r = r0; r < r1;) {
		int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
		int64_t t = 0;

		if (nr == 4) {
			/* 4 rows x 2 tiles (odd counts end with 4 x 1): measured 5-20% faster than 2 x 4 at
			 * 64 tokens (more reuse of each activation step, which comes from L2) */
			for (; t + 2 <= tiles; t += 2)
				gemm_tile(w, a, y, r, 4, 4, t, 2, q4);
			if (t < tiles)
				gemm_tile(w, a, y, r, 4, 4, t, 1, q4);
			r += 4;
			continue;
		}
		/* the last 1-3 rows: 2 rows x 4 tiles */
		nr = r1 - r < 2 ? (int)(r1 - r) : 2;
		for (; t + 4 <= tiles; t += 4)
			gemm_tile(w, a, y, r, 2, nr, t, 4, q4);
		switch (tiles - t) {
		case 3: gemm_tile(w, a, y, r, 2, nr, t, 3, q4); break;
		case 2: gemm_tile(w, a, y, r, 2, nr, t, 2, q4); break;
		case 1: gemm_tile(w, a, y, r, 2, nr, t, 1, q4); break;
		}
		r += nr;
	}
}

/* ---- GEMM of small batches: 4 rows x one 8-token tile (struct pk8_block) ---- */

TGT_INLINE __m512i bcast_u64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return _mm512_set1_epi64((long long)v);
}

/*
 * The decode kernels' prefetches (this tile of 4-8 tokens and the matvec below) go to L2 (T1),
 * not L1: a prefetch into L1 holds one of the L1's few miss buffers for the whole trip to DRAM,
 * and with four rows in flight they run out; L2 tracks many more misses, and the hop from L2 to
 * L1 is short. Interleaved runs on the Zen 4 EPYC (8192x2048 from DRAM): Q4_0 with 1 thread
 * 10.0-11.0 -> 19.5-19.8 GB/s of weights, with 2 14-20 -> 25-26 GB/s (read bandwidth 30-35
 * GB/s); Q8_0 12.4-13.2 -> 17.8-25.4 with 1 thread and 22.6-23.1 -> 45.1-47.6 with 2 (read 60
 * GB/s). Measured on that CPU only: -DMV_PF_HINT=... to tune elsewhere.
 */
#ifndef MV_PF_HINT
#define MV_PF_HINT _MM_HINT_T1
#endif
TGT_INLINE void gemm8_tile(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r, int nr, int64_t pfd,
			   const int q4)
{
	const struct pk8_block *pk = a->packed;
	const size_t bsz = q4 ? sizeof(struct eng_block_q4_0) : sizeof(struct eng_block_q8_0);
	const __m512i m0f = _mm512_set1_epi8(0x0f), m80 = _mm512_set1_epi8((char)0x80);
	const char *wr[4];
	__m512 acc[2] = { _mm512_setzero_ps(), _mm512_setzero_ps() };

	_Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)
		wr[i] = (const char *)w->data + (r + (i < nr ? i : nr - 1)) * (int64_t)w->row_bytes;
	for (int64_t b = 0; b < a->nb; b++) {
		__m512i isum[4], init = _mm512_slli_epi32(_mm512_loadu_si512(pk[b].neg_sum), q4 ? 3 : 7);
		__m512 dx = _mm512_loadu_ps(pk[b].d);

		{
			/* as matvec_rows: pfd bytes ahead, the same rows two tiles below (a batch of 8 is
			 * still memory-bound when the weights come from DRAM) */
			int64_t o = b * (int64_t)bsz + pfd;

			if (pfd < 4 * (int64_t)w->row_bytes && o >= (int64_t)w->row_bytes)
				o += 3 * (int64_t)w->row_bytes;
			/* one line per row every 64 bytes at most: each Q8_0 block (34 bytes), every
			 * other Q4_0 block (18); into L2 as the matvec's (MV_PF_HINT): 2 threads,
			 * 8192x2048 from DRAM, interleaved builds, Q8_0 x 4 or 8 tokens faster in 14 of
			 * 16 pairs, typically 19-22 -> 22-26 GB/s of weights; Q4_0, bound by its
			 * arithmetic, 11.0-13.2 -> 13.0-14.2 in 5 of 6 */
			if (!q4 || !(b & 1))
				_Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)
					_mm_prefetch(wr[i] + o, MV_PF_HINT);
			_Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)
				isum[i] = init;
		}
		if (q4) {
			_Pragma("GCC unroll 2") for (int k = 0; k < 2; k++)
				_Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) {
					const struct eng_block_q4_0 *blk = (const struct eng_block_q4_0 *)wr[i] + b;
					__m512i raw = bcast_u64(blk->qs + 8 * k);

					isum[i] = _mm512_dpbusd_epi32(isum[i], _mm512_and_si512(raw, m0f),
								      _mm512_loadu_si512(pk[b].q[k]));
					isum[i] = _mm512_dpbusd_epi32(isum[i], _mm512_and_si512(_mm512_srli_epi32(raw, 4), m0f),
								      _mm512_loadu_si512(pk[b].q[2 + k]));
				}
		} else {
			_Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
				_Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) {
					const struct eng_block_q8_0 *blk = (const struct eng_block_q8_0 *)wr[i] + b;

					isum[i] = _mm512_dpbusd_epi32(isum[i], _mm512_xor_si512(bcast_u64(blk->qs + 8 * k), m80),
								      _mm512_loadu_si512(pk[b].q[k]));
				}
		}
		_Pragma("GCC unroll 2") for (int p = 0; p < 2; p++) {
			/* rows 2p and 2p + 1 share a register: lane 2l gets row 2p's pair sum for token l,
			 * lane 2l + 1 row 2p + 1's; then the reference's order, (d_w * d_x) * (float)sum */
			const __m512i si = isum[2 * p], sj = isum[2 * p + 1];
			__m512i s = _mm512_add_epi32(_mm512_mask_blend_epi32(0xaaaa, si, sj),
						     _mm512_shuffle_epi32(_mm512_mask_blend_epi32(0xaaaa, sj, si),
									  _MM_PERM_CDAB));
			uint16_t hi, hj;
			__m128 dw;
			__m512 sc;

			memcpy(&hi, wr[2 * p] + b * (int64_t)bsz, 2);
			memcpy(&hj, wr[2 * p + 1] + b * (int64_t)bsz, 2);
			dw = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)hi | (uint32_t)hj << 16)));
			sc = _mm512_mul_ps(_mm512_castpd_ps(_mm512_broadcastsd_pd(_mm_castps_pd(dw))), dx);
			acc[p] = _mm512_add_ps(acc[p], _mm512_mul_ps(sc, _mm512_cvtepi32_ps(s)));
		}
	}
	_Pragma("GCC unroll 2") for (int p = 0; p < 2; p++) {
		float v[16];

		_mm512_storeu_ps(v, acc[p]);
		for (int l = 0; l < a->n_tok; l++) {
			y[(int64_t)l * w->rows + r + 2 * p] = v[2 * l];
			if (2 * p + 1 < nr)
				y[(int64_t)l * w->rows + r + 2 * p + 1] = v[2 * l + 1];
		}
		if (2 * p + 2 >= nr)
			break;
	}
}

TGT_INLINE void gemm8_rows(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1,
			   const int q4)
{
	const int64_t pfd = pf_distance(w);

	prefetch_chunk_start(w, r0, r1, pfd);
	for (int64_t r = r0; r < r1; r += 4)
		gemm8_tile(w, a, y, r, r1 - r < 4 ? (int)(r1 - r) : 4, pfd, q4);
}

/* ---- matvec (decode): 4 rows x 2 blocks per step ---- */

/* Sums of the 8 int32 lanes of each 256-bit half of v0..v3 (row i, block b + h):
 * result lane 4h + i... returned as [r0b0 r1b0 r2b0 r3b0 | r0b1 r1b1 r2b1 r3b1] in a YMM. */
TGT_INLINE __m256i reduce4x2(__m512i v0, __m512i v1, __m512i v2, __m512i v3)
{
	/* per 128-bit lane: [v0 a+c, v1 a+c, v0 b+d, v1 b+d] */
	__m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(v0, v1), _mm512_unpackhi_epi32(v0, v1));
	__m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(v2, v3), _mm512_unpackhi_epi32(v2, v3));
	/* per 128-bit lane: [r0 r1 r2 r3] partial sums over that lane's 4 dwords of each row */
	__m512i u = _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
	/* lanes 0+1 (block b) and 2+3 (block b + 1) */
	__m512i sw = _mm512_shuffle_i32x4(u, u, _MM_SHUFFLE(2, 3, 0, 1));
	__m512i s = _mm512_add_epi32(u, sw); /* lanes 0 and 2 hold the sums */

	return _mm512_castsi512_si256(_mm512_shuffle_i32x4(s, s, _MM_SHUFFLE(2, 0, 2, 0)));
}

/* Two Q4_0 blocks' nibbles as 64 bytes 0..15, element order. */
TGT_INLINE __m512i unpack_q4x2(const struct eng_block_q4_0 *blk)
{
	__m256i lo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)blk[0].qs));
	__m256i hi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)blk[1].qs));
	__m512i raw = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);

	return _mm512_and_si512(_mm512_srlv_epi64(raw, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4)),
				_mm512_set1_epi8(0x0f));
}

TGT_INLINE __m512i load_q8x2(const struct eng_block_q8_0 *blk)
{
	__m256i lo = _mm256_loadu_si256((const __m256i *)blk[0].qs);
	__m256i hi = _mm256_loadu_si256((const __m256i *)blk[1].qs);

	return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Blocks b and b + 1 of a row as the unsigned operand: Q4_0 nibbles, Q8_0 quants + 128. */
TGT_INLINE __m512i wbytes(const char *row, int64_t b, const int q4)
{
	if (q4)
		return unpack_q4x2((const struct eng_block_q4_0 *)row + b);
	return _mm512_xor_si512(load_q8x2((const struct eng_block_q8_0 *)row + b), _mm512_set1_epi8((char)0x80));
}

/* The f16 scales of block k of four rows, as 4 floats. */
TGT_INLINE __m128 scales4(const char *const *wr, int64_t k, size_t bsz)
{
	uint16_t h0, h1, h2, h3;

	/* assembled in a register: four 2-byte stores read back as one 8-byte load would stall */
	memcpy(&h0, wr[0] + k * (int64_t)bsz, 2);
	memcpy(&h1, wr[1] + k * (int64_t)bsz, 2);
	memcpy(&h2, wr[2] + k * (int64_t)bsz, 2);
	memcpy(&h3, wr[3] + k * (int64_t)bsz, 2);
	return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)((uint64_t)h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 |
							  (uint64_t)h3 << 48)));
}

/* Adds block k's sums of 4 rows, scaled, to acc in the reference's order: (d_w * d_x) * sum. */
TGT_INLINE __m128 scale_add(__m128 acc, __m128i isum, const char *const *wr, int64_t k, size_t bsz, float dx)
{
	return _mm_add_ps(acc, _mm_mul_ps(_mm_mul_ps(scales4(wr, k, bsz), _mm_set1_ps(dx)), _mm_cvtepi32_ps(isum)));
}

TGT_INLINE void matvec_rows(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1,
			    const int q4)
{
	const size_t bsz = q4 ? sizeof(struct eng_block_q4_0) : sizeof(struct eng_block_q8_0);
	const int64_t rb = (int64_t)w->row_bytes;
	const int64_t pfd = pf_distance(w);

	prefetch_chunk_start(w, r0, r1, pfd);
	for (int t = 0; t < a->n_tok; t++) {
		const int8_t *xq = a->qs + (int64_t)t * a->cols;
		const float *xd = a->d + (int64_t)t * a->nb;

		for (int64_t r = r0; r < r1; r += 4) {
			int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
			const char *const base = (const char *)w->data;
			const char *const wr[4] = { base + r * rb, base + (r + (nr > 1)) * rb, base + (r + (nr > 2 ? 2 : nr - 1)) * rb,
						    base + (r + (nr > 3 ? 3 : nr - 1)) * rb };
			__m128 acc = _mm_setzero_ps();
			int64_t b = 0;

			for (; b + 2 <= a->nb; b += 2) {
				__m512i xv = _mm512_loadu_si512(xq + b * 32);
				__m512i v0, v1, v2, v3, off;
				__m256i s;

				{
					/* pfd bytes ahead in each row: the same rows two tiles below, or further along
					 * very long rows (then wrapping into the next tile's rows) */
					int64_t o = b * (int64_t)bsz + pfd;

					if (pfd < 4 * rb && o >= rb)
						o += 3 * rb;
					_Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) {
						_mm_prefetch(wr[i] + o, MV_PF_HINT);
						if (!q4) /* 68 bytes per step */
							_mm_prefetch(wr[i] + o + 64, MV_PF_HINT);
					}
				}
				/* Q4_0: nibbles 0..15 (unsigned) x x; the "- 8" comes back by starting from
				 * -8 * (sum of each 4-group of x). Q8_0: w + 128 (unsigned) x x, starting from
				 * -128 * (sum of each 4-group of x). Exact int32 either way. */
				off = _mm512_sub_epi32(_mm512_setzero_si512(),
						       _mm512_dpbusd_epi32(_mm512_setzero_si512(),
									   _mm512_set1_epi8(q4 ? 8 : (char)0x80), xv));
				v0 = _mm512_dpbusd_epi32(off, wbytes(wr[0], b, q4), xv);
				v1 = _mm512_dpbusd_epi32(off, wbytes(wr[1], b, q4), xv);
				v2 = _mm512_dpbusd_epi32(off, wbytes(wr[2], b, q4), xv);
				v3 = _mm512_dpbusd_epi32(off, wbytes(wr[3], b, q4), xv);
				s = reduce4x2(v0, v1, v2, v3);
				{
					/* both blocks' (d_w * d_x) at once, then added block b first */
					__m256 dw = _mm256_insertf128_ps(_mm256_castps128_ps256(scales4(wr, b, bsz)),
									 scales4(wr, b + 1, bsz), 1);
					__m256 dx = _mm256_insertf128_ps(_mm256_set1_ps(xd[b]), _mm_set1_ps(xd[b + 1]), 1);
					__m256 p = _mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(s));

					acc = _mm_add_ps(acc, _mm256_castps256_ps128(p));
					acc = _mm_add_ps(acc, _mm256_extractf128_ps(p, 1));
				}
			}
			for (; b < a->nb; b++) { /* an odd last block */
				int32_t si[4];

				for (int i = 0; i < 4; i++) {
					const int8_t *xb = xq + b * 32;
					int sum = 0;

					if (q4) {
						const struct eng_block_q4_0 *blk = (const struct eng_block_q4_0 *)wr[i] + b;

						for (int k = 0; k < 16; k++)
							sum += ((blk->qs[k] & 0x0f) - 8) * xb[k] + ((blk->qs[k] >> 4) - 8) * xb[k + 16];
					} else {
						const struct eng_block_q8_0 *blk = (const struct eng_block_q8_0 *)wr[i] + b;

						for (int k = 0; k < 32; k++)
							sum += blk->qs[k] * xb[k];
					}
					si[i] = sum;
				}
				acc = scale_add(acc, _mm_loadu_si128((const __m128i *)si), wr, b, bsz, xd[b]);
			}
			{
				float v4[4];

				_mm_storeu_ps(v4, acc);
				for (int i = 0; i < nr; i++)
					y[(int64_t)t * w->rows + r + i] = v4[i];
			}
		}
	}
}

TGT static void mm_q4_0_avx512(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (a->packed && a->n_tok <= 8)
		gemm8_rows(w, a, y, r0, r1, 1);
	else if (a->packed)
		gemm_rows(w, a, y, r0, r1, 1);
	else
		matvec_rows(w, a, y, r0, r1, 1);
#if defined(JB_KERNEL_SLOWDOWN) /* the CI gate check (kernels_avx2.c): the same work twice */
	__asm__ __volatile__("" ::: "memory");
	if (a->packed && a->n_tok <= 8)
		gemm8_rows(w, a, y, r0, r1, 1);
	else if (a->packed)
		gemm_rows(w, a, y, r0, r1, 1);
	else
		matvec_rows(w, a, y, r0, r1, 1);
#endif
}

TGT static void mm_q8_0_avx512(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (a->packed && a->n_tok <= 8)
		gemm8_rows(w, a, y, r0, r1, 0);
	else if (a->packed)
		gemm_rows(w, a, y, r0, r1, 0);
	else
		matvec_rows(w, a, y, r0, r1, 0);
#if defined(JB_KERNEL_SLOWDOWN) /* the CI gate check (kernels_avx2.c): the same work twice */
	__asm__ __volatile__("" ::: "memory");
	if (a->packed && a->n_tok <= 8)
		gemm8_rows(w, a, y, r0, r1, 0);
	else if (a->packed)
		gemm_rows(w, a, y, r0, r1, 0);
	else
		matvec_rows(w, a, y, r0, r1, 0);
#endif
}

/* ---- the rest: the AVX2 set's kernels ---- */

static void mm_f32_avx512(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	eng_mm_f32_avx2_l2(w, a, y, r0, r1);
}

static void mm_f16_avx512(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	eng_mm_f16_avx2_l2(w, a, y, r0, r1);
}

static void quantize_act_avx512(const float *x, int64_t n, int8_t *qs, float *d, float *c)
{
	eng_kset_avx2.quantize_act(x, n, qs, d, c);
}

static void rmsnorm_avx512(float *o, const float *x, const float *weight, int n, float eps)
{
	eng_kset_avx2.rmsnorm(o, x, weight, n, eps);
}

static void softmax_avx512(float *x, int n)
{
	eng_kset_avx2.softmax(x, n);
}

static void rope_avx512(float *v, int n_heads, int head_dim, int rope_dim, int pos, float theta)
{
	eng_kset_avx2.rope(v, n_heads, head_dim, rope_dim, pos, theta);
}

static void swiglu_avx512(float *a, const float *b, int n)
{
	eng_kset_avx2.swiglu(a, b, n);
}

static float dot_f32_avx512(const float *a, const float *b, int n)
{
	return eng_kset_avx2.dot_f32(a, b, n);
}

static void axpy_f32_avx512(float *y, float a, const float *x, int n)
{
	eng_kset_avx2.axpy_f32(y, a, x, n);
}

const struct eng_kernel_set eng_kset_avx512 = {
	.name = "avx512vnni",
	.mm = {
		[ENG_TYPE_F32] = mm_f32_avx512,
		[ENG_TYPE_F16] = mm_f16_avx512,
		[ENG_TYPE_Q4_0] = mm_q4_0_avx512,
		[ENG_TYPE_Q8_0] = mm_q8_0_avx512,
		[ENG_TYPE_Q4_1] = eng_mm_q4_1_avx2,
		[ENG_TYPE_Q5_0] = eng_mm_q5_0_avx2,
		[ENG_TYPE_Q5_1] = eng_mm_q5_1_avx2,
		[ENG_TYPE_Q2_K] = eng_mm_q2_k_avx2,
		[ENG_TYPE_Q3_K] = eng_mm_q3_k_avx2,
		[ENG_TYPE_Q4_K] = eng_mm_q4_k_vnni,
		[ENG_TYPE_Q5_K] = eng_mm_q5_k_vnni,
		[ENG_TYPE_Q6_K] = eng_mm_q6_k_vnni,
	},
	.packed_bytes = packed_bytes_avx512,
	.pack_act = pack_act_avx512,
	.weight_layout = eng_kq_weight_layout_vnni,
	.packed_bytes_k = eng_kq_packed_bytes_vnni,
	.pack_act_k = eng_kq_pack_act_vnni,
	.quantize_act = quantize_act_avx512,
	.quantize_act_k = eng_quantize_row_q8_k_avx512,
	.rmsnorm = rmsnorm_avx512,
	.softmax = softmax_avx512,
	.rope = rope_avx512,
	.swiglu = swiglu_avx512,
	.dot_f32 = dot_f32_avx512,
	.axpy_f32 = axpy_f32_avx512,
};

#endif /* __x86_64__ */
