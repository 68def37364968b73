/* tools/follow.h — streaming a session out while it is recorded (issue 14): `otlp --follow`,
 * `metrics --serve`, `metrics --format spectatord --follow`. */
#ifndef GLASS_FOLLOW_H
#define GLASS_FOLLOW_H

#include <stddef.h>

#include "recorder/reader.h"
#include "spans.h"
#include "text.h"

/* glass-report otlp --follow ... (tools/follow-otlp.c) */
int command_otlp_follow(int argc, char **argv);
/* glass-report metrics --serve ... | --follow ... (tools/follow-metrics.c) */
int command_metrics_follow(int argc, char **argv);

/* From cmd-otlp.c: a span's OTLP/JSON object and a process's service.name, as `otlp` writes. */
void otlp_span_json(struct glass_buf *b, const struct glass_span *sp);
void otlp_service_name(const struct glass_proc_info *in, char *out, size_t cap);

/* The session directory named on the command line (or the newest), as report_open finds it;
 * -1 with the reason printed. */
int follow_session_path(const char *arg, char *out, size_t cap);
/* Argument lists: 1 when argv[1..] holds `opt` (before a "--"). */
int follow_has_option(int argc, char **argv, const char *opt);

#endif
