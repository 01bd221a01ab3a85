/* The NIC registry (drivers/nic.h): drivers register, the stack looks up by index. */
#include "drivers/nic.h"

#include <errno.h>
#include <stddef.h>

static struct nic *nics[NIC_MAX];
static unsigned nnics;

int nic_register(struct nic *nic)
{
    if (!nic || !nic->ops)
        return -EINVAL;
    if (nnics == NIC_MAX)
        return -ENOSPC;
    nic->index = nnics;
    nics[nnics] = nic;
    return (int)nnics++;
}

unsigned nic_count(void)
{
    return nnics;
}

struct nic *nic_get(unsigned i)
{
    return i < nnics ? nics[i] : NULL;
}
