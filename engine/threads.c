/*
 * engine/threads.c — the persistent thread pool.
 *
 * n_threads - 1 worker threads are created with the pool and live until eng_pool_free; the caller
 * of eng_pool_run is thread 0. A decode step dispatches ~150 short jobs (one per matmul and
 * attention), so dispatch latency matters: a dispatch bumps a generation counter that idle
 * workers spin on for a short while (ENG_POOL_SPIN polls, tens of microseconds) before they
 * sleep on a futex; the caller waits for the last worker the same way. When the pool has more
 * threads than the process has CPUs, spinning only steals time from the thread being waited
 * for, so the pool then sleeps almost at once. A futex wake is issued
 * only when someone is actually asleep.
 *
 * The generation counter and the pending count live on separate cache lines so that workers
 * polling one do not steal the line the other is written on.
 */
#include "engine/kernels_impl.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Polls before sleeping. A poll is one pause instruction plus a load: ~10-40 ns. */
#define ENG_POOL_SPIN 4096
/* With more threads than CPUs a spinning thread keeps a runnable one off its CPU: sleep at once. */
#define ENG_POOL_SPIN_OVERSUBSCRIBED 16
#define ENG_POOL_MIN_SCRATCH (256u * 1024u)

struct eng_pool_worker {
	/* the last dispatch this worker took part in, or that the caller ran without it (dynamic
	 * jobs); whoever moves it to the current generation first decides */
	_Alignas(64) atomic_uint claim;
	struct eng_pool *pool;
	int ith;
};

struct eng_pool {
	/* written by the dispatcher, read by workers */
	_Alignas(64) atomic_uint gen;     /* futex word: bumped once per dispatch */
	atomic_int sleeping;              /* workers blocked on gen */
	void (*fn)(void *arg, int ith, int nth);
	void *arg;
	atomic_int stop;
	/* written by workers */
	_Alignas(64) atomic_uint pending; /* futex word: workers still running the job */
	atomic_int caller_sleeping;
	/* owned by the dispatching thread */
	_Alignas(64) int n_threads;
	unsigned cur_gen; /* generation of the job being dispatched */
	int spin; /* polls before sleeping: ENG_POOL_SPIN, or a few when threads outnumber CPUs */
	pthread_t *threads;
	struct eng_pool_worker *workers;
	int n_started;
	void *scratch;
	size_t scratch_bytes;
};

/* Set while this thread runs a pool job: a dispatch from inside a job (which would wait for
 * workers that are busy running the outer job) runs the inner job on this thread alone. */
static _Thread_local int tl_in_job;

static void futex_wait(atomic_uint *addr, unsigned val)
{
	syscall(SYS_futex, (unsigned *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_uint *addr)
{
	syscall(SYS_futex, (unsigned *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* CPUs this process may run on. */
static int usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* Moves *claim to generation g unless it is there already; 1 if this call moved it. Wrap-safe. */
static int claim_gen(atomic_uint *claim, unsigned g)
{
	unsigned v = atomic_load(claim);

	while ((int)(v - g) < 0)
		if (atomic_compare_exchange_weak(claim, &v, g))
			return 1;
	return 0;
}

static void *worker_main(void *argp)
{
	struct eng_pool_worker *wk = argp;
	struct eng_pool *p = wk->pool;
	unsigned seen = 0;

	for (;;) {
		unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);

		for (int i = 0; g == seen && i < p->spin; i++) {
			cpu_relax();
			g = atomic_load_explicit(&p->gen, memory_order_acquire);
		}
		if (g == seen) {
			atomic_fetch_add(&p->sleeping, 1);
			/* returns at once if gen moved after our last load */
			futex_wait(&p->gen, seen);
			atomic_fetch_sub(&p->sleeping, 1);
			continue;
		}
		seen = g;
		if (atomic_load_explicit(&p->stop, memory_order_acquire))
			return NULL;
		if (!claim_gen(&wk->claim, g))
			continue; /* a dynamic job the caller finished without us: do not touch it */
		tl_in_job = 1;
		p->fn(p->arg, wk->ith, p->n_threads);
		tl_in_job = 0;
		if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_seq_cst) == 1 &&
		    atomic_load(&p->caller_sleeping))
			futex_wake(&p->pending);
	}
}

/* Starts the job on the workers (they see fn/arg through the release on gen). */
static void dispatch(struct eng_pool *p, void (*fn)(void *, int, int), void *arg)
{
	p->fn = fn;
	p->arg = arg;
	atomic_store_explicit(&p->pending, (unsigned)(p->n_threads - 1), memory_order_relaxed);
	/* seq_cst: ordered before the load of sleeping */
	p->cur_gen = atomic_fetch_add(&p->gen, 1) + 1;
	if (atomic_load(&p->sleeping) > 0)
		futex_wake(&p->gen);
}

static void wait_workers(struct eng_pool *p)
{
	unsigned left = atomic_load_explicit(&p->pending, memory_order_acquire);

	for (int i = 0; left && i < p->spin; i++) {
		cpu_relax();
		left = atomic_load_explicit(&p->pending, memory_order_acquire);
	}
	while (left) {
		atomic_store(&p->caller_sleeping, 1);
		left = atomic_load(&p->pending);
		if (left)
			futex_wait(&p->pending, left);
		atomic_store(&p->caller_sleeping, 0);
		left = atomic_load_explicit(&p->pending, memory_order_acquire);
	}
}

static void pool_stop(struct eng_pool *p)
{
	if (p->n_started == 0)
		return;
	atomic_store(&p->stop, 1);
	p->fn = NULL;
	atomic_fetch_add(&p->gen, 1);
	futex_wake(&p->gen);
	for (int i = 0; i < p->n_started; i++)
		pthread_join(p->threads[i], NULL);
	p->n_started = 0;
}

struct eng_pool *eng_pool_new(int n_threads)
{
	struct eng_pool *p = NULL;

	if (n_threads < 1 || n_threads > 1024)
		return NULL;
	if (posix_memalign((void **)&p, 64, sizeof *p))
		return NULL;
	memset(p, 0, sizeof *p);
	atomic_init(&p->gen, 0);
	atomic_init(&p->sleeping, 0);
	atomic_init(&p->stop, 0);
	atomic_init(&p->pending, 0);
	atomic_init(&p->caller_sleeping, 0);
	p->n_threads = n_threads;
	p->spin = n_threads <= usable_cpus() ? ENG_POOL_SPIN : ENG_POOL_SPIN_OVERSUBSCRIBED;
	p->threads = calloc((size_t)n_threads, sizeof *p->threads);
	if (posix_memalign((void **)&p->workers, 64, (size_t)n_threads * sizeof *p->workers))
		p->workers = NULL;
	if (!p->threads || !p->workers || !eng_pool_scratch(p, ENG_POOL_MIN_SCRATCH))
		goto fail;
	memset(p->workers, 0, (size_t)n_threads * sizeof *p->workers);
	for (int i = 0; i < n_threads; i++)
		atomic_init(&p->workers[i].claim, 0);
	for (int i = 1; i < n_threads; i++) {
		p->workers[i].pool = p;
		p->workers[i].ith = i;
		if (pthread_create(&p->threads[p->n_started], NULL, worker_main, &p->workers[i]))
			goto fail;
		p->n_started++;
	}
	return p;
fail:
	eng_pool_free(p);
	return NULL;
}

void eng_pool_free(struct eng_pool *p)
{
	if (!p)
		return;
	pool_stop(p);
	free(p->threads);
	free(p->workers);
	free(p->scratch);
	free(p);
}

int eng_pool_in_job(void)
{
	return tl_in_job;
}

int eng_pool_threads(const struct eng_pool *p)
{
	return p ? p->n_threads : 1;
}

void eng_pool_run(struct eng_pool *p, void (*fn)(void *arg, int ith, int nth), void *arg)
{
	if (!p || p->n_threads == 1 || tl_in_job) {
		fn(arg, 0, 1);
		return;
	}
	dispatch(p, fn, arg);
	tl_in_job = 1;
	fn(arg, 0, p->n_threads);
	tl_in_job = 0;
	wait_workers(p);
}

void eng_pool_run_dynamic(struct eng_pool *p, void (*fn)(void *arg, int ith, int nth), void *arg)
{
	unsigned skipped = 0;

	if (!p || p->n_threads == 1 || tl_in_job) {
		fn(arg, 0, 1);
		return;
	}
	dispatch(p, fn, arg);
	tl_in_job = 1;
	fn(arg, 0, p->n_threads);
	tl_in_job = 0;
	/* All work is claimed; workers that have not started (descheduled, still waking) are not
	 * waited for: they will see the claim and leave the job alone. */
	for (int i = 1; i < p->n_threads; i++)
		skipped += (unsigned)claim_gen(&p->workers[i].claim, p->cur_gen);
	if (skipped)
		atomic_fetch_sub(&p->pending, skipped);
	wait_workers(p);
}

void *eng_pool_scratch(struct eng_pool *p, size_t bytes)
{
	void *mem = NULL;

	if (!p)
		return NULL;
	if (bytes <= p->scratch_bytes)
		return p->scratch;
	bytes = (bytes + 4095) & ~(size_t)4095;
	if (posix_memalign(&mem, 64, bytes))
		return NULL;
	free(p->scratch);
	p->scratch = mem;
	p->scratch_bytes = bytes;
	return mem;
}
