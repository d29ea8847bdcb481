// GGUF header reader. Format and checks follow llama.cpp's ggml/src/gguf.cpp
// (gguf_init_from_reader); arch facts follow src/llama-model.cpp load_hparams and
// src/models/<arch>.cpp load_arch_hparams (2026-09 tree). See docs/dev/model-gguf.md.
#include "model/gguf.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <unordered_set>

#include "base/file.h"
#include "base/strings.h"

namespace sparkctl::model {

static_assert(std::endian::native == std::endian::little, "GGUF is read as little-endian");

const char* to_string(GgufType type) {
    switch (type) {
        case GgufType::uint8:
            return "uint8";
        case GgufType::int8:
            return "int8";
        case GgufType::uint16:
            return "uint16";
        case GgufType::int16:
            return "int16";
        case GgufType::uint32:
            return "uint32";
        case GgufType::int32:
            return "int32";
        case GgufType::float32:
            return "float32";
        case GgufType::boolean:
            return "bool";
        case GgufType::string:
            return "string";
        case GgufType::array:
            return "array";
        case GgufType::uint64:
            return "uint64";
        case GgufType::int64:
            return "int64";
        case GgufType::float64:
            return "float64";
    }
    return "unknown";
}

namespace {

using base::Errc;
using base::Error;
using base::Result;

constexpr std::size_t kChunkBytes = 1u << 20;
constexpr std::uint64_t kMaxKeptScalarString = 4u << 20;
constexpr std::uint32_t kGgufDefaultAlignment = 32;  // GGUF_DEFAULT_ALIGNMENT

// Minimum encoded sizes, used to bound counts by the bytes left in the file.
constexpr std::uint64_t kMinKvBytes = 8 + 1 + 4 + 1;          // key len, 1-char key, type, u8
constexpr std::uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // name len, n_dims, type, offset

std::uint64_t scalar_size(GgufType t) {
    switch (t) {
        case GgufType::uint8:
        case GgufType::int8:
        case GgufType::boolean:
            return 1;
        case GgufType::uint16:
        case GgufType::int16:
            return 2;
        case GgufType::uint32:
        case GgufType::int32:
        case GgufType::float32:
            return 4;
        case GgufType::uint64:
        case GgufType::int64:
        case GgufType::float64:
            return 8;
        case GgufType::string:
        case GgufType::array:
            return 0;
    }
    return 0;
}

bool valid_type(std::uint32_t t) { return t <= static_cast<std::uint32_t>(GgufType::float64); }

// Positional bytes: an open file or a buffer in memory.
class Source {
  public:
    explicit Source(const base::RandomAccessFile& file) : file_(&file), size_(file.size()) {}
    explicit Source(std::string_view mem) : mem_(mem), size_(mem.size()) {}

    std::uint64_t size() const { return size_; }

    Result<void> read(std::uint64_t offset, std::size_t n, std::string& out) const {
        if (file_ != nullptr) return file_->read_at(offset, n, out);
        if (offset > size_ || n > size_ - offset) {
            return base::make_error(Errc::bad_input, "read past end of buffer");
        }
        out.assign(mem_.substr(static_cast<std::size_t>(offset), n));
        return {};
    }

  private:
    const base::RandomAccessFile* file_ = nullptr;
    std::string_view mem_;
    std::uint64_t size_ = 0;
};

// Sequential reader over a Source with a 1 MiB window, so a header costs a few reads.
class Reader {
  public:
    Reader(const Source& src, std::string name) : src_(src), name_(std::move(name)) {}

    std::uint64_t pos() const { return pos_; }
    std::uint64_t remaining() const { return src_.size() - pos_; }
    const std::string& name() const { return name_; }

    Error fail(const std::string& what) const {
        return base::make_error(Errc::bad_input, name_ + ": " + what);
    }
    Error truncated(std::string_view what) const {
        return fail("truncated: " + std::string(what) + " at offset " + std::to_string(pos_) +
                    " needs more bytes than the file has (" + std::to_string(src_.size()) + ")");
    }

    // Copies n bytes at the cursor into dst and advances.
    Result<void> read(void* dst, std::size_t n, std::string_view what) {
        if (n > remaining()) return truncated(what);
        auto* out = static_cast<char*>(dst);
        while (n > 0) {
            if (pos_ < buf_start_ || pos_ >= buf_start_ + buf_.size()) {
                std::uint64_t want = std::min<std::uint64_t>(kChunkBytes, remaining());
                auto r = src_.read(pos_, static_cast<std::size_t>(want), buf_);
                if (!r) return base::with_context(r.error(), name_ + ": " + std::string(what));
                buf_start_ = pos_;
            }
            std::size_t at = static_cast<std::size_t>(pos_ - buf_start_);
            std::size_t take = std::min(n, buf_.size() - at);
            std::memcpy(out, buf_.data() + at, take);
            out += take;
            n -= take;
            pos_ += take;
        }
        return {};
    }

    Result<void> skip(std::uint64_t n, std::string_view what) {
        if (n > remaining()) return truncated(what);
        pos_ += n;
        return {};
    }

    template <typename T>
    Result<void> read_pod(T& v, std::string_view what) {
        return read(&v, sizeof v, what);
    }

    // A GGUF string (u64 length + bytes), bounded by max_len and by the bytes left. Strings
    // longer than keep_limit are skipped, not stored: the result says whether out holds it.
    Result<bool> read_string(std::string& out, std::uint64_t max_len, std::uint64_t keep_limit,
                             std::string_view what) {
        std::uint64_t len = 0;
        out.clear();
        SPARKCTL_TRY(read_pod(len, what));
        if (len > remaining()) {
            return fail(std::string(what) + ": string length " + std::to_string(len) +
                        " exceeds the remaining " + std::to_string(remaining()) + " bytes");
        }
        if (len > max_len) {
            return fail(std::string(what) + ": string length " + std::to_string(len) +
                        " exceeds the limit of " + std::to_string(max_len));
        }
        if (len > keep_limit) {
            SPARKCTL_TRY(skip(len, what));
            return false;
        }
        out.resize(static_cast<std::size_t>(len));
        SPARKCTL_TRY(read(out.data(), out.size(), what));
        return true;
    }

  private:
    const Source& src_;
    std::string name_;
    std::uint64_t pos_ = 0;
    std::string buf_;
    std::uint64_t buf_start_ = 0;
};

struct ParseState {
    std::uint64_t kept_bytes = 0;  // strings kept so far (kGgufMaxKeptBytes)
};

Result<void> read_value(Reader& rd, ParseState& st, GgufType type, std::uint32_t depth,
                        const std::string& what, GgufValue& out);

// Decodes one numeric element at p into out.
void push_numeric(GgufType t, const char* p, GgufValue& out) {
    auto get = [p](auto v) {
        std::memcpy(&v, p, sizeof v);
        return v;
    };
    switch (t) {
        case GgufType::uint8:
            out.uints.push_back(get(std::uint8_t{}));
            break;
        case GgufType::boolean:
            out.uints.push_back(get(std::uint8_t{}) != 0 ? 1 : 0);
            break;
        case GgufType::uint16:
            out.uints.push_back(get(std::uint16_t{}));
            break;
        case GgufType::uint32:
            out.uints.push_back(get(std::uint32_t{}));
            break;
        case GgufType::uint64:
            out.uints.push_back(get(std::uint64_t{}));
            break;
        case GgufType::int8:
            out.ints.push_back(get(std::int8_t{}));
            break;
        case GgufType::int16:
            out.ints.push_back(get(std::int16_t{}));
            break;
        case GgufType::int32:
            out.ints.push_back(get(std::int32_t{}));
            break;
        case GgufType::int64:
            out.ints.push_back(get(std::int64_t{}));
            break;
        case GgufType::float32:
            out.floats.push_back(get(float{}));
            break;
        case GgufType::float64:
            out.floats.push_back(get(double{}));
            break;
        case GgufType::string:
        case GgufType::array:
            break;
    }
}

Result<void> read_array(Reader& rd, ParseState& st, std::uint32_t depth, const std::string& what,
                        GgufValue& out) {
    if (depth >= kGgufMaxArrayDepth) {
        return rd.fail(what + ": arrays nested deeper than " + std::to_string(kGgufMaxArrayDepth));
    }
    std::uint32_t elem = 0;
    std::uint64_t n = 0;
    SPARKCTL_TRY(rd.read_pod(elem, what + " array type"));
    if (!valid_type(elem)) {
        return rd.fail(what + ": unknown array element type " + std::to_string(elem));
    }
    SPARKCTL_TRY(rd.read_pod(n, what + " array count"));
    out.type = GgufType::array;
    out.elem_type = static_cast<GgufType>(elem);
    out.n = n;
    out.kept = false;
    const GgufType et = out.elem_type;
    // Smallest encoding of one element: bounds the count by the bytes left.
    std::uint64_t min_elem = et == GgufType::string  ? 8
                             : et == GgufType::array ? 12
                                                     : scalar_size(et);
    if (n > rd.remaining() / min_elem) {
        return rd.fail(what + ": array of " + std::to_string(n) + " " + to_string(et) +
                       " elements exceeds the remaining " + std::to_string(rd.remaining()) +
                       " bytes");
    }
    if (et == GgufType::array) {
        for (std::uint64_t i = 0; i < n; ++i) {
            GgufValue inner;
            SPARKCTL_TRY(read_array(rd, st, depth + 1, what, inner));
        }
        return {};
    }
    if (et == GgufType::string) {
        bool keep = n <= kGgufMaxKeptStringArray;
        if (keep) out.strings.reserve(static_cast<std::size_t>(n));
        std::string s;
        for (std::uint64_t i = 0; i < n; ++i) {
            std::uint64_t limit = keep ? kGgufMaxKeptBytes - st.kept_bytes : 0;
            auto got = rd.read_string(s, UINT64_MAX, limit, what);
            if (!got) return got.error();
            if (keep && !*got) {  // over the budget: keep none of this array
                keep = false;
                out.strings.clear();
                out.strings.shrink_to_fit();
            }
            if (keep) {
                st.kept_bytes += s.size();
                out.strings.push_back(std::move(s));
            }
        }
        out.kept = keep;
        return {};
    }
    const std::uint64_t size = scalar_size(et);
    // Kept numeric values cost 8 bytes each in memory: they count against the budget.
    if (n > kGgufMaxKeptNumericArray || st.kept_bytes + n * 8 > kGgufMaxKeptBytes) {
        return rd.skip(n * size, what);  // n * size <= remaining, checked above
    }
    st.kept_bytes += n * 8;
    std::string raw(static_cast<std::size_t>(n * size), '\0');
    SPARKCTL_TRY(rd.read(raw.data(), raw.size(), what));
    for (std::uint64_t i = 0; i < n; ++i) push_numeric(et, raw.data() + i * size, out);
    out.kept = true;
    return {};
}

Result<void> read_value(Reader& rd, ParseState& st, GgufType type, std::uint32_t depth,
                        const std::string& what, GgufValue& out) {
    out.type = type;
    out.elem_type = type;
    out.n = 1;
    out.kept = true;
    if (type == GgufType::array) return read_array(rd, st, depth, what, out);
    if (type == GgufType::string) {
        std::string s;
        std::uint64_t limit = std::min(kMaxKeptScalarString, kGgufMaxKeptBytes - st.kept_bytes);
        auto got = rd.read_string(s, UINT64_MAX, limit, what);
        if (!got) return got.error();
        st.kept_bytes += s.size();
        out.kept = *got;
        out.strings.push_back(std::move(s));
        return {};
    }
    char raw[8] = {};
    SPARKCTL_TRY(rd.read(raw, static_cast<std::size_t>(scalar_size(type)), what));
    push_numeric(type, raw, out);
    return {};
}

std::string quote_name(std::string_view s) { return "'" + base::printable(s) + "'"; }

Result<GgufFile> parse(const Source& src, std::string name) {
    Reader rd(src, name);
    GgufFile f;
    f.file_bytes = src.size();

    char magic[4];
    if (src.size() < 4)
        return rd.fail("not a GGUF file: only " + std::to_string(src.size()) + " bytes");
    SPARKCTL_TRY(rd.read(magic, 4, "magic"));
    if (std::memcmp(magic, "GGUF", 4) != 0) {
        return rd.fail("not a GGUF file: bad magic " + quote_name(std::string_view(magic, 4)) +
                       ", expected 'GGUF'");
    }
    SPARKCTL_TRY(rd.read_pod(f.version, "header version"));
    if (f.version == 1) {
        return rd.fail(
            "GGUF version 1 is no longer supported (llama.cpp dropped it); "
            "convert the model again");
    }
    if (f.version != 0 && (f.version & 0xFFFFu) == 0) {
        return rd.fail("GGUF version " + std::to_string(f.version) +
                       " looks byte-swapped: big-endian files are not supported");
    }
    if (f.version < 2 || f.version > 3) {
        return rd.fail("unsupported GGUF version " + std::to_string(f.version) +
                       " (supported: 2 and 3)");
    }
    std::uint64_t n_tensors = 0;
    std::uint64_t n_kv = 0;
    SPARKCTL_TRY(rd.read_pod(n_tensors, "header tensor count"));
    SPARKCTL_TRY(rd.read_pod(n_kv, "header metadata count"));
    if (n_kv > kGgufMaxKv || n_kv > rd.remaining() / kMinKvBytes) {
        return rd.fail("absurd metadata count " + std::to_string(n_kv) + " for a file of " +
                       std::to_string(src.size()) + " bytes");
    }
    if (n_tensors > kGgufMaxTensors ||
        n_tensors > (rd.remaining() - n_kv * kMinKvBytes) / kMinTensorInfoBytes) {
        return rd.fail("absurd tensor count " + std::to_string(n_tensors) + " for a file of " +
                       std::to_string(src.size()) + " bytes");
    }

    ParseState st;
    f.keys.reserve(static_cast<std::size_t>(n_kv));
    for (std::uint64_t i = 0; i < n_kv; ++i) {
        std::string key;
        const std::string what = "metadata key " + std::to_string(i);
        SPARKCTL_TRY(rd.read_string(key, kGgufMaxKeyLength, kGgufMaxKeyLength, what));
        if (key.empty()) return rd.fail(what + " is empty");
        const std::string kwhat = "key " + quote_name(key);
        if (f.kv.count(key) != 0) return rd.fail("duplicate metadata " + kwhat);
        std::uint32_t type = 0;
        SPARKCTL_TRY(rd.read_pod(type, kwhat + " type"));
        if (!valid_type(type)) {
            return rd.fail(kwhat + ": unknown value type " + std::to_string(type));
        }
        GgufValue v;
        SPARKCTL_TRY(read_value(rd, st, static_cast<GgufType>(type), 0, kwhat, v));
        f.keys.push_back(key);
        f.kv.emplace(std::move(key), std::move(v));
    }

    if (const GgufValue* a = f.find("general.alignment")) {
        if (a->type != GgufType::uint32) {
            return rd.fail("key 'general.alignment' must be uint32, not " +
                           std::string(to_string(a->type)));
        }
        std::uint64_t al = a->uints.at(0);
        if (al == 0 || (al & (al - 1)) != 0) {
            return rd.fail("general.alignment " + std::to_string(al) + " is not a power of two");
        }
        f.alignment = al;
    } else {
        f.alignment = kGgufDefaultAlignment;
    }

    f.tensors.reserve(static_cast<std::size_t>(n_tensors));
    std::unordered_set<std::string> names;
    for (std::uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensorInfo t;
        const std::string nwhat = "tensor " + std::to_string(i) + " name";
        SPARKCTL_TRY(rd.read_string(t.name, kGgufMaxKeyLength, kGgufMaxKeyLength, nwhat));
        const std::string tw = "tensor " + quote_name(t.name);
        if (t.name.size() > kGgufMaxNameLength) {
            return rd.fail(tw + ": name longer than " + std::to_string(kGgufMaxNameLength) +
                           " bytes (GGML_MAX_NAME)");
        }
        if (!names.insert(t.name).second) return rd.fail("duplicate " + tw);
        std::uint32_t n_dims = 0;
        SPARKCTL_TRY(rd.read_pod(n_dims, tw + " n_dims"));
        if (n_dims > kGgufMaxDims) {
            return rd.fail(tw + ": " + std::to_string(n_dims) + " dimensions, more than " +
                           std::to_string(kGgufMaxDims));
        }
        t.ne.resize(n_dims);
        std::uint64_t n_el = 1;
        for (std::uint32_t d = 0; d < n_dims; ++d) {
            SPARKCTL_TRY(rd.read_pod(t.ne[d], tw + " dims"));
            if (t.ne[d] > static_cast<std::uint64_t>(INT64_MAX)) {
                return rd.fail(tw + ": dimension " + std::to_string(d) + " is negative");
            }
            if (t.ne[d] != 0 && n_el > static_cast<std::uint64_t>(INT64_MAX) / t.ne[d]) {
                return rd.fail(tw + ": element count overflows");
            }
            n_el *= t.ne[d];
        }
        t.n_elements = n_el;
        SPARKCTL_TRY(rd.read_pod(t.type_id, tw + " type"));
        t.type = ggml_type_by_id(t.type_id);
        if (t.type == nullptr) {
            return rd.fail(tw + ": unknown ggml type id " + std::to_string(t.type_id));
        }
        if (t.type->removed) {
            return rd.fail(tw + ": ggml type " + std::string(t.type->name) + " (id " +
                           std::to_string(t.type_id) + ") was removed from ggml");
        }
        auto bytes = ggml_tensor_bytes(*t.type, t.ne);
        if (!bytes) return rd.fail(tw + ": " + bytes.error().message);
        t.bytes = *bytes;
        SPARKCTL_TRY(rd.read_pod(t.offset, tw + " offset"));
        f.tensors.push_back(std::move(t));
    }

    // The data section starts at the next multiple of the alignment (gguf.cpp).
    std::uint64_t pos = rd.pos();
    f.data_offset = pos;
    if (n_tensors > 0) {
        std::uint64_t pad = (f.alignment - pos % f.alignment) % f.alignment;
        if (pad > src.size() - pos) return rd.fail("data section starts past end of file");
        f.data_offset = pos + pad;
    }
    const std::uint64_t data_bytes = src.size() - f.data_offset;
    for (const GgufTensorInfo& t : f.tensors) {
        const std::string tw = "tensor " + quote_name(t.name);
        if (t.offset % f.alignment != 0) {
            return rd.fail(tw + ": offset " + std::to_string(t.offset) +
                           " is not a multiple of the alignment " + std::to_string(f.alignment));
        }
        if (t.offset > data_bytes) return rd.fail(tw + ": offset past end of file");
        if (t.bytes > data_bytes - t.offset) {
            return rd.fail(tw + ": data [" + std::to_string(f.data_offset + t.offset) + ", +" +
                           std::to_string(t.bytes) + ") extends past end of file (" +
                           std::to_string(src.size()) + " bytes)");
        }
    }
    return f;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// GgufFile accessors

const GgufValue* GgufFile::find(std::string_view key) const {
    auto it = kv.find(std::string(key));
    return it == kv.end() ? nullptr : &it->second;
}

std::optional<std::int64_t> GgufFile::get_int(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr || v->is_array() || v->type == GgufType::boolean) return std::nullopt;
    if (!v->ints.empty()) return v->ints[0];
    if (!v->uints.empty() && v->uints[0] <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v->uints[0]);
    }
    return std::nullopt;
}

std::optional<std::uint64_t> GgufFile::get_uint(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr || v->is_array() || v->type == GgufType::boolean) return std::nullopt;
    if (!v->uints.empty()) return v->uints[0];
    if (!v->ints.empty() && v->ints[0] >= 0) return static_cast<std::uint64_t>(v->ints[0]);
    return std::nullopt;
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr || v->is_array() || v->type == GgufType::boolean) return std::nullopt;
    if (!v->floats.empty()) return v->floats[0];
    if (!v->uints.empty()) return static_cast<double>(v->uints[0]);
    if (!v->ints.empty()) return static_cast<double>(v->ints[0]);
    return std::nullopt;
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr || v->type != GgufType::boolean) return std::nullopt;
    return v->uints.at(0) != 0;
}

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr || v->type != GgufType::string || !v->kept) return std::nullopt;
    return v->strings.at(0);
}

std::optional<std::vector<std::uint64_t>> GgufFile::get_uint_array(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr || !v->kept) return std::nullopt;
    GgufType t = v->is_array() ? v->elem_type : v->type;
    if (t == GgufType::string || t == GgufType::array || t == GgufType::float32 ||
        t == GgufType::float64) {
        return std::nullopt;
    }
    std::vector<std::uint64_t> out(v->uints.begin(), v->uints.end());
    for (std::int64_t i : v->ints) {
        if (i < 0) return std::nullopt;
        out.push_back(static_cast<std::uint64_t>(i));
    }
    return out;
}

std::optional<std::uint64_t> GgufFile::array_size(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr || !v->is_array()) return std::nullopt;
    return v->n;
}

Result<GgufFile> read_gguf_header(const std::filesystem::path& path) {
    auto file = base::RandomAccessFile::open(path);
    if (!file) return file.error();
    auto f = parse(Source(*file), path.filename().string());
    if (!f) return f.error();
    f->path = path;
    return f;
}

Result<GgufFile> parse_gguf_header(std::string_view bytes, std::string_view name) {
    auto f = parse(Source(bytes), std::string(name));
    if (!f) return f.error();
    f->path = std::string(name);
    return f;
}

// ---------------------------------------------------------------------------------------------
// Split files: llama.cpp's llama_split_path "%s-%05d-of-%05d.gguf", split.no is 0-based.

namespace {

std::string shard_name(const std::string& prefix, std::uint32_t no, std::uint32_t count) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "-%05u-of-%05u.gguf", no, count);
    return prefix + buf;
}

}  // namespace

std::optional<GgufSplitName> parse_gguf_split_name(std::string_view filename) {
    // <prefix>-NNNNN-of-NNNNN.gguf
    constexpr std::string_view kSuffix = ".gguf";
    if (filename.size() < 1 + 5 + 4 + 5 + kSuffix.size()) return std::nullopt;
    std::string_view s = filename;
    if (!s.ends_with(kSuffix)) return std::nullopt;
    s.remove_suffix(kSuffix.size());
    std::string_view count = s.substr(s.size() - 5);
    std::string_view of = s.substr(s.size() - 9, 4);
    std::string_view no = s.substr(s.size() - 14, 5);
    if (of != "-of-" || s[s.size() - 15] != '-') return std::nullopt;
    auto n = base::parse_u64(no);
    auto c = base::parse_u64(count);
    if (!n || !c || *n == 0 || *c == 0 || *n > *c) return std::nullopt;
    return GgufSplitName{std::string(s.substr(0, s.size() - 15)), static_cast<std::uint32_t>(*n),
                         static_cast<std::uint32_t>(*c)};
}

Result<std::vector<GgufFile>> read_gguf_shards(const std::filesystem::path& path) {
    auto first = read_gguf_header(path);
    if (!first) return first.error();
    const std::string fname = path.filename().string();
    auto fail = [&](const std::string& what) {
        return base::make_error(Errc::bad_input, fname + ": " + what);
    };
    std::optional<std::uint64_t> count = first->get_uint("split.count");
    std::optional<GgufSplitName> split = parse_gguf_split_name(fname);
    if (!count || *count <= 1) {
        if (split && split->count > 1) {
            return fail("file name says shard " + std::to_string(split->no) + " of " +
                        std::to_string(split->count) + " but metadata has no split.count");
        }
        std::vector<GgufFile> one;
        one.push_back(std::move(first).value());
        return one;
    }
    if (*count > 99999) return fail("absurd split.count " + std::to_string(*count));
    if (!split) {
        return fail("split.count is " + std::to_string(*count) +
                    " but the file name does not follow <name>-00001-of-0000N.gguf");
    }
    if (split->count != *count) {
        return fail("split.count " + std::to_string(*count) + " disagrees with the file name");
    }
    std::vector<GgufFile> shards;
    std::unordered_set<std::string> names;
    std::uint64_t n_tensors = 0;
    for (std::uint32_t i = 1; i <= split->count; ++i) {
        std::filesystem::path p = path.parent_path() / shard_name(split->prefix, i, split->count);
        Result<GgufFile> shard = i == split->no ? std::move(first) : read_gguf_header(p);
        if (!shard) {
            std::error_code ec;
            if (!std::filesystem::exists(p, ec)) {
                return base::make_error(Errc::not_found,
                                        fname + ": missing shard " + std::to_string(i) + " of " +
                                            std::to_string(split->count) + ": " + p.string());
            }
            return shard.error();
        }
        const std::string sname = p.filename().string();
        auto sno = shard->get_uint("split.no");
        auto scount = shard->get_uint("split.count");
        if (!sno || *sno != i - 1 || !scount || *scount != split->count) {
            return base::make_error(Errc::bad_input,
                                    sname + ": split.no/split.count do not match shard " +
                                        std::to_string(i) + " of " + std::to_string(split->count));
        }
        for (const GgufTensorInfo& t : shard->tensors) {
            if (!names.insert(t.name).second) {
                return base::make_error(Errc::bad_input, sname + ": tensor " + quote_name(t.name) +
                                                             " also appears in another shard");
            }
        }
        n_tensors += shard->tensors.size();
        shards.push_back(std::move(shard).value());
    }
    if (auto expected = shards[0].get_uint("split.tensors.count");
        expected && *expected != n_tensors) {
        return fail("split.tensors.count is " + std::to_string(*expected) +
                    " but the shards hold " + std::to_string(n_tensors) + " tensors");
    }
    return shards;
}

}  // namespace sparkctl::model
