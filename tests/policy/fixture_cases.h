#pragma once

// PSS check fixtures keyed by check ID, as PSA's test/fixtures_*.go: each case tweaks the minimal
// pod of a level and version and states the whole message it must produce (empty: allowed). One
// file per check in fixtures/; the test runs every case at every level and version in its range,
// and checks that every version of every registered check has a passing and a failing case.

#include <functional>
#include <string>
#include <vector>

#include "fixtures.h"

namespace palisade::policy::testing {

using Tweak = std::function<void(rapidjson::Document&)>;

struct FixtureCase {
  std::string check;  // the check ID exercised; empty for cases about several checks
  std::string name;
  std::vector<Level> levels;
  int from = 0;  // minor versions, inclusive
  int to = Version::kLatestMinor;
  Tweak tweak;
  std::string expected;  // empty: the pod is allowed
};

inline const std::vector<Level> kBoth{Level::kBaseline, Level::kRestricted};
inline const std::vector<Level> kBaseline{Level::kBaseline};
inline const std::vector<Level> kRestricted{Level::kRestricted};

class CaseList {
 public:
  // An `add(name, levels, from, to, tweak, expected)` for the cases of one check.
  auto For(std::string check) {
    return [this, check = std::move(check)](std::string name, std::vector<Level> levels, int from,
                                            int to, Tweak tweak, std::string expected) {
      cases_.push_back({check, std::move(name), std::move(levels), from, to, std::move(tweak),
                        std::move(expected)});
    };
  }
  const std::vector<FixtureCase>& cases() const { return cases_; }

 private:
  std::vector<FixtureCase> cases_;
};

void AddAllowPrivilegeEscalationCases(CaseList& cases);
void AddAppArmorProfileCases(CaseList& cases);
void AddCapabilitiesBaselineCases(CaseList& cases);
void AddCapabilitiesRestrictedCases(CaseList& cases);
void AddEphemeralContainersCases(CaseList& cases);
void AddFailureOrderCases(CaseList& cases);
void AddHostNamespacesCases(CaseList& cases);
void AddHostPathVolumesCases(CaseList& cases);
void AddHostPortsCases(CaseList& cases);
void AddHostProbesAndHostLifecycleCases(CaseList& cases);
void AddMinimalCases(CaseList& cases);
void AddPrivilegedCases(CaseList& cases);
void AddProcMountCases(CaseList& cases);
void AddProcMountRestrictedCases(CaseList& cases);
void AddRestrictedVolumesCases(CaseList& cases);
void AddRunAsNonRootCases(CaseList& cases);
void AddRunAsUserCases(CaseList& cases);
void AddSeLinuxOptionsCases(CaseList& cases);
void AddSeccompProfileBaselineCases(CaseList& cases);
void AddSeccompProfileRestrictedCases(CaseList& cases);
void AddSysctlsCases(CaseList& cases);
void AddWindowsHostProcessCases(CaseList& cases);

// Every case of every file in fixtures/.
inline std::vector<FixtureCase> AllFixtureCases() {
  CaseList cases;
  AddAllowPrivilegeEscalationCases(cases);
  AddAppArmorProfileCases(cases);
  AddCapabilitiesBaselineCases(cases);
  AddCapabilitiesRestrictedCases(cases);
  AddEphemeralContainersCases(cases);
  AddFailureOrderCases(cases);
  AddHostNamespacesCases(cases);
  AddHostPathVolumesCases(cases);
  AddHostPortsCases(cases);
  AddHostProbesAndHostLifecycleCases(cases);
  AddMinimalCases(cases);
  AddPrivilegedCases(cases);
  AddProcMountCases(cases);
  AddProcMountRestrictedCases(cases);
  AddRestrictedVolumesCases(cases);
  AddRunAsNonRootCases(cases);
  AddRunAsUserCases(cases);
  AddSeLinuxOptionsCases(cases);
  AddSeccompProfileBaselineCases(cases);
  AddSeccompProfileRestrictedCases(cases);
  AddSysctlsCases(cases);
  AddWindowsHostProcessCases(cases);
  return cases.cases();
}

}  // namespace palisade::policy::testing
