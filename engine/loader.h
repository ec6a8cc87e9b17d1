/*
 * engine/loader.h — private to engine/: what the model-file sources (loader.c, synth.c,
 * llama2c.c) share.
 */
#ifndef JB_ENGINE_LOADER_H
#define JB_ENGINE_LOADER_H

#include "engine/model.h"

/* Builds an in-memory synthetic model from "SHAPE:TYPE" (the part after "synth:"). */
int eng_synth_open(const char *shape_type, const struct eng_open_opts *opts, struct eng_model **out,
		   char *err, size_t errlen);

/* Fills desc.n_params, weight_bytes, decode_bytes_per_token and wtype from m->cfg and m->w. */
void eng_model_fill_sizes(struct eng_model *m);

/* Checks the hyper-parameters for consistency and sane bounds (names `what` in the message). */
int eng_config_check(const struct eng_config *c, const char *what, char *err, size_t errlen);

/* The RoPE pairing (enum eng_rope_type) llama.cpp uses for an architecture. */
int eng_arch_rope_type(int arch);

/* Llama 3.1 RoPE frequency divisors (c->rope_dim / 2 floats) from c->rope_llama3 and
 * c->rope_theta, as the GGUF converter writes them into rope_freqs.weight. */
void eng_llama3_freqs(const struct eng_config *c, float *out);

/* llama.cpp's general.file_type for a model whose matrices are `type`. */
uint32_t eng_file_type(int type);

/* Tests: the file the loader reads MemAvailable from (NULL: /proc/meminfo). */
void eng_loader_meminfo_path(const char *path);

#endif
