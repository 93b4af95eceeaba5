#include "traffic.hpp"

#include <algorithm>
#include <iostream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

namespace revalidator::cluster {

using nlohmann::json;

namespace {

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A row's id as its key has it: a bigint is a JSON number, a uuid a string.
std::string id_text(const json& id) {
    return id.is_string() ? id.get<std::string>() : id.dump();
}

// A kept-alive HTTPS connection to the balancer that trusts its certificate alone and checks it
// names the address connected to, as a sender given the CA file would.
httplib::Client connect(const Balancer& balancer) {
    httplib::Client client("https://127.0.0.1:" + std::to_string(balancer.port));
    client.set_ca_cert_path(balancer.ca_file);
    client.enable_server_certificate_verification(true);
    client.set_connection_timeout(1, 0);
    // Longer than the balancer's own server timeout: a missing answer is the balancer's to give.
    client.set_read_timeout(10, 0);
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);  // as curl (pg_net) sends: headers and body without Nagle's wait
    return client;
}

}  // namespace

Sender::Sender(const Balancer& balancer, const std::string& secret, SendCounts& counts,
               Samples& ack_ms)
    : client_(connect(balancer)),
      auth_{{"Authorization", "Bearer " + secret}},
      counts_(counts),
      ack_ms_(ack_ms) {}

bool Sender::send(const std::string& body) {
    ++counts_.webhooks;
    const auto t0 = Clock::now();
    bool answered = false;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        auto r = client_.Post("/revalidate", auth_, body, "application/json");
        if (!r) {
            ++counts_.attempts_unanswered;
            answered = false;
            continue;
        }
        answered = true;
        if (r->status == 202) {
            ack_ms_.add(t0, ms_since(t0));
            ++(attempt == 0 ? counts_.acked_first_try : counts_.acked_after_retry);
            return true;
        }
        if (r->status != 503) {
            ++counts_.rejected;
            std::cerr << "webhook rejected with " << r->status << ": " << r->body << "\n";
            return false;
        }
        ++counts_.attempts_503;
        // The sender's own back-off, as the answer asks: not a synchronisation.
        const int after_s = std::clamp(std::atoi(r->get_header_value("Retry-After").c_str()), 1, 2);
        std::this_thread::sleep_for(std::chrono::seconds(after_s));
    }
    ++(answered ? counts_.refused_for_good : counts_.unanswered_for_good);
    return false;
}

Reader::Reader(const Balancer& balancer, const ChangeLog& log, ReadCounts& counts, Samples& read_ms)
    : client_(connect(balancer)), log_(log), counts_(counts), read_ms_(read_ms) {}

void Reader::wrong(const ReadTarget& target, const std::string& why, const std::string& body) {
    if (++counts_.wrong <= 20) {
        std::cerr << "wrong read of " << target.path << ": " << why << ": " << body.substr(0, 300)
                  << "\n";
    }
}

void Reader::read(const ReadTarget& target) {
    ++counts_.reads;
    const auto t0 = Clock::now();
    auto r = client_.Get(target.path);
    if (!r) {
        ++counts_.failed;
        return;
    }
    read_ms_.add(t0, ms_since(t0));
    if (r->status == 404 && !target.list) {
        ++counts_.not_found;
        return;
    }
    if (r->status == 503) {
        ++counts_.refused;
        return;
    }
    if (r->status != 200) {
        ++counts_.failed;
        std::cerr << "read of " << target.path << " answered " << r->status << "\n";
        return;
    }
    ++counts_.ok;
    const json body = json::parse(r->body, nullptr, false);
    if (!target.list) {
        const std::string id = target.path.substr(target.prefix.size() + 1);
        if (!body.is_object() || !body.contains("id") || id_text(body["id"]) != id) {
            return wrong(target, "not the row asked for", r->body);
        }
        const int version = body.value("version", 0);
        if (log_.newer_shown_before(target.path, version, t0)) {
            wrong(target, "version " + std::to_string(version) + " older than the cache showed",
                  r->body);
        }
        return;
    }
    if (!body.is_array()) return wrong(target, "not a list", r->body);
    if (target.limit > 0 && body.size() > target.limit) {
        return wrong(target, "more rows than the view's limit", r->body);
    }
    std::set<std::string> ids;
    const json* prev = nullptr;
    for (const auto& row : body) {
        if (!row.is_object() || !row.contains("id") || !ids.insert(id_text(row["id"])).second) {
            return wrong(target, "not a list of distinct rows", r->body);
        }
        if (prev) {
            bool in_order = true;
            if (target.order == "id") {
                in_order = (*prev)["id"].get<long>() < row["id"].get<long>();
            } else if (target.order == "name") {
                in_order = std::pair(prev->value("name", ""), id_text((*prev)["id"])) <
                           std::pair(row.value("name", ""), id_text(row["id"]));
            } else if (target.order == "published") {
                const auto a = prev->value("published_at", ""), b = row.value("published_at", "");
                in_order = a > b || (a == b && (*prev)["id"].get<long>() < row["id"].get<long>());
            }
            if (!in_order) return wrong(target, "rows out of order", r->body);
        }
        prev = &row;
    }
}

}  // namespace revalidator::cluster
