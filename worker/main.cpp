// revalidator-worker: consumes events from every ingress, coalesces them, reads the truth from
// Postgres and writes Memcached, for one table or several. One worker per table is active at a
// time (see docs/operations.md).
#include <iostream>

#include "service.hpp"
#include "wire/zmq_curve.hpp"
#include "worker_config.hpp"

using namespace revalidator;

int main(int argc, char** argv) {
    worker::Config cfg;
    bool generate_keypair = false;
    bool verify = false;
    config::Parser parser("revalidator-worker",
                          "keeps Memcached equal to Postgres for one table or several");
    worker::declare(parser, cfg);
    parser.action("--generate-curve-keypair", generate_keypair,
                  "print a new CURVE key pair as public=<Z85> and secret=<Z85> lines, and exit");
    parser.action("--verify", verify,
                  "compare every row's key and the list with Postgres, writing nothing; print "
                  "what differs and exit 0 (equal), 1 (something differs) or 2 (could not read)");
    const auto validate = [&] { return worker::validate(cfg, curve::public_key); };
    if (auto exit = parser.parse(argc, argv, validate)) return *exit;
    if (generate_keypair) {
        auto pair = curve::generate_keypair();
        if (pair.public_key.empty()) {
            std::cerr << "cannot generate a CURVE key pair: this libzmq was built without CURVE "
                         "support\n";
            return 1;
        }
        std::cout << "public=" << pair.public_key << "\nsecret=" << pair.secret_key << "\n";
        return 0;
    }
    if (verify) return worker::verify_once(cfg);
    return worker::run(cfg);
}
