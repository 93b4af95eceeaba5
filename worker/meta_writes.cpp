#include "meta_writes.hpp"

#include <charconv>
#include <optional>

namespace revalidator::worker {

namespace {

// The write an answer's opaque names: "O" and the decimal number exactly as add_opaque() wrote it.
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

void MetaWriteRound::add_opaque(std::string& out) {
    out += quiet_ ? " q O" : " O";
    out += std::to_string(writes_.size());
}

void MetaWriteRound::add_set(std::string& out, std::size_t item, std::string_view key,
                             std::string_view value, std::uint32_t ttl_s) {
    out += "ms ";
    out += key;
    out += ' ';
    out += std::to_string(value.size());
    if (ttl_s != 0) {
        out += " T";
        out += std::to_string(ttl_s);
    }
    add_opaque(out);
    out += "\r\n";
    out += value;
    out += "\r\n";
    writes_.push_back({item, false});
}

void MetaWriteRound::add_delete(std::string& out, std::size_t item, std::string_view key) {
    out += "md ";
    out += key;
    add_opaque(out);
    out += "\r\n";
    writes_.push_back({item, true});
}

void MetaWriteRound::end(std::string& out) {
    out += "mn\r\n";
    ended_ = true;
}

std::size_t MetaWriteRound::read(std::string_view in) {
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

void MetaWriteRound::answer(std::string_view line) {
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
        // Answers come in order: an opaque before the write whose turn it is, or past the last
        // write, belongs to no write of this round.
        if (!n || *n < next_ || *n >= writes_.size() || (!quiet_ && *n != next_)) {
            broken_ = true;
            return;
        }
        // Quiet: the writes between are the silent ones, done unless an error line came
        // since the last answer, which belongs to one of them.
        if (*n - next_ < errors_since_) {
            broken_ = true;
            return;
        }
        for (std::size_t k = next_; k < *n; ++k)
            writes_[k].outcome = errors_since_ > 0 ? WriteOutcome::Unknown : WriteOutcome::Stored;
        const bool done = code == "HD" || (code == "NF" && writes_[*n].remove);
        writes_[*n].outcome = done ? WriteOutcome::Stored : WriteOutcome::Refused;
        next_ = *n + 1;
        errors_since_ = 0;
        return;
    }
    if (code == "SERVER_ERROR") {
        if (quiet_) {
            ++errors_since_;
            broken_ = errors_since_ > writes_.size() - next_;
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

void MetaWriteRound::refuse_next(bool and_break) {
    if (next_ >= writes_.size()) {
        broken_ = true;
        return;
    }
    writes_[next_++].outcome = WriteOutcome::Refused;
    broken_ = and_break;
}

void MetaWriteRound::finish() {
    if (quiet_ ? errors_since_ > writes_.size() - next_ : next_ != writes_.size()) {
        broken_ = true;
        return;
    }
    for (std::size_t k = next_; k < writes_.size(); ++k)
        writes_[k].outcome = errors_since_ > 0 ? WriteOutcome::Unknown : WriteOutcome::Stored;
    next_ = writes_.size();
    done_ = true;
}

}  // namespace revalidator::worker
