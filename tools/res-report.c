/* tools/res-report.c — resources over time in summary, sqlite, chrome and metrics. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "res-report.h"
#include "resources.h"
#include "text.h"

static void fmt_bytes(char *out, size_t cap, uint64_t b)
{
	if (b >= 10ull << 30)
		snprintf(out, cap, "%.1f GiB", (double)b / (1u << 30));
	else if (b >= 1u << 20)
		snprintf(out, cap, "%.1f MiB", (double)b / (1u << 20));
	else
		snprintf(out, cap, "%.0f KiB", (double)b / 1024);
}

void res_print_summary(FILE *f, const char *session_dir)
{
	struct glass_resources r;
	if (glass_resources_load(session_dir, &r) < 0 || !r.nproc) {
		glass_resources_free(&r);
		return;
	}
	fprintf(f, "\nresources (sampled every %llu ms)\n",
		(unsigned long long)(r.interval_ns ? r.interval_ns / 1000000 : 100));
	fprintf(f, "%-16s %8s %9s %9s %10s %10s %9s %9s\n", "process", "samples", "cpu mean",
		"cpu peak", "rss mean", "rss peak", "threads", "fds");
	for (size_t i = 0; i < r.nproc; i++) {
		const struct glass_res_proc *p = &r.proc[i];
		char rm[32], rp[32], th[32], fd[32];
		fmt_bytes(rm, sizeof(rm), p->mean_rss);
		fmt_bytes(rp, sizeof(rp), p->peak_rss);
		snprintf(th, sizeof(th), "%.0f/%llu", p->mean_threads,
			 (unsigned long long)p->peak_threads);
		snprintf(fd, sizeof(fd), "%.0f/%llu", p->mean_fds, (unsigned long long)p->peak_fds);
		fprintf(f, "%-16s %8zu %8.1f%% %8.1f%% %10s %10s %9s %9s\n", p->key, p->n,
			100 * p->mean_cpu, 100 * p->peak_cpu, rm, rp, th, fd);
	}
	fprintf(f, "(cpu: share of one core, user + system; threads and fds: mean/peak)\n");
	glass_resources_free(&r);
}

static const char res_sql[] =
    "CREATE TABLE resources (\n"
    "  process TEXT, pid INTEGER, ts_ns INTEGER, cpu_user_ns INTEGER, cpu_sys_ns INTEGER,\n"
    "  cpu REAL, rss_bytes INTEGER, threads INTEGER, fds INTEGER);\n"
    "CREATE VIEW process_resources AS\n"
    "SELECT process, pid, count(*) AS samples, min(ts_ns) AS first_ns, max(ts_ns) AS last_ns,\n"
    "  avg(cpu) AS cpu_mean, max(cpu) AS cpu_peak, avg(rss_bytes) AS rss_mean,\n"
    "  max(rss_bytes) AS rss_peak, max(threads) AS threads_peak, max(fds) AS fds_peak\n"
    "FROM resources GROUP BY process ORDER BY pid, process;\n";

int res_sqlite(struct sqlite3 *db, const char *session_dir)
{
	char *err = NULL;
	if (sqlite3_exec(db, res_sql, NULL, NULL, &err) != SQLITE_OK) {
		report_error("sqlite: creating the resources table: %s", err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	struct glass_resources r;
	if (glass_resources_load(session_dir, &r) < 0)
		return 0; /* not a resources file: no rows (the session reads on) */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT INTO resources VALUES (?,?,?,?,?,?,?,?,?)", -1, &st,
			       NULL) != SQLITE_OK) {
		report_error("sqlite: %s", sqlite3_errmsg(db));
		glass_resources_free(&r);
		return -1;
	}
	int rc = 0;
	for (size_t pi = 0; pi < r.nproc && !rc; pi++) {
		const struct glass_res_proc *p = &r.proc[pi];
		for (size_t k = 0; k < p->n; k++) {
			const struct glass_res_sample *s = &r.s[p->first + k];
			sqlite3_bind_text(st, 1, p->key, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, s->pid);
			sqlite3_bind_int64(st, 3, (sqlite3_int64)s->unix_ns);
			sqlite3_bind_int64(st, 4, (sqlite3_int64)s->user_ns);
			sqlite3_bind_int64(st, 5, (sqlite3_int64)s->sys_ns);
			if (k)
				sqlite3_bind_double(st, 6, glass_resources_cpu(&r, p, k));
			else
				sqlite3_bind_null(st, 6);
			sqlite3_bind_int64(st, 7, (sqlite3_int64)s->rss);
			sqlite3_bind_int64(st, 8, (sqlite3_int64)s->threads);
			sqlite3_bind_int64(st, 9, (sqlite3_int64)s->fds);
			if (sqlite3_step(st) != SQLITE_DONE) {
				report_error("sqlite: inserting resources: %s", sqlite3_errmsg(db));
				rc = -1;
				break;
			}
			sqlite3_reset(st);
		}
	}
	sqlite3_finalize(st);
	glass_resources_free(&r);
	return rc;
}

int res_chrome(FILE *out, const char *session_dir, uint64_t base_ns, uint64_t *events)
{
	struct glass_resources r;
	if (glass_resources_load(session_dir, &r) < 0)
		return 0;
	int failed = 0;
	for (size_t pi = 0; pi < r.nproc; pi++) {
		const struct glass_res_proc *p = &r.proc[pi];
		for (size_t k = 0; k < p->n; k++) {
			const struct glass_res_sample *s = &r.s[p->first + k];
			uint64_t d = s->unix_ns > base_ns ? s->unix_ns - base_ns : 0;
			char ts[48];
			snprintf(ts, sizeof(ts), "%llu.%03u", (unsigned long long)(d / 1000),
				 (unsigned)(d % 1000));
			/* counters of one name share a track: one per measure */
			if (k && fprintf(out,
					 "%s{\"name\":\"CPU %%\",\"ph\":\"C\",\"pid\":%u,\"tid\":0,"
					 "\"ts\":%s,\"args\":{\"cpu\":%.1f}}",
					 (*events)++ ? ",\n" : "", s->pid, ts,
					 100 * glass_resources_cpu(&r, p, k)) < 0)
				failed = 1;
			if (fprintf(out,
				    "%s{\"name\":\"RSS MiB\",\"ph\":\"C\",\"pid\":%u,\"tid\":0,"
				    "\"ts\":%s,\"args\":{\"rss\":%.2f}}",
				    (*events)++ ? ",\n" : "", s->pid, ts,
				    (double)s->rss / (1u << 20)) < 0 ||
			    fprintf(out,
				    ",\n{\"name\":\"threads, fds\",\"ph\":\"C\",\"pid\":%u,\"tid\":0,"
				    "\"ts\":%s,\"args\":{\"threads\":%llu,\"fds\":%llu}}",
				    s->pid, ts, (unsigned long long)s->threads,
				    (unsigned long long)s->fds) < 0)
				failed = 1;
			(*events)++;
		}
	}
	glass_resources_free(&r);
	return failed ? -1 : 0;
}

int res_metrics(FILE *out, const char *session_dir, int spectatord)
{
	struct glass_resources r;
	if (glass_resources_load(session_dir, &r) < 0 || !r.nproc) {
		glass_resources_free(&r);
		return 0;
	}
	struct {
		const char *prom, *spec, *help;
	} g[] = {
	    {"glass_process_cpu_seconds", "glass.process.cpuTime",
	     "CPU time (user + system) of the process at its last sample."},
	    {"glass_process_resident_memory_bytes", "glass.process.rss",
	     "Resident memory at the last sample."},
	    {"glass_process_resident_memory_peak_bytes", "glass.process.rssPeak",
	     "Largest resident memory sampled."},
	    {"glass_process_cpu_peak_ratio", "glass.process.cpuPeak",
	     "Largest CPU use between two samples (1 = one core)."},
	    {"glass_process_threads", "glass.process.threads", "OS threads at the last sample."},
	    {"glass_process_open_fds", "glass.process.openFds",
	     "Open file descriptors at the last sample."},
	};
	int failed = 0;
	for (size_t gi = 0; gi < sizeof(g) / sizeof(g[0]); gi++) {
		if (!spectatord && fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", g[gi].prom,
					   g[gi].help, g[gi].prom) < 0)
			failed = 1;
		for (size_t pi = 0; pi < r.nproc; pi++) {
			const struct glass_res_proc *p = &r.proc[pi];
			const struct glass_res_sample *s = &r.s[p->first + p->n - 1];
			double v = gi == 0   ? (double)(s->user_ns + s->sys_ns) / 1e9
				   : gi == 1 ? (double)s->rss
				   : gi == 2 ? (double)p->peak_rss
				   : gi == 3 ? p->peak_cpu
				   : gi == 4 ? (double)s->threads
					     : (double)s->fds;
			int w = spectatord ? fprintf(out, "g:%s,pid=%u,process=%s:%.9g\n",
						     g[gi].spec, p->pid, p->key, v)
					   : fprintf(out, "%s{pid=\"%u\",process=\"%s\"} %.9g\n",
						     g[gi].prom, p->pid, p->key, v);
			if (w < 0)
				failed = 1;
		}
	}
	glass_resources_free(&r);
	return failed ? -1 : 0;
}
