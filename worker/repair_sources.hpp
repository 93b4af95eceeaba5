// What the repair pass (anti_entropy.hpp) and verify (verify.hpp) read besides the cache's values:
// Postgres' digest of each row (DigestSource, which pg_source.hpp implements) and the keys the
// cache holds under a prefix (KeyLister, which key_lister.hpp implements over Memcached). Kept
// apart from both users so that each adapter includes only the interface it implements.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace revalidator::worker {

struct RowDigest {
    std::string pk;   // pk::text
    std::string md5;  // md5 of to_jsonb(row)::text, 32 lower-case hex digits
};

// Postgres' md5(text) of `bytes`: 32 lower-case hex digits.
std::string md5_hex(std::string_view bytes);

// One slice of the table's rows, by primary key as Postgres orders it.
class DigestSource {
  public:
    virtual ~DigestSource() = default;
    // Up to `limit` rows after `after` (from the first row when nullopt), in primary key order.
    // Throws when Postgres cannot be read.
    virtual std::vector<RowDigest> digests(const std::optional<std::string>& after,
                                           std::size_t limit) = 0;
    // The rows that exist among `pks`, each under its own pk::text (an id spelled otherwise, such
    // as "007" for 7, is not answered for).
    virtual std::vector<RowDigest> digests_of(const std::vector<std::string>& pks) = 0;
    // Whether `id` spells a value of the primary key's type ("007" does for an integer key,
    // "featured" does not; every id does for a text key). Throws when that cannot be known yet.
    virtual bool spells_key(const std::string& id) = 0;
};

// The keys the cache holds whose names start with a prefix, on every server. nullopt when they
// cannot all be listed now (a server away or busy); the pass then does without.
class KeyLister {
  public:
    virtual ~KeyLister() = default;
    virtual std::optional<std::vector<std::string>> keys(std::string_view prefix) = 0;
};

// The id a key listed from the cache names under `prefix`, when the key has the shape of one of
// this collection's row keys: exactly the key item_key builds for that id, with no '/' in the id
// nor a ":part:" (the shapes of the keys of a collection whose prefix nests under this one's,
// "/articles/featured/1" and "/articles/featured:part:1:0"). Keys read from the cache are input
// like any other. The pass deletes a listed key no row has only when, besides, its id spells a
// value of the key's type (DigestSource::spells_key) and it holds no list (docs/cache-layout.md,
// "Keys the worker deletes").
std::optional<std::string> listed_row_id(std::string_view prefix, std::string_view key);

}  // namespace revalidator::worker
