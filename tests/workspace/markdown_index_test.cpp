#include <gtest/gtest.h>

#include "workspace/detail/markdown.h"
#include "workspace/index.h"
#include "workspace/repo_info.h"

namespace sparkctl::workspace {
namespace {

using detail::escape_cell;
using detail::split_row;
using detail::unescape_cell;

TEST(Markdown, EscapeAndSplitRoundTripPipesAndBackslashes) {
    for (std::string text : {"plain", "a|b", "a\\|b", "ends with \\", "|lead", "x || y"}) {
        std::string row = "| " + escape_cell(text) + " | second |";
        auto cells = split_row(row);
        ASSERT_EQ(cells.size(), 2u) << row;
        EXPECT_EQ(cells[0], text) << row;
        EXPECT_EQ(cells[1], "second");
    }
    EXPECT_EQ(escape_cell("two\nlines\tand\x01 bell"), "two lines and bell");
    EXPECT_EQ(unescape_cell("  a\\|b  "), "a|b");
}

TEST(Markdown, SplitRowToleratesMissingOuterPipes) {
    auto cells = split_row("a | b|c");
    ASSERT_EQ(cells.size(), 3u);
    EXPECT_EQ(cells[2], "c");
    EXPECT_TRUE(detail::is_separator_row("|---|:--:| --- |"));
    EXPECT_FALSE(detail::is_separator_row("| a | b |"));
    EXPECT_FALSE(detail::is_separator_row("| --- | |"));
}

IndexRow row(std::string name, std::string description = "") {
    IndexRow r;
    r.name = name;
    r.path = "/g/" + name;
    r.description = std::move(description);
    return r;
}

TEST(Index, NewDocumentRendersHeadingAndTableThatParsesBack) {
    IndexDocument doc;
    doc.rows = {row("alpha", "first | with pipe"), row("beta")};
    doc.rows[0].remote = "git@github.com:me/alpha.git";
    doc.rows[0].language = "C++";
    doc.rows[0].last_commit = "2025-01-02";
    std::string text = render_index(doc, "/g");
    EXPECT_NE(text.find("# Projects and repositories"), std::string::npos);
    EXPECT_NE(text.find("first \\| with pipe"), std::string::npos) << text;
    auto back = parse_index(text);
    ASSERT_TRUE(back.has_table);
    ASSERT_EQ(back.rows.size(), 2u);
    EXPECT_EQ(back.rows[0].description, "first | with pipe");
    EXPECT_EQ(back.rows[0].remote, "git@github.com:me/alpha.git");
    EXPECT_EQ(back.rows[0].language, "C++");
    EXPECT_EQ(back.rows[0].last_commit, "2025-01-02");
    EXPECT_EQ(back.rows[1].path, "/g/beta");
    EXPECT_EQ(render_index(back, "/g"), text);  // stable
}

TEST(Index, HandEditsAreToleratedAndProseIsKeptByteForByte) {
    const std::string before = "# My repos\r\n\nSome notes | with a pipe.\n\n";
    const std::string after = "\nTrailing notes.\n| not | our table |\n";
    // Columns reordered, case changed, an extra column, no outer pipes on one row.
    const std::string table =
        "| description | NAME | Primary language | Extra | path |\n"
        "|:--|--|--|--|--|\n"
        "| Hand written \\| text | alpha | Rust | x | /g/alpha |\n"
        "|  | | | | |\n"
        "beta-desc | beta | Go | y | /g/beta\n";
    auto doc = parse_index(before + table + after);
    ASSERT_TRUE(doc.has_table);
    EXPECT_EQ(doc.before, before);
    ASSERT_EQ(doc.rows.size(), 1u) << "nameless rows are dropped; a table row starts with '|'";
    EXPECT_EQ(doc.rows[0].name, "alpha");
    EXPECT_EQ(doc.rows[0].description, "Hand written | text");
    EXPECT_EQ(doc.rows[0].language, "Rust");
    EXPECT_EQ(doc.rows[0].path, "/g/alpha");
    EXPECT_EQ(doc.after, "beta-desc | beta | Go | y | /g/beta\n" + after);
    std::string out = render_index(doc, "/g");
    EXPECT_EQ(out.substr(0, before.size()), before);
    EXPECT_EQ(out.substr(out.size() - doc.after.size()), doc.after);
}

TEST(Index, TextWithoutATableGetsTheTableAppended) {
    auto doc = parse_index("# Notes\nno table here");
    EXPECT_FALSE(doc.has_table);
    doc.rows = {row("a")};
    std::string out = render_index(doc, "/g");
    EXPECT_EQ(out.rfind("# Notes\nno table here\n\n| Name |", 0), 0u) << out;
}

TEST(Index, UpsertReplacesByNameAndKeepsDescriptionWhenNoneGiven) {
    std::vector<IndexRow> rows = {row("a", "mine"), row("b")};
    IndexRow updated = row("a");
    updated.language = "C";
    upsert_row(rows, updated);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].description, "mine");
    EXPECT_EQ(rows[0].language, "C");
    upsert_row(rows, row("a", "new words"));
    EXPECT_EQ(rows[0].description, "new words");
    upsert_row(rows, row("c"));
    EXPECT_EQ(rows.back().name, "c");
}

TEST(Index, RebuildMergeSortsAndKeepsDescriptionsByName) {
    std::vector<IndexRow> previous = {row("zeta", "z words"), row("gone", "dropped"),
                                      row("alpha", "a words")};
    auto merged = merge_rebuild({row("zeta"), row("alpha"), row("new")}, previous);
    ASSERT_EQ(merged.size(), 3u);
    EXPECT_EQ(merged[0].name, "alpha");
    EXPECT_EQ(merged[0].description, "a words");
    EXPECT_EQ(merged[1].name, "new");
    EXPECT_EQ(merged[1].description, "");
    EXPECT_EQ(merged[2].description, "z words");
}

TEST(Language, ByExtension) {
    EXPECT_EQ(language_of("src/a.cpp"), "C++");
    EXPECT_EQ(language_of("A.PY"), "Python");
    EXPECT_EQ(language_of("kernel.cu"), "CUDA");
    EXPECT_EQ(language_of("README.md"), "");
    EXPECT_EQ(language_of(".bashrc"), "");
    EXPECT_EQ(language_of("Makefile"), "");
    EXPECT_EQ(language_of("dir.d/file"), "");
}

TEST(Language, PrimaryCountsCodeFilesOnlyAndAssignsHeaders) {
    EXPECT_EQ(primary_language({}), "");
    EXPECT_EQ(primary_language({"README.md", "docs/a.md", "data.json"}), "");
    EXPECT_EQ(primary_language({"a.py", "b.py", "c.rs", "README.md", "x.md", "y.md"}), "Python");
    // Headers follow the sources: C++ project with many headers.
    EXPECT_EQ(primary_language({"a.cpp", "a.h", "b.h", "c.h", "x.py", "y.py", "z.py"}), "C++");
    EXPECT_EQ(primary_language({"a.c", "a.h", "b.h", "x.py", "y.py"}), "C");
    // Ties go to the alphabetically first name.
    EXPECT_EQ(primary_language({"a.rs", "b.go"}), "Go");
}

}  // namespace
}  // namespace sparkctl::workspace
