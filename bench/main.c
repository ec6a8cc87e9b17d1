/*
 * bench/main.c — the `joulebench` entry point: global options and subcommand dispatch.
 *
 * Subcommands register themselves in bench_cmds[] below; each lives in its own file and is
 * declared in bench/commands.h.
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "engine/engine.h"

#include <string.h>

const struct bench_cmd bench_cmds[] = {
	{ "run", "run a benchmark workload: tokens/s, latency and joules per token into result.json", cmd_run },
	{ "generate", "run a model on a prompt: text as it comes, then load time and tokens/s", cmd_generate },
	{ "serve", "OpenAI-compatible HTTP server on the built-in engine, concurrent requests batched", cmd_serve },
	{ "logits", "teacher-forced logits of a token file as float32, for cross-engine checks", cmd_logits },
	{ "model", "synthesise, inspect or import model files; list model shapes", cmd_model },
	{ "tokenize", "print the token ids of a text (works on vocabulary-only GGUF files)", cmd_tokenize },
	{ "membw", "memory read bandwidth per thread count (the ceiling of decode speed)", cmd_membw },
	{ "kernels", "time each kernel alone at a model shape's sizes; --count instructions", cmd_kernels },
	{ "probes", "list energy probes and counters: available or why not, units, a live reading", cmd_probes },
	{ "compare", "one table across results: speed, latency, energy, ratios vs the first", cmd_compare },
	{ "report", "Markdown + HTML report with plots, cloud comparison and claims", cmd_report },
	{ "cloud", "local vs cloud-equivalent energy, carbon and water for a result", cmd_cloud },
	{ "claims", "check popular local-vs-cloud energy claims against your results", cmd_claims },
	{ "regress", "CI gate: compare two results, exit 1 on a significant regression", cmd_regress },
	{ "import", "store result files in the results database (SQLite or PostgreSQL)", cmd_import },
	{ "history", "a metric of every stored run over time: table, CSV, JSON or a plot", cmd_history },
	{ "version", "print version, commit and build configuration", cmd_version },
	{ NULL, NULL, NULL },
};

static void print_help(FILE *f)
{
	fprintf(f, "Usage: joulebench [--help] [--version] COMMAND [OPTIONS]\n\n"
		   "Energy-aware benchmarking of local LLM inference: tokens/s, latency and joules per\n"
		   "token, measured (or clearly estimated) on this machine.\n\n"
		   "Commands:\n");
	for (const struct bench_cmd *c = bench_cmds; c->name; c++)
		fprintf(f, "  %-14s %s\n", c->name, c->summary);
	fprintf(f, "\nRun 'joulebench COMMAND --help' for a command's options.\n"
		   "Exit status: 0 success, 1 failure (or a regression found), 2 usage or input error.\n");
}

void bench_print_version(FILE *f)
{
	fprintf(f, "joulebench %s\n", bench_build.version);
	fprintf(f, "commit:    %s\n", bench_build.commit);
	fprintf(f, "compiler:  %s\n", bench_build.compiler);
	fprintf(f, "flags:     %s\n", bench_build.cflags);
	fprintf(f, "libraries: cJSON yes, PAPI %s, libpfm4 %s\n", bench_build.papi ? "yes" : "no",
		bench_build.libpfm4 ? "yes" : "no");
	fprintf(f, "kernels:   %s (ISA path %s; this CPU runs: %s; JOULEBENCH_ISA=NAME picks one)\n", eng_simd_name(),
		eng_isa_name(), eng_isa_available());
	if (eng_isa_note())
		fprintf(f, "warning:   %s\n", eng_isa_note());
}

int cmd_version(int argc, char **argv)
{
	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			printf("Usage: joulebench version\n\nPrints the version, git commit, compiler, "
			       "compile flags and optional libraries.\n");
			return 0;
		}
		return bench_usage_error("version", "unexpected argument '%s'", argv[1]);
	}
	bench_print_version(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *name;

	if (argc < 2) {
		print_help(stderr);
		return 2;
	}
	name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		print_help(stdout);
		return 0;
	}
	if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
		bench_print_version(stdout);
		return 0;
	}
	if (name[0] == '-') {
		fprintf(stderr, "joulebench: unknown option '%s'\nTry 'joulebench --help'.\n", name);
		return 2;
	}
	for (const struct bench_cmd *c = bench_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "joulebench: unknown command '%s'\nTry 'joulebench --help' for the list of commands.\n",
		name);
	return 2;
}
