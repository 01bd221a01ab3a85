# The benchmarks' peers (bench/README.md): the kernel's HTTP app as a Linux
# program, and a Linux guest that runs it. Included by the top-level Makefile.
#
#   make bench-echo    build/bench/echo_server (static; also run natively)
#   make bench-peer    that, and build/bench/linux/{vmlinuz,vmlinux,initrd.img}
#                      from Debian's kernel and busybox-static, fetched (not
#                      installed) into third_party/bench by `sh scripts/setup.sh
#                      guest`, and the host's iperf (`sh scripts/setup.sh bench`)

BENCH_BUILD := $(BUILD)/bench
BENCH_ECHO := $(BENCH_BUILD)/echo_server
BENCH_LINUX := $(BENCH_BUILD)/linux

# The kernel's own protocol code and http-parser, built for Linux user space
# with the kernel's optimisation level: the same parsing work on both sides.
BENCH_ECHO_SRCS := bench/echo_server.c apps/http_proto.c lib/json.c apps/status_page.S
BENCH_ECHO_OBJS := $(patsubst %,$(BENCH_BUILD)/obj/%.o,$(BENCH_ECHO_SRCS)) \
	$(BENCH_BUILD)/obj/http_parser.c.o
BENCH_CFLAGS := -std=gnu11 -O2 -g -I. $(WARNINGS) -MD -MP

$(BENCH_BUILD)/obj/%.c.o: %.c | $(HTTP_PARSER_STAMP)
	@mkdir -p $(dir $@)
	$(Q)echo "  HOSTCC  $<"
	$(Q)$(HOST_CC) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_BUILD)/obj/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(Q)echo "  HOSTAS  $<"
	$(Q)$(HOST_CC) -I. -MD -MP -c $< -o $@
$(BENCH_BUILD)/obj/apps/status_page.S.o: apps/status_page.html

$(BENCH_BUILD)/obj/http_parser.c.o: $(HTTP_PARSER_DIR)/http_parser.c | $(HTTP_PARSER_STAMP)
	@mkdir -p $(dir $@)
	$(Q)echo "  HOSTCC  $<"
	$(Q)$(HOST_CC) $(BENCH_CFLAGS) $(THIRD_PARTY_CFLAGS) -c $< -o $@

# Static: it runs in the Linux guest's busybox initramfs, which has no libc.
$(BENCH_ECHO): $(BENCH_ECHO_OBJS)
	$(Q)echo "  LD      $@"
	$(Q)$(HOST_CC) -static -o $@ $(BENCH_ECHO_OBJS)

.PHONY: bench-echo bench-peer
bench-echo: $(BENCH_ECHO)

# The script decides what to rebuild: its inputs (Debian's kernel, its
# modules and busybox under third_party/bench, iperf, the echo server) are
# outside make's view. setup.sh guest returns at once when they are fetched.
bench-peer: $(BENCH_ECHO)
	$(Q)sh scripts/setup.sh guest
	$(Q)sh bench/linux-guest.sh $(BENCH_ECHO) $(BENCH_LINUX)
