// The swap policy (swap_policy.h): the quantum setting and its parse, decide_swap at chosen
// instants (the clock is a parameter), and its properties over random resident sets against
// admit() itself.
#include "serve/swap_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace sparkctl::serve {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t kBudget = 100 * kGiB;
constexpr std::uint64_t kHeadroom = 2 * kGiB;
constexpr std::uint64_t kPlenty = 1000 * kGiB;  // MemAvailable that never limits

Resident idle(std::string id, std::uint64_t gib, std::int64_t last_used_ms) {
    return {std::move(id), gib * kGiB, false, 0, 10.0, last_used_ms};
}

TEST(SwapMinResident, ParsesAutoAndSeconds) {
    auto a = parse_swap_min_resident("auto");
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_FALSE(a->has_value());
    auto s = parse_swap_min_resident(" 2.5 ");
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(**s, 2.5);
    auto zero = parse_swap_min_resident("0");
    ASSERT_TRUE(zero);
    EXPECT_EQ(**zero, 0.0);
}

TEST(SwapMinResident, RefusesWhatIsNotAutoOrSecondsInRange) {
    for (const char* bad : {"", "-1", "86401", "nan", "inf", "2s", "fast", "1e9"}) {
        auto r = parse_swap_min_resident(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, base::Errc::bad_input);
        EXPECT_NE(r.error().message.find("swap_min_resident_s"), std::string::npos);
    }
}

TEST(SwapMinResident, AutoIsTheLastLoadTime) {
    EXPECT_EQ(resident_quantum_ms(std::nullopt, 42.5), 42'500);
    EXPECT_EQ(resident_quantum_ms(std::nullopt, -1), 0);
    EXPECT_EQ(resident_quantum_ms(3.0, 42.5), 3'000);
    EXPECT_EQ(resident_quantum_ms(0.0, 42.5), 0);
}

TEST(DecideSwap, WaitsForTheQuantumThenGoes) {
    // y was loaded at 1000 with a 5 s quantum; x needs y's room.
    const std::vector<Resident> running{idle("y", 70, 1000)};
    const std::map<std::string, std::int64_t> until{{"y", 6000}};
    auto during = decide_swap(70 * kGiB, kBudget, kHeadroom, kPlenty, running, until, 5999);
    EXPECT_EQ(during.kind, SwapDecision::Kind::wait);
    EXPECT_EQ(during.waiting_for, std::vector<std::string>{"y"});
    EXPECT_EQ(during.retry_at_ms, 6000);
    EXPECT_EQ(during.admission.evict, std::vector<std::string>{"y"});

    auto after = decide_swap(70 * kGiB, kBudget, kHeadroom, kPlenty, running, until, 6000);
    EXPECT_EQ(after.kind, SwapDecision::Kind::go);
    EXPECT_EQ(after.admission.evict, std::vector<std::string>{"y"});
}

TEST(DecideSwap, ALoadingResidentIsWaitedForUntilReady) {
    const std::map<std::string, std::int64_t> until{{"y", kWhileLoading}};
    auto d = decide_swap(70 * kGiB, kBudget, kHeadroom, kPlenty, {idle("y", 70, 1)}, until,
                         1'000'000'000);
    EXPECT_EQ(d.kind, SwapDecision::Kind::wait);
    EXPECT_EQ(d.retry_at_ms, kWhileLoading);
}

TEST(DecideSwap, FittingOrAnotherVictimNeedsNoWait) {
    const std::map<std::string, std::int64_t> until{{"y", 9000}};
    // Fits beside y: no eviction, no wait.
    auto fits = decide_swap(20 * kGiB, kBudget, kHeadroom, kPlenty, {idle("y", 70, 1)}, until, 0);
    EXPECT_EQ(fits.kind, SwapDecision::Kind::go);
    EXPECT_TRUE(fits.admission.evict.empty());
    // z is unprotected and makes room: it goes although y is the least recently used.
    auto other = decide_swap(40 * kGiB, kBudget, kHeadroom, kPlenty,
                             {idle("y", 40, 1), idle("z", 40, 2)}, until, 0);
    EXPECT_EQ(other.kind, SwapDecision::Kind::go);
    EXPECT_EQ(other.admission.evict, std::vector<std::string>{"z"});
}

TEST(DecideSwap, WhatCannotFitIsRefusedWithAdmitsReason) {
    Resident pinned = idle("p", 80, 1);
    pinned.pinned = true;
    const std::vector<Resident> running{pinned, idle("y", 10, 2)};
    const std::map<std::string, std::int64_t> until{{"y", 9000}};
    auto d = decide_swap(30 * kGiB, kBudget, kHeadroom, kPlenty, running, until, 0);
    EXPECT_EQ(d.kind, SwapDecision::Kind::refuse);
    EXPECT_FALSE(d.admission.admit);
    EXPECT_EQ(d.admission.reason, admit(30 * kGiB, kBudget, kHeadroom, kPlenty, running).reason);
    EXPECT_EQ(d.admission.reason.find("y (10.00 GiB, pinned)"), std::string::npos)
        << "a protected resident is not reported as pinned: " << d.admission.reason;
}

// Properties over random sets: refuse exactly when admit() refuses with nothing protected; go
// never evicts a protected resident and is admit()'s decision with them held; wait only when
// that held decision refuses, naming the protected residents admit()'s plan evicts (never
// none) and the earliest end of their protection; nothing protected is admit() itself.
TEST(DecideSwap, PropertiesOverRandomSets) {
    std::mt19937_64 rng(20261207);
    for (int round = 0; round < 5000; ++round) {
        const std::size_t n = rng() % 6;
        std::vector<Resident> running;
        std::map<std::string, std::int64_t> until;
        const std::int64_t now = 1000;
        for (std::size_t i = 0; i < n; ++i) {
            Resident r =
                idle("d" + std::to_string(i), 1 + rng() % 40, static_cast<std::int64_t>(rng() % 5));
            r.pinned = rng() % 5 == 0;
            r.in_flight = rng() % 4 == 0 ? 1 : 0;
            switch (rng() % 4) {
                case 0:
                    until[r.id] = kWhileLoading;
                    break;
                case 1:
                    until[r.id] = now + 1 + static_cast<std::int64_t>(rng() % 5000);
                    break;
                case 2:
                    until[r.id] = now - static_cast<std::int64_t>(rng() % 2);
                    break;  // over
                default:
                    break;
            }
            running.push_back(r);
        }
        const std::uint64_t needed = (1 + rng() % 60) * kGiB;
        const std::uint64_t avail = (rng() % 2 == 0 ? kPlenty : (rng() % 120) * kGiB);
        const SwapDecision d = decide_swap(needed, kBudget, kHeadroom, avail, running, until, now);
        const AdmissionDecision plain = admit(needed, kBudget, kHeadroom, avail, running);
        auto is_protected = [&](const std::string& id) {
            auto it = until.find(id);
            return it != until.end() && it->second > now;
        };
        std::vector<Resident> held = running;
        for (Resident& r : held) r.pinned = r.pinned || is_protected(r.id);
        const AdmissionDecision guarded = admit(needed, kBudget, kHeadroom, avail, held);

        EXPECT_EQ(d.kind == SwapDecision::Kind::refuse, !plain.admit);
        if (d.kind == SwapDecision::Kind::go) {
            EXPECT_TRUE(guarded.admit);
            EXPECT_EQ(d.admission.evict, guarded.evict);
            EXPECT_EQ(d.admission.drain, guarded.drain);
            for (const auto& v : d.admission.evict) EXPECT_FALSE(is_protected(v)) << v;
        } else if (d.kind == SwapDecision::Kind::wait) {
            EXPECT_FALSE(guarded.admit);
            EXPECT_EQ(d.admission.evict, plain.evict);
            ASSERT_FALSE(d.waiting_for.empty());
            std::int64_t first = kWhileLoading;
            for (const auto& v : d.waiting_for) {
                EXPECT_TRUE(is_protected(v)) << v;
                EXPECT_NE(std::find(plain.evict.begin(), plain.evict.end(), v), plain.evict.end());
                first = std::min(first, until.at(v));
            }
            EXPECT_EQ(d.retry_at_ms, first);
        }
        if (std::none_of(running.begin(), running.end(),
                         [&](const Resident& r) { return is_protected(r.id); })) {
            EXPECT_EQ(d.kind == SwapDecision::Kind::go, plain.admit);
            EXPECT_EQ(d.admission.evict, plain.evict);
        }
    }
}

}  // namespace
}  // namespace sparkctl::serve
