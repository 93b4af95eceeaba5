// A Standard Webhooks sender for tests: signs with OpenSSL's one-shot HMAC(), independently of the
// streaming EVP_MAC code under test, so the two check each other (and the spec's vector checks
// both).
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

namespace revalidator::ingress::testing {

inline constexpr const char* kSpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
inline constexpr const char* kSpecId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
inline constexpr const char* kSpecTimestamp = "1614265330";
inline constexpr const char* kSpecBody = R"({"test": 2432232314})";
inline constexpr const char* kSpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" where `secret` is "whsec_<base64 key>".
inline std::string sign(const std::string& secret, const std::string& id,
                        const std::string& timestamp, const std::string& body) {
    std::string b64 = secret.substr(6);
    unsigned char key[128];
    int key_len = EVP_DecodeBlock(key, reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    key_len -= static_cast<int>(b64.size() - b64.find_last_not_of('=') - 1);
    std::string message = id + "." + timestamp + "." + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key, key_len, reinterpret_cast<const unsigned char*>(message.data()),
         message.size(), mac, &mac_len);
    unsigned char out[4 * EVP_MAX_MD_SIZE];
    int n = EVP_EncodeBlock(out, mac, static_cast<int>(mac_len));
    return "v1," + std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

}  // namespace revalidator::ingress::testing
