/* recorder/format.h — the on-disk format of a glass recording: the one place that knows it.
 *
 * Both the writer (preload side) and the reader (glass-report side) include this file.
 * Never renumber a record tag; add new tags and bump GLASS_FORMAT_MINOR. A reader refuses a
 * newer GLASS_FORMAT_MAJOR. The format is a public interface: docs/format.md explains it with
 * an example reader in Python (msgpack).
 *
 * Session layout (directories 0700, files 0600, created with O_EXCL/O_NOFOLLOW):
 *
 *   $GLASS_OUT/<YYYYmmdd-HHMMSS>-<pid>/       one session per top-level run
 *       SESSION                               text: "glass-session <major>.<minor>\n"
 *       p<pid>.<n>/                           one per process image (n = 0, 1, ... for exec'd images)
 *           meta                              struct glass_meta_header (4096 bytes), then meta records
 *           t<tidx>.<seq>.raw                 a chunk: struct glass_chunk_header, then stream records
 *           t<tidx>.<seq>.zst                 the same chunk, sealed and compressed (one zstd frame
 *                                             holding bytes [0, used) of the raw chunk); when both
 *                                             exist the .zst wins (it is renamed into place whole)
 *       resources                             GLASS_RESOURCES_MAGIC, then SAMPLER and RESOURCE
 *                                             records appended by glass-compress every 100 ms
 *                                             (one write() per sample of all processes)
 *
 * Records: a tag byte (a msgpack positive fixint, 1..127) followed by the record's fields, each one
 * msgpack object, in the order listed below. There is no array wrapper: the tag decides the fields.
 *
 *   +-----+---------+---------+-----+
 *   | tag | field 1 | field 2 | ... |        e.g. CALL: 0x01 0xcd 0x01 0x2c 0x07  (dt=300, code=7)
 *   +-----+---------+---------+-----+
 *
 * Records added after format 1.0 (stream tags >= GLASS_REC_FIRST_WRAPPED, meta tags >=
 * GLASS_REC_FIRST_WRAPPED_META) wrap their fields in one msgpack array:
 *
 *   +-----+---------------------------------+
 *   | tag | [field 1, field 2, ..., more?]  |    e.g. GEN_CLOSE: 0x0e 0x92 dt gen
 *   +-----+---------------------------------+
 *
 * so a reader that does not know the tag skips the record (one msgpack object) and reads on,
 * and a later minor version may append fields to a record (readers ignore the extra ones).
 * The dt of a wrapped record is counted from the previous timed record but does not move the
 * chunk's clock (the next record's dt counts from where it was), so skipping one loses no time.
 *
 * Files are zero-filled when created and the writer stores the tag byte last, after the fields,
 * so a 0x00 byte where a tag is expected is the end of what was written. A record cut short by a
 * crash has no tag yet and is never seen. A reader meeting bytes it cannot decode stops there
 * with a warning (torn or corrupt tail), keeping everything before.
 *
 * Timestamps: stream records carry `dt`, ticks since the previous timed record of the same chunk
 * (the first one: since glass_chunk_header.base_tsc). Ticks are TSC cycles when the meta header
 * says GLASS_CLOCK_TSC, else nanoseconds of CLOCK_MONOTONIC. The reader converts ticks to ns with
 * the (tsc, mono_ns) samples of the meta header and of every chunk header.
 */
#ifndef GLASS_FORMAT_H
#define GLASS_FORMAT_H

#include <stdint.h>

#define GLASS_FORMAT_MAJOR 1
#define GLASS_FORMAT_MINOR 3

#define GLASS_META_MAGIC "GLASSMT1"
#define GLASS_CHUNK_MAGIC "GLCK"
#define GLASS_META_HEADER_SIZE 4096
#define GLASS_CHUNK_HEADER_SIZE 64
#define GLASS_SESSION_FILE "SESSION"
#define GLASS_RESOURCES_FILE "resources"
#define GLASS_RESOURCES_MAGIC "GLASSRS1" /* 8 bytes, then records */

/* Clock of the ticks in a process's streams. */
#define GLASS_CLOCK_TSC 1
#define GLASS_CLOCK_MONO 2

/* glass_meta_header.state */
#define GLASS_PROC_RUNNING 1
#define GLASS_PROC_EXITED 2 /* exit() ran our destructor */
#define GLASS_PROC_EXECED 3 /* replaced by execve; the new image is p<pid>.<n+1> */
#define GLASS_PROC_UNDERSCORE_EXIT 4 /* _exit()/os._exit() */

/* glass_chunk_header.flags */
#define GLASS_CHUNK_SEALED 1u /* `used` is final */
#define GLASS_CHUNK_LAST 2u /* the thread ended with this chunk */

/*
 * The process meta file starts with this header, mapped shared by the writer so the counters
 * survive SIGKILL. Little-endian, naturally aligned; 4096 bytes with the padding.
 *
 *   0        8      10     12           16     20     24     28     32
 *   +--------+------+------+------------+------+------+------+------+
 *   | magic  |major |minor |header_size | pid  | ppid |clock |state |
 *   +--------+------+------+------------+------+------+------+------+
 *   32 start_tsc | 40 start_mono_ns | 48 start_realtime_ns | 56 cal_seq
 *   64 cal_tsc   | 72 cal_mono_ns   | 80 end_tsc           | 88 end_mono_ns
 *   96 exit_status (i32) | 100 threads (u32) | 104 lost_events | 112 lost_chunks | 120 code_defs
 */
struct glass_meta_header {
	char magic[8];
	uint16_t major;
	uint16_t minor;
	uint32_t header_size;
	uint32_t pid;
	uint32_t ppid;
	uint32_t clock;
	uint32_t state;
	uint64_t start_tsc;
	uint64_t start_mono_ns;
	uint64_t start_realtime_ns;
	uint64_t cal_seq; /* odd while cal_* are being written */
	uint64_t cal_tsc; /* a later (tsc, mono) sample for the tick rate */
	uint64_t cal_mono_ns;
	uint64_t end_tsc;
	uint64_t end_mono_ns;
	int32_t exit_status;
	uint32_t threads; /* thread indexes handed out */
	uint64_t lost_events; /* records dropped (no chunk could be had), atomic */
	uint64_t lost_chunks; /* chunk files that could not be created, atomic */
	uint64_t code_defs;
	uint8_t reserved[GLASS_META_HEADER_SIZE - 128];
};

/*
 * Every chunk file starts with this header (64 bytes). `used` is 0 while the chunk is open: the
 * reader then decodes up to the first zero tag.
 *
 *   0 magic "GLCK" | 4 major | 6 minor | 8 pid | 12 tid | 16 tidx | 20 seq
 *   24 capacity | 28 used | 32 base_tsc | 40 open_mono_ns | 48 flags | 52 reserved[3]
 */
struct glass_chunk_header {
	char magic[4];
	uint16_t major;
	uint16_t minor;
	uint32_t pid;
	uint32_t tid;
	uint32_t tidx;
	uint32_t seq;
	uint32_t capacity;
	uint32_t used;
	uint64_t base_tsc; /* ticks at open; also a clock sample with open_mono_ns */
	uint64_t open_mono_ns;
	uint32_t flags;
	uint32_t reserved[3];
};

_Static_assert(sizeof(struct glass_meta_header) == GLASS_META_HEADER_SIZE, "meta header size");
_Static_assert(sizeof(struct glass_chunk_header) == GLASS_CHUNK_HEADER_SIZE, "chunk header size");

/*
 * Field types of the record table: 'u' unsigned integer, 'i' signed integer, 's' string
 * (msgpack str, or nil for "unknown"), 'a' array of strings, 'm' map of attributes (string keys,
 * values string, integer, boolean or nil; at most GLASS_MAX_ATTRS pairs), 'b' bytes (msgpack
 * bin; native stacks: instruction pointers as little-endian uint64, innermost first).
 *
 * X(NAME, tag, "types", "field names")
 *
 * Stream records, in a thread's chunks. `code` is a process-wide code id defined by a CODE meta
 * record; `gen` identifies a generator/coroutine object for its lifetime; `exc` refers to the
 * EXC record with that number earlier in the same thread's stream.
 */
#define GLASS_STREAM_RECORDS(X)                                                              \
	X(CALL, 1, "uu", "dt,code")                 /* a traced function starts */            \
	X(RETURN, 2, "u", "dt")                     /* ...and returns */                      \
	X(RAISE, 3, "uu", "dt,exc")                 /* ...or an exception escapes it */       \
	X(GEN_CREATE, 4, "uuu", "dt,code,gen")      /* a generator/coroutine was created */   \
	X(GEN_RESUME, 5, "uuu", "dt,code,gen")      /* next/send/throw/await resumes it */    \
	X(GEN_YIELD, 6, "u", "dt")                  /* it suspends (yield/await) */           \
	X(GEN_RETURN, 7, "u", "dt")                 /* it finishes (returns) */               \
	X(EXC, 8, "uss", "exc,type,message")        /* an exception's text, numbered */       \
	X(LOST, 9, "uuuu", "dt,count,depth_min,depth") /* records dropped before this */      \
	X(THREAD_START, 10, "uuu", "dt,tid,tidx")   /* first record of a thread */            \
	X(THREAD_NAME, 11, "s", "name")                                                      \
	X(THREAD_END, 12, "u", "dt")                                                         \
	X(CHUNK_START, 13, "uu", "dt,depth")        /* first record of every chunk */       \
	X(GEN_CLOSE, 14, "uu", "dt,gen")            /* closed or finalized while suspended, \
						       without running again (3.13) */        \
	X(OP_BEGIN, 15, "uuusm", "dt,op,kind,name,attrs") /* a captured operation starts   \
						       (below the Python code: SQL, HTTP, ...) */\
	X(OP_END, 16, "uuusm", "dt,op,status,name,attrs") /* ...and ends; name nil keeps the  \
						       begin's; attrs: OpenTelemetry names */ \
	X(THREAD_CPU, 17, "uu", "dt,cpu_ns")        /* CPU time the thread used, user+system, \
						       written just before THREAD_END */      \
	X(SAMPLE, 18, "ubuuu", "dt,ips,missed,period_ns,wall") /* a CPU (wall: 1) sample of \
						       this thread: native stack; the Python    \
						       frames are the open spans; missed:       \
						       samples not recorded since the last one */\
	X(CRASH, 19, "uuiub", "dt,signal,code,addr,ips") /* a fatal signal on this thread   \
						       (si_code, fault address), native stack */\
	X(LINK_OUT, 20, "uuu", "dt,link,child_pid") /* work handed to another thread, task  \
						       or process from the current span: link \
						       numbers the hand-off (process-wide);    \
						       child_pid: a process it started, or 0  */\
	X(LINK_IN, 21, "uuuus", "dt,link,kind,src_tidx,src_proc") /* what runs from here   \
						       (until LINK_END, or for the whole      \
						       thread) was handed off by LINK_OUT     \
						       `link` of thread src_tidx of process   \
						       image src_proc (nil: this process)     */\
	X(LINK_END, 22, "u", "dt")                  /* ...the innermost LINK_IN ends */    \
	X(EXC_RAISED, 23, "uu", "dt,exc")           /* exception `exc` (EXC) was raised in, or \
						       first reached, traced code: an event on \
						       the innermost open span                */\
	X(LOG, 24, "uuss", "dt,level,logger,message") /* a logging record (levelno, logger  \
						       name, formatted message, cut/redacted) */\
	X(ARGS, 25, "us", "dt,text")                /* the arguments of the span just opened \
						       ("f(a=1, *args=(2,))", cut, redacted)  */\
	X(RESULT, 26, "us", "dt,text")              /* what the innermost span returns (just  \
						       before its RETURN or GEN_RETURN)       */

/* Meta records, appended to a process's meta file after its header. */
#define GLASS_META_RECORDS(X)                                                                \
	X(PROCESS, 64, "uuussssas",                                                          \
	  "pid,ppid,start_realtime_ns,python,executable,cwd,origin,argv,parent")               \
	X(CODE, 65, "usssuu", "code,qualname,module,filename,line,flags")                    \
	X(FORK, 66, "uu", "tsc,child_pid")                                                   \
	X(EXEC, 67, "usa", "tsc,path,argv")                                                  \
	X(END, 68, "uis", "tsc,status,how")                                                  \
	X(NOTE, 69, "us", "level,text")                                                      \
	X(POLICY, 70, "sss", "mode,path,summary")                                           \
	X(CAPTURE, 71, "uuuuuu",                                                             \
	  "connections,gave_up,busy,no_slot,foreign_thread,unsampled") /* at the end: what  \
	  the capture hooks saw but did not record (counts since the process image began) */ \
	X(SAMPLER, 74, "uuu", "unix_ns,interval_ns,pid") /* resources file: a sampler began \
	  (glass-compress, pid), sampling every interval_ns; again after a restart */        \
	X(RESOURCE, 75, "uuuuuuuu",                                                          \
	  "unix_ns,pid,image,cpu_user_ns,cpu_sys_ns,rss_bytes,threads,fds") /* resources    \
	  file: one live process image p<pid>.<image> at unix_ns, from /proc (CPU since the  \
	  process began) */                                                                      \
	X(OBJECT, 72, "usuuus", "tsc,path,base,start,end,build_id") /* a loaded ELF object:    \
	  load bias (address = base + ELF vaddr), its code's address range, GNU build-id (hex) */ \
	X(OBJECT_UNLOAD, 73, "uuu", "tsc,base,start") /* that object was unloaded (dlclose) */ \
	X(ENGINE, 77, "s", "name") /* how activations were seen: "eval" (a PEP 523 frame      \
	  evaluator) or "monitoring" (sys.monitoring, 3.12+); the records are the same */

enum glass_record_tag {
#define GLASS_TAG_ENUM(name, tag, types, fields) GLASS_REC_##name = tag,
	GLASS_STREAM_RECORDS(GLASS_TAG_ENUM) GLASS_META_RECORDS(GLASS_TAG_ENUM)
#undef GLASS_TAG_ENUM
};

#define GLASS_REC_MAX_FIELDS 9
/* From these tags on, fields are wrapped in one msgpack array (see the top of this file). */
#define GLASS_REC_FIRST_WRAPPED 14
#define GLASS_REC_FIRST_WRAPPED_META 71
#define GLASS_REC_IS_WRAPPED(tag)                                                             \
	(((tag) >= GLASS_REC_FIRST_WRAPPED && (tag) < 64) || (tag) >= GLASS_REC_FIRST_WRAPPED_META)
#define GLASS_REC_MAX_TAG 127

/* Code flags copied from CPython's co_flags (stable across versions). */
#define GLASS_CO_GENERATOR 0x20
#define GLASS_CO_COROUTINE 0x80
#define GLASS_CO_ITERABLE_COROUTINE 0x100
#define GLASS_CO_ASYNC_GENERATOR 0x200

/* OP_BEGIN kinds: what a captured operation is. */
#define GLASS_OP_DB 1	       /* a statement or command to a database (SQL, MongoDB, Redis) */
#define GLASS_OP_HTTP_SERVER 2 /* an HTTP request this process served (root of its trace) */
#define GLASS_OP_HTTP_CLIENT 3 /* an HTTP request this process made */
#define GLASS_OP_NET 4	       /* connect, DNS lookup, time blocked waiting on a socket */
#define GLASS_OP_MAX_KIND 4

/* An OP_BEGIN attribute "glass.leaf" = true marks an operation that is never the parent of
 * what begins while it is open (pipelined wire commands, a pending non-blocking connect);
 * readers drop it from the attributes they show. */

/* LINK_IN kinds */
#define GLASS_LINK_THREAD 1  /* threading.Thread started by the span (the thread's whole run) */
#define GLASS_LINK_WORK 2    /* a concurrent.futures work item submitted by the span */
#define GLASS_LINK_PROCESS 3 /* a forked child: the whole process ran from the span */

/* OP_END status */
#define GLASS_OP_OK 0
#define GLASS_OP_ERROR 1

#define GLASS_MAX_ATTRS 32

/* NOTE levels */
#define GLASS_NOTE_INFO 1
#define GLASS_NOTE_WARNING 2

/* Longest strings the writer records (bytes, UTF-8); longer ones are cut with "...". */
#define GLASS_MAX_NAME 512
#define GLASS_MAX_MESSAGE 512

#endif
