// A list's version: what "{list}:version" holds beside every list and view the worker writes
// (docs/cache-layout.md, "The list's version"). It is a digest of the head's bytes (the list
// itself, or the manifest of a chunked list, whose part keys are never reused for other bytes), so
// a reader learns with one small get whether the list changed, and can check that the bytes it
// assembled are the version it was told: a version key read a moment before a newer head, or left
// by a write that failed, never labels other bytes.
#pragma once

#include <string>
#include <string_view>

namespace revalidator {

// The key of the version of the list (or view) under `list_key`: "{list_key}:version".
std::string version_key(std::string_view list_key);

// The version of a list whose head is `head`: 32 lowercase hex digits, 128 bits of its SHA-256.
// The read routes' strong ETag of the list is this in quotes.
std::string list_version(std::string_view head);

// Whether `value`, read back from the cache, has the form list_version() gives.
bool is_list_version(std::string_view value);

}  // namespace revalidator
