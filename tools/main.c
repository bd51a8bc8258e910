/* pathint: the command-line program.
 *
 *   pathint train | sample | nll | wkb | demo | info  [options]
 *
 * Exit codes: 0 success, 1 runtime failure (a library call, a file), 2 usage error,
 * 130 interrupted (Ctrl-C cancels the running step loop cleanly). Results go to stdout,
 * progress and messages to stderr. See docs/cli.md.
 *
 * One file per subcommand (train.c, sample.c, likelihood.c for nll and wkb, demo.c, info.c)
 * and one per job they share: arguments.c (options), messages.c (errors, Ctrl-C),
 * progress.c, statistics.c (shared with the tests), files.c, sampler_options.c, plot.c.
 */
#include "commands.h"
#include "messages.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const command *const commands[] = {&train_command, &sample_command, &nll_command,
                                          &wkb_command,   &demo_command,   &info_command};
enum { COMMAND_COUNT = sizeof commands / sizeof commands[0] };

static void print_usage(FILE *f)
{
    fprintf(f, "Usage: pathint COMMAND [options]\n\n"
               "Score-based diffusion models in the path-integral (ħ) view.\n\nCommands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const char *d = commands[i]->description, *nl = strchr(d, '\n');
        fprintf(f, "  %-8s %.*s\n", commands[i]->name, nl ? (int)(nl - d) : (int)strlen(d), d);
    }
    fprintf(f, "\n'pathint COMMAND --help' describes a command's options.\n"
               "Exit status: 0 success, 1 runtime failure, 2 usage error, 130 interrupted.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2)
            for (size_t i = 0; i < COMMAND_COUNT; i++)
                if (strcmp(commands[i]->name, argv[2]) == 0) {
                    print_help(commands[i]->usage, commands[i]->description, commands[i]->options);
                    return EXIT_OK;
                }
        print_usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("pathint %s\n", pi_version_string());
        return EXIT_OK;
    }
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const command *c = commands[i];
        if (strcmp(c->name, name) != 0)
            continue;
        current_command = name;
        args a;
        int rc = parse_args(argc - 2, argv + 2, c->options, &a);
        if (rc)
            return rc;
        if (has_opt(&a, "help")) {
            print_help(c->usage, c->description, c->options);
            return EXIT_OK;
        }
        quiet = opt_given(&a, "quiet");
        if (a.npositional > c->max_positional)
            return fail_usage("unexpected argument '%s'", a.positional[a.npositional - 1]);
        install_sigint();
        rc = c->run(&a);
        /* Results that never reached stdout (a full device, a closed pipe) are a failure. */
        if (fflush(stdout) != 0 || ferror(stdout)) {
            int err = errno;
            if (rc == EXIT_OK)
                rc = fail_runtime("cannot write the results to standard output: %s", strerror(err));
        }
        return rc;
    }
    fprintf(stderr, "pathint: unknown command '%s'\n\n", name);
    print_usage(stderr);
    return EXIT_USAGE;
}
