#include "build_info.hpp"

// Generated in the build tree on every build (shared/CMakeLists.txt): this file alone recompiles
// when the commit changes.
#include "build_info_values.hpp"

namespace revalidator::build_info {

std::string_view version() {
    return REVALIDATOR_VERSION;
}

std::string_view commit() {
    return REVALIDATOR_COMMIT;
}

std::string line(std::string_view program) {
    return std::string(program) + " " + std::string(version()) + " (commit " +
           std::string(commit()) + ")";
}

}  // namespace revalidator::build_info
