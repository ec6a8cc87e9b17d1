/*
 * engine/pretok.c — hand-written matchers for the BPE pre-tokenizer regexes (see pretok.h).
 *
 * A pre-tokenizer is a list of expressions applied in turn: the first splits the text into
 * matches and the stretches between them; each later one splits every piece the same way again
 * (llama.cpp's unicode_regex_split). A matcher gets the piece [.., end) and a position and
 * returns the length of the match there, or 0; a lookahead at the end of the piece sees nothing.
 */
#include "engine/pretok.h"

#include <string.h>
#include <utf8proc.h>

static int category(uint32_t cp)
{
	return cp > 0x10FFFF ? UTF8PROC_CATEGORY_CN : (int)utf8proc_category((utf8proc_int32_t)cp);
}

int eng_cp_is_letter(uint32_t cp)
{
	int c;

	if (cp < 0x80)
		return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
	c = category(cp);
	return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

int eng_cp_is_number(uint32_t cp)
{
	int c;

	if (cp < 0x80)
		return cp >= '0' && cp <= '9';
	c = category(cp);
	return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}

/* The Unicode White_Space property: \t..\r, space, U+0085 and the Zs, Zl, Zp separators. */
int eng_cp_is_space(uint32_t cp)
{
	int c;

	if (cp < 0x80)
		return cp == ' ' || (cp >= '\t' && cp <= '\r');
	if (cp == 0x85)
		return 1;
	c = category(cp);
	return c >= UTF8PROC_CATEGORY_ZS && c <= UTF8PROC_CATEGORY_ZP;
}

static int is_punct(uint32_t cp)
{
	int c = category(cp);

	return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

static int is_crlf(uint32_t cp)
{
	return cp == '\r' || cp == '\n';
}

/* [^\s\p{L}\p{N}] */
static int is_other(uint32_t cp)
{
	return !eng_cp_is_space(cp) && !eng_cp_is_letter(cp) && !eng_cp_is_number(cp);
}

static uint32_t ascii_lower(uint32_t cp)
{
	return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
}

/* 's|'t|'re|'ve|'m|'ll|'d, optionally ASCII case-insensitive: length of the match or 0. */
static size_t contraction(const uint32_t *c, size_t i, size_t end, int icase)
{
	uint32_t a, b;

	if (c[i] != '\'' || i + 1 >= end)
		return 0;
	a = icase ? ascii_lower(c[i + 1]) : c[i + 1];
	b = i + 2 < end ? (icase ? ascii_lower(c[i + 2]) : c[i + 2]) : 0;
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return 2;
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return 3;
	return 0;
}

/* End of the run of whitespace starting at i. */
static size_t space_run(const uint32_t *c, size_t i, size_t end)
{
	while (i < end && eng_cp_is_space(c[i]))
		i++;
	return i;
}

/* \s+(?!\S)|\s+ at a whitespace code point i: the whole run when it reaches the end of the
 * piece, else all but its last code point (which then starts the next word), else one. */
static size_t trailing_space(const uint32_t *c, size_t i, size_t end)
{
	size_t e = space_run(c, i, end);

	if (e == end || e - i == 1)
		return e - i;
	return e - 1 - i;
}

/*
 * Llama 3 and Qwen2 (max_digits 3 or 1):
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 */
static size_t match_llama3(const uint32_t *c, size_t i, size_t end, int max_digits)
{
	uint32_t x = c[i];
	size_t j;

	if ((j = contraction(c, i, end, 1)))
		return j;
	if (eng_cp_is_letter(x) ||
	    (!is_crlf(x) && !eng_cp_is_number(x) && i + 1 < end && eng_cp_is_letter(c[i + 1]))) {
		for (j = i + 1; j < end && eng_cp_is_letter(c[j]); j++)
			;
		return j - i;
	}
	if (eng_cp_is_number(x)) {
		for (j = i + 1; j < end && j - i < (size_t)max_digits && eng_cp_is_number(c[j]);
		     j++)
			;
		return j - i;
	}
	j = x == ' ' && i + 1 < end && is_other(c[i + 1]) ? i + 1 : i;
	if (is_other(c[j])) {
		while (j < end && is_other(c[j]))
			j++;
		while (j < end && is_crlf(c[j]))
			j++;
		return j - i;
	}
	if (eng_cp_is_space(x)) {
		size_t e = space_run(c, i, end);

		/* \s*[\r\n]+: backtracking leaves the match at the last CR or LF of the run */
		for (j = e; j > i; j--)
			if (is_crlf(c[j - 1]))
				return j - i;
		return trailing_space(c, i, end);
	}
	return 0;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t match_gpt2(const uint32_t *c, size_t i, size_t end)
{
	size_t j;

	if ((j = contraction(c, i, end, 0)))
		return j;
	j = c[i] == ' ' && i + 1 < end ? i + 1 : i;
	if (eng_cp_is_letter(c[j]) || eng_cp_is_number(c[j]) || is_other(c[j])) {
		int (*cls)(uint32_t) = eng_cp_is_letter(c[j])   ? eng_cp_is_letter
		                       : eng_cp_is_number(c[j]) ? eng_cp_is_number
		                                                : is_other;

		while (j < end && cls(c[j]))
			j++;
		return j - i;
	}
	return eng_cp_is_space(c[i]) ? trailing_space(c, i, end) : 0;
}

/* [\p{P}\$\+<=>\^~\|]+ */
static size_t match_punct_run(const uint32_t *c, size_t i, size_t end)
{
	size_t j = i;

	while (j < end && (is_punct(c[j]) || c[j] == '$' || c[j] == '+' || c[j] == '<' ||
	                   c[j] == '=' || c[j] == '>' || c[j] == '^' || c[j] == '~' || c[j] == '|'))
		j++;
	return j - i;
}

static size_t match_number_run(const uint32_t *c, size_t i, size_t end)
{
	size_t j = i;

	while (j < end && eng_cp_is_number(c[j]))
		j++;
	return j - i;
}

/* [0-9][0-9][0-9] */
static size_t match_digits3(const uint32_t *c, size_t i, size_t end)
{
	if (i + 3 > end)
		return 0;
	for (size_t k = i; k < i + 3; k++)
		if (c[k] < '0' || c[k] > '9')
			return 0;
	return 3;
}

enum expr { X_LLAMA3, X_QWEN2, X_GPT2, X_NUMBER, X_PUNCT_RUN, X_NUMBER_RUN, X_DIGITS3, X_END };

static size_t match(enum expr x, const uint32_t *c, size_t i, size_t end)
{
	switch (x) {
	case X_LLAMA3:
		return match_llama3(c, i, end, 3);
	case X_QWEN2:
		return match_llama3(c, i, end, 1);
	case X_GPT2:
		return match_gpt2(c, i, end);
	case X_NUMBER:
		return eng_cp_is_number(c[i]) ? 1 : 0;
	case X_PUNCT_RUN:
		return match_punct_run(c, i, end);
	case X_NUMBER_RUN:
		return match_number_run(c, i, end);
	case X_DIGITS3:
		return match_digits3(c, i, end);
	case X_END:
		break;
	}
	return 0;
}

static const struct {
	const char *name;
	enum eng_pretok pre;
} names[] = {
    {"default", ENG_PRE_DEFAULT}, {"llama-bpe", ENG_PRE_LLAMA3},
    {"llama3", ENG_PRE_LLAMA3},   {"llama-v3", ENG_PRE_LLAMA3},
    {"qwen2", ENG_PRE_QWEN2},     {"deepseek-r1-qwen", ENG_PRE_QWEN2},
    {"gpt-2", ENG_PRE_GPT2},      {"gpt2", ENG_PRE_GPT2},
    {"smollm", ENG_PRE_SMOLLM},
};

static const enum expr exprs[][5] = {
    [ENG_PRE_DEFAULT] = {X_PUNCT_RUN, X_GPT2, X_NUMBER_RUN, X_DIGITS3, X_END},
    [ENG_PRE_LLAMA3] = {X_LLAMA3, X_END},
    [ENG_PRE_QWEN2] = {X_QWEN2, X_END},
    [ENG_PRE_GPT2] = {X_GPT2, X_END},
    [ENG_PRE_SMOLLM] = {X_NUMBER, X_GPT2, X_END},
};

int eng_pretok_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(name, names[i].name))
			return (int)names[i].pre;
	return -1;
}

const char *eng_pretok_names(void)
{
	return "default, llama-bpe (llama3, llama-v3), qwen2, deepseek-r1-qwen, gpt-2 (gpt2), "
	       "smollm";
}

/* Splits the piece [start, end) with one expression, appending word ends to out. */
static size_t split_piece(enum expr x, const uint32_t *c, size_t start, size_t end, size_t *out)
{
	size_t n = 0, pos = start;

	while (pos < end) {
		size_t len = match(x, c, pos, end);

		if (!len) {
			pos++;
			continue;
		}
		if (pos > start)
			out[n++] = pos;
		pos += len;
		out[n++] = pos;
		start = pos;
	}
	if (start < end)
		out[n++] = end;
	return n;
}

size_t eng_pretok_split(int pre, const uint32_t *cps, size_t n, size_t *ends, size_t *tmp)
{
	size_t n_words = 0;

	if (!n)
		return 0;
	if (pre < 0 || pre > ENG_PRE_SMOLLM)
		pre = ENG_PRE_DEFAULT;
	ends[n_words++] = n;
	for (const enum expr *x = exprs[pre]; *x != X_END; x++) {
		size_t k = 0, start = 0;

		memcpy(tmp, ends, n_words * sizeof *tmp);
		for (size_t w = 0; w < n_words; w++) {
			k += split_piece(*x, cps, start, tmp[w], ends + k);
			start = tmp[w];
		}
		n_words = k;
	}
	return n_words;
}
