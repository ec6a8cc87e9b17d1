/*
 * bench/serve.h — private to bench/: `joulebench serve`, an OpenAI-compatible HTTP server on the
 * built-in engine.
 *
 *   HTTP threads (libmicrohttpd, one per connection)        scheduler thread (owns the model)
 *   parse JSON, tokenize, srv_submit() ──── queue ────▶     admit into a free slot: prefill
 *   wait on the request's condition variable ◀── text ──    one batched decode step over every
 *   stream SSE chunks / answer with one JSON object          active slot, sample, detokenize, stop
 *
 * One mutex (srv.mu) guards the queue, the slots and every request's shared fields; each request
 * has its own condition variable that the scheduler signals when it has new text or is done.
 * A request is freed when both sides have let go of it (srv_release by the HTTP side, the
 * scheduler when the request finishes); an HTTP side that goes away early (client disconnected)
 * marks it cancelled and the scheduler frees its slot at the next step.
 */
#ifndef JB_BENCH_SERVE_H
#define JB_BENCH_SERVE_H

#include "engine/engine.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_MAX_STOP 8      /* stop strings per request */
#define SRV_MAX_STOP_LEN 256 /* bytes per stop string */
#define SRV_PREFILL_CHUNK 128 /* prompt tokens a slot runs per scheduler turn */

/* One completion request, from submit to the last chunk. */
struct srv_req {
	/* set by the HTTP side before srv_submit(), then read-only */
	int32_t *prompt; /* n_prompt tokens, owned */
	int n_prompt;
	int max_tokens;  /* < 0: until the context is full */
	struct eng_sampler_opts so;
	bool ignore_eos;
	char stop[SRV_MAX_STOP][SRV_MAX_STOP_LEN];
	int n_stop;
	int32_t extra_eos; /* a second end-of-turn token (chat templates), -1 if none */

	/* shared, under srv.mu */
	pthread_cond_t cv;   /* signalled on new text, done */
	char *text;          /* generated text so far (stop strings cut off), NUL-terminated */
	size_t text_len, text_cap;
	size_t n_ready;      /* bytes of text that can be sent: no partial stop string, no partial
			      * UTF-8 character at the end (all of it once done) */
	int n_gen;           /* tokens generated (the end-of-sequence token not counted) */
	bool done;
	const char *finish;  /* "stop" or "length" once done */
	char error[256];     /* non-empty: failed (finish is NULL then) */
	bool cancelled;      /* the HTTP side has gone */
	bool open;           /* submitted and not yet released by the HTTP side */
	int refs;            /* 2 while both sides hold it */
	int slot;            /* -1 while queued */
	double t_submit_s, t_start_s, t_first_s, t_done_s; /* monotonic; t_first: first token */

	/* scheduler only */
	struct srv_req *next; /* queue link */
	struct eng_sampler *smp;
	int32_t last;         /* last token (prompt's last, then generated): detokenizing context */
	int32_t pending;      /* sampled, to be decoded in the next step */
	int n_prefilled;      /* prompt tokens in the slot's KV cache; < n_prompt: still prefilling */
	int budget;           /* tokens it may still generate */
};

struct srv_slot {
	struct srv_req *req; /* NULL: free */
};

struct srv {
	struct eng_model *m;
	struct eng_ctx *c;
	const char *model_id; /* "model" in responses */
	int n_slots;
	int n_ctx;            /* per slot */
	int n_vocab;
	int32_t eos;

	pthread_mutex_t mu;
	pthread_cond_t work;  /* the scheduler waits here for requests */
	struct srv_req *head, *tail; /* waiting for a slot, FIFO */
	int n_queued;
	struct srv_slot *slots;
	bool stop;            /* scheduler: finish what is there, then return */
	bool draining;        /* refuse new requests (503) */
	int n_open;           /* requests an HTTP side holds */
	pthread_t thread;
	bool started;

	/* scheduler scratch */
	float *logits;        /* n_slots * n_vocab */
	int *seq;
	int32_t *tok;
	struct srv_req **batch;

	/* counters (under mu) */
	long n_requests, n_steps, n_batched_tokens;
	double decode_s;      /* time in decode steps (forward pass and sampling) */
};

/* Prepares the server state for an open model and a context with n_slots sequences (both stay the
 * caller's) and starts the scheduler thread. Returns 0 or -errno with a message in err. */
int srv_start(struct srv *s, struct eng_model *m, struct eng_ctx *c, const char *model_id, char *err,
	      size_t errlen);
/* Finishes every request the scheduler holds, stops it and frees the state (not m or c). */
void srv_stop(struct srv *s);

/* A new request with its prompt (copied) and default sampling; NULL when out of memory. */
struct srv_req *srv_req_new(const int32_t *prompt, int n_prompt);
/* Queues a request (the HTTP side keeps a reference). Returns 0, or -EBUSY when draining (the
 * request is then still the caller's alone: srv_release frees it). */
int srv_submit(struct srv *s, struct srv_req *r);
/* The HTTP side lets go: cancels the request if it is not done; frees it if the scheduler has
 * let go too. Takes srv.mu. */
void srv_release(struct srv *s, struct srv_req *r);

double srv_now_s(void);

/* ---- the HTTP side (bench/serve_http.c) ---- */

struct srv_http;
/* Listens on host:port (port 0: a free one) with libmicrohttpd; *port_out gets the bound port.
 * Returns NULL with a message in err. */
struct srv_http *srv_http_start(struct srv *s, const char *host, int port, int *port_out, char *err,
				size_t errlen);
/* HTTP requests being answered (completions, health, errors). */
int srv_http_active(struct srv_http *h);
void srv_http_stop(struct srv_http *h);

/* The prompt text of a chat for this model's template; malloc'd. *extra_eos gets the template's
 * end-of-turn token (-1 if the end-of-sequence token ends a turn). Returns NULL with a message in
 * err for bad messages. */
struct cJSON;
char *srv_chat_prompt(const struct eng_model *m, const struct cJSON *messages, int32_t *extra_eos, char *err,
		      size_t errlen);
/* Name of the chat template srv_chat_prompt uses for a model ("llama2" or "chatml"). */
const char *srv_chat_template(const struct eng_model *m);

#endif
