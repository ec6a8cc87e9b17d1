/*
 * tests/test_cli.c — command-line behaviour as a table.
 *
 * Every row of tests/cli_cases.txt becomes one cmocka test: run the binary with the arguments,
 * compare the exit code, and look for the expected text in the named stream. Format:
 *
 *     EXIT | STREAM | EXPECTED TEXT | ARGUMENTS
 *
 * (the first three fields cannot contain '|'; the arguments can)
 *
 * STREAM is out, err or any; EXPECTED TEXT is a substring ('-' for no check); ARGUMENTS are shell
 * words appended to the binary, or — when they start with '!' — a whole shell command in which
 * "$JB" is the binary (for environment variables or pipes); such a command that exits 77 skips
 * its row, with the reason on its stderr. '#' starts a comment line.
 */
#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cli_case {
	int line;
	int exit_code;
	char stream[8];
	char expect[512];
	char args[1024];
	char title[160];
};

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void run_case(void **state)
{
	const struct cli_case *c = *state;
	char cmd[1200];
	char *out = NULL, *err = NULL;
	int rc;

	if (c->args[0] == '!')
		snprintf(cmd, sizeof cmd, "%s", c->args + 1);
	else
		snprintf(cmd, sizeof cmd, "exec \"$JB\" %s", c->args);
	rc = tu_run(cmd, 120, &out, &err);
	if (c->args[0] == '!' && rc == 77 && c->exit_code != 77) {
		tu_note("cli_cases.txt:%d: %s", c->line, err ? err : "");
		free(out);
		free(err);
		skip();
	}
	if (rc != c->exit_code || (strcmp(c->expect, "-") &&
				   !((strcmp(c->stream, "err") && strstr(out, c->expect)) ||
				     (strcmp(c->stream, "out") && strstr(err, c->expect))))) {
		fprintf(stderr, "cli_cases.txt:%d: %s\n  expected exit %d and '%s' on %s\n  got exit %d\n"
				"  stdout: %.2000s\n  stderr: %.2000s\n",
			c->line, c->args, c->exit_code, c->expect, c->stream, rc, out, err);
		free(out);
		free(err);
		fail();
	}
	free(out);
	free(err);
}

static int load_cases(const char *path, struct cli_case **out)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	struct cli_case *cases = NULL;
	int n = 0, lineno = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *fields[4], *p = line;
		int nf = 0;

		lineno++;
		if (*trim(line) == '\0' || *trim(line) == '#')
			continue;
		while (nf < 3 && (fields[nf] = p) && (p = strchr(p, '|'))) {
			*p++ = '\0';
			nf++;
		}
		if (nf != 3 || !p) {
			fprintf(stderr, "%s:%d: expected 'EXIT | STREAM | TEXT | ARGS'\n", path, lineno);
			fclose(f);
			free(cases);
			return -1;
		}
		fields[3] = p;
		{
			/* a row the runner would misread fails loudly instead of testing less */
			const char *code = trim(fields[0]), *stream = trim(fields[1]);
			char *end = NULL;
			long v = strtol(code, &end, 10);
			const char *why = NULL;

			if (!*code || *end || v < 0 || v > 255)
				why = "EXIT must be a number from 0 to 255";
			else if (strcmp(stream, "out") && strcmp(stream, "err") && strcmp(stream, "any"))
				why = "STREAM must be out, err or any";
			else if (strlen(trim(fields[2])) >= sizeof cases->expect ||
				 strlen(trim(fields[3])) >= sizeof cases->args)
				why = "expected text or arguments too long";
			if (why) {
				fprintf(stderr, "%s:%d: %s\n", path, lineno, why);
				fclose(f);
				free(cases);
				return -1;
			}
		}
		cases = realloc(cases, (size_t)(n + 1) * sizeof *cases);
		struct cli_case *c = &cases[n++];
		memset(c, 0, sizeof *c);
		c->line = lineno;
		c->exit_code = atoi(trim(fields[0]));
		snprintf(c->stream, sizeof c->stream, "%s", trim(fields[1]));
		snprintf(c->expect, sizeof c->expect, "%s", trim(fields[2]));
		snprintf(c->args, sizeof c->args, "%s", trim(fields[3]));
		snprintf(c->title, sizeof c->title, "line %d: %.100s", lineno, c->args);
	}
	fclose(f);
	*out = cases;
	return n;
}

int main(void)
{
	struct cli_case *cases = NULL;
	struct CMUnitTest *tests;
	int n = load_cases("tests/cli_cases.txt", &cases), rc;

	if (n <= 0) {
		fprintf(stderr, "test_cli: could not read any case from tests/cli_cases.txt\n");
		return 1;
	}
	tests = calloc((size_t)n, sizeof *tests);
	for (int i = 0; i < n; i++) {
		tests[i].name = cases[i].title;
		tests[i].test_func = run_case;
		tests[i].initial_state = &cases[i];
	}
	rc = _cmocka_run_group_tests("cli", tests, (size_t)n, NULL, NULL);
	free(tests);
	free(cases);
	return rc;
}
