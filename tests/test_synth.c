/*
 * tests/test_synth.c — named shapes, deterministic synthetic models in memory and as GGUF files
 * (same weights bit for bit), weight statistics, the vocabulary written with them, and that
 * activations stay finite through every layer.
 */
#include "helpers/testutil.h"

#include "engine/engine.h"
#include "engine/gguf.h"
#include "engine/kernels.h"
#include "engine/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_shapes(void **state)
{
	static const struct {
		const char *name;
		int dim, hidden, layers, heads, kv, vocab, ctx;
		bool tied;
	} want[] = {
		{ "bench-1b", 2048, 5632, 16, 32, 8, 32000, 2048, false },
		{ "tinyllama-1.1b", 2048, 5632, 22, 32, 4, 32000, 2048, false },
		{ "llama-2-7b", 4096, 11008, 32, 32, 32, 32000, 4096, false },
		{ "llama-3-8b", 4096, 14336, 32, 32, 8, 128256, 8192, false },
		{ "llama-3.2-1b", 2048, 8192, 16, 32, 8, 128256, 131072, true },
		{ "mistral-7b", 4096, 14336, 32, 32, 8, 32000, 32768, false },
		{ "stories260k", 64, 172, 5, 8, 4, 512, 512, true },
		{ "stories15m", 288, 768, 6, 6, 6, 32000, 256, true },
		{ "stories110m", 768, 2048, 12, 12, 12, 32000, 1024, true },
	};
	struct eng_shape s, *list = NULL;
	char err[1024];
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(eng_shape_load(want[i].name, &s, err, sizeof err), 0);
		assert_int_equal(s.cfg.dim, want[i].dim);
		assert_int_equal(s.cfg.hidden_dim, want[i].hidden);
		assert_int_equal(s.cfg.n_layers, want[i].layers);
		assert_int_equal(s.cfg.n_heads, want[i].heads);
		assert_int_equal(s.cfg.n_kv_heads, want[i].kv);
		assert_int_equal(s.cfg.vocab_size, want[i].vocab);
		assert_int_equal(s.cfg.seq_len, want[i].ctx);
		assert_int_equal(s.cfg.head_dim, want[i].dim / want[i].heads);
		assert_int_equal(s.tied, want[i].tied);
		assert_true(strlen(s.source) > 20);
	}
	assert_int_equal(eng_shape_load("llama-3-8b", &s, err, sizeof err), 0);
	assert_true(s.cfg.rope_theta == 500000.0f);
	n = eng_shape_list(&list, err, sizeof err);
	assert_true(n >= 9);
	for (int i = 1; i < n; i++)
		assert_true(strcmp(list[i - 1].name, list[i].name) < 0);
	free(list);
	assert_int_equal(eng_shape_load("no-such-shape", &s, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "unknown shape 'no-such-shape'"));
	assert_int_equal(eng_shape_load("../etc/passwd", &s, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "invalid shape name"));
}

/* The architecture shapes: architecture, head_dim, RoPE and features as their config.json say. */
static void test_arch_shapes(void **state)
{
	static const struct {
		const char *name;
		int arch, dim, layers, heads, kv, head_dim, vocab;
		bool tied;
		float theta, llama3;
	} want[] = {
		{ "llama-3.2-1b", ENG_ARCH_LLAMA, 2048, 16, 32, 8, 64, 128256, true, 500000.0f, 32.0f },
		{ "llama-3.2-3b", ENG_ARCH_LLAMA, 3072, 28, 24, 8, 128, 128256, true, 500000.0f, 32.0f },
		{ "llama-3.1-8b", ENG_ARCH_LLAMA, 4096, 32, 32, 8, 128, 128256, false, 500000.0f, 8.0f },
		{ "qwen2.5-0.5b", ENG_ARCH_QWEN2, 896, 24, 14, 2, 64, 151936, true, 1e6f, 0 },
		{ "qwen2.5-1.5b", ENG_ARCH_QWEN2, 1536, 28, 12, 2, 128, 151936, true, 1e6f, 0 },
		{ "qwen2.5-7b", ENG_ARCH_QWEN2, 3584, 28, 28, 4, 128, 152064, false, 1e6f, 0 },
		{ "qwen3-0.6b", ENG_ARCH_QWEN3, 1024, 28, 16, 8, 128, 151936, true, 1e6f, 0 },
		{ "qwen3-4b", ENG_ARCH_QWEN3, 2560, 36, 32, 8, 128, 151936, true, 1e6f, 0 },
		{ "qwen3-8b", ENG_ARCH_QWEN3, 4096, 36, 32, 8, 128, 151936, false, 1e6f, 0 },
		{ "smollm2-135m", ENG_ARCH_LLAMA, 576, 30, 9, 3, 64, 49152, true, 100000.0f, 0 },
		{ "smollm2-360m", ENG_ARCH_LLAMA, 960, 32, 15, 5, 64, 49152, true, 100000.0f, 0 },
		{ "smollm2-1.7b", ENG_ARCH_LLAMA, 2048, 24, 32, 32, 64, 49152, true, 130000.0f, 0 },
		{ "tinyllama-1.1b", ENG_ARCH_LLAMA, 2048, 22, 32, 4, 64, 32000, false, 10000.0f, 0 },
	};
	struct eng_shape s;
	char err[1024];

	(void)state;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		if (eng_shape_load(want[i].name, &s, err, sizeof err)) {
			fprintf(stderr, "%s\n", err);
			fail();
		}
		assert_int_equal(s.cfg.arch, want[i].arch);
		assert_int_equal(s.cfg.dim, want[i].dim);
		assert_int_equal(s.cfg.n_layers, want[i].layers);
		assert_int_equal(s.cfg.n_heads, want[i].heads);
		assert_int_equal(s.cfg.n_kv_heads, want[i].kv);
		assert_int_equal(s.cfg.head_dim, want[i].head_dim);
		assert_int_equal(s.cfg.rope_dim, want[i].head_dim);
		assert_int_equal(s.cfg.vocab_size, want[i].vocab);
		assert_int_equal(s.tied, want[i].tied);
		assert_true(s.cfg.rope_theta == want[i].theta);
		assert_true(s.cfg.rope_llama3.factor == want[i].llama3);
		assert_int_equal(s.cfg.rope_type, want[i].arch == ENG_ARCH_LLAMA ? ENG_ROPE_NORM : ENG_ROPE_NEOX);
		assert_int_equal(s.cfg.qkv_bias, want[i].arch == ENG_ARCH_QWEN2);
		assert_int_equal(s.cfg.qk_norm, want[i].arch == ENG_ARCH_QWEN3);
		assert_true(strstr(s.source, "https://huggingface.co/") && strstr(s.source, "config.json"));
	}
	assert_int_equal(eng_shape_load("llama-3.1-8b", &s, err, sizeof err), 0);
	assert_int_equal(s.cfg.rope_llama3.orig_ctx, 8192);
	assert_true(s.cfg.rope_llama3.high_freq_factor == 4.0f);
}

/* Each architecture written as a file: the keys and tensors llama.cpp reads, and the same logits
 * from the file as from the in-memory model. */
static void test_arch_files(void **state)
{
	static const char *const shapes[] = { "tiny-llama-gqa", "tiny-llama3", "tiny-qwen2", "tiny-qwen3" };
	char *dir = tu_mkdtemp(), path[600], shape[128], spec[160], err[1024], arch[32];
	const int32_t tok[6] = { 1, 7, 300, 42, 9, 511 };

	(void)state;
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		struct eng_model *mf = NULL, *mm = NULL;
		struct eng_ctx *cf, *cm;
		struct eng_ctx_opts co = { .n_threads = 2, .n_ctx = 16, .kv_type = ENG_TYPE_F32 };
		struct gguf_file *f = NULL;
		struct eng_model_desc d;
		float *a, *b;
		int vocab;

		snprintf(shape, sizeof shape, "tests/fixtures/shapes/%s.json", shapes[i]);
		snprintf(path, sizeof path, "%s/%s.gguf", dir, shapes[i]);
		snprintf(spec, sizeof spec, "synth:%s:q8_0", shape);
		assert_int_equal(eng_synth_write(shape, ENG_TYPE_Q8_0, 0, NULL, path, err, sizeof err), 0);
		assert_int_equal(gguf_open(path, &f, err, sizeof err), 0);
		assert_int_equal(gguf_get_str(f, "general.architecture", arch, sizeof arch), 0);
		switch (i) {
		case 0:
			assert_string_equal(arch, "llama");
			assert_non_null(gguf_find_tensor(f, "output.weight"));
			break;
		case 1:
			assert_string_equal(arch, "llama");
			assert_null(gguf_find_tensor(f, "output.weight"));
			assert_int_equal(gguf_find_tensor(f, "rope_freqs.weight")->ne[0], 16);
			assert_int_equal(gguf_find_tensor(f, "rope_freqs.weight")->type, ENG_TYPE_F32);
			break;
		case 2:
			assert_string_equal(arch, "qwen2");
			assert_non_null(gguf_find(f, "qwen2.embedding_length"));
			assert_int_equal(gguf_find_tensor(f, "blk.1.attn_k.bias")->ne[0], 32);
			assert_int_equal(gguf_find_tensor(f, "blk.1.attn_k.bias")->type, ENG_TYPE_F32);
			break;
		default:
			assert_string_equal(arch, "qwen3");
			assert_non_null(gguf_find(f, "qwen3.attention.key_length"));
			assert_int_equal(gguf_find_tensor(f, "blk.0.attn_q_norm.weight")->ne[0], 32);
			assert_int_equal(gguf_find_tensor(f, "blk.0.attn_q.weight")->ne[1], 256);
		}
		gguf_close(f);
		assert_int_equal(eng_model_open(path, NULL, &mf, err, sizeof err), 0);
		assert_int_equal(eng_model_open(spec, NULL, &mm, err, sizeof err), 0);
		eng_model_describe(mf, &d);
		assert_string_equal(d.arch, arch);
		eng_model_describe(mm, &d);
		assert_string_equal(d.arch, arch);
		assert_string_equal(d.shape, shapes[i]);
		vocab = eng_model_config(mf)->vocab_size;
		a = malloc(6 * (size_t)vocab * sizeof *a);
		b = malloc(6 * (size_t)vocab * sizeof *b);
		cf = eng_ctx_new(mf, &co, err, sizeof err);
		cm = eng_ctx_new(mm, &co, err, sizeof err);
		assert_true(a && b && cf && cm);
		assert_int_equal(eng_prefill(cf, tok, 6, NULL, a), 0);
		assert_int_equal(eng_prefill(cm, tok, 6, NULL, b), 0);
		assert_memory_equal(a, b, 6 * (size_t)vocab * sizeof *a);
		eng_ctx_free(cf);
		eng_ctx_free(cm);
		free(a);
		free(b);
		eng_model_close(mf);
		eng_model_close(mm);
	}
	tu_rmtree(dir);
	free(dir);
}

static void test_spec_errors(void **state)
{
	struct eng_model *m = NULL;
	char err[1024];

	(void)state;
	assert_int_not_equal(eng_model_open("synth:bench-1b", NULL, &m, err, sizeof err), 0);
	assert_non_null(strstr(err, "synth:SHAPE:TYPE"));
	assert_int_not_equal(eng_model_open("synth:bench-1b:q7_k", NULL, &m, err, sizeof err), 0);
	assert_non_null(strstr(err, "unsupported type 'q7_k'"));
	assert_int_not_equal(eng_model_open("synth:nope:q4_0", NULL, &m, err, sizeof err), 0);
	assert_non_null(strstr(err, "unknown shape 'nope'"));
	assert_null(m);
	/* hidden 172 is not a multiple of the 32-element block: ffn_down (rows of 172) falls back
	 * to F16, every other matrix keeps the type asked for */
	assert_int_equal(eng_model_open("synth:stories260k:q4_0", NULL, &m, err, sizeof err), 0);
	assert_int_equal(m->w.layers[0].w_down.type, ENG_TYPE_F16);
	assert_int_equal(m->w.layers[0].w_down.cols, 172);
	assert_int_equal(m->w.layers[4].w_gate.type, ENG_TYPE_Q4_0);
	assert_int_equal(m->w.layers[4].wq.type, ENG_TYPE_Q4_0);
	assert_int_equal(m->w.token_embd.type, ENG_TYPE_Q4_0);
	eng_model_close(m);
}

static double mat_std(const struct eng_mat *w, double *mean)
{
	float *row = malloc((size_t)w->cols * sizeof *row);
	double s = 0, s2 = 0, n = 0;

	for (int64_t r = 0; r < w->rows; r++) {
		eng_dequantize_row(w->type, (const char *)w->data + (size_t)r * w->row_bytes, row, w->cols);
		for (int64_t c = 0; c < w->cols; c++) {
			s += row[c];
			s2 += (double)row[c] * row[c];
			n++;
		}
	}
	free(row);
	*mean = s / n;
	return sqrt(s2 / n - *mean * *mean);
}

static void test_in_memory(void **state)
{
	struct eng_model *a = NULL, *b = NULL, *c = NULL;
	struct eng_open_opts o = { .seed = 7 };
	struct eng_model_desc d;
	char err[1024];
	double mean, sd;
	const struct eng_config *cfg;
	uint64_t layer_params;

	(void)state;
	assert_int_equal(eng_model_open("synth:stories15m:q8_0", &o, &a, err, sizeof err), 0);
	assert_int_equal(eng_model_open("synth:stories15m:q8_0", &o, &b, err, sizeof err), 0);
	o.seed = 8;
	assert_int_equal(eng_model_open("synth:stories15m:q8_0", &o, &c, err, sizeof err), 0);
	cfg = eng_model_config(a);
	assert_int_equal(cfg->dim, 288);
	assert_int_equal(cfg->vocab_size, 32000);
	assert_ptr_equal(a->w.output.data, a->w.token_embd.data); /* tied */
	assert_int_equal(a->w.layers[5].w_down.type, ENG_TYPE_Q8_0);
	assert_int_equal(a->w.layers[5].w_down.rows, 288);
	assert_int_equal(a->w.layers[5].w_down.cols, 768);
	/* deterministic in the seed */
	assert_memory_equal(a->w.layers[3].wq.data, b->w.layers[3].wq.data, a->w.layers[3].wq.row_bytes * 288);
	assert_true(memcmp(a->w.layers[3].wq.data, c->w.layers[3].wq.data, a->w.layers[3].wq.row_bytes * 288));
	/* layers differ from each other */
	assert_true(memcmp(a->w.layers[3].wq.data, a->w.layers[4].wq.data, a->w.layers[3].wq.row_bytes * 288));
	/* values: mean 0, standard deviation 0.02 (Q8_0 adds little error) */
	sd = mat_std(&a->w.layers[0].w_gate, &mean);
	assert_true(fabs(mean) < 0.001);
	assert_true(fabs(sd - 0.02) < 0.001);
	for (int i = 0; i < cfg->dim; i++)
		assert_true(a->w.layers[2].ffn_norm[i] == 1.0f && a->w.output_norm[i] == 1.0f);
	eng_model_describe(a, &d);
	assert_true(d.synthetic);
	assert_string_equal(d.shape, "stories15m");
	assert_string_equal(d.path, "");
	assert_int_equal(d.file_bytes, 0);
	assert_int_equal(d.wtype, ENG_TYPE_Q8_0);
	layer_params = 2ull * 288 + 4ull * 288 * 288 + 3ull * 288 * 768;
	assert_int_equal(d.n_params, 32000ull * 288 + 288 + 6 * layer_params);
	/* tied: decode reads the 6 layers, the norms and the output (= embedding) matrix */
	assert_int_equal(d.decode_bytes_per_token,
			 6 * (4ull * 288 * 306 + 3ull * 768 * 306 /* rows x Q8_0 row bytes */) +
				 13ull * 288 * 4 + 32000ull * 306);
	assert_true(eng_has_vocab(a));
	eng_model_close(a);
	eng_model_close(b);
	eng_model_close(c);
}

/* The GGUF written for a shape holds the same weights as the in-memory model. */
static void write_and_compare(const char *shape, enum eng_type type, const char *dir)
{
	char path[600], spec[128], err[1024];
	struct eng_model *f = NULL, *m = NULL;
	struct eng_open_opts o = { .seed = 3 };
	struct eng_model_desc d;

	snprintf(path, sizeof path, "%s/%s-%s.gguf", dir, shape, eng_type_name(type));
	snprintf(spec, sizeof spec, "synth:%s:%s", shape, eng_type_name(type));
	assert_int_equal(eng_synth_write(shape, type, 3, NULL, path, err, sizeof err), 0);
	if (eng_model_open(path, NULL, &f, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
	assert_int_equal(eng_model_open(spec, &o, &m, err, sizeof err), 0);
	assert_memory_equal(eng_model_config(f), eng_model_config(m), sizeof(struct eng_config));
	assert_memory_equal(f->w.token_embd.data, m->w.token_embd.data,
			    f->w.token_embd.row_bytes * (size_t)f->w.token_embd.rows);
	for (int l = 0; l < m->cfg.n_layers; l++) {
		const struct eng_layer *x = &f->w.layers[l], *y = &m->w.layers[l];
		const struct eng_mat *a[] = { &x->wq, &x->wk, &x->wv, &x->wo, &x->w_gate, &x->w_up, &x->w_down };
		const struct eng_mat *b[] = { &y->wq, &y->wk, &y->wv, &y->wo, &y->w_gate, &y->w_up, &y->w_down };

		for (int i = 0; i < 7; i++) {
			/* the type asked for, or F16 for rows that are not a whole number of blocks */
			assert_int_equal(a[i]->type, eng_row_bytes(type, a[i]->cols) ? (int)type : ENG_TYPE_F16);
			assert_int_equal(a[i]->type, b[i]->type);
			assert_int_equal(a[i]->rows, b[i]->rows);
			assert_memory_equal(a[i]->data, b[i]->data, a[i]->row_bytes * (size_t)a[i]->rows);
		}
		assert_memory_equal(x->attn_norm, y->attn_norm, (size_t)m->cfg.dim * 4);
	}
	eng_model_describe(f, &d);
	assert_true(d.synthetic);
	assert_string_equal(d.shape, shape);
	assert_true(d.file_bytes > d.weight_bytes);
	{
		struct eng_model_desc dm;

		eng_model_describe(m, &dm);
		assert_int_equal(d.n_params, dm.n_params);
		assert_int_equal(d.decode_bytes_per_token, dm.decode_bytes_per_token);
	}
	eng_model_close(f);
	eng_model_close(m);
}

static void test_write_matches_memory(void **state)
{
	char *dir = tu_mkdtemp();

	(void)state;
	write_and_compare("stories260k", ENG_TYPE_F32, dir);
	write_and_compare("stories260k", ENG_TYPE_F16, dir);
	write_and_compare("stories15m", ENG_TYPE_Q8_0, dir);
	write_and_compare("stories15m", ENG_TYPE_Q4_0, dir);
	write_and_compare("stories260k", ENG_TYPE_Q8_0, dir); /* Q8_0 with an F16 ffn_down */
	tu_rmtree(dir);
	free(dir);
}

/* The keys llama.cpp's llama loader needs, and a complete vocabulary. */
static void test_written_metadata(void **state)
{
	static const char *const keys[] = {
		"general.architecture", "general.name", "general.alignment", "general.file_type",
		"llama.context_length", "llama.embedding_length", "llama.block_count",
		"llama.feed_forward_length", "llama.attention.head_count", "llama.attention.head_count_kv",
		"llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon", "llama.rope.dimension_count",
		"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
		"tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
	};
	char *dir = tu_mkdtemp(), path[600], err[1024], buf[64];
	const char *vocab = tu_shared_model("ggml-vocab-llama-spm.gguf");
	struct gguf_file *f = NULL, *v = NULL;
	int64_t x;

	(void)state;
	snprintf(path, sizeof path, "%s/s.gguf", dir);
	assert_int_equal(eng_synth_write("stories15m", ENG_TYPE_Q4_0, 0, NULL, path, err, sizeof err), 0);
	assert_int_equal(gguf_open(path, &f, err, sizeof err), 0);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!gguf_find(f, keys[i])) {
			fprintf(stderr, "missing %s\n", keys[i]);
			fail();
		}
	assert_int_equal(gguf_get_int(f, "general.file_type", &x), 0);
	assert_int_equal(x, 2); /* MOSTLY_Q4_0 */
	assert_int_equal(gguf_get_int(f, "general.alignment", &x), 0);
	assert_int_equal(x, 32);
	assert_int_equal(gguf_find(f, "tokenizer.ggml.tokens")->arr_n, 32000);
	assert_int_equal(gguf_get_str(f, "tokenizer.ggml.model", buf, sizeof buf), 0);
	assert_string_equal(buf, "llama");
	assert_null(gguf_find_tensor(f, "output.weight")); /* tied shape */
	assert_int_equal(gguf_find_tensor(f, "blk.0.ffn_down.weight")->ne[0], 768);
	assert_int_equal(gguf_find_tensor(f, "blk.0.ffn_down.weight")->ne[1], 288);
	assert_int_equal(gguf_find_tensor(f, "blk.0.attn_norm.weight")->type, ENG_TYPE_F32);
	assert_int_equal(gguf_find_tensor(f, "blk.0.attn_norm.weight")->n_dims, 1);
	gguf_close(f);

	if (!vocab) {
		tu_note("../shared/models/ggml-vocab-llama-spm.gguf absent: --vocab copy not checked");
	} else {
		const struct gguf_kv *a, *b;

		assert_int_equal(eng_synth_write("stories15m", ENG_TYPE_Q8_0, 0, vocab, path, err, sizeof err), 0);
		assert_int_equal(gguf_open(path, &f, err, sizeof err), 0);
		assert_int_equal(gguf_open(vocab, &v, err, sizeof err), 0);
		a = gguf_find(f, "tokenizer.ggml.tokens");
		b = gguf_find(v, "tokenizer.ggml.tokens");
		assert_int_equal(a->val_bytes, b->val_bytes);
		assert_memory_equal(a->val, b->val, a->val_bytes);
		a = gguf_find(f, "tokenizer.ggml.scores");
		b = gguf_find(v, "tokenizer.ggml.scores");
		assert_memory_equal(a->val, b->val, a->val_bytes);
		gguf_close(v);
		gguf_close(f);
		/* in memory, the same vocabulary is attached */
		{
			struct eng_open_opts o = { .vocab_path = vocab };
			struct eng_model *m = NULL;
			int32_t ids[8];

			assert_int_equal(eng_model_open("synth:stories15m:q4_0", &o, &m, err, sizeof err), 0);
			assert_int_equal(eng_tokenize(m, "Hello world", true, ids, 8, err, sizeof err), 3);
			assert_int_equal(ids[1], 15043);
			assert_int_equal(ids[2], 3186);
			eng_model_close(m);
		}
		/* a vocabulary of the wrong size is refused */
		assert_int_not_equal(eng_synth_write("stories260k", ENG_TYPE_F32, 0, vocab, path, err, sizeof err), 0);
		assert_non_null(strstr(err, "vocabulary has 32000 tokens, shape stories260k needs 512"));
	}
	tu_rmtree(dir);
	free(dir);
}

/* Activations stay finite through every layer: logits of a few tokens are finite and not all
 * equal. */
static void test_forward_finite(void **state)
{
	static const char *const specs[] = { "synth:stories15m:q4_0", "synth:stories110m:q8_0",
					     "synth:stories260k:q4_0" };

	(void)state;
	for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
		struct eng_model *m = NULL;
		struct eng_ctx *c;
		struct eng_ctx_opts co = { .n_threads = 2, .n_ctx = 16 };
		int32_t toks[4] = { 1, 500, 9000, 31999 }; /* taken modulo the vocabulary */
		float *logits;
		char err[1024];
		int nv;
		float lo = INFINITY, hi = -INFINITY;

		assert_int_equal(eng_model_open(specs[s], NULL, &m, err, sizeof err), 0);
		nv = eng_model_config(m)->vocab_size;
		for (int i = 0; i < 4; i++)
			toks[i] %= nv;
		c = eng_ctx_new(m, &co, err, sizeof err);
		assert_non_null(c);
		logits = malloc((size_t)nv * sizeof *logits);
		assert_int_equal(eng_prefill(c, toks, 4, logits, NULL), 0);
		for (int i = 0; i < nv; i++) {
			assert_true(isfinite(logits[i]));
			lo = fminf(lo, logits[i]);
			hi = fmaxf(hi, logits[i]);
		}
		assert_true(hi - lo > 1e-3f);
		free(logits);
		eng_ctx_free(c);
		eng_model_close(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),          cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_arch_shapes),     cmocka_unit_test(test_arch_files),
		cmocka_unit_test(test_in_memory),       cmocka_unit_test(test_write_matches_memory),
		cmocka_unit_test(test_written_metadata), cmocka_unit_test(test_forward_finite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
