/* tools/readahead.h — a thread's records, decoded ahead in a second thread.
 *
 * glass_stream_next (zstd, then msgpack) is about a third of what a report command spends on
 * a record. When a second CPU is idle, a helper thread decodes the stream into compact
 * batches (numbers, then string bytes copied) while the caller builds spans from the batch
 * before; the caller sees the same records in the same order as from the stream itself
 * (but for rec.ticks, 0: no report reads it).
 * Otherwise (one CPU, a busy machine, a short stream, GLASS_REPORT_THREADS=1) it is the stream
 * read directly.
 */
#ifndef GLASS_TOOLS_READAHEAD_H
#define GLASS_TOOLS_READAHEAD_H

#include <stdint.h>

#include "recorder/reader.h"

struct glass_readahead;

/*
 * Is a helper thread worth it now? GLASS_REPORT_THREADS=1: never; =2 or more: always; unset
 * or "auto": when there are two CPUs or more and fewer threads runnable right now than CPUs
 * (/proc/loadavg), i.e. one is idle. Decided once per process.
 */
int glass_report_threads(void);

/* Opens thread tidx of p (as glass_stream_open); NULL when it cannot be read. */
struct glass_readahead *glass_readahead_open(struct glass_proc *p, uint32_t tidx);

/* The next record, as glass_stream_next: 1, or 0 at the end. rec's strings stay valid until
 * the next call. */
int glass_readahead_next(struct glass_readahead *ra, struct glass_record *rec);

/* The stream underneath, for its counters (glass_stream_bytes): once next returned 0. */
struct glass_stream *glass_readahead_stream(struct glass_readahead *ra);

/* Stops the helper (also before the end) and frees everything. */
void glass_readahead_close(struct glass_readahead *ra);

#endif
