#include "workspace/plans.h"

#include <cstdio>
#include <system_error>
#include <vector>

#include "base/strings.h"
#include "workspace/detail/fs.h"

namespace sparkctl::workspace {

namespace fs = std::filesystem;
using base::Errc;
using base::make_error;
using base::Result;

Result<std::string> plan_slug(std::string_view description) {
    std::vector<std::string> words;
    std::string word;
    auto flush = [&]() {
        if (!word.empty()) words.push_back(std::move(word));
        word.clear();
    };
    for (char c : description) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            flush();
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            word += c;
        } else if (c >= 'A' && c <= 'Z') {
            word += static_cast<char>(c - 'A' + 'a');
        }  // punctuation and non-ASCII bytes are dropped from the word
    }
    flush();
    if (words.size() < 3 || words.size() > 4) {
        return make_error(Errc::bad_input,
                          "plan description '" + base::printable(description) + "' has " +
                              std::to_string(words.size()) +
                              (words.size() == 1 ? " word" : " words") +
                              "; it must have 3 or 4 (R-WS-3: "
                              "plans/<MM-DD>-<3-to-4-word-description>.md; words are ASCII "
                              "letters and digits separated by spaces)");
    }
    std::string slug;
    for (const std::string& w : words) {
        if (!slug.empty()) slug += '-';
        slug += w;
    }
    return slug;
}

std::string plan_file_stem(std::time_t now, std::string_view slug, int attempt) {
    std::tm local{};
    localtime_r(&now, &local);
    char date[16];
    std::snprintf(date, sizeof date, "%02d-%02d", local.tm_mon + 1, local.tm_mday);
    std::string stem = std::string(date) + "-" + std::string(slug);
    if (attempt > 1) stem += "-" + std::to_string(attempt);
    return stem;
}

Result<fs::path> save_plan(const Roots& roots, std::string_view description,
                           const std::string& contents, std::time_t now) {
    auto slug = plan_slug(description);
    if (!slug) return slug.error();
    if (base::trim(contents).empty()) {
        return make_error(Errc::bad_input, "the plan is empty; nothing saved");
    }
    SPARKCTL_TRY(require_claude_home(roots));
    std::error_code ec;
    fs::create_directories(roots.plans_dir(), ec);
    if (ec) {
        return make_error(
            Errc::io, roots.plans_dir().string() + ": cannot create directory: " + ec.message());
    }
    constexpr int kMaxAttempts = 1000;
    for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
        fs::path path = roots.plans_dir() / (plan_file_stem(now, *slug, attempt) + ".md");
        auto created = detail::create_file_exclusive(path, contents);
        if (!created) return created.error();
        if (*created) return path;
    }
    return make_error(Errc::io, roots.plans_dir().string() + ": more than " +
                                    std::to_string(kMaxAttempts) + " plans named " +
                                    plan_file_stem(now, *slug, 1) + "-N.md");
}

}  // namespace sparkctl::workspace
