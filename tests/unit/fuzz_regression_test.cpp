// Inputs found by the libFuzzer targets (tests/fuzz/, scripts/fuzz) that once broke production
// code, kept as plain unit tests so they stay fixed without running the fuzzers.
#include <string>

#include <gtest/gtest.h>

#include "webhook.hpp"

namespace revalidator::ingress {
namespace {

// A number beyond double's range made nlohmann::json throw out_of_range (406), which parse_webhook
// did not catch: the handler's exception reached httplib, which answered 500 with the exception
// text in an EXCEPTION_WHAT header instead of 400 malformed_json.
TEST(FuzzRegression, NumberOverflowIsMalformedJson) {
    for (std::string body : {"1e400", "-1e400", R"({"type":1e400})",
                             R"({"type":"INSERT","schema":"public","table":"articles",)"
                             R"("record":{"id":1e999}})",
                             "[[[[[[[[[1e400[[[[[[[[[[{\"type\":\"IN[[S"}) {
        const Table table;
        auto r = parse_webhook(body, std::span(&table, 1));
        ASSERT_FALSE(r.ok()) << body;
        EXPECT_EQ(r.error().status, 400) << body;
        EXPECT_EQ(r.error().code, "malformed_json") << body;
    }
}

}  // namespace
}  // namespace revalidator::ingress
