#include "consumer.hpp"

#include <zmq.hpp>

namespace revalidator::worker {

struct Consumer::Impl {
    zmq::context_t ctx{1};
    zmq::socket_t pull{ctx, zmq::socket_type::pull};
};

Consumer::Consumer(const std::string& endpoint, int receive_hwm,
                   const std::string& curve_secret_key)
    : impl_(std::make_unique<Impl>()) {
    impl_->pull.set(zmq::sockopt::rcvhwm, receive_hwm);
    impl_->pull.set(zmq::sockopt::linger, 0);
    if (!curve_secret_key.empty()) {
        impl_->pull.set(zmq::sockopt::curve_server, true);
        impl_->pull.set(zmq::sockopt::curve_secretkey, curve_secret_key);
    }
    impl_->pull.bind(endpoint);
}

Consumer::~Consumer() = default;

std::vector<std::string> Consumer::receive(std::size_t max, std::chrono::milliseconds timeout) {
    std::vector<std::string> frames;
    zmq::pollitem_t item{impl_->pull.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return frames;
    zmq::message_t msg;
    while (frames.size() < max && impl_->pull.recv(msg, zmq::recv_flags::dontwait)) {
        frames.emplace_back(msg.to_string());
    }
    return frames;
}

}  // namespace revalidator::worker
