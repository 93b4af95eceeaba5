#include "zmq_curve.hpp"

#include <zmq.h>

namespace revalidator::curve {

Keypair generate_keypair() {
    char pub[41] = {}, sec[41] = {};
    if (!zmq_has("curve") || zmq_curve_keypair(pub, sec) != 0) return {};
    return {pub, sec};
}

std::string public_key(const std::string& secret_key) {
    char pub[41] = {};
    if (!zmq_has("curve") || zmq_curve_public(pub, secret_key.c_str()) != 0) return {};
    return pub;
}

}  // namespace revalidator::curve
