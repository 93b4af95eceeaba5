#include "process_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "build_info.hpp"

namespace revalidator::metrics {

namespace {

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

// The next space-separated field of `text`, consumed; empty at the end.
std::string_view next_field(std::string_view& text) {
    const auto start = text.find_first_not_of(" \n");
    if (start == std::string_view::npos) {
        text = {};
        return {};
    }
    text.remove_prefix(start);
    const auto end = std::min(text.find_first_of(" \n"), text.size());
    const auto field = text.substr(0, end);
    text.remove_prefix(end);
    return field;
}

std::optional<std::uint64_t> number(std::string_view field) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
    if (ec != std::errc() || end != field.data() + field.size() || field.empty()) {
        return std::nullopt;
    }
    return v;
}

std::optional<std::string> read_whole(const char* path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
    // "pid (comm) state ppid ...": the name ends at the last ')', since it may hold one itself.
    const auto close = text.rfind(')');
    if (close == std::string_view::npos) return std::nullopt;
    text.remove_prefix(close + 1);
    // Fields after the name are numbered from 3 (state); utime is 14, stime 15, starttime 22.
    ProcStat s;
    for (int field = 3; field <= 22; ++field) {
        const auto value = next_field(text);
        if (value.empty()) return std::nullopt;
        std::uint64_t* into = field == 14   ? &s.utime
                              : field == 15 ? &s.stime
                              : field == 22 ? &s.starttime
                                            : nullptr;
        if (!into) continue;
        const auto n = number(value);
        if (!n) return std::nullopt;
        *into = *n;
    }
    return s;
}

std::optional<std::uint64_t> parse_statm_resident_pages(std::string_view text) {
    next_field(text);  // size
    return number(next_field(text));
}

std::optional<std::uint64_t> parse_boot_time(std::string_view text) {
    while (!text.empty()) {
        const auto end = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, end);
        text.remove_prefix(std::min(end + 1, text.size()));
        if (next_field(line) == "btime") return number(next_field(line));
    }
    return std::nullopt;
}

double cpu_seconds(const ProcStat& stat, long ticks_per_second) {
    return static_cast<double>(stat.utime + stat.stime) / static_cast<double>(ticks_per_second);
}

double start_time_seconds(const ProcStat& stat, std::uint64_t boot_time, long ticks_per_second) {
    return static_cast<double>(boot_time) +
           static_cast<double>(stat.starttime) / static_cast<double>(ticks_per_second);
}

void add_process_metrics(Registry& registry) {
    registry
        .gauge(
            "revalidator_build_info",
            "the version and git commit this process was built from; always 1",
            label("version", build_info::version()) + "," + label("commit", build_info::commit()))
        .set(1);

    const long ticks = sysconf(_SC_CLK_TCK);
    const long page = sysconf(_SC_PAGESIZE);
    const auto self_stat = [] {
        const auto text = read_whole("/proc/self/stat");
        return text ? parse_proc_stat(*text) : std::nullopt;
    };
    registry.counter_fn("process_cpu_seconds_total", "user and system CPU time spent, in seconds",
                        [=] {
                            const auto s = self_stat();
                            return s ? cpu_seconds(*s, ticks) : kUnknown;
                        });
    registry.gauge_fn("process_resident_memory_bytes", "resident memory size, in bytes", [=] {
        const auto text = read_whole("/proc/self/statm");
        const auto pages = text ? parse_statm_resident_pages(*text) : std::nullopt;
        return pages ? static_cast<double>(*pages) * static_cast<double>(page) : kUnknown;
    });
    registry.gauge_fn("process_open_fds", "open file descriptors", [] {
        std::error_code ec;
        std::filesystem::directory_iterator fds("/proc/self/fd", ec);
        if (ec) return kUnknown;
        // The descriptor that lists the folder is one of them, as in every client library.
        return static_cast<double>(std::distance(fds, std::filesystem::directory_iterator()));
    });
    registry.gauge_fn("process_max_fds", "the limit of open file descriptors (RLIMIT_NOFILE)", [] {
        rlimit lim{};
        if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return kUnknown;
        return lim.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity()
                                             : static_cast<double>(lim.rlim_cur);
    });
    // The start never changes: read once, here.
    const auto stat = self_stat();
    const auto proc_stat = read_whole("/proc/stat");
    const auto boot = proc_stat ? parse_boot_time(*proc_stat) : std::nullopt;
    const double start = stat && boot ? start_time_seconds(*stat, *boot, ticks) : kUnknown;
    registry.gauge_fn("process_start_time_seconds",
                      "start time of the process since the unix epoch, in seconds",
                      [start] { return start; });
}

}  // namespace revalidator::metrics
