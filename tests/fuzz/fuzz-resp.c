/* tests/fuzz/fuzz-resp.c — libFuzzer: RESP2/RESP3 commands and replies, fed in any pieces. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preload/proto-resp.h"
#include "tests/fuzz/fuzz-split.h"

/* Input: the command stream, then "<<<replies>>>", then the reply stream. */

static uint64_t resp_way(int way, const uint8_t *rq, size_t nrq, const uint8_t *rs, size_t nrs,
			 const uint8_t *all, size_t nall)
{
	struct glass_resp_conn c;
	struct fuzz_split sp;
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *bufs[2] = {rq, rs};
	size_t lens[2] = {nrq, nrs};

	glass_resp_init(&c);
	fuzz_split_init(&sp, way, all, nall);
	for (int d = 0; d < 2; d++) {
		size_t off = 0;

		while (off < lens[d]) {
			size_t piece = fuzz_split_next(&sp, lens[d] - off), done = 0;

			while (done < piece) {
				enum glass_resp_event ev;
				size_t used =
				    glass_resp_feed(&c, d, bufs[d] + off + done, piece - done, &ev);

				FUZZ_CHECK(used > 0 && used <= piece - done);
				done += used;
				if (ev == GLASS_RESP_NONE)
					continue; /* how many calls it took depends on the pieces */
				h = fuzz_hash(h, &ev, sizeof(ev));
				if (ev == GLASS_RESP_REQUEST) {
					FUZZ_CHECK(
					    memchr(c.request.name, 0, sizeof(c.request.name)));
					FUZZ_CHECK(c.request.nkeys <= c.request.argc);
					glass_resp_set_user(&c, c.request.seq, c.request.seq * 3);
					h = fuzz_hash(h, &c.request, sizeof(c.request));
				} else if (ev == GLASS_RESP_REPLY || ev == GLASS_RESP_PUSH) {
					FUZZ_CHECK(memchr(c.reply.error, 0, sizeof(c.reply.error)));
					FUZZ_CHECK(!c.reply.paired ||
						   c.reply.user == c.reply.seq * 3);
					h = fuzz_hash(h, &c.reply, sizeof(c.reply));
				}
			}
			off += piece;
		}
	}
	return fuzz_hash(h, &c.gave_up, sizeof(c.gave_up));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *rq, *rs;
	size_t nrq, nrs;
	uint64_t whole;

	fuzz_two_streams(data, size, "<<<replies>>>", &rq, &nrq, &rs, &nrs);
	whole = resp_way(0, rq, nrq, rs, nrs, data, size);
	FUZZ_CHECK(whole == resp_way(1, rq, nrq, rs, nrs, data, size));
	if (size <= 4096)
		FUZZ_CHECK(whole == resp_way(2, rq, nrq, rs, nrs, data, size));
	return 0;
}
