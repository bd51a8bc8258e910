/* pathint command: options (arguments.h). */
#include "arguments.h"

#include "messages.h"

#include "pathint.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find_spec(const option_spec *specs, const char *name, size_t len, char short_name)
{
    for (int i = 0; specs[i].name; i++)
        if (short_name ? specs[i].short_name == short_name
                       : strlen(specs[i].name) == len && strncmp(specs[i].name, name, len) == 0)
            return i;
    return -1;
}

int parse_args(int argc, char **argv, const option_spec *specs, args *a)
{
    memset(a, 0, sizeof *a);
    a->specs = specs;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            for (i++; i < argc; i++) {
                if (a->npositional == MAX_POSITIONAL)
                    return fail_usage("too many arguments");
                a->positional[a->npositional++] = argv[i];
            }
            break;
        }
        int k;
        const char *inline_value = NULL;
        if (arg[0] == '-' && arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            k = find_spec(specs, name, len, 0);
            if (k < 0)
                return fail_usage("unknown option '--%.*s'", (int)len, name);
            if (eq)
                inline_value = eq + 1;
        } else if (arg[0] == '-' && arg[1] && arg[2] == 0 && !(arg[1] >= '0' && arg[1] <= '9')) {
            k = find_spec(specs, NULL, 0, arg[1]);
            if (k < 0)
                return fail_usage("unknown option '%s'", arg);
        } else {
            if (a->npositional == MAX_POSITIONAL)
                return fail_usage("unexpected argument '%s'", arg);
            a->positional[a->npositional++] = arg;
            continue;
        }
        if (specs[k].metavar) {
            if (!inline_value) {
                if (i + 1 >= argc)
                    return fail_usage("option '--%s' needs a value (%s)", specs[k].name, specs[k].metavar);
                inline_value = argv[++i];
            }
            if (a->given[k]) /* a second --model would silently replace the first */
                return fail_usage("option '--%s' given more than once", specs[k].name);
            a->value[k] = inline_value;
        } else if (inline_value) {
            return fail_usage("option '--%s' takes no value", specs[k].name);
        }
        a->given[k] = 1;
    }
    return 0;
}

static int spec_index(const args *a, const char *name)
{
    int k = find_spec(a->specs, name, strlen(name), 0);
    if (k < 0) {
        fprintf(stderr, "internal error: option --%s is not declared for this command\n", name);
        abort();
    }
    return k;
}

int has_opt(const args *a, const char *name) { return a->given[spec_index(a, name)]; }

int opt_given(const args *a, const char *name)
{
    int k = find_spec(a->specs, name, strlen(name), 0);
    return k >= 0 && a->given[k];
}

const char *opt_str(const args *a, const char *name, const char *def)
{
    int k = spec_index(a, name);
    return a->given[k] ? a->value[k] : def;
}

double opt_double(args *a, const char *name, double def)
{
    const char *s = opt_str(a, name, NULL);
    if (!s)
        return def;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v)) {
        fail_usage("--%s expects a finite number, got '%s'", name, s);
        a->bad = 1;
        return def;
    }
    return v;
}

void opt_library_range(args *a, const char *name, int key)
{
    if (!opt_given(a, name))
        return;
    const char *text = opt_str(a, name, NULL);
    int was_bad = a->bad;
    a->bad = 0;
    double v = opt_double(a, name, 0.0);
    if (a->bad) {
        a->bad = 1;
        return;
    }
    a->bad = was_bad;
    double lo, hi;
    unsigned flags;
    if (pi_option_info((pi_option)key, NULL, NULL, &lo, &hi, &flags) != PI_OK)
        return;
    int ok = (flags & PI_OPTION_MIN_EXCLUSIVE ? v > lo : v >= lo) &&
             (flags & PI_OPTION_MAX_EXCLUSIVE ? v < hi : v <= hi);
    if (ok && (flags & (PI_OPTION_INTEGER | PI_OPTION_EVEN)))
        ok = v == floor(v) && (!(flags & PI_OPTION_EVEN) || fmod(v, 2.0) == 0.0);
    if (!ok) {
        fail_usage("--%s must be %s in %c%g, %g%c, got '%s'", name,
                   flags & PI_OPTION_EVEN ? "an even integer" : flags & PI_OPTION_INTEGER ? "an integer"
                                                                                          : "a number",
                   flags & PI_OPTION_MIN_EXCLUSIVE ? '(' : '[', lo, hi,
                   flags & PI_OPTION_MAX_EXCLUSIVE ? ')' : ']', text);
        a->bad = 1;
    }
}

uint64_t opt_u64(args *a, const char *name, uint64_t def, uint64_t min, uint64_t max)
{
    const char *s = opt_str(a, name, NULL);
    if (!s)
        return def;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno == ERANGE || s[0] == '-' || v < min || v > max) {
        fail_usage("--%s expects an integer in [%llu, %llu], got '%s'", name, (unsigned long long)min,
                   (unsigned long long)max, s);
        a->bad = 1;
        return def;
    }
    return (uint64_t)v;
}

int opt_choice(args *a, const char *name, const named_value *table, int def)
{
    const char *s = opt_str(a, name, NULL);
    if (!s)
        return def;
    for (int i = 0; table[i].name; i++)
        if (strcmp(table[i].name, s) == 0)
            return table[i].value;
    char list[512] = "";
    for (int i = 0; table[i].name; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, table[i].name, sizeof list - strlen(list) - 1);
    }
    fail_usage("--%s: unknown value '%s' (choose from %s)", name, s, list);
    a->bad = 1;
    return def;
}

const char *name_of(const named_value *table, int value)
{
    for (int i = 0; table[i].name; i++)
        if (table[i].value == value)
            return table[i].name;
    return "?";
}

void print_help(const char *usage, const char *description, const option_spec *specs)
{
    printf("Usage: %s\n\n%s\n\nOptions:\n", usage, description);
    for (int i = 0; specs[i].name; i++) {
        char left[64];
        if (specs[i].short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", specs[i].short_name, specs[i].name,
                     specs[i].metavar ? " " : "", specs[i].metavar ? specs[i].metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", specs[i].name, specs[i].metavar ? " " : "",
                     specs[i].metavar ? specs[i].metavar : "");
        printf("  %-26s %s\n", left, specs[i].help);
    }
    printf("\nExit status: 0 success, 1 runtime failure, 2 usage error, 130 interrupted.\n");
}
