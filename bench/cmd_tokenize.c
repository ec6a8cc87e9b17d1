/*
 * bench/cmd_tokenize.c — `joulebench tokenize`: print the token ids of a text, one line, space
 * separated, like llama.cpp's llama-tokenize --ids. Works on vocabulary-only GGUF files.
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "engine/engine.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "tokenize"

static void usage(FILE *f)
{
	fprintf(f, "Usage: joulebench tokenize -m MODEL [--no-bos] [--no-parse-special] [--pieces] TEXT\n"
		   "       joulebench tokenize --vocab VOCAB.gguf [...] TEXT\n\n"
		   "Prints the token ids of TEXT on one line, space separated.\n\n"
		   "  -m, --model MODEL  GGUF file (a vocabulary-only file is enough) or synth:SHAPE:TYPE\n"
		   "      --vocab FILE   a vocabulary GGUF (e.g. from 'model vocab-from-hf'); same as -m FILE\n"
		   "      --no-bos       no beginning-of-sequence (or end) token even if the vocabulary\n"
		   "                     adds one (tokenizer.ggml.add_bos_token / add_eos_token)\n"
		   "      --no-parse-special\n"
		   "                     keep control-token text such as <s> as text (by default it\n"
		   "                     becomes the token, as in llama.cpp's llama-tokenize)\n"
		   "      --pieces       print id:'piece' pairs instead of bare ids\n"
		   "  -h, --help         this help\n");
}

int cmd_tokenize(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "model", required_argument, NULL, 'm' }, { "no-bos", no_argument, NULL, 'B' },
		{ "pieces", no_argument, NULL, 'P' },      { "no-parse-special", no_argument, NULL, 'S' },
		{ "vocab", required_argument, NULL, 'm' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct eng_open_opts oo = { .vocab_only = true };
	struct eng_model *m = NULL;
	const char *model = NULL;
	bool bos = true, pieces = false, special = true;
	int32_t *ids = NULL;
	char err[1024];
	int c, n, rc = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'B': bos = false; break;
		case 'P': pieces = true; break;
		case 'S': special = false; break;
		case 'h': usage(stdout); return 0;
		default: return bench_bad_option(CMD, argv, optind - 1);
		}
	}
	if (!model)
		return bench_usage_error(CMD, "missing -m MODEL (or --vocab FILE)");
	if (argc - optind != 1)
		return bench_usage_error(CMD, argc == optind ? "missing TEXT" : "expected one TEXT argument (quote it)");
	if (eng_model_open(model, &oo, &m, err, sizeof err))
		return bench_usage_error(CMD, "%s", err);
	n = eng_tokenize_ex(m, argv[optind], bos, special, NULL, 0, err, sizeof err);
	if (n < 0) {
		rc = bench_usage_error(CMD, "%s", err);
		goto out;
	}
	ids = malloc(((size_t)n + 1) * sizeof *ids);
	if (!ids || eng_tokenize_ex(m, argv[optind], bos, special, ids, n, err, sizeof err) != n) {
		rc = bench_fail(CMD, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (pieces) {
			char piece[256];

			eng_token_to_piece(m, -1, ids[i], piece, sizeof piece);
			printf("%s%d:'%s'", i ? " " : "", ids[i], piece);
		} else {
			printf("%s%d", i ? " " : "", ids[i]);
		}
	}
	printf("\n");
out:
	free(ids);
	eng_model_close(m);
	return rc;
}
