/* tools/links.c — LINK_IN to LINK_OUT across threads and processes of a session.
 *
 * Span ids depend only on their own stream, so the span that handed work off is found by
 * reading the stream that wrote the LINK_OUT with a span builder of its own ("peer"), up to that
 * record. A peer stays open: later questions about the same thread continue where it stopped,
 * so each thread is read at most once more, and only the threads some other one links to.
 * A peer that is being read when a question about its own thread comes (a chain of links that
 * leads back) answers from what it has read so far.
 */
#include <stdlib.h>
#include <string.h>

#include "links.h"

struct peer {
	struct glass_proc *proc;
	uint32_t tidx;
	struct glass_stream *st;
	struct glass_spans *b;
	int busy, done;
};

struct glass_links {
	struct glass_session *s;
	struct peer *peers;
	size_t npeers, cap;
	uint8_t *spawn_state; /* per process index: 0 not asked, 1 none, 2 found */
	struct glass_link_target *spawn;
};

static void links_free(void *p)
{
	struct glass_links *L = p;
	if (!L)
		return;
	for (size_t i = 0; i < L->npeers; i++) {
		if (L->peers[i].st)
			glass_stream_close(L->peers[i].st);
		glass_spans_free(L->peers[i].b);
	}
	free(L->peers);
	free(L->spawn_state);
	free(L->spawn);
	free(L);
}

struct glass_links *glass_links_of(struct glass_proc *proc)
{
	struct glass_session *s = glass_proc_session(proc);
	if (!s)
		return NULL;
	struct glass_links *L = glass_session_aux(s);
	if (L)
		return L;
	L = calloc(1, sizeof(*L));
	if (!L)
		return NULL;
	L->s = s;
	size_t n = glass_session_nprocs(s);
	L->spawn_state = calloc(n ? n : 1, 1);
	L->spawn = calloc(n ? n : 1, sizeof(*L->spawn));
	if (!L->spawn_state || !L->spawn) {
		links_free(L);
		return NULL;
	}
	glass_session_set_aux(s, L, links_free);
	return L;
}

static size_t proc_index(struct glass_links *L, const struct glass_proc *p)
{
	for (size_t i = 0; i < glass_session_nprocs(L->s); i++)
		if (glass_session_proc(L->s, i) == p)
			return i;
	return SIZE_MAX;
}

static struct peer *peer_of(struct glass_links *L, struct glass_proc *p, uint32_t tidx)
{
	for (size_t i = 0; i < L->npeers; i++)
		if (L->peers[i].proc == p && L->peers[i].tidx == tidx)
			return &L->peers[i];
	size_t pi = proc_index(L, p), ti = 0;
	const uint32_t *tids;
	size_t nt = glass_proc_threads(p, &tids);
	while (ti < nt && tids[ti] != tidx)
		ti++;
	if (pi == SIZE_MAX || ti == nt)
		return NULL;
	if (L->npeers == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 8;
		struct peer *np = realloc(L->peers, cap * sizeof(*np));
		if (!np)
			return NULL;
		L->peers = np;
		L->cap = cap;
	}
	struct peer *e = &L->peers[L->npeers];
	memset(e, 0, sizeof(*e));
	e->proc = p;
	e->tidx = tidx;
	e->st = glass_stream_open(p, tidx);
	e->b = e->st ? glass_spans_new(p, tidx, glass_span_ids_for(L->s, pi, ti), NULL, NULL, NULL)
		     : NULL;
	if (!e->b) {
		if (e->st)
			glass_stream_close(e->st);
		return NULL;
	}
	glass_spans_set_lookup(e->b, NULL, NULL);
	L->npeers++;
	return e;
}

/* Reads the peer on until `stop` says what was asked for is there (or the stream ends). */
static int peer_advance(struct peer *e,
			int (*stop)(struct peer *, const struct glass_record *, const void *),
			const void *arg)
{
	if (e->busy || e->done)
		return 0;
	e->busy = 1;
	struct glass_record rec;
	int found = 0;
	while (!found && glass_stream_next(e->st, &rec)) {
		glass_spans_feed(e->b, &rec);
		found = rec.tag == GLASS_REC_LINK_OUT && stop(e, &rec, arg);
	}
	if (!found) {
		e->done = 1;
		glass_stream_close(e->st);
		e->st = NULL;
	}
	e->busy = 0;
	return found;
}

static int stop_at_link(struct peer *e, const struct glass_record *rec, const void *arg)
{
	(void)e;
	return rec->u[1] == *(const uint64_t *)arg;
}

static int stop_at_pid(struct peer *e, const struct glass_record *rec, const void *arg)
{
	(void)e;
	return rec->u[2] == *(const uint32_t *)arg;
}

int glass_links_resolve(struct glass_links *L, struct glass_proc *proc,
			const struct glass_str *src_proc, uint32_t src_tidx, uint64_t link,
			struct glass_link_target *out)
{
	struct glass_proc *p = proc;
	if (src_proc && src_proc->p) {
		p = NULL;
		for (size_t i = 0; i < glass_session_nprocs(L->s) && !p; i++) {
			struct glass_proc *q = glass_session_proc(L->s, i);
			const char *k = glass_proc_info(q)->key;
			if (k && strlen(k) == src_proc->len &&
			    !memcmp(k, src_proc->p, src_proc->len))
				p = q;
		}
	}
	if (!p)
		return 0;
	struct peer *e = peer_of(L, p, src_tidx);
	if (!e)
		return 0;
	if (glass_spans_link_target(e->b, link, out))
		return 1;
	return peer_advance(e, stop_at_link, &link) && glass_spans_link_target(e->b, link, out);
}

int glass_links_spawned(struct glass_links *L, struct glass_proc *proc,
			struct glass_link_target *out)
{
	size_t pi = proc_index(L, proc);
	if (pi == SIZE_MAX)
		return 0;
	if (L->spawn_state[pi]) {
		*out = L->spawn[pi];
		return L->spawn_state[pi] == 2;
	}
	L->spawn_state[pi] = 1;
	const struct glass_proc_info *in = glass_proc_info(proc);
	uint32_t pid = in->pid;
	/* the parent's images: its pid (a spawned child), or the image this one replaced */
	for (size_t i = 0; i < glass_session_nprocs(L->s); i++) {
		struct glass_proc *q = glass_session_proc(L->s, i);
		if (q == proc || glass_proc_info(q)->pid != in->ppid)
			continue;
		const uint32_t *tids;
		size_t nt = glass_proc_threads(q, &tids);
		for (size_t ti = 0; ti < nt; ti++) {
			struct peer *e = peer_of(L, q, tids[ti]);
			if (!e)
				continue;
			if (glass_spans_child_target(e->b, pid, out) ||
			    (peer_advance(e, stop_at_pid, &pid) &&
			     glass_spans_child_target(e->b, pid, out))) {
				L->spawn[pi] = *out;
				L->spawn_state[pi] = 2;
				return 1;
			}
		}
	}
	return 0;
}
