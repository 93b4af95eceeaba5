// The cluster scenario's clients, as a site's would be, all through the load balancer over HTTPS
// (its certificate verified): a webhook sender that retries as a careful sender does, and a reader
// that checks every answer against what the read API promises (docs/read-api.md). Each records
// its latencies with the time they were taken, so that the report can split them into during and
// outside faults.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>

#include "change_log.hpp"
#include "samples.hpp"

namespace revalidator::cluster {

// Where the balancer listens (HTTPS on loopback), and the certificate it must present.
struct Balancer {
    int port;
    std::string ca_file;
};

struct SendCounts {
    std::atomic<long> webhooks{0}, acked_first_try{0}, acked_after_retry{0}, refused_for_good{0},
        unanswered_for_good{0}, rejected{0}, attempts_503{0}, attempts_unanswered{0};
};

// POSTs webhooks to the balancer. A 503 is tried again after its Retry-After (1 to 2 s), an
// attempt without an answer at once, five attempts in all: a sender as docs/deployment.md asks
// for, which rides out a few seconds without an ingress. Anything else (a 4xx) is a rejection:
// the scenario only sends valid webhooks.
class Sender {
  public:
    static constexpr int kAttempts = 5;
    Sender(const Balancer& balancer, const std::string& secret, SendCounts& counts,
           Samples& ack_ms);
    bool send(const std::string& body);  // true: acknowledged (202)

  private:
    httplib::Client client_;
    httplib::Headers auth_;
    SendCounts& counts_;
    Samples& ack_ms_;
};

struct ReadCounts {
    std::atomic<long> reads{0}, ok{0}, not_found{0}, refused{0}, failed{0}, wrong{0};
};

// What a read of `path` must answer: a row of the table under `prefix`, or a list of its rows
// in `order` ("id": by the numeric id; "name": by name then id; "published": by published_at
// descending then id), at most `limit` rows when limit > 0.
struct ReadTarget {
    std::string path;
    std::string prefix;  // of the row keys; the row's id follows "prefix/"
    bool list = false;
    std::string order = {};
    std::size_t limit = 0;
};

// GETs through the balancer and checks each answer. Wrong: a body that is not the row asked for
// (or not a list of the table's rows, in order, without duplicates, within its limit), or a row
// older than a version the cache had already shown before the read began (the ChangeLog knows).
class Reader {
  public:
    Reader(const Balancer& balancer, const ChangeLog& log, ReadCounts& counts, Samples& read_ms);
    void read(const ReadTarget& target);

  private:
    void wrong(const ReadTarget& target, const std::string& why, const std::string& body);

    httplib::Client client_;
    const ChangeLog& log_;
    ReadCounts& counts_;
    Samples& read_ms_;
};

}  // namespace revalidator::cluster
