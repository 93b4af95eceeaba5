// POST /revalidate's answers as a table: every outcome of auth, Content-Type, body and queue maps
// to one status and code, and a refused signed webhook gives its webhook-id back.
#include "intake.hpp"

#include "config/canary.hpp"

#include <gtest/gtest.h>

#include "webhook_signer.hpp"

namespace revalidator::ingress {
namespace {

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::int64_t kNow = 1'700'000'000;

const std::string kInsert =
    R"({"type":"INSERT","table":"articles","schema":"public","record":{"id":7},"old_record":null})";
const std::string kMove =
    R"({"type":"UPDATE","table":"articles","schema":"public","record":{"id":8},"old_record":{"id":7}})";
const std::string kOtherTable =
    R"({"type":"INSERT","table":"authors","schema":"public","record":{"id":7},"old_record":null})";

Authenticator make_auth() {
    auto key = parse_signing_secret(kSecret);
    EXPECT_TRUE(key.ok());
    return Authenticator({"s3cret"}, false, {{*key}, {300, 1000, [] { return kNow; }}});
}

// The destinations of an ingress that serves public.articles alone.
Destinations one(EventQueue& queue) {
    return {{Table{}}, {&queue}};
}

struct Signed {
    std::string id, timestamp, signature;
};

Signed sign(const std::string& id, const std::string& body) {
    const std::string ts = std::to_string(kNow);
    return {id, ts, testing::sign(kSecret, id, ts, body)};
}

TEST(Intake, EveryOutcomeHasOneStatusAndCode) {
    struct Case {
        std::string name;
        std::string authorization;
        std::string content_type;
        std::string body;
        std::size_t capacity;
        bool closed;
        int status;
        std::string code;
        std::size_t queued;
    };
    const std::vector<Case> cases = {
        {"accepted", "Bearer s3cret", "application/json", kInsert, 10, false, 202, "", 1},
        {"charset is fine", "Bearer s3cret", "application/json; charset=utf-8", kInsert, 10, false,
         202, "", 1},
        {"a key change queues two rows", "Bearer s3cret", "application/json", kMove, 10, false, 202,
         "", 2},
        {"no credentials", "", "application/json", kInsert, 10, false, 401, "unauthorized", 0},
        {"wrong secret", "Bearer nope", "application/json", kInsert, 10, false, 401, "unauthorized",
         0},
        {"no content type", "Bearer s3cret", "", kInsert, 10, false, 415, "unsupported_media_type",
         0},
        {"form content type", "Bearer s3cret", "text/plain", kInsert, 10, false, 415,
         "unsupported_media_type", 0},
        {"not JSON", "Bearer s3cret", "application/json", "{", 10, false, 400, "malformed_json", 0},
        {"another table", "Bearer s3cret", "application/json", kOtherTable, 10, false, 422,
         "unknown_table", 0},
        {"queue full", "Bearer s3cret", "application/json", kInsert, 0, false, 503, "queue_full",
         0},
        {"second row overflows", "Bearer s3cret", "application/json", kMove, 1, false, 503,
         "queue_full", 1},
        {"draining", "Bearer s3cret", "application/json", kInsert, 10, true, 503, "draining", 0},
    };
    const auto auth = make_auth();
    const Table table;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        EventQueue queue("a", 1, c.capacity);
        if (c.closed) queue.close();
        const Delivery d{c.authorization, c.content_type, {}, c.body, 42};
        const auto answer = intake(d, auth, {{table}, {&queue}});
        EXPECT_EQ(answer.status, c.status) << answer.detail;
        EXPECT_EQ(answer.code, c.code) << answer.detail;
        EXPECT_EQ(answer.detail.empty(), c.status == 202) << answer.detail;
        EXPECT_EQ(queue.depth(), c.queued);
    }
}

TEST(Intake, TheQueuedEventNamesTheRowAndTheReceiveTime) {
    const auto auth = make_auth();
    EventQueue queue("a", 1, 10);
    ASSERT_EQ(
        intake({"Bearer s3cret", "application/json", {}, kInsert, 42}, auth, one(queue)).status,
        202);
    auto e = queue.pop(std::chrono::milliseconds(0));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->pk, "7");
    EXPECT_EQ(e->table, "articles");
    EXPECT_EQ(e->received_us, 42u);
}

TEST(Intake, EachTablesEventsGoToItsOwnQueue) {
    const auto auth = make_auth();
    EventQueue articles("a", 1, 10);
    EventQueue authors("a", 1, 10);
    const Destinations to{{Table{}, Table{"public", "authors", "id", "/authors"}},
                          {&articles, &authors}};
    ASSERT_EQ(intake({"Bearer s3cret", "application/json", {}, kOtherTable, 1}, auth, to).status,
              202);
    ASSERT_EQ(intake({"Bearer s3cret", "application/json", {}, kMove, 1}, auth, to).status, 202);
    EXPECT_EQ(authors.depth(), 1u);
    EXPECT_EQ(articles.depth(), 2u);
    auto e = authors.pop(std::chrono::milliseconds(0));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->table, "authors");
    EXPECT_EQ(e->pk, "7");

    EventQueue full("a", 1, 0);
    const Destinations to_full{{Table{}, Table{"public", "authors", "id", "/authors"}},
                               {&articles, &full}};
    const auto refused =
        intake({"Bearer s3cret", "application/json", {}, kOtherTable, 1}, auth, to_full);
    EXPECT_EQ(refused.code, "queue_full") << "a full queue refuses its own table's webhooks";
    EXPECT_NE(refused.detail.find("public.authors"), std::string::npos) << refused.detail;
    EXPECT_EQ(refused.table, 1) << "the refusal names the table it was refused at";
    EXPECT_EQ(intake({"", "application/json", {}, kInsert, 1}, auth, to_full).table, -1)
        << "a webhook refused before it is routed names none";
    EXPECT_EQ(intake({"Bearer s3cret", "application/json", {}, kInsert, 1}, auth, to_full).status,
              202)
        << "and no other table's";
}

// The canary's table is served beside the collections: a beat goes to the stream of the
// collection its row names, and a row that names none is refused as an unknown table is.
TEST(Intake, ACanaryBeatGoesToTheCollectionItsRowNames) {
    const auto auth = make_auth();
    EventQueue articles("a", 1, 10);
    EventQueue authors("a", 1, 10);
    const Destinations to{{Table{}, Table{"public", "authors", "id", "/authors"}, canary_table()},
                          {&articles, &authors},
                          {"articles", "authors"}};
    const auto beat = [](const std::string& name) {
        return R"({"type":"UPDATE","table":"canary","schema":"revalidator","record":{"collection":")" +
               name + R"(","beat":2,"at":"2026-01-01T00:00:00Z"},"old_record":null})";
    };
    ASSERT_EQ(
        intake({"Bearer s3cret", "application/json", {}, beat("authors"), 1}, auth, to).status,
        202);
    EXPECT_EQ(articles.depth(), 0u);
    auto e = authors.pop(std::chrono::milliseconds(0));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->schema, "revalidator");
    EXPECT_EQ(e->table, "canary");
    EXPECT_EQ(e->pk, "authors");

    const auto refused =
        intake({"Bearer s3cret", "application/json", {}, beat("books"), 1}, auth, to);
    EXPECT_EQ(refused.status, 422);
    EXPECT_EQ(refused.code, "unknown_table");
    EXPECT_NE(refused.detail.find("\"books\""), std::string::npos) << refused.detail;
    EXPECT_EQ(
        intake({"Bearer s3cret", "application/json", {}, beat("articles"), 1}, auth, one(articles))
            .status,
        422)
        << "an ingress not given the canary's table refuses its webhooks";
}

TEST(Intake, ARefusedSignedWebhookIsNotAReplayWhenSentAgain) {
    const auto auth = make_auth();
    const auto s = sign("msg_1", kInsert);
    const WebhookHeaders headers{s.id, s.timestamp, s.signature};
    EventQueue full("a", 1, 0);
    EXPECT_EQ(intake({"", "application/json", headers, kInsert, 1}, auth, one(full)).code,
              "queue_full");
    EXPECT_EQ(intake({"", "text/plain", headers, kInsert, 1}, auth, one(full)).code,
              "unsupported_media_type");
    EventQueue queue("a", 1, 10);
    EXPECT_EQ(intake({"", "application/json", headers, kInsert, 1}, auth, one(queue)).status, 202);
    const auto replay = intake({"", "application/json", headers, kInsert, 1}, auth, one(queue));
    EXPECT_EQ(replay.status, 401);
    EXPECT_NE(replay.detail.find("replay"), std::string::npos) << replay.detail;
}

}  // namespace
}  // namespace revalidator::ingress
