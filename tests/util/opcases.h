/* The op cases shared by the golden, finite-difference and backend-agreement
 * tests: which op, its scalar arguments and the kind of each input. The
 * golden files written by tools/ref/ops_ref.py hold the inputs of every case
 * under "<case>/<input name>" in tests/golden/ops/<group>.safetensors; the
 * arguments below mirror the generator's (keep both in step). */
#ifndef MRG_TEST_OPCASES_H
#define MRG_TEST_OPCASES_H

#include "testutil.h"

/* Input kinds. */
enum {
    IN_PARAM = 'p',   /* trainable f32 parameter: its gradient is checked */
    IN_FROZEN = 'f',  /* frozen f32 parameter (no gradient buffer) */
    IN_BF16 = 'b',    /* frozen bf16 weight */
    IN_F16 = 'h',     /* frozen f16 weight */
    IN_IDS = 'i',     /* I32 ids in [0, shape[0] of input 0) */
    IN_TARGETS = 't', /* I32 targets in [0, last dim of input 0), some −100 */
    IN_MASK = 'm',    /* additive key mask (B, Tk): 0 or −inf */
};

#define OPC_MAX_IN 6

typedef struct op_input {
    const char *name;
    char kind;
} op_input;

typedef struct op_case op_case;
/* Builds the op's output from its inputs (in table order). */
typedef mrg_tensor *(*op_run_fn)(mrg_tensor *const *in, const op_case *c);

struct op_case {
    const char *group; /* golden file: tests/golden/ops/<group>.safetensors */
    const char *name;  /* case name inside the file */
    op_run_fn run;
    int n_in;
    op_input in[OPC_MAX_IN];
    int ia[8];   /* integer arguments (op specific, see opcases.c) */
    float fa[2]; /* float arguments */
};

extern const op_case op_cases[];
extern const int op_case_count;

/* The case with this group and name, or NULL. */
const op_case *op_case_find(const char *group, const char *name);
mrg_dtype op_input_dtype(char kind);
bool op_input_trainable(char kind);

/* Opens tests/golden/ops/<group>.safetensors (NULL + CHECK failure). */
mrg_st_file *op_case_open(const op_case *c);
/* Creates the case's inputs on dev as persistent tensors from the golden
 * file (trainable f32 parameters for IN_PARAM, frozen weights in their
 * storage dtype, I32 ids); false + CHECK failure when one is missing. */
bool op_case_load_inputs(mrg_device *dev, const op_case *c, const mrg_st_file *f,
                         mrg_tensor **in);
void op_case_free_inputs(const op_case *c, mrg_tensor **in);
/* "<case>/<role>" into a static buffer. */
const char *op_case_key(const op_case *c, const char *role);

#endif
