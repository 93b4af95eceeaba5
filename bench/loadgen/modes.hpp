// The load generator's subcommands, one file each. Every mode prints figures for people and, with
// --json FILE, the same figures for bench/run's report.
#pragma once

#include <CLI/CLI.hpp>

namespace loadgen {

void add_ack_command(CLI::App& app);           // ack_mode.cpp
void add_read_command(CLI::App& app);          // read_mode.cpp
void add_e2e_command(CLI::App& app);           // e2e_mode.cpp
void add_heal_command(CLI::App& app);          // heal_mode.cpp
void add_worker_command(CLI::App& app);        // worker_mode.cpp
void add_report_command(CLI::App& app);        // report_mode.cpp
void add_sink_command(CLI::App& app);          // sink_mode.cpp
void add_cache_writes_command(CLI::App& app);  // cache_writes_mode.cpp

}  // namespace loadgen
