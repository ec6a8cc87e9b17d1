/*
 * reports/store.c — the results store: schema and migrations, inserting a result in one
 * transaction, and the queries behind `history`, `compare --db` and `regress --baseline db:`.
 * The SQL is shared by both backends (store_db.h says what each substitutes); every value is a
 * bound parameter.
 *
 * Schema (version 2):
 *   schema_version  version, applied_utc — one row per migration step applied
 *   machines        fingerprint (FNV-1a 64 of CPU model, SIMD flags, cores, threads, memory and
 *                   hostname) UNIQUE, and those fields
 *   models          model_key UNIQUE ("sha256:HEX" of the file, else the spec "synth:SHAPE:TYPE")
 *   runs            result_sha256 UNIQUE, result_path, label, created_utc, joulebench version and
 *                   commit, complete, primary source, machine_id, model_id, and `document`: the
 *                   result.json without its raw `samples`/`phases` timelines
 *   configurations  one row per configs[] entry with its summary medians
 *   repetitions     one row per reps[] entry
 *   energy          per repetition and energy source: prefill_j, decode_j, kind
 *   energy_sources  per run: every sampled domain with its kind
 */
#include "reports/rpt_json.h"
#include "reports/store_db.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct rpt_store {
	const struct db_backend *be;
	void *conn;
	int version;
	int fault_after; /* tests: SIGKILL after this many statements of a put */
	int n_statements;
	bool in_put;
};

/* ---- schema ----------------------------------------------------------------------------- */

static const char *const migration_1[] = {
    "CREATE TABLE machines ("
    " id @ID@,"
    " fingerprint TEXT NOT NULL UNIQUE,"
    " hostname TEXT, cpu_model TEXT, cpu_vendor TEXT, cores BIGINT, threads BIGINT,"
    " mem_bytes @REAL@, simd_flags TEXT, os TEXT, kernel TEXT, virtualized TEXT,"
    " first_seen_utc TEXT NOT NULL)",
    "CREATE TABLE models ("
    " id @ID@,"
    " model_key TEXT NOT NULL UNIQUE,"
    " spec TEXT, name TEXT, shape TEXT, arch TEXT, type TEXT, sha256 TEXT, synthetic BIGINT,"
    " n_params @REAL@, weight_bytes @REAL@)",
    "CREATE TABLE runs ("
    " id @ID@,"
    " result_sha256 TEXT NOT NULL UNIQUE,"
    " result_path TEXT, label TEXT, kind TEXT NOT NULL, created_utc TEXT, stored_utc TEXT NOT NULL,"
    " jb_version TEXT, jb_commit TEXT, simd TEXT, workload TEXT,"
    " complete BIGINT NOT NULL, incomplete_reason TEXT, primary_source TEXT,"
    " machine_id BIGINT NOT NULL REFERENCES machines(id),"
    " model_id BIGINT REFERENCES models(id),"
    " document TEXT NOT NULL)",
    "CREATE TABLE energy_sources ("
    " id @ID@,"
    " run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " source TEXT NOT NULL, backend TEXT, domain TEXT, covers TEXT, kind TEXT,"
    " UNIQUE (run_id, source))",
    "CREATE TABLE configurations ("
    " id @ID@,"
    " run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " idx BIGINT NOT NULL, threads BIGINT, type TEXT, prompt_tokens BIGINT, gen_tokens BIGINT,"
    " n_reps BIGINT, error TEXT,"
    " prefill_tok_s @REAL@, decode_tok_s @REAL@, decode_tok_s_ci95_low @REAL@,"
    " decode_tok_s_ci95_high @REAL@, ttft_ms @REAL@,"
    " j_per_token @REAL@, j_per_token_gross @REAL@, energy_source TEXT, energy_kind TEXT,"
    " UNIQUE (run_id, idx))",
    "CREATE TABLE repetitions ("
    " id @ID@,"
    " configuration_id BIGINT NOT NULL REFERENCES configurations(id) ON DELETE CASCADE,"
    " idx BIGINT NOT NULL, complete BIGINT, prompt_tokens BIGINT, gen_tokens BIGINT,"
    " ttft_ns @REAL@, prefill_ns @REAL@, decode_ns @REAL@,"
    " prefill_tok_s @REAL@, decode_tok_s @REAL@)",
    "CREATE TABLE energy ("
    " id @ID@,"
    " repetition_id BIGINT NOT NULL REFERENCES repetitions(id) ON DELETE CASCADE,"
    " source TEXT NOT NULL, kind TEXT, prefill_j @REAL@, decode_j @REAL@)",
    NULL,
};

static const char *const migration_2[] = {
    "CREATE INDEX runs_machine_created ON runs (machine_id, created_utc)",
    "CREATE INDEX runs_model ON runs (model_id)",
    "CREATE INDEX runs_label ON runs (label)",
    "CREATE INDEX configurations_run ON configurations (run_id)",
    "CREATE INDEX repetitions_configuration ON repetitions (configuration_id)",
    "CREATE INDEX energy_repetition ON energy (repetition_id)",
    NULL,
};

/* Ordered migration steps: step k brings the schema to version k + 1. */
static const char *const *const migrations[] = {migration_1, migration_2};
#define N_MIGRATIONS (int)(sizeof migrations / sizeof migrations[0])

/* ---- statements ------------------------------------------------------------------------- */

static int run_sql(struct rpt_store *st, const char *sql, const struct db_val *p, int n,
                   struct db_rows *out, char *err, size_t errlen)
{
	int rc;

	if (st->in_put && st->fault_after > 0 && ++st->n_statements > st->fault_after)
		raise(SIGKILL); /* tests: a crash inside the transaction */
	rc = st->be->exec(st->conn, sql, p, n, out, err, errlen);
	if (rc < 0)
		st->be->scrub(st->conn, err, errlen);
	return rc;
}

static void rollback(struct rpt_store *st)
{
	char ignore[RPT_ERR_LEN];
	bool in_put = st->in_put;

	st->in_put = false;
	st->be->exec(st->conn, "ROLLBACK", NULL, 0, NULL, ignore, sizeof ignore);
	st->in_put = in_put;
}

/* Replaces @ID@ and @REAL@ with the backend's words. malloc'd. */
static char *schema_sql(const struct db_backend *be, const char *sql)
{
	size_t cap = strlen(sql) * 3 + 64, o = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (const char *p = sql; *p;) {
		const char *word = NULL;
		size_t skip = 0;

		if (!strncmp(p, "@ID@", 4)) {
			word = be->id_type;
			skip = 4;
		} else if (!strncmp(p, "@REAL@", 6)) {
			word = be->real_type;
			skip = 6;
		}
		if (word) {
			o += (size_t)snprintf(out + o, cap - o, "%s", word);
			p += skip;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return out;
}

static void utc_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int current_version(struct rpt_store *st, int *v, char *err, size_t errlen)
{
	struct db_rows rows;
	int rc =
	    run_sql(st, "SELECT MAX(version) FROM schema_version", NULL, 0, &rows, err, errlen);

	if (rc)
		return rc;
	*v = rows.n_rows && !db_cell(&rows, 0, 0)->null ? (int)db_cell(&rows, 0, 0)->i : 0;
	db_rows_free(&rows);
	return 0;
}

/* Brings the schema up to date in one transaction; other processes wait. */
static int migrate_once(struct rpt_store *st, char *err, size_t errlen)
{
	char now[40];
	int rc, v = 0;

	if ((rc = st->be->begin_write(st->conn, err, errlen)))
		return rc;
	if ((rc = st->be->lock_schema(st->conn, err, errlen)) ||
	    (rc = run_sql(st,
	                  "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY,"
	                  " applied_utc TEXT NOT NULL)",
	                  NULL, 0, NULL, err, errlen)) ||
	    (rc = current_version(st, &v, err, errlen)))
		goto fail;
	if (v > N_MIGRATIONS) {
		snprintf(err, errlen,
		         "the database is at schema version %d; this joulebench knows versions up "
		         "to %d: "
		         "upgrade joulebench",
		         v, N_MIGRATIONS);
		rc = -EPROTO;
		goto fail;
	}
	utc_now(now, sizeof now);
	for (int k = v; k < N_MIGRATIONS; k++) {
		for (const char *const *s = migrations[k]; *s; s++) {
			char *sql = schema_sql(st->be, *s);

			if (!sql) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			rc = run_sql(st, sql, NULL, 0, NULL, err, errlen);
			free(sql);
			if (rc)
				goto fail;
		}
		struct db_val p[] = {DBV_INT(k + 1), DBV_TEXT(now)};

		if ((rc = run_sql(st,
		                  "INSERT INTO schema_version (version, applied_utc) VALUES (?, ?)",
		                  p, 2, NULL, err, errlen)))
			goto fail;
	}
	if ((rc = run_sql(st, "COMMIT", NULL, 0, NULL, err, errlen)))
		goto fail;
	st->version = v > N_MIGRATIONS ? v : N_MIGRATIONS;
	return 0;
fail:
	rollback(st);
	return rc;
}

/* Retries a transaction that found the database busy (DB_RETRY), with a growing pause. */
#define MAX_ATTEMPTS 50
static void backoff(int attempt)
{
	struct timespec ts = {0, (long)(1 + attempt % 10) * 20 * 1000000L};

	nanosleep(&ts, NULL);
}

static int migrate(struct rpt_store *st, char *err, size_t errlen)
{
	char ignore[RPT_ERR_LEN];
	int rc = DB_RETRY, v = 0;

	/* the common case, a database already at this version: a read, no write lock */
	if (current_version(st, &v, ignore, sizeof ignore) == 0 && v == N_MIGRATIONS) {
		st->version = v;
		return 0;
	}

	for (int a = 0; a < MAX_ATTEMPTS && rc == DB_RETRY; a++) {
		rc = migrate_once(st, err, errlen);
		if (rc == DB_RETRY)
			backoff(a);
	}
	if (rc == DB_RETRY) {
		snprintf(err, errlen, "the database stayed busy while migrating its schema");
		rc = -EBUSY;
	}
	return rc;
}

/* ---- open / close ----------------------------------------------------------------------- */

static bool is_pg_url(const char *loc)
{
	return !strncmp(loc, "postgresql://", 13) || !strncmp(loc, "postgres://", 11);
}

const char *rpt_store_location(const char *arg)
{
	const char *env = getenv("JOULEBENCH_DB");

	if (arg && *arg)
		return arg;
	if (env && *env)
		return env;
	return RPT_STORE_DEFAULT;
}

void rpt_store_mask(const char *location, char *buf, size_t len)
{
	db_mask_url(location, buf, len);
}

int rpt_store_open(const char *location, struct rpt_store **out, char *err, size_t errlen)
{
	struct rpt_store *st = calloc(1, sizeof *st);
	int rc;

	*out = NULL;
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	st->be = is_pg_url(location) ? &db_postgresql : &db_sqlite;
	if ((rc = st->be->open(location, &st->conn, err, errlen))) {
		free(st);
		return rc;
	}
	if ((rc = migrate(st, err, errlen))) {
		char masked[512], msg[RPT_ERR_LEN];

		db_mask_url(location, masked, sizeof masked);
		snprintf(msg, sizeof msg, "%s", err);
		snprintf(err, errlen, "%s: %s", masked, msg);
		rpt_store_close(st);
		return rc < 0 ? rc : -EIO;
	}
	*out = st;
	return 0;
}

void rpt_store_close(struct rpt_store *st)
{
	if (!st)
		return;
	if (st->conn)
		st->be->close(st->conn);
	free(st);
}

const char *rpt_store_backend(const struct rpt_store *st)
{
	return st->be->name;
}

int rpt_store_schema_version(const struct rpt_store *st)
{
	return st->version;
}

void rpt_store_fault_after(struct rpt_store *st, int n_statements)
{
	st->fault_after = n_statements;
	st->n_statements = 0;
}

/* ---- identities ------------------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= 0x1f; /* field separator */
	h *= 0x100000001b3ULL;
	return h;
}

static const cJSON *get(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* A number as text for hashing: "%.17g", or "null". */
static void num_text(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsNumber(v))
		snprintf(buf, len, "%.17g", v->valuedouble);
	else
		snprintf(buf, len, "null");
}

/* The machine fingerprint: FNV-1a 64 of CPU model, SIMD flags (in recorded order), cores,
 * threads, memory and hostname; 16 hex digits. */
static void machine_fingerprint(const cJSON *m, char out[20], char *flags, size_t flags_len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const cJSON *f;
	char num[40];

	flags[0] = '\0';
	cJSON_ArrayForEach(f, get(m, "simd_flags"))
	{
		size_t used = strlen(flags);

		if (cJSON_IsString(f) && used + strlen(f->valuestring) + 2 < flags_len)
			snprintf(flags + used, flags_len - used, "%s%s", used ? "," : "",
			         f->valuestring);
	}
	h = fnv1a(h, cJSON_GetStringValue(get(m, "cpu_model"))
	                 ? cJSON_GetStringValue(get(m, "cpu_model"))
	                 : "");
	h = fnv1a(h, flags);
	num_text(get(m, "cores"), num, sizeof num);
	h = fnv1a(h, num);
	num_text(get(m, "threads"), num, sizeof num);
	h = fnv1a(h, num);
	num_text(get(m, "mem_bytes"), num, sizeof num);
	h = fnv1a(h, num);
	h = fnv1a(h, cJSON_GetStringValue(get(m, "hostname"))
	                 ? cJSON_GetStringValue(get(m, "hostname"))
	                 : "");
	snprintf(out, 20, "%016" PRIx64, h);
}

/* The model key: "sha256:HEX" when the file hash is recorded, else the spec. */
static void model_key(const cJSON *root, char *out, size_t len)
{
	const cJSON *model = get(root, "model");
	const char *sha = cJSON_GetStringValue(get(model, "sha256"));
	const char *spec = cJSON_GetStringValue(get(model, "spec"));

	if (sha && *sha)
		snprintf(out, len, "sha256:%s", sha);
	else if (spec && *spec)
		snprintf(out, len, "%s", spec);
	else if ((spec = cJSON_GetStringValue(get(get(root, "workload"), "model"))))
		snprintf(out, len, "%s", spec);
	else
		snprintf(out, len, "unknown");
}

static struct db_val jstr(const cJSON *o, const char *name)
{
	return DBV_TEXT(cJSON_GetStringValue(get(o, name)));
}

static struct db_val jnum(const cJSON *o, const char *name)
{
	const cJSON *v = get(o, name);

	return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? DBV_REAL(v->valuedouble) : DBV_NULL;
}

static struct db_val jint(const cJSON *o, const char *name)
{
	const cJSON *v = get(o, name);

	return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? DBV_INT((int64_t)v->valuedouble)
	                                                     : DBV_NULL;
}

static struct db_val jbool(const cJSON *o, const char *name)
{
	const cJSON *v = get(o, name);

	return cJSON_IsBool(v) ? DBV_INT(cJSON_IsTrue(v) ? 1 : 0) : DBV_NULL;
}

/* A stat's median (or a named field of it), NULL when the stat is null. */
static struct db_val jstat(const cJSON *o, const char *name, const char *field)
{
	return jnum(get(o, name), field);
}

/* ---- insert ----------------------------------------------------------------------------- */

/* Runs sql expecting "RETURNING id" or a SELECT of one id: *id, or 0 when no row came back. */
static int one_id(struct rpt_store *st, const char *sql, const struct db_val *p, int n, int64_t *id,
                  char *err, size_t errlen)
{
	struct db_rows rows;
	int rc = run_sql(st, sql, p, n, &rows, err, errlen);

	*id = 0;
	if (rc)
		return rc;
	if (rows.n_rows > 0 && rows.n_cols > 0 && !db_cell(&rows, 0, 0)->null)
		*id = db_cell(&rows, 0, 0)->i;
	db_rows_free(&rows);
	return 0;
}

struct put_ctx {
	const cJSON *root;
	const char *sha256, *path, *label, *document;
	int64_t run_id;
	bool inserted;
};

static int put_configs(struct rpt_store *st, struct put_ctx *x, char *err, size_t errlen)
{
	const cJSON *cfg;
	int idx = 0, rc;

	cJSON_ArrayForEach(cfg, get(x->root, "configs"))
	{
		const cJSON *sum = get(cfg, "summary"), *rep;
		const cJSON *dj = get(sum, "decode_j_per_token");
		int64_t cfg_id = 0;
		struct db_val p[] = {
		    DBV_INT(x->run_id),
		    DBV_INT(idx),
		    jint(cfg, "threads"),
		    jstr(cfg, "type"),
		    jint(cfg, "prompt_tokens"),
		    jint(cfg, "gen_tokens"),
		    DBV_INT(cJSON_GetArraySize(get(cfg, "reps"))),
		    jstr(cfg, "error"),
		    jstat(sum, "prefill_tok_s", "median"),
		    jstat(sum, "decode_tok_s", "median"),
		    jstat(sum, "decode_tok_s", "ci95_low"),
		    jstat(sum, "decode_tok_s", "ci95_high"),
		    jstat(sum, "ttft_ms", "median"),
		    jstat(dj, "net", "median"),
		    jstat(dj, "gross", "median"),
		    jstr(sum, "energy_source"),
		    jstr(sum, "energy_kind"),
		};
		int ridx = 0;

		if ((rc = one_id(
		         st,
		         "INSERT INTO configurations (run_id, idx, threads, type, prompt_tokens, "
		         "gen_tokens,"
		         " n_reps, error, prefill_tok_s, decode_tok_s, decode_tok_s_ci95_low,"
		         " decode_tok_s_ci95_high, ttft_ms, j_per_token, j_per_token_gross, "
		         "energy_source,"
		         " energy_kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
		         "RETURNING id",
		         p, (int)(sizeof p / sizeof p[0]), &cfg_id, err, errlen)))
			return rc;
		idx++;
		cJSON_ArrayForEach(rep, get(cfg, "reps"))
		{
			const cJSON *e;
			int64_t rep_id = 0;
			struct db_val q[] = {
			    DBV_INT(cfg_id),
			    jint(rep, "index"),
			    jbool(rep, "complete"),
			    jint(rep, "prompt_tokens"),
			    jint(rep, "gen_tokens"),
			    jnum(rep, "ttft_ns"),
			    jnum(rep, "prefill_ns"),
			    jnum(rep, "decode_ns"),
			    jnum(rep, "prefill_tok_s"),
			    jnum(rep, "decode_tok_s"),
			};

			if (q[1].t == DB_NULL)
				q[1] = DBV_INT(ridx);
			ridx++;
			if ((rc = one_id(st,
			                 "INSERT INTO repetitions (configuration_id, idx, "
			                 "complete, prompt_tokens,"
			                 " gen_tokens, ttft_ns, prefill_ns, decode_ns, "
			                 "prefill_tok_s, decode_tok_s)"
			                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
			                 q, (int)(sizeof q / sizeof q[0]), &rep_id, err, errlen)))
				return rc;
			cJSON_ArrayForEach(e, get(rep, "energy"))
			{
				struct db_val r[] = {DBV_INT(rep_id), DBV_TEXT(e->string),
				                     jstr(e, "kind"), jnum(e, "prefill_j"),
				                     jnum(e, "decode_j")};

				if (!cJSON_IsObject(e) || !e->string)
					continue;
				if ((rc = run_sql(st,
				                  "INSERT INTO energy (repetition_id, source, "
				                  "kind, prefill_j, decode_j)"
				                  " VALUES (?, ?, ?, ?, ?)",
				                  r, 5, NULL, err, errlen)))
					return rc;
			}
		}
	}
	return 0;
}

static int put_once(struct rpt_store *st, struct put_ctx *x, char *err, size_t errlen)
{
	const cJSON *root = x->root, *m = get(root, "machine"), *model = get(root, "model"),
	            *jb = get(root, "joulebench");
	const cJSON *src;
	char fp[20], flags[512], key[400], now[40];
	int64_t machine_id = 0, model_id = 0, existing = 0;
	int rc;

	x->inserted = false;
	x->run_id = 0;
	st->n_statements = 0;
	if ((rc = st->be->begin_write(st->conn, err, errlen)))
		return rc;
	st->in_put = true;
	{
		struct db_val p[] = {DBV_TEXT(x->sha256)};

		if ((rc = one_id(st, "SELECT id FROM runs WHERE result_sha256 = ?", p, 1, &existing,
		                 err, errlen)))
			goto fail;
	}
	if (existing) {
		/* already stored: at most the label is new (a run stored before CI labelled it) */
		struct db_val p[] = {DBV_TEXT(x->label), DBV_INT(existing)};

		x->run_id = existing;
		if (x->label &&
		    ((rc = run_sql(st, "UPDATE runs SET label = ? WHERE id = ? AND label IS NULL",
		                   p, 2, NULL, err, errlen)) ||
		     (rc = run_sql(st, "COMMIT", NULL, 0, NULL, err, errlen))))
			goto fail;
		if (x->label) {
			st->in_put = false;
			return 0;
		}
		rc = 0;
		goto fail; /* nothing to write: roll back the empty transaction */
	}
	utc_now(now, sizeof now);
	machine_fingerprint(m, fp, flags, sizeof flags);
	{
		struct db_val p[] = {
		    DBV_TEXT(fp),          jstr(m, "hostname"),    jstr(m, "cpu_model"),
		    jstr(m, "cpu_vendor"), jint(m, "cores"),       jint(m, "threads"),
		    jnum(m, "mem_bytes"),  DBV_TEXT(flags),        jstr(m, "os"),
		    jstr(m, "kernel"),     jstr(m, "virtualized"), DBV_TEXT(now),
		};

		if ((rc = one_id(st,
		                 "INSERT INTO machines (fingerprint, hostname, cpu_model, "
		                 "cpu_vendor, cores, threads,"
		                 " mem_bytes, simd_flags, os, kernel, virtualized, first_seen_utc)"
		                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		                 " ON CONFLICT (fingerprint) DO UPDATE SET fingerprint = "
		                 "excluded.fingerprint"
		                 " RETURNING id",
		                 p, (int)(sizeof p / sizeof p[0]), &machine_id, err, errlen)))
			goto fail;
	}
	model_key(root, key, sizeof key);
	{
		struct db_val p[] = {
		    DBV_TEXT(key),           jstr(model, "spec"),
		    jstr(model, "name"),     jstr(model, "shape"),
		    jstr(model, "arch"),     jstr(model, "type"),
		    jstr(model, "sha256"),   jbool(model, "synthetic"),
		    jnum(model, "n_params"), jnum(model, "weight_bytes"),
		};

		if ((rc = one_id(st,
		                 "INSERT INTO models (model_key, spec, name, shape, arch, type, "
		                 "sha256, synthetic,"
		                 " n_params, weight_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		                 " ON CONFLICT (model_key) DO UPDATE SET model_key = "
		                 "excluded.model_key RETURNING id",
		                 p, (int)(sizeof p / sizeof p[0]), &model_id, err, errlen)))
			goto fail;
	}
	{
		const cJSON *complete = get(root, "complete");
		struct db_val p[] = {
		    DBV_TEXT(x->sha256),
		    DBV_TEXT(x->path),
		    DBV_TEXT(x->label),
		    jstr(root, "kind"),
		    jstr(root, "created_utc"),
		    DBV_TEXT(now),
		    jstr(jb, "version"),
		    jstr(jb, "commit"),
		    jstr(jb, "simd"),
		    jstr(get(root, "workload"), "name"),
		    DBV_INT(cJSON_IsTrue(complete) ? 1 : 0),
		    jstr(root, "incomplete_reason"),
		    jstr(root, "primary_source"),
		    DBV_INT(machine_id),
		    DBV_INT(model_id),
		    DBV_TEXT(x->document),
		};

		if ((rc = one_id(st,
		                 "INSERT INTO runs (result_sha256, result_path, label, kind, "
		                 "created_utc, stored_utc,"
		                 " jb_version, jb_commit, simd, workload, complete, "
		                 "incomplete_reason, primary_source,"
		                 " machine_id, model_id, document)"
		                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		                 " ON CONFLICT (result_sha256) DO NOTHING RETURNING id",
		                 p, (int)(sizeof p / sizeof p[0]), &x->run_id, err, errlen)))
			goto fail;
	}
	if (!x->run_id) {
		/* another process stored the same result meanwhile */
		struct db_val p[] = {DBV_TEXT(x->sha256)};

		rollback(st);
		st->in_put = false;
		return one_id(st, "SELECT id FROM runs WHERE result_sha256 = ?", p, 1, &x->run_id,
		              err, errlen);
	}
	cJSON_ArrayForEach(src, get(root, "energy_sources"))
	{
		struct db_val p[] = {DBV_INT(x->run_id),  jstr(src, "id"),     jstr(src, "backend"),
		                     jstr(src, "domain"), jstr(src, "covers"), jstr(src, "kind")};

		if (!p[1].s)
			continue;
		if ((rc = run_sql(
		         st,
		         "INSERT INTO energy_sources (run_id, source, backend, domain, covers, "
		         "kind)"
		         " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, source) DO NOTHING",
		         p, 6, NULL, err, errlen)))
			goto fail;
	}
	if ((rc = put_configs(st, x, err, errlen)))
		goto fail;
	if ((rc = run_sql(st, "COMMIT", NULL, 0, NULL, err, errlen)))
		goto fail;
	st->in_put = false;
	x->inserted = true;
	return 0;
fail:
	rollback(st);
	st->in_put = false;
	return rc;
}

int rpt_store_put(struct rpt_store *st, const char *text, const char *sha256, const char *path,
                  const char *label, int64_t *run_id, bool *inserted, char *err, size_t errlen)
{
	struct rpt_result *r = NULL;
	struct put_ctx x;
	cJSON *doc = NULL;
	char *document = NULL;
	int rc;

	*run_id = 0;
	*inserted = false;
	if ((rc = rpt_result_parse(text, path, &r, err, errlen)))
		return rc;
	if (strcmp(r->kind, "run")) {
		snprintf(err, errlen, "%s: a '%s' result: the store holds run results", path,
		         r->kind);
		rpt_result_free(r);
		return -EINVAL;
	}
	/* the stored document: everything but the raw timelines, which stay in result.json */
	doc = cJSON_Duplicate(r->json, 1);
	if (doc) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "samples");
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "phases");
		document = cJSON_PrintUnformatted(doc);
	}
	if (!document) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	memset(&x, 0, sizeof x);
	x.root = r->json;
	x.sha256 = sha256;
	x.path = path;
	x.label = label && *label ? label : NULL;
	x.document = document;
	rc = DB_RETRY;
	for (int a = 0; a < MAX_ATTEMPTS && rc == DB_RETRY; a++) {
		rc = put_once(st, &x, err, errlen);
		if (rc == DB_RETRY)
			backoff(a);
	}
	if (rc == DB_RETRY) {
		snprintf(err, errlen, "the database stayed busy (%d attempts)", MAX_ATTEMPTS);
		rc = -EBUSY;
	}
	if (!rc) {
		*run_id = x.run_id;
		*inserted = x.inserted;
	}
out:
	free(document);
	cJSON_Delete(doc);
	rpt_result_free(r);
	return rc;
}

/* ---- queries ---------------------------------------------------------------------------- */

int rpt_store_load_run(struct rpt_store *st, int64_t run_id, const char *name,
                       struct rpt_result **out, char *err, size_t errlen)
{
	struct db_val p[] = {DBV_INT(run_id)};
	struct db_rows rows;
	int rc;

	*out = NULL;
	if ((rc = run_sql(st, "SELECT document FROM runs WHERE id = ?", p, 1, &rows, err, errlen)))
		return rc < 0 ? rc : -EBUSY;
	if (rows.n_rows == 0 || db_cell(&rows, 0, 0)->null) {
		snprintf(err, errlen, "%s: no run %" PRId64 " in the database", name, run_id);
		db_rows_free(&rows);
		return -ENOENT;
	}
	rc = rpt_result_parse(db_cell(&rows, 0, 0)->s, name, out, err, errlen);
	db_rows_free(&rows);
	return rc;
}

static bool hex_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n < 7 || n > 40)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int rpt_store_find_labelled(struct rpt_store *st, const char *label, const struct rpt_result *like,
                            bool any_machine, int64_t *run_id, char *err, size_t errlen)
{
	char fp[20], flags[512], key[400], pattern[64];
	const cJSON *root = like->json;
	int rc;

	*run_id = 0;
	machine_fingerprint(get(root, "machine"), fp, flags, sizeof flags);
	model_key(root, key, sizeof key);
	/* a commit prefix matches the commits it starts; anything else matches exactly */
	snprintf(pattern, sizeof pattern, "%s%%", hex_prefix(label) ? label : "");
	{
		struct db_val p[] = {DBV_TEXT(label),
		                     DBV_TEXT(label),
		                     DBV_TEXT(hex_prefix(label) ? pattern : NULL),
		                     DBV_TEXT(key),
		                     DBV_INT(any_machine ? 1 : 0),
		                     DBV_TEXT(fp)};

		rc = one_id(st,
		            "SELECT r.id FROM runs r JOIN machines m ON m.id = r.machine_id"
		            " JOIN models mo ON mo.id = r.model_id"
		            " WHERE (r.label = ? OR r.jb_commit = ? OR r.jb_commit LIKE ?)"
		            " AND mo.model_key = ? AND (? = 1 OR m.fingerprint = ?)"
		            " ORDER BY r.created_utc DESC, r.id DESC LIMIT 1",
		            p, 6, run_id, err, errlen);
	}
	if (rc)
		return rc < 0 ? rc : -EBUSY;
	if (!*run_id) {
		snprintf(err, errlen,
		         "no run labelled '%s' of %s%s%s%s%s and model %s in the database (store "
		         "one with "
		         "`joulebench run --label %s` or `joulebench import --label %s FILE`)",
		         label, any_machine ? "any machine" : "this machine (",
		         any_machine ? "" : like->hostname, any_machine ? "" : ", fingerprint ",
		         any_machine ? "" : fp, any_machine ? "" : ")", key, label, label);
		return -ENOENT;
	}
	return 0;
}

int rpt_store_latest_of_machine(struct rpt_store *st, const char *machine, const char *model,
                                int64_t model_id, int64_t *run_id, int64_t *model_id_out, char *err,
                                size_t errlen)
{
	char prefix[64];
	struct db_rows rows;
	int rc;

	*run_id = 0;
	snprintf(prefix, sizeof prefix, "%.40s%%", machine);
	for (char *c = prefix; *c && *c != '%'; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			snprintf(prefix, sizeof prefix, "-"); /* not a fingerprint prefix */
	{
		struct db_val p[] = {DBV_TEXT(machine), DBV_TEXT(prefix), DBV_INT(model_id),
		                     DBV_INT(model_id), DBV_TEXT(model),  DBV_TEXT(model),
		                     DBV_TEXT(model),   DBV_TEXT(model),  DBV_TEXT(model)};

		rc = run_sql(
		    st,
		    "SELECT r.id, r.model_id FROM runs r JOIN machines m ON m.id = r.machine_id"
		    " JOIN models mo ON mo.id = r.model_id"
		    " WHERE (m.hostname = ? OR m.fingerprint LIKE ?)"
		    " AND (? = 0 OR r.model_id = ?)"
		    " AND (? IS NULL OR mo.name = ? OR mo.shape = ? OR mo.spec = ? OR mo.model_key "
		    "= ?)"
		    " ORDER BY r.created_utc DESC, r.id DESC LIMIT 1",
		    p, 9, &rows, err, errlen);
	}
	if (rc)
		return rc < 0 ? rc : -EBUSY;
	if (rows.n_rows == 0) {
		db_rows_free(&rows);
		snprintf(err, errlen, "no run of machine '%s'%s in the database", machine,
			 model_id || model ? " for the same model" : "");
		return -ENOENT;
	}
	*run_id = db_cell(&rows, 0, 0)->i;
	if (model_id_out)
		*model_id_out = db_cell(&rows, 0, 1)->i;
	db_rows_free(&rows);
	return 0;
}

static const char *const metric_names[] = {"decode_tok_s", "prefill_tok_s", "j_per_token",
                                           "ttft_ms"};
static const char *const metric_cols[] = {"c.decode_tok_s", "c.prefill_tok_s", "c.j_per_token",
                                          "c.ttft_ms"};

int rpt_history_metric_parse(const char *name, enum rpt_history_metric *m)
{
	for (int k = 0; k < 4; k++)
		if (!strcmp(name, metric_names[k])) {
			*m = (enum rpt_history_metric)k;
			return 0;
		}
	return -EINVAL;
}

const char *rpt_history_metric_name(enum rpt_history_metric m)
{
	return (unsigned)m < 4 ? metric_names[m] : "?";
}

int rpt_store_history(struct rpt_store *st, const struct rpt_history_query *q,
                      struct rpt_history_row **rows_out, int *n_out, char *err, size_t errlen)
{
	char sql[2048], prefix[64];
	struct db_rows rows;
	struct rpt_history_row *out = NULL;
	int rc;

	*rows_out = NULL;
	*n_out = 0;
	if ((unsigned)q->metric >= 4) {
		snprintf(err, errlen, "unknown metric");
		return -EINVAL;
	}
	prefix[0] = '\0';
	if (q->machine) {
		snprintf(prefix, sizeof prefix, "%.40s%%", q->machine);
		for (char *c = prefix; *c && *c != '%'; c++)
			if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
				snprintf(prefix, sizeof prefix, "-");
	}
	/* the metric picks one of four fixed column names; every value is a parameter */
	snprintf(
	    sql, sizeof sql,
	    "SELECT r.id, r.created_utc, m.hostname, m.fingerprint, mo.name, mo.spec, r.label, "
	    "r.jb_commit,"
	    " c.threads, c.type, %s, c.energy_kind"
	    " FROM configurations c JOIN runs r ON r.id = c.run_id"
	    " JOIN machines m ON m.id = r.machine_id LEFT JOIN models mo ON mo.id = r.model_id"
	    " WHERE (? IS NULL OR m.hostname = ? OR m.fingerprint LIKE ?)"
	    " AND (? IS NULL OR mo.name = ? OR mo.shape = ? OR mo.spec = ? OR mo.model_key = ?)"
	    " AND (? IS NULL OR r.created_utc >= ?)"
	    " AND (? IS NULL OR r.label = ?)"
	    " ORDER BY r.created_utc, r.id, c.idx",
	    metric_cols[q->metric]);
	{
		struct db_val p[] = {
		    DBV_TEXT(q->machine),
		    DBV_TEXT(q->machine),
		    DBV_TEXT(q->machine ? prefix : NULL),
		    DBV_TEXT(q->model),
		    DBV_TEXT(q->model),
		    DBV_TEXT(q->model),
		    DBV_TEXT(q->model),
		    DBV_TEXT(q->model),
		    DBV_TEXT(q->since),
		    DBV_TEXT(q->since),
		    DBV_TEXT(q->label),
		    DBV_TEXT(q->label),
		};

		rc = run_sql(st, sql, p, (int)(sizeof p / sizeof p[0]), &rows, err, errlen);
	}
	if (rc)
		return rc < 0 ? rc : -EBUSY;
	out = calloc((size_t)rows.n_rows + 1, sizeof *out);
	if (!out) {
		db_rows_free(&rows);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < rows.n_rows; i++) {
		struct rpt_history_row *h = &out[i];
		const struct db_cell *c;

#define CELL_STR(col, field)                                                                       \
	do {                                                                                       \
		c = db_cell(&rows, i, col);                                                        \
		snprintf(h->field, sizeof h->field, "%s", c->null ? "" : c->s);                    \
	} while (0)
		h->run_id = db_cell(&rows, i, 0)->i;
		CELL_STR(1, created_utc);
		CELL_STR(2, hostname);
		CELL_STR(3, fingerprint);
		CELL_STR(4, model);
		if (!h->model[0])
			CELL_STR(5, model);
		CELL_STR(6, label);
		CELL_STR(7, commit);
		h->threads = (int)db_cell(&rows, i, 8)->i;
		CELL_STR(9, type);
		c = db_cell(&rows, i, 10);
		h->ok = !c->null;
		h->value = c->null ? NAN : c->d;
		CELL_STR(11, energy_kind);
#undef CELL_STR
	}
	*rows_out = out;
	*n_out = rows.n_rows;
	db_rows_free(&rows);
	return 0;
}
