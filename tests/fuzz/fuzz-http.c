/* tests/fuzz/fuzz-http.c — libFuzzer: the HTTP/1.x machine, redaction and traceparent checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preload/proto-http.h"
#include "tests/fuzz/fuzz-split.h"

/*
 * Input: the request stream, then "<<<response>>>", then the response stream (no separator:
 * requests only). Each way feeds all request bytes, then all response bytes, then closes.
 */

static uint64_t http_fold(uint64_t h, const struct glass_http_conn *c, unsigned ev)
{
	h = fuzz_hash(h, &ev, sizeof(ev));
	if (ev & (GLASS_HTTP_REQUEST_HEAD | GLASS_HTTP_REQUEST_END))
		h = fuzz_hash(h, &c->request, sizeof(c->request));
	if (ev & (GLASS_HTTP_RESPONSE_BEGIN | GLASS_HTTP_RESPONSE_HEAD | GLASS_HTTP_RESPONSE_END |
		  GLASS_HTTP_ABORTED))
		h = fuzz_hash(h, &c->response, sizeof(c->response));
	return h;
}

static void http_check_request(const struct glass_http_request *q)
{
	char out[GLASS_HTTP_TARGET_MAX * 2];
	int cut;
	size_t n;

	FUZZ_CHECK(memchr(q->method, 0, sizeof(q->method)));
	FUZZ_CHECK(memchr(q->target, 0, sizeof(q->target)));
	FUZZ_CHECK(memchr(q->host, 0, sizeof(q->host)));
	FUZZ_CHECK(q->traceparent_state != 1 ||
		   glass_http_traceparent_valid(q->traceparent, strlen(q->traceparent)));
	n = glass_http_redact_target(q->target, strlen(q->target), out, sizeof(out), &cut);
	FUZZ_CHECK(n == strlen(out));
	FUZZ_CHECK(!cut);
	n = glass_http_redact_target(q->target, strlen(q->target), out, 17, &cut);
	FUZZ_CHECK(n <= 16 && n == strlen(out));
}

static uint64_t http_way(const struct glass_http_config *cfg, int way, const uint8_t *rq,
			 size_t nrq, const uint8_t *rs, size_t nrs, const uint8_t *all, size_t nall)
{
	struct glass_http_conn c;
	struct fuzz_split sp;
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *bufs[2] = {rq, rs};
	size_t lens[2] = {nrq, nrs};
	unsigned ev;

	glass_http_init(&c, cfg);
	fuzz_split_init(&sp, way, all, nall);
	for (int d = 0; d < 2; d++) {
		size_t off = 0;

		while (off < lens[d]) {
			size_t piece = fuzz_split_next(&sp, lens[d] - off), done = 0;

			while (done < piece) {
				size_t used =
				    glass_http_feed(&c, d, bufs[d] + off + done, piece - done, &ev);

				FUZZ_CHECK(used <= piece - done);
				FUZZ_CHECK(used > 0 || ev);
				done += used;
				if (ev & GLASS_HTTP_REQUEST_HEAD)
					http_check_request(&c.request);
				if (ev)
					h = http_fold(h, &c, ev);
			}
			off += piece;
		}
	}
	for (int i = 0; glass_http_close(&c, &ev); i++) {
		FUZZ_CHECK(i < 1000000);
		h = http_fold(h, &c, ev);
	}
	return fuzz_hash(h, &c.gave_up, sizeof(c.gave_up));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"x-request-id", "Authorization", "x-tenant"};
	struct glass_http_config cfg;
	const uint8_t *rq, *rs;
	size_t nrq, nrs;
	uint64_t whole, pieces;

	glass_http_config_init(&cfg, names, 3);
	fuzz_two_streams(data, size, "<<<response>>>", &rq, &nrq, &rs, &nrs);
	whole = http_way(&cfg, 0, rq, nrq, rs, nrs, data, size);
	pieces = http_way(&cfg, 1, rq, nrq, rs, nrs, data, size);
	FUZZ_CHECK(whole == pieces);
	if (size <= 4096)
		FUZZ_CHECK(whole == http_way(&cfg, 2, rq, nrq, rs, nrs, data, size));
	/* runs of head bytes in one step (the default) against the byte-by-byte reference */
	glass_http_runs = 0;
	FUZZ_CHECK(whole == http_way(&cfg, 0, rq, nrq, rs, nrs, data, size));
	glass_http_runs = 1;

	/* The helpers on raw bytes too. */
	char out[512];

	(void)glass_http_traceparent_valid((const char *)data, size);
	(void)glass_http_redact_target((const char *)data, size, out, sizeof(out), NULL);
	FUZZ_CHECK(memchr(out, 0, sizeof(out)));
	return 0;
}
