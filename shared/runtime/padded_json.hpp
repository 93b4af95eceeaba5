// simdjson's On-Demand parse of a text it reads up to SIMDJSON_PADDING bytes past the end of: the
// text is copied into a padded buffer first. Texts up to kKeptBytes reuse a parser and a buffer
// kept by the thread (one pair per call site), so a steady stream of webhooks or frames costs no
// allocation; a larger text gets its own pair, freed after the call, so that a rare large text
// does not pin its memory to the thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include <simdjson.h>

namespace revalidator::padded_json {

inline constexpr std::size_t kKeptBytes = 64 * 1024;

// Returns `use(document)` for `text`, or `refused` when simdjson cannot start reading it. The
// document is valid only within `use`.
template <class Result, class Use>
Result parse(std::string_view text, Result refused, Use&& use) {
    struct Buffers {
        simdjson::ondemand::parser parser;
        std::string padded;
    };
    static thread_local Buffers kept;
    Buffers own;
    Buffers& buffers = text.size() <= kKeptBytes ? kept : own;
    buffers.padded.assign(text);
    buffers.padded.append(simdjson::SIMDJSON_PADDING, '\0');
    simdjson::ondemand::document doc;
    if (buffers.parser.iterate(buffers.padded.data(), text.size(), buffers.padded.size())
            .get(doc)) {
        return refused;
    }
    return std::forward<Use>(use)(doc);
}

}  // namespace revalidator::padded_json
