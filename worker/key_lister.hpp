// Lists the keys a Memcached cluster holds under a prefix (KeyLister, repair_sources.hpp), with
// `lru_crawler metadump all` sent to each server over its own short-lived connection: libmemcached
// has no call for it. Every wait is bounded: connecting and each read by `io`, the whole listing
// of one server by `total`, so a frozen server costs the pass at most `total` and then a pass
// without the listing. The answer is parsed by MetadumpReader (metadump.hpp); a server whose
// crawler is busy with another crawl is asked again within `total` (dump_when_free).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "cache/server_list.hpp"
#include "metadump.hpp"
#include "repair_sources.hpp"

namespace revalidator::worker {

class McKeyLister final : public KeyLister {
  public:
    McKeyLister(std::vector<HostPort> servers, std::chrono::milliseconds io,
                std::chrono::milliseconds total, std::size_t max_keys, CrawlerWait wait);

    std::optional<std::vector<std::string>> keys(std::string_view prefix) override;

  private:
    std::vector<HostPort> servers_;
    std::chrono::milliseconds io_, total_;
    std::size_t max_keys_;
    CrawlerWait wait_;
    // Each logged once when listing starts failing (or finding the crawler busy), once when it
    // works again.
    bool failing_ = false;
    bool busy_ = false;
};

}  // namespace revalidator::worker
