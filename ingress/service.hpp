// The ingress process once configured: builds its parts (the authenticator, the HTTP server, and
// one lane per collection with its queue, publisher and reads: collection_lane.hpp), serves until
// SIGTERM or SIGINT, then drains in order (docs/operations.md, "Shutdown"). Returns the process's
// exit code.
#pragma once

#include "ingress_config.hpp"

namespace revalidator::ingress {

int run(const Config& cfg);

}  // namespace revalidator::ingress
