/*
 * code-runner-supervise, protocol CR2: the file-system side of judge mode (runtimes/PROTOCOL.md).
 *
 * Snapshot (worktree_snapshot, once, after the build): the work dir's tree is copied into this
 * process's memory - the files' bytes into a memfd ("pristine"), the tree (paths, modes, symlink
 * targets) into an anonymous mapping - and /tmp/work is removed. The pristine copy is kept in
 * memory rather than renamed to a directory on the tmpfs because every process of the program
 * has our uid: a case could rewrite (or delete) a pristine directory and so change what later
 * cases start with. Our memory and descriptors are out of its reach (we are not dumpable, and
 * the memfd is O_CLOEXEC). It costs the same memory as a copy on the tmpfs (whose pages count
 * against the container's memory too), and the memfd's pages are not in our RSS, so they do not
 * make us the OOM killer's choice. The snapshot also records, for the clean-up:
 *  - the top-level names of the directories where a program leaves things (SWEEP_DIRS),
 *  - the tmpfs usage (statvfs of /tmp),
 *  - the System V IPC objects (a shared-memory segment outlives its processes and its pages
 *    count against the memory limit: one case could otherwise take the next one's memory).
 *
 * Per case: worktree_restore() builds a fresh /tmp/work from the snapshot (directories,
 * regular files, symbolic links; modes kept, times not), worktree_clean() runs when every
 * process of the case is dead: removes /tmp/work and every top-level entry of SWEEP_DIRS that
 * was not there at the snapshot; when the tmpfs is still more than USAGE_SLACK bytes (or
 * INODE_SLACK inodes) above the snapshot's usage, walks /tmp and removes every non-directory
 * whose mtime or ctime is at or after the case's start; removes the IPC objects created since
 * the snapshot.
 *
 * Directories are read with getdents64 into stack buffers (no opendir: it allocates), one open
 * descriptor per level; deep trees are bounded (SNAPSHOT_DEPTH, and removal moves subtrees
 * deeper than RM_DEPTH up before removing them). A program may leave directories without
 * permissions (chmod 000): we own everything it creates, so we add the owner's rwx back where
 * we must read or remove.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "supervise.h"

#define INDEX_MAX ((size_t)256 << 20) /* virtual reserve for the tree's index (paths, modes) */
#define NAMES_MAX ((size_t)64 << 20)  /* virtual reserve for the top-level names and their tables */
#define SNAPSHOT_DEPTH 256            /* a deeper work dir is a build failure (status 2) */
#define RM_DEPTH 64                   /* removal: deeper subtrees are moved up first */
#define WALK_DEPTH 64                 /* usage walk: deeper new directories are removed whole */
#define DIRENT_BUF 4096
#define USAGE_SLACK (1LL << 20)
#define INODE_SLACK 1024 /* empty files use inodes, not blocks: the walk also starts on these */
#define MAX_IPC_KEPT 64
#define MODE_BITS 07777

/* ---- the snapshot's index: one entry per directory, file or symlink, parents first ---- */
struct entry {
    uint64_t data_off;  /* file: offset of its bytes in the pristine memfd */
    uint64_t data_len;  /* file: its length; symlink: the target's */
    uint32_t size;      /* of this entry: the next one follows */
    uint32_t prev_dir;  /* the previous directory entry's offset + 1, 0 for none */
    uint32_t mode;
    uint16_t path_len;
    char type;          /* 'd', 'f', 'l' */
    char text[];        /* path relative to the work dir, NUL, [symlink target, NUL] */
};

static unsigned char *index_arena;
static size_t index_used;
static uint32_t last_dir;
static int pristine = -1;
static off_t pristine_size;
static mode_t work_mode = 0755;
static char path[PATH_MAX];
static char link_target[PATH_MAX];

/* ---- top-level names ---- */
struct sweep {
    const char *path;
    int present;  /* existed at the snapshot */
    int complete; /* every name is in the table */
    mode_t mode;  /* at the snapshot */
    uid_t uid;
    uint32_t *slots; /* open addressing: offset + 1 of a name in names_arena, 0 empty */
    uint32_t mask;
};
/* /tmp first: a new directory there (e.g. /tmp/.cache, absent at the snapshot) goes whole */
static struct sweep sweeps[] = {
    {.path = "/tmp"}, {.path = "/tmp/home"}, {.path = "/tmp/.cache"}, {.path = "/tmp/.code-runner"},
    {.path = "/dev/shm"}, {.path = "/dev/mqueue"},
};
#define SWEEP_DIRS (sizeof sweeps / sizeof sweeps[0])
static unsigned char *names_arena;
static size_t names_used;

static long long usage_at_snapshot = -1, inodes_at_snapshot = -1;
static struct timespec walk_since;
static dev_t walk_dev;
static unsigned deep_serial;

enum { IPC_SHM, IPC_SEM, IPC_MSG, IPC_KINDS };
static int ipc_kept[IPC_KINDS][MAX_IPC_KEPT];
static int ipc_kept_count[IPC_KINDS];
static int ipc_off[IPC_KINDS]; /* listing failed once: not tried again */

static int is_dot(const char *name) { return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')); }

static void *reserve(size_t size, const char *what) {
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) {
        say("cannot reserve memory for the %s: %s", what, strerror(errno));
        return NULL;
    }
    /* no child has it mapped: it does not count in their ru_maxrss */
    if (madvise(map, size, MADV_DONTFORK) != 0) say("madvise(MADV_DONTFORK) failed: %s", strerror(errno));
    return map;
}

/* ---- removal ------------------------------------------------------------------------------ */

/* Gives the owner rwx on the directory open as fd (to list it and unlink in it). */
static int open_up(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    if ((st.st_mode & S_IRWXU) == S_IRWXU) return 0;
    return fchmod(fd, (st.st_mode | S_IRWXU) & MODE_BITS);
}

/* Opens directory `name` in dfd for reading, adding the owner's rwx if that is what it takes. */
static int open_dir(int dfd, const char *name) {
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES) {
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && fchmodat(dfd, name, (st.st_mode | S_IRWXU) & MODE_BITS, 0) == 0)
            fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    return fd;
}

static int empty_dir(int fd, int top, int depth);

/* Removes `name` in dfd, a whole tree when it is a directory. `top` (-1: the tree itself) is
 * the directory that subtrees more than RM_DEPTH below it are moved into, so that neither the
 * descriptors nor the stack grow with the depth. 0 removed, 1 moved up (removed in a later pass
 * over top), -1 failed (message written). */
static int remove_entry(int dfd, const char *name, unsigned char type, int top, int depth) {
    if (type == DT_UNKNOWN) {
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) return 0;
            say("cannot stat %s: %s", name, strerror(errno));
            return -1;
        }
        type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
    }
    if (type != DT_DIR) {
        if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return 0;
        if ((errno == EACCES || errno == EPERM) && dfd != AT_FDCWD && open_up(dfd) == 0 && unlinkat(dfd, name, 0) == 0) return 0;
        say("cannot remove %s: %s", name, strerror(errno));
        return -1;
    }
    if (top >= 0 && depth >= RM_DEPTH) {
        char moved[40];
        for (;;) {
            snprintf(moved, sizeof moved, ".code-runner-deep-%u", deep_serial++);
            if (renameat2(dfd, name, top, moved, RENAME_NOREPLACE) == 0) return 1;
            if (errno != EEXIST) break;
        }
        say("cannot move a deep directory up for removal: %s", strerror(errno));
        return -1;
    }
    int sub = open_dir(dfd, name);
    if (sub < 0) {
        if (errno == ENOENT) return 0;
        say("cannot open %s for removal: %s", name, strerror(errno));
        return -1;
    }
    if (open_up(sub) != 0) say("cannot make %s writable: %s", name, strerror(errno));
    int emptied = top < 0 ? empty_dir(sub, sub, 0) : empty_dir(sub, top, depth + 1);
    close(sub);
    if (emptied != 0) return -1;
    if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT) return 0;
    if ((errno == EACCES || errno == EPERM) && dfd != AT_FDCWD && open_up(dfd) == 0 && unlinkat(dfd, name, AT_REMOVEDIR) == 0)
        return 0;
    say("cannot remove directory %s: %s", name, strerror(errno));
    return -1;
}

/* Removes everything in the directory open as fd (depth levels below top); passes over it
 * until one finds it empty (entries moved up into top arrive during a pass). 0 when empty. */
static int empty_dir(int fd, int top, int depth) {
    char buf[DIRENT_BUF];
    for (;;) {
        int found = 0, progress = 0;
        if (lseek(fd, 0, SEEK_SET) != 0) {
            say("cannot rewind a directory: %s", strerror(errno));
            return -1;
        }
        for (;;) {
            ssize_t n = getdents64(fd, buf, sizeof buf);
            if (n < 0) {
                say("cannot list a directory: %s", strerror(errno));
                return -1;
            }
            if (n == 0) break;
            for (ssize_t off = 0; off < n;) {
                struct dirent64 *d = (struct dirent64 *)(buf + off);
                off += d->d_reclen;
                if (is_dot(d->d_name)) continue;
                found = 1;
                if (remove_entry(fd, d->d_name, d->d_type, top, depth) >= 0) progress = 1;
            }
        }
        if (!found) return 0;
        if (!progress) return -1; /* nothing could be removed: the messages say why */
    }
}

/* Removes `where` (absolute), whatever it is. */
static void remove_path(const char *where) {
    if (remove_entry(AT_FDCWD, where, DT_UNKNOWN, -1, 0) < 0) say("could not remove %s", where);
}

/* ---- snapshot ----------------------------------------------------------------------------- */

static struct entry *add_entry(char type, mode_t mode, size_t plen, const char *target, size_t tlen) {
    size_t size = sizeof(struct entry) + plen + 1 + (target ? tlen + 1 : 0);
    size = (size + 7) & ~(size_t)7;
    if (size > INDEX_MAX - index_used) {
        say("the work dir has too many entries to keep for the cases");
        return NULL;
    }
    struct entry *e = (struct entry *)(index_arena + index_used);
    memset(e, 0, sizeof *e);
    e->size = (uint32_t)size;
    e->mode = (uint32_t)mode;
    e->type = type;
    e->path_len = (uint16_t)plen;
    memcpy(e->text, path, plen + 1);
    if (target) {
        memcpy(e->text + plen + 1, target, tlen);
        e->text[plen + 1 + tlen] = '\0';
        e->data_len = tlen;
    }
    if (type == 'd') {
        e->prev_dir = last_dir;
        last_dir = (uint32_t)index_used + 1;
    }
    index_used += size;
    return e;
}

/* Copies all of fd into `out` at its position (sendfile, or read/write where it cannot). */
static long long copy_into(int out, int fd) {
    long long total = 0;
    for (;;) {
        ssize_t n = sendfile(out, fd, NULL, 1 << 30);
        if (n > 0) {
            total += n;
            continue;
        }
        if (n == 0) return total;
        if (errno == EINTR) continue;
        if (errno != EINVAL && errno != ENOSYS) return -1;
        for (;;) { /* fallback */
            ssize_t got = read(fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return -1;
            if (got == 0) return total;
            if (write_all(out, chunk, (size_t)got) != 0) return -1;
            total += got;
        }
    }
}

static int keep_file(int dfd, const char *name, const struct stat *st, struct entry *e) {
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES && fchmodat(dfd, name, (st->st_mode | S_IRUSR) & MODE_BITS, 0) == 0)
        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        say("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    long long n = copy_into(pristine, fd);
    close(fd);
    if (n < 0) {
        say("cannot keep %s: %s", path, strerror(errno));
        return -1;
    }
    e->data_off = (uint64_t)pristine_size;
    e->data_len = (uint64_t)n;
    pristine_size += n;
    return 0;
}

/* The tree below the directory open as dfd, whose path (relative to the work dir) is path[0..plen). */
static int snapshot_dir(int dfd, size_t plen, int depth) {
    char buf[DIRENT_BUF];
    if (depth >= SNAPSHOT_DEPTH) {
        say("the work dir is more than %d directories deep", SNAPSHOT_DEPTH);
        return -1;
    }
    for (;;) {
        ssize_t n = getdents64(dfd, buf, sizeof buf);
        if (n < 0) {
            say("cannot list %s: %s", plen ? path : WORK_DIR, strerror(errno));
            return -1;
        }
        if (n == 0) return 0;
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            if (is_dot(d->d_name)) continue;
            size_t nlen = strlen(d->d_name), at = plen ? plen + 1 : 0, len = at + nlen;
            if (len >= sizeof path) {
                path[plen] = '\0';
                say("a path in the work dir (under '%s') is too long to keep", path);
                return -1;
            }
            if (plen) path[plen] = '/';
            memcpy(path + at, d->d_name, nlen + 1);
            struct stat st;
            if (fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                say("cannot stat %s: %s", path, strerror(errno));
                return -1;
            }
            if (S_ISDIR(st.st_mode)) {
                if (!add_entry('d', st.st_mode, len, NULL, 0)) return -1;
                int sub = open_dir(dfd, d->d_name);
                if (sub < 0) {
                    say("cannot open %s: %s", path, strerror(errno));
                    return -1;
                }
                int r = snapshot_dir(sub, len, depth + 1);
                close(sub);
                if (r != 0) return -1;
            } else if (S_ISREG(st.st_mode)) {
                struct entry *e = add_entry('f', st.st_mode, len, NULL, 0);
                if (!e || keep_file(dfd, d->d_name, &st, e) != 0) return -1;
            } else if (S_ISLNK(st.st_mode)) {
                ssize_t t = readlinkat(dfd, d->d_name, link_target, sizeof link_target);
                if (t < 0 || (size_t)t >= sizeof link_target) {
                    say("cannot read the symbolic link %s: %s", path, t < 0 ? strerror(errno) : "too long");
                    return -1;
                }
                if (!add_entry('l', st.st_mode, len, link_target, (size_t)t)) return -1;
            } else {
                say("%s is not a regular file, directory or symbolic link: the cases do not get it", path);
            }
        }
    }
}

/* The top-level names of one sweep directory, in a hash table in names_arena. */
static uint32_t name_hash(const char *name, size_t len) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

static int known_name(const struct sweep *sw, const char *name) {
    size_t len = strlen(name);
    for (uint32_t i = name_hash(name, len) & sw->mask;; i = (i + 1) & sw->mask) {
        uint32_t at = sw->slots[i];
        if (at == 0) return 0;
        uint16_t stored;
        memcpy(&stored, names_arena + at - 1, sizeof stored);
        if (stored == len && memcmp(names_arena + at - 1 + sizeof stored, name, len) == 0) return 1;
    }
}

static void record_names(struct sweep *sw) {
    int fd = open(sw->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) say("cannot list %s: %s; its new entries are not removed by name", sw->path, strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        say("cannot stat %s: %s", sw->path, strerror(errno));
        close(fd);
        return;
    }
    sw->present = 1;
    sw->mode = st.st_mode;
    sw->uid = st.st_uid;
    size_t first = names_used;
    uint32_t count = 0;
    char buf[DIRENT_BUF];
    for (;;) {
        ssize_t n = getdents64(fd, buf, sizeof buf);
        if (n < 0) {
            say("cannot list %s: %s; its new entries are not removed by name", sw->path, strerror(errno));
            close(fd);
            return;
        }
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            if (is_dot(d->d_name)) continue;
            uint16_t len = (uint16_t)strlen(d->d_name);
            if (names_used + sizeof len + len > NAMES_MAX / 2) {
                say("%s has too many entries to remember; its new entries are not removed by name", sw->path);
                close(fd);
                return;
            }
            memcpy(names_arena + names_used, &len, sizeof len);
            memcpy(names_arena + names_used + sizeof len, d->d_name, len);
            names_used += sizeof len + len;
            count++;
        }
    }
    close(fd);
    uint32_t slots = 16;
    while (slots < 2 * count) slots *= 2;
    names_used = (names_used + 3) & ~(size_t)3;
    if (names_used + (size_t)slots * sizeof(uint32_t) > NAMES_MAX) {
        say("%s has too many entries to remember; its new entries are not removed by name", sw->path);
        return;
    }
    sw->slots = (uint32_t *)(void *)(names_arena + names_used);
    sw->mask = slots - 1;
    names_used += (size_t)slots * sizeof(uint32_t);
    for (size_t at = first; count > 0; count--) {
        uint16_t len;
        memcpy(&len, names_arena + at, sizeof len);
        uint32_t i = name_hash((const char *)names_arena + at + sizeof len, len) & sw->mask;
        while (sw->slots[i] != 0) i = (i + 1) & sw->mask;
        sw->slots[i] = (uint32_t)at + 1;
        at += sizeof len + len;
    }
    sw->complete = 1;
}

/* Bytes (and inodes, in *inodes) in use on the /tmp tmpfs; -1 when unknown. */
static long long tmp_usage(long long *inodes) {
    struct statvfs vfs;
    *inodes = -1;
    if (statvfs("/tmp", &vfs) != 0) {
        say("statvfs(/tmp) failed: %s", strerror(errno));
        return -1;
    }
    *inodes = (long long)(vfs.f_files - vfs.f_ffree);
    return (long long)(vfs.f_blocks - vfs.f_bfree) * (long long)vfs.f_frsize;
}

/* ---- System V IPC --------------------------------------------------------------------------- */

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *__buf;
};

/* The highest index in use of one kind (0 when none), -1 on failure. */
static int ipc_top(int kind) {
    if (kind == IPC_SHM) {
        struct shm_info info;
        return shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);
    }
    if (kind == IPC_SEM) {
        struct seminfo info;
        union semun arg = {.__buf = &info};
        return semctl(0, 0, SEM_INFO, arg);
    }
    struct msginfo info;
    return msgctl(0, MSG_INFO, (struct msqid_ds *)(void *)&info);
}

/* The id of the object at `index` (whatever its permissions), -1 when the slot is free. */
static int ipc_id(int kind, int index) {
    if (kind == IPC_SHM) {
        struct shmid_ds ds;
        return shmctl(index, SHM_STAT_ANY, &ds);
    }
    if (kind == IPC_SEM) {
        struct semid_ds ds;
        union semun arg = {.buf = &ds};
        return semctl(index, 0, SEM_STAT_ANY, arg);
    }
    struct msqid_ds ds;
    return msgctl(index, MSG_STAT_ANY, &ds);
}

static int ipc_remove(int kind, int id) {
    if (kind == IPC_SHM) return shmctl(id, IPC_RMID, NULL);
    if (kind == IPC_SEM) return semctl(id, 0, IPC_RMID);
    return msgctl(id, IPC_RMID, NULL);
}

/* remember = 1: records the objects that exist (the snapshot); 0: removes the others. */
static void ipc_pass(int remember) {
    static const char *const names[IPC_KINDS] = {"shared memory segments", "semaphore sets", "message queues"};
    for (int kind = 0; kind < IPC_KINDS; kind++) {
        if (ipc_off[kind]) continue;
        int top = ipc_top(kind);
        if (top < 0) {
            say("cannot list the System V %s: %s; they are not removed between cases", names[kind], strerror(errno));
            ipc_off[kind] = 1;
            continue;
        }
        for (int index = 0; index <= top; index++) {
            int id = ipc_id(kind, index);
            if (id < 0) {
                if (errno != EINVAL && errno != EIDRM) /* EINVAL: a free slot */
                    say("cannot look at System V %s slot %d: %s", names[kind], index, strerror(errno));
                continue;
            }
            int kept = 0;
            for (int k = 0; k < ipc_kept_count[kind]; k++) kept |= ipc_kept[kind][k] == id;
            if (remember) {
                if (ipc_kept_count[kind] < MAX_IPC_KEPT) ipc_kept[kind][ipc_kept_count[kind]++] = id;
                else say("more than %d System V %s after the build: the others go after the first case", MAX_IPC_KEPT,
                         names[kind]);
            } else if (!kept && ipc_remove(kind, id) != 0 && errno != EINVAL && errno != EIDRM) {
                say("cannot remove System V object %d (%s): %s", id, names[kind], strerror(errno));
            }
        }
    }
}

int worktree_snapshot(void) {
    if (!index_arena && !(index_arena = reserve(INDEX_MAX, "work dir's index"))) return -1;
    if (!names_arena && !(names_arena = reserve(NAMES_MAX, "top-level names"))) return -1;
    pristine = memfd_create("pristine", MFD_CLOEXEC);
    if (pristine < 0) {
        say("memfd_create (pristine) failed: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(WORK_DIR, &st) != 0) {
        if (errno != ENOENT) {
            say("cannot stat %s: %s", WORK_DIR, strerror(errno));
            return -1;
        }
        say("the build removed %s: every case starts in an empty one", WORK_DIR);
    } else if (!S_ISDIR(st.st_mode)) {
        say("%s is not a directory after the build: every case starts in an empty one", WORK_DIR);
    } else {
        work_mode = st.st_mode;
        int fd = open_dir(AT_FDCWD, WORK_DIR);
        if (fd < 0) {
            say("cannot open %s: %s", WORK_DIR, strerror(errno));
            return -1;
        }
        path[0] = '\0';
        int r = snapshot_dir(fd, 0, 0);
        close(fd);
        if (r != 0) return -1;
    }
    remove_path(WORK_DIR);
    for (size_t i = 0; i < SWEEP_DIRS; i++) record_names(&sweeps[i]);
    usage_at_snapshot = tmp_usage(&inodes_at_snapshot);
    ipc_pass(1);
    return 0;
}

int worktree_restore(void) {
    struct stat st;
    if (lstat(WORK_DIR, &st) == 0) remove_path(WORK_DIR); /* a failed case's leftovers */
    if (mkdir(WORK_DIR, S_IRWXU) != 0) {
        say("cannot create %s: %s", WORK_DIR, strerror(errno));
        return -1;
    }
    int w = open(WORK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (w < 0) {
        say("cannot open %s: %s", WORK_DIR, strerror(errno));
        return -1;
    }
    int ok = 1;
    for (size_t off = 0; ok && off < index_used;) {
        const struct entry *e = (const struct entry *)(index_arena + off);
        off += e->size;
        if (e->type == 'd') {
            if (mkdirat(w, e->text, S_IRWXU) != 0) {
                say("cannot create %s/%s: %s", WORK_DIR, e->text, strerror(errno));
                ok = 0;
            }
        } else if (e->type == 'l') {
            if (symlinkat(e->text + e->path_len + 1, w, e->text) != 0) {
                say("cannot create the link %s/%s: %s", WORK_DIR, e->text, strerror(errno));
                ok = 0;
            }
        } else {
            int fd = openat(w, e->text, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR);
            if (fd < 0) {
                say("cannot create %s/%s: %s", WORK_DIR, e->text, strerror(errno));
                ok = 0;
                continue;
            }
            off_t from = (off_t)e->data_off;
            long long left = (long long)e->data_len;
            while (ok && left > 0) {
                ssize_t n = sendfile(fd, pristine, &from, left < (1 << 30) ? (size_t)left : (size_t)1 << 30);
                if (n > 0) {
                    left -= n;
                    continue;
                }
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && (errno == EINVAL || errno == ENOSYS)) { /* fallback */
                    ssize_t got = pread(pristine, chunk, left < (long long)sizeof chunk ? (size_t)left : sizeof chunk, from);
                    if (got > 0 && write_all(fd, chunk, (size_t)got) == 0) {
                        from += got;
                        left -= got;
                        continue;
                    }
                }
                say("cannot write %s/%s: %s", WORK_DIR, e->text, n < 0 ? strerror(errno) : "short copy");
                ok = 0;
            }
            if (ok && fchmod(fd, e->mode & MODE_BITS) != 0) {
                say("cannot chmod %s/%s: %s", WORK_DIR, e->text, strerror(errno));
                ok = 0;
            }
            close(fd);
        }
    }
    /* directory modes last, deepest first: a directory without w (or x) is still filled */
    for (uint32_t d = last_dir; ok && d != 0;) {
        const struct entry *e = (const struct entry *)(index_arena + d - 1);
        if (fchmodat(w, e->text, e->mode & MODE_BITS, 0) != 0) {
            say("cannot chmod %s/%s: %s", WORK_DIR, e->text, strerror(errno));
            ok = 0;
        }
        d = e->prev_dir;
    }
    if (ok && fchmod(w, work_mode & MODE_BITS) != 0) {
        say("cannot chmod %s: %s", WORK_DIR, strerror(errno));
        ok = 0;
    }
    close(w);
    return ok ? 0 : -1;
}

/* ---- clean-up between cases ------------------------------------------------------------------ */

static void sweep_dir(const struct sweep *sw, int is_tmp) {
    if (!sw->present) return; /* absent at the snapshot: removed whole by the /tmp sweep */
    struct stat st;
    if (lstat(sw->path, &st) != 0) {
        if (errno != ENOENT) say("cannot stat %s: %s", sw->path, strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) return; /* the program replaced it: only its own runs are hurt */
    /* a program may have taken our (its) permissions away: back to the snapshot's, plus the
     * owner's rwx while we remove things */
    int changed = 0;
    if (st.st_uid == getuid() &&
        ((st.st_mode & MODE_BITS) != (sw->mode & MODE_BITS) || (st.st_mode & S_IRWXU) != S_IRWXU)) {
        if (chmod(sw->path, (sw->mode | S_IRWXU) & MODE_BITS) != 0) say("cannot chmod %s: %s", sw->path, strerror(errno));
        else changed = 1;
    }
    if (is_tmp) remove_path(WORK_DIR);
    if (sw->complete) {
        int fd = open(sw->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            say("cannot list %s: %s", sw->path, strerror(errno));
        } else {
            char buf[DIRENT_BUF];
            for (;;) {
                ssize_t n = getdents64(fd, buf, sizeof buf);
                if (n < 0) say("cannot list %s: %s", sw->path, strerror(errno));
                if (n <= 0) break;
                for (ssize_t off = 0; off < n;) {
                    struct dirent64 *d = (struct dirent64 *)(buf + off);
                    off += d->d_reclen;
                    if (!is_dot(d->d_name) && !known_name(sw, d->d_name)) remove_entry(fd, d->d_name, d->d_type, -1, 0);
                }
            }
            close(fd);
        }
    }
    if (changed && chmod(sw->path, sw->mode & MODE_BITS) != 0) say("cannot chmod %s: %s", sw->path, strerror(errno));
}

static int at_or_after(const struct timespec *t) {
    return t->tv_sec > walk_since.tv_sec || (t->tv_sec == walk_since.tv_sec && t->tv_nsec >= walk_since.tv_nsec);
}

/* The usage walk over directory `name` in dfd (stat st): removes every non-directory changed
 * since the case started. Modes it had to open up are put back. */
static void walk_dir(int dfd, const char *name, const struct stat *st, int depth) {
    int changed = 0;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == EACCES && fchmodat(dfd, name, (st->st_mode | S_IRWXU) & MODE_BITS, 0) == 0) {
        changed = 1;
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        say("cannot walk into %s: %s", name, strerror(errno));
        return;
    }
    char buf[DIRENT_BUF];
    for (;;) {
        ssize_t n = getdents64(fd, buf, sizeof buf);
        if (n < 0) say("cannot list %s: %s", name, strerror(errno));
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            if (is_dot(d->d_name)) continue;
            struct stat sub;
            if (fstatat(fd, d->d_name, &sub, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno != ENOENT) say("cannot stat %s/%s: %s", name, d->d_name, strerror(errno));
                continue;
            }
            if (sub.st_dev != walk_dev) continue;
            int fresh = at_or_after(&sub.st_mtim) || at_or_after(&sub.st_ctim);
            if (S_ISDIR(sub.st_mode)) {
                if (depth < WALK_DEPTH) walk_dir(fd, d->d_name, &sub, depth + 1);
                else if (fresh) remove_entry(fd, d->d_name, DT_DIR, -1, 0); /* too deep to walk: new, so it goes */
                continue;
            }
            if (!fresh) continue;
            if (unlinkat(fd, d->d_name, 0) == 0 || errno == ENOENT) continue;
            if ((errno == EACCES || errno == EPERM) && !changed && open_up(fd) == 0) {
                changed = 1;
                if (unlinkat(fd, d->d_name, 0) == 0) continue;
            }
            say("cannot remove %s/%s: %s", name, d->d_name, strerror(errno));
        }
    }
    if (changed && fchmod(fd, st->st_mode & MODE_BITS) != 0) say("cannot chmod %s back: %s", name, strerror(errno));
    close(fd);
}

void worktree_clean(const struct timespec *case_started) {
    for (size_t i = 0; i < SWEEP_DIRS; i++) sweep_dir(&sweeps[i], i == 0);
    long long inodes, usage = tmp_usage(&inodes);
    if ((usage >= 0 && usage_at_snapshot >= 0 && usage > usage_at_snapshot + USAGE_SLACK) ||
        (inodes >= 0 && inodes_at_snapshot >= 0 && inodes > inodes_at_snapshot + INODE_SLACK)) {
        struct stat st;
        if (stat("/tmp", &st) != 0) {
            say("cannot stat /tmp: %s", strerror(errno));
        } else {
            walk_since = *case_started;
            walk_dev = st.st_dev;
            walk_dir(AT_FDCWD, "/tmp", &st, 0);
        }
    }
    ipc_pass(0);
}
