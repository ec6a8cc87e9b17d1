/*
 * bench/engine_http.h — private to bench/: external inference engines measured over HTTP
 * (issue 12), and the concurrency sweep that drives them.
 *
 * Adapters: `openai` streams /v1/completions (or /v1/chat/completions) as server-sent events,
 * `ollama` streams Ollama's native /api/generate (or /api/chat) as newline-delimited JSON. Every
 * token chunk is timestamped (CLOCK_MONOTONIC, pwr_now_ns) in libcurl's write callback, the moment
 * its bytes are read, so TTFT and every inter-token gap are the client's view of the stream. Lines
 * are reassembled across arbitrary read boundaries. Token counts come from the server (`usage`,
 * Ollama's `eval_count`) or, when it sends none, from the number of streamed chunks, and each
 * request says which.
 *
 * Requests run on one curl multi handle: up to `concurrency` streams at once, each finished
 * stream replaced by the next request, connections kept alive between requests.
 */
#ifndef JB_BENCH_ENGINE_HTTP_H
#define JB_BENCH_ENGINE_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cJSON;
struct pwr_set;
struct bench_run;

enum bench_engine {
	BENCH_ENGINE_BUILTIN = 0,
	BENCH_ENGINE_OPENAI,
	BENCH_ENGINE_OLLAMA,
};

/* "builtin", "openai", "ollama"; parse returns 0 or -EINVAL. */
const char *bench_engine_name(enum bench_engine e);
int bench_engine_parse(const char *s, enum bench_engine *out);

#define BENCH_HTTP_MAX_LEVELS 16

/*
 * How the workload's prompt is sent (--prompt-format). `text`: words (or the workload's text)
 * that the server tokenizes. `ids`: the token ids the built-in engine feeds, as an array in
 * `prompt` (the OpenAI /v1/completions API, llama-server and `joulebench serve` take one), so
 * the server prefills exactly the workload's prompt length. `auto`: ids when the server's
 * /v1/models says it is llama-server (owned_by "llamacpp") or `joulebench serve` (owned_by
 * "joulebench") and gives its vocabulary size and BOS token; text otherwise.
 */
enum bench_prompt_format {
	BENCH_PROMPT_AUTO = 0,
	BENCH_PROMPT_TEXT,
	BENCH_PROMPT_IDS,
};
/* "auto", "text", "ids"; parse returns 0 or -EINVAL. */
const char *bench_prompt_format_name(enum bench_prompt_format f);
int bench_prompt_format_parse(const char *s, enum bench_prompt_format *out);

/* One prompt as sent: text, or n_ids token ids. Unless same_prompt, each request changes its
 * prompt so no prefix cache can skip the prefill: text gets "(N) " in front, ids get N added
 * (modulo n_vocab) to the id at vary_at (the first after BOS). */
struct bench_http_prompt {
	const char *text; /* NULL: ids */
	const int32_t *ids;
	int n_ids;
	int vary_at;
	int n_vocab;
};

/* An external engine and how to load it. */
struct bench_http_opts {
	enum bench_engine engine;
	char url[512];    /* openai: base ending in /v1; ollama: http://HOST:11434 */
	char model[256];  /* the server's model name */
	bool chat;        /* /v1/chat/completions (ollama: /api/chat) instead of /v1/completions
	                   * (/api/generate) */
	bool ignore_eos;  /* ask the server to decode max_tokens whatever it samples */
	double timeout_s; /* per request, from sending to the last byte; 0 = none */
	int n_levels;
	int concurrency[BENCH_HTTP_MAX_LEVELS];
	int requests;         /* requests per level */
	double n_params;      /* parameters of the served model (for claims), 0 = unknown */
	bool remote;          /* runs elsewhere whatever its URL says (a tunnel): no energy */
	char api_key_env[64]; /* environment variable holding a bearer token, "" = none */
	bool same_prompt;     /* identical prompts (default: each request's starts "(N) ", so
	                       * a prefix cache cannot skip its prefill) */
	enum bench_prompt_format prompt_format; /* as asked; the sweep records what was used */
};

/* The outcome of one streamed request. */
struct bench_http_req {
	int index;       /* order of submission within its level */
	bool ok;         /* a complete stream ([DONE] / done:true) with at least one token */
	char error[512]; /* why not ok: "HTTP 400: model 'x' not found", "timed out ..." */
	bool timed_out;
	int http_status;    /* 0 when no response arrived */
	int64_t t_start_ns; /* request handed to libcurl */
	int64_t t_first_ns; /* first token chunk read (0: none) */
	int64_t t_end_ns;   /* stream ended (or failed) */
	int64_t *itl_ns;    /* gaps between successive token chunks, n_chunks - 1 of them */
	int n_itl, cap_itl;
	int n_chunks;                /* token-bearing chunks read */
	int prompt_tokens;           /* from the server, -1 unknown */
	int completion_tokens;       /* from the server, else n_chunks (see token_count_source) */
	char token_count_source[24]; /* "usage", "eval_count", "streamed_chunks" */
	bool done;                   /* the stream's end marker arrived */
	char finish_reason[32];
	bool has_ollama; /* Ollama's own counters below are set */
	int64_t ollama_eval_count, ollama_eval_duration_ns;
	int64_t ollama_prompt_eval_count, ollama_prompt_eval_duration_ns;
};

/*
 * Sends n requests (prompts[i % n_prompts], max_tokens each) with at most `concurrency` in
 * flight, filling out[0..n). Returns 0 when every request ran to an outcome (each says whether
 * it succeeded), or -errno when the transfer machinery itself failed (message in err). A
 * non-NULL *stop that becomes non-zero ends the batch early: requests not yet started are
 * marked so. The caller frees each out[i] with bench_http_req_free().
 */
int bench_http_batch(const struct bench_http_opts *o, const struct bench_http_prompt *prompts,
                     int n_prompts,
                     int max_tokens, int n, int concurrency, struct bench_http_req *out,
                     volatile const sig_atomic_t *stop, char *err, size_t errlen);
void bench_http_req_free(struct bench_http_req *q);

/* The request body for a prompt (caller frees); exposed for tests. */
char *bench_http_body(const struct bench_http_opts *o, const struct bench_http_prompt *p,
                      int max_tokens);
/* The endpoint URL for o (caller's buffer). */
void bench_http_endpoint(const struct bench_http_opts *o, char *out, size_t len);

/* What an OpenAI-compatible server says about the model it serves. */
struct bench_http_server_info {
	bool listed;       /* GET URL/models answered and named the model (or only one) */
	char owned_by[64]; /* "" when not given */
	int n_vocab;       /* meta.n_vocab (llama-server, joulebench serve); 0 = not given */
	bool bos_known;
	int32_t bos;          /* the BOS id the server puts before a text prompt; -1: none */
	char bos_source[64];  /* "meta.bos_token_id" or "/tokenize" */
	char why[400];        /* what could not be learnt, and why */
};

/*
 * Asks the server of o (openai engine) about its model: GET URL/models, then for llama-server
 * (owned_by "llamacpp", whose /v1/models gives no BOS) POST /tokenize of an empty text with
 * add_special, which answers with the BOS it adds. Fills si; never fails (si->why says what is
 * missing).
 */
void bench_http_server_info(const struct bench_http_opts *o, struct bench_http_server_info *si);

/*
 * Stream parsers, fed raw bytes as they arrive in any split; each complete event updates q at
 * time t_ns. Exposed so tests can split a stream at every byte.
 */
struct bench_stream;
struct bench_stream *bench_stream_new(enum bench_engine e, struct bench_http_req *q);
void bench_stream_feed(struct bench_stream *s, const char *data, size_t n, int64_t t_ns);
/* Flushes a last line without a newline at the end of the body. */
void bench_stream_finish(struct bench_stream *s, int64_t t_ns);
void bench_stream_free(struct bench_stream *s);

/*
 * Whether the URL's host is this machine: a loopback or local interface address, "localhost",
 * or a name that resolves only to such addresses. Returns 1 local, 0 remote (host copied into
 * host, for the reason), -EINVAL for a URL without a host. `resolve` false skips DNS (names
 * other than localhost are then remote).
 */
int bench_url_is_local(const char *url, bool resolve, char *host, size_t hostlen);

/* ---- the sweep as measured (http_run.c) ------------------------------------------------- */

struct bench_http_level {
	int concurrency;
	int n_req;
	struct bench_http_req *req;
	int64_t t_start_ns, t_end_ns;
	bool started;
	/* energy over the level's window: the local probes, or null + reason */
	bool energy_valid;
	double energy_j; /* summed over `covers` (disjoint devices only) */
	bool energy_estimated;
	char energy_reason[512];
	double *by_domain_j; /* per domain of the run, NAN when not valid */
};

struct bench_http_sweep {
	struct bench_http_opts opts;
	char endpoint[600];
	bool remote;
	char host[256];
	char remote_reason[400];
	int max_tokens;
	int prompt_words; /* filler words when the workload has no prompt text */
	char *prompt;     /* the text sent (NULL with ids) */
	enum bench_prompt_format prompt_format; /* text or ids: what was sent */
	char prompt_format_reason[400];          /* why (auto), or what the server said */
	int32_t *prompt_ids; /* with ids: the workload's prompt, n_prompt_ids of them */
	int n_prompt_ids;
	int n_vocab;         /* the server's, with ids */
	int32_t bos;         /* the server's BOS id (-1: it adds none), with ids */
	char bos_source[64]; /* where bos came from: "/v1/models meta.bos_token_id", "/tokenize" */
	char server_owned_by[64];
	int n_levels;
	struct bench_http_level levels[BENCH_HTTP_MAX_LEVELS];
	int n_covers; /* domain indices the headline energy adds up */
	int covers[8];
	char covers_reason[400];
};

/*
 * Sets up r->http (owned by r) before anything is measured: where the engine runs and how the
 * prompt is sent (asking the server when --prompt-format is auto or ids). Returns 0, or -errno
 * with a message (-EINVAL: ids asked for and impossible, a URL without a host). Idempotent.
 */
int bench_http_sweep_prepare(struct bench_run *r, const struct bench_http_opts *o, char *err,
                             size_t errlen);

/*
 * Runs the sweep inside a run that has opened its probes and measured idle power: one level per
 * concurrency, `requests` each. Writes r->http (owned by r). Returns 0, 1 when stopped by a
 * signal, or -errno with a message (nothing could be sent). `event` (may be NULL) is called
 * at each phase start ("warmup", "level" with its index) with line NULL, and with a progress
 * line (phase NULL) after each level.
 */
int bench_http_sweep_run(struct bench_run *r, const struct bench_http_opts *o, struct pwr_set *pwr,
                         volatile const sig_atomic_t *stop,
                         void (*event)(void *ud, const char *phase, int level, const char *line),
                         void *ud, char *err, size_t errlen);
/* Energy of each level's window, once the sampler has stopped. */
void bench_http_sweep_energy(struct bench_run *r, struct pwr_set *pwr);
void bench_http_sweep_free(struct bench_http_sweep *s);

/* Level statistics shared by the JSON, CSV and table. */
struct bench_http_level_summary {
	int n_ok, n_failed, n_timed_out;
	char first_error[512];
	double duration_s;
	int64_t output_tokens, prompt_tokens;
	double agg_tok_s; /* output tokens of successful requests / level duration */
	double req_s;
	bool ttft_valid, itl_valid;
	double ttft_p50_ms, ttft_p90_ms, ttft_p99_ms;
	double itl_p50_ms, itl_p90_ms, itl_p99_ms;
	bool jpt_valid, net_valid;
	double j_per_token, j_per_token_net, avg_power_w, tokens_per_j;
	char jpt_reason[512], net_reason[256];
	char token_count_source[24];
	bool server_tok_s_valid; /* Ollama: median eval_count / eval_duration over the requests */
	double server_decode_tok_s;
};
void bench_http_level_summarize(const struct bench_run *r, int li,
                                struct bench_http_level_summary *s);

/* result.json: the `engine` object and the `sweep` (null + reason for the built-in engine). */
void bench_http_json(struct cJSON *root, const struct bench_run *r);
/* summary.csv of a sweep: one row per level (reports/SCHEMA.md). */
void bench_http_csv(const struct bench_run *r, FILE *f);
/* The table printed after a sweep. */
void bench_http_table(const struct bench_run *r, FILE *f);

#endif
