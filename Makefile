# tcmtrace — build, test and run.
#
#   make          build libtcmtrace (static and shared), tcmtraced, tcmtrace, tcmtrace-web and
#                 tcmtrace-witness
#   make check    build and run the whole test suite
#   make asan     the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan     the test suite under ThreadSanitizer
#   make deps     install the Debian packages the build needs (as root)
#
# Every target first checks the Debian packages below and, when one is
# missing and we are root, installs it.

BUILD    ?= build
CC       ?= cc
OPT      ?= -O2
SAN      ?=
CFLAGS   ?=
CFLAGS   += -std=c11 -Wall -Wextra -Werror -g $(OPT) $(SAN) -fPIC \
            -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Icore -I/usr/include/freetype2
LDFLAGS  += $(SAN)
LIBS     := -lsodium -lnettle -llmdb -ljansson -lpthread -lz
NNLIBS   := -lnanomsg
IMGLIBS  := -lqrencode -lpng16 -lzbar -lfreetype -ljpeg
# zlib (in LIBS): entry bodies deflated in the store, gzip for HTTP answers
# nettle (in LIBS): SHA-256 with the CPU's SHA instructions (GnuTLS's, which libmicrohttpd brings)
WEBLIBS  := -lmicrohttpd
# libcurl (GnuTLS, as libmicrohttpd): tcmtraced asks its witnesses over HTTP(S)
CURLLIBS := -lcurl
TESTLIBS := -lcmocka

DEB_PKGS := build-essential pkg-config libsodium-dev liblmdb-dev libnanomsg-dev \
            libqrencode-dev libcmocka-dev libjansson-dev libzbar-dev libpng-dev \
            libfreetype-dev fonts-wqy-microhei libjpeg62-turbo-dev python3 python3-jsonschema \
            libmicrohttpd-dev libcurl4-gnutls-dev nettle-dev zlib1g-dev python3-yaml python3-cryptography curl openssl \
            clang libclang-rt-14-dev valgrind chromium

# core/ by layer: base (bytes, errors, keys), log (entries, Merkle tree, notes, labels), store
# (LMDB), rules (events and their rules), query (reads, audit, the API), peers (witnesses)
CORE_SRC := $(wildcard core/base/*.c core/log/*.c core/store/*.c core/rules/*.c core/query/*.c core/peers/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
DEPS_OK  := $(BUILD)/.deps-ok
DAEMON_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard daemon/*.c))
WEB_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard web/*.c))
CLI_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard cli/*.c))
WITNESS_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard witness/*.c))
# QR labels drawn and read (libqrencode, FreeType, libpng, zbar): the CLI and tcmtrace-web link it,
# the daemon and libtcmtrace do not
IMG_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard core/image/*.c))

.PHONY: all lib check test test-build mutants coverage asan tsan valgrind fuzz-short demo bench crashtest fuzz fuzz-build deps clean \
	install uninstall
.SECONDARY:

all: lib $(BUILD)/tcmtraced $(BUILD)/tcmtrace $(BUILD)/tcmtrace-web $(BUILD)/tcmtrace-witness web/node_modules/.installed

# the pages' pinned npm modules (@noble fallback, playwright-core for the
# browser tests), exactly as web/package-lock.json says
web/node_modules/.installed: web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "tcmtrace: npm is needed for the pages' modules (Node.js 18 or later)"; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# test helper: a ledger of N entries made straight through the library (tiles and web tests)
$(BUILD)/fill-ledger: $(BUILD)/tests/fill-ledger.o $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# test helper: relays to a daemon but forges its proofs (hostile.sh)
$(BUILD)/forging-proxy: $(BUILD)/tests/forging-proxy.o
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson $(NNLIBS)

# test helper: changes a batch record behind the rules' back (e2e)
$(BUILD)/tamper: $(BUILD)/tests/tamper.o $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# test helper: prints a signed submit request (not installed)
$(BUILD)/tcmtrace-sign: $(BUILD)/tests/tcmtrace-sign.o $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# test shim: fixes the digits of the first trace code the CLI draws (e2e.sh);
# built without sanitizers, as it is preloaded ahead of their runtimes
$(BUILD)/tests/fixed-digits.so: tests/fixed-digits.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra -Werror -O2 -shared -fPIC -o $@ $< -ldl

# test shim: fails the daemon's per-request allocation on demand (crashtest.sh)
$(BUILD)/tests/fail-jobs.so: tests/fail-jobs.c daemon/daemon.h | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra -Werror -O2 -shared -fPIC -Iinclude -o $@ $< -ldl

lib: $(BUILD)/libtcmtrace.a $(BUILD)/libtcmtrace.so

$(BUILD)/tcmtraced: $(DAEMON_OBJ) $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(NNLIBS) $(CURLLIBS)

$(BUILD)/tcmtrace-web: $(WEB_OBJ) $(BUILD)/libtcmtrace-image.a $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(NNLIBS) $(WEBLIBS) $(IMGLIBS)

$(BUILD)/tcmtrace-witness: $(WITNESS_OBJ) $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(WEBLIBS)

$(BUILD)/tcmtrace: $(CLI_OBJ) $(BUILD)/libtcmtrace-image.a $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(NNLIBS) $(IMGLIBS)

$(BUILD)/libtcmtrace-image.a: $(IMG_OBJ)
	ar rcs $@ $^

deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "tcmtrace: missing Debian packages:$$missing"; \
	  echo "tcmtrace: run 'sudo make deps' (or install them) and try again"; exit 1; \
	fi; \
	echo "tcmtrace: installing$$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing

$(DEPS_OK): Makefile
	@$(MAKE) --no-print-directory deps
	@mkdir -p $(@D) && touch $@

$(BUILD)/%.o: %.c $(wildcard include/tcmtrace/*.h core/*/*.h daemon/*.h cli/*.h web/*.h witness/*.h) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libtcmtrace.a: $(CORE_OBJ)
	ar rcs $@ $^

$(BUILD)/libtcmtrace.so: $(CORE_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LIBS)

# the label test draws and reads real images with the shared QR module
$(BUILD)/tests/test_label: $(BUILD)/tests/test_label.o $(BUILD)/tests/testutil.o $(BUILD)/libtcmtrace-image.a $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TESTLIBS) $(IMGLIBS) -lm

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/tests/testutil.o $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/tests/testutil.o $(BUILD)/libtcmtrace.a $(LIBS) $(TESTLIBS)

# The whole suite, as CI runs it: under ASan+UBSan, a short fuzz run, the
# daemon and CLI under valgrind, then every suite on the normal build; the
# last line is the summary "N passed, N failed".
check:
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory tsan
	@$(MAKE) --no-print-directory fuzz-short
	@$(MAKE) --no-print-directory valgrind
	@$(MAKE) --no-print-directory test SUITES="e2e hostile scenario web peers browser crash install"

# unit tests and the suites in SUITES (e2e hostile scenario web peers browser crash install) on BUILD;
# the benchmark is built too (not run), so that a change cannot leave it broken
SUITES ?= e2e hostile scenario web peers browser
test: test-build
	@BUILD=$(BUILD) SUITES="$(SUITES)" sh tests/run.sh $(TEST_BIN)

# everything the suites run, built and not run
test-build: all $(TEST_BIN) $(BUILD)/tcmtrace-bench $(BUILD)/tcmtrace-sign $(BUILD)/fill-ledger $(BUILD)/tamper $(BUILD)/forging-proxy $(BUILD)/tests/fixed-digits.so $(BUILD)/tests/fail-jobs.so

# line and branch coverage of the unit tests, then of the suites too (gcov, lcov), a
# directory at a time, and the rule functions the unit tests leave short of full coverage
coverage: | $(DEPS_OK)
	@command -v lcov >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq --no-install-recommends lcov; } || \
	  { echo "tcmtrace: make coverage needs lcov (Debian package lcov)"; exit 1; }
	@$(MAKE) --no-print-directory BUILD=build/cov OPT=-O0 SAN=--coverage test-build
	@sh tests/coverage.sh build/cov

# every mutation in tests/mutants/mutants.txt must be caught (not part of check: it runs the
# suites once a mutation; MUTANTS="name ..." for a few)
mutants: | $(DEPS_OK)
	@sh tests/mutants.sh

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 SUITES="e2e hostile scenario web peers" \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

# The unit tests and the e2e and hostile suites built with ThreadSanitizer:
# every process writes its reports to build/tsan/races/, and any report fails.
tsan:
	@rm -rf build/tsan/races && mkdir -p build/tsan/races
	@TSAN_OPTIONS="log_path=$$(pwd)/build/tsan/races/race" $(MAKE) --no-print-directory \
	  BUILD=build/tsan OPT=-O1 SUITES="e2e hostile scenario web peers" SAN="-fsanitize=thread" test
	@if ls build/tsan/races/race* >/dev/null 2>&1; then \
	  echo "tsan: data races reported:"; head -80 build/tsan/races/race*; exit 1; fi
	@echo "tsan: no data race reported in the unit tests or the e2e, hostile, scenario, web and peers suites"

# Every tcmtrace and tcmtraced process of the demo, the end-to-end suite and
# the hostile-input suite runs under memcheck; faults inside Debian's
# libraries, not ours, are suppressed in tests/valgrind.supp. With -q
# valgrind writes a log only when it has something to report, so any
# non-empty log is a failure.
valgrind: all $(BUILD)/tcmtrace-bench $(BUILD)/tcmtrace-sign $(BUILD)/tamper $(BUILD)/forging-proxy $(BUILD)/tests/fixed-digits.so
	@rm -rf $(BUILD)/vg && mkdir -p $(BUILD)/vg
	@for b in tcmtrace tcmtraced tcmtrace-web; do \
	  printf '#!/bin/sh\nexec valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --suppressions=%s/tests/valgrind.supp --log-file=%s/vg/log.%%p %s/%s "$$@"\n' \
	    "$$(pwd)" "$$(pwd)/$(BUILD)" "$$(pwd)/$(BUILD)" $$b >$(BUILD)/vg/$$b; chmod +x $(BUILD)/vg/$$b; \
	done
	@ln -s ../tcmtrace-sign $(BUILD)/vg/tcmtrace-sign
	@ln -s ../tcmtrace-bench $(BUILD)/vg/tcmtrace-bench
	@ln -s ../tamper $(BUILD)/vg/tamper
	@ln -s ../forging-proxy $(BUILD)/vg/forging-proxy
	@for s in demo e2e hostile; do \
	  echo "valgrind: $$s"; \
	  BIN=$(BUILD)/vg API_DIR=$(BUILD)/vg/api sh tests/$$s.sh >$(BUILD)/vg/$$s.out 2>&1 || { tail -30 $(BUILD)/vg/$$s.out; exit 1; }; \
	done
	@bad=$$(find $(BUILD)/vg -name 'log.*' -size +0); if [ -n "$$bad" ]; then \
	  echo "valgrind: errors or leaks in $$(echo $$bad | wc -w) processes:"; head -60 $$bad; exit 1; fi
	@echo "valgrind: $$(ls $(BUILD)/vg/log.* | wc -l) tcmtrace, tcmtraced and tcmtrace-web processes (demo, e2e, hostile) ran with no errors and no leaks"

# five seconds a target, on a copy of its seed corpus (libFuzzer adds to it)
fuzz-short: fuzz-build
	@for f in $(FUZZERS); do \
	  rm -rf build/fuzz/short-corpus-$$f && cp -r tests/fuzz/corpus/$$f build/fuzz/short-corpus-$$f; \
	  build/fuzz/fuzz_$$f -max_total_time=5 -max_len=70000 build/fuzz/short-corpus-$$f -runs=100000000 \
	    >build/fuzz/short-$$f.log 2>&1 || { tail -40 build/fuzz/short-$$f.log; exit 1; }; \
	  echo "fuzz_$$f: $$(grep -o 'Done [0-9]* runs' build/fuzz/short-$$f.log) without a crash"; \
	done

demo: all
	@BIN=$(BUILD) sh tests/demo.sh

$(BUILD)/tcmtrace-bench: $(BUILD)/tests/bench.o $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(NNLIBS)

# ---- fuzzing (libFuzzer, clang) -------------------------------------------------
FUZZERS := entry event note proof label api frame rec jsonin stored smt
FUZZ_SECONDS ?= 60

$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/daemon/submit.o $(BUILD)/daemon/server.o $(BUILD)/daemon/tcp.o $(BUILD)/daemon/log.o $(BUILD)/daemon/witnesses.o $(BUILD)/daemon/standby.o $(BUILD)/libtcmtrace.a
	$(CC) -fsanitize=address,undefined,fuzzer -o $@ $^ $(LIBS) $(NNLIBS) $(CURLLIBS)

fuzz-build: | $(DEPS_OK)
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPT=-O1 \
	  SAN="-fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer" \
	  $(FUZZERS:%=build/fuzz/fuzz_%)

# each target for FUZZ_SECONDS on a copy of its seed corpus
fuzz: fuzz-build
	@for f in $(FUZZERS); do \
	  mkdir -p build/fuzz/corpus-$$f && cp -n tests/fuzz/corpus/$$f/* build/fuzz/corpus-$$f/ 2>/dev/null; \
	  echo "== fuzz_$$f ($(FUZZ_SECONDS) s)"; \
	  build/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=70000 build/fuzz/corpus-$$f || exit 1; \
	done

# SIGKILL under load, many times, and a full disk
crashtest: all $(BUILD)/tcmtrace-sign $(BUILD)/tests/fail-jobs.so
	@BIN=$(BUILD) sh tests/crashtest.sh

# figures, not pass/fail: BENCH_ARGS="--entries 200000" for a shorter run
bench: all $(BUILD)/tcmtrace-bench $(BUILD)/tcmtrace-sign $(BUILD)/fill-ledger
	@$(BUILD)/tcmtrace-bench $(BENCH_ARGS)
	@BIN=$(BUILD) sh tests/bench-peers.sh
	@SCREENS=$(BUILD)/bench-screens BIN=$(BUILD) sh tests/browser.sh >$(BUILD)/bench-browser.log 2>&1 || { tail -20 $(BUILD)/bench-browser.log; exit 1; }
	@/usr/bin/python3 -c "import json; m=json.load(open('$(BUILD)/bench-screens/slow3g.json')); \
	  print('| phone page on Slow 3G (400 ms, 400 kbit/s): first contentful paint / every entry verified / bytes of the first view | %d ms (limit 1,000: %.2f) / %d ms / %.1f KB (limit 100: %.2f) |' % \
	  (m['first_contentful_paint_ms'], m['first_contentful_paint_ms'] / 1000, m['verified_ms'], m['bytes'] / 1024, m['bytes'] / 102400))"

# ---- install ----------------------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: the programs, what they read at run time
# (limits table, herb dictionary, the pages and their pinned modules), man pages, bash
# completion, systemd units, the tcmtrace user (sysusers.d) and its directories
# (tmpfiles.d). Run as root with no DESTDIR, it also creates the user and directories.
PREFIX  ?= /usr/local
SHARE   := $(DESTDIR)$(PREFIX)/share/tcmtrace
SYSD    := $(DESTDIR)$(PREFIX)/lib
NOBLE   := web/node_modules/@noble
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(SHARE)/web $(SHARE)/web/node_modules/@noble \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	    $(SYSD)/systemd/system $(SYSD)/sysusers.d $(SYSD)/tmpfiles.d
	install -m 0755 $(BUILD)/tcmtraced $(BUILD)/tcmtrace $(BUILD)/tcmtrace-web $(BUILD)/tcmtrace-witness $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 schemas/limits/chp2020.json schemas/herbs/chp2020-herbs.json $(SHARE)/
	cp -R web/pages $(SHARE)/web/
	cp -R $(NOBLE)/ed25519 $(NOBLE)/hashes $(NOBLE)/ciphers $(SHARE)/web/node_modules/@noble/
	chmod -R u=rwX,go=rX $(SHARE)
	install -m 0644 docs/man/tcmtrace.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 docs/man/tcmtraced.8 docs/man/tcmtrace-web.8 docs/man/tcmtrace-witness.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 cli/completion.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tcmtrace
	install -m 0644 cli/completion.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tcmtraced
	for u in daemon/tcmtraced.service web/tcmtrace-web.service witness/tcmtrace-witness.service; do \
	  sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' $$u >$(SYSD)/systemd/system/$$(basename $$u); \
	  chmod 0644 $(SYSD)/systemd/system/$$(basename $$u); done
	install -m 0644 daemon/tcmtrace.sysusers $(SYSD)/sysusers.d/tcmtrace.conf
	install -m 0644 daemon/tcmtrace.tmpfiles $(SYSD)/tmpfiles.d/tcmtrace.conf
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  command -v systemd-sysusers >/dev/null && systemd-sysusers $(SYSD)/sysusers.d/tcmtrace.conf || true; \
	  command -v systemd-tmpfiles >/dev/null && systemd-tmpfiles --create $(SYSD)/tmpfiles.d/tcmtrace.conf || true; \
	  [ -d /run/systemd/system ] && systemctl daemon-reload || true; \
	fi
	@echo "tcmtrace: installed under $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,tcmtraced tcmtrace tcmtrace-web tcmtrace-witness)
	rm -rf $(SHARE)
	rm -f $(DESTDIR)$(PREFIX)/share/man/man1/tcmtrace.1 \
	    $(DESTDIR)$(PREFIX)/share/man/man8/tcmtraced.8 $(DESTDIR)$(PREFIX)/share/man/man8/tcmtrace-web.8 \
	    $(DESTDIR)$(PREFIX)/share/man/man8/tcmtrace-witness.8 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tcmtrace \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tcmtraced \
	    $(SYSD)/systemd/system/tcmtraced.service $(SYSD)/systemd/system/tcmtrace-web.service \
	    $(SYSD)/systemd/system/tcmtrace-witness.service \
	    $(SYSD)/sysusers.d/tcmtrace.conf $(SYSD)/tmpfiles.d/tcmtrace.conf
	@echo "tcmtrace: removed from $(DESTDIR)$(PREFIX) (ledgers in /var/lib/tcmtrace are kept)"

clean:
	rm -rf $(BUILD) build
