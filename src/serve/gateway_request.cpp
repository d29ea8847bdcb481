// The gateway's pure pieces: reading a /v1/* request, loopback test, API key file and hashes.
#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/file.h"
#include "base/strings.h"
#include "serve/gateway.h"

namespace sparkctl::serve {

using nlohmann::json;

bool is_loopback_host(const std::string& host) {
    return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

namespace {

// Bytes of prompt text in a JSON value: strings, and the strings inside arrays and content
// parts (chat `messages[].content`, completions `prompt`, responses/embeddings `input`).
std::size_t text_bytes(const json& v, int depth = 0) {
    if (depth > 8) return 0;
    if (v.is_string()) return v.get_ref<const std::string&>().size();
    std::size_t n = 0;
    if (v.is_array()) {
        for (const json& e : v) n += text_bytes(e, depth + 1);
    } else if (v.is_object()) {
        for (const char* key : {"content", "text", "input"}) {
            if (auto it = v.find(key); it != v.end()) n += text_bytes(*it, depth + 1);
        }
    }
    return n;
}

// A read position in JSON text for the hand readers below: each step reads what it names at
// `i` and moves past it, or answers false/nullopt (then `i` is unspecified and the reader gives
// up, leaving the text to nlohmann).
struct JsonCursor {
    std::string_view t;
    std::size_t i = 0;

    bool done() const { return i >= t.size(); }
    char peek() const { return t[i]; }  // !done()
    // eat and skip_ws run a few times a key: inlined always (GCC called them, about 2% more
    // instructions per read_usage under callgrind).
    [[gnu::always_inline]] bool eat(char c) {
        if (i < t.size() && t[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    [[gnu::always_inline]] void skip_ws() {
        // The first test passes over the common case, a non-space, in one comparison.
        while (i < t.size() && static_cast<unsigned char>(t[i]) <= ' ' &&
               (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) {
            ++i;
        }
    }
    // A string without escapes or control characters; its contents. ASCII only: nlohmann checks
    // UTF-8, so anything else is left to it.
    std::optional<std::string_view> plain_string() {
        if (!eat('"')) return std::nullopt;
        const std::size_t start = i;
        std::size_t j = i;  // a local, not the member, in the loop: a register
        while (j < t.size() && t[j] != '"' && t[j] != '\\' &&
               static_cast<unsigned char>(t[j]) >= 0x20 &&
               static_cast<unsigned char>(t[j]) < 0x80) {
            ++j;
        }
        i = j;
        if (j >= t.size() || t[j] != '"') return std::nullopt;
        ++i;
        return t.substr(start, j - start);
    }
    // Past a string at i whatever its characters, following escapes only as far as to find
    // its closing quote; false when it is unterminated. `escaped`: it holds a backslash.
    bool skip_string(bool& escaped) {
        std::size_t j = i + 1;
        escaped = false;
        while (j < t.size() && t[j] != '"') {
            if (t[j] == '\\') {
                escaped = true;
                ++j;
            }
            ++j;
        }
        if (j >= t.size()) return false;
        i = j + 1;
        return true;
    }
    // true, false or null.
    bool literal() {
        for (std::string_view word : {"true", "false", "null"}) {
            if (t.substr(i, word.size()) == word) {
                i += word.size();
                return true;
            }
        }
        return false;
    }
    // RFC 8259 section 6: -?(0|[1-9][0-9]*)(.[0-9]+)?, and no exponent or over 300 integer
    // digits: those may overflow a double, which the document refuses (nlohmann's "number
    // overflow"; gateway_fuzz found 2E888... read here), so they are left to it.
    bool number() {
        eat('-');
        const std::size_t start = i;
        if (eat('0')) {
        } else if (!digits()) {
            return false;
        }
        if (i - start > 300) return false;
        if (eat('.') && !digits()) return false;
        return !eat('e') && !eat('E');
    }
    // An unsigned integer in plain digits that surely fits 64 bits; leading zeros, more than
    // 19 digits, or a fraction or exponent after them: nullopt.
    std::optional<std::uint64_t> unsigned_integer() {
        const std::size_t start = i;
        std::uint64_t x = 0;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
            x = x * 10 + static_cast<unsigned>(t[i++] - '0');
        }
        if (i == start || (t[start] == '0' && i - start > 1) || i - start > 19) return std::nullopt;
        if (i < t.size() && (t[i] == '.' || t[i] == 'e' || t[i] == 'E')) return std::nullopt;
        return x;
    }
    bool digits() {
        const std::size_t start = i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
        return i > start;
    }
};

// The quick reading of a request body: a recursive descent over JSON without escapes in its
// strings (what clients send, and a tenth of what nlohmann's lexer and document cost per
// request, callgrind), computing what parse_relay_request does from the document: the last
// `model` and `stream`, text_bytes of the last of each prompt key. Anything it does not read
// exactly (escapes, control or non-ASCII characters, deep nesting, malformed text, no string
// model): nullopt, and the document decides.
class QuickBody {
  public:
    explicit QuickBody(std::string_view text) : c_{text} {}

    std::optional<RelayRequest> read() {
        c_.skip_ws();
        if (!c_.eat('{')) return std::nullopt;
        std::optional<std::string_view> model;
        bool stream = false;
        std::array<std::size_t, 4> prompt{};  // messages, prompt, input, system
        static constexpr std::array<std::string_view, 4> kPromptKeys{"messages", "prompt", "input",
                                                                     "system"};
        c_.skip_ws();
        if (!c_.eat('}')) {
            do {
                c_.skip_ws();
                const auto key = c_.plain_string();
                c_.skip_ws();
                if (!key || !c_.eat(':')) return std::nullopt;
                c_.skip_ws();
                const std::size_t at = c_.i;
                const auto bytes = value(0);
                if (!bytes) return std::nullopt;
                const std::string_view text = c_.t.substr(at, c_.i - at);
                if (*key == "model") {
                    model = text.size() >= 2 && text.front() == '"'
                                ? std::optional(text.substr(1, text.size() - 2))
                                : std::nullopt;
                } else if (*key == "stream") {
                    stream = text == "true";
                }
                for (std::size_t k = 0; k < kPromptKeys.size(); ++k) {
                    if (*key == kPromptKeys[k]) prompt[k] = *bytes;
                }
                c_.skip_ws();
            } while (c_.eat(','));
            if (!c_.eat('}')) return std::nullopt;
        }
        c_.skip_ws();
        if (!c_.done() || !model) return std::nullopt;
        RelayRequest out;
        out.model = std::string(*model);
        out.stream = stream;
        for (std::size_t b : prompt) out.prompt_bytes += b;
        return out;
    }

  private:
    // One value at the cursor; what text_bytes counts of it at `depth`, or nullopt.
    std::optional<std::size_t> value(int depth) {
        if (depth > 64)
            return std::nullopt;  // the document has no depth limit; this recursion does
        if (c_.done()) return std::nullopt;
        const char c = c_.peek();
        if (c == '"') {
            const auto s = c_.plain_string();
            if (!s) return std::nullopt;
            return depth > 8 ? 0 : s->size();
        }
        if (c == '[' || c == '{') {
            ++c_.i;
            std::size_t sum = 0;
            std::array<std::size_t, 3> parts{};  // content, text, input: the last of each
            c_.skip_ws();
            const char close = c == '[' ? ']' : '}';
            if (!c_.eat(close)) {
                do {
                    c_.skip_ws();
                    std::optional<std::string_view> key;
                    if (c == '{') {
                        key = c_.plain_string();
                        c_.skip_ws();
                        if (!key || !c_.eat(':')) return std::nullopt;
                        c_.skip_ws();
                    }
                    const auto bytes = value(depth + 1);
                    if (!bytes) return std::nullopt;
                    if (c == '[') sum += *bytes;
                    if (key == "content") parts[0] = *bytes;
                    if (key == "text") parts[1] = *bytes;
                    if (key == "input") parts[2] = *bytes;
                    c_.skip_ws();
                } while (c_.eat(','));
                if (!c_.eat(close)) return std::nullopt;
            }
            if (c == '{') sum = parts[0] + parts[1] + parts[2];
            return depth > 8 ? 0 : sum;
        }
        if (c_.literal()) return 0;
        return c_.number() ? std::optional<std::size_t>(0) : std::nullopt;
    }

    JsonCursor c_;
};

}  // namespace

base::Result<RelayRequest> parse_relay_request(const net::Request& request) {
    if (auto quick = QuickBody(request.body).read()) return std::move(*quick);
    const std::string what = "request " + base::printable(request.target);
    if (request.body.empty()) {
        return base::make_error(base::Errc::bad_input, what + ": no JSON body naming a model");
    }
    json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
        return base::make_error(base::Errc::bad_input, what + ": the body is not valid JSON");
    }
    if (!body.is_object()) {
        return base::make_error(base::Errc::bad_input, what + ": the body is not a JSON object");
    }
    auto model = body.find("model");
    if (model == body.end() || !model->is_string()) {
        return base::make_error(base::Errc::bad_input, what + ": the body has no string \"model\"");
    }
    RelayRequest out;
    out.model = model->get<std::string>();
    if (auto s = body.find("stream"); s != body.end() && s->is_boolean())
        out.stream = s->get<bool>();
    for (const char* key : {"messages", "prompt", "input", "system"}) {
        if (auto it = body.find(key); it != body.end()) out.prompt_bytes += text_bytes(*it);
    }
    return out;
}

namespace {

// The token keys of a usage object: OpenAI's, Anthropic's, and Anthropic's cached prompt
// tokens (its input_tokens excludes them: total input = input_tokens + cache_read_input_tokens
// + cache_creation_input_tokens, docs.anthropic.com/en/docs/build-with-claude/prompt-caching).
constexpr std::array<std::string_view, 6> kUsageKeys{
    "prompt_tokens",           "input_tokens",
    "completion_tokens",       "output_tokens",
    "cache_read_input_tokens", "cache_creation_input_tokens"};
using UsageFound = std::array<std::optional<std::uint64_t>, kUsageKeys.size()>;

// nlohmann's SAX interface (json::sax_parse): follows the nesting and keeps the unsigned values
// of the token keys inside the top-level "usage" object, last occurrence winning.
class UsageSax {
  public:
    static constexpr auto kKeys = kUsageKeys;
    UsageFound found;
    bool root_is_object = false;

    bool null() { return value({}); }
    bool boolean(bool) { return value({}); }
    bool number_integer(json::number_integer_t) { return value({}); }
    bool number_unsigned(json::number_unsigned_t v) { return value(v); }
    bool number_float(json::number_float_t, const json::string_t&) { return value({}); }
    bool string(json::string_t&) { return value({}); }
    bool binary(json::binary_t&) { return value({}); }
    bool start_object(std::size_t) {
        if (depth_ == 0) root_is_object = true;
        const bool usage = depth_ == 1 && usage_next_;
        value({});
        in_usage_ = in_usage_ || usage;
        ++depth_;
        return true;
    }
    bool end_object() {
        if (--depth_ == 1) in_usage_ = false;
        return true;
    }
    bool start_array(std::size_t) {
        value({});
        ++depth_;
        return true;
    }
    bool end_array() {
        --depth_;
        return true;
    }
    bool key(json::string_t& k) {
        if (depth_ == 1) usage_next_ = k == "usage";
        if (depth_ == 2 && in_usage_) {
            key_ = -1;
            for (std::size_t i = 0; i < kKeys.size(); ++i) {
                if (k == kKeys[i]) key_ = static_cast<int>(i);
            }
        }
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
        return false;
    }

  private:
    // A value starts (a scalar, or an object or array opening) at the current depth.
    bool value(std::optional<std::uint64_t> v) {
        if (depth_ == 1) {
            if (usage_next_) found = {};  // a later "usage" replaces an earlier one whole
            usage_next_ = false;
        } else if (depth_ == 2 && in_usage_ && key_ >= 0) {
            found[static_cast<std::size_t>(key_)] = v;
            key_ = -1;
        }
        return true;
    }

    int depth_ = 0;
    bool usage_next_ = false;  // the last key at depth 1 was "usage"
    bool in_usage_ = false;    // inside the top-level "usage" object
    int key_ = -1;             // the kKeys index of the current key in it, -1: another key
};

enum class UsageScan { none, found, unsure };

// Finds the text of the top-level `key` value (the last one; "usage", or the "response" or
// "message" holding it) in a JSON object's text by following only strings and nesting: a few
// instructions a byte where nlohmann's lexer takes about 90 (callgrind), and the gateway reads
// every answer. `unsure` when this scan cannot tell (not one object, unterminated, a top-level
// key written with escapes): the caller parses.
UsageScan find_member(std::string_view t, std::string_view key, std::string_view& value) {
    JsonCursor c{t};
    c.skip_ws();
    if (!c.eat('{')) return UsageScan::unsure;
    int depth = 1;
    std::size_t start = std::string_view::npos;  // of the "usage" value being scanned
    bool found = false;
    while (depth > 0) {
        if (c.done()) return UsageScan::unsure;  // unclosed
        const char ch = c.peek();
        if (ch == '"') {
            const std::size_t open = c.i;
            bool escaped = false;
            if (!c.skip_string(escaped)) return UsageScan::unsure;
            const std::string_view name = t.substr(open + 1, c.i - open - 2);
            if (depth > 1) continue;
            c.skip_ws();
            if (c.eat(':')) {  // a key of the top-level object
                if (escaped) return UsageScan::unsure;
                if (name == key) start = c.i;
            }
            continue;
        }
        ++c.i;
        if (ch == '{' || ch == '[') {
            ++depth;
        } else if (ch == ',' || ch == '}' || ch == ']') {
            if (depth == 1 && start != std::string_view::npos) {
                value = t.substr(start, c.i - 1 - start);
                found = true;
                start = std::string_view::npos;
            }
            if (ch != ',') --depth;
        }
    }
    c.skip_ws();
    if (!c.done()) return UsageScan::unsure;  // text after the object
    return found ? UsageScan::found : UsageScan::none;
}

// The usage object read by hand when it is flat: ASCII keys without escapes, values that
// are unsigned integers in plain digits, ASCII strings without escapes, true, false or null.
// Anything else (nesting, escapes, other numbers, malformed text): nullopt, and the caller parses.
std::optional<UsageFound> read_flat_usage(std::string_view v) {
    JsonCursor c{v};
    UsageFound found;
    c.skip_ws();
    if (!c.eat('{')) return std::nullopt;
    c.skip_ws();
    if (!c.eat('}')) {
        do {
            c.skip_ws();
            const auto key = c.plain_string();
            c.skip_ws();
            if (!key || !c.eat(':')) return std::nullopt;
            c.skip_ws();
            std::optional<std::uint64_t> value;
            if (c.done()) return std::nullopt;
            if (c.peek() >= '0' && c.peek() <= '9') {
                value = c.unsigned_integer();
                if (!value) return std::nullopt;
            } else if (c.peek() == '"') {
                if (!c.plain_string()) return std::nullopt;
            } else if (!c.literal()) {
                return std::nullopt;
            }
            for (std::size_t k = 0; k < UsageSax::kKeys.size(); ++k) {
                if (*key == UsageSax::kKeys[k]) found[k] = value;
            }
            c.skip_ws();
        } while (c.eat(','));
        if (!c.eat('}')) return std::nullopt;
    }
    c.skip_ws();
    if (!c.done()) return std::nullopt;
    return found;
}

// The counts from a usage object's token keys: input_tokens (Anthropic's, with its cached
// prompt tokens added: input_tokens + cache_read_input_tokens + cache_creation_input_tokens,
// saturating) or else prompt_tokens; output_tokens or else completion_tokens.
UsageCounts counts_of(const UsageFound& found) {
    UsageCounts out;
    if (found[1]) {
        std::uint64_t sum = 0;
        for (const std::size_t k : std::array<std::size_t, 3>{1, 4, 5}) {
            const std::uint64_t v = found[k].value_or(0);
            const std::uint64_t room = std::numeric_limits<std::uint64_t>::max() - sum;
            sum = v > room ? std::numeric_limits<std::uint64_t>::max() : sum + v;
        }
        out.prompt_tokens = sum;
    } else {
        out.prompt_tokens = found[0];
    }
    out.completion_tokens = found[3] ? found[3] : found[2];
    return out;
}

}  // namespace

UsageCounts read_usage(std::string_view json_text) {
    std::string_view value;
    const UsageScan scan = find_member(json_text, "usage", value);
    if (scan == UsageScan::none) return {};
    if (scan == UsageScan::found) {
        if (auto flat = read_flat_usage(value)) return counts_of(*flat);
    }
    // Found but not flat: only the usage value is parsed (the rest of the text is not
    // validated); unsure: the whole text is.
    const std::string small =
        scan == UsageScan::found ? "{\"usage\":" + std::string(value) + "}" : std::string();
    const std::string_view text = scan == UsageScan::found ? std::string_view(small) : json_text;
    UsageSax sax;
    if (!json::sax_parse(text.begin(), text.end(), &sax) || !sax.root_is_object) return {};
    return counts_of(sax.found);
}

UsageCounts read_nested_usage(std::string_view json_text, std::string_view parent) {
    std::string_view holder;
    const UsageScan scan = find_member(json_text, parent, holder);
    if (scan == UsageScan::found) return read_usage(holder);
    if (scan == UsageScan::none) return {};
    // Unsure (a top-level key with escapes, or not one object): the document decides.
    const json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object()) return {};
    const auto holder_it = doc.find(parent);
    if (holder_it == doc.end() || !holder_it->is_object()) return {};
    const auto usage = holder_it->find("usage");
    if (usage == holder_it->end() || !usage->is_object()) return {};
    UsageFound found;
    for (std::size_t k = 0; k < kUsageKeys.size(); ++k) {
        const auto v = usage->find(kUsageKeys[k]);
        if (v != usage->end() && v->is_number_unsigned()) found[k] = v->get<std::uint64_t>();
    }
    return counts_of(found);
}

bool sse_event_carries_output(std::string_view event_type) {
    static constexpr std::string_view kDelta = ".delta";
    return event_type == "message" || event_type == "content_block_delta" ||
           (event_type.size() > kDelta.size() &&
            event_type.substr(event_type.size() - kDelta.size()) == kDelta);
}

std::string sha256_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * len);
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0xf]);
    }
    return out;
}

base::Result<std::vector<std::string>> read_api_key_hashes(const std::filesystem::path& file) {
    auto text = base::read_file(file, 1 << 20);
    if (!text) return base::with_context(text.error(), "api_keys_file");
    std::vector<std::string> out;
    int line_no = 0;
    for (const std::string& line : base::split(*text, '\n')) {
        ++line_no;
        std::string l(base::trim(line));
        if (l.empty() || l[0] == '#') continue;
        bool hex = l.size() == 64;
        for (char& c : l) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            hex = hex && std::isxdigit(static_cast<unsigned char>(c));
        }
        if (!hex) {
            return base::make_error(base::Errc::bad_input,
                                    file.string() + ":" + std::to_string(line_no) +
                                        ": not a SHA-256 hex digest (64 hex digits)");
        }
        out.push_back(std::move(l));
    }
    if (out.empty()) {
        return base::make_error(base::Errc::bad_input, file.string() + ": no API key hashes");
    }
    return out;
}

}  // namespace sparkctl::serve
