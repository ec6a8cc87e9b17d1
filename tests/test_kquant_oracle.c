/*
 * tests/test_kquant_oracle.c — llama.cpp itself as the oracle for the legacy and K-quant types.
 * Two directions, both run teacher-forced through `joulebench logits` and through llama.cpp (the
 * prebuilt library of node-llama-cpp, scripts/oracle/kquant-check.mjs), which must agree with a
 * logit cosine similarity of at least 0.995 at every position:
 *
 *   - files joulebench writes: `joulebench model synth` in each of llama.cpp's file types (the
 *     mixes and the pure K types);
 *   - files llama.cpp writes: an F32 (or F16) synthetic model quantized by llama.cpp's own
 *     quantizer (build/tests/tools/llama-quantize, scripts/oracle/llama-quantize.c, which calls
 *     llama_model_quantize in the same library), the mixes as llama-quantize makes them and pure
 *     files of each base type; `joulebench model info` must show the tensor types the file type
 *     stands for, so a quantizer that silently did nothing fails, and where `model synth` writes
 *     the same file type from the same weights, every tensor must have the type llama.cpp gave it
 *     (the note says how many are byte-identical too).
 *
 * Skips, saying why, when node, scripts/oracle/node_modules or the library for this machine is
 * missing. $JOULEBENCH_LLAMA_QUANTIZE names another quantizer program (make test-arm's qemu wrapper).
 *
 * The shapes (written into the test's directory): kq-tiny, the smallest Llama whose every matrix
 * holds whole super-blocks (dim 256, hidden 768, 4 layers, 4 heads sharing 2 KV heads, untied
 * output), and kq-qwen2, a Qwen2 one (Q/K/V biases, NEOX RoPE, 4 heads on 1 KV head, tied output,
 * 2 layers).
 */
#include "helpers/testutil.h"

#include "engine/gguf.h"

#include <limits.h>
#include <stdbool.h>
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
static const char qwen2_shape_json[] =
	"{ \"name\": \"kq-qwen2\", \"title\": \"K-quant test shape, Qwen2 style\", \"arch\": \"qwen2\",\n"
	"  \"source\": \"joulebench tests: Q/K/V biases, tied output, whole 256-element super-blocks\",\n"
	"  \"dim\": 256, \"hidden_dim\": 512, \"n_layers\": 2, \"n_heads\": 4, \"n_kv_heads\": 1,\n"
	"  \"vocab_size\": 512, \"seq_len\": 128, \"rope_theta\": 1000000, \"norm_eps\": 1e-6,\n"
	"  \"tied_embeddings\": true }\n";
static const char tokens[] = "1 5 9 200 301 44 17 500 3 88 120 7";

/* The tests' shared directory (oracle_dir()): both write their files there, so the second finds
 * the first's `model synth` files instead of writing them again; removed after the tests. */
static char *shared_dir;

/*
 * Skips the current test, saying why, when node or node-llama-cpp is missing; otherwise returns
 * the tests' directory, made on the first call with the shapes under configs/models and
 * tokens.txt.
 */
static const char *oracle_dir(void)
{
	char path[PATH_MAX + 64];
	char *dir, *out = NULL, *err = NULL;
	int rc = tu_run("command -v node", 10, &out, &err);

	free(out);
	free(err);
	if (rc != 0)
		TU_SKIP("node is not installed: the llama.cpp oracle check needs node and scripts/oracle/node_modules "
			"(scripts/install-deps.sh --oracle)");
	if (access("scripts/oracle/node_modules/node-llama-cpp/package.json", R_OK))
		TU_SKIP("scripts/oracle/node_modules/node-llama-cpp is missing (scripts/install-deps.sh --oracle "
			"installs it)");
	if (shared_dir)
		return shared_dir;
	dir = tu_mkdtemp();
	assert_non_null(dir);
	shared_dir = dir;
	snprintf(path, sizeof path, "%s/configs", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/configs/models", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/configs/models/kq-tiny.json", dir);
	assert_int_equal(tu_write_file(path, shape_json, sizeof shape_json - 1), 0);
	snprintf(path, sizeof path, "%s/configs/models/kq-qwen2.json", dir);
	assert_int_equal(tu_write_file(path, qwen2_shape_json, sizeof qwen2_shape_json - 1), 0);
	snprintf(path, sizeof path, "%s/tokens.txt", dir);
	assert_int_equal(tu_write_file(path, tokens, sizeof tokens - 1), 0);
	return dir;
}

static int remove_shared_dir(void **state)
{
	(void)state;
	if (shared_dir)
		tu_rmtree(shared_dir);
	free(shared_dir);
	shared_dir = NULL;
	return 0;
}

/* Runs `cmd`; on a non-zero exit prints what it said under `label` and fails the test. Returns its
 * stdout (malloc'd) otherwise. */
static char *run_or_fail(const char *label, const char *cmd)
{
	char *out = NULL, *err = NULL;
	int rc = tu_run(cmd, 300, &out, &err);

	if (rc != 0) {
		fprintf(stderr, "%s: exit %d\n%s%s", label, rc, out ? out : "", err ? err : "");
		free(out);
		free(err);
		fail();
	}
	free(err);
	return out;
}

/*
 * Runs kquant-check.mjs once (one start of llama.cpp) on DIR/NAME.gguf with joulebench's logits in
 * DIR/NAME.f32 for each of the n names; fails the test (run_or_fail) when llama.cpp cannot run a
 * file or a cosine is below MIN_COSINE. Returns its output (malloc'd), one line per file.
 */
static char *check_all(const char *cwd, const char *dir, const char *const *names, size_t n)
{
	size_t len = strlen(cwd) + sizeof tokens + 256, used;
	char *cmd, *out;

	for (size_t i = 0; i < n; i++)
		len += 2 * (strlen(dir) + strlen(names[i]) + 16);
	cmd = malloc(len);
	assert_non_null(cmd);
	used = (size_t)snprintf(cmd, len, "cd '%s/scripts/oracle' && node kquant-check.mjs", cwd);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(cmd + used, len - used, " '%s/%s.gguf' '%s/%s.f32'", dir, names[i], dir,
					 names[i]);
	snprintf(cmd + used, len - used, " --tokens '%s' --min %s", tokens, MIN_COSINE);
	out = run_or_fail("kquant-check.mjs", cmd);
	free(cmd);
	return out;
}

/* The smallest cosine kquant-check.mjs reports for NAME.gguf ("DIR/NAME.gguf: positions 12 cosine
 * min 0.999820 ..."), or -1 when its output has no line for it. */
static double file_cosine(const char *check, const char *name)
{
	size_t n = strlen(name);
	const char *p = check;

	while ((p = strstr(p, name)) != NULL && !(p > check && p[-1] == '/' && !strncmp(p + n, ".gguf: ", 7)))
		p++;
	p = p ? strstr(p, "cosine min ") : NULL;
	return p ? strtod(p + strlen("cosine min "), NULL) : -1.0;
}

static void test_logits_match_llama_cpp(void **state)
{
	static const char *const types[] = { "q4_k_m", "q4_k_s", "q5_k_m", "q5_k_s", "q6_k", "q3_k_m", "q3_k_l",
					     "q2_k",   "q5_0",   "q4_1",   "q5_1",   "q3_k", "q4_k", "q5_k" };
	enum { N = sizeof types / sizeof types[0] };
	char cwd[PATH_MAX], jb[PATH_MAX], cmd[4 * PATH_MAX];
	const char *dir;
	char *out;

	(void)state;
	dir = oracle_dir();
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_non_null(realpath(tu_joulebench(), jb));
	for (size_t i = 0; i < N; i++) {
		snprintf(cmd, sizeof cmd,
			 "cd '%s' && '%s' model synth --shape kq-tiny --type %s -o %s.gguf && "
			 "'%s' logits -m %s.gguf --tokens tokens.txt -o %s.f32 -t 1",
			 dir, jb, types[i], types[i], jb, types[i], types[i]);
		free(run_or_fail(types[i], cmd));
	}
	out = check_all(cwd, dir, types, N);
	tu_note("%s", out);
	free(out);
}

/* ---- files quantized by llama.cpp's own quantizer ---- */

/* One file llama.cpp's quantizer writes: from which input, in which file type, the tensor types
 * `joulebench model info` must then list on its "types:" line (in its order, by ggml type id), and
 * the `model synth --type` that writes the same file type from the same F32 weights (NULL: none),
 * whose every tensor must then have the type llama.cpp gave it. */
struct lq_case {
	const char *input; /* tiny.gguf: kq-tiny in F32; qwen2.gguf: kq-qwen2 in F16 */
	const char *ftype;
	bool pure;
	const char *types;
	const char *synth;
};

static const struct lq_case lq_cases[] = {
	/* llama.cpp's mixes, as llama-quantize makes them by default */
	{ "tiny.gguf", "q4_k_m", false, "F32 Q4_K Q6_K", "q4_k_m" },
	{ "tiny.gguf", "q5_k_m", false, "F32 Q5_K Q6_K", "q5_k_m" },
	{ "tiny.gguf", "q6_k", false, "F32 Q6_K", "q6_k" },
	{ "tiny.gguf", "q4_k_s", false, "F32 Q4_K Q5_K Q6_K", "q4_k_s" },
	{ "tiny.gguf", "q5_k_s", false, "F32 Q5_K Q6_K", "q5_k_s" },
	{ "tiny.gguf", "q3_k_m", false, "F32 Q3_K Q4_K Q5_K Q6_K", "q3_k_m" },
	{ "tiny.gguf", "q2_k", false, "F32 Q2_K Q3_K Q6_K", "q2_k" },
	{ "tiny.gguf", "q4_0", false, "F32 Q4_0 Q6_K", NULL },
	{ "tiny.gguf", "q4_1", false, "F32 Q4_1 Q6_K", "q4_1" },
	{ "tiny.gguf", "q5_0", false, "F32 Q5_0 Q6_K", "q5_0" },
	{ "tiny.gguf", "q5_1", false, "F32 Q5_1 Q6_K", "q5_1" },
	{ "tiny.gguf", "q8_0", false, "F32 Q8_0", "q8_0" },
	/* --pure: every matrix, output.weight included, in the base type */
	{ "tiny.gguf", "q2_k", true, "F32 Q2_K", NULL },
	{ "tiny.gguf", "q3_k_s", true, "F32 Q3_K", "q3_k" },
	{ "tiny.gguf", "q4_k_s", true, "F32 Q4_K", "q4_k" },
	{ "tiny.gguf", "q5_k_s", true, "F32 Q5_K", "q5_k" },
	{ "tiny.gguf", "q4_0", true, "F32 Q4_0", "q4_0" },
	{ "tiny.gguf", "q5_1", true, "F32 Q5_1", NULL },
	/* Qwen2 from F16, tied output: token_embd takes the output's type */
	{ "qwen2.gguf", "q4_k_m", false, "F32 Q4_K Q6_K", NULL },
	{ "qwen2.gguf", "q2_k", false, "F32 Q2_K Q3_K Q4_K Q6_K", NULL },
	{ "qwen2.gguf", "q3_k_s", true, "F32 Q3_K", NULL },
	{ "qwen2.gguf", "q4_1", false, "F32 Q4_1 Q6_K", NULL },
};

#define N_LQ (sizeof lq_cases / sizeof lq_cases[0])

/* The tensor types on the "types:" line of `joulebench model info` output (" F32 9 tensors 0.01
 * MiB; Q4_K 25 tensors 1.51 MiB; ..."), space-separated into buf. Returns buf, or NULL when the
 * output has no such line. */
static const char *info_types(const char *info, char *buf, size_t len)
{
	const char *p = strstr(info, "\ntypes:");
	char name[16];
	size_t used = 0;
	int n;

	if (!p)
		return NULL;
	p += strlen("\ntypes:");
	buf[0] = '\0';
	for (;;) {
		n = 0;
		if (sscanf(p, " %15s %*u tensors %*f MiB;%n", name, &n) != 1 || n == 0)
			break;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", name);
		if (used >= len)
			return NULL;
		p += n;
	}
	return buf;
}

/*
 * Compares llama.cpp's file NAME.gguf with joulebench's SYNTH.gguf of the same file type, both in
 * `dir`: every tensor of one must be in the other with the same type and shape (else a message in
 * `why` and -1). Counts in *same the tensors whose bytes are identical too, of *n. Returns 0.
 */
static int compare_with_synth(const char *dir, const char *name, const char *synth, int *same, int *n, char *why,
			      size_t whylen)
{
	char path[PATH_MAX + 80], err[256];
	struct gguf_file *q = NULL, *s = NULL;
	int rc = -1;

	*same = *n = 0;
	snprintf(path, sizeof path, "%s/%s.gguf", dir, name);
	if (gguf_open(path, &q, err, sizeof err)) {
		snprintf(why, whylen, "%s", err);
		goto out;
	}
	snprintf(path, sizeof path, "%s/%s.gguf", dir, synth);
	if (gguf_open(path, &s, err, sizeof err)) {
		snprintf(why, whylen, "%s", err);
		goto out;
	}
	if (q->n_tensors != s->n_tensors) {
		snprintf(why, whylen, "llama.cpp wrote %llu tensors, joulebench %llu", (unsigned long long)q->n_tensors,
			 (unsigned long long)s->n_tensors);
		goto out;
	}
	for (uint64_t i = 0; i < q->n_tensors; i++) {
		const struct gguf_tensor *a = &q->tensors[i], *b = gguf_find_tensor(s, a->name);

		if (!b || a->type != b->type || a->nbytes != b->nbytes || memcmp(a->ne, b->ne, sizeof a->ne)) {
			snprintf(why, whylen, "%s: llama.cpp %s, joulebench %s", a->name, gguf_type_name(a->type),
				 b ? gguf_type_name(b->type) : "(no such tensor)");
			goto out;
		}
		(*n)++;
		*same += !memcmp(a->data, b->data, a->nbytes);
	}
	rc = 0;
out:
	gguf_close(q);
	gguf_close(s);
	return rc;
}

static void test_llama_cpp_quantized_files(void **state)
{
	char cwd[PATH_MAX], jb[PATH_MAX], exe[PATH_MAX], tool[PATH_MAX + 32], cmd[4 * PATH_MAX];
	char label[64], types[256], summary[2048], names[N_LQ][32];
	const char *name_p[N_LQ];
	const char *got;
	const char *dir;
	char *out = NULL, *err = NULL, *slash;
	size_t used = 0;
	int rc;

	(void)state;
	dir = oracle_dir();
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_non_null(realpath(tu_joulebench(), jb));
	/* $JOULEBENCH_LLAMA_QUANTIZE (make test-arm's qemu wrapper), else what make test-build builds
	 * beside this program: $(BUILD)/tests/tools/llama-quantize */
	if (getenv("JOULEBENCH_LLAMA_QUANTIZE")) {
		assert_non_null(realpath(getenv("JOULEBENCH_LLAMA_QUANTIZE"), tool));
	} else {
		assert_non_null(realpath("/proc/self/exe", exe));
		slash = strrchr(exe, '/');
		assert_non_null(slash);
		*slash = '\0';
		snprintf(tool, sizeof tool, "%s/tools/llama-quantize", exe);
	}
	snprintf(cmd, sizeof cmd, "'%s' --version", tool);
	rc = tu_run(cmd, 60, &out, &err);
	if (rc == 3) {
		tu_note("%s", err ? err : "");
		free(out);
		free(err);
		TU_SKIP("node-llama-cpp has no llama.cpp library for this machine: llama.cpp's quantizer cannot run");
	}
	if (rc != 0)
		fprintf(stderr, "%s --version: exit %d (make test-build builds it)\n%s%s", tool, rc, out ? out : "",
			err ? err : "");
	else
		tu_note("quantizer: %s", out);
	free(out);
	free(err);
	if (rc != 0)
		fail();

	snprintf(cmd, sizeof cmd,
		 "cd '%s' && '%s' model synth --shape kq-tiny --type f32 -o tiny.gguf && "
		 "'%s' model synth --shape kq-qwen2 --type f16 -o qwen2.gguf",
		 dir, jb, jb);
	free(run_or_fail("synth", cmd));

	for (size_t i = 0; i < N_LQ; i++) {
		const struct lq_case *c = &lq_cases[i];
		bool qwen2 = strcmp(c->input, "tiny.gguf") != 0;

		snprintf(names[i], sizeof names[i], "lq-%s%s%s", qwen2 ? "qwen2-" : "", c->ftype, c->pure ? "-pure" : "");
		name_p[i] = names[i];
		snprintf(label, sizeof label, "%s%s%s", c->ftype, c->pure ? " --pure" : "", qwen2 ? " (kq-qwen2)" : "");
		/* llama.cpp's quantizer writes NAME.gguf (its log goes to stderr only when it fails) */
		snprintf(cmd, sizeof cmd,
			 "cd '%s' && { '%s' --threads 1 %s %s %s.gguf %s >quantize.log 2>&1 || "
			 "{ cat quantize.log >&2; exit 1; }; } && '%s' model info %s.gguf",
			 dir, tool, c->pure ? "--pure" : "", c->input, names[i], c->ftype, jb, names[i]);
		out = run_or_fail(label, cmd);
		got = info_types(out, types, sizeof types);
		if (!got || strcmp(got, c->types)) {
			fprintf(stderr, "%s: llama.cpp's file holds %s, expected %s\n%s", label, got ? got : "(no types line)",
				c->types, out);
			free(out);
			fail();
		}
		free(out);
		if (c->synth) {
			char why[512];
			int same, n;

			/* the first test has written most of them already */
			snprintf(cmd, sizeof cmd,
				 "cd '%s' && { [ -e %s.gguf ] || '%s' model synth --shape kq-tiny --type %s -o %s.gguf; }",
				 dir, c->synth, jb, c->synth, c->synth);
			free(run_or_fail(label, cmd));
			if (compare_with_synth(dir, names[i], c->synth, &same, &n, why, sizeof why)) {
				fprintf(stderr, "%s: llama.cpp's file and `model synth --type %s` differ in tensor types: %s\n",
					label, c->synth, why);
				fail();
			}
			tu_note("llama.cpp %s [%s]: the tensor types of `model synth --type %s`, %d of %d tensors "
				"byte-identical",
				label, c->types, c->synth, same, n);
		} else {
			tu_note("llama.cpp %s [%s]", label, c->types);
		}
		snprintf(cmd, sizeof cmd, "cd '%s' && '%s' logits -m %s.gguf --tokens tokens.txt -o %s.f32 -t 1", dir, jb,
			 names[i], names[i]);
		free(run_or_fail(label, cmd));
	}

	out = check_all(cwd, dir, name_p, N_LQ);
	tu_note("%s", out);
	summary[0] = '\0';
	for (size_t i = 0; i < N_LQ; i++) {
		double cos = file_cosine(out, names[i]);

		if (!(cos >= 0.995)) { /* kquant-check.mjs passed it: its output is not what this expects */
			fprintf(stderr, "%s: no cosine of at least %s in kquant-check.mjs's output\n%s", names[i],
				MIN_COSINE, out);
			free(out);
			fail();
		}
		rc = snprintf(summary + used, sizeof summary - used, "%s%s %.5f", used ? ", " : "", names[i] + 3, cos);
		if (rc > 0 && (size_t)rc < sizeof summary - used)
			used += (size_t)rc;
	}
	free(out);
	tu_note("lowest cosine per file llama.cpp quantized: %s", summary);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logits_match_llama_cpp),
		cmocka_unit_test(test_llama_cpp_quantized_files),
	};

	return cmocka_run_group_tests(tests, NULL, remove_shared_dir);
}
