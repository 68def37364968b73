/* preload/propagate.c — the trace context an outgoing HTTP request carries ("propagate_context":
 * true): which trace the calling thread is in, and a fresh id for the calling span.
 *
 * glass-report names spans after the fact, so the preload cannot know the id the report will
 * give the calling span. Instead the ids travel the other way: the client span records the
 * traceparent it sent ("glass.traceparent"), and the report gives that span the parent id the
 * header named and puts its trace under the header's trace id; a request served records the
 * trace it belongs to ("glass.trace_id") when it did not come with a traceparent, so every span
 * of that request is in the trace its outgoing calls name. B's http_server span, which joins
 * the received traceparent, is then the child of A's client span in any reader.
 *
 * Per thread: the request being served (sync servers serve one per thread; an asyncio server's
 * interleaved requests take the most recent one's trace), else one trace per thread. Ids come
 * from a per-thread xorshift generator seeded from the clock and the thread: no syscall.
 */
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "glass.h"

struct prop_thread {
	uint64_t rng;
	uint64_t hi, lo;   /* the thread's own trace (outside any request served), 0: none yet */
	uint64_t shi, slo; /* the trace of the request being served */
	int serving;
};
static __thread struct prop_thread P __attribute__((tls_model("initial-exec")));

static uint64_t prop_rand(void)
{
	if (!P.rng)
		P.rng = (glass_ticks() ^ (uint64_t)(uintptr_t)&P * 0x9E3779B97F4A7C15ull ^
			 (uint64_t)G.pid << 32) | 1;
	/* splitmix64 over a counter: well mixed ids from a weak seed */
	uint64_t z = (P.rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return z ? z : 1;
}

void glass_prop_ids(uint64_t *hi, uint64_t *lo, uint64_t *span)
{
	if (P.serving) {
		*hi = P.shi;
		*lo = P.slo;
	} else {
		if (!P.hi) {
			P.hi = prop_rand();
			P.lo = prop_rand();
		}
		*hi = P.hi;
		*lo = P.lo;
	}
	*span = prop_rand();
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static uint64_t hex64(const char *s)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++)
		v = v << 4 | (uint64_t)hexval(s[i]);
	return v;
}

int glass_prop_server_begin(const char *traceparent, char out[33])
{
	P.serving = 1;
	if (traceparent) { /* valid (proto-http checked): "00-<32 hex>-..." */
		P.shi = hex64(traceparent + 3);
		P.slo = hex64(traceparent + 19);
		return 0;
	}
	P.shi = prop_rand();
	P.slo = prop_rand();
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)P.shi, (unsigned long long)P.slo);
	return 1;
}

void glass_prop_server_end(void)
{
	P.serving = 0;
}
