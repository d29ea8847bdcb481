#include "bench/sse_event.h"

#include <array>
#include <nlohmann/json.hpp>

namespace sparkctl::bench {

using nlohmann::json;

std::optional<EventFields> parse_event_reference(std::string_view data) {
    const json doc = json::parse(data, nullptr, false);
    if (!doc.is_object()) return std::nullopt;
    EventFields f;
    if (doc.contains("error")) {
        f.error = true;
        return f;
    }
    const json& choices = doc.value("choices", json::array());
    if (choices.is_array() && !choices.empty() && choices[0].is_object()) {
        const json& c = choices[0];
        const json& text = c.value("text", json());
        const json& delta = c.value("delta", json());
        if (text.is_string() && !text.get_ref<const std::string&>().empty()) f.content = true;
        if (delta.is_object()) {
            const json& dc = delta.value("content", json());
            if (dc.is_string() && !dc.get_ref<const std::string&>().empty()) f.content = true;
        }
    }
    const json& usage = doc.value("usage", json());
    if (usage.is_object()) {
        const json& ct = usage.value("completion_tokens", json());
        const json& pt = usage.value("prompt_tokens", json());
        if (ct.is_number_unsigned()) f.completion_tokens = ct.get<std::uint64_t>();
        if (pt.is_number_unsigned()) f.prompt_tokens = pt.get<std::uint64_t>();
    }
    // As engines::llamacpp_cache_n reads it.
    const json& t = doc.value("timings", json());
    if (t.is_object()) {
        const json& n = t.value("cache_n", json());
        if (n.is_number_integer() && n.get<std::int64_t>() >= 0) {
            f.cache_n = n.get<std::uint64_t>();
        }
    }
    return f;
}

namespace {

// Bytes a JSON string's scan passes over: printable ASCII other than '"' and '\\'.
constexpr std::array<bool, 256> kPlain = [] {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x80; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    return t;
}();

// Where a value sits, as far as the fields of interest go.
enum class Ctx : std::uint8_t {
    other,    // anything not of interest: validated and skipped
    top,      // the document
    choices,  // top.choices (an array)
    choice0,  // top.choices[0]
    delta,    // top.choices[0].delta
    usage,    // top.usage
    timings,  // top.timings
};

// The field a value is read into.
enum class Slot : std::uint8_t {
    none,
    error,
    choices,
    usage,
    timings,
    text,
    delta,
    content,
    completion_tokens,
    prompt_tokens,
    cache_n
};

class Scanner {
  public:
    explicit Scanner(std::string_view s) : s_(s) {}

    std::optional<EventFields> run() {
        ws();
        if (!at('{')) return std::nullopt;
        if (!value(Ctx::top, Slot::none)) return std::nullopt;
        ws();
        if (i_ != s_.size()) return std::nullopt;
        if (out_.error) {
            EventFields only_error;
            only_error.error = true;
            return only_error;
        }
        return out_;
    }

  private:
    bool at(char c) const { return i_ < s_.size() && s_[i_] == c; }
    void ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
            ++i_;
        }
    }

    // A string's raw contents (between the quotes); false for anything undecided.
    bool string(std::string_view& raw) {
        ++i_;  // the opening quote
        const std::size_t start = i_;
        while (i_ < s_.size()) {
            // Runs of plain bytes skipped by table: one load and branch a byte (the
            // comparisons below a byte were the scan's top cost, callgrind 2026-12-07).
            while (i_ < s_.size() && kPlain[static_cast<unsigned char>(s_[i_])]) ++i_;
            if (i_ >= s_.size()) break;
            const auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                raw = s_.substr(start, i_ - start);
                ++i_;
                return true;
            }
            if (c < 0x20 || c >= 0x80) return false;  // invalid, or UTF-8 left to nlohmann
            if (c == '\\') {
                if (i_ + 1 >= s_.size()) return false;
                const char e = s_[i_ + 1];
                if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                    e != 'r' && e != 't') {
                    return false;  // \u (surrogates, code points) or invalid
                }
                i_ += 2;
            }
        }
        return false;
    }

    // A number by JSON's grammar; `plain` gets its value when it is digits only (at most 19).
    bool number(std::optional<std::uint64_t>& plain) {
        const std::size_t start = i_;
        bool simple = true;
        if (at('-')) {
            simple = false;
            ++i_;
        }
        auto digit = [&] { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; };
        if (!digit()) return false;
        if (at('0')) {
            ++i_;
        } else {
            while (digit()) ++i_;
        }
        if (at('.')) {
            simple = false;
            ++i_;
            if (!digit()) return false;
            while (digit()) ++i_;
        }
        if (at('e') || at('E')) return false;  // an exponent may overflow: nlohmann decides
        const std::size_t len = i_ - start;
        if (len > 300) return false;
        plain.reset();
        if (simple && len <= 19) {
            std::uint64_t v = 0;
            for (std::size_t k = start; k < i_; ++k) v = v * 10 + std::uint64_t(s_[k] - '0');
            plain = v;
        }
        return true;
    }

    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }

    // The slot a key fills in an object at `ctx`.
    static Slot slot_of(Ctx ctx, std::string_view key) {
        switch (ctx) {
            case Ctx::top:
                if (key == "error") return Slot::error;
                if (key == "choices") return Slot::choices;
                if (key == "usage") return Slot::usage;
                if (key == "timings") return Slot::timings;
                return Slot::none;
            case Ctx::choice0:
                if (key == "text") return Slot::text;
                if (key == "delta") return Slot::delta;
                return Slot::none;
            case Ctx::delta:
                return key == "content" ? Slot::content : Slot::none;
            case Ctx::usage:
                if (key == "completion_tokens") return Slot::completion_tokens;
                if (key == "prompt_tokens") return Slot::prompt_tokens;
                return Slot::none;
            case Ctx::timings:
                return key == "cache_n" ? Slot::cache_n : Slot::none;
            default:
                return Slot::none;
        }
    }

    // One value at i_ (whitespace skipped before it), read into `slot`; `ctx` is where an
    // object or array found here sits.
    bool value(Ctx ctx, Slot slot) {
        ws();
        if (i_ >= s_.size()) return false;
        const char c = s_[i_];
        if (c == '{') return object(ctx);
        if (c == '[') return array(ctx);
        if (c == '"') {
            std::string_view raw;
            if (!string(raw)) return false;
            if ((slot == Slot::text || slot == Slot::content) && !raw.empty()) {
                out_.content = true;
            }
            return true;
        }
        if (c == 't') return literal("true");
        if (c == 'f') return literal("false");
        if (c == 'n') return literal("null");
        std::optional<std::uint64_t> plain;
        if (!number(plain)) return false;
        if (slot == Slot::completion_tokens || slot == Slot::prompt_tokens ||
            slot == Slot::cache_n) {
            if (!plain) return false;  // signed or fractional: left to nlohmann
            (slot == Slot::completion_tokens ? out_.completion_tokens
             : slot == Slot::prompt_tokens   ? out_.prompt_tokens
                                             : out_.cache_n) = plain;
        }
        return true;
    }

    bool object(Ctx ctx) {
        if (++depth_ > 64) return false;
        ++i_;                    // {
        std::uint32_t seen = 0;  // slots of interest met in this object: a repeat is undecided
        ws();
        if (at('}')) {
            ++i_;
            --depth_;
            return true;
        }
        for (;;) {
            ws();
            if (!at('"')) return false;
            std::string_view key;
            if (!string(key)) return false;
            if (key.find('\\') != std::string_view::npos) return false;  // escaped keys
            ws();
            if (!at(':')) return false;
            ++i_;
            const Slot slot = slot_of(ctx, key);
            if (slot != Slot::none) {
                const std::uint32_t bit = 1u << static_cast<unsigned>(slot);
                if (seen & bit) return false;
                seen |= bit;
            }
            Ctx inner = Ctx::other;
            if (slot == Slot::error) out_.error = true;
            if (slot == Slot::choices) inner = Ctx::choices;
            if (slot == Slot::usage) inner = Ctx::usage;
            if (slot == Slot::timings) inner = Ctx::timings;
            if (slot == Slot::delta) inner = Ctx::delta;
            // Only the right container type counts: choices an array, the rest objects.
            ws();
            const bool is_array = at('[');
            if ((inner == Ctx::choices) != is_array && inner != Ctx::other) inner = Ctx::other;
            if (!value(inner, slot)) return false;
            ws();
            if (at(',')) {
                ++i_;
                continue;
            }
            if (at('}')) {
                ++i_;
                --depth_;
                return true;
            }
            return false;
        }
    }

    bool array(Ctx ctx) {
        if (++depth_ > 64) return false;
        ++i_;  // [
        ws();
        if (at(']')) {
            ++i_;
            --depth_;
            return true;
        }
        for (std::size_t n = 0;; ++n) {
            ws();
            const Ctx inner = ctx == Ctx::choices && n == 0 && at('{') ? Ctx::choice0 : Ctx::other;
            if (!value(inner, Slot::none)) return false;
            ws();
            if (at(',')) {
                ++i_;
                continue;
            }
            if (at(']')) {
                ++i_;
                --depth_;
                return true;
            }
            return false;
        }
    }

    std::string_view s_;
    std::size_t i_ = 0;
    int depth_ = 0;
    EventFields out_;
};

}  // namespace

std::optional<EventFields> scan_event(std::string_view data) { return Scanner(data).run(); }

std::optional<EventFields> read_event(std::string_view data) {
    if (auto f = scan_event(data)) return f;
    return parse_event_reference(data);
}

}  // namespace sparkctl::bench
