/*
 * tests/test_workload.c — workload files: a good one parsed field by field, a table of bad ones
 * with the exact message (file, JSON path, what was expected), the shipped workloads, checks.
 */
#include "helpers/testutil.h"

#include "bench/workload.h"
#include "engine/engine.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_good_file(void **state)
{
	const char *text = "{\n"
			   "  \"name\": \"t\", \"model\": \"synth:stories260k\",\n"
			   "  \"prompt_tokens\": [16, 64], \"gen_tokens\": 20,\n"
			   "  \"threads\": [1, 2], \"types\": [\"q4_0\", \"F32\", \"Q4_K_M\"],\n"
			   "  \"reps\": 4, \"warmup\": 0, \"cooldown_s\": 0.5, \"idle_s\": 1.5,\n"
			   "  \"interval_ms\": 20, \"probes\": [\"powercap:package-0\"], \"seed\": 7,\n"
			   "  \"stop_rule\": {\"rsd_pct\": 2.5, \"max_reps\": 9}\n"
			   "}\n";
	struct bench_workload w;
	char err[512] = "";

	(void)state;
	assert_int_equal(bench_workload_parse("x.json", text, &w, err, sizeof err), 0);
	assert_string_equal(w.name, "t");
	assert_string_equal(w.model, "synth:stories260k");
	assert_int_equal(w.n_prompt_tokens, 2);
	assert_int_equal(w.prompt_tokens[1], 64);
	assert_null(w.prompt_text);
	assert_int_equal(w.gen_tokens, 20);
	assert_int_equal(w.n_threads, 2);
	assert_int_equal(w.threads[1], 2);
	assert_int_equal(w.n_types, 3);
	assert_int_equal(w.types[0], ENG_TYPE_Q4_0);
	assert_int_equal(w.types[1], ENG_TYPE_F32);
	/* a llama.cpp mix: its own code, named back as written in lower case */
	assert_null(eng_type_name(w.types[2]));
	assert_string_equal(eng_synth_type_name(w.types[2]), "q4_k_m");
	assert_int_equal(w.reps, 4);
	assert_int_equal(w.warmup, 0);
	assert_float_equal(w.cooldown_s, 0.5, 0);
	assert_float_equal(w.idle_s, 1.5, 0);
	assert_int_equal(w.interval_ms, 20);
	assert_int_equal(w.n_probes, 1);
	assert_string_equal(w.probes[0], "powercap:package-0");
	assert_int_equal(w.seed, 7);
	assert_true(w.stop_rule);
	assert_float_equal(w.stop_rsd_pct, 2.5, 0);
	assert_int_equal(w.max_reps, 9);
	assert_int_equal(bench_workload_check(&w, err, sizeof err), 0);
	bench_workload_free(&w);
}

static void test_defaults_and_name(void **state)
{
	struct bench_workload w;
	char err[512] = "";

	(void)state;
	assert_int_equal(bench_workload_parse("dir/chat.json", "{\"model\":\"m.gguf\","
							       "\"prompt\":\"Hello there\",\"threads\":2}",
					      &w, err, sizeof err),
			 0);
	assert_string_equal(w.name, "chat");
	assert_string_equal(w.prompt_text, "Hello there");
	assert_int_equal(w.n_prompt_tokens, 0);
	assert_int_equal(w.n_threads, 1 + 0 * w.threads[0]);
	assert_int_equal(w.threads[0], 2);
	assert_false(w.stop_rule);
	assert_int_equal(w.n_types, 0);
	bench_workload_free(&w);
}

struct bad_case {
	const char *text;
	const char *message; /* the exact message */
};

static const struct bad_case bad_cases[] = {
	{ "{\"threads\": [1, \"two\"]}",
	  "w.json: .threads[1]: expected a positive integer, got \"two\"" },
	{ "{\"threads\": []}", "w.json: .threads: expected a non-empty array of positive integers, got []" },
	{ "{\"threads\": [0]}", "w.json: .threads[0]: expected a positive integer, got 0" },
	{ "{\"threads\": [2, 600]}", "w.json: .threads[1]: expected an integer of at most 512, got 600" },
	{ "{\"threads\": \"4\"}",
	  "w.json: .threads: expected a positive integer or an array of them, got \"4\"" },
	{ "{\"reps\": -3}", "w.json: .reps: expected a positive integer, got -3" },
	{ "{\"reps\": 2.5}", "w.json: .reps: expected a positive integer, got 2.5" },
	{ "{\"warmup\": -1}", "w.json: .warmup: expected a non-negative integer, got -1" },
	{ "{\"gen_tokens\": 1}", "w.json: .gen_tokens: expected an integer of at least 2, got 1" },
	{ "{\"idle_s\": -2}", "w.json: .idle_s: expected a number from 0 to 86400, got -2" },
	{ "{\"idle_s\": \"2\"}", "w.json: .idle_s: expected a number from 0 to 86400, got \"2\"" },
	{ "{\"interval_ms\": 0}", "w.json: .interval_ms: expected a positive integer, got 0" },
	{ "{\"types\": [\"q4_0\", \"q7_k\"]}",
	  "w.json: .types[1]: expected a weight type or llama.cpp file type (f32 f16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k "
	  "q2_k_s q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m q6_k (pure) q3_k q4_k q5_k), got \"q7_k\"" },
	{ "{\"types\": []}",
	  "w.json: .types: expected a non-empty array of weight types or llama.cpp file types (f32 f16 q8_0 q4_0 q4_1 "
	  "q5_0 q5_1 q2_k q2_k_s q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m q6_k (pure) q3_k q4_k q5_k), got []" },
	{ "{\"model\": 3}", "w.json: .model: expected a non-empty string, got 3" },
	{ "{\"model\": \"\"}", "w.json: .model: expected a non-empty string, got \"\"" },
	{ "{\"probes\": [\"powercap\", 5]}", "w.json: .probes[1]: expected a non-empty string, got 5" },
	{ "{\"seed\": -1}", "w.json: .seed: expected a non-negative integer, got -1" },
	{ "{\"stop_rule\": {\"rsd_pct\": 0}}",
	  "w.json: .stop_rule.rsd_pct: expected a number greater than 0 (at most 100), got 0" },
	{ "{\"stop_rule\": {\"max\": 3}}",
	  "w.json: .stop_rule.max: unknown field (expected rsd_pct or max_reps)" },
	{ "{\"stop_rule\": 3}",
	  "w.json: .stop_rule: expected null or an object {\"rsd_pct\", \"max_reps\"}, got 3" },
	{ "{\"prompt\": \"hi\", \"prompt_tokens\": 4}",
	  "w.json: .prompt: expected either prompt or prompt_tokens, not both" },
	{ "[1, 2]", "w.json: .: expected an object, got [1,2]" },
	{ "{\n  \"reps\": 3,\n  \"thread\": 2\n}",
	  "w.json: .thread: unknown field (known: name, description, model, vocab, prompt_tokens, "
	  "prompt, gen_tokens, threads, types, reps, warmup, cooldown_s, idle_s, interval_ms, probes, "
	  "seed, tdp_w, stop_rule)" },
	/* bad JSON: position of the error, line and column */
	{ "{\n  \"reps\": 3,\n  \"warmup\": ,\n}", "w.json:3:13: invalid JSON near ',\n}'" },
	{ "{\"reps\": 3", "w.json:1:11: invalid JSON near '(end of file)'" },
	{ "{\"reps\": 3} trailing", "w.json:1:13: invalid JSON near 'trailing'" },
};

static void test_bad_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		struct bench_workload w;
		char err[1024] = "";
		int rc = bench_workload_parse("w.json", bad_cases[i].text, &w, err, sizeof err);

		if (rc == 0 || strcmp(err, bad_cases[i].message)) {
			fprintf(stderr, "case %zu: %s\n  rc %d\n  got:      %s\n  expected: %s\n", i,
				bad_cases[i].text, rc, err, bad_cases[i].message);
			bench_workload_free(&w);
			fail();
		}
		bench_workload_free(&w);
	}
}

static void test_check(void **state)
{
	struct bench_workload w;
	char err[512] = "";

	(void)state;
	bench_workload_init(&w);
	assert_int_equal(bench_workload_check(&w, err, sizeof err), -22);
	assert_non_null(strstr(err, "no model"));
	snprintf(w.model, sizeof w.model, "%s", "model.gguf");
	assert_int_equal(bench_workload_check(&w, err, sizeof err), 0);
	w.n_types = 2;
	w.types[0] = ENG_TYPE_Q4_0;
	w.types[1] = ENG_TYPE_Q8_0;
	assert_int_equal(bench_workload_check(&w, err, sizeof err), -22);
	assert_non_null(strstr(err, ".types: a type sweep needs a synthetic model"));
	snprintf(w.model, sizeof w.model, "%s", "synth:tiny");
	assert_int_equal(bench_workload_check(&w, err, sizeof err), 0);
	/* a synthetic shape without a type and no types to sweep: nothing says what to build */
	w.n_types = 0;
	assert_int_equal(bench_workload_check(&w, err, sizeof err), -22);
	assert_non_null(strstr(err, ".model: 'synth:tiny' names no weight type: write synth:SHAPE:TYPE"));
	snprintf(w.model, sizeof w.model, "%s", "synth:tiny:q8_0");
	assert_int_equal(bench_workload_check(&w, err, sizeof err), 0);
	w.stop_rule = true;
	w.reps = 5;
	w.max_reps = 3;
	assert_int_equal(bench_workload_check(&w, err, sizeof err), -22);
	assert_non_null(strstr(err, ".stop_rule.max_reps: expected at least reps (5), got 3"));
	bench_workload_free(&w);
}

static void test_load_missing(void **state)
{
	struct bench_workload w;
	char err[512] = "", path[256];

	(void)state;
	bench_workload_path("nosuch", path, sizeof path);
	assert_string_equal(path, "configs/workloads/nosuch.json");
	bench_workload_path("./x", path, sizeof path);
	assert_string_equal(path, "./x");
	assert_true(bench_workload_load("configs/workloads/nosuch.json", &w, err, sizeof err) < 0);
	assert_string_equal(err,
			    "configs/workloads/nosuch.json: cannot read workload: No such file or directory");
	bench_workload_free(&w);
}

/* Every shipped workload parses, passes the checks, and says what it is for. */
static void test_shipped(void **state)
{
	static const char *const names[] = { "default", "chat", "summarize", "sweep-threads",
					     "sweep-quant", "claim-7b" };

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct bench_workload w;
		char err[1024] = "", path[256];

		bench_workload_path(names[i], path, sizeof path);
		if (bench_workload_load(path, &w, err, sizeof err) != 0 ||
		    bench_workload_check(&w, err, sizeof err) != 0) {
			fprintf(stderr, "%s\n", err);
			bench_workload_free(&w);
			fail();
		}
		assert_string_equal(w.name, names[i]);
		assert_true(w.description[0] != '\0');
		bench_workload_free(&w);
	}
}

static void test_json_roundtrip(void **state)
{
	struct bench_workload w;
	char err[512] = "";
	cJSON *j;
	char *s;

	(void)state;
	assert_int_equal(bench_workload_parse("r.json",
					      "{\"model\":\"synth:x\",\"threads\":[1,2],\"types\":[\"q8_0\"],"
					      "\"stop_rule\":{\"rsd_pct\":3}}",
					      &w, err, sizeof err),
			 0);
	j = bench_workload_json(&w);
	s = cJSON_PrintUnformatted(j);
	assert_non_null(strstr(s, "\"threads\":[1,2]"));
	assert_non_null(strstr(s, "\"types\":[\"q8_0\"]"));
	assert_non_null(strstr(s, "\"stop_rule\":{\"rsd_pct\":3,\"max_reps\":20}"));
	assert_non_null(strstr(s, "\"file\":\"r.json\""));
	assert_non_null(strstr(s, "\"probes\":null"));
	free(s);
	cJSON_Delete(j);
	bench_workload_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),   cmocka_unit_test(test_defaults_and_name),
		cmocka_unit_test(test_bad_files),   cmocka_unit_test(test_check),
		cmocka_unit_test(test_load_missing), cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_json_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
