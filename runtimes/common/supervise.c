/*
 * code-runner-supervise: the image side of the worker <-> image protocol (runtimes/PROTOCOL.md,
 * versions CR1 and CR2). It is the container's entrypoint (/usr/local/bin/code-runner-entrypoint
 * links to it), started by docker-init as uid 1000, the same uid as the user's program.
 *
 * Why a compiled supervisor: the trailer that reports the program's exit status, metadata and
 * OOM kills is authenticated only by the per-run nonce. A process of the same uid may read
 * another's /proc/<pid>/mem, environ and fd/ as long as that process is "dumpable", so a shell
 * that knew the nonce could be read by the program it started, which could then print a forged
 * trailer. This process makes itself non-dumpable before it reads anything (the kernel then
 * refuses same-uid /proc and ptrace access to it), reads the header itself, and keeps the nonce
 * in its own memory only: never in argv (world-readable /proc/<pid>/cmdline), never in the
 * environment, never in a file, never in a process it starts.
 *
 * This file: main(), the header, protocol CR1 and the helpers the CR2 part (judge.c, worktree.c;
 * see supervise.h) shares. A header whose first field is "CR2" goes to judge_main(); anything
 * else is handled exactly as before CR2 existed.
 *
 * CR1 steps:
 *  1. prctl(PR_SET_DUMPABLE, 0). With the argument --prestart (a warm container): the work
 *     dir's fixed part, and the runtime's interpreter started ahead (prestart.c).
 *  2. Reads the header line "CR1 <nonce> <archive> <stdin> <metadata_cap> <entrypoint>
 *     [<output_files> <max_files> <max_file_bytes> [<environment_bytes>]]\n" from
 *     stdin one byte at a time (nothing after the newline is consumed) and validates it;
 *     malformed -> message on stderr, exit 125, no trailer. With an environment block
 *     ("NAME=value\0" each, right after the header line), its variables are set here, so that
 *     the set-up and the program run with them (a warm container was created without them).
 *  3. Runs the work-dir set-up (SETUP_SCRIPT with the archive and stdin lengths as arguments):
 *     it reads the archive and the program's stdin from our stdin, extracts the files and runs
 *     the runtime's prepare hook. Exit status 0 or the trailer with status 2.
 *  4. Runs the program: /bin/sh -c "<decoded entrypoint or $RT_DEFAULT_CMD>" in WORK_DIR with
 *     stdin from STDIN_FILE, in this process's environment, and waits for it -- or lets the
 *     pre-started interpreter go (prestart.c), the same command started ahead. Its status is the
 *     exit code, or 128+n when a signal ended it (as sh reports it).
 *  5. Writes "@@code-runner:<nonce>@@ end\n" to stderr, then
 *     "@@code-runner:<nonce>@@ <status> <metadata_length> <oom_kills>\n<metadata>" to stdout
 *     (with the output-file fields: "... <oom_kills> <files_length> <files> <cut>\n<metadata>
 *     <files section>", outputs.c), and exits with the program's status.
 *
 * Signal dispositions stay the defaults on purpose: when the engine stops the container
 * (docker-init forwards SIGTERM to us) this process dies without a trailer, which is how the
 * worker knows the run did not end by itself. Children left behind by the program are not
 * waited for: when this process exits, docker-init (PID 1) exits and the kernel ends the rest.
 *
 * Built on the host by scripts/build-images.sh: gcc -static -O2. No allocation: the header
 * (and so the decoded command) is bounded by HEADER_MAX, the metadata is copied in chunks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervise.h"

#define META_FILE "/tmp/.code-runner/.quartermaster_metadata.json"
/* CR1 has 6 fields (9 with output files, 10 with an environment), CR2 9; one more is split off
 * so that "more than expected" is seen */
#define MAX_FIELDS 11
/* The largest environment block (CR1's tenth field) accepted; the API's body limit is 1 MiB. */
#define ENVIRONMENT_MAX (8LL * 1024 * 1024)

static char header[HEADER_MAX + 1];
static char command[HEADER_MAX + 1];
/* The output-file patterns (newline-separated), decoded from the header; empty for none. */
static char output_spec[HEADER_MAX + 1];
/* Whether the header had the output-file fields: the trailer line then has three more. */
static int has_output_fields;
static long long output_max_files, output_max_bytes;
char nonce[NONCE_LEN + 1];
char chunk[CHUNK_SIZE];

void forget_secrets(void) {
    explicit_bzero(nonce, sizeof nonce);
    explicit_bzero(header, sizeof header);
}

/* A message on stderr, prefixed with the program's name. */
void say(const char *format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
    (void)!write(STDERR_FILENO, "code-runner-entrypoint: ", 24);
    (void)!write(STDERR_FILENO, line, (size_t)n);
    (void)!write(STDERR_FILENO, "\n", 1);
}

void bad_header(const char *why) {
    say("malformed protocol header: %s", why);
    _exit(STATUS_BAD_HEADER);
}

/* Writes all of buf, retrying short writes and EINTR. Returns 0, or -1 on error. */
int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads the header line byte by byte (never past the newline) into `header`, without it. */
static void read_header(void) {
    size_t len = 0;
    for (;;) {
        char c;
        ssize_t n = read(STDIN_FILENO, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) bad_header("cannot read stdin");
        if (n == 0) bad_header("no complete header line on stdin");
        if (c == '\n') break;
        if (len == HEADER_MAX) bad_header("header line too long");
        header[len++] = c;
    }
    header[len] = '\0';
}

/* A count field: 1 to 15 decimal digits. */
long long parse_count(const char *field, const char *name) {
    size_t len = strlen(field);
    if (len == 0 || len > 15 || strspn(field, "0123456789") != len) {
        char why[64];
        snprintf(why, sizeof why, "bad %s", name);
        bad_header(why);
    }
    return strtoll(field, NULL, 10);
}

static int base64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes standard base64 (padding optional) into `command` (HEADER_MAX + 1 bytes: the decoded
 * text is shorter than `text`); 0, or -1 when invalid or when the command holds a NUL byte (it
 * could not be an argument). Trailing newlines are dropped, as a shell's $(...) would. */
int decode_base64(const char *text, char *command) {
    size_t out = 0;
    unsigned int bits = 0;
    int nbits = 0, padding = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '=') {
            padding++;
            continue;
        }
        int v = base64_value(*p);
        if (v < 0 || padding) return -1;
        bits = (bits << 6) | (unsigned int)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            char c = (char)((bits >> nbits) & 0xff);
            if (c == '\0') return -1;
            command[out++] = c;
        }
    }
    if (padding > 2) return -1;
    while (out > 0 && command[out - 1] == '\n') out--;
    command[out] = '\0';
    return 0;
}

/* The status as sh reports it: the exit code, or 128+n for a signal. */
int shell_status(int wstatus) {
    if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
    return 255;
}

/* Waits for `pid` (only that child: orphans are docker-init's to reap). */
static int wait_for(pid_t pid) {
    int wstatus;
    for (;;) {
        pid_t r = waitpid(pid, &wstatus, 0);
        if (r == pid) return shell_status(wstatus);
        if (r < 0 && errno == EINTR) continue;
        say("waitpid failed: %s", strerror(errno));
        return 255;
    }
}

/* How often the cgroup's OOM killer struck (cgroup v1 memory.oom_control or v2 memory.events,
 * line "oom_kill <n>"), -1 when unknown. */
long long oom_kills(void) {
    static const char *files[] = {"/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int fd = open(files[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        char text[4096];
        ssize_t n;
        do n = read(fd, text, sizeof text - 1); while (n < 0 && errno == EINTR);
        close(fd);
        if (n <= 0) continue;
        text[n] = '\0';
        for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            if (strncmp(line, "oom_kill ", 9) == 0) return strtoll(line + 9, NULL, 10);
        }
    }
    return -1;
}

/* Copies at most cap+1 bytes of the metadata file into an anonymous memory file (no path: a
 * leftover background process cannot change the copy), so the length sent is the length of
 * what is sent. Returns the length (the copy's fd in *copy, rewound), -1 when there is no
 * metadata (absent, not a regular file, a symlink, unreadable), -2 when it is over the cap. */
static long long copy_metadata(long long cap, int *copy) {
    *copy = -1;
    int fd = open(META_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) say("cannot open the metadata file: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    int mem = memfd_create("metadata", MFD_CLOEXEC);
    if (mem < 0) {
        say("cannot copy the metadata: memfd_create: %s", strerror(errno));
        close(fd);
        return -1;
    }
    long long total = 0;
    while (total <= cap) {
        long long want = cap + 1 - total;
        ssize_t n = read(fd, chunk, want < (long long)sizeof chunk ? (size_t)want : sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            say("cannot read the metadata file: %s", strerror(errno));
            total = -1;
            break;
        }
        if (n == 0) break;
        if (write_all(mem, chunk, (size_t)n) != 0) {
            say("cannot copy the metadata: %s", strerror(errno));
            total = -1;
            break;
        }
        total += n;
    }
    close(fd);
    if (total < 0 || total > cap) {
        close(mem);
        return total < 0 ? -1 : -2;
    }
    if (lseek(mem, 0, SEEK_SET) != 0) {
        say("cannot rewind the metadata copy: %s", strerror(errno));
        close(mem);
        return -1;
    }
    *copy = mem;
    return total;
}

/* Sends `length` bytes of the rewound memory file `fd` to stdout; 0, or -1 on error. */
static int send_copy(int fd, long long length) {
    while (length > 0) {
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1; /* cannot happen for a memfd; the worker then sees a short trailer */
        if (write_all(STDOUT_FILENO, chunk, (size_t)got) != 0) return -1;
        length -= got;
    }
    return 0;
}

/* Step 5: both end markers, the metadata and the output files, then exit with the program's
 * status. */
static void trailer(int status, long long cap) {
    int copy;
    long long length = copy_metadata(cap, &copy);
    int files_fd = -1, cut = 0;
    long long files = 0, files_length = 0;
    if (has_output_fields) files_length = collect_output_files(output_spec, output_max_files, output_max_bytes, &files_fd, &files, &cut);
    char line[160];
    int n = snprintf(line, sizeof line, "@@code-runner:%s@@ end\n", nonce);
    /* stderr first: the two streams are not ordered against each other, so the worker knows
     * both are complete only when it has seen both markers. */
    if (write_all(STDERR_FILENO, line, (size_t)n) != 0) _exit(status);
    if (has_output_fields)
        n = snprintf(line, sizeof line, "@@code-runner:%s@@ %d %lld %lld %lld %lld %d\n", nonce, status, length, oom_kills(), files_length, files,
                     cut);
    else
        n = snprintf(line, sizeof line, "@@code-runner:%s@@ %d %lld %lld\n", nonce, status, length, oom_kills());
    if (write_all(STDOUT_FILENO, line, (size_t)n) != 0) _exit(status);
    if (length > 0 && send_copy(copy, length) != 0) _exit(status);
    if (files_length > 0) (void)send_copy(files_fd, files_length);
    _exit(status);
}

/* Forks; the child execs argv with `stdin_path` (or our stdin when NULL) as its stdin, in
 * `dir` when not NULL. Returns the child's pid, or -1 (message written). */
static pid_t start(char *const argv[], const char *stdin_path, const char *dir) {
    pid_t pid = fork();
    if (pid < 0) {
        say("fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) return pid;
    if (dir && chdir(dir) != 0) {
        say("cannot enter %s: %s", dir, strerror(errno));
        _exit(STATUS_SETUP_FAILED);
    }
    if (stdin_path) {
        int fd = open(stdin_path, O_RDONLY);
        if (fd < 0 || dup2(fd, STDIN_FILENO) < 0) {
            say("cannot open %s: %s", stdin_path, strerror(errno));
            _exit(STATUS_SETUP_FAILED);
        }
        if (fd != STDIN_FILENO) close(fd);
    }
    execve(argv[0], argv, environ);
    say("cannot run %s: %s", argv[0], strerror(errno));
    _exit(127);
}

/* Reads the environment block (`length` bytes right after the header line) into memory that
 * stays mapped (putenv keeps pointers into it) and sets every "NAME=value\0" entry; a block that
 * is cut short or holds an entry without a name is a malformed header. */
static const char *read_environment(long long length) {
    if (length == 0) return "";
    if (length > ENVIRONMENT_MAX) bad_header("environment too large");
    char *block = mmap(NULL, (size_t)length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) bad_header("cannot map the environment");
    for (long long got = 0; got < length;) {
        ssize_t n = read(STDIN_FILENO, block + got, (size_t)(length - got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) bad_header("stdin ended inside the environment");
        got += n;
    }
    if (block[length - 1] != '\0') bad_header("environment entry without its NUL");
    for (long long at = 0; at < length; at += (long long)strlen(block + at) + 1) {
        char *entry = block + at;
        char *equals = strchr(entry, '=');
        if (!equals || equals == entry) bad_header("environment entry without a name");
        if (putenv(entry) != 0) bad_header("cannot set the environment");
    }
    return block;
}

int main(int argc, char **argv) {
    /* 1. Before anything else: no same-uid /proc/<pid>/{mem,environ,fd} or ptrace access. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        say("prctl(PR_SET_DUMPABLE) failed: %s", strerror(errno));
        return STATUS_BAD_HEADER;
    }
    /* a warm container: everything that needs no input, before the input is there */
    int warm = argc > 1 && strcmp(argv[1], "--prestart") == 0;
    if (warm) prestart_begin();

    /* 2. The header. */
    read_header();
    char *fields[MAX_FIELDS];
    int count = 0;
    for (char *p = header; count < MAX_FIELDS;) {
        fields[count++] = p;
        char *space = strchr(p, ' ');
        if (!space) break;
        *space = '\0';
        p = space + 1;
    }
    /* protocol CR2 (judge mode): judge.c, never returns */
    if (strcmp(fields[0], "CR2") == 0) {
        prestart_abandon();
        judge_main(fields, count);
    }
    if (count != 6 && count != 9 && count != 10) {
        /* the message CR1 always had (a header with the three output-file fields, and the
         * environment's after them, are the only other lengths accepted): the hostile suite
         * holds CR1's answers byte for byte */
        char why[64];
        snprintf(why, sizeof why, "expected 6 fields, got %s", count > 6 ? "more" : "fewer");
        bad_header(why);
    }
    if (strcmp(fields[0], "CR1") != 0) bad_header("unknown protocol version");
    if (strlen(fields[1]) != NONCE_LEN || strspn(fields[1], "0123456789abcdef") != NONCE_LEN) bad_header("bad nonce");
    memcpy(nonce, fields[1], NONCE_LEN + 1);
    parse_count(fields[2], "archive_bytes");
    parse_count(fields[3], "stdin_bytes");
    long long cap = parse_count(fields[4], "metadata_cap");
    const char *entry = fields[5];
    if (strcmp(entry, "-") != 0 && strspn(entry, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != strlen(entry))
        bad_header("entrypoint is not base64");
    if (count >= 9) {
        /* output files: base64 of the newline-separated patterns (or "-"), the caps */
        if (strcmp(fields[6], "-") != 0 && decode_base64(fields[6], output_spec) != 0) bad_header("output_files is not base64");
        output_max_files = parse_count(fields[7], "max_output_files");
        output_max_bytes = parse_count(fields[8], "max_output_file_bytes");
        has_output_fields = 1;
    }
    long long environment_bytes = count == 10 ? parse_count(fields[9], "environment_bytes") : 0;
    const char *environment = read_environment(environment_bytes);

    /* 3. The work dir: files, program stdin, prepare hook (no secret in its arguments); in a warm
     * container without a shell when the image allows (setup.c). */
    pid_t pid;
    if (warm && use_setup_without_shell()) {
        if (setup_without_shell(parse_count(fields[2], "archive_bytes"), parse_count(fields[3], "stdin_bytes")) != 0)
            trailer(STATUS_SETUP_FAILED, cap);
    } else {
        char *setup[] = {SETUP_SCRIPT, fields[2], fields[3], NULL};
        pid = start(setup, NULL, NULL);
        if (pid < 0) trailer(STATUS_SETUP_FAILED, cap);
        if (wait_for(pid) != 0) trailer(STATUS_SETUP_FAILED, cap);
    }

    /* 4. The program. */
    if (strcmp(entry, "-") == 0) {
        const char *fallback = getenv("RT_DEFAULT_CMD");
        size_t len = fallback ? strlen(fallback) : 0;
        if (len > HEADER_MAX) len = 0;
        memcpy(command, fallback ? fallback : "", len);
        command[len] = '\0';
    } else if (decode_base64(entry, command) != 0) {
        say("the entrypoint is not valid base64");
        trailer(STATUS_SETUP_FAILED, cap);
    }
    if (command[0] == '\0') {
        say("no command to run");
        trailer(STATUS_SETUP_FAILED, cap);
    }
    pid = -1;
    if (prestart_usable(strcmp(entry, "-") == 0, environment, (size_t)environment_bytes)) pid = prestart_go(environment, (size_t)environment_bytes);
    if (pid < 0) {
        prestart_abandon();
        char *program[] = {"/bin/sh", "-c", command, NULL};
        pid = start(program, STDIN_FILE, WORK_DIR);
    }
    if (pid < 0) trailer(STATUS_SETUP_FAILED, cap);
    int status = wait_for(pid);

    /* 5. Markers and trailer; exits with the program's status. */
    trailer(status, cap);
    return status;
}
