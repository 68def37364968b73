/* recorder/mp-cursor.h — msgpack-c's packer, instantiated over a raw cursor for the hot path.
 *
 * msgpack-c's pack_template.h is made to be instantiated with a user type and an append
 * macro (its own msgpack_packer is one such instance, calling through a function pointer).
 * This instance appends with a fixed-size memcpy into memory already reserved, so every
 * glass_mp_pack_*() inlines to a compare and a store or two: msgpack-c's encoding, none of
 * its indirect calls.
 */
#ifndef GLASS_MP_CURSOR_H
#define GLASS_MP_CURSOR_H

#include <stdint.h>
#include <string.h>

#include <msgpack.h>

struct glass_cursor {
	uint8_t *p;
};

static inline __attribute__((always_inline)) int glass_cursor_append(struct glass_cursor *c,
								      const void *buf, size_t len)
{
	memcpy(c->p, buf, len);
	c->p += len;
	return 0;
}

#define msgpack_pack_inline_func(name)                                                       \
	static inline __attribute__((always_inline, unused)) int glass_mp_pack##name
#define msgpack_pack_inline_func_cint(name)                                                  \
	static inline __attribute__((always_inline, unused)) int glass_mp_pack##name
#define msgpack_pack_inline_func_fixint(name)                                                \
	static inline __attribute__((always_inline, unused)) int glass_mp_pack_fix##name
#define msgpack_pack_user struct glass_cursor *
#define msgpack_pack_append_buffer(user, buf, len) return glass_cursor_append(user, buf, len)

#include <msgpack/pack_template.h>

#endif
