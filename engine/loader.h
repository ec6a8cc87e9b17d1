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

/* llama.cpp's general.file_type for a model whose matrices are `type`. */
uint32_t eng_file_type(int type);

#endif
