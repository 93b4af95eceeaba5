// The ZeroMQ adapter on the worker side: binds the PULL endpoint that every ingress connects to.
// receive() blocks for the first frame only, then takes whatever is already waiting, so a burst
// becomes one batch while a lone event is handled at once.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace revalidator::worker {

class Consumer {
  public:
    Consumer(const std::string& endpoint, int receive_hwm);
    ~Consumer();

    std::vector<std::string> receive(std::size_t max, std::chrono::milliseconds timeout);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::worker
