/*
 * code-runner-supervise: what the parts of the supervisor share (runtimes/PROTOCOL.md).
 *
 *   supervise.c  main(), the header, protocol CR1 (one program, one trailer) and the helpers below
 *   judge.c      protocol CR2 (judge mode: one program, many test cases, one record per case)
 *   outputs.c    CR1's output files: the work dir's files matching the run's patterns, after it
 *   worktree.c   CR2's file-system side: the in-memory snapshot of the work dir, its fresh copy
 *                for every case and the clean-up between cases
 *   prestart.c   warm containers (--prestart): the work dir's fixed part and the runtime's
 *                interpreter started before the run is known
 *   setup.c      warm containers: the run's work dir (archive, stdin, SDK) without setup-run
 *
 * Built as one static binary: gcc -static -O2 -Wall -Wextra -Werror supervise.c judge.c worktree.c outputs.c prestart.c setup.c
 * (scripts/build-images.sh). No malloc anywhere: static buffers, mmap and memfds only.
 */
#ifndef CODE_RUNNER_SUPERVISE_H
#define CODE_RUNNER_SUPERVISE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define SETUP_SCRIPT "/usr/local/lib/code-runner/setup-run"
#define WORK_DIR "/tmp/work"
#define STDIN_FILE "/tmp/.code-runner/stdin"
#define NONCE_LEN 32
/* The longest header line accepted. The command itself must also fit execve's limit for one
 * argument (MAX_ARG_STRLEN, 128 KiB), so a longer header could not run anyway. */
#define HEADER_MAX (192 * 1024)
#define STATUS_SETUP_FAILED 2
#define STATUS_BAD_HEADER 125
#define CHUNK_SIZE (64 * 1024)

extern char **environ;

/* supervise.c */
extern char nonce[NONCE_LEN + 1];
extern char chunk[CHUNK_SIZE];
void say(const char *format, ...) __attribute__((format(printf, 1, 2)));
void bad_header(const char *why) __attribute__((noreturn));
int write_all(int fd, const char *buf, size_t len);
long long parse_count(const char *field, const char *name);
int decode_base64(const char *text, char *out);
int shell_status(int wstatus);
long long oom_kills(void);
/* Wipes the nonce and the header line from this process's memory (a forked child that parses
 * user-controlled bytes calls it first). */
void forget_secrets(void);

/* outputs.c: CR1's output files. Collects the work dir's files matching the newline-separated
 * patterns in `spec` (changed in place) into a rewound memory file (*section, -1 when none),
 * within the caps; returns the section's length. *files: how many; *cut: whether any matching
 * file was left out. */
long long collect_output_files(char *spec, long long max_files, long long max_bytes, int *section, long long *files, int *cut);

/* judge.c: protocol CR2, entered with the header's fields split (fields[0] is "CR2") */
void judge_main(char **fields, int count) __attribute__((noreturn));

/* prestart.c: pre-started interpreters (warm containers). prestart_begin() runs before the
 * header is read; prestart_usable() says whether this run may use the interpreter (the
 * runtime's default command and no variable of `environment`, "NAME=value\0" each, that the
 * interpreter reads while it starts); prestart_go() hands it the run (its pid, to wait for, or
 * -1: use the exec path); prestart_abandon() ends it (a no-op when nothing was pre-started). */
void prestart_begin(void);
int prestart_usable(int default_command, const char *environment, size_t length);
pid_t prestart_go(const char *environment, size_t length);
void prestart_abandon(void);

/* setup.c: setup-run's work after the seeds (archive, stdin, SDK copy) in a forked child that
 * forgets the nonce; 0, or -1 (message written). use_setup_without_shell(): whether this image
 * can (no prepare hook, or RT_PREPARE_COPY standing for it). */
int use_setup_without_shell(void);
int setup_without_shell(long long archive_bytes, long long stdin_bytes);

/* worktree.c */
int worktree_snapshot(void);
int worktree_restore(void);
void worktree_clean(const struct timespec *case_started);

#endif
