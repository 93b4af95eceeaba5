// Memcached's answer to `lru_crawler metadump all`: one line per item the server holds,
// "key=<key> exp=... la=... cas=... fetch=... cls=... size=...", keys URI-encoded (%2F for '/'),
// then "END". The anti-entropy pass lists the cache's keys with it (anti_entropy.hpp,
// KeyLister). Parsed apart from the socket so that hostile answers are unit-tested and fuzzed:
// what the cache says is input like any other.
//
// A server has one crawler. While it runs a crawl (another client's metadump, an operator's
// memcached-tool, or the server's own), the server answers "BUSY ..." (or, see crawler_running,
// does not answer) and lists nothing: the crawler is taken, not the server away, and the cache is
// not empty. dump_when_free sends the
// command again until the crawler is free (docs/operations.md, "Memcached's one crawler").
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/metrics.hpp"

namespace revalidator::worker {

class MetadumpReader {
  public:
    // Busy: the crawler is running another crawl; nothing was listed, and the command may be
    // sent again.
    enum class State { More, Done, Busy, Failed };

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
    bool first_line_ = true;
    std::vector<std::string> keys_;
    State state_ = State::More;
    std::string error_;
};

// The key of one metadump line, URI-decoded; nullopt when the line has no well-formed key.
std::optional<std::string> metadump_key(std::string_view line);

// Whether Memcached's `stats` answer says its LRU crawler is running ("STAT lru_crawler_running
// 1"); nullopt when the answer does not say. A metadump sent while another client's is stalled
// (a reader that stopped reading) gets no BUSY: it holds one of the server's threads, and every
// connection on it, until that crawl ends. So the lister asks first.
std::optional<bool> crawler_running(std::string_view stats);

// How dump_when_free waits for another crawl to end.
struct CrawlerWait {
    // Waits `d`; false when the wait was cut short (the process is stopping).
    std::function<bool(std::chrono::milliseconds)> pause;
    std::function<std::chrono::steady_clock::time_point()> now = std::chrono::steady_clock::now;
    std::chrono::milliseconds first_wait{50};  // doubled after each busy answer, up to max_wait
    std::chrono::milliseconds max_wait{1000};
    metrics::Counter* busy = nullptr;  // counts each busy answer
};

// Runs `dump` (one metadump of one server, read to its end: Done, Busy or Failed) again while the
// answer is Busy and the next wait ends before `deadline`. The last answer that is not Busy;
// nullopt when the crawler was still busy at the deadline, or a pause was cut short. What `dump`
// throws (the server away) goes through.
std::optional<MetadumpReader> dump_when_free(const std::function<MetadumpReader()>& dump,
                                             std::chrono::steady_clock::time_point deadline,
                                             const CrawlerWait& wait);

}  // namespace revalidator::worker
