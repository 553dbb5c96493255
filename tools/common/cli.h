/* cli.h — what every command-line tool shares: the program name in
 * messages, flag parsing with range checks, library-error reporting,
 * timing and ETA, output folders, shard lists, Ctrl-C handling.
 * Public API only. */
#ifndef TK_CLI_H
#define TK_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TK_EXIT_RUN 1
#define TK_EXIT_USAGE 2
#define TK_EXIT_INTERRUPTED 130

/* Name used as the prefix of every message ("simvtp-pretrain"). */
void tk_cli_init(const char *prog);
const char *tk_prog(void);
/* In a job of world > 1 ranks, messages start "prog (rank R of W): " so that
 * the interleaved stderr of the ranks says who failed; world <= 1: "prog: ". */
void tk_cli_set_rank(int rank, int world);
/* What messages start with: "prog" or "prog (rank R of W)". */
const char *tk_msg_prefix(void);

/* "prog: <message> (see prog --help)" on stderr; returns TK_EXIT_USAGE. */
int tk_bad_flag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: <what> failed: STATUS: detail" on stderr; returns TK_EXIT_RUN. */
int tk_lib_fail(const char *what, int status);
/* "prog: <message>" on stderr; returns TK_EXIT_RUN. */
int tk_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a flag's value; 0 on success, else a tk_bad_flag exit status. */
int tk_parse_long(const char *flag, const char *v, long lo, long hi, long *out);
int tk_parse_u64(const char *flag, const char *v, uint64_t *out);
int tk_parse_double(const char *flag, const char *v, double lo, double hi, double *out);
/* The value after argv[*i] for flag argv[*i], advancing *i; NULL (and a
 * message) when missing. */
const char *tk_flag_value(int argc, char **argv, int *i);

double tk_now(void); /* monotonic seconds */
/* "1h02m", "3m05s", "42s" */
void tk_format_duration(double seconds, char *buf, size_t n);
/* "done/total (p%), rate unit/s, ETA t" from the progress since start. */
void tk_format_progress(int64_t done, int64_t total, double elapsed, const char *unit, char *buf,
                        size_t n);

/* Make DIR (one level) unless it is a folder already; TK_EXIT_RUN on failure. */
int tk_ensure_dir(const char *dir);
int tk_file_exists(const char *path);

/* DIR's shard-NNNNN.svtps paths in shard order (malloc'd); returns the count,
 * or -1 after a message (also when there are none). */
int tk_list_shards(const char *dir, char ***out);
void tk_free_list(char **list, int n);

/* SIGINT/SIGTERM set a flag instead of killing the process; the tools finish
 * the current step, keep their last complete checkpoint and exit 130. */
void tk_install_interrupt(void);
int tk_interrupted(void);

/* Log callback printing library warnings as "prog: warning: ..." */
void tk_log_to_stderr(void *user, int level, const char *message);

#endif /* TK_CLI_H */
