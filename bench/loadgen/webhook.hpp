// Webhook requests as a database sends them: a Supabase database webhook is a POST whose JSON body
// is {"type","table","schema","record","old_record"}, where the records are the row rendered by
// Postgres' to_jsonb. The load generator pre-builds whole HTTP requests so that sending one costs
// a single write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "url.hpp"

namespace loadgen {

std::string webhook_body(std::string_view type, std::string_view schema, std::string_view table,
                         std::string_view record, std::string_view old_record);

// A row shaped like public.articles as to_jsonb renders it (keys in jsonb's order: by length,
// then bytewise), with a body of `body_chars` characters: what ack mode sends when no database
// is involved.
std::string synthetic_row(std::uint64_t id, std::uint64_t version, std::size_t body_chars);

// The complete HTTP/1.1 keep-alive POST; no Authorization header when `secret` is empty.
std::string post_request(const Url& target, std::string_view secret, std::string_view body);

}  // namespace loadgen
