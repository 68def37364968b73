/* preload/proto-resp.h — Redis RESP2/RESP3 commands and replies seen on a socket, fed in pieces. */
#ifndef GLASS_PROTO_RESP_H
#define GLASS_PROTO_RESP_H

#include <stddef.h>
#include <stdint.h>

/*
 * One struct glass_resp_conn per connection, owned by the caller (about 2.6 KiB); no malloc, no
 * locks, no syscalls, time linear in the bytes fed. The two directions are fed separately and
 * in any pieces (a recv may return one byte); each feed call stops after the first complete
 * command or reply so the caller can look at it:
 *
 *	size_t off = 0;
 *	while (off < len) {
 *		enum glass_resp_event ev;
 *		off += glass_resp_feed(c, GLASS_RESP_REQUESTS, buf + off, len - off, &ev);
 *		if (ev == GLASS_RESP_REQUEST) ... c->request ...
 *	}
 *
 * A client feeds the bytes it writes as GLASS_RESP_REQUESTS and the bytes it reads as
 * GLASS_RESP_REPLIES; a server the other way round. Replies are paired with commands in FIFO
 * order; pub/sub, MONITOR and CLIENT REPLY end pairing (see glass_resp_reply.paired).
 */

#define GLASS_RESP_NAME_MAX  32	   /* "GET", "CLIENT SETNAME": the longest kept name is 31 bytes */
#define GLASS_RESP_ERROR_MAX 128   /* error text kept from -ERR ... / !<len> replies */
#define GLASS_RESP_DEPTH_MAX 32	   /* nesting of aggregate replies; deeper: GAVE_UP */
#define GLASS_RESP_PENDING   64	   /* commands remembered for pairing (a power of two) */
#define GLASS_RESP_LINE_MAX  65536 /* longest line (inline command, simple string): Redis' own */
#define GLASS_RESP_BULK_MAX  (512u * 1024 * 1024) /* proto-max-bulk-len default */

enum glass_resp_dir {
	GLASS_RESP_REQUESTS = 0, /* commands, client to server */
	GLASS_RESP_REPLIES = 1,	 /* replies and pushes, server to client */
};

enum glass_resp_event {
	GLASS_RESP_NONE = 0, /* everything fed was consumed; nothing finished */
	GLASS_RESP_REQUEST,  /* a command is complete: c->request */
	GLASS_RESP_REPLY,    /* a reply is complete: c->reply */
	GLASS_RESP_PUSH,     /* a RESP3 push (>) is complete: c->reply; not a reply to anything */
	GLASS_RESP_GAVE_UP,  /* bytes not understood: not RESP, or out of step; the whole
			      * connection is ignored from now on (c->gave_up says why) */
};

enum glass_resp_why {
	GLASS_RESP_OK = 0,
	GLASS_RESP_NOT_RESP,	/* first byte of a message is not RESP */
	GLASS_RESP_BAD_LENGTH,	/* negative, too large or malformed length or count */
	GLASS_RESP_BAD_FRAMING, /* missing CRLF, line too long, streamed (?) types */
	GLASS_RESP_TOO_DEEP,	/* more than GLASS_RESP_DEPTH_MAX nested aggregates */
};

struct glass_resp_request {
	/* Command name upper-cased; a container command (CLIENT, CONFIG, CLUSTER, ACL, ...) gets
	 * its subcommand too: "CLIENT SETNAME". Cut to fit. */
	char name[GLASS_RESP_NAME_MAX];
	uint32_t argc;	   /* number of words, the name included */
	uint32_t nkeys;	   /* keys by heuristic: MGET/DEL/EXISTS/... all arguments, MSET pairs,
			    * EVAL/FCALL numkeys, no-key commands 0, otherwise 1 */
	uint8_t is_inline; /* sent as an inline command ("PING\r\n"), not an array */
	uint64_t bytes;	   /* bytes on the wire */
	uint64_t seq;	   /* 1, 2, 3, ... per connection */
};

struct glass_resp_reply {
	char type;	  /* first byte of the value: + - : $ * _ # , ( ! = % ~ > */
	uint8_t is_error; /* - or ! */
	uint8_t is_null;  /* $-1, *-1 or _ */
	/* ':' the integer; '$' '!' '=' the length; '*' '%' '~' '>' the element count (pairs for
	 * '%'); '#' 1 or 0; otherwise 0 */
	int64_t value;
	char error[GLASS_RESP_ERROR_MAX]; /* error text, NUL-terminated, cut; "" if none */
	uint64_t bytes; /* bytes on the wire, RESP3 attributes before it included */
	uint64_t seq;	/* the command answered (1, 2, ...), 0 when unknown */
	uint64_t user;	/* what glass_resp_set_user() stored for it, when paired */
	uint8_t paired; /* 1: seq's command was remembered and user is valid */
};

/* Per-direction state: internal; read c->request / c->reply instead. */
struct glass_resp_parser {
	uint8_t state;
	uint8_t type; /* type byte of the line or bulk being read */
	uint8_t neg;
	uint8_t ndigits;
	uint8_t depth;
	uint8_t quote;	 /* inline: inside '...' or "..." */
	uint8_t in_word; /* inline */
	uint8_t capture; /* which argument the bulk being read is kept in; 3: none */
	uint32_t line_len;
	int64_t num;
	uint64_t bulk_left;
	uint64_t bytes;
	uint64_t args_left;
	uint32_t argc;
	uint8_t cap_len[3];
	char cap[3][GLASS_RESP_NAME_MAX]; /* first three arguments, cut */
	struct {
		int64_t left; /* elements still to come */
		uint8_t attr; /* a RESP3 attribute: not an element of its parent */
	} stack[GLASS_RESP_DEPTH_MAX];
};

struct glass_resp_pending {
	uint64_t seq;
	uint64_t user;
};

struct glass_resp_conn {
	struct glass_resp_parser dir[2];
	struct glass_resp_request request; /* valid after GLASS_RESP_REQUEST until the next feed */
	struct glass_resp_reply reply; /* valid after GLASS_RESP_REPLY/PUSH until the next feed */
	enum glass_resp_why gave_up;
	uint64_t next_request_seq; /* seq of the next command */
	uint64_t next_reply_seq;   /* seq the next reply answers */
	uint64_t unpaired_from; /* replies to commands from this seq on are not paired; 0: none */
	uint32_t pending_head, pending_count;
	uint64_t pending_dropped; /* commands not remembered: the table was full */
	struct glass_resp_pending pending[GLASS_RESP_PENDING];
};

/* Prepares c for a new connection. */
void glass_resp_init(struct glass_resp_conn *c);

/*
 * Feeds len bytes of one direction. Returns how many were consumed (all of them unless an
 * event stopped it early) and sets *ev. After GLASS_RESP_GAVE_UP every later call consumes
 * everything and reports GLASS_RESP_NONE.
 */
size_t glass_resp_feed(struct glass_resp_conn *c, enum glass_resp_dir dir, const void *buf,
		       size_t len, enum glass_resp_event *ev);

/*
 * Stores user (e.g. a span id) with command seq, to come back in the reply that answers it.
 * Call it right after GLASS_RESP_REQUEST. Returns 1, or 0 when seq is not remembered.
 */
int glass_resp_set_user(struct glass_resp_conn *c, uint64_t seq, uint64_t user);

#endif /* GLASS_PROTO_RESP_H */
