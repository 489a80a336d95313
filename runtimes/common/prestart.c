/*
 * code-runner-supervise, pre-started interpreters (runtimes/PROTOCOL.md, "Pre-started
 * interpreters"): a warm container's supervisor (started with the argument --prestart) prepares
 * the work dir's fixed part and starts the runtime's default command before the run is known,
 * so that the run costs no interpreter start-up.
 *
 * How the interpreter waits. The image names the command in RT_PRESTART_CMD: the runtime's own
 * command line with the runtime's start hook switched on (python: a .pth file, node: --require,
 * bun: --preload, deno: --preload). It is started with /bin/sh -c in WORK_DIR (empty yet), its
 * stdin the empty STDIN_FILE, fd 3 the read end of a pipe, in the image's environment plus
 * CODE_RUNNER_PRESTART_FD=3. The hook runs before the main file is looked at and blocks reading
 * the pipe. When the run may use it, the supervisor writes "go\n" and the run's environment
 * ("NAME=value\0" each) and closes its end: the hook applies the variables, removes its own
 * (CODE_RUNNER_PRESTART_FD, NODE_OPTIONS, BUN_OPTIONS), closes fd 3 and returns (deno cannot
 * close a descriptor it did not open: fd 3 stays open there, at its end), and the runtime goes on
 * exactly as `python3 main.py` / `node main.js` would: sys.argv, __file__, require.main, stack
 * traces and the process tree are those of the exec path. The files and the program's stdin
 * are in place by then: setup-run extracted the archive into WORK_DIR and rewrote STDIN_FILE in
 * place (the shell's `>` truncates the same inode, which is the interpreter's fd 0).
 *
 * A run that cannot use it (a custom entrypoint, judge mode, a variable the interpreter reads
 * while it starts: RT_PRESTART_EXEC_ON, e.g. PYTHON* or NODE_OPTIONS) abandons it: the pipe is
 * closed without "go" (the hook then exits at once, without running anything) and the process
 * is killed and reaped before the exec path runs.
 *
 * Bun looks for its main file before it runs a preload: RT_PRESTART_PLACEHOLDER (main.ts there)
 * names a file created empty in WORK_DIR first. The archive's own file replaces it (tar unlinks
 * and creates, so the inode changes); a run whose archive did not bring one finds the
 * placeholder still there, removes it and takes the exec path, which then fails as it should.
 *
 * The pre-started process never learns the nonce: it is forked before the header is read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervise.h"

/* The descriptor the hook reads the run from (CODE_RUNNER_PRESTART_FD). */
#define PRESTART_FD 3

static pid_t prestarted = -1;
/* RT_PRESTART_PLACEHOLDER's file as created (device and inode), while it may still be there. */
static int placeholder_made;
static struct stat placeholder;
static char placeholder_path[512];
/* The pipe's write end (close-on-exec); -1 when nothing was pre-started. The read end is only
 * the pre-started process's, so a write fails (EPIPE) once it has died, and what is written
 * before its hook reads waits in the pipe. */
static int go_fd = -1;

/* Runs `setup-run --seed`: the directories and seed copies, which need no input. */
static void seed_work_dir(void) {
    pid_t pid = fork();
    if (pid < 0) {
        say("fork failed: %s", strerror(errno));
        return;
    }
    if (pid == 0) {
        char *argv[] = {SETUP_SCRIPT, "--seed", NULL};
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, STDIN_FILENO);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    int wstatus;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
}

/* Removes the placeholder when it is still the one made here (the archive brought no file of
 * that name); returns whether it was. */
static int remove_placeholder(void) {
    if (!placeholder_made) return 0;
    placeholder_made = 0;
    struct stat now;
    if (lstat(placeholder_path, &now) != 0 || now.st_dev != placeholder.st_dev || now.st_ino != placeholder.st_ino) return 0;
    if (unlink(placeholder_path) != 0) say("prestart: cannot remove %s: %s", placeholder_path, strerror(errno));
    return 1;
}

/* Creates RT_PRESTART_PLACEHOLDER's empty file in WORK_DIR; 0, or -1 (message written). */
static int make_placeholder(void) {
    const char *name = getenv("RT_PRESTART_PLACEHOLDER");
    if (!name || !*name) return 0;
    if (strchr(name, '/') || (size_t)snprintf(placeholder_path, sizeof placeholder_path, "%s/%s", WORK_DIR, name) >= sizeof placeholder_path) {
        say("prestart: bad RT_PRESTART_PLACEHOLDER");
        return -1;
    }
    int fd = open(placeholder_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || fstat(fd, &placeholder) != 0) {
        say("prestart: cannot create %s: %s", placeholder_path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    placeholder_made = 1;
    return 0;
}

void prestart_begin(void) {
    seed_work_dir();
    const char *command = getenv("RT_PRESTART_CMD");
    if (!command || !*command) return;
    if (make_placeholder() != 0) return;
    /* the interpreter's stdin: setup-run rewrites this inode in place with the run's input */
    int input = open(STDIN_FILE, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    if (input < 0) {
        say("prestart: cannot create %s: %s", STDIN_FILE, strerror(errno));
        return;
    }
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) {
        say("prestart: pipe: %s", strerror(errno));
        close(input);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        say("prestart: fork failed: %s", strerror(errno));
        close(input);
        close(ends[0]);
        close(ends[1]);
        return;
    }
    if (pid == 0) {
        /* dup2 clears close-on-exec on the copies it makes */
        if (chdir(WORK_DIR) != 0 || dup2(input, STDIN_FILENO) < 0) _exit(127);
        if (ends[0] == PRESTART_FD) {
            if (fcntl(PRESTART_FD, F_SETFD, 0) != 0) _exit(127);
        } else if (dup2(ends[0], PRESTART_FD) < 0) {
            _exit(127);
        }
        setenv("CODE_RUNNER_PRESTART_FD", "3", 1);
        char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
        execve(argv[0], argv, environ);
        _exit(127);
    }
    close(input);
    close(ends[0]);
    go_fd = ends[1];
    prestarted = pid;
}

/* Whether `name` (up to '=') matches one of RT_PRESTART_EXEC_ON's space-separated patterns. */
static int read_at_start(const char *entry) {
    const char *patterns = getenv("RT_PRESTART_EXEC_ON");
    if (!patterns) return 0;
    char name[256];
    size_t len = strcspn(entry, "=");
    if (len >= sizeof name) return 0;
    memcpy(name, entry, len);
    name[len] = '\0';
    char pattern[256];
    for (const char *p = patterns; *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (n > 0 && n < sizeof pattern) {
            memcpy(pattern, p, n);
            pattern[n] = '\0';
            if (fnmatch(pattern, name, 0) == 0) return 1;
        }
        p += n;
    }
    return 0;
}

int prestart_usable(int default_command, const char *environment, size_t length) {
    if (prestarted < 0 || !default_command || remove_placeholder()) return 0;
    for (size_t at = 0; at < length; at += strlen(environment + at) + 1)
        if (read_at_start(environment + at)) return 0;
    int wstatus;
    /* it died while it waited (it should not): the exec path instead */
    return waitpid(prestarted, &wstatus, WNOHANG) == 0;
}

void prestart_abandon(void) {
    remove_placeholder();
    if (prestarted < 0) return;
    close(go_fd);
    go_fd = -1;
    kill(prestarted, SIGKILL);
    int wstatus;
    while (waitpid(prestarted, &wstatus, 0) < 0 && errno == EINTR) {
    }
    prestarted = -1;
}

pid_t prestart_go(const char *environment, size_t length) {
    /* A write to a pipe whose reader has gone raises SIGPIPE: blocked here and taken back, so
     * the program starts with the default disposition (an ignored signal would stay ignored). */
    sigset_t pipe_signal, previous;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_signal, &previous);
    int failed = write_all(go_fd, "go\n", 3) != 0 || write_all(go_fd, environment, length) != 0;
    int error = errno;
    close(go_fd);
    go_fd = -1;
    struct timespec now = {0, 0};
    while (sigtimedwait(&pipe_signal, NULL, &now) == SIGPIPE) {
    }
    sigprocmask(SIG_SETMASK, &previous, NULL);
    pid_t pid = prestarted;
    if (failed) {
        say("prestart: the pre-started interpreter did not take the run: %s", strerror(error));
        prestart_abandon();
        return -1;
    }
    prestarted = -1;
    return pid;
}
