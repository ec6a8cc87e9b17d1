/*
 * engine/tokenizer.c — vocabularies, SentencePiece BPE encoding by scores and byte-level BPE
 * encoding by merge ranks.
 *
 * Encoding follows llama.cpp's SPM tokenizer: prefix the text with a space (add_space_prefix),
 * write every space as "▁", split into UTF-8 characters, then repeatedly merge the adjacent pair
 * whose concatenation is the highest-scoring vocabulary piece (ties: leftmost pair first). A
 * symbol left that is not a piece becomes its bytes' <0xNN> tokens. llama2.c's encoder does the
 * same, except that a character outside the vocabulary turns into byte tokens before merging;
 * vocabularies read from a tokenizer.bin keep that rule (such characters never merge). For
 * SentencePiece BPE vocabularies the two agree, since every merged piece's parts are pieces.
 *
 * Byte-level BPE (tokenizer.ggml.model = "gpt2": Llama 3, Qwen2, GPT-2, ...) follows llama.cpp's
 * BPE tokenizer: the text is split into words by the pre-tokenizer tokenizer.ggml.pre names
 * (engine/pretok.c); each word's UTF-8 bytes become GPT-2's printable characters (bytes that are
 * printable Latin-1 stand for themselves, the others for U+0100 onwards, in byte order), one
 * symbol per byte; then the adjacent pair with the lowest merge rank (tokenizer.ggml.merges, first
 * line rank 0) merges, leftmost first, until no pair has a rank. With Llama 3's pre-tokenizer a
 * word that is itself a token is taken whole (ignore_merges). Invalid UTF-8 becomes U+FFFD.
 */
#include "engine/tokenizer.h"

#include "engine/model.h"
#include "engine/pretok.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPACE_ESC "\xe2\x96\x81" /* U+2581 */

struct eng_vocab {
	int n;
	char *blob;       /* all pieces, each NUL-terminated */
	uint32_t *off;    /* piece i at blob + off[i] */
	uint32_t *len;
	float *score;
	int32_t *type;
	int32_t bos, eos, unk;
	int32_t byte_tok[256]; /* -1 when the vocabulary lacks <0xNN> */
	bool add_space_prefix;
	bool add_bos, add_eos;
	bool llama2c;     /* out-of-vocabulary characters do not merge */
	int32_t *special; /* control, user-defined and unknown tokens with text, for parse_special */
	int n_special;
	uint32_t *ht;     /* open addressing: id + 1, 0 = empty */
	uint32_t ht_mask;
	char error[1400]; /* non-empty: cannot encode */
	/* byte-level BPE (tokenizer.ggml.model = "gpt2") */
	bool bpe;
	int pre;            /* enum eng_pretok */
	char pre_name[64];  /* tokenizer.ggml.pre as read ("" when absent) */
	bool ignore_merges; /* a word that is a token is not merged (Llama 3) */
	uint32_t n_merges;
	int32_t *merge;     /* rank r: tokens merge[3r] and merge[3r+1] make merge[3r+2] */
	uint32_t *mh;       /* open addressing over (left, right): rank + 1, 0 = empty */
	uint32_t mh_mask;
	int32_t byte_sym[256]; /* token of each byte's GPT-2 character, -1 if none */
};

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

/* Id of a piece, or -1. The first of duplicate pieces wins. */
static int32_t lookup(const struct eng_vocab *v, const char *s, size_t n)
{
	if (!v->ht)
		return -1;
	for (uint32_t i = hash(s, n) & v->ht_mask;; i = (i + 1) & v->ht_mask) {
		uint32_t e = v->ht[i];

		if (!e)
			return -1;
		if (v->len[e - 1] == n && !memcmp(v->blob + v->off[e - 1], s, n))
			return (int32_t)(e - 1);
	}
}

static int build_index(struct eng_vocab *v)
{
	uint32_t cap = 1;

	while (cap < 2u * (uint32_t)v->n + 2)
		cap <<= 1;
	v->ht = calloc(cap, sizeof *v->ht);
	if (!v->ht)
		return -ENOMEM;
	v->ht_mask = cap - 1;
	for (int id = 0; id < v->n; id++) {
		const char *s = v->blob + v->off[id];
		uint32_t i;

		if (lookup(v, s, v->len[id]) >= 0)
			continue;
		for (i = hash(s, v->len[id]) & v->ht_mask; v->ht[i]; i = (i + 1) & v->ht_mask)
			;
		v->ht[i] = (uint32_t)id + 1;
	}
	v->special = malloc((size_t)v->n * sizeof *v->special + 1);
	if (!v->special)
		return -ENOMEM;
	for (int id = 0; id < v->n; id++)
		if (v->len[id] && (v->type[id] == ENG_TOK_CONTROL || v->type[id] == ENG_TOK_USER_DEFINED ||
				   v->type[id] == ENG_TOK_UNKNOWN))
			v->special[v->n_special++] = id;
	for (int b = 0; b < 256; b++) {
		char name[8];

		snprintf(name, sizeof name, "<0x%02X>", b);
		v->byte_tok[b] = lookup(v, name, 6);
	}
	return 0;
}

static struct eng_vocab *vocab_alloc(int n, size_t blob_bytes)
{
	struct eng_vocab *v = calloc(1, sizeof *v);

	if (!v)
		return NULL;
	v->n = n;
	v->blob = malloc(blob_bytes ? blob_bytes : 1);
	v->off = malloc((size_t)n * sizeof *v->off + 1);
	v->len = malloc((size_t)n * sizeof *v->len + 1);
	v->score = calloc((size_t)n + 1, sizeof *v->score);
	v->type = malloc((size_t)n * sizeof *v->type + 1);
	v->bos = n > 1 ? 1 : -1;
	v->eos = n > 2 ? 2 : -1;
	v->unk = 0;
	v->add_space_prefix = true;
	v->add_bos = true;
	if (!v->blob || !v->off || !v->len || !v->score || !v->type) {
		eng_vocab_free(v);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		v->type[i] = ENG_TOK_NORMAL;
	return v;
}

void eng_vocab_free(struct eng_vocab *v)
{
	if (!v)
		return;
	free(v->blob);
	free(v->off);
	free(v->len);
	free(v->score);
	free(v->type);
	free(v->ht);
	free(v->special);
	free(v->merge);
	free(v->mh);
	free(v);
}

int eng_vocab_size(const struct eng_vocab *v)
{
	return v ? v->n : 0;
}

const char *eng_vocab_error(const struct eng_vocab *v)
{
	return v ? v->error : "no vocabulary";
}

const char *eng_vocab_piece(const struct eng_vocab *v, int id, size_t *len)
{
	if (!v || id < 0 || id >= v->n) {
		if (len)
			*len = 0;
		return "";
	}
	if (len)
		*len = v->len[id];
	return v->blob + v->off[id];
}

int32_t eng_vocab_bos(const struct eng_vocab *v)
{
	return v ? v->bos : -1;
}

int32_t eng_vocab_eos(const struct eng_vocab *v)
{
	return v ? v->eos : -1;
}

/* ---- loading ---- */

static int32_t special_id(const struct gguf_file *f, const char *key, int32_t dflt, int n)
{
	int64_t id;

	if (gguf_get_int(f, key, &id))
		return dflt < n ? dflt : -1;
	return id >= 0 && id < n ? (int32_t)id : -1;
}

/* ---- byte-level BPE: GPT-2's byte <-> character mapping and the merge table ---- */

/* The character GPT-2's byte-level BPE writes for byte b. */
static uint32_t byte_to_cp(uint8_t b)
{
	if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
		return b;
	if (b <= 32)
		return 256u + b;
	if (b <= 160)
		return 256u + 33 + (b - 127u);
	return 256u + 33 + 34; /* 173 */
}

/* The byte a GPT-2 character stands for, or -1. */
static int cp_to_byte(uint32_t cp)
{
	if (cp < 256)
		return byte_to_cp((uint8_t)cp) == cp ? (int)cp : -1;
	if (cp <= 256 + 32)
		return (int)(cp - 256);
	if (cp <= 256 + 33 + 33)
		return (int)(cp - 256 - 33 + 127);
	return cp == 256 + 33 + 34 ? 173 : -1;
}

static size_t put_utf8(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* The code point at s[*i] (advancing *i); a byte that does not start a complete UTF-8 sequence
 * is U+FFFD and advances by one, as in llama.cpp. */
static uint32_t next_cp(const char *s, size_t n, size_t *i)
{
	const uint8_t *p = (const uint8_t *)s + *i;
	size_t left = n - *i, k;
	uint32_t cp;

	if (p[0] < 0x80) {
		*i += 1;
		return p[0];
	}
	if ((p[0] & 0xE0) == 0xC0) {
		k = 2;
		cp = p[0] & 0x1Fu;
	} else if ((p[0] & 0xF0) == 0xE0) {
		k = 3;
		cp = p[0] & 0x0Fu;
	} else if ((p[0] & 0xF8) == 0xF0) {
		k = 4;
		cp = p[0] & 0x07u;
	} else {
		*i += 1;
		return 0xFFFD;
	}
	if (k > left)
		k = 0;
	for (size_t j = 1; j < k; j++) {
		if ((p[j] & 0xC0) != 0x80) {
			k = 0;
			break;
		}
		cp = (cp << 6) | (p[j] & 0x3Fu);
	}
	if (!k) {
		*i += 1;
		return 0xFFFD;
	}
	*i += k;
	return cp;
}

static uint32_t merge_hash(int32_t a, int32_t b)
{
	return ((uint32_t)a * 0x9E3779B1u) ^ ((uint32_t)b * 0x85EBCA77u);
}

/* Rank of merging tokens a and b, or -1. */
static int64_t merge_rank(const struct eng_vocab *v, int32_t a, int32_t b)
{
	if (!v->mh || a < 0 || b < 0)
		return -1;
	for (uint32_t i = merge_hash(a, b) & v->mh_mask;; i = (i + 1) & v->mh_mask) {
		uint32_t e = v->mh[i];

		if (!e)
			return -1;
		if (v->merge[3 * (e - 1)] == a && v->merge[3 * (e - 1) + 1] == b)
			return (int64_t)(e - 1);
	}
}

#define MERGES_KEY "tokenizer.ggml.merges"

/* Reads tokenizer.ggml.merges ("LEFT RIGHT" per entry, both tokens, LEFTRIGHT a token too) into
 * the rank table. Returns 0, or -EINVAL / -ENOMEM with a message naming the file, key and entry. */
static int load_merges(struct eng_vocab *v, const struct gguf_file *f, char *err, size_t errlen)
{
	const struct gguf_kv *kv = gguf_find(f, MERGES_KEY);
	uint64_t pos = 0;
	uint32_t cap = 1;
	char *cat = NULL;
	size_t cat_cap = 0;
	int rc = -EINVAL;

	if (!kv) {
		snprintf(err, errlen, "%s: %s is missing (a 'gpt2' BPE vocabulary needs its merge list)", f->path,
			 MERGES_KEY);
		return -EINVAL;
	}
	if (kv->type != GGUF_VT_ARRAY || kv->arr_type != GGUF_VT_STRING || kv->arr_n > (1u << 24)) {
		snprintf(err, errlen, "%s: %s is not an array of at most %u strings", f->path, MERGES_KEY, 1u << 24);
		return -EINVAL;
	}
	while (cap < 2u * (uint32_t)kv->arr_n + 2)
		cap <<= 1;
	v->merge = malloc(3 * (size_t)kv->arr_n * sizeof *v->merge + 1);
	v->mh = calloc(cap, sizeof *v->mh);
	if (!v->merge || !v->mh) {
		snprintf(err, errlen, "%s: out of memory for %s", f->path, MERGES_KEY);
		return -ENOMEM;
	}
	v->mh_mask = cap - 1;
	for (uint64_t r = 0; r < kv->arr_n; r++) {
		struct gguf_str s = gguf_arr_next_str(kv, &pos);
		const char *sp = s.len > 1 ? memchr(s.p + 1, ' ', s.len - 1) : NULL;
		int32_t a, b, ab;
		size_t la, lb;
		uint32_t i;

		if (!sp) {
			snprintf(err, errlen, "%s: %s entry %llu '%.*s' is not two tokens separated by a space",
				 f->path, MERGES_KEY, (unsigned long long)r, (int)(s.len > 64 ? 64 : s.len), s.p);
			goto out;
		}
		la = (size_t)(sp - s.p);
		lb = s.len - la - 1;
		if (la + lb > cat_cap) {
			char *nc = realloc(cat, la + lb);

			if (!nc) {
				rc = -ENOMEM;
				snprintf(err, errlen, "%s: out of memory for %s", f->path, MERGES_KEY);
				goto out;
			}
			cat = nc;
			cat_cap = la + lb;
		}
		memcpy(cat, s.p, la);
		memcpy(cat + la, sp + 1, lb);
		a = lookup(v, s.p, la);
		b = lookup(v, sp + 1, lb);
		ab = lookup(v, cat, la + lb);
		if (a < 0 || b < 0 || ab < 0) {
			const char *what = a < 0 ? s.p : b < 0 ? sp + 1 : cat;
			size_t wl = a < 0 ? la : b < 0 ? lb : la + lb;

			snprintf(err, errlen, "%s: %s entry %llu '%.*s' names '%.*s', which is not in tokenizer.ggml.tokens",
				 f->path, MERGES_KEY, (unsigned long long)r, (int)(s.len > 64 ? 64 : s.len), s.p,
				 (int)(wl > 64 ? 64 : wl), what);
			goto out;
		}
		if (merge_rank(v, a, b) >= 0)
			continue; /* a repeated pair keeps its first (lowest) rank */
		v->merge[3 * v->n_merges] = a;
		v->merge[3 * v->n_merges + 1] = b;
		v->merge[3 * v->n_merges + 2] = ab;
		for (i = merge_hash(a, b) & v->mh_mask; v->mh[i]; i = (i + 1) & v->mh_mask)
			;
		v->mh[i] = ++v->n_merges;
	}
	rc = 0;
out:
	free(cat);
	return rc;
}

/* The byte-level BPE parts of a "gpt2" vocabulary: pre-tokenizer, merges, byte symbols and
 * llama.cpp's defaults. An unknown pre-tokenizer leaves a vocabulary that cannot encode. */
static int load_bpe(struct eng_vocab *v, const struct gguf_file *f, char *err, size_t errlen)
{
	int64_t flag;
	int rc;

	v->bpe = true;
	v->add_space_prefix = false;
	if (gguf_get_str(f, "tokenizer.ggml.pre", v->pre_name, sizeof v->pre_name))
		v->pre_name[0] = '\0';
	v->pre = eng_pretok_from_name(v->pre_name[0] ? v->pre_name : "default");
	if (v->pre < 0) {
		snprintf(v->error, sizeof v->error,
			 "%s: tokenizer.ggml.pre '%s' is not a supported BPE pre-tokenizer (supported: %s); "
			 "benchmarks can still run from token counts",
			 f->path, v->pre_name, eng_pretok_names());
		v->pre = ENG_PRE_DEFAULT;
	}
	v->ignore_merges = v->pre == ENG_PRE_LLAMA3;
	/* llama.cpp: BOS and EOS default to 11 for BPE, BOS is added by default for Llama 3 only */
	v->bos = special_id(f, "tokenizer.ggml.bos_token_id", 11, v->n);
	v->eos = special_id(f, "tokenizer.ggml.eos_token_id", 11, v->n);
	v->unk = special_id(f, "tokenizer.ggml.unknown_token_id", -1, v->n);
	v->add_bos = v->pre == ENG_PRE_LLAMA3;
	if (!gguf_get_int(f, "tokenizer.ggml.add_bos_token", &flag))
		v->add_bos = flag != 0;
	if ((rc = load_merges(v, f, err, errlen)))
		return rc;
	for (int b = 0; b < 256; b++) {
		char c[4];

		v->byte_sym[b] = lookup(v, c, put_utf8(byte_to_cp((uint8_t)b), c));
	}
	return 0;
}

int eng_vocab_from_gguf(const struct gguf_file *f, struct eng_vocab **out, char *err, size_t errlen)
{
	const struct gguf_kv *tok = gguf_find(f, "tokenizer.ggml.tokens");
	const struct gguf_kv *sc = gguf_find(f, "tokenizer.ggml.scores");
	const struct gguf_kv *ty = gguf_find(f, "tokenizer.ggml.token_type");
	struct eng_vocab *v = NULL;
	char model[64] = "";
	uint64_t pos = 0, blob = 0;
	int64_t flag;

	*out = NULL;
	if (!tok)
		return 0;
	if (tok->type != GGUF_VT_ARRAY || tok->arr_type != GGUF_VT_STRING) {
		snprintf(err, errlen, "%s: tokenizer.ggml.tokens is not an array of strings", f->path);
		return -EINVAL;
	}
	if (tok->arr_n == 0 || tok->arr_n > (1u << 24)) {
		snprintf(err, errlen, "%s: tokenizer.ggml.tokens has %llu entries (1 to %u allowed)", f->path,
			 (unsigned long long)tok->arr_n, 1u << 24);
		return -EINVAL;
	}
	if (sc && (sc->type != GGUF_VT_ARRAY || sc->arr_n != tok->arr_n ||
		   (sc->arr_type != GGUF_VT_F32 && sc->arr_type != GGUF_VT_F64))) {
		snprintf(err, errlen, "%s: tokenizer.ggml.scores must be %llu floats", f->path,
			 (unsigned long long)tok->arr_n);
		return -EINVAL;
	}
	if (ty && (ty->type != GGUF_VT_ARRAY || ty->arr_n != tok->arr_n || ty->arr_type == GGUF_VT_STRING ||
		   ty->arr_type == GGUF_VT_F32 || ty->arr_type == GGUF_VT_F64)) {
		snprintf(err, errlen, "%s: tokenizer.ggml.token_type must be %llu integers", f->path,
			 (unsigned long long)tok->arr_n);
		return -EINVAL;
	}
	for (uint64_t i = 0; i < tok->arr_n; i++)
		blob += gguf_arr_next_str(tok, &pos).len + 1;
	if (blob > UINT32_MAX) {
		snprintf(err, errlen, "%s: tokenizer.ggml.tokens is too large", f->path);
		return -EINVAL;
	}
	v = vocab_alloc((int)tok->arr_n, blob);
	if (!v) {
		snprintf(err, errlen, "%s: out of memory for the vocabulary", f->path);
		return -ENOMEM;
	}
	pos = 0;
	blob = 0;
	for (int i = 0; i < v->n; i++) {
		struct gguf_str s = gguf_arr_next_str(tok, &pos);

		memcpy(v->blob + blob, s.p, s.len);
		v->blob[blob + s.len] = '\0';
		v->off[i] = (uint32_t)blob;
		v->len[i] = (uint32_t)s.len;
		blob += s.len + 1;
		v->score[i] = sc ? (float)gguf_arr_float(sc, (uint64_t)i) : 0.0f;
		v->type[i] = ty ? (int32_t)gguf_arr_int(ty, (uint64_t)i) : ENG_TOK_NORMAL;
	}
	v->bos = special_id(f, "tokenizer.ggml.bos_token_id", 1, v->n);
	v->eos = special_id(f, "tokenizer.ggml.eos_token_id", 2, v->n);
	v->unk = special_id(f, "tokenizer.ggml.unknown_token_id", 0, v->n);
	if (!gguf_get_int(f, "tokenizer.ggml.add_space_prefix", &flag))
		v->add_space_prefix = flag != 0;
	if (!gguf_get_int(f, "tokenizer.ggml.add_bos_token", &flag))
		v->add_bos = flag != 0;
	if (!gguf_get_int(f, "tokenizer.ggml.add_eos_token", &flag))
		v->add_eos = flag != 0;
	if (gguf_get_str(f, "tokenizer.ggml.model", model, sizeof model))
		snprintf(v->error, sizeof v->error, "%s: tokenizer.ggml.model is missing", f->path);
	else if (strcmp(model, "llama") && strcmp(model, "gpt2"))
		snprintf(v->error, sizeof v->error,
			 "%s: tokenizer model '%s' is not supported (only 'llama', SentencePiece BPE, and "
			 "'gpt2', byte-level BPE); benchmarks can still run from token counts",
			 f->path, model);
	if (build_index(v)) {
		eng_vocab_free(v);
		snprintf(err, errlen, "%s: out of memory for the vocabulary", f->path);
		return -ENOMEM;
	}
	if (!strcmp(model, "gpt2")) {
		int rc = load_bpe(v, f, err, errlen);

		if (rc) {
			eng_vocab_free(v);
			return rc;
		}
	}
	*out = v;
	return 0;
}

/* Copies a llama2.c piece into GGUF form: ' ' -> "▁". Returns the new length. */
static size_t escape_spaces(char *dst, const char *src, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (src[i] == ' ') {
			memcpy(dst + k, SPACE_ESC, 3);
			k += 3;
		} else {
			dst[k++] = src[i];
		}
	}
	return k;
}

int eng_vocab_from_llama2c(const char *path, int n_vocab, struct eng_vocab **out, char *err, size_t errlen)
{
	FILE *fp = NULL;
	struct eng_vocab *v = NULL;
	char *piece = NULL;
	long fsize;
	int32_t max_len;
	size_t blob = 0;
	int rc = -EINVAL;

	*out = NULL;
	if (n_vocab < 3 || n_vocab > (1 << 24)) {
		snprintf(err, errlen, "%s: vocabulary size %d out of range", path, n_vocab);
		return -EINVAL;
	}
	fp = fopen(path, "rb");
	if (!fp) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fseek(fp, 0, SEEK_END) || (fsize = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)) {
		snprintf(err, errlen, "%s: cannot determine the file size", path);
		goto out;
	}
	if (fread(&max_len, 4, 1, fp) != 1) {
		snprintf(err, errlen, "%s: truncated at byte %ld while reading max_token_length", path, fsize);
		goto out;
	}
	/* Escaped pieces are at most 3x the file's bytes; the blob also holds one NUL per piece. */
	v = vocab_alloc(n_vocab, 3 * (size_t)fsize + (size_t)n_vocab + 16);
	piece = malloc((size_t)fsize + 1);
	if (!v || !piece) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (int i = 0; i < n_vocab; i++) {
		int32_t len;
		float score;
		size_t k;

		if (fread(&score, 4, 1, fp) != 1 || fread(&len, 4, 1, fp) != 1) {
			snprintf(err, errlen, "%s: truncated at byte %ld while reading the header of token %d (of %d)",
				 path, fsize, i, n_vocab);
			goto out;
		}
		if (len < 0 || len > fsize - ftell(fp)) {
			snprintf(err, errlen, "%s: token %d has length %d, past the end of the file (%ld bytes)", path,
				 i, len, fsize);
			goto out;
		}
		if (fread(piece, 1, (size_t)len, fp) != (size_t)len) {
			snprintf(err, errlen, "%s: read error in token %d", path, i);
			goto out;
		}
		/* llama2.c writes <unk>, "\n<s>\n", "\n</s>\n" for ids 0..2; use the llama names. */
		if (i <= 2) {
			static const char *const names[] = { "<unk>", "<s>", "</s>" };

			k = strlen(names[i]);
			memcpy(v->blob + blob, names[i], k);
			v->type[i] = i == 0 ? ENG_TOK_UNKNOWN : ENG_TOK_CONTROL;
		} else {
			unsigned b;
			char tail;

			k = escape_spaces(v->blob + blob, piece, (size_t)len);
			piece[len] = '\0';
			if (len == 6 && sscanf(piece, "<0x%2X>%c", &b, &tail) == 1)
				v->type[i] = ENG_TOK_BYTE;
		}
		v->blob[blob + k] = '\0';
		v->off[i] = (uint32_t)blob;
		v->len[i] = (uint32_t)k;
		v->score[i] = score;
		blob += k + 1;
	}
	v->bos = 1;
	v->eos = 2;
	v->unk = 0;
	v->llama2c = true;
	if (build_index(v)) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	*out = v;
	v = NULL;
	rc = 0;
out:
	free(piece);
	eng_vocab_free(v);
	if (fp)
		fclose(fp);
	return rc;
}

struct eng_vocab *eng_vocab_placeholder(int n_vocab)
{
	struct eng_vocab *v;
	size_t blob = 0;

	if (n_vocab < 1 || n_vocab > (1 << 24))
		return NULL;
	v = vocab_alloc(n_vocab, (size_t)n_vocab * 16);
	if (!v)
		return NULL;
	for (int i = 0; i < n_vocab; i++) {
		char s[16];
		int k;

		if (i == 0) {
			k = snprintf(s, sizeof s, "<unk>");
			v->type[i] = ENG_TOK_UNKNOWN;
		} else if (i <= 2) {
			k = snprintf(s, sizeof s, "%s", i == 1 ? "<s>" : "</s>");
			v->type[i] = ENG_TOK_CONTROL;
		} else if (i < 259) {
			k = snprintf(s, sizeof s, "<0x%02X>", i - 3);
			v->type[i] = ENG_TOK_BYTE;
		} else {
			/* "▁" + a unique lowercase word: base-26 digits of i - 259. */
			char word[8];
			int n = 0;

			for (unsigned x = (unsigned)(i - 259);; x = x / 26 - 1) {
				word[n++] = (char)('a' + x % 26);
				if (x < 26)
					break;
			}
			memcpy(s, SPACE_ESC, 3);
			for (k = 0; k < n; k++)
				s[3 + k] = word[n - 1 - k];
			k += 3;
			s[k] = '\0';
			v->score[i] = -(float)(i - 259);
		}
		memcpy(v->blob + blob, s, (size_t)k + 1);
		v->off[i] = (uint32_t)blob;
		v->len[i] = (uint32_t)k;
		blob += (size_t)k + 1;
	}
	if (build_index(v)) {
		eng_vocab_free(v);
		return NULL;
	}
	return v;
}

/* tokenizer.ggml.merges of a byte-level BPE vocabulary, rebuilt from the rank table. */
static int write_merges(const struct eng_vocab *v, struct gguf_writer *w)
{
	char **strs = calloc((size_t)v->n_merges + 1, sizeof *strs);
	int rc = -ENOMEM;

	if (!strs)
		return -ENOMEM;
	for (uint32_t r = 0; r < v->n_merges; r++) {
		int32_t a = v->merge[3 * r], b = v->merge[3 * r + 1];

		strs[r] = malloc((size_t)v->len[a] + v->len[b] + 2);
		if (!strs[r])
			goto out;
		snprintf(strs[r], (size_t)v->len[a] + v->len[b] + 2, "%s %s", v->blob + v->off[a], v->blob + v->off[b]);
	}
	rc = gguf_w_arr_str(w, MERGES_KEY, (const char *const *)strs, NULL, v->n_merges) ? -ENOMEM : 0;
out:
	for (uint32_t r = 0; r < v->n_merges; r++)
		free(strs[r]);
	free(strs);
	return rc;
}

int eng_vocab_write_gguf(const struct eng_vocab *v, struct gguf_writer *w)
{
	const char **strs = malloc((size_t)v->n * sizeof *strs);
	uint64_t *lens = malloc((size_t)v->n * sizeof *lens);
	int rc = -ENOMEM;

	if (!strs || !lens)
		goto out;
	for (int i = 0; i < v->n; i++) {
		strs[i] = v->blob + v->off[i];
		lens[i] = v->len[i];
	}
	if (v->bpe) {
		rc = gguf_w_str(w, "tokenizer.ggml.model", "gpt2") ||
		     (v->pre_name[0] && gguf_w_str(w, "tokenizer.ggml.pre", v->pre_name)) ||
		     gguf_w_arr_str(w, "tokenizer.ggml.tokens", strs, lens, (uint64_t)v->n) ||
		     gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_VT_I32, v->type, (uint64_t)v->n) ||
		     write_merges(v, w) ||
		     (v->bos >= 0 && gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos)) ||
		     (v->eos >= 0 && gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos)) ||
		     gguf_w_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos) ||
		     gguf_w_bool(w, "tokenizer.ggml.add_eos_token", v->add_eos)
			     ? -ENOMEM
			     : 0;
		goto out;
	}
	rc = gguf_w_str(w, "tokenizer.ggml.model", "llama") ||
	     gguf_w_arr_str(w, "tokenizer.ggml.tokens", strs, lens, (uint64_t)v->n) ||
	     gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_VT_F32, v->score, (uint64_t)v->n) ||
	     gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_VT_I32, v->type, (uint64_t)v->n) ||
	     (v->bos >= 0 && gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos)) ||
	     (v->eos >= 0 && gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos)) ||
	     (v->unk >= 0 && gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)v->unk)) ||
	     gguf_w_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos) ||
	     gguf_w_bool(w, "tokenizer.ggml.add_eos_token", v->add_eos)
		     ? -ENOMEM
		     : 0;
out:
	free(strs);
	free(lens);
	return rc;
}

/* ---- encoding ---- */

struct sym {
	int prev, next;
	uint32_t start, n; /* bytes of the escaped text */
	bool frozen;       /* llama2.c: out-of-vocabulary character, never merges */
	int32_t id;        /* byte-level BPE: the symbol's token, -1 for none */
};

struct bigram {
	float score;
	int left;
	uint32_t size;
};

/* Max-heap on (score, then smaller left). */
static bool bg_before(const struct bigram *a, const struct bigram *b)
{
	return a->score > b->score || (a->score == b->score && a->left < b->left);
}

struct heap {
	struct bigram *a;
	size_t n, cap;
};

static int heap_push(struct heap *h, struct bigram b)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct bigram *na = realloc(h->a, cap * sizeof *na);

		if (!na)
			return -ENOMEM;
		h->a = na;
		h->cap = cap;
	}
	i = h->n++;
	while (i && bg_before(&b, &h->a[(i - 1) / 2])) {
		h->a[i] = h->a[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->a[i] = b;
	return 0;
}

static struct bigram heap_pop(struct heap *h)
{
	struct bigram top = h->a[0], last = h->a[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && bg_before(&h->a[c + 1], &h->a[c]))
			c++;
		if (!bg_before(&h->a[c], &last))
			break;
		h->a[i] = h->a[c];
		i = c;
	}
	if (h->n)
		h->a[i] = last;
	return top;
}

static int try_pair(const struct eng_vocab *v, const char *text, const struct sym *s, int l, int r,
		    struct heap *h)
{
	int32_t id;

	if (l < 0 || r < 0 || s[l].frozen || s[r].frozen)
		return 0;
	id = lookup(v, text + s[l].start, s[l].n + s[r].n);
	if (id < 0)
		return 0;
	return heap_push(h, (struct bigram){ v->score[id], l, s[l].n + s[r].n });
}

static int utf8_len(uint8_t c)
{
	static const int lookup_len[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };

	return lookup_len[c >> 4];
}

static void emit(int32_t id, int32_t *out, int max, int *n)
{
	if (*n < max)
		out[*n] = id;
	(*n)++;
}

/* SentencePiece BPE of one fragment of raw text (no special tokens in it); appends to out.
 * Returns 0 or -ENOMEM. */
static int encode_raw(const struct eng_vocab *v, const char *text, size_t tlen, bool space_prefix,
		      int32_t *out, int max, int *n)
{
	size_t elen = 0;
	char *esc = malloc(3 * tlen + 4);
	struct sym *s = malloc((tlen + 2) * sizeof *s);
	struct heap h = { 0 };
	int n_sym = 0, rc = -ENOMEM;

	if (!esc || !s)
		goto out;
	if (space_prefix) {
		memcpy(esc, SPACE_ESC, 3);
		elen = 3;
	}
	elen += escape_spaces(esc + elen, text, tlen);
	for (size_t i = 0; i < elen; n_sym++) {
		uint32_t k = (uint32_t)utf8_len((uint8_t)esc[i]);

		if (k > elen - i)
			k = (uint32_t)(elen - i);
		s[n_sym] = (struct sym){ n_sym - 1, n_sym + 1, (uint32_t)i, k, false, -1 };
		if (v->llama2c && lookup(v, esc + i, k) < 0)
			s[n_sym].frozen = true;
		i += k;
	}
	s[n_sym - 1].next = -1;
	for (int i = 1; i < n_sym; i++)
		if (try_pair(v, esc, s, i - 1, i, &h))
			goto out;
	while (h.n) {
		struct bigram b = heap_pop(&h);
		struct sym *l = &s[b.left], *r;

		if (l->n == 0 || l->next < 0)
			continue;
		r = &s[l->next];
		if (r->n == 0 || l->n + r->n != b.size)
			continue; /* stale: one side changed since it was queued */
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			s[r->next].prev = b.left;
		if (try_pair(v, esc, s, l->prev, b.left, &h) || try_pair(v, esc, s, b.left, l->next, &h))
			goto out;
	}
	for (int i = 0; i >= 0; i = s[i].next) {
		int32_t id = lookup(v, esc + s[i].start, s[i].n);

		if (id >= 0) {
			emit(id, out, max, n);
			continue;
		}
		for (uint32_t j = 0; j < s[i].n; j++) {
			int32_t bt = v->byte_tok[(uint8_t)esc[s[i].start + j]];

			emit(bt >= 0 ? bt : v->unk, out, max, n);
		}
	}
	rc = 0;
out:
	free(h.a);
	free(esc);
	free(s);
	return rc;
}

/* Queues the merge of symbols l and r if their tokens have a rank (score = -rank). */
static int bpe_pair(const struct eng_vocab *v, const struct sym *s, int l, int r, struct heap *h)
{
	int64_t rank;

	if (l < 0 || r < 0 || (rank = merge_rank(v, s[l].id, s[r].id)) < 0)
		return 0;
	return heap_push(h, (struct bigram){ -(float)rank, l, s[l].n + s[r].n });
}

/* Byte-level BPE of one word of k UTF-8 bytes; s has room for k symbols, esc for 2k bytes.
 * Appends to out. Returns 0 or -ENOMEM. */
static int bpe_word(const struct eng_vocab *v, const uint8_t *b, size_t k, char *esc, struct sym *s,
		    struct heap *h, int32_t *out, int max, int *n)
{
	if (v->ignore_merges) {
		size_t el = 0;
		int32_t id;

		for (size_t i = 0; i < k; i++)
			el += put_utf8(byte_to_cp(b[i]), esc + el);
		if ((id = lookup(v, esc, el)) >= 0) {
			emit(id, out, max, n);
			return 0;
		}
	}
	for (size_t i = 0; i < k; i++)
		s[i] = (struct sym){ (int)i - 1, (int)i + 1, (uint32_t)i, 1, false, v->byte_sym[b[i]] };
	s[k - 1].next = -1;
	h->n = 0;
	for (size_t i = 1; i < k; i++)
		if (bpe_pair(v, s, (int)i - 1, (int)i, h))
			return -ENOMEM;
	while (h->n) {
		struct bigram g = heap_pop(h);
		struct sym *l = &s[g.left], *r;

		if (l->n == 0 || l->next < 0)
			continue;
		r = &s[l->next];
		if (r->n == 0 || l->n + r->n != g.size)
			continue; /* stale: one side changed since it was queued */
		l->id = v->merge[3 * (uint32_t)(-g.score) + 2];
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			s[r->next].prev = g.left;
		if (bpe_pair(v, s, l->prev, g.left, h) || bpe_pair(v, s, g.left, l->next, h))
			return -ENOMEM;
	}
	for (int i = 0; i >= 0; i = s[i].next)
		if (s[i].id >= 0 || v->unk >= 0)
			emit(s[i].id >= 0 ? s[i].id : v->unk, out, max, n);
	return 0;
}

/* Byte-level BPE of one fragment of raw text (no special tokens in it): pre-tokenize into
 * words, then merge each. Appends to out. Returns 0 or -ENOMEM. */
static int encode_bpe(const struct eng_vocab *v, const char *text, size_t tlen, int32_t *out, int max,
		      int *n)
{
	uint32_t *cps = malloc((tlen + 1) * sizeof *cps);
	size_t *ends = malloc((tlen + 1) * sizeof *ends), *tmp = malloc((tlen + 1) * sizeof *tmp);
	uint8_t *wb = malloc(4 * tlen + 4);
	char *esc = malloc(8 * tlen + 8);
	struct sym *s = malloc((4 * tlen + 4) * sizeof *s);
	struct heap h = { 0 };
	size_t n_cp = 0, n_words, start = 0;
	int rc = -ENOMEM;

	if (!cps || !ends || !tmp || !wb || !esc || !s)
		goto out;
	for (size_t i = 0; i < tlen;)
		cps[n_cp++] = next_cp(text, tlen, &i);
	n_words = eng_pretok_split(v->pre, cps, n_cp, ends, tmp);
	for (size_t w = 0; w < n_words; w++) {
		size_t k = 0;

		for (size_t i = start; i < ends[w]; i++)
			k += put_utf8(cps[i], (char *)wb + k);
		start = ends[w];
		if ((rc = bpe_word(v, wb, k, esc, s, &h, out, max, n)))
			goto out;
	}
	rc = 0;
out:
	free(h.a);
	free(cps);
	free(ends);
	free(tmp);
	free(wb);
	free(esc);
	free(s);
	return rc;
}

/* The special token whose text starts at p (longest wins), or -1. */
static int32_t special_at(const struct eng_vocab *v, const char *p, size_t left, bool parse_special)
{
	int32_t best = -1;

	for (int k = 0; k < v->n_special; k++) {
		int32_t id = v->special[k];
		uint32_t len = v->len[id];

		if ((uint8_t)v->blob[v->off[id]] != (uint8_t)*p ||
		    (!parse_special && v->type[id] != ENG_TOK_USER_DEFINED))
			continue;
		if (len <= left && (best < 0 || len > v->len[best]) && !memcmp(p, v->blob + v->off[id], len))
			best = id;
	}
	return best;
}

int eng_vocab_encode_ex(const struct eng_vocab *v, const char *text, bool add_bos, bool parse_special,
			int32_t *out, int max, char *err, size_t errlen)
{
	size_t tlen = strlen(text), start = 0;
	int n = 0;

	if (!v || v->n == 0) {
		snprintf(err, errlen, "the model has no vocabulary");
		return -ENOENT;
	}
	if (v->error[0]) {
		snprintf(err, errlen, "%s", v->error);
		return -ENOTSUP;
	}
	if (tlen > (1u << 28)) {
		snprintf(err, errlen, "text of %zu bytes is too long to tokenize", tlen);
		return -E2BIG;
	}
	if (add_bos && v->add_bos && v->bos >= 0)
		emit(v->bos, out, max, &n);
	for (size_t i = 0; i <= tlen;) {
		int32_t sp = i < tlen ? special_at(v, text + i, tlen - i, parse_special) : -1;

		if (sp < 0 && i < tlen) {
			i++;
			continue;
		}
		/* raw text [start, i), then the special token (if any). Every raw fragment is at the
		 * start or follows a special token, and gets the space prefix (as in llama.cpp). */
		if (i > start && (v->bpe ? encode_bpe(v, text + start, i - start, out, max, &n)
					 : encode_raw(v, text + start, i - start, v->add_space_prefix, out, max, &n))) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if (sp < 0)
			break;
		emit(sp, out, max, &n);
		i += v->len[sp];
		start = i;
	}
	if (add_bos && v->add_eos && v->eos >= 0)
		emit(v->eos, out, max, &n);
	return n;
}

int eng_vocab_encode(const struct eng_vocab *v, const char *text, bool add_bos, int32_t *out, int max,
		     char *err, size_t errlen)
{
	return eng_vocab_encode_ex(v, text, add_bos, true, out, max, err, errlen);
}

int eng_vocab_decode(const struct eng_vocab *v, int32_t prev, int32_t tok, char *buf, size_t len)
{
	const char *p;
	size_t n, k = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	if (!v || tok < 0 || tok >= v->n)
		return 0;
	if (v->type[tok] == ENG_TOK_CONTROL || v->type[tok] == ENG_TOK_UNUSED)
		return 0;
	p = v->blob + v->off[tok];
	n = v->len[tok];
	if (v->bpe && v->type[tok] != ENG_TOK_USER_DEFINED) {
		/* GPT-2 characters back to bytes; a character outside the mapping is copied */
		for (size_t i = 0; i < n;) {
			size_t at = i;
			uint32_t cp = next_cp(p, n, &i);
			int byte = cp_to_byte(cp);

			if (byte >= 0 && k + 1 < len) {
				buf[k++] = (char)byte;
			} else if (byte < 0 && k + (i - at) < len) {
				memcpy(buf + k, p + at, i - at);
				k += i - at;
			} else {
				break;
			}
		}
		buf[k] = '\0';
		return (int)k;
	}
	if (v->type[tok] == ENG_TOK_BYTE && n == 6) {
		unsigned b;

		if (sscanf(p, "<0x%2X>", &b) == 1) {
			if (len < 2)
				return 0;
			buf[0] = (char)b;
			buf[1] = '\0';
			return 1;
		}
	}
	for (size_t i = 0; i < n && k + 1 < len;) {
		if (n - i >= 3 && !memcmp(p + i, SPACE_ESC, 3)) {
			if (!(i == 0 && prev >= 0 && prev == v->bos))
				buf[k++] = ' ';
			i += 3;
		} else {
			buf[k++] = p[i++];
		}
	}
	buf[k] = '\0';
	return (int)k;
}

/* ---- engine.h entry points ---- */

bool eng_has_vocab(const struct eng_model *m)
{
	return m && m->vocab && m->vocab->n > 0 && !m->vocab->error[0];
}

int32_t eng_token_bos(const struct eng_model *m)
{
	return m && m->vocab ? m->vocab->bos : -1;
}

int32_t eng_token_eos(const struct eng_model *m)
{
	return m && m->vocab ? m->vocab->eos : -1;
}

int eng_tokenize(const struct eng_model *m, const char *text, bool add_bos, int32_t *out, int max,
		 char *err, size_t errlen)
{
	return eng_vocab_encode_ex(m ? m->vocab : NULL, text, add_bos, true, out, max, err, errlen);
}

int eng_tokenize_ex(const struct eng_model *m, const char *text, bool add_bos, bool parse_special,
		    int32_t *out, int max, char *err, size_t errlen)
{
	return eng_vocab_encode_ex(m ? m->vocab : NULL, text, add_bos, parse_special, out, max, err, errlen);
}

int eng_token_to_piece(const struct eng_model *m, int32_t prev, int32_t tok, char *buf, size_t len)
{
	return eng_vocab_decode(m ? m->vocab : NULL, prev, tok, buf, len);
}
