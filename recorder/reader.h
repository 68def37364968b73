/* recorder/reader.h — streaming reader of glass sessions (glass-report side only).
 *
 * Memory stays bounded by the metadata (processes, threads, code definitions) plus one
 * decompressed chunk per open stream: never the whole recording.
 */
#ifndef GLASS_READER_H
#define GLASS_READER_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

struct glass_session;
struct glass_proc;
struct glass_stream;

/* One code object, from a CODE meta record. Strings are never NULL ("" when unknown). */
struct glass_code_def {
	uint32_t id;
	uint32_t line;
	uint32_t flags; /* GLASS_CO_* */
	const char *qualname;
	const char *module;
	const char *filename;
};

/* A process image, from its meta header and meta records. */
struct glass_proc_info {
	const char *key; /* "p<pid>.<n>" */
	uint32_t pid;
	uint32_t ppid;
	uint32_t state; /* GLASS_PROC_* (RUNNING after a crash/SIGKILL) */
	int32_t exit_status;
	uint32_t clock; /* GLASS_CLOCK_* */
	const char *python;
	const char *executable;
	const char *cwd;
	const char *origin; /* "start", "fork", "exec" */
	const char *parent; /* key of the parent image for fork/exec, "" else */
	const char *const *argv;
	uint32_t argc;
	uint64_t start_unix_ns;
	uint64_t end_unix_ns; /* 0 when the process did not end cleanly: last event time is used */
	uint64_t lost_events;
	uint64_t lost_chunks;
	uint32_t nthreads;
	uint32_t ncodes;
};

/* A decoded record. Timed stream records have `ts_ns` (Unix epoch ns) computed from dt. */
struct glass_str {
	const char *p; /* not NUL-terminated; NULL for nil */
	uint32_t len;
};
struct glass_record {
	uint8_t tag;
	uint8_t nfields;
	uint64_t ticks;				  /* absolute ticks, timed records */
	uint64_t ts_ns;				  /* Unix epoch ns, timed records */
	uint64_t u[GLASS_REC_MAX_FIELDS];	  /* unsigned/signed fields by position */
	struct glass_str s[GLASS_REC_MAX_FIELDS]; /* string fields by position */
};

/* Record table (format.h as data): name, field types and names of a tag; NULL if unknown. */
struct glass_record_desc {
	uint8_t tag;
	const char *name;
	const char *types;
	const char *fields;
};
const struct glass_record_desc *glass_record_desc(uint8_t tag);
const struct glass_record_desc *glass_record_descs(size_t *n);

/* Opens a session directory. On failure returns NULL and writes a one-line reason to err. */
struct glass_session *glass_session_open(const char *dir, char *err, size_t errlen);
void glass_session_close(struct glass_session *s);
const char *glass_session_dir(const struct glass_session *s);
size_t glass_session_nprocs(const struct glass_session *s);
struct glass_proc *glass_session_proc(struct glass_session *s, size_t i);
/* Number of warnings so far (torn tails, undecodable bytes, missing chunks); and the texts. */
size_t glass_session_nwarnings(const struct glass_session *s);
const char *glass_session_warning(const struct glass_session *s, size_t i);

/* Finds the newest session directory under out_dir (names sort by start time). */
int glass_session_find_latest(const char *out_dir, char *path, size_t pathlen);

const struct glass_proc_info *glass_proc_info(const struct glass_proc *p);
const struct glass_code_def *glass_proc_code(const struct glass_proc *p, uint32_t id);
uint64_t glass_proc_ticks_to_unix_ns(const struct glass_proc *p, uint64_t ticks);
/* Thread indexes present in this process (tidx values, ascending). */
size_t glass_proc_threads(const struct glass_proc *p, const uint32_t **tidx);
/* Iterates the process's meta records (CODE, FORK, EXEC, END, NOTE, POLICY) in file order. */
int glass_proc_meta_next(struct glass_proc *p, size_t *cursor, struct glass_record *rec);

/* Streams one thread's records across all its chunks in order. */
struct glass_stream *glass_stream_open(struct glass_proc *p, uint32_t tidx);
/* 1: a record; 0: end of the thread's data; torn tails end a chunk with a session warning. */
int glass_stream_next(struct glass_stream *st, struct glass_record *rec);
/* Bytes of recorded data read so far (uncompressed), for progress and stats. */
uint64_t glass_stream_bytes(const struct glass_stream *st);
void glass_stream_close(struct glass_stream *st);

/* ---- additions (glass-report side helpers) ------------------------------------------------ */

/*
 * Fields: u[i] is set for 'u'/'i' fields (signed values sign-extended), s[i] for 's' fields (and
 * 'a', below); s[i] of a numeric field is unspecified (the hot records skip clearing it).
 * Lifetime of decoded strings: glass_str of a stream record points into the stream's chunk buffer
 * and stays valid until the next glass_stream_next() or glass_stream_close(); of a meta record,
 * until glass_session_close(). For an 'a' field (array of strings), u[i] holds the element count
 * and s[i] the raw msgpack array (header included): read the elements with this function.
 * Returns 0 and sets *out (p NULL for nil), or -1 when i is out of range or the field is not 'a'.
 */
int glass_record_array_item(const struct glass_record *rec, unsigned field, uint32_t i,
			    struct glass_str *out);
/*
 * An 'm' field (attributes): u[i] holds the pair count and s[i] the raw msgpack map (NULL p for
 * nil). Iterate with glass_map_begin + glass_map_next; pairs whose key is not a string or whose
 * value is not a string, integer, boolean or nil are skipped.
 */
struct glass_map_iter {
	const uint8_t *p, *end;
	uint64_t left;
};
enum glass_map_type { GLASS_MAP_NIL, GLASS_MAP_STR, GLASS_MAP_INT, GLASS_MAP_BOOL };
struct glass_map_item {
	struct glass_str key;
	enum glass_map_type type;
	struct glass_str s; /* GLASS_MAP_STR */
	int64_t i;	    /* GLASS_MAP_INT, GLASS_MAP_BOOL */
};
void glass_map_begin(const struct glass_record *rec, unsigned field, struct glass_map_iter *it);
/* 1 and *out set, or 0 at the end (or on damage). */
int glass_map_next(struct glass_map_iter *it, struct glass_map_item *out);
/* Format version written in the session's SESSION file. */
void glass_session_version(const struct glass_session *s, unsigned *major, unsigned *minor);
/* A 64-bit identity of the recording (from its first process), stable across reads and renames. */
uint64_t glass_session_id(const struct glass_session *s);
/* Informational notes: damaged data that is expected or harmless (not counted as warnings). */
size_t glass_session_nnotices(const struct glass_session *s);
const char *glass_session_notice(const struct glass_session *s, size_t i);
/* The meta header as read when the session was opened. */
const struct glass_meta_header *glass_proc_header(const struct glass_proc *p);
/* All CODE definitions of the process, in file order (glass_proc_code: first of an id wins). */
const struct glass_code_def *glass_proc_codes(const struct glass_proc *p, size_t *n);
/* Number of chunk files of thread tidx (0 if unknown) and the largest seq number seen. */
uint32_t glass_proc_thread_chunks(const struct glass_proc *p, uint32_t tidx, uint32_t *max_seq);
/* Thread id (kernel tid) from the thread's first readable chunk header, 0 if none. */
uint32_t glass_proc_thread_tid(const struct glass_proc *p, uint32_t tidx);
/* Ticks per ns fit: ns_per_tick used for conversion (1.0 for GLASS_CLOCK_MONO). */
double glass_proc_ns_per_tick(const struct glass_proc *p);
/* The stream's process and thread index. */
struct glass_proc *glass_stream_proc(const struct glass_stream *st);
uint32_t glass_stream_tidx(const struct glass_stream *st);

/*
 * Decodes the record at buf[*off] (a chunk's records, a meta file's records, a session-level
 * file such as `resources`) without a session: for live readers that keep their own positions.
 * Returns 1 (record in *rec, *off past it), 0 at the end (a zero tag byte, or *off == len) or -1
 * when the bytes at *off do not decode (torn, corrupt, or cut by the end of the buffer: read
 * more and retry). Records of later versions (unknown wrapped tags) are skipped. For timed
 * records rec->ticks = *ticks + dt and, for unwrapped ones, *ticks moves there (ticks may be
 * NULL); rec->ts_ns is left 0: convert ticks with the process's clock.
 */
int glass_decode_record(const uint8_t *buf, size_t len, size_t *off, uint64_t *ticks,
			struct glass_record *rec);

#endif
