/* Shared by the two implementations of lib/dist (MPI and serial). */
#ifndef MRG_DIST_INTERNAL_H
#define MRG_DIST_INTERNAL_H

#include <stddef.h>

/* gethostname into buf ("?" when it fails), always terminated. */
void dist_hostname(char *buf, size_t n);

#endif
