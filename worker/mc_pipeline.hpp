// A batch's sets, or its deletes, pipelined over Memcached's meta protocol, with an outcome for
// every key: the adapter behind McSink::set_many and remove_many (docs/cache-layout.md, "How the
// worker writes").
//
// libmemcached's set waits a round trip per key, and its NOREPLY pipelining answers nothing, not
// even which key was refused (promise 4 needs that). Here every key goes to the server
// libmemcached's ring names for it (memcached_server_by_key on a copy of the sink's handle), and
// each server gets the batch over one non-blocking socket of its own as quiet `ms` (or `md`)
// commands ended by `mn` (worker/meta_writes.hpp): a stored or deleted key costs no answer, a
// refused one is named, and keys an error line leaves in doubt are sent again, answered one by one.
//
// What each key gets:
// - Refused: its key fails check_key (never sent), or the server refused it (too large, out of
//   memory, not stored);
// - Unreachable: its server could not be connected to, closed the connection, answered out of
//   step, or gave no bytes for `io`; that server is then left alone for the rest of the call and
//   for a second (as libmemcached's handles do), so a frozen server costs a call about one `io`,
//   not one per key. A connection that failed is closed at once with a reset, so that what the
//   worker's kernel still holds for the server is dropped rather than delivered when it thaws
//   (what the server's kernel already took, it applies then; those keys are owed and rewritten
//   from Postgres once it answers), and opened again next time; one is reused only if it ended
//   its last round with nothing left unread.
// - Ok otherwise.
//
// The batch is sent in chunks of about `chunk_bytes`. Before each, the WriteGate is asked (closed:
// Fenced is thrown, and no statuses are returned); each chunk ends, at its slowest, `bound()`
// after that question; if the gate closed by the time a chunk's answers were in,
// closed_during_write is called (once a call). Host names are resolved (getaddrinfo, blocking)
// when a connection is opened.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "cache/mc_client.hpp"
#include "cache_sink.hpp"

struct memcached_st;

namespace revalidator::worker {

class McPipeline {
  public:
    static constexpr std::size_t kChunkBytes = 4 << 20;

    // `ring`: a handle from connect_memcached, copied (clone_memcached) to find each key's
    // server; the copy never connects.
    McPipeline(const memcached_st* ring, McTimeouts timeouts, WriteGate gate,
               std::size_t chunk_bytes = kChunkBytes);
    ~McPipeline();
    McPipeline(const McPipeline&) = delete;
    McPipeline& operator=(const McPipeline&) = delete;

    // CacheSink::set_many's and remove_many's contracts: a status per item, in order; items are
    // distinct keys.
    std::vector<WriteStatus> set_many(std::span<const CacheItem> items);
    std::vector<WriteStatus> remove_many(std::span<const std::string> keys);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace revalidator::worker
