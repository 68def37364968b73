/* preload/session.c — which session a process records into, and its live registry entry.
 *
 * A top-level run creates $GLASS_OUT/<UTC stamp>-<pid>. Its descendants (fork children,
 * subprocesses, exec'd images) must land in the same session even when their cwd or
 * environment differ, and without the preload changing the host's environment (os.environ
 * would show it). So each recording process leaves a symlink <pid>-<starttime> -> session in a
 * per-user runtime directory; a new Python process looks for itself (an exec'd image keeps pid
 * and start time) and then its ancestors there. The start time makes a stale link of a dead
 * process harmless.
 */
#include "glass.h"

#include <dirent.h>
#include <dlfcn.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define GLASS_ANCESTOR_LEVELS 16

/* Fields of /proc/<pid>/stat we need: ppid (4) and starttime (22). */
static int proc_stat(uint32_t pid, uint32_t *ppid, unsigned long long *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* comm may hold spaces and parens */
	if (!p)
		return -1;
	p++;
	/* after ")": state(3) ppid(4) ... starttime(22) */
	unsigned field = 2;
	char *save = NULL;
	for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 4 && ppid)
			*ppid = (uint32_t)strtoul(tok, NULL, 10);
		if (field == 22) {
			*start = strtoull(tok, NULL, 10);
			return 0;
		}
	}
	return -1;
}

/* The per-user registry directory, created 0700; refuses one owned by someone else. */
static int registry_dir(char *out, size_t len)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	char base[PATH_MAX];
	struct stat st;
	if (rt && rt[0] == '/' && stat(rt, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == getuid())
		snprintf(base, sizeof(base), "%s/glass", rt);
	else
		snprintf(base, sizeof(base), "/tmp/glass-%u", (unsigned)getuid());
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return -1;
	if (lstat(base, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 0077))
		return -1;
	snprintf(out, len, "%s", base);
	return 0;
}

static void utc_stamp(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, len, "%Y%m%d-%H%M%S", &tm);
}

/* mkdir -p of the output directory (0700 for what we create); refuses a foreign-owned one. */
/*
 * Creates GLASS_OUT (like mkdir -p, new directories 0700) without trusting what others can
 * write: the path is walked component by component; in a directory that others can write, a
 * symlink is followed only when we or the directory's owner own it (the rule of the kernel's
 * protected_symlinks, which a machine may not enforce). The directory itself must be ours
 * or root's, and not writable by others unless sticky: whoever can write it could rename our
 * session directory and put a symlink in its place. -1 with errno on refusal.
 */
static int make_out_dir(const char *dir)
{
	if (dir[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	uid_t me = geteuid();
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char comp[NAME_MAX + 1];
	const char *p = dir;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, "/");
		if (n > NAME_MAX) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = 0;
		p += n;
		struct stat parent, st;
		if (fstat(fd, &parent) != 0)
			goto fail;
		if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT || (mkdirat(fd, comp, 0700) != 0 && errno != EEXIST))
				goto fail;
			if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) != 0)
				goto fail;
		}
		int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
		if (S_ISLNK(st.st_mode)) {
			/* protected_symlinks: in a directory others can write, only a link of
			 * ours or of the directory's owner */
			if ((parent.st_mode & 0022) && st.st_uid != me && st.st_uid != parent.st_uid) {
				close(fd);
				errno = ELOOP; /* a link someone else planted where others can write */
				return -1;
			}
		} else {
			flags |= O_NOFOLLOW;
		}
		int next = openat(fd, comp, flags);
		if (next < 0)
			goto fail;
		close(fd);
		fd = next;
	}
	struct stat st;
	if (fstat(fd, &st) != 0)
		goto fail;
	close(fd);
	if (st.st_uid != me && st.st_uid != 0) {
		errno = EPERM; /* another user's directory */
		return -1;
	}
	if ((st.st_mode & 0022) && !(st.st_mode & S_ISVTX) && st.st_uid != me) {
		errno = EPERM; /* others could move our session directory away */
		return -1;
	}
	if (access(dir, W_OK | X_OK) != 0)
		return -1;
	return 0;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static int new_session(void)
{
	if (make_out_dir(G.out_dir) != 0) {
		const char *why = errno == ELOOP	? "its path has a symlink someone else could "
							  "have planted"
				  : errno == EPERM ? "it belongs to another user or others can "
						     "write to it"
						   : strerror(errno);
		glass_log(1, "cannot use output directory %s: %s (set GLASS_OUT to a directory of "
			     "yours); tracing disabled",
			  G.out_dir, why);
		return -1;
	}
	char stamp[32];
	utc_stamp(stamp, sizeof(stamp));
	for (int i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(G.session_dir, sizeof(G.session_dir), "%s/%s-%u", G.out_dir, stamp,
				 G.pid);
		else
			snprintf(G.session_dir, sizeof(G.session_dir), "%s/%s-%u-%d", G.out_dir,
				 stamp, G.pid, i);
		if (mkdir(G.session_dir, 0700) == 0)
			goto made;
		if (errno != EEXIST)
			break;
	}
	glass_log(1, "cannot create a session directory in %s: %s; tracing disabled", G.out_dir,
		  strerror(errno));
	return -1;
made:;
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s", G.session_dir, GLASS_SESSION_FILE);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		char line[64];
		int n = snprintf(line, sizeof(line), "glass-session %d.%d\n", GLASS_FORMAT_MAJOR,
				 GLASS_FORMAT_MINOR);
		if (write(fd, line, (size_t)n) != n) {
			/* the directory is still readable without it */
		}
		close(fd);
	}
	snprintf(G.origin, sizeof(G.origin), "start");
	return 0;
}

/* Removes links of processes that are gone, so the registry does not grow without end. */
static void registry_sweep(const char *reg)
{
	DIR *d = opendir(reg);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		unsigned pid;
		unsigned long long start, now;
		if (sscanf(e->d_name, "%u-%llu", &pid, &start) != 2)
			continue;
		if (proc_stat(pid, NULL, &now) == 0 && now == start)
			continue;
		char path[PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", reg, e->d_name);
		unlink(path);
	}
	closedir(d);
}

/* The newest p<pid>.<n> of this pid in the session (the image an exec replaced). */
static void mark_exec_parent(void)
{
	char key[64] = "";
	int best = -1;
	DIR *d = opendir(G.session_dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		unsigned pid;
		int n;
		if (sscanf(e->d_name, "p%u.%d", &pid, &n) == 2 && pid == G.pid && n > best) {
			best = n;
			snprintf(key, sizeof(key), "%s", e->d_name);
		}
	}
	closedir(d);
	if (best < 0)
		return;
	snprintf(G.parent_key, sizeof(G.parent_key), "%s", key);
	char path[PATH_MAX + 128];
	snprintf(path, sizeof(path), "%s/%s/meta", G.session_dir, key);
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	uint32_t state = GLASS_PROC_EXECED;
	if (pwrite(fd, &state, sizeof(state), offsetof(struct glass_meta_header, state)) < 0) {
		/* best effort: the reader shows it as not ended */
	}
	close(fd);
}

int glass_session_attach(void)
{
	char reg[PATH_MAX];
	int have_reg = registry_dir(reg, sizeof(reg)) == 0;
	unsigned long long mystart = 0;
	uint32_t pid = G.pid, ppid = 0;
	if (proc_stat(pid, &ppid, &mystart) != 0)
		have_reg = 0;

	if (have_reg) {
		uint32_t cur = pid;
		unsigned long long start = mystart;
		for (int level = 0; level < GLASS_ANCESTOR_LEVELS && cur > 1; level++) {
			uint32_t next = 0;
			if (level > 0 && proc_stat(cur, &next, &start) != 0)
				break;
			if (level == 0)
				next = ppid;
			char link[PATH_MAX + 64], target[PATH_MAX];
			snprintf(link, sizeof(link), "%s/%u-%llu", reg, cur, start);
			ssize_t n = readlink(link, target, sizeof(target) - 1);
			struct stat st;
			if (n > 0) {
				target[n] = 0;
				if (stat(target, &st) == 0 && S_ISDIR(st.st_mode) &&
				    st.st_uid == getuid() && access(target, W_OK) == 0) {
					snprintf(G.session_dir, sizeof(G.session_dir), "%s",
						 target);
					if (level == 0) {
						snprintf(G.origin, sizeof(G.origin), "exec");
						mark_exec_parent();
					} else {
						snprintf(G.origin, sizeof(G.origin), "child");
						snprintf(G.parent_key, sizeof(G.parent_key), "p%u",
							 cur);
					}
					goto found;
				}
			}
			cur = next;
		}
	}
	if (new_session() != 0)
		return -1;
	if (have_reg)
		registry_sweep(reg);
	glass_compressor_spawn(); /* this process created the session */
found:
	glass_session_register();
	return 0;
}

void glass_session_register(void)
{
	char reg[PATH_MAX];
	unsigned long long start;
	G.registry_link[0] = 0;
	if (registry_dir(reg, sizeof(reg)) != 0 || proc_stat(G.pid, NULL, &start) != 0)
		return;
	snprintf(G.registry_link, sizeof(G.registry_link), "%s/%u-%llu", reg, G.pid, start);
	unlink(G.registry_link);
	if (symlink(G.session_dir, G.registry_link) != 0)
		G.registry_link[0] = 0;
}

void glass_session_detach(void)
{
	if (G.registry_link[0]) {
		unlink(G.registry_link);
		G.registry_link[0] = 0;
	}
}

/* ---- the session's compressor ------------------------------------------------------------- */

/* glass-compress lives next to libglass.so (installed) or in the build tree's recorder/. */
static int compressor_path(char *out, size_t len)
{
	Dl_info info;
	if (!dladdr((void *)glass_session_attach, &info) || !info.dli_fname)
		return -1;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", info.dli_fname);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	*slash = 0;
	const char *cands[] = {"/glass-compress", "/../recorder/glass-compress"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(out, len, "%s%s", dir, cands[i]);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* Starts the detached compressor for a new session. posix_spawn (no fork handlers, safe in a
 * threaded host); the spawned process forks the worker and exits at once, and is reaped here
 * before the host can see it. */
void glass_compressor_spawn(void)
{
	const char *v = getenv("GLASS_COMPRESSOR");
	if (v && !strcmp(v, "0"))
		return;
	char path[PATH_MAX];
	if (compressor_path(path, sizeof(path)) != 0) {
		glass_log(2, "glass-compress not found next to libglass.so; compressing at exit");
		return;
	}
	/* its environment without LD_PRELOAD: it is not a process to trace */
	static char *envp[256];
	size_t n = 0;
	for (char **e = environ; *e && n < 255; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) != 0)
			envp[n++] = *e;
	envp[n] = NULL;
	char creator[16];
	snprintf(creator, sizeof(creator), "%u", G.pid);
	char *argv[] = {path, "--detach", "--pid", creator, G.session_dir, NULL};
	pid_t pid;
	if (posix_spawn(&pid, path, NULL, NULL, argv, envp) != 0)
		return;
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

int glass_compressor_alive(void)
{
	char path[PATH_MAX + 32], buf[32] = "";
	snprintf(path, sizeof(path), "%s/compressor.pid", G.session_dir);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = 0;
	int pid = atoi(buf);
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}
