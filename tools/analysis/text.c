/* tools/text.c — text output helpers: JSON strings, terminal-safe text, human units. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text.h"

static int buf_reserve(struct glass_buf *b, size_t n)
{
	if (b->oom)
		return -1;
	if (b->len + n <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void glass_buf_put(struct glass_buf *b, const void *s, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void glass_buf_puts(struct glass_buf *b, const char *s)
{
	glass_buf_put(b, s, strlen(s));
}

void glass_buf_printf(struct glass_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n + 1) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void glass_buf_free(struct glass_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes are not valid UTF-8. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f; /* > U+10FFFF */
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

size_t glass_utf8_seq(const char *s, size_t left)
{
	return utf8_len((const unsigned char *)s, left);
}

static const char replacement[] = "\xef\xbf\xbd";

void glass_json_str(struct glass_buf *b, const char *str, size_t len)
{
	if (!str) {
		glass_buf_put(b, "null", 4);
		return;
	}
	const unsigned char *s = (const unsigned char *)str;
	if (buf_reserve(b, len + 2) < 0)
		return;
	glass_buf_put(b, "\"", 1);
	size_t run = 0; /* bytes copied as they are, flushed lazily */
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			run++;
			i++;
			continue;
		}
		size_t n = c < 0x80 ? 1 : utf8_len(s + i, len - i);
		if (n > 1) {
			run += n;
			i += n;
			continue;
		}
		glass_buf_put(b, s + i - run, run);
		run = 0;
		char esc[8];
		switch (c) {
		case '"':
			glass_buf_put(b, "\\\"", 2);
			break;
		case '\\':
			glass_buf_put(b, "\\\\", 2);
			break;
		case '\n':
			glass_buf_put(b, "\\n", 2);
			break;
		case '\r':
			glass_buf_put(b, "\\r", 2);
			break;
		case '\t':
			glass_buf_put(b, "\\t", 2);
			break;
		case '\b':
			glass_buf_put(b, "\\b", 2);
			break;
		case '\f':
			glass_buf_put(b, "\\f", 2);
			break;
		default:
			if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				glass_buf_put(b, esc, 6);
			} else {
				glass_buf_put(b, replacement, 3);
			}
		}
		i++;
	}
	glass_buf_put(b, s + len - run, run);
	glass_buf_put(b, "\"", 1);
}

size_t glass_term_text(char *out, size_t outlen, const char *str, size_t len, size_t cols, int left)
{
	const unsigned char *s = (const unsigned char *)str;
	if (!s)
		len = 0;
	/* count characters first */
	size_t chars = 0;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(s + i, len - i);
		i += n ? n : 1;
		chars++;
	}
	size_t skip = 0, keep = chars;
	int cut = chars > cols;
	if (cut) {
		keep = cols > 0 ? cols - 1 : 0;
		if (left)
			skip = chars - keep;
	}
	size_t o = 0, ch = 0, width = 0;
	if (cut && left && outlen > 4) {
		memcpy(out, "\xe2\x80\xa6", 3);
		o = 3;
		width++;
	}
	for (size_t i = 0; i < len && o + 5 < outlen;) {
		size_t n = utf8_len(s + i, len - i);
		size_t step = n ? n : 1;
		if (ch >= skip && ch < skip + keep) {
			if (!n) {
				memcpy(out + o, replacement, 3);
				o += 3;
			} else if (n == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
				out[o++] = '?';
			} else if (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) {
				out[o++] = '?'; /* C1 controls */
			} else {
				memcpy(out + o, s + i, n);
				o += n;
			}
			width++;
		}
		i += step;
		ch++;
	}
	if (cut && !left && o + 4 < outlen) {
		memcpy(out + o, "\xe2\x80\xa6", 3);
		o += 3;
		width++;
	}
	if (outlen)
		out[o < outlen ? o : outlen - 1] = 0;
	return width;
}

size_t glass_text_width(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t w = 0;
	for (; *s; s++)
		w += (*s & 0xc0) != 0x80;
	return w;
}

void glass_fmt_dur(char *out, size_t outlen, uint64_t ns)
{
	static const struct {
		double div;
		const char *unit;
	} units[] = {{1e3, "µs"}, {1e6, "ms"}, {1e9, "s"}, {60e9, "m"}, {3600e9, "h"}};
	if (ns < 1000) {
		snprintf(out, outlen, "%uns", (unsigned)ns);
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		double v = (double)ns / units[i].div;
		int last = i + 1 == sizeof(units) / sizeof(units[0]);
		/* seconds stay seconds up to 999; then minutes, hours */
		double limit = i == 2 ? 999.5 : (i == 3 ? 119.5 : 999.5);
		if (v < limit || last) {
			if (v < 9.995)
				snprintf(out, outlen, "%.2f%s", v, units[i].unit);
			else if (v < 99.95)
				snprintf(out, outlen, "%.1f%s", v, units[i].unit);
			else
				snprintf(out, outlen, "%.0f%s", v, units[i].unit);
			return;
		}
	}
}

void glass_fmt_count(char *out, size_t outlen, uint64_t n)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n);
	size_t o = 0;
	for (int i = 0; i < len && o + 2 < outlen; i++) {
		if (i && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = tmp[i];
	}
	if (outlen)
		out[o] = 0;
}

void glass_fmt_count_short(char *out, size_t outlen, uint64_t n)
{
	if (n < 10000000ull)
		snprintf(out, outlen, "%llu", (unsigned long long)n);
	else if (n < 10000000000ull)
		snprintf(out, outlen, "%.1fM", (double)n / 1e6);
	else if (n < 10000000000000ull)
		snprintf(out, outlen, "%.1fG", (double)n / 1e9);
	else
		snprintf(out, outlen, "%.1fT", (double)n / 1e12);
}

void glass_fmt_time(char *out, size_t outlen, uint64_t unix_ns, int micro, int zone)
{
	time_t t = (time_t)(unix_ns / 1000000000ull);
	struct tm tm;
	if (!localtime_r(&t, &tm)) {
		snprintf(out, outlen, "?");
		return;
	}
	char base[64], z[16] = "";
	strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
	if (zone)
		strftime(z, sizeof(z), " %Z", &tm);
	if (micro)
		snprintf(out, outlen, "%s.%06u%s", base, (unsigned)(unix_ns % 1000000000ull / 1000),
			 z);
	else
		snprintf(out, outlen, "%s.%03u%s", base,
			 (unsigned)(unix_ns % 1000000000ull / 1000000), z);
}

void glass_put_padded(FILE *f, const char *s, size_t cols, int right)
{
	size_t w = glass_text_width(s);
	if (right)
		for (size_t i = w; i < cols; i++)
			fputc(' ', f);
	fputs(s, f);
	if (!right)
		for (size_t i = w; i < cols; i++)
			fputc(' ', f);
}

void glass_spec_value(struct glass_buf *b, const char *p, size_t len)
{
	size_t chars = 0;
	for (size_t i = 0; i < len && chars < 120; chars++) {
		unsigned char c = (unsigned char)p[i];
		size_t n = glass_utf8_seq(p + i, len - i);
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || c == '^')
			glass_buf_put(b, p + i, 1);
		else
			glass_buf_put(b, "_", 1);
		i += n ? n : 1;
	}
	if (!chars)
		glass_buf_puts(b, "none");
}
