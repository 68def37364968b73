/* tools/spans.c — the span builder: turns one thread's records into completed spans. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spans.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

enum act_kind {
	ACT_FUNC,
	ACT_GEN,
	ACT_HOLE, /* activations we know of but not what they are (after lost records) */
};

/*
 * One entry of the activation stack. A HOLE entry stands for `count` nested unknown activations
 * (run-length, so a bogus depth of 4 billion costs one entry); its `id`/`root` are those of the
 * nearest real span below it, which becomes the parent of spans opened on top of it.
 */
struct act {
	uint64_t id;
	uint64_t root;
	uint64_t parent;
	uint64_t start_ns; /* this activation's start */
	uint64_t child_ns; /* time spent in direct children during this activation */
	uint64_t count;	   /* HOLE: nested placeholders */
	uint32_t code;
	uint32_t depth;
	uint32_t gen;	/* GEN: slot */
	uint32_t epoch; /* GEN: slot epoch when pushed */
	uint8_t kind;
};

enum gen_state { GEN_FREE, GEN_CREATED, GEN_SUSPENDED, GEN_ACTIVE };

#define NIL UINT32_MAX

struct gen {
	uint64_t key;
	uint64_t id, parent, root;	/* span (id 0 until first resume) */
	uint64_t creator, creator_root; /* span that created the object, 0 if unknown */
	uint64_t start_ns, susp_start_ns, susp_ns, self_ns;
	uint32_t creator_depth;
	uint32_t code, resumes, depth, epoch;
	uint32_t prev, next; /* idle list (CREATED/SUSPENDED), oldest first; next = free list */
	uint8_t state;
};

struct exc_slot {
	uint64_t num;
	int used;
	char *type, *msg;
	uint32_t tlen, mlen, tcap, mcap;
	int tnil, mnil;
};

struct glass_spans {
	struct glass_proc *proc;
	glass_code_lookup_fn lookup;
	void *lookup_ctx;
	glass_span_fn on_start, on_end;
	void *ctx;
	struct glass_span_ids ids;
	uint64_t next_seq;
	uint32_t pid, tid, tidx;
	char *name;
	uint32_t name_len, name_cap;

	struct act *stack;
	size_t n, cap;
	uint64_t depth; /* activations, holes counted one by one */

	struct gen *gens;
	size_t ngens, gcap;
	uint32_t free_head;
	uint32_t idle_head, idle_tail;
	uint32_t *tab; /* hash: slot + 1, 0 = empty */
	size_t tab_mask;
	size_t live;

	struct exc_slot exc[GLASS_SPANS_EXC_SLOTS];
	struct glass_span_counts counts;
};

const char *glass_span_status_name(enum glass_span_status st)
{
	switch (st) {
	case GLASS_SPAN_OK:
		return "ok";
	case GLASS_SPAN_ERROR:
		return "error";
	case GLASS_SPAN_LOST:
		return "lost";
	case GLASS_SPAN_UNFINISHED:
		return "unfinished";
	}
	return "?";
}

const char *glass_span_kind_name(enum glass_span_kind k)
{
	switch (k) {
	case GLASS_KIND_PYTHON:
		return "function";
	case GLASS_KIND_DB:
		return "db";
	case GLASS_KIND_HTTP_SERVER:
		return "http_server";
	case GLASS_KIND_HTTP_CLIENT:
		return "http_client";
	case GLASS_KIND_NET:
		return "net";
	}
	return "?";
}

const struct glass_attr *glass_span_attr(const struct glass_span *sp, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < sp->nattrs; i++)
		if (sp->attrs[i].key.len == kl && memcmp(sp->attrs[i].key.p, key, kl) == 0)
			return &sp->attrs[i];
	return NULL;
}

const char *glass_span_label(const struct glass_span *sp, char *buf, size_t cap)
{
	if (!cap)
		return buf;
	if (sp->kind != GLASS_KIND_PYTHON)
		snprintf(buf, cap, "%.*s", sp->name.p ? (int)sp->name.len : 0,
			 sp->name.p ? sp->name.p : "");
	else if (sp->code && sp->code->module && sp->code->module[0])
		snprintf(buf, cap, "%s.%s", sp->code->module,
			 sp->code->qualname ? sp->code->qualname : "?");
	else if (sp->code)
		snprintf(buf, cap, "%s", sp->code->qualname ? sp->code->qualname : "?");
	else
		snprintf(buf, cap, "<code %u>", sp->code_id);
	return buf;
}

const char *glass_gen_kind_name(enum glass_gen_kind k)
{
	switch (k) {
	case GLASS_GEN_GENERATOR:
		return "generator";
	case GLASS_GEN_COROUTINE:
		return "coroutine";
	case GLASS_GEN_ASYNC_GENERATOR:
		return "async_generator";
	default:
		return NULL;
	}
}

enum glass_gen_kind glass_gen_kind_of(uint32_t f)
{
	if (f & GLASS_CO_ASYNC_GENERATOR)
		return GLASS_GEN_ASYNC_GENERATOR;
	if (f & (GLASS_CO_COROUTINE | GLASS_CO_ITERABLE_COROUTINE))
		return GLASS_GEN_COROUTINE;
	if (f & GLASS_CO_GENERATOR)
		return GLASS_GEN_GENERATOR;
	return GLASS_GEN_NONE;
}

unsigned glass_span_seq_bits(struct glass_session *s)
{
	uint64_t total = 0;
	for (size_t i = 0; i < glass_session_nprocs(s); i++)
		total += glass_proc_info(glass_session_proc(s, i))->nthreads;
	unsigned bits = 1;
	while (bits < 63 && (total >> bits))
		bits++;
	return 64 - bits;
}

struct glass_span_ids glass_span_ids_for(struct glass_session *s, size_t pi, size_t ti)
{
	struct glass_span_ids ids = {0};
	uint64_t stream = 1;
	for (size_t i = 0; i < pi && i < glass_session_nprocs(s); i++)
		stream += glass_proc_info(glass_session_proc(s, i))->nthreads;
	ids.stream = stream + ti;
	ids.seq_bits = glass_span_seq_bits(s);
	ids.trace_hi = glass_session_id(s);
	return ids;
}

static const struct glass_code_def *proc_lookup(void *ctx, uint32_t id)
{
	return ctx ? glass_proc_code(ctx, id) : NULL;
}

struct glass_spans *glass_spans_new(struct glass_proc *proc, uint32_t tidx,
				    struct glass_span_ids ids, glass_span_fn on_start,
				    glass_span_fn on_end, void *ctx)
{
	struct glass_spans *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->proc = proc;
	b->lookup = proc_lookup;
	b->lookup_ctx = proc;
	b->on_start = on_start;
	b->on_end = on_end;
	b->ctx = ctx;
	if (!ids.stream)
		ids.stream = 1;
	if (!ids.seq_bits || ids.seq_bits > 63)
		ids.seq_bits = 48;
	b->ids = ids;
	b->tidx = tidx;
	if (proc) {
		b->pid = glass_proc_info(proc)->pid;
		b->tid = glass_proc_thread_tid(proc, tidx);
	}
	b->free_head = NIL;
	b->idle_head = b->idle_tail = NIL;
	return b;
}

void glass_spans_set_lookup(struct glass_spans *b, glass_code_lookup_fn fn, void *ctx)
{
	b->lookup = fn ? fn : proc_lookup;
	b->lookup_ctx = ctx;
}

void glass_spans_set_thread(struct glass_spans *b, uint32_t pid, uint32_t tid)
{
	b->pid = pid;
	b->tid = tid;
}

const struct glass_span_counts *glass_spans_counts(const struct glass_spans *b)
{
	return &b->counts;
}

const char *glass_spans_thread_name(const struct glass_spans *b)
{
	return b->name;
}

uint32_t glass_spans_tid(const struct glass_spans *b)
{
	return b->tid;
}

void glass_spans_free(struct glass_spans *b)
{
	if (!b)
		return;
	free(b->stack);
	free(b->gens);
	free(b->tab);
	for (int i = 0; i < GLASS_SPANS_EXC_SLOTS; i++) {
		free(b->exc[i].type);
		free(b->exc[i].msg);
	}
	free(b->name);
	free(b);
}

/* ---- ids and emission -------------------------------------------------------------------- */

static uint64_t new_id(struct glass_spans *b)
{
	/* seq_bits >= 36 for up to 2^28 threads per session: 2^36 spans of one thread would
	 * take days of recording at full speed; past that ids would overlap the next thread's */
	uint64_t mask = b->ids.seq_bits >= 64 ? UINT64_MAX : (1ull << b->ids.seq_bits) - 1;
	return (b->ids.stream << b->ids.seq_bits) | (++b->next_seq & mask);
}

static void fill_common(struct glass_spans *b, struct glass_span *sp, uint32_t code)
{
	sp->trace_hi = b->ids.trace_hi;
	sp->pid = b->pid;
	sp->tid = b->tid;
	sp->tidx = b->tidx;
	sp->thread = b->name;
	sp->code_id = code;
	sp->code = b->lookup(b->lookup_ctx, code);
}

static void emit_start(struct glass_spans *b, uint64_t id, uint64_t parent, uint64_t root,
		       uint32_t code, uint64_t start, uint32_t depth, int is_gen)
{
	if (!b->on_start)
		return;
	struct glass_span sp;
	memset(&sp, 0, sizeof(sp));
	fill_common(b, &sp, code);
	sp.span_id = id;
	sp.parent_id = parent;
	sp.trace_lo = root;
	sp.start_ns = start;
	sp.depth = depth;
	if (is_gen) {
		sp.gen = sp.code ? glass_gen_kind_of(sp.code->flags) : GLASS_GEN_GENERATOR;
		if (sp.gen == GLASS_GEN_NONE)
			sp.gen = GLASS_GEN_GENERATOR;
	}
	b->on_start(b->ctx, &sp);
}

static void emit_end(struct glass_spans *b, struct glass_span *sp)
{
	b->counts.spans++;
	if (!sp->parent_id)
		b->counts.busy_ns +=
		    sp->dur_ns - (sp->suspended_ns < sp->dur_ns ? sp->suspended_ns : sp->dur_ns);
	if (b->on_end)
		b->on_end(b->ctx, sp);
}

static uint64_t span_dur(uint64_t start, uint64_t end)
{
	return end > start ? end - start : 0;
}

static void set_error(struct glass_spans *b, struct glass_span *sp, uint64_t exc, int have_exc)
{
	if (!have_exc)
		return;
	struct exc_slot *e = &b->exc[exc % GLASS_SPANS_EXC_SLOTS];
	if (!e->used || e->num != exc)
		return;
	if (!e->tnil) {
		sp->err_type.p = e->type ? e->type : "";
		sp->err_type.len = e->tlen;
	}
	if (!e->mnil) {
		sp->err_msg.p = e->msg ? e->msg : "";
		sp->err_msg.len = e->mlen;
	}
}

/* ---- generator map ----------------------------------------------------------------------- */

static size_t gen_hash(const struct glass_spans *b, uint64_t key)
{
	key ^= key >> 29;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 32;
	return (size_t)key & b->tab_mask;
}

static uint32_t gen_find(const struct glass_spans *b, uint64_t key)
{
	if (!b->tab)
		return NIL;
	for (size_t i = gen_hash(b, key);; i = (i + 1) & b->tab_mask) {
		uint32_t v = b->tab[i];
		if (!v)
			return NIL;
		if (b->gens[v - 1].key == key)
			return v - 1;
	}
}

static int tab_grow(struct glass_spans *b)
{
	size_t size = b->tab ? (b->tab_mask + 1) * 2 : 1024;
	uint32_t *t = calloc(size, sizeof(*t));
	if (!t)
		return -1;
	size_t mask = size - 1;
	uint32_t *old = b->tab;
	size_t old_size = old ? b->tab_mask + 1 : 0;
	b->tab = t;
	b->tab_mask = mask;
	for (size_t i = 0; i < old_size; i++) {
		if (!old[i])
			continue;
		size_t j = gen_hash(b, b->gens[old[i] - 1].key);
		while (t[j])
			j = (j + 1) & mask;
		t[j] = old[i];
	}
	free(old);
	return 0;
}

static void tab_remove(struct glass_spans *b, uint32_t slot)
{
	size_t i = gen_hash(b, b->gens[slot].key);
	while (b->tab[i] != slot + 1)
		i = (i + 1) & b->tab_mask;
	/* backward-shift deletion keeps probe chains intact without tombstones */
	size_t j = i;
	for (;;) {
		j = (j + 1) & b->tab_mask;
		if (!b->tab[j])
			break;
		size_t home = gen_hash(b, b->gens[b->tab[j] - 1].key);
		if (((j - home) & b->tab_mask) >= ((j - i) & b->tab_mask)) {
			b->tab[i] = b->tab[j];
			i = j;
		}
	}
	b->tab[i] = 0;
}

static void idle_unlink(struct glass_spans *b, uint32_t s)
{
	struct gen *g = &b->gens[s];
	if (g->prev != NIL)
		b->gens[g->prev].next = g->next;
	else
		b->idle_head = g->next;
	if (g->next != NIL)
		b->gens[g->next].prev = g->prev;
	else
		b->idle_tail = g->prev;
	g->prev = g->next = NIL;
}

static void idle_append(struct glass_spans *b, uint32_t s)
{
	struct gen *g = &b->gens[s];
	g->next = NIL;
	g->prev = b->idle_tail;
	if (b->idle_tail != NIL)
		b->gens[b->idle_tail].next = s;
	else
		b->idle_head = s;
	b->idle_tail = s;
}

static void gen_release(struct glass_spans *b, uint32_t s)
{
	struct gen *g = &b->gens[s];
	if (g->state == GEN_CREATED || g->state == GEN_SUSPENDED)
		idle_unlink(b, s);
	tab_remove(b, s);
	g->state = GEN_FREE;
	g->epoch++;
	g->next = b->free_head;
	b->free_head = s;
	b->live--;
}

/* Emits a generator span ending at `end` (the current activation, if any, already folded in). */
static void gen_emit(struct glass_spans *b, uint32_t s, uint64_t end, enum glass_span_status st,
		     uint64_t exc, int have_exc)
{
	struct gen *g = &b->gens[s];
	if (!g->id)
		return;
	struct glass_span sp;
	memset(&sp, 0, sizeof(sp));
	fill_common(b, &sp, g->code);
	sp.span_id = g->id;
	sp.parent_id = g->parent;
	sp.trace_lo = g->root;
	sp.start_ns = g->start_ns;
	sp.dur_ns = span_dur(g->start_ns, end);
	sp.self_ns = g->self_ns < sp.dur_ns ? g->self_ns : sp.dur_ns;
	sp.depth = g->depth;
	sp.status = st;
	sp.gen = sp.code ? glass_gen_kind_of(sp.code->flags) : GLASS_GEN_GENERATOR;
	if (sp.gen == GLASS_GEN_NONE)
		sp.gen = GLASS_GEN_GENERATOR;
	sp.resumes = g->resumes;
	sp.suspended_ns = g->susp_ns;
	if (st == GLASS_SPAN_ERROR)
		set_error(b, &sp, exc, have_exc);
	emit_end(b, &sp);
}

/* Closes a suspended generator early (object gone or map full): it ends at its last yield. */
static void gen_drop_suspended(struct glass_spans *b, uint32_t s, uint64_t end,
			       enum glass_span_status st)
{
	struct gen *g = &b->gens[s];
	if (g->state == GEN_SUSPENDED) {
		if (end > g->susp_start_ns)
			g->susp_ns += end - g->susp_start_ns;
		gen_emit(b, s, end, st, 0, 0);
	}
	gen_release(b, s);
}

static uint32_t gen_alloc(struct glass_spans *b, uint64_t key)
{
	if (b->live >= GLASS_SPANS_MAX_GENS) {
		if (b->idle_head == NIL)
			return NIL;
		uint32_t old = b->idle_head;
		b->counts.gens_evicted++;
		gen_drop_suspended(b, old, b->gens[old].susp_start_ns, GLASS_SPAN_UNFINISHED);
	}
	if ((b->live + 1) * 2 > b->tab_mask + 1 || !b->tab)
		if (tab_grow(b) < 0)
			return NIL;
	uint32_t s;
	if (b->free_head != NIL) {
		s = b->free_head;
		b->free_head = b->gens[s].next;
	} else {
		if (b->ngens == b->gcap) {
			size_t cap = b->gcap ? b->gcap * 2 : 256;
			struct gen *n = realloc(b->gens, cap * sizeof(*n));
			if (!n)
				return NIL;
			b->gens = n;
			b->gcap = cap;
		}
		s = (uint32_t)b->ngens++;
		b->gens[s].epoch = 0;
	}
	struct gen *g = &b->gens[s];
	uint32_t epoch = g->epoch;
	memset(g, 0, sizeof(*g));
	g->epoch = epoch;
	g->key = key;
	g->prev = g->next = NIL;
	size_t i = gen_hash(b, key);
	while (b->tab[i])
		i = (i + 1) & b->tab_mask;
	b->tab[i] = s + 1;
	b->live++;
	return s;
}

/* ---- the activation stack ---------------------------------------------------------------- */

static struct act *push(struct glass_spans *b)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		if (cap > GLASS_SPANS_MAX_DEPTH + 1)
			cap = GLASS_SPANS_MAX_DEPTH + 1;
		struct act *s = realloc(b->stack, cap * sizeof(*s));
		if (!s)
			return NULL;
		b->stack = s;
		b->cap = cap;
	}
	b->depth++;
	return &b->stack[b->n++];
}

/* Parent, root and depth for a span opened now. */
static void parent_of_new(const struct glass_spans *b, uint64_t *parent, uint64_t *root,
			  uint32_t *depth)
{
	if (!b->n) {
		*parent = 0;
		*root = 0;
		*depth = 0;
		return;
	}
	const struct act *t = &b->stack[b->n - 1];
	*parent = t->id;
	*root = t->root;
	*depth = t->id ? t->depth + 1 : 0;
}

static void push_holes(struct glass_spans *b, uint64_t n, uint64_t ts)
{
	if (!n)
		return;
	if (b->n && b->stack[b->n - 1].kind == ACT_HOLE) {
		struct act *t = &b->stack[b->n - 1];
		t->count += n;
		t->depth += (uint32_t)n;
		b->depth += n;
		return;
	}
	uint64_t parent, root;
	uint32_t depth;
	parent_of_new(b, &parent, &root, &depth);
	if (b->n > GLASS_SPANS_MAX_DEPTH)
		return; /* cannot happen: real pushes stop at MAX_DEPTH, leaving this slot */
	struct act *a = push(b);
	if (!a)
		return;
	b->depth += n - 1;
	memset(a, 0, sizeof(*a));
	a->kind = ACT_HOLE;
	a->id = parent;
	a->root = root;
	a->depth = depth + (uint32_t)n - 1;
	a->count = n;
	a->start_ns = ts;
}

/* Room for a real activation? Otherwise it becomes a counted placeholder (run-length, so the
 * slot after the last real one is enough for any depth). */
static int can_push_real(struct glass_spans *b, uint64_t ts)
{
	if (likely(b->n < GLASS_SPANS_MAX_DEPTH))
		return 1;
	b->counts.too_deep++;
	push_holes(b, 1, ts);
	return 0;
}

static void add_child_time(struct glass_spans *b, uint64_t elapsed)
{
	if (b->n)
		b->stack[b->n - 1].child_ns += elapsed;
}

/* Pops one level of the stack ending at ts with the given outcome. `want_gen` tells what the
 * record expected (1 generator exit, 0 function exit, -1 either: lost/unfinished). */
static void pop_one(struct glass_spans *b, uint64_t ts, enum glass_span_status st, uint64_t exc,
		    int have_exc, int want_gen)
{
	struct act *a = &b->stack[b->n - 1];
	if (a->kind == ACT_HOLE) {
		b->depth--;
		a->depth--;
		if (--a->count == 0) {
			uint64_t el = span_dur(a->start_ns, ts);
			b->n--;
			add_child_time(b, el);
		}
		return;
	}
	uint64_t el = span_dur(a->start_ns, ts);
	b->n--;
	b->depth--;
	add_child_time(b, el);
	if (a->kind == ACT_FUNC) {
		if (want_gen == 1)
			b->counts.mismatched_exits++;
		struct glass_span sp;
		fill_common(b, &sp, a->code);
		sp.span_id = a->id;
		sp.parent_id = a->parent;
		sp.trace_lo = a->root;
		sp.start_ns = a->start_ns;
		sp.dur_ns = el;
		sp.self_ns = a->child_ns < el ? el - a->child_ns : 0;
		sp.depth = a->depth;
		sp.status = st;
		sp.err_type.p = sp.err_msg.p = NULL;
		sp.err_type.len = sp.err_msg.len = 0;
		sp.gen = GLASS_GEN_NONE;
		sp.resumes = 0;
		sp.suspended_ns = 0;
		if (st == GLASS_SPAN_ERROR)
			set_error(b, &sp, exc, have_exc);
		emit_end(b, &sp);
		return;
	}
	/* a generator activation */
	if (want_gen == 0)
		b->counts.mismatched_exits++;
	struct gen *g = &b->gens[a->gen];
	if (g->epoch != a->epoch || g->state != GEN_ACTIVE)
		return; /* its span was closed already (object replaced) */
	g->self_ns += a->child_ns < el ? el - a->child_ns : 0;
	gen_emit(b, a->gen, ts, st, exc, have_exc);
	gen_release(b, a->gen);
}

/* ---- records ----------------------------------------------------------------------------- */

static void on_call(struct glass_spans *b, uint64_t ts, uint64_t code)
{
	if (!can_push_real(b, ts))
		return;
	uint64_t parent, root;
	uint32_t depth;
	parent_of_new(b, &parent, &root, &depth);
	struct act *a = push(b);
	if (!a)
		return;
	a->kind = ACT_FUNC;
	a->id = new_id(b);
	a->root = root ? root : a->id;
	a->parent = parent;
	a->start_ns = ts;
	a->child_ns = 0;
	a->count = 0;
	a->code = (uint32_t)code;
	a->depth = depth;
	if (b->on_start)
		emit_start(b, a->id, a->parent, a->root, a->code, ts, depth, 0);
}

/* Generator frames exit cleanly through these exceptions. */
static int is_clean_gen_exit(const struct glass_str *t)
{
	static const char *const names[] = {"GeneratorExit", "StopIteration", "StopAsyncIteration"};
	if (!t->p)
		return 0;
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(names[i]);
		if (t->len < n || memcmp(t->p + t->len - n, names[i], n))
			continue;
		if (t->len == n || t->p[t->len - n - 1] == '.')
			return 1;
	}
	return 0;
}

static void on_raise(struct glass_spans *b, uint64_t ts, uint64_t exc)
{
	if (!b->n) {
		b->counts.unmatched_exits++;
		return;
	}
	struct act *a = &b->stack[b->n - 1];
	enum glass_span_status st = GLASS_SPAN_ERROR;
	if (a->kind == ACT_GEN) {
		struct exc_slot *e = &b->exc[exc % GLASS_SPANS_EXC_SLOTS];
		if (e->used && e->num == exc && !e->tnil) {
			struct glass_str t = {e->type ? e->type : "", e->tlen};
			if (is_clean_gen_exit(&t))
				st = GLASS_SPAN_OK;
		}
	}
	pop_one(b, ts, st, exc, 1, -1);
}

static void on_leave(struct glass_spans *b, uint64_t ts, int want_gen)
{
	if (!b->n) {
		b->counts.unmatched_exits++;
		return;
	}
	pop_one(b, ts, GLASS_SPAN_OK, 0, 0, want_gen);
}

static void on_gen_create(struct glass_spans *b, uint64_t ts, uint64_t code, uint64_t key)
{
	uint32_t s = gen_find(b, key);
	if (s != NIL) {
		struct gen *g = &b->gens[s];
		if (g->state == GEN_ACTIVE) {
			/* the running object cannot be re-created: records were lost */
			gen_emit(b, s, ts, GLASS_SPAN_LOST, 0, 0);
			gen_release(b, s);
		} else {
			/* the address was reused: the old object died without finishing */
			gen_drop_suspended(b, s, ts, GLASS_SPAN_UNFINISHED);
		}
	}
	s = gen_alloc(b, key);
	if (s == NIL)
		return;
	struct gen *g = &b->gens[s];
	g->state = GEN_CREATED;
	g->code = (uint32_t)code;
	uint64_t parent, root;
	uint32_t depth;
	parent_of_new(b, &parent, &root, &depth);
	g->creator = parent;
	g->creator_root = root;
	g->creator_depth = depth;
	g->start_ns = ts;
	idle_append(b, s);
}

static void on_gen_resume(struct glass_spans *b, uint64_t ts, uint64_t code, uint64_t key)
{
	if (!can_push_real(b, ts))
		return;
	uint32_t s = gen_find(b, key);
	if (s != NIL && b->gens[s].state == GEN_ACTIVE) {
		/* already running: the stream is out of step; keep depth right */
		b->counts.mismatched_exits++;
		push_holes(b, 1, ts);
		return;
	}
	if (s == NIL) {
		s = gen_alloc(b, key);
		if (s == NIL) {
			push_holes(b, 1, ts);
			return;
		}
		b->gens[s].state = GEN_CREATED;
		idle_append(b, s);
	}
	struct gen *g = &b->gens[s];
	uint64_t parent, root;
	uint32_t depth;
	parent_of_new(b, &parent, &root, &depth);
	if (g->state == GEN_CREATED || !g->id) {
		g->id = new_id(b);
		if (g->creator) {
			g->parent = g->creator;
			g->root = g->creator_root;
			g->depth = g->creator_depth;
		} else {
			g->parent = parent;
			g->root = root;
			g->depth = depth;
		}
		if (!g->root)
			g->root = g->id;
		g->code = (uint32_t)code;
		g->start_ns = ts;
		emit_start(b, g->id, g->parent, g->root, g->code, ts, g->depth, 1);
	} else if (ts > g->susp_start_ns) {
		g->susp_ns += ts - g->susp_start_ns;
	}
	idle_unlink(b, s);
	g->state = GEN_ACTIVE;
	g->resumes++;
	struct act *a = push(b);
	if (!a)
		return;
	memset(a, 0, sizeof(*a));
	a->kind = ACT_GEN;
	a->id = g->id;
	a->root = g->root;
	a->parent = g->parent;
	a->start_ns = ts;
	a->code = g->code;
	a->depth = g->depth;
	a->gen = s;
	a->epoch = g->epoch;
}

static void on_gen_yield(struct glass_spans *b, uint64_t ts)
{
	if (!b->n) {
		b->counts.unmatched_exits++;
		return;
	}
	struct act *a = &b->stack[b->n - 1];
	if (a->kind != ACT_GEN) {
		pop_one(b, ts, GLASS_SPAN_OK, 0, 0, 1);
		return;
	}
	uint64_t el = span_dur(a->start_ns, ts);
	uint32_t s = a->gen;
	uint32_t epoch = a->epoch;
	uint64_t child = a->child_ns;
	b->n--;
	b->depth--;
	add_child_time(b, el);
	struct gen *g = &b->gens[s];
	if (g->epoch != epoch || g->state != GEN_ACTIVE)
		return;
	g->self_ns += child < el ? el - child : 0;
	g->state = GEN_SUSPENDED;
	g->susp_start_ns = ts;
	idle_append(b, s);
}

/* A suspended generator closed without running again (CPython 3.13 closes a generator paused
 * at a bare yield by marking it done): its span ends here, cleanly. When close did run the
 * frame, the span is already closed and this record finds nothing to do. */
static void on_gen_close(struct glass_spans *b, uint64_t ts, uint64_t key)
{
	uint32_t s = gen_find(b, key);
	if (s == NIL)
		return;
	struct gen *g = &b->gens[s];
	if (g->state == GEN_SUSPENDED)
		gen_drop_suspended(b, s, ts, GLASS_SPAN_OK);
	else if (g->state == GEN_CREATED)
		gen_release(b, s); /* never started: no span */
}

static void copy_text(char **dst, uint32_t *len, uint32_t *cap, int *nil, const struct glass_str *s)
{
	*nil = s->p == NULL;
	uint32_t n = s->len > GLASS_SPANS_MAX_TEXT ? GLASS_SPANS_MAX_TEXT : s->len;
	if (n + 1 > *cap) {
		char *d = realloc(*dst, n + 1);
		if (!d) {
			*len = 0;
			return;
		}
		*dst = d;
		*cap = n + 1;
	}
	if (n)
		memcpy(*dst, s->p, n);
	(*dst)[n] = 0;
	*len = n;
}

static void on_exc(struct glass_spans *b, const struct glass_record *rec)
{
	struct exc_slot *e = &b->exc[rec->u[0] % GLASS_SPANS_EXC_SLOTS];
	e->used = 1;
	e->num = rec->u[0];
	copy_text(&e->type, &e->tlen, &e->tcap, &e->tnil, &rec->s[1]);
	copy_text(&e->msg, &e->mlen, &e->mcap, &e->mnil, &rec->s[2]);
}

/* Lost records: spans deeper than dmin ended unseen; `dnew` activations are open now. */
static void resync(struct glass_spans *b, uint64_t ts, uint64_t dmin, uint64_t dnew)
{
	while (b->depth > dmin && b->n) {
		struct act *a = &b->stack[b->n - 1];
		if (a->kind == ACT_HOLE && a->count > 1) {
			uint64_t k = b->depth - dmin;
			if (k >= a->count)
				k = a->count - 1;
			if (k) {
				a->count -= k;
				a->depth -= (uint32_t)k;
				b->depth -= k;
				continue;
			}
		}
		pop_one(b, ts, GLASS_SPAN_LOST, 0, 0, -1);
	}
	if (b->depth < dmin)
		push_holes(b, dmin - b->depth, ts);
	if (dnew > dmin)
		push_holes(b, dnew - dmin, ts);
}

static void close_stack(struct glass_spans *b, uint64_t ts)
{
	while (b->n) {
		struct act *a = &b->stack[b->n - 1];
		if (a->kind == ACT_HOLE && a->count > 1) {
			/* a run of placeholders goes at once, whatever its length */
			b->depth -= a->count - 1;
			a->depth -= (uint32_t)(a->count - 1);
			a->count = 1;
		}
		pop_one(b, ts, GLASS_SPAN_UNFINISHED, 0, 0, -1);
	}
	b->depth = 0;
}

static inline void note_time(struct glass_span_counts *c, uint64_t ts)
{
	if (unlikely(!c->first_ns))
		c->first_ns = ts;
	if (likely(ts >= c->last_ns))
		c->last_ns = ts;
}

void glass_spans_feed(struct glass_spans *b, const struct glass_record *rec)
{
	struct glass_span_counts *c = &b->counts;
	uint8_t tag = rec->tag;
	uint64_t ts = rec->ts_ns;
	c->records++;
	c->by_tag[tag & GLASS_REC_MAX_TAG]++;
	switch (tag) {
	case GLASS_REC_CALL:
		note_time(c, ts);
		on_call(b, ts, rec->u[1]);
		break;
	case GLASS_REC_RETURN:
		note_time(c, ts);
		on_leave(b, ts, 0);
		break;
	case GLASS_REC_RAISE:
		note_time(c, ts);
		on_raise(b, ts, rec->u[1]);
		break;
	case GLASS_REC_GEN_CREATE:
		note_time(c, ts);
		on_gen_create(b, ts, rec->u[1], rec->u[2]);
		break;
	case GLASS_REC_GEN_RESUME:
		note_time(c, ts);
		on_gen_resume(b, ts, rec->u[1], rec->u[2]);
		break;
	case GLASS_REC_GEN_YIELD:
		note_time(c, ts);
		on_gen_yield(b, ts);
		break;
	case GLASS_REC_GEN_RETURN:
		note_time(c, ts);
		on_leave(b, ts, 1);
		break;
	case GLASS_REC_GEN_CLOSE:
		note_time(c, ts);
		on_gen_close(b, ts, rec->u[1]);
		break;
	case GLASS_REC_EXC:
		on_exc(b, rec);
		break;
	case GLASS_REC_LOST:
		note_time(c, ts);
		c->lost_records += rec->u[1];
		resync(b, ts, rec->u[2], rec->u[3]);
		break;
	case GLASS_REC_CHUNK_START:
		note_time(c, ts);
		if (b->depth != rec->u[1]) {
			/* a forked child's first chunk starts inside its parent's frames: expected
			 */
			if (c->records > 1)
				c->resyncs++;
			resync(b, ts, b->depth < rec->u[1] ? b->depth : rec->u[1], rec->u[1]);
		}
		break;
	case GLASS_REC_THREAD_START:
		note_time(c, ts);
		if (rec->u[1] && rec->u[1] <= UINT32_MAX)
			b->tid = (uint32_t)rec->u[1];
		break;
	case GLASS_REC_THREAD_NAME: {
		int nil;
		if (rec->s[0].p)
			copy_text(&b->name, &b->name_len, &b->name_cap, &nil, &rec->s[0]);
		break;
	}
	case GLASS_REC_THREAD_END:
		note_time(c, ts);
		close_stack(b, c->last_ns);
		break;
	default:
		break;
	}
}

void glass_spans_finish(struct glass_spans *b)
{
	uint64_t end = b->counts.last_ns;
	close_stack(b, end);
	/* generators left suspended when the thread's data ended */
	while (b->idle_head != NIL) {
		uint32_t s = b->idle_head;
		struct gen *g = &b->gens[s];
		if (g->state == GEN_SUSPENDED && end > g->susp_start_ns)
			g->susp_ns += end - g->susp_start_ns;
		if (g->state == GEN_SUSPENDED)
			gen_emit(b, s, end, GLASS_SPAN_UNFINISHED, 0, 0);
		gen_release(b, s);
	}
}

int glass_spans_run_thread(struct glass_proc *proc, uint32_t tidx, struct glass_span_ids ids,
			   glass_span_fn on_start, glass_span_fn on_end, void *ctx,
			   struct glass_spans **keep)
{
	struct glass_stream *st = glass_stream_open(proc, tidx);
	if (!st)
		return -1;
	struct glass_spans *b = glass_spans_new(proc, tidx, ids, on_start, on_end, ctx);
	if (!b) {
		glass_stream_close(st);
		return -1;
	}
	struct glass_record rec;
	while (glass_stream_next(st, &rec))
		glass_spans_feed(b, &rec);
	glass_spans_finish(b);
	glass_stream_close(st);
	if (keep)
		*keep = b;
	else
		glass_spans_free(b);
	return 0;
}
