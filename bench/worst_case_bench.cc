// The worst reviews an API server can send: ~3 MiB AdmissionReviews built to make every step work
// hard (tens of thousands of containers, annotations, capabilities, ports, volumes, ephemeral
// containers), each judged (/validate) and defaulted (/mutate) under a policy that turns on every
// check, rule, default and exemption; and the same pods judged offline as `palisade check` does
// (API server defaults + namespace defaults). Target: every one <= 50 ms. The loops are linear or
// n log n; a quadratic step shows as seconds here.
//   build/bench/worst_case_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "cli/allocator.h"
#include "policy/admission.h"
#include "policy/decision.h"
#include "server/policy_loader.h"

namespace {

using palisade::policy::AdmissionConfig;
using palisade::policy::Endpoint;
using palisade::policy::PolicySet;

constexpr std::size_t kBodyBytes = 3 * 1024 * 1024 - 4096;  // the API server's request limit

const PolicySet& EveryCheckPolicy() {
  static const auto set = [] {
    const std::string text = R"(apiVersion: palisade.dev/v1
kind: NamespacePolicy
metadata: {name: worst}
spec:
  namespaces: ["*"]
  podSecurity: {enforce: restricted, warn: restricted, audit: "baseline:v1.18"}
  defaults:
    seccompProfile: {type: RuntimeDefault}
    appArmorProfile: {type: RuntimeDefault}
    capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
    allowPrivilegeEscalation: false
    runAsNonRoot: true
    runtimeClassName: gvisor
  rules:
    action: enforce
    allowedCapabilities: [NET_BIND_SERVICE]
    requiredDropCapabilities: [ALL]
    allowedSeccompProfiles: ["RuntimeDefault", "Localhost/profiles/*"]
    allowedAppArmorProfiles: ["RuntimeDefault", "Localhost/k8s-*"]
    allowedRuntimeClasses: [gvisor]
  exemptions:
    images: ["registry.example.com/debug/*"]
)";
    std::vector<palisade::policy::PolicyError> errors;
    auto policies = palisade::server::ParsePolicyText(text, "worst.yaml", &errors);
    auto built = PolicySet::Build(std::move(policies), &errors);
    if (built == nullptr || !errors.empty()) {
      std::fprintf(stderr, "policy: %s\n", errors.empty() ? "?" : errors[0].ToString().c_str());
      std::exit(1);
    }
    return built;
  }();
  return *set;
}

// A review around `pod`, as the API server sends it.
std::string Review(const std::string& pod, const std::string& old_pod = "null",
                   const char* operation = "CREATE", const char* sub_resource = "",
                   const char* group = "", const char* resource = "pods") {
  std::string body =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",)"
      R"("kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":")";
  body += group;
  body += R"(","version":"v1","resource":")";
  body += resource;
  body += "\"}";
  if (*sub_resource != '\0') body += std::string(R"(,"subResource":")") + sub_resource + '"';
  body += R"(,"namespace":"ns","operation":")";
  body += operation;
  body += R"(","userInfo":{"username":"alice"},"object":)";
  body += pod;
  body += R"(,"oldObject":)";
  body += old_pod;
  body += "}}";
  return body;
}

// Appends `item(i)` (comma-separated) until the pod would pass `budget` bytes; returns the count.
int Fill(std::string& out, std::size_t budget, const std::function<std::string(int)>& item) {
  int count = 0;
  for (;; ++count) {
    std::string next = item(count);
    if (out.size() + next.size() + 1 > budget) return count;
    if (count > 0) out += ',';
    out += next;
  }
}

std::string Name(int i) { return "c" + std::to_string(i); }

// Containers that fail every check and rule, each named in every message.
std::string ManyContainers(std::size_t budget, int* count) {
  std::string pod = R"({"metadata":{"name":"p"},"spec":{"containers":[)";
  *count = Fill(pod, budget - 4, [](int i) {
    return R"({"name":")" + Name(i) +
           R"(","image":"x","securityContext":{"capabilities":{"add":["SYS_ADMIN"]},)"
           R"("seccompProfile":{"type":"Localhost","localhostProfile":"p)" +
           std::to_string(i) + R"("},"runAsUser":0}})";
  });
  return pod + "]}}";
}

std::string AnnotatedPod(int n) {
  std::string pod = R"({"metadata":{"name":"p","annotations":{)";
  for (int i = 0; i < n; ++i) {
    if (i > 0) pod += ',';
    pod += R"("container.apparmor.security.beta.kubernetes.io/)" + Name(i) + R"(":"localhost/a)" +
           std::to_string(i) + R"(",)";
    pod += R"("container.seccomp.security.alpha.kubernetes.io/)" + Name(i) + R"(":"localhost/s)" +
           std::to_string(i) + R"(",)";
    pod += R"("example.com/note-)" + std::to_string(i) + R"(":"x")";
  }
  pod += R"(}},"spec":{"containers":[)";
  for (int i = 0; i < n; ++i) {
    if (i > 0) pod += ',';
    pod += R"({"name":")" + Name(i) + R"(","image":"x"})";
  }
  return pod + "]}}";
}

// Every container has its own AppArmor and seccomp annotation (and one more each), so every
// per-container lookup searches tens of thousands of keys.
std::string ManyAnnotations(std::size_t budget, int* count) {
  const std::size_t per_ten_thousand = AnnotatedPod(10000).size();  // names as long as used
  *count = static_cast<int>(budget * 10000 / per_ten_thousand * 95 / 100);
  return AnnotatedPod(*count);
}

// Two containers carrying all the bytes: capabilities, host ports and env.
std::string BigContainers(std::size_t budget, int* count) {
  const std::size_t part = budget / 6;
  std::string caps = R"({"name":"caps","image":"x","securityContext":{"capabilities":{"add":[)";
  const int n_caps = Fill(caps, part, [](int i) { return "\"CAP_" + std::to_string(i) + '"'; });
  caps += R"(],"drop":[)";
  Fill(caps, 2 * part, [](int i) { return "\"D" + std::to_string(i) + '"'; });
  caps += "]}}}";
  std::string ports = R"({"name":"ports","image":"x","ports":[)";
  const int n_ports = Fill(ports, part, [](int i) {
    return R"({"containerPort":)" + std::to_string(i % 60000 + 1) + R"(,"hostPort":)" +
           std::to_string(i % 60000 + 1) + "}";
  });
  ports += R"(],"env":[)";
  Fill(ports, 2 * part,
       [](int i) { return R"({"name":"E)" + std::to_string(i) + R"(","value":"v"})"; });
  ports += "]}";
  *count = n_caps + n_ports;
  return R"({"metadata":{"name":"p"},"spec":{"hostNetwork":true,"containers":[)" + caps + "," +
         ports + "]}}";
}

std::string ManyVolumes(std::size_t budget, int* count) {
  std::string pod = R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x"}],)"
                    R"("volumes":[)";
  *count = Fill(pod, budget - 4, [](int i) {
    return i % 2 == 0 ? R"({"name":"v)" + std::to_string(i) + R"(","hostPath":{"path":"/h"}})"
                      : R"({"name":"v)" + std::to_string(i) + R"("})";
  });
  return pod + "]}}";
}

// kubectl debug on a pod that already has tens of thousands of ephemeral containers: the update
// compares every new one with the old list.
std::string EphemeralSpec(int n, bool with_new) {
  std::string pod = R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x"}],)"
                    R"("ephemeralContainers":[)";
  for (int i = 0; i < n + (with_new ? 1 : 0); ++i) {
    if (i > 0) pod += ',';
    pod += R"({"name":"e)" + std::to_string(n - i) + R"(","image":"x"})";
  }
  return pod + "]}}";
}

struct WorstCase {
  const char* name;
  std::string body;
  std::string pod;  // for the offline judgement
  int count = 0;
  int kubernetes_minor = 31;
};

const std::vector<WorstCase>& Cases() {
  static const std::vector<WorstCase> cases = [] {
    std::vector<WorstCase> out;
    auto add = [&](const char* name, std::string pod, int count, int minor = 31) {
      WorstCase c{name, Review(pod), pod, count, minor};
      out.push_back(std::move(c));
    };
    const std::size_t budget = kBodyBytes - 600;
    int n = 0;
    std::string pod = ManyContainers(budget, &n);
    add("containers", pod, n);
    pod = ManyAnnotations(budget, &n);
    add("annotations", pod, n);
    add("annotations_k8s129", pod, n, 29);  // AppArmor defaults as annotations: one op each
    pod = BigContainers(budget, &n);
    add("capabilities_ports_env", pod, n);
    pod = ManyVolumes(budget, &n);
    add("volumes", pod, n);
    const int ephemeral = static_cast<int>(budget / 2 / 32);
    WorstCase update{"ephemeral_update",
                     Review(EphemeralSpec(ephemeral, true), EphemeralSpec(ephemeral, false),
                            "UPDATE", "ephemeralcontainers"),
                     EphemeralSpec(ephemeral, true), ephemeral};
    out.push_back(std::move(update));
    // A Deployment is judged with the namespace defaults applied to its template (a patch applied
    // in memory): before 1.30 that is one annotation op per container.
    pod = ManyAnnotations(budget - 100, &n);
    WorstCase deployment{"deployment_annotations_k8s129",
                         Review(R"({"metadata":{"name":"d"},"spec":{"template":)" + pod + "}}",
                                "null", "CREATE", "", "apps", "deployments"),
                         pod, n, 29};
    out.push_back(std::move(deployment));
    for (const WorstCase& c : out) {
      if (c.body.size() > kBodyBytes) {
        std::fprintf(stderr, "%s: %zu bytes, over the limit\n", c.name, c.body.size());
        std::exit(1);
      }
    }
    return out;
  }();
  return cases;
}

void BM_Worst(benchmark::State& state, std::size_t index, Endpoint endpoint) {
  const WorstCase& c = Cases()[index];
  AdmissionConfig config;
  config.kubernetes_minor = c.kubernetes_minor;
  const auto first = palisade::policy::Review(endpoint, c.body, EveryCheckPolicy(), config);
  if (first.http_status != 200) {
    state.SkipWithError(("not judged: " + first.body.substr(0, 200)).c_str());
    return;
  }
  for (auto _ : state) {
    palisade::cli::NoteRequestSize(c.body.size());  // as the server's router does
    auto result = palisade::policy::Review(endpoint, c.body, EveryCheckPolicy(), config);
    benchmark::DoNotOptimize(result);
  }
  state.counters["bytes"] = static_cast<double>(c.body.size());
  state.counters["items"] = c.count;
  state.counters["answer_bytes"] = static_cast<double>(first.body.size());
}

// `palisade check` on the pod: parsed manifest, API server defaults, namespace defaults, judged.
void BM_WorstCheck(benchmark::State& state, std::size_t index) {
  const WorstCase& c = Cases()[index];
  const auto policy = EveryCheckPolicy().ForNamespace("ns");
  for (auto _ : state) {
    // `check` keeps mimalloc's defaults (only `serve` decommits at once): pages stay committed
    // from one pod to the next, as for a burst of large reviews.
    palisade::cli::NoteRequestSize(c.pod.size());
    rapidjson::Document document;
    document.Parse(c.pod.data(), c.pod.size());
    palisade::policy::JudgeOptions options;
    options.as_api_server_stores = true;
    options.apply_defaults_to_pods = true;
    options.kubernetes_minor = c.kubernetes_minor;
    auto decision = palisade::policy::JudgeObject(document, palisade::policy::ObjectType::kPod,
                                                  *policy, options);
    benchmark::DoNotOptimize(decision);
  }
  state.counters["bytes"] = static_cast<double>(c.pod.size());
}

const bool kRegistered = [] {
  for (std::size_t i = 0; i < Cases().size(); ++i) {
    const std::string name = Cases()[i].name;
    benchmark::RegisterBenchmark(("validate/" + name).c_str(), BM_Worst, i, Endpoint::kValidate)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("mutate/" + name).c_str(), BM_Worst, i, Endpoint::kMutate)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("check/" + name).c_str(), BM_WorstCheck, i)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
