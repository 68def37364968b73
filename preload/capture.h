/* preload/capture.h — captured operations below the Python code (SQL, MongoDB, Redis, HTTP,
 * sockets): what every hook shares. Hidden inside libglass.so.
 *
 * A hook does the host's call first, unchanged, then records what it saw:
 *
 *	int rc = real(...);                       // errno and return value untouched
 *	int saved = errno;
 *	uint64_t op = glass_cap_begin(GLASS_OP_DB, "SELECT", 6, NULL, 0, start_ticks);
 *	...
 *	glass_cap_end(op, GLASS_OP_OK, NULL, 0, attrs, n);
 *	errno = saved;
 *
 * glass_cap_begin returns 0 when nothing is to be recorded on this thread (tracing off, our own
 * slow path, a nested layer); glass_cap_end(0, ...) does nothing. Both take a few hundred ns and
 * never allocate, lock or make a syscall beyond the recorder's chunk switch.
 */
#ifndef GLASS_CAPTURE_H
#define GLASS_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "recorder/format.h"
#include "recorder/writer.h"

/* Capture families (policy "capture" object; docs/capture.md). */
enum glass_cap_family {
	GLASS_CAP_SQL,	       /* sqlite3, libpq, ODBC, MySQL/MariaDB */
	GLASS_CAP_MONGO,       /* MongoDB wire protocol on sockets */
	GLASS_CAP_REDIS,       /* RESP on sockets */
	GLASS_CAP_HTTP_SERVER, /* requests this process serves */
	GLASS_CAP_HTTP_CLIENT, /* requests it makes */
	GLASS_CAP_NET,	       /* connect, DNS, socket waits */
	GLASS_CAP_NFAMILIES
};

#define GLASS_CAP_MAX_ROUTES 32
#define GLASS_CAP_MAX_REDACT 32
#define GLASS_CAP_MAX_HEADERS 4

/* What the policy asked for; read once when tracing starts (glass_cap_configure). The keys are
 * the policy's (docs/policy.md, docs/capture.md): "capture": {"sql": true, "mongo", "redis",
 * "http_server", "http_client", "net": booleans, "net_min_us": number}, and at the top level
 * sql_text, max_sql_length, exclude_routes, sample, redact, http_headers. */
struct glass_cap_config {
	int on[GLASS_CAP_NFAMILIES];
	int sockets;	      /* any family read off sockets is on (mongo, redis, http, net) */
	int tls;	      /* "capture_tls" (default true): plaintext of OpenSSL connections */
	int propagate;	      /* "propagate_context" (default false): traceparent sent out */
	int sql_raw;	      /* "sql_text": "raw" keeps literals; default "normalized" */
	unsigned max_statement; /* max_sql_length: statement bytes kept (then "..."), 2048 */
	uint64_t net_min_ns;  /* socket waits shorter than this are not spans (default 1 ms) */
	double sample;	      /* fraction of HTTP server requests recorded (default 1) */
	size_t nroutes;	      /* exclude_routes: path prefixes ("/health") or exact paths */
	char routes[GLASS_CAP_MAX_ROUTES][128];
	size_t nredact;	      /* redact: extra name patterns (case-insensitive substrings) */
	char redact[GLASS_CAP_MAX_REDACT][64];
	size_t nheaders; /* http_headers: request headers recorded (secret-looking ones refused) */
	char headers[GLASS_CAP_MAX_HEADERS][32];
};
extern struct glass_cap_config glass_cap;

struct glass_policy;
/* Reads the "capture" options of a policy (NULL: defaults). Never fails: unknown values keep
 * the default and are reported once with glass_log. */
void glass_cap_configure(const struct glass_policy *p);

/* Is this family on and is tracing active? Cheap: two loads. */
int glass_cap_on(enum glass_cap_family f);

/* Ticks now (the recorder's clock): take it before calling the real function to time it. */
uint64_t glass_cap_now(void);

/*
 * Opens an operation on the calling thread's stream, stamped `start` (glass_cap_now() taken
 * before the real call; 0: now). Returns its op number, or 0 when not recording.
 */
uint64_t glass_cap_begin(unsigned kind, const char *name, size_t name_len,
			 const struct glass_op_attr *attrs, size_t nattrs, uint64_t start);
/* Closes it (status GLASS_OP_OK / GLASS_OP_ERROR) at the current time. name NULL keeps the
 * begin's name. */
void glass_cap_end(uint64_t op, unsigned status, const char *name, size_t name_len,
		   const struct glass_op_attr *attrs, size_t nattrs);

/* Sampling: pause recording on this thread for the rest of an unsampled request (frames
 * already open still record their end), and resume it. Returns 1 if paused. */
int glass_cap_pause(void);
void glass_cap_resume(void);

/* Counters of the socket capture (capture-net.c), for the CAPTURE meta record. */
struct glass_net_stats {
	uint64_t connections, gave_up, busy, no_slot, foreign_thread, unsampled;
};
void glass_net_stats(struct glass_net_stats *out);
void glass_net_prop_stats(uint64_t *sent, uint64_t *skipped, uint64_t *broken);
/* ---- TLS (capture-tls.c feeds capture-net.c) ----------------------------------------------- */

/* What capture-tls.c reads of an SSL object once its handshake is done. */
struct glass_tls_desc {
	char version[8]; /* "1.3", "1.2" */
	int h2;		 /* ALPN chose h2: counted, not parsed */
};
typedef void (*glass_tls_describe_fn)(const void *ssl, struct glass_tls_desc *out);

/* Plaintext that went out (sending) or came in through the SSL object ssl whose socket is fd
 * (n: bytes; 0 at the peer's close; < 0 an error with errno err). The socket becomes a TLS
 * connection: its own bytes are no longer parsed. */
void glass_net_tls_bytes(int fd, const void *ssl, glass_tls_describe_fn describe, int sending,
			 const void *buf, ssize_t n, uint64_t t0, int err);
/* The socket fd carries ssl's records (a memory-BIO connection found by its handshake). */
void glass_net_tls_bind(int fd, const void *ssl);
/* ssl is shut down or freed: what its connection has open ends. */
void glass_net_tls_end(int fd, const void *ssl);
/* A memory-BIO SSL object of this thread whose socket is not known yet: the next TLS
 * handshake record sent on this thread names it (capture-net.c's send). */
extern __thread const void *glass_tls_pending __attribute__((tls_model("initial-exec")));
/* capture-tls.c: remember that ssl's records go through fd. */
void glass_tls_bound(const void *ssl, int fd);
uint64_t glass_tls_dropped(void);

/* ---- trace context sent out (propagate.c) ---------------------------------------------------- */

/* The trace and a fresh parent span id for a request this thread sends now. */
void glass_prop_ids(uint64_t *hi, uint64_t *lo, uint64_t *span);
/* A request served begins on this thread: its trace is the traceparent's (valid, or NULL);
 * without one a new trace id is made, written to out (32 hex digits) and 1 returned. */
int glass_prop_server_begin(const char *traceparent, char out[33]);
void glass_prop_server_end(void);

/* Plaintext written through an SSL object: a traceparent goes in when it begins a request
 * (propagate_context). Returns 1 when it wrote (the program's result in *ret), 0 when the
 * caller writes as usual. */
struct glass_inject_io;
int glass_net_tls_write_ctx(int fd, const void *ssl, glass_tls_describe_fn describe,
			    const void *buf, size_t len,
			    ssize_t (*w)(void *ctx, const void *buf, size_t len, int finish),
			    void *wctx, uint64_t t0, ssize_t *ret);

/* Appends the CAPTURE meta record (at the process's end). */
void glass_cap_write_stats(void);

/* Per-thread nesting guard for layered libraries (ODBC driver -> libsqlite3, PQexec ->
 * PQsendQuery): enter returns the previous depth; the hook records only when it was 0 (or
 * nests deliberately). Always pair with leave. */
int glass_cap_enter(void);
void glass_cap_leave(void);

/*
 * The real function behind an interposed symbol: dlsym(RTLD_NEXT), else each library of `libs`
 * (NULL-terminated sonames, e.g. "libsqlite3.so.0") opened with RTLD_NOLOAD, so a library the
 * host loaded privately (Python extensions are RTLD_LOCAL) is found; NULL if not loaded.
 */
void *glass_cap_real(const char *name, const char *const *libs);

/* Attribute constructors. */
static inline struct glass_op_attr glass_attr_str(const char *key, const char *s, size_t len)
{
	struct glass_op_attr a = {key, GLASS_OP_ATTR_STR, s, len, 0};
	return a;
}
static inline struct glass_op_attr glass_attr_int(const char *key, int64_t v)
{
	struct glass_op_attr a = {key, GLASS_OP_ATTR_INT, NULL, 0, v};
	return a;
}
static inline struct glass_op_attr glass_attr_bool(const char *key, int v)
{
	struct glass_op_attr a = {key, GLASS_OP_ATTR_BOOL, NULL, 0, v != 0};
	return a;
}

/*
 * The statement text as the policy wants it recorded: normalised (literals -> ?) unless
 * sql_raw, cut at max_statement bytes with "...". Writes into out (cap bytes, NUL-terminated)
 * and returns the length; info gets the operation ("SELECT") and main table when known.
 * flags: GLASS_SQL_* of sql-normalize.h (dialect).
 */
struct glass_sql_info;
size_t glass_cap_sql_text(const char *sql, size_t len, unsigned flags, char *out, size_t cap,
			  struct glass_sql_info *info);
/* A span name for a statement: "SELECT users", or the operation alone. Returns its length. */
size_t glass_cap_sql_name(const struct glass_sql_info *info, char *out, size_t cap);

/* Is name (a header, query parameter, ...) secret by the built-in list (authorization, cookie,
 * password, passwd, pwd, token, secret, key, session, credential, signature) or the policy's
 * redact patterns? Case-insensitive substring match. */
int glass_cap_is_secret(const char *name, size_t len);

#endif
