// MetaWriteRound: the `ms` and `md` commands of a pipelined round, and the answers matched to them,
// read with the suspicion due to anything that comes off a socket: split anywhere, out of turn,
// garbled, endless, or more than was asked for. A key is called stored only when memcached's
// answers say so; whatever else a server sends leaves the keys not yet placed Unknown, never
// stored.
#include "meta_writes.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace revalidator::worker {
namespace {

using O = WriteOutcome;

// A round of `n` sets of keys "/t/0".."/t/{n-1}" with values "v0".., items numbered from 10.
MetaWriteRound round_of(std::size_t n, bool quiet, std::string* wire = nullptr) {
    MetaWriteRound r(quiet);
    std::string out;
    for (std::size_t i = 0; i < n; ++i)
        r.add_set(out, 10 + i, "/t/" + std::to_string(i), "v" + std::to_string(i));
    r.end(out);
    if (wire) *wire = out;
    return r;
}

std::vector<O> outcomes(const MetaWriteRound& r) {
    std::vector<O> out;
    for (std::size_t k = 0; k < r.size(); ++k) out.push_back(r.outcome(k));
    return out;
}

TEST(MetaWrites, CommandsAreWrittenAsTheProtocolSays) {
    std::string quiet, answered;
    round_of(2, true, &quiet);
    round_of(1, false, &answered);
    EXPECT_EQ(quiet, "ms /t/0 2 q O0\r\nv0\r\nms /t/1 2 q O1\r\nv1\r\nmn\r\n");
    EXPECT_EQ(answered, "ms /t/0 2 O0\r\nv0\r\nmn\r\n");

    // A value is sent as bytes of the length given, whatever they hold.
    MetaWriteRound r(true);
    std::string out;
    const std::string value("a\r\nms x 1\r\ny\r\n\0z", 16);
    r.add_set(out, 0, "/t/caf\xc3\xa9", value);
    EXPECT_EQ(out, "ms /t/caf\xc3\xa9 16 q O0\r\n" + value + "\r\n");
    EXPECT_EQ(r.item(0), 0u);
}

TEST(MetaWrites, DeletesAndExpiringSetsAreWrittenAsTheProtocolSays) {
    MetaWriteRound quiet(true), answered(false);
    std::string q, a;
    quiet.add_delete(q, 7, "/t/0");
    quiet.add_set(q, 8, "/t:absent/1", "1", 60);
    quiet.end(q);
    answered.add_delete(a, 0, "/t/0");
    answered.end(a);
    EXPECT_EQ(q, "md /t/0 q O0\r\nms /t:absent/1 1 T60 q O1\r\n1\r\nmn\r\n");
    EXPECT_EQ(a, "md /t/0 O0\r\nmn\r\n");
    EXPECT_EQ(quiet.item(0), 7u);
    EXPECT_EQ(quiet.item(1), 8u);
}

// NF to a delete is what the delete wants (the key is not there), and memcached sends it even in
// a quiet round; NF to a set is a refusal.
TEST(MetaWrites, NotFoundIsDoneForADeleteAndRefusedForASet) {
    MetaWriteRound r(true);
    std::string out;
    r.add_delete(out, 0, "/t/0");
    r.add_set(out, 1, "/t/1", "v");
    r.add_delete(out, 2, "/t/2");
    r.add_delete(out, 3, "/t/3");
    r.end(out);
    r.read("NF O0\r\nNF O1\r\nNF O3\r\nMN\r\n");
    ASSERT_TRUE(r.done());
    EXPECT_EQ(outcomes(r), (std::vector<O>{O::Stored, O::Refused, O::Stored, O::Stored}));

    MetaWriteRound answered(false);
    out.clear();
    answered.add_delete(out, 0, "/t/0");
    answered.add_delete(out, 1, "/t/1");
    answered.end(out);
    answered.read("HD O0\r\nNF O1\r\nMN\r\n");
    ASSERT_TRUE(answered.done());
    EXPECT_EQ(outcomes(answered), (std::vector<O>{O::Stored, O::Stored}));
}

TEST(MetaWrites, AQuietRoundThatEndsAloneStoredEverything) {
    MetaWriteRound r = round_of(3, true);
    EXPECT_EQ(r.read("MN\r\n"), 4u);
    EXPECT_TRUE(r.done());
    EXPECT_FALSE(r.broken());
    EXPECT_EQ(outcomes(r), (std::vector<O>{O::Stored, O::Stored, O::Stored}));
    EXPECT_EQ(r.item(2), 12u);
}

TEST(MetaWrites, QuietAnswersNameTheirKeysByOpaque) {
    MetaWriteRound r = round_of(4, true);
    EXPECT_EQ(r.read("NS O1\r\nEX O2 b\r\nMN\r\n"), 20u);
    ASSERT_TRUE(r.done());
    EXPECT_EQ(outcomes(r), (std::vector<O>{O::Stored, O::Refused, O::Refused, O::Stored}));
}

// Memcached 1.6 answers a quiet set that fails with an error line and no opaque: it belongs to
// one of the silent sets between the answers around it, and only those are in doubt.
TEST(MetaWrites, AnErrorLineLeavesInDoubtOnlyTheSilentSetsAroundIt) {
    MetaWriteRound r = round_of(6, true);
    r.read("NS O1\r\nSERVER_ERROR object too large for cache\r\nNF O4\r\nMN\r\n");
    ASSERT_TRUE(r.done());
    EXPECT_EQ(outcomes(r), (std::vector<O>{O::Stored, O::Refused, O::Unknown, O::Unknown,
                                           O::Refused, O::Stored}));

    MetaWriteRound last = round_of(3, true);
    last.read("SERVER_ERROR out of memory storing object\r\nMN\r\n");
    ASSERT_TRUE(last.done());
    EXPECT_EQ(outcomes(last), (std::vector<O>{O::Unknown, O::Unknown, O::Unknown}));
}

TEST(MetaWrites, AnsweredSetsArePlacedInTurnErrorsIncluded) {
    MetaWriteRound r = round_of(4, false);
    r.read("HD O0\r\nSERVER_ERROR object too large for cache\r\nNS O2\r\nHD O3\r\nMN\r\n");
    ASSERT_TRUE(r.done());
    EXPECT_EQ(outcomes(r), (std::vector<O>{O::Stored, O::Refused, O::Refused, O::Stored}));
}

TEST(MetaWrites, AnswersSplitAnywhereReadTheSame) {
    const std::string answers =
        "NS O1\r\nSERVER_ERROR object too large for cache\r\nNF O4\r\nMN\r\n";
    for (std::size_t cut = 0; cut <= answers.size(); ++cut) {
        MetaWriteRound r = round_of(6, true);
        std::string in = answers.substr(0, cut);
        in.erase(0, r.read(in));
        in += answers.substr(cut);
        EXPECT_EQ(r.read(in), in.size()) << cut;
        ASSERT_TRUE(r.done()) << cut;
        EXPECT_EQ(outcomes(r), (std::vector<O>{O::Stored, O::Refused, O::Unknown, O::Unknown,
                                               O::Refused, O::Stored}))
            << cut;
    }
    // Byte by byte: only whole lines are taken.
    MetaWriteRound r = round_of(6, true);
    std::string in;
    for (char c : answers) {
        in += c;
        in.erase(0, r.read(in));
    }
    EXPECT_TRUE(r.done());
    EXPECT_TRUE(in.empty());
}

TEST(MetaWrites, NothingIsReadPastTheEnd) {
    MetaWriteRound r = round_of(1, true);
    EXPECT_EQ(r.read("MN\r\nHD O0\r\n"), 4u) << "what follows is for the caller to judge";
    EXPECT_TRUE(r.done());
    EXPECT_EQ(r.read("HD O0\r\n"), 0u);
}

struct Hostile {
    const char* name;
    bool quiet;
    std::string answers;
    std::vector<O> placed;  // the outcomes once broken: what came before stays, the rest Unknown
};

class MetaSetsHostile : public testing::TestWithParam<Hostile> {};

TEST_P(MetaSetsHostile, IsOutOfStepAndStoresNothingItDidNotHear) {
    const Hostile& h = GetParam();
    MetaWriteRound r = round_of(3, h.quiet);
    r.read(h.answers);
    EXPECT_TRUE(r.broken());
    EXPECT_FALSE(r.done());
    EXPECT_EQ(outcomes(r), h.placed);
    EXPECT_EQ(r.read("MN\r\n"), 0u) << "a broken round reads nothing more";
}

const std::vector<O> kNone{O::Unknown, O::Unknown, O::Unknown};

INSTANTIATE_TEST_SUITE_P(
    Answers, MetaSetsHostile,
    testing::Values(
        Hostile{"unknown_command", true, "ERROR\r\n", kNone},
        Hostile{"client_error_quiet", true, "CLIENT_ERROR bad data chunk\r\n", kNone},
        Hostile{"client_error_answered_refuses_its_set_then_breaks",
                false,
                "HD O0\r\nCLIENT_ERROR bad command line format\r\nHD O2\r\nMN\r\n",
                {O::Stored, O::Refused, O::Unknown}},
        Hostile{"opaque_past_the_last_set", true, "NS O3\r\n", kNone},
        Hostile{"opaque_out_of_turn", false, "HD O1\r\n", kNone},
        Hostile{
            "opaque_backwards", true, "NS O1\r\nNS O1\r\n", {O::Stored, O::Refused, O::Unknown}},
        Hostile{"answer_without_opaque", false, "HD\r\n", kNone},
        Hostile{"two_opaques", false, "HD O0 O0\r\n", kNone},
        Hostile{"opaque_with_leading_zero", false, "HD O00\r\n", kNone},
        Hostile{"opaque_negative", false, "HD O-0\r\n", kNone},
        Hostile{"opaque_not_a_number", false, "HD Ox\r\n", kNone},
        Hostile{"opaque_trailing_bytes", false, "HD O0x\r\n", kNone},
        Hostile{"opaque_huge", false, "HD O99999999999999999999999\r\n", kNone},
        Hostile{"two_spaces", false, "HD  O0\r\n", kNone},
        Hostile{"a_value_answer", false, "VA 2 O0\r\nv0\r\n", kNone},
        Hostile{"lower_case", false, "hd O0\r\n", kNone},
        Hostile{"empty_line", false, "\r\n", kNone},
        Hostile{"binary", false, std::string("\0\xff\x01\r\n", 5), kNone},
        Hostile{"end_before_every_answer",
                false,
                "HD O0\r\nMN\r\n",
                {O::Stored, O::Unknown, O::Unknown}},
        Hostile{"end_with_flags", true, "MN x\r\n", kNone},
        Hostile{"more_errors_than_sets", true,
                "SERVER_ERROR a\r\nSERVER_ERROR b\r\nSERVER_ERROR c\r\nSERVER_ERROR d\r\n", kNone},
        Hostile{"more_errors_than_silent_sets_before_an_answer", true,
                "SERVER_ERROR a\r\nSERVER_ERROR b\r\nNS O1\r\n", kNone},
        Hostile{"error_answering_nothing",
                false,
                "HD O0\r\nHD O1\r\nHD O2\r\nSERVER_ERROR x\r\n",
                {O::Stored, O::Stored, O::Stored}},
        Hostile{"endless_line", true, std::string(kMaxAnswerLine + 1, 'x'), kNone},
        Hostile{"long_line", true, std::string(kMaxAnswerLine + 1, 'x') + "\r\n", kNone}),
    [](const testing::TestParamInfo<Hostile>& p) { return std::string(p.param.name); });

TEST(MetaWrites, AnEndNeverSentIsOutOfStep) {
    MetaWriteRound r(true);
    std::string out;
    r.add_set(out, 0, "/t/0", "v");
    r.read("MN\r\n");
    EXPECT_TRUE(r.broken());
    EXPECT_EQ(r.outcome(0), O::Unknown);
}

TEST(MetaWrites, ALineUpToTheLimitIsStillALine) {
    MetaWriteRound r = round_of(1, true);
    std::string line = "NS O0 " + std::string(kMaxAnswerLine - 6, 'k');
    ASSERT_EQ(line.size(), kMaxAnswerLine);
    r.read(line + "\r\nMN\r\n");
    EXPECT_TRUE(r.done());
    EXPECT_EQ(r.outcome(0), O::Refused);
}

}  // namespace
}  // namespace revalidator::worker
