/* tools/native-sqlite.c — `glass-report sqlite`'s native tables: samples, native_frames and
 * crashes (mixed stacks from tools/native.c). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native.h"

static const char native_schema[] =
    "CREATE TABLE native_frames (\n"
    "  id INTEGER PRIMARY KEY, name TEXT, object TEXT, file TEXT, line INTEGER,\n"
    "  python INTEGER);\n"
    "CREATE TABLE samples (\n"
    "  pid INTEGER, tid INTEGER, ts_ns INTEGER, weight_ns INTEGER, wall INTEGER,\n"
    "  leaf INTEGER REFERENCES native_frames(id), stack TEXT);\n"
    "CREATE TABLE crashes (\n"
    "  pid INTEGER, tid INTEGER, ts_ns INTEGER, signal INTEGER, signal_name TEXT, code INTEGER,\n"
    "  address INTEGER, stack TEXT);\n";

struct fent {
	char *key;
	int64_t id;
};

struct nsq {
	sqlite3 *db;
	struct glass_native *n;
	sqlite3_stmt *ins_frame, *ins_sample, *ins_crash;
	struct fent *tab;
	size_t mask, count;
	int failed;
	struct native_mixed m[260];
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static int64_t frame_id(struct nsq *q, const struct native_mixed *m)
{
	char key[2400];
	snprintf(key, sizeof(key), "%d\t%s\t%s\t%s\t%u", m->python, m->label ? m->label : "",
		 m->object ? m->object : "", m->file ? m->file : "", m->line);
	if (!q->tab || (q->count + 1) * 2 > q->mask + 1) {
		size_t nm = q->tab ? q->mask * 2 + 1 : 1023;
		struct fent *t = calloc(nm + 1, sizeof(*t));
		if (!t)
			exit(1);
		for (size_t i = 0; q->tab && i <= q->mask; i++) {
			if (!q->tab[i].key)
				continue;
			size_t j = (size_t)hash_str(q->tab[i].key) & nm;
			while (t[j].key)
				j = (j + 1) & nm;
			t[j] = q->tab[i];
		}
		free(q->tab);
		q->tab = t;
		q->mask = nm;
	}
	size_t i = (size_t)hash_str(key) & q->mask;
	for (; q->tab[i].key; i = (i + 1) & q->mask)
		if (!strcmp(q->tab[i].key, key))
			return q->tab[i].id;
	int64_t id = (int64_t)q->count + 1;
	q->tab[i].key = strdup(key);
	q->tab[i].id = id;
	q->count++;
	sqlite3_stmt *st = q->ins_frame;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, m->label ? m->label : "", -1, SQLITE_TRANSIENT);
	if (m->object)
		sqlite3_bind_text(st, 3, m->object, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 3);
	if (m->file)
		sqlite3_bind_text(st, 4, m->file, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, m->line);
	sqlite3_bind_int(st, 6, m->python);
	if (sqlite3_step(st) != SQLITE_DONE)
		q->failed = 1;
	sqlite3_reset(st);
	return id;
}

static void on_event(void *ctx, const struct native_event *e)
{
	struct nsq *q = ctx;
	if (q->failed)
		return;
	const struct glass_record *r = e->rec;
	int crash = r->tag == GLASS_REC_CRASH;
	size_t k = glass_native_mixed(q->n, e, crash, q->m, 256);
	char stack[16384];
	size_t o = 0;
	int64_t leaf = 0;
	stack[0] = 0;
	for (size_t i = 0; i < k; i++) {
		/* samples: frame ids root first; crashes: names innermost first */
		const struct native_mixed *m = &q->m[crash ? k - 1 - i : i];
		int64_t id = frame_id(q, m);
		leaf = id;
		int w = crash ? snprintf(stack + o, sizeof(stack) - o, "%s%s", i ? "\n" : "",
					 m->label ? m->label : "")
			      : snprintf(stack + o, sizeof(stack) - o, "%s%lld", i ? ";" : "",
					 (long long)id);
		if (w < 0 || (size_t)w >= sizeof(stack) - o)
			break;
		o += (size_t)w;
	}
	const struct glass_proc_info *pi = glass_proc_info(e->proc);
	uint32_t tid = glass_proc_thread_tid(e->proc, e->tidx);
	sqlite3_stmt *st = crash ? q->ins_crash : q->ins_sample;
	sqlite3_bind_int64(st, 1, pi->pid);
	sqlite3_bind_int64(st, 2, tid);
	sqlite3_bind_int64(st, 3, (int64_t)r->ts_ns);
	if (crash) {
		char sb[32];
		sqlite3_bind_int64(st, 4, (int64_t)r->u[1]);
		sqlite3_bind_text(st, 5, glass_native_signame((int)r->u[1], sb, sizeof(sb)), -1,
				  SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 6, (int64_t)r->u[2]);
		sqlite3_bind_int64(st, 7, (int64_t)r->u[3]);
		sqlite3_bind_text(st, 8, stack, -1, SQLITE_TRANSIENT);
	} else {
		sqlite3_bind_int64(st, 4, (int64_t)r->u[3]);
		sqlite3_bind_int64(st, 5, (int64_t)r->u[4]);
		if (k)
			sqlite3_bind_int64(st, 6, leaf);
		else
			sqlite3_bind_null(st, 6);
		sqlite3_bind_text(st, 7, stack, -1, SQLITE_TRANSIENT);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		q->failed = 1;
	sqlite3_reset(st);
}

int native_sqlite(sqlite3 *db, struct glass_session *s)
{
	struct nsq *q = calloc(1, sizeof(*q));
	if (!q)
		return -1;
	q->db = db;
	int rc = -1;
	if (sqlite3_exec(db, native_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO native_frames VALUES (?,?,?,?,?,?)", -1,
			       &q->ins_frame, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO samples VALUES (?,?,?,?,?,?,?)", -1, &q->ins_sample,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO crashes VALUES (?,?,?,?,?,?,?,?)", -1,
			       &q->ins_crash, NULL) != SQLITE_OK)
		goto out;
	q->n = glass_native_open(s);
	if (!q->n)
		goto out;
	glass_native_walk(q->n, NATIVE_SAMPLES | NATIVE_CRASHES, on_event, q);
	for (size_t i = 0; i < glass_native_nwarnings(q->n); i++)
		fprintf(stderr, "glass-report: warning: %s\n", glass_native_warning(q->n, i));
	rc = q->failed ? -1 : 0;
out:
	sqlite3_finalize(q->ins_frame);
	sqlite3_finalize(q->ins_sample);
	sqlite3_finalize(q->ins_crash);
	glass_native_close(q->n);
	for (size_t i = 0; q->tab && i <= q->mask; i++)
		free(q->tab[i].key);
	free(q->tab);
	free(q);
	return rc;
}
