#pragma once

// Issues X.509 certificates with OpenSSL: the self-signed pair of `serve --dev`, and the CA and
// serving certificates the tests make at run time.

#include <optional>
#include <string>
#include <vector>

namespace palisade::server {

struct CertificateRequest {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
  bool is_ca = false;
  long serial = 1;
  int valid_days = 365;
};

struct IssuedCertificate {
  std::string cert_pem;
  std::string key_pem;  // EC P-256, unencrypted PKCS#8
};

// Signs with `issuer` (a CA made by this function), or self-signs when `issuer` is null.
std::optional<IssuedCertificate> IssueCertificate(const CertificateRequest& request,
                                                  const IssuedCertificate* issuer,
                                                  std::string* error);

}  // namespace palisade::server
