/*
 * bench/commands.h — every subcommand's entry point. Each is `int cmd_x(int argc, char **argv)`
 * with argv[0] the command name; see bench/cli.h for the contract. Add the declaration here and
 * one row to bench_cmds[] in bench/main.c.
 */
#ifndef JB_BENCH_COMMANDS_H
#define JB_BENCH_COMMANDS_H

#include <stdbool.h>

int cmd_version(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_regress(int argc, char **argv);
int cmd_kernels(int argc, char **argv);
int cmd_cloud(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_claims(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);

int cmd_membw(int argc, char **argv);

int cmd_probes(int argc, char **argv);

int cmd_import(int argc, char **argv);
int cmd_history(int argc, char **argv);

/* bench/cmd_store.c: stores DIR/result.json in the results database after `run` wrote it
 * (db NULL: $JOULEBENCH_DB or the default). Returns 0, or 1 with the reason on stderr. */
int bench_store_result(const char *db, const char *path, const char *label, bool quiet);

#endif
