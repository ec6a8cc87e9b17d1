/*
 * engine/sampler.c — picks the next token from logits: greedy, or temperature + top-k + top-p
 * (nucleus) sampling driven by a seeded generator, so that one seed always gives one sequence.
 *
 * Order, as llama2.c applies it: logits / temp → softmax → keep the top_k most likely → keep the
 * smallest prefix (by probability) whose mass reaches top_p → renormalise → draw.
 */
#include "engine/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cand {
	float p;
	int32_t id;
};

struct eng_sampler {
	struct eng_sampler_opts o;
	int n_vocab;
	uint64_t rng; /* splitmix64 state */
	struct cand *cand; /* n_vocab scratch */
};

struct eng_sampler *eng_sampler_new(const struct eng_sampler_opts *o, int n_vocab)
{
	struct eng_sampler *s;

	if (!o || n_vocab <= 0)
		return NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->o = *o;
	s->n_vocab = n_vocab;
	s->rng = o->seed;
	s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
	if (!s->cand) {
		free(s);
		return NULL;
	}
	return s;
}

void eng_sampler_free(struct eng_sampler *s)
{
	if (!s)
		return;
	free(s->cand);
	free(s);
}

/* splitmix64: a full-period generator that is fine from any seed, 0 included. */
static uint64_t next_u64(struct eng_sampler *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double next_unit(struct eng_sampler *s)
{
	return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Index of the largest logit (the first on ties). */
static int32_t argmax(const float *x, int n)
{
	int32_t best = 0;

	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

static int cand_desc(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->p != y->p)
		return x->p < y->p ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id; /* ties by id: a total order, so runs repeat */
}

/* Moves the k largest candidates (by cand_desc) to the front of c[0..n), in no order. */
static void select_top(struct cand *c, int n, int k)
{
	int lo = 0, hi = n - 1;

	while (lo < hi) {
		struct cand pivot = c[lo + (hi - lo) / 2], t;
		int i = lo, j = hi;

		while (i <= j) {
			while (cand_desc(&c[i], &pivot) < 0)
				i++;
			while (cand_desc(&c[j], &pivot) > 0)
				j--;
			if (i <= j) {
				t = c[i];
				c[i] = c[j];
				c[j] = t;
				i++;
				j--;
			}
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

int32_t eng_sample(struct eng_sampler *s, float *logits)
{
	const int n = s->n_vocab;
	float max, sum = 0.0f;
	int nc = 0;
	double r, acc = 0.0, mass = 0.0;

	if (s->o.temp <= 0.0f || s->o.top_k == 1)
		return argmax(logits, n);

	/* softmax of logits / temp */
	max = logits[argmax(logits, n)];
	for (int i = 0; i < n; i++) {
		logits[i] = expf((logits[i] - max) / s->o.temp);
		sum += logits[i];
	}
	for (int i = 0; i < n; i++)
		logits[i] /= sum;

	/* Candidates. With top-p alone, tokens below (1 - top_p) / (n - 1) cannot be in the nucleus
	 * (llama2.c's cut), which keeps the sort short. */
	bool use_k = s->o.top_k > 0 && s->o.top_k < n;
	bool use_p = s->o.top_p > 0.0f && s->o.top_p < 1.0f;
	float cut = use_p && !use_k && n > 1 ? (1.0f - s->o.top_p) / (float)(n - 1) : 0.0f;
	for (int i = 0; i < n; i++)
		if (logits[i] >= cut)
			s->cand[nc++] = (struct cand){ logits[i], i };
	if (nc == 0) /* top_p so small that even the most likely token is below the cut */
		return argmax(logits, n);
	if (use_k && nc > s->o.top_k) {
		select_top(s->cand, nc, s->o.top_k);
		nc = s->o.top_k;
	}
	if (use_k || use_p)
		qsort(s->cand, (size_t)nc, sizeof *s->cand, cand_desc);
	if (use_p) {
		int keep = 0;

		for (double cum = 0.0; keep < nc;) {
			cum += s->cand[keep++].p;
			if (cum >= s->o.top_p)
				break;
		}
		nc = keep;
	}
	for (int i = 0; i < nc; i++)
		mass += s->cand[i].p;

	r = next_unit(s) * mass;
	for (int i = 0; i < nc; i++) {
		acc += s->cand[i].p;
		if (r < acc)
			return s->cand[i].id;
	}
	return s->cand[nc - 1].id; /* rounding left r at the very top */
}
