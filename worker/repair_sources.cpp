#include "repair_sources.hpp"

#include <memory>
#include <stdexcept>

#include <openssl/evp.h>

#include "cache/cache_key.hpp"

namespace revalidator::worker {

std::string md5_hex(std::string_view bytes) {
    // One context per thread, reused: the pass digests thousands of values a second.
    thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                             EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) {
        throw std::runtime_error("md5 is not available in this OpenSSL");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(2 * size, '0');
    for (unsigned int i = 0; i < size; ++i) {
        out[2 * i] = kHex[digest[i] >> 4];
        out[2 * i + 1] = kHex[digest[i] & 0xf];
    }
    return out;
}

std::optional<std::string> listed_row_id(std::string_view prefix, std::string_view key) {
    if (key.size() <= prefix.size() || key.substr(0, prefix.size()) != prefix ||
        key[prefix.size()] != '/') {
        return std::nullopt;
    }
    std::string id(key.substr(prefix.size() + 1));
    if (id.find('/') != std::string::npos || id.find(":part:") != std::string::npos)
        return std::nullopt;
    auto own = item_key(prefix, id);
    if (!own || *own != key) return std::nullopt;
    return id;
}

}  // namespace revalidator::worker
