// `loadgen cache-writes`: how fast a batch of keys is written to Memcached, each key with its own
// outcome, by each way the worker could write them. One call writes --keys keys of about --bytes
// bytes (the same keys every time, as a batch of changed rows overwrites its keys). Every way
// writes once a round, in turn, for --repeat rounds, so that what else the machine does falls on
// all of them alike; the median of each is printed with its ratio to the first.
//
// The ways:
//   libmemcached N    memcached_set per key, one blocking round trip each, over N connections at
//                     once: the sink's set_many before the pipeline, which had N = 4 by default
//   sink (pipelined)  the worker's McSink::set_many: the meta protocol's quiet `ms`, pipelined on
//                     one socket per server (worker/mc_pipeline.hpp)

#include <libmemcached/memcached.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cache/mc_client.hpp"
#include "format.hpp"
#include "mc_sink.hpp"
#include "modes.hpp"

namespace loadgen {

namespace {

using revalidator::worker::CacheItem;
using revalidator::worker::WriteStatus;

struct CacheWritesOptions {
    std::string memcached = "127.0.0.1:11211";
    std::size_t keys = 10'000;
    std::size_t bytes = 600;
    unsigned repeat = 5;
    std::vector<int> connections{4, 8, 16};
    std::string only;  // measure only the ways whose name contains this
    std::string json;
};

struct Batch {
    std::vector<std::string> keys, values;
    std::vector<CacheItem> items;
};

Batch make_batch(std::size_t n, std::size_t bytes) {
    Batch b;
    for (std::size_t i = 0; i < n; ++i) {
        b.keys.push_back("/bench-writes/" + std::to_string(i));
        std::string v = "{\"id\": " + std::to_string(i) + ", \"body\": \"";
        v.resize(bytes > v.size() + 2 ? bytes - 2 : v.size(), 'x');
        b.values.push_back(v + "\"}");
    }
    for (std::size_t i = 0; i < n; ++i) b.items.push_back({b.keys[i], b.values[i]});
    return b;
}

// The sink's set_many before the pipeline: memcached_set per key over `lanes` handles at once.
class LibmemcachedLanes {
  public:
    LibmemcachedLanes(const std::string& servers, int lanes) {
        handles_.push_back(revalidator::connect_memcached(servers, revalidator::McTimeouts{}));
        for (int i = 1; i < lanes; ++i)
            handles_.push_back(revalidator::clone_memcached(handles_[0]));
    }
    ~LibmemcachedLanes() {
        for (auto* h : handles_) memcached_free(h);
    }
    LibmemcachedLanes(const LibmemcachedLanes&) = delete;
    LibmemcachedLanes& operator=(const LibmemcachedLanes&) = delete;

    std::size_t set_many(const std::vector<CacheItem>& items) {
        std::atomic<std::size_t> ok{0};
        auto lane = [&](std::size_t l) {
            for (std::size_t i = l; i < items.size(); i += handles_.size()) {
                const auto& it = items[i];
                if (memcached_set(handles_[l], it.key.data(), it.key.size(), it.value.data(),
                                  it.value.size(), 0, 0) == MEMCACHED_SUCCESS)
                    ++ok;
            }
        };
        std::vector<std::thread> threads;
        for (std::size_t l = 1; l < handles_.size(); ++l) threads.emplace_back(lane, l);
        lane(0);
        for (auto& t : threads) t.join();
        return ok;
    }

  private:
    std::vector<memcached_st*> handles_;
};

struct Way {
    std::string name;
    std::function<std::size_t()> write;  // keys written Ok
    std::vector<double> rates;           // keys/s, one per round
    std::size_t failed = 0;
};

int run_cache_writes(const CacheWritesOptions& o) {
    Batch b = make_batch(o.keys, o.bytes);
    std::cout << "cache-writes " << o.memcached << "  keys=" << thousands(o.keys)
              << " bytes=" << thousands(o.bytes) << ", " << o.repeat
              << " rounds (every way once a round, in turn)\n";
    std::vector<Way> ways;
    auto add = [&](const std::string& name, std::function<std::size_t()> write) {
        if (name.find(o.only) != std::string::npos) ways.push_back({name, std::move(write), {}, 0});
    };
    std::vector<std::unique_ptr<LibmemcachedLanes>> lanes;
    for (int n : o.connections) {
        auto* l = lanes.emplace_back(std::make_unique<LibmemcachedLanes>(o.memcached, n)).get();
        add("libmemcached " + std::to_string(n), [&b, l] { return l->set_many(b.items); });
    }
    revalidator::worker::McSink sink(o.memcached);
    add("sink (pipelined)", [&] {
        auto st = sink.set_many(b.items);
        return static_cast<std::size_t>(std::count(st.begin(), st.end(), WriteStatus::Ok));
    });
    // Connections opened and the keys in place: the rounds measure overwrites, as batches do.
    for (auto& w : ways) w.write();
    for (unsigned r = 0; r < o.repeat; ++r) {
        for (auto& w : ways) {
            auto t0 = std::chrono::steady_clock::now();
            std::size_t ok = w.write();
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            w.rates.push_back(static_cast<double>(b.items.size()) / s);
            w.failed += b.items.size() - ok;
        }
    }
    nlohmann::json out = nlohmann::json::array();
    double baseline = 0;
    for (auto& w : ways) {
        std::sort(w.rates.begin(), w.rates.end());
        double median = w.rates[w.rates.size() / 2];
        if (baseline == 0) baseline = median;
        std::cout << "  " << w.name << std::string(w.name.size() < 20 ? 20 - w.name.size() : 1, ' ')
                  << thousands(static_cast<std::uint64_t>(median)) << " keys/s  ("
                  << thousands(static_cast<std::uint64_t>(w.rates.front())) << " – "
                  << thousands(static_cast<std::uint64_t>(w.rates.back())) << ")  "
                  << fixed(median / baseline, 2) << "x"
                  << (w.failed == 0 ? "" : "  (" + thousands(w.failed) + " writes failed)") << "\n";
        out.push_back({{"way", w.name},
                       {"keys_per_s", median},
                       {"ratio", median / baseline},
                       {"all", w.rates},
                       {"failed", w.failed}});
    }
    write_json_file(o.json, {{"mode", "cache-writes"},
                             {"keys", o.keys},
                             {"bytes", o.bytes},
                             {"servers", o.memcached},
                             {"ways", out}});
    bool failed = std::any_of(ways.begin(), ways.end(), [](const Way& w) { return w.failed > 0; });
    return failed ? 1 : 0;
}

}  // namespace

void add_cache_writes_command(CLI::App& app) {
    auto o = std::make_shared<CacheWritesOptions>();
    auto* cmd = app.add_subcommand(
        "cache-writes", "write a batch of keys to Memcached each way the worker could, keys/s");
    cmd->add_option("--memcached", o->memcached, "servers, host:port[,host:port...]")
        ->capture_default_str();
    cmd->add_option("--keys", o->keys, "keys per batch")->capture_default_str();
    cmd->add_option("--bytes", o->bytes, "bytes per value")->capture_default_str();
    cmd->add_option("--repeat", o->repeat, "batches per way; the median is reported")
        ->capture_default_str();
    cmd->add_option("--connections", o->connections,
                    "libmemcached connections to try; the first is the baseline")
        ->capture_default_str();
    cmd->add_option("--only", o->only, "measure only the ways whose name contains this");
    cmd->add_option("--json", o->json, "also write the result as JSON to this file");
    cmd->callback([o] {
        if (o->keys == 0 || o->repeat == 0) throw CLI::ValidationError("--keys and --repeat > 0");
        if (int rc = run_cache_writes(*o)) throw CLI::RuntimeError(rc);
    });
}

}  // namespace loadgen
