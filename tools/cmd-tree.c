/* tools/cmd-tree.c — `glass-report tree`: span trees in the terminal, one per root or request. */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "readahead.h"
#include "report.h"
#include "spans.h"
#include "text.h"

#define NIL		  UINT32_MAX
#define DEFAULT_MAX_SPANS 100000 /* spans kept for the trees being built */
#define LABEL_COLS_MAX	  72	 /* widest label column (prefix included) */
#define NOTE_COLS	  120	 /* error messages and statements are cut there */

/* A completed span waiting for its tree to be printed. */
struct tspan {
	uint64_t id, parent;
	uint64_t trace_hi, trace_lo;
	uint64_t start_ns, dur_ns, self_ns;
	uint64_t hidden_ns; /* summed duration of direct children left out (tree too big) */
	uint64_t hidden_n;  /* spans left out below it */
	const struct glass_code_def *code;
	char *name;	      /* captured operations: their name (malloc) */
	char *detail;	      /* a DB statement (malloc) */
	char *err;	      /* "Type: message" (malloc) */
	uint32_t first, next; /* children (newest first), next sibling */
	uint32_t depth, code_id, resumes;
	uint64_t remote; /* a request's caller in another recording (traceparent), else 0 */
	int32_t http_status; /* -1: none */
	uint8_t kind, status, gen, used;
	uint8_t waiting; /* ended, children still open: owned by its topen */
};

/*
 * A span whose subtree is not complete: still open, or ended while some of its children are
 * still open (an HTTP request answered before its handler returns, a generator outliving its
 * creator's return). A subtree is complete when its span has ended and all its children's
 * subtrees are; then it joins its parent, or is printed when it has none.
 */
struct topen {
	uint64_t id;
	uint64_t hidden_n, hidden_ns;
	uint32_t first;	  /* completed children */
	uint32_t pending; /* itself while open, plus children not complete */
	uint32_t kept;	  /* once ended: its data (a tspan marked waiting) */
	uint32_t next_free;
};

struct tree {
	FILE *out;
	int color;
	/* filters */
	uint64_t slow_ns;
	int errors_only, has_trace;
	uint64_t trace_hi, trace_lo; /* trace_hi 0 with has_trace: match the span part only */
	size_t limit, printed;
	unsigned max_depth;
	uint64_t min_ns;
	size_t max_spans;
	int done;
	/* the thread */
	struct tspan *sp;
	size_t nsp, cap, live;
	uint32_t free_sp;
	struct topen *op;
	size_t nop, opcap;
	uint32_t free_op;
	uint32_t *omap; /* span id -> open slot + 1 (linear probing) */
	size_t omask, ocount;
	uint32_t cutoff; /* spans deeper are counted, not kept (UINT32_MAX: none) */
	int cut_used;	 /* the tree being built lost levels to the limit */
	/* scratch work list */
	uint32_t *kids;
	size_t nkids, kcap;
	const struct glass_span *cur; /* the span being handled (its thread, for headers) */
	int oom;
	/* several sessions: the trees of the later ones, rendered first, each printed under the
	 * span that called it (its root's remote parent), else after the others */
	int collect;
	struct attached {
		uint64_t remote;
		char *text;
		size_t len;
		int used;
	} *att;
	size_t natt, attcap;
};

/* ---- open spans -------------------------------------------------------------------------- */

static size_t omap_hash(const struct tree *T, uint64_t id)
{
	id ^= id >> 31;
	id *= 0x9e3779b97f4a7c15ull;
	return (size_t)(id ^ id >> 29) & T->omask;
}

static int omap_grow(struct tree *T)
{
	size_t size = T->omap ? (T->omask + 1) * 2 : 1024;
	uint32_t *m = calloc(size, sizeof(*m));
	if (!m)
		return -1;
	uint32_t *old = T->omap;
	size_t oldn = old ? T->omask + 1 : 0;
	T->omap = m;
	T->omask = size - 1;
	for (size_t i = 0; i < oldn; i++)
		if (old[i]) {
			size_t j = omap_hash(T, T->op[old[i] - 1].id);
			while (m[j])
				j = (j + 1) & T->omask;
			m[j] = old[i];
		}
	free(old);
	return 0;
}

static size_t omap_find(const struct tree *T, uint64_t id)
{
	if (!T->omap)
		return SIZE_MAX;
	for (size_t i = omap_hash(T, id); T->omap[i]; i = (i + 1) & T->omask)
		if (T->op[T->omap[i] - 1].id == id)
			return i;
	return SIZE_MAX;
}

static struct topen *open_get(struct tree *T, uint64_t id)
{
	size_t i = id ? omap_find(T, id) : SIZE_MAX;
	return i == SIZE_MAX ? NULL : &T->op[T->omap[i] - 1];
}

static void open_add(struct tree *T, uint64_t id)
{
	if ((T->ocount + 1) * 2 > (T->omap ? T->omask + 1 : 0) && omap_grow(T) < 0) {
		T->oom = 1;
		return;
	}
	uint32_t s;
	if (T->free_op != NIL) {
		s = T->free_op;
		T->free_op = T->op[s].next_free;
	} else {
		if (T->nop == T->opcap) {
			size_t cap = T->opcap ? T->opcap * 2 : 256;
			struct topen *p = realloc(T->op, cap * sizeof(*p));
			if (!p) {
				T->oom = 1;
				return;
			}
			T->op = p;
			T->opcap = cap;
		}
		s = (uint32_t)T->nop++;
	}
	T->op[s] =
	    (struct topen){.id = id, .first = NIL, .pending = 1, .kept = NIL, .next_free = NIL};
	size_t i = omap_hash(T, id);
	while (T->omap[i])
		i = (i + 1) & T->omask;
	T->omap[i] = s + 1;
	T->ocount++;
}

/* Takes an open span out (its data copied to *o); 0 if it was not open. */
static int open_take(struct tree *T, uint64_t id, struct topen *o)
{
	size_t i = omap_find(T, id);
	if (i == SIZE_MAX)
		return 0;
	uint32_t s = T->omap[i] - 1;
	*o = T->op[s];
	T->op[s].first = NIL; /* (compact() walks every slot) */
	T->op[s].next_free = T->free_op;
	T->free_op = s;
	T->ocount--;
	/* backward-shift deletion */
	size_t j = i;
	for (;;) {
		j = (j + 1) & T->omask;
		if (!T->omap[j])
			break;
		size_t home = omap_hash(T, T->op[T->omap[j] - 1].id);
		if (((j - home) & T->omask) >= ((j - i) & T->omask)) {
			T->omap[i] = T->omap[j];
			i = j;
		}
	}
	T->omap[i] = 0;
	return 1;
}

/* ---- kept spans -------------------------------------------------------------------------- */

static void span_free(struct tree *T, uint32_t i)
{
	struct tspan *s = &T->sp[i];
	free(s->name);
	free(s->detail);
	free(s->err);
	s->name = s->detail = s->err = NULL;
	s->used = 0;
	s->next = T->free_sp;
	T->free_sp = i;
	T->live--;
}

/* Frees a span and everything below it. */
static void subtree_free(struct tree *T, uint32_t root)
{
	uint32_t stack_top = root;
	/* reuse `next` as the work list: children are appended as they are met */
	T->sp[root].next = NIL;
	while (stack_top != NIL) {
		uint32_t i = stack_top;
		stack_top = T->sp[i].next;
		for (uint32_t c = T->sp[i].first, nx; c != NIL; c = nx) {
			nx = T->sp[c].next;
			T->sp[c].next = stack_top;
			stack_top = c;
		}
		span_free(T, i);
	}
}

static char *dup_str(struct tree *T, const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s) {
		T->oom = 1;
		return NULL;
	}
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

static uint32_t span_keep(struct tree *T, const struct glass_span *sp, const struct topen *o)
{
	uint32_t i;
	if (T->free_sp != NIL) {
		i = T->free_sp;
		T->free_sp = T->sp[i].next;
	} else {
		if (T->nsp == T->cap) {
			size_t cap = T->cap ? T->cap * 2 : 1024;
			struct tspan *p = realloc(T->sp, cap * sizeof(*p));
			if (!p) {
				T->oom = 1;
				return NIL;
			}
			T->sp = p;
			T->cap = cap;
		}
		i = (uint32_t)T->nsp++;
	}
	T->live++;
	struct tspan *s = &T->sp[i];
	memset(s, 0, sizeof(*s));
	s->id = sp->span_id;
	s->parent = sp->parent_id;
	s->trace_hi = sp->trace_hi;
	s->trace_lo = sp->trace_lo;
	s->start_ns = sp->start_ns;
	s->dur_ns = sp->dur_ns;
	s->self_ns = sp->self_ns;
	s->code = sp->code;
	s->code_id = sp->code_id;
	s->depth = sp->depth;
	s->resumes = sp->resumes;
	s->remote = sp->remote_parent_id;
	s->kind = (uint8_t)sp->kind;
	s->status = (uint8_t)sp->status;
	s->gen = (uint8_t)sp->gen;
	s->used = 1;
	s->http_status = -1;
	s->first = o ? o->first : NIL;
	s->next = NIL;
	s->hidden_n = o ? o->hidden_n : 0;
	s->hidden_ns = o ? o->hidden_ns : 0;
	if (sp->kind != GLASS_KIND_PYTHON) {
		s->name =
		    dup_str(T, sp->name.p ? sp->name.p : glass_span_kind_name(sp->kind),
			    sp->name.p ? sp->name.len : strlen(glass_span_kind_name(sp->kind)));
		const struct glass_attr *a = glass_span_attr(sp, "db.statement");
		if (a && a->type == GLASS_ATTR_STR && a->s.p && a->s.len &&
		    !(a->s.len == sp->name.len && !memcmp(a->s.p, sp->name.p, a->s.len)))
			s->detail = dup_str(T, a->s.p, a->s.len > 4096 ? 4096 : a->s.len);
		a = glass_span_attr(sp, "http.response.status_code");
		if (a && a->type == GLASS_ATTR_INT && a->i >= 0 && a->i < 1000)
			s->http_status = (int32_t)a->i;
	}
	if (sp->status == GLASS_SPAN_ERROR && (sp->err_type.p || sp->err_msg.p)) {
		struct glass_buf e = {0};
		if (sp->err_type.p)
			glass_buf_put(&e, sp->err_type.p, sp->err_type.len);
		if (sp->err_type.p && sp->err_msg.p && sp->err_msg.len)
			glass_buf_put(&e, ": ", 2);
		if (sp->err_msg.p)
			glass_buf_put(&e, sp->err_msg.p, sp->err_msg.len);
		s->err = e.oom ? NULL : dup_str(T, e.p ? e.p : "", e.len);
		glass_buf_free(&e);
	}
	return i;
}

/* ---- printing ---------------------------------------------------------------------------- */

#define C_RED	 "\033[31m"
#define C_YELLOW "\033[33m"
#define C_DIM	 "\033[2m"
#define C_BOLD	 "\033[1m"
#define C_OFF	 "\033[0m"

static void color(struct tree *T, const char *c)
{
	if (T->color)
		fputs(c, T->out);
}

static const char *span_label(const struct tspan *s, char *buf, size_t cap)
{
	struct glass_span g;
	memset(&g, 0, sizeof(g));
	g.kind = (enum glass_span_kind)s->kind;
	g.code = s->code;
	g.code_id = s->code_id;
	if (s->name) {
		g.name.p = s->name;
		g.name.len = (uint32_t)strlen(s->name);
	}
	return glass_span_label(&g, buf, cap);
}

/* One printed line: a span, or the "… N more" line closing a span's children. */
struct line {
	uint32_t span; /* the span, or for a fold line the span whose children were folded */
	uint32_t depth;
	size_t prefix; /* offset of its prefix in T->prefix-built text */
	uint32_t plen;
	uint8_t fold;
	uint8_t has_kids; /* a span line with children printed below it */
	uint64_t fold_n, fold_ns;
};

struct lines {
	struct line *v;
	size_t n, cap;
	struct glass_buf text; /* prefixes */
};

static int lines_add(struct lines *L, struct line l, const char *prefix, size_t plen)
{
	if (L->n == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 256;
		struct line *v = realloc(L->v, cap * sizeof(*v));
		if (!v)
			return -1;
		L->v = v;
		L->cap = cap;
	}
	l.prefix = L->text.len;
	l.plen = (uint32_t)plen;
	glass_buf_put(&L->text, prefix, plen);
	L->v[L->n++] = l;
	return L->text.oom ? -1 : 0;
}

static int by_start(const void *a, const void *b, void *ctx)
{
	const struct tree *T = ctx;
	const struct tspan *x = &T->sp[*(const uint32_t *)a], *y = &T->sp[*(const uint32_t *)b];
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int kids_push(struct tree *T, uint32_t v)
{
	if (T->nkids == T->kcap) {
		size_t cap = T->kcap ? T->kcap * 2 : 1024;
		uint32_t *k = realloc(T->kids, cap * sizeof(*k));
		if (!k) {
			T->oom = 1;
			return -1;
		}
		T->kids = k;
		T->kcap = cap;
	}
	T->kids[T->nkids++] = v;
	return 0;
}

/* Spans below i, kept or counted only; *error set when a kept one below ended in error. */
static uint64_t subtree_count(struct tree *T, uint32_t i, int *error)
{
	size_t base = T->nkids;
	uint64_t n = T->sp[i].hidden_n;
	for (uint32_t c = T->sp[i].first; c != NIL; c = T->sp[c].next)
		if (kids_push(T, c) < 0)
			break;
	while (T->nkids > base) {
		uint32_t c = T->kids[--T->nkids];
		n += 1 + T->sp[c].hidden_n;
		if (T->sp[c].status == GLASS_SPAN_ERROR)
			*error = 1;
		for (uint32_t d = T->sp[c].first; d != NIL; d = T->sp[d].next)
			if (kids_push(T, d) < 0)
				break;
	}
	T->nkids = base;
	return n;
}

/* A span whose children are being laid out. */
struct level {
	uint32_t span;
	uint32_t *kids; /* the children shown, in start order */
	size_t nkids, pos;
	size_t plen; /* bytes of the prefix of its children's lines */
	uint64_t fold_n, fold_ns;
};

/* Prepares the children of span s for display: shown ones in start order; tiny ones
 * (--min-ms, unless an error is below them), those past --depth and those counted only go
 * into fold_n/fold_ns. */
static int level_init(struct tree *T, struct level *lv, uint32_t s, size_t plen, unsigned depth)
{
	memset(lv, 0, sizeof(*lv));
	lv->span = s;
	lv->plen = plen;
	lv->fold_n = T->sp[s].hidden_n;
	lv->fold_ns = T->sp[s].hidden_ns;
	size_t k = 0;
	for (uint32_t c = T->sp[s].first; c != NIL; c = T->sp[c].next)
		k++;
	if (!k)
		return 0;
	if (T->max_depth && depth >= T->max_depth) {
		int err = 0;
		lv->fold_n = subtree_count(T, s, &err);
		for (uint32_t c = T->sp[s].first; c != NIL; c = T->sp[c].next)
			lv->fold_ns += T->sp[c].dur_ns;
		return 0;
	}
	lv->kids = malloc(k * sizeof(*lv->kids));
	if (!lv->kids)
		return -1;
	for (uint32_t c = T->sp[s].first; c != NIL; c = T->sp[c].next) {
		int err = T->sp[c].status == GLASS_SPAN_ERROR;
		if (T->min_ns && T->sp[c].dur_ns < T->min_ns) {
			uint64_t below = subtree_count(T, c, &err);
			if (!err) {
				lv->fold_n += 1 + below;
				lv->fold_ns += T->sp[c].dur_ns;
				continue;
			}
		}
		lv->kids[lv->nkids++] = c;
	}
	qsort_r(lv->kids, lv->nkids, sizeof(*lv->kids), by_start, T);
	return 0;
}

/* Lays out the lines of the tree under root (depth-first, children in start order). */
static int build_lines(struct tree *T, uint32_t root, struct lines *L)
{
	struct glass_buf pre = {0};
	struct level *st = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	if (lines_add(L, (struct line){.span = root}, "", 0) < 0)
		return -1;
	cap = 64;
	st = malloc(cap * sizeof(*st));
	if (!st || level_init(T, &st[0], root, 0, 0) < 0) {
		free(st);
		return -1;
	}
	n = 1;
	L->v[0].has_kids = st[0].nkids || st[0].fold_n;
	while (n) {
		struct level *lv = &st[n - 1];
		if (lv->pos == lv->nkids) {
			if (lv->fold_n) {
				pre.len = lv->plen;
				glass_buf_puts(&pre, "└─ ");
				struct line l = {.span = lv->span,
						 .depth = (uint32_t)n,
						 .fold = 1,
						 .fold_n = lv->fold_n,
						 .fold_ns = lv->fold_ns};
				if (lines_add(L, l, pre.p, pre.len) < 0) {
					rc = -1;
					break;
				}
			}
			free(lv->kids);
			n--;
			continue;
		}
		uint32_t c = lv->kids[lv->pos++];
		int last = lv->pos == lv->nkids && !lv->fold_n;
		size_t plen = lv->plen;
		pre.len = plen;
		glass_buf_puts(&pre, last ? "└─ " : "├─ ");
		size_t here = L->n;
		if (lines_add(L, (struct line){.span = c, .depth = (uint32_t)n}, pre.p, pre.len) <
		    0) {
			rc = -1;
			break;
		}
		pre.len = plen;
		glass_buf_puts(&pre, last ? "   " : "│  ");
		if (pre.oom) {
			rc = -1;
			break;
		}
		if (n == cap) {
			cap *= 2;
			struct level *ns = realloc(st, cap * sizeof(*ns));
			if (!ns) {
				rc = -1;
				break;
			}
			st = ns;
		}
		if (level_init(T, &st[n], c, pre.len, (unsigned)n) < 0) {
			rc = -1;
			break;
		}
		L->v[here].has_kids = st[n].nkids || st[n].fold_n;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		free(st[i].kids);
	free(st);
	glass_buf_free(&pre);
	return rc;
}

/* Text from the recording, safe for the terminal, cut to `cols` (keeping the end if left). */
static void put_term(struct tree *T, const char *s, size_t len, size_t cols, int left)
{
	char buf[NOTE_COLS * 4 + LABEL_COLS_MAX * 4 + 16];
	if (cols > NOTE_COLS + LABEL_COLS_MAX)
		cols = NOTE_COLS + LABEL_COLS_MAX;
	glass_term_text(buf, sizeof(buf), s, len, cols, left);
	fputs(buf, T->out);
}

static void put_dur(struct tree *T, uint64_t ns, int hl)
{
	char d[32];
	glass_fmt_dur(d, sizeof(d), ns);
	if (hl)
		color(T, C_YELLOW C_BOLD);
	glass_put_padded(T->out, d, 10, 1);
	if (hl)
		color(T, C_OFF);
}

/* The trees of other recordings whose requests this span made, indented below it. */
static void print_attached(struct tree *T, const struct lines *L, const struct line *l,
			   uint64_t id)
{
	for (size_t k = 0; k < T->natt; k++) {
		struct attached *a = &T->att[k];
		if (a->used || !a->remote || a->remote != id)
			continue;
		a->used = 1;
		/* the span's prefix, its own branch turned into the line going on below it */
		char pre[4096];
		size_t pl = l->plen < sizeof(pre) - 16 ? l->plen : sizeof(pre) - 16;
		memcpy(pre, L->text.p + l->prefix, pl);
		size_t b = strlen("├─ ");
		if (pl >= b && !memcmp(pre + pl - b, "├─ ", b)) {
			pl -= b;
			memcpy(pre + pl, "│  ", strlen("│  "));
			pl += strlen("│  ");
		} else if (pl >= b && !memcmp(pre + pl - b, "└─ ", b)) {
			pl -= b;
			memcpy(pre + pl, "   ", 3);
			pl += 3;
		}
		memcpy(pre + pl, "┆  ", strlen("┆  "));
		pl += strlen("┆  ");
		const char *p = a->text, *end = a->text + a->len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (n) {
				fwrite(pre, 1, pl, T->out);
				fwrite(p, 1, n, T->out);
			}
			fputc('\n', T->out);
			p += n + 1;
		}
	}
}

static void print_span_line(struct tree *T, const struct lines *L, const struct line *l,
			    size_t width)
{
	const struct tspan *s = &T->sp[l->span];
	char label[1100];
	span_label(s, label, sizeof(label));
	int err = s->status == GLASS_SPAN_ERROR;
	size_t pw = (size_t)l->depth * 3;
	fwrite(L->text.p + l->prefix, 1, l->plen, T->out);
	size_t room = width > pw ? width - pw : 8;
	char text[LABEL_COLS_MAX * 4 + 16];
	size_t w = glass_term_text(text, sizeof(text), label, strlen(label),
				   room > LABEL_COLS_MAX ? LABEL_COLS_MAX : room,
				   s->kind == GLASS_KIND_PYTHON);
	if (err)
		color(T, C_RED);
	fputs(text, T->out);
	if (err)
		color(T, C_OFF);
	for (size_t i = pw + w; i < width; i++)
		fputc(' ', T->out);
	put_dur(T, s->dur_ns, T->slow_ns && s->dur_ns >= T->slow_ns);
	put_dur(T, s->self_ns, 0);
	if (err) {
		color(T, C_RED);
		char code[16];
		snprintf(code, sizeof(code), "%d", s->http_status);
		fputs("  error", T->out);
		if (s->err && !(s->http_status >= 0 && !strcmp(s->err, code))) {
			fputc(' ', T->out);
			put_term(T, s->err, strlen(s->err), NOTE_COLS, 0);
		}
		color(T, C_OFF);
	} else if (s->status == GLASS_SPAN_LOST || s->status == GLASS_SPAN_UNFINISHED) {
		color(T, C_YELLOW);
		fprintf(T->out, "  %s", glass_span_status_name(s->status));
		color(T, C_OFF);
	}
	if (s->http_status >= 0) {
		int bad = s->http_status >= 500;
		if (bad)
			color(T, C_RED);
		fprintf(T->out, "  status %d", s->http_status);
		if (bad)
			color(T, C_OFF);
	}
	if (s->gen != GLASS_GEN_NONE) {
		color(T, C_DIM);
		fprintf(T->out, "  %s, %u run%s", glass_gen_kind_name(s->gen), s->resumes,
			s->resumes == 1 ? "" : "s");
		color(T, C_OFF);
	}
	fputc('\n', T->out);
	if (s->detail) {
		/* the statement under its operation, aligned with its children */
		const char *p = L->text.p + l->prefix;
		size_t plen = l->plen;
		if (plen >= strlen("├─ ")) {
			fwrite(p, 1, plen - strlen("├─ "), T->out);
			int more = !memcmp(p + plen - strlen("├─ "), "├─ ", strlen("├─ "));
			fputs(more ? "│  " : "   ", T->out);
		}
		fputs(l->has_kids ? "│   " : "    ", T->out);
		color(T, C_DIM);
		put_term(T, s->detail, strlen(s->detail), NOTE_COLS, 0);
		color(T, C_OFF);
		fputc('\n', T->out);
	}
	if (T->natt)
		print_attached(T, L, l, s->id);
}

static void print_fold_line(struct tree *T, const struct lines *L, const struct line *l)
{
	char d[32], cnt[32];
	fwrite(L->text.p + l->prefix, 1, l->plen, T->out);
	glass_fmt_dur(d, sizeof(d), l->fold_ns);
	glass_fmt_count(cnt, sizeof(cnt), l->fold_n);
	color(T, C_DIM);
	fprintf(T->out, "… %s more (%s)", cnt, d);
	color(T, C_OFF);
	fputc('\n', T->out);
}

static void emit_tree(struct tree *T, uint32_t root, const struct glass_span *sp)
{
	const struct tspan *r = &T->sp[root];
	if (T->has_trace &&
	    !(r->trace_lo == T->trace_lo && (!T->trace_hi || r->trace_hi == T->trace_hi)))
		return;
	if (T->slow_ns && r->dur_ns < T->slow_ns)
		return;
	int err = r->status == GLASS_SPAN_ERROR;
	uint64_t below = subtree_count(T, root, &err);
	if (T->errors_only && !err)
		return;
	struct lines L = {0};
	if (build_lines(T, root, &L) < 0) {
		T->oom = 1;
		free(L.v);
		glass_buf_free(&L.text);
		return;
	}
	size_t width = 20;
	for (size_t i = 0; i < L.n; i++) {
		if (L.v[i].fold)
			continue;
		char label[1100];
		span_label(&T->sp[L.v[i].span], label, sizeof(label));
		size_t w = L.v[i].depth * 3 + glass_text_width(label);
		if (w > width)
			width = w;
	}
	if (width > LABEL_COLS_MAX)
		width = LABEL_COLS_MAX;
	width += 2;

	char when[64], cnt[32];
	glass_fmt_time(when, sizeof(when), r->start_ns, 1, 0);
	glass_fmt_count(cnt, sizeof(cnt), below + 1);
	FILE *real_out = T->out;
	char *mem = NULL;
	size_t memlen = 0;
	if (T->collect) { /* a later session's tree: kept to go under its caller */
		FILE *m = open_memstream(&mem, &memlen);
		if (!m) {
			T->oom = 1;
			free(L.v);
			glass_buf_free(&L.text);
			return;
		}
		T->out = m;
	} else if (T->printed)
		fputc('\n', T->out);
	color(T, C_BOLD);
	fprintf(T->out, "trace %016llx%016llx", (unsigned long long)r->trace_hi,
		(unsigned long long)r->trace_lo);
	color(T, C_OFF);
	fprintf(T->out, " · pid %u · tid %u", sp->pid, sp->tid);
	if (sp->thread) {
		fputs(" (", T->out);
		put_term(T, sp->thread, strlen(sp->thread), 40, 0);
		fputc(')', T->out);
	}
	fprintf(T->out, " · %s · %s span%s", when, cnt, below ? "s" : "");
	if (r->parent)
		fprintf(T->out, " · under span %016llx, which ended first",
			(unsigned long long)r->parent);
	fputc('\n', T->out);
	color(T, C_DIM);
	for (size_t i = 0; i < width; i++)
		fputc(' ', T->out);
	fputs("  duration      self", T->out);
	color(T, C_OFF);
	fputc('\n', T->out);
	for (size_t i = 0; i < L.n; i++) {
		if (L.v[i].fold)
			print_fold_line(T, &L, &L.v[i]);
		else
			print_span_line(T, &L, &L.v[i], width);
	}
	if (T->cut_used) {
		color(T, C_DIM);
		fprintf(T->out,
			"(over %zu spans waiting at once: those deeper than level %u were counted "
			"in \"… more\" lines, not kept; --max-spans raises the limit)\n",
			T->max_spans, T->cutoff > r->depth ? T->cutoff - r->depth : 0);
		color(T, C_OFF);
	}
	free(L.v);
	glass_buf_free(&L.text);
	if (T->collect) {
		fclose(T->out);
		T->out = real_out;
		if (T->natt == T->attcap) {
			size_t cap = T->attcap ? T->attcap * 2 : 16;
			struct attached *v = realloc(T->att, cap * sizeof(*v));
			if (!v) {
				T->oom = 1;
				free(mem);
				return;
			}
			T->att = v;
			T->attcap = cap;
		}
		T->att[T->natt++] = (struct attached){r->remote, mem, memlen, 0};
		return;
	}
	T->printed++;
	if (T->limit && T->printed >= T->limit)
		T->done = 1;
}

/* ---- bounded memory ---------------------------------------------------------------------- */

static int by_depth_desc(const void *a, const void *b, void *ctx)
{
	const struct tree *T = ctx;
	uint32_t x = T->sp[*(const uint32_t *)a].depth, y = T->sp[*(const uint32_t *)b].depth;
	return (x < y) - (x > y);
}

/* Unlinks removed (unused) spans from a child list. */
static uint32_t filter_list(struct tree *T, uint32_t first, const uint8_t *gone)
{
	uint32_t head = NIL, *tail = &head;
	for (uint32_t c = first, nx; c != NIL; c = nx) {
		nx = T->sp[c].next;
		if (gone[c])
			continue;
		*tail = c;
		tail = &T->sp[c].next;
	}
	*tail = NIL;
	return head;
}

/* The deepest level at which the kept spans (not waiting) fill at most half of --max-spans. */
static uint32_t cut_depth(struct tree *T, uint64_t *hist, uint32_t maxd)
{
	for (size_t i = 0; i < T->nsp; i++)
		if (T->sp[i].used && !T->sp[i].waiting)
			hist[T->sp[i].depth]++;
	uint64_t keep = 0;
	uint32_t cut = 0;
	for (uint32_t d = 0; d <= maxd; d++) {
		if (keep + hist[d] > T->max_spans / 2)
			break;
		keep += hist[d];
		cut = d;
	}
	return cut;
}

static size_t id_slot(uint64_t id, size_t imask)
{
	return (size_t)(id * 0x9e3779b97f4a7c15ull >> 17) & imask;
}

/* A removed span (and what it held hidden) counted into its kept or still open parent. */
static void fold_span(struct tree *T, const struct tspan *s, const uint32_t *idx, size_t imask)
{
	uint64_t n = 1 + s->hidden_n;
	struct tspan *p = NULL;
	for (size_t h = id_slot(s->parent, imask); idx[h]; h = (h + 1) & imask)
		if (T->sp[idx[h] - 1].id == s->parent) {
			p = &T->sp[idx[h] - 1];
			break;
		}
	if (p) {
		p->hidden_n += n;
		p->hidden_ns += s->dur_ns;
		return;
	}
	struct topen *o = open_get(T, s->parent);
	if (o) {
		o->hidden_n += n;
		o->hidden_ns += s->dur_ns;
	}
}

/* Removes the spans of order (deepest first) from the child lists and frees them. */
static void remove_spans(struct tree *T, const uint32_t *order, size_t nord, uint8_t *gone)
{
	for (size_t k = 0; k < nord; k++)
		gone[order[k]] = 1;
	for (size_t i = 0; i < T->nsp; i++)
		if (T->sp[i].used && !gone[i])
			T->sp[i].first = filter_list(T, T->sp[i].first, gone);
	for (size_t i = 0; i < T->nop; i++)
		if (T->op[i].first != NIL)
			T->op[i].first = filter_list(T, T->op[i].first, gone);
	for (size_t k = 0; k < nord; k++)
		span_free(T, order[k]);
}

/*
 * Too many spans kept: the deepest levels go. Spans deeper than the new cutoff are counted
 * into their nearest kept (or still open) ancestor, and later ones that deep are counted as
 * they end, until no span is kept any more.
 */
static void compact(struct tree *T)
{
	uint32_t maxd = 0;
	for (size_t i = 0; i < T->nsp; i++)
		if (T->sp[i].used && T->sp[i].depth > maxd)
			maxd = T->sp[i].depth;
	uint64_t *hist = calloc((size_t)maxd + 1, sizeof(*hist));
	uint8_t *gone = calloc(T->nsp ? T->nsp : 1, 1);
	uint32_t *order = malloc((T->nsp ? T->nsp : 1) * sizeof(*order));
	uint32_t *idx = NULL;
	size_t imask = 0;
	if (!hist || !gone || !order)
		goto out;
	uint32_t cut = cut_depth(T, hist, maxd);
	/* spans by id, to find a kept parent */
	for (imask = 1; imask < T->live * 2; imask <<= 1)
		;
	idx = calloc(imask, sizeof(*idx));
	if (!idx)
		goto out;
	imask--;
	size_t nord = 0;
	for (size_t i = 0; i < T->nsp; i++) {
		if (!T->sp[i].used)
			continue;
		size_t h = id_slot(T->sp[i].id, imask);
		while (idx[h])
			h = (h + 1) & imask;
		idx[h] = (uint32_t)i + 1;
		if (T->sp[i].depth > cut && !T->sp[i].waiting)
			order[nord++] = (uint32_t)i;
	}
	qsort_r(order, nord, sizeof(*order), by_depth_desc, T);
	for (size_t k = 0; k < nord; k++)
		fold_span(T, &T->sp[order[k]], idx, imask);
	remove_spans(T, order, nord, gone);
	T->cutoff = cut;
	T->cut_used = 1;
out:
	if (!idx) /* could not make room: stop keeping new spans below the roots' children */
		T->cutoff = 1;
	free(hist);
	free(gone);
	free(order);
	free(idx);
}

/* ---- span callbacks ---------------------------------------------------------------------- */

static void on_start(void *ctx, const struct glass_span *sp)
{
	struct tree *T = ctx;
	if (T->done)
		return;
	struct topen *p = open_get(T, sp->parent_id);
	if (p)
		p->pending++;
	open_add(T, sp->span_id);
}

/* Frees the spans of a child list. */
static void list_free(struct tree *T, uint32_t first)
{
	for (uint32_t c = first, nx; c != NIL; c = nx) {
		nx = T->sp[c].next;
		subtree_free(T, c);
	}
}

/* The subtree of e (ended, nothing pending) is complete: it joins its parent, which may then
 * be complete too; with no parent waiting it is a tree of its own and is printed. */
static void complete(struct tree *T, struct topen *e)
{
	for (;;) {
		struct topen o;
		if (!open_take(T, e->id, &o))
			return;
		uint32_t i = o.kept;
		struct tspan *s = &T->sp[i];
		s->first = o.first;
		s->hidden_n += o.hidden_n;
		s->hidden_ns += o.hidden_ns;
		s->waiting = 0;
		struct topen *p = open_get(T, s->parent);
		if (!p) { /* a root, an HTTP request, or a span whose parent ended first */
			emit_tree(T, i, T->cur);
			subtree_free(T, i);
			if (!T->live) {
				T->cutoff = UINT32_MAX;
				T->cut_used = 0;
			}
			return;
		}
		if (s->depth > T->cutoff) {
			int err = 0;
			p->hidden_n += 1 + subtree_count(T, i, &err);
			p->hidden_ns += s->dur_ns;
			subtree_free(T, i);
		} else {
			s->next = p->first;
			p->first = i;
		}
		if (--p->pending || p->kept == NIL)
			return;
		e = p;
	}
}

static void on_end(void *ctx, const struct glass_span *sp)
{
	struct tree *T = ctx;
	if (T->done)
		return;
	T->cur = sp;
	struct topen *e = open_get(T, sp->span_id);
	if (!e) { /* its start was not seen: make it an entry of its own */
		open_add(T, sp->span_id);
		e = open_get(T, sp->span_id);
		struct topen *p = open_get(T, sp->parent_id);
		if (!e)
			return;
		if (p)
			p->pending++;
	}
	uint32_t i = span_keep(T, sp, NULL);
	if (i == NIL) {
		struct topen o;
		open_take(T, sp->span_id, &o);
		list_free(T, o.first);
		struct topen *p = open_get(T, sp->parent_id);
		if (p && !--p->pending && p->kept != NIL)
			complete(T, p);
		return;
	}
	T->sp[i].waiting = 1;
	e = open_get(T, sp->span_id);
	e->kept = i;
	if (!--e->pending)
		complete(T, e);
	if (T->live >= T->max_spans)
		compact(T);
}

/* Everything still kept after a thread ended (nothing, unless records were damaged). */
static void thread_reset(struct tree *T)
{
	for (size_t i = 0; i < T->nsp; i++)
		if (T->sp[i].used)
			span_free(T, (uint32_t)i);
	T->nsp = 0;
	T->live = 0;
	T->free_sp = NIL;
	T->nop = 0;
	T->free_op = NIL;
	T->ocount = 0;
	if (T->omap)
		memset(T->omap, 0, (T->omask + 1) * sizeof(*T->omap));
	T->cutoff = UINT32_MAX;
	T->cut_used = 0;
}

static void run_thread(struct tree *T, struct glass_proc *p, uint32_t tidx,
		       struct glass_span_ids ids, struct glass_progress *pg)
{
	uint64_t chunks = pg ? glass_proc_thread_chunks(p, tidx, NULL) : 0, seen = 0;
	struct glass_readahead *st = glass_readahead_open(p, tidx);
	struct glass_spans *b = st ? glass_spans_new(p, tidx, ids, on_start, on_end, T) : NULL;
	if (b) {
		struct glass_record rec;
		while (!T->done && glass_readahead_next(st, &rec)) {
			if (pg && rec.tag == GLASS_REC_CHUNK_START && seen < chunks) {
				seen++;
				glass_progress_add(pg, 1);
			}
			glass_spans_feed(b, &rec);
		}
		if (!T->done)
			glass_spans_finish(b);
		glass_spans_free(b);
	}
	glass_readahead_close(st);
	glass_progress_add(pg, chunks - seen);
	thread_reset(T);
}

/* ---- the command ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report tree [SESSION...] [--slow MS] [--errors] [--trace ID] [--limit N]\n"
	    "                         [--depth N] [--min-ms MS] [--color auto|always|never]\n"
	    "                         [--max-spans N] [--strict]\n"
	    "\n"
	    "Prints span trees: one per root span, i.e. per HTTP request served (a request roots\n"
	    "its trace) or else per outermost traced call of a thread. Each line is a span with\n"
	    "its duration, self time (duration minus its children) and status: errors with\n"
	    "their exception, generators and coroutines with their runs, HTTP requests with their\n"
	    "status; a database operation shows its statement on the line below. Children are\n"
	    "in start order; a generator or coroutine sits under the function that created it.\n"
	    "Trees come thread by thread, each thread's in the order they end.\n"
	    "\n"
	    "  -s, --slow MS        only trees whose root took at least MS milliseconds; in\n"
	    "                       them, spans that took that long have their duration\n"
	    "                       highlighted\n"
	    "  -e, --errors         only trees with a span that ended in error\n"
	    "  -t, --trace ID       only the tree of this trace: 32 hex digits (as in jsonl),\n"
	    "                       or the 16 of its root span\n"
	    "  -n, --limit N        print at most N trees (default 0: all), then stop reading\n"
	    "  -d, --depth N        show N levels under the root; deeper spans are summarised\n"
	    "  -m, --min-ms MS      fold children shorter than MS into one \"… N more (time)\"\n"
	    "                       line (a child with an error below it is always shown)\n"
	    "      --color WHEN     auto (default: when standard output is a terminal and\n"
	    "                       NO_COLOR is unset), always or never\n"
	    "      --max-spans N    spans kept at once for trees being built (default %u);\n"
	    "                       past that, the deepest levels are counted, not shown\n"
	    "      --strict         exit with status 3 when the session was read with warnings\n"
	    "  -h, --help           this text\n"
	    "\n"
	    "\"… N more (time)\" lines count the spans folded away and the summed duration of\n"
	    "the folded children.\n"
	    "\n%s",
	    DEFAULT_MAX_SPANS, report_exit_help);
}

static int parse_ms(const char *opt, const char *arg, uint64_t *ns)
{
	char *end;
	double v = strtod(arg, &end);
	if (end == arg || *end || v < 0 || v > 1e12) {
		report_error("%s wants milliseconds (a number >= 0), not '%s'", opt, arg);
		return -1;
	}
	*ns = (uint64_t)(v * 1e6);
	return 0;
}

static int parse_hex(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int h = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (h < 0)
			return -1;
		x = x << 4 | (uint64_t)h;
	}
	*v = x;
	return 0;
}

enum { OPT_COLOR = 256, OPT_MAX };

/* The command line beyond the shared options. */
struct tree_cmd {
	struct tree *T;
	int color_mode; /* -1 auto, 0 never, 1 always */
};

static int parse_trace(struct tree *T, const char *arg)
{
	size_t n = strlen(arg);
	if (n == 32 && !parse_hex(arg, 16, &T->trace_hi) &&
	    !parse_hex(arg + 16, 16, &T->trace_lo)) {
		T->has_trace = 1;
	} else if (n == 16 && !parse_hex(arg, 16, &T->trace_lo)) {
		T->has_trace = 1;
		T->trace_hi = 0;
	} else {
		report_error("--trace wants 32 hex digits (or the 16 of a root span), not '%s'",
			     arg);
		return GLASS_EXIT_USAGE;
	}
	return 0;
}

static int parse_color(int *mode, const char *arg)
{
	static const char *const modes[] = {"never", "always", "auto"};
	for (int i = 0; i < 3; i++)
		if (!strcmp(arg, modes[i])) {
			*mode = i == 2 ? -1 : i;
			return 0;
		}
	report_error("--color wants auto, always or never, not '%s'", arg);
	return GLASS_EXIT_USAGE;
}

/* A number option from lo to hi; -1 when it is not one. */
static int parse_range(const char *arg, long lo, long hi, long *v)
{
	char *end;
	*v = strtol(arg, &end, 10);
	return *end || end == arg || *v < lo || *v > hi ? -1 : 0;
}

static int tree_option(void *ctx, int c, const char *arg)
{
	struct tree_cmd *C = ctx;
	struct tree *T = C->T;
	long v;
	switch (c) {
	case 's':
		if (parse_ms("--slow", arg, &T->slow_ns) < 0)
			return GLASS_EXIT_USAGE;
		if (!T->slow_ns)
			T->slow_ns = 1;
		return 0;
	case 'e':
		T->errors_only = 1;
		return 0;
	case 't':
		return parse_trace(T, arg);
	case 'n':
		if (parse_range(arg, 0, LONG_MAX, &v) < 0) {
			report_error("--limit wants a number >= 0, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		T->limit = (size_t)v;
		return 0;
	case 'd':
		if (parse_range(arg, 1, 1000000, &v) < 0) {
			report_error("--depth wants a number >= 1, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		T->max_depth = (unsigned)v;
		return 0;
	case 'm':
		return parse_ms("--min-ms", arg, &T->min_ns) < 0 ? GLASS_EXIT_USAGE : 0;
	case OPT_COLOR:
		return parse_color(&C->color_mode, arg);
	case OPT_MAX:
		if (parse_range(arg, 100, 100000000, &v) < 0) {
			report_error("--max-spans wants a number from 100 to 100000000, not '%s'",
				     arg);
			return GLASS_EXIT_USAGE;
		}
		T->max_spans = (size_t)v;
		return 0;
	}
	return 0;
}

/* --color auto: when standard output is a terminal that takes colours and NO_COLOR is unset. */
static int color_wanted(int mode)
{
	if (mode >= 0)
		return mode;
	const char *term = getenv("TERM");
	const char *no = getenv("NO_COLOR");
	return isatty(STDOUT_FILENO) && !(no && *no) && !(term && !strcmp(term, "dumb"));
}

static void tree_free(struct tree *T)
{
	for (size_t i = 0; i < T->nsp; i++)
		if (T->sp[i].used)
			span_free(T, (uint32_t)i);
	free(T->sp);
	free(T->op);
	free(T->omap);
	free(T->kids);
	for (size_t k = 0; k < T->natt; k++)
		free(T->att[k].text);
	free(T->att);
}

/* Trees of later sessions whose caller is in none of the sessions: printed on their own. */
static void print_unattached(struct tree *T)
{
	for (size_t k = 0; k < T->natt && !T->done; k++) {
		if (T->att[k].used)
			continue;
		if (T->printed)
			fputc('\n', T->out);
		fwrite(T->att[k].text, 1, T->att[k].len, T->out);
		T->printed++;
		if (T->limit && T->printed >= T->limit)
			T->done = 1;
	}
}

/* The later sessions first (last to second), their trees kept for their callers'; then the
 * first, printed, with the trees of the calls it made under them. */
static void read_sessions(struct tree *T, struct glass_session **ss, size_t nss)
{
	struct glass_progress *pg = NULL;
	for (size_t k = nss; k-- > 0 && !T->done;) {
		struct glass_session *sk = ss[k];
		T->collect = k > 0;
		pg = T->limit ? NULL : report_progress(sk, "tree");
		for (size_t pi = 0; pi < glass_session_nprocs(sk) && !T->done; pi++) {
			struct glass_proc *p = glass_session_proc(sk, pi);
			const uint32_t *tidx;
			size_t n = glass_proc_threads(p, &tidx);
			for (size_t ti = 0; ti < n && !T->done; ti++)
				run_thread(T, p, tidx[ti], glass_span_ids_for(sk, pi, ti), pg);
		}
		if (k)
			glass_progress_end(pg);
	}
	T->collect = 0;
	print_unattached(T);
	glass_progress_end(pg);
}

int command_tree(int argc, char **argv)
{
	static const struct option opts[] = {{"slow", required_argument, NULL, 's'},
					     {"errors", no_argument, NULL, 'e'},
					     {"trace", required_argument, NULL, 't'},
					     {"limit", required_argument, NULL, 'n'},
					     {"depth", required_argument, NULL, 'd'},
					     {"min-ms", required_argument, NULL, 'm'},
					     {"color", required_argument, NULL, OPT_COLOR},
					     {"colour", required_argument, NULL, OPT_COLOR},
					     {"max-spans", required_argument, NULL, OPT_MAX},
					     {NULL, 0, NULL, 0}};
	struct tree T = {
	    .max_spans = DEFAULT_MAX_SPANS, .cutoff = UINT32_MAX, .free_sp = NIL, .free_op = NIL};
	struct tree_cmd C = {.T = &T, .color_mode = -1};
	const struct report_cli cli = {.name = "tree",
				       .usage = usage,
				       .shortopts = "s:et:n:d:m:",
				       .longopts = opts,
				       .option = tree_option,
				       .ctx = &C};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	struct glass_session *ss[REPORT_MAX_SESSIONS];
	size_t nss = report_sessions(&a, ss, REPORT_MAX_SESSIONS, &status);
	if (!nss)
		return status;
	T.color = color_wanted(C.color_mode);
	T.out = stdout;
	static char obuf[1 << 16];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));

	read_sessions(&T, ss, nss);
	if (!T.printed && !T.done)
		fprintf(stdout, "(no tree matches)\n");
	int rc = report_check_output(stdout, "standard output");
	if (T.oom)
		report_error("warning: out of memory; some spans are missing from the trees");
	tree_free(&T);
	return report_finish_many(&a, ss, nss, rc);
}
