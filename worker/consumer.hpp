// The ZeroMQ adapter on the worker side: binds the PULL endpoint that every ingress connects to.
// receive() blocks for the first frame only, then takes whatever is already waiting, so a burst
// becomes one batch while a lone event is handled at once.
// With a CURVE secret key the PULL socket is a CURVE server: every connection is encrypted, and
// only clients that know the matching public key can complete the handshake. There is no client
// allowlist (no ZAP handler): any client holding the server's public key is accepted
// (docs/security.md).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "role_interfaces.hpp"

namespace revalidator::worker {

class Consumer : public Inbox {
  public:
    // `curve_secret_key`: Z85, validated by the caller; empty for plaintext (the default).
    Consumer(const std::string& endpoint, int receive_hwm,
             const std::string& curve_secret_key = {});
    ~Consumer() override;

    std::vector<std::string> receive(std::size_t max, std::chrono::milliseconds timeout) override;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::worker
