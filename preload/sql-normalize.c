/* preload/sql-normalize.c — one linear pass over SQL text: literals out, shape kept. */
#include <stdint.h>
#include <string.h>

#include "sql-normalize.h"

/*
 * A small lexer shared by glass_sql_normalize() and glass_sql_describe(). It never looks back
 * and every loop advances, so both functions are linear in the input; the only inner scan is
 * the search for a dollar-quote's closing tag, bounded by SQL_DOLLAR_TAG_MAX per byte.
 */

#define SQL_DOLLAR_TAG_MAX    64
#define SQL_PYFORMAT_NAME_MAX 128
/* Parentheses tracked for list collapsing; deeper ones are only counted. */
#define SQL_CTX_MAX 32

enum sql_tok_kind {
	TOK_END = 0,
	TOK_WORD,   /* keyword or identifier */
	TOK_QIDENT, /* "quoted" or `ticked` identifier */
	TOK_STRING, /* any string literal, prefix included */
	TOK_NUMBER,
	TOK_PARAM, /* placeholder */
	TOK_OPEN,  /* ( or [ */
	TOK_CLOSE, /* ) or ] */
	TOK_COMMA,
	TOK_SEMI,
	TOK_DOT,
	TOK_OP, /* any other character, or :: */
};

struct sql_tok {
	enum sql_tok_kind kind;
	size_t start;
	size_t len;
	int space_before; /* whitespace or a comment separated it from the previous token */
};

struct sql_lexer {
	const unsigned char *s;
	size_t len;
	size_t i;
	unsigned flags;
};

static int sql_is_space(unsigned char c)
{
	return c == ' ' || (c >= 0x01 && c <= 0x1f) || c == 0x7f || c == 0;
}

static int sql_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int sql_is_hex(unsigned char c)
{
	return sql_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int sql_is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int sql_is_ident(unsigned char c)
{
	return sql_is_ident_start(c) || sql_is_digit(c) || c == '$';
}

static unsigned char sql_upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Case-insensitive: is s[0, n) exactly the upper-case word w? */
static int sql_word_is(const unsigned char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (w[i] == '\0' || sql_upper(s[i]) != (unsigned char)w[i])
			return 0;
	return w[i] == '\0';
}

/* Skips whitespace and comments; returns 1 if there were any. */
static int sql_skip_space(struct sql_lexer *lx)
{
	const unsigned char *s = lx->s;
	int any = 0;

	while (lx->i < lx->len) {
		unsigned char c = s[lx->i];

		if (sql_is_space(c)) {
			lx->i++;
		} else if ((c == '-' && lx->i + 1 < lx->len && s[lx->i + 1] == '-') ||
			   (c == '#' && (lx->flags & GLASS_SQL_MYSQL))) {
			while (lx->i < lx->len && s[lx->i] != '\n')
				lx->i++;
		} else if (c == '/' && lx->i + 1 < lx->len && s[lx->i + 1] == '*') {
			/* PostgreSQL nests block comments, MySQL does not. */
			int nest = !(lx->flags & GLASS_SQL_MYSQL);
			size_t depth = 1;

			lx->i += 2;
			while (lx->i < lx->len && depth) {
				if (s[lx->i] == '*' && lx->i + 1 < lx->len && s[lx->i + 1] == '/') {
					depth--;
					lx->i += 2;
				} else if (nest && s[lx->i] == '/' && lx->i + 1 < lx->len &&
					   s[lx->i + 1] == '*') {
					depth++;
					lx->i += 2;
				} else {
					lx->i++;
				}
			}
		} else {
			break;
		}
		any = 1;
	}
	return any;
}

/* From the opening quote at lx->i to past the closing one (or the end: unterminated). */
static void sql_skip_quoted(struct sql_lexer *lx, unsigned char q, int backslash)
{
	const unsigned char *s = lx->s;
	size_t i = lx->i + 1;

	while (i < lx->len) {
		if (backslash && s[i] == '\\') {
			i += 2;
		} else if (s[i] == q) {
			if (i + 1 < lx->len && s[i + 1] == q) {
				i += 2;
			} else {
				i++;
				break;
			}
		} else {
			i++;
		}
	}
	lx->i = i < lx->len ? i : lx->len;
}

/* Past the number starting at p (digits, or '.' digits); returns its end. */
static size_t sql_scan_number(const struct sql_lexer *lx, size_t p)
{
	const unsigned char *s = lx->s;
	size_t n = lx->len;

	if (s[p] == '0' && p + 2 < n) {
		unsigned char x = s[p + 1] | 0x20;
		int (*ok)(unsigned char) = NULL;

		if (x == 'x')
			ok = sql_is_hex;
		else if (x == 'b' || x == 'o')
			ok = sql_is_digit; /* 0b101, 0o17: digits are close enough */
		if (ok && p + 2 < n && ok(s[p + 2])) {
			p += 2;
			while (p < n && (ok(s[p]) || (s[p] == '_' && p + 1 < n && ok(s[p + 1]))))
				p++;
			return p;
		}
	}
	while (p < n &&
	       (sql_is_digit(s[p]) || (s[p] == '_' && p + 1 < n && sql_is_digit(s[p + 1]))))
		p++;
	if (p < n && s[p] == '.' && !(p + 1 < n && s[p + 1] == '.')) {
		p++;
		while (p < n && sql_is_digit(s[p]))
			p++;
	}
	if (p < n && (s[p] | 0x20) == 'e') {
		size_t q = p + 1;

		if (q < n && (s[q] == '+' || s[q] == '-'))
			q++;
		if (q < n && sql_is_digit(s[q])) {
			p = q;
			while (p < n && sql_is_digit(s[p]))
				p++;
		}
	}
	return p;
}

/* At a '$' that is not followed by a digit: a dollar-quoted string ($$...$$, $tag$...$tag$)? */
static int sql_try_dollar_quote(struct sql_lexer *lx)
{
	const unsigned char *s = lx->s;
	size_t start = lx->i, j = start + 1, tag, k;

	while (j < lx->len && j - start - 1 <= SQL_DOLLAR_TAG_MAX && sql_is_ident(s[j]) &&
	       s[j] != '$')
		j++;
	if (j >= lx->len || s[j] != '$' || j - start - 1 > SQL_DOLLAR_TAG_MAX)
		return 0;
	tag = j - start + 1; /* "$tag$" */
	for (k = j + 1; k < lx->len; k++) {
		if (s[k] == '$' && lx->len - k >= tag && memcmp(s + k, s + start, tag) == 0) {
			lx->i = k + tag;
			return 1;
		}
	}
	lx->i = lx->len; /* unterminated: the rest is the string */
	return 1;
}

/* %s, %b, %t, %(name)s; returns the placeholder's length at lx->i, or 0. */
static size_t sql_pyformat_len(const struct sql_lexer *lx)
{
	const unsigned char *s = lx->s;
	size_t i = lx->i, n = lx->len, j;

	if (i + 1 >= n)
		return 0;
	if (s[i + 1] == 's' || s[i + 1] == 'b' || s[i + 1] == 't')
		return i + 2 < n && sql_is_ident(s[i + 2]) ? 0 : 2;
	if (s[i + 1] != '(')
		return 0;
	for (j = i + 2; j < n && j - i < SQL_PYFORMAT_NAME_MAX; j++) {
		if (s[j] == ')')
			return j + 1 < n && (s[j + 1] == 's' || s[j + 1] == 'b' || s[j + 1] == 't')
				   ? j + 2 - i
				   : 0;
		if (s[j] == '(' || s[j] == '%')
			return 0;
	}
	return 0;
}

static void sql_lex_word(struct sql_lexer *lx, struct sql_tok *t)
{
	const unsigned char *s = lx->s;
	size_t start = lx->i, i = start;

	while (i < lx->len && sql_is_ident(s[i]))
		i++;
	lx->i = i;
	t->kind = TOK_WORD;
	/* Literal prefixes: E'..' (backslash escapes), X'..', B'..', N'..', U&'..'. */
	if (i - start == 1 && i < lx->len) {
		unsigned char p = sql_upper(s[start]);

		if (s[i] == '\'' && (p == 'E' || p == 'X' || p == 'B' || p == 'N')) {
			sql_skip_quoted(lx, '\'',
					p == 'E' || (lx->flags & (GLASS_SQL_MYSQL |
								  GLASS_SQL_BACKSLASH_ESCAPES)));
			t->kind = TOK_STRING;
		} else if (p == 'U' && s[i] == '&' && i + 1 < lx->len && s[i + 1] == '\'') {
			lx->i = i + 1;
			sql_skip_quoted(lx, '\'', 0);
			t->kind = TOK_STRING;
		}
	}
}

/* The next token; TOK_END at the end of the input. */
static void sql_lex(struct sql_lexer *lx, struct sql_tok *t)
{
	const unsigned char *s = lx->s;
	size_t n = lx->len, i;
	unsigned char c;

	t->space_before = sql_skip_space(lx);
	t->start = i = lx->i;
	if (i >= n) {
		t->kind = TOK_END;
		t->len = 0;
		return;
	}
	c = s[i];
	t->kind = TOK_OP;
	lx->i = i + 1;
	switch (c) {
	case '\'':
		sql_skip_quoted(lx, '\'',
				!!(lx->flags & (GLASS_SQL_MYSQL | GLASS_SQL_BACKSLASH_ESCAPES)));
		t->kind = TOK_STRING;
		break;
	case '"':
		if (lx->flags & GLASS_SQL_MYSQL) {
			sql_skip_quoted(lx, '"', 1);
			t->kind = TOK_STRING;
		} else {
			sql_skip_quoted(lx, '"', 0);
			t->kind = TOK_QIDENT;
		}
		break;
	case '`':
		sql_skip_quoted(lx, '`', 0);
		t->kind = TOK_QIDENT;
		break;
	case '$':
		if (i + 1 < n && sql_is_digit(s[i + 1])) {
			lx->i = i + 1;
			while (lx->i < n && sql_is_digit(s[lx->i]))
				lx->i++;
			t->kind = TOK_PARAM;
			break;
		}
		lx->i = i;
		if (sql_try_dollar_quote(lx)) {
			t->kind = TOK_STRING;
		} else if (i + 1 < n && sql_is_ident_start(s[i + 1])) {
			lx->i = i + 1;
			while (lx->i < n && sql_is_ident(s[lx->i]) && s[lx->i] != '$')
				lx->i++;
			t->kind = TOK_PARAM; /* SQLite $name */
		} else {
			lx->i = i + 1;
		}
		break;
	case '?':
		while (lx->i < n && sql_is_digit(s[lx->i]))
			lx->i++;
		t->kind = TOK_PARAM;
		break;
	case ':':
		if (i + 1 < n && s[i + 1] == ':') {
			lx->i = i + 2;
		} else if (i + 1 < n && sql_is_ident_start(s[i + 1])) {
			while (lx->i < n && sql_is_ident(s[lx->i]))
				lx->i++;
			t->kind = TOK_PARAM;
		}
		break;
	case '@':
		if (i + 2 < n && s[i + 1] == '@' && sql_is_ident_start(s[i + 2])) {
			lx->i = i + 2;
			while (lx->i < n && sql_is_ident(s[lx->i]))
				lx->i++;
			t->kind = TOK_WORD; /* @@session.x: a system variable */
		} else if (i + 1 < n && sql_is_ident_start(s[i + 1])) {
			while (lx->i < n && sql_is_ident(s[lx->i]))
				lx->i++;
			t->kind = TOK_PARAM;
		}
		break;
	case '%': {
		size_t pl;

		lx->i = i;
		pl = sql_pyformat_len(lx);
		if (pl) {
			lx->i = i + pl;
			t->kind = TOK_PARAM;
		} else {
			lx->i = i + (i + 1 < n && s[i + 1] == '%' ? 2 : 1);
		}
		break;
	}
	case '(':
	case '[':
		t->kind = TOK_OPEN;
		break;
	case ')':
	case ']':
		t->kind = TOK_CLOSE;
		break;
	case ',':
		t->kind = TOK_COMMA;
		break;
	case ';':
		t->kind = TOK_SEMI;
		break;
	case '.':
		if (i + 1 < n && sql_is_digit(s[i + 1])) {
			lx->i = sql_scan_number(lx, i);
			t->kind = TOK_NUMBER;
		} else {
			t->kind = TOK_DOT;
		}
		break;
	default:
		if (sql_is_digit(c)) {
			lx->i = sql_scan_number(lx, i);
			t->kind = TOK_NUMBER;
			/* MySQL names may start with digits: 2fa_codes, 1e5x. */
			if ((lx->flags & GLASS_SQL_MYSQL) && lx->i < n && sql_is_ident(s[lx->i])) {
				while (lx->i < n && sql_is_ident(s[lx->i]))
					lx->i++;
				t->kind = TOK_WORD;
			}
		} else if (sql_is_ident_start(c)) {
			lx->i = i;
			sql_lex_word(lx, t);
		}
		break;
	}
	t->len = lx->i - t->start;
}

/* ---- normalize ---- */

/* Output with a virtual position: bytes past the buffer are counted, not stored, so a later
 * rewind (a collapsed list) can bring the text back within bounds. */
struct sql_out {
	char *buf;
	size_t cap; /* bytes usable for text (outlen - 1) */
	size_t pos;
};

static void sql_put(struct sql_out *o, const void *p, size_t n)
{
	if (o->pos < o->cap) {
		size_t room = o->cap - o->pos;

		memcpy(o->buf + o->pos, p, n < room ? n : room);
	}
	o->pos += n;
}

enum sql_ctx_kind { CTX_PLAIN = 0, CTX_LIST, CTX_TUPLE };

struct sql_ctx {
	unsigned char kind;
	unsigned char open;	  /* '(' or '[' */
	unsigned char all_values; /* only single values separated by commas so far */
	unsigned char expect_value;
	size_t nvalues;
	size_t out_pos; /* where the opening bracket was written */
};

struct sql_values {
	int active;
	size_t depth;	 /* nesting depth of the VALUES keyword */
	int expect_open; /* 1: a tuple may start; 0: a comma may come */
	size_t ntuples;
	uint64_t first_shape, shape;
	size_t comma_pos; /* output position before the comma preceding the current tuple */
};

/* What a word means to the normalizer. */
#define KW_BOOL	   0x01 /* TRUE, FALSE: a value */
#define KW_IN	   0x02
#define KW_VALUES  0x04
#define KW_UNARY   0x08 /* a sign may follow: WHERE -1 */
#define KW_NULLISH 0x10 /* NULL, DEFAULT: alike in a VALUES row's shape */

static const struct {
	const char *word;
	unsigned char kw;
} sql_keywords[] = {
    {"TRUE", KW_BOOL},	      {"FALSE", KW_BOOL},
    {"IN", KW_IN | KW_UNARY}, {"VALUES", KW_VALUES | KW_UNARY},
    {"NULL", KW_NULLISH},     {"DEFAULT", KW_NULLISH | KW_UNARY},
    {"SELECT", KW_UNARY},     {"WHERE", KW_UNARY},
    {"AND", KW_UNARY},	      {"OR", KW_UNARY},
    {"NOT", KW_UNARY},	      {"SET", KW_UNARY},
    {"THEN", KW_UNARY},	      {"ELSE", KW_UNARY},
    {"WHEN", KW_UNARY},	      {"CASE", KW_UNARY},
    {"LIKE", KW_UNARY},	      {"ILIKE", KW_UNARY},
    {"IS", KW_UNARY},	      {"BETWEEN", KW_UNARY},
    {"RETURN", KW_UNARY},     {"LIMIT", KW_UNARY},
    {"OFFSET", KW_UNARY},     {"BY", KW_UNARY},
    {"HAVING", KW_UNARY},     {"ON", KW_UNARY},
    {"ARRAY", KW_UNARY},      {"ANY", KW_UNARY},
    {"ALL", KW_UNARY},	      {"SOME", KW_UNARY},
    {"INTERVAL", KW_UNARY},   {"AS", KW_UNARY},
    {"WITH", KW_UNARY},	      {"FROM", KW_UNARY},
    {"USING", KW_UNARY},      {"RETURNING", KW_UNARY},
};

/* The KW_* bits of the word s[0, n): one upper-cased copy, compared only with equal lengths. */
static unsigned sql_keyword(const unsigned char *s, size_t n)
{
	char up[10];

	if (n < 2 || n > 9)
		return 0;
	for (size_t i = 0; i < n; i++)
		up[i] = (char)sql_upper(s[i]);
	up[n] = '\0';
	for (size_t k = 0; k < sizeof(sql_keywords) / sizeof(sql_keywords[0]); k++)
		if (sql_keywords[k].word[0] == up[0] && strcmp(sql_keywords[k].word, up) == 0)
			return sql_keywords[k].kw;
	return 0;
}

static int sql_word_in(const unsigned char *s, size_t n, const char *const *list, size_t count)
{
	for (size_t k = 0; k < count; k++)
		if (sql_word_is(s, n, list[k]))
			return 1;
	return 0;
}

static uint64_t sql_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

size_t glass_sql_normalize(const char *sql, size_t len, char *out, size_t outlen, unsigned flags,
			   int *truncated)
{
	struct sql_lexer lx = {(const unsigned char *)sql, sql ? len : 0, 0, flags};
	struct sql_out o = {out, outlen ? outlen - 1 : 0, 0};
	struct sql_ctx stack[SQL_CTX_MAX];
	struct sql_values vt = {0};
	size_t depth = 0;
	int prev_unary = 1; /* a sign may follow: start, operator, ( , or a keyword like WHERE */
	int prev_in = 0;    /* the previous token was IN */
	struct sql_tok t;

	for (;;) {
		const unsigned char *txt;
		int is_value, is_param;
		unsigned kw;
		struct sql_ctx *top;

		sql_lex(&lx, &t);
		if (t.kind == TOK_END)
			break;
		txt = lx.s + t.start;
		/* A sign directly before a number belongs to it where an operand is expected. */
		if (t.kind == TOK_OP && t.len == 1 && (txt[0] == '-' || txt[0] == '+') &&
		    prev_unary && lx.i < lx.len &&
		    (sql_is_digit(lx.s[lx.i]) ||
		     (lx.s[lx.i] == '.' && lx.i + 1 < lx.len && sql_is_digit(lx.s[lx.i + 1])))) {
			lx.i = sql_scan_number(&lx, lx.i);
			t.kind = TOK_NUMBER;
			t.len = lx.i - t.start;
		}
		kw = t.kind == TOK_WORD ? sql_keyword(txt, t.len) : 0;
		is_param = t.kind == TOK_PARAM;
		is_value =
		    t.kind == TOK_STRING || t.kind == TOK_NUMBER || is_param || (kw & KW_BOOL);

		/* The list (IN (...), [...]) directly around this token learns what it holds. */
		top = depth && depth <= SQL_CTX_MAX ? &stack[depth - 1] : NULL;
		if (top && top->kind == CTX_LIST && t.kind != TOK_CLOSE) {
			if (is_value && top->expect_value) {
				top->expect_value = 0;
				top->nvalues++;
			} else if (t.kind == TOK_COMMA && !top->expect_value) {
				top->expect_value = 1;
			} else {
				top->all_values = 0;
			}
		}

		/* VALUES (...), (...): note where each further tuple starts. */
		if (vt.active && depth == vt.depth) {
			if (vt.expect_open && t.kind == TOK_OPEN && txt[0] == '(') {
				vt.shape = 0xcbf29ce484222325ULL;
			} else if (!vt.expect_open && t.kind == TOK_COMMA) {
				vt.comma_pos = o.pos;
				vt.expect_open = 1;
			} else {
				vt.active = 0;
			}
		} else if (vt.active && depth > vt.depth) {
			/* A tuple's shape: its tokens, with every value (NULL and DEFAULT too)
			 * alike. */
			unsigned char k = (unsigned char)t.kind;

			if (is_value || (kw & KW_NULLISH))
				k = 0xff;
			vt.shape = sql_hash(vt.shape, &k, 1);
			if (k != 0xff)
				vt.shape = sql_hash(vt.shape, txt, t.len);
		}

		if (t.space_before && o.pos)
			sql_put(&o, " ", 1);
		if (t.kind == TOK_OPEN) {
			if (depth < SQL_CTX_MAX) {
				struct sql_ctx *c = &stack[depth];

				c->kind = txt[0] == '['			   ? CTX_LIST
					  : vt.active && depth == vt.depth ? CTX_TUPLE
					  : prev_in			   ? CTX_LIST
									   : CTX_PLAIN;
				c->open = txt[0];
				c->all_values = 1;
				c->expect_value = 1;
				c->nvalues = 0;
				c->out_pos = o.pos;
			}
			depth++;
		}
		if (is_value && !is_param)
			sql_put(&o, "?", 1);
		else
			sql_put(&o, txt, t.len);

		if (t.kind == TOK_CLOSE && depth) {
			depth--;
			if (depth < SQL_CTX_MAX) {
				struct sql_ctx *c = &stack[depth];

				if (c->kind == CTX_LIST && c->all_values && !c->expect_value &&
				    c->nvalues) {
					o.pos = c->out_pos;
					sql_put(&o, c->open == '[' ? "[?]" : "(?)", 3);
				} else if (c->kind == CTX_TUPLE && vt.active && depth == vt.depth) {
					if (vt.ntuples == 0)
						vt.first_shape = vt.shape;
					else if (vt.shape == vt.first_shape)
						o.pos = vt.comma_pos;
					vt.ntuples++;
					vt.expect_open = 0;
				}
			}
			if (vt.active && depth < vt.depth)
				vt.active = 0;
		}
		if (t.kind == TOK_SEMI)
			vt.active = 0;
		if ((kw & KW_VALUES) && depth < SQL_CTX_MAX) {
			vt.active = 1;
			vt.depth = depth;
			vt.expect_open = 1;
			vt.ntuples = 0;
		}

		prev_in = !!(kw & KW_IN);
		switch (t.kind) {
		case TOK_OP:
		case TOK_OPEN:
		case TOK_COMMA:
		case TOK_SEMI:
			prev_unary = 1;
			break;
		case TOK_WORD:
			prev_unary = !!(kw & KW_UNARY);
			break;
		default:
			prev_unary = 0;
			break;
		}
	}

	if (truncated)
		*truncated = o.pos > o.cap;
	if (!outlen)
		return 0;
	if (o.pos > o.cap) {
		size_t mark = sizeof(GLASS_SQL_TRUNCATED_MARK) - 1;
		size_t cut;

		if (o.cap < mark) { /* no room for the mark: better nothing than a silent cut */
			out[0] = '\0';
			return 0;
		}
		/* out[cut] is the first byte dropped: never leave half a UTF-8 character. */
		cut = o.cap - mark;
		while (cut > 0 && ((unsigned char)out[cut] & 0xc0) == 0x80)
			cut--;
		memcpy(out + cut, GLASS_SQL_TRUNCATED_MARK, mark);
		cut += mark;
		out[cut] = '\0';
		return cut;
	}
	out[o.pos] = '\0';
	return o.pos;
}

/* ---- describe ---- */

static void sql_copy_upper(char *dst, size_t cap, const unsigned char *s, size_t n)
{
	size_t i;

	if (n >= cap)
		n = 0; /* too long to be a keyword */
	for (i = 0; i < n; i++)
		dst[i] = (char)sql_upper(s[i]);
	dst[i] = '\0';
}

static int sql_tok_is(const struct sql_lexer *lx, const struct sql_tok *t, const char *w)
{
	return t->kind == TOK_WORD && sql_word_is(lx->s + t->start, t->len, w);
}

/* Copies a (possibly qualified) name starting at token t into info->table. */
static void sql_take_name(struct sql_lexer *lx, struct sql_tok *t, struct glass_sql_info *info)
{
	size_t start, end;

	if (t->kind != TOK_WORD && t->kind != TOK_QIDENT &&
	    !(t->kind == TOK_OPEN && lx->s[t->start] == '['))
		return;
	start = t->start;
	for (;;) {
		if (t->kind == TOK_OPEN) { /* [bracketed name] (SQL Server) */
			while (lx->i < lx->len && lx->s[lx->i] != ']')
				lx->i++;
			if (lx->i < lx->len)
				lx->i++;
		}
		end = lx->i;
		sql_lex(lx, t);
		if (t->kind != TOK_DOT)
			break;
		sql_lex(lx, t);
		if (t->kind != TOK_WORD && t->kind != TOK_QIDENT &&
		    !(t->kind == TOK_OPEN && lx->s[t->start] == '['))
			break;
	}
	if (end - start >= GLASS_SQL_TABLE_MAX)
		end = start + GLASS_SQL_TABLE_MAX - 1;
	memcpy(info->table, lx->s + start, end - start);
	info->table[end - start] = '\0';
}

/* Skips any of the given words; leaves t at the first other token. */
static void sql_skip_words(struct sql_lexer *lx, struct sql_tok *t, const char *const *w,
			   size_t count)
{
	while (t->kind == TOK_WORD && sql_word_in(lx->s + t->start, t->len, w, count))
		sql_lex(lx, t);
}

#define SQL_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Finds word w at the current nesting level (before any ';'), then takes the name after it. */
static void sql_name_after(struct sql_lexer *lx, struct sql_tok *t, const char *w,
			   const char *const *skip, size_t nskip, struct glass_sql_info *info)
{
	size_t depth = 0;

	for (sql_lex(lx, t); t->kind != TOK_END && t->kind != TOK_SEMI; sql_lex(lx, t)) {
		if (t->kind == TOK_OPEN) {
			depth++;
		} else if (t->kind == TOK_CLOSE) {
			if (!depth)
				return;
			depth--;
		} else if (!depth && sql_tok_is(lx, t, w)) {
			sql_lex(lx, t);
			sql_skip_words(lx, t, skip, nskip);
			sql_take_name(lx, t, info);
			return;
		}
	}
}

void glass_sql_describe(const char *sql, size_t len, unsigned flags, struct glass_sql_info *info)
{
	static const char *const only[] = {"ONLY", "LATERAL"};
	static const char *const update_mods[] = {"ONLY",    "OR",   "ROLLBACK", "ABORT",
						  "REPLACE", "FAIL", "IGNORE",	 "LOW_PRIORITY"};
	static const char *const table_mods[] = {"IF", "NOT", "EXISTS", "ONLY"};
	static const char *const create_mods[] = {"OR",	      "REPLACE", "TEMP",  "TEMPORARY",
						  "UNLOGGED", "GLOBAL",	 "LOCAL", "VIRTUAL"};
	static const char *const verbs[] = {"SELECT", "INSERT",	 "UPDATE", "DELETE",
					    "MERGE",  "REPLACE", "VALUES"};
	struct sql_lexer lx = {(const unsigned char *)sql, sql ? len : 0, 0, flags};
	struct sql_tok t;

	info->operation[0] = '\0';
	info->table[0] = '\0';
	do
		sql_lex(&lx, &t);
	while (t.kind == TOK_OPEN);
	if (t.kind != TOK_WORD)
		return;
	sql_copy_upper(info->operation, sizeof(info->operation), lx.s + t.start, t.len);

	if (sql_tok_is(&lx, &t, "WITH")) {
		/* The main verb is the first one outside the CTEs' parentheses. */
		size_t depth = 0;

		for (sql_lex(&lx, &t); t.kind != TOK_END && t.kind != TOK_SEMI; sql_lex(&lx, &t)) {
			if (t.kind == TOK_OPEN)
				depth++;
			else if (t.kind == TOK_CLOSE && depth)
				depth--;
			else if (!depth && t.kind == TOK_WORD &&
				 sql_word_in(lx.s + t.start, t.len, verbs, SQL_COUNT(verbs)))
				break;
		}
		if (t.kind != TOK_WORD)
			return;
		sql_copy_upper(info->operation, sizeof(info->operation), lx.s + t.start, t.len);
	}

	if (sql_tok_is(&lx, &t, "SELECT") || sql_tok_is(&lx, &t, "DELETE")) {
		sql_name_after(&lx, &t, "FROM", only, SQL_COUNT(only), info);
	} else if (sql_tok_is(&lx, &t, "INSERT") || sql_tok_is(&lx, &t, "REPLACE") ||
		   sql_tok_is(&lx, &t, "MERGE")) {
		sql_name_after(&lx, &t, "INTO", only, SQL_COUNT(only), info);
	} else if (sql_tok_is(&lx, &t, "UPDATE")) {
		sql_lex(&lx, &t);
		sql_skip_words(&lx, &t, update_mods, SQL_COUNT(update_mods));
		sql_take_name(&lx, &t, info);
	} else if (sql_tok_is(&lx, &t, "CREATE") || sql_tok_is(&lx, &t, "DROP") ||
		   sql_tok_is(&lx, &t, "ALTER") || sql_tok_is(&lx, &t, "TRUNCATE")) {
		int truncate = sql_tok_is(&lx, &t, "TRUNCATE");

		sql_lex(&lx, &t);
		sql_skip_words(&lx, &t, create_mods, SQL_COUNT(create_mods));
		if (sql_tok_is(&lx, &t, "TABLE"))
			sql_lex(&lx, &t);
		else if (!truncate)
			return;
		sql_skip_words(&lx, &t, table_mods, SQL_COUNT(table_mods));
		sql_take_name(&lx, &t, info);
	} else if (sql_tok_is(&lx, &t, "COPY")) {
		sql_lex(&lx, &t);
		sql_take_name(&lx, &t, info);
	}
}

/*
 * The texts made for the last statements are kept in a small table shared by all threads,
 * found by a hash of the whole input and checked against a copy of it. The table takes no lock:
 * each entry has a sequence number, odd while a thread writes it. A reader copies an entry and
 * keeps the copy only if the number was even and unchanged throughout; a writer that finds the
 * entry busy leaves it. So no thread ever waits, and a torn read is thrown away.
 */
#define SQL_CACHE_SLOTS 32
#define SQL_CACHE_TEXT	1024 /* longer statements are made each time */

struct sql_cache_entry {
	uint32_t seq;
	uint32_t in_len, out_len, flags, mode;
	size_t cap;
	uint64_t hash;
	struct glass_sql_info info;
	char in[SQL_CACHE_TEXT];
	char out[SQL_CACHE_TEXT + 4];
};

static struct sql_cache_entry sql_cache[SQL_CACHE_SLOTS];

static uint64_t cache_hash(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	for (; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

size_t glass_sql_cached(const char *sql, size_t len, unsigned flags, uint32_t mode, char *out,
			size_t cap, struct glass_sql_info *info, glass_sql_make_fn make, void *arg)
{
	if (len > SQL_CACHE_TEXT || cap == 0)
		return make(sql, len, flags, out, cap, info, arg);
	uint64_t h = cache_hash(sql, len);
	struct sql_cache_entry *e = &sql_cache[h % SQL_CACHE_SLOTS];
	uint32_t seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
	if (!(seq & 1) && e->hash == h && e->in_len == len && e->flags == flags &&
	    e->mode == mode && e->cap == cap && memcmp(e->in, sql, len) == 0) {
		size_t n = e->out_len;
		if (n < cap && n < sizeof(e->out)) { /* else torn */
			memcpy(out, e->out, n + 1);
			if (info)
				*info = e->info;
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) == seq)
				return n;
		}
	}
	struct glass_sql_info own;
	struct glass_sql_info *inf = info ? info : &own;
	size_t n = make(sql, len, flags, out, cap, inf, arg);
	seq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
	if (n + 1 > sizeof(e->out) || (seq & 1) ||
	    !__atomic_compare_exchange_n(&e->seq, &seq, seq + 1, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return n;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e->hash = h;
	e->in_len = (uint32_t)len;
	e->flags = flags;
	e->mode = mode;
	e->cap = cap;
	e->out_len = (uint32_t)n;
	e->info = *inf;
	memcpy(e->in, sql, len);
	memcpy(e->out, out, n + 1);
	__atomic_store_n(&e->seq, seq + 2, __ATOMIC_RELEASE);
	return n;
}
