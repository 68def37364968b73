/* tests/fuzz/fuzz-split.h — what the fuzz targets share: piece sizes and a running digest. */
#ifndef GLASS_FUZZ_SPLIT_H
#define GLASS_FUZZ_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Every target feeds its input three ways: whole, in pieces whose sizes come from a generator
 * seeded by the input itself (so a crash replays), and byte by byte. What the parser reports
 * is folded into a digest per way; different digests mean a piece boundary changed the result,
 * and the target traps.
 */

struct fuzz_split {
	uint64_t state; /* 0: whole */
	int bytes;	/* 1: one byte at a time */
};

static inline uint64_t fuzz_hash(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static inline void fuzz_split_init(struct fuzz_split *s, int way, const uint8_t *data, size_t n)
{
	s->bytes = way == 2;
	s->state = way == 1 ? fuzz_hash(0xcbf29ce484222325ULL, data, n) | 1 : 0;
}

/* The size of the next piece, at most left. */
static inline size_t fuzz_split_next(struct fuzz_split *s, size_t left)
{
	size_t n;

	if (s->bytes)
		return left ? 1 : 0;
	if (!s->state)
		return left;
	s->state ^= s->state << 13;
	s->state ^= s->state >> 7;
	s->state ^= s->state << 17;
	switch (s->state & 3) {
	case 0:
		n = 1 + (s->state >> 8) % 3;
		break;
	case 1:
		n = 1 + (s->state >> 8) % 64;
		break;
	case 2:
		n = 1 + (s->state >> 8) % 4096;
		break;
	default:
		n = 16; /* pymongo's header read */
		break;
	}
	return n < left ? n : left;
}

/* Splits data at the first `sep` into the two streams of a connection. */
static inline void fuzz_two_streams(const uint8_t *data, size_t n, const char *sep,
				    const uint8_t **a, size_t *na, const uint8_t **b, size_t *nb)
{
	size_t sl = strlen(sep);
	const uint8_t *p = sl <= n ? memmem(data, n, sep, sl) : NULL;

	*a = data;
	*na = p ? (size_t)(p - data) : n;
	*b = p ? p + sl : data + n;
	*nb = p ? n - *na - sl : 0;
}

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#endif /* GLASS_FUZZ_SPLIT_H */
