/* tools/links.h — resolves LINK_IN records to the spans that handed the work off (LINK_OUT),
 * across the threads and processes of a session. */
#ifndef GLASS_LINKS_H
#define GLASS_LINKS_H

#include <stdint.h>

#include "recorder/reader.h"
#include "spans.h"

struct glass_links;

/* The resolver of proc's session, made at the first call and freed with the session. NULL
 * without a process (unit tests) or on allocation failure. */
struct glass_links *glass_links_of(struct glass_proc *proc);
/*
 * The span that wrote LINK_OUT `link` on thread src_tidx of the process image named src_proc
 * (p NULL: proc itself). The other thread is read through a span builder of its own, only as
 * far as that record (and kept open for the next question). 1 and *out if found.
 */
int glass_links_resolve(struct glass_links *L, struct glass_proc *proc,
			const struct glass_str *src_proc, uint32_t src_tidx, uint64_t link,
			struct glass_link_target *out);
/* The span of proc's parent process that started proc (LINK_OUT naming its pid). */
int glass_links_spawned(struct glass_links *L, struct glass_proc *proc,
			struct glass_link_target *out);

#endif
