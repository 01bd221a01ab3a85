# libFuzzer targets: real kernel sources compiled for the host with clang's
# -fsanitize=fuzzer,address,undefined, driven by tests/fuzz/fuzz_NAME.c.
# Needs clang and libFuzzer (Debian: clang, libclang-rt-14-dev).
#
#   make -f tests/fuzz/fuzz.mk fuzz-build     build every target
#   make -f tests/fuzz/fuzz.mk fuzz-smoke     each target for FUZZ_SMOKE_SECONDS (20), for make test
#   make -f tests/fuzz/fuzz.mk fuzz           each target for FUZZ_SECONDS (300)
#
# Corpora grow in build/fuzz/corpus/NAME/ (kept between runs, not in git);
# a crash leaves build/fuzz/crash-* and fails the target. Replay one with
#   build/fuzz/fuzz_NAME build/fuzz/crash-...
#
# Add a target: FUZZ_TARGETS += NAME and fuzz_NAME_SRCS := ... below.

FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Wshadow -Werror -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -DHOST_TEST -I. -Itests/unit
FUZZ_BUILD := build/fuzz
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
# -rss_limit_mb: the ring allocations go through ASan's quarantine.
FUZZ_RUN_FLAGS ?= -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

FUZZ_TARGETS := vring
fuzz_vring_SRCS := tests/fuzz/fuzz_vring.c drivers/vring.c drivers/vring_packed.c tests/unit/vdev_model.c lib/trace.c

# --- the packed layout (drivers/vring_packed.c) against its own device model
FUZZ_TARGETS += vring_packed
fuzz_vring_packed_SRCS := tests/fuzz/fuzz_vring_packed.c drivers/vring.c drivers/vring_packed.c \
	tests/unit/pdev_model.c tests/unit/vdev_model.c lib/trace.c

# --- trace: the frame decoder of trace=net (lib/trace.c)
FUZZ_TARGETS += trace
fuzz_trace_SRCS := tests/fuzz/fuzz_trace.c lib/trace.c tests/unit/vdev_model.c
$(FUZZ_BUILD)/fuzz_trace: lib/trace.h

# --- apps: the HTTP server's protocol half (apps/http_proto.c) with http-parser
FUZZ_TARGETS += http
fuzz_http_SRCS := tests/fuzz/fuzz_http.c apps/http_proto.c lib/json.c tests/unit/http_parser_host.c
$(FUZZ_BUILD)/fuzz_http: $(wildcard apps/*.h)

define fuzz_template
$(FUZZ_BUILD)/fuzz_$(1): $$(fuzz_$(1)_SRCS) $$(wildcard tests/unit/*.h drivers/*.h) | $(FUZZ_BUILD)
	$$(Q)echo "  FUZZCC  $$@"
	$$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $$@ $$(fuzz_$(1)_SRCS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_template,$(t))))

$(FUZZ_BUILD):
	@mkdir -p $@

FUZZ_BINS := $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))

# $(1): seconds per target
define fuzz_run
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		echo "== fuzz_$$t for $(1) s"; \
		$(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(1) $(FUZZ_RUN_FLAGS) \
			-artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus/$$t \
			> $(FUZZ_BUILD)/fuzz_$$t.log 2>&1 \
			|| { tail -n 60 $(FUZZ_BUILD)/fuzz_$$t.log; echo "fuzz_$$t: FAILED (log: $(FUZZ_BUILD)/fuzz_$$t.log)"; exit 1; }; \
		grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' $(FUZZ_BUILD)/fuzz_$$t.log; \
	done
endef

.PHONY: fuzz-build fuzz-smoke fuzz
fuzz-build: $(FUZZ_BINS)

fuzz-smoke: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))

fuzz: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SECONDS))
