/* Shared helpers of the fuzz harnesses; see fuzz_common.h. */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/files.h"
#include "mrg/tokenizer.h"

#ifndef MRG_FUZZ_GOLDEN
#error "MRG_FUZZ_GOLDEN (the tests/golden directory) must be defined by the build"
#endif

static char tmpdir[512];

static void remove_tmpdir(void) {
    if (!tmpdir[0]) return;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
}

const char *fuzz_tmpdir(void) {
    if (tmpdir[0]) return tmpdir;
    const char *base = getenv("MRG_FUZZ_TMP");
    struct stat sb;
    if (!base && stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK) == 0)
        base = "/dev/shm";
    if (!base) base = getenv("TMPDIR");
    if (!base) base = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/mrg-fuzz-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(remove_tmpdir);
    return tmpdir;
}

const char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", fuzz_tmpdir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            perror(path);
            abort();
        }
        done += (size_t)w;
    }
    close(fd);
    return path;
}

const char *fuzz_golden(const char *rel) {
    static char path[1024];
    const char *dir = getenv("MRG_TEST_DATA");
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : MRG_FUZZ_GOLDEN, rel);
    return path;
}

void fuzz_copy_golden(const char *rel, const char *name) {
    const char *src = fuzz_golden(rel);
    char *buf;
    size_t n;
    if (mrg_read_file(src, SIZE_MAX, NULL, &buf, &n) != MRG_OK) {
        fprintf(stderr, "fuzz: %s\n", mrg_last_error());
        abort();
    }
    fuzz_write(name, (const uint8_t *)buf, n);
    free(buf);
}

char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = 0;
    return s;
}

static struct mrg_tokenizer *golden_tok;

static void free_golden_tok(void) { mrg_tokenizer_free(golden_tok); }

struct mrg_tokenizer *fuzz_golden_tokenizer(void) {
    if (golden_tok) return golden_tok;
    golden_tok = mrg_tokenizer_load(fuzz_golden("model/lm/tokenizer.model"));
    if (!golden_tok) {
        fprintf(stderr, "fuzz: %s\n", mrg_last_error());
        abort();
    }
    atexit(free_golden_tok);
    return golden_tok;
}

static mrg_device *cpu;

static void close_cpu(void) {
    mrg_device_free(cpu);
    cpu = NULL;
}

mrg_device *fuzz_cpu(void) {
    if (cpu) return cpu;
    cpu = mrg_device_open("cpu");
    if (!cpu) {
        fprintf(stderr, "fuzz: cannot open the CPU device: %s\n", mrg_last_error());
        abort();
    }
    atexit(close_cpu);
    return cpu;
}

void fuzz_expect_message(mrg_status st, const char *what) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("MRG_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "%s: %s%s%s\n", what, mrg_status_name(st),
                         st != MRG_OK ? ": " : "", st != MRG_OK ? mrg_last_error() : "");
    if (st == MRG_OK || st == MRG_END || mrg_last_error()[0]) return;
    fprintf(stderr, "fuzz: %s failed (%s) without a message\n", what, mrg_status_name(st));
    abort();
}
