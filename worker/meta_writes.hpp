// Memcached's meta protocol as far as the pipelined writes need it (worker/mc_pipeline.hpp): the
// `ms` and `md` commands of one connection's round, and its answers matched to them. No sockets,
// so that unit tests can feed it whatever bytes a server, or something posing as one, could send.
//
// A round is a run of writes (sets, or deletes) on one connection ended by `mn`; memcached answers
// a connection's commands in order, and `mn` with `MN` once everything before it was answered.
// - Quiet (`ms <key> <bytes> q O<n>`, `md <key> q O<n>`): a stored set or a deleted key gets no
//   answer; NS, EX and NF name their write by the opaque (NF to a delete: the key was not there,
//   which is what a delete wants; memcached 1.6 answers it even when quiet). An error line
//   (`SERVER_ERROR object too large for cache`) carries no opaque (memcached 1.6): it belongs to
//   one of the silent writes between the answers around it, and those are Unknown (send them
//   again in an answered round); silent writes with no error line among them were done.
// - Answered (`ms <key> <bytes> O<n>`, `md <key> O<n>`): one answer per write, in order; an error
//   line belongs to the write whose turn it is, and every other answer must carry its opaque.
// Anything else (ERROR, CLIENT_ERROR, a line that is no answer, an opaque out of turn, a line over
// kMaxAnswerLine bytes, an answer after `MN`) means the connection is out of step: the round is
// broken, the writes it did not place are Unknown, and the connection must be closed, never read
// again. A CLIENT_ERROR in an answered round still refuses the write whose turn it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace revalidator::worker {

enum class WriteOutcome {
    Stored,   // a set stored, or a key deleted (or not there)
    Refused,  // not done: NS, EX, NF to a set, or an error line placed on this write
    Unknown,  // not placed: see the round's state
};

inline constexpr std::size_t kMaxAnswerLine = 1024;

class MetaWriteRound {
  public:
    explicit MetaWriteRound(bool quiet) : quiet_(quiet) {}

    // Appends the set of `item` (any number the caller uses to find it again) to `out`, expiring
    // after `ttl_s` seconds (0: never). The key must have passed check_key
    // (shared/cache/cache_key.hpp): this writes it as it is.
    void add_set(std::string& out, std::size_t item, std::string_view key, std::string_view value,
                 std::uint32_t ttl_s = 0);
    // Appends the delete of `item`'s key, as add_set does.
    void add_delete(std::string& out, std::size_t item, std::string_view key);
    // Appends `mn`: the round is complete, nothing more is added.
    void end(std::string& out);

    // Reads answers from the front of `in`, whole lines only, up to the end of the round; returns
    // the bytes it used. Nothing once the round is done or broken.
    std::size_t read(std::string_view in);

    bool done() const { return done_; }      // `MN` read: every write is placed or Unknown
    bool broken() const { return broken_; }  // out of step: close the connection
    bool quiet() const { return quiet_; }
    std::size_t size() const { return writes_.size(); }
    std::size_t item(std::size_t write) const { return writes_[write].item; }
    WriteOutcome outcome(std::size_t write) const { return writes_[write].outcome; }

  private:
    struct Write {
        std::size_t item;
        bool remove;
        WriteOutcome outcome = WriteOutcome::Unknown;
    };
    void add_opaque(std::string& out);
    void answer(std::string_view line);
    void finish();
    void refuse_next(bool and_break);

    bool quiet_;
    bool ended_ = false, done_ = false, broken_ = false;
    std::vector<Write> writes_;
    std::size_t next_ = 0;          // the first write no answer has passed yet
    std::size_t errors_since_ = 0;  // quiet: error lines since the last answer with an opaque
};

}  // namespace revalidator::worker
