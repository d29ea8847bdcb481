// Admission: the pure eviction function (exhaustively, property-style, on small random sets of
// residents), admit() with the live reading, and the /proc/meminfo seam.
#include "serve/admission.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include "support/temp_dir.h"

namespace sparkctl::serve {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

Resident idle(std::string id, std::uint64_t gib, std::int64_t last_used_ms) {
    return {std::move(id), gib * kGiB, false, 0, 10.0, last_used_ms};
}

TEST(EvictionFor, FitsWithoutEvicting) {
    auto plan = eviction_for(10 * kGiB, 100 * kGiB, {idle("a", 40, 1), idle("b", 40, 2)});
    EXPECT_TRUE(plan.possible);
    EXPECT_TRUE(plan.evict.empty());
    EXPECT_NE(plan.reason.find("10.00 GiB"), std::string::npos) << plan.reason;
}

TEST(EvictionFor, EvictsLeastRecentlyUsedFirst) {
    auto plan = eviction_for(30 * kGiB, 100 * kGiB,
                             {idle("new", 40, 300), idle("old", 40, 100), idle("mid", 10, 200)});
    ASSERT_TRUE(plan.possible) << plan.reason;
    EXPECT_EQ(plan.evict, (std::vector<std::string>{"old"}));
}

TEST(EvictionFor, NeverEvictsPinned) {
    Resident pinned = idle("pinned", 50, 1);
    pinned.pinned = true;
    Resident busy = idle("busy", 40, 2);
    busy.in_flight = 3;
    auto plan = eviction_for(60 * kGiB, 100 * kGiB, {pinned, busy, idle("c", 5, 3)});
    EXPECT_FALSE(plan.possible);
    EXPECT_TRUE(plan.drain.empty());
    EXPECT_NE(plan.reason.find("pinned (50.00 GiB, pinned)"), std::string::npos) << plan.reason;
    EXPECT_NE(plan.reason.find("busy (40.00 GiB, 3 in flight)"), std::string::npos) << plan.reason;
}

TEST(EvictionFor, ABusyOneIsDrainedOnlyWhenTheIdleOnesAreNotEnough) {
    Resident busy = idle("busy", 40, 1);  // least recently used, but busy
    busy.in_flight = 2;
    auto idle_enough = eviction_for(20 * kGiB, 100 * kGiB, {busy, idle("c", 50, 3)});
    ASSERT_TRUE(idle_enough.possible) << idle_enough.reason;
    EXPECT_EQ(idle_enough.evict, (std::vector<std::string>{"c"}));
    EXPECT_TRUE(idle_enough.drain.empty());

    auto needs_busy = eviction_for(70 * kGiB, 100 * kGiB, {busy, idle("c", 50, 3)});
    ASSERT_TRUE(needs_busy.possible) << needs_busy.reason;
    EXPECT_EQ(needs_busy.evict, (std::vector<std::string>{"c", "busy"}));
    EXPECT_EQ(needs_busy.drain, (std::vector<std::string>{"busy"}));
    EXPECT_NE(needs_busy.reason.find("after busy drain"), std::string::npos) << needs_busy.reason;
}

TEST(EvictionFor, MoreThanTheBudgetIsImpossible) {
    auto plan = eviction_for(101 * kGiB, 100 * kGiB, {});
    EXPECT_FALSE(plan.possible);
    EXPECT_NE(plan.reason.find("more than the whole budget"), std::string::npos);
}

// Property: over random resident sets, the plan never names a pinned resident, evicts a prefix
// of the idle-unpinned LRU order when that can make room, else a prefix of that order followed by
// the busy unpinned ones (LRU), naming exactly its busy members in `drain`; it makes room and is
// minimal (one fewer would not fit). possible=false only when evicting every unpinned one would
// not make room.
TEST(EvictionFor, PropertiesOverRandomSets) {
    std::mt19937_64 rng(20261207);
    auto lru = [](const Resident* a, const Resident* b) {
        return a->last_used_ms != b->last_used_ms ? a->last_used_ms < b->last_used_ms
                                                  : a->id < b->id;
    };
    for (int round = 0; round < 5000; ++round) {
        const std::uint64_t budget = (20 + rng() % 100) * kGiB;
        const std::size_t n = rng() % 7;
        std::vector<Resident> running;
        for (std::size_t i = 0; i < n; ++i) {
            Resident r = idle("d" + std::to_string(i), 1 + rng() % 30,
                              static_cast<std::int64_t>(rng() % 5));  // ties on purpose
            r.pinned = rng() % 4 == 0;
            r.in_flight = rng() % 4 == 0 ? 1 + static_cast<int>(rng() % 3) : 0;
            running.push_back(r);
        }
        const std::uint64_t needed = (1 + rng() % 60) * kGiB;
        const EvictionPlan plan = eviction_for(needed, budget, running);

        std::vector<const Resident*> order, busy;
        std::uint64_t reserved = 0, idle_bytes = 0, busy_bytes = 0;
        for (const Resident& r : running) {
            reserved += r.reserved_bytes;
            if (r.pinned) continue;
            (r.in_flight == 0 ? order : busy).push_back(&r);
            (r.in_flight == 0 ? idle_bytes : busy_bytes) += r.reserved_bytes;
        }
        std::sort(order.begin(), order.end(), lru);
        std::sort(busy.begin(), busy.end(), lru);
        const bool idle_suffices = reserved - idle_bytes + needed <= budget;
        if (!idle_suffices) order.insert(order.end(), busy.begin(), busy.end());
        if (!plan.possible) {
            EXPECT_TRUE(plan.evict.empty());
            EXPECT_GT(reserved - idle_bytes - busy_bytes + needed, budget) << plan.reason;
            continue;
        }
        ASSERT_LE(plan.evict.size(), order.size());
        std::uint64_t freed = 0;
        std::vector<std::string> drained;
        for (std::size_t i = 0; i < plan.evict.size(); ++i) {
            ASSERT_EQ(plan.evict[i], order[i]->id) << "not the LRU prefix";
            freed += order[i]->reserved_bytes;
            if (order[i]->in_flight > 0) drained.push_back(order[i]->id);
        }
        std::sort(drained.begin(), drained.end());
        std::vector<std::string> drain = plan.drain;
        std::sort(drain.begin(), drain.end());
        EXPECT_EQ(drain, drained);
        if (idle_suffices) {
            EXPECT_TRUE(plan.drain.empty());
        }
        EXPECT_LE(reserved - freed + needed, budget) << plan.reason;
        if (!plan.evict.empty()) {
            const std::uint64_t last = order[plan.evict.size() - 1]->reserved_bytes;
            EXPECT_GT(reserved - (freed - last) + needed, budget) << "not minimal";
        }
    }
}

TEST(Admit, FitsTheLedgerAndTheLiveReading) {
    auto d = admit(20 * kGiB, 100 * kGiB, 2 * kGiB, 50 * kGiB, {idle("a", 30, 1)});
    EXPECT_TRUE(d.admit) << d.reason;
    EXPECT_TRUE(d.evict.empty());
    EXPECT_EQ(d.reserved_bytes, 30 * kGiB);
    EXPECT_EQ(d.needed_bytes, 20 * kGiB);
    EXPECT_EQ(d.budget_bytes, 100 * kGiB);
    EXPECT_EQ(d.mem_available_bytes, 50 * kGiB);
    EXPECT_EQ(d.headroom_bytes, 2 * kGiB);
}

TEST(Admit, LowMemAvailableEvictsEvenWhenTheLedgerFits) {
    // The ledger has room (30 + 20 <= 100) but MemAvailable minus headroom (15 - 2) does not.
    auto d = admit(20 * kGiB, 100 * kGiB, 2 * kGiB, 15 * kGiB, {idle("a", 30, 1)});
    EXPECT_TRUE(d.admit) << d.reason;
    EXPECT_EQ(d.evict, (std::vector<std::string>{"a"}));
}

TEST(Admit, RefusesWithTheNumbersWhenNothingCanBeEvicted) {
    Resident pinned = idle("pinned", 30, 1);
    pinned.pinned = true;
    auto d = admit(20 * kGiB, 100 * kGiB, 2 * kGiB, 15 * kGiB, {pinned});
    EXPECT_FALSE(d.admit);
    for (const char* n : {"20.00 GiB", "30.00 GiB", "100.00 GiB", "15.00 GiB", "2.00 GiB"}) {
        EXPECT_NE(d.reason.find(n), std::string::npos) << n << " in " << d.reason;
    }
}

TEST(Admit, RefusalListsWhatItWouldHaveToEvict) {
    Resident pinned = idle("pinned", 60, 1);
    pinned.pinned = true;
    Resident busy = idle("busy", 5, 2);
    busy.in_flight = 1;
    auto d = admit(50 * kGiB, 100 * kGiB, 2 * kGiB, 90 * kGiB, {pinned, busy, idle("b", 10, 5)});
    EXPECT_FALSE(d.admit);
    EXPECT_EQ(d.evict, (std::vector<std::string>{"b", "busy"}));
    EXPECT_TRUE(d.drain.empty());
    EXPECT_NE(d.reason.find("pinned (60.00 GiB, pinned)"), std::string::npos) << d.reason;
    EXPECT_NE(d.reason.find("busy (5.00 GiB, 1 in flight)"), std::string::npos) << d.reason;
}

TEST(Admit, ABusyDeploymentIsAdmittedAsADrain) {
    Resident busy = idle("busy", 60, 1);
    busy.in_flight = 1;
    auto d = admit(50 * kGiB, 100 * kGiB, 2 * kGiB, 90 * kGiB, {busy, idle("b", 10, 5)});
    ASSERT_TRUE(d.admit) << d.reason;
    EXPECT_EQ(d.evict, (std::vector<std::string>{"b", "busy"}));
    EXPECT_EQ(d.drain, (std::vector<std::string>{"busy"}));
    EXPECT_NE(d.reason.find("after busy drain"), std::string::npos) << d.reason;
}

TEST(Admit, HeadroomCounts) {
    EXPECT_TRUE(admit(10 * kGiB, 100 * kGiB, 2 * kGiB, 12 * kGiB, {}).admit);
    EXPECT_FALSE(admit(10 * kGiB, 100 * kGiB, 2 * kGiB, 12 * kGiB - 1, {}).admit);
}

TEST(MemInfo, ParsesMemAvailableInKiB) {
    const std::string text =
        "MemTotal:       130669496 kB\nMemFree:         1234 kB\nMemAvailable:   117440512 kB\n";
    auto v = parse_mem_available(text, "meminfo");
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(*v, 117440512ull * 1024);
}

TEST(MemInfo, BadInputNamesTheOrigin) {
    auto none = parse_mem_available("MemTotal: 1 kB\n", "fake/meminfo");
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().message, "fake/meminfo: no MemAvailable line");
    for (const char* bad : {"MemAvailable: x kB\n", "MemAvailable: 12\n", "MemAvailable: 12 MB\n",
                            "MemAvailable: 99999999999999999999 kB\n"}) {
        auto r = parse_mem_available(bad, "fake/meminfo");
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().message.find("fake/meminfo: MemAvailable"), std::string::npos);
    }
}

TEST(MemInfo, ReadsAFileAtEachCall) {
    test::TempDir dir;
    const auto path = dir.path() / "meminfo";
    std::ofstream(path) << "MemAvailable:   1024 kB\n";
    auto m = proc_meminfo(path.string());
    ASSERT_TRUE(m->mem_available_bytes().ok());
    EXPECT_EQ(*m->mem_available_bytes(), 1024u * 1024);
    std::ofstream(path) << "MemAvailable:   2048 kB\n";
    EXPECT_EQ(*m->mem_available_bytes(), 2048u * 1024);
}

TEST(MemInfo, MissingFileIsAnErrorNamingIt) {
    auto m = proc_meminfo("/nonexistent/meminfo");
    auto r = m->mem_available_bytes();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("/nonexistent/meminfo"), std::string::npos);
}

TEST(MemInfo, RealProcMeminfo) {
    auto r = proc_meminfo()->mem_available_bytes();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_GT(*r, 0u);
}

}  // namespace
}  // namespace sparkctl::serve
