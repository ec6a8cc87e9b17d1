/*
 * tests/test_page.c — the results page across many results: 50 generated results make one
 * self-contained page (no network references, hostile strings escaped, one row per
 * configuration); then, when Chromium is installed, the page is opened headless and its own
 * controls are used: no script errors, every plot renders at a non-zero size, sorting orders the
 * rows, filtering by text and by energy kind shows exactly the matching rows. Screenshots (desktop
 * and phone widths) are kept in build/test-artifacts/ for a person to look at.
 */
#include "helpers/testutil.h"

#include "reports/reports.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_RESULTS 50
#define FIX "tests/fixtures/results/laptop-7b-measured.json"

static const char *const types[] = {"f16", "q8_0", "q4_0", "q4_k_m", "q6_k"};

/* 50 results on 10 machines (machine-00 … machine-09, five each), types and speeds varied so
 * that file order is not speed order; every seventh result's energy is estimated. */
static void make_results(struct rpt_result **rs, int *n_estimated_rows)
{
	char err[RPT_ERR_LEN] = "";

	*n_estimated_rows = 0;
	for (int i = 0; i < N_RESULTS; i++) {
		struct rpt_result *r;

		if (rpt_result_load(FIX, &rs[i], err, sizeof err)) {
			fprintf(stderr, "%s\n", err);
			fail();
		}
		r = rs[i];
		snprintf(r->hostname, sizeof r->hostname, "machine-%02d", i / 5);
		for (int k = 0; k < r->n_configs; k++) {
			struct rpt_config *c = &r->configs[k];

			snprintf(c->type, sizeof c->type, "%s", types[(i + k) % 5]);
			c->decode_tok_s.median = 1 + (double)((i * 37 + k * 11) % 97);
			if (i % 7 == 3) {
				snprintf(c->energy_kind, sizeof c->energy_kind, "estimated");
				(*n_estimated_rows)++;
			}
		}
	}
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static const char *chromium_path(void)
{
	static const char *const cands[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser",
	                                    "/usr/lib/chromium/chromium"};
	struct stat st;
	const char *env = getenv("JOULEBENCH_CHROMIUM");

	if (env && *env)
		return env;
	for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
		if (stat(cands[i], &st) == 0)
			return cands[i];
	return NULL;
}

/* Values of a JSON array of strings as doubles (NaN for "" = not measured). */
static int numbers(const cJSON *arr, double *v, int max)
{
	int n = 0;
	const cJSON *it;

	cJSON_ArrayForEach(it, arr)
	{
		if (n >= max)
			break;
		v[n++] = cJSON_IsString(it) && it->valuestring[0] ? atof(it->valuestring) : NAN;
	}
	return n;
}

static bool ordered(const double *v, int n, bool asc)
{
	for (int i = 1; i < n; i++) {
		if (isnan(v[i]))
			continue; /* missing values sort last either way */
		if (isnan(v[i - 1]) || (asc ? v[i] < v[i - 1] : v[i] > v[i - 1]))
			return false;
	}
	return true;
}

/* The check script's JSON out of Chromium's --dump-dom output (text content, &-escaped). */
static cJSON *dumped_result(const char *dom)
{
	const char *a = strstr(dom, "<pre id=\"jb-test-result\">"), *b;
	char *json, *w;
	cJSON *root;

	if (!a)
		return NULL;
	a += strlen("<pre id=\"jb-test-result\">");
	b = strstr(a, "</pre>");
	if (!b)
		return NULL;
	json = malloc((size_t)(b - a) + 1);
	assert_non_null(json);
	w = json;
	for (const char *p = a; p < b;) {
		if (!strncmp(p, "&amp;", 5)) {
			*w++ = '&';
			p += 5;
		} else if (!strncmp(p, "&lt;", 4)) {
			*w++ = '<';
			p += 4;
		} else if (!strncmp(p, "&gt;", 4)) {
			*w++ = '>';
			p += 4;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	root = cJSON_Parse(json);
	free(json);
	return root;
}

static void test_results_page(void **state)
{
	struct rpt_result *rs[N_RESULTS];
	struct rpt_report_opts o = {.scripts_dir = "scripts", .cloud_dir = "configs/cloud",
	                            .title = "Fifty results"};
	char *dir = tu_mkdtemp(), path[1200], note[RPT_ERR_LEN] = "", err[RPT_ERR_LEN] = "";
	char *html, *page, *check, *out = NULL, *errs = NULL, cmd[4096];
	const char *chromium;
	int n_est, rows, svgs, rc;
	cJSON *res;

	(void)state;
	make_results(rs, &n_est);
	/* a hostile machine name must reach the page as text, not markup */
	snprintf(rs[49]->cpu_model, sizeof rs[49]->cpu_model, "<script>alert(1)</script>");
	o.out_dir = dir;
	assert_int_equal(rpt_report_write(rs, N_RESULTS, &o, note, sizeof note, err, sizeof err), 0);
	snprintf(path, sizeof path, "%s/index.html", dir);
	html = tu_read_file(path, NULL);
	assert_non_null(html);
	rows = count_of(html, "<tr data-kind=");
	assert_int_equal(rows, N_RESULTS * rs[0]->n_configs);
	assert_int_equal(count_of(html, "<tr data-kind=\"ESTIMATED\""), n_est);
	assert_null(strstr(html, "<script>alert(1)"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	/* self-contained: nothing is fetched */
	assert_null(strstr(html, "src=\"http"));
	assert_null(strstr(html, "href=\"http"));
	assert_null(strstr(html, "<link"));
	assert_null(strstr(html, "@import"));
	svgs = count_of(html, "<svg");
	if (!note[0])
		assert_true(svgs >= 3); /* timelines, the comparison, the latency CDF at least */

	chromium = chromium_path();
	if (!chromium) {
		free(html);
		for (int i = 0; i < N_RESULTS; i++)
			rpt_result_free(rs[i]);
		tu_rmtree(dir);
		free(dir);
		TU_SKIP("Chromium not installed: the page was checked without a browser "
		        "(scripts/install-deps.sh --browser installs it)");
	}
	/* the page with the check script appended, run headless */
	check = tu_read_file("tests/browser/page-check.js", NULL);
	assert_non_null(check);
	{
		char *end = strstr(html, "</body>");
		size_t head;

		assert_non_null(end);
		head = (size_t)(end - html);
		page = malloc(strlen(html) + strlen(check) + 64);
		assert_non_null(page);
		memcpy(page, html, head);
		sprintf(page + head, "<script>\n%s</script>\n%s", check, end);
	}
	snprintf(path, sizeof path, "%s/page-test.html", dir);
	assert_int_equal(tu_write_file(path, page, strlen(page)), 0);
	snprintf(cmd, sizeof cmd,
	         "'%s' --headless --no-sandbox --disable-gpu --no-first-run "
	         "--user-data-dir='%s/profile' --enable-logging=stderr --v=0 "
	         "--virtual-time-budget=5000 --window-size=1280,2000 --dump-dom 'file://%s'",
	         chromium, dir, path);
	rc = tu_run(cmd, 120, &out, &errs);
	if (rc != 0)
		fprintf(stderr, "chromium exit %d\n%s\n", rc, errs ? errs : "");
	assert_int_equal(rc, 0);
	res = dumped_result(out);
	if (!res)
		fprintf(stderr, "no result in the dumped page (%zu bytes: %.300s); chromium said:\n%s\n", strlen(out), out, errs);
	assert_non_null(res);
	{
		const cJSON *e = cJSON_GetObjectItem(res, "errors"), *it;
		double orig[400], asc[400], desc[400];
		int no, na, nd, n_f = 0;

		if (cJSON_GetArraySize(e) > 0)
			fprintf(stderr, "script errors: %s\n", cJSON_PrintUnformatted(e));
		assert_int_equal(cJSON_GetArraySize(e), 0);
		assert_null(strstr(errs, "Uncaught"));
		/* every plot renders with a size */
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(res, "svgs")), svgs);
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(res, "svgs"))
		{
			assert_true(cJSON_GetArrayItem(it, 0)->valuedouble > 50);
			assert_true(cJSON_GetArrayItem(it, 1)->valuedouble > 50);
		}
		assert_int_equal(cJSON_GetObjectItem(res, "rows")->valueint, rows);
		/* sorting: the first click ascends, the second descends, and the order changed */
		no = numbers(cJSON_GetObjectItem(res, "original"), orig, 400);
		na = numbers(cJSON_GetObjectItem(res, "asc"), asc, 400);
		nd = numbers(cJSON_GetObjectItem(res, "desc"), desc, 400);
		assert_int_equal(no, rows);
		assert_int_equal(na, rows);
		assert_int_equal(nd, rows);
		assert_false(ordered(orig, no, true));
		assert_true(ordered(asc, na, true));
		assert_true(ordered(desc, nd, false));
		assert_true(asc[0] < desc[0]);
		/* filtering: machine-03 holds results 15..19 */
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(res, "filtered_hosts"))
		{
			assert_non_null(strstr(it->valuestring, "machine-03"));
			n_f++;
		}
		assert_int_equal(n_f, 5 * rs[0]->n_configs);
		n_f = 0;
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(res, "estimated_kinds"))
		{
			assert_string_equal(it->valuestring, "ESTIMATED");
			n_f++;
		}
		assert_int_equal(n_f, n_est);
		assert_int_equal(cJSON_GetObjectItem(res, "rows_after")->valueint, rows);
	}
	cJSON_Delete(res);
	free(out);
	free(errs);
	out = errs = NULL;

	/* screenshots for people: desktop and phone widths */
	mkdir("build", 0755);
	mkdir("build/test-artifacts", 0755);
	snprintf(path, sizeof path, "%s/index.html", dir);
	for (int w = 0; w < 2; w++) {
		const char *shot = w ? "build/test-artifacts/results-page-phone.png"
		                     : "build/test-artifacts/results-page.png";
		struct stat st;

		unlink(shot);
		snprintf(cmd, sizeof cmd,
		         "'%s' --headless --no-sandbox --disable-gpu --no-first-run "
		         "--user-data-dir='%s/profile' --hide-scrollbars --window-size=%s "
		         "--screenshot='%s' 'file://%s'",
		         chromium, dir, w ? "390,1600" : "1280,2400", shot, path);
		rc = tu_run(cmd, 120, &out, &errs);
		assert_int_equal(rc, 0);
		assert_int_equal(stat(shot, &st), 0);
		assert_true(st.st_size > 10000);
		free(out);
		free(errs);
		out = errs = NULL;
	}
	tu_note("results page screenshots: build/test-artifacts/results-page.png, "
	        "results-page-phone.png");
	free(check);
	free(page);
	free(html);
	for (int i = 0; i < N_RESULTS; i++)
		rpt_result_free(rs[i]);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_results_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
