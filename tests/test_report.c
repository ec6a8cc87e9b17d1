/*
 * tests/test_report.c — report.md and report.html from fixture results: the sections are there,
 * the HTML is well-formed (a tag-balance checker below, and xmllint when installed), every image
 * the Markdown references exists and every HTML image is embedded; without gnuplot the report
 * still renders and says why there are no plots.
 */
#include "helpers/testutil.h"

#include "reports/reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define FIX "tests/fixtures/results/"

static const char *const fixtures[] = {FIX "laptop-7b-measured.json",
                                       FIX "desktop-8b-estimated.json", FIX "vm-no-energy.json",
                                       FIX "laptop-incomplete.json", FIX "kernels.json"};
#define N_FIX (int)(sizeof fixtures / sizeof fixtures[0])

static void load_all(struct rpt_result **rs)
{
	char err[RPT_ERR_LEN] = "";

	for (int i = 0; i < N_FIX; i++)
		if (rpt_result_load(fixtures[i], &rs[i], err, sizeof err)) {
			fprintf(stderr, "%s\n", err);
			fail();
		}
}

static void free_all(struct rpt_result **rs)
{
	for (int i = 0; i < N_FIX; i++)
		rpt_result_free(rs[i]);
}

static bool void_element(const char *name, size_t n)
{
	static const char *const v[] = {"meta", "img", "br", "hr", "link", "input", NULL};

	for (int i = 0; v[i]; i++)
		if (strlen(v[i]) == n && !strncasecmp(name, v[i], n))
			return true;
	return false;
}

/* Checks that every opened element is closed in order. Returns NULL or a static message. */
static const char *check_tags(const char *html)
{
	static char msg[256];
	char stack[64][32];
	int depth = 0;
	const char *p = html;

	while ((p = strchr(p, '<'))) {
		const char *q = p + 1, *name, *end;
		bool closing = false, self = false;
		size_t n;
		char quote = 0;

		if (!strncmp(p, "<!--", 4)) {
			p = strstr(p, "-->");
			if (!p)
				return "unterminated comment";
			continue;
		}
		if (*q == '!') { /* doctype */
			p = strchr(p, '>');
			if (!p)
				return "unterminated doctype";
			continue;
		}
		if (*q == '/') {
			closing = true;
			q++;
		}
		name = q;
		while (*q && *q != ' ' && *q != '>' && *q != '/' && *q != '\n')
			q++;
		n = (size_t)(q - name);
		for (end = q; *end; end++) {
			if (quote) {
				if (*end == quote)
					quote = 0;
			} else if (*end == '"' || *end == '\'') {
				quote = *end;
			} else if (*end == '>') {
				break;
			}
		}
		if (!*end)
			return "unterminated tag";
		self = end[-1] == '/';
		if (n == 0 || n >= 32)
			return "bad tag name";
		if (closing) {
			if (depth == 0 || strlen(stack[depth - 1]) != n ||
			    strncasecmp(stack[depth - 1], name, n)) {
				snprintf(msg, sizeof msg, "</%.*s> closes <%s>", (int)n, name,
				         depth ? stack[depth - 1] : "(nothing)");
				return msg;
			}
			depth--;
		} else if (!self && !void_element(name, n)) {
			if (depth == 64)
				return "nesting too deep";
			snprintf(stack[depth++], 32, "%.*s", (int)n, name);
		}
		p = end + 1;
	}
	if (depth) {
		snprintf(msg, sizeof msg, "<%s> never closed", stack[depth - 1]);
		return msg;
	}
	return NULL;
}

static void test_checker_catches_errors(void **state)
{
	(void)state;
	assert_null(check_tags("<html><body><p>a <img src=\"x>y\" /> b</p></body></html>"));
	assert_non_null(check_tags("<html><body><p>a</body></html>"));
	assert_non_null(check_tags("<table><tr><td>x</tr></table>"));
	assert_non_null(check_tags("<div>"));
}

/* Every ![..](file) of the Markdown exists in dir; returns how many were referenced. */
static int md_images_exist(const char *md, const char *dir)
{
	const char *p = md;
	int n = 0;

	while ((p = strstr(p, "]("))) {
		const char *e = strchr(p, ')');
		char path[1024];
		struct stat st;
		const char *line = p;

		while (line > md && line[-1] != '\n')
			line--;
		if (line[0] != '!' || !e) {
			p += 2;
			continue;
		}
		snprintf(path, sizeof path, "%s/%.*s", dir, (int)(e - p - 2), p + 2);
		if (stat(path, &st) || st.st_size == 0) {
			fprintf(stderr, "referenced image missing: %s\n", path);
			fail();
		}
		n++;
		p = e;
	}
	return n;
}

/* Every <img src=...> is a non-empty embedded PNG. */
static int html_images_embedded(const char *html)
{
	const char *p = html;
	int n = 0;

	while ((p = strstr(p, "<img "))) {
		const char *src = strstr(p, "src=\"");

		assert_non_null(src);
		if (strncmp(src + 5, "data:image/png;base64,", 22) || src[5 + 22] == '"') {
			fprintf(stderr, "image not embedded: %.80s\n", src);
			fail();
		}
		n++;
		p = src;
	}
	return n;
}

static void xmllint_if_present(const char *path)
{
	char cmd[1200], *out = NULL, *err = NULL;
	int rc;

	rc = tu_run("command -v xmllint >/dev/null", 10, &out, &err);
	free(out);
	free(err);
	if (rc != 0)
		return;
	snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
	rc = tu_run(cmd, 60, &out, &err);
	if (rc != 0)
		fprintf(stderr, "xmllint: %s\n", err);
	assert_int_equal(rc, 0);
	free(out);
	free(err);
}

static void write_report(struct rpt_result **rs, int n, const char *dir, char *note,
                         size_t note_len)
{
	struct rpt_report_opts o = {
	    .out_dir = dir, .scripts_dir = "scripts", .cloud_dir = "configs/cloud", .grid = "fr"};
	char err[RPT_ERR_LEN] = "";

	if (rpt_report_write(rs, n, &o, note, note_len, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
}

static void test_report_full(void **state)
{
	struct rpt_result *rs[N_FIX];
	char *tmp = tu_mkdtemp(), dir[600], path[700], note[RPT_ERR_LEN];
	char *md, *html;
	const char *bad;
	bool gp = rpt_gnuplot_available(NULL, 0);
	int md_imgs, html_imgs;

	(void)state;
	load_all(rs);
	snprintf(dir, sizeof dir, "%s/out", tmp);
	write_report(rs, N_FIX, dir, note, sizeof note);
	snprintf(path, sizeof path, "%s/report.md", dir);
	md = tu_read_file(path, NULL);
	assert_non_null(md);
	snprintf(path, sizeof path, "%s/report.html", dir);
	html = tu_read_file(path, NULL);
	assert_non_null(html);
	/* the content a reader needs */
	const char *sections[] = {"## Results",
	                          "### laptop-7b-measured.json",
	                          "Intel(R) Core(TM) Ultra 7 155H",
	                          "claim-7b: 32 prompt tokens, 128 generated tokens",
	                          "## Comparison",
	                          "## Local vs cloud",
	                          "France",
	                          "## Claims",
	                          "## Sources of the figures",
	                          "**ESTIMATED**",
	                          "**INCOMPLETE**: interrupted by SIGINT",
	                          "no RAPL/powercap in this VM",
	                          "kernel microbenchmarks, 4 kernels",
	                          "ecologits-h100",
	                          "**Verdict: contradicted**",
	                          "## Cloud model constants",
	                          "| `ecologits-h100` | `a` | 1.1665e-06 |"};
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
		if (!strstr(md, sections[i])) {
			fprintf(stderr, "report.md lacks '%s'\n", sections[i]);
			fail();
		}
	}
	/* the two laptop-1 results share one list of unavailable probes; the VM keeps its own */
	{
		const char *first = strstr(md, "perf_event_paranoid is 2");

		assert_non_null(first);
		assert_null(strstr(first + 1, "perf_event_paranoid is 2"));
		assert_non_null(strstr(md, "Probes not used: the same as for "
		                           "`laptop-7b-measured.json` (same machine)."));
	}
	/* the HTML says the same, escaped */
	assert_non_null(strstr(html, "<h2>Local vs cloud</h2>"));
	assert_non_null(strstr(html, "<strong class=\"warn\">ESTIMATED</strong>"));
	assert_non_null(strstr(html, "<strong class=\"warn\">INCOMPLETE</strong>"));
	assert_non_null(strstr(html, "<strong>Machine:</strong>"));
	assert_non_null(strstr(html, "<table>"));
	bad = check_tags(html);
	if (bad) {
		fprintf(stderr, "report.html: %s\n", bad);
		fail();
	}
	xmllint_if_present(path);
	md_imgs = md_images_exist(md, dir);
	html_imgs = html_images_embedded(html);
	assert_int_equal(md_imgs, html_imgs);
	if (gp) {
		/* power timelines of the two laptop results (the others have no samples), J/token
		 * vs cloud, threads, latency CDF, comparison and roofline */
		assert_int_equal(md_imgs, 7);
		assert_string_equal(note, "");
		assert_non_null(strstr(md, "Contains ESTIMATED energy figures."));
	} else {
		tu_note("gnuplot not installed: checked the report without plots only");
	}
	free(md);
	free(html);
	free_all(rs);
	tu_rmtree(tmp);
	free(tmp);
}

static void test_report_without_gnuplot(void **state)
{
	struct rpt_result *rs[N_FIX];
	char *tmp = tu_mkdtemp(), path[700], note[RPT_ERR_LEN];
	char *md, *html;

	(void)state;
	load_all(rs);
	setenv("JOULEBENCH_GNUPLOT", "/nonexistent/gnuplot", 1);
	write_report(rs, 2, tmp, note, sizeof note);
	unsetenv("JOULEBENCH_GNUPLOT");
	assert_non_null(strstr(note, "gnuplot not available"));
	assert_non_null(strstr(note, "/nonexistent/gnuplot"));
	snprintf(path, sizeof path, "%s/report.md", tmp);
	md = tu_read_file(path, NULL);
	assert_non_null(md);
	assert_non_null(strstr(md, "plots skipped"));
	assert_null(strstr(md, "!["));
	assert_non_null(strstr(md, "## Claims"));
	snprintf(path, sizeof path, "%s/report.html", tmp);
	html = tu_read_file(path, NULL);
	assert_non_null(html);
	assert_null(check_tags(html));
	assert_null(strstr(html, "<img"));
	free(md);
	free(html);
	free_all(rs);
	tu_rmtree(tmp);
	free(tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checker_catches_errors),
	    cmocka_unit_test(test_report_full),
	    cmocka_unit_test(test_report_without_gnuplot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
