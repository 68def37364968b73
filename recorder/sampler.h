/* recorder/sampler.h — resources over time: glass-compress samples the session's live
 * processes from /proc (CPU user/system, RSS, threads, open files) into the session's
 * `resources` file (format.h: SAMPLER, RESOURCE). No thread or work in the traced process. */
#ifndef GLASS_SAMPLER_H
#define GLASS_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#define GLASS_SAMPLER_INTERVAL_NS 100000000ull /* 100 ms */

struct glass_sampler {
	int fd;		 /* the resources file, O_APPEND; -1: sampling off */
	uint8_t buf[16384]; /* one sample of every process, written with one write() */
	size_t len;
	uint64_t now_ns; /* CLOCK_REALTIME of the sample being built */
	long clk_tck, page_size;
};

/* Opens (creates) SESSION/resources and appends a SAMPLER record. 0, or -1 with sampling off
 * (the compressor works on without it). */
int glass_sampler_open(struct glass_sampler *sm, const char *session);
/* Starts one sample (all processes at the same time stamp). */
void glass_sampler_begin(struct glass_sampler *sm);
/* Adds process image p<pid>.<image> read from /proc; nothing when it is gone. */
void glass_sampler_add(struct glass_sampler *sm, uint32_t pid, uint32_t image);
/* Appends the sample to the file (one write). */
void glass_sampler_end(struct glass_sampler *sm);
void glass_sampler_close(struct glass_sampler *sm);

#endif
