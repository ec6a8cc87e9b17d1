/*
 * bench/cmd_run.c — `joulebench run`: a workload file and/or flags → one run → DIR/result.json,
 * DIR/summary.csv and a short table on stdout.
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "power/power.h"
#include "bench/runner.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
	"Usage: joulebench run [WORKLOAD.json | NAME] [OPTIONS]\n"
	"\n"
	"Runs a benchmark workload while the power probes sample, and writes DIR/result.json (every\n"
	"raw sample and latency, summaries with 95% bootstrap intervals; reports/SCHEMA.md) and\n"
	"DIR/summary.csv. NAME is a file in configs/workloads/ (default, chat, summarize,\n"
	"sweep-threads, sweep-quant, claim-7b). Options override the workload's fields:\n"
	"\n"
	"  --model M              GGUF path or synth:SHAPE:TYPE (e.g. synth:bench-1b:q4_0)\n"
	"  --vocab PATH           vocabulary GGUF for a synthetic model: --prompt is tokenized as\n"
	"                         the real model would (without it: a placeholder vocabulary)\n"
	"  --prompt-tokens LIST   prompt length(s) in tokens, comma list (a sweep); ids from --seed\n"
	"  --prompt TEXT          prompt text (tokenized with the model's vocabulary)\n"
	"  --gen-tokens N         tokens generated per repetition (>= 2)\n"
	"  -t, --threads LIST     thread counts, comma list (a sweep)\n"
	"  --type LIST            weight or llama.cpp file types, f32,f16,q8_0,q4_0,q4_k_m,...\n"
	"                         (a sweep; synthetic models)\n"
	"  --reps N               repetitions per configuration (the minimum with a stop rule)\n"
	"  --warmup N             warm-up runs per configuration, not counted\n"
	"  --cooldown-seconds S   pause after each configuration\n"
	"  --idle-seconds S       idle power measurement before and after (0 = none: no net figures)\n"
	"  --interval-ms N        power sampling interval\n"
	"  --probe LIST           probes to use: backend or backend:domain, comma list (default auto);\n"
	"                         wall meters: shelly:HOST[:PORT], tasmota:HOST[:PORT], exec:CMD\n"
	"                         (a Shelly's password: $JOULEBENCH_SHELLY_PASSWORD)\n"
	"  --seed S               seed of prompt ids, synthetic weights and the bootstrap\n"
	"  --sysfs-root DIR       read sysfs/procfs under DIR (fake trees for testing)\n"
	"  --tdp-w W              CPU TDP for the estimate probe when the CPU is not in\n"
	"                         configs/hardware (figures are then marked estimated)\n"
	"  --stop-rsd PCT         add repetitions until the RSD of decode tok/s < PCT (default 3.5)\n"
	"  --max-reps N           the most repetitions the stop rule may run (default 20)\n"
	"  -q, --quiet            no progress line or warnings on stderr\n"
	"  -o, --output DIR       output directory (default results/<UTC time>-<host>/)\n"
	"  --list                 list the workloads in configs/workloads/ and exit\n"
	"\n"
	"External engines over HTTP (README: \"Measuring other engines\"):\n"
	"  --engine E             builtin (default), openai (an OpenAI-compatible server: llama-server,\n"
	"                         vLLM, joulebench serve, ...) or ollama (its native /api/generate)\n"
	"  --url URL              the server: http://HOST:PORT/v1 for openai, http://HOST:11434 for\n"
	"                         ollama; --model is then the server's model name\n"
	"  --chat                 the chat endpoint: /v1/chat/completions instead of /v1/completions,\n"
	"                         Ollama's /api/chat instead of /api/generate\n"
	"  --concurrency LIST     streams at once, one level each, e.g. 1,2,4,8,16 (default 1)\n"
	"  --requests N           requests per level (default max(8, 2 x concurrency))\n"
	"  --timeout-s S          per-request limit from sending to the last byte (default 300)\n"
	"  --no-ignore-eos        do not ask the server to ignore end-of-sequence (ignore_eos)\n"
	"  --model-params N       parameters of the served model (e.g. 8e9), for `claims`\n"
	"  --api-key-env VAR      send the bearer token in environment variable VAR (a server\n"
	"                         started with --api-key)\n"
	"  --same-prompt          send the identical prompt every time (default: each request's\n"
	"                         begins \"(N) \" so a server's prefix cache cannot skip prefill)\n"
	"  --prompt-format F      ids: the --prompt-tokens ids the built-in engine feeds (BOS\n"
	"                         first), sent as a token array, so the server prefills exactly\n"
	"                         that many tokens; text: filler words the server tokenizes;\n"
	"                         auto (default): ids when /v1/models says llama-server or\n"
	"                         joulebench serve (owned_by llamacpp or joulebench) with its\n"
	"                         vocabulary size and BOS, text otherwise\n"
	"  --remote               the engine runs on another machine although its URL is local\n"
	"                         (an SSH tunnel, a port forward): measured for latency only\n"
	"  --db DB                also store the result in this database: an SQLite file or a\n"
	"                         postgresql://... URL (default: $JOULEBENCH_DB, else\n"
	"                         results/joulebench.sqlite)\n"
	"  --no-db                do not store the result in a database\n"
	"  --label LABEL          record a label with the stored run (e.g. main, for regress\n"
	"                         --baseline db:main)\n"
	"\n"
	"A URL whose host is not this machine is timed, but its energy is null: the local probes\n"
	"do not see the remote machine's power.\n"
	"\n"
	"Ctrl-C (SIGINT) or SIGTERM stops at the next token and writes what was measured, marked\n"
	"\"complete\": false. Exit status: 0 complete, 1 failed or interrupted, 2 usage or input error.\n";

enum {
	OPT_MODEL = 256,
	OPT_VOCAB,
	OPT_PROMPT_TOKENS,
	OPT_PROMPT,
	OPT_GEN,
	OPT_TYPE,
	OPT_REPS,
	OPT_WARMUP,
	OPT_COOLDOWN,
	OPT_IDLE,
	OPT_INTERVAL,
	OPT_PROBE,
	OPT_SEED,
	OPT_SYSFS,
	OPT_STOP_RSD,
	OPT_MAX_REPS,
	OPT_TDP,
	OPT_LIST,
	OPT_DB,
	OPT_NO_DB,
	OPT_LABEL,
	OPT_ENGINE,
	OPT_URL,
	OPT_CHAT,
	OPT_CONCURRENCY,
	OPT_REQUESTS,
	OPT_TIMEOUT,
	OPT_NO_IGNORE_EOS,
	OPT_MODEL_PARAMS,
	OPT_REMOTE,
	OPT_API_KEY_ENV,
	OPT_SAME_PROMPT,
	OPT_PROMPT_FORMAT,
};

static const struct option long_opts[] = {
	{ "model", required_argument, NULL, OPT_MODEL },
	{ "vocab", required_argument, NULL, OPT_VOCAB },
	{ "prompt-tokens", required_argument, NULL, OPT_PROMPT_TOKENS },
	{ "prompt", required_argument, NULL, OPT_PROMPT },
	{ "gen-tokens", required_argument, NULL, OPT_GEN },
	{ "threads", required_argument, NULL, 't' },
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "reps", required_argument, NULL, OPT_REPS },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "cooldown-seconds", required_argument, NULL, OPT_COOLDOWN },
	{ "idle-seconds", required_argument, NULL, OPT_IDLE },
	{ "interval-ms", required_argument, NULL, OPT_INTERVAL },
	{ "probe", required_argument, NULL, OPT_PROBE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "sysfs-root", required_argument, NULL, OPT_SYSFS },
	{ "stop-rsd", required_argument, NULL, OPT_STOP_RSD },
	{ "max-reps", required_argument, NULL, OPT_MAX_REPS },
	{ "tdp-w", required_argument, NULL, OPT_TDP },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "db", required_argument, NULL, OPT_DB },
	{ "no-db", no_argument, NULL, OPT_NO_DB },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "url", required_argument, NULL, OPT_URL },
	{ "chat", no_argument, NULL, OPT_CHAT },
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "requests", required_argument, NULL, OPT_REQUESTS },
	{ "timeout-s", required_argument, NULL, OPT_TIMEOUT },
	{ "no-ignore-eos", no_argument, NULL, OPT_NO_IGNORE_EOS },
	{ "model-params", required_argument, NULL, OPT_MODEL_PARAMS },
	{ "remote", no_argument, NULL, OPT_REMOTE },
	{ "api-key-env", required_argument, NULL, OPT_API_KEY_ENV },
	{ "same-prompt", no_argument, NULL, OPT_SAME_PROMPT },
	{ "prompt-format", required_argument, NULL, OPT_PROMPT_FORMAT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Flag values, applied over the workload file once it is read. */
struct overrides {
	const char *model, *vocab, *prompt, *prompt_tokens, *threads, *types, *probes, *sysfs_root;
	long gen, reps, warmup, interval, max_reps;
	unsigned long long seed;
	double cooldown, idle, stop_rsd, tdp;
	bool has_tdp, has_gen, has_reps, has_warmup, has_interval, has_max_reps, has_seed, has_cooldown,
		has_idle, has_stop_rsd;
};

/* The HTTP engine flags: checked together once parsing is done. */
struct http_flags {
	const char *engine, *url, *concurrency, *model, *api_key_env, *prompt_format;
	bool chat, no_ignore_eos, has_requests, has_timeout, has_params, remote, same_prompt;
	long requests;
	double timeout_s, params;
};

/* Fills h from the flags (and the model name); returns 0 or the usage error's exit code. */
static int http_setup(const struct http_flags *f, const struct bench_workload *w,
		      struct bench_http_opts *h)
{
	long list[BENCH_HTTP_MAX_LEVELS];
	int n;

	memset(h, 0, sizeof *h);
	if (f->engine && bench_engine_parse(f->engine, &h->engine) < 0)
		return bench_usage_error("run", "--engine: expected builtin, openai or ollama, got '%s'",
					 f->engine);
	if (h->engine == BENCH_ENGINE_BUILTIN) {
		const char *stray = f->url ? "--url" : f->chat ? "--chat" : f->concurrency ? "--concurrency"
				    : f->has_requests ? "--requests" : f->has_timeout ? "--timeout-s"
				    : f->no_ignore_eos ? "--no-ignore-eos" : f->has_params ? "--model-params"
				    : f->remote ? "--remote" : f->api_key_env ? "--api-key-env"
				    : f->same_prompt ? "--same-prompt"
				    : f->prompt_format ? "--prompt-format" : NULL;

		if (stray)
			return bench_usage_error("run", "%s needs an external engine (--engine openai or "
							"ollama)", stray);
		return 0;
	}
	if (!f->url)
		return bench_usage_error("run", "--engine %s needs --url (e.g. %s)", f->engine,
					 h->engine == BENCH_ENGINE_OLLAMA ? "http://127.0.0.1:11434"
									  : "http://127.0.0.1:8080/v1");
	if (!f->model)
		return bench_usage_error("run", "--engine %s needs --model NAME: the server's name for "
						"the model", f->engine);
	if (strncmp(f->url, "http://", 7) && strncmp(f->url, "https://", 8))
		return bench_usage_error("run", "--url: expected an http:// or https:// URL, got '%s'",
					 f->url);
	if (strlen(f->url) >= sizeof h->url)
		return bench_usage_error("run", "--url: longer than %zu bytes", sizeof h->url - 1);
	snprintf(h->url, sizeof h->url, "%s", f->url);
	if (strlen(w->model) >= sizeof h->model)
		return bench_usage_error("run", "--model: a server's model name of at most %zu bytes",
					 sizeof h->model - 1);
	snprintf(h->model, sizeof h->model, "%.255s", w->model);
	h->chat = f->chat;
	h->ignore_eos = !f->no_ignore_eos;
	h->timeout_s = f->has_timeout ? f->timeout_s : 300;
	h->requests = f->has_requests ? (int)f->requests : 0;
	h->n_params = f->has_params ? f->params : 0;
	h->remote = f->remote;
	h->same_prompt = f->same_prompt;
	if (f->api_key_env) {
		if (!f->api_key_env[0] || strlen(f->api_key_env) >= sizeof h->api_key_env)
			return bench_usage_error("run", "--api-key-env: expected an environment variable "
							"name, got '%s'", f->api_key_env);
		if (!getenv(f->api_key_env) || !*getenv(f->api_key_env))
			return bench_usage_error("run", "--api-key-env: $%s is not set", f->api_key_env);
		snprintf(h->api_key_env, sizeof h->api_key_env, "%s", f->api_key_env);
	}
	if (f->prompt_format) {
		if (bench_prompt_format_parse(f->prompt_format, &h->prompt_format) < 0)
			return bench_usage_error("run", "--prompt-format: expected ids, text or auto, got '%s'",
						 f->prompt_format);
		if (h->prompt_format == BENCH_PROMPT_IDS && h->engine == BENCH_ENGINE_OLLAMA)
			return bench_usage_error("run", "--prompt-format ids: Ollama's API takes text prompts "
							"only (use --engine openai, or --prompt-format text)");
		if (h->prompt_format == BENCH_PROMPT_IDS && h->chat)
			return bench_usage_error("run", "--prompt-format ids: --chat sends messages, not "
							"token ids (drop --chat, or use --prompt-format text)");
		if (h->prompt_format == BENCH_PROMPT_IDS && w->prompt_text)
			return bench_usage_error("run", "--prompt-format ids: the prompt is a text (--prompt); "
							"ids come from --prompt-tokens N");
	}
	h->n_levels = 1;
	h->concurrency[0] = 1;
	if (f->concurrency) {
		n = bench_parse_long_list(f->concurrency, 1, 1024, list, BENCH_HTTP_MAX_LEVELS);
		if (n < 1)
			return bench_usage_error("run", "--concurrency: expected stream counts from 1 to 1024 "
							"separated by commas (at most %d), got '%s'",
						 BENCH_HTTP_MAX_LEVELS, f->concurrency);
		for (int i = 0; i < n; i++)
			h->concurrency[i] = (int)list[i];
		h->n_levels = n;
	}
	return 0;
}

static int parse_types(const char *s, struct bench_workload *w)
{
	char buf[256], *save = NULL, *tok;
	int n = 0;

	if (!*s || strlen(s) >= sizeof buf || s[strlen(s) - 1] == ',' || strstr(s, ",,") || s[0] == ',')
		return -EINVAL;
	snprintf(buf, sizeof buf, "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int t;

		if (n >= BENCH_MAX_LIST || eng_synth_type_parse(tok, &t) < 0)
			return -EINVAL;
		w->types[n++] = t;
	}
	w->n_types = n;
	return 0;
}

static int parse_probes(const char *s, struct bench_workload *w)
{
	char buf[1024], *save = NULL, *tok;
	int n = 0;

	if (!*s || strlen(s) >= sizeof buf || s[strlen(s) - 1] == ',' || strstr(s, ",,") || s[0] == ',')
		return -EINVAL;
	snprintf(buf, sizeof buf, "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool rest = !strncmp(tok, "exec:", 5); /* exec:CMD takes the rest, commas included */

		if (rest)
			tok = (char *)s + (tok - buf);
		if (n >= BENCH_MAX_PROBES || strlen(tok) >= sizeof w->probes[0])
			return -EINVAL;
		if (rest) {
			snprintf(w->probes[n++], sizeof w->probes[0], "%s", tok);
			break;
		}
		snprintf(w->probes[n++], sizeof w->probes[0], "%s", tok);
	}
	w->n_probes = n;
	return 0;
}

static int apply(const struct overrides *ov, struct bench_workload *w)
{
	long list[BENCH_MAX_LIST];
	int n;

	if (ov->model)
		snprintf(w->model, sizeof w->model, "%s", ov->model);
	if (ov->vocab)
		snprintf(w->vocab, sizeof w->vocab, "%s", ov->vocab);
	if (ov->prompt) {
		if (bench_workload_set_prompt(w, ov->prompt) < 0)
			return bench_fail("run", "out of memory");
		w->n_prompt_tokens = 0;
	}
	if (ov->prompt_tokens) {
		n = bench_parse_long_list(ov->prompt_tokens, 1, 1 << 20, list, BENCH_MAX_LIST);
		if (n < 1)
			return bench_usage_error("run", "--prompt-tokens: expected positive integers "
							"separated by commas, got '%s'",
						 ov->prompt_tokens);
		for (int i = 0; i < n; i++)
			w->prompt_tokens[i] = (int)list[i];
		w->n_prompt_tokens = n;
		bench_workload_set_prompt(w, NULL);
	}
	if (ov->threads) {
		n = bench_parse_long_list(ov->threads, 1, 512, list, BENCH_MAX_LIST);
		if (n < 1)
			return bench_usage_error("run", "--threads: expected thread counts from 1 to 512 "
							"separated by commas, got '%s'",
						 ov->threads);
		for (int i = 0; i < n; i++)
			w->threads[i] = (int)list[i];
		w->n_threads = n;
	}
	if (ov->types && parse_types(ov->types, w) < 0)
		return bench_usage_error("run", "--type: expected weight types (f32 f16 q8_0 q4_0 q4_1 q5_0 q5_1 "
						"q2_k q3_k q4_k q5_k q6_k) separated by commas, got '%s'",
					 ov->types);
	if (ov->probes && parse_probes(ov->probes, w) < 0)
		return bench_usage_error("run", "--probe: expected backend or backend:domain names "
						"separated by commas, got '%s'",
					 ov->probes);
	if (ov->has_gen)
		w->gen_tokens = (int)ov->gen;
	if (ov->has_reps)
		w->reps = (int)ov->reps;
	if (ov->has_warmup)
		w->warmup = (int)ov->warmup;
	if (ov->has_interval)
		w->interval_ms = (int)ov->interval;
	if (ov->has_seed)
		w->seed = ov->seed;
	if (ov->has_cooldown)
		w->cooldown_s = ov->cooldown;
	if (ov->has_idle)
		w->idle_s = ov->idle;
	if (ov->has_tdp)
		w->tdp_w = ov->tdp;
	if (ov->has_stop_rsd) {
		w->stop_rule = true;
		w->stop_rsd_pct = ov->stop_rsd;
	}
	if (ov->has_max_reps) {
		w->stop_rule = true;
		w->max_reps = (int)ov->max_reps;
	}
	return 0;
}

static void default_dir(char *out, size_t len)
{
	char host[128] = "host", stamp[32];
	time_t t = time(NULL);
	struct tm tm;

	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "%s", "host");
	host[sizeof host - 1] = '\0';
	for (char *p = host; *p; p++)
		if (*p == '/' || *p == ' ')
			*p = '_';
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(out, len, "results/%s-%s", stamp, host);
	/* two runs started in the same second get different directories */
	for (int i = 2; i < 100; i++) {
		struct stat st;

		if (stat(out, &st) != 0)
			break;
		snprintf(out, len, "results/%s-%s-%d", stamp, host, i);
	}
}

/* `run --list`: every configs/workloads/NAME.json with its model and description. Returns the
 * exit code (2 when a file does not parse: the message names it). */
static int list_workloads(void)
{
	struct dirent **names = NULL;
	char dir[400];
	int n, rc = 0;

	pwr_data_path("configs/workloads", dir, sizeof dir);
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return bench_fail("run", "%s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);
		char path[520], err[1024];
		struct bench_workload w;

		if (len > 5 && !strcmp(names[i]->d_name + len - 5, ".json")) {
			snprintf(path, sizeof path, "%.250s/%.250s", dir, names[i]->d_name);
			if (bench_workload_load(path, &w, err, sizeof err) == 0) {
				printf("%-14s %-24s %s\n", w.name, w.model, w.description);
			} else {
				fprintf(stderr, "joulebench run: %s\n", err);
				rc = 2;
			}
			bench_workload_free(&w);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

#define NUM_OPT(flag, field, has, lo, hi)                                                          \
	do {                                                                                       \
		if (bench_parse_long(optarg, lo, hi, &ov.field) < 0)                               \
			return bench_usage_error("run", "%s: expected an integer from %ld to %ld, got '%s'", \
						 flag, (long)(lo), (long)(hi), optarg);            \
		ov.has = true;                                                                     \
	} while (0)

int cmd_run(int argc, char **argv)
{
	struct overrides ov;
	struct bench_workload w;
	struct bench_run_opts ro;
	struct bench_run *run = NULL;
	struct http_flags hf;
	struct bench_http_opts http;
	const char *outdir = NULL, *wl_arg = NULL, *db = NULL, *label = NULL;
	char path[1200], dir[1200], err[1024] = "";
	bool quiet = false, no_db = false;
	int c, rc;

	memset(&ov, 0, sizeof ov);
	memset(&hf, 0, sizeof hf);
	bench_workload_init(&w);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "t:qo:h", long_opts, NULL)) != -1) {
		double d;

		switch (c) {
		case OPT_MODEL: ov.model = optarg; break;
		case OPT_VOCAB: ov.vocab = optarg; break;
		case OPT_PROMPT:
			if (!*optarg)
				return bench_usage_error("run", "--prompt: expected a non-empty text");
			ov.prompt = optarg;
			ov.prompt_tokens = NULL;
			break;
		case OPT_PROMPT_TOKENS: ov.prompt_tokens = optarg; ov.prompt = NULL; break;
		case 't': ov.threads = optarg; break;
		case OPT_TYPE: ov.types = optarg; break;
		case OPT_PROBE: ov.probes = optarg; break;
		case OPT_SYSFS: ov.sysfs_root = optarg; break;
		case OPT_GEN: NUM_OPT("--gen-tokens", gen, has_gen, 2, 1 << 20); break;
		case OPT_REPS: NUM_OPT("--reps", reps, has_reps, 1, 100000); break;
		case OPT_WARMUP: NUM_OPT("--warmup", warmup, has_warmup, 0, 100000); break;
		case OPT_INTERVAL: NUM_OPT("--interval-ms", interval, has_interval, 1, 60000); break;
		case OPT_MAX_REPS: NUM_OPT("--max-reps", max_reps, has_max_reps, 1, 100000); break;
		case OPT_SEED: {
			char *end = NULL;

			errno = 0;
			ov.seed = strtoull(optarg, &end, 10);
			if (!*optarg || *end || errno || optarg[0] == '-')
				return bench_usage_error("run", "--seed: expected a non-negative integer, got '%s'",
							 optarg);
			ov.has_seed = true;
			break;
		}
		case OPT_COOLDOWN:
		case OPT_IDLE:
			if (bench_parse_double(optarg, 0, 86400, &d) < 0)
				return bench_usage_error("run", "%s: expected seconds from 0 to 86400, got '%s'",
							 c == OPT_IDLE ? "--idle-seconds" : "--cooldown-seconds",
							 optarg);
			if (c == OPT_IDLE) {
				ov.idle = d;
				ov.has_idle = true;
			} else {
				ov.cooldown = d;
				ov.has_cooldown = true;
			}
			break;
		case OPT_STOP_RSD:
			if (bench_parse_double(optarg, 0, 100, &d) < 0 || d <= 0)
				return bench_usage_error("run", "--stop-rsd: expected a percentage above 0 and "
								"at most 100, got '%s'",
							 optarg);
			ov.stop_rsd = d;
			ov.has_stop_rsd = true;
			break;
		case OPT_TDP:
			if (bench_parse_double(optarg, 0, 10000, &d) < 0 || d <= 0)
				return bench_usage_error("run", "--tdp-w: expected watts above 0, got '%s'", optarg);
			ov.tdp = d;
			ov.has_tdp = true;
			break;
		case OPT_ENGINE: hf.engine = optarg; break;
		case OPT_URL: hf.url = optarg; break;
		case OPT_CHAT: hf.chat = true; break;
		case OPT_CONCURRENCY: hf.concurrency = optarg; break;
		case OPT_NO_IGNORE_EOS: hf.no_ignore_eos = true; break;
		case OPT_REMOTE: hf.remote = true; break;
		case OPT_API_KEY_ENV: hf.api_key_env = optarg; break;
		case OPT_SAME_PROMPT: hf.same_prompt = true; break;
		case OPT_PROMPT_FORMAT: hf.prompt_format = optarg; break;
		case OPT_REQUESTS:
			if (bench_parse_long(optarg, 1, 1000000, &hf.requests) < 0)
				return bench_usage_error("run", "--requests: expected an integer from 1 to "
								"1000000, got '%s'", optarg);
			hf.has_requests = true;
			break;
		case OPT_TIMEOUT:
			if (bench_parse_double(optarg, 0, 86400, &d) < 0 || d <= 0)
				return bench_usage_error("run", "--timeout-s: expected seconds above 0, got '%s'",
							 optarg);
			hf.timeout_s = d;
			hf.has_timeout = true;
			break;
		case OPT_MODEL_PARAMS:
			if (bench_parse_double(optarg, 1, 1e15, &d) < 0)
				return bench_usage_error("run", "--model-params: expected a parameter count "
								"such as 8e9, got '%s'", optarg);
			hf.params = d;
			hf.has_params = true;
			break;
		case 'q': quiet = true; break;
		case 'o': outdir = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_LIST: return list_workloads();
		case OPT_DB: db = optarg; break;
		case OPT_NO_DB: no_db = true; break;
		case OPT_LABEL:
			if (!*optarg || strlen(optarg) > 63)
				return bench_usage_error("run", "--label: expected 1 to 63 characters");
			label = optarg;
			break;
		default: return bench_bad_option("run", argv, optind - 1);
		}
	}
	if (optind < argc)
		wl_arg = argv[optind++];
	if (optind < argc)
		return bench_usage_error("run", "unexpected argument '%s'", argv[optind]);
	if (!wl_arg && !ov.model)
		return bench_usage_error("run", "nothing to run: name a workload (e.g. 'default') or pass "
						"--model");
	if (wl_arg) {
		bench_workload_path(wl_arg, path, sizeof path);
		rc = bench_workload_load(path, &w, err, sizeof err);
		if (rc < 0) {
			bench_workload_free(&w);
			return bench_usage_error("run", "%s", err);
		}
	}
	rc = apply(&ov, &w);
	if (rc) {
		bench_workload_free(&w);
		return rc;
	}
	if (bench_workload_check(&w, err, sizeof err) < 0) {
		bench_workload_free(&w);
		return bench_usage_error("run", "%s", err);
	}
	hf.model = ov.model;
	rc = http_setup(&hf, &w, &http);
	if (rc) {
		bench_workload_free(&w);
		return rc;
	}
	if (outdir)
		snprintf(dir, sizeof dir, "%s", outdir);
	else
		default_dir(dir, sizeof dir);

	if (bench_result_dir_prepare(dir, err, sizeof err) < 0) {
		bench_workload_free(&w);
		return bench_usage_error("run", "-o: %s", err);
	}

	memset(&ro, 0, sizeof ro);
	ro.w = &w;
	ro.sysfs_root = ov.sysfs_root;
	ro.build = &bench_build;
	ro.progress = !quiet && isatty(STDERR_FILENO);
	ro.log = quiet ? NULL : stderr;
	ro.http = http.engine != BENCH_ENGINE_BUILTIN ? &http : NULL;
	bench_stop_clear();
	bench_signals_install();
	rc = bench_run(&ro, &run, err, sizeof err);
	if (rc < 0) {
		bench_workload_free(&w);
		/* a model or probe that cannot be opened is an input error */
		return rc == -EINVAL || rc == -ENOENT ? bench_usage_error("run", "%s", err)
						      : bench_fail("run", "%s", err);
	}
	rc = bench_result_write(run, dir, err, sizeof err);
	if (rc < 0) {
		bench_print_table(run, stdout);
		bench_run_free(run);
		bench_workload_free(&w);
		return bench_fail("run", "%s", err);
	}
	bench_print_table(run, stdout);
	printf("result: %s/result.json\nsummary: %s/summary.csv\n", dir, dir);
	rc = 0;
	if (!no_db) {
		char result[1300];

		snprintf(result, sizeof result, "%.1200s/result.json", dir);
		rc = bench_store_result(db, result, label, quiet);
	}
	if (!run->complete)
		rc = bench_fail("run", "incomplete run (%s); what was measured is in %s/result.json",
				run->incomplete_reason, dir);
	bench_run_free(run);
	bench_workload_free(&w);
	return rc;
}
