/* recorder/glass-compress.c — compresses a session's sealed chunks while its processes run.
 *
 * The session's first process starts it (detached: not a child of the host, no inherited file
 * descriptors, low priority), so zstd never runs on the host's threads and a host's exit is not
 * delayed by it. A thread inside the host would be visible: Python 3.12+ warns on os.fork() in
 * a process with more than one OS thread. It exits once no process of the session is alive and
 * every chunk is compressed; chunks of processes that died without sealing them (SIGKILL,
 * crash, daemon threads at exit) are compressed whole.
 *
 * It also samples every live process of the session every 100 ms from /proc (sampler.c) into
 * the session's `resources` file: CPU, memory, threads and open files over time, at no cost to
 * the traced processes.
 */
#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "sampler.h"
#include "writer.h"

#define POLL_MS 100
#define PID_FILE "compressor.pid"

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int process_alive(uint32_t pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* One pass over the session: returns the number of live processes; *work counts chunks done.
 * The session's creator counts as live until it exits, even before it has a directory. */
static int pass(const char *session, int *work, uint32_t creator, struct glass_sampler *sm)
{
	int live = process_alive(creator);
	DIR *d = opendir(session);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] != 'p')
			continue;
		char pdir[4200], meta[4300];
		snprintf(pdir, sizeof(pdir), "%s/%s", session, e->d_name);
		snprintf(meta, sizeof(meta), "%s/meta", pdir);
		int fd = open(meta, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct glass_meta_header h;
		ssize_t n = pread(fd, &h, 128, 0);
		close(fd);
		if (n != 128 || memcmp(h.magic, GLASS_META_MAGIC, 8))
			continue;
		int alive = h.state == GLASS_PROC_RUNNING && process_alive(h.pid);
		live += alive;
		const char *dot = strchr(e->d_name, '.');
		if (alive && sm && dot)
			glass_sampler_add(sm, h.pid, (uint32_t)strtoul(dot + 1, NULL, 10));
		DIR *pd = opendir(pdir);
		if (!pd)
			continue;
		struct dirent *c;
		while ((c = readdir(pd))) {
			size_t l = strlen(c->d_name);
			if (c->d_name[0] != 't' || l < 5 || strcmp(c->d_name + l - 4, ".raw"))
				continue;
			*work += glass_chunk_compress(pdir, c->d_name, !alive);
		}
		closedir(pd);
	}
	closedir(d);
	return live;
}

static void detach(void)
{
	pid_t pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0); /* the host reaps this one at once; the worker is reparented */
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	/* nothing of the host's may stay open here (pipes would keep its readers waiting): one
	 * close_range (Linux 5.9) rather than a close per possible descriptor, which is 20000
	 * failing syscalls under a usual RLIMIT_NOFILE */
	if (close_range(3, ~0U, 0) != 0) {
		struct rlimit rl;
		int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536
			      ? (int)rl.rlim_cur
			      : 65536;
		for (int fd = 3; fd < max; fd++)
			close(fd);
	}
	if (chdir("/") != 0) {
		/* paths are absolute */
	}
	/* only spare CPU: the traced program must not feel us (a busy machine just leaves chunks
	 * raw for longer; we go on after the program ends) */
	struct sched_param sp = {0};
	if (sched_setscheduler(0, SCHED_IDLE, &sp) != 0)
		setpriority(PRIO_PROCESS, 0, 19);
}

int main(int argc, char **argv)
{
	int detached = 0, once = 0;
	uint32_t creator = 0;
	signal(SIGXFSZ, SIG_IGN); /* over RLIMIT_FSIZE: a failed write (EFBIG), not death */
	const char *session = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--detach"))
			detached = 1;
		else if (!strcmp(argv[i], "--once"))
			once = 1;
		else if (!strcmp(argv[i], "--pid") && i + 1 < argc)
			creator = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: glass-compress [--detach] [--once] [--pid PID] SESSION_DIR\n");
			return 2;
		} else
			session = argv[i];
	}
	if (!session || session[0] != '/') {
		fprintf(stderr, "usage: glass-compress [--detach] [--once] SESSION_DIR "
				"(an absolute path)\n");
		return 2;
	}
	if (detached)
		detach();
	char pidfile[4200];
	snprintf(pidfile, sizeof(pidfile), "%s/%s", session, PID_FILE);
	if (!once) {
		int fd = open(pidfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			/* another compressor already works on this session, unless it died */
			char buf[32] = "";
			int rfd = open(pidfile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (rfd >= 0) {
				if (read(rfd, buf, sizeof(buf) - 1) < 0)
					buf[0] = 0;
				close(rfd);
			}
			if (process_alive((uint32_t)atoi(buf)))
				return 0;
			unlink(pidfile);
			fd = open(pidfile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				  0600);
			if (fd < 0)
				return 0;
		}
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		if (write(fd, buf, (size_t)n) != n) {
			/* the file's existence is what matters */
		}
		close(fd);
	}
	struct glass_sampler sm;
	int sampling = !once && glass_sampler_open(&sm, session) == 0;
	uint64_t next_sample = mono_ns();
	for (;;) {
		int work = 0;
		/* samples are due every 100 ms, between compressions when there is work */
		int sample = sampling && mono_ns() >= next_sample;
		if (sample)
			glass_sampler_begin(&sm);
		int live = pass(session, &work, creator, sample ? &sm : NULL);
		if (sample) {
			glass_sampler_end(&sm);
			uint64_t now = mono_ns();
			next_sample += GLASS_SAMPLER_INTERVAL_NS;
			if (next_sample <= now) /* we fell behind (SCHED_IDLE on a busy machine) */
				next_sample = now + GLASS_SAMPLER_INTERVAL_NS;
		}
		if (once || (!live && !work))
			break;
		if (!work) {
			uint64_t now = mono_ns(), wait = POLL_MS * 1000000ull;
			if (sampling && next_sample > now && next_sample - now < wait)
				wait = next_sample - now;
			if (sampling && next_sample <= now)
				wait = 0;
			struct timespec ts = {0, (long)wait};
			nanosleep(&ts, NULL);
		}
	}
	if (sampling)
		glass_sampler_close(&sm);
	if (!once)
		unlink(pidfile);
	return 0;
}
