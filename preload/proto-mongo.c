/* preload/proto-mongo.c — MongoDB wire messages read as a stream; BSON bound by its container. */
#include <string.h>

#include "proto-mongo.h"

/*
 * The walker reads three kinds of items: a fixed number of bytes (at most 20, gathered in
 * fix[]), a C string (kept up to a bound, the rest counted), and a run of bytes to skip (the
 * first few kept for a string value). What an item means is its phase. Frames stand for the
 * message, a kind-1 section and the documents the walker enters on purpose (the body, its
 * "cursor", the batch arrays, "writeErrors"); every item is charged to the innermost frame
 * before it is read, so nothing can run past the document, section or message around it.
 */

enum mongo_item { IT_FIXED = 0, IT_CSTRING, IT_SKIP };

enum mongo_phase {
	PH_HEADER = 0,
	PH_TAIL, /* the rest of the message: checksum, unread documents, or after an error */
	PH_MSG_FLAGS,
	PH_SECTION_KIND,
	PH_SEQ_SIZE,
	PH_SEQ_ID,
	PH_SEQ_DOC_LEN,
	PH_SEQ_DOC,
	PH_QUERY_FLAGS,
	PH_QUERY_NAME,
	PH_QUERY_SKIP_RETURN,
	PH_QUERY_DOC_LEN,
	PH_REPLY_FIXED,
	PH_REPLY_DOC_LEN,
	PH_REPLY_SKIPPED,
	PH_COMPRESSED,
	PH_DOC_LEN, /* a document the program reads: its length */
	PH_EL_TYPE,
	PH_EL_KEY,
	PH_EL_FIXED,
	PH_EL_STRLEN,
	PH_EL_STRING,
	PH_EL_DOCLEN,
	PH_EL_BINLEN,
	PH_EL_REGEX1,
	PH_EL_REGEX2,
	PH_EL_DBPLEN,
	PH_EL_CWSLEN,
	PH_EL_SKIP,
};

/* What a frame is. */
enum mongo_ctx {
	CTX_MSG = 0,
	CTX_SECTION, /* OP_MSG kind 1 */
	CTX_BODY,    /* command or reply document */
	CTX_CURSOR,  /* body.cursor */
	CTX_COUNT,   /* an array whose elements are counted: batches, writeErrors */
	CTX_OTHER,   /* a document read without looking (not used for descending) */
};

/* Where to go when a document ends. */
enum mongo_ret { RET_ELEMENT = 0, RET_SECTIONS, RET_TAIL, RET_REPLY_DOCS };

#define BSON_VARIABLE (-1)
#define BSON_UNKNOWN  (-2)

/* Bytes of a value of this type when fixed, else BSON_VARIABLE or BSON_UNKNOWN. */
static int bson_fixed_size(uint8_t type)
{
	switch (type) {
	case 0x01: /* double */
	case 0x09: /* UTC datetime */
	case 0x11: /* timestamp */
	case 0x12: /* int64 */
		return 8;
	case 0x06: /* undefined */
	case 0x0a: /* null */
	case 0x7f: /* max key */
	case 0xff: /* min key */
		return 0;
	case 0x07: /* ObjectId */
		return 12;
	case 0x08: /* bool */
		return 1;
	case 0x10: /* int32 */
		return 4;
	case 0x13: /* decimal128 */
		return 16;
	case 0x02: /* string */
	case 0x03: /* document */
	case 0x04: /* array */
	case 0x05: /* binary */
	case 0x0b: /* regex */
	case 0x0c: /* DBPointer */
	case 0x0d: /* JavaScript code */
	case 0x0e: /* symbol */
	case 0x0f: /* code with scope */
		return BSON_VARIABLE;
	default:
		return BSON_UNKNOWN;
	}
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static double le_double(const uint8_t *p)
{
	uint64_t u = le64(p);
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

/* Numbers as BSON has them; 1 if the type is one. */
static int bson_number(uint8_t type, const uint8_t *v, double *out)
{
	switch (type) {
	case 0x01:
		*out = le_double(v);
		return 1;
	case 0x10:
		*out = (int32_t)le32(v);
		return 1;
	case 0x12:
		*out = (double)(int64_t)le64(v);
		return 1;
	case 0x08:
		*out = v[0] != 0;
		return 1;
	default:
		return 0;
	}
}

/* double to int without undefined behaviour for NaN or out-of-range values. */
static int64_t clamp_i64(double d)
{
	if (!(d == d))
		return 0;
	if (d >= 9.2e18)
		return INT64_MAX;
	if (d <= -9.2e18)
		return INT64_MIN;
	return (int64_t)d;
}

static void copy_text(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- the stream walker ---- */

static void mongo_bad(struct glass_mongo_stream *s)
{
	s->msg.bson_error = 1;
	s->depth = 0;
	s->item = IT_SKIP;
	s->phase = PH_TAIL;
	s->skip_left = s->msg_left;
}

static int mongo_charge(struct glass_mongo_stream *s, uint32_t n)
{
	if (s->depth == 0 || s->frames[s->depth - 1].left < n) {
		mongo_bad(s);
		return 0;
	}
	s->frames[s->depth - 1].left -= n;
	return 1;
}

static void mongo_fixed(struct glass_mongo_stream *s, enum mongo_phase ph, uint8_t n)
{
	if (!mongo_charge(s, n))
		return;
	s->item = IT_FIXED;
	s->phase = ph;
	s->need = n;
	s->have = 0;
}

static void mongo_cstring(struct glass_mongo_stream *s, enum mongo_phase ph)
{
	s->item = IT_CSTRING;
	s->phase = ph;
	s->key_len = 0;
	s->key_long = 0;
}

/* Skips n bytes, keeping the first `keep` of them in text[]. */
static void mongo_skip(struct glass_mongo_stream *s, enum mongo_phase ph, uint32_t n, uint32_t keep)
{
	if (!mongo_charge(s, n))
		return;
	s->item = IT_SKIP;
	s->phase = ph;
	s->skip_left = n;
	s->text_len = 0;
	s->keep = keep < n ? keep : n;
	if (s->keep > sizeof(s->text) - 1)
		s->keep = sizeof(s->text) - 1;
}

static void mongo_tail(struct glass_mongo_stream *s)
{
	s->depth = 0;
	s->item = IT_SKIP;
	s->phase = PH_TAIL;
	s->skip_left = s->msg_left;
}

/* Enters a document of length len (its 4 length bytes already read) with ctx, ret. */
static void mongo_push(struct glass_mongo_stream *s, uint32_t len, enum mongo_ctx ctx,
		       enum mongo_ret ret)
{
	if (len < 5 || s->depth == GLASS_MONGO_FRAMES || !mongo_charge(s, len - 4)) {
		if (s->phase != PH_TAIL)
			mongo_bad(s);
		return;
	}
	s->frames[s->depth].left = len - 4;
	s->frames[s->depth].nel = 0;
	s->frames[s->depth].ctx = (uint8_t)ctx;
	s->frames[s->depth].ret = (uint8_t)ret;
	s->depth++;
	mongo_fixed(s, PH_EL_TYPE, 1);
}

static void mongo_section_next(struct glass_mongo_stream *s)
{
	/* depth 1: the message frame */
	if (s->frames[0].left == 0)
		mongo_tail(s);
	else
		mongo_fixed(s, PH_SECTION_KIND, 1);
}

static void mongo_reply_next(struct glass_mongo_stream *s)
{
	if (s->frames[0].left == 0)
		mongo_tail(s);
	else
		mongo_fixed(s, PH_REPLY_DOC_LEN, 4);
}

/* In a kind-1 section: the next document, or the next section. */
static void mongo_seq_next(struct glass_mongo_stream *s)
{
	if (s->frames[1].left == 0) {
		s->depth = 1;
		mongo_section_next(s);
	} else {
		mongo_fixed(s, PH_SEQ_DOC_LEN, 4);
	}
}

static void mongo_element_done(struct glass_mongo_stream *s)
{
	s->frames[s->depth - 1].nel++;
	mongo_fixed(s, PH_EL_TYPE, 1);
}

static int key_is(const struct glass_mongo_stream *s, const char *k)
{
	return !s->key_long && strcmp(s->key, k) == 0;
}

/* A document just ended (its 0 byte read). */
static void mongo_doc_end(struct glass_mongo_stream *s)
{
	uint8_t ret;

	if (s->frames[s->depth - 1].left != 0) {
		mongo_bad(s);
		return;
	}
	ret = s->frames[s->depth - 1].ret;
	s->depth--;
	switch (ret) {
	case RET_ELEMENT:
		mongo_element_done(s);
		break;
	case RET_SECTIONS:
		mongo_section_next(s);
		break;
	case RET_REPLY_DOCS:
		mongo_reply_next(s);
		break;
	default:
		mongo_tail(s);
		break;
	}
}

/* A key was read; route its value by type. */
static void mongo_value_begin(struct glass_mongo_stream *s)
{
	int size = bson_fixed_size(s->el_type);

	if (size >= 0) {
		if (size == 0)
			mongo_element_done(s);
		else
			mongo_fixed(s, PH_EL_FIXED, (uint8_t)size);
		return;
	}
	switch (s->el_type) {
	case 0x02:
	case 0x0d:
	case 0x0e:
		mongo_fixed(s, PH_EL_STRLEN, 4);
		break;
	case 0x03:
	case 0x04:
		mongo_fixed(s, PH_EL_DOCLEN, 4);
		break;
	case 0x05:
		mongo_fixed(s, PH_EL_BINLEN, 4);
		break;
	case 0x0b:
		mongo_cstring(s, PH_EL_REGEX1);
		break;
	case 0x0c:
		mongo_fixed(s, PH_EL_DBPLEN, 4);
		break;
	default: /* 0x0f */
		mongo_fixed(s, PH_EL_CWSLEN, 4);
		break;
	}
}

/* A fixed-size value of the current element: keep what the body says about the command. */
static void mongo_fixed_value(struct glass_mongo_stream *s)
{
	struct glass_mongo_msg *m = &s->msg;
	uint8_t ctx = s->frames[s->depth - 1].ctx;
	double d;

	if (!bson_number(s->el_type, s->fix, &d))
		return;
	if (ctx == CTX_BODY) {
		if (key_is(s, "ok")) {
			m->has_ok = 1;
			m->ok = d;
		} else if (key_is(s, "code") && s->el_type != 0x08) {
			int64_t v = clamp_i64(d);

			m->has_code = 1;
			m->code = v > INT32_MAX	  ? INT32_MAX
				  : v < INT32_MIN ? INT32_MIN
						  : (int32_t)v;
		} else if (key_is(s, "n") && s->el_type != 0x08) {
			m->has_n = 1;
			m->n = clamp_i64(d);
		}
	} else if (ctx == CTX_CURSOR && key_is(s, "id") && s->el_type == 0x12) {
		m->has_cursor_id = 1;
		m->cursor_id = (int64_t)le64(s->fix);
	}
}

/* Does this string value interest us (then keep up to text[]'s size)? */
static int mongo_wants_string(const struct glass_mongo_stream *s)
{
	const typeof(s->frames[0]) *f = &s->frames[s->depth - 1];

	if (f->ctx != CTX_BODY || s->el_type != 0x02)
		return 0;
	return f->nel == 0 || key_is(s, "$db") || key_is(s, "errmsg") || key_is(s, "$err") ||
	       key_is(s, "collection");
}

static void mongo_string_value(struct glass_mongo_stream *s)
{
	struct glass_mongo_msg *m = &s->msg;
	size_t n = s->text_len;

	/* The kept bytes may end with the string's NUL (short strings); cut at the first NUL. */
	n = strnlen(s->text, n);
	if (key_is(s, "errmsg") || (key_is(s, "$err") && !m->errmsg[0]))
		copy_text(m->errmsg, sizeof(m->errmsg), s->text, n);
	else if (key_is(s, "$db"))
		copy_text(m->db, sizeof(m->db), s->text, n);
	else if (s->frames[s->depth - 1].nel == 0 && !s->plain_query)
		copy_text(m->collection, sizeof(m->collection), s->text, n);
	else if (key_is(s, "collection") && !m->collection[0])
		copy_text(m->collection, sizeof(m->collection), s->text, n);
}

/* A nested document or array of length len: enter it when it is one we look into. */
static void mongo_subdoc(struct glass_mongo_stream *s, uint32_t len)
{
	const typeof(s->frames[0]) *f = &s->frames[s->depth - 1];
	int ctx = -1;

	if (f->ctx == CTX_BODY) {
		if (s->el_type == 0x03 && key_is(s, "cursor"))
			ctx = CTX_CURSOR;
		else if (s->el_type == 0x04 && key_is(s, "writeErrors"))
			ctx = CTX_COUNT;
		else if (s->el_type == 0x03 && f->nel == 0 && key_is(s, "$query"))
			ctx =
			    CTX_BODY; /* legacy wrapping: {$query: {find: ...}, $readPreference} */
	} else if (f->ctx == CTX_CURSOR && s->el_type == 0x04 &&
		   (key_is(s, "firstBatch") || key_is(s, "nextBatch"))) {
		ctx = CTX_COUNT;
		s->msg.has_batch = 1;
		s->msg.batch_docs = 0;
	}
	if (ctx < 0) {
		if (len < 5)
			mongo_bad(s);
		else
			mongo_skip(s, PH_EL_SKIP, len - 4, 0);
		return;
	}
	if (ctx == CTX_BODY && f->ctx == CTX_BODY)
		s->msg.command[0] = '\0';
	mongo_push(s, len, (enum mongo_ctx)ctx, RET_ELEMENT);
}

/* Starts the body of a message whose header is in fix[]. */
static void mongo_header(struct glass_mongo_stream *s, int *gave_up)
{
	struct glass_mongo_msg *m = &s->msg;
	int32_t len = (int32_t)le32(s->fix);
	int32_t op = (int32_t)le32(s->fix + 12);

	memset(m, 0, sizeof(*m));
	s->plain_query = 0;
	m->length = len;
	m->request_id = (int32_t)le32(s->fix + 4);
	m->response_to = (int32_t)le32(s->fix + 8);
	m->opcode = op;
	if (len < GLASS_MONGO_HEADER_SIZE || len > GLASS_MONGO_MAX_MESSAGE ||
	    !(op == GLASS_MONGO_OP_REPLY ||
	      (op >= GLASS_MONGO_OP_UPDATE && op <= GLASS_MONGO_OP_KILL_CURSORS && op != 2003) ||
	      op == GLASS_MONGO_OP_COMPRESSED || op == GLASS_MONGO_OP_MSG)) {
		*gave_up = 1;
		return;
	}
	s->in_body = 1;
	s->msg_left = (uint32_t)len - GLASS_MONGO_HEADER_SIZE;
	s->frames[0].left = s->msg_left;
	s->frames[0].nel = 0;
	s->frames[0].ctx = CTX_MSG;
	s->frames[0].ret = RET_TAIL;
	s->depth = 1;
	switch (op) {
	case GLASS_MONGO_OP_MSG:
		mongo_fixed(s, PH_MSG_FLAGS, 4);
		break;
	case GLASS_MONGO_OP_QUERY:
		mongo_fixed(s, PH_QUERY_FLAGS, 4);
		break;
	case GLASS_MONGO_OP_REPLY:
		mongo_fixed(s, PH_REPLY_FIXED, 20);
		break;
	case GLASS_MONGO_OP_COMPRESSED:
		mongo_fixed(s, PH_COMPRESSED, 9);
		break;
	default:
		mongo_tail(s);
		break;
	}
}

/* OP_QUERY's fullCollectionName "db.collection" (kept in key[]). */
static void mongo_query_name(struct glass_mongo_stream *s)
{
	struct glass_mongo_msg *m = &s->msg;
	const char *dot = memchr(s->key, '.', s->key_len);

	if (!dot) {
		copy_text(m->db, sizeof(m->db), s->key, s->key_len);
		return;
	}
	copy_text(m->db, sizeof(m->db), s->key, (size_t)(dot - s->key));
	if (strcmp(dot + 1, "$cmd") != 0) {
		s->plain_query = 1;
		copy_text(m->collection, sizeof(m->collection), dot + 1,
			  s->key_len - (size_t)(dot + 1 - s->key));
	}
}

/* The item of the current phase is complete. */
static void mongo_step(struct glass_mongo_stream *s, int *gave_up)
{
	struct glass_mongo_msg *m = &s->msg;
	uint32_t v = le32(s->fix);

	switch ((enum mongo_phase)s->phase) {
	case PH_HEADER:
		mongo_header(s, gave_up);
		break;
	case PH_TAIL:
		break;
	case PH_MSG_FLAGS:
		m->flags = v;
		if ((v & GLASS_MONGO_MSG_CHECKSUM_PRESENT) && !mongo_charge(s, 4))
			break; /* the CRC-32C after the sections is read as the tail */
		mongo_section_next(s);
		break;
	case PH_SECTION_KIND:
		m->sections++;
		if (s->fix[0] == 0)
			mongo_fixed(s, PH_DOC_LEN, 4);
		else if (s->fix[0] == 1)
			mongo_fixed(s, PH_SEQ_SIZE, 4);
		else
			mongo_bad(s);
		break;
	case PH_DOC_LEN:
		mongo_push(s, v, CTX_BODY, RET_SECTIONS);
		break;
	case PH_SEQ_SIZE:
		/* The size counts itself: the rest is a section frame. */
		if (v < 5 || !mongo_charge(s, v - 4)) {
			if (s->phase != PH_TAIL)
				mongo_bad(s);
			break;
		}
		s->frames[1].left = v - 4;
		s->frames[1].nel = 0;
		s->frames[1].ctx = CTX_SECTION;
		s->frames[1].ret = RET_SECTIONS;
		s->depth = 2;
		mongo_cstring(s, PH_SEQ_ID);
		break;
	case PH_SEQ_ID:
		if (!m->sequence_id[0])
			copy_text(m->sequence_id, sizeof(m->sequence_id), s->key, s->key_len);
		mongo_seq_next(s);
		break;
	case PH_SEQ_DOC:
		m->sequence_docs++;
		mongo_seq_next(s);
		break;
	case PH_SEQ_DOC_LEN:
		if (v < 5)
			mongo_bad(s);
		else
			mongo_skip(s, PH_SEQ_DOC, v - 4, 0);
		break;
	case PH_QUERY_FLAGS:
		m->flags = v;
		mongo_cstring(s, PH_QUERY_NAME);
		break;
	case PH_QUERY_NAME:
		mongo_query_name(s);
		mongo_fixed(s, PH_QUERY_SKIP_RETURN, 8);
		break;
	case PH_QUERY_SKIP_RETURN:
		m->number_to_skip = (int32_t)v;
		m->number_to_return = (int32_t)le32(s->fix + 4);
		mongo_fixed(s, PH_QUERY_DOC_LEN, 4);
		break;
	case PH_QUERY_DOC_LEN:
		mongo_push(s, v, CTX_BODY, RET_TAIL); /* the rest (a field selector) is the tail */
		break;
	case PH_REPLY_FIXED:
		m->flags = v;
		m->cursor_id = (int64_t)le64(s->fix + 4);
		m->has_cursor_id = 1;
		m->starting_from = (int32_t)le32(s->fix + 12);
		m->number_returned = (int32_t)le32(s->fix + 16);
		mongo_reply_next(s);
		break;
	case PH_REPLY_DOC_LEN:
		/* The first document is walked (a command reply, or $err); the others counted. */
		m->documents++;
		if (m->documents == 1)
			mongo_push(s, v, CTX_BODY, RET_REPLY_DOCS);
		else if (v < 5)
			mongo_bad(s);
		else
			mongo_skip(s, PH_REPLY_SKIPPED, v - 4, 0);
		break;
	case PH_REPLY_SKIPPED:
		mongo_reply_next(s);
		break;
	case PH_COMPRESSED:
		m->original_opcode = (int32_t)v;
		m->uncompressed_size = (int32_t)le32(s->fix + 4);
		m->compressor_id = s->fix[8];
		mongo_tail(s);
		break;
	case PH_EL_TYPE:
		if (s->fix[0] == 0) {
			mongo_doc_end(s);
			break;
		}
		if (bson_fixed_size(s->fix[0]) == BSON_UNKNOWN) {
			mongo_bad(s);
			break;
		}
		s->el_type = s->fix[0];
		if (s->frames[s->depth - 1].ctx == CTX_COUNT) {
			if (s->depth >= 2 && s->frames[s->depth - 2].ctx == CTX_CURSOR)
				m->batch_docs++;
			else
				m->write_errors++;
		}
		mongo_cstring(s, PH_EL_KEY);
		break;
	case PH_EL_KEY:
		if (s->frames[s->depth - 1].ctx == CTX_BODY && s->frames[s->depth - 1].nel == 0 &&
		    !s->plain_query && !key_is(s, "$query"))
			copy_text(m->command, sizeof(m->command), s->key, s->key_len);
		mongo_value_begin(s);
		break;
	case PH_EL_FIXED:
		mongo_fixed_value(s);
		mongo_element_done(s);
		break;
	case PH_EL_STRLEN:
		if (v < 1)
			mongo_bad(s);
		else
			mongo_skip(s, PH_EL_STRING, v, mongo_wants_string(s) ? v : 0);
		break;
	case PH_EL_STRING:
		if (s->keep || s->text_len)
			mongo_string_value(s);
		mongo_element_done(s);
		break;
	case PH_EL_DOCLEN:
		mongo_subdoc(s, v);
		break;
	case PH_EL_BINLEN:
		if (v > INT32_MAX - 1)
			mongo_bad(s);
		else
			mongo_skip(s, PH_EL_SKIP, v + 1, 0); /* subtype byte, then the data */
		break;
	case PH_EL_REGEX1:
		mongo_cstring(s, PH_EL_REGEX2);
		break;
	case PH_EL_DBPLEN:
		if (v < 1 || v > INT32_MAX - 12)
			mongo_bad(s);
		else
			mongo_skip(s, PH_EL_SKIP, v + 12, 0); /* the name, then an ObjectId */
		break;
	case PH_EL_CWSLEN:
		if (v < 14)
			mongo_bad(s);
		else
			mongo_skip(s, PH_EL_SKIP, v - 4, 0);
		break;
	case PH_EL_REGEX2:
	case PH_EL_SKIP:
		mongo_element_done(s);
		break;
	}
}

/* ---- messages and pairing ---- */

void glass_mongo_init(struct glass_mongo_conn *c)
{
	memset(c, 0, sizeof(*c));
	for (int d = 0; d < 2; d++) {
		c->dir[d].item = IT_FIXED;
		c->dir[d].phase = PH_HEADER;
		c->dir[d].need = GLASS_MONGO_HEADER_SIZE;
	}
}

static struct glass_mongo_pending *mongo_find(struct glass_mongo_conn *c, int32_t id)
{
	for (int i = 0; i < GLASS_MONGO_PENDING; i++)
		if (c->pending[i].used && c->pending[i].request_id == id)
			return &c->pending[i];
	return NULL;
}

static void mongo_remember(struct glass_mongo_conn *c, int32_t id, uint64_t user)
{
	struct glass_mongo_pending *e = mongo_find(c, id);

	if (!e) {
		for (int i = 0; i < GLASS_MONGO_PENDING; i++) {
			if (!c->pending[i].used) {
				e = &c->pending[i];
				break;
			}
			if (!e || c->pending[i].age < e->age)
				e = &c->pending[i];
		}
		if (e->used)
			c->pending_dropped++;
	}
	e->used = 1;
	e->request_id = id;
	e->age = ++c->clock;
	e->user = user;
}

int glass_mongo_set_user(struct glass_mongo_conn *c, int32_t request_id, uint64_t user)
{
	struct glass_mongo_pending *e = mongo_find(c, request_id);

	if (!e)
		return 0;
	e->user = user;
	return 1;
}

/* The message's last byte was read. */
static enum glass_mongo_event mongo_finish(struct glass_mongo_conn *c, enum glass_mongo_dir dir)
{
	struct glass_mongo_stream *s = &c->dir[dir];
	struct glass_mongo_msg *m = &s->msg;

	if (s->phase != PH_TAIL || s->depth != 0)
		m->bson_error = 1; /* the body ended inside something it had announced */
	s->in_body = 0;
	s->depth = 0;
	s->item = IT_FIXED;
	s->phase = PH_HEADER;
	s->need = GLASS_MONGO_HEADER_SIZE;
	s->have = 0;
	if (dir == GLASS_MONGO_REQUESTS) {
		if ((m->opcode == GLASS_MONGO_OP_MSG &&
		     !(m->flags & GLASS_MONGO_MSG_MORE_TO_COME)) ||
		    m->opcode == GLASS_MONGO_OP_QUERY || m->opcode == GLASS_MONGO_OP_GET_MORE ||
		    m->opcode == GLASS_MONGO_OP_COMPRESSED)
			mongo_remember(c, m->request_id, 0);
		return GLASS_MONGO_REQUEST;
	}
	struct glass_mongo_pending *e = mongo_find(c, m->response_to);

	if (e) {
		m->paired = 1;
		m->user = e->user;
		e->used = 0;
		/* Exhaust cursors: the next reply answers this one. */
		if (m->opcode == GLASS_MONGO_OP_MSG && (m->flags & GLASS_MONGO_MSG_MORE_TO_COME))
			mongo_remember(c, m->request_id, m->user);
	}
	return GLASS_MONGO_REPLY;
}

size_t glass_mongo_feed(struct glass_mongo_conn *c, enum glass_mongo_dir dir, const void *buf,
			size_t len, enum glass_mongo_event *ev)
{
	struct glass_mongo_stream *s = &c->dir[dir == GLASS_MONGO_REPLIES];
	const uint8_t *p = buf;
	size_t i = 0;
	int gave_up = 0;

	*ev = GLASS_MONGO_NONE;
	if (c->gave_up || !p)
		return len;
	dir = dir == GLASS_MONGO_REPLIES ? GLASS_MONGO_REPLIES : GLASS_MONGO_REQUESTS;
	while (i < len) {
		size_t n;

		switch (s->item) {
		case IT_FIXED:
			n = s->need - s->have;
			if (n > len - i)
				n = len - i;
			memcpy(s->fix + s->have, p + i, n);
			s->have += (uint8_t)n;
			i += n;
			if (s->in_body)
				s->msg_left -= (uint32_t)n;
			if (s->have == s->need)
				mongo_step(s, &gave_up);
			break;
		case IT_CSTRING: {
			uint8_t b = p[i++];

			s->msg_left--;
			if (!mongo_charge(s, 1))
				break;
			if (b == 0) {
				s->key[s->key_len] = '\0';
				mongo_step(s, &gave_up);
			} else if (s->key_len < sizeof(s->key) - 1) {
				s->key[s->key_len++] = (char)b;
			} else {
				s->key_long = 1;
			}
			break;
		}
		default: /* IT_SKIP */
			n = s->skip_left;
			if (n > len - i)
				n = len - i;
			if (s->keep) {
				size_t k = n < s->keep ? n : s->keep;

				memcpy(s->text + s->text_len, p + i, k);
				s->text_len += (uint32_t)k;
				s->keep -= (uint32_t)k;
			}
			s->skip_left -= (uint32_t)n;
			s->msg_left -= (uint32_t)n;
			i += n;
			if (s->skip_left == 0)
				mongo_step(s, &gave_up);
			break;
		}
		if (gave_up) {
			c->gave_up = 1;
			*ev = GLASS_MONGO_GAVE_UP;
			return len;
		}
		if (s->in_body && s->msg_left == 0) {
			*ev = mongo_finish(c, dir);
			return i;
		}
	}
	return i;
}

/* ---- BSON in a buffer ---- */

/* Bytes of the value at v (avail readable, within its document), or -1 if it does not fit. */
static int64_t bson_value_len(uint8_t type, const uint8_t *v, uint32_t avail)
{
	int fixed = bson_fixed_size(type);
	uint32_t l;

	if (fixed >= 0)
		return (uint32_t)fixed <= avail ? fixed : -1;
	if (fixed == BSON_UNKNOWN || (type != 0x0b && avail < 4))
		return -1;
	l = type == 0x0b ? 0 : le32(v);
	switch (type) {
	case 0x02:
	case 0x0d:
	case 0x0e:
		if (l < 1 || l > avail - 4 || v[4 + l - 1] != 0)
			return -1;
		return 4 + (int64_t)l;
	case 0x03:
	case 0x04:
		if (l < 5 || l > avail || v[l - 1] != 0)
			return -1;
		return l;
	case 0x05:
		if (l > avail - 4 || avail - 4 - l < 1)
			return -1;
		return 5 + (int64_t)l;
	case 0x0b: {
		const uint8_t *a = memchr(v, 0, avail), *b;

		if (!a)
			return -1;
		b = memchr(a + 1, 0, avail - (uint32_t)(a + 1 - v));
		return b ? b + 1 - v : -1;
	}
	case 0x0c:
		if (l < 1 || l > avail - 4 || avail - 4 - l < 12 || v[4 + l - 1] != 0)
			return -1;
		return 4 + (int64_t)l + 12;
	default: /* 0x0f: int32 total, string, document */
		if (l < 14 || l > avail)
			return -1;
		return l;
	}
}

int glass_bson_iter_init(struct glass_bson_iter *it, const void *doc, size_t avail)
{
	const uint8_t *p = doc;
	uint32_t l;

	it->doc = NULL;
	it->len = it->pos = 0;
	if (!p || avail < 5)
		return 0;
	l = le32(p);
	if (l < 5 || l > avail || l > INT32_MAX || p[l - 1] != 0)
		return 0;
	it->doc = p;
	it->len = l;
	it->pos = 4;
	return 1;
}

int glass_bson_iter_next(struct glass_bson_iter *it, struct glass_bson_elem *e)
{
	const uint8_t *d = it->doc, *key_end;
	uint32_t pos = it->pos, vstart;
	int64_t vl;

	if (!d || pos >= it->len)
		return -1;
	if (d[pos] == 0)
		return pos == it->len - 1 ? 0 : (it->pos = it->len, -1);
	/* the key ends before the document's own terminating 0 */
	key_end = memchr(d + pos + 1, 0, it->len - 1 - (pos + 1));
	if (!key_end)
		goto bad;
	vstart = (uint32_t)(key_end + 1 - d);
	vl = bson_value_len(d[pos], d + vstart, it->len - 1 - vstart);
	if (vl < 0)
		goto bad;
	e->type = d[pos];
	e->key = (const char *)d + pos + 1;
	e->key_len = (size_t)(key_end - (d + pos + 1));
	e->value = d + vstart;
	e->value_len = (uint32_t)vl;
	it->pos = vstart + (uint32_t)vl;
	return 1;
bad:
	it->pos = it->len;
	return -1;
}

int glass_bson_elem_number(const struct glass_bson_elem *e, double *out)
{
	return bson_number(e->type, e->value, out);
}

int glass_bson_elem_string(const struct glass_bson_elem *e, const char **s, size_t *n)
{
	if (e->type != 0x02 && e->type != 0x0d && e->type != 0x0e)
		return 0;
	*s = (const char *)e->value + 4;
	*n = e->value_len - 5;
	return 1;
}

int glass_bson_elem_document(const struct glass_bson_elem *e, struct glass_bson_iter *sub)
{
	if (e->type != 0x03 && e->type != 0x04)
		return 0;
	return glass_bson_iter_init(sub, e->value, e->value_len);
}

int glass_bson_validate(const void *doc, size_t avail)
{
	struct glass_bson_iter stack[GLASS_BSON_DEPTH_MAX];
	struct glass_bson_elem e;
	int depth = 1;

	if (!glass_bson_iter_init(&stack[0], doc, avail))
		return 0;
	while (depth) {
		int r = glass_bson_iter_next(&stack[depth - 1], &e);
		struct glass_bson_iter sub;

		if (r < 0)
			return 0;
		if (r == 0) {
			depth--;
			continue;
		}
		if (e.type == 0x0f) {
			/* code with scope: total, string, scope document, exactly */
			uint32_t sl = le32(e.value + 4);

			if (sl < 1 || sl > e.value_len - 8 - 5 || e.value[8 + sl - 1] != 0 ||
			    !glass_bson_iter_init(&sub, e.value + 8 + sl, e.value_len - 8 - sl) ||
			    8 + sl + sub.len != e.value_len)
				return 0;
		} else if (!glass_bson_elem_document(&e, &sub)) {
			continue;
		}
		if (depth == GLASS_BSON_DEPTH_MAX)
			return 0;
		stack[depth++] = sub;
	}
	return 1;
}
