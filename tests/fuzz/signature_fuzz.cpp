// libFuzzer target: Standard Webhooks verification and signing-secret parsing. The input is split
// at the first three newlines into webhook-id, webhook-timestamp, webhook-signature and body; the
// clock reads the spec vector's time, so seeds built from it reach the HMAC comparison. Nothing
// may crash; an accepted request must be refused as a replay the second time; and the last line
// of the input, parsed as a signing-secret list, must either parse or explain itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "signature.hpp"

using namespace revalidator::ingress;

namespace {

std::string_view next_line(std::string_view& rest) {
    std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    WebhookHeaders headers;
    headers.id = next_line(rest);
    headers.timestamp = next_line(rest);
    headers.signature = next_line(rest);
    std::string_view body = rest;

    static const SigningKey key = *parse_signing_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    SignatureVerifier verifier({key}, {300, 4, [] { return std::int64_t{1614265330}; }});
    if (!verifier.verify(headers, body)) {
        auto again = verifier.verify(headers, body);
        if (!again || again->fault != SignatureFault::Replayed) std::abort();
    }

    auto secrets = parse_signing_secrets(body.substr(body.rfind('\n') + 1));
    if (!secrets && secrets.error().empty()) std::abort();
    return 0;
}
