#!/usr/bin/python3
"""DICOM test files and their expected renderings, for tests/test_dicom.c.

    /usr/bin/python3 tools/ref/dicom_ref.py PHANTOM.pgm OUT_DIR

Needs pydicom and numpy (Debian: python3-pydicom, python3-numpy; or pydicom
from PyPI). PHANTOM.pgm is an 8-bit binary PGM (P5) of a synthetic phantom
radiograph that the test renders: no patient data is involved anywhere.

Writes into OUT_DIR one DICOM file per case, the expected rendering of each
readable one as raw little-endian float32 (rows x cols, row-major, values in
[0, 1], 1 = white) in NAME.f32, and cases.json:
    [{"file": ..., "expect": "ok", "ref": "NAME.f32", "png_exact": bool,
      "frames": N}, {"file": ..., "expect": "error", "error": "substring",
      "status": "format" | "unsupported"}, ...]
"png_exact": the file holds the phantom's pixels under an identity window,
so it must load to exactly the tensor the PGM's PNG loads to.

The expected values come from pydicom's own modality and VOI functions
(apply_modality_lut, apply_voi_lut, apply_windowing) on the stored values,
normalised by the output range pydicom uses, then inverted for MONOCHROME1;
min-max when neither a VOI LUT nor a window is present. Files compressed by
DCMTK's command-line tools (dcmcjpeg, dcmcjpls: Debian's dcmtk) are added
when those tools are installed.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
from pydicom.sequence import Sequence
from pydicom.uid import (DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian,
                         RLELossless, generate_uid)

try:  # pydicom >= 2.2
    from pydicom.pixel_data_handlers.rle_handler import rle_encode_frame
except ImportError:  # pragma: no cover
    rle_encode_frame = None

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"


def read_pgm(path):
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; '#' comments skipped
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1
    assert fields[0] == b"P5" and int(fields[3]) == 255, "an 8-bit P5 PGM is expected"
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[pos:pos + w * h], dtype=np.uint8).reshape(h, w).copy()


def base_dataset(rows, cols, bits_alloc, bits_stored, signed, photometric, syntax=ExplicitVRLittleEndian):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = generate_uid()
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.PatientName = "Phantom^Synthetic"  # a drawn phantom, never a person
    ds.PatientID = "PHANTOM"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated = bits_alloc
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.is_little_endian = syntax != ExplicitVRBigEndian
    ds.is_implicit_VR = syntax == ImplicitVRLittleEndian
    return ds


def pixel_bytes(values, bits_alloc, big_endian=False, high_garbage=0):
    """values: int array of stored values (signed ones as negative ints)."""
    if bits_alloc == 8:
        return (values.astype(np.int64) & 0xFF).astype(np.uint8).tobytes()
    words = (values.astype(np.int64) & 0xFFFF) | high_garbage
    return words.astype(">u2" if big_endian else "<u2").tobytes()


def expected(ds, stored):
    """The reference rendering of stored values under ds's attributes."""
    m = apply_modality_lut(stored, ds)
    if "VOILUTSequence" in ds:
        bits = ds.VOILUTSequence[0].LUTDescriptor[2]
        y = apply_voi_lut(m.astype(np.int64), ds).astype(np.float64) / (2 ** bits - 1)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        # pydicom's output range: the stored range through the modality step
        if "ModalityLUTSequence" in ds:
            lo, hi = 0, 2 ** ds.ModalityLUTSequence[0].LUTDescriptor[2] - 1
        elif ds.PixelRepresentation == 0:
            lo, hi = 0, 2 ** ds.BitsStored - 1
        else:
            lo, hi = -2 ** (ds.BitsStored - 1), 2 ** (ds.BitsStored - 1) - 1
        if "RescaleSlope" in ds and "RescaleIntercept" in ds:
            lo = lo * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            hi = hi * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        y = (apply_voi_lut(m.astype(np.float64), ds, prefer_lut=False) - lo) / (hi - lo)
    else:
        m = m.astype(np.float64)
        y = (m - m.min()) / (m.max() - m.min())
    y = np.clip(y, 0, 1)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        y = 1 - y
    return y.astype(np.float32)


class Writer:
    def __init__(self, out):
        self.out = out
        self.cases = []

    def ok(self, name, ds, stored, png_exact=False, frames=1, write=None):
        path = os.path.join(self.out, name)
        (write or (lambda p: ds.save_as(p, write_like_original=False)))(path)
        ref = os.path.splitext(name)[0] + ".f32"
        expected(ds, stored).astype("<f4").tofile(os.path.join(self.out, ref))
        self.cases.append({"file": name, "expect": "ok", "ref": ref, "png_exact": png_exact,
                           "frames": frames})
        return path

    def error(self, name, data, substring, status="format"):
        with open(os.path.join(self.out, name), "wb") as f:
            f.write(data)
        self.cases.append({"file": name, "expect": "error", "error": substring,
                           "status": status})


def lut_item(descriptor, data):
    """A LUT item with its ambiguous VRs (US or SS, US or OW) stated as US."""
    item = Dataset()
    item.add_new(0x00283002, "US", list(descriptor))  # LUT Descriptor
    item.add_new(0x00283006, "US", list(data))        # LUT Data
    return item


def to_bytes(ds):
    from io import BytesIO
    buf = BytesIO()
    ds.save_as(buf, write_like_original=False)
    return buf.getvalue()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    p = read_pgm(sys.argv[1]).astype(np.int64)  # the phantom, 0..255
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rows, cols = p.shape
    w = Writer(out)
    ramp = (np.arange(rows * cols).reshape(rows, cols) * 7) % 16  # low bits below the phantom's

    # 8 bits, identity window: exactly the PNG (and its inverse as MONOCHROME1)
    ds = base_dataset(rows, cols, 8, 8, False, "MONOCHROME2")
    ds.WindowCenter, ds.WindowWidth = 128, 256
    ds.PixelData = pixel_bytes(p, 8)
    mono2_u8 = w.ok("mono2_u8_identity.dcm", ds, p, png_exact=True)
    w.ok("study_without_extension", ds, p, png_exact=True)  # found by content

    ds = base_dataset(rows, cols, 8, 8, False, "MONOCHROME1")
    ds.WindowCenter, ds.WindowWidth = 128, 256
    ds.PixelData = pixel_bytes(255 - p, 8)
    w.ok("mono1_u8_identity.dcm", ds, 255 - p)

    # 8 bits, no window: min-max
    ds = base_dataset(rows, cols, 8, 8, False, "MONOCHROME2")
    ds.PixelData = pixel_bytes(p, 8)
    w.ok("mono2_u8_minmax.dcm", ds, p)

    # 12 of 16 bits, garbage above bit 11 (must be masked), min-max, then a window
    u12 = p * 16 + ramp
    ds = base_dataset(rows, cols, 16, 12, False, "MONOCHROME2")
    ds.PixelData = pixel_bytes(u12, 16, high_garbage=0xA000)
    w.ok("u12_minmax_high_bits.dcm", ds, u12)
    ds.WindowCenter, ds.WindowWidth = 2000, 1500
    u12_window = w.ok("u12_window.dcm", ds, u12)
    deflated = pydicom.dcmread(u12_window)  # the data set deflated (zlib)
    deflated.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    w.ok("u12_deflated.dcm", deflated, u12)
    del ds.WindowCenter, ds.WindowWidth
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 1800, 2400, "SIGMOID"
    w.ok("u12_sigmoid.dcm", ds, u12)

    # 16 bits, identity window: the PNG again (16-bit path: x / 65535)
    u16 = p * 257
    ds = base_dataset(rows, cols, 16, 16, False, "MONOCHROME2")
    ds.WindowCenter, ds.WindowWidth = 32768, 65536
    ds.PixelData = pixel_bytes(u16, 16)
    w.ok("u16_identity.dcm", ds, u16, png_exact=True)
    # the same, big endian (a retired syntax DCMTK still reads)
    be = base_dataset(rows, cols, 16, 16, False, "MONOCHROME2", ExplicitVRBigEndian)
    be.WindowCenter, be.WindowWidth = 32768, 65536
    be.PixelData = pixel_bytes(u16, 16, big_endian=True)
    w.ok("u16_big_endian.dcm", be, u16, png_exact=True)

    # signed 16 bits, rescale slope/intercept, window in rescaled units
    s16 = p * 8 - 1024
    ds = base_dataset(rows, cols, 16, 16, True, "MONOCHROME2")
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = "0.5", "-100", "US"
    ds.WindowCenter, ds.WindowWidth = 0, 600
    ds.PixelData = pixel_bytes(s16, 16)
    w.ok("s16_rescale_window.dcm", ds, s16)

    # signed 12 of 16 bits (sign-extended), rescale, min-max
    s12 = p * 16 + ramp - 2048
    ds = base_dataset(rows, cols, 16, 12, True, "MONOCHROME2")
    ds.RescaleSlope, ds.RescaleIntercept = "2", "10"
    ds.PixelData = pixel_bytes(s12, 16)
    w.ok("s12_rescale_minmax.dcm", ds, s12)
    # MONOCHROME1, signed 12 bits, LINEAR_EXACT window
    ds = base_dataset(rows, cols, 16, 12, True, "MONOCHROME1")
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = -300, 2500.5, "LINEAR_EXACT"
    ds.PixelData = pixel_bytes(s12, 16)
    w.ok("mono1_s12_linear_exact.dcm", ds, s12)

    # VOI LUT (a square-root curve), preferred over the window also present
    ds = base_dataset(rows, cols, 16, 12, False, "MONOCHROME2")
    lut = lut_item([4096, 0, 16], [int(round(65535 * (i / 4095) ** 0.5)) for i in range(4096)])
    ds.VOILUTSequence = Sequence([lut])
    ds.WindowCenter, ds.WindowWidth = 100, 10
    ds.PixelData = pixel_bytes(u12, 16)
    w.ok("u12_voi_lut.dcm", ds, u12)

    # modality LUT (8 bits in, 16 out) then a window on its output
    ds = base_dataset(rows, cols, 8, 8, False, "MONOCHROME2")
    mlut = lut_item([256, 0, 16], [1000 + 200 * i for i in range(256)])
    mlut.ModalityLUTType = "US"
    ds.ModalityLUTSequence = Sequence([mlut])
    ds.WindowCenter, ds.WindowWidth = 20000, 30000
    ds.PixelData = pixel_bytes(p, 8)
    w.ok("u8_modality_lut.dcm", ds, p)

    # three frames: the first is read, with a warning
    ds = base_dataset(rows, cols, 8, 8, False, "MONOCHROME2")
    ds.NumberOfFrames = 3
    ds.WindowCenter, ds.WindowWidth = 128, 256
    ds.PixelData = pixel_bytes(np.concatenate([p, 255 - p, p // 2]), 8)
    w.ok("multiframe.dcm", ds, p, png_exact=True, frames=3)

    # a bare data set (no preamble, no meta header), implicit VR: by its name
    ds = base_dataset(rows, cols, 16, 12, False, "MONOCHROME2", ImplicitVRLittleEndian)
    ds.PixelData = pixel_bytes(u12, 16)
    ds.file_meta = FileMetaDataset()
    ds.preamble = None
    w.ok("bare_implicit.dcm", ds, u12,
         write=lambda path: pydicom.dcmwrite(path, ds, write_like_original=True))

    # RLE Lossless (DCMTK's RLE decoder)
    if rle_encode_frame is not None:
        ds = base_dataset(rows, cols, 16, 12, False, "MONOCHROME2")
        ds.file_meta.TransferSyntaxUID = RLELossless
        ds.WindowCenter, ds.WindowWidth = 2000, 1500
        ds.PixelData = encapsulate([rle_encode_frame(u12.astype("<u2"))])
        ds["PixelData"].is_undefined_length = True
        ds["PixelData"].VR = "OB"
        w.ok("u12_rle.dcm", ds, u12)

    # JPEG lossless (process 14 SV1) and JPEG-LS lossless by DCMTK's encoders
    for tool, args, name in (("dcmcjpeg", ["+e1"], "u8_jpeg_lossless.dcm"),
                             ("dcmcjpls", ["+el"], "u8_jpegls_lossless.dcm")):
        exe = shutil.which(tool)
        if not exe:
            print(f"dicom_ref: {tool} not installed; {name} not written")
            continue
        target = os.path.join(out, name)
        r = subprocess.run([exe] + args + [mono2_u8, target], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"dicom_ref: {tool} failed: {r.stderr}")
        src = pydicom.dcmread(mono2_u8)
        w.ok(name, src, p, png_exact=True, write=lambda path: None)
        if tool == "dcmcjpeg":  # the stream's size disagrees with Rows
            bad = pydicom.dcmread(target)
            bad.Rows = rows * 4
            jpeg_mismatch = to_bytes(bad)

    # ---- files that must be refused ---------------------------------------
    good = to_bytes(pydicom.dcmread(mono2_u8))
    w.error("truncated_half.dcm", good[: len(good) // 2], "truncated")
    if shutil.which("dcmcjpeg"):
        w.error("jpeg_size_mismatch.dcm", jpeg_mismatch, "the compressed frame states")
    w.error("truncated_header.dcm", good[:200], "DICOM")
    w.error("garbage_after_dicm.dcm", b"\0" * 128 + b"DICM" + bytes(range(256)) * 4, "DICOM")

    ds = base_dataset(rows, cols, 8, 8, False, "MONOCHROME2")
    w.error("no_pixel_data.dcm", to_bytes(ds), "without pixel data")
    ds.PixelData = pixel_bytes(p, 8)[: rows * cols // 2]
    w.error("short_pixel_data.dcm", to_bytes(ds), "truncated")

    ds = base_dataset(rows, cols, 8, 8, False, "RGB")
    ds.SamplesPerPixel, ds.PlanarConfiguration = 3, 0
    ds.PixelData = np.repeat(p[:, :, None], 3, axis=2).astype(np.uint8).tobytes()
    w.error("rgb.dcm", to_bytes(ds), "RGB", "unsupported")

    ds = base_dataset(rows, cols, 8, 8, False, "PALETTE COLOR")
    ds.PixelData = pixel_bytes(p, 8)
    w.error("palette.dcm", to_bytes(ds), "PALETTE COLOR", "unsupported")

    ds = base_dataset(65535, 65535, 16, 16, False, "MONOCHROME2")
    ds.PixelData = b"\0" * 64
    w.error("huge_dimensions.dcm", to_bytes(ds), "MRG_MAX_IMAGE_PIXELS")

    ds = base_dataset(rows, cols, 32, 32, False, "MONOCHROME2")
    ds.PixelData = p.astype("<u4").tobytes()
    w.error("bits32.dcm", to_bytes(ds), "32 bits allocated", "unsupported")

    ds = base_dataset(rows, cols, 8, 8, False, "MONOCHROME2", "1.2.840.10008.1.2.4.90")
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\0" * 60])
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    w.error("jpeg2000.dcm", to_bytes(ds), "JPEG 2000", "unsupported")

    # streams that DCMTK 3.6.7's decoders mishandle (checked before them):
    # a TEM marker its JPEG scan never passes, an RLE offset past the fragment
    ds = base_dataset(rows, cols, 8, 8, False, "MONOCHROME2", "1.2.840.10008.1.2.4.50")
    ds.PixelData = encapsulate([b"\xff\xd8\xff\x01" + b"\0" * 60])
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    w.error("jpeg_tem_marker.dcm", to_bytes(ds), "TEM marker")
    ds = base_dataset(rows, cols, 8, 8, False, "MONOCHROME2", RLELossless)
    ds.PixelData = encapsulate([np.array([1, 5000] + [0] * 14, "<u4").tobytes() + b"\0" * 16])
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    w.error("rle_offset_past_end.dcm", to_bytes(ds), "RLE segment 1 starts at byte 5000")

    ds = base_dataset(rows, cols, 8, 8, False, "MONOCHROME2", "1.2.3.4.5.6.7")
    ds.PixelData = pixel_bytes(p, 8)
    w.error("unknown_syntax.dcm", to_bytes(ds), "unknown transfer syntax 1.2.3.4.5.6.7",
            "unsupported")

    ds = base_dataset(rows, cols, 16, 12, False, "MONOCHROME2")
    short = lut_item([4096, 0, 16], range(10))
    ds.VOILUTSequence = Sequence([short])
    ds.PixelData = pixel_bytes(u12, 16)
    w.error("voi_lut_short.dcm", to_bytes(ds), "LUT Data has 10 entries")

    ds = base_dataset(rows, cols, 32, 32, False, "MONOCHROME2")
    del ds.BitsStored, ds.HighBit, ds.PixelRepresentation
    ds.FloatPixelData = p.astype("<f4").tobytes()
    w.error("float_pixels.dcm", to_bytes(ds), "floating-point", "unsupported")

    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(w.cases, f, indent=1)
    print(f"dicom_ref: {len(w.cases)} cases in {out}")


if __name__ == "__main__":
    main()
