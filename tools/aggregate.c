/* tools/aggregate.c — spans grouped into functions, HTTP endpoints, statements and peers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "text.h"

int glass_agg_init(struct glass_agg *A)
{
	memset(A, 0, sizeof(*A));
	A->functions = glass_ftable_new();
	return A->functions ? 0 : -1;
}

int glass_agg_process(struct glass_agg *A, struct glass_proc *p)
{
	A->codes = glass_proc_codes(p, &A->ncodes);
	free(A->cache);
	free(A->fcache);
	A->cache = malloc((A->ncodes ? A->ncodes : 1) * sizeof(long));
	A->fcache = calloc(A->ncodes ? A->ncodes : 1, sizeof(*A->fcache));
	if (!A->cache || !A->fcache) {
		A->oom = 1;
		A->ncodes = 0;
		return -1;
	}
	for (size_t k = 0; k < A->ncodes; k++)
		A->cache[k] = -1;
	return 0;
}

void glass_agg_free(struct glass_agg *A)
{
	free(A->cache);
	free(A->fcache);
	free(A->fn);
	if (A->functions)
		glass_ftable_free(A->functions);
	struct glass_agg_table *t[] = {&A->endpoints, &A->statements, &A->peers};
	for (size_t i = 0; i < 3; i++) {
		if (t[i]->ft)
			glass_ftable_free(t[i]->ft);
		free(t[i]->op);
	}
	memset(A, 0, sizeof(*A));
}

/* Whether d is one of the current process's definitions (then its rows are cached). */
static int is_current(const struct glass_agg *A, const struct glass_code_def *d)
{
	return d && A->cache && d >= A->codes && d < A->codes + A->ncodes;
}

static int fn_add(struct glass_agg *A, const struct glass_span *sp)
{
	if (A->nfn == A->capfn) {
		size_t cap = A->capfn ? A->capfn * 2 : 256;
		struct glass_agg_fn *l = realloc(A->fn, cap * sizeof(*l));
		if (!l)
			return -1;
		A->fn = l;
		A->capfn = cap;
	}
	A->fn[A->nfn++] = (struct glass_agg_fn){sp->code, sp->pid, sp->code_id};
	return 0;
}

static long fn_row(struct glass_agg *A, const struct glass_span *sp)
{
	const struct glass_code_def *d = sp->code;
	size_t k = is_current(A, d) ? (size_t)(d - A->codes) : 0;
	if (is_current(A, d) && A->cache[k] >= 0)
		return A->cache[k];
	/* key: the function's identity, so the same function in several processes is one row */
	struct glass_buf key = {0};
	if (d) {
		glass_buf_puts(&key, d->module);
		glass_buf_put(&key, "", 1);
		glass_buf_puts(&key, d->qualname);
		glass_buf_put(&key, "", 1);
		glass_buf_puts(&key, d->filename);
		glass_buf_printf(&key, "%c%u", 0, d->line);
	} else {
		glass_buf_printf(&key, "%c<unknown>%c%u%c%u", 1, 0, sp->pid, 0, sp->code_id);
	}
	int added = 0;
	long fi = key.oom ? -1 : glass_ftable_intern(A->functions, key.p, key.len, &added);
	glass_buf_free(&key);
	if (fi < 0 || (added && fn_add(A, sp) < 0)) {
		A->oom = 1;
		return -1;
	}
	if (is_current(A, d))
		A->cache[k] = fi;
	return fi;
}

static void on_function(struct glass_agg *A, const struct glass_span *sp)
{
	const struct glass_code_def *d = sp->code;
	struct glass_fstats *f;
	if (is_current(A, d) && A->fcache[d - A->codes]) {
		f = A->fcache[d - A->codes];
	} else {
		long fi = fn_row(A, sp);
		if (fi < 0)
			return;
		f = glass_ftable_stats(A->functions, (size_t)fi);
		if (is_current(A, d))
			A->fcache[d - A->codes] = f;
	}
	if (glass_fstats_add(f, sp->dur_ns, sp->self_ns, sp->status == GLASS_SPAN_ERROR) < 0)
		A->oom = 1;
	f->incomplete += sp->status == GLASS_SPAN_LOST || sp->status == GLASS_SPAN_UNFINISHED;
}

/* The row of key in t (added if new), its statistics in *f; NULL when out of memory. */
static struct glass_agg_op *op_row(struct glass_agg *A, struct glass_agg_table *t, const char *key,
				   size_t klen, struct glass_fstats **f)
{
	if (!t->ft && !(t->ft = glass_ftable_new())) {
		A->oom = 1;
		return NULL;
	}
	int added = 0;
	long i = glass_ftable_intern(t->ft, key, klen, &added);
	if (i < 0) {
		A->oom = 1;
		return NULL;
	}
	if ((size_t)i >= t->nop) {
		if ((size_t)i >= t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			struct glass_agg_op *e = realloc(t->op, cap * sizeof(*e));
			if (!e) {
				A->oom = 1;
				return NULL;
			}
			t->op = e;
			t->cap = cap;
		}
		memset(&t->op[i], 0, sizeof(t->op[i]));
		t->nop = (size_t)i + 1;
	}
	*f = glass_ftable_stats(t->ft, (size_t)i);
	return &t->op[i];
}

static int64_t attr_int(const struct glass_span *sp, const char *key, int64_t dflt)
{
	const struct glass_attr *a = glass_span_attr(sp, key);
	return a && a->type == GLASS_ATTR_INT ? a->i : dflt;
}

/* An endpoint (served request) or a statement row; NULL for other kinds. */
static struct glass_agg_op *operation(struct glass_agg *A, const struct glass_span *sp,
				      struct glass_fstats **f)
{
	char key[GLASS_SPAN_KEY_MAX];
	struct glass_agg_op *e;
	if (sp->kind == GLASS_KIND_HTTP_SERVER) {
		e = op_row(A, &A->endpoints, key, glass_span_endpoint_key(sp, key, sizeof(key)), f);
		if (!e)
			return NULL;
		int64_t code = attr_int(sp, "http.response.status_code", 0);
		e->status[code >= 100 && code < 600 ? code / 100 : 0]++;
	} else if (sp->kind == GLASS_KIND_DB) {
		e = op_row(A, &A->statements, key, glass_span_statement_key(sp, key, sizeof(key)),
			   f);
		if (!e)
			return NULL;
		int64_t r = attr_int(sp, "db.response.returned_rows", -1);
		if (r < 0)
			r = attr_int(sp, "db.response.affected_rows", 0);
		e->rows += r > 0 ? (uint64_t)r : 0;
	} else {
		return NULL;
	}
	e->kind = sp->kind;
	return e;
}

/* Outbound peers: where this process waited on someone else (client side only). */
static void on_peer(struct glass_agg *A, const struct glass_span *sp, int err)
{
	size_t al, sl;
	const char *a = glass_span_str(sp, "server.address", &al);
	int64_t port = attr_int(sp, "server.port", 0);
	if (!al && sp->kind == GLASS_KIND_DB)
		a = glass_span_str(sp, "db.name", &al); /* sqlite: the file */
	if (!al)
		return;
	const char *sys = glass_span_str(sp, "db.system", &sl);
	if (sp->kind == GLASS_KIND_HTTP_CLIENT)
		sys = "http", sl = 4;
	else if (sp->kind == GLASS_KIND_NET)
		sys = "tcp", sl = 3;
	char key[GLASS_SPAN_KEY_MAX];
	int n = port ? snprintf(key, sizeof(key), "%.*s %.*s:%lld", (int)sl, sys, (int)al, a,
				(long long)port)
		     : snprintf(key, sizeof(key), "%.*s %.*s", (int)sl, sys, (int)al, a);
	struct glass_fstats *f;
	struct glass_agg_op *e =
	    op_row(A, &A->peers, key, (size_t)n < sizeof(key) ? (size_t)n : sizeof(key) - 1, &f);
	if (e && glass_fstats_add(f, sp->dur_ns, sp->self_ns, err) < 0)
		A->oom = 1;
}

void glass_agg_span(struct glass_agg *A, const struct glass_span *sp)
{
	if (sp->kind == GLASS_KIND_PYTHON) {
		on_function(A, sp);
		return;
	}
	int err = sp->status == GLASS_SPAN_ERROR;
	struct glass_fstats *f = NULL;
	if (operation(A, sp, &f) && glass_fstats_add(f, sp->dur_ns, sp->self_ns, err) < 0)
		A->oom = 1;
	if (sp->kind != GLASS_KIND_HTTP_SERVER)
		on_peer(A, sp, err);
}

void glass_agg_fn_name(const struct glass_agg *A, size_t i, char *buf, size_t cap)
{
	const struct glass_agg_fn *l = &A->fn[i];
	if (l->def)
		snprintf(buf, cap, "%s%s%s", l->def->module, *l->def->module ? ":" : "",
			 *l->def->qualname ? l->def->qualname : "<unnamed>");
	else
		snprintf(buf, cap, "<code %u of pid %u>", l->code_id, l->pid);
}

static int rank_cmp(const void *a, const void *b)
{
	const struct glass_agg_rank *x = a, *y = b;
	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

void glass_agg_rank_sort(struct glass_agg_rank *r, size_t n)
{
	qsort(r, n, sizeof(*r), rank_cmp);
}

size_t glass_agg_by_total(struct glass_ftable *ft, struct glass_agg_rank **out)
{
	size_t n = ft ? glass_ftable_size(ft) : 0;
	struct glass_agg_rank *r = malloc((n ? n : 1) * sizeof(*r));
	*out = r;
	if (!r)
		return 0;
	for (size_t i = 0; i < n; i++) {
		r[i].i = i;
		r[i].key = glass_ftable_stats(ft, i)->total_ns;
	}
	glass_agg_rank_sort(r, n);
	return n;
}
