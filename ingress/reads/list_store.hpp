// The list store: the assembled bytes of each list and view version the ingress serves, and their
// gzip (made once per version, when a client first asks for it), held once and shared by
// reference with every answer that sends them. It is keyed by the list's key and its version
// (shared/cache/list_version.hpp), a digest of the head's bytes, so it is only ever a cache of
// Memcached's bytes: a read learns the current version from the cache first (reads.hpp), and a
// version names one content.
//
// Bounded by `max_bytes` (the bytes and gzip of every version it keeps): past it, the least
// recently used versions go. A version larger than the bound alone is answered but not kept.
// Answers still being written hold their bytes after an eviction; --max-output-bytes bounds those
// (docs/read-api.md, "Capacity").
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "runtime/metrics.hpp"

namespace revalidator::ingress {

// One value as read, with its strong tag (etag.hpp); its gzip is made on first need and kept with
// it. Both are shared with the answers that send them.
class Body {
  public:
    // `gzipped_bytes`, when set, is told the size of the gzip once it is made.
    Body(std::string bytes, std::string etag,
         std::function<void(const Body&, std::size_t)> gzipped_bytes = {});

    const std::shared_ptr<const std::string>& bytes() const { return bytes_; }
    const std::string& etag() const { return etag_; }
    const std::shared_ptr<const std::string>& gzipped() const;

  private:
    const std::shared_ptr<const std::string> bytes_;
    const std::string etag_;
    const std::function<void(const Body&, std::size_t)> gzipped_bytes_;
    mutable std::once_flag gz_once_;
    mutable std::shared_ptr<const std::string> gz_;
};

class ListStore {
  public:
    ListStore(std::size_t max_bytes, metrics::Registry& registry);
    ListStore(const ListStore&) = delete;
    ListStore& operator=(const ListStore&) = delete;

    // The version `version` of the list under `list_key`, or null when it is not kept.
    std::shared_ptr<const Body> find(std::string_view list_key, std::string_view version);
    // `bytes`, read from the cache as version `version` of the list under `list_key`: kept, unless
    // larger than the bound, and returned with its tag.
    std::shared_ptr<const Body> keep(std::string_view list_key, const std::string& version,
                                     std::string bytes);

    std::size_t bytes() const;     // kept now: every version's bytes and the gzip made of them
    std::size_t versions() const;  // kept now

  private:
    struct Entry {
        std::string id;  // list key and version
        std::shared_ptr<const Body> body;
        std::size_t size = 0;
    };
    // Adds a gzip made for `body` to the total, if `body` is still kept.
    void grew(const std::string& id, const Body& body, std::size_t more);
    // Drops the least recently used entries until the total is within the bound. Under mu_.
    void evict();

    const std::size_t max_bytes_;
    metrics::Counter& evictions_;
    mutable std::mutex mu_;
    std::list<Entry> entries_;  // the most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
    std::size_t bytes_ = 0;
};

}  // namespace revalidator::ingress
