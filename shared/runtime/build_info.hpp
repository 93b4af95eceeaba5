// What was built: the project's version (CMakeLists.txt, project(VERSION)) and the git commit of
// the sources, "1a2b3c4d5e6f", "1a2b3c4d5e6f-dirty" (tracked files changed) or "unknown" (not
// built from a checkout). The commit is read on every build, so a rebuild after a commit reports
// the new one (shared/runtime/build_info.cmake). --version prints line(); /metrics exports both
// as revalidator_build_info.
#pragma once

#include <string>
#include <string_view>

namespace revalidator::build_info {

std::string_view version();
std::string_view commit();
// "revalidator-worker 0.9.0 (commit 1a2b3c4d5e6f)": what `program --version` prints.
std::string line(std::string_view program);

}  // namespace revalidator::build_info
