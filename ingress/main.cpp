// revalidator-ingress: receives database webhooks over HTTP, acknowledges them at once and hands
// a small event to the worker over ZeroMQ. Holds no database connection; run as many as needed.
#include "ingress_config.hpp"
#include "service.hpp"

using namespace revalidator;

int main(int argc, char** argv) {
    ingress::Config cfg;
    config::Parser parser(
        "revalidator-ingress: webhook receiver that acknowledges at once and queues to the worker");
    ingress::declare(parser, cfg);
    if (auto exit = parser.parse(argc, argv, [&] { return ingress::validate(cfg); })) return *exit;
    return ingress::run(cfg);
}
