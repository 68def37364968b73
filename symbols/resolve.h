/* symbols/resolve.h — addresses to function+offset, file and line (glass-report side).
 *
 * Reads ELF files with libelf: .symtab, else .dynsym; the GNU build-id; a separate debug file
 * from /usr/lib/debug/.build-id/xx/yyyy.debug or .gnu_debuglink (beside the object, in .debug/,
 * under /usr/lib/debug); file and line with libdw where DWARF exists. Each object is read once
 * (cache keyed by path and build-id). An object whose build-id differs from the recorded one
 * (upgraded, or another machine) never yields a name: only object+0xoffset, with one warning.
 * Never included by the preload (symbols/capture.h is its side).
 */
#ifndef GLASS_SYMBOLS_RESOLVE_H
#define GLASS_SYMBOLS_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

struct glass_sym_resolver;
struct glass_sym_file;

enum glass_sym_status {
	GLASS_SYM_OK = 0, /* function known */
	GLASS_SYM_NO_SYMBOL, /* the object is readable but has no symbol there */
	GLASS_SYM_MISSING, /* the file cannot be read */
	GLASS_SYM_MISMATCH, /* the file's build-id differs from the recorded one */
};

struct glass_sym_frame {
	const char *function; /* NULL unless GLASS_SYM_OK */
	uint64_t offset; /* from the function's start; or from the object's start otherwise */
	const char *file; /* source file, NULL when unknown */
	unsigned line;
	enum glass_sym_status status;
};

/* warn(arg, text) is called once per object for a mismatch or an unreadable file (may be NULL). */
struct glass_sym_resolver *glass_sym_resolver_new(void (*warn)(void *arg, const char *text),
						  void *arg);
void glass_sym_resolver_free(struct glass_sym_resolver *r);
/* Looks in root (a directory prefix for every path, e.g. a copy of another machine's files;
 * NULL: none) first. */
void glass_sym_resolver_set_root(struct glass_sym_resolver *r, const char *root);
/* The object at path with the recorded build-id (hex; "" or NULL when none was recorded).
 * Never NULL (an unreadable file gives a file that resolves nothing). */
struct glass_sym_file *glass_sym_file_get(struct glass_sym_resolver *r, const char *path,
					  const char *build_id);
/* Resolves an ELF virtual address of the object (address - load bias). want_line: also file
 * and line (slower: libdw). Strings live as long as the resolver. */
void glass_sym_lookup(struct glass_sym_file *f, uint64_t vaddr, int want_line,
		      struct glass_sym_frame *out);
/* The object's path as given, and its base name. */
const char *glass_sym_file_path(const struct glass_sym_file *f);
const char *glass_sym_file_name(const struct glass_sym_file *f);

#endif
