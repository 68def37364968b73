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

/* A captured operation between its OP_BEGIN and OP_END. It is not on the activation stack
 * (an HTTP request begins inside one frame and ends in another; a MongoDB reply is read in a
 * different function from the one that sent the command): it is anchored where it began, and
 * spans that open at that point while it is open become its children. When the frame it was
 * anchored on returns, the anchor moves down to that frame's parent. */
struct op {
	uint64_t op; /* number in the stream */
	uint64_t id, parent, root;
	uint64_t trace_hi, trace_lo; /* a remote trace (traceparent), else 0 */
	uint64_t remote_parent;
	uint64_t start_ns, child_ns, py_child_ns;
	size_t height;	 /* stack entries when it began (moves down, never up) */
	uint64_t anchor; /* id of the top entry then, 0 for an empty stack */
	uint32_t depth;
	uint8_t kind;
	uint8_t leaf; /* "glass.leaf": never a parent (pipelined commands, pending connects) */
	uint8_t sent_id; /* its id is the parent id of a traceparent it sent (propagated_ids) */
	char *name;
	uint32_t name_len, name_cap;
	int name_nil;
	uint8_t *battrs; /* the begin's attribute map (raw msgpack), and its pair count */
	uint32_t battrs_len, battrs_cap;
	uint64_t battrs_n;
	/* An HTTP request that ended while frames opened under it still run (the handler returns
	 * after the last response byte went out): its end is kept and the span emitted when they
	 * have returned, so that consumers see children before their parent, as everywhere. */
	uint8_t ended;
	uint8_t end_status;
	uint64_t end_ns;
	int end_name_nil;
	char *end_name;
	uint32_t end_name_len, end_name_cap;
	uint8_t *eattrs;
	uint32_t eattrs_len, eattrs_cap;
	uint64_t eattrs_n;
};

#define OPS_MAX 256	     /* open operations per thread; the oldest is closed beyond */
#define TRACE_OVERRIDES 64 /* recent roots with a remote trace id */

struct trace_override {
	uint64_t root, hi, lo;
	int salt; /* the whole root is in it (a request served): its ids are salted */
};

struct glass_spans {
	struct glass_proc *proc;
	glass_code_lookup_fn lookup;
	void *lookup_ctx;
	glass_span_fn on_start, on_end;
	glass_span_fn on_run_start, on_run_end; /* generator runs (glass_spans_set_runs) */
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
	int thread_ended; /* THREAD_END seen */

	struct op *ops; /* open operations, oldest first */
	size_t nops;
	struct trace_override over[TRACE_OVERRIDES];
	size_t nover, over_next;
	uint64_t salt;	  /* span ids in a trace shared with other recordings are xor'ed with it */
	uint64_t keep_id; /* the span being emitted has the id it sent out (not salted) */
	struct glass_attr *attrs; /* attributes of the operation being emitted */
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

const char *glass_span_str(const struct glass_span *sp, const char *key, size_t *len)
{
	const struct glass_attr *a = glass_span_attr(sp, key);
	if (!a || a->type != GLASS_ATTR_STR || !a->s.p) {
		*len = 0;
		return "";
	}
	*len = a->s.len;
	return a->s.p;
}

static size_t key_len(int n, size_t cap)
{
	return n < 0 || !cap ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t glass_span_endpoint_key(const struct glass_span *sp, char *out, size_t cap)
{
	size_t ml, rl;
	const char *m = glass_span_str(sp, "http.request.method", &ml);
	const char *r = glass_span_str(sp, "http.route", &rl);
	return key_len(snprintf(out, cap, "%.*s %.*s", (int)ml, m, (int)rl, r), cap);
}

const char *glass_span_statement(const struct glass_span *sp, size_t *len)
{
	const char *st = glass_span_str(sp, "db.statement", len);
	if (*len)
		return st;
	*len = sp->name.p ? sp->name.len : 0;
	return sp->name.p ? sp->name.p : "";
}

size_t glass_span_statement_key(const struct glass_span *sp, char *out, size_t cap)
{
	size_t sl, tl;
	const char *sys = glass_span_str(sp, "db.system", &sl);
	const char *st = glass_span_statement(sp, &tl);
	return key_len(snprintf(out, cap, "%.*s\t%.*s", (int)sl, sys, (int)tl, st), cap);
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

void glass_spans_set_runs(struct glass_spans *b, glass_span_fn on_run_start,
			  glass_span_fn on_run_end)
{
	b->on_run_start = on_run_start;
	b->on_run_end = on_run_end;
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
	if (b->ops) {
		for (size_t i = 0; i < OPS_MAX; i++) {
			free(b->ops[i].name);
			free(b->ops[i].battrs);
			free(b->ops[i].end_name);
			free(b->ops[i].eattrs);
		}
		free(b->ops);
	}
	free(b->attrs);
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
	sp->kind = GLASS_KIND_PYTHON;
	sp->name.p = NULL;
	sp->name.len = 0;
	sp->attrs = NULL;
	sp->nattrs = 0;
	sp->remote_parent_id = 0;
}

static void apply_override(struct glass_spans *b, struct glass_span *sp);

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
	if (unlikely(b->nover))
		apply_override(b, &sp);
	sp.start_ns = start;
	sp.depth = depth;
	if (is_gen) {
		sp.gen = sp.code ? glass_gen_kind_of(sp.code->flags) : GLASS_GEN_GENERATOR;
		if (sp.gen == GLASS_GEN_NONE)
			sp.gen = GLASS_GEN_GENERATOR;
	}
	b->on_start(b->ctx, &sp);
}

/* One run of a generator activation `a` (on_run_start: dur 0; on_run_end: its length and self
 * time). parent is the span that resumed it for a start, the span's parent for an end. */
static void emit_run(struct glass_spans *b, glass_span_fn fn, const struct act *a, uint64_t parent,
		     uint32_t depth, uint64_t dur, uint64_t self)
{
	struct glass_span sp;
	memset(&sp, 0, sizeof(sp));
	fill_common(b, &sp, a->code);
	sp.span_id = a->id;
	sp.parent_id = parent;
	sp.trace_lo = a->root;
	if (unlikely(b->nover))
		apply_override(b, &sp);
	sp.start_ns = a->start_ns;
	sp.dur_ns = dur;
	sp.self_ns = self;
	sp.depth = depth;
	sp.gen = sp.code ? glass_gen_kind_of(sp.code->flags) : GLASS_GEN_GENERATOR;
	if (sp.gen == GLASS_GEN_NONE)
		sp.gen = GLASS_GEN_GENERATOR;
	fn(b->ctx, &sp);
}

static void ops_note_child(struct glass_spans *b, struct glass_span *sp);

/* A span of a root whose trace is a remote or propagated one takes that trace id. In a request
 * served, ids are salted with the session's, since other recordings' spans share the trace
 * (their ids are numbered the same way); the id a client span sent out stays as sent (the
 * callee names it). A script's root learns its trace at its first call out: its ids stay. */
static void apply_override(struct glass_spans *b, struct glass_span *sp)
{
	for (size_t i = 0; i < b->nover; i++)
		if (b->over[i].root == sp->trace_lo) {
			sp->trace_hi = b->over[i].hi;
			sp->trace_lo = b->over[i].lo;
			if (!b->over[i].salt)
				return;
			if (!b->salt) {
				uint64_t z = b->ids.trace_hi + 0x9E3779B97F4A7C15ull;
				z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
				z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
				b->salt = (z ^ (z >> 31)) | 1;
			}
			if (!b->keep_id || sp->span_id != b->keep_id)
				sp->span_id ^= b->salt;
			if (sp->parent_id)
				sp->parent_id ^= b->salt;
			return;
		}
}

static void emit_end(struct glass_spans *b, struct glass_span *sp)
{
	if (unlikely(b->nops || b->nover))
		ops_note_child(b, sp);
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
	if (unlikely(b->nops)) {
		/* the newest operation anchored where we are is the parent */
		uint64_t top = b->n ? b->stack[b->n - 1].id : 0;
		for (size_t i = b->nops; i-- > 0;) {
			const struct op *o = &b->ops[i];
			if (o->height == b->n && o->anchor == top && !o->leaf) {
				*parent = o->id;
				*root = o->root;
				*depth = o->depth + 1;
				return;
			}
		}
	}
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

static void op_emit_deferred(struct glass_spans *b, struct op *o);

/* The stack lost its top: operations anchored above the new top move down to it, and a
 * request whose end was waiting for the frames above it is emitted. */
static void ops_float(struct glass_spans *b)
{
	uint64_t top = b->n ? b->stack[b->n - 1].id : 0;
	int waiting = 0;
	for (size_t i = 0; i < b->nops; i++) {
		struct op *o = &b->ops[i];
		if (o->height > b->n) {
			o->height = b->n;
			o->anchor = top;
		}
		waiting |= o->ended;
	}
	for (size_t i = b->nops; waiting && i-- > 0;)
		if (b->ops[i].ended && b->n <= b->ops[i].height)
			op_emit_deferred(b, &b->ops[i]);
}

static void add_child_time(struct glass_spans *b, uint64_t elapsed)
{
	if (b->n)
		b->stack[b->n - 1].child_ns += elapsed;
}

/* Pops one level of the stack ending at ts with the given outcome. `want_gen` tells what the
 * record expected (1 generator exit, 0 function exit, -1 either: lost/unfinished). */
static void pop_one_inner(struct glass_spans *b, uint64_t ts, enum glass_span_status st,
			  uint64_t exc, int have_exc, int want_gen)
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
	if (b->on_run_end)
		emit_run(b, b->on_run_end, a, a->parent, a->depth, el,
			 a->child_ns < el ? el - a->child_ns : 0);
	struct gen *g = &b->gens[a->gen];
	if (g->epoch != a->epoch || g->state != GEN_ACTIVE)
		return; /* its span was closed already (object replaced) */
	g->self_ns += a->child_ns < el ? el - a->child_ns : 0;
	gen_emit(b, a->gen, ts, st, exc, have_exc);
	gen_release(b, a->gen);
}

/* Pops one level; then operations anchored above move down, and a request waiting for this
 * frame is emitted after it. */
static void pop_one(struct glass_spans *b, uint64_t ts, enum glass_span_status st, uint64_t exc,
		    int have_exc, int want_gen)
{
	pop_one_inner(b, ts, st, exc, have_exc, want_gen);
	if (unlikely(b->nops))
		ops_float(b);
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
	if (b->on_run_start)
		emit_run(b, b->on_run_start, a, parent, depth, 0, 0);
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
	if (unlikely(b->nops))
		ops_float(b);
	add_child_time(b, el);
	if (b->on_run_end)
		emit_run(b, b->on_run_end, a, a->parent, a->depth, el, child < el ? el - child : 0);
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

static void close_stack(struct glass_spans *b, uint64_t ts, enum glass_span_status st)
{
	while (b->n) {
		struct act *a = &b->stack[b->n - 1];
		if (a->kind == ACT_HOLE && a->count > 1) {
			/* a run of placeholders goes at once, whatever its length */
			b->depth -= a->count - 1;
			a->depth -= (uint32_t)(a->count - 1);
			a->count = 1;
		}
		pop_one(b, ts, st, 0, 0, -1);
	}
	b->depth = 0;
}

/* ---- captured operations ------------------------------------------------------------------ */

static const enum glass_span_kind op_kinds[GLASS_OP_MAX_KIND + 1] = {
    [GLASS_OP_DB] = GLASS_KIND_DB,
    [GLASS_OP_HTTP_SERVER] = GLASS_KIND_HTTP_SERVER,
    [GLASS_OP_HTTP_CLIENT] = GLASS_KIND_HTTP_CLIENT,
    [GLASS_OP_NET] = GLASS_KIND_NET,
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_hex64(const char *p, uint64_t *v)
{
	uint64_t x = 0;
	for (int i = 0; i < 16; i++) {
		int h = hexval((unsigned char)p[i]);
		if (h < 0)
			return -1;
		x = x << 4 | (uint64_t)h;
	}
	*v = x;
	return 0;
}

/* W3C traceparent "00-<32 hex trace>-<16 hex parent>-<2 hex flags>"; all-zero ids invalid. */
static int parse_traceparent(const struct glass_str *t, uint64_t *hi, uint64_t *lo,
			     uint64_t *parent)
{
	const char *p = t->p;
	if (!p || t->len < 55 || p[2] != '-' || p[35] != '-' || p[52] != '-')
		return -1;
	if (hexval((unsigned char)p[0]) < 0 || hexval((unsigned char)p[1]) < 0 ||
	    (p[0] == 'f' && p[1] == 'f'))
		return -1;
	if (parse_hex64(p + 3, hi) || parse_hex64(p + 19, lo) || parse_hex64(p + 36, parent))
		return -1;
	if ((!*hi && !*lo) || !*parent)
		return -1;
	return 0;
}

static void note_override(struct glass_spans *b, uint64_t root, uint64_t hi, uint64_t lo,
			  int salt);

/*
 * Trace context the process sent out (propagate_context; preload/propagate.c): a client span
 * that sent a traceparent ("glass.traceparent") takes the parent id it named as its own id,
 * and its trace becomes the one it named; a request served that started a trace
 * ("glass.trace_id", 32 hex digits) is in that trace. So the receiving service's span, which
 * joins the traceparent it got, is this span's child in any reader.
 */
static void propagated_ids(struct glass_spans *b, struct op *o, unsigned kind,
			   const struct glass_map_item *m)
{
	uint64_t hi, lo, parent;
	if (kind == GLASS_OP_HTTP_CLIENT && m->key.len == 17 &&
	    !memcmp(m->key.p, "glass.traceparent", 17) &&
	    parse_traceparent(&m->s, &hi, &lo, &parent) == 0) {
		int root_is_me = o->root == o->id;
		o->id = parent;
		o->sent_id = 1;
		if (root_is_me)
			o->root = parent;
		for (size_t i = 0; i < b->nover; i++)
			if (b->over[i].root == o->root)
				return; /* the trace is already set (a request served, a traceparent) */
		/* a root that began before (a script's): its ids stay (they were seen already) */
		note_override(b, o->root, hi, lo, 0);
	} else if (kind == GLASS_OP_HTTP_SERVER && m->key.len == 14 &&
		   !memcmp(m->key.p, "glass.trace_id", 14) && m->s.len == 32 &&
		   !parse_hex64(m->s.p, &hi) && !parse_hex64(m->s.p + 16, &lo) && (hi || lo)) {
		note_override(b, o->id, hi, lo, 1);
	}
}

static struct op *op_find(struct glass_spans *b, uint64_t opn)
{
	for (size_t i = b->nops; i-- > 0;)
		if (b->ops[i].op == opn)
			return &b->ops[i];
	return NULL;
}

static struct op *op_by_id(struct glass_spans *b, uint64_t id)
{
	for (size_t i = b->nops; i-- > 0;)
		if (b->ops[i].id == id)
			return &b->ops[i];
	return NULL;
}

/* A completed span: its trace id may be a remote one, and its time counts as a child's in an
 * operation that is its parent. */
static void ops_note_child(struct glass_spans *b, struct glass_span *sp)
{
	if (sp->parent_id && b->nops) {
		struct op *o = op_by_id(b, sp->parent_id);
		if (o) {
			uint64_t d = sp->dur_ns > sp->suspended_ns ? sp->dur_ns - sp->suspended_ns : 0;
			o->child_ns += d;
			if (sp->kind == GLASS_KIND_PYTHON)
				o->py_child_ns += d;
		}
	}
	apply_override(b, sp);
}

static void note_override(struct glass_spans *b, uint64_t root, uint64_t hi, uint64_t lo,
			  int salt)
{
	struct trace_override *t = &b->over[b->over_next];
	b->over_next = (b->over_next + 1) % TRACE_OVERRIDES;
	if (b->nover < TRACE_OVERRIDES)
		b->nover++;
	t->root = root;
	t->hi = hi;
	t->lo = lo;
	t->salt = salt;
}

/* Appends the pairs of a raw attribute map to b->attrs (at most GLASS_MAX_ATTRS in all; a later
 * key replaces an earlier one). */
static size_t add_attrs(struct glass_spans *b, size_t n, struct glass_map_iter *it)
{
	struct glass_map_item m;
	while (glass_map_next(it, &m)) {
		if (m.type == GLASS_MAP_NIL || (m.key.len == 10 && !memcmp(m.key.p, "glass.leaf", 10)))
			continue;
		size_t k = 0;
		while (k < n && !(b->attrs[k].key.len == m.key.len &&
				  !memcmp(b->attrs[k].key.p, m.key.p, m.key.len)))
			k++;
		if (k == n) {
			if (n == 2 * GLASS_MAX_ATTRS)
				continue;
			n++;
		}
		struct glass_attr *a = &b->attrs[k];
		a->key = m.key;
		a->type = m.type == GLASS_MAP_STR ? GLASS_ATTR_STR
			  : m.type == GLASS_MAP_BOOL ? GLASS_ATTR_BOOL
						     : GLASS_ATTR_INT;
		a->s = m.s;
		a->i = m.i;
	}
	return n;
}

static void op_release(struct glass_spans *b, struct op *o)
{
	size_t i = (size_t)(o - b->ops);
	struct op keep = *o; /* its buffers move to the free slot at the end */
	memmove(&b->ops[i], &b->ops[i + 1], (b->nops - i - 1) * sizeof(*o));
	b->nops--;
	b->ops[b->nops] = keep;
	b->ops[b->nops].op = 0;
}

/* Emits an operation's span (end: the OP_END record, or NULL when it did not end) and frees
 * its slot. */
static void op_emit(struct glass_spans *b, struct op *o, uint64_t ts, const struct glass_record *end,
		    enum glass_span_status st)
{
	struct glass_span sp;
	memset(&sp, 0, sizeof(sp));
	fill_common(b, &sp, 0);
	sp.code = NULL;
	sp.kind = op_kinds[o->kind <= GLASS_OP_MAX_KIND ? o->kind : 0];
	if (end && end->s[3].p) {
		sp.name = end->s[3];
	} else if (!o->name_nil) {
		sp.name.p = o->name ? o->name : "";
		sp.name.len = o->name_len;
	}
	sp.span_id = o->id;
	sp.parent_id = o->parent;
	sp.trace_lo = o->root;
	sp.start_ns = o->start_ns;
	sp.dur_ns = span_dur(o->start_ns, ts);
	sp.self_ns = o->child_ns < sp.dur_ns ? sp.dur_ns - o->child_ns : 0;
	sp.depth = o->depth;
	sp.status = st;
	sp.remote_parent_id = o->remote_parent;
	b->keep_id = o->sent_id ? o->id : 0; /* (emit_end below: apply_override) */
	size_t n = 0;
	if (!b->attrs)
		b->attrs = calloc(2 * GLASS_MAX_ATTRS, sizeof(*b->attrs));
	if (b->attrs) {
		struct glass_map_iter it;
		struct glass_record r;
		if (o->battrs_n) {
			r.nfields = 5;
			r.u[4] = o->battrs_n;
			r.s[4].p = (const char *)o->battrs;
			r.s[4].len = o->battrs_len;
			glass_map_begin(&r, 4, &it);
			n = add_attrs(b, n, &it);
		}
		if (end) {
			glass_map_begin(end, 4, &it);
			n = add_attrs(b, n, &it);
		}
	}
	sp.attrs = b->attrs;
	sp.nattrs = n;
	if (st == GLASS_SPAN_ERROR) {
		const struct glass_attr *t = glass_span_attr(&sp, "error.type");
		const struct glass_attr *m = glass_span_attr(&sp, "error.message");
		if (t && t->type == GLASS_ATTR_STR)
			sp.err_type = t->s;
		if (m && m->type == GLASS_ATTR_STR)
			sp.err_msg = m->s;
	}
	/* time in the parent: a parent operation's child time, or the anchor frame's (less the
	 * Python frames under us, which the stack counted there already) */
	uint64_t parent = o->parent;
	uint64_t own = sp.dur_ns > o->py_child_ns ? sp.dur_ns - o->py_child_ns : 0;
	op_release(b, o);
	if (parent && !op_by_id(b, parent)) { /* (a parent operation counts it in emit_end) */
		for (size_t i = b->n, k = 0; i-- > 0 && k < 8; k++)
			if (b->stack[i].id == parent && b->stack[i].kind != ACT_HOLE) {
				b->stack[i].child_ns += own;
				break;
			}
	}
	emit_end(b, &sp);
	b->keep_id = 0;
}

static void on_op_begin(struct glass_spans *b, uint64_t ts, const struct glass_record *rec)
{
	if (!b->ops) {
		b->ops = calloc(OPS_MAX, sizeof(*b->ops));
		if (!b->ops)
			return;
	}
	if (b->nops == OPS_MAX) /* the oldest never ended: close it */
		op_emit(b, &b->ops[0], ts, NULL, GLASS_SPAN_UNFINISHED);
	uint64_t parent, root;
	uint32_t depth;
	unsigned kind = rec->u[2] <= GLASS_OP_MAX_KIND && rec->u[2] ? (unsigned)rec->u[2] : 0;
	if (!kind) {
		b->counts.unknown_ops++;
		return;
	}
	if (kind == GLASS_OP_HTTP_SERVER) {
		parent = root = 0;
		depth = 0;
	} else {
		parent_of_new(b, &parent, &root, &depth);
	}
	struct op *o = &b->ops[b->nops++];
	o->op = rec->u[1];
	o->id = new_id(b);
	o->parent = parent;
	o->root = root ? root : o->id;
	o->trace_hi = o->trace_lo = o->remote_parent = 0;
	o->start_ns = ts;
	o->child_ns = o->py_child_ns = 0;
	o->height = b->n;
	o->anchor = b->n ? b->stack[b->n - 1].id : 0;
	o->depth = depth;
	o->kind = (uint8_t)kind;
	copy_text(&o->name, &o->name_len, &o->name_cap, &o->name_nil, &rec->s[3]);
	o->battrs_n = 0;
	o->battrs_len = 0;
	if (rec->u[4] && rec->s[4].p && rec->s[4].len) {
		uint32_t len = rec->s[4].len;
		if (len > o->battrs_cap) {
			uint8_t *nb = realloc(o->battrs, len);
			if (nb) {
				o->battrs = nb;
				o->battrs_cap = len;
			}
		}
		if (len <= o->battrs_cap) {
			memcpy(o->battrs, rec->s[4].p, len);
			o->battrs_len = len;
			o->battrs_n = rec->u[4];
		}
	}
	o->leaf = 0;
	o->sent_id = 0;
	o->ended = 0;
	if (o->battrs_n) {
		struct glass_map_iter it;
		struct glass_map_item m;
		glass_map_begin(rec, 4, &it);
		while (glass_map_next(&it, &m)) {
			if (m.type == GLASS_MAP_BOOL && m.key.len == 10 &&
			    !memcmp(m.key.p, "glass.leaf", 10))
				o->leaf = m.i != 0;
			if (kind == GLASS_OP_HTTP_SERVER && m.type == GLASS_MAP_STR &&
			    m.key.len == 11 && !memcmp(m.key.p, "traceparent", 11) &&
			    parse_traceparent(&m.s, &o->trace_hi, &o->trace_lo,
					      &o->remote_parent) == 0)
				note_override(b, o->id, o->trace_hi, o->trace_lo, 1);
			if (m.type == GLASS_MAP_STR && m.key.p && m.key.len > 6 &&
			    !memcmp(m.key.p, "glass.", 6))
				propagated_ids(b, o, kind, &m);
		}
	}
	if (b->on_start) {
		struct glass_span sp;
		memset(&sp, 0, sizeof(sp));
		fill_common(b, &sp, 0);
		sp.code = NULL;
		sp.kind = op_kinds[kind];
		if (!o->name_nil) {
			sp.name.p = o->name ? o->name : "";
			sp.name.len = o->name_len;
		}
		sp.span_id = o->id;
		sp.parent_id = o->parent;
		sp.trace_lo = o->root;
		b->keep_id = o->sent_id ? o->id : 0;
		apply_override(b, &sp);
		b->keep_id = 0;
		sp.remote_parent_id = o->remote_parent;
		sp.start_ns = ts;
		sp.depth = depth;
		/* the begin's attributes (db.system, db.statement, ...) */
		if (!b->attrs)
			b->attrs = calloc(2 * GLASS_MAX_ATTRS, sizeof(*b->attrs));
		if (b->attrs && o->battrs_n) {
			struct glass_map_iter it;
			glass_map_begin(rec, 4, &it);
			sp.nattrs = add_attrs(b, 0, &it);
			sp.attrs = b->attrs;
		}
		b->on_start(b->ctx, &sp);
	}
}

static int copy_bytes(uint8_t **dst, uint32_t *len, uint32_t *cap, const struct glass_str *s)
{
	*len = 0;
	if (!s->p || !s->len)
		return 0;
	if (s->len > *cap) {
		uint8_t *d = realloc(*dst, s->len);
		if (!d)
			return -1;
		*dst = d;
		*cap = s->len;
	}
	memcpy(*dst, s->p, s->len);
	*len = s->len;
	return 0;
}

static void op_emit_deferred(struct glass_spans *b, struct op *o)
{
	struct glass_record r;
	memset(&r, 0, sizeof(r));
	r.tag = GLASS_REC_OP_END;
	r.nfields = 5;
	r.u[2] = o->end_status;
	if (!o->end_name_nil) {
		r.s[3].p = o->end_name ? o->end_name : "";
		r.s[3].len = o->end_name_len;
	}
	r.u[4] = o->eattrs_n;
	r.s[4].p = (const char *)o->eattrs;
	r.s[4].len = o->eattrs_len;
	o->ended = 0;
	op_emit(b, o, o->end_ns, &r, o->end_status == GLASS_OP_OK ? GLASS_SPAN_OK : GLASS_SPAN_ERROR);
}

static void on_op_end(struct glass_spans *b, uint64_t ts, const struct glass_record *rec)
{
	struct op *o = op_find(b, rec->u[1]);
	if (!o || o->ended) {
		b->counts.unmatched_ops++;
		return;
	}
	if (o->kind == GLASS_OP_HTTP_SERVER && b->n > o->height) {
		o->ended = 1;
		o->end_ns = ts;
		o->end_status = rec->u[2] == GLASS_OP_OK ? GLASS_OP_OK : GLASS_OP_ERROR;
		copy_text(&o->end_name, &o->end_name_len, &o->end_name_cap, &o->end_name_nil,
			  &rec->s[3]);
		o->eattrs_n = copy_bytes(&o->eattrs, &o->eattrs_len, &o->eattrs_cap, &rec->s[4]) == 0
				  ? rec->u[4]
				  : 0;
		return;
	}
	op_emit(b, o, ts, rec, rec->u[2] == GLASS_OP_OK ? GLASS_SPAN_OK : GLASS_SPAN_ERROR);
}

static void close_ops(struct glass_spans *b, uint64_t ts)
{
	while (b->nops) {
		struct op *o = &b->ops[b->nops - 1];
		if (o->ended)
			op_emit_deferred(b, o);
		else
			op_emit(b, o, ts, NULL, GLASS_SPAN_UNFINISHED);
	}
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
	case GLASS_REC_THREAD_CPU:
		if (rec->u[1] > c->cpu_ns)
			c->cpu_ns = rec->u[1];
		break;
	case GLASS_REC_THREAD_END:
		note_time(c, ts);
		b->thread_ended = 1;
		close_stack(b, c->last_ns, GLASS_SPAN_UNFINISHED); /* children first: a waiting
								    * request ends after them */
		close_ops(b, c->last_ns);
		break;
	case GLASS_REC_OP_BEGIN:
		note_time(c, ts);
		on_op_begin(b, ts, rec);
		break;
	case GLASS_REC_OP_END:
		note_time(c, ts);
		on_op_end(b, ts, rec);
		break;
	default:
		break;
	}
}

void glass_spans_finish(struct glass_spans *b)
{
	uint64_t end = b->counts.last_ns;
	/* Frames still open at the end of the data: the process ended first (a crash, SIGKILL,
	 * os._exit: unfinished), unless it exited normally after losing records and this thread's
	 * end is not recorded: then their ends are among the lost records. */
	enum glass_span_status st = GLASS_SPAN_UNFINISHED;
	if (b->proc && !b->thread_ended) {
		const struct glass_proc_info *in = glass_proc_info(b->proc);
		if (in && in->state == GLASS_PROC_EXITED && in->lost_events > 0)
			st = GLASS_SPAN_LOST;
	}
	close_stack(b, end, st);
	close_ops(b, end);
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
