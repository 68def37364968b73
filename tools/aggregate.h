/* tools/aggregate.h — spans grouped into functions, HTTP endpoints, statements and outbound
 * peers: the one grouping summary and html share, so one session gives the same numbers. */
#ifndef GLASS_AGGREGATE_H
#define GLASS_AGGREGATE_H

#include "recorder/reader.h"
#include "spans.h"
#include "stats.h"

/* A function row's identity: its code definition, or pid and id when the id was never defined.
 * The row's key is module, qualname, file and line, so the same function in several processes
 * is one row and two functions of one name are two; undefined code is one row per process. */
struct glass_agg_fn {
	const struct glass_code_def *def;
	uint32_t pid, code_id;
};

/* What a row of the captured-operation tables counts besides its statistics. */
struct glass_agg_op {
	uint64_t status[6]; /* HTTP: responses by class 1xx..5xx (index 1..5), 0: none/aborted */
	uint64_t rows;	    /* DB: rows returned or affected, summed */
	uint32_t kind;
};

/* Rows keyed by text: an endpoint ("GET /users/{id}"), a statement ("system\tstatement") or a
 * peer ("postgresql db:5432"); each with its glass_fstats (by the key's index) and op facts. */
struct glass_agg_table {
	struct glass_ftable *ft; /* NULL until the first row */
	struct glass_agg_op *op; /* op[i]: row i */
	size_t nop, cap;
};

struct glass_agg {
	struct glass_ftable *functions; /* Python functions */
	struct glass_agg_fn *fn;	/* fn[i]: who function row i is */
	size_t nfn, capfn;
	struct glass_agg_table endpoints, statements, peers;
	/* the current process (glass_agg_process): code definition index -> row */
	const struct glass_code_def *codes;
	size_t ncodes;
	long *cache;
	struct glass_fstats **fcache;
	int oom; /* some span could not be counted */
};

/* An empty aggregation; -1 when out of memory. */
int glass_agg_init(struct glass_agg *A);
/* The spans that follow come from process p (before its first span). -1 when out of memory. */
int glass_agg_process(struct glass_agg *A, struct glass_proc *p);
/* Counts one completed span in its row (function, or endpoint/statement and peer). */
void glass_agg_span(struct glass_agg *A, const struct glass_span *sp);
void glass_agg_free(struct glass_agg *A);

/* The display name of function row i: "module:qualname", or "<code N of pid P>". */
void glass_agg_fn_name(const struct glass_agg *A, size_t i, char *buf, size_t cap);

/* A row of a table and the value it is ordered by. */
struct glass_agg_rank {
	size_t i;
	uint64_t key;
};
/* Sorts ranks by key, largest first; equal keys in row order. */
void glass_agg_rank_sort(struct glass_agg_rank *r, size_t n);
/* The rows of ft (may be NULL: none) by total time, slowest first, in *out (to free; NULL when
 * out of memory, with 0 returned). Returns the number of rows. */
size_t glass_agg_by_total(struct glass_ftable *ft, struct glass_agg_rank **out);

#endif
