/* tools/resources.h — the session's resources file (CPU, RSS, threads, open files per process
 * over time, sampled by glass-compress; format.h SAMPLER/RESOURCE) for the reports. */
#ifndef GLASS_RESOURCES_H
#define GLASS_RESOURCES_H

#include <stddef.h>
#include <stdint.h>

struct glass_res_sample {
	uint64_t unix_ns;
	uint32_t pid, image; /* process image p<pid>.<image> */
	uint64_t user_ns, sys_ns; /* CPU time since the process began */
	uint64_t rss;		  /* bytes */
	uint64_t threads, fds;
};

/* Per process image: aggregates over its samples. CPU fractions are of one core. */
struct glass_res_proc {
	uint32_t pid, image;
	char key[32]; /* "p<pid>.<image>" */
	size_t first, n; /* its samples: glass_resources.s[first .. first+n), time order */
	uint64_t first_ns, last_ns;
	uint64_t peak_rss, mean_rss;
	double peak_cpu, mean_cpu; /* between consecutive samples; over its sampled time */
	uint64_t cpu_ns;	   /* user + system at the last sample */
	uint64_t peak_threads, peak_fds;
	double mean_threads, mean_fds;
};

struct glass_resources {
	struct glass_res_sample *s; /* grouped by process image, each in time order */
	size_t n;
	struct glass_res_proc *proc; /* ordered by pid, image */
	size_t nproc;
	uint64_t interval_ns; /* of the last SAMPLER record (0: none) */
	int torn;	      /* the file ended with bytes that do not decode */
};

/*
 * Incremental read of DIR/resources from *off (0 the first time: the magic is checked): calls
 * fn for every complete RESOURCE record and moves *off past it, so a live reader calls it
 * again later for what is new. A record cut short (being written, or a crash) is left for the
 * next call. Returns the number of samples, -1 when the file is not a resources file, 0 when it
 * does not exist (a session recorded before resources, or no sampler yet). *interval_ns is set
 * from SAMPLER records (may be NULL).
 */
typedef void (*glass_res_fn)(void *ctx, const struct glass_res_sample *s);
long glass_resources_read(const char *session_dir, uint64_t *off, uint64_t *interval_ns,
			  glass_res_fn fn, void *ctx, int *torn);

/* Loads the whole file and computes the per-process aggregates. 0 (r may be empty), -1 out of
 * memory or not a resources file (r empty). */
int glass_resources_load(const char *session_dir, struct glass_resources *r);
void glass_resources_free(struct glass_resources *r);
/* CPU use (fraction of one core) of sample i of process p, over the time since its previous
 * sample (0 for its first). */
double glass_resources_cpu(const struct glass_resources *r, const struct glass_res_proc *p,
			   size_t i);
/* The process image of pid/image, NULL if it has no samples. */
const struct glass_res_proc *glass_resources_proc(const struct glass_resources *r, uint32_t pid,
						  uint32_t image);

#endif
