# Host unit tests: the real kernel sources compiled for the host against test
# doubles, with AddressSanitizer and UndefinedBehaviorSanitizer, run under cmocka.
#
# Each test is tests/unit/test_NAME.c plus the kernel sources it exercises:
#   UNIT_TESTS += NAME
#   test_NAME_SRCS := lib/foo.c tests/unit/fake_bar.c
#   test_NAME_CFLAGS := -DSOMETHING        (optional)
# Add your test with those lines, each module in its own block below.

HOST_CC ?= gcc
UNIT_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Wshadow -Werror -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all -DHOST_TEST -I. -Itests/unit
UNIT_LDLIBS := -lcmocka
UNIT_BUILD := build/unit

UNIT_TESTS :=

# --- per-module test blocks (one block per module; keep them apart) ---
#@@ lib
UNIT_TESTS += string printf heap pmm
test_string_SRCS := lib/string.c lib/ctype.c
test_printf_SRCS := lib/printf.c
test_heap_SRCS := lib/heap.c lib/string.c
test_pmm_SRCS := lib/pmm.c
UNIT_TESTS += siphash
test_siphash_SRCS := lib/siphash.c
#@@ boot
# cmdline.c and bootinfo.c call strlcpy/strtoull, which the host's glibc 2.36
# lacks: point those names at lib/string.c's k_ versions.
UNIT_TESTS += boot
test_boot_SRCS := lib/cmdline.c arch/x86_64/bootinfo.c lib/string.c lib/ctype.c
test_boot_CFLAGS := -include lib/string.h -Dstrlcpy=k_strlcpy -Dstrtoull=k_strtoull
#@@ acpi
UNIT_TESTS += acpi
test_acpi_SRCS := arch/x86_64/acpi.c arch/x86_64/irq.c tests/unit/fake_acpi_hw.c lib/trace.c lib/stats.c lib/json.c
# The MP table (arch/x86_64/mptable.c) in the same fake memory, acpi.c for its checksum.
UNIT_TESTS += mptable
test_mptable_SRCS := arch/x86_64/mptable.c arch/x86_64/acpi.c arch/x86_64/irq.c tests/unit/fake_acpi_hw.c \
	lib/trace.c lib/stats.c lib/json.c
UNIT_TESTS += timer
test_timer_SRCS := arch/x86_64/timer.c arch/x86_64/clockcal.c
UNIT_TESTS += clockcal
test_clockcal_SRCS := arch/x86_64/clockcal.c
#@@ pci
UNIT_TESTS += pci
test_pci_SRCS := drivers/pci.c drivers/pci_cfg.c tests/unit/fake_pcicfg.c
test_pci_CFLAGS := -Wl,-T,tests/unit/pci_drivers.ld
#@@ virtio
UNIT_TESTS += vring
test_vring_SRCS := drivers/vring.c drivers/vring_packed.c tests/unit/vdev_model.c lib/trace.c
# The packed layout (drivers/vring_packed.c, through vring.c) against its own device model.
UNIT_TESTS += vring_packed
test_vring_packed_SRCS := drivers/vring.c drivers/vring_packed.c tests/unit/pdev_model.c tests/unit/vdev_model.c lib/trace.c
#@@ apps
# The HTTP server's protocol half with http-parser (third_party/, fetched by
# scripts/setup.sh); malloc/realloc are wrapped so the test can fail them.
# snprintf is the kernel's (lib/printf.c), as in the kernel: its limits are
# the response's.
UNIT_TESTS += http
test_http_SRCS := apps/http_proto.c lib/json.c apps/status_page.S tests/unit/http_parser_host.c lib/printf.c
test_http_CFLAGS := -Wl,--wrap=malloc,--wrap=realloc -Dsnprintf=k_snprintf -Dvsnprintf=k_vsnprintf
#@@ http-tcp
# apps/http.c over the host lwIP (as vnet below) on a fake IPv4 netif: pcb
# lifetimes (TIME_WAIT drops with an exhausted pool).
UNIT_TESTS += http_tcp
test_http_tcp_SRCS := apps/http.c apps/http_proto.c apps/app.c lib/json.c apps/status_page.S \
	tests/unit/http_parser_host.c net/txhold.c lib/printf.c lib/prof.c $(filter-out %/lwiperf.c,$(LWIP_SRCS))
test_http_tcp_CFLAGS := -isystem net/port -isystem third_party/lwip/src/include \
	-Wl,-T,tests/unit/apps_section.ld -Dsnprintf=k_snprintf -Dvsnprintf=k_vsnprintf
#@@ vnet
# The virtio-net driver's data path against lwIP 2.1.3 built for the host
# (third_party/, fetched by scripts/setup.sh; the Makefile's LWIP_SRCS less
# lwiperf) and the vring device model. lwIP's headers and net/port are
# -isystem: cc.h redefines BYTE_ORDER over the host's <endian.h>.
UNIT_TESTS += virtio_net
# The kernel's own lwIP list (this file is included by the top-level Makefile).
test_virtio_net_LWIP := $(filter-out %/lwiperf.c,$(LWIP_SRCS))
test_virtio_net_SRCS := drivers/virtio_net.c net/ethif.c net/tso.c drivers/nic.c drivers/virtio.c drivers/vring.c drivers/vring_packed.c tests/unit/vdev_model.c \
	lib/trace.c lib/prof.c lib/json.c \
	$(test_virtio_net_LWIP)
test_virtio_net_CFLAGS := -isystem net/port -isystem third_party/lwip/src/include \
	-Wl,-T,tests/unit/virtio_drivers.ld -Wl,--wrap=klog -Wl,--wrap=pbuf_alloced_custom
#@@ virtio-pci
# The virtio PCI transport (legacy interface over faked port I/O, MSI-X and
# INTx) with the real irq.c vector table and the virtio-net driver on top:
# probe unwinding, vectors given back, INTx storms (tests/unit/test_virtio_pci.c).
UNIT_TESTS += virtio_pci
test_virtio_pci_SRCS := drivers/virtio_pci.c drivers/virtio.c drivers/virtio_net.c drivers/nic.c drivers/vring.c drivers/vring_packed.c \
	arch/x86_64/irq.c lib/trace.c lib/prof.c lib/stats.c lib/json.c
# No lwIP: the driver knows only drivers/nic.h, and this test builds it so.
test_virtio_pci_CFLAGS := -DHOST_FAKE_PORTIO \
	-Wl,-T,tests/unit/virtio_drivers.ld -Wl,-T,tests/unit/pci_drivers.ld
#@@ virtio-mmio
# The virtio-mmio transport (version 2 and legacy version 1) against a fake
# register file, with the real virtio core and vring and a fake driver on top;
# and the virtio_mmio.device= parser (tests/unit/test_virtio_mmio.c).
UNIT_TESTS += virtio_mmio
test_virtio_mmio_SRCS := drivers/virtio_mmio.c drivers/virtio.c drivers/vring.c drivers/vring_packed.c lib/trace.c
test_virtio_mmio_CFLAGS := -DHOST_FAKE_MMIO -Wl,-T,tests/unit/virtio_drivers.ld
#@@ trace
# trace= (lib/trace.c: words, rate limit, line format, frame decoder), the
# trace=virtq lines of drivers/vring.c against the device model, lib/prof.c.
UNIT_TESTS += trace
test_trace_SRCS := lib/trace.c lib/prof.c drivers/vring.c drivers/vring_packed.c tests/unit/vdev_model.c
test_trace_CFLAGS := -Wl,--wrap=klog
#@@ tcp_cookie
# RFC 6528 ISNs and SYN cookies (net/tcp_cookie.c): pure arithmetic, no lwIP.
UNIT_TESTS += tcp_cookie
test_tcp_cookie_SRCS := net/tcp_cookie.c lib/siphash.c
# Coalescing TCP segments into frames the NIC cuts (net/tso.c): no lwIP.
UNIT_TESTS += tso
test_tso_SRCS := net/tso.c
#@@ lwip_mem
# lwIP's heap on the kernel heap (net/lwip_mem.c): the MEM_SIZE cap and the
# bytes held, against lib/heap.c in a static arena; lwIP's stats only.
UNIT_TESTS += lwip_mem
test_lwip_mem_SRCS := net/lwip_mem.c lib/heap.c lib/string.c
test_lwip_mem_CFLAGS := -isystem net/port -isystem third_party/lwip/src/include
#@@ budget
# The memory budget's arithmetic and shedding policy (lib/budget.c, docs/budget.md).
UNIT_TESTS += budget
test_budget_SRCS := lib/budget.c
#@@ end

define unit_template
$(UNIT_BUILD)/test_$(1): tests/unit/test_$(1).c $$(test_$(1)_SRCS) $$(wildcard tests/unit/*.h) | $(UNIT_BUILD)
	$$(Q)echo "  HOSTCC  $$@"
	$$(Q)$(HOST_CC) $(UNIT_CFLAGS) $$(test_$(1)_CFLAGS) -o $$@ tests/unit/test_$(1).c $$(test_$(1)_SRCS) $(UNIT_LDLIBS)
	$$(Q)$(HOST_CC) $(UNIT_CFLAGS) $$(test_$(1)_CFLAGS) -MM -MP -MT $$@ tests/unit/test_$(1).c $$(filter %.c,$$(test_$(1)_SRCS)) >$$@.d
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_template,$(t))))
# Every header a test's sources include (drivers/virtio_ring.h, ...), from the
# compiler: a changed header rebuilds the test instead of running a stale one.
-include $(wildcard $(UNIT_BUILD)/*.d)

$(UNIT_BUILD):
	@mkdir -p $@

UNIT_BINS := $(addprefix $(UNIT_BUILD)/test_,$(UNIT_TESTS))

.PHONY: unit-test
unit-test: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done
