# previewd — build, test, demo and benchmark.
#
#   make               build/previewd
#   make test          install missing Debian packages (as root), check the
#                      layers, build, unit + integration tests
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
# Where the daemon finds its TLS shims for civetweb (server/tlsshim/).
LIBDIR ?= $(abspath $(BUILD))

CPPFLAGS += -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I. \
            -DPREVIEWD_VERSION='"$(VERSION)"' \
            -DPREVIEWD_TEMPLATES='"$(TEMPLATES_DIR)"' \
            -DPREVIEWD_LIBDIR='"$(LIBDIR)"'
CFLAGS   += $(OPT) $(WARN) -pthread -fno-strict-aliasing \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb -lpthread -lm

ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
# Reports end the process (a test then fails) with their stack; see
# tests/sanitizers/README.md. Values already in the environment win.
export ASAN_OPTIONS  ?= detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS  ?= suppressions=$(abspath tests/sanitizers/lsan.supp)
endif

# Every module except main.c goes into a static library that both the daemon
# and the unit tests link, so a unit test pulls in exactly what it uses.
SRC_DIRS  = lib store engines forges core reaper handlers server
LIB_SRC   = $(filter-out server/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ  = $(BUILD)/server/main.o
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

TLS_SHIMS = $(BUILD)/libpreviewd-ssl.so $(BUILD)/libpreviewd-crypto.so

.PHONY: all test unit integration demo bench bench-fleet deps clean check-docs \
        check-layers check-faults
all: $(BUILD)/previewd $(TLS_SHIMS)

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

# Each shim answers to the name civetweb dlopen()s (its soname) and pulls
# in the real library; see server/tlsshim/ssl.c for why.
$(BUILD)/libpreviewd-%.so: server/tlsshim/%.c $(BUILD)/.flags
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -shared $(LDFLAGS) \
	  -Wl,-soname,lib$*.so -Wl,--no-as-needed -o $@ $< -l$*

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libpreviewd.a $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< \
	  $(BUILD)/libpreviewd.a $(LDLIBS) -lcmocka

# The engines' pool and clone calls one at a time, for the integration
# tests and bench/clone_strategies.py (tests/drivers/clone_driver.c).
DRIVERS = $(BUILD)/tests/clone_driver
$(BUILD)/tests/clone_driver: tests/drivers/clone_driver.c \
    $(BUILD)/libpreviewd.a $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< \
	  $(BUILD)/libpreviewd.a $(LDLIBS)

deps:
	@sh scripts/install-deps.sh

unit: $(UNIT_BIN)
	@failed=""; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed="$$failed $$t"; done; \
	  if [ -n "$$failed" ]; then echo "unit tests failed:$$failed"; exit 1; fi

# node-postgres and playwright-core, pinned by tests/node/package-lock.json
# (from npm's registry); npm ci leaves node_modules/.package-lock.json.
NODE_STAMP = tests/node/node_modules/.package-lock.json
$(NODE_STAMP): tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The migration tools the tests run for real (dbmate, whose npm package
# ships its binary; drizzle-orm with the pg and mysql2 drivers), pinned
# by tests/tools/package.json (exact versions) and package-lock.json.
# "npm install --no-save", not "npm ci": the registry here serves only
# the linux-x64 binary of dbmate's seven optional platform packages, so
# the lock lists that one, and npm ci refuses a lock without the other
# six.
TOOLS_STAMP = tests/tools/node_modules/.package-lock.json
$(TOOLS_STAMP): tests/tools/package.json tests/tools/package-lock.json
	cd tests/tools && npm install --no-save --no-audit --no-fund \
	  --loglevel=error
	@touch $@

integration: all $(DRIVERS) $(NODE_STAMP) $(TOOLS_STAMP)
	PREVIEWD_BIN=$(abspath $(BUILD)/previewd) $(PYTHON) -m pytest -q -ra \
	  -p no:cacheprovider --basetemp=$(abspath $(BUILD))/pytest \
	  $(PYTEST_ARGS) tests/integration

test: deps
	@$(MAKE) --no-print-directory check-layers check-faults all unit \
	  check-docs
	@$(MAKE) --no-print-directory integration

check-docs:
	@sh scripts/check-docs.sh

# The one-way layers of ARCHITECTURE.md (tests/integration/
# test_source_checks.py shows both checks failing when they should).
check-layers:
	@sh scripts/check-layers

# Every fault_point("...") is armed by some test.
check-faults:
	@sh scripts/check-faults

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	$(PYTHON) bench/bench.py --binary $(abspath $(BUILD)/previewd)

# Claims and pages at 10, 1,000 and 3,000 live environments (issue 26):
# ~22 GB of databases and a quarter of an hour, so not part of make bench.
bench-fleet: deps
	@$(MAKE) --no-print-directory all
	$(PYTHON) bench/fleet.py --binary $(abspath $(BUILD)/previewd) \
	  --sizes 10,1000,3000 --samples 30

clean:
	rm -rf $(BUILD) $(INSTALL_BUILD)

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)

# ---- fuzzing (tests/fuzz) ----
# make fuzz [FUZZ_SECONDS=60] [FUZZ_JOBS=n] [FUZZ_TARGETS="jscan dburl"]
#     one libFuzzer binary per target (clang, ASan + UBSan), each run
#     FUZZ_SECONDS on its seeds plus a scratch corpus; fails on any crash,
#     leak, sanitizer report or broken invariant. See tests/fuzz/README.md.
# make fuzz-regressions   replay tests/fuzz/regressions/<target>/ once
# make fuzz-build         only build; make fuzz-clean removes $(FUZZ_BUILD)
# Everything goes to $(FUZZ_BUILD) (never $(BUILD)); no network, no ports.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_TARGETS ?= jscan github_webhook gitlab_webhook vercel_webhook \
                signatures config dburl template rfc3339_duration inert \
                scrub
FUZZ_FLAGS    = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -g -O1 -fno-omit-frame-pointer
# The project's warnings, but not -Werror: clang warns where gcc does not
# (and does not know -Wno-format-truncation), and that is not the fuzzer's
# business.
FUZZ_CFLAGS   = $(FUZZ_FLAGS) $(filter-out -Werror,$(WARN)) \
                -Wno-unknown-warning-option -pthread -fno-strict-aliasing \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb \
                -lpthread -lm
# config reads "file:PATH" values: only regular files (fuzz_config.c).
FUZZ_LDFLAGS_config = -Wl,--wrap=fopen
FUZZ_LIB_OBJ  = $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BINS     = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/bin/%)

.PHONY: fuzz fuzz-build fuzz-regressions fuzz-clean
fuzz: fuzz-build
	@sh tests/fuzz/run.sh fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS) \
	  $(FUZZ_TARGETS)

fuzz-regressions: fuzz-build
	@sh tests/fuzz/run.sh regressions $(FUZZ_BUILD) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

$(FUZZ_BUILD)/.flags: FORCE
	@mkdir -p $(FUZZ_BUILD)
	@echo '$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_LDLIBS)' | \
	  cmp -s - $@ || \
	  echo '$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_LDLIBS)' > $@

# The project's own sources, instrumented, in a library of their own: each
# target links only the modules it pulls in.
$(FUZZ_BUILD)/%.o: %.c $(FUZZ_BUILD)/.flags
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libpreviewd.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(FUZZ_BUILD)/bin/%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o \
    $(FUZZ_BUILD)/libpreviewd.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_LDFLAGS_$*) -o $@ $< \
	  $(FUZZ_BUILD)/libpreviewd.a $(FUZZ_LDLIBS)

# Keep the targets' objects (make would delete them as intermediates).
.SECONDARY: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o)
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.d)
# ---- end fuzzing ----

# ---- install (contrib) ----
# make install [PREFIX=/usr/local] [DESTDIR=]
#     $(DESTDIR)$(PREFIX)/bin/previewd              the daemon
#     $(DESTDIR)$(PREFIX)/share/previewd/templates/ comment.md, blueprints/
#     $(DESTDIR)$(PREFIX)/lib/previewd/             TLS shims (server/tlsshim)
#     $(DESTDIR)$(PREFIX)/lib/systemd/system/previewd.service
#     $(DESTDIR)$(PREFIX)/share/doc/previewd/previewd.conf.example
# The installed daemon reads its templates from $(PREFIX)/share/previewd/
# templates by default (compiled in: TEMPLATES_DIR), so it is built apart,
# in $(INSTALL_BUILD), never as $(BUILD)/previewd, which keeps the source
# tree's templates for the tests. The unit's Exec lines and the example's
# templates_dir are rewritten for PREFIX. Nothing goes to /etc: the
# configuration and the credentials are the operator's (see the unit).
# "make install-build" builds without installing (then "sudo make install"
# only copies). make uninstall [PREFIX=...] [DESTDIR=...] removes what
# install put there.
PREFIX        ?= /usr/local
DESTDIR       ?=
INSTALL       ?= install
INSTALL_BUILD ?= build-install
BINDIR        ?= $(PREFIX)/bin
PKGDATADIR    ?= $(PREFIX)/share/previewd
PKGLIBDIR     ?= $(PREFIX)/lib/previewd
DOCDIR        ?= $(PREFIX)/share/doc/previewd
UNITDIR       ?= $(PREFIX)/lib/systemd/system

.PHONY: install install-build uninstall
install-build:
	@$(MAKE) --no-print-directory BUILD=$(INSTALL_BUILD) \
	  TEMPLATES_DIR=$(PKGDATADIR)/templates LIBDIR=$(PKGLIBDIR) all

install: install-build
	$(INSTALL) -d -m 755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGDATADIR) \
	  $(DESTDIR)$(PKGLIBDIR) \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 755 $(INSTALL_BUILD)/previewd $(DESTDIR)$(BINDIR)/previewd
	$(INSTALL) -m 644 $(INSTALL_BUILD)/libpreviewd-ssl.so \
	  $(INSTALL_BUILD)/libpreviewd-crypto.so $(DESTDIR)$(PKGLIBDIR)/
	@find templates -type d | sort | while read -r d; do \
	  $(INSTALL) -d -m 755 "$(DESTDIR)$(PKGDATADIR)/$$d" || exit 1; done
	@find templates -type f ! -name '.*' | sort | while read -r f; do \
	  echo "$(INSTALL) -m 644 $$f $(DESTDIR)$(PKGDATADIR)/$$f"; \
	  $(INSTALL) -m 644 "$$f" "$(DESTDIR)$(PKGDATADIR)/$$f" || exit 1; done
	sed -e 's|/usr/local/bin/previewd|$(BINDIR)/previewd|g' \
	  -e 's|/usr/local/share/doc/previewd|$(DOCDIR)|g' \
	  contrib/previewd.service > $(INSTALL_BUILD)/previewd.service
	$(INSTALL) -m 644 $(INSTALL_BUILD)/previewd.service \
	  $(DESTDIR)$(UNITDIR)/previewd.service
	sed -e 's|/usr/local/share/previewd/templates|$(PKGDATADIR)/templates|g' \
	  contrib/previewd.conf.example > $(INSTALL_BUILD)/previewd.conf.example
	$(INSTALL) -m 644 $(INSTALL_BUILD)/previewd.conf.example \
	  $(DESTDIR)$(DOCDIR)/previewd.conf.example

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/previewd \
	  $(DESTDIR)$(PKGLIBDIR)/libpreviewd-ssl.so \
	  $(DESTDIR)$(PKGLIBDIR)/libpreviewd-crypto.so \
	  $(DESTDIR)$(UNITDIR)/previewd.service \
	  $(DESTDIR)$(DOCDIR)/previewd.conf.example
	@find templates -type f ! -name '.*' | while read -r f; do \
	  rm -f "$(DESTDIR)$(PKGDATADIR)/$$f" || exit 1; done
	@find templates -depth -type d | while read -r d; do \
	  rmdir "$(DESTDIR)$(PKGDATADIR)/$$d" 2>/dev/null || true; done
	@rmdir $(DESTDIR)$(PKGDATADIR) $(DESTDIR)$(PKGLIBDIR) \
	  $(DESTDIR)$(DOCDIR) 2>/dev/null || true
# ---- end install ----
