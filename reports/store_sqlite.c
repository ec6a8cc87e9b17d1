/*
 * reports/store_sqlite.c — the SQLite backend of the results store (store_db.h): one file, WAL
 * journal (readers never block the writer), a busy timeout, BEGIN IMMEDIATE for writers and
 * foreign keys on. Every value is bound with sqlite3_bind_*.
 */
#include "reports/store_db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 30000

static int sq_fail(sqlite3 *db, int rc, const char *what, char *err, size_t errlen)
{
	int base = rc & 0xff;

	if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
		return DB_RETRY;
	snprintf(err, errlen, "sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return -EIO;
}

/* mkdir -p of the directory part of path (the default results/joulebench.sqlite). */
static void make_parent(const char *path)
{
	char buf[1024];

	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
}

static int sq_exec_plain(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_fail(db, rc, sql, err, errlen);
}

static int sq_open(const char *location, void **conn, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	const char *path = location;
	int rc;

	*conn = NULL;
	if (!strncmp(path, "sqlite:", 7))
		path += 7;
	make_parent(path);
	rc = sqlite3_open_v2(
	    path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open SQLite database: %s", path,
		         db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db, 1);
	/* WAL: one writer and any number of readers at once; NORMAL sync is durable at each
	 * checkpoint and never corrupts the file. Switching to WAL needs a moment without other
	 * writers, so a busy answer here is retried by the busy handler. */
	if ((rc = sq_exec_plain(db, "PRAGMA journal_mode=WAL", err, errlen)) ||
	    (rc = sq_exec_plain(db, "PRAGMA synchronous=NORMAL", err, errlen)) ||
	    (rc = sq_exec_plain(db, "PRAGMA foreign_keys=ON", err, errlen))) {
		if (rc == DB_RETRY)
			snprintf(err, errlen, "%s: database is locked (after %d ms)", path,
			         BUSY_TIMEOUT_MS);
		sqlite3_close(db);
		return -EIO;
	}
	*conn = db;
	return 0;
}

static void sq_close(void *conn)
{
	sqlite3_close(conn);
}

static int bind_all(sqlite3_stmt *st, const struct db_val *p, int n)
{
	for (int k = 0; k < n; k++) {
		int rc;

		switch (p[k].t) {
		case DB_NULL:
			rc = sqlite3_bind_null(st, k + 1);
			break;
		case DB_INT:
			rc = sqlite3_bind_int64(st, k + 1, p[k].i);
			break;
		case DB_REAL:
			rc = sqlite3_bind_double(st, k + 1, p[k].d);
			break;
		default:
			rc = p[k].s ? sqlite3_bind_text(st, k + 1, p[k].s, -1, SQLITE_TRANSIENT)
			            : sqlite3_bind_null(st, k + 1);
			break;
		}
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static int cell_read(sqlite3_stmt *st, int col, struct db_cell *c)
{
	char num[40];

	memset(c, 0, sizeof *c);
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		c->null = true;
		return 0;
	case SQLITE_INTEGER:
		c->i = sqlite3_column_int64(st, col);
		c->d = (double)c->i;
		snprintf(num, sizeof num, "%" PRId64, c->i);
		c->s = strdup(num);
		break;
	case SQLITE_FLOAT:
		c->d = sqlite3_column_double(st, col);
		c->i = (int64_t)c->d;
		snprintf(num, sizeof num, "%.17g", c->d);
		c->s = strdup(num);
		break;
	default: {
		const unsigned char *t = sqlite3_column_text(st, col);

		c->s = strdup(t ? (const char *)t : "");
		c->d = strtod(c->s, NULL);
		c->i = strtoll(c->s, NULL, 10);
		break;
	}
	}
	return c->s ? 0 : -ENOMEM;
}

static int sq_exec(void *conn, const char *sql, const struct db_val *params, int n_params,
                   struct db_rows *out, char *err, size_t errlen)
{
	sqlite3 *db = conn;
	sqlite3_stmt *st = NULL;
	int rc, ret = 0, cap = 0;

	if (out)
		memset(out, 0, sizeof *out);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(db, rc, "prepare", err, errlen);
	if ((rc = bind_all(st, params, n_params)) != SQLITE_OK) {
		ret = sq_fail(db, rc, "bind", err, errlen);
		goto out;
	}
	if (out)
		out->n_cols = sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!out)
			continue;
		if (out->n_rows == cap) {
			int ncap = cap ? cap * 2 : 16;
			struct db_cell *nc = realloc(
			    out->cells,
			    (size_t)ncap * (size_t)(out->n_cols ? out->n_cols : 1) * sizeof *nc);

			if (!nc) {
				ret = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			out->cells = nc;
			cap = ncap;
		}
		for (int c = 0; c < out->n_cols; c++) {
			struct db_cell *cell =
			    &out->cells[(size_t)out->n_rows * (size_t)out->n_cols + (size_t)c];

			if (cell_read(st, c, cell)) {
				/* keep the row count consistent for db_rows_free */
				for (int k = c + 1; k < out->n_cols; k++)
					memset(
					    &out->cells[(size_t)out->n_rows * (size_t)out->n_cols +
					                (size_t)k],
					    0, sizeof *cell);
				out->n_rows++;
				ret = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
		}
		out->n_rows++;
	}
	if (rc != SQLITE_DONE)
		ret = sq_fail(db, rc, "step", err, errlen);
out:
	sqlite3_finalize(st);
	if (ret && out)
		db_rows_free(out);
	return ret;
}

static int sq_begin_write(void *conn, char *err, size_t errlen)
{
	return sq_exec_plain(conn, "BEGIN IMMEDIATE", err, errlen);
}

static int sq_lock_schema(void *conn, char *err, size_t errlen)
{
	(void)conn;
	(void)err;
	(void)errlen;
	return 0;
}

static void sq_scrub(void *conn, char *msg, size_t len)
{
	(void)conn;
	(void)msg;
	(void)len;
}

const struct db_backend db_sqlite = {
    .name = "sqlite",
    .id_type = "INTEGER PRIMARY KEY",
    .real_type = "REAL",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .begin_write = sq_begin_write,
    .lock_schema = sq_lock_schema,
    .scrub = sq_scrub,
};

void db_rows_free(struct db_rows *r)
{
	if (!r)
		return;
	for (size_t k = 0; r->cells && k < (size_t)r->n_rows * (size_t)r->n_cols; k++)
		free(r->cells[k].s);
	free(r->cells);
	memset(r, 0, sizeof *r);
}
