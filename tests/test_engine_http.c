/*
 * tests/test_engine_http.c — external engines over HTTP (bench/engine_http.c, bench/http_run.c)
 * against the fault-injecting server of tests/helpers/fakellm.c on 127.0.0.1. Nothing here
 * reaches beyond the loopback interface: remote-looking URLs are either only classified, or
 * routed to the loopback server with JOULEBENCH_HTTP_CONNECT_TO (curl's --connect-to).
 *
 * Timing: the server sleeps a known time before the first chunk and between chunks; the client's
 * TTFT and gaps must come out no shorter than that, and not much longer (the bound allows for a
 * loaded 2-core machine). Energy: a fake powercap zone (as in tests/test_runner.c) driven at 5 W
 * while idle and 40 W during each level gives a known J/token per level.
 */
#include "helpers/fakellm.h"
#include "helpers/testutil.h"

#include "bench/engine_http.h"
#include "bench/runner.h"
#include "power/backend.h"
#include "power/power.h"
#include "reports/reports.h"

#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Slack for a loaded machine: measured times may exceed the injected ones by this much. */
#define SLACK_MS 40.0

static struct bench_http_opts opts_for(const struct fl_server *f, enum bench_engine e, bool chat)
{
	struct bench_http_opts o;

	memset(&o, 0, sizeof o);
	o.engine = e;
	snprintf(o.url, sizeof o.url, "%s", fl_url(f, e == BENCH_ENGINE_OLLAMA ? "" : "/v1"));
	snprintf(o.model, sizeof o.model, "%s", "fake-model");
	o.chat = chat;
	o.ignore_eos = true;
	o.timeout_s = 20;
	o.n_levels = 1;
	o.concurrency[0] = 1;
	o.requests = 1;
	return o;
}

static void batch(const struct bench_http_opts *o, int n, int conc, struct bench_http_req *q)
{
	const struct bench_http_prompt prompts[] = {{.text = "hello there"}};
	char err[256] = "";

	if (bench_http_batch(o, prompts, 1, 16, n, conc, q, NULL, err, sizeof err) != 0)
		fail_msg("bench_http_batch: %s", err);
}

static double med_itl_ms(const struct bench_http_req *q)
{
	double v[512];
	int n = q->n_itl < 512 ? q->n_itl : 512;

	for (int i = 0; i < n; i++)
		v[i] = (double)q->itl_ns[i] / 1e6;
	return rpt_median(v, n);
}

/* ---- parsers --------------------------------------------------------------------------------- */

static const char sse[] =
    ": comment\r\n"
    "data: {\"choices\":[{\"index\":0,\"text\":\"a\",\"finish_reason\":null}]}\r\n\r\n"
    "data: {\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":null}]}\n\n"
    "event: message\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\n"
    "data: \"text\":\"c\",\"finish_reason\":\"length\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\n"
    "data: [DONE]\r\n\r\n";

/* Every split of the stream into two reads, and byte-by-byte reads, parse the same. */
static void test_sse_any_split(void **state)
{
	size_t n = strlen(sse);

	(void)state;
	for (size_t cut = 0; cut <= n + 1; cut++) {
		struct bench_http_req q;
		struct bench_stream *s;

		memset(&q, 0, sizeof q);
		q.prompt_tokens = q.completion_tokens = -1;
		s = bench_stream_new(BENCH_ENGINE_OPENAI, &q);
		assert_non_null(s);
		if (cut <= n) {
			bench_stream_feed(s, sse, cut, 1000);
			bench_stream_feed(s, sse + cut, n - cut, 2000);
		} else {
			for (size_t i = 0; i < n; i++)
				bench_stream_feed(s, sse + i, 1, (int64_t)i);
		}
		bench_stream_finish(s, 3000);
		if (q.n_chunks != 3 || !q.done || q.completion_tokens != 3 ||
		    q.prompt_tokens != 7 || q.error[0] || strcmp(q.finish_reason, "length"))
			fail_msg(
			    "split at %zu: chunks %d done %d completion %d prompt %d error '%s'",
			    cut, q.n_chunks, q.done, q.completion_tokens, q.prompt_tokens, q.error);
		assert_int_equal(q.n_itl, 2);
		bench_stream_free(s);
		bench_http_req_free(&q);
	}
}

static void test_ndjson_parse(void **state)
{
	const char *nd =
	    "{\"response\":\"x\",\"done\":false}\n{\"response\":\"y\",\"done\":false}\n"
	    "{\"response\":\"\",\"done\":true,\"done_reason\":\"length\",\"eval_count\":2,"
	    "\"eval_duration\":5000,\"prompt_eval_count\":4,\"prompt_eval_duration\":700}";
	struct bench_http_req q;
	struct bench_stream *s;

	(void)state;
	memset(&q, 0, sizeof q);
	q.prompt_tokens = q.completion_tokens = -1;
	s = bench_stream_new(BENCH_ENGINE_OLLAMA, &q);
	for (size_t i = 0; i < strlen(nd); i++)
		bench_stream_feed(s, nd + i, 1, (int64_t)i * 10);
	bench_stream_finish(s, 99999); /* the last line has no newline */
	assert_int_equal(q.n_chunks, 2);
	assert_true(q.done && q.has_ollama);
	assert_int_equal(q.ollama_eval_count, 2);
	assert_int_equal(q.ollama_eval_duration_ns, 5000);
	assert_int_equal(q.ollama_prompt_eval_count, 4);
	assert_int_equal(q.ollama_prompt_eval_duration_ns, 700);
	assert_string_equal(q.token_count_source, "eval_count");
	bench_stream_free(s);
	bench_http_req_free(&q);
}

static void test_bodies(void **state)
{
	static const int32_t three[] = {1, 5, 31999};
	const struct bench_http_prompt hi = {.text = "hi"};
	const struct bench_http_prompt ids = {.ids = three, .n_ids = 3, .vary_at = 1, .n_vocab = 32000};
	struct bench_http_opts o;
	char *b;
	cJSON *j;

	(void)state;
	memset(&o, 0, sizeof o);
	o.engine = BENCH_ENGINE_OPENAI;
	o.ignore_eos = true;
	snprintf(o.url, sizeof o.url, "%s", "http://127.0.0.1:8080/v1/");
	snprintf(o.model, sizeof o.model, "%s", "m");
	b = bench_http_body(&o, &hi, 64);
	j = cJSON_Parse(b);
	assert_non_null(j);
	assert_int_equal(cJSON_GetObjectItem(j, "max_tokens")->valueint, 64);
	assert_int_equal(cJSON_GetObjectItem(j, "temperature")->valueint, 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
	assert_true(cJSON_IsTrue(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stream_options"), "include_usage")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "ignore_eos")));
	assert_string_equal(cJSON_GetObjectItem(j, "prompt")->valuestring, "hi");
	cJSON_Delete(j);
	free(b);
	/* token ids go as they are, an array in "prompt" */
	b = bench_http_body(&o, &ids, 64);
	assert_non_null(strstr(b, "\"prompt\":[1,5,31999]"));
	free(b);
	o.chat = true;
	b = bench_http_body(&o, &hi, 8);
	assert_non_null(strstr(b, "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"));
	free(b);
	o.engine = BENCH_ENGINE_OLLAMA;
	b = bench_http_body(&o, &hi, 8);
	assert_non_null(strstr(b, "\"num_predict\":8"));
	free(b);
	{
		char u[128];

		o.engine = BENCH_ENGINE_OPENAI;
		bench_http_endpoint(&o, u, sizeof u);
		assert_string_equal(u, "http://127.0.0.1:8080/v1/chat/completions");
		o.chat = false;
		bench_http_endpoint(&o, u, sizeof u);
		assert_string_equal(u, "http://127.0.0.1:8080/v1/completions");
	}
}

/* ---- the stream over a socket -----------------------------------------------------------------
 */

/*
 * TTFT and inter-token gaps against the injected 120 ms and 25 ms. Always: every chunk is
 * stamped after the server sent it (the client never stamps early). Within tolerance of the
 * injected delays (TTFT at most SLACK_MS late, median gap within 10% below and SLACK_MS/2 above,
 * median lag behind the server's send under 15 ms): in one of three attempts, since on a loaded
 * machine any one stream can be delayed by the scheduler.
 */
static void test_ttft_itl(void **state)
{
	struct fl_script sc = {.n_tokens = 12,
	                       .ttft_ms = 120,
	                       .itl_ms = 25,
	                       .usage = true,
	                       .usage_prompt_tokens = 5,
	                       .fault_request = -1};
	struct fl_server *f;
	struct bench_http_opts o;
	char path[128], body[1024], why[256] = "";
	bool good = false;

	(void)state;
	f = fl_start(&sc);
	o = opts_for(f, BENCH_ENGINE_OPENAI, false);
	for (int attempt = 0; attempt < 3 && !good; attempt++) {
		struct bench_http_req q[2];
		long long srv[16];
		int64_t cl[16];
		double lag[16], ttft, itl;
		int ns;

		batch(&o, 2, 1, q);
		for (int i = 0; i < 2; i++) {
			if (!q[i].ok)
				fail_msg("request %d: %s", i, q[i].error);
			assert_int_equal(q[i].n_chunks, 12);
			assert_int_equal(q[i].n_itl, 11);
			assert_int_equal(q[i].completion_tokens, 12);
			assert_int_equal(q[i].prompt_tokens, 5);
			assert_string_equal(q[i].token_count_source, "usage");
		}
		/* keep-alive: a batch's requests share one connection */
		assert_int_equal(fl_connections(f), attempt + 1);
		ns = fl_token_times(f, srv, 16);
		assert_int_equal(ns, 12);
		cl[0] = q[1].t_first_ns;
		for (int k = 1; k < 12; k++)
			cl[k] = cl[k - 1] + q[1].itl_ns[k - 1];
		for (int k = 0; k < 12; k++) {
			if (cl[k] < srv[k])
				fail_msg("chunk %d stamped %.3f ms before the server sent it", k,
				         (double)(srv[k] - cl[k]) / 1e6);
			lag[k] = (double)(cl[k] - srv[k]) / 1e6;
		}
		ttft = (double)(q[1].t_first_ns - q[1].t_start_ns) / 1e6;
		itl = med_itl_ms(&q[1]);
		assert_true(ttft >= 120);
		if (ttft > 120 + SLACK_MS)
			snprintf(why, sizeof why, "TTFT %.1f ms, injected 120 ms", ttft);
		else if (itl < 25 * 0.9 || itl > 25 + SLACK_MS / 2)
			snprintf(why, sizeof why, "median inter-token gap %.1f ms, injected 25 ms",
			         itl);
		else if (rpt_median(lag, 12) > 15)
			snprintf(why, sizeof why,
			         "chunks read a median %.1f ms after they were sent",
			         rpt_median(lag, 12));
		else
			good = true;
		if (!good)
			tu_note("attempt %d: %s", attempt + 1, why);
		bench_http_req_free(&q[0]);
		bench_http_req_free(&q[1]);
	}
	if (!good)
		fail_msg("three attempts out of tolerance; the last: %s", why);
	fl_last_request(f, path, sizeof path, body, sizeof body);
	assert_string_equal(path, "/v1/completions");
	assert_non_null(strstr(body, "\"include_usage\":true"));
	assert_non_null(strstr(body, "\"max_tokens\":16"));
	assert_non_null(strstr(body, "\"cache_prompt\":false"));
	fl_stop(f);
}

/* Each request's prompt begins with a number of its own (no prefix-cache hits), unless
 * --same-prompt. */
static void test_unique_prompts(void **state)
{
	struct fl_script sc = {.n_tokens = 2, .fault_request = -1};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts o = opts_for(f, BENCH_ENGINE_OPENAI, false);
	struct bench_http_req q;
	char path[128], b1[1024], b2[1024];
	cJSON *j1, *j2;

	(void)state;
	batch(&o, 1, 1, &q);
	bench_http_req_free(&q);
	fl_last_request(f, path, sizeof path, b1, sizeof b1);
	batch(&o, 1, 1, &q);
	bench_http_req_free(&q);
	fl_last_request(f, path, sizeof path, b2, sizeof b2);
	j1 = cJSON_Parse(b1);
	j2 = cJSON_Parse(b2);
	assert_non_null(j1);
	assert_non_null(j2);
	assert_int_equal(cJSON_GetObjectItem(j1, "prompt")->valuestring[0], '(');
	assert_non_null(strstr(cJSON_GetObjectItem(j1, "prompt")->valuestring, ") hello there"));
	assert_string_not_equal(cJSON_GetObjectItem(j1, "prompt")->valuestring,
	                        cJSON_GetObjectItem(j2, "prompt")->valuestring);
	cJSON_Delete(j1);
	cJSON_Delete(j2);
	o.same_prompt = true;
	batch(&o, 1, 1, &q);
	bench_http_req_free(&q);
	fl_last_request(f, path, sizeof path, b1, sizeof b1);
	assert_non_null(strstr(b1, "\"prompt\":\"hello there\""));
	assert_null(strstr(b1, "cache_prompt"));
	fl_stop(f);
}

/* Events arrive in 7-byte pieces (inside "data:" and inside the JSON), 3 ms apart. */
static void test_split_reads_chat(void **state)
{
	struct fl_script sc = {.n_tokens = 6,
	                       .itl_ms = 10,
	                       .usage = false,
	                       .split_bytes = 7,
	                       .split_gap_ms = 3,
	                       .fault_request = -1};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts o = opts_for(f, BENCH_ENGINE_OPENAI, true);
	struct bench_http_req q;
	char path[128], body[1024];

	(void)state;
	batch(&o, 1, 1, &q);
	if (!q.ok)
		fail_msg("%s", q.error);
	assert_int_equal(q.n_chunks, 6);
	assert_true(q.done);
	/* no usage chunk: the count is the streamed chunks, and says so */
	assert_int_equal(q.completion_tokens, 6);
	assert_string_equal(q.token_count_source, "streamed_chunks");
	fl_last_request(f, path, sizeof path, body, sizeof body);
	assert_string_equal(path, "/v1/chat/completions");
	bench_http_req_free(&q);
	/* no token unless asked; --api-key-env sends the variable's value as a bearer token */
	fl_last_auth(f, body, sizeof body);
	assert_string_equal(body, "");
	setenv("JB_TEST_KEY", "sk-test-123", 1);
	snprintf(o.api_key_env, sizeof o.api_key_env, "%s", "JB_TEST_KEY");
	batch(&o, 1, 1, &q);
	assert_true(q.ok);
	fl_last_auth(f, body, sizeof body);
	assert_string_equal(body, "Bearer sk-test-123");
	unsetenv("JB_TEST_KEY");
	bench_http_req_free(&q);
	fl_stop(f);
}

static void test_ollama_stream(void **state)
{
	struct fl_script sc = {
	    .n_tokens = 5, .itl_ms = 5, .usage_prompt_tokens = 9, .fault_request = -1};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts o = opts_for(f, BENCH_ENGINE_OLLAMA, false);
	struct bench_http_req q;
	char path[128], body[1024];

	(void)state;
	batch(&o, 1, 1, &q);
	if (!q.ok)
		fail_msg("%s", q.error);
	assert_int_equal(q.n_chunks, 5);
	assert_true(q.has_ollama);
	assert_int_equal(q.ollama_eval_count, 5);
	assert_int_equal(q.ollama_prompt_eval_count, 9);
	assert_int_equal(q.prompt_tokens, 9);
	fl_last_request(f, path, sizeof path, body, sizeof body);
	assert_string_equal(path, "/api/generate");
	assert_non_null(strstr(body, "\"num_predict\":16"));
	bench_http_req_free(&q);
	/* --chat: /api/chat, whose chunks carry message.content */
	o.chat = true;
	batch(&o, 1, 1, &q);
	if (!q.ok)
		fail_msg("/api/chat: %s", q.error);
	assert_int_equal(q.n_chunks, 5);
	assert_int_equal(q.completion_tokens, 5);
	fl_last_request(f, path, sizeof path, body, sizeof body);
	assert_string_equal(path, "/api/chat");
	assert_non_null(strstr(body, "\"messages\":[{\"role\":\"user\""));
	bench_http_req_free(&q);
	fl_stop(f);
}

static void expect_failure(struct fl_script sc, const char *const *want, int n_want, bool timed_out,
                           double timeout_s)
{
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts o = opts_for(f, BENCH_ENGINE_OPENAI, false);
	struct bench_http_req q;
	int64_t t0 = pwr_now_ns();

	if (timeout_s > 0)
		o.timeout_s = timeout_s;
	batch(&o, 1, 1, &q);
	assert_false(q.ok);
	for (int i = 0; i < n_want; i++)
		if (!strstr(q.error, want[i]))
			fail_msg("error '%s' does not say '%s'", q.error, want[i]);
	assert_int_equal(q.timed_out, timed_out);
	if (timeout_s > 0 && (double)(pwr_now_ns() - t0) / 1e9 > timeout_s + 3)
		fail_msg("the request took %.1f s with --timeout-s %g",
		         (double)(pwr_now_ns() - t0) / 1e9, timeout_s);
	bench_http_req_free(&q);
	fl_stop(f);
}

static void test_error_event_mid_stream(void **state)
{
	struct fl_script sc = {.n_tokens = 8,
	                       .itl_ms = 2,
	                       .fault = FL_ERROR_EVENT,
	                       .fault_after = 3,
	                       .fault_request = -1};
	const char *want[] = {"after 3 token chunks", "injected failure", "code 500"};

	(void)state;
	expect_failure(sc, want, 3, false, 0);
}

static void test_close_mid_stream(void **state)
{
	struct fl_script sc = {
	    .n_tokens = 8, .itl_ms = 2, .fault = FL_CLOSE, .fault_after = 4, .fault_request = -1};
	const char *want[] = {"after 4 token chunks"};

	(void)state;
	expect_failure(sc, want, 1, false, 0);
}

static void test_missing_done(void **state)
{
	struct fl_script sc = {.n_tokens = 3, .fault = FL_NO_DONE, .fault_request = -1};
	const char *want[] = {"without its end marker", "[DONE]"};

	(void)state;
	expect_failure(sc, want, 2, false, 0);
}

static void test_not_streamed(void **state)
{
	struct fl_script sc = {.n_tokens = 3, .fault = FL_NOT_STREAMED, .fault_request = -1};
	const char *want[] = {"one JSON body, not a stream", "\"stream\": true"};

	(void)state;
	expect_failure(sc, want, 2, false, 0);
}

static void test_http_400_json(void **state)
{
	struct fl_script sc = {.n_tokens = 3,
	                       .fault = FL_HTTP_ERROR,
	                       .fault_request = -1,
	                       .http_status = 400,
	                       .error_body = "{\"error\":{\"message\":\"model 'nope' not found\","
	                                     "\"type\":\"invalid_request_error\",\"code\":400}}"};
	const char *want[] = {"HTTP 400", "model 'nope' not found"};

	(void)state;
	expect_failure(sc, want, 2, false, 0);
}

static void test_http_500(void **state)
{
	struct fl_script sc = {.n_tokens = 3,
	                       .fault = FL_HTTP_ERROR,
	                       .fault_request = -1,
	                       .http_status = 500,
	                       .error_body = "{\"error\":\"out of memory on the device\"}"};
	const char *want[] = {"HTTP 500", "out of memory on the device"};

	(void)state;
	expect_failure(sc, want, 2, false, 0);
}

static void test_stall_timeout(void **state)
{
	struct fl_script sc = {
	    .n_tokens = 8, .itl_ms = 2, .fault = FL_STALL, .fault_after = 2, .fault_request = -1};
	const char *want[] = {"timed out after 0.6 s", "2 token chunks"};

	(void)state;
	expect_failure(sc, want, 2, true, 0.6);
}

/* 1, 2, 4, 8 streams at once: every request answered, never more in flight than asked, and the
 * level's streams do overlap. */
static void test_concurrency_levels(void **state)
{
	static const int levels[] = {1, 2, 4, 8};

	(void)state;
	for (size_t k = 0; k < sizeof levels / sizeof *levels; k++) {
		struct fl_script sc = {.n_tokens = 6,
		                       .ttft_ms = 150,
		                       .itl_ms = 15,
		                       .usage = true,
		                       .fault_request = -1};
		struct fl_server *f = fl_start(&sc);
		struct bench_http_opts o = opts_for(f, BENCH_ENGINE_OPENAI, false);
		int c = levels[k], n = 2 * c + 1;
		struct bench_http_req q[17];

		batch(&o, n, c, q);
		for (int i = 0; i < n; i++) {
			if (!q[i].ok)
				fail_msg("concurrency %d, request %d: %s", c, i, q[i].error);
			assert_int_equal(q[i].completion_tokens, 6);
			bench_http_req_free(&q[i]);
		}
		assert_int_equal(fl_requests(f), n);
		if (fl_max_active(f) != c)
			fail_msg("concurrency %d: the server saw at most %d streams at once", c,
			         fl_max_active(f));
		assert_true(fl_connections(f) <= c);
		fl_stop(f);
	}
}

/* One failing request among several: the others are fine and the level counts it. */
static void test_one_request_fails(void **state)
{
	struct fl_script sc = {.n_tokens = 4,
	                       .fault = FL_HTTP_ERROR,
	                       .fault_request = 2,
	                       .http_status = 503,
	                       .error_body = "{\"error\":{\"message\":\"overloaded\"}}",
	                       .usage = true};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts o = opts_for(f, BENCH_ENGINE_OPENAI, false);
	struct bench_http_req q[5];
	int ok = 0;

	(void)state;
	batch(&o, 5, 1, q);
	for (int i = 0; i < 5; i++) {
		ok += q[i].ok;
		if (i == 2) {
			assert_false(q[i].ok);
			assert_int_equal(q[i].http_status, 503);
			assert_non_null(strstr(q[i].error, "overloaded"));
		}
		bench_http_req_free(&q[i]);
	}
	assert_int_equal(ok, 4);
	fl_stop(f);
}

/* ---- whose machine -------------------------------------------------------------------------- */

/* Whether /etc/hosts names `name` (as a whole word on a line that is not a comment). */
static bool hosts_file_has(const char *name)
{
	char *text = tu_read_file("/etc/hosts", NULL), *line, *save = NULL;
	bool found = false;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		char *w, *s2 = NULL;

		line[strcspn(line, "#")] = '\0';
		w = strtok_r(line, " \t", &s2);
		for (w = w ? strtok_r(NULL, " \t", &s2) : NULL; w && !found;
		     w = strtok_r(NULL, " \t", &s2))
			found = !strcmp(w, name);
	}
	free(text);
	return found;
}

static void test_url_classification(void **state)
{
	char host[256], name[256];
	struct {
		const char *url;
		int local;
		const char *host;
	} cases[] = {
	    {"http://127.0.0.1:8080/v1", 1, "127.0.0.1"},
	    {"http://127.3.4.5:80", 1, "127.3.4.5"},
	    {"http://localhost:11434", 1, "localhost"},
	    {"http://LOCALHOST/v1", 1, "LOCALHOST"},
	    {"http://[::1]:8000/v1", 1, "::1"},
	    {"http://user:pw@127.0.0.1:8000/v1", 1, "127.0.0.1"},
	    {"http://0.0.0.0:8000/v1", 1, "0.0.0.0"},
	    {"http://203.0.113.7:8000/v1", 0, "203.0.113.7"},
	    {"https://[2001:db8::1]:443/v1", 0, "2001:db8::1"},
	    {"https://api.example.com/v1", 0, "api.example.com"},
	    {"http://gpu-box.invalid:8000/v1", 0, "gpu-box.invalid"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int rc = bench_url_is_local(cases[i].url, false, host, sizeof host);

		if (rc != cases[i].local)
			fail_msg("%s: %s, expected %s", cases[i].url, rc == 1 ? "local" : "remote",
			         cases[i].local ? "local" : "remote");
		assert_string_equal(host, cases[i].host);
	}
	assert_int_equal(bench_url_is_local("http:///v1", false, host, sizeof host), -EINVAL);
	/* this machine's name resolves to one of its own addresses; only when /etc/hosts has it,
	 * so that the look-up sends nothing to a DNS server */
	if (gethostname(name, sizeof name) == 0 && name[0] && hosts_file_has(name)) {
		char url[300];

		snprintf(url, sizeof url, "http://%s:8080/v1", name);
		if (bench_url_is_local(url, true, host, sizeof host) != 1)
			fail_msg("%s (in /etc/hosts) was classified remote", name);
	} else {
		tu_note("this machine's name is not in /etc/hosts: its look-up is not tested");
	}
}

/* ---- whole runs: energy per level -------------------------------------------------------- */

#define W_IDLE  5.0
#define W_LEVEL 40.0
#define W_OTHER 30.0

static struct {
	pthread_mutex_t lock;
	uint64_t range_uj;
	double watts, base_j;
	int64_t base_ns;
	int energy_fd;
} fz = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t raw_now(void)
{
	uint64_t r;

	pthread_mutex_lock(&fz.lock);
	r = (uint64_t)llround((fz.base_j + fz.watts * (double)(pwr_now_ns() - fz.base_ns) / 1e9) *
	                      1e6) %
	    fz.range_uj;
	pthread_mutex_unlock(&fz.lock);
	return r;
}

static void set_watts(double w)
{
	int64_t now;

	pthread_mutex_lock(&fz.lock);
	now = pwr_now_ns();
	fz.base_j += fz.watts * (double)(now - fz.base_ns) / 1e9;
	fz.base_ns = now;
	fz.watts = w;
	pthread_mutex_unlock(&fz.lock);
}

static int hook_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = strlen(path), k = strlen("intel-rapl:0/energy_uj");

	if (fd >= 0 && n >= k && !strcmp(path + n - k, "intel-rapl:0/energy_uj"))
		fz.energy_fd = fd;
	return fd < 0 ? -errno : fd;
}

/* Reads of the package counter return its value at the moment of the read. */
static ssize_t hook_pread(int fd, void *buf, size_t n, off_t off)
{
	char text[32];
	int len;

	if (fd != fz.energy_fd) {
		ssize_t r = pread(fd, buf, n, off);

		return r < 0 ? -errno : r;
	}
	len = snprintf(text, sizeof text, "%llu\n", (unsigned long long)raw_now());
	if (off >= len)
		return 0;
	if ((size_t)(len - off) < n)
		n = (size_t)(len - off);
	memcpy(buf, text + off, n);
	return (ssize_t)n;
}

static const struct pwr_powercap_io hook_io = {hook_open, hook_pread};

static char *fake_zone(void)
{
	char *dir = tu_mkdtemp(), cmd[PATH_MAX + 128], *out = NULL, *err = NULL;
	int rc;

	assert_non_null(dir);
	snprintf(cmd, sizeof cmd, "cp -a tests/fixtures/sysfs/amd-zen/. '%s'/", dir);
	rc = tu_run(cmd, 30, &out, &err);
	free(out);
	free(err);
	if (rc != 0)
		fail_msg("%s failed", cmd);
	fz.range_uj = 65532610987ULL;
	fz.base_j = 1000.0;
	fz.base_ns = pwr_now_ns();
	fz.watts = W_OTHER;
	fz.energy_fd = -1;
	pwr_powercap_set_io(&hook_io);
	return dir;
}

static void on_phase(void *ud, const char *phase, int config, int rep)
{
	(void)ud;
	(void)config;
	(void)rep;
	set_watts(!strncmp(phase, "idle", 4) ? W_IDLE
	          : !strcmp(phase, "level")  ? W_LEVEL
	                                     : W_OTHER);
}

static void near(double got, double want, double rel, const char *what)
{
	if (!(fabs(got - want) <= rel * fabs(want)))
		fail_msg("%s: got %.9g, expected %.9g (%.2f%% off, allowed %.1f%%)", what, got,
		         want, 100 * (got - want) / want, 100 * rel);
}

static struct bench_run *sweep_run(const struct bench_http_opts *h, const char *sysfs_root,
                                   bool hook)
{
	static struct bench_workload w; /* the run points at it until bench_run_free */
	struct bench_run_opts o;
	struct bench_run *r = NULL;
	char err[512] = "";

	bench_workload_init(&w);
	snprintf(w.model, sizeof w.model, "%s", "fake-model");
	w.gen_tokens = 8;
	w.prompt_tokens[0] = 16;
	w.warmup = 1;
	w.idle_s = 0.3;
	w.interval_ms = 10;
	if (sysfs_root) {
		w.n_probes = 1;
		snprintf(w.probes[0], sizeof w.probes[0], "%s", "powercap");
		if (getenv("JOULEBENCH_NVML_LIB"))
			snprintf(w.probes[w.n_probes++], sizeof w.probes[0], "%s", "nvml");
	}
	memset(&o, 0, sizeof o);
	o.w = &w;
	o.sysfs_root = sysfs_root;
	o.http = h;
	o.on_phase = hook ? on_phase : NULL;
	bench_stop_clear();
	if (bench_run(&o, &r, err, sizeof err) != 0)
		fail_msg("bench_run: %s", err);
	return r;
}

static void test_jpt_per_level(void **state)
{
	struct fl_script sc = {.n_tokens = 8,
	                       .ttft_ms = 20,
	                       .itl_ms = 12,
	                       .usage = true,
	                       .usage_prompt_tokens = 16,
	                       .fault_request = -1};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	char *root = fake_zone();
	struct bench_run *r;
	int pc = -1;

	(void)state;
	h.n_levels = 3;
	h.concurrency[0] = 1;
	h.concurrency[1] = 2;
	h.concurrency[2] = 4;
	h.requests = 8;
	r = sweep_run(&h, root, true);
	pwr_powercap_set_io(NULL);
	fl_stop(f);
	if (!r->complete)
		fail_msg("incomplete: %s", r->incomplete_reason);
	for (int d = 0; d < r->n_domains; d++)
		if (!strcmp(r->domains[d].id, "powercap:package-0"))
			pc = d;
	assert_int_equal(r->primary, pc);
	assert_non_null(r->http);
	assert_int_equal(r->http->n_levels, 3);
	assert_false(r->http->remote);
	assert_int_equal(r->http->n_covers, 1);
	for (int li = 0; li < 3; li++) {
		const struct bench_http_level *L = &r->http->levels[li];
		struct bench_http_level_summary s;
		double dur = (double)(L->t_end_ns - L->t_start_ns) / 1e9;

		bench_http_level_summarize(r, li, &s);
		assert_int_equal(s.n_ok, 8);
		assert_int_equal(s.output_tokens, 64);
		assert_string_equal(s.token_count_source, "usage");
		assert_true(L->energy_valid);
		near(L->energy_j, W_LEVEL * dur, 0.03, "level energy");
		assert_true(s.jpt_valid && s.net_valid);
		near(s.j_per_token, W_LEVEL * dur / 64, 0.03, "J/token");
		near(s.j_per_token_net, (W_LEVEL - W_IDLE) * dur / 64, 0.03, "J/token net");
		near(s.avg_power_w, W_LEVEL, 0.03, "average power");
		near(s.agg_tok_s, 64 / dur, 1e-9, "aggregate tok/s");
		assert_true(s.ttft_valid && s.ttft_p50_ms >= 20);
		assert_true(s.itl_valid && s.itl_p50_ms >= 12 * 0.9);
	}
	/* more streams at once finish the same 8 requests sooner */
	assert_true(r->http->levels[2].t_end_ns - r->http->levels[2].t_start_ns <
	            r->http->levels[0].t_end_ns - r->http->levels[0].t_start_ns);
	bench_run_free(r);
	tu_rmtree(root);
	free(root);
}

/* A remote-looking URL (a TEST-NET address, routed to the loopback server by curl's
 * --connect-to): timed, but its energy is null with the reason, never the local watts. */
static void test_remote_energy_null(void **state)
{
	struct fl_script sc = {.n_tokens = 4, .itl_ms = 5, .usage = true, .fault_request = -1};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	char *root = fake_zone(), ct[128];
	struct bench_run *r;
	struct bench_http_level_summary s;
	cJSON *doc, *lv;

	(void)state;
	snprintf(h.url, sizeof h.url, "%s", "http://203.0.113.7:8000/v1");
	snprintf(ct, sizeof ct, "203.0.113.7:8000:127.0.0.1:%d", fl_port(f));
	setenv("JOULEBENCH_HTTP_CONNECT_TO", ct, 1);
	h.requests = 3;
	r = sweep_run(&h, root, true);
	unsetenv("JOULEBENCH_HTTP_CONNECT_TO");
	pwr_powercap_set_io(NULL);
	fl_stop(f);
	if (!r->complete)
		fail_msg("incomplete: %s", r->incomplete_reason);
	assert_true(r->http->remote);
	bench_http_level_summarize(r, 0, &s);
	assert_int_equal(s.n_ok, 3);
	assert_true(s.ttft_valid);
	assert_false(r->http->levels[0].energy_valid);
	assert_false(s.jpt_valid);
	assert_string_equal(s.jpt_reason,
	                    "remote engine at 203.0.113.7: the local probes do not see its power");
	doc = cJSON_CreateObject();
	bench_http_json(doc, r);
	lv =
	    cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "sweep"), "levels"), 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(lv, "j_per_token")));
	assert_non_null(strstr(cJSON_GetObjectItem(lv, "j_per_token_reason")->valuestring,
	                       "remote engine at 203.0.113.7"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(lv, "energy_j")));
	assert_true(
	    cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "engine"), "remote")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "sweep"),
	                                                        "energy_covers")),
	                 0);
	cJSON_Delete(doc);
	bench_run_free(r);
	tu_rmtree(root);
	free(root);
}

/* Ollama's own counters beside the client's timings, per level. */
static void test_ollama_level(void **state)
{
	struct fl_script sc = {
	    .n_tokens = 5, .itl_ms = 4, .usage_prompt_tokens = 9, .fault_request = -1};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts h = opts_for(f, BENCH_ENGINE_OLLAMA, false);
	struct bench_http_level_summary s;
	struct bench_run *r;

	(void)state;
	h.requests = 3;
	r = sweep_run(&h, NULL, false);
	fl_stop(f);
	if (!r->complete)
		fail_msg("incomplete: %s", r->incomplete_reason);
	bench_http_level_summarize(r, 0, &s);
	assert_string_equal(s.token_count_source, "eval_count");
	assert_int_equal(s.output_tokens, 15);
	assert_int_equal(s.prompt_tokens, 27);
	/* the fake reports eval_duration = 5 tokens x 4 ms: 250 tok/s */
	assert_true(s.server_tok_s_valid);
	near(s.server_decode_tok_s, 250, 1e-6, "Ollama's decode tok/s");
	bench_run_free(r);
}

/* --remote: a loopback URL that is really a tunnel to another machine. */
static void test_forced_remote(void **state)
{
	struct fl_script sc = {.n_tokens = 3, .usage = true, .fault_request = -1};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	struct bench_run *r;

	(void)state;
	h.remote = true;
	h.requests = 1;
	r = sweep_run(&h, NULL, false);
	fl_stop(f);
	assert_true(r->complete);
	assert_true(r->http->remote);
	assert_false(r->http->levels[0].energy_valid);
	assert_string_equal(
	    r->http->levels[0].energy_reason,
	    "remote engine at 127.0.0.1 (--remote): the local probes do not see its power");
	bench_run_free(r);
}

static void *stop_later(void *arg)
{
	struct timespec ts = {0, 600000000L};

	(void)arg;
	nanosleep(&ts, NULL);
	bench_stop_request(SIGINT);
	return NULL;
}

/* SIGINT during a slow stream ends the sweep at once: what was measured is kept, the stream
 * in flight is marked interrupted, and the run incomplete. */
static void test_interrupted_sweep(void **state)
{
	struct fl_script sc = {.n_tokens = 60, .itl_ms = 50, .usage = true, .fault_request = -1};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	struct bench_run *r;
	pthread_t t;
	int64_t t0 = pwr_now_ns();

	(void)state;
	h.requests = 3;
	assert_int_equal(pthread_create(&t, NULL, stop_later, NULL), 0);
	r = sweep_run(&h, NULL, false); /* idle 0.3 s, then a 3 s warm-up stream */
	pthread_join(t, NULL);
	bench_stop_clear();
	fl_stop(f);
	if ((double)(pwr_now_ns() - t0) / 1e9 > 2.5)
		fail_msg("the run took %.1f s after a stop at 0.6 s",
		         (double)(pwr_now_ns() - t0) / 1e9);
	assert_false(r->complete);
	assert_non_null(strstr(r->incomplete_reason, "interrupted by SIGINT"));
	bench_run_free(r);
}

/* A stop inside a level: the streams in flight are marked interrupted, the requests not yet
 * sent say so, and the batch returns at once. */
static void test_batch_stop_mid_level(void **state)
{
	struct fl_script sc = {.n_tokens = 100, .itl_ms = 30, .fault_request = -1};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts o = opts_for(f, BENCH_ENGINE_OPENAI, false);
	struct bench_http_req q[6];
	const struct bench_http_prompt prompts[] = {{.text = "x"}};
	char err[256] = "";
	pthread_t t;
	int64_t t0 = pwr_now_ns();
	int interrupted = 0, unsent = 0;

	(void)state;
	bench_stop_clear();
	assert_int_equal(pthread_create(&t, NULL, stop_later, NULL), 0);
	assert_int_equal(
	    bench_http_batch(&o, prompts, 1, 100, 6, 2, q, bench_stop_flag(), err, sizeof err), 0);
	pthread_join(t, NULL);
	bench_stop_clear();
	fl_stop(f);
	if ((double)(pwr_now_ns() - t0) / 1e9 > 2)
		fail_msg("the batch took %.1f s after a stop at 0.6 s",
		         (double)(pwr_now_ns() - t0) / 1e9);
	for (int i = 0; i < 6; i++) {
		assert_false(q[i].ok);
		interrupted += strstr(q[i].error, "interrupted") != NULL;
		unsent += strstr(q[i].error, "not sent") != NULL;
		bench_http_req_free(&q[i]);
	}
	assert_int_equal(interrupted, 2);
	assert_int_equal(unsent, 4);
}

/* A run whose requests fail is incomplete and says why. */
static void test_failed_run_says_so(void **state)
{
	struct fl_script sc = {.n_tokens = 3,
	                       .fault = FL_HTTP_ERROR,
	                       .fault_request = -1,
	                       .http_status = 404,
	                       .error_body =
	                           "{\"error\":{\"message\":\"model 'fake-model' not found\"}}"};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	struct bench_run *r;

	(void)state;
	h.requests = 2;
	r = sweep_run(&h, NULL, false);
	fl_stop(f);
	assert_false(r->complete);
	/* the warm-up request is not counted */
	assert_non_null(strstr(r->incomplete_reason, "2 of 2 requests failed"));
	assert_non_null(strstr(r->incomplete_reason, "HTTP 404"));
	assert_non_null(strstr(r->incomplete_reason, "model 'fake-model' not found"));
	bench_run_free(r);
}

/* With an NVIDIA GPU (the fake libnvidia-ml of tests/fixtures/fake_nvml.c, power-only at a
 * constant 100 W) the level's energy covers the CPU package and the GPU, and says so. */
/* Points NVML at the fake libnvidia-ml (tests/fixtures/fake_nvml.c, built beside the test
 * programs by make test-build): one GPU drawing 100 W, power only. False when it cannot be
 * loaded. */
static bool fake_nvml_at_100w(void)
{
	const char *lib = tu_tool_path("libnvidia-ml-fake.so");
	void *h;

	if (!lib || !(h = dlopen(lib, RTLD_NOW | RTLD_LOCAL)))
		return false;
	dlclose(h);
	setenv("JOULEBENCH_NVML_LIB", lib, 1);
	setenv("FAKE_NVML_NO_ENERGY", "1", 1);
	setenv("FAKE_NVML_WATTS", "100", 1);
	return true;
}

static void fake_nvml_unset(void)
{
	unsetenv("JOULEBENCH_NVML_LIB");
	unsetenv("FAKE_NVML_NO_ENERGY");
	unsetenv("FAKE_NVML_WATTS");
}

static void test_gpu_covered(void **state)
{
	struct fl_script sc = {
	    .n_tokens = 6, .ttft_ms = 10, .itl_ms = 15, .usage = true, .fault_request = -1};
	char *tmp = tu_mkdtemp();
	struct fl_server *f;
	struct bench_http_opts h;
	struct bench_run *r;
	struct bench_http_level_summary s;
	char *root;
	double dur;
	cJSON *doc, *cov;

	(void)state;
	if (!fake_nvml_at_100w()) {
		tu_rmtree(tmp);
		free(tmp);
		TU_SKIP("the fake NVML library (make test-build builds tools/libnvidia-ml-fake.so) cannot be loaded");
	}
	f = fl_start(&sc);
	h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	h.requests = 4;
	h.concurrency[0] = 2;
	root = fake_zone();
	r = sweep_run(&h, root, true);
	pwr_powercap_set_io(NULL);
	fl_stop(f);
	fake_nvml_unset();
	if (!r->complete)
		fail_msg("incomplete: %s", r->incomplete_reason);
	assert_int_equal(r->http->n_covers, 2);
	assert_string_equal(r->domains[r->http->covers[0]].id, "powercap:package-0");
	assert_string_equal(r->domains[r->http->covers[1]].id, "nvml:gpu0");
	dur = (double)(r->http->levels[0].t_end_ns - r->http->levels[0].t_start_ns) / 1e9;
	assert_true(r->http->levels[0].energy_valid);
	near(r->http->levels[0].energy_j, (W_LEVEL + 100) * dur, 0.05, "CPU + GPU level energy");
	bench_http_level_summarize(r, 0, &s);
	near(s.j_per_token, (W_LEVEL + 100) * dur / 24, 0.05, "CPU + GPU J/token");
	doc = cJSON_CreateObject();
	bench_http_json(doc, r);
	cov = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "sweep"), "energy_covers");
	assert_int_equal(cJSON_GetArraySize(cov), 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cov, 1), "id")->valuestring,
	                    "nvml:gpu0");
	assert_non_null(strstr(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cov, 1), "covers")->valuestring, "GPU 0"));
	cJSON_Delete(doc);
	bench_run_free(r);
	tu_rmtree(root);
	free(root);
	tu_rmtree(tmp);
	free(tmp);
}

/* A primary counter that never advances (a VM that exposes RAPL and reads it as 0) is no 0 J
 * figure: the level's energy is null, the note says which source gave nothing, and the GPU's
 * own energy is still kept per source. */
static void test_stuck_primary_is_no_figure(void **state)
{
	struct fl_script sc = {
	    .n_tokens = 20, .ttft_ms = 10, .itl_ms = 30, .usage = true, .fault_request = -1};
	char *tmp = tu_mkdtemp();
	struct fl_server *f;
	struct bench_http_opts h;
	struct bench_run *r;
	struct bench_http_level_summary s;
	char *root;
	int gpu = -1;

	(void)state;
	if (!fake_nvml_at_100w()) {
		tu_rmtree(tmp);
		free(tmp);
		TU_SKIP("the fake NVML library (make test-build builds tools/libnvidia-ml-fake.so) cannot be loaded");
	}
	f = fl_start(&sc);
	h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	h.requests = 2;
	h.concurrency[0] = 1;
	root = fake_zone();
	fz.watts = 0; /* and no phase hook: the package counter never moves */
	r = sweep_run(&h, root, false);
	pwr_powercap_set_io(NULL);
	fl_stop(f);
	fake_nvml_unset();
	if (!r->complete)
		fail_msg("incomplete: %s", r->incomplete_reason);
	assert_false(r->http->levels[0].energy_valid);
	assert_non_null(strstr(r->http->levels[0].energy_reason, "never advanced"));
	assert_non_null(strstr(r->http->covers_reason, "powercap:package-0 gave no figure"));
	bench_http_level_summarize(r, 0, &s);
	assert_false(s.jpt_valid);
	for (int d = 0; d < r->n_domains; d++)
		if (!strcmp(r->domains[d].id, "nvml:gpu0"))
			gpu = d;
	assert_true(gpu >= 0);
	assert_true(r->http->levels[0].by_domain_j[gpu] > 0); /* the GPU's own figure is kept */
	bench_run_free(r);
	tu_rmtree(root);
	free(root);
	tu_rmtree(tmp);
	free(tmp);
}

/* The sweep as `compare` and `claims` read it back from result.json. */
/* The sweep's JSON (bench_http_json) of a run, parsed. */
static cJSON *sweep_json(const struct bench_run *r)
{
	cJSON *root = cJSON_CreateObject();

	bench_http_json(root, r);
	return root;
}

#define LLAMACPP_MODELS                                                                            \
	"{\"object\":\"list\",\"data\":[{\"id\":\"/models/x.gguf\",\"object\":\"model\","       \
	"\"owned_by\":\"llamacpp\",\"meta\":{\"n_vocab\":32000,\"n_ctx_train\":4096}}]}"

/* --prompt-format: auto sends token ids to a server that says it is llama-server (owned_by
 * "llamacpp", meta.n_vocab, its BOS from /tokenize) — exactly the ids the built-in engine feeds
 * — and records whether usage.prompt_tokens shows a BOS added; a server that says less gets
 * text under auto, and an error naming what is missing under ids. */
static void test_prompt_format(void **state)
{
	struct fl_script sc = {.n_tokens = 4,
	                       .itl_ms = 2,
	                       .usage = true,
	                       .usage_prompt_tokens = 16,
	                       .fault_request = -1,
	                       .models_body = LLAMACPP_MODELS,
	                       .tokenize_body = "{\"tokens\":[1]}"};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	struct bench_http_server_info si;
	struct bench_run *r;
	int32_t want[16];
	char path[128], body[8192], err[512] = "";
	cJSON *j, *sw, *p;

	(void)state;
	bench_http_server_info(&h, &si);
	assert_true(si.listed);
	assert_string_equal(si.owned_by, "llamacpp");
	assert_int_equal(si.n_vocab, 32000);
	assert_true(si.bos_known);
	assert_int_equal(si.bos, 1);
	assert_string_equal(si.bos_source, "/tokenize");

	h.same_prompt = true;
	h.requests = 2;
	r = sweep_run(&h, NULL, false);
	if (!r->complete)
		fail_msg("incomplete: %s", r->incomplete_reason);
	assert_int_equal(r->http->prompt_format, BENCH_PROMPT_IDS);
	fl_last_request(f, path, sizeof path, body, sizeof body);
	assert_string_equal(path, "/v1/completions");
	j = cJSON_Parse(body);
	assert_non_null(j);
	p = cJSON_GetObjectItem(j, "prompt");
	assert_true(cJSON_IsArray(p));
	assert_int_equal(cJSON_GetArraySize(p), 16);
	bench_workload_prompt_ids(r->w->seed, 16, 32000, 1, want);
	for (int i = 0; i < 16; i++)
		assert_int_equal(cJSON_GetArrayItem(p, i)->valueint, want[i]);
	cJSON_Delete(j);
	sw = sweep_json(r);
	j = cJSON_GetObjectItem(sw, "sweep");
	assert_string_equal(cJSON_GetObjectItem(j, "prompt_format")->valuestring, "ids");
	assert_string_equal(cJSON_GetObjectItem(j, "prompt_format_asked")->valuestring, "auto");
	assert_int_equal(cJSON_GetObjectItem(j, "prompt_ids_sent")->valueint, 16);
	assert_int_equal(cJSON_GetObjectItem(j, "bos_token_id")->valueint, 1);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "server_added_bos")));
	cJSON_Delete(sw);
	bench_run_free(r);
	fl_stop(f);

	/* a server that counts one token more than was sent put something (a BOS) in front */
	sc.usage_prompt_tokens = 17;
	f = fl_start(&sc);
	h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	h.requests = 2;
	h.prompt_format = BENCH_PROMPT_IDS;
	r = sweep_run(&h, NULL, false);
	assert_int_equal(r->http->prompt_format, BENCH_PROMPT_IDS);
	/* unique prompts: the id after BOS differs from the built-in engine's, the rest does not */
	fl_last_request(f, path, sizeof path, body, sizeof body);
	j = cJSON_Parse(body);
	assert_non_null(j);
	p = cJSON_GetObjectItem(j, "prompt");
	assert_int_equal(cJSON_GetArraySize(p), 16);
	assert_int_equal(cJSON_GetArrayItem(p, 0)->valueint, 1);
	assert_int_not_equal(cJSON_GetArrayItem(p, 1)->valueint, want[1]);
	for (int i = 2; i < 16; i++)
		assert_int_equal(cJSON_GetArrayItem(p, i)->valueint, want[i]);
	cJSON_Delete(j);
	sw = sweep_json(r);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(sw, "sweep"), "server_added_bos")));
	cJSON_Delete(sw);
	bench_run_free(r);
	fl_stop(f);

	/* no vocabulary size: auto falls back to text and says why; ids is refused */
	sc.models_body = NULL;
	sc.usage_prompt_tokens = 16;
	f = fl_start(&sc);
	h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	h.requests = 1;
	r = sweep_run(&h, NULL, false);
	assert_int_equal(r->http->prompt_format, BENCH_PROMPT_TEXT);
	assert_non_null(strstr(r->http->prompt_format_reason, "no meta.n_vocab"));
	fl_last_request(f, path, sizeof path, body, sizeof body);
	assert_non_null(strstr(body, "\"prompt\":\"("));
	sw = sweep_json(r);
	j = cJSON_GetObjectItem(sw, "sweep");
	assert_string_equal(cJSON_GetObjectItem(j, "prompt_format")->valuestring, "text");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "server_added_bos")));
	assert_non_null(cJSON_GetObjectItem(j, "server_added_bos_reason"));
	cJSON_Delete(sw);
	bench_run_free(r);
	h.prompt_format = BENCH_PROMPT_IDS;
	{
		static struct bench_workload w;
		struct bench_run_opts o;

		bench_workload_init(&w);
		snprintf(w.model, sizeof w.model, "%s", "fake-model");
		w.idle_s = 0;
		memset(&o, 0, sizeof o);
		o.w = &w;
		o.http = &h;
		r = NULL;
		assert_int_equal(bench_run(&o, &r, err, sizeof err), -EINVAL);
		assert_null(r);
		assert_non_null(strstr(err, "--prompt-format ids:"));
		assert_non_null(strstr(err, "no meta.n_vocab"));
	}
	fl_stop(f);
}

static void test_sweep_in_compare_and_claims(void **state)
{
	struct fl_script sc = {.n_tokens = 8,
	                       .ttft_ms = 10,
	                       .itl_ms = 8,
	                       .usage = true,
	                       .usage_prompt_tokens = 16,
	                       .fault_request = -1};
	struct fl_server *f = fl_start(&sc);
	struct bench_http_opts h = opts_for(f, BENCH_ENGINE_OPENAI, false);
	char *root = fake_zone(), *dir = tu_mkdtemp(), path[PATH_MAX], err[512] = "", *text = NULL;
	struct bench_run *r;
	struct rpt_result *res = NULL;
	struct rpt_claim claims[RPT_N_CLAIMS];
	size_t len = 0;
	FILE *mf;

	(void)state;
	h.n_levels = 2;
	h.concurrency[0] = 1;
	h.concurrency[1] = 4;
	h.requests = 8;
	h.n_params = 8e9;
	r = sweep_run(&h, root, true);
	pwr_powercap_set_io(NULL);
	fl_stop(f);
	assert_true(r->complete);
	assert_int_equal(bench_result_write(r, dir, err, sizeof err), 0);
	if (getenv("KEEP_RESULT")) /* a sweep result to look at */
		bench_result_write(r, getenv("KEEP_RESULT"), err, sizeof err);
	bench_run_free(r);
	snprintf(path, sizeof path, "%s/result.json", dir);
	if (rpt_result_load(path, &res, err, sizeof err) != 0)
		fail_msg("rpt_result_load: %s", err);
	assert_string_equal(res->engine, "openai");
	assert_int_equal(res->n_sweep_levels, 2);
	assert_int_equal(res->n_configs, 2);
	assert_true(res->n_params.ok && res->n_params.v == 8e9);
	for (int i = 0; i < 2; i++) {
		const struct rpt_config *c = &res->configs[i];

		assert_int_equal(c->concurrency, i ? 4 : 1);
		assert_true(c->decode_tok_s.ok && c->decode_jpt_gross.ok && c->decode_jpt_net.ok);
		assert_string_equal(c->energy_source, "powercap:package-0");
		assert_string_equal(c->energy_kind, "measured");
		assert_false(c->prefill_tok_s.ok);
	}
	/* compare: the headline is the level with the highest aggregate tok/s; --all lists both */
	mf = open_memstream(&text, &len);
	assert_int_equal(rpt_compare_rows(mf, &res, 1, true, RPT_FMT_TERM, err, sizeof err), 0);
	fclose(mf);
	assert_non_null(strstr(text, "openai c1"));
	assert_non_null(strstr(text, "openai c4"));
	assert_non_null(strstr(text, "energy measured by 'powercap:package-0'"));
	free(text);
	/* claims: the same-model verdict uses the sweep's most efficient level */
	if (rpt_claims_check(&res, 1, "configs/cloud", claims, err, sizeof err) != 0)
		fail_msg("claims: %s", err);
	if (!strstr(claims[2].evidence, "server sweep, J/token by concurrency: c1 ") ||
	    !strstr(claims[2].evidence, "at concurrency"))
		fail_msg("same-model evidence does not use the sweep:\n%s", claims[2].evidence);
	/* the plots: aggregate tok/s and J/token against the concurrency (scripts/plot-sweep.gp) */
	{
		struct rpt_plot plots[RPT_MAX_PLOTS];
		char why[RPT_ERR_LEN] = "", skipped[RPT_ERR_LEN] = "", pdir[PATH_MAX - 64], *dat;
		int np;

		snprintf(pdir, sizeof pdir, "%s/plots", dir);
		np = rpt_plots_write(&res, 1, pdir, "scripts", "configs/cloud", plots, skipped,
		                     sizeof skipped, err, sizeof err);
		assert_true(np >= 0);
		snprintf(path, sizeof path, "%s/sweep.dat", pdir);
		dat = tu_read_file(path, NULL);
		assert_non_null(dat);
		assert_non_null(strstr(dat, "\n1 "));
		assert_non_null(strstr(dat, "\n4 "));
		free(dat);
		if (rpt_gnuplot_available(why, sizeof why)) {
			bool found = false;

			for (int i = 0; i < np; i++)
				found |= !strcmp(plots[i].name, "sweep");
			if (!found)
				fail_msg("no sweep plot: %s", skipped);
		}
	}
	rpt_result_free(res);
	tu_rmtree(dir);
	free(dir);
	tu_rmtree(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sse_any_split),
	    cmocka_unit_test(test_ndjson_parse),
	    cmocka_unit_test(test_bodies),
	    cmocka_unit_test(test_ttft_itl),
	    cmocka_unit_test(test_unique_prompts),
	    cmocka_unit_test(test_prompt_format),
	    cmocka_unit_test(test_split_reads_chat),
	    cmocka_unit_test(test_ollama_stream),
	    cmocka_unit_test(test_error_event_mid_stream),
	    cmocka_unit_test(test_close_mid_stream),
	    cmocka_unit_test(test_missing_done),
	    cmocka_unit_test(test_not_streamed),
	    cmocka_unit_test(test_http_400_json),
	    cmocka_unit_test(test_http_500),
	    cmocka_unit_test(test_stall_timeout),
	    cmocka_unit_test(test_concurrency_levels),
	    cmocka_unit_test(test_one_request_fails),
	    cmocka_unit_test(test_url_classification),
	    cmocka_unit_test(test_jpt_per_level),
	    cmocka_unit_test(test_remote_energy_null),
	    cmocka_unit_test(test_ollama_level),
	    cmocka_unit_test(test_forced_remote),
	    cmocka_unit_test(test_interrupted_sweep),
	    cmocka_unit_test(test_batch_stop_mid_level),
	    cmocka_unit_test(test_failed_run_says_so),
	    cmocka_unit_test(test_gpu_covered),
	    cmocka_unit_test(test_stuck_primary_is_no_figure),
	    cmocka_unit_test(test_sweep_in_compare_and_claims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
