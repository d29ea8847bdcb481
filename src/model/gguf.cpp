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

struct SplitName {
    std::string prefix;
    std::uint32_t no = 0;  // 1-based, from the name
    std::uint32_t count = 0;
};

std::optional<SplitName> parse_split_name(const std::string& filename) {
    // <prefix>-NNNNN-of-NNNNN.gguf
    constexpr std::string_view kSuffix = ".gguf";
    if (filename.size() < 1 + 5 + 4 + 5 + kSuffix.size()) return std::nullopt;
    std::string_view s(filename);
    if (!s.ends_with(kSuffix)) return std::nullopt;
    s.remove_suffix(kSuffix.size());
    std::string_view count = s.substr(s.size() - 5);
    std::string_view of = s.substr(s.size() - 9, 4);
    std::string_view no = s.substr(s.size() - 14, 5);
    if (of != "-of-" || s[s.size() - 15] != '-') return std::nullopt;
    auto n = base::parse_u64(no);
    auto c = base::parse_u64(count);
    if (!n || !c || *n == 0 || *c == 0 || *n > *c) return std::nullopt;
    return SplitName{std::string(s.substr(0, s.size() - 15)), static_cast<std::uint32_t>(*n),
                     static_cast<std::uint32_t>(*c)};
}

std::string shard_name(const std::string& prefix, std::uint32_t no, std::uint32_t count) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "-%05u-of-%05u.gguf", no, count);
    return prefix + buf;
}

}  // namespace

Result<std::vector<GgufFile>> read_gguf_shards(const std::filesystem::path& path) {
    auto first = read_gguf_header(path);
    if (!first) return first.error();
    const std::string fname = path.filename().string();
    auto fail = [&](const std::string& what) {
        return base::make_error(Errc::bad_input, fname + ": " + what);
    };
    std::optional<std::uint64_t> count = first->get_uint("split.count");
    std::optional<SplitName> split = parse_split_name(fname);
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

// ---------------------------------------------------------------------------------------------
// Tensor kinds

TensorKind classify_gguf_tensor(std::string_view name, std::optional<std::uint32_t> first_mtp) {
    auto starts = [&](std::string_view p) { return name.starts_with(p); };
    if (starts("v.") || starts("mm.") || starts("mm_") || starts("resampler.")) {
        return TensorKind::vision;
    }
    if (starts("token_embd_norm") || starts("output_norm")) return TensorKind::norm;
    if (starts("token_embd.") || starts("per_layer_token_embd.") || starts("position_embd.") ||
        starts("token_types.")) {
        return TensorKind::embedding;
    }
    if (starts("output.")) return TensorKind::output;
    if (!starts("blk.")) return TensorKind::other;

    std::string_view rest = name.substr(4);
    std::size_t dot = rest.find('.');
    if (dot == std::string_view::npos) return TensorKind::other;
    auto block = base::parse_u64(rest.substr(0, dot));
    std::string_view t = rest.substr(dot + 1);
    if (t.starts_with("nextn.") || (block && first_mtp && *block >= *first_mtp)) {
        return TensorKind::mtp;
    }
    if (t.starts_with("vis_")) return TensorKind::vision;  // CogVLM's visual expert
    // Strip ".weight"/".bias"/... to look at the role.
    std::string_view role = t.substr(0, t.find('.'));
    if (role.find("norm") != std::string_view::npos) return TensorKind::norm;
    if (role == "ffn_gate_inp" || role == "ffn_gate_inp_shexp" || role == "exp_probs_b" ||
        role == "ffn_gate_tid2eid") {
        return TensorKind::router;
    }
    if (role.ends_with("_exps") || role.ends_with("_chexps")) return TensorKind::ffn_experts;
    if (role.ends_with("_shexp")) return TensorKind::ffn_shared;
    if (role.starts_with("ffn") || role.starts_with("channel_mix")) return TensorKind::ffn;
    if (role.starts_with("attn") || role.starts_with("indexer")) return TensorKind::attention;
    if (role.starts_with("ssm") || role.starts_with("shortconv") || role.starts_with("time_mix")) {
        return TensorKind::ssm;
    }
    return TensorKind::other;
}

// ---------------------------------------------------------------------------------------------
// ModelSpec from GGUF metadata, as llama.cpp derives its hparams.

namespace {

using U64s = std::vector<std::uint64_t>;

constexpr std::uint64_t kLlamaMaxLayers = 512;  // LLAMA_MAX_LAYERS, src/llama-hparams.h

struct ArchReader {
    const GgufFile& f;
    std::string arch;
    std::string fname;

    std::string key(std::string_view suffix) const { return arch + "." + std::string(suffix); }
    std::optional<std::uint64_t> u(std::string_view suffix) const {
        return f.get_uint(key(suffix));
    }
    std::optional<double> fl(std::string_view suffix) const { return f.get_float(key(suffix)); }
    bool has(std::string_view suffix) const { return f.find(key(suffix)) != nullptr; }
    bool is_array(std::string_view suffix) const {
        const GgufValue* v = f.find(key(suffix));
        return v != nullptr && v->is_array();
    }
    Error fail(const std::string& what) const {
        return base::make_error(Errc::bad_input, fname + ": " + what);
    }

    // llama_model_loader::get_key_or_arr: a scalar applies to every layer; an array must have
    // one value per layer. nullopt when absent or not integers.
    Result<std::optional<U64s>> per_layer(std::string_view suffix, std::uint64_t n) const {
        const GgufValue* v = f.find(key(suffix));
        if (v == nullptr || n == 0) return std::optional<U64s>{};
        if (v->is_array() && v->n != n) {
            return fail("key '" + key(suffix) + "' has " + std::to_string(v->n) +
                        " values, expected one per layer (" + std::to_string(n) + ")");
        }
        auto arr = f.get_uint_array(key(suffix));
        if (!arr) return std::optional<U64s>{};
        if (!v->is_array()) arr->assign(static_cast<std::size_t>(n), arr->empty() ? 0 : (*arr)[0]);
        return std::optional<U64s>(std::move(*arr));
    }
};

std::uint32_t to_u32(std::uint64_t v) {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(v, UINT32_MAX));
}

std::uint64_t max_of(const U64s& v) {
    std::uint64_t m = 0;
    for (std::uint64_t x : v) m = std::max(m, x);
    return m;
}

bool in(std::string_view a, std::initializer_list<std::string_view> set) {
    return std::find(set.begin(), set.end(), a) != set.end();
}

// llama_hparams::set_swa_pattern (src/llama-hparams.cpp).
void set_swa_pattern(std::vector<LayerKind>& kinds, std::uint64_t period, bool dense_first,
                     LayerKind swa_kind) {
    for (std::size_t il = 0; il < kinds.size(); ++il) {
        bool swa = period == 0 || (dense_first ? il % period != 0 : il % period < period - 1);
        kinds[il] = swa ? swa_kind : LayerKind::full_attention;
    }
}

// Sliding-window layout per architecture, from each src/models/<arch>.cpp load_arch_hparams.
// Returns the window when some layers use it. `swa_pattern` is read like get_key_or_arr:
// the scalar form (a period) is ignored when the key is an array, and vice versa.
Result<std::optional<std::uint64_t>> sliding_layout(const ArchReader& a, std::uint64_t n,
                                                    std::uint64_t n_all,
                                                    std::vector<LayerKind>& kinds) {
    const std::string& arch = a.arch;
    std::optional<std::uint64_t> n_swa = a.u("attention.sliding_window");
    const bool pattern_is_array = a.is_array("attention.sliding_window_pattern");
    const std::optional<std::uint64_t> pattern_scalar =
        pattern_is_array ? std::nullopt : a.u("attention.sliding_window_pattern");
    auto period = [&](std::uint64_t dflt) { return pattern_scalar.value_or(dflt); };
    // Per-layer form: a bool/int array (a scalar broadcasts, as get_key_or_arr does).
    auto apply_array = [&](std::uint64_t len) -> Result<bool> {
        const GgufValue* v = a.f.find(a.key("attention.sliding_window_pattern"));
        if (v == nullptr) return false;
        auto r = a.per_layer("attention.sliding_window_pattern", len);
        if (!r) return r.error();
        if (!r->has_value()) return false;
        for (std::size_t il = 0; il < kinds.size() && il < (*r)->size(); ++il) {
            kinds[il] = (**r)[il] != 0 ? LayerKind::sliding_attention : LayerKind::full_attention;
        }
        return true;
    };
    const LayerKind sw = LayerKind::sliding_attention;
    std::optional<std::uint64_t> window;

    if (arch == "gemma2") {
        window = n_swa.value_or(4096);
        set_swa_pattern(kinds, period(2), false, sw);
    } else if (in(arch, {"gemma3", "olmo2", "afmoe", "plamo3", "laguna", "mellum"})) {
        if (n_swa && *n_swa > 0) {
            window = n_swa;
            std::uint64_t dflt = arch == "gemma3" ? 6 : arch == "plamo3" ? 8 : 4;
            if (arch == "mellum" && pattern_is_array) {
                auto r = apply_array(n);
                if (!r) return r.error();
            } else {
                set_swa_pattern(kinds, period(dflt), arch == "laguna", sw);
            }
        }
    } else if (in(arch, {"gemma3n", "gemma-embedding", "gpt-oss", "cohere2", "exaone-moe"})) {
        std::uint64_t dflt = arch == "gemma3n"           ? 5
                             : arch == "gemma-embedding" ? 6
                             : arch == "gpt-oss"         ? 2
                                                         : 4;
        window = arch == "exaone-moe" ? n_swa.value_or(128) : n_swa;
        set_swa_pattern(kinds, period(dflt), false, sw);
    } else if (arch == "exaone4") {
        if (n == 64) {
            window = n_swa.value_or(4096);
            set_swa_pattern(kinds, period(4), false, sw);
        }
    } else if (arch == "cohere2moe" || arch == "muse-glimmer") {
        window = n_swa;
        if (pattern_scalar) {
            set_swa_pattern(kinds, *pattern_scalar, arch == "cohere2moe", sw);
        } else if (arch == "muse-glimmer" && !a.has("attention.sliding_window_pattern")) {
            set_swa_pattern(kinds, 4, false, sw);
        } else {
            auto r = apply_array(n);
            if (!r) return r.error();
        }
    } else if (in(arch, {"gemma4", "mimo2", "step35", "granite_swa", "dots3note"})) {
        window = n_swa;
        auto r = apply_array(arch == "step35" ? n_all : n);
        if (!r) return r.error();
    } else if (arch == "llama4") {
        // Chunked attention with a fixed 8192-token chunk, unless sliding_window is 0.
        if (!(n_swa && *n_swa == 0)) {
            window = 8192;
            set_swa_pattern(kinds, period(4), false, LayerKind::chunked_attention);
        }
    } else if (in(arch, {"lfm2"})) {
        if (n_swa && *n_swa > 0) {
            window = n_swa;
            for (LayerKind& k : kinds) {
                if (k == LayerKind::full_attention) k = sw;
            }
        }
    }
    bool any = std::any_of(kinds.begin(), kinds.end(), [](LayerKind k) {
        return k == LayerKind::sliding_attention || k == LayerKind::chunked_attention;
    });
    if (!any) return std::optional<std::uint64_t>{};
    return window;
}

std::string split_stem(const std::filesystem::path& p) {
    std::string name = p.filename().string();
    if (auto s = parse_split_name(name)) return s->prefix;
    return p.stem().string();
}

std::optional<std::uint32_t> bits_of(std::string_view method) {
    if (method == "F32") return 32;
    if (method == "F16" || method == "BF16") return 16;
    if (method.starts_with("MXFP4") || method.starts_with("NVFP4")) return 4;
    std::size_t i = method.starts_with("IQ") ? 2 : method.starts_with("Q") ? 1 : 0;
    if (i > 0 && i < method.size() && method[i] >= '1' && method[i] <= '8') {
        return static_cast<std::uint32_t>(method[i] - '0');
    }
    return std::nullopt;
}

}  // namespace

Result<ModelSpec> gguf_to_spec(const std::vector<GgufFile>& shards) {
    if (shards.empty()) return base::make_error(Errc::internal, "gguf_to_spec: no shards");
    const GgufFile& f = shards[0];
    ArchReader a{f, f.get_string("general.architecture").value_or(""), f.path.filename().string()};

    ModelSpec spec;
    spec.source = SourceKind::gguf;
    spec.name = split_stem(f.path);
    if (auto repo = f.get_string("general.source.huggingface.repository");
        repo && repo->find("://") == std::string::npos &&
        std::count(repo->begin(), repo->end(), '/') == 1) {
        spec.hf_id = *repo;
    }
    Arch& arch = spec.arch;
    arch.architecture = a.arch;
    arch.family = a.arch;

    // Layers: block_count includes the nextn (MTP) blocks appended at the end.
    std::uint64_t n_all = 0;
    std::uint64_t nextn = a.u("nextn_predict_layers").value_or(0);
    if (auto bc = a.u("block_count")) {
        n_all = *bc;
        if (n_all > kLlamaMaxLayers) {
            return a.fail("block_count " + std::to_string(n_all) +
                          " exceeds llama.cpp's limit of " + std::to_string(kLlamaMaxLayers));
        }
        if (nextn > n_all) return a.fail("nextn_predict_layers exceeds block_count");
        arch.n_layers = to_u32(n_all - nextn);
        arch.n_mtp_layers = to_u32(nextn);
    }
    const std::uint64_t n = n_all - (arch.n_layers ? nextn : 0);

    // Tensors from every shard.
    std::optional<std::uint32_t> first_mtp;
    if (nextn > 0 && arch.n_layers) first_mtp = *arch.n_layers;
    std::uint64_t weights = 0, files = 0, params = 0;
    std::map<std::string, std::uint64_t> bytes_by_type;  // 2-D+ tensors, for the guessed ftype
    for (std::size_t i = 0; i < shards.size(); ++i) {
        spec.files.push_back(shards[i].path);
        files += shards[i].file_bytes;
        for (const GgufTensorInfo& t : shards[i].tensors) {
            Tensor out;
            out.name = t.name;
            out.dtype = std::string(t.type->name);
            out.shape = t.ne;
            out.n_elements = t.n_elements;
            out.bytes = t.bytes;
            out.kind = classify_gguf_tensor(t.name, first_mtp);
            out.file_index = static_cast<std::uint32_t>(i);
            weights += t.bytes;  // each <= file size, so no overflow across <= 99999 shards
            params += t.n_elements;
            if (t.ne.size() >= 2) bytes_by_type[out.dtype] += t.bytes;
            spec.tensors.push_back(std::move(out));
        }
    }
    spec.weights_bytes = weights;
    spec.file_bytes = files;

    // Quantization: general.file_type, else the type holding most bytes (llama.cpp guesses
    // the same way in llama_model_loader when the key is missing).
    Quantization q;
    if (auto ft = f.get_uint("general.file_type")) {
        q.declared = "general.file_type=" + std::to_string(*ft);
        if (auto nm = llama_ftype_name(to_u32(*ft))) q.method = std::string(*nm);
    }
    if (q.method.empty() && !bytes_by_type.empty()) {
        auto it =
            std::max_element(bytes_by_type.begin(), bytes_by_type.end(),
                             [](const auto& x, const auto& y) { return x.second < y.second; });
        q.method = it->first;
        if (q.declared.empty()) q.declared = "tensor types";
    }
    if (!q.method.empty()) {
        q.bits = bits_of(q.method);
        spec.quant = q;
    }

    if (a.arch.empty()) return spec;

    arch.hidden_size = a.u("embedding_length");
    arch.context_length = a.u("context_length");
    if (auto vs = a.u("vocab_size")) {
        arch.vocab_size = vs;
    } else if (auto nt = f.array_size("tokenizer.ggml.tokens")) {
        arch.vocab_size = nt;
    }

    // Heads: scalar or per-layer; head_count_kv defaults to head_count (load_hparams).
    auto heads = a.per_layer("attention.head_count", n_all);
    if (!heads) return heads.error();
    auto kv_heads = a.per_layer("attention.head_count_kv", n_all);
    if (!kv_heads) return kv_heads.error();
    auto ff = a.per_layer("feed_forward_length", n_all);
    if (!ff) return ff.error();
    U64s h = heads->value_or(U64s(static_cast<std::size_t>(n_all), 0));
    U64s hkv = kv_heads->value_or(h);
    U64s ffl = ff->value_or(U64s(static_cast<std::size_t>(n_all), 0));
    const std::uint64_t n_head = max_of(h);
    if (heads->has_value() && n_head > 0) arch.n_heads = to_u32(n_head);
    if (ff->has_value() && max_of(ffl) > 0) arch.intermediate_size = max_of(ffl);
    if ((heads->has_value() || kv_heads->has_value()) && n > 0) {
        U64s first(hkv.begin(), hkv.begin() + static_cast<std::ptrdiff_t>(n));
        arch.n_kv_heads = to_u32(max_of(first));
        if (std::any_of(first.begin(), first.end(), [&](auto x) { return x != first[0]; })) {
            for (auto x : first) arch.n_kv_heads_per_layer.push_back(to_u32(x));
        }
    }
    if (n_head > 0) {
        // n_embd_head_k/v default to n_embd / n_head (load_hparams).
        std::optional<std::uint64_t> hd = a.u("attention.key_length");
        if (!hd && arch.hidden_size) hd = *arch.hidden_size / n_head;
        std::optional<std::uint64_t> hdv = a.u("attention.value_length");
        if (!hdv && arch.hidden_size) hdv = *arch.hidden_size / n_head;
        if (hd) arch.head_dim = to_u32(*hd);
        if (hdv && hdv != hd) arch.head_dim_v = to_u32(*hdv);
    }

    // Layer kinds: attention by default; sliding layouts; recurrent layers of hybrids.
    std::vector<LayerKind> kinds(static_cast<std::size_t>(n), LayerKind::full_attention);
    const std::string& ar = a.arch;
    if (in(ar, {"mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"})) {
        std::fill(kinds.begin(), kinds.end(), LayerKind::recurrent);
    } else if (in(ar, {"nemotron_h", "nemotron_h_moe"})) {
        // Recurrent iff no KV heads and no FFN; no KV heads with an FFN: MLP/MoE-only layer.
        for (std::size_t il = 0; il < kinds.size(); ++il) {
            if (hkv[il] == 0)
                kinds[il] = ffl[il] == 0 ? LayerKind::recurrent : LayerKind::feed_forward;
        }
    } else if (in(ar, {"jamba", "granitehybrid", "plamo2", "lfm2", "lfm2moe", "kimi-linear",
                       "bailingmoe3", "kimi-k3"})) {
        for (std::size_t il = 0; il < kinds.size(); ++il) {
            if (hkv[il] == 0) kinds[il] = LayerKind::recurrent;
        }
    } else if (in(ar, {"qwen3next", "qwen35", "qwen35moe", "qwen4exp", "minimax-01"})) {
        auto rl = a.per_layer("attention.recurrent_layers", n_all);
        if (!rl) return rl.error();
        std::uint64_t interval =
            a.u("full_attention_interval").value_or(ar == "minimax-01" ? 8 : 4);
        for (std::size_t il = 0; il < kinds.size(); ++il) {
            bool rec =
                rl->has_value() ? (**rl)[il] != 0 : interval != 0 && (il + 1) % interval != 0;
            if (rec) kinds[il] = LayerKind::recurrent;
        }
    } else if (ar != "falcon-h1") {
        // Any other arch: a layer without KV heads has no attention.
        for (std::size_t il = 0; il < kinds.size(); ++il) {
            if (hkv[il] == 0 && n_head > 0) kinds[il] = LayerKind::feed_forward;
        }
    }
    auto window = sliding_layout(a, n, n_all, kinds);
    if (!window) return window.error();
    if (window->has_value()) arch.sliding_window = to_u32(**window);
    if (arch.n_layers) arch.layer_kinds = std::move(kinds);

    // Tied embeddings: llama.cpp reuses token_embd when output.weight is absent.
    bool has_embd = false, has_out = false;
    for (const Tensor& t : spec.tensors) {
        has_embd = has_embd || t.name == "token_embd.weight";
        has_out = has_out || t.name == "output.weight";
    }
    if (has_embd) arch.tie_word_embeddings = !has_out;

    // MoE.
    if (auto ne = a.u("expert_count"); ne && *ne > 0) {
        Moe moe;
        moe.n_experts = to_u32(*ne);
        auto used = a.per_layer("expert_used_count", n_all);
        if (!used) return used.error();
        if (used->has_value()) moe.n_experts_per_token = to_u32(max_of(**used));
        moe.n_shared_experts = to_u32(a.u("expert_shared_count").value_or(0));
        auto eff = a.per_layer("expert_feed_forward_length", n_all);
        if (!eff) return eff.error();
        if (eff->has_value()) moe.expert_intermediate_size = max_of(**eff);
        moe.shared_expert_intermediate_size = a.u("expert_shared_feed_forward_length");
        moe.n_leading_dense_layers = to_u32(a.u("leading_dense_block_count").value_or(0));
        arch.moe = moe;
    }

    // MLA (deepseek2 and kin): newer converters store the cache shape in key/value_length and
    // the per-head dims in key_length_mla/value_length_mla (conversion/deepseek.py).
    if (auto kvr = a.u("attention.kv_lora_rank"); kvr && *kvr > 0) {
        Mla mla;
        mla.kv_lora_rank = to_u32(*kvr);
        mla.q_lora_rank = to_u32(a.u("attention.q_lora_rank").value_or(0));
        std::uint64_t rope = a.u("rope.dimension_count").value_or(0);
        mla.qk_rope_head_dim = to_u32(rope);
        std::optional<std::uint64_t> kmla = a.u("attention.key_length_mla");
        std::optional<std::uint64_t> vmla = a.u("attention.value_length_mla");
        if (!kmla) kmla = a.u("attention.key_length");
        if (!vmla) vmla = a.u("attention.value_length");
        if (kmla && *kmla >= rope) mla.qk_nope_head_dim = to_u32(*kmla - rope);
        if (vmla) mla.v_head_dim = to_u32(*vmla);
        arch.mla = mla;
    }

    // SSM / linear-attention state (Mamba2 naming; time_step_rank is the head count except
    // for Mamba-1, where it is the dt rank).
    if (a.has("ssm.conv_kernel") || a.has("ssm.state_size") || a.has("ssm.inner_size")) {
        Ssm ssm;
        auto u32opt = [](std::optional<std::uint64_t> v) {
            return v ? std::optional<std::uint32_t>(to_u32(*v)) : std::nullopt;
        };
        ssm.d_conv = u32opt(a.u("ssm.conv_kernel"));
        ssm.d_inner = u32opt(a.u("ssm.inner_size"));
        ssm.d_state = u32opt(a.u("ssm.state_size"));
        ssm.n_group = u32opt(a.u("ssm.group_count"));
        if (ar != "mamba") {
            ssm.n_heads = u32opt(a.u("ssm.time_step_rank"));
            if (ssm.n_heads && *ssm.n_heads > 0 && ssm.d_inner) {
                ssm.head_dim = *ssm.d_inner / *ssm.n_heads;
            }
        }
        arch.ssm = ssm;
    }

    // RoPE.
    {
        Rope rope;
        rope.theta = a.fl("rope.freq_base");
        std::string st = f.get_string(a.key("rope.scaling.type")).value_or("");
        rope.scaling_type = st == "none" ? "" : st;
        rope.factor = a.fl("rope.scaling.factor");
        if (!rope.factor) rope.factor = a.fl("rope.scale_linear");
        rope.original_context = a.u("rope.scaling.original_context_length");
        if (rope.theta || !rope.scaling_type.empty() || rope.factor || rope.original_context) {
            arch.rope = rope;
        }
    }

    // Vision tower tensors in this file (usually a separate mmproj file with arch "clip").
    std::uint64_t vision_params = 0;
    for (const Tensor& t : spec.tensors) {
        if (t.kind == TensorKind::vision) vision_params += t.n_elements;
    }
    if (vision_params > 0) {
        Vision v;
        v.params = vision_params;
        arch.vision = v;
    }

    if (!spec.tensors.empty()) {
        arch.params_total = params;
        if (arch.moe && arch.moe->n_experts > 0 && arch.moe->n_experts_per_token > 0) {
            std::uint64_t experts = 0;
            for (const Tensor& t : spec.tensors) {
                if (t.kind == TensorKind::ffn_experts) experts += t.n_elements;
            }
            arch.params_active =
                params - experts +
                static_cast<std::uint64_t>(static_cast<double>(experts) *
                                           arch.moe->n_experts_per_token / arch.moe->n_experts);
        }
    }
    return spec;
}

Result<ModelSpec> load_gguf(const std::filesystem::path& path) {
    auto shards = read_gguf_shards(path);
    if (!shards) return shards.error();
    return gguf_to_spec(*shards);
}

}  // namespace sparkctl::model
