// Stream tracking: each ingress instance numbers its events 1, 2, 3, ... per boot (epoch), and ends
// a clean shutdown with an END marker. ZeroMQ keeps a connection's order, so a number that skips
// ahead means events were lost (a full queue, a dropped connection, a crash). The tracker turns
// what it sees into a verdict; a gap means the worker must resync the table (promise 3).
// docs/wire-format.md states the rules.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "wire/event.hpp"

namespace revalidator::worker {

enum class Verdict {
    InOrder,    // the next number, or the first event of a stream we have seen end cleanly
    Stale,      // a repeat or an event from an older epoch: harmless, the truth is re-read anyway
    Gap,        // events were lost in between
    NewStream,  // first sight of a stream mid-way (seq > 1): what came before is unknown
    Restarted,  // a new epoch without a clean END of the previous one
};

const char* to_string(Verdict v);
inline bool needs_resync(Verdict v) {
    return v == Verdict::Gap || v == Verdict::NewStream || v == Verdict::Restarted;
}

class StreamTracker {
  public:
    Verdict observe(const Event& e);
    std::size_t streams() const { return streams_.size(); }

  private:
    struct State {
        std::uint64_t epoch = 0;
        std::uint64_t last_seq = 0;
        bool ended = false;  // END seen right after last_seq
    };
    std::unordered_map<std::string, State> streams_;
};

}  // namespace revalidator::worker
