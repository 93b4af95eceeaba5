// The whole system for integration tests: a real Postgres and Memcached, public.articles with a
// few rows, and the real worker and ingress binaries connected over ZeroMQ. Plus the clients a
// test needs: SQL, Memcached reads, webhooks over HTTP, and metric scrapes.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <iostream>

#include "servers.hpp"

namespace revalidator::testing {

inline constexpr const char* kSecret = "integration-secret";

// One response read off a raw socket: what httplib's client would refuse to send, or a request
// whose body the server must refuse before it is sent. status 0: no response (closed, timed out).
struct RawAnswer {
    int status = 0;
    std::string body;
};
// Sends `request` as it is to 127.0.0.1:`port` and reads one response (10 s at most).
RawAnswer raw_http(int port, const std::string& request);

struct StackOptions {
    std::vector<std::string> worker_args = {};
    std::vector<std::string> ingress_args = {};
    int workers = 1;                   // the first becomes active; the others wait as standbys
    int ingresses = 1;                 // each connects to every worker
    bool reads_from_postgres = false;  // ingresses answer read misses from Postgres
    int memcached_servers = 1;         // the worker and ingresses get them all (--memcached a,b,c)
    // The test's own cache reads (cache_get, cache_list, converges) go through twemproxy set up
    // as docs/cache-layout.md tells readers, instead of straight to the servers.
    bool read_through_twemproxy = false;
    // SQL run after public.articles is filled and before any process starts (e.g. another table).
    std::vector<std::string> setup_sql = {};
    // A second collection: public.authors (a uuid key, Supabase's default; name, version), listed
    // at /authors by name, with `workers` workers of its own after the articles' ones (worker
    // `workers` is its first). Every process then takes its tables from one config file of
    // [[collection]] tables (docs/configuration.md, "Collections") instead of the table flags.
    bool authors = false;
    // With `authors`: TOML appended to each one's [[collection]] ([[collection.view]] tables).
    std::string articles_views = {};
    std::string authors_views = {};
    // With `authors`: each of the `workers` workers serves both tables (--collection
    // articles,authors, an endpoint each) instead of each table having workers of its own.
    bool shared_workers = false;
    // HAProxy in front of the ingresses, configured by docker/haproxy.cfg (HaproxyServer).
    bool balancer = false;
};

class Stack {
  public:
    explicit Stack(StackOptions opts = {});
    ~Stack();

    // SQL on the source database; returns the first column of the first row (or nullopt).
    std::optional<std::string> sql(const std::string& query);
    std::vector<std::string> sql_column(const std::string& query);

    std::optional<std::string> cache_get(const std::string& key);
    // The same for many keys in few round trips (multi-gets): the keys present, with their values.
    std::map<std::string, std::string> cache_get_many(const std::vector<std::string>& keys);
    // The list as a reader sees it: the head, or the parts its manifest names, joined
    // (docs/cache-layout.md); nullopt when absent or a part is missing.
    std::optional<std::string> cache_list();
    void cache_set(const std::string& key, const std::string& value);
    void cache_delete(const std::string& key);

    // POST /revalidate with the secret and JSON content type, to ingress `i`.
    httplib::Result webhook(const std::string& body, int i = 0);
    static std::string webhook_body(const std::string& type, const nlohmann::json& record,
                                    const nlohmann::json& old_record,
                                    const std::string& table = "articles");
    // A webhook body as Supabase sends it for the row as it is now (or as given for DELETE).
    std::string webhook_for(const std::string& type, const std::string& id);

    // Value of a metric series in worker `i`'s /metrics (0 when absent or unreachable).
    double worker_metric(const std::string& series, int i = 0);
    double ingress_metric(const std::string& series, int i = 0);
    // Sum over every worker that answers: counters survive a failover this way.
    double workers_metric(const std::string& series);

    // What the cache must hold for `id` / the list, according to Postgres.
    std::optional<std::string> expected_row(const std::string& id);
    std::string expected_list();
    // Polls until the row key and the list equal Postgres.
    bool converges(const std::string& id,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));
    bool list_converges(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // (Re)starts worker / ingress `i` on its ports. `wait_ready`: until /readyz answers 200
    // (a standby never does; then only until /healthz answers).
    void start_worker(int i = 0, bool wait_ready = true);
    void start_ingress(int i = 0);
    Process& worker(int i = 0) { return *workers_.at(i).proc; }
    Process& ingress(int i = 0) { return *ingresses_.at(i).proc; }
    int ingress_port(int i = 0) const { return ingresses_.at(i).port; }
    int balancer_port() const { return balancer_->port(); }  // with `balancer`
    const std::string& balancer_ca_file() const { return balancer_->ca_file(); }
    int balancer_stats_port() const { return balancer_->stats_port(); }
    int worker_admin_port(int i = 0) const { return workers_.at(i).admin_port; }
    int worker_zmq_port(int i = 0) const { return workers_.at(i).zmq_port; }
    // The workers of `collection` that ingress `i` is connected to (its /readyz detail); -1 when
    // it does not answer.
    int ingress_worker_peers(const std::string& collection = "articles", int i = 0);
    // Index of the worker whose /readyz says active (of `collection`'s workers when given), or -1.
    int active_worker(const std::string& collection = "");
    PostgresServer& postgres() { return *pg_; }
    MemcachedServer& memcached(int i = 0) { return *mcs_.at(i); }
    // "host:port,host:port,...": what --memcached gets.
    std::string memcached_servers() const;
    std::string diagnostics();
    // The folder that holds every server's data, configuration and log.
    const std::string& dir() const { return dir_.path(); }
    // With `authors`: the config file of [[collection]] tables every process is given.
    const std::string& collections_file() const { return collections_file_; }

  private:
    StackOptions opts_;
    TempDir dir_;
    std::unique_ptr<PostgresServer> pg_;
    std::vector<std::unique_ptr<MemcachedServer>> mcs_;
    std::unique_ptr<TwemproxyServer> twemproxy_;
    struct Worker {
        std::unique_ptr<Process> proc;
        int admin_port, zmq_port;
        std::string collection;    // with `authors`: the [[collection]]s it serves, as --collection
        int authors_zmq_port = 0;  // with `shared_workers`: the authors' endpoint
        // Its endpoint for `collection`, or 0 when it does not serve it.
        int endpoint_port(const std::string& collection) const;
    };
    std::string collections_file_;
    struct Ingress {
        std::unique_ptr<Process> proc;
        int port;
    };
    std::vector<Worker> workers_;
    std::vector<Ingress> ingresses_;
    std::unique_ptr<HaproxyServer> balancer_;
    struct Clients;
    std::unique_ptr<Clients> clients_;
};

// Value of a metric series in the /metrics of the server on `port` (0 when absent or unreachable).
double scrape(int port, const std::string& series);

// The SQL of schema/`name` (e.g. "canary.sql").
std::string schema_file(const std::string& name);
// The canary's trigger of one collection, for the stand-in sender (schema/stand_in_sender.sql): a
// copy of that collection's hook, as on Supabase (docs/supabase.md, "The canary's trigger"). The
// canary never deletes, and DELETE has no NEW.
std::string canary_trigger(const std::string& collection);

// Runs `command` (a binary and the arguments every case shares) followed by a bad configuration:
// it must exit 64 (EX_USAGE) within 10 s, name `named` in its message, and never log `started`
// (the line it logs once it serves). `log` is its output.
struct BadConfiguration {
    std::vector<std::string> args;  // after `command`
    std::string named;              // the setting the message must name
    std::vector<std::string> env = {};
};
void expect_refused(const std::vector<std::string>& command, const BadConfiguration& bad,
                    const std::string& log, const std::string& started);

// A suite whose tests share one Stack: started before the first test, stopped after the last, its
// diagnostics printed after a failing test. `Options::get()` gives the Stack's options.
template <class Options>
class SharedStack : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { stack = new Stack(Options::get()); }
    static void TearDownTestSuite() {
        delete stack;
        stack = nullptr;
    }
    void TearDown() override {
        if (HasFailure()) std::cerr << stack->diagnostics() << "\n";
    }
    static inline Stack* stack = nullptr;
};

}  // namespace revalidator::testing
