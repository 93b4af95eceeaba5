#include "log.hpp"

#include <memory>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace revalidator::log {

namespace {

std::shared_ptr<spdlog::logger>& logger() {
    static std::shared_ptr<spdlog::logger> l = [] {
        auto created = spdlog::stderr_logger_mt("revalidator");
        created->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})",
                             spdlog::pattern_time_type::utc);
        return created;
    }();
    return l;
}

std::string g_process = "revalidator";
thread_local Fields t_scope = Fields::object();

void write(spdlog::level::level_enum level, std::string_view msg, const Fields& fields) {
    auto& l = logger();
    if (!l->should_log(level)) return;
    Fields line = fields.is_object() ? fields : Fields::object();
    if (!fields.is_null() && !fields.is_object()) line["fields"] = fields;
    for (const auto& [name, value] : t_scope.items()) {
        if (!line.contains(name)) line[name] = value;
    }
    line["proc"] = g_process;
    line["msg"] = msg;
    // Invalid UTF-8 from hostile input must not make logging throw; replace it instead.
    std::string body = line.dump(-1, ' ', false, Fields::error_handler_t::replace);
    l->log(level, std::string_view(body).substr(1, body.size() - 2));
}

}  // namespace

void init(std::string_view process, std::string_view level) {
    g_process = process;
    auto parsed = spdlog::level::from_str(std::string(level));
    logger()->set_level(parsed == spdlog::level::off && level != "off" ? spdlog::level::info
                                                                       : parsed);
    logger()->flush_on(spdlog::level::debug);
}

void debug(std::string_view msg, const Fields& fields) {
    write(spdlog::level::debug, msg, fields);
}
void info(std::string_view msg, const Fields& fields) {
    write(spdlog::level::info, msg, fields);
}
void warn(std::string_view msg, const Fields& fields) {
    write(spdlog::level::warn, msg, fields);
}
void error(std::string_view msg, const Fields& fields) {
    write(spdlog::level::err, msg, fields);
}

Scope::Scope(std::string_view name, const Fields& value) : saved_(t_scope) {
    t_scope[std::string(name)] = value;
}

Scope::Scope(const Fields& fields) : saved_(t_scope) {
    if (fields.is_object()) t_scope.update(fields);
}

Scope::~Scope() {
    t_scope = std::move(saved_);
}

Fields scope_fields() {
    return t_scope;
}

}  // namespace revalidator::log
