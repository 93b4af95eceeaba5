// An incremental HTTP/1.1 response reader for the load generator: just enough of RFC 9112 to find
// where one response ends (Content-Length or chunked framing), its status, and whether the server
// will close the connection. Responses to a webhook are a few dozen bytes, so parse() re-reads the
// whole buffer each time more bytes arrive instead of keeping per-byte state.
#pragma once

#include <cstddef>
#include <string_view>

namespace loadgen {

class ResponseParser {
  public:
    enum class State { Incomplete, Complete, Invalid };

    // `buf` holds every byte received since the response began. On Complete, status(), close()
    // and consumed() describe the response.
    State parse(std::string_view buf);

    int status() const { return status_; }
    bool close() const { return close_; }
    std::size_t consumed() const { return consumed_; }

  private:
    int status_ = 0;
    bool close_ = false;
    std::size_t consumed_ = 0;
};

}  // namespace loadgen
