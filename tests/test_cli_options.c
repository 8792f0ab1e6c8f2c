/* Every command's options (tools/opts.h): a table of bad command lines, each
 * of which must exit 2 with a one-line message on stderr that names the
 * option (and its allowed range, when it has one), print nothing on stdout,
 * and write nothing (the commands run in an empty directory, where their
 * relative --out paths would land, and that directory must stay empty).
 * Then --help of every command exits 0 on stdout, and good values in the
 * --name=value form are taken. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* One bad command line (after `mrg`) and a piece of the message it must
 * print. In args, @ stands for the test's scratch directory (outside the
 * empty working directory) and ^ for the golden dataset. */
typedef struct bad_case {
    const char *args;
    const char *want;
} bad_case;

static const bad_case cases[] = {
    /* mrg itself */
    {"", "usage: mrg <command>"},
    {"no-such-command", "unknown command 'no-such-command'"},

    /* train: every number, its range, contradictions, the usual mistakes */
    {"train --data d --out o --epochs x", "--epochs must be a whole number from 1 to 100000, not 'x'"},
    {"train --data d --out o --epochs 2.5", "--epochs must be a whole number from 1 to 100000, not '2.5'"},
    {"train --data d --out o --epochs 0", "--epochs must be a whole number from 1 to 100000, not '0'"},
    {"train --data d --out o --epochs 99999999999", "--epochs must be a whole number from 1 to 100000"},
    {"train --data d --out o --epochs ''", "--epochs must be a whole number"},
    {"train --data d --out o --epochs ' 3'", "--epochs must be a whole number"},
    {"train --data d --out o --epochs 1e3", "--epochs must be a whole number"},
    {"train --data d --out o --batch 0", "--batch must be a whole number from 1 to 4096, not '0'"},
    {"train --data d --out o --batch -4", "--batch must be a whole number from 1 to 4096"},
    {"train --data d --out o --lr 0", "--lr must be a number > 0 and <= 1, not '0'"},
    {"train --data d --out o --lr nan", "--lr must be a number > 0 and <= 1, not 'nan'"},
    {"train --data d --out o --lr inf", "--lr must be a number > 0 and <= 1, not 'inf'"},
    {"train --data d --out o --lr 0,0005", "--lr must be a number > 0 and <= 1, not '0,0005'"},
    {"train --data d --out o --lr -1e-4", "--lr must be a number > 0"},
    {"train --data d --out o --lr 1e-50", "too close to 0"},
    {"train --data d --out o --lr 1e6", "--lr must be a number > 0 and <= 1, not '1e6'"},
    {"train --data d --out o --lr 0x1p-4", "--lr must be a number"},
    {"train --data d --out o --grad-accum 0", "--grad-accum must be a whole number from 1 to 4096"},
    {"train --data d --out o --max-steps 0", "--max-steps must be a whole number from 1"},
    {"train --data d --out o --max-steps 99999999999999999999", "--max-steps must be a whole number"},
    {"train --data d --out o --save-every 0", "--save-every must be a whole number from 1"},
    {"train --data d --out o --eval-max 0", "--eval-max must be a whole number from 1"},
    {"train --data d --out o --log-every 0", "--log-every must be a whole number from 1"},
    {"train --data d --out o --no-eval --eval-max 3", "--no-eval and --eval-max exclude each other"},
    {"train --data d --out o --no-eval --eval-beam", "--no-eval and --eval-beam exclude each other"},
    {"train --data d --out o --epochs 3 --epochs 4", "--epochs is given twice"},
    {"train --data d --out o --epochs=3 --epochs=3", "--epochs is given twice"},
    {"train --data d --out o --resume=yes", "--resume takes no value"},
    {"train --data d --out o --epochs", "--epochs needs a value"},
    {"train --data d --out o --bogus 1", "unknown option '--bogus'"},
    {"train --data d --out o stray", "unexpected argument 'stray'"},
    {"train --out o", "--data is required"},
    {"train --data d", "--out is required"},

    /* pretrain-lm */
    {"pretrain-lm --data d --out o --steps 0", "--steps must be a whole number from 1 to 1000000000, not '0'"},
    {"pretrain-lm --data d --out o --steps -5", "--steps must be a whole number from 1"},
    {"pretrain-lm --data d --out o --epochs 0", "--epochs must be a whole number from 1 to 100000"},
    {"pretrain-lm --data d --out o --vocab 100", "--vocab must be a whole number from 260 to 1000000, not '100'"},
    {"pretrain-lm --data d --out o --vocab 1000001", "--vocab must be a whole number from 260 to 1000000"},
    {"pretrain-lm --data d --out o --batch 5000", "--batch must be a whole number from 1 to 4096"},
    {"pretrain-lm --data d --out o --lr nan", "--lr must be a number > 0 and <= 1"},
    {"pretrain-lm --data d --out o --log-every 0", "--log-every must be a whole number from 1"},
    {"pretrain-lm --data d --out o --seed -1", "--seed must be a whole number from 0 to 18446744073709551615"},
    {"pretrain-lm --data d --out o --seed 18446744073709551616", "--seed must be a whole number from 0"},
    {"pretrain-lm --data d --out o --steps 5 --epochs 2", "--steps and --epochs exclude each other"},
    {"pretrain-lm --data d --out o --tokenizer t --vocab 300", "--tokenizer and --vocab exclude each other"},
    {"pretrain-lm --data d --out o --slot-span 4", "--slot-span applies to --slot-hints spans only"},
    {"pretrain-lm --data d --out o --slot-hints spans --slot-span -2", "--slot-span must be a whole number from -1 to 100000"},
    {"pretrain-lm --data d --out o --no-slot-hints --slot-hints spans", "--no-slot-hints and --slot-hints exclude each other"},
    {"pretrain-lm --data d --out o --slot-hints words", "--slot-hints must be one of findings, sentences, spans, not 'words'"},
    {"pretrain-lm --data d --out o --config /nonexistent.json", "/nonexistent.json"},
    {"pretrain-lm --out o", "--data is required"},
    /* a --vocab the reports cannot fill is refused before anything is written */
    {"pretrain-lm --data ^ --out @/lm --preset micro --device cpu --steps 1 --vocab 5000",
     "not --vocab 5000 (choose 260.."},

    /* pretrain-vit */
    {"pretrain-vit --data d --out o --epochs 0", "--epochs must be a whole number from 1 to 100000"},
    {"pretrain-vit --data d --out o --batch x", "--batch must be a whole number from 1 to 4096, not 'x'"},
    {"pretrain-vit --data d --out o --lr inf", "--lr must be a number > 0 and <= 1"},
    {"pretrain-vit --data d --out o --log-every -1", "--log-every must be a whole number from 1"},
    {"pretrain-vit --data d --out o --seed 1.5", "--seed must be a whole number"},
    {"pretrain-vit --data d", "--out is required"},

    /* generate */
    {"generate --model m --data d --out p --beam -3", "--beam must be a whole number from 1 to 64, not '-3'"},
    {"generate --model m --data d --out p --beam 65", "--beam must be a whole number from 1 to 64"},
    {"generate --model m --data d --out p --kv-cache f64", "--kv-cache must be one of f32, bf16, f16"},
    {"generate --model m --data d --out p --repetition-penalty -1", "--repetition-penalty must be a number > 0, not '-1'"},
    {"generate --model m --data d --out p --repetition-penalty 0", "--repetition-penalty must be a number > 0"},
    {"generate --model m --data d --out p --length-penalty nan", "--length-penalty must be a finite number, not 'nan'"},
    {"generate --model m --data d --out p --length-penalty 1e39", "--length-penalty must be a finite number"},
    {"generate --model m --data d --out p --min-new 50 --max-new 10", "--min-new 50 is above --max-new 10"},
    {"generate --model m --data d --out p --min-new -1", "--min-new must be a whole number from 0 to 100000"},
    {"generate --model m --data d --out p --max-new 0", "--max-new must be a whole number from 1 to 100000"},
    {"generate --model m --data d --out p --batch 0", "--batch must be a whole number from 1 to 1024"},
    {"generate --model m --data d --out p --limit 0", "--limit must be a whole number from 1"},
    {"generate --model m --data d --out p --split dev", "--split must be one of train, val, test, not 'dev'"},
    {"generate --model m --data d --out p --sample --top-p 1.5", "--top-p must be a number > 0 and <= 1"},
    {"generate --model m --data d --out p --sample --temperature -1", "--temperature must be a number >= 0"},
    {"generate --model m --data d --out p --greedy --sample", "--greedy and --sample exclude each other"},
    {"generate --model m --data d --out p --greedy --beam 2", "--beam applies to beam search, not to --greedy"},
    {"generate --model m --data d --out p --sample --length-penalty 1", "--length-penalty applies to beam search, not to --sample"},
    {"generate --model m --data d --out p --temperature 0.7", "--temperature applies to --sample only"},
    {"generate --model m --data d --out p --seed 3", "--seed applies to --sample only"},
    {"generate --model m --image a.png --data d --out p", "--image and --data exclude each other"},
    {"generate --model m --image a.png --split val", "--split applies to --data only, not to --image"},
    {"generate --model m --image a.png --out p", "--out applies to --data only, not to --image"},
    {"generate --model m --image a.png --limit 2", "--limit applies to --data only"},
    {"generate --model m --image a.png --blank-images", "--blank-images applies to --data only"},
    {"generate --model m --data d", "--data needs --out"},
    {"generate --model m", "--image or --data is required"},
    {"generate --data d --out p", "--model is required"},
    {"generate --model m --image 1 --image 2 --image 3 --image 4 --image 5 --image 6 --image 7 --image 8 --image 9",
     "--image may be given at most 8 times"},

    /* lm */
    {"lm --model m --prompt-ids 1 --print-ids -n -1", "-n must be a whole number from 0 to 1000000, not '-1'"},
    {"lm --model m --prompt-ids 1 --print-ids --temperature -0.5", "--temperature must be a number >= 0"},
    {"lm --model m --prompt-ids 1 --print-ids --top-p 0", "--top-p must be a number > 0 and <= 1, not '0'"},
    {"lm --model m --prompt-ids 1 --print-ids --kv-cache i32", "--kv-cache must be one of f32, bf16, f16"},
    {"lm --model m --prompt-ids 1 --print-ids --seed x", "--seed must be a whole number"},
    {"lm --model m --prompt-ids 1 --print-ids --greedy --temperature 0.5", "--greedy and --temperature exclude each other"},
    {"lm --model m --prompt-ids 1 --print-ids --greedy --seed 4", "--greedy and --seed exclude each other"},
    {"lm --model m --prompt x --prompt-ids 1 --tokenizer t", "--prompt and --prompt-ids exclude each other"},
    {"lm --model m --prompt-ids 1,x --print-ids", "--prompt-ids must be token ids"},
    {"lm --model m --prompt-ids -3 --print-ids", "--prompt-ids must be token ids"},
    {"lm --model m --prompt-ids ', ' --print-ids", "--prompt-ids is empty"},
    {"lm --model m --prompt-ids 1 --print-ids --dtype f8", "--dtype must be one of f32, bf16, f16, not 'f8'"},
    {"lm --model m --prompt hi", "--prompt needs --tokenizer"},
    {"lm --model m --prompt-ids 1", "text output needs --tokenizer"},
    {"lm --prompt-ids 1 --print-ids", "--model is required"},

    /* tokenize */
    {"tokenize --decode 1", "--tokenizer is required"},
    {"tokenize --tokenizer t --decode '1 x'", "--decode must be token ids"},
    {"tokenize --tokenizer t --decode 1 --bos", "--bos applies to encoding, not to --decode"},
    {"tokenize --tokenizer t --decode 1 text", "give either TEXT or --decode, not both"},
    {"tokenize --tokenizer t", "TEXT is required"},
    {"tokenize --tokenizer t --pieces --bogus text", "unknown option '--bogus'"},

    /* eval; --per-report never overwrites an input */
    {"eval --pred p.jsonl", "--ref is required"},
    {"eval --ref r.jsonl", "--pred is required"},
    {"eval --pred p --ref r --no-meteor --wordnet w", "--no-meteor and --wordnet exclude each other"},
    {"eval --pred p --ref r --no-meteor --meteor-data w", "--no-meteor and --meteor-data exclude each other"},
    {"eval --pred p --ref r --json --json", "--json is given twice"},
    {"eval --pred @/in.jsonl --ref @/in.jsonl --per-report @/in.jsonl", "--per-report @/in.jsonl would overwrite an input file"},

    /* toy-train, vit, phantoms, info */
    {"toy-train --steps 0", "--steps must be a whole number from 1 to 10000000, not '0'"},
    {"toy-train --steps x", "--steps must be a whole number from 1 to 10000000, not 'x'"},
    {"toy-train --hidden 99999999999", "--hidden must be a whole number from 1 to 65536"},
    {"toy-train --lr 0", "--lr must be a number > 0 and <= 1"},
    {"toy-train --steps", "--steps needs a value"},
    {"toy-train --device nope", "unknown device 'nope'"},
    {"vit --model m --image i --top -1", "--top must be a whole number from 0 to 1000000, not '-1'"},
    {"vit --model m", "--image is required"},
    {"phantoms --out x --n 0", "--n must be a whole number from 1 to 2000000, not '0'"},
    {"phantoms --out x --n abc", "--n must be a whole number from 1 to 2000000, not 'abc'"},
    {"phantoms --out x --n 3 --size 5", "--size must be a whole number from"},
    {"phantoms --out x --n 3 --seed -1", "--seed must be a whole number from 0"},
    {"phantoms --n 3", "--out is required"},
    {"info --bogus", "unknown option '--bogus'"},
    {"info extra", "unexpected argument 'extra'"},
    {"info --device", "--device needs a value"},
    {"info --device nope", "unknown device 'nope'"},
    {"info --device 'opencl: 1'", "unknown device 'opencl: 1'"},

    /* demo: refused before it creates demo-out/ in the working directory */
    {"demo --studies 5", "--studies must be a whole number from 20 to 1000000, not '5'"},
    {"demo --epochs 0", "--epochs must be a whole number from 1 to 100000"},
    {"demo --lm-steps x", "--lm-steps must be a whole number from 1 to 1000000"},
    {"demo --vit-epochs 0", "--vit-epochs must be a whole number from 1 to 100000"},
    {"demo --out 'a b'", "--out must be a path of at most 900 characters without spaces"},
    {"demo --device nope", "unknown device 'nope'"},

    /* bench (bench/) */
    {"bench", "a mode is required"},
    {"bench nope", "unknown mode 'nope'"},
    {"bench gemm --repeat 0", "--repeat must be a whole number from 1 to 1000000"},
    {"bench gemm --sizes 1,x", "--sizes must be 1 to 32 sizes from 1 to 65536"},
    {"bench gemm --sizes 0", "--sizes must be 1 to 32 sizes from 1 to 65536"},
    {"bench gemm --max 0", "--max must be a whole number from 1 to 65536"},
    {"bench gemm --budget 0", "--budget must be a number > 0, not '0'"},
    {"bench gemm --budget nan", "--budget must be a number > 0, not 'nan'"},
    {"bench lm --model m --prompt 0", "--prompt must be a whole number from 1 to 1000000"},
    {"bench lm --model m --gen -1", "--gen must be a whole number from 0 to 1000000"},
    {"bench lm --model m --dtype x", "--dtype must be one of f32, bf16, f16"},
    {"bench lm", "--model is required"},
    {"bench lm --model m --kv-cache x", "--kv-cache must be one of f32, bf16, f16"},
    {"bench lm --model m --beam 17", "--beam must be a whole number from 0 to 16"},
    {"bench lm --model m --beam 1", "--beam 1 is the greedy phase"},
    {"bench lm --model m --bw-mb -1", "--bw-mb must be a whole number from 0 to 1048576"},
    {"bench step --lm x --beam 0", "--beam must be a whole number from 1 to 64"},
    {"bench step --lm x --beam x", "--beam must be a whole number from 1 to 64, not 'x'"},
    {"bench step --lm x --report-tokens 0", "--report-tokens must be a whole number from 1 to 100000"},
    {"bench step --lm x --min-new 5 --max-new 2", "--min-new 5 is above --max-new 2"},
    {"bench step", "--lm is required"},
    {"bench step --lm x --batch 0", "--batch must be a whole number from 1 to 4096"},
    {"bench step --lm x --warmup -1", "--warmup must be a whole number from 0 to 1000000"},
    {"bench step --lm x --no-generate --max-new 5", "--max-new has no effect with --no-generate"},
    {"bench gemm --json --json", "--json is given twice"},
    {"bench vit --repeat 0", "--repeat must be a whole number from 1 to 1000000"},
    {"bench vit --patch 300", "--patch must be a whole number from 1 to 256"},
    {"bench bandwidth --repeat x", "--repeat must be a whole number from 1 to 1000000"},

    /* the default device from the environment is named as such */
    {"=MRG_DEVICE=opencl:x toy-train --steps 1", "MRG_DEVICE=opencl:x: unknown device 'opencl:x'"},
};

/* "@" → tmp, "^" → the golden dataset. */
static void expand(const char *in, const char *tmp, const char *golden, char *out, size_t cap) {
    size_t n = 0;
    for (; *in && n + 1 < cap; in++) {
        const char *sub = *in == '@' ? tmp : *in == '^' ? golden : NULL;
        if (sub) n += (size_t)snprintf(out + n, cap - n, "%s", sub);
        else out[n++] = *in;
        if (n >= cap) n = cap - 1;
    }
    out[n] = 0;
}

static int entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

int main(void) {
    const char *bin = getenv("MRG_BIN");
    if (!bin) {
        fprintf(stderr, "MRG_BIN not set; skipping\n");
        return TEST_SKIP;
    }
    char tmp[] = "/tmp/mrg_test_cli_options_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char work[128], err_path[160], in_path[160], golden[1024];
    snprintf(work, sizeof work, "%s/work", tmp);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmp);
    snprintf(in_path, sizeof in_path, "%s/in.jsonl", tmp);
    snprintf(golden, sizeof golden, "%s", test_golden_path("dataset"));
    CHECK(mkdir(work, 0755) == 0);
    static const char input[] = "{\"id\": \"a\", \"report\": \"no effusion.\"}\n";
    FILE *f = fopen(in_path, "w");
    CHECK(f && fputs(input, f) >= 0);
    if (f) fclose(f);

    static char out[1 << 16];
    char args[2048], want[1024], cmd[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *a = cases[i].args, *env = "";
        char env_buf[128] = "";
        if (a[0] == '=') { /* "=VAR=value args": an environment variable */
            const char *sp = strchr(a, ' ');
            snprintf(env_buf, sizeof env_buf, "%.*s ", (int)(sp - a - 1), a + 1);
            env = env_buf;
            a = sp + 1;
        }
        expand(a, tmp, golden, args, sizeof args);
        expand(cases[i].want, tmp, golden, want, sizeof want);
        snprintf(cmd, sizeof cmd, "cd '%s' && %s'%s' %s 2>'%s'", work, env, bin, args, err_path);
        int rc = test_run_cmd(cmd, out, sizeof out);
        const char *err = slurp(err_path);
        bool ok_rc = rc == 2, ok_msg = err && strstr(err, want) != NULL, ok_out = out[0] == 0,
             ok_files = entries(work) == 0;
        CHECK(ok_rc);
        CHECK(ok_msg);
        CHECK(ok_out);
        CHECK(ok_files);
        if (!ok_rc || !ok_msg || !ok_out || !ok_files)
            fprintf(stderr, "  mrg %s\n    exit %d, stdout \"%.200s\", stderr \"%.300s\", %d files written\n"
                            "    wanted exit 2 and \"%s\" on stderr, nothing else\n",
                    args, rc, out, err ? err : "(none)", entries(work), want);
        if (!ok_files) {
            snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir '%s'", work, work);
            CHECK(system(cmd) == 0);
        }
    }
    /* the refused --per-report left its input as it was, and the refused
     * --vocab wrote no LLaMA */
    const char *now = slurp(in_path);
    CHECK(now && !strcmp(now, input));
    snprintf(cmd, sizeof cmd, "%s/lm", tmp);
    CHECK(access(cmd, F_OK) != 0);

    /* --help: exit 0, on stdout, for every command and bench mode */
    static const char *const helps[] = {"", "info", "tokenize", "eval", "toy-train", "vit", "lm",
                                        "phantoms", "pretrain-lm", "pretrain-vit", "train",
                                        "generate", "demo", "bench", "bench gemm", "bench lm",
                                        "bench step", "bench vit", "bench bandwidth"};
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s --help 2>'%s'", work, bin, helps[i], err_path);
        int rc = test_run_cmd(cmd, out, sizeof out);
        const char *err = slurp(err_path);
        CHECK(rc == 0 && strstr(out, "usage: mrg") != NULL && err && !err[0]);
        if (rc != 0 || !strstr(out, "usage: mrg")) fprintf(stderr, "  mrg %s --help: exit %d\n", helps[i], rc);
    }
    CHECK(entries(work) == 0);

    /* good values are taken, in both forms (and 0 where 0 is in range) */
    snprintf(cmd, sizeof cmd, "'%s' phantoms --out=%s/ok --n=3 --size 48 --seed=0 2>&1", bin, tmp);
    CHECK(test_run_cmd(cmd, out, sizeof out) == 0 && strstr(out, "wrote 3 studies") != NULL);
    snprintf(cmd, sizeof cmd, "%s/ok/annotation.json", tmp);
    CHECK(access(cmd, F_OK) == 0);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    return test_finish("cli_options");
}
