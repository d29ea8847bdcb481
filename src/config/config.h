// Configuration: each option is declared once (key, env var, flag, default, help) and resolved
// with precedence default < config file < environment < flag, remembering each value's origin.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sparkctl::config {

enum class Origin { default_value, file, env, flag };
const char* to_string(Origin origin);

struct OptionSpec {
    std::string_view key;            // config-file key ("hardware"); env is SPARKCTL_<KEY>
    std::string_view env;            // "SPARKCTL_HARDWARE"
    std::string_view flag;           // "--hardware", or "" when the option has no flag
    std::string_view default_value;  // "~/" and "$XDG_*_HOME" forms are expanded on resolve
    std::string_view help;
};

// Top-level tables of the config file that hold free-form keys read by the module that owns
// them ("rules": plan's rule overrides; "cluster": the cluster inventory; "images": the container
// image per engine version, `"ngc-26.05" = "nvcr.io/..."`), not options.
std::span<const std::string_view> raw_tables();

// Arrays of tables of the config file whose entries are read by the module that owns them
// ("models": serve's deployments, `[[models]]`), not options.
std::span<const std::string_view> entry_tables();

// One key of an entry of an array of tables: a scalar (its text as Config::table renders it) or
// an array of scalars.
struct EntryValue {
    enum class Type { string, integer, floating, boolean, array };
    Type type = Type::string;
    std::string text;                // scalars
    std::vector<std::string> items;  // arrays, each scalar rendered as text
};
using Entry = std::map<std::string, EntryValue, std::less<>>;

// The option table: every option sparkctl has, in display order.
std::span<const OptionSpec> options();
// nullptr when `key` is not an option.
const OptionSpec* find_option(std::string_view key);

struct Setting {
    std::string value;
    Origin origin = Origin::default_value;
    std::string where;  // the file path, env var or flag the value came from; "" for defaults
};

using Getenv = std::function<const char*(const char*)>;

struct Sources {
    // The config file; nullopt: the default path (default_config_path), skipped if absent.
    // An explicitly given file that does not exist is an error.
    std::optional<std::filesystem::path> file;
    Getenv getenv;                             // the process environment by default
    std::map<std::string, std::string> flags;  // option key -> value given on the command line
};

// $SPARKCTL_CONFIG, else $XDG_CONFIG_HOME/sparkctl/config.toml, else
// ~/.config/sparkctl/config.toml.
std::filesystem::path default_config_path(const Getenv& getenv);

class Config {
  public:
    // Errors (bad_input) name the file and key: malformed TOML, an unknown key, a value of the
    // wrong type. Thread-compatible: const methods may be called concurrently.
    static base::Result<Config> load(const Sources& sources);

    // The resolved setting; `key` must be in the option table (asserted).
    const Setting& get(std::string_view key) const;
    const std::string& value(std::string_view key) const { return get(key).value; }
    // The config file that was read, when one was.
    const std::optional<std::filesystem::path>& file() const { return file_; }
    // Every option with its setting, in table order.
    std::vector<std::pair<const OptionSpec*, const Setting*>> all() const;

    // The raw keys of a free-form table of the config file (see raw_tables()), with `prefix.`
    // stripped: `[rules.R-OPS-1] enabled = false` gives table("rules") = {"R-OPS-1.enabled":
    // "false"}. Scalars are rendered as strings; an array of scalars is joined with ",".
    // Empty when the file has no such table. These keys bypass the option table (no env or flag).
    std::map<std::string, std::string> table(std::string_view prefix) const;

    // The entries of an array of tables (see entry_tables()), in file order; empty when the file
    // has none. A nested table or an array of non-scalars in an entry fails Config::load.
    const std::vector<Entry>& entries(std::string_view table) const;

  private:
    std::map<std::string, Setting, std::less<>> settings_;
    std::map<std::string, std::vector<Entry>, std::less<>> entries_;
    std::map<std::string, std::string, std::less<>> raw_;  // dotted key -> value
    std::optional<std::filesystem::path> file_;
};

}  // namespace sparkctl::config
