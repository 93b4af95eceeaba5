#include "metadump.hpp"

#include <utility>

namespace revalidator::worker {

namespace {

// A line longer than this is not one Memcached writes (a key is at most 250 bytes, 750 encoded).
constexpr std::size_t kMaxLine = 4096;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<std::string> metadump_key(std::string_view line) {
    constexpr std::string_view kField = "key=";
    if (line.substr(0, kField.size()) != kField) return std::nullopt;
    std::string_view encoded = line.substr(kField.size());
    encoded = encoded.substr(0, encoded.find(' '));
    std::string key;
    key.reserve(encoded.size());
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        if (encoded[i] != '%') {
            key += encoded[i];
            continue;
        }
        if (i + 2 >= encoded.size()) return std::nullopt;
        const int hi = hex_value(encoded[i + 1]), lo = hex_value(encoded[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        key += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    if (key.empty()) return std::nullopt;
    return key;
}

MetadumpReader::MetadumpReader(std::string prefix, std::size_t max_keys)
    : prefix_(std::move(prefix)), max_keys_(max_keys) {}

void MetadumpReader::fail(std::string why) {
    state_ = State::Failed;
    error_ = std::move(why);
    keys_.clear();
}

void MetadumpReader::line(std::string_view l) {
    const bool first_line = std::exchange(first_line_, false);
    if (l.size() > kMaxLine) {
        fail("a line longer than " + std::to_string(kMaxLine));
        return;
    }
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l == "END") {
        state_ = State::Done;
        return;
    }
    // Only as the first line: later, it is a dump gone wrong.
    if (first_line && l.starts_with("BUSY")) {
        state_ = State::Busy;
        error_ = std::string(l.substr(0, 80));
        return;
    }
    auto key = metadump_key(l);
    if (!key) {
        fail("unexpected line: " + std::string(l.substr(0, 80)));
        return;
    }
    if (key->compare(0, prefix_.size(), prefix_) != 0) return;
    if (keys_.size() >= max_keys_) {
        fail("more than " + std::to_string(max_keys_) + " keys");
        return;
    }
    keys_.push_back(std::move(*key));
}

MetadumpReader::State MetadumpReader::feed(std::string_view bytes) {
    while (state_ == State::More && !bytes.empty()) {
        const auto nl = bytes.find('\n');
        if (nl == std::string_view::npos) {
            partial_.append(bytes);
            if (partial_.size() > kMaxLine) fail("a line longer than " + std::to_string(kMaxLine));
            return state_;
        }
        if (partial_.empty()) {
            line(bytes.substr(0, nl));
        } else {
            partial_.append(bytes.substr(0, nl));
            if (partial_.size() > kMaxLine) {
                fail("a line longer than " + std::to_string(kMaxLine));
                return state_;
            }
            line(partial_);
            partial_.clear();
        }
        bytes.remove_prefix(nl + 1);
    }
    if (state_ != State::More && state_ != State::Failed && !bytes.empty()) {
        fail(state_ == State::Done ? "bytes after END" : "bytes after BUSY");
    }
    return state_;
}

std::optional<bool> crawler_running(std::string_view stats) {
    constexpr std::string_view kLine = "STAT lru_crawler_running ";
    const auto at = stats.find(kLine);
    if (at == std::string_view::npos || (at > 0 && stats[at - 1] != '\n')) return std::nullopt;
    const auto value = stats.substr(at + kLine.size(), 1);
    if (value == "0" || value == "1") return value == "1";
    return std::nullopt;
}

std::optional<MetadumpReader> dump_when_free(const std::function<MetadumpReader()>& dump,
                                             std::chrono::steady_clock::time_point deadline,
                                             const CrawlerWait& wait) {
    for (auto next = wait.first_wait;; next = std::min(2 * next, wait.max_wait)) {
        MetadumpReader answer = dump();
        if (answer.state() != MetadumpReader::State::Busy) return answer;
        if (wait.busy) wait.busy->inc();
        if (wait.now() + next >= deadline || !wait.pause(next)) return std::nullopt;
    }
}

}  // namespace revalidator::worker
