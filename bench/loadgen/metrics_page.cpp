#include "metrics_page.hpp"

#include <cstdlib>
#include <stdexcept>

#include <httplib.h>

#include "url.hpp"

namespace loadgen {

namespace {

// `name{a="x",b="y"}` (or a bare name) as its name and labels; nullopt when malformed. `rest`
// gets what follows the series.
std::optional<MetricsPage::Series> parse_series(std::string_view text, std::string_view* rest) {
    MetricsPage::Series s;
    std::size_t name_end = text.find_first_of("{ ");
    s.name = std::string(text.substr(0, name_end));
    if (name_end == std::string_view::npos || text[name_end] == ' ') {
        if (rest) *rest = name_end == std::string_view::npos ? "" : text.substr(name_end);
        return s;
    }
    std::size_t i = name_end + 1;
    while (i < text.size() && text[i] != '}') {
        std::size_t eq = text.find("=\"", i);
        if (eq == std::string_view::npos) return std::nullopt;
        std::string name(text.substr(i, eq - i));
        std::string value;
        for (i = eq + 2; i < text.size() && text[i] != '"'; ++i) {
            if (text[i] == '\\' && i + 1 < text.size()) ++i;
            value += text[i];
        }
        if (i >= text.size()) return std::nullopt;
        s.labels[name] = value;
        ++i;  // the closing quote
        if (i < text.size() && text[i] == ',') ++i;
    }
    if (i >= text.size()) return std::nullopt;
    if (rest) *rest = text.substr(i + 1);
    return s;
}

}  // namespace

MetricsPage::MetricsPage(std::string_view text) {
    while (!text.empty()) {
        auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
        if (line.empty() || line.front() == '#') continue;
        std::string_view rest;
        auto s = parse_series(line, &rest);
        if (!s) continue;
        std::string value(rest);
        char* end = nullptr;
        double v = std::strtod(value.c_str(), &end);
        if (end == value.c_str()) continue;
        series_.emplace_back(std::move(*s), v);
    }
}

MetricsPage MetricsPage::fetch(const std::string& url) {
    auto u = parse_url(url);
    if (!u) throw std::runtime_error("metrics URL must be http://host:port/path, got " + url);
    httplib::Client client(u->host, u->port);
    client.set_connection_timeout(2, 0);
    client.set_read_timeout(5, 0);
    auto res = client.Get(u->path.c_str());
    if (!res || res->status != 200) {
        throw std::runtime_error(
            "cannot read " + url + ": " +
            (res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error())));
    }
    return MetricsPage(res->body);
}

std::optional<double> MetricsPage::value(const std::string& query) const {
    auto q = parse_series(query, nullptr);
    if (!q) return std::nullopt;
    std::optional<double> sum;
    for (const auto& [s, v] : series_) {
        if (s.name != q->name) continue;
        bool all = true;
        for (const auto& [name, value] : q->labels) {
            auto it = s.labels.find(name);
            all = all && it != s.labels.end() && it->second == value;
        }
        if (all) sum = sum.value_or(0) + v;
    }
    return sum;
}

}  // namespace loadgen
