/*
 * engine/tokenizer.h — private to engine/: vocabularies, the SentencePiece BPE tokenizer and the
 * byte-level BPE tokenizer.
 *
 * A vocabulary holds pieces in GGUF form ("▁" U+2581 for a space and "<0xNN>" byte tokens for
 * SentencePiece; GPT-2's byte characters, "Ġ" for a space, for byte-level BPE), scores or merge
 * ranks, and llama.cpp token types. It comes from a GGUF file (tokenizer.ggml.model = "llama" or
 * "gpt2"), from a llama2.c tokenizer.bin (converted to the same form, as llama.cpp's llama2.c
 * converter does), or is a generated placeholder for synthetic models. eng_tokenize() and
 * eng_token_to_piece() in engine.h use it.
 */
#ifndef JB_ENGINE_TOKENIZER_H
#define JB_ENGINE_TOKENIZER_H

#include "engine/gguf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* llama.cpp token types (tokenizer.ggml.token_type). */
enum eng_tok_type {
	ENG_TOK_UNDEFINED = 0,
	ENG_TOK_NORMAL = 1,
	ENG_TOK_UNKNOWN = 2,
	ENG_TOK_CONTROL = 3,
	ENG_TOK_USER_DEFINED = 4,
	ENG_TOK_UNUSED = 5,
	ENG_TOK_BYTE = 6,
};

struct eng_vocab;

/*
 * Loads the vocabulary of a GGUF file. *out is NULL when the file has no tokenizer.ggml.tokens.
 * A tokenizer model other than "llama" or "gpt2", or a "gpt2" one whose tokenizer.ggml.pre is not
 * supported, gives a vocabulary that cannot encode: eng_has_vocab() is false and eng_tokenize()
 * fails with a message naming the file and the key. A "gpt2" vocabulary without
 * tokenizer.ggml.merges, or with a merge naming a token not in the vocabulary, is an error.
 * Returns 0 or -errno (message in err).
 */
int eng_vocab_from_gguf(const struct gguf_file *f, struct eng_vocab **out, char *err, size_t errlen);
/* Reads a llama2.c tokenizer.bin with n_vocab entries. */
int eng_vocab_from_llama2c(const char *path, int n_vocab, struct eng_vocab **out, char *err,
			   size_t errlen);
/* <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF>, then unique placeholder pieces. */
struct eng_vocab *eng_vocab_placeholder(int n_vocab);
void eng_vocab_free(struct eng_vocab *v);

int eng_vocab_size(const struct eng_vocab *v);
/* Empty when the vocabulary can encode; otherwise why not. */
const char *eng_vocab_error(const struct eng_vocab *v);
const char *eng_vocab_piece(const struct eng_vocab *v, int id, size_t *len);
int32_t eng_vocab_bos(const struct eng_vocab *v);
int32_t eng_vocab_eos(const struct eng_vocab *v);

/* Writes tokenizer.ggml.{model,tokens,scores,token_type,bos_token_id,eos_token_id,
 * unknown_token_id,add_bos_token,add_eos_token} for a llama.cpp-loadable file; for byte-level BPE
 * model "gpt2", pre and merges instead of scores and unknown_token_id. */
int eng_vocab_write_gguf(const struct eng_vocab *v, struct gguf_writer *w);

/* Encodes as eng_tokenize() / eng_tokenize_ex() do (see engine.h). */
int eng_vocab_encode(const struct eng_vocab *v, const char *text, bool add_bos, int32_t *out, int max,
		     char *err, size_t errlen);
int eng_vocab_encode_ex(const struct eng_vocab *v, const char *text, bool add_bos, bool parse_special,
			int32_t *out, int max, char *err, size_t errlen);
/* Printable text of tok after prev, as eng_token_to_piece() does. */
int eng_vocab_decode(const struct eng_vocab *v, int32_t prev, int32_t tok, char *buf, size_t len);

#endif
