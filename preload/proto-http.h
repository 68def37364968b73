/* preload/proto-http.h — HTTP/1.x requests and responses seen on a socket, fed in pieces. */
#ifndef GLASS_PROTO_HTTP_H
#define GLASS_PROTO_HTTP_H

#include <stddef.h>
#include <stdint.h>

/*
 * One struct glass_http_conn per connection, owned by the caller (about 1.7 KiB); no malloc, no
 * locks, no syscalls, time linear in the bytes fed. The request stream (client to server) and
 * the response stream are fed separately, in any pieces; a server feeds what it reads as
 * GLASS_HTTP_REQUESTS and what it writes as GLASS_HTTP_RESPONSES, a client the other way round.
 * Each feed call stops after the byte that produced events, so the caller can act on them:
 *
 *	size_t off = 0;
 *	while (off < len) {
 *		unsigned ev;
 *		off += glass_http_feed(c, GLASS_HTTP_REQUESTS, buf + off, len - off, &ev);
 *		if (ev & GLASS_HTTP_REQUEST_BEGIN) ... note the time ...
 *		if (ev & GLASS_HTTP_REQUEST_HEAD) ... c->request ...
 *	}
 *
 * Bodies are framed by Content-Length, chunked encoding, or (responses only) the end of the
 * connection, so the next request on a keep-alive connection is found, pipelined ones too.
 * Responses are paired with requests in order; a response to HEAD, a 1xx, 204 or 304 has no
 * body; 1xx responses are interim (another head follows); 101 and a 2xx to CONNECT turn the
 * connection into a tunnel that is no longer parsed. Only the headers below are looked at;
 * no other header value is ever copied.
 */

#define GLASS_HTTP_METHOD_MAX	   16  /* "OPTIONS", ...: longer methods are not HTTP to us */
#define GLASS_HTTP_TARGET_MAX	   256 /* bytes of the target kept (path + query), NUL excluded */
#define GLASS_HTTP_HOST_MAX	   128
#define GLASS_HTTP_UA_MAX	   64 /* User-Agent: a prefix */
#define GLASS_HTTP_TRACEPARENT_LEN 55 /* 00-<32 hex>-<16 hex>-<2 hex> */
#define GLASS_HTTP_EXTRA_MAX	   4  /* extra request headers the caller may allow */
#define GLASS_HTTP_EXTRA_NAME_MAX  32
#define GLASS_HTTP_EXTRA_VALUE_MAX 64
#define GLASS_HTTP_VALUE_MAX	   128	 /* header value bytes looked at */
#define GLASS_HTTP_HEAD_MAX	   65536 /* request/status line + headers; trailers too */
#define GLASS_HTTP_PIPELINE	   16	 /* requests awaiting their response, remembered */

enum glass_http_dir {
	GLASS_HTTP_REQUESTS = 0,
	GLASS_HTTP_RESPONSES = 1,
};

/* Event bits; several may come together (a HEAD without body ends at once). */
#define GLASS_HTTP_REQUEST_BEGIN  0x01 /* first byte of a request */
#define GLASS_HTTP_REQUEST_HEAD	  0x02 /* request line and headers read: c->request */
#define GLASS_HTTP_REQUEST_END	  0x04 /* its last body byte: c->request.body_bytes, wire_bytes */
#define GLASS_HTTP_RESPONSE_BEGIN 0x08 /* first byte of the first response to a request */
#define GLASS_HTTP_RESPONSE_HEAD  0x10 /* status line and headers: c->response (.interim: 1xx) */
#define GLASS_HTTP_RESPONSE_END	  0x20 /* last byte of the final response: c->response */
#define GLASS_HTTP_ABORTED	  0x40 /* glass_http_close(): a request got no (full) response */
#define GLASS_HTTP_GAVE_UP	  0x80 /* not HTTP/1.x, or out of step: ignored from now on */

enum glass_http_why {
	GLASS_HTTP_OK = 0,
	GLASS_HTTP_NOT_HTTP,	/* request/status line is not HTTP/1.x (HTTP/2 preface, TLS, ...) */
	GLASS_HTTP_BAD_SYNTAX,	/* a header line or chunk line that is not well-formed */
	GLASS_HTTP_TOO_LONG,	/* head over GLASS_HTTP_HEAD_MAX, method or chunk line too long */
	GLASS_HTTP_BAD_LENGTH,	/* Content-Length invalid or conflicting, chunk size too large */
	GLASS_HTTP_BAD_FRAMING, /* request with a Transfer-Encoding other than chunked */
	GLASS_HTTP_LOST, /* request bytes came while an upgrade was undecided, then refused */
};

/* Extra request headers to keep (policy "http_headers"), prepared once, read-only after. */
struct glass_http_config {
	uint8_t nextra;
	char extra[GLASS_HTTP_EXTRA_MAX][GLASS_HTTP_EXTRA_NAME_MAX]; /* lower-case names */
};

struct glass_http_request {
	char method[GLASS_HTTP_METHOD_MAX];
	char target[GLASS_HTTP_TARGET_MAX + 1]; /* as sent, cut: redact before recording */
	uint32_t target_len;			/* full length on the wire */
	uint8_t version;			/* 10 or 11 */
	char host[GLASS_HTTP_HOST_MAX];
	char user_agent[GLASS_HTTP_UA_MAX];
	/* 0 absent, 1 valid (traceparent holds it), 2 present but invalid */
	uint8_t traceparent_state;
	char traceparent[GLASS_HTTP_TRACEPARENT_LEN + 1];
	int64_t content_length; /* -1 when absent */
	uint8_t chunked, keep_alive, expect_continue, upgrade;
	char extra[GLASS_HTTP_EXTRA_MAX][GLASS_HTTP_EXTRA_VALUE_MAX]; /* config's headers, cut */
	uint32_t head_bytes;
	uint64_t body_bytes; /* payload, at REQUEST_END */
	uint64_t wire_bytes; /* head + body with chunk framing, at REQUEST_END */
	uint32_t seq;	     /* 1, 2, 3, ... per connection */
};

struct glass_http_response {
	uint16_t status;
	uint8_t version;
	uint8_t interim;	/* this head is a 1xx; the final one follows */
	int64_t content_length; /* -1 when absent */
	uint8_t chunked, keep_alive;
	uint8_t until_close; /* the body ends with the connection */
	uint8_t tunnel;	     /* 101 or CONNECT 2xx: the connection is no longer HTTP */
	uint32_t head_bytes; /* the final head */
	uint64_t body_bytes; /* payload, at RESPONSE_END */
	uint64_t wire_bytes; /* all response bytes for this request, 1xx included */
	uint32_t seq;	     /* the request answered, 0 when none was seen */
	uint8_t paired;	     /* the request was remembered: user is valid */
	uint64_t user;	     /* what glass_http_set_user() stored with it */
};

/* One direction's state: internal. */
struct glass_http_parser {
	uint8_t state, line_state, hdr, name_len, name_long, val_long, ver_len;
	uint8_t flags; /* headers seen in this head */
	uint8_t interim_seen, chunk_digits, hold;
	uint8_t req_is_head, req_is_connect; /* responses: what the request was */
	uint16_t val_len;
	uint32_t head_len, line_len;
	uint64_t left; /* body or chunk bytes still to come */
	uint64_t chunk;
	uint64_t bytes, body;
	char name[GLASS_HTTP_EXTRA_NAME_MAX];
	char val[GLASS_HTTP_VALUE_MAX];
	char ver[12];
};

struct glass_http_pending {
	uint32_t seq;
	uint8_t is_head, is_connect;
	uint64_t user;
};

struct glass_http_conn {
	const struct glass_http_config *cfg; /* may be NULL */
	struct glass_http_parser dir[2];
	struct glass_http_request request;   /* valid after REQUEST_HEAD until the next feed */
	struct glass_http_response response; /* valid after RESPONSE_* until the next feed */
	uint8_t mode;			     /* internal: active, tunnel, gave up, closed */
	enum glass_http_why gave_up;
	uint32_t next_request_seq, next_response_seq;
	uint32_t pending_head, pending_count;
	uint64_t pending_dropped; /* requests not remembered: more than GLASS_HTTP_PIPELINE */
	struct glass_http_pending pending[GLASS_HTTP_PIPELINE];
};

/*
 * Fills cfg from names (case-insensitive header names). Names that look secret (they contain
 * password, passwd, pwd, token, secret, key, auth, session, signature or cookie) are refused,
 * as are names over GLASS_HTTP_EXTRA_NAME_MAX - 1 bytes and any beyond GLASS_HTTP_EXTRA_MAX.
 * Returns the number kept.
 */
size_t glass_http_config_init(struct glass_http_config *cfg, const char *const *names, size_t n);

/* Prepares c for a new connection; cfg (may be NULL) must outlive c. */
void glass_http_init(struct glass_http_conn *c, const struct glass_http_config *cfg);

/*
 * Feeds len bytes of one direction. Returns how many were consumed (all unless events stopped
 * it early) and sets *ev to the GLASS_HTTP_* bits of the last byte consumed (0 if none).
 * After GLASS_HTTP_GAVE_UP, and in a tunnel, every call consumes everything with *ev = 0.
 */
/* 1 (the default): runs of plain head bytes are taken in one step; 0: byte by byte, the
 * reference the fuzzer compares them with. */
extern int glass_http_runs;

size_t glass_http_feed(struct glass_http_conn *c, enum glass_http_dir dir, const void *buf,
		       size_t len, unsigned *ev);

/*
 * The connection was closed. Call until it returns 0: each call reports one event in *ev:
 * RESPONSE_END for a body that ends with the connection, then ABORTED for each request still
 * waiting for (the rest of) its response (c->response.seq/paired/user say which).
 */
int glass_http_close(struct glass_http_conn *c, unsigned *ev);

/* 1 when the next request byte begins a new request (none is half sent). */
int glass_http_request_idle(const struct glass_http_conn *c);

/* Stores user with request seq, to come back in its response. 1, or 0 if not remembered. */
int glass_http_set_user(struct glass_http_conn *c, uint32_t seq, uint64_t user);

/*
 * 1 if s[0, n) is a W3C traceparent we accept: version 00 with exactly 55 characters, or a
 * later version (not ff) with 55 or more and '-' after the 55th; lower-case hex; trace-id and
 * parent-id not all zeros.
 */
int glass_http_traceparent_valid(const char *s, size_t n);

/*
 * Writes target[0, len) to out (NUL-terminated when outlen > 0) with the values of query and
 * fragment parameters whose names contain password, passwd, pwd, token, secret, key, auth,
 * session or signature (case-insensitive, after %-decoding) replaced by "REDACTED", and the
 * password of an absolute URL's user info too. Names too long to check are redacted. When out
 * is too small the copy is cut (never inside a kept value's redaction) and *truncated (if not
 * NULL) is set. Returns the length written.
 */
size_t glass_http_redact_target(const char *target, size_t len, char *out, size_t outlen,
				int *truncated);

#endif /* GLASS_PROTO_HTTP_H */
