/*
 * bench/serve_sched.c — the scheduler of `joulebench serve`: one thread that owns the model and
 * the context, a FIFO of requests waiting for a slot, and the decode loop.
 *
 * Each turn of the loop: requests that were cancelled (client gone) leave their slots; queued
 * requests take the free slots; every slot whose prompt is still being run prefills its next
 * SRV_PREFILL_CHUNK tokens (a batch of its own, so a long prompt holds the running requests up
 * for one chunk at a time, not for all of it); then ONE eng_decode_batch runs the pending token
 * of every slot that is generating, so the weights are read once per step however many requests
 * are running. Each request samples from its own sampler
 * (seeded per request), so what a request generates does not depend on what else is running.
 */
#include "bench/serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double srv_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct srv_req *srv_req_new(const int32_t *prompt, int n_prompt)
{
	struct srv_req *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->prompt = malloc((size_t)(n_prompt > 0 ? n_prompt : 1) * sizeof *r->prompt);
	r->text_cap = 256;
	r->text = malloc(r->text_cap);
	if (!r->prompt || !r->text || pthread_cond_init(&r->cv, NULL)) {
		free(r->prompt);
		free(r->text);
		free(r);
		return NULL;
	}
	if (n_prompt > 0)
		memcpy(r->prompt, prompt, (size_t)n_prompt * sizeof *prompt);
	r->n_prompt = n_prompt;
	r->text[0] = '\0';
	r->max_tokens = -1;
	r->so = (struct eng_sampler_opts){ .temp = 0.8f, .top_k = 40, .top_p = 0.95f, .seed = 1 };
	r->extra_eos = -1;
	r->slot = -1;
	r->refs = 1;
	return r;
}

static void req_free(struct srv_req *r)
{
	eng_sampler_free(r->smp);
	pthread_cond_destroy(&r->cv);
	free(r->prompt);
	free(r->text);
	free(r);
}

/* Drops one reference (under mu); frees the request at zero. */
static void req_unref(struct srv_req *r)
{
	if (--r->refs == 0)
		req_free(r);
}

int srv_submit(struct srv *s, struct srv_req *r)
{
	pthread_mutex_lock(&s->mu);
	if (s->draining || s->stop) {
		pthread_mutex_unlock(&s->mu);
		return -EBUSY;
	}
	r->refs = 2;
	r->open = true;
	r->t_submit_s = srv_now_s();
	r->next = NULL;
	if (s->tail)
		s->tail->next = r;
	else
		s->head = r;
	s->tail = r;
	s->n_queued++;
	s->n_open++;
	s->n_requests++;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Unlinks a queued request (under mu); returns true if it was in the queue. */
static bool queue_remove(struct srv *s, struct srv_req *r)
{
	struct srv_req *prev = NULL;

	for (struct srv_req *q = s->head; q; prev = q, q = q->next) {
		if (q != r)
			continue;
		if (prev)
			prev->next = q->next;
		else
			s->head = q->next;
		if (s->tail == q)
			s->tail = prev;
		s->n_queued--;
		return true;
	}
	return false;
}

void srv_release(struct srv *s, struct srv_req *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&s->mu);
	if (r->open) { /* submitted */
		r->open = false;
		s->n_open--;
		if (!r->done) {
			r->cancelled = true;
			if (r->slot < 0 && queue_remove(s, r))
				r->refs--; /* never started: the scheduler's reference goes with it */
			pthread_cond_signal(&s->work);
		}
	}
	req_unref(r);
	pthread_mutex_unlock(&s->mu);
}

/* ---- text: stop strings and what can be sent --------------------------------------------- */

/* Bytes at the end of text that start a UTF-8 character not yet complete (0..3). */
static size_t utf8_partial_tail(const char *t, size_t n)
{
	for (size_t k = 1; k <= 3 && k <= n; k++) {
		unsigned char ch = (unsigned char)t[n - k];
		size_t need;

		if ((ch & 0xC0) == 0x80)
			continue; /* continuation byte: look further back */
		need = ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
		return need > k ? k : 0;
	}
	return 0;
}

/* Longest suffix of text that is a proper prefix of a stop string (held back while streaming). */
static size_t stop_partial_tail(const struct srv_req *r)
{
	size_t best = 0;

	for (int i = 0; i < r->n_stop; i++) {
		size_t sl = strlen(r->stop[i]);

		if (!sl)
			continue;
		for (size_t k = sl - 1; k > best; k--)
			if (k <= r->text_len && !memcmp(r->text + r->text_len - k, r->stop[i], k)) {
				best = k;
				break;
			}
	}
	return best;
}

/* Earliest occurrence of a stop string that ends in the last `added` bytes; -1 if none. */
static long stop_match(const struct srv_req *r, size_t added)
{
	long best = -1;

	for (int i = 0; i < r->n_stop; i++) {
		size_t sl = strlen(r->stop[i]);
		size_t from = r->text_len >= added + sl ? r->text_len - added - sl + 1 : 0;
		const char *p;

		if (!sl)
			continue;
		p = memmem(r->text + from, r->text_len - from, r->stop[i], sl);
		if (p && (best < 0 || p - r->text < best))
			best = p - r->text;
	}
	return best;
}

static int text_append(struct srv_req *r, const char *p, size_t n)
{
	if (r->text_len + n + 1 > r->text_cap) {
		size_t cap = r->text_cap * 2 + n;
		char *t = realloc(r->text, cap);

		if (!t)
			return -ENOMEM;
		r->text = t;
		r->text_cap = cap;
	}
	memcpy(r->text + r->text_len, p, n);
	r->text_len += n;
	r->text[r->text_len] = '\0';
	return 0;
}

/* ---- slots ------------------------------------------------------------------------------- */

/* Ends a request (under mu): frees its slot, wakes its HTTP side, drops the scheduler's hold. */
static void finish(struct srv *s, struct srv_req *r, const char *reason, const char *error)
{
	r->done = true;
	r->finish = error ? NULL : reason;
	if (error)
		snprintf(r->error, sizeof r->error, "%s", error);
	r->n_ready = r->text_len;
	r->t_done_s = srv_now_s();
	if (r->slot >= 0) {
		s->slots[r->slot].req = NULL;
		eng_seq_reset(s->c, r->slot);
	}
	pthread_cond_broadcast(&r->cv);
	req_unref(r);
}

/* Takes the token sampled for request r: ends it at end of sequence, a stop string or its token
 * budget, else appends its text; returns true if the request goes on (tok to be decoded). */
static bool take_token(struct srv *s, struct srv_req *r, int32_t tok)
{
	char buf[256];
	int n;
	long at;
	bool more = true;

	pthread_mutex_lock(&s->mu);
	if (r->cancelled) {
		finish(s, r, "stop", NULL);
		pthread_mutex_unlock(&s->mu);
		return false;
	}
	if (!r->ignore_eos && ((tok == s->eos && s->eos >= 0) || (tok == r->extra_eos && r->extra_eos >= 0))) {
		finish(s, r, "stop", NULL);
		pthread_mutex_unlock(&s->mu);
		return false;
	}
	if (eng_has_vocab(s->m))
		n = eng_token_to_piece(s->m, r->last, tok, buf, sizeof buf);
	else
		n = snprintf(buf, sizeof buf, "%s%d", r->n_gen > 0 ? " " : "", tok);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	{ /* a <0x00> byte token: JSON strings here are C strings, so NUL bytes are dropped */
		int k = 0;

		for (int i = 0; i < n; i++)
			if (buf[i])
				buf[k++] = buf[i];
		n = k;
	}
	if (text_append(r, buf, (size_t)n)) {
		finish(s, r, NULL, "out of memory for the generated text");
		pthread_mutex_unlock(&s->mu);
		return false;
	}
	r->n_gen++;
	if (r->n_gen == 1)
		r->t_first_s = srv_now_s();
	r->last = tok;
	r->budget--;
	at = stop_match(r, (size_t)n);
	if (at >= 0) {
		r->text_len = (size_t)at;
		r->text[at] = '\0';
		finish(s, r, "stop", NULL);
		more = false;
	} else if (r->budget <= 0) {
		finish(s, r, "length", NULL);
		more = false;
	} else {
		size_t hold = stop_partial_tail(r), u = utf8_partial_tail(r->text, r->text_len - hold);
		size_t ready = r->text_len - hold - u;

		if (ready > r->n_ready)
			r->n_ready = ready;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return more;
}

/* Sets up the request just given slot i (under mu): its sampler and token budget. Returns false
 * when it has ended already (nothing to generate, out of memory). */
static bool start_slot(struct srv *s, int i)
{
	struct srv_req *r = s->slots[i].req;

	r->smp = eng_sampler_new(&r->so, s->n_vocab);
	if (!r->smp) {
		finish(s, r, NULL, "out of memory for a sampler");
		return false;
	}
	r->budget = s->n_ctx - r->n_prompt;
	if (r->max_tokens >= 0 && r->max_tokens < r->budget)
		r->budget = r->max_tokens;
	if (r->budget <= 0) {
		finish(s, r, "length", NULL);
		return false;
	}
	r->last = r->prompt[r->n_prompt - 1];
	r->n_prefilled = 0;
	eng_seq_reset(s->c, i);
	return true;
}

/* Runs the next SRV_PREFILL_CHUNK tokens of slot i's prompt; after the last of them, samples the
 * request's first token. */
static void prefill_chunk(struct srv *s, int i)
{
	struct srv_req *r = s->slots[i].req;
	int n = r->n_prompt - r->n_prefilled < SRV_PREFILL_CHUNK ? r->n_prompt - r->n_prefilled : SRV_PREFILL_CHUNK;
	bool last = r->n_prefilled + n == r->n_prompt;

	if (eng_seq_prefill(s->c, i, r->prompt + r->n_prefilled, n, last ? s->logits : NULL)) {
		char msg[256];

		snprintf(msg, sizeof msg, "prefill failed: %s", eng_ctx_error(s->c));
		pthread_mutex_lock(&s->mu);
		finish(s, r, NULL, msg);
		pthread_mutex_unlock(&s->mu);
		return;
	}
	r->n_prefilled += n;
	if (!last)
		return;
	r->pending = eng_sample(r->smp, s->logits);
	take_token(s, r, r->pending);
}

/* One decode step over every active slot; returns the number of rows run. */
static int decode_step(struct srv *s)
{
	int nb = 0, rc;
	double t0 = srv_now_s();

	for (int i = 0; i < s->n_slots; i++) {
		struct srv_req *r = s->slots[i].req;

		if (!r || r->n_prefilled < r->n_prompt) /* free, or its prompt is still being run */
			continue;
		s->seq[nb] = i;
		s->tok[nb] = r->pending;
		s->batch[nb++] = r;
	}
	if (!nb)
		return 0;
	rc = eng_decode_batch(s->c, s->seq, s->tok, nb, s->logits);
	if (rc) {
		char msg[256];

		snprintf(msg, sizeof msg, "decode failed: %s", eng_ctx_error(s->c));
		pthread_mutex_lock(&s->mu);
		for (int k = 0; k < nb; k++)
			finish(s, s->batch[k], NULL, msg);
		pthread_mutex_unlock(&s->mu);
		return nb;
	}
	for (int k = 0; k < nb; k++)
		s->batch[k]->pending = eng_sample(s->batch[k]->smp, s->logits + (size_t)k * s->n_vocab);
	/* counted before any request of the step is answered, so /health never lags a response */
	pthread_mutex_lock(&s->mu);
	s->n_steps++;
	s->n_batched_tokens += nb;
	s->decode_s += srv_now_s() - t0;
	pthread_mutex_unlock(&s->mu);
	for (int k = 0; k < nb; k++)
		take_token(s, s->batch[k], s->batch[k]->pending);
	return nb;
}

static void *sched_main(void *arg)
{
	struct srv *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		int n_active = 0;

		/* cancelled requests leave their slots */
		for (int i = 0; i < s->n_slots; i++) {
			struct srv_req *r = s->slots[i].req;

			if (r && r->cancelled)
				finish(s, r, "stop", NULL);
		}
		/* queued requests take the free slots, first come first served */
		for (int i = 0; i < s->n_slots && s->head; i++) {
			struct srv_req *r;

			if (s->slots[i].req)
				continue;
			r = s->head;
			s->head = r->next;
			if (!s->head)
				s->tail = NULL;
			s->n_queued--;
			r->next = NULL;
			r->slot = i;
			r->t_start_s = srv_now_s();
			s->slots[i].req = r;
			start_slot(s, i);
		}
		for (int i = 0; i < s->n_slots; i++)
			n_active += s->slots[i].req != NULL;
		if (!n_active) {
			if (s->stop && !s->head)
				break;
			pthread_cond_wait(&s->work, &s->mu);
			continue;
		}
		pthread_mutex_unlock(&s->mu);
		/* a chunk of every prompt still being run, then one decode step of the others */
		for (int i = 0; i < s->n_slots; i++) {
			struct srv_req *r = s->slots[i].req;

			if (r && r->n_prefilled < r->n_prompt)
				prefill_chunk(s, i);
		}
		decode_step(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int srv_start(struct srv *s, struct eng_model *m, struct eng_ctx *c, const char *model_id, char *err,
	      size_t errlen)
{
	const struct eng_config *cfg = eng_model_config(m);

	memset(s, 0, sizeof *s);
	s->m = m;
	s->c = c;
	s->model_id = model_id;
	s->n_slots = eng_ctx_n_seq(c);
	s->n_ctx = eng_ctx_len(c);
	s->n_vocab = cfg->vocab_size;
	s->eos = eng_token_eos(m);
	s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
	s->logits = malloc((size_t)s->n_slots * s->n_vocab * sizeof *s->logits);
	s->seq = malloc((size_t)s->n_slots * sizeof *s->seq);
	s->tok = malloc((size_t)s->n_slots * sizeof *s->tok);
	s->batch = malloc((size_t)s->n_slots * sizeof *s->batch);
	if (!s->slots || !s->logits || !s->seq || !s->tok || !s->batch) {
		snprintf(err, errlen, "out of memory for %d slots", s->n_slots);
		goto fail;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	if (pthread_create(&s->thread, NULL, sched_main, s)) {
		snprintf(err, errlen, "cannot start the scheduler thread");
		pthread_cond_destroy(&s->work);
		pthread_mutex_destroy(&s->mu);
		goto fail;
	}
	s->started = true;
	return 0;
fail:
	free(s->slots);
	free(s->logits);
	free(s->seq);
	free(s->tok);
	free(s->batch);
	return -ENOMEM;
}

void srv_stop(struct srv *s)
{
	if (!s->started)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->mu);
	free(s->slots);
	free(s->logits);
	free(s->seq);
	free(s->tok);
	free(s->batch);
	s->started = false;
}
