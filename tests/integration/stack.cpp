#include "stack.hpp"

#include <gtest/gtest.h>
#include <libmemcached/memcached.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <pqxx/pqxx>
#include <span>
#include <sstream>
#include <stdexcept>

#include "cache/mc_gets.hpp"
#include "raw_http.hpp"

namespace revalidator::testing {

namespace {

// The schema every user loads (schema/articles.sql), read at run time so that there is one copy.
std::string read_file(const char* path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(std::string("cannot read ") + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

// Tests read and write from several threads; neither client handle is thread-safe.
struct Stack::Clients {
    std::mutex db_mu, mc_mu;
    std::string url;
    std::unique_ptr<pqxx::connection> conn;
    memcached_st* mc = nullptr;

    // Reconnects after a Postgres restart (the outage tests stop it on purpose).
    template <class F>
    auto with_db(F&& f) {
        std::lock_guard lock(db_mu);
        for (int attempt = 0;; ++attempt) {
            try {
                if (!conn || !conn->is_open()) conn = std::make_unique<pqxx::connection>(url);
                pqxx::work tx(*conn);
                auto r = tx.exec(f());
                tx.commit();
                return r;
            } catch (const pqxx::broken_connection&) {
                conn.reset();
                if (attempt == 2) throw;
            }
        }
    }
    ~Clients() {
        if (mc) memcached_free(mc);
    }
};

Stack::Stack(StackOptions opts) : opts_(std::move(opts)), clients_(std::make_unique<Clients>()) {
    pg_ = std::make_unique<PostgresServer>(dir_.path());
    for (int i = 0; i < opts_.memcached_servers; ++i) {
        mcs_.push_back(std::make_unique<MemcachedServer>(
            dir_.path(), i == 0 ? "memcached" : "memcached" + std::to_string(i)));
    }
    clients_->url = pg_->url();
    clients_->mc = memcached_create(nullptr);
    if (opts_.read_through_twemproxy) {
        std::vector<std::string> servers;
        for (const auto& mc : mcs_) servers.push_back(mc->address());
        twemproxy_ = std::make_unique<TwemproxyServer>(dir_.path(), servers);
        memcached_server_add(clients_->mc, "127.0.0.1", static_cast<in_port_t>(twemproxy_->port()));
    } else {
        for (const auto& mc : mcs_) {
            memcached_server_add(clients_->mc, "127.0.0.1", static_cast<in_port_t>(mc->port()));
        }
        // As docs/cache-layout.md tells a libmemcached reader of several servers.
        memcached_behavior_set(clients_->mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
    }
    sql(read_file(REVALIDATOR_SCHEMA_SQL));
    sql("INSERT INTO public.articles (title, body) SELECT 'Article ' || g, 'Body of ' || g "
        "FROM generate_series(1, 5) g");
    for (const auto& query : opts_.setup_sql) sql(query);
    if (opts_.shared_workers) {
        for (int i = 0; i < opts_.workers; ++i) {
            workers_.push_back(
                {nullptr, free_port(), free_port(), "articles,authors", free_port()});
        }
    }
    for (const char* collection : {"articles", "authors"}) {
        if (opts_.shared_workers) break;
        if (!opts_.authors && collection == std::string("authors")) break;
        for (int i = 0; i < opts_.workers; ++i) {
            workers_.push_back(
                {nullptr, free_port(), free_port(), opts_.authors ? collection : ""});
        }
    }
    if (opts_.authors) {
        sql("CREATE TABLE public.authors (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text "
            "NOT NULL, version integer NOT NULL DEFAULT 1)");
        sql("INSERT INTO public.authors (name) SELECT 'Author ' || g FROM generate_series(1, 5) g");
        collections_file_ = dir_.path() + "/collections.toml";
        std::ofstream file(collections_file_);
        for (const char* collection : {"articles", "authors"}) {
            file << "[[collection]]\nname = \"" << collection << "\"\ntable = \"public."
                 << collection << "\"\n"
                 << (collection == std::string("authors") ? "order-by = \"name\"\n" : "")
                 << "workers = [";
            std::string sep;
            for (const auto& w : workers_) {
                if (int port = w.endpoint_port(collection)) {
                    file << sep << "\"tcp://127.0.0.1:" << port << "\"";
                    sep = ", ";
                }
            }
            file << "]\n\n";
            file << (collection == std::string("articles") ? opts_.articles_views
                                                           : opts_.authors_views)
                 << "\n";
        }
    }
    for (int i = 0; i < opts_.ingresses; ++i) ingresses_.push_back({nullptr, free_port()});
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        start_worker(static_cast<int>(i), i % static_cast<std::size_t>(opts_.workers) == 0);
    }
    for (int i = 0; i < opts_.ingresses; ++i) start_ingress(i);
    if (opts_.balancer) {
        std::vector<int> ports;
        for (const auto& in : ingresses_) ports.push_back(in.port);
        balancer_ = std::make_unique<HaproxyServer>(dir_.path(), REVALIDATOR_HAPROXY_CFG, ports);
    }
}

namespace {

// SIGTERM must drain and exit 0; under the sanitizer build a leak or UB report changes the exit
// code, so this is also where the binaries' own sanitizer findings fail a test.
void expect_clean_exit(std::unique_ptr<Process>& proc, const std::string& name) {
    if (!proc || !proc->alive()) return;
    int status = proc->stop(SIGTERM);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ADD_FAILURE() << name << " did not exit cleanly on SIGTERM (wait status " << status
                      << "):\n"
                      << proc->log_tail();
    }
    proc.reset();
}

}  // namespace

Stack::~Stack() {
    for (std::size_t i = 0; i < ingresses_.size(); ++i)
        expect_clean_exit(ingresses_[i].proc, "ingress " + std::to_string(i));
    for (std::size_t i = 0; i < workers_.size(); ++i)
        expect_clean_exit(workers_[i].proc, "worker " + std::to_string(i));
}

namespace {

bool answers(int port, const char* path, const std::function<bool()>& gave_up) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(1, 0);
    return eventually(
        [&] {
            auto r = c.Get(path);
            return (r && r->status == 200) || gave_up();
        },
        std::chrono::seconds(30));
}

}  // namespace

int Stack::Worker::endpoint_port(const std::string& served) const {
    if (authors_zmq_port) return served == "authors" ? authors_zmq_port : zmq_port;
    return collection == served ? zmq_port : 0;
}

void Stack::start_worker(int i, bool wait_ready) {
    Worker& w = workers_.at(i);
    std::string bind = "tcp://127.0.0.1:" + std::to_string(w.zmq_port);
    if (w.authors_zmq_port) bind += ",tcp://127.0.0.1:" + std::to_string(w.authors_zmq_port);
    std::vector<std::string> argv{WORKER_BIN,
                                  "--postgres-url",
                                  pg_->url(),
                                  "--memcached",
                                  memcached_servers(),
                                  "--bind",
                                  bind,
                                  "--admin-port",
                                  std::to_string(w.admin_port),
                                  "--retry-max-ms",
                                  "500",
                                  "--takeover-delay-ms",
                                  "200"};
    if (!w.collection.empty()) {
        argv.insert(argv.end(), {"--config", collections_file_, "--collection", w.collection});
    }
    argv.insert(argv.end(), opts_.worker_args.begin(), opts_.worker_args.end());
    w.proc.reset();
    w.proc = std::make_unique<Process>(argv, dir_.path() + "/worker" + std::to_string(i) + ".log");
    bool up = answers(w.admin_port, wait_ready ? "/readyz" : "/healthz",
                      [&] { return !w.proc->alive(); });
    if (!up || !w.proc->alive())
        throw std::runtime_error("worker not ready:\n" + w.proc->log_tail());
}

void Stack::start_ingress(int i) {
    Ingress& in = ingresses_.at(i);
    std::string endpoints;
    for (const auto& w : workers_) {
        endpoints += (endpoints.empty() ? "" : ",") + std::string("tcp://127.0.0.1:") +
                     std::to_string(w.zmq_port);
    }
    std::vector<std::string> argv{INGRESS_BIN,
                                  "--port",
                                  std::to_string(in.port),
                                  "--instance-id",
                                  "it-ingress-" + std::to_string(i),
                                  "--memcached",
                                  memcached_servers()};
    if (opts_.authors) {
        argv.insert(argv.end(), {"--config", collections_file_});
    } else {
        argv.insert(argv.end(), {"--worker-endpoint", endpoints});
    }
    if (opts_.reads_from_postgres) {
        argv.insert(argv.end(), {"--read-postgres-url", pg_->url()});
    }
    argv.insert(argv.end(), opts_.ingress_args.begin(), opts_.ingress_args.end());
    in.proc.reset();
    in.proc = std::make_unique<Process>(
        argv, dir_.path() + "/ingress" + std::to_string(i) + ".log",
        ProcessOptions{.extra_env = {std::string("REVALIDATOR_SECRET=") + kSecret}});
    bool up = answers(in.port, "/healthz", [&] { return !in.proc->alive(); });
    if (!up || !in.proc->alive())
        throw std::runtime_error("ingress not ready:\n" + in.proc->log_tail());
}

std::string Stack::memcached_servers() const {
    std::string out;
    for (const auto& mc : mcs_) out += (out.empty() ? "" : ",") + mc->address();
    return out;
}

int Stack::ingress_worker_peers(const std::string& collection, int i) {
    httplib::Client c("127.0.0.1", ingresses_.at(i).port);
    c.set_read_timeout(1, 0);
    auto r = c.Get("/readyz");
    if (!r) return -1;
    auto body = nlohmann::json::parse(r->body, nullptr, false);
    if (!body.is_object()) return -1;
    return body.value("/detail/worker_peers"_json_pointer / collection, -1);
}

int Stack::active_worker(const std::string& collection) {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        if (!collection.empty() && !workers_[i].endpoint_port(collection)) continue;
        httplib::Client c("127.0.0.1", workers_[i].admin_port);
        c.set_read_timeout(1, 0);  // a frozen worker accepts but never answers
        auto r = c.Get("/readyz");
        if (!r) continue;
        auto detail = nlohmann::json::parse(r->body, nullptr, false)
                          .value("detail", nlohmann::json::object());
        // A worker serving several tables has the detail of each under "collections".
        if (detail.contains("collections")) {
            detail = detail["collections"].value(collection.empty() ? "articles" : collection,
                                                 nlohmann::json::object());
        }
        if (detail.is_object() && detail.value("role", "") == "active") {
            return static_cast<int>(i);
        }
    }
    return -1;
}

std::optional<std::string> Stack::sql(const std::string& query) {
    auto r = clients_->with_db([&] { return query; });
    if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return std::nullopt;
    return r[0][0].as<std::string>();
}

std::vector<std::string> Stack::sql_column(const std::string& query) {
    auto r = clients_->with_db([&] { return query; });
    std::vector<std::string> out;
    for (const auto& row : r) out.push_back(row[0].as<std::string>());
    return out;
}

std::optional<std::string> Stack::cache_get(const std::string& key) {
    std::lock_guard lock(clients_->mc_mu);
    auto got = mc_get(clients_->mc, key);
    if (got.status != McLookup::Status::Found) return std::nullopt;
    return std::move(got.value);
}

std::map<std::string, std::string> Stack::cache_get_many(const std::vector<std::string>& keys) {
    std::map<std::string, std::string> out;
    std::lock_guard lock(clients_->mc_mu);
    const std::span<const std::string> all(keys);
    for (std::size_t from = 0; from < keys.size(); from += 100) {
        const auto batch = all.subspan(from, std::min<std::size_t>(100, keys.size() - from));
        // A server that fails leaves its keys out of the answer; the others still come.
        auto got = mc_hits(clients_->mc, batch);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (got[i]) out.emplace(batch[i], std::move(*got[i]));
        }
    }
    return out;
}

void Stack::cache_set(const std::string& key, const std::string& value) {
    std::lock_guard lock(clients_->mc_mu);
    memcached_set(clients_->mc, key.data(), key.size(), value.data(), value.size(), 0, 0);
}

void Stack::cache_delete(const std::string& key) {
    std::lock_guard lock(clients_->mc_mu);
    memcached_delete(clients_->mc, key.data(), key.size(), 0);
}

httplib::Result Stack::webhook(const std::string& body, int i) {
    httplib::Client c("127.0.0.1", ingress_port(i));
    c.set_read_timeout(5, 0);
    httplib::Headers h{{"Authorization", std::string("Bearer ") + kSecret}};
    return c.Post("/revalidate", h, body, "application/json");
}

std::string Stack::webhook_body(const std::string& type, const nlohmann::json& record,
                                const nlohmann::json& old_record, const std::string& table) {
    return nlohmann::json{{"type", type},
                          {"table", table},
                          {"schema", "public"},
                          {"record", record},
                          {"old_record", old_record}}
        .dump();
}

std::string Stack::webhook_for(const std::string& type, const std::string& id) {
    auto row = expected_row(id);
    nlohmann::json rec = row ? nlohmann::json::parse(*row) : nlohmann::json{{"id", std::stoll(id)}};
    if (type == "DELETE") return webhook_body(type, nullptr, rec);
    if (type == "INSERT") return webhook_body(type, rec, nullptr);
    return webhook_body(type, rec, rec);
}

double Stack::workers_metric(const std::string& series) {
    double sum = 0;
    for (std::size_t i = 0; i < workers_.size(); ++i)
        sum += worker_metric(series, static_cast<int>(i));
    return sum;
}

std::string schema_file(const std::string& name) {
    return read_file((std::filesystem::path(REVALIDATOR_SCHEMA_SQL).parent_path() / name).string());
}

std::string canary_trigger(const std::string& collection) {
    return "CREATE TRIGGER canary_" + collection +
           " AFTER INSERT OR UPDATE ON revalidator.canary FOR EACH ROW WHEN (new.collection = '" +
           collection + "') EXECUTE FUNCTION revalidator.queue_webhook()";
}

double scrape(int port, const std::string& series) {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get("/metrics");
    if (!r) return 0;
    std::istringstream lines(r->body);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return 0;
}

double Stack::worker_metric(const std::string& series, int i) {
    return scrape(worker_admin_port(i), series);
}

double Stack::ingress_metric(const std::string& series, int i) {
    return scrape(ingress_port(i), series);
}

std::optional<std::string> Stack::expected_row(const std::string& id) {
    return sql("SELECT to_jsonb(t)::text FROM public.articles t WHERE id = " +
               pqxx::to_string(std::stoll(id)));
}

std::string Stack::expected_list() {
    return *sql(
        "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id)::text, '[]') FROM public.articles t");
}

std::optional<std::string> Stack::cache_list() {
    auto head = cache_get("/articles");
    if (!head || head->empty() || head->front() != '{') return head;
    auto manifest = nlohmann::json::parse(*head, nullptr, false);
    if (!manifest.is_object() || !manifest.contains("parts")) return head;
    std::string list;
    for (const auto& key : manifest["parts"]) {
        auto part = key.is_string() ? cache_get(key.get<std::string>()) : std::nullopt;
        if (!part) return std::nullopt;  // torn: a part is missing
        list += *part;
    }
    return list;
}

bool Stack::converges(const std::string& id, std::chrono::milliseconds timeout) {
    return eventually(
        [&] {
            return cache_get("/articles/" + id) == expected_row(id) &&
                   cache_list() == expected_list();
        },
        timeout);
}

bool Stack::list_converges(std::chrono::milliseconds timeout) {
    return eventually([&] { return cache_list() == expected_list(); }, timeout);
}

// Sends raw bytes and reads one response: what httplib's client would refuse to send.
RawAnswer raw_http(int port, const std::string& request) {
    static const std::string kLength = "Content-Length: ";
    std::size_t head_end = std::string::npos, length = 0;
    const auto whole = [&](const std::string& in) {
        head_end = in.find("\r\n\r\n");
        const auto at = in.find(kLength);
        if (head_end == std::string::npos || at == std::string::npos || at > head_end) return false;
        length = std::stoul(in.substr(at + kLength.size()));
        return in.size() >= head_end + 4 + length;
    };
    const RawExchange e = raw_exchange(port, request, whole);
    RawAnswer a;
    if (e.received.rfind("HTTP/1.1 ", 0) == 0) a.status = std::stoi(e.received.substr(9, 3));
    if (head_end != std::string::npos) a.body = e.received.substr(head_end + 4, length);
    return a;
}

std::string Stack::diagnostics() {
    std::string out;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
        if (workers_[i].proc)
            out +=
                "--- worker " + std::to_string(i) + " ---\n" + workers_[i].proc->log_tail() + "\n";
    }
    for (std::size_t i = 0; i < ingresses_.size(); ++i) {
        if (ingresses_[i].proc)
            out += "--- ingress " + std::to_string(i) + " ---\n" + ingresses_[i].proc->log_tail() +
                   "\n";
    }
    return out;
}

void expect_refused(const std::vector<std::string>& command, const BadConfiguration& bad,
                    const std::string& log, const std::string& started) {
    std::vector<std::string> argv = command;
    argv.insert(argv.end(), bad.args.begin(), bad.args.end());
    std::string what;
    for (const auto& e : bad.env) what += e + " ";
    for (const auto& a : argv) what += a + " ";
    Process p(argv, log, {.extra_env = bad.env});
    const auto code = p.wait_for(std::chrono::seconds(10));
    const std::string out = read_file(log);
    if (!code) {
        ADD_FAILURE() << what << ": still running after 10 s\n" << out;
        return;
    }
    EXPECT_EQ(*code, 64) << what << "\n" << out;
    EXPECT_NE(out.find(bad.named), std::string::npos) << what << ": names no " << bad.named << "\n"
                                                      << out;
    EXPECT_EQ(out.find(started), std::string::npos) << what << "\n" << out;
}

}  // namespace revalidator::testing
