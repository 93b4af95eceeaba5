// ZeroMQ CURVE key operations, for the worker and the ingress alike: making a key pair and
// deriving a public key from a secret one (all Z85, 40 characters). The ZeroMQ adapter for keys,
// beside curve_keys.hpp, which checks a key's text without ZeroMQ. This header does not include
// ZeroMQ; the revalidator_zmq library that implements it links it.
#pragma once

#include <string>

namespace revalidator::curve {

struct Keypair {
    std::string public_key, secret_key;
};

// A fresh key pair; both empty when this libzmq has no CURVE support.
Keypair generate_keypair();

// The public key of `secret_key`; empty when the key is invalid or this libzmq has no CURVE
// support.
std::string public_key(const std::string& secret_key);

}  // namespace revalidator::curve
