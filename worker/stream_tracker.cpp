#include "stream_tracker.hpp"

namespace revalidator::worker {

const char* to_string(Verdict v) {
    switch (v) {
        case Verdict::InOrder:
            return "in_order";
        case Verdict::Stale:
            return "stale";
        case Verdict::Gap:
            return "gap";
        case Verdict::NewStream:
            return "new_stream";
        case Verdict::Restarted:
            return "restarted";
    }
    return "?";
}

Verdict StreamTracker::observe(const Event& e) {
    auto [it, fresh] = streams_.try_emplace(e.stream);
    State& s = it->second;
    Verdict v;
    if (fresh) {
        v = e.seq == 1 ? Verdict::InOrder : Verdict::NewStream;
    } else if (e.epoch < s.epoch) {
        return Verdict::Stale;
    } else if (e.epoch > s.epoch) {
        v = s.ended && e.seq == 1 ? Verdict::InOrder : Verdict::Restarted;
    } else if (e.seq <= s.last_seq) {
        return Verdict::Stale;
    } else {
        v = e.seq == s.last_seq + 1 ? Verdict::InOrder : Verdict::Gap;
    }
    s.epoch = e.epoch;
    s.last_seq = e.seq;
    s.ended = e.op == Op::End;
    return v;
}

}  // namespace revalidator::worker
