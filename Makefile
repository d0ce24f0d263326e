# Tandem — `make run` serves the demo practice; `make test` runs every test.
# Both install what is missing first (Debian packages, npm packages for the
# browser test and the iCalendar readers). See README.md.

SHELL := /bin/bash
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

CC      ?= cc
CLANG   ?= clang
BUILD   := build
PG_DIR  := $(CURDIR)/var/pg

# Debian packages the build, the tests and `make run` need.
DEB_PACKAGES := build-essential pkg-config clang libclang-rt-14-dev llvm \
	libcivetweb-dev libpq-dev postgresql postgresql-contrib \
	libmbedtls-dev libical-dev libargon2-dev libjansson-dev libcurl4-openssl-dev \
	libcmocka-dev wrk chromium python3 python3-pytest curl ca-certificates tzdata \
	python3-icalendar python3-recurring-ical-events python3-vobject khal calcurse python3-aiosmtpd \
	nginx openssl

PQ_INC  := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
CFLAGS_COMMON := -std=c17 -D_GNU_SOURCE -Ibackend -I$(PQ_INC) $(WARN) -g -pthread
CFLAGS  := $(CFLAGS_COMMON) -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
LDFLAGS := -pie -Wl,-z,relro,-z,now -pthread
LIBS    := -lcivetweb -lpq -lmbedcrypto -largon2 -ljansson -lcurl $(shell pkg-config --libs libical 2>/dev/null || echo -lical)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_CFLAGS := $(CFLAGS_COMMON) -O1 $(SAN_FLAGS)

SRC      := $(shell find backend -name '*.c' | sort)
LIB_SRC  := $(filter-out backend/main.c,$(SRC))
HDRS     := $(shell find backend -name '*.h')
OBJ      := $(patsubst backend/%.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(BUILD)/obj/gen/migrations.o $(BUILD)/obj/gen/forms.o
ASAN_OBJ := $(patsubst backend/%.c,$(BUILD)/asan/obj/%.o,$(LIB_SRC)) $(BUILD)/asan/obj/gen/migrations.o \
            $(BUILD)/asan/obj/gen/forms.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
UNIT_ASAN_BIN := $(patsubst tests/unit/%.c,$(BUILD)/asan/unit/%,$(UNIT_SRC))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60

.PHONY: build deps run stop test unit ics-readers integration e2e asan fuzz fuzz-replay bench lint clean distclean

# ---------------------------------------------------------------- packages
# Installs only what is missing; uses sudo when not root. Runs apt-get
# update once, only when something has to be installed.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# ---------------------------------------------------------------- build
build: $(BUILD)/tandem

$(BUILD)/gen/migrations.c: $(wildcard sql/*.sql) backend/db/embed_sql.sh
	@mkdir -p $(@D)
	@backend/db/embed_sql.sh sql > $@

$(BUILD)/obj/gen/migrations.o: $(BUILD)/gen/migrations.c backend/db/migrate.h
	@mkdir -p $(@D)
	@$(CC) $(CFLAGS) -c -o $@ $<

# The intake form definitions (forms/*.json), seeded by migrate and seed-demo.
$(BUILD)/gen/forms.c: $(wildcard forms/*.json) backend/intake/embed_forms.sh
	@mkdir -p $(@D)
	@backend/intake/embed_forms.sh forms > $@

$(BUILD)/obj/gen/forms.o: $(BUILD)/gen/forms.c backend/intake/intake.h
	@mkdir -p $(@D)
	@$(CC) $(CFLAGS) -Ibackend -c -o $@ $<

$(BUILD)/asan/obj/gen/forms.o: $(BUILD)/gen/forms.c backend/intake/intake.h
	@mkdir -p $(@D)
	@$(CC) $(ASAN_CFLAGS) -Ibackend -c -o $@ $<

$(BUILD)/fuzz/obj/gen/forms.o: $(BUILD)/gen/forms.c backend/intake/intake.h
	@mkdir -p $(@D)
	@$(CLANG) $(FUZZ_CFLAGS) -Ibackend -c -o $@ $<

$(BUILD)/obj/%.o: backend/%.c $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libtandem.a: $(OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/tandem: $(BUILD)/obj/main.o $(BUILD)/libtandem.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/asan/obj/gen/migrations.o: $(BUILD)/gen/migrations.c backend/db/migrate.h
	@mkdir -p $(@D)
	@$(CC) $(ASAN_CFLAGS) -c -o $@ $<

$(BUILD)/asan/obj/%.o: backend/%.c $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC asan $<"
	@$(CC) $(ASAN_CFLAGS) -c -o $@ $<

$(BUILD)/asan/libtandem.a: $(ASAN_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/asan/tandem: $(BUILD)/asan/obj/main.o $(BUILD)/asan/libtandem.a
	@echo "  LD asan $@"
	@$(CC) $(SAN_FLAGS) -pthread -o $@ $^ $(LIBS)

$(BUILD)/unit/%: tests/unit/%.c $(BUILD)/libtandem.a $(HDRS)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libtandem.a $(LIBS) -lcmocka

$(BUILD)/asan/unit/%: tests/unit/%.c $(BUILD)/asan/libtandem.a $(HDRS)
	@mkdir -p $(@D)
	@echo "  LD asan $@"
	@$(CC) $(ASAN_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/asan/libtandem.a $(LIBS) -lcmocka

# Sample invites for the independent iCalendar readers (tests/unit/ics_check.py).
$(BUILD)/ics_sample: tests/unit/ics_sample.c $(BUILD)/libtandem.a $(HDRS)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libtandem.a $(LIBS)

# The mail hooks no route calls yet, run as their callers will (test_mail.py).
$(BUILD)/mail_hooks: tests/integration/mail_hooks.c $(BUILD)/libtandem.a $(HDRS)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libtandem.a $(LIBS)

# cal_import's result as JSON, for tests/unit/calimport_check.py and timing.
$(BUILD)/calimport_dump: tests/unit/calimport_dump.c $(BUILD)/libtandem.a $(HDRS)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libtandem.a $(LIBS)

# libFuzzer targets: the library built once by clang with coverage and
# sanitizers, each target linked against it.
FUZZ_CFLAGS := $(CFLAGS_COMMON) -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ := $(patsubst backend/%.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRC)) $(BUILD)/fuzz/obj/gen/migrations.o \
            $(BUILD)/fuzz/obj/gen/forms.o

$(BUILD)/fuzz/obj/gen/migrations.o: $(BUILD)/gen/migrations.c backend/db/migrate.h
	@mkdir -p $(@D)
	@$(CLANG) $(FUZZ_CFLAGS) -c -o $@ $<

$(BUILD)/fuzz/obj/%.o: backend/%.c $(HDRS)
	@mkdir -p $(@D)
	@echo "  CC fuzz $<"
	@$(CLANG) $(FUZZ_CFLAGS) -c -o $@ $<

$(BUILD)/fuzz/libtandem.a: $(FUZZ_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzz/libtandem.a $(HDRS)
	@mkdir -p $(@D)
	@echo "  LD fuzz $@"
	@$(CLANG) $(CFLAGS_COMMON) -O1 -fsanitize=fuzzer,address,undefined -o $@ $< $(BUILD)/fuzz/libtandem.a $(LIBS)

# ---------------------------------------------------------------- run
run: deps build
	@deploy/pg-embedded.sh start $(PG_DIR) >/dev/null
	@[ -f var/tandem.keys ] || $(BUILD)/tandem keygen var/tandem.keys
	@export TANDEM_DATABASE_URL="$$(deploy/pg-embedded.sh url $(PG_DIR))"; \
	export TANDEM_INSECURE_DEV_COOKIES=true; \
	$(BUILD)/tandem migrate && $(BUILD)/tandem seed-demo && \
	echo "Tandem: http://127.0.0.1:8080  (Ctrl-C stops the server; 'make stop' stops the database)" && \
	if [ "$${TANDEM_MAIL_TRANSPORT:-file}" = file ]; then \
		echo "Mail is not sent: each message is written as an .eml file to $${TANDEM_MAIL_DIR:-$(CURDIR)/var/mail}/"; fi && \
	echo "Clinician area: http://127.0.0.1:8080/admin. This local run sets insecure_dev_cookies=true" && \
	echo "(plain-http session cookies, no Secure/__Host-); never set it in production." && \
	exec $(BUILD)/tandem serve

stop:
	@deploy/pg-embedded.sh stop $(PG_DIR)

# ---------------------------------------------------------------- tests
# Every suite prints its own summary; tests/run-suites.sh adds them up and
# prints the final "N passed, M failed" line.
test: deps build $(BUILD)/asan/tandem $(UNIT_BIN) $(UNIT_ASAN_BIN) $(FUZZ_BIN) $(BUILD)/ics_sample $(BUILD)/mail_hooks \
		$(BUILD)/calimport_dump tests/e2e/node_modules tests/ics/node_modules
	@tests/run-suites.sh \
		"unit" "tests/unit/run.sh $(BUILD)/unit" \
		"ics-readers" "/usr/bin/python3 tests/unit/ics_check.py $(BUILD)/ics_sample" \
		"calimport-readers" "/usr/bin/python3 tests/unit/calimport_check.py $(BUILD)/calimport_dump" \
		"integration" "TANDEM_BIN=$(BUILD)/tandem tests/integration/run.sh" \
		"e2e" "TANDEM_BIN=$(BUILD)/tandem tests/e2e/run.sh" \
		"unit-asan" "tests/unit/run.sh $(BUILD)/asan/unit" \
		"integration-asan" "TANDEM_BIN=$(BUILD)/asan/tandem tests/integration/run.sh" \
		"fuzz-replay" "tests/fuzz/replay.sh $(BUILD)/fuzz"

unit: build $(UNIT_BIN)
	@tests/run-suites.sh "unit" "tests/unit/run.sh $(BUILD)/unit"

ics-readers: deps $(BUILD)/ics_sample tests/ics/node_modules
	@tests/run-suites.sh "ics-readers" "/usr/bin/python3 tests/unit/ics_check.py $(BUILD)/ics_sample"

integration: build $(BUILD)/mail_hooks
	@tests/run-suites.sh "integration" "TANDEM_BIN=$(BUILD)/tandem tests/integration/run.sh"

e2e: build tests/e2e/node_modules
	@tests/run-suites.sh "e2e" "TANDEM_BIN=$(BUILD)/tandem tests/e2e/run.sh"

asan: $(BUILD)/asan/tandem $(UNIT_ASAN_BIN) $(BUILD)/mail_hooks
	@tests/run-suites.sh "unit-asan" "tests/unit/run.sh $(BUILD)/asan/unit" \
		"integration-asan" "TANDEM_BIN=$(BUILD)/asan/tandem tests/integration/run.sh"

tests/e2e/node_modules: tests/e2e/package.json tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# ical.js and node-ical for the ics-readers suite (tests/unit/ics_readers.py).
tests/ics/node_modules: tests/ics/package.json tests/ics/package-lock.json
	cd tests/ics && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

fuzz-replay: $(FUZZ_BIN)
	@tests/run-suites.sh "fuzz-replay" "tests/fuzz/replay.sh $(BUILD)/fuzz"

# Each target for FUZZ_SECONDS (default 60) from its seed corpus.
fuzz: deps $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do \
		name=$$(basename $$f); dir=tests/fuzz/corpus/$${name#fuzz_}; \
		work=$$(mktemp -d); cp -r $$dir/. $$work/ 2>/dev/null || true; \
		echo "== $$name ($(FUZZ_SECONDS)s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 $$work 2>&1 | tail -n 12; \
		rm -rf $$work; \
	done

# ---------------------------------------------------------------- bench
bench: deps build
	@tests/bench/bench.sh $(BUILD)/tandem

lint:
	@clang-format --dry-run --Werror $(SRC) $(HDRS) $(UNIT_SRC) $(FUZZ_SRC)
	@cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability --inline-suppr \
		--suppress=nullPointerRedundantCheck -Ibackend backend

clean:
	rm -rf $(BUILD) tests/out

distclean: clean stop
	rm -rf var tests/e2e/node_modules tests/ics/node_modules
