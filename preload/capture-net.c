/* preload/capture-net.c — what crosses the process's TCP sockets: HTTP requests it serves and
 * makes, MongoDB and Redis commands, connects, DNS lookups and long socket waits.
 *
 * The libc functions Python's socket module calls (connect, accept, accept4, send, sendto,
 * recv, recvfrom, close, getaddrinfo) are wrapped. Each wrapper calls the real function first,
 * with the caller's arguments, and returns its result with errno as it left it. Only then, and
 * only when tracing is active, the bytes that really went through are fed to the protocol
 * parsers (proto-*.c) of that connection, which say when a request or reply begins and ends.
 *
 * Connections: one `struct conn` per TCP socket (AF_INET/AF_INET6) this process accepted,
 * connected or first used, in blocks mapped on demand (no malloc), found by fd in a table. A
 * connection's protocol is decided by its first bytes: a request line makes it HTTP, a MongoDB
 * message header MongoDB, a RESP array Redis; anything else is left alone (only long waits on
 * it are timed). Unix sockets, UDP and fds above NET_MAX_FD are not looked at.
 *
 * Threads: a connection is used by one thread at a time in practice; a busy flag taken with
 * an atomic exchange makes a second user skip (and count) instead of racing. An operation
 * begun on one thread's stream is ended on that thread only (op numbers are per stream).
 */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture.h"
#include "glass.h"
#include "proto-http.h"
#include "proto-inject.h"
#include "proto-mongo.h"
#include "proto-resp.h"

#define EXPORT __attribute__((visibility("default")))

#define NET_MAX_FD 65536
#define BLOCK_CONNS 64
#define MAX_BLOCKS 256 /* 16384 connections tracked at once */

enum proto { P_NEW, P_HTTP, P_MONGO, P_RESP, P_OTHER };
enum role { R_UNKNOWN, R_CLIENT, R_SERVER };

struct conn {
	int busy;
	uint8_t role, proto;
	uint16_t peer_port;
	char peer[48];
	struct glass_thread *owner; /* the thread whose stream holds this connection's open ops */
	uint64_t req_start;	    /* HTTP server: ticks at the first byte of the request */
	uint64_t send_start;	    /* client: ticks before the send that began a request */
	uint64_t req_body;	    /* HTTP: request body bytes */
	uint16_t resp_status;	    /* HTTP: status of the response head seen, 0 before */
	uint64_t connect_op;	    /* a non-blocking connect in progress (its span is open) */
	char method[GLASS_HTTP_METHOD_MAX];
	/* TLS (capture-tls.c): the socket carries ciphertext; the parsers see the plaintext of
	 * the SSL object `ssl` instead, and the socket's own bytes are not parsed. */
	uint8_t tls;		/* 1: TLS; 2: TLS with ALPN h2 (bytes counted, not parsed) */
	uint8_t tls_described;	/* version and ALPN read (at the first plaintext) */
	char tls_version[8];	/* "1.3" */
	const void *ssl;
	uint64_t tls_start;	/* h2: ticks at the first plaintext */
	uint64_t tls_out, tls_in; /* h2: plaintext bytes sent and received */
	/* propagate_context: the traceparent line of the request being sent (kept for a retry of
	 * a write that failed: OpenSSL wants the same bytes again) */
	uint8_t tp_pending, tp_sent;
	char tp_hdr[GLASS_INJECT_HEADER_LEN];
	union {
		struct glass_http_conn http;
		struct glass_mongo_conn mongo;
		struct glass_resp_conn resp;
	} u;
};

struct block {
	uint64_t used; /* bit i: conns[i] taken */
	struct conn conns[BLOCK_CONNS];
};

static struct conn **fdtab;	       /* NULL: not known; IGNORED: not ours to look at */
static struct block *blocks[MAX_BLOCKS];
#define IGNORED ((struct conn *)1)

/* The policy's http_headers, prepared once for the parsers (read-only after). */
static struct glass_http_config http_cfg;
static int http_cfg_ready;

static const struct glass_http_config *http_config(void)
{
	if (!__atomic_load_n(&http_cfg_ready, __ATOMIC_ACQUIRE)) {
		const char *names[GLASS_CAP_MAX_HEADERS];
		for (size_t i = 0; i < glass_cap.nheaders; i++)
			names[i] = glass_cap.headers[i];
		struct glass_http_config c;
		memset(&c, 0, sizeof(c));
		glass_http_config_init(&c, names, glass_cap.nheaders);
		http_cfg = c; /* racing threads write the same bytes */
		__atomic_store_n(&http_cfg_ready, 1, __ATOMIC_RELEASE);
	}
	return &http_cfg;
}

/* Counters of what was seen but not recorded (kept for `glass-report info` later). */
static uint64_t n_conns, n_busy, n_gave_up, n_no_slot, n_foreign_thread, n_unsampled;
/* propagate_context: requests that carried a traceparent; left alone (head written in several
 * pieces, or too big to rewrite, or ending inside the request line); header cut by an error */
static uint64_t n_prop_sent, n_prop_skipped, n_prop_broken;

void glass_net_prop_stats(uint64_t *sent, uint64_t *skipped, uint64_t *broken)
{
	*sent = __atomic_load_n(&n_prop_sent, __ATOMIC_RELAXED);
	*skipped = __atomic_load_n(&n_prop_skipped, __ATOMIC_RELAXED);
	*broken = __atomic_load_n(&n_prop_broken, __ATOMIC_RELAXED);
}

void glass_net_stats(struct glass_net_stats *out)
{
	out->connections = __atomic_load_n(&n_conns, __ATOMIC_RELAXED);
	out->gave_up = __atomic_load_n(&n_gave_up, __ATOMIC_RELAXED);
	out->busy = __atomic_load_n(&n_busy, __ATOMIC_RELAXED);
	out->no_slot = __atomic_load_n(&n_no_slot, __ATOMIC_RELAXED) + glass_tls_dropped();
	out->foreign_thread = __atomic_load_n(&n_foreign_thread, __ATOMIC_RELAXED);
	out->unsampled = __atomic_load_n(&n_unsampled, __ATOMIC_RELAXED);
}

#define COUNT(x) __atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED)

/* ---- real functions --------------------------------------------------------------------- */

#define REAL(ret, name, ...)                                                                  \
	typedef ret (*name##_fn)(__VA_ARGS__);                                                \
	static name##_fn real_##name;                                                         \
	static name##_fn get_##name(void)                                                     \
	{                                                                                     \
		name##_fn f = __atomic_load_n(&real_##name, __ATOMIC_ACQUIRE);                \
		if (!f) {                                                                     \
			f = (name##_fn)glass_cap_real(#name, NULL);                           \
			__atomic_store_n(&real_##name, f, __ATOMIC_RELEASE);                  \
		}                                                                             \
		return f;                                                                     \
	}

REAL(int, connect, int, const struct sockaddr *, socklen_t)
REAL(int, accept, int, struct sockaddr *, socklen_t *)
REAL(int, accept4, int, struct sockaddr *, socklen_t *, int)
REAL(ssize_t, send, int, const void *, size_t, int)
REAL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t)
REAL(ssize_t, recv, int, void *, size_t, int)
REAL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *)
REAL(int, close, int)
REAL(int, getsockopt, int, int, int, void *, socklen_t *)
REAL(int, getaddrinfo, const char *, const char *, const struct addrinfo *, struct addrinfo **)

/* ---- connection table ----------------------------------------------------------------------- */

static struct conn **table(void)
{
	struct conn **t = __atomic_load_n(&fdtab, __ATOMIC_ACQUIRE);
	if (t)
		return t;
	void *m = mmap(NULL, NET_MAX_FD * sizeof(*t), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	struct conn **want = NULL;
	if (!__atomic_compare_exchange_n(&fdtab, &want, (struct conn **)m, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		munmap(m, NET_MAX_FD * sizeof(*t));
		return want;
	}
	return m;
}

static struct conn *slot_alloc(void)
{
	for (int b = 0; b < MAX_BLOCKS; b++) {
		struct block *bl = __atomic_load_n(&blocks[b], __ATOMIC_ACQUIRE);
		if (!bl) {
			void *m = mmap(NULL, sizeof(*bl), PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED)
				return NULL;
			struct block *want = NULL;
			if (__atomic_compare_exchange_n(&blocks[b], &want, (struct block *)m, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				bl = m;
			else {
				munmap(m, sizeof(*bl));
				bl = want;
			}
		}
		uint64_t used = __atomic_load_n(&bl->used, __ATOMIC_ACQUIRE);
		while (~used) {
			int i = __builtin_ctzll(~used);
			if (__atomic_compare_exchange_n(&bl->used, &used, used | (1ull << i), 0,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				return &bl->conns[i];
		}
	}
	return NULL;
}

static void slot_free(struct conn *c)
{
	for (int b = 0; b < MAX_BLOCKS; b++) {
		struct block *bl = __atomic_load_n(&blocks[b], __ATOMIC_ACQUIRE);
		if (bl && c >= bl->conns && c < bl->conns + BLOCK_CONNS) {
			__atomic_and_fetch(&bl->used, ~(1ull << (c - bl->conns)), __ATOMIC_ACQ_REL);
			return;
		}
	}
}

static int tracing(void)
{
	return G.state == GLASS_ACTIVE;
}

/* Dotted-quad text of an IPv4 address (what inet_ntop writes, for a tenth of its cost: this
 * runs at every accept). out has room for 16 bytes. */
static void ipv4_text(const struct in_addr *a, char *out)
{
	const unsigned char *b = (const unsigned char *)&a->s_addr;
	char *o = out;
	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (v >= 100)
			*o++ = (char)('0' + v / 100);
		if (v >= 10)
			*o++ = (char)('0' + v / 10 % 10);
		*o++ = (char)('0' + v % 10);
		*o++ = i < 3 ? '.' : '\0';
	}
}

static void peer_of(struct conn *c, const struct sockaddr *sa)
{
	c->peer[0] = 0;
	c->peer_port = 0;
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		ipv4_text(&in->sin_addr, c->peer);
		c->peer_port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, c->peer, sizeof(c->peer));
		c->peer_port = ntohs(in6->sin6_port);
	}
}

static int is_inet(const struct sockaddr *sa)
{
	return sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
}

/* Ends what a connection still has open (the peer or we closed it). Caller holds it busy. */
static void conn_finish(struct conn *c);

/* Replaces whatever fd held with a new connection (accept/connect, or first use). */
static struct conn *conn_new(int fd, enum role role, const struct sockaddr *peer)
{
	struct conn **t = table();
	if (!t || fd < 0 || fd >= NET_MAX_FD)
		return NULL;
	struct conn *old = __atomic_exchange_n(&t[fd], NULL, __ATOMIC_ACQ_REL);
	if (old && old != IGNORED && !__atomic_exchange_n(&old->busy, 1, __ATOMIC_ACQUIRE)) {
		conn_finish(old);
		slot_free(old);
	}
	struct conn *c = slot_alloc();
	if (c)
		COUNT(n_conns);
	if (!c) {
		COUNT(n_no_slot);
		return NULL;
	}
	memset(c, 0, offsetof(struct conn, u));
	c->busy = 1;
	c->role = (uint8_t)role;
	c->proto = P_NEW;
	peer_of(c, peer);
	__atomic_store_n(&t[fd], c, __ATOMIC_RELEASE);
	__atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
	return c;
}

/* The connection of fd, taken busy; NULL when not ours (or busy: then counted). A socket we
 * never saw connect or accept is looked at once (getsockname: one syscall per fd, ever). */
static struct conn *conn_get(int fd)
{
	struct conn **t = table();
	if (!t || fd < 0 || fd >= NET_MAX_FD)
		return NULL;
	struct conn *c = __atomic_load_n(&t[fd], __ATOMIC_ACQUIRE);
	if (c == IGNORED)
		return NULL;
	if (!c) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int type = 0;
		socklen_t tl = sizeof(type);
		int saved = errno;
		int ok = getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
			 is_inet((struct sockaddr *)&ss) &&
			 getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM;
		errno = saved;
		if (!ok) {
			struct conn *want = NULL;
			__atomic_compare_exchange_n(&t[fd], &want, IGNORED, 0, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE);
			return NULL;
		}
		c = conn_new(fd, R_UNKNOWN, (struct sockaddr *)&ss);
		if (!c)
			return NULL;
	}
	if (__atomic_exchange_n(&c->busy, 1, __ATOMIC_ACQUIRE)) {
		COUNT(n_busy);
		return NULL;
	}
	return c;
}

static void conn_put(struct conn *c)
{
	__atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
}

/* ---- protocol detection ------------------------------------------------------------------- */

static int looks_http_request(const uint8_t *p, size_t n)
{
	static const char *const methods[] = {"GET ", "POST ", "PUT ", "DELETE ", "HEAD ",
					      "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t l = strlen(methods[i]);
		if (n >= l ? !memcmp(p, methods[i], l) : !memcmp(p, methods[i], n))
			return 1;
	}
	return 0;
}

static int looks_mongo(const uint8_t *p, size_t n)
{
	if (n < 16)
		return 0;
	int32_t len = (int32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
	int32_t op = (int32_t)(p[12] | p[13] << 8 | p[14] << 16 | (uint32_t)p[15] << 24);
	return len >= 16 && len <= 48 * 1024 * 1024 && (op == 2013 || op == 2004 || op == 2012);
}

static int looks_resp(const uint8_t *p, size_t n)
{
	return n >= 4 && p[0] == '*' && p[1] >= '1' && p[1] <= '9';
}

/* First bytes of a connection decide its protocol: the client's first send, or (when the
 * first bytes are received) a request line makes us the server. */
static void decide(struct conn *c, int sending, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	if (sending && c->role != R_SERVER) {
		if (looks_http_request(p, n) && glass_cap.on[GLASS_CAP_HTTP_CLIENT]) {
			c->proto = P_HTTP;
			glass_http_init(&c->u.http, http_config());
		} else if (looks_mongo(p, n) && glass_cap.on[GLASS_CAP_MONGO]) {
			c->proto = P_MONGO;
			glass_mongo_init(&c->u.mongo);
		} else if (looks_resp(p, n) && glass_cap.on[GLASS_CAP_REDIS]) {
			c->proto = P_RESP;
			glass_resp_init(&c->u.resp);
		} else {
			c->proto = P_OTHER;
		}
		c->role = R_CLIENT;
	} else if (!sending && c->role != R_CLIENT && looks_http_request(p, n) &&
		   glass_cap.on[GLASS_CAP_HTTP_SERVER]) {
		c->proto = P_HTTP;
		c->role = R_SERVER;
		glass_http_init(&c->u.http, http_config());
	} else {
		c->proto = P_OTHER;
		if (c->role == R_UNKNOWN)
			c->role = sending ? R_CLIENT : R_SERVER;
	}
}

/* ---- TLS attributes ---------------------------------------------------------------------- */

/* What a span on a TLS connection says about it (3 attributes at most). */
static size_t tls_attrs(const struct conn *c, struct glass_op_attr *a, const char *proto)
{
	if (!c->tls)
		return 0;
	size_t n = 0;
	a[n++] = glass_attr_str("network.protocol.name", proto, strlen(proto));
	a[n++] = glass_attr_bool("glass.tls", 1);
	if (c->tls_version[0])
		a[n++] = glass_attr_str("tls.protocol.version", c->tls_version,
					strlen(c->tls_version));
	return n;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

/* A route for grouping: the path with ids (numbers, UUIDs, long hex or mixed digit tokens)
 * replaced by {id}; the query dropped. */
static size_t http_route(const char *target, size_t len, char *out, size_t cap)
{
	size_t o = 0, i = 0;
	if (!cap)
		return 0;
	while (i < len && target[i] != '?' && target[i] != '#' && o + 1 < cap) {
		if (target[i] != '/') {
			out[o++] = target[i++];
			continue;
		}
		out[o++] = target[i++];
		size_t s = i;
		while (i < len && target[i] != '/' && target[i] != '?' && target[i] != '#')
			i++;
		size_t sl = i - s, digits = 0, hex = 0;
		for (size_t k = s; k < i; k++) {
			char ch = target[k];
			digits += ch >= '0' && ch <= '9';
			hex += (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			       (ch >= 'A' && ch <= 'F') || ch == '-';
		}
		int id = sl && (digits == sl || (sl >= 16 && hex == sl) ||
				(sl >= 8 && digits * 2 >= sl));
		const char *seg = id ? "{id}" : target + s;
		size_t n = id ? 4 : sl;
		if (o + n >= cap)
			n = cap - 1 - o;
		memcpy(out + o, seg, n);
		o += n;
	}
	out[o] = 0;
	return o;
}

static int route_excluded(const char *path, size_t len)
{
	for (size_t i = 0; i < glass_cap.nroutes; i++) {
		size_t rl = strlen(glass_cap.routes[i]);
		if (rl && len >= rl && !memcmp(path, glass_cap.routes[i], rl) &&
		    (len == rl || glass_cap.routes[i][rl - 1] == '/' || path[rl] == '/' ||
		     path[rl] == '?'))
			return 1;
	}
	return 0;
}

/* The user value of a request that was not sampled (recording paused until its end). */
#define UNSAMPLED UINT64_MAX

/* Sampling: a cheap per-thread generator; 1 when this request is recorded. */
static int sampled(void)
{
	if (glass_cap.sample >= 1.0)
		return 1;
	static __thread uint64_t x;
	if (!x)
		x = glass_cap_now() | 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return (double)(x >> 11) * (1.0 / 9007199254740992.0) < glass_cap.sample;
}

static void http_request_head(struct conn *c, uint64_t start)
{
	struct glass_http_request *r = &c->u.http.request;
	if (T.unsampled_epoch) /* a paused request never saw its end here: do not pause forever */
		glass_cap_resume();
	char target[GLASS_HTTP_TARGET_MAX + 16], route[GLASS_HTTP_TARGET_MAX + 16];
	char name[GLASS_HTTP_METHOD_MAX + GLASS_HTTP_TARGET_MAX + 24];
	size_t tl = glass_http_redact_target(r->target, strnlen(r->target, sizeof(r->target)),
					     target, sizeof(target), NULL);
	size_t pl = 0;
	while (pl < tl && target[pl] != '?' && target[pl] != '#')
		pl++;
	size_t ml = strnlen(r->method, sizeof(c->method) - 1);
	memcpy(c->method, r->method, ml);
	c->method[ml] = 0;
	c->req_body = 0;
	int server = c->role == R_SERVER;
	if (server && route_excluded(target, pl))
		return;
	if (server && !sampled()) {
		/* not sampled: nothing of this request's trace is recorded on this thread */
		COUNT(n_unsampled);
		if (glass_cap_pause()) {
			c->owner = &T;
			glass_http_set_user(&c->u.http, r->seq, UNSAMPLED);
		}
		return;
	}
	size_t rl = http_route(target, tl, route, sizeof(route));
	int nl = snprintf(name, sizeof(name), "%s %s", r->method,
			  server ? route : (r->host[0] ? r->host : c->peer));
	const char *ver = r->version == 10 ? "1.0" : "1.1";
	char trace_id[33];
	struct glass_op_attr a[18 + GLASS_HTTP_EXTRA_MAX];
	size_t n = 0;
	a[n++] = glass_attr_str("http.request.method", r->method, strlen(r->method));
	a[n++] = glass_attr_str("url.path", target, pl);
	if (pl < tl && target[pl] == '?')
		a[n++] = glass_attr_str("url.query", target + pl + 1, tl - pl - 1);
	a[n++] = glass_attr_str("network.protocol.version", ver, 3);
	if (server) {
		a[n++] = glass_attr_str("http.route", route, rl);
		a[n++] = glass_attr_str("client.address", c->peer, strlen(c->peer));
		a[n++] = glass_attr_int("client.port", c->peer_port);
		if (r->user_agent[0])
			a[n++] = glass_attr_str("user_agent.original", r->user_agent,
						strlen(r->user_agent));
		if (r->traceparent_state == 1)
			a[n++] = glass_attr_str("traceparent", r->traceparent,
						strlen(r->traceparent));
		if (glass_cap.propagate &&
		    glass_prop_server_begin(r->traceparent_state == 1 ? r->traceparent : NULL,
					    trace_id))
			a[n++] = glass_attr_str("glass.trace_id", trace_id, 32);
	} else {
		const char *host = r->host[0] ? r->host : c->peer;
		size_t hl = strlen(host);
		const char *colon = memchr(host, ':', hl);
		a[n++] = glass_attr_str("server.address", host, colon ? (size_t)(colon - host) : hl);
		a[n++] = glass_attr_int("server.port", c->peer_port);
		a[n++] = glass_attr_str("network.peer.address", c->peer, strlen(c->peer));
		a[n++] = glass_attr_bool("glass.leaf", 1);
		if (c->tp_sent) /* "traceparent: " + the 55 characters of its value */
			a[n++] = glass_attr_str("glass.traceparent", c->tp_hdr + 13, 55);
		c->tp_sent = 0;
	}
	if (r->host[0] && server)
		a[n++] = glass_attr_str("server.address", r->host, strlen(r->host));
	n += tls_attrs(c, a + n, "http");
	/* headers the policy allows: http.request.header.<name> */
	char hkeys[GLASS_HTTP_EXTRA_MAX][GLASS_HTTP_EXTRA_NAME_MAX + 24];
	for (unsigned i = 0; i < http_cfg.nextra && i < GLASS_HTTP_EXTRA_MAX; i++) {
		if (!r->extra[i][0] || n >= sizeof(a) / sizeof(a[0]))
			continue;
		snprintf(hkeys[i], sizeof(hkeys[i]), "http.request.header.%s", http_cfg.extra[i]);
		a[n++] = glass_attr_str(hkeys[i], r->extra[i], strlen(r->extra[i]));
	}
	uint64_t op = glass_cap_begin(server ? GLASS_OP_HTTP_SERVER : GLASS_OP_HTTP_CLIENT, name,
				      nl > 0 ? (size_t)nl : 0, a, n, start);
	if (op) {
		c->owner = &T;
		glass_http_set_user(&c->u.http, r->seq, op);
	}
}

static void http_response_end(struct conn *c, int aborted)
{
	struct glass_http_response *r = &c->u.http.response;
	if (!r->paired || !r->user)
		return;
	if (c->owner != &T) {
		COUNT(n_foreign_thread);
		return;
	}
	int server = c->role == R_SERVER;
	if (server && glass_cap.propagate)
		glass_prop_server_end();
	if (r->user == UNSAMPLED) {
		glass_cap_resume();
		return;
	}
	struct glass_op_attr a[6];
	size_t n = 0;
	unsigned st = GLASS_OP_OK;
	if (aborted && !server && c->resp_status) {
		/* the client had its answer and closed without reading the whole body: normal */
		a[n++] = glass_attr_int("http.response.status_code", c->resp_status);
		a[n++] = glass_attr_bool("glass.http.body_unread", 1);
		if (c->resp_status >= 400) {
			char code[8];
			int cl = snprintf(code, sizeof(code), "%u", c->resp_status);
			a[n++] = glass_attr_str("error.type", code, (size_t)cl);
			st = GLASS_OP_ERROR;
		}
	} else if (aborted) {
		const char *msg = server ? "connection closed before the response ended"
					 : "connection closed before the response came";
		a[n++] = glass_attr_str("error.type", "aborted", 7);
		a[n++] = glass_attr_str("error.message", msg, strlen(msg));
		if (c->resp_status)
			a[n++] = glass_attr_int("http.response.status_code", c->resp_status);
		st = GLASS_OP_ERROR;
	} else {
		a[n++] = glass_attr_int("http.response.status_code", r->status);
		a[n++] = glass_attr_int("http.response.body.size", (int64_t)r->body_bytes);
		if (r->status >= (server ? 500 : 400)) {
			char code[8];
			int cl = snprintf(code, sizeof(code), "%u", r->status);
			a[n++] = glass_attr_str("error.type", code, (size_t)cl);
			st = GLASS_OP_ERROR;
		}
	}
	a[n++] = glass_attr_int("http.request.body.size", (int64_t)c->req_body);
	glass_cap_end(r->user, st, NULL, 0, a, n);
}

static void http_feed(struct conn *c, int dir, const void *buf, size_t len, uint64_t t_before,
		      uint64_t t_after)
{
	size_t off = 0;
	while (off < len) {
		unsigned ev = 0;
		off += glass_http_feed(&c->u.http, dir, (const char *)buf + off, len - off, &ev);
		if (ev & GLASS_HTTP_REQUEST_BEGIN)
			c->req_start = c->role == R_SERVER ? t_after : t_before;
		if (ev & GLASS_HTTP_REQUEST_HEAD) {
			c->resp_status = 0;
			http_request_head(c, c->req_start);
		}
		if ((ev & GLASS_HTTP_RESPONSE_HEAD) && !c->u.http.response.interim)
			c->resp_status = c->u.http.response.status;
		if (ev & GLASS_HTTP_REQUEST_END)
			c->req_body = c->u.http.request.body_bytes;
		if (ev & GLASS_HTTP_RESPONSE_END)
			http_response_end(c, 0);
		if (ev & GLASS_HTTP_GAVE_UP) {
			COUNT(n_gave_up);
			c->proto = P_OTHER;
			return;
		}
		if (!ev && off < len)
			break;
	}
}

/* ---- MongoDB ------------------------------------------------------------------------------- */

static void mongo_request(struct conn *c, uint64_t start)
{
	struct glass_mongo_msg *m = &c->u.mongo.dir[GLASS_MONGO_REQUESTS].msg;
	if (m->opcode == 2012) /* OP_COMPRESSED: what it carries is not read */
		return;
	char name[GLASS_MONGO_NAME_MAX + GLASS_MONGO_COLLECTION_MAX + 2];
	const char *cmd = m->command[0] ? m->command : (m->opcode == 2004 ? "query" : "command");
	int nl = m->collection[0] ? snprintf(name, sizeof(name), "%s %s", cmd, m->collection)
				  : snprintf(name, sizeof(name), "%s", cmd);
	struct glass_op_attr a[12];
	size_t n = 0;
	a[n++] = glass_attr_str("db.system", "mongodb", 7);
	a[n++] = glass_attr_str("db.operation", cmd, strlen(cmd));
	if (m->db[0])
		a[n++] = glass_attr_str("db.name", m->db, strlen(m->db));
	if (m->collection[0])
		a[n++] = glass_attr_str("db.mongodb.collection", m->collection,
					strlen(m->collection));
	a[n++] = glass_attr_str("db.statement", name, nl > 0 ? (size_t)nl : 0);
	a[n++] = glass_attr_str("server.address", c->peer, strlen(c->peer));
	a[n++] = glass_attr_int("server.port", c->peer_port);
	if (m->sequence_docs)
		a[n++] = glass_attr_int("glass.mongodb.documents_sent", m->sequence_docs);
	a[n++] = glass_attr_bool("glass.leaf", 1);
	n += tls_attrs(c, a + n, "mongodb");
	uint64_t op = glass_cap_begin(GLASS_OP_DB, name, nl > 0 ? (size_t)nl : 0, a, n, start);
	if (!op)
		return;
	c->owner = &T;
	if (m->opcode == 2013 && (m->flags & GLASS_MONGO_MSG_MORE_TO_COME))
		glass_cap_end(op, GLASS_OP_OK, NULL, 0, NULL, 0); /* no reply will come */
	else
		glass_mongo_set_user(&c->u.mongo, m->request_id, op);
}

static void mongo_reply(struct conn *c)
{
	struct glass_mongo_msg *m = &c->u.mongo.dir[GLASS_MONGO_REPLIES].msg;
	if (!m->paired || !m->user)
		return;
	if (c->owner != &T) {
		COUNT(n_foreign_thread);
		return;
	}
	struct glass_op_attr a[6];
	size_t n = 0;
	unsigned st = GLASS_OP_OK;
	int64_t docs = m->has_batch ? m->batch_docs : m->opcode == 1 ? (int64_t)m->documents : -1;
	if (docs >= 0)
		a[n++] = glass_attr_int("db.response.returned_rows", docs);
	if (m->has_n)
		a[n++] = glass_attr_int("db.response.affected_rows", m->n);
	if ((m->has_ok && m->ok == 0) || m->write_errors || (m->opcode == 1 && m->errmsg[0])) {
		st = GLASS_OP_ERROR;
		char code[16];
		int cl = snprintf(code, sizeof(code), "%d", m->has_code ? m->code : 0);
		a[n++] = glass_attr_str("db.response.status_code", code, (size_t)cl);
		a[n++] = glass_attr_str("error.type", m->write_errors ? "WriteError" : "OperationFailure",
					m->write_errors ? 10 : 16);
		if (m->errmsg[0])
			a[n++] = glass_attr_str("error.message", m->errmsg, strlen(m->errmsg));
	}
	glass_cap_end(m->user, st, NULL, 0, a, n);
}

static void mongo_feed(struct conn *c, int dir, const void *buf, size_t len, uint64_t t_before)
{
	size_t off = 0;
	while (off < len) {
		enum glass_mongo_event ev = 0;
		off += glass_mongo_feed(&c->u.mongo, dir, (const char *)buf + off, len - off, &ev);
		if (ev == GLASS_MONGO_REQUEST)
			mongo_request(c, t_before);
		else if (ev == GLASS_MONGO_REPLY)
			mongo_reply(c);
		else if (ev == GLASS_MONGO_GAVE_UP) {
			COUNT(n_gave_up);
			c->proto = P_OTHER;
			return;
		} else if (off < len && !ev) {
			break;
		}
	}
}

/* ---- Redis --------------------------------------------------------------------------------- */

static void resp_request(struct conn *c, uint64_t start)
{
	struct glass_resp_request *r = &c->u.resp.request;
	char stmt[GLASS_RESP_NAME_MAX + 64];
	size_t sl = strnlen(r->name, sizeof(r->name));
	memcpy(stmt, r->name, sl);
	/* the arguments' values are never recorded: one ? each, up to 16 */
	uint32_t words = 0;
	for (const char *p = r->name; *p; p++)
		words += *p == ' ';
	for (uint32_t i = words + 1; i < r->argc && i <= 16 + words && sl + 2 < sizeof(stmt); i++) {
		stmt[sl++] = ' ';
		stmt[sl++] = '?';
	}
	if (r->argc > 17 + words && sl + 4 < sizeof(stmt)) {
		memcpy(stmt + sl, " ...", 4);
		sl += 4;
	}
	struct glass_op_attr a[11];
	size_t n = 0;
	a[n++] = glass_attr_str("db.system", "redis", 5);
	a[n++] = glass_attr_str("db.operation", r->name, strnlen(r->name, sizeof(r->name)));
	a[n++] = glass_attr_str("db.statement", stmt, sl);
	a[n++] = glass_attr_int("glass.redis.keys", r->nkeys);
	a[n++] = glass_attr_str("server.address", c->peer, strlen(c->peer));
	a[n++] = glass_attr_int("server.port", c->peer_port);
	a[n++] = glass_attr_bool("glass.leaf", 1);
	n += tls_attrs(c, a + n, "redis");
	uint64_t op = glass_cap_begin(GLASS_OP_DB, r->name, strnlen(r->name, sizeof(r->name)), a,
				      n, start);
	if (op) {
		c->owner = &T;
		glass_resp_set_user(&c->u.resp, r->seq, op);
	}
}

static void resp_reply(struct conn *c)
{
	struct glass_resp_reply *r = &c->u.resp.reply;
	if (!r->paired || !r->user)
		return;
	if (c->owner != &T) {
		COUNT(n_foreign_thread);
		return;
	}
	struct glass_op_attr a[3];
	size_t n = 0;
	if (r->is_error) {
		size_t el = strnlen(r->error, sizeof(r->error)), tl = 0;
		while (tl < el && r->error[tl] != ' ')
			tl++;
		a[n++] = glass_attr_str("error.type", r->error, tl);
		a[n++] = glass_attr_str("error.message", r->error, el);
	} else if (r->type == '*' || r->type == '~' || r->type == '%') {
		a[n++] = glass_attr_int("db.response.returned_rows", r->is_null ? 0 : r->value);
	}
	glass_cap_end(r->user, r->is_error ? GLASS_OP_ERROR : GLASS_OP_OK, NULL, 0, a, n);
}

static void resp_feed(struct conn *c, int dir, const void *buf, size_t len, uint64_t t_before)
{
	size_t off = 0;
	while (off < len) {
		enum glass_resp_event ev = GLASS_RESP_NONE;
		off += glass_resp_feed(&c->u.resp, dir, (const char *)buf + off, len - off, &ev);
		if (ev == GLASS_RESP_REQUEST)
			resp_request(c, t_before);
		else if (ev == GLASS_RESP_REPLY)
			resp_reply(c);
		else if (ev == GLASS_RESP_GAVE_UP) {
			COUNT(n_gave_up);
			c->proto = P_OTHER;
			return;
		} else if (ev == GLASS_RESP_NONE && off < len) {
			break;
		}
	}
}

/* ---- waits, connects, lookups ---------------------------------------------------------------- */

/* Nanoseconds a TSC tick, from the clocks read at start and now (close enough for a
 * threshold); kept once 50 ms have passed, so a wait costs no clock read after that. */
static double ns_per_tick(uint64_t ticks)
{
	static uint64_t kept; /* the double's bits; 0 until known */
	uint64_t bits = __atomic_load_n(&kept, __ATOMIC_RELAXED);
	double r;
	if (bits) {
		memcpy(&r, &bits, sizeof(r));
		return r;
	}
	uint64_t dt = glass_mono_ns() - G.start_mono, dk = ticks - G.start_ticks;
	if (!dt || !dk || ticks < G.start_ticks)
		return 0;
	r = (double)dt / (double)dk;
	if (dt >= 50 * 1000 * 1000) { /* any thread's value is as good as another's */
		memcpy(&bits, &r, sizeof(bits));
		__atomic_store_n(&kept, bits, __ATOMIC_RELAXED);
	}
	return r;
}

/* A wait on a socket whose protocol we do not follow, long enough to matter: a net span. */
static void net_wait(struct conn *c, const char *what, uint64_t t0, ssize_t n, int err)
{
	if (!glass_cap.on[GLASS_CAP_NET] || T.cap_depth || c->role != R_CLIENT)
		return;
	uint64_t t1 = glass_cap_now();
	uint64_t ns = G.use_tsc ? (uint64_t)((double)(t1 - t0) * ns_per_tick(t1)) : t1 - t0;
	if (ns < glass_cap.net_min_ns)
		return;
	char name[80];
	int nl = snprintf(name, sizeof(name), "%s %s:%u", what, c->peer, c->peer_port);
	struct glass_op_attr a[6];
	size_t k = 0;
	a[k++] = glass_attr_str("network.operation", what, strlen(what));
	a[k++] = glass_attr_str("server.address", c->peer, strlen(c->peer));
	a[k++] = glass_attr_int("server.port", c->peer_port);
	if (n >= 0)
		a[k++] = glass_attr_int("network.io.bytes", n);
	if (n < 0) {
		const char *e = strerrorname_np(err);
		a[k++] = glass_attr_str("error.type", e ? e : "error", e ? strlen(e) : 5);
	}
	uint64_t op = glass_cap_begin(GLASS_OP_NET, name, nl > 0 ? (size_t)nl : 0, NULL, 0, t0);
	glass_cap_end(op, n < 0 ? GLASS_OP_ERROR : GLASS_OP_OK, NULL, 0, a, k);
}

/* A non-blocking connect's outcome is known (SO_ERROR read, or the socket used): err 0 is a
 * connection made. */
static void connect_done(struct conn *c, int err)
{
	uint64_t op = c->connect_op;
	c->connect_op = 0;
	if (!op || c->owner != &T)
		return;
	struct glass_op_attr a[5];
	size_t n = 0;
	a[n++] = glass_attr_str("network.operation", "connect", 7);
	a[n++] = glass_attr_str("server.address", c->peer, strlen(c->peer));
	a[n++] = glass_attr_int("server.port", c->peer_port);
	if (err) {
		const char *e = strerrorname_np(err);
		a[n++] = glass_attr_str("error.type", e ? e : "error", e ? strlen(e) : 5);
		const char *m = strerror(err);
		a[n++] = glass_attr_str("error.message", m, strlen(m));
	}
	glass_cap_end(op, err ? GLASS_OP_ERROR : GLASS_OP_OK, NULL, 0, a, n);
}

static void tls_h2_end(struct conn *c);

static void conn_finish(struct conn *c)
{
	if (c->tls == 2)
		tls_h2_end(c);
	if (c->connect_op)
		connect_done(c, 0);
	if (c->proto != P_HTTP)
		return;
	unsigned ev;
	while (glass_http_close(&c->u.http, &ev)) {
		if (ev & GLASS_HTTP_RESPONSE_END)
			http_response_end(c, 0);
		if (ev & GLASS_HTTP_ABORTED)
			http_response_end(c, 1);
	}
}

/* Bytes that went out (sending) or came in on c: feed them to the connection's parser. */
static void saw_conn(struct conn *c, int sending, const void *buf, ssize_t n, uint64_t t0, int err)
{
	if (c->connect_op)
		connect_done(c, n < 0 && (err == ECONNREFUSED || err == ETIMEDOUT ||
					  err == EHOSTUNREACH || err == ENETUNREACH)
				    ? err
				    : 0);
	if (n > 0 && c->proto == P_NEW)
		decide(c, sending, buf, (size_t)n);
	uint64_t t1 = 0;
	switch (c->proto) {
	case P_HTTP: {
		int dir = (c->role == R_SERVER) == !sending ? GLASS_HTTP_REQUESTS
							    : GLASS_HTTP_RESPONSES;
		if (n > 0) {
			t1 = c->role == R_SERVER && !sending ? glass_cap_now() : 0;
			http_feed(c, dir, buf, (size_t)n, t0, t1);
		} else if (n == 0 && !sending) {
			conn_finish(c); /* the peer closed */
		}
		break;
	}
	case P_MONGO:
		if (n > 0)
			mongo_feed(c, sending ? GLASS_MONGO_REQUESTS : GLASS_MONGO_REPLIES, buf,
				   (size_t)n, t0);
		break;
	case P_RESP:
		if (n > 0)
			resp_feed(c, sending ? GLASS_RESP_REQUESTS : GLASS_RESP_REPLIES, buf,
				  (size_t)n, t0);
		break;
	default:
		if (n != 0)
			net_wait(c, sending ? "send" : "recv", t0, n, err);
		break;
	}
}

/* Bytes that went through the socket fd itself (send, recv): parsed unless they are TLS
 * ciphertext (the plaintext comes from capture-tls.c). */
static void saw_bytes(int fd, int sending, const void *buf, ssize_t n, uint64_t t0, int err)
{
	struct conn *c = conn_get(fd);
	if (!c)
		return;
	if (!c->tls)
		saw_conn(c, sending, buf, n, t0, err);
	else if (c->connect_op)
		connect_done(c, 0);
	conn_put(c);
}

/* ---- TLS (the plaintext of capture-tls.c) --------------------------------------------------- */

__thread const void *glass_tls_pending __attribute__((tls_model("initial-exec")));

/* c becomes the TLS connection of ssl: what it parsed of any earlier bytes is ended; its
 * parsers start afresh on the plaintext. The role (connect or accept) is kept. */
static void tls_attach(struct conn *c, const void *ssl)
{
	if (c->ssl == ssl && c->tls)
		return;
	conn_finish(c);
	c->tls = 1;
	c->tls_described = 0;
	c->tls_version[0] = 0;
	c->ssl = ssl;
	c->tls_out = c->tls_in = c->tls_start = 0;
	c->proto = P_NEW;
	c->resp_status = 0;
}

void glass_net_tls_bind(int fd, const void *ssl)
{
	struct conn *c = conn_get(fd);
	if (!c)
		return;
	tls_attach(c, ssl);
	conn_put(c);
}

/* h2 over TLS is not parsed: one net span for the connection's life, with its bytes. */
static void tls_h2_end(struct conn *c)
{
	if (c->tls != 2 || !c->tls_start)
		return;
	uint64_t start = c->tls_start;
	c->tls_start = 0;
	if (!glass_cap.on[GLASS_CAP_NET])
		return;
	if (c->owner != &T) {
		COUNT(n_foreign_thread);
		return;
	}
	char name[80];
	int nl = snprintf(name, sizeof(name), "h2 %s:%u", c->peer, c->peer_port);
	struct glass_op_attr a[9];
	size_t k = 0;
	a[k++] = glass_attr_str("network.protocol.name", "http", 4);
	a[k++] = glass_attr_str("network.protocol.version", "2", 1);
	a[k++] = glass_attr_bool("glass.tls", 1);
	if (c->tls_version[0])
		a[k++] = glass_attr_str("tls.protocol.version", c->tls_version,
					strlen(c->tls_version));
	a[k++] = glass_attr_str("tls.next_protocol", "h2", 2);
	a[k++] = glass_attr_str(c->role == R_SERVER ? "client.address" : "server.address", c->peer,
				strlen(c->peer));
	a[k++] = glass_attr_int(c->role == R_SERVER ? "client.port" : "server.port", c->peer_port);
	a[k++] = glass_attr_int("glass.net.bytes_sent", (int64_t)c->tls_out);
	a[k++] = glass_attr_int("glass.net.bytes_received", (int64_t)c->tls_in);
	uint64_t op = glass_cap_begin(GLASS_OP_NET, name, nl > 0 ? (size_t)nl : 0, NULL, 0, start);
	glass_cap_end(op, GLASS_OP_OK, NULL, 0, a, k);
}

void glass_net_tls_bytes(int fd, const void *ssl, glass_tls_describe_fn describe, int sending,
			 const void *buf, ssize_t n, uint64_t t0, int err)
{
	struct conn *c = conn_get(fd);
	if (!c)
		return;
	if (c->ssl != ssl || !c->tls)
		tls_attach(c, ssl);
	if (!c->tls_described && n > 0) {
		struct glass_tls_desc d = {{0}, 0};
		describe(ssl, &d);
		memcpy(c->tls_version, d.version, sizeof(c->tls_version));
		c->tls_version[sizeof(c->tls_version) - 1] = 0;
		c->tls_described = 1;
		if (d.h2) {
			c->tls = 2;
			c->proto = P_OTHER;
			if (c->role == R_UNKNOWN)
				c->role = sending ? R_CLIENT : R_SERVER;
		}
	}
	if (c->tls == 2) {
		if (n > 0) {
			if (!c->tls_start) {
				c->tls_start = t0;
				c->owner = &T;
			}
			*(sending ? &c->tls_out : &c->tls_in) += (uint64_t)n;
		} else if (n == 0) {
			tls_h2_end(c);
		}
	} else {
		saw_conn(c, sending, buf, n, t0, err);
	}
	conn_put(c);
}

void glass_net_tls_end(int fd, const void *ssl)
{
	struct conn **t = __atomic_load_n(&fdtab, __ATOMIC_ACQUIRE);
	if (!t || fd < 0 || fd >= NET_MAX_FD)
		return;
	struct conn *p = __atomic_load_n(&t[fd], __ATOMIC_ACQUIRE);
	if (!p || p == IGNORED || p->ssl != ssl)
		return;
	struct conn *c = conn_get(fd);
	if (!c)
		return;
	if (c->ssl == ssl) {
		tls_h2_end(c);
		conn_finish(c);
		c->ssl = NULL;
		c->proto = P_OTHER; /* what still crosses the socket is ciphertext (close_notify) */
	}
	conn_put(c);
}

/* A memory-BIO TLS connection (asyncio's SSLObject: uvicorn, httpx's async client) has no
 * fd: its handshake marks the thread (glass_tls_pending), and the socket that carries the
 * next TLS record sent on this thread is its own. */
static void tls_pending_send(int fd, const void *buf, ssize_t n)
{
	const uint8_t *p = buf;
	const void *ssl = glass_tls_pending;
	if (n < 5 || p[0] != 0x16 || p[1] != 3) /* a TLS handshake record */
		return;
	glass_tls_pending = NULL;
	struct conn *c = conn_get(fd);
	if (!c)
		return;
	if (!c->tls) {
		tls_attach(c, ssl);
		glass_tls_bound(ssl, fd);
	}
	conn_put(c);
}

/* ---- trace context sent out (propagate_context) -------------------------------------------- */

/* Could a write on c begin a request that should carry a traceparent? */
static int prop_ready(const struct conn *c)
{
	return c->role != R_SERVER && T.epoch == G.epoch && !T.guard &&
	       (c->proto == P_NEW ||
		(c->proto == P_HTTP && glass_http_request_idle(&c->u.http)));
}

/* The program's write of buf through w, with a traceparent when it begins a request. */
static ssize_t prop_write(struct conn *c, const void *buf, size_t len, glass_inject_write_fn w,
			  void *wctx)
{
	enum glass_inject_why why;
	size_t at = glass_inject_point(buf, len, &why);
	if (!at) {
		if (why == GLASS_INJECT_SPLIT_HEAD)
			COUNT(n_prop_skipped);
		c->tp_pending = 0;
		return w(wctx, buf, len, 0);
	}
	if (!c->tp_pending) {
		uint64_t hi, lo, span;
		glass_prop_ids(&hi, &lo, &span);
		glass_inject_header(c->tp_hdr, hi, lo, span);
		c->tp_pending = 1;
	}
	char scratch[8192]; /* a larger request goes out head first (a partial write) */
	enum glass_inject_outcome oc;
	ssize_t n = glass_inject_write(w, wctx, buf, len, at, c->tp_hdr, GLASS_INJECT_HEADER_LEN,
				       scratch, sizeof(scratch), &oc);
	int saved = errno;
	if (oc == GLASS_INJECTED) {
		c->tp_pending = 0;
		c->tp_sent = 1;
		COUNT(n_prop_sent);
	} else if (oc == GLASS_INJECT_BROKEN) {
		c->tp_pending = 0;
		COUNT(n_prop_broken);
	} else if (oc == GLASS_INJECT_TOO_BIG || n > 0) {
		c->tp_pending = 0; /* went out without it (the rest of a cut request line next) */
		COUNT(n_prop_skipped);
	} /* else nothing went out: a retry brings the same bytes, and gets the same header */
	errno = saved;
	return n;
}

struct sock_io {
	int fd, flags;
	send_fn real;
};

static ssize_t sock_write(void *ctx, const void *buf, size_t len, int finish)
{
	struct sock_io *io = ctx;
	if (!finish)
		return io->real(io->fd, buf, len, io->flags);
	/* the header is partly out: the rest goes before anything else, even on a non-blocking
	 * socket (waiting for room); errno stays what the program's write left */
	int saved = errno;
	ssize_t k;
	for (;;) {
		k = io->real(io->fd, buf, len, io->flags);
		if (k >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			break;
		if (errno != EINTR) {
			struct pollfd p = {io->fd, POLLOUT, 0};
			if (poll(&p, 1, 10000) <= 0)
				break;
		}
	}
	errno = saved;
	return k;
}

/* send() of what may be a request head, with propagate_context on. */
static ssize_t send_ctx(int fd, const void *buf, size_t len, int flags, send_fn real)
{
	uint64_t t0 = glass_cap_now();
	struct conn *c = conn_get(fd);
	ssize_t n;
	if (c && !c->tls && prop_ready(c)) {
		struct sock_io io = {fd, flags, real};
		n = prop_write(c, buf, len, sock_write, &io);
	} else {
		n = real(fd, buf, len, flags);
	}
	int saved = errno;
	if (c) {
		if (!c->tls)
			saw_conn(c, 1, buf, n, t0, saved);
		conn_put(c);
	}
	errno = saved;
	return n;
}

int glass_net_tls_write_ctx(int fd, const void *ssl, glass_tls_describe_fn describe,
			    const void *buf, size_t len,
			    ssize_t (*w)(void *ctx, const void *buf, size_t len, int finish),
			    void *wctx, uint64_t t0, ssize_t *ret)
{
	struct conn *c = conn_get(fd);
	if (!c)
		return 0;
	if (c->ssl != ssl || !c->tls)
		tls_attach(c, ssl);
	if (c->tls != 1 || !prop_ready(c)) {
		conn_put(c);
		return 0;
	}
	ssize_t n = prop_write(c, buf, len, w, wctx);
	int saved = errno;
	if (n > 0) {
		if (!c->tls_described) {
			struct glass_tls_desc d = {{0}, 0};
			describe(ssl, &d);
			memcpy(c->tls_version, d.version, sizeof(c->tls_version));
			c->tls_version[sizeof(c->tls_version) - 1] = 0;
			c->tls_described = 1;
		}
		saw_conn(c, 1, buf, n, t0, saved);
	}
	conn_put(c);
	errno = saved;
	*ret = n;
	return 1;
}

/* ---- the wrappers -------------------------------------------------------------------------- */

static int capturing_sockets(void)
{
	return tracing() && glass_cap.sockets;
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	send_fn real = get_send();
	if (!capturing_sockets())
		return real(fd, buf, len, flags);
	if (GLASS_UNLIKELY(glass_cap.propagate) && len > 16 && ((const char *)buf)[0] >= 'A' &&
	    ((const char *)buf)[0] <= 'Z')
		return send_ctx(fd, buf, len, flags, real);
	uint64_t t0 = glass_cap_now();
	ssize_t n = real(fd, buf, len, flags);
	int saved = errno;
	if (glass_tls_pending)
		tls_pending_send(fd, buf, n);
	saw_bytes(fd, 1, buf, n, t0, saved);
	errno = saved;
	return n;
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
		      const struct sockaddr *to, socklen_t tolen)
{
	sendto_fn real = get_sendto();
	if (!capturing_sockets() || to)
		return real(fd, buf, len, flags, to, tolen);
	uint64_t t0 = glass_cap_now();
	ssize_t n = real(fd, buf, len, flags, to, tolen);
	int saved = errno;
	if (glass_tls_pending)
		tls_pending_send(fd, buf, n);
	saw_bytes(fd, 1, buf, n, t0, saved);
	errno = saved;
	return n;
}

EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	recv_fn real = get_recv();
	if (!capturing_sockets() || (flags & MSG_PEEK))
		return real(fd, buf, len, flags);
	uint64_t t0 = glass_cap_now();
	ssize_t n = real(fd, buf, len, flags);
	int saved = errno;
	if (!(n < 0 && (saved == EAGAIN || saved == EWOULDBLOCK || saved == EINTR)))
		saw_bytes(fd, 0, buf, n, t0, saved);
	errno = saved;
	return n;
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
			socklen_t *fromlen)
{
	recvfrom_fn real = get_recvfrom();
	if (!capturing_sockets() || (flags & MSG_PEEK))
		return real(fd, buf, len, flags, from, fromlen);
	uint64_t t0 = glass_cap_now();
	ssize_t n = real(fd, buf, len, flags, from, fromlen);
	int saved = errno;
	if (!(n < 0 && (saved == EAGAIN || saved == EWOULDBLOCK || saved == EINTR)))
		saw_bytes(fd, 0, buf, n, t0, saved);
	errno = saved;
	return n;
}

static void after_accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	if (fd < 0 || !capturing_sockets())
		return;
	int saved = errno;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const struct sockaddr *peer = NULL;
	if (addr && alen && *alen >= sizeof(struct sockaddr_in) && is_inet(addr))
		peer = addr;
	else if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
		 is_inet((struct sockaddr *)&ss))
		peer = (struct sockaddr *)&ss;
	if (peer)
		conn_new(fd, R_SERVER, peer);
	else if (table() && fd < NET_MAX_FD)
		__atomic_store_n(&fdtab[fd], IGNORED, __ATOMIC_RELEASE);
	errno = saved;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	int r = get_accept()(fd, addr, alen);
	after_accept(r, addr, alen);
	return r;
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	int r = get_accept4()(fd, addr, alen, flags);
	after_accept(r, addr, alen);
	return r;
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
	connect_fn real = get_connect();
	if (!capturing_sockets() || !is_inet(addr))
		return real(fd, addr, alen);
	uint64_t t0 = glass_cap_now();
	int r = real(fd, addr, alen);
	int saved = errno;
	int type = 0;
	socklen_t tl = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM) {
		struct conn *c = conn_new(fd, R_CLIENT, addr);
		if (c && glass_cap.on[GLASS_CAP_NET]) {
			char name[80];
			int nl = snprintf(name, sizeof(name), "connect %s:%u", c->peer, c->peer_port);
			struct glass_op_attr a[6];
			size_t n = 0;
			a[n++] = glass_attr_str("network.operation", "connect", 7);
			a[n++] = glass_attr_str("server.address", c->peer, strlen(c->peer));
			a[n++] = glass_attr_int("server.port", c->peer_port);
			int pending = r < 0 && (saved == EINPROGRESS || saved == EINTR);
			int failed = r < 0 && !pending;
			if (failed) {
				const char *e = strerrorname_np(saved);
				a[n++] = glass_attr_str("error.type", e ? e : "error",
							e ? strlen(e) : 5);
				const char *m = strerror(saved);
				a[n++] = glass_attr_str("error.message", m, strlen(m));
			}
			/* non-blocking: the span stays open until the outcome is read (SO_ERROR)
			 * or the socket is used */
			struct glass_op_attr leaf = glass_attr_bool("glass.leaf", 1);
			uint64_t op = glass_cap_begin(GLASS_OP_NET, name, nl > 0 ? (size_t)nl : 0,
						      pending ? &leaf : NULL, pending ? 1 : 0, t0);
			if (pending && op) {
				c->connect_op = op;
				c->owner = &T;
			} else {
				glass_cap_end(op, failed ? GLASS_OP_ERROR : GLASS_OP_OK, NULL, 0, a, n);
			}
		}
	} else if (table() && fd >= 0 && fd < NET_MAX_FD) {
		__atomic_store_n(&fdtab[fd], IGNORED, __ATOMIC_RELEASE);
	}
	errno = saved;
	return r;
}

EXPORT int close(int fd)
{
	close_fn real = get_close();
	struct conn **t = __atomic_load_n(&fdtab, __ATOMIC_ACQUIRE);
	if (!t || fd < 0 || fd >= NET_MAX_FD || !__atomic_load_n(&t[fd], __ATOMIC_RELAXED))
		return real(fd);
	struct conn *c = __atomic_exchange_n(&t[fd], NULL, __ATOMIC_ACQ_REL);
	if (c && c != IGNORED) {
		int saved = errno;
		if (!__atomic_exchange_n(&c->busy, 1, __ATOMIC_ACQUIRE)) {
			if (tracing())
				conn_finish(c);
			slot_free(c);
		} /* else: in use by another thread right now; its slot stays taken (counted) */
		else
			COUNT(n_busy);
		errno = saved;
	}
	return real(fd);
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int r = get_getsockopt()(fd, level, name, val, len);
	if (r == 0 && level == SOL_SOCKET && name == SO_ERROR && val && len &&
	    *len >= sizeof(int) && tracing()) {
		struct conn **t = __atomic_load_n(&fdtab, __ATOMIC_ACQUIRE);
		struct conn *c = t && fd >= 0 && fd < NET_MAX_FD ? t[fd] : NULL;
		if (c && c != IGNORED && c->connect_op) {
			int saved = errno;
			c = conn_get(fd);
			if (c) {
				connect_done(c, *(int *)val);
				conn_put(c);
			}
			errno = saved;
		}
	}
	return r;
}

EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	getaddrinfo_fn real = get_getaddrinfo();
	if (!tracing() || !glass_cap.on[GLASS_CAP_NET] || !node)
		return real(node, service, hints, res);
	unsigned char addr[sizeof(struct in6_addr)];
	int saved0 = errno;
	int numeric = inet_pton(AF_INET, node, addr) == 1 || inet_pton(AF_INET6, node, addr) == 1;
	errno = saved0;
	if (numeric) /* no lookup happens: nothing to time */
		return real(node, service, hints, res);
	uint64_t t0 = glass_cap_now();
	int r = real(node, service, hints, res);
	int saved = errno;
	char name[300];
	int nl = snprintf(name, sizeof(name), "dns %s", node);
	struct glass_op_attr a[4];
	size_t n = 0;
	a[n++] = glass_attr_str("network.operation", "dns", 3);
	a[n++] = glass_attr_str("dns.question.name", node, strnlen(node, 255));
	if (r != 0) {
		const char *e = gai_strerror(r);
		a[n++] = glass_attr_str("error.type", "gaierror", 8);
		a[n++] = glass_attr_str("error.message", e ? e : "", e ? strlen(e) : 0);
	}
	uint64_t op = glass_cap_begin(GLASS_OP_NET, name, nl > 0 ? (size_t)nl : 0, NULL, 0, t0);
	glass_cap_end(op, r ? GLASS_OP_ERROR : GLASS_OP_OK, NULL, 0, a, n);
	errno = saved;
	return r;
}
