/*
 * engine/forward_batch.c — several sequences in one context: per-sequence prefill and batched
 * decode, for a server that runs one request per sequence (slot).
 *
 * A decode step of B sequences is one pass through the layers with B rows (engine/forward.h):
 * every matmul runs once with n_tok = B, so each weight is read from memory once per step instead
 * of once per sequence, which is what makes concurrent requests cheaper than the same requests
 * one after the other. Row t of the batch is sequence seq[t] at its own position; RoPE, the KV
 * store and attention use that row's sequence and position.
 */
#include "engine/engine.h"
#include "engine/forward.h"

#include <errno.h>
#include <string.h>

int eng_ctx_n_seq(const struct eng_ctx *c)
{
	return c->n_seq;
}

int eng_seq_pos(const struct eng_ctx *c, int seq)
{
	return seq >= 0 && seq < c->n_seq ? c->seq_pos[seq] : -1;
}

void eng_seq_reset(struct eng_ctx *c, int seq)
{
	if (seq >= 0 && seq < c->n_seq)
		c->seq_pos[seq] = 0;
}

int eng_seq_prefill(struct eng_ctx *c, int seq, const int32_t *tokens, int n, float *logits)
{
	if (seq < 0 || seq >= c->n_seq) {
		eng_fwd_error(c, "sequence %d is outside 0..%d", seq, c->n_seq - 1);
		return -EINVAL;
	}
	return eng_fwd_prefill(c, seq, tokens, n, logits, NULL);
}

int eng_decode_batch(struct eng_ctx *c, const int *seq, const int32_t *tokens, int n, float *logits)
{
	const int vocab = c->cfg.vocab_size;

	if (!seq || !tokens || !logits || n < 1 || n > c->n_seq) {
		eng_fwd_error(c, "a decode batch needs 1..%d tokens, their sequences and a logits buffer",
			      c->n_seq);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (seq[i] < 0 || seq[i] >= c->n_seq) {
			eng_fwd_error(c, "sequence %d at index %d is outside 0..%d", seq[i], i, c->n_seq - 1);
			return -EINVAL;
		}
		for (int j = 0; j < i; j++)
			if (seq[j] == seq[i]) {
				eng_fwd_error(c, "sequence %d appears twice in one decode batch", seq[i]);
				return -EINVAL;
			}
		if (tokens[i] < 0 || tokens[i] >= vocab) {
			eng_fwd_error(c, "token %d at index %d is outside the vocabulary (0..%d)", tokens[i], i,
				      vocab - 1);
			return -EINVAL;
		}
		if (c->seq_pos[seq[i]] >= c->n_ctx) {
			eng_fwd_error(c, "context full: sequence %d holds %d tokens, the context is %d", seq[i],
				      c->seq_pos[seq[i]], c->n_ctx);
			return -ENOSPC;
		}
	}
	for (int i = 0; i < n; i++) {
		c->tok_seq[i] = seq[i];
		c->tok_pos[i] = c->seq_pos[seq[i]];
	}
	eng_fwd_rows(c, tokens, n);
	for (int i = 0; i < n; i++)
		c->seq_pos[seq[i]]++;
	eng_fwd_logits(c, 0, n, logits);
	return 0;
}
