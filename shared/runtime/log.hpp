// Structured logs: one JSON object per line on stderr, so that log shippers need no parsing rules.
// Every line has ts, level, proc and msg; callers add fields (stream, seq, key, error, ...).
// Log once, where a failure is handled; never log secrets or whole request bodies.
// A Scope adds fields to every line its thread writes while it lives: work about one table opens
// one with the table's `collection`, so that every line about a table can be told apart however
// many tables a process serves.
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

// Fields (an object) added to every line of this thread until destroyed. Scopes nest; a field
// the line gives itself wins over a scope's.
class Scope {
  public:
    Scope(std::string_view name, const Fields& value);
    // Several at once, e.g. those of scope_fields() carried to another thread.
    explicit Scope(const Fields& fields);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

  private:
    Fields saved_;
};

// The fields of the scopes open on this thread: what a thread started for the same work opens.
Fields scope_fields();

}  // namespace revalidator::log
