/* The subcommands of `mrg`, one file each (tools/cmd_*.c).
 * Each returns the process exit code: 0 success, 1 failure of the work
 * (bad input data, device error), 2 usage errors (unknown option, unknown
 * device). Each prints its own help for -h/--help. */
#ifndef MRG_TOOLS_COMMANDS_H
#define MRG_TOOLS_COMMANDS_H

typedef struct mrg_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} mrg_command;

int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_toy_train(int argc, char **argv);
int cmd_vit(int argc, char **argv);
int cmd_lm(int argc, char **argv);
int cmd_phantoms(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_pretrain_lm(int argc, char **argv);
int cmd_pretrain_vit(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_tune(int argc, char **argv);
/* mrg bench <mode> (tools/cmd_bench.c) dispatches to bench/bench.h. */
int cmd_bench(int argc, char **argv);

#endif
