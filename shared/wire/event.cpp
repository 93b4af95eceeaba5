#include "event.hpp"

namespace revalidator {

std::string_view to_string(Op op) {
    switch (op) {
        case Op::Insert:
            return "INSERT";
        case Op::Update:
            return "UPDATE";
        case Op::Delete:
            return "DELETE";
        case Op::End:
            return "END";
        case Op::Heartbeat:
            return "HEARTBEAT";
        case Op::Resync:
            return "RESYNC";
    }
    return "?";
}

std::optional<Op> parse_op(std::string_view s) {
    if (s == "INSERT") return Op::Insert;
    if (s == "UPDATE") return Op::Update;
    if (s == "DELETE") return Op::Delete;
    if (s == "END") return Op::End;
    if (s == "HEARTBEAT") return Op::Heartbeat;
    if (s == "RESYNC") return Op::Resync;
    return std::nullopt;
}

}  // namespace revalidator
