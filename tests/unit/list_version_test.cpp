// The list's version as docs/cache-layout.md documents it for other readers: its key, its form,
// and the example given there.
#include "cache/list_version.hpp"

#include <gtest/gtest.h>

namespace revalidator {
namespace {

TEST(ListVersion, IsTheDocumentedDigestOfTheHead) {
    EXPECT_EQ(list_version("[]"), "4f53cda18c2baa0c0354bb5f9a3ecbe5");
    EXPECT_EQ(version_key("/articles"), "/articles:version");
    EXPECT_NE(list_version("[1]"), list_version("[2]"));
}

TEST(ListVersion, OnlyItsOwnFormIsAVersion) {
    EXPECT_TRUE(is_list_version(list_version("[1]")));
    for (const char* bad :
         {"", "4f53cda18c2baa0c0354bb5f9a3ecbe", "4f53cda18c2baa0c0354bb5f9a3ecbe55",
          "4F53CDA18C2BAA0C0354BB5F9A3ECBE5", "4f53cda18c2baa0c0354bb5f9a3ecbeg",
          "\"4f53cda18c2baa0c0354bb5f9a3ecb\""}) {
        EXPECT_FALSE(is_list_version(bad)) << bad;
    }
}

}  // namespace
}  // namespace revalidator
