/* reports/rpt_json.c — typed cJSON field reads and small helpers (private to reports/). */
#include "reports/rpt_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rj_str(const cJSON *o, const char *name, char *buf, size_t len)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	if (len == 0)
		return;
	buf[0] = '\0';
	if (cJSON_IsString(it) && it->valuestring)
		snprintf(buf, len, "%s", it->valuestring);
}

bool rj_num(const cJSON *o, const char *name, double *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
		return false;
	*v = it->valuedouble;
	return true;
}

static void reason_of(const cJSON *o, const char *name, char *buf, size_t len)
{
	char key[128];

	snprintf(key, sizeof key, "%s_reason", name);
	rj_str(o, key, buf, len);
	if (!buf[0])
		snprintf(buf, len, "%s not recorded", name);
}

void rj_rnum(const cJSON *o, const char *name, struct rpt_num *n)
{
	memset(n, 0, sizeof *n);
	if (rj_num(o, name, &n->v)) {
		n->ok = true;
		return;
	}
	reason_of(o, name, n->reason, sizeof n->reason);
}

int rj_stat(const cJSON *o, const char *name, struct rpt_stat *s, const char *file, const char *ctx,
            char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	double n = 0;

	memset(s, 0, sizeof *s);
	if (!it || cJSON_IsNull(it)) {
		reason_of(o, name, s->reason, sizeof s->reason);
		return 0;
	}
	if (!cJSON_IsObject(it)) {
		snprintf(err, errlen, "%s: field '%s.%s' must be a stat object or null", file, ctx,
		         name);
		return -EINVAL;
	}
	if (!rj_num(it, "median", &s->median)) {
		/* A stat over zero repetitions: recorded as missing, not as 0. */
		if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(it, "median")) ||
		    (rj_num(it, "n", &n) && n == 0)) {
			snprintf(s->reason, sizeof s->reason, "%s has no values", name);
			return 0;
		}
		snprintf(err, errlen, "%s: field '%s.%s.median' must be a number", file, ctx, name);
		return -EINVAL;
	}
	s->ok = true;
	if (rj_num(it, "n", &n))
		s->n = (int)n;
	if (!rj_num(it, "mean", &s->mean))
		s->mean = s->median;
	if (!rj_num(it, "sd", &s->sd))
		s->sd = 0;
	if (!rj_num(it, "ci95_low", &s->ci_low))
		s->ci_low = s->median;
	if (!rj_num(it, "ci95_high", &s->ci_high))
		s->ci_high = s->median;
	if (!rj_num(it, "min", &s->min))
		s->min = s->median;
	if (!rj_num(it, "max", &s->max))
		s->max = s->median;
	return 0;
}

char *rj_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, ncap);

			if (!nb) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);

		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;

		free(buf);
		fclose(f);
		errno = e;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

void rj_fmt(char *buf, size_t len, double v, int sig)
{
	double a = fabs(v);

	if (!isfinite(v))
		snprintf(buf, len, "n/a");
	else if (a != 0 && (a < 1e-3 || a >= 1e7))
		snprintf(buf, len, "%.*e", sig - 1, v);
	else {
		int dec = sig - 1 - (a == 0 ? 0 : (int)floor(log10(a)));

		if (dec < 0)
			dec = 0;
		snprintf(buf, len, "%.*f", dec, v);
	}
}

const char *rj_label(const char *path)
{
	const char *base = strrchr(path, '/');

	if (!base)
		return path;
	if (strcmp(base + 1, "result.json") == 0) {
		const char *dir = base;

		while (dir > path && dir[-1] != '/')
			dir--;
		if (dir < base)
			return dir;
	}
	return base + 1;
}
