/*
 * bench/cli.h — the subcommand table and small helpers every `joulebench` command shares.
 *
 * A command is a function `int cmd_x(int argc, char **argv)` that receives argv with argv[0] set
 * to the command name, parses its own options (getopt_long), prints its own `--help`, and
 * returns the process exit code: 0 success, 1 a failure while working (or, for `regress`, a
 * regression), 2 a usage or input error. Commands never call exit().
 */
#ifndef JB_BENCH_CLI_H
#define JB_BENCH_CLI_H

#include <stdio.h>

struct bench_cmd {
	const char *name;
	const char *summary; /* one line for `joulebench --help` */
	int (*fn)(int argc, char **argv);
};

/* Every registered command, in the order `joulebench --help` lists them; NULL-terminated. */
extern const struct bench_cmd bench_cmds[];

/* Prints "joulebench CMD: <message>" and the line "Try 'joulebench CMD --help'." to stderr;
 * returns 2 so callers can `return bench_usage_error(...)`. */
int bench_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "joulebench CMD: <message>" to stderr and returns 1 (a failure while working). */
int bench_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Message for getopt_long's unknown-option / missing-argument cases: pass optopt and the
 * argv element that failed (argv[optind - 1]); returns 2. */
int bench_bad_option(const char *cmd, char **argv, int failed_index);

/* Strict number parsing: the whole string must be a number in [min, max]. Return 0 or -EINVAL. */
int bench_parse_long(const char *s, long min, long max, long *out);
int bench_parse_double(const char *s, double min, double max, double *out);

/* Parses "1,2,4" into out[0..n); returns the count, or -EINVAL (bad number, empty item,
 * out of [min, max]) or -E2BIG (more than max_n items). */
int bench_parse_long_list(const char *s, long min, long max, long *out, int max_n);

/* How this binary was built (generated into build/buildinfo.c at build time). */
struct bench_build_info {
	const char *version;
	const char *commit;   /* git commit, "-dirty" when tracked files had changes, or "unknown" */
	const char *compiler;
	const char *cflags;   /* optimisation and -march flags */
	int papi;             /* 1 when built with PAPI */
	int libpfm4;          /* 1 when built with libpfm4 */
};
extern const struct bench_build_info bench_build;

/* Prints the version block of `joulebench --version` (version, commit, compiler, flags, which
 * optional libraries were built in). */
void bench_print_version(FILE *f);

#endif
