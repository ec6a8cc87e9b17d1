/*
 * engine/kernels_kquant_vnni.c — AVX-512 VNNI kernels of Q4_K, Q5_K and Q6_K weights against Q8_K
 * activations: a batch GEMM (prefill, and batched decode of 8 or more sequences) for all three, and
 * for Q4_K/Q5_K the decode matrix-vector product (q4k_matvec_rows, below). Q6_K decode keeps the
 * row kernel of kernels_kquant_avx512.c.
 *
 * The layout follows the Q4_0 GEMM of kernels_avx512.c: vector lanes are 16 tokens. eng_matmul
 * quantizes the activations to Q8_K once per call and pack_act_k rearranges them once per call
 * (shared by every thread and every matrix of a multi-matmul) into tiles of 16 tokens: for each
 * super-block, 64 steps of [16 tokens x 4 bytes] (one ZMM each), the tokens' block sums as int16
 * pairs and their scales. A weight row contributes 4 bytes per step, broadcast to all 16 lanes
 * straight from the row (no weight repacking), and one vpdpbusd multiplies them with 4 bytes of
 * each of the 16 tokens. Each row's super-block is first unpacked, with full-width vector
 * operations, into 256 bytes of unsigned quants on the stack (Q4_K 0..15, Q6_K 0..63: the
 * operand vpdpbusd wants), so a step costs one broadcast load and no shuffling; the unpacked
 * block serves every token tile of the register tile.
 *   Q4_K: weight = d * sc * q - dmin * m per sub-block of 32. A sub-block's integer sum is
 *         multiplied by its 6-bit scale (vpmulld) into the super-block's sum; the mins term, sum
 *         over sub-blocks of m * (sum of the 32 activation quants), is four vpdpwssd of (m, m')
 *         pairs with the packed sums.
 *   Q5_K: as Q4_K, with q in 0..31 (the fifth bit from qh).
 *   Q6_K: weight = d * sc * (q - 32) per sub-block of 16. The "- 32" is taken out once per
 *         super-block: 32 * sum of sc * (block sum), eight vpdpwssd of (sc, sc') pairs with the
 *         packed sums.
 * Every integer is exact; the float part, d_x * (d_w * sumi - dmin_w * summ) per super-block, is
 * the reference's formula, summed over super-blocks in the same order, so the results are held to
 * the reference with the float tolerance of the K-quant tests.
 *
 * Register tile as for Q4_0: 4 rows x 2 token tiles (32 tokens), the last 1-3 rows of a chunk 2
 * rows x 4 tiles: per (row, tile) one running sub-block sum, one super-block sum and one float
 * accumulator, 24 ZMM registers. One thread, bench-1b ffn_up (5632 x 2048) x 64 tokens, on the
 * AMD EPYC (AVX-512 VNNI) this was measured on: Q4_K 4.4 ms, Q6_K (ffn_down) 5.7 ms, against 11.3 / 13.1 ms for the
 * row kernels and 3.1 ms for the Q4_0 GEMM.
 */
#include "engine/kernels_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define TGT_INLINE                                                                                        \
	static inline __attribute__((always_inline,                                                       \
				     target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

/* Batches of at least this many tokens use the GEMM. */
#define KQ_GEMM_MIN_TOK 8

/*
 * How far ahead of the super-block it reads the decode kernel of ggml-layout matrices prefetches
 * the row stream, and into which cache: L2 (T1), as the Q4_0/Q8_0 decode kernels do (MV_PF_HINT in
 * kernels_avx512.c, where the reason is); the T-layout kernel (q4kt_matvec_rows) prefetches its
 * Q4_K rows a short way ahead into L1 instead (KQT_PF_BYTES: see there). Interleaved runs of the
 * two builds (2 threads, 8192x2048 Q4_K from DRAM, about 140 pairs per build on the Zen 4 EPYC): when the host's read bandwidth was above 45 GB/s the
 * kernel reached 78-81% of the paired read with T1 against 65-75% with T0; at 30-35 GB/s, 91%
 * against 86-92%. T0 at 256 bytes on top, or T1 at 3, 6 or 8 KiB, did no better.
 */
#ifndef KQ_MV_PF_BYTES
#define KQ_MV_PF_BYTES 4096
#endif
#ifndef KQ_MV_PF_HINT
#define KQ_MV_PF_HINT _MM_HINT_T1
#endif
/* How far ahead of the super-block it reads the T-layout Q4_K decode kernel prefetches each line of
 * the row stream into L1 (q4kt_matvec_rows) */
#ifndef KQT_PF_BYTES
#define KQT_PF_BYTES 256
#endif
/* and how far ahead it prefetches one line in every four super-blocks into L2 (see there) */
#ifndef KQT_FAR_BYTES
#define KQT_FAR_BYTES 2304
#endif

/*
 * One token tile (16 tokens) of one super-block, as pack_act_k lays it out:
 *   q[s][l][k]:   quant 4s + k of token l (s < 64, k < 4), the signed operand of step s;
 *   bs16[p][l][h]: token l's sum of the quants of sub-block of 16 number 2p + h (Q6_K);
 *   bs32[p][l][h]: the same for sub-blocks of 32, number 2p + h (Q4_K);
 *   d[l]:         token l's scale.
 * Tokens past n_tok are zeros. Tile t's super-blocks are contiguous: tile base + b * sizeof.
 */
struct pk_kblock {
	int8_t q[64][16][4];
	int16_t bs16[8][16][2];
	int16_t bs32[4][16][2];
	float d[16];
};
static_assert(sizeof(struct pk_kblock) == 4928, "packed K block is 4928 bytes");

/* Decode and batches below KQ_GEMM_MIN_TOK of Q4_K / Q5_K weights: the Q8_K blocks with their
 * quants in the order the matvec's nibble vectors hold the sub-blocks (q4k_matvec). */
static int perm_type(int type)
{
	return type == ENG_TYPE_Q4_K || type == ENG_TYPE_Q5_K;
}

/* Weight types with a GEMM here (the others, Q2_K and Q3_K, run the AVX2 row kernels, which read
 * a->q8k: packing for them would be wasted). */
static int gemm_type(int type)
{
	return type == ENG_TYPE_Q4_K || type == ENG_TYPE_Q5_K || type == ENG_TYPE_Q6_K;
}

/*
 * Decode (and batches below KQ_GEMM_MIN_TOK) of Q4_K / Q5_K: after the permuted Q8_K blocks, per
 * token and super-block, what the kernel's float part reads four super-blocks at a time: the
 * token's scale twice (it multiplies the weights' d and dmin, which alternate) and its sums of 32
 * (the mins term). The super-block count is rounded up to 4 with zeros.
 */
struct mv_side4 {
	float d2[4][2];
	int16_t bs32[4][8];
};

/* Groups of four super-blocks per token. */
static int64_t mv_groups(const struct eng_act *a)
{
	return (a->cols / ENG_QK_K + 3) / 4;
}

static size_t mv_side_offset(const struct eng_act *a)
{
	return ((size_t)a->n_tok * (size_t)(a->cols / ENG_QK_K) * sizeof(struct eng_block_q8_k) + 63) & ~(size_t)63;
}

int eng_kq_weight_layout_vnni(int type)
{
	return type == ENG_TYPE_Q4_K || type == ENG_TYPE_Q5_K ? ENG_LAYOUT_KQ_T : ENG_LAYOUT_GGML;
}

size_t eng_kq_packed_bytes_vnni(const struct eng_act *a)
{
	int64_t tiles = (a->n_tok + 15) / 16, nbk = a->cols / ENG_QK_K;

	if (!gemm_type(a->wtype))
		return 0;
	if (a->n_tok < KQ_GEMM_MIN_TOK)
		return perm_type(a->wtype) ? mv_side_offset(a) + (size_t)a->n_tok * (size_t)mv_groups(a) * sizeof(struct mv_side4)
					   : 0;
	return (size_t)tiles * (size_t)nbk * sizeof(struct pk_kblock);
}

struct kpack_job {
	const struct eng_act *a;
	struct pk_kblock *out;
	int64_t tiles;
};

/* Packs token tiles ith, ith + nth, ... */
TGT static void kpack_worker(void *arg, int ith, int nth)
{
	const struct kpack_job *j = arg;
	const struct eng_act *a = j->a;
	int64_t nbk = a->cols / ENG_QK_K;

	for (int64_t t = ith; t < j->tiles; t += nth) {
		struct pk_kblock *pk = j->out + t * nbk;

		memset(pk, 0, (size_t)nbk * sizeof *pk);
		for (int l = 0; l < 16 && t * 16 + l < a->n_tok; l++) {
			const struct eng_block_q8_k *xb = a->q8k + (t * 16 + l) * nbk;

			for (int64_t b = 0; b < nbk; b++) {
				for (int s = 0; s < 64; s++)
					memcpy(pk[b].q[s][l], xb[b].qs + 4 * s, 4);
				for (int p = 0; p < 8; p++) {
					pk[b].bs16[p][l][0] = xb[b].bsums[2 * p];
					pk[b].bs16[p][l][1] = xb[b].bsums[2 * p + 1];
				}
				for (int p = 0; p < 4; p++) {
					pk[b].bs32[p][l][0] = (int16_t)(xb[b].bsums[4 * p] + xb[b].bsums[4 * p + 1]);
					pk[b].bs32[p][l][1] = (int16_t)(xb[b].bsums[4 * p + 2] + xb[b].bsums[4 * p + 3]);
				}
				pk[b].d[l] = xb[b].d;
			}
		}
	}
}

/* Runs on the dispatching thread (p may be NULL) before the row kernels. */
void eng_kq_pack_act_vnni(struct eng_pool *p, struct eng_act *a, void *buf)
{
	struct kpack_job j = { .a = a, .out = buf, .tiles = (a->n_tok + 15) / 16 };

	if (a->n_tok < KQ_GEMM_MIN_TOK) {
		/* ggml layout: sub-blocks of 32 in the order [0 2 1 3 4 6 5 7] (see q4k_matvec); T layout:
		 * the T vectors (kquants.h) in that order, vector m's 4-byte group s being elements
		 * 4m..4m+3 of sub-block s (see q4kt_matvec_rows) */
		struct eng_block_q8_k *dst = buf;
		int64_t n = (int64_t)a->n_tok * (a->cols / ENG_QK_K);
		static const int from[8] = { 0, 2, 1, 3, 4, 6, 5, 7 };

		struct mv_side4 *side = (struct mv_side4 *)((char *)buf + mv_side_offset(a));
		int64_t nbk = a->cols / ENG_QK_K, ng = mv_groups(a);

		for (int64_t i = 0; i < n; i++) {
			if (a->wlayout == ENG_LAYOUT_KQ_T) {
				int8_t *qt = (int8_t *)buf + ENG_QK_K * i; /* 64-byte aligned */

				for (int c = 0; c < 8; c++)
					for (int sb = 0; sb < 8; sb++)
						memcpy(qt + 32 * c + 4 * sb, a->q8k[i].qs + 32 * sb + 4 * from[c], 4);
				continue;
			}
			dst[i] = a->q8k[i];
			for (int c = 0; c < 8; c++)
				memcpy(dst[i].qs + 32 * c, a->q8k[i].qs + 32 * from[c], 32);
		}
		memset(side, 0, (size_t)a->n_tok * (size_t)ng * sizeof *side);
		for (int t = 0; t < a->n_tok; t++)
			for (int64_t b = 0; b < nbk; b++) {
				const struct eng_block_q8_k *x = a->q8k + t * nbk + b;
				struct mv_side4 *g = side + t * ng + b / 4;

				g->d2[b % 4][0] = g->d2[b % 4][1] = x->d;
				for (int k = 0; k < 8; k++)
					g->bs32[b % 4][k] = (int16_t)(x->bsums[2 * k] + x->bsums[2 * k + 1]);
			}
		a->packed = buf;
		return;
	}
	if (p && j.tiles > 1 && !eng_pool_in_job())
		eng_pool_run(p, kpack_worker, &j);
	else
		kpack_worker(&j, 0, 1);
	a->packed = buf;
}

TGT_INLINE __m512i bcast_u32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return _mm512_set1_epi32((int)v);
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

/* Stores the R x TT accumulators (rows past nr and tokens past n_tok are not stored). */
TGT_INLINE void store_tile(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r, const int R,
			   int nr, int64_t t0, const int TT, __m512 acc[4][4])
{
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

/* ---- Q4_K ---- */

/*
 * The quants of one Q4_K super-block as bytes 0..15, 64 bytes per vector operation: the low
 * nibbles of qs[0..63] are sub-blocks 0 and 2, the high ones 1 and 3 (qs[64..127]: 4/6, 5/7). They
 * are stored in that order, [0 2 1 3 4 6 5 7]; q4k_off gives the place of sub-block 2g + hi.
 */
TGT_INLINE void q4k_unpack(const struct eng_block_q4_k *wb, uint8_t *buf)
{
	const __m512i m0f = _mm512_set1_epi8(0x0f);
	__m512i q0 = _mm512_loadu_si512((const void *)wb->qs), q1 = _mm512_loadu_si512((const void *)(wb->qs + 64));

	_mm512_store_si512((void *)buf, _mm512_and_si512(q0, m0f));
	_mm512_store_si512((void *)(buf + 64), _mm512_and_si512(_mm512_srli_epi16(q0, 4), m0f));
	_mm512_store_si512((void *)(buf + 128), _mm512_and_si512(q1, m0f));
	_mm512_store_si512((void *)(buf + 192), _mm512_and_si512(_mm512_srli_epi16(q1, 4), m0f));
}

/* Q5_K: the Q4_K nibbles (same order) plus the fifth bit of element 32s + l, bit s of qh[l], taken
 * from a register holding qh[0..31] twice shifted per 64-bit lane by the two sub-blocks' s. */
TGT_INLINE void q5k_unpack(const struct eng_block_q5_k *wb, uint8_t *buf)
{
	const __m512i m0f = _mm512_set1_epi8(0x0f), m01 = _mm512_set1_epi8(0x01);
	__m512i q0 = _mm512_loadu_si512((const void *)wb->qs), q1 = _mm512_loadu_si512((const void *)(wb->qs + 64));
	__m256i qh32 = _mm256_loadu_si256((const __m256i *)wb->qh);
	__m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(qh32), qh32, 1);
	/* buffer order [0 2 1 3 4 6 5 7]: the fifth bits of sub-blocks (0, 2), (1, 3), (4, 6), (5, 7) */
	static const int shift[4][2] = { { 0, 2 }, { 1, 3 }, { 4, 6 }, { 5, 7 } };
	__m512i nib[4];

	nib[0] = _mm512_and_si512(q0, m0f);
	nib[1] = _mm512_and_si512(_mm512_srli_epi16(q0, 4), m0f);
	nib[2] = _mm512_and_si512(q1, m0f);
	nib[3] = _mm512_and_si512(_mm512_srli_epi16(q1, 4), m0f);
	_Pragma("GCC unroll 4") for (int v = 0; v < 4; v++) {
		__m512i sh = _mm512_set_epi64(shift[v][1], shift[v][1], shift[v][1], shift[v][1], shift[v][0],
					      shift[v][0], shift[v][0], shift[v][0]);
		__m512i hb = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh, sh), m01), 4);

		_mm512_store_si512((void *)(buf + 64 * v), _mm512_or_si512(nib[v], hb));
	}
}

static inline int q4k_off(int g, int hi)
{
	return 128 * (g >> 1) + 64 * hi + 32 * (g & 1);
}

/* A block in the T layout (kquants.h) unpacks the same way, its T vectors landing in the order
 * [0 2 1 3 4 6 5 7]: the place of T vector m, whose 4-byte group s is elements 4m..4m+3 of
 * sub-block s. */
static inline int q4kt_off(int m)
{
	return 128 * (m >> 2) + 64 * (m & 1) + 32 * ((m >> 1) & 1);
}

/* One sub-block of 32 (number 2g + hi) of the unpacked rows q[i] into sup[i][j]; t: the rows are
 * in the T layout. */
TGT_INLINE void q4k_sub(const uint8_t (*q)[256], const struct pk_kblock *const *pk, const int R, const int TT,
			const int g, const int hi, const uint8_t (*sc)[8], __m512i sup[4][4], const int t)
{
	__m512i isum[4][4];

	_Pragma("GCC unroll 8") for (int k = 0; k < 8; k++) {
		_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
			__m512i wq = bcast_u32(q[i] + (t ? q4kt_off(k) + 4 * (2 * g + hi) : q4k_off(g, hi) + 4 * k));

			_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++) {
				__m512i x = _mm512_load_si512(pk[j]->q[16 * g + 8 * hi + k]);

				isum[i][j] = k == 0 ? _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq, x)
						    : _mm512_dpbusd_epi32(isum[i][j], wq, x);
			}
		}
	}
	_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
		__m512i s = _mm512_set1_epi32(sc[i][2 * g + hi]);

		_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
			sup[i][j] = _mm512_add_epi32(sup[i][j], _mm512_mullo_epi32(isum[i][j], s));
	}
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

/* Q4_K, or Q5_K when q5 (the same scales, mins and order, one more bit per quant); t: the matrix is
 * in the T layout. */
TGT_INLINE void q4k_tile(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r, const int R, int nr,
			 int64_t t0, const int TT, const int q5, const int t)
{
	int64_t nbk = a->cols / ENG_QK_K;
	const char *wr[4];
	__m512 acc[4][4];

	_Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
		wr[i] = (const char *)w->data + (r + (i < nr ? i : nr - 1)) * (int64_t)w->row_bytes;
	_Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
		_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
			acc[i][j] = _mm512_setzero_ps();
	for (int64_t b = 0; b < nbk; b++) {
		const struct eng_block_q4_k *wb[4];
		const size_t bsz = q5 ? sizeof(struct eng_block_q5_k) : sizeof(struct eng_block_q4_k);
		const struct pk_kblock *pk[4];
		_Alignas(64) uint8_t q[4][256];
		uint8_t sc[4][8], m[4][8];
		float dw[4], dmw[4];
		__m512i sup[4][4];

		_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
			pk[j] = (const struct pk_kblock *)a->packed + (t0 + j) * nbk + b;
		_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
			/* d, dmin and the scales lead both block types */
			wb[i] = (const struct eng_block_q4_k *)(wr[i] + b * (int64_t)bsz);
			for (int off = 0; off < (int)bsz; off += 64)
				_mm_prefetch((const char *)wb[i] + 2 * bsz + off, _MM_HINT_T0);
			f16x2(&wb[i]->d, &dw[i], &dmw[i]);
			scales_mins(wb[i]->scales, sc[i], m[i]);
			if (q5)
				q5k_unpack((const struct eng_block_q5_k *)wb[i], q[i]);
			else
				q4k_unpack(wb[i], q[i]);
			_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
				sup[i][j] = _mm512_setzero_si512();
		}
		for (int g = 0; g < 4; g++) {
			q4k_sub((const uint8_t(*)[256])q, pk, R, TT, g, 0, (const uint8_t(*)[8])sc, sup, t);
			q4k_sub((const uint8_t(*)[256])q, pk, R, TT, g, 1, (const uint8_t(*)[8])sc, sup, t);
		}
		_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
			__m512 vd = _mm512_set1_ps(dw[i]), vdm = _mm512_set1_ps(dmw[i]);

			_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++) {
				__m512i mn = _mm512_setzero_si512();
				__m512 dx = _mm512_load_ps(pk[j]->d), s;

				_Pragma("GCC unroll 4") for (int p = 0; p < 4; p++)
					mn = _mm512_dpwssd_epi32(mn, _mm512_set1_epi32((int)(m[i][2 * p] | (uint32_t)m[i][2 * p + 1] << 16)),
								 _mm512_load_si512(pk[j]->bs32[p]));
				/* d_x * (d_w * sumi - dmin_w * summ), as the reference */
				s = _mm512_fmsub_ps(vd, _mm512_cvtepi32_ps(sup[i][j]), _mm512_mul_ps(vdm, _mm512_cvtepi32_ps(mn)));
				acc[i][j] = _mm512_fmadd_ps(dx, s, acc[i][j]);
			}
		}
	}
	store_tile(w, a, y, r, R, nr, t0, TT, acc);
}

/* ---- Q6_K ---- */

/*
 * The quants of one Q6_K super-block as bytes 0..63 in element order. Per half of 128: the low
 * nibbles of ql[0..63] are elements 0..63, the high ones 64..127; the two high bits of element
 * 32c + l are bits 2c, 2c + 1 of qh[l], taken from a register holding qh[0..31] twice, shifted per
 * 64-bit lane by 0 / 2 (elements 0..63) and 4 / 6 (64..127).
 */
TGT_INLINE void q6k_unpack(const struct eng_block_q6_k *wb, uint8_t *buf)
{
	const __m512i m0f = _mm512_set1_epi8(0x0f), m03 = _mm512_set1_epi8(0x03);
	const __m512i sh_lo = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0), sh_hi = _mm512_set_epi64(6, 6, 6, 6, 4, 4, 4, 4);

	_Pragma("GCC unroll 2") for (int h = 0; h < 2; h++) {
		__m512i ql = _mm512_loadu_si512((const void *)(wb->ql + 64 * h));
		__m256i qh32 = _mm256_loadu_si256((const __m256i *)(wb->qh + 32 * h));
		__m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(qh32), qh32, 1);
		__m512i b_lo = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh, sh_lo), m03), 4);
		__m512i b_hi = _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi64(qh, sh_hi), m03), 4);

		_mm512_store_si512((void *)(buf + 128 * h), _mm512_or_si512(_mm512_and_si512(ql, m0f), b_lo));
		_mm512_store_si512((void *)(buf + 128 * h + 64),
				   _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m0f), b_hi));
	}
}

/* Sub-block of 16 number sb of the unpacked rows q[i] into sup[i][j]. */
TGT_INLINE void q6k_sub(const uint8_t (*q)[256], const struct eng_block_q6_k *const *wb,
			const struct pk_kblock *const *pk, const int R, const int TT, const int sb, __m512i sup[4][4])
{
	__m512i isum[4][4];

	_Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) {
		_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
			__m512i wq = bcast_u32(q[i] + 16 * sb + 4 * k);

			_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++) {
				__m512i x = _mm512_load_si512(pk[j]->q[4 * sb + k]);

				isum[i][j] = k == 0 ? _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq, x)
						    : _mm512_dpbusd_epi32(isum[i][j], wq, x);
			}
		}
	}
	_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
		__m512i s = _mm512_set1_epi32(wb[i]->scales[sb]);

		_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
			sup[i][j] = _mm512_add_epi32(sup[i][j], _mm512_mullo_epi32(isum[i][j], s));
	}
}

TGT_INLINE void q6k_tile(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r, const int R, int nr,
			 int64_t t0, const int TT)
{
	int64_t nbk = a->cols / ENG_QK_K;
	const char *wr[4];
	__m512 acc[4][4];

	_Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
		wr[i] = (const char *)w->data + (r + (i < nr ? i : nr - 1)) * (int64_t)w->row_bytes;
	_Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
		_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
			acc[i][j] = _mm512_setzero_ps();
	for (int64_t b = 0; b < nbk; b++) {
		const struct eng_block_q6_k *wb[4];
		const struct pk_kblock *pk[4];
		_Alignas(64) uint8_t q[4][256];
		__m512i sup[4][4];

		_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
			pk[j] = (const struct pk_kblock *)a->packed + (t0 + j) * nbk + b;
		_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
			wb[i] = (const struct eng_block_q6_k *)wr[i] + b;
			for (int off = 0; off < (int)sizeof(struct eng_block_q6_k); off += 64)
				_mm_prefetch((const char *)(wb[i] + 2) + off, _MM_HINT_T0);
			q6k_unpack(wb[i], q[i]);
			_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++)
				sup[i][j] = _mm512_setzero_si512();
		}
		for (int sb = 0; sb < 16; sb++)
			q6k_sub((const uint8_t(*)[256])q, wb, pk, R, TT, sb, sup);
		_Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {
			__m512 vd = _mm512_set1_ps(_cvtsh_ss(wb[i]->d));
			__m512i spair[8];

			_Pragma("GCC unroll 8") for (int p = 0; p < 8; p++)
				spair[p] = _mm512_set1_epi32((int)((uint16_t)(int16_t)wb[i]->scales[2 * p] |
								   (uint32_t)(uint16_t)(int16_t)wb[i]->scales[2 * p + 1] << 16));
			_Pragma("GCC unroll 4") for (int j = 0; j < TT; j++) {
				__m512i off = _mm512_setzero_si512();

				_Pragma("GCC unroll 8") for (int p = 0; p < 8; p++)
					off = _mm512_dpwssd_epi32(off, spair[p], _mm512_load_si512(pk[j]->bs16[p]));
				/* sum of sc * (q - 32) * x = sum of sc * q * x - 32 * sum of sc * bsum */
				sup[i][j] = _mm512_sub_epi32(sup[i][j], _mm512_slli_epi32(off, 5));
				acc[i][j] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_load_ps(pk[j]->d), vd),
							    _mm512_cvtepi32_ps(sup[i][j]), acc[i][j]);
			}
		}
	}
	store_tile(w, a, y, r, R, nr, t0, TT, acc);
}

/* ---- Q4_K / Q5_K decode and small batches ---- */

/*
 * Bytes of tab picked and widened at once: int16 lane n of the result is byte idx[n] (0..63) of tab,
 * zero-extended. One VPERMB (VBMI) with its odd bytes zeroed by the mask, written as asm for the
 * same reason as mv_high_nibbles; the decode kernels take this form only where the CPU has both
 * (use_gfni).
 */
TGT_INLINE __m512i widen_bytes(const __m512i idx, const __m512i tab)
{
	__m512i r;

	__asm__("vpermb %1, %2, %0%{%3%}%{z%}" : "=v"(r) : "v"(tab), "v"(idx), "Yk"((__mmask64)0x5555555555555555ull));
	return r;
}

/*
 * Q4_K in the T layout (q4kt_matvec_rows): int16 lane 8L + w of packs(P(2p), P(2p + 1)) is dword
 * 4L + w of P(2p) (w < 4) or 4L + w - 4 of P(2p + 1), i.e. sub-block 4 (L % 2) + w % 4; lane n of
 * this vector is where its scale sits among the two blocks' widened scales (block 2p in lanes
 * 0-15, 2p + 1 in 16-31, as z[0] of q4k_head4 holds blocks 0 and 1).
 */
TGT_INLINE __m512i q4kt_pair_lanes(void)
{
	return _mm512_set_epi16(23, 22, 21, 20, 7, 6, 5, 4, 19, 18, 17, 16, 3, 2, 1, 0, 23, 22, 21, 20, 7, 6, 5, 4, 19,
				18, 17, 16, 3, 2, 1, 0);
}

/*
 * The head of four consecutive super-blocks (d, dmin and the 6-bit scales and mins), unpacked with
 * vector operations: 128-bit lane j holds bytes 0..15 of block j, as dwords (d, dmin), w0, w1, w2,
 * and the scales become sc[0..7] in dwords 0-1 and m[0..7] in dwords 2-3 (scales_mins, per lane):
 *   sc[0..3] = w0 & 0x3f..      sc[4..7] = (w2 & 0x0f..) | ((w0 >> 2) & 0x30..)
 *   m[0..3]  = w1 & 0x3f..      m[4..7]  = ((w2 >> 4) & 0x0f..) | ((w1 >> 2) & 0x30..)
 * z[0] holds blocks 0 and 1 widened to int16 (block 0 in lanes 0-15: sc then m), z[1] blocks 2, 3;
 * *mins the four blocks' m[0..7] side by side (int16), *dm their d, dmin, d, dmin, ... as floats.
 * Blocks past n (1..4) are zeros. vb (the CPU has VBMI): z[p] holds instead the scales of blocks
 * 2p and 2p + 1 in the order q4kt_matvec_rows applies them, three VPERMB in place of two
 * widenings, a two-source permute and a permute per pair of blocks.
 */
TGT_INLINE void q4k_head4(const char *blk, const size_t bsz, const int n, __m512i z[2], __m512i *mins, __m256 *dm,
			  const int vb)
{
	const __m512i lo6 = _mm512_set4_epi32(0, 0x3f3f3f3f, 0, 0x3f3f3f3f);
	const __m512i lo4 = _mm512_set4_epi32(0x0f0f0f0f, 0, 0x0f0f0f0f, 0);
	const __m512i hi2 = _mm512_set4_epi32(0x30303030, 0, 0x30303030, 0);
	const __m512i sh = _mm512_set4_epi32(4, 0, 0, 0);
	const __m512i heads = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0);
	const __m512i mlanes = _mm512_set_epi16(63, 62, 61, 60, 59, 58, 57, 56, 47, 46, 45, 44, 43, 42, 41, 40, 31, 30,
						29, 28, 27, 26, 25, 24, 15, 14, 13, 12, 11, 10, 9, 8);
	__m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)blk)), p, q, out;

	if (n > 1)
		v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(blk + bsz)), 1);
	else
		v = _mm512_zextsi128_si512(_mm512_castsi512_si128(v));
	if (n > 2)
		v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(blk + 2 * bsz)), 2);
	if (n > 3)
		v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(blk + 3 * bsz)), 3);
	*dm = _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi32(heads, v)));
	p = _mm512_shuffle_epi32(v, _MM_PERM_CCBB); /* w0 w0 w1 w1 */
	q = _mm512_srlv_epi32(_mm512_shuffle_epi32(v, _MM_PERM_DDDD), sh); /* w2 w2 w2 w2>>4 */
	/* (p & lo6) | (q & lo4) | ((p >> 2) & hi2): the masks do not overlap */
	out = _mm512_or_si512(_mm512_and_si512(p, lo6), _mm512_and_si512(q, lo4));
	out = _mm512_ternarylogic_epi32(out, _mm512_srli_epi32(p, 2), hi2, 0xf8); /* a | (b & c) */
	if (vb) {
		/* blocks 2p, 2p + 1 are bytes 32p.. of out */
		const __m512i isc2 = q4kt_pair_lanes();

		z[0] = widen_bytes(isc2, out);
		z[1] = widen_bytes(_mm512_add_epi16(isc2, _mm512_set1_epi16(32)), out);
		*mins = widen_bytes(mlanes, out);
		return;
	}
	z[0] = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(out));
	z[1] = _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(out, 1));
	*mins = _mm512_permutex2var_epi16(z[0], mlanes, z[1]);
}

/* The decode kernels' accumulators: per row and token, the super-blocks' terms and the mins terms. */
TGT_INLINE void mv_zero(__m512 acc[2][4], __m512 accm[2][4])
{
	_Pragma("GCC unroll 2") for (int i = 0; i < 2; i++)
		_Pragma("GCC unroll 4") for (int t = 0; t < 4; t++)
			acc[i][t] = accm[i][t] = _mm512_setzero_ps();
}

TGT_INLINE void mv_reduce(const int R, const int nt, __m512 acc[2][4], __m512 accm[2][4], float (*out)[4])
{
	_Pragma("GCC unroll 2") for (int i = 0; i < R; i++)
		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++)
			out[i][t] = _mm512_reduce_add_ps(_mm512_sub_ps(acc[i][t], accm[i][t]));
}

/*
 * The heads of four super-blocks of each of R rows (q4k_head4) and what depends on them alone:
 * per token, f = d_x * (d, dmin) of the four blocks, and the mins term of all four added to accm.
 */
TGT_INLINE void mv_head4_rows(const char *const *row, const int R, int64_t b4, const size_t bsz, const int n4,
			      const struct mv_side4 *const *side, const int nt, __m512i z[2][2], __m512 f[2][4],
			      __m512 accm[2][4], const int vb)
{
	/* lanes 4j..4j+3 of the mins term are block j's: its d_x * dmin is lane 2j + 1 of the products */
	const __m512i odd4 = _mm512_set_epi32(7, 7, 7, 7, 5, 5, 5, 5, 3, 3, 3, 3, 1, 1, 1, 1);

	_Pragma("GCC unroll 2") for (int i = 0; i < R; i++) {
		__m512i mins;
		__m256 dm;

		q4k_head4(row[i] + b4 * (int64_t)bsz, bsz, n4, z[i], &mins, &dm, vb);
		_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
			const struct mv_side4 *g = side[t] + b4 / 4;
			__m512i mm = _mm512_madd_epi16(mins, _mm512_loadu_si512((const void *)g->bs32));

			f[i][t] = _mm512_castps256_ps512(_mm256_mul_ps(dm, _mm256_loadu_ps(g->d2[0])));
			accm[i][t] = _mm512_fmadd_ps(_mm512_permutexvar_ps(odd4, f[i][t]), _mm512_cvtepi32_ps(mm), accm[i][t]);
		}
	}
}

/*
 * The high nibble of every byte of q, as a byte. gf: in one GF2P8AFFINEQB (GFNI: bit i of each
 * result byte is the parity of the source byte and byte 7 - i of the matrix, here bit i + 4 for
 * i < 4, nothing above) instead of a shift and a mask. Written as asm so the same code compiles
 * for the VNNI CPUs without GFNI (Cascade Lake), which take the other branch.
 *   In L1 it is no faster (Zen 4: 3.31 ns per Q4_K super-block either way, Q5_K 5.3 -> 5.2), but
 * from DRAM one thread of the decode kernel is bound by how far ahead its loads reach, which the
 * instructions per byte set (the same loads with almost no arithmetic reached 95.8% of the paired
 * read against 76.5%): one instruction fewer per vector took one thread of Q4_K 8192x2048 from
 * 78.2% to 82.8% and from 79.1% to 82.5% of the paired read (better in 10 of 12 and 12 of 14
 * interleaved rounds; a third run 75.7% -> 76.9%, 7 of 14); two threads at the host's usual
 * bandwidth, 93.3% -> 94.7%.
 */
TGT_INLINE __m512i mv_high_nibbles(const __m512i q, const __m512i m0f, const int gf)
{
	__m512i r;

	if (!gf)
		return _mm512_and_si512(_mm512_srli_epi16(q, 4), m0f);
	__asm__("vgf2p8affineqb $0, %2, %1, %0" : "=v"(r) : "v"(q), "v"(_mm512_set1_epi64(0x1020408000000000ll)));
	return r;
}

/*
 * A block's quants as four vectors of bytes: the low and high nibbles of qs[0..63] and of
 * qs[64..127], and for Q5_K (q5) their fifth bits, bit s of qh[l] for byte l of the s-th 32 bytes
 * in that order ((0, 2), (1, 3), (4, 6), (5, 7)) - sub-blocks in the ggml layout, T vectors in the
 * T layout. gf: the CPU has GFNI (mv_high_nibbles).
 */
TGT_INLINE void mv_nibbles(const struct eng_block_q4_k *wb, const int q5, __m512i nib[4], const int gf)
{
	const __m512i m0f = _mm512_set1_epi8(0x0f);
	const uint8_t *qs = q5 ? ((const struct eng_block_q5_k *)wb)->qs : wb->qs;
	__m512i q0 = _mm512_loadu_si512((const void *)qs), q1 = _mm512_loadu_si512((const void *)(qs + 64));

	/* GCC would fold each load into both of its uses (the and, the shift): twice the loads, three
	 * in four of them split across two cache lines, and the decode kernel is bound by its loads
	 * (one Q4_K row of 2048 in L1, Zen 4: 3.52 -> 3.34 ns per super-block with them kept in
	 * registers) */
	__asm__("" : "+v"(q0), "+v"(q1));
	nib[0] = _mm512_and_si512(q0, m0f);
	nib[1] = mv_high_nibbles(q0, m0f, gf);
	nib[2] = _mm512_and_si512(q1, m0f);
	nib[3] = mv_high_nibbles(q1, m0f, gf);
	if (q5) {
		const __m256i qh32 = _mm256_loadu_si256((const __m256i *)((const struct eng_block_q5_k *)wb)->qh);
		const __m512i qh = _mm512_inserti64x4(_mm512_castsi256_si512(qh32), qh32, 1);
		const __m512i m10 = _mm512_set1_epi8(0x10);

		/* bit s of each byte to bit 4 by rotating its 64-bit lane left by 4 - s (mod 64: the bits
		 * that wrap around land in bits 6-7 of the top byte, outside the mask), then or-ed in
		 * under the mask: two operations per vector */
		_Pragma("GCC unroll 4") for (int v = 0; v < 4; v++) {
			const int s0 = (v >> 1) * 4 + (v & 1), r0 = (68 - s0) % 64, r1 = (66 - s0) % 64;
			__m512i rot = _mm512_rolv_epi64(qh, _mm512_set_epi64(r1, r1, r1, r1, r0, r0, r0, r0));

			nib[v] = _mm512_ternarylogic_epi64(nib[v], rot, m10, 0xf8); /* a | (b & c) */
		}
	}
}

/*
 * R weight rows (1 or 2) against nt (1..4) tokens whose Q8_K quants are in the order
 * [0 2 1 3 4 6 5 7] of sub-blocks of 32 (eng_kq_pack_act_vnni): the low nibbles of qs[0..63] are
 * sub-blocks 0 and 2, the high ones 1 and 3, so each nibble vector meets its activations in one
 * 64-byte load. Per row, token and super-block: four vpdpbusd give sums of 4 products (at most
 * 4 * 31 * 127, an int16), two vpackssdw pack them and a vpmaddwd and a vpdpwssd multiply them by their
 * sub-blocks' scales and add them up, exact; the float part is the reference's
 * d_x * (d * sumi - dmin * summ), with d_x * d broadcast per super-block. Per four super-blocks
 * (q4k_head4): the scales, and the mins term of all four at once, one vpmaddwd of the mins with the
 * tokens' sums of 32 (struct mv_side4) scaled by d_x * dmin. Two rows share the activation loads
 * and are two independent streams through memory (q4k_matvec pairs rows half a chunk apart), each
 * prefetched KQ_MV_PF_BYTES ahead.
 */
TGT_INLINE void q4k_matvec_rows(const char *const *row, const int R, int64_t nbk, const struct eng_block_q8_k *const *xq,
				const struct mv_side4 *const *side, const int nt, float (*out)[4], const int q5)
{
	const size_t bsz = q5 ? sizeof(struct eng_block_q5_k) : sizeof(struct eng_block_q4_k);
	/* int16 lane 8k + i of packs(p, p'): p's lanes 4k..4k+3 (i < 4) or p''s (i >= 4); p holds the
	 * first sub-block of its pair in lanes 0-7 (k < 2), the second in 8-15. ia/ib pick those
	 * sub-blocks' scales out of a block's lanes 0-7 of q4k_head4's z; a block in the upper half
	 * of z: + 16. */
	const __m512i ia = _mm512_set_epi16(3, 3, 3, 3, 2, 2, 2, 2, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1,
					    1, 1, 0, 0, 0, 0);
	const __m512i ib = _mm512_add_epi16(ia, _mm512_set1_epi16(4));
	const __m512i up = _mm512_set1_epi16(16);
	__m512 acc[2][4], accm[2][4];

	mv_zero(acc, accm);
	for (int64_t b4 = 0; b4 < nbk; b4 += 4) {
		const int n4 = nbk - b4 < 4 ? (int)(nbk - b4) : 4;
		__m512i z[2][2];
		__m512 f[2][4]; /* per row and token: d_x * d, d_x * dmin of the four blocks */

		mv_head4_rows(row, R, b4, bsz, n4, side, nt, z, f, accm, 0);
		_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
			const int64_t b = b4 + j;
			__m512i nib[2][4], sa[2], sb[2];

			if (j >= n4)
				break;
			_Pragma("GCC unroll 2") for (int i = 0; i < R; i++) {
				const struct eng_block_q4_k *wb = (const struct eng_block_q4_k *)(row[i] + b * (int64_t)bsz);
				const __m512i zi = z[i][j >> 1];

				for (int off = 0; off < (int)bsz; off += 64)
					_mm_prefetch((const char *)wb + KQ_MV_PF_BYTES + off, KQ_MV_PF_HINT);
				if (j & 1) {
					sa[i] = _mm512_permutexvar_epi16(_mm512_add_epi16(ia, up), zi);
					sb[i] = _mm512_permutexvar_epi16(_mm512_add_epi16(ib, up), zi);
				} else {
					sa[i] = _mm512_permutexvar_epi16(ia, zi);
					sb[i] = _mm512_permutexvar_epi16(ib, zi);
				}
				mv_nibbles(wb, q5, nib[i], 0);
			}
			_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
				const struct eng_block_q8_k *x = xq[t] + b;
				const __m512i zero = _mm512_setzero_si512();
				const __m512i x0 = _mm512_loadu_si512((const void *)x->qs);
				const __m512i x1 = _mm512_loadu_si512((const void *)(x->qs + 64));
				const __m512i x2 = _mm512_loadu_si512((const void *)(x->qs + 128));
				const __m512i x3 = _mm512_loadu_si512((const void *)(x->qs + 192));

				_Pragma("GCC unroll 2") for (int i = 0; i < R; i++) {
					__m512i p0 = _mm512_dpbusd_epi32(zero, nib[i][0], x0);
					__m512i p1 = _mm512_dpbusd_epi32(zero, nib[i][1], x1);
					__m512i p2 = _mm512_dpbusd_epi32(zero, nib[i][2], x2);
					__m512i p3 = _mm512_dpbusd_epi32(zero, nib[i][3], x3);
					__m512i s = _mm512_madd_epi16(_mm512_packs_epi32(p0, p1), sa[i]);

					s = _mm512_dpwssd_epi32(s, _mm512_packs_epi32(p2, p3), sb[i]);
					acc[i][t] = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_set1_epi32(2 * j), f[i][t]),
								    _mm512_cvtepi32_ps(s), acc[i][t]);
				}
			}
		}
	}
	mv_reduce(R, nt, acc, accm, out);
}

/*
 * As q4k_matvec_rows, for a matrix in the T layout (kquants.h) and tokens whose Q8_K quants are in
 * the T order, its vectors paired [0 2 1 3 4 6 5 7] for 64-byte loads (eng_kq_pack_act_vnni). In
 * the T layout dword k of every 32-byte vector belongs to sub-block k, so a super-block's four
 * vpdpbusd accumulate into one register whose lanes k and k + 8 both hold sums of sub-block k:
 * no vpackssdw of partial sums, and the scales apply to whole registers.
 *   Q4_K: a lane is 16 products of at most 15 * 128, 30720, an int16, so two consecutive blocks
 *         share one vpackssdw, one vpmaddwd and one float multiply-add (each 128-bit lane of the
 *         product: two sums of block 2p, two of block 2p + 1); their scales come out of the head
 *         in that order with VBMI (q4k_head4), else one vpermw spreads them.
 *   Q5_K: 16 products reach 16 * 31 * 128: two chains of two vpdpbusd per block, each applied to
 *         the scales as (sc, 0) int16 pairs by a vpmaddwd and a vpdpwssd (the first needs no zeroed accumulator).
 * With the quants of each block loaded once and the activations 64-byte aligned, one Q4_K row of
 * 2048 in L1 takes 3.3-3.4 ns per super-block against 4.4 for q4k_matvec_rows (Zen 4 EPYC).
 * Prefetching: from DRAM this kernel's time per super-block was about its time in L1 plus the
 * time the block takes to arrive (2 threads, 8192x2048, host quiet: 8.3 ns per block and thread
 * against 3.3 in L1 and 5.2 for the bytes at the paired read's rate), so its demand loads did
 * not reach far enough ahead to overlap the two, while the same rows read with the arithmetic
 * left out reached 90% of the paired read (2 streams per thread) or 92% (1). Each line of the
 * Q4_K super-block KQT_PF_BYTES ahead is prefetched into L1: two to four blocks ahead is what
 * helps (Zen 4 EPYC, 2 threads, the builds interleaved, ~100 rounds each; host quiet / busy):
 * none 65-70% / 86-88% of the paired read, 256-512 bytes 74-78% / 90-94%, 768-1024 bytes
 * 68-71% / 87%, 2-8 KiB into L1 58-68% / 76-86%, 4 KiB into L2 56% / 78%; with 1 thread 79% ->
 * 89%; no cost in L2. Q5_K keeps its T1 prefetches 4 KiB ahead (without: 87.0% against 90.8%
 * over 20 rounds).
 * Those short prefetches move lines the hardware has already brought into L2; what sets the rate
 * when the host is quiet is how far ahead that happens. One line in every four super-blocks
 * (576 bytes) prefetched KQT_FAR_BYTES ahead into L2 (T1) on top raised it, where a line every 64
 * bytes had lowered it (above) - perhaps the sparse prefetch moves the hardware's stream ahead
 * without holding many miss buffers. Builds alternated and compared round by round, the
 * change in points of the paired read (quiet: the read above 45 GB/s): 2304 bytes +4 to +7 in
 * four batches (better in 27 of 39 rounds; medians 75-82% -> 80-89%), busy +1 to +1.5 (better in
 * 232 of 428); 1536 or 1728 bytes +0 to +4; 3456 or 4608 -1 to +2; T2 instead of T1 -1; a second
 * line per group +3.5; one T0 line 1152 bytes ahead instead, -17 quiet and -10 busy.
 * The order of the work matters as much (Zen 4 EPYC, 2 threads, 8192x2048 from DRAM, builds
 * alternated and compared round by round): the two rows advance a block at a time, each row's
 * nibbles used as soon as they are made (with both rows' made first GCC spilled three of them
 * per block; 248 -> 213 instructions per four blocks of the two rows, in cache 8-10% faster,
 * from DRAM +3 points of the paired read when the host was quiet, better in 15 of 25 rounds,
 * even when busy). The n4 test between blocks stays: with the count of a whole group a
 * constant GCC hoisted all nine prefetches of a row's group to its start, 15 points worse
 * (quiet) and 6 (busy). A row's whole group before the other's (576-byte turns instead of 144)
 * lost 8 points busy and 33 quiet, and pairing consecutive rows instead of rows half a chunk
 * apart halved the rate (45% against 94%, busy).
 */
TGT_INLINE void q4kt_matvec_rows(const char *const *row, const int R, int64_t nbk, const int8_t *const *xq,
				 const struct mv_side4 *const *side, const int nt, float (*out)[4], const int q5,
				 const int gf)
{
	const size_t bsz = q5 ? sizeof(struct eng_block_q5_k) : sizeof(struct eng_block_q4_k);
	/* Q4_K: the scales of a pair's product, out of q4k_head4's z[p], or z[p] as it is with gf (VBMI) */
	const __m512i isc2 = q4kt_pair_lanes();
	/* and the float factor of dwords 0-1 / 2-3 of each 128-bit lane: d_x * d of block 2p / 2p + 1
	 * (lanes 4p and 4p + 2 of f) */
	const __m512i if2[2] = { _mm512_set4_epi32(2, 2, 0, 0), _mm512_set4_epi32(6, 6, 4, 4) };
	/* Q5_K: int16 lane 2k of a block's scales is sc[k % 8] (+ 16 for a block in the upper half of
	 * z), the odd lanes zeroed */
	const __m512i isc = _mm512_set_epi16(0, 7, 0, 6, 0, 5, 0, 4, 0, 3, 0, 2, 0, 1, 0, 0, 0, 7, 0, 6, 0, 5, 0, 4, 0, 3,
					     0, 2, 0, 1, 0, 0);
	const __m512i up = _mm512_set1_epi16(16);
	const __mmask32 even = 0x55555555u;
	__m512 acc[2][4], accm[2][4];

	mv_zero(acc, accm);
	for (int64_t b4 = 0; b4 < nbk; b4 += 4) {
		const int n4 = nbk - b4 < 4 ? (int)(nbk - b4) : 4;
		__m512i z[2][2];
		__m512 f[2][4]; /* per row and token: d_x * d, d_x * dmin of the four blocks */
		__m512i p[2][4][2]; /* Q4_K: per row and token, the sums of the pair's two blocks */

		mv_head4_rows(row, R, b4, bsz, n4, side, nt, z, f, accm, gf && !q5);
		_Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
			const int64_t b = b4 + j;
			const __m512i zero = _mm512_setzero_si512();

			if (j >= n4)
				break;
			/* a row at a time, its nibbles used as soon as they are made: with both rows'
			 * nibbles made first GCC spilled three of them per block (the activations are
			 * operands of the vpdpbusd either way) */
			_Pragma("GCC unroll 2") for (int i = 0; i < R; i++) {
				const char *wb = row[i] + b * (int64_t)bsz;
				__m512i nib[4], sc;

				if (q5) {
					for (int off = 0; off < (int)bsz; off += 64)
						_mm_prefetch(wb + KQ_MV_PF_BYTES + off, KQ_MV_PF_HINT);
				} else {
					/* four blocks are nine lines: three at the first block, two at each other;
					 * and one line per four blocks KQT_FAR_BYTES ahead into L2 */
					const char *g = row[i] + b4 * (int64_t)bsz + KQT_PF_BYTES;

					if (j == 0) {
						_mm_prefetch(g, _MM_HINT_T0);
						_mm_prefetch(g - KQT_PF_BYTES + KQT_FAR_BYTES, _MM_HINT_T1);
					}
					_mm_prefetch(g + 128 * j + 64, _MM_HINT_T0);
					_mm_prefetch(g + 128 * j + 128, _MM_HINT_T0);
				}
				mv_nibbles((const struct eng_block_q4_k *)wb, q5, nib, gf);
				if (q5)
					sc = _mm512_maskz_permutexvar_epi16(even, j & 1 ? _mm512_add_epi16(isc, up) : isc,
									    z[i][j >> 1]);
				_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
					const __m512i *x = (const __m512i *)(xq[t] + ENG_QK_K * b);

					if (q5) {
						__m512i pa = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, nib[0], x[0]), nib[1], x[1]);
						__m512i pb = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, nib[2], x[2]), nib[3], x[3]);
						__m512i s = _mm512_dpwssd_epi32(_mm512_madd_epi16(pa, sc), pb, sc);

						acc[i][t] = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_set1_epi32(2 * j), f[i][t]),
									    _mm512_cvtepi32_ps(s), acc[i][t]);
					} else {
						__m512i pj = _mm512_dpbusd_epi32(zero, nib[0], x[0]);

						pj = _mm512_dpbusd_epi32(pj, nib[1], x[1]);
						pj = _mm512_dpbusd_epi32(pj, nib[2], x[2]);
						p[i][t][j & 1] = _mm512_dpbusd_epi32(pj, nib[3], x[3]);
					}
				}
			}
			if (q5 || ((j & 1) == 0 && j + 1 < n4))
				continue;
			/* the pair of blocks j - 1, j, or j alone when it is the last */
			_Pragma("GCC unroll 2") for (int i = 0; i < R; i++) {
				const __m512i sc2 = gf ? z[i][j >> 1] : _mm512_permutexvar_epi16(isc2, z[i][j >> 1]);

				_Pragma("GCC unroll 4") for (int t = 0; t < nt; t++) {
					__m512i s = _mm512_madd_epi16(_mm512_packs_epi32(p[i][t][0], j & 1 ? p[i][t][1] : zero),
									sc2);

					acc[i][t] = _mm512_fmadd_ps(_mm512_permutexvar_ps(if2[j >> 1], f[i][t]), _mm512_cvtepi32_ps(s),
								    acc[i][t]);
				}
			}
		}
	}
	mv_reduce(R, nt, acc, accm, out);
}

TGT_INLINE void mv_rows(const int tl, const char *const *row, const int R, int64_t nbk,
			const void *const *xq, const struct mv_side4 *const *side, const int nt,
			float (*out)[4], const int q5)
{
	if (tl)
		q4kt_matvec_rows(row, R, nbk, (const int8_t *const *)xq, side, nt, out, q5, tl == 2);
	else
		q4k_matvec_rows(row, R, nbk, (const struct eng_block_q8_k *const *)xq, side, nt, out, q5);
}

/* Rows r0..r1 against every token (tl: the matrix is in the T layout; 2: and the CPU has GFNI). One
 * token (decode): rows r0 + i and r0 + h + i in pairs (h = half the range), so each thread reads
 * two streams; more tokens: a row at a time, four tokens per pass. */
TGT_INLINE void q4k_matvec(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1,
			   const int q5, const int tl)
{
	/* per token: the T-order quants (256 bytes per block) or the permuted Q8_K blocks */
	const void *xp = a->packed;
	const size_t xstride = tl ? ENG_QK_K : sizeof(struct eng_block_q8_k);
	const struct mv_side4 *side = (const struct mv_side4 *)((const char *)a->packed + mv_side_offset(a));
	const int64_t nbk = a->cols / ENG_QK_K, rb = (int64_t)w->row_bytes, ng = mv_groups(a);
	const char *base = (const char *)w->data;

	if (a->n_tok == 1) {
		const int64_t h = (r1 - r0) / 2;

		for (int64_t off = 0; off < KQ_MV_PF_BYTES; off += 64) {
			_mm_prefetch(base + r0 * rb + off, _MM_HINT_T0);
			_mm_prefetch(base + (r0 + h) * rb + off, _MM_HINT_T0);
		}
		for (int64_t i = 0; i < h; i++) {
			const char *rows[2] = { base + (r0 + i) * rb, base + (r0 + h + i) * rb };
			float out[2][4];

			mv_rows(tl, rows, 2, nbk, &xp, &side, 1, out, q5);
			y[r0 + i] = out[0][0];
			y[r0 + h + i] = out[1][0];
		}
		if ((r1 - r0) & 1) {
			const char *rows[1] = { base + (r1 - 1) * rb };
			float out[2][4];

			mv_rows(tl, rows, 1, nbk, &xp, &side, 1, out, q5);
			y[r1 - 1] = out[0][0];
		}
		return;
	}
	for (int64_t off = 0; off < KQ_MV_PF_BYTES; off += 64)
		_mm_prefetch(base + r0 * rb + off, _MM_HINT_T0);
	for (int64_t r = r0; r < r1; r++) {
		const char *row = base + r * rb;

		for (int t0 = 0; t0 < a->n_tok; t0 += 4) {
			const void *xq[4];
			const struct mv_side4 *sq[4];
			float out[2][4];
			int nt = a->n_tok - t0 < 4 ? a->n_tok - t0 : 4;

			for (int t = 0; t < nt; t++) {
				xq[t] = (const char *)xp + (size_t)(t0 + t) * (size_t)nbk * xstride;
				sq[t] = side + (int64_t)(t0 + t) * ng;
			}
			switch (nt) {
			case 4: mv_rows(tl, &row, 1, nbk, xq, sq, 4, out, q5); break;
			case 3: mv_rows(tl, &row, 1, nbk, xq, sq, 3, out, q5); break;
			case 2: mv_rows(tl, &row, 1, nbk, xq, sq, 2, out, q5); break;
			default: mv_rows(tl, &row, 1, nbk, xq, sq, 1, out, q5); break;
			}
			for (int t = 0; t < nt; t++)
				y[(int64_t)(t0 + t) * w->rows + r] = out[0][t];
		}
	}
}

/* Whether the T-layout decode kernels use GFNI (mv_high_nibbles) and VBMI (widen_bytes): the CPU's
 * answer (every CPU with GFNI and AVX-512 so far has VBMI too), unless a test forced one
 * (eng_kq_vnni_force_gfni). */
static int g_gfni_forced = -1;

void eng_kq_vnni_force_gfni(int on)
{
	g_gfni_forced = on;
}

static int use_gfni(void)
{
	/* libgcc fills in the CPU model in a constructor: after that a load and a test */
	if (g_gfni_forced >= 0)
		return g_gfni_forced;
	return __builtin_cpu_supports("gfni") && __builtin_cpu_supports("avx512vbmi");
}

TGT static void matvec_q4_k(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (w->layout != ENG_LAYOUT_KQ_T)
		q4k_matvec(w, a, y, r0, r1, 0, 0);
	else if (use_gfni())
		q4k_matvec(w, a, y, r0, r1, 0, 2);
	else
		q4k_matvec(w, a, y, r0, r1, 0, 1);
}

TGT static void matvec_q5_k(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (w->layout != ENG_LAYOUT_KQ_T)
		q4k_matvec(w, a, y, r0, r1, 1, 0);
	else if (use_gfni())
		q4k_matvec(w, a, y, r0, r1, 1, 2);
	else
		q4k_matvec(w, a, y, r0, r1, 1, 1);
}

/* ---- the row ranges ---- */

/* kind: 4, 5 or 6 for Q4_K, Q5_K, Q6_K; tl: the matrix is in the T layout */
TGT_INLINE void gemm_rows(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1,
			  const int kind, const int tl)
{
	int64_t tiles = (a->n_tok + 15) / 16;

#define KQ_TILE(R_, nr_, t_, TT_)                                            \
	do {                                                                 \
		if (kind == 6)                                               \
			q6k_tile(w, a, y, r, R_, nr_, t_, TT_);              \
		else                                                         \
			q4k_tile(w, a, y, r, R_, nr_, t_, TT_, kind == 5, tl);\
	} while (0)
	for (int64_t r = r0; r < r1;) {
		int nr = r1 - r < 4 ? (int)(r1 - r) : 4;
		int64_t t = 0;

		if (nr == 4) {
			for (; t + 2 <= tiles; t += 2)
				KQ_TILE(4, 4, t, 2);
			if (t < tiles)
				KQ_TILE(4, 4, t, 1);
			r += 4;
			continue;
		}
		/* the last 1-3 rows: 2 rows x 4 tiles */
		nr = r1 - r < 2 ? (int)(r1 - r) : 2;
		for (; t + 4 <= tiles; t += 4)
			KQ_TILE(2, nr, t, 4);
		switch (tiles - t) {
		case 3: KQ_TILE(2, nr, t, 3); break;
		case 2: KQ_TILE(2, nr, t, 2); break;
		case 1: KQ_TILE(2, nr, t, 1); break;
		}
		r += nr;
	}
#undef KQ_TILE
}

TGT static void gemm_q4_k(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (w->layout == ENG_LAYOUT_KQ_T)
		gemm_rows(w, a, y, r0, r1, 4, 1);
	else
		gemm_rows(w, a, y, r0, r1, 4, 0);
}

TGT static void gemm_q5_k(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (w->layout == ENG_LAYOUT_KQ_T)
		gemm_rows(w, a, y, r0, r1, 5, 1);
	else
		gemm_rows(w, a, y, r0, r1, 5, 0);
}

TGT static void gemm_q6_k(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	gemm_rows(w, a, y, r0, r1, 6, 0);
}

void eng_mm_q4_k_vnni(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (a->packed && a->n_tok >= KQ_GEMM_MIN_TOK)
		gemm_q4_k(w, a, y, r0, r1);
	else if (a->packed)
		matvec_q4_k(w, a, y, r0, r1);
	else if (w->layout == ENG_LAYOUT_KQ_T) /* no buffer for the activations (out of memory) */
		eng_mm_q4_k_ref(w, a, y, r0, r1);
	else
		eng_mm_q4_k_avx512(w, a, y, r0, r1);
}

void eng_mm_q5_k_vnni(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (a->packed && a->n_tok >= KQ_GEMM_MIN_TOK)
		gemm_q5_k(w, a, y, r0, r1);
	else if (a->packed)
		matvec_q5_k(w, a, y, r0, r1);
	else
		eng_mm_q5_k_x86(w, a, y, r0, r1); /* reads the T layout too */
}

void eng_mm_q6_k_vnni(const struct eng_mat *w, const struct eng_act *a, float *y, int64_t r0, int64_t r1)
{
	if (a->packed && a->n_tok >= KQ_GEMM_MIN_TOK)
		gemm_q6_k(w, a, y, r0, r1);
	else
		eng_mm_q6_k_avx512(w, a, y, r0, r1);
}

#endif /* __x86_64__ */
