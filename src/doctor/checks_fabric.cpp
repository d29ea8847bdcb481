// Cluster fabric checks (R-OPS-4): RoCE devices, both halves of each cabled QSFP port up, MTU
// 9000 on their interfaces, and NCCL told which interface and devices to use.
//
// Sysfs: /sys/class/infiniband/DEV/ports/N/state is "4: ACTIVE", phys_state "5: LinkUp"
// (Linux drivers/infiniband/core/sysfs.c, state_show / phys_state_show);
// /sys/class/infiniband/DEV/device/net/IF/ is the sysfs directory of DEV's network interface
// IF (the same one /sys/class/net/IF links to), and its mtu file holds the MTU. A DGX Spark's QSFP
// port appears as two RoCE devices, one per PCIe x4 half ("rocep1s0f0" and "roceP2p1s0f0"), and
// NCCL needs both (docs/reference/serving-anchors-2026-12.md, "Two Sparks over ConnectX-7").
#include <algorithm>
#include <map>

#include "base/strings.h"
#include "doctor/detail/checks.h"

namespace sparkctl::doctor::detail {

namespace {

constexpr std::string_view kIb = "/sys/class/infiniband/";
constexpr int kActive = 4;  // IB_PORT_ACTIVE
constexpr int kMtu = 9000;

struct Port {
    std::string device;
    std::string port;
    std::string state;  // "ACTIVE", "DOWN", "?" when unreadable
    std::string phys_state;
    bool up = false;
};

std::string read_state(Machine& m, const std::string& path, int* code) {
    auto text = m.read_file(path);
    if (!text) return "?";
    auto s = parse_sysfs_state(*text);
    if (!s) return "?";
    if (code != nullptr) *code = s->code;
    return s->name;
}

// The QSFP port a RoCE device belongs to: the name without its PCIe domain ("roceP2p1s0f0" and
// "rocep1s0f0" -> "p1s0f0").
std::string link_of(const std::string& device) {
    std::string s = device.rfind("roce", 0) == 0 ? device.substr(4) : device;
    if (s.size() > 1 && s[0] == 'P') {
        std::size_t i = 1;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        if (i > 1) s = s.substr(i);
    }
    return s;
}

bool configured(const Fabric& f, const std::string& device) {
    return std::find(f.roce_hcas.begin(), f.roce_hcas.end(), device) != f.roce_hcas.end();
}

}  // namespace

void fabric_checks(Machine& machine, const Fabric& fabric, std::vector<Check>& out) {
    const char* rule = "R-OPS-4";
    auto devices = machine.list_dir(std::string(kIb));
    if (!devices || devices->empty()) {
        out.push_back({"fabric.devices", Status::fail,
                       "no RDMA devices under /sys/class/infiniband" +
                           (devices ? std::string() : ": " + devices.error().message),
                       "load the ConnectX-7 driver (mlx5_ib; DGX OS ships it) and check "
                       "ibdev2netdev",
                       rule});
        return;
    }
    Check dev{"fabric.devices", Status::ok, join(*devices, ", "), "", rule};
    std::vector<std::string> absent;
    for (const std::string& hca : fabric.roce_hcas) {
        if (std::find(devices->begin(), devices->end(), hca) == devices->end()) {
            absent.push_back(hca);
        }
    }
    if (!absent.empty()) {
        dev.status = Status::fail;
        dev.detail += "; configured but absent: " + join(absent, ", ");
        dev.fix = "fix roce_hcas in [cluster] to name devices listed by ibdev2netdev";
    }
    out.push_back(dev);

    std::vector<Port> ports;
    for (const std::string& d : *devices) {
        auto names = machine.list_dir(std::string(kIb) + d + "/ports");
        if (!names) continue;
        for (const std::string& p : *names) {
            const std::string base = std::string(kIb) + d + "/ports/" + p + "/";
            Port port{d, p, "", "", false};
            int code = -1;
            port.state = read_state(machine, base + "state", &code);
            port.phys_state = read_state(machine, base + "phys_state", nullptr);
            port.up = code == kActive;
            ports.push_back(port);
        }
    }

    // Links: the QSFP ports with a half up (or a configured device), and which halves are down.
    std::map<std::string, std::vector<const Port*>> links;
    for (const Port& p : ports) links[link_of(p.device)].push_back(&p);
    std::vector<std::string> states, down;
    int cabled = 0;
    for (const auto& [link, halves] : links) {
        bool wanted = false;
        for (const Port* p : halves) wanted = wanted || p->up || configured(fabric, p->device);
        if (!wanted) continue;
        ++cabled;
        for (const Port* p : halves) {
            states.push_back(p->device + " " + p->state + "/" + p->phys_state);
            if (!p->up) down.push_back(p->device);
        }
    }
    Check links_check{"fabric.links", Status::ok, "", "", rule};
    if (cabled == 0) {
        links_check.status = Status::fail;
        links_check.detail = "no RoCE port is up";
        links_check.fix = "connect the QSFP cable between the nodes; check ibdev2netdev";
    } else {
        links_check.detail = join(states, ", ");
        if (!down.empty()) {
            links_check.status = Status::fail;
            links_check.detail += ": down: " + join(down, ", ");
            links_check.fix =
                "both halves of a QSFP port must be up (each carries half the "
                "bandwidth): reseat the cable, check ibdev2netdev and bring the "
                "interface up (sudo ip link set IF up)";
        }
    }
    out.push_back(links_check);

    // MTU of the interfaces of the ports that are up.
    Check mtu{"fabric.mtu", Status::ok, "", "", rule};
    std::vector<std::string> mtus, low, up_devices;
    for (const Port& p : ports) {
        if (!p.up) continue;
        up_devices.push_back(p.device);
        auto ifs = machine.list_dir(std::string(kIb) + p.device + "/device/net");
        if (!ifs) continue;
        for (const std::string& ifname : *ifs) {
            auto text =
                machine.read_file(std::string(kIb) + p.device + "/device/net/" + ifname + "/mtu");
            auto value = text ? base::parse_u64(base::trim(*text)) : std::nullopt;
            const std::string shown = value ? std::to_string(*value) : "?";
            mtus.push_back(ifname + " " + shown);
            if (!value || *value != kMtu) low.push_back(ifname);
        }
    }
    if (mtus.empty()) {
        mtu.status = Status::warn;
        mtu.detail = "no interface found for the RoCE ports that are up";
    } else {
        mtu.detail = "MTU " + join(mtus, ", ");
        if (!low.empty()) {
            mtu.status = Status::warn;
            mtu.fix = "sudo ip link set dev IF mtu 9000 on both nodes for " + join(low, ", ") +
                      ", and persist it (netplan); without it NCCL all-gather drops from ~24 to "
                      "~3 GB/s";
        }
    }
    out.push_back(mtu);

    // NCCL: the interface and devices, from the environment or the [cluster] inventory.
    Check nccl{"fabric.nccl_env", Status::ok, "", "", rule};
    const auto ifname = machine.getenv("NCCL_SOCKET_IFNAME");
    const auto hca = machine.getenv("NCCL_IB_HCA");
    std::vector<std::string> parts;
    std::vector<std::string> missing;
    if (ifname) {
        parts.push_back("NCCL_SOCKET_IFNAME=" + *ifname);
    } else if (!fabric.fabric_interface.empty()) {
        parts.push_back("fabric_interface " + fabric.fabric_interface + " ([cluster])");
    } else {
        missing.push_back("NCCL_SOCKET_IFNAME");
    }
    std::vector<std::string> hcas = fabric.roce_hcas;
    if (hca) {
        parts.push_back("NCCL_IB_HCA=" + *hca);
        hcas = base::split(*hca, ',');
    } else if (!fabric.roce_hcas.empty()) {
        parts.push_back("roce_hcas " + join(fabric.roce_hcas, ",") + " ([cluster])");
    } else {
        missing.push_back("NCCL_IB_HCA");
    }
    std::vector<std::string> unnamed;
    if (!hcas.empty()) {
        for (const std::string& d : up_devices) {
            if (std::find(hcas.begin(), hcas.end(), d) == hcas.end()) unnamed.push_back(d);
        }
    }
    nccl.detail = parts.empty() ? "neither set" : join(parts, "; ");
    if (!missing.empty() || !unnamed.empty()) {
        nccl.status = Status::warn;
        if (!missing.empty()) nccl.detail += "; unset: " + join(missing, ", ");
        if (!unnamed.empty()) nccl.detail += "; up but not named: " + join(unnamed, ", ");
        nccl.fix =
            "set fabric_interface and roce_hcas in [cluster] (sparkctl plan renders them "
            "into NCCL_SOCKET_IFNAME and NCCL_IB_HCA), naming both halves of the port: " +
            (up_devices.empty() ? std::string("see ibdev2netdev") : join(up_devices, ","));
    }
    out.push_back(nccl);
}

}  // namespace sparkctl::doctor::detail
