#include "cli.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

namespace revalidator::cli {

std::string env_name(const std::string& flag) {
    std::string name = "REVALIDATOR_";
    for (char c : flag.substr(flag.find_first_not_of('-'))) {
        name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return name;
}

void secret_option(CLI::App& app, const std::string& flag, Secret& secret,
                   const std::string& help) {
    app.add_option(flag, secret.value, help + " (never logged)")->envname(env_name(flag));
    app.add_option(flag + "-file", secret.file,
                   "file holding " + flag + " (trailing newline ignored)")
        ->envname(env_name(flag + "-file"));
}

void resolve_secret(const std::string& flag, Secret& secret) {
    if (secret.file.empty()) return;
    if (!secret.value.empty()) {
        throw CLI::ValidationError(flag, "give either " + flag + " or " + flag + "-file, not both");
    }
    std::ifstream in(secret.file);
    if (!in) throw CLI::ValidationError(flag + "-file", "cannot read " + secret.file);
    std::stringstream ss;
    ss << in.rdbuf();
    secret.value = ss.str();
    while (!secret.value.empty() && (secret.value.back() == '\n' || secret.value.back() == '\r')) {
        secret.value.pop_back();
    }
}

}  // namespace revalidator::cli
