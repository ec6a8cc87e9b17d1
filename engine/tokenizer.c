/*
 * engine/tokenizer.c — vocabularies and SentencePiece BPE encoding by scores.
 *
 * Encoding follows llama.cpp's SPM tokenizer: prefix the text with a space (add_space_prefix),
 * write every space as "▁", split into UTF-8 characters, then repeatedly merge the adjacent pair
 * whose concatenation is the highest-scoring vocabulary piece (ties: leftmost pair first). A
 * symbol left that is not a piece becomes its bytes' <0xNN> tokens. llama2.c's encoder does the
 * same, except that a character outside the vocabulary turns into byte tokens before merging;
 * vocabularies read from a tokenizer.bin keep that rule (such characters never merge). For
 * SentencePiece BPE vocabularies the two agree, since every merged piece's parts are pieces.
 */
#include "engine/tokenizer.h"

#include "engine/model.h"

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
	else if (strcmp(model, "llama"))
		snprintf(v->error, sizeof v->error,
			 "%s: tokenizer model '%s' is not supported (only 'llama', SentencePiece BPE); "
			 "benchmarks can still run from token counts",
			 f->path, model);
	if (build_index(v)) {
		eng_vocab_free(v);
		snprintf(err, errlen, "%s: out of memory for the vocabulary", f->path);
		return -ENOMEM;
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
		s[n_sym] = (struct sym){ n_sym - 1, n_sym + 1, (uint32_t)i, k, false };
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

/* The special token whose text starts at p (longest wins), or -1. */
static int32_t special_at(const struct eng_vocab *v, const char *p, size_t left, bool parse_special)
{
	int32_t best = -1;

	for (int k = 0; k < v->n_special; k++) {
		int32_t id = v->special[k];
		uint32_t len = v->len[id];

		if (!parse_special && v->type[id] != ENG_TOK_USER_DEFINED)
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
	if (add_bos && v->bos >= 0)
		emit(v->bos, out, max, &n);
	for (size_t i = 0; i <= tlen;) {
		int32_t sp = i < tlen ? special_at(v, text + i, tlen - i, parse_special) : -1;

		if (sp < 0 && i < tlen) {
			i++;
			continue;
		}
		/* raw text [start, i), then the special token (if any). Every raw fragment is at the
		 * start or follows a special token, and gets the space prefix (as in llama.cpp). */
		if (i > start && encode_raw(v, text + start, i - start, v->add_space_prefix, out, max, &n)) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if (sp < 0)
			break;
		emit(sp, out, max, &n);
		i += v->len[sp];
		start = i;
	}
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
