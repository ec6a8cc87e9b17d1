/*
 * bench/cmd_logits.c — `joulebench logits`: run given token ids teacher-forced and write the
 * logits of every position as raw little-endian float32 (n_pos * vocab values, position-major),
 * for cross-checking the engine against another one on the same GGUF file.
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "engine/engine.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "logits"

static void usage(FILE *f)
{
	fprintf(f, "Usage: joulebench logits -m MODEL --tokens FILE -o OUT.f32 [-t THREADS] [--kv-type f32|f16]\n\n"
		   "Runs the token ids in FILE (whitespace-separated integers) through the model as one\n"
		   "teacher-forced sequence and writes the logits of every position to OUT.f32: float32,\n"
		   "little-endian, n_positions x vocab_size values, position-major. A summary goes to\n"
		   "stderr. numpy: np.fromfile('OUT.f32', '<f4').reshape(-1, vocab_size)\n\n"
		   "  -m, --model MODEL    GGUF file or synth:SHAPE:TYPE\n"
		   "      --tokens FILE    token ids, e.g. the output of `joulebench tokenize`\n"
		   "  -o, --output FILE    where to write the logits\n"
		   "  -t, --threads N      threads (default: online CPUs)\n"
		   "      --kv-type TYPE   KV cache f32 (default) or f16\n"
		   "  -h, --help           this help\n");
}

/* Reads whitespace-separated token ids from path into a malloc'd array; returns the count, or -2
 * (usage/input error, message printed) / -1 (failure). */
static int read_tokens(const char *path, int32_t **out)
{
	FILE *f = fopen(path, "r");
	int32_t *tok = NULL;
	int n = 0, cap = 0, rc = -2;
	char word[64];

	if (!f) {
		bench_usage_error(CMD, "cannot open token file %s: %s", path, strerror(errno));
		return -2;
	}
	while (fscanf(f, "%63s", word) == 1) {
		long v;

		if (bench_parse_long(word, 0, INT32_MAX, &v)) {
			bench_usage_error(CMD, "%s: token %d is '%s', not a token id (an integer >= 0)", path,
					  n + 1, word);
			goto out;
		}
		if (n == cap) {
			int32_t *t;

			if (cap > (1 << 24)) {
				bench_usage_error(CMD, "%s: more than %d tokens", path, 1 << 24);
				goto out;
			}
			cap = cap ? cap * 2 : 256;
			t = realloc(tok, (size_t)cap * sizeof *t);
			if (!t) {
				bench_fail(CMD, "out of memory reading %s", path);
				rc = -1;
				goto out;
			}
			tok = t;
		}
		tok[n++] = (int32_t)v;
	}
	if (ferror(f)) {
		bench_usage_error(CMD, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (n == 0) {
		bench_usage_error(CMD, "%s holds no token ids", path);
		goto out;
	}
	fclose(f);
	*out = tok;
	return n;
out:
	fclose(f);
	free(tok);
	return rc;
}

/* Writes n floats little-endian; returns 0 or -errno. */
static int write_f32le(FILE *f, const float *x, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return fwrite(x, sizeof *x, n, f) == n ? 0 : -EIO;
#else
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		unsigned char b[4];

		memcpy(&u, &x[i], 4);
		b[0] = u, b[1] = u >> 8, b[2] = u >> 16, b[3] = u >> 24;
		if (fwrite(b, 1, 4, f) != 4)
			return -EIO;
	}
	return 0;
#endif
}

int cmd_logits(int argc, char **argv)
{
	enum { OPT_TOKENS = 256, OPT_KV };
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "tokens", required_argument, NULL, OPT_TOKENS },
		{ "output", required_argument, NULL, 'o' },
		{ "threads", required_argument, NULL, 't' },
		{ "kv-type", required_argument, NULL, OPT_KV },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *model = NULL, *tokens_path = NULL, *out_path = NULL;
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	int kv_type = ENG_TYPE_F32;
	struct eng_model *m = NULL;
	struct eng_ctx *c = NULL;
	int32_t *tok = NULL;
	float *logits = NULL;
	FILE *f = NULL;
	char err[512] = "";
	int ch, rc, n, vocab;

	if (threads < 1 || threads > 512)
		threads = threads < 1 ? 1 : 512;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":m:o:t:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			model = optarg;
			break;
		case OPT_TOKENS:
			tokens_path = optarg;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 't':
			if (bench_parse_long(optarg, 1, 512, &threads))
				return bench_usage_error(CMD, "-t wants a thread count 1..512, not '%s'",
							 optarg);
			break;
		case OPT_KV:
			if (!strcmp(optarg, "f32"))
				kv_type = ENG_TYPE_F32;
			else if (!strcmp(optarg, "f16"))
				kv_type = ENG_TYPE_F16;
			else
				return bench_usage_error(CMD, "--kv-type wants f32 or f16, not '%s'", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bench_bad_option(CMD, argv, optind - 1);
		}
	}
	if (optind < argc)
		return bench_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!model)
		return bench_usage_error(CMD, "missing -m MODEL (a GGUF file or synth:SHAPE:TYPE)");
	if (!tokens_path)
		return bench_usage_error(CMD, "missing --tokens FILE");
	if (!out_path)
		return bench_usage_error(CMD, "missing -o OUT.f32");

	n = read_tokens(tokens_path, &tok);
	if (n < 0)
		return -n;
	rc = eng_model_open(model, NULL, &m, err, sizeof err);
	if (rc) {
		m = NULL;
		rc = rc == -ENOMEM ? bench_fail(CMD, "%s", err) : bench_usage_error(CMD, "%s", err);
		goto out;
	}
	vocab = eng_model_config(m)->vocab_size;
	for (int i = 0; i < n; i++)
		if (tok[i] >= vocab) {
			rc = bench_usage_error(CMD, "%s: token %d is %d, outside the vocabulary 0..%d of %s",
					       tokens_path, i + 1, tok[i], vocab - 1, model);
			goto out;
		}
	{
		struct eng_ctx_opts co = { .n_threads = (int)threads, .n_ctx = n, .kv_type = kv_type };

		c = eng_ctx_new(m, &co, err, sizeof err);
		if (!c) {
			rc = bench_fail(CMD, "%s", err);
			goto out;
		}
	}
	logits = malloc((size_t)n * vocab * sizeof *logits);
	if (!logits) {
		rc = bench_fail(CMD, "out of memory for %d x %d logits", n, vocab);
		goto out;
	}
	if (eng_prefill(c, tok, n, NULL, logits)) {
		rc = bench_fail(CMD, "%s", eng_ctx_error(c));
		goto out;
	}
	f = fopen(out_path, "wb");
	if (!f) {
		rc = bench_fail(CMD, "cannot create %s: %s", out_path, strerror(errno));
		goto out;
	}
	if (write_f32le(f, logits, (size_t)n * vocab) || fflush(f)) {
		rc = bench_fail(CMD, "cannot write %s: %s", out_path, strerror(errno));
		goto out;
	}
	if (fclose(f)) {
		f = NULL;
		rc = bench_fail(CMD, "cannot write %s: %s", out_path, strerror(errno));
		goto out;
	}
	f = NULL;
	fprintf(stderr, "wrote %d positions x %d logits (float32 LE) to %s\n", n, vocab, out_path);
	rc = 0;
out:
	if (f)
		fclose(f);
	free(logits);
	free(tok);
	eng_ctx_free(c);
	if (m)
		eng_model_close(m);
	return rc;
}
