/*
 * bench/serve_http.c — the HTTP side of `joulebench serve` on libmicrohttpd: the OpenAI-style
 * endpoints, request parsing, SSE streaming and llama-server's error bodies.
 *
 * libmicrohttpd runs one thread per connection, so a handler may block: a non-streaming
 * completion waits for its request in the access handler; a streaming one answers with a
 * response whose content callback waits for the next text. Both wait in slices of
 * SRV_POLL_MS and look at the socket in between, so a client that hangs up is noticed while
 * its request still runs and its slot is freed (srv_release cancels it).
 *
 * Errors look like llama-server's: {"error":{"code":400,"message":"...","type":
 * "invalid_request_error"}} with the HTTP status of the code; a prompt longer than the context
 * is type exceed_context_size_error with n_prompt_tokens and n_ctx; while shutting down, new
 * requests get 503 unavailable_error.
 */
#include "bench/serve.h"

#include <cjson/cJSON.h>
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define SRV_POLL_MS 100
#define SRV_MAX_BODY (8u << 20)

struct srv_http {
	struct srv *s;
	struct MHD_Daemon *d;
	atomic_int active;       /* HTTP requests between their first call and completion */
	atomic_ulong next_id;
	atomic_ullong seed_mix;
};

/* Per HTTP request (MHD's con_cls): the body as it arrives. */
struct conn_state {
	char *body;
	size_t len, cap;
	bool too_big;
};

/* ---- responses ---------------------------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, char *body, const char *ctype)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!body)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Sends root (deleted here) as the JSON body. */
static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, cJSON *root)
{
	char *s = root ? cJSON_PrintUnformatted(root) : NULL;

	cJSON_Delete(root);
	return send_text(conn, status, s, "application/json; charset=utf-8");
}

static cJSON *error_json(int code, const char *type, const char *msg)
{
	cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");

	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "type", type);
	return root;
}

static const char *error_type(int code)
{
	switch (code) {
	case 400: return "invalid_request_error";
	case 404: return "not_found_error";
	case 501: return "not_supported_error";
	case 503: return "unavailable_error";
	default: return "server_error";
	}
}

static enum MHD_Result send_error(struct MHD_Connection *conn, int code, const char *msg)
{
	return send_json(conn, (unsigned)code, error_json(code, error_type(code), msg));
}

/* ---- the client's socket ------------------------------------------------------------------ */

/* True when the client has closed the connection (or it broke). */
static bool peer_closed(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct pollfd p;
	char c;

	if (!ci)
		return false;
	p = (struct pollfd){ .fd = ci->connect_fd, .events = POLLIN | POLLRDHUP };
	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
		return true;
	return (p.revents & POLLIN) && recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Waits (mu held) up to SRV_POLL_MS for the request's condition variable. */
static void wait_slice(struct srv *s, struct srv_req *r)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += SRV_POLL_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&r->cv, &s->mu, &ts);
}

/* ---- requests ----------------------------------------------------------------------------- */

/* What the client asked for besides the request proper. */
struct call {
	struct srv_http *h;
	struct srv_req *r;
	struct MHD_Connection *conn;
	bool chat, stream, include_usage;
	char id[48];
	long created;
	/* streaming */
	size_t sent;       /* bytes of r->text already in chunks */
	bool role_sent;    /* chat: the first chunk names the role */
	bool finished;     /* final chunks are in out */
	char *out;         /* bytes waiting for MHD */
	size_t out_len, out_off, out_cap;
};

/* A failure to report: HTTP status and message (type from the status, or `type` if set). */
struct fail {
	int code;
	const char *type;
	char msg[384];
	int n_prompt, n_ctx; /* exceed_context_size_error */
};

static int bad(struct fail *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct fail *f, const char *fmt, ...)
{
	va_list ap;

	f->code = 400;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* Tokenizes text for the model (BOS as the vocabulary wants; control tokens parsed, as
 * llama-server does); *out is malloc'd. Returns the count or -1 with f set. */
static int tokenize(const struct eng_model *m, const char *text, int32_t **out, struct fail *f)
{
	char err[256] = "";
	int cap = (int)strlen(text) + 8, n;
	int32_t *tok;

	if (!eng_has_vocab(m))
		return bad(f, "the model has no vocabulary: send the prompt as an array of token ids");
	for (;;) {
		tok = malloc((size_t)cap * sizeof *tok);
		if (!tok)
			return bad(f, "out of memory for the prompt");
		n = eng_tokenize_ex(m, text, eng_token_bos(m) >= 0, true, tok, cap, err, sizeof err);
		if (n < 0) {
			free(tok);
			return bad(f, "cannot tokenize the prompt: %s", err);
		}
		if (n <= cap)
			break;
		free(tok);
		cap = n;
	}
	*out = tok;
	return n;
}

/* The prompt of a completion: a string, an array of token ids, or an array of one string. */
static int completion_prompt(struct srv *s, const cJSON *p, int32_t **out, struct fail *f)
{
	int n;

	if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(cJSON_GetArrayItem(p, 0)))
		p = cJSON_GetArrayItem(p, 0);
	if (cJSON_IsString(p))
		return tokenize(s->m, p->valuestring, out, f);
	if (!cJSON_IsArray(p))
		return bad(f, "\"prompt\" must be provided as a string or an array of token ids");
	n = cJSON_GetArraySize(p);
	*out = malloc((size_t)(n ? n : 1) * sizeof **out);
	if (!*out)
		return bad(f, "out of memory for the prompt");
	for (int i = 0; i < n; i++) {
		const cJSON *t = cJSON_GetArrayItem(p, i);

		if (!cJSON_IsNumber(t) || t->valuedouble != (double)(int64_t)t->valuedouble) {
			free(*out);
			*out = NULL;
			return bad(f, "prompt: item %d is not a token id (one prompt per request: a string or "
				      "an array of integers)", i);
		}
		if (t->valuedouble < 0 || t->valuedouble >= s->n_vocab) {
			free(*out);
			*out = NULL;
			return bad(f, "prompt: token %.0f at index %d is outside the vocabulary (0..%d)",
				   t->valuedouble, i, s->n_vocab - 1);
		}
		(*out)[i] = (int32_t)t->valuedouble;
	}
	return n;
}

/* Reads an optional number; returns 0 (absent: *out unchanged), or -1 with f set. */
static int opt_number(const cJSON *root, const char *key, double min, double max, double *out, struct fail *f)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max)
		return bad(f, "'%s' must be a number in [%g, %g]", key, min, max);
	*out = v->valuedouble;
	return 0;
}

static int opt_bool(const cJSON *root, const char *key, bool *out, struct fail *f)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return bad(f, "'%s' must be true or false", key);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int parse_stop(struct srv_req *r, const cJSON *root, struct fail *f)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "stop"), *it;

	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v)) {
		if (strlen(v->valuestring) >= SRV_MAX_STOP_LEN)
			return bad(f, "'stop': a stop string is longer than %d bytes", SRV_MAX_STOP_LEN - 1);
		if (v->valuestring[0])
			snprintf(r->stop[r->n_stop++], SRV_MAX_STOP_LEN, "%s", v->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(v))
		return bad(f, "'stop' must be a string or an array of strings");
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it))
			return bad(f, "'stop' must be a string or an array of strings");
		if (r->n_stop >= SRV_MAX_STOP)
			return bad(f, "'stop': at most %d stop strings", SRV_MAX_STOP);
		if (strlen(it->valuestring) >= SRV_MAX_STOP_LEN)
			return bad(f, "'stop': a stop string is longer than %d bytes", SRV_MAX_STOP_LEN - 1);
		if (it->valuestring[0])
			snprintf(r->stop[r->n_stop++], SRV_MAX_STOP_LEN, "%s", it->valuestring);
	}
	return 0;
}

/* Builds the request a completion or chat body asks for; NULL with f set. */
static struct srv_req *parse_request(struct srv_http *h, const cJSON *root, struct call *k, struct fail *f)
{
	struct srv *s = h->s;
	struct srv_req *r = NULL;
	int32_t *prompt = NULL, extra_eos = -1;
	double max_tokens = -1, temp = 0.8, top_p = 0.95, top_k = 40, seed = -1, n = 1;
	const cJSON *so, *msgs;
	int np;

	if (!cJSON_IsObject(root)) {
		bad(f, "the request body must be a JSON object");
		return NULL;
	}
	if (k->chat) {
		char err[256] = "", *text;

		msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
		if (!msgs) {
			bad(f, "'messages' is required");
			return NULL;
		}
		text = srv_chat_prompt(s->m, msgs, &extra_eos, err, sizeof err);
		if (!text) {
			bad(f, "%s", err);
			return NULL;
		}
		np = tokenize(s->m, text, &prompt, f);
		free(text);
	} else {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");

		if (!p) {
			bad(f, "\"prompt\" must be provided");
			return NULL;
		}
		np = completion_prompt(s, p, &prompt, f);
	}
	if (np < 0)
		return NULL;
	if (np == 0) {
		free(prompt);
		bad(f, "the prompt has no tokens");
		return NULL;
	}
	if (np > s->n_ctx) {
		free(prompt);
		f->code = 400;
		f->type = "exceed_context_size_error";
		f->n_prompt = np;
		f->n_ctx = s->n_ctx;
		snprintf(f->msg, sizeof f->msg, "the request exceeds the available context size: the prompt has "
			 "%d tokens, the context of a slot %d (see --ctx)", np, s->n_ctx);
		return NULL;
	}
	r = srv_req_new(prompt, np);
	free(prompt);
	if (!r) {
		f->code = 500;
		snprintf(f->msg, sizeof f->msg, "out of memory for the request");
		return NULL;
	}
	r->extra_eos = extra_eos;
	if (opt_number(root, "max_tokens", -1e9, 1e9, &max_tokens, f) ||
	    opt_number(root, "max_completion_tokens", -1e9, 1e9, &max_tokens, f) ||
	    opt_number(root, "n_predict", -1e9, 1e9, &max_tokens, f) ||
	    opt_number(root, "temperature", 0, 100, &temp, f) || opt_number(root, "top_p", 0, 1, &top_p, f) ||
	    opt_number(root, "top_k", 0, 1e9, &top_k, f) || opt_number(root, "seed", -1, 9.007199254740992e15, &seed, f) ||
	    opt_number(root, "n", 1, 1e9, &n, f) || opt_bool(root, "ignore_eos", &r->ignore_eos, f) ||
	    opt_bool(root, "stream", &k->stream, f) || parse_stop(r, root, f))
		goto fail;
	if (n != 1) {
		bad(f, "only one choice per request is supported ('n' must be 1)");
		goto fail;
	}
	so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
	if (so && !cJSON_IsNull(so)) {
		if (!cJSON_IsObject(so) || opt_bool(so, "include_usage", &k->include_usage, f)) {
			if (!f->code)
				bad(f, "'stream_options' must be an object");
			goto fail;
		}
	}
	r->max_tokens = max_tokens < 0 ? -1 : (int)max_tokens;
	r->so.temp = (float)temp;
	r->so.top_p = top_p > 0 ? (float)top_p : 1.0f;
	r->so.top_k = top_p > 0 ? (int)top_k : 1; /* top_p 0: only the most likely token */
	if (seed >= 0) {
		r->so.seed = (uint64_t)seed;
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		r->so.seed = ((uint64_t)ts.tv_sec * 1000000007ULL) ^ (uint64_t)ts.tv_nsec ^
			     atomic_fetch_add(&h->seed_mix, 0x9e3779b97f4a7c15ULL);
	}
	return r;
fail:
	srv_release(s, r);
	return NULL;
}

/* ---- response bodies ----------------------------------------------------------------------- */

/* The fields every completion object and chunk starts with. */
static cJSON *base_object(const struct call *k, const char *object)
{
	cJSON *root = cJSON_CreateObject();

	cJSON_AddStringToObject(root, "id", k->id);
	cJSON_AddStringToObject(root, "object", object);
	cJSON_AddNumberToObject(root, "created", (double)k->created);
	cJSON_AddStringToObject(root, "model", k->h->s->model_id);
	cJSON_AddStringToObject(root, "system_fingerprint", "joulebench");
	return root;
}

/* usage and timings of a finished request (mu held or the request done). */
static void add_usage(cJSON *root, const struct srv_req *r)
{
	cJSON *u = cJSON_AddObjectToObject(root, "usage"), *t;
	double prompt_ms = (r->t_first_s > 0 ? r->t_first_s : r->t_done_s) - r->t_start_s;
	double gen_ms = r->t_first_s > 0 ? r->t_done_s - r->t_first_s : 0;

	cJSON_AddNumberToObject(u, "prompt_tokens", r->n_prompt);
	cJSON_AddNumberToObject(u, "completion_tokens", r->n_gen);
	cJSON_AddNumberToObject(u, "total_tokens", r->n_prompt + r->n_gen);
	t = cJSON_AddObjectToObject(root, "timings");
	cJSON_AddNumberToObject(t, "queue_ms", (r->t_start_s - r->t_submit_s) * 1e3);
	cJSON_AddNumberToObject(t, "prompt_n", r->n_prompt);
	cJSON_AddNumberToObject(t, "prompt_ms", prompt_ms * 1e3);
	cJSON_AddNumberToObject(t, "predicted_n", r->n_gen);
	cJSON_AddNumberToObject(t, "predicted_ms", gen_ms * 1e3);
	if (r->n_gen > 1 && gen_ms > 0)
		cJSON_AddNumberToObject(t, "predicted_per_second", (r->n_gen - 1) / gen_ms);
	else
		cJSON_AddNullToObject(t, "predicted_per_second");
}

/* One choice: chat message/delta or completion text. text NULL: an empty delta. */
static void add_choice(cJSON *root, const struct call *k, const char *text, const char *finish, bool chunk,
		       bool role)
{
	cJSON *choices = cJSON_AddArrayToObject(root, "choices"), *c = cJSON_CreateObject();

	cJSON_AddItemToArray(choices, c);
	cJSON_AddNumberToObject(c, "index", 0);
	if (k->chat) {
		cJSON *msg = cJSON_AddObjectToObject(c, chunk ? "delta" : "message");

		if (role || !chunk)
			cJSON_AddStringToObject(msg, "role", "assistant");
		if (text)
			cJSON_AddStringToObject(msg, "content", text);
	} else {
		cJSON_AddStringToObject(c, "text", text ? text : "");
	}
	cJSON_AddNullToObject(c, "logprobs");
	if (finish)
		cJSON_AddStringToObject(c, "finish_reason", finish);
	else
		cJSON_AddNullToObject(c, "finish_reason");
}

static int out_put(struct call *k, const char *p, size_t n)
{
	if (k->out_len + n > k->out_cap) {
		size_t cap = (k->out_cap + n) * 2;
		char *t = realloc(k->out, cap);

		if (!t)
			return -1;
		k->out = t;
		k->out_cap = cap;
	}
	memcpy(k->out + k->out_len, p, n);
	k->out_len += n;
	return 0;
}

/* Appends "data: JSON\n\n" for root (deleted here). */
static int out_event(struct call *k, cJSON *root)
{
	char *s = cJSON_PrintUnformatted(root);
	int rc = s ? 0 : -1;

	cJSON_Delete(root);
	if (s) {
		rc = out_put(k, "data: ", 6) || out_put(k, s, strlen(s)) || out_put(k, "\n\n", 2) ? -1 : 0;
		free(s);
	}
	return rc;
}

static const char *chunk_object(const struct call *k)
{
	return k->chat ? "chat.completion.chunk" : "text_completion";
}

/*
 * Fills k->out with the next chunks: waits for new text (checking the socket between slices),
 * then one chunk with it; once the request is done, the final chunk, the usage chunk when asked
 * for, and [DONE]. Returns 0, or -1 when the client has gone (or out of memory).
 */
static int stream_fill(struct call *k)
{
	struct srv *s = k->h->s;
	struct srv_req *r = k->r;
	char *text = NULL;
	size_t n;
	bool done;
	int rc = 0;

	if (k->chat && !k->role_sent) {
		cJSON *root = base_object(k, chunk_object(k));

		k->role_sent = true;
		add_choice(root, k, "", NULL, true, true);
		return out_event(k, root);
	}
	pthread_mutex_lock(&s->mu);
	while (!r->done && r->n_ready == k->sent) {
		wait_slice(s, r);
		if (!r->done && r->n_ready == k->sent) {
			bool gone;

			pthread_mutex_unlock(&s->mu);
			gone = peer_closed(k->conn);
			pthread_mutex_lock(&s->mu);
			if (gone) {
				pthread_mutex_unlock(&s->mu);
				return -1;
			}
		}
	}
	n = r->n_ready - k->sent;
	if (n) {
		text = malloc(n + 1);
		if (text) {
			memcpy(text, r->text + k->sent, n);
			text[n] = '\0';
		}
	}
	k->sent = r->n_ready;
	done = r->done;
	pthread_mutex_unlock(&s->mu);
	if (n && !text)
		return -1;
	if (n) {
		cJSON *root = base_object(k, chunk_object(k));

		add_choice(root, k, text, NULL, true, false);
		rc = out_event(k, root);
	}
	free(text);
	if (!done || rc)
		return rc;
	/* the request is done: r's fields no longer change */
	if (r->error[0]) {
		rc = out_event(k, error_json(500, "server_error", r->error));
	} else {
		cJSON *root = base_object(k, chunk_object(k));

		add_choice(root, k, k->chat ? NULL : "", r->finish, true, false);
		if (!k->include_usage)
			add_usage(root, r); /* llama-server puts usage and timings on the last chunk */
		rc = out_event(k, root);
		if (!rc && k->include_usage) {
			root = base_object(k, chunk_object(k));
			cJSON_AddArrayToObject(root, "choices");
			add_usage(root, r);
			rc = out_event(k, root);
		}
	}
	if (!rc)
		rc = out_put(k, "data: [DONE]\n\n", 14);
	k->finished = true;
	return rc;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct call *k = cls;

	(void)pos;
	for (;;) {
		if (k->out_off < k->out_len) {
			size_t n = k->out_len - k->out_off < max ? k->out_len - k->out_off : max;

			memcpy(buf, k->out + k->out_off, n);
			k->out_off += n;
			return (ssize_t)n;
		}
		k->out_len = k->out_off = 0;
		if (k->finished)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (stream_fill(k))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

static void call_free(void *cls)
{
	struct call *k = cls;

	srv_release(k->h->s, k->r);
	free(k->out);
	free(k);
}

static enum MHD_Result reply_complete(struct call *k)
{
	struct srv *s = k->h->s;
	struct srv_req *r = k->r;
	cJSON *root;
	enum MHD_Result ret;

	pthread_mutex_lock(&s->mu);
	while (!r->done) {
		wait_slice(s, r);
		if (!r->done) {
			bool gone;

			pthread_mutex_unlock(&s->mu);
			gone = peer_closed(k->conn);
			pthread_mutex_lock(&s->mu);
			if (gone) {
				pthread_mutex_unlock(&s->mu);
				call_free(k);
				return MHD_NO;
			}
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (r->error[0]) {
		ret = send_error(k->conn, 500, r->error);
	} else {
		root = base_object(k, k->chat ? "chat.completion" : "text_completion");
		add_choice(root, k, r->text, r->finish, false, false);
		add_usage(root, r);
		ret = send_json(k->conn, 200, root);
	}
	call_free(k);
	return ret;
}

static enum MHD_Result handle_completion(struct srv_http *h, struct MHD_Connection *conn, struct conn_state *cs,
					 bool chat)
{
	struct fail f = { 0 };
	struct call *k;
	const char *end = NULL;
	cJSON *root;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (cs->too_big)
		return send_error(conn, 400, "the request body is larger than 8 MiB");
	root = cJSON_ParseWithOpts(cs->body ? cs->body : "", &end, 1);
	if (!root) {
		char msg[128];

		snprintf(msg, sizeof msg, "Failed to parse JSON: error at byte %ld of the request body",
			 end && cs->body ? (long)(end - cs->body) : 0L);
		return send_error(conn, 400, msg);
	}
	k = calloc(1, sizeof *k);
	if (!k) {
		cJSON_Delete(root);
		return send_error(conn, 500, "out of memory");
	}
	k->h = h;
	k->conn = conn;
	k->chat = chat;
	k->created = (long)time(NULL);
	snprintf(k->id, sizeof k->id, "%s-%lu", chat ? "chatcmpl" : "cmpl", atomic_fetch_add(&h->next_id, 1) + 1);
	k->r = parse_request(h, root, k, &f);
	cJSON_Delete(root);
	if (!k->r) {
		cJSON *e = error_json(f.code, f.type ? f.type : error_type(f.code), f.msg);

		if (f.type) {
			cJSON *eo = cJSON_GetObjectItemCaseSensitive(e, "error");

			cJSON_AddNumberToObject(eo, "n_prompt_tokens", f.n_prompt);
			cJSON_AddNumberToObject(eo, "n_ctx", f.n_ctx);
		}
		free(k);
		return send_json(conn, (unsigned)f.code, e);
	}
	if (srv_submit(h->s, k->r)) {
		call_free(k);
		return send_error(conn, 503, "the server is shutting down");
	}
	if (!k->stream)
		return reply_complete(k);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, k, call_free);
	if (!resp) {
		call_free(k);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle_models(struct srv_http *h, struct MHD_Connection *conn)
{
	struct srv *s = h->s;
	struct eng_model_desc d;
	cJSON *root = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(root, "data");
	cJSON *m = cJSON_CreateObject(), *meta;

	eng_model_describe(s->m, &d);
	cJSON_AddStringToObject(root, "object", "list");
	cJSON_AddItemToArray(data, m);
	cJSON_AddStringToObject(m, "id", s->model_id);
	cJSON_AddStringToObject(m, "object", "model");
	cJSON_AddNumberToObject(m, "created", (double)time(NULL));
	cJSON_AddStringToObject(m, "owned_by", "joulebench");
	meta = cJSON_AddObjectToObject(m, "meta");
	cJSON_AddStringToObject(meta, "name", d.name);
	cJSON_AddStringToObject(meta, "type", eng_type_name(d.wtype) ? eng_type_name(d.wtype) : "?");
	cJSON_AddNumberToObject(meta, "n_params", (double)d.n_params);
	cJSON_AddNumberToObject(meta, "n_vocab", s->n_vocab);
	/* what a text prompt starts with; a prompt of token ids is taken as it is */
	if (eng_token_bos(s->m) >= 0) {
		cJSON_AddNumberToObject(meta, "bos_token_id", eng_token_bos(s->m));
	} else {
		cJSON_AddNullToObject(meta, "bos_token_id");
		cJSON_AddStringToObject(meta, "bos_token_id_reason", "the vocabulary adds no BOS");
	}
	cJSON_AddNumberToObject(meta, "n_ctx_slot", s->n_ctx);
	cJSON_AddNumberToObject(meta, "n_slots", s->n_slots);
	cJSON_AddStringToObject(meta, "chat_template", srv_chat_template(s->m));
	return send_json(conn, 200, root);
}

static enum MHD_Result handle_health(struct srv_http *h, struct MHD_Connection *conn)
{
	struct srv *s = h->s;
	cJSON *root;
	int busy = 0, queued;
	long steps, toks;
	double decode_s;
	bool draining;

	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->n_slots; i++)
		busy += s->slots[i].req != NULL;
	queued = s->n_queued;
	draining = s->draining;
	steps = s->n_steps;
	toks = s->n_batched_tokens;
	decode_s = s->decode_s;
	pthread_mutex_unlock(&s->mu);
	if (draining)
		return send_error(conn, 503, "the server is shutting down");
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "status", "ok");
	cJSON_AddNumberToObject(root, "slots_idle", s->n_slots - busy);
	cJSON_AddNumberToObject(root, "slots_processing", busy);
	cJSON_AddNumberToObject(root, "requests_queued", queued);
	cJSON_AddNumberToObject(root, "decode_steps", (double)steps);   /* batched decode passes */
	cJSON_AddNumberToObject(root, "decode_tokens", (double)toks);   /* sequences they ran, summed */
	cJSON_AddNumberToObject(root, "decode_seconds", decode_s);      /* time they took */
	return send_json(conn, 200, root);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct srv_http *h = cls;
	struct conn_state *cs = *con_cls;
	bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET");

	(void)version;
	if (!cs) {
		cs = calloc(1, sizeof *cs);
		if (!cs)
			return MHD_NO;
		*con_cls = cs;
		atomic_fetch_add(&h->active, 1);
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (cs->too_big || cs->len + n > SRV_MAX_BODY) {
			cs->too_big = true;
			return MHD_YES;
		}
		if (cs->len + n + 1 > cs->cap) {
			size_t cap = (cs->cap + n) * 2 + 1024;
			char *b = realloc(cs->body, cap);

			if (!b)
				return MHD_NO;
			cs->body = b;
			cs->cap = cap;
		}
		memcpy(cs->body + cs->len, upload_data, n);
		cs->len += n;
		cs->body[cs->len] = '\0';
		return MHD_YES;
	}
	if (get && (!strcmp(url, "/health") || !strcmp(url, "/v1/health")))
		return handle_health(h, conn);
	if (get && (!strcmp(url, "/v1/models") || !strcmp(url, "/models")))
		return handle_models(h, conn);
	if (post && (!strcmp(url, "/v1/completions") || !strcmp(url, "/completions")))
		return handle_completion(h, conn, cs, false);
	if (post && (!strcmp(url, "/v1/chat/completions") || !strcmp(url, "/chat/completions")))
		return handle_completion(h, conn, cs, true);
	return send_error(conn, 404, "File Not Found");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct srv_http *h = cls;
	struct conn_state *cs = *con_cls;

	(void)conn;
	(void)toe;
	if (!cs)
		return;
	free(cs->body);
	free(cs);
	*con_cls = NULL;
	atomic_fetch_sub(&h->active, 1);
}

struct srv_http *srv_http_start(struct srv *s, const char *host, int port, int *port_out, char *err,
				size_t errlen)
{
	struct srv_http *h = calloc(1, sizeof *h);
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *di;
	int rc;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->s = s;
	rc = getaddrinfo(host, NULL, &hints, &ai);
	if (rc || !ai) {
		snprintf(err, errlen, "cannot resolve host '%s' to an IPv4 address: %s", host,
			 rc ? gai_strerror(rc) : "no address");
		free(h);
		return NULL;
	}
	memcpy(&sa, ai->ai_addr, sizeof sa);
	freeaddrinfo(ai);
	sa.sin_port = htons((uint16_t)port);
	h->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
					MHD_USE_ERROR_LOG,
				0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)600, MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "cannot listen on %s:%d (in use, or not an address of this machine?)", host,
			 port);
		free(h);
		return NULL;
	}
	di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	*port_out = di ? di->port : port;
	return h;
}

int srv_http_active(struct srv_http *h)
{
	return atomic_load(&h->active);
}

void srv_http_stop(struct srv_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
