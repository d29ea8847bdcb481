#include "doctor/machine.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace sparkctl::doctor {

namespace {

using base::Errc;
using base::make_error;

class RootedMachine : public Machine {
  public:
    explicit RootedMachine(std::filesystem::path root)
        : root_(std::move(root)), real_(hw::make_real_system()) {}

    base::Result<std::string> read_file(const std::filesystem::path& path) override {
        return real_->read_file(under_root(path));
    }

    base::Result<base::ProcessResult> run(const std::vector<std::string>& argv,
                                          std::chrono::milliseconds timeout) override {
        if (is_real() || argv.empty() || argv[0].find('/') != std::string::npos) {
            return real_->run(argv, timeout);
        }
        std::vector<std::string> rooted = argv;
        rooted[0] = (root_ / "bin" / argv[0]).string();
        std::error_code ec;
        if (!std::filesystem::exists(rooted[0], ec)) {
            return make_error(Errc::not_found, argv[0] + ": not found under " + root_.string());
        }
        return real_->run(rooted, timeout);
    }

    base::Result<std::vector<std::string>> list_dir(const std::filesystem::path& path) override {
        const std::filesystem::path p = under_root(path);
        std::error_code ec;
        std::filesystem::directory_iterator it(p, ec);
        if (ec) {
            Errc code = ec == std::errc::no_such_file_or_directory ? Errc::not_found : Errc::io;
            return make_error(code, p.string() + ": cannot list: " + ec.message());
        }
        std::vector<std::string> names;
        for (const auto& entry : it) names.push_back(entry.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }

    std::optional<std::string> getenv(const std::string& name) override {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr || *v == '\0') return std::nullopt;
        return std::string(v);
    }

    base::Result<std::uint64_t> disk_free_bytes(const std::filesystem::path& path) override {
        struct statvfs st {};
        if (::statvfs(path.c_str(), &st) != 0) {
            return make_error(Errc::io,
                              path.string() + ": statvfs failed: " + std::strerror(errno));
        }
        return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
    }

    bool port_free(int port) override {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return false;
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        return ok;
    }

  private:
    bool is_real() const { return root_ == "/"; }
    std::filesystem::path under_root(const std::filesystem::path& path) const {
        if (is_real() || !path.is_absolute()) return path;
        return root_ / path.relative_path();
    }

    std::filesystem::path root_;
    std::unique_ptr<hw::System> real_;
};

}  // namespace

std::unique_ptr<Machine> make_machine(const std::filesystem::path& root) {
    return std::make_unique<RootedMachine>(root.empty() ? std::filesystem::path("/") : root);
}

}  // namespace sparkctl::doctor
