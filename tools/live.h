/* tools/live.h — follows a session while it is being recorded: each poll reads only what was
 * written since the last one (per chunk: its byte offset), feeds the span builders and the
 * caller's callbacks. Memory: one span builder per live thread, the code tables, one read
 * buffer; never the recording. Used by `top` and the --follow/--serve streamers. */
#ifndef GLASS_LIVE_H
#define GLASS_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "spans.h"

struct glass_live;

/* Per process image, for display (valid until the next poll). */
struct glass_live_proc {
	char key[32]; /* p<pid>.<n> */
	uint32_t pid;
	int ended;	      /* exited, exec'd, or no longer alive */
	uint64_t lost_events; /* from the meta header (exact) */
	uint64_t lost_chunks;
	uint32_t threads; /* thread indexes handed out */
	const char *command; /* argv joined, "" until known */
	/* from the PROCESS meta record (0 / NULL / "" until it is read) */
	uint32_t ppid;
	const char *const *argv;
	uint32_t argc;
	const char *executable, *python;
};

/* Where the span being handed to on_end comes from: its process image, thread index and its
 * ordinal among the spans that thread completed (1, 2, ...: the same in every run over the
 * same data, so a restarted follower can tell what it already sent). */
struct glass_live_cursor {
	const char *key;
	uint32_t tidx;
	uint64_t nth;
};
const struct glass_live_cursor *glass_live_cursor(const struct glass_live *L);

/*
 * Follows the session directory `dir`. on_end gets every completed span (spans.h), in each
 * thread's order. Span ids: hash(process key, tidx) << 36 | n, so the same data gives the same
 * ids in another run (a restarted follower). NULL with a message on stderr on failure.
 */
struct glass_live *glass_live_open(const char *dir, glass_span_fn on_end, void *ctx);
/* Reads what is new. Returns the number of records read (0: nothing new). */
long glass_live_poll(struct glass_live *L);
/* 1 once every process seen has ended and everything it wrote was read. */
int glass_live_finished(const struct glass_live *L);
size_t glass_live_nprocs(const struct glass_live *L);
const struct glass_live_proc *glass_live_proc(const struct glass_live *L, size_t i);
/* Timestamp of the first and the latest record read (Unix ns, 0 if none). */
uint64_t glass_live_first_ns(const struct glass_live *L);
uint64_t glass_live_last_ns(const struct glass_live *L);
/* Bytes of recorded data decoded so far. */
uint64_t glass_live_bytes(const struct glass_live *L);
/* The session's trace id high half (the same as glass_session_id: the first process). */
uint64_t glass_live_session_id(const struct glass_live *L);
const char *glass_live_dir(const struct glass_live *L);
/* Warnings (damaged chunks, gaps) since the last call, one per call; NULL when none. */
const char *glass_live_warning(struct glass_live *L);
void glass_live_close(struct glass_live *L);

#endif
