#include "webhook.hpp"

namespace loadgen {

std::string webhook_body(std::string_view type, std::string_view schema, std::string_view table,
                         std::string_view record, std::string_view old_record) {
    // The names are configuration, never user text with quotes: no escaping needed.
    std::string b;
    b.reserve(80 + record.size() + old_record.size());
    b.append(R"({"type":")").append(type);
    b.append(R"(","table":")").append(table);
    b.append(R"(","schema":")").append(schema);
    b.append(R"(","record":)").append(record.empty() ? "null" : record);
    b.append(R"(,"old_record":)").append(old_record.empty() ? "null" : old_record);
    b.append("}");
    return b;
}

std::string synthetic_row(std::uint64_t id, std::uint64_t version, std::size_t body_chars) {
    std::string body;
    body.reserve(body_chars);
    static constexpr std::string_view words = "lorem ipsum dolor sit amet ";
    while (body.size() < body_chars) body.append(words.substr(0, body_chars - body.size()));
    std::string ids = std::to_string(id);
    return R"({"id": )" + ids + R"(, "body": ")" + body + R"(", "title": "Article )" + ids +
           R"(", "version": )" + std::to_string(version) +
           R"(, "published_at": "2024-01-01T00:00:00+00:00"})";
}

std::string post_request(const Url& target, std::string_view secret, std::string_view body) {
    std::string r;
    r.reserve(200 + body.size());
    r.append("POST ").append(target.path).append(" HTTP/1.1\r\n");
    r.append("Host: ").append(target.host_header).append("\r\n");
    r.append("User-Agent: revalidator-loadgen\r\n");
    r.append("Content-Type: application/json\r\n");
    if (!secret.empty()) r.append("Authorization: Bearer ").append(secret).append("\r\n");
    r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
    r.append(body);
    return r;
}

}  // namespace loadgen
