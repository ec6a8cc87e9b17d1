/*
 * engine/membw.c — memory read bandwidth, the ceiling of decode speed.
 *
 * A decode step streams every weight once, so tokens/s can never exceed (read bandwidth) /
 * (weight bytes per token). This measures that bandwidth the way the matmul kernels see it:
 * n_threads threads of the engine's own pool each read their contiguous share of one buffer,
 * far larger than the last-level cache, with wide loads and several independent accumulators
 * (so the loop is limited by memory, not by a dependency chain). Every pass is timed; the
 * result keeps every sample, the best (the usual bandwidth figure, as STREAM reports it) and the
 * median.
 */
#include "engine/engine.h"
#include "engine/kernels_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

struct read_job {
	const uint64_t *buf;
	size_t n_words; /* uint64 words in the buffer, a multiple of 64 */
	uint64_t sums[64][8]; /* per thread, a cache line each: keeps the loads alive */
};

#if defined(__x86_64__)
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint64_t *p, size_t n)
{
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;

	for (size_t i = 0; i < n; i += 16) {
		a0 = _mm256_xor_si256(a0, _mm256_load_si256((const __m256i *)(p + i)));
		a1 = _mm256_xor_si256(a1, _mm256_load_si256((const __m256i *)(p + i + 4)));
		a2 = _mm256_xor_si256(a2, _mm256_load_si256((const __m256i *)(p + i + 8)));
		a3 = _mm256_xor_si256(a3, _mm256_load_si256((const __m256i *)(p + i + 12)));
	}
	a0 = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
	return (uint64_t)_mm256_extract_epi64(a0, 0) ^ (uint64_t)_mm256_extract_epi64(a0, 3);
}
#endif

static uint64_t read_plain(const uint64_t *p, size_t n)
{
	uint64_t a[8] = { 0 };

	for (size_t i = 0; i < n; i += 8)
		for (int k = 0; k < 8; k++)
			a[k] ^= p[i + k];
	return a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5] ^ a[6] ^ a[7];
}

static void read_worker(void *arg, int ith, int nth)
{
	struct read_job *j = arg;
	size_t per = j->n_words / (size_t)nth / 64 * 64;
	size_t start = per * (size_t)ith;
	size_t n = ith == nth - 1 ? j->n_words - start : per;
	uint64_t s;

#if defined(__x86_64__)
	if (eng_x86_has_avx2_fma_f16c())
		s = read_avx2(j->buf + start, n);
	else
#endif
		s = read_plain(j->buf + start, n);
	j->sums[ith % 64][0] ^= s;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_sorted(const double *v, int n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int measure(int n_threads, size_t bytes, size_t min_bytes, int reps, struct eng_membw *out, char *err,
		   size_t errlen)
{
	struct eng_pool *pool = NULL;
	struct read_job *job = NULL;
	uint64_t *buf = NULL;
	double sorted[ENG_MEMBW_MAX_REPS];
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (n_threads < 1 || n_threads > 1024) {
		snprintf(err, errlen, "membw: thread count %d out of range (1..1024)", n_threads);
		return -EINVAL;
	}
	if (bytes < min_bytes) {
		snprintf(err, errlen, "membw: buffer of %zu bytes is too small (at least %zu KiB)", bytes,
			 min_bytes >> 10);
		return -EINVAL;
	}
	if (reps < 1 || reps > ENG_MEMBW_MAX_REPS) {
		snprintf(err, errlen, "membw: %d passes out of range (1..%d)", reps, ENG_MEMBW_MAX_REPS);
		return -EINVAL;
	}
	bytes = bytes / 4096 * 4096;
	if (posix_memalign((void **)&buf, 4096, bytes)) {
		snprintf(err, errlen, "membw: cannot allocate %zu MiB", bytes >> 20);
		return -ENOMEM;
	}
	job = calloc(1, sizeof *job);
	pool = eng_pool_new(n_threads);
	if (!job || !pool) {
		snprintf(err, errlen, "membw: cannot start %d threads", n_threads);
		rc = -ENOMEM;
		goto out;
	}
#if defined(MADV_HUGEPAGE)
	/* large pages where the kernel allows: a multi-GiB buffer on 4 KiB pages measures TLB misses */
	(void)madvise(buf, bytes, MADV_HUGEPAGE);
#endif
	/* real pages with non-zero data (zero pages could all map one physical page) */
	for (size_t i = 0; i < bytes / sizeof *buf; i++)
		buf[i] = i * 0x9e3779b97f4a7c15ull;
	job->buf = buf;
	job->n_words = bytes / sizeof *buf;
	eng_pool_run(pool, read_worker, job); /* warm-up: threads running, TLB */
	out->n_threads = n_threads;
	out->bytes = bytes;
	for (int r = 0; r < reps; r++) {
		double t0 = now_s(), dt;

		eng_pool_run(pool, read_worker, job);
		dt = now_s() - t0;
		out->samples_gbs[r] = dt > 0 ? (double)bytes / dt / 1e9 : 0.0;
		sorted[r] = out->samples_gbs[r];
	}
	out->n_samples = reps;
	qsort(sorted, (size_t)reps, sizeof sorted[0], cmp_double);
	out->best_gbs = sorted[reps - 1];
	out->median_gbs = reps % 2 ? sorted[reps / 2] : (sorted[reps / 2 - 1] + sorted[reps / 2]) / 2;
out:
	eng_pool_free(pool);
	free(job);
	free(buf);
	return rc;
}

int eng_membw_measure(int n_threads, size_t bytes, int reps, struct eng_membw *out, char *err,
		      size_t errlen)
{
	if (bytes < ENG_MEMBW_MIN_BYTES) {
		memset(out, 0, sizeof *out);
		snprintf(err, errlen, "membw: buffer of %zu bytes is too small (at least %u MiB, well past the caches)",
			 bytes, ENG_MEMBW_MIN_BYTES >> 20);
		return -EINVAL;
	}
	return measure(n_threads, bytes, ENG_MEMBW_MIN_BYTES, reps, out, err, errlen);
}

int eng_membw_measure_cached(int n_threads, size_t bytes, int reps, struct eng_membw *out, char *err,
			     size_t errlen)
{
	/* each thread's share a whole number of 64-word steps */
	return measure(n_threads, bytes, (size_t)64 << 10, reps, out, err, errlen);
}

/* ---- cache sizes ---- */

/* The first line of a small sysfs file, without the newline; -1 when it cannot be read. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int rc = -1;

	if (!f)
		return -1;
	if (fgets(buf, (int)len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		rc = 0;
	}
	fclose(f);
	return rc;
}

/* "32768K", "1M", "512" -> bytes; 0 when it does not parse. */
static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return 0;
	if (*end == 'K')
		v <<= 10;
	else if (*end == 'M')
		v <<= 20;
	else if (*end == 'G')
		v <<= 30;
	return (size_t)v;
}

void eng_cache_info(const char *sysfs_root, struct eng_cache_info *out)
{
	char path[512], level[16], type[32], size[32];

	memset(out, 0, sizeof *out);
	for (int i = 0; i < 16; i++) {
		const char *root = sysfs_root ? sysfs_root : "/sys";
		size_t b;
		int lv;

		snprintf(path, sizeof path, "%s/devices/system/cpu/cpu0/cache/index%d/level", root, i);
		if (read_line(path, level, sizeof level) < 0)
			continue;
		snprintf(path, sizeof path, "%s/devices/system/cpu/cpu0/cache/index%d/type", root, i);
		if (read_line(path, type, sizeof type) < 0 || !strcmp(type, "Instruction"))
			continue;
		snprintf(path, sizeof path, "%s/devices/system/cpu/cpu0/cache/index%d/size", root, i);
		if (read_line(path, size, sizeof size) < 0)
			continue;
		lv = atoi(level);
		b = parse_size(size);
		if (b > 0 && lv >= out->llc_level) {
			out->llc_level = lv;
			out->llc_bytes = b;
		}
	}
	if (out->llc_bytes) {
		snprintf(out->source, sizeof out->source, "sysfs (cpu0 cache index*, L%d)", out->llc_level);
		return;
	}
	if (sysfs_root) { /* a fake tree: never the real machine's figures */
		snprintf(out->source, sizeof out->source, "no cache sizes under %s", sysfs_root);
		return;
	}
#if defined(_SC_LEVEL3_CACHE_SIZE)
	{
		long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);

		if (l3 > 0) {
			out->llc_bytes = (size_t)l3;
			out->llc_level = 3;
		} else if (l2 > 0) {
			out->llc_bytes = (size_t)l2;
			out->llc_level = 2;
		}
	}
#endif
	if (out->llc_bytes)
		snprintf(out->source, sizeof out->source, "sysconf (CPUID), L%d: /sys has no cache sizes here",
			 out->llc_level);
	else
		snprintf(out->source, sizeof out->source, "unknown: neither /sys nor sysconf report cache sizes");
}

size_t eng_membw_dram_bytes(const struct eng_cache_info *ci)
{
	size_t b = ENG_MEMBW_DEFAULT_BYTES;
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	size_t cap = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz / 4 : 0;

	if (ci->llc_bytes > b / 4)
		b = 4 * ci->llc_bytes;
	if (cap >= ENG_MEMBW_DEFAULT_BYTES && b > cap)
		b = cap;
	return b / 4096 * 4096;
}

size_t eng_membw_cache_bytes(const struct eng_cache_info *ci)
{
	size_t b = ci->llc_bytes / 2;

	if (b > ENG_MEMBW_CACHE_MAX_BYTES)
		b = ENG_MEMBW_CACHE_MAX_BYTES;
	if (b < ((size_t)1 << 20))
		b = (size_t)1 << 20;
	return b / 4096 * 4096;
}

double eng_membw_read_gbs(int n_threads, size_t bytes, char *err, size_t errlen)
{
	struct eng_membw m;

	if (eng_membw_measure(n_threads, bytes, ENG_MEMBW_DEFAULT_REPS, &m, err, errlen) < 0)
		return -1.0;
	return m.best_gbs;
}

/* ---- matrix-vector product bandwidth ---- */

struct mv_fill {
	uint64_t s;
};

static uint64_t mv_next(struct mv_fill *f)
{
	f->s ^= f->s << 13;
	f->s ^= f->s >> 7;
	f->s ^= f->s << 17;
	return f->s;
}

/* Fills one matrix with valid random data of its type without quantizing (fast for 100s of MiB):
 * quants are any bytes, scales and halves are finite values of moderate size. */
static void mv_fill_matrix(int type, void *data, int64_t rows, size_t row_bytes, int64_t cols,
			   struct mv_fill *f)
{
	if (type != ENG_TYPE_F32 && type != ENG_TYPE_F16 && type != ENG_TYPE_Q4_0 && type != ENG_TYPE_Q8_0) {
		/* the other block formats (scales packed with the quants): one row quantized from random
		 * floats, copied to every row (quantizing hundreds of MiB of K-quants takes seconds) */
		float *x = malloc((size_t)cols * sizeof *x);

		if (!x) {
			memset(data, 0, (size_t)rows * row_bytes);
			return;
		}
		for (int64_t c = 0; c < cols; c++)
			x[c] = (float)(int32_t)(mv_next(f) >> 32) * 0x1p-31f;
		eng_quantize_row(type, x, data, cols);
		for (int64_t r = 1; r < rows; r++)
			memcpy((char *)data + r * (int64_t)row_bytes, data, row_bytes);
		free(x);
		return;
	}
	for (int64_t r = 0; r < rows; r++) {
		char *row = (char *)data + r * (int64_t)row_bytes;

		switch (type) {
		case ENG_TYPE_F32:
			for (int64_t c = 0; c < cols; c++)
				((float *)row)[c] = (float)(int32_t)(mv_next(f) >> 32) * 0x1p-31f;
			break;
		case ENG_TYPE_F16:
			for (int64_t c = 0; c < cols; c++)
				((eng_f16 *)row)[c] = (eng_f16)(mv_next(f) & 0xbbff); /* |v| < 2 */
			break;
		default: {
			size_t bsz = type == ENG_TYPE_Q4_0 ? sizeof(struct eng_block_q4_0)
							   : sizeof(struct eng_block_q8_0);

			for (size_t i = 0; i < row_bytes; i += 8) {
				uint64_t v = mv_next(f);

				memcpy(row + i, &v, row_bytes - i < 8 ? row_bytes - i : 8);
			}
			for (size_t b = 0; b < row_bytes / bsz; b++) {
				eng_f16 d = (eng_f16)(0x2000 | (mv_next(f) & 0x3ff)); /* ~0.008 */

				memcpy(row + b * bsz, &d, sizeof d);
			}
		}
		}
	}
}

int eng_membw_matvec(int type, int64_t rows, int64_t cols, int n_threads, size_t bytes, int reps,
		     struct eng_membw *out, char *err, size_t errlen)
{
	size_t row_bytes = eng_row_bytes(type, cols), mat_bytes;
	struct eng_pool *pool = NULL;
	char *data = NULL;
	float *x = NULL, *y = NULL;
	struct mv_fill f = { 0x853c49e6748fea9bull };
	double sorted[ENG_MEMBW_MAX_REPS], ratios[ENG_MEMBW_MAX_REPS];
	struct read_job *job = NULL;
	int64_t n_copies;
	int rc = 0;

	memset(out, 0, sizeof *out);
	if (type < 0 || type >= ENG_KTYPE_SLOTS || !eng_kset_ref.mm[type] || rows < 1 || cols < 1 || row_bytes == 0) {
		snprintf(err, errlen, "matvec: unsupported type %d or shape %lldx%lld", type, (long long)rows,
			 (long long)cols);
		return -EINVAL;
	}
	if (n_threads < 1 || n_threads > 1024 || reps < 1 || reps > ENG_MEMBW_MAX_REPS) {
		snprintf(err, errlen, "matvec: %d threads / %d passes out of range", n_threads, reps);
		return -EINVAL;
	}
	mat_bytes = row_bytes * (size_t)rows;
	/* enough copies that one pass streams `bytes` from memory, not from the caches */
	n_copies = (int64_t)((bytes + mat_bytes - 1) / mat_bytes);
	if (n_copies < 1)
		n_copies = 1;
	if (posix_memalign((void **)&data, 4096, mat_bytes * (size_t)n_copies)) {
		snprintf(err, errlen, "matvec: cannot allocate %zu MiB", (mat_bytes * (size_t)n_copies) >> 20);
		return -ENOMEM;
	}
	x = malloc((size_t)cols * sizeof *x);
	y = malloc((size_t)rows * sizeof *y);
	pool = eng_pool_new(n_threads);
	job = calloc(1, sizeof *job);
	if (!x || !y || !pool || !job) {
		snprintf(err, errlen, "matvec: out of memory or cannot start %d threads", n_threads);
		rc = -ENOMEM;
		goto out;
	}
#if defined(MADV_HUGEPAGE)
	/* the pages the read bandwidth was measured on (measure) */
	(void)madvise(data, mat_bytes * (size_t)n_copies, MADV_HUGEPAGE);
#endif
	for (int64_t k = 0; k < n_copies; k++) {
		struct eng_mat w = { .data = data + (size_t)k * mat_bytes, .type = type, .rows = rows, .cols = cols,
				     .row_bytes = row_bytes };

		mv_fill_matrix(type, data + (size_t)k * mat_bytes, rows, row_bytes, cols, &f);
		/* in the layout the model loader would give this type (the same bytes, reordered) */
		if (eng_weight_layout(type) != ENG_LAYOUT_GGML)
			(void)eng_mat_relayout(&w, eng_weight_layout(type), data + (size_t)k * mat_bytes);
	}
	for (int64_t c = 0; c < cols; c++)
		x[c] = (float)(int32_t)(mv_next(&f) >> 32) * 0x1p-31f;
	out->n_threads = n_threads;
	out->bytes = mat_bytes * (size_t)n_copies;
	/* the paired read: whole 64-word steps of the same copies */
	job->buf = (const uint64_t *)data;
	job->n_words = out->bytes / sizeof(uint64_t) / 64 * 64;
	for (int r = -1; r < reps; r++) { /* pass -1 warms up */
		double t0 = now_s(), dt, t1, dr;

		for (int64_t k = 0; k < n_copies; k++) {
			struct eng_mat w = { .data = data + (size_t)k * mat_bytes, .type = type, .rows = rows,
					     .cols = cols, .row_bytes = row_bytes, .layout = eng_weight_layout(type) };

			eng_matmul(pool, &w, x, 1, y);
		}
		dt = now_s() - t0;
		t1 = now_s();
		eng_pool_run(pool, read_worker, job);
		dr = now_s() - t1;
		if (r < 0)
			continue;
		out->samples_gbs[r] = dt > 0 ? (double)out->bytes / dt / 1e9 : 0.0;
		out->paired_read_gbs[r] = dr > 0 ? (double)(job->n_words * sizeof(uint64_t)) / dr / 1e9 : 0.0;
		sorted[r] = out->samples_gbs[r];
		ratios[r] = out->paired_read_gbs[r] > 0 ? out->samples_gbs[r] / out->paired_read_gbs[r] : 0.0;
	}
	out->n_samples = reps;
	qsort(sorted, (size_t)reps, sizeof sorted[0], cmp_double);
	out->best_gbs = sorted[reps - 1];
	out->median_gbs = median_sorted(sorted, reps);
	qsort(ratios, (size_t)reps, sizeof ratios[0], cmp_double);
	out->paired_ratio_median = median_sorted(ratios, reps);
	memcpy(sorted, out->paired_read_gbs, (size_t)reps * sizeof sorted[0]);
	qsort(sorted, (size_t)reps, sizeof sorted[0], cmp_double);
	out->paired_read_best_gbs = sorted[reps - 1];
out:
	eng_pool_free(pool);
	free(job);
	free(data);
	free(x);
	free(y);
	return rc;
}
