/*
 * The boot CPU's local APIC (Intel SDM vol. 3, chapter 11 "Advanced
 * Programmable Interrupt Controller (APIC)"; chapter numbers as of the 2023
 * SDM, chapter 10 in older editions).
 *
 * Registers are named by their xAPIC MMIO offset. In x2APIC mode (used when
 * CPUID offers it) the same register is MSR 0x800 + offset/16 (SDM 11.12.1.2);
 * lapic_read()/lapic_write() hide which one is in use.
 */
#ifndef ARCH_X86_64_LAPIC_H
#define ARCH_X86_64_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIC_ID                 0x020 /* r: xAPIC id in bits 31-24; x2APIC: full 32-bit id */
#define LAPIC_VERSION            0x030 /* r: version 7-0, max LVT entry 23-16 */
#define LAPIC_TPR                0x080 /* rw: task priority */
#define LAPIC_EOI                0x0b0 /* w: write 0 */
#define LAPIC_SVR                0x0f0 /* rw: spurious vector 7-0, enable bit 8 */
#define LAPIC_SVR_ENABLE         (1u << 8)
#define LAPIC_ISR                0x100 /* r: in-service, 8 x 32 bits at 0x10 strides */
#define LAPIC_TMR                0x180 /* r: trigger mode (1 = level) */
#define LAPIC_IRR                0x200 /* r: requests */
#define LAPIC_ESR                0x280 /* rw: error status; write 0 to latch, then read */
#define LAPIC_ICR_LO             0x300 /* rw: interrupt command; x2APIC: one 64-bit MSR (0x830) */
#define LAPIC_ICR_DM_INIT        (5u << 8)
#define LAPIC_ICR_PENDING        (1u << 12) /* xAPIC only: delivery status */
#define LAPIC_ICR_ASSERT         (1u << 14)
#define LAPIC_ICR_LEVEL          (1u << 15)
#define LAPIC_ICR_ALL_BUT_SELF   (3u << 18)
#define LAPIC_ICR_HI             0x310 /* rw: destination in 31-24 (xAPIC only) */
#define LAPIC_LVT_CMCI           0x2f0
#define LAPIC_LVT_TIMER          0x320
#define LAPIC_LVT_THERMAL        0x330
#define LAPIC_LVT_PERF           0x340
#define LAPIC_LVT_LINT0          0x350
#define LAPIC_LVT_LINT1          0x360
#define LAPIC_LVT_ERROR          0x370
#define LAPIC_LVT_MASKED         (1u << 16)
#define LAPIC_LVT_LEVEL          (1u << 15) /* LINT0/1 only */
#define LAPIC_LVT_ACTIVE_LOW     (1u << 13) /* LINT0/1 only */
#define LAPIC_LVT_DM_FIXED       (0u << 8)
#define LAPIC_LVT_DM_NMI         (4u << 8)
#define LAPIC_LVT_DM_EXTINT      (7u << 8)
#define LAPIC_TIMER_ONESHOT      (0u << 17)
#define LAPIC_TIMER_PERIODIC     (1u << 17)
#define LAPIC_TIMER_TSC_DEADLINE (2u << 17)
#define LAPIC_TIMER_INIT         0x380 /* rw: initial count; writing starts the timer, 0 stops it */
#define LAPIC_TIMER_CUR          0x390 /* r: current count */
#define LAPIC_TIMER_DIV          0x3e0 /* rw: divide configuration */
#define LAPIC_TIMER_DIV_16       0x3

/* ESR bits (SDM 11.5.3). */
#define LAPIC_ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define LAPIC_ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define LAPIC_ESR_ILLEGAL_REG         (1u << 7)

/**
 * lapic_init() - enable the boot CPU's local APIC: x2APIC mode when CPUID
 * offers it, else xAPIC through map_mmio(); TPR 0; spurious vector
 * IRQ_VECTOR_SPURIOUS; LINT0 masked (the 8259s are off), LINT1 and LINT0 as
 * NMI where the MADT says so; error LVT on IRQ_VECTOR_LAPIC_ERROR; timer,
 * thermal, perf-counter and CMCI entries masked. Logs the mode and id.
 * Context: boot, after acpi_init() and pic_disable(), interrupts disabled.
 * Return: 0, or -ENODEV when the CPU has no APIC or it cannot be mapped.
 */
int lapic_init(void);

/** lapic_is_x2apic() - true when the x2APIC (MSR) interface is in use. */
bool lapic_is_x2apic(void);

/** lapic_id() - this CPU's APIC id (8 bits in xAPIC mode, 32 in x2APIC mode). */
uint32_t lapic_id(void);

uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t v);

/** lapic_eoi() - signal end of interrupt for the highest-priority in-service vector. */
void lapic_eoi(void);

/** lapic_vector_pending() - true when @vector is requested (IRR bit set) but not yet taken. */
bool lapic_vector_pending(uint8_t vector);

/**
 * lapic_esr() - latch and read the error status register (SDM 11.5.3: the
 * write of 0 moves the collected errors into the readable register).
 */
uint32_t lapic_esr(void);

/**
 * lapic_park_others() - send INIT to every other CPU, leaving it in the
 * wait-for-SIPI state: firmware may have left application processors in a
 * polling loop (OVMF does), which costs a host core per vCPU under emulation.
 * This kernel runs on the boot CPU only. Context: boot, after lapic_init().
 */
void lapic_park_others(void);

/**
 * lapic_error_irq() - handler for IRQ_VECTOR_LAPIC_ERROR: logs the ESR
 * (rate-limited) and counts it.
 */
bool lapic_error_irq(void *ctx);
uint64_t lapic_error_count(void);

/*
 * Timer (SDM 11.5.4). The divider is fixed at 16; counts are in units of
 * (bus clock / 16), whose rate timer.c calibrates.
 */
/** lapic_timer_mode() - program the timer LVT: @mode LAPIC_TIMER_*, @vector, masked or not. */
void lapic_timer_mode(uint32_t mode, uint8_t vector, bool masked);
/** lapic_timer_start() - load the initial count (starts one-shot/periodic; 0 stops). */
void lapic_timer_start(uint32_t count);
uint32_t lapic_timer_current(void);
/** lapic_timer_deadline() - TSC-deadline mode: interrupt when TSC >= @tsc (0 disarms). */
void lapic_timer_deadline(uint64_t tsc);

#endif
