// seccomp_exec: run a command under an OCI/Kubernetes seccomp profile, the way a container runtime
// would, so a profile can be tested without a cluster.
//
//   seccomp_exec [--kill-on-violation] PROFILE.json COMMAND [ARGS...]
//   seccomp_exec --check PROFILE.json
//
// The profile's defaultAction applies to every syscall no entry allows (SCMP_ACT_ERRNO returns
// defaultErrnoRet, EPERM when unset). --kill-on-violation replaces the default action with
// SCMP_ACT_KILL_PROCESS, so a single syscall outside the profile ends the command with SIGSYS:
// the strict proof that a workload stays inside the list. --check builds the filter, prints the
// names this architecture does not know and exits 1 if there are any.
//
// Like runc: names unknown to this architecture are skipped with a warning, rules whose action
// equals the default are skipped, no_new_privs is set, and execve is the only call after the
// filter is loaded. Exit codes: 125 launcher or profile error, 126 cannot execute, 127 not found.

#include <errno.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr int kLauncherError = 125;

struct Options {
  bool kill_on_violation = false;
  bool check_only = false;
  std::string profile_path;
  std::vector<char*> command;
};

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "seccomp_exec: %s\n", message.c_str());
  std::exit(kLauncherError);
}

std::optional<Options> ParseArguments(int argc, char** argv) {
  Options options;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    const std::string flag = argv[i];
    if (flag == "--kill-on-violation") {
      options.kill_on_violation = true;
    } else if (flag == "--check") {
      options.check_only = true;
    } else {
      return std::nullopt;
    }
  }
  if (i >= argc) return std::nullopt;
  options.profile_path = argv[i++];
  for (; i < argc; ++i) options.command.push_back(argv[i]);
  if (options.check_only != options.command.empty()) return std::nullopt;
  options.command.push_back(nullptr);
  return options;
}

std::uint32_t ErrnoFrom(const rapidjson::Value& object, const char* member) {
  if (!object.HasMember(member)) return EPERM;
  const rapidjson::Value& value = object[member];
  if (!value.IsUint() || value.GetUint() > 4095) Fail(std::string(member) + " must be 0..4095");
  return value.GetUint();
}

// "SCMP_ACT_ERRNO" with its errno -> the libseccomp action.
std::uint32_t ParseAction(const rapidjson::Value& name, std::uint32_t errno_value) {
  if (!name.IsString()) Fail("an action must be a string");
  const std::string action = name.GetString();
  if (action == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (action == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_value);
  if (action == "SCMP_ACT_KILL" || action == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (action == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (action == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (action == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  Fail("unsupported action " + action);
}

// "SCMP_ARCH_X86_64" -> libseccomp's "x86_64".
std::uint32_t ParseArchitecture(const rapidjson::Value& name) {
  constexpr std::string_view kPrefix = "SCMP_ARCH_";
  if (!name.IsString() || !std::string_view(name.GetString()).starts_with(kPrefix)) {
    Fail("an architecture must be a SCMP_ARCH_* string");
  }
  std::string arch = name.GetString() + kPrefix.size();
  std::transform(arch.begin(), arch.end(), arch.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::uint32_t token = seccomp_arch_resolve_name(arch.c_str());
  if (token == 0) Fail(std::string("unknown architecture ") + name.GetString());
  return token;
}

std::vector<scmp_arg_cmp> ParseConditions(const rapidjson::Value& entry) {
  std::vector<scmp_arg_cmp> conditions;
  if (!entry.HasMember("args") || entry["args"].IsNull()) return conditions;
  if (!entry["args"].IsArray()) Fail("args must be an array");
  for (const auto& arg : entry["args"].GetArray()) {
    if (!arg.IsObject() || !arg.HasMember("index") || !arg["index"].IsUint() ||
        !arg.HasMember("value") || !arg["value"].IsUint64() || !arg.HasMember("op") ||
        !arg["op"].IsString()) {
      Fail("an args entry needs index, value and op");
    }
    const std::string op = arg["op"].GetString();
    scmp_compare compare;
    if (op == "SCMP_CMP_NE") {
      compare = SCMP_CMP_NE;
    } else if (op == "SCMP_CMP_LT") {
      compare = SCMP_CMP_LT;
    } else if (op == "SCMP_CMP_LE") {
      compare = SCMP_CMP_LE;
    } else if (op == "SCMP_CMP_EQ") {
      compare = SCMP_CMP_EQ;
    } else if (op == "SCMP_CMP_GE") {
      compare = SCMP_CMP_GE;
    } else if (op == "SCMP_CMP_GT") {
      compare = SCMP_CMP_GT;
    } else if (op == "SCMP_CMP_MASKED_EQ") {
      compare = SCMP_CMP_MASKED_EQ;
    } else {
      Fail("unknown op " + op);
    }
    const std::uint64_t value_two =
        arg.HasMember("valueTwo") && arg["valueTwo"].IsUint64() ? arg["valueTwo"].GetUint64() : 0;
    conditions.push_back(
        scmp_arg_cmp{arg["index"].GetUint(), compare, arg["value"].GetUint64(), value_two});
  }
  return conditions;
}

std::string ReadProfile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) Fail("cannot read " + path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// Builds the filter; returns the syscall names this architecture does not know.
std::vector<std::string> AddRules(scmp_filter_ctx filter, const rapidjson::Document& profile,
                                  std::uint32_t default_action) {
  std::vector<std::string> unknown;
  if (!profile.HasMember("syscalls")) return unknown;
  if (!profile["syscalls"].IsArray()) Fail("syscalls must be an array");
  for (const auto& entry : profile["syscalls"].GetArray()) {
    if (!entry.IsObject() || !entry.HasMember("action")) Fail("a syscalls entry needs an action");
    const std::uint32_t action = ParseAction(entry["action"], ErrnoFrom(entry, "errnoRet"));
    const std::vector<scmp_arg_cmp> conditions = ParseConditions(entry);
    std::vector<std::string> names;
    if (entry.HasMember("names") && entry["names"].IsArray()) {
      for (const auto& name : entry["names"].GetArray()) {
        if (!name.IsString()) Fail("syscall names must be strings");
        names.emplace_back(name.GetString());
      }
    } else if (entry.HasMember("name") && entry["name"].IsString()) {
      names.emplace_back(entry["name"].GetString());
    } else {
      Fail("a syscalls entry needs names");
    }
    if (action == default_action) continue;  // libseccomp refuses these; runc skips them too
    for (const std::string& name : names) {
      const int number = seccomp_syscall_resolve_name(name.c_str());
      if (number == __NR_SCMP_ERROR) {
        unknown.push_back(name);
        continue;
      }
      const int rc =
          seccomp_rule_add_array(filter, action, number, static_cast<unsigned>(conditions.size()),
                                 conditions.empty() ? nullptr : conditions.data());
      if (rc != 0) Fail("cannot add a rule for " + name + ": " + std::strerror(-rc));
    }
  }
  return unknown;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> options = ParseArguments(argc, argv);
  if (!options) {
    std::fprintf(stderr,
                 "usage: seccomp_exec [--kill-on-violation] PROFILE.json COMMAND [ARGS...]\n"
                 "       seccomp_exec --check PROFILE.json\n");
    return kLauncherError;
  }
  rapidjson::Document profile;
  const std::string text = ReadProfile(options->profile_path);
  profile.Parse(text.c_str(), text.size());
  if (profile.HasParseError()) {
    Fail(options->profile_path + ": " + rapidjson::GetParseError_En(profile.GetParseError()) +
         " at offset " + std::to_string(profile.GetErrorOffset()));
  }
  if (!profile.IsObject() || !profile.HasMember("defaultAction")) {
    Fail(options->profile_path + ": not a seccomp profile (no defaultAction)");
  }
  const std::uint32_t default_action =
      options->kill_on_violation
          ? SCMP_ACT_KILL_PROCESS
          : ParseAction(profile["defaultAction"], ErrnoFrom(profile, "defaultErrnoRet"));

  scmp_filter_ctx filter = seccomp_init(default_action);
  if (filter == nullptr) Fail("seccomp_init failed");
  if (seccomp_attr_set(filter, SCMP_FLTATR_CTL_NNP, 1) != 0) Fail("cannot set no_new_privs");
  if (profile.HasMember("architectures") && profile["architectures"].IsArray()) {
    for (const auto& name : profile["architectures"].GetArray()) {
      const int rc = seccomp_arch_add(filter, ParseArchitecture(name));
      if (rc != 0 && rc != -EEXIST)
        Fail("cannot add an architecture: " + std::string(strerror(-rc)));
    }
  }
  const std::vector<std::string> unknown = AddRules(filter, profile, default_action);
  for (const std::string& name : unknown) {
    std::fprintf(stderr, "seccomp_exec: %s: unknown syscall on this architecture, skipped\n",
                 name.c_str());
  }
  if (options->check_only) {
    seccomp_release(filter);
    return unknown.empty() ? 0 : 1;
  }

  // An unprivileged process may only load a filter with no_new_privs set.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Fail("cannot set no_new_privs");
  const int rc = seccomp_load(filter);
  seccomp_release(filter);
  if (rc != 0) Fail("cannot load the filter: " + std::string(std::strerror(-rc)));
  execvp(options->command[0], options->command.data());
  const int error = errno;
  std::fprintf(stderr, "seccomp_exec: cannot execute %s: %s\n", options->command[0],
               std::strerror(error));
  return error == ENOENT ? 127 : 126;
}
