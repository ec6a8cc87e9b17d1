/*
 * engine/vocab_hf.c — `joulebench model vocab-from-hf`: a Hugging Face tokenizer.json (byte-level
 * BPE) into a vocabulary-only GGUF file with the tokenizer keys llama.cpp's converter writes.
 *
 * Tokens come from model.vocab and added_tokens (ids without a token become "[PADn]", user
 * defined, as llama.cpp's converter makes them); an added token is a control token when it is
 * marked special or looks like one ("<|...|>"), else user defined. Merges are read in both forms
 * tokenizers has written ("a b" strings and ["a", "b"] pairs). The pre-tokenizer name comes from
 * the Split regex of pre_tokenizer when it is one this engine knows, else from the caller. BOS,
 * EOS and whether to add them come from tokenizer_config.json next to tokenizer.json when it
 * exists, else from a TemplateProcessing post-processor. The file written is loaded back before
 * the function returns, so a merge naming an unknown token is reported then.
 */
#include "engine/engine.h"
#include "engine/gguf.h"
#include "engine/pretok.h"
#include "engine/tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The Split regexes of the tokenizer.json files this engine matches by hand (see pretok.c). */
static const struct {
	const char *regex;
	const char *pre;
} known_regex[] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
     "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "llama-bpe"},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
     "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "qwen2"},
};

static char *read_all(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(fp, 0, SEEK_END) || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)) {
		snprintf(err, errlen, "%s: cannot determine the file size", path);
		goto out;
	}
	buf = malloc((size_t)size + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory (%ld bytes)", path, size);
		goto out;
	}
	if (fread(buf, 1, (size_t)size, fp) != (size_t)size) {
		snprintf(err, errlen, "%s: read error", path);
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[size] = '\0';
	*len = (size_t)size;
out:
	fclose(fp);
	return buf;
}

static cJSON *parse_json(const char *path, bool optional, char *err, size_t errlen)
{
	size_t len = 0;
	char *buf;
	const char *end = NULL;
	cJSON *root;

	if (optional) {
		FILE *fp = fopen(path, "rb");

		if (!fp)
			return NULL;
		fclose(fp);
	}
	if (!(buf = read_all(path, &len, err, errlen)))
		return NULL;
	root = cJSON_ParseWithOpts(buf, &end, 0);
	if (!root)
		snprintf(err, errlen, "%s: invalid JSON near byte %ld", path,
		         end ? (long)(end - buf) : 0L);
	free(buf);
	return root;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The "type" of a pre-tokenizer node, "" when it has none. */
static const char *type_of(const cJSON *node)
{
	const char *t = str_of(node, "type");

	return t ? t : "";
}

/* True when node (a pre-tokenizer or decoder, or a Sequence of them) includes ByteLevel. */
static bool has_byte_level(const cJSON *node)
{
	const char *type = str_of(node, "type");
	const cJSON *list, *e;

	if (!type)
		return false;
	if (!strcmp(type, "ByteLevel"))
		return true;
	list = cJSON_GetObjectItemCaseSensitive(node, "pretokenizers");
	if (!list)
		list = cJSON_GetObjectItemCaseSensitive(node, "decoders");
	cJSON_ArrayForEach(e, list) if (has_byte_level(e)) return true;
	return false;
}

/* The tokenizer.ggml.pre name for a pre_tokenizer, or NULL when it is not one known here. */
static const char *infer_pre(const cJSON *pt)
{
	const char *type = str_of(pt, "type");
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers"), *e;
	const cJSON *use_regex = cJSON_GetObjectItemCaseSensitive(pt, "use_regex");
	int n = cJSON_GetArraySize(list);

	if (!type)
		return NULL;
	/* GPT-2: ByteLevel alone, with its built-in regex */
	if (!strcmp(type, "ByteLevel"))
		return cJSON_IsFalse(use_regex) ? NULL : "gpt-2";
	if (strcmp(type, "Sequence") || n < 1)
		return NULL;
	/* SmolLM: every digit alone, then GPT-2 */
	if (n == 2 && !strcmp(type_of(cJSON_GetArrayItem(list, 0)), "Digits") &&
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 0),
	                                                  "individual_digits")) &&
	    !strcmp(type_of(cJSON_GetArrayItem(list, 1)), "ByteLevel") &&
	    !cJSON_IsFalse(
	        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 1), "use_regex")))
		return "smollm";
	/* Split by a known regex, then ByteLevel without its own regex */
	e = cJSON_GetArrayItem(list, 0);
	if (n == 2 && !strcmp(type_of(e), "Split") &&
	    cJSON_IsFalse(
	        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 1), "use_regex"))) {
		const char *re = str_of(cJSON_GetObjectItemCaseSensitive(e, "pattern"), "Regex");

		for (size_t i = 0; re && i < sizeof known_regex / sizeof known_regex[0]; i++)
			if (!strcmp(re, known_regex[i].regex))
				return known_regex[i].pre;
	}
	return NULL;
}

/* A special token's text in tokenizer_config.json: a string or {"content": ...}. */
static const char *config_token(const cJSON *cfg, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);

	if (cJSON_IsString(v))
		return v->valuestring;
	return str_of(v, "content");
}

/* BOS/EOS from a TemplateProcessing post-processor (possibly inside a Sequence): the special
 * token before $A is the BOS it adds, one after $A the EOS. */
static void template_specials(const cJSON *pp, const char **bos, const char **eos)
{
	const char *type = str_of(pp, "type");
	const cJSON *e;
	bool seen_a = false;

	if (!type)
		return;
	if (!strcmp(type, "Sequence")) {
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(pp, "processors"))
		    template_specials(e, bos, eos);
		return;
	}
	if (strcmp(type, "TemplateProcessing"))
		return;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(pp, "single"))
	{
		const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");

		if (cJSON_GetObjectItemCaseSensitive(e, "Sequence"))
			seen_a = true;
		else if (sp && str_of(sp, "id"))
			*(seen_a ? eos : bos) = str_of(sp, "id");
	}
}

static bool looks_special(const char *t)
{
	size_t n = strlen(t);

	return n >= 4 && !strncmp(t, "<|", 2) && !strcmp(t + n - 2, "|>");
}

/* The directory part of path with "/tokenizer_config.json" appended. */
static void config_path(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash)
		snprintf(out, len, "%.*s/tokenizer_config.json", (int)(slash - path), path);
	else
		snprintf(out, len, "tokenizer_config.json");
}

static int32_t token_id(char *const *toks, int n, const char *text)
{
	if (!text)
		return -1;
	for (int i = 0; i < n; i++)
		if (toks[i] && !strcmp(toks[i], text))
			return i;
	return -1;
}

int eng_vocab_from_hf(const char *json_path, const char *pre, const char *out_path, char *err,
                      size_t errlen)
{
	cJSON *root = NULL, *cfg = NULL;
	const cJSON *model, *vocab, *merges, *added, *e;
	struct gguf_writer *w = NULL;
	struct gguf_file *f = NULL;
	struct eng_vocab *v = NULL;
	char **toks = NULL, **mstr = NULL, cfg_path[1100];
	int32_t *types = NULL;
	const char *bos_text = NULL, *eos_text = NULL, *arch;
	int n = 0, given, n_merges = 0, add_bos = -1, add_eos = -1, rc = -EINVAL;
	int32_t bos, eos;

	if (!(root = parse_json(json_path, false, err, errlen)))
		return -EINVAL;
	model = cJSON_GetObjectItemCaseSensitive(root, "model");
	if (!str_of(model, "type") || strcmp(str_of(model, "type"), "BPE")) {
		snprintf(err, errlen,
		         "%s: model.type is '%s'; only BPE tokenizers can be converted", json_path,
		         str_of(model, "type") ? str_of(model, "type") : "(missing)");
		goto out;
	}
	if (!has_byte_level(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")) &&
	    !has_byte_level(cJSON_GetObjectItemCaseSensitive(root, "decoder"))) {
		snprintf(err, errlen,
		         "%s: not a byte-level BPE (no ByteLevel pre_tokenizer or decoder); only "
		         "GPT-2 style vocabularies (tokenizer.ggml.model 'gpt2') are converted",
		         json_path);
		goto out;
	}
	if (pre && eng_pretok_from_name(pre) < 0) {
		snprintf(err, errlen, "--pre '%s' is not a supported pre-tokenizer (supported: %s)",
		         pre, eng_pretok_names());
		goto out;
	}
	if (!pre && !(pre = infer_pre(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")))) {
		snprintf(
		    err, errlen,
		    "%s: the pre_tokenizer is not one whose name can be inferred; pass --pre NAME "
		    "(supported: %s)",
		    json_path, eng_pretok_names());
		goto out;
	}
	if (!strcmp(pre, "gpt2"))
		pre = "gpt-2"; /* the name llama.cpp knows */
	vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
	merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
	added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
	if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges)) {
		snprintf(err, errlen, "%s: model.%s is missing or not an %s", json_path,
		         cJSON_IsObject(vocab) ? "merges" : "vocab",
		         cJSON_IsObject(vocab) ? "array" : "object");
		goto out;
	}
	/* size: the largest id + 1 */
	cJSON_ArrayForEach(e, vocab)
	{
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= (1 << 24)) {
			snprintf(err, errlen, "%s: model.vocab['%s'] is not an id from 0 to %d",
			         json_path, e->string, (1 << 24) - 1);
			goto out;
		}
		if (e->valueint >= n)
			n = e->valueint + 1;
	}
	cJSON_ArrayForEach(e, added)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");

		if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= (1 << 24) ||
		    !str_of(e, "content")) {
			snprintf(err, errlen,
			         "%s: added_tokens has an entry without a valid id and content",
			         json_path);
			goto out;
		}
		if (id->valueint >= n)
			n = id->valueint + 1;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: model.vocab is empty", json_path);
		goto out;
	}
	/*
	 * Ids without a token are padded, which is right for the few a real tokenizer leaves
	 * (reserved slots); an added token at id 16777215 in a 60 KB file would otherwise become
	 * a 390 MB vocabulary of padding.
	 */
	given = cJSON_GetArraySize(vocab) + cJSON_GetArraySize(added);
	if (n - given > given) {
		snprintf(err, errlen,
		         "%s: ids run to %d but model.vocab and added_tokens have %d entries; more "
		         "ids would be [PADn] than tokens",
		         json_path, n - 1, given);
		goto out;
	}
	toks = calloc((size_t)n, sizeof *toks);
	types = calloc((size_t)n, sizeof *types);
	mstr = calloc((size_t)cJSON_GetArraySize(merges) + 1, sizeof *mstr);
	if (!toks || !types || !mstr)
		goto nomem;
	cJSON_ArrayForEach(e, vocab)
	{
		if (toks[e->valueint]) {
			snprintf(err, errlen,
			         "%s: id %d is given to both '%s' and '%s' in model.vocab",
			         json_path, e->valueint, toks[e->valueint], e->string);
			goto out;
		}
		if (!(toks[e->valueint] = strdup(e->string)))
			goto nomem;
		types[e->valueint] = ENG_TOK_NORMAL;
	}
	cJSON_ArrayForEach(e, added)
	{
		int id = cJSON_GetObjectItemCaseSensitive(e, "id")->valueint;
		const char *content = str_of(e, "content");

		if (toks[id] && strcmp(toks[id], content)) {
			snprintf(err, errlen,
			         "%s: added token '%s' has id %d, which model.vocab gives to '%s'",
			         json_path, content, id, toks[id]);
			goto out;
		}
		free(toks[id]);
		if (!(toks[id] = strdup(content)))
			goto nomem;
		types[id] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special")) ||
		                    looks_special(content)
		                ? ENG_TOK_CONTROL
		                : ENG_TOK_USER_DEFINED;
	}
	for (int i = 0; i < n; i++) {
		if (toks[i])
			continue;
		char pad[32];

		snprintf(pad, sizeof pad, "[PAD%d]", i);
		if (!(toks[i] = strdup(pad)))
			goto nomem;
		types[i] = ENG_TOK_USER_DEFINED;
	}
	cJSON_ArrayForEach(e, merges)
	{
		const char *a = NULL, *b = NULL;

		if (cJSON_IsString(e)) {
			mstr[n_merges] = strdup(e->valuestring);
		} else if (cJSON_GetArraySize(e) == 2 &&
		           (a = cJSON_GetArrayItem(e, 0)->valuestring) &&
		           (b = cJSON_GetArrayItem(e, 1)->valuestring)) {
			if (strchr(a, ' ') || strchr(b, ' ')) {
				snprintf(
				    err, errlen,
				    "%s: model.merges entry %d ['%s', '%s'] has a space in a token",
				    json_path, n_merges, a, b);
				goto out;
			}
			if ((mstr[n_merges] = malloc(strlen(a) + strlen(b) + 2)))
				sprintf(mstr[n_merges], "%s %s", a, b);
		} else {
			snprintf(err, errlen,
			         "%s: model.merges entry %d is neither \"a b\" nor [\"a\", \"b\"]",
			         json_path, n_merges);
			goto out;
		}
		if (!mstr[n_merges++])
			goto nomem;
	}
	/* special tokens */
	config_path(json_path, cfg_path, sizeof cfg_path);
	err[0] = '\0';
	cfg = parse_json(cfg_path, true, err, errlen);
	if (!cfg && err[0])
		goto out;
	template_specials(cJSON_GetObjectItemCaseSensitive(root, "post_processor"), &bos_text,
	                  &eos_text);
	if (bos_text)
		add_bos = 1;
	if (eos_text)
		add_eos = 1;
	if (cfg) {
		const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
		const cJSON *ae = cJSON_GetObjectItemCaseSensitive(cfg, "add_eos_token");

		if (config_token(cfg, "bos_token"))
			bos_text = config_token(cfg, "bos_token");
		if (config_token(cfg, "eos_token"))
			eos_text = config_token(cfg, "eos_token");
		if (cJSON_IsBool(ab))
			add_bos = cJSON_IsTrue(ab);
		if (cJSON_IsBool(ae))
			add_eos = cJSON_IsTrue(ae);
	}
	bos = token_id(toks, n, bos_text);
	eos = token_id(toks, n, eos_text);
	arch = !strcmp(pre, "qwen2") || !strcmp(pre, "deepseek-r1-qwen") ? "qwen2"
	       : eng_pretok_from_name(pre) == ENG_PRE_GPT2               ? "gpt2"
	                                                                 : "llama";
	w = gguf_writer_new();
	if (!w)
		goto nomem;
	if (gguf_w_str(w, "general.architecture", arch) ||
	    gguf_w_str(w, "tokenizer.ggml.model", "gpt2") ||
	    gguf_w_str(w, "tokenizer.ggml.pre", pre) ||
	    gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, NULL,
	                   (uint64_t)n) ||
	    gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_VT_I32, types, (uint64_t)n) ||
	    gguf_w_arr_str(w, "tokenizer.ggml.merges", (const char *const *)mstr, NULL,
	                   (uint64_t)n_merges) ||
	    (bos >= 0 && gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos)) ||
	    (eos >= 0 && gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos)) ||
	    (add_bos >= 0 && gguf_w_bool(w, "tokenizer.ggml.add_bos_token", add_bos)) ||
	    (add_eos >= 0 && gguf_w_bool(w, "tokenizer.ggml.add_eos_token", add_eos)) ||
	    gguf_writer_open(w, out_path) || gguf_writer_finish(w)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: %s", out_path, gguf_writer_error(w));
		goto out;
	}
	/* load it back: merges naming unknown tokens and the like are reported now */
	if ((rc = gguf_open(out_path, &f, err, errlen)) ||
	    (rc = eng_vocab_from_gguf(f, &v, err, errlen))) {
		unlink(out_path);
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	rc = -ENOMEM;
	snprintf(err, errlen, "%s: out of memory", json_path);
out:
	eng_vocab_free(v);
	gguf_close(f);
	gguf_writer_free(w);
	for (int i = 0; toks && i < n; i++)
		free(toks[i]);
	for (int i = 0; mstr && i < n_merges; i++)
		free(mstr[i]);
	free(toks);
	free(types);
	free(mstr);
	cJSON_Delete(cfg);
	cJSON_Delete(root);
	return rc;
}
