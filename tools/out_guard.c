/* Output checks and the phantoms output of the subcommands (out_guard.h). */
#include "out_guard.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>


int out_dir_guard(const char *cmd, const char *out, bool force, const mrg_named_path *inputs, int n) {
    if (mrg_output_dir_check(cmd, out, force, inputs, n, NULL) == MRG_OK) return 0;
    fprintf(stderr, "mrg %s\n", mrg_last_error()); /* the message starts with "<cmd>: " */
    return 2;
}

int out_file_guard(const char *cmd, const char *path, bool force, bool (*ours)(const char *path),
                   const mrg_named_path *inputs, int n) {
    if (mrg_output_file_check(cmd, path, force, ours, inputs, n) == MRG_OK) return 0;
    fprintf(stderr, "mrg %s\n", mrg_last_error());
    return 2;
}

bool out_jsonl_has(const char *path, const char *key, const char *key2) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char line[1 << 16];
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    cJSON *o = ok ? cJSON_Parse(line) : NULL;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *b = cJSON_GetObjectItemCaseSensitive(o, key2);
    ok = cJSON_IsObject(o) && cJSON_IsString(a) && (cJSON_IsString(b) || cJSON_IsObject(b));
    cJSON_Delete(o);
    return ok;
}

mrg_status out_phantoms(const char *out, int n, uint64_t seed, int size, mrg_phantom_summary *sum) {
    char tmp[4200];
    mrg_status st = mrg_output_begin(out, tmp, sizeof tmp);
    if (st) return st;
    return mrg_output_finish(tmp, out, "phantoms", mrg_phantoms_write(tmp, n, seed, size, sum));
}
