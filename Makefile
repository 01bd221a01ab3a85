# The unikernel's build. `make help` lists the targets.
#
# Two commands are all a newcomer needs on a fresh Debian machine:
#   make run    installs what is missing, builds, boots the ISO in QEMU
#   make test   installs what is missing, runs every test
#
# Variables: CROSS=x86_64-elf- (a cross toolchain's prefix), V=1 (show
# commands), ACCEL=kvm (only with real VT-x/AMD-V; the default is tcg), MACHINE=q35|pc|microvm,
# CMDLINE='...' (kernel command line), and for make run/debug: HTTP_PORT, PCAP=file,
# NIC_OPTS=(virtio-net-pci options), GDB_PORT, GDB_SCRIPT=file, GDB_STOP=function
# (where make debug's gdb first stops, with hbreak; empty: at the reset vector).

CROSS ?=
CC := $(CROSS)gcc
LD := $(CROSS)ld
OBJCOPY := $(CROSS)objcopy
OBJDUMP := $(CROSS)objdump
NM := $(CROSS)nm
# Debian's python3 (with python3-pytest), not whatever python3 comes first in PATH.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

ACCEL ?= tcg
MACHINE ?= q35
MEM ?= 256M
HTTP_PORT ?= 8080
GDB_PORT ?= 1234
GDB_STOP ?= kmain

ifeq ($(V),1)
Q :=
else
Q := @
endif

BUILD := build
KERNEL := $(BUILD)/kernel.elf
# The same kernel without the multiboot headers, entered through PVH only
# (QEMU's -kernel tries multiboot first): README.md says which monitor takes which.
KERNEL_PVH := $(BUILD)/kernel-pvh.elf
ISO := $(BUILD)/unikernel.iso

# ---------------------------------------------------------------- sources
# The boot sequence (boot/main.c) is the one file that knows every layer.
BOOT_SRCS := boot/boot.S boot/pvh.S boot/main.c
# Only in build/kernel.elf: the multiboot headers.
MB_HEADER_OBJ := $(BUILD)/boot/multiboot_header.S.o

ARCH_SRCS := \
	arch/x86_64/bootinfo.c \
	arch/x86_64/serial.c \
	arch/x86_64/gdt.c \
	arch/x86_64/trap.c \
	arch/x86_64/trap_entry.S \
	arch/x86_64/ksyms.c \
	arch/x86_64/paging.c \
	arch/x86_64/dma.c \
	arch/x86_64/power.c \
	arch/x86_64/selftest.c \
	arch/x86_64/cpu.c \
	arch/x86_64/canary.c \
	arch/x86_64/acpi.c \
	arch/x86_64/mptable.c \
	arch/x86_64/pic.c \
	arch/x86_64/lapic.c \
	arch/x86_64/ioapic.c \
	arch/x86_64/irq.c \
	arch/x86_64/timer.c \
	arch/x86_64/platform.c \
	arch/x86_64/clockcal.c

LIB_SRCS := \
	lib/string.c \
	lib/ctype.c \
	lib/printf.c \
	lib/heap.c \
	lib/pmm.c \
	lib/klog.c \
	lib/cmdline.c \
	lib/trace.c \
	lib/prof.c \
	lib/siphash.c \
	lib/budget.c \
	lib/json.c \
	lib/stats.c

DRIVER_SRCS := \
	drivers/nic.c \
	drivers/pci_cfg.c \
	drivers/pci.c \
	drivers/vring.c \
	drivers/vring_packed.c \
	drivers/virtio.c \
	drivers/virtio_pci.c \
	drivers/virtio_mmio.c \
	drivers/virtio_net.c

NET_SRCS := \
	net/lwip_port.c \
	net/lwip_mem.c \
	net/netif.c \
	net/ethif.c \
	net/loop.c \
	net/stack_stats.c \
	net/net_budget.c \
	net/tcp_cookie.c \
	net/tcp_guard.c \
	net/tso.c \
	net/txhold.c

# lwIP 2.1.3, from Debian's source package (scripts/setup.sh fetches it into
# third_party/; it is never committed). Only what NO_SYS=1 with IPv4, IPv6,
# TCP, UDP and DHCP needs, plus the iperf server.
LWIP_DIR := third_party/lwip
LWIP_STAMP := $(LWIP_DIR)/.fetched-2.1.3
HTTP_PARSER_DIR := third_party/http-parser
HTTP_PARSER_STAMP := $(HTTP_PARSER_DIR)/.fetched-2.9.4
LWIP_SRCS := $(addprefix $(LWIP_DIR)/src/, \
	core/init.c core/def.c core/inet_chksum.c core/ip.c core/mem.c core/memp.c \
	core/netif.c core/pbuf.c core/stats.c core/sys.c core/tcp.c core/tcp_in.c \
	core/tcp_out.c core/timeouts.c core/udp.c \
	core/ipv4/dhcp.c core/ipv4/etharp.c core/ipv4/icmp.c core/ipv4/ip4.c \
	core/ipv4/ip4_addr.c core/ipv4/ip4_frag.c \
	core/ipv6/ethip6.c core/ipv6/icmp6.c core/ipv6/inet6.c core/ipv6/ip6.c \
	core/ipv6/ip6_addr.c core/ipv6/ip6_frag.c core/ipv6/mld6.c core/ipv6/nd6.c \
	netif/ethernet.c apps/lwiperf/lwiperf.c)

# Network apps (apps/, docs/apps.md): each registers itself, so adding one is
# adding its file here. APPS=http,echo bakes in the list started when the
# command line has no apps= (default: the apps marked default_on).
APP_SRCS := \
	apps/app.c \
	apps/http_proto.c \
	apps/http.c \
	apps/status_page.S \
	apps/echo.c \
	apps/iperf.c \
	apps/hello.c
APP_OBJS := $(patsubst %,$(BUILD)/%.o,$(APP_SRCS))
HTTP_PARSER_SRCS := $(HTTP_PARSER_DIR)/http_parser.c
$(APP_OBJS) $(HTTP_PARSER_SRCS): | $(HTTP_PARSER_STAMP)
$(BUILD)/apps/status_page.S.o: apps/status_page.html
APPS ?=
$(BUILD)/apps/app.c.o: KERNEL_CFLAGS += -DAPPS_DEFAULT='"$(APPS)"'
$(BUILD)/apps/app.c.o: $(BUILD)/apps/apps-default
# Rewritten only when APPS changes, so that app.c is rebuilt exactly then.
$(BUILD)/apps/apps-default: apps-default-check
	@mkdir -p $(dir $@)
	@echo '$(APPS)' | cmp -s - $@ || echo '$(APPS)' > $@
.PHONY: apps-default-check

KERNEL_SRCS := $(BOOT_SRCS) $(ARCH_SRCS) $(LIB_SRCS) $(DRIVER_SRCS) $(NET_SRCS) $(APP_SRCS) $(LWIP_SRCS) \
	$(HTTP_PARSER_SRCS)
KERNEL_OBJS := $(patsubst %,$(BUILD)/%.o,$(KERNEL_SRCS))

# ---------------------------------------------------------------- flags
GCC_INCLUDE := $(shell $(CC) -print-file-name=include)
WARNINGS := -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual -Wwrite-strings -Werror
# -fstack-protector-strong with the canary in the global __stack_chk_guard
# (no TLS here): arch/x86_64/canary.h, docs/debugging.md.
KERNEL_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-builtin-printf -nostdinc \
	-isystem $(GCC_INCLUDE) -Ilib/include -I. \
	-m64 -mno-red-zone -mgeneral-regs-only -mcmodel=small -fno-pic -fno-pie \
	-fstack-protector-strong -mstack-protector-guard=global -fno-omit-frame-pointer -fno-strict-aliasing \
	-fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections \
	$(WARNINGS) -MD -MP
# lwIP's headers only for the layers that may use them (docs/layout.md): lib/,
# arch/ and drivers/ are compiled without, so an include of lwIP there fails
# to build, not only scripts/check-includes.py.
STACK_INC := -Inet/port -I$(LWIP_DIR)/src/include
LOWER_OBJS := $(patsubst %,$(BUILD)/%.o,$(LIB_SRCS) $(ARCH_SRCS) $(DRIVER_SRCS))
$(LOWER_OBJS): STACK_INC :=
KERNEL_ASFLAGS := -m64 -g -I. -D__ASSEMBLER__ -MD -MP
KERNEL_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,linker.ld -Wl,-z,max-page-size=0x1000 \
	-Wl,--gc-sections -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
LIBGCC := $(shell $(CC) -print-libgcc-file-name)

.DEFAULT_GOAL := all
.PHONY: all iso run test unit-test integration-test docs-check clean help setup setup-test debug bench format format-check distclean include-check

all: $(KERNEL) $(KERNEL_PVH)

# Third-party code is compiled with the kernel's flags but its warnings are
# not ours to fix: they are shown, not fatal.
THIRD_PARTY_CFLAGS := -Wno-error -Wno-shadow -Wno-cast-qual -Wno-unused-parameter

# ---------------------------------------------------------------- kernel
$(BUILD)/%.c.o: %.c | $(LWIP_STAMP)
	@mkdir -p $(dir $@)
	$(Q)echo "  CC      $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) $(STACK_INC) -c $< -o $@

$(BUILD)/third_party/%.c.o: third_party/%.c | $(LWIP_STAMP)
	@mkdir -p $(dir $@)
	$(Q)echo "  CC      $<"
	$(Q)$(CC) $(KERNEL_CFLAGS) $(STACK_INC) $(THIRD_PARTY_CFLAGS) -c $< -o $@

# lwIP and http-parser arrive with `make` too (sources only, no install).
$(LWIP_STAMP) $(HTTP_PARSER_STAMP):
	$(Q)sh scripts/setup.sh sources

$(BUILD)/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(Q)echo "  AS      $<"
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

# Two links: the first gives the addresses for the symbol table, the second
# puts the table in the image. The table lies after all code, so the code does
# not move between the two; check-image.sh makes sure of it.
$(BUILD)/ksyms-empty.S: scripts/gen-ksyms.sh
	@mkdir -p $(BUILD)
	$(Q)sh scripts/gen-ksyms.sh $(NM) > $@

# $(call link_kernel,NAME,EXTRA_OBJS,CHECK_KIND): the two links of build/NAME.elf.
define link_kernel
$(BUILD)/$(1).pass1.elf: $(KERNEL_OBJS) $(2) $(BUILD)/ksyms-empty.S.o linker.ld
	$(Q)echo "  LD      $$@"
	$(Q)$(CC) $(KERNEL_LDFLAGS) -o $$@ $(2) $(KERNEL_OBJS) $(BUILD)/ksyms-empty.S.o $(LIBGCC)

$(BUILD)/$(1)-ksyms.S: $(BUILD)/$(1).pass1.elf scripts/gen-ksyms.sh
	$(Q)sh scripts/gen-ksyms.sh $(NM) $$< > $$@

$(BUILD)/$(1)-ksyms.S.o: $(BUILD)/$(1)-ksyms.S
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $$< -o $$@

$(BUILD)/$(1).elf: $(KERNEL_OBJS) $(2) $(BUILD)/$(1)-ksyms.S.o linker.ld scripts/check-image.sh
	$(Q)echo "  LD      $$@"
	$(Q)$(CC) $(KERNEL_LDFLAGS) -Wl,-Map,$(BUILD)/$(1).map -o $$@ $(2) $(KERNEL_OBJS) $(BUILD)/$(1)-ksyms.S.o $(LIBGCC)
	$(Q)sh scripts/check-image.sh $(NM) $(BUILD)/$(1).pass1.elf $$@ $(3)
	$(Q)$(NM) -n $$@ > $(BUILD)/$(1).sym
	$(Q)$(OBJDUMP) -d -S $$@ > $(BUILD)/$(1).asm 2>/dev/null || true
endef

$(BUILD)/ksyms-empty.S.o: $(BUILD)/ksyms-empty.S
	$(Q)$(CC) $(KERNEL_ASFLAGS) -c $< -o $@

$(eval $(call link_kernel,kernel,$(MB_HEADER_OBJ),multiboot))
$(eval $(call link_kernel,kernel-pvh,,pvh))

# ---------------------------------------------------------------- ISO
# The command line is baked into the ISO's GRUB entry: $(BUILD)/iso-cmdline is
# rewritten only when CMDLINE changes, so that `make run CMDLINE=...` rebuilds
# the ISO exactly then.
$(ISO): $(KERNEL) scripts/mkiso.sh $(BUILD)/iso-cmdline
	$(Q)echo "  ISO     $@"
	$(Q)sh scripts/mkiso.sh $(KERNEL) $@ "$(CMDLINE)"

$(BUILD)/iso-cmdline: iso-cmdline-check
	@mkdir -p $(dir $@)
	@printf '%s\n' "$(CMDLINE)" | cmp -s - $@ || printf '%s\n' "$(CMDLINE)" > $@
.PHONY: iso-cmdline-check

iso: $(ISO)

# ---------------------------------------------------------------- run
setup:
	$(Q)sh scripts/setup.sh run

setup-test:
	$(Q)sh scripts/setup.sh test

run: setup
	$(Q)$(MAKE) --no-print-directory $(ISO)
	$(Q)ACCEL=$(ACCEL) MACHINE=$(MACHINE) MEM=$(MEM) HTTP_PORT=$(HTTP_PORT) PCAP=$(PCAP) NIC_OPTS=$(NIC_OPTS) \
		KERNEL=$(KERNEL) CMDLINE="$(CMDLINE)" sh scripts/run.sh $(ISO)

debug: setup
	$(Q)$(MAKE) --no-print-directory $(KERNEL)
	$(Q)ACCEL=$(ACCEL) MACHINE=$(MACHINE) MEM=$(MEM) HTTP_PORT=$(HTTP_PORT) GDB_PORT=$(GDB_PORT) \
		NIC_OPTS=$(NIC_OPTS) GDB_SCRIPT=$(GDB_SCRIPT) GDB_STOP=$(GDB_STOP) sh scripts/debug.sh $(KERNEL) "$(CMDLINE)"

# ---------------------------------------------------------------- benchmarks
# `make bench` (docs/benchmarks.md): our kernel, the Linux guest and the
# native echo server (bench/README.md) measured side by side by bench/run.py,
# as root. Knobs: BENCH_REPS=N, BENCH_QUICK=1 (a smoke run), BENCH_ONLY=
# ours,linux,native, BENCH_OUT=file, and ACCEL, MACHINE, MEM as for `make run`.
BENCH_REPS ?=
BENCH_QUICK ?=
BENCH_ONLY ?=
BENCH_OUT ?=
# The Linux guest (Debian's kernel) is built only when it is measured.
BENCH_PEERS := $(if $(findstring linux,$(or $(BENCH_ONLY),linux)),bench-peer,bench-echo)

bench:
	$(Q)sh scripts/setup.sh bench
	$(Q)$(MAKE) --no-print-directory all $(ISO) $(BENCH_PEERS)
	$(Q)BENCH_COMMAND="make bench" BENCH_REPS=$(BENCH_REPS) BENCH_QUICK=$(BENCH_QUICK) \
		BENCH_ONLY=$(BENCH_ONLY) BENCH_OUT=$(BENCH_OUT) ACCEL=$(ACCEL) MACHINE=$(MACHINE) MEM=$(MEM) \
		$(PYTHON) bench/run.py

# ---------------------------------------------------------------- tests
include tests/unit/unit.mk
include tests/exercises/exercise.mk
include bench/peer.mk
-include tests/fuzz/fuzz.mk

# The echo server: tests/integration/test_bench_peer.py compares its bytes with the kernel's.
# -rs: every skipped test is listed with its reason. Under `make test` a skip fails the run
# (STRICT_SKIPS=1, tests/integration/conftest.py) unless ALLOW_SKIP=word names a word of its reason.
integration-test: $(KERNEL) $(ISO) $(BENCH_ECHO)
	$(Q)$(PYTHON) -m pytest -q -rs tests/integration $(PYTEST_ARGS)

# Runs every command of README.md and docs/ (docs/README.md says how); also part of integration-test.
docs-check: $(KERNEL) $(ISO)
	$(Q)$(PYTHON) -m pytest -q -rs tests/integration/test_docs.py $(PYTEST_ARGS)

test: setup-test
	$(Q)$(MAKE) --no-print-directory all $(ISO)
	$(Q)$(MAKE) --no-print-directory format-check
	$(Q)$(MAKE) --no-print-directory include-check
	$(Q)$(MAKE) --no-print-directory unit-test
	$(Q)$(MAKE) --no-print-directory fuzz-smoke
	$(Q)STRICT_SKIPS=1 $(MAKE) --no-print-directory integration-test

# Includes point down only (docs/layout.md); the self-test shows a wrong include fails.
include-check:
	$(Q)$(PYTHON) scripts/check-includes.py
	$(Q)$(PYTHON) scripts/check-includes.py --self-test

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	$(Q)clang-format -i $(FORMAT_FILES)
format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf third_party

help:
	@echo "make            build $(KERNEL)"
	@echo "make iso        build $(ISO) (GRUB, boots on BIOS and UEFI)"
	@echo "make run        install what is missing, build, boot the ISO in QEMU"
	@echo "make test       install what is missing, run every test"
	@echo "make bench      install what is missing, measure ours beside a Linux guest and native (root)"
	@echo "make debug      boot with QEMU's gdb stub, gdb breaks at kmain (GDB_SCRIPT=file: run it, batch)"
	@echo "make docs-check run every command in README.md and docs/"
	@echo "make include-check  check that includes point down only (docs/layout.md)"
	@echo "make exercise N=name  check an exercise of docs/exercises (barrier, refill, usedlen)"
	@echo "make clean      remove build outputs"
	@echo "Variables: ACCEL=tcg|kvm MACHINE=q35|pc|microvm MEM=256M CMDLINE='log=debug' CROSS=x86_64-elf- V=1"
	@echo "           HTTP_PORT=8080 PCAP=out.pcap NIC_OPTS=vectors=0 GDB_PORT=1234"
	@echo "           BENCH_REPS=3 BENCH_QUICK=1 BENCH_ONLY=ours,linux,native BENCH_OUT=docs/benchmarks.md"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
