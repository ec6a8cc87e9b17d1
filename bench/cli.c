/* bench/cli.c — shared helpers for subcommands: errors, strict number parsing. */
#include "bench/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int bench_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "joulebench %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'joulebench %s --help'.\n", cmd);
	return 2;
}

int bench_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "joulebench %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int bench_bad_option(const char *cmd, char **argv, int failed_index)
{
	const char *arg = argv[failed_index] ? argv[failed_index] : "";

	return bench_usage_error(cmd, "unknown option or missing value near '%s'", arg);
}

int bench_parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int bench_parse_double(const char *s, double min, double max, double *out)
{
	char *end = NULL;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int bench_parse_long_list(const char *s, long min, long max, long *out, int max_n)
{
	char buf[512];
	char *save = NULL, *tok;
	int n = 0;

	if (!s || !*s || strlen(s) >= sizeof buf)
		return -EINVAL;
	if (s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,"))
		return -EINVAL;
	snprintf(buf, sizeof buf, "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n >= max_n)
			return -E2BIG;
		if (bench_parse_long(tok, min, max, &out[n]) < 0)
			return -EINVAL;
		n++;
	}
	return n;
}
