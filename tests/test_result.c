/*
 * tests/test_result.c — result.json against its documentation, the atomic write, summary.csv,
 * and the SHA-256 used for model hashes.
 *
 * reports/schema-run-fields.txt lists every documented field of a "run" result; each path is
 * checked in real results (a complete run and an interrupted one): the key is there, and a null
 * has its "<name>_reason" unless the list marks the null as a setting. Every field named in the
 * list must also appear in reports/SCHEMA.md, so the list and the document cannot drift apart.
 */
#include "helpers/fakellm.h"
#include "helpers/testutil.h"

#include "bench/runner.h"
#include "bench/sha256.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct field {
	char path[160];
	bool null_ok;  /* " ?" */
	bool is_stat;  /* " stat" */
	int checked;   /* how often the leaf was reached */
};

static struct field fields[400];
static int n_fields;

static void load_fields(void)
{
	char *text = tu_read_file("reports/schema-run-fields.txt", NULL), *line, *save = NULL;

	assert_non_null(text);
	n_fields = 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct field *f;
		char *sp;

		if (!line[0] || line[0] == '#')
			continue;
		assert_true(n_fields < (int)(sizeof fields / sizeof fields[0]));
		f = &fields[n_fields++];
		memset(f, 0, sizeof *f);
		sp = strchr(line, ' ');
		if (sp) {
			f->null_ok = strstr(sp, "?") != NULL;
			f->is_stat = strstr(sp, "stat") != NULL;
			*sp = '\0';
		}
		snprintf(f->path, sizeof f->path, "%s", line);
	}
	free(text);
	assert_true(n_fields > 100);
}

static int failures;

static void complain(const char *what, const char *path, const char *how)
{
	fprintf(stderr, "  %s: %s: %s\n", what, path, how);
	failures++;
}

/* Walks `rest` (a path suffix) from node v; `full` is the whole path for messages. */
static void walk(const cJSON *v, const char *rest, struct field *f, const char *what)
{
	char key[96];
	size_t n;
	const cJSON *child;

	if (!*rest)
		return;
	n = strcspn(rest, ".[");
	snprintf(key, sizeof key, "%.*s", (int)n, rest);
	rest += n;
	if (!strcmp(key, "*")) {
		if (!cJSON_IsObject(v)) {
			complain(what, f->path, "expected an object for '*'");
			return;
		}
		cJSON_ArrayForEach(child, v)
			walk(child, *rest == '.' ? rest + 1 : rest, f, what);
		return;
	}
	if (!cJSON_IsObject(v)) {
		complain(what, f->path, "parent is not an object");
		return;
	}
	child = cJSON_GetObjectItemCaseSensitive(v, key);
	if (!child) {
		complain(what, f->path, "missing");
		return;
	}
	if (cJSON_IsNull(child)) {
		char rk[128];
		const cJSON *reason;

		snprintf(rk, sizeof rk, "%s_reason", key);
		reason = cJSON_GetObjectItemCaseSensitive(v, rk);
		if (!f->null_ok && !(cJSON_IsString(reason) && reason->valuestring[0]))
			complain(what, f->path, "null without a non-empty _reason");
		if (!*rest)
			f->checked++;
		return; /* nothing below a null */
	}
	if (!strncmp(rest, "[]", 2)) {
		const cJSON *el;

		if (!cJSON_IsArray(child)) {
			complain(what, f->path, "expected an array");
			return;
		}
		rest += 2;
		if (!*rest)
			f->checked++;
		cJSON_ArrayForEach(el, child)
			walk(el, *rest == '.' ? rest + 1 : rest, f, what);
		return;
	}
	if (!*rest) {
		f->checked++;
		if (f->is_stat) {
			static const char *const keys[] = { "n", "median", "mean", "sd", "ci95_low", "ci95_high",
							    "min", "max" };

			for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
				if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(child, keys[i])))
					complain(what, f->path, "stat without a number for one of its keys");
		}
		return;
	}
	walk(child, rest + 1, f, what);
}

static void check_document(const cJSON *doc, const char *what)
{
	failures = 0;
	for (int i = 0; i < n_fields; i++)
		walk(doc, fields[i].path, &fields[i], what);
	if (failures)
		fail_msg("%s: %d schema violations (listed above)", what, failures);
}

/* ---- runs ------------------------------------------------------------------------------------ */

static struct bench_build_info fake_build = { "0.0.0-test", "0000000", "cc", "-O2", 0, 0 };

static void workload(struct bench_workload *w)
{
	bench_workload_init(w);
	snprintf(w->model, sizeof w->model, "%s", "synth:stories260k:f32");
	w->prompt_tokens[0] = 16;
	w->gen_tokens = 12;
	w->reps = 2;
	w->warmup = 1;
	w->idle_s = 0.2;
	w->cooldown_s = 0.02;
	w->interval_ms = 10;
	w->tdp_w = 15; /* an estimate source, so energy fields carry values on any machine */
	w->stop_rule = true;
	w->max_reps = 3;
}

static cJSON *run_to_json(struct bench_workload *w, bool interrupt, char **dir_out)
{
	struct bench_run_opts o;
	struct bench_run *r = NULL;
	char err[512] = "", path[PATH_MAX], *dir, *text;
	cJSON *doc;

	memset(&o, 0, sizeof o);
	o.w = w;
	o.build = &fake_build;
	bench_stop_clear();
	if (interrupt)
		bench_stop_request(SIGTERM); /* stops during the idle measurement */
	if (bench_run(&o, &r, err, sizeof err) != 0)
		fail_msg("bench_run: %s", err);
	bench_stop_clear();
	dir = tu_mkdtemp();
	if (bench_result_write(r, dir, err, sizeof err) != 0)
		fail_msg("bench_result_write: %s", err);
	bench_run_free(r);
	snprintf(path, sizeof path, "%s/result.json", dir);
	text = tu_read_file(path, NULL);
	assert_non_null(text);
	doc = cJSON_Parse(text);
	free(text);
	assert_non_null(doc);
	*dir_out = dir;
	return doc;
}

static void test_complete_result_has_every_field(void **state)
{
	struct bench_workload w;
	char *dir = NULL;
	cJSON *doc;
	const cJSON *c0;

	(void)state;
	load_fields();
	workload(&w);
	doc = run_to_json(&w, false, &dir);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(doc, "complete")));
	check_document(doc, "complete run");
	/* the complete run reaches the sections that carry the numbers */
	for (int i = 0; i < n_fields; i++) {
		const char *p = fields[i].path;

		if (!strncmp(p, "configs[].reps[].counters.", 26) || !strncmp(p, "energy_unavailable", 18) ||
		    !strncmp(p, "configs[].model.", 16) || !strncmp(p, "sweep.", 6))
			continue; /* counters may be unavailable here; the list may be empty; a sweep
				   * needs an external engine (test_sweep_result_has_every_field) */
		if (!fields[i].checked)
			fail_msg("%s was never reached in a complete run", p);
	}
	c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "configs"), 0);
	/* reps 2, stop rule up to 3: two or three repetitions, as the timing noise decides */
	assert_in_range(cJSON_GetArraySize(cJSON_GetObjectItem(c0, "reps")), 2, 3);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "joulebench"), "version")->valuestring,
			    "0.0.0-test");
	assert_int_equal(cJSON_GetObjectItem(doc, "schema_version")->valueint, 1);
	cJSON_Delete(doc);
	tu_rmtree(dir);
	free(dir);
}

static void test_partial_result_has_every_field(void **state)
{
	struct bench_workload w;
	char *dir = NULL;
	cJSON *doc;

	(void)state;
	load_fields();
	workload(&w);
	doc = run_to_json(&w, true, &dir);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(doc, "complete")));
	assert_non_null(strstr(cJSON_GetObjectItem(doc, "incomplete_reason")->valuestring,
			       "interrupted by SIGTERM"));
	check_document(doc, "interrupted run");
	cJSON_Delete(doc);
	tu_rmtree(dir);
	free(dir);
}

/* An external engine's result (the fake server of tests/helpers/fakellm.c): every field of
 * the list, the sweep's included, is there or null with its reason. */
static void test_sweep_result_has_every_field(void **state)
{
	struct fl_script sc = { .n_tokens = 5, .ttft_ms = 5, .itl_ms = 3, .usage = true,
				.usage_prompt_tokens = 12, .fault_request = 1, .fault = FL_HTTP_ERROR,
				.http_status = 500, .error_body = "{\"error\":\"boom\"}" };
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts h;
	struct bench_workload w;
	struct bench_run_opts o;
	struct bench_run *r = NULL;
	char err[512] = "", path[PATH_MAX], *dir, *text;
	cJSON *doc;

	(void)state;
	load_fields();
	workload(&w);
	w.stop_rule = false;
	snprintf(w.model, sizeof w.model, "%s", "fake-model");
	memset(&h, 0, sizeof h);
	h.engine = BENCH_ENGINE_OPENAI;
	snprintf(h.url, sizeof h.url, "%s", fl_url(f, "/v1"));
	snprintf(h.model, sizeof h.model, "%s", "fake-model");
	h.timeout_s = 20;
	h.n_levels = 2;
	h.concurrency[0] = 1;
	h.concurrency[1] = 2;
	h.requests = 3;
	memset(&o, 0, sizeof o);
	o.w = &w;
	o.build = &fake_build;
	o.http = &h;
	bench_stop_clear();
	if (bench_run(&o, &r, err, sizeof err) != 0)
		fail_msg("bench_run: %s", err);
	fl_stop(f);
	dir = tu_mkdtemp();
	if (bench_result_write(r, dir, err, sizeof err) != 0)
		fail_msg("bench_result_write: %s", err);
	/* request 1 (the first of the measured ones after the warm-up) failed: incomplete, and
	 * the reason says so */
	assert_false(r->complete);
	assert_non_null(strstr(r->incomplete_reason, "HTTP 500"));
	bench_run_free(r);
	snprintf(path, sizeof path, "%s/result.json", dir);
	text = tu_read_file(path, NULL);
	assert_non_null(text);
	doc = cJSON_Parse(text);
	free(text);
	assert_non_null(doc);
	check_document(doc, "sweep run");
	for (int i = 0; i < n_fields; i++) {
		const char *p = fields[i].path;

		if ((strncmp(p, "sweep", 5) && strncmp(p, "engine.", 7)) || strstr(p, "].ollama."))
			continue; /* an OpenAI stream has no Ollama counters */
		if (!fields[i].checked)
			fail_msg("%s was never reached in a sweep run", p);
	}
	snprintf(path, sizeof path, "%s/summary.csv", dir);
	text = tu_read_file(path, NULL);
	assert_non_null(text);
	assert_non_null(strstr(text, "level,engine,model,concurrency,"));
	assert_non_null(strstr(text, "\n1,openai,fake-model,2,3,"));
	free(text);
	cJSON_Delete(doc);
	tu_rmtree(dir);
	free(dir);
	bench_workload_free(&w);
}

static bool ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* True when `word` occurs in text[0..len) as a whole identifier. */
static bool has_word(const char *text, size_t len, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = text; (p = strstr(p, word)) && (size_t)(p - text) + n <= len; p += n)
		if ((p == text || !ident_char(p[-1])) && !ident_char(p[n]))
			return true;
	return false;
}

/* Every field of the list is named in the `run` section of SCHEMA.md. */
static void test_fields_documented(void **state)
{
	char *doc = tu_read_file("reports/SCHEMA.md", NULL);
	const char *a, *b;
	int missing = 0;

	(void)state;
	assert_non_null(doc);
	a = strstr(doc, "## Kind `run`");
	assert_non_null(a);
	b = strstr(a + 1, "\n## ");
	if (!b)
		b = a + strlen(a);
	load_fields();
	for (int i = 0; i < n_fields; i++) {
		char last[96];
		const char *p = fields[i].path, *dot = strrchr(p, '.');

		p = dot ? dot + 1 : p;
		snprintf(last, sizeof last, "%.*s", (int)strcspn(p, "["), p);
		if (!has_word(a, (size_t)(b - a), last)) {
			fprintf(stderr, "  SCHEMA.md's run section does not name %s (from %s)\n", last,
				fields[i].path);
			missing++;
		}
	}
	free(doc);
	assert_int_equal(missing, 0);
}

/* ---- files ----------------------------------------------------------------------------------- */

static void test_atomic_write_and_csv(void **state)
{
	struct bench_workload w;
	struct bench_run_opts o;
	struct bench_run *r = NULL;
	char err[512] = "", path[PATH_MAX + 64], sub[PATH_MAX], *dir, *csv, *line, *save = NULL;
	int lines = 0, header_cols = 0;
	DIR *d;
	struct dirent *e;

	(void)state;
	workload(&w);
	w.idle_s = 0;
	w.n_threads = 2;
	w.threads[0] = 1;
	w.threads[1] = 2;
	memset(&o, 0, sizeof o);
	o.w = &w;
	assert_int_equal(bench_run(&o, &r, err, sizeof err), 0);
	dir = tu_mkdtemp();
	/* nested directories are created */
	snprintf(sub, sizeof sub, "%.3000s/a/b", dir);
	assert_int_equal(bench_result_write(r, sub, err, sizeof err), 0);
	/* written twice: replaced, and no temporary file left behind */
	assert_int_equal(bench_result_write(r, sub, err, sizeof err), 0);
	d = opendir(sub);
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strcmp(e->d_name, "result.json") && strcmp(e->d_name, "summary.csv"))
			fail_msg("unexpected file %s", e->d_name);
	}
	closedir(d);
	snprintf(path, sizeof path, "%s/summary.csv", sub);
	csv = tu_read_file(path, NULL);
	assert_non_null(csv);
	for (line = strtok_r(csv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int cols = 1, quoted = 0;

		for (const char *c = line; *c; c++) {
			quoted ^= *c == '"';
			cols += *c == ',' && !quoted;
		}
		if (lines == 0) {
			assert_true(!strncmp(line, "config,threads,type,prompt_tokens,gen_tokens,reps,", 49));
			header_cols = cols;
		} else {
			assert_int_equal(cols, header_cols);
			assert_true(strstr(line, lines == 1 ? "0,1,f32,16,12," : "1,2,f32,16,12,") == line);
		}
		lines++;
	}
	assert_int_equal(lines, 3);
	free(csv);

	/* a directory that cannot be created: an error naming it, nothing written */
	snprintf(path, sizeof path, "%.3000s/a/b/result.json/x", dir);
	assert_true(bench_result_write(r, path, err, sizeof err) < 0);
	assert_non_null(strstr(err, "result.json"));
	bench_run_free(r);
	tu_rmtree(dir);
	free(dir);
}

static void test_sha256(void **state)
{
	struct bench_sha256 c;
	char hex[65], err[256], *dir, path[PATH_MAX];
	char big[1000];

	(void)state;
	/* FIPS 180-4 examples */
	bench_sha256_init(&c);
	bench_sha256_final(&c, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	bench_sha256_init(&c);
	bench_sha256_update(&c, "abc", 3);
	bench_sha256_final(&c, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	bench_sha256_init(&c);
	bench_sha256_update(&c, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
	bench_sha256_final(&c, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* one million 'a', in uneven pieces through a file */
	dir = tu_mkdtemp();
	snprintf(path, sizeof path, "%s/a", dir);
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		memset(big, 'a', sizeof big);
		for (int i = 0; i < 1000; i++)
			fwrite(big, 1, sizeof big, f);
		fclose(f);
	}
	assert_int_equal(bench_sha256_file(path, hex, err, sizeof err), 0);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	snprintf(path, sizeof path, "%s/missing", dir);
	assert_true(bench_sha256_file(path, hex, err, sizeof err) < 0);
	assert_non_null(strstr(err, "missing: No such file"));
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete_result_has_every_field),
		cmocka_unit_test(test_partial_result_has_every_field),
		cmocka_unit_test(test_sweep_result_has_every_field),
		cmocka_unit_test(test_fields_documented),
		cmocka_unit_test(test_atomic_write_and_csv),
		cmocka_unit_test(test_sha256),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
