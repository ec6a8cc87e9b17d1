/*
 * tests/test_cloud.c — the cloud-equivalent models against values worked out by hand from the
 * cited equations (configs/cloud/NAME.json), profile validation, grid and network figures, and the
 * local-vs-cloud table on fixture results.
 */
#include "helpers/testutil.h"

#include "reports/reports.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIR "configs/cloud"

static void load(const char *name, struct rpt_cloud_profile *p)
{
	char path[256], err[RPT_ERR_LEN] = "";

	snprintf(path, sizeof path, DIR "/%s.json", name);
	if (rpt_cloud_profile_load(path, p, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
}

static void near(double got, double want, double rel)
{
	if (!(fabs(got - want) <= rel * fabs(want))) {
		fprintf(stderr, "got %.6g, want %.6g (±%.2g%%)\n", got, want, rel * 100);
		fail();
	}
}

/*
 * EcoLogits, 8B parameters, batch 64, PUE 1.2 (the profile's defaults):
 *   memory M = 1.2 * 8 * 16 / 8 = 19.2 GB → ceil(19.2 / 80) = 1 → 1 GPU
 *   f_E = 1.1665e-6 * exp(-1.1206e-2 * 64) * 8 + 4.0529e-5
 *       = 1.1665e-6 * 0.488120 * 8 + 4.0529e-5 = 4.5551e-6 + 4.0529e-5 = 4.50841e-5 Wh
 *       = 0.162303 J per token per GPU
 *   f_L = 6.785e-4 * 8 + 3.119e-4 * 64 + 1.947e-2 = 0.005428 + 0.0199616 + 0.01947 = 0.0448596 s
 *   server share per token = 0.0448596 s * 1200 W * (1/8) / 64 = 0.105140 J
 *   E = 1.2 * (0.105140 + 1 * 0.162303) = 0.320931 J/token   (EcoLogits quotes ≈ 0.32)
 *   500 tokens: 0.320931 * 500 / 3600 = 0.044574 Wh          (EcoLogits quotes 0.045)
 * Range corners: PUE 1.05 and batch 512 give the low end:
 *   f_E(8, 512) = 1.1665e-6 * exp(-5.737472) * 8 + 4.0529e-5 = 4.05590e-5 Wh = 0.146013 J
 *   f_L(8, 512) = 0.005428 + 0.1596928 + 0.01947 = 0.184591 s → 0.184591 * 150 / 512 = 0.054079 J
 *   low = 1.05 * (0.054079 + 0.146013) = 0.210097 J; high = 1.58 / 1.2 * 0.320931 = 0.422560 J
 */
static void test_ecologits_8b(void **state)
{
	struct rpt_cloud_profile p;
	struct rpt_cloud_estimate e;
	struct rpt_cloud_query q = {.n_params = 8e9, .gen_tokens = 500};
	char err[RPT_ERR_LEN];

	(void)state;
	load("ecologits-h100", &p);
	assert_int_equal(rpt_cloud_estimate(&p, &q, &e, err, sizeof err), 0);
	assert_int_equal(e.gpus, 1);
	near(e.j_per_token.v, 0.320931, 0.001);
	near(e.wh_per_query.v, 0.044574, 0.001);
	near(e.j_per_token.low, 0.210097, 0.001);
	near(e.j_per_token.high, 0.422560, 0.001);
	near(e.wh_per_query.high, 0.422560 * 500 / 3600, 0.001);
}

/*
 * EcoLogits, 70B: M = 1.2 * 70 * 2 = 168 GB → ceil(168/80) = 3 → next power of two: 4 GPUs
 *   f_E = 1.1665e-6 * 0.488120 * 70 + 4.0529e-5 = 3.98573e-5 + 4.0529e-5 = 8.03863e-5 Wh
 *       = 0.289391 J per GPU; × 4 GPUs = 1.157564 J
 *   f_L = 6.785e-4 * 70 + 0.0199616 + 0.01947 = 0.0869266 s
 *   server = 0.0869266 * 1200 * (4/8) / 64 = 0.814937 J
 *   E = 1.2 * (1.157564 + 0.814937) = 2.367001 J/token      (EcoLogits quotes ≈ 2.37)
 *   500 tokens: 0.32875 Wh                                   (EcoLogits quotes 0.33)
 */
static void test_ecologits_70b(void **state)
{
	struct rpt_cloud_profile p;
	struct rpt_cloud_estimate e;
	struct rpt_cloud_query q = {.n_params = 70e9, .gen_tokens = 500};
	char err[RPT_ERR_LEN];

	(void)state;
	load("ecologits-h100", &p);
	assert_int_equal(rpt_cloud_estimate(&p, &q, &e, err, sizeof err), 0);
	assert_int_equal(e.gpus, 4);
	near(e.j_per_token.v, 2.367001, 0.001);
	near(e.wh_per_query.v, 0.32875, 0.001);
}

/* GPU count edges: 33.3B → M = 79.9 GB → 1 GPU; 34B → 81.6 GB → 2; 140B → 336 GB → 5 → 8. */
static void test_ecologits_gpu_count(void **state)
{
	struct rpt_cloud_profile p;
	struct rpt_cloud_estimate e;
	char err[RPT_ERR_LEN];
	const struct {
		double n;
		int gpus;
	} cases[] = {{33.3e9, 1}, {34e9, 2}, {140e9, 8}, {0.26e6, 1}};

	(void)state;
	load("ecologits-h100", &p);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rpt_cloud_query q = {.n_params = cases[i].n, .gen_tokens = 10};

		assert_int_equal(rpt_cloud_estimate(&p, &q, &e, err, sizeof err), 0);
		assert_int_equal(e.gpus, cases[i].gpus);
	}
}

/*
 * Epoch FLOP model, 8B: 2 * 8e9 / (989e12 * 0.10) = 1.617796e-4 s of H100 per token
 *   × 1275 W × 0.7 × PUE 1.10 = 1.617796e-4 × 981.75 = 0.158827 J/token
 *   low corner (util 0.10, avg/peak 0.4, PUE 1.05): 1.617796e-4 × 1275 × 0.4 × 1.05 = 0.086632 J
 *   high corner (util 0.05, avg/peak 0.9, PUE 1.58): 3.235592e-4 × 1275 × 0.9 × 1.58 = 0.586618 J
 */
static void test_epoch_flops(void **state)
{
	struct rpt_cloud_profile p;
	struct rpt_cloud_estimate e;
	struct rpt_cloud_query q = {.n_params = 8e9, .gen_tokens = 100};
	char err[RPT_ERR_LEN];

	(void)state;
	load("epoch-flops-h100", &p);
	assert_int_equal(rpt_cloud_estimate(&p, &q, &e, err, sizeof err), 0);
	near(e.j_per_token.v, 0.158827, 0.001);
	near(e.j_per_token.low, 0.086632, 0.001);
	near(e.j_per_token.high, 0.586618, 0.001);
	near(e.wh_per_query.v, 0.158827 * 100 / 3600, 0.001);
}

/*
 * Published per-prompt figures: Gemini full boundary 0.24 Wh over an assumed 500-token answer
 * = 0.24 × 3600 / 500 = 1.728 J/token; the 300/1500-token ends give 2.88 and 0.576 J/token.
 * Epoch GPT-4o 0.30 Wh (0.06–1.30): J/token 2.16, low 0.06×3600/1500 = 0.144, high
 * 1.30×3600/300 = 15.6. The per-query figure does not depend on the user's token count.
 */
static void test_per_prompt(void **state)
{
	struct rpt_cloud_profile p;
	struct rpt_cloud_estimate e;
	struct rpt_cloud_query q = {.n_params = 0, .gen_tokens = 7};
	char err[RPT_ERR_LEN];

	(void)state;
	load("gemini-2025-full", &p);
	assert_false(p.same_model);
	assert_int_equal(rpt_cloud_estimate(&p, &q, &e, err, sizeof err), 0);
	near(e.wh_per_query.v, 0.24, 1e-9);
	near(e.j_per_token.v, 1.728, 1e-9);
	near(e.j_per_token.low, 0.576, 1e-9);
	near(e.j_per_token.high, 2.88, 1e-9);
	assert_int_equal(e.tokens_per_query, 500);
	load("epoch-gpt4o-2025", &p);
	assert_int_equal(rpt_cloud_estimate(&p, &q, &e, err, sizeof err), 0);
	near(e.j_per_token.v, 2.16, 1e-9);
	near(e.j_per_token.low, 0.144, 1e-9);
	near(e.j_per_token.high, 15.6, 1e-9);
	near(e.wh_per_query.low, 0.06, 1e-9);
	near(e.wh_per_query.high, 1.30, 1e-9);
	load("gemini-2025-narrow", &p);
	assert_int_equal(rpt_cloud_estimate(&p, &q, &e, err, sizeof err), 0);
	near(e.wh_per_query.v, 0.10, 1e-9);
	load("devries-chatgpt-2023", &p);
	assert_int_equal(rpt_cloud_estimate(&p, &q, &e, err, sizeof err), 0);
	near(e.wh_per_query.v, 2.9, 1e-9);
	assert_non_null(strstr(p.title, "2023"));
}

static void test_same_model_needs_params(void **state)
{
	struct rpt_cloud_profile p;
	struct rpt_cloud_estimate e;
	struct rpt_cloud_query q = {.n_params = 0, .gen_tokens = 10};
	char err[RPT_ERR_LEN] = "";

	(void)state;
	load("ecologits-h100", &p);
	assert_int_not_equal(rpt_cloud_estimate(&p, &q, &e, err, sizeof err), 0);
	assert_non_null(strstr(err, "n_params"));
}

/* Every shipped profile loads, cites every constant, and has a sane range. */
static void test_all_profiles_cited(void **state)
{
	struct rpt_cloud_profile *ps = NULL;
	char err[RPT_ERR_LEN] = "";
	int n;

	(void)state;
	n = rpt_cloud_profiles_load(DIR, &ps, err, sizeof err);
	if (n < 0)
		fprintf(stderr, "%s\n", err);
	assert_true(n >= 7);
	/* same-model methods sort first */
	assert_true(ps[0].same_model);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < ps[i].n_consts; k++) {
			assert_true(strlen(ps[i].consts[k].source) > 10);
			assert_true(ps[i].consts[k].low <= ps[i].consts[k].def);
		}
	free(ps);
}

static int write_profile(const char *dir, const char *body)
{
	char path[512];

	snprintf(path, sizeof path, "%s/bad.json", dir);
	return tu_write_file(path, body, strlen(body));
}

static void test_bad_profiles(void **state)
{
	char *dir = tu_mkdtemp(), path[512], err[RPT_ERR_LEN];
	struct rpt_cloud_profile p;
	const struct {
		const char *body, *expect;
	} cases[] = {
	    {"{\"method\":\"magic\",\"constants\":{}}", "'method'"},
	    {"{\"method\":\"per_prompt\",\"constants\":{\"wh_per_prompt\":{\"default\":1,\"low\":"
	     "1,\"high\":1,\"unit\":\"Wh\"}}}",
	     "constants.wh_per_prompt.source"},
	    {"{\"method\":\"per_prompt\",\"constants\":{\"wh_per_prompt\":{\"default\":1,\"low\":"
	     "2,\"high\":3,\"source\":\"x\"}}}",
	     "low <= default <= high"},
	    {"{\"method\":\"per_prompt\",\"constants\":{\"wh_per_prompt\":{\"default\":1,\"low\":"
	     "1,\"high\":1,\"source\":\"a citation\"}}}",
	     "constants.tokens_per_query' is missing"},
	    {"[1,2]", "not a JSON object"},
	};

	(void)state;
	snprintf(path, sizeof path, "%s/bad.json", dir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = '\0';
		assert_int_equal(write_profile(dir, cases[i].body), 0);
		assert_int_not_equal(rpt_cloud_profile_load(path, &p, err, sizeof err), 0);
		if (!strstr(err, cases[i].expect) || !strstr(err, "bad.json")) {
			fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err, cases[i].expect);
			fail();
		}
	}
	tu_rmtree(dir);
	free(dir);
}

static void test_grid_and_network(void **state)
{
	struct rpt_grid g;
	struct rpt_range wh;
	char err[RPT_ERR_LEN] = "", src[400];

	(void)state;
	assert_int_equal(rpt_grid_load(DIR, NULL, &g, err, sizeof err), 0);
	assert_string_equal(g.id, "world");
	near(g.g_per_kwh.v, 475, 1e-9);
	assert_int_equal(rpt_grid_load(DIR, "FR", &g, err, sizeof err), 0);
	near(g.g_per_kwh.v, 44.18, 1e-9);
	assert_int_not_equal(rpt_grid_load(DIR, "atlantis", &g, err, sizeof err), 0);
	assert_non_null(strstr(err, "atlantis"));
	assert_non_null(strstr(err, "world"));
	/* 100 kB at 0.06 kWh/GB = 1e5 / 1e9 GB × 0.06 kWh × 1000 = 0.006 Wh (range 0.0007–0.014) */
	assert_int_equal(rpt_network_wh(DIR, 1e5, &wh, src, sizeof src, err, sizeof err), 0);
	near(wh.v, 0.006, 1e-9);
	near(wh.low, 0.0007, 1e-9);
	near(wh.high, 0.014, 1e-9);
	assert_non_null(strstr(src, "Aslan"));
}

static char *table_of(const char *fixture, const struct rpt_cloud_opts *o, int *rc_out)
{
	struct rpt_result *r = NULL;
	char err[RPT_ERR_LEN] = "", *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(rpt_result_load(fixture, &r, err, sizeof err), 0);
	f = open_memstream(&buf, &len);
	*rc_out = rpt_cloud_table(f, r, o, err, sizeof err);
	if (*rc_out)
		fprintf(f, "ERROR: %s", err);
	fclose(f);
	rpt_result_free(r);
	return buf;
}

/*
 * Laptop fixture: 6,738,415,616 params, decode 3.2 J/token gross (CI 3.0–3.4), 128 tokens.
 * EcoLogits for P = 6.7384: f_E = 1.1665e-6*0.48812*6.7384 + 4.0529e-5 = 4.43657e-5 Wh
 * = 0.159717 J; f_L = 0.0045720 + 0.0199616 + 0.01947 = 0.0440036 s → server 0.103133 J;
 * E = 1.2 × 0.262850 = 0.315421 J/token. local/cloud = 3.2 / 0.315421 = 10.145;
 * range 3.0 / 0.415304 (PUE 1.58) = 7.224 to 3.4 / 0.209815 (PUE 1.05, B 512) = 16.20.
 * Local query Wh = (0.64×32 + 3.2×128)/3600 = 0.119467 (CI ends: (0.6×32 + 3.0×128)/3600 =
 * 0.112, (0.7×32 + 3.4×128)/3600 = 0.127). Carbon in France: 0.119467 Wh
 * × 44.18 g/kWh / 1000 = 0.005278 g.
 */
static void test_table_laptop(void **state)
{
	struct rpt_cloud_opts o = {.dir = DIR, .grid = "fr", .md = true};
	int rc;
	char *t = table_of("tests/fixtures/results/laptop-7b-measured.json", &o, &rc);

	(void)state;
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "10.1 (7.22–16.2)"));
	assert_non_null(strstr(t, "local (measured)"));
	assert_non_null(strstr(t, "0.119 (0.112–0.127)"));
	assert_non_null(strstr(t, "0.00528"));
	assert_non_null(strstr(t, "France"));
	assert_non_null(strstr(t, "devries-chatgpt-2023"));
	free(t);
}

static void test_table_estimated_and_missing(void **state)
{
	struct rpt_cloud_opts o = {.dir = DIR, .profile = "ecologits-h100"};
	int rc;
	char *t = table_of("tests/fixtures/results/desktop-8b-estimated.json", &o, &rc);

	(void)state;
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "ESTIMATED"));
	assert_non_null(strstr(t, "local (estimated)"));
	assert_null(strstr(t, "gemini"));
	free(t);
	t = table_of("tests/fixtures/results/vm-no-energy.json", &o, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(t, "Local energy: not available (no energy source"));
	assert_null(strstr(t, "local (measured)"));
	free(t);
	o.profile = "no-such-profile";
	t = table_of("tests/fixtures/results/vm-no-energy.json", &o, &rc);
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(t, "unknown cloud profile 'no-such-profile'"));
	assert_non_null(strstr(t, "ecologits-h100"));
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ecologits_8b),
	    cmocka_unit_test(test_ecologits_70b),
	    cmocka_unit_test(test_ecologits_gpu_count),
	    cmocka_unit_test(test_epoch_flops),
	    cmocka_unit_test(test_per_prompt),
	    cmocka_unit_test(test_same_model_needs_params),
	    cmocka_unit_test(test_all_profiles_cited),
	    cmocka_unit_test(test_bad_profiles),
	    cmocka_unit_test(test_grid_and_network),
	    cmocka_unit_test(test_table_laptop),
	    cmocka_unit_test(test_table_estimated_and_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
