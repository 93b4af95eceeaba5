// `webhook_parse`: what parsing a webhook body costs per call, the one part of the ack path whose
// cost grows with the row. Bodies are Supabase Database Webhooks as pg_net sends them (the jsonb
// text of {type, table, record, schema, old_record}, keys in jsonb's order) for a row of ~200 bytes
// and one of ~4 KB whose text has paragraphs, quotes and non-ASCII letters, for INSERT, UPDATE and
// DELETE. Variants:
//   (a) dom       parse_webhook as it is: the whole body into an nlohmann::json DOM, after a pass
//                 that bounds the nesting;
//   (b) sax       nlohmann's SAX parser over the whole body (every byte validated as in (a)),
//                 keeping only type, table, schema and the records' primary keys;
//   (c) simdjson  simdjson's On-Demand API (only when libsimdjson-dev is installed): the body is
//                 copied into a padded buffer first, as On-Demand reads past the end; "fields"
//                 reads only what is needed (values skipped are not fully validated), "walk" visits
//                 every value so that the whole body is validated, as (a) and (b) do;
//   pad copy      the padded copy alone, what (c) pays before parsing.
// Every variant's changes are checked against (a)'s on every body before anything is timed. After
// Google Benchmark's own table it prints each variant's time per call and its ratio to (a).
// On-Demand is compiled into its caller, for the CPU the compiler targets: for Debian's baseline
// x86-64 that is simdjson's portable kernel, so webhook_parse_haswell (the same source built with
// -march=haswell, every variant alike) shows it with AVX2.
//   build-rel/bench/webhook_parse [--benchmark_min_time=0.2]
#include <benchmark/benchmark.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#ifdef REVALIDATOR_HAVE_SIMDJSON
#include <simdjson.h>
#endif

#include "webhook.hpp"

namespace {

using nlohmann::json;
using revalidator::Table;
using revalidator::ingress::Change;

// Article text as Postgres renders it inside a row's JSON: paragraphs (\n\n), quotes (\"), and
// letters outside ASCII.
std::string article_text(std::size_t chars) {
    static constexpr std::string_view words[] = {
        "lorem ",        "ipsum ",       "dolor ",        "sit ",
        "amet, ",        "caf\xc3\xa9 ", "na\xc3\xafve ", "\\\"quoted\\\" ",
        "\xe2\x80\x94 ", "consectetur ", "adipiscing ",   "elit.\\n\\n"};
    std::string text;
    for (std::size_t i = 0; text.size() < chars; ++i) text += words[i % std::size(words)];
    return text;
}

// public.articles as to_jsonb renders it: keys ordered by length, then bytewise.
std::string row(int id, int version, std::size_t text_chars) {
    const std::string ids = std::to_string(id);
    return R"({"id": )" + ids + R"(, "body": ")" + article_text(text_chars) +
           R"(", "title": "Article )" + ids + R"(", "version": )" + std::to_string(version) +
           R"(, "published_at": "2024-01-01T00:00:00+00:00"})";
}

std::string webhook(const std::string& type, const std::string& record,
                    const std::string& old_record) {
    return R"({"type": ")" + type + R"(", "table": "articles", "record": )" + record +
           R"(, "schema": "public", "old_record": )" + old_record + "}";
}

struct Body {
    std::string name;
    std::string text;
};

std::vector<Body> bodies() {
    std::vector<Body> out;
    for (auto [size, chars] : {std::pair{"small", std::size_t{90}}, {"4KB", std::size_t{3880}}}) {
        const std::string v1 = row(4711, 1, chars);
        const std::string v2 = row(4711, 2, chars);
        out.push_back({std::string(size) + "/INSERT", webhook("INSERT", v1, "null")});
        out.push_back({std::string(size) + "/UPDATE", webhook("UPDATE", v2, v1)});
        out.push_back({std::string(size) + "/DELETE", webhook("DELETE", "null", v2)});
    }
    return out;
}

// "UPDATE:4711", or "rejected" when the body was refused.
std::string render(const std::vector<Change>& changes) {
    std::string out;
    for (const auto& c : changes) {
        out += out.empty() ? "" : ",";
        out += std::string(to_string(c.op)) + ":" + c.pk;
    }
    return out.empty() ? "rejected" : out;
}

std::vector<Change> parse_dom(std::string_view body, const Table& table) {
    auto r = revalidator::ingress::parse_webhook(body, std::span(&table, 1));
    return r ? std::move(r->changes) : std::vector<Change>{};
}

// The changes a body names, from its type and its records' keys (each nullopt when absent or not
// a usable key): the same rules as parse_webhook for bodies it accepts.
std::vector<Change> changes_of(std::string_view type, std::optional<std::string> pk,
                               std::optional<std::string> old_pk) {
    auto op = revalidator::parse_op(type);
    if (!op) return {};
    if (*op == revalidator::Op::Delete) {
        if (!old_pk) return {};
        return {{*op, std::move(*old_pk)}};
    }
    if (!pk) return {};
    std::vector<Change> out{{*op, *pk}};
    if (*op == revalidator::Op::Update && old_pk && *old_pk != *pk) {
        out.push_back({revalidator::Op::Delete, std::move(*old_pk)});
    }
    return out;
}

// (b): the fields parse_webhook uses, kept while nlohmann's SAX parser validates the whole body.
// Later duplicates of a key replace earlier ones, as in the DOM.
class SaxFields {
  public:
    explicit SaxFields(const std::string& pk_name) : pk_name_(pk_name) {}

    bool null() { return value(nullptr); }
    bool boolean(bool) { return value(nullptr); }
    bool number_integer(json::number_integer_t v) { return integer(v); }
    bool number_unsigned(json::number_unsigned_t v) { return integer(v); }
    bool number_float(json::number_float_t, const std::string&) { return value(nullptr); }
    bool string(std::string& s) { return value(&s); }
    bool binary(json::binary_t&) { return value(nullptr); }
    bool start_object(std::size_t) {
        value(nullptr);
        return ++depth_ <= revalidator::ingress::kMaxJsonDepth;
    }
    bool start_array(std::size_t n) { return start_object(n); }
    bool end_object() {
        --depth_;
        return true;
    }
    bool end_array() { return end_object(); }
    bool key(std::string& k) {
        if (depth_ == 1) {
            field_ = k == "type"         ? &type_
                     : k == "table"      ? &table_
                     : k == "schema"     ? &schema_
                     : k == "record"     ? &pk_
                     : k == "old_record" ? &old_pk_
                                         : nullptr;
            row_ = field_ == &pk_ || field_ == &old_pk_ ? field_ : nullptr;
        } else if (depth_ == 2 && row_ != nullptr && k == pk_name_) {
            pk_slot_ = row_;
        }
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const json::exception&) { return false; }

    std::optional<std::string> type_, table_, schema_, pk_, old_pk_;

  private:
    template <class T>
    bool integer(T v) {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
        std::string text(buf, end);
        return value(&text);
    }
    bool value(const std::string* text) {
        if (depth_ == 1 && field_ != nullptr) {
            if (text && row_ == nullptr) {
                *field_ = *text;
            } else {
                field_->reset();
            }
        }
        if (depth_ == 2 && pk_slot_ != nullptr) {
            if (text) {
                *pk_slot_ = *text;
            } else {
                pk_slot_->reset();
            }
            pk_slot_ = nullptr;
        }
        return true;
    }

    const std::string& pk_name_;
    int depth_ = 0;
    std::optional<std::string>* field_ = nullptr;
    std::optional<std::string>* row_ = nullptr;
    std::optional<std::string>* pk_slot_ = nullptr;
};

std::vector<Change> parse_sax(std::string_view body, const Table& table) {
    SaxFields f(table.primary_key);
    if (!json::sax_parse(body, &f) || !f.type_ || f.schema_ != table.schema ||
        f.table_ != table.name) {
        return {};
    }
    return changes_of(*f.type_, std::move(f.pk_), std::move(f.old_pk_));
}

#ifdef REVALIDATOR_HAVE_SIMDJSON
namespace od = simdjson::ondemand;

// The kernel On-Demand was compiled with here (builtin_implementation() names the library's own).
#define REVALIDATOR_SPELL(x) #x
#define REVALIDATOR_NAME_OF(x) REVALIDATOR_SPELL(x)
constexpr const char* kOnDemandKernel = REVALIDATOR_NAME_OF(SIMDJSON_BUILTIN_IMPLEMENTATION);

simdjson::error_code walk(od::value v, int depth) {
    if (depth > revalidator::ingress::kMaxJsonDepth) return simdjson::DEPTH_ERROR;
    od::json_type type;
    if (auto e = v.type().get(type)) return e;
    switch (type) {
        case od::json_type::object: {
            od::object o;
            if (auto e = v.get_object().get(o)) return e;
            for (auto field : o) {
                std::string_view key;
                od::value inner;
                if (auto e = field.unescaped_key().get(key)) return e;
                if (auto e = field.value().get(inner)) return e;
                if (auto e = walk(inner, depth + 1)) return e;
            }
            return simdjson::SUCCESS;
        }
        case od::json_type::array: {
            od::array a;
            if (auto e = v.get_array().get(a)) return e;
            for (auto element : a) {
                od::value inner;
                if (auto e = element.get(inner)) return e;
                if (auto e = walk(inner, depth + 1)) return e;
            }
            return simdjson::SUCCESS;
        }
        case od::json_type::string: {
            std::string_view s;
            return v.get_string().get(s);
        }
        case od::json_type::number: {
            od::number n;
            return v.get_number().get(n);
        }
        case od::json_type::boolean: {
            bool b;
            return v.get_bool().get(b);
        }
        case od::json_type::null: {
            bool null;
            return v.is_null().get(null);
        }
    }
    return simdjson::INCORRECT_TYPE;
}

// A record's primary key: an integer in decimal, or a string; nullopt otherwise.
std::optional<std::string> simdjson_pk(od::value record, const std::string& pk_name,
                                       bool walk_all) {
    od::object o;
    if (record.get_object().get(o)) return std::nullopt;
    std::optional<std::string> pk;
    for (auto field : o) {
        std::string_view key;
        od::value v;
        if (field.unescaped_key().get(key) || field.value().get(v)) return std::nullopt;
        if (key != pk_name) {
            if (walk_all && walk(v, 3)) return std::nullopt;
            continue;
        }
        od::number_type number;
        std::string_view text;
        if (v.get_number_type().get(number) == simdjson::SUCCESS &&
            number != od::number_type::floating_point_number) {
            char buf[24];
            od::number n;
            if (v.get_number().get(n)) return std::nullopt;
            auto [end, ec] = n.is_int64() ? std::to_chars(buf, buf + sizeof buf, n.get_int64())
                                          : std::to_chars(buf, buf + sizeof buf, n.get_uint64());
            pk.emplace(buf, end);
        } else if (v.get_string().get(text) == simdjson::SUCCESS) {
            pk.emplace(text);
        } else {
            pk.reset();
        }
    }
    return pk;
}

template <bool WalkAll>
std::vector<Change> parse_simdjson(std::string_view body, const Table& table) {
    static thread_local od::parser parser;
    const simdjson::padded_string padded(body);
    od::document doc;
    od::object root;
    if (parser.iterate(padded).get(doc) || doc.get_object().get(root)) return {};
    std::string type;
    std::optional<std::string> pk, old_pk;
    for (auto field : root) {
        std::string_view key;
        od::value v;
        if (field.unescaped_key().get(key) || field.value().get(v)) return {};
        if (key == "type") {
            std::string_view s;
            if (v.get_string().get(s)) return {};
            type = s;
        } else if (key == "record" || key == "old_record") {
            bool null = false;
            if (v.is_null().get(null)) return {};
            auto& slot = key == "record" ? pk : old_pk;
            slot = null ? std::nullopt : simdjson_pk(v, table.primary_key, WalkAll);
        } else if (WalkAll && walk(v, 2)) {
            return {};
        }
    }
    // simdjson 3.0 checks for trailing content only after a scalar root: past an object, a
    // location still in bounds is content after it.
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return {};
    return changes_of(type, std::move(pk), std::move(old_pk));
}

std::vector<Change> pad_copy(std::string_view body, const Table&) {
    const simdjson::padded_string padded(body);
    benchmark::DoNotOptimize(padded.data());
    return {};
}
#endif

using Parser = std::vector<Change> (*)(std::string_view, const Table&);

struct Variant {
    std::string name;
    Parser parse;
    bool checked;  // its changes must equal (a)'s
};

std::vector<Variant> variants() {
    return {
        {"a_dom", parse_dom, true},
        {"b_sax", parse_sax, true},
#ifdef REVALIDATOR_HAVE_SIMDJSON
        {"c_simdjson_fields", parse_simdjson<false>, true},
        {"c_simdjson_walk", parse_simdjson<true>, true},
        {"pad_copy", pad_copy, false},
#endif
    };
}

// Collects each run's time per call for the summary, and prints Google Benchmark's own table too.
class Summary : public benchmark::ConsoleReporter {
  public:
    Summary() : ConsoleReporter(OO_Tabular) {}
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& r : runs) ns_[r.benchmark_name()] = r.GetAdjustedRealTime();
        ConsoleReporter::ReportRuns(runs);
    }
    void print(const std::vector<Body>& bodies, const std::vector<Variant>& variants) const {
        std::printf("\n%-12s %6s", "body", "bytes");
        for (const auto& v : variants) std::printf(" %23s", v.name.c_str());
        std::printf("\n");
        for (const auto& b : bodies) {
            std::printf("%-12s %6zu", b.name.c_str(), b.text.size());
            const auto base = ns_.find(variants.front().name + "/" + b.name);
            for (const auto& v : variants) {
                const auto ns = ns_.find(v.name + "/" + b.name);
                if (ns == ns_.end()) {
                    std::printf(" %23s", "-");
                } else if (base == ns_.end()) {
                    std::printf(" %11.3f us        ", ns->second / 1000);
                } else {
                    std::printf(" %11.3f us (%5.3f)", ns->second / 1000, ns->second / base->second);
                }
            }
            std::printf("\n");
        }
        std::printf("time per call; in brackets, the ratio to %s's time (-: filtered out)\n",
                    variants.front().name.c_str());
#ifdef REVALIDATOR_HAVE_SIMDJSON
        std::printf("simdjson %d.%d.%d, On-Demand kernel: %s\n", simdjson::SIMDJSON_VERSION_MAJOR,
                    simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION,
                    kOnDemandKernel);
#endif
    }

  private:
    std::map<std::string, double> ns_;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    const Table table;
    const auto all_bodies = bodies();
    const auto all_variants = variants();
    for (const auto& b : all_bodies) {
        const std::string want = render(parse_dom(b.text, table));
        for (const auto& v : all_variants) {
            const std::string got = render(v.parse(b.text, table));
            if (v.checked && got != want) {
                std::fprintf(stderr, "%s on %s: %s, want %s\n", v.name.c_str(), b.name.c_str(),
                             got.c_str(), want.c_str());
                return 1;
            }
        }
    }
    for (const auto& v : all_variants) {
        for (const auto& b : all_bodies) {
            benchmark::RegisterBenchmark(
                (v.name + "/" + b.name).c_str(), [&v, &b, &table](benchmark::State& state) {
                    for (auto _ : state) {
                        auto changes = v.parse(b.text, table);
                        benchmark::DoNotOptimize(changes);
                    }
                    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                                            static_cast<std::int64_t>(b.text.size()));
                });
        }
    }
    Summary summary;
    benchmark::RunSpecifiedBenchmarks(&summary);
    summary.print(all_bodies, all_variants);
    benchmark::Shutdown();
    return 0;
}
