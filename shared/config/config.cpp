#include "config.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string_view>

#include <toml++/toml.h>

#include "collection_file.hpp"
#include "runtime/build_info.hpp"
#include "wire/endpoint.hpp"

namespace revalidator::config {

std::string env_name(const std::string& flag) {
    std::string name = "REVALIDATOR_";
    const std::string first = flag.substr(0, flag.find(','));
    for (char c : first.substr(first.find_first_not_of('-'))) {
        name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return name;
}

struct Parser::Setting {
    CLI::Option* opt;
    std::function<std::string()> print;
    bool secret;
    std::string source = "default";
};

Parser::Parser(const std::string& program, const std::string& description)
    : app_(program + ": " + description) {
    // Declared before every setting: CLI11 runs options' callbacks in declaration order, so this
    // one answers before any other value is checked.
    app_.set_version_flag("--version", build_info::line(program),
                          "print the version and the git commit it was built from, and exit");
    app_.add_option("--config", file_,
                    "TOML file of settings: each key is an option's name without the dashes "
                    "(max-body-bytes = 1048576); flags and the environment override it")
        ->envname(env_name("--config"));
    app_.add_flag("--check-config", check_,
                  "check the configuration, print it (secrets masked) with where each value came "
                  "from, and exit: 0 if it is good, 64 if not");
    app_.footer(
        "Every option is also an environment variable (shown as Env) and a key of the --config "
        "file.\nPrecedence: flag, then environment, then file, then default. A bad configuration "
        "exits with 64.");
}

Parser::~Parser() = default;

CLI::Option* Parser::flag(const std::string& flag, bool& value, const std::string& help) {
    auto* opt = app_.add_flag(flag, value, help)->envname(env_name(flag));
    remember(
        opt, [&value] { return render(value); }, false);
    return opt;
}

CLI::Option* Parser::action(const std::string& flag, bool& value, const std::string& help) {
    return app_.add_flag(flag, value, help);
}

void Parser::secret(const std::string& flag, Secret& secret, const std::string& help) {
    auto* value = app_.add_option(flag, secret.value, help + " (never logged or printed)")
                      ->envname(env_name(flag));
    remember(
        value, [&secret] { return render(std::string(secret.value.empty() ? "" : "********")); },
        true);
    option(flag + "-file", secret.file, "file holding " + flag + " (trailing newlines ignored)");
    secrets_.emplace_back(flag, &secret);
}

CLI::Option* Parser::endpoints(const std::string& flag, std::vector<std::string>& value,
                               const std::string& help) {
    return option(flag, value, help)
        ->delimiter(',')
        ->check(CLI::Validator([](std::string& ep) { return endpoint_error(ep).value_or(""); },
                               "ENDPOINT"));
}

void Parser::collections(std::vector<Collection>& out, std::vector<std::string> replaced) {
    collections_ = &out;
    replaced_ = std::move(replaced);
}

void Parser::remember(CLI::Option* opt, std::function<std::string()> print, bool secret) {
    settings_.push_back(std::make_unique<Setting>(Setting{opt, std::move(print), secret}));
}

std::string Parser::render(const std::string& v) {
    std::ostringstream out;
    out << toml::value<std::string>(v);
    return out.str();
}

std::string Parser::render(const std::vector<std::string>& v) {
    toml::array array;
    for (const auto& s : v) array.push_back(s);
    std::ostringstream out;
    out << array;
    return out.str();
}

std::string Parser::render(bool v) {
    return v ? "true" : "false";
}

namespace {

bool on_command_line(const CLI::Option& opt, int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") return false;
        for (const auto& name : opt.get_lnames()) {
            const std::string flag = "--" + name;
            if (arg == flag || (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag &&
                                arg[flag.size()] == '=')) {
                return true;
            }
        }
    }
    return false;
}

// A TOML value as the text a flag would carry; an array gives one text per element.
std::optional<std::vector<std::string>> as_texts(const toml::node& node) {
    std::vector<std::string> out;
    auto scalar = [&out](const toml::node& n) {
        if (auto s = n.value_exact<std::string>()) return out.push_back(*s), true;
        if (auto i = n.value_exact<std::int64_t>()) return out.push_back(std::to_string(*i)), true;
        if (auto b = n.value_exact<bool>()) return out.push_back(*b ? "true" : "false"), true;
        if (auto d = n.value_exact<double>()) return out.push_back(std::to_string(*d)), true;
        return false;
    };
    if (const auto* array = node.as_array()) {
        for (const auto& element : *array) {
            if (!scalar(element)) return std::nullopt;
        }
        return out;
    }
    if (!scalar(node)) return std::nullopt;
    return out;
}

}  // namespace

std::vector<Problem> Parser::apply_file(int argc, const char* const* argv) {
    for (auto& s : settings_) {
        if (s->opt->count() > 0) {
            s->source = on_command_line(*s->opt, argc, argv) ? "flag" : "environment";
        }
    }
    if (file_.empty()) return {};
    std::ifstream in(file_);
    if (!in) return {{"--config", "cannot read " + file_}};
    toml::table table;
    try {
        table = toml::parse(in, file_);
    } catch (const toml::parse_error& e) {
        const auto& where = e.source().begin;
        return {{"--config", file_ + ":" + std::to_string(where.line) + ":" +
                                 std::to_string(where.column) + ": " +
                                 std::string(e.description())}};
    }
    std::vector<Problem> problems;
    for (const auto& [key, node] : table) {
        const std::string flag = "--" + std::string(key.str());
        const std::string where = file_ + ":" + std::to_string(key.source().begin.line);
        if (collections_ && key.str() == "collection") {
            auto found = read_collections(node, file_, *collections_);
            problems.insert(problems.end(), found.begin(), found.end());
            continue;
        }
        Setting* setting = nullptr;
        for (auto& s : settings_) {
            if (s->opt->check_lname(std::string(key.str()))) setting = s.get();
        }
        if (!setting) {
            problems.push_back({flag, where + ": no such setting (a key is an option's name "
                                              "without the dashes; --help lists them)"});
            continue;
        }
        if (setting->opt->count() > 0) continue;  // the flag or the environment wins
        auto texts = as_texts(node);
        if (!texts) {
            problems.push_back({flag, where + ": expected a string, number, boolean or array of "
                                              "them"});
            continue;
        }
        try {
            for (auto& t : *texts) setting->opt->add_result(std::move(t));
            setting->opt->run_callback();
            setting->source = "file";
        } catch (const CLI::Error& e) {
            problems.push_back({flag, where + ": " + e.what()});
        }
    }
    if (collections_ && !collections_->empty()) {
        for (const auto& s : settings_) {
            for (const auto& flag : replaced_) {
                if (s->source != "default" && s->opt->check_lname(flag.substr(2))) {
                    problems.push_back({flag, "is set (" + s->source + ") but " + file_ +
                                                  " declares [[collection]] tables: give the "
                                                  "tables one way, not both"});
                }
            }
        }
    }
    return problems;
}

std::vector<Problem> Parser::resolve_secrets() {
    std::vector<Problem> problems;
    for (auto& [flag, secret] : secrets_) {
        if (secret->file.empty()) continue;
        if (!secret->value.empty()) {
            problems.push_back({flag, "give either " + flag + " or " + flag + "-file, not both"});
            continue;
        }
        std::ifstream in(secret->file);
        if (!in) {
            problems.push_back({flag + "-file", "cannot read " + secret->file});
            continue;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        secret->value = ss.str();
        for (auto& s : settings_) {
            if (s->secret && s->opt->check_lname(flag.substr(2))) s->source = flag + "-file";
        }
        while (!secret->value.empty() &&
               (secret->value.back() == '\n' || secret->value.back() == '\r')) {
            secret->value.pop_back();
        }
    }
    return problems;
}

std::optional<int> Parser::parse(int argc, const char* const* argv,
                                 const std::function<std::vector<Problem>()>& validate) {
    try {
        app_.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version are ParseErrors that exit 0; every other is a usage error (CLI11
        // would exit 100-127): one code for scripts and orchestrators.
        return app_.exit(e) == 0 ? 0 : kUsage;
    }
    auto problems = apply_file(argc, argv);
    if (problems.empty()) problems = resolve_secrets();
    if (problems.empty()) problems = validate();
    if (!problems.empty()) {
        for (const auto& p : problems) {
            std::cerr << std::filesystem::path(app_.get_name()).filename().string()
                      << ": bad configuration: " << p.option << ": " << p.message << "\n";
        }
        std::cerr << "Run with --help for the options (docs/configuration.md).\n";
        return kUsage;
    }
    if (check_) {
        std::cout << effective();
        return 0;
    }
    return std::nullopt;
}

std::string Parser::effective() const {
    std::ostringstream out;
    out << "# " << app_.get_description() << "\n"
        << "# The effective configuration: flag > environment > file > default.\n";
    if (!file_.empty()) out << "# file: " << file_ << "\n";
    for (const auto& s : settings_) {
        const auto& names = s->opt->get_lnames();
        // In a file, `collection` is the [[collection]] tables: a setting of that name is read
        // under its other name (the worker's --collection is `serve`).
        const auto key = std::find_if(names.begin(), names.end(), [&](const std::string& n) {
            return !collections_ || n != "collection";
        });
        const std::string& name = key == names.end() ? names.front() : *key;
        // Left out when collections replace it, so that the output reads back as a file.
        const bool replaced =
            collections_ && !collections_->empty() &&
            std::find(replaced_.begin(), replaced_.end(), "--" + name) != replaced_.end();
        const bool not_a_key = key == names.end();
        // A secret's value is printed masked: read back, the mask would be taken for the secret
        // (and a secret given by its -file would be given twice). Its -file line reads back.
        const std::string value = s->print();
        const bool masked = s->secret && value != render(std::string());
        const bool given_directly = masked && !s->source.ends_with("-file");
        // A list no flag can make empty (each takes at least one value): empty is its default.
        const bool none = value == render(std::vector<std::string>{});
        out << (replaced || not_a_key || masked || none ? "# " : "") << name << " = " << value
            << "  # " << s->source << (replaced ? ", replaced by [[collection]]" : "")
            << (not_a_key ? ", not a file key" : "")
            << (given_directly ? ", masked: give it again, or as " + name + "-file" : "") << "\n";
    }
    if (collections_) out << render_collections(*collections_);
    return out.str();
}

}  // namespace revalidator::config
