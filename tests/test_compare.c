/*
 * tests/test_compare.c — the result reader and `compare` on fixture results with known numbers
 * (tests/fixtures/results): measured and estimated energy, missing energy domains, an incomplete
 * run, a kernels result and an unknown schema version.
 */
#include "helpers/testutil.h"

#include "reports/reports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FIX "tests/fixtures/results/"

static struct rpt_result *load_ok(const char *path)
{
	struct rpt_result *r = NULL;
	char err[RPT_ERR_LEN] = "";

	if (rpt_result_load(path, &r, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
	return r;
}

static void test_read_measured(void **state)
{
	struct rpt_result *r = load_ok(FIX "laptop-7b-measured.json");
	const struct rpt_config *c;

	(void)state;
	assert_string_equal(r->kind, "run");
	assert_true(r->complete);
	assert_int_equal(r->n_configs, 3);
	assert_true(r->n_params.ok);
	assert_true(r->n_params.v == 6738415616.0);
	/* the headline config is the fastest decode: 4 threads at 10 tok/s */
	c = rpt_headline_config(r);
	assert_int_equal(c->threads, 4);
	assert_true(c->decode_tok_s.median == 10.0);
	assert_true(c->decode_tok_s.ci_low == 9.5);
	assert_true(c->decode_jpt_gross.median == 3.2);
	assert_true(c->decode_jpt_net.median == 2.4);
	assert_true(c->itl_p99_ms.ok && c->itl_p99_ms.v == 130);
	assert_string_equal(c->energy_kind, "measured");
	assert_string_equal(c->energy_source, "powercap:psys");
	assert_int_equal(c->n_reps, 5);
	assert_int_equal(c->gen_tokens, 128);
	assert_int_equal(c->prompt_tokens, 32);
	assert_int_equal(r->prompt_tokens, 32); /* workload.prompt_tokens is an array of lengths */
	assert_non_null(rpt_find_source(r, "powercap:psys"));
	rpt_result_free(r);
}

static void test_read_missing_energy(void **state)
{
	struct rpt_result *r = load_ok(FIX "vm-no-energy.json");
	const struct rpt_config *c = rpt_headline_config(r);

	(void)state;
	assert_int_equal(c->threads, 2);
	assert_string_equal(c->energy_source, "");
	assert_false(c->decode_jpt_net.ok);
	assert_non_null(strstr(c->decode_jpt_net.reason, "no RAPL"));
	assert_false(c->avg_power_w.ok);
	assert_true(c->decode_tok_s.ok);
	assert_non_null(strstr(r->primary_reason, "no RAPL"));
	rpt_result_free(r);
}

static void test_read_incomplete_and_kernels(void **state)
{
	struct rpt_result *r = load_ok(FIX "laptop-incomplete.json");

	(void)state;
	assert_false(r->complete);
	assert_non_null(strstr(r->incomplete_reason, "SIGINT"));
	assert_int_equal(r->configs[0].n_reps, 2);
	rpt_result_free(r);
	r = load_ok(FIX "kernels.json");
	assert_string_equal(r->kind, "kernels");
	assert_int_equal(r->n_kernels, 4);
	assert_true(r->membw_gbs.ok && r->membw_gbs.v == 18.5);
	rpt_result_free(r);
}

static void expect_load_error(const char *path, const char *text, int want_rc)
{
	struct rpt_result *r = NULL;
	char err[RPT_ERR_LEN] = "";
	int rc = rpt_result_load(path, &r, err, sizeof err);

	assert_null(r);
	if (rc != want_rc || !strstr(err, text)) {
		fprintf(stderr, "rc %d (want %d), message '%s' lacks '%s'\n", rc, want_rc, err,
		        text);
		fail();
	}
}

static void test_read_errors(void **state)
{
	char *dir = tu_mkdtemp(), path[512];
	const struct {
		const char *body, *expect;
	} cases[] = {
	    {"{\"kind\":\"run\"}", "'schema_version' is missing"},
	    {"{\"schema_version\":\"1\"}", "'schema_version' must be an integer"},
	    {"{\"schema_version\":1,\"kind\":\"walk\",\"machine\":{}}", "'kind' must be"},
	    {"{\"schema_version\":1,\"kind\":\"run\"}", "'machine' is missing"},
	    {"{\"schema_version\":1,\"kind\":\"run\",\"machine\":{},\"workload\":{},\"model\":{}}",
	     "'complete' is missing"},
	    {"{\"schema_version\":1,\"kind\":\"run\",\"complete\":true,\"machine\":{},\"workload\":"
	     "{},"
	     "\"model\":{},\"configs\":[{\"threads\":1,\"type\":\"f32\",\"summary\":{\"decode_tok_"
	     "s\":5}}]}",
	     "'configs[0].summary.decode_tok_s' must be a stat object"},
	    {"{\"schema_version\":1,\"kind\":\"run\",\"complete\":true,\"machine\":{},\"workload\":"
	     "{},"
	     "\"model\":{},\"configs\":[{\"threads\":1,\"type\":\"f32\",\"summary\":{\"energy_"
	     "source\":"
	     "\"x\",\"energy_kind\":\"guessed\"}}]}",
	     "energy_kind"},
	    {"{\"schema_version\": 1,\n \"kind\": [", "bad.json:2:"},
	};

	(void)state;
	expect_load_error(FIX "unknown-version.json", "schema_version 99 is not supported",
	                  -EINVAL);
	expect_load_error(FIX "unknown-version.json", "unknown-version.json", -EINVAL);
	expect_load_error(FIX "no-such-file.json", "no-such-file.json: cannot read", -ENOENT);
	snprintf(path, sizeof path, "%s/bad.json", dir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(tu_write_file(path, cases[i].body, strlen(cases[i].body)), 0);
		expect_load_error(path, cases[i].expect, -EINVAL);
	}
	tu_rmtree(dir);
	free(dir);
}

/* A configuration whose model could not be opened: type null + reason, summary null, and no
 * top-level model. It loads; its figures are missing with the configuration's error. */
static void test_read_failed_config(void **state)
{
	const char *body =
	    "{\"schema_version\":1,\"kind\":\"run\",\"complete\":false,\"incomplete_reason\":"
	    "\"config 1/1 failed\",\"machine\":{},\"workload\":{\"prompt_tokens\":[16,64]},"
	    "\"model\":null,\"model_reason\":\"cannot open x.gguf\",\"configs\":[{\"threads\":2,"
	    "\"type\":null,\"type_reason\":\"cannot open x.gguf\",\"prompt_tokens\":64,"
	    "\"error\":\"cannot open x.gguf: No such file\",\"reps\":[],\"summary\":null}]}";
	char *dir = tu_mkdtemp(), path[512], err[RPT_ERR_LEN] = "";
	struct rpt_result *r = NULL;

	(void)state;
	snprintf(path, sizeof path, "%s/failed.json", dir);
	assert_int_equal(tu_write_file(path, body, strlen(body)), 0);
	if (rpt_result_load(path, &r, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
	assert_false(r->complete);
	assert_int_equal(r->prompt_tokens, 16);
	assert_int_equal(r->configs[0].prompt_tokens, 64);
	assert_string_equal(r->configs[0].type, "?");
	assert_false(r->configs[0].decode_tok_s.ok);
	assert_non_null(strstr(r->configs[0].decode_tok_s.reason, "No such file"));
	assert_false(r->n_params.ok);
	assert_non_null(strstr(r->n_params.reason, "cannot open x.gguf"));
	rpt_result_free(r);
	tu_rmtree(dir);
	free(dir);
}

static char *compare_of(const char *const *files, int n, bool all, enum rpt_format fmt, int *rc)
{
	struct rpt_result *rs[8];
	char err[RPT_ERR_LEN] = "", *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (int i = 0; i < n; i++)
		rs[i] = load_ok(files[i]);
	*rc = rpt_compare_rows(f, rs, n, all, fmt, err, sizeof err);
	if (*rc)
		fprintf(f, "ERROR: %s", err);
	fclose(f);
	for (int i = 0; i < n; i++)
		rpt_result_free(rs[i]);
	return buf;
}

/* Finds the CSV row for `metric` of result `file` and returns its numeric columns. */
static void csv_row(const char *csv, const char *file, const char *metric, double v[6])
{
	char needle[256];
	const char *p;

	snprintf(needle, sizeof needle, "\"%s\"", metric);
	for (p = csv; (p = strstr(p, needle)); p++) {
		const char *line = p;

		while (line > csv && line[-1] != '\n')
			line--;
		if (strncmp(line + 1, file, strlen(file)))
			continue;
		p = strchr(p + strlen(needle) + 1, ','); /* skip the unit */
		for (int i = 0; i < 6; i++) {
			v[i] = strtod(p + 1, (char **)&p);
		}
		return;
	}
	fprintf(stderr, "no CSV row for %s / %s in:\n%s\n", file, metric, csv);
	fail();
}

static void near(double got, double want)
{
	if (!(got > want * 0.999 && got < want * 1.001)) {
		fprintf(stderr, "got %.6g, want %.6g\n", got, want);
		fail();
	}
}

/*
 * Laptop (baseline, 4 threads) vs desktop, numbers from the fixtures:
 *   decode tok/s 10 [9.5, 10.5] vs 20 [19, 21] → ratio 2, interval 19/10.5 = 1.8095 … 21/9.5
 * = 2.2105 J/token net 2.4 [2.2, 2.6] vs 3.8 [3.6, 4.0] → 1.5833 (3.6/2.6 = 1.3846 … 4.0/2.2
 * = 1.8182) perf-per-watt: 10/32 = 0.3125 [9.5/34 = 0.27941, 10.5/30 = 0.35] vs 20/95 = 0.210526 →
 * ratio 0.673684 geomean speed: prefill 200/50 = 4, decode 2, TTFT 640/170 = 3.7647, p99 130/60
 * = 2.1667 → (4 × 2 × 3.7647 × 2.1667)^(1/4) = 65.255^(1/4) = 2.842 geomean efficiency: tokens/J
 * 0.2632/0.4167 = 0.63163, perf/W 0.673684 → sqrt = 0.6523
 */
static void test_compare_known_numbers(void **state)
{
	const char *files[] = {FIX "laptop-7b-measured.json", FIX "desktop-8b-estimated.json"};
	double v[6];
	int rc;
	char *csv = compare_of(files, 2, false, RPT_FMT_CSV, &rc), *t;

	(void)state;
	assert_int_equal(rc, 0);
	csv_row(csv, FIX "desktop-8b-estimated.json", "decode tok/s", v);
	near(v[0], 20);
	near(v[3], 2.0);
	near(v[4], 19 / 10.5);
	near(v[5], 21 / 9.5);
	csv_row(csv, FIX "desktop-8b-estimated.json", "J/token (decode, net)", v);
	near(v[3], 3.8 / 2.4);
	near(v[4], 3.6 / 2.6);
	near(v[5], 4.0 / 2.2);
	csv_row(csv, FIX "laptop-7b-measured.json", "perf-per-watt", v);
	near(v[0], 0.3125);
	near(v[1], 9.5 / 34);
	near(v[2], 10.5 / 30);
	csv_row(csv, FIX "desktop-8b-estimated.json", "perf-per-watt", v);
	near(v[3], (20.0 / 95) / 0.3125);
	/* the energy column says which figures are estimated */
	assert_non_null(strstr(csv, ",estimated,\"J/token"));
	assert_non_null(strstr(csv, ",measured,\"J/token"));
	free(csv);
	t = compare_of(files, 2, false, RPT_FMT_MD, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "| metric |"));
	assert_non_null(strstr(t, "×2.84 (4 metrics)"));
	assert_non_null(strstr(t, "×0.652 (2 metrics)"));
	assert_non_null(strstr(t, "3.80 [3.60, 4.00] est. ×1.58 (1.38–1.82)"));
	assert_non_null(strstr(t, "energy ESTIMATED by 'estimate:tdp'"));
	free(t);
}

static void test_compare_missing_and_incomplete(void **state)
{
	const char *files[] = {FIX "laptop-7b-measured.json", FIX "vm-no-energy.json",
	                       FIX "laptop-incomplete.json"};
	int rc;
	char *t = compare_of(files, 3, false, RPT_FMT_TERM, &rc);

	(void)state;
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "n/a"));
	assert_non_null(strstr(t, "no energy figures: no energy source"));
	assert_non_null(
	    strstr(t, "INCOMPLETE run (interrupted by SIGINT during decode of rep 3/5)"));
	/* only speed metrics exist for the VM: its efficiency geomean is n/a */
	assert_non_null(strstr(t, "geomean efficiency ratio"));
	free(t);
	/* every config of every file */
	t = compare_of(files, 1, true, RPT_FMT_CSV, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, ",1,q4_0,"));
	assert_non_null(strstr(t, ",2,q4_0,"));
	assert_non_null(strstr(t, ",4,q4_0,"));
	free(t);
}

/* Results in the runner's DIR/result.json layout are named by their directory. */
static void test_compare_labels_run_dirs(void **state)
{
	char *dir = tu_mkdtemp(), path[512], *body, *out = NULL;
	size_t len = 0;
	struct rpt_result *rs[2];
	char err[RPT_ERR_LEN] = "";
	FILE *f;

	(void)state;
	body = tu_read_file(FIX "laptop-7b-measured.json", &len);
	assert_non_null(body);
	snprintf(path, sizeof path, "%s/laptop-run", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/laptop-run/result.json", dir);
	assert_int_equal(tu_write_file(path, body, len), 0);
	free(body);
	rs[0] = load_ok(path);
	rs[1] = load_ok(FIX "desktop-8b-estimated.json");
	f = open_memstream(&out, &len);
	assert_int_equal(rpt_compare(f, rs, 2, RPT_FMT_MD, err, sizeof err), 0);
	fclose(f);
	assert_non_null(strstr(out, "| laptop-run/result.json 4t q4_0 (baseline) |"));
	assert_non_null(strstr(out, "| desktop-8b-estimated.json 8t q8_0 |"));
	free(out);
	rpt_result_free(rs[0]);
	rpt_result_free(rs[1]);
	tu_rmtree(dir);
	free(dir);
}

static void test_compare_refuses_mixed(void **state)
{
	struct rpt_result *rs[2];
	char err[RPT_ERR_LEN] = "", *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	rs[0] = load_ok(FIX "laptop-7b-measured.json");
	rs[1] = load_ok(FIX "kernels.json");
	assert_int_equal(rpt_compare(f, rs, 2, RPT_FMT_TERM, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "kernels.json"));
	/* a reader of another version would fail to load; two loaded versions must still agree */
	rs[1]->schema_version = 2;
	snprintf(rs[1]->kind, sizeof rs[1]->kind, "run");
	assert_int_equal(rpt_compare(f, rs, 2, RPT_FMT_TERM, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "different schema versions"));
	fclose(f);
	free(buf);
	rpt_result_free(rs[0]);
	rpt_result_free(rs[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_measured),
	    cmocka_unit_test(test_read_missing_energy),
	    cmocka_unit_test(test_read_incomplete_and_kernels),
	    cmocka_unit_test(test_read_errors),
	    cmocka_unit_test(test_read_failed_config),
	    cmocka_unit_test(test_compare_known_numbers),
	    cmocka_unit_test(test_compare_missing_and_incomplete),
	    cmocka_unit_test(test_compare_labels_run_dirs),
	    cmocka_unit_test(test_compare_refuses_mixed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
