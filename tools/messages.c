/* pathint command: exit codes, error messages and notes on stderr, and Ctrl-C (messages.h). */
#include "messages.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *current_command = "pathint";
int quiet = 0;
volatile sig_atomic_t interrupted = 0;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

void install_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

int fail_status(pi_status status, const char *fmt, ...)
{
    if (status == PI_ECANCELED && interrupted) {
        fprintf(stderr, "\npathint %s: interrupted\n", current_command);
        return EXIT_INTERRUPTED;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pathint %s: error: ", current_command);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    const char *detail = pi_last_error();
    fprintf(stderr, ": %s%s(%s)\n", detail && *detail ? detail : "", detail && *detail ? " " : "",
            pi_status_string(status));
    return EXIT_RUNTIME;
}

int fail_runtime(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pathint %s: error: ", current_command);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_RUNTIME;
}

int fail_option(pi_status status, const char *what)
{
    if (status != PI_EINVAL)
        return fail_status(status, "%s", what);
    return fail_usage("%s: %s", what, pi_last_error());
}

int fail_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pathint %s: ", current_command);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'pathint %s --help'.\n", current_command);
    return EXIT_USAGE;
}

void note(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}
