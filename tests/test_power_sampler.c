/*
 * tests/test_power_sampler.c — the power sampling thread against fake RAPL zones that a test
 * thread advances at a known wattage.
 *
 * Each test copies a fixture tree from tests/fixtures/sysfs/ to a temporary directory and starts
 * a writer thread that rewrites the copied energy_uj files every 2 ms with
 * (start + W * elapsed) mod max_energy_range_uj. The powercap backend reads them through its test
 * hook: the file is read for real (so permissions, removal and errors behave as on disk) and, for
 * a live zone, the hook answers with the zone's value at the moment of the read. The sampler is
 * then held to 1% of the true energy without depending on how a loaded machine schedules the
 * writer. The same hook injects permission errors, since tests run as root, where chmod 000 does
 * not deny reads.
 */
#include "helpers/fakesys.h"
#include "helpers/testutil.h"

#include "power/backend.h"
#include "power/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the fake writer ----------------------------------------------------------------------- */

struct fake_zone {
	char path[PATH_MAX]; /* energy_uj in the copied tree */
	uint64_t range_uj, start_uj;
	double watts;        /* current power */
	double base_j;       /* energy up to base_ns */
	int64_t base_ns;
	char last[32];       /* the hook's last answer (what a removed file still holds) */
};

static struct {
	pthread_mutex_t lock;
	struct fake_zone z[8];
	int n;
	pthread_t thread;
	bool stop, running;
	char deny_open[128];  /* open() of a path containing this fails with EACCES */
	char deny_read[128];  /* pread() of an fd whose path contains this fails with EACCES */
} fk = { .lock = PTHREAD_MUTEX_INITIALIZER };

static double zone_energy_j(const struct fake_zone *z, int64_t t_ns)
{
	return z->base_j + z->watts * (double)(t_ns - z->base_ns) / 1e9;
}

static uint64_t zone_raw(const struct fake_zone *z, int64_t t_ns)
{
	return (z->start_uj + (uint64_t)llround(zone_energy_j(z, t_ns) * 1e6)) % z->range_uj;
}

/* Rewrites every zone's energy_uj with its value now. The values are computed under fk.lock,
 * the files written outside it, so a reader never waits for file I/O. A zone whose file was
 * removed stays removed (no O_CREAT). */
static void write_all(void)
{
	uint64_t raw[8];
	int n;
	int64_t now;

	pthread_mutex_lock(&fk.lock);
	now = pwr_now_ns();
	n = fk.n;
	for (int i = 0; i < n; i++)
		raw[i] = zone_raw(&fk.z[i], now);
	pthread_mutex_unlock(&fk.lock);
	for (int i = 0; i < n; i++) {
		char buf[32];
		int fd = open(fk.z[i].path, O_WRONLY | O_TRUNC);
		int len;

		if (fd < 0)
			continue;
		len = snprintf(buf, sizeof buf, "%llu\n", (unsigned long long)raw[i]);
		if (write(fd, buf, (size_t)len) != len)
			fprintf(stderr, "fake writer: short write to %s\n", fk.z[i].path);
		close(fd);
	}
}

static void *writer_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = { 0, 2000000 };
		bool stop;

		pthread_mutex_lock(&fk.lock);
		stop = fk.stop;
		pthread_mutex_unlock(&fk.lock);
		if (stop)
			return NULL;
		write_all();
		nanosleep(&ts, NULL);
	}
}

/* Which fake zone an fd opened by the backend reads (-1 for other files), by inode. */
static int fd_zone[1024];

static int hook_open(const char *path)
{
	struct stat st, zs;
	int fd;

	if (fk.deny_open[0] && strstr(path, fk.deny_open))
		return -EACCES;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fd < 1024) {
		fd_zone[fd] = -1;
		if (fstat(fd, &st) == 0)
			for (int i = 0; i < fk.n; i++)
				if (stat(fk.z[i].path, &zs) == 0 && zs.st_ino == st.st_ino && zs.st_dev == st.st_dev)
					fd_zone[fd] = i;
	}
	return fd;
}

/*
 * Reads the file for real (so errors and a removed file behave as they would), then, for a live
 * fake zone, answers with the zone's value at this very moment: the writer thread keeps the
 * files current only to within its period and its scheduling delays, which on a loaded machine
 * would swamp the 1% the sampler is held to.
 */
static ssize_t hook_pread(int fd, void *buf, size_t n, off_t off)
{
	struct stat st;
	ssize_t r;
	int z = fd >= 0 && fd < 1024 ? fd_zone[fd] : -1;
	char deny_read[128];

	pthread_mutex_lock(&fk.lock);
	memcpy(deny_read, fk.deny_read, sizeof deny_read);
	pthread_mutex_unlock(&fk.lock);
	if (deny_read[0]) {
		char link[64], target[PATH_MAX];
		ssize_t l;

		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		l = readlink(link, target, sizeof target - 1);
		if (l > 0) {
			target[l] = '\0';
			if (strstr(target, deny_read))
				return -EACCES;
		}
	}
	r = pread(fd, buf, n, off);
	if (r < 0)
		return -errno;
	if (z >= 0 && off == 0 && fstat(fd, &st) == 0) {
		char text[32];
		int len;

		pthread_mutex_lock(&fk.lock);
		if (st.st_nlink > 0)
			snprintf(fk.z[z].last, sizeof fk.z[z].last, "%llu\n",
				 (unsigned long long)zone_raw(&fk.z[z], pwr_now_ns()));
		/* removed: an open file keeps its last contents */
		len = snprintf(text, sizeof text, "%s", fk.z[z].last);
		pthread_mutex_unlock(&fk.lock);
		if ((size_t)len > n)
			len = (int)n;
		memcpy(buf, text, (size_t)len);
		r = len;
	}
	return r;
}

static const struct pwr_powercap_io hook_io = { hook_open, hook_pread };

#define ZONE_DIR "sys/devices/virtual/powercap/intel-rapl/"

/* Registers a fake zone (rel = zone directory under the root) and sets its range and start. */
static struct fake_zone *add_zone(const char *root, const char *rel, double watts, uint64_t range_uj,
				  uint64_t start_uj)
{
	struct fake_zone *z = &fk.z[fk.n++];
	char buf[64], rp[PATH_MAX];

	memset(z, 0, sizeof *z);
	snprintf(rp, sizeof rp, "%s/max_energy_range_uj", rel);
	snprintf(buf, sizeof buf, "%llu\n", (unsigned long long)range_uj);
	fs_put(root, rp, buf);
	snprintf(rp, sizeof rp, "%s/energy_uj", rel);
	pwr_path(z->path, sizeof z->path, root, rp);
	z->range_uj = range_uj;
	z->start_uj = start_uj;
	z->watts = watts;
	z->base_ns = pwr_now_ns();
	return z;
}

static void set_watts(struct fake_zone *z, double watts)
{
	int64_t now;

	pthread_mutex_lock(&fk.lock);
	now = pwr_now_ns();
	z->base_j = zone_energy_j(z, now);
	z->base_ns = now;
	z->watts = watts;
	pthread_mutex_unlock(&fk.lock);
}

static void start_writer(void)
{
	write_all();
	fk.stop = false;
	assert_int_equal(pthread_create(&fk.thread, NULL, writer_main, NULL), 0);
	fk.running = true;
}

static void stop_writer(void)
{
	if (!fk.running)
		return;
	pthread_mutex_lock(&fk.lock);
	fk.stop = true;
	pthread_mutex_unlock(&fk.lock);
	pthread_join(fk.thread, NULL);
	fk.running = false;
}

static int setup(void **state)
{
	(void)state;
	fk.n = 0;
	fk.deny_open[0] = fk.deny_read[0] = '\0';
	pwr_powercap_set_io(&hook_io);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	stop_writer();
	pwr_powercap_set_io(NULL);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int find_domain(struct pwr_set *s, const char *id)
{
	for (int i = 0; i < pwr_n_domains(s); i++)
		if (!strcmp(pwr_domain(s, i)->id, id))
			return i;
	fail_msg("no domain %s", id);
	return -1;
}

static const char *only[] = { "powercap", NULL };

static struct pwr_set *open_root(const char *root, int interval_ms)
{
	struct pwr_opts o = { .sysfs_root = root, .probes = only, .interval_ms = interval_ms };
	struct pwr_set *s = NULL;
	char err[256] = "";

	if (pwr_open(&o, &s, err, sizeof err) != 0)
		fail_msg("pwr_open: %s", err);
	return s;
}

/* Holds the sampler's energy for [t0, t1] to `want` within 1%. */
static void expect_joules(struct pwr_set *s, int dom, int64_t t0, int64_t t1, double want)
{
	struct pwr_energy e;

	assert_int_equal(pwr_energy_window(s, dom, t0, t1, &e), 0);
	if (!e.valid)
		fail_msg("%s: window invalid: %s", pwr_domain(s, dom)->id, e.reason);
	if (fabs(e.energy_j - want) > 0.01 * want + 1e-6)
		fail_msg("%s: %.6f J measured, %.6f J true (%.3f%% off)", pwr_domain(s, dom)->id, e.energy_j, want,
			 100 * (e.energy_j - want) / want);
	assert_false(e.wrap_suspect);
}

/* The same against the writer's energy (the zone's wattage must not have changed since t0). */
static void expect_energy(struct pwr_set *s, int dom, const struct fake_zone *z, int64_t t0, int64_t t1)
{
	expect_joules(s, dom, t0, t1, zone_energy_j(z, t1) - zone_energy_j(z, t0));
}

/* How many times the raw value fell (wrapped) in the samples of domain i. */
static int count_wraps(struct pwr_set *s, int i)
{
	struct pwr_sample *v;
	size_t n = pwr_samples(s, i, &v);
	int wraps = 0;

	for (size_t k = 1; k < n; k++)
		if (v[k].raw < v[k - 1].raw)
			wraps++;
	free(v);
	return wraps;
}


/* A measured counter that never moves over more than a second of sampling (a VM exposing the
 * RAPL event but reading it as 0) gives no figure, with the reason, instead of 0 J; the same
 * counter once it moves integrates again. */
static void stuck_counter_is_no_energy(void **state)
{
	char *root = fs_copy_fixture("amd-zen");
	struct fake_zone *z;
	struct pwr_set *s;
	struct pwr_energy e;
	int64_t a, b, c;
	int i;

	(void)state;
	z = add_zone(root, ZONE_DIR "intel-rapl:0", 0.0, 65532610987ULL, 9071453379ULL);
	start_writer();
	s = open_root(root, 100);
	i = find_domain(s, "powercap:package-0");
	pwr_sample_now(s);
	a = pwr_now_ns();
	for (int k = 0; k < 12; k++) {
		sleep_ms(100);
		pwr_sample_now(s);
	}
	b = pwr_now_ns();
	pwr_sample_now(s);
	assert_int_equal(pwr_energy_window(s, i, a, b, &e), 0);
	assert_false(e.valid);
	assert_non_null(strstr(e.reason, "never advanced"));
	assert_non_null(strstr(e.reason, "powercap:package-0"));
	/* it starts counting: every window is a measurement again */
	set_watts(z, 20.0);
	/* long enough that the fake writer's update lag (a few ms natively, tens under qemu) stays
	 * well inside the 1% */
	sleep_ms(1500);
	c = pwr_now_ns();
	pwr_sample_now(s);
	assert_int_equal(pwr_energy_window(s, i, b, c, &e), 0);
	assert_true(e.valid);
	expect_joules(s, i, b, c, zone_energy_j(z, c) - zone_energy_j(z, b));
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void integrates_constant_power(void **state)
{
	char *root = fs_copy_fixture("intel-client");
	struct fake_zone *pkg, *psys;
	struct pwr_set *s;
	char err[256];
	int64_t a, b;
	int ip, iy;

	(void)state;
	pkg = add_zone(root, ZONE_DIR "intel-rapl:0", 25.0, 262143328850ULL, 118452031755ULL);
	psys = add_zone(root, ZONE_DIR "intel-rapl:1", 41.5, 262143328850ULL, 201744187932ULL);
	start_writer();
	s = open_root(root, 50);
	ip = find_domain(s, "powercap:package-0");
	iy = find_domain(s, "powercap:psys");
	assert_int_equal(pwr_primary_domain(s), iy);
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), -EALREADY);
	sleep_ms(100);
	a = pwr_now_ns();
	sleep_ms(500);
	b = pwr_now_ns();
	sleep_ms(60);
	pwr_sampler_stop(s);
	pwr_sampler_stop(s); /* safe twice */
	/* window edges fall between samples: exercises the interpolation */
	expect_energy(s, ip, pkg, a, b);
	expect_energy(s, iy, psys, a, b);
	assert_true(pwr_sampler_count(s) >= 8);
	assert_true(pwr_sampler_cpu_ns_per_sample(s) > 0);
	{
		struct pwr_energy e;

		assert_int_equal(pwr_energy_window(s, ip, a, b, &e), 0);
		assert_true(fabs(e.avg_power_w - 25.0) < 0.25);
	}
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

static void integrates_across_one_wrap(void **state)
{
	char *root = fs_copy_fixture("amd-zen");
	struct fake_zone *z;
	struct pwr_set *s;
	char err[256];
	int64_t a, b;
	int i;

	(void)state;
	/* 30 J range starting 6 J before the wrap, at 20 W: wraps 0.3 s in */
	z = add_zone(root, ZONE_DIR "intel-rapl:0", 20.0, 30000000ULL, 24000000ULL);
	start_writer();
	s = open_root(root, 100);
	i = find_domain(s, "powercap:package-0");
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	a = pwr_now_ns();
	sleep_ms(600);
	b = pwr_now_ns();
	pwr_sample_now(s);
	pwr_sampler_stop(s);
	assert_int_equal(count_wraps(s, i), 1);
	expect_energy(s, i, z, a, b);
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

static void integrates_across_several_wraps(void **state)
{
	char *root = fs_copy_fixture("amd-zen");
	struct fake_zone *z;
	struct pwr_set *s;
	char err[256];
	int64_t a, b;
	int i;

	(void)state;
	/* 5 J range at 25 W: one wrap every 0.2 s, half the default interval */
	z = add_zone(root, ZONE_DIR "intel-rapl:0", 25.0, 5000000ULL, 4000000ULL);
	start_writer();
	s = open_root(root, 0);
	assert_int_equal(pwr_sampler_interval_ms(s), 100);
	i = find_domain(s, "powercap:package-0");
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	a = pwr_now_ns();
	sleep_ms(1000);
	b = pwr_now_ns();
	pwr_sample_now(s);
	pwr_sampler_stop(s);
	/* the sampler sped up to a quarter of the wrap period (50 ms) after its first delta */
	assert_true(pwr_sampler_next_sleep_ns(s) <= 50000000);
	assert_true(count_wraps(s, i) >= 4);
	expect_energy(s, i, z, a, b);
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

static void equal_readings_are_zero_not_a_wrap(void **state)
{
	char *root = fs_copy_fixture("amd-zen");
	struct fake_zone *z;
	struct pwr_set *s;
	struct pwr_energy e;
	int64_t a, b, c;
	double e_b;
	int i;

	(void)state;
	z = add_zone(root, ZONE_DIR "intel-rapl:0", 0.0, 65532610987ULL, 9071453379ULL);
	start_writer();
	s = open_root(root, 100);
	i = find_domain(s, "powercap:package-0");
	pwr_sample_now(s);
	a = pwr_now_ns();
	for (int k = 0; k < 5; k++) {
		sleep_ms(20);
		pwr_sample_now(s); /* the counter does not move: equal readings */
	}
	b = pwr_now_ns();
	pwr_sample_now(s); /* still 0 W: the window's end lies between two equal readings */
	e_b = zone_energy_j(z, b);
	set_watts(z, 30.0);
	pwr_sample_now(s); /* the change of power lies between two close samples */
	sleep_ms(300);
	c = pwr_now_ns();
	pwr_sample_now(s);
	assert_int_equal(pwr_energy_window(s, i, a, b, &e), 0);
	assert_true(e.valid);
	assert_true(e.energy_j == 0.0); /* not 65532 J */
	assert_true(e.n_samples >= 5);
	expect_joules(s, i, a, c, zone_energy_j(z, c) - e_b);
	{
		char why[256];

		assert_true(pwr_domain_valid(s, i, why, sizeof why));
	}
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

static void unreadable_zone_is_reported_others_integrate(void **state)
{
	char *root = fs_copy_fixture("intel-client");
	struct fake_zone *pkg;
	struct pwr_set *s;
	char err[256];
	int64_t a, b;
	bool found = false;

	(void)state;
	pkg = add_zone(root, ZONE_DIR "intel-rapl:0", 18.0, 262143328850ULL, 1000ULL);
	add_zone(root, ZONE_DIR "intel-rapl:0/intel-rapl:0:0", 9.0, 262143328850ULL, 5000ULL);
	snprintf(fk.deny_open, sizeof fk.deny_open, "intel-rapl:0:0/energy_uj");
	start_writer();
	s = open_root(root, 50);
	for (int u = 0; u < pwr_n_unavailable(s); u++) {
		const struct pwr_unavailable *un = pwr_unavailable(s, u);

		if (!strcmp(un->what, "powercap:core-0")) {
			found = true;
			assert_non_null(strstr(un->reason, "energy_uj is readable by root only since Linux 5.10: run with "
							  "sudo or `sudo chmod o+r "));
			assert_non_null(strstr(un->reason, "intel-rapl:0:0/energy_uj`"));
		}
	}
	assert_true(found);
	for (int i = 0; i < pwr_n_domains(s); i++)
		assert_string_not_equal(pwr_domain(s, i)->id, "powercap:core-0");
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	a = pwr_now_ns();
	sleep_ms(400);
	b = pwr_now_ns();
	pwr_sampler_stop(s);
	expect_energy(s, find_domain(s, "powercap:package-0"), pkg, a, b);
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

static void permission_lost_mid_run_invalidates(void **state)
{
	char *root = fs_copy_fixture("intel-client");
	struct fake_zone *psys;
	struct pwr_set *s;
	struct pwr_energy e;
	char why[256];
	int64_t a, b, c;
	int i;

	(void)state;
	psys = add_zone(root, ZONE_DIR "intel-rapl:1", 30.0, 262143328850ULL, 7ULL);
	start_writer();
	s = open_root(root, 100);
	i = find_domain(s, "powercap:psys");
	pwr_sample_now(s);
	a = pwr_now_ns();
	sleep_ms(200);
	b = pwr_now_ns();
	pwr_sample_now(s);
	pthread_mutex_lock(&fk.lock);
	snprintf(fk.deny_read, sizeof fk.deny_read, "intel-rapl:1/energy_uj");
	pthread_mutex_unlock(&fk.lock);
	sleep_ms(100);
	pwr_sample_now(s);
	c = pwr_now_ns();
	pwr_sample_now(s);
	assert_false(pwr_domain_valid(s, i, why, sizeof why));
	assert_non_null(strstr(why, "readable by root only"));
	/* before the failure: still a measurement */
	expect_energy(s, i, psys, a, b);
	/* across it: no energy, with the reason, never 0 J presented as valid */
	assert_int_equal(pwr_energy_window(s, i, a, c, &e), 0);
	assert_false(e.valid);
	assert_non_null(strstr(e.reason, "readable by root only"));
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

static void zone_disappearing_invalidates(void **state)
{
	char *root = fs_copy_fixture("intel-client");
	struct fake_zone *pkg, *psys;
	struct pwr_set *s;
	struct pwr_energy e;
	char err[256], why[256], dir[PATH_MAX];
	int64_t a, b, c, d;
	int ip, iy;

	(void)state;
	pkg = add_zone(root, ZONE_DIR "intel-rapl:0", 12.0, 262143328850ULL, 0ULL);
	psys = add_zone(root, ZONE_DIR "intel-rapl:1", 20.0, 262143328850ULL, 0ULL);
	start_writer();
	s = open_root(root, 30);
	ip = find_domain(s, "powercap:package-0");
	iy = find_domain(s, "powercap:psys");
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	a = pwr_now_ns();
	sleep_ms(250);
	b = pwr_now_ns();
	pwr_sample_now(s);
	/* the driver goes away: psys's directory (and its energy_uj) disappears */
	pwr_path(dir, sizeof dir, root, ZONE_DIR "intel-rapl:1");
	tu_rmtree(dir);
	sleep_ms(200);
	c = pwr_now_ns();
	sleep_ms(100);
	d = pwr_now_ns();
	pwr_sampler_stop(s);
	assert_false(pwr_domain_valid(s, iy, why, sizeof why));
	assert_non_null(strstr(why, "the zone disappeared"));
	expect_energy(s, iy, psys, a, b);
	assert_int_equal(pwr_energy_window(s, iy, c, d, &e), 0);
	assert_false(e.valid);
	assert_non_null(strstr(e.reason, "disappeared"));
	/* the other zone carries on */
	assert_true(pwr_domain_valid(s, ip, why, sizeof why));
	expect_energy(s, ip, pkg, a, d);
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

static void two_sockets_sum_packages_only(void **state)
{
	char *root = fs_copy_fixture("intel-2s-server");
	struct fake_zone *p0, *p1;
	struct pwr_set *s;
	struct pwr_energy e;
	char err[256];
	int64_t a, b;
	int isum;

	(void)state;
	p0 = add_zone(root, ZONE_DIR "intel-rapl:0", 61.0, 262143328850ULL, 43865913044ULL);
	add_zone(root, ZONE_DIR "intel-rapl:0/intel-rapl:0:0", 11.0, 65712999613ULL, 27319542180ULL);
	p1 = add_zone(root, ZONE_DIR "intel-rapl:1", 39.0, 262143328850ULL, 39911244981ULL);
	add_zone(root, ZONE_DIR "intel-rapl:1/intel-rapl:1:0", 9.0, 65712999613ULL, 24020117455ULL);
	start_writer();
	s = open_root(root, 50);
	isum = find_domain(s, "powercap:packages");
	assert_int_equal(pwr_primary_domain(s), isum);
	assert_non_null(strstr(pwr_primary_why(s), "2 disjoint CPU packages"));
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	a = pwr_now_ns();
	sleep_ms(400);
	b = pwr_now_ns();
	pwr_sampler_stop(s);
	assert_int_equal(pwr_energy_window(s, isum, a, b, &e), 0);
	assert_true(e.valid);
	{
		double want = zone_energy_j(p0, b) - zone_energy_j(p0, a) + zone_energy_j(p1, b) -
			      zone_energy_j(p1, a);

		/* 100 W of packages; the 20 W of DRAM is not in it */
		if (fabs(e.energy_j - want) > 0.01 * want)
			fail_msg("packages: %.4f J measured, %.4f J true", e.energy_j, want);
	}
	expect_energy(s, find_domain(s, "powercap:package-1"), p1, a, b);
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

static void flags_a_possibly_missed_wrap(void **state)
{
	char *root = fs_copy_fixture("amd-zen");
	struct pwr_set *s;
	struct pwr_energy e;
	int64_t a, b = 0, c;
	int i;

	(void)state;
	/* 2 J range at 20 W: one wrap every 100 ms */
	add_zone(root, ZONE_DIR "intel-rapl:0", 20.0, 2000000ULL, 0ULL);
	start_writer();
	s = open_root(root, 100);
	i = find_domain(s, "powercap:package-0");
	pwr_sample_now(s);
	a = pwr_now_ns();
	for (int k = 0; k < 3; k++) {
		sleep_ms(15);
		if (k == 2)
			b = pwr_now_ns(); /* [a, b] lies inside the short gaps */
		pwr_sample_now(s); /* learns 20 W, so a wrap takes 100 ms */
	}
	sleep_ms(260);             /* too slow: at least two wraps between these samples */
	pwr_sample_now(s);
	c = pwr_now_ns();
	pwr_sample_now(s);
	assert_int_equal(pwr_energy_window(s, i, a, b, &e), 0);
	assert_true(e.valid);
	assert_false(e.wrap_suspect);
	assert_int_equal(pwr_energy_window(s, i, a, c, &e), 0);
	assert_true(e.valid);
	if (!e.wrap_suspect) {
		struct pwr_sample *v;
		size_t n = pwr_samples(s, i, &v);

		for (size_t k = 0; k < n; k++)
			fprintf(stderr, "  sample %zu: t %+.1f ms raw %llu E %.4f\n", k, (v[k].t_ns - a) / 1e6,
				(unsigned long long)v[k].raw, v[k].energy_j);
		free(v);
	}
	assert_true(e.wrap_suspect);
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

static void window_outside_samples_is_invalid(void **state)
{
	char *root = fs_copy_fixture("amd-zen");
	struct pwr_set *s;
	struct pwr_energy e;
	int64_t before, after;
	int i;

	(void)state;
	add_zone(root, ZONE_DIR "intel-rapl:0", 10.0, 65532610987ULL, 0ULL);
	start_writer();
	s = open_root(root, 100);
	i = find_domain(s, "powercap:package-0");
	assert_int_equal(pwr_energy_window(s, i, 0, 1, &e), 0);
	assert_false(e.valid);
	assert_non_null(strstr(e.reason, "no samples"));
	before = pwr_now_ns();
	pwr_sample_now(s);
	sleep_ms(20);
	pwr_sample_now(s);
	after = pwr_now_ns();
	assert_int_equal(pwr_energy_window(s, i, before, after - 1000, &e), 0);
	assert_false(e.valid);
	assert_non_null(strstr(e.reason, "before the first sample"));
	{
		struct pwr_sample *v;

		assert_int_equal(pwr_samples(s, i, &v), 2);
		assert_int_equal(pwr_energy_window(s, i, v[0].t_ns, v[1].t_ns, &e), 0);
		assert_true(e.valid);
		assert_int_equal(e.n_samples, 2);
		assert_int_equal(pwr_energy_window(s, i, v[0].t_ns + 1, v[1].t_ns + 1, &e), 0);
		free(v);
	}
	assert_false(e.valid);
	assert_non_null(strstr(e.reason, "after the last sample"));
	assert_int_equal(pwr_energy_window(s, i, after, before, &e), -EINVAL);
	assert_int_equal(pwr_energy_window(s, 99, before, after, &e), -EINVAL);
	pwr_close(s);
	stop_writer();
	tu_rmtree(root);
	free(root);
}

/* ---- fake backends: power-type domains and the adaptive interval --------------------------- */

struct fake_backend_state {
	double a_w, b_w_per_s; /* power = a + b * t */
	int64_t t0_ns;
	uint64_t counter, range;
} fb;

static int ramp_discover(struct pwr_discover *d)
{
	struct pwr_dom dom = { 0 };

	snprintf(dom.desc.domain, sizeof dom.desc.domain, "BAT0");
	snprintf(dom.desc.covers, sizeof dom.desc.covers, "fake battery");
	dom.value_kind = PWR_VALUE_POWER;
	dom.watts_per_unit = 1e-6;
	return d->add(d, &dom) ? 0 : -ENOMEM;
}

static int ramp_read(struct pwr_dom *dom, uint64_t *raw)
{
	double t = (double)(pwr_now_ns() - fb.t0_ns) / 1e9;

	(void)dom;
	*raw = (uint64_t)llround((fb.a_w + fb.b_w_per_s * t) * 1e6);
	return 0;
}

static const struct pwr_backend ramp_backend = {
	.name = "battery", .summary = "fake", .discover = ramp_discover, .read = ramp_read,
};

static void power_domains_integrate_by_trapezoid(void **state)
{
	const struct pwr_backend *list[] = { &ramp_backend };
	struct pwr_set *s = NULL;
	struct pwr_energy e;
	char err[256];
	int64_t a, b;
	double ta, tb, want;

	(void)state;
	fb.a_w = 5.0;
	fb.b_w_per_s = 20.0; /* 5 W rising by 20 W/s: the trapezoid rule is exact on a ramp */
	fb.t0_ns = pwr_now_ns();
	if (pwr_open_backends(NULL, list, 1, &s, err, sizeof err) != 0)
		fail_msg("pwr_open_backends: %s", err);
	assert_int_equal(pwr_domain(s, 0)->kind, PWR_MEASURED);
	assert_string_equal(pwr_domain(s, 0)->unit, "uW power");
	assert_int_equal(pwr_primary_domain(s), 0); /* battery: whole system */
	pwr_sample_now(s);
	a = pwr_now_ns();
	for (int k = 0; k < 6; k++) {
		sleep_ms(40);
		pwr_sample_now(s);
	}
	sleep_ms(40);
	b = pwr_now_ns();
	pwr_sample_now(s);
	assert_int_equal(pwr_energy_window(s, 0, a, b, &e), 0);
	assert_true(e.valid);
	ta = (double)(a - fb.t0_ns) / 1e9;
	tb = (double)(b - fb.t0_ns) / 1e9;
	want = fb.a_w * (tb - ta) + fb.b_w_per_s / 2 * (tb * tb - ta * ta);
	if (fabs(e.energy_j - want) > 0.01 * want)
		fail_msg("ramp: %.5f J integrated, %.5f J true", e.energy_j, want);
	pwr_close(s);
}

static int counter_discover(struct pwr_discover *d)
{
	struct pwr_dom dom = { 0 };

	snprintf(dom.desc.domain, sizeof dom.desc.domain, "package-0");
	dom.value_kind = PWR_VALUE_COUNTER;
	dom.range_raw = fb.range;
	dom.joules_per_unit = 1e-3;
	return d->add(d, &dom) ? 0 : -ENOMEM;
}

static int counter_read(struct pwr_dom *dom, uint64_t *raw)
{
	(void)dom;
	*raw = fb.counter;
	return 0;
}

static const struct pwr_backend counter_backend = {
	.name = "msr", .summary = "fake", .discover = counter_discover, .read = counter_read,
};

static void samples_faster_near_a_wrap(void **state)
{
	const struct pwr_backend *list[] = { &counter_backend };
	struct pwr_opts o = { .interval_ms = 200 };
	struct pwr_set *s = NULL;
	char err[256];

	(void)state;
	fb.range = 1000;
	fb.counter = 100;
	assert_int_equal(pwr_open_backends(&o, list, 1, &s, err, sizeof err), 0);
	assert_string_equal(pwr_domain(s, 0)->id, "msr:package-0");
	assert_true(fabs(pwr_domain(s, 0)->range_j - 1.0) < 1e-12);
	pwr_sample_now(s);
	assert_int_equal(pwr_sampler_next_sleep_ns(s), 200000000);
	sleep_ms(100);
	fb.counter = 899; /* 0.799 J in 100 ms (~8 W: a wrap every ~125 ms); 101 units left */
	pwr_sample_now(s);
	{
		int64_t ns = pwr_sampler_next_sleep_ns(s);

		/* a quarter of the wrap period at the highest power seen, not the 200 ms asked */
		assert_true(ns > 20000000 && ns < 40000000);
	}
	sleep_ms(10);
	fb.counter = 950; /* within 10% of the range: a tenth of the interval */
	pwr_sample_now(s);
	assert_true(pwr_sampler_next_sleep_ns(s) <= 20000000);
	sleep_ms(10);
	fb.counter = 10; /* wrapped: 60 units */
	pwr_sample_now(s);
	{
		struct pwr_sample *v;
		size_t n = pwr_samples(s, 0, &v);

		assert_int_equal(n, 4);
		assert_true(fabs(v[3].energy_j - 0.910) < 1e-12); /* (799 + 51 + 60) mJ */
		assert_true(v[3].raw == 10);
		free(v);
	}
	pwr_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(integrates_constant_power, setup, teardown),
		cmocka_unit_test_setup_teardown(integrates_across_one_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(integrates_across_several_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(equal_readings_are_zero_not_a_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(stuck_counter_is_no_energy, setup, teardown),
		cmocka_unit_test_setup_teardown(unreadable_zone_is_reported_others_integrate, setup, teardown),
		cmocka_unit_test_setup_teardown(permission_lost_mid_run_invalidates, setup, teardown),
		cmocka_unit_test_setup_teardown(zone_disappearing_invalidates, setup, teardown),
		cmocka_unit_test_setup_teardown(two_sockets_sum_packages_only, setup, teardown),
		cmocka_unit_test_setup_teardown(flags_a_possibly_missed_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(window_outside_samples_is_invalid, setup, teardown),
		cmocka_unit_test(power_domains_integrate_by_trapezoid),
		cmocka_unit_test(samples_faster_near_a_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
