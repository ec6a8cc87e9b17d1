#!/usr/bin/env bash
# Part of `make bench`: the wall-meter probes against the fake Shelly (35.0 W) and Tasmota
# (12.0 W) plugs of tests/test_meter.c on 127.0.0.1, polled at 1 Hz for METER_SECONDS (default
# 60, the MLPerf power minimum) instead of the unit test's 2 s at 20 Hz; each must integrate
# within 1%. Nothing beyond 127.0.0.1 is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${METER_SECONDS:-60}
make -s build/tests/test_meter >/dev/null
echo
echo "== wall meters: fake Shelly 35.0 W and Tasmota 12.0 W on 127.0.0.1, ${secs} s each at 1 Hz =="
JB_METER_SECONDS=$secs JB_METER_INTERVAL_MS=1000 build/tests/test_meter 2>&1 | grep -E 'shelly:|tasmota:|OK|FAILED|PASSED'
