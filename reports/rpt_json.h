/*
 * reports/rpt_json.h — private cJSON helpers shared by the reports files: typed field reads
 * that distinguish "absent", "null (+ reason)" and "wrong type", and string formatting helpers.
 */
#ifndef JB_RPT_JSON_H
#define JB_RPT_JSON_H

#include "reports/reports.h"

#include <cjson/cJSON.h>

/* Copies a string field into buf (empty when absent or not a string). */
void rj_str(const cJSON *o, const char *name, char *buf, size_t len);
/* A number field into *v; returns true when present and a number. */
bool rj_num(const cJSON *o, const char *name, double *v);
/* A number field as rpt_num: null/absent → !ok with the `<name>_reason` sibling (or a default). */
void rj_rnum(const cJSON *o, const char *name, struct rpt_num *n);
/* Reads a SCHEMA.md stat object. Returns -EINVAL with a message naming ctx.name when the field
 * is present but not an object/null or lacks a numeric median. */
int rj_stat(const cJSON *o, const char *name, struct rpt_stat *s, const char *file, const char *ctx,
            char *err, size_t errlen);

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL with errno set on failure. */
char *rj_slurp(const char *path, size_t *len);

/* A short name for a result file: its base name, or "DIR/result.json" for the runner's
 * DIR/result.json layout (a suffix of path, not a copy). */
const char *rj_label(const char *path);

/* Formats a number with `sig` significant digits, "-" style placeholder not included. */
void rj_fmt(char *buf, size_t len, double v, int sig);

/* The local figures the cloud table, claims and plots set against cloud estimates: decode
 * J/token gross (median and 95% CI) of the headline config, and gross Wh for one query of the
 * result's own prompt/answer length. !ok with `reason` when the result has no energy. */
struct rj_local {
	bool ok;
	const struct rpt_config *cfg;
	struct rpt_range jpt;      /* v = median, low/high = CI (widened by an estimate's range) */
	struct rpt_range wh_query; /* prompt + answer, gross */
	bool estimated;
	bool with_model_range;     /* low/high include the estimate's low/high coefficients */
	char source[64];
	char reason[RPT_REASON_LEN];
};
void rj_local(const struct rpt_result *r, struct rj_local *l);
/* Gross local Wh for a query of `prompt` prompt tokens and `answer` generated tokens. */
struct rpt_range rj_local_query_wh(const struct rj_local *l, int prompt, int answer);

#endif
