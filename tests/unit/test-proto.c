/* tests/unit/test-proto.c — what the HTTP/1.x, MongoDB wire and RESP parsers see in real bytes. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload/proto-http.h"
#include "preload/proto-inject.h"
#include "preload/proto-mongo.h"
#include "preload/proto-resp.h"

/*
 * Every scenario is a script of (direction, bytes) steps. It is run whole, byte by byte, and
 * split in two at every position of every step; the events and what they carried must be the
 * same every time: a recv may return any piece of what was sent.
 */

struct step {
	int dir;
	const void *data;
	size_t len;
};

#define STEP(d, s)                                                                                 \
	{                                                                                          \
		(d), (s), sizeof(s) - 1                                                            \
	} /* a string literal */
#define STEP_BYTES(d, a)                                                                           \
	{                                                                                          \
		(d), (a), sizeof(a)                                                                \
	} /* a byte array */
#define NSTEPS(a) (sizeof(a) / sizeof((a)[0]))

/* How each step is cut: whole, in pieces of `piece` bytes, or step `at_step` in two at `at`. */
struct cut {
	size_t piece;
	size_t at_step, at;
};

static size_t cut_next(const struct cut *k, size_t step, size_t off, size_t len)
{
	if (k->piece)
		return len - off < k->piece ? len - off : k->piece;
	if (step == k->at_step && off < k->at)
		return k->at - off;
	return len - off;
}

/* ---- HTTP ---- */

struct http_rec {
	unsigned ev;
	int dir;
	struct glass_http_request req;
	struct glass_http_response resp;
};

struct http_log {
	size_t n;
	enum glass_http_why why;
	struct http_rec r[48];
};

static void http_record(struct http_log *log, const struct glass_http_conn *c, int dir, unsigned ev)
{
	struct http_rec *r;

	ck_assert_uint_lt(log->n, sizeof(log->r) / sizeof(log->r[0]));
	r = &log->r[log->n++];
	memset(r, 0, sizeof(*r));
	r->ev = ev;
	r->dir = dir;
	if (ev & (GLASS_HTTP_REQUEST_HEAD | GLASS_HTTP_REQUEST_END))
		r->req = c->request;
	if (ev & (GLASS_HTTP_RESPONSE_BEGIN | GLASS_HTTP_RESPONSE_HEAD | GLASS_HTTP_RESPONSE_END |
		  GLASS_HTTP_ABORTED))
		r->resp = c->response;
}

/* Runs the script on c, then closes the connection; every event goes into log. */
static void http_run_on(struct glass_http_conn *c, const struct step *s, size_t n,
			const struct cut *k, struct http_log *log, int close_at_end)
{
	unsigned ev;

	for (size_t i = 0; i < n; i++) {
		size_t off = 0;

		while (off < s[i].len) {
			size_t piece = cut_next(k, i, off, s[i].len), done = 0;

			while (done < piece) {
				size_t used = glass_http_feed(c, s[i].dir,
							      (const char *)s[i].data + off + done,
							      piece - done, &ev);

				ck_assert_uint_le(used, piece - done);
				ck_assert(used > 0 || ev != 0);
				done += used;
				if (ev)
					http_record(log, c, s[i].dir, ev);
			}
			off += piece;
		}
	}
	while (close_at_end && glass_http_close(c, &ev))
		http_record(log, c, -1, ev);
	log->why = c->gave_up;
}

static struct http_log *http_run(const struct step *s, size_t n, const struct cut *k)
{
	struct http_log *log = calloc(1, sizeof(*log));
	struct glass_http_conn c;

	glass_http_init(&c, NULL);
	http_run_on(&c, s, n, k, log, 1);
	return log;
}

static void http_logs_equal(const struct http_log *a, const struct http_log *b, const char *how)
{
	ck_assert_msg(a->n == b->n, "%s: %zu events instead of %zu", how, b->n, a->n);
	ck_assert_int_eq(a->why, b->why);
	for (size_t i = 0; i < a->n; i++)
		ck_assert_msg(memcmp(&a->r[i], &b->r[i], sizeof(a->r[i])) == 0,
			      "%s: event %zu differs (ev %#x vs %#x)", how, i, a->r[i].ev,
			      b->r[i].ev);
}

/* THEN feeding the script in any pieces gives what feeding it whole gives; returns that. */
static struct http_log *http_run_all_ways(const struct step *s, size_t n)
{
	struct cut whole = {0, (size_t)-1, 0}, bytes = {1, 0, 0};
	struct http_log *ref = http_run(s, n, &whole), *log;

	log = http_run(s, n, &bytes);
	http_logs_equal(ref, log, "byte by byte");
	free(log);
	for (size_t i = 0; i < n; i++) {
		for (size_t at = 1; at < s[i].len; at++) {
			struct cut k = {0, i, at};
			char how[64];

			log = http_run(s, n, &k);
			snprintf(how, sizeof(how), "step %zu split at %zu", i, at);
			http_logs_equal(ref, log, how);
			free(log);
		}
	}
	return ref;
}

/* The index of the first event with any of the bits, from `from`; fails if there is none. */
static size_t http_find(const struct http_log *log, size_t from, unsigned bits)
{
	for (size_t i = from; i < log->n; i++)
		if (log->r[i].ev & bits)
			return i;
	ck_abort_msg("no event %#x after %zu", bits, from);
	return 0;
}

/* Feeds all of s[0, n) in one direction; returns every event bit seen. */
static unsigned http_feed_all(struct glass_http_conn *c, int dir, const void *s, size_t n)
{
	unsigned ev, all = 0;
	size_t off = 0;

	while (off < n) {
		off += glass_http_feed(c, dir, (const char *)s + off, n - off, &ev);
		all |= ev;
	}
	return all;
}

static const char curl_get[] =
    "GET /api/orders?id=42&token=abc123 HTTP/1.1\r\n"
    "Host: 127.0.0.1:38469\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
    "\r\n";

static const char urllib_get[] = "GET /search?q=glass&page=2 HTTP/1.1\r\n"
				 "Accept-Encoding: identity\r\n"
				 "Host: 127.0.0.1:34871\r\n"
				 "User-Agent: Python-urllib/3.11\r\n"
				 "Connection: close\r\n"
				 "\r\n";

/* python3 -m http.server answering GET /hello.txt */
static const char simplehttp_200[] = "HTTP/1.0 200 OK\r\n"
				     "Server: SimpleHTTP/0.6 Python/3.11.2\r\n"
				     "Date: Sun, 22 Nov 2026 03:40:11 GMT\r\n"
				     "Content-type: text/plain\r\n"
				     "Content-Length: 12\r\n"
				     "Last-Modified: Sun, 22 Nov 2026 03:40:10 GMT\r\n"
				     "\r\n"
				     "hello glass\n";

/* uvicorn streaming a JSON body */
static const char uvicorn_chunked[] = "HTTP/1.1 200 OK\r\n"
				      "date: Sun, 22 Nov 2026 03:41:00 GMT\r\n"
				      "server: uvicorn\r\n"
				      "content-type: application/json\r\n"
				      "transfer-encoding: chunked\r\n"
				      "\r\n"
				      "d\r\n{\"items\": [1,\r\n"
				      "6;ext=1\r\n 2, 3]\r\n"
				      "1\r\n}\r\n"
				      "0\r\n"
				      "\r\n";

static void http_bytewise_on(void)
{
	glass_http_runs = 0;
}

static void http_bytewise_off(void)
{
	glass_http_runs = 1;
}

START_TEST(http_curl_request_head_is_read)
{
	/* GIVEN the request curl sends, read by a server */
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, curl_get)};
	/* WHEN it is fed in any pieces */
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	const struct glass_http_request *q;

	/* THEN it begins, its head is read, and having no body it ends at once */
	ck_assert_uint_eq(log->r[0].ev, GLASS_HTTP_REQUEST_BEGIN);
	ck_assert_uint_eq(log->r[1].ev, GLASS_HTTP_REQUEST_HEAD | GLASS_HTTP_REQUEST_END);
	q = &log->r[1].req;
	ck_assert_str_eq(q->method, "GET");
	ck_assert_str_eq(q->target, "/api/orders?id=42&token=abc123");
	ck_assert_uint_eq(q->target_len, strlen(q->target));
	ck_assert_uint_eq(q->version, 11);
	ck_assert_str_eq(q->host, "127.0.0.1:38469");
	ck_assert_str_eq(q->user_agent, "curl/7.88.1");
	ck_assert_uint_eq(q->traceparent_state, 1);
	ck_assert_str_eq(q->traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	ck_assert_int_eq(q->content_length, -1);
	ck_assert_uint_eq(q->keep_alive, 1);
	ck_assert_uint_eq(q->head_bytes, sizeof(curl_get) - 1);
	ck_assert_uint_eq(q->wire_bytes, sizeof(curl_get) - 1);
	ck_assert_uint_eq(q->body_bytes, 0);
	ck_assert_uint_eq(q->seq, 1);
	/* AND closing the connection reports the request as unanswered */
	ck_assert_uint_eq(log->r[2].ev, GLASS_HTTP_ABORTED);
	ck_assert_uint_eq(log->r[2].resp.seq, 1);
	ck_assert_uint_eq(log->n, 3);
	free(log);
}
END_TEST

START_TEST(http_server_exchange_pairs_request_and_response)
{
	/* GIVEN urllib's request and http.server's HTTP/1.0 answer */
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, urllib_get),
			   STEP(GLASS_HTTP_RESPONSES, simplehttp_200)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t head = http_find(log, 0, GLASS_HTTP_REQUEST_HEAD);
	size_t end = http_find(log, 0, GLASS_HTTP_RESPONSE_END);

	/* THEN Connection: close is noted */
	ck_assert_uint_eq(log->r[head].req.keep_alive, 0);
	ck_assert_str_eq(log->r[head].req.user_agent, "Python-urllib/3.11");
	/* AND the response starts, has its head, and ends at its last byte, answering request 1 */
	ck_assert_uint_eq(log->r[http_find(log, 0, GLASS_HTTP_RESPONSE_BEGIN)].resp.seq, 1);
	ck_assert_uint_eq(log->r[end].ev, GLASS_HTTP_RESPONSE_END);
	ck_assert_uint_eq(log->r[end].resp.status, 200);
	ck_assert_uint_eq(log->r[end].resp.version, 10);
	ck_assert_uint_eq(log->r[end].resp.keep_alive, 0);
	ck_assert_int_eq(log->r[end].resp.content_length, 12);
	ck_assert_uint_eq(log->r[end].resp.body_bytes, 12);
	ck_assert_uint_eq(log->r[end].resp.wire_bytes, sizeof(simplehttp_200) - 1);
	ck_assert_uint_eq(log->r[end].resp.head_bytes, sizeof(simplehttp_200) - 1 - 12);
	ck_assert_uint_eq(log->r[end].resp.seq, 1);
	ck_assert_uint_eq(log->r[end].resp.paired, 1);
	/* AND nothing is left to abort at close */
	ck_assert_uint_eq(end, log->n - 1);
	free(log);
}
END_TEST

START_TEST(http_chunked_response_ends_after_its_last_chunk)
{
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, curl_get),
			   STEP(GLASS_HTTP_RESPONSES, uvicorn_chunked)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t end = http_find(log, 0, GLASS_HTTP_RESPONSE_END);

	/* THEN the body is the chunks' payload, the wire count everything */
	ck_assert_uint_eq(log->r[end].resp.chunked, 1);
	ck_assert_uint_eq(log->r[end].resp.body_bytes, 13 + 6 + 1);
	ck_assert_uint_eq(log->r[end].resp.wire_bytes, sizeof(uvicorn_chunked) - 1);
	ck_assert_uint_eq(end, log->n - 1);
	free(log);
}
END_TEST

START_TEST(http_keep_alive_bodies_are_skipped_to_the_next_request)
{
	/* GIVEN a POST with a Content-Length body, a chunked PUT with trailers, and a GET */
	static const char reqs[] =
	    "POST /login HTTP/1.1\r\nHost: shop\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "Content-Length: 27\r\n\r\n"
	    "user=bob&password=hunter2!!"
	    "PUT /blob HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "4\r\nGET \r\nA;name=value\r\n/ HTTP/1.1\r\n0\r\nDigest: x\r\n\r\n"
	    "GET /next HTTP/1.1\r\nHost: shop\r\n\r\n";
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, reqs)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t a = http_find(log, 0, GLASS_HTTP_REQUEST_END);
	size_t b = http_find(log, a + 1, GLASS_HTTP_REQUEST_END);
	size_t c = http_find(log, b + 1, GLASS_HTTP_REQUEST_END);

	/* THEN body bytes that look like requests are not taken for requests */
	ck_assert_str_eq(log->r[a].req.method, "POST");
	ck_assert_int_eq(log->r[a].req.content_length, 27);
	ck_assert_uint_eq(log->r[a].req.body_bytes, 27);
	ck_assert_str_eq(log->r[b].req.method, "PUT");
	ck_assert_uint_eq(log->r[b].req.chunked, 1);
	ck_assert_uint_eq(log->r[b].req.body_bytes, 4 + 10);
	ck_assert_str_eq(log->r[c].req.method, "GET");
	ck_assert_str_eq(log->r[c].req.target, "/next");
	ck_assert_uint_eq(log->r[c].req.seq, 3);
	ck_assert_uint_eq(log->r[a].req.wire_bytes + log->r[b].req.wire_bytes +
			      log->r[c].req.wire_bytes,
			  sizeof(reqs) - 1);
	free(log);
}
END_TEST

START_TEST(http_pipelined_requests_are_answered_in_order)
{
	/* GIVEN three pipelined requests in one write, the second a HEAD */
	static const char reqs[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
				   "HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"
				   "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
	/* AND three responses in one write; HEAD's Content-Length announces no body */
	static const char resps[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
				    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
				    "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, reqs), STEP(GLASS_HTTP_RESPONSES, resps)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t e1 = http_find(log, 0, GLASS_HTTP_RESPONSE_END);
	size_t e2 = http_find(log, e1 + 1, GLASS_HTTP_RESPONSE_END);
	size_t e3 = http_find(log, e2 + 1, GLASS_HTTP_RESPONSE_END);

	/* THEN each response ends where it does and answers its request */
	ck_assert_uint_eq(log->r[e1].resp.seq, 1);
	ck_assert_uint_eq(log->r[e2].resp.seq, 2);
	ck_assert_uint_eq(log->r[e2].resp.body_bytes, 0);
	ck_assert_uint_eq(log->r[e2].ev, GLASS_HTTP_RESPONSE_HEAD | GLASS_HTTP_RESPONSE_END);
	ck_assert_uint_eq(log->r[e3].resp.seq, 3);
	ck_assert_uint_eq(log->r[e3].resp.status, 404);
	ck_assert_uint_eq(log->r[e3].resp.body_bytes, 2);
	ck_assert_uint_eq(e3, log->n - 1);
	free(log);
}
END_TEST

START_TEST(http_100_continue_is_an_interim_head)
{
	static const char req[] = "POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
				  "Content-Length: 5\r\n\r\n";
	static const char body[] = "12345";
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	static const char final[] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
	/* GIVEN the client waiting for 100 before sending its body */
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, req), STEP(GLASS_HTTP_RESPONSES, cont),
			   STEP(GLASS_HTTP_REQUESTS, body), STEP(GLASS_HTTP_RESPONSES, final)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t h = http_find(log, 0, GLASS_HTTP_REQUEST_HEAD);
	size_t b = http_find(log, 0, GLASS_HTTP_RESPONSE_BEGIN);
	size_t i = http_find(log, 0, GLASS_HTTP_RESPONSE_HEAD);
	size_t f = http_find(log, i + 1, GLASS_HTTP_RESPONSE_HEAD);

	ck_assert_uint_eq(log->r[h].req.expect_continue, 1);
	/* THEN the 100 begins the response and is an interim head */
	ck_assert_uint_eq(log->r[b].ev, GLASS_HTTP_RESPONSE_BEGIN);
	ck_assert_uint_eq(log->r[i].resp.status, 100);
	ck_assert_uint_eq(log->r[i].resp.interim, 1);
	/* AND the request ends with its body after that */
	ck_assert_uint_gt(http_find(log, 0, GLASS_HTTP_REQUEST_END), i);
	/* AND the final response does not begin again, and ends with the request answered */
	ck_assert_uint_eq(log->r[f].ev, GLASS_HTTP_RESPONSE_HEAD | GLASS_HTTP_RESPONSE_END);
	ck_assert_uint_eq(log->r[f].resp.status, 201);
	ck_assert_uint_eq(log->r[f].resp.interim, 0);
	ck_assert_uint_eq(log->r[f].resp.seq, 1);
	ck_assert_uint_eq(log->r[f].resp.wire_bytes, sizeof(cont) - 1 + sizeof(final) - 1);
	ck_assert_uint_eq(log->r[f].resp.head_bytes, sizeof(final) - 1);
	for (size_t k = 0; k < log->n; k++)
		if (k != b)
			ck_assert(!(log->r[k].ev & GLASS_HTTP_RESPONSE_BEGIN));
	free(log);
}
END_TEST

START_TEST(http_204_and_304_have_no_body)
{
	static const char reqs[] = "DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n"
				   "GET /y HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"e\"\r\n\r\n";
	static const char resps[] =
	    "HTTP/1.1 204 No Content\r\n\r\n"
	    "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: \"e\"\r\n\r\n";
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, reqs), STEP(GLASS_HTTP_RESPONSES, resps)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t a = http_find(log, 0, GLASS_HTTP_RESPONSE_END);
	size_t b = http_find(log, a + 1, GLASS_HTTP_RESPONSE_END);

	ck_assert_uint_eq(log->r[a].resp.status, 204);
	ck_assert_uint_eq(log->r[b].resp.status, 304);
	ck_assert_uint_eq(log->r[b].resp.body_bytes, 0);
	ck_assert_uint_eq(log->r[b].resp.seq, 2);
	ck_assert_uint_eq(b, log->n - 1);
	free(log);
}
END_TEST

START_TEST(http_body_without_length_ends_with_the_connection)
{
	static const char resp[] =
	    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nstreamed until close";
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, urllib_get), STEP(GLASS_HTTP_RESPONSES, resp)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t h = http_find(log, 0, GLASS_HTTP_RESPONSE_HEAD);
	size_t e = http_find(log, 0, GLASS_HTTP_RESPONSE_END);

	/* THEN the head says so, and the end comes from glass_http_close() */
	ck_assert_uint_eq(log->r[h].resp.until_close, 1);
	ck_assert_uint_eq(log->r[e].dir, -1);
	ck_assert_uint_eq(log->r[e].resp.body_bytes, 20);
	ck_assert_uint_eq(log->r[e].resp.wire_bytes, sizeof(resp) - 1);
	ck_assert_uint_eq(e, log->n - 1);
	free(log);
}
END_TEST

START_TEST(http_user_values_come_back_with_responses_and_aborts)
{
	static const char reqs[] =
	    "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
	static const char resp1[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	static const char resp2_part[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
	struct glass_http_conn c;
	unsigned ev;
	size_t off = 0;

	/* GIVEN three requests, each given a span id as its head is read */
	glass_http_init(&c, NULL);
	while (off < sizeof(reqs) - 1) {
		off += glass_http_feed(&c, GLASS_HTTP_REQUESTS, reqs + off, sizeof(reqs) - 1 - off,
				       &ev);
		if (ev & GLASS_HTTP_REQUEST_HEAD)
			ck_assert_int_eq(
			    glass_http_set_user(&c, c.request.seq, 100 + c.request.seq), 1);
	}
	/* WHEN the first is answered and the second half-answered before the close */
	ck_assert(http_feed_all(&c, GLASS_HTTP_RESPONSES, resp1, sizeof(resp1) - 1) &
		  GLASS_HTTP_RESPONSE_END);
	ck_assert_uint_eq(c.response.user, 101);
	ck_assert(!(http_feed_all(&c, GLASS_HTTP_RESPONSES, resp2_part, sizeof(resp2_part) - 1) &
		    GLASS_HTTP_RESPONSE_END));
	/* THEN the close aborts request 2 and then 3, with their values */
	ck_assert_int_eq(glass_http_close(&c, &ev), 1);
	ck_assert_uint_eq(ev, GLASS_HTTP_ABORTED);
	ck_assert_uint_eq(c.response.seq, 2);
	ck_assert_uint_eq(c.response.user, 102);
	ck_assert_int_eq(glass_http_close(&c, &ev), 1);
	ck_assert_uint_eq(c.response.seq, 3);
	ck_assert_uint_eq(c.response.user, 103);
	ck_assert_int_eq(glass_http_close(&c, &ev), 0);
	ck_assert_uint_eq(ev, 0);
	/* AND a closed connection takes no more bytes */
	ck_assert_uint_eq(glass_http_feed(&c, GLASS_HTTP_REQUESTS, reqs, 5, &ev), 5);
	ck_assert_uint_eq(ev, 0);
}
END_TEST

START_TEST(http_client_side_is_the_same_machine)
{
	/* GIVEN a client: it writes the request and reads the response (the caller maps
	 * write -> REQUESTS, read -> RESPONSES); the machine does not care who is who */
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, urllib_get),
			   STEP(GLASS_HTTP_RESPONSES, uvicorn_chunked)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t e = http_find(log, 0, GLASS_HTTP_RESPONSE_END);

	ck_assert_uint_eq(log->r[e].resp.seq, 1);
	ck_assert_uint_eq(log->r[e].resp.status, 200);
	free(log);
}
END_TEST

START_TEST(http_1_0_keep_alive_needs_asking)
{
	static const char reqs[] = "GET / HTTP/1.0\r\n\r\n"
				   "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
				   "GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n";
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, reqs)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t a = http_find(log, 0, GLASS_HTTP_REQUEST_HEAD);
	size_t b = http_find(log, a + 1, GLASS_HTTP_REQUEST_HEAD);
	size_t c = http_find(log, b + 1, GLASS_HTTP_REQUEST_HEAD);

	ck_assert_uint_eq(log->r[a].req.version, 10);
	ck_assert_uint_eq(log->r[a].req.keep_alive, 0);
	ck_assert_uint_eq(log->r[b].req.keep_alive, 1);
	ck_assert_uint_eq(log->r[c].req.keep_alive, 0);
	free(log);
}
END_TEST

START_TEST(http_upgrade_and_connect_become_tunnels)
{
	static const char ws_req[] =
	    "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n";
	static const char ws_resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				      "Connection: Upgrade\r\n\r\n";
	static const char frames[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
	static const char conn_req[] =
	    "CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n";
	static const char conn_resp[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	/* GIVEN a WebSocket upgrade, then frames in both directions */
	struct step ws[] = {STEP(GLASS_HTTP_REQUESTS, ws_req), STEP(GLASS_HTTP_RESPONSES, ws_resp),
			    STEP(GLASS_HTTP_REQUESTS, frames), STEP(GLASS_HTTP_RESPONSES, frames)};
	struct step tun[] = {
	    STEP(GLASS_HTTP_REQUESTS, conn_req), STEP(GLASS_HTTP_RESPONSES, conn_resp),
	    STEP(GLASS_HTTP_REQUESTS, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")};
	struct http_log *log = http_run_all_ways(ws, NSTEPS(ws));
	size_t e = http_find(log, 0, GLASS_HTTP_RESPONSE_END);

	/* THEN the 101 ends the exchange and the frames are neither HTTP nor an error */
	ck_assert_uint_eq(log->r[http_find(log, 0, GLASS_HTTP_REQUEST_HEAD)].req.upgrade, 1);
	ck_assert_uint_eq(log->r[e].resp.status, 101);
	ck_assert_uint_eq(log->r[e].resp.tunnel, 1);
	ck_assert_uint_eq(e, log->n - 1);
	ck_assert_int_eq(log->why, GLASS_HTTP_OK);
	free(log);
	/* AND so does a 200 to CONNECT, with TLS after it */
	log = http_run_all_ways(tun, NSTEPS(tun));
	e = http_find(log, 0, GLASS_HTTP_RESPONSE_END);
	ck_assert_uint_eq(log->r[e].resp.tunnel, 1);
	ck_assert_uint_eq(e, log->n - 1);
	ck_assert_int_eq(log->why, GLASS_HTTP_OK);
	free(log);
}
END_TEST

START_TEST(http_refused_upgrade_goes_on_as_http)
{
	static const char req[] = "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
				  "Connection: Upgrade\r\n\r\n";
	static const char resp[] = "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n";
	static const char next[] = "GET /plain HTTP/1.1\r\nHost: h\r\n\r\n";
	struct step s[] = {STEP(GLASS_HTTP_REQUESTS, req), STEP(GLASS_HTTP_RESPONSES, resp),
			   STEP(GLASS_HTTP_REQUESTS, next)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t h =
	    http_find(log, http_find(log, 0, GLASS_HTTP_RESPONSE_END), GLASS_HTTP_REQUEST_HEAD);

	ck_assert_str_eq(log->r[h].req.target, "/plain");
	ck_assert_uint_eq(log->r[h].req.seq, 2);
	free(log);
}
END_TEST

START_TEST(http_response_without_request_is_unpaired)
{
	static const char resp[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
				   "Content-Length: 0\r\n\r\n";
	struct step s[] = {STEP(GLASS_HTTP_RESPONSES, resp)};
	struct http_log *log = http_run_all_ways(s, NSTEPS(s));
	size_t e = http_find(log, 0, GLASS_HTTP_RESPONSE_END);

	ck_assert_uint_eq(log->r[e].resp.status, 408);
	ck_assert_uint_eq(log->r[e].resp.seq, 0);
	ck_assert_uint_eq(log->r[e].resp.paired, 0);
	free(log);
}
END_TEST

START_TEST(http_deep_pipelines_keep_counting)
{
	/* GIVEN 20 pipelined requests: more than GLASS_HTTP_PIPELINE are remembered */
	struct glass_http_conn c;
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	glass_http_init(&c, NULL);
	for (int i = 0; i < 20; i++)
		http_feed_all(&c, GLASS_HTTP_REQUESTS, req, sizeof(req) - 1);
	ck_assert_uint_eq(c.pending_dropped, 4);
	/* THEN every response still knows which request it answers; the last 4 are unpaired */
	for (uint32_t i = 1; i <= 20; i++) {
		ck_assert(http_feed_all(&c, GLASS_HTTP_RESPONSES, resp, sizeof(resp) - 1) &
			  GLASS_HTTP_RESPONSE_END);
		ck_assert_uint_eq(c.response.seq, i);
		ck_assert_uint_eq(c.response.paired, i <= GLASS_HTTP_PIPELINE);
	}
}
END_TEST

START_TEST(http_long_target_and_user_agent_are_cut)
{
	char req[2048];
	struct glass_http_conn c;
	int n;

	/* GIVEN a 1000-byte target and a 300-byte User-Agent */
	n = snprintf(req, sizeof(req),
		     "GET /%0999d HTTP/1.1\r\nUser-Agent: Mozilla/5.0 %0288d\r\n\r\n", 7, 7);
	glass_http_init(&c, NULL);
	/* THEN 256 bytes of the target are kept, the length is the real one */
	ck_assert(http_feed_all(&c, GLASS_HTTP_REQUESTS, req, (size_t)n) & GLASS_HTTP_REQUEST_HEAD);
	ck_assert_uint_eq(strlen(c.request.target), GLASS_HTTP_TARGET_MAX);
	ck_assert_uint_eq(c.request.target_len, 1000);
	ck_assert_uint_eq(strlen(c.request.user_agent), GLASS_HTTP_UA_MAX - 1);
	ck_assert(strncmp(c.request.user_agent, "Mozilla/5.0 000", 15) == 0);
}
END_TEST

START_TEST(http_traceparent_is_validated)
{
	static const struct {
		const char *v;
		int ok;
	} cases[] = {
	    {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1},
	    {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 1},
	    {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 0},   /* upper case */
	    {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", 0},   /* zero trace */
	    {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", 0},   /* zero parent */
	    {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0},   /* version ff */
	    {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", 0}, /* 00 is exact */
	    {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", 1}, /* later: more */
	    {"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", 0},
	    {"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", 0}, /* dashes */
	    {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", 0},  /* short */
	    {"", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(glass_http_traceparent_valid(cases[i].v, strlen(cases[i].v)) ==
				  cases[i].ok,
			      "%s", cases[i].v);

	/* GIVEN requests with an invalid traceparent, and with two valid ones */
	struct glass_http_conn c;
	static const char bad[] = "GET / HTTP/1.1\r\ntraceparent: 00-xyz\r\n\r\n";
	static const char two[] =
	    "GET / HTTP/1.1\r\n"
	    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
	    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n";

	glass_http_init(&c, NULL);
	http_feed_all(&c, GLASS_HTTP_REQUESTS, bad, sizeof(bad) - 1);
	/* THEN both are present but invalid, and nothing of them is kept */
	ck_assert_uint_eq(c.request.traceparent_state, 2);
	ck_assert_str_eq(c.request.traceparent, "");
	http_feed_all(&c, GLASS_HTTP_REQUESTS, two, sizeof(two) - 1);
	ck_assert_uint_eq(c.request.traceparent_state, 2);
	ck_assert_str_eq(c.request.traceparent, "");
}
END_TEST

START_TEST(http_only_allowed_headers_are_ever_copied)
{
	static const char *const names[] = {"X-Request-Id", "Authorization", "X-Api-Key",
					    "Cookie",	    "x-tenant",	     "x-auth-token",
					    "x-a",	    "x-b",	     "x-c"};
	static const char req[] = "POST /x HTTP/1.1\r\nHost: h\r\n"
				  "Authorization: Bearer SECRET-BEARER\r\n"
				  "Cookie: session=SECRET-COOKIE\r\n"
				  "X-Api-Key: SECRET-KEY\r\n"
				  "X-Request-Id: req-42\r\n"
				  "x-tenant:acme  \r\n"
				  "Content-Length: 13\r\n\r\n"
				  "SECRET-BODY!!";
	struct glass_http_config cfg;
	struct glass_http_conn c;
	unsigned ev;
	size_t off = 0;

	/* GIVEN a policy allowing some headers, secret-looking names among them */
	ck_assert_uint_eq(glass_http_config_init(&cfg, names, 9), 4);
	ck_assert_str_eq(cfg.extra[0], "x-request-id");
	ck_assert_str_eq(cfg.extra[1], "x-tenant");
	glass_http_init(&c, &cfg);
	/* WHEN a request with credentials is read */
	while (off < sizeof(req) - 1) {
		off += glass_http_feed(&c, GLASS_HTTP_REQUESTS, req + off, 1, &ev);
		if (ev & GLASS_HTTP_REQUEST_HEAD) {
			/* THEN the allowed values are there, trimmed */
			ck_assert_str_eq(c.request.extra[0], "req-42");
			ck_assert_str_eq(c.request.extra[1], "acme");
		}
		/* AND no byte of a secret is anywhere in the connection's state, ever */
		ck_assert_ptr_null(memmem(&c, sizeof(c), "SECRET", 6));
	}
}
END_TEST

START_TEST(http_not_http_gives_up_at_once)
{
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	static const char h2[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const char redis[] = "*1\r\n$4\r\nPING\r\n";
	static const char lf_only[] = "GET /\n";
	const struct {
		const char *s;
		size_t n;
		int dir;
	} cases[] = {
	    {tls, sizeof(tls) - 1, GLASS_HTTP_REQUESTS},
	    {h2, sizeof(h2) - 1, GLASS_HTTP_REQUESTS},
	    {redis, sizeof(redis) - 1, GLASS_HTTP_REQUESTS},
	    {lf_only, sizeof(lf_only) - 1, GLASS_HTTP_REQUESTS},
	    {"+OK\r\n", 5, GLASS_HTTP_RESPONSES},
	    {"HTTP/2 200\r\n", 12, GLASS_HTTP_RESPONSES},
	    {"HTTP/1.1 20 OK\r\n", 16, GLASS_HTTP_RESPONSES},
	    {"HTTP/1.1 2000 OK\r\n", 18, GLASS_HTTP_RESPONSES},
	    {"GETTHEVERYLONGMETHODNAME / HTTP/1.1\r\n", 37, GLASS_HTTP_REQUESTS},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct glass_http_conn c;
		unsigned ev;

		glass_http_init(&c, NULL);
		/* THEN GAVE_UP says why, and nothing more is looked at */
		ck_assert_msg(http_feed_all(&c, cases[i].dir, cases[i].s, cases[i].n) &
				  GLASS_HTTP_GAVE_UP,
			      "case %zu", i);
		ck_assert_int_eq(c.gave_up, GLASS_HTTP_NOT_HTTP);
		ck_assert_uint_eq(glass_http_feed(&c, GLASS_HTTP_REQUESTS, curl_get, 10, &ev), 10);
		ck_assert_uint_eq(ev, 0);
		ck_assert_int_eq(glass_http_close(&c, &ev), 0);
	}
}
END_TEST

/* GIVEN a hostile request head, THEN the parser gives up with `why`, having read all of it. */
static void http_expect_give_up(const char *s, size_t n, int dir, enum glass_http_why why)
{
	struct glass_http_conn c;
	unsigned ev = 0, all = 0;
	size_t off = 0;

	glass_http_init(&c, NULL);
	while (off < n) {
		off += glass_http_feed(&c, dir, s + off, n - off, &ev);
		all |= ev;
	}
	ck_assert_msg(all & GLASS_HTTP_GAVE_UP, "no give-up for %.40s", s);
	ck_assert_int_eq(c.gave_up, why);
}

START_TEST(http_hostile_lengths_and_framing)
{
	static const char huge_cl[] =
	    "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n";
	static const char neg_cl[] = "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n";
	static const char two_cl[] =
	    "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
	static const char list_cl[] = "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n";
	static const char gzip_te[] = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
	static const char big_chunk[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
					"ffffffffffffffff\r\n";
	static const char bad_chunk[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
					"zz\r\n";
	static const char long_data[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
					"2\r\nabc\r\n";
	static const char bare_cr[] = "GET / HTTP/1.1\rHost: h\r\n\r\n";
	static const char space_name[] = "GET / HTTP/1.1\r\nHost : h\r\n\r\n";
	static const char no_colon[] = "GET / HTTP/1.1\r\nHost\r\n\r\n";
	char *big;

	http_expect_give_up(huge_cl, sizeof(huge_cl) - 1, 0, GLASS_HTTP_BAD_LENGTH);
	http_expect_give_up(neg_cl, sizeof(neg_cl) - 1, 0, GLASS_HTTP_BAD_LENGTH);
	http_expect_give_up(two_cl, sizeof(two_cl) - 1, 0, GLASS_HTTP_BAD_LENGTH);
	http_expect_give_up(list_cl, sizeof(list_cl) - 1, 0, GLASS_HTTP_BAD_LENGTH);
	http_expect_give_up(gzip_te, sizeof(gzip_te) - 1, 0, GLASS_HTTP_BAD_FRAMING);
	http_expect_give_up(big_chunk, sizeof(big_chunk) - 1, 0, GLASS_HTTP_BAD_LENGTH);
	http_expect_give_up(bad_chunk, sizeof(bad_chunk) - 1, 0, GLASS_HTTP_BAD_SYNTAX);
	http_expect_give_up(long_data, sizeof(long_data) - 1, 0, GLASS_HTTP_BAD_SYNTAX);
	http_expect_give_up(bare_cr, sizeof(bare_cr) - 1, 0, GLASS_HTTP_BAD_SYNTAX);
	http_expect_give_up(space_name, sizeof(space_name) - 1, 0, GLASS_HTTP_BAD_SYNTAX);
	http_expect_give_up(no_colon, sizeof(no_colon) - 1, 0, GLASS_HTTP_BAD_SYNTAX);
	/* AND a head that never ends is cut off at GLASS_HTTP_HEAD_MAX */
	big = malloc(200000);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "GET / HTTP/1.1\r\nX-Filler: ", 26);
	memset(big + 26, 'a', 200000 - 26);
	http_expect_give_up(big, 200000, 0, GLASS_HTTP_TOO_LONG);
	/* AND so is a response head */
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	http_expect_give_up(big, 200000, 1, GLASS_HTTP_TOO_LONG);
	free(big);
}
END_TEST

START_TEST(http_targets_are_redacted)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"/api/orders?id=42&token=abc123", "/api/orders?id=42&token=REDACTED"},
	    {"/login?user=bob&Password=s3cret&page=2", "/login?user=bob&Password=REDACTED&page=2"},
	    {"/x?API_KEY=1&monkey=2&author=3",
	     "/x?API_KEY=REDACTED&monkey=REDACTED&author=REDACTED"},
	    {"/x?pass%77ord=1&p%77d=2", "/x?pass%77ord=REDACTED&p%77d=REDACTED"},
	    {"/x?sessionid=1;sig=2;signature=3", "/x?sessionid=REDACTED;sig=2;signature=REDACTED"},
	    {"/x?token", "/x?token"}, /* no value */
	    {"/x?a=1&&token=&b", "/x?a=1&&token=REDACTED&b"},
	    {"/cb#access_token=zzz&state=1", "/cb#access_token=REDACTED&state=1"},
	    {"/p?q=1#frag", "/p?q=1#frag"},
	    {"https://bob:hunter2@shop.example/a?secret=1",
	     "https://bob:REDACTED@shop.example/a?secret=REDACTED"},
	    {"http://bob@shop.example/", "http://bob@shop.example/"},
	    {"/plain/path", "/plain/path"},
	    {"*", "*"},
	    {"", ""},
	};
	char out[512];
	int cut;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = glass_http_redact_target(cases[i].in, strlen(cases[i].in), out,
						    sizeof(out), &cut);

		ck_assert_str_eq(out, cases[i].out);
		ck_assert_uint_eq(n, strlen(cases[i].out));
		ck_assert_int_eq(cut, 0);
	}
	/* AND names too long to check are redacted, to be safe */
	char name[200];

	memset(name, 'a', sizeof(name));
	memcpy(name, "/?", 2);
	memcpy(name + 190, "=value\0", 7);
	glass_http_redact_target(name, strlen(name), out, sizeof(out), &cut);
	ck_assert_ptr_nonnull(strstr(out, "=REDACTED"));
	/* AND a small buffer cuts the copy, NUL-terminated, and says so */
	ck_assert_uint_eq(glass_http_redact_target("/x?token=abcdef", 15, out, 12, &cut), 11);
	ck_assert_str_eq(out, "/x?token=RE");
	ck_assert_int_eq(cut, 1);
	ck_assert_uint_eq(glass_http_redact_target("/x", 2, out, 0, NULL), 0);
}
END_TEST

/* ---- RESP ---- */

struct resp_rec {
	enum glass_resp_event ev;
	struct glass_resp_request req;
	struct glass_resp_reply rep;
};

struct resp_log {
	size_t n;
	enum glass_resp_why why;
	struct resp_rec r[96];
};

static struct resp_log *resp_run(const struct step *s, size_t n, const struct cut *k)
{
	struct resp_log *log = calloc(1, sizeof(*log));
	struct glass_resp_conn c;

	glass_resp_init(&c);
	for (size_t i = 0; i < n; i++) {
		size_t off = 0;

		while (off < s[i].len) {
			size_t piece = cut_next(k, i, off, s[i].len), done = 0;

			while (done < piece) {
				enum glass_resp_event ev;
				size_t used = glass_resp_feed(&c, s[i].dir,
							      (const char *)s[i].data + off + done,
							      piece - done, &ev);

				ck_assert(used > 0);
				done += used;
				if (ev == GLASS_RESP_NONE)
					continue;
				ck_assert_uint_lt(log->n, sizeof(log->r) / sizeof(log->r[0]));
				log->r[log->n].ev = ev;
				if (ev == GLASS_RESP_REQUEST) {
					log->r[log->n].req = c.request;
					glass_resp_set_user(&c, c.request.seq,
							    1000 + c.request.seq);
				} else if (ev != GLASS_RESP_GAVE_UP) {
					log->r[log->n].rep = c.reply;
				}
				log->n++;
			}
			off += piece;
		}
	}
	log->why = c.gave_up;
	return log;
}

static struct resp_log *resp_run_all_ways(const struct step *s, size_t n)
{
	struct cut whole = {0, (size_t)-1, 0}, bytes = {1, 0, 0};
	struct resp_log *ref = resp_run(s, n, &whole), *log;

	log = resp_run(s, n, &bytes);
	ck_assert_uint_eq(log->n, ref->n);
	ck_assert(memcmp(log, ref, sizeof(*log)) == 0);
	free(log);
	for (size_t i = 0; i < n; i++) {
		for (size_t at = 1; at < s[i].len; at++) {
			struct cut k = {0, i, at};

			log = resp_run(s, n, &k);
			ck_assert_msg(memcmp(log, ref, sizeof(*log)) == 0, "step %zu split at %zu",
				      i, at);
			free(log);
		}
	}
	return ref;
}

/* What redis-cli sends for: SET user:1 bob EX 60 / GET user:1 / CLIENT SETNAME web-1 /
 * config get maxmemory / MGET a b c / MSET a 1 b 2 / DEL x y / EVAL ... 2 k1 k2 a1 /
 * BLPOP q1 q2 5 / PING, in one pipelined write. */
static const char redis_cmds[] =
    "*5\r\n$3\r\nSET\r\n$6\r\nuser:1\r\n$3\r\nbob\r\n$2\r\nEX\r\n$2\r\n60\r\n"
    "*2\r\n$3\r\nGET\r\n$6\r\nuser:1\r\n"
    "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$5\r\nweb-1\r\n"
    "*3\r\n$6\r\nconfig\r\n$3\r\nget\r\n$9\r\nmaxmemory\r\n"
    "*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    "*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    "*3\r\n$3\r\ndel\r\n$1\r\nx\r\n$1\r\ny\r\n"
    "*6\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n2\r\n$2\r\nk1\r\n$2\r\nk2\r\n"
    "$2\r\na1\r\n"
    "*4\r\n$5\r\nBLPOP\r\n$2\r\nq1\r\n$2\r\nq2\r\n$1\r\n5\r\n"
    "*1\r\n$4\r\nPING\r\n";
static const char redis_replies[] =
    "+OK\r\n"
    "$3\r\nbob\r\n"
    "+OK\r\n"
    "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n"
    "+OK\r\n"
    ":2\r\n"
    "-ERR Error running script (call to f_1): @user_script:1: oops\r\n"
    "*-1\r\n"
    "+PONG\r\n";

START_TEST(resp_pipelined_commands_are_named_and_counted)
{
	struct step s[] = {STEP(GLASS_RESP_REQUESTS, redis_cmds)};
	struct resp_log *log = resp_run_all_ways(s, NSTEPS(s));
	static const struct {
		const char *name;
		uint32_t argc, nkeys;
	} want[] = {
	    {"SET", 5, 1},	  {"GET", 2, 1},  {"CLIENT SETNAME", 3, 0},
	    {"CONFIG GET", 3, 0}, {"MGET", 4, 3}, {"MSET", 5, 2},
	    {"DEL", 3, 2},	  {"EVAL", 6, 2}, {"BLPOP", 4, 2},
	    {"PING", 1, 0},
	};
	uint64_t total = 0;

	ck_assert_uint_eq(log->n, 10);
	for (size_t i = 0; i < log->n; i++) {
		ck_assert_int_eq(log->r[i].ev, GLASS_RESP_REQUEST);
		ck_assert_str_eq(log->r[i].req.name, want[i].name);
		ck_assert_uint_eq(log->r[i].req.argc, want[i].argc);
		ck_assert_uint_eq(log->r[i].req.nkeys, want[i].nkeys);
		ck_assert_uint_eq(log->r[i].req.seq, i + 1);
		ck_assert_uint_eq(log->r[i].req.is_inline, 0);
		total += log->r[i].req.bytes;
	}
	ck_assert_uint_eq(total, sizeof(redis_cmds) - 1);
	free(log);
}
END_TEST

START_TEST(resp_replies_are_paired_in_order)
{
	struct step s[] = {STEP(GLASS_RESP_REQUESTS, redis_cmds),
			   STEP(GLASS_RESP_REPLIES, redis_replies)};
	struct resp_log *log = resp_run_all_ways(s, NSTEPS(s));
	const struct glass_resp_reply *r = &log->r[10].rep;
	uint64_t total = 0;

	ck_assert_uint_eq(log->n, 20);
	for (size_t i = 10; i < 20; i++) {
		ck_assert_int_eq(log->r[i].ev, GLASS_RESP_REPLY);
		ck_assert_uint_eq(log->r[i].rep.seq, i - 9);
		ck_assert_uint_eq(log->r[i].rep.paired, 1);
		ck_assert_uint_eq(log->r[i].rep.user, 1000 + i - 9);
		total += log->r[i].rep.bytes;
	}
	ck_assert_uint_eq(total, sizeof(redis_replies) - 1);
	ck_assert_int_eq(r->type, '+');
	ck_assert_int_eq(r->is_error, 0);
	ck_assert_int_eq(log->r[11].rep.type, '$');
	ck_assert_int_eq(log->r[11].rep.value, 3);
	ck_assert_int_eq(log->r[13].rep.type, '*');
	ck_assert_int_eq(log->r[13].rep.value, 2);
	ck_assert_int_eq(log->r[14].rep.value, 3); /* a null bulk inside is still an element */
	ck_assert_int_eq(log->r[16].rep.type, ':');
	ck_assert_int_eq(log->r[16].rep.value, 2);
	ck_assert_int_eq(log->r[17].rep.is_error, 1);
	ck_assert_str_eq(log->r[17].rep.error,
			 "ERR Error running script (call to f_1): @user_script:1: oops");
	ck_assert_int_eq(log->r[18].rep.is_null, 1);
	free(log);
}
END_TEST

START_TEST(resp_inline_commands_are_read)
{
	static const char cmds[] = "PING\r\nset greeting \"hello world\" \r\n\r\nget greeting\n";
	struct step s[] = {STEP(GLASS_RESP_REQUESTS, cmds)};
	struct resp_log *log = resp_run_all_ways(s, NSTEPS(s));

	ck_assert_uint_eq(log->n, 3);
	ck_assert_str_eq(log->r[0].req.name, "PING");
	ck_assert_uint_eq(log->r[0].req.is_inline, 1);
	ck_assert_str_eq(log->r[1].req.name, "SET");
	ck_assert_uint_eq(log->r[1].req.argc, 3);
	ck_assert_str_eq(log->r[2].req.name, "GET");
	ck_assert_uint_eq(log->r[2].req.nkeys, 1);
	free(log);
}
END_TEST

START_TEST(resp3_types_are_skipped_by_their_length)
{
	static const char cmds[] = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"
				   "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
				   "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
				   "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
				   "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
	/* HELLO 3's map (abridged), a push between replies, an attribute before a reply,
	 * a blob error, and a verbatim string with doubles, booleans, big numbers and nulls */
	static const char replies[] =
	    "%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n"
	    ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
	    "|1\r\n+key-popularity\r\n%1\r\n$1\r\nk\r\n,0.19\r\n,3.14\r\n"
	    "~3\r\n#t\r\n_\r\n(3492890328409238509324850943850943825024385\r\n"
	    "!21\r\nSYNTAX invalid syntax\r\n"
	    "=15\r\ntxt:Some string\r\n";
	struct step s[] = {STEP(GLASS_RESP_REQUESTS, cmds), STEP(GLASS_RESP_REPLIES, replies)};
	struct resp_log *log = resp_run_all_ways(s, NSTEPS(s));

	ck_assert_uint_eq(log->n, 11);
	ck_assert_int_eq(log->r[5].ev, GLASS_RESP_REPLY); /* HELLO's map */
	ck_assert_int_eq(log->r[5].rep.type, '%');
	ck_assert_int_eq(log->r[5].rep.value, 3);
	ck_assert_uint_eq(log->r[5].rep.seq, 1);
	/* THEN the push is no reply: it does not take a command's place */
	ck_assert_int_eq(log->r[6].ev, GLASS_RESP_PUSH);
	ck_assert_uint_eq(log->r[6].rep.seq, 0);
	/* AND the attribute belongs to the reply after it */
	ck_assert_int_eq(log->r[7].ev, GLASS_RESP_REPLY);
	ck_assert_int_eq(log->r[7].rep.type, ',');
	ck_assert_uint_eq(log->r[7].rep.seq, 2);
	ck_assert_uint_eq(log->r[7].rep.bytes, 39 + 7);
	ck_assert_int_eq(log->r[8].rep.type, '~');
	ck_assert_uint_eq(log->r[8].rep.seq, 3);
	ck_assert_int_eq(log->r[9].rep.is_error, 1);
	ck_assert_str_eq(log->r[9].rep.error, "SYNTAX invalid syntax");
	ck_assert_int_eq(log->r[10].rep.type, '=');
	ck_assert_uint_eq(log->r[10].rep.seq, 5);
	ck_assert_int_eq(log->why, GLASS_RESP_OK);
	free(log);
}
END_TEST

START_TEST(resp_subscribe_ends_pairing)
{
	static const char cmds[] = "*1\r\n$4\r\nPING\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n";
	static const char replies[] = "+PONG\r\n*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
				      "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
	struct step s[] = {STEP(GLASS_RESP_REQUESTS, cmds), STEP(GLASS_RESP_REPLIES, replies)};
	struct resp_log *log = resp_run_all_ways(s, NSTEPS(s));

	ck_assert_uint_eq(log->n, 5);
	ck_assert_uint_eq(log->r[2].rep.seq, 1);
	ck_assert_uint_eq(log->r[2].rep.paired, 1);
	/* THEN from SUBSCRIBE on, replies are not paired with anything */
	ck_assert_uint_eq(log->r[3].rep.paired, 0);
	ck_assert_uint_eq(log->r[3].rep.seq, 0);
	ck_assert_uint_eq(log->r[4].rep.paired, 0);
	free(log);
}
END_TEST

START_TEST(resp_nesting_is_bounded)
{
	char buf[256];
	size_t n = 0;
	struct glass_resp_conn c;
	enum glass_resp_event ev;

	/* GIVEN 32 nested arrays around an integer: accepted */
	for (int i = 0; i < GLASS_RESP_DEPTH_MAX; i++)
		n += (size_t)sprintf(buf + n, "*1\r\n");
	n += (size_t)sprintf(buf + n, ":7\r\n");
	glass_resp_init(&c);
	ck_assert_uint_eq(glass_resp_feed(&c, GLASS_RESP_REPLIES, buf, n, &ev), n);
	ck_assert_int_eq(ev, GLASS_RESP_REPLY);
	/* AND 33 are not */
	glass_resp_init(&c);
	memmove(buf + 4, buf, n);
	memcpy(buf, "*1\r\n", 4);
	ck_assert_uint_eq(glass_resp_feed(&c, GLASS_RESP_REPLIES, buf, n + 4, &ev), n + 4);
	ck_assert_int_eq(ev, GLASS_RESP_GAVE_UP);
	ck_assert_int_eq(c.gave_up, GLASS_RESP_TOO_DEEP);
}
END_TEST

START_TEST(resp_hostile_input_gives_up)
{
	static const struct {
		const char *s;
		int dir;
		enum glass_resp_why why;
	} cases[] = {
	    {"GET / HTTP/1.1\r\n\r\n", GLASS_RESP_REPLIES, GLASS_RESP_NOT_RESP},
	    {"\x16\x03\x01", GLASS_RESP_REQUESTS, GLASS_RESP_NOT_RESP},
	    {"$-2\r\n", GLASS_RESP_REPLIES, GLASS_RESP_BAD_LENGTH},
	    {"$536870913\r\n", GLASS_RESP_REPLIES, GLASS_RESP_BAD_LENGTH},
	    {":99999999999999999999\r\n", GLASS_RESP_REPLIES, GLASS_RESP_BAD_LENGTH},
	    {"*2147483648\r\n", GLASS_RESP_REPLIES, GLASS_RESP_BAD_LENGTH},
	    {"*-5\r\n", GLASS_RESP_REPLIES, GLASS_RESP_BAD_LENGTH},
	    {"*\r\n", GLASS_RESP_REPLIES, GLASS_RESP_BAD_LENGTH},
	    {"$3\r\nabcd\r\n", GLASS_RESP_REPLIES, GLASS_RESP_BAD_FRAMING},
	    {"+OK\rX", GLASS_RESP_REPLIES, GLASS_RESP_BAD_FRAMING},
	    {"$?\r\n;4\r\nabcd\r\n;0\r\n", GLASS_RESP_REPLIES, GLASS_RESP_BAD_FRAMING},
	    {"*1\r\n+GET\r\n", GLASS_RESP_REQUESTS, GLASS_RESP_BAD_FRAMING},
	    {"*1\r\n$-1\r\n", GLASS_RESP_REQUESTS, GLASS_RESP_BAD_LENGTH},
	    {"*1\r\n$x\r\n", GLASS_RESP_REQUESTS, GLASS_RESP_BAD_LENGTH},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct glass_resp_conn c;
		enum glass_resp_event ev;
		size_t len = strlen(cases[i].s);

		glass_resp_init(&c);
		ck_assert_uint_eq(glass_resp_feed(&c, cases[i].dir, cases[i].s, len, &ev), len);
		ck_assert_msg(ev == GLASS_RESP_GAVE_UP && c.gave_up == cases[i].why,
			      "case %zu: ev %d why %d", i, ev, c.gave_up);
		/* AND nothing more is looked at */
		ck_assert_uint_eq(glass_resp_feed(&c, GLASS_RESP_REQUESTS, "PING\r\n", 6, &ev), 6);
		ck_assert_int_eq(ev, GLASS_RESP_NONE);
	}
	/* AND an inline line longer than Redis takes is refused */
	char *big = malloc(GLASS_RESP_LINE_MAX + 10);
	struct glass_resp_conn c;
	enum glass_resp_event ev;

	ck_assert_ptr_nonnull(big);
	memset(big, 'a', GLASS_RESP_LINE_MAX + 10);
	glass_resp_init(&c);
	glass_resp_feed(&c, GLASS_RESP_REQUESTS, big, GLASS_RESP_LINE_MAX + 10, &ev);
	ck_assert_int_eq(ev, GLASS_RESP_GAVE_UP);
	free(big);
}
END_TEST

START_TEST(resp_large_bulk_is_skipped_not_kept)
{
	/* GIVEN SET with a 1 MiB value, fed in 4 KiB pieces */
	size_t vlen = 1 << 20, n;
	char *buf = malloc(vlen + 64);
	struct glass_resp_conn c;
	enum glass_resp_event ev = GLASS_RESP_NONE;
	size_t off = 0;
	int seen = 0;

	n = (size_t)sprintf(buf, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%zu\r\n", vlen);
	memset(buf + n, 'v', vlen);
	memcpy(buf + n + vlen, "\r\n", 2);
	n += vlen + 2;
	glass_resp_init(&c);
	while (off < n) {
		size_t piece = n - off < 4096 ? n - off : 4096;

		off += glass_resp_feed(&c, GLASS_RESP_REQUESTS, buf + off, piece, &ev);
		seen += ev == GLASS_RESP_REQUEST;
	}
	ck_assert_int_eq(seen, 1);
	ck_assert_str_eq(c.request.name, "SET");
	ck_assert_uint_eq(c.request.bytes, n);
	free(buf);
}
END_TEST

START_TEST(resp_more_commands_than_remembered_still_count)
{
	struct glass_resp_conn c;
	enum glass_resp_event ev;

	glass_resp_init(&c);
	for (int i = 0; i < 100; i++)
		glass_resp_feed(&c, GLASS_RESP_REQUESTS, "*1\r\n$4\r\nPING\r\n", 14, &ev);
	ck_assert_uint_eq(c.pending_dropped, 100 - GLASS_RESP_PENDING);
	for (uint64_t i = 1; i <= 100; i++) {
		glass_resp_feed(&c, GLASS_RESP_REPLIES, "+PONG\r\n", 7, &ev);
		ck_assert_int_eq(ev, GLASS_RESP_REPLY);
		ck_assert_uint_eq(c.reply.seq, i);
		ck_assert_uint_eq(c.reply.paired, i <= GLASS_RESP_PENDING);
	}
	/* AND a reply nobody asked for is unpaired and does not shift later ones */
	glass_resp_feed(&c, GLASS_RESP_REPLIES, "+PONG\r\n", 7, &ev);
	ck_assert_uint_eq(c.reply.seq, 0);
	glass_resp_feed(&c, GLASS_RESP_REQUESTS, "*1\r\n$4\r\nPING\r\n", 14, &ev);
	glass_resp_feed(&c, GLASS_RESP_REPLIES, "+PONG\r\n", 7, &ev);
	ck_assert_uint_eq(c.reply.seq, 101);
	ck_assert_uint_eq(c.reply.paired, 1);
}
END_TEST

/* ---- MongoDB ---- */

/*
 * Real messages, as pymongo 3.11 builds them (pymongo.message.query / _op_msg with Debian's
 * python3-pymongo; requestIDs pinned), and replies built with its bson module.
 */
/* OP_QUERY isMaster on admin.$cmd, requestID 1 (262 bytes) */
static const uint8_t mongo_ismaster_query[] = {
    0x06, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd4, 0x07, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x61, 0x64, 0x6d, 0x69, 0x6e, 0x2e, 0x24, 0x63, 0x6d, 0x64, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xdf, 0x00, 0x00, 0x00, 0x10, 0x69, 0x73, 0x6d, 0x61,
    0x73, 0x74, 0x65, 0x72, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
    0x00, 0xb2, 0x00, 0x00, 0x00, 0x03, 0x64, 0x72, 0x69, 0x76, 0x65, 0x72, 0x00, 0x2b, 0x00, 0x00,
    0x00, 0x02, 0x6e, 0x61, 0x6d, 0x65, 0x00, 0x08, 0x00, 0x00, 0x00, 0x50, 0x79, 0x4d, 0x6f, 0x6e,
    0x67, 0x6f, 0x00, 0x02, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x00, 0x07, 0x00, 0x00, 0x00,
    0x33, 0x2e, 0x31, 0x31, 0x2e, 0x30, 0x00, 0x00, 0x03, 0x6f, 0x73, 0x00, 0x51, 0x00, 0x00, 0x00,
    0x02, 0x74, 0x79, 0x70, 0x65, 0x00, 0x06, 0x00, 0x00, 0x00, 0x4c, 0x69, 0x6e, 0x75, 0x78, 0x00,
    0x02, 0x6e, 0x61, 0x6d, 0x65, 0x00, 0x06, 0x00, 0x00, 0x00, 0x4c, 0x69, 0x6e, 0x75, 0x78, 0x00,
    0x02, 0x61, 0x72, 0x63, 0x68, 0x69, 0x74, 0x65, 0x63, 0x74, 0x75, 0x72, 0x65, 0x00, 0x07, 0x00,
    0x00, 0x00, 0x78, 0x38, 0x36, 0x5f, 0x36, 0x34, 0x00, 0x02, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f,
    0x6e, 0x00, 0x06, 0x00, 0x00, 0x00, 0x36, 0x2e, 0x31, 0x2e, 0x30, 0x00, 0x00, 0x02, 0x70, 0x6c,
    0x61, 0x74, 0x66, 0x6f, 0x72, 0x6d, 0x00, 0x17, 0x00, 0x00, 0x00, 0x43, 0x50, 0x79, 0x74, 0x68,
    0x6f, 0x6e, 0x20, 0x33, 0x2e, 0x31, 0x31, 0x2e, 0x32, 0x2e, 0x66, 0x69, 0x6e, 0x61, 0x6c, 0x2e,
    0x30, 0x00, 0x00, 0x04, 0x63, 0x6f, 0x6d, 0x70, 0x72, 0x65, 0x73, 0x73, 0x69, 0x6f, 0x6e, 0x00,
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* OP_REPLY to it, responseTo 1 (152 bytes) */
static const uint8_t mongo_ismaster_reply[] = {
    0x98, 0x00, 0x00, 0x00, 0x65, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x74, 0x00, 0x00, 0x00, 0x08, 0x69, 0x73, 0x6d, 0x61, 0x73, 0x74, 0x65,
    0x72, 0x00, 0x01, 0x10, 0x6d, 0x61, 0x78, 0x42, 0x73, 0x6f, 0x6e, 0x4f, 0x62, 0x6a, 0x65, 0x63,
    0x74, 0x53, 0x69, 0x7a, 0x65, 0x00, 0x00, 0x00, 0x00, 0x01, 0x10, 0x6d, 0x61, 0x78, 0x4d, 0x65,
    0x73, 0x73, 0x61, 0x67, 0x65, 0x53, 0x69, 0x7a, 0x65, 0x42, 0x79, 0x74, 0x65, 0x73, 0x00, 0x00,
    0x6c, 0xdc, 0x02, 0x10, 0x6d, 0x61, 0x78, 0x57, 0x69, 0x72, 0x65, 0x56, 0x65, 0x72, 0x73, 0x69,
    0x6f, 0x6e, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10, 0x6d, 0x69, 0x6e, 0x57, 0x69, 0x72, 0x65, 0x56,
    0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x6f, 0x6b, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00,
};

/* OP_MSG find users in shop, requestID 2 (184 bytes) */
static const uint8_t mongo_find_msg[] = {
    0xb8, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xdd, 0x07, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xa3, 0x00, 0x00, 0x00, 0x02, 0x66, 0x69, 0x6e, 0x64, 0x00, 0x06,
    0x00, 0x00, 0x00, 0x75, 0x73, 0x65, 0x72, 0x73, 0x00, 0x03, 0x66, 0x69, 0x6c, 0x74, 0x65, 0x72,
    0x00, 0x18, 0x00, 0x00, 0x00, 0x03, 0x61, 0x67, 0x65, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x10, 0x24,
    0x67, 0x74, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x6c, 0x69, 0x6d, 0x69, 0x74, 0x00,
    0x03, 0x00, 0x00, 0x00, 0x03, 0x6c, 0x73, 0x69, 0x64, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x05, 0x69,
    0x64, 0x00, 0x10, 0x00, 0x00, 0x00, 0x04, 0x5f, 0x1d, 0x7c, 0x2e, 0x8c, 0x2b, 0x4d, 0x35, 0x9a,
    0x4e, 0x0d, 0x8b, 0x2f, 0x3c, 0x1a, 0x77, 0x00, 0x02, 0x24, 0x64, 0x62, 0x00, 0x05, 0x00, 0x00,
    0x00, 0x73, 0x68, 0x6f, 0x70, 0x00, 0x03, 0x24, 0x72, 0x65, 0x61, 0x64, 0x50, 0x72, 0x65, 0x66,
    0x65, 0x72, 0x65, 0x6e, 0x63, 0x65, 0x00, 0x20, 0x00, 0x00, 0x00, 0x02, 0x6d, 0x6f, 0x64, 0x65,
    0x00, 0x11, 0x00, 0x00, 0x00, 0x70, 0x72, 0x69, 0x6d, 0x61, 0x72, 0x79, 0x50, 0x72, 0x65, 0x66,
    0x65, 0x72, 0x72, 0x65, 0x64, 0x00, 0x00, 0x00,
};

/* OP_MSG reply: cursor.firstBatch of 3, ok 1 (225 bytes) */
static const uint8_t mongo_find_reply[] = {
    0xe1, 0x00, 0x00, 0x00, 0x66, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xdd, 0x07, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcc, 0x00, 0x00, 0x00, 0x03, 0x63, 0x75, 0x72, 0x73,
    0x6f, 0x72, 0x00, 0xb3, 0x00, 0x00, 0x00, 0x04, 0x66, 0x69, 0x72, 0x73, 0x74, 0x42, 0x61,
    0x74, 0x63, 0x68, 0x00, 0x83, 0x00, 0x00, 0x00, 0x03, 0x30, 0x00, 0x27, 0x00, 0x00, 0x00,
    0x10, 0x5f, 0x69, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x6e, 0x61, 0x6d, 0x65, 0x00,
    0x06, 0x00, 0x00, 0x00, 0x75, 0x73, 0x65, 0x72, 0x30, 0x00, 0x10, 0x61, 0x67, 0x65, 0x00,
    0x1f, 0x00, 0x00, 0x00, 0x00, 0x03, 0x31, 0x00, 0x27, 0x00, 0x00, 0x00, 0x10, 0x5f, 0x69,
    0x64, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x6e, 0x61, 0x6d, 0x65, 0x00, 0x06, 0x00, 0x00,
    0x00, 0x75, 0x73, 0x65, 0x72, 0x31, 0x00, 0x10, 0x61, 0x67, 0x65, 0x00, 0x20, 0x00, 0x00,
    0x00, 0x00, 0x03, 0x32, 0x00, 0x27, 0x00, 0x00, 0x00, 0x10, 0x5f, 0x69, 0x64, 0x00, 0x02,
    0x00, 0x00, 0x00, 0x02, 0x6e, 0x61, 0x6d, 0x65, 0x00, 0x06, 0x00, 0x00, 0x00, 0x75, 0x73,
    0x65, 0x72, 0x32, 0x00, 0x10, 0x61, 0x67, 0x65, 0x00, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x12, 0x69, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x6e, 0x73,
    0x00, 0x0b, 0x00, 0x00, 0x00, 0x73, 0x68, 0x6f, 0x70, 0x2e, 0x75, 0x73, 0x65, 0x72, 0x73,
    0x00, 0x00, 0x01, 0x6f, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00,
};

/* OP_MSG insert: kind-1 section 'documents' of 4, requestID 3 (276 bytes) */
static const uint8_t mongo_insert_msg[] = {
    0x14, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xdd, 0x07, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x84, 0x00, 0x00, 0x00, 0x02, 0x69, 0x6e, 0x73, 0x65, 0x72, 0x74,
    0x00, 0x06, 0x00, 0x00, 0x00, 0x75, 0x73, 0x65, 0x72, 0x73, 0x00, 0x08, 0x6f, 0x72, 0x64, 0x65,
    0x72, 0x65, 0x64, 0x00, 0x01, 0x03, 0x6c, 0x73, 0x69, 0x64, 0x00, 0x1e, 0x00, 0x00, 0x00, 0x05,
    0x69, 0x64, 0x00, 0x10, 0x00, 0x00, 0x00, 0x04, 0x5f, 0x1d, 0x7c, 0x2e, 0x8c, 0x2b, 0x4d, 0x35,
    0x9a, 0x4e, 0x0d, 0x8b, 0x2f, 0x3c, 0x1a, 0x77, 0x00, 0x02, 0x24, 0x64, 0x62, 0x00, 0x05, 0x00,
    0x00, 0x00, 0x73, 0x68, 0x6f, 0x70, 0x00, 0x03, 0x24, 0x72, 0x65, 0x61, 0x64, 0x50, 0x72, 0x65,
    0x66, 0x65, 0x72, 0x65, 0x6e, 0x63, 0x65, 0x00, 0x20, 0x00, 0x00, 0x00, 0x02, 0x6d, 0x6f, 0x64,
    0x65, 0x00, 0x11, 0x00, 0x00, 0x00, 0x70, 0x72, 0x69, 0x6d, 0x61, 0x72, 0x79, 0x50, 0x72, 0x65,
    0x66, 0x65, 0x72, 0x72, 0x65, 0x64, 0x00, 0x00, 0x00, 0x01, 0x7a, 0x00, 0x00, 0x00, 0x64, 0x6f,
    0x63, 0x75, 0x6d, 0x65, 0x6e, 0x74, 0x73, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x02, 0x6e, 0x61, 0x6d,
    0x65, 0x00, 0x03, 0x00, 0x00, 0x00, 0x61, 0x30, 0x00, 0x10, 0x61, 0x67, 0x65, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x02, 0x6e, 0x61, 0x6d, 0x65, 0x00, 0x03, 0x00, 0x00,
    0x00, 0x61, 0x31, 0x00, 0x10, 0x61, 0x67, 0x65, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x1b, 0x00,
    0x00, 0x00, 0x02, 0x6e, 0x61, 0x6d, 0x65, 0x00, 0x03, 0x00, 0x00, 0x00, 0x61, 0x32, 0x00, 0x10,
    0x61, 0x67, 0x65, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x02, 0x6e, 0x61,
    0x6d, 0x65, 0x00, 0x03, 0x00, 0x00, 0x00, 0x61, 0x33, 0x00, 0x10, 0x61, 0x67, 0x65, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x00,
};

/* OP_MSG reply {n: 4, ok: 1} (45 bytes) */
static const uint8_t mongo_insert_reply[] = {
    0x2d, 0x00, 0x00, 0x00, 0x67, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0xdd, 0x07, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x10, 0x6e, 0x00, 0x04, 0x00,
    0x00, 0x00, 0x01, 0x6f, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00,
};

/* OP_MSG error reply, responseTo 4 (105 bytes) */
static const uint8_t mongo_error_reply[] = {
    0x69, 0x00, 0x00, 0x00, 0x68, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xdd, 0x07, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x54, 0x00, 0x00, 0x00, 0x01, 0x6f, 0x6b, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x65, 0x72, 0x72, 0x6d, 0x73, 0x67, 0x00,
    0x0d, 0x00, 0x00, 0x00, 0x6e, 0x73, 0x20, 0x6e, 0x6f, 0x74, 0x20, 0x66, 0x6f, 0x75, 0x6e,
    0x64, 0x00, 0x10, 0x63, 0x6f, 0x64, 0x65, 0x00, 0x1a, 0x00, 0x00, 0x00, 0x02, 0x63, 0x6f,
    0x64, 0x65, 0x4e, 0x61, 0x6d, 0x65, 0x00, 0x12, 0x00, 0x00, 0x00, 0x4e, 0x61, 0x6d, 0x65,
    0x73, 0x70, 0x61, 0x63, 0x65, 0x4e, 0x6f, 0x74, 0x46, 0x6f, 0x75, 0x6e, 0x64, 0x00, 0x00,
};

/* OP_COMPRESSED (zlib) OP_MSG find, requestID 5 (149 bytes) */
static const uint8_t mongo_find_zlib[] = {
    0x95, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xdc, 0x07, 0x00,
    0x00, 0xdd, 0x07, 0x00, 0x00, 0x8a, 0x00, 0x00, 0x00, 0x02, 0x78, 0x9c, 0x63, 0x60, 0x00,
    0x82, 0x56, 0x20, 0x66, 0x4a, 0xcb, 0xcc, 0x4b, 0x61, 0x60, 0x03, 0xb2, 0x4a, 0x8b, 0x53,
    0x8b, 0x8a, 0x19, 0x98, 0xd3, 0x32, 0x73, 0x4a, 0x52, 0x8b, 0x18, 0x58, 0x41, 0x0a, 0x98,
    0x73, 0x8a, 0x33, 0x53, 0x18, 0xe4, 0x80, 0x2c, 0x56, 0x20, 0x2d, 0x00, 0xa4, 0x59, 0xe2,
    0x65, 0x6b, 0xf4, 0x7a, 0xb4, 0x7d, 0x4d, 0x67, 0xf9, 0xf1, 0x76, 0xeb, 0xdb, 0x48, 0x95,
    0x33, 0x30, 0xa9, 0xa4, 0x24, 0x81, 0x55, 0x17, 0x67, 0xe4, 0x17, 0x30, 0x30, 0xab, 0x14,
    0xa5, 0x26, 0xa6, 0x04, 0x14, 0xa5, 0xa6, 0xa5, 0x16, 0xa5, 0xe6, 0x25, 0xa7, 0x32, 0x28,
    0x80, 0xec, 0xc8, 0xcd, 0x4f, 0x49, 0x65, 0x10, 0x04, 0xb2, 0x0a, 0x8a, 0x32, 0x73, 0x13,
    0x8b, 0x2a, 0x21, 0xf2, 0x45, 0xa9, 0x29, 0x40, 0x21, 0x00, 0x99, 0x83, 0x1f, 0x65,
};

/* every type pymongo writes: d s o a b oid t dt n re c cws i ts l dec min max (232 bytes) */
static const uint8_t bson_all_types[] = {
    0xe8, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x02,
    0x73, 0x00, 0x04, 0x00, 0x00, 0x00, 0x73, 0x74, 0x72, 0x00, 0x03, 0x6f, 0x00, 0x0c, 0x00, 0x00,
    0x00, 0x10, 0x61, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0x61, 0x00, 0x15, 0x00, 0x00, 0x00,
    0x10, 0x30, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x31, 0x00, 0x02, 0x00, 0x00, 0x00, 0x78, 0x00,
    0x00, 0x05, 0x62, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x07, 0x6f, 0x69, 0x64,
    0x00, 0x5f, 0x1d, 0x7c, 0x2e, 0x8c, 0x2b, 0x4d, 0x35, 0x9a, 0x4e, 0x0d, 0x8b, 0x08, 0x74, 0x00,
    0x01, 0x09, 0x64, 0x74, 0x00, 0x88, 0xd8, 0x20, 0xc8, 0x8c, 0x01, 0x00, 0x00, 0x0a, 0x6e, 0x00,
    0x0b, 0x72, 0x65, 0x00, 0x5e, 0x61, 0x2e, 0x2a, 0x00, 0x69, 0x00, 0x0d, 0x63, 0x00, 0x0d, 0x00,
    0x00, 0x00, 0x66, 0x75, 0x6e, 0x63, 0x74, 0x69, 0x6f, 0x6e, 0x28, 0x29, 0x7b, 0x7d, 0x00, 0x0f,
    0x63, 0x77, 0x73, 0x00, 0x16, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x78, 0x00, 0x0c, 0x00,
    0x00, 0x00, 0x10, 0x79, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x10, 0x69, 0x00, 0x07, 0x00, 0x00,
    0x00, 0x11, 0x74, 0x73, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xf1, 0x53, 0x65, 0x12, 0x6c, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x13, 0x64, 0x65, 0x63, 0x00, 0x7d, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3c, 0x30, 0xff, 0x6d, 0x69,
    0x6e, 0x00, 0x7f, 0x6d, 0x61, 0x78, 0x00, 0x00,
};

/* A small BSON and message writer for the synthetic cases. */
struct bb {
	uint8_t *b;
	size_t n, cap;
	size_t open[48];
	int depth;
};

static void bb_init(struct bb *w, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->b = malloc(cap);
	w->cap = cap;
}

static void bb_raw(struct bb *w, const void *p, size_t n)
{
	ck_assert_uint_le(w->n + n, w->cap);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void bb_i32(struct bb *w, int32_t v)
{
	uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	bb_raw(w, le, 4);
}

static void bb_i64(struct bb *w, int64_t v)
{
	bb_i32(w, (int32_t)(v & 0xffffffff));
	bb_i32(w, (int32_t)(v >> 32));
}

static void bb_key(struct bb *w, uint8_t type, const char *key)
{
	bb_raw(w, &type, 1);
	bb_raw(w, key, strlen(key) + 1);
}

static void bb_begin(struct bb *w)
{
	w->open[w->depth++] = w->n;
	bb_i32(w, 0);
}

/* Ends a document (with its 0) or, with doc 0, a message. */
static void bb_end_as(struct bb *w, int doc)
{
	size_t start = w->open[--w->depth];
	int32_t len;

	if (doc)
		bb_raw(w, "", 1);
	len = (int32_t)(w->n - start);
	memcpy(w->b + start, &len, 4);
}

#define bb_end(w) bb_end_as((w), 1)

static void bb_sub(struct bb *w, uint8_t type, const char *key)
{
	bb_key(w, type, key);
	bb_begin(w);
}

static void bb_str(struct bb *w, const char *key, const char *s)
{
	bb_key(w, 0x02, key);
	bb_i32(w, (int32_t)strlen(s) + 1);
	bb_raw(w, s, strlen(s) + 1);
}

static void bb_int(struct bb *w, const char *key, int32_t v)
{
	bb_key(w, 0x10, key);
	bb_i32(w, v);
}

static void bb_long(struct bb *w, const char *key, int64_t v)
{
	bb_key(w, 0x12, key);
	bb_i64(w, v);
}

static void bb_double(struct bb *w, const char *key, double d)
{
	bb_key(w, 0x01, key);
	bb_raw(w, &d, 8);
}

/* Starts an OP_MSG with flags and opens its kind-0 body. */
static void bb_msg_begin(struct bb *w, int32_t rid, int32_t rto, uint32_t flags)
{
	bb_begin(w);
	bb_i32(w, rid);
	bb_i32(w, rto);
	bb_i32(w, GLASS_MONGO_OP_MSG);
	bb_i32(w, (int32_t)flags);
	bb_raw(w, "", 1);
	bb_begin(w);
}

static void bb_msg_end(struct bb *w)
{
	bb_end(w);
	bb_end_as(w, 0);
}

struct mongo_rec {
	enum glass_mongo_event ev;
	struct glass_mongo_msg msg;
};

struct mongo_log {
	size_t n;
	int gave_up;
	uint64_t dropped;
	struct mongo_rec r[32];
};

static struct mongo_log *mongo_run(const struct step *s, size_t n, const struct cut *k)
{
	struct mongo_log *log = calloc(1, sizeof(*log));
	struct glass_mongo_conn *c = malloc(sizeof(*c));

	glass_mongo_init(c);
	for (size_t i = 0; i < n; i++) {
		size_t off = 0;

		while (off < s[i].len) {
			size_t piece = cut_next(k, i, off, s[i].len), done = 0;

			while (done < piece) {
				enum glass_mongo_event ev;
				size_t used = glass_mongo_feed(
				    c, s[i].dir, (const uint8_t *)s[i].data + off + done,
				    piece - done, &ev);

				ck_assert(used > 0);
				done += used;
				if (ev == GLASS_MONGO_NONE)
					continue;
				ck_assert_uint_lt(log->n, sizeof(log->r) / sizeof(log->r[0]));
				log->r[log->n].ev = ev;
				if (ev != GLASS_MONGO_GAVE_UP)
					log->r[log->n].msg = c->dir[s[i].dir].msg;
				if (ev == GLASS_MONGO_REQUEST)
					glass_mongo_set_user(
					    c, c->dir[0].msg.request_id,
					    7000 + (uint64_t)c->dir[0].msg.request_id);
				log->n++;
			}
			off += piece;
		}
	}
	log->gave_up = c->gave_up;
	log->dropped = c->pending_dropped;
	free(c);
	return log;
}

static struct mongo_log *mongo_run_all_ways(const struct step *s, size_t n)
{
	struct cut whole = {0, (size_t)-1, 0}, bytes = {1, 0, 0}, header = {16, 0, 0};
	struct mongo_log *ref = mongo_run(s, n, &whole), *log;

	log = mongo_run(s, n, &bytes);
	ck_assert(memcmp(log, ref, sizeof(*log)) == 0);
	free(log);
	log = mongo_run(s, n, &header);
	ck_assert(memcmp(log, ref, sizeof(*log)) == 0);
	free(log);
	for (size_t i = 0; i < n; i++) {
		for (size_t at = 1; at < s[i].len; at++) {
			struct cut k = {0, i, at};

			log = mongo_run(s, n, &k);
			ck_assert_msg(memcmp(log, ref, sizeof(*log)) == 0, "step %zu split at %zu",
				      i, at);
			free(log);
		}
	}
	return ref;
}

START_TEST(mongo_pymongo_session_is_read)
{
	/* GIVEN pymongo's handshake, a find, an insert, their replies, an error and a
	 * compressed find, in the order a connection sees them */
	struct step s[] = {
	    STEP_BYTES(GLASS_MONGO_REQUESTS, mongo_ismaster_query),
	    STEP_BYTES(GLASS_MONGO_REPLIES, mongo_ismaster_reply),
	    STEP_BYTES(GLASS_MONGO_REQUESTS, mongo_find_msg),
	    STEP_BYTES(GLASS_MONGO_REPLIES, mongo_find_reply),
	    STEP_BYTES(GLASS_MONGO_REQUESTS, mongo_insert_msg),
	    STEP_BYTES(GLASS_MONGO_REPLIES, mongo_insert_reply),
	    STEP_BYTES(GLASS_MONGO_REPLIES, mongo_error_reply),
	    STEP_BYTES(GLASS_MONGO_REQUESTS, mongo_find_zlib),
	};
	/* WHEN fed whole, byte by byte, header then body, and split anywhere */
	struct mongo_log *log = mongo_run_all_ways(s, NSTEPS(s));
	const struct glass_mongo_msg *m;

	ck_assert_uint_eq(log->n, 8);
	for (size_t i = 0; i < log->n; i++)
		ck_assert_uint_eq(log->r[i].msg.bson_error, 0);
	/* THEN the handshake is OP_QUERY isMaster on admin */
	m = &log->r[0].msg;
	ck_assert_int_eq(log->r[0].ev, GLASS_MONGO_REQUEST);
	ck_assert_int_eq(m->opcode, GLASS_MONGO_OP_QUERY);
	ck_assert_int_eq(m->length, sizeof(mongo_ismaster_query));
	ck_assert_str_eq(m->command, "ismaster");
	ck_assert_str_eq(m->db, "admin");
	ck_assert_str_eq(m->collection, "");
	ck_assert_int_eq(m->number_to_return, -1);
	/* AND its OP_REPLY answers it: one document, ok 1 */
	m = &log->r[1].msg;
	ck_assert_int_eq(log->r[1].ev, GLASS_MONGO_REPLY);
	ck_assert_int_eq(m->opcode, GLASS_MONGO_OP_REPLY);
	ck_assert_int_eq(m->response_to, 1);
	ck_assert_uint_eq(m->paired, 1);
	ck_assert_uint_eq(m->user, 7001);
	ck_assert_uint_eq(m->documents, 1);
	ck_assert_int_eq(m->number_returned, 1);
	ck_assert_uint_eq(m->has_ok, 1);
	ck_assert(m->ok == 1.0);
	/* AND the find names its collection and database */
	m = &log->r[2].msg;
	ck_assert_int_eq(m->opcode, GLASS_MONGO_OP_MSG);
	ck_assert_str_eq(m->command, "find");
	ck_assert_str_eq(m->collection, "users");
	ck_assert_str_eq(m->db, "shop");
	ck_assert_uint_eq(m->sections, 1);
	/* AND its reply counts the first batch and is ok */
	m = &log->r[3].msg;
	ck_assert_uint_eq(m->paired, 1);
	ck_assert_uint_eq(m->user, 7002);
	ck_assert_uint_eq(m->has_batch, 1);
	ck_assert_int_eq(m->batch_docs, 3);
	ck_assert_uint_eq(m->has_cursor_id, 1);
	ck_assert_int_eq(m->cursor_id, 0);
	ck_assert(m->has_ok && m->ok == 1.0);
	/* AND the insert's documents travel in a kind-1 section */
	m = &log->r[4].msg;
	ck_assert_str_eq(m->command, "insert");
	ck_assert_str_eq(m->collection, "users");
	ck_assert_uint_eq(m->sections, 2);
	ck_assert_str_eq(m->sequence_id, "documents");
	ck_assert_uint_eq(m->sequence_docs, 4);
	m = &log->r[5].msg;
	ck_assert(m->has_n && m->n == 4);
	ck_assert_uint_eq(m->has_batch, 0);
	/* AND the error reply says what went wrong; nobody asked (responseTo 4) */
	m = &log->r[6].msg;
	ck_assert(m->has_ok && m->ok == 0.0);
	ck_assert_str_eq(m->errmsg, "ns not found");
	ck_assert(m->has_code && m->code == 26);
	ck_assert_uint_eq(m->paired, 0);
	/* AND the compressed find is recognised, not opened */
	m = &log->r[7].msg;
	ck_assert_int_eq(m->opcode, GLASS_MONGO_OP_COMPRESSED);
	ck_assert_int_eq(m->original_opcode, GLASS_MONGO_OP_MSG);
	ck_assert_uint_eq(m->compressor_id, 2); /* zlib */
	ck_assert_int_gt(m->uncompressed_size, 0);
	ck_assert_str_eq(m->command, "");
	free(log);
}
END_TEST

START_TEST(mongo_fields_after_a_large_batch_are_seen)
{
	/* GIVEN a find reply of 2000 documents (about 100 KB), "ok" after the batch */
	struct bb w;
	struct glass_mongo_conn c;
	enum glass_mongo_event ev = GLASS_MONGO_NONE;
	size_t off = 0;

	bb_init(&w, 1 << 20);
	bb_msg_begin(&w, 900, 0, 0);
	bb_sub(&w, 0x03, "cursor");
	bb_sub(&w, 0x04, "firstBatch");
	for (int i = 0; i < 2000; i++) {
		char k[16], name[40];

		snprintf(k, sizeof(k), "%d", i);
		snprintf(name, sizeof(name), "customer number %08d", i);
		bb_sub(&w, 0x03, k);
		bb_int(&w, "_id", i);
		bb_str(&w, "name", name);
		bb_end(&w);
	}
	bb_end(&w);
	bb_long(&w, "id", 8589934593LL);
	bb_str(&w, "ns", "shop.customers");
	bb_end(&w);
	bb_double(&w, "ok", 1.0);
	bb_msg_end(&w);
	ck_assert_uint_gt(w.n, 100000);
	/* WHEN it is read as pymongo reads it: the header, then the body in 4 KiB pieces */
	glass_mongo_init(&c);
	while (off < w.n) {
		size_t piece = off == 0 ? 16 : (w.n - off < 4096 ? w.n - off : 4096);

		off += glass_mongo_feed(&c, GLASS_MONGO_REPLIES, w.b + off, piece, &ev);
	}
	/* THEN the batch is counted and the fields after it are there */
	ck_assert_int_eq(ev, GLASS_MONGO_REPLY);
	ck_assert_uint_eq(c.dir[1].msg.bson_error, 0);
	ck_assert_int_eq(c.dir[1].msg.batch_docs, 2000);
	ck_assert_int_eq(c.dir[1].msg.cursor_id, 8589934593LL);
	ck_assert(c.dir[1].msg.has_ok && c.dir[1].msg.ok == 1.0);
	free(w.b);
}
END_TEST

START_TEST(mongo_get_more_and_exhaust_replies_pair)
{
	struct bb w;
	struct step s[4];
	size_t at[5];

	bb_init(&w, 4096);
	/* GIVEN a getMore allowing exhaust */
	at[0] = w.n;
	bb_msg_begin(&w, 10, 0, GLASS_MONGO_MSG_EXHAUST_ALLOWED);
	bb_long(&w, "getMore", 12345);
	bb_str(&w, "collection", "users");
	bb_str(&w, "$db", "shop");
	bb_msg_end(&w);
	/* AND three replies, each answering the one before, the last without moreToCome */
	for (int i = 0; i < 3; i++) {
		at[i + 1] = w.n;
		bb_msg_begin(&w, 200 + i, i == 0 ? 10 : 200 + i - 1,
			     i < 2 ? GLASS_MONGO_MSG_MORE_TO_COME : 0);
		bb_sub(&w, 0x03, "cursor");
		bb_sub(&w, 0x04, "nextBatch");
		bb_sub(&w, 0x03, "0");
		bb_int(&w, "_id", i);
		bb_end(&w);
		bb_end(&w);
		bb_long(&w, "id", i < 2 ? 12345 : 0);
		bb_end(&w);
		bb_double(&w, "ok", 1);
		bb_msg_end(&w);
	}
	at[4] = w.n;
	for (int i = 0; i < 4; i++) {
		s[i].dir = i ? GLASS_MONGO_REPLIES : GLASS_MONGO_REQUESTS;
		s[i].data = w.b + at[i];
		s[i].len = at[i + 1] - at[i];
	}
	struct mongo_log *log = mongo_run_all_ways(s, 4);

	/* THEN the getMore names the collection from "collection" */
	ck_assert_str_eq(log->r[0].msg.command, "getMore");
	ck_assert_str_eq(log->r[0].msg.collection, "users");
	/* AND every reply of the exhaust stream goes back to the getMore */
	for (int i = 1; i <= 3; i++) {
		ck_assert_uint_eq(log->r[i].msg.paired, 1);
		ck_assert_uint_eq(log->r[i].msg.user, 7010);
		ck_assert_int_eq(log->r[i].msg.batch_docs, 1);
	}
	ck_assert_int_eq(log->r[1].msg.cursor_id, 12345);
	free(log);
	free(w.b);
}
END_TEST

START_TEST(mongo_checksum_and_legacy_forms)
{
	struct bb w;
	struct glass_mongo_conn c;
	enum glass_mongo_event ev;
	const struct glass_mongo_msg *m = &c.dir[0].msg;

	glass_mongo_init(&c);
	/* GIVEN an OP_MSG with a CRC-32C after its sections */
	bb_init(&w, 4096);
	bb_msg_begin(&w, 1, 0, GLASS_MONGO_MSG_CHECKSUM_PRESENT);
	bb_int(&w, "ping", 1);
	bb_str(&w, "$db", "admin");
	bb_end(&w);
	bb_raw(&w, "\x12\x34\x56\x78", 4);
	bb_end_as(&w, 0);
	ck_assert_uint_eq(glass_mongo_feed(&c, 0, w.b, w.n, &ev), w.n);
	/* THEN it reads like any other */
	ck_assert_int_eq(ev, GLASS_MONGO_REQUEST);
	ck_assert_uint_eq(m->bson_error, 0);
	ck_assert_str_eq(m->command, "ping");
	ck_assert_str_eq(m->db, "admin");

	/* GIVEN a legacy OP_QUERY command wrapped in $query (with a read preference) */
	w.n = 0;
	bb_begin(&w);
	bb_i32(&w, 2);
	bb_i32(&w, 0);
	bb_i32(&w, GLASS_MONGO_OP_QUERY);
	bb_i32(&w, 4);
	bb_raw(&w, "shop.$cmd", 10);
	bb_i32(&w, 0);
	bb_i32(&w, -1);
	bb_begin(&w);
	bb_sub(&w, 0x03, "$query");
	bb_str(&w, "count", "users");
	bb_end(&w);
	bb_sub(&w, 0x03, "$readPreference");
	bb_str(&w, "mode", "secondaryPreferred");
	bb_end(&w);
	bb_end(&w);
	bb_end_as(&w, 0);
	ck_assert_uint_eq(glass_mongo_feed(&c, 0, w.b, w.n, &ev), w.n);
	ck_assert_str_eq(m->command, "count");
	ck_assert_str_eq(m->collection, "users");
	ck_assert_str_eq(m->db, "shop");
	ck_assert_uint_eq(m->flags, 4);

	/* GIVEN a legacy query on a collection, with a field selector */
	w.n = 0;
	bb_begin(&w);
	bb_i32(&w, 3);
	bb_i32(&w, 0);
	bb_i32(&w, GLASS_MONGO_OP_QUERY);
	bb_i32(&w, 0);
	bb_raw(&w, "shop.users", 11);
	bb_i32(&w, 20);
	bb_i32(&w, 10);
	bb_begin(&w);
	bb_str(&w, "name", "bob");
	bb_end(&w);
	bb_begin(&w);
	bb_int(&w, "name", 1);
	bb_end(&w);
	bb_end_as(&w, 0);
	ck_assert_uint_eq(glass_mongo_feed(&c, 0, w.b, w.n, &ev), w.n);
	/* THEN the filter's first key is no command name, and the collection is the namespace's */
	ck_assert_uint_eq(m->bson_error, 0);
	ck_assert_str_eq(m->command, "");
	ck_assert_str_eq(m->collection, "users");
	ck_assert_int_eq(m->number_to_skip, 20);
	ck_assert_int_eq(m->number_to_return, 10);

	/* GIVEN a legacy query failure: OP_REPLY with $err */
	w.n = 0;
	bb_begin(&w);
	bb_i32(&w, 50);
	bb_i32(&w, 3);
	bb_i32(&w, GLASS_MONGO_OP_REPLY);
	bb_i32(&w, GLASS_MONGO_REPLY_QUERY_FAILURE);
	bb_i64(&w, 0);
	bb_i32(&w, 0);
	bb_i32(&w, 1);
	bb_begin(&w);
	bb_str(&w, "$err", "not authorized on shop to execute command");
	bb_int(&w, "code", 13);
	bb_end(&w);
	bb_end_as(&w, 0);
	ck_assert_uint_eq(glass_mongo_feed(&c, 1, w.b, w.n, &ev), w.n);
	ck_assert_int_eq(ev, GLASS_MONGO_REPLY);
	ck_assert_str_eq(c.dir[1].msg.errmsg, "not authorized on shop to execute command");
	ck_assert_int_eq(c.dir[1].msg.code, 13);
	ck_assert_uint_eq(c.dir[1].msg.paired, 1);
	free(w.b);
}
END_TEST

START_TEST(mongo_bad_headers_give_up)
{
	static const int32_t cases[][4] = {
	    {15, 1, 0, GLASS_MONGO_OP_MSG},
	    {-100, 1, 0, GLASS_MONGO_OP_MSG},
	    {GLASS_MONGO_MAX_MESSAGE + 1, 1, 0, GLASS_MONGO_OP_MSG},
	    {40, 1, 0, 9999},
	    {40, 1, 0, 2003},
	    {40, 1, 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct glass_mongo_conn c;
		enum glass_mongo_event ev;

		glass_mongo_init(&c);
		/* WHEN the header arrives in two pieces */
		ck_assert_uint_eq(glass_mongo_feed(&c, 0, cases[i], 7, &ev), 7);
		ck_assert_int_eq(ev, GLASS_MONGO_NONE);
		ck_assert_uint_eq(glass_mongo_feed(&c, 0, (const char *)cases[i] + 7, 9, &ev), 9);
		/* THEN the connection is given up, and later bytes are ignored */
		ck_assert_msg(ev == GLASS_MONGO_GAVE_UP, "case %zu", i);
		ck_assert_uint_eq(
		    glass_mongo_feed(&c, 1, mongo_find_reply, sizeof(mongo_find_reply), &ev),
		    sizeof(mongo_find_reply));
		ck_assert_int_eq(ev, GLASS_MONGO_NONE);
	}
}
END_TEST

/* Builds `kind` of broken body into w (a whole message of length stated by its header). */
static void mongo_broken(struct bb *w, int kind)
{
	w->n = 0;
	w->depth = 0;
	bb_msg_begin(w, 60 + kind, 0, 0);
	switch (kind) {
	case 0: /* a string claiming more than the document holds */
		bb_key(w, 0x02, "find");
		bb_i32(w, 1000);
		bb_raw(w, "users", 6);
		break;
	case 1: /* a negative string length */
		bb_key(w, 0x02, "find");
		bb_i32(w, -5);
		bb_raw(w, "users", 6);
		break;
	case 2: /* an unknown type */
		bb_key(w, 0x42, "find");
		bb_i32(w, 1);
		break;
	case 3: /* a nested document longer than its parent */
		bb_key(w, 0x03, "cursor");
		bb_i32(w, 100000);
		bb_i32(w, 0);
		break;
	case 4: /* a document too short to be one */
		bb_key(w, 0x03, "filter");
		bb_i32(w, 4);
		break;
	case 5: /* a binary whose length wraps */
		bb_key(w, 0x05, "b");
		bb_i32(w, -1);
		bb_raw(w, "\x00", 1);
		break;
	default: /* a key that never ends */
		bb_raw(w, "\x10verylongkeywithoutend", 22);
		break;
	}
	bb_end(w);
	bb_end_as(w, 0);
}

START_TEST(mongo_broken_bodies_stay_in_step)
{
	struct bb w, all;

	bb_init(&w, 4096);
	bb_init(&all, 65536);
	/* GIVEN each kind of broken body, each followed by a good find */
	for (int kind = 0; kind < 7; kind++) {
		mongo_broken(&w, kind);
		bb_raw(&all, w.b, w.n);
		bb_raw(&all, mongo_find_msg, sizeof(mongo_find_msg));
	}
	struct step s[] = {{GLASS_MONGO_REQUESTS, all.b, all.n}};
	struct cut whole = {0, (size_t)-1, 0}, bytes = {1, 0, 0};
	struct mongo_log *log = mongo_run(s, 1, &whole), *log1 = mongo_run(s, 1, &bytes);

	/* THEN each broken one is marked and skipped by its length, and the find after it is
	 * read in full */
	ck_assert(memcmp(log, log1, sizeof(*log)) == 0);
	ck_assert_uint_eq(log->n, 14);
	for (int kind = 0; kind < 7; kind++) {
		ck_assert_msg(log->r[2 * kind].msg.bson_error == 1, "kind %d", kind);
		ck_assert_int_eq(log->r[2 * kind].msg.request_id, 60 + kind);
		ck_assert_uint_eq(log->r[2 * kind + 1].msg.bson_error, 0);
		ck_assert_str_eq(log->r[2 * kind + 1].msg.collection, "users");
	}
	ck_assert_int_eq(log->gave_up, 0);
	free(log);
	free(log1);
	free(w.b);
	free(all.b);
}
END_TEST

START_TEST(mongo_sections_must_fit)
{
	struct bb w;
	struct glass_mongo_conn c;
	enum glass_mongo_event ev;

	bb_init(&w, 4096);
	/* GIVEN a kind-1 section whose size runs past the message */
	bb_begin(&w);
	bb_i32(&w, 70);
	bb_i32(&w, 0);
	bb_i32(&w, GLASS_MONGO_OP_MSG);
	bb_i32(&w, 0);
	bb_raw(&w, "\x01", 1);
	bb_i32(&w, 5000);
	bb_raw(&w, "documents", 10);
	bb_begin(&w);
	bb_int(&w, "a", 1);
	bb_end(&w);
	/* AND a section of kind 2 */
	bb_raw(&w, "\x02\x00\x00\x00", 4);
	bb_end_as(&w, 0);
	glass_mongo_init(&c);
	ck_assert_uint_eq(glass_mongo_feed(&c, 0, w.b, w.n, &ev), w.n);
	ck_assert_int_eq(ev, GLASS_MONGO_REQUEST);
	ck_assert_uint_eq(c.dir[0].msg.bson_error, 1);
	free(w.b);
}
END_TEST

START_TEST(mongo_pairing_table_drops_the_oldest)
{
	struct glass_mongo_conn c;
	struct bb w;
	enum glass_mongo_event ev;

	glass_mongo_init(&c);
	bb_init(&w, 4096);
	/* GIVEN 70 requests nobody answers yet */
	for (int i = 1; i <= 70; i++) {
		w.n = 0;
		bb_msg_begin(&w, i, 0, 0);
		bb_int(&w, "ping", 1);
		bb_msg_end(&w);
		glass_mongo_feed(&c, 0, w.b, w.n, &ev);
		ck_assert_int_eq(ev, GLASS_MONGO_REQUEST);
		glass_mongo_set_user(&c, i, (uint64_t)i);
	}
	/* THEN the 6 oldest are forgotten, counted, and their replies unpaired */
	ck_assert_uint_eq(c.pending_dropped, 6);
	for (int i = 1; i <= 70; i++) {
		w.n = 0;
		bb_msg_begin(&w, 1000 + i, i, 0);
		bb_double(&w, "ok", 1);
		bb_msg_end(&w);
		glass_mongo_feed(&c, 1, w.b, w.n, &ev);
		ck_assert_int_eq(ev, GLASS_MONGO_REPLY);
		ck_assert_uint_eq(c.dir[1].msg.paired, i > 6);
		if (i > 6)
			ck_assert_uint_eq(c.dir[1].msg.user, (uint64_t)i);
	}
	/* AND a request with moreToCome expects no reply */
	w.n = 0;
	bb_msg_begin(&w, 99, 0, GLASS_MONGO_MSG_MORE_TO_COME);
	bb_str(&w, "insert", "log");
	bb_msg_end(&w);
	glass_mongo_feed(&c, 0, w.b, w.n, &ev);
	ck_assert_int_eq(glass_mongo_set_user(&c, 99, 1), 0);
	free(w.b);
}
END_TEST

START_TEST(bson_iterator_knows_every_type)
{
	static const struct {
		const char *key;
		uint8_t type;
		uint32_t len;
	} want[] = {
	    {"d", 0x01, 8},   {"s", 0x02, 8},	 {"o", 0x03, 12}, {"a", 0x04, 21},
	    {"b", 0x05, 8},   {"oid", 0x07, 12}, {"t", 0x08, 1},  {"dt", 0x09, 8},
	    {"n", 0x0a, 0},   {"re", 0x0b, 7},	 {"c", 0x0d, 17}, {"cws", 0x0f, 22},
	    {"i", 0x10, 4},   {"ts", 0x11, 8},	 {"l", 0x12, 8},  {"dec", 0x13, 16},
	    {"min", 0xff, 0}, {"max", 0x7f, 0},
	};
	struct glass_bson_iter it, sub;
	struct glass_bson_elem e;
	size_t i = 0;
	double d;
	const char *s;
	size_t n;

	/* GIVEN a document with every type pymongo writes */
	ck_assert_int_eq(glass_bson_validate(bson_all_types, sizeof(bson_all_types)), 1);
	ck_assert_int_eq(glass_bson_iter_init(&it, bson_all_types, sizeof(bson_all_types)), 1);
	/* THEN each element has its key, type and size */
	while (glass_bson_iter_next(&it, &e) == 1) {
		ck_assert_uint_lt(i, sizeof(want) / sizeof(want[0]));
		ck_assert_str_eq(e.key, want[i].key);
		ck_assert_uint_eq(e.key_len, strlen(want[i].key));
		ck_assert_uint_eq(e.type, want[i].type);
		ck_assert_msg(e.value_len == want[i].len, "%s: %u", e.key, e.value_len);
		i++;
	}
	ck_assert_uint_eq(i, sizeof(want) / sizeof(want[0]));
	ck_assert_int_eq(glass_bson_iter_next(&it, &e), 0);
	/* AND the accessors read numbers, strings and documents */
	glass_bson_iter_init(&it, bson_all_types, sizeof(bson_all_types));
	glass_bson_iter_next(&it, &e);
	ck_assert(glass_bson_elem_number(&e, &d) && d == 1.5);
	glass_bson_iter_next(&it, &e);
	ck_assert(glass_bson_elem_string(&e, &s, &n) && n == 3 && memcmp(s, "str", 3) == 0);
	ck_assert_int_eq(glass_bson_elem_number(&e, &d), 0);
	glass_bson_iter_next(&it, &e);
	ck_assert_int_eq(glass_bson_elem_document(&e, &sub), 1);
	ck_assert_int_eq(glass_bson_iter_next(&sub, &e), 1);
	ck_assert(glass_bson_elem_number(&e, &d) && d == 1.0);
	ck_assert_int_eq(glass_bson_iter_next(&sub, &e), 0);

	/* AND the types pymongo cannot write (undefined, DBPointer, symbol) are sized too */
	struct bb w;

	bb_init(&w, 256);
	bb_begin(&w);
	bb_key(&w, 0x06, "u");
	bb_key(&w, 0x0c, "p");
	bb_i32(&w, 3);
	bb_raw(&w, "ns", 3);
	bb_raw(&w, "0123456789ab", 12);
	bb_key(&w, 0x0e, "y");
	bb_i32(&w, 4);
	bb_raw(&w, "sym", 4);
	bb_end(&w);
	ck_assert_int_eq(glass_bson_validate(w.b, w.n), 1);
	glass_bson_iter_init(&it, w.b, w.n);
	ck_assert_int_eq(glass_bson_iter_next(&it, &e), 1);
	ck_assert_uint_eq(e.value_len, 0);
	ck_assert_int_eq(glass_bson_iter_next(&it, &e), 1);
	ck_assert_uint_eq(e.value_len, 19);
	ck_assert_int_eq(glass_bson_iter_next(&it, &e), 1);
	ck_assert_uint_eq(e.value_len, 8);
	ck_assert_int_eq(glass_bson_iter_next(&it, &e), 0);
	free(w.b);
}
END_TEST

START_TEST(bson_lengths_are_never_trusted)
{
	uint8_t doc[sizeof(bson_all_types)];
	struct glass_bson_iter it;
	struct glass_bson_elem e;

	/* GIVEN the document cut short anywhere: it is not one */
	for (size_t cut = 0; cut < sizeof(bson_all_types); cut++)
		ck_assert_int_eq(glass_bson_validate(bson_all_types, cut), 0);
	/* GIVEN any single byte changed: validation never reads outside, whatever it says */
	for (size_t i = 0; i < sizeof(doc); i++) {
		for (int v = 0; v < 256; v += 17) {
			memcpy(doc, bson_all_types, sizeof(doc));
			doc[i] = (uint8_t)v;
			(void)glass_bson_validate(doc, sizeof(doc));
			if (glass_bson_iter_init(&it, doc, sizeof(doc)))
				while (glass_bson_iter_next(&it, &e) == 1)
					;
		}
	}
	/* AND an error is sticky */
	memcpy(doc, bson_all_types, sizeof(doc));
	doc[4] = 0x42; /* first element's type */
	ck_assert_int_eq(glass_bson_iter_init(&it, doc, sizeof(doc)), 1);
	ck_assert_int_eq(glass_bson_iter_next(&it, &e), -1);
	ck_assert_int_eq(glass_bson_iter_next(&it, &e), -1);
	ck_assert_int_eq(glass_bson_validate(doc, sizeof(doc)), 0);
	/* AND a document whose length exceeds what is there is refused */
	ck_assert_int_eq(glass_bson_iter_init(&it, "\xff\x00\x00\x00\x00", 5), 0);
	ck_assert_int_eq(glass_bson_iter_init(&it, "\x05\x00\x00\x00\x01", 5), 0);
	ck_assert_int_eq(glass_bson_iter_init(&it, NULL, 5), 0);
}
END_TEST

START_TEST(bson_nesting_is_bounded)
{
	struct bb w;

	/* GIVEN documents nested 32 deep: valid; 33 deep: refused */
	for (int depth = 32; depth <= 33; depth++) {
		bb_init(&w, 4096);
		bb_begin(&w);
		for (int i = 1; i < depth; i++)
			bb_sub(&w, 0x03, "x");
		bb_int(&w, "leaf", 1);
		for (int i = 0; i < depth; i++)
			bb_end(&w);
		ck_assert_int_eq(glass_bson_validate(w.b, w.n), depth == 32);
		free(w.b);
	}
}
END_TEST

/* ---- traceparent insertion (proto-inject.c) ------------------------------------------------ */

struct inj_sock {
	char wire[4096];
	size_t n;
	size_t take[8]; /* what each write accepts (0: all), then all */
	int calls;
};

static ssize_t inj_write(void *ctx, const void *buf, size_t len, int finish)
{
	struct inj_sock *s = ctx;
	(void)finish;
	size_t t = s->calls < 8 && s->take[s->calls] ? s->take[s->calls] : len;
	s->calls++;
	if (t > len)
		t = len;
	memcpy(s->wire + s->n, buf, t);
	s->n += t;
	return (ssize_t)t;
}

START_TEST(inject_point_needs_a_whole_head_without_traceparent)
{
	enum glass_inject_why why;
	const char *get = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
	ck_assert_uint_eq(glass_inject_point(get, strlen(get), &why), 17);
	ck_assert_int_eq(why, GLASS_INJECT_OK);
	ck_assert_uint_eq(glass_inject_point(get, 20, &why), 0);
	ck_assert_int_eq(why, GLASS_INJECT_SPLIT_HEAD);
	const char *own = "GET /a HTTP/1.1\r\nTraceParent: 00-x\r\n\r\n";
	ck_assert_uint_eq(glass_inject_point(own, strlen(own), &why), 0);
	ck_assert_int_eq(why, GLASS_INJECT_HAS_HEADER);
	const char *h2 = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	ck_assert_uint_eq(glass_inject_point(h2, strlen(h2), &why), 0);
	ck_assert_int_eq(why, GLASS_INJECT_NOT_REQUEST);
	const char *resp = "HTTP/1.1 200 OK\r\n\r\n";
	ck_assert_uint_eq(glass_inject_point(resp, strlen(resp), &why), 0);
}
END_TEST

START_TEST(inject_write_returns_the_programs_bytes)
{
	const char *req = "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
	size_t len = strlen(req), at = glass_inject_point(req, len, NULL);
	char hdr[GLASS_INJECT_HEADER_LEN], scratch[256];
	ck_assert_uint_eq(glass_inject_header(hdr, 0x4bf92f3577b34da6ull, 0xa3ce929d0e0e4736ull,
					      0x00f067aa0ba902b7ull),
			  GLASS_INJECT_HEADER_LEN);
	ck_assert(!memcmp(hdr, "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n",
			  GLASS_INJECT_HEADER_LEN));
	/* whole; cut inside the header (finished); cut before it */
	size_t takes[3] = {0, at + 10, 5};
	for (int k = 0; k < 3; k++) {
		struct inj_sock s = {.n = 0, .calls = 0};
		s.take[0] = takes[k];
		enum glass_inject_outcome oc;
		ssize_t r = glass_inject_write(inj_write, &s, req, len, at, hdr, sizeof(hdr), scratch,
					       sizeof(scratch), &oc);
		if (k == 0) {
			ck_assert_int_eq(oc, GLASS_INJECTED);
			ck_assert_int_eq(r, (ssize_t)len);
			ck_assert_uint_eq(s.n, len + sizeof(hdr));
		} else if (k == 1) {
			ck_assert_int_eq(oc, GLASS_INJECTED);
			ck_assert_int_eq(r, (ssize_t)at); /* only the request line is the program's */
			ck_assert_uint_eq(s.n, at + sizeof(hdr));
		} else {
			ck_assert_int_eq(oc, GLASS_INJECT_NOT_YET);
			ck_assert_int_eq(r, 5);
			ck_assert_uint_eq(s.n, 5);
		}
		ck_assert(!memcmp(s.wire, req, r < (ssize_t)at ? (size_t)r : at));
		if (oc == GLASS_INJECTED)
			ck_assert(!memcmp(s.wire + at, hdr, sizeof(hdr)));
	}
	/* too big for the scratch with its body: the head goes out first */
	struct inj_sock s = {.n = 0, .calls = 0};
	enum glass_inject_outcome oc;
	ssize_t r = glass_inject_write(inj_write, &s, req, len, at, hdr, sizeof(hdr), scratch,
				       len - 3 + sizeof(hdr), &oc);
	ck_assert_int_eq(oc, GLASS_INJECTED);
	ck_assert_int_eq(r, (ssize_t)(len - 3));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proto");
	/* The http cases run twice: with runs of head bytes taken in one step (the default), and
	 * byte by byte (the reference). */
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		TCase *tc = tcase_create(bytewise ? "http-bytewise" : "http");

		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, http_curl_request_head_is_read);
		tcase_add_test(tc, http_server_exchange_pairs_request_and_response);
		tcase_add_test(tc, http_chunked_response_ends_after_its_last_chunk);
		tcase_add_test(tc, http_keep_alive_bodies_are_skipped_to_the_next_request);
		tcase_add_test(tc, http_pipelined_requests_are_answered_in_order);
		tcase_add_test(tc, http_100_continue_is_an_interim_head);
		tcase_add_test(tc, http_204_and_304_have_no_body);
		tcase_add_test(tc, http_body_without_length_ends_with_the_connection);
		tcase_add_test(tc, http_user_values_come_back_with_responses_and_aborts);
		tcase_add_test(tc, http_client_side_is_the_same_machine);
		tcase_add_test(tc, http_1_0_keep_alive_needs_asking);
		tcase_add_test(tc, http_upgrade_and_connect_become_tunnels);
		tcase_add_test(tc, http_refused_upgrade_goes_on_as_http);
		tcase_add_test(tc, http_response_without_request_is_unpaired);
		tcase_add_test(tc, http_deep_pipelines_keep_counting);
		tcase_add_test(tc, http_long_target_and_user_agent_are_cut);
		tcase_add_test(tc, http_traceparent_is_validated);
		tcase_add_test(tc, http_only_allowed_headers_are_ever_copied);
		tcase_add_test(tc, http_not_http_gives_up_at_once);
		tcase_add_test(tc, http_hostile_lengths_and_framing);
		tcase_add_test(tc, http_targets_are_redacted);
		if (bytewise)
			tcase_add_checked_fixture(tc, http_bytewise_on, http_bytewise_off);
		suite_add_tcase(s, tc);
	}
	TCase *tc;

	tc = tcase_create("resp");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, resp_pipelined_commands_are_named_and_counted);
	tcase_add_test(tc, resp_replies_are_paired_in_order);
	tcase_add_test(tc, resp_inline_commands_are_read);
	tcase_add_test(tc, resp3_types_are_skipped_by_their_length);
	tcase_add_test(tc, resp_subscribe_ends_pairing);
	tcase_add_test(tc, resp_nesting_is_bounded);
	tcase_add_test(tc, resp_hostile_input_gives_up);
	tcase_add_test(tc, resp_large_bulk_is_skipped_not_kept);
	tcase_add_test(tc, resp_more_commands_than_remembered_still_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("inject");
	tcase_add_test(tc, inject_point_needs_a_whole_head_without_traceparent);
	tcase_add_test(tc, inject_write_returns_the_programs_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("mongo");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, mongo_pymongo_session_is_read);
	tcase_add_test(tc, mongo_fields_after_a_large_batch_are_seen);
	tcase_add_test(tc, mongo_get_more_and_exhaust_replies_pair);
	tcase_add_test(tc, mongo_checksum_and_legacy_forms);
	tcase_add_test(tc, mongo_bad_headers_give_up);
	tcase_add_test(tc, mongo_broken_bodies_stay_in_step);
	tcase_add_test(tc, mongo_sections_must_fit);
	tcase_add_test(tc, mongo_pairing_table_drops_the_oldest);
	tcase_add_test(tc, bson_iterator_knows_every_type);
	tcase_add_test(tc, bson_lengths_are_never_trusted);
	tcase_add_test(tc, bson_nesting_is_bounded);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
