// Memcached's meta protocol as far as the pipelined writes need it (worker/mc_pipeline.hpp): the
// `ms` commands of one connection's round, and its answers matched to them. No sockets, so that
// unit tests can feed it whatever bytes a server, or something posing as one, could send.
//
// A round is a run of sets on one connection ended by `mn`; memcached answers a connection's
// commands in order, and `mn` with `MN` once everything before it was answered.
// - Quiet (`ms <key> <bytes> q O<n>`): a stored key gets no answer; NS, EX and NF name their key
//   by the opaque. An error line (`SERVER_ERROR object too large for cache`) carries no opaque
//   (memcached 1.6): it belongs to one of the silent sets between the answers around it, and
//   those sets are Unknown (send them again in an answered round); silent sets with no error
//   line among them were stored.
// - Answered (`ms <key> <bytes> O<n>`): one answer per set, in order; an error line belongs to the
//   set whose turn it is, and every other answer must carry that set's opaque.
// Anything else (ERROR, CLIENT_ERROR, a line that is no answer, an opaque out of turn, a line over
// kMaxAnswerLine bytes, an answer after `MN`) means the connection is out of step: the round is
// broken, the keys it did not place are Unknown, and the connection must be closed, never read
// again. A CLIENT_ERROR in an answered round still refuses the set whose turn it was.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace revalidator::worker {

enum class SetOutcome {
    Stored,
    Refused,  // not stored: NS, EX, NF or an error line placed on this set
    Unknown,  // not placed: see the round's state
};

inline constexpr std::size_t kMaxAnswerLine = 1024;

class MetaSetRound {
  public:
    explicit MetaSetRound(bool quiet) : quiet_(quiet) {}

    // Appends the set of `item` (any number the caller uses to find it again) to `out`. The key
    // must have passed check_key (shared/cache/cache_key.hpp): this writes it as it is.
    void add(std::string& out, std::size_t item, std::string_view key, std::string_view value);
    // Appends `mn`: the round is complete, nothing more is added.
    void end(std::string& out);

    // Reads answers from the front of `in`, whole lines only, up to the end of the round; returns
    // the bytes it used. Nothing once the round is done or broken.
    std::size_t read(std::string_view in);

    bool done() const { return done_; }      // `MN` read: every set is placed or Unknown
    bool broken() const { return broken_; }  // out of step: close the connection
    bool quiet() const { return quiet_; }
    std::size_t size() const { return sets_.size(); }
    std::size_t item(std::size_t set) const { return sets_[set].item; }
    SetOutcome outcome(std::size_t set) const { return sets_[set].outcome; }

  private:
    struct Set {
        std::size_t item;
        SetOutcome outcome = SetOutcome::Unknown;
    };
    void answer(std::string_view line);
    void finish();
    void refuse_next(bool and_break);

    bool quiet_;
    bool ended_ = false, done_ = false, broken_ = false;
    std::vector<Set> sets_;
    std::size_t next_ = 0;          // the first set no answer has passed yet
    std::size_t errors_since_ = 0;  // quiet: error lines since the last answer with an opaque
};

}  // namespace revalidator::worker
