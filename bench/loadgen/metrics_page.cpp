#include "metrics_page.hpp"

#include <cstdlib>
#include <stdexcept>

#include <httplib.h>

#include "url.hpp"

namespace loadgen {

MetricsPage::MetricsPage(std::string_view text) {
    while (!text.empty()) {
        auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
        if (line.empty() || line.front() == '#') continue;
        // name{labels} value [timestamp]; label values may hold spaces, so skip the braces.
        std::size_t name_end = line.find_first_of("{ ");
        if (name_end == std::string_view::npos) continue;
        std::size_t value_at = name_end;
        if (line[name_end] == '{') {
            value_at = line.find('}', name_end);
            if (value_at == std::string_view::npos) continue;
            ++value_at;
        }
        std::string value(line.substr(value_at));
        char* end = nullptr;
        double v = std::strtod(value.c_str(), &end);
        if (end == value.c_str()) continue;
        values_[std::string(line.substr(0, name_end))] += v;
        if (value_at != name_end) values_[std::string(line.substr(0, value_at))] += v;
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

std::optional<double> MetricsPage::value(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

}  // namespace loadgen
