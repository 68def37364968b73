/* preload/capture-db.c — what the database driver hooks share: the library a caller meant, the
 * statement table, statement text and error messages by policy, span attributes. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "capture-db.h"
#include "glass.h"

/* ---- the real functions ------------------------------------------------------------------- */

struct find_obj {
	uintptr_t addr; /* in: an address; out: the object holding it */
	uintptr_t base, lo, hi;
	int found;
	char path[PATH_MAX];
};

static int find_obj_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct find_obj *f = data;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	int hit = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr, b = a + ph->p_memsz;
		if (a < lo)
			lo = a;
		if (b > hi)
			hi = b;
		if (f->addr >= a && f->addr < b)
			hit = 1;
	}
	if (!hit)
		return 0;
	f->found = 1;
	f->base = info->dlpi_addr;
	f->lo = lo;
	f->hi = hi;
	snprintf(f->path, sizeof(f->path), "%s", info->dlpi_name ? info->dlpi_name : "");
	return 1;
}

/* The loaded object holding addr (dl_iterate_phdr: the loader's lock, slow paths only). */
static int find_obj(uintptr_t addr, struct find_obj *f)
{
	memset(f, 0, sizeof(*f));
	f->addr = addr;
	dl_iterate_phdr(find_obj_cb, f);
	return f->found;
}

static uintptr_t self_lo, self_hi;

static int ours(const void *p)
{
	if (!__atomic_load_n(&self_hi, __ATOMIC_ACQUIRE)) {
		struct find_obj f;
		if (find_obj((uintptr_t)&find_obj_cb, &f)) {
			self_lo = f.lo;
			__atomic_store_n(&self_hi, f.hi, __ATOMIC_RELEASE);
		}
	}
	uintptr_t hi = __atomic_load_n(&self_hi, __ATOMIC_ACQUIRE); /* then lo, written before */
	return (uintptr_t)p < hi && (uintptr_t)p >= self_lo;
}

static void *open_noload(const char *path)
{
	return dlopen(path && path[0] ? path : NULL, RTLD_NOLOAD | RTLD_LAZY);
}

/* names[0] as seen from the object at path (its own scope), unless that is us. */
static void *lookup_in(const char *path, const char *name)
{
	void *h = open_noload(path);
	if (!h)
		return NULL;
	void *p = dlsym(h, name);
	dlclose(h); /* NOLOAD took a reference: give it back (the host holds its own) */
	return p && !ours(p) ? p : NULL;
}

struct scan_objs {
	const char *paths[256];
	size_t n;
};

static int scan_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct scan_objs *s = data;
	if (info->dlpi_name && info->dlpi_name[0] && s->n < 256)
		s->paths[s->n++] = info->dlpi_name;
	return 0;
}

/* The provider that defines p: its functions looked up in it, once per provider. */
static const struct db_api *provider(struct db_lib *L, void *p)
{
	struct find_obj f;
	if (!find_obj((uintptr_t)p, &f))
		return NULL;
	for (int i = 0; i < DB_MAX_PROVIDERS; i++)
		if (__atomic_load_n(&L->api_ready[i], __ATOMIC_ACQUIRE) && L->api[i].base == f.base)
			return &L->api[i];
	int i = __atomic_fetch_add(&L->api_reserved, 1, __ATOMIC_ACQ_REL);
	if (i >= DB_MAX_PROVIDERS)
		return NULL;
	struct db_api *a = &L->api[i];
	a->base = f.base;
	a->driver = L->driver;
	if (strstr(f.path, "mysqlclient"))
		a->driver = "libmysqlclient";
	else if (strstr(f.path, "iodbc"))
		a->driver = "iodbc";
	void *h = open_noload(f.path);
	for (size_t k = 0; k < L->nnames && k < DB_MAX_FNS; k++) {
		void *q = h ? dlsym(h, L->names[k]) : NULL;
		a->fn[k] = q && !ours(q) ? q : NULL;
	}
	if (h)
		dlclose(h);
	a->fn[0] = p;
	__atomic_store_n(&L->api_ready[i], 1, __ATOMIC_RELEASE);
	return a;
}

const struct db_api *db_api_slow(struct db_lib *L, const void *ra)
{
	int saved = errno;
	const struct db_api *a = NULL;
	const char *name = L->names[0];
	struct find_obj caller;
	int have_caller = find_obj((uintptr_t)ra, &caller);

	void *p = dlsym(RTLD_NEXT, name);
	if (p && !ours(p)) {
		a = provider(L, p);
		if (a) {
			__atomic_store_n(&L->global, (int)(a - L->api) + 1, __ATOMIC_RELEASE);
			goto out;
		}
	}
	p = have_caller ? lookup_in(caller.path, name) : NULL;
	for (size_t i = 0; !p && L->sonames && L->sonames[i]; i++)
		p = lookup_in(L->sonames[i], name);
	if (!p) {
		struct scan_objs s = {.n = 0};
		dl_iterate_phdr(scan_cb, &s);
		for (size_t i = 0; !p && i < s.n; i++)
			p = lookup_in(s.paths[i], name);
	}
	if (p)
		a = provider(L, p);
	if (a && have_caller) {
		int i = __atomic_fetch_add(&L->caller_reserved, 1, __ATOMIC_ACQ_REL);
		if (i < DB_MAX_CALLERS) {
			L->caller[i].lo = caller.lo;
			L->caller[i].hi = caller.hi;
			L->caller[i].api = (int)(a - L->api);
			__atomic_store_n(&L->caller[i].ready, 1, __ATOMIC_RELEASE);
		} else {
			__atomic_store_n(&L->caller_reserved, DB_MAX_CALLERS, __ATOMIC_RELEASE);
		}
	}
out:
	dlerror(); /* never leave an error for the host's own dlerror() */
	errno = saved;
	return a;
}

/* ---- the statement table ------------------------------------------------------------------ */

#define DB_EMPTY 0
#define DB_TOMB	 1 /* an odd value no key has: keys are pointers or odd hashes >= 3 */

static uintptr_t *keys;
static char *bodies;
static size_t stride, text_cap;

int db_table_ready(void)
{
	static int claimed;
	if (__atomic_load_n(&keys, __ATOMIC_ACQUIRE))
		return 1;
	if (__atomic_exchange_n(&claimed, 1, __ATOMIC_ACQ_REL))
		return 0; /* another thread maps it now (or could not): this statement goes untraced
			   */
	size_t cap = (size_t)glass_cap.max_statement + 1;
	size_t st = (sizeof(struct db_slot) + cap + 63) & ~(size_t)63;
	size_t kb = DB_SLOTS * sizeof(uintptr_t);
	void *m = mmap(NULL, kb + DB_SLOTS * st, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return 0;
	stride = st;
	text_cap = cap;
	bodies = (char *)m + kb;
	__atomic_store_n(&keys, (uintptr_t *)m, __ATOMIC_RELEASE);
	return 1;
}

size_t db_text_cap(void)
{
	return text_cap;
}

struct db_slot *db_slot(int i)
{
	return (struct db_slot *)(bodies + (size_t)i * stride);
}

_Static_assert(DB_SLOTS == 4096, "hash() takes 12 bits");

static size_t hash(uintptr_t key)
{
	uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 52);
}

int db_find(uintptr_t key)
{
	uintptr_t *k = __atomic_load_n(&keys, __ATOMIC_ACQUIRE);
	if (!k || key <= DB_TOMB)
		return -1;
	size_t i = hash(key);
	for (int n = 0; n < DB_PROBE; n++, i = (i + 1) & (DB_SLOTS - 1)) {
		uintptr_t v = __atomic_load_n(&k[i], __ATOMIC_ACQUIRE);
		if (v == key)
			return (int)i;
		if (v == DB_EMPTY)
			return -1;
	}
	return -1;
}

int db_claim(uintptr_t key)
{
	if (!db_table_ready() || key <= DB_TOMB)
		return -1;
	int at = db_find(key);
	if (at >= 0)
		return at;
	size_t i = hash(key);
	for (int n = 0; n < DB_PROBE; n++, i = (i + 1) & (DB_SLOTS - 1)) {
		uintptr_t v = __atomic_load_n(&keys[i], __ATOMIC_ACQUIRE);
		if (v != DB_EMPTY && v != DB_TOMB)
			continue;
		struct db_slot *s = db_slot((int)i);
		if (!__atomic_compare_exchange_n(&keys[i], &v, key, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		memset(s, 0, sizeof(*s));
		return (int)i;
	}
	return -1;
}

void db_drop(int i)
{
	if (i >= 0)
		__atomic_store_n(&keys[i], DB_TOMB, __ATOMIC_RELEASE);
}

void db_drop_conn(uintptr_t conn)
{
	uintptr_t *k = __atomic_load_n(&keys, __ATOMIC_ACQUIRE);
	if (!k)
		return;
	for (int i = 0; i < DB_SLOTS; i++) {
		uintptr_t v = __atomic_load_n(&k[i], __ATOMIC_ACQUIRE);
		if (v > DB_TOMB && db_slot(i)->conn == conn)
			db_drop(i);
	}
}

int db_move(int i, uintptr_t key)
{
	int j = db_claim(key);
	if (j >= 0 && j != i) {
		struct db_slot *a = db_slot(i), *b = db_slot(j);
		memcpy(b, a, sizeof(*a) + (a->has_text ? a->text_len + 1 : 0));
	}
	db_drop(i);
	return j;
}

int db_mine(const struct db_slot *s)
{
	return s->op && s->owner == (const void *)&T && s->epoch == G.epoch;
}

void db_own(struct db_slot *s, uint64_t op, uint64_t start)
{
	s->op = op;
	s->start = start;
	s->owner = &T;
	s->epoch = G.epoch;
	s->rows = 0;
	s->affected = -1;
}

/* ---- text --------------------------------------------------------------------------------- */

size_t db_wcslen16(const uint16_t *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

size_t db_utf16_to_8(const uint16_t *s, size_t n, char *out, size_t cap, int *cut)
{
	size_t o = 0;
	if (cut)
		*cut = 0;
	if (!cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = s[i];
		if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && s[i + 1] >= 0xDC00 &&
		    s[i + 1] < 0xE000) {
			c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
			i++;
		} else if (c >= 0xD800 && c < 0xE000) {
			c = 0xFFFD; /* a lone surrogate */
		}
		char b[4];
		size_t k;
		if (c < 0x80) {
			b[0] = (char)c;
			k = 1;
		} else if (c < 0x800) {
			b[0] = (char)(0xC0 | (c >> 6));
			b[1] = (char)(0x80 | (c & 0x3F));
			k = 2;
		} else if (c < 0x10000) {
			b[0] = (char)(0xE0 | (c >> 12));
			b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
			b[2] = (char)(0x80 | (c & 0x3F));
			k = 3;
		} else {
			b[0] = (char)(0xF0 | (c >> 18));
			b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
			b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
			b[3] = (char)(0x80 | (c & 0x3F));
			k = 4;
		}
		if (o + k + 1 > cap) {
			if (cut)
				*cut = 1;
			break;
		}
		memcpy(out + o, b, k);
		o += k;
	}
	out[o] = 0;
	return o;
}

size_t db_text16(const uint16_t *sql, size_t n, unsigned flags, char *out, size_t cap,
		 struct glass_sql_info *info)
{
	/* The statement's first 8 KiB are enough for the text kept (max_statement is at most
	 * 8 KiB) except when normalising shortens it a lot; then the text is cut and says so. */
	char u8[8192];
	int cut;
	size_t len = db_utf16_to_8(sql, n, u8, sizeof(u8), &cut);
	if (!cut || cap < 8)
		return glass_cap_sql_text(u8, len, flags, out, cap, info);
	size_t m = glass_cap_sql_text(u8, len, flags, out, cap - 3, info);
	if (m < 3 || memcmp(out + m - 3, "...", 3)) {
		memcpy(out + m, "...", 4);
		m += 3;
	}
	return m;
}

/* ---- error messages ----------------------------------------------------------------------- */

static int word_char(unsigned char c)
{
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') ||
	       (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Is w[0, n) a whole word of norm (case-insensitive)? */
static int has_word(const char *norm, size_t nl, const char *w, size_t n)
{
	if (!norm || !n || n > nl)
		return 0;
	for (size_t i = 0; i + n <= nl; i++) {
		if (strncasecmp(norm + i, w, n))
			continue;
		if ((i == 0 || !word_char((unsigned char)norm[i - 1])) &&
		    (i + n == nl || !word_char((unsigned char)norm[i + n])))
			return 1;
	}
	return 0;
}

/* Is a quoted part of a message a name of the statement: every part between dots or blanks
 * a word of it (quotes around parts ignored)? ('users.email', "ORDER BY") */
static int is_name(const char *norm, size_t nl, const char *s, size_t n)
{
	if (!n)
		return 1;
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '.' && s[j] != ' ')
			j++;
		size_t a = i, b = j;
		while (a < b && (s[a] == '"' || s[a] == '`' || s[a] == '\''))
			a++;
		while (b > a && (s[b - 1] == '"' || s[b - 1] == '`' || s[b - 1] == '\''))
			b--;
		if (a == b)
			return 0;
		for (size_t k = a; k < b; k++)
			if (!word_char((unsigned char)s[k]))
				return 0;
		if (!has_word(norm, nl, s + a, b - a))
			return 0;
		i = j + 1;
	}
	return 1;
}

struct out {
	char *p;
	size_t n, cap; /* cap includes the NUL */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->n + 1 >= o->cap)
		return;
	size_t room = o->cap - 1 - o->n;
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = 0;
}

/* Quoted parts that are not names become "?" (quotes kept). An apostrophe between letters
 * (doesn't) is not a quote. */
static void scrub_quotes(struct out *o, const char *m, size_t len, const char *norm, size_t nl)
{
	size_t i = 0, from = 0;
	while (i < len) {
		char q = m[i];
		if ((q != '\'' && q != '"' && q != '`') ||
		    (i > 0 && word_char((unsigned char)m[i - 1]) && q == '\'')) {
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < len && !(m[j] == q && (j + 1 == len || q != '\'' ||
						  !word_char((unsigned char)m[j + 1]))))
			j++;
		put(o, m + from, i + 1 - from);
		if (j >= len) { /* never closed: the rest may be a value */
			put(o, "?", 1);
			return;
		}
		if (is_name(norm, nl, m + i + 1, j - i - 1))
			put(o, m + i + 1, j - i - 1);
		else
			put(o, "?", 1);
		put(o, &q, 1);
		i = from = j + 1;
	}
	put(o, m + from, len - from);
}

static const char *find(const char *h, size_t hl, const char *n)
{
	size_t nl = strlen(n);
	for (size_t i = 0; i + nl <= hl; i++)
		if (!memcmp(h + i, n, nl))
			return h + i;
	return NULL;
}

size_t db_scrub(const char *msg, size_t len, const char *norm, size_t nl, char *out, size_t cap)
{
	if (!cap)
		return 0;
	out[0] = 0;
	if (!msg)
		return 0;
	struct out o = {out, 0, cap};
	if (glass_cap.sql_raw) {
		put(&o, msg, len);
		return o.n;
	}
	/* MySQL/MariaDB syntax errors quote the rest of the statement: "near '...' at line N" */
	const char *near = find(msg, len, "near '");
	const char *at = NULL;
	if (near)
		for (const char *p = near + 6; (p = find(p, len - (size_t)(p - msg), "' at line "));
		     p++)
			at = p;
	if (near && at) {
		scrub_quotes(&o, msg, (size_t)(near - msg), norm, nl);
		put(&o, "near '", 6);
		char frag[1024];
		const char *f = near + 6;
		size_t fl = (size_t)(at - f);
		size_t n = glass_sql_normalize(f, fl, frag, sizeof(frag), GLASS_SQL_MYSQL, NULL);
		put(&o, frag, n);
		put(&o, "'", 1);
		scrub_quotes(&o, at + 1, len - (size_t)(at + 1 - msg), norm, nl);
		return o.n;
	}
	scrub_quotes(&o, msg, len, norm, nl);
	return o.n;
}

/* ---- spans -------------------------------------------------------------------------------- */

int db_on(void)
{
	return glass_cap_on(GLASS_CAP_SQL);
}

int db_is_dml(const struct glass_sql_info *in)
{
	static const char *const ops[] = {"INSERT",  "UPDATE", "DELETE",
					  "REPLACE", "MERGE",  "UPSERT"};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(in->operation, ops[i]))
			return 1;
	return 0;
}

static size_t add(char *out, size_t at, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (at + n >= cap)
		n = at < cap ? cap - 1 - at : 0;
	memcpy(out + at, s, n);
	return at + n;
}

size_t db_name(const struct glass_sql_info *info, const char *prefix, char *out, size_t cap)
{
	size_t n = 0;
	if (prefix)
		n = add(out, n, cap, prefix);
	if (info && info->operation[0]) {
		n = add(out, n, cap, info->operation);
		if (info->table[0]) {
			n = add(out, n, cap, " ");
			n = add(out, n, cap, info->table);
		}
	} else {
		n = add(out, n, cap, "SQL");
	}
	out[n] = 0;
	return n;
}

void db_slot_named(struct db_slot *s, const char *prefix)
{
	s->name_len = (uint32_t)db_name(&s->info, prefix, s->name, sizeof(s->name));
	if (db_is_dml(&s->info))
		s->flags |= DB_F_DML;
	else
		s->flags &= ~DB_F_DML;
}

uint64_t db_begin(const struct db_begin *b, uint64_t start)
{
	struct glass_op_attr a[12];
	size_t n = 0;
	a[n++] = glass_attr_str("db.system", b->system, strlen(b->system));
	if (b->text)
		a[n++] = glass_attr_str("db.statement", b->text, b->text_len);
	if (b->info && b->info->operation[0])
		a[n++] =
		    glass_attr_str("db.operation", b->info->operation, strlen(b->info->operation));
	if (b->info && b->info->table[0])
		a[n++] = glass_attr_str("db.sql.table", b->info->table, strlen(b->info->table));
	if (b->dbname && b->dbname_len)
		a[n++] = glass_attr_str("db.name", b->dbname, b->dbname_len);
	if (b->host && b->host_len)
		a[n++] = glass_attr_str("server.address", b->host, b->host_len);
	if (b->port > 0)
		a[n++] = glass_attr_int("server.port", b->port);
	a[n++] = glass_attr_str("glass.driver", b->driver, strlen(b->driver));
	for (int i = 0; i < 2; i++)
		if (b->extra_key[i] && b->extra[i] && b->extra[i][0])
			a[n++] = glass_attr_str(b->extra_key[i], b->extra[i], strlen(b->extra[i]));
	char buf[DB_NAME_MAX];
	const char *name = b->name;
	size_t nl = b->name_len;
	if (!name) {
		nl = db_name(b->info, b->prefix, buf, sizeof(buf));
		name = buf;
	}
	return glass_cap_begin(GLASS_OP_DB, name, nl, a, n, start);
}

void db_end(uint64_t op, const struct db_end *e)
{
	if (!op)
		return;
	struct glass_op_attr a[6];
	size_t n = 0;
	char msg[1024];
	if (e->returned >= 0)
		a[n++] = glass_attr_int("db.response.returned_rows", e->returned);
	if (e->affected >= 0)
		a[n++] = glass_attr_int("db.response.affected_rows", e->affected);
	if (e->status && e->status[0])
		a[n++] = glass_attr_str("db.response.status_code", e->status, strlen(e->status));
	if (e->error) {
		const char *t = e->etype && e->etype[0] ? e->etype : e->status;
		if (t && t[0])
			a[n++] = glass_attr_str("error.type", t, strlen(t));
		if (e->msg) {
			size_t ml = e->msg_len;
			while (ml && (e->msg[ml - 1] == '\n' || e->msg[ml - 1] == ' '))
				ml--; /* libpq and ODBC end messages with a newline */
			size_t k = db_scrub(e->msg, ml, e->norm, e->norm_len, msg, sizeof(msg));
			a[n++] = glass_attr_str("error.message", msg, k);
		}
	}
	glass_cap_end(op, e->error ? GLASS_OP_ERROR : GLASS_OP_OK, NULL, 0, a, n);
}
