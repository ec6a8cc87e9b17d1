/*
 * reports/store_db.h — private to reports/: the database backends behind rpt_store_* (store.c).
 *
 * A backend is a const table of named function pointers (SQLite in store_sqlite.c, PostgreSQL
 * through libpq in store_pg.c). store.c writes one SQL dialect: `?` placeholders (the PostgreSQL
 * backend numbers them $1, $2, ...), INSERT ... ON CONFLICT ... RETURNING, and the type words
 * of the table below substituted into the schema (`@ID@`, `@REAL@`). Every value travels as a
 * bound parameter; SQL text never contains data.
 */
#ifndef JB_STORE_DB_H
#define JB_STORE_DB_H

#include "reports/reports.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_type { DB_NULL, DB_INT, DB_REAL, DB_TEXT };

/* A bound parameter. `s` is borrowed for the duration of the call. */
struct db_val {
	enum db_type t;
	int64_t i;
	double d;
	const char *s;
};

#define DBV_NULL    ((struct db_val){.t = DB_NULL})
#define DBV_INT(x)  ((struct db_val){.t = DB_INT, .i = (int64_t)(x)})
#define DBV_REAL(x) ((struct db_val){.t = DB_REAL, .d = (x)})
/* A text value; a NULL pointer is an SQL NULL of type text. */
#define DBV_TEXT(x) ((struct db_val){.t = DB_TEXT, .s = (x)})

/* One cell of a result: `s` is always set for non-NULL cells (malloc'd, owned by the rows);
 * `d` and `i` hold the exact numeric value for numeric columns (a REAL round-trips bit for bit). */
struct db_cell {
	bool null;
	double d;
	int64_t i;
	char *s;
};

struct db_rows {
	int n_rows, n_cols;
	struct db_cell *cells; /* n_rows * n_cols, row-major */
};

static inline const struct db_cell *db_cell(const struct db_rows *r, int row, int col)
{
	return &r->cells[(size_t)row * (size_t)r->n_cols + (size_t)col];
}
void db_rows_free(struct db_rows *r);

/* Outcome codes of exec/begin/commit besides 0 and negative errno values. */
#define DB_RETRY                                                                                   \
	1 /* busy/locked (SQLite) or serialization failure/deadlock (PostgreSQL): roll             \
	   * back and run the whole transaction again */

struct db_backend {
	const char *name;      /* "sqlite", "postgresql" */
	const char *id_type;   /* @ID@: an auto-numbered primary key */
	const char *real_type; /* @REAL@: an IEEE double */
	/* Opens a connection; `location` is a file path or a URL. The error never holds a password.
	 */
	int (*open)(const char *location, void **conn, char *err, size_t errlen);
	void (*close)(void *conn);
	/* Runs one statement with parameters; rows (when out is not NULL) are the caller's, freed
	 * with db_rows_free. Returns 0, DB_RETRY, or a negative errno with a message. */
	int (*exec)(void *conn, const char *sql, const struct db_val *params, int n_params,
	            struct db_rows *out, char *err, size_t errlen);
	/* Starts a transaction that will write (SQLite: BEGIN IMMEDIATE, which waits for the write
	 * lock up to the busy timeout instead of failing at the first write). */
	int (*begin_write)(void *conn, char *err, size_t errlen);
	/* Serialises schema migrations across processes inside the current transaction (PostgreSQL:
	 * an advisory lock; SQLite: nothing, BEGIN IMMEDIATE already does). */
	int (*lock_schema)(void *conn, char *err, size_t errlen);
	/* Removes secrets from a message: the connection's password, wherever libpq echoes it. */
	void (*scrub)(void *conn, char *msg, size_t len);
};

extern const struct db_backend db_sqlite;
extern const struct db_backend db_postgresql;

/* Copies `url` into buf with any password replaced by "****" (postgresql://user:****@host/db,
 * and password=... in a query string). */
void db_mask_url(const char *url, char *buf, size_t len);

#endif
