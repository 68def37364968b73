/* preload/proto-inject.c — a traceparent header inserted into an outgoing HTTP/1.x request head
 * (see proto-inject.h). */
#include <string.h>
#include <strings.h>

#include "proto-inject.h"

static const char *find_crlf(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == '\r' && p[i + 1] == '\n')
			return p + i;
	return NULL;
}

size_t glass_inject_point(const char *buf, size_t len, enum glass_inject_why *why)
{
	enum glass_inject_why w = GLASS_INJECT_NOT_REQUEST;
	size_t at = 0;
	const char *eol = find_crlf(buf, len);
	/* "METHOD SP target SP HTTP/1.x": a token of upper-case letters first */
	size_t m = 0;
	while (m < len && buf[m] >= 'A' && buf[m] <= 'Z')
		m++;
	if (m && m < len && buf[m] == ' ') {
		if (!eol) {
			w = len > 8192 ? GLASS_INJECT_NOT_REQUEST : GLASS_INJECT_SPLIT_HEAD;
			goto out;
		}
		size_t ll = (size_t)(eol - buf);
		if (ll < m + 10 || memcmp(eol - 9, " HTTP/1.", 8) || (eol[-1] != '0' && eol[-1] != '1'))
			goto out;
		/* the headers, each "name: value" CRLF, until an empty line */
		const char *p = eol + 2, *end = buf + len;
		for (;;) {
			const char *e = find_crlf(p, (size_t)(end - p));
			if (!e) {
				w = GLASS_INJECT_SPLIT_HEAD;
				goto out;
			}
			if (e == p)
				break; /* the blank line: the head is whole */
			if (e - p >= 12 && !strncasecmp(p, "traceparent", 11) &&
			    (p[11] == ':' || p[11] == ' ' || p[11] == '\t')) {
				w = GLASS_INJECT_HAS_HEADER;
				goto out;
			}
			p = e + 2;
		}
		w = GLASS_INJECT_OK;
		at = ll + 2;
	}
out:
	if (why)
		*why = w;
	return at;
}

static void hex64(char *o, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, v >>= 4)
		o[i] = digits[v & 15];
}

size_t glass_inject_header(char *out, uint64_t trace_hi, uint64_t trace_lo, uint64_t span)
{
	memcpy(out, "traceparent: 00-", 16);
	hex64(out + 16, trace_hi);
	hex64(out + 32, trace_lo);
	out[48] = '-';
	hex64(out + 49, span);
	memcpy(out + 65, "-01\r\n", 5);
	return GLASS_INJECT_HEADER_LEN;
}

/* The length of the head in buf (through the blank line); buf holds it whole. */
static size_t head_len(const char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
			return i + 4;
	return len;
}

ssize_t glass_inject_write(glass_inject_write_fn w, void *ctx, const char *buf, size_t len,
			   size_t at, const char *hdr, size_t hlen, char *scratch, size_t cap,
			   enum glass_inject_outcome *outcome)
{
	size_t take = len;
	if (take + hlen > cap)
		take = head_len(buf, len);
	if (take + hlen > cap || at > take) {
		*outcome = GLASS_INJECT_TOO_BIG;
		return w(ctx, buf, len, 0);
	}
	memcpy(scratch, buf, at);
	memcpy(scratch + at, hdr, hlen);
	memcpy(scratch + at + hlen, buf + at, take - at);
	ssize_t m = w(ctx, scratch, take + hlen, 0);
	if (m < 0 || (size_t)m <= at) {
		*outcome = GLASS_INJECT_NOT_YET;
		return m;
	}
	if ((size_t)m >= at + hlen) {
		*outcome = GLASS_INJECTED;
		return m - (ssize_t)hlen;
	}
	/* the write ended inside the header: the rest of it must follow before anything else */
	size_t done = (size_t)m - at;
	while (done < hlen) {
		ssize_t k = w(ctx, hdr + done, hlen - done, 1);
		if (k <= 0) {
			*outcome = GLASS_INJECT_BROKEN;
			return (ssize_t)at;
		}
		done += (size_t)k;
	}
	*outcome = GLASS_INJECTED;
	return (ssize_t)at;
}
