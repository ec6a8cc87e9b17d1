/*
 * bench/cmd_generate.c — `joulebench generate`: load a model, prefill a prompt as one batch, then
 * sample and print tokens as they come; timings on stderr (or one JSON object with --json).
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "engine/engine.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define CMD "generate"

struct gen_opts {
	const char *model;
	const char *vocab; /* vocabulary GGUF for synth: models, or NULL */
	const char *prompt;
	long prompt_tokens; /* > 0: a synthetic prompt of this many tokens */
	long n_predict;
	double temp, top_p;
	long top_k;
	long seed;
	long threads;
	long n_ctx; /* 0 = the model's context length */
	enum eng_type kv_type;
	bool json, ignore_eos, warmup;
};

/* What one run measured. */
struct gen_result {
	double load_s, prefill_s, decode_s;
	int n_prompt, n_decoded;
	double *step_s; /* time of each decode step (sample, print, forward), n_decoded of them */
	const char *stop; /* "length" (-n reached), "eos", "context" (-n cut to fit the context) */
	size_t kv_bytes;
	int n_ctx;
	char *text; /* generated text (prompt included) for --json; malloc'd */
	size_t text_len, text_cap;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: joulebench generate -m MODEL (-p TEXT | --prompt-tokens N) [options]\n\n"
		"Runs the prompt through the model as one batch (prefill), then samples and prints\n"
		"tokens one at a time (decode). Load time and prefill/decode tokens/s go to stderr.\n\n"
		"  -m, --model MODEL      GGUF file or synth:SHAPE:TYPE (e.g. synth:bench-1b:q4_0)\n"
		"  -p, --prompt TEXT      prompt text (the model needs a vocabulary)\n"
		"      --prompt-tokens N  a synthetic prompt of N token ids (works without a vocabulary)\n"
		"      --vocab FILE       vocabulary GGUF for a synth: model (e.g. the Llama 2 one)\n"
		"  -n, --n-predict N      tokens to generate (default 128; stops early at EOS)\n"
		"      --temp T           temperature, 0 = greedy (default 0.8)\n"
		"      --top-k K          keep the K most likely tokens, 0 = off (default 40)\n"
		"      --top-p P          nucleus sampling mass, 1 = off (default 0.95)\n"
		"  -s, --seed S           sampler seed (default 1)\n"
		"  -t, --threads N        threads (default: online CPUs)\n"
		"  -c, --ctx N            KV cache length in tokens (default: the model's context)\n"
		"      --kv-type TYPE     KV cache f32 (default) or f16\n"
		"      --ignore-eos       keep generating after an end-of-sequence token\n"
		"      --warmup           one untimed pass first (faults in a mapped file, starts the\n"
		"                         threads), as llama-bench does\n"
		"      --json             print one JSON object with the measurements on stdout instead\n"
		"                         of the text (keys: load_s, prefill_tok_s, decode_tok_s,\n"
		"                         decode_step_ms, decode_bytes_per_token, peak_rss_bytes, ...)\n"
		"  -h, --help             this help\n\n"
		"Without a vocabulary the generated token ids are printed instead of text.\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 512 ? 512 : n;
}

/* Peak resident set size of this process in bytes (ru_maxrss is in KiB on Linux). */
static uint64_t peak_rss_bytes(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024;
}

static int parse_args(int argc, char **argv, struct gen_opts *o)
{
	enum { OPT_TEMP = 256, OPT_TOPK, OPT_TOPP, OPT_KV, OPT_PTOK, OPT_JSON, OPT_IGNORE_EOS,
	       OPT_WARMUP, OPT_VOCAB };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "prompt", required_argument, NULL, 'p' },
		{ "n-predict", required_argument, NULL, 'n' },
		{ "temp", required_argument, NULL, OPT_TEMP },
		{ "top-k", required_argument, NULL, OPT_TOPK },
		{ "top-p", required_argument, NULL, OPT_TOPP },
		{ "seed", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "ctx", required_argument, NULL, 'c' },
		{ "kv-type", required_argument, NULL, OPT_KV },
		{ "prompt-tokens", required_argument, NULL, OPT_PTOK },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "ignore-eos", no_argument, NULL, OPT_IGNORE_EOS },
		{ "warmup", no_argument, NULL, OPT_WARMUP },
		{ "vocab", required_argument, NULL, OPT_VOCAB },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct gen_opts){ .n_predict = 128, .temp = 0.8, .top_p = 0.95, .top_k = 40, .seed = 1,
				.threads = default_threads(), .kv_type = ENG_TYPE_F32 };
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":m:p:n:s:t:c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			o->model = optarg;
			break;
		case 'p':
			o->prompt = optarg;
			break;
		case 'n':
			if (bench_parse_long(optarg, 0, 1L << 24, &o->n_predict))
				return bench_usage_error(CMD, "-n wants a token count 0..%ld, not '%s'",
							 1L << 24, optarg);
			break;
		case OPT_TEMP:
			if (bench_parse_double(optarg, 0.0, 100.0, &o->temp))
				return bench_usage_error(CMD, "--temp wants a number 0..100, not '%s'",
							 optarg);
			break;
		case OPT_TOPK:
			if (bench_parse_long(optarg, 0, 1L << 24, &o->top_k))
				return bench_usage_error(CMD, "--top-k wants a count >= 0, not '%s'", optarg);
			break;
		case OPT_TOPP:
			if (bench_parse_double(optarg, 0.0, 1.0, &o->top_p) || o->top_p <= 0.0)
				return bench_usage_error(CMD, "--top-p wants a number in (0, 1], not '%s'",
							 optarg);
			break;
		case 's':
			if (bench_parse_long(optarg, 0, (long)(~0UL >> 1), &o->seed))
				return bench_usage_error(CMD, "--seed wants a number >= 0, not '%s'", optarg);
			break;
		case 't':
			if (bench_parse_long(optarg, 1, 512, &o->threads))
				return bench_usage_error(CMD, "-t wants a thread count 1..512, not '%s'",
							 optarg);
			break;
		case 'c':
			if (bench_parse_long(optarg, 1, 1L << 24, &o->n_ctx))
				return bench_usage_error(CMD, "--ctx wants a token count 1..%ld, not '%s'",
							 1L << 24, optarg);
			break;
		case OPT_KV:
			if (!strcmp(optarg, "f32"))
				o->kv_type = ENG_TYPE_F32;
			else if (!strcmp(optarg, "f16"))
				o->kv_type = ENG_TYPE_F16;
			else
				return bench_usage_error(CMD, "--kv-type wants f32 or f16, not '%s'", optarg);
			break;
		case OPT_PTOK:
			if (bench_parse_long(optarg, 1, 1L << 24, &o->prompt_tokens))
				return bench_usage_error(CMD, "--prompt-tokens wants a count >= 1, not '%s'",
							 optarg);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_IGNORE_EOS:
			o->ignore_eos = true;
			break;
		case OPT_WARMUP:
			o->warmup = true;
			break;
		case OPT_VOCAB:
			o->vocab = optarg;
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
	if (!o->prompt && !o->prompt_tokens)
		return bench_usage_error(CMD, "missing a prompt: -p TEXT or --prompt-tokens N");
	if (o->vocab && strncmp(o->model, "synth:", 6))
		return bench_usage_error(CMD, "--vocab applies to synth: models; %s has its own", o->model);
	if (o->prompt && o->prompt_tokens)
		return bench_usage_error(CMD, "-p and --prompt-tokens exclude each other");
	return 0;
}

/* Appends generated text for the JSON record; returns 0 or -ENOMEM. */
static int text_append(struct gen_result *r, const char *s, size_t n)
{
	if (r->text_len + n + 1 > r->text_cap) {
		size_t cap = (r->text_cap ? r->text_cap * 2 : 4096) + n;
		char *t = realloc(r->text, cap);

		if (!t)
			return -ENOMEM;
		r->text = t;
		r->text_cap = cap;
	}
	memcpy(r->text + r->text_len, s, n);
	r->text_len += n;
	r->text[r->text_len] = '\0';
	return 0;
}

/* Prints (or, with --json, records) token `tok` that follows `prev`. */
static void emit(const struct gen_opts *o, struct eng_model *m, struct gen_result *r, int32_t prev,
		 int32_t tok)
{
	char buf[256];
	int n;

	if (eng_has_vocab(m))
		n = eng_token_to_piece(m, prev, tok, buf, sizeof buf);
	else
		n = snprintf(buf, sizeof buf, "%s%d", prev >= 0 ? " " : "", tok);
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	if (o->json) {
		text_append(r, buf, (size_t)n);
		return;
	}
	fwrite(buf, 1, (size_t)n, stdout);
	fflush(stdout);
}

/* The prompt as token ids (malloc'd into *out); returns the count or an exit code < 0 as -code. */
static int prompt_tokens(const struct gen_opts *o, struct eng_model *m, int32_t **out)
{
	const struct eng_config *cfg = eng_model_config(m);
	int32_t bos = eng_token_bos(m), *tok = NULL;
	char err[512] = "";
	int n, cap;

	if (o->prompt_tokens) {
		n = (int)o->prompt_tokens;
		tok = malloc((size_t)n * sizeof *tok);
		if (!tok)
			return -bench_fail(CMD, "out of memory for %d prompt tokens", n);
		/* BOS, then ids spread over the vocabulary (deterministic, like llama-bench's) */
		for (int i = 0; i < n; i++)
			tok[i] = i == 0 && bos >= 0 ? bos
			       : cfg->vocab_size < 2 ? 0
						     : (int32_t)(1 + ((int64_t)i * 7919) % (cfg->vocab_size - 1));
		*out = tok;
		return n;
	}
	if (!eng_has_vocab(m))
		return -bench_usage_error(CMD, "%s has no vocabulary: use --prompt-tokens N instead of -p",
					  o->model);
	cap = (int)strlen(o->prompt) + 8;
	for (;;) {
		tok = malloc((size_t)cap * sizeof *tok);
		if (!tok)
			return -bench_fail(CMD, "out of memory for the prompt");
		n = eng_tokenize(m, o->prompt, bos >= 0, tok, cap, err, sizeof err);
		if (n < 0) {
			free(tok);
			return -bench_usage_error(CMD, "cannot tokenize the prompt: %s", err);
		}
		if (n <= cap)
			break;
		free(tok);
		cap = n;
	}
	if (n == 0) {
		free(tok);
		return -bench_usage_error(CMD, "the prompt has no tokens");
	}
	*out = tok;
	return n;
}

static void print_json(const struct gen_opts *o, struct eng_model *m, const struct gen_result *r)
{
	struct eng_model_desc d;
	cJSON *root = cJSON_CreateObject();
	char *s;

	eng_model_describe(m, &d);
	cJSON_AddStringToObject(root, "model", o->model);
	cJSON_AddStringToObject(root, "name", d.name);
	cJSON_AddStringToObject(root, "type", eng_type_name(d.wtype) ? eng_type_name(d.wtype) : "?");
	cJSON_AddBoolToObject(root, "synthetic", d.synthetic);
	cJSON_AddStringToObject(root, "simd", eng_simd_name());
	cJSON_AddStringToObject(root, "isa", eng_isa_name());
	cJSON_AddNumberToObject(root, "threads", (double)o->threads);
	cJSON_AddNumberToObject(root, "n_ctx", r->n_ctx);
	cJSON_AddStringToObject(root, "kv_type", eng_type_name(o->kv_type));
	cJSON_AddNumberToObject(root, "load_s", r->load_s);
	cJSON_AddNumberToObject(root, "prompt_tokens", r->n_prompt);
	cJSON_AddNumberToObject(root, "prefill_s", r->prefill_s);
	cJSON_AddNumberToObject(root, "prefill_tok_s", r->n_prompt / r->prefill_s);
	cJSON_AddNumberToObject(root, "decode_tokens", r->n_decoded);
	cJSON_AddNumberToObject(root, "decode_s", r->decode_s);
	if (r->n_decoded > 0)
		cJSON_AddNumberToObject(root, "decode_tok_s", r->n_decoded / r->decode_s);
	else
		cJSON_AddNullToObject(root, "decode_tok_s");
	{
		cJSON *steps = cJSON_AddArrayToObject(root, "decode_step_ms");

		for (int i = 0; steps && i < r->n_decoded; i++)
			cJSON_AddItemToArray(steps, cJSON_CreateNumber(r->step_s[i] * 1e3));
	}
	cJSON_AddStringToObject(root, "stop", r->stop);
	cJSON_AddNumberToObject(root, "n_params", (double)d.n_params);
	cJSON_AddNumberToObject(root, "file_bytes", (double)d.file_bytes);
	cJSON_AddNumberToObject(root, "weight_bytes", (double)d.weight_bytes);
	cJSON_AddNumberToObject(root, "decode_bytes_per_token", (double)d.decode_bytes_per_token);
	cJSON_AddNumberToObject(root, "relaid_bytes", (double)d.relaid_bytes);
	cJSON_AddNumberToObject(root, "hugepage_bytes", (double)d.hugepage_bytes);
	cJSON_AddNumberToObject(root, "kv_cache_bytes", (double)r->kv_bytes);
	cJSON_AddNumberToObject(root, "peak_rss_bytes", (double)peak_rss_bytes());
	if (r->text)
		cJSON_AddStringToObject(root, "text", r->text);
	else
		cJSON_AddStringToObject(root, "text", "");
	s = cJSON_PrintUnformatted(root);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(root);
}

int cmd_generate(int argc, char **argv)
{
	struct gen_opts o;
	struct gen_result r = { .stop = "length" };
	struct eng_model *m = NULL;
	struct eng_ctx *c = NULL;
	struct eng_sampler *smp = NULL;
	struct eng_open_opts oo = { 0 };
	const struct eng_config *cfg;
	int32_t *tok = NULL, prev = -1, eos;
	float *logits = NULL;
	char err[512] = "";
	double t0;
	int rc, n;

	rc = parse_args(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;

	oo.vocab_path = o.vocab;
	t0 = now_s();
	rc = eng_model_open(o.model, &oo, &m, err, sizeof err);
	if (rc) {
		m = NULL;
		rc = rc == -ENOMEM ? bench_fail(CMD, "%s", err) : bench_usage_error(CMD, "%s", err);
		goto out;
	}
	r.load_s = now_s() - t0;
	cfg = eng_model_config(m);

	n = prompt_tokens(&o, m, &tok);
	if (n < 0) {
		rc = -n;
		goto out;
	}
	r.n_prompt = n;
	{
		struct eng_ctx_opts co = { .n_threads = (int)o.threads, .n_ctx = (int)o.n_ctx,
					   .kv_type = o.kv_type };
		int n_ctx = o.n_ctx ? (int)o.n_ctx : cfg->seq_len;

		if (n > n_ctx) {
			rc = bench_usage_error(CMD, "the prompt has %d tokens, more than the context of %d "
					       "(see --ctx)", n, n_ctx);
			goto out;
		}
		if (o.n_predict > n_ctx - n) {
			fprintf(stderr, "joulebench generate: the context of %d tokens leaves room for %d "
					"generated tokens, not %ld\n", n_ctx, n_ctx - n, o.n_predict);
			o.n_predict = n_ctx - n;
			r.stop = "context";
		}
		c = eng_ctx_new(m, &co, err, sizeof err);
		if (!c) {
			rc = bench_fail(CMD, "%s", err);
			goto out;
		}
		r.n_ctx = eng_ctx_len(c);
		r.kv_bytes = eng_ctx_kv_bytes(c);
	}
	{
		struct eng_sampler_opts so = { .temp = (float)o.temp, .top_k = (int)o.top_k,
					       .top_p = (float)o.top_p, .seed = (uint64_t)o.seed };

		smp = eng_sampler_new(&so, cfg->vocab_size);
	}
	logits = malloc((size_t)cfg->vocab_size * sizeof *logits);
	if (!smp || !logits) {
		rc = bench_fail(CMD, "out of memory for the sampler");
		goto out;
	}

	if (o.warmup) {
		int nw = n < 8 ? n : 8;

		if (eng_prefill(c, tok, nw, logits, NULL) ||
		    (nw < r.n_ctx && eng_decode(c, tok[0], logits))) {
			rc = bench_fail(CMD, "warm-up pass failed: %s", eng_ctx_error(c));
			goto out;
		}
		eng_ctx_reset(c);
	}

	/* the prompt as the model sees it (BOS is not printed) */
	for (int i = 0; i < n; i++) {
		if (i > 0 || tok[i] != eng_token_bos(m))
			emit(&o, m, &r, prev, tok[i]);
		prev = tok[i];
	}

	t0 = now_s();
	rc = eng_prefill(c, tok, n, logits, NULL);
	r.prefill_s = now_s() - t0;
	if (rc) {
		rc = bench_fail(CMD, "prefill failed: %s", eng_ctx_error(c));
		goto out;
	}

	r.step_s = malloc((size_t)(o.n_predict ? o.n_predict : 1) * sizeof *r.step_s);
	if (!r.step_s) {
		rc = bench_fail(CMD, "out of memory for %ld step times", o.n_predict);
		goto out;
	}
	eos = eng_token_eos(m);
	t0 = now_s();
	for (long i = 0; i < o.n_predict; i++) {
		double ts = now_s();
		int32_t next = eng_sample(smp, logits);

		if (next == eos && !o.ignore_eos) {
			r.stop = "eos";
			break;
		}
		emit(&o, m, &r, prev, next);
		prev = next;
		rc = eng_decode(c, next, logits);
		if (rc) {
			rc = bench_fail(CMD, "decode failed at position %d: %s", eng_ctx_pos(c),
					eng_ctx_error(c));
			goto out;
		}
		r.step_s[r.n_decoded++] = now_s() - ts;
	}
	r.decode_s = now_s() - t0;

	if (o.json) {
		print_json(&o, m, &r);
	} else {
		putchar('\n');
		fflush(stdout);
	}
	fprintf(stderr, "load:    %.3f s (%s)\n", r.load_s, o.model);
	fprintf(stderr, "prefill: %d tokens in %.3f s = %.2f tok/s\n", r.n_prompt, r.prefill_s,
		r.n_prompt / r.prefill_s);
	if (r.n_decoded > 0)
		fprintf(stderr, "decode:  %d tokens in %.3f s = %.2f tok/s (stop: %s)\n", r.n_decoded,
			r.decode_s, r.n_decoded / r.decode_s, r.stop);
	else
		fprintf(stderr, "decode:  0 tokens (stop: %s)\n", r.stop);
	fprintf(stderr, "peak RSS: %.1f MiB, KV cache %.1f MiB, %d thread%s, %s kernels (ISA path %s)\n",
		peak_rss_bytes() / 1048576.0, r.kv_bytes / 1048576.0, (int)o.threads, o.threads == 1 ? "" : "s",
		eng_simd_name(), eng_isa_name());
	{
		struct eng_model_desc md;

		eng_model_describe(m, &md);
		if (md.relaid_bytes)
			fprintf(stderr, "weights: %.1f MiB reordered at load into the kernels' own layout (Q4_K, Q5_K)\n",
				md.relaid_bytes / 1048576.0);
		if (md.hugepage_bytes)
			fprintf(stderr, "weights: %.1f MiB copied at load into memory advised for 2 MiB pages "
					"(JOULEBENCH_MMAP=1 keeps them in the file mapping)\n",
				md.hugepage_bytes / 1048576.0);
	}
	if (eng_isa_note())
		fprintf(stderr, "warning: %s\n", eng_isa_note());
	rc = 0;
out:
	free(logits);
	free(tok);
	free(r.text);
	free(r.step_s);
	eng_sampler_free(smp);
	eng_ctx_free(c);
	if (m)
		eng_model_close(m);
	return rc;
}
