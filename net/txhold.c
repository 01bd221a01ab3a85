/* Deferred release of memory the transmit ring may still read (net/txhold.h). */
#include "net/txhold.h"

#include <stdbool.h>
#include <stddef.h>

/* FIFO: stamps only grow, so the head is always the first one due. */
static struct txhold *head, **tailp = &head;
static unsigned pending;
static void (*push_queued)(void);

void txhold_set_push(void (*push)(void))
{
    push_queued = push;
}

/* Frames each NIC ever submitted, and the oldest each still has in flight
 * (== submitted when none is). Without a NIC nothing can be in flight. */
static void progress(uint64_t submitted[NIC_MAX], uint64_t oldest[NIC_MAX])
{
    for (unsigned i = 0; i < NIC_MAX; i++) {
        struct nic *nic = nic_get(i);
        submitted[i] = oldest[i] = 0;
        if (nic)
            nic->ops->tx_progress(nic, &submitted[i], &oldest[i]);
    }
}

/* Every NIC has given back every frame submitted before @h was deferred. */
static bool due(const struct txhold *h, const uint64_t oldest[NIC_MAX])
{
    for (unsigned i = 0; i < NIC_MAX; i++)
        if (h->after[i] > oldest[i])
            return false;
    return true;
}

void txhold_defer(struct txhold *h, void (*release)(struct txhold *h))
{
    uint64_t submitted[NIC_MAX], oldest[NIC_MAX];
    bool idle = true;

    if (push_queued)
        push_queued(); /* a frame still queued above the NIC counts too */
    progress(submitted, oldest);
    for (unsigned i = 0; i < NIC_MAX; i++) {
        h->after[i] = submitted[i];
        idle = idle && oldest[i] >= submitted[i];
    }
    if (idle && !head) {
        release(h);
        return;
    }
    h->release = release;
    h->next = NULL;
    *tailp = h;
    tailp = &h->next;
    pending++;
}

/* FIFO order holds per NIC (each one's stamps only grow), so when the head
 * is not due, nothing behind it is. */
void txhold_run(void)
{
    uint64_t submitted[NIC_MAX], oldest[NIC_MAX];

    if (!head)
        return;
    progress(submitted, oldest);
    while (head && due(head, oldest)) {
        struct txhold *h = head;

        head = h->next;
        if (!head)
            tailp = &head;
        pending--;
        h->release(h);
    }
}

unsigned txhold_pending(void)
{
    return pending;
}
