/* preload/proto-http.c — HTTP/1.x framing as a byte-at-a-time state machine, both directions. */
#include <string.h>

#include "proto-http.h"

/*
 * Heads are read byte by byte (every byte is counted against GLASS_HTTP_HEAD_MAX); bodies and
 * chunk data are skipped by length in one step. A header's value is looked at only when its
 * name is one we want, and then only its first GLASS_HTTP_VALUE_MAX bytes.
 */

enum http_state {
	H_IDLE = 0, /* between messages */
	H_METHOD,
	H_TARGET,
	H_REQ_VERSION,
	H_RESP_VERSION,
	H_STATUS,
	H_REASON,
	H_LF, /* a CR was read: LF must follow, then the line of line_state ends */
	H_HDR_START,
	H_HDR_NAME,
	H_HDR_OWS,
	H_HDR_VALUE,
	H_HDR_FOLD, /* obsolete line folding: the continuation is skipped */
	H_BODY,
	H_CHUNK_SIZE,
	H_CHUNK_EXT,
	H_CHUNK_DATA,
	H_CHUNK_DATA_END,
	H_TRAILER_START,
	H_TRAILER_LINE,
	H_UNTIL_CLOSE,
	H_HOLD, /* after an Upgrade or CONNECT request, until its response decides */
};

enum http_mode { M_ACTIVE = 0, M_TUNNEL, M_GAVE_UP, M_CLOSED };

/* Headers looked at: ids of p->hdr. */
enum http_hdr {
	HH_NONE = 0,
	HH_HOST,
	HH_CONTENT_LENGTH,
	HH_TRANSFER_ENCODING,
	HH_CONNECTION,
	HH_TRACEPARENT,
	HH_USER_AGENT,
	HH_EXPECT,
	HH_UPGRADE,
	HH_EXTRA, /* + index */
};

/* p->flags */
#define HF_CL	       0x01
#define HF_TE_CHUNKED  0x02
#define HF_TE_OTHER    0x04
#define HF_CLOSE       0x08
#define HF_KEEP_ALIVE  0x10
#define HF_UPGRADE     0x20
#define HF_TRACEPARENT 0x40
#define HF_HOST	       0x80

#define HTTP_CHUNK_LINE_MAX   4096
#define HTTP_CHUNK_DIGITS_MAX 15

static const char *const http_secret_words[] = {
    "password", "passwd", "pwd", "token", "secret", "key", "auth", "session", "signature"};

/* RFC 9110 tchar: ALPHA, DIGIT and !#$%&'*+-.^_`|~, as a bitmap of the 256 byte values */
static const uint32_t http_tchars[8] = {0x00000000, 0x03ff6cfa, 0xc7fffffe, 0x57ffffff,
					0x00000000, 0x00000000, 0x00000000, 0x00000000};

static int http_is_tchar(unsigned char c)
{
	return (http_tchars[c >> 5] >> (c & 31)) & 1;
}

static unsigned char http_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int http_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = http_lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Case-insensitive equality of s[0, n) and the lower-case word w. */
static int http_word_is(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!w[i] || http_lower((unsigned char)s[i]) != (unsigned char)w[i])
			return 0;
	return w[i] == '\0';
}

/* Does the lower-case s[0, n) contain one of the secret words? */
static int http_is_secret(const char *s, size_t n)
{
	for (size_t k = 0; k < sizeof(http_secret_words) / sizeof(http_secret_words[0]); k++) {
		size_t wl = strlen(http_secret_words[k]);

		for (size_t i = 0; i + wl <= n; i++)
			if (memcmp(s + i, http_secret_words[k], wl) == 0)
				return 1;
	}
	return 0;
}

static void http_copy(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

size_t glass_http_config_init(struct glass_http_config *cfg, const char *const *names, size_t n)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < n && cfg->nextra < GLASS_HTTP_EXTRA_MAX; i++) {
		char lower[GLASS_HTTP_EXTRA_NAME_MAX];
		size_t l = names[i] ? strlen(names[i]) : 0, j;

		if (l == 0 || l >= sizeof(lower))
			continue;
		for (j = 0; j < l && http_is_tchar((unsigned char)names[i][j]); j++)
			lower[j] = (char)http_lower((unsigned char)names[i][j]);
		if (j < l)
			continue;
		lower[l] = '\0';
		if (http_is_secret(lower, l) || strstr(lower, "cookie"))
			continue;
		memcpy(cfg->extra[cfg->nextra++], lower, l + 1);
	}
	return cfg->nextra;
}

void glass_http_init(struct glass_http_conn *c, const struct glass_http_config *cfg)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->next_request_seq = 1;
	c->next_response_seq = 1;
	c->request.content_length = -1;
	c->response.content_length = -1;
}

int glass_http_set_user(struct glass_http_conn *c, uint32_t seq, uint64_t user)
{
	for (uint32_t i = 0; i < c->pending_count; i++) {
		struct glass_http_pending *e =
		    &c->pending[(c->pending_head + i) % GLASS_HTTP_PIPELINE];

		if (e->seq == seq) {
			e->user = user;
			return 1;
		}
	}
	return 0;
}

int glass_http_traceparent_valid(const char *s, size_t n)
{
	static const unsigned char dash[] = {2, 35, 52};
	int nonzero_trace = 0, nonzero_parent = 0;

	if (!s || n < GLASS_HTTP_TRACEPARENT_LEN)
		return 0;
	for (size_t i = 0; i < GLASS_HTTP_TRACEPARENT_LEN; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (i == dash[0] || i == dash[1] || i == dash[2]) {
			if (ch != '-')
				return 0;
			continue;
		}
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return 0;
		if (ch != '0') {
			nonzero_trace |= i > 2 && i < 35;
			nonzero_parent |= i > 35 && i < 52;
		}
	}
	if (!nonzero_trace || !nonzero_parent || (s[0] == 'f' && s[1] == 'f'))
		return 0;
	if (s[0] == '0' && s[1] == '0')
		return n == GLASS_HTTP_TRACEPARENT_LEN;
	return n == GLASS_HTTP_TRACEPARENT_LEN || s[GLASS_HTTP_TRACEPARENT_LEN] == '-';
}

/* ---- pairing ---- */

static void http_pending_push(struct glass_http_conn *c, const struct glass_http_request *r)
{
	struct glass_http_pending *e;

	if (c->pending_count == GLASS_HTTP_PIPELINE) {
		c->pending_dropped++;
		return;
	}
	e = &c->pending[(c->pending_head + c->pending_count) % GLASS_HTTP_PIPELINE];
	e->seq = r->seq;
	e->is_head = strcmp(r->method, "HEAD") == 0;
	e->is_connect = strcmp(r->method, "CONNECT") == 0;
	e->user = 0;
	c->pending_count++;
}

/* The front entry if it is request seq (older ones are dropped), else NULL. */
static struct glass_http_pending *http_pending_front(struct glass_http_conn *c, uint32_t seq)
{
	while (c->pending_count && c->pending[c->pending_head].seq < seq) {
		c->pending_head = (c->pending_head + 1) % GLASS_HTTP_PIPELINE;
		c->pending_count--;
	}
	if (c->pending_count && c->pending[c->pending_head].seq == seq)
		return &c->pending[c->pending_head];
	return NULL;
}

/* Which request the response starting now answers. */
static void http_response_pair(struct glass_http_conn *c, struct glass_http_parser *p)
{
	struct glass_http_response *r = &c->response;
	struct glass_http_pending *e;

	r->seq = 0;
	r->paired = 0;
	r->user = 0;
	p->req_is_head = p->req_is_connect = 0;
	if (c->next_response_seq >= c->next_request_seq)
		return; /* no request seen for it (we came in late, or a 408) */
	r->seq = c->next_response_seq;
	e = http_pending_front(c, r->seq);
	if (e) {
		r->paired = 1;
		r->user = e->user;
		p->req_is_head = e->is_head;
		p->req_is_connect = e->is_connect;
	}
}

/* ---- messages ---- */

static unsigned http_fail(struct glass_http_conn *c, enum glass_http_why why)
{
	c->mode = M_GAVE_UP;
	c->gave_up = why;
	return GLASS_HTTP_GAVE_UP;
}

/* A header line ended: act on the value in p->val. */
static unsigned http_header_done(struct glass_http_conn *c, struct glass_http_parser *p, int resp)
{
	struct glass_http_request *q = &c->request;
	struct glass_http_response *r = &c->response;
	const char *v = p->val;
	size_t n = p->val_len;
	int64_t *cl = resp ? &r->content_length : &q->content_length;

	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	switch (p->hdr) {
	case HH_HOST:
		if (!(p->flags & HF_HOST))
			http_copy(q->host, sizeof(q->host), v, n);
		p->flags |= HF_HOST;
		break;
	case HH_CONTENT_LENGTH: {
		int64_t val = 0;

		if (n == 0 || p->val_long)
			return http_fail(c, GLASS_HTTP_BAD_LENGTH);
		for (size_t i = 0; i < n; i++) {
			if (v[i] < '0' || v[i] > '9' || val > (INT64_MAX / 4) / 10)
				return http_fail(c, GLASS_HTTP_BAD_LENGTH);
			val = val * 10 + (v[i] - '0');
		}
		if ((p->flags & HF_CL) && *cl != val)
			return http_fail(c, GLASS_HTTP_BAD_LENGTH);
		p->flags |= HF_CL;
		*cl = val;
		break;
	}
	case HH_TRANSFER_ENCODING: {
		/* Only the last coding frames the body. */
		size_t start = n;

		if (p->val_long)
			return http_fail(c, GLASS_HTTP_BAD_FRAMING);
		while (start && v[start - 1] != ',')
			start--;
		while (start < n && (v[start] == ' ' || v[start] == '\t'))
			start++;
		p->flags &= (uint8_t) ~(HF_TE_CHUNKED | HF_TE_OTHER);
		p->flags |=
		    http_word_is(v + start, n - start, "chunked") ? HF_TE_CHUNKED : HF_TE_OTHER;
		break;
	}
	case HH_CONNECTION:
		for (size_t i = 0; i < n;) {
			size_t j = i, e;

			while (j < n && v[j] != ',')
				j++;
			while (i < j && (v[i] == ' ' || v[i] == '\t'))
				i++;
			e = j;
			while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
				e--;
			if (http_word_is(v + i, e - i, "close"))
				p->flags |= HF_CLOSE;
			else if (http_word_is(v + i, e - i, "keep-alive"))
				p->flags |= HF_KEEP_ALIVE;
			else if (http_word_is(v + i, e - i, "upgrade"))
				p->flags |= HF_UPGRADE;
			i = j + 1;
		}
		break;
	case HH_TRACEPARENT:
		/* Two traceparent headers are as bad as an invalid one (W3C). */
		if (!(p->flags & HF_TRACEPARENT) && !p->val_long &&
		    glass_http_traceparent_valid(v, n)) {
			q->traceparent_state = 1;
			http_copy(q->traceparent, sizeof(q->traceparent), v,
				  GLASS_HTTP_TRACEPARENT_LEN);
		} else {
			q->traceparent_state = 2;
			q->traceparent[0] = '\0';
		}
		p->flags |= HF_TRACEPARENT;
		break;
	case HH_USER_AGENT:
		http_copy(q->user_agent, sizeof(q->user_agent), v, n);
		break;
	case HH_EXPECT:
		q->expect_continue = http_word_is(v, n, "100-continue");
		break;
	case HH_UPGRADE:
		q->upgrade = 1;
		break;
	case HH_NONE:
		break;
	default:
		http_copy(q->extra[p->hdr - HH_EXTRA], GLASS_HTTP_EXTRA_VALUE_MAX, v, n);
		break;
	}
	return 0;
}

/* Which header the name in p->name is, for this direction. */
static uint8_t http_header_id(const struct glass_http_conn *c, const struct glass_http_parser *p,
			      int resp)
{
	const char *s = p->name;

	if (p->name_long)
		return HH_NONE;
	/* lengths first: most headers match none of these, and cost no compare */
#define HTTP_NAME_IS(lit) (p->name_len == sizeof(lit) - 1 && memcmp(s, lit, sizeof(lit) - 1) == 0)
	if (HTTP_NAME_IS("content-length"))
		return HH_CONTENT_LENGTH;
	if (HTTP_NAME_IS("transfer-encoding"))
		return HH_TRANSFER_ENCODING;
	if (HTTP_NAME_IS("connection"))
		return HH_CONNECTION;
	if (resp)
		return HH_NONE;
	if (HTTP_NAME_IS("host"))
		return HH_HOST;
	if (HTTP_NAME_IS("traceparent"))
		return HH_TRACEPARENT;
	if (HTTP_NAME_IS("user-agent"))
		return HH_USER_AGENT;
	if (HTTP_NAME_IS("expect"))
		return HH_EXPECT;
	if (HTTP_NAME_IS("upgrade"))
		return HH_UPGRADE;
	if (c->cfg)
		for (uint8_t i = 0; i < c->cfg->nextra && i < GLASS_HTTP_EXTRA_MAX; i++)
			if (strcmp(s, c->cfg->extra[i]) == 0)
				return HH_EXTRA + i;
	return HH_NONE;
#undef HTTP_NAME_IS
}

/* The last byte of a request. */
static unsigned http_request_end(struct glass_http_conn *c, struct glass_http_parser *p)
{
	struct glass_http_request *q = &c->request;

	q->body_bytes = p->body;
	q->wire_bytes = p->bytes;
	p->state = strcmp(q->method, "CONNECT") == 0 || q->upgrade ? H_HOLD : H_IDLE;
	p->hold = 0;
	return GLASS_HTTP_REQUEST_END;
}

/* The last byte of the final response to a request. */
static unsigned http_response_end(struct glass_http_conn *c, struct glass_http_parser *p)
{
	struct glass_http_response *r = &c->response;
	struct glass_http_parser *rq = &c->dir[GLASS_HTTP_REQUESTS];

	r->body_bytes = p->body;
	p->state = H_IDLE;
	p->interim_seen = 0;
	if (r->seq) {
		if (r->paired && c->pending_count && c->pending[c->pending_head].seq == r->seq) {
			c->pending_head = (c->pending_head + 1) % GLASS_HTTP_PIPELINE;
			c->pending_count--;
		}
		c->next_response_seq = r->seq + 1;
	}
	if (r->tunnel) {
		c->mode = M_TUNNEL;
	} else if (rq->state == H_HOLD && r->seq + 1 >= c->next_request_seq) {
		/* The upgrade was refused: go on, unless bytes came that we did not read. */
		if (rq->hold)
			return GLASS_HTTP_RESPONSE_END | http_fail(c, GLASS_HTTP_LOST);
		rq->state = H_IDLE;
	}
	return GLASS_HTTP_RESPONSE_END;
}

/* The empty line after the headers. */
static unsigned http_head_done(struct glass_http_conn *c, struct glass_http_parser *p, int resp)
{
	uint8_t f = p->flags;

	p->body = 0;
	if (!resp) {
		struct glass_http_request *q = &c->request;

		if ((f & HF_TE_OTHER) && !(f & HF_TE_CHUNKED))
			return http_fail(c, GLASS_HTTP_BAD_FRAMING); /* RFC 9112 6.3: 400 */
		q->head_bytes = p->head_len;
		q->chunked = !!(f & HF_TE_CHUNKED);
		q->keep_alive = q->version >= 11 ? !(f & HF_CLOSE) : !!(f & HF_KEEP_ALIVE);
		if (q->chunked)
			q->content_length = -1;
		q->seq = c->next_request_seq++;
		http_pending_push(c, q);
		if (q->chunked) {
			p->state = H_CHUNK_SIZE;
			p->chunk = p->chunk_digits = 0;
			p->line_len = 0;
		} else if (q->content_length > 0) {
			p->state = H_BODY;
			p->left = (uint64_t)q->content_length;
		} else {
			return GLASS_HTTP_REQUEST_HEAD | http_request_end(c, p);
		}
		return GLASS_HTTP_REQUEST_HEAD;
	}

	struct glass_http_response *r = &c->response;

	r->chunked = !!(f & HF_TE_CHUNKED);
	r->keep_alive = r->version >= 11 ? !(f & HF_CLOSE) : !!(f & HF_KEEP_ALIVE);
	if (r->status >= 100 && r->status < 200 && r->status != 101) {
		r->interim = 1;
		p->interim_seen = 1;
		p->state = H_IDLE;
		return GLASS_HTTP_RESPONSE_HEAD;
	}
	r->interim = 0;
	r->head_bytes = p->head_len;
	if (r->status == 101 || (p->req_is_connect && r->status >= 200 && r->status < 300)) {
		r->tunnel = 1;
		return GLASS_HTTP_RESPONSE_HEAD | http_response_end(c, p);
	}
	if (p->req_is_head || r->status == 204 || r->status == 304)
		return GLASS_HTTP_RESPONSE_HEAD | http_response_end(c, p);
	if (r->chunked) {
		r->content_length = -1;
		p->state = H_CHUNK_SIZE;
		p->chunk = p->chunk_digits = 0;
		p->line_len = 0;
	} else if ((f & HF_TE_OTHER) || !(f & HF_CL)) {
		r->until_close = 1;
		p->state = H_UNTIL_CLOSE;
	} else if (r->content_length > 0) {
		p->state = H_BODY;
		p->left = (uint64_t)r->content_length;
	} else {
		return GLASS_HTTP_RESPONSE_HEAD | http_response_end(c, p);
	}
	return GLASS_HTTP_RESPONSE_HEAD;
}

static int http_version(const struct glass_http_parser *p)
{
	if (p->ver_len != 8 || memcmp(p->ver, "HTTP/1.", 7) != 0)
		return 0;
	return p->ver[7] == '1' ? 11 : p->ver[7] == '0' ? 10 : 0;
}

static void http_head_begin(struct glass_http_parser *p)
{
	p->head_len = 0;
	p->flags = 0;
	p->ver_len = 0;
	p->line_len = 0;
	p->bytes = 1;
	p->body = 0;
}

/* A line (ended by LF, or CR LF) of the state `which` is complete. */
static unsigned http_line_end(struct glass_http_conn *c, struct glass_http_parser *p, int resp,
			      uint8_t which)
{
	unsigned ev;

	switch (which) {
	case H_REQ_VERSION:
		c->request.version = (uint8_t)http_version(p);
		if (!c->request.version)
			return http_fail(c, GLASS_HTTP_NOT_HTTP);
		p->state = H_HDR_START;
		return 0;
	case H_STATUS: /* no reason phrase */
		if (p->line_len != 3)
			return http_fail(c, GLASS_HTTP_NOT_HTTP);
		p->state = H_HDR_START;
		return 0;
	case H_REASON:
		p->state = H_HDR_START;
		return 0;
	case H_HDR_START:
		return http_head_done(c, p, resp);
	case H_HDR_OWS:
	case H_HDR_VALUE:
		p->state = H_HDR_START;
		return http_header_done(c, p, resp);
	case H_HDR_FOLD:
		p->state = H_HDR_START;
		return 0;
	case H_HDR_NAME:
		return http_fail(c, GLASS_HTTP_BAD_SYNTAX);
	case H_CHUNK_SIZE:
	case H_CHUNK_EXT:
		if (!p->chunk_digits)
			return http_fail(c, GLASS_HTTP_BAD_SYNTAX);
		if (p->chunk == 0) {
			p->state = H_TRAILER_START;
			p->head_len = 0;
		} else {
			p->state = H_CHUNK_DATA;
			p->left = p->chunk;
		}
		return 0;
	case H_CHUNK_DATA_END:
		p->state = H_CHUNK_SIZE;
		p->chunk = p->chunk_digits = 0;
		p->line_len = 0;
		return 0;
	case H_TRAILER_START:
		ev = resp ? http_response_end(c, p) : http_request_end(c, p);
		return ev;
	case H_TRAILER_LINE:
		p->state = H_TRAILER_START;
		return 0;
	default:
		return http_fail(c, GLASS_HTTP_NOT_HTTP);
	}
}

/* Is this state part of a head (counted against GLASS_HTTP_HEAD_MAX)? */
static int http_in_head(uint8_t st)
{
	return (st >= H_METHOD && st <= H_HDR_FOLD) || st == H_TRAILER_START ||
	       st == H_TRAILER_LINE;
}

static unsigned http_byte(struct glass_http_conn *c, struct glass_http_parser *p, int resp,
			  unsigned char b)
{
	struct glass_http_request *q = &c->request;
	struct glass_http_response *r = &c->response;
	uint8_t st = p->state;

	if (st == H_LF)
		st = p->line_state;
	if (http_in_head(st) && ++p->head_len > GLASS_HTTP_HEAD_MAX)
		return http_fail(c, GLASS_HTTP_TOO_LONG);
	if (p->state == H_LF) {
		if (b != '\n')
			return http_fail(c, GLASS_HTTP_BAD_SYNTAX);
		return http_line_end(c, p, resp, p->line_state);
	}
	/* Line ends for the states whose lines may end here. */
	if ((b == '\r' || b == '\n') && st != H_IDLE && st != H_METHOD && st != H_TARGET &&
	    st != H_RESP_VERSION && st != H_HOLD && st != H_UNTIL_CLOSE) {
		if (b == '\n')
			return http_line_end(c, p, resp, st);
		p->line_state = st;
		p->state = H_LF;
		return 0;
	}

	switch (st) {
	case H_IDLE:
		if (b == '\r' || b == '\n')
			return 0; /* stray blank lines between messages */
		http_head_begin(p);
		p->head_len = 1;
		if (!resp) {
			if (!http_is_tchar(b))
				return http_fail(c, GLASS_HTTP_NOT_HTTP);
			memset(q, 0, sizeof(*q));
			q->content_length = -1;
			q->method[0] = (char)b;
			p->line_len = 1;
			p->state = H_METHOD;
			return GLASS_HTTP_REQUEST_BEGIN;
		}
		if (b != 'H')
			return http_fail(c, GLASS_HTTP_NOT_HTTP);
		{
			unsigned ev = 0;

			if (!p->interim_seen) {
				memset(r, 0, sizeof(*r));
				http_response_pair(c, p);
				ev = GLASS_HTTP_RESPONSE_BEGIN;
			}
			r->wire_bytes++;
			r->status = 0;
			r->content_length = -1;
			r->chunked = r->keep_alive = r->until_close = 0;
			p->ver[0] = (char)b;
			p->ver_len = 1;
			p->state = H_RESP_VERSION;
			return ev;
		}
	case H_METHOD:
		if (b == ' ' && p->line_len) {
			q->method[p->line_len] = '\0';
			p->line_len = 0;
			p->state = H_TARGET;
			return 0;
		}
		if (!http_is_tchar(b) || p->line_len >= GLASS_HTTP_METHOD_MAX - 1)
			return http_fail(c, GLASS_HTTP_NOT_HTTP);
		q->method[p->line_len++] = (char)b;
		return 0;
	case H_TARGET:
		if (b == ' ' && q->target_len) {
			p->state = H_REQ_VERSION;
			p->ver_len = 0;
			return 0;
		}
		if (b <= 0x20 || b == 0x7f)
			return http_fail(c, GLASS_HTTP_NOT_HTTP);
		if (q->target_len < GLASS_HTTP_TARGET_MAX)
			q->target[q->target_len] = (char)b;
		q->target_len++;
		return 0;
	case H_REQ_VERSION:
	case H_RESP_VERSION:
		if (b == '\r' || b == '\n')
			return http_fail(c, GLASS_HTTP_NOT_HTTP);
		if (st == H_RESP_VERSION && b == ' ') {
			r->version = (uint8_t)http_version(p);
			if (!r->version)
				return http_fail(c, GLASS_HTTP_NOT_HTTP);
			p->state = H_STATUS;
			p->line_len = 0;
			return 0;
		}
		if (p->ver_len >= sizeof(p->ver))
			return http_fail(c, GLASS_HTTP_NOT_HTTP);
		p->ver[p->ver_len++] = (char)b;
		return 0;
	case H_STATUS:
		if (b == ' ' && p->line_len == 3) {
			p->state = H_REASON;
			return 0;
		}
		if (b < '0' || b > '9' || p->line_len >= 3 || (p->line_len == 0 && b == '0'))
			return http_fail(c, GLASS_HTTP_NOT_HTTP);
		r->status = (uint16_t)(r->status * 10 + (b - '0'));
		p->line_len++;
		return 0;
	case H_REASON:
	case H_HDR_FOLD:
	case H_TRAILER_LINE:
		return 0;
	case H_HDR_START:
		if (b == ' ' || b == '\t') {
			p->state = H_HDR_FOLD;
			return 0;
		}
		if (!http_is_tchar(b))
			return http_fail(c, GLASS_HTTP_BAD_SYNTAX);
		p->name_len = 0;
		p->name_long = 0;
		p->state = H_HDR_NAME;
		/* fall through */
	case H_HDR_NAME:
		if (b == ':' && p->name_len) {
			p->name[p->name_len] = '\0';
			p->hdr = http_header_id(c, p, resp);
			p->val_len = 0;
			p->val_long = 0;
			p->state = H_HDR_OWS;
			return 0;
		}
		if (!http_is_tchar(b))
			return http_fail(c, GLASS_HTTP_BAD_SYNTAX);
		if (p->name_len < sizeof(p->name) - 1)
			p->name[p->name_len++] = (char)http_lower(b);
		else
			p->name_long = 1;
		return 0;
	case H_HDR_OWS:
		if (b == ' ' || b == '\t')
			return 0;
		p->state = H_HDR_VALUE;
		/* fall through */
	case H_HDR_VALUE:
		if (p->hdr == HH_NONE)
			return 0;
		if (p->val_len < sizeof(p->val))
			p->val[p->val_len++] = (char)b;
		else
			p->val_long = 1;
		return 0;
	case H_CHUNK_SIZE: {
		int h = http_hexval(b);

		if (h >= 0 && p->line_len == p->chunk_digits) {
			if (p->chunk_digits >= HTTP_CHUNK_DIGITS_MAX)
				return http_fail(c, GLASS_HTTP_BAD_LENGTH);
			p->chunk = p->chunk * 16 + (uint64_t)h;
			p->chunk_digits++;
			p->line_len++;
			return 0;
		}
		if (!p->chunk_digits || (b != ';' && b != ' ' && b != '\t'))
			return http_fail(c, GLASS_HTTP_BAD_SYNTAX);
		p->state = H_CHUNK_EXT;
		return 0;
	}
	case H_CHUNK_EXT:
		if (++p->line_len > HTTP_CHUNK_LINE_MAX)
			return http_fail(c, GLASS_HTTP_TOO_LONG);
		return 0;
	case H_CHUNK_DATA_END:
		return http_fail(c, GLASS_HTTP_BAD_SYNTAX); /* data longer than its size */
	case H_TRAILER_START:
		if (!http_is_tchar(b))
			return http_fail(c, GLASS_HTTP_BAD_SYNTAX);
		p->state = H_TRAILER_LINE;
		return 0;
	case H_HOLD:
		p->hold = 1;
		return 0;
	default:
		return 0;
	}
}

int glass_http_runs = 1;

/* the states http_run takes runs of */
#define HTTP_RUN_STATES                                                                            \
	(1u << H_METHOD | 1u << H_REQ_VERSION | 1u << H_RESP_VERSION | 1u << H_TARGET |            \
	 1u << H_HDR_NAME | 1u << H_HDR_OWS | 1u << H_HDR_VALUE | 1u << H_REASON |                 \
	 1u << H_HDR_FOLD | 1u << H_TRAILER_LINE)

/*
 * A run of head bytes that only count or get copied (method, target, version, a header name or
 * the value of a header we keep) or are skipped (blanks before a value, a reason phrase, other
 * headers' values, folded lines, trailers): taken in one step, with exactly what http_byte would do
 * to each of them. Stops before the first byte that could change the state, and within the head's
 * byte budget, so that http_byte still sees that byte and fails where it would. Returns the bytes
 * taken.
 */
static size_t http_run(struct glass_http_conn *c, struct glass_http_parser *p, int resp,
		       const unsigned char *s, size_t n)
{
	struct glass_http_request *q = &c->request;
	size_t k = 0;

	if (p->head_len >= GLASS_HTTP_HEAD_MAX)
		return 0;
	if (n > GLASS_HTTP_HEAD_MAX - p->head_len)
		n = GLASS_HTTP_HEAD_MAX - p->head_len;
	switch (p->state) {
	case H_METHOD:
		for (; k < n && http_is_tchar(s[k]) && p->line_len < GLASS_HTTP_METHOD_MAX - 1; k++)
			q->method[p->line_len++] = (char)s[k];
		break;
	case H_REQ_VERSION:
		for (; k < n && s[k] != '\r' && s[k] != '\n' && p->ver_len < sizeof(p->ver); k++)
			p->ver[p->ver_len++] = (char)s[k];
		break;
	case H_RESP_VERSION:
		for (; k < n && s[k] != '\r' && s[k] != '\n' && s[k] != ' ' &&
		       p->ver_len < sizeof(p->ver);
		     k++)
			p->ver[p->ver_len++] = (char)s[k];
		break;
	case H_TARGET:
		for (; k < n && s[k] > 0x20 && s[k] != 0x7f; k++) {
			if (q->target_len < GLASS_HTTP_TARGET_MAX)
				q->target[q->target_len] = (char)s[k];
			q->target_len++;
		}
		break;
	case H_HDR_NAME:
		for (; k < n && http_is_tchar(s[k]); k++) {
			if (p->name_len < sizeof(p->name) - 1)
				p->name[p->name_len++] = (char)http_lower(s[k]);
			else
				p->name_long = 1;
		}
		break;
	case H_HDR_OWS:
		while (k < n && (s[k] == ' ' || s[k] == '\t'))
			k++;
		if (k == n || s[k] == '\r' || s[k] == '\n')
			break;
		p->state = H_HDR_VALUE; /* the value's first byte */
					/* fall through */
	case H_HDR_VALUE:
		if (p->hdr != HH_NONE) {
			for (; k < n && s[k] != '\r' && s[k] != '\n'; k++) {
				if (p->val_len < sizeof(p->val))
					p->val[p->val_len++] = (char)s[k];
				else
					p->val_long = 1;
			}
			break;
		}
		/* fall through */
	case H_REASON:
	case H_HDR_FOLD:
	case H_TRAILER_LINE:
		while (k < n && s[k] != '\r' && s[k] != '\n')
			k++;
		break;
	default:
		return 0;
	}
	p->head_len += (uint32_t)k;
	p->bytes += k;
	if (resp)
		c->response.wire_bytes += k;
	return k;
}

size_t glass_http_feed(struct glass_http_conn *c, enum glass_http_dir dir, const void *buf,
		       size_t len, unsigned *ev)
{
	const unsigned char *s = buf;
	int resp = dir == GLASS_HTTP_RESPONSES;
	struct glass_http_parser *p = &c->dir[resp];
	size_t i = 0;

	*ev = 0;
	if (c->mode != M_ACTIVE || !s)
		return len;
	while (i < len) {
		unsigned e;

		if (p->state == H_BODY || p->state == H_CHUNK_DATA || p->state == H_UNTIL_CLOSE) {
			size_t n = len - i;

			if (p->state != H_UNTIL_CLOSE && n > p->left)
				n = (size_t)p->left;
			p->bytes += n;
			p->body += n;
			if (resp)
				c->response.wire_bytes += n;
			i += n;
			if (p->state == H_UNTIL_CLOSE)
				continue;
			p->left -= n;
			if (p->left)
				continue;
			if (p->state == H_CHUNK_DATA) {
				p->state = H_CHUNK_DATA_END;
				continue;
			}
			e = resp ? http_response_end(c, p) : http_request_end(c, p);
		} else {
			/* Counted first, so that an event on this byte includes it; a message's
			 * first byte (H_IDLE) is counted where the message starts. */
			if (((1u << p->state) & HTTP_RUN_STATES) && glass_http_runs) {
				size_t k = http_run(c, p, resp, s + i, len - i);

				i += k;
				if (k && i == len)
					break;
			}
			if (p->state != H_IDLE) {
				p->bytes++;
				if (resp)
					c->response.wire_bytes++;
			}
			e = http_byte(c, p, resp, s[i++]);
		}
		if (e) {
			*ev = e;
			if (e & GLASS_HTTP_GAVE_UP)
				return len;
			return i;
		}
		if (c->mode != M_ACTIVE)
			return len;
	}
	return i;
}

int glass_http_close(struct glass_http_conn *c, unsigned *ev)
{
	struct glass_http_parser *p = &c->dir[GLASS_HTTP_RESPONSES];
	struct glass_http_response *r = &c->response;
	struct glass_http_pending *e;

	*ev = 0;
	if (c->mode == M_GAVE_UP || c->mode == M_CLOSED || c->mode == M_TUNNEL)
		return 0;
	if (p->state == H_UNTIL_CLOSE) {
		*ev = http_response_end(c, p);
		return 1;
	}
	if (c->next_response_seq >= c->next_request_seq) {
		c->mode = M_CLOSED;
		return 0;
	}
	/* A request without its (whole) response. */
	r->seq = c->next_response_seq++;
	e = http_pending_front(c, r->seq);
	r->paired = e != NULL;
	r->user = e ? e->user : 0;
	if (e) {
		c->pending_head = (c->pending_head + 1) % GLASS_HTTP_PIPELINE;
		c->pending_count--;
	}
	*ev = GLASS_HTTP_ABORTED;
	return 1;
}

/* ---- redaction ---- */

/* Appends what fits; everything appended is safe to keep, so a cut anywhere is fine. */
static void http_out(char *out, size_t cap, size_t *at, int *cut, const char *s, size_t n)
{
	if (*at + n > cap) {
		n = cap - *at;
		*cut = 1;
	}
	memcpy(out + *at, s, n);
	*at += n;
}

/* Is the (%-encoded) parameter name s[0, n) one whose value must not be kept? */
static int http_name_is_secret(const char *s, size_t n)
{
	char dec[64];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '%' && i + 2 < n && http_hexval((unsigned char)s[i + 1]) >= 0 &&
		    http_hexval((unsigned char)s[i + 2]) >= 0) {
			ch = (unsigned char)(http_hexval((unsigned char)s[i + 1]) * 16 +
					     http_hexval((unsigned char)s[i + 2]));
			i += 2;
		}
		if (k == sizeof(dec))
			return 1; /* too long to check: assume the worst */
		dec[k++] = (char)http_lower(ch);
	}
	return http_is_secret(dec, k);
}

size_t glass_http_redact_target(const char *target, size_t len, char *out, size_t outlen,
				int *truncated)
{
	size_t cap = outlen ? outlen - 1 : 0, at = 0, i = 0;
	int cut = 0;

	if (!target)
		len = 0;
	/* Absolute form: scheme://user:password@host... keeps the user, not the password. */
	for (size_t j = 0; j + 2 < len && target[j] != '/' && target[j] != '?' && target[j] != '#';
	     j++) {
		if (target[j] == ':' && target[j + 1] == '/' && target[j + 2] == '/') {
			size_t a = j + 3, e = a, at_sign = len, colon = len;

			while (e < len && target[e] != '/' && target[e] != '?' && target[e] != '#')
				e++;
			for (size_t k = a; k < e; k++)
				if (target[k] == '@')
					at_sign = k;
			if (at_sign < e) {
				for (size_t k = a; k < at_sign; k++)
					if (target[k] == ':') {
						colon = k;
						break;
					}
				if (colon < at_sign) {
					http_out(out, cap, &at, &cut, target, colon + 1);
					http_out(out, cap, &at, &cut, "REDACTED", 8);
					i = at_sign;
				}
			}
			break;
		}
	}
	/* Path as it is, up to the query or fragment. */
	{
		size_t e = i;

		while (e < len && target[e] != '?' && target[e] != '#')
			e++;
		http_out(out, cap, &at, &cut, target + i, e - i);
		i = e;
	}
	/* Parameters of the query and of the fragment. */
	while (i < len) {
		size_t e = i + 1, eq;

		http_out(out, cap, &at, &cut, target + i, 1); /* ? # & ; */
		while (e < len && target[e] != '&' && target[e] != ';' && target[e] != '#')
			e++;
		for (eq = i + 1; eq < e && target[eq] != '='; eq++)
			;
		if (eq < e && http_name_is_secret(target + i + 1, eq - i - 1)) {
			http_out(out, cap, &at, &cut, target + i + 1, eq - i);
			http_out(out, cap, &at, &cut, "REDACTED", 8);
		} else {
			http_out(out, cap, &at, &cut, target + i + 1, e - i - 1);
		}
		i = e;
	}
	if (outlen)
		out[at] = '\0';
	if (truncated)
		*truncated = cut;
	return at;
}

int glass_http_request_idle(const struct glass_http_conn *c)
{
	return c->mode == M_ACTIVE && c->dir[GLASS_HTTP_REQUESTS].state == H_IDLE;
}
