/*
 * tests/helpers/fakellm.h — a fault-injecting OpenAI-compatible (and Ollama-compatible) test
 * server on 127.0.0.1 at a random port: plain sockets, one thread per connection, HTTP/1.1 with
 * keep-alive and chunked streaming. It streams a known number of token chunks at known
 * intervals and can split every event into small pieces (even inside "data:"), end a stream
 * with an error event, close the connection, stall, omit [DONE], or answer with an HTTP error.
 *
 * Paths: /v1/completions and /v1/chat/completions stream server-sent events; /api/generate
 * streams Ollama's newline-delimited JSON; /v1/models and /tokenize answer one JSON body (see
 * fl_script) and are not counted as requests. Every wait checks the stop flag, so fl_stop() ends
 * within about 100 ms whatever a client does.
 */
#ifndef JB_FAKELLM_H
#define JB_FAKELLM_H

#include <stdbool.h>
#include <stddef.h>

enum fl_fault {
	FL_NONE,
	FL_ERROR_EVENT,  /* after fault_after tokens: an error event (code 500), then the end */
	FL_CLOSE,        /* after fault_after tokens: close the connection mid-stream */
	FL_STALL,        /* after fault_after tokens: send nothing more until the client leaves */
	FL_NO_DONE,      /* a clean end of the body without data: [DONE] */
	FL_HTTP_ERROR,   /* answer http_status with error_body instead of a stream */
	FL_NOT_STREAMED, /* answer 200 with one JSON completion, as a server without streaming */
};

struct fl_script {
	int n_tokens; /* token chunks per stream */
	int ttft_ms;  /* delay before the first token chunk */
	int itl_ms;   /* delay between token chunks */
	bool usage;   /* send a usage chunk (completion_tokens = n_tokens) */
	int usage_prompt_tokens;
	int split_bytes;  /* > 0: send each event in pieces of this many bytes ... */
	int split_gap_ms; /* ... with this pause between pieces */
	enum fl_fault fault;
	int fault_after;        /* tokens sent before the fault */
	int fault_request;      /* -1: every request; else only the request with this index */
	int http_status;        /* FL_HTTP_ERROR */
	const char *error_body; /* FL_HTTP_ERROR: the JSON body */
	/* GET .../models: this body (NULL: one model "fake-model", owned_by "fakellm");
	 * POST /tokenize: this body (NULL: 404). Neither counts as a request. */
	const char *models_body;
	const char *tokenize_body;
};

struct fl_server;

/* Starts the server (a test failure if it cannot); fl_stop() frees it. */
struct fl_server *fl_start(const struct fl_script *s);
void fl_stop(struct fl_server *f);
int fl_port(const struct fl_server *f);
/* "http://127.0.0.1:PORT" + suffix, into a static buffer. */
const char *fl_url(const struct fl_server *f, const char *suffix);
int fl_connections(struct fl_server *f); /* TCP connections accepted */
int fl_requests(struct fl_server *f);    /* requests answered or being answered */
int fl_max_active(struct fl_server *f);  /* most streams in progress at once */
/* CLOCK_MONOTONIC ns at which each token chunk of the last stream was handed to send() (its
 * last piece, when split); returns how many (at most max). */
int fl_token_times(struct fl_server *f, long long *out, int max);
/* The Authorization header of the last request ("" when none; caller's buffer). */
void fl_last_auth(struct fl_server *f, char *buf, size_t len);
/* The body and path of the last request (caller's buffers). */
void fl_last_request(struct fl_server *f, char *path, size_t plen, char *body, size_t blen);

#endif
