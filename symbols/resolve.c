/* symbols/resolve.c — ELF symbol tables, build-ids, debug files and DWARF lines (libelf/libdw). */
#include "resolve.h"

#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sym {
	uint64_t addr, size;
	uint32_t name; /* offset in strs */
	uint8_t global;
};

struct glass_sym_file {
	struct glass_sym_resolver *r;
	char *path, *name, *rec_id;
	int loaded;
	enum glass_sym_status status; /* MISSING / MISMATCH for the whole file, else OK */
	struct sym *syms;
	size_t nsyms;
	char *strs;
	size_t strs_len, strs_cap;
	char *dwarf_path; /* file holding .debug_info, NULL if none */
	int dw_tried;
	int dw_fd;
	Elf *dw_elf;
	Dwarf *dw;
	struct glass_sym_file *next;
};

struct glass_sym_resolver {
	void (*warn)(void *, const char *);
	void *arg;
	char *root;
	struct glass_sym_file *files;
};

struct glass_sym_resolver *glass_sym_resolver_new(void (*warn)(void *arg, const char *text),
						  void *arg)
{
	elf_version(EV_CURRENT);
	struct glass_sym_resolver *r = calloc(1, sizeof(*r));
	if (r) {
		r->warn = warn;
		r->arg = arg;
	}
	return r;
}

void glass_sym_resolver_set_root(struct glass_sym_resolver *r, const char *root)
{
	free(r->root);
	r->root = root && *root ? strdup(root) : NULL;
}

void glass_sym_resolver_free(struct glass_sym_resolver *r)
{
	if (!r)
		return;
	struct glass_sym_file *f = r->files, *n;
	for (; f; f = n) {
		n = f->next;
		if (f->dw)
			dwarf_end(f->dw);
		if (f->dw_elf)
			elf_end(f->dw_elf);
		if (f->dw_tried && f->dw_fd >= 0)
			close(f->dw_fd);
		free(f->syms);
		free(f->strs);
		free(f->path);
		free(f->name);
		free(f->rec_id);
		free(f->dwarf_path);
		free(f);
	}
	free(r->root);
	free(r);
}

static void warnf(struct glass_sym_resolver *r, const char *fmt, const char *a, const char *b)
{
	char buf[1024];
	if (!r->warn)
		return;
	snprintf(buf, sizeof(buf), fmt, a, b);
	r->warn(r->arg, buf);
}

/* ---- reading one ELF file ------------------------------------------------------------------ */

struct elf_file {
	int fd;
	Elf *e;
	char build_id[41];
	int has_symtab, has_debug_info;
	char debuglink[256];
};

static void elf_close(struct elf_file *ef)
{
	if (ef->e)
		elf_end(ef->e);
	if (ef->fd >= 0)
		close(ef->fd);
	ef->e = NULL;
	ef->fd = -1;
}

static int elf_open(const char *path, struct elf_file *ef)
{
	memset(ef, 0, sizeof(*ef));
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ef->fd < 0)
		return -1;
	ef->e = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	if (!ef->e || elf_kind(ef->e) != ELF_K_ELF || !gelf_getehdr(ef->e, &eh)) {
		elf_close(ef);
		return -1;
	}
	size_t shstrndx;
	if (elf_getshdrstrndx(ef->e, &shstrndx) != 0) {
		elf_close(ef);
		return -1;
	}
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(ef->e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *name = elf_strptr(ef->e, shstrndx, sh.sh_name);
		if (!name)
			continue;
		if (sh.sh_type == SHT_SYMTAB)
			ef->has_symtab = 1;
		if (!strcmp(name, ".debug_info") && sh.sh_type != SHT_NOBITS)
			ef->has_debug_info = 1;
		if (sh.sh_type == SHT_NOTE && !ef->build_id[0]) {
			Elf_Data *d = elf_getdata(scn, NULL);
			size_t off = 0, noff, doff;
			GElf_Nhdr nh;
			while (d && (off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
				if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
				    !memcmp((char *)d->d_buf + noff, "GNU", 4) && nh.n_descsz <= 20 &&
				    doff + nh.n_descsz <= d->d_size) {
					const uint8_t *id = (const uint8_t *)d->d_buf + doff;
					for (unsigned k = 0; k < nh.n_descsz; k++)
						snprintf(ef->build_id + 2 * k, 3, "%02x", id[k]);
					break;
				}
			}
		}
		if (!strcmp(name, ".gnu_debuglink") && sh.sh_type != SHT_NOBITS) {
			Elf_Data *d = elf_getdata(scn, NULL);
			if (d && d->d_size > 1) {
				size_t n = strnlen(d->d_buf, d->d_size);
				if (n < d->d_size && n < sizeof(ef->debuglink))
					memcpy(ef->debuglink, d->d_buf, n + 1);
			}
		}
	}
	return 0;
}

static uint32_t add_str(struct glass_sym_file *f, const char *s)
{
	size_t n = strlen(s) + 1;
	if (f->strs_len + n > f->strs_cap) {
		size_t cap = f->strs_cap ? f->strs_cap * 2 : 65536;
		while (cap < f->strs_len + n)
			cap *= 2;
		char *p = realloc(f->strs, cap);
		if (!p)
			return UINT32_MAX;
		f->strs = p;
		f->strs_cap = cap;
	}
	memcpy(f->strs + f->strs_len, s, n);
	f->strs_len += n;
	return (uint32_t)(f->strs_len - n);
}

static int sym_cmp(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->global != y->global) /* the global name first among aliases */
		return x->global ? -1 : 1;
	return x->size > y->size ? -1 : x->size < y->size;
}

/* Adds the functions of the file's .symtab (want = SHT_SYMTAB) or .dynsym. */
static void read_syms(struct glass_sym_file *f, struct elf_file *ef, unsigned want)
{
	Elf_Scn *scn = NULL;
	size_t cap = f->nsyms;
	while ((scn = elf_nextscn(ef->e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != want || !sh.sh_entsize)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym s;
			if (!gelf_getsym(d, (int)i, &s))
				break;
			int type = GELF_ST_TYPE(s.st_info);
			if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF ||
			    !s.st_value)
				continue;
			const char *name = elf_strptr(ef->e, sh.sh_link, s.st_name);
			if (!name || !*name)
				continue;
			if (f->nsyms == cap) {
				cap = cap ? cap * 2 : 1024;
				struct sym *p = realloc(f->syms, cap * sizeof(*p));
				if (!p)
					return;
				f->syms = p;
			}
			uint32_t off = add_str(f, name);
			if (off == UINT32_MAX)
				return;
			f->syms[f->nsyms++] = (struct sym){s.st_value, s.st_size, off,
							   GELF_ST_BIND(s.st_info) != STB_LOCAL};
		}
	}
}

static int readable(const char *p)
{
	return access(p, R_OK) == 0;
}

/* A separate debug file for ef (at path): by build-id, then by .gnu_debuglink. */
static int find_debug_file(struct glass_sym_file *f, const char *path, struct elf_file *ef,
			   char *out, size_t outlen)
{
	const char *dbg = getenv("GLASS_DEBUG_DIR");
	if (!dbg || !*dbg)
		dbg = "/usr/lib/debug";
	if (ef->build_id[0] && ef->build_id[1] && ef->build_id[2]) {
		snprintf(out, outlen, "%s/.build-id/%.2s/%s.debug", dbg, ef->build_id,
			 ef->build_id + 2);
		if (readable(out))
			return 0;
	}
	if (ef->debuglink[0]) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", path);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		else
			snprintf(dir, sizeof(dir), ".");
		const char *fmts[] = {"%s/%s", "%s/.debug/%s"};
		for (int i = 0; i < 2; i++) {
			snprintf(out, outlen, fmts[i], dir, ef->debuglink);
			if (strcmp(out, path) && readable(out))
				return 0;
		}
		snprintf(out, outlen, "%s%s/%s", dbg, dir, ef->debuglink);
		if (readable(out))
			return 0;
	}
	(void)f;
	return -1;
}

static void file_load(struct glass_sym_file *f)
{
	f->loaded = 1;
	char path[4096];
	if (f->r->root)
		snprintf(path, sizeof(path), "%s%s", f->r->root, f->path);
	else
		snprintf(path, sizeof(path), "%s", f->path);
	struct elf_file ef;
	if (!f->path[0] || elf_open(path, &ef) != 0) {
		f->status = GLASS_SYM_MISSING;
		if (f->path[0] && f->path[0] == '/')
			warnf(f->r, "cannot read %s%s; its frames show as object+offset", f->path,
			      "");
		return;
	}
	if (f->rec_id[0] && strcmp(f->rec_id, ef.build_id) != 0) {
		f->status = GLASS_SYM_MISMATCH;
		warnf(f->r,
		      "%s is not the file that was recorded (build-id %s differs); its frames "
		      "show as object+offset",
		      f->path, f->rec_id);
		elf_close(&ef);
		return;
	}
	f->status = GLASS_SYM_OK;
	if (ef.has_symtab)
		read_syms(f, &ef, SHT_SYMTAB);
	if (ef.has_debug_info)
		f->dwarf_path = strdup(path);
	if (!ef.has_symtab || !ef.has_debug_info) {
		char dpath[4096];
		struct elf_file df;
		if (find_debug_file(f, path, &ef, dpath, sizeof(dpath)) == 0 &&
		    elf_open(dpath, &df) == 0) {
			/* a debug file for another build is worse than none */
			if (!df.build_id[0] || !ef.build_id[0] || !strcmp(df.build_id, ef.build_id)) {
				if (!ef.has_symtab && df.has_symtab)
					read_syms(f, &df, SHT_SYMTAB);
				if (!f->dwarf_path && df.has_debug_info)
					f->dwarf_path = strdup(dpath);
			}
			elf_close(&df);
		}
	}
	if (!f->nsyms)
		read_syms(f, &ef, SHT_DYNSYM);
	elf_close(&ef);
	if (f->nsyms) {
		qsort(f->syms, f->nsyms, sizeof(*f->syms), sym_cmp);
		size_t w = 0; /* one entry per address */
		for (size_t i = 0; i < f->nsyms; i++)
			if (!w || f->syms[w - 1].addr != f->syms[i].addr)
				f->syms[w++] = f->syms[i];
		f->nsyms = w;
	}
}

struct glass_sym_file *glass_sym_file_get(struct glass_sym_resolver *r, const char *path,
					  const char *build_id)
{
	if (!path)
		path = "";
	if (!build_id)
		build_id = "";
	for (struct glass_sym_file *f = r->files; f; f = f->next)
		if (!strcmp(f->path, path) && !strcmp(f->rec_id, build_id))
			return f;
	struct glass_sym_file *f = calloc(1, sizeof(*f));
	if (!f)
		abort(); /* glass-report side: out of memory is fatal */
	f->r = r;
	f->path = strdup(path);
	f->rec_id = strdup(build_id);
	const char *slash = strrchr(path, '/');
	f->name = strdup(slash ? slash + 1 : path);
	f->dw_fd = -1;
	if (!f->path || !f->rec_id || !f->name)
		abort();
	f->next = r->files;
	r->files = f;
	return f;
}

const char *glass_sym_file_path(const struct glass_sym_file *f)
{
	return f->path;
}

const char *glass_sym_file_name(const struct glass_sym_file *f)
{
	return f->name;
}

static void line_of(struct glass_sym_file *f, uint64_t vaddr, struct glass_sym_frame *out)
{
	if (!f->dw_tried) {
		f->dw_tried = 1;
		if (f->dwarf_path) {
			f->dw_fd = open(f->dwarf_path, O_RDONLY | O_CLOEXEC);
			if (f->dw_fd >= 0) {
				f->dw_elf = elf_begin(f->dw_fd, ELF_C_READ_MMAP, NULL);
				if (f->dw_elf)
					f->dw = dwarf_begin_elf(f->dw_elf, DWARF_C_READ, NULL);
			}
		}
	}
	if (!f->dw)
		return;
	Dwarf_Die cu;
	if (!dwarf_addrdie(f->dw, vaddr, &cu))
		return;
	Dwarf_Line *l = dwarf_getsrc_die(&cu, vaddr);
	int line;
	if (!l || dwarf_lineno(l, &line) != 0)
		return;
	out->file = dwarf_linesrc(l, NULL, NULL);
	out->line = line > 0 ? (unsigned)line : 0;
}

void glass_sym_lookup(struct glass_sym_file *f, uint64_t vaddr, int want_line,
		      struct glass_sym_frame *out)
{
	memset(out, 0, sizeof(*out));
	if (!f->loaded)
		file_load(f);
	out->offset = vaddr;
	out->status = f->status;
	if (f->status != GLASS_SYM_OK)
		return;
	size_t lo = 0, hi = f->nsyms;
	while (lo < hi) { /* first symbol above vaddr */
		size_t mid = lo + (hi - lo) / 2;
		if (f->syms[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0) {
		out->status = GLASS_SYM_NO_SYMBOL;
	} else {
		const struct sym *s = &f->syms[lo - 1];
		/* past a sized function's end is not that function (padding, or code without a
		 * symbol): rather no name than a wrong one */
		if (s->size && vaddr >= s->addr + s->size) {
			out->status = GLASS_SYM_NO_SYMBOL;
		} else {
			out->function = f->strs + s->name;
			out->offset = vaddr - s->addr;
		}
	}
	if (want_line)
		line_of(f, vaddr, out);
}
