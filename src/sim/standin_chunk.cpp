#include "sim/standin_chunk.h"

#include <algorithm>

namespace sparkctl::sim::standin {

using nlohmann::json;

namespace {

// Appends `s` between the quotes of a JSON string as nlohmann's dump() writes it (default
// arguments: ensure_ascii false, strict UTF-8): '"' and '\\' escaped, \b \f \n \r \t by name,
// the other bytes below 0x20 as \u00xx in lower-case hex, the rest as they are
// (nlohmann/detail/output/serializer.hpp dump_escaped). A string with a byte of 0x80 or more
// goes to nlohmann itself, which checks its UTF-8.
void append_escaped(std::string& out, std::string_view s) {
    if (std::any_of(s.begin(), s.end(),
                    [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
        const std::string quoted = json(std::string(s)).dump();
        out.append(quoted, 1, quoted.size() - 2);
        return;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    for (const char c : s) {
        switch (c) {
            case '"':
                out.append("\\\"");
                break;
            case '\\':
                out.append("\\\\");
                break;
            case '\b':
                out.append("\\b");
                break;
            case '\f':
                out.append("\\f");
                break;
            case '\n':
                out.append("\\n");
                break;
            case '\r':
                out.append("\\r");
                break;
            case '\t':
                out.append("\\t");
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out.append("\\u00");
                    out.push_back(kHex[(c >> 4) & 0xF]);
                    out.push_back(kHex[c & 0xF]);
                } else {
                    out.push_back(c);
                }
        }
    }
}

}  // namespace

json chunk_json(const ChunkHead& head, json choice) {
    return {{"id", head.id},
            {"object", head.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", head.created},
            {"model", head.model},
            {"system_fingerprint", kFingerprint},
            {"choices", json::array({std::move(choice)})}};
}

json token_choice(bool chat, const std::string& token) {
    json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
    if (chat) {
        choice["delta"] = {{"content", token}};
    } else {
        choice["text"] = token;
    }
    return choice;
}

TokenEvents::TokenEvents(const ChunkHead& head) {
    // Two dumps that differ only in the token ("A", "B") differ at exactly one byte: the token.
    const std::string a = chunk_json(head, token_choice(head.chat, "A")).dump();
    const std::string b = chunk_json(head, token_choice(head.chat, "B")).dump();
    const auto at =
        static_cast<std::size_t>(std::mismatch(a.begin(), a.end(), b.begin()).first - a.begin());
    head_ = "data: " + a.substr(0, at);
    tail_ = a.substr(at + 1) + "\n\n";
}

std::string TokenEvents::event(std::string_view token) const {
    std::string out;
    out.reserve(head_.size() + tail_.size() + token.size() + 8);
    out.append(head_);
    append_escaped(out, token);
    out.append(tail_);
    return out;
}

}  // namespace sparkctl::sim::standin
