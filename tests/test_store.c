/*
 * tests/test_store.c — the results store on both backends: SQLite (a temporary file) and
 * PostgreSQL (the throwaway server scripts/run-tests.sh starts and names in
 * $JOULEBENCH_TEST_PG_URL; skipped with the reason when there is none).
 *
 * 1,000 generated results read back identical to their JSON (the stored document and every
 * normalised column); importing twice stores once; two processes importing at once lose
 * nothing; a process killed inside the transaction leaves no row behind; hostile strings
 * round-trip; the schema is versioned; regress against db:LABEL gives the verdict of the
 * two-file form; passwords never reach messages.
 */
#include "helpers/testutil.h"

#include "bench/sha256.h"
#include "reports/reports.h"
#include "reports/store_db.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct env {
	const char *name;
	bool pg;
	char *tmp;           /* a temporary folder for result files (and the SQLite file) */
	char location[1024]; /* the store */
	void *conn;          /* a direct connection for checks */
	const struct db_backend *be;
};

static struct env sqlite_env = {.name = "sqlite", .pg = false};
static struct env pg_env = {.name = "postgresql", .pg = true};

static const char *const all_tables[] = {"energy",         "repetitions",   "configurations",
                                         "energy_sources", "runs",          "models",
                                         "machines",       "schema_version"};

static int env_setup(void **state)
{
	struct env *e = *state;
	char err[RPT_ERR_LEN];

	e->tmp = tu_mkdtemp();
	if (!e->tmp)
		return -1;
	if (e->pg) {
		const char *url = getenv("JOULEBENCH_TEST_PG_URL");

		e->be = &db_postgresql;
		if (!url || !*url)
			return 0; /* each test skips */
		snprintf(e->location, sizeof e->location, "%s", url);
		if (e->be->open(url, &e->conn, err, sizeof err)) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		/* a fresh schema for every test */
		for (size_t k = 0; k < sizeof all_tables / sizeof all_tables[0]; k++) {
			char sql[128];

			snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s CASCADE", all_tables[k]);
			if (e->be->exec(e->conn, sql, NULL, 0, NULL, err, sizeof err)) {
				fprintf(stderr, "%s\n", err);
				return -1;
			}
		}
	} else {
		e->be = &db_sqlite;
		snprintf(e->location, sizeof e->location, "%s/store.sqlite", e->tmp);
		if (e->be->open(e->location, &e->conn, err, sizeof err)) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
	}
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;

	if (e->conn)
		e->be->close(e->conn);
	e->conn = NULL;
	if (e->tmp) {
		tu_rmtree(e->tmp);
		free(e->tmp);
		e->tmp = NULL;
	}
	e->location[0] = '\0';
	return 0;
}

#define NEED_BACKEND(e)                                                                            \
	do {                                                                                       \
		if (!(e)->location[0])                                                             \
			TU_SKIP("no PostgreSQL test server: JOULEBENCH_TEST_PG_URL is not set "    \
			        "(scripts/run-tests.sh starts one when the PostgreSQL server is "  \
			        "installed)");                                                     \
	} while (0)

static struct rpt_store *open_store(const struct env *e)
{
	struct rpt_store *st = NULL;
	char err[RPT_ERR_LEN] = "";

	if (rpt_store_open(e->location, &st, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
	return st;
}

/* ---- generated results -------------------------------------------------------------------- */

/* A deterministic double with all 17 digits in use. */
static double val(unsigned i, unsigned k, double scale)
{
	uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15ULL + k * 0xbf58476d1ce4e5b9ULL + 1;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 29;
	return scale * (0.5 + (double)(x >> 11) / 9007199254740992.0);
}

static cJSON *stat_obj(unsigned i, unsigned k, double scale)
{
	cJSON *s = cJSON_CreateObject();
	double m = val(i, k, scale);

	cJSON_AddNumberToObject(s, "n", 3);
	cJSON_AddNumberToObject(s, "median", m);
	cJSON_AddNumberToObject(s, "mean", m * 1.01);
	cJSON_AddNumberToObject(s, "sd", m * 0.02);
	cJSON_AddNumberToObject(s, "ci95_low", m * 0.97);
	cJSON_AddNumberToObject(s, "ci95_high", m * 1.03);
	cJSON_AddNumberToObject(s, "min", m * 0.95);
	cJSON_AddNumberToObject(s, "max", m * 1.05);
	return s;
}

/* Result number i: 5 machines, 4 models, 2 configurations of 3 repetitions, 1 or 2 energy
 * sources; `hostile` (or NULL) goes into every free-text field. */
static cJSON *gen_result(unsigned i, const char *hostile)
{
	static const char *const shapes[] = {"stories15m", "stories110m", "bench-1b", "llama-2-7b"};
	static const char *const types[] = {"q4_0", "q8_0"};
	cJSON *r = cJSON_CreateObject(), *o, *a, *cfgs;
	char buf[256];
	unsigned mach = i % 5, model = (i / 5) % 4;
	bool two_sources = i % 3 == 0;

	cJSON_AddNumberToObject(r, "schema_version", 1);
	cJSON_AddStringToObject(r, "kind", "run");
	cJSON_AddBoolToObject(r, "complete", i % 17 != 0);
	if (i % 17 == 0)
		cJSON_AddStringToObject(r, "incomplete_reason",
		                        hostile ? hostile : "interrupted by SIGINT");
	else
		cJSON_AddNullToObject(r, "incomplete_reason");
	snprintf(buf, sizeof buf, "2026-%02u-%02uT%02u:%02u:%02uZ", 1 + i / 100 % 12,
	         1 + i / 4 % 28, i % 24, i * 7 % 60, i * 13 % 60);
	cJSON_AddStringToObject(r, "created_utc", buf);
	o = cJSON_AddObjectToObject(r, "joulebench");
	cJSON_AddStringToObject(o, "version", "0.1.0");
	snprintf(buf, sizeof buf, "%07x%033x", 0xc0ffee0 + i % 7, i);
	cJSON_AddStringToObject(o, "commit", buf);
	cJSON_AddStringToObject(o, "simd", "avx2+fma");
	o = cJSON_AddObjectToObject(r, "machine");
	snprintf(buf, sizeof buf, "%s%s-%u", hostile ? hostile : "", "host", mach);
	cJSON_AddStringToObject(o, "hostname", buf);
	snprintf(buf, sizeof buf, "CPU model %u%s", mach, hostile ? hostile : "");
	cJSON_AddStringToObject(o, "cpu_model", buf);
	cJSON_AddNumberToObject(o, "cores", 2 + mach);
	cJSON_AddNumberToObject(o, "threads", 4 + 2 * mach);
	cJSON_AddNumberToObject(o, "mem_bytes", 8589934592.0 * (1 + mach));
	cJSON_AddStringToObject(o, "os", "Debian GNU/Linux 12");
	cJSON_AddStringToObject(o, "kernel", "6.1.0");
	cJSON_AddNullToObject(o, "virtualized");
	a = cJSON_AddArrayToObject(o, "simd_flags");
	cJSON_AddItemToArray(a, cJSON_CreateString("avx2"));
	cJSON_AddItemToArray(a, cJSON_CreateString("fma"));
	o = cJSON_AddObjectToObject(r, "workload");
	cJSON_AddStringToObject(o, "name", hostile ? hostile : "default");
	cJSON_AddNumberToObject(o, "prompt_tokens", 64);
	cJSON_AddNumberToObject(o, "gen_tokens", 32);
	cJSON_AddNumberToObject(o, "reps", 3);
	o = cJSON_AddObjectToObject(r, "model");
	snprintf(buf, sizeof buf, "synth:%s:q4_0", shapes[model]);
	cJSON_AddStringToObject(o, "spec", buf);
	if (model % 2) {
		snprintf(buf, sizeof buf, "%064x", 0xabc0 + model);
		cJSON_AddStringToObject(o, "sha256", buf);
	} else {
		cJSON_AddNullToObject(o, "sha256");
		cJSON_AddStringToObject(o, "sha256_reason", "synthetic model held in memory");
	}
	cJSON_AddStringToObject(o, "name", shapes[model]);
	cJSON_AddStringToObject(o, "shape", shapes[model]);
	cJSON_AddStringToObject(o, "arch", "llama");
	cJSON_AddBoolToObject(o, "synthetic", true);
	cJSON_AddNumberToObject(o, "n_params", 1e7 * (1 + model));
	cJSON_AddNumberToObject(o, "weight_bytes", 6e6 * (1 + model));
	a = cJSON_AddArrayToObject(r, "energy_sources");
	o = cJSON_CreateObject();
	cJSON_AddItemToArray(a, o);
	cJSON_AddStringToObject(o, "id", "estimate:cpu");
	cJSON_AddStringToObject(o, "backend", "estimate");
	cJSON_AddStringToObject(o, "domain", "cpu");
	cJSON_AddStringToObject(o, "covers", hostile ? hostile : "CPU (modelled)");
	cJSON_AddStringToObject(o, "kind", "estimated");
	cJSON_AddStringToObject(o, "model", "TDP model");
	if (two_sources) {
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(a, o);
		cJSON_AddStringToObject(o, "id", "powercap:package-0");
		cJSON_AddStringToObject(o, "backend", "powercap");
		cJSON_AddStringToObject(o, "domain", "package-0");
		cJSON_AddStringToObject(o, "covers", "CPU package");
		cJSON_AddStringToObject(o, "kind", "measured");
		cJSON_AddNullToObject(o, "model");
	}
	cJSON_AddStringToObject(r, "primary_source",
	                        two_sources ? "powercap:package-0" : "estimate:cpu");
	cfgs = cJSON_AddArrayToObject(r, "configs");
	for (unsigned c = 0; c < 2; c++) {
		cJSON *cfg = cJSON_CreateObject(), *reps, *sum, *pair;

		cJSON_AddItemToArray(cfgs, cfg);
		cJSON_AddNumberToObject(cfg, "threads", 1 + c);
		cJSON_AddStringToObject(cfg, "type", types[(i + c) % 2]);
		cJSON_AddNumberToObject(cfg, "prompt_tokens", 64);
		cJSON_AddNumberToObject(cfg, "gen_tokens", 32);
		cJSON_AddNullToObject(cfg, "error");
		reps = cJSON_AddArrayToObject(cfg, "reps");
		for (unsigned k = 0; k < 3; k++) {
			cJSON *rep = cJSON_CreateObject(), *en, *src;

			cJSON_AddItemToArray(reps, rep);
			cJSON_AddNumberToObject(rep, "index", k);
			cJSON_AddBoolToObject(rep, "complete", true);
			cJSON_AddNumberToObject(rep, "prompt_tokens", 64);
			cJSON_AddNumberToObject(rep, "gen_tokens", 32);
			cJSON_AddNumberToObject(rep, "ttft_ns",
			                        floor(val(i, 100 + c * 10 + k, 1e8)));
			cJSON_AddNumberToObject(rep, "prefill_ns",
			                        floor(val(i, 200 + c * 10 + k, 1e8)));
			cJSON_AddNumberToObject(rep, "decode_ns",
			                        floor(val(i, 300 + c * 10 + k, 4e8)));
			cJSON_AddNumberToObject(rep, "prefill_tok_s",
			                        val(i, 400 + c * 10 + k, 400));
			cJSON_AddNumberToObject(rep, "decode_tok_s", val(i, 500 + c * 10 + k, 100));
			cJSON_AddItemToObject(rep, "itl_ns", cJSON_CreateArray());
			en = cJSON_AddObjectToObject(rep, "energy");
			src = cJSON_AddObjectToObject(en, "estimate:cpu");
			cJSON_AddNumberToObject(src, "prefill_j", val(i, 600 + c * 10 + k, 2));
			cJSON_AddNumberToObject(src, "decode_j", val(i, 700 + c * 10 + k, 16));
			cJSON_AddStringToObject(src, "kind", "estimated");
			if (two_sources) {
				src = cJSON_AddObjectToObject(en, "powercap:package-0");
				cJSON_AddNullToObject(src, "prefill_j");
				cJSON_AddStringToObject(src, "prefill_j_reason", "too short");
				cJSON_AddNumberToObject(src, "decode_j",
				                        val(i, 800 + c * 10 + k, 12));
				cJSON_AddStringToObject(src, "kind", "measured");
			}
		}
		sum = cJSON_AddObjectToObject(cfg, "summary");
		cJSON_AddNumberToObject(sum, "n", 3);
		cJSON_AddItemToObject(sum, "prefill_tok_s", stat_obj(i, 900 + c, 400));
		cJSON_AddItemToObject(sum, "decode_tok_s", stat_obj(i, 910 + c, 100));
		cJSON_AddItemToObject(sum, "ttft_ms", stat_obj(i, 920 + c, 160));
		pair = cJSON_AddObjectToObject(sum, "decode_j_per_token");
		cJSON_AddItemToObject(pair, "gross", stat_obj(i, 930 + c, 0.6));
		if (i % 11 == 0) {
			cJSON_AddNullToObject(pair, "net");
			cJSON_AddStringToObject(pair, "net_reason", "no idle measurement");
		} else {
			cJSON_AddItemToObject(pair, "net", stat_obj(i, 940 + c, 0.5));
		}
		cJSON_AddStringToObject(sum, "energy_source",
		                        two_sources ? "powercap:package-0" : "estimate:cpu");
		cJSON_AddStringToObject(sum, "energy_kind", two_sources ? "measured" : "estimated");
	}
	/* the raw timelines, which stay in result.json only */
	o = cJSON_AddObjectToObject(r, "samples");
	o = cJSON_AddObjectToObject(o, "estimate:cpu");
	a = cJSON_AddArrayToObject(o, "t_ns");
	for (int k = 0; k < 20; k++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(k * 5e7));
	a = cJSON_AddArrayToObject(r, "phases");
	cJSON_AddItemToArray(a, cJSON_CreateObject());
	return r;
}

struct gen_file {
	char path[1100];
	char sha256[65];
	char *text;
	cJSON *doc;
};

/* Writes result i as a file (pretty-printed, as the runner does) and hashes it. */
static void gen_file(const struct env *e, unsigned i, const char *hostile, struct gen_file *g)
{
	struct bench_sha256 h;
	cJSON *made = gen_result(i, hostile);

	g->text = cJSON_Print(made);
	cJSON_Delete(made);
	assert_non_null(g->text);
	/* the file is the record: compare against what it says (cJSON prints 15 digits when they
	 * come within an epsilon of the value) */
	g->doc = cJSON_Parse(g->text);
	assert_non_null(g->doc);
	snprintf(g->path, sizeof g->path, "%s/r%04u.json", e->tmp, i);
	assert_int_equal(tu_write_file(g->path, g->text, strlen(g->text)), 0);
	bench_sha256_init(&h);
	bench_sha256_update(&h, g->text, strlen(g->text));
	bench_sha256_final(&h, g->sha256);
}

static void gen_free(struct gen_file *g)
{
	free(g->text);
	cJSON_Delete(g->doc);
	memset(g, 0, sizeof *g);
}

static void put_ok(struct rpt_store *st, const struct gen_file *g, const char *label,
                   bool expect_new, int64_t *id_out)
{
	char err[RPT_ERR_LEN] = "";
	int64_t id = 0;
	bool added = false;
	int rc =
	    rpt_store_put(st, g->text, g->sha256, g->path, label, &id, &added, err, sizeof err);

	if (rc)
		fprintf(stderr, "put %s: %s\n", g->path, err);
	assert_int_equal(rc, 0);
	assert_true(id > 0);
	assert_int_equal(added, expect_new);
	if (id_out)
		*id_out = id;
}

/* ---- direct checks through a separate connection ------------------------------------------ */

static int64_t count_rows(const struct env *e, const char *table)
{
	char sql[128], err[RPT_ERR_LEN] = "";
	struct db_rows rows;
	int64_t n;

	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", table);
	if (e->be->exec(e->conn, sql, NULL, 0, &rows, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
	n = db_cell(&rows, 0, 0)->i;
	db_rows_free(&rows);
	return n;
}

static void counts(const struct env *e, int64_t out[7])
{
	for (int k = 0; k < 7; k++)
		out[k] = count_rows(e, all_tables[k]);
}

static void query(const struct env *e, const char *sql, const struct db_val *p, int n,
                  struct db_rows *rows)
{
	char err[RPT_ERR_LEN] = "";

	if (e->be->exec(e->conn, sql, p, n, rows, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* A number of the JSON, or NAN when null/absent, against a cell (NULL ↔ NAN). */
static void same_num(const cJSON *v, const struct db_cell *c, const char *what)
{
	if (!cJSON_IsNumber(v)) {
		if (!c->null)
			fprintf(stderr, "%s: expected NULL, got %s\n", what, c->s);
		assert_true(c->null);
		return;
	}
	if (c->null || c->d != v->valuedouble)
		fprintf(stderr, "%s: expected %.17g, got %s\n", what, v->valuedouble,
		        c->null ? "NULL" : c->s);
	assert_false(c->null);
	assert_true(c->d == v->valuedouble);
}

static void same_str(const cJSON *v, const struct db_cell *c, const char *what)
{
	if (!cJSON_IsString(v)) {
		assert_true(c->null);
		return;
	}
	if (c->null || strcmp(c->s, v->valuestring))
		fprintf(stderr, "%s: expected '%s', got '%s'\n", what, v->valuestring,
		        c->null ? "NULL" : c->s);
	assert_false(c->null);
	assert_string_equal(c->s, v->valuestring);
}

/* Everything stored for one result equals its JSON: the document (minus the raw timelines) and
 * every normalised column. */
static void check_result(const struct env *e, struct rpt_store *st, const struct gen_file *g)
{
	struct db_val p[] = {DBV_TEXT(g->sha256)};
	struct db_rows rows;
	struct rpt_result *back = NULL;
	char err[RPT_ERR_LEN] = "";
	const cJSON *doc = g->doc, *m = get(doc, "machine"), *model = get(doc, "model");
	cJSON *expect;
	int64_t run_id;
	int row = 0;

	query(
	    e,
	    "SELECT r.id, r.created_utc, r.jb_commit, r.complete, r.incomplete_reason, "
	    "r.primary_source,"
	    " r.result_path, r.workload, m.hostname, m.cpu_model, m.cores, m.threads, m.mem_bytes,"
	    " mo.spec, mo.sha256, mo.n_params, mo.weight_bytes"
	    " FROM runs r JOIN machines m ON m.id = r.machine_id JOIN models mo ON mo.id = "
	    "r.model_id"
	    " WHERE r.result_sha256 = ?",
	    p, 1, &rows);
	assert_int_equal(rows.n_rows, 1);
	run_id = db_cell(&rows, 0, 0)->i;
	same_str(get(doc, "created_utc"), db_cell(&rows, 0, 1), "created_utc");
	same_str(get(get(doc, "joulebench"), "commit"), db_cell(&rows, 0, 2), "commit");
	assert_int_equal(db_cell(&rows, 0, 3)->i, cJSON_IsTrue(get(doc, "complete")) ? 1 : 0);
	same_str(get(doc, "incomplete_reason"), db_cell(&rows, 0, 4), "incomplete_reason");
	same_str(get(doc, "primary_source"), db_cell(&rows, 0, 5), "primary_source");
	assert_string_equal(db_cell(&rows, 0, 6)->s, g->path);
	same_str(get(get(doc, "workload"), "name"), db_cell(&rows, 0, 7), "workload");
	same_str(get(m, "hostname"), db_cell(&rows, 0, 8), "hostname");
	same_str(get(m, "cpu_model"), db_cell(&rows, 0, 9), "cpu_model");
	same_num(get(m, "cores"), db_cell(&rows, 0, 10), "cores");
	same_num(get(m, "threads"), db_cell(&rows, 0, 11), "threads");
	same_num(get(m, "mem_bytes"), db_cell(&rows, 0, 12), "mem_bytes");
	same_str(get(model, "spec"), db_cell(&rows, 0, 13), "model.spec");
	same_str(get(model, "sha256"), db_cell(&rows, 0, 14), "model.sha256");
	same_num(get(model, "n_params"), db_cell(&rows, 0, 15), "n_params");
	same_num(get(model, "weight_bytes"), db_cell(&rows, 0, 16), "weight_bytes");
	db_rows_free(&rows);

	/* configurations with their summary medians */
	{
		struct db_val q[] = {DBV_INT(run_id)};
		const cJSON *cfg;

		query(e,
		      "SELECT threads, type, prefill_tok_s, decode_tok_s, ttft_ms, j_per_token, "
		      "j_per_token_gross,"
		      " energy_kind, decode_tok_s_ci95_low FROM configurations WHERE run_id = ? "
		      "ORDER BY idx",
		      q, 1, &rows);
		assert_int_equal(rows.n_rows, cJSON_GetArraySize(get(doc, "configs")));
		cJSON_ArrayForEach(cfg, get(doc, "configs"))
		{
			const cJSON *sum = get(cfg, "summary"),
			            *dj = get(sum, "decode_j_per_token");

			same_num(get(cfg, "threads"), db_cell(&rows, row, 0), "threads");
			same_str(get(cfg, "type"), db_cell(&rows, row, 1), "type");
			same_num(get(get(sum, "prefill_tok_s"), "median"), db_cell(&rows, row, 2),
			         "prefill_tok_s");
			same_num(get(get(sum, "decode_tok_s"), "median"), db_cell(&rows, row, 3),
			         "decode_tok_s");
			same_num(get(get(sum, "ttft_ms"), "median"), db_cell(&rows, row, 4),
			         "ttft_ms");
			same_num(get(get(dj, "net"), "median"), db_cell(&rows, row, 5),
			         "j_per_token");
			same_num(get(get(dj, "gross"), "median"), db_cell(&rows, row, 6),
			         "j_per_token_gross");
			same_str(get(sum, "energy_kind"), db_cell(&rows, row, 7), "energy_kind");
			same_num(get(get(sum, "decode_tok_s"), "ci95_low"), db_cell(&rows, row, 8),
			         "ci95_low");
			row++;
		}
		db_rows_free(&rows);
	}
	/* every repetition and its energy by source */
	{
		struct db_val q[] = {DBV_INT(run_id)};
		const cJSON *cfg, *rep, *en;

		query(e,
		      "SELECT p.idx, p.ttft_ns, p.prefill_ns, p.decode_ns, p.prefill_tok_s, "
		      "p.decode_tok_s, e.source,"
		      " e.prefill_j, e.decode_j, e.kind"
		      " FROM repetitions p JOIN configurations c ON c.id = p.configuration_id"
		      " JOIN energy e ON e.repetition_id = p.id WHERE c.run_id = ? ORDER BY c.idx, "
		      "p.idx, e.source",
		      q, 1, &rows);
		row = 0;
		cJSON_ArrayForEach(cfg, get(doc, "configs"))
		{
			cJSON_ArrayForEach(rep, get(cfg, "reps"))
			{
				/* sources in name order, as the query sorts them */
				const char *ids[2] = {"estimate:cpu", "powercap:package-0"};

				for (int s = 0; s < 2; s++) {
					en = get(get(rep, "energy"), ids[s]);
					if (!en)
						continue;
					assert_true(row < rows.n_rows);
					same_num(get(rep, "index"), db_cell(&rows, row, 0),
					         "rep.index");
					same_num(get(rep, "ttft_ns"), db_cell(&rows, row, 1),
					         "ttft_ns");
					same_num(get(rep, "prefill_ns"), db_cell(&rows, row, 2),
					         "prefill_ns");
					same_num(get(rep, "decode_ns"), db_cell(&rows, row, 3),
					         "decode_ns");
					same_num(get(rep, "prefill_tok_s"), db_cell(&rows, row, 4),
					         "rep.prefill_tok_s");
					same_num(get(rep, "decode_tok_s"), db_cell(&rows, row, 5),
					         "rep.decode_tok_s");
					assert_string_equal(db_cell(&rows, row, 6)->s, ids[s]);
					same_num(get(en, "prefill_j"), db_cell(&rows, row, 7),
					         "prefill_j");
					same_num(get(en, "decode_j"), db_cell(&rows, row, 8),
					         "decode_j");
					same_str(get(en, "kind"), db_cell(&rows, row, 9),
					         "energy.kind");
					row++;
				}
			}
		}
		assert_int_equal(row, rows.n_rows);
		db_rows_free(&rows);
	}
	/* the stored document */
	if (rpt_store_load_run(st, run_id, "stored", &back, err, sizeof err))
		fprintf(stderr, "%s\n", err);
	assert_non_null(back);
	expect = cJSON_Duplicate(doc, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(expect, "samples");
	cJSON_DeleteItemFromObjectCaseSensitive(expect, "phases");
	assert_true(cJSON_Compare(expect, back->json, 1));
	cJSON_Delete(expect);
	rpt_result_free(back);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_schema_versioned(void **state)
{
	struct env *e = *state;
	struct rpt_store *st;
	struct db_rows rows;
	char err[RPT_ERR_LEN] = "";

	NEED_BACKEND(e);
	st = open_store(e);
	assert_int_equal(rpt_store_schema_version(st), 2);
	assert_string_equal(rpt_store_backend(st), e->name);
	rpt_store_close(st);
	/* opening again applies nothing twice */
	st = open_store(e);
	rpt_store_close(st);
	query(e, "SELECT version FROM schema_version ORDER BY version", NULL, 0, &rows);
	assert_int_equal(rows.n_rows, 2);
	assert_int_equal(db_cell(&rows, 0, 0)->i, 1);
	assert_int_equal(db_cell(&rows, 1, 0)->i, 2);
	db_rows_free(&rows);
	if (!e->pg) {
		query(e, "PRAGMA journal_mode", NULL, 0, &rows);
		assert_string_equal(db_cell(&rows, 0, 0)->s, "wal");
		db_rows_free(&rows);
	}
	/* a database from a newer joulebench is refused, not modified */
	query(e, "INSERT INTO schema_version (version, applied_utc) VALUES (99, 'later')", NULL, 0,
	      NULL);
	st = NULL;
	assert_int_equal(rpt_store_open(e->location, &st, err, sizeof err), -EPROTO);
	assert_null(st);
	assert_non_null(strstr(err, "schema version 99"));
}

static void test_thousand_results_round_trip(void **state)
{
	struct env *e = *state;
	enum { N = 1000 };
	struct gen_file *g = calloc(N, sizeof *g);
	struct rpt_history_query q = {.metric = RPT_H_DECODE_TOK_S};
	struct rpt_history_row *rows = NULL;
	struct rpt_store *st;
	char err[RPT_ERR_LEN] = "";
	int n = 0;
	int64_t before[7], after[7];

	NEED_BACKEND(e);
	assert_non_null(g);
	st = open_store(e);
	for (unsigned i = 0; i < N; i++) {
		gen_file(e, i, NULL, &g[i]);
		put_ok(st, &g[i], i % 10 == 0 ? "main" : NULL, true, NULL);
	}
	assert_int_equal(count_rows(e, "runs"), N);
	assert_int_equal(count_rows(e, "machines"), 5);
	assert_int_equal(count_rows(e, "models"), 4);
	assert_int_equal(count_rows(e, "configurations"), 2 * N);
	assert_int_equal(count_rows(e, "repetitions"), 6 * N);
	for (unsigned i = 0; i < N; i++)
		check_result(e, st, &g[i]);
	/* importing again stores nothing */
	counts(e, before);
	for (unsigned i = 0; i < N; i += 37)
		put_ok(st, &g[i], NULL, false, NULL);
	counts(e, after);
	assert_memory_equal(before, after, sizeof before);
	/* history: every configuration, oldest first, the medians of the files */
	assert_int_equal(rpt_store_history(st, &q, &rows, &n, err, sizeof err), 0);
	assert_int_equal(n, 2 * N);
	for (int k = 1; k < n; k++)
		assert_true(strcmp(rows[k - 1].created_utc, rows[k].created_utc) <= 0);
	free(rows);
	q.machine = "host-3";
	q.model = "bench-1b";
	q.metric = RPT_H_J_PER_TOKEN;
	assert_int_equal(rpt_store_history(st, &q, &rows, &n, err, sizeof err), 0);
	assert_true(n > 0);
	for (int k = 0; k < n; k++) {
		assert_string_equal(rows[k].hostname, "host-3");
		assert_string_equal(rows[k].model, "bench-1b");
	}
	free(rows);
	q = (struct rpt_history_query){
	    .metric = RPT_H_TTFT_MS, .since = "2026-06-01", .label = "main"};
	assert_int_equal(rpt_store_history(st, &q, &rows, &n, err, sizeof err), 0);
	assert_true(n > 0);
	for (int k = 0; k < n; k++) {
		assert_true(strcmp(rows[k].created_utc, "2026-06-01") >= 0);
		assert_string_equal(rows[k].label, "main");
	}
	free(rows);
	rpt_store_close(st);
	for (unsigned i = 0; i < N; i++)
		gen_free(&g[i]);
	free(g);
}

/* A child process that stores results [from, to) and exits 0 when every one was stored. */
static void child_import(const struct env *e, struct gen_file *g, unsigned from, unsigned to)
{
	struct rpt_store *st = NULL;
	char err[RPT_ERR_LEN];
	int bad = 0;

	if (rpt_store_open(e->location, &st, err, sizeof err)) {
		fprintf(stderr, "child: %s\n", err);
		_exit(3);
	}
	for (unsigned i = from; i < to; i++) {
		int64_t id;
		bool added;

		if (rpt_store_put(st, g[i].text, g[i].sha256, g[i].path, NULL, &id, &added, err,
		                  sizeof err)) {
			fprintf(stderr, "child: %s\n", err);
			bad++;
		}
	}
	rpt_store_close(st);
	_exit(bad ? 1 : 0);
}

static void test_two_processes_at_once(void **state)
{
	struct env *e = *state;
	enum { N = 120 };
	struct gen_file *g = calloc(N, sizeof *g);
	pid_t a, b;
	int sa = 0, sb = 0;

	NEED_BACKEND(e);
	assert_non_null(g);
	for (unsigned i = 0; i < N; i++)
		gen_file(e, i, NULL, &g[i]);
	/* the two overlap on [40, 80): both try to store those at the same moment */
	fflush(NULL);
	a = fork();
	if (a == 0)
		child_import(e, g, 0, 80);
	b = fork();
	if (b == 0)
		child_import(e, g, 40, N);
	assert_true(a > 0 && b > 0);
	assert_int_equal(waitpid(a, &sa, 0), a);
	assert_int_equal(waitpid(b, &sb, 0), b);
	assert_true(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
	assert_true(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
	assert_int_equal(count_rows(e, "runs"), N);
	assert_int_equal(count_rows(e, "machines"), 5);
	assert_int_equal(count_rows(e, "models"), 4);
	assert_int_equal(count_rows(e, "configurations"), 2 * N);
	assert_int_equal(count_rows(e, "repetitions"), 6 * N);
	{
		struct rpt_store *st = open_store(e);

		for (unsigned i = 0; i < N; i += 7)
			check_result(e, st, &g[i]);
		rpt_store_close(st);
	}
	for (unsigned i = 0; i < N; i++)
		gen_free(&g[i]);
	free(g);
}

static void test_killed_inside_transaction(void **state)
{
	struct env *e = *state;
	struct gen_file g0, g1;
	struct rpt_store *st;
	int64_t before[7], after[7];
	int status = 0;

	NEED_BACKEND(e);
	gen_file(e, 0, NULL, &g0);
	gen_file(e, 3, NULL, &g1); /* two sources: more statements to die between */
	st = open_store(e);
	put_ok(st, &g0, NULL, true, NULL);
	rpt_store_close(st);
	/* die after the machine, model, run, sources and part of the configurations are written */
	for (int after_n = 2; after_n <= 12; after_n += 5) {
		pid_t pid;

		counts(e, before);
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			struct rpt_store *cst = NULL;
			char err[RPT_ERR_LEN];
			int64_t id;
			bool added;

			if (rpt_store_open(e->location, &cst, err, sizeof err))
				_exit(3);
			rpt_store_fault_after(cst, after_n);
			rpt_store_put(cst, g1.text, g1.sha256, g1.path, NULL, &id, &added, err,
			              sizeof err);
			_exit(4); /* not reached: the fault kills the process */
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		if (e->pg)
			usleep(200 *
			       1000); /* the server notices the closed connection and rolls back */
		counts(e, after);
		assert_memory_equal(before, after, sizeof before);
	}
	if (!e->pg) {
		struct db_rows rows;

		query(e, "PRAGMA integrity_check", NULL, 0, &rows);
		assert_string_equal(db_cell(&rows, 0, 0)->s, "ok");
		db_rows_free(&rows);
	}
	/* the same result goes in whole afterwards */
	st = open_store(e);
	put_ok(st, &g1, NULL, true, NULL);
	check_result(e, st, &g1);
	rpt_store_close(st);
	gen_free(&g0);
	gen_free(&g1);
}

static void test_hostile_strings(void **state)
{
	static const char *const hostile[] = {
	    "'; DROP TABLE runs; --",
	    "\"quoted\" and 'single' \\ back\\slash ?? $1 %s %% _",
	    "Robert'); DELETE FROM machines; -- naïve ☃ \t tab",
	};
	struct env *e = *state;
	struct rpt_store *st;

	NEED_BACKEND(e);
	st = open_store(e);
	for (unsigned k = 0; k < 3; k++) {
		struct gen_file g;
		struct rpt_history_query q = {.metric = RPT_H_DECODE_TOK_S};
		struct rpt_history_row *rows = NULL;
		struct rpt_result *like = NULL;
		char host[256], err[RPT_ERR_LEN] = "";
		int64_t id = 0, found = 0;
		int n = 0;

		gen_file(e, 17 * (k + 1), hostile[k], &g); /* i % 17 == 0: incomplete_reason too */
		put_ok(st, &g, hostile[k], true, &id);
		check_result(e, st, &g);
		snprintf(host, sizeof host, "%shost-%u", hostile[k], 17 * (k + 1) % 5);
		q.machine = host;
		q.label = hostile[k];
		assert_int_equal(rpt_store_history(st, &q, &rows, &n, err, sizeof err), 0);
		assert_int_equal(n, 2);
		assert_string_equal(rows[0].hostname, host);
		assert_string_equal(rows[0].label, hostile[k]);
		free(rows);
		assert_int_equal(rpt_result_parse(g.text, g.path, &like, err, sizeof err), 0);
		assert_int_equal(
		    rpt_store_find_labelled(st, hostile[k], like, false, &found, err, sizeof err),
		    0);
		assert_true(found == id);
		rpt_result_free(like);
		gen_free(&g);
	}
	assert_int_equal(count_rows(e, "runs"), 3);
	assert_int_equal(count_rows(e, "machines"), 3);
	rpt_store_close(st);
}

/* regress against db:LABEL gives exactly the rows of the two-file form. */
static void test_regress_db_equals_files(void **state)
{
	static const char *const currents[] = {"tests/fixtures/regress/run-slow.json",
	                                       "tests/fixtures/regress/run-same.json",
	                                       "tests/fixtures/regress/run-tiny.json"};
	struct env *e = *state;
	struct rpt_regress_opts o = {
	    .gate = {.threshold = 0.05, .alpha = 0.05, .resamples = 2000, .seed = 1}};
	struct rpt_store *st;
	struct gen_file base;
	char err[RPT_ERR_LEN] = "";
	size_t len = 0;
	struct bench_sha256 h;

	NEED_BACKEND(e);
	memset(&base, 0, sizeof base);
	snprintf(base.path, sizeof base.path, "tests/fixtures/regress/run-base.json");
	base.text = tu_read_file(base.path, &len);
	assert_non_null(base.text);
	bench_sha256_init(&h);
	bench_sha256_update(&h, base.text, len);
	bench_sha256_final(&h, base.sha256);
	st = open_store(e);
	put_ok(st, &base, "main", true, NULL);
	for (unsigned k = 0; k < 3; k++) {
		struct rpt_regress *two = NULL, *db = NULL;
		struct rpt_result *cur = NULL, *stored = NULL;
		int64_t id = 0;

		assert_int_equal(
		    rpt_regress_files(base.path, currents[k], &o, &two, err, sizeof err), 0);
		assert_int_equal(rpt_result_load(currents[k], &cur, err, sizeof err), 0);
		assert_int_equal(
		    rpt_store_find_labelled(st, "main", cur, false, &id, err, sizeof err), 0);
		assert_int_equal(rpt_store_load_run(st, id, "db:main", &stored, err, sizeof err),
		                 0);
		assert_int_equal(rpt_regress_results(stored, cur, &o, &db, err, sizeof err), 0);
		assert_int_equal(two->n_rows, db->n_rows);
		assert_int_equal(two->n_regressed, db->n_regressed);
		assert_int_equal(two->n_inconclusive, db->n_inconclusive);
		for (int i = 0; i < two->n_rows; i++) {
			const struct rpt_gate_row *x = &two->rows[i], *y = &db->rows[i];

			assert_string_equal(x->metric, y->metric);
			assert_string_equal(x->item, y->item);
			assert_int_equal(x->verdict, y->verdict);
			assert_int_equal(x->n_base, y->n_base);
			assert_true(x->base == y->base && x->cur == y->cur);
			assert_true(x->ratio == y->ratio || (isnan(x->ratio) && isnan(y->ratio)));
			assert_true(x->ci_low == y->ci_low && x->ci_high == y->ci_high);
			assert_true(x->p == y->p || (isnan(x->p) && isnan(y->p)));
			assert_string_equal(x->note, y->note);
		}
		rpt_regress_free(two);
		rpt_regress_free(db);
		rpt_result_free(cur);
		rpt_result_free(stored);
	}
	/* a commit prefix is a label too; an unknown label says how to make one */
	{
		struct rpt_result *cur = NULL;
		int64_t id = 0;

		assert_int_equal(rpt_result_load(currents[0], &cur, err, sizeof err), 0);
		assert_int_equal(
		    rpt_store_find_labelled(st, "nightly", cur, false, &id, err, sizeof err),
		    -ENOENT);
		assert_non_null(strstr(err, "--label nightly"));
		rpt_result_free(cur);
	}
	rpt_store_close(st);
	free(base.text);
}

static void test_passwords_masked(void **state)
{
	struct env *e = *state;
	char buf[512], err[RPT_ERR_LEN] = "", bad[1200];
	struct rpt_store *st = NULL;
	const char *at, *colon;

	rpt_store_mask("postgresql://alice:s3cr%27t@db.example:5432/jb?sslmode=require", buf,
	               sizeof buf);
	assert_string_equal(buf, "postgresql://alice:****@db.example:5432/jb?sslmode=require");
	rpt_store_mask("postgres://db.example/jb?user=bob&password=hunter2&sslmode=require", buf,
	               sizeof buf);
	assert_string_equal(buf, "postgres://db.example/jb?user=bob&password=****&sslmode=require");
	rpt_store_mask("results/joulebench.sqlite", buf, sizeof buf);
	assert_string_equal(buf, "results/joulebench.sqlite");
	NEED_BACKEND(e);
	if (!e->pg)
		return;
	/* the right user with a wrong password: the message must not echo it */
	at = strchr(e->location, '@');
	colon = strchr(e->location + strlen("postgresql://"), ':');
	assert_non_null(at);
	assert_non_null(colon);
	snprintf(bad, sizeof bad, "%.*s:WrongPassword123%s", (int)(colon - e->location),
	         e->location, at);
	assert_true(rpt_store_open(bad, &st, err, sizeof err) < 0);
	assert_null(st);
	assert_null(strstr(err, "WrongPassword123"));
	assert_non_null(strstr(err, "****"));
}

/* compare --machines: the latest run of a machine, then the same model on another machine;
 * history --plot draws the trend. */
static void test_latest_of_machine_and_plot(void **state)
{
	struct env *e = *state;
	struct rpt_store *st;
	struct gen_file g[40];
	struct rpt_history_query q = {.metric = RPT_H_DECODE_TOK_S, .model = "stories15m"};
	struct rpt_history_row *rows = NULL;
	struct rpt_result *r = NULL;
	char err[RPT_ERR_LEN] = "", png[1200], why[256];
	int64_t id = 0, model_id = 0, id2 = 0;
	int n = 0;

	NEED_BACKEND(e);
	st = open_store(e);
	for (unsigned i = 0; i < 40; i++) {
		gen_file(e, i, NULL, &g[i]);
		put_ok(st, &g[i], NULL, true, NULL);
	}
	/* host-1 with model stories110m: results 1, 21 (i % 5 == 1, (i / 5) % 4 == 1 → i
	 * in 5..9, 25..29) */
	assert_int_equal(rpt_store_latest_of_machine(st, "host-1", "stories110m", 0, &id, &model_id,
	                                             err, sizeof err),
	                 0);
	assert_int_equal(rpt_store_load_run(st, id, "db:host-1", &r, err, sizeof err), 0);
	assert_string_equal(r->hostname, "host-1");
	assert_string_equal(r->model_name, "stories110m");
	/* the newest of the two candidates */
	assert_true(strcmp(r->created_utc, cJSON_GetStringValue(get(g[6].doc, "created_utc"))) >=
	            0);
	assert_true(strcmp(r->created_utc, cJSON_GetStringValue(get(g[26].doc, "created_utc"))) >=
	            0);
	rpt_result_free(r);
	r = NULL;
	assert_int_equal(
	    rpt_store_latest_of_machine(st, "host-2", NULL, model_id, &id2, NULL, err, sizeof err),
	    0);
	assert_int_equal(rpt_store_load_run(st, id2, "db:host-2", &r, err, sizeof err), 0);
	assert_string_equal(r->hostname, "host-2");
	assert_string_equal(r->model_name, "stories110m");
	rpt_result_free(r);
	assert_int_equal(
	    rpt_store_latest_of_machine(st, "host-9", NULL, 0, &id2, NULL, err, sizeof err),
	    -ENOENT);
	assert_non_null(strstr(err, "host-9"));
	assert_int_equal(rpt_store_history(st, &q, &rows, &n, err, sizeof err), 0);
	assert_int_equal(n, 2 * 10);
	if (rpt_gnuplot_available(why, sizeof why)) {
		snprintf(png, sizeof png, "%s/trend.png", e->tmp);
		if (rpt_history_plot(rows, n, q.metric, png, "scripts", err, sizeof err))
			fprintf(stderr, "%s\n", err);
		{
			size_t len = 0;
			char *img = tu_read_file(png, &len);

			assert_non_null(img);
			assert_true(len > 1000);
			free(img);
		}
	} else {
		tu_note("plot not drawn: %s", why);
	}
	free(rows);
	rpt_store_close(st);
	for (unsigned i = 0; i < 40; i++)
		gen_free(&g[i]);
}

/* Two `joulebench run` processes at once, both storing into one database: both land. */
static void test_two_runs_at_once(void **state)
{
	struct env *e = *state;
	char cmd[4096], *out = NULL, *err = NULL;
	int rc;

	NEED_BACKEND(e);
	snprintf(cmd, sizeof cmd,
		 "run() { exec \"$JB\" run --model synth:stories260k:f32 --prompt-tokens 4 --gen-tokens 4 --reps 2 "
		 "--warmup 0 --idle-seconds 0 -q --label two -o \"$1\" --db '%s' >/dev/null; }; "
		 "run '%s/a' & a=$!; run '%s/b' & b=$!; wait $a; ra=$?; wait $b; rb=$?; "
		 "[ $ra -eq 0 ] && [ $rb -eq 0 ] && \"$JB\" history --db '%s' --label two --format csv",
		 e->location, e->tmp, e->tmp, e->location);
	rc = tu_run(cmd, 300, &out, &err);
	if (rc)
		fprintf(stderr, "exit %d\nstdout: %s\nstderr: %s\n", rc, out, err);
	assert_int_equal(rc, 0);
	assert_int_equal(count_rows(e, "runs"), 2);
	assert_int_equal(count_rows(e, "configurations"), 2);
	assert_int_equal(count_rows(e, "repetitions"), 4);
	/* a header and one row per run */
	{
		int lines = 0;

		for (const char *p = out; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 3);
	}
	free(out);
	free(err);
}

#define BOTH(fn)                                                                                   \
	cmocka_unit_test_prestate_setup_teardown(fn, env_setup, env_teardown, &sqlite_env),        \
	    cmocka_unit_test_prestate_setup_teardown(fn, env_setup, env_teardown, &pg_env)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_schema_versioned),      BOTH(test_thousand_results_round_trip),
	    BOTH(test_two_processes_at_once), BOTH(test_killed_inside_transaction),
	    BOTH(test_hostile_strings),       BOTH(test_regress_db_equals_files),
	    BOTH(test_passwords_masked),      BOTH(test_latest_of_machine_and_plot),
		BOTH(test_two_runs_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
