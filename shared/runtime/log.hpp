// Structured logs: one JSON object per line on stderr, so that log shippers need no parsing rules.
// Every line has ts, level, proc and msg; callers add fields (stream, seq, key, error, ...).
// Log once, where a failure is handled; never log secrets or whole request bodies.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace revalidator::log {

using Fields = nlohmann::json;

// Level names: debug, info, warn, error. Safe to call once per process, before threads start.
void init(std::string_view process, std::string_view level = "info");

void debug(std::string_view msg, const Fields& fields = Fields::object());
void info(std::string_view msg, const Fields& fields = Fields::object());
void warn(std::string_view msg, const Fields& fields = Fields::object());
void error(std::string_view msg, const Fields& fields = Fields::object());

}  // namespace revalidator::log
