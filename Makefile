# tcmtrace — build, test and run.
#
#   make          build libtcmtrace (static and shared), tcmtraced and tcmtrace
#   make check    build and run the whole test suite
#   make asan     the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
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
            -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -I/usr/include/freetype2
LDFLAGS  += $(SAN)
LIBS     := -lsodium -llmdb -ljansson -lpthread
NNLIBS   := -lnanomsg
IMGLIBS  := -lqrencode -lpng16 -lzbar -lfreetype -ljpeg
TESTLIBS := -lcmocka

DEB_PKGS := build-essential pkg-config libsodium-dev liblmdb-dev libnanomsg-dev \
            libqrencode-dev libcmocka-dev libjansson-dev libzbar-dev libpng-dev \
            libfreetype-dev fonts-wqy-microhei libjpeg62-turbo-dev python3 python3-jsonschema

CORE_SRC := $(wildcard core/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
DEPS_OK  := $(BUILD)/.deps-ok
UTIL_OBJ := $(BUILD)/cli/util.o
DAEMON_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard daemon/*.c))
CLI_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(filter-out cli/util.c,$(wildcard cli/*.c)))

.PHONY: all lib check asan demo bench deps clean
.SECONDARY:

all: lib $(BUILD)/tcmtraced $(BUILD)/tcmtrace

# test helper: prints a signed submit request (not installed)
$(BUILD)/tcmtrace-sign: $(BUILD)/tests/tcmtrace-sign.o $(UTIL_OBJ) $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

lib: $(BUILD)/libtcmtrace.a $(BUILD)/libtcmtrace.so

$(BUILD)/tcmtraced: $(DAEMON_OBJ) $(UTIL_OBJ) $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(NNLIBS)

$(BUILD)/tcmtrace: $(CLI_OBJ) $(UTIL_OBJ) $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(NNLIBS) $(IMGLIBS)

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

$(BUILD)/%.o: %.c $(wildcard include/tcmtrace/*.h core/*.h daemon/*.h cli/*.h) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libtcmtrace.a: $(CORE_OBJ)
	ar rcs $@ $^

$(BUILD)/libtcmtrace.so: $(CORE_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LIBS)

# the label test draws and reads real images with the CLI's QR code
$(BUILD)/tests/test_label: $(BUILD)/tests/test_label.o $(BUILD)/tests/testutil.o $(BUILD)/cli/qr.o $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TESTLIBS) $(IMGLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/tests/testutil.o $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/tests/testutil.o $(BUILD)/libtcmtrace.a $(LIBS) $(TESTLIBS)

check: all $(TEST_BIN) $(BUILD)/tcmtrace-sign
	@BUILD=$(BUILD) sh tests/run.sh $(TEST_BIN)

demo: all
	@BIN=$(BUILD) sh tests/demo.sh

$(BUILD)/tcmtrace-bench: $(BUILD)/tests/bench.o $(BUILD)/libtcmtrace.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(NNLIBS)

# figures, not pass/fail: BENCH_ARGS="--entries 200000" for a shorter run
bench: all $(BUILD)/tcmtrace-bench
	@$(BUILD)/tcmtrace-bench $(BENCH_ARGS)

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" check

clean:
	rm -rf $(BUILD) build
