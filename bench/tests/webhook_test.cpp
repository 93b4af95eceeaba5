#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "webhook.hpp"

TEST(Webhook, BodyIsTheSupabaseShape) {
    auto body = nlohmann::json::parse(loadgen::webhook_body("UPDATE", "public", "articles",
                                                            loadgen::synthetic_row(7, 2, 20),
                                                            loadgen::synthetic_row(7, 1, 20)));
    EXPECT_EQ(body["type"], "UPDATE");
    EXPECT_EQ(body["schema"], "public");
    EXPECT_EQ(body["table"], "articles");
    EXPECT_EQ(body["record"]["id"], 7);
    EXPECT_EQ(body["record"]["version"], 2);
    EXPECT_EQ(body["old_record"]["version"], 1);
    EXPECT_EQ(body["record"]["body"].get<std::string>().size(), 20u);
}

TEST(Webhook, DeleteHasNullRecord) {
    auto body = nlohmann::json::parse(
        loadgen::webhook_body("DELETE", "public", "articles", "", loadgen::synthetic_row(1, 1, 0)));
    EXPECT_TRUE(body["record"].is_null());
}

TEST(Webhook, RequestFraming) {
    auto url = loadgen::parse_url("http://127.0.0.1:8080/revalidate");
    std::string r = loadgen::post_request(*url, "s3cret", "{}");
    EXPECT_EQ(r,
              "POST /revalidate HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
              "User-Agent: revalidator-loadgen\r\nContent-Type: application/json\r\n"
              "Authorization: Bearer s3cret\r\nContent-Length: 2\r\n\r\n{}");
    EXPECT_EQ(loadgen::post_request(*url, "", "{}").find("Authorization"), std::string::npos);
}
