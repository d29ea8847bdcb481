// GGUF writer; layout as llama.cpp's ggml/src/gguf.cpp gguf_write_to_buf: header, metadata,
// tensor infos, padding to the alignment, then each tensor's data padded to the alignment.
#include "model/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/assert.h"

namespace sparkctl::model {

namespace {

template <typename T>
void put(std::string& out, T v) {
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    out.append(b, sizeof v);
}

void put_string(std::string& out, std::string_view s) {
    put<std::uint64_t>(out, s.size());
    out.append(s);
}

std::uint64_t pad_to(std::uint64_t n, std::uint64_t align) { return (align - n % align) % align; }

}  // namespace

// clang-format off
GgufWriterValue GgufWriterValue::u8(std::uint8_t v) { std::string s; put(s, v); return {GgufType::uint8, s}; }
GgufWriterValue GgufWriterValue::i8(std::int8_t v) { std::string s; put(s, v); return {GgufType::int8, s}; }
GgufWriterValue GgufWriterValue::u16(std::uint16_t v) { std::string s; put(s, v); return {GgufType::uint16, s}; }
GgufWriterValue GgufWriterValue::i16(std::int16_t v) { std::string s; put(s, v); return {GgufType::int16, s}; }
GgufWriterValue GgufWriterValue::u32(std::uint32_t v) { std::string s; put(s, v); return {GgufType::uint32, s}; }
GgufWriterValue GgufWriterValue::i32(std::int32_t v) { std::string s; put(s, v); return {GgufType::int32, s}; }
GgufWriterValue GgufWriterValue::u64(std::uint64_t v) { std::string s; put(s, v); return {GgufType::uint64, s}; }
GgufWriterValue GgufWriterValue::i64(std::int64_t v) { std::string s; put(s, v); return {GgufType::int64, s}; }
GgufWriterValue GgufWriterValue::f32(float v) { std::string s; put(s, v); return {GgufType::float32, s}; }
GgufWriterValue GgufWriterValue::f64(double v) { std::string s; put(s, v); return {GgufType::float64, s}; }
GgufWriterValue GgufWriterValue::boolean(bool v) { std::string s; put<std::uint8_t>(s, v ? 1 : 0); return {GgufType::boolean, s}; }
// clang-format on

GgufWriterValue GgufWriterValue::str(std::string_view v) {
    std::string s;
    put_string(s, v);
    return {GgufType::string, s};
}

GgufWriterValue GgufWriterValue::array(GgufType elem, const std::vector<GgufWriterValue>& items) {
    std::string s;
    put<std::uint32_t>(s, static_cast<std::uint32_t>(elem));
    put<std::uint64_t>(s, items.size());
    for (const GgufWriterValue& it : items) {
        SPARKCTL_ASSERT(it.type() == elem);
        s += it.payload();  // nested arrays carry their own element type and count
    }
    return {GgufType::array, s};
}

namespace {
template <typename T, typename F>
GgufWriterValue make_array(GgufType elem, const std::vector<T>& v, F make) {
    std::vector<GgufWriterValue> items;
    items.reserve(v.size());
    for (const auto& x : v) items.push_back(make(x));
    return GgufWriterValue::array(elem, items);
}
}  // namespace

GgufWriterValue GgufWriterValue::u32_array(const std::vector<std::uint32_t>& v) {
    return make_array(GgufType::uint32, v, [](std::uint32_t x) { return u32(x); });
}
GgufWriterValue GgufWriterValue::i32_array(const std::vector<std::int32_t>& v) {
    return make_array(GgufType::int32, v, [](std::int32_t x) { return i32(x); });
}
GgufWriterValue GgufWriterValue::f32_array(const std::vector<float>& v) {
    return make_array(GgufType::float32, v, [](float x) { return f32(x); });
}
GgufWriterValue GgufWriterValue::bool_array(const std::vector<bool>& v) {
    return make_array(GgufType::boolean, v, [](bool x) { return boolean(x); });
}
GgufWriterValue GgufWriterValue::str_array(const std::vector<std::string>& v) {
    return make_array(GgufType::string, v, [](const std::string& x) { return str(x); });
}

void GgufWriter::add(std::string key, GgufWriterValue value) {
    for (auto& kv : kv_) {
        if (kv.first == key) {
            kv.second = std::move(value);
            return;
        }
    }
    kv_.emplace_back(std::move(key), std::move(value));
}

base::Result<void> GgufWriter::add_tensor(std::string name, std::uint32_t type_id,
                                          std::vector<std::uint64_t> ne, Fill fill) {
    auto fail = [&](const std::string& what) {
        return base::make_error(base::Errc::bad_input, "tensor '" + name + "': " + what);
    };
    const GgmlType* type = ggml_type_by_id(type_id);
    if (type == nullptr || type->removed) {
        return fail("unknown or removed ggml type id " + std::to_string(type_id));
    }
    if (ne.size() > kGgufMaxDims) return fail("more than 4 dimensions");
    if (name.size() > kGgufMaxNameLength) return fail("name longer than 63 bytes");
    for (const TensorEntry& t : tensors_) {
        if (t.name == name) return fail("duplicate tensor name");
    }
    auto bytes = ggml_tensor_bytes(*type, ne);
    if (!bytes) return fail(bytes.error().message);
    tensors_.push_back(
        TensorEntry{std::move(name), type_id, std::move(ne), *bytes, 0, std::move(fill)});
    return {};
}

std::uint64_t GgufWriter::alignment() const {
    for (const auto& kv : kv_) {
        if (kv.first == "general.alignment" && kv.second.type() == GgufType::uint32) {
            std::uint32_t a = 0;
            std::memcpy(&a, kv.second.payload().data(), sizeof a);
            if (a != 0 && (a & (a - 1)) == 0) return a;
        }
    }
    return 32;
}

template <typename Sink>
bool GgufWriter::emit(Sink&& sink, bool with_data) const {
    const std::uint64_t align = alignment();
    std::string h;
    h += "GGUF";
    put<std::uint32_t>(h, version_);
    put<std::uint64_t>(h, tensors_.size());
    put<std::uint64_t>(h, kv_.size());
    for (const auto& [key, value] : kv_) {
        put_string(h, key);
        put<std::uint32_t>(h, static_cast<std::uint32_t>(value.type()));
        h += value.payload();
    }
    std::uint64_t offset = 0;
    for (const TensorEntry& t : tensors_) {
        put_string(h, t.name);
        put<std::uint32_t>(h, static_cast<std::uint32_t>(t.ne.size()));
        for (std::uint64_t d : t.ne) put<std::uint64_t>(h, d);
        put<std::uint32_t>(h, t.type_id);
        put<std::uint64_t>(h, offset);
        offset += t.bytes + pad_to(t.bytes, align);
    }
    h.append(static_cast<std::size_t>(pad_to(h.size(), align)), '\0');
    if (!sink(h.data(), h.size())) return false;
    if (!with_data) return true;
    std::string chunk;
    for (const TensorEntry& t : tensors_) {
        const std::uint64_t total = t.bytes + pad_to(t.bytes, align);
        for (std::uint64_t at = 0; at < total;) {
            std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(total - at, 1u << 20));
            chunk.assign(n, '\0');
            if (t.fill && at < t.bytes) {
                std::size_t data =
                    static_cast<std::size_t>(std::min<std::uint64_t>(n, t.bytes - at));
                t.fill(at, chunk.data(), data);
            }
            if (!sink(chunk.data(), n)) return false;
            at += n;
        }
    }
    return true;
}

std::string GgufWriter::header_bytes() const {
    std::string out;
    emit([&](const char* p, std::size_t n) { return out.append(p, n), true; }, false);
    return out;
}

std::string GgufWriter::to_bytes() const {
    std::string out;
    emit([&](const char* p, std::size_t n) { return out.append(p, n), true; }, true);
    return out;
}

base::Result<void> GgufWriter::write(const std::filesystem::path& path) const {
    std::filesystem::path tmp = path;
    tmp += ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    auto io_error = [](const std::filesystem::path& p, const char* what, int err) {
        return base::make_error(base::Errc::io,
                                p.string() + ": " + what + ": " + std::strerror(err));
    };
    if (fd < 0) return io_error(tmp, "cannot create", errno);
    int err = 0;
    bool ok = emit(
        [&](const char* p, std::size_t n) {
            while (n > 0) {
                ssize_t put_n = ::write(fd, p, n);
                if (put_n < 0) {
                    if (errno == EINTR) continue;
                    err = errno;
                    return false;
                }
                p += put_n;
                n -= static_cast<std::size_t>(put_n);
            }
            return true;
        },
        true);
    if (::close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        ::unlink(tmp.c_str());
        return io_error(tmp, "write failed", err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        err = errno;
        ::unlink(tmp.c_str());
        return io_error(path, "cannot rename into place", err);
    }
    return {};
}

}  // namespace sparkctl::model
