// The gateway's pure pieces: reading a /v1/* request, loopback test, API key file and hashes.
#include <openssl/evp.h>

#include <array>
#include <cctype>
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

}  // namespace

base::Result<RelayRequest> parse_relay_request(const net::Request& request) {
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

// nlohmann's SAX interface (json::sax_parse): follows the nesting and keeps the unsigned values
// of the four token keys inside the top-level "usage" object, last occurrence winning.
class UsageSax {
  public:
    static constexpr std::array<std::string_view, 4> kKeys{"prompt_tokens", "input_tokens",
                                                           "completion_tokens", "output_tokens"};
    std::array<std::optional<std::uint64_t>, 4> found;
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

}  // namespace

UsageCounts read_usage(std::string_view json_text) {
    UsageSax sax;
    if (!json::sax_parse(json_text.begin(), json_text.end(), &sax) || !sax.root_is_object) {
        return {};
    }
    UsageCounts out;
    out.prompt_tokens = sax.found[1] ? sax.found[1] : sax.found[0];
    out.completion_tokens = sax.found[3] ? sax.found[3] : sax.found[2];
    return out;
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
