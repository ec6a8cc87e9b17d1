/*
 * bench/engine_http.c — the HTTP engine adapters: request bodies, the SSE and NDJSON stream
 * parsers, the curl multi loop that times every chunk, and the local/remote URL test. See
 * engine_http.h.
 */
#include "bench/engine_http.h"

#include "power/power.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

const char *bench_engine_name(enum bench_engine e)
{
	switch (e) {
	case BENCH_ENGINE_OPENAI:
		return "openai";
	case BENCH_ENGINE_OLLAMA:
		return "ollama";
	default:
		return "builtin";
	}
}

int bench_engine_parse(const char *s, enum bench_engine *out)
{
	if (!strcmp(s, "builtin"))
		*out = BENCH_ENGINE_BUILTIN;
	else if (!strcmp(s, "openai"))
		*out = BENCH_ENGINE_OPENAI;
	else if (!strcmp(s, "ollama"))
		*out = BENCH_ENGINE_OLLAMA;
	else
		return -EINVAL;
	return 0;
}

const char *bench_prompt_format_name(enum bench_prompt_format f)
{
	switch (f) {
	case BENCH_PROMPT_TEXT:
		return "text";
	case BENCH_PROMPT_IDS:
		return "ids";
	default:
		return "auto";
	}
}

int bench_prompt_format_parse(const char *s, enum bench_prompt_format *out)
{
	if (!strcmp(s, "auto"))
		*out = BENCH_PROMPT_AUTO;
	else if (!strcmp(s, "text"))
		*out = BENCH_PROMPT_TEXT;
	else if (!strcmp(s, "ids"))
		*out = BENCH_PROMPT_IDS;
	else
		return -EINVAL;
	return 0;
}

/* ---- requests ------------------------------------------------------------------------------ */

void bench_http_endpoint(const struct bench_http_opts *o, char *out, size_t len)
{
	size_t n = strlen(o->url);
	const char *path;

	while (n > 0 && o->url[n - 1] == '/')
		n--;
	if (o->engine == BENCH_ENGINE_OLLAMA)
		path = o->chat ? "/api/chat" : "/api/generate";
	else
		path = o->chat ? "/chat/completions" : "/completions";
	snprintf(out, len, "%.*s%s", (int)n, o->url, path);
}

char *bench_http_body(const struct bench_http_opts *o, const struct bench_http_prompt *p,
                      int max_tokens)
{
	cJSON *b = cJSON_CreateObject(), *x;
	const char *prompt = p->text ? p->text : "";
	char *s;

	if (!b)
		return NULL;
	cJSON_AddStringToObject(b, "model", o->model);
	if (o->engine == BENCH_ENGINE_OLLAMA) {
		if (o->chat) {
			cJSON *msgs = cJSON_AddArrayToObject(b, "messages"),
			      *m = cJSON_CreateObject();

			cJSON_AddItemToArray(msgs, m);
			cJSON_AddStringToObject(m, "role", "user");
			cJSON_AddStringToObject(m, "content", prompt);
		} else {
			cJSON_AddStringToObject(b, "prompt", prompt);
		}
		cJSON_AddBoolToObject(b, "stream", 1);
		x = cJSON_AddObjectToObject(b, "options");
		cJSON_AddNumberToObject(x, "num_predict", max_tokens);
		cJSON_AddNumberToObject(x, "temperature", 0);
		cJSON_AddNumberToObject(x, "seed", 42);
	} else {
		if (o->chat) {
			cJSON *msgs = cJSON_AddArrayToObject(b, "messages"),
			      *m = cJSON_CreateObject();

			cJSON_AddItemToArray(msgs, m);
			cJSON_AddStringToObject(m, "role", "user");
			cJSON_AddStringToObject(m, "content", prompt);
		} else if (p->text) {
			cJSON_AddStringToObject(b, "prompt", prompt);
		} else {
			/* token ids, sent as they are: a server adds no BOS to an id array */
			x = cJSON_AddArrayToObject(b, "prompt");
			for (int i = 0; i < p->n_ids; i++)
				cJSON_AddItemToArray(x, cJSON_CreateNumber(p->ids[i]));
		}
		cJSON_AddNumberToObject(b, "max_tokens", max_tokens);
		cJSON_AddNumberToObject(b, "temperature", 0);
		cJSON_AddNumberToObject(b, "seed", 42);
		cJSON_AddBoolToObject(b, "stream", 1);
		x = cJSON_AddObjectToObject(b, "stream_options");
		cJSON_AddBoolToObject(x, "include_usage", 1);
		if (o->ignore_eos) {
			/* vLLM and llama-server: decode max_tokens even past an end-of-sequence
			 * token; min_tokens is vLLM's, n_predict llama-server's native spelling */
			cJSON_AddBoolToObject(b, "ignore_eos", 1);
			cJSON_AddNumberToObject(b, "min_tokens", max_tokens);
		}
		if (!o->same_prompt) {
			/* llama-server: do not reuse a cached prefix (the prompts differ anyway) */
			cJSON_AddBoolToObject(b, "cache_prompt", 0);
		}
	}
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	return s;
}

void bench_http_req_free(struct bench_http_req *q)
{
	if (!q)
		return;
	free(q->itl_ns);
	q->itl_ns = NULL;
	q->n_itl = q->cap_itl = 0;
}

/* ---- stream parsing ----------------------------------------------------------------------- */

struct bench_stream {
	enum bench_engine engine;
	struct bench_http_req *q;
	char *line; /* the line being assembled */
	size_t len, cap;
	char *event; /* SSE: data lines of the current event, joined by '\n' */
	size_t elen, ecap;
	int64_t t_last_ns; /* previous token chunk */
	bool overflow;
	bool saw_data;   /* an SSE data: line arrived */
	bool plain_json; /* SSE expected, but a line was a bare JSON object: not streamed */
};

#define STREAM_LINE_MAX (4u << 20)

struct bench_stream *bench_stream_new(enum bench_engine e, struct bench_http_req *q)
{
	struct bench_stream *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->engine = e;
	s->q = q;
	return s;
}

void bench_stream_free(struct bench_stream *s)
{
	if (!s)
		return;
	free(s->line);
	free(s->event);
	free(s);
}

static int append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 256;
		char *b;

		while (nc < *len + n + 1)
			nc *= 2;
		if (nc > STREAM_LINE_MAX)
			return -E2BIG;
		b = realloc(*buf, nc);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = nc;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static void set_error(struct bench_http_req *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct bench_http_req *q, const char *fmt, ...)
{
	va_list ap;

	if (q->error[0])
		return; /* the first cause is the one that counts */
	va_start(ap, fmt);
	vsnprintf(q->error, sizeof q->error, fmt, ap);
	va_end(ap);
}

/* One token-bearing chunk read at t_ns. */
static void token_at(struct bench_stream *s, int64_t t_ns)
{
	struct bench_http_req *q = s->q;

	if (q->n_chunks == 0) {
		q->t_first_ns = t_ns;
	} else {
		if (q->n_itl == q->cap_itl) {
			int cap = q->cap_itl ? 2 * q->cap_itl : 64;
			int64_t *p = realloc(q->itl_ns, (size_t)cap * sizeof *p);

			if (!p) {
				set_error(q, "out of memory recording inter-token gaps");
				return;
			}
			q->itl_ns = p;
			q->cap_itl = cap;
		}
		q->itl_ns[q->n_itl++] = t_ns - s->t_last_ns;
	}
	s->t_last_ns = t_ns;
	q->n_chunks++;
}

/* The message of an error object: {"error": {"message": ..., "code": ...}} or {"error": "..."}. */
static void error_text(const cJSON *err, char *out, size_t len)
{
	const cJSON *m, *c;

	if (cJSON_IsString(err)) {
		snprintf(out, len, "%s", err->valuestring);
		return;
	}
	m = cJSON_GetObjectItemCaseSensitive(err, "message");
	c = cJSON_GetObjectItemCaseSensitive(err, "code");
	if (cJSON_IsString(m) && cJSON_IsNumber(c))
		snprintf(out, len, "%s (code %d)", m->valuestring, c->valueint);
	else if (cJSON_IsString(m))
		snprintf(out, len, "%s", m->valuestring);
	else {
		char *t = cJSON_PrintUnformatted(err);

		snprintf(out, len, "%.300s", t ? t : "unreadable error object");
		free(t);
	}
}

static void usage_from(struct bench_http_req *q, const cJSON *u)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");

	if (cJSON_IsNumber(p))
		q->prompt_tokens = p->valueint;
	if (cJSON_IsNumber(c)) {
		q->completion_tokens = c->valueint;
		snprintf(q->token_count_source, sizeof q->token_count_source, "usage");
	}
}

/* One OpenAI SSE event, parsed. */
static void openai_json(struct bench_stream *s, const cJSON *j, int64_t t_ns)
{
	struct bench_http_req *q = s->q;
	const cJSON *choices, *ch, *u, *e;
	bool text = false;

	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (e && !cJSON_IsNull(e)) {
		char msg[400];

		error_text(e, msg, sizeof msg);
		set_error(q,
		          "the server reported an error in the stream after %d token chunk%s: %s",
		          q->n_chunks, q->n_chunks == 1 ? "" : "s", msg);
		return;
	}
	choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
	cJSON_ArrayForEach(ch, choices)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(ch, "text");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(ch, "delta");
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");

		if (!cJSON_IsString(t) && cJSON_IsObject(d))
			t = cJSON_GetObjectItemCaseSensitive(d, "content");
		if (cJSON_IsString(t) && t->valuestring[0])
			text = true;
		if (cJSON_IsString(f))
			snprintf(q->finish_reason, sizeof q->finish_reason, "%s", f->valuestring);
	}
	if (text)
		token_at(s, t_ns);
	u = cJSON_GetObjectItemCaseSensitive(j, "usage");
	if (cJSON_IsObject(u))
		usage_from(q, u);
}

static int64_t num64(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* One line of Ollama's NDJSON stream. */
static void ollama_line(struct bench_stream *s, const char *line, int64_t t_ns)
{
	struct bench_http_req *q = s->q;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithOpts(line, &end, 0), *e, *r;

	if (!j) {
		set_error(q, "unparsable stream line: %.80s", line);
		return;
	}
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (e && !cJSON_IsNull(e)) {
		char msg[400];

		error_text(e, msg, sizeof msg);
		set_error(q,
		          "the server reported an error in the stream after %d token chunk%s: %s",
		          q->n_chunks, q->n_chunks == 1 ? "" : "s", msg);
		cJSON_Delete(j);
		return;
	}
	r = cJSON_GetObjectItemCaseSensitive(j, "response");
	if (!cJSON_IsString(r))
		r = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "message"),
		                                     "content");
	if (cJSON_IsString(r) && r->valuestring[0])
		token_at(s, t_ns);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "done"))) {
		const cJSON *dr = cJSON_GetObjectItemCaseSensitive(j, "done_reason");

		q->done = true;
		q->has_ollama = true;
		q->ollama_eval_count = num64(j, "eval_count");
		q->ollama_eval_duration_ns = num64(j, "eval_duration");
		q->ollama_prompt_eval_count = num64(j, "prompt_eval_count");
		q->ollama_prompt_eval_duration_ns = num64(j, "prompt_eval_duration");
		if (q->ollama_eval_count >= 0) {
			q->completion_tokens = (int)q->ollama_eval_count;
			snprintf(q->token_count_source, sizeof q->token_count_source, "eval_count");
		}
		if (q->ollama_prompt_eval_count >= 0)
			q->prompt_tokens = (int)q->ollama_prompt_eval_count;
		if (cJSON_IsString(dr))
			snprintf(q->finish_reason, sizeof q->finish_reason, "%s", dr->valuestring);
	}
	cJSON_Delete(j);
}

static void event_reset(struct bench_stream *s)
{
	s->elen = 0;
	if (s->event)
		s->event[0] = '\0';
}

/* The event assembled so far, at a blank line or the end of the body. */
static void dispatch_event(struct bench_stream *s, int64_t t_ns)
{
	const char *end = NULL;
	cJSON *j;

	if (s->elen == 0)
		return;
	if (!strcmp(s->event, "[DONE]")) {
		s->q->done = true;
	} else if ((j = cJSON_ParseWithOpts(s->event, &end, 1))) {
		openai_json(s, j, t_ns);
		cJSON_Delete(j);
	} else {
		set_error(s->q, "unparsable stream event at byte %ld: %.80s",
		          (long)((end ? end : s->event) - s->event), s->event);
	}
	event_reset(s);
}

/* A complete line (no newline, '\r' stripped). */
static void on_line(struct bench_stream *s, char *line, size_t n, int64_t t_ns)
{
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	if (s->engine == BENCH_ENGINE_OLLAMA) {
		if (n > 0)
			ollama_line(s, line, t_ns);
		return;
	}
	/* SSE: "data: x" lines accumulate, a blank line ends the event; comments (":") and other
	 * fields (event:, id:, retry:) carry no tokens */
	if (n == 0) {
		dispatch_event(s, t_ns);
		return;
	}
	if (line[0] == '{' && !s->saw_data)
		s->plain_json = true;
	if (!strncmp(line, "data:", 5)) {
		const char *d = line + 5;

		s->saw_data = true;
		if (*d == ' ')
			d++;
		if (s->elen > 0 && append(&s->event, &s->elen, &s->ecap, "\n", 1) < 0)
			s->overflow = true;
		if (append(&s->event, &s->elen, &s->ecap, d, strlen(d)) < 0)
			s->overflow = true;
		/* a data line that is a whole JSON object (or [DONE]) is the event: its token
		 * arrived with this line, whether or not the blank line is in the same read, and
		 * servers that end events with a single newline work too */
		if (!strcmp(s->event, "[DONE]")) {
			s->q->done = true;
			event_reset(s);
		} else {
			cJSON *j = cJSON_ParseWithOpts(s->event, NULL, 1);

			if (j) {
				openai_json(s, j, t_ns);
				cJSON_Delete(j);
				event_reset(s);
			}
		}
	}
}

void bench_stream_feed(struct bench_stream *s, const char *data, size_t n, int64_t t_ns)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t k = nl ? (size_t)(nl - data) : n;

		if (append(&s->line, &s->len, &s->cap, data, k) < 0) {
			s->overflow = true;
			set_error(s->q, "a stream line longer than %u bytes", STREAM_LINE_MAX);
			s->len = 0;
		}
		if (!nl)
			return;
		on_line(s, s->line ? s->line : (char *)"", s->len, t_ns);
		s->len = 0;
		if (s->line)
			s->line[0] = '\0';
		data += k + 1;
		n -= k + 1;
	}
}

void bench_stream_finish(struct bench_stream *s, int64_t t_ns)
{
	if (s->len > 0) {
		on_line(s, s->line, s->len, t_ns);
		s->len = 0;
	}
	if (s->engine != BENCH_ENGINE_OLLAMA)
		dispatch_event(s, t_ns);
}

/* ---- transfers ------------------------------------------------------------------------------ */

struct xfer {
	CURL *easy;
	struct bench_http_req *q;
	struct bench_stream *st;
	struct curl_slist *hdrs;
	struct curl_slist *connect_to;
	char *body;
	char errbody[4096]; /* the body of a non-2xx answer */
	size_t errlen;
	long status;
	bool busy;
	char curl_err[CURL_ERROR_SIZE];
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	int64_t t = pwr_now_ns();

	if (!x->status)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->status < 200 || x->status >= 300) {
		size_t room = sizeof x->errbody - 1 - x->errlen;

		if (n < room)
			room = n;
		memcpy(x->errbody + x->errlen, ptr, room);
		x->errlen += room;
		x->errbody[x->errlen] = '\0';
		return n;
	}
	bench_stream_feed(x->st, ptr, n, t);
	return n;
}

static atomic_int req_serial = 1; /* numbers the prompts of unique-prompt requests */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int xfer_start(struct xfer *x, CURLM *m, const struct bench_http_opts *o, const char *url,
                      const struct bench_http_prompt *prompt, int max_tokens,
                      struct bench_http_req *q, char *err, size_t errlen)
{
	memset(q->error, 0, sizeof q->error);
	q->prompt_tokens = -1;
	q->completion_tokens = -1;
	x->q = q;
	x->status = 0;
	x->errlen = 0;
	x->errbody[0] = '\0';
	x->curl_err[0] = '\0';
	free(x->body);
	if (o->same_prompt) {
		x->body = bench_http_body(o, prompt, max_tokens);
	} else if (prompt->text) {
		/* a different first token in every request: a server's prefix cache cannot skip the
		 * prefill that the benchmark means to measure */
		struct bench_http_prompt v = *prompt;
		char *p = NULL;

		if (asprintf(&p, "(%d) %s", atomic_fetch_add(&req_serial, 1), prompt->text) < 0)
			p = NULL;
		v.text = p;
		x->body = p ? bench_http_body(o, &v, max_tokens) : NULL;
		free(p);
	} else {
		/* ids: the same length, one id after BOS different in every request */
		struct bench_http_prompt v = *prompt;
		int32_t *ids = malloc((size_t)(prompt->n_ids ? prompt->n_ids : 1) * sizeof *ids);

		x->body = NULL;
		if (ids) {
			int k = prompt->vary_at;

			memcpy(ids, prompt->ids, (size_t)prompt->n_ids * sizeof *ids);
			if (k >= 0 && k < prompt->n_ids && prompt->n_vocab > 0)
				ids[k] = (int32_t)(((int64_t)ids[k] +
				                    atomic_fetch_add(&req_serial, 1)) %
				                   prompt->n_vocab);
			v.ids = ids;
			x->body = bench_http_body(o, &v, max_tokens);
			free(ids);
		}
	}
	bench_stream_free(x->st);
	x->st = bench_stream_new(o->engine, q);
	if (!x->body || !x->st) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!x->easy) {
		x->easy = curl_easy_init();
		if (!x->easy) {
			snprintf(err, errlen, "curl_easy_init failed");
			return -ENOMEM;
		}
		x->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
		x->hdrs =
		    curl_slist_append(x->hdrs, "Accept: text/event-stream, application/x-ndjson");
		x->hdrs = curl_slist_append(x->hdrs, "Expect:"); /* no 100-continue round trip */
		if (o->api_key_env[0] && getenv(o->api_key_env) && *getenv(o->api_key_env)) {
			char auth[1024];

			snprintf(auth, sizeof auth, "Authorization: Bearer %.990s",
			         getenv(o->api_key_env));
			x->hdrs = curl_slist_append(x->hdrs, auth);
		}
		/* HOST:PORT:CONNECT-HOST:CONNECT-PORT, as curl --connect-to: the tests reach their
		 * loopback server under a remote-looking URL without sending anything elsewhere */
		if (getenv("JOULEBENCH_HTTP_CONNECT_TO") && *getenv("JOULEBENCH_HTTP_CONNECT_TO"))
			x->connect_to =
			    curl_slist_append(NULL, getenv("JOULEBENCH_HTTP_CONNECT_TO"));
	}
	if (x->connect_to)
		curl_easy_setopt(x->easy, CURLOPT_CONNECT_TO, x->connect_to);
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->curl_err);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS,
	                 o->timeout_s > 0 ? (long)(o->timeout_s * 1000) : 0L);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
	                 o->timeout_s > 0 ? (long)(o->timeout_s * 1000) : 30000L);
	q->t_start_ns = pwr_now_ns();
	if (curl_multi_add_handle(m, x->easy) != CURLM_OK) {
		snprintf(err, errlen, "curl_multi_add_handle failed");
		return -EIO;
	}
	x->busy = true;
	return 0;
}

/* The outcome of a finished transfer. */
static void xfer_done(struct xfer *x, CURLcode cc, const struct bench_http_opts *o)
{
	struct bench_http_req *q = x->q;
	int64_t t = pwr_now_ns();

	q->t_end_ns = t;
	if (!x->status)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	q->http_status = (int)x->status;
	if (x->status >= 200 && x->status < 300)
		bench_stream_finish(x->st, t);
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		q->timed_out = true;
		q->error[0] = '\0';
		set_error(q,
		          "timed out after %g s (--timeout-s) with %d token chunk%s received: the "
		          "server stalled or is too slow",
		          o->timeout_s, q->n_chunks, q->n_chunks == 1 ? "" : "s");
	} else if (x->status && (x->status < 200 || x->status >= 300)) {
		char msg[400] = "";
		cJSON *j = cJSON_Parse(x->errbody);
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");

		if (e && !cJSON_IsNull(e))
			error_text(e, msg, sizeof msg);
		else if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "detail")))
			snprintf(msg, sizeof msg, "%s",
			         cJSON_GetObjectItemCaseSensitive(j, "detail")->valuestring);
		else
			snprintf(msg, sizeof msg, "%.200s",
			         x->errbody[0] ? x->errbody : "(empty body)");
		cJSON_Delete(j);
		q->error[0] = '\0';
		set_error(q, "HTTP %ld from %s: %s", x->status, o->url, msg);
	} else if (cc != CURLE_OK) {
		set_error(q, "%s after %d token chunk%s: %s",
		          x->status ? "the stream broke" : "no response", q->n_chunks,
		          q->n_chunks == 1 ? "" : "s",
		          x->curl_err[0] ? x->curl_err : curl_easy_strerror(cc));
	} else if (!q->done && x->st->plain_json) {
		set_error(q,
		          "the server answered with one JSON body, not a stream of server-sent "
		          "events: does it support \"stream\": true on %s?",
		          o->chat ? "/chat/completions" : "/completions");
	} else if (!q->done) {
		set_error(q, "the stream ended after %d token chunk%s without its end marker (%s)",
		          q->n_chunks, q->n_chunks == 1 ? "" : "s",
		          o->engine == BENCH_ENGINE_OLLAMA ? "\"done\": true" : "data: [DONE]");
	} else if (q->n_chunks == 0 && !q->error[0]) {
		set_error(q, "the stream carried no token");
	}
	if (q->completion_tokens < 0) {
		q->completion_tokens = q->n_chunks;
		snprintf(q->token_count_source, sizeof q->token_count_source, "streamed_chunks");
	}
	q->ok = !q->error[0];
	x->busy = false;
}

int bench_http_batch(const struct bench_http_opts *o, const struct bench_http_prompt *prompts,
                     int n_prompts, int max_tokens, int n, int concurrency, struct bench_http_req *out,
                     volatile const sig_atomic_t *stop, char *err, size_t errlen)
{
	char url[700];
	struct xfer *xs = NULL;
	CURLM *m = NULL;
	int next = 0, running = 0, rc = 0, active = 0;

	pthread_once(&curl_once, curl_init_once);
	if (concurrency < 1)
		concurrency = 1;
	if (concurrency > n)
		concurrency = n > 0 ? n : 1;
	for (int i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof out[i]);
		out[i].index = i;
		out[i].prompt_tokens = -1;
		out[i].completion_tokens = -1;
	}
	bench_http_endpoint(o, url, sizeof url);
	xs = calloc((size_t)concurrency, sizeof *xs);
	m = curl_multi_init();
	if (!xs || !m) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
	for (;;) {
		CURLMsg *msg;
		int left;

		/* keep `concurrency` streams in flight */
		for (int k = 0; k < concurrency && next < n; k++) {
			if (xs[k].busy)
				continue;
			if (stop && *stop)
				break;
			rc = xfer_start(&xs[k], m, o, url, &prompts[next % n_prompts], max_tokens,
			                &out[next], err, errlen);
			if (rc < 0)
				goto out;
			next++;
			active++;
		}
		if (active == 0 || (stop && *stop))
			break;
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			snprintf(err, errlen, "curl_multi_perform failed");
			rc = -EIO;
			goto out;
		}
		while ((msg = curl_multi_info_read(m, &left))) {
			struct xfer *x = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			xfer_done(x, msg->data.result, o);
			curl_multi_remove_handle(m, x->easy);
			active--;
		}
		if (active > 0 && running > 0)
			curl_multi_poll(m, NULL, 0, 20, NULL);
	}
	for (int i = next; i < n; i++) {
		snprintf(out[i].error, sizeof out[i].error, "%s", "not sent: the run was stopped");
		snprintf(out[i].token_count_source, sizeof out[i].token_count_source, "none");
	}
out:
	for (int k = 0; xs && k < concurrency; k++) {
		if (xs[k].easy) {
			if (xs[k].busy) {
				curl_multi_remove_handle(m, xs[k].easy);
				if (xs[k].q && !xs[k].q->error[0])
					snprintf(xs[k].q->error, sizeof xs[k].q->error, "%s",
					         stop && *stop ? "interrupted: the run was stopped"
					                       : "abandoned: the batch failed");
				if (xs[k].q)
					xs[k].q->t_end_ns = pwr_now_ns();
			}
			curl_easy_cleanup(xs[k].easy);
		}
		curl_slist_free_all(xs[k].hdrs);
		curl_slist_free_all(xs[k].connect_to);
		free(xs[k].body);
		bench_stream_free(xs[k].st);
	}
	free(xs);
	if (m)
		curl_multi_cleanup(m);
	return rc;
}

/* ---- what the server says about itself ------------------------------------------------------ */

struct collect {
	char *p;
	size_t n, cap;
	bool overflow;
};

static size_t on_collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct collect *c = ud;
	size_t n = size * nmemb;

	if (append(&c->p, &c->n, &c->cap, ptr, n) < 0)
		c->overflow = true;
	return n;
}

/* GET url (body NULL) or POST body to it, with o's key and --connect-to; returns the HTTP status
 * (0: no answer, the reason in why) with the body in *out (malloc'd, may be NULL). */
static long http_simple(const struct bench_http_opts *o, const char *url, const char *body,
                        char **out, char *why, size_t whylen)
{
	struct collect c = {NULL, 0, 0, false};
	struct curl_slist *hdrs = NULL, *connect_to = NULL;
	char cerr[CURL_ERROR_SIZE] = "";
	CURL *e = NULL;
	CURLcode cc;
	long status = 0;

	*out = NULL;
	pthread_once(&curl_once, curl_init_once);
	e = curl_easy_init();
	if (!e) {
		snprintf(why, whylen, "curl_easy_init failed");
		return 0;
	}
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (o->api_key_env[0] && getenv(o->api_key_env) && *getenv(o->api_key_env)) {
		char auth[1024];

		snprintf(auth, sizeof auth, "Authorization: Bearer %.990s", getenv(o->api_key_env));
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (getenv("JOULEBENCH_HTTP_CONNECT_TO") && *getenv("JOULEBENCH_HTTP_CONNECT_TO")) {
		connect_to = curl_slist_append(NULL, getenv("JOULEBENCH_HTTP_CONNECT_TO"));
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	if (body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	cc = curl_easy_perform(e);
	if (cc == CURLE_OK && c.overflow) {
		snprintf(why, whylen, "%.300s: an answer longer than %u bytes", url, STREAM_LINE_MAX);
	} else if (cc == CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
		*out = c.p;
		c.p = NULL;
	} else {
		snprintf(why, whylen, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
	}
	free(c.p);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(connect_to);
	curl_easy_cleanup(e);
	return status;
}

void bench_http_server_info(const struct bench_http_opts *o, struct bench_http_server_info *si)
{
	char url[700], models[700], *body = NULL;
	const cJSON *data, *it, *m = NULL, *meta, *v;
	cJSON *j = NULL;
	size_t n = strlen(o->url);
	long st;

	memset(si, 0, sizeof *si);
	si->bos = -1;
	while (n > 0 && o->url[n - 1] == '/')
		n--;
	snprintf(models, sizeof models, "%.*s/models", (int)n, o->url);
	snprintf(url, sizeof url, "%s", models);
	st = http_simple(o, url, NULL, &body, si->why, sizeof si->why);
	if (st == 0)
		goto out;
	j = body ? cJSON_Parse(body) : NULL;
	data = cJSON_GetObjectItemCaseSensitive(j, "data");
	if (st != 200 || !cJSON_IsArray(data)) {
		snprintf(si->why, sizeof si->why, "GET %.300s answered %ld without a model list", url, st);
		goto out;
	}
	cJSON_ArrayForEach(it, data)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");

		if (cJSON_IsString(id) && !strcmp(id->valuestring, o->model))
			m = it;
	}
	if (!m && cJSON_GetArraySize(data) == 1)
		m = cJSON_GetArrayItem(data, 0); /* llama-server lists its one model by file name */
	if (!m) {
		snprintf(si->why, sizeof si->why, "GET %.250s does not list model '%.100s'", url, o->model);
		goto out;
	}
	si->listed = true;
	v = cJSON_GetObjectItemCaseSensitive(m, "owned_by");
	if (cJSON_IsString(v))
		snprintf(si->owned_by, sizeof si->owned_by, "%s", v->valuestring);
	meta = cJSON_GetObjectItemCaseSensitive(m, "meta");
	v = cJSON_GetObjectItemCaseSensitive(meta, "n_vocab");
	if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 1e9)
		si->n_vocab = (int)v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(meta, "bos_token_id");
	if (cJSON_IsNull(v) || (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e9)) {
		si->bos_known = true;
		si->bos = cJSON_IsNull(v) ? -1 : (int32_t)v->valuedouble;
		snprintf(si->bos_source, sizeof si->bos_source, "%s", "meta.bos_token_id");
	}
	if (!si->bos_known && !strcmp(si->owned_by, "llamacpp")) {
		/* llama-server: the tokens of an empty text with special tokens are its BOS (or
		 * nothing); /tokenize lives at the root, not under /v1 */
		const cJSON *toks;

		if (n >= 3 && !strncmp(o->url + n - 3, "/v1", 3))
			n -= 3;
		snprintf(url, sizeof url, "%.*s/tokenize", (int)n, o->url);
		free(body);
		cJSON_Delete(j);
		body = NULL;
		st = http_simple(o, url, "{\"content\":\"\",\"add_special\":true}", &body, si->why,
		                 sizeof si->why);
		j = body ? cJSON_Parse(body) : NULL;
		toks = cJSON_GetObjectItemCaseSensitive(j, "tokens");
		if (st == 200 && cJSON_IsArray(toks) && cJSON_GetArraySize(toks) <= 1 &&
		    (cJSON_GetArraySize(toks) == 0 || cJSON_IsNumber(cJSON_GetArrayItem(toks, 0)))) {
			si->bos_known = true;
			si->bos = cJSON_GetArraySize(toks) ? cJSON_GetArrayItem(toks, 0)->valueint : -1;
			snprintf(si->bos_source, sizeof si->bos_source, "%s", "/tokenize");
		} else if (st != 0) {
			snprintf(si->why, sizeof si->why,
			         "POST %.300s (an empty text with add_special) answered %ld without one "
			         "token or none",
			         url, st);
		}
	}
	if (!si->why[0] && !si->n_vocab)
		snprintf(si->why, sizeof si->why, "GET %.300s gives no meta.n_vocab", models);
	else if (!si->why[0] && !si->bos_known)
		snprintf(si->why, sizeof si->why,
		         "the server says neither meta.bos_token_id nor (llama-server) its /tokenize BOS");
out:
	free(body);
	cJSON_Delete(j);
}

/* ---- whose machine ------------------------------------------------------------------------- */

static bool addr_is_local(const struct sockaddr *sa, const struct ifaddrs *ifs)
{
	if (sa->sa_family == AF_INET) {
		const struct in_addr *a = &((const struct sockaddr_in *)sa)->sin_addr;

		if ((ntohl(a->s_addr) >> 24) == 127 || a->s_addr == 0)
			return true;
		for (const struct ifaddrs *i = ifs; i; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    ((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == a->s_addr)
				return true;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127)
			return true;
		for (const struct ifaddrs *i = ifs; i; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6 &&
			    !memcmp(&((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, a,
			            sizeof *a))
				return true;
	}
	return false;
}

int bench_url_is_local(const char *url, bool resolve, char *host, size_t hostlen)
{
	const char *p = strstr(url, "://"), *e;
	char h[256];
	size_t n;
	struct addrinfo hints, *res = NULL;
	struct ifaddrs *ifs = NULL;
	bool any = false, all_local = true;

	p = p ? p + 3 : url;
	/* skip user:password@ */
	e = p + strcspn(p, "/?#");
	for (const char *at = p; at < e; at++)
		if (*at == '@')
			p = at + 1;
	if (*p == '[') {
		p++;
		n = strcspn(p, "]");
	} else {
		n = strcspn(p, ":/?#");
	}
	if (n == 0 || n >= sizeof h)
		return -EINVAL;
	snprintf(h, sizeof h, "%.*s", (int)n, p);
	snprintf(host, hostlen, "%s", h);
	if (!strcasecmp(h, "localhost") ||
	    (strlen(h) > 10 && !strcasecmp(h + strlen(h) - 10, ".localhost")))
		return 1;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(h, NULL, &hints, &res) != 0) {
		res = NULL;
		if (!resolve)
			return 0;
		hints.ai_flags = 0;
		if (getaddrinfo(h, NULL, &hints, &res) != 0)
			return 0; /* unresolvable here: not shown to be this machine */
	}
	getifaddrs(&ifs);
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		any = true;
		if (!addr_is_local(a->ai_addr, ifs))
			all_local = false;
	}
	freeifaddrs(ifs);
	freeaddrinfo(res);
	return any && all_local ? 1 : 0;
}
