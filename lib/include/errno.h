/* Error numbers (the Linux values), returned negated by kernel functions. */
#ifndef _ERRNO_H
#define _ERRNO_H

/* clang-format off */
#define EPERM 1
#define ENOENT 2
#define EIO 5
#define E2BIG 7
#define EAGAIN 11
#define ENOMEM 12
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENODEV 19
#define EINVAL 22
#define ENOSPC 28
#define ERANGE 34
#define ENOSYS 38
#define EPROTO 71
#define EMSGSIZE 90
#define ENOTSUP 95
#define ETIMEDOUT 110

extern int errno;

/* clang-format on */
#endif
