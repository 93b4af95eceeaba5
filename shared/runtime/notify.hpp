// Tells the service manager how the process is doing, as systemd's Type=notify services do
// (sd_notify(3)): "READY=1" once the process does its job, "STOPPING=1" when it starts to stop.
// The manager names a unix datagram socket in $NOTIFY_SOCKET: a path, or '@' and a name in the
// abstract namespace. Without it (a shell, a container, a test) nothing is sent.
//
// Written here rather than linking libsystemd: the protocol is one datagram, which systemd
// documents as a stable interface that programs may speak themselves, and libsystemd would add
// itself and its compression and crypto libraries to both binaries and to every image, for
// a call that most deployments (compose, Kubernetes) never make.
#pragma once

#include <string>
#include <string_view>

namespace revalidator::notify {

// Sends `state` (one or more "NAME=value" lines) to the socket $NOTIFY_SOCKET names. False when
// the variable is unset or the datagram could not be sent; never throws: a manager that cannot
// be told is not a reason to stop serving.
bool send(std::string_view state);

// The same, to `address` (a path, or '@' and an abstract name).
bool send_to(const std::string& address, std::string_view state);

}  // namespace revalidator::notify
