/*
 * reports/reports.h — turns result files (reports/SCHEMA.md) into answers: cloud-equivalent
 * estimates, claims checks, comparisons, Markdown/HTML reports, gnuplot plots and the regression
 * gate. Everything here reads result JSON, never engine or probe state.
 */
#ifndef JB_REPORTS_H
#define JB_REPORTS_H

/* The result schema version this build writes and reads. */
#define RPT_SCHEMA_VERSION 1

#endif
