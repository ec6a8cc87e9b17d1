/*
 * engine/llama2c.c — import of llama2.c checkpoints (legacy version 0 .bin, as run.c reads them)
 * and their tokenizer.bin into an F32 GGUF file.
 *
 * Checkpoint layout (run.c): a header of seven int32 — dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size (negative: the classifier is not shared with the embedding), seq_len —
 * then float32 arrays: token_embedding_table (vocab, dim), rms_att_weight (layers, dim),
 * wq (layers, dim, dim), wk (layers, kv_dim, dim), wv (layers, kv_dim, dim), wo (layers, dim, dim),
 * rms_ffn_weight (layers, dim), w1 (layers, hidden, dim), w2 (layers, dim, hidden),
 * w3 (layers, hidden, dim), rms_final_weight (dim), freq_cis_real and freq_cis_imag
 * (seq_len, head_size/2 each, unused), and wcls (vocab, dim) when not shared.
 * Every matrix is (out, in) row-major, which is ggml's layout with ne[0] = in.
 *
 * Q/K are written as they are: llama2.c trains with RoPE on adjacent pairs (2i, 2i+1), which is
 * the "normal" layout GGUF llama files use (see gguf.h), so no permutation is needed.
 */
#include "engine/gguf.h"
#include "engine/kernels.h"
#include "engine/loader.h"
#include "engine/tokenizer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct l2c_hdr {
	int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

int eng_llama2c_import(const char *ckpt, const char *tokenizer, const char *out_path, char *err,
		       size_t errlen)
{
	struct l2c_hdr h;
	struct eng_config c = { 0 };
	struct eng_vocab *v = NULL;
	struct gguf_writer *w = NULL;
	void *map = MAP_FAILED;
	struct stat st;
	uint64_t need;
	bool shared;
	char name[256];
	int fd = -1, rc = -EINVAL;

	fd = open(ckpt, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", ckpt, strerror(errno));
		goto out;
	}
	if (st.st_size < (off_t)sizeof h) {
		snprintf(err, errlen, "%s: truncated at byte %lld while reading the llama2.c header (28 bytes)",
			 ckpt, (long long)st.st_size);
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		snprintf(err, errlen, "%s: mmap: %s", ckpt, strerror(errno));
		goto out;
	}
	memcpy(&h, map, sizeof h);
	shared = h.vocab_size > 0;
	c.dim = h.dim;
	c.hidden_dim = h.hidden_dim;
	c.n_layers = h.n_layers;
	c.n_heads = h.n_heads;
	c.n_kv_heads = h.n_kv_heads;
	c.vocab_size = h.vocab_size == INT32_MIN ? 0 : abs(h.vocab_size);
	c.seq_len = h.seq_len;
	c.head_dim = h.n_heads > 0 && h.dim % h.n_heads == 0 ? h.dim / h.n_heads : 0;
	c.rope_dim = c.head_dim;
	c.rope_theta = 10000.0f; /* run.c's RoPE base */
	c.norm_eps = 1e-5f;      /* run.c's rmsnorm epsilon */
	if ((rc = eng_config_check(&c, ckpt, err, errlen)))
		goto out;
	{
		const uint64_t dim = (uint64_t)c.dim, kv = (uint64_t)c.n_kv_heads * (uint64_t)c.head_dim,
			       L = (uint64_t)c.n_layers, hid = (uint64_t)c.hidden_dim, V = (uint64_t)c.vocab_size;

		need = V * dim + L * dim + L * dim * dim + 2 * L * kv * dim + L * dim * dim + L * dim +
		       3 * L * hid * dim + dim + (uint64_t)c.seq_len * (uint64_t)c.head_dim +
		       (shared ? 0 : V * dim);
		need = sizeof h + need * 4;
	}
	if ((uint64_t)st.st_size < need) {
		snprintf(err, errlen, "%s: truncated: the header (dim %d, hidden %d, %d layers, vocab %d, seq_len %d) needs %llu bytes, the file has %lld",
			 ckpt, c.dim, c.hidden_dim, c.n_layers, c.vocab_size, c.seq_len, (unsigned long long)need,
			 (long long)st.st_size);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = eng_vocab_from_llama2c(tokenizer, c.vocab_size, &v, err, errlen)))
		goto out;

	w = gguf_writer_new();
	if (!w) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	{
		const char *slash = strrchr(ckpt, '/');
		size_t n = strlen(slash ? slash + 1 : ckpt);

		snprintf(name, sizeof name, "%.*s", (int)(n > 4 && !strcmp(ckpt + strlen(ckpt) - 4, ".bin") ? n - 4 : n),
			 slash ? slash + 1 : ckpt);
	}
	rc = gguf_w_str(w, "general.architecture", "llama") || gguf_w_str(w, "general.name", name) ||
	     gguf_w_str(w, "general.source.format", "llama2.c checkpoint v0") ||
	     gguf_w_u32(w, "general.alignment", 32) || gguf_w_u32(w, "general.file_type", 0) ||
	     gguf_w_u32(w, "llama.context_length", (uint32_t)c.seq_len) ||
	     gguf_w_u32(w, "llama.embedding_length", (uint32_t)c.dim) ||
	     gguf_w_u32(w, "llama.block_count", (uint32_t)c.n_layers) ||
	     gguf_w_u32(w, "llama.feed_forward_length", (uint32_t)c.hidden_dim) ||
	     gguf_w_u32(w, "llama.attention.head_count", (uint32_t)c.n_heads) ||
	     gguf_w_u32(w, "llama.attention.head_count_kv", (uint32_t)c.n_kv_heads) ||
	     gguf_w_f32(w, "llama.rope.freq_base", c.rope_theta) ||
	     gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", c.norm_eps) ||
	     gguf_w_u32(w, "llama.rope.dimension_count", (uint32_t)c.rope_dim) ||
	     gguf_w_u32(w, "llama.vocab_size", (uint32_t)c.vocab_size) || eng_vocab_write_gguf(v, w)
		     ? -ENOMEM
		     : 0;
	if (rc) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}

	/* Tensors in the checkpoint's order; `src` records where each one's data starts. */
	{
		const int64_t dim = c.dim, kv = (int64_t)c.n_kv_heads * c.head_dim, hid = c.hidden_dim,
			      V = c.vocab_size, L = c.n_layers;
		const float *tok = (const float *)((const char *)map + sizeof h);
		const float *att_norm = tok + V * dim, *wq = att_norm + L * dim, *wk = wq + L * dim * dim,
			    *wv = wk + L * kv * dim, *wo = wv + L * kv * dim, *ffn_norm = wo + L * dim * dim,
			    *w1 = ffn_norm + L * dim, *w2 = w1 + L * hid * dim, *w3 = w2 + L * dim * hid,
			    *fnorm = w3 + L * hid * dim, *wcls = fnorm + dim + (int64_t)c.seq_len * c.head_dim;
		struct {
			char name[64];
			int n_dims;
			int64_t ne[2];
			const float *src;
		} *t = calloc((size_t)L * 9 + 3, sizeof *t);
		int n = 0;

		if (!t) {
			rc = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
#define ADD(nm, nd, e0, e1, s)                                                                      \
	do {                                                                                       \
		snprintf(t[n].name, sizeof t[n].name, "%s", nm);                                    \
		t[n].n_dims = nd;                                                                  \
		t[n].ne[0] = e0;                                                                   \
		t[n].ne[1] = e1;                                                                   \
		t[n].src = s;                                                                      \
		n++;                                                                               \
	} while (0)
		ADD("token_embd.weight", 2, dim, V, tok);
		for (int64_t l = 0; l < L; l++) {
			char nm[64];

			snprintf(nm, sizeof nm, "blk.%lld.attn_norm.weight", (long long)l);
			ADD(nm, 1, dim, 1, att_norm + l * dim);
			snprintf(nm, sizeof nm, "blk.%lld.attn_q.weight", (long long)l);
			ADD(nm, 2, dim, dim, wq + l * dim * dim);
			snprintf(nm, sizeof nm, "blk.%lld.attn_k.weight", (long long)l);
			ADD(nm, 2, dim, kv, wk + l * kv * dim);
			snprintf(nm, sizeof nm, "blk.%lld.attn_v.weight", (long long)l);
			ADD(nm, 2, dim, kv, wv + l * kv * dim);
			snprintf(nm, sizeof nm, "blk.%lld.attn_output.weight", (long long)l);
			ADD(nm, 2, dim, dim, wo + l * dim * dim);
			snprintf(nm, sizeof nm, "blk.%lld.ffn_norm.weight", (long long)l);
			ADD(nm, 1, dim, 1, ffn_norm + l * dim);
			snprintf(nm, sizeof nm, "blk.%lld.ffn_gate.weight", (long long)l);
			ADD(nm, 2, dim, hid, w1 + l * hid * dim);
			snprintf(nm, sizeof nm, "blk.%lld.ffn_down.weight", (long long)l);
			ADD(nm, 2, hid, dim, w2 + l * dim * hid);
			snprintf(nm, sizeof nm, "blk.%lld.ffn_up.weight", (long long)l);
			ADD(nm, 2, dim, hid, w3 + l * hid * dim);
		}
		ADD("output_norm.weight", 1, dim, 1, fnorm);
		if (!shared)
			ADD("output.weight", 2, dim, V, wcls);
#undef ADD
		for (int i = 0; i < n && !rc; i++)
			rc = gguf_w_tensor(w, t[i].name, ENG_TYPE_F32, t[i].n_dims, t[i].ne);
		if (!rc)
			rc = gguf_writer_open(w, out_path);
		for (int i = 0; i < n && !rc; i++)
			rc = gguf_writer_write(w, t[i].src, (size_t)(t[i].ne[0] * t[i].ne[1]) * sizeof(float));
		if (!rc)
			rc = gguf_writer_finish(w);
		if (rc)
			snprintf(err, errlen, "%s: %s", out_path, gguf_writer_error(w));
		free(t);
	}
out:
	gguf_writer_free(w);
	eng_vocab_free(v);
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	if (fd >= 0)
		close(fd);
	return rc;
}
