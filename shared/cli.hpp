// Command-line options: every option is a flag and an environment variable. The variable's name is
// derived from the flag (--max-body-bytes -> REVALIDATOR_MAX_BODY_BYTES) so the two never drift,
// and --help shows both with the default.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace revalidator::cli {

std::string env_name(const std::string& flag);

template <class T>
CLI::Option* option(CLI::App& app, const std::string& flag, T& value, const std::string& help) {
    return app.add_option(flag, value, help)->envname(env_name(flag))->capture_default_str();
}

// A secret: --name, or the file named by --name-file (REVALIDATOR_NAME_FILE), so that secrets can
// come from mounted files rather than the environment. Call resolve_secret() after parsing.
struct Secret {
    std::string value;
    std::string file;
};
void secret_option(CLI::App& app, const std::string& flag, Secret& secret, const std::string& help);
// Reads the file when one was named; throws CLI::ValidationError when both or an unreadable file.
void resolve_secret(const std::string& flag, Secret& secret);

}  // namespace revalidator::cli
