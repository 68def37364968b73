/* recorder/reader.c — streaming reader of glass sessions: directories, meta files and chunks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "reader.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Files are untrusted: sizes beyond these are refused rather than allocated. */
#define MAX_META_BYTES	(256u << 20)
#define MAX_CHUNK_BYTES (1u << 30)
#define MAX_ZST_BYTES	(1u << 30)
#define MAX_WARNINGS	1000
#define MAX_NOTICES	1000
#define MAX_PROCS	(1u << 20)

/* ---- small helpers ------------------------------------------------------------------------ */

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	char data[];
};

static void *arena_alloc(struct arena_block **a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (!*a || (*a)->size - (*a)->used < n) {
		size_t size = n > 60000 ? n : 65536 - sizeof(struct arena_block);
		struct arena_block *b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->next = *a;
		b->used = 0;
		b->size = size;
		*a = b;
	}
	void *p = (*a)->data + (*a)->used;
	(*a)->used += n;
	return p;
}

static char *arena_strndup(struct arena_block **a, const char *p, size_t len)
{
	char *r = arena_alloc(a, len + 1);
	if (!r)
		return NULL;
	if (len)
		memcpy(r, p, len);
	r[len] = 0;
	return r;
}

static void arena_free(struct arena_block *a)
{
	while (a) {
		struct arena_block *n = a->next;
		free(a);
		a = n;
	}
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

/* Parses a decimal uint32 of [p, end); returns the end of the digits or NULL. */
static const char *parse_u32(const char *p, uint32_t *v)
{
	uint64_t x = 0;
	const char *s = p;
	while (*p >= '0' && *p <= '9') {
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > UINT32_MAX)
			return NULL;
		p++;
	}
	if (p == s || (p - s > 1 && *s == '0'))
		return NULL;
	*v = (uint32_t)x;
	return p;
}

/* Reads up to max bytes of a regular file into a malloc'd buffer. */
static int read_file(const char *path, size_t max, uint8_t **out, size_t *len, int *truncated)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	size_t want = (size_t)st.st_size;
	*truncated = want > max;
	if (want > max)
		want = max;
	uint8_t *buf = malloc(want ? want : 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	size_t got = 0;
	while (got < want) {
		ssize_t r = read(fd, buf + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

/* ---- msgpack decoding --------------------------------------------------------------------- */

/* Every decoder checks bounds and returns -1 on bytes it cannot accept. */

static int mp_uint_slow(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	size_t left = (size_t)(end - p);
	int64_t s;
	switch (*p) {
	case 0xcc:
		if (left < 2)
			return -1;
		*v = p[1];
		*pp = p + 2;
		return 0;
	case 0xcd:
		if (left < 3)
			return -1;
		*v = be16(p + 1);
		*pp = p + 3;
		return 0;
	case 0xce:
		if (left < 5)
			return -1;
		*v = be32(p + 1);
		*pp = p + 5;
		return 0;
	case 0xcf:
		if (left < 9)
			return -1;
		*v = be64(p + 1);
		*pp = p + 9;
		return 0;
	case 0xd0:
		if (left < 2)
			return -1;
		s = (int8_t)p[1];
		*pp = p + 2;
		break;
	case 0xd1:
		if (left < 3)
			return -1;
		s = (int16_t)be16(p + 1);
		*pp = p + 3;
		break;
	case 0xd2:
		if (left < 5)
			return -1;
		s = (int32_t)be32(p + 1);
		*pp = p + 5;
		break;
	case 0xd3:
		if (left < 9)
			return -1;
		s = (int64_t)be64(p + 1);
		*pp = p + 9;
		break;
	default:
		return -1;
	}
	if (s < 0) {
		*pp = p;
		return -1;
	}
	*v = (uint64_t)s;
	return 0;
}

static inline int mp_uint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	if (unlikely(p >= end))
		return -1;
	uint8_t b = *p;
	if (likely(b < 0x80)) {
		*v = b;
		*pp = p + 1;
		return 0;
	}
	/* TSC deltas are mostly 1- or 2-byte integers: keep those inline */
	if (b == 0xcd && likely(end - p >= 3)) {
		*v = be16(p + 1);
		*pp = p + 3;
		return 0;
	}
	if (b == 0xcc && likely(end - p >= 2)) {
		*v = p[1];
		*pp = p + 2;
		return 0;
	}
	return mp_uint_slow(pp, end, v);
}

static int mp_int(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	if (p >= end)
		return -1;
	uint8_t b = *p;
	if (b >= 0xe0) {
		*v = (uint64_t)(int64_t)(int8_t)b;
		*pp = p + 1;
		return 0;
	}
	size_t left = (size_t)(end - p);
	switch (b) {
	case 0xd0:
		if (left < 2)
			return -1;
		*v = (uint64_t)(int64_t)(int8_t)p[1];
		*pp = p + 2;
		return 0;
	case 0xd1:
		if (left < 3)
			return -1;
		*v = (uint64_t)(int64_t)(int16_t)be16(p + 1);
		*pp = p + 3;
		return 0;
	case 0xd2:
		if (left < 5)
			return -1;
		*v = (uint64_t)(int64_t)(int32_t)be32(p + 1);
		*pp = p + 5;
		return 0;
	case 0xd3:
		if (left < 9)
			return -1;
		*v = be64(p + 1);
		*pp = p + 9;
		return 0;
	}
	uint64_t u;
	if (mp_uint(pp, end, &u) < 0 || u > INT64_MAX) {
		*pp = p;
		return -1;
	}
	*v = u;
	return 0;
}

/* The bytes of a str or bin whose header (hdr bytes) says len: s points at them, *pp past. */
static int mp_take(const uint8_t **pp, const uint8_t *p, size_t left, size_t hdr, size_t len,
		   struct glass_str *s)
{
	if (len > left - hdr || len > UINT32_MAX)
		return -1;
	s->p = (const char *)p + hdr;
	s->len = (uint32_t)len;
	*pp = p + hdr + len;
	return 0;
}

/* A str (or nil → p NULL). */
static int mp_str(const uint8_t **pp, const uint8_t *end, struct glass_str *s)
{
	const uint8_t *p = *pp;
	if (p >= end)
		return -1;
	size_t left = (size_t)(end - p), hdr, len;
	uint8_t b = *p;
	if (b == 0xc0) {
		s->p = NULL;
		s->len = 0;
		*pp = p + 1;
		return 0;
	}
	if ((b & 0xe0) == 0xa0) {
		hdr = 1;
		len = b & 0x1f;
	} else if (b == 0xd9 && left >= 2) {
		hdr = 2;
		len = p[1];
	} else if (b == 0xda && left >= 3) {
		hdr = 3;
		len = be16(p + 1);
	} else if (b == 0xdb && left >= 5) {
		hdr = 5;
		len = be32(p + 1);
	} else {
		return -1;
	}
	return mp_take(pp, p, left, hdr, len, s);
}

/* A bin (or nil → empty): s points at the bytes. */
static int mp_bin(const uint8_t **pp, const uint8_t *end, struct glass_str *s)
{
	const uint8_t *p = *pp;
	if (p >= end)
		return -1;
	size_t left = (size_t)(end - p), hdr, len;
	uint8_t b = *p;
	if (b == 0xc0) {
		s->p = NULL;
		s->len = 0;
		*pp = p + 1;
		return 0;
	}
	if (b == 0xc4 && left >= 2) {
		hdr = 2;
		len = p[1];
	} else if (b == 0xc5 && left >= 3) {
		hdr = 3;
		len = be16(p + 1);
	} else if (b == 0xc6 && left >= 5) {
		hdr = 5;
		len = be32(p + 1);
	} else {
		return -1;
	}
	return mp_take(pp, p, left, hdr, len, s);
}

/* An array of str/nil (or nil → empty): validates every element; raw covers the whole array. */
static int mp_strarray(const uint8_t **pp, const uint8_t *end, uint64_t *count,
		       struct glass_str *raw)
{
	const uint8_t *p = *pp, *q;
	if (p >= end)
		return -1;
	size_t left = (size_t)(end - p);
	uint32_t n;
	uint8_t b = *p;
	if (b == 0xc0) {
		q = p + 1;
		n = 0;
	} else if ((b & 0xf0) == 0x90) {
		q = p + 1;
		n = b & 0x0f;
	} else if (b == 0xdc && left >= 3) {
		q = p + 3;
		n = be16(p + 1);
	} else if (b == 0xdd && left >= 5) {
		q = p + 5;
		n = be32(p + 1);
	} else {
		return -1;
	}
	/* each element takes at least one byte: refuse counts the bytes cannot hold */
	if (n > (size_t)(end - q))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		struct glass_str s;
		if (mp_str(&q, end, &s) < 0)
			return -1;
	}
	*count = n;
	raw->p = (const char *)p;
	raw->len = (uint32_t)(q - p);
	*pp = q;
	return 0;
}

int glass_record_array_item(const struct glass_record *rec, unsigned field, uint32_t i,
			    struct glass_str *out)
{
	const struct glass_record_desc *d = glass_record_desc(rec->tag);
	if (!d || field >= rec->nfields || field >= strlen(d->types) || d->types[field] != 'a')
		return -1;
	if (i >= rec->u[field] || !rec->s[field].p)
		return -1;
	const uint8_t *p = (const uint8_t *)rec->s[field].p, *end = p + rec->s[field].len;
	uint8_t b = *p;
	if ((b & 0xf0) == 0x90)
		p += 1;
	else if (b == 0xdc)
		p += 3;
	else if (b == 0xdd)
		p += 5;
	else
		return -1;
	struct glass_str s = {0};
	for (uint32_t k = 0; k <= i; k++)
		if (mp_str(&p, end, &s) < 0)
			return -1;
	*out = s;
	return 0;
}

/* Skips one msgpack object of any type (records of tags this reader does not know), bounded in
 * nesting so hostile bytes cannot recurse deeply. */
static int mp_skip(const uint8_t **pp, const uint8_t *end, int depth)
{
	const uint8_t *p = *pp;
	if (p >= end || depth > 32)
		return -1;
	uint8_t b = *p++;
	uint64_t n = 0, items = 0;
	size_t lenbytes = 0, fixed = 0;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
		fixed = 0;
	} else if ((b & 0xe0) == 0xa0) {
		n = b & 0x1f;
	} else if ((b & 0xf0) == 0x90) {
		items = b & 0x0f;
	} else if ((b & 0xf0) == 0x80) {
		items = 2u * (b & 0x0f);
	} else {
		switch (b) {
		case 0xcc: case 0xd0: fixed = 1; break;
		case 0xcd: case 0xd1: fixed = 2; break;
		case 0xce: case 0xd2: case 0xca: fixed = 4; break;
		case 0xcf: case 0xd3: case 0xcb: fixed = 8; break;
		case 0xd4: fixed = 2; break;
		case 0xd5: fixed = 3; break;
		case 0xd6: fixed = 5; break;
		case 0xd7: fixed = 9; break;
		case 0xd8: fixed = 17; break;
		case 0xc4: case 0xd9: lenbytes = 1; break;
		case 0xc5: case 0xda: lenbytes = 2; break;
		case 0xc6: case 0xdb: lenbytes = 4; break;
		case 0xc7: lenbytes = 1; fixed = 1; break; /* ext 8: len, type */
		case 0xc8: lenbytes = 2; fixed = 1; break;
		case 0xc9: lenbytes = 4; fixed = 1; break;
		case 0xdc: case 0xde: {
			if (end - p < 2)
				return -1;
			items = ((uint64_t)p[0] << 8) | p[1];
			p += 2;
			if (b == 0xde)
				items *= 2;
			break;
		}
		case 0xdd: case 0xdf: {
			if (end - p < 4)
				return -1;
			items = ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) |
				((uint64_t)p[2] << 8) | p[3];
			p += 4;
			if (b == 0xdf)
				items *= 2;
			break;
		}
		default:
			return -1; /* 0xc1: never used */
		}
	}
	if (lenbytes) {
		if ((size_t)(end - p) < lenbytes)
			return -1;
		for (size_t i = 0; i < lenbytes; i++)
			n = (n << 8) | *p++;
	}
	if ((uint64_t)(end - p) < n + fixed)
		return -1;
	p += n + fixed;
	if (items > (uint64_t)(end - p))
		return -1; /* every item takes at least one byte */
	for (uint64_t i = 0; i < items; i++)
		if (mp_skip(&p, end, depth + 1) < 0)
			return -1;
	*pp = p;
	return 0;
}

/* The array header that wraps the fields of a record added after 1.0. */
static int mp_array_len(const uint8_t **pp, const uint8_t *end, uint64_t *n)
{
	const uint8_t *p = *pp;
	if (p >= end)
		return -1;
	uint8_t b = *p++;
	if ((b & 0xf0) == 0x90) {
		*n = b & 0x0f;
	} else if (b == 0xdc && end - p >= 2) {
		*n = ((uint64_t)p[0] << 8) | p[1];
		p += 2;
	} else if (b == 0xdd && end - p >= 4) {
		*n = ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
		p += 4;
	} else {
		return -1;
	}
	*pp = p;
	return 0;
}

/* An attribute map ('m'): validated whole (bounded), kept raw. */
static int mp_map(const uint8_t **pp, const uint8_t *end, uint64_t *count, struct glass_str *raw)
{
	const uint8_t *p = *pp, *q = p;
	if (p >= end)
		return -1;
	uint8_t b = *p;
	if (b == 0xc0) {
		*count = 0;
		raw->p = NULL;
		raw->len = 0;
		*pp = p + 1;
		return 0;
	}
	uint64_t n;
	if ((b & 0xf0) == 0x80)
		n = b & 0x0f;
	else if (b == 0xde && end - p >= 3)
		n = be16(p + 1);
	else if (b == 0xdf && end - p >= 5)
		n = be32(p + 1);
	else
		return -1;
	if (mp_skip(&q, end, 30) < 0) /* the whole map, nesting bounded */
		return -1;
	*count = n;
	raw->p = (const char *)p;
	raw->len = (uint32_t)(q - p);
	*pp = q;
	return 0;
}

void glass_map_begin(const struct glass_record *rec, unsigned field, struct glass_map_iter *it)
{
	it->p = it->end = NULL;
	it->left = 0;
	if (field >= rec->nfields || !rec->s[field].p || !rec->s[field].len)
		return;
	const uint8_t *p = (const uint8_t *)rec->s[field].p, *end = p + rec->s[field].len;
	uint8_t b = *p;
	if ((b & 0xf0) == 0x80)
		p += 1;
	else if (b == 0xde && end - p >= 3)
		p += 3;
	else if (b == 0xdf && end - p >= 5)
		p += 5;
	else
		return;
	it->p = p;
	it->end = end;
	it->left = rec->u[field];
}

int glass_map_next(struct glass_map_iter *it, struct glass_map_item *out)
{
	while (it->left > 0 && it->p < it->end) {
		it->left--;
		const uint8_t *kp = it->p;
		int key_ok = mp_str(&it->p, it->end, &out->key) == 0 && out->key.p;
		if (!key_ok) {
			it->p = kp;
			if (mp_skip(&it->p, it->end, 30) < 0)
				break;
		}
		const uint8_t *vp = it->p;
		if (vp >= it->end)
			break;
		uint8_t b = *vp;
		uint64_t u;
		int ok = 1;
		if (b == 0xc0) {
			out->type = GLASS_MAP_NIL;
			it->p++;
		} else if (b == 0xc2 || b == 0xc3) {
			out->type = GLASS_MAP_BOOL;
			out->i = b == 0xc3;
			it->p++;
		} else if (mp_str(&it->p, it->end, &out->s) == 0) {
			out->type = GLASS_MAP_STR;
		} else if ((it->p = vp, mp_int(&it->p, it->end, &u) == 0)) {
			out->type = GLASS_MAP_INT;
			out->i = (int64_t)u;
		} else {
			it->p = vp;
			if (mp_skip(&it->p, it->end, 30) < 0)
				break;
			ok = 0;
		}
		if (ok && key_ok)
			return 1;
	}
	it->left = 0;
	return 0;
}

/* Per-tag decoding facts derived once from the record table. */
struct tag_info {
	const char *types;
	uint8_t nfields;
	uint8_t timed;	/* first field is dt */
	uint8_t stream; /* may appear in a chunk */
	uint8_t wrapped; /* fields in one array (tags added after 1.0) */
};

static struct tag_info tag_info[GLASS_REC_MAX_TAG + 1];
static int tag_info_ready;

static void tag_info_init(void)
{
	if (tag_info_ready)
		return;
	size_t n;
	const struct glass_record_desc *d = glass_record_descs(&n);
	for (size_t i = 0; i < n; i++) {
		struct tag_info *t = &tag_info[d[i].tag];
		t->types = d[i].types;
		t->nfields = (uint8_t)strlen(d[i].types);
		t->timed = strncmp(d[i].fields, "dt", 2) == 0 &&
			   (d[i].fields[2] == ',' || d[i].fields[2] == 0);
		t->stream = d[i].tag < 64;
		t->wrapped = GLASS_REC_IS_WRAPPED(d[i].tag);
	}
	tag_info_ready = 1;
}

/* Decodes the fields of a record whose tag byte was consumed. */
static int decode_fields(const struct tag_info *ti, const uint8_t **pp, const uint8_t *end,
			 struct glass_record *rec)
{
	uint64_t wrapped = 0;
	if (ti->wrapped) {
		if (mp_array_len(pp, end, &wrapped) < 0 || wrapped < ti->nfields)
			return -1;
	}
	for (unsigned i = 0; i < ti->nfields; i++) {
		rec->s[i].p = NULL;
		rec->s[i].len = 0;
		rec->u[i] = 0;
		switch (ti->types[i]) {
		case 'u':
			if (mp_uint(pp, end, &rec->u[i]) < 0)
				return -1;
			break;
		case 'i':
			if (mp_int(pp, end, &rec->u[i]) < 0)
				return -1;
			break;
		case 's':
			if (mp_str(pp, end, &rec->s[i]) < 0)
				return -1;
			break;
		case 'a':
			if (mp_strarray(pp, end, &rec->u[i], &rec->s[i]) < 0)
				return -1;
			break;
		case 'm':
			if (mp_map(pp, end, &rec->u[i], &rec->s[i]) < 0)
				return -1;
			break;
		case 'b':
			if (mp_bin(pp, end, &rec->s[i]) < 0)
				return -1;
			break;
		default:
			return -1;
		}
	}
	rec->nfields = ti->nfields;
	/* fields a later minor version appended */
	for (uint64_t i = ti->nfields; i < wrapped; i++)
		if (mp_skip(pp, end, 0) < 0)
			return -1;
	return 0;
}

/* ---- session structures ------------------------------------------------------------------- */

struct clock_map {
	uint64_t anchor;  /* ticks */
	uint64_t base_ns; /* Unix ns at anchor */
	uint64_t mult;	  /* ns per tick, 12.52 fixed point (the fit refuses ratios >= 1000) */
};

#define CLOCK_FRAC 52

/* Rounded to the nearest ns: a tick rate fit from (tsc, ns) samples maps them back exactly. */
static inline uint64_t clock_conv(const struct clock_map *c, uint64_t ticks)
{
	int64_t d = (int64_t)(ticks - c->anchor);
	__int128 off =
	    ((__int128)d * (__int128)c->mult + ((__int128)1 << (CLOCK_FRAC - 1))) >> CLOCK_FRAC;
	return c->base_ns + (uint64_t)(int64_t)off;
}

struct chunk_ref {
	uint32_t seq;
	uint8_t has_raw, has_zst;
	uint8_t valid;	/* header readable and consistent */
	uint8_t warned; /* torn tail already reported */
	uint32_t tid;
	uint32_t flags;
	uint64_t base_tsc;
	uint64_t open_mono_ns;
};

struct thread_ref {
	uint32_t tidx;
	uint32_t nchunks;
	uint32_t tid;
	struct chunk_ref *chunks;
};

struct glass_proc {
	struct glass_session *s;
	char key[32];
	char *dir;
	uint32_t n; /* image number in p<pid>.<n> */
	struct glass_meta_header hdr;
	struct glass_proc_info info;
	struct arena_block *arena;
	uint8_t *meta;
	size_t meta_len;
	size_t rec_off; /* first meta record */
	size_t rec_end; /* end of decodable meta records */
	struct glass_code_def *codes;
	size_t ncodes;
	uint32_t *code_index; /* direct: id -> index + 1 */
	size_t code_index_len;
	uint32_t *sorted; /* sparse ids: indexes sorted by id */
	struct thread_ref *threads;
	uint32_t *tidxs;
	size_t nthreads;
	struct clock_map clock;
	double ns_per_tick;
};

struct glass_session {
	char *dir;
	unsigned major, minor;
	uint64_t id;
	struct glass_proc **procs;
	size_t nprocs;
	char **warnings;
	size_t nwarnings;
	size_t warnings_dropped;
	char **notices;
	size_t nnotices;
	size_t notices_dropped;
	char dropped_text[96];
	ZSTD_DCtx *dctx;
	void *aux; /* a reader-side helper's state (glass_session_set_aux) */
	void (*aux_free)(void *);
};

struct glass_stream {
	struct glass_proc *p;
	struct thread_ref *t;
	uint32_t next; /* next chunk index */
	const uint8_t *cur, *end;
	uint8_t *buf;
	size_t cap;
	uint8_t *zbuf;
	size_t zcap;
	uint64_t ticks;
	uint64_t bytes;
	struct clock_map clock;
	struct chunk_ref *chunk; /* the chunk being decoded */
	int chunk_last;		 /* it is the thread's last chunk */
	uint32_t chunk_minor;
	ZSTD_DCtx *dctx;
};

/* Streams of one session may be decoded in several threads (glass-report's readahead):
 * their warnings and notes are added under one lock. */
static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;

static void add_msg(char ***list, size_t *n, size_t *dropped, size_t max, const char *fmt,
		    va_list ap)
{
	char *m = NULL;
	if (vasprintf(&m, fmt, ap) < 0)
		return;
	pthread_mutex_lock(&msg_lock);
	if (*n >= max) {
		(*dropped)++;
		pthread_mutex_unlock(&msg_lock);
		free(m);
		return;
	}
	if ((*n & (*n - 1)) == 0 || *n == 0) {
		size_t cap = *n ? *n * 2 : 8;
		char **l = realloc(*list, cap * sizeof(*l));
		if (!l) {
			pthread_mutex_unlock(&msg_lock);
			free(m);
			return;
		}
		*list = l;
	}
	(*list)[(*n)++] = m;
	pthread_mutex_unlock(&msg_lock);
}

__attribute__((format(printf, 2, 3))) static void warn(struct glass_session *s, const char *fmt,
						       ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_msg(&s->warnings, &s->nwarnings, &s->warnings_dropped, MAX_WARNINGS, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void note(struct glass_session *s, const char *fmt,
						       ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_msg(&s->notices, &s->nnotices, &s->notices_dropped, MAX_NOTICES, fmt, ap);
	va_end(ap);
}

/* The i-th kept message, or one line counting the ones that were not kept. */
static const char *msg_at(const struct glass_session *s, char *const *list, size_t n,
			  size_t dropped, const char *what, size_t i)
{
	if (i < n)
		return list[i];
	if (i == n && dropped) {
		struct glass_session *m = (struct glass_session *)s;
		snprintf(m->dropped_text, sizeof(m->dropped_text), "%zu more %s not kept", dropped,
			 what);
		return m->dropped_text;
	}
	return NULL;
}

size_t glass_session_nwarnings(const struct glass_session *s)
{
	return s->nwarnings + (s->warnings_dropped ? 1 : 0);
}

const char *glass_session_warning(const struct glass_session *s, size_t i)
{
	return msg_at(s, s->warnings, s->nwarnings, s->warnings_dropped, "warnings", i);
}

size_t glass_session_nnotices(const struct glass_session *s)
{
	return s->nnotices + (s->notices_dropped ? 1 : 0);
}

const char *glass_session_notice(const struct glass_session *s, size_t i)
{
	return msg_at(s, s->notices, s->nnotices, s->notices_dropped, "notes", i);
}

const char *glass_session_dir(const struct glass_session *s)
{
	return s->dir;
}

size_t glass_session_nprocs(const struct glass_session *s)
{
	return s->nprocs;
}

struct glass_proc *glass_session_proc(struct glass_session *s, size_t i)
{
	return i < s->nprocs ? s->procs[i] : NULL;
}

void glass_session_version(const struct glass_session *s, unsigned *major, unsigned *minor)
{
	*major = s->major;
	*minor = s->minor;
}

uint64_t glass_session_id(const struct glass_session *s)
{
	return s->id;
}

/* ---- chunk headers ------------------------------------------------------------------------ */

/* Decompresses at least `want` leading bytes of a .zst file (headers only). */
static int zst_head(ZSTD_DCtx *dctx, const char *path, void *out, size_t want)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	uint8_t in[16384];
	ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
	ZSTD_outBuffer ob = {out, want, 0};
	int rc = -1;
	for (int rounds = 0; rounds < 8192 && ob.pos < want; rounds++) {
		ssize_t r = read(fd, in, sizeof(in));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		ZSTD_inBuffer ib = {in, (size_t)r, 0};
		while (ib.pos < ib.size && ob.pos < want) {
			size_t z = ZSTD_decompressStream(dctx, &ob, &ib);
			if (ZSTD_isError(z))
				goto out;
			if (z == 0)
				break;
		}
	}
	if (ob.pos == want)
		rc = 0;
out:
	close(fd);
	return rc;
}

static int raw_head(const char *path, void *out, size_t want)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	ssize_t r = pread(fd, out, want, 0);
	close(fd);
	return r == (ssize_t)want ? 0 : -1;
}

/* Checks a chunk header against the file it came from; writes a reason on failure. */
static int chunk_header_check(const struct glass_chunk_header *h, const struct glass_proc *p,
			      uint32_t tidx, uint32_t seq, char *why, size_t whylen)
{
	if (memcmp(h->magic, GLASS_CHUNK_MAGIC, 4)) {
		snprintf(why, whylen, "not a chunk (bad magic)");
		return -1;
	}
	if (h->major > GLASS_FORMAT_MAJOR) {
		snprintf(why, whylen, "format %u.%u is newer than this reader (%u.x)", h->major,
			 h->minor, GLASS_FORMAT_MAJOR);
		return -1;
	}
	if (h->tidx != tidx || h->seq != seq) {
		snprintf(why, whylen, "header says t%u.%u (misplaced file)", h->tidx, h->seq);
		return -1;
	}
	(void)p;
	return 0;
}

static void chunk_path(const struct glass_proc *p, uint32_t tidx, uint32_t seq, int zst, char *buf,
		       size_t len)
{
	snprintf(buf, len, "%s/t%u.%u.%s", p->dir, tidx, seq, zst ? "zst" : "raw");
}

static void read_chunk_header(struct glass_proc *p, struct thread_ref *t, struct chunk_ref *c)
{
	struct glass_chunk_header h;
	char path[4200], why[160] = "truncated header";
	int ok = -1;
	if (c->has_zst) {
		chunk_path(p, t->tidx, c->seq, 1, path, sizeof(path));
		ok = zst_head(p->s->dctx, path, &h, sizeof(h));
		if (ok == 0)
			ok = chunk_header_check(&h, p, t->tidx, c->seq, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "cannot decompress its header");
	}
	if (ok < 0 && c->has_raw) {
		if (c->has_zst)
			warn(p->s, "%s t%u.%u.zst: %s; using the .raw file", p->key, t->tidx,
			     c->seq, why);
		chunk_path(p, t->tidx, c->seq, 0, path, sizeof(path));
		snprintf(why, sizeof(why), "truncated header");
		ok = raw_head(path, &h, sizeof(h));
		if (ok < 0 && errno == ENOENT && !c->has_zst) {
			/* glass-compress replaced it since the directory was listed */
			chunk_path(p, t->tidx, c->seq, 1, path, sizeof(path));
			ok = zst_head(p->s->dctx, path, &h, sizeof(h));
			if (ok == 0) {
				c->has_zst = 1;
				c->has_raw = 0;
			}
		} else {
			c->has_zst = 0; /* the .zst is unreadable: use the raw file */
		}
		if (ok == 0)
			ok = chunk_header_check(&h, p, t->tidx, c->seq, why, sizeof(why));
	}
	if (ok < 0) {
		warn(p->s, "%s t%u.%u: %s; chunk skipped", p->key, t->tidx, c->seq, why);
		return;
	}
	c->valid = 1;
	c->tid = h.tid;
	c->flags = h.flags;
	c->base_tsc = h.base_tsc;
	c->open_mono_ns = h.open_mono_ns;
}

/* ---- clock -------------------------------------------------------------------------------- */

struct sample {
	uint64_t tsc, mono;
};

static void clock_fit(struct glass_proc *p)
{
	const struct glass_meta_header *h = &p->hdr;
	int64_t rt_minus_mono = (int64_t)(h->start_realtime_ns - h->start_mono_ns);

	if (h->clock == GLASS_CLOCK_MONO) {
		p->clock.anchor = h->start_mono_ns;
		p->clock.base_ns = h->start_realtime_ns;
		p->clock.mult = 1ull << CLOCK_FRAC;
		p->ns_per_tick = 1.0;
		return;
	}
	if (h->clock != GLASS_CLOCK_TSC)
		warn(p->s, "%s: unknown clock %u; assuming TSC ticks", p->key, h->clock);

	struct sample lo = {UINT64_MAX, 0}, hi = {0, 0};
	int nsamples = 0;
#define SAMPLE(t, m)                                                                               \
	do {                                                                                       \
		uint64_t t_ = (t), m_ = (m);                                                       \
		if (t_ || m_) {                                                                    \
			nsamples++;                                                                \
			if (t_ < lo.tsc)                                                           \
				lo = (struct sample){t_, m_};                                      \
			if (t_ >= hi.tsc)                                                          \
				hi = (struct sample){t_, m_};                                      \
		}                                                                                  \
	} while (0)
	SAMPLE(h->start_tsc, h->start_mono_ns);
	if ((h->cal_seq & 1) == 0 && h->cal_tsc > h->start_tsc)
		SAMPLE(h->cal_tsc, h->cal_mono_ns);
	if (h->end_tsc && h->end_mono_ns)
		SAMPLE(h->end_tsc, h->end_mono_ns);
	for (size_t i = 0; i < p->nthreads; i++)
		for (uint32_t k = 0; k < p->threads[i].nchunks; k++) {
			const struct chunk_ref *c = &p->threads[i].chunks[k];
			if (c->valid && c->open_mono_ns)
				SAMPLE(c->base_tsc, c->open_mono_ns);
		}
#undef SAMPLE
	double ratio = 0;
	if (nsamples >= 2 && hi.tsc > lo.tsc && hi.mono > lo.mono)
		ratio = (double)(hi.mono - lo.mono) / (double)(hi.tsc - lo.tsc);
	if (!(ratio > 1e-3 && ratio < 1e3)) {
		if (nsamples >= 2)
			warn(p->s, "%s: clock samples are inconsistent; times are in ticks",
			     p->key);
		else if (p->nthreads)
			note(p->s, "%s: a single clock sample; ticks are taken as nanoseconds",
			     p->key);
		ratio = 1.0;
		if (nsamples == 0)
			lo = (struct sample){h->start_tsc, h->start_mono_ns};
	}
	p->ns_per_tick = ratio;
	p->clock.anchor = lo.tsc;
	p->clock.base_ns = (uint64_t)((int64_t)lo.mono + rt_minus_mono);
	p->clock.mult = (uint64_t)(ratio * (double)(1ull << CLOCK_FRAC) + 0.5);
}

uint64_t glass_proc_ticks_to_unix_ns(const struct glass_proc *p, uint64_t ticks)
{
	return clock_conv(&p->clock, ticks);
}

double glass_proc_ns_per_tick(const struct glass_proc *p)
{
	return p->ns_per_tick;
}

/* ---- process open ------------------------------------------------------------------------- */

struct chunk_file {
	uint32_t tidx, seq;
	uint8_t zst;
};

static int chunk_file_cmp(const void *a, const void *b)
{
	const struct chunk_file *x = a, *y = b;
	if (x->tidx != y->tidx)
		return x->tidx < y->tidx ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return (int)x->zst - (int)y->zst;
}

static int scan_chunks(struct glass_proc *p)
{
	DIR *d = opendir(p->dir);
	if (!d) {
		warn(p->s, "%s: cannot list its directory: %s", p->key, strerror(errno));
		return -1;
	}
	struct chunk_file *files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *q = e->d_name;
		struct chunk_file f;
		if (*q++ != 't' || !(q = parse_u32(q, &f.tidx)) || *q++ != '.' ||
		    !(q = parse_u32(q, &f.seq)))
			continue;
		if (!strcmp(q, ".raw"))
			f.zst = 0;
		else if (!strcmp(q, ".zst"))
			f.zst = 1;
		else
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct chunk_file *nf = realloc(files, cap * sizeof(*nf));
			if (!nf) {
				free(files);
				closedir(d);
				return -1;
			}
			files = nf;
		}
		files[n++] = f;
	}
	closedir(d);
	if (n)
		qsort(files, n, sizeof(*files), chunk_file_cmp);

	size_t nthreads = 0;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || files[i].tidx != files[i - 1].tidx)
			nthreads++;
	p->threads = calloc(nthreads ? nthreads : 1, sizeof(*p->threads));
	p->tidxs = calloc(nthreads ? nthreads : 1, sizeof(*p->tidxs));
	struct chunk_ref *chunks = calloc(n ? n : 1, sizeof(*chunks));
	if (!p->threads || !p->tidxs || !chunks) {
		free(chunks);
		free(files);
		return -1;
	}
	/* all chunk refs live in one array; each thread points at its slice */
	size_t nc = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || files[i].tidx != files[i - 1].tidx) {
			struct thread_ref *t = &p->threads[p->nthreads];
			p->tidxs[p->nthreads++] = files[i].tidx;
			t->tidx = files[i].tidx;
			t->chunks = &chunks[nc];
		}
		struct thread_ref *t = &p->threads[p->nthreads - 1];
		if (t->nchunks && t->chunks[t->nchunks - 1].seq == files[i].seq) {
			struct chunk_ref *c = &t->chunks[t->nchunks - 1];
			if (files[i].zst)
				c->has_zst = 1;
			else
				c->has_raw = 1;
			continue;
		}
		struct chunk_ref *c = &chunks[nc++];
		c->seq = files[i].seq;
		c->has_zst = files[i].zst;
		c->has_raw = !files[i].zst;
		t->nchunks++;
	}
	free(files);
	if (!p->nthreads)
		free(chunks);

	for (size_t i = 0; i < p->nthreads; i++) {
		struct thread_ref *t = &p->threads[i];
		/* the writer numbers chunks from 1 */
		uint32_t expect = t->chunks[0].seq == 0 ? 0 : 1;
		for (uint32_t k = 0; k < t->nchunks; k++) {
			struct chunk_ref *c = &t->chunks[k];
			if (c->seq > expect) {
				if (c->seq - expect == 1)
					warn(p->s,
					     "%s t%u: chunk %u is missing; its records are lost",
					     p->key, t->tidx, expect);
				else
					warn(p->s,
					     "%s t%u: chunks %u..%u are missing; their records are "
					     "lost",
					     p->key, t->tidx, expect, c->seq - 1);
			}
			expect = c->seq + 1;
			read_chunk_header(p, t, c);
			if (c->valid && !t->tid)
				t->tid = c->tid;
		}
	}
	return 0;
}

static const char *str_or_empty(struct glass_proc *p, const struct glass_str *s)
{
	if (!s->p)
		return "";
	const char *r = arena_strndup(&p->arena, s->p, s->len);
	return r ? r : "";
}

static int code_cmp_by_id(const void *a, const void *b, void *ctx)
{
	const struct glass_code_def *codes = ctx;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	uint32_t x = codes[i].id, y = codes[j].id;
	if (x != y)
		return x < y ? -1 : 1;
	return i < j ? -1 : i > j;
}

static void build_code_index(struct glass_proc *p)
{
	if (!p->ncodes)
		return;
	uint32_t max_id = 0;
	for (size_t i = 0; i < p->ncodes; i++)
		if (p->codes[i].id > max_id)
			max_id = p->codes[i].id;
	if ((uint64_t)max_id <= 4 * (uint64_t)p->ncodes + 65536) {
		p->code_index_len = (size_t)max_id + 1;
		p->code_index = calloc(p->code_index_len, sizeof(uint32_t));
		if (!p->code_index)
			return;
		/* a CODE id defined twice keeps its first definition */
		for (size_t i = 0; i < p->ncodes; i++)
			if (!p->code_index[p->codes[i].id])
				p->code_index[p->codes[i].id] = (uint32_t)i + 1;
		return;
	}
	p->sorted = malloc(p->ncodes * sizeof(uint32_t));
	if (!p->sorted)
		return;
	for (size_t i = 0; i < p->ncodes; i++)
		p->sorted[i] = (uint32_t)i;
	qsort_r(p->sorted, p->ncodes, sizeof(uint32_t), code_cmp_by_id, p->codes);
}

const struct glass_code_def *glass_proc_code(const struct glass_proc *p, uint32_t id)
{
	if (p->code_index) {
		if (id < p->code_index_len && p->code_index[id])
			return &p->codes[p->code_index[id] - 1];
		return NULL;
	}
	if (!p->sorted)
		return NULL;
	/* lower bound: the first definition of a duplicated id */
	size_t lo = 0, hi = p->ncodes;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->codes[p->sorted[mid]].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < p->ncodes && p->codes[p->sorted[lo]].id == id)
		return &p->codes[p->sorted[lo]];
	return NULL;
}

const struct glass_code_def *glass_proc_codes(const struct glass_proc *p, size_t *n)
{
	*n = p->ncodes;
	return p->codes;
}

/* Decodes one meta record at *off; 1 record, 2 a later version's record skipped, 0 end,
 * -1 undecodable. */
static int meta_decode(const struct glass_proc *p, size_t *off, size_t end,
		       struct glass_record *rec)
{
	if (*off >= end)
		return 0;
	const uint8_t *q = p->meta + *off, *e = p->meta + end;
	uint8_t tag = *q++;
	if (tag == 0)
		return 0;
	if (tag >= GLASS_REC_FIRST_WRAPPED_META && tag <= GLASS_REC_MAX_TAG && !tag_info[tag].types) {
		/* a record of a later version: skip it */
		if (mp_skip(&q, e, 0) < 0)
			return -1;
		*off = (size_t)(q - p->meta);
		rec->tag = 0;
		rec->nfields = 0;
		return 2;
	}
	if (tag > GLASS_REC_MAX_TAG || !tag_info[tag].types || tag_info[tag].stream)
		return -1;
	if (decode_fields(&tag_info[tag], &q, e, rec) < 0)
		return -1;
	rec->tag = tag;
	rec->ticks = 0;
	rec->ts_ns = 0;
	*off = (size_t)(q - p->meta);
	return 1;
}

static int parse_meta_records(struct glass_proc *p)
{
	size_t off = p->rec_off, cap = 0;
	struct glass_record rec;
	int r, have_process = 0;
	while ((r = meta_decode(p, &off, p->meta_len, &rec)) >= 1) {
		if (r == 2)
			continue; /* a record of a later version, skipped */
		if (rec.tag == GLASS_REC_PROCESS && !have_process) {
			have_process = 1;
			struct glass_proc_info *in = &p->info;
			in->python = str_or_empty(p, &rec.s[3]);
			in->executable = str_or_empty(p, &rec.s[4]);
			in->cwd = str_or_empty(p, &rec.s[5]);
			in->origin = str_or_empty(p, &rec.s[6]);
			in->parent = str_or_empty(p, &rec.s[8]);
			uint32_t argc = rec.u[7] > 65536 ? 65536 : (uint32_t)rec.u[7];
			const char **argv = arena_alloc(&p->arena, (argc + 1) * sizeof(char *));
			if (argv) {
				for (uint32_t i = 0; i < argc; i++) {
					struct glass_str s = {0};
					glass_record_array_item(&rec, 7, i, &s);
					argv[i] = str_or_empty(p, &s);
				}
				argv[argc] = NULL;
				in->argv = argv;
				in->argc = argc;
			}
		} else if (rec.tag == GLASS_REC_CODE) {
			if (rec.u[0] > UINT32_MAX) {
				note(p->s, "%s meta: CODE id %llu out of range; ignored", p->key,
				     (unsigned long long)rec.u[0]);
				continue;
			}
			if (p->ncodes == cap) {
				cap = cap ? cap * 2 : 256;
				struct glass_code_def *c = realloc(p->codes, cap * sizeof(*c));
				if (!c)
					return -1;
				p->codes = c;
			}
			struct glass_code_def *c = &p->codes[p->ncodes++];
			c->id = (uint32_t)rec.u[0];
			c->qualname = str_or_empty(p, &rec.s[1]);
			c->module = str_or_empty(p, &rec.s[2]);
			c->filename = str_or_empty(p, &rec.s[3]);
			c->line = rec.u[4] > UINT32_MAX ? 0 : (uint32_t)rec.u[4];
			c->flags = (uint32_t)rec.u[5];
		} else if (rec.tag == GLASS_REC_NOTE && rec.s[1].p) {
			/* what the preload had to say (propagate_context's counts, ...) */
			note(p->s, "%s: %.*s", p->key, (int)(rec.s[1].len > 400 ? 400 : rec.s[1].len),
			     rec.s[1].p);
		}
	}
	p->rec_end = off;
	if (r < 0)
		warn(p->s, "%s meta: torn or corrupt tail at byte %zu; later meta records ignored",
		     p->key, off);
	build_code_index(p);
	return 0;
}

static void proc_free(struct glass_proc *p)
{
	if (!p)
		return;
	if (p->nthreads)
		free(p->threads[0].chunks);
	free(p->threads);
	free(p->tidxs);
	free(p->codes);
	free(p->code_index);
	free(p->sorted);
	free(p->meta);
	free(p->dir);
	arena_free(p->arena);
	free(p);
}

/* Opens p<pid>.<n>: 1 ok, 0 skipped with a warning, -1 fatal (err set). */
static int proc_open(struct glass_session *s, const char *name, uint32_t n, struct glass_proc **out,
		     char *err, size_t errlen)
{
	struct glass_proc *p = calloc(1, sizeof(*p));
	if (!p)
		goto oom;
	p->s = s;
	p->n = n;
	snprintf(p->key, sizeof(p->key), "%s", name);
	if (asprintf(&p->dir, "%s/%s", s->dir, name) < 0) {
		p->dir = NULL;
		goto oom;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/meta", p->dir);
	int truncated = 0;
	if (read_file(path, MAX_META_BYTES, &p->meta, &p->meta_len, &truncated) < 0) {
		warn(s, "%s: cannot read its meta file (%s); process skipped", name,
		     strerror(errno));
		proc_free(p);
		return 0;
	}
	if (truncated)
		warn(s, "%s: meta file larger than %u MiB; the rest is ignored", name,
		     MAX_META_BYTES >> 20);
	if (p->meta_len < offsetof(struct glass_meta_header, reserved) ||
	    memcmp(p->meta, GLASS_META_MAGIC, 8)) {
		warn(s, "%s: meta file is not a glass meta header; process skipped", name);
		proc_free(p);
		return 0;
	}
	memcpy(&p->hdr, p->meta, p->meta_len < sizeof(p->hdr) ? p->meta_len : sizeof(p->hdr));
	if (p->hdr.major > GLASS_FORMAT_MAJOR) {
		snprintf(err, errlen,
			 "%s/%s: recorded with format %u.%u; this glass-report reads format %u.x "
			 "(install a newer glass)",
			 s->dir, name, p->hdr.major, p->hdr.minor, GLASS_FORMAT_MAJOR);
		proc_free(p);
		return -1;
	}
	p->rec_off =
	    p->hdr.header_size >= GLASS_META_HEADER_SIZE && p->hdr.header_size <= p->meta_len
		? p->hdr.header_size
		: GLASS_META_HEADER_SIZE;
	if (p->rec_off > p->meta_len)
		p->rec_off = p->meta_len;

	struct glass_proc_info *in = &p->info;
	in->key = p->key;
	in->pid = p->hdr.pid;
	in->ppid = p->hdr.ppid;
	in->state = p->hdr.state;
	in->exit_status = p->hdr.exit_status;
	in->clock = p->hdr.clock;
	in->python = in->executable = in->cwd = in->origin = in->parent = "";
	static const char *const no_argv[] = {NULL};
	in->argv = no_argv;
	in->lost_events = p->hdr.lost_events;
	in->lost_chunks = p->hdr.lost_chunks;
	if (parse_meta_records(p) < 0 || scan_chunks(p) < 0)
		goto oom;
	in->nthreads = (uint32_t)p->nthreads;
	in->ncodes = (uint32_t)p->ncodes;
	clock_fit(p);
	in->start_unix_ns = p->hdr.start_realtime_ns;
	if (p->hdr.state != GLASS_PROC_RUNNING) {
		if (p->hdr.end_mono_ns && p->hdr.end_mono_ns >= p->hdr.start_mono_ns)
			in->end_unix_ns =
			    p->hdr.start_realtime_ns + (p->hdr.end_mono_ns - p->hdr.start_mono_ns);
		else if (p->hdr.end_tsc)
			in->end_unix_ns = clock_conv(&p->clock, p->hdr.end_tsc);
	}
	*out = p;
	return 1;
oom:
	snprintf(err, errlen, "%s: out of memory", s->dir);
	proc_free(p);
	return -1;
}

const struct glass_proc_info *glass_proc_info(const struct glass_proc *p)
{
	return &p->info;
}

const struct glass_meta_header *glass_proc_header(const struct glass_proc *p)
{
	return &p->hdr;
}

size_t glass_proc_threads(const struct glass_proc *p, const uint32_t **tidx)
{
	*tidx = p->tidxs;
	return p->nthreads;
}

static struct thread_ref *find_thread(const struct glass_proc *p, uint32_t tidx)
{
	size_t lo = 0, hi = p->nthreads;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->threads[mid].tidx == tidx)
			return &p->threads[mid];
		if (p->threads[mid].tidx < tidx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

uint32_t glass_proc_thread_chunks(const struct glass_proc *p, uint32_t tidx, uint32_t *max_seq)
{
	struct thread_ref *t = find_thread(p, tidx);
	if (max_seq)
		*max_seq = t && t->nchunks ? t->chunks[t->nchunks - 1].seq : 0;
	return t ? t->nchunks : 0;
}

uint32_t glass_proc_thread_tid(const struct glass_proc *p, uint32_t tidx)
{
	struct thread_ref *t = find_thread(p, tidx);
	return t ? t->tid : 0;
}

int glass_proc_meta_next(struct glass_proc *p, size_t *cursor, struct glass_record *rec)
{
	size_t off = p->rec_off + *cursor;
	if (off < p->rec_off || off >= p->rec_end)
		return 0;
	int r;
	while ((r = meta_decode(p, &off, p->rec_end, rec)) == 2)
		;
	if (r != 1)
		return 0;
	*cursor = off - p->rec_off;
	return 1;
}

/* ---- session ------------------------------------------------------------------------------ */

struct proc_name {
	char name[64];
	uint32_t pid, n;
};

static int proc_order(const void *a, const void *b)
{
	const struct glass_proc *x = *(struct glass_proc *const *)a;
	const struct glass_proc *y = *(struct glass_proc *const *)b;
	if (x->hdr.start_realtime_ns != y->hdr.start_realtime_ns)
		return x->hdr.start_realtime_ns < y->hdr.start_realtime_ns ? -1 : 1;
	if (x->hdr.pid != y->hdr.pid)
		return x->hdr.pid < y->hdr.pid ? -1 : 1;
	return x->n < y->n ? -1 : x->n > y->n;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Reads "glass-session <major>.<minor>\n". */
static int read_session_file(struct glass_session *s, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/" GLASS_SESSION_FILE, s->dir);
	uint8_t *buf;
	size_t len;
	int truncated;
	if (read_file(path, 256, &buf, &len, &truncated) < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "%s: not a glass session (no %s file)", s->dir,
				 GLASS_SESSION_FILE);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char text[257];
	memcpy(text, buf, len);
	text[len] = 0;
	free(buf);
	unsigned major, minor;
	if (sscanf(text, "glass-session %u.%u", &major, &minor) != 2) {
		snprintf(err, errlen, "%s: not a glass session file", path);
		return -1;
	}
	if (major > GLASS_FORMAT_MAJOR) {
		snprintf(err, errlen,
			 "%s: recorded with format %u.%u; this glass-report reads format %u.x "
			 "(install a newer glass)",
			 s->dir, major, minor, GLASS_FORMAT_MAJOR);
		return -1;
	}
	s->major = major;
	s->minor = minor;
	return 0;
}

struct glass_session *glass_session_open(const char *dir, char *err, size_t errlen)
{
	tag_info_init();
	struct stat st;
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory (a session is a directory)", dir);
		return NULL;
	}
	struct glass_session *s = calloc(1, sizeof(*s));
	if (!s || !(s->dir = strdup(dir)) || !(s->dctx = ZSTD_createDCtx())) {
		snprintf(err, errlen, "%s: out of memory", dir);
		glass_session_close(s);
		return NULL;
	}
	size_t dl = strlen(s->dir);
	while (dl > 1 && s->dir[dl - 1] == '/')
		s->dir[--dl] = 0;
	if (read_session_file(s, err, errlen) < 0) {
		glass_session_close(s);
		return NULL;
	}
	DIR *d = opendir(s->dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", s->dir, strerror(errno));
		glass_session_close(s);
		return NULL;
	}
	struct proc_name *names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct proc_name pn;
		const char *q = e->d_name;
		if (*q++ != 'p' || !(q = parse_u32(q, &pn.pid)) || *q++ != '.' ||
		    !(q = parse_u32(q, &pn.n)) || *q)
			continue;
		if (n >= MAX_PROCS)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			struct proc_name *nn = realloc(names, cap * sizeof(*nn));
			if (!nn)
				break;
			names = nn;
		}
		size_t nl = strlen(e->d_name);
		if (nl >= sizeof(pn.name))
			continue;
		memcpy(pn.name, e->d_name, nl + 1);
		names[n++] = pn;
	}
	closedir(d);
	s->procs = calloc(n ? n : 1, sizeof(*s->procs));
	if (!s->procs) {
		free(names);
		snprintf(err, errlen, "%s: out of memory", s->dir);
		glass_session_close(s);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		struct glass_proc *p = NULL;
		int r = proc_open(s, names[i].name, names[i].n, &p, err, errlen);
		if (r < 0) {
			free(names);
			glass_session_close(s);
			return NULL;
		}
		if (r > 0)
			s->procs[s->nprocs++] = p;
	}
	free(names);
	if (s->nprocs)
		qsort(s->procs, s->nprocs, sizeof(*s->procs), proc_order);
	uint64_t h = 0xcbf29ce484222325ull;
	if (s->nprocs) {
		const struct glass_meta_header *m = &s->procs[0]->hdr;
		h = fnv1a(h, &m->pid, sizeof(m->pid));
		h = fnv1a(h, &m->start_realtime_ns, sizeof(m->start_realtime_ns));
		h = fnv1a(h, &m->start_tsc, sizeof(m->start_tsc));
	} else {
		h = fnv1a(h, s->dir, strlen(s->dir));
	}
	s->id = h;
	return s;
}

void glass_session_close(struct glass_session *s)
{
	if (!s)
		return;
	if (s->aux_free)
		s->aux_free(s->aux);
	for (size_t i = 0; i < s->nprocs; i++)
		proc_free(s->procs[i]);
	free(s->procs);
	for (size_t i = 0; i < s->nwarnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	for (size_t i = 0; i < s->nnotices; i++)
		free(s->notices[i]);
	free(s->notices);
	ZSTD_freeDCtx(s->dctx);
	free(s->dir);
	free(s);
}

/* Session directory names are "YYYYmmdd-HHMMSS-<pid>": compare the time, then the pid. */
struct candidate {
	char name[256];
	char stamp[16];
	uint32_t pid;
	struct timespec mtime;
};

static int candidate_newer(const struct candidate *a, const struct candidate *b)
{
	int c = strcmp(a->stamp, b->stamp);
	if (c)
		return c > 0;
	if (a->mtime.tv_sec != b->mtime.tv_sec)
		return a->mtime.tv_sec > b->mtime.tv_sec;
	if (a->mtime.tv_nsec != b->mtime.tv_nsec)
		return a->mtime.tv_nsec > b->mtime.tv_nsec;
	if (a->pid != b->pid)
		return a->pid > b->pid;
	return strcmp(a->name, b->name) > 0;
}

int glass_session_find_latest(const char *out_dir, char *path, size_t pathlen)
{
	DIR *d = opendir(out_dir);
	if (!d)
		return -1;
	struct candidate best = {0}, c;
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(c.name))
			continue;
		char sp[4400];
		struct stat st;
		snprintf(sp, sizeof(sp), "%s/%s/" GLASS_SESSION_FILE, out_dir, e->d_name);
		if (stat(sp, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		memset(&c, 0, sizeof(c));
		snprintf(c.name, sizeof(c.name), "%s", e->d_name);
		/* the stamp is the name up to its last '-'; the pid follows */
		const char *dash = strrchr(c.name, '-');
		size_t sl = dash ? (size_t)(dash - c.name) : strlen(c.name);
		if (sl >= sizeof(c.stamp))
			sl = sizeof(c.stamp) - 1;
		memcpy(c.stamp, c.name, sl);
		c.stamp[sl] = 0;
		if (dash)
			parse_u32(dash + 1, &c.pid);
		c.mtime = st.st_mtim;
		if (!found || candidate_newer(&c, &best)) {
			best = c;
			found = 1;
		}
	}
	closedir(d);
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	if ((size_t)snprintf(path, pathlen, "%s/%s", out_dir, best.name) >= pathlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* ---- streams ------------------------------------------------------------------------------ */

struct glass_stream *glass_stream_open(struct glass_proc *p, uint32_t tidx)
{
	struct thread_ref *t = find_thread(p, tidx);
	if (!t)
		return NULL;
	struct glass_stream *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->p = p;
	st->t = t;
	st->clock = p->clock;
	static const uint8_t empty[1];
	st->cur = st->end = empty;
	return st;
}

void glass_stream_close(struct glass_stream *st)
{
	if (!st)
		return;
	free(st->buf);
	free(st->zbuf);
	ZSTD_freeDCtx(st->dctx);
	free(st);
}

uint64_t glass_stream_bytes(const struct glass_stream *st)
{
	return st->bytes;
}

struct glass_proc *glass_stream_proc(const struct glass_stream *st)
{
	return st->p;
}

uint32_t glass_stream_tidx(const struct glass_stream *st)
{
	return st->t->tidx;
}

static int ensure(uint8_t **buf, size_t *cap, size_t want)
{
	if (*cap >= want)
		return 0;
	size_t n = *cap ? *cap : 65536;
	while (n < want)
		n *= 2;
	uint8_t *b = realloc(*buf, n);
	if (!b)
		return -1;
	*buf = b;
	*cap = n;
	return 0;
}

/* Decompresses a whole .zst chunk into st->buf; returns its length or -1 (why set). */
static ssize_t load_zst(struct glass_stream *st, const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot open: %s", strerror(e));
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	if ((uint64_t)sb.st_size > MAX_ZST_BYTES || ensure(&st->zbuf, &st->zcap, sb.st_size + 1)) {
		close(fd);
		snprintf(why, whylen, "compressed file too large");
		return -1;
	}
	size_t got = 0, want = (size_t)sb.st_size;
	while (got < want) {
		ssize_t r = read(fd, st->zbuf + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!st->dctx && !(st->dctx = ZSTD_createDCtx())) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	unsigned long long size = ZSTD_getFrameContentSize(st->zbuf, got);
	if (size != ZSTD_CONTENTSIZE_UNKNOWN && size != ZSTD_CONTENTSIZE_ERROR) {
		if (size > MAX_CHUNK_BYTES || ensure(&st->buf, &st->cap, (size_t)size + 1)) {
			snprintf(why, whylen, "chunk too large (%llu bytes)", size);
			return -1;
		}
		size_t r = ZSTD_decompressDCtx(st->dctx, st->buf, (size_t)size, st->zbuf, got);
		if (ZSTD_isError(r)) {
			snprintf(why, whylen, "cannot decompress: %s", ZSTD_getErrorName(r));
			return -1;
		}
		return (ssize_t)r;
	}
	/* size not in the frame header: stream it, growing the buffer up to the limit */
	ZSTD_DCtx_reset(st->dctx, ZSTD_reset_session_only);
	ZSTD_inBuffer ib = {st->zbuf, got, 0};
	size_t out = 0;
	for (;;) {
		if (out == st->cap &&
		    (out >= MAX_CHUNK_BYTES || ensure(&st->buf, &st->cap, out + 1))) {
			snprintf(why, whylen, "chunk too large");
			return -1;
		}
		ZSTD_outBuffer ob = {st->buf, st->cap, out};
		size_t z = ZSTD_decompressStream(st->dctx, &ob, &ib);
		if (ZSTD_isError(z)) {
			snprintf(why, whylen, "cannot decompress: %s", ZSTD_getErrorName(z));
			return -1;
		}
		out = ob.pos;
		if (z == 0)
			return (ssize_t)out;
		if (ib.pos == ib.size && ob.pos < ob.size) {
			snprintf(why, whylen, "compressed data cut short");
			return -1;
		}
	}
}

static ssize_t load_raw(struct glass_stream *st, const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot open: %s", strerror(e));
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	size_t want = (uint64_t)sb.st_size > MAX_CHUNK_BYTES ? MAX_CHUNK_BYTES : (size_t)sb.st_size;
	/* a raw chunk of a live writer only holds `used` bytes of interest, but the header is not
	 * trusted for sizes: read the file, bounded */
	if (ensure(&st->buf, &st->cap, want + 1)) {
		close(fd);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	size_t got = 0;
	while (got < want) {
		ssize_t r = read(fd, st->buf + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return (ssize_t)got;
}

/* Loads the next readable chunk: 1 loaded, 0 no more chunks. */
static int stream_next_chunk(struct glass_stream *st)
{
	struct glass_proc *p = st->p;
	struct thread_ref *t = st->t;
	while (st->next < t->nchunks) {
		uint32_t k = st->next++;
		struct chunk_ref *c = &t->chunks[k];
		if (!c->valid)
			continue;
		char path[4200], why[200];
		ssize_t len = -1;
		if (c->has_zst) {
			chunk_path(p, t->tidx, c->seq, 1, path, sizeof(path));
			len = load_zst(st, path, why, sizeof(why));
			if (len < 0 && !c->warned)
				warn(p->s, "%s t%u.%u.zst: %s%s", p->key, t->tidx, c->seq, why,
				     c->has_raw ? "; using the .raw file" : "; chunk skipped");
			if (len < 0 && c->has_raw)
				c->has_zst = 0; /* read the .raw next time, without a new warning */
		}
		if (len < 0 && c->has_raw) {
			chunk_path(p, t->tidx, c->seq, 0, path, sizeof(path));
			len = load_raw(st, path, why, sizeof(why));
			if (len < 0 && errno == ENOENT) {
				/* glass-compress replaced it since the directory was listed */
				chunk_path(p, t->tidx, c->seq, 1, path, sizeof(path));
				len = load_zst(st, path, why, sizeof(why));
			}
			if (len < 0 && !c->warned)
				warn(p->s, "%s t%u.%u.raw: %s; chunk skipped", p->key, t->tidx,
				     c->seq, why);
		}
		if (len < 0) {
			c->warned = 1;
			continue;
		}
		struct glass_chunk_header h;
		char hwhy[160];
		if ((size_t)len < sizeof(h)) {
			if (!c->warned)
				warn(p->s, "%s t%u.%u: truncated header; chunk skipped", p->key,
				     t->tidx, c->seq);
			c->warned = 1;
			continue;
		}
		memcpy(&h, st->buf, sizeof(h));
		if (chunk_header_check(&h, p, t->tidx, c->seq, hwhy, sizeof(hwhy)) < 0) {
			if (!c->warned)
				warn(p->s, "%s t%u.%u: %s; chunk skipped", p->key, t->tidx, c->seq,
				     hwhy);
			c->warned = 1;
			continue;
		}
		size_t end = (size_t)len;
		if (h.used) {
			if (h.used < sizeof(h)) {
				if (!c->warned)
					warn(p->s,
					     "%s t%u.%u: header says %u bytes used; chunk skipped",
					     p->key, t->tidx, c->seq, h.used);
				c->warned = 1;
				continue;
			}
			if (h.used < end)
				end = h.used;
			else if (h.used > end && !c->warned)
				warn(p->s,
				     "%s t%u.%u: file holds %zu of its %u bytes; the rest is lost",
				     p->key, t->tidx, c->seq, end, h.used);
		}
		st->chunk = c;
		st->chunk_last = k + 1 == t->nchunks;
		st->chunk_minor = h.minor;
		c->flags = h.flags;
		st->ticks = h.base_tsc;
		st->cur = st->buf + sizeof(h);
		st->end = st->buf + end;
		st->bytes += end;
		return 1;
	}
	return 0;
}

/* Undecodable bytes at `at`: the rest of the chunk is dropped. */
static __attribute__((noinline)) void stream_torn(struct glass_stream *st, const uint8_t *at)
{
	struct chunk_ref *c = st->chunk;
	struct glass_proc *p = st->p;
	size_t off = (size_t)(at - st->buf);
	st->cur = st->end;
	if (c->warned)
		return;
	c->warned = 1;
	uint8_t tag = *at;
	if (st->chunk_minor > GLASS_FORMAT_MINOR && tag && tag <= GLASS_REC_MAX_TAG &&
	    !tag_info[tag].types) {
		warn(p->s,
		     "%s t%u.%u: record tag %u of format %u.%u is unknown to this reader (%u.%u); "
		     "later records of this chunk ignored (install a newer glass)",
		     p->key, st->t->tidx, c->seq, tag, GLASS_FORMAT_MAJOR, st->chunk_minor,
		     GLASS_FORMAT_MAJOR, GLASS_FORMAT_MINOR);
		return;
	}
	if (st->chunk_last && !(c->flags & GLASS_CHUNK_SEALED))
		warn(p->s,
		     "%s t%u.%u: torn or corrupt tail at byte %zu; later records of this "
		     "chunk ignored",
		     p->key, st->t->tidx, c->seq, off);
	else
		note(p->s,
		     "%s t%u.%u: corrupt data at byte %zu of a %s chunk; later records of "
		     "this chunk ignored",
		     p->key, st->t->tidx, c->seq, off,
		     (c->flags & GLASS_CHUNK_SEALED) ? "sealed" : "non-final");
}

int glass_stream_next(struct glass_stream *st, struct glass_record *rec)
{
	for (;;) {
		const uint8_t *p = st->cur, *end = st->end;
		if (likely(p < end)) {
			uint8_t tag = *p;
			const uint8_t *q = p + 1;
			uint64_t dt;
			switch (tag) {
			case GLASS_REC_CALL:
			case GLASS_REC_RAISE:
				if (unlikely(mp_uint(&q, end, &dt) < 0 ||
					     mp_uint(&q, end, &rec->u[1]) < 0))
					goto torn;
				rec->nfields = 2;
				break;
			case GLASS_REC_RETURN:
			case GLASS_REC_GEN_YIELD:
			case GLASS_REC_GEN_RETURN:
				if (unlikely(mp_uint(&q, end, &dt) < 0))
					goto torn;
				rec->nfields = 1;
				break;
			case GLASS_REC_GEN_CREATE:
			case GLASS_REC_GEN_RESUME:
				if (unlikely(mp_uint(&q, end, &dt) < 0 ||
					     mp_uint(&q, end, &rec->u[1]) < 0 ||
					     mp_uint(&q, end, &rec->u[2]) < 0))
					goto torn;
				rec->nfields = 3;
				break;
			case 0:
				/* zero fill: the end of what was written */
				st->cur = st->end;
				continue;
			default: {
				if (tag >= GLASS_REC_FIRST_WRAPPED && tag < 64 &&
				    !tag_info[tag].types) {
					/* a record of a later version: skip it */
					if (mp_skip(&q, end, 0) < 0)
						goto torn;
					st->cur = q;
					continue;
				}
				if (tag > GLASS_REC_MAX_TAG || !tag_info[tag].stream)
					goto torn;
				const struct tag_info *ti = &tag_info[tag];
				if (decode_fields(ti, &q, end, rec) < 0)
					goto torn;
				st->cur = q;
				rec->tag = tag;
				if (ti->timed) {
					/* a wrapped record's dt does not move the clock */
					rec->ticks = st->ticks + rec->u[0];
					if (!ti->wrapped)
						st->ticks = rec->ticks;
					rec->ts_ns = clock_conv(&st->clock, rec->ticks);
				} else {
					rec->ticks = 0;
					rec->ts_ns = 0;
				}
				return 1;
			}
			}
			st->cur = q;
			rec->tag = tag;
			rec->u[0] = dt;
			st->ticks += dt;
			rec->ticks = st->ticks;
			rec->ts_ns = clock_conv(&st->clock, st->ticks);
			return 1;
		torn:
			stream_torn(st, p);
			continue;
		}
		if (!stream_next_chunk(st))
			return 0;
	}
}

/* ---- decoding outside a session (live readers, session-level files) ----------------------- */

int glass_decode_record(const uint8_t *buf, size_t len, size_t *off, uint64_t *ticks,
			struct glass_record *rec)
{
	tag_info_init();
	for (;;) {
		if (*off >= len)
			return 0;
		const uint8_t *p = buf + *off, *end = buf + len, *q = p + 1;
		uint8_t tag = *p;
		if (tag == 0)
			return 0;
		if (tag > GLASS_REC_MAX_TAG)
			return -1;
		const struct tag_info *ti = &tag_info[tag];
		if (!ti->types) {
			if (!GLASS_REC_IS_WRAPPED(tag) || mp_skip(&q, end, 0) < 0)
				return -1;
			*off = (size_t)(q - buf); /* a record of a later version: skipped */
			continue;
		}
		if (decode_fields(ti, &q, end, rec) < 0)
			return -1;
		rec->tag = tag;
		if (ti->timed && ticks) {
			rec->ticks = *ticks + rec->u[0];
			if (!ti->wrapped)
				*ticks = rec->ticks;
		} else {
			rec->ticks = 0;
		}
		rec->ts_ns = 0;
		*off = (size_t)(q - buf);
		return 1;
	}
}

struct glass_session *glass_proc_session(const struct glass_proc *p)
{
	return p ? p->s : NULL;
}

void *glass_session_aux(const struct glass_session *s)
{
	return s->aux;
}

void glass_session_set_aux(struct glass_session *s, void *aux, void (*aux_free)(void *))
{
	s->aux = aux;
	s->aux_free = aux_free;
}
