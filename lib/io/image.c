/* Host images: loading through stb_image (lib/io/stb_impl.c) or, for
 * DICOM, DCMTK (lib/io/dicom_read.cc), bilinear resize matching PyTorch,
 * normalisation, PNG writing. See mrg/image.h. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* as in lib/io/stb_impl.c, which compiles the implementation */
#define STBI_NO_STDIO
#define STBI_WRITE_NO_STDIO
#include <stb_image.h>
#include <stb_image_write.h>

#include "core/files.h"
#include "io/dicom.h"
#include "mrg/image.h"
#include "mrg/limits.h"

mrg_status mrg_image_alloc(mrg_image *img, int channels, int height, int width) {
    if (!img) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_image_alloc: image is NULL");
    img->data = NULL;
    img->channels = img->height = img->width = 0;
    if (channels <= 0 || height <= 0 || width <= 0 || channels > 4 || height > (1 << 20) ||
        width > (1 << 20))
        return mrg_error(MRG_ERR_INVALID_ARG, "bad image size (%d, %d, %d)", channels, height,
                         width);
    size_t n = (size_t)channels * (size_t)height * (size_t)width;
    img->data = calloc(n, sizeof(float));
    if (!img->data)
        return mrg_error(MRG_ERR_OOM, "out of memory for a (%d, %d, %d) image", channels, height,
                         width);
    img->channels = channels;
    img->height = height;
    img->width = width;
    return MRG_OK;
}

void mrg_image_free(mrg_image *img) {
    if (!img) return;
    free(img->data);
    img->data = NULL;
    img->channels = img->height = img->width = 0;
}

/* Reads a whole image file; MRG_OK with *buf malloc'd. */
static mrg_status read_file(const char *path, unsigned char **buf, size_t *len) {
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return mrg_error(MRG_ERR_IO, "image %s is not a regular file", path);
    char *b;
    mrg_status st = mrg_read_file(path, (size_t)MRG_MAX_IMAGE_FILE_BYTES,
                                  "MRG_MAX_IMAGE_FILE_BYTES", &b, len);
    if (st != MRG_OK) return mrg_error_context(st, "image");
    if (*len == 0) {
        free(b);
        return mrg_error(MRG_ERR_FORMAT, "image %s is empty", path);
    }
    *buf = (unsigned char *)b;
    return MRG_OK;
}

/* stb_image 2.27 (Debian's libstb) trusts two things in a JPEG that it
 * must not (both fixed upstream in 2.28): the symbol counts of a Huffman
 * table (DHT), whose sum past 256 overflows its tables, and that a scan
 * (SOS) only names Huffman tables defined before it: an undefined one is
 * uninitialised memory, and decoding with it reads outside the tables.
 * Walk every marker segment, inside and between scans, and refuse such
 * files before stb sees them. */
static bool jpeg_tables_sane(const uint8_t *p, size_t n) {
    if (n < 2 || p[0] != 0xFF || p[1] != 0xD8) return true; /* not a JPEG */
    unsigned defined = 0; /* bit 4·class + id: DC 0-3, AC 4-7 */
    bool progressive = false;
    size_t i = 2;
    while (i + 1 < n) {
        if (p[i] != 0xFF) { /* entropy-coded data: find the next marker */
            i++;
            continue;
        }
        uint8_t m = p[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) { /* stuffing, RSTn, TEM */
            i += 2;
            continue;
        }
        if (m == 0xD9) return true; /* EOI */
        if (i + 4 > n) return true; /* truncated: stb reports it */
        size_t len = ((size_t)p[i + 2] << 8) | p[i + 3];
        if (len < 2) return false;
        size_t body = i + 4, end = i + 2 + len;
        if (end > n) end = n;
        if (m == 0xC2) progressive = true; /* SOF2; stb reads the first SOF */
        if (m == 0xC4) {
            for (size_t k = body; k < end;) {
                if (k + 17 > end) return false;
                size_t count = 0;
                for (int j = 1; j <= 16; j++) count += p[k + (size_t)j];
                if (count > 256) return false;
                unsigned cls = p[k] >> 4, id = p[k] & 15;
                if (cls <= 1 && id <= 3) defined |= 1u << (4 * cls + id);
                k += 17 + count;
            }
        }
        if (m == 0xDA && body < end) {
            /* Ns, Ns × (component, DC table << 4 | AC table), Ss, Se, Ah << 4 | Al */
            size_t ns = p[body];
            if (body + 1 + 2 * ns + 3 > end) return true; /* stb reports a bad SOS */
            uint8_t ss = p[body + 1 + 2 * ns], se = p[body + 2 + 2 * ns];
            uint8_t ah = p[body + 3 + 2 * ns] >> 4;
            /* what stb decodes with Huffman codes: DC unless this is a
             * progressive refinement or AC-only scan; AC in every baseline
             * scan (stb forces Se = 63 there) and progressive AC scans */
            bool need_dc = ss == 0 && ah == 0, need_ac = !progressive || ss > 0 || se > 0;
            for (size_t c = 0; c < ns; c++) {
                unsigned dc = p[body + 2 + 2 * c] >> 4, ac = p[body + 2 + 2 * c] & 15;
                if (need_dc && dc <= 3 && !(defined & (1u << dc))) return false;
                if (need_ac && ac <= 3 && !(defined & (1u << (4 + ac)))) return false;
            }
        }
        i = i + 2 + len;
    }
    return true;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The size a PNG (IHDR) or JPEG (first SOFn segment) header states, read
 * before anything is decoded. Returns 'p' or 'j' with *w, *h set (a JPEG
 * height of 0, defined later by a DNL marker, is left to stb), 'j' with
 * w = h = 0 when a JPEG has no frame header in the data, or 0 when the
 * data is neither. */
static char header_size(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    *w = *h = 0;
    if (n >= 8 && memcmp(p, png_sig, 8) == 0) {
        if (n >= 24 && memcmp(p + 12, "IHDR", 4) == 0) {
            *w = be32(p + 16);
            *h = be32(p + 20);
        }
        return 'p';
    }
    if (n < 3 || p[0] != 0xFF || p[1] != 0xD8 || p[2] != 0xFF) return 0;
    for (size_t i = 2; i + 4 <= n;) {
        if (p[i] != 0xFF) return 'j'; /* entropy-coded data before a frame: stb says */
        uint8_t m = p[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { /* no length */
            i += 2;
            continue;
        }
        size_t len = (size_t)p[i + 2] << 8 | p[i + 3];
        bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof) {
            if (i + 9 <= n) {
                *h = (uint32_t)p[i + 5] << 8 | p[i + 6];
                *w = (uint32_t)p[i + 7] << 8 | p[i + 8];
            }
            return 'j';
        }
        if (len < 2) return 'j';
        i += 2 + len;
    }
    return 'j';
}

bool mrg_image_reads_dicom(void) {
#ifdef MRG_HAVE_DICOM
    return true;
#else
    return false;
#endif
}

/* A name ending in .dcm or .dicom: DICOM files written without the Part 10
 * preamble (a bare data set) have no signature to recognise. */
static bool dicom_name(const char *name) {
    size_t n = strlen(name);
    return (n >= 4 && !strcasecmp(name + n - 4, ".dcm")) ||
           (n >= 6 && !strcasecmp(name + n - 6, ".dicom"));
}

#ifdef MRG_HAVE_DICOM
/* One line per multi-frame file on stderr, the first few only: a data set
 * of such files is read again every epoch. */
static void warn_first_frame(const char *name, int frames) {
    enum { SHOWN = 5 };
    static atomic_int warned;
    int k = atomic_fetch_add(&warned, 1);
    if (k < SHOWN)
        fprintf(stderr, "mrg: warning: %s has %d frames; only the first is used%s\n", name,
                frames, k == SHOWN - 1 ? " (further such warnings are not shown)" : "");
}
#endif

/* DICOM → (3, H, W) in [0, 1], the gray plane replicated like a gray PNG's. */
static mrg_status decode_dicom(const unsigned char *file, size_t len, const char *name,
                               mrg_image *out) {
#ifdef MRG_HAVE_DICOM
    mrg_dicom_frame f;
    mrg_status st = mrg_dicom_read(file, len, name, &f);
    if (st == MRG_OK && (st = mrg_image_alloc(out, 3, f.rows, f.cols)) != MRG_OK)
        st = mrg_error_context(st, "decoding %s", name);
    if (st == MRG_OK) {
        const size_t plane = (size_t)f.rows * (size_t)f.cols;
        mrg_dicom_render(&f, out->data);
        memcpy(out->data + plane, out->data, plane * sizeof(float));
        memcpy(out->data + 2 * plane, out->data, plane * sizeof(float));
        if (f.frames > 1) warn_first_frame(name, f.frames);
    }
    mrg_dicom_frame_free(&f);
    return st;
#else
    (void)file, (void)len, (void)out;
    return mrg_error(MRG_ERR_UNSUPPORTED,
                     "%s: a DICOM file, but this mrg was built without DICOM support (install "
                     "DCMTK, Debian's libdcmtk-dev, and configure again with -DMRG_DICOM=ON)",
                     name);
#endif
}

/* stb_image grows its buffer to a PNG chunk's claimed length before it
 * reads the chunk, so a few bytes claiming a 2 GiB IDAT allocate 2 GiB.
 * Refuse chunks that run past the end of the file before stb sees them. */
static bool png_chunks_sane(const uint8_t *p, size_t n) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (n < 8 || memcmp(p, sig, 8)) return true; /* not a PNG */
    size_t i = 8;
    while (i + 8 <= n) {
        size_t len = be32(p + i);
        if (len > n - i - 8 || n - i - 8 - len < 4) return false; /* data + CRC past the end */
        if (!memcmp(p + i + 4, "IEND", 4)) return true;
        i += 12 + len;
    }
    return true; /* no IEND: stb reports what is missing */
}

/* stb's reason for a failure; some of its paths fail without one */
static const char *stb_reason(void) {
    const char *r = stbi_failure_reason();
    return r && *r ? r : "corrupt or truncated data";
}

mrg_status mrg_image_decode(const void *data, size_t len, const char *name, mrg_image *out) {
    if (!out) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_image_decode: NULL argument");
    out->data = NULL;
    out->channels = out->height = out->width = 0;
    if (!name) name = "image";
    if (!data || len == 0) return mrg_error(MRG_ERR_FORMAT, "%s: empty image", name);
    if (len > (size_t)INT32_MAX) return mrg_error(MRG_ERR_FORMAT, "%s: image too large", name);
    const unsigned char *file = data;
    int w, h, comp;
    if (!jpeg_tables_sane(file, len))
        return mrg_error(MRG_ERR_FORMAT, "%s: corrupt JPEG (bad or undefined Huffman table)", name);
    /* the stated size is checked before stb allocates anything for it */
    uint32_t hw, hh;
    char kind = header_size(file, len, &hw, &hh);
    if (!kind) {
        if (mrg_dicom_sniff(file, len) || dicom_name(name))
            return decode_dicom(file, len, name, out);
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: not a PNG or JPEG file (the first bytes are neither signature), nor "
                         "DICOM (no \"DICM\" at byte 128)",
                         name);
    }
    if (hw > MRG_MAX_IMAGE_SIDE || hh > MRG_MAX_IMAGE_SIDE ||
        (long long)hw * (long long)hh > MRG_MAX_IMAGE_PIXELS)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: the %s header states %u x %u pixels; the limits are %d per side and "
                         "%lld pixels in all (MRG_MAX_IMAGE_SIDE, MRG_MAX_IMAGE_PIXELS)",
                         name, kind == 'p' ? "PNG" : "JPEG", hw, hh, MRG_MAX_IMAGE_SIDE,
                         MRG_MAX_IMAGE_PIXELS);
    if (!png_chunks_sane(file, len))
        return mrg_error(MRG_ERR_FORMAT, "%s: truncated or corrupt PNG (a chunk runs past the end)",
                         name);
    if (!stbi_info_from_memory(file, (int)len, &w, &h, &comp))
        return mrg_error(MRG_ERR_FORMAT, "%s: not a readable PNG or JPEG image (%s)", name,
                         stb_reason());
    /* and the size stb itself read, which can differ: stb skips stray bytes
     * between JPEG segments to find a frame header that the check above,
     * stopping at the first of them, never saw (found by fuzzing: 11451 x
     * 11032 pixels behind junk after the APP0 segment) */
    if (w > MRG_MAX_IMAGE_SIDE || h > MRG_MAX_IMAGE_SIDE || (long long)w * (long long)h > MRG_MAX_IMAGE_PIXELS)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: the %s header states %d x %d pixels; the limits are %d per side and "
                         "%lld pixels in all (MRG_MAX_IMAGE_SIDE, MRG_MAX_IMAGE_PIXELS)",
                         name, kind == 'p' ? "PNG" : "JPEG", w, h, MRG_MAX_IMAGE_SIDE, MRG_MAX_IMAGE_PIXELS);
    bool sixteen = stbi_is_16_bit_from_memory(file, (int)len);
    void *pix = sixteen ? (void *)stbi_load_16_from_memory(file, (int)len, &w, &h, &comp, 0)
                        : (void *)stbi_load_from_memory(file, (int)len, &w, &h, &comp, 0);
    if (!pix)
        return mrg_error(MRG_ERR_FORMAT, "%s: cannot decode image (%s)", name, stb_reason());
    mrg_status st;
    if (comp < 1 || comp > 4) {
        stbi_image_free(pix);
        return mrg_error(MRG_ERR_FORMAT, "%s: unsupported channel count %d", name, comp);
    }
    if ((st = mrg_image_alloc(out, 3, h, w)) != MRG_OK) {
        stbi_image_free(pix);
        return mrg_error_context(st, "decoding %s", name);
    }
    /* Interleaved (H, W, comp) → planar (3, H, W). Gray (+alpha) feeds all
     * three planes; alpha is ignored. Division (not multiplication by the
     * reciprocal) so values equal numpy's uint8 / 255 in float32 exactly. */
    const size_t plane = (size_t)h * (size_t)w;
    const uint8_t *p8 = pix;
    const uint16_t *p16 = pix;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) {
            size_t k = i * (size_t)comp + (size_t)(comp >= 3 ? c : 0);
            out->data[(size_t)c * plane + i] =
                sixteen ? (float)p16[k] / 65535.0f : (float)p8[k] / 255.0f;
        }
    stbi_image_free(pix);
    return MRG_OK;
}

mrg_status mrg_image_load(const char *path, mrg_image *out) {
    if (!path || !out) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_image_load: NULL argument");
    out->data = NULL;
    out->channels = out->height = out->width = 0;
    unsigned char *file = NULL;
    size_t len = 0;
    mrg_status st = read_file(path, &file, &len);
    if (st != MRG_OK) return st;
    st = mrg_image_decode(file, len, path, out);
    free(file);
    return st;
}

/* Source index and weight along one axis, as PyTorch's
 * area_pixel_compute_source_index (align_corners=False) computes them, in
 * float: src = scale·(dst + 0.5) − 0.5, clamped at 0. */
static void axis_weights(int in, int out, int *i0, int *i1, float *l1) {
    const float scale = (float)in / (float)out;
    for (int d = 0; d < out; d++) {
        float src = scale * ((float)d + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int a = (int)src; /* floor: src ≥ 0 */
        if (a > in - 1) a = in - 1;
        float l = src - (float)a;
        if (l < 0) l = 0;
        if (l > 1) l = 1;
        i0[d] = a;
        i1[d] = a < in - 1 ? a + 1 : a;
        l1[d] = l;
    }
}

mrg_status mrg_image_resize(const mrg_image *in, int height, int width, mrg_image *out) {
    if (!in || !out || !in->data || in == out)
        return mrg_error(MRG_ERR_INVALID_ARG, "mrg_image_resize: bad argument");
    mrg_status st = mrg_image_alloc(out, in->channels, height, width);
    if (st != MRG_OK) return st;
    int *yi = malloc(sizeof(int) * 2 * (size_t)height),
        *xi = malloc(sizeof(int) * 2 * (size_t)width);
    float *yl = malloc(sizeof(float) * (size_t)height), *xl = malloc(sizeof(float) * (size_t)width);
    if (!yi || !xi || !yl || !xl) {
        free(yi), free(xi), free(yl), free(xl);
        mrg_image_free(out);
        return mrg_error(MRG_ERR_OOM, "out of memory resizing an image");
    }
    axis_weights(in->height, height, yi, yi + height, yl);
    axis_weights(in->width, width, xi, xi + width, xl);
    const size_t ip = (size_t)in->height * (size_t)in->width, op = (size_t)height * (size_t)width;
    for (int c = 0; c < in->channels; c++) {
        const float *src = in->data + (size_t)c * ip;
        float *dst = out->data + (size_t)c * op;
        for (int y = 0; y < height; y++) {
            const float *r0 = src + (size_t)yi[y] * (size_t)in->width;
            const float *r1 = src + (size_t)yi[height + y] * (size_t)in->width;
            const float h1 = yl[y], h0 = 1.0f - h1;
            for (int x = 0; x < width; x++) {
                const int a = xi[x], b = xi[width + x];
                const float w1 = xl[x], w0 = 1.0f - w1;
                dst[(size_t)y * (size_t)width + (size_t)x] =
                    h0 * (w0 * r0[a] + w1 * r0[b]) + h1 * (w0 * r1[a] + w1 * r1[b]);
            }
        }
    }
    free(yi), free(xi), free(yl), free(xl);
    return MRG_OK;
}

mrg_status mrg_image_normalize(mrg_image *img, const float *mean, const float *std) {
    if (!img || !img->data || !mean || !std)
        return mrg_error(MRG_ERR_INVALID_ARG, "mrg_image_normalize: NULL argument");
    for (int c = 0; c < img->channels; c++)
        if (!(std[c] > 0))
            return mrg_error(MRG_ERR_INVALID_ARG,
                             "image normalisation: std[%d] = %g is not positive", c,
                             (double)std[c]);
    const size_t plane = (size_t)img->height * (size_t)img->width;
    for (int c = 0; c < img->channels; c++) {
        float *p = img->data + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++) p[i] = (p[i] - mean[c]) / std[c];
    }
    return MRG_OK;
}

mrg_status mrg_image_load_for_model(const char *path, int height, int width, const float *mean,
                                    const float *std, mrg_image *out) {
    if (!out) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_image_load_for_model: NULL argument");
    mrg_image raw;
    mrg_status st = mrg_image_load(path, &raw);
    if (st != MRG_OK) return st;
    if (raw.height == height && raw.width == width) {
        *out = raw;
    } else {
        st = mrg_image_resize(&raw, height, width, out);
        mrg_image_free(&raw);
        if (st != MRG_OK) return mrg_error_context(st, "resizing %s", path);
    }
    if (mean && std && (st = mrg_image_normalize(out, mean, std)) != MRG_OK) {
        mrg_image_free(out);
        return st;
    }
    return MRG_OK;
}

/* ---- PNG writing ----------------------------------------------------------- */

/* stbi's output callback: appends to the atomic file (a failed write sets
 * the stream's error flag, which the commit reports). */
static void file_write(void *ctx, void *data, int size) {
    if (size > 0) (void)fwrite(data, 1, (size_t)size, ctx);
}

mrg_status mrg_image_save_png(const char *path, const mrg_image *img) {
    if (!path || !img || !img->data)
        return mrg_error(MRG_ERR_INVALID_ARG, "mrg_image_save_png: NULL argument");
    if (img->channels != 1 && img->channels != 3)
        return mrg_error(MRG_ERR_INVALID_ARG, "PNG output needs 1 or 3 channels, not %d",
                         img->channels);
    const int c = img->channels, h = img->height, w = img->width;
    const size_t plane = (size_t)h * (size_t)w;
    unsigned char *pix = malloc(plane * (size_t)c);
    if (!pix) return mrg_error(MRG_ERR_OOM, "out of memory writing %s", path);
    for (size_t i = 0; i < plane; i++)
        for (int k = 0; k < c; k++) {
            float v = img->data[(size_t)k * plane + i];
            v = v != v ? 0.0f : v < 0 ? 0.0f : v > 1 ? 1.0f : v; /* NaN → 0 */
            pix[i * (size_t)c + (size_t)k] = (unsigned char)(v * 255.0f + 0.5f);
        }
    mrg_atomic_file af;
    mrg_status st = mrg_atomic_begin(&af, path, false);
    if (st == MRG_OK) {
        if (stbi_write_png_to_func(file_write, af.f, w, h, c, pix, w * c)) {
            st = mrg_atomic_commit(&af);
        } else {
            mrg_atomic_abort(&af);
            st = mrg_error(MRG_ERR_OOM, "cannot encode PNG %s", path);
        }
    }
    free(pix);
    return st;
}
