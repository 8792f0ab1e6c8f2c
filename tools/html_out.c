/* HTML output helpers (see html_out.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "html_out.h"

void html_escape_n(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; s && i < n && s[i]; i++) {
        switch (s[i]) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(s[i], f);
        }
    }
}

void html_escape(FILE *f, const char *s) {
    if (s) html_escape_n(f, s, strlen(s));
}

static const char *mime_of(const unsigned char *b, size_t n) {
    if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return "image/jpeg";
    if (n >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) return "image/gif";
    return "application/octet-stream";
}

static void base64(FILE *f, const unsigned char *b, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)b[i] << 16;
        if (i + 1 < n) v |= (unsigned)b[i + 1] << 8;
        if (i + 2 < n) v |= b[i + 2];
        char q[4] = {A[v >> 18 & 63], A[v >> 12 & 63], i + 1 < n ? A[v >> 6 & 63] : '=',
                     i + 2 < n ? A[v & 63] : '='};
        fwrite(q, 1, 4, f);
    }
}

mrg_status html_data_uri(FILE *f, const char *path, long max_bytes) {
    FILE *in = fopen(path, "rb");
    if (!in) return mrg_error(MRG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    long size = fseek(in, 0, SEEK_END) == 0 ? ftell(in) : -1;
    if (size < 0 || fseek(in, 0, SEEK_SET) != 0) {
        fclose(in);
        return mrg_error(MRG_ERR_IO, "cannot read %s: not a seekable file", path);
    }
    if (size > max_bytes) {
        fclose(in);
        return mrg_error(MRG_ERR_FORMAT, "%s is larger than %ld bytes: not inlined in the page", path, max_bytes);
    }
    unsigned char *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(in);
        return mrg_error(MRG_ERR_OOM, "out of memory reading %s", path);
    }
    size_t n = fread(buf, 1, (size_t)size, in);
    bool bad = ferror(in) || n != (size_t)size;
    fclose(in);
    mrg_status st = MRG_OK;
    if (bad) {
        st = mrg_error(MRG_ERR_IO, "cannot read %s", path);
    } else {
        fprintf(f, "data:%s;base64,", mime_of(buf, n));
        base64(f, buf, n);
    }
    free(buf);
    return st;
}
