/* Status codes, per-thread error messages and the version. */
#include "core.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

const char *pi_status_string(pi_status status)
{
    switch (status) {
#define PI_STATUS_CASE_(name, value, message)                                                  \
    case value:                                                                                \
        return message;
        PI_STATUS_LIST(PI_STATUS_CASE_)
#undef PI_STATUS_CASE_
    default:
        return "unknown status";
    }
}

const char *pi_last_error(void) { return last_error; }

pi_status pi_fail(pi_status code, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int written = vsnprintf(last_error, sizeof last_error, fmt, args);
    va_end(args);
    if (written < 0)
        snprintf(last_error, sizeof last_error, "%s", pi_status_string(code));
    return code;
}

pi_status pi_enter_busy(atomic_int *running, const char *func, const char *handle)
{
    int idle = 0;
    if (atomic_compare_exchange_strong(running, &idle, 1))
        return PI_OK;
    return pi_fail(PI_EBUSY, "%s: another call is running on this %s (one call at a time per "
                   "handle; use one handle per thread)", func, handle);
}

unsigned pi_version_number(void) { return PI_VERSION_NUMBER; }

const char *pi_version_string(void) { return PI_VERSION_STRING; }
