/* Deferred release of memory the transmit ring may still read (net/txhold.h). */
#include "net/txhold.h"

#include <stddef.h>

#include "drivers/virtio_net.h"

/* FIFO: stamps only grow, so the head is always the first one due. */
static struct txhold *head, **tailp = &head;
static unsigned pending;

static void progress(uint64_t *submitted, uint64_t *oldest)
{
    struct vnet *vn = vnet_first();

    if (vn) {
        vnet_tx_progress(vn, submitted, oldest);
    } else {
        *submitted = 0; /* no NIC: nothing can be in flight */
        *oldest = 0;
    }
}

void txhold_defer(struct txhold *h, void (*release)(struct txhold *h))
{
    uint64_t submitted, oldest;

    progress(&submitted, &oldest);
    if (oldest >= submitted && !head) {
        release(h);
        return;
    }
    h->after = submitted;
    h->release = release;
    h->next = NULL;
    *tailp = h;
    tailp = &h->next;
    pending++;
}

void txhold_run(void)
{
    uint64_t submitted, oldest;

    if (!head)
        return;
    progress(&submitted, &oldest);
    while (head && head->after <= oldest) {
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
