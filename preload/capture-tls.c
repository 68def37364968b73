/* preload/capture-tls.c — the plaintext of TLS connections, from OpenSSL (libssl.so.3: Python's
 * _ssl module, and the drivers built on it: requests, httpx, urllib, redis-py, pymongo,
 * uvicorn's TLS).
 *
 * The libssl functions _ssl calls are wrapped: SSL_write, SSL_write_ex, SSL_read, SSL_read_ex,
 * SSL_do_handshake, SSL_shutdown, SSL_free. Each wrapper calls the real function first, with
 * the caller's arguments, and returns what it returned with errno as it left it; OpenSSL's own
 * error queue is only peeked at (SSL_get_error, as the caller will), so SSL_get_error answers
 * the caller as it would have. Only then, when tracing is active and "capture_tls" is on, the
 * bytes that really went through are given to capture-net.c, which parses them with the
 * socket's parsers, keyed by the socket, and stops parsing the ciphertext on that socket.
 *
 * Which socket: an SSL object reading a socket (SSL_set_fd: blocking sockets, requests,
 * urllib, http.server) names it with SSL_get_fd. A memory-BIO one (asyncio's SSLObject:
 * uvicorn, httpx.AsyncClient) has none: its handshake marks the thread, and the socket that
 * carries the next TLS handshake record sent on that thread is its own (capture-net.c). The
 * pairs are kept in a fixed table (mapped once, no malloc); SSL_free forgets them. A full
 * table leaves the connection unparsed and counts it.
 *
 * The real functions are those the caller would have reached (capture-db.c's providers: a
 * wheel can bundle its own libssl copy). _ssl loads libssl without RTLD_GLOBAL, so they are
 * found with dlopen(RTLD_NOLOAD) on first use. A process that is not traced (not Python, or
 * tracing off) only pays the forward.
 */
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>

#include "capture-db.h"
#include "capture.h"
#include "glass.h"

typedef struct ssl_st SSL;

enum {
	F_WRITE,
	F_WRITE_EX,
	F_READ,
	F_READ_EX,
	F_DO_HANDSHAKE,
	F_SHUTDOWN,
	F_FREE,
	F_GET_FD,
	F_GET_ERROR,
	F_GET_VERSION,
	F_GET0_ALPN,
	F_N
};

static const char *const names[F_N] = {
    "SSL_write",       "SSL_write_ex", "SSL_read",	 "SSL_read_ex",
    "SSL_do_handshake", "SSL_shutdown", "SSL_free",	 "SSL_get_fd",
    "SSL_get_error",    "SSL_get_version", "SSL_get0_alpn_selected",
};
static const char *const sonames[] = {"libssl.so.3", "libssl.so.1.1", NULL};
static struct db_lib lib = {.names = names, .nnames = F_N, .sonames = sonames, .driver = "openssl"};

typedef int (*write_fn)(SSL *, const void *, int);
typedef int (*write_ex_fn)(SSL *, const void *, size_t, size_t *);
typedef int (*read_fn)(SSL *, void *, int);
typedef int (*read_ex_fn)(SSL *, void *, size_t, size_t *);
typedef int (*ssl_int_fn)(SSL *);
typedef int (*ssl_cint_fn)(const SSL *);
typedef void (*free_fn)(SSL *);
typedef int (*get_error_fn)(const SSL *, int);
typedef const char *(*get_version_fn)(const SSL *);
typedef void (*get0_alpn_fn)(const SSL *, const unsigned char **, unsigned int *);

#define FN(a, i, type) ((type)(a)->fn[i])

/* SSL_get_error values (ssl.h) */
#define SSL_ERROR_WANT_READ   2
#define SSL_ERROR_WANT_WRITE  3
#define SSL_ERROR_SYSCALL     5
#define SSL_ERROR_ZERO_RETURN 6

static uint64_t n_dropped; /* TLS connections not followed: the table was full */

uint64_t glass_tls_dropped(void)
{
	return __atomic_load_n(&n_dropped, __ATOMIC_RELAXED);
}

static int tls_on(void)
{
	return G.state == GLASS_ACTIVE && glass_cap.tls && glass_cap.sockets;
}

/* ---- SSL object -> socket ---------------------------------------------------------------- */

#define TLS_SLOTS 8192 /* a power of two */
#define TLS_PROBE 32
#define TLS_TOMB  ((uintptr_t)1)

struct tls_slot {
	uintptr_t ssl; /* 0 empty, TLS_TOMB deleted */
	int fd;
};
static struct tls_slot *slots;

static struct tls_slot *table(void)
{
	struct tls_slot *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
	if (t)
		return t;
	int saved = errno;
	void *m = mmap(NULL, TLS_SLOTS * sizeof(*t), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	errno = saved;
	if (m == MAP_FAILED)
		return NULL;
	struct tls_slot *want = NULL;
	if (!__atomic_compare_exchange_n(&slots, &want, (struct tls_slot *)m, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		munmap(m, TLS_SLOTS * sizeof(*t));
		return want;
	}
	return m;
}

static size_t slot_hash(const void *ssl)
{
	uint64_t h = (uint64_t)(uintptr_t)ssl * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 40) & (TLS_SLOTS - 1);
}

/* The socket of ssl as remembered, or -1. */
static int slot_find(const void *ssl)
{
	struct tls_slot *t = table();
	if (!t)
		return -1;
	size_t h = slot_hash(ssl);
	for (int i = 0; i < TLS_PROBE; i++) {
		struct tls_slot *s = &t[(h + (size_t)i) & (TLS_SLOTS - 1)];
		uintptr_t k = __atomic_load_n(&s->ssl, __ATOMIC_ACQUIRE);
		if (k == (uintptr_t)ssl)
			return __atomic_load_n(&s->fd, __ATOMIC_RELAXED);
		if (!k)
			return -1;
	}
	return -1;
}

/* Remembers ssl -> fd (an SSL object is used by one thread at a time). */
static void slot_put(const void *ssl, int fd)
{
	struct tls_slot *t = table();
	if (!t)
		return;
	size_t h = slot_hash(ssl);
	for (int i = 0; i < TLS_PROBE; i++) {
		struct tls_slot *s = &t[(h + (size_t)i) & (TLS_SLOTS - 1)];
		uintptr_t k = __atomic_load_n(&s->ssl, __ATOMIC_ACQUIRE);
		if (k == (uintptr_t)ssl) {
			__atomic_store_n(&s->fd, fd, __ATOMIC_RELAXED);
			return;
		}
		if ((k == 0 || k == TLS_TOMB) &&
		    __atomic_compare_exchange_n(&s->ssl, &k, (uintptr_t)TLS_TOMB + 1, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			/* claimed (2 is never a pointer of ours to find); then published */
			__atomic_store_n(&s->fd, fd, __ATOMIC_RELAXED);
			__atomic_store_n(&s->ssl, (uintptr_t)ssl, __ATOMIC_RELEASE);
			return;
		}
	}
	__atomic_add_fetch(&n_dropped, 1, __ATOMIC_RELAXED);
}

/* Forgets ssl; returns its socket or -1. */
static int slot_drop(const void *ssl)
{
	struct tls_slot *t = __atomic_load_n(&slots, __ATOMIC_ACQUIRE);
	if (!t)
		return -1;
	size_t h = slot_hash(ssl);
	for (int i = 0; i < TLS_PROBE; i++) {
		struct tls_slot *s = &t[(h + (size_t)i) & (TLS_SLOTS - 1)];
		uintptr_t k = __atomic_load_n(&s->ssl, __ATOMIC_ACQUIRE);
		if (k == (uintptr_t)ssl) {
			int fd = s->fd;
			__atomic_store_n(&s->ssl, TLS_TOMB, __ATOMIC_RELEASE);
			return fd;
		}
		if (!k)
			return -1;
	}
	return -1;
}

void glass_tls_bound(const void *ssl, int fd)
{
	slot_put(ssl, fd);
}

/* The socket under ssl, or -1 (a memory BIO whose socket is not known yet: then the thread
 * is marked so that its next handshake record sent names it). */
static int socket_of(const struct db_api *a, SSL *ssl, int handshake)
{
	int fd = slot_find(ssl);
	if (fd >= 0)
		return fd;
	fd = a->fn[F_GET_FD] ? FN(a, F_GET_FD, ssl_cint_fn)(ssl) : -1;
	if (fd >= 0) {
		slot_put(ssl, fd);
		return fd;
	}
	if (handshake)
		glass_tls_pending = ssl;
	return -1;
}

/* The provider of the call being recorded (describe reads ssl with the same library copy). */
static __thread const struct db_api *describe_api __attribute__((tls_model("initial-exec")));

/* What the handshake chose: version ("TLSv1.3" -> "1.3") and whether ALPN said h2. */
static void describe(const void *ssl, struct glass_tls_desc *out)
{
	const struct db_api *a = describe_api;
	if (!a)
		return;
	const char *v = a->fn[F_GET_VERSION] ? FN(a, F_GET_VERSION, get_version_fn)(ssl) : NULL;
	if (v && !strcmp(v, "TLSv1")) {
		memcpy(out->version, "1.0", 4);
	} else if (v && !strncmp(v, "TLSv", 4)) {
		size_t l = strnlen(v + 4, sizeof(out->version) - 1);
		memcpy(out->version, v + 4, l);
		out->version[l] = 0;
	}
	const unsigned char *p = NULL;
	unsigned int l = 0;
	if (a->fn[F_GET0_ALPN])
		FN(a, F_GET0_ALPN, get0_alpn_fn)(ssl, &p, &l);
	out->h2 = p && l == 2 && p[0] == 'h' && p[1] == '2';
}

/* After a read or write of ret (> 0: bytes; else an SSL error) on ssl. */
static void after_io(const struct db_api *a, SSL *ssl, int sending, const void *buf, long ret,
		     uint64_t t0, int err)
{
	int fd = socket_of(a, ssl, 0);
	if (fd < 0)
		return;
	ssize_t n = ret;
	if (ret <= 0) {
		int e = a->fn[F_GET_ERROR] ? FN(a, F_GET_ERROR, get_error_fn)(ssl, (int)ret) : 0;
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return; /* non-blocking: nothing happened yet */
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !err && !sending))
			n = 0; /* the peer closed */
		else
			n = -1;
	}
	describe_api = a;
	glass_net_tls_bytes(fd, ssl, describe, sending, buf, n, t0, err);
	describe_api = NULL;
}

/* ---- trace context into requests written (propagate_context) ------------------------------ */

struct ssl_io {
	const struct db_api *a;
	SSL *ssl;
	int ex;	     /* SSL_write_ex, else SSL_write */
	int last;    /* the real function's last return value */
	int fd;
};

static ssize_t ssl_write_once(struct ssl_io *io, const void *buf, size_t len)
{
	if (io->ex) {
		size_t written = 0;
		io->last = FN(io->a, F_WRITE_EX, write_ex_fn)(io->ssl, buf, len, &written);
		return io->last == 1 ? (ssize_t)written : -1;
	}
	io->last = FN(io->a, F_WRITE, write_fn)(io->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	return io->last > 0 ? io->last : -1;
}

static ssize_t ssl_write(void *ctx, const void *buf, size_t len, int finish)
{
	struct ssl_io *io = ctx;
	if (!finish)
		return ssl_write_once(io, buf, len);
	/* the header is partly out (SSL_MODE_ENABLE_PARTIAL_WRITE): the rest goes first, waiting
	 * for the socket when it would block; what the program's call left stays */
	int saved = errno, last = io->last;
	ssize_t k;
	for (;;) {
		k = ssl_write_once(io, buf, len);
		if (k > 0 || !io->a->fn[F_GET_ERROR])
			break;
		int e = FN(io->a, F_GET_ERROR, get_error_fn)(io->ssl, io->last);
		if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
			break;
		struct pollfd p = {io->fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, 0};
		if (io->fd < 0 || poll(&p, 1, 10000) <= 0)
			break;
	}
	io->last = last;
	errno = saved;
	return k;
}

/* A write that may begin an HTTP request, with propagate_context on: 1 when it was written here
 * (with the program's result in *r), 0 to write as usual. */
static int write_ctx(const struct db_api *a, SSL *ssl, int ex, const void *buf, size_t num,
		     uint64_t t0, ssize_t *n, int *last)
{
	if (num <= 16 || ((const char *)buf)[0] < 'A' || ((const char *)buf)[0] > 'Z')
		return 0;
	int fd = socket_of(a, ssl, 0);
	if (fd < 0)
		return 0;
	struct ssl_io io = {a, ssl, ex, 0, fd};
	describe_api = a;
	int done = glass_net_tls_write_ctx(fd, ssl, describe, buf, num, ssl_write, &io, t0, n);
	describe_api = NULL;
	*last = io.last;
	return done;
}

/* ---- the wrappers -------------------------------------------------------------------------- */

DB_EXPORT int SSL_write(SSL *ssl, const void *buf, int num)
{
	const struct db_api *a = db_api_for(&lib, DB_CALLER);
	write_fn f = a ? FN(a, F_WRITE, write_fn) : NULL;
	if (!f)
		return -1;
	if (!tls_on())
		return f(ssl, buf, num);
	uint64_t t0 = glass_cap_now();
	ssize_t n;
	int last;
	if (GLASS_UNLIKELY(glass_cap.propagate) && num > 0 &&
	    write_ctx(a, ssl, 0, buf, (size_t)num, t0, &n, &last))
		return n > 0 ? (int)n : last;
	int r = f(ssl, buf, num);
	int saved = errno;
	after_io(a, ssl, 1, buf, r, t0, saved);
	errno = saved;
	return r;
}

DB_EXPORT int SSL_write_ex(SSL *ssl, const void *buf, size_t num, size_t *written)
{
	const struct db_api *a = db_api_for(&lib, DB_CALLER);
	write_ex_fn f = a ? FN(a, F_WRITE_EX, write_ex_fn) : NULL;
	if (!f)
		return 0;
	if (!tls_on())
		return f(ssl, buf, num, written);
	uint64_t t0 = glass_cap_now();
	ssize_t n;
	int last;
	if (GLASS_UNLIKELY(glass_cap.propagate) && write_ctx(a, ssl, 1, buf, num, t0, &n, &last)) {
		if (n > 0 && written)
			*written = (size_t)n;
		return n > 0 ? 1 : last;
	}
	int r = f(ssl, buf, num, written);
	int saved = errno;
	after_io(a, ssl, 1, buf, r == 1 && written ? (long)*written : r == 1 ? (long)num : r, t0,
		 saved);
	errno = saved;
	return r;
}

DB_EXPORT int SSL_read(SSL *ssl, void *buf, int num)
{
	const struct db_api *a = db_api_for(&lib, DB_CALLER);
	read_fn f = a ? FN(a, F_READ, read_fn) : NULL;
	if (!f)
		return -1;
	if (!tls_on())
		return f(ssl, buf, num);
	uint64_t t0 = glass_cap_now();
	int r = f(ssl, buf, num);
	int saved = errno;
	after_io(a, ssl, 0, buf, r, t0, saved);
	errno = saved;
	return r;
}

DB_EXPORT int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes)
{
	const struct db_api *a = db_api_for(&lib, DB_CALLER);
	read_ex_fn f = a ? FN(a, F_READ_EX, read_ex_fn) : NULL;
	if (!f)
		return 0;
	if (!tls_on())
		return f(ssl, buf, num, readbytes);
	uint64_t t0 = glass_cap_now();
	int r = f(ssl, buf, num, readbytes);
	int saved = errno;
	if (r != 1 || readbytes) /* (without readbytes, how much came is not known) */
		after_io(a, ssl, 0, buf, r == 1 ? (long)*readbytes : r, t0, saved);
	errno = saved;
	return r;
}

DB_EXPORT int SSL_do_handshake(SSL *ssl)
{
	const struct db_api *a = db_api_for(&lib, DB_CALLER);
	ssl_int_fn f = a ? FN(a, F_DO_HANDSHAKE, ssl_int_fn) : NULL;
	if (!f)
		return -1;
	if (!tls_on())
		return f(ssl);
	int r = f(ssl);
	int saved = errno;
	/* a memory BIO's socket is named by the record this handshake step sends */
	if (slot_find(ssl) < 0 && (!a->fn[F_GET_FD] || FN(a, F_GET_FD, ssl_cint_fn)(ssl) < 0))
		glass_tls_pending = ssl;
	errno = saved;
	return r;
}

DB_EXPORT int SSL_shutdown(SSL *ssl)
{
	const struct db_api *a = db_api_for(&lib, DB_CALLER);
	ssl_int_fn f = a ? FN(a, F_SHUTDOWN, ssl_int_fn) : NULL;
	if (!f)
		return -1;
	int r = f(ssl);
	if (tls_on()) {
		int saved = errno;
		int fd = slot_find(ssl);
		if (fd >= 0)
			glass_net_tls_end(fd, ssl);
		errno = saved;
	}
	return r;
}

DB_EXPORT void SSL_free(SSL *ssl)
{
	const struct db_api *a = db_api_for(&lib, DB_CALLER);
	free_fn f = a ? FN(a, F_FREE, free_fn) : NULL;
	if (!f)
		return;
	int saved = errno;
	/* before the real call: once freed, the address can be a new SSL object's */
	int fd = __atomic_load_n(&slots, __ATOMIC_ACQUIRE) ? slot_drop(ssl) : -1;
	if (glass_tls_pending == ssl)
		glass_tls_pending = NULL;
	if (fd >= 0 && G.state == GLASS_ACTIVE)
		glass_net_tls_end(fd, ssl);
	errno = saved;
	f(ssl);
}
