// loadgen: revalidator's load generator and benchmark driver. One binary, one subcommand per
// mode (see modes.hpp); bench/run strings them together, and bench/README.md explains how to
// point them at one's own deployment. Every load is bounded in count and in time.
#include <csignal>
#include <exception>
#include <iostream>

#include "modes.hpp"

int main(int argc, char** argv) {
    // A server that resets a connection must show up as an error, not kill the generator.
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"loadgen: load tests and benchmarks for revalidator (and any webhook receiver)"};
    app.require_subcommand(1);
    loadgen::add_ack_command(app);
    loadgen::add_read_command(app);
    loadgen::add_e2e_command(app);
    loadgen::add_heal_command(app);
    loadgen::add_worker_command(app);
    loadgen::add_report_command(app);
    loadgen::add_sink_command(app);
    loadgen::add_cache_writes_command(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        std::cerr << "loadgen: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
