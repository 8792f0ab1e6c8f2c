/* mrg: vision-language chest X-ray report generation on OpenCL and CPUs. */
#ifndef MRG_MRG_H
#define MRG_MRG_H

#include "mrg/status.h"
#include "mrg/limits.h"
#include "mrg/tensor.h"
#include "mrg/ops.h"
#include "mrg/autograd.h"
#include "mrg/cpu.h"
#include "mrg/optim.h"
#include "mrg/safetensors.h"
#include "mrg/image.h"
#include "mrg/tokenizer.h"
#include "mrg/nn.h"
#include "mrg/vit.h"
#include "mrg/llama.h"
#include "mrg/sampling.h"
#include "mrg/text.h"
#include "mrg/metrics.h"
#include "mrg/model.h"
#include "mrg/dataset.h"
#include "mrg/generate.h"
#include "mrg/trainer.h"
#include "mrg/content_hash.h"
#include "mrg/outputs.h"
#include "mrg/phantom.h"
#include "mrg/spm_train.h"

#define MRG_VERSION "0.1.0"

#endif
