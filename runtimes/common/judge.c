/*
 * code-runner-supervise, protocol CR2 ("judge mode", runtimes/PROTOCOL.md): one program, built
 * once, run against up to 1000 test cases in one container, one record per case.
 *
 * Everything supervise.c says about the nonce holds here, and CR2 adds one more way it could
 * leak: the records. Each record carries the nonce (so that nothing else on the container's
 * stdout can pass for one), and the container's stdout is a pipe that docker-init (PID 1, a
 * dumpable process of our uid) also holds: a program can open /proc/1/fd/1 *for reading* and
 * take bytes out of that pipe before the engine does. So no program's process may be alive while
 * a nonce is in the container's pipes:
 *  - records are written only when every process but this one and PID 1 has been killed;
 *  - before the next case starts, this process waits until the engine has read the pipes empty
 *    (FIONREAD on our end). There is no event for "the reader emptied the pipe", so this is the
 *    one wait that polls: sched_yield first, then short pauses, bounded by the deadline.
 * For the same reason the whole input (archive and cases) is read into our own memory before
 * anything that can run the user's code starts (setup-run runs in the user's environment, e.g.
 * TAR_OPTIONS): a program must neither read the test inputs ahead (and compute the answers with
 * no time limit) nor change them. The archive reaches setup-run through a memfd.
 *
 * Flow (judge_main):
 *  1. the header fields (split by main) are validated; the deadline starts;
 *  2. the archive -> memfd, the cases section -> anonymous mmap (MADV_DONTFORK: no child ever
 *     has it mapped, and it does not count in a case's ru_maxrss), validated (malformed: 125);
 *  3. setup-run <archive_bytes> 0 with the memfd as stdin, then the build (sh -c build_cmd in
 *     /tmp/work, stdin /dev/null, the container's stdout/stderr), both bounded by the deadline,
 *     their leftovers killed; then the work dir is snapshotted (worktree.c);
 *  4. "end" marker on stderr, the build record on stdout (failed build: "done 0", exit 0);
 *  5. per case: fresh /tmp/work, fork sh -c run_cmd (stdin: a sealed memfd with the case's
 *     input; stdout/stderr: pipes to us), poll the pipes, the SIGCHLD self-pipe and the time
 *     left; wait4 for status and rusage; kill every leftover; drain the pipes; OOM counter;
 *     clean-up; the case record;
 *  6. "done <cases_run>", exit 0.
 * The build's and the cases' processes set their oom_score_adj to 1000 before exec
 * (become_oom_victim): when the memory runs out, the OOM killer takes the program, not us.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "supervise.h"

#define CR2_FIELDS 9
#define MAX_CASES 1000
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
/* kill(-1) rounds stop after this long (a process that survives SIGKILL is stuck in the kernel) */
#define KILL_GIVE_UP_NS (2 * NS_PER_S)
/* the pipes of a case whose processes are all dead reach EOF at once; this only bounds a wait
 * on a process that survived the kill rounds */
#define DRAIN_GIVE_UP_NS (2 * NS_PER_S)
/* fork failing with EAGAIN (pids limit still full of a fork bomb's dying processes) */
#define FORK_RETRIES 5
/* reads of one pipe per wake-up, so that a fast writer cannot keep us from the clock */
#define READS_PER_WAKE 16

struct test_case {
    size_t offset; /* of its stdin in cases_data */
    long long stdin_bytes;
    long long timeout_ms;
};

/* One output stream of a case: its pipe and the memfd holding what is kept of it. */
struct stream {
    int fd;         /* read end, non-blocking; -1 at EOF */
    int keep;       /* memfd */
    long long kept; /* bytes in `keep` (at most output_cap) */
    int over;       /* more than output_cap arrived */
};

/* How a watched child ended. */
struct ending {
    int status;       /* sh style; 255 when unknown */
    long long end_ns; /* when it exited or was killed */
    char limit;       /* 0, 't' (its own timeout) or 'T' (the deadline) */
    int have_usage;
    struct rusage usage;
};

static char run_command[HEADER_MAX + 1];
static char build_command[HEADER_MAX + 1];
static int has_build;
static long long output_cap;
static long long deadline_ns; /* CLOCK_MONOTONIC */
static unsigned char *cases_data;
static size_t cases_size;
static struct test_case cases[MAX_CASES];
static int case_count;
static int child_exited[2] = {-1, -1}; /* SIGCHLD self-pipe */
static int keep_out = -1, keep_err = -1;
static int dev_null = -1;
static int raise_oom_score; /* whether children make themselves the OOM killer's first choice */
static int stream_is_pipe[3];

static long long now_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        /* cannot happen on Linux; without a clock no limit can be kept */
        say("clock_gettime(CLOCK_MONOTONIC) failed: %s", strerror(errno));
        _exit(STATUS_BAD_HEADER);
    }
    return ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static struct timespec to_timespec(long long ns) {
    if (ns < 0) ns = 0;
    struct timespec ts = {.tv_sec = ns / NS_PER_S, .tv_nsec = ns % NS_PER_S};
    return ts;
}

/* A short pause in the loops that wait for something without an event (see the top). */
static void back_off(unsigned round) {
    if (round < 64) {
        sched_yield(); /* always succeeds on Linux */
        return;
    }
    long long ns = round < 128 ? 100000 : 1000000;
    struct timespec ts = to_timespec(ns);
    if (ppoll(NULL, 0, &ts, NULL) < 0 && errno != EINTR) say("ppoll (pause) failed: %s", strerror(errno));
}

static void malformed_cases(const char *why) __attribute__((noreturn));
static void malformed_cases(const char *why) {
    say("malformed cases section: %s", why);
    _exit(STATUS_BAD_HEADER);
}

/* ---- input ------------------------------------------------------------------------------- */

/* Reads exactly `len` bytes of stdin into `out` (never past them). 0, or -1 at EOF/error. */
static int read_exact(unsigned char *out, size_t len, size_t *got) {
    *got = 0;
    while (*got < len) {
        ssize_t n = read(STDIN_FILENO, out + *got, len - *got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            say("cannot read stdin: %s", strerror(errno));
            return -1;
        }
        if (n == 0) return -1;
        *got += (size_t)n;
    }
    return 0;
}

/* The archive, copied into a memfd that setup-run gets as its stdin (rewound). */
static int read_archive(long long len) {
    int fd = memfd_create("archive", MFD_CLOEXEC);
    if (fd < 0) {
        say("memfd_create (archive) failed: %s", strerror(errno));
        _exit(STATUS_BAD_HEADER);
    }
    long long total = 0;
    while (total < len) {
        size_t want = len - total < (long long)sizeof chunk ? (size_t)(len - total) : sizeof chunk;
        size_t got;
        int r = read_exact((unsigned char *)chunk, want, &got);
        if (got > 0 && write_all(fd, chunk, got) != 0) {
            say("cannot buffer the archive: %s", strerror(errno));
            _exit(STATUS_BAD_HEADER);
        }
        total += (long long)got;
        if (r != 0) {
            char why[96];
            snprintf(why, sizeof why, "stdin ended after %lld of %lld archive bytes", total, len);
            malformed_cases(why);
        }
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        say("cannot rewind the archive: %s", strerror(errno));
        _exit(STATUS_BAD_HEADER);
    }
    return fd;
}

/* A decimal of 1 to 15 digits at cases_data[*pos] ended by `end`; advances *pos past `end`. */
static long long case_number(size_t *pos, char end, int index, const char *name) {
    char why[96];
    size_t start = *pos, p = start;
    while (p < cases_size && p - start <= 15 && cases_data[p] >= '0' && cases_data[p] <= '9') p++;
    size_t digits = p - start;
    if (digits == 0 || digits > 15 || p >= cases_size || cases_data[p] != (unsigned char)end) {
        snprintf(why, sizeof why, "case %d: bad %s", index, name);
        malformed_cases(why);
    }
    long long value = 0;
    for (size_t i = start; i < p; i++) value = value * 10 + (cases_data[i] - '0');
    *pos = p + 1;
    return value;
}

/* The cases section, into anonymous memory no child inherits, then split and checked. */
static void read_cases(long long len) {
    cases_size = (size_t)len;
    void *map = mmap(NULL, cases_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) {
        say("cannot map %lld bytes for the cases: %s", len, strerror(errno));
        _exit(STATUS_BAD_HEADER);
    }
    cases_data = map;
    /* not in any child: no case can find another's input in its memory before exec, and the
     * pages do not count in the children's ru_maxrss (exec keeps the pre-exec high-water mark) */
    if (madvise(map, cases_size, MADV_DONTFORK) != 0) say("madvise(MADV_DONTFORK) failed: %s", strerror(errno));
    size_t got;
    if (read_exact(cases_data, cases_size, &got) != 0) {
        char why[96];
        snprintf(why, sizeof why, "stdin ended after %zu of %lld bytes", got, len);
        malformed_cases(why);
    }
    size_t pos = 0;
    while (pos < cases_size) {
        if (case_count == MAX_CASES) malformed_cases("more than 1000 cases");
        struct test_case *c = &cases[case_count];
        c->stdin_bytes = case_number(&pos, ' ', case_count, "stdin_bytes");
        c->timeout_ms = case_number(&pos, '\n', case_count, "timeout_ms");
        if (c->timeout_ms < 1) {
            char why[64];
            snprintf(why, sizeof why, "case %d: timeout_ms must be at least 1", case_count);
            malformed_cases(why);
        }
        if ((unsigned long long)c->stdin_bytes > cases_size - pos) {
            char why[96];
            snprintf(why, sizeof why, "case %d: %lld stdin bytes run past the section", case_count, c->stdin_bytes);
            malformed_cases(why);
        }
        c->offset = pos;
        pos += (size_t)c->stdin_bytes;
        case_count++;
    }
    if (case_count == 0) malformed_cases("no cases");
}

/* ---- processes --------------------------------------------------------------------------- */

static void on_child_exit(int sig) {
    (void)sig;
    int saved = errno;
    (void)!write(child_exited[1], "", 1); /* full pipe: a wake-up is already pending */
    errno = saved;
}

/* Empties the self-pipe (non-blocking: ends with EAGAIN, which is all an error could be). */
static void drain_child_exited(void) {
    char buf[64];
    while (read(child_exited[0], buf, sizeof buf) > 0) {
    }
}

/* Every line that carries the nonce is formatted here (not on the stack), so that a child can
 * wipe its copy before it turns dumpable (spawn). */
static char record_line[256];

/* In a child before exec: makes it the OOM killer's first choice (oom_score_adj 1000), so that
 * a case that fills the memory - or the tmpfs, whose pages are nobody's RSS - loses its own
 * processes and not the supervisor. A non-dumpable process's /proc files belong to root, so the
 * child must turn dumpable to write its own; it first wipes its copies of the nonce. That
 * moment exposes nothing: we spawn only when every other process of our uid is gone or has a
 * SIGKILL pending (kill_leftovers), so no code of the program can run to look. Returns 0, or -1
 * (errno set). A program may lower its value back to 0 (it may kill us outright anyway). */
static int become_oom_victim(void) {
    memset(nonce, 0, sizeof nonce);
    memset(record_line, 0, sizeof record_line);
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) return -1;
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int ok = write(fd, "1000", 4) == 4;
    int error = errno;
    close(fd);
    errno = error;
    return ok ? 0 : -1;
}

/* Once, before anything runs: whether become_oom_victim works here (e.g. not where /proc is
 * read-only), so that a failure is reported once instead of by every child. */
static void probe_oom_victim(void) {
    pid_t pid = fork();
    if (pid < 0) {
        say("fork failed: %s", strerror(errno));
        raise_oom_score = 0;
        return;
    }
    if (pid == 0) _exit(become_oom_victim() == 0 ? 0 : 1);
    int wstatus;
    pid_t r;
    do r = waitpid(pid, &wstatus, 0); while (r < 0 && errno == EINTR);
    raise_oom_score = r == pid && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (!raise_oom_score) say("cannot raise the programs' oom_score_adj: the OOM killer may choose the supervisor");
}

/* Forks a child that runs argv with `in`, `out`, `err` (-1: unchanged) as its stdin, stdout and
 * stderr, in `dir`. Every other descriptor of ours is O_CLOEXEC. A fork failing with EAGAIN
 * (the pids limit still full of processes being killed) is retried after a kill round.
 * Returns the pid, or -1 (message written). */
static void kill_leftovers(void);
static pid_t spawn(char *const argv[], int in, int out, int err, const char *dir) {
    pid_t pid;
    for (int attempt = 0;; attempt++) {
        pid = fork();
        if (pid >= 0) break;
        if (errno == EAGAIN && attempt < FORK_RETRIES) {
            kill_leftovers();
            continue;
        }
        say("fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) return pid;
    /* the child */
    if (raise_oom_score && become_oom_victim() != 0) say("cannot raise oom_score_adj: %s", strerror(errno));
    if ((in >= 0 && dup2(in, STDIN_FILENO) < 0) || (out >= 0 && out != STDOUT_FILENO && dup2(out, STDOUT_FILENO) < 0) ||
        (err >= 0 && err != STDERR_FILENO && dup2(err, STDERR_FILENO) < 0)) {
        say("dup2 failed: %s", strerror(errno));
        _exit(STATUS_SETUP_FAILED);
    }
    if (dir && chdir(dir) != 0) {
        say("cannot enter %s: %s", dir, strerror(errno));
        _exit(STATUS_SETUP_FAILED);
    }
    execve(argv[0], argv, environ);
    say("cannot run %s: %s", argv[0], strerror(errno));
    _exit(127);
}

/* Kills every process we may signal except ourselves and PID 1, i.e. all of the program's,
 * until none is left: kill(-1) succeeds as long as one exists, zombies included (docker-init
 * reaps them), so ESRCH means the pids count is back to ours. A fork bomb loses a generation
 * per round. Gives up after KILL_GIVE_UP_NS with a message. */
static void kill_leftovers(void) {
    long long start = now_ns();
    for (unsigned round = 0;; round++) {
        if (kill(-1, SIGKILL) != 0) {
            if (errno != ESRCH) say("kill(-1, SIGKILL) failed: %s", strerror(errno));
            return;
        }
        if (now_ns() - start >= KILL_GIVE_UP_NS) {
            say("processes the program left behind are still there after 2 s of SIGKILL; going on");
            return;
        }
        back_off(round);
    }
}

/* Appends up to output_cap - kept of buf's n bytes to the stream's memfd; more: `over`. */
static void keep_bytes(struct stream *s, const char *buf, long long n) {
    long long room = output_cap - s->kept;
    long long take = n < room ? n : room;
    if (n > room) s->over = 1;
    while (take > 0) {
        ssize_t w = pwrite(s->keep, buf, (size_t)take, s->kept);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { /* ENOMEM/ENOSPC: what is kept stays consistent with `kept` */
            say("cannot keep a case's output: %s", w < 0 ? strerror(errno) : "short write");
            return;
        }
        buf += w;
        take -= w;
        s->kept += w;
    }
}

/* Reads what a stream's pipe has (a bounded number of reads); at EOF closes it (fd -1). */
static void pump(struct stream *s) {
    for (int i = 0; i < READS_PER_WAKE && s->fd >= 0; i++) {
        ssize_t n = read(s->fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n < 0) say("cannot read a case's output: %s", strerror(errno)); /* then as at EOF */
        if (n <= 0) {
            close(s->fd);
            s->fd = -1;
            return;
        }
        keep_bytes(s, chunk, n);
    }
}

static void wait_blocking(pid_t pid, struct ending *e) {
    int wstatus;
    for (;;) {
        pid_t r = wait4(pid, &wstatus, 0, &e->usage);
        if (r == pid) {
            e->status = shell_status(wstatus);
            e->have_usage = 1;
            return;
        }
        if (r < 0 && errno == EINTR) continue;
        say("wait4 failed: %s", strerror(errno));
        e->status = 255;
        return;
    }
}

/* Watches child `pid` until it exits, its own time limit `limit_ns` or the deadline passes
 * (then everything is killed), or one of `streams` (NULL: none) is over the cap. No sleeping:
 * ppoll on the SIGCHLD self-pipe and the pipes with the time left as its timeout. */
static void watch(pid_t pid, long long limit_ns, struct stream *streams, struct ending *e) {
    long long until = limit_ns < deadline_ns ? limit_ns : deadline_ns;
    memset(e, 0, sizeof *e);
    for (;;) {
        int wstatus;
        pid_t r = wait4(pid, &wstatus, WNOHANG, &e->usage);
        if (r == pid) {
            e->end_ns = now_ns();
            e->status = shell_status(wstatus);
            e->have_usage = 1;
            return;
        }
        if (r < 0 && errno != EINTR) {
            say("wait4 failed: %s", strerror(errno));
            e->end_ns = now_ns();
            e->status = 255;
            kill_leftovers();
            return;
        }
        long long now = now_ns();
        int over = streams && (streams[0].over || streams[1].over);
        if (now >= until || over) {
            if (!over) e->limit = limit_ns <= deadline_ns ? 't' : 'T';
            e->end_ns = now;
            if (kill(-1, SIGKILL) != 0 && errno != ESRCH) say("kill(-1, SIGKILL) failed: %s", strerror(errno));
            wait_blocking(pid, e);
            return;
        }
        struct pollfd p[3] = {
            {.fd = child_exited[0], .events = POLLIN},
            {.fd = streams ? streams[0].fd : -1, .events = POLLIN},
            {.fd = streams ? streams[1].fd : -1, .events = POLLIN},
        };
        struct timespec left = to_timespec(until - now);
        if (ppoll(p, 3, &left, NULL) < 0 && errno != EINTR) {
            say("ppoll failed: %s", strerror(errno));
            back_off(1000); /* do not spin on a persistent error; the clock still ends the case */
        }
        if (p[0].revents) drain_child_exited();
        for (int i = 0; streams && i < 2; i++)
            if (p[i + 1].revents) pump(&streams[i]);
    }
}

/* After every writer is dead: the rest of both pipes, up to EOF (the cap still applies). */
static void drain_streams(struct stream *s) {
    long long give_up = now_ns() + DRAIN_GIVE_UP_NS;
    while (s[0].fd >= 0 || s[1].fd >= 0) {
        long long now = now_ns();
        if (now >= give_up) {
            say("a case's output pipes are still open after its processes were killed; not waiting");
            break;
        }
        struct pollfd p[2] = {{.fd = s[0].fd, .events = POLLIN}, {.fd = s[1].fd, .events = POLLIN}};
        struct timespec left = to_timespec(give_up - now);
        if (ppoll(p, 2, &left, NULL) < 0 && errno != EINTR) {
            say("ppoll failed: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < 2; i++)
            if (p[i].revents) pump(&s[i]);
    }
    for (int i = 0; i < 2; i++)
        if (s[i].fd >= 0) {
            close(s[i].fd);
            s[i].fd = -1;
        }
}

/* ---- records ----------------------------------------------------------------------------- */

static void emit(const char *buf, size_t len) {
    if (write_all(STDOUT_FILENO, buf, len) != 0) {
        say("cannot write to stdout: %s", strerror(errno));
        _exit(1);
    }
}

/* `len` bytes of memfd `fd` to stdout. */
static void emit_kept(int fd, long long len) {
    off_t off = 0;
    while (off < len) {
        ssize_t n = sendfile(STDOUT_FILENO, fd, &off, (size_t)(len - off));
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EINVAL || errno == ENOSYS)) { /* stdout that splice cannot feed */
            ssize_t got = pread(fd, chunk, len - off < (long long)sizeof chunk ? (size_t)(len - off) : sizeof chunk, off);
            if (got > 0) {
                emit(chunk, (size_t)got);
                off += got;
                continue;
            }
        }
        say("cannot write a case's output: %s", n < 0 ? strerror(errno) : "short copy");
        _exit(1);
    }
}

/* Waits until the engine has read everything we wrote to fd (a pipe: see the top) or the
 * deadline passes (-1). */
static int wait_drained(int fd) {
    if (!stream_is_pipe[fd]) return 0;
    for (unsigned round = 0;; round++) {
        int pending = 0;
        if (ioctl(fd, FIONREAD, &pending) != 0) {
            say("ioctl(FIONREAD) on fd %d failed: %s; not waiting for the engine to read it", fd, strerror(errno));
            stream_is_pipe[fd] = 0;
            return 0;
        }
        if (pending == 0) return 0;
        if (now_ns() >= deadline_ns) return -1;
        back_off(round);
    }
}

static void end_marker(void) {
    int n = snprintf(record_line, sizeof record_line, "@@code-runner:%s@@ end\n", nonce);
    if (write_all(STDERR_FILENO, record_line, (size_t)n) != 0) _exit(1);
}

static void done(int cases_run) __attribute__((noreturn));
static void done(int cases_run) {
    int n = snprintf(record_line, sizeof record_line, "@@code-runner:%s@@ done %d\n", nonce, cases_run);
    emit(record_line, (size_t)n);
    _exit(0);
}

/* The end marker, the build record and, when no case can run, "done 0". */
static void build_record(int status, long long wall_ns, int limit, int oom, int go_on) {
    char flags[4], *f = flags;
    if (limit) *f++ = 'T';
    if (oom) *f++ = 'm';
    if (f == flags) *f++ = '-';
    *f = '\0';
    end_marker();
    int n = snprintf(record_line, sizeof record_line, "@@code-runner:%s@@ build %d %lld %s\n", nonce, status,
                     wall_ns / 1000, flags);
    emit(record_line, (size_t)n);
    if (!go_on) done(0);
}

/* ---- the phases -------------------------------------------------------------------------- */

static void set_up_processes(void) {
    if (pipe2(child_exited, O_CLOEXEC | O_NONBLOCK) != 0) {
        say("pipe2 failed: %s", strerror(errno));
        build_record(STATUS_SETUP_FAILED, 0, 0, 0, 0);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child_exit;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGCHLD, &sa, NULL) != 0) {
        say("sigaction(SIGCHLD) failed: %s", strerror(errno));
        build_record(STATUS_SETUP_FAILED, 0, 0, 0, 0);
    }
    dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    keep_out = memfd_create("case-stdout", MFD_CLOEXEC);
    keep_err = memfd_create("case-stderr", MFD_CLOEXEC);
    if (dev_null < 0 || keep_out < 0 || keep_err < 0) {
        say("cannot open /dev/null or create the output buffers: %s", strerror(errno));
        build_record(STATUS_SETUP_FAILED, 0, 0, 0, 0);
    }
    probe_oom_victim();
    for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++) {
        struct stat st;
        if (fstat(fd, &st) != 0) say("fstat(%d) failed: %s", fd, strerror(errno));
        else stream_is_pipe[fd] = S_ISFIFO(st.st_mode);
    }
}

/* setup-run with the archive (a memfd of `archive_bytes`, the header's field), then the build,
 * then the snapshot of the work dir. Any failure: the build record and "done 0" (no return).
 * Returns when the cases may run, with the end marker and the build record written. */
static void prepare(int archive, char *archive_bytes) {
    if (run_command[0] == '\0') {
        say("no command to run");
        build_record(STATUS_SETUP_FAILED, 0, 0, 0, 0);
    }
    long long oom_before = oom_kills();
    struct ending e;
    char *setup[] = {SETUP_SCRIPT, archive_bytes, "0", NULL};
    long long start = now_ns();
    pid_t pid = spawn(setup, archive, -1, -1, NULL);
    close(archive);
    if (pid < 0) build_record(STATUS_SETUP_FAILED, 0, 0, 0, 0);
    watch(pid, LLONG_MAX, NULL, &e); /* bounded by the deadline: it can run the user's code */
    kill_leftovers();
    if (e.status != 0 || e.limit) {
        long long oom = oom_kills();
        build_record(STATUS_SETUP_FAILED, e.end_ns - start, e.limit, oom > oom_before && oom_before >= 0, 0);
    }

    long long wall = 0;
    e.status = 0;
    e.limit = 0;
    if (has_build) {
        char *build[] = {"/bin/sh", "-c", build_command, NULL};
        start = now_ns();
        pid = spawn(build, dev_null, -1, -1, WORK_DIR);
        if (pid < 0) build_record(STATUS_SETUP_FAILED, 0, 0, 0, 0);
        watch(pid, LLONG_MAX, NULL, &e);
        wall = e.end_ns - start;
        kill_leftovers();
    }
    long long oom = oom_kills();
    int oom_flag = oom > oom_before && oom_before >= 0;
    if (e.status != 0 || e.limit) build_record(e.status, wall, e.limit, oom_flag, 0);
    /* the snapshot comes before the record, so that its failure can still be reported */
    if (worktree_snapshot() != 0) build_record(STATUS_SETUP_FAILED, wall, 0, oom_flag, 0);
    build_record(0, wall, 0, oom_flag, 1);
}

/* A sealed memfd holding case i's stdin, rewound; -1 on failure (message written). */
static int case_stdin(int i) {
    int fd = memfd_create("case-stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        say("memfd_create (case stdin) failed: %s", strerror(errno));
        return -1;
    }
    if (write_all(fd, (const char *)cases_data + cases[i].offset, (size_t)cases[i].stdin_bytes) != 0) {
        say("cannot write case %d's stdin: %s", i, strerror(errno));
        close(fd);
        return -1;
    }
    /* the program reads its input; it cannot rewrite it (its own copy only, but still) */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        say("cannot seal case %d's stdin: %s", i, strerror(errno));
    if (lseek(fd, 0, SEEK_SET) != 0) {
        say("cannot rewind case %d's stdin: %s", i, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void case_record(int i, const struct ending *e, long long wall_ns, int oom, const struct stream *s) {
    char flags[8], *f = flags;
    if (e->limit == 't') *f++ = 't';
    if (e->limit == 'T') *f++ = 'T';
    if (oom) *f++ = 'm';
    if (s[0].over) *f++ = 'o';
    if (s[1].over) *f++ = 'e';
    if (f == flags) *f++ = '-';
    *f = '\0';
    long long cpu = -1, rss = -1;
    if (e->have_usage) {
        cpu = (long long)(e->usage.ru_utime.tv_sec + e->usage.ru_stime.tv_sec) * 1000000 + e->usage.ru_utime.tv_usec +
              e->usage.ru_stime.tv_usec;
        rss = (long long)e->usage.ru_maxrss * 1024;
    }
    int n = snprintf(record_line, sizeof record_line, "@@code-runner:%s@@ case %d %d %lld %lld %lld %s %lld %lld\n", nonce,
                     i, e->status, wall_ns / 1000, cpu, rss, flags, s[0].kept, s[1].kept);
    emit(record_line, (size_t)n);
    emit_kept(s[0].keep, s[0].kept);
    emit_kept(s[1].keep, s[1].kept);
}

/* One case, from its fresh work dir to its record. */
static void run_case(int i) {
    struct stream s[2] = {{.fd = -1, .keep = keep_out}, {.fd = -1, .keep = keep_err}};
    struct ending e;
    memset(&e, 0, sizeof e);
    e.status = STATUS_SETUP_FAILED; /* unless it runs: the sandbox could not start it */
    long long wall = 0;
    int oom = 0;
    int in = -1, out[2] = {-1, -1}, err[2] = {-1, -1};

    if (worktree_restore() != 0 || (in = case_stdin(i)) < 0) goto record;
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        say("pipe2 failed: %s", strerror(errno));
        goto record;
    }
    /* only our ends are non-blocking: the program's writes block as usual */
    if (fcntl(out[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) != 0) {
        say("fcntl(O_NONBLOCK) failed: %s", strerror(errno));
        goto record;
    }
    long long oom_before = oom_kills();
    struct timespec since;
    if (clock_gettime(CLOCK_REALTIME_COARSE, &since) != 0) { /* the clock file times come from */
        say("clock_gettime(CLOCK_REALTIME_COARSE) failed: %s", strerror(errno));
        goto record;
    }
    char *argv[] = {"/bin/sh", "-c", run_command, NULL};
    long long start = now_ns();
    pid_t pid = spawn(argv, in, out[1], err[1], WORK_DIR);
    close(in);
    close(out[1]);
    close(err[1]);
    in = out[1] = err[1] = -1;
    s[0].fd = out[0];
    s[1].fd = err[0];
    out[0] = err[0] = -1;
    if (pid < 0) {
        drain_streams(s);
        goto record;
    }
    watch(pid, start + cases[i].timeout_ms * NS_PER_MS, s, &e);
    wall = e.end_ns - start;
    kill_leftovers();
    drain_streams(s);
    long long oom_after = oom_kills();
    oom = oom_after > oom_before && oom_before >= 0;
    worktree_clean(&since);

record:
    if (in >= 0) close(in);
    for (int k = 0; k < 2; k++) {
        if (out[k] >= 0) close(out[k]);
        if (err[k] >= 0) close(err[k]);
    }
    case_record(i, &e, wall, oom, s);
    for (int k = 0; k < 2; k++)
        if (s[k].kept > 0 && ftruncate(s[k].keep, 0) != 0) say("cannot empty an output buffer: %s", strerror(errno));
}

void judge_main(char **fields, int count) {
    long long start = now_ns(); /* the deadline counts from the header */
    if (count != CR2_FIELDS) {
        char why[64];
        snprintf(why, sizeof why, "expected %d fields, got %s", CR2_FIELDS, count > CR2_FIELDS ? "more" : "fewer");
        bad_header(why);
    }
    if (strlen(fields[1]) != NONCE_LEN || strspn(fields[1], "0123456789abcdef") != NONCE_LEN) bad_header("bad nonce");
    memcpy(nonce, fields[1], NONCE_LEN + 1);
    memset(fields[1], 'x', NONCE_LEN); /* the header's copy: only `nonce` and record_line hold it */
    long long archive_bytes = parse_count(fields[2], "archive_bytes");
    long long cases_bytes = parse_count(fields[3], "cases_bytes");
    parse_count(fields[4], "metadata_cap"); /* validated, unused in CR2 */
    if (strcmp(fields[5], "-") == 0) {
        const char *fallback = getenv("RT_DEFAULT_CMD");
        size_t len = fallback ? strlen(fallback) : 0;
        if (len > HEADER_MAX) len = 0;
        memcpy(run_command, fallback ? fallback : "", len);
        run_command[len] = '\0';
    } else if (decode_base64(fields[5], run_command) != 0) {
        bad_header("run_cmd is not valid base64");
    }
    has_build = strcmp(fields[6], "-") != 0;
    if (has_build && decode_base64(fields[6], build_command) != 0) bad_header("build_cmd is not valid base64");
    output_cap = parse_count(fields[7], "output_cap");
    if (output_cap < 1) bad_header("output_cap must be at least 1");
    long long deadline_ms = parse_count(fields[8], "deadline_ms");
    deadline_ns = deadline_ms > (LLONG_MAX - start) / NS_PER_MS ? LLONG_MAX : start + deadline_ms * NS_PER_MS;
    if (cases_bytes < 1) malformed_cases("no cases");

    int archive = read_archive(archive_bytes);
    read_cases(cases_bytes);

    set_up_processes();
    prepare(archive, fields[2]); /* returns only when the cases may run */

    /* no case may find the end marker or the build record still in the pipes */
    if (wait_drained(STDERR_FILENO) != 0) done(0);
    int ran = 0;
    for (int i = 0; i < case_count; i++) {
        if (now_ns() >= deadline_ns || wait_drained(STDOUT_FILENO) != 0) break;
        run_case(i);
        ran++;
    }
    done(ran);
}
