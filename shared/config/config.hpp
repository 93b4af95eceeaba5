// A process's configuration: every setting is a flag (--max-body-bytes), an environment variable
// (REVALIDATOR_MAX_BODY_BYTES, derived from the flag so the two never drift) and a key of a TOML
// file (max-body-bytes = 1048576, named by --config). The default is the value the setting holds
// when declared (the process's Config struct is its one table of defaults). Precedence: flag, then
// environment, then file, then default. Each setting's own check (a range, a set) runs whatever
// the source; the process's cross-field rules run after, through `validate`. Any problem ends the
// process with exit code 64 (EX_USAGE) and a message that names the setting, before anything has
// started. The file alone may also declare collections (collection.hpp) as [[collection]] tables.
// --version prints "<program> <version> (commit <commit>)" (runtime/build_info.hpp) and exits 0,
// before any other setting is checked or used. --check-config prints the effective configuration,
// secrets masked, as a TOML file that says where each value came from, and exits 0. Given back with
// --config, it is the same configuration, except that a secret given as a value (masked, so a
// comment) must be given again. docs/configuration.md is the user's side of this.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "collection.hpp"

namespace revalidator::config {

inline constexpr int kUsage = 64;  // EX_USAGE, for every bad configuration

// REVALIDATOR_ + the flag without dashes, upper-case, '-' as '_'. A setting with several names
// ("--collection,--serve") takes its first.
std::string env_name(const std::string& flag);

// A secret: --name, or the file named by --name-file, so that secrets can come from mounted files
// rather than the environment or the config file. Read after parsing; never printed.
struct Secret {
    std::string value;
    std::string file;
};

// One problem with the configuration: the setting (its flag) and what is wrong with it.
struct Problem {
    std::string option;
    std::string message;
};

class Parser {
  public:
    // `program` is the binary's name, as --version prints it.
    Parser(const std::string& program, const std::string& description);
    ~Parser();

    // A setting bound to `value`, whose current value is its default. Returns the CLI11 option so
    // the caller can add a check (->check(CLI::Range(1, 10))), a delimiter, ...
    template <class T>
    CLI::Option* option(const std::string& flag, T& value, const std::string& help) {
        auto* opt = app_.add_option(flag, value, help)->envname(env_name(flag));
        opt->capture_default_str();
        remember(
            opt, [&value] { return render(value); }, false);
        return opt;
    }
    CLI::Option* flag(const std::string& flag, bool& value, const std::string& help);
    // ZeroMQ endpoints, separated by commas, each checked as it is parsed (wire/endpoint.hpp).
    CLI::Option* endpoints(const std::string& flag, std::vector<std::string>& value,
                           const std::string& help);
    void secret(const std::string& flag, Secret& secret, const std::string& help);
    // A flag that asks for an action rather than configuring one: not a file key, never printed.
    CLI::Option* action(const std::string& flag, bool& value, const std::string& help);
    // The file's `[[collection]]` tables (collection_file.hpp), read into `out`. They declare the
    // tables instead of the flags in `replaced` (--table, ...): setting both is a problem.
    void collections(std::vector<Collection>& out, std::vector<std::string> replaced);

    // Parses the command line, the environment and the file; reads the secrets' files; then runs
    // `validate` (the cross-field rules). Returns an exit code when the process must stop here
    // (0 after --help, --version or --check-config, kUsage on any problem, with the message
    // printed), or
    // nothing when it should go on.
    std::optional<int> parse(int argc, const char* const* argv,
                             const std::function<std::vector<Problem>()>& validate);

    // The effective configuration as TOML, one setting a line with its source; secrets masked.
    std::string effective() const;

  private:
    struct Setting;

    static std::string render(const std::string& v);
    static std::string render(const std::vector<std::string>& v);
    static std::string render(bool v);
    template <class T>
    static std::string render(const T& v) {
        return std::to_string(v);
    }
    void remember(CLI::Option* opt, std::function<std::string()> print, bool secret);
    std::vector<Problem> apply_file(int argc, const char* const* argv);
    std::vector<Problem> resolve_secrets();

    CLI::App app_;
    std::string file_;
    bool check_ = false;
    std::vector<std::unique_ptr<Setting>> settings_;
    std::vector<std::pair<std::string, Secret*>> secrets_;
    std::vector<Collection>* collections_ = nullptr;
    std::vector<std::string> replaced_;
};

}  // namespace revalidator::config
