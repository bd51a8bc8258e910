/* pathint command: exit codes, error messages and notes on stderr, and Ctrl-C. */
#ifndef PATHINT_TOOL_MESSAGES_H
#define PATHINT_TOOL_MESSAGES_H

#include <pathint.h>

#include <signal.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

#if defined(__GNUC__)
#define TOOL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TOOL_PRINTF(f, a)
#endif

/* The subcommand that runs ("pathint" before one is chosen), named in every message. */
extern const char *current_command;
/* --quiet: no notes and no progress. */
extern int quiet;
/* Set by the first Ctrl-C; the step callbacks turn it into a clean cancel. */
extern volatile sig_atomic_t interrupted;

/* The first Ctrl-C sets `interrupted`; the handler then resets, so a second one kills the
 * process. */
void install_sigint(void);

/* A failed library call: the message, pi_last_error()'s detail, the status name. Returns
 * EXIT_RUNTIME, or EXIT_INTERRUPTED (and says so) for a cancel after Ctrl-C. */
int fail_status(pi_status status, const char *fmt, ...) TOOL_PRINTF(2, 3);
/* A runtime failure outside the library (a file, memory). Returns EXIT_RUNTIME. */
int fail_runtime(const char *fmt, ...) TOOL_PRINTF(1, 2);
/* A failed setter of a user's option value: PI_EINVAL is a usage error (EXIT_USAGE, with the
 * library's message); other statuses go to fail_status. */
int fail_option(pi_status status, const char *what);
/* A usage error, with a pointer to --help. Returns EXIT_USAGE. */
int fail_usage(const char *fmt, ...) TOOL_PRINTF(1, 2);
/* A note on stderr, unless --quiet. */
void note(const char *fmt, ...) TOOL_PRINTF(1, 2);

#endif
