/* preload/proto-inject.h — inserting a W3C traceparent header into an outgoing HTTP/1.x
 * request head, and writing it so that the program sees exactly what it would have seen.
 * Pure functions over buffers and a write callback (no socket, no global state): the socket
 * and TLS hooks (capture-net.c, capture-tls.c) and the fuzzer (tests/fuzz/fuzz-inject.c) use
 * them alike. Hidden inside libglass.so.
 */
#ifndef GLASS_PROTO_INJECT_H
#define GLASS_PROTO_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* "traceparent: 00-<32 hex>-<16 hex>-01\r\n" */
#define GLASS_INJECT_HEADER_LEN 70

/* Why a request was left alone (glass_inject_point's answer when it returns 0). */
enum glass_inject_why {
	GLASS_INJECT_OK = 0,
	GLASS_INJECT_NOT_REQUEST, /* the bytes do not begin with an HTTP/1.x request line */
	GLASS_INJECT_SPLIT_HEAD,  /* the head does not end in this write (it goes out in several) */
	GLASS_INJECT_HAS_HEADER,  /* the request carries its own traceparent: it keeps it */
};

/*
 * Where the header goes in buf[0, len), the first write of a request: the length of the
 * request line with its CRLF when the whole head (up to the blank line) is in buf, it is an
 * HTTP/1.0 or 1.1 request and it has no traceparent header; else 0 and *why says why.
 */
size_t glass_inject_point(const char *buf, size_t len, enum glass_inject_why *why);

/* Writes the header line for trace id (hi, lo) and parent span id into out (at least
 * GLASS_INJECT_HEADER_LEN bytes); returns GLASS_INJECT_HEADER_LEN. */
size_t glass_inject_header(char *out, uint64_t trace_hi, uint64_t trace_lo, uint64_t span);

/*
 * The write callback: writes buf[0, len) as the program's call would (send, SSL_write), or,
 * with `finish` set, must not give up on would-block (it waits for the socket and retries: the
 * header is already partly out). Returns bytes written or -1 (errno or the library's error set).
 */
typedef ssize_t (*glass_inject_write_fn)(void *ctx, const void *buf, size_t len, int finish);

/* How an injected write went (for the counters and the span's attributes). */
enum glass_inject_outcome {
	GLASS_INJECTED,	     /* the header went out whole, with the bytes before it */
	GLASS_INJECT_NOT_YET, /* the write ended before the header (or failed): nothing of it out */
	GLASS_INJECT_BROKEN, /* the header went out in part and the rest could not be written */
	GLASS_INJECT_TOO_BIG, /* the head does not fit the scratch buffer: written unchanged */
};

/*
 * Writes buf[0, len) with hdr[0, hlen) inserted at `at` (glass_inject_point) through w, and
 * returns what the program's own write of buf would have returned: bytes of buf written, or
 * -1. The bytes go out as buf[0, at) + hdr + buf[at, len), composed in scratch (cap bytes); when
 * they do not fit, only buf[0, head) + hdr is written (head: the head's length; a partial write,
 * which send allows). A write ending inside the header is finished with w(..., finish=1) so the
 * stream stays whole, and the program is told it wrote `at` bytes.
 */
ssize_t glass_inject_write(glass_inject_write_fn w, void *ctx, const char *buf, size_t len,
			   size_t at, const char *hdr, size_t hlen, char *scratch, size_t cap,
			   enum glass_inject_outcome *outcome);

#endif
