#include "meta_sets.hpp"

#include <charconv>
#include <optional>

namespace revalidator::worker {

namespace {

// The set an answer's opaque names: "O" and the decimal number exactly as add() wrote it.
std::optional<std::size_t> opaque(std::string_view token) {
    if (token.size() < 2 || token.size() > 21 || token[0] != 'O') return std::nullopt;
    token.remove_prefix(1);
    if (token.size() > 1 && token[0] == '0') return std::nullopt;
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), n);
    if (ec != std::errc() || end != token.data() + token.size()) return std::nullopt;
    return n;
}

// The opaque among the flags after the code; nullopt when there is none, more than one, or an
// empty token (two spaces in a row: not a line memcached writes).
std::optional<std::size_t> opaque_among(std::string_view flags) {
    std::optional<std::size_t> found;
    while (!flags.empty()) {
        if (flags[0] != ' ') return std::nullopt;
        flags.remove_prefix(1);
        std::string_view token = flags.substr(0, flags.find(' '));
        flags.remove_prefix(token.size());
        if (token.empty()) return std::nullopt;
        if (token[0] != 'O') continue;
        if (found) return std::nullopt;
        found = opaque(token);
        if (!found) return std::nullopt;
    }
    return found;
}

}  // namespace

void MetaSetRound::add(std::string& out, std::size_t item, std::string_view key,
                       std::string_view value) {
    out += "ms ";
    out += key;
    out += ' ';
    out += std::to_string(value.size());
    out += quiet_ ? " q O" : " O";
    out += std::to_string(sets_.size());
    out += "\r\n";
    out += value;
    out += "\r\n";
    sets_.push_back({item});
}

void MetaSetRound::end(std::string& out) {
    out += "mn\r\n";
    ended_ = true;
}

std::size_t MetaSetRound::read(std::string_view in) {
    std::size_t used = 0;
    while (!done_ && !broken_) {
        std::size_t eol = in.find("\r\n", used);
        std::size_t length = (eol == std::string_view::npos ? in.size() : eol) - used;
        if (length > kMaxAnswerLine) {
            broken_ = true;
            break;
        }
        if (eol == std::string_view::npos) break;
        std::string_view line = in.substr(used, length);
        used = eol + 2;
        answer(line);
    }
    return used;
}

void MetaSetRound::answer(std::string_view line) {
    std::string_view code = line.substr(0, line.find(' '));
    if (line == "MN") {
        if (ended_) {
            finish();
        } else {
            broken_ = true;
        }
        return;
    }
    if (code == "HD" || code == "NS" || code == "EX" || code == "NF") {
        auto n = opaque_among(line.substr(code.size()));
        // Answers come in order: an opaque before the set whose turn it is, or past the last
        // set, belongs to no set of this round.
        if (!n || *n < next_ || *n >= sets_.size() || (!quiet_ && *n != next_)) {
            broken_ = true;
            return;
        }
        // Quiet: the sets between are the silent ones, stored unless an error line came
        // since the last answer, which belongs to one of them.
        if (*n - next_ < errors_since_) {
            broken_ = true;
            return;
        }
        for (std::size_t k = next_; k < *n; ++k)
            sets_[k].outcome = errors_since_ > 0 ? SetOutcome::Unknown : SetOutcome::Stored;
        sets_[*n].outcome = code == "HD" ? SetOutcome::Stored : SetOutcome::Refused;
        next_ = *n + 1;
        errors_since_ = 0;
        return;
    }
    if (code == "SERVER_ERROR") {
        if (quiet_) {
            ++errors_since_;
            broken_ = errors_since_ > sets_.size() - next_;
        } else {
            refuse_next(false);
        }
        return;
    }
    // The server read something of ours as no command, or as a bad one: it may be reading a value
    // as commands now.
    if (code == "CLIENT_ERROR" && !quiet_) {
        refuse_next(true);
        return;
    }
    broken_ = true;
}

void MetaSetRound::refuse_next(bool and_break) {
    if (next_ >= sets_.size()) {
        broken_ = true;
        return;
    }
    sets_[next_++].outcome = SetOutcome::Refused;
    broken_ = and_break;
}

void MetaSetRound::finish() {
    if (quiet_ ? errors_since_ > sets_.size() - next_ : next_ != sets_.size()) {
        broken_ = true;
        return;
    }
    for (std::size_t k = next_; k < sets_.size(); ++k)
        sets_[k].outcome = errors_since_ > 0 ? SetOutcome::Unknown : SetOutcome::Stored;
    next_ = sets_.size();
    done_ = true;
}

}  // namespace revalidator::worker
