/*
 * bench/bench.h — the benchmark runner and its statistics.
 *
 * The runner turns a workload (configs/workloads/NAME.json plus command-line overrides) into runs
 * of the engine while the power sampler records, and writes one result JSON per run (schema in
 * reports/SCHEMA.md). The statistics below are shared with reports/ (compare, regress).
 */
#ifndef JB_BENCH_H
#define JB_BENCH_H

#include "reports/reports.h"

#include <stdbool.h>
#include <stdint.h>

/* Statistics (median, percentiles, bootstrap CIs, the seeded generator) live in reports/, which
 * both the runner and the reports use: reports/reports.h, "statistics". */

/* ---- machine ----------------------------------------------------------------------------- */

struct cJSON;
/*
 * The `machine` object of a result (reports/SCHEMA.md): CPU model and vendor, sockets, cores,
 * threads, cpufreq limits and governor, boost state, memory, kernel, OS, hypervisor, SIMD flags.
 * Files are read under sysfs_root (NULL: $JOULEBENCH_SYSFS_ROOT or "/"); what cannot be read is
 * null with `<field>_reason`. The caller owns the returned tree (NULL only when out of memory).
 */
struct cJSON *bench_machine_json(const char *sysfs_root);

#endif
