// C interface over libsentencepiece (see mrg/tokenizer.h). The only C++ file
// of the library's text side: every entry point catches exceptions and turns
// them into mrg_status / NULL, so nothing C++ leaks through the C ABI.
#include "mrg/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

struct mrg_tokenizer {
    sentencepiece::SentencePieceProcessor sp;
    std::string path;
};

namespace {

bool valid_id(const mrg_tokenizer *tok, int32_t id) {
    return tok && id >= 0 && id < tok->sp.GetPieceSize();
}

char *dup_c(const std::string &s) {
    char *d = static_cast<char *>(std::malloc(s.size() + 1));
    if (d) std::memcpy(d, s.c_str(), s.size() + 1);
    return d;
}

// "<0xHH>" → byte value.
bool parse_byte_piece(const std::string &p, uint8_t *out) {
    if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return false;
    unsigned v = 0;
    for (int i = 3; i < 5; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= unsigned(c - '0');
        else if (c >= 'A' && c <= 'F')
            v |= unsigned(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f')
            v |= unsigned(c - 'a' + 10);
        else
            return false;
    }
    *out = uint8_t(v);
    return true;
}

}  // namespace

extern "C" {

mrg_tokenizer *mrg_tokenizer_load(const char *path) {
    if (!path) {
        mrg_error(MRG_ERR_INVALID_ARG, "mrg_tokenizer_load: path is NULL");
        return nullptr;
    }
    try {
        // sentencepiece reports a missing file and a broken one alike as a
        // status; check existence first so the two get different codes.
        FILE *fp = std::fopen(path, "rb");
        if (!fp) {
            mrg_error(errno == ENOENT ? MRG_ERR_NOT_FOUND : MRG_ERR_IO,
                      "cannot open tokenizer %s: %s", path, std::strerror(errno));
            return nullptr;
        }
        std::fclose(fp);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) { // fopen opens a directory too
            mrg_error(MRG_ERR_FORMAT, "%s is a directory, not a sentencepiece model file", path);
            return nullptr;
        }
        // owned until it is handed out: sentencepiece may throw from Load
        std::unique_ptr<mrg_tokenizer> tok(new mrg_tokenizer);
        tok->path = path;
        auto st = tok->sp.Load(path);
        if (!st.ok() || tok->sp.GetPieceSize() <= 0) {
            mrg_error(MRG_ERR_FORMAT, "%s: not a valid sentencepiece model (%s)", path,
                      st.ok() ? "empty vocabulary" : st.ToString().c_str());
            return nullptr;
        }
        return tok.release();
    } catch (const std::bad_alloc &) {
        mrg_error(MRG_ERR_OOM, "out of memory loading tokenizer %s", path);
    } catch (const std::exception &e) {
        mrg_error(MRG_ERR_FORMAT, "%s: cannot load tokenizer: %s", path, e.what());
    }
    return nullptr;
}

void mrg_tokenizer_free(mrg_tokenizer *tok) { delete tok; }

int mrg_tokenizer_vocab_size(const mrg_tokenizer *tok) { return tok ? tok->sp.GetPieceSize() : 0; }
int32_t mrg_tokenizer_bos(const mrg_tokenizer *tok) { return tok ? tok->sp.bos_id() : -1; }
int32_t mrg_tokenizer_eos(const mrg_tokenizer *tok) { return tok ? tok->sp.eos_id() : -1; }
int32_t mrg_tokenizer_unk(const mrg_tokenizer *tok) { return tok ? tok->sp.unk_id() : -1; }
int32_t mrg_tokenizer_pad(const mrg_tokenizer *tok) { return tok ? tok->sp.pad_id() : -1; }

mrg_status mrg_tokenizer_encode(const mrg_tokenizer *tok, const char *text, bool add_bos,
                                int32_t **ids, int *n) {
    if (!tok || !text || !ids || !n)
        return mrg_error(MRG_ERR_INVALID_ARG, "mrg_tokenizer_encode: NULL argument");
    *ids = nullptr;
    *n = 0;
    try {
        std::vector<int> v;
        auto st = tok->sp.Encode(text, &v);
        if (!st.ok())
            return mrg_error(MRG_ERR_INVALID_ARG, "%s: cannot encode text: %s", tok->path.c_str(),
                             st.ToString().c_str());
        bool bos = add_bos && tok->sp.bos_id() >= 0;
        size_t count = v.size() + (bos ? 1 : 0);
        if (count > size_t(INT32_MAX))
            return mrg_error(MRG_ERR_INVALID_ARG, "text too long to encode");
        auto *out = static_cast<int32_t *>(std::malloc(sizeof(int32_t) * (count ? count : 1)));
        if (!out) return mrg_error(MRG_ERR_OOM, "out of memory encoding text");
        size_t k = 0;
        if (bos) out[k++] = tok->sp.bos_id();
        for (int id : v) out[k++] = id;
        *ids = out;
        *n = int(count);
        return MRG_OK;
    } catch (const std::bad_alloc &) {
        return mrg_error(MRG_ERR_OOM, "out of memory encoding text");
    } catch (const std::exception &e) {
        return mrg_error(MRG_ERR_INVALID_ARG, "cannot encode text: %s", e.what());
    }
}

char *mrg_tokenizer_decode(const mrg_tokenizer *tok, const int32_t *ids, int n) {
    if (!tok || (n > 0 && !ids) || n < 0) {
        mrg_error(MRG_ERR_INVALID_ARG, "mrg_tokenizer_decode: bad argument");
        return nullptr;
    }
    try {
        std::vector<int> v(ids, ids + n);
        for (int i = 0; i < n; i++)
            if (!valid_id(tok, ids[i])) {
                mrg_error(MRG_ERR_INVALID_ARG, "token id %d out of range (vocabulary of %d)",
                          int(ids[i]), tok->sp.GetPieceSize());
                return nullptr;
            }
        std::string text;
        auto st = tok->sp.Decode(v, &text);
        if (!st.ok()) {
            mrg_error(MRG_ERR_INVALID_ARG, "cannot decode ids: %s", st.ToString().c_str());
            return nullptr;
        }
        char *out = dup_c(text);
        if (!out) mrg_error(MRG_ERR_OOM, "out of memory decoding ids");
        return out;
    } catch (const std::bad_alloc &) {
        mrg_error(MRG_ERR_OOM, "out of memory decoding ids");
    } catch (const std::exception &e) {
        mrg_error(MRG_ERR_INVALID_ARG, "cannot decode ids: %s", e.what());
    }
    return nullptr;
}

const char *mrg_tokenizer_piece(const mrg_tokenizer *tok, int32_t id) {
    if (!valid_id(tok, id)) return nullptr;
    // IdToPiece returns a reference into the model, stable while tok lives.
    return tok->sp.IdToPiece(id).c_str();
}

int32_t mrg_tokenizer_piece_id(const mrg_tokenizer *tok, const char *piece) {
    if (!tok || !piece) return -1;
    try {
        int id = tok->sp.PieceToId(piece);
        // sentencepiece maps every unknown piece to unk_id; tell them apart.
        if (id == tok->sp.unk_id() && tok->sp.IdToPiece(id) != piece) return -1;
        return id;
    } catch (...) {
        return -1;
    }
}

bool mrg_tokenizer_is_byte(const mrg_tokenizer *tok, int32_t id, uint8_t *byte) {
    if (!valid_id(tok, id) || !tok->sp.IsByte(id)) return false;
    uint8_t b;
    if (!parse_byte_piece(tok->sp.IdToPiece(id), &b)) return false;
    if (byte) *byte = b;
    return true;
}

bool mrg_tokenizer_is_control(const mrg_tokenizer *tok, int32_t id) {
    return valid_id(tok, id) && tok->sp.IsControl(id);
}

size_t mrg_tokenizer_token_text(const mrg_tokenizer *tok, int32_t id, char *buf, size_t cap) {
    if (!buf || cap == 0) return 0;
    buf[0] = 0;
    if (!valid_id(tok, id) || tok->sp.IsControl(id)) return 0;
    uint8_t b;
    if (mrg_tokenizer_is_byte(tok, id, &b)) {
        if (cap < 2) return 0;
        buf[0] = char(b);
        buf[1] = 0;
        return 1;
    }
    // Unknown tokens print as sentencepiece decodes them (" ⁇ ").
    const std::string &p =
        tok->sp.IsUnknown(id) ? std::string(" \xE2\x81\x87 ") : tok->sp.IdToPiece(id);
    static const char kSpace[] = "\xE2\x96\x81";  // U+2581 "▁"
    size_t k = 0;
    for (size_t i = 0; i < p.size();) {
        const char *c = p.c_str() + i;
        size_t step = std::strncmp(c, kSpace, 3) == 0 ? 3 : 1;
        char out = step == 3 ? ' ' : *c;
        if (k + 1 >= cap) break;
        buf[k++] = out;
        i += step;
    }
    buf[k] = 0;
    return k;
}

}  // extern "C"
