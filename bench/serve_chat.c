/*
 * bench/serve_chat.c — chat messages to a prompt, for /v1/chat/completions.
 *
 * Two templates, chosen by the vocabulary:
 *   chatml  when "<|im_start|>" and "<|im_end|>" are single tokens (Qwen and other ChatML models):
 *           <|im_start|>ROLE\nCONTENT<|im_end|>\n ... <|im_start|>assistant\n
 *           and <|im_end|> ends the answer as the end-of-sequence token does;
 *   llama2  otherwise (Llama 2 chat, and the SentencePiece models joulebench ships with):
 *           [INST] <<SYS>>\nSYSTEM\n<</SYS>>\n\nUSER [/INST] ASSISTANT </s><s>[INST] USER [/INST]
 *           (the tokenizer adds the first <s>; the later <s> and </s> become control tokens).
 */
#include "bench/serve.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The id of `text` when it is one control token of the vocabulary, else -1. */
static int32_t single_token(const struct eng_model *m, const char *text)
{
	int32_t tok[4];
	char err[128];

	if (!eng_has_vocab(m))
		return -1;
	return eng_tokenize_ex(m, text, false, true, tok, 4, err, sizeof err) == 1 ? tok[0] : -1;
}

const char *srv_chat_template(const struct eng_model *m)
{
	return single_token(m, "<|im_start|>") >= 0 && single_token(m, "<|im_end|>") >= 0 ? "chatml" : "llama2";
}

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap + n) * 2 + 64;
		char *t = realloc(b->p, cap);

		if (!t) {
			b->oom = true;
			return;
		}
		b->p = t;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

/* A message's content as text: a string, null, or an array of {"type":"text","text":...} parts.
 * Returns 0, or -1 with a message in err. */
static int content_text(const cJSON *c, struct sbuf *b, char *err, size_t errlen)
{
	const cJSON *part;

	if (!c || cJSON_IsNull(c))
		return 0;
	if (cJSON_IsString(c)) {
		put(b, c->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(c)) {
		snprintf(err, errlen, "message content must be a string or an array of text parts");
		return -1;
	}
	cJSON_ArrayForEach(part, c) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");

		if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text)) {
			snprintf(err, errlen, "only text content parts are supported");
			return -1;
		}
		put(b, text->valuestring);
	}
	return 0;
}

char *srv_chat_prompt(const struct eng_model *m, const cJSON *messages, int32_t *extra_eos, char *err,
		      size_t errlen)
{
	struct sbuf b = { 0 }, sys = { 0 };
	const cJSON *msg;
	bool chatml = !strcmp(srv_chat_template(m), "chatml"), first_user = true;

	*extra_eos = chatml ? single_token(m, "<|im_end|>") : -1;
	if (!cJSON_IsArray(messages) || cJSON_GetArraySize(messages) == 0) {
		snprintf(err, errlen, "'messages' must be a non-empty array");
		return NULL;
	}
	put(&b, "");
	cJSON_ArrayForEach(msg, messages) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
		struct sbuf text = { 0 };
		const char *r;

		if (!cJSON_IsObject(msg) || !cJSON_IsString(role)) {
			snprintf(err, errlen, "every message needs a string 'role'");
			goto fail;
		}
		r = role->valuestring;
		if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant")) {
			snprintf(err, errlen, "message role '%.32s' is not supported (system, user, assistant)", r);
			goto fail;
		}
		put(&text, "");
		if (content_text(cJSON_GetObjectItemCaseSensitive(msg, "content"), &text, err, errlen)) {
			free(text.p);
			goto fail;
		}
		if (chatml) {
			put(&b, "<|im_start|>");
			put(&b, r);
			put(&b, "\n");
			put(&b, text.p ? text.p : "");
			put(&b, "<|im_end|>\n");
		} else if (!strcmp(r, "system")) {
			put(&sys, text.p ? text.p : ""); /* goes into the first [INST] */
		} else if (!strcmp(r, "user")) {
			put(&b, first_user ? "[INST] " : "<s>[INST] ");
			if (first_user && sys.len) {
				put(&b, "<<SYS>>\n");
				put(&b, sys.p);
				put(&b, "\n<</SYS>>\n\n");
			}
			put(&b, text.p ? text.p : "");
			put(&b, " [/INST]");
			first_user = false;
		} else {
			put(&b, " ");
			put(&b, text.p ? text.p : "");
			put(&b, " </s>");
		}
		free(text.p);
	}
	if (chatml)
		put(&b, "<|im_start|>assistant\n");
	else if (first_user) { /* only a system message */
		put(&b, "[INST] <<SYS>>\n");
		put(&b, sys.p ? sys.p : "");
		put(&b, "\n<</SYS>>\n\n [/INST]");
	}
	free(sys.p);
	if (b.oom) {
		snprintf(err, errlen, "out of memory for the chat prompt");
		free(b.p);
		return NULL;
	}
	return b.p;
fail:
	free(sys.p);
	free(b.p);
	return NULL;
}
