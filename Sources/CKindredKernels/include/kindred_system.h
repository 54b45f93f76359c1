// System calls Swift's Glibc module does not import (glibc declares them only under _GNU_SOURCE).
#ifndef KINDRED_SYSTEM_H
#define KINDRED_SYSTEM_H

/// memfd_create(name, MFD_CLOEXEC): an anonymous in-memory file, or −1 with errno set.
int kk_memfd(const char *name);

#endif
