/* tools/html-charts.h — the charts of `glass-report html` (tools/html-charts.c). */
#ifndef GLASS_HTML_CHARTS_H
#define GLASS_HTML_CHARTS_H

#include "spans.h"
#include "text.h"

struct glass_charts;
struct glass_charts *charts_new(void);
/* Every completed span, in each thread's order (HTTP server and DB spans are used). */
void charts_span(struct glass_charts *C, const struct glass_span *sp);
/* A thread's spans are all in: forgets its open traces. */
void charts_thread_end(struct glass_charts *C);
/* The charts' section (empty boxes the script fills). */
void charts_section(struct glass_buf *b);
/* uPlot's stylesheet and the charts' own rules. */
void charts_style(struct glass_buf *b);
/* uPlot (with its licence), the data and the drawing code: for the page's one <script>.
 * -1 when memory ran out (the charts may miss points). */
int charts_script(struct glass_buf *b, struct glass_charts *C, const char *session_dir);
void charts_free(struct glass_charts *C);

#endif
