/*
 * engine/pretok.h — private to engine/: the pre-tokenizers of byte-level BPE vocabularies.
 *
 * Before BPE merges run, a GGUF "gpt2" vocabulary splits text into words with the regular
 * expressions its tokenizer.ggml.pre names (llama.cpp's table, from each model's tokenizer.json).
 * Each expression is matched here by hand, code point by code point, with the same leftmost,
 * first-alternative, greedy-with-backtracking result a regex engine gives. Letter, number,
 * punctuation and space classes come from utf8proc's Unicode data.
 */
#ifndef JB_ENGINE_PRETOK_H
#define JB_ENGINE_PRETOK_H

#include <stddef.h>
#include <stdint.h>

enum eng_pretok {
	ENG_PRE_DEFAULT, /* llama.cpp's fallback: punctuation runs, GPT-2, \p{N}+, digit triples */
	ENG_PRE_LLAMA3,  /* Llama 3: \p{N}{1,3}, case-insensitive contractions */
	ENG_PRE_QWEN2,   /* Qwen2/2.5/3, DeepSeek-R1 Qwen distills: as Llama 3 with single \p{N} */
	ENG_PRE_GPT2,    /* GPT-2: 's|'t|... ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
	ENG_PRE_SMOLLM,  /* each \p{N} alone, then GPT-2 */
};

/* The pre-tokenizer a tokenizer.ggml.pre name selects, or -1 for a name not supported. */
int eng_pretok_from_name(const char *name);
/* The names accepted, comma separated, for messages. */
const char *eng_pretok_names(void);

/*
 * Splits cps[0..n) into words. Writes the end offset (exclusive) of each word, in order, to
 * ends (room for n entries; every word is at least one code point) and returns the word count.
 * tmp is scratch space for n entries.
 */
size_t eng_pretok_split(int pre, const uint32_t *cps, size_t n, size_t *ends, size_t *tmp);

/* Unicode classes as the pre-tokenizer regexes use them (\p{L}, \p{N}, \p{P}, \s). */
int eng_cp_is_letter(uint32_t cp);
int eng_cp_is_number(uint32_t cp);
int eng_cp_is_space(uint32_t cp);

#endif
