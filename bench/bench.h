/* The benchmark modes of `mrg bench` (tools/cmd_bench.c dispatches), one
 * file each in bench/. argv[0] is the mode's name; each returns the exit
 * code (0, 1 failure, 2 usage error) and parses its options with
 * tools/opts.h like every command. */
#ifndef MRG_BENCH_BENCH_H
#define MRG_BENCH_BENCH_H

/* mrg bench gemm (bench/bench_gemm.c) */
int bench_gemm(int argc, char **argv);
/* mrg bench lm (bench/bench_lm.c) */
int bench_lm(int argc, char **argv);
/* mrg bench step (bench/bench_step.c) */
int bench_step(int argc, char **argv);
/* mrg bench vit (bench/bench_vit.c) */
int bench_vit(int argc, char **argv);
/* mrg bench bandwidth (bench/bench_bandwidth.c) */
int bench_bandwidth(int argc, char **argv);

/* Memory read bandwidth in GB/s (bench/bench_bandwidth.c): every OpenMP
 * thread sums its share of an mb MiB buffer, best of repeat passes (best
 * time in *seconds when not NULL); -1 when out of memory. */
double bench_read_bandwidth(int mb, int repeat, double *seconds);

/* The /proc/self/status field `key` ("VmRSS", "VmHWM") of this process in
 * KiB; -1 when unavailable (bench/proc_status.c). */
long bench_status_kib(const char *key);

#endif
