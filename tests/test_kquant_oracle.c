/*
 * tests/test_kquant_oracle.c — llama.cpp itself as the oracle for the legacy and K-quant types:
 * for each synthetic file type (llama.cpp's mixes and the pure K types), `joulebench model synth`
 * writes a small model, `joulebench logits` runs it teacher-forced, and
 * scripts/oracle/kquant-check.mjs runs the same file and tokens through llama.cpp (the prebuilt
 * library of node-llama-cpp) and requires a logit cosine similarity of at least 0.995 at every
 * position. Skips, saying why, when node or scripts/oracle/node_modules is missing.
 *
 * The shape (written into the test's directory) is the smallest Llama whose every matrix holds
 * whole super-blocks: dim 256, hidden 768, 4 layers, 4 heads sharing 2 KV heads, untied output.
 */
#include "helpers/testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_COSINE "0.995"

static const char shape_json[] =
	"{ \"name\": \"kq-tiny\", \"title\": \"K-quant test shape\",\n"
	"  \"source\": \"joulebench tests: every matrix holds whole 256-element super-blocks\",\n"
	"  \"dim\": 256, \"hidden_dim\": 768, \"n_layers\": 4, \"n_heads\": 4, \"n_kv_heads\": 2,\n"
	"  \"vocab_size\": 512, \"seq_len\": 128, \"rope_theta\": 10000, \"norm_eps\": 1e-5,\n"
	"  \"tied_embeddings\": false }\n";
static const char tokens[] = "1 5 9 200 301 44 17 500 3 88 120 7";

static void test_logits_match_llama_cpp(void **state)
{
	static const char *const types[] = { "q4_k_m", "q4_k_s", "q5_k_m", "q5_k_s", "q6_k", "q3_k_m", "q3_k_l",
					     "q2_k",   "q5_0",   "q4_1",   "q5_1",   "q3_k", "q4_k", "q5_k" };
	char cwd[PATH_MAX], jb[PATH_MAX], path[PATH_MAX + 64], cmd[4 * PATH_MAX];
	char *dir, *out = NULL, *err = NULL;
	int rc;

	(void)state;
	if (tu_run("command -v node", 10, &out, &err) != 0) {
		free(out);
		free(err);
		TU_SKIP("node is not installed: the llama.cpp oracle check needs node and scripts/oracle/node_modules "
			"(scripts/install-deps.sh --oracle)");
	}
	free(out);
	free(err);
	if (access("scripts/oracle/node_modules/node-llama-cpp/package.json", R_OK))
		TU_SKIP("scripts/oracle/node_modules/node-llama-cpp is missing (scripts/install-deps.sh --oracle "
			"installs it)");
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_non_null(realpath(tu_joulebench(), jb));
	dir = tu_mkdtemp();
	assert_non_null(dir);
	snprintf(path, sizeof path, "%s/configs", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/configs/models", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/configs/models/kq-tiny.json", dir);
	assert_int_equal(tu_write_file(path, shape_json, sizeof shape_json - 1), 0);
	snprintf(path, sizeof path, "%s/tokens.txt", dir);
	assert_int_equal(tu_write_file(path, tokens, sizeof tokens - 1), 0);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		snprintf(cmd, sizeof cmd,
			 "cd '%s' && '%s' model synth --shape kq-tiny --type %s -o m.gguf && "
			 "'%s' logits -m m.gguf --tokens tokens.txt -o m.f32 -t 1 && "
			 "cd '%s/scripts/oracle' && node kquant-check.mjs '%s/m.gguf' '%s/m.f32' --tokens '%s' --min %s",
			 dir, jb, types[i], jb, cwd, dir, dir, tokens, MIN_COSINE);
		rc = tu_run(cmd, 300, &out, &err);
		tu_note("%s: %s", types[i], out && *out ? out : "(no output)\n");
		if (rc != 0) {
			fprintf(stderr, "%s: exit %d\n%s%s", types[i], rc, out ? out : "", err ? err : "");
			free(out);
			free(err);
			tu_rmtree(dir);
			free(dir);
			fail();
		}
		free(out);
		free(err);
	}
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logits_match_llama_cpp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
