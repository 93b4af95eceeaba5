// Small output helpers shared by every mode: numbers for people (thousands separators, fixed
// decimals) and the --json result file that bench/run collects.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace loadgen {

std::string thousands(std::uint64_t n);  // 1234567 -> "1,234,567"
std::string fixed(double v, int decimals);

// Writes `j` to `path` (pretty, trailing newline); nothing when `path` is empty. Throws
// std::runtime_error when the file cannot be written.
void write_json_file(const std::string& path, const nlohmann::json& j);

}  // namespace loadgen
