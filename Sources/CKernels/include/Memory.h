// Allocator settings that Swift cannot reach directly (glibc's mallopt).
#ifndef LIFELONG_MEMORY_H
#define LIFELONG_MEMORY_H

#include <stddef.h>

/// Serves blocks up to `bytes` from the heap, reusing freed ones, instead of mapping fresh zeroed
/// pages for each (glibc; a no-op elsewhere). Returns 1 when the setting was accepted.
int lf_keep_blocks_in_heap(size_t bytes);

#endif
