// Memcached's answer to `lru_crawler metadump all`: one line per item the server holds,
// "key=<key> exp=... la=... cas=... fetch=... cls=... size=...", keys URI-encoded (%2F for '/'),
// then "END". The anti-entropy pass lists the cache's keys with it (anti_entropy.hpp,
// KeyLister). Parsed apart from the socket so that hostile answers are unit-tested and fuzzed:
// what the cache says is input like any other.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace revalidator::worker {

class MetadumpReader {
  public:
    enum class State { More, Done, Failed };

    // Keeps only keys that start with `prefix`, at most `max_keys` of them (past that: Failed).
    MetadumpReader(std::string prefix, std::size_t max_keys);

    // The next bytes of the answer, as they arrive.
    State feed(std::string_view bytes);
    State state() const { return state_; }
    // Why it failed: the server's own line ("BUSY currently processing crawler request"), or what
    // was malformed.
    const std::string& error() const { return error_; }
    std::vector<std::string> take_keys() { return std::move(keys_); }

  private:
    void line(std::string_view l);
    void fail(std::string why);

    std::string prefix_;
    std::size_t max_keys_;
    std::string partial_;
    std::vector<std::string> keys_;
    State state_ = State::More;
    std::string error_;
};

// The key of one metadump line, URI-decoded; nullopt when the line has no well-formed key.
std::optional<std::string> metadump_key(std::string_view line);

}  // namespace revalidator::worker
