/* mrg: the command-line client of the library. A thin dispatcher: each
 * subcommand lives in its own tools/cmd_*.c. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "mrg/mrg.h"

static const mrg_command commands[] = {
    {"demo", "the whole system on synthetic phantoms: train, generate, score, HTML page", cmd_demo},
    {"info", "list the CPU backend and every OpenCL device", cmd_info},
    {"tokenize", "encode text to token ids (or decode ids) with a sentencepiece model", cmd_tokenize},
    {"eval", "score reports: BLEU, METEOR, ROUGE-L, CIDEr, findings", cmd_eval},
    {"toy-train", "train a small MLP on a synthetic spiral (a quick end-to-end check)", cmd_toy_train},
    {"vit", "classify an image with a ViT (timm weights); write its token features", cmd_vit},
    {"lm", "generate text with a LLaMA model (Hugging Face or llama2.c weights)", cmd_lm},
    {"phantoms", "render synthetic two-view chest X-ray studies with reports", cmd_phantoms},
    {"pretrain-lm", "train the small LLaMA (and a tokenizer) on a dataset's reports", cmd_pretrain_lm},
    {"pretrain-vit", "warm up the ViT on the findings read in a dataset's reports", cmd_pretrain_vit},
    {"train", "train the report generator; evaluate each epoch; resume bit-for-bit", cmd_train},
    {"generate", "write reports for a study's images or a whole dataset split", cmd_generate},
    {"tune", "search the OpenCL GEMM kernels' parameters on a device and cache them", cmd_tune},
    {"bench", "benchmarks (bench/): bench gemm, bench lm, bench step (mrg bench --help)", cmd_bench},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *out) {
    fprintf(out,
            "mrg %s: chest X-ray report generation on OpenCL GPUs and CPUs\n\n"
            "usage: mrg <command> [options]   (mrg <command> --help for details)\n\n"
            "commands:\n",
            MRG_VERSION);
    for (int i = 0; i < n_commands; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\ndevices (--device): cpu, opencl (first GPU, else first device), opencl:N.\n"
            "The default is opencl when an OpenCL GPU exists, else cpu; MRG_DEVICE overrides it.\n");
}

/* Two settings are read once, when their library is loaded, so the command
 * re-executes itself (once) to apply them:
 * - OpenMP workers that spin-wait between kernels steal the cores from the
 *   thread doing serial work whenever the machine is shared, which made
 *   training four times slower on two busy cores: OMP_WAIT_POLICY=passive
 *   unless the user chose a policy; but workers that sleep at once pay a
 *   futex wake-up for every kernel, and decoding runs its small kernels
 *   back to back (3x slower for a tiny model), so they first spin
 *   GOMP_SPINCOUNT=1000 times (libgomp's; tens of microseconds), which
 *   cost 5-10 % of a training step with one of two cores taken by another
 *   process, where 10000 cost 60 % (README.md, before `mrg info`);
 * - OpenBLAS runs generic SSE kernels on CPU models it does not know (5x
 *   slower GEMMs on a new Xeon): OPENBLAS_CORETYPE names the kernel set
 *   that fits the CPU's ISA, unless the user set it (mrg/cpu.h).
 * After the exec both are set, so nothing is done twice. */
static void reexec_with_runtime_settings(char **argv) {
    bool again = false;
    if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0) {
        if (!getenv("GOMP_SPINCOUNT")) setenv("GOMP_SPINCOUNT", "1000", 1);
        again = true;
    }
    bool blas = mrg_cpu_blas_prepare_env();
    if (!again && !blas) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on as loaded; the cpu device warns when
     * the BLAS kernels are below the CPU */
    if (blas) mrg_cpu_blas_unprepare_env();
}

/* Output that was lost is an error: stdout is flushed and closed here (what
 * a command printed may still sit in its buffer; glibc keeps the bytes of a
 * failed write and tries again, so errno tells why), and a failure gives a
 * message with the reason and exit status 1 (or the command's own). */
static int finish_stdout(const char *cmd, int rc) {
    bool bad = ferror(stdout) != 0;
    errno = 0;
    if (fflush(stdout) != 0) bad = true;
    int err = errno;
    if (fclose(stdout) != 0 && !bad) {
        bad = true;
        err = errno;
    }
    if (!bad) return rc;
    fprintf(stderr, "mrg%s%s: cannot write the standard output: %s\n", cmd ? " " : "",
            cmd ? cmd : "", err ? strerror(err) : "an earlier write failed");
    return rc ? rc : 1;
}

/* The commands that run data-parallel under an MPI launcher (lib/dist):
 * they join the job first; every other command stays a job of one. */
static bool data_parallel(const char *name) {
    return !strcmp(name, "train") || !strcmp(name, "generate") || !strcmp(name, "info") || !strcmp(name, "bench");
}

static int run_command(const mrg_command *c, int argc, char **argv) {
    if (!data_parallel(c->name)) return c->run(argc - 1, argv + 1);
    if (mrg_dist_init(&argc, &argv) != MRG_OK) {
        fprintf(stderr, "mrg %s: %s\n", c->name, mrg_last_error());
        return 1;
    }
    int rc = c->run(argc - 1, argv + 1);
    /* a rank that failed alone would leave the others waiting in a
     * collective: the job ends with it (the message is already printed);
     * a stop by signal is agreed between the ranks (mrg train) */
    if (rc != 0 && rc != 128 + SIGINT && rc != 128 + SIGTERM && mrg_dist_size() > 1) {
        char msg[128];
        snprintf(msg, sizeof msg, "mrg %s failed (exit status %d); ending the job", c->name, rc);
        fflush(stdout);
        mrg_dist_abort(rc, msg);
    }
    mrg_dist_finalize(); /* stdout is flushed (and checked) by finish_stdout */
    return rc;
}

int main(int argc, char **argv) {
    reexec_with_runtime_settings(argv);
    /* a closed pipe is a write error with a message (EPIPE), not a silent
     * death by SIGPIPE in the middle of a training run */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return finish_stdout(NULL, 0);
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mrg %s\n", MRG_VERSION);
        return finish_stdout(NULL, 0);
    }
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return finish_stdout(commands[i].name, run_command(&commands[i], argc, argv));
    fprintf(stderr, "mrg: unknown command '%s' (see mrg --help)\n", argv[1]);
    return 2;
}
