/*
 * tests/test_meter.c — wall-power meters as probes, against small fake meters that this test
 * starts on 127.0.0.1 (a random port; nothing else is contacted): a fake Shelly at 35.0 W and a
 * fake Tasmota at 12.0 W integrated within 1% over about 2 s, a stall (scaled down: 1.2 s of
 * replies slower than the 0.5 s request timeout), a counter reset, garbage replies, and the exec
 * meter.
 */
#include "helpers/fakesys.h"
#include "helpers/testutil.h"

#include "power/backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum fake_kind { FAKE_SHELLY, FAKE_TASMOTA };

struct fake_meter {
	enum fake_kind kind;
	int fd, port;
	pthread_t thread;
	atomic_bool stop;
	_Atomic double watts;
	_Atomic int64_t stall_until_ns; /* replies before this time come too late */
	atomic_bool garbage;
	atomic_bool alternate;          /* apower alternates 15 and 45 W per request */
	_Atomic double counter_w;       /* the counter accrues this power (0: watts) */
	_Atomic double counter_base_wh; /* counter = base + watts x (t - t_base) */
	_Atomic int64_t t_base_ns;
	atomic_int requests;
};

static int64_t now_ns(void)
{
	return pwr_now_ns();
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static double counter_wh(struct fake_meter *m)
{
	double w = m->counter_w > 0 ? m->counter_w : m->watts;

	return m->counter_base_wh + w * (double)(now_ns() - m->t_base_ns) / 1e9 / 3600.0;
}

static void serve_one(struct fake_meter *m, int c)
{
	char req[2048], body[512], head[256];
	size_t n = 0;
	int64_t deadline = now_ns() + 1000000000LL;

	/* read the request head (bounded) */
	while (n + 1 < sizeof req && now_ns() < deadline) {
		struct pollfd p = {c, POLLIN, 0};
		ssize_t got;

		if (poll(&p, 1, 50) <= 0)
			continue;
		got = recv(c, req + n, sizeof req - 1 - n, 0);
		if (got <= 0)
			break;
		n += (size_t)got;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	m->requests++;
	if (m->alternate)
		m->watts = m->requests % 2 ? 15.0 : 45.0;
	while (now_ns() < m->stall_until_ns && !m->stop)
		sleep_ms(10); /* a stalled meter: answers after the client gave up */
	if (m->garbage)
		snprintf(body, sizeof body, "<html><body>502 Bad Gateway</body></html>");
	else if (m->kind == FAKE_SHELLY)
		snprintf(body, sizeof body,
		         "{\"id\":0,\"source\":\"init\",\"output\":true,\"apower\":%.1f,"
		         "\"voltage\":230.1,"
		         "\"current\":0.152,\"aenergy\":{\"total\":%.3f,\"by_minute\":[0,0,0],"
		         "\"minute_ts\":1700000000},\"temperature\":{\"tC\":40.1,\"tF\":104.2}}",
		         m->watts, counter_wh(m));
	else
		snprintf(body, sizeof body,
		         "{\"StatusSNS\":{\"Time\":\"2026-12-04T12:00:00\",\"ENERGY\":{"
		         "\"TotalStartTime\":"
		         "\"2026-01-01T00:00:00\",\"Total\":%.3f,\"Yesterday\":0.1,\"Today\":0.01,"
		         "\"Power\":%.0f,"
		         "\"Voltage\":230,\"Current\":0.052}}}",
		         counter_wh(m) / 1000.0, m->watts);
	snprintf(head, sizeof head,
	         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	         "Connection: close\r\n\r\n",
	         strlen(body));
	(void)!send(c, head, strlen(head), MSG_NOSIGNAL);
	(void)!send(c, body, strlen(body), MSG_NOSIGNAL);
}

static void *serve(void *arg)
{
	struct fake_meter *m = arg;

	while (!m->stop) {
		struct pollfd p = {m->fd, POLLIN, 0};
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(m->fd, NULL, NULL);
		if (c < 0)
			continue;
		serve_one(m, c);
		close(c);
	}
	return NULL;
}

static struct fake_meter *fake_start(enum fake_kind kind, double watts)
{
	struct fake_meter *m = calloc(1, sizeof *m);
	struct sockaddr_in a = {0};
	socklen_t al = sizeof a;

	assert_non_null(m);
	m->kind = kind;
	m->watts = watts;
	m->counter_base_wh = 100.0;
	m->t_base_ns = now_ns();
	m->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(m->fd >= 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only */
	a.sin_port = 0;                             /* a random free port */
	assert_int_equal(bind(m->fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(m->fd, 16), 0);
	assert_int_equal(getsockname(m->fd, (struct sockaddr *)&a, &al), 0);
	m->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&m->thread, NULL, serve, m), 0);
	return m;
}

static void fake_stop(struct fake_meter *m)
{
	m->stop = true;
	pthread_join(m->thread, NULL);
	close(m->fd);
	free(m);
}

/* $NAME as a positive integer, else def. */
static int env_int(const char *name, int def)
{
	const char *v = getenv(name);
	int x = v ? atoi(v) : 0;

	return x > 0 ? x : def;
}

/* A set with one meter backend reading the fake at 127.0.0.1:port, every 50 ms (or
 * $JB_METER_INTERVAL_MS: scripts/bench-meter.sh polls at 1 Hz, as for a real plug). */
static struct pwr_set *open_meter(const struct pwr_backend *b, const char *name, int port,
                                  char *probe, size_t probe_len)
{
	const char *probes[2] = {probe, NULL};
	struct pwr_opts o = {.probes = probes, .interval_ms = env_int("JB_METER_INTERVAL_MS", 50)};

	snprintf(probe, probe_len, "%s:127.0.0.1:%d", name, port);
	return fs_open_one(b, &o);
}

/* Runs the sampler for ms milliseconds. */
static void sample_for(struct pwr_set *s, int ms)
{
	char err[256];

	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	sleep_ms(ms);
	pwr_sampler_stop(s);
}

/* Energy and average power of domain id over [from, to] (ns from the first sample; to < 0:
 * the last sample). */
static struct pwr_energy window(struct pwr_set *s, const char *id, int64_t from, int64_t to)
{
	struct pwr_sample *v = NULL;
	struct pwr_energy e;
	int i = fs_dom_index(s, id);
	size_t n;

	if (i < 0)
		fail_msg("no domain %s", id);
	n = pwr_samples(s, i, &v);
	assert_true(n >= 2);
	assert_int_equal(
	    pwr_energy_window(s, i, v[0].t_ns + from, to < 0 ? v[n - 1].t_ns : v[0].t_ns + to, &e),
	    0);
	free(v);
	return e;
}

static void check_watts(const struct pwr_energy *e, double want, double tol, const char *what)
{
	if (!e->valid)
		fail_msg("%s: no energy: %s", what, e->reason);
	if (fabs(e->avg_power_w - want) > tol * want)
		fail_msg("%s: %.4f W, want %.4f W within %.1f%%", what, e->avg_power_w, want,
		         tol * 100);
}

static void shelly_35w_within_1pct(void **state)
{
	struct fake_meter *m = fake_start(FAKE_SHELLY, 35.0);
	char probe[64], id[96], cid[96];
	struct pwr_set *s = open_meter(&pwr_backend_shelly, "shelly", m->port, probe, sizeof probe);
	struct pwr_energy e;

	(void)state;
	snprintf(id, sizeof id, "shelly:127.0.0.1:%d", m->port);
	snprintf(cid, sizeof cid, "shelly:127.0.0.1:%d-counter", m->port);
	assert_int_equal(pwr_n_domains(s), 2);
	assert_string_equal(pwr_domain(s, pwr_primary_domain(s))->id, id);
	assert_non_null(strstr(pwr_domain(s, 0)->covers, "wall, whole system incl. PSU loss"));
	assert_true(pwr_domain(s, 1)->resolution_j == 3.6);
	sample_for(s, 1000 * env_int("JB_METER_SECONDS", 2));
	e = window(s, id, 0, -1);
	check_watts(&e, 35.0, 0.01, "shelly power");
	tu_note("shelly: %.4f W over %.1f s (fake at 35.0 W)", e.avg_power_w,
	        e.energy_j / e.avg_power_w);
	/* the counter alone: 1 mWh steps over ~70 J, within 2 steps */
	e = window(s, cid, 0, -1);
	assert_true(e.valid);
	assert_true(fabs(e.energy_j - 35.0 * (e.energy_j / e.avg_power_w)) <=
	            2 * 3.6 + 0.01 * e.energy_j);
	assert_true(m->requests >=
	            500 * env_int("JB_METER_SECONDS", 2) / env_int("JB_METER_INTERVAL_MS", 50));
	pwr_close(s);
	fake_stop(m);
}

static void tasmota_12w_within_1pct(void **state)
{
	struct fake_meter *m = fake_start(FAKE_TASMOTA, 12.0);
	char probe[64], id[96];
	struct pwr_set *s =
	    open_meter(&pwr_backend_tasmota, "tasmota", m->port, probe, sizeof probe);
	struct pwr_energy e;

	(void)state;
	snprintf(id, sizeof id, "tasmota:127.0.0.1:%d", m->port);
	assert_string_equal(pwr_domain(s, pwr_primary_domain(s))->id, id);
	/* "Total":0.100 (kWh, 3 decimals): a 1 Wh step */
	assert_true(pwr_domain(s, 1)->resolution_j == 3600);
	assert_non_null(strstr(pwr_domain(s, 1)->covers, "resolution 3600 J"));
	sample_for(s, 1000 * env_int("JB_METER_SECONDS", 2));
	e = window(s, id, 0, -1);
	check_watts(&e, 12.0, 0.01, "tasmota power");
	tu_note("tasmota: %.4f W over %.1f s (fake at 12.0 W)", e.avg_power_w,
	        e.energy_j / e.avg_power_w);
	/* 1 Wh counter steps are far coarser than the integral here: the power integral is used */
	assert_false(e.from_counter);
	pwr_close(s);
	fake_stop(m);
}

/* A scaled-down stall: replies come later than the 0.5 s timeout for 1.2 s. Windows touching
 * the gap are invalid with the reason (never 0 J); readings resume and later windows are valid. */
static void stall_marks_window_invalid(void **state)
{
	struct fake_meter *m = fake_start(FAKE_SHELLY, 35.0);
	char probe[64], id[96], err[256];
	struct pwr_set *s = open_meter(&pwr_backend_shelly, "shelly", m->port, probe, sizeof probe);
	struct pwr_energy e;

	(void)state;
	snprintf(id, sizeof id, "shelly:127.0.0.1:%d", m->port);
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	sleep_ms(600);
	m->stall_until_ns = now_ns() + 1200000000LL;
	sleep_ms(2800);
	pwr_sampler_stop(s);
	e = window(s, id, 0, -1);
	assert_false(e.valid);
	assert_true(e.energy_j == 0);
	assert_non_null(strstr(e.reason, "no readings for"));
	assert_non_null(strstr(e.reason, "did not answer in time"));
	/* before the stall and well after it the meter reads */
	e = window(s, id, 0, 400000000LL);
	check_watts(&e, 35.0, 0.01, "before the stall");
	{
		struct pwr_sample *v = NULL;
		int i = fs_dom_index(s, id);
		size_t n = pwr_samples(s, i, &v);

		assert_int_equal(
		    pwr_energy_window(s, i, v[n - 1].t_ns - 500000000LL, v[n - 1].t_ns, &e), 0);
		free(v);
	}
	check_watts(&e, 35.0, 0.01, "after the stall");
	pwr_close(s);
	fake_stop(m);
}

/* The plug's counter restarts from 0 mid-run: it continues from where it was, never a 2^64 jump
 * and never negative; the power domain is untouched. */
static void counter_reset_survives(void **state)
{
	struct fake_meter *m = fake_start(FAKE_SHELLY, 1000.0);
	char probe[64], id[96], cid[96];
	struct pwr_set *s = open_meter(&pwr_backend_shelly, "shelly", m->port, probe, sizeof probe);
	struct pwr_energy e;
	char err[256];
	double dt;

	(void)state;
	snprintf(id, sizeof id, "shelly:127.0.0.1:%d", m->port);
	snprintf(cid, sizeof cid, "shelly:127.0.0.1:%d-counter", m->port);
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	sleep_ms(800);
	m->counter_base_wh = 0;
	m->t_base_ns = now_ns();
	sleep_ms(800);
	pwr_sampler_stop(s);
	e = window(s, cid, 0, -1);
	assert_true(e.valid);
	dt = e.energy_j / e.avg_power_w;
	/* at most one 50 ms interval (50 J at 1 kW) lost at the reset, plus 2 steps of 3.6 J */
	if (!(e.energy_j <= 1000.0 * dt + 7.2 && e.energy_j >= 1000.0 * (dt - 0.06) - 7.2))
		fail_msg("counter across a reset: %.1f J over %.3f s at 1000 W", e.energy_j, dt);
	e = window(s, id, 0, -1);
	check_watts(&e, 1000.0, 0.01, "power across the counter reset");
	pwr_close(s);
	fake_stop(m);
}

/* A jumpy power reading (15 and 45 W in turn, 30 W on average, as the counter accrues it): the
 * trapezoid integral errs by far more than two 1 mWh counter steps, so the window takes the
 * counter's energy. */
static void jumpy_power_uses_the_counter(void **state)
{
	struct fake_meter *m = fake_start(FAKE_SHELLY, 30.0);
	char probe[64], id[96], cid[96];
	struct pwr_set *s = open_meter(&pwr_backend_shelly, "shelly", m->port, probe, sizeof probe);
	struct pwr_energy e, c;

	(void)state;
	snprintf(id, sizeof id, "shelly:127.0.0.1:%d", m->port);
	snprintf(cid, sizeof cid, "shelly:127.0.0.1:%d-counter", m->port);
	m->counter_w = 30.0;
	m->t_base_ns = now_ns();
	m->alternate = true;
	sample_for(s, 2000);
	e = window(s, id, 0, -1);
	c = window(s, cid, 0, -1);
	if (!e.valid || !c.valid || !e.from_counter)
		fail_msg("power %s (%s), counter %s (%s), from_counter %d",
		         e.valid ? "valid" : "invalid", e.reason, c.valid ? "valid" : "invalid",
		         c.reason, e.from_counter);
	assert_true(fabs(e.energy_j - c.energy_j) <= 0.005 * c.energy_j); /* edges a read apart */
	/* and the counter's 30 W within its resolution (2 x 3.6 J over ~60 J) */
	assert_true(fabs(c.avg_power_w - 30.0) * (c.energy_j / c.avg_power_w) <= 2 * 3.6 + 0.3);
	pwr_close(s);
	fake_stop(m);
}

static void garbage_replies_say_why(void **state)
{
	struct fake_meter *m = fake_start(FAKE_SHELLY, 35.0);
	char probe[64], id[96], err[256], what[96];
	struct pwr_set *s;
	struct pwr_energy e;
	const char *why;

	(void)state;
	/* garbage from the start: the meter is unavailable, with the reason */
	m->garbage = true;
	s = open_meter(&pwr_backend_shelly, "shelly", m->port, probe, sizeof probe);
	assert_int_equal(pwr_n_domains(s), 0);
	snprintf(what, sizeof what, "shelly:127.0.0.1:%d", m->port);
	why = fs_reason(s, what);
	assert_non_null(why);
	assert_non_null(strstr(
	    why, "the reply is not Shelly Switch.GetStatus JSON with a power reading (apower)"));
	assert_non_null(strstr(why, "<html>"));
	pwr_close(s);
	/* garbage mid-run: a gap with the reason */
	m->garbage = false;
	s = open_meter(&pwr_backend_shelly, "shelly", m->port, probe, sizeof probe);
	snprintf(id, sizeof id, "shelly:127.0.0.1:%d", m->port);
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	sleep_ms(400);
	m->garbage = true;
	sleep_ms(300);
	m->garbage = false;
	sleep_ms(400);
	pwr_sampler_stop(s);
	e = window(s, id, 0, -1);
	assert_false(e.valid);
	assert_non_null(strstr(e.reason, "not Shelly"));
	pwr_close(s);
	/* nothing listening: connection refused, said so */
	{
		int port = m->port;

		fake_stop(m);
		s = open_meter(&pwr_backend_shelly, "shelly", port, probe, sizeof probe);
		snprintf(what, sizeof what, "shelly:127.0.0.1:%d", port);
		why = fs_reason(s, what);
		assert_non_null(why);
		assert_true(strstr(why, "onnect") != NULL);
		pwr_close(s);
	}
}

static void exec_meter_watts_and_joules(void **state)
{
	const char *p1[] = {"exec:echo W 20.0", NULL};
	const char *p2[] = {"exec:echo garbage", NULL};
	struct pwr_opts o = {.probes = p1, .interval_ms = 50};
	struct pwr_set *s = fs_open_one(&pwr_backend_exec, &o);
	struct pwr_energy e;

	(void)state;
	assert_int_equal(pwr_n_domains(s), 1);
	assert_string_equal(pwr_domain(s, 0)->id, "exec:echo W 20.0");
	sample_for(s, 600);
	e = window(s, "exec:echo W 20.0", 0, -1);
	check_watts(&e, 20.0, 0.001, "exec W");
	pwr_close(s);
	o.probes = p2;
	s = fs_open_one(&pwr_backend_exec, &o);
	assert_int_equal(pwr_n_domains(s), 0);
	assert_non_null(strstr(fs_reason(s, "exec:echo garbage"),
	                       "expected a first line 'W <watts>' or 'J <joules>', got 'garbage"));
	pwr_close(s);
}

int main(void)
{
	const struct CMUnitTest steady[] = {
	    cmocka_unit_test(shelly_35w_within_1pct),
	    cmocka_unit_test(tasmota_12w_within_1pct),
	};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(shelly_35w_within_1pct),
	    cmocka_unit_test(tasmota_12w_within_1pct),
	    cmocka_unit_test(stall_marks_window_invalid),
	    cmocka_unit_test(counter_reset_survives),
	    cmocka_unit_test(jumpy_power_uses_the_counter),
	    cmocka_unit_test(garbage_replies_say_why),
	    cmocka_unit_test(exec_meter_watts_and_joules),
	};

	/* scripts/bench-meter.sh: only the steady meters, for $JB_METER_SECONDS */
	if (getenv("JB_METER_SECONDS"))
		return cmocka_run_group_tests(steady, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
