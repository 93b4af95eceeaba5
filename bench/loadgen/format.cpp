#include "format.hpp"

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace loadgen {

std::string thousands(std::uint64_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    return buf;
}

void write_json_file(const std::string& path, const nlohmann::json& j) {
    if (path.empty()) return;
    std::ofstream f(path);
    f << j.dump(2) << "\n";
    if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace loadgen
