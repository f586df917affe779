// `palisade advise`: per namespace, the strictest level everything admits, what the containers
// declare, and a NamespacePolicy to start from (text for people, YAML for `policy lint` and tools).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "cli/cluster_listing.h"
#include "cli/object_input.h"
#include "policy/advisor.h"
#include "policy/check.h"

namespace palisade::cli {
namespace {

using policy::check_text::GoQuote;
using rapidjson::Value;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;

struct AdviseFlags {
  std::string namespace_name;
  std::string output = "text";
  std::string kubernetes_version = "1.31";
  std::size_t max_exceptions = 3;
  std::string expires;  // default: 90 days from today
  std::vector<std::string> files;
  ClusterFlags cluster;  // what runs in the cluster instead of files
};

std::string Join(const std::vector<std::string>& items, std::string_view separator = ", ") {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// "NET_ADMIN (2: Pod/a: x, Deployment/b: y)"
std::string InventoryLine(const std::map<std::string, std::vector<std::string>>& inventory) {
  if (inventory.empty()) return "none";
  std::vector<std::string> parts;
  for (const auto& [value, who] : inventory) {
    std::string part = value + " (" + std::to_string(who.size());
    if (who.size() <= 3) part += ": " + Join(who);
    parts.push_back(part + ")");
  }
  return Join(parts, "; ");
}

std::string HoldbackLine(const policy::Holdback& holdback) {
  std::string line =
      holdback.container.empty() ? "pods" : "container " + GoQuote(holdback.container);
  if (!holdback.image.empty()) line += " (" + holdback.image + ")";
  line += "  " + holdback.check;
  if (!holdback.values.empty()) line += "  " + Join(holdback.values);
  line += "  in " + (holdback.objects.size() <= 3
                         ? Join(holdback.objects)
                         : std::to_string(holdback.objects.size()) + " objects");
  return line;
}

// A valid exception name from what it waives: "istio-init-capabilities-restricted".
std::string ExceptionName(const policy::Holdback& holdback, std::set<std::string>& taken) {
  std::string base = (holdback.container.empty() ? std::string("pods") : holdback.container) + "-" +
                     holdback.check;
  std::string name;
  for (char c : base) {
    const auto u = static_cast<unsigned char>(c);
    name += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
  }
  name.erase(
      std::unique(name.begin(), name.end(), [](char a, char b) { return a == '-' && b == '-'; }),
      name.end());
  while (!name.empty() && name.back() == '-') name.pop_back();
  while (!name.empty() && name.front() == '-') name.erase(name.begin());
  std::string unique = name;
  for (int i = 2; !taken.insert(unique).second; ++i) unique = name + "-" + std::to_string(i);
  return unique;
}

// The image as a glob that survives a new tag: "docker.io/istio/proxyv2:1.22" -> ".../proxyv2:*".
std::string ImageGlob(const std::string& image) {
  const std::size_t digest = image.find('@');
  if (digest != std::string::npos) return image.substr(0, digest) + "@*";
  const std::size_t slash = image.rfind('/');
  const std::size_t colon = image.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return image.substr(0, colon) + ":*";
  }
  return image + ":*";
}

std::string YamlList(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const std::string& item : items) quoted.push_back(GoQuote(item));
  return "[" + Join(quoted) + "]";
}

std::string DefaultExpiry() {
  const std::time_t in_90_days = std::time(nullptr) + 90 * 24 * 3600;
  std::tm tm{};
  gmtime_r(&in_90_days, &tm);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

void PrintText(const policy::NamespaceAdvice& advice, std::ostream& out) {
  out << "namespace " << advice.name << ": " << advice.objects
      << (advice.objects == 1 ? " object, " : " objects, ") << advice.containers
      << (advice.containers == 1 ? " container\n" : " containers\n");
  if (!advice.admits) {
    out << "  no level admits every object:\n";
    for (const std::string& why : advice.unreadable) out << "    " << why << "\n";
    return;
  }
  out << "  admits everything at " << advice.admits->ToString()
      << " (as it will arrive, with the proposed defaults)\n";
  if (advice.stricter) {
    out << "  " << advice.stricter->ToString() << " is held back by " << advice.holders
        << (advice.holders == 1 ? " container or pod" : " containers or pods") << " in "
        << advice.denied_at_stricter.size()
        << (advice.denied_at_stricter.size() == 1 ? " object:\n" : " objects:\n");
    constexpr std::size_t kShown = 12;
    for (std::size_t i = 0; i < advice.holdbacks.size() && i < kShown; ++i) {
      out << "    " << HoldbackLine(advice.holdbacks[i]) << "\n";
    }
    if (advice.holdbacks.size() > kShown) {
      out << "    ... and " << advice.holdbacks.size() - kShown
          << " more (-o yaml lists every one)\n";
    }
    if (advice.exceptions_proposed) {
      out << "  proposal: " << advice.stricter->ToString() << " with " << advice.holdbacks.size()
          << (advice.holdbacks.size() == 1 ? " exception" : " exceptions")
          << " (give each its real reason and end date)\n";
    } else {
      out << "  proposal: " << advice.admits->ToString() << ", warn and audit at "
          << advice.stricter->ToString() << " (too many containers for exceptions)\n";
    }
  } else {
    out << "  proposal: " << advice.admits->ToString() << "\n";
  }
  out << "  capabilities added: " << InventoryLine(advice.capabilities) << "\n";
  out << "  seccomp profiles: " << InventoryLine(advice.seccomp_profiles) << "\n";
  out << "  AppArmor profiles: " << InventoryLine(advice.app_armor_profiles) << "\n";
  out << "  runtime classes: " << InventoryLine(advice.runtime_classes) << "\n";
}

// The proposed NamespacePolicy: `policy lint` accepts it, and it admits every object it was made
// from.
void PrintYaml(const policy::NamespaceAdvice& advice, const AdviseFlags& flags, std::ostream& out) {
  out << "---\n# palisade advise: namespace " << GoQuote(advice.name) << ", " << advice.objects
      << " objects, " << advice.containers << " containers\n";
  if (!advice.admits) {
    out << "# no level admits every object (fix these first):\n";
    for (const std::string& why : advice.unreadable) out << "#   " << why << "\n";
    return;
  }
  const bool with_exceptions = advice.stricter && advice.exceptions_proposed;
  const policy::LevelVersion enforce = with_exceptions ? *advice.stricter : *advice.admits;
  const policy::LevelVersion next =
      advice.stricter && !with_exceptions ? *advice.stricter : enforce;
  out << "# every object passes " << advice.admits->ToString();
  if (advice.stricter) {
    out << "; " << advice.stricter->ToString() << " denies " << Join(advice.denied_at_stricter);
    out << (with_exceptions ? " (waived below)" : " (warned and audited below)");
  }
  out << "\napiVersion: palisade.dev/v1\nkind: NamespacePolicy\nmetadata:\n  name: "
      << GoQuote(advice.name) << "\nspec:\n  namespaces: [" << GoQuote(advice.name) << "]\n";
  out << "  podSecurity:\n    enforce: " << enforce.ToString() << "\n    warn: " << next.ToString()
      << "\n    audit: " << next.ToString() << "\n";
  out << "  defaults:\n    seccompProfile: {type: RuntimeDefault}\n"
         "    allowPrivilegeEscalation: false\n    capabilities: {drop: [ALL]}\n";
  if (with_exceptions) {
    std::set<std::string> taken;
    const std::string expires = flags.expires.empty() ? DefaultExpiry() : flags.expires;
    out << "  exceptions:\n";
    for (const policy::Holdback& holdback : advice.holdbacks) {
      out << "  - name: " << ExceptionName(holdback, taken) << "\n";
      out << "    checks: [" << holdback.check << "]\n";
      if (!holdback.container.empty()) {
        out << "    containers: " << YamlList({holdback.container}) << "\n";
        if (!holdback.image.empty()) {
          out << "    images: " << YamlList({ImageGlob(holdback.image)}) << "\n";
        }
      }
      if (!holdback.values.empty()) out << "    values: " << YamlList(holdback.values) << "\n";
      out << "    reason: "
          << GoQuote("proposed by palisade advise for " + Join(holdback.objects) +
                     ": write why it needs this")
          << "\n    expires: " << GoQuote(expires) << "   # set the real end date\n";
    }
  }
}

int Advise(AdviseFlags flags) {
  if (flags.output != "text" && flags.output != "yaml") {
    std::cerr << "palisade advise: -o must be text or yaml, got " << GoQuote(flags.output) << "\n";
    return kExitUsage;
  }
  if (flags.cluster.Wanted() && !flags.files.empty()) {
    std::cerr << "palisade advise: give manifest files or --kubeconfig, not both\n";
    return kExitUsage;
  }
  if (flags.cluster.page_size < 1) {
    std::cerr << "palisade advise: --page-size must be at least 1\n";
    return kExitUsage;
  }
  if (flags.files.empty() && !flags.cluster.Wanted()) {
    std::cerr << "palisade advise: no input: give manifest files (e.g. `kubectl get "
                 "pods,deploy,sts,ds,job,cronjob -A -o yaml`), - for standard input, or "
                 "--kubeconfig\n";
    return kExitUsage;
  }
  const std::optional<int> minor = ParseKubernetesMinor(flags.kubernetes_version);
  if (!minor) {
    std::cerr << "palisade advise: --kubernetes-version must look like 1.31\n";
    return kExitUsage;
  }
  int kubernetes_minor = *minor;
  ObjectInput input("palisade advise", flags.namespace_name);
  if (flags.cluster.Wanted()) {
    ReadCluster(flags.cluster, flags.namespace_name, &input, &kubernetes_minor);
  } else {
    input.ReadFiles(flags.files);
    input.DropControlled();  // `kubectl get pods,deploy,rs,...` holds each workload thrice
  }
  std::map<std::string, std::vector<policy::AdvisedObject>> by_namespace;
  for (const InputObject& object : input.objects()) {
    if (!object.type) continue;
    by_namespace[object.namespace_name].push_back(
        {object.kind, object.DisplayName(), *object.type, object.value});
  }
  policy::AdviseOptions options;
  options.kubernetes_minor = kubernetes_minor;
  options.max_exception_containers = flags.max_exceptions;
  for (const auto& [ns, objects] : by_namespace) {
    const policy::NamespaceAdvice advice = policy::AdviseNamespace(ns, objects, options);
    if (flags.output == "yaml") {
      PrintYaml(advice, flags, std::cout);
    } else {
      PrintText(advice, std::cout);
    }
  }
  if (by_namespace.empty()) std::cerr << "palisade advise: no pods or workloads in the input\n";
  std::cout.flush();
  return input.errors().empty() ? kExitOk : kExitUsage;
}

}  // namespace

void RegisterAdviseCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<AdviseFlags>();
  CLI::App* command = app.add_subcommand(
      "advise",
      "Per namespace: the strictest Pod Security level that admits what runs, what it declares, "
      "and "
      "a NamespacePolicy to start from (exceptions for the few containers that hold it back)");
  command->add_option("--namespace,-n", flags->namespace_name,
                      "Namespace of every object (default: the object's own, else \"default\"); "
                      "with --kubeconfig, only this namespace is listed");
  command->add_option("-o,--output", flags->output, "text or yaml (NamespacePolicy documents)")
      ->capture_default_str();
  flags->cluster.kubernetes_version_option =
      command
          ->add_option("--kubernetes-version", flags->kubernetes_version,
                       "The cluster's version X.Y (defaulting as the API server does; with "
                       "--kubeconfig: the cluster's own)")
          ->capture_default_str();
  command
      ->add_option("--max-exceptions", flags->max_exceptions,
                   "Propose exceptions when at most this many containers hold a namespace back")
      ->capture_default_str();
  command->add_option("--expires", flags->expires,
                      "End date of proposed exceptions, YYYY-MM-DD (default: in 90 days)");
  AddClusterFlags(command, &flags->cluster, "Advise on");
  command->add_option("files", flags->files, "Manifest files (YAML or JSON), or - for stdin");
  command->callback([flags, exit_code] { *exit_code = Advise(*flags); });
}

}  // namespace palisade::cli
