// The ingress process once configured: builds its parts (queue, publisher, authenticator, HTTP
// server), serves until SIGTERM or SIGINT, then drains in order (docs/operations.md, "Shutdown").
// Returns the process's exit code.
#pragma once

#include "ingress_config.hpp"

namespace revalidator::ingress {

int run(const Config& cfg);

}  // namespace revalidator::ingress
