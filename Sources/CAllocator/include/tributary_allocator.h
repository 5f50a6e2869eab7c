#ifndef TRIBUTARY_ALLOCATOR_H
#define TRIBUTARY_ALLOCATOR_H
/// Sets glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD. Returns 1 on success, 0 when the C
/// library refused either value or is not glibc.
int tributary_set_malloc_thresholds(int mmap_threshold, int trim_threshold);
#endif
