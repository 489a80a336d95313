/*
 * code-runner-supervise: CR1's output files (runtimes/PROTOCOL.md, "Output files").
 *
 * After the program has ended, the regular files of the work dir whose path (relative to
 * WORK_DIR) matches one of the run's glob patterns are copied, in path order, into an anonymous
 * memory file that the trailer then sends after the metadata. Symbolic links are never followed
 * (neither a linked file nor a linked directory: the walk is physical and every open is
 * O_NOFOLLOW), so nothing outside the work dir is read. The copy is taken before the trailer is
 * written, so a leftover process changing a file cannot make the sent length differ from the
 * length announced.
 *
 * Patterns: segments separated by '/', each matched with fnmatch(FNM_PERIOD) against one path
 * component (so '*' and '?' never match a leading dot or a '/'); a segment '**' matches zero or
 * more directories (not hidden ones), and a trailing '**' every file below.
 *
 * Caps: at most max_files files and max_bytes bytes of content in total. A matching file that
 * would pass either cap is left out, the rest still considered (smaller files may fit), and
 * the section is flagged as cut. So is a walk with more than MAX_MATCHES matches.
 *
 * Section layout, per file: "<path_length> <size>\n" then the path's bytes, then the content.
 * No malloc: the matched paths go into an anonymous mapping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervise.h"

/* The most matches collected (and sorted) before the walk stops and the section is cut. */
#define MAX_MATCHES 10000
#define PATH_ROOM 4096
#define MAX_PATTERNS 64

static char *patterns[MAX_PATTERNS];
static int pattern_count;
/* The matches: MAX_MATCHES slots of PATH_ROOM bytes in one anonymous mapping. */
static char *matches;
static int match_count;
static int walk_cut;

/* Whether the '/'-separated path `path` matches `pattern` (see the file's comment). */
static int glob_match(const char *pattern, const char *path) {
    if (*pattern == '\0') return *path == '\0';
    const char *pattern_end = strchr(pattern, '/');
    size_t pattern_length = pattern_end ? (size_t)(pattern_end - pattern) : strlen(pattern);
    const char *pattern_next = pattern_end ? pattern_end + 1 : pattern + pattern_length;
    const char *path_end = strchr(path, '/');
    if (pattern_length == 2 && pattern[0] == '*' && pattern[1] == '*') {
        if (*pattern_next == '\0') {
            /* trailing '**': every file below, through no hidden directory */
            for (const char *p = path; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
                if (*p == '.' || *p == '\0') return 0;
            return 1;
        }
        if (glob_match(pattern_next, path)) return 1; /* zero directories */
        if (!path_end || *path == '.') return 0;      /* one more directory, not a hidden one */
        return glob_match(pattern, path_end + 1);
    }
    size_t component_length = path_end ? (size_t)(path_end - path) : strlen(path);
    if (pattern_length >= PATH_ROOM || component_length >= PATH_ROOM) return 0;
    char segment[PATH_ROOM], component[PATH_ROOM];
    memcpy(segment, pattern, pattern_length);
    segment[pattern_length] = '\0';
    memcpy(component, path, component_length);
    component[component_length] = '\0';
    if (fnmatch(segment, component, FNM_PERIOD) != 0) return 0;
    if (*pattern_next == '\0') return path_end == NULL;
    if (!path_end) return 0;
    return glob_match(pattern_next, path_end + 1);
}

static int visit(const char *file, const struct stat *st, int type, struct FTW *where) {
    (void)where;
    if (type != FTW_F || !S_ISREG(st->st_mode)) return 0;
    size_t root = strlen(WORK_DIR) + 1;
    if (strlen(file) <= root) return 0;
    const char *relative = file + root;
    size_t length = strlen(relative);
    if (length >= PATH_ROOM) return 0;
    for (int i = 0; i < pattern_count; i++) {
        if (!glob_match(patterns[i], relative)) continue;
        if (match_count == MAX_MATCHES) {
            walk_cut = 1;
            return 1; /* stops the walk */
        }
        memcpy(matches + (size_t)match_count * PATH_ROOM, relative, length + 1);
        match_count++;
        break;
    }
    return 0;
}

static int by_path(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* Appends one file to the section when its content fits in `room` bytes: its size, or -1 when
 * it was left out (the caller then cuts the section back to where it was). */
static long long add_file(int section, const char *relative, long long room) {
    char path[PATH_ROOM + 16];
    snprintf(path, sizeof path, "%s/%s", WORK_DIR, relative);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > room) {
        close(fd);
        return -1;
    }
    /* the content is read first: the size announced is what was read, at most `room` */
    int content = memfd_create("output-file", MFD_CLOEXEC);
    if (content < 0) {
        close(fd);
        return -1;
    }
    long long size = 0;
    int failed = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) failed = 1;
        if (n <= 0) break;
        if (size + n > room || write_all(content, chunk, (size_t)n) != 0) {
            failed = 1;
            break;
        }
        size += n;
    }
    close(fd);
    if (failed || lseek(content, 0, SEEK_SET) != 0) {
        close(content);
        return -1;
    }
    char line[64];
    size_t length = strlen(relative);
    int n = snprintf(line, sizeof line, "%zu %lld\n", length, size);
    int ok = write_all(section, line, (size_t)n) == 0 && write_all(section, relative, length) == 0;
    for (long long left = size; ok && left > 0;) {
        ssize_t got = read(content, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            ok = 0;
        } else {
            ok = write_all(section, chunk, (size_t)got) == 0;
            left -= got;
        }
    }
    close(content);
    return ok ? size : -1;
}

long long collect_output_files(char *spec, long long max_files, long long max_bytes, int *section, long long *files, int *cut) {
    *section = -1;
    *files = 0;
    *cut = 0;
    pattern_count = 0;
    for (char *line = spec; line && *line && pattern_count < MAX_PATTERNS;) {
        char *newline = strchr(line, '\n');
        if (newline) *newline = '\0';
        if (*line) patterns[pattern_count++] = line;
        line = newline ? newline + 1 : NULL;
    }
    if (pattern_count == 0) return 0;
    matches = mmap(NULL, (size_t)MAX_MATCHES * PATH_ROOM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (matches == MAP_FAILED) {
        say("cannot collect the output files: mmap: %s", strerror(errno));
        *cut = 1;
        return 0;
    }
    match_count = 0;
    walk_cut = 0;
    /* physical walk: symbolic links are reported as links, never followed */
    if (nftw(WORK_DIR, visit, 32, FTW_PHYS) < 0 && errno != ENOENT) say("cannot walk the work dir: %s", strerror(errno));
    *cut = walk_cut;
    qsort(matches, (size_t)match_count, PATH_ROOM, by_path);
    int out = memfd_create("output-files", MFD_CLOEXEC);
    if (out < 0) {
        say("cannot collect the output files: memfd_create: %s", strerror(errno));
        munmap(matches, (size_t)MAX_MATCHES * PATH_ROOM);
        *cut = 1;
        return 0;
    }
    long long used = 0;
    for (int i = 0; i < match_count; i++) {
        const char *relative = matches + (size_t)i * PATH_ROOM;
        off_t before = lseek(out, 0, SEEK_CUR);
        long long size = *files == max_files ? -1 : add_file(out, relative, max_bytes - used);
        if (size < 0) {
            *cut = 1;
            if (before >= 0 && ftruncate(out, before) == 0) (void)lseek(out, before, SEEK_SET);
            continue;
        }
        used += size;
        (*files)++;
    }
    munmap(matches, (size_t)MAX_MATCHES * PATH_ROOM);
    off_t length = lseek(out, 0, SEEK_CUR);
    if (length <= 0 || lseek(out, 0, SEEK_SET) != 0) {
        close(out);
        return 0;
    }
    *section = out;
    return (long long)length;
}
