/* Every limit on the size of an input, in one place.
 *
 * Each one is checked before the memory it bounds is allocated, and an
 * input past it is refused with a message that names the file, the value
 * and the limit (never "unknown image type" or an out-of-memory kill).
 * The limits are far above real chest X-ray data and low enough that a
 * corrupt or hostile file cannot make a command take gigabytes.
 * README.md ("Limits") lists them for users. */
#ifndef MRG_LIMITS_H
#define MRG_LIMITS_H

/* ---- images (lib/io/image.c, lib/io/dicom_read.cc) ------------------------ */

/* Bytes of one PNG, JPEG or DICOM file. */
#define MRG_MAX_IMAGE_FILE_BYTES ((long long)1 << 30)
/* Width and height of a decoded image, each (stb_image's own bound). */
#define MRG_MAX_IMAGE_SIDE 16384
/* Width x height, read from the file's header before decoding (a DICOM's
 * Rows x Columns, for its first frame; a compressed frame must state the
 * same size in its own header): 32 Mi pixels (e.g. 8192 x 4096; digital
 * chest radiographs are 3-15 Mpx).
 * Decoding one costs up to about 28 bytes per pixel (stb_image's 16-bit
 * RGBA buffer and inflate buffer, then 3 float planes), so about 0.9 GiB. */
#define MRG_MAX_IMAGE_PIXELS ((long long)1 << 25)

/* ---- reports and datasets (lib/io/dataset.c, lib/metrics/report_set.c) --- */

/* Bytes of one report (annotation.json "report", a JSON-lines "report" or
 * each of "reports"). This also bounds the tokens a report can have before
 * it is truncated to the model's max_report_tokens. Real reports are under
 * 10 KiB. */
#define MRG_MAX_REPORT_BYTES (64 << 10)
/* Bytes of one line of a JSON-lines file (`mrg eval --pred/--ref`): room
 * for an id and 16 references of the largest size. */
#define MRG_MAX_JSONL_LINE_BYTES (1 << 20)
/* Studies in one split of annotation.json or in one JSON-lines file
 * (MIMIC-CXR has 227k studies), and studies `mrg phantoms` writes. */
#define MRG_MAX_STUDIES 2000000
/* "image_path" entries of one study. */
#define MRG_MAX_IMAGES_PER_STUDY 64
/* Bytes of annotation.json. */
#define MRG_MAX_ANNOTATION_BYTES ((long long)1 << 30)

/* ---- JSON and weights ----------------------------------------------------- */

/* Nesting depth of any JSON document: every JSON reader is cJSON, which
 * refuses deeper documents (CJSON_NESTING_LIMIT; lib/io/dataset.c checks
 * that the two agree at compile time). */
#define MRG_MAX_JSON_DEPTH 1000
/* Bytes of a config or state JSON file (config.json, model.json,
 * trainer_state.json, the ViT and Hugging Face configs). */
#define MRG_MAX_CONFIG_BYTES ((long long)64 << 20)
/* Bytes of a safetensors header and of a model.safetensors.index.json (the
 * header of a 7B checkpoint is about 30 KiB; the reference implementation
 * refuses headers over 100 MB). */
#define MRG_MAX_SAFETENSORS_HEADER ((long long)16 << 20)

/* ---- decoding ---------------------------------------------------------------- */

/* Candidates per row that mrg_select_topk returns (beam search asks for
 * twice its beam, which mrg_gen_opts_check caps at 64). */
#define MRG_SELECT_MAX_K 256

/* ---- metrics (lib/metrics/meteor*.c) -------------------------------------- */

/* Words of a hypothesis or reference that METEOR aligns: the matches it
 * considers grow with the product of the two lengths, so longer sentences
 * are cut to their first MRG_METEOR_MAX_WORDS words (after METEOR's
 * normalisation) and `mrg eval` says how many were cut. The beam search
 * keeps at most 40 partial alignments, so its memory is bounded too. */
#define MRG_METEOR_MAX_WORDS 1024

#endif
