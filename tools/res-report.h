/* tools/res-report.h — resources over time (tools/resources.h) in each report's own terms. */
#ifndef GLASS_RES_REPORT_H
#define GLASS_RES_REPORT_H

#include <stdint.h>
#include <stdio.h>

struct sqlite3;

/* summary: a table of peak and mean CPU, RSS, threads and open files per process. */
void res_print_summary(FILE *f, const char *session_dir);
/* sqlite: the `resources` table (one row per sample) and the `process_resources` view.
 * 0, or -1 with the error printed. */
int res_sqlite(struct sqlite3 *db, const char *session_dir);
/* chrome: counter events ("ph":"C") per process, ts from base_ns; *events counts the events
 * written so far (a comma precedes every one after the first). 0, or -1 on a write error. */
int res_chrome(FILE *out, const char *session_dir, uint64_t base_ns, uint64_t *events);
/* metrics: gauges of the last sample and peaks per process, Prometheus text or spectatord
 * lines. 0, or -1 on a write error. */
int res_metrics(FILE *out, const char *session_dir, int spectatord);

#endif
