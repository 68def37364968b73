/* tools/progress.h — a progress bar on stderr for long glass-report runs. */
#ifndef GLASS_PROGRESS_H
#define GLASS_PROGRESS_H

#include <stdint.h>

struct glass_progress;

/*
 * Starts counting work of `total` units (0: unknown, the bar shows a count only). The bar
 * appears on stderr only when stderr is a terminal, GLASS_PROGRESS is not "0", and the work
 * has run for more than a second; it is redrawn at most 10 times a second. Returns NULL when
 * no bar can ever be shown: every function below accepts NULL and then does nothing.
 */
struct glass_progress *glass_progress_start(const char *what, uint64_t total);
/* Adds n units done. Cheap enough to call per chunk or per thread (a counter and, at most
 * every 64 calls or when n is large, a coarse clock read). n = 0 just keeps the elapsed time
 * shown (for work that cannot be counted, e.g. from an SQLite progress handler). */
void glass_progress_add(struct glass_progress *p, uint64_t n);
/* Sets the units done (for callers that know the position rather than a delta). */
void glass_progress_set(struct glass_progress *p, uint64_t done);
/* Erases the bar (if it was shown) and frees p. Call before printing anything else on stderr
 * that should not share a line with the bar. */
void glass_progress_end(struct glass_progress *p);

#endif
