/* The one table of option defaults and bounds (pi_option_info() in the public header): the
 * handles' create functions take their defaults from it and their setters validate against
 * it, so documentation, query and validation cannot drift apart. */
#ifndef PI_OPTIONS_H
#define PI_OPTIONS_H

#include "core.h"

/* The default of an option (0 for an unknown key; keys are compile-time constants here). */
double pi_option_default(pi_option option);

/* PI_OK if value is in the option's range (and integral/even where required); otherwise
 * PI_EINVAL with "<func>: <name> must be in [min, max], got <value>". */
pi_status pi_option_check(pi_option option, double value, const char *func);

/* pi_option_check for size_t / int / uint64 values, without rounding through double first
 * (a huge size_t must not round into range). */
pi_status pi_option_check_size(pi_option option, size_t value, const char *func);
pi_status pi_option_check_int(pi_option option, int value, const char *func);
pi_status pi_option_check_u64(pi_option option, uint64_t value, const char *func);

#endif
