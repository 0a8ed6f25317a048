# previewd — build, test, demo and benchmark.
#
#   make               build/previewd
#   make test          install missing Debian packages (as root), build, unit + integration tests
#   make demo          throwaway PostgreSQL + previewd + a signed sample webhook
#   make bench         latency and throughput figures (see BENCHMARKS.md)
#   make SANITIZE=address,undefined test    the whole suite under the sanitizers
#
# DEVELOPER-style warnings are always on: a warning is a build failure.

CC       ?= cc
BUILD    ?= build
PYTHON   ?= /usr/bin/python3
PKGS      = libcjson libcurl inih libpq libmariadb sqlite3 openssl libjwt

VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

OPT      ?= -O2 -g
WARN      = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wvla -Wwrite-strings \
            -Wno-format-nonliteral -Wno-format-truncation
# format-truncation: bounded messages are truncated on purpose; where a cut
# would matter, str_printf reports it and the caller checks.
# Where the templates (blueprints, the admin page, comments) are read
# from, unless [server] templates_dir says otherwise.
TEMPLATES_DIR ?= $(abspath templates)

CPPFLAGS += -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I. \
            -DPREVIEWD_VERSION='"$(VERSION)"' \
            -DPREVIEWD_TEMPLATES='"$(TEMPLATES_DIR)"'
CFLAGS   += $(OPT) $(WARN) -pthread -fno-strict-aliasing \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb -lpthread -lm

ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

# Every module except main.c goes into a static library that both the daemon
# and the unit tests link, so a unit test pulls in exactly what it uses.
SRC_DIRS  = server handlers engines forges reaper
LIB_SRC   = $(filter-out server/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ  = $(BUILD)/server/main.o
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test unit integration demo bench deps clean check-docs
all: $(BUILD)/previewd

# Rebuild everything when the flags change (SANITIZE=..., OPT=...).
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || \
	  echo '$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)' > $@
FORCE:

# V=1 shows the full commands.
Q = $(if $(V),,@)

$(BUILD)/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libpreviewd.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/previewd: $(MAIN_OBJ) $(BUILD)/libpreviewd.a
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libpreviewd.a $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< \
	  $(BUILD)/libpreviewd.a $(LDLIBS) -lcmocka

deps:
	@sh scripts/install-deps.sh

unit: $(UNIT_BIN)
	@failed=""; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed="$$failed $$t"; done; \
	  if [ -n "$$failed" ]; then echo "unit tests failed:$$failed"; exit 1; fi

# node-postgres, pinned by tests/node/package-lock.json (from npm's registry).
tests/node/node_modules/pg: tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error

integration: $(BUILD)/previewd tests/node/node_modules/pg
	PREVIEWD_BIN=$(abspath $(BUILD)/previewd) $(PYTHON) -m pytest -q -ra \
	  $(PYTEST_ARGS) tests/integration

test: deps
	@$(MAKE) --no-print-directory all unit check-docs
	@$(MAKE) --no-print-directory integration

check-docs:
	@sh scripts/check-docs.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	$(PYTHON) bench/bench.py --binary $(abspath $(BUILD)/previewd)

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
