/*
 * tests/test_meter.c — wall-power meters as probes, against small fake meters that this test
 * starts on 127.0.0.1 (a random port; nothing else is contacted): a fake Shelly at 35.0 W and a
 * fake Tasmota at 12.0 W integrated within 1% over about 2 s, a stall (scaled down: 1.2 s of
 * replies slower than the 0.5 s request timeout), a counter reset, garbage replies, and the exec
 * meter; a plug that refreshes once a second polled five times as often (its update period,
 * energy within 1%, a stale counter's steps spread between distinct readings); and a Shelly
 * with digest authentication (SHA-256, user admin), its server side written here.
 */
#include "helpers/fakesys.h"
#include "helpers/testutil.h"

#include "bench/sha256.h"
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
	/* a plug that refreshes every update_s seconds (0: on every request): power alternates
	 * watts - 0.5 and watts + 0.5 W per update, and both readings hold until the next one */
	_Atomic double update_s;
	/* digest authentication as a Gen2+ Shelly does it: NULL = none */
	const char *password;
	atomic_int auth_ok, auth_refused;
};

#define REALM "shellyplus1pm-fake"
#define NONCE "1700000000"
#define URI   "/rpc/Switch.GetStatus?id=0"

static int64_t now_ns(void)
{
	return pwr_now_ns();
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The stepped plug's power in update interval `tick`. */
static double stepped_w(const struct fake_meter *m, int64_t tick)
{
	return m->watts + (tick % 2 ? 0.5 : -0.5);
}

/* The stepped plug's exact energy in J from t_base to t (ns), power changing at each update. */
static double stepped_energy_j(const struct fake_meter *m, int64_t t)
{
	double u = m->update_s, x = (double)(t - m->t_base_ns) / 1e9, e = 0;
	int64_t tick = 0;

	for (; (double)(tick + 1) * u <= x; tick++)
		e += stepped_w(m, tick) * u;
	return e + stepped_w(m, tick) * (x - (double)tick * u);
}

static double counter_wh(struct fake_meter *m)
{
	if (m->update_s > 0) {
		/* the value of the last update: stale until the next one */
		int64_t tick = (now_ns() - m->t_base_ns) / (int64_t)(m->update_s * 1e9);

		return m->counter_base_wh +
		       stepped_energy_j(m, m->t_base_ns + tick * (int64_t)(m->update_s * 1e9)) /
		           3600.0;
	}
	double w = m->counter_w > 0 ? m->counter_w : m->watts;

	return m->counter_base_wh + w * (double)(now_ns() - m->t_base_ns) / 1e9 / 3600.0;
}

static void sha256_hex(const char *text, char hex[65])
{
	struct bench_sha256 c;

	bench_sha256_init(&c);
	bench_sha256_update(&c, text, strlen(text));
	bench_sha256_final(&c, hex);
}

/* The value of field `key` in a Digest Authorization header (quoted or not), or "". */
static void digest_field(const char *hdr, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *p;
	size_t k = 0;

	out[0] = '\0';
	snprintf(pat, sizeof pat, "%s=", key);
	for (p = strstr(hdr, pat); p && p > hdr && p[-1] != ' ' && p[-1] != ',';
	     p = strstr(p + 1, pat))
		;
	if (!p)
		return;
	p += strlen(pat);
	if (*p == '"') {
		for (p++; *p && *p != '"' && k + 1 < len; p++)
			out[k++] = *p;
	} else {
		for (; *p && *p != ',' && *p != '\r' && k + 1 < len; p++)
			out[k++] = *p;
	}
	out[k] = '\0';
}

/* RFC 7616 with qop=auth and SHA-256: whether the request's Authorization header is right. */
static bool digest_ok(const struct fake_meter *m, const char *req)
{
	const char *h = strstr(req, "\r\nAuthorization: Digest ");
	char user[64], realm[64], nonce[64], uri[128], resp[80], qop[16], nc[16], cnonce[80],
	    alg[32], buf[512], ha1[65], ha2[65], want[65];

	if (!h)
		return false;
	h += strlen("\r\nAuthorization: Digest ");
	digest_field(h, "username", user, sizeof user);
	digest_field(h, "realm", realm, sizeof realm);
	digest_field(h, "nonce", nonce, sizeof nonce);
	digest_field(h, "uri", uri, sizeof uri);
	digest_field(h, "response", resp, sizeof resp);
	digest_field(h, "qop", qop, sizeof qop);
	digest_field(h, "nc", nc, sizeof nc);
	digest_field(h, "cnonce", cnonce, sizeof cnonce);
	digest_field(h, "algorithm", alg, sizeof alg);
	if (strcmp(user, "admin") || strcmp(realm, REALM) || strcmp(nonce, NONCE) ||
	    strcmp(uri, URI) || strcmp(qop, "auth") || strcmp(alg, "SHA-256"))
		return false;
	snprintf(buf, sizeof buf, "admin:%s:%s", REALM, m->password);
	sha256_hex(buf, ha1);
	snprintf(buf, sizeof buf, "GET:%s", URI);
	sha256_hex(buf, ha2);
	snprintf(buf, sizeof buf, "%s:%s:%s:%s:auth:%s", ha1, nonce, nc, cnonce, ha2);
	sha256_hex(buf, want);
	return !strcmp(resp, want);
}

static void serve_one(struct fake_meter *m, int c)
{
	char req[2048], body[512], head[256];
	size_t n = 0;
	double w;
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
	if (m->password && !digest_ok(m, req)) {
		if (strstr(req, "Authorization: Digest"))
			m->auth_refused++;
		snprintf(head, sizeof head,
		         "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest qop=\"auth\", "
		         "realm=\"%s\", nonce=\"%s\", algorithm=SHA-256\r\nContent-Length: 0\r\n"
		         "Connection: close\r\n\r\n",
		         REALM, NONCE);
		(void)!send(c, head, strlen(head), MSG_NOSIGNAL);
		return;
	}
	if (m->password)
		m->auth_ok++;
	m->requests++;
	if (m->alternate)
		m->watts = m->requests % 2 ? 15.0 : 45.0;
	w = m->update_s > 0 ? stepped_w(m, (now_ns() - m->t_base_ns) / (int64_t)(m->update_s * 1e9))
	                    : m->watts;
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
		         w, counter_wh(m));
	else
		snprintf(body, sizeof body,
		         "{\"StatusSNS\":{\"Time\":\"2026-12-04T12:00:00\",\"ENERGY\":{"
		         "\"TotalStartTime\":"
		         "\"2026-01-01T00:00:00\",\"Total\":%.3f,\"Yesterday\":0.1,\"Today\":0.01,"
		         "\"Power\":%.0f,"
		         "\"Voltage\":230,\"Current\":0.052}}}",
		         counter_wh(m) / 1000.0, w);
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
static struct pwr_set *open_meter_every(const struct pwr_backend *b, const char *name, int port,
                                        char *probe, size_t probe_len, int interval_ms)
{
	const char *probes[2] = {probe, NULL};
	struct pwr_opts o = {.probes = probes, .interval_ms = interval_ms};

	snprintf(probe, probe_len, "%s:127.0.0.1:%d", name, port);
	return fs_open_one(b, &o);
}

static struct pwr_set *open_meter(const struct pwr_backend *b, const char *name, int port,
                                  char *probe, size_t probe_len)
{
	return open_meter_every(b, name, port, probe, probe_len,
	                        env_int("JB_METER_INTERVAL_MS", 50));
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

/* A plug that refreshes every 1.0 s, polled every 0.2 s: its own update period is found within
 * 10%, a repeated (stale) reading is no new sample, the energy is within 1% of the plug's exact
 * step function, and a counter step is spread over the time since the previous distinct
 * reading instead of landing in the last poll. */
static void stale_readings_and_update_period(void **state)
{
	struct fake_meter *m = fake_start(FAKE_SHELLY, 35.0);
	char probe[64], id[96], cid[96];
	struct pwr_set *s;
	struct pwr_update u;
	struct pwr_energy e;
	struct pwr_sample *v = NULL;
	int i, ci;
	size_t n;
	double exact;

	(void)state;
	m->update_s = 1.0;
	m->t_base_ns = now_ns();
	s = open_meter_every(&pwr_backend_shelly, "shelly", m->port, probe, sizeof probe, 200);
	snprintf(id, sizeof id, "shelly:127.0.0.1:%d", m->port);
	snprintf(cid, sizeof cid, "shelly:127.0.0.1:%d-counter", m->port);
	i = fs_dom_index(s, id);
	ci = fs_dom_index(s, cid);
	assert_true(i >= 0 && ci >= 0);
	sample_for(s, 5200);
	for (int d = 0; d < 2; d++) {
		assert_int_equal(pwr_update_period(s, d ? ci : i, &u), 0);
		if (!u.known || fabs(u.period_s - 1.0) > 0.1)
			fail_msg("%s: update period %s %.3f s (%d changes; polled every %.3f s): "
			         "want 1.0 s "
			         "within 10%%",
			         d ? "counter" : "power", u.known ? "" : u.reason, u.period_s,
			         u.n_changes, u.poll_s);
		assert_false(u.at_poll_rate);
		assert_true(fabs(u.poll_s - 0.2) < 0.05);
		tu_note("%s: update period %.3f s from %d changes, polled every %.3f s",
		        d ? "counter" : "power", u.period_s, u.n_changes, u.poll_s);
	}
	n = pwr_samples(s, i, &v);
	assert_true(n >= 20);
	assert_int_equal(pwr_energy_window(s, i, v[0].t_ns, v[n - 1].t_ns, &e), 0);
	assert_true(e.valid);
	exact = stepped_energy_j(m, v[n - 1].t_ns) - stepped_energy_j(m, v[0].t_ns);
	if (fabs(e.energy_j - exact) > 0.01 * exact)
		fail_msg("energy %.3f J, the plug's exact %.3f J: more than 1%% apart", e.energy_j,
		         exact);
	tu_note("stale plug: %.3f J against exact %.3f J (%+.3f%%)", e.energy_j, exact,
	        (e.energy_j - exact) / exact * 100);
	/* ~26 polls, ~5 distinct readings: the repeats are not new samples */
	if (e.n_samples > 8)
		fail_msg("%d samples counted in the window of %zu polls: stale repeats counted",
		         e.n_samples, n);
	free(v);
	/* the counter between two consecutive changes c1 < c2: at the poll before c2 most of the
	 * step has accrued (spread linearly), not none of it */
	n = pwr_samples(s, ci, &v);
	{
		size_t c1 = 0, c2 = 0;

		for (size_t k = 1; k < n && !c2; k++)
			if (v[k].raw != v[k - 1].raw) {
				if (!c1)
					c1 = k;
				else
					c2 = k;
			}
		assert_true(c1 > 0 && c2 > c1 + 1);
		assert_int_equal(pwr_energy_window(s, ci, v[c1].t_ns, v[c2 - 1].t_ns, &e), 0);
		assert_true(e.valid);
		{
			double step = v[c2].energy_j - v[c1].energy_j,
			       frac = (double)(v[c2 - 1].t_ns - v[c1].t_ns) /
			              (double)(v[c2].t_ns - v[c1].t_ns);

			if (!(step > 0 && fabs(e.energy_j - step * frac) <= 0.01 * step))
				fail_msg(
				    "counter before its next step: %.3f J, want %.3f J (%.2f of a "
				    "%.3f J step)",
				    e.energy_j, step * frac, frac, step);
		}
	}
	free(v);
	pwr_close(s);
	fake_stop(m);
}

/* A Shelly with authentication enabled: 401 and a digest challenge (SHA-256, user admin). */
static void shelly_digest_auth(void **state)
{
	struct fake_meter *m = fake_start(FAKE_SHELLY, 35.0);
	char probe[64], id[96], what[96];
	struct pwr_set *s;
	struct pwr_energy e;
	const char *why;

	(void)state;
	m->password = "correct horse";
	snprintf(id, sizeof id, "shelly:127.0.0.1:%d", m->port);
	snprintf(what, sizeof what, "shelly:127.0.0.1:%d", m->port);
	/* no password: a clear error that says what to set */
	unsetenv("JOULEBENCH_SHELLY_PASSWORD");
	s = open_meter(&pwr_backend_shelly, "shelly", m->port, probe, sizeof probe);
	assert_int_equal(pwr_n_domains(s), 0);
	why = fs_reason(s, what);
	assert_non_null(why);
	assert_non_null(strstr(why, "HTTP 401"));
	assert_non_null(strstr(why, "set JOULEBENCH_SHELLY_PASSWORD"));
	pwr_close(s);
	/* the right password: readings as without authentication, and never in a description */
	setenv("JOULEBENCH_SHELLY_PASSWORD", "correct horse", 1);
	s = open_meter(&pwr_backend_shelly, "shelly", m->port, probe, sizeof probe);
	assert_int_equal(pwr_n_domains(s), 2);
	for (int d = 0; d < 2; d++) {
		const struct pwr_domain_desc *dd = pwr_domain(s, d);

		assert_null(strstr(dd->id, "horse"));
		assert_null(strstr(dd->covers, "horse"));
		assert_null(strstr(dd->model, "horse"));
	}
	sample_for(s, 600);
	e = window(s, id, 0, -1);
	check_watts(&e, 35.0, 0.01, "shelly with digest authentication");
	assert_true(m->auth_ok >= 5);
	pwr_close(s);
	/* a wrong password: refused, and said so */
	setenv("JOULEBENCH_SHELLY_PASSWORD", "battery staple", 1);
	m->auth_refused = 0;
	s = open_meter(&pwr_backend_shelly, "shelly", m->port, probe, sizeof probe);
	assert_int_equal(pwr_n_domains(s), 0);
	why = fs_reason(s, what);
	assert_non_null(why);
	assert_non_null(strstr(why, "refused the password in JOULEBENCH_SHELLY_PASSWORD"));
	assert_true(m->auth_refused >= 1);
	pwr_close(s);
	unsetenv("JOULEBENCH_SHELLY_PASSWORD");
	fake_stop(m);
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
	    cmocka_unit_test(stale_readings_and_update_period),
	    cmocka_unit_test(shelly_digest_auth),
	};

	/* scripts/bench-meter.sh: only the steady meters, for $JB_METER_SECONDS */
	if (getenv("JB_METER_SECONDS"))
		return cmocka_run_group_tests(steady, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
