#include "auth.hpp"

namespace revalidator::ingress {

Authenticator::Authenticator(std::vector<std::string> bearer_secrets, bool insecure,
                             SigningConfig signing)
    : bearer_(bearer_secrets), insecure_(insecure) {
    if (!signing.keys.empty())
        verifier_.emplace(std::move(signing.keys), std::move(signing.options));
}

std::optional<Rejection> Authenticator::check(std::string_view authorization) const {
    if (insecure_) return std::nullopt;
    if (bearer_.empty() && verifier_) {
        return Rejection{401, "unauthorized",
                         "this ingress accepts only signed webhooks: missing webhook-id, "
                         "webhook-timestamp and webhook-signature headers"};
    }
    auto denied = bearer_.check(authorization);
    if (!denied) return std::nullopt;
    if (verifier_) *denied += " (or sign the request with a Standard Webhooks signature)";
    return Rejection{401, "unauthorized", std::move(*denied)};
}

Result<Admission, Rejection> Authenticator::admit(const Credentials& request) const {
    if (insecure_) return Admission{};
    if (verifier_ && request.webhook.any()) {
        auto failure = verifier_->verify(request.webhook, request.body);
        if (!failure) return Admission{std::string(request.webhook.id)};
        if (failure->fault == SignatureFault::ReplayCacheFull) {
            return Err{Rejection{503, "replay_cache_full", std::move(failure->detail)}};
        }
        return Err{Rejection{401, "unauthorized", std::move(failure->detail)}};
    }
    if (auto denied = check(request.authorization)) {
        if (request.webhook.any()) {
            denied->detail +=
                " (webhook-* signature headers are ignored: no signing secret is "
                "configured)";
        }
        return Err{std::move(*denied)};
    }
    return Admission{};
}

void Authenticator::release(const Admission& admission) const {
    if (verifier_ && !admission.claimed_id.empty()) verifier_->release(admission.claimed_id);
}

}  // namespace revalidator::ingress
