/*
 * tests/test_serve.c — `joulebench serve` end to end: the server runs as a child process on
 * 127.0.0.1 with a free port (--port 0; the port is read from its "listening on" line) and is
 * driven with libcurl. Synthetic models (placeholder vocabulary), so nothing outside the
 * repository is needed: stories260k for the fast checks, stories15m (~2 ms a token on one
 * thread) where requests must overlap in time.
 *
 * Checked: /health, /v1/models, 404; a non-streamed completion equals `joulebench generate`
 * (greedy, and sampled with the same seed); streamed chunks concatenate to the same text, end
 * with finish_reason, a usage chunk and [DONE]; chat, streamed and not; 1..8 concurrent requests
 * each give what they give alone, and run batched (fewer decode steps than tokens); more requests
 * than slots queue; bad requests get llama-server's status and error body; a client that hangs up
 * frees its slot; SIGTERM finishes the running request, refuses new ones with 503 and exits 0.
 * Every wait has a time limit; nothing connects beyond 127.0.0.1.
 */
#include "helpers/testutil.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SMALL "synth:stories260k:q8_0"
#define MEDIUM "synth:stories15m:q8_0"
#define HTTP_TIMEOUT_S 60L

/* ---- the server as a child process -------------------------------------------------------- */

struct server {
	pid_t pid;
	int port;
	char *dir;
	char log[1024];
	char base[64]; /* http://127.0.0.1:PORT */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Starts `joulebench serve --port 0 ARGS...` (NULL-terminated) and waits up to 30 s for its
 * "listening on" line. */
static void server_start(struct server *sv, const char *const *args)
{
	const char *argv[32];
	int n = 0;
	double t0 = now_s();

	memset(sv, 0, sizeof *sv);
	sv->dir = tu_mkdtemp();
	assert_non_null(sv->dir);
	snprintf(sv->log, sizeof sv->log, "%s/serve.err", sv->dir);
	argv[n++] = tu_joulebench();
	argv[n++] = "serve";
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--host";
	argv[n++] = "127.0.0.1";
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	fflush(NULL);
	sv->pid = fork();
	assert_true(sv->pid >= 0);
	if (sv->pid == 0) {
		int fd = open(sv->log, O_WRONLY | O_CREAT | O_TRUNC, 0644), nul = open("/dev/null", O_RDWR);

		if (fd < 0 || nul < 0)
			_exit(127);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (now_s() - t0 < 30.0) {
		char *log = tu_read_file(sv->log, NULL);
		const char *p = log ? strstr(log, "listening on http://127.0.0.1:") : NULL;
		int status;

		if (p) {
			sv->port = atoi(p + strlen("listening on http://127.0.0.1:"));
			free(log);
			break;
		}
		free(log);
		if (waitpid(sv->pid, &status, WNOHANG) == sv->pid) {
			log = tu_read_file(sv->log, NULL);
			fail_msg("serve exited before listening: %s", log ? log : "(no output)");
		}
		sleep_ms(20);
	}
	assert_true(sv->port > 0);
	snprintf(sv->base, sizeof sv->base, "http://127.0.0.1:%d", sv->port);
}

/* Waits up to timeout_s for the child; returns its exit status, or -1 (then it is killed). */
static int server_wait(struct server *sv, double timeout_s)
{
	double t0 = now_s();
	int status;

	while (now_s() - t0 < timeout_s) {
		if (waitpid(sv->pid, &status, WNOHANG) == sv->pid) {
			sv->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		sleep_ms(20);
	}
	kill(sv->pid, SIGKILL);
	waitpid(sv->pid, &status, 0);
	sv->pid = 0;
	return -1;
}

static void server_stop(struct server *sv)
{
	int rc = 0;

	if (sv->pid > 0) {
		kill(sv->pid, SIGTERM);
		rc = server_wait(sv, 30.0);
		if (rc != 0) {
			char *log = tu_read_file(sv->log, NULL);

			fprintf(stderr, "serve exited with %d; its log:\n%s\n", rc, log ? log : "");
			free(log);
		}
	}
	if (sv->dir) {
		tu_rmtree(sv->dir);
		free(sv->dir);
		sv->dir = NULL;
	}
	assert_int_equal(rc, 0); /* drained and exited cleanly (no sanitizer report either) */
}

/* ---- HTTP with libcurl --------------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len;
	size_t abort_after; /* > 0: stop the transfer once this many bytes arrived */
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userp)
{
	struct buf *b = userp;
	size_t n = size * nmemb;
	char *t = realloc(b->p, b->len + n + 1);

	if (!t)
		return 0;
	b->p = t;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	if (b->abort_after && b->len >= b->abort_after)
		return 0; /* the client hangs up */
	return n;
}

static CURL *easy(const char *url, const char *body, struct buf *out, long timeout_ms)
{
	CURL *c = curl_easy_init();

	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	return c;
}

/* GET (body NULL) or POST; returns the HTTP status (0 if the transfer failed), body in *resp. */
static long http(const struct server *sv, const char *path, const char *body, char **resp)
{
	char url[256];
	struct buf b = { 0 };
	long code = 0;
	CURL *c;

	snprintf(url, sizeof url, "%s%s", sv->base, path);
	c = easy(url, body, &b, HTTP_TIMEOUT_S * 1000);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (resp)
		*resp = b.p ? b.p : calloc(1, 1);
	else
		free(b.p);
	return code;
}

static cJSON *parse(const char *s)
{
	cJSON *j = cJSON_Parse(s);

	if (!j)
		fail_msg("not JSON: %.300s", s);
	return j;
}

static const cJSON *path_get(const cJSON *j, const char *a, const char *b)
{
	j = cJSON_GetObjectItemCaseSensitive(j, a);
	return b ? cJSON_GetObjectItemCaseSensitive(j, b) : j;
}

static int usage_of(const cJSON *j, const char *key)
{
	const cJSON *v = path_get(j, "usage", key);

	assert_true(cJSON_IsNumber(v));
	return v->valueint;
}

/* A non-streamed completion's text (malloc'd) and token counts; asserts status 200. */
static char *complete_usage(const struct server *sv, const char *body, int *completion_tokens, int *prompt_tokens)
{
	char *resp = NULL, *text;
	long code = http(sv, "/v1/completions", body, &resp);
	cJSON *j;
	const cJSON *t;

	if (code != 200)
		fail_msg("status %ld for %s: %s", code, body, resp);
	j = parse(resp);
	t = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(path_get(j, "choices", NULL), 0), "text");
	assert_true(cJSON_IsString(t));
	text = strdup(t->valuestring);
	if (completion_tokens)
		*completion_tokens = usage_of(j, "completion_tokens");
	if (prompt_tokens)
		*prompt_tokens = usage_of(j, "prompt_tokens");
	cJSON_Delete(j);
	free(resp);
	return text;
}

static char *complete(const struct server *sv, const char *body, int *completion_tokens)
{
	return complete_usage(sv, body, completion_tokens, NULL);
}

/* What one SSE stream said. */
struct stream {
	char *text;         /* text (or delta.content) of every chunk, concatenated */
	int n_chunks;       /* data: events other than [DONE] */
	bool done;          /* ended with data: [DONE] */
	char finish[16];    /* finish_reason of the last choice that had one */
	int prompt_tokens, completion_tokens; /* from the usage chunk (choices: []), -1 if none */
	bool role_first;    /* chat: first delta has role assistant */
};

static void parse_stream(const char *body, bool chat, struct stream *st)
{
	const char *p = body;
	size_t len = 0;

	memset(st, 0, sizeof *st);
	st->text = calloc(1, 1);
	st->prompt_tokens = st->completion_tokens = -1;
	while ((p = strstr(p, "data: "))) {
		const char *end = strstr(p, "\n\n");
		char *ev;
		cJSON *j;
		const cJSON *ch, *c0, *t;

		assert_non_null(end);
		ev = strndup(p + 6, (size_t)(end - p - 6));
		p = end + 2;
		if (!strcmp(ev, "[DONE]")) {
			st->done = true;
			assert_null(strstr(p, "data: ")); /* nothing after [DONE] */
			free(ev);
			break;
		}
		j = parse(ev);
		free(ev);
		st->n_chunks++;
		assert_non_null(cJSON_GetObjectItemCaseSensitive(j, "id"));
		ch = path_get(j, "choices", NULL);
		assert_true(cJSON_IsArray(ch));
		if (cJSON_GetArraySize(ch) == 0) {
			st->prompt_tokens = usage_of(j, "prompt_tokens");
			st->completion_tokens = usage_of(j, "completion_tokens");
			cJSON_Delete(j);
			continue;
		}
		c0 = cJSON_GetArrayItem(ch, 0);
		if (chat) {
			const cJSON *d = cJSON_GetObjectItemCaseSensitive(c0, "delta");

			assert_true(cJSON_IsObject(d));
			if (st->n_chunks == 1) {
				const cJSON *role = cJSON_GetObjectItemCaseSensitive(d, "role");

				st->role_first = cJSON_IsString(role) && !strcmp(role->valuestring, "assistant");
			}
			t = cJSON_GetObjectItemCaseSensitive(d, "content");
			assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "object")->valuestring,
					    "chat.completion.chunk");
		} else {
			t = cJSON_GetObjectItemCaseSensitive(c0, "text");
			assert_true(cJSON_IsString(t));
		}
		if (cJSON_IsString(t)) {
			size_t n = strlen(t->valuestring);

			st->text = realloc(st->text, len + n + 1);
			memcpy(st->text + len, t->valuestring, n + 1);
			len += n;
		}
		t = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
		if (cJSON_IsString(t))
			snprintf(st->finish, sizeof st->finish, "%s", t->valuestring);
		cJSON_Delete(j);
	}
}

/* The error body llama-server gives: {"error":{"code":C,"message":"...","type":T}}. */
static void expect_error(const struct server *sv, const char *path, const char *body, long code, const char *type)
{
	char *resp = NULL;
	long got = http(sv, path, body, &resp);
	cJSON *j;
	const cJSON *e;

	if (got != code)
		fail_msg("%s %s: status %ld, expected %ld: %s", path, body ? body : "(GET)", got, code, resp);
	j = parse(resp);
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	assert_true(cJSON_IsObject(e));
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(e, "code")->valueint, code);
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring, type);
	cJSON_Delete(j);
	free(resp);
}

static int health_int(const struct server *sv, const char *key)
{
	char *resp = NULL;
	long code = http(sv, "/health", NULL, &resp);
	cJSON *j;
	int v;

	assert_int_equal(code, 200);
	j = parse(resp);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, key)));
	v = cJSON_GetObjectItemCaseSensitive(j, key)->valueint;
	cJSON_Delete(j);
	free(resp);
	return v;
}

/* Runs `joulebench generate ... --json` and returns its "text" (malloc'd); *n_prompt gets its
 * prompt_tokens. */
static char *generate_text(const char *model, const char *prompt, int n, const char *sampling, int *n_prompt)
{
	char cmd[1024], *out = NULL, *err = NULL, *text;
	cJSON *j;
	int rc;

	snprintf(cmd, sizeof cmd, "\"$JB\" generate -m %s -p '%s' -n %d %s --ignore-eos -t 1 --json", model, prompt, n,
		 sampling);
	rc = tu_run(cmd, 120, &out, &err);
	if (rc != 0)
		fail_msg("%s: exit %d: %s", cmd, rc, err);
	j = parse(out);
	text = strdup(cJSON_GetObjectItemCaseSensitive(j, "text")->valuestring);
	*n_prompt = cJSON_GetObjectItemCaseSensitive(j, "prompt_tokens")->valueint;
	cJSON_Delete(j);
	free(out);
	free(err);
	return text;
}

/* ---- tests --------------------------------------------------------------------------------- */

static struct server g_small; /* SMALL, 4 slots, ctx 512: shared by the quick tests */

static int setup_small(void **state)
{
	static const char *const args[] = { "-m", SMALL, "-np", "4", "-t", "1", "-c", "512", NULL };

	(void)state;
	server_start(&g_small, args);
	return 0;
}

static int teardown_small(void **state)
{
	(void)state;
	server_stop(&g_small);
	return 0;
}

static void test_health_models(void **state)
{
	char *resp = NULL;
	cJSON *j;
	const cJSON *d;

	(void)state;
	assert_int_equal(http(&g_small, "/health", NULL, &resp), 200);
	j = parse(resp);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "status")->valuestring, "ok");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "slots_idle")->valueint, 4);
	cJSON_Delete(j);
	free(resp);

	assert_int_equal(http(&g_small, "/v1/models", NULL, &resp), 200);
	j = parse(resp);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "object")->valuestring, "list");
	d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "data"), 0);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "id")->valuestring, SMALL);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(d, "object")->valuestring, "model");
	cJSON_Delete(j);
	free(resp);
	expect_error(&g_small, "/v1/nothing", NULL, 404, "not_found_error");
}

/* The completion is what `generate` prints after the prompt (its -n 0 output). */
static void check_against_generate(const char *prompt, const char *sampling, const char *fields)
{
	char body[2048], *full, *head, *text;
	int n_gen = 0, n_prompt = 0, n_prompt_gen = 0;

	full = generate_text(SMALL, prompt, 24, sampling, &n_prompt_gen);
	head = generate_text(SMALL, prompt, 0, sampling, &n_prompt_gen);
	snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":24,\"ignore_eos\":true,%s}", prompt, fields);
	text = complete_usage(&g_small, body, &n_gen, &n_prompt);
	assert_int_equal(n_gen, 24);
	assert_int_equal(n_prompt, n_prompt_gen);
	if (strlen(prompt) > 300)
		assert_true(n_prompt > 128); /* runs as several prefill chunks */
	assert_true(strlen(text) > 0);
	assert_int_equal(strncmp(full, head, strlen(head)), 0);
	assert_string_equal(full + strlen(head), text);
	free(full);
	free(head);
	free(text);
}

static void test_matches_generate(void **state)
{
	(void)state;
	char longer[512] = ""; /* 30 pieces of 14 bytes */

	check_against_generate("Once upon a time", "--temp 0", "\"temperature\":0");
	check_against_generate("Once upon a time", "--temp 0.8 --top-k 40 --top-p 0.95 --seed 7",
			       "\"temperature\":0.8,\"top_k\":40,\"top_p\":0.95,\"seed\":7");
	/* a prompt the server runs in several chunks (SRV_PREFILL_CHUNK 128), generate in one batch */
	for (int i = 0; i < 30; i++)
		strcat(longer, i % 2 ? "the quick fox " : "jumps over it ");
	check_against_generate(longer, "--temp 0", "\"temperature\":0");
}

static void test_stream(void **state)
{
	char *resp = NULL, *text;
	struct stream st;
	cJSON *j;
	const char *body = "{\"prompt\":\"Hello there\",\"max_tokens\":20,\"temperature\":0.7,\"seed\":3,"
			   "\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
	const char *plain = "{\"prompt\":\"Hello there\",\"max_tokens\":20,\"temperature\":0.7,\"seed\":3,"
			    "\"ignore_eos\":true}";
	const char *chat = "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\","
			   "\"content\":\"Hi\"}],\"max_tokens\":12,\"temperature\":0,\"ignore_eos\":true%s}";
	char chat_body[512];
	int n_gen = 0;

	(void)state;
	text = complete(&g_small, plain, &n_gen);
	assert_int_equal(http(&g_small, "/v1/completions", body, &resp), 200);
	parse_stream(resp, false, &st);
	assert_true(st.done);
	assert_string_equal(st.text, text);
	assert_string_equal(st.finish, "length");
	assert_int_equal(st.completion_tokens, 20);
	assert_true(st.prompt_tokens > 0);
	assert_true(st.n_chunks >= 3);
	free(st.text);
	free(resp);
	free(text);

	/* chat: non-streamed message, then the same streamed as deltas */
	snprintf(chat_body, sizeof chat_body, chat, "");
	assert_int_equal(http(&g_small, "/v1/chat/completions", chat_body, &resp), 200);
	j = parse(resp);
	{
		const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(c0, "message");

		assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "object")->valuestring, "chat.completion");
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(msg, "role")->valuestring, "assistant");
		text = strdup(cJSON_GetObjectItemCaseSensitive(msg, "content")->valuestring);
		assert_int_equal(usage_of(j, "completion_tokens"), 12);
	}
	cJSON_Delete(j);
	free(resp);
	snprintf(chat_body, sizeof chat_body, chat, ",\"stream\":true");
	assert_int_equal(http(&g_small, "/v1/chat/completions", chat_body, &resp), 200);
	parse_stream(resp, true, &st);
	assert_true(st.done);
	assert_true(st.role_first);
	assert_string_equal(st.text, text);
	assert_string_equal(st.finish, "length");
	assert_int_equal(st.completion_tokens, -1); /* no usage chunk unless asked for */
	free(st.text);
	free(resp);
	free(text);
}

static void test_stop_and_tokens(void **state)
{
	char *text, *cut, body[512];
	int n = 0;

	(void)state;
	/* the greedy text, then the same request stopped at a string taken from its middle */
	text = complete(&g_small, "{\"prompt\":[1,100,200,300],\"max_tokens\":16,\"temperature\":0,\"ignore_eos\":true}",
			&n);
	assert_int_equal(n, 16);
	assert_true(strlen(text) >= 6);
	snprintf(body, sizeof body,
		 "{\"prompt\":[1,100,200,300],\"max_tokens\":16,\"temperature\":0,\"ignore_eos\":true,\"stop\":[\"%.2s\"]}",
		 text + strlen(text) / 2);
	cut = complete(&g_small, body, &n);
	assert_true(strlen(cut) <= strlen(text) / 2);
	assert_int_equal(strncmp(cut, text, strlen(cut)), 0);
	assert_true(n < 16);
	free(cut);
	free(text);
	/* max_tokens 0: nothing generated */
	text = complete(&g_small, "{\"prompt\":[1,2,3],\"max_tokens\":0}", &n);
	assert_string_equal(text, "");
	assert_int_equal(n, 0);
	free(text);
}

static void test_errors(void **state)
{
	char big[8192];
	size_t k;

	(void)state;
	expect_error(&g_small, "/v1/completions", "{\"prompt\": \"x\"", 400, "invalid_request_error");
	expect_error(&g_small, "/v1/completions", "not json", 400, "invalid_request_error");
	expect_error(&g_small, "/v1/completions", "{\"max_tokens\":4}", 400, "invalid_request_error");
	expect_error(&g_small, "/v1/completions", "[1,2]", 400, "invalid_request_error");
	expect_error(&g_small, "/v1/completions", "{\"prompt\":[1,99999]}", 400, "invalid_request_error");
	expect_error(&g_small, "/v1/completions", "{\"prompt\":\"x\",\"temperature\":\"hot\"}", 400,
		     "invalid_request_error");
	expect_error(&g_small, "/v1/completions", "{\"prompt\":\"x\",\"n\":2}", 400, "invalid_request_error");
	expect_error(&g_small, "/v1/completions", "{\"prompt\":\"x\",\"stop\":[1]}", 400, "invalid_request_error");
	expect_error(&g_small, "/v1/chat/completions", "{\"prompt\":\"x\"}", 400, "invalid_request_error");
	expect_error(&g_small, "/v1/chat/completions", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", 400,
		     "invalid_request_error");
	/* 600 tokens into a context of 512, as ids and as text */
	k = (size_t)snprintf(big, sizeof big, "{\"prompt\":[1");
	for (int i = 0; i < 599; i++)
		k += (size_t)snprintf(big + k, sizeof big - k, ",%d", 3 + i % 500);
	snprintf(big + k, sizeof big - k, "]}");
	expect_error(&g_small, "/v1/completions", big, 400, "exceed_context_size_error");
	k = (size_t)snprintf(big, sizeof big, "{\"prompt\":\"");
	for (int i = 0; i < 60; i++)
		k += (size_t)snprintf(big + k, sizeof big - k, "0123456789");
	snprintf(big + k, sizeof big - k, "\"}");
	expect_error(&g_small, "/v1/completions", big, 400, "exceed_context_size_error");
	/* the server still answers */
	assert_int_equal(health_int(&g_small, "slots_idle"), 4);
}

/* `run --engine openai --prompt-format ids|auto` against the server: it prefills exactly the
 * workload's prompt (usage.prompt_tokens = --prompt-tokens, no second BOS), the result says so,
 * and auto finds out by itself; a bad id is a 400 that names it. */
static void check_adapter_run(const char *format, int n_prompt)
{
	char cmd[1024], path[600], *dir = tu_mkdtemp(), *out = NULL, *err = NULL, *text;
	const cJSON *sw, *lv, *q;
	cJSON *j;
	int rc, n = 0;

	snprintf(cmd, sizeof cmd,
		 "\"$JB\" run --engine openai --url %s/v1 --model %s --prompt-tokens %d --gen-tokens 4 "
		 "--prompt-format %s --concurrency 1 --requests 2 --warmup 0 --idle-seconds 0 --no-db -q -o '%s'",
		 g_small.base, SMALL, n_prompt, format, dir);
	rc = tu_run(cmd, 120, &out, &err);
	if (rc != 0)
		fail_msg("%s: exit %d: %s%s", cmd, rc, out, err);
	assert_non_null(strstr(out, "token ids, the built-in engine's"));
	snprintf(path, sizeof path, "%s/result.json", dir);
	text = tu_read_file(path, NULL);
	assert_non_null(text);
	j = parse(text);
	sw = cJSON_GetObjectItemCaseSensitive(j, "sweep");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(sw, "prompt_format")->valuestring, "ids");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(sw, "prompt_format_asked")->valuestring, format);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(sw, "prompt_ids_sent")->valueint, n_prompt);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(sw, "server_added_bos")));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(sw, "server_owned_by")->valuestring, "joulebench");
	lv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(sw, "levels"), 0);
	cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(lv, "requests"))
	{
		assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "ok")));
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(q, "prompt_tokens")->valueint, n_prompt);
		assert_int_equal(cJSON_GetObjectItemCaseSensitive(q, "completion_tokens")->valueint, 4);
		n++;
	}
	assert_int_equal(n, 2);
	cJSON_Delete(j);
	free(text);
	free(out);
	free(err);
	tu_rmtree(dir);
	free(dir);
}

static void test_adapter_token_ids(void **state)
{
	char *resp = NULL;

	(void)state;
	check_adapter_run("ids", 64);
	check_adapter_run("auto", 40);
	/* the ids the server refuses, with the index and the value */
	assert_int_equal(http(&g_small, "/v1/completions", "{\"prompt\":[1,2,512],\"max_tokens\":2}", &resp), 400);
	assert_non_null(strstr(resp, "token 512 at index 2 is outside the vocabulary (0..511)"));
	assert_non_null(strstr(resp, "\"type\":\"invalid_request_error\""));
	free(resp);
	expect_error(&g_small, "/v1/completions", "{\"prompt\":[1,-3]}", 400, "invalid_request_error");
	expect_error(&g_small, "/v1/completions", "{\"prompt\":[1,2.5]}", 400, "invalid_request_error");
}

/* ---- concurrency, queueing, disconnects, drain (MEDIUM) ------------------------------------- */

/* Runs n requests at once with curl's multi interface (each body[i], to path); returns each body
 * in resp[i] and asserts status 200. */
static void run_concurrent(const struct server *sv, const char *path, char **body, int n, char **resp)
{
	CURLM *mh = curl_multi_init();
	CURL *h[16];
	struct buf b[16];
	char url[256];
	int running = 0;
	double t0 = now_s();

	assert_true(n <= 16);
	snprintf(url, sizeof url, "%s%s", sv->base, path);
	for (int i = 0; i < n; i++) {
		memset(&b[i], 0, sizeof b[i]);
		h[i] = easy(url, body[i], &b[i], HTTP_TIMEOUT_S * 1000);
		curl_multi_add_handle(mh, h[i]);
	}
	do {
		assert_int_equal(curl_multi_perform(mh, &running), CURLM_OK);
		if (running)
			curl_multi_poll(mh, NULL, 0, 100, NULL);
	} while (running && now_s() - t0 < HTTP_TIMEOUT_S + 5);
	assert_int_equal(running, 0);
	for (int i = 0; i < n; i++) {
		long code = 0;

		curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &code);
		if (code != 200)
			fail_msg("request %d: status %ld: %s", i, code, b[i].p ? b[i].p : "");
		resp[i] = b[i].p;
		curl_multi_remove_handle(mh, h[i]);
		curl_easy_cleanup(h[i]);
	}
	curl_multi_cleanup(mh);
}

static char *text_of(const char *resp)
{
	cJSON *j = parse(resp);
	char *t = strdup(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0),
							  "text")->valuestring);

	cJSON_Delete(j);
	return t;
}

static void test_concurrent(void **state)
{
	static const char *const args[] = { "-m", MEDIUM, "-np", "8", "-t", "1", "-c", "256", NULL };
	struct server sv;
	char *body[8], *alone[8], *resp[8];
	int steps0, toks0;

	(void)state;
	server_start(&sv, args);
	/* greedy for even i, sampled with a seed for odd i; every prompt different */
	for (int i = 0; i < 8; i++) {
		char b[256];

		snprintf(b, sizeof b, "{\"prompt\":\"Request %d: once upon a time %.*s\",\"max_tokens\":%d,"
			 "\"ignore_eos\":true,\"temperature\":%s,\"seed\":%d}", i, i, "abcdefgh", 40 + 4 * i,
			 i % 2 ? "0.9" : "0", 100 + i);
		body[i] = strdup(b);
		alone[i] = complete(&sv, body[i], NULL);
	}
	steps0 = health_int(&sv, "decode_steps");
	toks0 = health_int(&sv, "decode_tokens");
	assert_int_equal(steps0, toks0); /* one at a time so far */
	for (int c = 1; c <= 8; c++) {
		run_concurrent(&sv, "/v1/completions", body, c, resp);
		for (int i = 0; i < c; i++) {
			char *t = text_of(resp[i]);

			if (strcmp(t, alone[i]))
				fail_msg("concurrency %d, request %d: '%s' alone, '%s' concurrently", c, i, alone[i], t);
			free(t);
			free(resp[i]);
		}
	}
	{
		int steps = health_int(&sv, "decode_steps") - steps0, toks = health_int(&sv, "decode_tokens") - toks0;

		tu_note("concurrency 1..8: %d decode tokens in %d steps (%.2f per step)", toks, steps,
			(double)toks / steps);
		assert_true(toks > steps * 3 / 2); /* batched: well over one sequence per step */
	}
	for (int i = 0; i < 8; i++) {
		free(body[i]);
		free(alone[i]);
	}
	server_stop(&sv);
}

/* Two slots, six requests: four wait in the queue and all finish correctly. */
static void test_queue(void **state)
{
	static const char *const args[] = { "-m", MEDIUM, "-np", "2", "-t", "1", "-c", "256", NULL };
	struct server sv;
	char *body[6], *alone[6], *resp[6];

	(void)state;
	server_start(&sv, args);
	for (int i = 0; i < 6; i++) {
		char b[256];

		snprintf(b, sizeof b, "{\"prompt\":[1,%d,%d],\"max_tokens\":30,\"ignore_eos\":true,\"temperature\":0}",
			 500 + 37 * i, 900 + i);
		body[i] = strdup(b);
		alone[i] = complete(&sv, body[i], NULL);
	}
	run_concurrent(&sv, "/v1/completions", body, 6, resp);
	for (int i = 0; i < 6; i++) {
		char *t = text_of(resp[i]);

		assert_string_equal(t, alone[i]);
		free(t);
		free(resp[i]);
		free(body[i]);
		free(alone[i]);
	}
	assert_int_equal(health_int(&sv, "slots_idle"), 2);
	server_stop(&sv);
}

/* Waits up to timeout_s for /health's slots_idle to reach want. */
static bool wait_idle(const struct server *sv, int want, double timeout_s)
{
	double t0 = now_s();

	while (now_s() - t0 < timeout_s) {
		if (health_int(sv, "slots_idle") == want)
			return true;
		sleep_ms(50);
	}
	return false;
}

static void test_disconnect(void **state)
{
	static const char *const args[] = { "-m", MEDIUM, "-np", "1", "-t", "1", "-c", "8192", NULL };
	const char *long_req = "{\"prompt\":[1,2,3],\"max_tokens\":8000,\"ignore_eos\":true,\"temperature\":0%s}";
	struct server sv;
	char url[256], body[256], *text;
	struct buf b = { 0 };
	CURL *c;
	double t0;

	(void)state;
	server_start(&sv, args);
	snprintf(url, sizeof url, "%s/v1/completions", sv.base);

	/* streamed: hang up after the first chunks */
	snprintf(body, sizeof body, long_req, ",\"stream\":true");
	b.abort_after = 600;
	c = easy(url, body, &b, HTTP_TIMEOUT_S * 1000);
	assert_int_equal(curl_easy_perform(c), CURLE_WRITE_ERROR);
	curl_easy_cleanup(c);
	free(b.p);
	t0 = now_s();
	assert_true(wait_idle(&sv, 1, 10.0));
	tu_note("streamed request hung up: slot free after %.2f s", now_s() - t0);

	/* not streamed: the client gives up after 300 ms */
	snprintf(body, sizeof body, long_req, "");
	memset(&b, 0, sizeof b);
	c = easy(url, body, &b, 300);
	assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
	curl_easy_cleanup(c);
	free(b.p);
	t0 = now_s();
	assert_true(wait_idle(&sv, 1, 10.0));
	tu_note("waiting request hung up: slot free after %.2f s", now_s() - t0);

	/* queued behind a running request: hanging up takes it out of the queue */
	{
		CURLM *mh = curl_multi_init();
		CURL *a;
		struct buf ba = { 0 };
		int running = 1;
		double t1 = now_s();

		snprintf(body, sizeof body, long_req, ",\"stream\":true");
		a = easy(url, body, &ba, HTTP_TIMEOUT_S * 1000);
		curl_multi_add_handle(mh, a);
		while (ba.len == 0 && running && now_s() - t1 < HTTP_TIMEOUT_S) { /* A runs */
			curl_multi_perform(mh, &running);
			curl_multi_poll(mh, NULL, 0, 50, NULL);
		}
		assert_true(ba.len > 0);
		snprintf(body, sizeof body, long_req, "");
		memset(&b, 0, sizeof b);
		c = easy(url, body, &b, 400); /* B waits for the slot, then gives up */
		assert_int_equal(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
		curl_easy_cleanup(c);
		free(b.p);
		t1 = now_s();
		while (health_int(&sv, "requests_queued") != 0 && now_s() - t1 < 10.0)
			sleep_ms(50);
		assert_int_equal(health_int(&sv, "requests_queued"), 0);
		assert_int_equal(health_int(&sv, "slots_idle"), 0); /* A still runs */
		curl_multi_remove_handle(mh, a); /* A hangs up too */
		curl_easy_cleanup(a);
		curl_multi_cleanup(mh);
		free(ba.p);
		assert_true(wait_idle(&sv, 1, 10.0));
	}

	/* the one slot serves the next request */
	text = complete(&sv, "{\"prompt\":[1,2,3],\"max_tokens\":5,\"temperature\":0}", NULL);
	free(text);
	server_stop(&sv);
}

static void test_sigterm_drain(void **state)
{
	static const char *const args[] = { "-m", MEDIUM, "-np", "2", "-t", "1", "-c", "2048", NULL };
	struct server sv;
	char url[256];
	struct buf b = { 0 };
	struct stream st;
	CURLM *mh;
	CURL *c;
	int running = 1, rc;
	double t0 = now_s();
	bool signalled = false;

	(void)state;
	server_start(&sv, args);
	snprintf(url, sizeof url, "%s/v1/completions", sv.base);
	mh = curl_multi_init();
	c = easy(url, "{\"prompt\":[1,2,3],\"max_tokens\":600,\"ignore_eos\":true,\"temperature\":0,\"stream\":true,"
		      "\"stream_options\":{\"include_usage\":true}}", &b, HTTP_TIMEOUT_S * 1000);
	curl_multi_add_handle(mh, c);
	while (running && now_s() - t0 < HTTP_TIMEOUT_S) {
		assert_int_equal(curl_multi_perform(mh, &running), CURLM_OK);
		if (!signalled && b.len > 0) {
			/* the request runs: ask the server to stop, then try a new request */
			assert_int_equal(kill(sv.pid, SIGTERM), 0);
			signalled = true;
			sleep_ms(100);
			expect_error(&sv, "/v1/completions", "{\"prompt\":[1,2],\"max_tokens\":2}", 503, "unavailable_error");
		}
		if (running)
			curl_multi_poll(mh, NULL, 0, 100, NULL);
	}
	assert_true(signalled);
	assert_int_equal(running, 0);
	{
		long code = 0;

		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		assert_int_equal(code, 200);
	}
	curl_multi_remove_handle(mh, c);
	curl_easy_cleanup(c);
	curl_multi_cleanup(mh);
	parse_stream(b.p, false, &st);
	assert_true(st.done);
	assert_int_equal(st.completion_tokens, 600);
	assert_string_equal(st.finish, "length");
	free(st.text);
	free(b.p);
	rc = server_wait(&sv, 30.0);
	assert_int_equal(rc, 0);
	server_stop(&sv);
}

int main(void)
{
	const struct CMUnitTest quick[] = {
		cmocka_unit_test(test_health_models),
		cmocka_unit_test(test_matches_generate),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stop_and_tokens),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_adapter_token_ids),
	};
	const struct CMUnitTest medium[] = {
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_disconnect),
		cmocka_unit_test(test_sigterm_drain),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests_name("serve", quick, setup_small, teardown_small);
	rc |= cmocka_run_group_tests_name("serve, overlapping requests", medium, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
