// The whole system for integration tests: a real Postgres and Memcached, public.articles with a
// few rows, and the real worker and ingress binaries connected over ZeroMQ. Plus the clients a
// test needs: SQL, Memcached reads, webhooks over HTTP, and metric scrapes.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "servers.hpp"

namespace revalidator::testing {

inline constexpr const char* kSecret = "integration-secret";

struct StackOptions {
    std::vector<std::string> worker_args = {};
    std::vector<std::string> ingress_args = {};
};

class Stack {
  public:
    explicit Stack(StackOptions opts = {});
    ~Stack();

    // SQL on the source database; returns the first column of the first row (or nullopt).
    std::optional<std::string> sql(const std::string& query);
    std::vector<std::string> sql_column(const std::string& query);

    std::optional<std::string> cache_get(const std::string& key);
    void cache_set(const std::string& key, const std::string& value);

    // POST /revalidate with the secret and JSON content type.
    httplib::Result webhook(const std::string& body);
    static std::string webhook_body(const std::string& type, const nlohmann::json& record,
                                    const nlohmann::json& old_record);
    // A webhook body as Supabase sends it for the row as it is now (or as given for DELETE).
    std::string webhook_for(const std::string& type, const std::string& id);

    // Value of a metric series in the worker's /metrics (0 when absent).
    double worker_metric(const std::string& series);

    // What the cache must hold for `id` / the list, according to Postgres.
    std::optional<std::string> expected_row(const std::string& id);
    std::string expected_list();
    // Polls until the row key and the list equal Postgres.
    bool converges(const std::string& id,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));
    bool list_converges(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    void start_worker();
    void start_ingress();
    Process& worker() { return *worker_; }
    Process& ingress() { return *ingress_; }
    int ingress_port() const { return ingress_port_; }
    int worker_admin_port() const { return worker_admin_port_; }
    PostgresServer& postgres() { return *pg_; }
    MemcachedServer& memcached() { return *mc_; }
    std::string diagnostics();

  private:
    StackOptions opts_;
    TempDir dir_;
    std::unique_ptr<PostgresServer> pg_;
    std::unique_ptr<MemcachedServer> mc_;
    std::unique_ptr<Process> worker_, ingress_;
    int ingress_port_ = 0, worker_admin_port_ = 0, zmq_port_ = 0;
    struct Clients;
    std::unique_ptr<Clients> clients_;
};

}  // namespace revalidator::testing
