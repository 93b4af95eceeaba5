#include "lease.hpp"

#include <pqxx/pqxx>

#include "log.hpp"

namespace revalidator::worker {

struct Lease::Impl {
    std::string url, name;
    std::unique_ptr<pqxx::connection> conn;
    bool held = false;
};

Lease::Lease(std::string url, std::string name) : impl_(std::make_unique<Impl>()) {
    impl_->url = std::move(url);
    impl_->name = std::move(name);
}

Lease::~Lease() = default;

bool Lease::try_acquire() {
    try {
        if (!impl_->conn || !impl_->conn->is_open())
            impl_->conn = std::make_unique<pqxx::connection>(impl_->url);
        pqxx::nontransaction tx(*impl_->conn);
        impl_->held =
            tx.exec_params1("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", impl_->name)[0]
                .as<bool>();
    } catch (const std::exception& e) {
        impl_->conn.reset();
        impl_->held = false;
        log::debug("lease not acquired", {{"lease", impl_->name}, {"error", e.what()}});
    }
    return impl_->held;
}

bool Lease::held() {
    if (!impl_->held || !impl_->conn) return false;
    try {
        pqxx::nontransaction tx(*impl_->conn);
        tx.exec("SELECT 1");
    } catch (const std::exception& e) {
        impl_->conn.reset();
        impl_->held = false;
        log::error("lease lost", {{"lease", impl_->name}, {"error", e.what()}});
    }
    return impl_->held;
}

}  // namespace revalidator::worker
