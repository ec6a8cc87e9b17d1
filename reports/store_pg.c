/*
 * reports/store_pg.c — the PostgreSQL backend of the results store (store_db.h) through libpq.
 * The location is a postgresql:// or postgres:// URL; the password comes from the URL, PGPASSWORD
 * or ~/.pgpass (libpq's own rules) and is scrubbed from every message this file returns. Every
 * statement goes through PQexecParams; `?` placeholders become $1, $2, ...
 */
#include "reports/store_db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define OID_INT8   20
#define OID_FLOAT8 701
#define OID_TEXT   25

static void quiet_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Replaces every occurrence of `secret` in msg with "****". */
static void scrub_secret(char *msg, size_t len, const char *secret)
{
	size_t sl;
	char *p;

	if (!secret || !(sl = strlen(secret)))
		return;
	while ((p = strstr(msg, secret))) {
		size_t tail = strlen(p + sl);

		if ((size_t)(p - msg) + 4 + tail + 1 > len)
			tail = len - (size_t)(p - msg) - 5;
		memmove(p + 4, p + sl, tail);
		p[4 + tail] = '\0';
		memcpy(p, "****", 4);
	}
}

/* The password of a URL, if it has one (user:PASSWORD@host), into buf; "" otherwise. */
static void url_password(const char *url, char *buf, size_t len)
{
	const char *s = strstr(url, "://"), *at, *colon;

	buf[0] = '\0';
	if (!s)
		return;
	s += 3;
	at = strchr(s, '@');
	if (!at)
		return;
	colon = memchr(s, ':', (size_t)(at - s));
	if (!colon || (size_t)(at - colon - 1) >= len)
		return;
	memcpy(buf, colon + 1, (size_t)(at - colon - 1));
	buf[at - colon - 1] = '\0';
}

static void pg_scrub(void *conn, char *msg, size_t len)
{
	if (conn && PQpass(conn))
		scrub_secret(msg, len, PQpass(conn));
}

static int pg_open(const char *location, void **conn, char *err, size_t errlen)
{
	PGconn *c;
	PGresult *res;
	char pw[256];

	*conn = NULL;
	c = PQconnectdb(location);
	if (!c) {
		snprintf(err, errlen, "postgresql: out of memory");
		return -ENOMEM;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		char masked[1024];

		db_mask_url(location, masked, sizeof masked);
		snprintf(err, errlen, "%s: cannot connect: %s", masked, PQerrorMessage(c));
		err[strcspn(err, "\n")] = '\0';
		url_password(location, pw, sizeof pw);
		scrub_secret(err, errlen, pw);
		pg_scrub(c, err, errlen);
		PQfinish(c);
		return -EIO;
	}
	PQsetNoticeProcessor(c, quiet_notices, NULL);
	/* shortest exact float8 text, so a double read back is the double written */
	res = PQexec(c, "SET extra_float_digits = 3");
	PQclear(res);
	*conn = c;
	return 0;
}

static void pg_close(void *conn)
{
	PQfinish(conn);
}

/* "?" → "$n" (the store's SQL never has a '?' inside a literal). malloc'd. */
static char *number_params(const char *sql)
{
	size_t n = 0, len = strlen(sql);
	char *out, *o;

	for (const char *p = sql; *p; p++)
		n += *p == '?';
	out = malloc(len + n * 6 + 1);
	if (!out)
		return NULL;
	o = out;
	n = 0;
	for (const char *p = sql; *p; p++) {
		if (*p == '?')
			o += sprintf(o, "$%zu", ++n);
		else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

static int pg_result_error(PGconn *c, PGresult *res, char *err, size_t errlen)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	/* serialization_failure, deadlock_detected: run the transaction again */
	if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01")))
		return DB_RETRY;
	snprintf(err, errlen, "postgresql: %s",
	         res ? PQresultErrorMessage(res) : PQerrorMessage(c));
	err[strcspn(err, "\n")] = '\0';
	pg_scrub(c, err, errlen);
	return -EIO;
}

static int pg_exec(void *conn, const char *sql, const struct db_val *params, int n_params,
                   struct db_rows *out, char *err, size_t errlen)
{
	PGconn *c = conn;
	PGresult *res = NULL;
	char *q = NULL, (*num)[40] = NULL;
	const char **vals = NULL;
	unsigned int *types = NULL;
	int ret = 0;

	if (out)
		memset(out, 0, sizeof *out);
	q = number_params(sql);
	vals = calloc((size_t)n_params + 1, sizeof *vals);
	types = calloc((size_t)n_params + 1, sizeof *types);
	num = calloc((size_t)n_params + 1, sizeof *num);
	if (!q || !vals || !types || !num) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int k = 0; k < n_params; k++) {
		switch (params[k].t) {
		case DB_NULL:
			vals[k] = NULL;
			break;
		case DB_INT:
			snprintf(num[k], sizeof num[k], "%" PRId64, params[k].i);
			vals[k] = num[k];
			types[k] = OID_INT8;
			break;
		case DB_REAL:
			snprintf(num[k], sizeof num[k], "%.17g", params[k].d);
			vals[k] = num[k];
			types[k] = OID_FLOAT8;
			break;
		default:
			vals[k] = params[k].s;
			types[k] = OID_TEXT;
			break;
		}
	}
	res = PQexecParams(c, q, n_params, types, vals, NULL, NULL, 0);
	if (!res ||
	    (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)) {
		ret = pg_result_error(c, res, err, errlen);
		goto out;
	}
	if (out && PQresultStatus(res) == PGRES_TUPLES_OK) {
		out->n_rows = PQntuples(res);
		out->n_cols = PQnfields(res);
		out->cells =
		    calloc((size_t)out->n_rows * (size_t)out->n_cols + 1, sizeof *out->cells);
		if (!out->cells) {
			out->n_rows = 0;
			ret = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		for (int r = 0; r < out->n_rows; r++)
			for (int k = 0; k < out->n_cols; k++) {
				struct db_cell *cell =
				    &out->cells[(size_t)r * (size_t)out->n_cols + (size_t)k];

				if (PQgetisnull(res, r, k)) {
					cell->null = true;
					continue;
				}
				cell->s = strdup(PQgetvalue(res, r, k));
				if (!cell->s) {
					ret = -ENOMEM;
					snprintf(err, errlen, "out of memory");
					goto out;
				}
				cell->d = strtod(cell->s, NULL);
				cell->i = strtoll(cell->s, NULL, 10);
			}
	}
out:
	if (ret && out)
		db_rows_free(out);
	PQclear(res);
	free(q);
	free(vals);
	free(types);
	free(num);
	return ret;
}

static int pg_begin_write(void *conn, char *err, size_t errlen)
{
	return pg_exec(conn, "BEGIN", NULL, 0, NULL, err, errlen);
}

static int pg_lock_schema(void *conn, char *err, size_t errlen)
{
	/* one migrating process at a time, across every client of this database */
	return pg_exec(conn, "SELECT pg_advisory_xact_lock(5849313217)", NULL, 0, NULL, err,
	               errlen);
}

const struct db_backend db_postgresql = {
    .name = "postgresql",
    .id_type = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    .real_type = "DOUBLE PRECISION",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .begin_write = pg_begin_write,
    .lock_schema = pg_lock_schema,
    .scrub = pg_scrub,
};

void db_mask_url(const char *url, char *buf, size_t len)
{
	const char *s = strstr(url, "://"), *at, *colon, *pw;

	snprintf(buf, len, "%s", url);
	if (s) {
		s += 3;
		at = strchr(s, '@');
		colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
		if (colon)
			snprintf(buf, len, "%.*s:****%s", (int)(colon - url), url, at);
	}
	/* a password=... parameter in the query string */
	if ((pw = strstr(buf, "password="))) {
		char *p = (char *)pw + 9;
		size_t end = strcspn(p, "&");

		if (end >= 4 || strlen(buf) + 4 - end < len) {
			memmove(p + 4, p + end, strlen(p + end) + 1);
			memcpy(p, "****", 4);
		} else {
			*p = '\0'; /* no room to mask in place: cut the rest */
		}
	}
}
