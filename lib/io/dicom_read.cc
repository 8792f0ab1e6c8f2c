// DICOM reading through DCMTK (see lib/io/dicom.h): the only C++ file of
// lib/io, built when CMake finds DCMTK (MRG_DICOM). Every entry point
// catches exceptions and turns them into mrg_status, so nothing C++ leaks
// through the C ABI; DCMTK's own log is silenced (the message comes back
// through mrg_last_error()).
#include "io/dicom.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcdatset.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrma.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"

#include "mrg/limits.h"

namespace {

// ---- an input stream over a buffer, with random access ---------------------
//
// DCMTK's DcmInputBufferStream cannot create a stream factory, so every
// value is loaded (and allocated at its stated length, up to 4 GiB, before
// the bytes are known to exist). With a factory, values longer than
// DCM_MaxReadLength stay in the buffer until asked for, a length past the
// end of the data is an error before anything is allocated, and the pixel
// data is copied once, frame by frame (DcmElement::getPartialValue).

class MemProducer : public DcmProducer {
  public:
    MemProducer(const unsigned char *data, offile_off_t size, offile_off_t pos)
        : data_(data), size_(size), pos_(pos < size ? pos : size) {}
    OFBool good() const override { return status_.good(); }
    OFCondition status() const override { return status_; }
    OFBool eos() override { return pos_ >= size_; }
    offile_off_t avail() override { return size_ - pos_; }
    offile_off_t read(void *buf, offile_off_t n) override {
        if (!status_.good() || !buf || n <= 0) return 0;
        offile_off_t k = n < size_ - pos_ ? n : size_ - pos_;
        std::memcpy(buf, data_ + pos_, static_cast<size_t>(k));
        pos_ += k;
        return k;
    }
    offile_off_t skip(offile_off_t n) override {
        if (!status_.good() || n <= 0) return 0;
        offile_off_t k = n < size_ - pos_ ? n : size_ - pos_;
        pos_ += k;
        return k;
    }
    void putback(offile_off_t n) override {
        if (!status_.good() || n <= 0) return;
        if (n <= pos_)
            pos_ -= n;
        else
            status_ = EC_PutbackFailed;
    }

  private:
    const unsigned char *data_;
    offile_off_t size_, pos_;
    OFCondition status_ = EC_Normal;
};

class MemStream : public DcmInputStream {
  public:
    MemStream(const unsigned char *data, offile_off_t size, offile_off_t pos = 0)
        : DcmInputStream(&producer_), producer_(data, size, pos), data_(data), size_(size),
          start_(pos) {}
    DcmInputStreamFactory *newFactory() const override;

  private:
    MemProducer producer_; // DcmInputStream only keeps its address
    const unsigned char *data_;
    offile_off_t size_, start_;
};

class MemStreamFactory : public DcmInputStreamFactory {
  public:
    MemStreamFactory(const unsigned char *data, offile_off_t size, offile_off_t pos)
        : data_(data), size_(size), pos_(pos) {}
    DcmInputStream *create() const override { return new MemStream(data_, size_, pos_); }
    DcmInputStreamFactory *clone() const override { return new MemStreamFactory(*this); }
    // the closest kind DCMTK names; it is not used to pick behaviour
    DcmInputStreamFactoryType ident() const override { return DFT_DcmInputFileStreamFactory; }

  private:
    const unsigned char *data_;
    offile_off_t size_, pos_;
};

DcmInputStreamFactory *MemStream::newFactory() const {
    // a compression filter (deflated transfer syntax) makes positions in
    // the buffer meaningless: values are then loaded at once
    if (currentProducer() != &producer_) return nullptr;
    return new MemStreamFactory(data_, size_, start_ + tell());
}

// ---- set-up ------------------------------------------------------------------

std::once_flag g_once;

void init_dcmtk() {
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
}

// ---- the size a JPEG or JPEG-LS frame states ------------------------------------
//
// The JPEG decoders allocate for the size in the stream's frame header
// (whole-image buffers for progressive and multi-scan JPEG) before DCMTK
// compares it with Rows and Columns: a mismatch is refused before that.

enum class FrameHeader { none, match, mismatch };

FrameHeader jpeg_frame_header(const Uint8 *p, Uint32 n, unsigned rows, unsigned cols,
                              unsigned *h, unsigned *w) {
    if (n < 4 || p[0] != 0xFF || p[1] != 0xD8) return FrameHeader::none;
    for (Uint32 i = 2; i + 4 <= n;) {
        if (p[i] != 0xFF) return FrameHeader::none; // entropy-coded data first: the decoder says
        const Uint8 m = p[i + 1];
        if (m == 0xFF) { // fill byte
            i++;
            continue;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { // no length
            i += 2;
            continue;
        }
        const Uint32 len = static_cast<Uint32>(p[i + 2]) << 8 | p[i + 3];
        const bool sof = (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) ||
                         m == 0xF7; // SOF55: JPEG-LS
        if (sof) {
            if (i + 9 > n) return FrameHeader::none;
            *h = static_cast<unsigned>(p[i + 5]) << 8 | p[i + 6];
            *w = static_cast<unsigned>(p[i + 7]) << 8 | p[i + 8];
            return *h == rows && *w == cols ? FrameHeader::match : FrameHeader::mismatch;
        }
        if (len < 2) return FrameHeader::none;
        i += 2 + len;
    }
    return FrameHeader::none;
}

// DCMTK 3.6.7's JPEG decoder first walks the fragment's markers for the
// sample precision (DJCodecDecoder::scanJpegDataForBitDepth) and never
// moves past a TEM marker (FF 01): an endless loop. This walks the same way
// and says whether it would reach one before the frame header.
bool dcmtk_jpeg_scan_hangs(const Uint8 *p, Uint32 n) {
    for (Uint32 o = 0; o + 4 < n;) {
        if (p[o] != 0xFF) return false; // DCMTK stops there
        const Uint8 m = p[o + 1];
        const Uint32 len = static_cast<Uint32>(p[o + 2]) << 8 | p[o + 3];
        if (m == 0x01) return true;
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) return false; // SOFn
        if (m == 0xFF)
            o += 1;
        else if ((m >= 0xD0 && m <= 0xD9) || (m >= 0x02 && m <= 0xBF))
            o += 2;
        else if (m >= 0xC4) // DHT, JPG, DAC, SOS..EXP, APPn, JPGn, COM: a length follows
            o += len + 2;
        else
            return false; // FF 00: DCMTK reports an invalid marker
    }
    return false;
}

// DCMTK 3.6.7's RLE decoder trusts the segment offsets of the RLE header
// (PS3.5 G.5): a fragment shorter than the header, or an offset past its
// end, makes it read outside the fragment. Checked here.
mrg_status check_rle_header(const Uint8 *p, Uint32 n, unsigned segments, const char *name) {
    auto u32 = [p](unsigned k) {
        return static_cast<Uint32>(p[4 * k]) | static_cast<Uint32>(p[4 * k + 1]) << 8 |
               static_cast<Uint32>(p[4 * k + 2]) << 16 | static_cast<Uint32>(p[4 * k + 3]) << 24;
    };
    if (n < 64)
        return mrg_error(MRG_ERR_FORMAT, "%s: the RLE fragment has %u bytes, less than its header",
                         name, static_cast<unsigned>(n));
    if (u32(0) != segments)
        return mrg_error(MRG_ERR_FORMAT, "%s: the RLE header has %u segments; the image needs %u",
                         name, static_cast<unsigned>(u32(0)), segments);
    for (unsigned k = 1; k <= segments; k++) {
        Uint32 off = u32(k);
        if (off < 64 || off > n || (k > 1 && off < u32(k - 1)))
            return mrg_error(MRG_ERR_FORMAT,
                             "%s: RLE segment %u starts at byte %u of a %u-byte fragment", name,
                             k, static_cast<unsigned>(off), static_cast<unsigned>(n));
    }
    return MRG_OK;
}

// Checks an encapsulated image's first fragment before DCMTK decodes it:
// the RLE header, or the size a JPEG or JPEG-LS stream states.
mrg_status check_first_fragment(DcmElement *pix, E_TransferSyntax xfer, unsigned rows,
                                unsigned cols, unsigned bytes_per_sample, const char *name) {
    auto *pd = dynamic_cast<DcmPixelData *>(pix);
    DcmPixelSequence *seq = nullptr;
    DcmPixelItem *item = nullptr;
    Uint8 *bytes = nullptr;
    if (!pd || pd->getEncapsulatedRepresentation(xfer, nullptr, seq).bad() || !seq)
        return mrg_error(MRG_ERR_FORMAT, "%s: compressed pixel data without its fragments", name);
    if (seq->card() < 2 || seq->getItem(item, 1).bad() || !item)
        return mrg_error(MRG_ERR_FORMAT, "%s: the compressed pixel data has no frame", name);
    if (item->getLength() > 0 && (item->getUint8Array(bytes).bad() || !bytes))
        return mrg_error(MRG_ERR_FORMAT, "%s: cannot read the first compressed fragment", name);
    const Uint32 n = bytes ? item->getLength() : 0;
    if (xfer == EXS_RLELossless) return check_rle_header(bytes, n, bytes_per_sample, name);
    const bool jpeg_ls = xfer == EXS_JPEGLSLossless || xfer == EXS_JPEGLSLossy;
    if (bytes && !jpeg_ls && dcmtk_jpeg_scan_hangs(bytes, n))
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: the JPEG stream has a TEM marker (FF 01) before its frame header",
                         name);
    unsigned h = 0, w = 0;
    if (bytes && jpeg_frame_header(bytes, n, rows, cols, &h, &w) == FrameHeader::mismatch)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: the compressed frame states %u x %u pixels; the DICOM header says "
                         "%u x %u",
                         name, w, h, cols, rows);
    return MRG_OK;
}

// ---- attributes ----------------------------------------------------------------

std::string xfer_label(E_TransferSyntax xs) {
    DcmXfer x(xs);
    return std::string(x.getXferName()) + " (" + x.getXferID() + ")";
}

mrg_status read_lut(DcmItem *item, bool first_signed, const char *name, const char *what,
                    mrg_dicom_lut *lut) {
    DcmElement *desc = nullptr;
    if (item->findAndGetElement(DCM_LUTDescriptor, desc).bad() || !desc || desc->getVM() < 3)
        return mrg_error(MRG_ERR_FORMAT, "%s: the %s has no LUT Descriptor of three values",
                         name, what);
    int v[3];
    for (unsigned long i = 0; i < 3; i++) {
        Uint16 u = 0;
        Sint16 s = 0;
        if (desc->ident() == EVR_SS && desc->getSint16(s, i).good())
            v[i] = s;
        else if (desc->getUint16(u, i).good())
            v[i] = u;
        else
            return mrg_error(MRG_ERR_FORMAT, "%s: the %s's LUT Descriptor is not US or SS", name,
                             what);
    }
    // entries: 0 means 65536; the first value mapped is US or SS as the
    // input is unsigned or signed, whatever VR the descriptor was given
    int n = static_cast<Uint16>(v[0]) == 0 ? 65536 : static_cast<Uint16>(v[0]);
    int first = first_signed ? static_cast<Sint16>(v[1]) : static_cast<Uint16>(v[1]);
    int bits = v[2];
    if (bits < 8 || bits > 16)
        return mrg_error(MRG_ERR_UNSUPPORTED,
                         "%s: the %s has %d bits per entry; 8 to 16 are supported", name, what,
                         bits);
    const Uint16 *data = nullptr;
    unsigned long count = 0;
    if (item->findAndGetUint16Array(DCM_LUTData, data, &count).bad() || !data)
        return mrg_error(MRG_ERR_FORMAT, "%s: the %s has no LUT Data", name, what);
    if (count < static_cast<unsigned long>(n))
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: the %s's LUT Data has %lu entries; its descriptor says %d", name,
                         what, count, n);
    lut->data = static_cast<uint16_t *>(std::malloc(sizeof(uint16_t) * static_cast<size_t>(n)));
    if (!lut->data) return mrg_error(MRG_ERR_OOM, "%s: out of memory for the %s", name, what);
    std::memcpy(lut->data, data, sizeof(uint16_t) * static_cast<size_t>(n));
    lut->n = n;
    lut->first = first;
    lut->bits = bits;
    return MRG_OK;
}

// A decimal string attribute (first value) that must be finite when present.
mrg_status read_ds(DcmDataset *ds, const DcmTagKey &tag, const char *what, const char *name,
                   bool *present, double *out) {
    Float64 v = 0;
    *present = false;
    if (!ds->tagExistsWithValue(tag)) return MRG_OK;
    if (ds->findAndGetFloat64(tag, v, 0).bad() || !std::isfinite(v))
        return mrg_error(MRG_ERR_FORMAT, "%s: %s is not a number", name, what);
    *present = true;
    *out = v;
    return MRG_OK;
}

mrg_status read_frame(const unsigned char *data, size_t len, const char *name,
                      mrg_dicom_frame *f) {
    std::call_once(g_once, init_dcmtk);
    if (!dcmDataDict.isDictionaryLoaded())
        return mrg_error(MRG_ERR_UNSUPPORTED,
                         "%s: DCMTK's data dictionary is not installed (Debian: libdcmtk17, "
                         "/usr/share/libdcmtk*/dicom.dic; or set DCMDICTPATH)",
                         name);

    MemStream stream(data, static_cast<offile_off_t>(len));
    DcmFileFormat ff;
    ff.transferInit();
    OFCondition cond = ff.read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
    ff.transferEnd();
    if (cond.bad())
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: not a readable DICOM file (truncated or malformed: %s)", name,
                         cond.text());
    DcmDataset *ds = ff.getDataset();
    if (!ds) return mrg_error(MRG_ERR_FORMAT, "%s: not a readable DICOM file (no data set)", name);

    // a transfer syntax UID that DCMTK does not know: it would parse the
    // data set by guessing, so say so instead
    OFString uid;
    DcmMetaInfo *meta = ff.getMetaInfo();
    if (meta && meta->findAndGetOFString(DCM_TransferSyntaxUID, uid).good() && !uid.empty() &&
        DcmXfer(uid.c_str()).getXfer() == EXS_Unknown)
        return mrg_error(MRG_ERR_UNSUPPORTED, "%s: unknown transfer syntax %s", name,
                         uid.c_str());
    const E_TransferSyntax xfer = ds->getOriginalXfer();

    Uint16 rows = 0, cols = 0, spp = 1, alloc = 0, stored = 0, high = 0, repr = 0;
    if (ds->findAndGetUint16(DCM_Rows, rows).bad() ||
        ds->findAndGetUint16(DCM_Columns, cols).bad())
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: a DICOM file without Rows and Columns (not an image?)", name);
    ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
    if (ds->findAndGetUint16(DCM_BitsAllocated, alloc).bad())
        return mrg_error(MRG_ERR_FORMAT, "%s: DICOM image without Bits Allocated", name);
    if (ds->findAndGetUint16(DCM_BitsStored, stored).bad()) stored = alloc;
    if (ds->findAndGetUint16(DCM_HighBit, high).bad()) high = stored ? stored - 1 : 0;
    ds->findAndGetUint16(DCM_PixelRepresentation, repr);
    OFString photo;
    if (ds->findAndGetOFString(DCM_PhotometricInterpretation, photo).bad() || photo.empty())
        photo = "MONOCHROME2"; // ACR-NEMA files may lack it; they are grayscale
    Sint32 frames = 1;
    if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) frames = 1;

    if (!ds->tagExists(DCM_PixelData) &&
        (ds->tagExists(DCM_FloatPixelData) || ds->tagExists(DCM_DoubleFloatPixelData)))
        return mrg_error(MRG_ERR_UNSUPPORTED, "%s: floating-point pixel data is not supported",
                         name);
    if (photo != "MONOCHROME1" && photo != "MONOCHROME2")
        return mrg_error(MRG_ERR_UNSUPPORTED,
                         "%s: photometric interpretation %s (%u samples per pixel); only grayscale "
                         "MONOCHROME1 and MONOCHROME2 images are supported",
                         name, photo.c_str(), spp);
    if (spp != 1)
        return mrg_error(MRG_ERR_FORMAT, "%s: %s with %u samples per pixel (1 expected)", name,
                         photo.c_str(), spp);
    if (alloc != 8 && alloc != 16)
        return mrg_error(MRG_ERR_UNSUPPORTED,
                         "%s: %u bits allocated per pixel; 8 and 16 are supported", name, alloc);
    if (stored < 1 || stored > alloc || high >= alloc || high + 1 < stored)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: inconsistent bits stored %u, high bit %u for %u bits allocated",
                         name, stored, high, alloc);
    if (repr > 1)
        return mrg_error(MRG_ERR_FORMAT, "%s: pixel representation %u (0 or 1 expected)", name,
                         repr);
    if (rows == 0 || cols == 0)
        return mrg_error(MRG_ERR_FORMAT, "%s: an empty image (%u x %u)", name, cols, rows);
    if (rows > MRG_MAX_IMAGE_SIDE || cols > MRG_MAX_IMAGE_SIDE ||
        static_cast<long long>(rows) * cols > MRG_MAX_IMAGE_PIXELS)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: the DICOM header states %u x %u pixels; the limits are %d per side "
                         "and %lld pixels in all (MRG_MAX_IMAGE_SIDE, MRG_MAX_IMAGE_PIXELS)",
                         name, cols, rows, MRG_MAX_IMAGE_SIDE, MRG_MAX_IMAGE_PIXELS);

    f->rows = rows;
    f->cols = cols;
    f->frames = frames;
    f->bits_allocated = alloc;
    f->bits_stored = stored;
    f->high_bit = high;
    f->pixel_signed = repr == 1;
    f->monochrome1 = photo == "MONOCHROME1";

    // modality: a LUT, else rescale slope and intercept
    bool present = false;
    DcmItem *item = nullptr;
    f->slope = 1;
    f->intercept = 0;
    if (ds->findAndGetSequenceItem(DCM_ModalityLUTSequence, item, 0).good() && item) {
        MRG_TRY(read_lut(item, f->pixel_signed, name, "modality LUT", &f->modality_lut));
    } else {
        double v;
        MRG_TRY(read_ds(ds, DCM_RescaleSlope, "Rescale Slope", name, &present, &v));
        if (present) f->slope = v;
        MRG_TRY(read_ds(ds, DCM_RescaleIntercept, "Rescale Intercept", name, &present, &v));
        if (present) f->intercept = v;
    }
    // VOI: a LUT, else the first window, else min–max (dicom_render.c)
    item = nullptr;
    if (ds->findAndGetSequenceItem(DCM_VOILUTSequence, item, 0).good() && item) {
        // the input is the modality output: signed when it can be negative
        bool signed_in = f->modality_lut.n ? false : (f->pixel_signed || f->intercept < 0);
        MRG_TRY(read_lut(item, signed_in, name, "VOI LUT", &f->voi_lut));
    }
    bool has_c = false, has_w = false;
    MRG_TRY(read_ds(ds, DCM_WindowCenter, "Window Center", name, &has_c, &f->window_center));
    MRG_TRY(read_ds(ds, DCM_WindowWidth, "Window Width", name, &has_w, &f->window_width));
    f->has_window = has_c && has_w;
    OFString fn;
    f->voi_function = MRG_DICOM_VOI_LINEAR;
    if (ds->findAndGetOFString(DCM_VOILUTFunction, fn).good()) {
        if (fn == "LINEAR_EXACT")
            f->voi_function = MRG_DICOM_VOI_LINEAR_EXACT;
        else if (fn == "SIGMOID")
            f->voi_function = MRG_DICOM_VOI_SIGMOID;
    }

    // the first frame
    DcmElement *pix = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, pix).bad() || !pix)
        return mrg_error(MRG_ERR_FORMAT, "%s: a DICOM file without pixel data (7FE0,0010)", name);
    const DcmXfer x(xfer);
    if (x.isEncapsulated() && !DcmCodecList::canChangeCoding(xfer, EXS_LittleEndianExplicit))
        return mrg_error(MRG_ERR_UNSUPPORTED,
                         "%s: transfer syntax %s: this build has no decoder for it (DCMTK here "
                         "decodes JPEG baseline/extended/lossless, JPEG-LS and RLE)",
                         name, xfer_label(xfer).c_str());
    if (x.isEncapsulated())
        MRG_TRY(check_first_fragment(pix, xfer, rows, cols, alloc / 8u, name));
    const size_t frame_bytes = static_cast<size_t>(rows) * cols * (alloc / 8);
    Uint32 dcmtk_bytes = 0;
    if (pix->getUncompressedFrameSize(ds, dcmtk_bytes).bad() || dcmtk_bytes != frame_bytes)
        return mrg_error(MRG_ERR_FORMAT, "%s: cannot size the image's frame", name);
    if (!x.isEncapsulated() && pix->getLength() < frame_bytes)
        return mrg_error(MRG_ERR_FORMAT,
                         "%s: the pixel data has %lu bytes; one %u x %u frame of %u-bit samples "
                         "needs %zu (truncated?)",
                         name, static_cast<unsigned long>(pix->getLength()), cols, rows, alloc,
                         frame_bytes);
    const size_t buf_bytes = frame_bytes + 1; // DCMTK wants room for a pad byte
    f->pixels = std::calloc(1, buf_bytes);
    if (!f->pixels)
        return mrg_error(MRG_ERR_OOM, "%s: out of memory for a %u x %u frame", name, cols, rows);
    Uint32 fragment = 0;
    OFString model;
    cond = pix->getUncompressedFrame(ds, 0, fragment, f->pixels, static_cast<Uint32>(buf_bytes),
                                     model);
    if (cond.bad())
        return mrg_error(MRG_ERR_FORMAT, "%s: cannot read the first frame (%s%s%s)", name,
                         x.isEncapsulated() ? xfer_label(xfer).c_str() : "",
                         x.isEncapsulated() ? ": " : "", cond.text());
    if (x.isEncapsulated() && model != "MONOCHROME1" && model != "MONOCHROME2")
        return mrg_error(MRG_ERR_UNSUPPORTED, "%s: the decompressed frame is %s, not grayscale",
                         name, model.c_str());
    return MRG_OK;
}

}  // namespace

extern "C" mrg_status mrg_dicom_read(const void *data, size_t len, const char *name,
                                     mrg_dicom_frame *out) {
    if (!out) return mrg_error(MRG_ERR_INVALID_ARG, "mrg_dicom_read: NULL argument");
    std::memset(out, 0, sizeof *out);
    if (!name) name = "image";
    if (!data || len == 0) return mrg_error(MRG_ERR_FORMAT, "%s: empty DICOM file", name);
    try {
        return read_frame(static_cast<const unsigned char *>(data), len, name, out);
    } catch (const std::bad_alloc &) {
        return mrg_error(MRG_ERR_OOM, "%s: out of memory reading the DICOM file", name);
    } catch (...) {
        return mrg_error(MRG_ERR_FORMAT, "%s: DCMTK failed to read the file", name);
    }
}
