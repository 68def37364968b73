/* tools/spans.h — builds completed spans (calls, generator/coroutine lifetimes) from a stream. */
#ifndef GLASS_SPANS_H
#define GLASS_SPANS_H

#include <stddef.h>
#include <stdint.h>

#include "recorder/reader.h"

enum glass_span_status {
	GLASS_SPAN_OK,
	GLASS_SPAN_ERROR,
	GLASS_SPAN_LOST,       /* records were dropped while it was open */
	GLASS_SPAN_UNFINISHED, /* still open when the thread's data ended */
};

enum glass_gen_kind {
	GLASS_GEN_NONE,
	GLASS_GEN_GENERATOR,
	GLASS_GEN_COROUTINE,
	GLASS_GEN_ASYNC_GENERATOR,
};

/* What a span stands for. Python spans come from CALL/GEN_* records; the others from captured
 * operations (OP_BEGIN/OP_END) below the Python code. */
enum glass_span_kind {
	GLASS_KIND_PYTHON,	/* a Python function, generator or coroutine ("function" in JSON) */
	GLASS_KIND_DB,		/* SQL statement, MongoDB or Redis command ("db") */
	GLASS_KIND_HTTP_SERVER, /* an HTTP request served; the root of its trace ("http_server") */
	GLASS_KIND_HTTP_CLIENT, /* an HTTP request made ("http_client") */
	GLASS_KIND_NET,		/* connect, DNS, time blocked on a socket ("net") */
};

/* One attribute of a captured operation, named as OpenTelemetry's semantic conventions do
 * (db.system, db.statement, http.request.method, http.route, http.response.status_code, ...;
 * docs/capture.md lists them). */
enum glass_attr_type { GLASS_ATTR_STR, GLASS_ATTR_INT, GLASS_ATTR_BOOL };
struct glass_attr {
	struct glass_str key;
	enum glass_attr_type type;
	struct glass_str s; /* GLASS_ATTR_STR */
	int64_t i;	    /* GLASS_ATTR_INT, GLASS_ATTR_BOOL (0/1) */
};

/* Something that happened inside a span: an exception raised in it (handled: caught before
 * the span ended), or a logging record emitted while it was the innermost open span. */
enum glass_event_kind { GLASS_EVENT_EXCEPTION, GLASS_EVENT_LOG };
struct glass_span_event {
	enum glass_event_kind kind;
	uint64_t ts_ns;
	int handled;		/* EXCEPTION: caught inside the span */
	uint32_t level;		/* LOG: logging levelno (10 DEBUG ... 50 CRITICAL) */
	struct glass_str name;	/* EXCEPTION: type; LOG: logger name (p NULL: unknown) */
	struct glass_str text;	/* the message (p NULL: none) */
};
/* "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", or "LEVEL" for other numbers. */
const char *glass_log_level_name(uint32_t level);

/* A span as handed to the callbacks; pointers are valid during the callback only. */
struct glass_span {
	enum glass_span_kind kind;
	/* Captured operations: a display name ("SELECT users", "GET /users/{id}", "connect
	 * 10.0.0.1:5432"); attributes. Python spans: name.p NULL, no attributes. */
	struct glass_str name;
	const struct glass_attr *attrs;
	size_t nattrs;
	uint64_t span_id;
	uint64_t parent_id;	     /* 0 for a root */
	uint64_t trace_hi, trace_lo; /* 128-bit trace id: session id, root span id (or the
					remote trace of an HTTP request's traceparent) */
	uint64_t remote_parent_id;   /* an HTTP server span's caller (traceparent), else 0 */
	uint32_t pid, tid, tidx;
	const char *thread;		   /* thread name, NULL if none recorded */
	uint32_t code_id;		   /* 0 for captured operations */
	const struct glass_code_def *code; /* NULL when the code id has no CODE record, and for
					      captured operations */
	uint64_t start_ns;		   /* Unix epoch ns */
	uint64_t dur_ns;
	uint64_t self_ns; /* dur minus direct children (generators: run time minus children) */
	uint32_t depth;	  /* 0 for a root */
	enum glass_span_status status;
	struct glass_str err_type, err_msg; /* p NULL when unknown or not an error */
	enum glass_gen_kind gen;	    /* GLASS_GEN_NONE for plain functions */
	uint32_t resumes;      /* generator spans: times it ran, the first start included */
	uint64_t suspended_ns; /* generator spans: time between a yield and the next resume */
	const struct glass_span_event *events; /* on_end only: in time order */
	size_t nevents;
	struct glass_str args;	 /* on_end only: "f(a=1, b='x')" when recorded, else p NULL */
	struct glass_str result; /* on_end only: what it returned, when recorded */
};

/* Counters of one builder, for `info`. */
struct glass_span_counts {
	uint64_t records; /* records fed */
	uint64_t by_tag[GLASS_REC_MAX_TAG + 1];
	uint64_t spans;		   /* spans emitted */
	uint64_t lost_records;	   /* sum of LOST counts */
	uint64_t unmatched_exits;  /* RETURN/RAISE/GEN_YIELD/GEN_RETURN with nothing open */
	uint64_t mismatched_exits; /* a generator exit on a function, or the reverse */
	uint64_t resyncs;	   /* CHUNK_START depth differed from ours */
	uint64_t gens_evicted;	   /* generator map full: oldest suspended ones closed early */
	uint64_t too_deep;	   /* activations beyond the stack limit (not reported as spans) */
	uint64_t last_ns;	   /* timestamp of the last timed record */
	uint64_t first_ns;	   /* timestamp of the first timed record (0 if none) */
	uint64_t busy_ns;	   /* root spans' run time (suspended time excluded) */
	uint64_t cpu_ns;	   /* THREAD_CPU: CPU time the thread used (0: not recorded) */
	uint64_t unknown_ops;	   /* OP_BEGIN of a kind this reader does not know (skipped) */
	uint64_t unmatched_ops;	   /* OP_END with no open OP_BEGIN (lost, or before the data) */
	uint64_t links_unresolved; /* LINK_IN whose LINK_OUT was not found (spans stay roots) */
	uint64_t events_dropped;   /* span events beyond GLASS_SPANS_MAX_EVENTS pending, or with
				      no span open */
};

struct glass_spans;

/* Where work handed off by a span (LINK_OUT) lands: under that span, in its trace. */
struct glass_link_target {
	uint64_t parent;	     /* the span (0: none was open; the work starts its own trace) */
	uint64_t root;		     /* the root span of its trace */
	uint64_t trace_hi, trace_lo; /* its trace id (a remote one when its request had one) */
	uint32_t depth;		     /* the span's depth */
};
/* The target of LINK_OUT `link` fed to this builder so far; 1 if found. */
int glass_spans_link_target(const struct glass_spans *b, uint64_t link,
			    struct glass_link_target *out);
/* The target of the LINK_OUT that names child process `pid` (a spawned child); 1 if found. */
int glass_spans_child_target(const struct glass_spans *b, uint32_t pid,
			     struct glass_link_target *out);

typedef void (*glass_span_fn)(void *ctx, const struct glass_span *sp);
typedef const struct glass_code_def *(*glass_code_lookup_fn)(void *ctx, uint32_t id);

/* How span ids are made: id = stream << seq_bits | n, n = 1, 2, ... per thread. */
struct glass_span_ids {
	uint64_t stream;   /* 1-based ordinal of the (process, thread) in the session */
	unsigned seq_bits; /* bits left for the per-thread counter */
	uint64_t trace_hi; /* session id */
};

/* Layout of span ids for a session: every (process, thread) gets its own range. */
unsigned glass_span_seq_bits(struct glass_session *s);
/* Ids for thread index `ti` (position in glass_proc_threads) of process `pi` (session order). */
struct glass_span_ids glass_span_ids_for(struct glass_session *s, size_t pi, size_t ti);

/*
 * Creates a builder for one thread. `code` resolves code ids (glass_proc_code when NULL and proc
 * is given). on_end receives every completed span; on_start (may be NULL) each span as it opens
 * (only ids, kind, code, start, depth and thread are meaningful then, and for a captured
 * operation its name and the attributes of its beginning).
 */
struct glass_spans *glass_spans_new(struct glass_proc *proc, uint32_t tidx,
				    struct glass_span_ids ids, glass_span_fn on_start,
				    glass_span_fn on_end, void *ctx);
/*
 * Optional, for profiles that follow where generators ran: on_run_start gets a generator or
 * coroutine span each time it starts running (its first start too, after on_start), with
 * parent_id the span that resumed it, depth one more than that span's (the span's own depth
 * stays the creator's) and start_ns the moment; on_run_end when that run ends (yield, await,
 * return, exception, lost records), with start_ns the run's start, dur_ns its length and
 * self_ns its length minus children. Runs nest with calls; the span's on_end comes after its
 * last run ends (or when it is closed while suspended).
 */
void glass_spans_set_runs(struct glass_spans *b, glass_span_fn on_run_start,
			  glass_span_fn on_run_end);
/* Overrides code lookup (tests; callers that resolve code ids themselves: a lookup that
 * returns NULL saves its cost, spans then carry code_id only). */
void glass_spans_set_lookup(struct glass_spans *b, glass_code_lookup_fn fn, void *ctx);
/* Default pid/tid when no THREAD_START says otherwise. */
void glass_spans_set_thread(struct glass_spans *b, uint32_t pid, uint32_t tid);
/* Feeds one record of the thread's stream, in order. */
void glass_spans_feed(struct glass_spans *b, const struct glass_record *rec);
/* Ends the stream: open spans become "unfinished" at the last timestamp seen. */
void glass_spans_finish(struct glass_spans *b);
const struct glass_span_counts *glass_spans_counts(const struct glass_spans *b);
/* Thread name recorded so far (NULL if none). */
const char *glass_spans_thread_name(const struct glass_spans *b);
uint32_t glass_spans_tid(const struct glass_spans *b);
void glass_spans_free(struct glass_spans *b);

/* Reads a whole thread of `proc` through a builder: open, feed, finish. Returns 0, -1 if the
 * thread cannot be opened. The builder is freed unless keep is non-NULL (then returned there). */
int glass_spans_run_thread(struct glass_proc *proc, uint32_t tidx, struct glass_span_ids ids,
			   glass_span_fn on_start, glass_span_fn on_end, void *ctx,
			   struct glass_spans **keep);

const char *glass_span_status_name(enum glass_span_status st);
/* "function", "db", "http_server", "http_client", "net" */
const char *glass_span_kind_name(enum glass_span_kind k);
/* The attribute named `key` of a span, NULL when it has none. */
const struct glass_attr *glass_span_attr(const struct glass_span *sp, const char *key);
struct glass_buf;
/* Appends the span's attributes as a JSON object {"key": value, ...} (strings, integers,
 * booleans). */
void glass_span_attrs_json(struct glass_buf *b, const struct glass_span *sp);
/* The string attribute named `key`: its bytes and length in *len; "" and 0 when the span has
 * none (or it is not a string). */
const char *glass_span_str(const struct glass_span *sp, const char *key, size_t *len);
/* A db span's statement: db.statement, else the span's name (len in *len). */
const char *glass_span_statement(const struct glass_span *sp, size_t *len);
/* A span's label for tables and flame graphs, NUL-terminated in buf (cut to cap):
 * Python spans "module.qualname" (or "<code N>"), others their name. Returns buf. */
const char *glass_span_label(const struct glass_span *sp, char *buf, size_t cap);
/*
 * Aggregation keys the reports share, so that summary and html count the same rows: an HTTP
 * server span's "METHOD route"; a db span's "system<TAB>statement" (its name when it has no
 * statement). Written NUL-terminated into out (cut to cap); returns the length.
 * GLASS_SPAN_KEY_MAX holds any statement glass records (max_sql_length is at most 2048).
 */
#define GLASS_SPAN_KEY_MAX 2200
size_t glass_span_endpoint_key(const struct glass_span *sp, char *out, size_t cap);
size_t glass_span_statement_key(const struct glass_span *sp, char *out, size_t cap);
const char *glass_gen_kind_name(enum glass_gen_kind k);
/* GLASS_GEN_* from CODE flags (GLASS_GEN_NONE for a plain function). */
enum glass_gen_kind glass_gen_kind_of(uint32_t co_flags);

/* Limits (bounded memory). */
#define GLASS_SPANS_MAX_DEPTH (1u << 20) /* activations kept; deeper ones only counted */
#define GLASS_SPANS_MAX_GENS  (1u << 20) /* generator/coroutine objects tracked per thread */
#define GLASS_SPANS_EXC_SLOTS 1024	 /* exception texts kept (the last 1024 numbers) */
#define GLASS_SPANS_MAX_TEXT  4096	 /* longest exception/thread-name text kept (bytes) */
#define GLASS_SPANS_MAX_EVENTS 65536	 /* events waiting for their span's end, per thread */

#endif
