#include "manifest.hpp"

#include <nlohmann/json.hpp>

#include "cache_key.hpp"

namespace revalidator::manifest {

bool is_manifest(std::string_view head) {
    return !head.empty() && head.front() == '{';
}

std::string encode(std::size_t bytes, const std::vector<std::string>& parts) {
    return nlohmann::json{{"chunked", true}, {"bytes", bytes}, {"parts", parts}}.dump();
}

Result<Decoded, std::string> decode(std::string_view head) {
    auto json = nlohmann::json::parse(head, nullptr, false);
    if (!json.is_object()) return Err(std::string("not a JSON object"));
    auto parts = json.find("parts");
    if (parts == json.end() || !parts->is_array()) return Err(std::string("no \"parts\" array"));
    Decoded out;
    if (auto bytes = json.find("bytes"); bytes != json.end() && bytes->is_number_unsigned()) {
        out.bytes = bytes->get<std::size_t>();
    }
    for (const auto& k : *parts) {
        if (!k.is_string()) continue;
        auto key = k.get<std::string>();
        if (auto bad = check_key(key)) {
            out.rejected.push_back({std::move(key), std::move(*bad)});
            continue;
        }
        out.parts.push_back(std::move(key));
    }
    return out;
}

}  // namespace revalidator::manifest
