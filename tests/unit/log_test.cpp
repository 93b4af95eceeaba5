#include "runtime/log.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace revalidator::log {
namespace {

// The JSON objects written to stderr while `write` runs, one per line.
template <typename F>
std::vector<Fields> lines_of(F write) {
    testing::internal::CaptureStderr();
    write();
    std::istringstream out(testing::internal::GetCapturedStderr());
    std::vector<Fields> lines;
    for (std::string line; std::getline(out, line);) lines.push_back(Fields::parse(line));
    return lines;
}

TEST(LogScope, EveryLineOfTheThreadCarriesTheScopesFields) {
    init("test", "info");
    const auto lines = lines_of([] {
        info("before");
        {
            Scope table("collection", "articles");
            info("inside", {{"rows", 3}});
            {
                Scope inner("view", "published");
                warn("nested");
            }
            info("inner closed");
        }
        info("after");
    });
    ASSERT_EQ(lines.size(), 5u);
    EXPECT_FALSE(lines[0].contains("collection"));
    EXPECT_EQ(lines[1]["collection"], "articles");
    EXPECT_EQ(lines[1]["rows"], 3);
    EXPECT_EQ(lines[2]["collection"], "articles");
    EXPECT_EQ(lines[2]["view"], "published");
    EXPECT_EQ(lines[3]["collection"], "articles");
    EXPECT_FALSE(lines[3].contains("view"));
    EXPECT_FALSE(lines[4].contains("collection"));
}

TEST(LogScope, TheLinesOwnFieldWinsAndOtherThreadsAreUntouched) {
    init("test", "info");
    const auto lines = lines_of([] {
        Scope table("collection", "articles");
        info("own", {{"collection", "authors"}});
        std::thread([] { info("elsewhere"); }).join();
        std::thread([carried = scope_fields()] {
            Scope again(carried);
            info("carried");
        }).join();
    });
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0]["collection"], "authors");
    EXPECT_FALSE(lines[1].contains("collection"));
    EXPECT_EQ(lines[2]["collection"], "articles");
}

}  // namespace
}  // namespace revalidator::log
