/* pathint command: options. Each subcommand declares a table of options; parse_args() checks
 * argv against it and the typed getters look values up by long name. */
#ifndef PATHINT_TOOL_ARGUMENTS_H
#define PATHINT_TOOL_ARGUMENTS_H

#include <stdint.h>

typedef struct option_spec {
    const char *name;    /* long name without "--" */
    char short_name;     /* 0 for none */
    const char *metavar; /* NULL for a flag */
    const char *help;
} option_spec;

enum { MAX_OPTIONS = 48, MAX_POSITIONAL = 4 };

typedef struct args {
    const option_spec *specs;
    const char *value[MAX_OPTIONS];
    int given[MAX_OPTIONS];
    const char *positional[MAX_POSITIONAL];
    int npositional;
    int bad; /* set by the typed getters on a malformed value */
} args;

/* Parse argv (the subcommand's arguments) against specs, a table ended by a NULL name.
 * Returns 0, or EXIT_USAGE after printing a message. */
int parse_args(int argc, char **argv, const option_spec *specs, args *a);

/* Whether an option was given. The getters below abort on a name the command does not
 * declare (a programming error); opt_given() instead says 0. */
int has_opt(const args *a, const char *name);
int opt_given(const args *a, const char *name);
/* The option's value, or def when it was not given. */
const char *opt_str(const args *a, const char *name, const char *def);
/* Typed values: on a malformed one, print a usage message, set a->bad and return def. */
double opt_double(args *a, const char *name, double def);
/* If --name was given: its value must be in the library's range of option key (pi_option_info),
 * else a usage error (a->bad set), before anything is read or written. */
void opt_library_range(args *a, const char *name, int key);
uint64_t opt_u64(args *a, const char *name, uint64_t def, uint64_t min, uint64_t max);

/* A name for a library value on the command line; tables end with a NULL name. */
typedef struct named_value {
    const char *name;
    int value;
} named_value;

/* The value of a name from the table (def when the option is not given; a usage message
 * listing the choices, a->bad and def for an unknown name). */
int opt_choice(args *a, const char *name, const named_value *table, int def);
/* The first name of a value, "?" if none. */
const char *name_of(const named_value *table, int value);

/* A subcommand's --help. */
void print_help(const char *usage, const char *description, const option_spec *specs);

#endif
