#include "list_store.hpp"

#include "gzip.hpp"

namespace revalidator::ingress {

namespace {

std::string id_of(std::string_view list_key, std::string_view version) {
    std::string id(list_key);
    id += ' ';  // a key holds no space (cache_key.hpp): the two parts cannot run together
    id += version;
    return id;
}

}  // namespace

Body::Body(std::string bytes, std::string etag,
           std::function<void(const Body&, std::size_t)> gzipped_bytes)
    : bytes_(std::make_shared<const std::string>(std::move(bytes))),
      etag_(std::move(etag)),
      gzipped_bytes_(std::move(gzipped_bytes)) {}

const std::shared_ptr<const std::string>& Body::gzipped() const {
    std::call_once(gz_once_, [this] {
        gz_ = std::make_shared<const std::string>(gzip(*bytes_));
        if (gzipped_bytes_) gzipped_bytes_(*this, gz_->size());
    });
    return gz_;
}

ListStore::ListStore(std::size_t max_bytes, metrics::Registry& registry)
    : max_bytes_(max_bytes),
      evictions_(registry.counter("revalidator_ingress_list_store_evictions_total",
                                  "List versions the list store let go to stay within its bound")) {
    registry.gauge_fn("revalidator_ingress_list_store_bytes",
                      "Bytes of list versions, and of their gzip, the list store holds",
                      [this] { return static_cast<double>(bytes()); });
    registry.gauge_fn("revalidator_ingress_list_store_versions",
                      "List versions the list store holds",
                      [this] { return static_cast<double>(versions()); });
}

std::shared_ptr<const Body> ListStore::find(std::string_view list_key, std::string_view version) {
    const std::string id = id_of(list_key, version);
    std::lock_guard lock(mu_);
    auto it = index_.find(id);
    if (it == index_.end()) return nullptr;
    entries_.splice(entries_.begin(), entries_, it->second);
    return it->second->body;
}

std::shared_ptr<const Body> ListStore::keep(std::string_view list_key, const std::string& version,
                                            std::string bytes) {
    std::string id = id_of(list_key, version);
    const std::size_t size = bytes.size();
    auto body = std::make_shared<const Body>(
        std::move(bytes), "\"" + version + "\"",
        [this, id](const Body& b, std::size_t more) { grew(id, b, more); });
    if (size > max_bytes_) return body;
    std::lock_guard lock(mu_);
    if (auto it = index_.find(id); it != index_.end()) {
        // Another read assembled the same version meanwhile: the one kept is answered.
        entries_.splice(entries_.begin(), entries_, it->second);
        return it->second->body;
    }
    entries_.push_front({id, body, size});
    index_.emplace(std::move(id), entries_.begin());
    bytes_ += size;
    evict();
    return body;
}

void ListStore::grew(const std::string& id, const Body& body, std::size_t more) {
    std::lock_guard lock(mu_);
    auto it = index_.find(id);
    if (it == index_.end() || it->second->body.get() != &body) return;
    it->second->size += more;
    bytes_ += more;
    evict();
}

void ListStore::evict() {
    while (bytes_ > max_bytes_ && !entries_.empty()) {
        const Entry& last = entries_.back();
        bytes_ -= last.size;
        index_.erase(last.id);
        entries_.pop_back();
        evictions_.inc();
    }
}

std::size_t ListStore::bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
}

std::size_t ListStore::versions() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

}  // namespace revalidator::ingress
