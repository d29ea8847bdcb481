// bench report: the marked section in a user's file (kept outside text, broken markers refused,
// total on any input), the Markdown of stored runs (labels, change, predicted), and the SVG
// plots (well-formed XML, escaped text).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "bench/report.h"
#include "bench/svg.h"

namespace sparkctl::bench {
namespace {

using nlohmann::json;

const std::string kBegin(kReportBegin), kEnd(kReportEnd);

std::size_t count(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
    return n;
}

TEST(BenchReportMarkers, AppendsThenReplacesKeepingOutsideText) {
    const std::string mine = "# Notes\n\nmy own text\n";
    auto first = splice_report(mine, "one\n", "PERFORMANCE.md");
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(first->rfind(mine, 0), 0u);
    EXPECT_EQ(count(*first, kBegin), 1u);
    EXPECT_NE(first->find(kBegin + "\none\n" + kEnd), std::string::npos);
    const std::string edited = *first + "\ntext after the section\n";
    auto second = splice_report(edited, "two\n", "PERFORMANCE.md");
    ASSERT_TRUE(second);
    EXPECT_EQ(second->rfind(mine, 0), 0u);
    EXPECT_NE(second->find(kBegin + "\ntwo\n" + kEnd + "\n\ntext after the section\n"),
              std::string::npos);
    EXPECT_EQ(second->find("one\n"), std::string::npos);
    // An empty file gets the section alone.
    auto fresh = splice_report("", "x", "P.md");
    ASSERT_TRUE(fresh);
    EXPECT_EQ(*fresh, kBegin + "\nx\n" + kEnd + "\n");
}

TEST(BenchReportMarkers, BrokenPairsAreErrorsNamingTheFileAndLine) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"a\n" + kBegin + "\nb\n", "line 2 without an end marker"},
        {"a\nb\n" + kEnd + "\n", "line 3 without a begin marker"},
        {kEnd + "\n" + kBegin + "\n", "comes before"},
        {kBegin + kEnd + kBegin + kEnd, "second begin marker"},
        {kBegin + "\n" + kEnd + "\n" + kEnd, "second end marker on line 3"},
    };
    for (const auto& [text, why] : cases) {
        auto r = splice_report(text, "x", "notes/PERFORMANCE.md");
        ASSERT_FALSE(r) << text;
        EXPECT_EQ(r.error().code, base::Errc::bad_input);
        EXPECT_NE(r.error().message.find("notes/PERFORMANCE.md"), std::string::npos);
        EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
    }
}

// The marker parser reads user files: on any input it returns a value or its error, and a value
// always has exactly one marker pair with the text outside it kept. Random texts built from
// marker pieces, newlines and bytes exercise every branch (a property test in place of a fuzz
// target: the parser is a pure function of one string).
TEST(BenchReportMarkers, TotalOnArbitraryInput) {
    const std::vector<std::string> pieces = {kBegin,         kEnd,
                                             "\n",           "<!--",
                                             "-->",          "x",
                                             "\r",           kBegin.substr(0, 20),
                                             kEnd.substr(5), std::string(1, '\0'),
                                             "\xff"};
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; ++i) {
        std::string text;
        const int n = static_cast<int>(rng() % 12);
        for (int k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
        auto r = splice_report(text, "body\n", "f.md");
        const std::size_t b = count(text, kBegin), e = count(text, kEnd);
        const bool ok_input =
            (b == 0 && e == 0) || (b == 1 && e == 1 && text.find(kBegin) < text.find(kEnd));
        ASSERT_EQ(r.ok(), ok_input) << text;
        if (!r) continue;
        EXPECT_EQ(count(*r, kBegin), 1u);
        EXPECT_EQ(count(*r, kEnd), 1u);
        const std::size_t at = b == 0 ? text.size() : text.find(kBegin);
        EXPECT_EQ(r->substr(0, at), text.substr(0, at));
        if (b == 1) {
            const std::string after = text.substr(text.find(kEnd) + kEnd.size());
            EXPECT_TRUE(r->ends_with(after));
        }
    }
}

json pt(double c, double tput, json predicted = nullptr) {
    return {{"concurrency", c},
            {"output_tokens_per_s", tput},
            {"output_tokens_per_s_per_user", tput / c},
            {"ttft_ms", {{"p50", 12.5}, {"p90", 14.0}, {"p99", 20.0}}},
            {"e2e_ms", {{"p50", 100.0}, {"p99", 150.0}}},
            {"tpot_ms", {{"p50", 3.0}}},
            {"errors", 0},
            {"predicted", predicted}};
}

StoredRun run(std::int64_t id, std::string model, bool valid, bool simulated, json sweep) {
    return {id,
            "2026-12-07T10:0" + std::to_string(id) + ":00Z",
            {{"run_id", id},
             {"endpoint", "http://127.0.0.1:8000"},
             {"model", model},
             {"engine", "vllm"},
             {"engine_version", "0.11.0"},
             {"quant", "nvfp4"},
             {"valid", valid},
             {"invalid_reason", valid ? json(nullptr) : json("R-OPS-2: prefix caching is on")},
             {"simulated", simulated},
             {"prefix_cache_study", false},
             {"launch_flags", "vllm serve m --no-enable-prefix-caching"},
             {"sweep", sweep}}};
}

TEST(BenchReport, SectionsLabelsChangeAndPredicted) {
    const std::vector<StoredRun> runs = {
        run(1, "org/m", true, false, {pt(1, 100), pt(2, 180)}),
        run(2, "org/m", false, false, {pt(1, 999)}),
        run(3, "org/m", true, false, {pt(1, 110, {{"output_tokens_per_s", 105.0}}), pt(4, 300)}),
        run(4, "other|<!-- sparkctl:bench-report:end -->", true, true, {pt(1, 50)}),
    };
    const Report rep = render_report(runs, "PERFORMANCE", "2026-12-07 12:00");
    const std::string& md = rep.markdown;
    // Two sections (model x engine x quant), three plots each.
    EXPECT_EQ(count(md, "\n### "), 2u);
    ASSERT_EQ(rep.plots.size(), 6u);
    EXPECT_EQ(rep.plots[0].name, "PERFORMANCE-m-vllm-nvfp4-throughput.svg");
    // User text cannot forge a marker or a table column.
    EXPECT_EQ(md.find(kEnd), std::string::npos);
    EXPECT_NE(md.find("other\\|&lt;!-- sparkctl:bench-report:end --&gt;"), std::string::npos);
    // Classes apart; the INVALID run with its reason, never in the valid comparison.
    const std::size_t valid_at = md.find("#### Valid runs"), invalid_at = md.find("#### INVALID");
    ASSERT_NE(valid_at, std::string::npos);
    ASSERT_NE(invalid_at, std::string::npos);
    EXPECT_LT(valid_at, invalid_at);
    EXPECT_NE(md.find("R-OPS-2: prefix caching is on"), std::string::npos);
    EXPECT_NE(md.find("#### Simulated runs"), std::string::npos);
    // Run 3 against run 1 (the previous valid run, not the INVALID run 2): +10% at 1 user;
    // 4 users has no earlier point.
    EXPECT_NE(md.find("- change: against run 1 "), std::string::npos);
    EXPECT_NE(md.find("| 1 | 12.5 | 20.0 | 3.00 | 110.0 | 110.0 | 0 | 105.0 | +10.0% |"),
              std::string::npos)
        << md;
    EXPECT_NE(md.find("| 4 | 12.5 | 20.0 | 3.00 | 300.0 | 75.0 | 0 | — | — |"), std::string::npos);
    EXPECT_NE(md.find("| 1 | 12.5 | 20.0 | 3.00 | 100.0 | 100.0 | 0 | — | — |"), std::string::npos);
    EXPECT_NE(md.find("vllm serve m --no-enable-prefix-caching"), std::string::npos);
}

// A tiny XML well-formedness check: tags nest and close, attributes are quoted, text holds no
// raw '<' and only the five predefined entities (or numeric ones) after '&'.
bool well_formed(const std::string& xml, std::string* why) {
    std::vector<std::string> open;
    std::size_t i = 0;
    if (xml.rfind("<?xml", 0) == 0) i = xml.find("?>") + 2;
    while (i < xml.size()) {
        if (xml[i] == '<') {
            const std::size_t end = xml.find('>', i);
            if (end == std::string::npos) return *why = "unclosed tag", false;
            std::string tag = xml.substr(i + 1, end - i - 1);
            bool quoted = false;
            for (char ch : tag) {
                if (ch == '"') quoted = !quoted;
                if ((ch == '<' || ch == '&') && !quoted) return *why = "bad tag " + tag, false;
            }
            if (quoted) return *why = "unbalanced quote in " + tag, false;
            if (tag.starts_with("/")) {
                if (open.empty() || open.back() != tag.substr(1))
                    return *why = "mismatched </" + tag.substr(1) + ">", false;
                open.pop_back();
            } else if (!tag.ends_with("/")) {
                open.push_back(tag.substr(0, tag.find(' ')));
            }
            i = end + 1;
        } else if (xml[i] == '&') {
            const std::size_t semi = xml.find(';', i);
            const std::string ent = xml.substr(i, semi - i + 1);
            if (ent != "&amp;" && ent != "&lt;" && ent != "&gt;" && ent != "&quot;" &&
                ent != "&apos;" && !ent.starts_with("&#"))
                return *why = "bad entity " + ent, false;
            i = semi + 1;
        } else {
            if (static_cast<unsigned char>(xml[i]) < 0x20 && xml[i] != '\n' && xml[i] != '\t')
                return *why = "control character", false;
            ++i;
        }
    }
    if (!open.empty()) return *why = "unclosed <" + open.back() + ">", false;
    return true;
}

TEST(BenchReportSvg, WellFormedWithEscapedText) {
    Plot p{"tok/s <&> \"quoted\" 'single'", "load", "y\x01", {}};
    p.series.push_back({"run 1 <b>&", {{1, 10}, {2, 20}, {4, 35}}, false});
    p.series.push_back({"run 2", {{1, 5}, {2, NAN}}, true});
    const std::string svg = render_svg(p);
    std::string why;
    EXPECT_TRUE(well_formed(svg, &why)) << why << "\n" << svg;
    EXPECT_NE(svg.find("run 1 &lt;b&gt;&amp;"), std::string::npos);
    EXPECT_EQ(count(svg, "<polyline"), 2u);
    EXPECT_EQ(count(svg, "stroke-dasharray"), 2u);  // the dashed series and its legend entry
    EXPECT_EQ(svg.find("nan"), std::string::npos);
    // Empty plots and every report plot are well-formed too.
    EXPECT_TRUE(well_formed(render_svg(Plot{"empty", "x", "y", {}}), &why)) << why;
    const Report rep = render_report({run(1, "m", true, false, {pt(1, 10), pt(8, 70)})}, "P", "t");
    for (const ReportFile& f : rep.plots) EXPECT_TRUE(well_formed(f.text, &why)) << f.name << why;
}

TEST(BenchReportSvg, NiceTicks) {
    EXPECT_EQ(nice_ticks(0, 100), (std::vector<double>{0, 20, 40, 60, 80, 100}));
    EXPECT_EQ(nice_ticks(0, 9), (std::vector<double>{0, 2, 4, 6, 8}));
    EXPECT_EQ(nice_ticks(0.5, 3), (std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3}));
}

}  // namespace
}  // namespace sparkctl::bench
