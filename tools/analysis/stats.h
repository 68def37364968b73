/* tools/stats.h — per-function aggregates with streaming quantiles in bounded memory. */
#ifndef GLASS_STATS_H
#define GLASS_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Log-linear histogram: values below 16 are exact; above, each power of two is cut into 16
 * equal buckets, so a bucket spans at most 1/16 of its lower bound. A quantile is reported as
 * the middle of its bucket, clamped to the exact min/max: relative error at most 1/32 (3.1%).
 * Counters are allocated lazily for the range of octaves actually seen (128 bytes an octave).
 */
#define GLASS_HIST_SUB_BITS 4
#define GLASS_HIST_SUB	    (1u << GLASS_HIST_SUB_BITS)
#define GLASS_HIST_OCTAVES  (64 - GLASS_HIST_SUB_BITS + 1)

struct glass_hist {
	uint64_t *counts; /* octaves [lo, hi], GLASS_HIST_SUB counters each */
	uint8_t lo, hi;	  /* valid when counts != NULL */
};

struct glass_fstats {
	uint64_t calls;
	uint64_t total_ns;
	uint64_t self_ns;
	uint64_t min_ns;
	uint64_t max_ns;
	uint64_t errors;     /* status error */
	uint64_t incomplete; /* status lost or unfinished */
	struct glass_hist hist;
};

/* Adds one observation (duration, self time, error flag). Returns -1 only if out of memory
 * (the observation is then counted but not in the histogram). */
int glass_fstats_add(struct glass_fstats *f, uint64_t dur_ns, uint64_t self_ns, int error);
/* Quantile q in [0, 1] of the durations added (0 when empty). */
uint64_t glass_fstats_quantile(const struct glass_fstats *f, double q);
/* Merges b into a. */
int glass_fstats_merge(struct glass_fstats *a, const struct glass_fstats *b);
void glass_fstats_free(struct glass_fstats *f);

/* Bucket of a value and the value reported for a bucket (exposed for tests). */
unsigned glass_hist_bucket(uint64_t v);
uint64_t glass_hist_bucket_low(unsigned b);
uint64_t glass_hist_bucket_mid(unsigned b);

/*
 * Interning table: maps byte-string keys to dense indexes 0, 1, 2, ... with one glass_fstats
 * and a caller pointer per index. Used to group spans by function identity across processes.
 */
struct glass_ftable;
struct glass_ftable *glass_ftable_new(void);
void glass_ftable_free(struct glass_ftable *t);
/* Index of key (added if new; *added tells). Returns -1 if out of memory. */
long glass_ftable_intern(struct glass_ftable *t, const void *key, size_t len, int *added);
size_t glass_ftable_size(const struct glass_ftable *t);
/* Index of key, -1 when it is not in the table (nothing is added). */
long glass_ftable_find(const struct glass_ftable *t, const void *key, size_t len);
/* The key of row i and its length (valid until glass_ftable_free). */
const void *glass_ftable_key(const struct glass_ftable *t, size_t i, size_t *len);
/* The statistics of row i; the pointer stays valid until glass_ftable_free. */
struct glass_fstats *glass_ftable_stats(struct glass_ftable *t, size_t i);
void glass_ftable_set_user(struct glass_ftable *t, size_t i, const void *user);
const void *glass_ftable_user(const struct glass_ftable *t, size_t i);

#endif
