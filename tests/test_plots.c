/*
 * tests/test_plots.c — every scripts/plot-*.gp renders a non-empty PNG and SVG from the .dat
 * files joulebench writes for fixture results (skipped, with the reason, without gnuplot), the
 * estimated marking reaches the image, and a missing gnuplot is a clear message, not a failure.
 */
#include "helpers/testutil.h"

#include "reports/reports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FIX "tests/fixtures/results/"

static const char *const fixtures[] = {FIX "laptop-7b-measured.json",
                                       FIX "desktop-8b-estimated.json", FIX "kernels.json"};
#define N_FIX 3

static void load_all(struct rpt_result **rs)
{
	char err[RPT_ERR_LEN] = "";

	for (int i = 0; i < N_FIX; i++)
		if (rpt_result_load(fixtures[i], &rs[i], err, sizeof err)) {
			fprintf(stderr, "%s\n", err);
			fail();
		}
}

static const struct rpt_plot *find(const struct rpt_plot *p, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(p[i].name, name))
			return &p[i];
	fprintf(stderr, "no plot named %s\n", name);
	fail();
	return NULL;
}

static char *read_in(const char *dir, const char *file, size_t *len)
{
	char path[1024];

	snprintf(path, sizeof path, "%s/%s", dir, file);
	return tu_read_file(path, len);
}

static void test_every_script_renders(void **state)
{
	struct rpt_result *rs[N_FIX];
	struct rpt_plot plots[RPT_MAX_PLOTS];
	char *dir, why[RPT_ERR_LEN] = "", skipped[RPT_ERR_LEN] = "", err[RPT_ERR_LEN] = "";
	const char *names[] = {"power-timeline-0", "jpt-cloud", "threads",
	                       "latency-cdf",      "compare",   "roofline"};
	int n;

	(void)state;
	if (!rpt_gnuplot_available(why, sizeof why))
		TU_SKIP("%s", why);
	dir = tu_mkdtemp();
	load_all(rs);
	n = rpt_plots_write(rs, N_FIX, dir, "scripts", "configs/cloud", plots, skipped,
	                    sizeof skipped, err, sizeof err);
	if (n < 0)
		fprintf(stderr, "%s\n", err);
	/* one plot per script: the laptop result has samples, phases and a thread sweep, the
	 * desktop makes a comparison possible, the kernels result gives the bandwidth bound */
	assert_int_equal(n, 6);
	assert_string_equal(skipped, "");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct rpt_plot *p = find(plots, n, names[i]);
		size_t png_len = 0, svg_len = 0;
		char *png = read_in(dir, p->png, &png_len), *svg = read_in(dir, p->svg, &svg_len);

		assert_non_null(png);
		assert_non_null(svg);
		assert_true(png_len > 1000);
		assert_memory_equal(png, "\x89PNG", 4);
		assert_non_null(strstr(svg, "<svg"));
		free(png);
		free(svg);
	}
	/* the desktop's energy is estimated: the comparison says so on the image */
	{
		char *svg = read_in(dir, "compare.svg", NULL);

		assert_true(find(plots, n, "compare")->estimated);
		assert_non_null(strstr(svg, "ESTIMATED"));
		free(svg);
		svg = read_in(dir, "power-timeline-0.svg", NULL);
		assert_false(find(plots, n, "power-timeline-0")->estimated);
		assert_null(strstr(svg, "ESTIMATED power"));
		assert_non_null(strstr(svg, "decode"));
		free(svg);
	}
	/* the data stay next to the images: the CDF of 5 reps × 127 latencies ends at 1 */
	{
		char *dat = read_in(dir, "latency-cdf.dat", NULL);

		assert_non_null(dat);
		assert_non_null(strstr(dat, "laptop-7b-measured.json 4t q4_0"));
		assert_non_null(strstr(dat, " 1\n"));
		free(dat);
	}
	/* a bandwidth bound applies to its own machine only: the kernels fixture (host ci-vm)
	 * bounds its matvec rows, not the laptop's runs */
	{
		char *dat = read_in(dir, "roofline.dat", NULL), *line;

		assert_non_null(dat);
		line = strstr(dat, "\"laptop-7b-measured.json 4t\"");
		assert_non_null(line);
		line = strchr(line, '\n');
		assert_non_null(line);
		assert_memory_equal(line - 2, " ?", 2);
		line = strstr(dat, "\"matvec_q4_0\"");
		assert_non_null(line);
		line = strchr(line, '\n');
		assert_non_null(line);
		assert_false(line[-1] == '?');
		free(dat);
	}
	for (int i = 0; i < N_FIX; i++)
		rpt_result_free(rs[i]);
	tu_rmtree(dir);
	free(dir);
}

/* An estimated power timeline carries the marking on the image itself. */
static void test_estimated_timeline(void **state)
{
	struct rpt_result *r = NULL;
	struct rpt_plot plots[RPT_MAX_PLOTS];
	char *dir, why[RPT_ERR_LEN] = "", err[RPT_ERR_LEN] = "", *svg;
	int n;

	(void)state;
	if (!rpt_gnuplot_available(why, sizeof why))
		TU_SKIP("%s", why);
	assert_int_equal(rpt_result_load(FIX "laptop-7b-measured.json", &r, err, sizeof err), 0);
	snprintf(r->sources[0].kind, sizeof r->sources[0].kind, "estimated");
	dir = tu_mkdtemp();
	n = rpt_plots_write(&r, 1, dir, "scripts", "configs/cloud", plots, NULL, 0, err,
	                    sizeof err);
	assert_true(n >= 1);
	assert_true(find(plots, n, "power-timeline-0")->estimated);
	svg = read_in(dir, "power-timeline-0.svg", NULL);
	assert_non_null(strstr(svg, "ESTIMATED power"));
	free(svg);
	rpt_result_free(r);
	tu_rmtree(dir);
	free(dir);
}

/* Scripts refuse to run without their arguments (exit status, not a silent empty image). */
static void test_scripts_check_arguments(void **state)
{
	const char *scripts[] = {"plot-power-timeline.gp", "plot-jpt-cloud.gp", "plot-threads.gp",
	                         "plot-latency-cdf.gp",    "plot-compare.gp",   "plot-roofline.gp",
	                         "plot-sweep.gp"};
	char why[RPT_ERR_LEN], err[RPT_ERR_LEN], path[128];

	(void)state;
	if (!rpt_gnuplot_available(why, sizeof why))
		TU_SKIP("%s", why);
	for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
		snprintf(path, sizeof path, "scripts/%s", scripts[i]);
		assert_int_equal(rpt_gnuplot_run(path, NULL, err, sizeof err), -EIO);
		assert_non_null(strstr(err, scripts[i]));
	}
}

/* A failing script is named and the rest still render (here every script is missing). */
static void test_failing_script_is_reported(void **state)
{
	struct rpt_result *rs[N_FIX];
	struct rpt_plot plots[RPT_MAX_PLOTS];
	char *dir, why[RPT_ERR_LEN] = "", skipped[RPT_ERR_LEN] = "", err[RPT_ERR_LEN] = "";

	(void)state;
	if (!rpt_gnuplot_available(why, sizeof why))
		TU_SKIP("%s", why);
	dir = tu_mkdtemp();
	load_all(rs);
	assert_int_equal(rpt_plots_write(rs, N_FIX, dir, "/nonexistent-scripts", "configs/cloud",
	                                 plots, skipped, sizeof skipped, err, sizeof err),
	                 0);
	assert_non_null(
	    strstr(skipped, "gnuplot -c /nonexistent-scripts/plot-power-timeline.gp failed"));
	assert_non_null(strstr(skipped, "gnuplot.log"));
	for (int i = 0; i < N_FIX; i++)
		rpt_result_free(rs[i]);
	tu_rmtree(dir);
	free(dir);
}

static void test_missing_gnuplot(void **state)
{
	struct rpt_result *rs[N_FIX];
	struct rpt_plot plots[RPT_MAX_PLOTS];
	char *dir = tu_mkdtemp(), skipped[RPT_ERR_LEN] = "", err[RPT_ERR_LEN] = "", *dat;

	(void)state;
	load_all(rs);
	setenv("JOULEBENCH_GNUPLOT", "/nonexistent/gnuplot", 1);
	assert_false(rpt_gnuplot_available(NULL, 0));
	assert_int_equal(rpt_plots_write(rs, N_FIX, dir, "scripts", "configs/cloud", plots, skipped,
	                                 sizeof skipped, err, sizeof err),
	                 0);
	unsetenv("JOULEBENCH_GNUPLOT");
	assert_non_null(strstr(skipped, "gnuplot not available ('/nonexistent/gnuplot' not found"));
	/* the data files are still written, for later rendering */
	dat = read_in(dir, "jpt-cloud.dat", NULL);
	assert_non_null(dat);
	assert_non_null(strstr(dat, "\"local (measured)\" 3.2 3 3.4 0"));
	assert_non_null(strstr(dat, "\"ecologits-h100\""));
	free(dat);
	for (int i = 0; i < N_FIX; i++)
		rpt_result_free(rs[i]);
	tu_rmtree(dir);
	free(dir);
}

/* Without energy figures the thread sweep and the comparison still plot tokens/s (the energy
 * axis is left out and the image says why). */
static void test_threads_without_energy(void **state)
{
	struct rpt_result *r = NULL;
	struct rpt_plot plots[RPT_MAX_PLOTS];
	char *dir, why[RPT_ERR_LEN] = "", err[RPT_ERR_LEN] = "", *svg;
	int n;

	(void)state;
	if (!rpt_gnuplot_available(why, sizeof why))
		TU_SKIP("%s", why);
	struct rpt_result *rs[2] = {NULL, NULL};

	assert_int_equal(rpt_result_load(FIX "vm-no-energy.json", &rs[0], err, sizeof err), 0);
	assert_int_equal(rpt_result_load(FIX "vm-no-energy.json", &rs[1], err, sizeof err), 0);
	r = rs[0];
	dir = tu_mkdtemp();
	n = rpt_plots_write(rs, 2, dir, "scripts", "configs/cloud", plots, NULL, 0, err,
	                    sizeof err);
	if (n < 0)
		fprintf(stderr, "%s\n", err);
	assert_true(n >= 3);
	find(plots, n, "threads");
	svg = read_in(dir, "threads.svg", NULL);
	assert_non_null(strstr(svg, "no energy figures in this result"));
	free(svg);
	find(plots, n, "compare");
	svg = read_in(dir, "compare.svg", NULL);
	assert_non_null(strstr(svg, "no energy figures in these results"));
	free(svg);
	rpt_result_free(r);
	rpt_result_free(rs[1]);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_script_renders),
	    cmocka_unit_test(test_estimated_timeline),
	    cmocka_unit_test(test_threads_without_energy),
	    cmocka_unit_test(test_scripts_check_arguments),
	    cmocka_unit_test(test_failing_script_is_reported),
	    cmocka_unit_test(test_missing_gnuplot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
