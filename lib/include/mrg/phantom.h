/* Synthetic chest radiograph phantoms (DESIGN.md §5).
 *
 * A phantom study is two views (0 = frontal PA, 1 = lateral) of a drawn
 * anatomy (thorax, lungs, heart, diaphragm, spine, ribs, noise) with some of
 * the seven findings of mrg/text.h rendered into the pixels, and an IU-style
 * report that states every finding as present or absent. Everything is
 * deterministic for a seed (a private splitmix64 generator, never rand()).
 *
 * Conventions: in the frontal view the patient faces the viewer, so the
 * patient's right is on the image's left; in the lateral view the patient
 * faces the image's left (anterior left, spine right). Images are grayscale
 * (1 channel), values in [0, 1], bright = dense. */
#ifndef MRG_PHANTOM_H
#define MRG_PHANTOM_H

#include <stdbool.h>
#include <stdint.h>

#include "mrg/image.h"
#include "mrg/status.h"
#include "mrg/text.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRG_PHANTOM_DEFAULT_SIZE 128
#define MRG_PHANTOM_MIN_SIZE 32
#define MRG_PHANTOM_MAX_SIZE 2048

/* Lobes for the lobar opacity. */
typedef enum mrg_phantom_lobe {
    MRG_LOBE_RIGHT_UPPER = 0,
    MRG_LOBE_RIGHT_MIDDLE,
    MRG_LOBE_RIGHT_LOWER,
    MRG_LOBE_LEFT_UPPER,
    MRG_LOBE_LEFT_LOWER,
    MRG_N_LOBES
} mrg_phantom_lobe;

/* One study. The anatomy, the noise and the report's wording come from
 * seed alone, so a copy with other findings renders the same patient:
 * that is how tests compare a finding against a normal study. */
typedef struct mrg_phantom_case {
    uint64_t seed;                /* anatomy, noise, wording */
    bool finding[MRG_N_FINDINGS]; /* indexed by mrg_finding */
    int effusion_size[2];         /* [0] left, [1] right: 0 small, 1 moderate, 2 large */
    int pneumothorax_size[2];     /* [0] left, [1] right: 0 small, 1 moderate, 2 large */
    int opacity_lobe;             /* mrg_phantom_lobe */
    int nodule_side;              /* 0 left, 1 right */
    int nodule_zone;              /* 0 upper, 1 mid, 2 lower lung zone */
    float nodule_pos[3];          /* lateral offset, height in zone, depth: each in [0, 1) */
    int nodule_mm;                /* stated diameter, 6..14 mm; sets the drawn radius */
} mrg_phantom_case;

/* Seed of study `index` of a data set drawn with `seed`. */
uint64_t mrg_phantom_study_seed(uint64_t seed, int index);

/* Draws a whole case from seed: about a quarter of the studies are normal,
 * the others have one or more findings, each finding in roughly a fifth of
 * all studies. Sizes, lobe and nodule position are drawn whether or not the
 * finding is present, so toggling finding[] changes nothing else. */
void mrg_phantom_case_draw(uint64_t seed, mrg_phantom_case *c);

/* Renders both views at size x size into newly allocated 1-channel images
 * (free them with mrg_image_free). Either output may be NULL to skip it. */
mrg_status mrg_phantom_render(const mrg_phantom_case *c, int size, mrg_image *frontal,
                              mrg_image *lateral);

/* The IU-style report of the case: every finding stated as present or
 * absent, each in one of several phrasings chosen from c->seed, except
 * that after a one-sided effusion or pneumothorax the other side of it is
 * usually left unsaid ("small left pleural effusion. no pneumothorax.").
 * Returns a new string (free() it) or NULL with mrg_error set. */
char *mrg_phantom_report(const mrg_phantom_case *c);

/* The labels the report states: POSITIVE for c->finding[f], else NEGATIVE
 * (which the report may leave unsaid, ABSENT, for the other side of a
 * one-sided effusion or pneumothorax: see mrg_phantom_label_may_be_unsaid). */
void mrg_phantom_labels(const mrg_phantom_case *c, mrg_finding_label out[MRG_N_FINDINGS]);
/* True when the report of c may leave finding f unsaid: f is the negative
 * side of an effusion or pneumothorax whose other side is positive. */
bool mrg_phantom_label_may_be_unsaid(const mrg_phantom_case *c, mrg_finding f);

/* Counts of a written data set. */
typedef struct mrg_phantom_summary {
    int n_train, n_val, n_test, n_normal;
    int positives[MRG_N_FINDINGS];
} mrg_phantom_summary;

/* Train/val/test sizes of an n-study data set: val = test = round(n / 10),
 * train = the rest (80/10/10 for n a multiple of 10). */
void mrg_phantom_split_sizes(int n, int *n_train, int *n_val, int *n_test);

/* Writes n studies in the R2Gen layout:
 *   dir/annotation.json  {"train": [...], "val": [...], "test": [...]}, each
 *                        entry {"id", "report", "image_path": ["<id>/0.png",
 *                        "<id>/1.png"], "split", "labels": {"<finding name>":
 *                        1 present / 0 absent, ...}}
 *   dir/images/<id>/0.png (frontal) and 1.png (lateral), size x size, 8-bit
 * Study i (ids "PH00000", "PH00001", ...) is drawn from
 * mrg_phantom_study_seed(seed, i); the first studies are train, then val,
 * then test. Directories are created as needed; files are written
 * atomically. summary may be NULL. */
mrg_status mrg_phantoms_write(const char *dir, int n, uint64_t seed, int size,
                              mrg_phantom_summary *summary);

#ifdef __cplusplus
}
#endif
#endif
