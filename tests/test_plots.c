/*
 * tests/test_plots.c — every scripts/plot-*.gp renders a non-empty PNG and SVG from the .dat
 * files joulebench writes for fixture results (skipped, with the reason, without gnuplot), the
 * estimated marking reaches the image, and a missing gnuplot is a clear message, not a failure.
 */
#include "helpers/testutil.h"

#include "reports/reports.h"

#include <cJSON.h>

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


/* The canvas width of a gnuplot SVG and, for the text element whose content is `text`, its
 * anchor x, anchor kind and font size. Returns false when the text is not in the file. */
static bool svg_text_box(const char *svg, const char *text, double *canvas_w, double *x,
                         char anchor[16], double *font_px)
{
	char needle[256];
	const char *hit, *g, *p;

	p = strstr(svg, "<svg");
	assert_non_null(p);
	p = strstr(p, "width=\"");
	assert_non_null(p);
	*canvas_w = strtod(p + 7, NULL);
	/* enhanced text is a <tspan>, noenhanced text a plain <text> */
	snprintf(needle, sizeof needle, ">%s</tspan>", text);
	hit = strstr(svg, needle);
	if (!hit) {
		snprintf(needle, sizeof needle, "<text>%s</text>", text);
		hit = strstr(svg, needle);
	}
	if (!hit)
		return false;
	/* the <g transform="translate(x,y)" ... font-size="N" text-anchor="A"> before it */
	for (g = hit; g > svg && strncmp(g, "<g transform=\"translate(", 24); g--)
		;
	if (g == svg)
		return false;
	*x = strtod(g + 24, NULL);
	p = strstr(g, "font-size=\"");
	*font_px = p && p < hit ? strtod(p + 11, NULL) : 10;
	p = strstr(g, "text-anchor=\"");
	snprintf(anchor, 16, "%s", "start");
	if (p && p < hit)
		sscanf(p + 13, "%15[a-z]", anchor);
	return true;
}

/* Whether `title` lies inside the canvas of dir/svg_file: its extent, at a generous 0.62 em
 * per character of the sans font, starts at x >= 0 and ends at x <= the canvas width. */
static bool title_fits(const char *dir, const char *svg_file, const char *title)
{
	char *svg = read_in(dir, svg_file, NULL), anchor[16];
	double w, x, font, len, left, right;
	bool found;

	assert_non_null(svg);
	found = svg_text_box(svg, title, &w, &x, anchor, &font);
	free(svg);
	if (!found) {
		fprintf(stderr, "%s: title '%s' not found as one text element\n", svg_file, title);
		return false;
	}
	len = 0.62 * font * (double)strlen(title);
	left = !strcmp(anchor, "middle") ? x - len / 2 : !strcmp(anchor, "end") ? x - len : x;
	right = left + len;
	if (left < 0 || right > w) {
		fprintf(stderr, "%s: title '%s' spans %.0f..%.0f of a %.0f px canvas\n", svg_file,
		        title, left, right, w);
		return false;
	}
	return true;
}

static void check_svg_title(const char *dir, const struct rpt_plot *p)
{
	assert_true(title_fits(dir, p->svg, p->title));
}

/* The legend of an SVG: gnuplot writes each titled series as <g id="gnuplot_plot_N"><title>T
 * (untitled ones keep the title "gnuplot_plot_N"). Returns the entries joined by '|'. */
static void svg_legend(const char *dir, const char *file, char *out, size_t len)
{
	char *svg = read_in(dir, file, NULL);
	const char *p;

	assert_non_null(svg);
	out[0] = '\0';
	for (p = svg; (p = strstr(p, "<g id=\"gnuplot_plot_")) != NULL; p++) {
		const char *t = strstr(p, "<title>"), *e;

		if (!t || !(e = strstr(t, "</title>")))
			break;
		t += 7;
		if (!strncmp(t, "gnuplot_plot_", 13))
			continue;
		snprintf(out + strlen(out), len - strlen(out), "%s%.*s", out[0] ? "|" : "",
		         (int)(e - t), t);
	}
	free(svg);
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
	 * bounds its matvec rows; the laptop's runs have no bound there and are left out */
	{
		char *dat = read_in(dir, "roofline.dat", NULL), *line;

		assert_non_null(dat);
		assert_null(strstr(dat, "laptop-7b-measured.json"));
		line = strstr(dat, "\"matvec_q4_0\" 9 12 ");
		assert_non_null(line);
		free(dat);
	}
	{
		char legend[512];

		svg_legend(dir, "compare.svg", legend, sizeof legend);
		assert_string_equal(legend,
		                    "decode tok/s|tokens/J (measured)|tokens/J (ESTIMATED)");
	}
	/* every image: title inside the canvas, legend = what is drawn */
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		check_svg_title(dir, find(plots, n, names[i]));
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
	const char *scripts[] = {"plot-power-timeline.gp", "plot-jpt-cloud.gp", "plot-sweep.gp",
	                         "plot-latency-cdf.gp",    "plot-compare.gp",   "plot-roofline.gp"};
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
	{
		char legend[256];

		svg_legend(dir, "compare.svg", legend, sizeof legend);
		assert_string_equal(legend, "decode tok/s");
	}
	rpt_result_free(r);
	rpt_result_free(rs[1]);
	tu_rmtree(dir);
	free(dir);
}

/* Legends list only what is drawn: a measured local bar and no estimated one; cloud kinds that
 * are there; the power timeline's phases that the run has. And the title check can fail: the
 * long title this plot once had runs off its canvas. */
static void test_legends_and_titles(void **state)
{
	struct rpt_result *r = NULL;
	struct rpt_plot plots[RPT_MAX_PLOTS];
	char *dir, why[RPT_ERR_LEN] = "", err[RPT_ERR_LEN] = "", legend[1024], want[512] = "";
	char *phases, *line;
	static const char *const phase_names[] = {"", "prefill", "decode", "warm-up", "idle",
	                                          "cool-down"};
	bool seen[6] = {false};
	int n;

	(void)state;
	if (!rpt_gnuplot_available(why, sizeof why))
		TU_SKIP("%s", why);
	assert_int_equal(rpt_result_load(FIX "laptop-7b-measured.json", &r, err, sizeof err), 0);
	dir = tu_mkdtemp();
	n = rpt_plots_write(&r, 1, dir, "scripts", "configs/cloud", plots, NULL, 0, err,
	                    sizeof err);
	assert_true(n >= 2);
	svg_legend(dir, "jpt-cloud.svg", legend, sizeof legend);
	assert_string_equal(legend, "low-high range / 95% CI|local, measured|"
	                            "cloud, same model (estimate)|cloud, published per-prompt");
	check_svg_title(dir, find(plots, n, "jpt-cloud"));

	/* the phases legend follows the phases file */
	phases = read_in(dir, "power-timeline-0-phases.dat", NULL);
	assert_non_null(phases);
	for (line = phases; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		double a, b;
		int code;

		if (sscanf(line, "%lf %lf %d", &a, &b, &code) == 3 && code >= 1 && code <= 5)
			seen[code] = true;
	}
	free(phases);
	for (int c = 1; c <= 5; c++)
		if (seen[c])
			snprintf(want + strlen(want), sizeof want - strlen(want), "%s|", phase_names[c]);
	assert_true(seen[1] && seen[2]);
	assert_false(seen[5]); /* no cool-down in this fixture: its legend entry must not show */
	strcat(want, "power (W)");
	svg_legend(dir, "power-timeline-0.svg", legend, sizeof legend);
	assert_string_equal(legend, want);

	/* negative control: the old one-line title does not fit the same canvas */
	{
		const char *old = "J/token: tests/fixtures/results/laptop-7b-measured.json vs "
		                  "cloud-equivalent estimates (ranges: CI / low-high) - no local energy "
		                  "figure in the result";
		char dat[1200], out[1200];
		const char *args[] = {dat, out, old, "0", "023", NULL};

		snprintf(dat, sizeof dat, "%s/jpt-cloud.dat", dir);
		snprintf(out, sizeof out, "%s/old-title", dir);
		assert_int_equal(rpt_gnuplot_run("scripts/plot-jpt-cloud.gp", args, err, sizeof err), 0);
		assert_false(title_fits(dir, "old-title.svg", old));
	}
	rpt_result_free(r);
	tu_rmtree(dir);
	free(dir);
}

/* The roofline is drawn only against a bound from the same machine: without one it is left out
 * with the reason; with one configuration it is a row in words; with a sweep it is a plot that
 * also shows tokens/s against the bandwidth-bound tokens/s. */
static void test_roofline_needs_a_bound(void **state)
{
	struct rpt_result *rs[2] = {NULL, NULL};
	struct rpt_plot plots[RPT_MAX_PLOTS];
	const struct rpt_plot *p;
	char *dir, why[RPT_ERR_LEN] = "", err[RPT_ERR_LEN] = "", legend[512];
	int n;

	(void)state;
	if (!rpt_gnuplot_available(why, sizeof why))
		TU_SKIP("%s", why);
	assert_int_equal(rpt_result_load(FIX "laptop-7b-measured.json", &rs[0], err, sizeof err), 0);
	assert_int_equal(rpt_result_load(FIX "kernels.json", &rs[1], err, sizeof err), 0);
	dir = tu_mkdtemp();

	/* no bound for the laptop anywhere */
	n = rpt_plots_write(rs, 1, dir, "scripts", "configs/cloud", plots, NULL, 0, err, sizeof err);
	p = find(plots, n, "roofline");
	assert_string_equal(p->png, "");
	assert_non_null(strstr(p->left_out, "no memory bandwidth bound was measured"));

	/* the kernels result measured on the laptop, without its own kernel rows */
	snprintf(rs[1]->hostname, sizeof rs[1]->hostname, "%s", rs[0]->hostname);
	snprintf(rs[1]->cpu_model, sizeof rs[1]->cpu_model, "%s", rs[0]->cpu_model);
	cJSON_DeleteItemFromObjectCaseSensitive(rs[1]->json, "kernels");
	{
		int keep = rs[0]->n_configs;

		rs[0]->n_configs = 1; /* one configuration: one data point */
		n = rpt_plots_write(rs, 2, dir, "scripts", "configs/cloud", plots, NULL, 0, err,
		                    sizeof err);
		rs[0]->n_configs = keep;
	}
	p = find(plots, n, "roofline");
	assert_string_equal(p->png, "");
	assert_non_null(strstr(p->left_out, "one data point"));
	assert_non_null(strstr(p->left_out, "GB/s bound"));
	assert_non_null(strstr(p->left_out, "tokens/s of a bandwidth-bound"));

	/* the whole thread sweep: a plot with both panels */
	n = rpt_plots_write(rs, 2, dir, "scripts", "configs/cloud", plots, NULL, 0, err, sizeof err);
	p = find(plots, n, "roofline");
	assert_string_equal(p->left_out, "");
	assert_string_equal(p->png, "roofline.png");
	svg_legend(dir, "roofline.svg", legend, sizeof legend);
	assert_string_equal(legend, "achieved|measured bound (same machine)|achieved|"
	                            "bandwidth-bound tokens/s");
	assert_true(title_fits(dir, "roofline.svg", p->title));
	rpt_result_free(rs[0]);
	rpt_result_free(rs[1]);
	tu_rmtree(dir);
	free(dir);
}

/* A run that sweeps weight types and prompt lengths (and not threads) gets a plot for each of
 * those, ordered widest type first and by prompt length, and no thread plot. */
static void test_type_and_prompt_sweeps(void **state)
{
	struct rpt_result *r = NULL;
	struct rpt_plot plots[RPT_MAX_PLOTS];
	char *dir, why[RPT_ERR_LEN] = "", err[RPT_ERR_LEN] = "", *dat, legend[512];
	int n, p;

	(void)state;
	if (!rpt_gnuplot_available(why, sizeof why))
		TU_SKIP("%s", why);
	assert_int_equal(rpt_result_load(FIX "laptop-7b-measured.json", &r, err, sizeof err), 0);
	assert_int_equal(r->n_configs, 3);
	/* the headline is the fastest (4 threads, q4_0); the others differ from it in one setting */
	p = r->configs[2].prompt_tokens;
	assert_int_equal(r->configs[2].threads, 4);
	r->configs[1].threads = 4;
	snprintf(r->configs[1].type, sizeof r->configs[1].type, "q8_0");
	r->configs[0].threads = 4;
	r->configs[0].prompt_tokens = 2 * p;
	dir = tu_mkdtemp();
	n = rpt_plots_write(&r, 1, dir, "scripts", "configs/cloud", plots, NULL, 0, err,
	                    sizeof err);
	assert_true(n > 0);
	for (int i = 0; i < n; i++)
		assert_string_not_equal(plots[i].name, "threads");
	check_svg_title(dir, find(plots, n, "types"));
	check_svg_title(dir, find(plots, n, "prompt"));
	dat = read_in(dir, "types.dat", NULL);
	assert_non_null(dat);
	assert_true(strstr(dat, "\"q8_0\"") < strstr(dat, "\"q4_0\"")); /* widest first */
	assert_non_null(strstr(dat, "0 \"q8_0\" 7 "));                  /* config 1's 7 tok/s */
	free(dat);
	dat = read_in(dir, "prompt.dat", NULL);
	assert_non_null(dat);
	{
		char a[32], b[32];

		snprintf(a, sizeof a, "\n%d \"%d\"", p, p);
		snprintf(b, sizeof b, "\n%d \"%d\"", 2 * p, 2 * p);
		assert_non_null(strstr(dat, a));
		assert_true(strstr(dat, a) < strstr(dat, b));
	}
	free(dat);
	svg_legend(dir, "prompt.svg", legend, sizeof legend);
	assert_string_equal(legend, "prefill tok/s (median, 95% CI)|J/prefill token (median, 95% CI)");
	rpt_result_free(r);
	tu_rmtree(dir);
	free(dir);
}

/* A concurrency sweep's plot carries every cloud profile's J/token as a band across the levels,
 * labelled with the profile, the same estimates the J/token-vs-cloud bars show. */
static void test_concurrency_cloud_bands(void **state)
{
	struct rpt_result *r = NULL;
	struct rpt_plot plots[RPT_MAX_PLOTS];
	char *dir, why[RPT_ERR_LEN] = "", err[RPT_ERR_LEN] = "", *dat, *bars, *svg, legend[512];
	char skipped[RPT_ERR_LEN] = "", *line, *save = NULL, *block;
	int n, rows = 0;

	(void)state;
	if (!rpt_gnuplot_available(why, sizeof why))
		TU_SKIP("%s", why);
	assert_int_equal(rpt_result_load(FIX "laptop-7b-measured.json", &r, err, sizeof err), 0);
	assert_int_equal(r->n_configs, 3);
	/* three levels of one configuration: 1, 2 and 4 streams */
	for (int i = 0; i < 3; i++) {
		r->configs[i].threads = r->configs[2].threads;
		r->configs[i].prompt_tokens = r->configs[2].prompt_tokens;
		if (i < 2)
			snprintf(r->configs[i].type, sizeof r->configs[i].type, "%s", r->configs[2].type);
		r->configs[i].concurrency = 1 << i;
	}
	dir = tu_mkdtemp();
	n = rpt_plots_write(&r, 1, dir, "scripts", "configs/cloud", plots, skipped, sizeof skipped,
	                    err, sizeof err);
	if (n < 0)
		fail_msg("%s", err);
	if (skipped[0])
		fail_msg("not drawn: %s", skipped);
	check_svg_title(dir, find(plots, n, "sweep"));
	dat = read_in(dir, "sweep.dat", NULL);
	bars = read_in(dir, "jpt-cloud.dat", NULL);
	svg = read_in(dir, "sweep.svg", NULL);
	assert_non_null(dat);
	assert_non_null(bars);
	assert_non_null(svg);
	block = strstr(dat, "\n\n\n# cloud-equivalent");
	assert_non_null(block);
	/* every cloud bar of the other plot is a band here, from level 1 to level 4 */
	for (line = strtok_r(bars, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char label[128], want[200];
		double j, lo, hi;
		int idx, kind;

		if (sscanf(line, "%d \"%127[^\"]\" %lf %lf %lf %d", &idx, label, &j, &lo, &hi, &kind) != 6 ||
		    kind < 2)
			continue;
		snprintf(want, sizeof want, " %.6g 1 4 %.6g %.6g \"%s\"\n", j, lo, hi, label);
		if (!strstr(block, want))
			fail_msg("no band '%s' in sweep.dat:\n%s", want, block);
		snprintf(want, sizeof want, ">%s<", label);
		if (!strstr(svg, want))
			fail_msg("the band of %s is not labelled in sweep.svg", label);
		rows++;
	}
	assert_true(rows >= 3);
	svg_legend(dir, "sweep.svg", legend, sizeof legend);
	assert_string_equal(legend, "cloud-equivalent J/token (low-high, one band per profile)|"
	                            "decode tok/s (median, 95% CI)|J/decode token (median, 95% CI)");
	assert_non_null(strstr(svg, "(log scale)"));
	free(dat);
	free(bars);
	free(svg);
	rpt_result_free(r);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_script_renders),
	    cmocka_unit_test(test_legends_and_titles),
	    cmocka_unit_test(test_roofline_needs_a_bound),
	    cmocka_unit_test(test_type_and_prompt_sweeps),
	    cmocka_unit_test(test_concurrency_cloud_bands),
	    cmocka_unit_test(test_estimated_timeline),
	    cmocka_unit_test(test_threads_without_energy),
	    cmocka_unit_test(test_scripts_check_arguments),
	    cmocka_unit_test(test_failing_script_is_reported),
	    cmocka_unit_test(test_missing_gnuplot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
