#include "lanes.hpp"

#include <algorithm>

#include "counters.hpp"
#include "event_loop.hpp"
#include "runtime/log.hpp"

namespace revalidator::http {

int Server::Lanes::add(const LaneSpec& spec, metrics::Registry& registry) {
    auto lane = std::make_unique<Lane>();
    lane->spec = spec;
    lane->spec.threads = std::max(1, spec.threads);
    lane->spec.queue = std::max<std::size_t>(1, spec.queue);
    lane->spec.batch = std::max<std::size_t>(1, spec.batch);
    const std::string label = metrics::label("lane", spec.name);
    registry.gauge_fn(
        "revalidator_http_lane_queued", "Requests waiting for a thread of their lane",
        [queued = lane->queued] { return static_cast<double>(queued->load()); }, label);
    lane->refused =
        &registry.counter("revalidator_http_lane_busy_total",
                          "Requests refused 503 busy: their lane's queue was full", label);
    lanes_.push_back(std::move(lane));
    return static_cast<int>(lanes_.size() - 1);
}

void Server::Lanes::start() {
    for (auto& lane : lanes_) {
        std::lock_guard lock(lane->mu);
        if (!lane->threads.empty() || stopping_) continue;
        for (int i = 0; i < lane->spec.threads; ++i) {
            lane->threads.emplace_back([this, &l = *lane] { run(l); });
        }
    }
}

void Server::Lanes::stop() {
    stopping_ = true;
    for (auto& lane : lanes_) {
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(lane->mu);
            lane->queue.clear();
            lane->queued->store(0);
            threads.swap(lane->threads);
        }
        lane->cv.notify_all();
        for (auto& t : threads) t.join();
    }
}

bool Server::Lanes::submit(int id, Task& task) {
    Lane& lane = *lanes_.at(static_cast<std::size_t>(id));
    {
        std::lock_guard lock(lane.mu);
        if (stopping_ || lane.queue.size() >= lane.spec.queue) {
            lane.refused->inc();
            return false;
        }
        lane.queue.push_back(std::move(task));
        lane.queued->store(lane.queue.size());
    }
    lane.cv.notify_one();
    return true;
}

void Server::Lanes::busy(int id, Response& res) const {
    const LaneSpec& spec = lanes_.at(static_cast<std::size_t>(id))->spec;
    res.set_status(503);
    res.set_header("Retry-After", "1");
    res.set_content(
        error_body("busy", "all " + std::to_string(spec.threads) + " threads of the " + spec.name +
                               " lane are busy and " + std::to_string(spec.queue) +
                               " requests wait for them; retry shortly"),
        "application/json");
}

void Server::Lanes::run(Lane& lane) {
    std::vector<Task> tasks;
    while (true) {
        tasks.clear();
        {
            std::unique_lock lock(lane.mu);
            lane.cv.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
            if (stopping_) return;
            // A batch is of one batched route; any other request is taken alone.
            do {
                tasks.push_back(std::move(lane.queue.front()));
                lane.queue.pop_front();
            } while (tasks.size() < lane.spec.batch && !lane.queue.empty() &&
                     tasks.front().route->batch && !tasks.front().deferred &&
                     lane.queue.front().route == tasks.front().route &&
                     !lane.queue.front().deferred);
            lane.queued->store(lane.queue.size());
        }
        if (tasks.front().route->batch && !tasks.front().deferred) {
            answer_batch(tasks);
        } else {
            answer(tasks.front());
        }
    }
}

void Server::Lanes::answer(Task& task) {
    Response res;
    const bool ok = server_.router_->run(task.route->one, task.request, res);
    complete(task, res, !ok);
}

void Server::Lanes::answer_batch(std::vector<Task>& tasks) {
    std::vector<Exchange> batch;
    batch.reserve(tasks.size());
    for (const auto& t : tasks) batch.push_back({t.request, Response{}, false});
    try {
        tasks.front().route->batch(batch);
    } catch (const std::exception& e) {
        log::error("a batch handler failed; its requests are answered one by one",
                   {{"error", e.what()}, {"requests", tasks.size()}});
        for (auto& x : batch) x.deferred = true;
    } catch (...) {
        log::error("a batch handler failed; its requests are answered one by one",
                   {{"requests", tasks.size()}});
        for (auto& x : batch) x.deferred = true;
    }
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        if (!batch[i].deferred) {
            complete(tasks[i], batch[i].response, false);
            continue;
        }
        const int overflow = tasks[i].route->overflow;
        tasks[i].deferred = true;
        if (!submit(overflow, tasks[i])) {
            server_.counters_->refused("busy").inc();
            Response res;
            busy(overflow, res);
            complete(tasks[i], res, false);
        }
    }
}

void Server::Lanes::complete(Task& task, Response& res, bool failed) {
    const bool close = failed || task.last || task.request.wants_close();
    task.loop->complete(
        {task.fd, task.serial, server_.router_->finish(task.request, res, close), close});
}

}  // namespace revalidator::http
