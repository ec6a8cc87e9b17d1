/*
 * power/meter.c — external meters as probes: Shelly Gen2+ and Tasmota smart plugs over HTTP
 * (libcurl), and any command that prints watts or a joule counter (exec).
 *
 *   --probe shelly:HOST[:PORT]   GET /rpc/Switch.GetStatus?id=0: apower (W), aenergy.total (Wh)
 *   --probe tasmota:HOST[:PORT]  GET /cm?cmnd=Status%208: StatusSNS.ENERGY.Power (W), .Total (kWh)
 *   --probe exec:CMD             runs `sh -c CMD` each round; its first line is "W <watts>" or
 *                                "J <joules>" (a cumulative counter)
 *
 * A plug gives two domains: HOST:PORT, its power integrated by the sampler (trapezoid rule), and
 * HOST:PORT-counter, its own energy counter (never primary). A window of the power domain takes
 * the counter's energy when the counter's resolution (as the reply's decimals state it: Shelly
 * 0.001 Wh, Tasmota 0.001 kWh at its default EnergyRes 3) is finer than the estimated error of
 * the power integral (sampler.c).
 * Counters that go backwards (the plug restarted or was reset) continue from where they were:
 * the energy between the last reading before the reset and the reset itself is lost, nothing is
 * counted twice. Readings are stamped with this machine's monotonic clock at the middle of the
 * request; the plug's own clock (Shelly aenergy.minute_ts) is not used. A plug that stalls or
 * answers garbage leaves a gap (backend `transient`): windows touching it have no energy, with
 * the reason, and readings resume when it answers again. Requests time out after 2 x the
 * sampling interval, at least 0.5 s and at most 2 s (commands: at least 2 s, at most 10 s).
 *
 * Plugs refresh their reading about once a second while the sampler may poll faster: a repeated
 * value is stale (domains are `stale_repeats`), the sampler spreads a counter's step over the
 * time since the previous distinct reading, and pwr_update_period() tells the plug's own period.
 * A Shelly with authentication enabled answers 401 with a digest challenge (SHA-256, user
 * "admin"): libcurl answers it with the password in $JOULEBENCH_SHELLY_PASSWORD, which is
 * never taken from the command line nor written anywhere.
 */
#include "power/backend.h"

#include <cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX 16384
#define CACHE_NS  20000000LL /* the counter domain reuses a reply younger than 20 ms */

enum meter_kind { METER_SHELLY, METER_TASMOTA, METER_EXEC };

/* State shared by a meter's domains (power and counter): one request serves both. */
struct meter {
	enum meter_kind kind;
	int refs;
	char target[256]; /* HOST[:PORT] or the command */
	char url[320];
	CURL *curl;
	long timeout_ms;
	bool auth; /* Shelly: digest authentication with JOULEBENCH_SHELLY_PASSWORD */
	char reply[REPLY_MAX + 1];
	size_t reply_len;
	int64_t fetched_ns;
	int last_rc;
	/* the last good reading */
	double power_w;
	double energy_j; /* the meter's counter as read, J */
	bool has_power, has_counter;
	/* counter resets */
	double last_counter_j, offset_j;
	bool counter_seen;
	int resets;
	char why[200]; /* what was wrong with the last reply */
};

struct meter_dom {
	struct meter *m;
	bool counter; /* the counter view */
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct meter *m = ud;
	size_t len = size * n, room = REPLY_MAX - m->reply_len;

	if (len > room)
		len = room; /* a reply this long is garbage anyway; keep what fits */
	memcpy(m->reply + m->reply_len, p, len);
	m->reply_len += len;
	m->reply[m->reply_len] = '\0';
	return size * n;
}

/* First characters of the reply, printable, for messages. */
static void reply_excerpt(const struct meter *m, char *buf, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < m->reply_len && k + 1 < len && k < 48; i++)
		buf[k++] = isprint((unsigned char)m->reply[i]) ? m->reply[i] : '.';
	buf[k] = '\0';
}

static const cJSON *path_get(const cJSON *o, const char *a, const char *b, const char *c)
{
	o = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		o = cJSON_GetObjectItemCaseSensitive(o, b);
	if (c)
		o = cJSON_GetObjectItemCaseSensitive(o, c);
	return o;
}

/* Parses the reply into power_w / energy_j. 0, or -EBADMSG with why set. */
static int parse_reply(struct meter *m)
{
	cJSON *root = NULL;
	const cJSON *pw, *en;
	char ex[64];
	int rc = 0;

	m->has_power = m->has_counter = false;
	if (m->kind == METER_EXEC) {
		double v;
		char unit[4] = "";
		int got = sscanf(m->reply, " %3s %lf", unit, &v);

		if (got == 2 && !strcmp(unit, "W") && isfinite(v) && v >= 0 && v < 1e6) {
			m->power_w = v;
			m->has_power = true;
			return 0;
		}
		if (got == 2 && !strcmp(unit, "J") && isfinite(v) && v >= 0) {
			m->energy_j = v;
			m->has_counter = true;
			return 0;
		}
		reply_excerpt(m, ex, sizeof ex);
		pwr_strf(m->why, sizeof m->why,
		         "expected a first line 'W <watts>' or 'J <joules>', got '%s'", ex);
		return -EBADMSG;
	}
	root = cJSON_ParseWithLength(m->reply, m->reply_len);
	if (m->kind == METER_SHELLY) {
		pw = path_get(root, "apower", NULL, NULL);
		en = path_get(root, "aenergy", "total", NULL);
	} else {
		pw = path_get(root, "StatusSNS", "ENERGY", "Power");
		en = path_get(root, "StatusSNS", "ENERGY", "Total");
	}
	if (!cJSON_IsNumber(pw) || !(pw->valuedouble >= 0 && pw->valuedouble < 1e6)) {
		reply_excerpt(m, ex, sizeof ex);
		pwr_strf(m->why, sizeof m->why,
		         "the reply is not %s JSON with a power reading (%s): '%s'",
		         m->kind == METER_SHELLY ? "Shelly Switch.GetStatus" : "Tasmota Status 8",
		         m->kind == METER_SHELLY ? "apower" : "StatusSNS.ENERGY.Power", ex);
		rc = -EBADMSG;
		goto out;
	}
	m->power_w = pw->valuedouble;
	m->has_power = true;
	if (cJSON_IsNumber(en) && en->valuedouble >= 0) {
		/* Shelly: Wh; Tasmota: kWh */
		m->energy_j = en->valuedouble * (m->kind == METER_SHELLY ? 3600.0 : 3.6e6);
		m->has_counter = true;
	}
out:
	cJSON_Delete(root);
	return rc;
}

/* Runs the exec meter's command with a time limit; its stdout goes to m->reply. 0 or -errno. */
static int run_command(struct meter *m)
{
	int fds[2], status = 0, rc = 0;
	pid_t pid;
	int64_t deadline = pwr_now_ns() + (int64_t)m->timeout_ms * 1000000;

	m->reply_len = 0;
	m->reply[0] = '\0';
	if (pipe(fds) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(fds[0]);
		close(fds[1]);
		return rc;
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/bin/sh", "sh", "-c", m->target, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		int64_t left = deadline - pwr_now_ns();
		struct pollfd p = {fds[0], POLLIN, 0};
		ssize_t got;

		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)(left / 1000000) + 1) <= 0)
			continue;
		if (m->reply_len >= REPLY_MAX)
			break;
		got = read(fds[0], m->reply + m->reply_len, REPLY_MAX - m->reply_len);
		if (got <= 0)
			break;
		m->reply_len += (size_t)got;
		m->reply[m->reply_len] = '\0';
	}
	close(fds[0]);
	if (rc == -ETIMEDOUT)
		kill(pid, SIGKILL); /* the child this function started */
	if (waitpid(pid, &status, 0) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		pwr_strf(m->why, sizeof m->why, "the command exited with %s %d",
		         WIFEXITED(status) ? "status" : "signal",
		         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		rc = -ECHILD;
	}
	if (rc == -ETIMEDOUT)
		pwr_strf(m->why, sizeof m->why, "the command did not finish within %ld ms",
		         m->timeout_ms);
	return rc;
}

/* One reading from the meter into m (cached for the counter domain of the same round). */
static int fetch(struct meter *m)
{
	int64_t now = pwr_now_ns();
	long code = 0;
	CURLcode cc;
	int rc;

	if (m->fetched_ns && now - m->fetched_ns < CACHE_NS)
		return m->last_rc;
	m->fetched_ns = now;
	if (m->kind == METER_EXEC) {
		rc = run_command(m);
		if (rc == 0)
			rc = parse_reply(m);
		return m->last_rc = rc;
	}
	m->reply_len = 0;
	m->reply[0] = '\0';
	cc = curl_easy_perform(m->curl);
	if (cc != CURLE_OK) {
		pwr_strf(m->why, sizeof m->why, "%s", curl_easy_strerror(cc));
		return m->last_rc = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code == 401 && m->kind == METER_SHELLY) {
		if (m->auth)
			pwr_strf(m->why, sizeof m->why,
			         "HTTP 401 from %s: the Shelly refused the password in "
			         "JOULEBENCH_SHELLY_PASSWORD (digest authentication as user admin)",
			         m->url);
		else
			pwr_strf(m->why, sizeof m->why,
			         "HTTP 401 from %s: this Shelly has authentication enabled; set "
			         "JOULEBENCH_SHELLY_PASSWORD to its password (user admin, digest "
			         "authentication)",
			         m->url);
		return m->last_rc = -EACCES;
	}
	if (code != 200) {
		pwr_strf(m->why, sizeof m->why, "HTTP status %ld from %s", code, m->url);
		return m->last_rc = -EPROTO;
	}
	return m->last_rc = parse_reply(m);
}

/* The counter with resets unfolded: a reading below the previous one continues from it. */
static double counter_unfolded(struct meter *m)
{
	if (m->counter_seen && m->energy_j + 1e-9 < m->last_counter_j) {
		m->offset_j += m->last_counter_j;
		m->resets++;
	}
	m->counter_seen = true;
	m->last_counter_j = m->energy_j;
	return m->offset_j + m->energy_j;
}

static int meter_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct meter_dom *md = dom->priv;
	struct meter *m = md->m;
	int rc = fetch(m);

	if (rc < 0)
		return rc;
	if (md->counter || dom->value_kind == PWR_VALUE_COUNTER) {
		if (!m->has_counter) {
			pwr_strf(m->why, sizeof m->why,
			         "the reply has no energy counter this time");
			return -EBADMSG;
		}
		*raw = (uint64_t)llround(counter_unfolded(m) / dom->joules_per_unit);
		return 0;
	}
	if (!m->has_power) {
		pwr_strf(m->why, sizeof m->why, "the reply has no power reading this time");
		return -EBADMSG;
	}
	*raw = (uint64_t)llround(m->power_w / dom->watts_per_unit);
	return 0;
}

static void meter_explain(struct pwr_dom *dom, int err, char *buf, size_t len)
{
	struct meter_dom *md = dom->priv;

	pwr_strf(buf, len, "%s: %s%s", dom->desc.id, md->m->why[0] ? md->m->why : strerror(-err),
	         err == -ETIMEDOUT && md->m->kind != METER_EXEC
	             ? " (the meter did not answer in time)"
	             : "");
}

static void meter_close(struct pwr_dom *dom)
{
	struct meter_dom *md = dom->priv;

	if (!md)
		return;
	if (--md->m->refs == 0) {
		if (md->m->curl)
			curl_easy_cleanup(md->m->curl);
		free(md->m);
	}
	free(md);
	dom->priv = NULL;
}

/* ---- discovery ------------------------------------------------------------------------------ */

static int curl_setup(struct meter *m, const char *host_port)
{
	static bool global_done;
	const char *path =
	    m->kind == METER_SHELLY ? "/rpc/Switch.GetStatus?id=0" : "/cm?cmnd=Status%208";

	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			return -EIO;
		global_done = true;
	}
	pwr_strf(m->url, sizeof m->url, "http://%s%s", host_port, path);
	m->curl = curl_easy_init();
	if (!m->curl)
		return -ENOMEM;
	curl_easy_setopt(m->curl, CURLOPT_URL, m->url);
	curl_easy_setopt(m->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(m->curl, CURLOPT_TIMEOUT_MS, m->timeout_ms);
	curl_easy_setopt(m->curl, CURLOPT_CONNECTTIMEOUT_MS, m->timeout_ms);
	curl_easy_setopt(m->curl, CURLOPT_NOPROXY, "*"); /* straight to the plug, never a proxy */
	curl_easy_setopt(m->curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(m->curl, CURLOPT_PROTOCOLS_STR, "http");
#else
	curl_easy_setopt(m->curl, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
	curl_easy_setopt(m->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(m->curl, CURLOPT_WRITEDATA, m);
	curl_easy_setopt(m->curl, CURLOPT_USERAGENT, "joulebench");
	if (m->kind == METER_SHELLY) {
		/* Gen2+ with authentication enabled: digest (SHA-256) as user "admin". The password
		 * comes from the environment only, never the command line or a result. */
		const char *pw = getenv("JOULEBENCH_SHELLY_PASSWORD");

		if (pw && *pw) {
			curl_easy_setopt(m->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
			curl_easy_setopt(m->curl, CURLOPT_USERNAME, "admin");
			curl_easy_setopt(m->curl, CURLOPT_PASSWORD, pw);
			m->auth = true;
		}
	}
	return 0;
}

/*
 * The resolution of a plug's counter as it reports it: the decimals of the number after `key`
 * in the raw reply ("total":12.345 → 0.001), in the counter's unit (Wh or kWh), converted to J.
 * Falls back to `def_j` when the number cannot be found.
 */
static double counter_resolution_j(const struct meter *m, const char *key, double unit_j,
                                   double def_j)
{
	const char *p = strstr(m->reply, key), *dot;
	int decimals = 0;

	if (!p)
		return def_j;
	p += strlen(key);
	while (*p == ' ' || *p == ':')
		p++;
	if (!isdigit((unsigned char)*p))
		return def_j;
	while (isdigit((unsigned char)*p))
		p++;
	dot = p;
	if (*dot == '.')
		for (p = dot + 1; isdigit((unsigned char)*p); p++)
			decimals++;
	return unit_j * pow(10, -decimals);
}

static int add_view(struct pwr_discover *d, struct meter *m, const char *domain, bool counter,
                    const char *covers, const char *unit, struct pwr_dom **power_dom)
{
	struct meter_dom *md = calloc(1, sizeof *md);
	struct pwr_dom dom, *stored;

	if (!md)
		return -ENOMEM;
	md->m = m;
	md->counter = counter;
	memset(&dom, 0, sizeof dom);
	pwr_strf(dom.desc.domain, sizeof dom.desc.domain, "%s", domain);
	pwr_strf(dom.desc.covers, sizeof dom.desc.covers, "%s", covers);
	pwr_strf(dom.desc.unit, sizeof dom.desc.unit, "%s", unit);
	dom.desc.kind = PWR_MEASURED;
	if (counter) {
		dom.value_kind = PWR_VALUE_COUNTER;
		dom.joules_per_unit = m->kind == METER_EXEC ? 1e-6 : 3.6; /* exec: uJ; plugs: mWh */
		/* as stated by the reply's decimals (Shelly Wh, Tasmota kWh per EnergyRes) */
		dom.desc.resolution_j =
		    m->kind == METER_SHELLY    ? counter_resolution_j(m, "\"total\"", 3600.0, 3.6)
		    : m->kind == METER_TASMOTA ? counter_resolution_j(m, "\"Total\"", 3.6e6, 3600)
		                               : 1e-6;
		if (dom.desc.resolution_j < 3.6)
			dom.desc.resolution_j = 3.6; /* raw readings are kept in mWh */
		dom.not_primary = m->kind != METER_EXEC;
	} else {
		dom.value_kind = PWR_VALUE_POWER;
		dom.watts_per_unit = 1e-3; /* mW */
	}
	dom.stale_repeats = true; /* plugs refresh about once a second, however often polled */
	dom.priv = md;
	stored = d->add(d, &dom);
	if (!stored) {
		free(md);
		return -ENOMEM;
	}
	m->refs++;
	if (!counter && power_dom)
		*power_dom = stored;
	if (counter && power_dom && *power_dom)
		(*power_dom)->counter = stored;
	return 0;
}

static int meter_open_target(struct pwr_discover *d, enum meter_kind kind, const char *name,
                             const char *target)
{
	struct meter *m = calloc(1, sizeof *m);
	struct pwr_dom *power_dom = NULL;
	char what[300], dom[64], covers[160];
	int interval = d->opts->interval_ms > 0 ? d->opts->interval_ms : 100;
	int rc;

	if (!m)
		return -ENOMEM;
	m->kind = kind;
	pwr_strf(m->target, sizeof m->target, "%s", target);
	/* short, but not so short that a busy machine turns every reading into a gap */
	m->timeout_ms = 2L * interval;
	if (m->timeout_ms < (kind == METER_EXEC ? 2000 : 500))
		m->timeout_ms = kind == METER_EXEC ? 2000 : 500;
	if (m->timeout_ms > (kind == METER_EXEC ? 10000 : 2000))
		m->timeout_ms = kind == METER_EXEC ? 10000 : 2000;
	pwr_strf(what, sizeof what, "%s:%s", name, target);
	if (kind != METER_EXEC) {
		char host_port[300];

		if (!*target ||
		    strspn(target,
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
		        strlen(target)) {
			d->unavailable(d, what,
			               "expected %s:HOST[:PORT] (a host name or address, no path)",
			               name);
			free(m);
			return 0;
		}
		pwr_strf(host_port, sizeof host_port, "%s", target);
		if (curl_setup(m, host_port) < 0) {
			d->unavailable(d, what, "cannot set up libcurl");
			free(m);
			return 0;
		}
	} else if (!*target) {
		d->unavailable(
		    d, what,
		    "expected exec:CMD, a command that prints 'W <watts>' or 'J <joules>'");
		free(m);
		return 0;
	}
	rc = fetch(m);
	if (rc < 0) {
		d->unavailable(d, what, "%s", m->why[0] ? m->why : strerror(-rc));
		if (m->curl)
			curl_easy_cleanup(m->curl);
		free(m);
		return 0;
	}
	m->fetched_ns = 0; /* the sampler's first round reads afresh */
	if (kind == METER_EXEC) {
		pwr_strf(dom, sizeof dom, "%.63s", strlen(target) < 64 ? target : "cmd");
		pwr_strf(covers, sizeof covers, "whatever `%.100s` measures (exec meter)", target);
		if (m->has_counter)
			rc = add_view(d, m, dom, true, covers, "uJ counter (exec)", NULL);
		else
			rc = add_view(d, m, dom, false, covers, "mW power (exec)", NULL);
	} else {
		pwr_strf(dom, sizeof dom, "%.63s", target);
		pwr_strf(covers, sizeof covers, "wall, whole system incl. PSU loss (%s plug %.60s)",
		         kind == METER_SHELLY ? "Shelly" : "Tasmota", target);
		rc = add_view(d, m, dom, false, covers, "mW power (plug)", &power_dom);
		if (rc == 0 && m->has_counter) {
			char cdom[64], ccov[160];

			pwr_strf(cdom, sizeof cdom, "%.54s-counter", target);
			rc = add_view(d, m, cdom, true, "", "mWh counter (plug)", &power_dom);
			if (rc == 0 && power_dom && power_dom->counter) {
				struct pwr_dom *cd = (struct pwr_dom *)power_dom->counter;

				pwr_strf(ccov, sizeof ccov,
				         "the same plug's own energy counter (%s, resolution %.4g "
				         "J as its "
				         "decimals state)",
				         kind == METER_SHELLY ? "aenergy.total, Wh"
				                              : "ENERGY.Total, kWh",
				         cd->desc.resolution_j);
				pwr_strf(cd->desc.covers, sizeof cd->desc.covers, "%s", ccov);
			}
		}
	}
	if (m->refs == 0) {
		if (m->curl)
			curl_easy_cleanup(m->curl);
		free(m);
	}
	return rc;
}

static int meter_discover_kind(struct pwr_discover *d, enum meter_kind kind, const char *name)
{
	const char *const *p = d->opts->probes;
	size_t nl = strlen(name);
	int n = 0, rc;

	for (; p && *p; p++) {
		if (strncmp(*p, name, nl) || (*p)[nl] != ':')
			continue;
		n++;
		rc = meter_open_target(d, kind, name, *p + nl + 1);
		if (rc < 0)
			return rc;
	}
	if (n == 0)
		d->unavailable(d, name, "no meter named: pass --probe %s",
		               kind == METER_EXEC ? "exec:CMD (prints 'W <watts>' or 'J <joules>')"
		               : kind == METER_SHELLY ? "shelly:HOST[:PORT]"
		                                      : "tasmota:HOST[:PORT]");
	return 0;
}

static int shelly_discover(struct pwr_discover *d)
{
	return meter_discover_kind(d, METER_SHELLY, "shelly");
}

static int tasmota_discover(struct pwr_discover *d)
{
	return meter_discover_kind(d, METER_TASMOTA, "tasmota");
}

static int exec_discover(struct pwr_discover *d)
{
	return meter_discover_kind(d, METER_EXEC, "exec");
}

const struct pwr_backend pwr_backend_shelly = {
    .name = "shelly",
    .summary = "Shelly Gen2+ plug over HTTP (apower W, aenergy.total Wh): wall power, --probe "
               "shelly:HOST[:PORT]",
    .discover = shelly_discover,
    .read = meter_read,
    .close = meter_close,
    .explain = meter_explain,
    .transient = true,
    .target_probe = true,
    .wall = true,
};

const struct pwr_backend pwr_backend_tasmota = {
    .name = "tasmota",
    .summary = "Tasmota plug over HTTP (Status 8: ENERGY.Power W, Total kWh): wall power, --probe "
               "tasmota:HOST[:PORT]",
    .discover = tasmota_discover,
    .read = meter_read,
    .close = meter_close,
    .explain = meter_explain,
    .transient = true,
    .target_probe = true,
    .wall = true,
};

const struct pwr_backend pwr_backend_exec = {
    .name = "exec",
    .summary = "any command that prints 'W <watts>' or 'J <joules>' each round: --probe exec:CMD",
    .discover = exec_discover,
    .read = meter_read,
    .close = meter_close,
    .explain = meter_explain,
    .transient = true,
    .target_probe = true,
    .wall = true,
};
