/* mrg_spm_train: sentencepiece training from in-memory texts through the
 * library's SentenceIterator interface (no temporary input file). The model
 * proto comes back serialised and is written here, atomically. */
#include "mrg/spm_train.h"

#include <sentencepiece_trainer.h>

#include <string>

#include "core/files.h"

/* Exported by libsentencepiece but not declared in its public headers: the
 * trainer logs its command line at INFO before it parses --minloglevel. */
namespace sentencepiece {
namespace logging {
void SetMinLogLevel(int v);
}
} // namespace sentencepiece

namespace {

class TextIterator : public sentencepiece::SentenceIterator {
  public:
    TextIterator(const char *const *texts, int n) : texts_(texts), n_(n) { load(); }
    bool done() const override { return i_ >= n_; }
    void Next() override {
        i_++;
        load();
    }
    const std::string &value() const override { return cur_; }
    sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

  private:
    void load() {
        if (i_ < n_) cur_ = texts_[i_] ? texts_[i_] : "";
    }
    const char *const *texts_;
    int n_;
    int i_ = 0;
    std::string cur_;
};

} // namespace

extern "C" mrg_spm_train_opts mrg_spm_train_defaults(void) {
    mrg_spm_train_opts o;
    o.vocab_size = 512;
    o.bpe = false;
    o.soft_vocab_limit = true;
    return o;
}

extern "C" mrg_status mrg_spm_train(const char *const *texts, int n, const mrg_spm_train_opts *opts,
                                    const char *out_path) {
    mrg_spm_train_opts o = opts ? *opts : mrg_spm_train_defaults();
    if (!texts || n <= 0 || !out_path)
        return mrg_error(MRG_ERR_INVALID_ARG, "spm_train: no texts or no output path");
    /* byte fallback takes 256 pieces and the specials 3 more */
    if (o.vocab_size < 260 || o.vocab_size > 1000000)
        return mrg_error(MRG_ERR_INVALID_ARG,
                         "spm_train: vocab size %d out of range (260..1000000 with byte fallback)",
                         o.vocab_size);
    std::string args = "--model_type=" + std::string(o.bpe ? "bpe" : "unigram") +
                       " --vocab_size=" + std::to_string(o.vocab_size) +
                       " --byte_fallback=true --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1"
                       " --normalization_rule_name=identity --split_digits=true"
                       " --character_coverage=1.0 --num_threads=1 --minloglevel=2"
                       " --hard_vocab_limit=" +
                       std::string(o.soft_vocab_limit ? "false" : "true");
    TextIterator it(texts, n);
    std::string proto;
    sentencepiece::util::Status st;
    try {
        sentencepiece::logging::SetMinLogLevel(2);
        st = sentencepiece::SentencePieceTrainer::Train(args, &it, &proto);
    } catch (const std::exception &e) {
        return mrg_error(MRG_ERR_OOM, "spm_train: %s", e.what());
    }
    if (!st.ok()) return mrg_error(MRG_ERR_INVALID_ARG, "spm_train: %s", st.ToString().c_str());
    if (proto.empty()) return mrg_error(MRG_ERR_DEVICE, "spm_train: the trainer returned no model");

    return mrg_write_file_atomic(out_path, proto.data(), proto.size(), true);
}
