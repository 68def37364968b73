/* tools/text.h — text output helpers: JSON strings, terminal-safe text, human units. */
#ifndef GLASS_TEXT_H
#define GLASS_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A growable output buffer (one line at a time, then written out). */
struct glass_buf {
	char *p;
	size_t len, cap;
	int oom;
};

void glass_buf_put(struct glass_buf *b, const void *s, size_t n);
void glass_buf_puts(struct glass_buf *b, const char *s);
__attribute__((format(printf, 2, 3))) void glass_buf_printf(struct glass_buf *b, const char *fmt,
							    ...);
void glass_buf_free(struct glass_buf *b);

/*
 * Appends s[0..len) as a JSON string literal (quotes included). Quotes, backslashes and control
 * bytes are escaped; bytes that are not valid UTF-8 (overlongs, surrogates, > U+10FFFF, cut
 * sequences) become U+FFFD, so any input gives valid JSON. s NULL gives `null`.
 */
void glass_json_str(struct glass_buf *b, const char *s, size_t len);

/*
 * Makes text safe for a terminal: control bytes become '?', invalid UTF-8 becomes U+FFFD.
 * Keeps at most `cols` characters; when cut, keeps the end (left = 1) or the start (left = 0)
 * and marks the cut with "…". Writes a NUL-terminated string to out (outlen >= 4 * cols + 4)
 * and returns its width in characters.
 */
size_t glass_term_text(char *out, size_t outlen, const char *s, size_t len, size_t cols, int left);
/* Length of the valid UTF-8 sequence at s (1..4; left >= 1 bytes available), 0 when the bytes
 * there are not valid UTF-8 (overlongs, surrogates, > U+10FFFF, cut sequences). */
size_t glass_utf8_seq(const char *s, size_t left);
/* A spectatord tag value: characters outside -._A-Za-z0-9~^ become '_' (one per character, as
 * spectator-py does), at most 120 of them; empty becomes "none". */
void glass_spec_value(struct glass_buf *b, const char *p, size_t len);
/* Display width of UTF-8 text (characters; every character counted as one column). */
size_t glass_text_width(const char *s);

/* Duration in human units: "123ns", "1.23µs", "45.6ms", "7.89s", "12.3m", "2.50h". */
void glass_fmt_dur(char *out, size_t outlen, uint64_t ns);
/* Count with thousands separators: "1,234,567". */
void glass_fmt_count(char *out, size_t outlen, uint64_t n);
/* Short count for narrow columns: exact below 10 million, else "12.3M", "4.56G". */
void glass_fmt_count_short(char *out, size_t outlen, uint64_t n);
/* Unix ns as local time "YYYY-mm-dd HH:MM:SS.ffffff" (Glimpse style) or with zone (zone = 1). */
void glass_fmt_time(char *out, size_t outlen, uint64_t unix_ns, int micro, int zone);
/* Prints s to f padded with spaces to `cols` display columns (right-aligned if right). */
void glass_put_padded(FILE *f, const char *s, size_t cols, int right);

#endif
