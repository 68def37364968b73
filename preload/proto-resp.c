/* preload/proto-resp.c — RESP2/RESP3 as a byte-at-a-time state machine with a bounded stack. */
#include <string.h>

#include "proto-resp.h"

/*
 * Both directions share one machine: lines (type byte, text, CRLF), bulk payloads skipped by
 * length, aggregates counted on a fixed stack. Commands (arrays of bulk strings, or inline
 * lines) keep their first three arguments, cut to GLASS_RESP_NAME_MAX - 1 bytes: the name, a
 * subcommand, and EVAL's numkeys. Nothing else of the payload is kept.
 */

enum resp_state {
	RS_START = 0, /* a type byte (a new message, or an element of an aggregate) */
	RS_ARG,	      /* request array: the '$' of the next argument */
	RS_LINE,      /* text of a line up to CR */
	RS_LF,	      /* the LF after a line's CR */
	RS_BULK,      /* payload bytes */
	RS_BULK_CR,   /* the CRLF after a payload */
	RS_BULK_LF,
	RS_INLINE, /* an inline command, up to LF */
	RS_DEAD,
};

#define RESP_NO_CAPTURE 3

static int resp_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static char resp_upper(char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

void glass_resp_init(struct glass_resp_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->next_request_seq = 1;
	c->next_reply_seq = 1;
}

static void resp_parser_reset(struct glass_resp_parser *p)
{
	p->state = RS_START;
	p->depth = 0;
	p->bytes = 0;
	p->argc = 0;
	p->args_left = 0;
	p->in_word = 0;
	p->quote = 0;
	p->line_len = 0;
	p->cap_len[0] = p->cap_len[1] = p->cap_len[2] = 0;
}

static int resp_is_type(unsigned char b)
{
	return b && strchr("+-:$*_#,(!=%~>|", b) != NULL;
}

/* Types whose line is a number (a length, a count or an integer). */
static int resp_numeric(unsigned char t)
{
	return t && strchr(":$*!=%~>|", t) != NULL;
}

/* ---- commands ---- */

static const char *const resp_containers[] = {
    "ACL",    "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG",   "FUNCTION", "LATENCY",
    "MEMORY", "MODULE", "OBJECT",  "PUBSUB",  "SCRIPT", "SLOWLOG", "XGROUP",   "XINFO",
};
/* Containers whose subcommand takes a key: OBJECT ENCODING k, MEMORY USAGE k, XINFO STREAM k. */
static const char *const resp_keyed_containers[] = {"MEMORY", "OBJECT", "XGROUP", "XINFO"};
static const char *const resp_all_keys[] = {
    "DEL",    "UNLINK", "EXISTS",  "TOUCH",	 "MGET",	"WATCH",       "SINTER",
    "SUNION", "SDIFF",	"PFCOUNT", "SDIFFSTORE", "SINTERSTORE", "SUNIONSTORE", "PFMERGE",
};
static const char *const resp_all_but_last[] = {"BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"};
static const char *const resp_two_keys[] = {"RENAME", "RENAMENX", "SMOVE",	"RPOPLPUSH",
					    "LMOVE",  "BLMOVE",	  "BRPOPLPUSH", "COPY"};
static const char *const resp_numkeys[] = {"EVAL",	 "EVALSHA", "EVAL_RO",
					   "EVALSHA_RO", "FCALL",   "FCALL_RO"};
static const char *const resp_no_keys[] = {
    "PING",	   "ECHO",	   "AUTH",	   "SELECT",	"INFO",		"MULTI",
    "EXEC",	   "DISCARD",	   "QUIT",	   "HELLO",	"FLUSHDB",	"FLUSHALL",
    "DBSIZE",	   "TIME",	   "SAVE",	   "BGSAVE",	"BGREWRITEAOF", "LASTSAVE",
    "SHUTDOWN",	   "ROLE",	   "RESET",	   "UNWATCH",	"RANDOMKEY",	"KEYS",
    "SCAN",	   "PUBLISH",	   "SPUBLISH",	   "SUBSCRIBE", "PSUBSCRIBE",	"SSUBSCRIBE",
    "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR",	"WAIT",		"SWAPDB",
    "READONLY",	   "READWRITE",	   "FAILOVER",	   "REPLICAOF", "SLAVEOF",
};
/* After these, replies no longer answer commands one to one. */
static const char *const resp_unpairing[] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR",
					     "CLIENT REPLY"};

#define RESP_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int resp_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/* Upper-cases src[0, n) into dst at *at, keeping room for the NUL. */
static void resp_append_upper(char *dst, size_t *at, const char *src, size_t n)
{
	for (size_t i = 0; i < n && *at + 1 < GLASS_RESP_NAME_MAX; i++)
		dst[(*at)++] = resp_upper(src[i]);
	dst[*at] = '\0';
}

static uint32_t resp_key_count(const char *name, const char *word0, uint32_t argc,
			       const struct glass_resp_parser *p)
{
	if (argc < 2)
		return 0;
	if (resp_in(word0, resp_containers, RESP_COUNT(resp_containers)))
		return argc >= 3 &&
		       resp_in(word0, resp_keyed_containers, RESP_COUNT(resp_keyed_containers));
	if (resp_in(name, resp_no_keys, RESP_COUNT(resp_no_keys)))
		return 0;
	if (resp_in(name, resp_all_keys, RESP_COUNT(resp_all_keys)))
		return argc - 1;
	if (strcmp(name, "MSET") == 0 || strcmp(name, "MSETNX") == 0)
		return (argc - 1) / 2;
	if (resp_in(name, resp_all_but_last, RESP_COUNT(resp_all_but_last)))
		return argc >= 3 ? argc - 2 : 0;
	if (resp_in(name, resp_two_keys, RESP_COUNT(resp_two_keys)))
		return argc >= 3 ? 2 : 1;
	if (resp_in(name, resp_numkeys, RESP_COUNT(resp_numkeys))) {
		uint64_t n = 0;

		if (argc < 3 || p->cap_len[2] == 0)
			return 0;
		for (size_t i = 0; i < p->cap_len[2]; i++) {
			if (!resp_is_digit((unsigned char)p->cap[2][i]))
				return 0;
			n = n * 10 + (uint64_t)(p->cap[2][i] - '0');
		}
		return n <= argc - 3 ? (uint32_t)n : 0;
	}
	return 1;
}

static void resp_pending_push(struct glass_resp_conn *c, uint64_t seq)
{
	struct glass_resp_pending *e;

	if (c->pending_count == GLASS_RESP_PENDING) {
		c->pending_dropped++;
		return;
	}
	e = &c->pending[(c->pending_head + c->pending_count) % GLASS_RESP_PENDING];
	e->seq = seq;
	e->user = 0;
	c->pending_count++;
}

int glass_resp_set_user(struct glass_resp_conn *c, uint64_t seq, uint64_t user)
{
	for (uint32_t i = 0; i < c->pending_count; i++) {
		struct glass_resp_pending *e =
		    &c->pending[(c->pending_head + i) % GLASS_RESP_PENDING];

		if (e->seq == seq) {
			e->user = user;
			return 1;
		}
	}
	return 0;
}

static enum glass_resp_event resp_request_done(struct glass_resp_conn *c,
					       struct glass_resp_parser *p, int is_inline)
{
	struct glass_resp_request *r = &c->request;
	char word0[GLASS_RESP_NAME_MAX];
	size_t at = 0, w0 = 0;

	resp_append_upper(word0, &w0, p->cap[0], p->cap_len[0]);
	resp_append_upper(r->name, &at, p->cap[0], p->cap_len[0]);
	if (p->argc >= 2 && resp_in(word0, resp_containers, RESP_COUNT(resp_containers))) {
		resp_append_upper(r->name, &at, " ", 1);
		resp_append_upper(r->name, &at, p->cap[1], p->cap_len[1]);
	}
	r->argc = p->argc;
	r->nkeys = resp_key_count(r->name, word0, p->argc, p);
	r->is_inline = (uint8_t)is_inline;
	r->bytes = p->bytes;
	r->seq = c->next_request_seq++;
	resp_pending_push(c, r->seq);
	if (!c->unpaired_from && resp_in(r->name, resp_unpairing, RESP_COUNT(resp_unpairing)))
		c->unpaired_from = r->seq;
	resp_parser_reset(p);
	return GLASS_RESP_REQUEST;
}

/* One byte of an inline command ("SET k v\r\n"): words split on blanks, quotes respected. */
static enum glass_resp_event resp_inline_byte(struct glass_resp_conn *c,
					      struct glass_resp_parser *p, unsigned char b)
{
	if (b == '\n') {
		if (p->argc == 0) {
			resp_parser_reset(p);
			return GLASS_RESP_NONE;
		}
		return resp_request_done(c, p, 1);
	}
	if (++p->line_len > GLASS_RESP_LINE_MAX) {
		c->gave_up = GLASS_RESP_BAD_FRAMING;
		return GLASS_RESP_GAVE_UP;
	}
	if (p->quote) {
		if (b == p->quote) {
			p->quote = 0;
			return GLASS_RESP_NONE;
		}
	} else if (b == ' ' || b == '\t' || b == '\r') {
		p->in_word = 0;
		return GLASS_RESP_NONE;
	} else if (!p->in_word) {
		p->in_word = 1;
		p->argc++;
		if (b == '"' || b == '\'') {
			p->quote = b;
			return GLASS_RESP_NONE;
		}
	}
	if (p->argc >= 1 && p->argc <= 3 && p->cap_len[p->argc - 1] < GLASS_RESP_NAME_MAX - 1)
		p->cap[p->argc - 1][p->cap_len[p->argc - 1]++] = (char)b;
	return GLASS_RESP_NONE;
}

/* ---- replies ---- */

static enum glass_resp_event resp_reply_done(struct glass_resp_conn *c, struct glass_resp_parser *p)
{
	struct glass_resp_reply *r = &c->reply;
	enum glass_resp_event ev = r->type == '>' ? GLASS_RESP_PUSH : GLASS_RESP_REPLY;
	uint64_t s = c->next_reply_seq;

	r->bytes = p->bytes;
	r->seq = 0;
	r->user = 0;
	r->paired = 0;
	if (ev == GLASS_RESP_REPLY && s < c->next_request_seq &&
	    !(c->unpaired_from && s >= c->unpaired_from)) {
		c->next_reply_seq++;
		r->seq = s;
		while (c->pending_count && c->pending[c->pending_head].seq < s) {
			c->pending_head = (c->pending_head + 1) % GLASS_RESP_PENDING;
			c->pending_count--;
		}
		if (c->pending_count && c->pending[c->pending_head].seq == s) {
			r->user = c->pending[c->pending_head].user;
			r->paired = 1;
			c->pending_head = (c->pending_head + 1) % GLASS_RESP_PENDING;
			c->pending_count--;
		}
	}
	resp_parser_reset(p);
	return ev;
}

/* A value (scalar or aggregate) is complete: count it against the aggregates around it. */
static enum glass_resp_event resp_value_done(struct glass_resp_conn *c, struct glass_resp_parser *p)
{
	while (p->depth) {
		int attr = p->stack[p->depth - 1].attr;

		if (--p->stack[p->depth - 1].left > 0)
			return GLASS_RESP_NONE;
		p->depth--;
		if (attr) /* attributes annotate the next value; they are not elements */
			return GLASS_RESP_NONE;
	}
	return resp_reply_done(c, p);
}

/* ---- lines ---- */

static enum glass_resp_event resp_fail(struct glass_resp_conn *c, enum glass_resp_why why)
{
	c->gave_up = why;
	return GLASS_RESP_GAVE_UP;
}

/* One byte of a line's text (before CR). */
static enum glass_resp_event resp_line_byte(struct glass_resp_conn *c, struct glass_resp_parser *p,
					    int replies, unsigned char b)
{
	if (++p->line_len > GLASS_RESP_LINE_MAX)
		return resp_fail(c, GLASS_RESP_BAD_FRAMING);
	if (resp_numeric(p->type)) {
		if (b == '-' && p->line_len == 1) {
			p->neg = 1;
		} else if (resp_is_digit(b) && p->num <= (INT64_MAX - (b - '0')) / 10) {
			p->num = p->num * 10 + (b - '0');
			p->ndigits += p->ndigits < 255;
		} else if (b == '?' && p->line_len == 1) {
			return resp_fail(
			    c, GLASS_RESP_BAD_FRAMING); /* streamed types: not supported */
		} else {
			return resp_fail(c, GLASS_RESP_BAD_LENGTH);
		}
	} else if (replies && p->depth == 0) {
		struct glass_resp_reply *r = &c->reply;

		if (p->type == '-' && p->line_len < GLASS_RESP_ERROR_MAX) {
			r->error[p->line_len - 1] = (char)b;
			r->error[p->line_len] = '\0';
		} else if (p->type == '#') {
			r->value = b == 't';
		}
	}
	return GLASS_RESP_NONE;
}

/* The line ended (CRLF seen): act on its type. */
static enum glass_resp_event resp_line_done(struct glass_resp_conn *c, struct glass_resp_parser *p,
					    int replies)
{
	int64_t n = p->neg ? -p->num : p->num;
	unsigned char t = p->type;

	if (resp_numeric(t) && p->ndigits == 0)
		return resp_fail(c, GLASS_RESP_BAD_LENGTH);
	if (!replies) {
		if (t == '*') {
			if (n <= 0 || n > INT32_MAX) {
				if (n < -1 || n > INT32_MAX)
					return resp_fail(c, GLASS_RESP_BAD_LENGTH);
				resp_parser_reset(p); /* *0 and *-1: Redis reads nothing */
				return GLASS_RESP_NONE;
			}
			p->argc = (uint32_t)n;
			p->args_left = (uint64_t)n;
			p->state = RS_ARG;
			return GLASS_RESP_NONE;
		}
		/* '$': an argument's length */
		if (n < 0 || n > GLASS_RESP_BULK_MAX)
			return resp_fail(c, GLASS_RESP_BAD_LENGTH);
		p->capture = p->argc - p->args_left < RESP_NO_CAPTURE
				 ? (uint8_t)(p->argc - p->args_left)
				 : RESP_NO_CAPTURE;
		p->bulk_left = (uint64_t)n;
		p->state = n ? RS_BULK : RS_BULK_CR;
		return GLASS_RESP_NONE;
	}

	p->state = RS_START; /* unless a payload or the elements of an aggregate follow */
	if (p->depth == 0 && t != '|') {
		c->reply.type = (char)t;
		if (resp_numeric(t))
			c->reply.value = n;
		c->reply.is_error = t == '-' || t == '!';
		c->reply.is_null = t == '_' || n == -1;
	}
	switch (t) {
	case '$':
	case '!':
	case '=':
		if (t == '$' && n == -1)
			return resp_value_done(c, p);
		if (n < 0 || n > GLASS_RESP_BULK_MAX)
			return resp_fail(c, GLASS_RESP_BAD_LENGTH);
		p->capture = t == '!' && p->depth == 0 ? 0 : RESP_NO_CAPTURE;
		p->line_len = 0; /* counts captured error bytes */
		p->bulk_left = (uint64_t)n;
		p->state = n ? RS_BULK : RS_BULK_CR;
		return GLASS_RESP_NONE;
	case '*':
	case '%':
	case '~':
	case '>':
	case '|':
		if (t == '*' && n == -1)
			return resp_value_done(c, p);
		if (n < 0 || n > INT32_MAX)
			return resp_fail(c, GLASS_RESP_BAD_LENGTH);
		if (t == '%' || t == '|')
			n *= 2;
		if (n == 0)
			return t == '|' ? GLASS_RESP_NONE : resp_value_done(c, p);
		if (p->depth == GLASS_RESP_DEPTH_MAX)
			return resp_fail(c, GLASS_RESP_TOO_DEEP);
		p->stack[p->depth].left = n;
		p->stack[p->depth].attr = t == '|';
		p->depth++;
		return GLASS_RESP_NONE;
	default:
		return resp_value_done(c, p);
	}
}

/* ---- the machine ---- */

/* Starts a line of type t. */
static void resp_line_begin(struct glass_resp_parser *p, unsigned char t)
{
	p->type = t;
	p->state = RS_LINE;
	p->line_len = 0;
	p->num = 0;
	p->neg = 0;
	p->ndigits = 0;
}

static enum glass_resp_event resp_byte(struct glass_resp_conn *c, struct glass_resp_parser *p,
				       int replies, unsigned char b)
{
	switch (p->state) {
	case RS_START:
		if (replies) {
			if (!resp_is_type(b))
				return resp_fail(c, GLASS_RESP_NOT_RESP);
			if (p->bytes == 1) { /* a new reply */
				memset(&c->reply, 0, sizeof(c->reply));
			}
			resp_line_begin(p, b);
			return GLASS_RESP_NONE;
		}
		if (b == '*') {
			resp_line_begin(p, b);
		} else if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z')) {
			p->state = RS_INLINE;
			p->line_len = 0;
			return resp_inline_byte(c, p, b);
		} else if (b == '\r' || b == '\n' || b == ' ') {
			p->bytes = 0; /* blank lines between commands are not part of any */
		} else {
			return resp_fail(c, GLASS_RESP_NOT_RESP);
		}
		return GLASS_RESP_NONE;
	case RS_ARG:
		if (b != '$')
			return resp_fail(c, GLASS_RESP_BAD_FRAMING);
		resp_line_begin(p, b);
		return GLASS_RESP_NONE;
	case RS_LINE:
		if (b == '\r') {
			p->state = RS_LF;
			return GLASS_RESP_NONE;
		}
		return resp_line_byte(c, p, replies, b);
	case RS_LF:
		if (b != '\n')
			return resp_fail(c, GLASS_RESP_BAD_FRAMING);
		return resp_line_done(c, p, replies);
	case RS_BULK_CR:
		if (b != '\r')
			return resp_fail(c, GLASS_RESP_BAD_FRAMING);
		p->state = RS_BULK_LF;
		return GLASS_RESP_NONE;
	case RS_BULK_LF:
		if (b != '\n')
			return resp_fail(c, GLASS_RESP_BAD_FRAMING);
		if (replies) {
			p->state = RS_START;
			return resp_value_done(c, p);
		}
		if (--p->args_left == 0)
			return resp_request_done(c, p, 0);
		p->state = RS_ARG;
		return GLASS_RESP_NONE;
	case RS_INLINE:
		return resp_inline_byte(c, p, b);
	default:
		return GLASS_RESP_NONE;
	}
}

/* Payload bytes: keep the first few where wanted, skip the rest in one step. */
static size_t resp_bulk(struct glass_resp_conn *c, struct glass_resp_parser *p, int replies,
			const unsigned char *s, size_t len)
{
	size_t n = len < p->bulk_left ? len : (size_t)p->bulk_left;

	if (p->capture != RESP_NO_CAPTURE) {
		if (replies) {
			size_t room = GLASS_RESP_ERROR_MAX - 1 - p->line_len,
			       k = n < room ? n : room;

			memcpy(c->reply.error + p->line_len, s, k);
			p->line_len += (uint32_t)k;
			c->reply.error[p->line_len] = '\0';
		} else {
			uint8_t *have = &p->cap_len[p->capture];
			size_t room = GLASS_RESP_NAME_MAX - 1 - *have, k = n < room ? n : room;

			memcpy(p->cap[p->capture] + *have, s, k);
			*have += (uint8_t)k;
		}
	}
	p->bulk_left -= n;
	if (!p->bulk_left)
		p->state = RS_BULK_CR;
	return n;
}

size_t glass_resp_feed(struct glass_resp_conn *c, enum glass_resp_dir dir, const void *buf,
		       size_t len, enum glass_resp_event *ev)
{
	const unsigned char *s = buf;
	int replies = dir == GLASS_RESP_REPLIES;
	struct glass_resp_parser *p = &c->dir[replies];
	size_t i = 0;

	*ev = GLASS_RESP_NONE;
	if (c->gave_up || !s)
		return len;
	while (i < len) {
		if (p->state == RS_BULK) {
			size_t n = resp_bulk(c, p, replies, s + i, len - i);

			p->bytes += n;
			i += n;
			continue;
		}
		p->bytes++;
		*ev = resp_byte(c, p, replies, s[i++]);
		if (*ev == GLASS_RESP_GAVE_UP) {
			c->dir[0].state = c->dir[1].state = RS_DEAD;
			return len;
		}
		if (*ev != GLASS_RESP_NONE)
			return i;
	}
	return i;
}
