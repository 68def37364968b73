/* tests/fuzz/fuzz-mongo.c — libFuzzer: MongoDB wire messages and the BSON reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preload/proto-mongo.h"
#include "tests/fuzz/fuzz-split.h"

/* Input: client messages, then "<<<replies>>>", then server messages. */

static uint64_t mongo_way(struct glass_mongo_conn *c, int way, const uint8_t *rq, size_t nrq,
			  const uint8_t *rs, size_t nrs, const uint8_t *all, size_t nall)
{
	struct fuzz_split sp;
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *bufs[2] = {rq, rs};
	size_t lens[2] = {nrq, nrs};

	glass_mongo_init(c);
	fuzz_split_init(&sp, way, all, nall);
	for (int d = 0; d < 2; d++) {
		size_t off = 0;

		while (off < lens[d]) {
			size_t piece = fuzz_split_next(&sp, lens[d] - off), done = 0;

			while (done < piece) {
				enum glass_mongo_event ev;
				size_t used =
				    glass_mongo_feed(c, d, bufs[d] + off + done, piece - done, &ev);
				const struct glass_mongo_msg *m = &c->dir[d].msg;

				FUZZ_CHECK(used > 0 && used <= piece - done);
				done += used;
				if (ev == GLASS_MONGO_NONE)
					continue; /* how many calls it took depends on the pieces */
				h = fuzz_hash(h, &ev, sizeof(ev));
				if (ev == GLASS_MONGO_GAVE_UP)
					continue;
				FUZZ_CHECK(m->length >= GLASS_MONGO_HEADER_SIZE);
				FUZZ_CHECK(memchr(m->command, 0, sizeof(m->command)));
				FUZZ_CHECK(memchr(m->collection, 0, sizeof(m->collection)));
				FUZZ_CHECK(memchr(m->db, 0, sizeof(m->db)));
				FUZZ_CHECK(memchr(m->errmsg, 0, sizeof(m->errmsg)));
				FUZZ_CHECK(memchr(m->sequence_id, 0, sizeof(m->sequence_id)));
				if (ev == GLASS_MONGO_REQUEST)
					glass_mongo_set_user(c, m->request_id, 42);
				h = fuzz_hash(h, m, sizeof(*m));
			}
			off += piece;
		}
	}
	return fuzz_hash(h, &c->gave_up, sizeof(c->gave_up));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct glass_mongo_conn c; /* big; a fresh init each way */
	const uint8_t *rq, *rs;
	size_t nrq, nrs;
	uint64_t whole;

	fuzz_two_streams(data, size, "<<<replies>>>", &rq, &nrq, &rs, &nrs);
	whole = mongo_way(&c, 0, rq, nrq, rs, nrs, data, size);
	FUZZ_CHECK(whole == mongo_way(&c, 1, rq, nrq, rs, nrs, data, size));
	if (size <= 4096)
		FUZZ_CHECK(whole == mongo_way(&c, 2, rq, nrq, rs, nrs, data, size));

	/* The buffer reader on every suffix that could start a document. */
	for (size_t off = 0; off + 5 <= size && off < 64; off++) {
		struct glass_bson_iter it, sub;
		struct glass_bson_elem e;
		int valid = glass_bson_validate(data + off, size - off), r, guard = 0;

		if (!glass_bson_iter_init(&it, data + off, size - off)) {
			FUZZ_CHECK(!valid);
			continue;
		}
		while ((r = glass_bson_iter_next(&it, &e)) == 1) {
			double d;
			const char *s;
			size_t n;

			FUZZ_CHECK(e.value + e.value_len <= data + size);
			FUZZ_CHECK(e.key_len == strlen(e.key));
			(void)glass_bson_elem_number(&e, &d);
			if (glass_bson_elem_string(&e, &s, &n))
				FUZZ_CHECK(s + n < (const char *)data + size);
			if (glass_bson_elem_document(&e, &sub))
				FUZZ_CHECK(sub.doc + sub.len <= data + size);
			FUZZ_CHECK(++guard < 100000);
		}
		FUZZ_CHECK(!valid || r == 0);
	}
	return 0;
}
