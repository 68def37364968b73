/* preload/proto-mongo.h — MongoDB wire messages seen on a socket, and a bounded BSON reader. */
#ifndef GLASS_PROTO_MONGO_H
#define GLASS_PROTO_MONGO_H

#include <stddef.h>
#include <stdint.h>

/*
 * One struct glass_mongo_conn per connection, owned by the caller (about 3.5 KiB); no malloc, no
 * locks, no syscalls, time linear in the bytes fed. Messages are read as a stream: the 16-byte
 * header, then the body walked element by element without buffering it, so a 40 MB reply costs
 * the same small state as a 100-byte one and fields after a large cursor batch ("ok" comes last
 * in a find reply) are still seen. Lengths are never trusted: every document, string and
 * section must fit the one around it, and the message length from the header bounds them all.
 * A malformed body only sets msg.bson_error: the message is skipped to its end and the stream
 * stays in step. A bad header (length or opcode) gives up on the connection.
 *
 *	size_t off = 0;
 *	while (off < len) {
 *		enum glass_mongo_event ev;
 *		off += glass_mongo_feed(c, GLASS_MONGO_REPLIES, buf + off, len - off, &ev);
 *		if (ev == GLASS_MONGO_REPLY) ... c->dir[GLASS_MONGO_REPLIES].msg ...
 *	}
 */

#define GLASS_MONGO_OP_REPLY	    1
#define GLASS_MONGO_OP_UPDATE	    2001
#define GLASS_MONGO_OP_INSERT	    2002
#define GLASS_MONGO_OP_QUERY	    2004
#define GLASS_MONGO_OP_GET_MORE	    2005
#define GLASS_MONGO_OP_DELETE	    2006
#define GLASS_MONGO_OP_KILL_CURSORS 2007
#define GLASS_MONGO_OP_COMPRESSED   2012
#define GLASS_MONGO_OP_MSG	    2013

/* OP_MSG flagBits */
#define GLASS_MONGO_MSG_CHECKSUM_PRESENT 0x1
#define GLASS_MONGO_MSG_MORE_TO_COME	 0x2
#define GLASS_MONGO_MSG_EXHAUST_ALLOWED	 0x10000
/* OP_REPLY responseFlags */
#define GLASS_MONGO_REPLY_CURSOR_NOT_FOUND 0x1
#define GLASS_MONGO_REPLY_QUERY_FAILURE	   0x2

#define GLASS_MONGO_HEADER_SIZE	   16
#define GLASS_MONGO_MAX_MESSAGE	   (64 * 1024 * 1024) /* servers allow 48 000 000 */
#define GLASS_MONGO_NAME_MAX	   64		      /* command, $db, sequence identifier */
#define GLASS_MONGO_COLLECTION_MAX 128
#define GLASS_MONGO_ERRMSG_MAX	   128
#define GLASS_MONGO_PENDING	   64 /* requests awaiting a reply, per connection */
/* Nesting the message walker uses: it only enters the documents it wants. */
#define GLASS_MONGO_FRAMES   8
#define GLASS_BSON_DEPTH_MAX 32 /* nesting glass_bson_validate() accepts */

/* What one message held. Strings are NUL-terminated and cut to fit; "" when absent. */
struct glass_mongo_msg {
	int32_t length, request_id, response_to, opcode;
	uint32_t flags;	    /* OP_MSG flagBits, OP_QUERY flags, OP_REPLY responseFlags */
	uint8_t bson_error; /* the body did not parse to the end; what came before is kept */

	/* OP_COMPRESSED: what is inside (not decompressed) */
	int32_t original_opcode;
	int32_t uncompressed_size;
	uint8_t compressor_id;

	/* The body document: OP_MSG's kind-0 section, OP_QUERY's query (inside "$query" when
	 * wrapped), OP_REPLY's first document. */
	/* its first key: "find", "insert", "isMaster"; "" for a legacy OP_QUERY on a collection */
	char command[GLASS_MONGO_NAME_MAX];
	/* the first key's value when a string ({find: "users"}), or "collection" (getMore);
	 * for a legacy OP_QUERY on a collection, the part of fullCollectionName after the db */
	char collection[GLASS_MONGO_COLLECTION_MAX];
	char db[GLASS_MONGO_NAME_MAX]; /* "$db", or OP_QUERY fullCollectionName up to the '.' */

	/* OP_MSG */
	uint32_t sections;			/* all kinds */
	uint32_t sequence_docs;			/* documents in kind-1 sections, summed */
	char sequence_id[GLASS_MONGO_NAME_MAX]; /* identifier of the first kind-1 section */

	/* replies (read from the body document whatever the direction) */
	uint8_t has_ok, has_code, has_n, has_batch, has_cursor_id;
	double ok;			     /* "ok" as double, int32, int64 or bool */
	int32_t code;			     /* "code" */
	int64_t n;			     /* "n" */
	int32_t batch_docs;		     /* elements of cursor.firstBatch or cursor.nextBatch */
	int64_t cursor_id;		     /* cursor.id (OP_MSG) or cursorID (OP_REPLY) */
	uint32_t write_errors;		     /* elements of "writeErrors" */
	char errmsg[GLASS_MONGO_ERRMSG_MAX]; /* "errmsg", or "$err" of a legacy reply */

	/* OP_QUERY */
	int32_t number_to_skip, number_to_return;
	/* OP_REPLY */
	int32_t starting_from, number_returned;
	uint32_t documents; /* documents actually present */

	/* pairing (replies only): the request this answers was seen and remembered */
	uint8_t paired;
	uint64_t user; /* what glass_mongo_set_user() stored with it */
};

/* One direction's state: internal but for msg. */
struct glass_mongo_stream {
	uint8_t item;	    /* the kind of bytes expected next */
	uint8_t phase;	    /* what they mean */
	uint8_t need, have; /* fixed-size item */
	uint8_t depth;
	uint8_t el_type;
	uint8_t in_body;     /* past the header */
	uint8_t key_long;    /* the key did not fit key[] */
	uint8_t plain_query; /* OP_QUERY on a collection, not $cmd: its document is a filter */
	uint32_t skip_left;  /* bytes of the item being skipped */
	uint32_t msg_left;   /* body bytes of this message still to come */
	uint32_t keep;	     /* string value: bytes still to copy into text[] */
	uint32_t key_len, text_len;
	uint8_t fix[20];
	char key[GLASS_MONGO_COLLECTION_MAX];  /* a key, or OP_QUERY's fullCollectionName */
	char text[GLASS_MONGO_COLLECTION_MAX]; /* the start of a string value */
	struct {
		uint32_t left; /* bytes of this document (or section, message) still to come */
		uint32_t nel;  /* elements seen */
		uint8_t ctx, ret;
	} frames[GLASS_MONGO_FRAMES];
	struct glass_mongo_msg msg; /* the last message; valid after an event until the next feed */
};

enum glass_mongo_dir {
	GLASS_MONGO_REQUESTS = 0, /* client to server */
	GLASS_MONGO_REPLIES = 1,  /* server to client */
};

enum glass_mongo_event {
	GLASS_MONGO_NONE = 0, /* everything fed was consumed; nothing finished */
	GLASS_MONGO_REQUEST,  /* a message sent by the client is complete: c->dir[0].msg */
	GLASS_MONGO_REPLY,    /* a message sent by the server is complete: c->dir[1].msg */
	GLASS_MONGO_GAVE_UP,  /* not MongoDB (bad length or opcode): ignored from now on */
};

struct glass_mongo_pending {
	int32_t request_id;
	uint8_t used;
	uint32_t age;
	uint64_t user;
};

struct glass_mongo_conn {
	struct glass_mongo_stream dir[2];
	int gave_up;
	uint32_t clock;
	uint64_t pending_dropped; /* requests forgotten because the table was full */
	struct glass_mongo_pending pending[GLASS_MONGO_PENDING];
};

/* Prepares c for a new connection. */
void glass_mongo_init(struct glass_mongo_conn *c);

/*
 * Feeds len bytes of one direction. Returns how many were consumed (all of them unless a
 * complete message stopped it early) and sets *ev. A request that expects a reply (OP_MSG
 * without moreToCome, OP_QUERY, OP_GET_MORE, OP_COMPRESSED) is remembered by requestID; a
 * reply takes its request by responseTo (msg.paired, msg.user). An exhaust reply
 * (moreToCome) keeps it, under the reply's own requestID, for the next one. When the table is
 * full the oldest entry is dropped and counted.
 */
size_t glass_mongo_feed(struct glass_mongo_conn *c, enum glass_mongo_dir dir, const void *buf,
			size_t len, enum glass_mongo_event *ev);

/* Stores user with the remembered request request_id. Returns 1, or 0 if it is not there. */
int glass_mongo_set_user(struct glass_mongo_conn *c, int32_t request_id, uint64_t user);

/* ---- BSON in a buffer ---- */

struct glass_bson_iter {
	const uint8_t *doc;
	uint32_t len; /* the document's own length, checked against what was available */
	uint32_t pos;
};

struct glass_bson_elem {
	uint8_t type;
	const char *key; /* NUL-terminated inside the document */
	size_t key_len;
	const uint8_t *value;
	uint32_t value_len; /* bytes of the value, length prefixes included */
};

/* Starts iterating the document at doc (avail bytes readable). 1 ok, 0 not a document. */
int glass_bson_iter_init(struct glass_bson_iter *it, const void *doc, size_t avail);

/* The next top-level element: 1, 0 at the end, -1 malformed (then always -1). */
int glass_bson_iter_next(struct glass_bson_iter *it, struct glass_bson_elem *e);

/* 1 if doc (avail bytes) is well-formed down to GLASS_BSON_DEPTH_MAX nested documents. */
int glass_bson_validate(const void *doc, size_t avail);

/* A number element (double, int32, int64, bool) as double: 1, or 0 for other types. */
int glass_bson_elem_number(const struct glass_bson_elem *e, double *out);

/* A string element (string, code, symbol): 1 and its bytes (NUL excluded), or 0. */
int glass_bson_elem_string(const struct glass_bson_elem *e, const char **s, size_t *n);

/* A document or array element: 1 and an iterator over it, or 0. */
int glass_bson_elem_document(const struct glass_bson_elem *e, struct glass_bson_iter *sub);

#endif /* GLASS_PROTO_MONGO_H */
