/*
 * bench/cmd_serve.c — `joulebench serve`: an OpenAI-compatible HTTP server on the built-in
 * engine, with --parallel slots decoded as one batch per step (bench/serve.h says how).
 *
 * SIGTERM or SIGINT drains: new requests get 503, the ones already accepted (running or queued)
 * finish and are answered, then the server exits 0. A second signal exits at once (status 1).
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "bench/serve.h"
#include "engine/engine.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CMD "serve"

struct serve_opts {
	const char *model, *vocab, *host, *alias;
	long port, parallel, threads, n_ctx;
	enum eng_type kv_type;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: joulebench serve -m MODEL [options]\n\n"
		"An OpenAI-compatible HTTP server on the built-in engine: GET /health, GET /v1/models,\n"
		"POST /v1/completions and /v1/chat/completions (JSON or streamed as server-sent events).\n"
		"Requests run in --parallel slots; one decode step runs every active slot as one batch.\n\n"
		"  -m, --model MODEL      GGUF file or synth:SHAPE:TYPE (e.g. synth:bench-1b:q4_0)\n"
		"      --vocab FILE       vocabulary GGUF for a synth: model\n"
		"      --host HOST        IPv4 address or name to listen on (default 127.0.0.1)\n"
		"      --port N           port (default 8080; 0 = a free one). The server prints\n"
		"                         'listening on http://HOST:PORT' on stderr when ready\n"
		"  -np, --parallel N      slots: requests decoded together (default 4); more wait\n"
		"  -t, --threads N        threads (default: online CPUs)\n"
		"  -c, --ctx N            KV cache length of each slot (default: the model's context)\n"
		"      --kv-type TYPE     KV cache f32 (default) or f16\n"
		"  -a, --alias NAME       model id in responses (default: the model argument)\n"
		"  -h, --help             this help\n\n"
		"Request fields: prompt (string or token ids) or messages, max_tokens (default: until the\n"
		"context is full), temperature (0.8), top_p (0.95), top_k (40), seed (random), stop,\n"
		"ignore_eos, stream, stream_options.include_usage. SIGTERM drains and exits 0.\n");
}

static long default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 512 ? 512 : n;
}

static int parse_args(int argc, char **argv, struct serve_opts *o)
{
	enum { OPT_VOCAB = 256, OPT_HOST, OPT_PORT, OPT_KV, OPT_NP };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "vocab", required_argument, NULL, OPT_VOCAB },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "parallel", required_argument, NULL, OPT_NP },
		{ "threads", required_argument, NULL, 't' },
		{ "ctx", required_argument, NULL, 'c' },
		{ "kv-type", required_argument, NULL, OPT_KV },
		{ "alias", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct serve_opts){ .host = "127.0.0.1", .port = 8080, .parallel = 4, .threads = default_threads(),
				  .kv_type = ENG_TYPE_F32 };
	for (int i = 1; i < argc; i++) /* llama-server's spelling */
		if (!strcmp(argv[i], "-np"))
			argv[i] = (char *)"--parallel";
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":m:t:c:a:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			o->model = optarg;
			break;
		case OPT_VOCAB:
			o->vocab = optarg;
			break;
		case OPT_HOST:
			o->host = optarg;
			break;
		case OPT_PORT:
			if (bench_parse_long(optarg, 0, 65535, &o->port))
				return bench_usage_error(CMD, "--port wants 0..65535, not '%s'", optarg);
			break;
		case OPT_NP:
			if (bench_parse_long(optarg, 1, 64, &o->parallel))
				return bench_usage_error(CMD, "--parallel wants a slot count 1..64, not '%s'", optarg);
			break;
		case 't':
			if (bench_parse_long(optarg, 1, 512, &o->threads))
				return bench_usage_error(CMD, "-t wants a thread count 1..512, not '%s'", optarg);
			break;
		case 'c':
			if (bench_parse_long(optarg, 1, 1L << 24, &o->n_ctx))
				return bench_usage_error(CMD, "--ctx wants a token count 1..%ld, not '%s'", 1L << 24,
							 optarg);
			break;
		case OPT_KV:
			if (!strcmp(optarg, "f32"))
				o->kv_type = ENG_TYPE_F32;
			else if (!strcmp(optarg, "f16"))
				o->kv_type = ENG_TYPE_F16;
			else
				return bench_usage_error(CMD, "--kv-type wants f32 or f16, not '%s'", optarg);
			break;
		case 'a':
			o->alias = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return bench_bad_option(CMD, argv, optind - 1);
		}
	}
	if (optind < argc)
		return bench_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!o->model)
		return bench_usage_error(CMD, "missing -m MODEL (a GGUF file or synth:SHAPE:TYPE)");
	if (o->vocab && strncmp(o->model, "synth:", 6))
		return bench_usage_error(CMD, "--vocab applies to synth: models; %s has its own", o->model);
	return 0;
}

/* Waits for SIGTERM/SIGINT (blocked in every thread); returns the signal. */
static int wait_signal(const sigset_t *set)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL);

		if (sig > 0)
			return sig;
		if (errno != EINTR)
			return SIGTERM;
	}
}

int cmd_serve(int argc, char **argv)
{
	struct serve_opts o;
	struct eng_open_opts oo = { 0 };
	struct eng_model *m = NULL;
	struct eng_ctx *c = NULL;
	struct srv s;
	struct srv_http *h = NULL;
	bool started = false;
	sigset_t set, old;
	char err[512] = "";
	int rc, port = 0, sig, n_open;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	/* every thread started from here on inherits the mask: signals come to sigwaitinfo only */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);

	oo.vocab_path = o.vocab;
	rc = eng_model_open(o.model, &oo, &m, err, sizeof err);
	if (rc) {
		m = NULL;
		rc = rc == -ENOMEM ? bench_fail(CMD, "%s", err) : bench_usage_error(CMD, "%s", err);
		goto out;
	}
	{
		struct eng_ctx_opts co = { .n_threads = (int)o.threads, .n_ctx = (int)o.n_ctx, .kv_type = o.kv_type,
					   .n_seq = (int)o.parallel };

		c = eng_ctx_new(m, &co, err, sizeof err);
		if (!c) {
			rc = bench_fail(CMD, "%s", err);
			goto out;
		}
	}
	if (srv_start(&s, m, c, o.alias ? o.alias : o.model, err, sizeof err)) {
		rc = bench_fail(CMD, "%s", err);
		goto out;
	}
	started = true;
	h = srv_http_start(&s, o.host, (int)o.port, &port, err, sizeof err);
	if (!h) {
		rc = bench_fail(CMD, "%s", err);
		goto out;
	}
	fprintf(stderr, "joulebench serve: %s, %ld slot%s of %d tokens, %ld thread%s, %s kernels, chat template %s\n",
		o.model, o.parallel, o.parallel == 1 ? "" : "s", eng_ctx_len(c), o.threads, o.threads == 1 ? "" : "s",
		eng_simd_name(), srv_chat_template(m));
	fprintf(stderr, "listening on http://%s:%d\n", o.host, port);
	fflush(stderr);

	sig = wait_signal(&set);
	pthread_mutex_lock(&s.mu);
	s.draining = true;
	n_open = s.n_open;
	pthread_mutex_unlock(&s.mu);
	fprintf(stderr, "joulebench serve: %s: finishing %d request%s, refusing new ones\n",
		sig == SIGINT ? "SIGINT" : "SIGTERM", n_open, n_open == 1 ? "" : "s");
	/* until every accepted request is answered (its last byte handed to the socket) */
	for (;;) {
		struct timespec zero = { 0, 0 }, slice = { 0, 50 * 1000000L };
		int open;

		pthread_mutex_lock(&s.mu);
		open = s.n_open;
		pthread_mutex_unlock(&s.mu);
		if (open == 0 && srv_http_active(h) == 0)
			break;
		if (sigtimedwait(&set, NULL, &zero) > 0) {
			fprintf(stderr, "joulebench serve: second signal: exiting without finishing\n");
			_exit(1);
		}
		nanosleep(&slice, NULL);
	}
	pthread_mutex_lock(&s.mu);
	fprintf(stderr, "joulebench serve: %ld requests, %ld decode steps, %.2f sequences per step\n",
		s.n_requests, s.n_steps, s.n_steps ? (double)s.n_batched_tokens / s.n_steps : 0.0);
	pthread_mutex_unlock(&s.mu);
	rc = 0;
out:
	srv_http_stop(h);
	if (started)
		srv_stop(&s);
	eng_ctx_free(c);
	if (m)
		eng_model_close(m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
