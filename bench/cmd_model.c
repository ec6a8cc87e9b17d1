/*
 * bench/cmd_model.c — `joulebench model`: synthesise a model of a named shape into a GGUF file,
 * inspect a GGUF file, import a llama2.c checkpoint, list the shapes, convert a Hugging Face
 * tokenizer.json into a vocabulary-only GGUF.
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "engine/engine.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "model"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: joulebench model synth --shape NAME --type TYPE -o FILE.gguf [--seed S] [--vocab VOCAB.gguf]\n"
		"       joulebench model info FILE.gguf\n"
		"       joulebench model import-llama2c CHECKPOINT.bin TOKENIZER.bin -o FILE.gguf\n"
		"       joulebench model shapes\n"
		"       joulebench model vocab-from-hf TOKENIZER.json [--pre NAME] -o VOCAB.gguf\n\n"
		"  synth           writes a deterministic synthetic model of a shape from configs/models\n"
		"                  as a GGUF file llama.cpp can load. TYPE is a tensor type (f32 f16 q8_0\n"
		"                  q4_0 q3_k q4_k q5_k: every weight matrix that type) or a llama.cpp file\n"
		"                  type with its per-tensor mix (q4_k_m q4_k_s q5_k_m q5_k_s q6_k q3_k_m\n"
		"                  q3_k_s q3_k_l q2_k q2_k_s q5_0 q5_1 q4_1: output Q6_K, attn_v and\n"
		"                  ffn_down promoted as llama-quantize does). With\n"
		"                  --vocab it carries that file's vocabulary (e.g. the Llama 2\n"
		"                  SentencePiece ggml-vocab-llama-spm.gguf), otherwise a generated\n"
		"                  placeholder of the shape's size. Same shape, type and seed: same file.\n"
		"  info            header, metadata, tensors (type, shape, bytes), size, parameter count\n"
		"  import-llama2c  converts a llama2.c checkpoint (version 0 .bin) and its tokenizer.bin\n"
		"                  (or tok512.bin) into an F32 GGUF file\n"
		"  shapes          lists the named shapes with their dimensions and sources\n"
		"  vocab-from-hf   converts a Hugging Face tokenizer.json (byte-level BPE: Llama 3, Qwen2/3,\n"
		"                  GPT-2, SmolLM) into a vocabulary-only GGUF for tokenize and synth --vocab.\n"
		"                  --pre names the pre-tokenizer (llama-bpe, qwen2, deepseek-r1-qwen, gpt-2,\n"
		"                  smollm, default) when it cannot be inferred from the file; BOS/EOS come\n"
		"                  from tokenizer_config.json beside it when present\n\n"
		"Models are also used directly as MODEL arguments: a GGUF path, or synth:SHAPE:TYPE to\n"
		"build the synthetic model in memory.\n");
}

static int do_synth(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "shape", required_argument, NULL, 'S' }, { "type", required_argument, NULL, 'T' },
		{ "output", required_argument, NULL, 'o' }, { "seed", required_argument, NULL, 's' },
		{ "vocab", required_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *shape = NULL, *type_s = NULL, *out = NULL, *vocab = NULL;
	int type;
	long seed = 0;
	char err[1024];
	struct timespec t0, t1;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'S': shape = optarg; break;
		case 'T': type_s = optarg; break;
		case 'o': out = optarg; break;
		case 'v': vocab = optarg; break;
		case 's':
			if (bench_parse_long(optarg, 0, (long)((1ull << 62) - 1), &seed))
				return bench_usage_error(CMD, "--seed '%s' is not a non-negative integer", optarg);
			break;
		case 'h': usage(stdout); return 0;
		default: return bench_bad_option(CMD, argv, optind - 1);
		}
	}
	if (optind < argc)
		return bench_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!shape)
		return bench_usage_error(CMD, "synth needs --shape NAME ('joulebench model shapes' lists them)");
	if (!type_s)
		return bench_usage_error(CMD, "synth needs --type TYPE (%s)", ENG_SYNTH_TYPES);
	if (eng_synth_type_parse(type_s, &type))
		return bench_usage_error(CMD, "unsupported type '%s'; supported: %s", type_s, ENG_SYNTH_TYPES);
	if (!out)
		return bench_usage_error(CMD, "synth needs -o FILE.gguf");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = eng_synth_write(shape, type, (uint64_t)seed, vocab, out, err, sizeof err);
	if (rc == -EIO || rc == -ENOSPC || rc == -ENOMEM || rc == -EDQUOT)
		return bench_fail(CMD, "%s", err); /* failed while writing, not bad input */
	if (rc)
		return bench_usage_error(CMD, "%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "wrote %s (shape %s, %s) in %.1f s\n", out, shape, eng_synth_type_name(type),
		(double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
	return 0;
}

static int do_info(int argc, char **argv)
{
	char err[1024];

	if (argc < 2)
		return bench_usage_error(CMD, "info needs a GGUF file");
	if (argc > 2)
		return bench_usage_error(CMD, "unexpected argument '%s'", argv[2]);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (eng_gguf_info(argv[1], stdout, err, sizeof err))
		return bench_usage_error(CMD, "%s", err);
	return 0;
}

static int do_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	char err[1024];
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return bench_bad_option(CMD, argv, optind - 1);
		}
	}
	if (argc - optind != 2)
		return bench_usage_error(CMD, "import-llama2c needs CHECKPOINT.bin TOKENIZER.bin -o FILE.gguf");
	if (!out)
		return bench_usage_error(CMD, "import-llama2c needs -o FILE.gguf");
	if (eng_llama2c_import(argv[optind], argv[optind + 1], out, err, sizeof err))
		return bench_usage_error(CMD, "%s", err);
	fprintf(stderr, "wrote %s\n", out);
	return 0;
}

static int do_vocab_from_hf(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' }, { "pre", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *pre = NULL;
	char err[1024];
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': pre = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return bench_bad_option(CMD, argv, optind - 1);
		}
	}
	if (argc - optind != 1)
		return bench_usage_error(CMD, "vocab-from-hf needs one TOKENIZER.json and -o VOCAB.gguf");
	if (!out)
		return bench_usage_error(CMD, "vocab-from-hf needs -o VOCAB.gguf");
	rc = eng_vocab_from_hf(argv[optind], pre, out, err, sizeof err);
	if (rc == -EIO || rc == -ENOMEM)
		return bench_fail(CMD, "%s", err);
	if (rc)
		return bench_usage_error(CMD, "%s", err);
	fprintf(stderr, "wrote %s\n", out);
	return 0;
}

static int do_shapes(int argc, char **argv)
{
	struct eng_shape *s = NULL;
	char err[1024];
	int n;

	if (argc > 1)
		return bench_usage_error(CMD, "unexpected argument '%s'", argv[1]);
	n = eng_shape_list(&s, err, sizeof err);
	if (n < 0)
		return bench_fail(CMD, "%s", err);
	printf("%-16s %-5s %6s %6s %6s %6s %4s %4s %7s %8s %5s  %s\n", "shape", "arch", "dim", "hidden", "layers",
	       "heads", "kv", "hd", "vocab", "context", "tied", "title");
	for (int i = 0; i < n; i++) {
		const struct eng_config *c = &s[i].cfg;

		printf("%-16s %-5s %6d %6d %6d %6d %4d %4d %7d %8d %5s  %s\n", s[i].name, eng_arch_name(c->arch),
		       c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->vocab_size,
		       c->seq_len, s[i].tied ? "yes" : "no", s[i].title);
	}
	printf("\nsources:\n");
	for (int i = 0; i < n; i++)
		printf("  %s: %s\n", s[i].name, s[i].source);
	free(s);
	return 0;
}

int cmd_model(int argc, char **argv)
{
	if (argc < 2)
		return bench_usage_error(CMD, "missing subcommand (synth, info, import-llama2c, shapes, vocab-from-hf)");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "synth"))
		return do_synth(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info"))
		return do_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "import-llama2c"))
		return do_import(argc - 1, argv + 1);
	if (!strcmp(argv[1], "shapes"))
		return do_shapes(argc - 1, argv + 1);
	if (!strcmp(argv[1], "vocab-from-hf"))
		return do_vocab_from_hf(argc - 1, argv + 1);
	return bench_usage_error(CMD, "unknown subcommand '%s' (synth, info, import-llama2c, shapes, vocab-from-hf)",
				 argv[1]);
}
