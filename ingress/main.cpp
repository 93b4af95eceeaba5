// revalidator-ingress: receives database webhooks over HTTP, acknowledges them at once and hands
// a small event to the worker over ZeroMQ. Never writes the cache or the database: reads Memcached
// for the read routes, and Postgres only for a read's miss with --read-postgres-url (read-only,
// may be a replica). Run as many as needed.
#include "ingress_config.hpp"
#include "service.hpp"
#include "wire/zmq_curve.hpp"

using namespace revalidator;

int main(int argc, char** argv) {
    ingress::Config cfg;
    config::Parser parser("revalidator-ingress",
                          "webhook receiver that acknowledges at once and queues to the worker");
    ingress::declare(parser, cfg);
    const auto validate = [&] { return ingress::validate(cfg, curve::public_key); };
    if (auto exit = parser.parse(argc, argv, validate)) return *exit;
    return ingress::run(cfg);
}
