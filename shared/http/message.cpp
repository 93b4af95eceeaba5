#include "message.hpp"

#include "field_text.hpp"

namespace revalidator::http {

namespace {

// Whether a comma-separated field value names `token` (Connection: "keep-alive, Upgrade").
bool lists(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        const auto comma = value.find(',');
        auto item = value.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
            item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (iequals(item, token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
    for (const auto& [n, v] : headers_) {
        if (iequals(slice(n), name)) return slice(v);
    }
    return {};
}

std::vector<std::pair<std::string_view, std::string_view>> Request::headers() const {
    std::vector<std::pair<std::string_view, std::string_view>> all;
    for (const auto& [n, v] : headers_) all.emplace_back(slice(n), slice(v));
    return all;
}

std::string_view Request::match(std::size_t i) const {
    if (i >= matches_.size()) return {};
    return std::string_view(path_).substr(matches_[i].first, matches_[i].second);
}

bool Request::wants_close() const {
    const auto connection = header("Connection");
    return http11_ ? lists(connection, "close") : !lists(connection, "keep-alive");
}

void Response::set_content(std::string body, std::string_view content_type) {
    set_content(std::make_shared<const std::string>(std::move(body)), content_type);
}

void Response::set_content(Body body, std::string_view content_type) {
    body_ = std::move(body);
    set_header("Content-Type", content_type);
}

void Response::set_header(std::string_view name, std::string_view value) {
    for (auto& [n, v] : headers_) {
        if (iequals(n, name)) {
            v = value;
            return;
        }
    }
    headers_.emplace_back(name, value);
}

std::string_view Response::header(std::string_view name) const {
    for (const auto& [n, v] : headers_) {
        if (iequals(n, name)) return v;
    }
    return {};
}

}  // namespace revalidator::http
