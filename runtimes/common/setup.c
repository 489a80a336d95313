/*
 * code-runner-supervise, the work dir of a warm container's run without a shell
 * (runtimes/PROTOCOL.md, "Pre-started interpreters"): what setup-run.sh does after the seeds --
 * extract the archive into WORK_DIR, store the program's stdin, copy the runtime's SDK unless the
 * user sent a file of that name -- done in a forked process with no exec, so a warm run costs
 * no fork/exec of sh, head, wc, tar, rm and cp (about 8 ms here, far more while the engine is
 * busy).
 *
 * The child forgets the nonce first (forget_secrets): it parses user-controlled bytes, and must
 * hold nothing worth stealing, as setup-run must not. It reads exactly archive_bytes and
 * stdin_bytes from our stdin, as setup-run does.
 *
 * The archive is what the worker writes (Sources/Worker/Sandbox/TarArchive.swift): ustar
 * regular files, with a pax header ('x', record "path") for long names; directories ('5') and
 * global pax headers ('g') are accepted too, anything else is refused. As GNU tar with
 * --no-same-owner --no-same-permissions under umask 022: files 0644, a file that exists is
 * replaced (unlinked first, so its inode changes: bun's placeholder relies on it), mtimes from
 * the headers, parents created 0755. A path that is absolute or holds ".." is refused, and the
 * walk never follows a symbolic link (O_NOFOLLOW on every component).
 *
 * RT_PREPARE_COPY ("src:name ..."): after the archive, each src is copied to WORK_DIR/name unless
 * that exists -- what the prepare hook of node, bun and deno does. An image with a prepare hook
 * and no RT_PREPARE_COPY (go, rust) keeps setup-run (use_setup_without_shell).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervise.h"

#define BLOCK 512
#define PREPARE_HOOK "/opt/code-runner/prepare"
/* The longest path accepted (Linux's PATH_MAX) and pax header accepted. */
#define PATH_LIMIT 4096
#define PAX_LIMIT (64 * 1024)

static char pax[PAX_LIMIT + BLOCK];
static char path[PATH_LIMIT + 1];
static long long archive_left;

static int fail(const char *what) {
    say("%s", what);
    return -1;
}

/* Reads exactly len bytes of our stdin. */
static int read_exact(char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = read(STDIN_FILENO, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads len bytes of the archive (counted against archive_bytes). */
static int archive_read(char *buf, size_t len) {
    if ((long long)len > archive_left) return fail("the archive ends inside an entry");
    archive_left -= (long long)len;
    return read_exact(buf, len) == 0 ? 0 : fail("stdin ended inside the archive");
}

/* Copies len bytes of the archive to fd (-1: skip them), then the padding to the next block. */
static int archive_copy(int fd, long long len) {
    long long padded = (len + BLOCK - 1) / BLOCK * BLOCK;
    for (long long done = 0; done < padded;) {
        size_t want = padded - done < (long long)CHUNK_SIZE ? (size_t)(padded - done) : CHUNK_SIZE;
        if (archive_read(chunk, want) != 0) return -1;
        long long useful = len - done < (long long)want ? len - done : (long long)want;
        if (fd >= 0 && useful > 0 && write_all(fd, chunk, (size_t)useful) != 0) return fail("cannot write a file of the archive");
        done += (long long)want;
    }
    return 0;
}

/* A ustar number: octal digits, space or NUL terminated; -1 when malformed. */
static long long octal(const char *field, size_t width) {
    long long value = 0;
    size_t i = 0;
    while (i < width && field[i] == ' ') i++;
    if (i == width || field[i] < '0' || field[i] > '7') return -1;
    for (; i < width && field[i] >= '0' && field[i] <= '7'; i++) value = value * 8 + (field[i] - '0');
    return value;
}

/* The value of the pax record "path" in pax[0..len), copied into `path`; 0 when absent. */
static int pax_path(size_t len) {
    for (size_t at = 0; at < len;) {
        char *end;
        long record = strtol(pax + at, &end, 10);
        if (record <= 0 || (size_t)record > len - at || *end != ' ') return fail("malformed pax header");
        char *key = end + 1, *stop = pax + at + record - 1;
        if (*stop != '\n') return fail("malformed pax header");
        if (strncmp(key, "path=", 5) == 0) {
            size_t n = (size_t)(stop - (key + 5));
            if (n == 0 || n > PATH_LIMIT) return fail("bad path in the archive");
            memcpy(path, key + 5, n);
            path[n] = '\0';
            if (strlen(path) != n) return fail("bad path in the archive");
            return 1;
        }
        at += (size_t)record;
    }
    return 0;
}

/* Opens (creating with `create_last` directories as needed) the directory that holds `name`'s
 * last component, inside WORK_DIR; *last points at that component. Refuses absolute paths, ".."
 * and symbolic links. Returns a directory fd or -1. */
static int parent_of(char *name, char **last, int create_last) {
    if (name[0] == '/') return fail("absolute path in the archive");
    int dir = open(WORK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return fail("cannot open the work dir");
    char *component = name;
    for (;;) {
        while (*component == '/') component++;
        char *slash = strchr(component, '/');
        if (!slash && !create_last) break;
        if (slash) *slash = '\0';
        if (strcmp(component, "..") == 0) {
            close(dir);
            return fail("'..' in a path of the archive");
        }
        if (*component && strcmp(component, ".") != 0) {
            if (mkdirat(dir, component, 0755) != 0 && errno != EEXIST) {
                close(dir);
                return fail("cannot create a directory of the archive");
            }
            int next = openat(dir, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            close(dir);
            if (next < 0) return fail("a directory of the archive is not one");
            dir = next;
        }
        if (!slash) {
            component = "";
            break;
        }
        *slash = '/';
        component = slash + 1;
    }
    *last = component;
    return dir;
}

/* One regular file of `size` bytes at `name` with mtime `mtime`. */
static int extract_file(char *name, long long size, long long mtime) {
    char *last;
    int dir = parent_of(name, &last, 0);
    if (dir < 0) return -1;
    if (!*last || strcmp(last, ".") == 0 || strcmp(last, "..") == 0) {
        close(dir);
        return fail("bad file name in the archive");
    }
    if (unlinkat(dir, last, 0) != 0 && errno != ENOENT) {
        close(dir);
        return fail("cannot replace a file of the archive");
    }
    int fd = openat(dir, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    close(dir);
    if (fd < 0) return fail("cannot create a file of the archive");
    int result = archive_copy(fd, size);
    struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
    if (result == 0 && futimens(fd, times) != 0) result = fail("cannot set a file's time");
    close(fd);
    return result;
}

/* The archive: archive_bytes of it, read to the end (what follows the closing blocks too). */
static int extract_archive(void) {
    char block[BLOCK];
    int have_pax_path = 0;
    while (archive_left > 0) {
        if (archive_read(block, BLOCK) != 0) return -1;
        int zero = 1;
        for (int i = 0; i < BLOCK && zero; i++) zero = block[i] == 0;
        if (zero) continue; /* the closing blocks */
        long long size = octal(block + 124, 12), mtime = octal(block + 136, 12);
        if (size < 0 || mtime < 0 || memcmp(block + 257, "ustar", 5) != 0) return fail("malformed tar header");
        char type = block[156];
        if (type == 'x') {
            if (size > PAX_LIMIT) return fail("pax header too large");
            if (archive_read(pax, (size_t)((size + BLOCK - 1) / BLOCK * BLOCK)) != 0) return -1;
            int found = pax_path((size_t)size);
            if (found < 0) return -1;
            have_pax_path = have_pax_path || found;
            continue;
        }
        if (type == 'g') {
            if (archive_copy(-1, size) != 0) return -1;
            continue;
        }
        if (!have_pax_path) {
            /* ustar: prefix "/" name, each NUL-padded */
            size_t prefix = strnlen(block + 345, 155), name = strnlen(block, 100), at = 0;
            if (prefix) {
                memcpy(path, block + 345, prefix);
                path[prefix] = '/';
                at = prefix + 1;
            }
            memcpy(path + at, block, name);
            path[at + name] = '\0';
        }
        have_pax_path = 0;
        if (!path[0]) return fail("empty path in the archive");
        if (type == '0' || type == '\0') {
            if (extract_file(path, size, mtime) != 0) return -1;
        } else if (type == '5') {
            char *last;
            int dir = parent_of(path, &last, 1);
            if (dir < 0) return -1;
            close(dir);
            if (archive_copy(-1, size) != 0) return -1;
        } else {
            return fail("unsupported entry type in the archive");
        }
    }
    return 0;
}

/* The program's stdin, into STDIN_FILE's existing inode (the pre-started interpreter's fd 0). */
static int store_stdin(long long len) {
    int fd = open(STDIN_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return fail("cannot store the program's stdin");
    for (long long done = 0; done < len;) {
        size_t want = len - done < (long long)CHUNK_SIZE ? (size_t)(len - done) : CHUNK_SIZE;
        if (read_exact(chunk, want) != 0) {
            close(fd);
            return fail("stdin ended inside the program's input");
        }
        if (write_all(fd, chunk, want) != 0) {
            close(fd);
            return fail("cannot store the program's stdin");
        }
        done += (long long)want;
    }
    close(fd);
    return 0;
}

/* RT_PREPARE_COPY: "src:name ..." copied into WORK_DIR unless name exists there. */
static int copy_prepared(void) {
    const char *spec = getenv("RT_PREPARE_COPY");
    if (!spec) return 0;
    char entry[PATH_LIMIT];
    for (const char *p = spec; *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (n == 0) break;
        if (n >= sizeof entry) return fail("RT_PREPARE_COPY entry too long");
        memcpy(entry, p, n);
        entry[n] = '\0';
        p += n;
        char *colon = strchr(entry, ':');
        if (!colon || strchr(colon + 1, '/') || !colon[1]) return fail("bad RT_PREPARE_COPY entry");
        *colon = '\0';
        char target[PATH_LIMIT + 16];
        snprintf(target, sizeof target, "%s/%s", WORK_DIR, colon + 1);
        struct stat st;
        if (lstat(target, &st) == 0) continue;
        int in = open(entry, O_RDONLY | O_CLOEXEC);
        int out = in < 0 ? -1 : open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (in < 0 || out < 0) {
            if (in >= 0) close(in);
            return fail("cannot copy the runtime's SDK into the work dir");
        }
        ssize_t got;
        int failed = 0;
        while ((got = read(in, chunk, sizeof chunk)) != 0) {
            if (got < 0 && errno == EINTR) continue;
            if (got < 0 || write_all(out, chunk, (size_t)got) != 0) {
                failed = 1;
                break;
            }
        }
        close(in);
        close(out);
        if (failed) return fail("cannot copy the runtime's SDK into the work dir");
    }
    return 0;
}

int use_setup_without_shell(void) {
    return getenv("RT_PREPARE_COPY") != NULL || access(PREPARE_HOOK, F_OK) != 0;
}

int setup_without_shell(long long archive_bytes, long long stdin_bytes) {
    pid_t pid = fork();
    if (pid < 0) {
        say("fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        forget_secrets();
        umask(022);
        archive_left = archive_bytes;
        int ok = extract_archive() == 0 && store_stdin(stdin_bytes) == 0 && copy_prepared() == 0;
        _exit(ok ? 0 : STATUS_SETUP_FAILED);
    }
    int wstatus;
    for (;;) {
        pid_t r = waitpid(pid, &wstatus, 0);
        if (r == pid) return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 ? 0 : -1;
        if (r < 0 && errno != EINTR) return -1;
    }
}
