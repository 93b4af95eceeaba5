// libFuzzer target: the webhook parser/validator, which reads the body of every request that got
// past authentication (and of every request when --insecure-no-auth is set). It must answer any
// input with changes or a rejection, never crash, hang or leak; whatever it accepts must be safe
// to use as a cache key, and every rejection must be a 4xx with a code and a detail. Its answer
// must be the reference's (nlohmann's parser alone) to the letter: simdjson decides only what it
// accepts, and must accept nothing the reference refuses.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cache/cache_key.hpp"
#include "webhook.hpp"

using namespace revalidator;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    ingress::is_json_content_type(input);
    static const Table table;
    auto routed = ingress::parse_webhook(input, std::span(&table, 1));
    auto reference = ingress::parse_webhook_reference(input, std::span(&table, 1));
    const bool same = routed.ok() ? reference.ok() && routed->table == reference->table &&
                                        routed->changes == reference->changes
                                  : !reference.ok() && routed.error() == reference.error();
    if (!same) std::abort();
    if (!routed) {
        const auto& r = routed.error();
        if (r.status < 400 || r.status > 499 || r.code.empty() || r.detail.empty()) std::abort();
        return 0;
    }
    const auto& changes = routed->changes;
    if (routed->table != 0 || changes.empty() || changes.size() > 2) std::abort();
    // A TRUNCATE is one resync of the table and names no row; anything else names rows.
    if (changes.front().op == Op::Resync) {
        if (changes.size() != 1 || !changes.front().pk.empty()) std::abort();
        return 0;
    }
    for (const auto& c : changes) {
        if (check_key_part(c.pk) || !names_row(c.op)) std::abort();
    }
    return 0;
}
