// kindred_system.h: thin wrappers, here because Swift cannot see these declarations.
#define _GNU_SOURCE
#include "kindred_system.h"
#include <sys/mman.h>

int kk_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }
