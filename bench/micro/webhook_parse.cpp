// `webhook_parse`: what parsing a webhook body costs per call, the one part of the ack path whose
// cost grows with the row. Bodies are Supabase Database Webhooks as pg_net sends them (the jsonb
// text of {type, table, record, schema, old_record}, keys in jsonb's order) for a row of ~200 bytes
// and one of ~4 KB whose text has paragraphs, quotes and non-ASCII letters, for INSERT, UPDATE and
// DELETE. Variants:
//   a_dom             the whole body into an nlohmann::json DOM after a pass that bounds the
//                     nesting, the fields read from it: what parse_webhook did before;
//   b_sax             parse_webhook_reference: nlohmann's SAX parser over the whole body, keeping
//                     only type, table, schema and the records' primary keys;
//   c_parse_webhook   parse_webhook: simdjson's On-Demand API reading every value (so that the
//                     whole body is validated, as a_dom and b_sax do) into the same fields, after
//                     copying the body into a padded buffer (On-Demand reads past the end);
//   c_ondemand_fields On-Demand reading only the fields used: values skipped are not validated;
//   c_simdjson_dom    simdjson's DOM API (validates everything), the fields read from its tape;
//   pad_copy          the padded copy alone (a fresh padded_string: allocation and copy).
// Every variant's changes are checked against a_dom's on every body before anything is timed.
// After Google Benchmark's own table it prints each variant's time per call and its ratio to
// a_dom's. simdjson's structural scan and string decoding, On-Demand's too, run the kernel it
// chooses at run time for this CPU (the line under the table names it).
//   build-rel/bench/webhook_parse [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

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

// A record's primary key in the DOM: an integer as dump() writes it, or a string.
std::optional<std::string> dom_pk(const json& body, const char* row, const std::string& pk_name) {
    auto r = body.find(row);
    if (r == body.end() || !r->is_object()) return std::nullopt;
    auto pk = r->find(pk_name);
    if (pk == r->end()) return std::nullopt;
    if (pk->is_number_integer()) return pk->dump();
    if (pk->is_string()) return pk->get<std::string>();
    return std::nullopt;
}

// (a): what parse_webhook did before it parsed with SAX: the brackets counted in a pass of their
// own, then the whole body into a DOM, then the fields read from it.
std::vector<Change> parse_dom(std::string_view body, const Table& table) {
    if (revalidator::ingress::nested_deeper_than(body, revalidator::ingress::kMaxJsonDepth)) {
        return {};
    }
    json j;
    try {
        j = json::parse(body);
    } catch (const json::exception&) {
        return {};
    }
    auto field = [&](const char* name) {
        auto it = j.find(name);
        return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (!j.is_object() || field("schema") != table.schema || field("table") != table.name) {
        return {};
    }
    return changes_of(field("type"), dom_pk(j, "record", table.primary_key),
                      dom_pk(j, "old_record", table.primary_key));
}

std::vector<Change> changes(
    const revalidator::Result<revalidator::ingress::Routed, revalidator::ingress::Rejection>& r) {
    return r ? r->changes : std::vector<Change>{};
}

std::vector<Change> parse_sax(std::string_view body, const Table& table) {
    return changes(revalidator::ingress::parse_webhook_reference(body, std::span(&table, 1)));
}

std::vector<Change> parse_webhook(std::string_view body, const Table& table) {
    return changes(revalidator::ingress::parse_webhook(body, std::span(&table, 1)));
}

namespace od = simdjson::ondemand;

// A record's primary key: an integer in decimal, or a string; nullopt otherwise.
std::optional<std::string> ondemand_pk(od::value record, const std::string& pk_name) {
    od::object o;
    if (record.get_object().get(o)) return std::nullopt;
    std::optional<std::string> pk;
    for (auto field : o) {
        std::string_view key;
        od::value v;
        if (field.unescaped_key().get(key) || field.value().get(v)) return std::nullopt;
        if (key != pk_name) continue;
        od::number n;
        std::string_view text;
        char buf[24];
        if (v.get_number().get(n) == simdjson::SUCCESS && !n.is_double()) {
            auto end = n.is_int64() ? std::to_chars(buf, buf + sizeof buf, n.get_int64()).ptr
                                    : std::to_chars(buf, buf + sizeof buf, n.get_uint64()).ptr;
            pk.emplace(buf, end);
        } else if (v.get_string().get(text) == simdjson::SUCCESS) {
            pk.emplace(text);
        } else {
            pk.reset();
        }
    }
    return pk;
}

std::vector<Change> parse_ondemand_fields(std::string_view body, const Table& table) {
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
            (key == "record" ? pk : old_pk) =
                null ? std::nullopt : ondemand_pk(v, table.primary_key);
        }
    }
    return changes_of(type, std::move(pk), std::move(old_pk));
}

// A record's primary key in simdjson's DOM: an integer in decimal, or a string.
std::optional<std::string> simdjson_dom_pk(simdjson::dom::element root, const char* row,
                                           const std::string& pk_name) {
    simdjson::dom::element pk;
    if (root[row][pk_name].get(pk)) return std::nullopt;
    char buf[24];
    if (pk.is_int64()) {
        return std::string(buf, std::to_chars(buf, buf + sizeof buf, pk.get_int64().value()).ptr);
    }
    if (pk.is_uint64()) {
        return std::string(buf, std::to_chars(buf, buf + sizeof buf, pk.get_uint64().value()).ptr);
    }
    if (pk.is_string()) return std::string(pk.get_string().value());
    return std::nullopt;
}

// (c) with simdjson's DOM API instead: the whole body validated (its kernel chosen at run time,
// for this CPU), then the needed fields read from its tape.
std::vector<Change> parse_simdjson_dom(std::string_view body, const Table& table) {
    static thread_local simdjson::dom::parser parser;
    const simdjson::padded_string padded(body);
    simdjson::dom::element root;
    std::string_view type, schema, name;
    if (parser.parse(padded).get(root) || root["type"].get(type) || root["schema"].get(schema) ||
        root["table"].get(name) || schema != table.schema || name != table.name) {
        return {};
    }
    return changes_of(type, simdjson_dom_pk(root, "record", table.primary_key),
                      simdjson_dom_pk(root, "old_record", table.primary_key));
}

std::vector<Change> pad_copy(std::string_view body, const Table&) {
    const simdjson::padded_string padded(body);
    benchmark::DoNotOptimize(padded.data());
    return {};
}

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
        {"c_parse_webhook", parse_webhook, true},
        {"c_ondemand_fields", parse_ondemand_fields, true},
        {"c_simdjson_dom", parse_simdjson_dom, true},
        {"pad_copy", pad_copy, false},
    };
}

// Collects each benchmark's time per call for the summary (the least of its repetitions, with
// --benchmark_repetitions: the machine is shared), and prints Google Benchmark's own table too.
class Summary : public benchmark::ConsoleReporter {
  public:
    Summary() : ConsoleReporter(OO_Tabular) {}
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& r : runs) {
            if (r.run_type != Run::RT_Iteration) continue;
            auto [it, first] = ns_.emplace(r.benchmark_name(), r.GetAdjustedRealTime());
            if (!first) it->second = std::min(it->second, r.GetAdjustedRealTime());
        }
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
        std::printf("simdjson %d.%d.%d, kernel chosen for this CPU: %s\n",
                    simdjson::SIMDJSON_VERSION_MAJOR, simdjson::SIMDJSON_VERSION_MINOR,
                    simdjson::SIMDJSON_VERSION_REVISION,
                    simdjson::get_active_implementation()->name().c_str());
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
