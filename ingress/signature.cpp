#include "signature.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <charconv>
#include <chrono>
#include <memory>
#include <stdexcept>

namespace revalidator::ingress {

namespace {

constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::string_view kV1 = "v1,";
constexpr std::size_t kMacBytes = 32;
constexpr std::size_t kMacBase64Chars = 4 * ((kMacBytes + 2) / 3);  // 44, padded
constexpr std::size_t kMaxTimestampDigits = 15;                     // far past year 9999

// Standard base64, padded, nothing else. EVP_DecodeBlock alone is lax (it skips whitespace and
// accepts '=' anywhere), and a silently wrong key would reject every webhook.
bool is_padded_base64(std::string_view s) {
    if (s.empty() || s.size() % 4 != 0) return false;
    std::size_t data = s.size();
    for (int pad = 0; pad < 2 && s[data - 1] == '='; ++pad) --data;
    for (std::size_t i = 0; i < data; ++i) {
        char c = s[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '+' || c == '/';
        if (!alpha) return false;
    }
    return true;
}

using MacBase64 = std::array<char, kMacBase64Chars + 1>;  // EVP_EncodeBlock ends it with a NUL

// base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}"), as the sender puts it after "v1,".
MacBase64 signature_base64(const SigningKey& key, const WebhookHeaders& h, std::string_view body) {
    static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    struct Free {
        void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
    };
    std::unique_ptr<EVP_MAC_CTX, Free> ctx(hmac ? EVP_MAC_CTX_new(hmac) : nullptr);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    auto update = [&](std::string_view s) {
        return EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(s.data()),
                              s.size()) == 1;
    };
    std::array<unsigned char, kMacBytes> mac{};
    std::size_t mac_len = 0;
    bool ok = ctx &&
              EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.bytes.data()),
                           key.bytes.size(), params) == 1 &&
              update(h.id) && update(".") && update(h.timestamp) && update(".") && update(body) &&
              EVP_MAC_final(ctx.get(), mac.data(), &mac_len, mac.size()) == 1 &&
              mac_len == kMacBytes;
    if (!ok) throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
    MacBase64 b64{};
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), mac.data(),
                    static_cast<int>(mac.size()));
    return b64;
}

// Unix seconds written as 1 to 15 decimal digits, nothing else (no sign, no spaces).
std::optional<std::int64_t> parse_timestamp(std::string_view s) {
    if (s.empty() || s.size() > kMaxTimestampDigits) return std::nullopt;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
    }
    std::int64_t value = 0;
    std::from_chars(s.data(), s.data() + s.size(), value);
    return value;
}

std::optional<SignatureFailure> check_headers(const WebhookHeaders& h) {
    for (auto [name, value] :
         {std::pair{"webhook-id", h.id}, std::pair{"webhook-timestamp", h.timestamp},
          std::pair{"webhook-signature", h.signature}}) {
        if (value.empty()) {
            return SignatureFailure{
                SignatureFault::MissingHeader,
                std::string("missing ") + name +
                    " header (a signed webhook carries webhook-id, webhook-timestamp and "
                    "webhook-signature)"};
        }
    }
    if (h.id.size() > kMaxWebhookIdBytes) {
        return SignatureFailure{
            SignatureFault::MalformedId,
            "webhook-id is longer than " + std::to_string(kMaxWebhookIdBytes) + " bytes"};
    }
    return std::nullopt;
}

// Every "v1,<base64>" entry of the header, in order; entries of other versions are skipped.
std::vector<std::string_view> v1_signatures(std::string_view header) {
    std::vector<std::string_view> out;
    while (!header.empty()) {
        std::size_t end = header.find(' ');
        std::string_view entry = header.substr(0, end);
        if (entry.substr(0, kV1.size()) == kV1) out.push_back(entry.substr(kV1.size()));
        header.remove_prefix(end == std::string_view::npos ? header.size() : end + 1);
    }
    return out;
}

}  // namespace

std::int64_t system_unix_seconds() {
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

Result<SigningKey, std::string> parse_signing_secret(std::string_view secret) {
    if (secret.substr(0, kSecretPrefix.size()) != kSecretPrefix) {
        return Err{std::string("a signing secret must start with 'whsec_'")};
    }
    std::string_view b64 = secret.substr(kSecretPrefix.size());
    if (!is_padded_base64(b64)) {
        return Err{std::string("the part after 'whsec_' is not padded standard base64")};
    }
    std::string decoded(b64.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
    if (n < 0) return Err{std::string("the part after 'whsec_' is not valid base64")};
    // EVP_DecodeBlock counts the zero bytes that padding stands for; drop them.
    decoded.resize(static_cast<std::size_t>(n) - (b64.size() - b64.find_last_not_of('=') - 1));
    if (decoded.size() < kMinSigningKeyBytes) {
        return Err{"the key is shorter than " + std::to_string(kMinSigningKeyBytes) +
                   " bytes once decoded"};
    }
    return SigningKey{std::move(decoded)};
}

Result<std::vector<SigningKey>, std::string> parse_signing_secrets(std::string_view list) {
    constexpr std::string_view separators = ", \t\r\n";
    std::vector<SigningKey> keys;
    while (true) {
        std::size_t begin = list.find_first_not_of(separators);
        if (begin == std::string_view::npos) break;
        list.remove_prefix(begin);
        std::size_t end = list.find_first_of(separators);
        auto key = parse_signing_secret(list.substr(0, end));
        if (!key) {
            return Err{"signing secret #" + std::to_string(keys.size() + 1) + ": " + key.error()};
        }
        keys.push_back(std::move(*key));
        list.remove_prefix(end == std::string_view::npos ? list.size() : end);
    }
    return keys;
}

SignatureVerifier::SignatureVerifier(std::vector<SigningKey> keys, Options options)
    : keys_(std::move(keys)), options_(std::move(options)), replay_(options_.replay_capacity) {}

std::optional<SignatureFailure> SignatureVerifier::verify(const WebhookHeaders& h,
                                                          std::string_view body) const {
    if (auto bad = check_headers(h)) return bad;
    auto ts = parse_timestamp(h.timestamp);
    if (!ts) {
        return SignatureFailure{SignatureFault::MalformedTimestamp,
                                "webhook-timestamp must be unix seconds in decimal digits (1 to " +
                                    std::to_string(kMaxTimestampDigits) + " of them)"};
    }
    const std::int64_t now = options_.now();
    auto tolerance = [&] { return " (tolerance " + std::to_string(options_.tolerance_s) + " s)"; };
    if (*ts < now - options_.tolerance_s) {
        return SignatureFailure{
            SignatureFault::TimestampTooOld,
            "webhook-timestamp is " + std::to_string(now - *ts) + " s in the past" + tolerance()};
    }
    if (*ts > now + options_.tolerance_s) {
        return SignatureFailure{
            SignatureFault::TimestampTooNew,
            "webhook-timestamp is " + std::to_string(*ts - now) + " s in the future" + tolerance()};
    }
    auto presented = v1_signatures(h.signature);
    if (presented.empty()) {
        return SignatureFailure{SignatureFault::NoV1Signature,
                                "webhook-signature has no 'v1,<base64>' entry"};
    }
    bool match = false;
    for (const auto& key : keys_) {
        const MacBase64 mac = signature_base64(key, h, body);
        const std::string_view expected(mac.data(), kMacBase64Chars);
        for (auto p : presented) {
            match |= p.size() == expected.size() &&
                     CRYPTO_memcmp(p.data(), expected.data(), expected.size()) == 0;
        }
    }
    if (!match) {
        return SignatureFailure{
            SignatureFault::NoMatchingSignature,
            "no v1 signature in webhook-signature matches a configured signing secret"};
    }
    auto claim = replay_.claim(h.id, *ts + options_.tolerance_s, now);
    if (claim == ReplayCache::Claim::Replayed) {
        return SignatureFailure{
            SignatureFault::Replayed,
            "webhook-id was already accepted within the tolerance window (replay)"};
    }
    if (claim == ReplayCache::Claim::Full) {
        return SignatureFailure{SignatureFault::ReplayCacheFull,
                                "too many recent webhook-ids to remember; retry later"};
    }
    return std::nullopt;
}

}  // namespace revalidator::ingress
