/* tests/fuzz/fuzz-inject.c — libFuzzer: traceparent insertion into requests written in pieces
 * through a socket that takes random partial amounts.
 *
 * The input is the program's byte stream. The program writes it in pieces (fuzz_split sizes)
 * with a sendall loop; each call that begins a piece tries the insertion like the socket hook
 * does. The fake socket accepts a random share of each write (sometimes refusing with -1). Then:
 * every return value is what the program's own write could return (-1, or 1..len); the bytes
 * on the wire, with each inserted header line taken out, are exactly the program's bytes; each
 * header line sits right after a request line; a request carrying its own traceparent never
 * gets a second one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "preload/proto-inject.h"
#include "tests/fuzz/fuzz-split.h"

#define WIRE_MAX (1 << 20)

struct sock {
	uint64_t rng;
	char *wire;
	size_t nwire;
	int refusals;
};

static uint64_t next(struct sock *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static ssize_t fake_write(void *ctx, const void *buf, size_t len, int finish)
{
	struct sock *s = ctx;
	uint64_t r = next(s);
	if (!finish && (r & 15) == 0 && s->refusals++ < 1000)
		return -1; /* EAGAIN or an error: nothing written */
	size_t n = len;
	if (r & 16)
		n = 1 + (size_t)(r >> 20) % len; /* a partial write */
	FUZZ_CHECK(s->nwire + n <= WIRE_MAX);
	memcpy(s->wire + s->nwire, buf, n);
	s->nwire += n;
	return (ssize_t)n;
}

static const char hdr_prefix[] = "traceparent: 00-";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	static char wire[WIRE_MAX], scratch[1024], hdr[GLASS_INJECT_HEADER_LEN];
	/* a small scratch: the head-only path (when the body does not fit) is taken too */
	for (int way = 0; way < 3; way++) {
		struct fuzz_split sp;
		fuzz_split_init(&sp, way, data, size);
		struct sock s = {.rng = fuzz_hash(77, data, size) | 1, .wire = wire};
		size_t injected_at[4096], ninj = 0;
		size_t off = 0;
		uint64_t span = 1;
		while (off < size) {
			size_t piece = fuzz_split_next(&sp, size - off);
			size_t done = 0;
			int first = 1;
			while (done < piece) {
				const char *b = (const char *)data + off + done;
				size_t len = piece - done;
				enum glass_inject_why why;
				size_t at = first ? glass_inject_point(b, len, &why) : 0;
				ssize_t r;
				size_t wire_before = s.nwire;
				if (at) {
					FUZZ_CHECK(why == GLASS_INJECT_OK);
					glass_inject_header(hdr, span, span * 3, span * 7);
					span++;
					enum glass_inject_outcome oc;
					r = glass_inject_write(fake_write, &s, b, len, at, hdr,
							       sizeof(hdr), scratch, sizeof(scratch),
							       &oc);
					if (oc == GLASS_INJECTED) {
						FUZZ_CHECK(ninj < 4096);
						injected_at[ninj++] = wire_before + at;
						FUZZ_CHECK(!memcmp(s.wire + wire_before + at, hdr,
								   sizeof(hdr)));
					} else if (oc == GLASS_INJECT_TOO_BIG) {
						FUZZ_CHECK(s.nwire - wire_before ==
							   (r < 0 ? 0 : (size_t)r));
					} else {
						FUZZ_CHECK(oc == GLASS_INJECT_NOT_YET);
						FUZZ_CHECK(r < 0 || (size_t)r <= at);
						FUZZ_CHECK(s.nwire - wire_before ==
							   (r < 0 ? 0 : (size_t)r));
					}
				} else {
					r = fake_write(&s, b, len, 0);
				}
				FUZZ_CHECK(r == -1 || (r >= 1 && (size_t)r <= len));
				if (r < 0)
					continue; /* the program retries the same bytes */
				first = 0;
				done += (size_t)r;
			}
			off += piece;
		}
		/* the wire minus the inserted lines is the program's stream */
		size_t w = 0, d = 0, k = 0;
		while (w < s.nwire) {
			if (k < ninj && injected_at[k] == w) {
				FUZZ_CHECK(!memcmp(s.wire + w, hdr_prefix, sizeof(hdr_prefix) - 1));
				FUZZ_CHECK(w >= 2 && s.wire[w - 2] == '\r' && s.wire[w - 1] == '\n');
				w += GLASS_INJECT_HEADER_LEN;
				k++;
				continue;
			}
			FUZZ_CHECK(d < size && s.wire[w] == (char)data[d]);
			w++;
			d++;
		}
		FUZZ_CHECK(d == size && k == ninj);
	}
	/* a request with its own traceparent keeps it */
	enum glass_inject_why why;
	if (!glass_inject_point((const char *)data, size, &why) && why == GLASS_INJECT_HAS_HEADER)
		FUZZ_CHECK(memmem(data, size, "\r\n", 2) != NULL);
	return 0;
}
